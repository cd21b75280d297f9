"""``python manage.py bench_history``: 历史数据导入 of a synthetic county (by default 40 institutions
× 36 months × 25 data elements = 36,000 values), previewed and applied, side by side with openpyxl
reading the same file alone; the query counts of the preview and the apply at two sizes (they must
not grow with the file). Both layouts: the long one (a row a value) and the per-period one (a sheet
a month, the institutions down, the elements across), each into institutions of its own. Everything
happens in one transaction that is rolled back."""

from __future__ import annotations

import io
import time
import tracemalloc

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from accounts.models import User
from alliances.models import Institution, Region
from core.periods import Period
from indicators import history
from indicators.catalog import install_catalog, install_forms


class Rollback(Exception):
    pass


def _sheets_file(institutions, elements, months) -> bytes:
    wb = Workbook(write_only=True)
    for n, period in enumerate(months):
        ws = wb.create_sheet(period.label)
        ws.append([f"郁南县历史数据（{period.label}）"])
        ws.append(["序号", "单位名称", *[element.name for element in elements]])
        for i, institution in enumerate(institutions):
            ws.append([i + 1, institution.name, *[(i * 7 + e * 3 + n) % 500 + 1 for e in range(len(elements))]])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _file(institutions, elements, months) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("历史数据")
    ws.append(["郁南县历史数据（基准测试）"])
    ws.append(["机构名称", "报告期", "数据项代码", "数值"])
    for n, period in enumerate(months):
        for i, institution in enumerate(institutions):
            for e, element in enumerate(elements):
                ws.append([institution.name, str(period), element.code, (i * 7 + e * 3 + n) % 500 + 1])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


class Command(BaseCommand):
    help = ("Preview and apply a synthetic county's history (40 institutions × 36 months × 25 elements by default) "
            "next to openpyxl reading the same file alone; query counts at two sizes. Rolled back.")

    def add_arguments(self, parser):
        parser.add_argument("--institutions", type=int, default=40)
        parser.add_argument("--months", type=int, default=36)
        parser.add_argument("--elements", type=int, default=25)

    def handle(self, *args, **options):
        try:
            with transaction.atomic():
                self._run(options)
                raise Rollback
        except Rollback:
            pass

    def _run(self, options):
        write = self.stdout.write
        province = Region.objects.create(code="490000", name="基准省", level=Region.Level.PROVINCE)
        city = Region.objects.create(code="499900", name="基准市", level=Region.Level.CITY, parent=province)
        county = Region.objects.create(code="499901", name="基准县", level=Region.Level.COUNTY, parent=city)
        user = User.objects.create(username="bench_history")
        install_catalog()
        form = {f.code: f for f in install_forms(county, first_period="2026-01")}["MONTHLY_OPS"]
        rows = list(form.form_elements.select_related("element").order_by("order", "pk"))
        kind = Institution.Kind.COUNTY_GENERAL_HOSPITAL
        elements = [r.element for r in rows if r.applies_to(kind)][: options["elements"]]
        first = Period.parse("2026-01")
        months, period = [], first
        for _ in range(options["months"]):
            period = period.previous
            months.append(period)
        months.reverse()
        earlier = [months[0].previous.previous, months[0].previous]  # the small file's periods are its own
        for layout, make in (("long layout (a row a value)", _file), ("per-period layout (a sheet a month)",
                                                                       _sheets_file)):
            # Each layout's files go to institutions of their own: every file starts from nothing stored.
            prefix = "长" if make is _file else "表"
            institutions = Institution.objects.bulk_create([
                Institution(county=county, name=f"基准医院{prefix}{n:03d}", kind=kind)
                for n in range(options["institutions"])])
            others = Institution.objects.bulk_create([
                Institution(county=county, name=f"基准卫生院{prefix}{n:03d}", kind=kind) for n in range(2)])
            small = make(others, elements, earlier)
            data = make(institutions, elements, months)
            values = len(institutions) * len(months) * len(elements)  # elements a hospital files
            write(f"History file, {layout}: {len(institutions)} institutions × {len(months)} months × "
                  f"{len(elements)} elements = {values:,} values, {len(data) / 1e6:.1f} MB")
            self._measure(form, user, small, data, small_values=len(others) * 2 * len(elements), values=values)

    def _measure(self, form, user, small, data, *, small_values, values):
        write = self.stdout.write

        def openpyxl_read():
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            count = sum(1 for sheet in book.worksheets for _row in sheet.iter_rows(values_only=True))
            book.close()
            return count

        started = time.perf_counter()
        openpyxl_read()
        floor = time.perf_counter() - started

        counts = {}
        for label, content in (("small", small), ("large", data)):
            with CaptureQueriesContext(connection) as preview_queries:
                started = time.perf_counter()
                plan = history.read_history(content, f"{label}.xlsx", form)
                preview = time.perf_counter() - started
            assert plan.ok and plan.new == len(plan.values), [i.text for i in plan.errors[:3]]
            with CaptureQueriesContext(connection) as apply_queries:
                started = time.perf_counter()
                result = history.apply_history(plan.payload(), user=user, now=timezone.now(), reason="bench")
                applied = time.perf_counter() - started
            with CaptureQueriesContext(connection) as again_queries:
                started = time.perf_counter()
                again = history.read_history(content, f"{label}.xlsx", form)
                reimport = time.perf_counter() - started
            assert again.unchanged == len(plan.values) and not again.has_changes
            counts[label] = (len(preview_queries), len(apply_queries), len(again_queries))
            if label == "large":
                write(f"openpyxl reading the file alone: {floor:8.2f} s")
                tracemalloc.start()
                history.read_history(content, f"{label}.xlsx", form)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                write(f"preview (read, map, check):       {preview:8.2f} s  {preview / floor:5.2f}× openpyxl  "
                      f"(peak {peak / 1e6:.0f} MB traced, in a separate run)")
                write(f"apply ({result['filings']} filings, {result['created']:,} values and audit rows): "
                      f"{applied:8.2f} s  {applied / floor:5.2f}× openpyxl")
                write(f"preview + apply:                  {preview + applied:8.2f} s  "
                      f"{(preview + applied) / floor:5.2f}× openpyxl")
                write(f"re-import preview (all unchanged): {reimport:8.2f} s  {reimport / floor:5.2f}× openpyxl")
        write(f"Queries (preview, apply, re-import preview): {counts['small']} for "
              f"{small_values} values, {counts['large']} for {values:,}")
        if counts["small"] != counts["large"]:
            write("WARNING: the query counts grow with the file")
