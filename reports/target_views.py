"""Pages that link task items to indicators (the bureau of the item's county): one item's link with
the proposals its target text makes, and a ledger's proposals to confirm one by one or all at once.
Nothing is linked silently: every link is a person's confirmation, and goes to the security log."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from alliances import scoping
from core.clock import request_now
from indicators.models import Indicator
from reports.targets import confirm_first_proposals, judge_items, ledger_proposals, levels_of, proposals_for
from tasks import permissions
from tasks.models import Ledger, TaskItem
from tasks.services.targets import item_link_target, item_unlink_target
from tasks.views.common import write_or_report

EDIT_DENIED = gettext_lazy("Only the county health bureau links task items to indicators.")


class TargetForm(forms.Form):
    """The link of an item: an indicator the county may use, the level, the target and auto-complete."""

    indicator = forms.ModelChoiceField(
        label=gettext_lazy("Indicator"), queryset=Indicator.objects.none(),
        error_messages={"required": gettext_lazy("Indicator: choose the indicator the item is judged by."),
                        "invalid_choice": gettext_lazy("Indicator: choose one of the county's indicators.")})
    target_level = forms.ChoiceField(
        label=gettext_lazy("Judged for"), choices=TaskItem.TargetLevel.choices[1:],
        error_messages={"required": gettext_lazy("Judged for: choose the county or each assigned alliance."),
                        "invalid_choice": gettext_lazy("Judged for: choose the county or each assigned alliance.")})
    target_operator = forms.ChoiceField(
        label=gettext_lazy("Kind of target"), choices=TaskItem.TargetOperator.choices[1:],
        error_messages={"required": gettext_lazy("Target: choose the kind of target."),
                        "invalid_choice": gettext_lazy("Target: choose the kind of target.")})
    target_value = forms.DecimalField(
        label=gettext_lazy("Target value"), required=False, max_digits=14, decimal_places=4,
        help_text=gettext_lazy("The level to reach; for a rise or fall, a level that counts as well (或达到90%)."),
        error_messages={"invalid": gettext_lazy("Target value: give a number, e.g. 90."),
                        "max_digits": gettext_lazy("Target value: the number is too large."),
                        "max_decimal_places": gettext_lazy("Target value: at most 4 decimals."),
                        "max_whole_digits": gettext_lazy("Target value: the number is too large.")})
    target_points = forms.DecimalField(
        label=gettext_lazy("By at least (points)"), required=False, max_digits=10, decimal_places=4,
        help_text=gettext_lazy("For a rise or fall against last year: 同比提升1个百分点 is 1."),
        error_messages={"invalid": gettext_lazy("By at least (points): give a number, e.g. 1."),
                        "max_digits": gettext_lazy("By at least (points): the number is too large."),
                        "max_decimal_places": gettext_lazy("By at least (points): at most 4 decimals."),
                        "max_whole_digits": gettext_lazy("By at least (points): the number is too large.")})
    auto_complete = forms.BooleanField(label=gettext_lazy("Done by itself when the target is met (达标自动完成)"),
                                       required=False)

    def __init__(self, *args, indicators, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indicator"].queryset = indicators
        self.fields["indicator"].label_from_instance = lambda i: f"{i.code} · {i.name}"

    def clean(self):
        data = super().clean()
        indicator, level = data.get("indicator"), data.get("target_level")
        if indicator is not None and level and level not in levels_of(indicator):
            self.add_error("target_level", _("Judged for: %(indicator)s is not computed per alliance; judge it for "
                                             "the county.") % {"indicator": indicator.name})
        return data


def _item(user, item_pk) -> TaskItem:
    """The item: 404 when missing or foreign, 403 when seen but not the bureau's."""
    item = scoping.get_for_user(user, TaskItem, item_pk,
                                queryset=scoping.queryset_for(user, TaskItem).select_related("ledger__county"))
    if not permissions.can_edit_county(user, item.ledger.county_id):
        raise PermissionDenied(EDIT_DENIED)
    return item


def _indicators(user, county_id: int):
    return (scoping.queryset_for(user, Indicator).filter(is_active=True)
            .filter(Q(county__isnull=True) | Q(county_id=county_id)).order_by("order", "code"))


def _next_or(request, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _link(request, item: TaskItem, form: TargetForm) -> bool:
    """Save a valid form's link and judge the item at once. False (errors in ``form``) when refused."""
    data = form.cleaned_data
    now = request_now(request)
    ok, action = write_or_report(form, lambda: item_link_target(
        item=item, user=request.user, indicator_code=data["indicator"].code, level=data["target_level"],
        operator=data["target_operator"], value=data["target_value"], points=data["target_points"],
        auto_complete=data["auto_complete"], now=now, request=request))
    if not ok:
        return False
    if action:
        item.refresh_from_db()
        judge_items([item], now=now)
        messages.success(request, _("Item %(number)s is linked to %(indicator)s.") % {
            "number": item.number, "indicator": data["indicator"].name})
    else:
        messages.info(request, _("Item %(number)s was already linked so; nothing changed.") % {"number": item.number})
    return True


@login_required
def item_target(request, item_pk):
    """Link one item to an indicator, change or remove the link; the proposals of its target text."""
    item = _item(request.user, item_pk)
    county_id = item.ledger.county_id
    indicators = _indicators(request.user, county_id)
    detail = redirect("tasks:item_detail", item_pk=item.pk).url
    if request.method == "POST" and request.POST.get("action") == "unlink":
        if item_unlink_target(item=item, user=request.user, now=request_now(request), request=request):
            messages.success(request, _("The indicator link of item %(number)s was removed.") % {"number": item.number})
        return redirect(_next_or(request, detail))
    initial = {}
    if item.is_linked:
        initial = {"indicator": indicators.filter(code=item.indicator_code).order_by("-county_id").first(),
                   "target_level": item.target_level, "target_operator": item.target_operator,
                   "target_value": item.target_value, "target_points": item.target_points,
                   "auto_complete": item.auto_complete}
    form = TargetForm(request.POST or None, indicators=indicators, initial=initial or {"target_level": "county"})
    if request.method == "POST" and form.is_valid() and _link(request, item, form):
        return redirect(_next_or(request, detail))
    return render(request, "reports/targets/item_target.html", {
        "item": item, "ledger": item.ledger, "form": form, "proposals": proposals_for([item], county_id)})


@login_required
def ledger_targets(request, ledger_pk):
    """Every proposal of a ledger's target texts; the bureau confirms each, or all that can be linked."""
    ledger = scoping.get_for_user(request.user, Ledger, ledger_pk,
                                  queryset=scoping.queryset_for(request.user, Ledger).select_related("county"))
    if not permissions.can_edit_county(request.user, ledger.county_id):
        raise PermissionDenied(EDIT_DENIED)
    rows = ledger_proposals(ledger)
    return render(request, "reports/targets/ledger_targets.html", {"ledger": ledger, "rows": rows})


@login_required
@require_POST
def ledger_targets_confirm(request, ledger_pk):
    """Confirm, for each item of the ledger not linked yet, its first proposal that can be linked."""
    ledger = scoping.get_for_user(request.user, Ledger, ledger_pk,
                                  queryset=scoping.queryset_for(request.user, Ledger).select_related("county"))
    if not permissions.can_edit_county(request.user, ledger.county_id):
        raise PermissionDenied(EDIT_DENIED)
    linked = confirm_first_proposals(ledger, user=request.user, now=request_now(request), request=request)
    messages.success(request, _("%(n)d items were linked to their proposed indicators.") % {"n": linked})
    return redirect("reports:ledger_targets", ledger_pk=ledger.pk)

