"""Serializers of the task ledger API.

Reads: ledgers with their progress, items with their deadlines, assignments with the status
``Assignment.status_at(now)`` gives (pure: the viewset loads ``item__ledger`` and the county's
rules once per page), progress reports with their evidence, supervision orders with their steps.

Writes take their input here and hand it to the services (``tasks.services``), which check it and
answer by field; an id the user may not see fails like a missing one ("invalid pk", 400). Who may
write is decided by ``tasks.permissions``: a reference the user sees but may not act on answers 403.
"""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from alliances import scoping
from alliances.serializers import ScopedPrimaryKeyRelatedField
from core.serializers import NamedEnumField, UserRefSerializer
from tasks import permissions
from tasks.deadlines import DeadlineKind, Recurrence
from tasks.models import (
    Assignment,
    Colour,
    EscalationStep,
    Evidence,
    JudgedTarget,
    Ledger,
    ProgressReport,
    Step,
    SupervisionOrder,
    TaskItem,
)
from tasks.services.supervision import suggest_next_step
from tasks.status import DEFAULT_RULES, Behind, Light, Status, StatusResult


def visible(model):
    return lambda user: scoping.queryset_for(user, model, scoping.VIEW)


def _now(serializer) -> datetime:
    return serializer.context.get("now") or timezone.now()


def _user(serializer):
    request = serializer.context.get("request")
    return getattr(request, "user", None)


# References --------------------------------------------------------------------------------


class UnitSerializer(serializers.Serializer):
    """The responsible unit of an assignment: a department, an institution or an alliance."""

    kind = serializers.ChoiceField(choices=["department", "institution", "alliance"], source="unit_kind")
    id = serializers.IntegerField(source="unit.pk")
    name = serializers.CharField(source="unit_name")


class ItemRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    text = serializers.CharField()


class AssignmentRefSerializer(serializers.Serializer):
    """The matter a report or an order is about: one unit's assignment of one item."""

    id = serializers.IntegerField()
    role = NamedEnumField(Assignment.Role.choices, enum_name="AssignmentRoleEnum")
    item = ItemRefSerializer()
    ledger = serializers.IntegerField(source="item.ledger_id")
    unit = UnitSerializer(source="*")


# Ledgers -----------------------------------------------------------------------------------

class LedgerProgressSerializer(serializers.Serializer):
    """Counts over the active assignments of the ledger that the user sees."""

    assignments = serializers.IntegerField(source="total")
    not_started = serializers.IntegerField()
    on_track = serializers.IntegerField()
    due_soon = serializers.IntegerField()
    overdue = serializers.IntegerField()
    done = serializers.IntegerField()
    continuous = serializers.IntegerField()
    red = serializers.IntegerField()
    yellow = serializers.IntegerField()
    blue = serializers.IntegerField()


EMPTY_PROGRESS = {"total": 0, **{s.value: 0 for s in Status}, "red": 0, "yellow": 0, "blue": 0}


class LedgerSerializer(serializers.ModelSerializer):
    """A task ledger (台账) of one county: the task list of one official document."""

    county_name = serializers.CharField(source="county.name", read_only=True)
    item_count = serializers.IntegerField(read_only=True, help_text=_("Active items the user sees."))
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Ledger
        fields = ["id", "county", "county_name", "title", "doc_number", "issuer", "year", "issued_on", "layout",
                  "item_count", "progress"]
        read_only_fields = fields

    @extend_schema_field(LedgerProgressSerializer)
    def get_progress(self, ledger: Ledger):
        counts = self.context.get("progress", {}).get(ledger.pk) or EMPTY_PROGRESS
        return LedgerProgressSerializer(counts).data


# Items -------------------------------------------------------------------------------------

class JudgementSerializer(serializers.Serializer):
    """The last judgement of an indicator-backed item (for the county, or for one alliance)."""

    period = serializers.CharField(source="judged_period", help_text=_("The last complete period judged."))
    value = serializers.DecimalField(source="judged_value", max_digits=18, decimal_places=4, allow_null=True)
    target = serializers.CharField(source="judged_target")
    met = serializers.BooleanField(source="target_met", allow_null=True)
    trend = serializers.ChoiceField(source="target_trend", choices=JudgedTarget.Trend.choices)
    last_year = serializers.DecimalField(source="judged_last_year", max_digits=18, decimal_places=4, allow_null=True,
                                         help_text=_("The same period last year."))
    previous = serializers.DecimalField(source="judged_previous", max_digits=18, decimal_places=4, allow_null=True,
                                        help_text=_("The period before, for the trend."))
    checked_at = serializers.DateTimeField(source="target_checked_at", allow_null=True)


