"""The one filing pipeline: open, save (with audit and conflict detection), submit (with
validation), return with a reason, approve, lock, unlock with a reason.

Every write of values costs a constant number of queries whatever the number of values: the
filing's version is compared and bumped by one conditional UPDATE (a second editor working from
an older version gets a clear conflict, never a silent overwrite), the existing values are read
once, new and changed ones are written in bulk, and one audit row per changed value goes in by
one bulk insert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from alliances.models import Institution
from core import audit
from core.bulk import insert_rows, update_column
from core.periods import Period
from indicators.models import DataElement, DataValue, Filing, FilingEvent, FormElement, ReportForm, ValueAudit
from indicators.signals import send_filing_reviewed
from indicators.validation import Finding, run_checks

REOPEN_DAYS = 7


class FilingConflict(ValidationError):
    """Somebody else saved the filing since it was opened."""


@dataclass
class SaveResult:
    filing: Filing
    changed: int
    created: int


def _today() -> date:
    return timezone.localdate()


def open_filing(form: ReportForm, institution: Institution | None, period: Period, *, user=None) -> Filing:
    """The filing for form × filer × period, created as a draft when it does not exist."""
    if period.kind != form.kind:
        raise ValidationError(
            _("%(form)s is filed per %(kind)s, not for %(period)s.")
            % {"form": form.name, "kind": form.get_period_kind_display(), "period": period.label},
            code="period_kind",
        )
    if form.filer_level == ReportForm.FilerLevel.COUNTY:
        institution = None
    elif institution is None or institution.county_id != form.county_id:
        raise ValidationError(_("This form is filed by institutions of its county."), code="filer")
    filing, _created = Filing.objects.get_or_create(
        form=form, institution=institution, period=str(period),
        county_id=form.county_id,
        defaults={"period_start": period.start, "period_end": period.end, "due_date": form.due_date(period),
                  "updated_by": user},
    )
    return filing


def form_rows(form: ReportForm, institution_kind: str | None) -> list[FormElement]:
    """The form's rows that this filer fills, in order (one query)."""
    rows = form.form_elements.select_related("element").order_by("order", "pk")
    return [row for row in rows if row.applies_to(institution_kind)]


# The rows of a form, per process, by (form, rows version, institution kind): a grid save reads its
# form's rows on every request, and they change rarely; the version comes with the filing's form,
# read anyway, and moves whenever a row or one of its elements changes (indicators/signals.py).
_ROWS_CACHE: dict[tuple[int, int, str | None], list[FormElement]] = {}
_ROWS_CACHE_SIZE = 256


def cached_form_rows(form: ReportForm, institution_kind: str | None) -> list[FormElement]:
    """``form_rows``, from the per-process cache when the form's rows have not changed since. The
    rows are shared between requests: read them, never change them (the save path only reads)."""
    key = (form.pk, form.rows_version, institution_kind)
    rows = _ROWS_CACHE.get(key)
    if rows is None:
        if len(_ROWS_CACHE) >= _ROWS_CACHE_SIZE:
            _ROWS_CACHE.clear()
        rows = _ROWS_CACHE[key] = form_rows(form, institution_kind)
    return rows


def filing_kind(filing: Filing) -> str | None:
    return filing.institution.kind if filing.institution_id else None


def may_edit_on(filing: Filing, today: date | None = None) -> bool:
    """Whether the filer may still change values: draft or returned, and before the lock day (or
    reopened by the bureau until a later day)."""
    if filing.status not in Filing.EDITABLE:
        return False
    today = today or _today()
    if filing.reopened_until and today <= filing.reopened_until:
        return True
    return today <= filing.form.lock_date(Period.parse(filing.period))


def raise_not_editable(filing: Filing) -> None:
    if filing.status in Filing.EDITABLE:
        raise ValidationError(
            _("The lock day of this filing (%(day)s) has passed; ask the county bureau to unlock it.")
            % {"day": filing.form.lock_date(Period.parse(filing.period)).isoformat()},
            code="locked",
        )
    raise ValidationError(
        _("This filing is %(status)s and cannot be changed; ask the county bureau to unlock it.")
        % {"status": filing.get_status_display()},
        code="locked",
    )


def _bump(filing: Filing, expected_version: int, allowed: tuple[str, ...], user, **changes) -> None:
    """Compare and bump the version in one UPDATE; raise a conflict if someone was quicker."""
    refusal = _try_bump(filing, expected_version, allowed, user, **changes)
    if refusal is not None:
        raise refusal


def _try_bump(filing: Filing, expected_version: int, allowed: tuple[str, ...], user,
              **changes) -> ValidationError | None:
    """``_bump`` that returns the refusal (a conflict, or a state that forbids the change) instead of
    raising it; nothing is written then."""
    now = timezone.now()
    updated = Filing.objects.filter(pk=filing.pk, version=expected_version, status__in=allowed).update(
        version=F("version") + 1, updated_at=now, updated_by=user, **changes
    )
    if not updated:
        current = Filing.objects.filter(pk=filing.pk).values_list("version", "status").first()
        if current and current[0] != expected_version:
            return FilingConflict(
                _("Someone else saved this filing after you opened it (version %(theirs)s, yours %(mine)s). "
                  "Reload it to see their values; nothing of yours was saved.")
                % {"theirs": current[0], "mine": expected_version},
                code="conflict",
            )
        return ValidationError(_("This filing can no longer be changed in its present state."), code="state")
    filing.version = expected_version + 1
    filing.updated_by = user
    filing.updated_at = now
    for name, value in changes.items():
        setattr(filing, name, value)
    return None


