"""Turn decisions into tag edits: DESIGN.md's defer / strip / activate table, per attribute.

A deferral renames every attribute that would fetch (``src`` -> ``data-consent-src``),
makes scripts and style blocks inert with ``type="text/plain"`` (the original type kept
in ``data-consent-type``) and marks the element with ``data-consent`` /
``data-consent-vendor``. Activation is the inverse for markup a site author left inert.
Only the first of duplicated attributes counts for a browser, so later duplicates of a
moved attribute are dropped (otherwise the second ``src`` would become live), and an
existing ``data-consent-*`` target is replaced rather than duplicated. Removing whole
elements is the scanner's job. Standard library only; must not import aiohttp,
mitmproxy, jwt or pydantic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from proxy.html.element import Decision
from proxy.html.tags import Attr, TagEdit, quote_value
from proxy.html.urls import srcset_candidates

PREFIX = "data-consent-"
# Marks an element that stays live with only some of its URLs neutralised (the runtime
# must not cover it with a click-to-load placeholder). Ours, never restored.
PARTIAL = PREFIX + "partial"
# Attributes holding a list of URLs, of which single entries can be dropped.
_SRCSET_LISTS = frozenset({"srcset", "imagesrcset", "data-srcset"})
_INERT_TYPES = frozenset({"text/plain"})


def _by_name(attrs: list[Attr]) -> dict[str, list[Attr]]:
    grouped: dict[str, list[Attr]] = {}
    for attr in attrs:
        grouped.setdefault(attr.name, []).append(attr)
    return grouped


class EditBuilder:
    """Accumulates the changes for one start tag."""

    def __init__(self, data: bytes, attrs: list[Attr], encoding: str) -> None:
        self.data = data
        self.attrs = attrs
        self.grouped = _by_name(attrs)
        self.encoding = encoding
        self.edit = TagEdit({}, set(), {}, [])
        self._appended: set[str] = set()

    def _raw_name(self, attr: Attr) -> bytes:
        return self.data[attr.start:attr.name_end]

    def value(self, name: str) -> str | None:
        found = self.grouped.get(name)
        if not found:
            return None
        attr = found[0]
        return self.data[attr.value_start:attr.value_end].decode(self.encoding, errors="replace")

    def drop_all(self, name: str) -> None:
        for attr in self.grouped.get(name, ()):
            self.edit.drop.add(attr.start)
            self.edit.rename.pop(attr.start, None)

    def move(self, name: str, target: str) -> None:
        """Rename the first ``name`` to ``target``; later duplicates go."""
        found = self.grouped.get(name)
        if not found:
            return
        self.drop_all(target)
        first, *later = found
        raw = self._raw_name(first)
        new_name = target.encode("ascii") if not target.endswith(name) else target[: len(target) - len(name)].encode("ascii") + raw
        self.edit.rename[first.start] = new_name
        for attr in later:
            self.edit.drop.add(attr.start)

    def append(self, name: str, value: str | None) -> None:
        if name in self._appended:
            return
        self._appended.add(name)
        if value is None:
            self.edit.append.append(b" " + name.encode("ascii"))
        else:
            self.edit.append.append(b" " + name.encode("ascii", errors="replace") + b"=" + quote_value(value, self.encoding))

    def set_attribute(self, name: str, value: str) -> None:
        """Make ``name`` have ``value``: replace the first occurrence, or append it."""
        found = self.grouped.get(name)
        if not found:
            self.append(name, value)
            return
        first, *later = found
        self.edit.set_value[first.start] = self._raw_name(first) + b"=" + quote_value(value, self.encoding)
        for attr in later:
            self.edit.drop.add(attr.start)

    def mark(self, decision: Decision) -> None:
        """data-consent / data-consent-vendor, replacing different existing values."""
        for name, value in (("data-consent", decision.category or "unclassified"),
                            (PREFIX + "vendor", decision.vendor)):
            if value is None or self.value(name) == value:
                continue
            self.drop_all(name)
            self.append(name, value)

    def make_inert(self) -> None:
        """type="text/plain" for a script or style block, original type kept."""
        current = self.value("type")
        if current is not None and current.strip().lower() in _INERT_TYPES:
            return
        if current is not None:
            self.move("type", PREFIX + "type")
        self.append("type", "text/plain")

    def defer(self, decision: Decision, moved: Iterable[str], *, inert_type: bool) -> None:
        for name in dict.fromkeys(moved):
            self.move(name, PREFIX + name)
        if inert_type:
            self.make_inert()
        self.mark(decision)

    def narrow(self, decision: Decision, decoded: dict[str, str], refused: dict[str, set[str]],
               resolve: Callable[[str], str], *, strip: bool) -> None:
        """Neutralise only the refused URLs (``refused``: attribute -> resolved URLs).

        A srcset-like list or ``ping`` keeps its other entries live; the full original goes
        to ``data-consent-<name>`` (defer) so that the runtime restores it on consent. Any
        other attribute with a refused URL is moved (defer) or dropped (strip) whole.
        """
        for name, urls in refused.items():
            value = decoded.get(name)
            if value is None:
                continue
            if name in _SRCSET_LISTS:
                entries = srcset_candidates(value)
                kept = [text for url, text in entries if resolve(url) not in urls]
                joined = ", ".join(kept)
            elif name == "ping":
                kept = [url for url in value.split() if resolve(url) not in urls]
                joined = " ".join(kept)
            else:
                kept = []
            if kept:
                self.set_attribute(name, joined)
                if not strip:
                    self.set_attribute(PREFIX + name, value)
            elif strip:
                self.drop_all(name)
            else:
                self.move(name, PREFIX + name)
        if not strip:
            self.mark(decision)
            if PARTIAL not in self.grouped:
                self.append(PARTIAL, None)

    def strip_attributes(self, names: Iterable[str]) -> None:
        for name in names:
            self.drop_all(name)

    def activate(self, decision: Decision) -> None:
        current = self.value("type")
        if current is not None and current.strip().lower() in _INERT_TYPES:
            original = self.value(PREFIX + "type")
            if original is not None and original.strip().lower() not in _INERT_TYPES:
                self.set_attribute("type", original)
            else:
                self.drop_all("type")
            self.drop_all(PREFIX + "type")
        for name in list(self.grouped):
            if name == PARTIAL:
                self.drop_all(name)
                continue
            if not name.startswith(PREFIX) or name in (PREFIX + "vendor", PREFIX + "type"):
                continue
            target = name[len(PREFIX):]
            if not target:
                continue
            first = self.grouped[name][0]
            self.drop_all(target)
            self.edit.rename[first.start] = self._raw_name(first)[len(PREFIX):]
            for attr in self.grouped[name][1:]:
                self.edit.drop.add(attr.start)
        self.add_extra(decision)

    def add_extra(self, decision: Decision) -> None:
        for name, value in decision.extra_attrs:
            if name.lower() not in self.grouped:
                self.append(name, value)
