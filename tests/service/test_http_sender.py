"""The HTTP sender: waiting for a turn at a busy endpoint is not held against it."""

from __future__ import annotations

import asyncio

from aiohttp import web

from herald.delivery.failures import DeliveryFailed
from herald.delivery.http import HttpSender


def test_deliveries_waiting_for_a_busy_endpoint_do_not_time_out() -> None:
    async def main() -> tuple[int, int, int]:
        seen = 0
        busiest = 0
        at_once = 0

        async def slow(request: web.Request) -> web.Response:
            nonlocal seen, busiest, at_once
            seen += 1
            at_once += 1
            busiest = max(busiest, at_once)
            await asyncio.sleep(0.4)
            at_once -= 1
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/", slow)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        # Given an endpoint answering in 0.4 s, 4 requests at once, and a 1 s timeout
        sender = HttpSender(per_endpoint=4, timeout=1.0)
        try:
            # When 20 deliveries go at once (5 rounds of 4: 2 s in all)
            outcomes = await asyncio.gather(
                *(sender.send(f"http://127.0.0.1:{port}/", b"m", {}) for _ in range(20)),
                return_exceptions=True,
            )
        finally:
            await sender.close()
            await runner.cleanup()
        failed = sum(isinstance(o, DeliveryFailed) for o in outcomes)
        return seen, busiest, failed

    seen, busiest, failed = asyncio.run(main())
    # Then every one is delivered, never more than 4 at once
    assert (seen, failed) == (20, 0)
    assert busiest <= 4


def test_an_endpoint_slower_than_the_timeout_fails_server_side() -> None:
    async def main() -> DeliveryFailed:
        async def stuck(request: web.Request) -> web.Response:
            await asyncio.sleep(2)
            return web.Response(text="late")

        app = web.Application()
        app.router.add_post("/", stuck)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        sender = HttpSender(timeout=0.3)
        try:
            await sender.send(f"http://127.0.0.1:{port}/", b"m", {})
        except DeliveryFailed as exc:
            return exc
        finally:
            await sender.close()
            await runner.cleanup()
        raise AssertionError("a stuck endpoint was taken as delivered")

    failure = asyncio.run(main())
    assert not failure.client_side
    assert failure.message == "The endpoint did not answer in time"
