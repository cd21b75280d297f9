"""The daily digest: each person affected by events not yet told gets one notification a day, in
the portal and by e-mail; nothing when there is nothing new; never the same event twice.

Who is affected by an event of an assignment:
- an institution's assignment: the institution's reporters (filer, reviewer) and the reporters of
  the alliance it belongs to today (the lead hospital's office files for its members);
- an alliance's assignment: the alliance's reporters;
- a department's assignment: the county bureau (bureau_admin, bureau_staff), who report for it;
- an overdue event or a supervision order also reaches the county's supervisors.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Grant, Role
from alliances.models import AllianceMembership
from alliances.scoping import REPORTER_ROLES
from tasks.models import AssignmentEvent, Notification, NotificationItem
from tasks.status import local_date

logger = logging.getLogger(__name__)

BATCH = 2000
BUREAU_ROLES = (Role.BUREAU_ADMIN, Role.BUREAU_STAFF)
SUPERVISOR_EVENTS = (AssignmentEvent.Kind.OVERDUE, AssignmentEvent.Kind.ORDER)


@dataclass
class DigestStats:
    events: int = 0
    notifications: int = 0
    emailed: int = 0
    failed: int = 0


def recipients(events: list[AssignmentEvent], *, day) -> dict[int, set[int]]:
    """``{event id: {user id, …}}`` for ``events`` (with ``assignment`` loaded). Four queries."""
    assignments = [e.assignment for e in events]
    institution_ids = {a.institution_id for a in assignments if a.institution_id}
    alliance_of = dict(AllianceMembership.objects.on(day).filter(institution_id__in=institution_ids)
                       .values_list("institution_id", "alliance_id"))
    alliance_ids = {a.alliance_id for a in assignments if a.alliance_id} | set(alliance_of.values())
    county_ids = {a.county_id for a in assignments}
    by_institution, by_alliance = defaultdict(set), defaultdict(set)
    bureau, supervisors = defaultdict(set), defaultdict(set)
    grants = Grant.objects.filter(user__is_active=True).filter(
        Q(institution_id__in=institution_ids, role__in=REPORTER_ROLES)
        | Q(alliance_id__in=alliance_ids, role__in=REPORTER_ROLES)
        | Q(region_id__in=county_ids, role__in=(*BUREAU_ROLES, Role.SUPERVISOR))
    ).values_list("user_id", "role", "institution_id", "alliance_id", "region_id")
    for user_id, role, institution_id, alliance_id, region_id in grants:
        if institution_id:
            by_institution[institution_id].add(user_id)
        elif alliance_id:
            by_alliance[alliance_id].add(user_id)
        elif role == Role.SUPERVISOR:
            supervisors[region_id].add(user_id)
        else:
            bureau[region_id].add(user_id)
    result: dict[int, set[int]] = {}
    for event in events:
        a = event.assignment
        users: set[int] = set()
        if a.institution_id:
            users |= by_institution[a.institution_id] | by_alliance[alliance_of.get(a.institution_id)]
        elif a.alliance_id:
            users |= by_alliance[a.alliance_id]
        else:
            users |= bureau[a.county_id]
        if event.kind in SUPERVISOR_EVENTS:
            users |= supervisors[a.county_id]
        result[event.pk] = users
    return result


def event_text(event: AssignmentEvent) -> str:
    a = event.assignment
    item = a.item
    values = {"number": item.number, "task": item.text[:60], "unit": a.unit_name,
              "due": item.due_date.isoformat() if item.due_date else "", "detail": event.detail}
    texts = {
        AssignmentEvent.Kind.DUE_SOON: _("Due soon (by %(due)s): %(number)s %(task)s — %(unit)s"),
        AssignmentEvent.Kind.OVERDUE: _("Overdue since %(due)s: %(number)s %(task)s — %(unit)s"),
        AssignmentEvent.Kind.BEHIND: _("Behind schedule: %(number)s %(task)s — %(unit)s"),
        AssignmentEvent.Kind.RETURNED: _("Progress report returned (%(detail)s): %(number)s %(task)s — %(unit)s"),
        AssignmentEvent.Kind.ORDER: _("Supervision order %(detail)s: %(number)s %(task)s — %(unit)s"),
        AssignmentEvent.Kind.TARGET_MET: _("Target met, done by itself (%(detail)s): %(number)s %(task)s — %(unit)s"),
        AssignmentEvent.Kind.TARGET_UNMET: _("Target no longer met, open again (%(detail)s): %(number)s %(task)s — "
                                             "%(unit)s"),
        AssignmentEvent.Kind.TARGET_AWAY: _("Indicator moving away from the target (%(detail)s): %(number)s "
                                            "%(task)s — %(unit)s"),
    }
    return texts[event.kind] % values


def digest_send(*, now: datetime) -> DigestStats:
    """Gather the events not yet told into today's digests and send them. Safe to run twice, or two
    at once: a person's digest of a day is unique, and so is each (person, event)."""
    day = local_date(now)
    stats = DigestStats()
    with translation.override(settings.LANGUAGE_CODE):
        while True:
            events = list(AssignmentEvent.objects.filter(processed_at__isnull=True)
                          .select_related("assignment__item", "assignment__department", "assignment__institution",
                                          "assignment__alliance")
                          .order_by("happened_at", "pk")[:BATCH])
            if not events:
                break
            stats.events += len(events)
            _gather(events, day=day, now=now, stats=stats)
            if len(events) < BATCH:
                break
        _send_pending(day=day, now=now, stats=stats)
    return stats


