"""Serializers of the organisation tree API.

Every writable reference (county, alliance, institution, managing institution)
is a ``ScopedPrimaryKeyRelatedField``: its choices are what the requesting user
may *change* according to ``alliances.scoping``, so an id from another county
answers "invalid pk" on that field (400), exactly like an id that does not exist,
and nothing is saved. The model's own rules (``Model.full_clean()``: county
level, village clinic under a township centre, credit code check character,
unique names) run in ``validate`` so the API enforces what the forms enforce.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from alliances import scoping, services
from alliances.models import Alliance, AllianceMembership, Institution, JointOffice, Region

Role = AllianceMembership.Role


def drf_validation_error(exc: DjangoValidationError,
                         fields_by_code: dict[str, str] | None = None) -> serializers.ValidationError:
    """A Django ``ValidationError`` (from ``full_clean`` or a service) as a DRF one: field
    errors keep their field, an error whose code ``fields_by_code`` names goes to that field,
    the rest go under ``non_field_errors``."""
    if fields_by_code and not hasattr(exc, "error_dict"):
        by_field: dict[str, list] = {}
        for error in exc.error_list:
            by_field.setdefault(fields_by_code.get(error.code, NON_FIELD_ERRORS), []).append(error)
        exc = DjangoValidationError(by_field)
    detail = serializers.as_serializer_error(exc)
    if NON_FIELD_ERRORS in detail:
        detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
    return serializers.ValidationError(detail)


def _today(serializer_field_or_serializer) -> date:
    return serializer_field_or_serializer.context.get("today") or timezone.localdate()


# Scoped references -------------------------------------------------------------------------

def changeable(model: type[Model]) -> Callable[[object], QuerySet]:
    return lambda user: scoping.queryset_for(user, model, scoping.CHANGE)


def changeable_counties(user) -> QuerySet[Region]:
    return scoping.counties_for(user, scoping.CHANGE)


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key whose choices are the rows the requesting user may change.

    The reference an object already holds stays acceptable (a PUT may send back a
    county or parent the user could not pick anew); any other id outside the user's
    scope fails like a missing one.
    """

    def __init__(self, model: type[Model], scoper: Callable[[object], QuerySet], **kwargs):
        self.model = model
        self.scoper = scoper
        kwargs["queryset"] = model._default_manager.none()  # typed placeholder for the schema
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        if request is None:
            return self.model._default_manager.none()
        qs = self.scoper(request.user)
        instance = getattr(self.root, "instance", None)
        current_id = getattr(instance, f"{self.source}_id", None) if isinstance(instance, Model) else None
        if current_id is not None:
            qs = self.model._default_manager.filter(Q(pk__in=qs.values("pk")) | Q(pk=current_id))
        return qs


class ModelCleanMixin:
    """Run ``Model.full_clean()`` on the object as it would be saved (field validators,
    ``clean()``, unique constraints) and report its errors as a 400."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        candidate = copy.copy(self.instance) if self.instance is not None else model()
        for name, value in attrs.items():
            setattr(candidate, name, value)
        try:
            candidate.full_clean()
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        # clean() may normalise values (credit code to upper case); keep what it made.
        for name in attrs:
            attrs[name] = getattr(candidate, name)
        return attrs


# Regions -----------------------------------------------------------------------------------

class RegionSerializer(serializers.ModelSerializer):
    """A province, city or county (GB/T 2260)."""

    class Meta:
        model = Region
        fields = ["id", "code", "name", "level", "parent"]
        read_only_fields = fields


# Memberships -------------------------------------------------------------------------------

class MembershipSerializer(serializers.ModelSerializer):
    """An institution's membership of an alliance from `valid_from` to `valid_to` (inclusive; open while null)."""

    institution_name = serializers.CharField(source="institution.name", read_only=True)
    alliance_name = serializers.CharField(source="alliance.name", read_only=True)

    class Meta:
        model = AllianceMembership
        fields = ["id", "institution", "institution_name", "alliance", "alliance_name", "role",
                  "valid_from", "valid_to", "note"]
        read_only_fields = fields


class LeadSerializer(serializers.Serializer):
    """The lead institution of an alliance today."""

    institution = serializers.IntegerField(source="institution_id")
    name = serializers.CharField(source="institution.name")
    since = serializers.DateField(source="valid_from")


class CurrentAllianceSerializer(serializers.Serializer):
    """The alliance an institution belongs to today (a village clinic: through its township centre)."""

    id = serializers.IntegerField(source="alliance_id")
    name = serializers.CharField(source="alliance.name")
    role = serializers.ChoiceField(choices=Role.choices)
    since = serializers.DateField(source="valid_from")
    via_parent = serializers.BooleanField()


# Alliances ---------------------------------------------------------------------------------

class AllianceSerializer(ModelCleanMixin, serializers.ModelSerializer):
    """An alliance (医共体) of one county, with its lead institution and member count today."""

    county = ScopedPrimaryKeyRelatedField(Region, changeable_counties)
    county_name = serializers.CharField(source="county.name", read_only=True)
    lead = serializers.SerializerMethodField()
    member_count = serializers.SerializerMethodField()

    class Meta:
        model = Alliance
        fields = ["id", "county", "county_name", "name", "short_name", "established_on", "is_active", "note",
                  "lead", "member_count", "created_at", "updated_at"]
        read_only_fields = ["is_active", "created_at", "updated_at"]
        validators = []  # unique (county, name) is checked by full_clean with the model's message

    def validate_county(self, county: Region) -> Region:
        if self.instance is not None and county.pk != self.instance.county_id:
            raise serializers.ValidationError(_("An alliance cannot move to another county."))
        return county

    def _current_memberships(self, alliance: Alliance) -> list[AllianceMembership]:
        rows = getattr(alliance, "current_memberships", None)
        if rows is None:  # not prefetched (e.g. the answer to a create)
            rows = list(alliance.memberships.on(_today(self)).select_related("institution"))
            alliance.current_memberships = rows
        return rows

    @extend_schema_field(LeadSerializer(allow_null=True))
    def get_lead(self, alliance: Alliance):
        lead = next((m for m in self._current_memberships(alliance) if m.role == Role.LEAD), None)
        return LeadSerializer(lead).data if lead else None

    @extend_schema_field(OpenApiTypes.INT)
    def get_member_count(self, alliance: Alliance) -> int:
        """Institutions in the alliance today, the lead included."""
        return len(self._current_memberships(alliance))


