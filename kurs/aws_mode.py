"""boto3 clients for the current mode, and the opt-in that guards a real AWS account.

    iot = kurs.aws_mode.client("iot")    # lokal: the local cloud (started if needed)
                                          # aws:   real AWS, only after the account is confirmed

In ``aws`` mode the first call looks up who the credentials belong to (STS
GetCallerIdentity: read-only, free, creates nothing), shows the account id and region, and
refuses to go on until the learner has confirmed that exact account:

- in a notebook: ``kurs.aws_mode.confirm("123456789012")`` (saved in the settings), or the
  environment variable ``KURS_AWS_KONTO=123456789012``;
- in a terminal: ``kurs rydd --bekreft-konto 123456789012`` (this run only).

Nothing but that one STS request is sent before the confirmation matches.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kurs import config
from kurs.errors import CourseError

_lock = threading.Lock()
_sessions: dict[tuple[str, ...], Any] = {}
_identities: dict[tuple[str, ...], Identity] = {}
_ats_endpoints: dict[tuple[str, ...], str] = {}
_confirmed_for_process: str | None = None
_announced: set[tuple[str, str]] = set()
_ACCOUNT = re.compile(r"^\d{12}$")
EXAMPLE_ACCOUNT = "123456789012"  # the number the notebooks show (and moto's account); never a learner's


@dataclass(frozen=True)
class Identity:
    """Whose AWS account the credentials open, and where calls go."""

    account: str
    arn: str
    region: str
    endpoint_url: str | None = None  # AWS_ENDPOINT_URL: calls go there instead of AWS

    def describe(self) -> str:
        where = f" (via {self.endpoint_url}, ikke AWS)" if self.endpoint_url else ""
        return f"AWS-konto {self.account}, region {self.region}, bruker {self.arn}{where}"


# --- sessions and clients ----------------------------------------------------------------
def session(settings: config.Settings | None = None) -> Any:
    """The boto3 session kurs uses for the current mode (one per mode and region, reused).

    Tests may register botocore event hooks on it (``session(...).events.register(...)``).
    """
    settings = settings or config.load()
    import boto3

    if settings.mode == "lokal":
        sky = _local_cloud()
        from kurs.sky.credentials import load

        credentials = load()
        key = ("lokal", sky.endpoint_url, sky.region, credentials.access_key_id)
        with _lock:
            if key not in _sessions:
                _sessions[key] = boto3.session.Session(aws_access_key_id=credentials.access_key_id,
                                                       aws_secret_access_key=credentials.secret_access_key,
                                                       region_name=sky.region)
            return _sessions[key]
    _check_aws_environment()
    region = _checked_region(settings.aws_region)
    key = ("aws", region, os.environ.get("AWS_PROFILE", ""), os.environ.get("AWS_ACCESS_KEY_ID", ""))
    with _lock:
        if key not in _sessions:
            _sessions[key] = boto3.session.Session(region_name=region)
        return _sessions[key]


def client(service: str, *, settings: config.Settings | None = None, confirm_account: str | None = None) -> Any:
    """A boto3 client for ``service`` ("iot", "iot-data", "lambda", "dynamodb", …) in the current mode."""
    settings = settings or config.load()
    if settings.mode == "lokal":
        sky = _local_cloud()
        return session(settings).client(service, endpoint_url=sky.endpoint_url, region_name=sky.region)
    require_confirmation(settings, confirm_account)
    if service == "iot-data" and not (os.environ.get("AWS_ENDPOINT_URL_IOT_DATA") or os.environ.get("AWS_ENDPOINT_URL")):
        # The data plane lives on the account's own ATS endpoint (AWS's advice for iot-data).
        return session(settings).client(service, region_name=settings.aws_region,
                                        endpoint_url=f"https://{_ats_endpoint(settings)}")
    return session(settings).client(service, region_name=settings.aws_region)


def _ats_endpoint(settings: config.Settings) -> str:
    key = ("ats", settings.aws_region, os.environ.get("AWS_PROFILE", ""), os.environ.get("AWS_ACCESS_KEY_ID", ""))
    with _lock:
        cached = _ats_endpoints.get(key)
    if cached is None:
        with friendly_errors(settings):
            iot = session(settings).client("iot", region_name=settings.aws_region)
            cached = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
        with _lock:
            _ats_endpoints[key] = cached
    return cached


def _local_cloud() -> Any:
    from kurs import sky

    current = sky.status()
    return current if current is not None else sky.start()


# --- the opt-in -------------------------------------------------------------------------
def identity(settings: config.Settings | None = None) -> Identity:
    """Look up the account behind the credentials (aws mode). One STS request per process."""
    settings = settings or config.load()
    if settings.mode != "aws":
        raise CourseError("identity() gjelder bare aws-modus.", "Sett KURS_MODUS=aws først.")
    sess = session(settings)
    credentials = sess.get_credentials()
    if credentials is None:
        raise _no_credentials()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_STS") or os.environ.get("AWS_ENDPOINT_URL") or None
    key = (settings.aws_region, credentials.access_key or "", endpoint or "")
    with _lock:
        cached = _identities.get(key)
    if cached is not None:
        return cached
    with friendly_errors(settings):
        answer = sess.client("sts", region_name=settings.aws_region).get_caller_identity()
    found = Identity(account=answer["Account"], arn=answer["Arn"], region=settings.aws_region, endpoint_url=endpoint)
    with _lock:
        _identities[key] = found
    return found


def require_confirmation(settings: config.Settings | None = None, confirm_account: str | None = None) -> Identity:
    """The confirmed identity, or a Norwegian CourseError that shows account and region."""
    settings = settings or config.load()
    who = identity(settings)
    confirmed = confirm_account or _confirmed_for_process or settings.aws_account
    if confirmed != who.account:
        problem = ("Du har ikke bekreftet hvilken AWS-konto kurset skal bruke."
                   if not confirmed else
                   f"Du har bekreftet konto {confirmed}, men nøklene på denne maskinen hører til en annen konto.")
        raise aws_error(
            f"{problem}\nNøklene hører til {who.describe()}.\n"
            "Kurset lager ting, sertifikater og policyer der, og noe av det kan koste penger. "
            "Ingenting er sendt til AWS ennå, bortsett fra spørsmålet om hvilken konto nøklene hører til.",
            f"Er dette riktig konto, så bekreft den: i notatboka med kurs.aws_mode.confirm(\"{who.account}\"), "
            f"i en terminal med --bekreft-konto {who.account}, eller med miljøvariabelen "
            f"KURS_AWS_KONTO={who.account}. Er det feil konto, bytt nøkler (aws configure).",
        )
    announce = (who.account, who.region)
    if announce not in _announced:
        _announced.add(announce)
        print(f"AWS-modus: bruker {who.describe()} (bekreftet).")
    return who


def confirm(account_id: str, *, region: str | None = None, save: bool = True) -> config.Settings:
    """Opt in to aws mode for this account (and region). Saved in the settings unless save=False."""
    global _confirmed_for_process
    account_id = str(account_id).strip()
    if not _ACCOUNT.match(account_id):
        raise CourseError(f"«{account_id}» er ikke et AWS-kontonummer.",
                          "Et kontonummer har 12 sifre, for eksempel 123456789012. Du finner det øverst til "
                          "høyre i AWS-konsollen, eller med «aws sts get-caller-identity».")
    if account_id == EXAMPLE_ACCOUNT and not os.environ.get("AWS_ENDPOINT_URL"):
        # Only the local cloud (moto) really has this number; tests point aws mode at it.
        raise CourseError(f"{EXAMPLE_ACCOUNT} er eksempelnummeret fra notatboka, ikke din konto. Kurset blir i "
                          "lokal modus.",
                          "Finn ditt eget kontonummer med «aws sts get-caller-identity --query Account» (eller "
                          "øverst til høyre i AWS-konsollen) og bekreft det i stedet.")
    settings = config.load()
    settings.mode = "aws"
    settings.aws_account = account_id
    if region:
        settings.aws_region = _checked_region(region)
    _confirmed_for_process = account_id
    if save:
        config.save(settings)
    print(f"Bekreftet AWS-konto {account_id}, region {settings.aws_region}. "
          "Gå tilbake til lokal modus med kurs.aws_mode.use_local().")
    return settings


def use_local() -> config.Settings:
    """Back to the local cloud (saved in the settings). Environment variables still win."""
    global _confirmed_for_process
    settings = config.load()
    settings.mode = "lokal"
    _confirmed_for_process = None
    config.save(settings)
    if os.environ.get("KURS_MODUS", "lokal") != "lokal":
        print("Obs: miljøvariabelen KURS_MODUS er satt og overstyrer innstillingsfila.")
    print(settings.describe())
    return settings


def confirm_for_this_run(account_id: str | None) -> None:
    """The terminal's ``--bekreft-konto``: confirm for this process only."""
    global _confirmed_for_process
    if account_id:
        if not _ACCOUNT.match(account_id.strip()):
            raise CourseError(f"«{account_id}» er ikke et AWS-kontonummer.", "Et kontonummer har 12 sifre.")
        _confirmed_for_process = account_id.strip()


