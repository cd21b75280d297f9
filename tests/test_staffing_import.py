"""The roster (花名册) import: a workbook checked cell by cell (errors named by row and column, nothing
saved), previewed (new / updated / unchanged, identity numbers masked) and saved on confirmation,
all or nothing; the identity numbers encrypted in the session; who may import; the template
workbook; constant queries whatever the number of rows."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from accounts.models import Grant, Role
from staffing import identity
from staffing.models import Staff
from staffing.roster_import_views import SESSION_KEY
from tests.conftest import IDS
from tests.factories import UserFactory, grant

URL = "/staffing/roster/import/"
CONFIRM = "/staffing/roster/import/confirm/"
ROSTER = "/staffing/roster/"
HEADER = ["姓名", "身份证号", "工作单位", "编制所在单位", "人员类别", "编制性质", "专业类别", "岗位类别", "职称", "学历",
          "入职日期", "合同到期日", "离职日期"]


def make_id(serial: int, birth: str = "19900101", area: str = "445322") -> str:
    """A valid identity number (GB 11643 check digit)."""
    body = f"{area}{birth}{serial:03d}"
    return body + identity.check_digit(body)


def person(name, number, institution, **cells) -> dict:
    """A row by column title; the required cells filled unless given."""
    row = {"姓名": name, "身份证号": number, "工作单位": institution, "人员类别": "在编", "专业类别": "医师",
           "学历": "本科", "入职日期": "2020-07-01"}
    row.update(cells)
    return row


def xlsx(rows: list[dict], header=HEADER, above: list[list] = ()) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "花名册"
    for line in above:
        ws.append(line)
    ws.append(header)
    for row in rows:
        ws.append([row.get(title) for title in header])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def upload(content: bytes, name="花名册.xlsx"):
    return SimpleUploadedFile(name, content,
                              content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def post(client, content: bytes, name="花名册.xlsx"):
    return client.post(URL, {"file": upload(content, name)})


@pytest.fixture
def hr(staffing_world, as_user):
    staffing_world.client = as_user(staffing_world.hr_alliance)
    return staffing_world


def test_a_good_file_is_previewed_masked_then_saved_on_confirmation(hr):
    w = hr
    new_one, new_two = make_id(11, "19880215"), make_id(22, "19951130")
    before = Staff.objects.count()
    nurse_updated_at = w.nurse.updated_at
    content = xlsx([
        person("黄新医", new_one, "县人民医院", 职称="主治医师", 入职日期=date(2021, 8, 1), 合同到期日="2031/7/31"),
        person(" 周 新护 ", new_two, "平台镇卫生院", 编制所在单位="县人民医院", 人员类别="编外",
               专业类别="护士", 职称="护士", 学历="大专", 入职日期="2022年3月1日", 岗位类别="专业技术"),
        # 李医生 promoted: 副主任医师 (associate); 20100701 is his hire date as digits.
        person("李医生", IDS["doctor"], "县人民医院", 职称="副主任医师", 入职日期=20100701),
        # 王护士 as she is: unchanged.
        person("王护士", IDS["nurse"], "平台镇卫生院", 专业类别="护士", 职称="初级（师级）", 学历="大专",
               入职日期="2016-08-01", 合同到期日=date(2027, 1, 15)),
    ])
    response = post(w.client, content)
    text = response.content.decode()
    assert response.status_code == 200, text
    assert "共4人，无错误——新增2人，更新1人，无变化1人" in text
    assert identity.mask(new_one) in text and identity.mask(IDS["doctor"]) in text
    for number in (new_one, new_two, IDS["doctor"], IDS["nurse"]):
        assert number not in text  # never whole in the page
    assert "黄新医" in text and "周 新护" in text and "2021-08-01" in text
    assert '更新</span> <span class="text-body-secondary">职称</span>' in text  # what the update changes
    assert Staff.objects.count() == before  # the preview saves nothing
    stored = json.dumps(w.client.session[SESSION_KEY])
    for number in (new_one, new_two, IDS["doctor"], IDS["nurse"]):
        assert number not in stored  # encrypted in the session

    confirm = w.client.post(CONFIRM)
    assert confirm.status_code == 302 and confirm.url == ROSTER
    assert Staff.objects.count() == before + 2
    first = Staff.objects.get(name="黄新医")
    assert identity.decrypt(first.id_cipher) == new_one and first.id_masked == identity.mask(new_one)
    assert first.institution == w.hospital and first.home == w.hospital and first.title == "intermediate"
    assert first.hired_on == date(2021, 8, 1) and first.contract_end == date(2031, 7, 31)
    assert first.gender == identity.gender_of(new_one) and first.county == w.yn
    second = Staff.objects.get(id_digest=identity.digest(new_two))
    assert second.name == "周 新护" and identity.decrypt(second.id_cipher) == new_two
    assert second.institution == w.centre and second.home == w.hospital
    assert (second.employment, second.profession, second.title, second.education) == (
        "contract", "nurse", "assistant", "college")
    assert second.hired_on == date(2022, 3, 1)
    w.doctor.refresh_from_db()
    assert w.doctor.title == "associate" and w.doctor.hired_on == date(2010, 7, 1)
    w.nurse.refresh_from_db()
    assert w.nurse.updated_at == nurse_updated_at  # unchanged: not written
    assert w.client.session[SESSION_KEY] == {"done": True}  # the rows are gone; a second click is told so
    messages = [str(m) for m in confirm.wsgi_request._messages]
    assert "花名册已导入：新增2人，更新1人，无变化1人。" in messages

    # The same file again: everybody is on the roster already; nobody is added twice.
    again = post(w.client, content)
    assert "新增0人，更新0人，无变化4人" in again.content.decode()
    w.client.post(CONFIRM)
    assert Staff.objects.count() == before + 2
    # A changed file updates the people in place.
    post(w.client, xlsx([person("黄新医", new_one, "平台镇卫生院", 学历="研究生", 离职日期="2026.5.31")]))
    assert w.client.post(CONFIRM).status_code == 302
    first.refresh_from_db()
    assert first.institution == w.centre and first.home == w.hospital  # the home (编制) stays
    assert first.education == "postgraduate" and first.left_on == date(2026, 5, 31)
    assert Staff.objects.filter(id_digest=identity.digest(new_one)).count() == 1
    # A second confirmation has nothing left to save: it goes to the roster, saying so (issue 16).
    again = w.client.post(CONFIRM)
    assert again.url == reverse("staffing:roster")
    assert "这次导入已经确认过了。" in [str(m) for m in again.wsgi_request._messages]


def test_header_found_below_title_rows_in_any_order(hr):
    w = hr
    header = ["学历", "入职日期", "姓名", "工作单位", "专业类别", "人员类别", "身份证号*", "序号"]
    content = xlsx([{"学历": "硕士", "入职日期": "2023-09-01", "姓名": "吴研究", "工作单位": "桂圩镇卫生院",
                     "专业类别": "全科医生", "人员类别": "员额备案", "身份证号*": make_id(33), "序号": 1}],
                   header=header, above=[["郁南县第一医共体人员花名册"], [], ["填报单位：第一医共体"]])
    response = post(w.client, content)
    assert response.status_code == 200, response.content.decode()
    w.client.post(CONFIRM)
    staff = Staff.objects.get(name="吴研究")
    assert (staff.institution, staff.education, staff.profession, staff.employment) == (
        w.centre2, "postgraduate", "gp", "quota")
    assert staff.title == "none" and staff.post_type == "professional" and staff.nature == ""


def test_bad_cells_are_named_by_row_and_column_and_nothing_is_saved(hr):
    w = hr
    before = Staff.objects.count()
    good = make_id(44)
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    twice = make_id(55)
    content = xlsx([
        person("甲", bad_check, "县人民医院"),  # row 2
        person("乙", make_id(66), "某某卫生院"),  # row 3
        person(None, make_id(77), "县人民医院"),  # row 4
        person("丙", twice, "县人民医院"),  # row 5
        person("丁", twice, "县人民医院"),  # row 6
        person("戊", make_id(88), "县人民医院", 人员类别="临时工"),  # row 7
        person("己", make_id(99), "县人民医院", 入职日期="2020-13-01"),  # row 8
        person("庚", make_id(101), "县人民医院", 入职日期="2020-07-01", 合同到期日="2019-01-01"),  # row 9
        person("辛", 445322199001011230, "县人民医院"),  # row 10: the number typed as a number
        person("壬", make_id(102), "县人民医院", 专业类别="主治医师"),  # row 11: a title, not a profession
        person("癸", "44532219900101", "县人民医院"),  # row 12: too short
        person("子", make_id(103), "县人民医院", 学历=None),  # row 13
        person("丑", make_id(104), "县人民医院", 编制所在单位="县中医院"),  # row 14: 第三医共体's
        person("寅", make_id(105), "县人民医院", 离职日期="2019-12-31"),  # row 15
        person("卯", make_id(106), "县人民医院", 职称="教授"),  # row 16
    ])
    response = post(w.client, content)
    text = response.content.decode()
    assert response.status_code == 400
    assert f"第2行B列：身份证号“{bad_check}”校验位不符（某位输错）。" in text
    assert "第3行C列：“某某卫生院”不是您可维护花名册的机构。" in text
    assert "第4行A列：姓名未填写。" in text
    assert f"第6行B列：身份证号{identity.mask(twice)}与第5行重复。" in text
    assert "第7行E列：“临时工”不是人员类别的可填值（可填：在编、编外、员额备案、乡村医生、劳务派遣）。" in text
    assert "第8行K列：“2020-13-01”不是日期" in text
    assert "第9行L列：合同到期日（2019-01-01）早于入职日期（2020-07-01）。" in text
    assert "第10行B列：身份证号被存成了数字" in text
    assert "第11行G列：“主治医师”不是专业类别的可填值" in text
    assert "第12行B列：身份证号“44532219900101”身份证号应为18位" in text
    assert "第13行J列：学历未填写。" in text
    assert "第14行D列：“县中医院”不是您可维护花名册的机构。" in text
    assert "第15行M列：离职日期（2019-12-31）早于入职日期（2020-07-01）。" in text
    assert "第16行I列：“教授”不是职称的可填值" in text
    assert text.count("<li>第") == 14  # one error each, nothing else
    assert Staff.objects.count() == before and SESSION_KEY not in w.client.session


def test_bad_headers_are_named(hr):
    w = hr
    unknown = post(w.client, xlsx([person("甲", make_id(1), "县人民医院")], header=HEADER + ["备注"]))
    assert unknown.status_code == 400
    assert "第1行N列：“备注”不是花名册的列" in unknown.content.decode()
    missing = post(w.client, xlsx([person("甲", make_id(1), "县人民医院")], header=[t for t in HEADER if t != "学历"]))
    assert "第1行：缺少“学历”列。" in missing.content.decode()
    twice = post(w.client, xlsx([], header=HEADER + ["姓名"]))
    assert "第1行N列：“姓名”列重复（已在A列）。" in twice.content.decode()
    no_header = post(w.client, xlsx([], header=["名字", "身份证"], above=[[]] * 10))
    assert "前10行中没有含“姓名”的表头行" in no_header.content.decode()
    nobody = post(w.client, xlsx([]))
    assert nobody.status_code == 400 and "表头行（第1行）以下没有可导入的人员" in nobody.content.decode()
    assert not Staff.objects.filter(name="甲").exists()


def test_files_that_are_not_an_xlsx_roster_are_refused(hr):
    w = hr
    for content, name in ((b"a,b\n1,2", "花名册.xlsx"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "花名册.xls")):
        response = post(w.client, content, name)
        assert response.status_code == 400
        assert f"“{name}”不是 .xlsx 工作簿：只接受 .xlsx 文件" in response.content.decode()
    macros = post(w.client, _macro_workbook(), "花名册.xlsm")  # in the words of every upload (core.uploads)
    assert macros.status_code == 400 and "“花名册.xlsm”含有宏" in macros.content.decode()
    big = post(w.client, b"PK\x03\x04" + b"\0" * (2 * 1024 * 1024))
    assert big.status_code == 400 and "文件超过2MB" in big.content.decode()
    empty = w.client.post(URL, {"file": upload(b"")})
    assert empty.status_code == 400 and "未保存任何内容" in empty.content.decode()
    assert w.client.post(URL, {}).status_code == 400
    damaged = post(w.client, _zip({"[Content_Types].xml": b"spreadsheetml", "xl/workbook.xml": b"<broken"}))
    assert damaged.status_code == 400 and "无法作为工作簿读取" in damaged.content.decode()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _macro_workbook() -> bytes:
    """A real workbook with a VBA project inside (whatever its name)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx([person("甲", make_id(1), "县人民医院")])))
    entries = {info.filename: source.read(info.filename) for info in source.infolist()}
    entries["xl/vbaProject.bin"] = b"\0" * 16
    return _zip(entries)


