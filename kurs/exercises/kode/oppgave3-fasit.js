// Oppgave 3 (fasit): LED-en (med formotstand) sitter på GPIO 2, så LED-pinnen er 2.
load('api_gpio.js');
load('api_timer.js');

let led = 2;                           // LED-en er koblet til GPIO 2

GPIO.set_mode(led, GPIO.MODE_OUTPUT);
Timer.set(500, Timer.REPEAT, function() {
  GPIO.toggle(led);
}, null);

print('LED-en blinker, GPIO', led);
