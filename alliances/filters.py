"""Filters of the organisation tree API (django-filter).

Every filter that takes an id chooses among the rows the requesting user may
see (``alliances.scoping``): an id of another county is "not a valid choice"
(400), the same answer as an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable

import django_filters as filters
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from alliances import scoping
from alliances.models import Alliance, AllianceMembership, Institution, JointOffice, Region


def visible(model: type[Model]) -> Callable[[object], QuerySet]:
    """The choices of an id filter: the rows of ``model`` the requesting user may see."""

    def queryset(request) -> QuerySet:
        if request is None:
            return model._default_manager.none()
        return scoping.queryset_for(request.user, model, scoping.VIEW)

    return queryset


def visible_counties(request) -> QuerySet[Region]:
    return visible(Region)(request).filter(level=Region.Level.COUNTY)


class RegionFilter(filters.FilterSet):
    level = filters.ChoiceFilter(choices=Region.Level.choices)
    parent = filters.ModelChoiceFilter(queryset=visible(Region))
    code = filters.CharFilter(help_text=_("Six-digit GB/T 2260 code."))

    class Meta:
        model = Region
        fields = ["level", "parent", "code"]


class AllianceFilter(filters.FilterSet):
    county = filters.ModelChoiceFilter(queryset=visible_counties)
    is_active = filters.BooleanFilter()
    name = filters.CharFilter(lookup_expr="icontains", help_text=_("Part of the name."))

    class Meta:
        model = Alliance
        fields = ["county", "is_active", "name"]


class InstitutionFilter(filters.FilterSet):
    county = filters.ModelChoiceFilter(queryset=visible_counties)
    kind = filters.ChoiceFilter(choices=Institution.Kind.choices)
    is_active = filters.BooleanFilter()
    parent = filters.ModelChoiceFilter(queryset=visible(Institution),
                                       help_text=_("Managing institution (village clinics of a centre)."))
    alliance = filters.ModelChoiceFilter(
        queryset=visible(Alliance), method="filter_alliance",
        help_text=_("Members of this alliance today, or on `alliance_on` when given."))
    alliance_on = filters.DateFilter(method="filter_alliance_on",
                                     help_text=_("Day on which the `alliance` filter looks at membership."))
    name = filters.CharFilter(lookup_expr="icontains", help_text=_("Part of the name."))

    class Meta:
        model = Institution
        fields = ["county", "kind", "is_active", "parent", "alliance", "alliance_on", "name"]

    @extend_schema_field(OpenApiTypes.INT)
    def filter_alliance(self, queryset, name, value):
        day = self.form.cleaned_data.get("alliance_on") or timezone.localdate()
        members = AllianceMembership.objects.on(day).filter(alliance=value).values("institution_id")
        return queryset.filter(pk__in=members)

    def filter_alliance_on(self, queryset, name, value):
        return queryset  # read by filter_alliance


class MembershipFilter(filters.FilterSet):
    alliance = filters.ModelChoiceFilter(queryset=visible(Alliance))
    institution = filters.ModelChoiceFilter(queryset=visible(Institution))
    role = filters.ChoiceFilter(choices=AllianceMembership.Role.choices)
    on = filters.DateFilter(method="filter_on", help_text=_("Memberships in force on this day."))

    class Meta:
        model = AllianceMembership
        fields = ["alliance", "institution", "role", "on"]

    def filter_on(self, queryset, name, value):
        return queryset.on(value)


class JointOfficeFilter(filters.FilterSet):
    institution = filters.ModelChoiceFilter(queryset=visible(Institution), method="filter_institution",
                                            help_text=_("Joint offices this institution is part of."))

    class Meta:
        model = JointOffice
        fields = ["institution"]

    @extend_schema_field(OpenApiTypes.INT)
    def filter_institution(self, queryset, name, value):
        return queryset.filter(first=value) | queryset.filter(second=value)
