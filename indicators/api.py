"""REST API of filing and indicators under ``/api/``: report forms, data elements and indicator
definitions (read-only), filings with their values, events and review, a bulk filing endpoint,
and computed indicator values.

Seeing goes through ``alliances.scoping`` (the scoping functions of ``indicators.scoping``): every
queryset is what the user may *see*, and a row outside it answers the same 404 as a missing one,
for reads and actions alike. Acting on a filing one sees is decided by ``indicators.permissions``
(filing: the institution's own people, the alliance office for its members, the bureau; review:
the bureau and the alliance office; unlock: the bureau): a visible filing the user may not act on
answers 403. Writes go through ``indicators.services.filings``; its messages come back as they
are, a conflict of versions or a filing that can no longer change as 409, anything else as 400.

``POST /api/filings/bulk/`` is idempotent by (form, filer, period): the values are compared with
what is filed first, and a payload that changes nothing writes nothing (no audit row, no new
version) and answers 200 with ``changed: 0``. Everything it does runs in one transaction: when
any part fails (a value, the submission's checks), nothing is saved.
"""

from __future__ import annotations

import codecs
import json
from decimal import Decimal

import django_filters as filters
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import BooleanField, Case, Prefetch, Q, QuerySet, Value, When
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ParseError, PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from alliances import scoping
from alliances.api import ScopedViewSetMixin
from alliances.filters import visible, visible_counties
from alliances.models import Alliance, Institution
from core.periods import Period, PeriodError
from indicators import permissions
from indicators.engine import Engine, Units
from indicators.models import (
    PERIOD_KIND_CHOICES,
    DataElement,
    DataValue,
    Filing,
    FilingEvent,
    FormElement,
    Indicator,
    ReportForm,
)
from indicators.serializers import (
    ApproveSerializer,
    DataElementSerializer,
    FilingBulkResultSerializer,
    FilingBulkSerializer,
    FilingDetailSerializer,
    FilingSerializer,
    IndicatorSerializer,
    IndicatorValueSerializer,
    IndicatorValuesQuerySerializer,
    ReasonSerializer,
    ReportFormDetailSerializer,
    ReportFormSerializer,
    SubmitSerializer,
    plain,
)
from indicators.services import filings as svc


