"""The course's Lambda function (serverless/lys_folger_knapp) on its own, against the real local cloud."""

from __future__ import annotations

import importlib.util
import json
import uuid
from types import ModuleType

import pytest

from kurs import mqtt, serverless
from kurs.sky.awslambda.runner import run_lambda

pytestmark = pytest.mark.integration


@pytest.fixture
def handler(sky, monkeypatch) -> ModuleType:  # noqa: ANN001 - fixture
    """The handler module freshly imported from the repository (its client cache empty)."""
    spec = importlib.util.spec_from_file_location(f"lys_folger_knapp_{uuid.uuid4().hex[:6]}",
                                                  serverless.FUNCTION_SOURCE / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.delenv("IOT_DATA_ENDPOINT", raising=False)
    return module


def _lys(monkeypatch) -> str:  # noqa: ANN001
    thing = f"lys-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("LYS_THING", thing)
    return thing


def _desired(iot_data, thing: str) -> dict:  # noqa: ANN001
    return json.loads(iot_data.get_thing_shadow(thingName=thing)["payload"].read())["state"]["desired"]


def test_press_with_on_sets_desired_on_and_the_board_gets_a_delta(handler, monkeypatch, iot_data):
    thing = _lys(monkeypatch)
    with mqtt.Monitor(f"$aws/things/{thing}/shadow/update/delta") as mon:
        answer = handler.lambda_handler({"on": True, "btnCount": 1, "uptime": 3.2}, None)
        delta = mon.wait().json()
    assert answer == {"thing": thing, "on": True}
    assert delta["state"] == {"on": True}
    assert _desired(iot_data, thing) == {"on": True}
    handler.lambda_handler({"on": False, "btnCount": 2}, None)
    assert _desired(iot_data, thing) == {"on": False}


def test_press_without_on_toggles_from_the_shadow(handler, monkeypatch, iot_data):
    thing = _lys(monkeypatch)
    assert handler.lambda_handler({"btnCount": 1}, None)["on"] is True  # no shadow yet: off → on
    assert handler.lambda_handler({}, None)["on"] is False
    # The board reported on=true itself; with nothing desired any more, the reported state counts.
    iot_data.update_thing_shadow(thingName=thing, payload=json.dumps(
        {"state": {"desired": None, "reported": {"on": True}}}))
    assert handler.lambda_handler("ikke et objekt", None)["on"] is False
    assert _desired(iot_data, thing) == {"on": False}


def test_missing_lys_thing_is_a_clear_error(handler, monkeypatch):
    monkeypatch.delenv("LYS_THING", raising=False)
    with pytest.raises(RuntimeError, match="LYS_THING"):
        handler.lambda_handler({"on": True}, None)


def test_iot_data_endpoint_is_used_when_configured(handler, monkeypatch):
    # On AWS the deploy sets the account's own data endpoint; boto3 must call exactly that host.
    monkeypatch.setenv("IOT_DATA_ENDPOINT", "abc123-ats.iot.eu-west-1.amazonaws.com")
    assert handler.iot_data().meta.endpoint_url == "https://abc123-ats.iot.eu-west-1.amazonaws.com"


def test_the_deployment_zip_runs_as_a_lambda_and_is_reproducible(sky, iot_data):  # noqa: ANN001
    thing = f"lys-{uuid.uuid4().hex[:6]}"
    package = serverless.package()
    assert package == serverless.package()  # same source, same bytes: redeploying changes nothing
    result = run_lambda(package, serverless.HANDLER, {"on": True, "btnCount": 4},
                        function_name=serverless.FUNCTION, timeout_s=serverless.FUNCTION_TIMEOUT_S,
                        environment={"LYS_THING": thing})
    assert result.ok, result.error
    assert result.payload == {"thing": thing, "on": True}
    assert f"Satte desired.on = true i skyggen til {thing}" in result.log
    assert _desired(iot_data, thing) == {"on": True}
