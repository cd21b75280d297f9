"""Column mappings remembered per county and register (``core.models.ImportMapping``), and the
mapping form of the preview pages."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core import pending
from core.imports.columns import FROM_USER
from core.models import ImportMapping


def saved_mapping(register: str, scope: int, signature: str) -> dict[str, str | None] | None:
    return ImportMapping.objects.filter(register=register, scope=scope, signature=signature).values_list(
        "mapping", flat=True).first()


def saver(register: str, scope: int):
    """``saved_for(signature)`` for ``core.imports.columns.locate``."""
    return lambda signature: saved_mapping(register, scope, signature)


def remember(plan: dict, *, register: str, scope: int, user) -> bool:
    """Save a column plan's mapping (``ColumnPlan.to_json``) for the next file with the same headers
    when the user mapped a column by hand. True when something was saved."""
    columns = plan.get("columns") or []
    if not plan.get("signature") or plan.get("errors") or not any(c.get("source") == FROM_USER for c in columns):
        return False
    values = {"headers": [c["title"] for c in columns], "mapping": {c["key"]: c["field"] for c in columns},
              "updated_by": user}
    for _attempt in range(2):  # two first saves at once: the second updates the first's row
        try:
            with transaction.atomic():
                ImportMapping.objects.update_or_create(register=register, scope=scope, signature=plan["signature"],
                                                       defaults=values)
            return True
        except IntegrityError:
            continue
    return False


def mapping_from_post(post, plan: dict) -> tuple[dict[str, str | None], list[str]]:
    """The mapping form's answer (``map_<column index>``: a field name, or empty to ignore), as
    ``{column key: field or None}`` for ``locate(given=...)``, and the errors (a field chosen for
    two columns)."""
    labels = {f["name"]: f["label"] for f in plan.get("fields", [])}
    mapping: dict[str, str | None] = {}
    errors: list[str] = []
    taken: dict[str, str] = {}
    for column in plan.get("columns", []):
        chosen = post.get(f"map_{column['index']}", "")
        if chosen not in labels:
            mapping[column["key"]] = None
            continue
        if chosen in taken:
            errors.append(_("Columns %(first)s and %(second)s are both mapped to “%(field)s”; map one of them.")
                          % {"first": taken[chosen], "second": column["letter"], "field": labels[chosen]})
            mapping[column["key"]] = None
            continue
        taken[chosen] = column["letter"]
        mapping[column["key"]] = chosen
    return mapping, errors


def remapped(request, kind: str, *, owner: dict):
    """The mapping form posted with the token of a file kept by ``pending.store_file``:
    ``(data, name, extra, mapping or None, errors)``, or None when the file is not this session's
    and owner's (expired, or somebody else's)."""
    found = pending.load_file(request.session, kind, request.POST.get("remap", ""), owner=owner)
    if found is None:
        return None
    data, name, extra = found
    given, errors = mapping_from_post(request.POST, extra.get("columns") or {})
    return data, name, extra, (given if not errors else None), errors
