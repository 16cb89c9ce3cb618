"""AWS IoT's lifecycle events (AWS IoT developer guide, "Lifecycle events").

``$aws/events/presence/connected|disconnected/<clientId>`` with ``sessionIdentifier`` (one per
connection), ``principalIdentifier``, ``ipAddress``, ``versionNumber`` (grows with each
connection of a client id; a connection's events share it) and, on disconnect,
``clientInitiatedDisconnect`` and ``disconnectReason``; ``$aws/events/subscriptions/
subscribed|unsubscribed/<clientId>`` with ``topics``; a CONNECT refused by authorisation
(certificate, iot:Connect, or iot:Publish on its will topic) gives
``$aws/events/presence/connect_failed/<clientId>`` with ``connectFailureReason``
AUTHORIZATION_FAILED. Client ids holding ``#`` or ``+`` get no
lifecycle events, as on AWS.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any


class Lifecycle:
    def __init__(self, publish: Callable[[str, dict[str, Any]], None], clock: Callable[[], float]) -> None:
        self._publish = publish
        self._clock = clock
        self._versions: dict[str, int] = {}
        self._present: dict[str, dict[str, Any]] = {}  # client id -> info, for the instructor's overview

    def _body(self, conn: Any, event: str) -> dict[str, Any]:
        return {"clientId": conn.client_id, "timestamp": int(self._clock() * 1000), "eventType": event,
                "sessionIdentifier": conn.session_id,
                "principalIdentifier": conn.principal.certificate_id if conn.principal else "",
                "ipAddress": conn.peer_ip}

    @staticmethod
    def _silent(client_id: str) -> bool:
        return "#" in client_id or "+" in client_id

    def connected(self, conn: Any) -> None:
        conn.session_id = str(uuid.uuid4())
        conn.version = self._versions[conn.client_id] = self._versions.get(conn.client_id, 0) + 1
        self._present[conn.client_id] = {"since": self._clock(), "tls": conn.principal is not None,
                                         "sessionIdentifier": conn.session_id}
        if self._silent(conn.client_id):
            return
        body = self._body(conn, "connected")
        body["versionNumber"] = conn.version
        self._publish(f"$aws/events/presence/connected/{conn.client_id}", body)

    def disconnected(self, conn: Any, reason: str, client_initiated: bool) -> None:
        current = self._present.get(conn.client_id)
        if current is not None and current.get("sessionIdentifier") == conn.session_id:
            del self._present[conn.client_id]
        if self._silent(conn.client_id):
            return
        if reason == "CLIENT_INITIATED_DISCONNECT_WITH_WILL":
            reason, client_initiated = "CLIENT_INITIATED_DISCONNECT", True
        body = self._body(conn, "disconnected")
        body.update(versionNumber=conn.version, clientInitiatedDisconnect=client_initiated,
                    disconnectReason=reason)
        self._publish(f"$aws/events/presence/disconnected/{conn.client_id}", body)

    def connect_failed(self, conn: Any, failure: str) -> None:
        if not conn.client_id or self._silent(conn.client_id):
            return
        body = {"clientId": conn.client_id, "timestamp": int(self._clock() * 1000), "eventType": "connect_failed",
                "connectFailureReason": failure,
                "principalIdentifier": conn.principal.certificate_id if conn.principal else "",
                "sessionIdentifier": str(uuid.uuid4()), "ipAddress": conn.peer_ip}
        self._publish(f"$aws/events/presence/connect_failed/{conn.client_id}", body)

    def subscribed(self, conn: Any, filters: list[str]) -> None:
        self._subscription_event(conn, "subscribed", filters)

    def unsubscribed(self, conn: Any, filters: list[str]) -> None:
        self._subscription_event(conn, "unsubscribed", filters)

    def _subscription_event(self, conn: Any, event: str, filters: list[str]) -> None:
        if self._silent(conn.client_id):
            return
        body = self._body(conn, event)
        del body["ipAddress"]
        body["topics"] = filters
        self._publish(f"$aws/events/subscriptions/{event}/{conn.client_id}", body)

    def presence(self) -> dict[str, dict[str, Any]]:
        return {cid: {"since": info["since"], "tls": info["tls"]} for cid, info in self._present.items()}
