"""The three seed task lists transcribed into .xlsx ledgers as a county clerk keeps them.

The data below is copied from the seed documents (``shared/seeds``), text for text: item numbers
inside the texts (1.1…, （12）…), responsible units, deadline phrases and full-width punctuation are
as printed. Only line breaks that are the PDF/Word wrapping of a cell are removed, except the
"县卫生\\n健康局" cells of seed 001, which keep the break where the Word cell wrapped (the importer
must cope with it). ``None`` is an empty cell of the seed's table.

Run ``python -m tasks.seed_ledgers.build`` to write the workbooks into this folder; the files are
byte-for-byte the same on every run (fixed document properties and zip timestamps).
"""

from __future__ import annotations

import io
import math
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

HERE = Path(__file__).resolve().parent
SHEET_TITLE = "台账"
CREATOR = "医共体治理门户"
FIXED_TIME = datetime(2026, 1, 1)  # noqa: DTZ001 — openpyxl writes naive datetimes (as UTC)
ZIP_TIME = (2026, 1, 1, 0, 0, 0)

# ---------------------------------------------------------------------------------------------
# Seed 000 (shared/seeds/000_03ed86d92934d138.txt, the whole file): the provincial 2021 key-task
# list. Five tables, one per action (一、“深化改革”行动 …), each with the header 重点任务 / 主要内容 /
# 责任单位 / 完成时限. Per action: (action, [(key task, [(item text, unit, deadline), …]), …]).
# The seed gives a key task's units on its first item and leaves the cell empty (merged) below.
# ---------------------------------------------------------------------------------------------
SEED_000_ACTIONS: list[tuple[str, list[tuple[str, list[tuple[str, str | None, str]]]]]] = [
    ("一、“深化改革”行动", [
        ("1．夯实管理责任", [
            ("1.1制定医共体2021年重点工作任务清单、县级部门责任清单，并将年度任务完成情况纳入政府对部门考核体系。",
             "各医共体管委会办公室", "4月底完成并持续推进"),
            ("1.2落实省人大常委会《关于促进县域医疗卫生服务共同体健康发展的决定》，切实加强工作推进和制度供给。",
             None, "12月底"),
            ("1.3全面落实党委领导下的院长负责制，压实清廉医院建设工作职责。",
             None, "12月底"),
        ]),
        ("2．加强人才培养", [
            ("2.1提升医共体管理队伍职业化、专业化水平，开展“五大管理中心”人员能力素质提升培训。",
             "各地卫生健康行政部门、各医共体", "6月底完成并持续实施"),
            ("2.2牵头医院面向成员单位开展以全科为主兼顾专科的模块化培训，成员单位开展具有专科特色和基层特点的临床实践教学活动。",
             None, "6月底完成并持续实施"),
            ("2.3加强全科医生人员招聘、定向培养、规范化培训和转岗培训。",
             None, "12月底"),
        ]),
        ("3．推进医保协同", [
            ("3.1建立健全医保经办机构与县域医共体的协商谈判机制，完善医保总额预算、结余留用、超支分担机制，落实差别化医保报销政策。",
             "各医共体管委会办公室", "12月底"),
            ("3.2动态调整医疗服务价格，逐步理顺医疗服务比价关系。",
             None, "12月底"),
        ]),
        ("4．完善绩效评估", [
            ("4.1健全完善医共体考核评价体系，组织对医共体及医共体负责人开展考核。",
             "各医共体管委会办公室、各医共体", "12月底"),
            ("4.2由医共体对成员单位进行绩效考核，落实基层医疗卫生机构补偿机制改革。",
             None, "12月底"),
        ]),
    ]),
    ("二、“优化配置”行动", [
        ("5．工作一盘棋", [
            ("5.1围绕管理扁平化，全面推进医共体内部人力资源、财务、医保、公共卫生和信息化等管理中心实体化运行。",
             "各医共体", "12月底"),
            ("5.2围绕运行垂直化，牵头医院对成员单位联合门诊和联合病房相应科室实行垂直管理。",
             None, "12月底"),
            ("5.3围绕服务同质化，推进医共体内医疗质量管理、医疗技术管理、医院感染管理等业务制度、工作流程、服务质量相统一。",
             None, "12月底"),
        ]),
        ("6．全员一家人", [
            ("6.1医共体成员单位负责人由医共体负责提名并任命；全面强化医共体领导班子成员任期制、任期目标责任制和年度目标责任制。",
             "各医共体管委会办公室", "12月底"),
            ("6.2制定县乡两类编制统筹使用方案，落实医共体人员统筹调配使用。",
             None, "12月底"),
            ("6.3落实统一岗位设置，牵头医院等级核定医共体岗位总量，分类核定总院和成员单位岗位数量，并向一线和基层倾斜。",
             None, "12月底"),
            ("6.4落实统一公开招聘，根据岗位空缺情况，由医共体对外统一公开招聘；加强乡村卫生人员管理，推行“县聘乡管村用”机制，补充成员单位紧缺人员。",
             None, "12月底"),
            ("6.5落实职称自主评聘和统一岗位竞聘，根据牵头医院和成员单位功能定位和岗位特点，制定差异化评聘标准，实行分类评价。",
             None, "12月底"),
            ("6.6落实薪酬自主分配，以岗位为基础，以绩效为核心，实现薪酬分配一体化，并向基层一线和重点岗位倾斜。",
             None, "12月底"),
        ]),
        ("7．财务一本账", [
            ("7.1落实统一账户管理，在实施医共体零余额账户和基本存款账户管理基础上，每半年进行1次财务分析。",
             "各医共体管委会办公室、各医共体", "7月底完成并持续实施"),
            ("7.2落实统一预算管理，医共体编制年度总预算、成员单位分预算，加强预算执行分析和评价，提高资金使用效率。",
             None, "9月底"),
            ("7.3落实统一资产管理，医共体所有资产实行统一规划和使用管理，医共体药品、耗材、器械等实施统一采购。",
             None, "12月底"),
        ]),
    ]),
    ("三、“数字赋能”行动", [
        ("8．加快推进智慧服务", [
            ("8.1推动信息技术与医疗服务深度融合，开展检查自助预约、体检自助预约、无偿献血荣誉证获得者挂号直免等服务。",
             "各地卫生健康行政部门、各医共体", "12月底"),
            ("8.2推动“互联网+医疗服务”优化升级，形成网上看病、在线结算、送药上门的闭环式规范管理和服务。",
             None, "12月底"),
            ("8.3推进“检查检验共享常态化”“住院服务智慧化”“就医结算便利化”等智慧服务项目，提升群众就医获得感。",
             None, "12月底"),
        ]),
        ("9．加快推进智慧治理", [
            ("9.1搭建统一的数字医共体组织架构和应用框架，打造覆盖所有医共体成员单位的卫生健康线上协同体系。",
             "各地卫生健康行政部门、各医共体", "9月底"),
            ("9.2推进以电子病历为核心的医院信息化建设，全面提升临床诊疗工作的智慧化程度。",
             None, "12月底"),
            ("9.3提升县域病理、影像、心电共享中心建设，加快推进区域医院信息管理系统、区域检验、区域影像归档和通信系统等集约化应用。",
             None, "12月底"),
        ]),
    ]),
    ("四、“能力提升”行动", [
        ("10．打造县级强院", [
            ("10.1牵头医院加强重点学科、专科和专病中心建设，病例组合指数（CMI值）同比提升，全面达到二甲以上能力水平；县域就诊率同比提升1个百分点或达到90%。",
             "各地卫生健康行政部门、各医共体", "12月底"),
            ("10.2山区海岛县县级医院与省市级医院精准对接，提升“3342X”服务能力。",
             None, "12月底"),
            ("10.3完善双向转诊办法和疾病诊疗目录，医共体内双向转诊人次同比提升，下转增幅高于上转增幅；“两慢病”先行地区基层门诊就诊率达70%以上，牵头医院下转“两慢病”患者增长10%以上。",
             None, "12月底"),
        ]),
        ("11．提升基层能力", [
            ("11.1持续推进全专科联合门诊和联合病房建设，成员单位门诊和住院病种分别达100种和60种；基层就诊率同比提升2个百分点或达到65%。",
             "各地卫生健康行政部门、各医共体", "12月底"),
            ("11.2完善村级医疗卫生机构一体化管理，村卫生室规范化率达70%；加强巡回医疗服务力度。",
             None, "12月底"),
            ("11.3健全完善县域中医服务网络，强化中医特色服务、中西医结合服务，乡乡有中医馆和中医师，村村开展中医服务。",
             None, "12月底"),
        ]),
    ]),
    ("五、“医防融合”行动", [
        ("12．推进医防融合", [
            ("12.1拓展延伸“两员一中心一团队”工作模式，建立健全医共体与疾控、妇幼、精神卫生等专业公共卫生机构密切协作工作机制，推动医防机构人员通、信息通、资源通。",
             "各地卫生健康行政部门、各医共体", "12月底"),
            ("12.2深化签约服务内涵，重点人群家庭医生签约率巩固在70%以上；做实基本公共卫生服务，“两慢病”患者规范管理率保持在70%以上，电子健康档案向居民开放率达60%以上。",
             None, "12月底"),
        ]),
        ("13．完善闭环管理", [
            ("13.1二级以上综合医院、开设儿科服务的妇幼保健院、中医院规范设置发热门诊和隔离留观室，严格落实“四集中”要求，提升核酸采样、实验室检测、医疗救治和院感防控能力，加强对成员单位的指导巡查。",
             "各地卫生健康行政部门、各医共体", "持续实施"),
            ("13.2成员单位严格落实预检分诊，设立发热诊室（传染性疾病专用诊室）和隔离留观室，有条件的可设置发热门诊，规范发热病人就诊流程，严格落实“四早”要求，及时发现和转诊可疑病例。",
             None, "持续实施"),
            ("13.3统筹做好新冠病毒疫苗预防接种服务和医疗救治保障工作，每个接种点均做到有经专业培训的驻点急诊急救人员，有必备的急救设备药品，有120急救车现场值守，有二级以上综合医院救治绿色通道。",
             None, "持续实施"),
        ]),
    ]),
]

