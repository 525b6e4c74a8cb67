"""Receipts as text for auditors: JSON lines or CSV, and back again.

`export_lines` feeds `consentry receipts export|show`; `receipts_from_lines`
reads either format back (the round trip the tests check, and a way to move
receipts between stores). Imports the stdlib only.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Final

from proxy.receipts.model import Receipt
from proxy.receipts.schema import RECEIPT_COLUMNS

__all__ = ["CSV_FIELDS", "export_lines", "receipts_from_lines"]

CSV_FIELDS: Final[tuple[str, ...]] = RECEIPT_COLUMNS   # one column per stored field, in store order
# Category names never contain spaces (they are TOML keys/identifiers), so a space
# joins a list inside one CSV cell and spreadsheets still show it readably.
_LIST_SEPARATOR: Final = " "


def _csv_line(values: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def export_lines(receipts: Iterable[Receipt], format: str = "jsonl") -> Iterator[str]:
    """One line per receipt (each ends with a newline); CSV starts with a header line."""
    if format == "jsonl":
        for receipt in receipts:
            yield json.dumps(receipt.to_dict(), ensure_ascii=False) + "\n"
    elif format == "csv":
        yield _csv_line(CSV_FIELDS)
        for receipt in receipts:
            row = receipt.to_dict()
            row["granted"] = _LIST_SEPARATOR.join(receipt.granted)
            row["refused"] = _LIST_SEPARATOR.join(receipt.refused)
            row["gpc"] = "true" if receipt.gpc else "false"
            yield _csv_line("" if row[name] is None else row[name] for name in CSV_FIELDS)
    else:
        raise ValueError(f"--format {format!r}: use jsonl or csv")


def receipts_from_lines(lines: Iterable[str], format: str = "jsonl") -> Iterator[Receipt]:
    """Parse what `export_lines` wrote."""
    if format == "jsonl":
        for line in lines:
            if line.strip():
                yield Receipt.from_dict(json.loads(line))
    elif format == "csv":
        for row in csv.DictReader(io.StringIO("".join(lines))):
            yield Receipt.from_dict(
                {
                    **row,
                    "granted": row["granted"].split(_LIST_SEPARATOR) if row["granted"] else [],
                    "refused": row["refused"].split(_LIST_SEPARATOR) if row["refused"] else [],
                    "expires_at": row["expires_at"] or None,
                    "ip_hash": row["ip_hash"] or None,
                    "user_agent": row["user_agent"] or None,
                    "gpc": row["gpc"] == "true",
                    "banner_variant": row.get("banner_variant") or None,
                    "banner_texts_digest": row.get("banner_texts_digest") or None,
                }
            )
    else:
        raise ValueError(f"format {format!r}: use jsonl or csv")
