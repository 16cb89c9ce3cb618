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
# # 07 · Rydd opp
#
# **Du lærer i denne notatboka**
# - hvorfor du må rydde etter deg i AWS – både for lommebokas og for sikkerhetens skyld;
# - å se nøyaktig hva kurset har laget, med en prøvekjøring som ikke endrer noe;
# - å fjerne alt kurset har laget, og *bare* det, og å sjekke at det er borte;
# - å gjøre det samme fra en terminal og i en ekte AWS-konto.
#
# **Tid**: omtrent 15 minutter.
#
# **Du trenger**: notatbok 00. Har du kjørt notatbok 03–06, er det mye å rydde; har du ikke det, lager vi en
# liten dings å rydde bort, så du ser hvordan det virker.
#
# Slå gjerne av kjernene i de andre notatbøkene først (*Kernel › Shut Down Kernel*): et virtuelt kort som
# fortsatt kjører, kan lage skyggen sin på nytt rett etter at du har ryddet.

# %%
import kurs

kurs.environment.check()

# %% [markdown]
# ## Hvorfor rydde?
#
# I den lokale skyen koster ingenting noe, og alt forsvinner når den stoppes. I en ekte AWS-konto blir det
# du har laget, liggende til du fjerner det:
#
# - **Penger.** Gratisnivået (*free tier*) varer i tolv måneder. Etter det betaler du for tilkoblingsminutter,
#   meldinger, skyggeoperasjoner, regelhandlinger, Lambda-kall og lagring i DynamoDB. For én dings er det
#   lite, men en dings som sender hvert sekund i et år, eller en regel som kaller en funksjon i en løkke, blir
#   fort dyrt – og regningen kommer uten forvarsel.
# - **Sikkerhet.** Et sertifikat som er `ACTIVE` og har en policy, er en nøkkel til kontoen din. Den som har
#   sertifikatet og den private nøkkelen – fra et kort du har mistet, en gammel bærbar eller et skjermbilde
#   – kan koble til og sende meldinger som dingsen din. Med `mos-default` (`iot:*` på `*`) fra det
#   opprinnelige kurset kan de gjøre hva som helst i AWS IoT. IAM-roller som ligger igjen, har også rettigheter.
# - **Orden.** Neste prosjekt starter med en konto der du vet hva som finnes.
#
# ## Hva er kursets?
#
# Oppryddingen fjerner bare det kurset har laget, og kjenner det igjen på navnet eller på et merke:
#
# | Hva | Kjennetegn | Fra notatbok |
# |---|---|---|
# | ting (*things*) | merket `created_by=kurs` | 03–06 |
# | sertifikater | har en `kurs-`-policy, eller ligger i kursets nøkkelmappe | 03–06 |
# | IoT-policyer | `kurs-<ting>` | 03–06 |
# | skygger | hører til kursets ting | 03–06 |
# | regler (*topic rules*) | `kurs_…` | 06 |
# | Lambda-funksjoner, DynamoDB-tabeller, IAM-roller | `kurs-…` | 06 |
# | nøkler og sertifikater på denne maskinen | `.kurs/credentials/…` | 03–06 |
#
# Rekkefølgen betyr noe: AWS nekter å slette et sertifikat som fortsatt er aktivt eller knyttet til noe, og en
# policy som fortsatt er knyttet til et sertifikat. Derfor fjernes det som bruker noe, før det som blir brukt:
#
# ![Rekkefølgen oppryddingen følger](bilder/rydd-rekkefolge.svg)

# %% [markdown]
# ## En liten demo
#
# For at prøvekjøringen skal ha noe å vise uansett hvilke notatbøker du har kjørt, lager vi én dings til,
# `rydde-demo`, på samme måte som i notatbok 03: ting, sertifikat, policy – og en skygge.
#
# Vi lager også en ting og en policy **uten** kursets kjennetegn, slik som noe du eller en kollega har laget
# selv i samme konto. Dem skal oppryddingen la være. Cellene tåler å bli kjørt flere ganger.

