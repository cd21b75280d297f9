"""What reading and checking an upload produce: the raw table, the problems found and, row by
row, what the import will do."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from alliances.models import Institution, Region
from core.issues import ImportFailed, Issue

__all__ = ["FIELD_KEYS", "MEMBERSHIP_KEYS", "Change", "ImportFailed", "ImportResult", "Issue", "RawTable",
           "RowResult"]

FIELD_KEYS = ("name", "short_name", "kind", "parent", "credit_code", "beds", "service_population")
MEMBERSHIP_KEYS = ("alliance", "role", "joined")


@dataclass
class RawTable:
    """The cells of an upload: where the header is, which column holds which field, and each data
    row's raw values (str, int, float, bool, date or None) by field key."""

    filename: str
    file_format: str  # "xlsx" or "csv"
    header_rows: tuple[int, int]
    columns: dict[str, tuple[str, str]]  # key -> (column letter, title as written in the file)
    ignored_columns: list[tuple[str, str]]  # (letter, title) of columns with titles we do not know
    rows: list[tuple[int, dict[str, Any]]]
    mapping: dict = field(default_factory=dict)  # the column plan (``ColumnPlan.to_json``)

    def to_json(self) -> str:
        def encode(value):
            return {"date": value.isoformat()} if isinstance(value, date) else value

        return json.dumps({
            "filename": self.filename, "file_format": self.file_format, "header_rows": list(self.header_rows),
            "columns": self.columns, "ignored_columns": self.ignored_columns,
            "rows": [[number, {k: encode(v) for k, v in values.items()}] for number, values in self.rows],
            "mapping": self.mapping,
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> RawTable:
        data = json.loads(text)

        def decode(value):
            return date.fromisoformat(value["date"]) if isinstance(value, dict) else value

        return cls(
            filename=data["filename"], file_format=data["file_format"], header_rows=tuple(data["header_rows"]),
            columns={k: tuple(v) for k, v in data["columns"].items()},
            ignored_columns=[tuple(c) for c in data["ignored_columns"]],
            rows=[(number, {k: decode(v) for k, v in values.items()}) for number, values in data["rows"]],
            mapping=data.get("mapping", {}),
        )


@dataclass
class Change:
    """A changed field: its key, the column title, and the old and new values as shown. ``plain``
    holds the values independent of the interface language (kind and role codes)."""

    key: str
    title: str
    old: str
    new: str
    plain: tuple = ()


@dataclass
class RowResult:
    row: int
    name: str = ""
    action: str = ""  # "create", "update" or "unchanged"
    display: dict[str, str] = field(default_factory=dict)  # parsed values for the preview, by field key
    raw: dict[str, str] = field(default_factory=dict)  # the cells as written, by field key
    changes: list[Change] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    # What apply_import needs.
    institution: Institution | None = None
    data: dict[str, Any] = field(default_factory=dict)  # cleaned values of the columns present
    parent_name: str | None = None  # resolved full name of the managing institution, or None
    parent_existing: Institution | None = None  # the managing institution when it exists already
    membership: dict[str, Any] | None = None  # {"alliance": Alliance, "role": str, "on": date}

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def field_changes(self) -> bool:
        """Whether the institution itself is written (not only its membership)."""
        return self.action == "create" or any(c.key in FIELD_KEYS for c in self.changes)


@dataclass
class ImportResult:
    county: Region
    table: RawTable | None
    rows: list[RowResult] = field(default_factory=list)
    file_issues: list[Issue] = field(default_factory=list)

    @property
    def issues(self) -> list[Issue]:
        row_issues = [i for r in self.rows for i in r.issues]
        return self.file_issues + sorted(row_issues, key=lambda i: (i.row or 0, i.column or ""))

    @property
    def ok(self) -> bool:
        return not self.file_issues and all(r.ok for r in self.rows)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "unchanged": 0, "error": 0}
        for r in self.rows:
            counts[r.action if r.ok else "error"] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return any(r.action in ("create", "update") for r in self.rows)

    def fingerprint(self) -> str:
        """What the import would do, as a hash: the confirmation applies only what was previewed."""
        plan = [[r.row, r.name, r.action, r.ok, [[c.key, *(c.plain or (c.old, c.new))] for c in r.changes]]
                for r in self.rows]
        return hashlib.sha256(json.dumps(plan, ensure_ascii=False).encode()).hexdigest()
