"""Contract reminders: 60 and 30 days before a contract ends, the HR officers who keep the person's
roster (of the institution, its alliance or the county) get one e-mail a day listing whom it
concerns. Each (person, contract end, lead time) is reminded once; a night the job did not run is
caught up the next night, as long as the contract has not ended."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Grant, Role
from alliances.models import AllianceMembership
from core.clock import local_date
from core.workbook import OFFICIAL_LANGUAGE
from core.workbook import date_zh as _date_zh
from staffing.models import ContractReminder, Staff

logger = logging.getLogger(__name__)
LEAD_DAYS = (60, 30)


def _recipients(people: list[Staff], today: date) -> dict[int, set[int]]:
    """{user id: staff ids} of the HR officers who keep each person's roster. Two queries."""
    counties = {p.county_id for p in people}
    institutions = {p.institution_id for p in people} | {p.home_id for p in people}
    memberships = defaultdict(set)
    for institution_id, alliance_id in AllianceMembership.objects.on(today).filter(
            institution_id__in=institutions).values_list("institution_id", "alliance_id"):
        memberships[institution_id].add(alliance_id)
    grants = Grant.objects.filter(role=Role.HR_OFFICER, user__is_active=True).filter(
        Q(region_id__in=counties) | Q(alliance__county_id__in=counties) | Q(institution__county_id__in=counties))
    result: dict[int, set[int]] = defaultdict(set)
    for user_id, region_id, alliance_id, institution_id in grants.values_list("user_id", "region_id", "alliance_id",
                                                                             "institution_id"):
        for person in people:
            places = {person.institution_id, person.home_id}
            if (region_id == person.county_id or institution_id in places
                    or (alliance_id and any(alliance_id in memberships[p] for p in places))):
                result[user_id].add(person.pk)
    return result


def send_contract_reminders(now: datetime) -> dict[str, int]:
    from django.contrib.auth import get_user_model

    today = local_date(now)
    due: list[tuple[Staff, int]] = []
    people = Staff.objects.filter(contract_end__gte=today, contract_end__lte=today + timedelta(days=max(LEAD_DAYS))) \
        .filter(Q(left_on__isnull=True) | Q(left_on__gt=today)).select_related("institution")
    done = set(ContractReminder.objects.filter(contract_end__gte=today).values_list("staff_id", "contract_end",
                                                                                   "lead_days"))
    for person in people:
        lead = min((d for d in LEAD_DAYS if person.contract_end <= today + timedelta(days=d)), default=None)
        if lead is not None and (person.pk, person.contract_end, lead) not in done:
            due.append((person, lead))
    if not due:
        return {"people": 0, "emails": 0}
    recipients = _recipients([p for p, _lead in due], today)
    reminded = []
    with transaction.atomic():
        for person, lead in due:
            try:
                with transaction.atomic():
                    ContractReminder.objects.create(
                        county_id=person.county_id, staff=person, contract_end=person.contract_end, lead_days=lead,
                        sent_at=now, recipients=sum(1 for ids in recipients.values() if person.pk in ids))
            except IntegrityError:  # another run reminded them meanwhile
                continue
            reminded.append((person, lead))
    by_pk = {p.pk: (p, lead) for p, lead in reminded}
    emails = 0
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=list(recipients))}
    with translation.override(OFFICIAL_LANGUAGE):
        for user_id, staff_ids in recipients.items():
            lines = [_("· %(name)s (%(institution)s): the contract ends on %(day)s, in %(days)s days") % {
                "name": by_pk[pk][0].name, "institution": by_pk[pk][0].institution.name,
                "day": _date_zh(by_pk[pk][0].contract_end), "days": (by_pk[pk][0].contract_end - today).days}
                for pk in sorted(staff_ids) if pk in by_pk]
            user = users.get(user_id)
            if not lines or user is None or not user.email:
                continue
            try:
                send_mail(subject=_("[医共体治理门户] Contracts ending soon (%(n)s people)") % {"n": len(lines)},
                          message="\n".join([_("These people's contracts end soon; renew or end them in time:"), "",
                                              *lines]),
                          from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[user.email])
                emails += 1
            except Exception:  # the SMTP server's errors are many; the roster page lists them too
                logger.warning("contract reminder to %s failed", user.email, exc_info=True)
    return {"people": len(reminded), "emails": emails}
