# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Meldinger: to dingser som snakker sammen (Oppgave 1–6)
#
# Nå skal dingsene snakke med hverandre. Knappekortet sender tilstanden sin som en MQTT-melding, lyskortet
# lytter og tenner LED-en – og til slutt styrer knappen på det ene kortet LED-en på det andre, gjennom skyen.
#
# **Du lærer i denne notatboka**
# - hvordan MQTT fungerer: megler, emner (*topics*), publisere og abonnere, og QoS;
# - å publisere med `MQTT.pub` og abonnere med `MQTT.sub` i mJS;
# - å koble en LED til GPIO 2 og styre den fra en melding med `JSON.parse` og `GPIO.write`;
# - å sende en melding fra skyen med MQTT-konsollen;
# - å få to kort til å samarbeide gjennom megleren.
#
# **Tid**: omtrent 1½–2 timer.
#
# **Du trenger**: notatbok 03 (Mongoose OS, startappen og den lokale skyen) og litt JavaScript. Alt kjører på
# virtuelle ESP32-kort mot den lokale skyen. Har du ekte kort, står det ved hver oppgave hvordan du gjør det
# samme der.

# %%
import kurs
from kurs.oppgaver import *  # oppgave1 … oppgave6 og %%mjs-cellene

kurs.environment.check()

# %% [markdown]
# ## MQTT: publiser og abonner
#
# MQTT er en liten protokoll for meldinger mellom dingser. Ingen snakker direkte med hverandre: alle kobler
# seg til en **megler** (*broker*). I AWS er det AWS IoT Core; i kurset er det også den lokale skyen.
#
# - Den som **publiserer**, sender en melding til et **emne** (*topic*), for eksempel `state`. Meldingen er
#   bare bytes – i kurset JSON-tekst, som `{"on":true,"btnCount":1}`.
# - Den som **abonnerer** på et emne, får hver melding som publiseres der. Avsenderen vet ikke hvem som
#   lytter, og mottakeren vet ikke hvem som sendte: megleren sender videre.
# - Emner har nivåer skilt med `/`, som `devices/esp32_F7F2AD/events`. Store og små bokstaver teller.
#   Når du abonnerer, kan du bruke jokertegn: `+` står for ett nivå (`devices/+/events`), `#` for resten
#   (`devices/#`). Emner som begynner med `$`, som `$aws/things/…`, er forbeholdt AWS.
# - **QoS** (*quality of service*) sier hvor hardt megleren prøver: **0** betyr høyst én gang (ingen kvittering),
#   **1** betyr minst én gang (megleren kvitterer, og meldingen sendes på nytt om kvitteringen uteblir – så den
#   kan komme to ganger). AWS IoT har ikke QoS 2.
#
# ![Meldingsflyten i Oppgave 1–6](bilder/meldinger-flyt.svg)
#
# I mJS ser det slik ut:
#
# ```javascript
# load('api_mqtt.js');
#
# // Publiser: emne, melding (tekst) og QoS. Uten forbindelse legger Mongoose OS QoS 1-meldinger i kø
# // (opptil 5) og sender dem når kortet er koblet til igjen; QoS 0-meldinger går tapt.
# MQTT.pub('state', JSON.stringify({on: true, btnCount: 1}), 1);
#
# // Abonner: emne, en funksjon som kalles for hver melding, og userdata (her null).
# MQTT.sub('state', function(conn, topic, msg) {
#   print('Fikk', msg, 'fra', topic);  // msg er tekst
# }, null);
# ```
#
# Det samme kan vi gjøre fra Python mot den lokale skyen. Lytteren under abonnerer på `kurs/+/hilsen`, så den
# får de to første meldingene, men ikke den tredje:

# %%
with kurs.mqtt.Monitor("kurs/+/hilsen") as lytter:
    kurs.mqtt.publish("kurs/ola/hilsen", {"tekst": "hei"})
    kurs.mqtt.publish("kurs/kari/hilsen", {"tekst": "hallo"})
    kurs.mqtt.publish("kurs/ola/annet", {"tekst": "denne passer ikke filteret"})
    for _ in range(2):
        print(lytter.wait(5))
print("Lytteren fikk", len(lytter.messages), "meldinger.")

