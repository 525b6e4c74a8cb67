"""An access log without personal data: no client address, no query string, no user agent.

Each line names the method, the path (query strings often carry e-mail addresses and
tokens, so they are left out), the status, the response size and the time taken;
``json=True`` writes one JSON object per line for log shippers. Goes to the
``consentry.access`` logger, so deployments route it like any other log.
Imports aiohttp (this package is the one place that may); must not import mitmproxy.
"""

from __future__ import annotations

import json
import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

access_logger = logging.getLogger("consentry.access")


class PrivacyAccessLogger(AbstractAccessLogger):
    json_lines = False

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        fields = {
            "method": request.method,
            # The Host header as sent: request.host falls back to this machine's name.
            "host": request.headers.get("Host", "-"),
            "path": request.path,
            "status": response.status,
            "bytes": response.body_length,
            "ms": round(time * 1000, 1),
        }
        if self.json_lines:
            self.logger.info(json.dumps(fields, separators=(",", ":")))
        else:
            self.logger.info('%(method)s %(host)s%(path)s %(status)s %(bytes)s %(ms)sms', fields)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class JsonAccessLogger(PrivacyAccessLogger):
    json_lines = True
