"""Serializers of the reports API: a report as the archive lists it, its detail with versions and
the delivery log as the archive's detail page shows them, and the sign-off's input.

A delivery names its recipient as the page does (the user's name, or the extra address that is
the recipient); no other address is given out. A version's workbook is reached through its
``download_url`` only, which answers those who may open it (``reports.scoping.openable_versions``).
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alliances import scoping
from core.serializers import NamedEnumField, UserRefSerializer
from reports.models import Delivery, Kind, Report, ReportVersion


def _absolute(serializer: serializers.Serializer, url: str) -> str:
    request = serializer.context.get("request")
    return request.build_absolute_uri(url) if request is not None else url


class ReportVersionSerializer(serializers.ModelSerializer):
    """One generated edition of a report (regenerating or signing off adds one; old ones stay)."""

    created_by = UserRefSerializer(read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField(
        help_text=_("The workbook (.xlsx); null when the version has none."))

    class Meta:
        model = ReportVersion
        fields = ["id", "report", "number", "created_at", "created_by", "filename", "size", "build_ms",
                  "download_url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, version: ReportVersion) -> str | None:
        if not version.size:
            return None
        return _absolute(self, reverse("report-version-download", kwargs={"pk": version.pk}))


class DeliverySerializer(serializers.ModelSerializer):
    """One recipient of a report and how its sending went (the delivery log)."""

    recipient = serializers.CharField(read_only=True, help_text=_("The user's name, or the extra address."))
    state = NamedEnumField(Delivery.State.choices, enum_name="DeliveryStateEnum", read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "recipient", "user", "reason", "state", "attempts", "created_at", "sent_at", "read_at"]
        read_only_fields = fields


class ReportSerializer(serializers.ModelSerializer):
    """A scheduled report (进度监测表, 季度评价指标表, reminders, late lists…) of a county or an alliance."""

    kind = NamedEnumField(Kind.choices, enum_name="ScheduledReportKindEnum", read_only=True)
    state = NamedEnumField(Report.State.choices, enum_name="ScheduledReportStateEnum", read_only=True)
    county_name = serializers.CharField(source="county.name", read_only=True)
    alliance_name = serializers.CharField(source="alliance.name", read_only=True, allow_null=True, default=None)
    version_count = serializers.IntegerField(read_only=True)
    delivery_count = serializers.IntegerField(read_only=True)
    failed_count = serializers.IntegerField(read_only=True, help_text=_("Deliveries that failed."))
    can_sign_off = serializers.SerializerMethodField(help_text=_("Whether the user may sign it off now."))

    class Meta:
        model = Report
        fields = ["id", "kind", "title", "county", "county_name", "alliance", "alliance_name", "period", "edition",
                  "state", "progress", "due_at", "deadline", "late", "generated_at", "signed_off_at", "sent_at",
                  "version_count", "delivery_count", "failed_count", "can_sign_off"]
        read_only_fields = fields

    def get_can_sign_off(self, report: Report) -> bool:
        request = self.context.get("request")
        return bool(report.needs_signoff and report.state == Report.State.READY and request is not None
                    and scoping.scope_of(request.user).can_change_county(report.county_id))


class ReportDetailSerializer(ReportSerializer):
    """A report with its sign-off, its versions (newest first) and its delivery log."""

    signed_off_by = UserRefSerializer(read_only=True, allow_null=True)
    versions = ReportVersionSerializer(many=True, read_only=True)
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta(ReportSerializer.Meta):
        fields = ReportSerializer.Meta.fields + ["signed_off_by", "commentary", "progress_note", "versions",
                                                 "deliveries"]
        read_only_fields = fields


class SignOffSerializer(serializers.Serializer):
    commentary = serializers.CharField(label=_("Review and commentary"), required=False, allow_blank=True,
                                       max_length=2000, default="")
