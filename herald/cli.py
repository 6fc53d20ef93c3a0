"""The ``herald`` command: ``herald serve`` and friends.

Settings are built here, once, from flags and the environment; this module and ``edge``
are the only places that pick a concrete store.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import gc
import logging
import os
import re
import signal
import socket
import sys
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import uvicorn

from herald import __version__, admin, audit, changes, config, kms_cost
from herald.changes import ChangeFeed
from herald.clock import SystemClock
from herald.delivery.email import SMTPSettings
from herald.delivery.http import HttpSender
from herald.delivery.worker import DeliveryWorker
from herald.edge.app import HeraldApp
from herald.edge.authn import Authenticator
from herald.edge.bootstrap import bootstrap
from herald.edge.http import BoundedHttpToolsProtocol
from herald.edge.tls import ensure_self_signed
from herald.iam.authorizer import Authorizer
from herald.iam.facade import IAM
from herald.iam.identities import Identities
from herald.kms import rootkey
from herald.kms.access import KeyAccess
from herald.kms.crypto import Crypto
from herald.kms.for_services import ServiceKeys
from herald.kms.gate import Gate, Quotas
from herald.kms.grants import Grants
from herald.kms.service import KMSService
from herald.protocols import errors as wire_errors
from herald.protocols import kms_api
from herald.sns.service import SNSService
from herald.sqs.mover import Mover
from herald.sqs.service import SQSService
from herald.store import factory
from herald.store.base import PRUNE_BATCH, Store
from herald.store.postgres import DuplicateNode, PostgresStore
from herald.sts.service import STSService

log = logging.getLogger("herald")
GC_YOUNG_THRESHOLD = 20_000


class StartupError(Exception):
    """A reason not to start, told to the operator in one line."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="herald", description=__doc__)
    parser.add_argument("--version", action="version", version=f"herald {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the Herald server")
    serve.add_argument("--host", help="address to listen on (HERALD_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (HERALD_PORT, 4566; 0 = any free)")
    serve.add_argument("--tls-port", type=int, help="HTTPS port (HERALD_TLS_PORT, 4567)")
    serve.add_argument("--data-dir", help="data folder (HERALD_DATA_DIR, ./.herald)")
    serve.add_argument(
        "--database",
        help="a postgresql:// URL shared by several Herald nodes (HERALD_DATABASE_URL; "
        "default SQLite in the data folder)",
    )
    serve.add_argument("--tls-cert", help="PEM certificate to serve (HERALD_TLS_CERT)")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert (HERALD_TLS_KEY)")
    serve.add_argument(
        "--max-request-bytes", type=int, help="largest request body (HERALD_MAX_REQUEST_BYTES)"
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        help="connections and requests served at once per listener; more get 503 "
        "(HERALD_MAX_CONNECTIONS, 1024)",
    )
    serve.add_argument(
        "--kms-crypto-rps",
        type=int,
        help="KMS cryptographic requests/s per account and region (HERALD_KMS_CRYPTO_RPS, 10000)",
    )
    serve.add_argument(
        "--kms-management-rps",
        type=int,
        help="other KMS requests/s per account and region (HERALD_KMS_MANAGEMENT_RPS, 100)",
    )
    serve.add_argument(
        "--data-key-reuse-seconds",
        type=int,
        help="how long an encrypted topic reuses a data key (HERALD_DATA_KEY_REUSE_SECONDS, 300)",
    )
    serve.add_argument(
        "--trusted-proxy",
        help="CIDRs (comma-separated) of TLS-terminating proxies whose X-Forwarded-Proto "
        "counts (HERALD_TRUSTED_PROXY)",
    )
    serve.add_argument(
        "--no-metrics",
        dest="metrics",
        action="store_const",
        const="false",
        help="do not serve Prometheus metrics at /metrics (HERALD_METRICS=false)",
    )
    serve.add_argument(
        "--public-url",
        help="Herald's HTTPS endpoint as subscribers reach it, for the links in messages "
        "(HERALD_PUBLIC_URL; default the TLS listener)",
    )
    serve.add_argument(
        "--delivery-ca-bundle",
        help="PEM CAs trusted for HTTPS endpoints and the SMTP relay, besides the system's "
        "(HERALD_DELIVERY_CA_BUNDLE)",
    )
    serve.add_argument("--smtp-host", help="SMTP relay for email subscriptions (HERALD_SMTP_HOST)")
    serve.add_argument("--smtp-port", type=int, help="SMTP relay port (HERALD_SMTP_PORT, 25)")
    serve.add_argument(
        "--smtp-user", help="SMTP login; the password is HERALD_SMTP_PASSWORD (HERALD_SMTP_USER)"
    )
    serve.add_argument(
        "--smtp-from", help="sender address of email notifications (HERALD_SMTP_FROM)"
    )
    serve.add_argument("--log-level", help="debug, info, warning, error (HERALD_LOG_LEVEL)")
    serve.add_argument("--access-log", action="store_const", const="true", help="log every request")
    admin.add_parser(commands)
    audit.add_parser(commands)
    kms_cost.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        flags = {k: v for k, v in vars(args).items() if k != "command"}
        try:
            settings = config.from_sources(flags, os.environ)
        except ValueError as exc:
            print(f"herald: {exc}", file=sys.stderr)
            return 2
        return serve(settings)
    if args.command == "admin":
        return admin.run(args)
    if args.command == "audit":
        return audit.run(args)
    if args.command == "kms-cost":
        return kms_cost.run(args)
    return 2


