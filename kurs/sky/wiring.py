"""Wires the services (shadow, rules, policies) into the data plane and moto's HTTP side.

moto's iot-data only records publishes and keeps its own shadow copy. Here its HTTP
handlers are pointed at our data plane, so HTTP and MQTT share one truth: a boto3
``publish`` reaches MQTT subscribers and rules, and a boto3 shadow update is the same
document, with the same MQTT replies, as an MQTT one.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import unquote

from kurs.sky.services import DataPlane

log = logging.getLogger("kurs.sky.wiring")


def build() -> DataPlane:
    return DataPlane(shadow=_shadow_service(), rules=None)


def _shadow_service():  # noqa: ANN202 - optional service
    try:
        from kurs.sky.shadow import ShadowService
    except ImportError:
        log.warning("Skyggetjenesten (shadow) mangler; bare MQTT og kontrollplanet kjører.")
        return None
    return ShadowService()


def attach_http(plane: DataPlane) -> None:
    """Point moto's iot-data HTTP handlers at our data plane."""
    from moto.iotdata.responses import IoTDataPlaneResponse
    from moto.moto_api._internal.models import MotoAPIBackend

    moto_reset = MotoAPIBackend.reset

    def reset(self: MotoAPIBackend) -> None:
        # POST /moto-api/reset empties moto; the data plane's state must go with it.
        moto_reset(self)
        plane.reset()
        log.info("Den lokale skyen er tømt (alle dingser, sertifikater, regler og skygger er borte).")

    MotoAPIBackend.reset = reset

    def publish(self: IoTDataPlaneResponse) -> str:
        topic = self.path.split("/topics/")[-1]
        topic = unquote(topic) if "%" in topic else topic
        plane.publish_threadsafe(topic, self.body or b"")
        return json.dumps({})

    IoTDataPlaneResponse.publish = publish

    shadow = plane.shadow
    if shadow is None:
        return

    def _reply(status: int, body: bytes, outgoing: list) -> object:
        if outgoing:
            plane.deliver_threadsafe(outgoing)
        if status >= 400:
            try:
                message = json.loads(body).get("message", "")
            except ValueError:
                message = body.decode(errors="replace")
            from kurs.sky.shadow import HTTP_ERROR_TYPES

            error_type = HTTP_ERROR_TYPES.get(status, "InternalFailureException")
            # moto takes the status from the "status" header, not the tuple
            return status, {"status": status, "x-amzn-ErrorType": error_type}, json.dumps({"message": message})
        return body.decode()

    def update_thing_shadow(self: IoTDataPlaneResponse) -> object:
        name = self.querystring.get("name", [None])[0]
        return _reply(*shadow.http_update(self._get_param("thingName"), self.body or b"", name))

    def get_thing_shadow(self: IoTDataPlaneResponse) -> object:
        name = self.querystring.get("name", [None])[0]
        return _reply(*shadow.http_get(self._get_param("thingName"), name))

    def delete_thing_shadow(self: IoTDataPlaneResponse) -> object:
        name = self.querystring.get("name", [None])[0]
        return _reply(*shadow.http_delete(self._get_param("thingName"), name))

    def list_named_shadows_for_thing(self: IoTDataPlaneResponse) -> str:
        return json.dumps({"results": shadow.list_named_shadows(self._get_param("thingName"))})

    IoTDataPlaneResponse.update_thing_shadow = update_thing_shadow
    IoTDataPlaneResponse.get_thing_shadow = get_thing_shadow
    IoTDataPlaneResponse.delete_thing_shadow = delete_thing_shadow
    IoTDataPlaneResponse.list_named_shadows_for_thing = list_named_shadows_for_thing
