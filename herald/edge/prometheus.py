"""Prometheus text exposition of Herald's counters (format 0.0.4).

Only counts and identifiers of keys, topics and operations: no secrets, no message data.
"""

from __future__ import annotations

from collections.abc import Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render(kms_counts: Mapping[tuple[str, str, str, str], int]) -> str:
    """herald_kms_requests_total{operation, key, topic}, summed over callers."""
    totals: dict[tuple[str, str, str], int] = {}
    for (operation, key, topic, _caller), count in kms_counts.items():
        totals[(operation, key, topic)] = totals.get((operation, key, topic), 0) + count
    lines = [
        "# HELP herald_kms_requests_total Requests made to the key service, by operation, "
        "key and topic.",
        "# TYPE herald_kms_requests_total counter",
    ]
    for (operation, key, topic), count in sorted(totals.items()):
        labels = f'operation="{_escape(operation)}",key="{_escape(key)}",topic="{_escape(topic)}"'
        lines.append(f"herald_kms_requests_total{{{labels}}} {count}")
    return "\n".join(lines) + "\n"


def render_topics(counts: Mapping[tuple[str, str], int], names: tuple[str, ...]) -> str:
    """One counter per CloudWatch metric name, labelled by topic."""
    lines = []
    for name in names:
        lines.append(f"# TYPE herald_sns_{name} counter")
        for (metric, topic), value in sorted(counts.items()):
            if metric == name:
                lines.append(f'herald_sns_{name}{{topic="{_escape(topic)}"}} {value}')
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
