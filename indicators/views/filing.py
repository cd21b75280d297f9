"""Filing pages (being written)."""

from django.http import Http404


def _todo(request, **kwargs):
    raise Http404


my_filings = filing_open = review_queue = completeness = filing_detail = filing_review = _todo
filing_unlock = filing_history = _todo
