"""``provision(thing)``: what ``mos aws-iot-setup`` does, in Python, visibly and safely.

The steps (mongoose-os/mos ``cli/aws/aws.go``), and where we differ:

1. a private key made **here** and a certificate signing request (CSR) with CN = thing name;
   AWS signs it (``CreateCertificateFromCsr``, ``setAsActive``). Like mos, and unlike
   ``CreateKeysAndCertificate``, the private key never crosses the network;
2. a policy attached to the certificate — mos makes ``mos-default`` (``iot:*`` on ``*``); we
   make ``kurs-<thing>`` with only what the device needs (see device_policy);
3. the thing (``CreateThing``) and the certificate attached to it (``AttachThingPrincipal``);
4. the device configuration: ``mqtt.server`` = the ATS endpoint and port, ``mqtt.ssl_cert``,
   ``mqtt.ssl_key``, ``mqtt.ssl_ca_cert``, ``aws.thing_name``, ``mqtt.enable``.

Running it again reuses the thing, the ACTIVE certificate whose key is still here, and the
policy (updated if the document changed); certificates of ours that can no longer be used
are retired (detached, INACTIVE, deleted). Private keys are never printed or logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kurs import config, naming
from kurs.errors import CourseError
from kurs.paths import write_private
from kurs.provisioning import device_policy
from kurs.provisioning.credentials import (
    CA_FILE_NAME,
    DeviceFiles,
    key_matches_certificate,
    new_key_and_csr,
    target_name,
)
from kurs.provisioning.endpoint import Endpoint, resolve


@dataclass
class Provisioned:
    """A provisioned device: where its credentials are and how it connects. No secrets inside."""

    thing_name: str
    certificate_id: str
    certificate_arn: str
    policy_name: str
    cert_file: Path
    key_file: Path
    ca_file: Path
    endpoint: str
    port: int
    device_config: dict[str, Any]
    mode: str = "lokal"
    alpn: str | None = None
    actions: list[str] = field(default_factory=list)  # what this run did, in Norwegian

    def summary(self) -> str:
        lines = [f"Dingsen «{self.thing_name}» er klar ({'den lokale skyen' if self.mode == 'lokal' else 'AWS'}).",
                 f"  MQTT-server:   {self.endpoint}:{self.port}" + (f" (ALPN {self.alpn})" if self.alpn else ""),
                 f"  Sertifikat:    {self.certificate_id[:12]}… (ACTIVE)",
                 f"  Policy:        {self.policy_name}",
                 f"  Filer:         {self.cert_file.parent}  (privat nøkkel med tilgang 0600; vis den aldri)",
                 "  Konfigurasjon for kortet:"]
        lines += [f"    {key} = {json.dumps(value)}" for key, value in self.device_config.items()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython shows the summary
        printer.text(self.summary())

    def copy_to(self, fs_dir: str | Path) -> None:
        """Put the files on a (virtual) board's file system and save the configuration, as mos does."""
        fs_dir = Path(fs_dir)
        DeviceFiles(self.cert_file.parent, self.thing_name).copy_to(fs_dir)
        _save_device_config(fs_dir, self.device_config)

    def apply_to(self, board: Any, *, reboot: bool = True) -> None:
        """Give a VirtualBoard its credentials and configuration (and reboot it if it runs)."""
        if board.device_id != self.thing_name:
            raise CourseError(
                f"Kortet heter «{board.device_id}», men sertifikatet er laget for tingen «{self.thing_name}».",
                "Klient-ID-en må være tingens navn, ellers nekter policyen tilkoblingen. Lag kortet med "
                f"VirtualBoard(..., device_id=\"{self.thing_name}\"), eller provisjoner «{board.device_id}».")
        DeviceFiles(self.cert_file.parent, self.thing_name).copy_to(Path(board.fs_dir))
        board.config_set(dict(self.device_config), save=True, reboot=reboot and bool(board.running))

    def connect(self, client_id: str | None = None, **kwargs: Any) -> Any:
        """A paho client connected over mutual TLS with this device's certificate.

        The target is fully known here, so the mode-free client is enough (no mode resolution)."""
        from kurs import aws_mode
        from kurs.mqtt_client import Target, open_client
        from kurs.mqtt_target import AWS_REFUSED, AWS_UNREACHABLE, LOCAL_REFUSED, LOCAL_UNREACHABLE

        on_aws = self.endpoint.endswith(".amazonaws.com")
        target = Target(host=self.endpoint, port=self.port, client_id=client_id or self.thing_name, tls=True,
                        cert_file=self.cert_file, key_file=self.key_file, ca_file=self.ca_file, alpn=self.alpn,
                        unreachable_fix=f"{AWS_UNREACHABLE}\n{aws_mode.way_back()}" if on_aws else LOCAL_UNREACHABLE,
                        refused_fix=AWS_REFUSED if on_aws else LOCAL_REFUSED)
        return open_client(target, **kwargs)


