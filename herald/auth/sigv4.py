"""AWS Signature Version 4 verification, sans-IO.

The rules of this module: values in, a ``SignedRequest`` or an exception out. No socket,
no store, no clock of its own (the caller passes ``now``). Looking up the secret for an
access key is the caller's job, between ``parse()`` and ``verify()``, because that look-up
needs the store.

How it works, following AWS's "Create a signed AWS API request" (Signature Version 4):

1. ``parse()`` finds the signature, in the ``Authorization`` header or in the query string
   (presigned form), and checks its shape: algorithm, credential scope, signed headers.
2. ``verify()`` rebuilds the canonical request from what was received, derives the signing
   key from the secret (cached per secret, day, region and service), signs the string to
   sign and compares in constant time. It also checks the request time against ``now``
   (15 minutes of skew either way for the header form; X-Amz-Expires for the query form).
"""

from __future__ import annotations

import calendar
import datetime
import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote_to_bytes

from herald.errors import (
    IncompleteSignature,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureMismatch,
)

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW_SECONDS = 15 * 60
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600

_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
_SPACES = re.compile(r"\s+")
_AMZ_DATE = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
_DIGITS = re.compile(r"^[0-9]{1,10}$")
# Regions become part of ARNs, so only the characters AWS uses in region names pass.
_REGION = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_SERVICE = re.compile(r"^[a-z0-9-]{1,64}$")


@dataclass(frozen=True)
class HTTPRequest:
    """What SigV4 needs of a received request.

    ``path`` and ``query`` are exactly as they came on the wire (still percent-encoded);
    ``headers`` keeps every header line, names in lower case; ``body_sha256`` is the hex
    SHA-256 of the body the edge received.
    """

    method: str
    path: str
    query: str
    headers: Sequence[tuple[str, str]]
    body_sha256: str

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class SignedRequest:
    """The claims of a signature, before and after verification."""

    access_key_id: str
    date: str  # YYYYMMDD from the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # YYYYMMDDTHHMMSSZ
    presigned: bool
    expires: int | None
    security_token: str | None

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def is_signed(request: HTTPRequest) -> bool:
    """Whether the request carries any SigV4 signature at all."""
    auth = request.header("authorization")
    if auth is not None:
        return True
    return "X-Amz-Signature=" in request.query or "x-amz-signature=" in request.query.lower()


def parse(request: HTTPRequest) -> SignedRequest:
    """Find and shape-check the signature of ``request``.

    Raises MissingAuthenticationToken when there is none, IncompleteSignature when it is
    malformed.
    """
    auth = request.header("authorization")
    if auth is not None:
        return _parse_header(request, auth)
    query = _query_pairs(request.query)
    names = {key for key, _ in query}
    if "X-Amz-Signature" in names or "X-Amz-Algorithm" in names:
        return _parse_query(dict(query))
    raise MissingAuthenticationToken("Request is missing Authentication Token")


def _parse_header(request: HTTPRequest, auth: str) -> SignedRequest:
    algorithm, _, rest = auth.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}'")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
    if missing:
        needed = " ".join(f"Authorization header requires '{k}' parameter." for k in missing)
        raise IncompleteSignature(f"{needed} Authorization={algorithm}")
    amz_date = request.header("x-amz-date")
    if amz_date is None:
        date_header = request.header("date")
        if date_header is None:
            raise IncompleteSignature(
                "Authorization header requires existence of either a 'X-Amz-Date' or a "
                "'Date' header."
            )
        amz_date = _http_date_to_amz(date_header)
    return _claims(
        credential=fields["Credential"],
        signed_headers=fields["SignedHeaders"],
        signature=fields["Signature"],
        amz_date=amz_date.strip(),
        presigned=False,
        expires=None,
        security_token=request.header("x-amz-security-token"),
    )


