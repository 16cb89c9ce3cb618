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
# # 01 · Verktøy: AWS CLI, boto3 og en IAM-bruker
#
# **Du lærer i denne notatboka**
# - å bruke `aws`-kommandoen og Python-biblioteket `boto3` mot AWS IoT;
# - hvorfor kurset bruker en IAM-bruker med *smalere* rettigheter enn `AWSIoTFullAccess`;
# - å sette region `eu-west-1` og sjekke oppsettet med `aws iot list-things`.
#
# **Tid**: omtrent 30 minutter (45 med en ekte AWS-konto).
#
# **Du trenger**: notatbok 00. Alt her kjører mot den lokale skyen; varianten for ekte AWS står ved siden av.

# %%
import json

import boto3

import kurs

kurs.environment.check()

# %% [markdown]
# ## AWS CLI og boto3
#
# `aws` er Amazons kommandolinjeverktøy, og `boto3` er det samme for Python. Begge bruker de samme
# API-ene, og begge leser nøkler og region fra de samme stedene (miljøvariabler eller `~/.aws/`).
# I dette kurset er begge allerede installert i kursets Python-miljø.
#
# I lokal modus har `kurs` satt miljøvariabler som peker `aws` og `boto3` mot den lokale skyen
# (`AWS_ENDPOINT_URL`, regionen og nøklene den lokale skyen har laget; de virker bare mot den).
# I en terminal gjør du det samme med:
#
# ```bash
# eval "$(kurs sky env)"
# aws iot list-things
# ```

# %%
# Den nye kontoen er tom: ingen dingser ennå.
!aws iot list-things

# %% [markdown]
# Kommandoen over er akkurat den samme som i det opprinnelige kurset. Her lager vi en dings med
# `boto3` fra Python og ser den med `aws` fra kommandolinja:

# %%
iot = boto3.client("iot")
svar = iot.create_thing(thingName="min-forste-dings")
print("Laget", svar["thingName"], "med ARN", svar["thingArn"])

# %%
!aws iot list-things --query "things[].thingName"

# %%
for ting in iot.list_things()["things"]:
    print(ting["thingName"], "→", ting["thingArn"])

# %% [markdown]
# Vi rydder opp etter oss med én gang, slik at neste notatbok starter med en tom konto:

# %%
iot.delete_thing(thingName="min-forste-dings")
print("Dingser nå:", [t["thingName"] for t in iot.list_things()["things"]])

# %% [markdown]
# ## En IAM-bruker med smale rettigheter
#
# Det opprinnelige kurset lager en IAM-bruker i en gruppe med policyen **`AWSIoTFullAccess`**.
# Den gir lov til *alt* i IoT – også å slette andres dingser, endre sertifikater og skru av logging.
# Lekker nøklene (for eksempel i et skjermbilde eller i git), kan hvem som helst gjøre det samme.
#
# Prinsippet heter **minste privilegium**: gi bare de rettighetene kurset faktisk bruker. Policyen under
# dekker det vi gjør: registrere dingser og sertifikater, lage policyer, bruke skyggen og meldinger,
# lage regler, Lambda-funksjoner og en DynamoDB-tabell, og rydde alt bort igjen – og bare i regionen
# `eu-west-1`. Lista ligger i `kurs.iam_policy`, og en test i kurset sjekker at den dekker hvert eneste
# AWS-kall kurset gjør, verken mer eller mindre.

# %%
kurs_policy = kurs.iam_policy.course_policy()
print(kurs.iam_policy.text(kurs_policy))

# %% [markdown]
# Legg merke til:
# - **Ingen `iot:*`**: bare handlingene kurset bruker.
# - **Regionen er låst** til `eu-west-1` med en betingelse (`aws:RequestedRegion`).
# - **Lambda, DynamoDB og loggene** gjelder bare ressurser som begynner med `kurs-`, så brukeren kan ikke
#   røre andre funksjoner, tabeller eller logg-grupper i kontoen.
# - **Oppryddingen** (`kurs rydd`, notatbok 07) må kunne *se* alle funksjoner, tabeller, logg-grupper og
#   IAM-roller for å finne kursets egne. `List…`- og `Describe…`-kallene kan ikke begrenses til bestemte
#   navn, men de endrer ingenting. Slette får den bare det som heter `kurs-…`.
# - **IAM er global** (ikke knyttet til en region), så rollene begrenses på navnet i stedet for på regionen.
# - Skal Lambda-funksjonen få en rolle, trenger brukeren også `iam:CreateRole` og `iam:PassRole` for
#   akkurat de rollene (det kommer i notatbok 06).
#
# Den lokale skyen håndhever ikke IAM, men vi kan lage brukeren der for å se hvordan det gjøres.
# Cellen tåler å bli kjørt flere ganger: finnes brukeren eller policyen allerede, brukes den.

# %%
iam = boto3.client("iam")
konto = boto3.client("sts").get_caller_identity()["Account"]
arn = f"arn:aws:iam::{konto}:policy/kurs-iot"
try:
    iam.create_user(UserName="kurs-deltaker")
    iam.create_policy(PolicyName="kurs-iot", PolicyDocument=json.dumps(kurs_policy))
except iam.exceptions.EntityAlreadyExistsException:
    pass
iam.attach_user_policy(UserName="kurs-deltaker", PolicyArn=arn)
vedlagt = iam.list_attached_user_policies(UserName="kurs-deltaker")["AttachedPolicies"]
print("Brukeren kurs-deltaker har policyene:", [p["PolicyName"] for p in vedlagt])

# %% [markdown]
# ## Mot ekte AWS
#
# Med en egen AWS-konto gjør du dette én gang:
#
# 1. I AWS-konsollen: **IAM → Users → Create user**, navn `kurs-deltaker`. Lag policyen over under
#    **IAM → Policies → Create policy** (lim inn JSON-en), og knytt den til brukeren.
# 2. Under brukeren: **Security credentials → Create access key** (bruk: *Command Line Interface*).
#    Nøklene vises bare én gang. Lagre dem aldri i en notatbok eller i git.
# 3. I en terminal:
#    ```bash
#    aws configure
#    # AWS Access Key ID:     (fra steg 2)
#    # AWS Secret Access Key: (fra steg 2)
#    # Default region name:   eu-west-1
#    # Default output format: json
#    aws iot list-things
#    ```
#    En ny konto svarer med en tom liste: `{"things": []}`.
# 4. Slå på `aws`-modus i kurset først når du er klar (det kommer i notatbok 03). Kurset viser da
#    kontonummeret og regionen og venter på at du bekrefter dem.

# %% [markdown]
# ## Oppsummering
#
# - `aws` og `boto3` bruker de samme API-ene; her peker begge mot den lokale skyen.
# - `aws iot list-things` virker akkurat som i det opprinnelige kurset.
# - Gi brukere og dingser bare rettighetene de trenger – det er tryggere og billigere når noe går galt.
#
# **Neste:** [02 · USB-UART](02-usb-uart.ipynb) – hvordan datamaskinen snakker med kortet.
