"""The consent API under a site's consent path (``/_consent`` by default), sans-io.

``routes`` is the one route table: the proxy server and the mitmproxy addon dispatch
through it, and ``openapi`` turns it into the OpenAPI 3.1 document served at
``<prefix>/openapi.json`` and kept in ``docs/openapi.json``. A route the adapters serve
but the table does not describe cannot exist: dispatch only reaches handlers the table
names. Standard library only: must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from proxy.api.openapi import openapi_document
from proxy.api.routes import ROUTES, Operation, Route, match

__all__ = ["ROUTES", "Operation", "Route", "match", "openapi_document"]