# The paragraph after the last table (a note; the importer stops at it).
SEED_000_NOTE = ("鼓励各地重点探索的医共体改革事项：1.医共体人员岗位管理；2.数字医共体建设；3.公共卫生“两员一中心一团队”"
                 "运行机制；4.医共体医保支付方式改革；5.医共体医疗服务价格调整；6.医共体统一预算管理。")

# ---------------------------------------------------------------------------------------------
# Seed 001 (shared/seeds/001_73de90c5cbe97998.txt, 附件4 “郁南县紧密型县域医疗卫生共同体建设任务清单”):
# the table row by row: (类别, 重点工作, 任务清单, 责任单位, 完成时间); None is an empty cell.
# Judgment calls:
# - the category text is repeated where the Word table broke across pages (at （13）, （25） and
#   （36））: each repetition starts a new merged range, as in the seed;
# - the two entirely empty rows (after （23） and after （35）) are kept; their empty cells continue
#   the category, key task and units above them (the rule for every empty cell of the seed);
# - the deadline cells from （16） on hold a full-width space (U+3000) in the seed: written empty;
# - （4）–（14） have empty deadline cells, （4）–（5） under the dates of （1）–（3）: written empty, not
#   merged (the seed does not say they share （3）'s date);
# - "17. 提高基本公共卫生服务水平" keeps the space after "17." and （2） its half-width comma, as printed.
# ---------------------------------------------------------------------------------------------
SEED_001_ROWS: list[tuple[str | None, str | None, str | None, str | None, str | None]] = [
    ("（一）落实责任，统筹推进县域医共体建设", "1.完善管理机制", "（1）制定县域医共体建设方案，明确建设目标和具体任务，协调推进管理、人事、薪酬、医保支付等各项改革措施。", "县卫生健康局、县委编办、县发展改革局、县教育局、县财政局、县人力资源社会保障局、县自然资源局、县市场监管局、县医保局", "2020.03"),
    (None, None, "（2）落实县域医共体建设全覆盖,初步建成目标明确、权责清晰、分工协作、服务优质、有效运行的县域医共体。", None, "2020.12"),
    (None, None, "（3）建立医院管理委员会，县政府牵头建立编制、发改、财政、人社、自然资源、卫生健康、市场监管、医保等部门和县域医共体成员单位参与的协调机制。", None, "2020.06"),
    (None, None, "（4）整合信息系统，实现县域内医疗卫生信息系统融合和信息共享。", None, None),
    (None, None, "（5）完善镇村一体管理，探索实施村医统招统管村用。", None, None),
    (None, "2.深化人事薪酬制度改革", "（6）探索公立医院实行编制、人员管理员额制，县公立医院和镇卫生院的编制分别核定。由县域医共体统筹使用。", "县委编办", None),
    (None, None, "（7）落实县域医共体用人自主权，牵头医院对成员单位中级干部有任命权。", "县人力资源社会保障局", None),
    (None, None, "（8）落实“两个允许”要求，允许医疗卫生机构突破现行事业单位工资调控水平，允许医疗服务收入扣除成本后并按规定提取各项基金后主要用于人员奖励。", None, None),
    (None, None, "（9）实行目标管理责任制，探索县域医共体牵头医院及其成员单位负责人实行年薪制。", None, None),
    (None, None, "（10）优化内部绩效分配制度，医务人员收入由县域医共体自主分配，以岗位为基础，以绩效为核心，打破单位、层级和身份区别，建立多劳多得、优绩优酬的分配机制。", None, None),
    (None, None, "（11）落实镇卫生院绩效工资政策，建立符合医疗卫生行业特点、有利于人才下沉和县域医共体发展的薪酬制度。", None, None),
    (None, None, "（12）县域医共体内镇卫生院与牵头医院人均薪酬比：县域医共体内镇卫生院人均薪酬/医共体牵头医院人均薪酬×100%。", None, None),
    ("（一）落实责任，统筹推进县域医共体建设", "3.落实财政投入", "（13）探索落实镇卫生院“公益一类财政供给，公益二类绩效管理”。保障其基本建设和设备购置、重点学科发展、信息化建设、人才培养、公共卫生服务和政策性亏损补贴等投入，以及对中医药的投入倾斜政策。", "县财政局", None),
    (None, None, "（14）基本公共卫生服务经费实行县域医共体统筹管理和使用。", None, None),
    (None, "4.深化医保支付方式改革", "（15）县医保局与县域医共体统一结算，开展总额付费、结余留用、合理超支分担的医保支付方式综合改革试点。", "县医保局", "2020.12"),
    (None, None, "（16）县域医共体内医保资金占业务收入比例：县域医共体医保资金/县域医共体总业务收入×100%。", None, None),
    # "县卫生\n健康局": the Word cell wrapped there; the break is kept on purpose (five times below).
    ("（二）整体推进县域医疗卫生服务水平", "5.提高县域内卫生技术人员数量", "（17）县域内每千人口全科医生数：当年该县全科医生数/当年该县常住人口数×1000。", "县卫生\n健康局", None),
    (None, "6.促进患者回流县域", "（18）县域内住院率：县域医共体在县域内住院人次的占比提升患者回流县域的效果。", None, None),
    (None, None, "（19）医保基金县域内支出率：所在县域医共体医保基金的县域内支出额/县域基金总支出×100%。", None, None),
    (None, None, "（20）统一药械管理：县域医共体设立唯一药械采购账户，统一用药目录，实行药械统一采购和配送、药款统一支付。", None, None),
    (None, "7.促进基层开展优质医疗卫生服务", "（21）“优质服务基层行”活动达标机构数量：评价达到推荐标准卫生院和社区中心数量和比例，县域医共体督促基层开展医疗卫生服务的效果，与全省平均分对比。", None, None),
    (None, "8.保障健康老龄化服务", "（22）65～74岁老年人失能发生率：65～74岁失能老年人数/65～74岁老年总人数×100%。降低65～74岁老年人失能发生率，将失能的发生尽可能延迟至生命的终末期，维持老年人的功能发挥，是世界卫生组织提倡的健康老龄化目标之一。", None, None),
    ("（三）充分发挥牵头医院的带动作用", "9.提升牵头医院的综合能力", "（23）牵头医院是否达到国家标准：主要体现牵头医院的综合能力提升，同时关注牵头医院和下属成员单位的服务量变化情况，应达到加强预防、减少住院、将服务量下沉以提高医保基金结余的效果。", "县卫生\n健康局", None),
    # An entirely empty row of the Word table (a page break inside 9.提升牵头医院的综合能力).
    (None, None, None, None, None),
    (None, None, "（24）牵头医院出院患者平均住院日：报告期内县域医共体牵头医院出院者占用总床日数/同期牵头医院出院总人数×100%。", None, None),
    ("（三）充分发挥牵头医院的带动作用", "10.改革牵头医院的运营理念", "（25）牵头医院出院患者三四级手术比例：出院患者三四级手术台次数/同期出院患者手术台次数×100%。", "县卫生\n健康局", None),
    (None, None, "（26）牵头医院技术劳务性收入占医疗收入比例：牵头医院医疗服务性收入/牵头医院医疗收入×100%。（技术劳务性收入是指剔除药品、耗材、检查和检验后的医疗收入）", None, None),
    (None, None, "（27）牵头医院下转康复护理患者数量占比：牵头医院下转基层医疗卫生机构康复护理患者人数/基层医疗卫生机构康复护理患者总人数×100%。", None, None),
    (None, "11.促进牵头医院帮扶基层积极性", "（28）牵头医院帮助基层开展新技术、新项目的数量：了解医共体是否制定牵头医院帮助基层医疗卫生机构开展新技术、新项目的制度，应能提供开展项目名称、数量、安全性、进展情况、社会效益等佐证支撑材料。", None, None),
    (None, "12.保障改革后县级医院医务人员工资待遇", "（29）牵头医院人员经费占业务支出比例：牵头医院人员经费/牵头医院业务支出金额×100%。", None, None),
    ("（四）提升镇卫生院健康服务水平", "13.增加基层医疗卫生机构财政投入", "（30）县域医共体内镇卫生院财政收入占总收入的比例：县域医共体内镇卫生院的财政收入/镇卫生院总收入×100%。", "县卫生\n健康局", None),
    (None, "14.提升基层医疗服务能力", "（31）县域医共体内镇卫生院技术劳务性收入占医疗收入的比例：县域医共体内镇卫生院的技术劳务性收入/镇卫生院医疗收入×100%。", None, None),
    (None, None, "（32）县域医共体内镇卫生院门急诊人次占比：县域医共体内镇卫生院诊疗人次数/县域医共体内医疗卫生机构总诊疗人次数×100%。", None, None),
    (None, None, "（33）县域医共体内镇卫生院床位使用率：报告期内县域医共体内镇卫生院实际占用总床日数/同期医共体内镇卫生院实际开放总床日数×100%。", None, None),
    (None, "15.促进分级诊疗制度落实", "（34）县域医共体内镇卫生院住院率：县域医共体内镇卫生院住院人数/县域医共体住院总人数×100%。", None, None),
    (None, None, "（35）县域医共体内镇卫生院医保基金占比：县域医共体内镇卫生院医保基金收入/县域医共体内医保基金收入总数×100%。", None, None),
    # An entirely empty row of the Word table (a page break before （四） is repeated).
    (None, None, None, None, None),
    ("（四）提升镇卫生院健康服务水平", "16.做实做细家庭医生签约服务", "（36）重点人群家庭医生签约率≥60%，且持续提升：重点人群签约服务人数/重点人群人口总数×100%。重点人群包括：辖区内0-6岁儿童；65岁及以上常住居民；孕13周之前建册并进行第一次产前检查的产妇；在管高血压、2型糖尿病患者；在管肺结核患者；在管严重精神障碍患者；残疾人；计划生育特殊家庭；贫困人口。", "县卫生\n健康局", None),
    (None, None, "（37）签约的慢病控制率（高血压+糖尿病）：签约高血压控制率是指签约家庭医生的18岁及以上高血压人群中，通过治疗将血压水平控制在140/90mmHg以下者所占的比例。签约糖尿病控制率是指签约家庭医生的18岁及以上糖尿病人群中，空腹血糖控制在7.0mmol/L及以下或糖化血红蛋白控制在7%及以下者所占的比例。", None, None),
    (None, "17. 提高基本公共卫生服务水平", "（38）慢病患者（高血压+糖尿病）镇卫生院管理率、规范管理率：县域医共体内镇卫生院健康管理慢病患者人数/医共体内已管理的慢病患者总人数×100%。", None, None),
    (None, None, "（39）国家基本公共卫生服务项目效果：镇卫生院基本公共服务的开展情况（绩效评价得分）。", None, None),
]

