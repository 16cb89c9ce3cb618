// Startappen: BOOT-knappen, en LED og enhetsskyggen (device shadow).
// Skrevet i mJS: bare let, bare === og !==, ingen piler (=>) og ingen closures.
load('api_aws.js');
load('api_config.js');
load('api_events.js');
load('api_gpio.js');
load('api_mqtt.js');
load('api_shadow.js');
load('api_sys.js');
load('api_timer.js');

let btn = Cfg.get('board.btn1.pin');                // knappen (BOOT-knappen er GPIO 0)
let led = Cfg.get('board.led1.pin');                // LED-en
let ledOnHigh = Cfg.get('board.led1.active_high');  // lyser LED-en når pinnen er høy?
let state = {on: false, btnCount: 0, uptime: 0};    // tilstanden vi rapporterer
let online = false;                                 // koblet til skyen?

let setLed = function(on) {
  let level = ledOnHigh ? on : !on;
  GPIO.write(led, level);
  print('LED:', on ? 'tent' : 'slukket');
};

let reportState = function() {
  Shadow.update(0, state);
};

GPIO.set_mode(led, GPIO.MODE_OUTPUT);
setLed(state.on);

// Hvert sekund: oppdater oppetid og ledig minne, skriv tilstanden, rapporter den når vi er på nett.
Timer.set(1000, Timer.REPEAT, function() {
  state.uptime = Sys.uptime();
  state.ram_free = Sys.free_ram();
  print('online:', online, JSON.stringify(state));
  if (online) {
    reportState();
  }
}, null);

// Skyggen: en delta er det skyen vil ha (desired) som ennå ikke er rapportert (reported).
Shadow.addHandler(function(event, obj) {
  if (event === 'UPDATE_DELTA') {
    print('Fikk delta:', JSON.stringify(obj));
    for (let key in obj) {
      if (key === 'on') {
        state.on = obj.on;
        setLed(state.on);
      } else if (key === 'reboot') {
        state.reboot = obj.reboot;
        Timer.set(750, 0, function() {
          Sys.reboot(500);
        }, null);
      }
    }
    reportState();  // rapporter den nye tilstanden, så forsvinner deltaen
  }
});

// Knappen: tell trykket, snu «on» og send hele tilstanden som JSON.
let pullUp = Cfg.get('board.btn1.pull_up');
let btnPull = pullUp ? GPIO.PULL_UP : GPIO.PULL_DOWN;
let btnEdge = pullUp ? GPIO.INT_EDGE_NEG : GPIO.INT_EDGE_POS;

GPIO.set_button_handler(btn, btnPull, btnEdge, 20, function() {
  state.btnCount = state.btnCount + 1;
  state.on = !state.on;
  setLed(state.on);
  let message = JSON.stringify(state);
  if (MQTT.isConnected()) {
    let topic = 'devices/' + Cfg.get('device.id') + '/events';
    print('Publiserer til ' + topic + ':', message);
    MQTT.pub(topic, message, 1);
  } else {
    print('Ikke tilkoblet, sendte ikke:', message);
  }
}, null);

Event.on(Event.CLOUD_CONNECTED, function() {
  online = true;
  Shadow.update(0, {ram_total: Sys.total_ram()});
}, null);

Event.on(Event.CLOUD_DISCONNECTED, function() {
  online = false;
}, null);
