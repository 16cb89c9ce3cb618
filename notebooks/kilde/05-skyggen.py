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
# # 05 · Skyggen: desired, reported og delta
#
# Til nå har dingsene snakket sammen med meldinger: den som sender, må vite at noen lytter *akkurat nå*.
# Men hva om lyskortet er slått av når du vil tenne det? Da trenger vi et sted i skyen som **husker**
# hva dingsen er, og hva vi vil at den skal være. Det er **skyggen** (*device shadow*).
#
# **Du lærer i denne notatboka**
# - hva skyggen er: et JSON-dokument med `desired`, `reported` og `delta`, og med `version` og `metadata`;
# - å lese skyggen og se meldingene på skyggens emner `$aws/things/<ting>/shadow/…`;
# - å slå LED-en av og på fra notatboka ved å endre `desired`, og se kortet svare;
# - hva `version` beskytter mot, hva `null` gjør, og hva som skjer når kortet er frakoblet.
#
# **Tid**: omtrent 30 minutter.
#
# **Du trenger**: notatbok 03 og 04 (dingser, sertifikater og MQTT). Ingen kort eller AWS-konto: vi bruker
# et virtuelt ESP32-kort med kursets startapp og den lokale skyen. I `aws`-modus er cellene de samme.

# %%
import json
import time

import kurs
from kurs import shadow_view
from kurs.esp32 import VirtualBoard
from kurs.widgets.board_panel import BoardPanel

kurs.environment.check()

# %% [markdown]
# ## Hva er skyggen?
#
# Skyggen er et lite JSON-dokument som AWS IoT tar vare på for hver dings. Det har to halvdeler:
#
# - **`reported`** – det dingsen *sier* at den er. Bare dingsen skriver her, for eksempel `"on": false`.
# - **`desired`** – det noen *vil* at dingsen skal være. En app, en Lambda-funksjon eller du skriver her,
#   for eksempel `"on": true`.
#
# Er de to uenige, regner skyen ut **`delta`**: de feltene i `desired` som er ulike i `reported`. Deltaen
# sendes til dingsen, som retter seg etter den og rapporterer den nye tilstanden. Da er de enige, og
# deltaen forsvinner.
#
# ![Skyggen: notatboka setter desired, skyen sender delta, kortet rapporterer reported](bilder/skygge-dokument.svg)
#
# I tillegg har dokumentet
# - **`version`**: et tall som øker med 1 for hver oppdatering skyen godtar;
# - **`metadata`**: når hvert felt sist ble endret (sekunder siden 1970, *epoch*), med samme form som `state`;
# - **`timestamp`**: når dokumentet ble sendt.
#
# Skyggen har sine egne MQTT-emner. Kortet bruker dem, og vi kan lytte på dem:
#
# | Emne (under `$aws/things/<ting>/shadow/`) | Hva som går der |
# |---|---|
# | `update` | en endring: `{"state": {"reported": {…}}}` eller `{"state": {"desired": {…}}}` |
# | `update/accepted` | skyen godtok endringen (med ny `version`) |
# | `update/rejected` | skyen avviste den, med en feilkode (for eksempel 409 ved versjonskonflikt) |
# | `update/delta` | det dingsen må endre: feltene der `desired` og `reported` er ulike |
# | `update/documents` | hele dokumentet før og etter endringen |
# | `get`, `get/accepted` | be om hele dokumentet, og få det |
#
# Fra Python går vi via HTTPS i stedet, med `boto3`-klienten `iot-data`: `get_thing_shadow` og
# `update_thing_shadow`. Begge veier endrer det samme dokumentet.

# %% [markdown]
# ## Et virtuelt kort med startappen
#
# Startappen (`firmware/start/fs/init.js`) rapporterer tilstanden sin til skyggen hvert sekund, og den
# retter seg etter deltaen. Her er delen som tar imot deltaen:

# %%
kilde = (kurs.paths.FIRMWARE_DIR / "start" / "fs" / "init.js").read_text(encoding="utf-8")
print(kilde[kilde.index("// Skyggen:"):kilde.index("// Knappen:")].rstrip())

