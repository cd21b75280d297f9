"""Who may act on filings beyond seeing them (seeing is ``alliances.scoping``):

- an institution's own people (filers and reviewers granted on it) file its forms;
- the alliance office and alliance-wide filers file for the alliance's current members (the lead
  hospital's office files for the township centres);
- the county bureau (bureau_admin, bureau_staff) files the county-level forms and may correct any
  filing of its county;
- reviewing (approve, return) is the bureau's and the alliance office's (``CHANGE`` on Filing);
- unlocking an approved or locked filing is the bureau's only.
"""

from __future__ import annotations

from django.db.models import Q

from alliances import scoping
from alliances.models import Institution
from indicators.models import Filing, ReportForm
from indicators.scoping import current_member_ids


def filer_institutions(user):
    """Institutions ``user`` files for, as a queryset."""
    scope = scoping.scope_of(user)
    qs = Institution.objects.filter(is_active=True)
    if scope.everything:
        return qs
    condition = Q(pk__in=[])
    if scope.change_counties:
        condition |= Q(county_id__in=scope.change_counties)
    if scope.report_institutions:
        condition |= Q(pk__in=scope.report_institutions) | Q(parent_id__in=scope.report_institutions)
    if scope.report_alliances:
        condition |= Q(pk__in=current_member_ids(scope.report_alliances))
    return qs.filter(condition)


def can_file(user, form: ReportForm, institution_id: int | None) -> bool:
    scope = scoping.scope_of(user)
    if scope.everything:
        return True
    if institution_id is None:  # a county-level form
        return form.county_id in scope.change_counties
    if form.county_id in scope.change_counties:
        return True
    return filer_institutions(user).filter(pk=institution_id).exists()


def files_as_own(user, filing: Filing) -> bool:
    """Whether the user files for the filing's institution (or the village clinic it manages),
    decided from the scope and the institution read with the filing: no query. Such a filing is
    always in the user's scope (an institution grant sees its institution and its clinics; a test
    holds the two rules together), so the grid reads it by its key without the scoped query."""
    if not filing.institution_id or not Filing.institution.is_cached(filing):
        return False
    own = scoping.scope_of(user).report_institutions
    institution = filing.institution
    return institution.is_active and (institution.pk in own or institution.parent_id in own)


def can_file_filing(user, filing: Filing) -> bool:
    # The common case, a filer on their own institution (or its village clinic): no query on every
    # grid request.
    return files_as_own(user, filing) or can_file(user, filing.form, filing.institution_id)


def can_review(user, filing: Filing) -> bool:
    return scoping.queryset_for(user, Filing, scoping.CHANGE).filter(pk=filing.pk).exists()


def can_unlock(user, filing: Filing) -> bool:
    return scoping.scope_of(user).can_change_county(filing.county_id)


def is_reviewer(user) -> bool:
    scope = scoping.scope_of(user)
    return scope.everything or bool(scope.change_counties or scope.change_alliances)