def serve(settings: config.Settings) -> int:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("uvicorn.access").addFilter(_without_query)
    # Everything Herald writes (database, keys, credentials) is for its own user alone.
    os.umask(0o077)
    try:
        _prepare_data_dir(settings.data_dir)
        with _listening(settings) as (http_sock, tls_sock):
            _run(_serve(settings, http_sock, tls_sock))
    except StartupError as exc:
        print(f"herald: {exc}", file=sys.stderr)
        return 2
    return 0


def _run(coro: object) -> None:
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # uvloop is optional on platforms without it
        runner = asyncio.Runner()
    with runner:
        runner.run(coro)  # type: ignore[arg-type]


def _without_query(record: logging.LogRecord) -> bool:
    """Drop the query string from access-log lines: presigned URLs carry credentials in it,
    and GET requests can carry message bodies."""
    args = record.args
    if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
        record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
    return True


def _prepare_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.stat().st_mode & 0o077:
            log.warning("data folder %s was open to other users; it is now 0700", path)
            path.chmod(0o700)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartupError(
            f"the data folder {path} is not writable: {exc.strerror or exc}"
        ) from None


@contextlib.contextmanager
def _listening(settings: config.Settings) -> Iterator[tuple[socket.socket, socket.socket]]:
    http_sock = _bind(settings.host, settings.port)
    try:
        tls_sock = _bind(settings.host, settings.tls_port)
    except BaseException:
        http_sock.close()
        raise
    try:
        yield http_sock, tls_sock
    finally:
        http_sock.close()
        tls_sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise StartupError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """A uvicorn server whose signals are handled by ``_serve`` for both listeners."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(
    settings: config.Settings, http_sock: socket.socket, tls_sock: socket.socket
) -> None:
    try:
        root = rootkey.load(settings.root_key, settings.root_key_path)
    except (ValueError, OSError) as exc:
        raise StartupError(f"cannot load the root key: {exc}") from None
    store = factory.make_store(
        settings.database_url,
        settings.data_dir,
        rootkey.SecretSealer(root),
        factory.node_id(settings.data_dir) if settings.database_url else None,
    )
    where = factory.describe(settings.database_url, settings.data_dir)
    try:
        await store.open()
    except Exception as exc:
        raise StartupError(
            f"cannot open the database {where}: {_redacted(exc, settings.database_url)}"
        ) from None
    try:
        await _check_root_key(store, root, settings)
        clock = SystemClock()
        creds = await bootstrap(store, settings, clock)
        cert, key = (settings.tls_cert, settings.tls_key)
        if cert is None or key is None:
            cert, key = ensure_self_signed(settings.data_dir)
        identities = Identities(store)
        authorizer = Authorizer(identities, clock)
        authenticator = Authenticator(store, clock)
        key_access = KeyAccess(store, authorizer, root)
        keys = KMSService(store, clock, key_access, root)
        crypto = Crypto(store, key_access)
        gate = Gate(
            store,
            clock,
            Quotas(settings.kms_crypto_rps, settings.kms_management_rps),
            lambda exc: wire_errors.lookup(wire_errors.KMS, exc).code,
        )
        sqs = SQSService(
            store, clock, authorizer, ServiceKeys(keys, crypto, key_access, gate, "sqs")
        )
        sns = SNSService(
            store,
            clock,
            authorizer,
            ServiceKeys(keys, crypto, key_access, gate, "sns"),
            settings.data_key_reuse_seconds,
        )
        worker = DeliveryWorker(
            store,
            clock,
            sqs,
            sns.opener,
            settings.public_url or _public_url(settings, tls_sock),
            sns.publisher.metrics,
            http=_http_sender(settings),
            smtp=SMTPSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                user=settings.smtp_user,
                password=settings.smtp_password,
                sender=settings.smtp_from,
                tls_context=_http_sender(settings).tls,
            ),
        )
        sns.publisher.on_deliveries = worker.wake
        sns.publisher.handoff = worker
        if isinstance(store, PostgresStore):
            # Changes made through other nodes sharing the database reach these caches.
            feed = ChangeFeed()
            feed.on(changes.SNS, sns.topics.forget_all)
            feed.on(changes.SNS, sns.publisher.forget_all)
            feed.on(changes.IAM, identities.forget_all)
            feed.on(changes.IAM, authenticator.forget_all)
            feed.on(changes.KMS, key_access.forget_all)
            feed.on(changes.KMS, gate.forget_accounts)
            feed.on(changes.SQS, sqs.forget_all)
            feed.on_arrival(sqs.arrived)
            try:
                await store.listen(feed)
            except DuplicateNode as exc:
                raise StartupError(str(exc)) from None
        released = await store.release_leases()
        if released:
            log.info("%d deliveries left in progress by the last run are due again", released)
        sns.subscriptions.on_deliveries = worker.wake
        # Dead-letter queue redrive: failure reasons are SQS's Query codes, as AWS's are.
        mover = Mover(
            store, clock, sqs, lambda exc: wire_errors.lookup(wire_errors.SQS_QUERY, exc).code
        )
        sqs.moves.on_start = mover.wake
        app = HeraldApp(
            sns=sns,
            iam=IAM(
                store,
                clock,
                authorizer,
                on_key_change=authenticator.forget,
                # Resource policies follow a renamed user (the store rewrites them).
                on_principal_renamed=_forgetting(
                    sns.topics.forget_all,
                    sns.publisher.forget_all,
                    key_access.forget_all,
                    sqs.forget_all,
                ),
            ),
            sts=STSService(store, clock, authorizer),
            sqs=sqs,
            kms=kms_api.KMS(keys, crypto, gate, Grants(store, clock, key_access)),
            authenticator=authenticator,
            clock=clock,
            max_body=settings.max_request_bytes,
            trusted_proxies=settings.trusted_proxies,
            metrics=gate if settings.metrics else None,
            certificates=worker.certificate,
            ping=store.ping,
        )
        servers = [
            _Server(_uvicorn_config(app, settings)),
            _Server(_uvicorn_config(app, settings, cert=cert, key=key)),
        ]
        _announce(settings, http_sock, tls_sock, creds.source, cert)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _stop, servers)
        _tune_gc()
        ticker = asyncio.create_task(_tick(keys, store, clock))
        delivering = asyncio.create_task(worker.run())
        moving = asyncio.create_task(mover.run())
        try:
            await asyncio.gather(
                servers[0].serve(sockets=[http_sock]), servers[1].serve(sockets=[tls_sock])
            )
        finally:
            ticker.cancel()
            # Let deliveries in flight finish and record them before the store closes.
            worker.stop()
            try:
                await asyncio.wait_for(delivering, timeout=30)
            except (TimeoutError, asyncio.CancelledError):
                pass
            except Exception:
                log.exception("the delivery worker stopped with an error")
            # Moves in flight are committed or undone whole; the leases end with it.
            mover.stop()
            try:
                await asyncio.wait_for(moving, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                pass
            except Exception:
                log.exception("the message mover stopped with an error")
    finally:
        await store.close()
        log.info("store closed; Herald stopped")


def _http_sender(settings: config.Settings) -> HttpSender:
    try:
        return HttpSender(settings.delivery_ca_bundle)
    except (OSError, ValueError) as exc:
        raise StartupError(
            f"cannot read the delivery CA bundle {settings.delivery_ca_bundle}: {exc}"
        ) from None


def _redacted(exc: BaseException, url: str | None) -> str:
    """An error's text without the password a connection string may have put in it
    (libpq quotes pieces of a malformed URL in its messages)."""
    text = re.sub(r"password=\S+", "password=***", str(exc))
    if url:
        try:
            secret = urllib.parse.urlsplit(url).password
        except ValueError:
            return "the database URL is malformed"
        if secret:
            for form in {secret, urllib.parse.unquote(secret)}:
                text = text.replace(form, "***")
    return text


def _public_url(settings: config.Settings, tls_sock: socket.socket) -> str:
    """Herald's HTTPS endpoint as subscribers reach it, for SigningCertURL."""
    host = settings.host if settings.host not in ("0.0.0.0", "::") else "127.0.0.1"
    port = tls_sock.getsockname()[1]
    return f"https://{host}:{port}" if ":" not in host else f"https://[{host}]:{port}"


