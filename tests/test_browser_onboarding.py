"""A new county goes live, end to end in headless Chromium, through the pages only.

The county has nothing but its region, its security administrator and its bureau administrator (as
新县上线 makes them) and the report forms the demo gives every county, without a first live period.
The bureau administrator then: opens 上线准备 (nothing green but the recipients' defaults), adds the
two alliances, imports the institution register with its memberships, imports a task ledger in a
layout the portal has never seen (title rows, columns in another order, two titles it does not know,
mapped by hand in the preview's mapping panel), sets each form's first live period and the
recipients, and imports a year of history for every form; the security administrator creates the
alliance offices' accounts (the filers). After each step the checklist is read line by line. Last,
the indicator table of the first live quarter shows, as 同比, the figure of the same quarter a year
before computed from the imported history. Screenshots go to test-artifacts/onboarding_*.png."""

from __future__ import annotations

import pytest
from openpyxl import Workbook

from tests.test_browser import DEMO_PASSWORD, artifacts_dir, body_text, browser, log_in, log_out, page  # noqa: F401

pytestmark = pytest.mark.browser

LINES = ("institutions", "alliances", "filers", "forms", "recipients", "history", "first_table")


@pytest.fixture
def new_county(transactional_db):
    """罗定市 as 新县上线 leaves it (security.services.county_create), with the demo's report forms
    (indicators.catalog.install_forms, as load_demo installs them) and no first live period."""
    from django.contrib.auth import get_user_model

    from alliances.models import Region
    from indicators.catalog import install_catalog, install_forms
    from security import services

    User = get_user_model()
    province = Region.objects.create(code="440000", name="广东省", level=Region.Level.PROVINCE)
    city = Region.objects.create(code="445300", name="云浮市", level=Region.Level.CITY, parent=province)
    root = User.objects.create_superuser("onboard_root", "root@example.com", DEMO_PASSWORD)
    county, accounts = services.county_create(
        actor=root, city=city, code="445381", name="罗定市",
        security_admin={"username": "ld_security", "full_name": "罗定安全员", "phone": "", "email": ""},
        bureau_admin={"username": "ld_bureau", "full_name": "罗定卫健局管理员", "phone": "",
                      "email": "bureau@luoding.example.cn"})
    for account in accounts:  # as if each had signed in once and changed the one-time password
        account.user.set_password(DEMO_PASSWORD)
        account.user.must_change_password = False
        account.user.save()
    install_catalog()
    forms = install_forms(county)
    return county, forms


def _states(tab) -> dict[str, bool]:
    items = tab.locator(".go-live [data-done]")
    found = {}
    for i in range(items.count()):
        item = items.nth(i)
        found[item.get_attribute("id").removeprefix("line-")] = item.get_attribute("data-done") == "1"
    return found


def _check(tab, base: str, county_pk: int, shot: str, **expected: bool) -> None:
    tab.goto(f"{base}/reports/regions/{county_pk}/go-live/")
    text = body_text(tab)
    tab.screenshot(path=str(artifacts_dir() / f"onboarding_{shot}.png"), full_page=True)
    assert "上线准备" in text
    states = _states(tab)
    assert set(states) == set(LINES), states
    assert states == expected, f"after {shot}: {states}\n{text[:3000]}"


def _xlsx(path, rows) -> str:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return str(path)


