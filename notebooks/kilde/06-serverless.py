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
# # 06 · Serverless: regler, Lambda og DynamoDB
#
# I notatbok 04 gikk knappetrykket rett fra det ene kortet til det andre over MQTT. Nå legger vi
# **skyen** imellom: en **regel** i AWS IoT plukker opp trykket og kjører en **Lambda-funksjon**, som setter
# **skyggen** til lyskortet. En annen regel lagrer hvert trykk i en **DynamoDB**-tabell, og til slutt tegner
# vi trykkene i en graf. Ingen server å drifte – det er det *serverless* betyr.
#
# **Du lærer i denne notatboka**
# - å skrive regler med AWS IoT SQL: `SELECT … FROM '…' WHERE …`, `topic(n)`, `timestamp()`, `clientid()`;
# - å lage en regel med `boto3` og se den publisere videre (*republish*);
# - hva en Lambda-funksjon, en IAM-rolle, en DynamoDB-tabell og `add_permission` er, og hvordan de
#   henger sammen;
# - å trykke på knappen og se LED-en på det andre kortet følge, via regel → Lambda → skygge → delta;
# - å lese Lambda-loggen, hente trykkene fra DynamoDB og tegne dem med matplotlib;
# - hva dette koster på AWS.
#
# **Tid**: omtrent 45 minutter.
#
# **Du trenger**: notatbok 05 (skyggen). Ingen kort eller AWS-konto: to virtuelle ESP32-kort og den lokale
# skyen kjører alt, også Lambda-koden. I `aws`-modus er cellene de samme.

# %%
import json
import time

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

import kurs
from kurs.esp32 import VirtualBoard
from kurs.widgets.board_panel import BoardPanel

kurs.environment.check()

# %% [markdown]
# ## Fra melding til handling
#
# ![Knappekortet, to regler, Lambda, DynamoDB og skyggen til lyskortet](bilder/serverless-flyt.svg)
#
# 1. Knappekortet publiserer `{"on": true, "btnCount": 1}` på emnet `state` (som i Oppgave 1).
# 2. Regelen `kurs_knapp_til_lys` ser meldingen og kaller Lambda-funksjonen `kurs-lys-folger-knapp`.
# 3. Funksjonen setter `desired.on` i skyggen til lyskortet.
# 4. Skyen sender deltaen til lyskortet, som tenner LED-en og rapporterer (notatbok 05).
#
# Samtidig lagrer regelen `kurs_lagre_knappetrykk` hvert trykk i DynamoDB-tabellen `kurs-knappetrykk`.
#
# Hvorfor ikke la lyskortet lytte på `state` direkte, som i notatbok 04? Fordi nå kan **skyen bestemme**:
# funksjonen kan sjekke klokka, spørre en database eller styre mange lys. Og lyskortet trenger ikke være
# på nett når du trykker – skyggen husker ønsket.

# %% [markdown]
# ## Regler og AWS IoT SQL
#
# En **regel** (*topic rule*) er en SQL-lignende setning og en liste med **handlinger**. Hver melding som
# kommer inn til megleren, sjekkes mot alle reglene:
#
# ```sql
# SELECT btnCount AS trykk, topic(2) AS kort, timestamp() AS tid
# FROM 'devices/+/events'
# WHERE btnCount > 0
# ```
#
# | Del | Hva den gjør |
# |---|---|
# | `FROM 'devices/+/events'` | hvilke emner regelen lytter på – et emnefilter med `+` og `#`, i enkle anførselstegn |
# | `SELECT …` | hva som sendes videre: `*` er hele meldingen; `felt AS navn` gir et nytt navn |
# | `WHERE …` | et vilkår; handlingene kjører bare når det er sant (`=`, `<>`, `>`, `AND`, `OR`, `NOT`) |
# | `topic()`, `topic(2)` | hele emnet, eller nivå nummer 2 (fra 1): i `devices/esp32_A1B2C3/events` er `topic(2)` kortets navn |
# | `timestamp()` | når regelen så meldingen, i millisekunder siden 1970 |
# | `clientid()` | MQTT-klient-ID-en til avsenderen – hos oss dingsens navn |
#
# **Handlinger** sender resultatet videre: `republish` (publiser på et annet emne), `lambda` (kjør en
# funksjon), `dynamoDBv2` (skriv en rad i en tabell) og mange flere. `errorAction` sier hvor feil skal.
# I en `republish`-handling kan emnet ha **maler** som `${topic(2)}`, som fylles ut for hver melding.