class AllianceJudgementSerializer(JudgementSerializer):
    alliance = serializers.IntegerField(source="alliance_id")
    alliance_name = serializers.CharField(source="alliance.name")


class TaskItemSerializer(serializers.ModelSerializer):
    """A task of a ledger with its units as written and its deadline (read from the phrase, or set
    by the bureau)."""

    sections = serializers.SerializerMethodField(help_text=_("The headings above the item, from the top."))
    needs_deadline = serializers.BooleanField(read_only=True)
    deadline_corrected = serializers.BooleanField(read_only=True)
    deadline_corrected_by = UserRefSerializer(read_only=True, allow_null=True)
    judgement = serializers.SerializerMethodField()
    alliance_judgements = serializers.SerializerMethodField()

    class Meta:
        model = TaskItem
        fields = ["id", "ledger", "number", "text", "section", "sections", "lead_units_text", "coop_units_text",
                  "deadline_text", "deadline_kind", "due_date", "recurrence", "deadline_note", "milestones",
                  "needs_deadline", "deadline_corrected", "deadline_corrected_by", "deadline_corrected_at", "target_text",
                  "indicator_code", "target_operator", "target_value", "auto_complete", "target_level",
                  "target_points", "judgement", "alliance_judgements"]
        read_only_fields = fields

    @extend_schema_field(JudgementSerializer(allow_null=True))
    def get_judgement(self, item: TaskItem):
        """The county's figures when the item is judged for the county (null otherwise)."""
        if not item.is_linked or item.judged_by_alliance or item.target_checked_at is None:
            return None
        return JudgementSerializer(item).data

    @extend_schema_field(AllianceJudgementSerializer(many=True))
    def get_alliance_judgements(self, item: TaskItem) -> list:
        """Each visible alliance's figures when the item is judged per alliance."""
        if not item.judged_by_alliance:
            return []
        rows = getattr(item, "alliance_assignments", None)
        if rows is None:
            rows = item.assignments.filter(is_active=True, alliance__isnull=False).select_related("alliance")
        return AllianceJudgementSerializer([a for a in rows if a.target_checked_at is not None], many=True).data

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_sections(self, item: TaskItem) -> list[str]:
        labels = []
        section = item.section
        while section is not None:
            labels.insert(0, section.label)
            section = section.parent if section.parent_id else None
        return labels


class DeadlineSerializer(serializers.Serializer):
    """The deadline of an item, set by the bureau; it is kept over later imports of the ledger."""

    deadline_kind = serializers.ChoiceField(choices=[c for c in DeadlineKind.choices if c[0] != DeadlineKind.UNKNOWN])
    due_date = serializers.DateField(required=False, allow_null=True,
                                     help_text=_("Needed for a fixed deadline or a milestone."))
    recurrence = serializers.ChoiceField(choices=Recurrence.choices, required=False, allow_blank=True, default="")


# Assignments -------------------------------------------------------------------------------

class LatestReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    period = serializers.CharField()
    percent = serializers.IntegerField()
    state = NamedEnumField(ProgressReport.State.choices, enum_name="ProgressReportStateEnum")
    submitted_at = serializers.DateTimeField()


