"""The request context the in-process service tests act under: the account's root,
over HTTPS with SigV4."""

from __future__ import annotations

from herald.types import Principal, RequestContext

ACCOUNT = "000000000000"
CTX = RequestContext(
    principal=Principal(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "AK"),
    region="us-east-1",
    request_id="test",
    secure_transport=True,
    sigv4=True,
)
