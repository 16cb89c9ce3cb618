"""The instructor's side of a room: start it, see it, reset one learner, broadcast, end it.

A room is the instructor's own local cloud started in room mode: besides everything on 127.0.0.1
it serves the AWS API over HTTPS and MQTT with mutual TLS on the room's address (the cloud's own
CA; learners pin it through the class code). Its record (kurs.room.roster) outlives a restart of
the cloud, so a room that is stopped and started again keeps its code and its learners, and their
saved keys work again; ending the room removes the code and the learners' keys.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kurs.errors import CourseError
from kurs.room import access, code, roster
from kurs.room.device_policy import BROADCAST


def start(address: str | None = None, *, quiet: bool = False, **ports: int | None) -> roster.Room:
    """Start (or reuse) the room on ``address`` (this machine's network address by default).
    ``ports``: ``http_port``, ``mqtt_port``, ``mqtts_port`` as for kurs.sky.start()."""
    from kurs import sky
    from kurs.sky import ca
    from kurs.sky.info import sky_dir

    if address is None:
        from kurs.sky.lan import lan_address

        address = lan_address()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise CourseError(f"«{address}» er ikke en IP-adresse.", "Bruk maskinens adresse på nettet, for eksempel "
                                                                  "192.168.1.20 (eller la kurs finne den).") from None
    if str(ip) == "127.0.0.1":
        raise CourseError("Rommet kan ikke bruke 127.0.0.1: den adressen har skyen for denne maskinen.",
                          "Bruk maskinens adresse på nettet (uten --adresse finner kurs den).")
    tls = ca.ensure_tls_files(sky_dir() / "tls", (address,))
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    ca_der = x509.load_pem_x509_certificate(tls.ca_file.read_bytes()).public_bytes(serialization.Encoding.DER)
    room = roster.load()
    if room is None or code.pinned_fragment(room.code) != code.fingerprint(ca_der):
        room = roster.Room(address=address, code=code.new_code(ca_der))
    room.address = address
    roster.save(room)
    running = sky.status()
    if running is not None and running.room != address:
        sky.stop(quiet=True)  # the cloud keeps what it had across the restart (kurs.sky.persistence)
    info = sky.start(room=address, quiet=True, **ports)
    if not quiet:
        print(f"Rommet er åpent på {address}. Klassekode: {room.code}")
        print("Deltakerne blir med slik (i notatbok 00, eller i en terminal):")
        print(f"    kurs.room.join(\"{address}:{info.http_port}\", \"{room.code}\", \"Navnet ditt\")")
        print(f"    kurs rom bli-med {address}:{info.http_port} {room.code} --navn NAVN")
    return room


def status() -> roster.Room | None:
    return roster.load()


def require_open() -> roster.Room:
    """The room on this machine, if its cloud is running as the room; else what to do, in Norwegian.

    A plain ``kurs sky start`` after a stop starts the cloud without the room's doors: learners
    could not reach it, and "start the local cloud" would be the wrong advice for an instructor."""
    from kurs import sky

    room = roster.load()
    if room is None:
        raise CourseError("Det er ikke noe rom på denne maskinen.", "Start et med «kurs rom start» "
                                                                      "(eller kurs.room.start() i en notatbok).")
    running = sky.status()
    if running is None or running.room != room.address:
        raise CourseError(f"Rommet på {room.address} er stoppet, så deltakerne når det ikke nå.",
                          "Åpne det igjen med «kurs rom start» (eller kurs.room.start()): samme klassekode, og "
                          "deltakerne er med videre med de samme nøklene og alt de har laget.")
    return room


def reopen_hint() -> str | None:
    """After a plain ``kurs sky start``: one line if this machine has a room the cloud was started without."""
    from kurs import sky

    room = roster.load()
    running = sky.status()
    if room is None or (running is not None and running.room == room.address):
        return None
    return (f"Merk: denne maskinen har et rom ({room.address}, klassekode {room.code}), men skyen kjører uten "
            "det. Åpne rommet igjen med «kurs rom start».")


def end(*, quiet: bool = False) -> None:
    """End the room: the class code expires, learners' keys stop working, the cloud goes back to
    being this machine's alone. What the learners made stays until reset_learner() or kurs sky reset."""
    from kurs import sky

    room = roster.load()
    if room is None:
        if not quiet:
            print("Det er ikke noe rom å avslutte.")
        return
    running = sky.status()
    if running is not None:
        _remove_users(room)
        sky.stop(quiet=True)
    roster.remove()
    if running is not None:
        sky.start(quiet=True)
    if not quiet:
        print(f"Rommet er avsluttet; klassekoden {room.code} virker ikke lenger, og deltakernes nøkler er slettet. "
              "Det deltakerne laget, ligger i den lokale skyen til du tømmer den.")


def _remove_users(room: roster.Room) -> None:
    iam = _client("iam")
    for learner in room.learners.values():
        try:
            for key in iam.list_access_keys(UserName=learner.user_name)["AccessKeyMetadata"]:
                iam.delete_access_key(UserName=learner.user_name, AccessKeyId=key["AccessKeyId"])
            iam.delete_user(UserName=learner.user_name)
        except iam.exceptions.NoSuchEntityException:
            pass


def _client(service: str) -> Any:
    import boto3

    from kurs import sky

    info = sky.info()
    env = info.env()
    return boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                 aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                 region_name=info.region).client(service, endpoint_url=info.endpoint_url)


