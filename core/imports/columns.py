"""Finding a register's table in a sheet and mapping its columns to the register's fields.

A register declares its ``Field``s: a name, a Chinese label, the header words that mean it
(``synonyms``) and the words that mean it only when no better column claims it (``also``: 责任单位
is the lead unit of a ledger, unless a 牵头单位 column is there too — then it names the
cooperating units). ``locate`` finds the header row among the first rows of the sheet (title,
文号 and date lines above it are the caller's metadata), reads a two-row header (a merged parent
over its children), and maps every column:

1. a mapping the user gives for this file (the preview's mapping form, or the API's ``mapping``);
2. else the mapping saved for this county and register for the same headers (``core.imports.mappings``);
3. else the header words: synonyms first, then ``also`` words, each field to one column, in the
   order the fields are declared. Two columns with the same title are never guessed between.

A required field no column maps to is an error naming the field, and nothing is imported on a
guess: a column no word names stays unmapped (ignored) until the user maps it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

from django.utils.translation import gettext as _
from openpyxl.utils import get_column_letter

HEADER_SEARCH_ROWS = 15
SAMPLE_VALUES = 3

# Where a column's field came from.
FROM_USER, FROM_SAVED, FROM_WORDS, UNMAPPED = "user", "saved", "words", "unmapped"


def normalise_title(value: Any) -> str:
    """A header cell as compared: NFKC, no whitespace, no required-marks (*), no unit or note in
    brackets at the end (完成时限（年月） → 完成时限)."""
    text = unicodedata.normalize("NFKC", str(value if value is not None else ""))
    text = re.sub(r"\s+", "", text).replace("*", "").replace("＊", "")
    return re.sub(r"\([^()]*\)$", "", text)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    synonyms: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # words that mean this field only when no synonym's column claims it
    required: bool = False

    def rank_of(self, title: str) -> int | None:
        if title in self._words(self.synonyms):
            return 1
        if title in self._words(self.also):
            return 2
        return None

    @staticmethod
    def _words(words: tuple[str, ...]) -> set[str]:
        return {normalise_title(w) for w in words}


@dataclass
class Column:
    index: int  # 0-based position in the row
    title: str  # as written (a two-row header: "parent / child")
    key: str  # the mapping's key: the normalised title, with "#2", "#3" for repeated titles
    samples: list[str] = field(default_factory=list)
    field: str | None = None
    source: str = UNMAPPED

    @property
    def letter(self) -> str:
        return get_column_letter(self.index + 1)

    def to_json(self) -> dict:
        return {"index": self.index, "letter": self.letter, "title": self.title, "key": self.key,
                "samples": self.samples, "field": self.field, "source": self.source}


@dataclass
class ColumnPlan:
    """The header as found and how each column maps; ``errors`` when a required field has no column."""

    header_row: int  # the sheet's row number of the (last) header row
    header_rows: int  # 1, or 2 for a merged two-row header
    position: int  # index of the (last) header row in the rows given to ``locate``
    columns: list[Column]
    fields: Sequence[Field]
    errors: list[str] = field(default_factory=list)

    @property
    def signature(self) -> str:
        """The header's fingerprint: the same titles in the same order give the same signature."""
        return hashlib.sha256("\x1f".join(c.key for c in self.columns).encode()).hexdigest()

    @property
    def by_field(self) -> dict[str, Column]:
        return {c.field: c for c in self.columns if c.field}

    @property
    def mapping(self) -> dict[str, str | None]:
        return {c.key: c.field for c in self.columns}

    @property
    def unmapped(self) -> list[Column]:
        return [c for c in self.columns if not c.field]

    @property
    def needs_user(self) -> bool:
        """Whether the user should look at the mapping: a required field is missing, or a column
        with a title was left unmapped."""
        return bool(self.errors) or any(c.title and not c.field and c.source == UNMAPPED for c in self.columns)

    def to_json(self) -> dict:
        return {"header_row": self.header_row, "header_rows": self.header_rows, "signature": self.signature,
                "columns": [c.to_json() for c in self.columns], "errors": self.errors,
                "fields": [{"name": f.name, "label": str(f.label), "required": f.required} for f in self.fields]}


