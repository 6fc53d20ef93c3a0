"""Values that cross layers."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Principal:
    """Who made a request, as established by SigV4 verification.

    ``arn`` is the principal's ARN (``arn:aws:iam::ACCOUNT:root`` for an account's root
    credentials, ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`` for a role session);
    ``user_id`` is what GetCallerIdentity would call UserId. Temporary credentials name
    their ``session`` kind ("AssumeRole" or "GetSessionToken"), the assumed ``role_arn``
    and the ``session_policies`` that narrow them. An AWS service principal acting for an
    event source has ``service`` ("events.amazonaws.com") as its ``arn``, and
    ``account_id`` is the source account.
    """

    account_id: str
    arn: str
    user_id: str
    access_key_id: str
    session: str | None = None
    role_arn: str | None = None
    session_policies: tuple[str, ...] = ()
    service: str | None = None
    source_arn: str | None = None

    def __post_init__(self) -> None:
        if not _ACCOUNT.fullmatch(self.account_id):
            raise ValueError("account_id must be 12 digits")
        if not self.arn.startswith("arn:") and self.arn != self.service:
            raise ValueError("arn must be an ARN")

    @property
    def is_root(self) -> bool:
        return self.arn.endswith(":root")


@dataclass(frozen=True)
class RequestContext:
    """What every service call knows about the request it serves."""

    principal: Principal
    region: str
    request_id: str
    secure_transport: bool  # arrived over TLS
    sigv4: bool  # signed with Signature Version 4
    source_ip: str | None = None
    user_agent: str | None = None
    endpoint: str | None = None  # "https://host:port" as the client addressed Herald
    trace_id: str | None = None  # the X-Amzn-Trace-Id header (X-Ray), as sent

    def __post_init__(self) -> None:
        if not self.region:
            raise ValueError("region must not be empty")