def reset_learner(name: str, *, quiet: bool = False) -> list[str]:
    """Remove everything one learner made in the room (things, certificates, policies, shadows, rules,
    functions and their logs, tables, roles, and their retained reports); they stay in the room and
    can start again. Returns what was removed."""
    from kurs.provisioning.setup import retire_certificate
    from kurs.room.names import slug as make_slug

    slug = make_slug(name)
    room = roster.load()
    if room is None or slug not in room.learners:
        raise CourseError(f"Fant ingen deltaker «{name}» i rommet.", "Se navnene i oversikten (kurs rom status).")
    iot, data = _client("iot"), _client("iot-data")
    removed: list[str] = []
    things = [t["thingName"] for t in iot.list_things()["things"] if access.slug_owns(slug, t["thingName"])]
    for thing in things:
        for principal in iot.list_thing_principals(thingName=thing)["principals"]:
            if ":cert/" in principal:
                retire_certificate(iot, principal)
        try:
            data.delete_thing_shadow(thingName=thing)
        except data.exceptions.ResourceNotFoundException:
            pass
        iot.delete_thing(thingName=thing)
        removed.append(thing)
    for policy in iot.list_policies()["policies"]:
        if access.slug_owns(slug, policy["policyName"]):
            iot.delete_policy(policyName=policy["policyName"])
            removed.append(policy["policyName"])
    for rule in iot.list_topic_rules()["rules"]:
        if access.slug_owns(slug, rule["ruleName"]):
            iot.delete_topic_rule(ruleName=rule["ruleName"])
            removed.append(rule["ruleName"])
    removed += _reset_serverless(slug)
    # Their reports (boards, progress) and anything else they left retained on their own topics.
    for page in data.get_paginator("list_retained_messages").paginate():
        for message in page.get("retainedTopics", []):
            topic = message["topic"]
            if not topic.startswith(access.PAIR_SPACE) and access.topic_allowed(slug, topic):
                data.publish(topic=topic, payload=b"", retain=True, qos=1)  # MQTT: empty + retain clears it
    room.certificates = {c: s for c, s in room.certificates.items() if s != slug}
    roster.save(room)
    if not quiet:
        print(f"Fjernet {len(removed)} ting fra {room.learners[slug].name}: " + (", ".join(removed) or "ingenting"))
    return removed


def _reset_serverless(slug: str) -> list[str]:
    """A learner's functions (and their logs), tables and roles: what notebook 06 makes."""
    from kurs.cleanup import pages, remove

    found = [("function", fn["FunctionName"]) for fn in pages(_client("lambda"), "list_functions", "Functions")]
    found += [("log_group", group["logGroupName"]) for group in pages(
        _client("logs"), "describe_log_groups", "logGroups", logGroupNamePrefix="/aws/lambda/")]
    found += [("table", table) for table in pages(_client("dynamodb"), "list_tables", "TableNames")]
    found += [("role", role["RoleName"]) for role in pages(_client("iam"), "list_roles", "Roles")]
    removed = []
    for kind, name in found:
        if access.slug_owns(slug, name.removeprefix("/aws/lambda/")) and remove(kind, name, _client):
            if kind != "log_group":  # the function's log goes with it; not listed twice
                removed.append(name)
    return removed


def broadcast(text: str) -> None:
    """A message to every learner's notebook in the room (``kurs/rom/alle/beskjed``)."""
    import json
    import time

    from kurs import mqtt

    mqtt.publish(BROADCAST, json.dumps({"tekst": str(text), "tid": time.time()}, ensure_ascii=False))
