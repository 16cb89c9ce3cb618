"""Virtual ESP32s running the course firmware against the real local cloud (and a real broker restart)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from kurs import mqtt
from kurs.esp32.board import VirtualBoard
from tests.ports import steady_port

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def run(boards: list[VirtualBoard], app: str, **kwargs) -> VirtualBoard:
    board = VirtualBoard(app, device_id=kwargs.pop("device_id", None) or unique(app), **kwargs)
    boards.append(board)
    board.start()
    return board


def shadow_of(iot_data, thing: str) -> dict:
    return json.loads(iot_data.get_thing_shadow(thingName=thing)["payload"].read())


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - e.g. the shadow does not exist yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)


# -- the starting app -------------------------------------------------------------------------

def test_start_app_connects_and_its_timer_reports_to_the_shadow(sky, iot_data, boards):
    board = run(boards, "start")
    board.wait_for(lambda: board.cloud_connected)
    assert board.console.find(f"Device shadow name: {board.device_id}") is not None
    reported = wait_until(lambda: shadow_of(iot_data, board.thing_name)["state"]["reported"]
                          if shadow_of(iot_data, board.thing_name)["state"]["reported"].get("uptime", 0) >= 1
                          else None)
    assert reported["ram_total"] == 295972
    assert reported["btnCount"] == 0 and reported["on"] is False
    assert 0 < reported["ram_free"] < reported["ram_total"]
    first = reported["uptime"]
    later = wait_until(lambda: shadow_of(iot_data, board.thing_name)["state"]["reported"]["uptime"] > first + 1)
    assert later


def test_start_app_button_publishes_state_with_count_and_toggled_on(sky, boards):
    board = run(boards, "start")
    board.wait_for(lambda: board.connected)
    topic = f"devices/{board.device_id}/events"
    with mqtt.Monitor(topic, qos=1) as monitor:
        board.click()
        first = monitor.wait(5, topic=topic).json()
        board.click()
        second = monitor.wait(5, topic=topic).json()
    assert (first["btnCount"], first["on"]) == (1, True)
    assert (second["btnCount"], second["on"]) == (2, False)
    assert board.led() is False


def test_shadow_delta_lights_the_led_and_the_report_clears_it(sky, iot_data, boards):
    board = run(boards, "start")
    board.wait_for(lambda: board.cloud_connected)
    wait_until(lambda: "reported" in shadow_of(iot_data, board.thing_name)["state"])
    assert board.led() is False
    iot_data.update_thing_shadow(thingName=board.thing_name,
                                 payload=json.dumps({"state": {"desired": {"on": True}}}))
    board.wait_for("Fikk delta: {\"on\":true}")
    board.wait_for(lambda: board.led())
    state = wait_until(lambda: (s := shadow_of(iot_data, board.thing_name)["state"])["reported"].get("on") and s)
    assert "delta" not in state
    assert state["desired"]["on"] is True and state["reported"]["on"] is True


# -- the button board and the LED board ---------------------------------------------------------

def test_knapp_toggles_lys_through_the_broker(sky, boards):
    knapp = run(boards, "knapp")
    lys = run(boards, "lys")
    lys.wait_for(lambda: "state" in lys.subscribed)
    knapp.wait_for(lambda: knapp.connected)
    assert lys.led() is False
    knapp.click()
    lys.wait_for(lambda: lys.led())
    assert lys.pin_level(2) == 1
    knapp.click()
    lys.wait_for(lambda: not lys.led())
    knapp.wait_for('Sendte til state: {"btnCount":2,"on":false}', since=0)


def test_python_publish_to_state_switches_the_led(sky, iot_data, boards):
    lys = run(boards, "lys")
    lys.wait_for(lambda: lys.cloud_connected)
    lys.wait_for(lambda: "state" in lys.subscribed)
    mqtt.publish("state", {"on": True})
    lys.wait_for(lambda: lys.led())
    wait_until(lambda: shadow_of(iot_data, lys.thing_name)["state"]["reported"]["on"] is True)
    mqtt.publish("state", {"on": False})
    lys.wait_for(lambda: not lys.led())
    wait_until(lambda: shadow_of(iot_data, lys.thing_name)["state"]["reported"]["on"] is False)
    # The LED board also follows its shadow: a desired "on" lights it.
    iot_data.update_thing_shadow(thingName=lys.thing_name,
                                 payload=json.dumps({"state": {"desired": {"on": True}}}))
    lys.wait_for(lambda: lys.led())


def test_bad_messages_are_logged_and_nobody_dies(sky, boards):
    knapp = run(boards, "knapp")
    lys = run(boards, "lys")
    lys.wait_for(lambda: "state" in lys.subscribed)
    knapp.wait_for(lambda: knapp.connected)
    mqtt.publish("state", "{dette er ikke json")
    lys.wait_for("MJS callback error: invalid JSON string")
    mqtt.publish("state", {"noe": "annet"})
    lys.wait_for("Meldingen mangler on: true/false")
    knapp.click()  # the board, the broker and the other board all carry on
    lys.wait_for(lambda: lys.led())
    assert lys.connected and knapp.connected


def test_board_connects_with_mutual_tls_like_after_aws_iot_setup(sky, iot, boards):
    """Certificate, key and CA on the board's file system and in mqtt.ssl_*, as mos aws-iot-setup leaves them."""
    thing = unique("tls")
    keys = iot.create_keys_and_certificate(setAsActive=True)
    iot.create_thing(thingName=thing)
    iot.attach_thing_principal(thingName=thing, principal=keys["certificateArn"])
    arn = f"arn:aws:iot:{sky.region}:{sky.account_id}"
    shadow = "$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/${{iot:Connection.Thing.ThingName}}"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": [f"{arn}:topic/state", f"{arn}:topic/{shadow}"]},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": [f"{arn}:topicfilter/state", f"{arn}:topicfilter/{shadow}"]},
    ]}
    iot.create_policy(policyName=thing, policyDocument=json.dumps(policy))
    iot.attach_policy(policyName=thing, target=keys["certificateArn"])
    lys = VirtualBoard("lys", device_id=thing, config_overrides={
        "mqtt.enable": True, "mqtt.server": f"localhost:{sky.mqtts_port}", "mqtt.ssl_ca_cert": "kurs-ca.pem",
        "mqtt.ssl_cert": f"aws-{thing}.crt.pem", "mqtt.ssl_key": f"aws-{thing}.key.pem"})
    boards.append(lys)
    with open(sky.ca_file, "rb") as f:
        lys.fs_put("kurs-ca.pem", f.read())
    lys.fs_put(f"aws-{thing}.crt.pem", keys["certificatePem"])
    lys.fs_put(f"aws-{thing}.key.pem", keys["keyPair"]["PrivateKey"])
    lys.start()
    lys.wait_for(lambda: lys.cloud_connected)
    lys.wait_for(lambda: "state" in lys.subscribed)
    mqtt.publish("state", {"on": True})
    lys.wait_for(lambda: lys.led())


