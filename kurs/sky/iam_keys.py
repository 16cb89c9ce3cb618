"""Access keys of an IAM user in the local cloud: credentials that look and act like a real
account's (``AKIA…``), not the cloud's own (``LOKAL…``).

The cloud's front door accepts any active access key of the account, as AWS does, so these let a
notebook show ``aws`` mode against the local cloud ("as if it were AWS") without an AWS account,
and tests exercise aws mode end to end. Nothing is printed; the secret only goes into the
environment of the ``with`` block or command that uses it.
"""

from __future__ import annotations

COURSE_USER = "kurs-deltaker"  # notebook 01's least-privilege user


def user_keys(user_name: str = COURSE_USER) -> dict[str, str]:
    """A fresh access key for ``user_name`` (made if missing) as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.

    Older keys of the user are deleted first (IAM allows two per user); the local cloud never
    saves access keys in its snapshot, so after a restart ask again.
    """
    from kurs import sky
    from kurs.aws_mode import session
    from kurs.config import load

    settings = load()
    if settings.mode != "lokal":
        from kurs.errors import CourseError

        raise CourseError("user_keys() lager nøkler i den lokale skyen, men kurset er i aws-modus.",
                          "Lag tilgangsnøkler for ekte AWS i AWS-konsollen (se notatbok 01).")
    current = sky.status() or sky.start(quiet=True)
    iam = session(settings).client("iam", endpoint_url=current.endpoint_url, region_name=current.region)
    try:
        iam.create_user(UserName=user_name)
    except iam.exceptions.EntityAlreadyExistsException:
        for old in iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user_name, AccessKeyId=old["AccessKeyId"])
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
