// Lyskortet (Oppgave 2-4): LED-en på GPIO 2 følger «on» i hver melding på MQTT-emnet «state»
// og i skyggens delta, og kortet rapporterer det LED-en viser til skyggen (reported).
load('api_config.js');
load('api_events.js');
load('api_gpio.js');
load('api_mqtt.js');
load('api_shadow.js');

let led = 2;  // LED-en (med formotstand) er koblet til GPIO 2
let topic = 'state';
let state = {on: false};

let setLed = function(on) {
  state.on = on;
  GPIO.write(led, on);
  print('LED', on ? 'tent' : 'slukket');
};

GPIO.set_mode(led, GPIO.MODE_OUTPUT);
setLed(false);

// Oppgave 2 og 4: skriv hver melding til loggen og styr LED-en etter «on».
MQTT.sub(topic, function(conn, t, msg) {
  print('Melding til', t + ':', msg);
  let received = JSON.parse(msg);
  if (received.on === true || received.on === false) {
    setLed(received.on);
    // Ta bort et gammelt ønske (desired) i skyggen, så ikke en delta snur LED-en tilbake.
    let shadowTopic = '$aws/things/' + Cfg.get('aws.thing_name') + '/shadow/update';
    MQTT.pub(shadowTopic, JSON.stringify({state: {desired: {on: null}}}), 1);
    Shadow.update(0, state);
  } else {
    print('Meldingen mangler on: true/false, LED-en er uendret');
  }
}, null);

// Skyggen: ved oppkobling rapporterer vi LED-en; en delta med «on» slår den av eller på.
Shadow.addHandler(function(event, obj) {
  if (event === 'CONNECTED') {
    Shadow.update(0, state);
  } else if (event === 'UPDATE_DELTA') {
    print('Fikk delta:', JSON.stringify(obj));
    if (obj.on === true || obj.on === false) {
      setLed(obj.on);
    }
    Shadow.update(0, state);
  }
});

print('Lyskortet er klart, LED-en er GPIO', led, 'og styres av emnet', topic);
