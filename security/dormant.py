"""Dormant accounts (等保: 及时删除或停用多余的、过期的账户): an active account with no sign-in for
``ACCOUNT_DORMANT_DAYS`` days — counted from its last sign-in, its creation or its reactivation,
whichever is latest — is deactivated by the nightly job, one ``user.deactivate`` event each.

Never a superuser, and never a county's last active account able to run its accounts (the county
would be left without anyone to reactivate the others): those are skipped, not logged, and returned
to the job. Running twice deactivates nothing more (a conditional update of active accounts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Grant, User
from alliances.exports import OFFICIAL_LANGUAGE
from alliances.models import Region
from core import audit
from core.audit import Event
from security.grants import security_capable_roles
from security.user_selectors import last_activity_before

REASON = "dormant"


@dataclass
class DormantResult:
    deactivated: list[str] = field(default_factory=list)  # user names
    skipped: list[str] = field(default_factory=list)  # the last account able to run a county's accounts


def dormant_deactivate(*, now: datetime | None = None, days: int | None = None) -> DormantResult:
    """Deactivate the dormant accounts (see the module). A handful of queries and one write of the
    security log, whatever the number of accounts."""
    now = now or timezone.now()
    days = settings.ACCOUNT_DORMANT_DAYS if days is None else days
    result = DormantResult()
    if not days:
        return result
    # "No sign-in for 180 days" includes the 180th day: the moment itself counts as dormant.
    cutoff = now - timedelta(days=days) + timedelta(microseconds=1)
    with transaction.atomic():
        candidates = list(User.objects.filter(last_activity_before(cutoff), is_active=True, is_superuser=False)
                          .order_by("last_login", "date_joined", "pk"))
        if not candidates:
            return result
        capable = security_capable_roles()
        counties = set(Region.objects.filter(level=Region.Level.COUNTY, grants__role__in=capable,
                                             grants__user__in=[u.pk for u in candidates]).values_list("pk", flat=True))
        # Serialise with the administrators' own deactivations and revocations in these counties.
        list(Region.objects.select_for_update().filter(pk__in=counties).values_list("pk", flat=True))
        holders: dict[int, set[int]] = {}
        for region_id, user_id in Grant.objects.filter(region_id__in=counties, role__in=capable,
                                                       user__is_active=True).values_list("region_id", "user_id"):
            holders.setdefault(region_id, set()).add(user_id)
        chosen = []
        for user in candidates:
            runs = [c for c, ids in holders.items() if user.pk in ids]
            if any(holders[c] == {user.pk} for c in runs):
                result.skipped.append(user.username)
                continue
            for c in runs:
                holders[c].discard(user.pk)
            chosen.append(user)
        if not chosen:
            return result
        with translation.override(OFFICIAL_LANGUAGE):
            reason = _("No sign-in for %(days)s days") % {"days": days}
        changed = User.objects.filter(pk__in=[u.pk for u in chosen], is_active=True).update(
            is_active=False, deactivated_at=now, deactivation_reason=reason[:200])
        if changed != len(chosen):  # someone changed them meanwhile: log only what this run did
            still = set(User.objects.filter(pk__in=[u.pk for u in chosen], deactivated_at=now)
                        .values_list("pk", flat=True))
            chosen = [u for u in chosen if u.pk in still]
        county_of = _counties_of(chosen)
        events = []
        for user in chosen:
            last = max(t for t in (user.last_login, user.date_joined, user.reactivated_at) if t is not None)
            user.is_active, user.deactivated_at, user.deactivation_reason = False, now, reason[:200]
            events.append(audit.Pending(Event.USER_DEACTIVATE, actor=None, username="system", target=user,
                                        county_id=county_of.get(user.pk),
                                        details={"reason": REASON, "days": days,
                                                 "last_activity": last, "channel": "job"}))
            result.deactivated.append(user.username)
        audit.record_many(events, now=now)
    return result


def _counties_of(users: list[User]) -> dict[int, int | None]:
    """Each account's county for the security log, without a query per account: the one that keeps
    it, else that of its first grant inside a county (one query)."""
    found = {u.pk: u.county_id for u in users if u.county_id}
    rest = [u.pk for u in users if not u.county_id]
    if rest:
        grants = Grant.objects.filter(user_id__in=rest).select_related("region", "alliance", "institution")
        for grant in grants.order_by("pk"):
            if found.get(grant.user_id):
                continue
            if grant.region_id:
                county = grant.region_id if grant.region.level == Region.Level.COUNTY else None
            else:
                county = (grant.alliance or grant.institution).county_id
            if county:
                found[grant.user_id] = county
    return found
