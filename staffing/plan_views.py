"""统一招聘 and 培训 pages: the alliances' recruitment plans of a year (by member, with the planned and
hired totals and the completion rate per alliance and overall), their forms, and the staff's training
records with the year's counts by kind and member; both lists export the official .xlsx table.

Who sees and who changes is ``staffing.scoping``'s: a plan is kept by the county bureau, the alliance
office and the HR officers of the alliance or county; a training record by whoever may change the
staff member."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.validators import MinValueValidator
from django.db.models import Q, QuerySet
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alliances import scoping
from alliances.exports import OFFICIAL_LANGUAGE
from alliances.models import Alliance, AllianceMembership, Institution, Region
from alliances.scoping import CHANGE, VIEW
from core import workbook as xlsx
from core.clock import local_date, request_now
from core.http import safe_filename, xlsx_response
from staffing.models import RecruitmentPlan, Staff, TrainingRecord

FIRST_YEAR = 2015
HUNDRED = Decimal(100)


def _today(request) -> date:
    return local_date(request_now(request))


def _year(text: str | None, today: date) -> int:
    try:
        year = int(text or "")
    except ValueError:
        return today.year
    return year if FIRST_YEAR <= year <= today.year + 5 else today.year


def _years(today: date) -> list[int]:
    return list(range(today.year + 1, today.year - 6, -1))


def _rate(hired: int, planned: int) -> Decimal | None:
    """完成率: hired ÷ planned in per cent, one decimal (None without a plan)."""
    if not planned:
        return None
    return (Decimal(hired) * HUNDRED / Decimal(planned)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _percent(value: Decimal | None) -> str:
    return "" if value is None else f"{value}%"


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def _errors(form: forms.BaseForm) -> list[str]:
    """Each error of the form as "field label：message" (the whole form's errors unlabelled)."""
    lines = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        lines += [f"{label}：{e}" if label else str(e) for e in errors]
    return lines


def _unit(user) -> str:
    """The 填报单位 of the user's tables: the institution, the alliance or the county bureau the user
    works for."""
    scope = scoping.scope_of(user)
    if len(scope.view_counties) == 1 and not scope.granted_regions - scope.view_counties:
        county = Region.objects.filter(pk__in=scope.view_counties).first()
        if county is not None:
            return _("%(county)s Health Bureau") % {"county": county.name}
    if scope.view_alliances and not scope.view_counties:
        return "、".join(Alliance.objects.filter(pk__in=scope.view_alliances).order_by("pk")
                        .values_list("name", flat=True))
    if scope.view_institutions and not (scope.view_counties or scope.view_alliances):
        return "、".join(Institution.objects.filter(pk__in=scope.view_institutions).order_by("pk")
                        .values_list("name", flat=True))
    return ""


# Recruitment plans (统一招聘) ---------------------------------------------------------------------

def _plan_alliances(user) -> QuerySet[Alliance]:
    """The alliances whose recruitment plans ``user`` keeps (the ``CHANGE`` rule of the plans)."""
    scope = scoping.scope_of(user)
    if scope.everything:
        return Alliance.objects.all()
    return Alliance.objects.filter(Q(county_id__in=scope.change_counties | scope.hr_counties)
                                   | Q(pk__in=scope.change_alliances | scope.hr_alliances))


def _may_plan(user) -> bool:
    scope = scoping.scope_of(user)
    return bool(scope.everything or scope.change_counties or scope.hr_counties or scope.change_alliances
                or scope.hr_alliances)


class PlanForm(forms.ModelForm):
    """A line of the recruitment plan. The member must be a current member of the alliance (an old
    line keeps its member when neither changes); hired never exceeds planned."""

    class Meta:
        model = RecruitmentPlan
        fields = ["alliance", "institution", "year", "post", "profession", "employment", "planned", "hired",
                  "status", "note"]

    def __init__(self, *args, alliances: QuerySet[Alliance], today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        instance = self.instance if self.instance.pk else None
        alliance_field = self.fields["alliance"]
        condition = Q(pk__in=alliances.filter(is_active=True).values("pk"))
        if instance is not None:
            condition |= Q(pk=instance.alliance_id)
        alliance_field.queryset = Alliance.objects.filter(condition).order_by("county_id", "name")
        memberships = list(AllianceMembership.objects.on(today).filter(alliance__in=alliance_field.queryset)
                           .select_related("alliance", "institution")
                           .order_by("alliance__county_id", "alliance__name", "role", "institution__name"))
        self.current = {(m.alliance_id, m.institution_id) for m in memberships}
        institution_ids = {m.institution_id for m in memberships}
        groups: dict[str, list] = {}
        for m in memberships:
            groups.setdefault(m.alliance.name, []).append((m.institution_id, m.institution.name))
        if instance is not None and instance.institution_id not in institution_ids:
            institution_ids.add(instance.institution_id)
            groups.setdefault(instance.alliance.name, []).append((instance.institution_id, instance.institution.name))
        member_field = self.fields["institution"]
        member_field.queryset = Institution.objects.filter(pk__in=institution_ids)
        member_field.choices = [("", "---------"), *((name, options) for name, options in groups.items())]
        year_field = self.fields["year"]
        year_field.min_value, year_field.max_value = FIRST_YEAR, today.year + 5
        year_field.widget.attrs.update(min=FIRST_YEAR, max=today.year + 5)
        planned = self.fields["planned"]
        planned.min_value = 1
        planned.validators = [v for v in planned.validators if not isinstance(v, MinValueValidator)]
        planned.validators.append(MinValueValidator(1))
        planned.widget.attrs["min"] = 1
        planned.error_messages["min_value"] = _("Plan at least one post.")

    def clean_year(self):
        year = self.cleaned_data["year"]
        if not FIRST_YEAR <= year <= self.today.year + 5:
            raise forms.ValidationError(_("Choose a year from %(first)s to %(last)s.") % {
                "first": FIRST_YEAR, "last": self.today.year + 5})
        return year

    def clean(self):
        cleaned = super().clean()
        alliance, member = cleaned.get("alliance"), cleaned.get("institution")
        if alliance is not None and member is not None and (alliance.pk, member.pk) not in self.current:
            unchanged = (self.instance.pk and self.instance.alliance_id == alliance.pk
                         and self.instance.institution_id == member.pk)
            if not unchanged:
                self.add_error("institution", _("%(member)s is not a current member of %(alliance)s.") % {
                    "member": member.name, "alliance": alliance.name})
        planned, hired = cleaned.get("planned"), cleaned.get("hired")
        if planned is not None and hired is not None and hired > planned:
            self.add_error("hired", _("The number hired cannot exceed the number planned."))
        return cleaned


def _plan_groups(rows: list[RecruitmentPlan]) -> tuple[list[dict], dict]:
    """The lines by alliance with each alliance's totals, and the overall totals; cancelled lines
    count in neither."""
    groups: list[dict] = []
    for plan in rows:
        if not groups or groups[-1]["alliance"].pk != plan.alliance_id:
            groups.append({"alliance": plan.alliance, "lines": [], "planned": 0, "hired": 0})
        group = groups[-1]
        group["lines"].append(plan)
        if plan.status != RecruitmentPlan.Status.CANCELLED:
            group["planned"] += plan.planned
            group["hired"] += plan.hired
    for group in groups:
        group["rate"] = _rate(group["hired"], group["planned"])
    planned = sum(g["planned"] for g in groups)
    hired = sum(g["hired"] for g in groups)
    return groups, {"planned": planned, "hired": hired, "rate": _rate(hired, planned)}


STATUS_BADGES = {
    RecruitmentPlan.Status.PLANNED: "text-bg-secondary",
    RecruitmentPlan.Status.APPROVED: "text-bg-info",
    RecruitmentPlan.Status.ADVERTISED: "text-bg-primary",
    RecruitmentPlan.Status.DONE: "text-bg-success",
    RecruitmentPlan.Status.CANCELLED: "text-bg-light border text-decoration-line-through",
}


@login_required
def plans(request):
    user = request.user
    today = _today(request)
    year = _year(request.GET.get("year"), today)
    visible = scoping.queryset_for(user, RecruitmentPlan, VIEW)
    alliances = list(Alliance.objects.filter(Q(pk__in=visible.values("alliance_id"))
                                             | Q(pk__in=scoping.queryset_for(user, Alliance, VIEW).values("pk")))
                     .select_related("county").order_by("county_id", "name"))
    alliance = next((a for a in alliances if str(a.pk) == request.GET.get("alliance")), None)
    rows = visible.filter(year=year)
    if alliance is not None:
        rows = rows.filter(alliance=alliance)
    rows = list(rows.select_related("alliance__county", "institution")
                .order_by("alliance__county_id", "alliance__name", "alliance_id", "institution__name", "pk"))
    groups, total = _plan_groups(rows)
    if request.GET.get("format") == "xlsx":
        return _plans_export(request, alliance=alliance, alliances=alliances, year=year, groups=groups,
                             total=total, today=today)
    changeable = set(scoping.queryset_for(user, RecruitmentPlan, CHANGE).filter(pk__in=[p.pk for p in rows])
                     .values_list("pk", flat=True))
    for group in groups:
        for plan in group["lines"]:
            plan.can_change = plan.pk in changeable
            plan.badge = STATUS_BADGES.get(plan.status, "text-bg-secondary")
    query = urlencode({"year": year, **({"alliance": alliance.pk} if alliance else {})})
    return render(request, "staffing/plans.html", {
        "year": year, "years": _years(today), "alliances": alliances, "alliance": alliance, "groups": groups,
        "total": total, "count": len(rows), "may_plan": _may_plan(user), "query": query,
    })


def _plans_title(alliance: Alliance | None, alliances: list[Alliance], year: int) -> str:
    if alliance is not None:
        owner = alliance.name
    else:
        counties = {a.county.name for a in alliances}
        owner = counties.pop() if len(counties) == 1 else ""
    return _("%(owner)s%(year)s recruitment plan of the alliances") % {"owner": owner, "year": year}


def _plans_export(request, *, alliance, alliances, year, groups, total, today):
    with translation.override(OFFICIAL_LANGUAGE):
        title = _plans_title(alliance, alliances, year)
        columns = [xlsx.Column(_("Item no."), 6), xlsx.Column(_("Member"), 24, text=True),
                   xlsx.Column(_("Post"), 22, text=True), xlsx.Column(_("Profession"), 12, text=True),
                   xlsx.Column(_("Employment category"), 14, text=True), xlsx.Column(_("Number planned"), 10),
                   xlsx.Column(_("Number hired"), 10), xlsx.Column(_("Status"), 10), xlsx.Column(_("Note"), 24, text=True)]
        rows: list = []
        number = 0
        for group in groups:
            rows.append(xlsx.Heading(group["alliance"].name))
            for plan in group["lines"]:
                number += 1
                rows.append([number, plan.institution.name, plan.post, str(plan.get_profession_display()),
                             str(plan.get_employment_display()), plan.planned, plan.hired,
                             str(plan.get_status_display()), plan.note])
            rows.append([_("Subtotal"), "", "", "", "", group["planned"], group["hired"],
                         _("Completion %(rate)s") % {"rate": _percent(group["rate"])} if group["rate"] is not None
                         else "", ""])
        table = xlsx.Table(
            sheet=_("Recruitment plan"), title=title, columns=columns, rows=rows,
            total=[_("Total"), "", "", "", "", total["planned"], total["hired"],
                   _("Completion %(rate)s") % {"rate": _percent(total["rate"])} if total["rate"] is not None else "",
                   ""],
            note=_("Completion rate = hired ÷ planned; cancelled lines count in neither."))
        unit = alliance.name if alliance is not None else _unit(request.user)
        content = xlsx.workbook([table], unit=unit, on=today)
        return xlsx_response(content, f"{safe_filename(title)}_{today:%Y%m%d}.xlsx")


def _plans_url(plan: RecruitmentPlan | None = None, *, year: int | None = None) -> str:
    params = {"year": plan.year if plan is not None else year}
    if plan is not None:
        params["alliance"] = plan.alliance_id
    return f"{reverse('staffing:plans')}?{urlencode({k: v for k, v in params.items() if v})}"


@login_required
def plan_new(request):
    if not _may_plan(request.user):
        raise PermissionDenied(_("Only the county bureau, the alliance office and HR officers keep recruitment plans."))
    today = _today(request)
    alliances = _plan_alliances(request.user)
    if request.method == "POST":
        form = PlanForm(request.POST, alliances=alliances, today=today)
        if form.is_valid():
            plan = form.save()
            messages.success(request, _("Recruitment plan line added: %(plan)s.") % {"plan": plan})
            return redirect(_plans_url(plan))
    else:
        initial = {"year": _year(request.GET.get("year"), today)}
        wanted = request.GET.get("alliance")
        if wanted and wanted.isdigit() and alliances.filter(pk=wanted).exists():
            initial["alliance"] = int(wanted)
        form = PlanForm(initial=initial, alliances=alliances, today=today)
    return render(request, "staffing/plan_form.html", {"form": form, "plan": None, "errors": _errors(form)},
                  status=400 if form.errors else 200)


@login_required
def plan_edit(request, recruitment_plan_pk):
    plan = scoping.get_for_user(request.user, RecruitmentPlan, recruitment_plan_pk, CHANGE,
                                queryset=scoping.queryset_for(request.user, RecruitmentPlan, VIEW)
                                .select_related("alliance", "institution"))
    today = _today(request)
    alliances = _plan_alliances(request.user)
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            back = _plans_url(plan)
            label = str(plan)
            plan.delete()
            messages.success(request, _("Recruitment plan line deleted: %(plan)s.") % {"plan": label})
            return redirect(back)
        form = PlanForm(request.POST, instance=plan, alliances=alliances, today=today)
        if form.is_valid():
            plan = form.save()
            messages.success(request, _("Saved."))
            return redirect(_plans_url(plan))
    else:
        form = PlanForm(instance=plan, alliances=alliances, today=today)
    return render(request, "staffing/plan_form.html", {"form": form, "plan": plan, "errors": _errors(form)},
                  status=400 if form.errors else 200)


# Training records (培训) --------------------------------------------------------------------------

class TrainingForm(forms.ModelForm):
    class Meta:
        model = TrainingRecord
        fields = ["kind", "provider", "start", "end", "completed"]
        widgets = {"start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                   "end": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is not None and end is not None and end < start:
            self.add_error("end", _("The end cannot be before the start."))
        elif cleaned.get("completed") and end is None and "end" not in self.errors:
            self.add_error("end", _("A completed training needs its end date."))
        return cleaned


def _in_year(year: int) -> Q:
    """Training under way in ``year``: begun by its end and not ended before it (a completed record
    without an end date counts in the year it began)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    return Q(start__lte=last) & (Q(end__gte=first) | Q(end__isnull=True, completed=False)
                                 | Q(end__isnull=True, start__gte=first))


def _completed_in(record: TrainingRecord, year: int) -> bool:
    """Completed (结业) by the end of ``year``; otherwise in progress (在培) that year."""
    if not record.completed:
        return False
    return record.end.year <= year if record.end is not None else record.start.year <= year


KIND_COLUMNS = list(TrainingRecord.Kind)


def _training_counts(rows: list[TrainingRecord], year: int) -> tuple[list[dict], dict]:
    """Counts by member (the working institution) × kind: completed and in progress, with totals."""

    def empty() -> dict:
        return {"cells": {k.value: [0, 0] for k in KIND_COLUMNS}, "completed": 0, "in_progress": 0}

    members: dict[int, dict] = {}
    total = empty()
    for record in rows:
        institution = record.staff.institution
        line = members.setdefault(institution.pk, {"member": institution, **empty()})
        index = 0 if _completed_in(record, year) else 1
        for bucket in (line, total):
            bucket["cells"][record.kind][index] += 1
            bucket["completed" if index == 0 else "in_progress"] += 1
    lines = sorted(members.values(), key=lambda line: (line["member"].county_id, line["member"].name))
    for bucket in (*lines, total):
        bucket["values"] = [bucket["cells"][k.value] for k in KIND_COLUMNS]
    return lines, total


@login_required
def trainings(request):
    user = request.user
    today = _today(request)
    year = _year(request.GET.get("year"), today)
    visible = scoping.queryset_for(user, TrainingRecord, VIEW)
    kind = request.GET.get("kind", "")
    kind = kind if kind in TrainingRecord.Kind.values else ""
    institutions = list(Institution.objects.filter(pk__in=visible.values("staff__institution_id"))
                        .order_by("county_id", "name"))
    institution = next((i for i in institutions if str(i.pk) == request.GET.get("institution")), None)
    rows = visible.filter(_in_year(year))
    if kind:
        rows = rows.filter(kind=kind)
    if institution is not None:
        rows = rows.filter(staff__institution=institution)
    rows = list(rows.select_related("staff__institution").order_by("-start", "-pk"))
    for record in rows:
        record.done = _completed_in(record, year)
    count_lines, count_total = _training_counts(rows, year)
    if request.GET.get("format") == "xlsx":
        return _trainings_export(request, institution=institution, kind=kind, year=year, rows=rows,
                                 count_lines=count_lines, count_total=count_total, today=today)
    changeable = set(scoping.queryset_for(user, TrainingRecord, CHANGE).filter(pk__in=[r.pk for r in rows])
                     .values_list("pk", flat=True))
    for record in rows:
        record.can_change = record.pk in changeable
    params = {"year": year, **({"kind": kind} if kind else {}), **({"institution": institution.pk} if institution else {})}
    return render(request, "staffing/trainings.html", {
        "year": year, "years": _years(today), "kinds": KIND_COLUMNS, "kind": kind, "institutions": institutions,
        "institution": institution, "rows": rows, "count_lines": count_lines, "count_total": count_total,
        "count_columns": 2 * len(KIND_COLUMNS) + 3,
        "query": urlencode(params), "here": f"{reverse('staffing:trainings')}?{urlencode(params)}",
    })


def _trainings_export(request, *, institution, kind, year, rows, count_lines, count_total, today):
    with translation.override(OFFICIAL_LANGUAGE):
        unit = institution.name if institution is not None else _unit(request.user)
        title = _("%(owner)s%(year)s training of health workers") % {"owner": unit, "year": year}
        if kind:
            title = f"{title}（{TrainingRecord.Kind(kind).label}）"
        done, going = _("Finished"), _("In training")
        records = xlsx.Table(
            sheet=_("Training records"), title=title,
            columns=[xlsx.Column(_("Item no."), 6), xlsx.Column(_("Full name"), 12, text=True),
                     xlsx.Column(_("Working institution"), 24, text=True), xlsx.Column(_("Kind"), 22, text=True),
                     xlsx.Column(_("Where"), 24, text=True), xlsx.Column(_("Start"), 12),
                     xlsx.Column(_("End"), 12), xlsx.Column(_("State"), 10)],
            rows=[[n, r.staff.name, r.staff.institution.name, str(r.get_kind_display()), r.provider,
                   r.start.isoformat(), r.end.isoformat() if r.end else "", done if r.done else going]
                  for n, r in enumerate(rows, start=1)])
        columns = [xlsx.Column(_("Member"), 24, text=True)]
        for k in KIND_COLUMNS:
            columns += [xlsx.Column(done, 9, group=str(k.label)), xlsx.Column(going, 9, group=str(k.label))]
        columns += [xlsx.Column(_("Finished in total"), 10), xlsx.Column(_("In training in total"), 10)]

        def line(label: str, bucket: dict) -> list:
            return [label, *(n for pair in bucket["values"] for n in pair), bucket["completed"], bucket["in_progress"]]

        counts = xlsx.Table(
            sheet=_("Counts by kind"), title=_("%(title)s — counts by kind") % {"title": title}, columns=columns,
            rows=[line(c["member"].name, c) for c in count_lines], total=line(_("Total"), count_total),
            note=_("Training under way in the year; completed = completed by the end of the year, counted by "
                   "the working institution."))
        content = xlsx.workbook([records, counts], unit=unit, on=today)
        return xlsx_response(content, f"{safe_filename(title)}_{today:%Y%m%d}.xlsx")


@login_required
def training_new(request, staff_pk):
    staff = scoping.get_for_user(request.user, Staff, staff_pk, CHANGE,
                                 queryset=scoping.queryset_for(request.user, Staff, VIEW).select_related("institution"))
    default_back = reverse("staffing:staff_detail", kwargs={"staff_pk": staff.pk})
    if request.method == "POST":
        form = TrainingForm(request.POST, instance=TrainingRecord(staff=staff))
        if form.is_valid():
            record = form.save()
            messages.success(request, _("Training record added for %(name)s: %(kind)s.") % {
                "name": staff.name, "kind": record.get_kind_display()})
            return HttpResponseRedirect(_next_url(request, default_back))
    else:
        form = TrainingForm(initial={"start": _today(request)})
    return render(request, "staffing/training_form.html", {
        "form": form, "staff": staff, "errors": _errors(form), "next": _next_url(request, ""),
        "back": _next_url(request, default_back),
    }, status=400 if form.errors else 200)


@login_required
@require_POST
def training_delete(request, training_record_pk):
    record = scoping.get_for_user(request.user, TrainingRecord, training_record_pk, CHANGE,
                                  queryset=scoping.queryset_for(request.user, TrainingRecord, VIEW)
                                  .select_related("staff"))
    back = _next_url(request, f"{reverse('staffing:trainings')}?{urlencode({'year': record.start.year})}")
    label = str(record)
    record.delete()
    messages.success(request, _("Training record deleted: %(record)s.") % {"record": label})
    return HttpResponseRedirect(back)


__all__ = ["plan_edit", "plan_new", "plans", "training_delete", "training_new", "trainings"]