class DeactivateSerializer(serializers.Serializer):
    """When an alliance or institution stops."""

    last_day = serializers.DateField(required=False, allow_null=True,
                                     help_text=_("Last day in force; today when omitted."))


class MembersQuerySerializer(serializers.Serializer):
    """Query of the members of an alliance."""

    on = serializers.DateField(required=False, help_text=_("Day (YYYY-MM-DD); today when omitted."))


# Institutions ------------------------------------------------------------------------------

class InstitutionSerializer(ModelCleanMixin, serializers.ModelSerializer):
    """A hospital, health centre or village clinic of one county, with the alliance it belongs to today."""

    county = ScopedPrimaryKeyRelatedField(Region, changeable_counties)
    county_name = serializers.CharField(source="county.name", read_only=True)
    parent = ScopedPrimaryKeyRelatedField(Institution, changeable(Institution), required=False, allow_null=True,
                                          help_text=_("A village clinic belongs to its township health centre."))
    parent_name = serializers.CharField(source="parent.name", read_only=True, allow_null=True)
    credit_code = serializers.CharField(max_length=18, required=False, allow_blank=True,
                                        help_text=_("Unified social credit code (18 characters)."))
    current_alliance = serializers.SerializerMethodField()

    class Meta:
        model = Institution
        fields = ["id", "county", "county_name", "name", "short_name", "kind", "parent", "parent_name",
                  "credit_code", "beds", "service_population", "is_active", "is_sample", "current_alliance",
                  "created_at", "updated_at"]
        read_only_fields = ["is_active", "is_sample", "created_at", "updated_at"]
        validators = []  # unique constraints are checked by full_clean with the model's messages

    def validate_county(self, county: Region) -> Region:
        if self.instance is not None and county.pk != self.instance.county_id:
            raise serializers.ValidationError(_("An institution cannot move to another county."))
        return county

    def validate(self, attrs):
        attrs = super().validate(attrs)
        instance = self.instance
        kind = attrs.get("kind")
        if instance is not None and kind is not None and kind != instance.kind:
            self._check_kind_change(instance, kind)
        return attrs

    def _check_kind_change(self, instance: Institution, kind: str) -> None:
        """A kind change must not break the membership and village clinic rules."""
        today = _today(self)
        open_memberships = instance.memberships.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        if kind == Institution.Kind.VILLAGE_CLINIC and open_memberships.exists():
            raise serializers.ValidationError({"kind": _(
                "This institution belongs to an alliance; a village clinic does not. Move it out of the "
                "alliance first.")})
        if kind not in Institution.LEAD_KINDS and open_memberships.filter(role=Role.LEAD).exists():
            raise serializers.ValidationError({"kind": _(
                "This institution leads an alliance; only a county general, TCM or maternal and child health "
                "hospital can. Appoint another lead first.")})
        if kind not in Institution.PARENT_KINDS and instance.children.exists():
            raise serializers.ValidationError({"kind": _(
                "This institution manages village clinics; only a township, central or community health "
                "centre can.")})

    @extend_schema_field(CurrentAllianceSerializer(allow_null=True))
    def get_current_alliance(self, institution: Institution):
        via_parent = institution.kind == Institution.Kind.VILLAGE_CLINIC
        holder = institution.parent if via_parent else institution
        if holder is None:
            return None
        rows = getattr(holder, "current_memberships", None)
        if rows is None:  # not prefetched
            rows = list(holder.memberships.on(_today(self)).select_related("alliance"))
        if not rows:
            return None
        membership = rows[0]
        membership.via_parent = via_parent
        return CurrentAllianceSerializer(membership).data


class MoveSerializer(serializers.Serializer):
    """Move an institution to another alliance (or out of every alliance) from a day on."""

    to_alliance = ScopedPrimaryKeyRelatedField(
        Alliance, changeable(Alliance), allow_null=True,
        help_text=_("The alliance the institution belongs to from `on`; null to leave every alliance."))
    on = serializers.DateField(help_text=_("First day in the new alliance (or of belonging to none)."))
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_to_alliance(self, alliance: Alliance | None) -> Alliance | None:
        if alliance is not None and not alliance.is_active:
            raise serializers.ValidationError(_("“%(alliance)s” is no longer active.") % {"alliance": alliance.name})
        return alliance


# Joint offices -----------------------------------------------------------------------------

class JointOfficeSerializer(serializers.ModelSerializer):
    """Two institutions of one county run by one staff (两个牌子一套人马)."""

    first = ScopedPrimaryKeyRelatedField(Institution, changeable(Institution))
    first_name = serializers.CharField(source="first.name", read_only=True)
    second = ScopedPrimaryKeyRelatedField(Institution, changeable(Institution))
    second_name = serializers.CharField(source="second.name", read_only=True)

    class Meta:
        model = JointOffice
        fields = ["id", "first", "first_name", "second", "second_name", "note", "created_at"]
        read_only_fields = ["created_at"]
        validators = []  # the service checks the pair with its own messages

    def create(self, validated_data):
        try:
            return services.joint_office_create(**validated_data)
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