async def _check_root_key(store: Store, root: rootkey.RootKey, settings: config.Settings) -> None:
    """Fail unless ``root`` opens the value sealed under the root key on first start."""
    stored = await store.put_meta_once(rootkey.CHECK_NAME, rootkey.check_value(root))
    try:
        rootkey.verify(root, stored)
    except rootkey.WrongRootKey:
        source = "HERALD_ROOT_KEY" if settings.root_key else str(settings.root_key_path)
        raise StartupError(
            f"the root key from {source} is not the one this data folder was sealed with; "
            "refusing to start"
        ) from None


AUDIT_RETENTION_SECONDS = 90 * 86400  # as CloudTrail's event history
PRUNE_PAUSE_SECONDS = 0.02


async def _tick(keys: KMSService, store: Store, clock: SystemClock, every: float = 60.0) -> None:
    """Destroy keys whose deletion date has passed, rotate keys that are due, and remove
    what nothing needs any more (delivered messages, old audit events)."""
    while True:
        try:
            for key_id in await keys.tick():
                log.info("key %s deleted: its scheduled deletion date passed", key_id)
        except Exception:
            log.exception("the key service's periodic work failed; retrying")
        try:
            now = clock.now()
            while await store.prune(now, now - AUDIT_RETENTION_SECONDS) >= PRUNE_BATCH:
                # More to remove: go on after a pause in which the store commits others'
                # writes, so pruning never holds them for long.
                await asyncio.sleep(PRUNE_PAUSE_SECONDS)
        except Exception:
            log.exception("removing delivered messages failed; retrying")
        await asyncio.sleep(every)


