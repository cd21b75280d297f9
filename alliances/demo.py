"""Demo data: two counties from the seed documents, and the loader that writes them.

The data are plain Python structures (``REGIONS``, ``INSTITUTIONS``, ``ALLIANCES``,
``MOVES``, ``JOINT_OFFICES``, ``GOVERNANCE``, ``USERS``) so later work can extend them;
``load_demo()`` writes them idempotently, keyed by natural keys, in one transaction.

What comes from the seeds and what is invented (sample data):

- 郁南县 (seed 001, 郁府办函〔2020〕78号 §三(二)2): the three alliances, their lead
  hospitals, their member institutions and the two joint offices (两个牌子一套人马) are
  as the document lists them; the alliances are dated 2020-06-01, the date by which the
  document sets full coverage. 县疾病预防控制中心 is named in 附件3.
- 万源市 (seed 002, §二(一)): one alliance "1+1+N" with its 总医院 at 市人民医院, and
  市中医院 and 市妇计中心 as members; started at the end of 2024 (2024年底全面启动);
  党委、理事会、监事会 of seven each with the positions the document lists.
- SAMPLE (invented, not from any document): every unified social credit code, bed count
  and service population (of seed-named institutions too); every village clinic and its
  village name; the township 分院 of 万源市; every person name (governance seats and
  demo users); and the history of 南江口镇卫生院, which is shown in 第二医共体 from
  2020-06-01 and moved to 第一医共体 on 2021-01-01 only to demonstrate effective-dated
  membership — seed 001 places it in 第一医共体 from the start.
  ``Institution.is_sample`` is True for the invented institutions; the single flag
  cannot mark invented figures of a real institution, so read the list above.

Service population is counted at the township centres (基本公共卫生服务人口) and their
village clinics; county-level hospitals carry 0 so that a county or alliance total is not
counted twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.utils.translation import gettext as _

from accounts.models import Grant, Role
from alliances.models import Alliance, AllianceMembership, GovernanceMember, Institution, JointOffice, Region
from alliances.services import institution_move, joint_office_create, membership_create
from alliances.validators import uscc_check_character
from core.demo import DemoReport

DEMO_PASSWORD = "Yigongti-2026"

K = Institution.Kind
LEAD = AllianceMembership.Role.LEAD
MEMBER = AllianceMembership.Role.MEMBER
Body = GovernanceMember.Body

YUNAN = "445322"
WANYUAN = "511781"


def sample_uscc(county_code: str, serial: int) -> str:
    """A valid but invented 18-character unified social credit code of a public institution
    (登记管理部门 1 = 机构编制, 类别 2 = 事业单位) in ``county_code``. The 9-character
    organisation code carries its GB 11714 check character, the whole code its GB 32100 one."""
    body = f"7{county_code[3:]}{serial:04d}"
    remainder = 11 - sum(int(ch) * w for ch, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    organisation_code = body + {10: "X", 11: "0"}.get(remainder, str(remainder))
    first17 = f"12{county_code}{organisation_code}"
    return first17 + uscc_check_character(first17)


# Regions (GB/T 2260) ------------------------------------------------------------------------

REGIONS: list[dict[str, Any]] = [
    {"code": "440000", "name": "广东省", "level": Region.Level.PROVINCE, "parent": None},
    {"code": "445300", "name": "云浮市", "level": Region.Level.CITY, "parent": "440000"},
    {"code": YUNAN, "name": "郁南县", "level": Region.Level.COUNTY, "parent": "445300"},
    {"code": "510000", "name": "四川省", "level": Region.Level.PROVINCE, "parent": None},
    {"code": "511700", "name": "达州市", "level": Region.Level.CITY, "parent": "510000"},
    {"code": WANYUAN, "name": "万源市", "level": Region.Level.COUNTY, "parent": "511700"},
]


# Institutions ---------------------------------------------------------------------------------
# county, full name, short name, kind, sample credit-code serial, beds, service population,
# is_sample (True = the institution itself is invented).

def _institution(county: str, name: str, short_name: str, kind: str, serial: int, beds: int,
                 population: int, *, is_sample: bool = False) -> dict[str, Any]:
    return {
        "county": county, "name": name, "short_name": short_name, "kind": kind, "parent": None,
        "credit_code": sample_uscc(county, serial), "beds": beds, "service_population": population,
        "is_sample": is_sample,
    }


INSTITUTIONS: list[dict[str, Any]] = [
    # 郁南县: county level (seed 001).
    _institution(YUNAN, "郁南县人民医院", "县人民医院", K.COUNTY_GENERAL_HOSPITAL, 1, 650, 0),
    _institution(YUNAN, "郁南县第二人民医院", "县第二人民医院", K.COUNTY_GENERAL_HOSPITAL, 2, 300, 0),
    _institution(YUNAN, "郁南县中医院", "县中医院", K.TCM_HOSPITAL, 3, 400, 0),
    _institution(YUNAN, "郁南县妇幼保健院", "县妇幼保健院", K.MCH_HOSPITAL, 4, 120, 0),
    _institution(YUNAN, "郁南县疾病预防控制中心", "县疾病预防控制中心", K.CDC, 5, 0, 0),
    # 郁南县: the 15 township centres (seed 001).
    _institution(YUNAN, "郁南县都城镇卫生院", "都城镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 11, 30, 80000),
    _institution(YUNAN, "郁南县平台镇卫生院", "平台镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 12, 40, 25000),
    _institution(YUNAN, "郁南县桂圩镇卫生院", "桂圩镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 13, 35, 18000),
    _institution(YUNAN, "郁南县南江口镇卫生院", "南江口镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 14, 40, 20000),
    _institution(YUNAN, "郁南县大湾镇卫生院", "大湾镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 15, 45, 22000),
    _institution(YUNAN, "郁南县河口镇卫生院", "河口镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 16, 40, 20000),
    _institution(YUNAN, "郁南县宋桂镇卫生院", "宋桂镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 17, 30, 16000),
    _institution(YUNAN, "郁南县东坝镇卫生院", "东坝镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 18, 45, 23000),
    _institution(YUNAN, "郁南县连滩中心卫生院", "连滩中心卫生院", K.CENTRAL_HEALTH_CENTRE, 19, 60, 40000),
    _institution(YUNAN, "郁南县历洞镇卫生院", "历洞镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 20, 35, 18000),
    _institution(YUNAN, "郁南县通门镇卫生院", "通门镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 21, 40, 22000),
    _institution(YUNAN, "郁南县建城中心卫生院", "建城中心卫生院", K.CENTRAL_HEALTH_CENTRE, 22, 80, 30000),
    _institution(YUNAN, "郁南县宝珠镇卫生院", "宝珠镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 23, 30, 15000),
    _institution(YUNAN, "郁南县大方镇卫生院", "大方镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 24, 35, 18000),
    _institution(YUNAN, "郁南县千官中心卫生院", "千官中心卫生院", K.CENTRAL_HEALTH_CENTRE, 25, 70, 25000),
    # 万源市: county level (seed 002).
    _institution(WANYUAN, "万源市人民医院", "市人民医院", K.COUNTY_GENERAL_HOSPITAL, 1, 800, 0),
    _institution(WANYUAN, "万源市中医院", "市中医院", K.TCM_HOSPITAL, 2, 500, 0),
    _institution(WANYUAN, "万源市妇幼保健计划生育服务中心", "市妇计中心", K.MCH_HOSPITAL, 3, 150, 0),
    # 万源市: township 分院 (sample).
    _institution(WANYUAN, "万源市青花镇中心卫生院", "青花镇中心卫生院", K.CENTRAL_HEALTH_CENTRE, 11, 80, 35000,
                 is_sample=True),
    _institution(WANYUAN, "万源市旧院镇中心卫生院", "旧院镇中心卫生院", K.CENTRAL_HEALTH_CENTRE, 12, 60, 30000,
                 is_sample=True),
    _institution(WANYUAN, "万源市罗文镇中心卫生院", "罗文镇中心卫生院", K.CENTRAL_HEALTH_CENTRE, 13, 50, 26000,
                 is_sample=True),
    _institution(WANYUAN, "万源市白沙镇卫生院", "白沙镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 14, 30, 18000,
                 is_sample=True),
    _institution(WANYUAN, "万源市竹峪镇卫生院", "竹峪镇卫生院", K.TOWNSHIP_HEALTH_CENTRE, 15, 25, 15000,
                 is_sample=True),
    _institution(WANYUAN, "万源市庙垭乡卫生院", "庙垭乡卫生院", K.TOWNSHIP_HEALTH_CENTRE, 16, 20, 9000,
                 is_sample=True),
]

# Village clinics (all sample): managing centre → (township, suffix, [(village, population)]).
# Guangdong says 村卫生站, Sichuan 村卫生室. A clinic run by its centre has no credit code of its own.
VILLAGE_CLINICS: dict[tuple[str, str], tuple[str, str, list[tuple[str, int]]]] = {
    (YUNAN, "郁南县都城镇卫生院"): ("都城镇", "卫生站", [("大塘村", 3200), ("新城村", 2800)]),
    (YUNAN, "郁南县平台镇卫生院"): ("平台镇", "卫生站", [("大垌村", 2100), ("石龙村", 1800), ("新塘村", 1500)]),
    (YUNAN, "郁南县桂圩镇卫生院"): ("桂圩镇", "卫生站", [("罗坑村", 1900), ("水口村", 1600)]),
    (YUNAN, "郁南县南江口镇卫生院"): ("南江口镇", "卫生站", [("黄竹村", 1700), ("江口村", 2400), ("大历村", 1400)]),
    (YUNAN, "郁南县大湾镇卫生院"): ("大湾镇", "卫生站", [("石桥村", 2000), ("凤岗村", 1800)]),
    (YUNAN, "郁南县河口镇卫生院"): ("河口镇", "卫生站", [("沙坪村", 1600), ("白石村", 1500), ("龙湾村", 1900)]),
    (YUNAN, "郁南县宋桂镇卫生院"): ("宋桂镇", "卫生站", [("云岭村", 1400), ("松柏村", 1700)]),
    (YUNAN, "郁南县东坝镇卫生院"): ("东坝镇", "卫生站", [("大同村", 2200), ("长岗村", 1800), ("东岸村", 1600)]),
    (YUNAN, "郁南县连滩中心卫生院"): ("连滩镇", "卫生站", [("西坝村", 2600), ("兰寨村", 2300)]),
    (YUNAN, "郁南县历洞镇卫生院"): ("历洞镇", "卫生站", [("历山村", 1500), ("榕树村", 1700), ("石门村", 1300)]),
    (YUNAN, "郁南县通门镇卫生院"): ("通门镇", "卫生站", [("通德村", 2000), ("双龙村", 1800)]),
    (YUNAN, "郁南县建城中心卫生院"): ("建城镇", "卫生站", [("建南村", 2500), ("碧岗村", 1900), ("新联村", 1600)]),
    (YUNAN, "郁南县宝珠镇卫生院"): ("宝珠镇", "卫生站", [("宝山村", 1600), ("庞寨村", 1400)]),
    (YUNAN, "郁南县大方镇卫生院"): ("大方镇", "卫生站", [("大方村", 2100), ("鹤岗村", 1500), ("石头村", 1300)]),
    (YUNAN, "郁南县千官中心卫生院"): ("千官镇", "卫生站", [("千官村", 2300), ("清水村", 1700)]),
    (WANYUAN, "万源市青花镇中心卫生院"): ("青花镇", "卫生室", [("金竹村", 1800), ("桃园村", 1500), ("双河村", 1300)]),
    (WANYUAN, "万源市旧院镇中心卫生院"): ("旧院镇", "卫生室", [("柏林村", 1600), ("石门村", 1200)]),
}

_REGION_NAMES = {r["code"]: r["name"] for r in REGIONS}


def _village_clinic_rows() -> list[dict[str, Any]]:
    """VILLAGE_CLINICS as institution rows: full name 郁南县平台镇大垌村卫生站, short 大垌村卫生站."""
    return [
        {
            "county": county, "name": f"{_REGION_NAMES[county]}{town}{village}{suffix}",
            "short_name": f"{village}{suffix}", "kind": K.VILLAGE_CLINIC, "parent": parent,
            "credit_code": "", "beds": 0, "service_population": population, "is_sample": True,
        }
        for (county, parent), (town, suffix, villages) in VILLAGE_CLINICS.items()
        for village, population in villages
    ]


INSTITUTIONS += _village_clinic_rows()


# Alliances and memberships ------------------------------------------------------------------
# "members" are the members in force today, each (full name, membership note); an institution
# that moved is listed under its present alliance and its earlier ones come from MOVES.

_YUNAN_SOURCE = "郁府办函〔2020〕78号 三（二）2"
_JOINT = "两个牌子一套人马"
_WY_ALLIANCE = "万源市紧密型县域医疗卫生共同体"

ALLIANCES: list[dict[str, Any]] = [
    {
        "county": YUNAN, "name": "郁南县第一医共体", "short_name": "第一医共体", "established_on": date(2020, 6, 1),
        "note": f"{_YUNAN_SOURCE}：以县人民医院为牵头单位。",
        "lead": ("郁南县人民医院", "牵头单位"),
        "members": [
            ("郁南县妇幼保健院", f"与都城镇卫生院联合办公（{_JOINT}）"),
            ("郁南县都城镇卫生院", f"与县妇幼保健院联合办公（{_JOINT}）"),
            ("郁南县平台镇卫生院", ""),
            ("郁南县桂圩镇卫生院", ""),
            ("郁南县南江口镇卫生院", ""),
        ],
    },
    {
        "county": YUNAN, "name": "郁南县第二医共体", "short_name": "第二医共体", "established_on": date(2020, 6, 1),
        "note": f"{_YUNAN_SOURCE}：以县第二人民医院为牵头医院。",
        "lead": ("郁南县第二人民医院", "牵头医院"),
        "members": [
            ("郁南县大湾镇卫生院", ""),
            ("郁南县河口镇卫生院", ""),
            ("郁南县宋桂镇卫生院", ""),
            ("郁南县东坝镇卫生院", ""),
            ("郁南县连滩中心卫生院", f"与县第二人民医院联合办公（{_JOINT}）"),
            ("郁南县历洞镇卫生院", ""),
        ],
    },
    {
        "county": YUNAN, "name": "郁南县第三医共体", "short_name": "第三医共体", "established_on": date(2020, 6, 1),
        "note": f"{_YUNAN_SOURCE}：以县中医院为牵头单位。",
        "lead": ("郁南县中医院", "牵头单位"),
        "members": [
            ("郁南县通门镇卫生院", ""),
            ("郁南县建城中心卫生院", ""),
            ("郁南县宝珠镇卫生院", ""),
            ("郁南县大方镇卫生院", ""),
            ("郁南县千官中心卫生院", ""),
        ],
    },
    {
        "county": WANYUAN, "name": _WY_ALLIANCE, "short_name": "万源市医共体", "established_on": date(2024, 12, 31),
        "note": "“1+1+N”组织架构：总医院设在市人民医院，分院设在其他成员单位（保留原单位法人资格）。"
                "党委领导下的理事会负责制，监事会负责监督执行。",
        "lead": ("万源市人民医院", f"总医院：加挂“{_WY_ALLIANCE}总医院”牌子"),
        "members": [
            ("万源市中医院", f"分院：加挂“{_WY_ALLIANCE}中医院分院”牌子"),
            ("万源市妇幼保健计划生育服务中心", f"分院：加挂“{_WY_ALLIANCE}妇计中心分院”牌子"),
            ("万源市青花镇中心卫生院", f"分院：加挂“{_WY_ALLIANCE}青花分院”牌子"),
            ("万源市旧院镇中心卫生院", f"分院：加挂“{_WY_ALLIANCE}旧院分院”牌子"),
            ("万源市罗文镇中心卫生院", f"分院：加挂“{_WY_ALLIANCE}罗文分院”牌子"),
            ("万源市白沙镇卫生院", f"分院：加挂“{_WY_ALLIANCE}白沙分院”牌子"),
            ("万源市竹峪镇卫生院", f"分院：加挂“{_WY_ALLIANCE}竹峪分院”牌子"),
            ("万源市庙垭乡卫生院", f"分院：加挂“{_WY_ALLIANCE}庙垭分院”牌子"),
        ],
    },
]

# Sample history (not from the seed): the institution starts in "from_alliance" on that
# alliance's established date and moves on "on" to the alliance that lists it as a member.
MOVES: list[dict[str, Any]] = [
    {
        "county": YUNAN, "institution": "郁南县南江口镇卫生院",
        "from_alliance": "郁南县第二医共体", "from_note": "示例历史（非文件内容）：2021年1月1日调整至第一医共体。",
        "to_alliance": "郁南县第一医共体", "on": date(2021, 1, 1),
        "note": "示例历史（非文件内容）：2021年1月1日由第二医共体调整至本医共体。",
    },
]

JOINT_OFFICES: list[dict[str, Any]] = [
    {"county": YUNAN, "institutions": ("郁南县妇幼保健院", "郁南县都城镇卫生院"),
     "note": f"县妇幼保健院（都城镇卫生院联合办公，{_JOINT}）— {_YUNAN_SOURCE}"},
    {"county": YUNAN, "institutions": ("郁南县连滩中心卫生院", "郁南县第二人民医院"),
     "note": f"连滩中心卫生院（县第二人民医院联合办公，{_JOINT}）— {_YUNAN_SOURCE}"},
]


# Governance of 万源市医共体 (seed 002 §二(一)3; person names are sample) -----------------------
# (body, position, person, institution full name or None, affiliation); order = list order in the body.

GOVERNANCE_ALLIANCE = (WANYUAN, _WY_ALLIANCE)
GOVERNANCE_SEATS: list[tuple[str, str, str, str | None, str]] = [
    (Body.PARTY_COMMITTEE, "书记", "周国庆", None, "市卫生健康行业党委书记（兼任）"),
    (Body.PARTY_COMMITTEE, "常务副书记", "李明华", "万源市人民医院", "市人民医院党委书记"),
    (Body.PARTY_COMMITTEE, "副书记", "王志强", "万源市人民医院", "总医院院长"),
    (Body.PARTY_COMMITTEE, "纪委书记", "郑丽君", "万源市人民医院", "市人民医院纪委书记"),
    (Body.PARTY_COMMITTEE, "委员", "陈晓燕", "万源市中医院", "市中医院党委书记"),
    (Body.PARTY_COMMITTEE, "委员", "刘德军", "万源市妇幼保健计划生育服务中心", "市妇计中心党支部书记"),
    (Body.PARTY_COMMITTEE, "委员", "杨春梅", "万源市青花镇中心卫生院", "青花分院党支部书记"),
    (Body.BOARD, "理事长", "王志强", "万源市人民医院", "总医院院长"),
    (Body.BOARD, "副理事长", "赵永红", "万源市中医院", "市中医院院长"),
    (Body.BOARD, "副理事长", "吴海涛", "万源市妇幼保健计划生育服务中心", "市妇计中心主任"),
    (Body.BOARD, "理事", "孙文斌", "万源市人民医院", "总医院副院长"),
    (Body.BOARD, "理事", "何秀英", "万源市青花镇中心卫生院", "青花分院执行院长"),
    (Body.BOARD, "理事", "黄志远", "万源市旧院镇中心卫生院", "旧院分院执行院长"),
    (Body.BOARD, "理事", "罗晓东", "万源市白沙镇卫生院", "白沙分院执行院长"),
    (Body.SUPERVISORY_BOARD, "监事长", "谢玉兰", None, "市卫生健康局分管负责人"),
    (Body.SUPERVISORY_BOARD, "监事", "唐建军", None, "市财政局分管负责人"),
    (Body.SUPERVISORY_BOARD, "监事", "冯雪梅", None, "市人力资源和社会保障局分管负责人"),
    (Body.SUPERVISORY_BOARD, "监事", "邓文伟", None, "市医疗保障局分管负责人"),
    (Body.SUPERVISORY_BOARD, "监事", "曾庆华", None, "市市场监督管理局分管负责人"),
    (Body.SUPERVISORY_BOARD, "监事", "彭丽萍", "万源市中医院", "成员单位代表"),
    (Body.SUPERVISORY_BOARD, "监事", "蒋春林", "万源市罗文镇中心卫生院", "成员单位代表"),
]


# Demo users (names are sample) ----------------------------------------------------------------
# scope: ("region", code) | ("alliance", county code, full name) | ("institution", county code, full name)

USERS: list[dict[str, Any]] = [
    {"username": "admin", "full_name": "系统管理员", "is_superuser": True, "grants": []},
    {"username": "yn_admin", "full_name": "梁永康", "grants": [(Role.BUREAU_ADMIN, ("region", YUNAN))]},
    {"username": "yn_staff", "full_name": "林晓琳", "grants": [(Role.BUREAU_STAFF, ("region", YUNAN))]},
    {"username": "yn_supervisor", "full_name": "莫国华", "grants": [(Role.SUPERVISOR, ("region", YUNAN))]},
    {"username": "yn_viewer", "full_name": "区美玲", "grants": [(Role.VIEWER, ("region", YUNAN))]},
    {"username": "yn_gt1", "full_name": "邓海明",
     "grants": [(Role.ALLIANCE_ADMIN, ("alliance", YUNAN, "郁南县第一医共体"))]},
    {"username": "yn_gt1_filer", "full_name": "骆静怡",
     "grants": [(Role.INSTITUTION_FILER, ("alliance", YUNAN, "郁南县第一医共体"))]},
    {"username": "yn_rmyy", "full_name": "朱丽华",
     "grants": [(Role.INSTITUTION_FILER, ("institution", YUNAN, "郁南县人民医院"))]},
    {"username": "yn_rmyy_reviewer", "full_name": "植伟强",
     "grants": [(Role.INSTITUTION_REVIEWER, ("institution", YUNAN, "郁南县人民医院"))]},
    {"username": "yn_dc", "full_name": "潘少芬",
     "grants": [(Role.INSTITUTION_FILER, ("institution", YUNAN, "郁南县都城镇卫生院"))]},
    {"username": "yn_rmyy_hr", "full_name": "黄秀玲",
     "grants": [(Role.HR_OFFICER, ("institution", YUNAN, "郁南县人民医院"))]},
    {"username": "yn_hr", "full_name": "何志坚", "grants": [(Role.HR_OFFICER, ("region", YUNAN))]},
    # The security side (三员分立 in production): accounts and grants; the security log.
    {"username": "yn_security", "full_name": "谭振宇", "grants": [(Role.SECURITY_ADMIN, ("region", YUNAN))]},
    {"username": "yn_auditor", "full_name": "钟雅婷", "grants": [(Role.AUDITOR, ("region", YUNAN))]},
    {"username": "yf_city", "full_name": "苏建新", "grants": [(Role.VIEWER, ("region", "445300"))]},
    {"username": "gd_province", "full_name": "叶嘉欣", "grants": [(Role.VIEWER, ("region", "440000"))]},
    {"username": "wy_admin", "full_name": "向永平", "grants": [(Role.BUREAU_ADMIN, ("region", WANYUAN))]},
    {"username": "wy_staff", "full_name": "符小红", "grants": [(Role.BUREAU_STAFF, ("region", WANYUAN))]},
    {"username": "wy_zyy", "full_name": "冉光明", "grants": [(Role.ALLIANCE_ADMIN, ("alliance", WANYUAN, _WY_ALLIANCE))]},
    {"username": "dz_city", "full_name": "蒲晓梅", "grants": [(Role.VIEWER, ("region", "511700"))]},
    {"username": "sc_province", "full_name": "母德彬", "grants": [(Role.VIEWER, ("region", "510000"))]},
    # Brings new counties of 广东省 onto the platform (新县上线).
    {"username": "gd_platform", "full_name": "罗嘉俊", "grants": [(Role.PLATFORM_ADMIN, ("region", "440000"))]},
]


# Logins table (no database needed) ------------------------------------------------------------

def _scope_name(scope: tuple[str, ...]) -> str:
    """The name of a scope as written in USERS: the region's name or the full name."""
    if scope[0] == "region":
        return _REGION_NAMES[scope[1]]
    return scope[2]


