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
# # 02 · USB-UART: hvordan datamaskinen snakker med kortet
#
# **Du lærer i denne notatboka**
# - hva USB-UART-broen på kortet er, og hvorfor kortet trenger den;
# - hvilken driver operativsystemet ditt trenger, og hvordan du godkjenner den;
# - å finne porten kortet ditt har fått – og å kjenne igjen en ladekabel;
# - hvordan det ser ut når porten er opptatt eller du mangler tilgang;
# - å snakke med et kort over porten med RPC, slik `mos` gjør.
#
# **Tid**: omtrent 20 minutter (mer med et ekte kort og en driver å installere).
#
# **Du trenger**: notatbok 00. Et ESP32-kort med USB-kabel er fint å ha, men ikke nødvendig:
# alt som kan kjøre uten kort, gjør det her. Cellene som trenger et ekte kort, sjekker først om det er
# koblet til, og sier bare fra og hopper over når det ikke er det.

# %%
import kurs
import kurs.board_tools as kort

kurs.environment.check()

# %% [markdown]
# ## Hvorfor kortet trenger en bro
#
# Den klassiske ESP32-brikken, som kurset bruker, har ikke USB innebygd. Den
# snakker **UART**: seriell kommunikasjon på to ledninger, TX (send) og RX (motta), med en avtalt
# hastighet – for Mongoose OS 115 200 baud (bit per sekund). Datamaskinen din har USB, ikke UART.
#
# Derfor sitter det en liten **USB-UART-bro** på utviklingskortet, ved USB-kontakten. Den oversetter
# mellom USB og UART, og operativsystemet ser den som en **serieport**: `/dev/ttyUSB0` på Linux,
# `/dev/cu.usbserial-…` på macOS, `COM3` på Windows. Alt går gjennom den porten:
#
# - **loggen** kortet skriver (`print` i mJS havner her);
# - **RPC-kommandoer** fra `mos` og `kurs` (sett Wi-Fi, last opp sertifikater, les informasjon);
# - **ny fastvare** når du flasher.
#
# ![Datamaskinen, USB-kabelen, USB-UART-broen og ESP32-en](bilder/usb-uart.svg)
#
# Broen har to ledninger til: **DTR** og **RTS**. På de fleste kort styrer de ESP32-ens EN (omstart)
# og IO0 (BOOT), så verktøyene kan starte kortet i *nedlastingsmodus* når det skal flashes – uten at
# du trykker på knappene. Derfor åpner `kurs` porten med DTR og RTS sluppet: ellers ville kortet stå
# fast i omstart.
#
# De vanligste broene og USB-id-ene deres (leverandør:produkt):

# %%
from kurs.hardware import ports

for bro in sorted(ports.KNOWN_BRIDGES.values(), key=lambda b: (b.maker, b.chip)):
    print(f"{bro.usb_id}  {bro.maker:<13} {bro.chip}")

# %% [markdown]
# Kortene i det opprinnelige kurset har en **CP2102** fra Silicon Labs. Billigere kort har ofte en
# **CH340** eller **CH9102** fra WCH. Navnet står på den lille brikken ved USB-kontakten (bruk lupe
# eller mobilkamera). Nyere brikker som ESP32-S3 og ESP32-C3 har USB innebygd og trenger ingen bro.
#
# ## Drivere per operativsystem
#
# **Linux** har driverne innebygd (`cp210x`, `ch341`, `ftdi_sio`, `cdc_acm`). To ting kan likevel stoppe deg:
# - Porten tilhører gruppa **`dialout`** (på Arch: `uucp`). Er du ikke med i den, får du «ingen tilgang».
#   Løsning: `sudo usermod -aG dialout $USER`, og logg ut og inn igjen.
# - På Ubuntu tar tjenesten **`brltty`** (for leselister) over CH340-porter, så de forsvinner igjen
#   med en gang. `sudo dmesg | tail` viser det; `sudo apt remove brltty` løser det.
#
# **macOS** har drivere for mange broer, men ikke alle. Trenger du driveren fra Silicon Labs (CP210x)
# eller WCH (CH34x), må du **godkjenne den** etter installasjonen: åpne
# **Systeminnstillinger › Personvern og sikkerhet**, rull ned og trykk **Tillat** ved meldingen om
# systemprogramvare fra utvikleren. Koble kortet fra og til igjen etterpå. Bruk portene som heter
# `/dev/cu.…` (ikke `/dev/tty.…`): `ls /dev/cu.*` viser dem.
#
# **Windows** viser kortet i **Enhetsbehandling › Porter (COM og LPT)** som for eksempel
# «Silicon Labs CP210x USB to UART Bridge (COM3)». Står det under «Andre enheter» med gult
# utropstegn, mangler driveren: CP210x Universal Windows Driver fra Silicon Labs, eller CH341SER fra WCH.
#
# **Last ned driveren fra produsenten** (ikke fra tilfeldige nedlastingssider):
#
# | Brikke | Windows | macOS |
# |---|---|---|
# | CP2102, CP2104 (Silicon Labs) | [CP210x VCP Drivers](https://www.silabs.com/developer-tools/usb-to-uart-bridge-vcp-drivers) (*CP210x Universal Windows Driver*) | samme side (*CP210x VCP Mac OSX Driver*) |
# | CH340, CH341 (WCH) | [CH341SER](https://www.wch-ic.com/downloads/CH341SER_EXE.html) | [CH34XSER_MAC](https://www.wch-ic.com/downloads/CH34XSER_MAC_ZIP.html) |
# | CH9102 (WCH) | [CH343SER](https://www.wch-ic.com/downloads/CH343SER_EXE.html) | [CH34XSER_MAC](https://www.wch-ic.com/downloads/CH34XSER_MAC_ZIP.html) |
#
# Linux trenger ingen nedlasting.
#
# `kurs` kjenner rådene for hver brikke og hvert operativsystem:

# %%
kort.show_driver_advice("macos", "CP2102")
print()
kort.show_driver_advice("linux", "CH340")
print()
kort.show_driver_advice("windows", "CH9102")

# %% [markdown]
# ## Ladekabel eller datakabel?
#
# Den vanligste feilen er ikke driveren, men **kabelen**. Mange USB-kabler – særlig de som fulgte med
# en lader, et lesebrett eller et leketøy – har bare ledningene for strøm, ikke for data.
# Kortet lyser (det får strøm), men datamaskinen ser ingenting: ingen ny port, ingen melding i
# `dmesg`, ingenting i Enhetsbehandling. Prøv en annen kabel før du feilsøker noe annet, og koble
# gjerne rett i maskinen, ikke gjennom en USB-hub.
#
# ## Finn porten
#
# `kort.show_ports()` leter gjennom serieportene og kjenner igjen ESP32-kort på USB-id-en til broen.
# Her, uten kort, viser den i stedet hva du skal gjøre på ditt operativsystem:

# %%
kort.show_ports()

# %% [markdown]
# Det samme finnes som kommando i terminalen, `kurs kort porter`. Med `--os` ser du rådene for et
# annet operativsystem, for eksempel det sidemannen har:

# %%
!kurs kort porter --os macos

# %% [markdown]
# Med et kort koblet til ser svaret omtrent slik ut (uten kort sier cellen bare at den hopper over):
#
# ```text
# USB-serieporter på maskinen:
#   • /dev/ttyUSB0 (CP210x (CP2102/CP2104) fra Silicon Labs, USB 10C4:EA60)  – ESP32-kort
#
# ESP32-kortet ditt er på porten /dev/ttyUSB0.
# ```

# %%
if kort.board_ready():
    kort.show_ports()

# %% [markdown]
# ## Når porten ikke kan åpnes
#
# Bare ett program kan bruke en serieport om gangen. Har du `mos`, Arduino IDE, `screen` eller en annen
# notatbok med loggen åpen, er porten **opptatt**. Vi viser det med en **pseudoterminal**: en
# late-som-serieport som operativsystemet lager for oss, og som oppfører seg som porten til et kort.

# %%
import os

port, lukk_port = kort.open_pseudo_terminal()
print("Late-som-porten heter", port)
kort.check_port(port)

# %% [markdown]
# Nå later vi som om et annet program (for eksempel en seriell monitor) har porten åpen, og prøver igjen:

# %%
annet_program = ports.open_port(port)
kort.check_port(port)

# %% [markdown]
# Kommandoen i terminalen sier det samme, fordi porten er låst for alle andre prosesser også:

# %%
!kurs kort info --port {port}

# %% [markdown]
# Når det andre programmet lukker porten, er den ledig igjen:

# %%
annet_program.close()
kort.check_port(port)

# %% [markdown]
# Porten er ledig, men ingen svarer: på den andre siden er det ingen fastvare. Slik ser det ut når
# et kort er tomt, står fast eller kjører noe annet enn Mongoose OS:

# %%
!kurs kort info --port {port} --timeout 1

