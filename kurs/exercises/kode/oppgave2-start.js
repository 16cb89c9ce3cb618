// Oppgave 2: lytt på emnet 'state'.
// Abonner på emnet med MQTT.sub, og skriv hver melding som kommer til loggen med print.
//   MQTT.sub(emne, function(conn, emne, melding) { … }, null);
load('api_mqtt.js');

let topic = 'state';

// Din kode her.

print('Kortet er klart, men lytter ikke til', topic, 'enda');