# %% [markdown]
# ## Før du bruker AWS: flere rettigheter
#
# I den lokale skyen får du gjøre alt. Bruker du AWS, trenger IAM-brukeren din fra notatbok 01 noen
# rettigheter til for denne notatboka: lage IAM-roller (forklart rett under) som begynner med `kurs-`, gi
# dem videre til Lambda og IoT (`iam:PassRole`), og endre konfigurasjonen og tilgangene til funksjonen.
# Policyen fra notatbok 01 dekker resten, også å lese Lambda-loggen og å rydde bort roller, funksjoner,
# tabeller og logg-grupper. Legg til denne policyen på brukeren i IAM-konsollen
# (**IAM → Users → kurs-deltaker → Add permissions → Create inline policy → JSON**):

# %%
print(kurs.iam_policy.text(kurs.iam_policy.serverless_policy()))

# %% [markdown]
# `iam:PassRole` er nøkkelen: uten den kan ingen gi Lambda eller IoT en rolle, og med betingelsen
# `iam:PassedToService` kan rollene bare gis til de to tjenestene.

# %% [markdown]
# ## Din første regel: republish
#
# En regel som publiserer, må ha lov til det. AWS IoT får ikke gjøre noe i kontoen din uten videre: den må
# påta seg en **IAM-rolle** (*role*). Rollen har to deler:
# - en **tillitspolicy** (*trust policy*): *hvem* som kan påta seg rollen – her tjenesten `iot.amazonaws.com`;
# - en **tilgangspolicy**: *hva* rollen får lov til – her bare `iot:Publish` på emner under `kurs/ekko/`.
#
# Cellen tåler å bli kjørt flere ganger: finnes rollen, bruker vi den.

# %%
iam = kurs.aws_mode.client("iam")
iot = kurs.aws_mode.client("iot")
iot_data = kurs.aws_mode.client("iot-data")

tillit = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
try:
    rolle_arn = iam.get_role(RoleName="kurs-ekko-rolle")["Role"]["Arn"]
except iam.exceptions.NoSuchEntityException:
    rolle_arn = iam.create_role(RoleName="kurs-ekko-rolle", AssumeRolePolicyDocument=json.dumps(tillit),
                                Description="Kurs: regelen kurs_ekko publiserer på kurs/ekko/")["Role"]["Arn"]

region, konto = iot.meta.region_name, rolle_arn.split(":")[4]
tilgang = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"arn:aws:iot:{region}:{konto}:topic/kurs/ekko/*"}]}
iam.put_role_policy(RoleName="kurs-ekko-rolle", PolicyName="publiser-ekko", PolicyDocument=json.dumps(tilgang))
print("Rollen er klar:", rolle_arn)

# %% [markdown]
# Så selve regelen. Navnet må begynne med `kurs_` (regelnavn tillater bare bokstaver, sifre og `_`), så
# opprydningen i notatbok 07 kjenner den igjen. Finnes regelen fra før, erstatter vi den
# (`replace_topic_rule`). En helt ny rolle kan bruke noen sekunder før AWS IoT får påta seg den
# (IAM er *eventually consistent*), så vi prøver igjen en liten stund om AWS sier nei.

# %%
regel = {
    "sql": "SELECT btnCount AS trykk, topic(2) AS kort, timestamp() AS tid "
           "FROM 'devices/+/events' WHERE btnCount > 0",
    "awsIotSqlVersion": "2016-03-23",
    "actions": [{"republish": {"topic": "kurs/ekko/${topic(2)}", "roleArn": rolle_arn, "qos": 0}}],
    "ruleDisabled": False,
}
finnes = {r["ruleName"] for r in iot.list_topic_rules()["rules"]}
for forsok in range(30):
    try:
        if "kurs_ekko" in finnes:
            iot.replace_topic_rule(ruleName="kurs_ekko", topicRulePayload=regel)
        else:
            iot.create_topic_rule(ruleName="kurs_ekko", topicRulePayload=regel)
        break
    except iot.exceptions.InvalidRequestException as feil:
        if "role" not in str(feil).lower() or forsok == 29:
            raise  # en annen feil, eller rollen ble aldri klar
        time.sleep(2)  # rollen er ikke klar ennå
print("Regelen kurs_ekko:", iot.get_topic_rule(ruleName="kurs_ekko")["rule"]["sql"])

