"""Streaming, byte-preserving HTML scanner and rewriter (standard library only)."""

from proxy.html.element import KEEP, Action, Decision, Element, FetchURL

__all__ = ["KEEP", "Action", "Decision", "Element", "FetchURL"]