def provision(thing_name: str, *, fs_dir: str | Path | None = None, settings: config.Settings | None = None,
              verbose: bool = True,
              policy_statements: Callable[[str], list[dict[str, Any]]] | None = None,
              existing_policy: str | None = None) -> Provisioned:
    """Create (or reuse) the thing, its key and certificate, its policy, and its configuration.

    ``policy_statements`` replaces the device policy's statements (device_policy.document):
    it gets ``arn:aws:iot:<region>:<account>`` and returns the statements to allow.
    ``existing_policy`` attaches that IoT policy instead of making one (a room on a real AWS account:
    the instructor made ``kurs-<prefix>-rom``, and learners may attach it but not write their own).
    """
    from kurs import aws_mode

    naming.check_thing_name(thing_name)
    settings = settings or config.load()
    say = print if verbose else (lambda *a, **k: None)
    with aws_mode.friendly_errors(settings):
        iot = aws_mode.client("iot", settings=settings)
        region, account = region_and_account(settings)
        files = DeviceFiles.for_thing(target_name(settings.mode, account, region), thing_name)
        actions: list[str] = []

        _ensure_thing(iot, thing_name, actions)
        if existing_policy is not None:
            policy_name = existing_policy
            actions.append(f"Bruker policyen «{policy_name}» som instruktøren har laget")
        else:
            policy_name = naming.policy_name(thing_name)
            document = (device_policy.document(region, account) if policy_statements is None else
                        device_policy.wrap(policy_statements(device_policy.arn_prefix(region, account))))
            _ensure_policy(iot, policy_name, document, actions)
        cert_id, cert_arn = _ensure_certificate(iot, files, actions)
        iot.attach_policy(policyName=policy_name, target=cert_arn)  # both attach calls are idempotent
        iot.attach_thing_principal(thingName=thing_name, principal=cert_arn)
        _retire_stale_certificates(iot, thing_name, cert_arn, policy_name, actions)
        endpoint = resolve(iot, settings)

    write_private(files.ca_file, endpoint.ca_pem)
    files.save_record(thing_name=thing_name, certificate_id=cert_id, certificate_arn=cert_arn,
                      policy_name=policy_name, endpoint=endpoint.host, port=endpoint.port, mode=settings.mode,
                      region=region, account=account)
    result = Provisioned(
        thing_name=thing_name, certificate_id=cert_id, certificate_arn=cert_arn, policy_name=policy_name,
        cert_file=files.cert_file, key_file=files.key_file, ca_file=files.ca_file, endpoint=endpoint.host,
        port=endpoint.port, device_config=device_config(files, endpoint, thing_name, settings.mode),
        mode=settings.mode, alpn=endpoint.alpn, actions=actions)
    if fs_dir is not None:
        result.copy_to(Path(fs_dir))
        actions.append(f"Kopierte sertifikat, nøkkel og {CA_FILE_NAME} til kortets filsystem ({fs_dir}) og "
                       "lagret konfigurasjonen i conf9.json")
    for line in actions:
        say(f"• {line}")
    say(result.summary())
    return result


def device_config(files: DeviceFiles, endpoint: Endpoint, thing_name: str, mode: str) -> dict[str, Any]:
    """The Mongoose OS settings ``mos aws-iot-setup`` writes, for this device."""
    cfg: dict[str, Any] = {
        "mqtt.enable": True,
        "mqtt.server": endpoint.server,
        "mqtt.ssl_cert": files.cert_name,
        "mqtt.ssl_key": files.key_name,
        "mqtt.ssl_ca_cert": CA_FILE_NAME,
        "aws.thing_name": thing_name,
    }
    if mode == "lokal":
        # The AWS shadow library starts by itself only for *.amazonaws.com servers; the local
        # cloud is "localhost", so tell it that this broker speaks AWS's shadow protocol.
        cfg["shadow.lib"] = "aws"
    return cfg


# --- the steps ---------------------------------------------------------------------------
def region_and_account(settings: config.Settings) -> tuple[str, str]:
    """Region and account ids of the target (the local cloud, or the confirmed AWS account)."""
    if settings.mode == "lokal":
        from kurs import sky

        info = sky.info()
        return info.region, info.account_id
    from kurs import aws_mode

    who = aws_mode.require_confirmation(settings)
    return who.region, who.account


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _ensure_thing(iot: Any, thing_name: str, actions: list[str]) -> None:
    try:
        thing = iot.describe_thing(thingName=thing_name)
    except iot.exceptions.ResourceNotFoundException:
        iot.create_thing(thingName=thing_name, attributePayload={"attributes": naming.thing_attributes()})
        actions.append(f"Lagde tingen (thing) «{thing_name}» i registeret, merket {naming.THING_ATTRIBUTE}="
                       f"{naming.THING_ATTRIBUTE_VALUE} så oppryddingen finner den")
        return
    if naming.is_course_thing(thing.get("attributes")):
        actions.append(f"Tingen «{thing_name}» fantes fra før; bruker den")
    else:
        actions.append(f"Tingen «{thing_name}» fantes fra før, laget utenfor kurset; bruker den, men "
                       "oppryddingen lar den stå")