# %% [markdown]
# Nå later vi som vi er et kort som heter `notatbok`, og publiserer to knappetrykk på
# `devices/notatbok/events` med `iot-data publish` – først ett med `btnCount` 0, så ett med 2. Vi lytter
# på `kurs/ekko/#` for å se hva regelen sender videre.

# %%
with kurs.mqtt.Monitor("kurs/ekko/#") as monitor:
    for teller in (0, 2):
        melding = {"on": True, "btnCount": teller, "uptime": 12.5}
        iot_data.publish(topic="devices/notatbok/events", qos=1, payload=json.dumps(melding))
    ekko = monitor.wait(timeout=10)

print("Emne:   ", ekko.topic)
print("Innhold:", json.dumps(ekko.json(), sort_keys=True))

# %% [markdown]
# Bare trykket med `btnCount` 2 kom fram: `WHERE btnCount > 0` stoppet det første. `SELECT` plukket ut
# og ga nye navn til feltene, `topic(2)` ble `notatbok` både i meldingen og i emnet, og `timestamp()` ble
# tidspunktet regelen så meldingen.
#
# **Prøv selv:** endre `WHERE btnCount > 0` til `WHERE btnCount > 5` og kjør de to cellene over igjen.
# Da kommer ingenting fram, og `wait` sier fra etter ti sekunder.
#
# En regel som ikke kan tolkes, blir avvist med en gang:

# %%
try:
    iot.create_topic_rule(ruleName="kurs_feil_sql", topicRulePayload={
        "sql": "SELECT * FROM devices/+/events", "actions": []})  # emnet mangler '…'
except iot.exceptions.SqlParseException as feil:
    print("Avvist:", feil.response["Error"]["Code"])

# %% [markdown]
# ## To kort: knappen og lyset
#
# Nå tar vi fram to virtuelle kort:
# - **knappekortet** kjører `knapp`-appen fra Oppgave 1: hvert trykk sender `{"on", "btnCount"}` på `state`;
# - **lyskortet** kjører startappen fra notatbok 05: LED-en følger **bare skyggen** (deltaen). Det lytter
#   ikke på `state`, så lyset kan bare tennes via skyen.
#
# Begge får sertifikat og policy med `provision`, som i notatbok 03. Vi sletter en gammel skygge for
# lyskortet, så det starter med LED-en av. Trykk gjerne på knappen i panelet – men først i neste del
# skjer det noe på lyskortet.

# %%
if "knapp" in globals():  # kjører du cellen på nytt, slår vi først av de forrige kortene
    panel_knapp.close()
    panel_lys.close()
    knapp.close()
    lys.close()

knapp = VirtualBoard("knapp", seed="notatbok-06-knapp")
lys = VirtualBoard("start", seed="notatbok-06-lys")
for kort in (knapp, lys):
    kurs.provisioning.provision(kort.thing_name, verbose=False).apply_to(kort)
try:
    iot_data.delete_thing_shadow(thingName=lys.thing_name)
except iot_data.exceptions.ResourceNotFoundException:
    pass  # ingen skygge fra før

fra_ms = int(time.time() * 1000)  # trykk, logg og rader fra nå av hører til denne kjøringen
knapp.start()
lys.start()
knapp.wait_for(lambda: knapp.connected, timeout=15)
lys.wait_for(lambda: lys.cloud_connected, timeout=15)
print("Knappekortet:", knapp.thing_name, "– tilkoblet:", knapp.connected)
print("Lyskortet:   ", lys.thing_name, "– tilkoblet:", lys.cloud_connected, "– LED-en lyser:", lys.led())
panel_knapp = BoardPanel(knapp, role="knapp")
panel_lys = BoardPanel(lys, colour="gul", role="lys")
display(panel_knapp, panel_lys)

