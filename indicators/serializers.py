"""Serializers of the filing and indicator API.

Reads: report forms with their rows, data elements, indicator definitions, filings with their
values ``{element code: value}`` and events, and computed indicator values with the numerator
and denominator behind each.

Writes: ``FilingBulkSerializer`` takes a whole filing at once ({form, institution or county,
period, values}) and resolves it completely before anything is written: the form by its code in
the filer's county, the filer's right to file it (403 otherwise), the period, and every value,
keyed by element code. A value is read as a ``Decimal`` (the API's JSON parser reads numbers as
decimals, never as floats); an unknown code, a code the filer does not fill, a non-number, a
negative, a fraction for a whole-number element or too many decimal places answers 400 naming
the element, and nothing is saved. Ids the user may not see fail like missing ones.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from alliances import scoping
from alliances.models import Institution, Region
from alliances.serializers import ScopedPrimaryKeyRelatedField
from core.periods import Period, PeriodError
from core.serializers import NamedEnumField, UserRefSerializer
from indicators import permissions
from indicators.engine import LEVELS
from indicators.models import (
    PERIOD_KIND_CHOICES,
    DataElement,
    Filing,
    FilingEvent,
    FormElement,
    Indicator,
    ReportForm,
)
from indicators.services.filings import may_edit_on

# Values are stored with 20 digits, 4 of them decimals: at most 16 before the point.
VALUE_LIMIT = Decimal(10) ** 16
LEVEL_CHOICES = [("county", _("County")), ("alliance", _("Alliance")), ("institution", _("Institution"))]
assert [value for value, _label in LEVEL_CHOICES] == list(LEVELS)


def plain(value: Decimal | None, places: int | None = None) -> Decimal | None:
    """A decimal for output: rounded half up to ``places``, or without trailing zeros."""
    if value is None:
        return None
    if places is not None:
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def visible(model) -> Callable[[object], QuerySet]:
    return lambda user: scoping.queryset_for(user, model, scoping.VIEW)


def visible_counties(user) -> QuerySet[Region]:
    return scoping.queryset_for(user, Region, scoping.VIEW).filter(level=Region.Level.COUNTY)


def _user(serializer):
    request = serializer.context.get("request")
    return getattr(request, "user", None)


def _today(serializer):
    return serializer.context.get("today") or timezone.localdate()


# Definitions -------------------------------------------------------------------------------

class DataElementSerializer(serializers.ModelSerializer):
    """A figure filed on report forms (数据项), e.g. 门急诊人次. ``county`` empty: the shared catalogue."""

    value_type = NamedEnumField(DataElement.ValueType.choices, enum_name="DataElementValueTypeEnum",
                                read_only=True)
    aggregation = NamedEnumField(DataElement.Aggregation.choices, enum_name="DataElementAggregationEnum",
                                 read_only=True)
    decimal_places = serializers.IntegerField(read_only=True,
                                              help_text=_("Decimal places a value of this element may have."))

    class Meta:
        model = DataElement
        fields = ["id", "county", "code", "name", "unit", "value_type", "decimal_places", "aggregation",
                  "description", "min_value", "max_value", "is_active"]
        read_only_fields = fields


class FormRowSerializer(serializers.Serializer):
    """One row of a report form: an element, where it sits and who fills it."""

    element = serializers.IntegerField(source="element_id")
    code = serializers.CharField(source="element.code")
    name = serializers.CharField(source="element.name")
    unit = serializers.CharField(source="element.unit")
    value_type = NamedEnumField(DataElement.ValueType.choices, enum_name="DataElementValueTypeEnum",
                                source="element.value_type")
    decimal_places = serializers.IntegerField(source="element.decimal_places")
    section = serializers.CharField()
    order = serializers.IntegerField()
    required = serializers.BooleanField()
    institution_kinds = serializers.ListField(
        child=NamedEnumField(Institution.Kind.choices, enum_name="FilerKindEnum"),
        help_text=_("Only institutions of these kinds fill the row; empty: every filer of the form."))


class InstitutionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ReportFormSerializer(serializers.ModelSerializer):
    """A report form (报表) of a county: how often it is filed, by whom, and when it is due."""

    county_name = serializers.CharField(source="county.name", read_only=True)
    period_kind = NamedEnumField(PERIOD_KIND_CHOICES, enum_name="ReportPeriodKindEnum", read_only=True)
    filer_level = NamedEnumField(ReportForm.FilerLevel.choices, enum_name="FilerLevelEnum", read_only=True)
    institution_kinds = serializers.ListField(
        child=NamedEnumField(Institution.Kind.choices, enum_name="FilerKindEnum"), read_only=True,
        help_text=_("Institutions of these kinds file the form."))
    institutions = serializers.SerializerMethodField(
        help_text=_("Institutions named one by one, in addition to the kinds (those the user sees)."))
    element_count = serializers.SerializerMethodField()

    class Meta:
        model = ReportForm
        fields = ["id", "county", "county_name", "code", "name", "period_kind", "filer_level", "institution_kinds",
                  "institutions", "due_day", "lock_day", "first_period", "description", "is_active",
                  "element_count"]
        read_only_fields = fields

    @extend_schema_field(InstitutionRefSerializer(many=True))
    def get_institutions(self, form: ReportForm):
        named = getattr(form, "visible_institutions", [])  # prefetched by the viewset
        return InstitutionRefSerializer(named, many=True).data

    @extend_schema_field(OpenApiTypes.INT)
    def get_element_count(self, form: ReportForm) -> int:
        return len(form.rows)


class ReportFormDetailSerializer(ReportFormSerializer):
    """A report form with its rows in order."""

    elements = FormRowSerializer(source="rows", many=True, read_only=True)

    class Meta(ReportFormSerializer.Meta):
        fields = [*ReportFormSerializer.Meta.fields, "elements"]
        read_only_fields = fields


class IndicatorSerializer(serializers.ModelSerializer):
    """An indicator (指标): numerator / denominator × factor over data elements, with its target.
    ``county`` empty: the shared catalogue (附件4, 附件6)."""

    aggregation = NamedEnumField(Indicator.Aggregation.choices, enum_name="IndicatorAggregationEnum",
                                 read_only=True)
    target_kind = NamedEnumField(Indicator.TargetKind.choices, enum_name="IndicatorTargetKindEnum", read_only=True)
    target_operator = serializers.CharField(read_only=True, help_text=_("ge (≥), le (≤), gt (>), or empty."))
    direction = serializers.CharField(read_only=True, help_text=_("up, down, or empty."))
    levels = serializers.ListField(
        child=NamedEnumField(LEVEL_CHOICES, enum_name="IndicatorLevelEnum"), read_only=True,
        help_text=_("Where the indicator means something; empty: every level."))

    class Meta:
        model = Indicator
        fields = ["id", "county", "code", "name", "category", "source", "numerator", "denominator", "factor",
                  "unit_label", "decimals", "aggregation", "definition", "derived_definition", "target_kind",
                  "target_operator", "target_value", "direction", "direction_points", "levels", "is_key", "order",
                  "is_active"]
        read_only_fields = fields


# Filings -----------------------------------------------------------------------------------

class FilingSerializer(serializers.ModelSerializer):
    """A filing (填报): one form × filer (an institution, or the county) × period, with its status."""

    form_code = serializers.CharField(source="form.code", read_only=True)
    form_name = serializers.CharField(source="form.name", read_only=True)
    county_name = serializers.CharField(source="county.name", read_only=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True, allow_null=True)
    filer_name = serializers.CharField(read_only=True)
    status = NamedEnumField(Filing.Status.choices, enum_name="FilingStatusEnum", read_only=True)
    lock_date = serializers.SerializerMethodField(help_text=_("After this day filers can no longer change it."))
    editable = serializers.SerializerMethodField(help_text=_("Whether values may be changed now."))
    submitted_by = UserRefSerializer(read_only=True, allow_null=True)
    reviewed_by = UserRefSerializer(read_only=True, allow_null=True)
    can_file = serializers.SerializerMethodField(help_text=_("Whether the user files it."))
    can_review = serializers.SerializerMethodField(help_text=_("Whether the user approves and returns it."))

    class Meta:
        model = Filing
        fields = ["id", "form", "form_code", "form_name", "county", "county_name", "institution",
                  "institution_name", "filer_name", "period", "period_start", "period_end", "status", "version",
                  "due_date", "lock_date", "editable", "submitted_at", "submitted_by", "first_submitted_at",
                  "reviewed_at", "reviewed_by", "return_reason", "reopened_until", "updated_at", "can_file",
                  "can_review"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.DATE)
    def get_lock_date(self, filing: Filing):
        return filing.form.lock_date(Period.parse(filing.period))

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_editable(self, filing: Filing) -> bool:
        return may_edit_on(filing, _today(self))

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_can_file(self, filing: Filing) -> bool:
        flag = getattr(filing, "fileable", None)  # annotated by the viewset
        return bool(flag) if flag is not None else permissions.can_file_filing(_user(self), filing)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_can_review(self, filing: Filing) -> bool:
        flag = getattr(filing, "reviewable", None)  # annotated by the viewset
        return bool(flag) if flag is not None else permissions.can_review(_user(self), filing)


class FilingEventSerializer(serializers.ModelSerializer):
    """What happened to a filing: who, when and why."""

    action = NamedEnumField(FilingEvent.Action.choices, enum_name="FilingEventActionEnum", read_only=True)
    user = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = FilingEvent
        fields = ["id", "action", "user", "at", "reason"]
        read_only_fields = fields


class FilingDetailSerializer(FilingSerializer):
    """A filing with its values ``{element code: value}`` (null: reported as empty) and its history."""

    values = serializers.SerializerMethodField()
    warning_comments = serializers.DictField(child=serializers.CharField(), read_only=True,
                                             help_text=_("The filer's explanations of warnings, by check code."))
    events = FilingEventSerializer(many=True, read_only=True)

    class Meta(FilingSerializer.Meta):
        fields = [*FilingSerializer.Meta.fields, "values", "warning_comments", "events"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(
        child=serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)))
    def get_values(self, filing: Filing) -> dict:
        # Prefetched with their elements by the viewset; shown with each element's decimal places.
        rows = sorted(filing.values.all(), key=lambda v: v.element.code)
        return {row.element.code: None if row.value is None else str(plain(row.value, row.element.decimal_places))
                for row in rows}


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string"}], "nullable": True,
                      "description": "A number (or its text); null or an empty text: empty."})
class RawValueField(serializers.Field):
    """A value as sent; it is read against its element in ``FilingBulkSerializer.validate``."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


