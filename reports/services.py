"""The report pipeline: make the rows that are due, generate, (sign off), send, log — each step a
conditional update, so two sweeps at once, a job run twice or a retried job send nothing twice,
and a step cut short (a worker killed) is picked up again after a timeout.

    pending ──claim──▶ generating ──version──▶ ready ──(quarterly: sign-off)──▶ signed
       ▲                   │ timeout/error                                       │
       └───────────────────┘                       ready / signed ──claim + deliveries──▶ sending
                                                   sending ──all deliveries done──▶ sent / failed

Deliveries: queued ──claim──▶ sending ──▶ sent / portal (no address) / queued again with backoff /
failed after ``MAX_SEND_ATTEMPTS``. ``sweep`` runs every step; ``process`` runs them for one report
(after a regenerate or a sign-off, so nobody waits for the next sweep).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from alliances.models import Alliance, Region
from core import audit
from core.periods import Period, PeriodKind
from indicators.models import ReportForm
from reports import builders, schedule, webhooks
from reports.content import (
    alert_title,
    finance_half_title,
    late_title,
    monthly_title,
    quarterly_title,
    reminder_title,
)
from reports.models import (
    Delivery,
    Kind,
    Report,
    ReportLog,
    ReportSettings,
    ReportVersion,
    SweepMark,
    Webhook,
    parse_days,
    scope_key,
)
from reports.recipients import recipients_of

logger = logging.getLogger(__name__)

GENERATE_TIMEOUT = timedelta(minutes=10)
SEND_TIMEOUT = timedelta(minutes=5)
MAX_GENERATE_ATTEMPTS = 3
MAX_SEND_ATTEMPTS = 6
BACKOFF = [timedelta(minutes=m) for m in (1, 5, 15, 60, 180)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
State, DState = Report.State, Delivery.State
# Reports whose workbook may be regenerated (the bureau's button).
REGENERABLE = (State.READY, State.SIGNED, State.SENT, State.FAILED)


@dataclass
class SweepStats:
    created: int = 0
    recovered: int = 0
    redrafted: int = 0
    generated: int = 0
    generate_failed: int = 0
    queued: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    finished: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "errors"} | {"errors": self.errors[:10]}


def log(report_id: int, event: str, now: datetime, note: str = "", *, delivery_id: int | None = None,
        user=None) -> None:
    ReportLog.objects.create(report_id=report_id, delivery_id=delivery_id, at=now, event=event, note=note[:500],
                             user=user)


# Which reports are due ----------------------------------------------------------------------

def _county_settings(counties: list[Region]) -> dict[int, ReportSettings]:
    return {s.county_id: s for s in ReportSettings.objects.filter(county__in=counties)}


def _monthly_due_days(counties: list[Region]) -> dict[int, list[int]]:
    days: dict[int, list[int]] = {}
    for county_id, due_day in ReportForm.objects.filter(
            county__in=counties, is_active=True, period_kind=PeriodKind.MONTH,
            filer_level=ReportForm.FilerLevel.INSTITUTION).values_list("county_id", "due_day"):
        days.setdefault(county_id, []).append(due_day)
    return days


def mark_sweep(now: datetime) -> datetime:
    """Record this sweep; returns the first sweep's moment (the horizon of catch-up)."""
    mark = SweepMark.objects.filter(pk=1).first()
    if mark is None:
        try:
            with transaction.atomic():
                SweepMark.objects.create(pk=1, first_at=now, last_at=now)
            return now
        except IntegrityError:
            mark = SweepMark.objects.get(pk=1)
    SweepMark.objects.filter(pk=1, first_at__gt=now).update(first_at=now)
    SweepMark.objects.filter(pk=1, last_at__lt=now).update(last_at=now)
    return min(mark.first_at, now)


