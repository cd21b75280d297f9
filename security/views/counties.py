"""A new county goes live (新县上线): a superuser, or a platform administrator of a province or city,
makes the county under one of its cities with its first security administrator and bureau
administrator (``services.county_create``, all or nothing); both one-time passwords are shown
once, in the answer to the POST."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from alliances import scoping
from alliances.models import Region
from security import services
from security.forms import CountyCreateForm
from security.grants import GrantRefused
from security.views.users import _no_store


def cities_for(user) -> list[Region]:
    """The cities a user may open counties in: all for a superuser; for a platform administrator the
    cities of its provinces and its cities (one query)."""
    scope = scoping.scope_of(user)
    cities = Region.objects.filter(level=Region.Level.CITY).select_related("parent")
    if not scope.everything:
        if not scope.platform_regions:
            raise PermissionDenied(_("Only a platform administrator of a province or city opens new counties."))
        cities = cities.filter(Q(pk__in=scope.platform_regions) | Q(parent_id__in=scope.platform_regions))
    return list(cities.order_by("code"))


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def county_create(request):
    cities = cities_for(request.user)
    form = CountyCreateForm(request.POST if request.method == "POST" else None, cities=cities)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    county, accounts = services.county_create(
                        actor=request.user, city=data["city"], code=data["code"], name=data["name"],
                        security_admin=form.person("security"), bureau_admin=form.person("bureau"), request=request)
            except ValidationError as error:
                for name, problems in error.message_dict.items():
                    form.add_error(name if name in form.fields else None, problems)
            except (GrantRefused, IntegrityError) as error:
                # Someone took a code or a user name meanwhile: nothing of the county was saved.
                form.add_error(None, getattr(error, "message", "") or _(
                    "The code or a user name was taken meanwhile; nothing was saved. Check the form and send it "
                    "again."))
            else:
                return _no_store(render(request, "security/users/county_created.html",
                                        {"county": county, "accounts": accounts}))
        return render(request, "security/users/county_create.html", {"form": form}, status=400)
    return render(request, "security/users/county_create.html", {"form": form})
