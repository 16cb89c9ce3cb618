"""The aws-mode opt-in, tested by pointing aws mode at the local cloud (we cannot reach AWS here).

Same boto3 calls, same code path; AWS_ENDPOINT_URL only changes where they go.
"""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError

from kurs import aws_mode, config
from kurs.errors import CourseError
from kurs.provisioning.endpoint import amazon_root_ca

LOCAL_ACCOUNT = "123456789012"  # the local cloud's (moto's) account


def _count_requests() -> list[str]:
    sent: list[str] = []
    aws_mode.session().events.register(
        "before-send", lambda event_name, **kw: sent.append(event_name.split(".", 1)[1]))
    return sent


@pytest.mark.integration
def test_without_confirmation_nothing_but_the_account_lookup_is_sent(aws_env, iot):
    from kurs.cleanup import clean
    from kurs.provisioning import provision

    sent = _count_requests()
    with pytest.raises(CourseError) as err:
        aws_mode.client("iot")
    message = str(err.value)
    assert LOCAL_ACCOUNT in message and "eu-west-1" in message
    assert "ikke bekreftet" in message and f"--bekreft-konto {LOCAL_ACCOUNT}" in message
    with pytest.raises(CourseError):
        provision("esp32_AVVIST", verbose=False)
    with pytest.raises(CourseError):
        clean(verbose=False)
    assert set(sent) == {"sts.GetCallerIdentity"}, sent
    assert sent.count("sts.GetCallerIdentity") == 1, "the identity is looked up once, then remembered"
    assert "esp32_AVVIST" not in [t["thingName"] for t in iot.list_things()["things"]]


@pytest.mark.integration
def test_a_confirmed_account_lets_calls_through(aws_env, monkeypatch, capsys):
    monkeypatch.setenv("KURS_AWS_KONTO", LOCAL_ACCOUNT)
    sent = _count_requests()
    aws_mode.client("iot").list_things()
    assert sent == ["sts.GetCallerIdentity", "iot.ListThings"]
    assert f"AWS-konto {LOCAL_ACCOUNT}, region eu-west-1" in capsys.readouterr().out


@pytest.mark.integration
def test_the_terminal_flag_confirms_for_one_run(aws_env):
    aws_mode.client("iot", confirm_account=LOCAL_ACCOUNT).list_things()
    with pytest.raises(CourseError):
        aws_mode.client("iot")  # the flag is not remembered


@pytest.mark.integration
def test_a_different_confirmed_account_is_refused(aws_env, monkeypatch):
    monkeypatch.setenv("KURS_AWS_KONTO", "999999999999")
    with pytest.raises(CourseError, match="bekreftet konto 999999999999") as err:
        aws_mode.client("iot")
    assert LOCAL_ACCOUNT in str(err.value)


@pytest.mark.integration
def test_confirm_saves_the_opt_in_in_the_settings(aws_env, monkeypatch, tmp_path):
    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    monkeypatch.delenv("KURS_MODUS")
    aws_mode.confirm(LOCAL_ACCOUNT)
    saved = config.load()
    assert (saved.mode, saved.aws_account) == ("aws", LOCAL_ACCOUNT)
    aws_mode.client("iot").list_things()
    aws_mode.use_local()
    assert config.load().mode == "lokal"


@pytest.mark.integration
@pytest.mark.parametrize("port,alpn", [(8883, None), (443, "x-amzn-mqtt-ca")])
def test_provisioning_in_aws_mode_uses_aws_port_alpn_and_amazon_root_ca(aws_env, monkeypatch, iot, port, alpn):
    from kurs.provisioning import provision

    monkeypatch.setenv("KURS_AWS_KONTO", LOCAL_ACCOUNT)
    monkeypatch.setenv("KURS_AWS_MQTT_PORT", str(port))
    result = provision("esp32_AWSMODUS", verbose=False)
    assert (result.port, result.alpn) == (port, alpn)
    assert result.device_config["mqtt.server"].endswith(f":{port}")
    assert "shadow.lib" not in result.device_config  # on AWS the endpoint is *.amazonaws.com
    assert result.ca_file.read_bytes() == amazon_root_ca()
    assert f"aws-{LOCAL_ACCOUNT}-eu-west-1" in str(result.key_file)  # never mixed with the local cloud's
    assert iot.describe_thing(thingName="esp32_AWSMODUS")["thingName"] == "esp32_AWSMODUS"