# ---------------------------------------------------------------------------------------------
# Seed 004 (shared/seeds/004_fae14af7d0856576.txt, 附件 “同仁市 2021 年综合医改重点工作台账”): the
# ledger, one PDF row per line with tab-separated cells; the extraction moved some cell boundaries,
# so 责任部门 / 配合部门 / 时限要求 are decided row by row (notes beside the rows). Units that share
# a cell are space-separated, as printed. Per section: (序号, heading, [(序号, 重点工作, 责任部门,
# 配合部门, 时限要求), …]); None is an empty cell. The empty lines between some rows of the seed are
# page breaks of the PDF, not rows of the table: not reproduced.
# ---------------------------------------------------------------------------------------------
SEED_004_SECTIONS: list[tuple[str, str, list[tuple[int, str, str | None, str | None, str]]]] = [
    ("一", "推进公立医院高质量发展", [
        (1, "加强公立医院党的建设，全市各级医疗机构要完善党委会议和院长办公会议议事规则，实行党委领导下的院长负责制，明确公立医院党委书记职责规范医院领导班子议事决策程序，健全党委与行政领导班子议事决策制度，将公立医院党建与深化改革、完善制度、促进治理贯通起来，与业务工作同谋划、同部署、同落实、同考核。",
         "市卫生健康局", "——", "10月底"),
        (2, "加强公立医院医德医风建设、党风廉政建设、抓好精神文明建设、意识形态、统战和群团工作，履行党风廉政建设主体责任和监督责任，打造清廉医院。",
         "市卫生健康局", "——", "长期"),
        # Seed: "市卫生健康局 ——<TAB>10月底前 出台文件" — the unit and the dash share a PDF cell; the dash
        # is the 配合部门 (as in rows 1–2), and the space in "10月底前 出台文件" is the cell's line wrap.
        (3, "以建立健全现代医院管理制度为目标，统筹推进医学、医疗、医保、医药、医院的“五医联动”，加快推进公立医院高质量发展，逐步实现公立医院“三转变三提高”。",
         "市卫生健康局", "——", "10月底前出台文件"),
        # Seed rows 4–5: "市卫生健康局 市财政局<TAB>市发展和改革局 12月底" — the last PDF cell holds both the
        # 配合部门 and the deadline; split at the deadline.
        (4, "强化公立医院规划引领和公立医院体系创新，全面落实乙类大型医用设备配置许可和准入标准政策，严格审批和采购流程，严禁私自举债建设和购置大型医用设备。",
         "市卫生健康局 市财政局", "市发展和改革局", "12月底"),
        (5, "推动区域医疗中心建设，提升市域服务能力，落实分级诊疗制度，持续提升医疗质量。健全疫情防控体系，建立医防协同体系，加快公立医院技术创新，强化公立医院运营管理。",
         "市卫生健康局 市财政局", "市发展和改革局", "12月底"),
        # Seed rows 6–7: "<units><TAB>—— 12月底" — the last PDF cell holds the dash (配合部门) and the deadline.
        (6, "优化财政补助方式，重点支持公立医院设备购置、学科发展、人才培养等医疗服务能力提升项目。",
         "市财政局 市卫生健康局", "——", "12月底"),
        (7, "按照省上统一部署，开展卫生系列专业技术人员职称制度改革。",
         "市卫生健康局 市人力资源和社会保障局", "——", "12月底"),
        (8, "继续落实“双定向”和公立医院薪酬制度改革。",
         "市卫生健康局 市人力资源和社会保障局", "市财政局", "12月底"),
        (9, "落实公立医院科室设置、中层干部任命、人员招聘等内部管理自主权。",
         "市卫生健康局", "市委编办 市人力资源和社会保障局", "12月底"),
        # Seed: "市卫生健康局<TAB>市卫生健康局<TAB>—— 12月底" — four values for three cells. Kept as printed:
        # 配合部门 "市卫生健康局" (the same unit as 责任部门; the importer flags it), the stray "——"
        # dropped, deadline "12月底".
        (10, "实施二级公立医院绩效考核，考核结果与医院等级评审、资金分配等挂钩。",
         "市卫生健康局", "市卫生健康局", "12月底"),
        (11, "落实公立医院运营管理、全面预算、成本核算、内部控制等政策，定期通报经济运行情况，进一步规范人员、资产、后勤等精细化管理，提高运行效率。",
         "市卫生健康局", "市财政局", "12月底"),
        # Seed: "市卫生健康局 市人民医院<TAB>——<TAB>12月底" — the tab places 市人民医院 in the 责任部门 cell
        # (the body text names it as 配合单位 of (一), but the ledger is transcribed as printed).
        (12, "市人民医院完成二级乙等医院等级评审。",
         "市卫生健康局 市人民医院", "——", "12月底"),
    ]),
    # Seed: "二 深化医疗保障制度改革" in one PDF cell; split into 序号 "二" and the heading (as section 一).
    ("二", "深化医疗保障制度改革", [
        (13, "完善城乡居民医保普通门诊统筹政策，建立健全职工医保门诊共济保障机制，逐步将门诊医疗费用纳入基本医保统筹基金支付范围。建立参保登记与缴费、欠费与补缴有机衔接的工作机制。",
         "市医疗保障局", "市财政局", "12月底"),
        (14, "完善跨省异地就医直接管理服务，基本实现普通门诊费用跨省直接结算统筹地区全覆盖，探索高血压、糖尿病等门诊慢特病跨省直接结算。",
         "市医疗保障局", "——", "12月底"),
        (15, "全面推进医疗救助省级统筹工作。",
         "市医疗保障局", "市财政局", "12月底"),
        (16, "研究制定医疗保障待遇清单管理制度实施意见。",
         "市医疗保障局", "市财政局", "12月底"),
        (17, "扩大按病种和日间手术的病种范围，将符合条件的互联网+医疗服务纳入医保支付范围。",
         "市医疗保障局", "市卫生健康局", "12月底"),
        (18, "持续开展医疗服务价格改革，完善医疗服务价格动态调整机制，逐步提高医疗服务收入在医院总收入中的比重，降低大型医用设备检查治疗和检验等价格。",
         "市医疗保障局", "市卫生健康局 市财政局", "12月底"),
        (19, "及时审核各级医疗机构上报的新增医疗服务项目，鼓励研发创新，确保新的医疗技术及时进入临床使用。",
         "市医疗保障局 市财政局", "市卫生健康局", "12月底"),
    ]),
    ("三", "健全药品供应保障体系", [
        # Rows 20–22 print a single dash "—" (not "——"); kept as printed.
        (20, "落实城乡居民糖尿病、高血压门诊用药保障政策。",
         "市医疗保障局", "—", "12月底"),
        (21, "探索公立医院总药师制度，提高临床药物的合理使用水平。",
         "市卫生健康局", "—", "12月底"),
    ]),
    # The ledger says 强化提升医疗服务能力 where the body says 加快提升医疗服务能力; the ledger's text is kept.
    ("四", "强化提升医疗服务能力", [
        # Seed: "市卫生健康局 市教育局 市人力资源和社会保障局<TAB>—<TAB>12月底" — the tabs put all three
        # units in 责任部门 and the dash in 配合部门 (the body lists 市教育局 and 人社局 as 配合单位 of (十),
        # but the ledger is transcribed as printed).
        (22, "落实住院医师规范化培训制度，实施医学专业高校毕业生免试申请乡村医生执业政策，落实乡村医生待遇。完善毕业后医学教育制度，落实“两个同等对待”。大力发展远程教育，结合线上线下智慧医疗推动远程医疗教育培训。加强农村订单定向医学生就业安置和履约管理。",
         "市卫生健康局 市教育局 市人力资源和社会保障局", "—", "12月底"),
        # Seed: "市卫生健康局 —— 标<TAB>12月底前完成阶段性目标" — "标" is the wrapped end of 目标 (dropped);
        # the dash is the 配合部门.
        (23, "实施高层次卫生人才三年带教行动计划。",
         "市卫生健康局", "——", "12月底前完成阶段性目标"),
        # Seed: "市卫生健康局 市农牧和科技局<TAB>12月底前完成阶段性目标" — one cell short; the body names
        # 市农牧和科技局 as 配合单位 of (十一), so it is the 配合部门.
        (24, "结合我市病谱实际，加强高原病、地方病、多发病科学研究，重点推进藏医制剂的开发研制，州、市医疗机构建立联动机制，推进卫生科研成果转化应用。",
         "市卫生健康局", "市农牧和科技局", "12月底前完成阶段性目标"),
        # Seed rows 25–26: four units in one PDF cell, then the deadline — one cell short. All four are
        # kept in 责任部门 (one cell, space-separated as printed); 配合部门 is left empty.
        (25, "持续深化市域综合医改。",
         "市卫生健康局 市医疗保障局 市人力资源和社会保障局 市委编办", None, "10月底"),
        (26, "全面落实基层医疗卫生机构“两个允许”，建立“公益一类保障、公益二类管理”激励机制，提高医务人员薪酬待遇，进一步完善乡村医生待遇保障和乡聘村用机制。",
         "市卫生健康局 市医疗保障局 市人力资源和社会保障局 市委编办", None, "12月底"),
        (27, "改善基层基础设施条件，持续开展“优质服务基层行”活动。做实做细家庭医生签约服务，重点人群签约率、履约率达到90%以上。",
         "市卫生健康局", "——", "12月底"),
        (28, "市域就诊率达到85%以上或较上年度提高5个百分点，基层医疗卫生机构诊疗人次数占医疗卫生机构诊疗总人次数的比例较上年度明显上升。",
         "市卫生健康局", "——", "12月底"),
        # "市保障局" is kept as printed (presumably 市医疗保障局; the demo maps it as an alias).
        (29, "在巩固对口支援工作基础上，开展市内对口支援提效行动，提高诊疗水平。",
         "市卫生健康局 市委编办 市保障局", "市财政局 市人力资源和社会保障局", "12月底"),
        (30, "进一步加强专科联盟建设，推进适合医院自身发展和群众就医需求的包虫病、妇产科、儿科等专科联盟建设工作。",
         "市卫生健康局", "——", "12月底"),
        (31, "加快医疗卫生信息化建设，推进市人民医院远程会诊系统建设，继续扩大基层远程医疗网络覆盖面，建立基层医疗机构与上级医疗机构分工协作工作机制。",
         "市卫生健康局", "市发展和改革局", "12月底"),
        # Seed: "——<TAB>市卫生健康局<TAB>12月底" — the ledger prints no 责任部门; kept as printed.
        (32, "加快推动州、市、乡三级卫生健康信息互联互通、数据共享和业务协同，积极推进区域平台建设各项工作。",
         "——", "市卫生健康局", "12月底"),
        (33, "全面实现医保系统“乡乡通”，将医保系统延伸到有条件的村卫生室。",
         "市医疗保障局", "市卫生健康局", "12月底"),
    ]),
    ("五", "推动中藏医药传承创新发展", [
        (34, "持续推进市中医院建设，推动市域内中藏医药发展。",
         "市卫生健康局", "——", "12月底"),
        (35, "加大适宜技术推广，每个中藏医馆至少提供针刺、艾灸、推拿、药浴等6类以上中藏医药适宜技术，乡镇卫生院中藏医药服务收入占比较上年度提高5个百分点。",
         "市卫生健康局", "——", "12月底"),
    ]),
    # The ledger says 健康黄南 where the body says 健康同仁; the ledger's text is kept.
    ("六", "加快推进健康黄南建设", [
        (36, "全面落实疾病预防控制体系建设措施，优化疾控机构职能设置，改善市疾控机构基础条件，提升现场调查处置和实验室检测等能力，建立上下联动的分工协作机制。",
         "市卫生健康局", "市委编办 市发展和改革局 市财政局 市人力资源和社会保障局", "10月底前完成阶段性目标"),
        # Rows 37–41: the extraction wrapped the text in "<p>…</p>"; the HTML tags are dropped.
        (37, "进一步加快推进医防融合，强化疾病预防控制中心技术指导、人员培训、督导评价等职能，督促各级医疗机构落实疾病预防控制职责。推进城乡居民电子健康档案应用，深入推进基层医防融合。以等级评审为抓手，推进妇幼保健机构内部业务部门改革重组，合理设置业务部门，提供防治结合的医疗保健服务。",
         "市卫生健康局", "——", "12月底"),
        (38, "开展医养结合服务质量提升行动，促进医疗机构与养老机构签约合作，加强人才队伍培训，提高医养结合服务质量。",
         "市卫生健康局", "市民政局", "12月底"),
        (39, "坚持常态化防控和局部应急处置有机结合，毫不放松做好新冠肺炎疫情防控“外防输入、内防反弹”工作，及时有效做好聚集性疫情应急处置。",
         "市卫生健康局", "市直相关医疗机构", "12月底"),
        (40, "完善健康码管理，做好信息化支撑常态化疫情防控。",
         "市卫生健康局", "市发展和改革局", "12月底"),
        (41, "加快推进新冠疫苗接种工作，年底达到人群接种80%的目标。推动完善公共卫生重大风险评估、研判、决策机制，强化基层公共卫生体系。",
         "市卫生健康局", "——", "12月底"),
        (42, "完善传染病医疗救治网络，强化感染、急诊、重症、检验等专科建设，推进市医院救治能力提升工程，建成标准化的传染病区、发热门诊、核酸实验室。",
         "市卫生健康局", "市发展和改革局 市财政局", "12月底"),
    ]),
    ("七", "提高行业综合监管能力", [
        (43, "完善医疗卫生行业综合监管协调和督察机制，全面落实2020年医疗卫生综合监管国家督察反馈问题整改，强化综合监管结果运用。",
         "市卫生健康局", "市直相关医疗机构", "12月底"),
        (44, "加强医疗机构和医务人员执业行为监管，落实医疗机构依法执业自我管理主体责任。",
         "市卫生健康局", "——", "12月底"),
        (45, "加快推进医疗保障基金监管制度体系改革，建立监督检查常态机制，完善对医疗服务的监管机制，建立信息强制披露制度，提升医保治理能力。持续开展打击欺诈骗保，建立医疗保障信用体系，依法依规将欺诈骗保行为信息纳入国家公共信用信息共享平台（青海），并对失信主体实施联合惩戒。",
         "市医疗保障局", "市卫生健康局 市发展和改革局", "12月底"),
        (46, "加强对医疗机构药品、耗材、医疗器械等采购和使用情况的监管。",
         "市医疗保障局", "市卫生健康局", "12月底"),
        (47, "加大对抗生素、医保目录外药品和高值医用耗材使用、大型设备检查监控力度。",
         "市卫生健康局", "市医疗保障局", "12月底"),
        (48, "强化药品质量、药品和医疗服务价格行为监管，依法严厉查处价格违法和垄断行为，维护药品和医疗服务市场价格秩序。",
         "市市场监督管理局", "市卫生健康局 市医疗保障局", "12月底"),
    ]),
]

