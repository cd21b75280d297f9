"""REST API of the task ledgers (台账) under ``/api/``: ledgers, items, assignments, progress
reports with their evidence, and supervision orders.

Seeing goes through ``alliances.scoping`` (the scoping functions of ``tasks.scoping``): every
queryset is what the user may *see*, and a row outside it answers the same 404 as a missing one,
for reads and for actions alike. Who may act on a row they see is decided by
``tasks.permissions`` (the bureau sets deadlines and reviews, a unit's people report and reply,
supervisors issue, escalate and close orders): a visible row the user may not act on answers 403.
Writes go through ``tasks.services``; their ``ValidationError`` becomes a 400 keyed by field.

The clock is read once per request (``request_now``): filters, statuses and services of one
request agree on the moment.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import (
    BooleanField,
    Case,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from alliances import scoping
from alliances.api import ScopedViewSetMixin
from alliances.serializers import drf_validation_error
from core.files import serve_file
from tasks import permissions, selectors
from tasks.filters import (
    AssignmentFilter,
    EvidenceFilter,
    LedgerFilter,
    ProgressReportFilter,
    SupervisionOrderFilter,
    TaskItemFilter,
    request_now,
)
from tasks.models import (
    Assignment,
    EscalationStep,
    Evidence,
    Ledger,
    ProgressReport,
    SupervisionOrder,
    TaskItem,
)
from tasks.serializers import (
    AssignmentSerializer,
    DeadlineSerializer,
    EvidenceSerializer,
    LedgerSerializer,
    OrderCloseSerializer,
    OrderCreateSerializer,
    OrderEscalateSerializer,
    OrderReplySerializer,
    ProgressReportCreateSerializer,
    ProgressReportSerializer,
    ReviewSerializer,
    SupervisionOrderDetailSerializer,
    SupervisionOrderSerializer,
    TaskItemSerializer,
)
from tasks.services.ledgers import item_set_deadline
from tasks.services.progress import progress_report_review, progress_report_submit
from tasks.services.status import assignments_refresh_due, rules_by_county
from tasks.services.supervision import order_close, order_escalate, order_issue, order_reply
from tasks.status import local_date


def service_error(exc: DjangoValidationError, fields_by_code: dict[str, str] | None = None,
                  rename: dict[str, str] | None = None):
    """A service's ``ValidationError`` as a 400 keyed by the API's field names (``rename`` maps a
    service's field to the request's)."""
    if rename and hasattr(exc, "error_dict"):
        exc = DjangoValidationError({rename.get(name, name): errors for name, errors in exc.error_dict.items()})
    return drf_validation_error(exc, fields_by_code)


def reportable_flag(user, prefix: str = "") -> Case | Value:
    """An annotation: whether ``user`` reports for the assignment (``prefix`` leads to it from the
    queryset's model). Part of the list's one query, instead of ``can_report`` per row."""
    condition = permissions.reportable_condition(user)
    if not condition:  # everything (a superuser): When() takes no empty condition
        return Value(True, output_field=BooleanField())
    if prefix:
        condition = {f"{prefix}__in": Assignment.objects.filter(condition).values("pk")}
        return Case(When(**condition, then=Value(True)), default=Value(False), output_field=BooleanField())
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


class TaskViewSetMixin(ScopedViewSetMixin):
    """``ScopedViewSetMixin`` for the task ledgers: querysets are always what the user *sees*
    (404 otherwise), and each write checks ``tasks.permissions`` on the row (403 otherwise)."""

    permission_classes = [IsAuthenticated]
    # Status caches are brought up to date before lists and details that read them.
    refreshes_statuses = False

    def initial(self, request, *args, **kwargs):
        self.now = request_now(request)
        super().initial(request, *args, **kwargs)
        self.today = local_date(self.now)
        if self.refreshes_statuses and request.method == "GET":
            self.refresh_statuses()

    @property
    def scope_action(self) -> scoping.Action:
        return scoping.VIEW

    def refresh_statuses(self) -> None:
        """Statuses whose time has passed (an index finds them), in the counties the user sees."""
        scope = scoping.scope_of(self.request.user)
        if scope.everything:
            assignments_refresh_due(now=self.now)
        elif counties := scope.view_counties | scope.context_counties:
            assignments_refresh_due(now=self.now, county_ids=counties)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["now"] = getattr(self, "now", None)
        return context

    def get_serializer(self, *args, **kwargs):
        instance = args[0] if args else kwargs.get("instance")
        if instance is not None and "data" not in kwargs:
            rows = list(instance) if kwargs.get("many") else [instance]
            kwargs["context"] = {**self.get_serializer_context(), **self.page_context(rows)}
        return super().get_serializer(*args, **kwargs)

    def page_context(self, rows: list) -> dict:
        """What the serializer needs about all rows of a page, read at once."""
        return {}

    def respond(self, instance, serializer_class=None, status_code: int = status.HTTP_200_OK) -> Response:
        """``instance`` read again through the viewset's queryset (fresh, with its relations)."""
        instance = self.get_queryset().get(pk=instance.pk)
        serializer_class = serializer_class or self.get_serializer_class()
        context = {**self.get_serializer_context(), **self.page_context([instance])}
        return Response(serializer_class(instance, context=context).data, status=status_code)


# Ledgers -----------------------------------------------------------------------------------

def ledger_progress_for(user, ledgers: list[Ledger]) -> dict[int, dict]:
    """Status counts per ledger over the assignments the user sees. One query for a page."""
    return selectors.ledger_progress(selectors.visible_assignments(user), [ledger.pk for ledger in ledgers])


class LedgerViewSet(TaskViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Task ledgers (台账) the user sees, each with its item count and the counts of its
    assignments by status and light (over the assignments the user sees)."""

    scoped_model = Ledger
    serializer_class = LedgerSerializer
    filterset_class = LedgerFilter
    search_fields = ["title", "doc_number"]
    ordering_fields = ["year", "title", "issued_on"]
    ordering = ["county_id", "-year", "title"]
    refreshes_statuses = True

    def optimise(self, qs: QuerySet) -> QuerySet:
        items = (scoping.queryset_for(self.request.user, TaskItem).filter(ledger=OuterRef("pk"), is_active=True)
                 .order_by().values("ledger").annotate(n=Count("pk")).values("n"))
        return (qs.filter(is_active=True).select_related("county")
                .annotate(item_count=Coalesce(Subquery(items, output_field=IntegerField()), 0)))

    def page_context(self, rows: list) -> dict:
        return {"progress": ledger_progress_for(self.request.user, rows)}


# Items -------------------------------------------------------------------------------------

class TaskItemViewSet(TaskViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Items of the ledgers the user sees (a unit's user: the items it is assigned), with their
    deadlines as written and as read."""

    scoped_model = TaskItem
    serializer_class = TaskItemSerializer
    filterset_class = TaskItemFilter
    search_fields = ["number", "text"]
    ordering_fields = ["order", "due_date", "number"]
    ordering = ["ledger_id", "order", "pk"]

    def optimise(self, qs: QuerySet) -> QuerySet:
        # The figures of indicator-backed items judged per alliance: the alliances' assignments the
        # user sees, in one query for the page.
        judged = (selectors.visible_assignments(self.request.user).filter(is_active=True, alliance__isnull=False)
                  .select_related("alliance").order_by("pk"))
        return qs.filter(is_active=True).select_related("ledger", "section__parent", "deadline_corrected_by") \
            .prefetch_related(Prefetch("assignments", queryset=judged, to_attr="alliance_assignments"))

    @extend_schema(
        summary="Set the deadline of an item",
        description="The county health bureau sets the deadline (kind, date, recurrence); the correction is "
                    "kept over later imports of the ledger, and the statuses of the item's assignments follow.",
        request=DeadlineSerializer,
        responses={200: TaskItemSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def deadline(self, request, pk=None, **kwargs):
        item = self.get_object()
        if not permissions.can_edit_county(request.user, item.ledger.county_id):
            raise PermissionDenied(_("Only the county health bureau sets deadlines."))
        params = DeadlineSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            item = item_set_deadline(item=item, user=request.user, kind=data["deadline_kind"],
                                     due_date=data.get("due_date"), recurrence=data["recurrence"], now=self.now)
        except DjangoValidationError as exc:
            raise service_error(exc) from None
        return self.respond(item, TaskItemSerializer)


# Assignments -------------------------------------------------------------------------------

class AssignmentViewSet(TaskViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Active assignments the user sees: one unit of one item, with its progress and its status
    now (days left or late). The same filters as the assignment page; `mine=true` keeps those the
    user reports for. A list costs the same few queries at any size."""

    scoped_model = Assignment
    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilter
    ordering_fields = ["percent", "last_report_at", "due_date", "severity", "item__order"]
    ordering = ["item__ledger_id", "item__order", "item_id", "role", "pk"]
    refreshes_statuses = True

    def optimise(self, qs: QuerySet) -> QuerySet:
        return selectors.with_list_data(qs.filter(is_active=True)).annotate(
            reportable=reportable_flag(self.request.user))

    def page_context(self, rows: list) -> dict:
        return {
            "rules": rules_by_county({row.county_id for row in rows}) if rows else {},
            "latest_reports": selectors.latest_reports([row.pk for row in rows]) if rows else {},
        }


# Progress reports --------------------------------------------------------------------------

@extend_schema_view(
    create=extend_schema(
        summary="Report progress",
        description="Report a month's progress on an assignment the user reports for (multipart/form-data, the "
                    "evidence files under `files`). A report marking the task complete needs evidence and says "
                    "100%; it completes the assignment once the bureau accepts it. Each file is checked by its "
                    "content (PDF, image, Word, Excel; no macros).",
        request={"multipart/form-data": ProgressReportCreateSerializer},
        responses={201: ProgressReportSerializer},
    ),
)
class ProgressReportViewSet(TaskViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Progress reports on the assignments the user sees, newest first, each with its evidence."""

    scoped_model = ProgressReport
    serializer_class = ProgressReportSerializer
    filterset_class = ProgressReportFilter
    search_fields = ["text"]
    ordering_fields = ["submitted_at", "period"]
    ordering = ["-submitted_at", "-pk"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def optimise(self, qs: QuerySet) -> QuerySet:
        return qs.select_related(
            "assignment__item", "assignment__department", "assignment__institution", "assignment__alliance",
            "submitted_by", "reviewed_by",
        ).prefetch_related(Prefetch("evidence", queryset=Evidence.objects.order_by("pk")))

    def get_serializer_class(self):
        if self.action == "create":
            return ProgressReportCreateSerializer
        return ProgressReportSerializer

    def create(self, request, *args, **kwargs):
        params = self.get_serializer(data=request.data)
        params.is_valid(raise_exception=True)  # an assignment the user does not report for: 403
        data = params.validated_data
        try:
            report = progress_report_submit(
                assignment=data["assignment"], user=request.user, text=data["text"], percent=data.get("percent"),
                marks_complete=data["marks_complete"], files=data["files"], period=data["period"] or None,
                now=self.now)
        except DjangoValidationError as exc:
            raise service_error(exc) from None
        return self.respond(report, ProgressReportSerializer, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Review a progress report",
        description="The county health bureau accepts a report awaiting review, or returns it with a reason the "
                    "unit reads. An accepted completion report completes the assignment; a returned report no "
                    "longer counts (the assignment's percent falls back to the newest report still standing).",
        request=ReviewSerializer,
        responses={200: ProgressReportSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def review(self, request, pk=None, **kwargs):
        report = self.get_object()
        if not permissions.can_review(request.user, report):
            raise PermissionDenied(_("Only the county health bureau reviews progress reports."))
        params = ReviewSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            report = progress_report_review(report=report, user=request.user, accept=data["accept"],
                                            reason=data["reason"], now=self.now)
        except DjangoValidationError as exc:
            raise service_error(exc) from None
        return self.respond(report, ProgressReportSerializer)


# Evidence ----------------------------------------------------------------------------------

class AnyMediaTypeRenderer(renderers.BaseRenderer):
    """Lets a download be asked for with any Accept header; errors are still JSON."""

    media_type = "*/*"
    format = "file"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b"" if data is None else json.dumps(data).encode()


class EvidenceViewSet(TaskViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Evidence files (佐证材料) of the progress reports the user sees."""

    scoped_model = Evidence
    serializer_class = EvidenceSerializer
    filterset_class = EvidenceFilter
    ordering_fields = ["uploaded_at"]
    ordering = ["report_id", "pk"]

    @extend_schema(
        summary="Download an evidence file",
        description="The file as uploaded, with its original name and the content type found by its content.",
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None,
            renderer_classes=[renderers.JSONRenderer, AnyMediaTypeRenderer])
    def download(self, request, pk=None, **kwargs):
        evidence = self.get_object()
        try:
            return serve_file(request, evidence.file, filename=evidence.original_name,
                              content_type=evidence.content_type)
        except Http404:
            raise NotFound() from None


# Supervision orders ------------------------------------------------------------------------

@extend_schema_view(
    retrieve=extend_schema(responses={200: SupervisionOrderDetailSerializer}),
    create=extend_schema(
        summary="Issue a supervision order",
        description="A supervisor of the county issues a 督办单 about one assignment; at most one order per "
                    "assignment awaits its reply.",
        request=OrderCreateSerializer,
        responses={201: SupervisionOrderDetailSerializer},
    ),
)
class SupervisionOrderViewSet(TaskViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                              mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Supervision orders (三色督办) about the assignments the user sees, newest first. The unit
    replies; the county's supervisors escalate (提醒 → 专函督办 → 通报 → 约谈 → 问责) and close."""

    scoped_model = SupervisionOrder
    serializer_class = SupervisionOrderSerializer
    filterset_class = SupervisionOrderFilter
    search_fields = ["number", "text"]
    ordering_fields = ["issued_at", "reply_due"]
    ordering = ["-issued_at", "-pk"]

    def optimise(self, qs: QuerySet) -> QuerySet:
        qs = qs.select_related(
            "assignment__item", "assignment__department", "assignment__institution", "assignment__alliance",
            "issued_by", "replied_by", "closed_by",
        ).annotate(reportable=reportable_flag(self.request.user, prefix="assignment"))
        if self.action != "list":
            qs = qs.prefetch_related(Prefetch("steps", queryset=EscalationStep.objects.select_related("taken_by")))
        return qs

    def get_serializer_class(self):
        if self.action == "create":
            return OrderCreateSerializer
        if self.action == "list":
            return SupervisionOrderSerializer
        return SupervisionOrderDetailSerializer

    def _require_supervisor(self, county_id: int) -> None:
        if not permissions.can_supervise(self.request.user, county_id):
            raise PermissionDenied(_("Only the county's supervisors do this."))

    def create(self, request, *args, **kwargs):
        scope = scoping.scope_of(request.user)
        if not (scope.everything or scope.supervise_counties):
            raise PermissionDenied(_("Only the county's supervisors issue supervision orders."))
        params = self.get_serializer(data=request.data)
        params.is_valid(raise_exception=True)  # an assignment of a county the user does not supervise: 403
        data = params.validated_data
        try:
            order = order_issue(assignment=data["assignment"], user=request.user, colour=data["colour"],
                                text=data["text"], reply_due=data.get("reply_due"), now=self.now)
        except DjangoValidationError as exc:
            raise service_error(exc, {"open_order": "assignment"}) from None
        return self.respond(order, SupervisionOrderDetailSerializer, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Reply to a supervision order",
        description="The unit the order is about replies (once, while the order awaits its reply).",
        request=OrderReplySerializer,
        responses={200: SupervisionOrderDetailSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def reply(self, request, pk=None, **kwargs):
        order = self.get_object()
        if not permissions.can_reply(request.user, order):
            raise PermissionDenied(_("Only the unit the order is about replies to it."))
        params = OrderReplySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            order = order_reply(order=order, user=request.user, text=params.validated_data["text"], now=self.now)
        except DjangoValidationError as exc:
            raise service_error(exc, rename={"reply_text": "text"}) from None
        return self.respond(order, SupervisionOrderDetailSerializer)

    @extend_schema(
        summary="Escalate a supervision order",
        description="A supervisor takes a step beyond the order's present one (a step may be skipped, not taken "
                    "back); the step is recorded with who took it and when.",
        request=OrderEscalateSerializer,
        responses={200: SupervisionOrderDetailSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def escalate(self, request, pk=None, **kwargs):
        order = self.get_object()
        self._require_supervisor(order.county_id)
        params = OrderEscalateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            order_escalate(order=order, user=request.user, step=data["step"], note=data["note"], now=self.now)
        except DjangoValidationError as exc:
            raise service_error(exc) from None
        return self.respond(order, SupervisionOrderDetailSerializer)

    @extend_schema(
        summary="Close a supervision order",
        description="A supervisor closes the order, replied or not, with an optional note.",
        request=OrderCloseSerializer,
        responses={200: SupervisionOrderDetailSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def close(self, request, pk=None, **kwargs):
        order = self.get_object()
        self._require_supervisor(order.county_id)
        params = OrderCloseSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            order = order_close(order=order, user=request.user, note=params.validated_data["note"], now=self.now)
        except DjangoValidationError as exc:
            raise service_error(exc) from None
        return self.respond(order, SupervisionOrderDetailSerializer)


def register_routes(router) -> None:
    router.register("task-ledgers", LedgerViewSet, basename="task-ledger")
    router.register("task-items", TaskItemViewSet, basename="task-item")
    router.register("task-assignments", AssignmentViewSet, basename="task-assignment")
    router.register("task-reports", ProgressReportViewSet, basename="task-report")
    router.register("task-evidence", EvidenceViewSet, basename="task-evidence")
    router.register("supervision-orders", SupervisionOrderViewSet, basename="supervision-order")