def summary(settings: config.Settings | None = None) -> str:
    """One Norwegian line on where kurs sends its calls; in aws mode it looks the account up."""
    settings = settings or config.load()
    if settings.mode == "lokal":
        return settings.describe()
    who = identity(settings)
    state = "bekreftet" if (_confirmed_for_process or settings.aws_account) == who.account else "IKKE bekreftet"
    return f"Modus: aws — {who.describe()} ({state})"


# --- checks and errors ------------------------------------------------------------------
def _check_aws_environment() -> None:
    from kurs.sky.credentials import is_local_key

    if is_local_key(os.environ.get("AWS_ACCESS_KEY_ID")):
        raise aws_error(
            "Du er i aws-modus, men miljøet peker fortsatt mot den lokale skyen "
            "(kurs.sky.start() eller «kurs sky env» satte AWS_ENDPOINT_URL og skyens egne nøkler).",
            "Start kjernen på nytt (Kernel > Restart) etter at du har byttet modus, eller åpne en ny terminal "
            "uten «eval $(kurs sky env)».",
        )


def _checked_region(region: str) -> str:
    import boto3

    known = boto3.session.Session().get_available_regions("iot")
    if region not in known:
        raise CourseError(f"«{region}» er ikke en AWS-region med IoT Core.",
                          "Kurset bruker eu-west-1 (Irland). Sett KURS_AWS_REGION=eu-west-1, eller "
                          "kurs.aws_mode.confirm(<konto>, region=\"eu-west-1\").")
    return region