def test_more_than_5000_people_or_200_errors(hr):
    w = hr
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("花名册")
    ws.append(HEADER)
    for n in range(5001):
        ws.append([f"人{n}"])
    buffer = io.BytesIO()
    wb.save(buffer)
    response = post(w.client, buffer.getvalue())
    assert response.status_code == 400 and "文件超过5,000人" in response.content.decode()

    many = post(w.client, xlsx([person(f"人{n}", "123", "县人民医院") for n in range(250)]))
    text = many.content.decode()
    assert many.status_code == 400 and text.count("<li>第") == 200 and "……另有50个问题未列出。" in text


def test_who_may_import(staffing_world, as_user):
    w = staffing_world
    content = xlsx([person("甲", make_id(1), "县人民医院")])
    for user in (w.nobody,):
        client = as_user(user)
        assert client.get(URL).status_code == 404
        assert client.post(URL, {"file": upload(content)}).status_code == 404
        assert client.post(CONFIRM).status_code == 404
    for user in (w.city, w.province, w.supervisor, w.filer):  # they see the portal, keep no roster
        client = as_user(user)
        assert client.get(URL).status_code == 403
        assert client.post(URL, {"file": upload(content)}).status_code == 403
        assert client.post(CONFIRM).status_code == 403
    for user in (w.hr_hospital, w.hr_alliance, w.hr_county, w.alliance_admin, w.bureau, w.bureau_admin):
        page = as_user(user).get(URL)
        assert page.status_code == 200 and 'name="file"' in page.content.decode()
    assert not Staff.objects.filter(name="甲").exists()