# %% [markdown]
# ## Slik jobber du med oppgavene
#
# Hver oppgave har en kodecelle som begynner med **`%%mjs NAVN`**. Når du kjører den:
#
# 1. lagres koden som `arbeid/NAVN/fs/init.js` (en Mongoose OS-app, med `mos.yml` fra kursets apper);
# 2. sjekkes den mot det ekte mJS kan kjøre – feil får du med linjenummer;
# 3. startes et virtuelt ESP32-kort med koden (et kort du kjørte før med samme navn, slås av først), og du
#    får et **kortpanel** med knappen, LED-en og loggen (som `mos console`).
#
# Rediger koden i cellen og kjør den på nytt så mange ganger du vil. (Et lite tips: `print` i mJS skriver
# bare ASCII-tegn som de er. En `å` kommer ut som `\xc3\xa5` – på et ekte kort også – så loggmeldingene i
# kurset klarer seg uten æ, ø og å.) Linja `Error: 404 No shadow exists …` i loggen er ingen feil i koden din:
# et nytt kort har ingen skygge ennå (se «Loggen til kortet» i notatbok 03). Så:
#
# | | |
# |---|---|
# | `oppgave1.sjekk()` | starter et nytt kort med koden din, trykker på knappen eller sender meldinger, og sier hva som er riktig ✅ og hva som mangler ❌ |
# | `oppgave1.hint()` | ett hint til hver gang du spør |
# | `oppgave1.fasit()` | fasiten, skjult til du klikker på den |
# | `oppgave1.bruk_fasit()` | kjører fasiten, så du kan gå videre (koden din blir tatt vare på) |
#
# **Med et ekte kort**: legg koden på kortet med `mos put arbeid/oppgave1/fs/init.js init.js` og start det på
# nytt med `mos call Sys.Reboot` (eller bygg og flash som i notatbok 03). Oppgave 3 og 6 trenger to kort og
# en LED – gjør dem gjerne sammen med en annen, med begge kortene på samme AWS-konto.

# %% [markdown]
# ## Oppgave 1 · Knappen sender tilstanden på `state`
#
# Startappen sender en melding på `devices/<kortets navn>/events` når du trykker på knappen. Alle kort har
# hvert sitt emne der, så et annet kort må vite navnet ditt for å lytte. Nå skal knappekortet sende på ett
# felles emne, **`state`**, som lyskortet kan abonnere på.
#
# Tilstanden er `{on, btnCount}`. Ved hvert trykk skal kortet
# - telle opp `btnCount`,
# - **snu `on`** (false → true → false …), og
# - sende **hele tilstanden som JSON** på emnet `state`.
#
# Koden under gjør det meste, men sender på det gamle emnet og snur ikke `on`. Rett den, kjør cellen og trykk
# på knappen i panelet. Sjekk deretter med `oppgave1.sjekk()`.

# %%
# %%mjs oppgave1
// Oppgave 1: knappekortet.
// Nå sender kortet tilstanden på emnet devices/<kortets navn>/events hver gang du trykker.
// Gjør om koden så den
//   1. sender på emnet 'state' i stedet, og
//   2. snur «on» (false → true → false …) ved hvert trykk, i tillegg til å telle btnCount.
load('api_config.js');
load('api_gpio.js');
load('api_mqtt.js');

let btn = Cfg.get('board.btn1.pin');   // BOOT-knappen (GPIO 0)
let state = {on: false, btnCount: 0};  // tilstanden kortet sender

GPIO.set_button_handler(btn, GPIO.PULL_UP, GPIO.INT_EDGE_NEG, 20, function() {
  state.btnCount = state.btnCount + 1;
  let topic = 'devices/' + Cfg.get('device.id') + '/events';
  let message = JSON.stringify(state);
  if (MQTT.isConnected()) {
    print('Sender til', topic + ':', message);
  } else {
    print('Ikke tilkoblet, sendes når kortet er koblet til igjen:', message);
  }
  MQTT.pub(topic, message, 1);  // uten forbindelse venter meldingen i kø (QoS 1)
}, null);

print('Knappekortet er klart: BOOT-knappen sender tilstanden');

# %% [markdown]
# Sjekken starter et eget kort med koden din, trykker to ganger på knappen og ser hva som kommer fram til
# megleren. Med startkoden er to ting ennå ikke på plass:

# %%
oppgave1.sjekk()

# %% [markdown]
# Trenger du et hint? Hvert kall gir ett til:

# %%
oppgave1.hint()

# %% [markdown]
# ### Står du fast?
#
# `oppgave1.fasit()` viser fasiten. `oppgave1.bruk_fasit()` kjører den på kortet `oppgave1`, så du kan gå
# videre – koden din blir liggende i `arbeid/oppgave1/ditt-forsok.js`. Oppgave 6 bruker knappekortet herfra.

# %%
oppgave1.bruk_fasit()

