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
# # 03 · Mongoose OS: fastvaren, Wi-Fi og dingsens sertifikat
#
# **Du lærer i denne notatboka**
# - hva Mongoose OS og verktøyet `mos` er, og hva `kurs` gjør i stedet for `mos` her;
# - hvordan startappen er bygd opp: `mos.yml` og `fs/init.js`;
# - å bygge og flashe fastvaren og sette Wi-Fi på et ekte kort;
# - hva `mos aws-iot-setup` gjør, steg for steg og hvorfor – med en policy som gir dingsen bare det den trenger;
# - å se loggen til kortet, trykke på knappen og se meldingen komme fram på `devices/<ting>/events`;
# - hvordan du slår på `aws`-modus for en ekte AWS-konto, og hvorfor kurset spør deg først.
#
# **Tid**: omtrent 45 minutter (en time eller mer med et ekte kort).
#
# **Du trenger**: notatbok 00–02. Et ESP32-kort og en AWS-konto er fint å ha, men ikke nødvendig: et
# **virtuelt kort** gjør de samme stegene mot den lokale skyen, og cellene som trenger et ekte kort, sjekker
# først om det er koblet til og hopper over seg selv når det ikke er det.

# %%
import kurs
import kurs.board_tools as kort

kurs.environment.check()

# %% [markdown]
# ## Mongoose OS og verktøyet `mos`
#
# **Mongoose OS** er et lite operativsystem for mikrokontrollere som ESP32. Det gir appen din ferdige
# byggeklosser, så du slipper å skrive dem selv:
#
# - **Wi-Fi**, og **MQTT med TLS** til AWS IoT (og andre skyer);
# - **enhetsskyggen** (*device shadow*) fra AWS IoT, som du møter i notatbok 05;
# - et **oppsettssystem**: innstillinger som `wifi.sta.ssid` og `mqtt.server` lagres på kortet og kan
#   endres uten å bygge fastvaren på nytt;
# - et lite **filsystem** i flashminnet, der appens filer og sertifikatene ligger;
# - **RPC**: kommandoer over USB (og nettet), som `mos` og `kurs` bruker til å styre kortet;
# - **mJS**, en bitteliten JavaScript-motor, så appen kan skrives i JavaScript (`init.js`).
#
# **`mos`** er kommandolinjeverktøyet som hører til. I det opprinnelige kurset gjør du alt med det.
# Her gjør `kurs` det samme fra Python – slik at hvert steg blir synlig, og slik at det virker på et
# virtuelt kort også:
#
# | `mos` | Hva det gjør | Med `kurs` |
# |---|---|---|
# | `mos clone …/demo-js app1` | henter en app fra GitHub | startappen ligger allerede i `firmware/start/` |
# | `mos build --platform esp32` | bygger fastvaren til `build/fw.zip` | (det samme: `mos` bygger) |
# | `mos flash` | skriver fastvaren til kortet over USB | `kurs kort flash build/fw.zip` |
# | `mos wifi NETT PASSORD` | setter Wi-Fi | `kurs kort wifi NETT PASSORD` |
# | `mos aws-iot-setup` | ting, sertifikat og policy i AWS, og filene på kortet | `kurs.provisioning.provision(...)` + `kort.put_credentials(...)` |
# | `mos console` | viser loggen til kortet | `kurs kort konsoll`; virtuelt: kortpanelet eller `kurs dings start` |
# | `mos call Sys.GetInfo` | spør kortet hvem det er (RPC) | `kurs kort info` |
# | `mos put FIL` | laster opp en fil | `kurs kort put FIL` |
# | `mos` (uten argumenter) | nettsideverktøy med loggen | – |
#
# Du trenger ikke installere `mos` for denne notatboka. Har du et kort og vil bygge fastvaren selv,
# installerer du det slik (se *Quick start* på mongoose-os.com for nyeste utgave):
#
# ```bash
# # macOS (med Homebrew)
# brew tap cesanta/mos
# brew install mos
#
# # Ubuntu
# sudo add-apt-repository ppa:mongoose-os/mos
# sudo apt-get update
# sudo apt-get install mos-latest
#
# # Windows: last ned mos.exe til C:\mos og kjør den fra en ledetekst
# ```
#
# Hele veien fra startapp til en dings som snakker med skyen, ser slik ut. Vi går gjennom stegene ett for ett:
#
# ![Bygg, flash, Wi-Fi og aws-iot-setup: datamaskinen, kortet og skyen](bilder/mongoose-oppsett.svg)