def way_back() -> str:
    """How to get back to the local cloud, as a learner in this situation can do it."""
    if os.environ.get("KURS_MODUS", "lokal") != "lokal":
        return ("Vil du tilbake til den lokale skyen: miljøvariabelen KURS_MODUS=aws er satt for Jupyter. "
                "Fjern den (eller sett KURS_MODUS=lokal) og start Jupyter på nytt.")
    return ("Vil du tilbake til den lokale skyen: kjør kurs.aws_mode.use_local() i en celle, og start kjernen "
            "på nytt (Kernel › Restart Kernel). I en terminal: KURS_MODUS=lokal foran kommandoen.")


def aws_error(message: str, fix: str) -> CourseError:
    """A CourseError from aws mode: the fix, then the way back to lokal mode."""
    return CourseError(message, f"{fix}\n{way_back()}")


def _no_credentials() -> CourseError:
    return aws_error("Fant ingen AWS-nøkler (access key) på denne maskinen.",
                     "Kjør «aws configure» i en terminal med tilgangsnøkkelen til IAM-brukeren din.")


_CREDENTIAL_CODES = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                     "AuthFailure", "InvalidAccessKeyId", "IncompleteSignature"}
_EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedException", "UnauthorizedOperation"}


def translate(exc: BaseException, settings: config.Settings | None = None) -> CourseError | None:
    """A Norwegian CourseError for credential, region and permission errors; None for others."""
    from botocore import exceptions as bx

    region = settings.aws_region if settings else "?"
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return _no_credentials()
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return aws_error(f"Får ikke kontakt med AWS ({exc}).",
                           f"Sjekk nettverket, og at regionen {region} er riktig (kurset bruker eu-west-1).")
    if isinstance(exc, bx.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _CREDENTIAL_CODES:
            return aws_error("AWS kjenner ikke igjen tilgangsnøkkelen, eller den hemmelige nøkkelen stemmer ikke.",
                               "Sjekk nøklene med «aws configure list», og lag en ny tilgangsnøkkel for "
                               "IAM-brukeren i AWS-konsollen om nødvendig. Kjør så «aws configure» igjen.")
        if code in _EXPIRED_CODES:
            return aws_error("AWS-nøklene har gått ut (midlertidige nøkler varer bare en stund).",
                               "Logg inn på nytt (for eksempel «aws sso login»), eller hent nye nøkler og kjør "
                               "«aws configure».")
        if code in DENIED_CODES:
            return aws_error(f"AWS nekter IAM-brukeren å gjøre dette: {exc.response['Error'].get('Message', code)}",
                               "Gi IAM-brukeren en policy som tillater AWS IoT (og Lambda og DynamoDB for de "
                               "senere notatbøkene), for eksempel AWSIoTFullAccess, og prøv igjen.")
    return None


@contextlib.contextmanager
def friendly_errors(settings: config.Settings | None = None) -> Iterator[None]:
    """Turn boto3's credential, region and permission errors into Norwegian CourseErrors."""
    try:
        yield
    except CourseError:
        raise
    except Exception as exc:
        course_error = translate(exc, settings)
        if course_error is None:
            raise
        raise course_error from exc


def reset() -> None:
    """Forget cached sessions, identities and this run's confirmation (tests, mode switches)."""
    global _confirmed_for_process
    with _lock:
        _sessions.clear()
        _identities.clear()
        _ats_endpoints.clear()
    _announced.clear()
    _confirmed_for_process = None