def read_value(raw, element: DataElement) -> Decimal | None:
    """``raw`` (a JSON number already read as a Decimal, an int, or text) as the element's value.
    Raises ``ValueError`` with the message for the user."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    shown = str(raw)[:40]
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise ValueError(gettext("%(name)s: “%(value)s” is not a number.") % {"name": element.name, "value": shown})
    try:
        value = Decimal(raw.strip()) if isinstance(raw, str) else Decimal(str(raw)) if isinstance(raw, float) \
            else Decimal(raw)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValueError(gettext("%(name)s: “%(value)s” is not a number.") % {"name": element.name, "value": shown})
    if value < 0:
        raise ValueError(gettext("%(name)s cannot be negative.") % {"name": element.name})
    if value >= VALUE_LIMIT:
        raise ValueError(gettext("%(name)s: %(value)s is too large.") % {"name": element.name, "value": shown})
    places = element.decimal_places
    if value != value.quantize(Decimal(1).scaleb(-places)):
        if places == 0:
            raise ValueError(gettext("%(name)s must be a whole number, not %(value)s.")
                             % {"name": element.name, "value": shown})
        raise ValueError(gettext("%(name)s takes at most %(places)s decimal places, not %(value)s.")
                         % {"name": element.name, "places": places, "value": shown})
    return value + 0  # -0 becomes 0


class FilingBulkSerializer(serializers.Serializer):
    """A whole filing in one request: the values of one form for one filer and period, saved and
    (with ``submit``) submitted at once. Sending the same payload again changes nothing."""

    form = serializers.CharField(max_length=40, help_text=_("Code of the report form, e.g. MONTHLY_OPS."))
    institution = ScopedPrimaryKeyRelatedField(
        Institution, visible(Institution), required=False, allow_null=True, default=None,
        help_text=_("The filing institution; null for a form the county files."))
    county = ScopedPrimaryKeyRelatedField(
        Region, visible_counties, required=False, allow_null=True, default=None,
        help_text=_("The county; needed for a form the county files, otherwise that of the institution."))
    period = serializers.CharField(max_length=10, help_text=_("e.g. 2026-05, 2026Q2, 2026H1, 2026."))
    values = serializers.DictField(
        child=RawValueField(allow_null=True), required=False, default=dict,
        help_text=_("{element code: number}; null empties a value; elements left out keep their value."))
    submit = serializers.BooleanField(required=False, default=False,
                                      help_text=_("Submit for review after saving."))
    comments = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=500), required=False, default=dict,
        help_text=_("Explanations of the warnings found on submission, by check code."))
    version = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None,
        help_text=_("The version the values were based on; a filing saved since then answers 409."))
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500,
                                   help_text=_("Why the values change (kept in the audit)."))

    def validate_period(self, text: str) -> Period:
        try:
            return Period.parse(text)
        except PeriodError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs):
        user = _user(self)
        institution: Institution | None = attrs["institution"]
        county: Region | None = attrs["county"]
        period: Period = attrs["period"]
        if institution is not None:
            if county is not None and county.pk != institution.county_id:
                raise serializers.ValidationError({"county": [
                    gettext("%(institution)s is not in %(county)s.")
                    % {"institution": institution.name, "county": county.name}]})
            county_id = institution.county_id
        elif county is not None:
            county_id = county.pk
        else:
            raise serializers.ValidationError({"institution": [
                gettext("Give the institution that files, or the county for a form the county files.")]})
        form = (scoping.queryset_for(user, ReportForm, scoping.VIEW).select_related("county")
                .filter(county_id=county_id, code=attrs["form"].strip()).first())
        if form is None:
            raise serializers.ValidationError({"form": [
                gettext("There is no report form “%(code)s” in this county.") % {"code": attrs["form"]}]})
        if not form.is_active:
            raise serializers.ValidationError({"form": [gettext("%(form)s is no longer in use.") % {"form": form.name}]})
        self._check_filer(form, institution, user)
        self._check_period(form, period)
        attrs["form"] = form
        attrs["county_id"] = county_id
        attrs["values"] = self._read_values(form, institution, attrs["values"])
        return attrs

    def _check_filer(self, form: ReportForm, institution: Institution | None, user) -> None:
        if form.filer_level == ReportForm.FilerLevel.COUNTY:
            if institution is not None:
                raise serializers.ValidationError({"institution": [
                    gettext("%(form)s is filed by the county; leave the institution empty and give the county.")
                    % {"form": form.name}]})
        elif institution is None:
            raise serializers.ValidationError({"institution": [
                gettext("%(form)s is filed by institutions; give the institution.") % {"form": form.name}]})
        elif institution.kind not in form.institution_kinds and not form.institutions.filter(
                pk=institution.pk).exists():
            raise serializers.ValidationError({"institution": [
                gettext("%(institution)s does not file %(form)s.") % {"institution": institution.name, "form": form.name}]})
        if not permissions.can_file(user, form, institution.pk if institution else None):
            filer = institution.name if institution else form.county.name
            raise PermissionDenied(gettext("You do not file for %(filer)s.") % {"filer": filer})

    def _check_period(self, form: ReportForm, period: Period) -> None:
        if period.kind != form.kind:
            # The service's message, naming the form's own period kind.
            raise serializers.ValidationError({"period": [
                gettext("%(form)s is filed per %(kind)s, not for %(period)s.")
                % {"form": form.name, "kind": _kind_label(form), "period": period.label}]})
        first = form.files_from()
        if first is not None and period < first:
            raise serializers.ValidationError({"period": [
                gettext("%(form)s is filed from %(first)s on.") % {"form": form.name, "first": first.label}]})
        if period.start > _today(self):
            raise serializers.ValidationError({"period": [
                gettext("%(period)s has not begun yet.") % {"period": period.label}]})

    def _read_values(self, form: ReportForm, institution: Institution | None, raw: dict) -> dict:
        """``{DataElement: Decimal or None}``; every error at once, keyed by element code."""
        rows: dict[str, FormElement] = {}
        for row in form.form_elements.select_related("element"):
            rows.setdefault(row.element.code, row)
        kind = institution.kind if institution is not None else None
        values, errors = {}, {}
        for code, value in raw.items():
            row = rows.get(code)
            if row is None:
                errors[code] = [gettext("“%(code)s” is not a data element of %(form)s.") % {"code": code, "form": form.name}]
                continue
            if not row.applies_to(kind):
                errors[code] = [gettext("%(name)s (%(code)s) is not filled by %(kind)s on %(form)s.") % {
                    "name": row.element.name, "code": code, "kind": institution.get_kind_display(),
                    "form": form.name}]
                continue
            try:
                values[row.element] = read_value(value, row.element)
            except ValueError as exc:
                errors[code] = [str(exc)]
        if errors:
            raise serializers.ValidationError({"values": errors})
        return values


def _kind_label(form: ReportForm) -> str:
    """The form's period kind as the service names it (月, 季度 ...)."""
    return str(dict(PERIOD_KIND_CHOICES)[form.period_kind])


