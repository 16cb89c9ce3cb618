// Oppgave 1 (fasit): hvert trykk teller btnCount, snur «on» og sender hele tilstanden
// som JSON på emnet 'state'.
load('api_config.js');
load('api_gpio.js');
load('api_mqtt.js');

let btn = Cfg.get('board.btn1.pin');   // BOOT-knappen (GPIO 0)
let state = {on: false, btnCount: 0};  // tilstanden kortet sender

GPIO.set_button_handler(btn, GPIO.PULL_UP, GPIO.INT_EDGE_NEG, 20, function() {
  state.btnCount = state.btnCount + 1;
  state.on = !state.on;                // snu on: false → true → false …
  let topic = 'state';
  let message = JSON.stringify(state);
  if (MQTT.isConnected()) {
    print('Sender til', topic + ':', message);
  } else {
    print('Ikke tilkoblet, sendes når kortet er koblet til igjen:', message);
  }
  MQTT.pub(topic, message, 1);  // uten forbindelse venter meldingen i kø (QoS 1)
}, null);

print('Knappekortet er klart: BOOT-knappen sender tilstanden');