# ---------------------------------------------------------------------------------------------
# The ledgers: one workbook per seed, one sheet "台账" each.
# ---------------------------------------------------------------------------------------------
LEDGERS: list[dict] = [
    {"seed": "000", "source": "000_03ed86d92934d138.txt", "filename": "ledger_000_key_tasks_2021.xlsx",
     # The seed has no title line; this one describes it.
     "title": "县域医共体建设2021年重点任务清单", "doc_number": "", "issuer": "", "year": "2021",
     "layout": "tree", "items": 39,
     "columns": [("重点任务", 18), ("主要内容", 60), ("责任单位", 24), ("完成时限", 16)]},
    {"seed": "001", "source": "001_73de90c5cbe97998.txt 附件4", "filename": "ledger_001_yunan_2020.xlsx",
     "title": "郁南县紧密型县域医疗卫生共同体建设任务清单", "doc_number": "郁府办函〔2020〕78号",
     "issuer": "郁南县人民政府办公室", "year": "2020", "layout": "tree", "items": 39,
     "columns": [("类别", 20), ("重点工作", 20), ("任务清单", 60), ("责任单位", 20), ("完成时间", 12)]},
    {"seed": "004", "source": "004_fae14af7d0856576.txt 附件", "filename": "ledger_004_tongren_2021.xlsx",
     "title": "同仁市2021年综合医改重点工作台账", "doc_number": "同政办〔2021〕14号",
     "issuer": "同仁市人民政府办公室", "year": "2021", "layout": "numbered", "items": 48,
     "columns": [("序号", 7), ("重点工作", 60), ("责任部门", 24), ("配合部门", 24), ("时限要求", 16)]},
]

