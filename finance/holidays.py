"""The national public holidays and make-up working days as the State Council's notices give them
(国务院办公厅关于…部分节假日安排的通知), 2024–2026. Loaded by a data migration; bureau staff correct or
add a county's own days in the portal."""

from __future__ import annotations

from datetime import date, timedelta

# (first day, last day, name) off; then the weekend days worked instead.
HOLIDAYS = {
    2024: [("2024-01-01", "2024-01-01", "元旦"), ("2024-02-10", "2024-02-17", "春节"),
           ("2024-04-04", "2024-04-06", "清明节"), ("2024-05-01", "2024-05-05", "劳动节"),
           ("2024-06-10", "2024-06-10", "端午节"), ("2024-09-15", "2024-09-17", "中秋节"),
           ("2024-10-01", "2024-10-07", "国庆节")],
    2025: [("2025-01-01", "2025-01-01", "元旦"), ("2025-01-28", "2025-02-04", "春节"),
           ("2025-04-04", "2025-04-06", "清明节"), ("2025-05-01", "2025-05-05", "劳动节"),
           ("2025-05-31", "2025-06-02", "端午节"), ("2025-10-01", "2025-10-08", "国庆节、中秋节")],
    2026: [("2026-01-01", "2026-01-03", "元旦"), ("2026-02-15", "2026-02-23", "春节"),
           ("2026-04-04", "2026-04-06", "清明节"), ("2026-05-01", "2026-05-05", "劳动节"),
           ("2026-06-19", "2026-06-21", "端午节"), ("2026-09-25", "2026-09-27", "中秋节"),
           ("2026-10-01", "2026-10-07", "国庆节")],
}
MAKE_UP_DAYS = {
    2024: [("2024-02-04", "春节"), ("2024-02-18", "春节"), ("2024-04-07", "清明节"), ("2024-04-28", "劳动节"),
           ("2024-05-11", "劳动节"), ("2024-09-14", "中秋节"), ("2024-09-29", "国庆节"), ("2024-10-12", "国庆节")],
    2025: [("2025-01-26", "春节"), ("2025-02-08", "春节"), ("2025-04-27", "劳动节"), ("2025-09-28", "国庆节"),
           ("2025-10-11", "国庆节")],
    2026: [("2026-01-04", "元旦"), ("2026-02-14", "春节"), ("2026-02-28", "春节"), ("2026-05-09", "劳动节"),
           ("2026-09-20", "国庆节"), ("2026-10-10", "国庆节")],
}


def national_days() -> list[tuple[date, str, str]]:
    """(day, "holiday" | "workday", name) of every national exception."""
    rows = []
    for year, spans in HOLIDAYS.items():
        for first, last, name in spans:
            day, end = date.fromisoformat(first), date.fromisoformat(last)
            while day <= end:
                rows.append((day, "holiday", name))
                day += timedelta(days=1)
        rows += [(date.fromisoformat(d), "workday", name) for d, name in MAKE_UP_DAYS[year]]
    return sorted(rows)