def planned(now: datetime, counties: list[Region] | None = None, *, since: datetime | None = None
            ) -> list[tuple[Region, Alliance | None, schedule.Slot]]:
    """Every report whose moment has come (within the catch-up window, and not before ``since``):
    (county, alliance, slot)."""
    if counties is None:
        counties = list(Region.objects.filter(level=Region.Level.COUNTY, alliances__is_active=True).distinct()
                        .select_related("parent").order_by("pk"))
    county_settings = _county_settings(counties)
    counties = [c for c in counties if county_settings.get(c.pk) is None or county_settings[c.pk].enabled]
    alliances: dict[int, list[Alliance]] = {}
    for alliance in Alliance.objects.filter(county__in=counties, is_active=True).order_by("pk"):
        alliances.setdefault(alliance.county_id, []).append(alliance)
    due_days = _monthly_due_days(counties)
    evaluated = builders.evaluated_counties(counties)
    monthly = schedule.monthly_due(now)
    quarterly = schedule.quarterly_due(now)
    halves = schedule.finance_half_due(now)
    digests = schedule.task_digest_due(now)
    robot_scopes = set(Webhook.objects.filter(county__in=counties).values_list("county_id", "alliance_id")) \
        if digests else set()
    result = []
    for county in counties:
        members = alliances.get(county.pk, [])
        for slot in monthly:
            result.append((county, None, slot))
            result.extend((county, alliance, slot) for alliance in members)
        if county.pk in evaluated:
            result.extend((county, None, slot) for slot in quarterly)
        result.extend((county, alliance, slot) for slot in halves for alliance in members)
        # The weekly task digest goes only where a group robot will read it.
        for slot in digests:
            if (county.pk, None) in robot_scopes:
                result.append((county, None, slot))
            result.extend((county, alliance, slot) for alliance in members if (county.pk, alliance.pk) in robot_scopes)
        days = due_days.get(county.pk)
        if days:
            chosen = county_settings.get(county.pk)
            try:
                reminder_days = parse_days(chosen.reminder_days) if chosen else [1, 3]
            except ValueError:
                reminder_days = [1, 3]
            result.extend((county, None, slot) for slot in schedule.reminders_due(now, reminder_days, max(days)))
            for slot in schedule.late_due(now, max(days)):
                result.append((county, None, slot))
                result.extend((county, alliance, slot) for alliance in members)
    # Supervisors are alerted of a quarterly table not signed off by the 3rd.
    waiting = Report.objects.filter(kind=Kind.QUARTERLY, county__in=counties,
                                    state__in=(State.PENDING, State.GENERATING, State.READY)).select_related("county")
    for report in waiting:
        period = Period.parse(report.period)
        slot = schedule.signoff_alert_slot(period)
        if slot.due_at <= now < report.deadline:
            result.append((report.county, None, slot))
    if since is not None:
        result = [row for row in result if row[2].due_at >= since]
    return result


def title_for(kind: str, county: Region, alliance: Alliance | None, period: Period, edition: int = 0) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        if kind == Kind.MONTHLY:
            return monthly_title(county, alliance, period)
        if kind == Kind.QUARTERLY:
            return quarterly_title(county, period)
        if kind == Kind.SIGNOFF_ALERT:
            return alert_title(county, period)
        if kind == Kind.REMINDER:
            return reminder_title(county, period, edition)
        if kind == Kind.FINANCE_HALF:
            return finance_half_title(alliance, period)
        if kind == Kind.TASK_DIGEST:
            day = period.start.replace(day=edition or 1)
            return _("%(unit)s weekly task digest (%(day)s)") % {
                "unit": (alliance or county).name, "day": day.isoformat()}
        return late_title(county, alliance, period)


