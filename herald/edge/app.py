"""The ASGI application: body limits, request ids, authentication, routing by service.

One endpoint serves every service. A request is routed by the service named in its SigV4
credential scope (header or presigned query), which every AWS SDK sets; the Query protocol
codec then dispatches on Action. Nothing here knows an AWS error code: errors become wire
shapes through the owning protocol's error table.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from herald import errors, ids
from herald.auth import sigv4
from herald.clock import Clock
from herald.edge import prometheus
from herald.edge.authn import Authenticator
from herald.iam.facade import IAM
from herald.kms.gate import Gate
from herald.protocols import errors as wire_errors
from herald.protocols import (
    iam_api,
    kms_api,
    query,
    sns_api,
    sqs_api,
    sqs_query_api,
    sts_api,
)
from herald.protocols import json as json_codec
from herald.protocols import xml as xml_render
from herald.sns import metrics as sns_metrics
from herald.sns.service import SNSService
from herald.sqs.service import SQSService
from herald.sts.service import STSService
from herald.types import RequestContext

log = logging.getLogger("herald.edge")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_MAX_BODY = 2 * 1024 * 1024
BODY_TIMEOUT_SECONDS = 60
HEALTH_PATH = "/_herald/health"
METRICS_PATH = "/metrics"
CERT_PREFIX = "/SimpleNotificationService-"


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str
    request_id: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


class QueryService:
    """A service spoken over the AWS Query protocol (form in, XML out)."""

    def __init__(
        self,
        name: str,
        namespace: str,
        version: str,
        actions: dict[str, Any],
        table: wire_errors.ErrorTable,
        service: object,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.version = version
        self.actions = actions
        self.table = table
        self.service = service

    async def handle(self, ctx: RequestContext, params: query.QueryParams) -> bytes:
        action = params.get("Action")
        if not action:
            raise errors.MissingAction("Could not find the Action parameter in the request.")
        version = params.get("Version")
        handler = self.actions.get(action)
        if handler is None or (version is not None and version != self.version):
            raise errors.InvalidAction(
                f"Could not find operation {action} for version {version or self.version}"
            )
        result = await handler(self.service, ctx, params)
        return xml_render.response(action, self.namespace, result, ctx.request_id)

    def error(self, exc: BaseException, request_id: str) -> Response:
        wire = wire_errors.lookup(self.table, exc)
        message = (
            exc.message
            if isinstance(exc, errors.HeraldError)
            else (f"An internal error occurred. Request id: {request_id}")
        )
        if wire.status >= 500 and isinstance(exc, errors.HeraldError):
            message = f"{message} Request id: {request_id}"
        body = xml_render.error(self.namespace, wire.kind, wire.code, message, request_id)
        return Response(wire.status, body, "text/xml", request_id)


class JSONService:
    """A service spoken over the AWS JSON 1.1 protocol (JSON in, JSON out)."""

    def __init__(
        self,
        name: str,
        prefix: str,
        actions: dict[str, Any],
        table: wire_errors.ErrorTable,
        service: object,
        content_type: str = json_codec.CONTENT_TYPE,
        type_prefix: str = "",
        query_codes: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.prefix = prefix
        self.actions = actions
        self.table = table
        self.service = service
        self.content_type = content_type
        # JSON services that grew out of the Query protocol (SQS) name errors by shape
        # ("com.amazonaws.sqs#QueueDoesNotExist") and give the old Query code in the
        # x-amzn-query-error header, which SDKs prefer.
        self.type_prefix = type_prefix
        self.query_codes = query_codes or {}

    async def handle(self, ctx: RequestContext, target: str | None, body: bytes) -> bytes:
        name = json_codec.operation(target, self.prefix)
        handler = self.actions.get(name)
        if handler is None:
            raise errors.InvalidAction(f"Unknown operation {name}")
        result = await handler(self.service, ctx, json_codec.Params(json_codec.parse_body(body)))
        return json_codec.response(result)

    def error(self, exc: BaseException, request_id: str) -> Response:
        wire = wire_errors.lookup(self.table, exc)
        if isinstance(exc, errors.HeraldError):
            message = exc.message
            if wire.status >= 500:
                message = f"{message} Request id: {request_id}"
        else:
            message = f"An internal error occurred. Request id: {request_id}"
        headers: tuple[tuple[bytes, bytes], ...] = ()
        query_code = self.query_codes.get(wire.code)
        if query_code is not None:
            fault = "Sender" if wire.sender_fault else "Receiver"
            headers = ((b"x-amzn-query-error", f"{query_code};{fault}".encode()),)
        body = json_codec.error(self.type_prefix + wire.code, message)
        return Response(wire.status, body, self.content_type, request_id, headers)


class HeraldApp:
    """The ASGI callable."""

    def __init__(
        self,
        *,
        sns: SNSService,
        iam: IAM,
        sts: STSService,
        kms: kms_api.KMS | None = None,
        sqs: SQSService | None = None,
        authenticator: Authenticator,
        clock: Clock,
        max_body: int = DEFAULT_MAX_BODY,
        trusted_proxies: tuple[str, ...] = (),
        metrics: Gate | None = None,
        certificates: Callable[[str], Awaitable[bytes | None]] | None = None,
        ping: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``ping`` checks the store for the health check (a load balancer then stops
        sending requests to a node that has lost its database)."""
        self._auth = authenticator
        self._ping = ping
        self._sns = sns
        self._clock = clock
        self._max_body = max_body
        self._proxies = [ipaddress.ip_network(c, strict=False) for c in trusted_proxies]
        self._metrics = metrics
        self._certificates = certificates
        self._services: dict[str, QueryService] = {
            "sns": QueryService(
                "sns", sns_api.NAMESPACE, sns_api.VERSION, sns_api.ACTIONS, wire_errors.SNS, sns
            ),
            "iam": QueryService(
                "iam", iam_api.NAMESPACE, iam_api.VERSION, iam_api.ACTIONS, wire_errors.IAM, iam
            ),
            "sts": QueryService(
                "sts", sts_api.NAMESPACE, sts_api.VERSION, sts_api.ACTIONS, wire_errors.STS, sts
            ),
        }
        self._json: dict[str, JSONService] = {}
        if kms is not None:
            self._json["kms"] = JSONService(
                "kms", kms_api.TARGET_PREFIX, kms_api.ACTIONS, wire_errors.KMS, kms
            )
        if sqs is not None:
            self._services["sqs"] = QueryService(
                "sqs",
                sqs_query_api.NAMESPACE,
                sqs_query_api.VERSION,
                sqs_query_api.ACTIONS,
                wire_errors.SQS_QUERY,
                sqs,
            )
            self._json["sqs"] = JSONService(
                "sqs",
                sqs_api.TARGET_PREFIX,
                sqs_api.ACTIONS,
                wire_errors.SQS,
                sqs,
                content_type="application/x-amz-json-1.0",
                type_prefix="com.amazonaws.sqs#",
                query_codes=wire_errors.SQS_QUERY_CODES,
            )
        self._fallback = QueryService(
            "unknown", sns_api.NAMESPACE, "", {}, wire_errors.COMMON, None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response = await self._respond(scope, receive)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (b"content-type", response.content_type.encode()),
                    (b"content-length", str(len(response.body)).encode()),
                    (b"x-amzn-requestid", response.request_id.encode()),
                    *response.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    async def _respond(self, scope: Scope, receive: Receive) -> Response:
        request_id = ids.uuid4()
        if scope["path"] == HEALTH_PATH and scope["method"] in ("GET", "HEAD"):
            if self._ping is not None:
                try:
                    await asyncio.wait_for(self._ping(), timeout=5)
                except (errors.HeraldError, TimeoutError):
                    body = b'{"status":"unavailable","reason":"the store does not answer"}'
                    return Response(503, body, "application/json", request_id)
            return Response(200, b'{"status":"ok"}', "application/json", request_id)
        certificate = await self._certificate(scope)
        if certificate is not None:
            return Response(200, certificate, "application/x-pem-file", request_id)
        if scope["path"] == METRICS_PATH and scope["method"] == "GET" and self._metrics:
            text = prometheus.render(self._metrics.counts) + prometheus.render_topics(
                self._sns.publisher.metrics.counts, sns_metrics.NAMES
            )
            body = text.encode()
            return Response(200, body, prometheus.CONTENT_TYPE, request_id)
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        link = await self._link(scope, headers, request_id)
        if link is not None:
            return link
        service = self._fallback
        try:
            body = await self._read_body(scope, receive, headers)
            request = sigv4.HTTPRequest(
                method=scope["method"],
                path=scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?")[0],
                query=scope.get("query_string", b"").decode("latin-1"),
                headers=headers,
                body_sha256=hashlib.sha256(body).hexdigest(),
            )
            claims = sigv4.parse(request)
            json_service = self._json.get(claims.service)
            # SQS speaks both: JSON when X-Amz-Target names the operation, else Query.
            if json_service is not None and (
                claims.service not in self._services or request.header("x-amz-target")
            ):
                return await self._json_call(json_service, request, claims, scope, body, request_id)
            service = self._services.get(claims.service, self._fallback)
            if service is self._fallback:
                raise errors.UnsupportedOperation(
                    f"Herald does not offer the service '{claims.service}' at this endpoint."
                )
            ctx = await self._context(request, claims, scope, request_id)
            params = query.parse_form(_form_body(headers, body), request.query)
            payload = await service.handle(ctx, params)
            return Response(200, payload, "text/xml", request_id)
        except errors.HeraldError as exc:
            return self._answering(service, headers).error(exc, request_id)
        except Exception as exc:
            log.exception("request %s failed", request_id)
            return self._answering(service, headers).error(exc, request_id)

    async def _link(
        self, scope: Scope, headers: list[tuple[str, str]], request_id: str
    ) -> Response | None:
        """GET /?Action=Unsubscribe&SubscriptionArn=... (the UnsubscribeURL in messages)
        and GET /?Action=ConfirmSubscription&TopicArn=...&Token=... (the SubscribeURL in
        confirmation messages), which work without credentials, as in SNS."""
        if scope["method"] != "GET" or scope["path"] != "/":
            return None
        raw = scope.get("query_string", b"").decode("latin-1")
        params = dict(urllib.parse.parse_qsl(raw))
        action = params.get("Action")
        if action not in ("Unsubscribe", "ConfirmSubscription") or "X-Amz-Signature" in params:
            return None
        if any(k == "authorization" for k, _ in headers):
            return None
        service = self._services["sns"]
        result: list[xml_render.Node] | None = None
        try:
            if action == "Unsubscribe":
                await self._sns.subscriptions.unsubscribe_by_link(params.get("SubscriptionArn"))
            else:
                arn = await self._sns.subscriptions.confirm_by_link(
                    params.get("TopicArn"), params.get("Token")
                )
                result = [xml_render.el("SubscriptionArn", arn)]
        except errors.HeraldError as exc:
            return service.error(exc, request_id)
        body = xml_render.response(action, service.namespace, result, request_id)
        return Response(200, body, "text/xml", request_id)

    def _answering(
        self, service: QueryService, headers: list[tuple[str, str]]
    ) -> QueryService | JSONService:
        """Who words an error raised before the request was routed (a body too large):
        a JSON service named by X-Amz-Target, else the Query fallback."""
        if service is not self._fallback:
            return service
        target = next((v for k, v in headers if k == "x-amz-target"), "")
        prefix = target.split(".", 1)[0]
        return next((s for s in self._json.values() if s.prefix == prefix), service)

    async def _context(
        self,
        request: sigv4.HTTPRequest,
        claims: sigv4.SignedRequest,
        scope: Scope,
        request_id: str,
    ) -> RequestContext:
        principal = await self._auth.authenticate(request, claims, self._clock.now())
        return RequestContext(
            principal=principal,
            region=claims.region,
            request_id=request_id,
            secure_transport=self._secure(scope, request),
            sigv4=True,
            source_ip=(scope.get("client") or (None,))[0],
            user_agent=request.header("user-agent"),
            endpoint=_endpoint(scope, request),
            trace_id=request.header("x-amzn-trace-id"),
        )

    async def _certificate(self, scope: Scope) -> bytes | None:
        """The certificate at a SigningCertURL (/SimpleNotificationService-NAME.pem)."""
        path = scope["path"]
        if self._certificates is None or scope["method"] != "GET":
            return None
        if not (path.startswith(CERT_PREFIX) and path.endswith(".pem")):
            return None
        name = path[len(CERT_PREFIX) : -len(".pem")]
        if not name.isalnum() or len(name) > 64:
            return None
        return await self._certificates(name)

    def _secure(self, scope: Scope, request: sigv4.HTTPRequest) -> bool:
        """Over TLS, or from a trusted TLS-terminating proxy that says the client used it."""
        if scope.get("scheme") == "https":
            return True
        if not self._proxies or request.header("x-forwarded-proto") != "https":
            return False
        client = (scope.get("client") or (None,))[0]
        try:
            address = ipaddress.ip_address(client or "")
        except ValueError:
            return False
        return any(address in network for network in self._proxies)

    async def _json_call(
        self,
        service: JSONService,
        request: sigv4.HTTPRequest,
        claims: sigv4.SignedRequest,
        scope: Scope,
        body: bytes,
        request_id: str,
    ) -> Response:
        try:
            ctx = await self._context(request, claims, scope, request_id)
            payload = await service.handle(ctx, request.header("x-amz-target"), body)
            return Response(200, payload, service.content_type, request_id)
        except errors.HeraldError as exc:
            return service.error(exc, request_id)
        except Exception as exc:
            log.exception("request %s failed", request_id)
            return service.error(exc, request_id)

    async def _read_body(
        self, scope: Scope, receive: Receive, headers: list[tuple[str, str]]
    ) -> bytes:
        declared = next((v for k, v in headers if k == "content-length"), None)
        if declared is not None and _declared_too_large(declared.strip(), self._max_body):
            raise errors.RequestTooLarge(
                f"The request body is larger than the limit of {self._max_body} bytes."
            )
        try:
            async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
                return await self._receive_body(receive)
        except TimeoutError:
            raise errors.RequestTimeout(
                f"The request body did not arrive within {BODY_TIMEOUT_SECONDS} seconds."
            ) from None

    async def _receive_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise errors.RequestTooLarge(
                    f"The request body is larger than the limit of {self._max_body} bytes."
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _endpoint(scope: Scope, request: sigv4.HTTPRequest) -> str | None:
    host = request.header("host")
    if not host or len(host) > 255 or any(c in host for c in "/\\ @?#"):
        return None
    return f"{scope.get('scheme', 'http')}://{host}"


def _declared_too_large(declared: str, limit: int) -> bool:
    if not declared.isascii() or not declared.isdigit():
        return False  # the HTTP parser has refused a malformed length already
    return len(declared) > 15 or int(declared) > limit


def _form_body(headers: list[tuple[str, str]], body: bytes) -> bytes:
    content_type = next((v for k, v in headers if k == "content-type"), "")
    if not body:
        return b""
    if content_type and not content_type.lower().startswith("application/x-www-form-urlencoded"):
        raise errors.MalformedRequest(
            f"The Query protocol expects application/x-www-form-urlencoded, not {content_type}."
        )
    return body


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
