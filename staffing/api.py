"""The roster through the REST API: read-only, identity numbers masked; ``identity/`` gives the whole
number to HR officers of the right scope (logged), 403 to everyone else who sees the person."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from alliances import scoping
from alliances.api import ScopedViewSetMixin
from core.clock import request_now
from staffing import services
from staffing.models import IdentityView, Staff
from staffing.scoping import may_see_identity


class StaffSerializer(serializers.ModelSerializer):
    identity_number = serializers.CharField(source="id_masked", read_only=True,
                                            help_text=_("Masked: the first four and the last four characters."))
    institution_name = serializers.CharField(source="institution.name", read_only=True)
    home_name = serializers.CharField(source="home.name", read_only=True)

    class Meta:
        model = Staff
        fields = ["id", "name", "gender", "identity_number", "institution", "institution_name", "home", "home_name",
                  "employment", "nature", "profession", "post_type", "title", "education", "hired_on",
                  "contract_end", "left_on"]
        read_only_fields = fields


class IdentitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identity_number = serializers.CharField()


class StaffViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """The roster (花名册) the user sees, identity numbers masked."""

    scoped_model = Staff
    serializer_class = StaffSerializer
    permission_classes = [IsAuthenticated]
    ordering = ["institution_id", "name", "pk"]

    @property
    def scope_action(self) -> scoping.Action:
        return scoping.VIEW

    def optimise(self, qs):
        return qs.select_related("institution", "home").order_by("institution_id", "name", "pk")

    @extend_schema(responses=IdentitySerializer)
    @action(detail=True, methods=["get"])
    def identity(self, request, pk=None, format=None):  # noqa: A002 (DRF passes the suffix as "format")
        """The whole identity number (HR officers of the person's institution, alliance or county); logged."""
        staff = self.get_object()
        if not may_see_identity(request.user, staff):
            raise PermissionDenied(_("Only HR officers of this person's institution, alliance or county see the whole "
                                     "identity number."))
        number = services.full_number(request.user, staff, IdentityView.Channel.API, request_now(request),
                                      request=request)
        return Response({"id": staff.pk, "identity_number": number})


def register_routes(router) -> None:
    router.register("staff", StaffViewSet, basename="staff")
