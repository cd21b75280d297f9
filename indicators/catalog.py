"""The shipped catalogue: data elements, report forms, validation rules, indicators and the
evaluation scheme, taken from seed 001 附件4 (items (12), (16)–(39)), 附件6 (24 indicators with
their directions) and the targets of seeds 000, 001 and 002.

``install_catalog()`` writes the shared part (elements, indicators, rules, scheme; county empty)
and ``install_forms(county)`` a county's report forms. Both are idempotent (keyed by code).

Where the seed gives a formula it is used as written, with two marked corrections:
- (24) 平均住院日 is "出院者占用总床日数 / 出院人数" — the seed's "×100%" would turn days into a
  percentage, so the factor is 1;
- "镇卫生院" (附件4) and "基层医疗卫生机构" (附件6) name the same indicators; both are computed over
  the primary-care members (central, township and community health centres and village clinics).
Where the seed gives only a heading, the definition is ours and says so (``derived``).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from alliances.models import Institution, Region
from core.periods import Period, PeriodKind
from indicators.models import (
    DataElement,
    EvaluationScheme,
    FormElement,
    Indicator,
    ReportForm,
    SchemeItem,
    ValidationRule,
)

SUM, LAST, AVERAGE = "sum", "last", "average"
INT, DEC, MONEY = "integer", "decimal", "money"

# code, name, unit, value type, aggregation
ELEMENTS = [
    # 医疗服务 (monthly, institutions)
    ("OP_VISITS", "门急诊人次（诊疗人次）", "人次", INT, SUM),
    ("DISCHARGES", "出院人数", "人", INT, SUM),
    ("DISCHARGE_BED_DAYS", "出院者占用总床日数", "床日", INT, SUM),
    ("OPEN_BED_DAYS", "实际开放总床日数", "床日", INT, SUM),
    ("OCCUPIED_BED_DAYS", "实际占用总床日数", "床日", INT, SUM),
    ("SURGERIES", "出院患者手术台次数", "台次", INT, SUM),
    ("SURGERIES_L34", "出院患者三四级手术台次数", "台次", INT, SUM),
    ("REHAB_REFERRED_DOWN", "下转基层医疗卫生机构康复护理患者人数", "人", INT, SUM),
    ("REHAB_PATIENTS", "康复护理患者总人数", "人", INT, SUM),
    # 收入与支出 (monthly, institutions)
    ("TOTAL_REVENUE", "总收入", "元", MONEY, SUM),
    ("BUSINESS_REVENUE", "业务收入", "元", MONEY, SUM),
    ("MED_REVENUE", "医疗收入", "元", MONEY, SUM),
    ("DRUG_REVENUE", "药品收入", "元", MONEY, SUM),
    ("CONSUMABLE_REVENUE", "卫生材料收入", "元", MONEY, SUM),
    ("EXAM_REVENUE", "检查收入", "元", MONEY, SUM),
    ("LAB_REVENUE", "化验（检验）收入", "元", MONEY, SUM),
    ("FISCAL_REVENUE", "财政补助收入", "元", MONEY, SUM),
    ("INSURANCE_REVENUE", "医保基金收入", "元", MONEY, SUM),
    ("BUSINESS_EXPENSE", "业务支出", "元", MONEY, SUM),
    ("PERSONNEL_EXPENSE", "人员经费", "元", MONEY, SUM),
    ("SALARY_TOTAL", "职工薪酬总额", "元", MONEY, SUM),
    # 财务支出明细 (monthly, institutions; the budget's expenditure lines other than 人员经费)
    ("EXP_DRUGS_MATERIALS", "药品耗材支出", "元", MONEY, SUM),
    ("EXP_EQUIPMENT", "设备购置支出", "元", MONEY, SUM),
    ("EXP_CONSTRUCTION", "基本建设支出", "元", MONEY, SUM),
    ("EXP_IT", "信息化建设支出", "元", MONEY, SUM),
    ("EXP_PUBLIC_HEALTH", "公共卫生支出", "元", MONEY, SUM),
    ("EXP_OTHER", "其他支出", "元", MONEY, SUM),
    # 人员 (monthly stocks)
    ("STAFF_ON_DUTY", "在岗职工数", "人", INT, LAST),
    ("GPS", "全科医生数", "人", INT, LAST),
    # 人员配置 (monthly stocks derived from the roster by ``staffing.snapshot``; seed 001 附件3)
    ("ST_STAFF", "卫生人员数（花名册）", "人", INT, LAST),
    ("ST_DOCTORS", "医师数（含全科、中医）", "人", INT, LAST),
    ("ST_NURSES", "护士数", "人", INT, LAST),
    ("ST_GPS", "全科医生数（花名册）", "人", INT, LAST),
    ("ST_TCM", "中医类别医师数", "人", INT, LAST),
    ("ST_DOC_COLLEGE", "大专及以上学历医师数", "人", INT, LAST),
    ("ST_DOC_BACHELOR", "本科及以上学历医师数", "人", INT, LAST),
    ("ST_DOC_MID", "中级及以上职称医师数", "人", INT, LAST),
    ("ST_DOC_SENIOR", "高级职称医师数", "人", INT, LAST),
    ("ST_PAIZHU", "派驻人员数（中级以上、本年满六个月）", "人", INT, LAST),
    ("RESIDENT_POP", "常住人口数", "人", INT, LAST),
    # 公共卫生与家庭医生签约 (quarterly)
    ("SERVICE_POP", "服务常住人口数", "人", INT, LAST),
    ("KEY_POP", "重点人群人数", "人", INT, LAST),
    ("KEY_POP_SIGNED", "重点人群签约服务人数", "人", INT, LAST),
    ("HTN_DM_SIGNED", "签约高血压、糖尿病患者数", "人", INT, LAST),
    ("HTN_DM_CONTROLLED", "签约高血压、糖尿病患者中控制达标人数", "人", INT, LAST),
    ("CHRONIC_MANAGED", "健康管理的高血压、糖尿病患者人数", "人", INT, LAST),
    ("ELDERLY_65_74", "65～74岁老年人数", "人", INT, LAST),
    ("ELDERLY_DISABLED", "65～74岁失能老年人数", "人", INT, LAST),
    ("PH_SCORE", "基本公共卫生服务项目绩效评价得分", "分", DEC, AVERAGE),
    ("QSG_QUALIFIED", "“优质服务基层行”达到推荐标准（是=1，否=0）", "个", INT, LAST),
    ("LEAD_STANDARD_MET", "牵头医院达到国家推荐标准（是=1，否=0）", "个", INT, LAST),
    ("NEW_TECH_PROJECTS", "帮助基层开展的新技术、新项目数", "项", INT, SUM),
    # 县域医保结算 (monthly, filed by the county)
    ("INS_VISITS_TOTAL", "参保人就诊总人次", "人次", INT, SUM),
    ("INS_VISITS_IN_COUNTY", "参保人县域内就诊人次", "人次", INT, SUM),
    ("INS_INPATIENTS_TOTAL", "参保人住院总人次", "人次", INT, SUM),
    ("INS_INPATIENTS_IN_COUNTY", "参保人县域内住院人次", "人次", INT, SUM),
    ("FUND_TOTAL", "医保基金总支出", "元", MONEY, SUM),
    ("FUND_IN_COUNTY", "医保基金县域内支出", "元", MONEY, SUM),
    # Seed 000 (湛江方案) 10.1, 10.3, 11.1, 11.2, 12.2 and seed 001 §四(三): the measures of the
    # 能力提升 and 医防融合 actions (monthly: referrals, DRG; quarterly: stocks).
    ("REFERRALS_UP", "上转患者人次（向医共体内上级医院转出）", "人次", INT, SUM),
    ("REFERRALS_DOWN", "下转患者人次（向医共体内基层成员单位转出）", "人次", INT, SUM),
    ("CHRONIC_REFERRED_DOWN", "下转高血压、糖尿病患者人数", "人", INT, SUM),
    ("DRG_WEIGHT", "DRG入组病例总权重", "", DEC, SUM),
    ("DRG_CASES", "DRG入组病例数", "例", INT, SUM),
    ("OP_DISEASE_TYPES", "门诊病种数（本年累计）", "种", INT, LAST),
    ("IP_DISEASE_TYPES", "住院病种数（本年累计）", "种", INT, LAST),
    ("VILLAGE_CLINICS", "村卫生室数", "个", INT, LAST),
    ("VILLAGE_CLINICS_STANDARD", "达到规范化建设标准的村卫生室数", "个", INT, LAST),
    ("CHRONIC_STD_MANAGED", "规范管理的高血压、糖尿病患者人数", "人", INT, LAST),
    ("EHR_RECORDS", "居民电子健康档案建档人数", "人", INT, LAST),
    ("EHR_OPENED", "向居民本人开放的电子健康档案数", "份", INT, LAST),
    ("FUND_PRIMARY", "医保基金县域内基层医疗卫生机构支出", "元", MONEY, SUM),
]

LEAD = list(Institution.LEAD_KINDS)
PRIMARY = [Institution.Kind.CENTRAL_HEALTH_CENTRE, Institution.Kind.TOWNSHIP_HEALTH_CENTRE,
           Institution.Kind.COMMUNITY_HEALTH_CENTRE]
FILERS = LEAD + PRIMARY
TOWNSHIP = [Institution.Kind.CENTRAL_HEALTH_CENTRE, Institution.Kind.TOWNSHIP_HEALTH_CENTRE]

# code, name, period kind, filer level, institution kinds, [(section, element, kinds the row is for)]
FORMS = [
    ("MONTHLY_OPS", "医共体成员单位运行监测月报", "month", "institution", FILERS, [
        ("医疗服务", "OP_VISITS", []),
        ("医疗服务", "DISCHARGES", []),
        ("医疗服务", "DISCHARGE_BED_DAYS", []),
        ("医疗服务", "OPEN_BED_DAYS", []),
        ("医疗服务", "OCCUPIED_BED_DAYS", []),
        ("医疗服务", "SURGERIES", LEAD),
        ("医疗服务", "SURGERIES_L34", LEAD),
        ("医疗服务", "REHAB_REFERRED_DOWN", LEAD),
        ("医疗服务", "REHAB_PATIENTS", PRIMARY),
        ("收入与支出", "TOTAL_REVENUE", []),
        ("收入与支出", "BUSINESS_REVENUE", []),
        ("收入与支出", "MED_REVENUE", []),
        ("收入与支出", "DRUG_REVENUE", []),
        ("收入与支出", "CONSUMABLE_REVENUE", []),
        ("收入与支出", "EXAM_REVENUE", []),
        ("收入与支出", "LAB_REVENUE", []),
        ("收入与支出", "FISCAL_REVENUE", []),
        ("收入与支出", "INSURANCE_REVENUE", []),
        ("收入与支出", "BUSINESS_EXPENSE", []),
        ("收入与支出", "PERSONNEL_EXPENSE", []),
        ("收入与支出", "SALARY_TOTAL", []),
        ("人员", "STAFF_ON_DUTY", []),
        ("人员", "GPS", []),
        # Appended (not inserted) so that the order of the rows installed before stays as it was
        # (migration 0007 adds these rows to installed forms with the same order numbers).
        ("双向转诊", "REFERRALS_UP", PRIMARY),
        ("双向转诊", "REFERRALS_DOWN", LEAD),
        ("双向转诊", "CHRONIC_REFERRED_DOWN", LEAD),
        ("病例组合", "DRG_WEIGHT", LEAD),
        ("病例组合", "DRG_CASES", LEAD),
    ]),
    ("QUARTERLY_PH", "基本公共卫生与家庭医生签约服务季报", "quarter", "institution", FILERS, [
        ("公共卫生", "SERVICE_POP", PRIMARY),
        ("公共卫生", "KEY_POP", PRIMARY),
        ("公共卫生", "KEY_POP_SIGNED", PRIMARY),
        ("公共卫生", "HTN_DM_SIGNED", PRIMARY),
        ("公共卫生", "HTN_DM_CONTROLLED", PRIMARY),
        ("公共卫生", "CHRONIC_MANAGED", []),
        ("公共卫生", "ELDERLY_65_74", PRIMARY),
        ("公共卫生", "ELDERLY_DISABLED", PRIMARY),
        ("公共卫生", "PH_SCORE", PRIMARY),
        ("能力建设", "QSG_QUALIFIED", PRIMARY),
        ("能力建设", "LEAD_STANDARD_MET", LEAD),
        ("能力建设", "NEW_TECH_PROJECTS", LEAD),
        ("能力建设", "OP_DISEASE_TYPES", PRIMARY),
        ("能力建设", "IP_DISEASE_TYPES", PRIMARY),
        ("能力建设", "VILLAGE_CLINICS", TOWNSHIP),
        ("能力建设", "VILLAGE_CLINICS_STANDARD", TOWNSHIP),
        ("医防融合", "CHRONIC_STD_MANAGED", PRIMARY),
        ("医防融合", "EHR_RECORDS", PRIMARY),
        ("医防融合", "EHR_OPENED", PRIMARY),
    ]),
    # Filed by the finance office beside the statistics office's 运行监测月报 (统一财务管理: the
    # budget's expenditure lines are executed through the filing pipeline, not a second entry).
    ("FINANCE_EXPENSE", "医共体成员单位财务支出月报", "month", "institution", FILERS, [
        ("支出明细", "EXP_DRUGS_MATERIALS", []),
        ("支出明细", "EXP_EQUIPMENT", []),
        ("支出明细", "EXP_CONSTRUCTION", []),
        ("支出明细", "EXP_IT", []),
        ("支出明细", "EXP_PUBLIC_HEALTH", []),
        ("支出明细", "EXP_OTHER", []),
    ]),
    # Derived from the roster each month (``staffing.snapshot``): nobody types these numbers.
    ("STAFFING", "人员配置月报（花名册生成）", "month", "institution", FILERS, [
        ("人员配置", code, []) for code in ("ST_STAFF", "ST_DOCTORS", "ST_NURSES", "ST_GPS", "ST_TCM",
                                            "ST_DOC_COLLEGE", "ST_DOC_BACHELOR", "ST_DOC_MID", "ST_DOC_SENIOR",
                                            "ST_PAIZHU")
    ]),
    ("STAFFING_COUNTY", "常住人口（人员配置）", "month", "county", [], [("人口", "RESIDENT_POP", [])]),
    ("COUNTY_INSURANCE", "县域医保结算月报", "month", "county", [], [
        ("医保结算", "INS_VISITS_TOTAL", []),
        ("医保结算", "INS_VISITS_IN_COUNTY", []),
        ("医保结算", "INS_INPATIENTS_TOTAL", []),
        ("医保结算", "INS_INPATIENTS_IN_COUNTY", []),
        ("医保结算", "FUND_TOTAL", []),
        ("医保结算", "FUND_IN_COUNTY", []),
        ("医保结算", "FUND_PRIMARY", []),
    ]),
]

# Forms the portal files itself (``staffing.snapshot``): nobody is reminded of them or listed late.
DERIVED_FORMS = ("STAFFING", "STAFFING_COUNTY")

# code, left, operator, right, severity, message
RULES = [
    ("R_BED_DAYS", "OCCUPIED_BED_DAYS", "le", "OPEN_BED_DAYS", "warning",
     "实际占用总床日数大于实际开放总床日数（加床？请说明）"),
    ("R_SURGERY_L34", "SURGERIES_L34", "le", "SURGERIES", "error", "三四级手术台次数不能大于手术台次数"),
    ("R_MED_PARTS", "DRUG_REVENUE + CONSUMABLE_REVENUE + EXAM_REVENUE + LAB_REVENUE", "le", "MED_REVENUE",
     "error", "药品、卫生材料、检查、化验收入之和不能大于医疗收入"),
    ("R_MED_BUSINESS", "MED_REVENUE", "le", "BUSINESS_REVENUE", "error", "医疗收入不能大于业务收入"),
    ("R_BUSINESS_TOTAL", "BUSINESS_REVENUE", "le", "TOTAL_REVENUE", "error", "业务收入不能大于总收入"),
    ("R_FISCAL_TOTAL", "FISCAL_REVENUE", "le", "TOTAL_REVENUE", "error", "财政补助收入不能大于总收入"),
    ("R_PERSONNEL", "PERSONNEL_EXPENSE", "le", "BUSINESS_EXPENSE", "error", "人员经费不能大于业务支出"),
    ("R_GPS", "GPS", "le", "STAFF_ON_DUTY", "error", "全科医生数不能大于在岗职工数"),
    ("R_STAY", "DISCHARGE_BED_DAYS", "ge", "DISCHARGES", "warning", "出院者占用总床日数小于出院人数，请核实"),
    ("R_SIGNED", "KEY_POP_SIGNED", "le", "KEY_POP", "error", "重点人群签约人数不能大于重点人群人数"),
    ("R_CONTROLLED", "HTN_DM_CONTROLLED", "le", "HTN_DM_SIGNED", "error", "控制达标人数不能大于签约患者数"),
    ("R_DISABLED", "ELDERLY_DISABLED", "le", "ELDERLY_65_74", "error", "失能老年人数不能大于65～74岁老年人数"),
    ("R_INS_VISITS", "INS_VISITS_IN_COUNTY", "le", "INS_VISITS_TOTAL", "error", "县域内就诊人次不能大于就诊总人次"),
    ("R_INS_INPATIENTS", "INS_INPATIENTS_IN_COUNTY", "le", "INS_INPATIENTS_TOTAL", "error",
     "县域内住院人次不能大于住院总人次"),
    ("R_FUND", "FUND_IN_COUNTY", "le", "FUND_TOTAL", "error", "县域内医保基金支出不能大于基金总支出"),
    ("R_CHRONIC_DOWN", "CHRONIC_REFERRED_DOWN", "le", "REFERRALS_DOWN", "error",
     "下转高血压、糖尿病患者人数不能大于下转患者人次"),
    ("R_VILLAGE_STANDARD", "VILLAGE_CLINICS_STANDARD", "le", "VILLAGE_CLINICS", "error",
     "规范化村卫生室数不能大于村卫生室数"),
    ("R_CHRONIC_STD", "CHRONIC_STD_MANAGED", "le", "CHRONIC_MANAGED", "error",
     "规范管理的高血压、糖尿病患者人数不能大于健康管理的患者人数"),
    ("R_EHR_OPENED", "EHR_OPENED", "le", "EHR_RECORDS", "error", "开放的电子健康档案数不能大于建档人数"),
    ("R_FUND_PRIMARY", "FUND_PRIMARY", "le", "FUND_IN_COUNTY", "error",
     "医保基金县域内基层机构支出不能大于县域内支出"),
]

SERVICE_REVENUE = "(MED_REVENUE{f} - DRUG_REVENUE{f} - CONSUMABLE_REVENUE{f} - EXAM_REVENUE{f} - LAB_REVENUE{f})"

# Each indicator: code, name, category, source, numerator, denominator, factor, unit, target
# (kind, operator, value, direction, points), levels, key, aggregation, definition, derived.
INDICATORS = [
    dict(code="A4_12", name="镇卫生院（基层）与牵头医院人均薪酬比", category="深化薪酬制度改革",
         source="附件4（12）；附件6 第7项",
         numerator="SALARY_TOTAL@primary / STAFF_ON_DUTY@primary",
         denominator="SALARY_TOTAL@lead / STAFF_ON_DUTY@lead", factor=100, unit="%",
         target=("direction", "", None, "up", 0), levels=["county", "alliance"]),
    dict(code="A4_16", name="医共体内医保资金占业务收入比例", category="深化医保支付方式改革",
         source="附件4（16）；附件6 第11项", numerator="INSURANCE_REVENUE", denominator="BUSINESS_REVENUE",
         factor=100, unit="%", target=("direction", "", None, "up", 0)),
    dict(code="A4_17", name="县域内每千人口全科医生数", category="提升县域医疗卫生服务水平",
         source="附件4（17）；附件6 第3项", numerator="GPS", denominator="SERVICE_POP", factor=1000,
         unit="人/千人", decimals=2, target=("direction", "", None, "up", 0), levels=["county", "alliance"],
         definition="常住人口取各基层机构填报的服务常住人口之和（县级医院不重复计算），医共体取其成员服务人口。"),
    dict(code="A4_18", name="县域内住院率", category="落实分级诊疗制度", source="附件4（18）；附件6 第12项；目标 85%",
         numerator="INS_INPATIENTS_IN_COUNTY@county", denominator="INS_INPATIENTS_TOTAL@county", factor=100,
         unit="%", target=("any", "ge", 85, "up", 0), levels=["county"], key=True,
         definition="参保人在县域内住院人次 / 参保人住院总人次（县医保局结算数据）。目标：达到85%左右，或有上升。",
         derived=True),
    dict(code="ALLIANCE_INPATIENT_SHARE", name="医共体在县域内住院人次占比", category="落实分级诊疗制度",
         source="附件6 第12项（县域内有一个以上医共体时增加）", numerator="DISCHARGES",
         denominator="INS_INPATIENTS_IN_COUNTY@county", factor=100, unit="%",
         target=("direction", "", None, "up", 0), levels=["alliance"],
         definition="医共体成员出院人数 / 全县参保人县域内住院人次。", derived=True),
    dict(code="A4_19", name="医保基金县域内支出率", category="落实分级诊疗制度", source="附件4（19）；附件6 第13项",
         numerator="FUND_IN_COUNTY@county", denominator="FUND_TOTAL@county", factor=100, unit="%",
         target=("direction", "", None, "up", 0), levels=["county"]),
    dict(code="VISIT_RATE", name="县域就诊率", category="落实分级诊疗制度",
         source="方案 工作目标（90%）；湛江方案 10.1（同比提升1个百分点或达到90%）",
         numerator="INS_VISITS_IN_COUNTY@county", denominator="INS_VISITS_TOTAL@county", factor=100, unit="%",
         target=("any", "ge", 90, "up", 1), levels=["county"], key=True,
         definition="参保人县域内就诊人次 / 参保人就诊总人次（县医保局结算数据）。", derived=True),
    dict(code="A4_21", name="“优质服务基层行”达到推荐标准机构数", category="提升县域医疗卫生服务水平",
         source="附件4（21）；附件6 第5项", numerator="QSG_QUALIFIED@primary", denominator="", factor=1, unit="个",
         decimals=0, target=("direction", "", None, "up", 0), levels=["county", "alliance"]),
    dict(code="A4_22", name="65～74岁老年人失能发生率", category="强化健康服务", source="附件4（22）；附件6 第24项",
         numerator="ELDERLY_DISABLED", denominator="ELDERLY_65_74", factor=100, unit="%",
         target=("direction", "", None, "down", 0)),
    dict(code="A4_23", name="牵头医院达到国家推荐标准", category="提升县域医疗卫生服务水平",
         source="附件4（23）；附件6 第1项", numerator="LEAD_STANDARD_MET@lead", denominator="", factor=1, unit="个",
         decimals=0, target=("threshold", "ge", 1, "", 0), levels=["county", "alliance"],
         definition="牵头医院填报是否达到国家推荐标准（是=1），县取达标牵头医院数。"),
    dict(code="A4_24", name="牵头医院出院患者平均住院日", category="落实分级诊疗制度",
         source="附件4（24）；附件6 第19项", numerator="DISCHARGE_BED_DAYS@lead", denominator="DISCHARGES@lead",
         factor=1, unit="天", target=("direction", "", None, "down", 0), key=True,
         definition="出院者占用总床日数 / 出院人数。原文“×100%”为笔误（天数不是百分比），系数取1。"),
    dict(code="A4_25", name="牵头医院出院患者三四级手术比例", category="提升县域医疗卫生服务水平",
         source="附件4（25）；附件6 第2项", numerator="SURGERIES_L34@lead", denominator="SURGERIES@lead",
         factor=100, unit="%", target=("direction", "", None, "up", 0)),
    dict(code="A4_26", name="牵头医院技术劳务性收入占医疗收入比例", category="深化薪酬制度改革",
         source="附件4（26）；附件6 第8项", numerator=SERVICE_REVENUE.format(f="@lead"),
         denominator="MED_REVENUE@lead", factor=100, unit="%", target=("direction", "", None, "up", 0),
         definition="技术劳务性收入 = 医疗收入 − 药品 − 卫生材料 − 检查 − 化验收入。"),
    dict(code="A4_27", name="牵头医院下转康复护理患者数量占比", category="落实分级诊疗制度",
         source="附件4（27）；附件6 第17项", numerator="REHAB_REFERRED_DOWN@lead",
         denominator="REHAB_PATIENTS@primary", factor=100, unit="%", target=("direction", "", None, "up", 0),
         levels=["county", "alliance"]),
    dict(code="A4_28", name="牵头医院帮助基层开展新技术、新项目数量", category="提升县域医疗卫生服务水平",
         source="附件4（28）；附件6 第4项", numerator="NEW_TECH_PROJECTS@lead", denominator="", factor=1, unit="项",
         decimals=0, target=("direction", "", None, "up", 0)),
    dict(code="A4_29", name="牵头医院人员经费占业务支出比例", category="深化薪酬制度改革",
         source="附件4（29）；附件6 第9项", numerator="PERSONNEL_EXPENSE@lead", denominator="BUSINESS_EXPENSE@lead",
         factor=100, unit="%", target=("direction", "", None, "up", 0)),
    dict(code="A4_30", name="基层医疗卫生机构财政收入占总收入比例", category="落实财政投入",
         source="附件4（30）；附件6 第6项", numerator="FISCAL_REVENUE@primary", denominator="TOTAL_REVENUE@primary",
         factor=100, unit="%", target=("direction", "", None, "up", 0)),
    dict(code="A4_31", name="基层医疗卫生机构技术劳务性收入占医疗收入比例", category="深化薪酬制度改革",
         source="附件4（31）；附件6 第10项", numerator=SERVICE_REVENUE.format(f="@primary"),
         denominator="MED_REVENUE@primary", factor=100, unit="%", target=("direction", "", None, "up", 0)),
    dict(code="A4_32", name="基层就诊率（基层门急诊人次占比）", category="落实分级诊疗制度",
         source="附件4（32）；附件6 第16项；目标 65%；湛江方案 11.1（同比提升2个百分点或达到65%）",
         numerator="OP_VISITS@primary", denominator="OP_VISITS", factor=100, unit="%",
         target=("any", "ge", 65, "up", 2), levels=["county", "alliance"], key=True),
    dict(code="A4_33", name="基层医疗卫生机构床位使用率", category="落实分级诊疗制度",
         source="附件4（33）；附件6 第20项", numerator="OCCUPIED_BED_DAYS@primary",
         denominator="OPEN_BED_DAYS@primary", factor=100, unit="%", target=("direction", "", None, "up", 0)),
    dict(code="A4_34", name="基层医疗卫生机构住院率", category="落实分级诊疗制度", source="附件4（34）；附件6 第14项",
         numerator="DISCHARGES@primary", denominator="DISCHARGES", factor=100, unit="%",
         target=("direction", "", None, "up", 0), levels=["county", "alliance"]),
    dict(code="A4_35", name="基层医疗卫生机构医保基金占比", category="深化医保支付方式改革",
         source="附件4（35）；附件6 第15项", numerator="INSURANCE_REVENUE@primary", denominator="INSURANCE_REVENUE",
         factor=100, unit="%", target=("direction", "", None, "up", 0), levels=["county", "alliance"]),
    dict(code="A4_36", name="重点人群家庭医生签约率", category="做实做细家庭医生签约服务",
         source="附件4（36）；附件6 第21项（≥60%，且持续提升）", numerator="KEY_POP_SIGNED", denominator="KEY_POP",
         factor=100, unit="%", target=("all", "ge", 60, "up", 0), key=True),
    dict(code="A4_37", name="签约的慢病控制率（高血压+糖尿病）", category="做实做细家庭医生签约服务",
         source="附件4（37）；附件6 第22项", numerator="HTN_DM_CONTROLLED", denominator="HTN_DM_SIGNED",
         factor=100, unit="%", target=("direction", "", None, "up", 0),
         definition="签约高血压、糖尿病患者中控制达标人数之和 / 签约患者数之和（两病合并计算）。", derived=True),
    dict(code="A4_38", name="慢病患者基层医疗卫生机构管理占比（高血压+糖尿病）", category="强化健康服务",
         source="附件4（38）；附件6 第18项", numerator="CHRONIC_MANAGED@primary", denominator="CHRONIC_MANAGED",
         factor=100, unit="%", target=("direction", "", None, "up", 0), levels=["county", "alliance"]),
    # Seed 001 附件3: the talent targets, over the 人员配置月报 derived from the roster.
    dict(code="T3_PRIMARY_STAFF", name="基层卫生人员数", category="基层卫生人才队伍", source="附件3（1887人→2107人）",
         numerator="ST_STAFF@primary", denominator="", factor=1, unit="人", decimals=0,
         target=("all", "ge", 2107, "up", 0), levels=["county"]),
    dict(code="T3_PRIMARY_PER_1000", name="每千人口基层卫生人员数", category="基层卫生人才队伍",
         source="附件3（1.93→2.34）", numerator="ST_STAFF@primary", denominator="RESIDENT_POP@county", factor=1000,
         unit="人", target=("all", "ge", "2.34", "up", 0), levels=["county"]),
    dict(code="T3_GP_PER_10000", name="每万人口全科医生数", category="基层卫生人才队伍", source="附件3（1.96→3）",
         numerator="ST_GPS", denominator="RESIDENT_POP@county", factor=10000, unit="人", target=("all", "ge", 3, "up", 0),
         levels=["county"]),
    dict(code="T3_NURSES_PER_DOCTOR", name="基层医护比（每名医师对应护士数）", category="基层卫生人才队伍",
         source="附件3（医护比不低于1：1.25）", numerator="ST_NURSES@primary", denominator="ST_DOCTORS@primary",
         factor=1, unit="", target=("all", "ge", "1.25", "up", 0), levels=["county", "alliance"]),
    dict(code="T3_DOC_COLLEGE", name="基层医师大专及以上学历占比", category="基层卫生人才队伍",
         source="附件3（31.2%→38%）", numerator="ST_DOC_COLLEGE@primary", denominator="ST_DOCTORS@primary",
         factor=100, unit="%", target=("all", "ge", 38, "up", 0), levels=["county", "alliance"]),
    dict(code="T3_DOC_BACHELOR", name="基层医师本科及以上学历占比", category="基层卫生人才队伍",
         source="附件3（20.1%→26.1%）", numerator="ST_DOC_BACHELOR@primary", denominator="ST_DOCTORS@primary",
         factor=100, unit="%", target=("all", "ge", "26.1", "up", 0), levels=["county", "alliance"]),
    dict(code="T3_DOC_MID", name="基层医师中级及以上职称占比", category="基层卫生人才队伍",
         source="附件3（10.01%→15%）", numerator="ST_DOC_MID@primary", denominator="ST_DOCTORS@primary",
         factor=100, unit="%", target=("all", "ge", 15, "up", 0), levels=["county", "alliance"],
         definition="中级及以上职称医师数 / 医师数（基层）。附件3未写明分母，按基层医师计。", derived=True),
    dict(code="T3_DOC_SENIOR", name="基层医师高级职称占比", category="基层卫生人才队伍",
         source="附件3（6.26%→9%）", numerator="ST_DOC_SENIOR@primary", denominator="ST_DOCTORS@primary",
         factor=100, unit="%", target=("all", "ge", 9, "up", 0), levels=["county", "alliance"],
         definition="高级职称医师数 / 医师数（基层）。附件3未写明分母，按基层医师计。", derived=True),
    dict(code="T3_PAIZHU", name="派驻基层人员数（中级以上、满六个月）", category="基层卫生人才队伍",
         source="附件3（技术人员下沉）", numerator="ST_PAIZHU@primary", denominator="", factor=1, unit="人",
         decimals=0, target=("direction", "", None, "up", 0), levels=["county", "alliance"],
         definition="派驻到基层医疗卫生机构、中级及以上职称、本年内派驻满六个月的人数（月末在派）。", derived=True),
    dict(code="A4_39", name="国家基本公共卫生服务项目效果（绩效评价得分）", category="强化健康服务",
         source="附件4（39）；附件6 第23项", numerator="PH_SCORE@primary", denominator="", factor=1, unit="分",
         decimals=1, target=("direction", "", None, "up", 0), aggregation="mean",
         definition="各基层机构绩效评价得分的平均值（取单位均值，不合并分子分母）。"),
    # Seed 000 (湛江方案) items 10.1, 10.3, 11.1, 11.2, 12.2 and seed 001 §四(三): measures the
    # seeds name without a formula (ours, ``derived``). Appended so that the order of the indicators
    # above stays as installed. Not in the 附件6 scheme (the seeds do not put them there).
    dict(code="REFERRALS", name="医共体内双向转诊人次", category="落实分级诊疗制度",
         source="湛江方案 10.3（双向转诊人次同比提升）；方案 四（三）（双向转诊数量）",
         numerator="REFERRALS_UP + REFERRALS_DOWN", denominator="", factor=1, unit="人次", decimals=0,
         target=("direction", "", None, "up", 0), levels=["county", "alliance"],
         definition="上转人次（基层成员单位向医共体内上级医院转出）+ 下转人次（县级医院向医共体内基层成员单位"
                    "转出），均由转出方填报，一次转诊只计一次。目标：同比提升。", derived=True),
    dict(code="REFERRAL_UP_GROWTH", name="上转人次同比增幅", category="落实分级诊疗制度",
         source="湛江方案 10.3（下转增幅高于上转增幅）", numerator="REFERRALS_UP - REFERRALS_UP[ly]",
         denominator="REFERRALS_UP[ly]", factor=100, unit="%", target=("none", "", None, "", 0),
         levels=["county", "alliance"],
         definition="（本期上转人次 − 上年同期上转人次）/ 上年同期上转人次 × 100%。两期各按当时的医共体成员"
                    "关系归集（成员调整不改写上年数）。", derived=True),
    dict(code="REFERRAL_DOWN_GROWTH", name="下转人次同比增幅", category="落实分级诊疗制度",
         source="湛江方案 10.3（下转增幅高于上转增幅）", numerator="REFERRALS_DOWN - REFERRALS_DOWN[ly]",
         denominator="REFERRALS_DOWN[ly]", factor=100, unit="%", target=("none", "", None, "", 0),
         levels=["county", "alliance"],
         definition="（本期下转人次 − 上年同期下转人次）/ 上年同期下转人次 × 100%。两期各按当时的医共体成员"
                    "关系归集（成员调整不改写上年数）。", derived=True),
    dict(code="REFERRAL_GROWTH_GAP", name="下转增幅与上转增幅之差", category="落实分级诊疗制度",
         source="湛江方案 10.3（下转增幅高于上转增幅）",
         numerator="(REFERRALS_DOWN - REFERRALS_DOWN[ly]) / REFERRALS_DOWN[ly]"
                   " - (REFERRALS_UP - REFERRALS_UP[ly]) / REFERRALS_UP[ly]",
         denominator="", factor=100, unit="个百分点", target=("threshold", "gt", 0, "", 0),
         levels=["county", "alliance"],
         definition="下转人次同比增幅 − 上转人次同比增幅（百分点）。目标：大于0，即下转增幅高于上转增幅。"
                    "两期各按当时的医共体成员关系归集。", derived=True),
    dict(code="CHRONIC_DOWN_GROWTH", name="牵头医院下转“两慢病”患者增长率", category="落实分级诊疗制度",
         source="湛江方案 10.3（牵头医院下转“两慢病”患者增长10%以上）",
         numerator="CHRONIC_REFERRED_DOWN@lead - CHRONIC_REFERRED_DOWN@lead[ly]",
         denominator="CHRONIC_REFERRED_DOWN@lead[ly]", factor=100, unit="%", target=("threshold", "ge", 10, "", 0),
         levels=["county", "alliance"],
         definition="（牵头医院本期下转高血压、糖尿病患者人数 − 上年同期人数）/ 上年同期人数 × 100%。",
         derived=True),
    dict(code="CMI", name="牵头医院病例组合指数（CMI值）", category="提升县域医疗卫生服务水平",
         source="湛江方案 10.1（病例组合指数（CMI值）同比提升）", numerator="DRG_WEIGHT@lead",
         denominator="DRG_CASES@lead", factor=1, unit="", decimals=3, target=("direction", "", None, "up", 0),
         definition="牵头医院DRG入组病例总权重 / DRG入组病例数。按总权重与病例数分别累加后相除，"
                    "故季度、年度及多家牵头医院的合计值与逐例计算一致。目标：同比提升。", derived=True),
    dict(code="OP_DISEASE_TYPES", name="成员单位门诊病种数", category="提升基层能力",
         source="湛江方案 11.1（成员单位门诊和住院病种分别达100种和60种）", numerator="OP_DISEASE_TYPES@primary",
         denominator="", factor=1, unit="种", decimals=1, target=("threshold", "ge", 100, "", 0),
         aggregation="mean",
         definition="基层成员单位填报本年累计诊治的门诊病种数（报告期末数）。目标按单位计（每个成员单位≥100种）："
                    "医共体和县取各成员单位的平均值（单位均值），均值达标不代表每个成员单位达标，"
                    "逐个单位见机构层级。", derived=True),
    dict(code="IP_DISEASE_TYPES", name="成员单位住院病种数", category="提升基层能力",
         source="湛江方案 11.1（成员单位门诊和住院病种分别达100种和60种）", numerator="IP_DISEASE_TYPES@primary",
         denominator="", factor=1, unit="种", decimals=1, target=("threshold", "ge", 60, "", 0),
         aggregation="mean",
         definition="基层成员单位填报本年累计收治的住院病种数（报告期末数）。目标按单位计（每个成员单位≥60种）："
                    "医共体和县取各成员单位的平均值（单位均值），均值达标不代表每个成员单位达标，"
                    "逐个单位见机构层级。", derived=True),
    dict(code="VILLAGE_CLINIC_STANDARD_RATE", name="村卫生室规范化率", category="提升基层能力",
         source="湛江方案 11.2（村卫生室规范化率达70%）", numerator="VILLAGE_CLINICS_STANDARD",
         denominator="VILLAGE_CLINICS", factor=100, unit="%", target=("threshold", "ge", 70, "", 0),
         definition="达到规范化建设标准的村卫生室数 / 村卫生室数 × 100%，由中心卫生院、乡镇卫生院按其一体化管理的"
                    "村卫生室填报（期末数）。", derived=True),
    dict(code="CHRONIC_STANDARD_MGMT_RATE", name="“两慢病”患者规范管理率", category="强化健康服务",
         source="湛江方案 12.2（“两慢病”患者规范管理率保持在70%以上）", numerator="CHRONIC_STD_MANAGED@primary",
         denominator="CHRONIC_MANAGED@primary", factor=100, unit="%", target=("threshold", "ge", 70, "", 0),
         definition="基层医疗卫生机构规范管理的高血压、糖尿病患者人数 / 健康管理的高血压、糖尿病患者人数 × 100%"
                    "（两病合并计算，期末数）。", derived=True),
    dict(code="EHR_OPEN_RATE", name="电子健康档案向居民开放率", category="强化健康服务",
         source="湛江方案 12.2（电子健康档案向居民开放率达60%以上）", numerator="EHR_OPENED",
         denominator="EHR_RECORDS", factor=100, unit="%", target=("threshold", "ge", 60, "", 0),
         definition="向居民本人开放（可查询）的电子健康档案数 / 居民电子健康档案建档人数 × 100%，由基层医疗卫生机构"
                    "填报（期末数）。", derived=True),
    dict(code="FUND_PRIMARY_RATE", name="医保基金县域内基层机构支出率", category="深化医保支付方式改革",
         source="方案 四（三）（医保基金县域内基层机构支出率）", numerator="FUND_PRIMARY@county",
         denominator="FUND_IN_COUNTY@county", factor=100, unit="%", target=("direction", "", None, "up", 0),
         levels=["county"],
         definition="医保基金支付给县域内基层医疗卫生机构的金额 / 医保基金县域内支出 × 100%（县医保局结算数据）。"
                    "目标：同比提升。", derived=True),
]

# 附件6: the 24 indicators in the seed's order, with weights adding to 100 (ours: 4 each, 5 for the
# four the seed's targets single out).
SCHEME = [
    ("A4_23", 4), ("A4_25", 4), ("A4_17", 4), ("A4_28", 4), ("A4_21", 4), ("A4_30", 4), ("A4_12", 4),
    ("A4_26", 4), ("A4_29", 4), ("A4_31", 4), ("A4_16", 4), ("ALLIANCE_INPATIENT_SHARE", 5), ("A4_19", 4),
    ("A4_34", 4), ("A4_35", 4), ("A4_32", 5), ("A4_27", 4), ("A4_38", 4), ("A4_24", 5), ("A4_33", 4),
    ("A4_36", 5), ("A4_37", 4), ("A4_39", 4), ("A4_22", 4),
]
SCHEME_CODE = "ANNEX6_QUARTERLY"


# Flows checked against the institution's own history: a month more than three standard deviations
# from its last 24 months is a warning the filer explains (a typo of one digit usually is).
OUTLIER_CHECKS = {"OP_VISITS": ("zscore", 3), "DISCHARGES": ("zscore", 3), "DISCHARGE_BED_DAYS": ("zscore", 3),
                  "MED_REVENUE": ("zscore", 3), "DRUG_REVENUE": ("zscore", 3)}


def indicator_defaults(spec: dict, order: int) -> dict:
    """The fields of a shipped indicator from its entry of ``INDICATORS`` (also used by the migrations
    that add indicators to installed catalogues)."""
    kind, operator, value, direction, points = spec["target"]
    return {
        "name": spec["name"], "category": spec["category"], "source": spec["source"],
        "numerator": spec["numerator"], "denominator": spec["denominator"],
        "factor": Decimal(spec["factor"]), "unit_label": spec["unit"], "decimals": spec.get("decimals", 2),
        "aggregation": spec.get("aggregation", "pooled"), "definition": spec.get("definition", ""),
        "derived_definition": spec.get("derived", False), "target_kind": kind,
        "target_operator": operator, "target_value": None if value is None else Decimal(value),
        "direction": direction, "direction_points": Decimal(points), "levels": spec.get("levels", []),
        "is_key": spec.get("key", False), "order": order,
    }


@transaction.atomic
def install_catalog() -> dict[str, int]:
    """Shared elements, rules, indicators and the 附件6 scheme; returns how many rows were written."""
    written = 0
    for code, name, unit, value_type, aggregation in ELEMENTS:
        _obj, created = DataElement.objects.update_or_create(
            county=None, code=code,
            defaults={"name": name, "unit": unit, "value_type": value_type, "aggregation": aggregation,
                      "outlier": OUTLIER_CHECKS.get(code, ("none", 3))[0],
                      "outlier_threshold": Decimal(OUTLIER_CHECKS.get(code, ("none", 3))[1])},
        )
        written += created
    for code, left, operator, right, severity, message in RULES:
        _obj, created = ValidationRule.objects.update_or_create(
            county=None, code=code,
            defaults={"left": left, "operator": operator, "right": right, "severity": severity, "message": message},
        )
        written += created
    indicators = {}
    for order, spec in enumerate(INDICATORS, start=1):
        indicator, created = Indicator.objects.update_or_create(
            county=None, code=spec["code"], defaults=indicator_defaults(spec, order))
        indicators[spec["code"]] = indicator
        written += created
    scheme, created = EvaluationScheme.objects.update_or_create(
        county=None, code=SCHEME_CODE,
        defaults={"name": "紧密型县域医共体季度评价指标体系", "period_kind": "quarter",
                  "source": "附件6 紧密型县域医疗卫生共同体评价指标体系"},
    )
    written += created
    for order, (code, weight) in enumerate(SCHEME, start=1):
        _obj, created = SchemeItem.objects.update_or_create(
            scheme=scheme, indicator=indicators[code],
            defaults={"weight": Decimal(weight), "rule": SchemeItem.Rule.MET, "order": order},
        )
        written += created
    return {"written": written}


@transaction.atomic
def install_forms(county: Region, *, first_period: str = "") -> list[ReportForm]:
    """The shipped report forms for ``county`` (needs the catalogue). ``first_period`` is given as
    any period; each form gets its own kind's period that contains its start (2024-01 → 2024Q1 for
    a quarterly form)."""
    elements = {element.code: element for element in DataElement.objects.filter(county=None)}
    start = Period.parse(first_period).start if first_period else None
    forms = []
    for code, name, period_kind, filer_level, kinds, rows in FORMS:
        first = str(Period.containing_date(PeriodKind(period_kind), start)) if start else ""
        form, _created = ReportForm.objects.update_or_create(
            county=county, code=code,
            defaults={"name": name, "period_kind": period_kind, "filer_level": filer_level,
                      "institution_kinds": [str(kind) for kind in kinds], "first_period": first},
        )
        for order, (section, element_code, row_kinds) in enumerate(rows, start=1):
            FormElement.objects.update_or_create(
                form=form, element=elements[element_code],
                defaults={"section": section, "order": order, "institution_kinds": [str(k) for k in row_kinds]},
            )
        forms.append(form)
    return forms