def _forgetting(*forgets: Callable[[], None]) -> Callable[[], None]:
    """One call that makes each of these caches forget everything."""

    def forget() -> None:
        for each in forgets:
            each()

    return forget


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the request path's tail. What start-up made
    (modules, classes, functions: most of the objects the collector tracks) is frozen out
    of its scans, and the youngest generation is collected after 20,000 allocations rather
    than 700: nearly everything a request allocates is freed by reference counting before
    then, so fewer collections run and fewer in-flight objects are promoted to the old
    generation, whose full scans paused the loop for 40-50 ms (docs/performance.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _stop(servers: list[_Server]) -> None:
    for server in servers:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True


def _uvicorn_config(
    app: HeraldApp, settings: config.Settings, cert: Path | None = None, key: Path | None = None
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        http=BoundedHttpToolsProtocol,
        log_config=None,
        log_level=settings.log_level,
        access_log=settings.access_log,
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        timeout_graceful_shutdown=30,
        server_header=False,
        # Herald is the edge: no client may claim TLS or another address by header.
        proxy_headers=False,
        limit_concurrency=settings.max_connections,
    )


def _announce(
    settings: config.Settings,
    http_sock: socket.socket,
    tls_sock: socket.socket,
    source: str,
    cert: Path,
) -> None:
    host, http_port = http_sock.getsockname()[:2]
    tls_port = tls_sock.getsockname()[1]
    lines = [
        f"Herald {__version__} listening on http://{host}:{http_port} and "
        f"https://{host}:{tls_port}",
        f"Data folder: {settings.data_dir.resolve()}",
        f"TLS certificate (use as CA bundle): {cert.resolve()}",
    ]
    if source != "environment":
        lines.append(
            f"Credentials: export AWS_SHARED_CREDENTIALS_FILE={settings.credentials_path.resolve()}"
            f" AWS_PROFILE=herald AWS_DEFAULT_REGION=us-east-1"
        )
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
