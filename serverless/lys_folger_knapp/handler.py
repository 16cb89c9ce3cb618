"""Lambda-funksjon: lyskortet (``lys``) følger knappekortet (``knapp``).

En regel (topic rule) sender hver knappemelding fra ``knapp``-kortet hit, for eksempel
``{"on": true, "btnCount": 3, "uptime": 12.5}``. Funksjonen setter ``desired.on`` i skyggen til
``lys``-kortet; AWS IoT sender da kortet en delta, og LED-en følger etter.
Står ``on`` i meldingen, følger LED-en den; ellers skifter LED-en (av blir på, på blir av).

Miljøvariabler (settes når funksjonen lastes opp, se ``kurs.serverless``):
- ``LYS_THING``: tingnavnet til lyskortet.
- ``IOT_DATA_ENDPOINT``: kontoens dataadresse (``describe_endpoint(endpointType="iot:Data-ATS")``)
  i ekte AWS, der iot-data må kalles på akkurat den adressen. Ikke satt i den lokale skyen,
  som peker boto3 mot seg selv.
"""

import json
import os

import boto3

_client = None  # beholdes mellom kallene så lenge Lambda holder funksjonen varm


def iot_data():
    """iot-data-klienten, på kontoens egen adresse når den er satt."""
    global _client
    if _client is None:
        endpoint = os.environ.get("IOT_DATA_ENDPOINT")
        if endpoint:
            url = endpoint if endpoint.startswith("https://") else "https://" + endpoint
            _client = boto3.client("iot-data", endpoint_url=url)
        else:
            _client = boto3.client("iot-data")
    return _client


def current_on(thing):
    """Det skyggen sier nå: desired.on, ellers reported.on, ellers False."""
    try:
        response = iot_data().get_thing_shadow(thingName=thing)
    except iot_data().exceptions.ResourceNotFoundException:
        return False  # ingen skygge ennå: LED-en er av
    state = json.loads(response["payload"].read()).get("state", {})
    for section in ("desired", "reported"):
        value = state.get(section, {}).get("on")
        if isinstance(value, bool):
            return value
    return False


def lambda_handler(event, context):
    thing = os.environ.get("LYS_THING")
    if not thing:
        raise RuntimeError("Miljøvariabelen LYS_THING mangler: sett den til navnet på LED-kortet.")
    # Sa knappen hva «on» er, følger vi den; ellers snur vi det skyggen sier nå.
    pressed = event.get("on") if isinstance(event, dict) else None
    if isinstance(pressed, bool):
        on, how = pressed, "følger knappen"
    else:
        on, how = not current_on(thing), "veksler"
    document = {"state": {"desired": {"on": on}}}  # desired: det lyskortet skal gjøre
    iot_data().update_thing_shadow(thingName=thing, payload=json.dumps(document).encode("utf-8"))
    print(f"Satte desired.on = {str(on).lower()} i skyggen til {thing} ({how}).")
    return {"thing": thing, "on": on}
