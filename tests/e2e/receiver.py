"""A local HTTP/HTTPS endpoint for delivery tests: an aiohttp server on a loopback port, in
its own thread, that records every request and answers with the statuses it is told."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class Receiver:
    tls: ssl.SSLContext | None = None
    received: list[Received] = field(default_factory=list)
    # Status codes to answer, in turn; 200 once they run out.
    statuses: list[int] = field(default_factory=list)
    port: int = 0
    # Seconds to hold each request before answering, and the most requests held at once.
    hold: float = 0.0
    most_at_once: int = 0
    _at_once: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        ready = threading.Event()

        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            with self._lock:
                self._at_once += 1
                self.most_at_once = max(self.most_at_once, self._at_once)
            try:
                await asyncio.sleep(self.hold)
            finally:
                with self._lock:
                    self._at_once -= 1
            with self._lock:
                self.received.append(
                    Received(request.path, dict(request.headers), body, time.monotonic())
                )
                status = self.statuses.pop(0) if self.statuses else 200
            return web.Response(status=status, text="ok")

        async def serve() -> None:
            app = web.Application(client_max_size=2 * 1024 * 1024)
            app.router.add_post("/{tail:.*}", handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
            await site.start()
            server = site._server
            assert server is not None and server.sockets
            self.port = server.sockets[0].getsockname()[1]
            ready.set()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(10), "the receiver did not start"
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop

        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        loop.close()

    def of_type(self, kind: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.headers.get("x-amz-sns-message-type") == kind]

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 20.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                snapshot = list(self.received)
            if predicate(snapshot):
                return snapshot
            time.sleep(0.02)
        raise AssertionError(f"the receiver did not get what was awaited: {snapshot!r}"[:4000])
