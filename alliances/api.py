"""REST API of the organisation tree: regions, alliances, institutions, memberships and
joint offices, under ``/api/``.

Access goes through ``alliances.scoping`` and nowhere else: a viewset's queryset is
``scoping.queryset_for(user, Model, "view")`` for safe methods and ``"change"`` for
writes. A row outside the user's scope answers the same 404 as a missing one; a row
the user sees but may not change answers 403. Writes to memberships go through
``alliances.services``; their ``ValidationError`` becomes a 400 carrying the
service's message.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from alliances import scoping, selectors, services
from alliances.filters import (
    AllianceFilter,
    InstitutionFilter,
    JointOfficeFilter,
    MembershipFilter,
    RegionFilter,
)
from alliances.models import Alliance, AllianceMembership, Institution, JointOffice, Region
from alliances.serializers import (
    AllianceSerializer,
    DeactivateSerializer,
    InstitutionSerializer,
    JointOfficeSerializer,
    MembershipSerializer,
    MembersQuerySerializer,
    MoveSerializer,
    RegionSerializer,
    drf_validation_error,
)


class MayCreateInACounty(BasePermission):
    """Creating alliances, institutions and joint offices needs a county the user may
    change (bureau staff of the county); read-only users get 403."""

    message = _("You may view these records but not create them.")

    def has_permission(self, request, view) -> bool:
        if getattr(view, "action", None) != "create":
            return True
        return scoping.counties_for(request.user, scoping.CHANGE).exists()


def require_membership_rights(user, county_id: int) -> None:
    """Moving institutions between alliances (and anything that ends memberships) is the
    bureau's decision: the county must be one the user may change."""
    if not scoping.counties_for(user, scoping.CHANGE).filter(pk=county_id).exists():
        raise PermissionDenied(_("Only the county health bureau changes alliance membership."))


class ScopedViewSetMixin:
    """Queryset from ``alliances.scoping``, uniform 404, 403 for visible but unchangeable
    rows, Django ``ValidationError`` as 400."""

    scoped_model: type[Model]
    permission_classes = [IsAuthenticated, MayCreateInACounty]

    def initial(self, request, *args, **kwargs):
        # One "today" per request: the same day for prefetches, filters and serializers.
        self.today = timezone.localdate()
        super().initial(request, *args, **kwargs)

    @property
    def scope_action(self) -> scoping.Action:
        return scoping.VIEW if self.request.method in SAFE_METHODS else scoping.CHANGE

    def get_queryset(self) -> QuerySet:
        qs = scoping.queryset_for(self.request.user, self.scoped_model, self.scope_action)
        return self.optimise(qs)

    def optimise(self, qs: QuerySet) -> QuerySet:
        """select_related/prefetch so that a list costs the same few queries at any size."""
        return qs

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            pass
        if self.scope_action == scoping.CHANGE:
            lookup = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
            try:
                # Raises PermissionDenied (403) when the row is visible but not changeable.
                scoping.get_for_user(self.request.user, self.scoped_model, lookup, scoping.CHANGE)
            except Http404:
                pass
        # One answer, whatever the reason: a missing row and a row of another county look alike.
        raise NotFound()

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["today"] = getattr(self, "today", None) or timezone.localdate()
        return context

    def handle_exception(self, exc):
        if isinstance(exc, DjangoValidationError):
            exc = drf_validation_error(exc)
        return super().handle_exception(exc)


# Regions -----------------------------------------------------------------------------------

class RegionViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Provinces, cities and counties (GB/T 2260) the user may see: the counties of the
    user's grants and the regions above them. Read-only."""

    scoped_model = Region
    serializer_class = RegionSerializer
    filterset_class = RegionFilter
    search_fields = ["name", "code"]
    ordering_fields = ["code", "name", "level"]
    ordering = ["code"]


# Alliances ---------------------------------------------------------------------------------