# -- a broker that goes away and comes back -------------------------------------------------------

class RestartableBroker:
    """The local cloud's own broker class on fixed ports, in a thread, stoppable and startable."""

    def __init__(self) -> None:
        self.port = steady_port()
        self.tls_port = steady_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.broker = None

    async def _start(self) -> None:
        from kurs.sky.broker import CloudBroker, broker_config

        async def on_publish(topic, payload, client_id, principal):  # noqa: ANN001 - the hook's shape
            return None

        self.broker = CloudBroker(broker_config("127.0.0.1", self.port, self.tls_port), on_publish=on_publish)
        await self.broker.start()

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(15)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.broker.shutdown(), self.loop).result(15)

    def close(self) -> None:
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def broker() -> Iterator[RestartableBroker]:
    b = RestartableBroker()
    b.start()
    yield b
    b.close()


def test_broker_restart_reconnects_resubscribes_and_sends_the_offline_press(broker, boards):
    settings = {"mqtt.server": f"127.0.0.1:{broker.port}", "mqtt.enable": True}
    # debug.level 3 shows mgos_mqtt_conn.c's "pub ->" lines, so the replayed message is seen.
    knapp = run(boards, "knapp", config_overrides={**settings, "debug.level": 3})
    lys = run(boards, "lys", config_overrides=settings)
    lys.wait_for(lambda: "state" in lys.subscribed)
    knapp.wait_for(lambda: knapp.connected)
    knapp.click()
    lys.wait_for(lambda: lys.led())

    broker.stop()
    knapp.wait_for(lambda: not knapp.connected)
    lys.wait_for(lambda: not lys.connected)
    knapp.click()  # pressed while offline: counted, sent when the connection is back
    knapp.wait_for('Ikke tilkoblet, sender ved ny forbindelse: {"btnCount":2,"on":false}')
    assert lys.led() is True

    broker.start()
    # ... the QoS 1 message waited in mgos's queue and goes out right after CONNACK ...
    line = knapp.wait_for('state @ 1 (25): [{"btnCount":2,"on":false}]', timeout=30)
    assert "pub ->" in line.text
    assert knapp.console.count("MQTT CONNACK 0") == 2
    assert knapp.console.find("MQTT connecting after") is not None
    # ... and lys subscribes again by itself (whether it was back in time for that message
    # depends on which board reconnected first, as with real boards).
    lys.wait_for(lambda: lys.connected, timeout=30)
    lys.wait_for(lambda: "state" in lys.subscribed)
    assert lys.console.count("Subscribing to 'state'") == 2
    knapp.click()
    lys.wait_for('Melding til state: {"btnCount":3,"on":true}')
    lys.wait_for(lambda: lys.led())