class FindingSerializer(serializers.Serializer):
    """A check found on submission: an error blocks it, a warning needs a comment."""

    code = serializers.CharField()
    message = serializers.CharField()


class FilingBulkResultSerializer(serializers.Serializer):
    """What a bulk filing did."""

    filing = FilingDetailSerializer()
    created = serializers.BooleanField(help_text=_("Whether the filing was opened by this request."))
    changed = serializers.IntegerField(help_text=_("Values written (new, changed or emptied); 0 when nothing "
                                                   "differed from what was filed."))
    submitted = serializers.BooleanField(help_text=_("Whether this request submitted the filing."))
    warnings = FindingSerializer(many=True, help_text=_("Warnings accepted with their comments on submission."))


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text=_("The version the decision was based on."))


class SubmitSerializer(VersionSerializer):
    """Submit a filing for review."""

    comments = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=500), required=False, default=dict,
        help_text=_("Explanations of the warnings found on submission, by check code."))


class ApproveSerializer(VersionSerializer):
    """Approve a submitted filing."""

    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ReasonSerializer(VersionSerializer):
    """Return or unlock a filing, with the reason the filer will read."""

    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


# Indicator values --------------------------------------------------------------------------

class IndicatorValuesQuerySerializer(serializers.Serializer):
    """Which indicator values to compute."""

    level = NamedEnumField(LEVEL_CHOICES, enum_name="IndicatorLevelEnum", required=False, default="county",
                           help_text=_("county, alliance or institution."))
    period = serializers.CharField(help_text=_("e.g. 2026Q1, 2026-05, 2026H1, 2026."))
    indicators = serializers.CharField(required=False, default="",
                                       help_text=_("Indicator codes separated by commas; empty: all."))
    units = serializers.CharField(required=False, default="",
                                  help_text=_("Ids of counties, alliances or institutions separated by commas; "
                                              "empty: all the user sees."))

    def validate_period(self, text: str) -> Period:
        try:
            return Period.parse(text)
        except PeriodError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_indicators(self, text: str) -> list[str]:
        return list(dict.fromkeys(code.strip() for code in text.split(",") if code.strip()))

    def validate_units(self, text: str) -> list[int] | None:
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if not parts:
            return None
        bad = [part for part in parts if not part.isdigit()]
        if bad:
            raise serializers.ValidationError(
                gettext("“%(value)s” is not an id; give ids separated by commas, e.g. 1,2,3.") % {"value": bad[0][:20]})
        return list(dict.fromkeys(int(part) for part in parts))