# %% [markdown]
# ## Startappen
#
# Det opprinnelige kurset starter fra eksempelappen `demo-js`
# (`mos clone https://github.com/mongoose-os-apps/demo-js app1`). Kurset har sin egen startapp i
# `firmware/start/`, skrevet for kurset, som oppfører seg på samme måte. En Mongoose OS-app er en mappe
# med to deler: **`mos.yml`**, som sier hvordan fastvaren skal bygges, og **`fs/`**, filene som havner i
# kortets filsystem – her `init.js`.

# %%
from kurs.paths import FIRMWARE_DIR

startapp = FIRMWARE_DIR / "start"
print((startapp / "mos.yml").read_text(encoding="utf-8"))

# %% [markdown]
# Delene i `mos.yml`:
#
# - **`name`, `description`, `version`, `platform`**: appens navn og versjon, og at den er for ESP32.
#   `libs_version` og de andre `${mos.version}`-linjene sier «bruk bibliotekene som passer til den
#   `mos`-versjonen du bygger med».
# - **`filesystem: [fs]`**: alt i mappa `fs/` kommer med i filsystemet på kortet.
# - **`config_schema`**: innstillinger appen legger til eller endrer. Her `shadow.lib = "aws"`, så skyggen
#   også virker mot den lokale skyen (ellers starter den bare når MQTT-serveren heter `…amazonaws.com`).
# - **`libs`**: bibliotekene fastvaren bygges med. Hvert bibliotek har C-kode og ofte et JavaScript-API:
#   `wifi`, `mqtt`, `shadow` og `aws` for skyen; `mjs` for JavaScript; `rpc-uart`, `rpc-service-config` og
#   `rpc-service-fs` for RPC over USB (det `mos wifi`, `mos put` og `kurs kort` bruker); `boards` for
#   knappe- og LED-pinnene på kjente kort; `ca-bundle` for rotsertifikater.
# - **`build_vars: APP_SLOT_SIZE: 0x190000`**: linja det opprinnelige kurset ber deg legge til.
#
# Om `APP_SLOT_SIZE`: flashminnet på ESP32-en er delt i faste områder. Selve appen (Mongoose OS, bibliotekene
# og koden din) har et område – to, egentlig, slik at ny fastvare kan lastes ned mens den gamle kjører – og
# filsystemet et annet. Med så mange biblioteker blir appen for stor for standardområdet, så `APP_SLOT_SIZE`
# gjør det større. `0x190000` er et heksadesimalt tall:

# %%
print(f"0x190000 = {0x190000:,} byte = {0x190000 // 1024:,} KiB".replace(",", " "))

# %% [markdown]
# Så `init.js`, selve programmet. Det kjører én gang når kortet starter, og setter opp en tidsstyrt
# funksjon og to hendelseshåndterere – deretter er det Mongoose OS som kaller koden din når noe skjer:

# %%
print((startapp / "fs" / "init.js").read_text(encoding="utf-8"))