def test_the_shipped_root_ca_is_amazon_root_ca_1():
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from kurs.provisioning.endpoint import AWS_ROOT_CA_SHA256

    cert = x509.load_pem_x509_certificate(amazon_root_ca())
    assert cert.subject.rfc4514_string() == "CN=Amazon Root CA 1,O=Amazon,C=US"
    assert hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest() == AWS_ROOT_CA_SHA256


def test_missing_credentials_name_aws_configure(monkeypatch, tmp_path):
    monkeypatch.setenv("KURS_MODUS", "aws")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "finnes-ikke"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "finnes-ikke"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    aws_mode.reset()
    with pytest.raises(CourseError, match="Fant ingen AWS-nøkler") as err:
        aws_mode.client("iot")
    assert "aws configure" in str(err.value)
    aws_mode.reset()


def test_an_unknown_region_is_refused_before_any_call(monkeypatch):
    monkeypatch.setenv("KURS_MODUS", "aws")
    monkeypatch.setenv("KURS_AWS_REGION", "eu-norge-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAKURSTEST")
    aws_mode.reset()
    with pytest.raises(CourseError, match="ikke en AWS-region") as err:
        aws_mode.client("iot")
    assert "eu-west-1" in str(err.value)


def test_the_local_clouds_fake_keys_in_aws_mode_are_caught(monkeypatch):
    monkeypatch.setenv("KURS_MODUS", "aws")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "LOKALABCDEFGHIJKLMNO")  # kurs.sky.credentials' prefix
    aws_mode.reset()
    with pytest.raises(CourseError, match="peker fortsatt mot den lokale skyen"):
        aws_mode.client("iot")


@pytest.mark.parametrize("code,words", [
    ("InvalidClientTokenId", "kjenner ikke igjen tilgangsnøkkelen"),
    ("UnrecognizedClientException", "kjenner ikke igjen tilgangsnøkkelen"),
    ("SignatureDoesNotMatch", "kjenner ikke igjen tilgangsnøkkelen"),
    ("ExpiredToken", "har gått ut"),
    ("ExpiredTokenException", "har gått ut"),
    ("AccessDeniedException", "nekter IAM-brukeren"),
])
def test_credential_errors_become_norwegian_with_a_fix(code, words):
    error = ClientError({"Error": {"Code": code, "Message": "x"}}, "ListThings")
    translated = aws_mode.translate(error)
    assert translated is not None and words in translated.message and translated.fix


def test_other_errors_are_left_alone():
    assert aws_mode.translate(ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "DescribeThing")) is None


def test_confirm_rejects_something_that_is_not_an_account_id():
    with pytest.raises(CourseError, match="12 sifre"):
        aws_mode.confirm("min-konto", save=False)


# --- a learner recovers from every mode mix-up from the message alone ---------------------------------

def test_the_notebooks_example_account_is_refused_and_nothing_is_saved(monkeypatch, tmp_path):
    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    monkeypatch.delenv("KURS_MODUS", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # real AWS, where the example is nobody's account
    with pytest.raises(CourseError, match="eksempelnummeret") as err:
        aws_mode.confirm(aws_mode.EXAMPLE_ACCOUNT, region="eu-west-1")
    assert "aws sts get-caller-identity" in str(err.value)
    assert config.load().mode == "lokal" and not config.settings_file().exists()


def test_missing_keys_in_saved_aws_mode_name_the_way_back(monkeypatch, tmp_path):
    # What notebook 04's first cell met after 03's example switched the saved settings to aws.
    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    monkeypatch.delenv("KURS_MODUS", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "ingen-nokler"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "ingen-config"))
    config.save(config.Settings(mode="aws", aws_account="210987654321"))
    aws_mode.reset()
    with pytest.raises(CourseError) as err:
        aws_mode.client("iot")
    text = str(err.value)
    assert "Fant ingen AWS-nøkler" in text and "kurs.aws_mode.use_local()" in text
    aws_mode.use_local()  # what the message says, and the saved mode is lokal again
    assert config.load().mode == "lokal"


def test_aws_mode_from_the_environment_says_to_unset_it(monkeypatch, tmp_path):
    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    monkeypatch.setenv("KURS_MODUS", "aws")
    assert "KURS_MODUS" in aws_mode.way_back() and "use_local" not in aws_mode.way_back()


@pytest.mark.integration
def test_an_unconfirmed_account_names_the_way_back(aws_env):
    with pytest.raises(CourseError) as err:
        aws_mode.client("iot")
    assert "KURS_MODUS" in str(err.value)  # aws_env sets it, so that is the way back here
