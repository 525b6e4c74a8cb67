"""Client connections held to edge limits: head and body timeouts, connection caps, clean 400s.

aiohttp's request handler closes idle keep-alive connections (``keepalive_timeout``) but
has no timeout for a request head that arrives a byte at a time, none for a request
body that stops, no cap on connections per client or in total, and answers a malformed
request with a page that repeats the parser's message (request bytes) after logging a
traceback with the client's address. ``GuardedRequestHandler`` adds exactly those:

* ``header_timeout``: once the first byte of a request head arrives, the whole head must
  arrive within it (nginx ``client_header_timeout``); else ``408`` and close.
* ``body_timeout``: while a handler runs and the request body is incomplete, the client
  may stay silent at most this long (nginx ``client_body_timeout``); else the connection
  is closed, which cancels the handler and its upstream request.
* ``client_connections`` / ``total_connections``: a new connection over either cap gets
  ``503`` with ``Retry-After`` and is closed at once. Peers in ``trusted`` networks (load
  balancers) are exempt from the per-client cap, since all visitors arrive through them.
* Malformed requests are answered ``400`` with a fixed text and logged on one line
  without the client address or a traceback.

``install(runner, guard)`` switches a set-up ``web.AppRunner``'s server to this handler.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web, web_server
from aiohttp.web_protocol import RequestHandler

from proxy.server.headers import Network, is_trusted
from proxy.server.ratelimit import client_key

log = logging.getLogger(__name__)

SERVER_NAME = "consentry"
"""The ``Server`` header of every response the proxy generates (no versions)."""


@dataclass(slots=True)
class ConnectionGuard:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    client_connections: int = 128
    total_connections: int = 4096
    trusted: tuple[Network, ...] = ()
    # Called with ("refused", reason) or ("timeout", phase) for the metrics.
    on_event: Callable[[str, str], None] = lambda kind, reason: None
    open_total: int = 0
    open_by_client: Counter[str] = field(default_factory=Counter)

    def admit(self, peer: str) -> str | None:
        """None if a new connection from ``peer`` may open, else why not."""
        if self.open_total >= self.total_connections:
            return "total"
        if self.open_by_client[client_key(peer)] >= self.client_connections and not is_trusted(peer, self.trusted):
            return "client"
        return None


def file_limit_cap(wanted: int, reserve: int) -> int:
    """``wanted`` connections, but never more than the open-file limit leaves room for."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return min(wanted, max(16, soft - reserve))


def _canned(status: int, text: str, extra: str = "") -> bytes:
    body = text.encode()
    return (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nServer: {SERVER_NAME}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        f"Cache-Control: no-store\r\n{extra}Connection: close\r\n\r\n"
    ).encode() + body


def _peer(transport: asyncio.BaseTransport) -> str:
    name = transport.get_extra_info("peername")
    if isinstance(name, tuple) and name:
        try:
            return str(ipaddress.ip_address(str(name[0]).split("%")[0]))
        except ValueError:
            return str(name[0])
    return "unix"


class GuardedRequestHandler(RequestHandler):
    """aiohttp's handler plus the timeouts and caps above (see the module docstring)."""

    def __init__(self, manager: web_server.Server, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._peer: str | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._last_data = 0.0

    # -- connection caps -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = _peer(transport)
        refused = self._guard.admit(peer)
        if refused is not None:
            self._guard.on_event("refused", refused)
            log.warning("connection refused: %s connection limit reached", refused)
            transport.write(_canned(503, "Too many connections; try again shortly.\n", "Retry-After: 1\r\n"))  # type: ignore[attr-defined]
            self.force_close()
            transport.close()
            return
        self._peer = client_key(peer)   # the per-client count's key (an IPv6 /64 counts once)
        self._guard.open_total += 1
        self._guard.open_by_client[self._peer] += 1

    def connection_lost(self, exc: BaseException | None) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None
        if self._peer is not None:
            guard, peer = self._guard, self._peer
            self._peer = None
            guard.open_total -= 1
            guard.open_by_client[peer] -= 1
            if guard.open_by_client[peer] <= 0:
                del guard.open_by_client[peer]
        super().connection_lost(exc)

    # -- head and body timeouts ------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        loop = self._loop
        self._last_data = loop.time()
        idle = not self._request_in_progress and not self._messages and not self._upgraded
        if idle and self._head_timer is None and self._peer is not None:
            self._head_timer = loop.call_later(self._guard.header_timeout, self._head_expired)
        before = self._request_count
        super().data_received(data)
        if self._request_count != before:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            if self._body_timer is None and not self._upgraded:
                self._body_timer = loop.call_later(self._guard.body_timeout, self._body_check)

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.transport is None or self._request_in_progress or self._messages:
            return
        self._guard.on_event("timeout", "header")
        log.info("closed a connection whose request head did not arrive within %ss", self._guard.header_timeout)
        self.transport.write(_canned(408, "Request timeout\n"))
        self.force_close()
        self.transport.close()

    def _body_check(self) -> None:
        self._body_timer = None
        if self.transport is None or self._upgraded:
            return
        request = self._current_request
        if request is None or request.content.is_eof():
            if self._messages or self._request_in_progress:
                # Another pipelined request (or this one, not yet started) may still read.
                self._body_timer = self._loop.call_later(self._guard.body_timeout, self._body_check)
            return
        silent = self._loop.time() - self._last_data
        if silent >= self._guard.body_timeout:
            self._guard.on_event("timeout", "body")
            log.info("closed a connection whose request body stalled for %.0fs", silent)
            self.force_close()
            self.transport.close()
            return
        self._body_timer = self._loop.call_later(self._guard.body_timeout - silent, self._body_check)

    # -- malformed requests ----------------------------------------------------------

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500 and _client_went_away(request, exc):
            # Not a bug: the visitor hung up while the response was going out (often as its
            # last bytes went: the final chunk). aiohttp drops the connection on this.
            log.debug("client went away during %s %s: %s", getattr(request, "method", "?"),
                      getattr(request, "path", "?"), exc)
            raise ConnectionError("client went away")
        if status >= 500:
            # A bug of ours: keep the traceback, never the client's address.
            log.error("error handling %s request", getattr(request, "method", "?"), exc_info=exc)
        else:
            log.info("malformed request answered %d: %s", status, type(exc).__name__ if exc else "bad request")
        if request.writer.output_size > 0:
            raise ConnectionError("response already started")
        text = "Bad request\n" if status < 500 else "Internal error\n"
        response = web.Response(
            status=status, text=text, content_type="text/plain", charset="utf-8",
            headers={"Server": SERVER_NAME, "Cache-Control": "no-store"},
        )
        response.force_close()
        return response


def _client_went_away(request: Any, exc: BaseException | None) -> bool:
    """A write failed because the client's connection is gone or closing (not the upstream's)."""
    if not isinstance(exc, (OSError, aiohttp.ClientConnectionError)):
        return False
    transport = getattr(request, "transport", None)
    return transport is None or transport.is_closing()


class _GuardedServer(web_server.Server):
    guard: ConnectionGuard

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, guard=self.guard, loop=self._loop, **self._kwargs)


def install(runner: web.BaseRunner, guard: ConnectionGuard) -> None:
    """Make ``runner`` (after ``setup()``, before its sites start) use the guarded handler."""
    server = runner.server
    assert server is not None, "call install() after runner.setup()"
    server.__class__ = _GuardedServer
    server.guard = guard  # type: ignore[attr-defined]
