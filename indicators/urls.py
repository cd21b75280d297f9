from django.urls import path

from indicators.views import filing

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
    # Indicator tables, charts and evaluation (indicators/views/pages.py).
    # Definitions kept by the bureau (indicators/views/definitions.py).
]