# %% [markdown]
# `Shadow.addHandler` kaller funksjonen for hver hendelse i skyggen. Ved `UPDATE_DELTA` er `obj` deltaen,
# for eksempel `{"on": true}`. Kortet setter LED-en og kaller `reportState()`, som sender hele tilstanden
# som `reported`.
#
# Nå starter vi et virtuelt kort med denne appen. `provision` gir det en dings, et sertifikat og en policy
# i skyen, slik `mos aws-iot-setup` gjorde i notatbok 03. Vi sletter også en eventuell gammel skygge, så
# vi begynner med blanke ark. Panelet under viser LED-en og loggen, og du kan trykke på knappen selv.

# %%
iot_data = kurs.aws_mode.client("iot-data")

if "kort" in globals():  # kjører du cellen på nytt, slår vi først av det forrige kortet
    panel.close()
    kort.close()

kort = VirtualBoard("start", seed="notatbok-05")
ting = kort.thing_name
kurs.provisioning.provision(ting, verbose=False).apply_to(kort)
try:
    iot_data.delete_thing_shadow(thingName=ting)
except iot_data.exceptions.ResourceNotFoundException:
    pass  # ingen skygge fra før

kort.start()
shadow_view.wait_until(ting, lambda dok: dok is not None and "on" in dok["state"].get("reported", {}), timeout=20)
print(f"Kortet {ting} kjører startappen, er koblet til skyen og har rapportert tilstanden sin.")
panel = BoardPanel(kort)
panel

# %% [markdown]
# ## Les skyggen
#
# `get_thing_shadow` gir hele dokumentet. Tallene for oppetid (`uptime`), ledig minne (`ram_free`),
# `version` og tidsstemplene endrer seg hvert sekund, fordi kortet rapporterer så ofte.

# %% tags=["nbval-ignore-output"]
svar = iot_data.get_thing_shadow(thingName=ting)
dokument = json.loads(svar["payload"].read())
print(json.dumps(dokument, indent=2, ensure_ascii=False))

# %% [markdown]
# Legg merke til at `metadata` har samme form som `state`, men med et tidsstempel i stedet for hver verdi.
# Det er ingen `desired` ennå: ingen har bedt kortet om noe. Derfor er det heller ingen `delta`.
#
# Hjelpefunksjonen `shadow_view.describe` viser bare feltene vi velger, én linje per del:

# %%
print(shadow_view.describe(dokument, keys=["on", "btnCount", "ram_total"]))

tidspunkt = dokument["metadata"]["reported"]["on"]["timestamp"]
print()
print("reported.on ble sist skrevet:", tidspunkt, "=", time.strftime("%H:%M:%S", time.localtime(tidspunkt)))
senere = shadow_view.wait_until(ting, lambda dok: dok["version"] > dokument["version"])
print("Litt senere har versjonen økt:", senere["version"] > dokument["version"])

# %% [markdown]
# ## Se meldingene på skyggens emner
#
# `kurs.mqtt.Monitor` abonnerer på et emnefilter, som MQTT-testklienten i AWS-konsollen. Vi lytter på
# `update/#` til kortet har rapportert én gang og skyen har svart:

# %%
skygge = f"$aws/things/{ting}/shadow"
with kurs.mqtt.Monitor(f"{skygge}/update/#") as monitor:
    monitor.wait(topic=f"{skygge}/update", timeout=10)  # kortet rapporterer …
    monitor.wait(topic=f"{skygge}/update/documents", timeout=10)  # … og skyen har svart

emner = sorted({m.topic.removeprefix(skygge + "/") for m in monitor.messages})
print("Emner vi så meldinger på:", ", ".join(emner))
rapport = next(m.json() for m in monitor.messages if m.topic == f"{skygge}/update")
print("Kortet rapporterer feltene:", ", ".join(sorted(rapport["state"]["reported"])))

# %% [markdown]
# Hvert sekund sender kortet `update` med `reported`, og skyen svarer `update/accepted` (til kortet) og
# `update/documents` (til alle som vil vite hva som endret seg). Ingen `update/delta`: ingen vil noe annet.

# %% [markdown]
# ## Slå på LED-en fra notatboka
#
# Nå ber vi kortet tenne LED-en, ved å sette `desired.on` til `true`. Vi sender ingen melding til kortet
# selv; vi endrer bare skyggen. Så venter vi på deltaen, på LED-en og på at deltaen forsvinner.
# Følg med på panelet over mens cellen kjører.

