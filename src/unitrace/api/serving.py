"""How `unitrace serve` runs uvicorn: its options, and an HTTP protocol with a deadline for
the request head.

uvicorn closes a keep-alive connection that sends nothing for `timeout_keep_alive` seconds,
but a connection that sends part of a request head — or one byte of it every few seconds —
stays open for ever. `HeadDeadline` closes a connection whose next request head is not complete
UNITRACE_HEADER_SECONDS after it opened or after its last answer, and one whose head grows past
MAX_HEAD_BYTES (431). Bodies have their own limits in `api.limits`. So stalled connections cost
a little memory for seconds, and the others are served meanwhile (there is deliberately no
`limit_concurrency`: with it, stalled connections would make everyone else's requests 503).
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from unitrace.config import Limits

MAX_HEAD_BYTES = 65_536  # request line and headers; uvicorn's h11 default is 16 KiB


def uvicorn_options(limits: Limits) -> dict[str, Any]:
    """Options for `uvicorn.run` (besides host, port, workers)."""
    return {
        "http": HeadDeadlineProtocol,
        # X-Forwarded-* are believed only from UNITRACE_TRUSTED_PROXIES, in `api.limits`;
        # uvicorn's own handling would believe them from 127.0.0.1
        "proxy_headers": False,
        "timeout_keep_alive": 5,
        "backlog": 2048,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }


@lru_cache(maxsize=1)
def _header_seconds() -> float:
    return Limits.from_env().header_seconds


class HeadDeadline:
    """Mixed into a uvicorn HTTP protocol (which has `transport`, `cycle`, `loop`,
    `data_received`, `on_response_complete`, `connection_lost`)."""

    header_seconds: float | None = None  # None: UNITRACE_HEADER_SECONDS
    transport: asyncio.Transport
    cycle: Any
    loop: asyncio.AbstractEventLoop

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        """From now, the next request head must be complete within the deadline (a new
        request cycle starts when it is). One timer a connection, moved lazily: an answer
        only sets the new deadline, and the timer, when it fires early, waits for it (a timer
        cancelled and made anew for every answer cost more than the rest of this class)."""
        self._waiting_for = self.cycle  # the cycle of the last request (None: none yet)
        self._head_bytes = 0
        self._head_deadline = self.loop.time() + (self.header_seconds or _header_seconds())
        if self._head_timer is None:
            self._head_timer = self.loop.call_at(self._head_deadline, self._head_too_late)

    def _head_pending(self) -> bool:
        return self.cycle is self._waiting_for

    def _head_too_late(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.loop.time() < self._head_deadline:  # answered since: the new deadline holds
            self._head_timer = self.loop.call_at(self._head_deadline, self._head_too_late)
            return
        idle = self.cycle is None or self.cycle.response_complete  # no request in progress
        if idle and self._head_pending():
            self.transport.close()
        # else a request is being answered: its answer arms the deadline again

    def data_received(self, data: bytes) -> None:
        pending = self._head_pending()
        super().data_received(data)  # type: ignore[misc]
        if pending and self._head_pending() and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self.transport.write(
                    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                    b"content-length: 0\r\nconnection: close\r\n\r\n"
                )
                self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)  # type: ignore[misc]


class HeadDeadlineProtocol(HeadDeadline, AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's fastest HTTP/1.1 protocol (httptools if installed, else h11) with the head
    deadline; a module-level class, so that `serve --workers N` can hand it to its processes."""