# %% [markdown]
# Delene i `init.js`:
#
# - **`load('api_….js')`** henter JavaScript-API-ene fra bibliotekene i `mos.yml`: `GPIO`, `MQTT`, `Shadow` …
# - **`Cfg.get('board.btn1.pin')`** leser innstillinger: hvilken pinne knappen og LED-en sitter på. På et
#   vanlig ESP32-utviklingskort er knappen BOOT-knappen på **GPIO 0**.
# - **`state`** er tilstanden dingsen rapporterer: `on` (er LED-en på?), `btnCount` (antall trykk) og `uptime`.
# - **`Timer.set(1000, Timer.REPEAT, …)`** kjører en funksjon hvert sekund: den oppdaterer oppetid og ledig
#   minne, skriver tilstanden i loggen og rapporterer den til skyggen når dingsen er på nett.
# - **`Shadow.addHandler`** tar imot endringer fra skyen (`UPDATE_DELTA`): `on` styrer LED-en (notatbok 05).
# - **`GPIO.set_button_handler`** kalles når knappen trykkes (med 20 ms *debounce*, så ett trykk ikke telles
#   flere ganger). Den teller trykket, snur `on` og **publiserer hele tilstanden som JSON** på emnet
#   `devices/<ting>/events` – hvis dingsen er koblet til.
# - **`Event.on(Event.CLOUD_CONNECTED, …)`** holder rede på om dingsen er på nett.
#
# Koden er **mJS**, ikke full JavaScript: bare `let`, bare `===` og `!==`, ingen piler (`=>`) og ingen
# *closures*. Det virtuelle kortet kjører full JavaScript, så `kurs sjekk` passer på at koden også ville
# kjørt på et ekte kort:

# %%
!cd {startapp} && kurs sjekk fs/init.js

# %% [markdown]
# ## Bygg og flash fastvaren (med et ekte kort)
#
# Har du et ESP32-kort, gjør du de samme stegene som i det opprinnelige kurset, med `mos` eller `kurs`.
# Cellene som trenger et kort, sjekker først om det er koblet til (og at fastvaren er bygd), og hopper
# over seg selv ellers. Lenger ned gjør vi
# **de samme stegene mot et virtuelt kort**, så du ser hva som skjer uansett.
#
# Et ekte kort når ikke den lokale skyen slik den vanligvis kjører: den lytter bare på `localhost` på maskinen
# din, og fra kortet betyr `localhost` kortet selv. Du har to valg:
#
# - **Uten AWS-konto**: start den lokale skyen for nettverket med `kurs sky stop` og `kurs sky start --lan` i en
#   terminal. Da lytter MQTT med gjensidig TLS også på maskinens nettverksadresse, og bare kort med et
#   sertifikat skyen kjenner, slipper inn (AWS-API-et og MQTT uten TLS blir på maskinen din). Kortet og
#   maskinen må være på samme Wi-Fi, og spør brannmuren om innkommende tilkoblinger, svarer du ja.
# - **Med AWS-konto**: bruk **ekte AWS IoT** (`aws`-modus, se slutten av notatboka).
#
# ### Bygg
#
# Installer `mos` (se over), og bygg startappen i en terminal:
#
# ```bash
# cd firmware/start
# mos build --platform esp32      # bygger på Cesantas byggetjener; med Docker: --local
# ```
#
# Bygget sendes til en byggetjener på nettet og tar et par minutter. Det gir fila `build/fw.zip`: Mongoose
# OS, bibliotekene, appen og filsystemet, med en `manifest.json` som sier hvor i flashminnet hver del skal.
#
# ### Flash
#
# `kurs` sjekker hele fila før kortet røres: at det er en Mongoose OS-fastvare, at hver del har riktig
# kontrollsum, og hvor i flashminnet den skal. Peker du på feil fil, får du vite det med en gang:

# %%
from kurs.errors import CourseError
from kurs.hardware import flash
from kurs.hardware.firmware_zip import read_firmware_zip

try:
    read_firmware_zip(startapp / "mos.yml")
except CourseError as feil:
    print(feil)

# %% [markdown]
# Med fastvaren bygd og kortet koblet til viser `describe()` hva som skrives hvor, og `flash.flash()`
# skriver det med en fremdriftslinje og kontrollerer etterpå. Porten finner `kurs` selv (se notatbok 02).
# Får ikke verktøyet kontakt med kortet, hold inne **BOOT**, trykk **EN**, slipp BOOT og prøv igjen.