def lock(filing: Filing) -> Filing:
    """Take the filing's row lock (``SELECT … FOR UPDATE``, held to the end of the transaction) and
    read its version, state and dates again under it. Whoever compares values or a version with
    what is filed does it after this, so two identical saves at once queue here and the second finds
    the first's values (nothing to change) instead of a version that moved under it."""
    fresh = (Filing.objects.select_for_update(of=("self",))
             .values("version", "status", "reopened_until", "updated_at", "updated_by_id").get(pk=filing.pk))
    for name, value in fresh.items():
        setattr(filing, name, value)
    return filing


def quantize(element: DataElement, value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-element.decimal_places))


def save_values(filing: Filing, values: dict[int, Decimal | None], *, user, expected_version: int,
                source: str = FilingEvent.Action.SAVE, reason: str = "", check_edit: bool = True,
                elements: dict[int, DataElement] | None = None) -> SaveResult:
    """Write ``values`` ({element id: value or None}) into ``filing``. Only changed values are
    written and audited. Constant number of queries (one fewer when the caller, who read the
    form's rows already, gives their ``elements`` {id: element}).

    All or nothing, without a savepoint of its own inside the caller's transaction (a request is
    one): every refusal (locked, a conflict, a state that forbids it) is found before anything is
    written and raised after the atomic block, so the caller's transaction stays usable; an error
    during the writes leaves the block and rolls back the caller's whole transaction."""
    if check_edit and not may_edit_on(filing):
        raise_not_editable(filing)
    allowed = Filing.EDITABLE if check_edit else tuple(Filing.Status.values)
    if elements is None or not set(values) <= set(elements):
        elements = {element.pk: element for element in DataElement.objects.filter(pk__in=list(values))}
    with transaction.atomic(savepoint=False):
        refusal = _try_bump(filing, expected_version, allowed, user)
        if refusal is None:
            return _write_values(filing, values, elements, user=user, source=source, reason=reason)
    raise refusal


def _write_values(filing: Filing, values: dict[int, Decimal | None], elements: dict[int, DataElement], *, user,
                  source: str, reason: str) -> SaveResult:
    """The writes of a save. The audit rows and the event go in as plain rows (``core.bulk``), not
    model instances: a grid save is the month end's busiest request and building 25 instances to
    insert them cost more than the database storing them (``manage.py bench_load``)."""
    existing = {element_id: (pk, value) for pk, element_id, value in
                DataValue.objects.filter(filing=filing).values_list("pk", "element_id", "value")}
    now = timezone.now()
    user_id = user.pk if user is not None else None
    new_rows, changed, audits = [], {}, []
    counted = filing.status in Filing.COUNTED
    for element_id, raw in values.items():
        value = quantize(elements[element_id], raw)
        current = existing.get(element_id)
        if current is None:
            if value is None:
                continue
            new_rows.append((element_id, filing.pk, filing.county_id, filing.institution_id, filing.period,
                             filing.period_start, filing.period_end, value, counted))
            audits.append((filing.pk, element_id, None, value, True, user_id, now, source, reason))
        elif current[1] != value:
            audits.append((filing.pk, element_id, current[1], value, False, user_id, now, source, reason))
            changed[current[0]] = value
    insert_rows(DataValue, _VALUE_COLUMNS, new_rows, returning_ids=False)
    update_column(DataValue, "value", changed, updated_at=now)
    if audits:
        insert_rows(ValueAudit, _AUDIT_COLUMNS, audits, returning_ids=False)
        insert_rows(FilingEvent, _EVENT_COLUMNS, [(filing.pk, source, user_id, now, reason)], returning_ids=False)
    return SaveResult(filing, changed=len(changed), created=len(new_rows))


_VALUE_COLUMNS = ("element_id", "filing_id", "county_id", "institution_id", "period", "period_start", "period_end",
                  "value", "counted")
_AUDIT_COLUMNS = ("filing_id", "element_id", "old_value", "new_value", "created", "user_id", "at", "source",
                  "reason")
_EVENT_COLUMNS = ("filing_id", "action", "user_id", "at", "reason")


def current_values(filing: Filing) -> dict[str, Decimal | None]:
    """{element code: value} of the filing (one query)."""
    return dict(DataValue.objects.filter(filing=filing).values_list("element__code", "value"))