def ensure_due(now: datetime, counties: list[Region] | None = None, *, since: datetime | None = None) -> int:
    """Create the rows of every report that is due (since ``since``) and has none yet. Safe to run
    twice or two at once: the row is unique, a conflict is skipped. Returns how many rows this
    call made."""
    wanted = planned(now, counties, since=since)
    if not wanted:
        return 0
    keys = {(s.kind, scope_key(c.pk, a.pk if a else None), str(s.period), s.edition) for c, a, s in wanted}
    existing = set(Report.objects.filter(period__in={k[2] for k in keys}, kind__in={k[0] for k in keys})
                   .values_list("kind", "scope_key", "period", "edition"))
    new = []
    for county, alliance, slot in wanted:
        key = (slot.kind, scope_key(county.pk, alliance.pk if alliance else None), str(slot.period), slot.edition)
        if key in existing:
            continue
        existing.add(key)
        new.append(Report(kind=slot.kind, county=county, alliance=alliance, scope_key=key[1], period=key[2],
                          edition=slot.edition, title=title_for(slot.kind, county, alliance, slot.period, slot.edition),
                          state=State.PENDING, state_changed_at=now, due_at=slot.due_at, deadline=slot.deadline,
                          created_at=now, late=slot.is_late(now)))
    if not new:
        return 0
    Report.objects.bulk_create(new, ignore_conflicts=True)
    made = Report.objects.filter(created_at=now, state_changed_at=now,
                                 scope_key__in={r.scope_key for r in new}, period__in={r.period for r in new})
    entries = []
    for report in made.only("pk", "late", "due_at"):
        note = _("Due %(due)s") % {"due": timezone.localtime(report.due_at).strftime("%Y-%m-%d %H:%M")}
        if report.late:
            note += _("; made late (the scheduler or the workers were not running at the due time)")
        entries.append(ReportLog(report_id=report.pk, at=now, event="created", note=note))
    ReportLog.objects.bulk_create(entries)
    return len(entries)


def create_report(kind: str, county: Region, period: Period, *, alliance: Alliance | None = None, edition: int = 0,
                  now: datetime, user=None) -> tuple[Report, bool]:
    """The row of one report (for ``generate now``): made if missing, else the existing one."""
    if kind == Kind.REMINDER and not edition:
        edition = 1
    slot = schedule.slot_for(kind, period, edition)
    key = scope_key(county.pk, alliance.pk if alliance else None)
    try:
        with transaction.atomic():
            report = Report.objects.create(
                kind=kind, county=county, alliance=alliance, scope_key=key, period=str(period), edition=slot.edition,
                title=title_for(kind, county, alliance, period, slot.edition), state=State.PENDING,
                state_changed_at=now, due_at=slot.due_at, deadline=slot.deadline, created_at=now)
    except IntegrityError:
        return Report.objects.get(kind=kind, scope_key=key, period=str(period), edition=slot.edition), False
    log(report.pk, "created", now, _("Made on request"), user=user)
    return report, True


# Recovery -------------------------------------------------------------------------------------

