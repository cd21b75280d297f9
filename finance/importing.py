"""What the budget and procurement imports share on the import engine (``core.imports``): reading
an .xlsx upload into numbered rows (the same container checks as every upload), finding the header
with ``core.imports.columns.locate``, the columns a clerk's file may carry that are worked out,
not read (合计, 差额: ignored without asking), the columns nobody named, the county an API import
goes to, and the API's description of the mapping."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from alliances import scoping
from alliances.models import Alliance, Region
from core import uploads
from core.imports import reading
from core.imports.columns import (
    FROM_SAVED,
    HEADER_SEARCH_ROWS,
    IGNORED,
    NOTE_WORDS,
    ColumnPlan,
    Field,
    locate,
    normalise_title,
)

MAX_CSV_ROWS = 5000


def read_rows(data: bytes, name: str, *, not_xlsx: str, max_columns: int, sheet: str | None = None
              ) -> tuple[list[tuple[int, list]] | None, str | None]:
    """The sheet's rows ``(row number, cells)``, or the one message that refuses the file. A .csv
    (UTF-8 or GB18030, as Excel saves it) is read by the import engine's reader."""
    if name.lower().endswith(".csv"):
        sheet_, issues = reading.read_data(data, name, max_columns=max_columns, max_rows=MAX_CSV_ROWS)
        return (sheet_.rows, None) if sheet_ is not None else (None, issues[0].text)
    kind = uploads.sniff_zip(data)
    refused = uploads.refusal(kind, name)  # zip bomb, macros, XML entities: as every upload says it
    if refused:
        return None, refused
    if kind != uploads.XLSX:
        return None, not_xlsx
    try:
        workbook = uploads.Workbook(data, sheet=sheet) if sheet else uploads.Workbook(data)
        rows = list(workbook.rows(max_columns))
        workbook.close()
    except Exception:  # a damaged workbook: openpyxl's errors are many
        return None, _("“%(name)s” cannot be read as a workbook.") % {"name": name}
    return rows, None


def find_header(rows: list[tuple[int, list]], fields: Sequence[Field], *, mapping=None, saved_for=None,
                computed: set[str] = frozenset()) -> ColumnPlan | None:
    """The header among the first rows and each column's field; the columns titled ``computed``
    (sums and differences the portal works out itself) are ignored like notes."""
    head = [(number, list(cells)) for number, cells in rows[:HEADER_SEARCH_ROWS]]
    plan = locate(head, fields, given=mapping, saved_for=saved_for)
    if plan is None:
        return None
    words = {normalise_title(t) for t in computed} | NOTE_WORDS  # notes: ignored under a saved mapping too
    for column in plan.columns:
        if not column.field and column.key.split("#")[0] in words:
            column.source = IGNORED
    return plan


def unknown_columns(plan: ColumnPlan, *, chosen: bool) -> list:
    """The titled columns no field claims, when nobody chose the mapping (neither the user for this
    file nor a saved mapping): their amounts would be lost, so each is an error until mapped or
    deliberately ignored."""
    if chosen or any(c.source == FROM_SAVED for c in plan.columns):
        return []
    return [c for c in plan.columns if c.title and not c.field and c.source != IGNORED]


def needs_mapping(plan: ColumnPlan, *, chosen: bool) -> bool:
    """Whether the page opens the mapping panel: a required field without a column, or a column
    nobody named (under the user's or a saved mapping, the columns left out were left out on purpose)."""
    return bool(plan.errors) or bool(unknown_columns(plan, chosen=chosen))


def own_title(column) -> str:
    """The column's own title (a two-row header's lower cell)."""
    return column.title.split(" / ")[-1]


def mapping_body(plan_json: dict) -> dict:
    """The API's ``mapping``: {column title: {field, source, column}}."""
    return {c["title"] or c["letter"]: {"field": c["field"], "source": c["source"], "column": c["letter"]}
            for c in plan_json.get("columns", [])}


def fields_body(plan_json: dict, fields: Sequence[Field]) -> list[dict]:
    return plan_json.get("fields") or [{"name": f.name, "label": str(f.label), "required": f.required}
                                       for f in fields]


def fingerprint(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def county_for(user, county_id) -> Region:
    """The county of an API import: 404 when missing or not the user's to see, 403 when seen but the
    user keeps the books of neither the county (its bureau) nor one of its alliances (the office)."""
    county = scoping.get_for_user(user, Region, county_id)
    if not county.is_county:
        raise Http404(_("Not found."))
    scope = scoping.scope_of(user)
    if not (scope.can_change_county(county.pk)
            or Alliance.objects.filter(county=county, pk__in=scope.change_alliances).exists()):
        raise PermissionDenied(_("Only the alliance office or the county bureau imports the alliance's accounts."))
    return county
