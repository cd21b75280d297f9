"""A county's task settings (light rules, escalation rules), its department registry, and each
user's notifications."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tasks.forms import TaskSettingsForm
from tasks.models import Department, EscalationRule, Notification, TaskSettings
from tasks.services.status import assignments_refresh
from tasks.services.supervision import default_escalation_rules
from tasks.views.common import county_for, request_now

RULE_FIELDS = ["colour", "count", "window", "suggests", "is_active"]


class RuleForm(forms.ModelForm):
    class Meta:
        model = EscalationRule
        fields = RULE_FIELDS

    def has_changed(self) -> bool:
        # A default rule shown as a new row is saved as it is: it becomes the county's own.
        return bool(self.initial and not self.instance.pk) or super().has_changed()


@login_required
def task_settings(request, region_pk):
    """Due-soon days and the behind margin of the county's lights; the escalation rules that suggest
    the next step. Changing the light rules recomputes the county's assignments."""
    county = county_for(request.user, region_pk, edit=True)
    settings_row = TaskSettings.objects.filter(county=county).first() or TaskSettings(county=county)
    form = TaskSettingsForm(request.POST or None, instance=settings_row, prefix="lights")
    # Until the county saves its own rules, the form starts from the defaults (unsaved).
    initial = [] if settings_row.escalation_configured else [
        {field: getattr(rule, field) for field in RULE_FIELDS} for rule in default_escalation_rules(county.pk)]
    formset_class = forms.modelformset_factory(EscalationRule, form=RuleForm, extra=len(initial) + 1,
                                               can_delete=True)
    rules = formset_class(request.POST or None, queryset=EscalationRule.objects.filter(county=county),
                          prefix="rules", initial=initial)
    if request.method == "POST" and form.is_valid() and rules.is_valid():
        settings_row = form.save(commit=False)
        settings_row.escalation_configured = True
        settings_row.save()
        for rule in rules.save(commit=False):
            rule.county = county
            rule.save()
        for rule in rules.deleted_objects:
            rule.delete()
        from tasks.models import Assignment

        assignments_refresh(list(Assignment.objects.filter(county=county, is_active=True)
                                 .select_related("item__ledger")), now=request_now(request))
        messages.success(request, _("The settings were saved and every assignment's status recomputed."))
        return redirect("tasks:task_settings", region_pk=county.pk)
    return render(request, "tasks/settings.html", {"county": county, "form": form, "rules": rules})


@login_required
def department_list(request, region_pk):
    """The county's registry of departments and other bodies, with their other spellings."""
    county = county_for(request.user, region_pk)
    departments = (Department.objects.filter(county=county).annotate(assignment_count=Count("assignments"))
                   .order_by("name"))
    return render(request, "tasks/department_list.html", {"county": county, "departments": departments})


@login_required
def notification_list(request):
    qs = Notification.objects.filter(user=request.user).prefetch_related("items").order_by("-day", "-pk")
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    return render(request, "tasks/notification_list.html", {"page": page, "notifications": page.object_list})


@login_required
@require_POST
def notification_read(request, notification_pk):
    updated = Notification.objects.filter(pk=notification_pk, user=request.user, read_at__isnull=True).update(
        read_at=timezone.now())
    if not updated and not Notification.objects.filter(pk=notification_pk, user=request.user).exists():
        raise Http404(_("Not found."))
    return redirect("tasks:notification_list")
