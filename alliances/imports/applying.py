"""Writing a valid import in one transaction, through the model rules and the membership services."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from alliances import services
from alliances.exports import REGISTER_COLUMN_BY_KEY
from alliances.imports.cells import _key
from alliances.imports.results import ImportFailed, ImportResult, Issue, RowResult
from alliances.models import AllianceMembership, Institution, Region

Role = AllianceMembership.Role

FIELD_BY_MODEL_FIELD = {"name": "name", "short_name": "short_name", "kind": "kind", "parent": "parent",
                        "credit_code": "credit_code", "beds": "beds", "service_population": "service_population"}


def apply_import(result: ImportResult, *, county: Region, user) -> dict[str, int]:
    """Write a valid ``result``: institutions first (each managing institution before its village
    clinics), then memberships (leads first). One transaction: on any error nothing is saved and
    ``ImportFailed`` lists the errors by row."""
    if not result.ok:
        raise ImportFailed(result.issues)
    table = result.table
    issues: list[Issue] = []

    def row_issues(row: RowResult, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            for name, errors in exc.error_dict.items():
                key = FIELD_BY_MODEL_FIELD.get(name)
                letter, title = table.columns.get(key, (None, REGISTER_COLUMN_BY_KEY[key].title if key else None))
                for message in ValidationError(errors).messages:
                    issues.append(Issue(message, row=row.row, column=letter if name != NON_FIELD_ERRORS else None,
                                        title=title))
        else:
            key = "alliance"
            letter, title = table.columns.get(key, (None, None))
            for message in exc.messages:
                issues.append(Issue(message, row=row.row, column=letter, title=title))

    with transaction.atomic():
        saved: dict[str, Institution] = {}
        failed: set[str] = set()
        pending = [r for r in result.rows if r.field_changes]
        done_keys = {_key(r.name) for r in result.rows if not r.field_changes}
        # Institutions, each managing institution before the clinics it manages.
        while pending:
            ready = [r for r in pending if not r.parent_name or _key(r.parent_name) in done_keys
                     or _key(r.parent_name) not in {_key(p.name) for p in pending}]
            if not ready:  # a circle; validate() refuses these
                issues.append(Issue(_("the managing institutions form a circle."), row=pending[0].row))
                break
            for row in ready:
                pending.remove(row)
                done_keys.add(_key(row.name))
                if row.parent_name and _key(row.parent_name) in failed:
                    failed.add(_key(row.name))  # its managing institution failed: reported there
                    continue
                try:
                    with transaction.atomic():
                        saved[_key(row.name)] = _save_institution(row, county, saved)
                except ValidationError as exc:
                    failed.add(_key(row.name))
                    row_issues(row, exc)
                except IntegrityError:
                    failed.add(_key(row.name))
                    issues.append(Issue(_("the data changed while the file was being imported; please upload it "
                                          "again."), row=row.row))
        if issues:
            raise ImportFailed(issues)
        # Memberships: leads first, so that members join an alliance that has its lead.
        rows = sorted((r for r in result.rows if r.membership), key=lambda r: r.membership["role"] != Role.LEAD)
        for row in rows:
            institution = saved.get(_key(row.name)) or row.institution
            membership = row.membership
            alliance, role, day = membership["alliance"], membership["role"], membership["on"]
            current = institution.memberships.on(day).first()
            if current and current.alliance_id == alliance.pk and current.role == role and current.valid_from == day:
                continue  # already so (a lead change earlier in this import made the old lead a member)
            try:
                with transaction.atomic():
                    if membership["operation"] == "change_lead":
                        services.alliance_change_lead(alliance=alliance, new_lead=institution, on=day)
                    elif current is None and not institution.memberships.filter(valid_from__gt=day).exists():
                        services.membership_create(institution=institution, alliance=alliance, role=role,
                                                   valid_from=day)
                    else:
                        services.institution_move(institution=institution, to_alliance=alliance, on=day, role=role)
            except ValidationError as exc:
                row_issues(row, exc)
            except IntegrityError:
                issues.append(Issue(_("the data changed while the file was being imported; please upload it "
                                      "again."), row=row.row))
        if issues:
            raise ImportFailed(issues)
    counts = result.counts
    return {"create": counts["create"], "update": counts["update"], "unchanged": counts["unchanged"]}


def _save_institution(row: RowResult, county: Region, saved: dict[str, Institution]) -> Institution:
    institution = row.institution or Institution(county=county, name=row.data["name"])
    data = row.data  # an existing institution keeps its name as stored (the file's may differ in spacing)
    institution.kind = data["kind"]
    for key in ("short_name", "credit_code", "beds", "service_population"):
        if key in data:
            setattr(institution, key, data[key])
    if "parent" in data or institution.pk is None:
        parent = None
        if row.parent_name:
            parent = saved.get(_key(row.parent_name)) or row.parent_existing
        institution.parent = parent
    institution.full_clean()
    institution.save()
    return institution
