"""Lambda function: the LED board (``lys``) follows the button board (``knapp``).

A topic rule sends every button message from the ``knapp`` board here, e.g.
``{"on": true, "btnCount": 3, "uptime": 12.5}``. The function sets ``desired.on`` in the
``lys`` board's device shadow; AWS IoT then sends the board a delta and its LED follows.
With ``on`` in the message the LED follows it; without, the LED toggles.

Environment (set when the function is deployed, see ``kurs.serverless``):
- ``LYS_THING``: the LED board's thing name.
- ``IOT_DATA_ENDPOINT``: the account's data endpoint (``describe_endpoint(endpointType=
  "iot:Data-ATS")``) on real AWS, where iot-data must be called at that address. Not set in
  the local cloud, which points boto3 at itself.
"""

import json
import os

import boto3

_client = None  # kept between invocations while Lambda keeps the runtime warm


def iot_data():
    """The iot-data client, at the account's own endpoint when one is configured."""
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
    """What the shadow says now: desired.on, else reported.on, else False."""
    try:
        response = iot_data().get_thing_shadow(thingName=thing)
    except iot_data().exceptions.ResourceNotFoundException:
        return False  # no shadow yet: the LED is off
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
    pressed = event.get("on") if isinstance(event, dict) else None
    if isinstance(pressed, bool):
        on, how = pressed, "følger knappen"
    else:
        on, how = not current_on(thing), "veksler"
    document = {"state": {"desired": {"on": on}}}
    iot_data().update_thing_shadow(thingName=thing, payload=json.dumps(document).encode("utf-8"))
    print(f"Satte desired.on = {str(on).lower()} i skyggen til {thing} ({how}).")
    return {"thing": thing, "on": on}
