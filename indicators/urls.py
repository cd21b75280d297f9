from django.urls import path

from indicators.views import definitions, evaluation, excel, filing, history, pages

app_name = "indicators"
urlpatterns = [
    # Filing: 我的填报, the grid, review, audit, completeness.
    path("filings/", filing.my_filings, name="my_filings"),
    path("filings/open/", filing.filing_open, name="filing_open"),
    path("filings/review/", filing.review_queue, name="review_queue"),
    path("filings/completeness/", filing.completeness, name="completeness"),
    path("filings/<int:filing_pk>/", filing.filing_detail, name="filing_detail"),
    path("filings/<int:filing_pk>/review/", filing.filing_review, name="filing_review"),
    path("filings/<int:filing_pk>/unlock/", filing.filing_unlock, name="filing_unlock"),
    path("filings/<int:filing_pk>/history/", filing.filing_history, name="filing_history"),
    # Excel templates and uploads (indicators/views/excel.py).
    path("filings/<int:filing_pk>/template.xlsx", excel.filing_template, name="excel_filing_template"),
    path("filings/<int:filing_pk>/upload/", excel.filing_upload, name="excel_filing_upload"),
    path("filings/forms/<int:form_pk>/alliances/<int:alliance_pk>/workbook.xlsx", excel.alliance_workbook,
         name="excel_alliance_workbook"),
    path("filings/forms/<int:form_pk>/alliances/<int:alliance_pk>/upload/", excel.alliance_upload,
         name="excel_alliance_upload"),
    # Indicator tables, charts and evaluation (indicators/views/pages.py).
    path("indicators/", pages.indicator_table, name="indicator_table"),
    path("indicators/export.xlsx", pages.indicator_export, name="indicator_export"),
    path("indicators/<int:indicator_pk>/", pages.indicator_detail, name="indicator_detail"),
    path("indicators/<int:indicator_pk>/units/", pages.indicator_units, name="indicator_units"),
    path("indicators/evaluation/", evaluation.evaluation_list, name="evaluation_list"),
    path("indicators/evaluation/<int:run_pk>/", evaluation.evaluation_detail, name="evaluation_detail"),
    path("indicators/evaluation/<int:run_pk>/export.xlsx", evaluation.evaluation_export, name="evaluation_xlsx"),
    # Definitions kept by the bureau (indicators/views/definitions.py).
    path("regions/<int:region_pk>/data-elements/", definitions.element_list, name="element_list"),
    path("regions/<int:region_pk>/data-elements/new/", definitions.element_create, name="element_create"),
    path("data-elements/<int:element_pk>/edit/", definitions.element_edit, name="element_edit"),
    path("regions/<int:region_pk>/report-forms/", definitions.report_form_list, name="report_form_list"),
    path("regions/<int:region_pk>/report-forms/first-periods/", definitions.report_form_first_periods,
         name="report_form_first_periods"),
    path("regions/<int:region_pk>/report-forms/new/", definitions.report_form_create, name="report_form_create"),
    path("report-forms/<int:form_pk>/", definitions.report_form_detail, name="report_form_detail"),
    path("report-forms/<int:form_pk>/edit/", definitions.report_form_edit, name="report_form_edit"),
    path("report-forms/<int:form_pk>/history/", history.history_import, name="history_import"),
    path("regions/<int:region_pk>/indicators/definitions/", definitions.indicator_definitions,
         name="indicator_definitions"),
    path("regions/<int:region_pk>/indicators/definitions/new/", definitions.indicator_create,
         name="indicator_create"),
    path("indicators/<int:indicator_pk>/edit/", definitions.indicator_edit, name="indicator_edit"),
    path("regions/<int:region_pk>/indicators/check-formula/", definitions.formula_check, name="formula_check"),
    path("regions/<int:region_pk>/validation-rules/", definitions.rule_list, name="rule_list"),
]