def recover_stuck(now: datetime, report_ids: list[int] | None = None) -> int:
    """A report generating for longer than the timeout, or a delivery sending for longer, was
    left by a worker that died: put it back (or give up on a report after too many attempts)."""
    count = 0
    stuck = Report.objects.filter(state=State.GENERATING, state_changed_at__lt=now - GENERATE_TIMEOUT)
    if report_ids is not None:
        stuck = stuck.filter(pk__in=report_ids)
    for report in stuck.only("pk", "attempts", "claim"):
        give_up = report.attempts >= MAX_GENERATE_ATTEMPTS
        moved = Report.objects.filter(pk=report.pk, state=State.GENERATING, claim=report.claim).update(
            state=State.FAILED if give_up else State.PENDING, state_changed_at=now, claim="", progress=0,
            progress_note="")
        if moved:
            count += 1
            log(report.pk, "recovered", now, _("Generation did not finish within %(minutes)s minutes; %(what)s") % {
                "minutes": int(GENERATE_TIMEOUT.total_seconds() // 60),
                "what": _("given up") if give_up else _("it will be generated again")})
    deliveries = Delivery.objects.filter(state=DState.SENDING, claimed_at__lt=now - SEND_TIMEOUT)
    if report_ids is not None:
        deliveries = deliveries.filter(report_id__in=report_ids)
    for delivery in deliveries.only("pk", "report_id", "claimed_at"):
        moved = Delivery.objects.filter(pk=delivery.pk, state=DState.SENDING, claimed_at=delivery.claimed_at).update(
            state=DState.QUEUED, next_attempt_at=now, claimed_at=None)
        if moved:
            count += 1
            log(delivery.report_id, "recovered", now, _("Sending did not finish; queued again"),
                delivery_id=delivery.pk)
    return count


# Generating -----------------------------------------------------------------------------------

def claim_for_generation(report_id: int, now: datetime) -> str | None:
    token = uuid.uuid4().hex
    moved = Report.objects.filter(pk=report_id, state=State.PENDING).update(
        state=State.GENERATING, state_changed_at=now, claim=token, attempts=F("attempts") + 1, progress=1,
        progress_note=_("Started"), error="")
    return token if moved else None


def generate(report_id: int, now: datetime, *, cache: builders.Cache | None = None, user=None) -> bool:
    """Generate a pending report: claim it, build it, store a new version, make it ready. False when
    another run holds it or it is not pending."""
    token = claim_for_generation(report_id, now)
    if token is None:
        return False
    report = Report.objects.select_related("county", "county__parent", "alliance").get(pk=report_id)
    log(report.pk, "generating", now, _("Attempt %(n)s") % {"n": report.attempts})
    started = time.perf_counter()

    def progress(percent: int, note: str) -> None:
        Report.objects.filter(pk=report_id, claim=token).update(progress=percent, progress_note=note[:100])

    try:
        with translation.override(settings.LANGUAGE_CODE):
            built = builders.build(report, now=now, cache=cache or builders.Cache(),
                                   progress=progress)
    except Exception as exc:  # a report that cannot be built must not stop the sweep
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, ValidationError):
            logger.exception("report %s could not be generated", report_id)
        give_up = report.attempts >= MAX_GENERATE_ATTEMPTS or isinstance(exc, ValidationError)
        Report.objects.filter(pk=report_id, claim=token, state=State.GENERATING).update(
            state=State.FAILED if give_up else State.PENDING, state_changed_at=now, claim="", error=message[:2000],
            progress=0, progress_note="")
        log(report_id, "generate_failed", now, message)
        return False
    elapsed = int((time.perf_counter() - started) * 1000)
    try:
        return _store(report, built, token=token, now=now, elapsed=elapsed, user=user)
    except Exception as exc:  # the database refused the version: release the claim, try again later
        logger.exception("report %s could not be stored", report_id)
        Report.objects.filter(pk=report_id, claim=token, state=State.GENERATING).update(
            state=State.PENDING, state_changed_at=now, claim="", error=f"{type(exc).__name__}: {exc}"[:2000])
        return False


def _store(report: Report, built: builders.Built, *, token: str, now: datetime, elapsed: int, user) -> bool:
    report_id = report.pk
    Report.objects.filter(pk=report_id, claim=token).update(progress=90, progress_note=_("Saving"))
    with transaction.atomic():
        number = (ReportVersion.objects.filter(report_id=report_id).aggregate(n=Max("number"))["n"] or 0) + 1
        version = ReportVersion.objects.create(
            report_id=report_id, number=number, created_at=now, created_by=user, data=built.data,
            filename=built.filename, xlsx=built.xlsx, size=len(built.xlsx or b""), build_ms=elapsed)
        # A report already sent keeps its state: the new version is sent on request (resend).
        after = State.SENT if report.sent_at else State.READY
        moved = Report.objects.filter(pk=report_id, claim=token, state=State.GENERATING).update(
            state=after, state_changed_at=now, claim="", generated_at=now, progress=100, progress_note="")
        if not moved:
            transaction.set_rollback(True)  # recovered meanwhile: the other run's version counts
            return False
        log(report_id, "generated", now, _("Version %(n)s, %(ms)s ms") % {"n": version.number, "ms": elapsed},
            user=user)
    return True


def generate_pending(now: datetime, report_ids: list[int] | None = None, stats: SweepStats | None = None) -> int:
    pending = Report.objects.filter(state=State.PENDING)
    if report_ids is not None:
        pending = pending.filter(pk__in=report_ids)
    cache = builders.Cache()
    done = 0
    # County by county, so the county's and its alliances' tables share one read.
    for report_id in pending.order_by("county_id", "period", "kind", "alliance_id", "pk").values_list("pk", flat=True):
        if generate(report_id, now, cache=cache):
            done += 1
        elif stats is not None and Report.objects.filter(pk=report_id, state=State.FAILED).exists():
            stats.generate_failed += 1
    return done


