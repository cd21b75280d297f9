"""A form's first live period in its own kind: forms installed with one first period for all
(the demo's 2024-01) gave a quarterly form a month. Each such value becomes the period of the
form's kind that contains it (2024-01 → 2024Q1)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from core.periods import Period, PeriodError, PeriodKind

    ReportForm = apps.get_model("indicators", "ReportForm")
    for form in ReportForm.objects.exclude(first_period=""):
        try:
            period = Period.parse(form.first_period)
        except PeriodError:
            continue
        if period.kind.value != form.period_kind:
            form.first_period = str(Period.containing_date(PeriodKind(form.period_kind), period.start))
            form.save(update_fields=["first_period"])


class Migration(migrations.Migration):
    dependencies = [("indicators", "0005_history_source")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