def _texts(cells: list) -> list[str]:
    return [str(v).strip() if v is not None else "" for v in cells]


def _score(cells: list, fields: Sequence[Field]) -> tuple[int, int, int]:
    """(required fields named, fields named, cells naming a field) by a row's cells."""
    titles = [normalise_title(v) for v in cells if v is not None]
    named = [f for f in fields if any(f.rank_of(t) for t in titles)]
    naming = sum(1 for t in titles if t and any(f.rank_of(t) for f in fields))
    return sum(1 for f in named if f.required), len(named), naming


def locate(head: list[tuple[int, list]], fields: Sequence[Field], *, given: dict[str, str | None] | None = None,
           saved_for=None) -> ColumnPlan | None:
    """The header among ``head`` (``(row number, cells)``, merged cells already filled) and its
    mapping. The header is the row naming the most required fields, then the most fields; without
    any known word, the first row with two or more texts (after a title line). A row below it whose
    texts name more fields makes a two-row header. ``rows_below`` (the first data rows) give each
    column's sample values. ``saved_for(signature)`` gives the mapping saved for these headers (or
    None). None when no row could be a header."""
    best, best_score = None, (0, 0, 0)
    for position, (_number, cells) in enumerate(head):
        score = _score(cells, fields)
        if score > best_score:
            best, best_score = position, score
    if best is None:
        # No known word anywhere: the first row about as wide as the table, all text, none a
        # "label：value" line (填报单位：…), is the header the user will map.
        widths = [sum(1 for t in _texts(cells) if t) for _n, cells in head]
        wide = max(widths, default=0)
        best = next((p for p, (_n, cells) in enumerate(head)
                     if widths[p] >= max(2, 0.6 * wide)
                     and all(isinstance(v, str) and not re.search(r"[:：]", v) for v in cells if v not in (None, ""))),
                    None)
        if best is None:
            return None
    upper = _texts(head[best][1])
    titles, matched, position, header_rows = upper, upper, best, 1
    if best + 1 < len(head):
        lower = _texts(head[best + 1][1])
        lookup = [lo or up for lo, up in zip_longest(lower, upper, fillvalue="")]
        # A second header row: its own words name fields (a data row's cells are not header words),
        # and with the parents above them they name at least as much as the first row alone.
        if _score(lower, fields)[1] and _score(lookup, fields) >= best_score:
            titles = [f"{up} / {lo}" if up and lo and up != lo else (lo or up)
                      for lo, up in zip_longest(lower, upper, fillvalue="")]
            matched, position, header_rows = lookup, best + 1, 2
    columns = _columns(titles, matched)
    below = [cells for _number, cells in head[position + 1:]]
    for column in columns:
        column.samples = [s for s in (_sample(row, column.index) for row in below) if s][:SAMPLE_VALUES]
    plan = ColumnPlan(header_row=head[position][0], header_rows=header_rows, position=position,
                      columns=columns, fields=fields)
    _map(plan, given=given, saved=saved_for(plan.signature) if saved_for and not given else None)
    return plan


def _columns(titles: list[str], matched: list[str]) -> list[Column]:
    columns, seen = [], {}
    for index, title in enumerate(titles):
        match = normalise_title(matched[index] if index < len(matched) else title)
        seen[match] = seen.get(match, 0) + 1
        key = match if seen[match] == 1 else f"{match}#{seen[match]}"
        columns.append(Column(index=index, title=title, key=key))
    while columns and not columns[-1].title:  # trailing empty columns
        columns.pop()
    return columns


def _sample(row: list, index: int) -> str:
    value = row[index] if index < len(row) else None
    text = "" if value is None else str(value).strip()
    return text if len(text) <= 40 else text[:39] + "…"