HEADER_ROW = 3
FIRST_DATA_ROW = 4
FONT_NAME = "宋体"
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
SECTION_FILL = PatternFill("solid", fgColor="F2F2F2")
LINE_HEIGHT = 15.0  # points per line of 11pt 宋体


class Sheet:
    """The rows of one ledger sheet before it is written: kinds ("item", "section", "blank"),
    values per column, and the merged ranges (first row, last row, first column, last column), with
    rows counted from the first data row (0) and columns from 1."""

    def __init__(self, width: int):
        self.width = width
        self.kinds: list[str] = []
        self.rows: list[list[str | int | None]] = []
        self.merges: list[tuple[int, int, int, int]] = []

    def add(self, kind: str, values: list[str | int | None]) -> int:
        assert len(values) == self.width, values
        self.kinds.append(kind)
        self.rows.append(values)
        return len(self.rows) - 1

    def merge_down(self, column: int, bounds: tuple[int, ...] = ()) -> None:
        """Merge each filled cell of ``column`` with the empty cells below it, up to the next filled
        cell of the column or of one of the ``bounds`` columns (the levels above it), or a section row."""
        start = None

        def close(end: int) -> None:
            if start is not None and end > start:
                self.merges.append((start, end, column, column))

        for index, (kind, values) in enumerate(zip(self.kinds, self.rows, strict=True)):
            filled = values[column - 1] not in (None, "")
            bounded = any(values[b - 1] not in (None, "") for b in bounds)
            if kind == "section" or filled or bounded:
                close(index - 1)
                start = index if (kind != "section" and filled) else None
        close(len(self.rows) - 1)