def _ensure_policy(iot: Any, name: str, document: dict[str, Any], actions: list[str]) -> None:
    text = json.dumps(document)
    try:
        current = iot.get_policy(policyName=name)
    except iot.exceptions.ResourceNotFoundException:
        iot.create_policy(policyName=name, policyDocument=text)
        actions.append(f"Lagde policyen «{name}» med minste nødvendige rettigheter")
        return
    if json.loads(current["policyDocument"]) == document:
        actions.append(f"Policyen «{name}» fantes fra før; bruker den")
        return
    versions = iot.list_policy_versions(policyName=name)["policyVersions"]
    old = sorted((v for v in versions if not v["isDefaultVersion"]), key=lambda v: int(v["versionId"]))
    for version in old[: max(0, len(versions) - 4)]:  # AWS keeps at most five versions
        iot.delete_policy_version(policyName=name, policyVersionId=version["versionId"])
    iot.create_policy_version(policyName=name, policyDocument=text, setAsDefault=True)
    actions.append(f"Oppdaterte policyen «{name}» (ny standardversjon)")


def _ensure_certificate(iot: Any, files: DeviceFiles, actions: list[str]) -> tuple[str, str]:
    record = files.record()
    cert_id = record.get("certificate_id")
    if cert_id and files.key_file.is_file():
        try:
            desc = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
        except iot.exceptions.ResourceNotFoundException:
            desc = None
        if desc and desc["status"] == "ACTIVE" and key_matches_certificate(files.key_file, desc["certificatePem"]):
            write_private(files.cert_file, desc["certificatePem"])
            actions.append(f"Sertifikatet {cert_id[:12]}… er aktivt og nøkkelen ligger her; bruker det")
            return cert_id, desc["certificateArn"]
    key_pem, csr = new_key_and_csr(files.thing_name)
    answer = iot.create_certificate_from_csr(certificateSigningRequest=csr, setAsActive=True)
    write_private(files.key_file, key_pem)
    write_private(files.cert_file, answer["certificatePem"])
    files.save_record(certificate_id=answer["certificateId"], certificate_arn=answer["certificateArn"])
    actions.append(f"Lagde en privat nøkkel her og fikk sertifikatet {answer['certificateId'][:12]}… "
                   "signert fra en sertifikatforespørsel (CSR); nøkkelen har aldri forlatt maskinen")
    return answer["certificateId"], answer["certificateArn"]


def _retire_stale_certificates(iot: Any, thing_name: str, keep_arn: str, policy_name: str,
                               actions: list[str]) -> None:
    """Our older certificates on this thing (keys lost, inactive): detach, deactivate, delete."""
    for arn in iot.list_thing_principals(thingName=thing_name)["principals"]:
        if arn == keep_arn or ":cert/" not in arn:
            continue
        attached = [p["policyName"] for p in iot.list_attached_policies(target=arn)["policies"]]
        if policy_name not in attached:
            continue  # not made by the course: leave it
        retire_certificate(iot, arn)
        actions.append(f"Fjernet et eldre sertifikat ({arn.rsplit('/', 1)[-1][:12]}…) som ikke kan brukes lenger")


def retire_certificate(iot: Any, arn: str) -> None:
    """Detach policies and things, set INACTIVE, delete: the order AWS demands."""
    cert_id = arn.rsplit("/", 1)[-1]
    for policy in iot.list_attached_policies(target=arn)["policies"]:
        iot.detach_policy(policyName=policy["policyName"], target=arn)
    for thing in iot.list_principal_things(principal=arn)["things"]:
        iot.detach_thing_principal(thingName=thing, principal=arn)
    iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")
    iot.delete_certificate(certificateId=cert_id)


def _save_device_config(fs_dir: Path, settings: dict[str, Any]) -> None:
    """Merge the settings into the board's saved configuration (conf9.json), as mos config-set does."""
    from kurs.esp32.mos_config import USER_CONFIG_FILE, flatten, load_saved, unflatten

    saved = flatten(load_saved(fs_dir))
    saved.update(settings)
    (fs_dir / USER_CONFIG_FILE).write_text(json.dumps(unflatten(saved), indent=2) + "\n", encoding="utf-8")