class AssignmentSerializer(serializers.ModelSerializer):
    """One responsible (or cooperating) unit of one item, with its progress and its status now."""

    item = ItemRefSerializer(read_only=True)
    ledger = serializers.IntegerField(source="item.ledger_id", read_only=True)
    role = NamedEnumField(Assignment.Role.choices, enum_name="AssignmentRoleEnum", read_only=True)
    unit = UnitSerializer(source="*", read_only=True)
    status = serializers.SerializerMethodField()
    light = serializers.SerializerMethodField()
    behind = serializers.SerializerMethodField()
    days_left = serializers.SerializerMethodField(help_text=_("Days until the deadline (a lead unit's, open)."))
    days_late = serializers.SerializerMethodField(help_text=_("Days past the deadline (overdue only)."))
    can_report = serializers.SerializerMethodField(help_text=_("Whether the user reports progress on it."))
    latest_report = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = ["id", "item", "ledger", "county", "role", "unit", "source_text", "percent", "last_report_at",
                  "completed_at", "status", "light", "behind", "days_left", "days_late", "can_report",
                  "latest_report"]
        read_only_fields = fields

    def _result(self, assignment: Assignment) -> StatusResult:
        result = getattr(assignment, "_status_now", None)
        if result is None:
            rules = self.context.get("rules", {}).get(assignment.county_id, DEFAULT_RULES)
            result = assignment._status_now = assignment.status_at(_now(self), rules)
        return result

    @extend_schema_field(serializers.ChoiceField(choices=Status.choices))
    def get_status(self, assignment: Assignment) -> str:
        return self._result(assignment).status

    @extend_schema_field(serializers.ChoiceField(choices=Light.choices))
    def get_light(self, assignment: Assignment) -> str:
        return self._result(assignment).light

    @extend_schema_field(serializers.ChoiceField(choices=Behind.choices))
    def get_behind(self, assignment: Assignment) -> str:
        return self._result(assignment).behind

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_days_left(self, assignment: Assignment) -> int | None:
        return self._result(assignment).days_left

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_days_late(self, assignment: Assignment) -> int | None:
        return self._result(assignment).days_late

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_can_report(self, assignment: Assignment) -> bool:
        flag = getattr(assignment, "reportable", None)  # annotated by the viewset
        return bool(flag) if flag is not None else permissions.can_report(_user(self), assignment)

    @extend_schema_field(LatestReportSerializer(allow_null=True))
    def get_latest_report(self, assignment: Assignment):
        report = self.context.get("latest_reports", {}).get(assignment.pk)
        return LatestReportSerializer(report).data if report else None


# Progress reports and evidence -------------------------------------------------------------

class EvidenceSerializer(serializers.ModelSerializer):
    """An attachment of a progress report (佐证材料); its type was checked by content."""

    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = ["id", "report", "original_name", "kind", "content_type", "size", "sha256", "uploaded_at",
                  "download_url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, evidence: Evidence) -> str:
        url = reverse("task-evidence-download", kwargs={"pk": evidence.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class ProgressReportSerializer(serializers.ModelSerializer):
    """A unit's progress on one assignment in one month, with its evidence and its review."""

    assignment = AssignmentRefSerializer(read_only=True)
    state = NamedEnumField(ProgressReport.State.choices, enum_name="ProgressReportStateEnum", read_only=True)
    submitted_by = UserRefSerializer(read_only=True, allow_null=True)
    reviewed_by = UserRefSerializer(read_only=True, allow_null=True)
    evidence = EvidenceSerializer(many=True, read_only=True)
    can_review = serializers.SerializerMethodField(help_text=_("Whether the user may accept or return it now."))

    class Meta:
        model = ProgressReport
        fields = ["id", "assignment", "county", "period", "text", "percent", "marks_complete", "state",
                  "submitted_by", "submitted_at", "reviewed_by", "reviewed_at", "review_reason", "evidence",
                  "can_review"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_can_review(self, report: ProgressReport) -> bool:
        return report.state == ProgressReport.State.SUBMITTED and permissions.can_review(_user(self), report)


class ProgressReportCreateSerializer(serializers.Serializer):
    """A month's progress on an assignment the user reports for; send it as multipart/form-data
    with the evidence files under ``files``. A report marking the task complete needs evidence
    and says 100%."""

    assignment = ScopedPrimaryKeyRelatedField(Assignment, visible(Assignment), style={"base_template": "input.html"})
    text = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                 help_text=_("The progress made."))
    percent = serializers.IntegerField(required=False, allow_null=True, help_text=_("Percent done, 0–100."))
    marks_complete = serializers.BooleanField(required=False, default=False)
    period = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text=_("The month reported on, e.g. 2026-11; this month when empty."))
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False), required=False, default=list,
        help_text=_("Evidence: PDF, images, Word or Excel files (the same key repeated for several)."))

    def validate_assignment(self, assignment: Assignment) -> Assignment:
        if not permissions.can_report(_user(self), assignment):
            raise PermissionDenied(_("You do not report progress for this unit."))
        return assignment


