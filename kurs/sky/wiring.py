"""Wires the services (shadow, rules, policies) into the data plane and moto's HTTP side.

moto's iot-data only records publishes and keeps its own shadow copy. Here its HTTP
handlers are pointed at our data plane, so HTTP and MQTT share one truth: a boto3
``publish`` reaches MQTT subscribers and rules, and a boto3 shadow update is the same
document, with the same MQTT replies, as an MQTT one.
"""

from __future__ import annotations

import functools
import json
import logging
from urllib.parse import unquote

from kurs.sky.services import DataPlane

log = logging.getLogger("kurs.sky.wiring")


def build() -> DataPlane:
    patch_control_plane()
    plane = DataPlane(shadow=_shadow_service(), rules=None, policies=_policy_enforcer())
    plane.rules = _rules_engine(plane)
    return plane


def _rules_engine(plane: DataPlane):  # noqa: ANN202 - optional service
    try:
        from kurs.sky import rules_wiring
    except ImportError:
        log.warning("Regelmotoren mangler; emneregler lagres, men kjører ikke.")
        return None
    return rules_wiring.build(plane)


def _policy_enforcer():  # noqa: ANN202 - optional service
    from kurs.sky.controlplane import iot_backend
    from kurs.sky.info import ACCOUNT_ID, REGION
    from kurs.sky.policy import PolicyEnforcer

    return PolicyEnforcer(iot_backend, REGION, ACCOUNT_ID)


def patch_control_plane() -> None:
    """Make moto's IoT registry behave like AWS where the course depends on it.

    - CreatePolicy / CreatePolicyVersion validate the document (moto stores anything) and
      answer MalformedPolicyException as AWS does;
    - CreateCertificateFromCsr issues a certificate for the CSR's own public key (moto makes
      a new key pair and ignores the CSR's, so the requester's private key would not fit).
    """
    from moto.iot import models
    from moto.iot.exceptions import InvalidRequestException, IoTClientError

    from kurs.sky.policy import MalformedPolicy, parse

    if getattr(models.IoTBackend, "_kurs_patched", False):
        return

    class MalformedPolicyException(IoTClientError):
        def __init__(self, message: str) -> None:
            self.code = 400
            super().__init__("MalformedPolicyException", message)

    def _checked(document: object) -> None:
        try:
            parse(document if isinstance(document, str) else json.dumps(document))
        except MalformedPolicy as exc:
            raise MalformedPolicyException(str(exc)) from None

    original_create, original_version = models.IoTBackend.create_policy, models.IoTBackend.create_policy_version

    def create_policy(self, policy_name, policy_document):  # noqa: ANN001, ANN202 - moto's signature
        _checked(policy_document)
        return original_create(self, policy_name, policy_document)

    def create_policy_version(self, policy_name, policy_document, set_as_default):  # noqa: ANN001, ANN202
        _checked(policy_document)
        return original_version(self, policy_name, policy_document, set_as_default)

    def create_certificate_from_csr(self, csr, set_as_active):  # noqa: ANN001, ANN202
        try:
            pem = _certificate_for_csr(csr)
        except ValueError:
            raise InvalidRequestException("The certificate signing request is not valid.") from None
        return self.register_certificate(pem, ca_certificate_pem=None, set_as_active=set_as_active,
                                         status="INACTIVE")

    models.IoTBackend.create_policy = create_policy
    models.IoTBackend.create_policy_version = create_policy_version
    models.IoTBackend.create_certificate_from_csr = create_certificate_from_csr
    models.IoTBackend._kurs_patched = True


@functools.cache
def _issuer_key():  # noqa: ANN202 - one signing key per cloud process
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _certificate_for_csr(csr_pem: str) -> str:
    """A certificate for the CSR's subject and public key, from the local cloud's own issuer."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    request = x509.load_pem_x509_csr(csr_pem.encode())
    if not request.is_signature_valid:
        raise ValueError("bad CSR signature")
    now = datetime.datetime.now(datetime.UTC)
    issuer = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kurs"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "Lokal sky sertifikatutsteder")])
    cert = (x509.CertificateBuilder().subject_name(request.subject).issuer_name(issuer)
            .public_key(request.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=datetime.UTC))  # as AWS IoT's
            .sign(_issuer_key(), hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


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

    if plane.rules is not None:  # SQL checks on create_topic_rule, Lambda Invoke runs the code
        from kurs.sky import rules_wiring

        rules_wiring.attach_http(plane.rules)

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
