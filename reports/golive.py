"""上线准备: what a county still lacks before it runs the portal with its own people — one line per
part of the go-live (institutions, alliances, filers, report forms, recipients of the scheduled
reports, history, the first monthly table), each saying what is missing and where it is done.
A constant number of queries whatever the county's size."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Grant
from alliances.models import Alliance, AllianceMembership, Institution, Region
from alliances.scoping import REPORTER_ROLES
from core.periods import Period
from indicators.models import Filing, ReportForm
from reports import recipients
from reports.models import Kind
from tasks.models import Ledger

MISSING_SHOWN = 8


@dataclass
class Line:
    key: str
    title: str
    done: bool
    summary: str
    missing: list[str] = field(default_factory=list)
    more: int = 0
    url: str = ""
    action: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # missing items with where each is done


def _names(items: list[str]) -> tuple[list[str], int]:
    return items[:MISSING_SHOWN], max(0, len(items) - MISSING_SHOWN)


def checklist(county: Region, today: date) -> list[Line]:
    institutions = list(Institution.objects.filter(county=county, is_active=True).values("pk", "name", "kind",
                                                                                         "parent_id"))
    members = AllianceMembership.objects.on(today).filter(institution__county=county)
    in_alliance = set(members.values_list("institution_id", flat=True))
    clinic = Institution.Kind.VILLAGE_CLINIC
    unaffiliated = [i["name"] for i in institutions
                    if i["pk"] not in in_alliance and not (i["kind"] == clinic and i["parent_id"] in in_alliance)]
    lines = []
    shown, more = _names(unaffiliated)
    lines.append(Line(
        "institutions", _("Institutions registered"), bool(institutions) and not unaffiliated,
        ngettext("%(n)d active institution", "%(n)d active institutions", len(institutions)) % {"n": len(institutions)}
        + ("；" + ngettext("%(n)d in no alliance", "%(n)d in no alliance", len(unaffiliated))
           % {"n": len(unaffiliated)} if unaffiliated else ""),
        shown, more, reverse("alliances:region_detail", kwargs={"region_pk": county.pk}),
        _("Register or import the institutions")))

    alliances = list(Alliance.objects.filter(county=county, is_active=True).values("pk", "name"))
    led = set(members.filter(role=AllianceMembership.Role.LEAD).values_list("alliance_id", flat=True))
    leaderless = [a["name"] for a in alliances if a["pk"] not in led]
    shown, more = _names(leaderless)
    lines.append(Line(
        "alliances", _("Alliances and their members"), bool(alliances) and not leaderless,
        ngettext("%(n)d alliance, %(m)d members today", "%(n)d alliances, %(m)d members today", len(alliances))
        % {"n": len(alliances), "m": len(in_alliance)}
        + ("；" + _("without a lead hospital: %(n)d") % {"n": len(leaderless)} if leaderless else ""),
        shown, more, reverse("alliances:alliance_list"), _("Add alliances and import their members")))

    forms = list(ReportForm.objects.filter(county=county, is_active=True).order_by("code"))
    filed_by_institutions = any(f.filer_level == ReportForm.FilerLevel.INSTITUTION for f in forms)
    with_filer = set(Grant.objects.filter(user__is_active=True, role__in=REPORTER_ROLES, institution__county=county)
                     .values_list("institution_id", flat=True))
    filer_alliances = set(Grant.objects.filter(user__is_active=True, role__in=REPORTER_ROLES,
                                               alliance__county=county).values_list("alliance_id", flat=True))
    covered = with_filer | set(members.filter(alliance_id__in=filer_alliances).values_list("institution_id",
                                                                                        flat=True))
    no_filer = [i["name"] for i in institutions if filed_by_institutions and i["pk"] not in covered
                and not (i["kind"] == clinic and i["parent_id"] in covered)]
    shown, more = _names(no_filer)
    lines.append(Line(
        "filers", _("A filer for every institution"), bool(institutions) and not no_filer,
        _("%(with)d of %(all)d institutions have someone who files for them")
        % {"with": len(institutions) - len(no_filer), "all": len(institutions)},
        shown, more, reverse("security:user_list"), _("Create the filers' accounts (or import them)")))

    no_first = [f.name for f in forms if not f.first_period]
    shown, more = _names(no_first)
    lines.append(Line(
        "forms", _("Report forms and their first live period"), bool(forms) and not no_first,
        ngettext("%(n)d active form", "%(n)d active forms", len(forms)) % {"n": len(forms)}
        + ("；" + _("without a first live period: %(n)d") % {"n": len(no_first)} if no_first else ""),
        shown, more, reverse("indicators:report_form_first_periods" if forms else "indicators:report_form_list",
                             kwargs={"region_pk": county.pk}),
        _("Set each form's first live period")))

    lists = recipients.lists_for(county)
    silent = []
    for kind in (Kind.MONTHLY, Kind.QUARTERLY):
        roles, emails = recipients.configured(kind, county.pk, None, lists)
        if not emails and not recipients.by_roles(roles, county, None):
            silent.append(str(Kind(kind).label))
    lines.append(Line(
        "recipients", _("Recipients of the scheduled reports"), not silent,
        _("Nobody would receive: %(kinds)s") % {"kinds": "、".join(silent)} if silent
        else _("The monthly progress table and the quarterly evaluation table have recipients"),
        [], 0, reverse("reports:settings", kwargs={"region_pk": county.pk}), _("Choose the recipients")))

    lines.append(_history_line(county, forms))

    ledgers = Ledger.objects.filter(county=county).count()
    # Sent on the 5th for the month before: this month's 5th if it is still ahead, else next month's.
    send = date(today.year, today.month, 5)
    if today.day >= 5:
        send = date(today.year + today.month // 12, today.month % 12 + 1, 5)
    covers = Period.month(send.year, send.month).previous
    lines.append(Line(
        "first_table", _("The first monthly progress table"), ledgers > 0,
        (_("%(date)s, for %(month)s, from %(n)d task ledgers") % {"date": send.isoformat(), "month": covers.label,
                                                                  "n": ledgers})
        if ledgers else _("No task ledger yet: the table would be empty"),
        [], 0, reverse("tasks:ledger_import", kwargs={"region_pk": county.pk}), _("Import the task ledgers")))
    return lines


def _history_line(county: Region, forms: list[ReportForm]) -> Line:
    """For each form with a first live period: the periods of the year before it that hold counted
    filings — what 同比 targets of the first live year are judged against."""
    dated = [f for f in forms if f.first_period]
    wanted: dict[int, set[str]] = {}
    for form in dated:
        first = Period.parse(form.first_period)
        year_before = Period(first.year - 1, first.kind, first.index)
        periods, period = set(), year_before
        while period < first:
            periods.add(str(period))
            period = period.next
        wanted[form.pk] = periods
    loaded: dict[int, set[str]] = {pk: set() for pk in wanted}
    if wanted:
        every = set().union(*wanted.values())
        for form_id, period in (Filing.objects.filter(county=county, form_id__in=list(wanted), period__in=every,
                                                      status__in=Filing.COUNTED)
                                .values_list("form_id", "period").distinct()):
            loaded[form_id].add(period)
    lacking_forms = [f for f in dated if loaded[f.pk] < wanted[f.pk]]
    lacking = [f"{f.name}（{len(loaded[f.pk] & wanted[f.pk])}/{len(wanted[f.pk])}）" for f in lacking_forms]
    shown, more = _names(lacking)
    url = reverse("indicators:report_form_list", kwargs={"region_pk": county.pk})
    links = [(name, reverse("indicators:history_import", kwargs={"form_pk": f.pk}))
             for name, f in zip(shown, lacking_forms, strict=False)]
    return Line("history", _("History of the year before going live"), bool(dated) and not lacking,
                _("%(done)d of %(all)d forms have every period of the year before their first live period")
                % {"done": len(dated) - len(lacking), "all": len(dated)},
                shown, more, url, _("Load each form's history (历史数据导入)"), links)

