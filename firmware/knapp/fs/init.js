// Knappekortet (Oppgave 1): hvert trykk på BOOT-knappen teller opp btnCount, snur «on»
// og sender hele tilstanden som JSON til MQTT-emnet «state».
// Trykk mens kortet er uten forbindelse blir talt med: Mongoose OS legger QoS 1-meldinger
// i kø (opptil mqtt.max_queue_length, 5 som standard) og sender dem i rekkefølge så snart
// forbindelsen er tilbake.
load('api_config.js');
load('api_gpio.js');
load('api_mqtt.js');

let topic = 'state';
let btn = Cfg.get('board.btn1.pin');
let state = {on: false, btnCount: 0};

let publishState = function() {
  let message = JSON.stringify(state);
  let online = MQTT.isConnected();
  MQTT.pub(topic, message, 1);  // gir et pakkenummer tilbake også uten forbindelse
  if (online) {
    print('Sendte til', topic + ':', message);
  } else {
    print('Ikke tilkoblet, sender ved ny forbindelse:', message);
  }
};

let pullUp = Cfg.get('board.btn1.pull_up');
let btnPull = pullUp ? GPIO.PULL_UP : GPIO.PULL_DOWN;
let btnEdge = pullUp ? GPIO.INT_EDGE_NEG : GPIO.INT_EDGE_POS;

GPIO.set_button_handler(btn, btnPull, btnEdge, 20, function() {
  state.btnCount = state.btnCount + 1;
  state.on = !state.on;
  publishState();
}, null);

print('Knappekortet er klart, knappen er GPIO', btn);
