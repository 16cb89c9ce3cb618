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
# # 00 · Velkommen: serverless IoT med Mongoose OS og AWS
#
# I dette kurset lager du to **dingser** (engelsk: *things*): én med en knapp og én med en lysdiode.
# Når du trykker på knappen på den ene, tennes lyset på den andre – men ikke via en ledning mellom dem:
# meldingen går gjennom skyen, gjennom **AWS IoT Core**, med MQTT, en skygge (*device shadow*),
# regler og en Lambda-funksjon underveis.
#
# **Du lærer i denne notatboka**
# - hva som skjer når en dings snakker med skyen: MQTT, megler, emner, skygge, regler og sertifikater;
# - hvordan kurset er bygget opp, og hvordan du kan følge det med eller uten kort og AWS-konto;
# - å sende og ta imot din første MQTT-melding.
#
# **Tid**: omtrent 20 minutter.
#
# **Du trenger**: ingenting annet enn denne maskinen. Har du ESP32-kort og en AWS-konto, kan du bruke dem
# senere, men alt i kurset virker også uten.

# %% [markdown]
# ## Slik kjører du en celle
#
# En notatbok består av **celler**. Denne teksten er en tekstcelle; cellene med grå bakgrunn og `[ ]:` til
# venstre er **kodeceller**. Slik kjører du dem:
#
# 1. Klikk i en kodecelle, så den får en blå strek til venstre.
# 2. Trykk **Shift + Enter** (eller ▶ øverst). Cellen kjører, og markøren går videre til neste celle.
# 3. Mens cellen kjører, står det `[*]:` til venstre; når den er ferdig, et tall, som `[1]:`. Det cellen
#    skriver ut, kommer rett under den.
#
# Kjør cellene ovenfra og ned: en celle bruker ofte noe en celle over har laget. Vil du begynne på nytt,
# velger du **Kernel › Restart Kernel and Run All Cells…** i menyen: da kjøres hele notatboka på nytt fra
# toppen. Har noe gått galt, får du en melding som begynner med ⚠️ og sier hva du kan gjøre.
#
# Prøv med cellen under.

# %% [markdown]
# ## Sjekk at alt er på plass
#
# Cellen under sjekker at Python og pakkene kurset trenger finnes, og starter **den lokale skyen**:
# en erstatning for AWS IoT Core som kjører på din egen maskin. Mangler noe, får du beskjed om hva du skal kjøre.

# %%
import kurs

kurs.environment.check()

# %% [markdown]
# ## Kursets reise
#
# | Notatbok | Hva du gjør |
# |---|---|
# | **00** Velkommen (denne) | IoT i skyen: de viktigste begrepene, og din første MQTT-melding |
# | **01** Verktøy | AWS CLI og boto3, en IAM-bruker med smale rettigheter, `aws iot list-things` |
# | **02** USB-UART | Hvordan datamaskinen snakker med kortet, finne porten, drivere |
# | **03** Mongoose OS | Startappen, flashing, Wi-Fi, provisjonering av dingsen, konsollen |
# | **04** Meldinger | Oppgave 1–6: knappen publiserer, lyset abonnerer, to dingser snakker sammen |
# | **05** Skyggen | *desired*, *reported* og *delta*: styr lyset fra skyen |
# | **06** Serverless | Regler, Lambda og DynamoDB: knappen styrer lyset via skyggen |
# | **07** Rydd opp | Fjern alt kurset laget, så du ikke betaler for noe du ikke bruker |
#
# Du kan kjøre kurset på tre måter, og koden i notatbøkene er den samme:
#
# | Modus | Dingser | Sky |
# |---|---|---|
# | `lokal` (standard) | virtuelle ESP32 som kjører den samme mJS-koden som et ekte kort | den lokale skyen |
# | `aws` | virtuelle eller ekte | din egen AWS-konto – bare når du selv slår det på |
# | maskinvare | ekte ESP32 via USB | den lokale skyen eller AWS |