class IndicatorValueSerializer(serializers.Serializer):
    """An indicator's value for one unit and period, with the numerator and denominator behind it."""

    indicator = serializers.CharField(help_text=_("The indicator's code."))
    indicator_id = serializers.IntegerField()
    indicator_name = serializers.CharField()
    unit_label = serializers.CharField(help_text=_("The indicator's unit, e.g. 天 or 人/千人."))
    level = NamedEnumField(LEVEL_CHOICES, enum_name="IndicatorLevelEnum")
    unit_id = serializers.IntegerField()
    unit_name = serializers.CharField()
    period = serializers.CharField()
    value = serializers.DecimalField(max_digits=None, decimal_places=None, allow_null=True,
                                     help_text=_("Rounded to the indicator's decimals."))
    numerator = serializers.DecimalField(max_digits=None, decimal_places=None, allow_null=True)
    denominator = serializers.DecimalField(max_digits=None, decimal_places=None, allow_null=True)
    baseline = serializers.DecimalField(max_digits=None, decimal_places=None, allow_null=True,
                                        help_text=_("The value for the same period last year."))
    target_operator = serializers.CharField(help_text=_("ge (≥), le (≤), gt (>), or empty."))
    target = serializers.DecimalField(max_digits=None, decimal_places=None, allow_null=True,
                                      help_text=_("The target value, if the indicator has one."))
    direction = serializers.CharField(help_text=_("up, down, or empty."))
    met = serializers.BooleanField(allow_null=True, help_text=_("Whether the target is met; null: cannot tell."))
    met_threshold = serializers.BooleanField(allow_null=True)
    met_direction = serializers.BooleanField(allow_null=True)
    units_averaged = serializers.IntegerField(
        help_text=_("For an indicator that takes the mean of unit values: how many units were averaged."))