def test_the_outsider_cannot_touch_the_other_countys_roster(staffing_world, as_user):
    """万源市's bureau keeps 万源市's roster (and may import it); 郁南县's institutions are not theirs and
    nothing of 郁南县 shows on their page."""
    w = staffing_world
    client = as_user(w.outsider)
    page = client.get(URL).content.decode()
    assert "县人民医院" not in page and "郁南县" not in page
    response = client.post(URL, {"file": upload(xlsx([person("甲", make_id(1), "县人民医院"),
                                                     person("乙", IDS["doctor"], "市人民医院")]))})
    assert response.status_code == 400
    assert "第2行C列：“县人民医院”不是您可维护花名册的机构。" in response.content.decode()
    assert client.post(CONFIRM).url == URL
    assert not Staff.objects.filter(name__in=["甲", "乙"]).exists()
    template = load_workbook(io.BytesIO(client.get(URL, {"template": 1}).content))
    names = [c.value for c in template["填写说明"]["A"]]
    assert "市人民医院" in names and "县人民医院" not in names


def test_an_hospital_hr_officer_keeps_only_the_hospitals_roster(staffing_world, as_user):
    w = staffing_world
    client = as_user(w.hr_hospital)
    response = client.post(URL, {"file": upload(xlsx([person("甲", make_id(1), "县人民医院"),
                                                     person("乙", make_id(2), "平台镇卫生院")]))})
    assert response.status_code == 400
    assert "第3行C列：“平台镇卫生院”不是您可维护花名册的机构。" in response.content.decode()
    # Nor may the hospital take over a person of 平台镇卫生院's roster by the number.
    taken = client.post(URL, {"file": upload(xlsx([person("王护士", IDS["nurse"], "县人民医院")]))})
    assert taken.status_code == 400
    assert (f"第2行B列：身份证号为{identity.mask(IDS['nurse'])}的人员在您不维护的机构的花名册上"
            in taken.content.decode())
    w.nurse.refresh_from_db()
    assert w.nurse.institution == w.centre and not Staff.objects.filter(name__in=["甲", "乙"]).exists()


