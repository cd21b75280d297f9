from django.contrib import admin

from finance.models import CalendarDay, InsuranceBudget, Prepayment, SettlementRule


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ("day", "kind", "name", "county")
    list_filter = ("kind", "county")
    date_hierarchy = "day"


class PrepaymentInline(admin.TabularInline):
    model = Prepayment
    extra = 0


@admin.register(InsuranceBudget)
class InsuranceBudgetAdmin(admin.ModelAdmin):
    list_display = ("alliance", "year", "amount", "county")
    list_filter = ("year", "county")
    inlines = [PrepaymentInline]


@admin.register(SettlementRule)
class SettlementRuleAdmin(admin.ModelAdmin):
    list_display = ("county", "year", "surplus_retained", "bands")