def redraft_when_complete(now: datetime, report_ids: list[int] | None = None) -> int:
    """A quarterly draft made before the quarter's filings were all in (the draft day is the 1st,
    the last month's filings are due by the 5th) is drafted again as soon as they are, while it
    waits for the sign-off. Returns the drafts sent back to be generated."""
    drafts = Report.objects.filter(kind=Kind.QUARTERLY, state=State.READY).select_related("county")
    if report_ids is not None:
        drafts = drafts.filter(pk__in=report_ids)
    count = 0
    for report in drafts:
        latest = report.versions.order_by("-number").values_list("data", flat=True).first() or {}
        expected, filed = latest.get("filings_expected"), latest.get("filings_filed")
        if expected is None or filed is None or filed >= expected:
            continue
        expected, filed = builders.quarter_filings(report.county, Period.parse(report.period))
        if filed < expected:
            continue
        moved = Report.objects.filter(pk=report.pk, state=State.READY).update(
            state=State.PENDING, state_changed_at=now, claim="", attempts=0, progress=0, progress_note="")
        if moved:
            count += 1
            log(report.pk, "regenerate", now, _("The quarter's filings are complete (%(n)s): drafted again") % {
                "n": filed})
    return count


# Sign-off, regenerate, resend -----------------------------------------------------------------

def sign_off(report: Report, *, user, commentary: str, now: datetime, request=None) -> bool:
    """The bureau signs off a quarterly draft: a signed version (the workbook with its 审核意见) and
    the report becomes ``signed``, to be sent; the sign-off goes to the security log (``request``:
    the address and browser it came from). False if it was not a ready draft any more."""
    if not report.needs_signoff:
        return False
    latest = report.versions.order_by("-number").first()
    if latest is None:
        return False
    with transaction.atomic():
        moved = Report.objects.filter(pk=report.pk, state=State.READY).update(
            state=State.SIGNED, state_changed_at=now, signed_off_at=now, signed_off_by=user,
            commentary=commentary)
        if not moved:
            return False
        content = latest.xlsx and builders.signed_workbook(
            bytes(latest.xlsx), commentary=commentary, signer=user.display_name, on=schedule.local_today(now))
        data = dict(latest.data, commentary=commentary, signed_off_by=user.display_name,
                    signed_off_at=timezone.localtime(now).strftime("%Y-%m-%d %H:%M"))
        version = ReportVersion.objects.create(
            report=report, number=latest.number + 1, created_at=now, created_by=user, data=data,
            filename=latest.filename, xlsx=content, size=len(content or b""))
        log(report.pk, "signed_off", now, _("Version %(n)s signed off") % {"n": version.number}, user=user)
        audit.record(audit.Event.REPORT_SIGNOFF, request=request, actor=user, target=report, now=now,
                     details={"version": version.number, "commentary": commentary[:200]})
    return True


def mark_read(report_id: int, user, now: datetime) -> None:
    """The user opened a version of the report (printable page or workbook): their delivery is read."""
    Delivery.objects.filter(report_id=report_id, user=user, read_at__isnull=True).update(read_at=now)


def regenerate(report: Report, *, user, now: datetime) -> bool:
    """Make a new version: back to pending (a quarterly draft not yet sent needs signing off again)."""
    fields = {"state": State.PENDING, "state_changed_at": now, "claim": "", "attempts": 0, "progress": 0,
              "progress_note": "", "error": ""}
    if report.needs_signoff and not report.sent_at:
        fields.update(signed_off_at=None, signed_off_by=None)
    moved = Report.objects.filter(pk=report.pk, state__in=REGENERABLE).update(**fields)
    if moved:
        log(report.pk, "regenerate", now, _("Regeneration requested"), user=user)
    return bool(moved)