def test_confirm_saves_only_a_preview_of_this_user_still_valid(hr):
    w = hr
    before = Staff.objects.count()
    # No preview.
    response = w.client.post(CONFIRM, follow=True)
    assert response.redirect_chain[-1][0] == URL and "没有待导入的内容，请重新上传文件。" in response.content.decode()
    # A preview stored by hand: plain numbers, another user's, or rubbish: nothing is saved.
    forged_rows = [{"line": 2, "cipher": make_id(1), "name": "甲", "institution": w.hospital.pk,
                    "employment": "established", "profession": "doctor", "education": "bachelor",
                    "hired_on": "2020-07-01"}]
    for forged in ({"user": w.hr_alliance.pk, "county": w.yn.pk, "rows": forged_rows},
                   {"user": w.hr_county.pk, "county": w.yn.pk,
                    "rows": [dict(forged_rows[0], cipher=identity.encrypt(make_id(1)))]},
                   {"user": w.hr_alliance.pk, "county": w.yn.pk,
                    "rows": [dict(forged_rows[0], cipher=identity.encrypt(make_id(1)), employment="boss")]},
                   {"user": w.hr_alliance.pk, "county": w.yn.pk, "rows": "x"},
                   "x"):
        session = w.client.session
        session[SESSION_KEY] = forged
        session.save()
        assert w.client.post(CONFIRM).url == URL
    assert Staff.objects.count() == before
    # An institution outside the user's roster smuggled into a well-formed preview.
    session = w.client.session
    session[SESSION_KEY] = {"user": w.hr_alliance.pk, "county": w.yn.pk,
                            "rows": [dict(forged_rows[0], cipher=identity.encrypt(make_id(1)), institution=w.tcm.pk)]}
    session.save()
    refused = w.client.post(CONFIRM, follow=True)
    assert "预览之后，您可维护的机构或文件中的人员发生了变化，未保存任何内容。" in refused.content.decode()
    assert Staff.objects.count() == before

    # A real preview, then the user's grant is withdrawn and given on the hospital only: nothing saved.
    assert post(w.client, xlsx([person("甲", make_id(1), "县人民医院"),
                                person("乙", make_id(2), "平台镇卫生院")])).status_code == 200
    Grant.objects.filter(user=w.hr_alliance).delete()
    grant(w.hr_alliance, Role.HR_OFFICER, w.hospital)
    assert w.client.post(CONFIRM).url == URL
    assert Staff.objects.count() == before