def test_a_new_county_goes_live(live_server, new_county, page, tmp_path):  # noqa: F811
    from django.utils import timezone

    from core.periods import Period, PeriodKind

    county, forms = new_county
    base = live_server.url
    today = timezone.localdate()
    first_quarter = Period.containing_date(PeriodKind.QUARTER, today)
    first_month = Period.month(first_quarter.year, first_quarter.first_month)
    state = dict.fromkeys(LINES, False)

    # 1. 上线准备: only the recipients have their defaults (the bureau administrator receives both tables).
    log_in(page, base, "ld_bureau")
    _check(page, base, county.pk, "1_start", **{**state, "recipients": True})
    state["recipients"] = True

    # 2. The two alliances, then the institution register with their members (所属医共体, 角色, 加入日期).
    for name, short in (("罗定市第一医共体", "第一医共体"), ("罗定市第二医共体", "第二医共体")):
        page.goto(f"{base}/alliances/new/?county={county.pk}")
        page.fill('input[name="name"]', name)
        page.fill('input[name="short_name"]', short)
        page.locator('main form [type="submit"]').last.click()
        assert f"“{name}”" in body_text(page)
    page.screenshot(path=str(artifacts_dir() / "onboarding_2_alliance.png"), full_page=True)
    register = _xlsx(tmp_path / "罗定市机构名册.xlsx", [
        ("罗定市医疗卫生机构名册",),
        ("序号", "机构名称", "简称", "机构类别", "所属卫生院", "床位数", "服务人口", "所属医共体", "角色", "加入日期"),
        (1, "罗定市人民医院", "市人民医院", "县级综合医院", "", 600, "", "罗定市第一医共体", "牵头单位", "2025-01-01"),
        (2, "罗定市中医院", "市中医院", "中医医院", "", 300, "", "罗定市第二医共体", "牵头单位", "2025-01-01"),
        (3, "素龙镇卫生院", "", "乡镇卫生院", "", 40, 52000, "罗定市第一医共体", "成员单位", "2025-01-01"),
        (4, "附城镇卫生院", "", "乡镇卫生院", "", 30, 38000, "罗定市第二医共体", "成员单位", "2025-01-01"),
        (5, "素龙镇岗坪村卫生室", "", "村卫生室", "素龙镇卫生院", "", 2100, "", "", ""),
    ])
    page.goto(f"{base}/regions/{county.pk}/institutions/import/")
    page.set_input_files('input[name="file"]', register)
    page.get_by_role("button", name="上传并预览").click()
    text = body_text(page)
    page.screenshot(path=str(artifacts_dir() / "onboarding_2_register_preview.png"), full_page=True)
    for name in ("罗定市人民医院", "素龙镇岗坪村卫生室", "牵头单位"):
        assert name in text, text[:3000]
    page.get_by_role("button", name="确认导入").click()
    text = body_text(page)
    assert "名册已导入：新建5个机构" in text and "罗定市人民医院" in text, text[:3000]
    state.update(institutions=True, alliances=True)
    _check(page, base, county.pk, "2_register", **state)
    page.goto(f"{base}/alliances/")
    text = body_text(page)
    page.screenshot(path=str(artifacts_dir() / "onboarding_2_alliances.png"), full_page=True)

    # 3. A task ledger as the county's office keeps it: a title and a 文号 above the header, the
    # columns in its own order, 工作举措 (the task text) and 主抓单位 (the lead units) unknown to the portal.
    ledger = _xlsx(tmp_path / "罗定市2026年医共体建设工作台账.xlsx", [
        ("罗定市2026年紧密型县域医共体建设工作台账",),
        ("罗卫〔2026〕8号",),
        (),
        ("完成时限", "序号", "重点任务", "工作举措", "主抓单位", "备注"),
        ("2026年12月31日", "1.1", "推进医共体一体化管理", "建立医共体财务管理中心，统一财务核算", "各医共体", ""),
        ("2026年12月31日", "1.2", "推进医共体一体化管理", "建立医共体人力资源管理中心", "各医共体", ""),
        ("2026年12月31日", "2.1", "提升基层服务能力", "乡镇卫生院开展住院服务，床位使用率不低于60%", "罗定市第二医共体", "季度调度"),
    ])
    page.goto(f"{base}/tasks/regions/{county.pk}/import/")
    page.set_input_files('input[name="file"]', ledger)
    page.get_by_role("button", name="上传并预览").click()
    body_text(page)
    page.screenshot(path=str(artifacts_dir() / "onboarding_3_ledger_unmapped.png"), full_page=True)
    panel = page.locator("#column-mapping")
    assert panel.get_attribute("open") is not None, "the mapping panel is closed although columns need mapping"
    row = panel.locator("tr", has_text="工作举措")
    row.locator("select").select_option("content")
    panel.locator("tr", has_text="主抓单位").locator("select").select_option("lead")
    page.screenshot(path=str(artifacts_dir() / "onboarding_3_ledger_mapping.png"), full_page=True)
    panel.get_by_role("button", name="按此对应关系重新预览").click()
    text = body_text(page)
    page.screenshot(path=str(artifacts_dir() / "onboarding_3_ledger_preview.png"), full_page=True)
    assert "备注列，已忽略" in panel.locator("tr", has_text="备注").text_content()  # still a notes column
    for words in ("建立医共体财务管理中心", "各医共体 →", "第一医共体", "第二医共体"):
        assert words in text, text[:4000]
    page.get_by_role("button", name="确认导入").click()
    text = body_text(page)
    assert "台账已导入" in text, text[:3000]
    state["first_table"] = True
    _check(page, base, county.pk, "3_ledger", **state)

    # 4. What the checklist asks next: each form's first live period, the recipients.
    page.locator("#line-forms").get_by_role("link").click()  # the checklist's link: every form's first period
    text = body_text(page)
    assert all(form.name in text for form in forms), text[:3000]
    # A wrong period is refused by name and nothing is saved; then every form at once.
    quarterly = next(form for form in forms if form.period_kind == "quarter")
    page.fill(f'input[name="first_{quarterly.pk}"]', str(first_month))
    page.get_by_role("button", name="保存").click()
    assert "但该报表按季度填报" in body_text(page), body_text(page)[:2000]
    for form in forms:
        page.fill(f'input[name="first_{form.pk}"]', str(first_month if form.period_kind == "month" else first_quarter))
    page.screenshot(path=str(artifacts_dir() / "onboarding_4_first_periods.png"), full_page=True)
    page.get_by_role("button", name="保存").click()
    assert "/first-periods/" not in page.url, body_text(page)[:3000]
    state["forms"] = True
    _check(page, base, county.pk, "4_forms", **state)
    page.locator("#line-recipients").get_by_role("link").click()  # the county's report settings
    body_text(page)
    page.screenshot(path=str(artifacts_dir() / "onboarding_4_recipients_settings.png"), full_page=True)
    page.locator('a[href$="/recipients/?kind=monthly"]').click()
    page.fill('textarea[name="emails"]', "director@luoding.example.cn")
    page.locator('form:has(textarea[name="emails"]) [type="submit"]').click()
    assert "director@luoding.example.cn" in body_text(page)
    _check(page, base, county.pk, "4_recipients", **state)

    # The checklist's filers link: the county's accounts, where the bureau creates the alliance
    # offices' accounts (an alliance office files for its members).
    for username, alliance in (("ld_gt1", "罗定市第一医共体"), ("ld_gt2", "罗定市第二医共体")):
        page.goto(f"{base}/reports/regions/{county.pk}/go-live/")
        page.locator("#line-filers").get_by_role("link").click()
        page.get_by_role("link", name="新建用户").click()
        page.fill('input[name="full_name"]', f"{alliance}办公室")
        page.fill('input[name="username"]', username)
        page.select_option('select[name="role"]', "alliance_admin")
        page.select_option('select[name="unit"]', label=alliance)
        page.get_by_role("button", name="创建账号").click()
        text = body_text(page)
        assert "账号已创建" in text and username in text, text[:3000]
    page.screenshot(path=str(artifacts_dir() / "onboarding_4_filer.png"), full_page=True)
    state["filers"] = True
    _check(page, base, county.pk, "4_filers", **state)

    # 5. A year of history for every form: one value a period, except the quarterly public health
    # form, which carries the figures of 重点人群签约率 (A4_36) the 同比 comparison is judged against.
    same_quarter = Period(first_quarter.year - 1, PeriodKind.QUARTER, first_quarter.index)
    signed = {"素龙镇卫生院": (1200, 780), "附城镇卫生院": (800, 430)}  # 重点人群人数, 签约人数 in that quarter
    for form in forms:
        first = first_month if form.period_kind == "month" else first_quarter
        rows = [("机构", "报告期", "数据项", "数值")]
        period = Period(first.year - 1, first.kind, first.index)
        while period < first:
            if form.code == "QUARTERLY_PH":
                for name, (people, done) in signed.items():
                    bump = 0 if period == same_quarter else 50
                    rows += [(name, str(period), "重点人群人数", people + bump),
                             (name, str(period), "重点人群签约服务人数", done)]
            elif form.filer_level == "county":
                rows.append(("罗定市", str(period), _FIRST_ELEMENT[form.code], 400000))
            else:
                rows.append(("罗定市人民医院", str(period), _FIRST_ELEMENT[form.code], 1000 + period.index))
            period = period.next
        upload = _xlsx(tmp_path / f"{form.code}_history.xlsx", rows)
        page.goto(f"{base}/report-forms/{form.pk}/history/")
        page.set_input_files('input[name="file"]', upload)
        page.get_by_role("button", name="上传并预览").click()
        text = body_text(page)
        if form.code == "QUARTERLY_PH":
            page.screenshot(path=str(artifacts_dir() / "onboarding_5_history_preview.png"), full_page=True)
        page.get_by_role("button", name="确认导入").click()
        text = body_text(page)
        assert "历史数据已导入" in text, text[:3000]
    page.screenshot(path=str(artifacts_dir() / "onboarding_5_history_done.png"), full_page=True)
    state["history"] = True
    _check(page, base, county.pk, "5_history", **state)
    assert all(state.values())

    # 7. The first live quarter's indicator table: 同比 of 重点人群签约率 from the history,
    # (780 + 430) / (1200 + 800) = 60.50%.
    page.goto(f"{base}/indicators/?county={county.pk}&period={first_quarter}")
    body_text(page)
    page.screenshot(path=str(artifacts_dir() / "onboarding_7_indicators.png"), full_page=True)
    row = page.locator("tr", has_text="重点人群家庭医生签约率").first
    headers = [h.strip() for h in page.locator("table thead th").all_inner_texts()]
    cells = [c.strip() for c in row.locator("td, th").all_inner_texts()]
    assert "60.50" in cells[headers.index("上年同期")], (headers, cells)


_FIRST_ELEMENT = {"MONTHLY_OPS": "OP_VISITS", "FINANCE_EXPENSE": "EXP_OTHER", "STAFFING": "ST_STAFF",
                  "STAFFING_COUNTY": "RESIDENT_POP", "COUNTY_INSURANCE": "FUND_TOTAL"}