# %% [markdown]
# ## IoT i skyen
#
# Mange skyleverandører har en plattform for tingenes internett (IoT). De ligner hverandre:
#
# ![Dingser og skyen: megler, skygge, regler og sikkerhet](bilder/iot-i-skyen.svg)
#
# - **MQTT** er protokollen dingsene snakker. Den er laget for små enheter og dårlige nettverk:
#   lite ekstra data rundt hver melding, og dermed små pakker. Den bygger på *publiser og abonner* (publish/subscribe).
# - En **megler** (*broker*) tar imot alle meldinger og sender dem videre. Meldinger har et **emne**
#   (*topic*), for eksempel `devices/esp32_A1B2C3/events`. Den som vil ha meldinger, **abonnerer** på
#   et emnefilter; `+` står for ett nivå og `#` for resten, som i `devices/+/events` eller `devices/#`.
#   Hos Amazon ligger megleren i *IoT Core*, hos Azure i *IoT Hub*.
# - Hver dings har en **skygge** (*device shadow*, hos Azure *device twin*): et JSON-dokument i skyen
#   som speiler dingsen. Dingsen melder hva den *er* (`reported`), og skyen kan be om hva den *skal være*
#   (`desired`). Forskjellen kalles `delta`, og dingsen får den tilsendt når den kobler seg til.
# - **Regler** hos skyleverandøren kan sende meldinger videre: lagre dem i en database, analysere dem
#   eller kjøre en **Lambda-funksjon** – kode uten egen server (*serverless*).
# - **Sikkerhet**: hver dings får sitt eget **X.509-sertifikat**, og en **policy** bestemmer hva den får lov
#   til: koble til med sitt eget navn, publisere og abonnere på sine egne emner.

# %% [markdown]
# ## Din første MQTT-melding
#
# Vi abonnerer på alle emner under `kurs/hei/`, og publiserer så en melding på `kurs/hei/verden`.
# Megleren i den lokale skyen sender den tilbake til abonnementet vårt.

# %%
with kurs.mqtt.Monitor("kurs/hei/#") as monitor:
    kurs.mqtt.publish("kurs/hei/verden", {"melding": "Hei fra notatboka!"})
    mottatt = monitor.wait()

print("Emne:   ", mottatt.topic)
print("Innhold:", mottatt.json())

# %% [markdown]
# Legg merke til at avsender og mottaker ikke vet om hverandre: de kjenner bare megleren og emnet.
# Det er derfor det blir enkelt å koble på flere dingser senere.
#
# **Prøv selv:** bytt `"kurs/hei/verden"` med `"kurs/hei/norge"` og kjør cellen igjen. Hva skjer om du
# publiserer på `"kurs/hallo/verden"`? (Svar: ingenting kommer fram, for vi abonnerer bare på `kurs/hei/#`.
# Da venter `wait()` i fem sekunder og sier fra.)

# %% [markdown]
# ## Hvor innstillingene ligger
#
# Kurset leser modus fra miljøvariabelen `KURS_MODUS` eller fra fila `innstillinger.json` i kursets
# private mappe `.kurs/`. Den mappa er aldri med i git, og det er der sertifikater og nøkler havner senere.
# Standard er `lokal`; modusen `aws` må du slå på selv, og kurset viser da hvilken konto og region
# den skal bruke før den gjør noe som helst.

# %%
print(kurs.config.load().describe())

# %% [markdown]
# ## På kurs med en instruktør? Bli med i rommet (valgfritt)
#
# Følger du kurset i et klasserom, kan instruktøren starte et **rom**: én lokal sky for hele rommet. Da kan du
# og makkeren din la knappen på ditt kort styre lyset på hennes (Oppgave 3 og 6), og instruktøren ser hvilke
# oppgaver du har klart. Skriv inn adressen og klassekoden instruktøren viser, og navnet ditt, og kjør cellen.
# Jobber du alene, lar du feltene stå tomme: da skjer ingenting, og kurset er akkurat som før.
#
# I rommet får du dine egne nøkler, og alt du lager der, får navnet ditt foran (for eksempel `ida-knapp`).
# Andre kan ikke se eller røre det – bare emnene under `kurs/par/` deles, så et par kan snakke sammen.
# `kurs.room.leave()` tar deg tilbake til din egen lokale sky; ingenting du har laget, forsvinner.

# %%
ROM_ADRESSE = ""  # for eksempel "192.168.1.20:5055"
KLASSEKODE = ""  # for eksempel "K7QM-XR4T"
NAVN = ""  # fornavnet ditt
if ROM_ADRESSE:
    kurs.room.join(ROM_ADRESSE, KLASSEKODE, NAVN)
    print(kurs.room.describe())

# %% [markdown]
# ## Oppsummering
#
# - Dingser snakker MQTT med en **megler**; meldinger har **emner**, og abonnenter bruker **emnefiltre**.
# - **Skyggen** er dingsens tvilling i skyen; **regler** og **Lambda** gjør noe med meldingene;
#   **sertifikater** og **policyer** holder det trygt.
# - Den lokale skyen kjører på din maskin, og du har sendt og mottatt din første melding.
#
# **Neste:** [01 · Verktøy](01-verktoy.ipynb) – AWS CLI, boto3 og en IAM-bruker med smale rettigheter.
