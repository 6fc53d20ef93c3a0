"""Sending to HTTP/HTTPS endpoints: pooled connections, bounded concurrency per endpoint,
certificates verified against the system store or an operator's CA bundle.

A 2xx answer means delivered. A 5xx or 429 answer, a timeout or a connection failure is
a server-side failure, retried; any other answer (3xx, 4xx) a permanent one.
Redirects are not followed (SNS does not follow them either).
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from herald.delivery.failures import DeliveryFailed

TIMEOUT_SECONDS = 15.0  # SNS waits 15 s for an HTTP/S endpoint to answer
MAX_CONNECTIONS = 512
USER_AGENT = "Amazon Simple Notification Service Agent"


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """Verifying TLS: the system's CAs, and those of ``ca_bundle`` besides."""
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


class HttpSender:
    def __init__(
        self,
        ca_bundle: Path | None = None,
        per_endpoint: int = 32,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.tls = tls_context(ca_bundle)
        self._per_endpoint = per_endpoint
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        # At most ``per_endpoint`` requests at once per scheme, host and port. A delivery
        # waits for its turn before its 15 s start: waiting is not the endpoint's fault.
        self._turns: dict[tuple[str, str, int | None], asyncio.Semaphore] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=MAX_CONNECTIONS, limit_per_host=self._per_endpoint, ssl=self.tls
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": USER_AGENT},
                auto_decompress=False,
            )
        return self._session

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        """POST ``body``; raises DeliveryFailed unless the endpoint answers 2xx."""
        try:
            parts = urllib.parse.urlsplit(url)
            endpoint = (parts.scheme, parts.hostname or "", parts.port)
        except ValueError as exc:
            raise DeliveryFailed("InvalidEndpoint", str(exc), client_side=True) from None
        turn = self._turns.get(endpoint)
        if turn is None:
            if len(self._turns) >= 10_000:
                self._turns = {k: v for k, v in self._turns.items() if v.locked()}
            turn = self._turns[endpoint] = asyncio.Semaphore(self._per_endpoint)
        try:
            async with turn, asyncio.timeout(self._timeout):
                async with self._client().post(
                    url, data=body, headers=dict(headers), allow_redirects=False
                ) as response:
                    status = response.status
                    reason = response.reason or ""
                    await response.content.read(65_536)  # then the connection is reused
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            raise DeliveryFailed(type(exc).__name__, _describe(exc), client_side=False) from None
        if 200 <= status < 300:
            return
        # "Amazon SNS considers all 5XX errors and 429 (too many requests sent) errors as
        # retryable"; every other answer is a permanent failure.
        client_side = not (status >= 500 or status == 429)
        raise DeliveryFailed(
            str(status),
            f"The endpoint answered HTTP {status} {reason}".strip(),
            client_side=client_side,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "The endpoint did not answer in time"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"The endpoint's TLS certificate was not accepted: {exc.certificate_error}"
    return f"The endpoint could not be reached: {exc}"[:512]