# %%
merke = kort.console.mark()
with kurs.mqtt.Monitor(f"{skygge}/update/delta") as monitor:
    iot_data.update_thing_shadow(thingName=ting, payload=json.dumps({"state": {"desired": {"on": True}}}))
    delta = monitor.wait(timeout=10)

kort.wait_for(lambda: kort.led())
logglinje = kort.wait_for("Fikk delta", since=merke)
etter = shadow_view.wait_until(ting, shadow_view.in_sync("on"))

print("1. Notatboka satte desired.on = true")
print("2. Skyen sendte deltaen på", delta.topic.removeprefix(skygge + "/"), "→", json.dumps(delta.json()["state"]))
print("3. Kortet skrev i loggen:", logglinje.text.strip())
print("4. LED-en lyser:", kort.led())
print("5. Kortet rapporterte, og deltaen er borte:")
print(shadow_view.describe(etter, keys=["on"]))

# %% [markdown]
# Det er hele mønsteret: **du endrer `desired`, dingsen får `delta`, dingsen retter seg og rapporterer
# `reported`**. Den som vil noe, trenger ikke vite om dingsen er på nett, hvilken IP-adresse den har eller
# hvilket emne den abonnerer på. Den skriver bare i skyggen.
#
# **Prøv selv:** trykk på knappen i panelet over. Hva tror du skjer med LED-en? Svaret kommer i neste del.

# %% [markdown]
# ## Hvem bestemmer: knappen eller skyggen?
#
# Startappen snur LED-en når du trykker på BOOT-knappen. Men skyggen sier fortsatt `desired.on = true`.
# Hva skjer når kortet rapporterer `on: false`?

# %%
merke = kort.console.mark()
kort.click()
etter_trykk = kort.wait_for("LED: slukket", since=merke)
tilbake = kort.wait_for("Fikk delta", since=merke)
kort.wait_for(lambda: kort.led())

print("Etter trykket:  ", etter_trykk.text.strip())
print("Så kom en delta:", tilbake.text.strip())
print("LED-en lyser igjen:", kort.led())

# %% [markdown]
# Knappen slo LED-en av, kortet rapporterte `on: false`, og skyen så at det var ulikt `desired` – og
# sendte en ny delta. **`desired` vinner så lenge den står der.** Det er ofte det du vil (en termostat skal
# holde temperaturen du ba om), men her vil vi at knappen skal få bestemme igjen.
#
# ### `null` fjerner et ønske
#
# Et felt med verdien `null` blir *slettet* fra skyggen. `{"state": {"desired": {"on": null}}}` fjerner
# `desired.on`; `{"state": {"desired": null}}` fjerner hele `desired`. Da er det ingenting å være uenig om:

# %%
iot_data.update_thing_shadow(thingName=ting, payload=json.dumps({"state": {"desired": {"on": None}}}))
print(shadow_view.describe(shadow_view.read(ting), keys=["on"]))

merke = kort.console.mark()
kort.click()
print()
print("Etter trykket:", kort.wait_for("LED: slukket", since=merke).text.strip())
time.sleep(2.5)  # kortet rapporterer to ganger til
print("To og et halvt sekund senere lyser LED-en:", kort.led())
print("Delta nå:", shadow_view.delta(shadow_view.read(ting)) or "ingen")

# %% [markdown]
# ## Versjoner: hvem skrev sist?
#
# Tenk deg to apper som leser skyggen, gjør en endring og skriver den tilbake. Leser begge versjon 7,
# kan den siste som skriver, overskrive den første uten å vite det. Derfor kan en oppdatering ta med
# **`"version"`**: skyen godtar den bare hvis skyggen fortsatt har akkurat den versjonen. Ellers svarer den
# **409 Version conflict**, og appen må lese på nytt. (Dette kalles *optimistisk låsing*.)
#
# Kortet vårt skriver hvert sekund, så vi slår det av først – da står versjonen stille, og vi ser samtidig
# hva som skjer når kortet er frakoblet.

# %%
kort.stop()
print("Kortet er slått av. Koblet til skyen:", kort.connected)
dokument = shadow_view.read(ting)
print(shadow_view.describe(dokument, keys=["on"]))

# %% [markdown]
# Skyggen er der fortsatt, med det kortet rapporterte sist. Nå ber vi om at LED-en skal lyse, og tar
# med versjonen vi nettopp leste:

# %%
versjon = dokument["version"]
oppdatering = {"state": {"desired": {"on": True}}, "version": versjon}
iot_data.update_thing_shadow(thingName=ting, payload=json.dumps(oppdatering))
ny = shadow_view.read(ting)
print("Godtatt. Versjonen økte med", ny["version"] - versjon)
print(shadow_view.describe(ny, keys=["on"]))

# %% [markdown]
# Deltaen ligger og venter i skyggen: kortet er jo slått av. Hva om noen sender den samme oppdateringen,
# med den gamle versjonen?

# %%
try:
    iot_data.update_thing_shadow(thingName=ting, payload=json.dumps(oppdatering))
except iot_data.exceptions.ConflictException as feil:
    print("Avvist:", feil.response["ResponseMetadata"]["HTTPStatusCode"], feil.response["Error"]["Message"])

# %% [markdown]
# Over MQTT kommer det samme svaret på `update/rejected`: `{"code": 409, "message": "Version conflict"}`.
# Uten `"version"` i oppdateringen godtar skyen den alltid, og den siste som skriver, vinner.
#
# ## Kortet kobler seg til igjen
#
# Nå slår vi på kortet. Når det kobler seg til, ber det om skyggen (`get`) og rapporterer seg selv. Så
# lenge `desired` og `reported` er ulike, får det deltaen – ønsket ble husket mens kortet var borte.

# %%
merke = kort.console.mark()
kort.start()
kort.wait_for(lambda: kort.led(), timeout=15)
logglinje = kort.wait_for("Fikk delta", since=merke)
etter = shadow_view.wait_until(ting, shadow_view.in_sync("on"))

print("Kortet startet og fikk:", logglinje.text.strip())
print("LED-en lyser:", kort.led())
print(shadow_view.describe(etter, keys=["on"]))

# %% [markdown]
# Slik kan en app styre en dings som sover, mangler dekning eller står på et lager: den skriver i skyggen,
# og dingsen henter ønsket neste gang den er på nett.
#
# ## I AWS-konsollen, og hva det koster
#
# Med en AWS-konto finner du skyggen i konsollen under **IoT Core → Manage → All devices → Things →
# (dingsen) → Device Shadows → Classic Shadow**. Der kan du også redigere `desired` for hånd, og i
# **MQTT test client** kan du abonnere på `$aws/things/+/shadow/update/delta` og se deltaene komme.
#
# På AWS koster hver skyggeoperasjon (lese, oppdatere, slette) litt, i tillegg til meldingene. Startappen
# rapporterer **hvert sekund**: det er 86 400 oppdateringer i døgnet, over 2,5 millioner i måneden for ett
# kort. Et ekte produkt rapporterer bare når noe endrer seg. Se prisene på
# [aws.amazon.com/iot-core/pricing](https://aws.amazon.com/iot-core/pricing/); notatbok 07 rydder bort
# det kurset laget.

# %% [markdown]
# Vi fjerner ønsket fra skyggen og slår av kortet, så det ikke går videre i bakgrunnen:

# %%
iot_data.update_thing_shadow(thingName=ting, payload=json.dumps({"state": {"desired": None}}))
panel.close()
kort.close()
print("Kortet er slått av, og skyggen har ikke noe desired lenger.")

# %% [markdown]
# ## Oppsummering
#
# - **Skyggen** er et JSON-dokument i skyen: dingsen skriver `reported`, andre skriver `desired`, og
#   skyen regner ut **`delta`** og sender den til dingsen på `…/shadow/update/delta`.
# - Du styrte LED-en uten å sende en eneste melding til kortet: du endret `desired`, kortet fikk deltaen,
#   tente LED-en og rapporterte – og deltaen forsvant.
# - **`desired` vinner** så lenge den står der; **`null`** fjerner et felt (eller en hel del).
# - **`version`** stopper en oppdatering som bygger på et gammelt dokument (409 Version conflict).
# - Skyggen **husker** ønsket mens dingsen er frakoblet; dingsen får deltaen når den kobler seg til.
#
# **Neste:** [06 · Serverless](06-serverless.ipynb) – regler, Lambda og DynamoDB: knappen på det ene kortet
# setter skyggen til det andre.