class Conflict(APIException):
    """409: the filing changed since the client read it, or its state no longer allows the change."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The filing changed in the meantime; reload it.")
    default_code = "conflict"


class DecimalJSONParser(JSONParser):
    """JSON whose numbers with a fraction or an exponent are read as ``Decimal``, never as
    ``float`` (1.1 stays 1.1). NaN and Infinity are refused."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            decoded = codecs.getreader(encoding)(stream)
            return json.load(decoded, parse_float=Decimal, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise ParseError(gettext("JSON parse error - %(error)s") % {"error": exc}) from None


def _refuse_constant(name: str):
    raise ValueError(gettext("%(name)s is not a number.") % {"name": name})


class IndicatorsViewSetMixin(ScopedViewSetMixin):
    """``ScopedViewSetMixin`` for filing and indicators: querysets are always what the user
    *sees* (404 otherwise); each write checks ``indicators.permissions`` (403 otherwise)."""

    permission_classes = [IsAuthenticated]

    @property
    def scope_action(self) -> scoping.Action:
        return scoping.VIEW


# Filters -----------------------------------------------------------------------------------

def validate_period_text(value: str) -> None:
    try:
        Period.parse(value)
    except PeriodError as exc:
        raise DjangoValidationError(str(exc)) from None


class ReportFormFilter(filters.FilterSet):
    county = filters.ModelChoiceFilter(queryset=visible_counties)
    code = filters.CharFilter()
    period_kind = filters.ChoiceFilter(choices=PERIOD_KIND_CHOICES)
    filer_level = filters.ChoiceFilter(choices=ReportForm.FilerLevel.choices)
    is_active = filters.BooleanFilter()

    class Meta:
        model = ReportForm
        fields = ["county", "code", "period_kind", "filer_level", "is_active"]


class DataElementFilter(filters.FilterSet):
    county = filters.ModelChoiceFilter(queryset=visible_counties)
    shared = filters.BooleanFilter(field_name="county", lookup_expr="isnull",
                                   help_text=_("true: the shared catalogue only; false: counties' own only."))
    code = filters.CharFilter()
    value_type = filters.ChoiceFilter(choices=DataElement.ValueType.choices)
    is_active = filters.BooleanFilter()

    class Meta:
        model = DataElement
        fields = ["county", "shared", "code", "value_type", "is_active"]


class IndicatorFilter(filters.FilterSet):
    county = filters.ModelChoiceFilter(queryset=visible_counties)
    shared = filters.BooleanFilter(field_name="county", lookup_expr="isnull",
                                   help_text=_("true: the shared catalogue only; false: counties' own only."))
    code = filters.CharFilter()
    category = filters.CharFilter()
    is_key = filters.BooleanFilter()
    is_active = filters.BooleanFilter()

    class Meta:
        model = Indicator
        fields = ["county", "shared", "code", "category", "is_key", "is_active"]


class FilingFilter(filters.FilterSet):
    form = filters.CharFilter(field_name="form__code", help_text=_("Code of the report form, e.g. MONTHLY_OPS."))
    institution = filters.ModelChoiceFilter(queryset=visible(Institution))
    county = filters.ModelChoiceFilter(queryset=visible_counties)
    county_level = filters.BooleanFilter(field_name="institution", lookup_expr="isnull",
                                         help_text=_("true: the filings of forms the county files."))
    period = filters.CharFilter(validators=[validate_period_text], method="filter_period",
                                help_text=_("e.g. 2026-05, 2026Q2, 2026H1, 2026."))
    status = filters.ChoiceFilter(choices=Filing.Status.choices)

    class Meta:
        model = Filing
        fields = ["form", "institution", "county", "county_level", "period", "status"]

    def filter_period(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(period=str(Period.parse(value))) if value else queryset


# Definitions -------------------------------------------------------------------------------

@extend_schema_view(retrieve=extend_schema(responses={200: ReportFormDetailSerializer}))
class ReportFormViewSet(IndicatorsViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Report forms (报表) of the counties the user belongs to; the detail lists the form's rows:
    element code, name, unit, value type, section, whether required, and which institution kinds
    fill it."""

    scoped_model = ReportForm
    serializer_class = ReportFormSerializer
    filterset_class = ReportFormFilter
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "county"]
    ordering = ["county_id", "code"]

    def get_serializer_class(self):
        return ReportFormDetailSerializer if self.action == "retrieve" else ReportFormSerializer

    def optimise(self, qs: QuerySet) -> QuerySet:
        rows = FormElement.objects.select_related("element").order_by("order", "pk")
        named = scoping.queryset_for(self.request.user, Institution, scoping.VIEW).only("pk", "name").order_by("pk")
        return qs.select_related("county").prefetch_related(
            Prefetch("form_elements", queryset=rows, to_attr="rows"),
            Prefetch("institutions", queryset=named, to_attr="visible_institutions"),
        )


class DataElementViewSet(IndicatorsViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Data elements (数据项): the shared catalogue and the own elements of the user's counties."""

    scoped_model = DataElement
    serializer_class = DataElementSerializer
    filterset_class = DataElementFilter
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]
    ordering = ["code", "pk"]


class IndicatorViewSet(IndicatorsViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Indicator definitions (指标): the shared catalogue (附件4, 附件6) and the own indicators of the
    user's counties, with their formulas and targets."""

    scoped_model = Indicator
    serializer_class = IndicatorSerializer
    filterset_class = IndicatorFilter
    search_fields = ["code", "name", "category"]
    ordering_fields = ["order", "code", "name"]
    ordering = ["order", "code", "pk"]


# Filings -----------------------------------------------------------------------------------

def _flag(condition: Q | None) -> Case | Value:
    if condition is None:  # everything (a superuser)
        return Value(True, output_field=BooleanField())
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def fileable_condition(user) -> Q | None:
    """``permissions.can_file`` as a condition on filings (part of the list's one query)."""
    scope = scoping.scope_of(user)
    if scope.everything:
        return None
    filers = permissions.filer_institutions(user).values("pk")
    return Q(county_id__in=scope.change_counties) | Q(institution__isnull=False, institution_id__in=filers)


def reviewable_condition(user) -> Q | None:
    """``permissions.can_review`` as a condition on filings."""
    if scoping.scope_of(user).everything:
        return None
    return Q(pk__in=scoping.queryset_for(user, Filing, scoping.CHANGE).values("pk"))


def raise_service_error(exc: DjangoValidationError, *, state_message: str | None = None,
                        fields_by_code: dict[str, str] | None = None):
    """A service's ``ValidationError`` as the API's answer: a conflict of versions or a filing that
    can no longer change in its state → 409 (``state_message`` replaces the service's general words
    for the latter); a reason missing → 400 on ``reason``."""
    if isinstance(exc, svc.FilingConflict):
        raise Conflict(exc.messages[0]) from None
    codes = {error.code for error in exc.error_list} if not hasattr(exc, "error_dict") else set()
    if "state" in codes and state_message:
        raise Conflict(state_message) from None
    if codes & {"locked", "state"}:
        raise Conflict(exc.messages[0]) from None
    detail: dict[str, list[str]] = {}
    for error in (exc.error_list if not hasattr(exc, "error_dict") else []):
        key = (fields_by_code or {}).get(error.code, "non_field_errors")
        detail.setdefault(key, []).extend(error.messages)
    raise serializers.ValidationError(detail or exc.messages) from None


def submit_filing(filing: Filing, *, user, expected_version: int, comments: dict[str, str]):
    """Submit through the service. Blocking findings answer 400 under ``submit`` and warnings
    without a comment under ``comments``, each keyed by the check's code (the key to explain a
    warning with)."""
    try:
        return svc.submit(filing, user=user, expected_version=expected_version, comments=comments)
    except DjangoValidationError as exc:
        codes = {error.code for error in exc.error_list} if not hasattr(exc, "error_dict") else set()
        if isinstance(exc, svc.FilingConflict) or not codes or not codes <= {"invalid", "comment"}:
            raise_service_error(exc)
        findings = svc.check_filing(filing)
        errors = {f.code: [f.message] for f in findings if f.is_error}
        if errors:
            raise serializers.ValidationError({"submit": errors}) from None
        given = {code for code, text in comments.items() if text and text.strip()}
        missing = {f.code: [gettext("Please explain: %(message)s") % {"message": f.message}]
                   for f in findings if not f.is_error and f.code not in given}
        raise serializers.ValidationError({"comments": missing} if missing else exc.messages) from None


_not_editable = OpenApiResponse(description="The filing was saved by someone else since `version`, or its state "
                                            "no longer allows this (409).")


class FilingViewSet(IndicatorsViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Filings (填报) the user sees: one report form × filer × period, with its status. The detail
    carries the values ``{element code: value}`` and the history. Filing goes through `bulk`;
    review through `submit`, `approve`, `return` and `unlock`, each with the `version` it was
    based on (a filing saved since answers 409)."""

    scoped_model = Filing
    serializer_class = FilingSerializer
    filterset_class = FilingFilter
    search_fields = ["institution__name", "form__name", "form__code"]
    ordering_fields = ["period_start", "due_date", "status", "updated_at", "submitted_at"]
    ordering = ["-period_start", "form_id", "institution_id", "pk"]
    parser_classes = [DecimalJSONParser, FormParser, MultiPartParser]

    def get_serializer_class(self):
        return FilingSerializer if self.action == "list" else FilingDetailSerializer

    def optimise(self, qs: QuerySet) -> QuerySet:
        user = self.request.user
        qs = qs.select_related("form", "county", "institution", "submitted_by", "reviewed_by").annotate(
            fileable=_flag(fileable_condition(user)), reviewable=_flag(reviewable_condition(user)))
        if self.action != "list":
            qs = qs.prefetch_related(
                Prefetch("values", queryset=DataValue.objects.select_related("element")),
                Prefetch("events", queryset=FilingEvent.objects.select_related("user").order_by("at", "pk")),
            )
        return qs

    def respond(self, filing: Filing, status_code: int = status.HTTP_200_OK, **extra) -> Response:
        """The filing read again through the viewset's queryset (fresh, with its values and events)."""
        fresh = self.get_queryset().filter(pk=filing.pk).first() or filing
        data = FilingDetailSerializer(fresh, context=self.get_serializer_context()).data
        return Response({"filing": data, **extra} if extra else data, status=status_code)

    # Bulk filing --------------------------------------------------------------------------
    @extend_schema(
        summary="File the values of one form",
        description="Create or update the filing of `form` for `institution` (or, for a form the county files, "
                    "`county`) and `period`, and with `submit` submit it. Idempotent by (form, filer, period): "
                    "values equal to those filed are not written again, so the same payload sent twice changes "
                    "nothing the second time (200, `changed` 0, same version). Values are numbers or their text, "
                    "read as decimals; null or an empty text empties a value; elements left out keep theirs. An "
                    "unknown element code, one the filer does not fill, a non-number, a negative, a fraction of a "
                    "whole-number element answer 400 under `values.<code>`; checks failing on submission answer "
                    "400 under `submit.<check>`, warnings without a comment under `comments.<check>`. In every "
                    "such case nothing is saved. A filing that can no longer change, or saved by someone else "
                    "since `version`, answers 409.",
        request=FilingBulkSerializer,
        responses={200: FilingBulkResultSerializer, 201: FilingBulkResultSerializer, 409: _not_editable},
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def bulk(self, request, **kwargs):
        params = FilingBulkSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)  # a filer the user does not file for: 403
        data = params.validated_data
        user = request.user
        with transaction.atomic():
            filing, created = self._open(data, user)
            # Compare under the row lock: identical payloads sent at once queue here, and each finds
            # what the one before it filed (changes nothing) rather than a version read too early.
            svc.lock(filing)
            given_version = data["version"]
            filed = dict(DataValue.objects.filter(filing=filing).values_list("element_id", "value"))
            changes = {}
            for element, value in data["values"].items():
                value = svc.quantize(element, value)
                if filed.get(element.pk) != value:
                    changes[element.pk] = value
            if changes:
                try:
                    svc.save_values(filing, changes, user=user, source=FilingEvent.Action.API, reason=data["reason"],
                                    expected_version=given_version or filing.version)
                except DjangoValidationError as exc:
                    raise_service_error(exc)
            submitted, warnings = False, []
            if data["submit"] and filing.status in Filing.EDITABLE:
                expected = filing.version if changes else (given_version or filing.version)
                warnings = submit_filing(filing, user=user, expected_version=expected, comments=data["comments"])
                submitted = True
        return self.respond(
            filing, status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            created=created, changed=len(changes), submitted=submitted,
            warnings=[{"code": f.code, "message": f.message} for f in warnings])

    def _open(self, data, user) -> tuple[Filing, bool]:
        form, institution, period = data["form"], data["institution"], data["period"]
        existing = Filing.objects.filter(form=form, period=str(period)).select_related("form", "institution")
        if institution is not None:
            existing = existing.filter(institution=institution)
        else:
            existing = existing.filter(institution__isnull=True, county_id=data["county_id"])
        filing = existing.first()
        if filing is not None:
            return filing, False
        try:
            return svc.open_filing(form, institution, period, user=user), True
        except DjangoValidationError as exc:
            raise_service_error(exc, fields_by_code={"period_kind": "period", "filer": "institution"})

    # Review -------------------------------------------------------------------------------
    @extend_schema(
        summary="Submit a filing",
        description="Its filer submits it for review. Checks that fail answer 400 under `submit.<check>`; each "
                    "warning needs a comment under `comments.<check>`.",
        request=SubmitSerializer,
        responses={200: FilingDetailSerializer, 409: _not_editable},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def submit(self, request, pk=None, **kwargs):
        filing = self.get_object()
        if not permissions.can_file_filing(request.user, filing):
            raise PermissionDenied(gettext("You do not file for %(filer)s.") % {"filer": filing.filer_name})
        params = SubmitSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        with transaction.atomic():
            submit_filing(filing, user=request.user, expected_version=data["version"], comments=data["comments"])
        return self.respond(filing)

    def _require_reviewer(self, filing: Filing) -> None:
        if not permissions.can_review(self.request.user, filing):
            raise PermissionDenied(gettext("Only the county health bureau or the alliance office reviews this filing."))

    @extend_schema(
        summary="Approve a filing",
        description="The county health bureau (or the alliance office, for its members) approves a submitted "
                    "filing.",
        request=ApproveSerializer,
        responses={200: FilingDetailSerializer, 409: _not_editable},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def approve(self, request, pk=None, **kwargs):
        filing = self.get_object()
        self._require_reviewer(filing)
        params = ApproveSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            svc.approve(filing, user=request.user, expected_version=data["version"], comment=data["comment"])
        except DjangoValidationError as exc:
            raise_service_error(exc, state_message=gettext(
                "Only a submitted filing can be approved; this one is %(status)s.")
                % {"status": filing.get_status_display()})
        return self.respond(filing)

    @extend_schema(
        summary="Return a filing",
        description="A reviewer returns a submitted or approved filing to its filer with the reason the filer "
                    "reads (required); its values stop counting until it is submitted again.",
        request=ReasonSerializer,
        responses={200: FilingDetailSerializer, 409: _not_editable},
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return", filter_backends=[],
            pagination_class=None)
    def return_(self, request, pk=None, **kwargs):
        filing = self.get_object()
        self._require_reviewer(filing)
        params = ReasonSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            svc.return_filing(filing, user=request.user, reason=data["reason"], expected_version=data["version"])
        except DjangoValidationError as exc:
            raise_service_error(exc, fields_by_code={"reason": "reason"}, state_message=gettext(
                "Only a submitted or approved filing can be returned; this one is %(status)s.")
                % {"status": filing.get_status_display()})
        return self.respond(filing)

    @extend_schema(
        summary="Unlock a filing",
        description="The county health bureau reopens a filing (approved, locked, or past its lock day) for "
                    "changes for a week, with a reason (required).",
        request=ReasonSerializer,
        responses={200: FilingDetailSerializer, 409: _not_editable},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def unlock(self, request, pk=None, **kwargs):
        filing = self.get_object()
        if not permissions.can_unlock(request.user, filing):
            raise PermissionDenied(gettext("Only the county health bureau unlocks filings."))
        params = ReasonSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            svc.unlock(filing, user=request.user, reason=data["reason"], expected_version=data["version"],
                       request=request)
        except DjangoValidationError as exc:
            raise_service_error(exc, fields_by_code={"reason": "reason"})
        return self.respond(filing)


# Indicator values --------------------------------------------------------------------------

class IndicatorValuePagination(PageNumberPagination):
    page_size = 200
    page_size_query_param = "page_size"
    max_page_size = 2000


def visible_units(user, level: str, ids: list[int] | None) -> list[tuple[int, str, int]]:
    """(id, name, county id) of the units of ``level`` the user sees: counties seen in full;
    alliances and institutions (not village clinics) as ``alliances.scoping`` shows them. One query."""
    if level == "county":
        qs = scoping.counties_for(user, scoping.VIEW).values_list("pk", "name", "pk")
    elif level == "alliance":
        qs = scoping.queryset_for(user, Alliance, scoping.VIEW).values_list("pk", "name", "county_id")
    else:
        qs = (scoping.queryset_for(user, Institution, scoping.VIEW)
              .exclude(kind=Institution.Kind.VILLAGE_CLINIC).values_list("pk", "name", "county_id"))
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return list(qs.order_by("pk"))


class IndicatorValueViewSet(viewsets.GenericViewSet):
    """Indicator values for one period and level, computed from the filed figures that count
    (submitted, approved, locked), each with its numerator and denominator, the value a year
    earlier and whether the target is met. Units are those the user sees: a county's people, the
    county; an alliance's, the alliance and its members; a city or province viewer, the counties
    below. The cost does not grow with the number of units."""

    permission_classes = [IsAuthenticated]
    serializer_class = IndicatorValueSerializer
    pagination_class = IndicatorValuePagination
    filter_backends = []

    @extend_schema(parameters=[IndicatorValuesQuerySerializer])
    def list(self, request, *args, **kwargs):
        params = IndicatorValuesQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        level, period, codes = data["level"], data["period"], data["indicators"]

        indicators = list(scoping.queryset_for(request.user, Indicator, scoping.VIEW)
                          .filter(is_active=True, **({"code__in": codes} if codes else {}))
                          .order_by("order", "code", "pk"))
        if codes:
            unknown = sorted(set(codes) - {i.code for i in indicators})
            if unknown:
                raise serializers.ValidationError({"indicators": [
                    gettext("No indicator with the code %(codes)s.") % {"codes": "、".join(unknown)}]})
            elsewhere = [i.name for i in indicators if not i.applies_at(level)]
            if elsewhere:
                raise serializers.ValidationError({"indicators": [
                    gettext("%(names)s is not computed at this level.") % {"names": "、".join(elsewhere)}]})
        indicators = [i for i in indicators if i.applies_at(level)]

        units = visible_units(request.user, level, data["units"])
        if data["units"] is not None:
            missing = sorted(set(data["units"]) - {pk for pk, _name, _county in units})
            if missing:
                # The same answer for an id that does not exist and one the user may not see.
                raise serializers.ValidationError({"units": [
                    gettext("Units not found: %(ids)s.") % {"ids": ", ".join(str(pk) for pk in missing)}]})

        rows = []
        if indicators and units:
            counties = {county for _pk, _name, county in units}
            chosen = Units(level, [pk for pk, _name, _county in units], {pk: county for pk, _n, county in units})
            results = Engine(indicators, counties).compute(period, level, units=chosen)
            for unit_id, unit_name, county_id in units:
                for indicator in indicators:
                    if indicator.county_id is not None and indicator.county_id != county_id:
                        continue  # a county's own indicator means nothing elsewhere
                    rows.append(self._row(results[(indicator.pk, unit_id)], unit_name, level, str(period)))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(IndicatorValueSerializer(page, many=True).data)

    @staticmethod
    def _row(result, unit_name: str, level: str, period: str) -> dict:
        indicator = result.indicator
        return {
            "indicator": indicator.code, "indicator_id": indicator.pk, "indicator_name": indicator.name,
            "unit_label": indicator.unit_label, "level": level, "unit_id": result.unit_id, "unit_name": unit_name,
            "period": period, "value": plain(result.value, indicator.decimals),
            "numerator": plain(result.numerator), "denominator": plain(result.denominator),
            "baseline": plain(result.baseline, indicator.decimals),
            "target_operator": indicator.target_operator if indicator.has_threshold else "",
            "target": plain(indicator.target_value) if indicator.has_threshold else None,
            "direction": indicator.direction if indicator.has_direction else "",
            "met": result.met, "met_threshold": result.met_threshold, "met_direction": result.met_direction,
            "units_averaged": result.units_averaged,
        }


def register_routes(router) -> None:
    router.register("report-forms", ReportFormViewSet, basename="report-form")
    router.register("data-elements", DataElementViewSet, basename="data-element")
    router.register("indicators", IndicatorViewSet, basename="indicator")
    router.register("filings", FilingViewSet, basename="filing")
    router.register("indicator-values", IndicatorValueViewSet, basename="indicator-value")