# %%
fw_zip = startapp / "build" / "fw.zip"
if kort.board_ready(firmware=fw_zip):
    fastvare = read_firmware_zip(fw_zip)
    print(fastvare.describe())

# %%
if kort.board_ready(firmware=fw_zip):
    resultat = flash.flash(read_firmware_zip(fw_zip))
    print("Brikke:", resultat.chip, " MAC-adresse:", resultat.mac, " Dingsnavn:", resultat.thing_name)

# %% [markdown]
# I en terminal gjør `kurs kort flash firmware/start/build/fw.zip` det samme (eller `mos flash`).
#
# **Viktig:** flashing skriver også filsystemet og innstillingene på nytt. Etter **hver** flashing har kortet
# glemt både Wi-Fi-nettet og sertifikatet sitt, så de neste to stegene – Wi-Fi og provisjonering – må
# gjøres på nytt hver gang.
#
# ### Wi-Fi
#
# Passordet skriver du inn når cellen spør, så det ikke blir liggende i notatboka. ESP32 kan bare bruke
# **2,4 GHz**-nett, og ikke nett med innloggingsside; del gjerne nett fra mobilen.

# %%
import getpass

from kurs.hardware.rpc import RpcClient

if kort.board_ready():
    nett = input("Wi-Fi-nett (SSID): ")
    with RpcClient() as rpc:
        rpc.set_wifi(nett, getpass.getpass("Wi-Fi-passord: "))  # lagrer og starter kortet på nytt
    kort.wait_for_wifi(ssid=nett)

# %% [markdown]
# I en terminal: `kurs kort wifi NETT PASSORD` (eller `mos wifi NETT PASSORD`).

# %% [markdown]
# ## Det samme med et virtuelt kort
#
# Uten et ekte kort kobler vi et **virtuelt kort** til en pseudoterminal, som i notatbok 02. `kurs` snakker
# med det akkurat som med et kort på USB: de samme RPC-kallene og de samme funksjonene. Det virtuelle
# kortet kjører startappen over – den samme `init.js`, i en JavaScript-motor på maskinen din.
#
# Å lage kortet er det virtuelle motstykket til å flashe: filene i `firmware/start/fs/` legges i kortets
# filsystem, og det har ingen Wi-Fi og intet sertifikat. Kjører du cellen på nytt, slår den av det gamle
# kortet først og «flasher» et nytt.

# %%
from kurs.esp32 import VirtualBoard
from kurs.esp32.rpc_backend import BoardBackend
from kurs.hardware.rpc import RpcClient
from kurs.esp32.rpc_server import PtyRpcServer

if "virtuelt_kort" in globals():  # cellen kjøres på nytt: trekk ut det gamle kortet først
    usb_kabel.stop()
    virtuelt_kort.close()

virtuelt_kort = VirtualBoard("start", seed="notatbok-03").start()
usb_kabel = PtyRpcServer(BoardBackend(virtuelt_kort))  # «USB-kabelen»: en pseudoterminal
virtuell_port = usb_kabel.start()

with RpcClient(virtuell_port) as rpc:
    tingnavn = rpc.get_info()["id"]
print("Kortet på", virtuell_port, "heter", tingnavn)

# %% [markdown]
# Navnet kommer fra MAC-adressen, som på et ekte kort (`esp32_` og de tre siste bytene). Det blir navnet på
# **tingen** (*thing*) i AWS IoT og kortets MQTT-klient-ID.
#
# Wi-Fi setter du på samme måte som på et ekte kort. Et virtuelt kort bruker maskinens eget nett, så det
# lagrer innstillingene, men trenger dem ikke. (Nettnavnet og passordet her er bare eksempler. Skriv aldri
# ditt ekte Wi-Fi-passord i en notatbok du deler – bruk terminalen eller cellen med `getpass` over.)

# %%
!kurs kort wifi KursNett eksempelpassord --port {virtuell_port}

