"""Who receives a report: users chosen by role for the report's county or alliance (the defaults
below, or the county's ``RecipientList``), plus extra e-mail addresses; for a filing reminder, the
people who file for each institution with a missing filing, each told of their own.

Recipient roles are portal roles read in the report's scope, plus "city": every user granted on the
county's city (the 季度评价指标表 goes up to them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Grant, Role
from alliances.models import Alliance, Region
from reports.models import Kind, RecipientList, Report, scope_key

CITY = "city"
ALLIANCE_FILERS = "alliance_filers"
ROLE_CHOICES = [
    (Role.BUREAU_ADMIN.value, Role.BUREAU_ADMIN.label),
    (Role.BUREAU_STAFF.value, Role.BUREAU_STAFF.label),
    (Role.SUPERVISOR.value, Role.SUPERVISOR.label),
    (Role.VIEWER.value, gettext_lazy("County viewers")),
    (CITY, gettext_lazy("City-level users")),
    (Role.ALLIANCE_ADMIN.value, Role.ALLIANCE_ADMIN.label),
    (ALLIANCE_FILERS, gettext_lazy("Filers and reviewers of the alliance")),
]
ROLE_LABELS = dict(ROLE_CHOICES)
COUNTY_ROLES = (Role.BUREAU_ADMIN, Role.BUREAU_STAFF, Role.SUPERVISOR, Role.VIEWER)
ALLIANCE_ROLES = (Role.ALLIANCE_ADMIN,)
ALLIANCE_FILER_ROLES = (Role.INSTITUTION_FILER, Role.INSTITUTION_REVIEWER)

# (kind, level) -> default roles. The alliance's tables also reach the bureau through the
# county's table; the alliance office gets its own.
DEFAULT_ROLES: dict[tuple[str, str], list[str]] = {
    (Kind.MONTHLY, "county"): [Role.BUREAU_ADMIN, Role.BUREAU_STAFF, Role.SUPERVISOR],
    (Kind.MONTHLY, "alliance"): [Role.ALLIANCE_ADMIN],
    (Kind.QUARTERLY, "county"): [CITY, Role.BUREAU_ADMIN],
    (Kind.SIGNOFF_ALERT, "county"): [Role.SUPERVISOR, Role.BUREAU_ADMIN],
    (Kind.LATE, "county"): [Role.BUREAU_ADMIN, Role.BUREAU_STAFF],
    (Kind.LATE, "alliance"): [Role.ALLIANCE_ADMIN, ALLIANCE_FILERS],
    (Kind.REMINDER, "county"): [],
    (Kind.FINANCE_HALF, "alliance"): [Role.ALLIANCE_ADMIN, Role.BUREAU_ADMIN, Role.BUREAU_STAFF],
}
# Which (kind, level) pairs exist, for the settings page.
CONFIGURABLE = list(DEFAULT_ROLES)


@dataclass
class Recipient:
    address_key: str
    user_id: int | None
    email: str
    reason: str
    message: str = ""


def level_of(alliance_id: int | None) -> str:
    return "alliance" if alliance_id else "county"


def lists_for(county: Region) -> dict[str, RecipientList]:
    """The county's configured lists by ``kind|scope key`` (one query)."""
    return {f"{r.kind}|{r.scope_key}": r for r in RecipientList.objects.filter(county=county)}


def configured(report_kind: str, county_id: int, alliance_id: int | None,
               lists: dict[str, RecipientList] | None = None) -> tuple[list[str], list[str]]:
    """(roles, extra addresses) for a kind and scope: the configured list, else the defaults."""
    key = f"{report_kind}|{scope_key(county_id, alliance_id)}"
    if lists is None:
        found = RecipientList.objects.filter(kind=report_kind, scope_key=scope_key(county_id, alliance_id)).first()
    else:
        found = lists.get(key)
    if found is not None:
        return list(found.roles), found.email_list
    return list(DEFAULT_ROLES.get((report_kind, level_of(alliance_id)), [])), []