def demo_logins() -> list[tuple[str, str, str]]:
    """``(username, role label, scope name)`` of every demo login, one row per grant, in the
    active language; read from the data above, so no database is needed (README generation)."""
    rows = []
    for user in USERS:
        if user.get("is_superuser"):
            rows.append((user["username"], _("Superuser"), _("Everything")))
        for role, scope in user["grants"]:
            rows.append((user["username"], str(Role(role).label), _scope_name(scope)))
    return rows


# The loader ---------------------------------------------------------------------------------

def _user_county(spec: dict, regions: dict, alliances: dict, institutions: dict) -> Region | None:
    """The county of a demo user's first grant within a county."""
    for _role, scope in spec["grants"]:
        if scope[0] == "region":
            region = regions[scope[1]]
            if region.level == Region.Level.COUNTY:
                return region
        elif scope[0] == "alliance":
            return alliances[(scope[1], scope[2])].county
        else:
            return institutions[(scope[1], scope[2])].county
    return None


Stats = dict[str, Counter]


def _value_of(obj: models.Model, name: str) -> Any:
    field = obj._meta.get_field(name)
    return getattr(obj, field.attname)


def _plain(value: Any) -> Any:
    return value.pk if isinstance(value, models.Model) else value


def _upsert(model: type[models.Model], lookup: dict[str, Any], values: dict[str, Any], stats: Stats,
            *, prepare=None) -> models.Model:
    """Create the row keyed by ``lookup`` with ``values``, or bring the existing row's ``values``
    back to the demo's (``is_active`` and passwords are not among them: a deactivation through the
    services, which also ends memberships, is not half undone by a reload). Validates with ``full_clean``; saves only when something changed (so
    ``updated_at`` moves only then). ``prepare(obj)`` runs on a new object before validation."""
    label = model._meta.model_name
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **values)
        if prepare:
            prepare(obj)
        obj.full_clean()
        obj.save()
        stats[label]["created"] += 1
        return obj
    changed = [name for name, value in values.items() if _value_of(obj, name) != _plain(value)]
    if not changed:
        stats[label]["unchanged"] += 1
        return obj
    for name in changed:
        setattr(obj, name, values[name])
    obj.full_clean()
    if any(f.name == "updated_at" for f in model._meta.concrete_fields):
        changed.append("updated_at")
    obj.save(update_fields=changed)
    stats[label]["updated"] += 1
    return obj


