// Oppgave 2 (fasit): abonner på 'state' og skriv hver melding til loggen.
load('api_mqtt.js');

let topic = 'state';

MQTT.sub(topic, function(conn, t, msg) {
  print('Melding til', t + ':', msg);
}, null);

print('Kortet lytter til', topic);