def _sheet_000() -> Sheet:
    sheet = Sheet(4)
    for action, key_tasks in SEED_000_ACTIONS:
        index = sheet.add("section", [action, None, None, None])
        sheet.merges.append((index, index, 1, 4))
        for key_task, items in key_tasks:
            for position, (text, unit, deadline) in enumerate(items):
                sheet.add("item", [key_task if position == 0 else None, text, unit, deadline])
    sheet.merge_down(1)  # 重点任务 over its items
    sheet.merge_down(3, bounds=(1,))  # 责任单位 over the empty cells below, within the key task
    return sheet


def _sheet_001() -> Sheet:
    sheet = Sheet(5)
    for row in SEED_001_ROWS:
        sheet.add("blank" if not any(row) else "item", list(row))
    sheet.merge_down(1)  # 类别; a repeated category (a page break of the Word table) starts a new range
    sheet.merge_down(2, bounds=(1,))  # 重点工作
    sheet.merge_down(4, bounds=(1,))  # 责任单位, never across a category or a repeated category
    return sheet  # 完成时间: never merged; empty where the seed has no date


def _sheet_004() -> Sheet:
    sheet = Sheet(5)
    for numeral, heading, rows in SEED_004_SECTIONS:
        sheet.add("section", [numeral, heading, None, None, None])
        for number, text, lead, coop, deadline in rows:
            sheet.add("item", [number, text, lead, coop, deadline])
    return sheet