def resend(delivery: Delivery, *, user, now: datetime) -> bool:
    """Send the report's newest version to one recipient again."""
    latest = delivery.report.versions.order_by("-number").values_list("pk", flat=True).first()
    with transaction.atomic():
        moved = Delivery.objects.filter(pk=delivery.pk, state__in=(DState.SENT, DState.FAILED, DState.PORTAL)).update(
            state=DState.QUEUED, attempts=0, next_attempt_at=now, claimed_at=None, last_error="", version_id=latest)
        if not moved:
            return False
        Report.objects.filter(pk=delivery.report_id, state=State.FAILED).update(state=State.SENDING,
                                                                                state_changed_at=now)
        log(delivery.report_id, "resend", now, _("Queued again for %(who)s") % {
            "who": delivery.label or delivery.email or delivery.user},
            delivery_id=delivery.pk, user=user)
    return True


# Sending --------------------------------------------------------------------------------------

def queue_ready(now: datetime, report_ids: list[int] | None = None) -> int:
    """Reports ready to go (monthly and the others once generated, quarterly once signed off):
    resolve the recipients, then — in one transaction — claim the report and queue one delivery per
    recipient. Returns the reports queued."""
    ready = Report.objects.filter(Q(state=State.SIGNED) | Q(state=State.READY) & ~Q(kind=Kind.QUARTERLY))
    if report_ids is not None:
        ready = ready.filter(pk__in=report_ids)
    ready = list(ready.select_related("county", "county__parent", "alliance"))
    robots: dict[tuple[int, int | None], list[Webhook]] = {}
    for webhook in Webhook.objects.filter(county__in={r.county_id for r in ready}):
        robots.setdefault((webhook.county_id, webhook.alliance_id), []).append(webhook)
    count = 0
    for report in ready:
        version = report.versions.order_by("-number").first()
        if version is None:
            continue
        people = recipients_of(report, version.data)
        with transaction.atomic():
            moved = Report.objects.filter(pk=report.pk, state=report.state).update(state=State.SENDING,
                                                                                   state_changed_at=now)
            if not moved:
                continue
            Delivery.objects.bulk_create([
                Delivery(report=report, version=version, address_key=p.address_key[:260], user_id=p.user_id,
                         email=p.email, reason=p.reason[:200], message=p.message, state=DState.QUEUED,
                         next_attempt_at=now, created_at=now)
                for p in people] + [
                Delivery(report=report, version=version, address_key=f"webhook:{hook.pk}", webhook=hook,
                         label=hook.name[:200], reason=f"{hook.get_kind_display()} {hook.masked_url}"[:200],
                         state=DState.QUEUED, next_attempt_at=now, created_at=now)
                for hook in robots.get((report.county_id, report.alliance_id), [])], ignore_conflicts=True)
            log(report.pk, "queued", now, _("%(n)s recipients") % {
                "n": len(people) + len(robots.get((report.county_id, report.alliance_id), []))})
        count += 1
    return count


def _backoff(attempts: int) -> timedelta:
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


def _email(delivery: Delivery, version: ReportVersion) -> EmailMessage:
    report = delivery.report
    lines = [_("%(title)s has been generated.") % {"title": report.title}]
    if delivery.message:
        lines += ["", delivery.message]
    if report.commentary:
        lines += ["", _("Bureau's review: %(text)s") % {"text": report.commentary}]
    if report.late:
        lines += ["", _("This report is sent late (it was due %(due)s).") % {
            "due": timezone.localtime(report.due_at).strftime("%Y-%m-%d %H:%M")}]
    lines += ["", _("Open it in the portal: %(url)s") % {"url": settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "reports:detail", kwargs={"scheduled_report_pk": report.pk})}]
    message = EmailMessage(subject=f"【医共体治理门户】{report.title}", body="\n".join(lines),
                           from_email=settings.DEFAULT_FROM_EMAIL, to=[delivery.email])
    if version is not None and version.xlsx:
        message.attach(version.filename or "report.xlsx", bytes(version.xlsx), XLSX)
    return message


def report_url(report: Report) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("reports:detail", kwargs={"scheduled_report_pk": report.pk})