# %% [markdown]
# Et nyflashet kort har ikke noe sertifikat. Det virtuelle kortet tar da en snarvei som bare finnes lokalt:
# det kobler seg til den lokale skyens MQTT-port **uten TLS og uten sertifikat**. Det ekte AWS IoT slipper
# aldri inn noen på den måten:

# %%
print("MQTT-server:", virtuelt_kort.config_get("mqtt.server"), " (uten TLS)")
print("Sertifikat: ", virtuelt_kort.config_get("mqtt.ssl_cert") or "(ingen)")

# %% [markdown]
# ## Dingsens identitet: det `mos aws-iot-setup` gjør
#
# I det opprinnelige kurset gjør `mos aws-iot-setup` hele skysiden i ett steg, og du må stole på at det
# blir riktig. `kurs.provisioning.provision(tingnavn)` gjør det samme med `boto3` – og sier hva den gjør.
# Stegene, og hvorfor:
#
# 1. **En privat nøkkel lages her, på maskinen din**, sammen med en *sertifikatforespørsel* (CSR) med
#    tingnavnet i. Bare forespørselen sendes til AWS (`CreateCertificateFromCsr`), og AWS sender tilbake et
#    **sertifikat** signert av AWS IoT. Den private nøkkelen forlater aldri maskinen (bortsett fra til kortet
#    ditt), så ingen andre – heller ikke AWS – har en kopi.
# 2. **Sertifikatet settes til `ACTIVE`** med én gang. Megleren slipper bare inn sertifikater som er
#    registrert og aktive; et sertifikat som settes til `INACTIVE`, stenger dingsen ute.
# 3. **En policy** sier hva dingsen får lov til. `mos aws-iot-setup` lager `mos-default`, som tillater
#    `iot:*` på `*`: hvem som helst med et hvilket som helst av kontoens sertifikater kan gjøre hva som helst,
#    også late som de er en annen dings. Vi lager `kurs-<ting>` med **minste nødvendige rettigheter** (under).
# 4. **Tingen** (*thing*) registreres med kortets navn, og **sertifikatet knyttes til tingen og til
#    policyen**. Knytningen til tingen er det som lar policyen si «bare som deg selv».
# 5. **Kortets innstillinger**: `mqtt.server` (kontoens adresse for MQTT, fra `describe_endpoint`),
#    `mqtt.ssl_cert`, `mqtt.ssl_key`, `mqtt.ssl_ca_cert` (filene på kortet), `aws.thing_name` og
#    `mqtt.enable`. Filene og innstillingene legges på kortet (steg c på figuren over).
#
# Cellen tåler å bli kjørt flere ganger: finnes tingen, policyen og et aktivt sertifikat med nøkkelen her
# fra før, brukes de.

# %%
dings = kurs.provisioning.provision(tingnavn)

# %% [markdown]
# ### Policyen
#
# Slik ser policyen ut. AWS IoT sjekker den for hver tilkobling, hvert abonnement og hver melding:

# %%
from kurs.provisioning import device_policy

region, konto = kurs.sky.info().region, kurs.sky.info().account_id
print(device_policy.document_text(region, konto))

# %% [markdown]
# Slik leser du den:
#
# - **`${iot:Connection.Thing.ThingName}`** er en *policyvariabel*: AWS IoT setter inn navnet på tingen som
#   sertifikatet er knyttet til. Derfor kan en dings bare koble til med sitt eget navn som klient-ID
#   (`client/…`), og bare bruke sine egne emner.
# - **`iot:Connection.Thing.IsAttached`** krever at sertifikatet faktisk er knyttet til tingen.
# - **`iot:Publish`** og **`iot:Receive`** gjelder emner (`topic/…`), **`iot:Subscribe`** gjelder emnefiltre
#   (`topicfilter/…`). `*` er jokertegnet i en policy; MQTT-jokertegnene `+` og `#` betyr ingenting spesielt her.
# - Alt som ikke står her, er **nektet**. Prøver dingsen noe annet, lukker AWS IoT forbindelsen uten å si
#   hvorfor – og den lokale skyen gjør det samme.

# %%
print(device_policy.explain())