def _parse_query(query: dict[str, str]) -> SignedRequest:
    required = (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Date",
    )
    missing = [k for k in required if k not in query]
    if missing:
        raise IncompleteSignature(
            " ".join(f"AWS query-string parameters must include '{k}'." for k in missing)
        )
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{query['X-Amz-Algorithm']}'")
    # A presigned request must say when it stops being valid; without X-Amz-Expires it
    # could be replayed forever.
    raw = query.get("X-Amz-Expires", "")
    if not _DIGITS.fullmatch(raw) or not 0 < int(raw) <= MAX_PRESIGN_EXPIRES:
        raise IncompleteSignature(
            f"X-Amz-Expires must be between 1 and {MAX_PRESIGN_EXPIRES} seconds."
        )
    expires = int(raw)
    return _claims(
        credential=query["X-Amz-Credential"],
        signed_headers=query["X-Amz-SignedHeaders"],
        signature=query["X-Amz-Signature"],
        amz_date=query["X-Amz-Date"],
        presigned=True,
        expires=expires,
        security_token=query.get("X-Amz-Security-Token"),
    )


def _claims(
    *,
    credential: str,
    signed_headers: str,
    signature: str,
    amz_date: str,
    presigned: bool,
    expires: int | None,
    security_token: str | None,
) -> SignedRequest:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise IncompleteSignature(
            f"Credential should be scoped to a valid region, not '{credential}'. "
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            "keyid/date/region/service/term,"
        )
    access_key_id, date, region, service, terminator = parts
    if terminator != "aws4_request":
        raise SignatureMismatch(
            f"Credential should be scoped with a valid terminator: 'aws4_request', "
            f"not '{terminator}'."
        )
    if not _REGION.fullmatch(region) or len(region) > 32:
        raise SignatureMismatch(f"Credential should be scoped to a valid region, not '{region}'.")
    if not _SERVICE.fullmatch(service):
        raise SignatureMismatch(f"Credential should be scoped to a valid service, not '{service}'.")
    if not _AMZ_DATE.fullmatch(amz_date) or _parse_amz(amz_date) is None:
        raise IncompleteSignature(f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.")
    if date != amz_date[:8]:
        raise SignatureMismatch(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
            f"date from HTTP: '{date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    names = tuple(signed_headers.split(";"))
    if "host" not in names:
        raise SignatureMismatch(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    if not re.fullmatch(r"[0-9a-f]{64}", signature):
        raise SignatureMismatch(_MISMATCH)
    return SignedRequest(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=names,
        signature=signature,
        amz_date=amz_date,
        presigned=presigned,
        expires=expires,
        security_token=security_token,
    )


def verify(request: HTTPRequest, claims: SignedRequest, secret: str, now: float) -> None:
    """Check ``claims`` against ``request`` signed with ``secret`` at time ``now`` (s).

    Raises SignatureMismatch (bad signature, clock skew) or RequestExpired (a presigned
    request past its X-Amz-Expires).
    """
    _check_time(claims, now)
    declared = request.header("x-amz-content-sha256")
    if declared == UNSIGNED_PAYLOAD and not claims.presigned:
        # Only S3 lets a signed header leave the body unsigned; elsewhere a replayed
        # signature could carry any body.
        raise SignatureMismatch(_MISMATCH)
    if declared is not None and declared != UNSIGNED_PAYLOAD:
        if not hmac.compare_digest(declared.lower().encode("utf-8"), request.body_sha256.encode()):
            raise SignatureMismatch(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
    candidates = [declared] if declared is not None else [request.body_sha256]
    # A presigned URL may leave its payload unsigned (S3 does), but then it must carry no
    # body: otherwise whoever holds the URL could add parameters its signer never saw.
    if claims.presigned and declared is None and request.body_sha256 == EMPTY_SHA256:
        candidates.append(UNSIGNED_PAYLOAD)
    if declared == UNSIGNED_PAYLOAD and request.body_sha256 != EMPTY_SHA256:
        raise SignatureMismatch(_MISMATCH)
    key = signing_key(secret, claims.date, claims.region, claims.service)
    for payload_hash in candidates:
        canonical = canonical_request(request, claims, payload_hash)
        expected = hmac.new(key, string_to_sign(claims, canonical).encode(), "sha256")
        if hmac.compare_digest(expected.hexdigest(), claims.signature):
            return
    # AWS echoes the canonical request here; Herald does not, since it can carry message
    # bodies and session tokens, which must never reach a response or a log.
    raise SignatureMismatch(_MISMATCH)


def _check_time(claims: SignedRequest, now: float) -> None:
    signed_at = _parse_amz(claims.amz_date)
    if signed_at is None:
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{claims.amz_date}'."
        )
    if claims.presigned:
        if signed_at - now > MAX_SKEW_SECONDS:
            raise SignatureMismatch("Signature not yet current.")
        if claims.expires is not None and now > signed_at + claims.expires:
            raise RequestExpired("Request has expired.")
        return
    if abs(now - signed_at) > MAX_SKEW_SECONDS:
        now_s = _amz(now)
        if signed_at < now:
            bound = _amz(now - MAX_SKEW_SECONDS)
            raise SignatureMismatch(
                f"Signature expired: {claims.amz_date} is now earlier than {bound} "
                f"({now_s} - 15 min.)"
            )
        bound = _amz(now + MAX_SKEW_SECONDS)
        raise SignatureMismatch(
            f"Signature not yet current: {claims.amz_date} is still later than {bound} "
            f"({now_s} + 15 min.)"
        )


def canonical_request(request: HTTPRequest, claims: SignedRequest, payload_hash: str) -> str:
    """The canonical request string, per AWS's SigV4 specification."""
    return "\n".join(
        (
            request.method.upper(),
            canonical_uri(request.path),
            canonical_query(request.query, drop_signature=claims.presigned),
            canonical_headers(request.headers, claims.signed_headers),
            ";".join(claims.signed_headers),
            payload_hash,
        )
    )


def string_to_sign(claims: SignedRequest, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{claims.amz_date}\n{claims.scope}\n{digest}"


def canonical_uri(raw_path: str) -> str:
    """Normalise the path (RFC 3986 dot segments, repeated slashes), then encode it.

    Services other than S3 encode the path a second time: the path on the wire is already
    encoded, and the canonical form encodes it again (so ``%20`` becomes ``%2520``).
    """
    if not raw_path:
        return "/"
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    path = "/" + "/".join(segments)
    if raw_path.endswith("/") and path != "/":
        path += "/"
    return quote(path, safe="/~")


def canonical_query(raw_query: str, *, drop_signature: bool = False) -> str:
    pairs = [
        (_encode(key), _encode(value))
        for key, value in _query_pairs_raw(raw_query)
        if not (drop_signature and key == b"X-Amz-Signature")
    ]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_headers(headers: Sequence[tuple[str, str]], names: Sequence[str]) -> str:
    wanted = set(names)
    values: dict[str, list[str]] = {}
    for key, value in headers:
        if key in wanted:
            values.setdefault(key, []).append(_SPACES.sub(" ", value.strip()))
    return "".join(f"{name}:{','.join(values.get(name, []))}\n" for name in names)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived signing key; cached, since it changes once a day per scope."""
    return _signing_key(secret, date, region, service)


@lru_cache(maxsize=4096)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode("utf-8"), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), "sha256").digest()


def _encode(value: bytes) -> str:
    return quote(value, safe="-_.~")


def _query_pairs_raw(raw_query: str) -> list[tuple[bytes, bytes]]:
    # "+" is a space in a query string (application/x-www-form-urlencoded), as AWS reads it.
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append(
            (unquote_to_bytes(key.replace("+", " ")), unquote_to_bytes(value.replace("+", " ")))
        )
    return pairs


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    return [
        (k.decode("utf-8", "replace"), v.decode("utf-8", "replace"))
        for k, v in _query_pairs_raw(raw_query)
    ]


def _parse_amz(value: str) -> int | None:
    """Seconds since the epoch of a YYYYMMDDTHHMMSSZ time, or None if it is no time."""
    if not _AMZ_DATE.fullmatch(value):
        return None
    year, month, day = int(value[0:4]), int(value[4:6]), int(value[6:8])
    hour, minute, second = int(value[9:11]), int(value[11:13]), int(value[13:15])
    if year < 1970 or not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    if hour > 23 or minute > 59 or second > 60:
        return None
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def _amz(when: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))


def _http_date_to_amz(value: str) -> str:
    """An RFC 7231 Date header (any zone form botocore writes) as an X-Amz-Date value."""
    if _AMZ_DATE.fullmatch(value.strip()):
        return value.strip()
    try:
        when = parsedate_to_datetime(value.strip())
        if when.tzinfo is None:  # "-0000" means UTC with no zone known (RFC 5322)
            when = when.replace(tzinfo=datetime.UTC)
        return _amz(when.timestamp())
    except (TypeError, ValueError, IndexError, OverflowError, OSError) as exc:
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{value}'."
        ) from exc
