"""Herald and another SNS-compatible server, measured in one run with the same scenarios
(run by hand, never in CI).

    python3 -m venv /tmp/moto && /tmp/moto/bin/pip install 'moto[server]'
    .venv/bin/python benchmarks/side_by_side.py --other '/tmp/moto/bin/moto_server -p {port}'

Starts the other server from ``--other`` (``{port}`` is replaced with a free port; it must
accept any credentials, as moto and LocalStack do), starts a Herald, and runs each scenario
against one then the other, alternating, ``--runs`` times; prints each run and the
medians. The other server's CPU time per request is read from /proc of the process
started. The other server is not a dependency of Herald: install it where you like.
"""

from __future__ import annotations

import argparse
import shlex
import socket
import subprocess
import time
import urllib.request
from typing import Any

from load import Server, _median, _print, scenario, start_herald

# Scenarios any SNS-compatible server can be asked for (fanout-sqs-10 reads Herald's own
# delivery counters; encrypted topics need Herald's key service).
SCENARIOS = ("publish", "publish-batch", "kms-generate-data-key", "fanout-http-10")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_other(command: str) -> tuple[Server, subprocess.Popen[bytes]]:
    port = _free_port()
    process = subprocess.Popen(
        shlex.split(command.replace("{port}", str(port))),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except urllib.error.HTTPError:
            break  # it answers
        except OSError:
            time.sleep(0.2)
    else:
        process.terminate()
        raise SystemExit(f"{command} did not start")
    server = Server(f"http://127.0.0.1:{port}", None, None, "AKIAOTHER00000000000", "x" * 40,
                    process.pid)  # fmt: skip
    return server, process


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--other", required=True, help="command starting the other server")
    parser.add_argument("--name", default="other", help="what to call it in the output")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    other, other_process = start_other(args.other)
    herald, herald_process = start_herald()
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        for _ in range(args.runs):
            for name in args.scenario or SCENARIOS:
                for label, server in (("herald", herald), (args.name, other)):
                    figures = scenario(server, name, args.concurrency, args.seconds, args.processes)
                    results.setdefault((label, name), []).append(figures)
                    _print(f"{label}: {name}", args.concurrency, args.processes, figures)
        print(f"medians of {args.runs} runs:")
        for (label, name), runs in results.items():
            _print(f"{label}: {name}", args.concurrency, args.processes, _median(runs))
    finally:
        for process in (herald_process, other_process):
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()