# %% [markdown]
# ### Filene på maskinen din
#
# Nøkkelen, sertifikatet og CA-fila (rotsertifikatet megleren bruker) ligger i kursets private mappe, som
# git ignorerer. Bare du kan lese dem (`-rw-------`, tilgang 0600). **Vis aldri innholdet i den private
# nøkkelen** – i en notatbok, i et skjermbilde eller i git.

# %%
import stat

for fil in sorted(dings.cert_file.parent.iterdir()):
    print(f"{stat.filemode(fil.stat().st_mode)}  {fil.name}")

# %% [markdown]
# Sertifikatet er derimot offentlig, og kan trygt vises. Her er det AWS IoT (den lokale skyen) vet om det:

# %%
iot = kurs.aws_mode.client("iot")
beskrivelse = iot.describe_certificate(certificateId=dings.certificate_id)["certificateDescription"]
print("Status:           ", beskrivelse["status"])
print("Knyttet til ting: ", iot.list_principal_things(principal=dings.certificate_arn)["things"])
print("Policyer:         ", [p["policyName"] for p in iot.list_attached_policies(target=dings.certificate_arn)["policies"]])
print("Første linje:     ", beskrivelse["certificatePem"].splitlines()[0])

# %% [markdown]
# ### Sertifikatet over på kortet
#
# Nå den delen av `mos aws-iot-setup` som skjer på kortet: sertifikatet, nøkkelen og CA-en til megleren
# (`kurs-ca.pem`) lastes opp (`FS.Put`), innstillingene lagres (`Config.Set` og `Config.Save`), og kortet
# starter på nytt og kobler seg til med sitt eget sertifikat. CA-en får sin egen fil: `ca.pem` på kortet er
# samlingen av rotsertifikater som fastvaren har med seg, og den skal stå i fred. `put_credentials` venter
# til kortet har koblet seg til:

# %%
kort.put_credentials(dings, virtuell_port)

# %% [markdown]
# Kortet har nå filene i filsystemet sitt og bruker dem:

# %%
with RpcClient(virtuell_port) as rpc:
    print(f"Filer på kortet:  {', '.join(sorted(rpc.fs_list()))}")
    print(f"mqtt.server:      {rpc.config_get('mqtt.server')}")
    print(f"mqtt.ssl_cert:    {rpc.config_get('mqtt.ssl_cert')}")
print(f"Koblet til skyen: {virtuelt_kort.connected}")

# %% [markdown]
# Med et ekte kort er stegene de samme: spør kortet om navnet, provisjoner, og legg filene på kortet. Mot den
# lokale skyen (startet med `--lan`) setter `put_credentials` maskinens nettverksadresse i `mqtt.server`, fordi
# `localhost` ikke når fram fra kortet.

# %%
if kort.board_ready():
    with RpcClient() as rpc:
        tingnavn_ekte = rpc.get_info()["id"]
    ekte_dings = kurs.provisioning.provision(tingnavn_ekte)

# %%
if kort.board_ready():
    kort.put_credentials(ekte_dings)

# %% [markdown]
# Virker ikke tilkoblingen, sjekker `kurs.provisioning.verify()` det som pleier å være galt – at tingen finnes,
# at sertifikatet er aktivt, passer til nøkkelen og er knyttet til tingen, og at policyen er knyttet til
# sertifikatet – og sier hvordan du retter det:

# %%
kurs.provisioning.verify(tingnavn)

# %% [markdown]
# Policyen virker. Her prøver vi å bruke dingsens sertifikat under et **annet** klientnavn, slik noen som
# hadde stjålet sertifikatet kunne prøve. Megleren lukker forbindelsen med én gang:

# %%
try:
    dings.connect("noen-andre")
except CourseError as feil:
    print(feil)

# %% [markdown]
# ## `aws iot list-things`
#
# Som i det opprinnelige kurset kan du se tingen med AWS CLI. Merket `created_by=kurs` er hvordan
# oppryddingen i notatbok 07 kjenner igjen det kurset har laget:

# %%
!aws iot list-things

# %% [markdown]
# ## Loggen til kortet
#
# `mos console` (eller `mos` uten argumenter) viser det kortet skriver: oppstarten, MQTT-tilkoblingen og
# linja startappen skriver hvert sekund. Kortpanelet under viser loggen til det virtuelle kortet, med en knapp
# du kan trykke på og LED-en. Se etter `MQTT CONNACK 0` (megleren godtok tilkoblingen) og `online: true`.
#
# Rett etter tilkoblingen står det også en linje som ser ut som en feil:
# `Error: 404 No shadow exists with name: 'esp32_…'`. Den er helt grei. Når kortet kobler seg til, spør
# skyggebiblioteket etter dingsens **skygge** (*shadow*, notatbok 05), men en helt ny ting har ingen skygge
# ennå, så skyen svarer «404: finnes ikke». Sekundet etter rapporterer kortet tilstanden sin, og da lages
# skyggen. Et ekte kort mot AWS IoT skriver den samme linjen første gang.

# %%
panel = kurs.widgets.BoardPanel(virtuelt_kort)
panel

# %% [markdown]
# I en terminal:
#
# - `kurs kort konsoll` følger loggen til et ekte kort (avslutt med Ctrl-C); med `--port` også det virtuelle
#   kortet her;
# - `kurs dings start` starter et eget virtuelt kort med startappen og skriver loggen dets, som `mos console`.
#   Trykk Enter for å trykke på knappen.
#
# Et ekte kort:

# %%
if kort.board_ready():
    kort.follow_console(seconds=15)

# %% [markdown]
# ## Trykk på knappen
#
# I det opprinnelige kurset ser du meldingene fra knappen i *MQTT test client* i AWS-konsollen. Her gjør
# MQTT-konsollen det samme. Den abonnerer på `devices/#` – alle emner under `devices/`. Trykk på knappen i
# kortpanelet over, og se meldingen komme:

# %%
konsoll = kurs.widgets.MqttConsole("devices/#")
konsoll

# %% [markdown]
# Det samme fra Python: vi abonnerer på dingsens emne, trykker på knappen to ganger og ser hva som kommer.
# `on` snur for hvert trykk, og `btnCount` teller:

# %%
import time

emne = f"devices/{tingnavn}/events"
with kurs.mqtt.Monitor(emne) as monitor:
    for _ in range(2):
        virtuelt_kort.click()
        melding = monitor.wait(timeout=5, topic=emne)
        innhold = melding.json()
        print(f"{melding.topic}: on={innhold['on']}, btnCount={innhold['btnCount']}")
        time.sleep(0.2)

# %% [markdown]
# Meldingen er hele tilstanden som JSON, sendt av `MQTT.pub` i knappehåndtereren. Kortet sendte den over
# **TLS med sitt eget sertifikat**, og policyen tillot det fordi emnet er dingsens eget (`devices/<ting>/…`).

# %% [markdown]
# ## Ekte AWS: `aws`-modus
#
# Alt over gikk mot den lokale skyen. Vil du bruke din egen AWS-konto (og et ekte kort), slår du på
# `aws`-modus. For at du aldri skal lage ting i feil konto ved et uhell, **spør kurset først**: det slår opp
# hvilken konto AWS-nøklene dine hører til (med STS `GetCallerIdentity`, som er gratis og ikke lager
# noe), viser kontonummeret og regionen, og nekter å gå videre før du har bekreftet akkurat den kontoen.
#
# Slik gjør du det:
#
# 1. Sett opp nøklene med `aws configure` (notatbok 01), og finn kontonummeret:
#    `aws sts get-caller-identity --query Account`.
# 2. Bekreft kontoen (og regionen) i en celle. Innstillingen lagres, så du gjør det én gang:
#    ```python
#    kurs.aws_mode.confirm("123456789012", region="eu-west-1")
#    ```
#    Eller, før du starter Jupyter: `KURS_MODUS=aws` og `KURS_AWS_KONTO=123456789012` som miljøvariabler.
# 3. Start kjernen på nytt (*Kernel › Restart*), så ingenting peker mot den lokale skyen lenger, og kjør
#    notatboka igjen. `kurs.aws_mode.summary()` viser da hvilken konto og region som brukes.
# 4. Stenger nettverket ditt port 8883, bruk 443: `KURS_AWS_MQTT_PORT=443`.
# 5. Tilbake til den lokale skyen: `kurs.aws_mode.use_local()`.
#
# I en terminal bekrefter du med et flagg for akkurat den kjøringen, for eksempel
# `kurs rydd --bekreft-konto 123456789012`.

