"""Values that cross layers."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Principal:
    """Who made a request, as established by SigV4 verification.

    ``arn`` is the principal's ARN (``arn:aws:iam::ACCOUNT:root`` for an account's root
    credentials); ``user_id`` is what GetCallerIdentity would call UserId.
    """

    account_id: str
    arn: str
    user_id: str
    access_key_id: str

    def __post_init__(self) -> None:
        if not _ACCOUNT.fullmatch(self.account_id):
            raise ValueError("account_id must be 12 digits")
        if not self.arn.startswith("arn:"):
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

    def __post_init__(self) -> None:
        if not self.region:
            raise ValueError("region must not be empty")
