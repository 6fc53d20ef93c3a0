"""Which store a Herald uses: SQLite in its data folder (the default), or PostgreSQL when
a ``postgresql://`` URL is given (``--database`` / HERALD_DATABASE_URL)."""

from __future__ import annotations

from pathlib import Path

from herald.store.base import Sealer, Store

SCHEMES = ("postgresql://", "postgres://")


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(SCHEMES)


def check_url(url: str) -> None:
    """Raises ValueError for a URL that names no store Herald has."""
    if not is_postgres(url):
        raise ValueError(
            f"database must be a postgresql:// URL (SQLite is the default), not {url!r}"
        )


def make_store(
    url: str | None, data_dir: Path, sealer: Sealer | None = None, node_id: str | None = None
) -> Store:
    if url:
        check_url(url)
        from herald.store.postgres import PostgresStore

        return PostgresStore(url, sealer, node_id)
    from herald.store.sqlite import SQLiteStore

    return SQLiteStore(data_dir / "herald.db", sealer)


def node_id(data_dir: Path) -> str:
    """This node's lasting name, kept in its data folder (made on first start)."""
    path = data_dir / "node-id"
    try:
        found = path.read_text().strip()
        if found:
            return found
    except FileNotFoundError:
        pass
    import uuid

    made = uuid.uuid4().hex
    path.write_text(made + "\n")
    return made


def describe(url: str | None, data_dir: Path) -> str:
    """Where the store is, for messages: never the password of a URL."""
    if not url:
        return str(data_dir / "herald.db")
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"postgresql://{host}{port}{parts.path}"