# %%
konto = ""  # skriv ditt eget kontonummer (12 sifre) mellom anførselstegnene og kjør cellen
if konto:
    kurs.aws_mode.confirm(konto, region="eu-west-1")
else:
    print("ℹ️  Ingen konto skrevet inn, så kurset blir i lokal modus.")

# %% [markdown]
# Akkurat nå er vi i lokal modus:

# %%
print(kurs.aws_mode.summary())

# %% [markdown]
# Slik ser det ut når `aws`-modus er slått på, men kontoen ikke er bekreftet. For å vise det uten en ekte
# AWS-konto later vi et øyeblikk som om den lokale skyen er AWS, med tilgangsnøkler for IAM-brukeren
# `kurs-deltaker` (notatbok 01) laget i den lokale skyen – slik du ville laget dem i AWS-konsollen.
# Miljøvariablene settes bare inne i `with`-blokka, og nøklene vises aldri. Det eneste som sendes, er
# spørsmålet om hvilken konto nøklene hører til:

# %%
import os
from unittest import mock

som_aws = {"KURS_MODUS": "aws", "KURS_AWS_KONTO": "", **kurs.sky.user_keys("kurs-deltaker")}
with mock.patch.dict(os.environ, som_aws):
    kurs.aws_mode.reset()
    try:
        kurs.aws_mode.client("iot")
    except CourseError as feil:
        print(feil)
kurs.aws_mode.reset()  # tilbake til lokal modus
print()
print(kurs.aws_mode.summary())

# %% [markdown]
# ## Slå av kortet
#
# Vi trekker ut den virtuelle kabelen og slår av kortet. Tingen, sertifikatet og policyen blir liggende i
# den lokale skyen, som de ville gjort i AWS. Notatbok 07 rydder dem bort.

# %%
panel.close()
konsoll.close()
usb_kabel.stop()
virtuelt_kort.close()
print("Kortet er slått av:", not virtuelt_kort.running)

# %% [markdown]
# ## Oppsummering
#
# - **Mongoose OS** gir appen Wi-Fi, MQTT med TLS, skyggen, innstillinger, et filsystem og mJS. **`mos`**
#   bygger, flasher og setter opp kortet; `kurs` gjør det samme fra Python, også for virtuelle kort.
# - En app er **`mos.yml`** (biblioteker, innstillinger, `APP_SLOT_SIZE: 0x190000`) og **`fs/init.js`**.
# - **Bygg** (`mos build --platform esp32`), **flash** (`kurs kort flash`), **Wi-Fi** (`kurs kort wifi`) –
#   og etter hver flashing må Wi-Fi og provisjoneringen gjøres på nytt.
# - **Provisjonering** (`mos aws-iot-setup` / `kurs.provisioning.provision`): privat nøkkel laget lokalt, CSR,
#   sertifikat `ACTIVE`, en policy med minste nødvendige rettigheter, ting og sertifikat knyttet sammen, og
#   innstillingene på kortet. Den private nøkkelen vises aldri.
# - Knappen publiserer tilstanden som JSON på **`devices/<ting>/events`**; MQTT-konsollen viser den.
# - **`aws`-modus** bruker en ekte konto først når du har bekreftet kontonummeret.
#
# **Neste:** [04 · Meldinger](04-meldinger.ipynb) – Oppgave 1–6: knapp, lys og to dingser som snakker sammen.
