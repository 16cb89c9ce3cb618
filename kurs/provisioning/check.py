"""``verify(thing)``: is a provisioned device still able to connect? A Norwegian answer if not.

AWS IoT closes the connection without a reason when something is wrong, so a learner sees
only "connection lost". This checks, in order, what usually is: the credentials here, the
thing, the certificate (exists, ACTIVE, fits the key, attached to the thing) and the policy
(attached to the certificate).
"""

from __future__ import annotations

from typing import Any

from kurs import config, naming
from kurs.errors import CourseError
from kurs.provisioning.credentials import DeviceFiles, key_matches_certificate, target_name
from kurs.provisioning.setup import region_and_account


def verify(thing_name: str, *, settings: config.Settings | None = None, verbose: bool = True) -> None:
    """Raise a CourseError naming the fix for the first problem found; print a summary if all is well."""
    from kurs import aws_mode

    naming.check_thing_name(thing_name)
    settings = settings or config.load()
    with aws_mode.friendly_errors(settings):
        iot = aws_mode.client("iot", settings=settings)
        region, account = region_and_account(settings)
        files = DeviceFiles.for_thing(target_name(settings.mode, account, region), thing_name)
        _verify(iot, files, naming.policy_name(thing_name))
    if verbose:
        print(f"Alt i orden for «{thing_name}»: tingen finnes, sertifikatet er aktivt og passer til nøkkelen, "
              "og policyen er knyttet til det.")


def _verify(iot: Any, files: DeviceFiles, policy_name: str) -> None:
    thing = files.thing_name
    again = f"Kjør provision(\"{thing}\") på nytt; den reparerer dette."
    record = files.record()
    cert_id = record.get("certificate_id")
    if not cert_id or not files.key_file.is_file() or not files.cert_file.is_file():
        raise CourseError(f"«{thing}» er ikke provisjonert på denne maskinen (fant ikke nøkkel og sertifikat).",
                          again)
    try:
        iot.describe_thing(thingName=thing)
    except iot.exceptions.ResourceNotFoundException:
        raise CourseError(f"Tingen «{thing}» finnes ikke i registeret (er den slettet, eller er den lokale "
                          "skyen startet på nytt?).", again) from None
    try:
        desc = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
    except iot.exceptions.ResourceNotFoundException:
        raise CourseError(f"Sertifikatet {cert_id[:12]}… finnes ikke lenger i registeret.", again) from None
    arn = desc["certificateArn"]
    if desc["status"] != "ACTIVE":
        raise CourseError(
            f"Sertifikatet {cert_id[:12]}… har status {desc['status']}, så megleren slipper ikke dingsen inn.",
            f"Aktiver det med «aws iot update-certificate --certificate-id {cert_id} --new-status ACTIVE», "
            f"eller {again[0].lower() + again[1:]}")
    if not key_matches_certificate(files.key_file, desc["certificatePem"]):
        raise CourseError(f"Den private nøkkelen i {files.key_file.parent} hører ikke til sertifikatet {cert_id[:12]}….",
                          again)
    if thing not in iot.list_principal_things(principal=arn)["things"]:
        raise CourseError(
            f"Sertifikatet er ikke knyttet til tingen «{thing}», så policyvariabelen "
            "${iot:Connection.Thing.ThingName} får ingen verdi og tilkoblingen nektes.",
            f"«aws iot attach-thing-principal --thing-name {thing} --principal {arn}», eller "
            f"{again[0].lower() + again[1:]}")
    attached = [p["policyName"] for p in iot.list_attached_policies(target=arn)["policies"]]
    if policy_name not in attached:
        raise CourseError(
            f"Policyen «{policy_name}» er ikke knyttet til sertifikatet, så dingsen har ingen rettigheter "
            "(AWS IoT nekter alt som ikke er tillatt).",
            f"«aws iot attach-policy --policy-name {policy_name} --target {arn}», eller "
            f"{again[0].lower() + again[1:]}")
