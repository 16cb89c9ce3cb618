// Oppgave 4 (fasit): LED-en på GPIO 2 følger «on» i hver melding på 'state'.
load('api_gpio.js');
load('api_mqtt.js');

let led = 2;
let topic = 'state';

GPIO.set_mode(led, GPIO.MODE_OUTPUT);
GPIO.write(led, 0);

MQTT.sub(topic, function(conn, t, msg) {
  print('Melding til', t + ':', msg);
  // Meldingen er tekst. Er den ikke gyldig JSON, stopper JSON.parse funksjonen her med
  // «MJS callback error» i loggen; kortet kjører videre, og LED-en står som før.
  let state = JSON.parse(msg);
  if (state.on === true || state.on === false) {
    GPIO.write(led, state.on);
    print('LED-en er', state.on ? 'tent' : 'slukket');
  }
}, null);

print('Lyskortet er klart, LED-en er GPIO', led);