def robot_message(report: Report, kind: str, data: dict | None = None) -> dict:
    """What a group robot gets: the title, the period and the portal link (no personal data); a task
    digest adds its summary lines (counts, and the longest overdue by item and unit)."""
    lines = [f"【医共体治理门户】{report.title}"]
    if report.kind == Kind.TASK_DIGEST:
        lines += list((data or {}).get("lines", []))
    else:
        lines.append(_("期间：%(period)s") % {"period": Period.parse(report.period).label})
    if report.late:
        lines.append(_("This report is sent late (it was due %(due)s).") % {
            "due": timezone.localtime(report.due_at).strftime("%Y-%m-%d %H:%M")})
    return webhooks.body(kind, title=report.title, text="\n".join(lines), url=report_url(report))


def deliver_due(now: datetime, report_ids: list[int] | None = None, stats: SweepStats | None = None) -> int:
    """Send every queued delivery whose time has come, each claimed first."""
    stats = stats or SweepStats()
    due = Delivery.objects.filter(state=DState.QUEUED, next_attempt_at__lte=now)
    if report_ids is not None:
        due = due.filter(report_id__in=report_ids)
    versions: dict[int, ReportVersion] = {}
    sent = 0
    for delivery in due.select_related("report", "user", "webhook").order_by("report_id", "pk"):
        moved = Delivery.objects.filter(pk=delivery.pk, state=DState.QUEUED).update(
            state=DState.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        if not moved:
            continue
        attempts = delivery.attempts + 1
        robot = delivery.address_key.startswith("webhook:")
        if robot and delivery.webhook is None:
            Delivery.objects.filter(pk=delivery.pk, state=DState.SENDING).update(
                state=DState.FAILED, last_error=_("The group robot was removed."), claimed_at=None)
            log(delivery.report_id, "failed", now, _("The group robot was removed."), delivery_id=delivery.pk)
            stats.failed += 1
            continue
        if not delivery.email and not robot:
            Delivery.objects.filter(pk=delivery.pk, state=DState.SENDING).update(state=DState.PORTAL, sent_at=now)
            log(delivery.report_id, "portal", now, _("In the inbox; no e-mail address"), delivery_id=delivery.pk)
            sent += 1
            continue
        if not robot and delivery.version_id and delivery.version_id not in versions:
            versions[delivery.version_id] = ReportVersion.objects.get(pk=delivery.version_id)
        try:
            with translation.override(settings.LANGUAGE_CODE):
                if robot:
                    digest = delivery.version.data if delivery.report.kind == Kind.TASK_DIGEST and delivery.version_id else None
                    webhooks.post(delivery.webhook, robot_message(delivery.report, delivery.webhook.kind, digest), now)
                else:
                    _email(delivery, versions.get(delivery.version_id)).send()
        except Exception as exc:  # SMTP and robots have many ways to fail; each is retried
            error = (str(exc) if isinstance(exc, webhooks.WebhookError) else f"{type(exc).__name__}: {exc}")[:500]
            if attempts >= MAX_SEND_ATTEMPTS:
                Delivery.objects.filter(pk=delivery.pk, state=DState.SENDING).update(
                    state=DState.FAILED, last_error=error, claimed_at=None)
                log(delivery.report_id, "failed", now, error, delivery_id=delivery.pk)
                stats.failed += 1
            else:
                retry_at = now + _backoff(attempts)
                Delivery.objects.filter(pk=delivery.pk, state=DState.SENDING).update(
                    state=DState.QUEUED, last_error=error, claimed_at=None, next_attempt_at=retry_at)
                log(delivery.report_id, "retry", now, _("%(error)s; retry at %(at)s") % {
                    "error": error, "at": timezone.localtime(retry_at).strftime("%H:%M")}, delivery_id=delivery.pk)
                stats.retried += 1
            continue
        Delivery.objects.filter(pk=delivery.pk, state=DState.SENDING).update(state=DState.SENT, sent_at=now,
                                                                             last_error="", claimed_at=None)
        if robot:
            note = _("Posted to the group robot %(name)s, attempt %(n)s") % {"name": delivery.label, "n": attempts}
        else:
            note = _("E-mail to %(address)s, attempt %(n)s") % {"address": delivery.email, "n": attempts}
        log(delivery.report_id, "sent", now, note, delivery_id=delivery.pk)
        sent += 1
    stats.sent += sent
    return sent


def finish_sending(now: datetime, report_ids: list[int] | None = None) -> int:
    """Reports whose deliveries are all done become sent (or failed if one failed for good)."""
    open_deliveries = Delivery.objects.filter(report_id=OuterRef("pk"), state__in=(DState.QUEUED, DState.SENDING))
    failed = Delivery.objects.filter(report_id=OuterRef("pk"), state=DState.FAILED)
    candidates = Report.objects.filter(state=State.SENDING).exclude(Exists(open_deliveries))
    if report_ids is not None:
        candidates = candidates.filter(pk__in=report_ids)
    count = 0
    for report in candidates.annotate(any_failed=Exists(failed)).only("pk", "deadline", "sent_at", "late"):
        final = State.FAILED if report.any_failed else State.SENT
        late = report.late or (report.sent_at is None and now > report.deadline)
        moved = (Report.objects.filter(pk=report.pk, state=State.SENDING).exclude(Exists(open_deliveries))
                 .update(state=final, state_changed_at=now, sent_at=report.sent_at or now, late=late))
        if moved:
            count += 1
            note = _("All recipients done") if final == State.SENT else _("Some deliveries failed")
            if late and not report.late:
                note += _("; after the deadline %(deadline)s") % {
                    "deadline": timezone.localtime(report.deadline).strftime("%Y-%m-%d %H:%M")}
            log(report.pk, final, now, note)
    return count


# The sweep ------------------------------------------------------------------------------------

def sweep(now: datetime | None = None, *, create: bool = True) -> SweepStats:
    """Everything due, in order. Safe to run at any time, twice, or two at once."""
    now = now or timezone.now()
    stats = SweepStats()
    with translation.override(settings.LANGUAGE_CODE):
        if create:
            stats.created = ensure_due(now, since=mark_sweep(now))
        stats.recovered = recover_stuck(now)
        stats.redrafted = redraft_when_complete(now)
        stats.generated = generate_pending(now, stats=stats)
        stats.queued = queue_ready(now)
        deliver_due(now, stats=stats)
        stats.finished = finish_sending(now)
    return stats


def process(report_id: int, now: datetime | None = None) -> SweepStats:
    """The sweep's steps for one report (after a regenerate, a sign-off or a resend)."""
    now = now or timezone.now()
    ids = [report_id]
    stats = SweepStats()
    with translation.override(settings.LANGUAGE_CODE):
        stats.recovered = recover_stuck(now, ids)
        stats.generated = generate_pending(now, ids, stats=stats)
        stats.queued = queue_ready(now, ids)
        deliver_due(now, ids, stats=stats)
        stats.finished = finish_sending(now, ids)
    return stats


def due_not_sent(now: datetime) -> list[dict]:
    """What is due and not sent: planned slots without a row, and rows not yet sent."""
    rows = []
    existing = {}
    for report in Report.objects.exclude(state=State.SENT).select_related("county", "alliance"):
        existing[(report.kind, report.scope_key, report.period, report.edition)] = report
        rows.append({"report": report, "kind": report.get_kind_display(), "title": report.title,
                     "state": report.get_state_display(), "due_at": report.due_at, "late": now > report.deadline})
    made = set(Report.objects.values_list("kind", "scope_key", "period", "edition"))
    mark = SweepMark.objects.filter(pk=1).first()
    for county, alliance, slot in planned(now, since=mark.first_at if mark else None):
        key = (slot.kind, scope_key(county.pk, alliance.pk if alliance else None), str(slot.period), slot.edition)
        if key in made:
            continue
        rows.append({"report": None, "kind": Kind(slot.kind).label,
                     "title": title_for(slot.kind, county, alliance, slot.period, slot.edition),
                     "state": _("Not made yet"), "due_at": slot.due_at, "late": now > slot.deadline})
    rows.sort(key=lambda r: r["due_at"])
    return rows