def test_rows_of_two_counties_are_refused(staffing_world, as_user):
    w = staffing_world
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = as_user(admin)
    response = client.post(URL, {"file": upload(xlsx([person("甲", make_id(1), "县人民医院"),
                                                     person("乙", make_id(2, area="511781"), "市人民医院")]))})
    assert response.status_code == 400
    assert "各行的机构不属于同一个县（万源市、郁南县）" in response.content.decode()
    one = client.post(URL, {"file": upload(xlsx([person("乙", make_id(2, area="511781"), "白沙镇分院")]))})
    assert one.status_code == 200
    assert client.post(CONFIRM).status_code == 302
    assert Staff.objects.get(name="乙").county == w.wy


def test_the_template_downloads_and_imports_back(hr):
    w = hr
    response = w.client.get(URL, {"template": 1})
    assert response.status_code == 200 and "spreadsheetml" in response["Content-Type"]
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["花名册"]
    assert [c.value for c in sheet[1]] == HEADER
    example = sheet[2]
    assert example[0].value.startswith("示例") and example[0].font.i and example[0].font.color.rgb.endswith("808080")
    guide = [[c.value for c in row] for row in book["填写说明"].iter_rows()]
    accepted = {row[0]: row[2] for row in guide if row and row[0] in HEADER}
    assert accepted["人员类别"] == "在编、编外、员额备案、乡村医生、劳务派遣"
    assert accepted["职称"] == "正高级、副高级、中级、初级（师级）、士级、无"
    assert accepted["学历"] == "研究生、本科、大专、中专、高中及以下"
    names = [row[0] for row in guide]
    assert {"县人民医院", "平台镇卫生院", "桂圩镇卫生院", "平台镇大村卫生站"} <= set(names)
    assert "县中医院" not in names  # 第三医共体's
    # The template as downloaded: the example row is skipped, so there is nobody to import.
    untouched = post(w.client, response.content)
    assert untouched.status_code == 400 and "以下没有可导入的人员" in untouched.content.decode()
    # Filled in below the example: imported.
    sheet.append(["何填表", make_id(7), "平台镇卫生院", None, "乡村医生", None, "其他", "工勤技能", "无", "中专",
                  date(2019, 5, 1)])
    buffer = io.BytesIO()
    book.save(buffer)
    assert post(w.client, buffer.getvalue()).status_code == 200
    assert w.client.post(CONFIRM).url == ROSTER
    staff = Staff.objects.get(name="何填表")
    assert (staff.employment, staff.post_type, staff.education) == ("village_doctor", "support", "secondary")


def test_preview_queries_do_not_grow_with_the_rows(hr):
    w = hr

    def content(n):
        rows = [person(f"人{i}", make_id(200 + i), "平台镇卫生院" if i % 2 else "县人民医院") for i in range(n)]
        rows.append(person("李医生", IDS["doctor"], "县人民医院", 职称="主治医师"))
        return xlsx(rows)

    small, large = content(3), content(30)
    post(w.client, small)  # warm up (session, caches)
    with CaptureQueriesContext(connection) as three:
        assert post(w.client, small).status_code == 200
    with CaptureQueriesContext(connection) as thirty:
        assert post(w.client, large).status_code == 200
    assert len(three) == len(thirty), [q["sql"] for q in thirty]