# %%
import json

demo = kurs.provisioning.provision("rydde-demo", verbose=False)

iot_data = kurs.aws_mode.client("iot-data")
iot_data.update_thing_shadow(thingName="rydde-demo",
                             payload=json.dumps({"state": {"reported": {"on": False, "btnCount": 0}}}))
print(f"Lagde «{demo.thing_name}» med sertifikat, policyen «{demo.policy_name}» og en skygge.")

# %%
iot = kurs.aws_mode.client("iot")

try:
    iot.describe_thing(thingName="naboens-dings")
except iot.exceptions.ResourceNotFoundException:
    iot.create_thing(thingName="naboens-dings")
try:
    iot.get_policy(policyName="naboens-policy")
except iot.exceptions.ResourceNotFoundException:
    iot.create_policy(policyName="naboens-policy", policyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
print("Naboen har tingen «naboens-dings» og policyen «naboens-policy».")

# %% [markdown]
# ## Prøvekjøring: hva ville blitt fjernet?
#
# `kurs.cleanup.clean(dry_run=True)` leter gjennom skyen og denne maskinen og lister alt kurset har laget,
# uten å endre noe. Lista avhenger av hvilke notatbøker du har kjørt:

# %% tags=["nbval-ignore-output"]
provekjoring = kurs.cleanup.clean(dry_run=True)

# %% [markdown]
# Demo-dingsen er med, med alt som hører til den. Naboens ting og policy er ikke med:

# %%
plan = provekjoring.plan


def med(kind, finn):
    return "ja" if any(finn(item) for item in plan.of(kind)) else "nei"


print("rydde-demo:")
print("  ting:       ", med("thing", lambda i: i.name == "rydde-demo"))
print("  sertifikat: ", med("certificate", lambda i: i.key == demo.certificate_arn))
print("  policy:     ", med("policy", lambda i: i.name == "kurs-rydde-demo"))
print("  skygge:     ", med("shadow", lambda i: i.name == "rydde-demo"))
print("  nøkkelmappe:", med("files", lambda i: i.key == demo.cert_file.parent))
print("naboens-dings:", med("thing", lambda i: i.name == "naboens-dings"))
print("naboens-policy:", med("policy", lambda i: i.name == "naboens-policy"))

# %% [markdown]
# ## Rydd
#
# Nå på ordentlig. For hvert sertifikat: koble fra policyer og ting, sett det til `INACTIVE`, og slett det.
# For hver policy: koble den fra det den er knyttet til, slett gamle versjoner, og slett den. Og så videre,
# i rekkefølgen på figuren over. Til slutt slettes nøklene på denne maskinen. Sammendraget sier hva som ble
# fjernet (og hva som eventuelt ikke lot seg fjerne):

# %% tags=["nbval-ignore-output"]
resultat = kurs.cleanup.clean()

# %%
print("Noe som ikke lot seg fjerne:", "; ".join(resultat.errors) or "nei")
fjernet = {(item.kind, item.name) for item in resultat.removed}
print("rydde-demo er fjernet:", "ja" if ("thing", "rydde-demo") in fjernet else "nei")
print("Naboens ting står igjen:", "ja" if ("thing", "naboens-dings") not in fjernet else "nei")

# %% [markdown]
# ## En gang til: ingenting å gjøre
#
# Oppryddingen tåler å bli kjørt flere ganger. Det som allerede er borte, hoppes over – det gjelder også om
# den ble avbrutt halvveis forrige gang. Andre gang er det ingenting igjen:

# %%
andre_gang = kurs.cleanup.clean()
print("Fjernet denne gangen:", andre_gang.counts() or "ingenting")

# %% [markdown]
# ## Fra en terminal
#
# Det samme finnes som kommando. `kurs rydd --dry-run` er prøvekjøringen, `kurs rydd` rydder. Etter
# oppryddingen over er det ingenting igjen:

# %%
!kurs rydd --dry-run

# %% [markdown]
# ## Sjekk selv
#
# Stol ikke blindt på et verktøy som sier at alt er borte – se etter. Her med `boto3`, de samme kallene
# som `aws iot list-things`, `aws iot list-certificates` og `aws iot list-policies`:

# %%
from kurs import naming

ting = iot.list_things()["things"]
sertifikater = {c["certificateArn"] for c in iot.list_certificates()["certificates"]}
policyer = [p["policyName"] for p in iot.list_policies()["policies"]]
kursets_sertifikater = {item.key for item in plan.of("certificate")}

print("Kursets ting igjen:        ", [t["thingName"] for t in ting if naming.is_course_thing(t.get("attributes"))])
print("Kursets sertifikater igjen:", len(sertifikater & kursets_sertifikater))
print("Kursets policyer igjen:    ", [p for p in policyer if naming.is_course_policy(p)])
print("Nøkkelmappa til rydde-demo:", "finnes" if demo.cert_file.parent.exists() else "slettet")
print()
print("Naboens ting finnes:       ", any(t["thingName"] == "naboens-dings" for t in ting))
print("Naboens policy finnes:     ", "naboens-policy" in policyer)

# %% [markdown]
# Naboens ting og policy står urørt, som de skal. Vi fjernet dem selv, så demoen ikke blir liggende:

# %%
iot.delete_policy(policyName="naboens-policy")
iot.delete_thing(thingName="naboens-dings")
print("Fjernet naboens ting og policy.")

# %% [markdown]
# ## I en ekte AWS-konto
#
# I `aws`-modus (se notatbok 03) rydder de samme kallene i kontoen og regionen du har bekreftet:
#
# - **I en notatbok**: bekreft kontoen med `kurs.aws_mode.confirm("123456789012")`, start kjernen på nytt,
#   og kjør `kurs.cleanup.clean(dry_run=True)` og så `kurs.cleanup.clean()`. Øverst står hvilken konto
#   og region det gjelder.
# - **I en terminal**: bekreft kontoen for akkurat den kjøringen med `--bekreft-konto`:
#   ```bash
#   KURS_MODUS=aws kurs rydd --dry-run --bekreft-konto 123456789012
#   KURS_MODUS=aws kurs rydd --bekreft-konto 123456789012
#   ```
#
# Uten bekreftelsen rydder ikke `kurs rydd` noe. Her later vi igjen som om den lokale skyen er AWS (bare
# inne i `with`-blokka, med tilgangsnøkler for IAM-brukeren `kurs-deltaker` laget i den lokale skyen),
# uten `--bekreft-konto`:

# %%
import os
from unittest import mock

som_aws = {"KURS_MODUS": "aws", "KURS_AWS_KONTO": "", **kurs.sky.user_keys("kurs-deltaker")}
with mock.patch.dict(os.environ, som_aws):
    !kurs rydd --dry-run

# %% [markdown]
# Og med bekreftelsen:

# %%
with mock.patch.dict(os.environ, som_aws):
    !kurs rydd --dry-run --bekreft-konto 123456789012

# %% [markdown]
# Noen ting å passe på i AWS:
#
# - **Én region om gangen.** Oppryddingen ser bare i regionen du har bekreftet. Har du prøvd en annen region
#   enn `eu-west-1`, rydd der også (`KURS_AWS_REGION=…`).
# - **Logger fra Lambda.** Lambda skriver til CloudWatch Logs, i loggrupper som `/aws/lambda/kurs-…`. De
#   koster lite, men blir liggende. Slett dem med
#   `aws logs delete-log-group --log-group-name /aws/lambda/kurs-lys-folger-knapp`.
# - **IAM-brukeren fra notatbok 01** (`kurs-deltaker`) og tilgangsnøklene dens laget du selv i AWS-konsollen.
#   Trenger du dem ikke lenger, slett tilgangsnøklene (*IAM › Users › Security credentials*) eller hele
#   brukeren. Nøkler som ikke finnes, kan ikke lekke.
# - **Se over regningen.** *Billing and Cost Management* i AWS-konsollen viser hva du betaler for, og med
#   *AWS Budgets* kan du få en e-post før beløpet blir stort.
# - **Kortene dine** har fortsatt sertifikatet i filsystemet, men det er slettet i AWS og virker ikke lenger.
#   Skal et kort brukes igjen, provisjonerer du det på nytt (notatbok 03).

# %% [markdown]
# ## Kurset er ferdig
#
# Du har gått hele veien fra en knapp på ett kort til et lys på et annet, gjennom skyen:
#
# - **00–01**: hva IoT i skyen er – MQTT, emner, megleren, skyggen og regler – og verktøyene: AWS CLI, `boto3`
#   og en IAM-bruker med smale rettigheter.
# - **02**: hvordan datamaskinen snakker med kortet gjennom USB-UART-broen, drivere og porter.
# - **03**: Mongoose OS og `mos`, startappen i mJS, flashing, Wi-Fi, og hva `mos aws-iot-setup` gjør: nøkkel,
#   sertifikat og en policy med minste nødvendige rettigheter.
# - **04**: meldinger mellom to dingser – publisere og abonnere på `state`, styre en LED fra skyen, og trykke
#   på én knapp for å tenne lyset på et annet kort.
# - **05**: skyggen – `desired`, `reported` og `delta` – som holder dingsen og skyen i takt, også når
#   dingsen er frakoblet.
# - **06**: serverless – regler som plukker ut meldinger med SQL, en Lambda-funksjon, en DynamoDB-tabell og
#   IAM-roller med bare de rettighetene de trenger.
# - **07**: å rydde opp etter deg, og bare etter deg.
#
# **Veien videre**
#
# - **Flere dingser**: å provisjonere dingser én og én går for et kurs, ikke for tusen. Se på
#   *fleet provisioning* i AWS IoT, der dingsene får sertifikatet sitt selv første gang de kobler til.
# - **Ny fastvare over nettet**: *AWS IoT Jobs* og OTA-oppdateringer, så du slipper USB-kabelen.
# - **Sikkerhet i drift**: *AWS IoT Device Defender* sjekker blant annet at ingen policy er for vid.
# - **Infrastruktur som kode**: med AWS CDK, CloudFormation eller Terraform beskriver du ting, regler,
#   funksjoner og tabeller i filer – og hele oppsettet kan lages og rives med én kommando.
# - **Andre sensorer**: bytt knappen med en temperatur- eller bevegelsessensor, lagre målingene i
#   DynamoDB, og vis dem i en graf.
# - **Annen fastvare**: det du har lært om MQTT, skyggen og sertifikater, gjelder også med ESP-IDF og AWS
#   IoT Device SDK, eller med MicroPython.
#
# Vil du se det ferdige produktet igjen, kjører `kurs demo` knappekortet og lyskortet i en terminal.
#
# ## Oppsummering
#
# - Rydd når du er ferdig: rester i AWS koster penger etter gratisnivået, og aktive sertifikater med policyer
#   er en vei inn i kontoen.
# - `kurs.cleanup.clean(dry_run=True)` / `kurs rydd --dry-run` viser hva som ville blitt fjernet;
#   `kurs.cleanup.clean()` / `kurs rydd` fjerner det, i riktig rekkefølge, og bare det kurset har laget.
# - Å kjøre den igjen gjør ingenting; sjekk selv med `list_things`, `list_certificates` og `list_policies`.
# - I AWS: `aws`-modus og `--bekreft-konto`, én region om gangen, og se over regningen.
#
# **Slutt:** Det var det siste steget i kurset. Takk for at du var med! Tilbake til start:
# [00 · Velkommen](00-velkommen.ipynb).
