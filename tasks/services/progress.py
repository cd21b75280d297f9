"""Progress reports: a unit reports a month's progress with evidence; the bureau accepts or
returns it with a reason. Each service checks its input, writes in one transaction and refreshes
the assignment's status."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from core.periods import Period, PeriodError
from tasks.evidence import MAX_FILES_PER_REPORT, CheckedFile, EvidenceRefused, check_evidence
from tasks.models import Assignment, AssignmentEvent, Evidence, ProgressReport
from tasks.services.status import assignments_refresh
from tasks.status import Status, local_date

logger = logging.getLogger(__name__)

MAX_TEXT = 5000
# The same report sent twice within this time is one click too many (a double click, a resent form).
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=2)


def _period(value: str | None, now: datetime) -> str:
    today = local_date(now)
    if not value:
        return f"{today:%Y-%m}"
    try:
        period = Period.parse(value)
    except PeriodError as exc:
        raise ValidationError({"period": [str(exc)]}) from None
    if period.kind != "month":
        raise ValidationError({"period": [_("Report on a month, e.g. %(example)s.") % {"example": f"{today:%Y-%m}"}]})
    if period.start > today:
        raise ValidationError({"period": [_("%(month)s has not begun yet.") % {"month": str(period)}]})
    return str(period)


def check_files(files) -> list[CheckedFile]:
    """Check every uploaded evidence file; a ValidationError on ``files`` names each refused one."""
    files = [f for f in (files or []) if f]
    if len(files) > MAX_FILES_PER_REPORT:
        raise ValidationError({"files": [_("Attach at most %(n)s files to one report.") % {"n": MAX_FILES_PER_REPORT}]})
    checked, errors = [], []
    for upload in files:
        try:
            checked.append(check_evidence(upload))
        except EvidenceRefused as exc:
            errors.append(str(exc))
    if errors:
        raise ValidationError({"files": errors})
    return checked


def progress_report_submit(*, assignment: Assignment, user, text: str, percent: int, marks_complete: bool,
                           files=None, period: str | None = None, now: datetime) -> ProgressReport:
    """Record a progress report on ``assignment``. A report that marks the task complete must carry
    evidence and says 100%. Raises ValidationError (by field) and saves nothing on bad input."""
    errors: dict[str, list[str]] = {}
    text = (text or "").strip()
    if not text:
        errors["text"] = [_("Describe the progress made.")]
    elif len(text) > MAX_TEXT:
        errors["text"] = [_("Keep the description under %(n)s characters.") % {"n": MAX_TEXT}]
    if percent is None or not 0 <= int(percent) <= 100:
        errors["percent"] = [_("The percent done is a whole number from 0 to 100.")]
    try:
        period = _period(period, now)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        period = ""
    try:
        checked = check_files(files)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        checked = []
    if marks_complete:
        if not checked and "files" not in errors:
            errors["files"] = [_("Attach the evidence (佐证材料) that the task is complete.")]
        if percent is not None and "percent" not in errors and int(percent) != 100:
            errors["percent"] = [_("A task marked complete must be 100 percent done.")]
    _check_open(assignment, errors)
    if errors:
        raise ValidationError(errors)

    saved_names: list[str] = []
    try:
        with transaction.atomic():
            locked = Assignment.objects.select_for_update().select_related("item__ledger").get(pk=assignment.pk)
            late: dict[str, list[str]] = {}
            _check_open(locked, late)  # again on the locked row: a completion may have been accepted meanwhile
            if late:
                raise ValidationError(late)
            # Under the assignment's lock, so the second of two clicks sees the first one's report.
            same = _same_report_just_sent(locked, user=user, period=period, text=text, percent=int(percent),
                                          marks_complete=bool(marks_complete), files=checked, now=now)
            if same is not None:
                return same
            report = ProgressReport.objects.create(
                assignment=locked, county_id=locked.county_id, period=period, text=text, percent=int(percent),
                marks_complete=bool(marks_complete), submitted_by=user, submitted_at=now)
            for upload in checked:
                evidence = Evidence(report=report, county_id=locked.county_id, original_name=upload.name,
                                    kind=upload.kind, content_type=upload.content_type, extension=upload.extension,
                                    size=len(upload.data), sha256=upload.sha256, uploaded_by=user)
                evidence.file.save("evidence", ContentFile(upload.data), save=False)
                saved_names.append(evidence.file.name)
                evidence.save()
            locked.percent = int(percent)
            locked.last_report_at = now
            locked.save(update_fields=["percent", "last_report_at"])
            assignments_refresh([locked], now=now)
    except Exception:
        _delete_files(saved_names)
        raise
    assignment.refresh_from_db()
    return report


def _same_report_just_sent(assignment: Assignment, *, user, period: str, text: str, percent: int,
                           marks_complete: bool, files: list[CheckedFile], now: datetime) -> ProgressReport | None:
    """The report this user sent a moment ago with exactly this content (text, figures, evidence), still
    awaiting review: a second click, answered with the first report instead of a duplicate. Two queries."""
    same = (ProgressReport.objects.filter(
        assignment=assignment, submitted_by=user, period=period, text=text, percent=percent,
        marks_complete=marks_complete, state=ProgressReport.State.SUBMITTED,
        submitted_at__gte=now - DOUBLE_SUBMIT_WINDOW).order_by("-pk").first())
    if same is None:
        return None
    if sorted(same.evidence.values_list("sha256", flat=True)) != sorted(f.sha256 for f in files):
        return None
    return same


def _check_open(assignment: Assignment, errors: dict) -> None:
    if not assignment.is_active:
        errors["__all__"] = [_("This assignment was withdrawn; it takes no more reports.")]
    elif assignment.completed_at and assignment.status != Status.CONTINUOUS:
        errors["__all__"] = [_("This task is done; it takes no more reports.")]


def _delete_files(names: list[str]) -> None:
    """Files written by a transaction that rolled back (the rows are gone; the files must go too),
    unless another report stored the same content (files are named by their hash)."""
    for name in names:
        if Evidence.objects.filter(file=name).exists():
            continue
        try:
            Evidence._meta.get_field("file").storage.delete(name)
        except OSError:
            logger.warning("could not delete orphaned evidence file %s", name, exc_info=True)


def _latest_counted(assignment: Assignment) -> ProgressReport | None:
    return (assignment.reports.exclude(state=ProgressReport.State.RETURNED)
            .order_by("-submitted_at", "-pk").first())


def progress_report_review(*, report: ProgressReport, user, accept: bool, reason: str = "",
                           now: datetime) -> ProgressReport:
    """Accept ``report`` or return it with ``reason``. An accepted report that marks the task
    complete completes the assignment (as of the report's submission). A returned report no longer
    counts: the assignment's percent and last report fall back to the newest one still standing.
    Only a report awaiting review can be reviewed, once."""
    reason = (reason or "").strip()
    if not accept and not reason:
        raise ValidationError({"reason": [_("Say why the report is returned; the unit sees the reason.")]})
    if len(reason) > MAX_TEXT:
        raise ValidationError({"reason": [_("Keep the reason under %(n)s characters.") % {"n": MAX_TEXT}]})
    state = ProgressReport.State.ACCEPTED if accept else ProgressReport.State.RETURNED
    with transaction.atomic():
        won = ProgressReport.objects.filter(pk=report.pk, state=ProgressReport.State.SUBMITTED).update(
            state=state, reviewed_by=user, reviewed_at=now, review_reason=reason)
        if not won:
            raise ValidationError(_("This report has been reviewed already."), code="already_reviewed")
        assignment = Assignment.objects.select_for_update().select_related("item__ledger").get(pk=report.assignment_id)
        if accept and report.marks_complete and assignment.completed_at is None:
            assignment.completed_at = report.submitted_at
            assignment.percent = 100
        if not accept:
            latest = _latest_counted(assignment)
            assignment.percent = latest.percent if latest else 0
            assignment.last_report_at = latest.submitted_at if latest else None
            AssignmentEvent.objects.get_or_create(
                assignment=assignment, kind=AssignmentEvent.Kind.RETURNED, key=f"report:{report.pk}",
                defaults={"county_id": assignment.county_id, "happened_at": now, "detail": reason[:300]})
        assignment.save(update_fields=["completed_at", "percent", "last_report_at"])
        assignments_refresh([assignment], now=now)
    report.refresh_from_db()
    return report