def _map(plan: ColumnPlan, *, given: dict | None, saved: dict | None) -> None:
    names = {f.name for f in plan.fields}
    keys = {c.key for c in plan.columns}
    for source, mapping in ((FROM_USER, given), (FROM_SAVED, saved)):
        if mapping and set(mapping) & keys:
            taken: set[str] = set()
            for column in plan.columns:
                chosen = mapping.get(column.key)
                if chosen in names and chosen not in taken:
                    column.field, column.source = chosen, source
                    taken.add(chosen)
                elif column.key in mapping and chosen is None:
                    column.source = source  # left ignored by the user: a decision, not a question
            if source == FROM_USER or not set(mapping) ^ keys:
                # The user's mapping is the whole answer; a saved one, when it covers these headers.
                # A notes column left without a field stays what it was: ignored, not "not mapped".
                for column in plan.columns:
                    if not column.field and column.key.split("#")[0] in NOTE_WORDS:
                        column.source = IGNORED
                _check(plan)
                return
            for column in plan.columns:  # a saved mapping of other headers: start again from the words
                column.field, column.source = None, UNMAPPED
    _map_by_words(plan)
    _check(plan)


# Columns of notes: ignored without asking, unless the register has a field of that name.
NOTE_WORDS = {"备注", "说明", "附注", "备考"}
IGNORED = "ignored"


def _map_by_words(plan: ColumnPlan) -> None:
    counts: dict[str, int] = {}
    for column in plan.columns:
        base = column.key.split("#")[0]
        counts[base] = counts.get(base, 0) + 1
    repeated = {base for base, n in counts.items() if n > 1 and base}
    candidates = []
    for order, f in enumerate(plan.fields):
        for column in plan.columns:
            base = column.key.split("#")[0]
            if not base or base in repeated:  # two columns of one title: never guess between them
                continue
            rank = f.rank_of(base)
            if rank:
                candidates.append((rank, order, column.index, f.name, column))
    taken: set[str] = set()
    for _rank, _order, _index, name, column in sorted(candidates, key=lambda c: c[:3]):
        if name in taken or column.field:
            continue
        column.field, column.source = name, FROM_WORDS
        taken.add(name)
    for column in plan.columns:
        if not column.field and column.key.split("#")[0] in NOTE_WORDS:
            column.source = IGNORED


def _check(plan: ColumnPlan) -> None:
    mapped = {c.field for c in plan.columns if c.field}
    repeated = sorted({c.title for c in plan.columns
                       if c.key.split("#")[0] and any(o.key == c.key.split("#")[0] + "#2" for o in plan.columns)})
    plan.errors = []
    for f in plan.fields:
        if f.required and f.name not in mapped:
            words = "、".join(f.synonyms[:3])
            if repeated:
                plan.errors.append(_("No column is mapped to the required field “%(field)s” (a column titled "
                                     "%(words)s); the file has columns of the same title (%(titles)s): say which "
                                     "one is which.") % {"field": f.label, "words": words, "titles": "、".join(repeated)})
            else:
                plan.errors.append(_("No column is mapped to the required field “%(field)s” (a column titled "
                                     "%(words)s): map one of the file's columns to it.")
                                   % {"field": f.label, "words": words})


def parse_mapping(data: Any, fields: Sequence[Field]) -> tuple[dict[str, str | None] | None, list[str]]:
    """A mapping given by a user or a script (``{column key or title: field name or null}``),
    checked: unknown field names and a field given to two columns are errors."""
    if data in (None, "", {}):
        return None, []
    if not isinstance(data, dict):
        return None, [_("The mapping must be an object {column title: field name or null}.")]
    names = {f.name for f in fields}
    mapping: dict[str, str | None] = {}
    errors, used = [], {}
    for key, value in data.items():
        column = normalise_title(key) if "#" not in str(key) else str(key)
        if value in (None, "", "ignore"):
            mapping[column] = None
            continue
        if value not in names:
            errors.append(_("The column “%(column)s” is mapped to “%(field)s”, which is not a field of this "
                            "register.") % {"column": key, "field": value})
            continue
        if value in used:
            errors.append(_("The field “%(field)s” is mapped to two columns, “%(first)s” and “%(second)s”.")
                          % {"field": value, "first": used[value], "second": key})
            continue
        used[value] = key
        mapping[column] = value
    return mapping, errors