def _ensure_membership(*, institution: Institution, alliance: Alliance, role: str, valid_from: date, note: str,
                       stats: Stats) -> None:
    """Create the membership keyed by (institution, alliance, valid_from) through the service
    unless it exists; an existing one is left as it is (a later move may have ended it)."""
    if AllianceMembership.objects.filter(institution=institution, alliance=alliance, valid_from=valid_from).exists():
        stats["alliancemembership"]["unchanged"] += 1
        return
    membership_create(institution=institution, alliance=alliance, role=role, valid_from=valid_from, note=note)
    stats["alliancemembership"]["created"] += 1


@transaction.atomic
def load_demo() -> Stats:
    """Write the demo data; running it again changes nothing. Returns per model (by model name)
    how many rows were created, updated and left unchanged. A demo user's password is set only
    when the user is created."""
    stats: Stats = defaultdict(Counter)

    regions: dict[str, Region] = {}
    for spec in REGIONS:
        regions[spec["code"]] = _upsert(
            Region, {"code": spec["code"]},
            {"name": spec["name"], "level": spec["level"],
             "parent": regions[spec["parent"]] if spec["parent"] else None},
            stats,
        )

    institutions: dict[tuple[str, str], Institution] = {}
    # Managing centres first, so that a village clinic finds its parent.
    for spec in sorted(INSTITUTIONS, key=lambda s: s["parent"] is not None):
        county = regions[spec["county"]]
        values = {k: spec[k] for k in ("short_name", "kind", "credit_code", "beds", "service_population", "is_sample")}
        values["parent"] = institutions[(spec["county"], spec["parent"])] if spec["parent"] else None
        institutions[(spec["county"], spec["name"])] = _upsert(
            Institution, {"county": county, "name": spec["name"]}, values, stats)

    alliances: dict[tuple[str, str], Alliance] = {}
    for spec in ALLIANCES:
        alliances[(spec["county"], spec["name"])] = _upsert(
            Alliance, {"county": regions[spec["county"]], "name": spec["name"]},
            {"short_name": spec["short_name"], "established_on": spec["established_on"], "note": spec["note"]},
            stats,
        )

    # Memberships: every lead first (an alliance has a lead on every day it has members), then
    # the members from the date their first alliance was established, then the moves.
    moves_of: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for move in sorted(MOVES, key=lambda m: m["on"]):
        moves_of[(move["county"], move["institution"])].append(move)
    for spec in ALLIANCES:
        name, note = spec["lead"]
        _ensure_membership(institution=institutions[(spec["county"], name)],
                           alliance=alliances[(spec["county"], spec["name"])], role=LEAD,
                           valid_from=spec["established_on"], note=note, stats=stats)
    established = {(s["county"], s["name"]): s["established_on"] for s in ALLIANCES}
    for spec in ALLIANCES:
        for name, note in spec["members"]:
            key = (spec["county"], name)
            moves = moves_of.get(key)
            if moves:
                if moves[-1]["to_alliance"] != spec["name"]:
                    raise ValueError(f"demo data: the last move of {name} must be to {spec['name']}")
                first = (spec["county"], moves[0]["from_alliance"])
                first_note = moves[0].get("from_note", "")
            else:
                first, first_note = (spec["county"], spec["name"]), note
            _ensure_membership(institution=institutions[key], alliance=alliances[first], role=MEMBER,
                               valid_from=established[first], note=first_note, stats=stats)
    for (county, name), moves in moves_of.items():
        for move in moves:
            institution, to_alliance = institutions[(county, name)], alliances[(county, move["to_alliance"])]
            if AllianceMembership.objects.filter(institution=institution, alliance=to_alliance,
                                                 valid_from=move["on"]).exists():
                stats["alliancemembership"]["unchanged"] += 1
                continue
            institution_move(institution=institution, to_alliance=to_alliance, on=move["on"], note=move["note"])
            stats["alliancemembership"]["created"] += 1

    for spec in JOINT_OFFICES:
        a, b = (institutions[(spec["county"], name)] for name in spec["institutions"])
        first, second = sorted((a, b), key=lambda i: i.pk)
        existing = JointOffice.objects.filter(first=first, second=second).first()
        if existing is None:
            joint_office_create(first=a, second=b, note=spec["note"])
            stats["jointoffice"]["created"] += 1
        elif existing.note != spec["note"]:
            existing.note = spec["note"]
            existing.save(update_fields=["note"])
            stats["jointoffice"]["updated"] += 1
        else:
            stats["jointoffice"]["unchanged"] += 1

    governed = alliances[GOVERNANCE_ALLIANCE]
    order: Counter = Counter()
    for body, position, person, institution_name, affiliation in GOVERNANCE_SEATS:
        order[body] += 1
        _upsert(
            GovernanceMember,
            {"alliance": governed, "body": body, "position": position, "person_name": person},
            {"institution": institutions[(GOVERNANCE_ALLIANCE[0], institution_name)] if institution_name else None,
             "affiliation": affiliation, "order": order[body]},
            stats,
        )

    User = get_user_model()
    # One hash for every new demo user: the password is published anyway, and each hash costs
    # about a second (PBKDF2), which would make a first `make run` wait for all of them.
    shared_hash: list[str] = []

    def set_demo_password(user) -> None:
        if not shared_hash:
            shared_hash.append(make_password(DEMO_PASSWORD))
        user.password = shared_hash[0]

    for spec in USERS:
        superuser = spec.get("is_superuser", False)
        user = _upsert(
            User, {"username": spec["username"]},
            {"full_name": spec["full_name"], "is_superuser": superuser, "is_staff": superuser,
             # The county whose security administrator keeps the account (none for city and province users).
             "county": _user_county(spec, regions, alliances, institutions)},
            stats, prepare=set_demo_password,
        )
        for role, scope in spec["grants"]:
            if scope[0] == "region":
                target = {"region": regions[scope[1]]}
            elif scope[0] == "alliance":
                target = {"alliance": alliances[(scope[1], scope[2])]}
            else:
                target = {"institution": institutions[(scope[1], scope[2])]}
            lookup = {"user": user, "role": role, "region": None, "alliance": None, "institution": None, **target}
            _upsert(Grant, lookup, {}, stats)
    return stats


def load_demo_part(*, now: datetime, today: date) -> DemoReport:
    """The organisation and the logins, as ``load_demo`` reports them (``core.demo``)."""
    stats = load_demo()
    totals = {key: sum(counts[key] for counts in stats.values()) for key in ("created", "updated", "unchanged")}
    return DemoReport(
        summary=_("Demo data loaded: %(created)d rows created, %(updated)d updated, %(unchanged)d unchanged.")
        % totals,
        details=[f"  {name}: {stats[name]['created']} / {stats[name]['updated']} / {stats[name]['unchanged']}"
                 for name in sorted(stats)])
