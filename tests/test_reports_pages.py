"""Pages of the scheduled reports: who sees what in the archive, the detail with its versions and
delivery log, the bureau's sign-off, the inbox and downloads, the recipients' settings with bad
input, and query counts that do not grow with the reports or their deliveries."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from core.periods import Period
from indicators.catalog import install_catalog, install_forms
from reports import services
from reports.models import Delivery, Kind, RecipientList, Report, ReportSettings
from tests.factories import UserFactory, grant

SH = ZoneInfo("Asia/Shanghai")
DEC_5 = datetime(2026, 12, 5, 8, 0, tzinfo=SH)
OCT_1 = datetime(2026, 10, 1, 8, 0, tzinfo=SH)


@pytest.fixture
def pages(ledger_world, settings):
    w = ledger_world
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    install_catalog()
    install_forms(w.yn, first_period="2026-01")
    w.bureau_admin.email = "admin@yn.example.org"
    w.bureau_admin.save(update_fields=["email"])
    services.sweep(DEC_5)
    w.monthly = Report.objects.get(kind=Kind.MONTHLY, county=w.yn, alliance=None, period="2026-11")
    w.monthly_a = Report.objects.get(kind=Kind.MONTHLY, alliance=w.alliance_a, period="2026-11")
    w.quarterly, _ = services.create_report(Kind.QUARTERLY, w.yn, Period.parse("2026Q3"), now=OCT_1)
    services.process(w.quarterly.pk, OCT_1)
    w.quarterly.refresh_from_db()
    w.viewer = UserFactory(username="yn_viewer")
    grant(w.viewer, Role.VIEWER, w.yn)
    return w


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_the_archive_shows_each_user_their_reports(pages, as_user):
    w = pages
    page = as_user(w.bureau).get("/reports/").content.decode()
    assert w.monthly.title in page and w.monthly_a.title in page and w.quarterly.title in page
    assert "1份季度评价指标表待您签发" in page
    alliance_page = as_user(w.alliance_admin).get("/reports/").content.decode()
    assert w.monthly_a.title in alliance_page and w.monthly.title not in alliance_page
    assert "第三医共体进度监测表" not in alliance_page
    city_page = as_user(w.city).get("/reports/").content.decode()
    assert w.monthly.title in city_page and "待您签发" not in city_page
    outsider_page = as_user(w.outsider).get("/reports/").content.decode()
    assert "郁南县" not in outsider_page and "第一医共体" not in outsider_page


def test_filters_of_the_archive(pages, as_user):
    w = pages
    page = as_user(w.bureau).get("/reports/", {"kind": "quarterly"}).content.decode()
    assert w.quarterly.title in page and w.monthly.title not in page
    page = as_user(w.bureau).get("/reports/", {"state": "sent", "period": "2026-11"}).content.decode()
    assert w.monthly.title in page and w.quarterly.title not in page
    assert as_user(w.bureau).get("/reports/", {"kind": "<script>", "page": "x"}).status_code == 200


def test_detail_shows_versions_state_and_the_delivery_log(pages, as_user):
    w = pages
    page = as_user(w.bureau).get(f"/reports/{w.monthly.pk}/").content.decode()
    assert "已发送" in page and "投递记录" in page and "admin@yn.example.org" in page
    version = w.monthly.versions.get()
    assert f"/reports/versions/{version.pk}.xlsx" in page and "重新发送" in page
    # A viewer sees it all but no button.
    viewer_page = as_user(w.viewer).get(f"/reports/{w.monthly.pk}/").content.decode()
    assert "投递记录" in viewer_page and "重新发送" not in viewer_page and "重新生成" not in viewer_page


def test_the_bureau_signs_off_the_draft_others_cannot(pages, as_user):
    w = pages
    assert w.quarterly.state == Report.State.READY
    page = as_user(w.bureau).get(f"/reports/{w.quarterly.pk}/").content.decode()
    assert "签发并报送" in page and "签发后才会报送" in page
    assert as_user(w.viewer).post(f"/reports/{w.quarterly.pk}/sign-off/", {"commentary": "x"}).status_code == 403
    assert as_user(w.supervisor).post(f"/reports/{w.quarterly.pk}/sign-off/").status_code == 403
    assert as_user(w.alliance_admin).post(f"/reports/{w.quarterly.pk}/sign-off/").status_code == 404
    assert as_user(w.city).post(f"/reports/{w.quarterly.pk}/sign-off/").status_code == 403
    w.quarterly.refresh_from_db()
    assert w.quarterly.state == Report.State.READY
    too_long = as_user(w.bureau).post(f"/reports/{w.quarterly.pk}/sign-off/", {"commentary": "长" * 2001})
    assert too_long.status_code == 400 and "2000" in too_long.content.decode()
    response = as_user(w.bureau).post(f"/reports/{w.quarterly.pk}/sign-off/", {"commentary": "同意"}, follow=True)
    assert "已签发，正在报送。" in response.content.decode()
    w.quarterly.refresh_from_db()
    assert w.quarterly.signed_off_by == w.bureau and w.quarterly.state in (Report.State.SIGNED, Report.State.SENT)
    again = as_user(w.bureau).post(f"/reports/{w.quarterly.pk}/sign-off/", {"commentary": "再签"}, follow=True)
    assert "该表当前不能签发" in again.content.decode()
    assert w.quarterly.versions.count() == 2


def test_the_progress_bar_while_generating(pages, as_user):
    w = pages
    services.regenerate(w.monthly, user=w.bureau, now=DEC_5 + timedelta(hours=1))
    token = services.claim_for_generation(w.monthly.pk, DEC_5 + timedelta(hours=1))
    Report.objects.filter(pk=w.monthly.pk, claim=token).update(progress=60, progress_note="正在生成表格")
    part = as_user(w.bureau).get(f"/reports/{w.monthly.pk}/status/").content.decode()
    assert 'role="progressbar"' in part and "60%" in part and "正在生成表格" in part and "every 2s" in part
    archive = as_user(w.bureau).get("/reports/").content.decode()
    assert 'aria-valuenow="60"' in archive


def test_inbox_lists_what_was_sent_to_me_and_marks_it_read_on_opening(pages, as_user):
    w = pages
    client = as_user(w.bureau_admin)
    page = client.get("/reports/inbox/").content.decode()
    assert w.monthly.title in page and "未读" in page
    assert client.get("/reports/inbox/unread/").content.decode().count("badge") == 1
    version = w.monthly.versions.get()
    assert client.get(f"/reports/versions/{version.pk}/").status_code == 200
    assert Delivery.objects.get(report=w.monthly, user=w.bureau_admin).read_at is not None


def test_a_version_is_downloadable_by_whom_it_was_delivered_to_only(pages, as_user):
    w = pages
    reminder, _ = services.create_report(Kind.REMINDER, w.yn, Period.parse("2026-11"), edition=1,
                                         now=datetime(2026, 12, 1, 8, 0, tzinfo=SH))
    services.process(reminder.pk, datetime(2026, 12, 1, 8, 0, tzinfo=SH))
    delivery = Delivery.objects.get(report=reminder, user=w.filer)
    assert "平台镇卫生院" in delivery.message
    # The centre's filer sees no archive of the county, but its reminder is in its inbox.
    assert as_user(w.filer).get(f"/reports/{reminder.pk}/").status_code == 404
    version = reminder.versions.get()
    assert as_user(w.filer).get(f"/reports/versions/{version.pk}/").status_code == 200
    monthly_version = w.monthly.versions.get()
    assert as_user(w.filer).get(f"/reports/versions/{monthly_version.pk}.xlsx").status_code == 404
    assert as_user(w.outsider).get(f"/reports/versions/{monthly_version.pk}.xlsx").status_code == 404
    assert as_user(w.nobody).get(f"/reports/versions/{monthly_version.pk}.xlsx").status_code == 404
    assert as_user(w.city).get(f"/reports/versions/{monthly_version.pk}.xlsx").status_code == 200


def test_the_printable_page_of_the_monthly_table(pages, as_user):
    w = pages
    version = w.monthly.versions.get()
    page = as_user(w.bureau).get(f"/reports/versions/{version.pk}/").content.decode()
    assert "郁南县紧密型县域医共体进度监测表（2026年11月）" in page
    for heading in ("一、任务推进情况", "二、逾期任务", "三、数据填报完整性", "四、重点指标", "五、任务进展明细"):
        assert heading in page
    assert "推进医共体人员统筹使用" in page and "审核人：" in page and "data-print" in page


def test_settings_bad_input_is_named_and_nothing_saved(pages, as_user):
    w = pages
    client = as_user(w.bureau)
    response = client.post(f"/reports/regions/{w.yn.pk}/settings/", {"enabled": "on", "reminder_days": "1,32"})
    assert response.status_code == 200 and "“32”不是 1 至 28 之间的日期。" in response.content.decode()
    assert not ReportSettings.objects.exists()
    response = client.post(f"/reports/regions/{w.yn.pk}/settings/", {"enabled": "on", "reminder_days": "3，1"})
    assert response.status_code == 302 and ReportSettings.objects.get(county=w.yn).reminder_days == "1,3"
    url = f"/reports/regions/{w.yn.pk}/recipients/?kind=quarterly"
    bad = client.post(url, {"kind": "quarterly", "roles": ["city"], "emails": "ok@yf.example.org\nnot an address"})
    assert "第2行：“not an address”不是有效的邮箱地址。" in bad.content.decode()
    assert not RecipientList.objects.exists()
    good = client.post(url, {"kind": "quarterly", "roles": ["city", "bureau_admin"], "emails": "ok@yf.example.org"})
    assert good.status_code == 302
    row = RecipientList.objects.get(county=w.yn, kind=Kind.QUARTERLY)
    assert row.roles == ["city", "bureau_admin"] and row.email_list == ["ok@yf.example.org"]
    alliance_url = f"/reports/regions/{w.yn.pk}/recipients/?kind=monthly&alliance={w.other_alliance.pk}"
    assert client.get(alliance_url).status_code == 404  # 万源市's alliance is not 郁南县's
    assert client.get(f"/reports/regions/{w.yn.pk}/recipients/?kind=nonsense").status_code == 404
    assert as_user(w.viewer).post(f"/reports/regions/{w.yn.pk}/settings/", {"reminder_days": "2"}).status_code == 403
    assert as_user(w.viewer).get(url).status_code == 403
    settings_page = client.get(f"/reports/regions/{w.yn.pk}/settings/").content.decode()
    assert "ok@yf.example.org" in settings_page and "市级用户" in settings_page


def test_query_counts_do_not_grow_with_reports_or_deliveries(pages, as_user):
    w = pages
    client = as_user(w.bureau)
    archive = queries(client, "/reports/")
    detail = queries(client, f"/reports/{w.monthly.pk}/")
    inbox = queries(as_user(w.bureau_admin), "/reports/inbox/")
    for number in range(6):
        extra = UserFactory(username=f"yn_staff_{number}", email=f"s{number}@yn.example.org")
        grant(extra, Role.BUREAU_STAFF, w.yn)
    later = datetime(2027, 1, 5, 8, 0, tzinfo=SH)
    services.sweep(later)  # December's tables, to more recipients
    services.resend(w.monthly.deliveries.first(), user=w.bureau, now=later)
    services.sweep(later + timedelta(minutes=5))
    assert Report.objects.count() > 6
    december = Report.objects.get(kind=Kind.MONTHLY, county=w.yn, alliance=None, period="2026-12")
    assert december.deliveries.count() >= 8
    assert queries(client, "/reports/") == archive
    assert queries(client, f"/reports/{december.pk}/") == detail
    assert queries(as_user(w.bureau_admin), "/reports/inbox/") == inbox
