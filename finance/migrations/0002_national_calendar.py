from django.db import migrations


def load(apps, schema_editor):
    from finance.holidays import national_days

    CalendarDay = apps.get_model("finance", "CalendarDay")
    existing = set(CalendarDay.objects.filter(county__isnull=True).values_list("day", flat=True))
    CalendarDay.objects.bulk_create([CalendarDay(day=day, kind=kind, name=name)
                                     for day, kind, name in national_days() if day not in existing])


class Migration(migrations.Migration):
    dependencies = [("finance", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