def _gather(events: list[AssignmentEvent], *, day, now: datetime, stats: DigestStats) -> None:
    who = recipients(events, day=day)
    told = set(NotificationItem.objects.filter(event__in=events).values_list("user_id", "event_id"))
    pending: dict[int, list[AssignmentEvent]] = defaultdict(list)
    for event in events:
        for user_id in who[event.pk]:
            if (user_id, event.pk) not in told:
                pending[user_id].append(event)
    # One digest a day: a person who has today's already gets these tomorrow.
    has_today = set(Notification.objects.filter(day=day, user_id__in=list(pending)).values_list("user_id", flat=True))
    for user_id, user_events in pending.items():
        if user_id in has_today:
            continue
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    user_id=user_id, day=day,
                    title=_("Task reminders of %(day)s: %(n)s") % {"day": day.isoformat(), "n": len(user_events)})
                NotificationItem.objects.bulk_create([
                    NotificationItem(notification=notification, user_id=user_id, event=event,
                                     text=event_text(event)[:500],
                                     url=reverse("tasks:item_detail", kwargs={"item_pk": event.assignment.item_id}))
                    for event in user_events])
        except IntegrityError:
            continue  # another run made this person's digest meanwhile
        stats.notifications += 1
        for event in user_events:
            told.add((user_id, event.pk))
    # An event is done once everyone it concerns has it (or nobody is concerned).
    done = [e.pk for e in events if all((u, e.pk) in told for u in who[e.pk])]
    AssignmentEvent.objects.filter(pk__in=done, processed_at__isnull=True).update(processed_at=now)


def _send_pending(*, day, now: datetime, stats: DigestStats) -> None:
    """E-mail today's digests not e-mailed yet: each is claimed by a conditional update first, so two
    runs never send one twice."""
    for notification in Notification.objects.filter(day=day, email_state=Notification.EmailState.PENDING) \
            .select_related("user").prefetch_related("items"):
        claimed = Notification.objects.filter(pk=notification.pk, email_state=Notification.EmailState.PENDING) \
            .update(email_state=Notification.EmailState.SENDING)
        if not claimed:
            continue
        address = notification.user.email
        if not address:
            Notification.objects.filter(pk=notification.pk).update(email_state=Notification.EmailState.NONE)
            continue
        lines = [notification.title, ""] + [f"· {item.text}" for item in notification.items.all()]
        try:
            send_mail(subject=f"【医共体治理门户】{notification.title}", message="\n".join(lines),
                      from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[address])
        except Exception as exc:  # the SMTP server's errors are many; the digest stays in the portal
            logger.warning("digest e-mail to %s failed", address, exc_info=True)
            Notification.objects.filter(pk=notification.pk).update(
                email_state=Notification.EmailState.FAILED, email_error=str(exc)[:300])
            stats.failed += 1
            continue
        Notification.objects.filter(pk=notification.pk).update(email_state=Notification.EmailState.SENT,
                                                               emailed_at=now)
        stats.emailed += 1