def check_filing(filing: Filing, values: dict[str, Decimal | None] | None = None) -> list[Finding]:
    rows = form_rows(filing.form, filing_kind(filing))
    elements = {row.element.code: row.element for row in rows}
    if values is None:
        values = current_values(filing)
    findings = run_checks(filing, values, elements)
    missing = [row.element for row in rows if row.required and values.get(row.element.code) is None]
    if missing:
        findings.insert(0, Finding(
            "REQUIRED",
            _("%(count)d required figures are empty: %(names)s. Enter 0 where the figure is zero.")
            % {"count": len(missing), "names": "、".join(e.name for e in missing[:5])
               + ("…" if len(missing) > 5 else "")},
            "error", tuple(e.code for e in missing)))
    return findings


@transaction.atomic
def submit(filing: Filing, *, user, expected_version: int, comments: dict[str, str] | None = None) -> list[Finding]:
    """Validate and submit. Errors block; each warning needs a comment (``comments`` by finding
    code). Returns the warnings accepted."""
    if not may_edit_on(filing):
        raise_not_editable(filing)
    findings = check_filing(filing)
    errors = [f for f in findings if f.is_error]
    if errors:
        raise ValidationError([ValidationError(f.message, code="invalid") for f in errors])
    comments = {code: text.strip() for code, text in (comments or {}).items() if text and text.strip()}
    warnings = [f for f in findings if not f.is_error]
    uncommented = [f for f in warnings if f.code not in comments]
    if uncommented:
        raise ValidationError([ValidationError(_("Please explain: %(message)s") % {"message": f.message},
                                               code="comment") for f in uncommented])
    now = timezone.now()
    first = filing.first_submitted_at or now
    _bump(filing, expected_version, Filing.EDITABLE, user, status=Filing.Status.SUBMITTED, submitted_at=now,
          submitted_by=user, first_submitted_at=first, return_reason="",
          warning_comments={f.code: comments[f.code] for f in warnings})
    DataValue.objects.filter(filing=filing).update(counted=True)
    FilingEvent.objects.create(filing=filing, action=FilingEvent.Action.SUBMIT, user=user, at=now,
                               reason="\n".join(f"{f.message}：{comments[f.code]}" for f in warnings))
    return warnings


@transaction.atomic
def return_filing(filing: Filing, *, user, reason: str, expected_version: int) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the filing is returned; the filer will see it."), code="reason")
    now = timezone.now()
    _bump(filing, expected_version, (Filing.Status.SUBMITTED, Filing.Status.APPROVED), user,
          status=Filing.Status.RETURNED, return_reason=reason, reviewed_at=now, reviewed_by=user,
          reopened_until=_reopen_until(filing))
    DataValue.objects.filter(filing=filing).update(counted=False)
    FilingEvent.objects.create(filing=filing, action=FilingEvent.Action.RETURN, user=user, at=now, reason=reason)
    send_filing_reviewed(filing, "return")


def _reopen_until(filing: Filing) -> date | None:
    """A filing returned or unlocked after its lock day stays open for a week."""
    until = _today() + timedelta(days=REOPEN_DAYS)
    return until if until > filing.form.lock_date(Period.parse(filing.period)) else None


@transaction.atomic
def approve(filing: Filing, *, user, expected_version: int, comment: str = "") -> None:
    now = timezone.now()
    _bump(filing, expected_version, (Filing.Status.SUBMITTED,), user, status=Filing.Status.APPROVED,
          reviewed_at=now, reviewed_by=user, return_reason="")
    FilingEvent.objects.create(filing=filing, action=FilingEvent.Action.APPROVE, user=user, at=now,
                               reason=comment.strip())
    send_filing_reviewed(filing, "approve")


@transaction.atomic
def unlock(filing: Filing, *, user, reason: str, expected_version: int, request=None) -> None:
    """The bureau reopens an approved or locked filing (or one past its lock day) for changes; the
    unlock goes to the security log (``request``: the address and browser it came from)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the filing is unlocked."), code="reason")
    now = timezone.now()
    status_before = filing.status
    _bump(filing, expected_version, tuple(Filing.Status.values), user, status=Filing.Status.RETURNED,
          return_reason=reason, reopened_until=_today() + timedelta(days=REOPEN_DAYS))
    DataValue.objects.filter(filing=filing).update(counted=False)
    FilingEvent.objects.create(filing=filing, action=FilingEvent.Action.UNLOCK, user=user, at=now, reason=reason)
    send_filing_reviewed(filing, "unlock")
    audit.record(audit.Event.FILING_UNLOCK, request=request, actor=user, target=filing, now=now,
                 details={"reason": reason, "status_before": status_before})


def lock_due(today: date | None = None) -> int:
    """Approved filings whose lock day has passed become locked (the daily job). Returns how many."""
    today = today or _today()
    locked = 0
    candidates = Filing.objects.filter(status=Filing.Status.APPROVED).select_related("form")
    ids = [f.pk for f in candidates.only("pk", "period", "form__lock_day", "form__period_kind")
           if f.form.lock_date(Period.parse(f.period)) < today]
    if ids:
        now = timezone.now()
        locked = Filing.objects.filter(pk__in=ids, status=Filing.Status.APPROVED).update(
            status=Filing.Status.LOCKED, version=F("version") + 1, updated_at=now)
        FilingEvent.objects.bulk_create(
            [FilingEvent(filing_id=pk, action=FilingEvent.Action.LOCK, at=now) for pk in ids])
    return locked
