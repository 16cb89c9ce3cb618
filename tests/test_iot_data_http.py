"""iot-data over HTTP (boto3) against a real local cloud: Publish with QoS and retain, AWS's
errors for a payload over 128 KB and for bad topics, and the retained-message API.

Each test cites the AWS page for the behaviour it checks.
"""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import ClientError

from kurs import mqtt

pytestmark = pytest.mark.integration


def _topic(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex[:8]}"


def test_publish_reaches_mqtt_subscribers_with_qos_1(iot_data):  # noqa: ANN001
    # https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html (qos: 0 or 1)
    topic = _topic("http/qos")
    with mqtt.Monitor(topic) as mon:
        iot_data.publish(topic=topic, qos=1, payload=b'{"n": 1}')
        assert mon.wait(timeout=10).json() == {"n": 1}


def test_retained_publish_is_listed_fetched_delivered_to_new_subscribers_and_deleted(iot_data):  # noqa: ANN001
    # https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-retain (retained messages),
    # https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_ListRetainedMessages.html,
    # https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_GetRetainedMessage.html and
    # https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html ("Publishing an empty
    # (null) payload with retain = true deletes the retained message identified by topic").
    topic = _topic("http/beholdt")
    before = int(time.time() * 1000)
    iot_data.publish(topic=topic, qos=1, retain=True, payload=b'{"lys": "av"}')

    listed = [t for t in iot_data.list_retained_messages()["retainedTopics"] if t["topic"] == topic]
    assert len(listed) == 1
    assert listed[0]["payloadSize"] == len(b'{"lys": "av"}') and listed[0]["qos"] == 1
    assert before <= listed[0]["lastModifiedTime"] <= int(time.time() * 1000)

    got = iot_data.get_retained_message(topic=topic)
    assert got["topic"] == topic and got["payload"] == b'{"lys": "av"}' and got["qos"] == 1

    with mqtt.Monitor(topic) as mon:  # a new subscriber gets the retained message at once
        assert mon.wait(timeout=10).json() == {"lys": "av"}

    iot_data.publish(topic=topic, retain=True, payload=b"")
    with pytest.raises(ClientError) as missing:
        iot_data.get_retained_message(topic=topic)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert topic not in [t["topic"] for t in iot_data.list_retained_messages()["retainedTopics"]]


def test_publish_without_retain_keeps_nothing(iot_data):  # noqa: ANN001
    # https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html (retain defaults to false)
    topic = _topic("http/ikke-beholdt")
    iot_data.publish(topic=topic, payload=b"1")
    with pytest.raises(ClientError) as missing:
        iot_data.get_retained_message(topic=topic)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_list_retained_messages_pages_with_next_token(iot_data):  # noqa: ANN001
    # https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_ListRetainedMessages.html
    # (maxResults 1-200, nextToken for the next page)
    prefix = _topic("http/sider")
    topics = [f"{prefix}/{i}" for i in range(3)]
    for topic in topics:
        iot_data.publish(topic=topic, retain=True, payload=b"x")
    seen: list[str] = []
    token = None
    while True:
        page = iot_data.list_retained_messages(maxResults=2, **({"nextToken": token} if token else {}))
        assert len(page["retainedTopics"]) <= 2
        seen += [t["topic"] for t in page["retainedTopics"]]
        token = page.get("nextToken")
        if not token:
            break
    assert [t for t in seen if t.startswith(prefix)] == topics
    for topic in topics:
        iot_data.publish(topic=topic, retain=True, payload=b"")


def test_payload_over_128_kb_is_request_entity_too_large(iot_data):  # noqa: ANN001
    # https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits (128 KB payload);
    # https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html (RequestEntityTooLargeException)
    topic = _topic("http/stor")
    with mqtt.Monitor(topic) as mon:
        with pytest.raises(ClientError) as refused:
            iot_data.publish(topic=topic, payload=b"x" * (128 * 1024 + 1))
        iot_data.publish(topic=topic, payload=b"x" * (128 * 1024))  # exactly the limit is fine
        assert len(mon.wait(timeout=10).payload) == 128 * 1024
    assert refused.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


@pytest.mark.parametrize("topic", ["hus/+/lys", "hus/#", "a/b/c/d/e/f/g/h/i", "x" * 257, "$hemmelig/emne"])
def test_topic_aws_iot_refuses_is_invalid_request(iot_data, topic):  # noqa: ANN001
    # https://docs.aws.amazon.com/iot/latest/developerguide/topics.html (topic names: no wildcards,
    # reserved "$" topics) and https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits
    # (256 bytes, at most 7 slashes)
    with pytest.raises(ClientError) as refused:
        iot_data.publish(topic=topic, payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_qos_2_is_invalid_request(iot_data):  # noqa: ANN001
    # https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html (qos valid range 0-1)
    with pytest.raises(ClientError) as refused:
        iot_data.publish(topic=_topic("http/qos2"), qos=2, payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