# %% [markdown]
# Når kortet kobles fra, forsvinner porten. Det ser vi ved å lukke late-som-porten:

# %%
lukk_port()
kort.check_port(port)

# %% [markdown]
# Mangler du **tilgang** til porten (Linux uten `dialout`-gruppa), ser meldingen slik ut. Her lager
# vi den for hånd, med feilen slik pyserial melder den, fordi kursmaskinen din kanskje har tilgang:

# %%
feil = PermissionError(13, "Permission denied")
print(ports.explain_open_error(feil, "/dev/ttyUSB0", platform="linux"))

# %% [markdown]
# ## Snakk med et kort over porten
#
# Mongoose OS svarer på **RPC** (*remote procedure call*) over den samme serieporten som loggen går på:
# små JSON-meldinger som `{"method": "Sys.GetInfo"}`. `mos` bruker dette til `mos wifi`, `mos put` og
# `mos call`, og `kurs` gjør det samme fra Python.
#
# Uten et ekte kort bruker vi et **virtuelt ESP32-kort**: det kjører kursets startapp (den samme
# mJS-koden som på et ekte kort) og svarer på RPC over en pseudoterminal, **nøyaktig som et ekte kort
# gjør over USB**. Koden som snakker med det, er den samme; bare porten er en annen.

# %%
from kurs.esp32 import VirtualBoard
from kurs.esp32.rpc_backend import BoardBackend
from kurs.hardware.rpc import RpcClient
from kurs.esp32.rpc_server import PtyRpcServer

virtuelt_kort = VirtualBoard("start", seed="notatbok-02").start()
usb_kabel = PtyRpcServer(BoardBackend(virtuelt_kort))  # «kabelen»: en pseudoterminal
virtuell_port = usb_kabel.start()
print("Det virtuelle kortet er på porten", virtuell_port)

# %% [markdown]
# Nå spør vi kortet hvem det er, med RPC-kallet `Sys.GetInfo` – det samme `mos call Sys.GetInfo` gjør:

# %%
with RpcClient(virtuell_port) as rpc:
    info = rpc.get_info()
    filer = rpc.fs_list()

print("Dingsnavn:      ", info["id"])
print("App:            ", info["app"], info["fw_version"])
print("MAC-adresse:    ", info["mac"])
print("Filer på kortet:", ", ".join(sorted(filer)))

# %% [markdown]
# Dingsnavnet er `esp32_` og de tre siste bytene av MAC-adressen. Det blir navnet på dingsen i AWS IoT
# (notatbok 03). Kommandoen i terminalen gir det samme svaret – med et ekte kort kan du utelate `--port`:

# %% tags=["nbval-ignore-output"]
!kurs kort info --port {virtuell_port}

# %% [markdown]
# Loggen går på den samme porten. `kort.follow_console()` viser den en liten stund (i terminalen:
# `kurs kort konsoll`, avslutt med Ctrl-C). Startappen skriver tilstanden sin hvert sekund:

# %% tags=["nbval-ignore-output"]
kort.follow_console(virtuell_port, seconds=2.5)

# %% [markdown]
# Med et ekte kort koblet til trenger du ikke oppgi porten: `kurs` finner den selv.

# %%
if kort.board_ready():
    kort.show_info()

# %%
if kort.board_ready():
    kort.follow_console(seconds=10)

# %% [markdown]
# Vi trekker ut den virtuelle kabelen og slår av kortet:

# %%
usb_kabel.stop()
virtuelt_kort.stop()
print("Porten finnes fortsatt:", os.path.exists(virtuell_port))

# %% [markdown]
# ## Oppsummering
#
# - Kortet snakker UART; **USB-UART-broen** (CP2102, CH340, CH9102 …) gjør det om til en serieport på
#   datamaskinen. Logg, RPC og flashing går alle gjennom den.
# - **Linux** har driverne, men du må være med i `dialout` (og fjerne `brltty` for CH340 på Ubuntu).
#   **macOS** kan trenge driveren godkjent under *Systeminnstillinger › Personvern og sikkerhet*.
#   **Windows** viser kortet som en COM-port i Enhetsbehandling.
# - Ingen port i det hele tatt? Prøv en **annen kabel** – mange kan bare lade.
# - `kort.show_ports()` / `kurs kort porter` finner kortet eller sier hva du skal gjøre; en **opptatt**
#   port betyr at et annet program har den åpen.
#
# **Neste:** [03 · Mongoose OS](03-mongoose-os.ipynb) – fastvaren, Wi-Fi og dingsens sertifikat.
