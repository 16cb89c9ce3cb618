"""The broker's limits, AWS IoT Core's where AWS has one (AWS General Reference, "AWS IoT Core
endpoints and quotas", message broker limits), our own where it does not (marked)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kurs.sky.broker.topics import MAX_CLIENT_ID_BYTES, MAX_PAYLOAD

__all__ = ["MAX_CLIENT_ID_BYTES", "MAX_PAYLOAD", "Limits"]


@dataclass
class Limits:
    # AWS: "Maximum size of an MQTT packet" is the 128 KB payload plus headers; AWS IoT's
    # MQTT 5 CONNACK advertises 149504 bytes. Checked from the fixed header.
    max_packet_size: int = 149_504
    max_payload: int = MAX_PAYLOAD
    filters_per_subscribe: int = 8  # AWS: "Maximum number of topic filters per SUBSCRIBE"
    subscriptions_per_connection: int = 50  # AWS: "Maximum subscriptions per connection"
    inflight_out: int = 100  # AWS: "Maximum outbound unacknowledged messages"
    retry_interval_s: float = 60.0  # ours: AWS does not document its resend interval
    give_up_after_s: float = 3600.0  # AWS: "Maximum retry interval for delivering QoS 1 messages"
    persistent_session_expiry_s: float = 3600.0  # AWS: "Persistent session expiry period" (default 1 h)
    topic_alias_maximum: int = 8  # AWS: "Maximum number of topic aliases" (MQTT 5)
    keep_alive_min_s: int = 30  # AWS: keep-alive is clamped to 30–1200 s
    keep_alive_max_s: int = 1200
    connect_deadline_s: float = 10.0  # ours: a connection must send CONNECT within this
    pending_connects_per_source: int = 100  # ours: half-open connections kept per address
    queued_per_offline_session: int = 100_000  # ours: memory guard for an offline persistent session

    @classmethod
    def from_env(cls) -> Limits:
        """AWS's defaults; ``KURS_SESSION_EXPIRY_S`` shortens the persistent-session expiry (tests,
        demonstrations: AWS's hour is long to wait for in a workshop)."""
        limits = cls()
        raw = os.environ.get("KURS_SESSION_EXPIRY_S")
        if raw:
            try:
                limits.persistent_session_expiry_s = max(1.0, float(raw))
            except ValueError:
                pass
        return limits
