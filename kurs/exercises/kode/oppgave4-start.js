// Oppgave 4: LED-en følger «on».
// Kortet lytter på 'state' og skriver meldingene til loggen (Oppgave 2), og GPIO 2 er en utgang
// (Oppgave 3). Gjør meldingen om til et objekt med JSON.parse, og slå LED-en av eller på
// etter «on» med GPIO.write.
load('api_gpio.js');
load('api_mqtt.js');

let led = 2;
let topic = 'state';

GPIO.set_mode(led, GPIO.MODE_OUTPUT);
GPIO.write(led, 0);

MQTT.sub(topic, function(conn, t, msg) {
  print('Melding til', t + ':', msg);
  // Din kode her: les «on» fra meldingen og skriv den til LED-en.
}, null);

print('Lyskortet er klart, LED-en er GPIO', led);