@extend_schema_view(
    create=extend_schema(description="Create an alliance in a county the user may change (bureau staff)."),
    update=extend_schema(description="Change an alliance; its county cannot change."),
    partial_update=extend_schema(description="Change some fields of an alliance; its county cannot change."),
)
class AllianceViewSet(ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Alliances (医共体) the user may see, each with its lead institution and member count
    today. No deletion: an alliance is deactivated, which ends its memberships."""

    scoped_model = Alliance
    serializer_class = AllianceSerializer
    filterset_class = AllianceFilter
    search_fields = ["name", "short_name"]
    ordering_fields = ["name", "established_on", "county"]
    ordering = ["county_id", "name"]

    def optimise(self, qs: QuerySet) -> QuerySet:
        current = (
            AllianceMembership.objects.on(getattr(self, "today", None) or timezone.localdate())
            .select_related("institution")
            .order_by("role", "institution__name")
        )
        return qs.select_related("county").prefetch_related(
            Prefetch("memberships", queryset=current, to_attr="current_memberships")
        )

    @extend_schema(
        summary="Deactivate an alliance",
        description="Deactivate the alliance and end every membership still open on `last_day` "
                    "(today when omitted). Only the county health bureau may do this.",
        request=DeactivateSerializer,
        responses={200: AllianceSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def deactivate(self, request, pk=None, **kwargs):
        alliance = self.get_object()
        require_membership_rights(request.user, alliance.county_id)
        params = DeactivateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        if not alliance.is_active:
            raise drf_validation_error(DjangoValidationError(
                _("“%(alliance)s” is already inactive.") % {"alliance": alliance.name}))
        last_day = params.validated_data.get("last_day") or self.today
        try:
            # The service refuses a last day that would erase membership history already begun.
            alliance = services.alliance_deactivate(alliance=alliance, last_day=last_day)
        except DjangoValidationError as exc:
            raise drf_validation_error(exc, {"history_after_last_day": "last_day"}) from None
        alliance = self.get_queryset().get(pk=alliance.pk)  # fresh lead and member count
        return Response(self.get_serializer(alliance).data)

    @extend_schema(
        summary="Members of an alliance on a day",
        description="Memberships of the alliance in force on `on` (today when omitted), lead first.",
        parameters=[OpenApiParameter("on", OpenApiTypes.DATE, description="Day (YYYY-MM-DD); today when omitted.")],
        responses={200: MembershipSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def members(self, request, pk=None, **kwargs):
        alliance = self.get_object()
        params = MembersQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        day = params.validated_data.get("on") or self.today
        # Whoever sees an alliance sees all its memberships (scoping._memberships).
        rows = selectors.alliance_members_on(alliance=alliance, on=day).select_related("alliance")
        return Response(MembershipSerializer(rows, many=True, context=self.get_serializer_context()).data)


# Institutions ------------------------------------------------------------------------------

@extend_schema_view(
    create=extend_schema(description="Create an institution in a county the user may change (bureau staff)."),
    update=extend_schema(description="Change an institution; its county cannot change."),
    partial_update=extend_schema(description="Change some fields of an institution; its county cannot change."),
)
class InstitutionViewSet(ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Institutions (hospitals, health centres, village clinics) the user may see, with the
    alliance each belongs to today. No deletion: an institution is deactivated. Membership
    changes go through `move`, which keeps the history."""

    scoped_model = Institution
    serializer_class = InstitutionSerializer
    filterset_class = InstitutionFilter
    search_fields = ["name", "short_name"]
    ordering_fields = ["name", "kind", "county", "beds", "service_population"]
    ordering = ["county_id", "name"]

    def optimise(self, qs: QuerySet) -> QuerySet:
        day = getattr(self, "today", None) or timezone.localdate()
        return qs.select_related("county", "parent").prefetch_related(
            Prefetch("memberships", queryset=AllianceMembership.objects.on(day).select_related("alliance"),
                     to_attr="current_memberships"),
            Prefetch("parent__memberships", queryset=AllianceMembership.objects.on(day).select_related("alliance"),
                     to_attr="current_memberships"),
        )

    def _history(self, institution: Institution) -> QuerySet[AllianceMembership]:
        visible = scoping.queryset_for(self.request.user, AllianceMembership, scoping.VIEW)
        return (
            selectors.membership_history(institution=institution)
            .filter(pk__in=visible.values("pk"))
            .select_related("institution")
        )

    @extend_schema(
        summary="Deactivate an institution",
        description="Deactivate the institution and end its membership after `last_day` (today when "
                    "omitted). A lead institution must be replaced first. Only the county health bureau "
                    "may do this.",
        request=DeactivateSerializer,
        responses={200: InstitutionSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def deactivate(self, request, pk=None, **kwargs):
        institution = self.get_object()
        require_membership_rights(request.user, institution.county_id)
        params = DeactivateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        if not institution.is_active:
            raise drf_validation_error(DjangoValidationError(
                _("“%(institution)s” is already inactive.") % {"institution": institution.name}))
        services.institution_deactivate(institution=institution, last_day=params.validated_data.get("last_day"))
        institution = self.get_queryset().get(pk=institution.pk)
        return Response(self.get_serializer(institution).data)

    @extend_schema(
        summary="Move an institution to another alliance",
        description="From `on`, the institution belongs to `to_alliance` (or to none when null); its "
                    "membership in force the day before ends then and the history stays. Every alliance "
                    "keeps one lead on every day it has members. Answers the institution's membership "
                    "history, newest first. Only the county health bureau may do this.",
        request=MoveSerializer,
        responses={200: MembershipSerializer(many=True)},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def move(self, request, pk=None, **kwargs):
        institution = self.get_object()
        require_membership_rights(request.user, institution.county_id)
        params = MoveSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if not institution.is_active and data["to_alliance"] is not None:
            raise serializers.ValidationError({"to_alliance": [
                _("“%(institution)s” is inactive; it cannot join an alliance.") % {"institution": institution.name}]})
        services.institution_move(institution=institution, to_alliance=data["to_alliance"], on=data["on"],
                                  role=data["role"], note=data.get("note", ""))
        history = self._history(institution)
        return Response(MembershipSerializer(history, many=True, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Membership history of an institution",
        description="Every membership of the institution the user may see, newest first.",
        responses={200: MembershipSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def memberships(self, request, pk=None, **kwargs):
        institution = self.get_object()
        history = self._history(institution)
        return Response(MembershipSerializer(history, many=True, context=self.get_serializer_context()).data)


# Memberships -------------------------------------------------------------------------------

class MembershipViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Effective-dated memberships of institutions in alliances, read-only. Use `on` for the
    memberships in force on a day; change them through `institutions/{id}/move/`."""

    scoped_model = AllianceMembership
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilter
    search_fields = ["institution__name", "alliance__name"]
    ordering_fields = ["valid_from", "valid_to", "role"]
    ordering = ["institution_id", "valid_from"]

    def optimise(self, qs: QuerySet) -> QuerySet:
        return qs.select_related("institution", "alliance")


# Joint offices -----------------------------------------------------------------------------

@extend_schema_view(
    create=extend_schema(description="Link two institutions of one county as one office "
                                     "(两个牌子一套人马); the pair is stored in id order."),
)
class JointOfficeViewSet(ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Joint offices: two institutions run by one staff (两个牌子一套人马)."""

    scoped_model = JointOffice
    serializer_class = JointOfficeSerializer
    filterset_class = JointOfficeFilter
    search_fields = ["first__name", "second__name"]
    ordering_fields = ["created_at"]
    ordering = ["first_id", "second_id"]

    def optimise(self, qs: QuerySet) -> QuerySet:
        return qs.select_related("first", "second")


def register_routes(router) -> None:
    router.register("regions", RegionViewSet, basename="region")
    router.register("alliances", AllianceViewSet, basename="alliance")
    router.register("institutions", InstitutionViewSet, basename="institution")
    router.register("memberships", MembershipViewSet, basename="membership")
    router.register("joint-offices", JointOfficeViewSet, basename="joint-office")
