"""Joint offices (两个牌子一套人马): link two institutions, remove the link."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from alliances import scoping, services
from alliances.forms import JointOfficeForm
from alliances.models import JointOffice
from alliances.views.common import (
    CHANGE,
    _require_change_county,
    add_service_errors,
)

# Joint offices ----------------------------------------------------------------------------

@login_required
def joint_office_create(request):
    user = request.user
    _require_change_county(user)
    initial = {}
    first_pk = request.GET.get("institution", "")
    if first_pk.isascii() and first_pk.isdigit():
        initial["first"] = first_pk
    form = JointOfficeForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                office = services.joint_office_create(first=data["first"], second=data["second"], note=data["note"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except IntegrityError:
            form.add_error(None, _("These two institutions are already linked as a joint office."))
        else:
            messages.success(request, _("“%(first)s” and “%(second)s” are linked as a joint office.")
                             % {"first": office.first.name, "second": office.second.name})
            return redirect("alliances:institution_detail", institution_pk=data["first"].pk)
    return render(request, "alliances/joint_office_form.html", {"form": form})


@login_required
def joint_office_delete(request, joint_office_pk: int):
    user = request.user
    office = scoping.get_for_user(
        user, JointOffice, joint_office_pk, CHANGE,
        queryset=scoping.queryset_for(user, JointOffice).select_related("first", "second"),
    )
    back = reverse("alliances:institution_detail", kwargs={"institution_pk": office.first_id})
    if request.method == "POST":
        office.delete()
        messages.success(request, _("The joint office of “%(first)s” and “%(second)s” was removed.")
                         % {"first": office.first.name, "second": office.second.name})
        return redirect(back)
    return render(request, "alliances/confirm_form.html", {
        "form": None,
        "object": office,
        "title": _("Remove joint office"),
        "message": _("Remove the joint office link between “%(first)s” and “%(second)s”? "
                     "The two institutions stay as they are.")
        % {"first": office.first.name, "second": office.second.name},
        "submit_label": _("Remove"),
        "danger": True,
        "cancel_url": back,
    })