class ReviewSerializer(serializers.Serializer):
    """Accept a progress report, or return it with the reason the unit will read."""

    accept = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")


# Supervision -------------------------------------------------------------------------------

class EscalationStepSerializer(serializers.ModelSerializer):
    """A step taken on an order: who took it, when and why."""

    taken_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = EscalationStep
        fields = ["id", "step", "note", "was_suggested", "taken_by", "taken_at"]
        read_only_fields = fields


class SuggestionSerializer(serializers.Serializer):
    """The next step the county's escalation rules suggest for an order."""

    step = serializers.ChoiceField(choices=Step.choices)
    reason = serializers.CharField()
    count = serializers.IntegerField()


class SupervisionOrderSerializer(serializers.ModelSerializer):
    """A supervision order (督办单) about one unit's assignment."""

    assignment = AssignmentRefSerializer(read_only=True)
    state = NamedEnumField(SupervisionOrder.State.choices, enum_name="SupervisionOrderStateEnum", read_only=True)
    issued_by = UserRefSerializer(read_only=True, allow_null=True)
    replied_by = UserRefSerializer(read_only=True, allow_null=True)
    closed_by = UserRefSerializer(read_only=True, allow_null=True)
    can_reply = serializers.SerializerMethodField(help_text=_("Whether the user replies for the unit."))
    can_supervise = serializers.SerializerMethodField(help_text=_("Whether the user may escalate and close it."))

    class Meta:
        model = SupervisionOrder
        fields = ["id", "county", "number", "assignment", "colour", "step", "text", "reply_due", "state",
                  "issued_by", "issued_at", "reply_text", "replied_by", "replied_at", "closed_by", "closed_at",
                  "close_note", "can_reply", "can_supervise"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_can_reply(self, order: SupervisionOrder) -> bool:
        if order.state != SupervisionOrder.State.OPEN:
            return False
        flag = getattr(order, "reportable", None)  # annotated by the viewset
        return bool(flag) if flag is not None else permissions.can_reply(_user(self), order)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_can_supervise(self, order: SupervisionOrder) -> bool:
        return permissions.can_supervise(_user(self), order.county_id)


class SupervisionOrderDetailSerializer(SupervisionOrderSerializer):
    """An order with its escalation steps and the step the county's rules suggest next."""

    steps = EscalationStepSerializer(many=True, read_only=True)
    suggested_step = serializers.SerializerMethodField()

    class Meta(SupervisionOrderSerializer.Meta):
        fields = [*SupervisionOrderSerializer.Meta.fields, "steps", "suggested_step"]
        read_only_fields = fields

    @extend_schema_field(SuggestionSerializer(allow_null=True))
    def get_suggested_step(self, order: SupervisionOrder):
        if order.state == SupervisionOrder.State.CLOSED:
            return None
        suggestion = suggest_next_step(order)
        if suggestion is None:
            return None
        return SuggestionSerializer({"step": suggestion.step, "reason": suggestion.reason,
                                     "count": suggestion.count}).data


class OrderCreateSerializer(serializers.Serializer):
    """Issue an order about one assignment of a county the user supervises."""

    assignment = ScopedPrimaryKeyRelatedField(Assignment, visible(Assignment), style={"base_template": "input.html"})
    colour = serializers.ChoiceField(choices=Colour.choices)
    reply_due = serializers.DateField(required=False, allow_null=True, help_text=_("The day the unit must reply by."))
    text = serializers.CharField(required=False, allow_blank=True, default="", help_text=_("What the unit must do."))

    def validate_assignment(self, assignment: Assignment) -> Assignment:
        if not permissions.can_supervise(_user(self), assignment.county_id):
            raise PermissionDenied(_("Only the county's supervisors issue supervision orders."))
        return assignment


class OrderReplySerializer(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, default="", help_text=_("The unit's reply."))


class OrderEscalateSerializer(serializers.Serializer):
    step = serializers.ChoiceField(choices=Step.choices, help_text=_("A step beyond the order's present one."))
    note = serializers.CharField(required=False, allow_blank=True, default="")


class OrderCloseSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")
