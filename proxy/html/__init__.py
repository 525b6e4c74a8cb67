"""Streaming, byte-preserving HTML scanner and rewriter (standard library only).

``Rewriter`` rewrites a document chunk by chunk: it materialises only elements that can
fetch or execute, asks the caller's ``decide`` function about each, and applies the
defer / strip / activate edits of DESIGN.md. Every other byte passes through unchanged.
This package must not import aiohttp, mitmproxy, jwt or pydantic.
"""

from proxy.html.element import KEEP, Action, Decision, Element, FetchURL
from proxy.html.rewriter import Rewriter

__all__ = ["KEEP", "Action", "Decision", "Element", "FetchURL", "Rewriter"]
