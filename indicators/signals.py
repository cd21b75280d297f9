"""A form's ``rows_version`` moves whenever one of its rows (``FormElement``) or the data element
of one of its rows changes, so that the per-process cache of form rows
(``services.filings.cached_form_rows``) never serves rows older than the database's. Writes that
bypass the signals (``bulk_create``, ``QuerySet.update``) call ``touch_forms`` themselves."""

from __future__ import annotations

from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import Signal, receiver

from indicators.models import DataElement, FormElement, ReportForm

# Sent after the commit of a review that changes which figures count (a filing approved, returned
# or unlocked), with ``county_id``, ``form_id``, ``period`` (str) and ``action`` ("approve",
# "return", "unlock"). Apps above indicators (reports: alerts, indicator-backed task items) listen
# to re-judge what the figures decide; a receiver's failure is logged, never the reviewer's error.
filing_reviewed = Signal()


def send_filing_reviewed(filing, action: str) -> None:
    """Send ``filing_reviewed`` for ``filing`` once the surrounding transaction commits."""
    from django.db import transaction

    payload = {"county_id": filing.form.county_id, "form_id": filing.form_id, "period": str(filing.period),
               "action": action}
    transaction.on_commit(lambda: filing_reviewed.send_robust(sender=type(filing), **payload))


def touch_forms(form_ids=None, *, element_ids=None) -> None:
    """Bump the rows version of the forms given, or of the forms holding the elements given."""
    forms = ReportForm.objects.all()
    if form_ids is not None:
        forms = forms.filter(pk__in=list(form_ids))
    if element_ids is not None:
        forms = forms.filter(form_elements__element_id__in=list(element_ids))
    forms.update(rows_version=F("rows_version") + 1)


@receiver(post_save, sender=FormElement, dispatch_uid="indicators_form_element_saved")
@receiver(post_delete, sender=FormElement, dispatch_uid="indicators_form_element_deleted")
def _form_element_changed(sender, instance: FormElement, **kwargs) -> None:
    touch_forms([instance.form_id])


@receiver(post_save, sender=DataElement, dispatch_uid="indicators_data_element_saved")
def _data_element_changed(sender, instance: DataElement, created: bool = False, **kwargs) -> None:
    if not created:
        touch_forms(element_ids=[instance.pk])


@receiver(m2m_changed, sender=FormElement, dispatch_uid="indicators_form_elements_m2m")
def _form_elements_m2m(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    """``form.elements.add/remove/clear`` and ``element.forms.…`` (``reverse``)."""
    if action in ("post_add", "post_remove"):
        touch_forms(pk_set) if reverse else touch_forms([instance.pk])
    elif action == "pre_clear":  # before the rows go, while they still say which forms held them
        touch_forms(element_ids=[instance.pk]) if reverse else touch_forms([instance.pk])
