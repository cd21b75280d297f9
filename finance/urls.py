from django.urls import path

from finance import budget_views, member_views, procurement_views, views

app_name = "finance"
urlpatterns = [
    path("insurance/", views.insurance, name="insurance"),
    path("insurance/export.xlsx", views.insurance_xlsx, name="insurance_xlsx"),
    path("alliances/<int:alliance_pk>/insurance-budget/", views.budget_save, name="budget_save"),
    path("insurance-budgets/<int:insurance_budget_pk>/prepayments/", views.prepayment_save, name="prepayment_save"),
    path("regions/<int:region_pk>/settlement-rule/", views.rule_save, name="rule_save"),
    path("regions/<int:region_pk>/calendar/", views.calendar, name="calendar"),
    path("calendar-days/<int:calendar_day_pk>/delete/", views.calendar_day_delete, name="calendar_day_delete"),
    path("budgets/", budget_views.budget_list, name="budget_list"),
    path("alliances/<int:alliance_pk>/budgets/new/", budget_views.budget_new, name="budget_new"),
    path("budgets/<int:budget_pk>/", budget_views.budget_detail, name="budget_detail"),
    path("budgets/<int:budget_pk>/submit/", budget_views.budget_submit, name="budget_submit"),
    path("budgets/<int:budget_pk>/return/", budget_views.budget_return, name="budget_return"),
    path("budgets/<int:budget_pk>/approve/", budget_views.budget_approve, name="budget_approve"),
    path("budgets/<int:budget_pk>/export.xlsx", budget_views.budget_export, name="budget_export"),
    path("budgets/<int:budget_pk>/import/", budget_views.budget_import, name="budget_import"),
    path("budgets/<int:budget_pk>/import/confirm/", budget_views.budget_import_confirm, name="budget_import_confirm"),
    path("procurement/", procurement_views.procurement_page, name="procurement"),
    path("our-books/", member_views.member_books, name="member_books"),
    path("procurement/export.xlsx", procurement_views.procurement_export, name="procurement_export"),
    path("alliances/<int:alliance_pk>/procurement/", procurement_views.procurement_month, name="procurement_month"),
    path("alliances/<int:alliance_pk>/procurement/import/", procurement_views.procurement_import,
         name="procurement_import"),
    path("alliances/<int:alliance_pk>/procurement/import/confirm/", procurement_views.procurement_import_confirm,
         name="procurement_import_confirm"),
    path("alliances/<int:alliance_pk>/procurement-account/", procurement_views.procurement_account,
         name="procurement_account"),
]
