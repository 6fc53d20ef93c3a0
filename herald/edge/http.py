"""The HTTP/1.1 protocol under the ASGI app: uvicorn's httptools protocol, with a bound on
the request head (request line and headers).

uvicorn collects a request's URL and headers without a limit, so a client could fill the
server's memory with one endless header. Here every chunk received that leaves a request
head unfinished counts against ``MAX_HEAD_BYTES``; past it the client gets 431 and the
connection is closed. The count is taken after the parser has seen the chunk, so a chunk
that finishes a head (and carries the start of a body) never counts; a chunk that finishes
one pipelined request and starts the next head does not count either, which bounds what
is held to the limit plus two socket reads.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
_REFUSAL = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: 36\r\n"
    b"\r\nThe request head is over 64 KiB.\r\n\r\n"
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_done_in_chunk = False

    def data_received(self, data: bytes) -> None:
        self._head_done_in_chunk = False
        super().data_received(data)
        if self._in_head and not self._head_done_in_chunk:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._head_done_in_chunk = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._head_done_in_chunk = True
        super().on_message_complete()

    def shutdown(self) -> None:
        """Graceful shutdown: an idle connection is dropped at once, a busy one finishes
        its response first (uvicorn's rule)."""
        if self.cycle is None or self.cycle.response_complete:
            # Dropped, not closed: closing a TLS connection starts the close_notify
            # exchange, which waits up to 30 s for a client that is not reading (an idle
            # keep-alive connection in a client's pool), and shutdown would wait with it.
            self.transport.abort()
        else:
            self.cycle.keep_alive = False

    def _refuse(self) -> None:
        if self.transport.is_closing():
            return
        self.transport.write(_REFUSAL)
        self.transport.close()