# %% [markdown]
# ## Kursets serverless-oppsett
#
# `kurs.serverless.deploy_button_to_light(knappekort, lyskort)` setter opp alt på én gang, med de samme
# `boto3`-kallene i den lokale skyen og i AWS. Det lager:
#
# 1. **Lambda-funksjonen** `kurs-lys-folger-knapp`: koden i `serverless/lys_folger_knapp/handler.py`,
#    pakket som en zip-fil og lastet opp med `lambda.create_function`.
# 2. **IAM-rollen** `kurs-lambda-rolle`, som funksjonen kjører som. Den får bare lese og oppdatere
#    skyggen til lyskortet, og skrive sin egen logg.
# 3. **DynamoDB-tabellen** `kurs-knappetrykk` med nøklene `thing` (kortets navn) og `ts` (tidspunktet).
# 4. **To regler** på `state`, begge med `WHERE clientid() = '<knappekortet>'`: én kaller funksjonen, én
#    skriver en rad i tabellen. Rollen `kurs-iot-regel-rolle` lar reglene skrive i tabellen og publisere
#    feil på `kurs/feil`.
# 5. **`add_permission`** på funksjonen: en Lambda-funksjon kan ikke kalles av hvem som helst. Tillatelsen
#    sier at `iot.amazonaws.com` kan kalle den, men bare fra regelen vår i kontoen vår.
#
# Først koden som skal kjøre i skyen. Den er vanlig Python, og `lambda_handler(event, context)` får
# meldingen fra regelen som `event`:

# %%
print((kurs.serverless.FUNCTION_SOURCE / "handler.py").read_text(encoding="utf-8"))

# %% [markdown]
# Legg merke til at funksjonen ikke vet noe om MQTT eller kort. Den får en ordbok (`event`) og kaller
# `update_thing_shadow`, akkurat som vi gjorde fra notatboka i 05. Navnet på lyskortet får den fra
# miljøvariabelen `LYS_THING`, som settes når funksjonen rulles ut.
#
# Så ruller vi ut. Cellen kan kjøres flere ganger: da oppdateres alt der det står.

# %%
oppsett = kurs.serverless.deploy_button_to_light(knapp.thing_name, lys.thing_name)
oppsett

# %% [markdown]
# ### Hva ble laget?
#
# Alt kan leses tilbake med `boto3`. Først rollen funksjonen kjører som: hvem som får påta seg den, og
# hva den får lov til.

# %%
def som_ordbok(dokument):
    """IAM-dokumenter kommer som tekst eller som ordbok, avhengig av kallet."""
    return json.loads(dokument) if isinstance(dokument, str) else dokument


rolle = iam.get_role(RoleName="kurs-lambda-rolle")["Role"]
print("Rollen kurs-lambda-rolle kan påtas av:",
      [s["Principal"]["Service"] for s in som_ordbok(rolle["AssumeRolePolicyDocument"])["Statement"]])
policy = som_ordbok(iam.get_role_policy(RoleName="kurs-lambda-rolle",
                                        PolicyName=oppsett.function_name)["PolicyDocument"])
for uttalelse in policy["Statement"]:
    print(f"  {uttalelse['Sid']}: {uttalelse['Action']}")
    print(f"      på {uttalelse['Resource']}")

# %% [markdown]
# Funksjonen får altså *bare* endre skyggen til lyskortet – ikke andre dingser, og ikke noe annet i IoT.
# Skulle koden ha en feil (eller bli lurt), er skaden begrenset. Så reglene, tabellen og tillatelsen:

# %%
for navn in (oppsett.lambda_rule, oppsett.store_rule):
    r = iot.get_topic_rule(ruleName=navn)["rule"]
    print(f"Regel {navn}:")
    print("   SQL:       ", r["sql"])
    print("   handlinger:", ", ".join(next(iter(a)) for a in r["actions"]),
          "– ved feil:", next(iter(r["errorAction"])))

dynamodb = kurs.aws_mode.client("dynamodb")
tabell = dynamodb.describe_table(TableName=oppsett.table)["Table"]
print(f"\nTabellen {tabell['TableName']}: nøkler",
      ", ".join(f"{k['AttributeName']} ({k['KeyType']})" for k in tabell["KeySchema"]))

lam = kurs.aws_mode.client("lambda")
for uttalelse in json.loads(lam.get_policy(FunctionName=oppsett.function_name)["Policy"])["Statement"]:
    print(f"\nTillatelse på {oppsett.function_name}: {uttalelse['Principal']['Service']} får {uttalelse['Action']}")
    print("   bare fra regelen:", uttalelse["Condition"]["ArnLike"]["AWS:SourceArn"])

# %% [markdown]
# `HASH` er **partisjonsnøkkelen** (hvilket kort), `RANGE` er **sorteringsnøkkelen** (når). Sammen gjør de
# hver rad unik, og radene til ett kort kommer ut i tidsrekkefølge.

# %% [markdown]
# ## Trykk på knappen
#
# Nå gjelder det. Trykk på knappen i panelet til knappekortet over og se LED-en på lyskortet – eller kjør
# cellen under, som trykker for deg og følger trykket hele veien:

# %%
with kurs.mqtt.Monitor(f"$aws/things/{lys.thing_name}/shadow/update/delta") as monitor:
    knapp.click()
    sendt = knapp.wait_for("Sendte til state")
    delta = monitor.wait(timeout=20)
trykk = json.loads(sendt.text.split(": ", 1)[1])
lys.wait_for(lambda: lys.led() == trykk["on"], timeout=20)

print("1. Knappekortet:          ", sendt.text.strip())
print("2. Regelen kalte Lambda, som satte desired.on i skyggen til lyskortet")
print("3. Deltaen til lyskortet: ", json.dumps(delta.json()["state"]))
print("4. LED-en på lyskortet:   ", "PÅ" if lys.led() else "AV")

# %% [markdown]
# Trykket gikk fra knappekortet til megleren, gjennom regelen, inn i Lambda-funksjonen, ned i skyggen og
# ut til lyskortet som en delta. Lyskortet vet ikke at knappekortet finnes.
#
# Vi trykker noen ganger til, med ulike pauser, så vi har noe å tegne. Etter hvert trykk venter vi til
# lyset har fulgt: reglene kaller Lambda **asynkront**, og trykker du fortere enn funksjonen blir ferdig,
# kan to kall gå samtidig og bli ferdige i en annen rekkefølge enn du trykket.

# %%
for pause in (0.3, 1.0, 0.5, 1.5, 0.4, 0.8):
    time.sleep(pause)
    knapp.click()
    trykk = json.loads(knapp.wait_for("Sendte til state").text.split(": ", 1)[1])
    lys.wait_for(lambda: lys.led() == trykk["on"], timeout=20)

print("Trykk i alt:", trykk["btnCount"], "– LED-en på lyskortet er", "PÅ" if lys.led() else "AV")

# %% [markdown]
# ## Lambda-loggen
#
# Alt en Lambda-funksjon skriver med `print`, havner i **CloudWatch Logs**, i loggruppa
# `/aws/lambda/<funksjonsnavn>`. Hver kjøring starter med en `START`-linje og slutter med `END` og
# `REPORT` (hvor lenge den kjørte, og hvor mye du betaler for). Her er linjene funksjonen selv skrev.
# I AWS kan det ta noen sekunder før loggen dukker opp, så vi venter litt om nødvendig.

# %%
logs = kurs.aws_mode.client("logs")
gruppe = f"/aws/lambda/{oppsett.function_name}"
for _ in range(60):
    try:
        hendelser = logs.filter_log_events(logGroupName=gruppe, startTime=fra_ms)["events"]
    except logs.exceptions.ResourceNotFoundException:
        hendelser = []  # loggruppa er ikke laget ennå
    egne = [h["message"].strip() for h in hendelser if not h["message"].startswith(("START", "END", "REPORT"))]
    rapporter = [h for h in hendelser if h["message"].startswith("REPORT")]
    if len(egne) >= trykk["btnCount"] and len(rapporter) >= trykk["btnCount"]:
        break
    time.sleep(1)

print(f"Loggruppa {gruppe}:")
for linje in egne:
    print("  ", linje)
print("Kjøringer med REPORT-linje:", len(rapporter))

# %% [markdown]
# ## Knappetrykkene i DynamoDB
#
# Regelen `kurs_lagre_knappetrykk` la hele meldingen i tabellen, pluss `thing` (fra `clientid()`) og `ts`
# (fra `timestamp()`). Vi spør tabellen med `query`: alle rader for knappekortet med `ts` fra starten av
# denne kjøringen. DynamoDB merker hver verdi med typen sin: `S` tekst, `N` tall, `BOOL` sann/usann.

# %%
for _ in range(60):
    svar = dynamodb.query(
        TableName=oppsett.table,
        KeyConditionExpression="thing = :kort AND ts >= :fra",
        ExpressionAttributeValues={":kort": {"S": knapp.thing_name}, ":fra": {"N": str(fra_ms)}},
    )
    if svar["Count"] >= trykk["btnCount"]:
        break
    time.sleep(0.5)

print("Rader for knappekortet i denne kjøringen:", svar["Count"])
print("Den første, slik DynamoDB lagrer den:")
print(json.dumps(svar["Items"][0], indent=2, sort_keys=True))

# %% [markdown]
# `kurs.serverless.presses()` gjør det samme og gjør om til vanlige Python-verdier, med tidspunktet som
# `time`:

# %%
rader = [r for r in kurs.serverless.presses(thing=knapp.thing_name) if r["ts"] >= fra_ms]
print("Klokka     btnCount  on")
for r in rader:
    print(f"{r['time']:%H:%M:%S}  {r['btnCount']:>8}  {'PÅ' if r['on'] else 'AV'}")

# %% [markdown]
# ### Trykkene over tid
#
# Med tidspunktene kan vi tegne: øverst hvor mange trykk som har kommet, nederst om LED-en skulle være
# på eller av.

# %%
tider = [r["time"] for r in rader]
figur, (oppe, nede) = plt.subplots(2, 1, figsize=(9, 4.5), sharex=True)
oppe.step(tider, [r["btnCount"] for r in rader], where="post", marker="o")
oppe.set_ylabel("Antall trykk")
oppe.grid(alpha=0.3)
nede.step(tider, [1 if r["on"] else 0 for r in rader], where="post", color="#f9a825", marker="o")
nede.set_yticks([0, 1], ["AV", "PÅ"])
nede.set_ylim(-0.3, 1.3)
nede.set_ylabel("LED")
nede.set_xlabel("Klokkeslett")
nede.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=tider[0].tzinfo))  # din lokale tid
figur.suptitle(f"Knappetrykk fra {knapp.thing_name}, lagret i {oppsett.table}")
figur.autofmt_xdate()
plt.show()

# %% [markdown]
# **Prøv selv:** trykk noen ganger på knappen i panelet, og kjør de tre cellene over igjen.

# %% [markdown]
# ## Hva koster dette på AWS?
#
# Betalingsmodellen for *serverless* er at du betaler for det som faktisk skjer, ikke for servere som står
# og venter:
#
# - **IoT Core**: tilkoblingsminutter for hvert kort, hver melding, hver skyggeoperasjon og hver regel som
#   slår til (med hver handling den kjører). Lyskortet rapporterer hvert sekund – det er det som koster
#   mest her.
# - **Lambda**: per kall og per millisekund kjøretid (ganget med minnet, 128 MB). Gratisnivået dekker
#   svært mange kall i måneden.
# - **DynamoDB** (*on-demand*): per skriving og lesing, og for lagringen over tid.
# - **CloudWatch Logs**: for loggene funksjonen skriver, og for å lagre dem. Loggruppa slettes ikke av seg
#   selv, heller ikke når funksjonen slettes; oppryddingen i notatbok 07 tar den med.
#
# For et kurs er det små beløp, men de løper så lenge noe står igjen: kort som er koblet til, regler som
# slår til, og data som lagres. Og et aktivt sertifikat med en policy er en vei inn i kontoen din. Derfor
# rydder notatbok 07 bort alt kurset laget. Se prisene på
# [aws.amazon.com/iot-core/pricing](https://aws.amazon.com/iot-core/pricing/) og
# [aws.amazon.com/lambda/pricing](https://aws.amazon.com/lambda/pricing/).
#
# Vi slår av de to kortene, så lyskortet ikke rapporterer videre i bakgrunnen. Reglene, funksjonen og
# tabellen lar vi stå til notatbok 07.

# %%
panel_knapp.close()
panel_lys.close()
knapp.close()
lys.close()
print("Kortene er slått av. Regler, Lambda-funksjon, roller og tabell finnes fortsatt.")

# %% [markdown]
# ## Oppsummering
#
# - En **regel** er `SELECT … FROM '<emnefilter>' WHERE …` pluss handlinger; `topic(n)`, `timestamp()` og
#   `clientid()` henter data fra selve meldingen. Du laget en med `boto3` og så den publisere videre.
# - En **Lambda-funksjon** er kode uten server. Den kjører som en **IAM-rolle** med smale rettigheter, og
#   `add_permission` bestemmer hvem som får kalle den.
# - Knappetrykket gikk **regel → Lambda → skygge → delta → LED**, og en annen regel lagret hvert trykk i
#   **DynamoDB**, der partisjons- og sorteringsnøkkelen gjorde det lett å hente ett korts trykk i tidsrekkefølge.
# - Du leste **Lambda-loggen** i CloudWatch Logs og tegnet trykkene med **matplotlib**.
# - På AWS koster alt dette litt hele tiden mens det står der – derfor rydder vi.
#
# **Neste:** [07 · Rydd opp](07-rydd-opp.ipynb) – fjern alt kurset laget, så du ikke betaler for noe du ikke
# bruker.
