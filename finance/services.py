"""Writing the finance records, each change of an amount or a date kept in ``AmountChange``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from alliances.models import Alliance, Region
from finance.models import AmountChange, InsuranceBudget, Prepayment, SettlementRule


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def _changes(obj, values: dict, labels: dict) -> list[tuple[str, str, str]]:
    found = []
    for name, new in values.items():
        old = getattr(obj, name, None) if obj is not None else None
        if _text(old) != _text(new):
            found.append((str(labels[name]), _text(old), _text(new)))
    return found


@transaction.atomic
def _save(model, lookup: dict, values: dict, *, labels: dict, county: Region, year: int, record: str, user,
          now: datetime):
    obj = model.objects.select_for_update().filter(**lookup).first()
    changes = _changes(obj, values, labels)
    if obj is None:
        obj = model(**lookup, **values)
    else:
        for name, value in values.items():
            setattr(obj, name, value)
    if changes:
        if hasattr(obj, "updated_by_id"):
            obj.updated_by = user
        obj.save()
        AmountChange.objects.bulk_create([AmountChange(county=county, year=year, record=record, field=field, old=old,
                                                       new=new, user=user, at=now) for field, old, new in changes])
    return obj, len(changes)


def budget_save(*, alliance: Alliance, year: int, amount: Decimal, note: str, user, now: datetime):
    return _save(InsuranceBudget, {"alliance": alliance, "year": year}, {"amount": amount, "note": note},
                 labels={"amount": _("global budget (yuan)"), "note": _("note")}, county=alliance.county,
                 year=year, record=_("%(alliance)s %(year)s global budget") % {"alliance": alliance.name, "year": year},
                 user=user, now=now)


def prepayment_save(*, budget: InsuranceBudget, quarter: int, amount: Decimal, received_on, user, now: datetime):
    return _save(Prepayment, {"budget": budget, "quarter": quarter}, {"amount": amount, "received_on": received_on},
                 labels={"amount": _("amount (yuan)"), "received_on": _("received on")}, county=budget.county,
                 year=budget.year, record=_("%(alliance)s %(year)s prepayment of quarter %(quarter)s") % {
                     "alliance": budget.alliance.name, "year": budget.year, "quarter": quarter},
                 user=user, now=now)


def rule_save(*, county: Region, year: int, values: dict, user, now: datetime):
    labels = {"surplus_retained": _("surplus kept by the alliance (%)"), "bands": _("overspend bands"),
              "warning_points": _("run-rate warning (percentage points)")}
    return _save(SettlementRule, {"county": county, "year": year}, values, labels=labels, county=county, year=year,
                 record=_("%(year)s settlement rule") % {"year": year}, user=user, now=now)
