// Oppgave 3: LED-en på GPIO 2.
// Koden blinker LED-en som konfigurasjonen (board.led1.pin) peker på. Din LED sitter på GPIO 2:
// sett LED-pinnen til 2.
load('api_config.js');
load('api_gpio.js');
load('api_timer.js');

let led = Cfg.get('board.led1.pin');   // den innebygde LED-en, ifølge konfigurasjonen

GPIO.set_mode(led, GPIO.MODE_OUTPUT);
Timer.set(500, Timer.REPEAT, function() {
  GPIO.toggle(led);
}, null);

print('LED-en blinker, GPIO', led);