SHEETS = {"000": _sheet_000, "001": _sheet_001, "004": _sheet_004}
# Per layout: the content column (left-aligned) and the deadline column (text cells).
CONTENT_COLUMN = {"000": 2, "001": 3, "004": 2}
DEADLINE_COLUMN = {"000": 4, "001": 5, "004": 5}


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _lines(value, width: float) -> int:
    if value in (None, ""):
        return 1
    usable = max(width - 2, 4)
    return sum(max(1, math.ceil(_display_width(part) / usable)) for part in str(value).split("\n"))


def _row_heights(sheet: Sheet, widths: list[float]) -> list[float]:
    """Row heights that show every wrapped text (Excel does not grow rows for merged cells)."""
    spans = {}
    for first_row, last_row, first_col, last_col in sheet.merges:
        spans[(first_row, first_col)] = (last_row, sum(widths[first_col - 1:last_col]))
        for r in range(first_row, last_row + 1):
            for c in range(first_col, last_col + 1):
                if (r, c) != (first_row, first_col):
                    spans[(r, c)] = None
    heights = [LINE_HEIGHT + 6] * len(sheet.rows)
    tall: list[tuple[int, int, float]] = []
    for r, values in enumerate(sheet.rows):
        for c, value in enumerate(values, start=1):
            span = spans.get((r, c), (r, widths[c - 1]))
            if span is None:
                continue
            last_row, width = span
            need = _lines(value, width) * LINE_HEIGHT + 6
            if last_row == r:
                heights[r] = max(heights[r], need)
            else:
                tall.append((r, last_row, need))
    for first_row, last_row, need in tall:
        have = sum(heights[first_row:last_row + 1])
        if have < need:
            extra = (need - have) / (last_row - first_row + 1)
            for r in range(first_row, last_row + 1):
                heights[r] += extra
    return [round(h, 1) for h in heights]