def _role_condition(roles: list[str], county: Region, alliance_id: int | None) -> Q:
    condition = Q(pk__in=[])
    county_roles = [r for r in roles if r in COUNTY_ROLES]
    if county_roles:
        condition |= Q(region_id=county.pk, role__in=county_roles)
    if CITY in roles and county.parent_id:
        condition |= Q(region_id=county.parent_id)
    if alliance_id:
        if Role.ALLIANCE_ADMIN in roles:
            condition |= Q(alliance_id=alliance_id, role=Role.ALLIANCE_ADMIN)
        if ALLIANCE_FILERS in roles:
            condition |= Q(alliance_id=alliance_id, role__in=ALLIANCE_FILER_ROLES)
    return condition


def by_roles(roles: list[str], county: Region, alliance_id: int | None) -> list[Recipient]:
    """Active users holding one of ``roles`` in the scope, once each (one query)."""
    if not roles:
        return []
    grants = (Grant.objects.filter(_role_condition(roles, county, alliance_id), user__is_active=True)
              .select_related("user").order_by("user_id", "pk"))
    found: dict[int, Recipient] = {}
    for grant in grants:
        if grant.user_id in found:
            continue
        label = str(ROLE_LABELS[CITY]) if grant.region_id and grant.region_id != county.pk else grant.get_role_display()
        found[grant.user_id] = Recipient(f"user:{grant.user_id}", grant.user_id, grant.user.email or "", label)
    return list(found.values())


def by_address(addresses: list[str]) -> list[Recipient]:
    return [Recipient(f"mail:{a.lower()}", None, a, _("Configured address")) for a in addresses]


def recipients_of(report: Report, data: dict) -> list[Recipient]:
    """Everyone ``report`` goes to, with the text meant for each (reminders)."""
    roles, addresses = configured(report.kind, report.county_id, report.alliance_id)
    people = by_roles(roles, report.county, report.alliance_id)
    if report.kind == Kind.REMINDER:
        people = _reminded(report, data) + people
    seen, result = set(), []
    for recipient in [*people, *by_address(addresses)]:
        if recipient.address_key in seen:
            continue
        if recipient.user_id is None and any(r.email.lower() == recipient.email.lower() for r in result if r.email):
            continue  # an extra address that is already a user's
        seen.add(recipient.address_key)
        result.append(recipient)
    return result


def _reminded(report: Report, data: dict) -> list[Recipient]:
    """The people who file for each institution with a missing filing: the institution's filers and
    reviewers and its alliance's office and filers. Each gets the list of their own missing
    filings. One query."""
    rows = data.get("rows", [])
    if not rows:
        return []
    institution_ids = {r["institution_id"] for r in rows}
    alliance_ids = {r["alliance_id"] for r in rows if r.get("alliance_id")}
    grants = (Grant.objects.filter(user__is_active=True).filter(
        Q(institution_id__in=institution_ids, role__in=(Role.INSTITUTION_FILER, Role.INSTITUTION_REVIEWER))
        | Q(alliance_id__in=alliance_ids, role__in=(Role.ALLIANCE_ADMIN, *ALLIANCE_FILER_ROLES)))
        .select_related("user").order_by("user_id", "pk"))
    lines: dict[int, list[str]] = defaultdict(list)
    users = {}
    for grant in grants:
        users[grant.user_id] = grant.user
        for row in rows:
            if row["institution_id"] == grant.institution_id or (
                    grant.alliance_id and row.get("alliance_id") == grant.alliance_id):
                line = _("%(institution)s：%(form)s（%(period)s，截止%(due)s）") % row
                if line not in lines[grant.user_id]:
                    lines[grant.user_id].append(line)
    return [Recipient(f"user:{user_id}", user_id, users[user_id].email or "", _("Files for an institution"),
                      "\n".join(lines[user_id])) for user_id in lines]


def alliances_of(county: Region) -> list[Alliance]:
    return list(Alliance.objects.filter(county=county, is_active=True).order_by("pk"))
