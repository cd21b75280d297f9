"""REST API of the scheduled reports under ``/api/``: the archive (``/api/reports/``, filtered by
kind, county, alliance, period and state), a report's detail with its versions and delivery log,
the bureau's sign-off, and each version's workbook.

The same rules as the archive pages (``reports.views``): a report is seen through
``alliances.scoping`` (``reports.scoping``), and one outside it answers the same 404 as a missing
one; the sign-off is the county bureau's (403 for others who see the report) and goes through
``reports.services.sign_off`` (its security-log event included); a version is opened by those who
see its report or to whom it was delivered (``reports.scoping.openable_versions``), as on the page.
"""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from alliances.api import ScopedViewSetMixin
from alliances.filters import visible, visible_counties
from alliances.models import Alliance
from core.clock import request_now
from core.http import xlsx_response
from reports import jobs, services
from reports.models import Delivery, Kind, Report, ReportVersion
from reports.scoping import openable_versions
from reports.serializers import (
    ReportDetailSerializer,
    ReportSerializer,
    ReportVersionSerializer,
    SignOffSerializer,
)
from tasks.api import AnyMediaTypeRenderer


class Conflict(APIException):
    """409: the report is not a ready draft any more (signed off already, regenerating…)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class ReportFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=Kind.choices)
    state = filters.ChoiceFilter(choices=Report.State.choices)
    county = filters.ModelChoiceFilter(queryset=visible_counties)
    alliance = filters.ModelChoiceFilter(queryset=visible(Alliance))
    period = filters.CharFilter(method="filter_period",
                                help_text=gettext_lazy("A period (2026-11, 2026Q3) or a year (2026): the reports of it."))

    class Meta:
        model = Report
        fields = ["kind", "state", "county", "alliance", "period"]

    def filter_period(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(period__startswith=value[:7]) if value else queryset


class ReportViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Scheduled reports the user sees (as the archive page lists them), newest first, each with its
    counts of versions, deliveries and failed deliveries. A list costs the same few queries at any
    size; the detail adds the versions and the delivery log."""

    scoped_model = Report
    permission_classes = [IsAuthenticated]
    filterset_class = ReportFilter
    search_fields = ["title"]
    ordering_fields = ["due_at", "period", "state"]
    ordering = ["-due_at", "kind", "scope_key", "-edition", "pk"]

    def get_serializer_class(self):
        return ReportSerializer if self.action == "list" else ReportDetailSerializer

    def optimise(self, qs: QuerySet) -> QuerySet:
        qs = qs.select_related("county", "alliance").annotate(
            version_count=Count("versions", distinct=True),
            delivery_count=Count("deliveries", distinct=True),
            failed_count=Count("deliveries", filter=Q(deliveries__state=Delivery.State.FAILED), distinct=True))
        if self.action == "list":
            return qs
        return qs.select_related("signed_off_by").prefetch_related(
            Prefetch("versions", queryset=ReportVersion.objects.defer("xlsx", "data").select_related("created_by")
                     .order_by("-number")),
            Prefetch("deliveries", queryset=Delivery.objects.select_related("user").order_by("pk")))

    @extend_schema(
        summary="Sign off a quarterly table",
        description="The county health bureau signs off a ready draft of the quarterly evaluation table, with "
                    "its review and commentary: a signed version is made and the table is sent. The same rule "
                    "and security-log event as the archive page's sign-off. 409 when the table is not a ready "
                    "draft (signed off already, being regenerated…).",
        request=SignOffSerializer,
        responses={200: ReportDetailSerializer},
    )
    @action(detail=True, methods=["post"], url_path="sign-off", filter_backends=[], pagination_class=None)
    def sign_off(self, request, pk=None, **kwargs):
        report = self.get_object()  # a report of a county the user may not change: 403 (404 unseen)
        if not report.needs_signoff:
            raise NotFound()
        params = SignOffSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        if not services.sign_off(report, user=request.user, commentary=params.validated_data["commentary"].strip(),
                                 now=request_now(request), request=request):
            raise Conflict(_("This table cannot be signed off now (state: %(state)s).") % {
                "state": report.get_state_display()})
        jobs.enqueue(report.pk)
        report = self.get_queryset().get(pk=report.pk)
        return Response(ReportDetailSerializer(report, context=self.get_serializer_context()).data)


class ReportVersionViewSet(ScopedViewSetMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A version of a report, and its workbook: for those who see the report and those to whom it was
    delivered (as the archive page's download)."""

    scoped_model = ReportVersion
    permission_classes = [IsAuthenticated]
    serializer_class = ReportVersionSerializer

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # the schema's generation: no user
            return ReportVersion.objects.none()
        return openable_versions(self.request.user).defer("xlsx", "data").select_related("created_by")

    @extend_schema(
        summary="Download a report's workbook",
        description="The version's .xlsx as sent; opening it marks the user's delivery of the report read.",
        responses={(200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"):
                   OpenApiResponse(OpenApiTypes.BINARY)},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None,
            renderer_classes=[renderers.JSONRenderer, AnyMediaTypeRenderer])
    def download(self, request, pk=None, **kwargs):
        version = self.get_object()
        content = ReportVersion.objects.filter(pk=version.pk).values_list("xlsx", flat=True).first()
        if not content:
            raise NotFound(_("This report has no workbook."))
        services.mark_read(version.report_id, request.user, request_now(request))
        return xlsx_response(bytes(content), version.filename or "report.xlsx")


def register_routes(router) -> None:
    router.register("reports", ReportViewSet, basename="report")
    router.register("report-versions", ReportVersionViewSet, basename="report-version")
    from reports.alert_views import register_routes as register_alert_routes

    register_alert_routes(router)
