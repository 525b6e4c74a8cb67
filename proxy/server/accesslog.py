"""An access log without personal data: no client address, no query string, no user agent.

``common`` (the default) is the Common Log Format with the virtual host in the first
field where CLF puts the client address, and the time taken appended:
``shop.example - - [07/Dec/2026:09:00:00 +0000] "GET /cart HTTP/1.1" 200 5120 3.1ms``.
Query strings often carry e-mail addresses and tokens, so they are left out. ``json``
writes one JSON object per line for log shippers (method, host, path, protocol,
status, bytes, ms, time). Goes to the ``consentry.access`` logger, so deployments
route it like any other log (``consentry run`` sends it to stdout).
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import json
import logging
import time as _time

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

access_logger = logging.getLogger("consentry.access")


class PrivacyAccessLogger(AbstractAccessLogger):
    json_lines = False

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        now = _time.time()
        version = request.version
        fields = {
            "time": _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(now)),
            "method": request.method,
            # The Host header as sent: request.host falls back to this machine's name.
            "host": request.headers.get("Host", "-"),
            "path": request.path,
            "protocol": f"HTTP/{version.major}.{version.minor}",
            "status": response.status,
            "bytes": response.body_length,
            "ms": round(time * 1000, 1),
        }
        if self.json_lines:
            self.logger.info(json.dumps(fields, separators=(",", ":")))
        else:
            # CLF fields, quoted as CLF quotes them; a host never contains spaces or quotes.
            stamp = _time.strftime("%d/%b/%Y:%H:%M:%S +0000", _time.gmtime(now))
            path = str(fields["path"]).replace('"', "%22")
            self.logger.info(
                '%s - - [%s] "%s %s %s" %s %s %sms', fields["host"] or "-", stamp, fields["method"], path,
                fields["protocol"], fields["status"], fields["bytes"], fields["ms"],
            )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class JsonAccessLogger(PrivacyAccessLogger):
    json_lines = True
