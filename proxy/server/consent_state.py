"""The visitor's consent state for one request, read once and remembered on the request.

``read_consent`` verifies the signed cookie (and honours ``Sec-GPC``); a request may
need the state for its Cookie header, its ETag, its Set-Cookie filtering and its HTML,
so the result is kept on the request object instead of verifying the JWT four times.
Never raises: a bad cookie is "necessary only", as ``proxy.consent`` promises.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations


from aiohttp import web

from proxy.consent import ConsentState, read_consent
from proxy.server.runtime import SiteRuntime

_STATE: web.RequestKey[ConsentState] = web.RequestKey("consentry_state", ConsentState)


def consent_state(request: web.Request, runtime: SiteRuntime) -> ConsentState:
    state = request.get(_STATE)
    if state is None:
        state = read_consent(
            request.headers.getall("Cookie", []),
            site=runtime.site,
            keyring=runtime.keyring,
            gpc=request.headers.get("Sec-GPC") == "1",
        )
        request[_STATE] = state
    return state


def remember_state(request: web.Request, state: ConsentState) -> None:
    """After a consent decision: the state the rest of this request should see."""
    request[_STATE] = state
