"""Django admin for the filing catalogue (superusers). Filings and values are changed only through
the filing pipeline (with audit), so they are read-only here."""

from __future__ import annotations

from django.contrib import admin

from indicators.models import (
    DataElement,
    EvaluationScheme,
    Filing,
    FilingEvent,
    FormElement,
    Indicator,
    ReportForm,
    SchemeItem,
    ValidationRule,
)


@admin.register(DataElement)
class DataElementAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "unit", "value_type", "aggregation", "county", "is_active")
    list_filter = ("aggregation", "value_type", "county")
    search_fields = ("code", "name")


class FormElementInline(admin.TabularInline):
    model = FormElement
    extra = 0
    autocomplete_fields = ("element",)


@admin.register(ReportForm)
class ReportFormAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "county", "period_kind", "filer_level", "due_day", "lock_day", "is_active")
    list_filter = ("county", "period_kind", "filer_level")
    search_fields = ("code", "name")
    inlines = [FormElementInline]
    filter_horizontal = ("institutions",)


@admin.register(Indicator)
class IndicatorAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "category", "target_kind", "aggregation", "county", "is_key", "is_active")
    list_filter = ("category", "target_kind", "aggregation", "is_key")
    search_fields = ("code", "name", "source")


@admin.register(ValidationRule)
class ValidationRuleAdmin(admin.ModelAdmin):
    list_display = ("code", "left", "operator", "right", "severity", "county", "is_active")
    list_filter = ("severity", "county")
    search_fields = ("code", "message")


class SchemeItemInline(admin.TabularInline):
    model = SchemeItem
    extra = 0


@admin.register(EvaluationScheme)
class EvaluationSchemeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "period_kind", "county", "is_active")
    inlines = [SchemeItemInline]


class FilingEventInline(admin.TabularInline):
    model = FilingEvent
    extra = 0
    can_delete = False
    readonly_fields = ("action", "user", "at", "reason")


@admin.register(Filing)
class FilingAdmin(admin.ModelAdmin):
    list_display = ("form", "institution", "county", "period", "status", "due_date", "submitted_at")
    list_filter = ("status", "form", "county")
    search_fields = ("institution__name", "period")
    inlines = [FilingEventInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