def build_workbook(spec: dict) -> Workbook:
    """The workbook of one ledger (see ``LEDGERS``)."""
    sheet = SHEETS[spec["seed"]]()
    columns = spec["columns"]
    width = len(columns)
    widths = [w for _title, w in columns]
    content_col, deadline_col = CONTENT_COLUMN[spec["seed"]], DEADLINE_COLUMN[spec["seed"]]

    wb = Workbook()
    wb.properties.creator = CREATOR
    wb.properties.lastModifiedBy = CREATOR
    wb.properties.title = spec["title"]
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    ws = wb.active
    ws.title = SHEET_TITLE
    base = Font(name=FONT_NAME, size=11)
    bold = Font(name=FONT_NAME, size=11, bold=True)

    # Row 1: the title across the table.
    ws.cell(1, 1, spec["title"]).font = Font(name=FONT_NAME, size=16, bold=True)
    ws.cell(1, 1).alignment = Alignment(horizontal="center", vertical="center")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.row_dimensions[1].height = 32
    # Row 2: the source document.
    for col, text in ((1, f"文号：{spec['doc_number']}"), (3, f"发文机关：{spec['issuer']}"), (5, f"年度：{spec['year']}")):
        cell = ws.cell(2, col, text)
        cell.font = base
        cell.alignment = Alignment(vertical="center")
    ws.row_dimensions[2].height = 20
    # Row 3: the header.
    for col, (title, col_width) in enumerate(columns, start=1):
        cell = ws.cell(HEADER_ROW, col, title)
        cell.font = bold
        cell.fill = HEADER_FILL
        cell.border = BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = col_width
    ws.row_dimensions[HEADER_ROW].height = 24

    # The data rows.
    heights = _row_heights(sheet, widths)
    for index, (kind, values) in enumerate(zip(sheet.kinds, sheet.rows, strict=True)):
        row = FIRST_DATA_ROW + index
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row, col)
            if value not in (None, ""):
                cell.value = value
            cell.border = BORDER
            if col == deadline_col and kind != "section":
                cell.number_format = "@"  # a deadline is text: "2020.03" must not become a number
            if kind == "section":
                cell.font = bold
                cell.fill = SECTION_FILL
                left = spec["layout"] == "tree" or col > 1
                cell.alignment = Alignment(horizontal="left" if left else "center", vertical="center",
                                           wrap_text=True)
            else:
                cell.font = base
                cell.alignment = Alignment(horizontal="left" if col == content_col else "center",
                                           vertical="center", wrap_text=True)
        ws.row_dimensions[row].height = heights[index]
    for first_row, last_row, first_col, last_col in sheet.merges:
        ws.merge_cells(start_row=FIRST_DATA_ROW + first_row, start_column=first_col,
                       end_row=FIRST_DATA_ROW + last_row, end_column=last_col)

    if spec["seed"] == "000":
        # The note after the table, two rows below it, across the table.
        row = FIRST_DATA_ROW + len(sheet.rows) + 1
        cell = ws.cell(row, 1, SEED_000_NOTE)
        cell.font = base
        cell.alignment = Alignment(horizontal="left", vertical="center", wrap_text=True)
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        ws.row_dimensions[row].height = _lines(SEED_000_NOTE, sum(widths)) * LINE_HEIGHT + 6

    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 1)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    return wb


def workbook_bytes(wb: Workbook) -> bytes:
    """The .xlsx file, the same bytes on every run: the document properties are not stamped with the
    time of saving (as ``Workbook.save`` does) and the zip entries carry a fixed date."""
    raw = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def build_all(directory: Path) -> list[Path]:
    """Write the three seed ledgers into ``directory``; the paths in the order of ``LEDGERS``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in LEDGERS:
        path = directory / spec["filename"]
        path.write_bytes(workbook_bytes(build_workbook(spec)))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in build_all(HERE):
        print(written)