# %% [markdown]
# ## Oppgave 2 · Lytt på `state`
#
# Nå lager vi lyskortet. Først skal det bare lytte: abonner på `state` med `MQTT.sub`, og skriv hver melding
# som kommer til loggen med `print`. Funksjonen du gir `MQTT.sub`, får tre verdier: forbindelsen, emnet og
# meldingen (som tekst).
#
# Når koden kjører, kan du trykke på knappen i panelet til `oppgave1` over og se meldingen dukke opp i loggen
# til `oppgave2`. Sjekken sender selv to meldinger på `state` og ser etter dem i loggen.

# %%
# %%mjs oppgave2
// Oppgave 2: lytt på emnet 'state'.
// Abonner på emnet med MQTT.sub, og skriv hver melding som kommer til loggen med print.
//   MQTT.sub(emne, function(conn, emne, melding) { … }, null);
load('api_mqtt.js');

let topic = 'state';

// Din kode her.

print('Kortet er klart, men lytter ikke til', topic, 'enda');

# %%
oppgave2.sjekk()

# %% [markdown]
# ### Står du fast?
#
# `oppgave2.hint()` gir hint, `oppgave2.fasit()` viser fasiten, og denne cellen kjører den:

# %%
oppgave2.bruk_fasit()

# %% [markdown]
# ## Oppgave 3 · En LED på GPIO 2
#
# Lyskortet trenger en LED. På et ekte kort kobler du en LED med en **formotstand** på 220–330 Ω til
# **GPIO 2**: fra GPIO 2 gjennom motstanden til LED-ens **lange bein** (anoden, +), og fra det **korte beinet**
# (katoden, −, på siden med den flate kanten) til **GND**. Motstanden begrenser strømmen, så verken LED-en
# eller pinnen tar skade.
#
# ![LED-en koblet til GPIO 2 gjennom en formotstand, kort bein til GND](bilder/led-kobling.svg)
#
# Koden under er blinkekoden fra demoappen: den blinker LED-en som konfigurasjonen `board.led1.pin` peker på.
# Det er den innebygde LED-en – på dette kortet GPIO 13, ikke GPIO 2 der din LED sitter. Sett LED-pinnen
# til 2. Kortpanelet viser LED-en på GPIO 2.

# %%
# %%mjs oppgave3
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

# %%
oppgave3.sjekk()

# %% [markdown]
# ### Står du fast?

# %%
oppgave3.bruk_fasit()

# %% [markdown]
# ## Oppgave 4 · LED-en følger `on`
#
# Nå setter vi det sammen: lyskortet lytter på `state` (Oppgave 2), og LED-en på GPIO 2 er en utgang
# (Oppgave 3). Meldingen kommer som tekst, så gjør den om til et objekt med **`JSON.parse`**, og skriv `on` til
# LED-en med **`GPIO.write(led, state.on)`**.
#
# Sjekken sender `{"on": true}`, `{"on": false}`, samme melding to ganger, og en melding som ikke er JSON.
# Den siste får `JSON.parse` til å gi opp (mJS har ikke `try`/`catch`): loggen viser
# `MJS callback error: invalid JSON string`, og resten av funksjonen kjører ikke. Det er greit – kortet skal
# kjøre videre, LED-en skal stå som før, og neste melding skal virke igjen.

# %%
# %%mjs oppgave4
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

# %%
oppgave4.sjekk()

# %% [markdown]
# ### Står du fast?
#
# Oppgave 5 og 6 bruker lyskortet herfra, så kjør fasiten hvis din ikke virker ennå:

# %%
oppgave4.bruk_fasit()

# %% [markdown]
# ## Oppgave 5 · En melding fra skyen
#
# Lyskortet bryr seg ikke om hvem som sender – bare om emnet og innholdet. Nå sender du fra skyen, slik du
# ville gjort i AWS-konsollens *MQTT test client*. `oppgave5.start()` begynner å følge med på lyskortet
# `oppgave4` og emnet `state`:

# %%
oppgave5.start()

# %% [markdown]
# Bruk MQTT-konsollen under: emnet er `state`, skriv `{"on": true}` som melding og trykk **Publiser**. Se
# LED-en i panelet over tenne, og meldingen dukke opp i konsollen (den abonnerer også på `state`).
# Prøv `{"on": false}` også.

# %%
oppgave5.konsoll()

# %% [markdown]
# Fra Python gjør `kurs.mqtt.publish("state", {"on": True})` det samme som konsollen. Når du har publisert,
# sjekker du (kjører du alt på én gang, har du ikke publisert ennå, og sjekken sier bare det):

# %%
oppgave5.sjekk()

# %% [markdown]
# ### Står du fast?
#
# `oppgave5.hint()` gir hint. Fasiten publiserer det motsatte av det LED-en viser nå:

