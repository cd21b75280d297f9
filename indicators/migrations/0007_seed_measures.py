"""The seed's measures the catalogue lacked (seed 000 湛江方案 10.1, 10.3, 11.1, 11.2, 12.2; seed 001
§四(三)): a strict ">" threshold operator, and for databases whose catalogue is already installed,
the new data elements, validation rules and indicators, and the new rows of every county's
installed 运行监测月报, 公共卫生季报 and 县域医保结算月报.

The specifications are read from ``indicators.catalog`` (the same ones ``install_catalog`` and
``install_forms`` write) and written with the historical models, creating only what is missing:
running it on a database that has them, or on one without a catalogue (``install_catalog`` then
installs everything), changes nothing. The rows were appended to the shipped forms, so their order
numbers are the ones ``install_forms`` gives them."""

from decimal import Decimal

from django.db import migrations, models
from django.db.models import F

ELEMENT_CODES = (
    "REFERRALS_UP", "REFERRALS_DOWN", "CHRONIC_REFERRED_DOWN", "DRG_WEIGHT", "DRG_CASES", "OP_DISEASE_TYPES",
    "IP_DISEASE_TYPES", "VILLAGE_CLINICS", "VILLAGE_CLINICS_STANDARD", "CHRONIC_STD_MANAGED", "EHR_RECORDS",
    "EHR_OPENED", "FUND_PRIMARY",
)
RULE_CODES = ("R_CHRONIC_DOWN", "R_VILLAGE_STANDARD", "R_CHRONIC_STD", "R_EHR_OPENED", "R_FUND_PRIMARY")
INDICATOR_CODES = (
    "REFERRALS", "REFERRAL_UP_GROWTH", "REFERRAL_DOWN_GROWTH", "REFERRAL_GROWTH_GAP", "CHRONIC_DOWN_GROWTH", "CMI",
    "OP_DISEASE_TYPES", "IP_DISEASE_TYPES", "VILLAGE_CLINIC_STANDARD_RATE", "CHRONIC_STANDARD_MGMT_RATE",
    "EHR_OPEN_RATE", "FUND_PRIMARY_RATE",
)


def install_measures(apps, schema_editor=None) -> dict[str, int]:
    from indicators import catalog

    DataElement = apps.get_model("indicators", "DataElement")
    ValidationRule = apps.get_model("indicators", "ValidationRule")
    Indicator = apps.get_model("indicators", "Indicator")
    ReportForm = apps.get_model("indicators", "ReportForm")
    FormElement = apps.get_model("indicators", "FormElement")
    written = {"elements": 0, "rules": 0, "indicators": 0, "rows": 0}
    if not DataElement.objects.filter(county=None).exists():
        return written  # no catalogue yet: install_catalog writes all of it
    for code, name, unit, value_type, aggregation in catalog.ELEMENTS:
        if code in ELEMENT_CODES:
            _obj, created = DataElement.objects.get_or_create(
                county=None, code=code,
                defaults={"name": name, "unit": unit, "value_type": value_type, "aggregation": aggregation})
            written["elements"] += created
    for code, left, operator, right, severity, message in catalog.RULES:
        if code in RULE_CODES:
            _obj, created = ValidationRule.objects.get_or_create(
                county=None, code=code,
                defaults={"left": left, "operator": operator, "right": right, "severity": severity,
                          "message": message})
            written["rules"] += created
    for order, spec in enumerate(catalog.INDICATORS, start=1):
        if spec["code"] not in INDICATOR_CODES:
            continue
        _obj, created = Indicator.objects.get_or_create(
            county=None, code=spec["code"], defaults=catalog.indicator_defaults(spec, order))
        written["indicators"] += created
    elements = {e.code: e for e in DataElement.objects.filter(county=None, code__in=ELEMENT_CODES)}
    shipped = {code: rows for code, _name, _kind, _level, _kinds, rows in catalog.FORMS}
    for form in ReportForm.objects.filter(code__in=list(shipped)).order_by("pk"):
        present = set(FormElement.objects.filter(form=form).values_list("element__code", flat=True))
        added = 0
        for order, (section, element_code, row_kinds) in enumerate(shipped[form.code], start=1):
            if element_code not in ELEMENT_CODES or element_code in present:
                continue
            # Optional in a form already in use: its open drafts and the clerks' own sheets do not
            # have the new rows yet. The bureau makes them required in the form editor when ready
            # (a county installing the forms afresh gets them required, as every shipped row).
            FormElement.objects.create(form=form, element=elements[element_code], section=section, order=order,
                                       institution_kinds=[str(kind) for kind in row_kinds], required=False)
            added += 1
        if added:
            # The signals that move rows_version do not run for historical models.
            ReportForm.objects.filter(pk=form.pk).update(rows_version=F("rows_version") + 1)
            written["rows"] += added
    return written


def forwards(apps, schema_editor):
    install_measures(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("indicators", "0006_first_period_of_its_kind")]
    operations = [
        migrations.AlterField(
            model_name="indicator",
            name="target_operator",
            field=models.CharField(blank=True, choices=[("ge", "≥"), ("le", "≤"), ("gt", ">")], max_length=2,
                                   verbose_name="operator"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