# %%
oppgave5.bruk_fasit()

# %% [markdown]
# ## Oppgave 6 · Knappen på det ene kortet, LED-en på det andre
#
# Til slutt kjører vi knappekortet (koden din fra Oppgave 1) og lyskortet (koden fra Oppgave 4) samtidig.
# Trykk på knappen på knappekortet: meldingen går til megleren, megleren sender den til lyskortet, og LED-en
# skifter. På ekte kort er det to ESP32-er – kanskje hos to forskjellige personer – på samme AWS-konto.

# %%
oppgave6.start()

# %% [markdown]
# Sjekken kjører de to kodene på to nye kort, trykker tre ganger på knappen og ser at LED-en følger med:

# %%
oppgave6.sjekk()

# %% [markdown]
# ### Står du fast?
#
# `oppgave6.hint()` peker på hva som kan være galt. Denne cellen legger fasitene for Oppgave 1 og 4 i
# arbeidsmappa og kjører begge kortene side om side. Trykk på knappen på knappekortet og se LED-en på
# lyskortet!

# %%
oppgave6.bruk_fasit()

# %% [markdown]
# ### I et rom: to kort på to maskiner
#
# Er du med i et rom (notatbok 00), kan du og makkeren din gjøre Oppgave 6 slik den opprinnelig var: ditt
# knappekort på din maskin, makkerens lyskort på hennes. Bli enige om et parnavn, for eksempel `ida-ola`.
# I rommet bruker kortene emnet `kurs/par/<parnavn>/state` der koden sier `state` (med tretti deltakere ville
# ett felles `state` tent alles lys). Den ene kjører cellen med `ROLLE = "knapp"`, den andre med
# `ROLLE = "lys"`. Jobber du alene, gjør cellen ingenting. Har du et ekte kort på Wi-Fi, setter du `PORT` til
# porten det er på (`kurs kort porter` viser den): da legger cellen sertifikatet, rommets innstillinger og
# koden din på kortet over USB i stedet for å starte et virtuelt kort.

# %%
PARNAVN = ""  # det samme hos begge i paret, for eksempel "ida-ola"
ROLLE = "knapp"  # "knapp" (koden fra Oppgave 1) eller "lys" (koden fra Oppgave 4)
PORT = ""  # et ekte kort på USB, for eksempel "/dev/ttyUSB0"; tomt: et virtuelt kort
if PARNAVN and kurs.room.joined() and PORT:
    rom_kort = kurs.room.real_board(ROLLE, PORT, pair=PARNAVN)
elif PARNAVN and kurs.room.joined():
    from kurs.exercises import workspace

    app = workspace.app_dir("oppgave1" if ROLLE == "knapp" else "oppgave4")
    rom_kort = kurs.room.board(app, ROLLE, pair=PARNAVN)
    from kurs.widgets.board_panel import BoardPanel

    display(BoardPanel(rom_kort, led_pin=2, role=ROLLE).widget)  # noqa: F821 - Jupyter's display

# %% [markdown]
# ## Oppsummering
#
# - **MQTT**: alle snakker med en **megler**. Den som publiserer, sender til et **emne**; alle som abonnerer på
#   emnet, får meldingen. Jokertegnene `+` og `#` gjelder bare når du abonnerer. **QoS 0** er høyst én gang,
#   **QoS 1** minst én gang; AWS IoT har ikke QoS 2.
# - I mJS: `MQTT.pub(emne, tekst, qos)` og `MQTT.sub(emne, function(conn, emne, melding) { … }, null)`.
#   Meldingen er tekst: `JSON.stringify` før du sender, `JSON.parse` når du tar imot.
# - **Oppgave 1**: knappekortet snur `on`, teller `btnCount` og sender hele tilstanden på `state`.
# - **Oppgave 2–4**: lyskortet abonnerer på `state`, skriver meldingene i loggen og skriver `on` til LED-en på
#   GPIO 2 (med formotstand, langt bein mot GPIO 2, kort bein til GND). En melding som ikke er JSON, stopper
#   bare den ene funksjonen, ikke kortet.
# - **Oppgave 5**: skyen kan sende på det samme emnet (MQTT-konsollen eller `kurs.mqtt.publish`).
# - **Oppgave 6**: to kort snakker sammen gjennom megleren, uten å vite om hverandre.
#
# Men hva om lyskortet er slått av når du trykker? Da går meldingen tapt. Neste notatbok viser hvordan skyen
# kan *huske* tilstanden for kortet.
#
# **Neste:** [05 · Skyggen](05-skyggen.ipynb) – desired, reported og delta: en kopi av dingsen i skyen.
