"""Quantitative targets inside a task's text (县域就诊率同比提升1个百分点或达到90%): the clauses
that state a number to reach or a direction against last year. Stored on the item as text for a
person to read and to link to an indicator: ``propose_targets`` reads which indicator a clause
speaks of and its target, ``target_met`` and ``target_trend`` judge a figure (pure; the figures come
from ``reports.targets``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

_CLAUSE_SPLIT = re.compile(r"[，,；;。！!？?\n]+")
# A number with a unit a target is stated in, a comparison sign, or a change against last year.
_TARGET = re.compile(
    r"(\d+(?:\.\d+)?\s*(?:%|％|个百分点|种|人|家|个|项|例))"
    r"|[≥≤＞＜]"
    r"|(?:同比|较上年度?)(?:提升|提高|上升|增长|下降|降低|减少)"
    r"|增幅(?:高于|低于)"
)
# Formulas (分子/分母×100%) are definitions, not targets.
_FORMULA = re.compile(r"[×xX*]\s*(?:100%|1000|10000|100)")


def extract_targets(text: str) -> str:
    """The target clauses of ``text`` joined by "；", or "" when it states none."""
    clauses = []
    for clause in _CLAUSE_SPLIT.split(text or ""):
        clause = clause.strip()
        if not clause or _FORMULA.search(clause) or not _TARGET.search(clause):
            continue
        clauses.append(clause)
    return "；".join(clauses)


# Proposals: which indicator a target clause speaks of --------------------------------------------

@dataclass(frozen=True)
class Phrase:
    """Words of a ledger that name an indicator, and the target to assume when the clause states
    no number of its own (``operator``, ``value``)."""

    code: str
    pattern: re.Pattern
    operator: str = ""
    value: Decimal | None = None


def _phrase(code: str, pattern: str, operator: str = "", value: str | None = None) -> Phrase:
    return Phrase(code, re.compile(pattern), operator, Decimal(value) if value is not None else None)


_Q = "[“”\"'‘’]?"  # the quotes ledgers put around “两慢病”
# General on purpose: counties write the same indicator in many ways (县域就诊率, 县域内就诊率;
# 基层就诊率, 基层门诊就诊率, 基层诊疗量占比 …). The first phrase that matches a stretch of text wins.
PHRASES: list[Phrase] = [
    _phrase("REFERRAL_GROWTH_GAP", r"下转(?:患者|人次)?增幅高于上转(?:患者|人次)?增幅", "gt", "0"),
    _phrase("CHRONIC_DOWN_GROWTH", rf"下转{_Q}(?:两慢病|慢病){_Q}(?:患者)?(?:人次|人数)?(?:同比)?增长", "ge"),
    _phrase("REFERRALS", r"双向转诊(?:人次|人数|量)", "rise"),
    _phrase("CMI", r"(?:CMI|病例组合指数)(?:值|\s*[（(]CMI值?[）)])?", "rise"),
    _phrase("VISIT_RATE", r"县域内?(?:就诊率|门急?诊就诊率)"),
    _phrase("A4_18", r"县域内?住院率"),
    _phrase("A4_32", r"基层(?:医疗卫生机构)?(?:门急?诊)?(?:就诊率|诊疗量占比|诊疗人次占比|就诊人次占比)"),
    _phrase("A4_36", r"(?:重点人群)?家庭医生(?:签约服务)?签约率|签约率"),
    _phrase("VILLAGE_CLINIC_STANDARD_RATE", r"村卫生室(?:（站）)?规范化(?:建设)?(?:率|达标率)"),
    _phrase("CHRONIC_STANDARD_MGMT_RATE", rf"{_Q}(?:两慢病|慢病){_Q}(?:患者)?规范(?:化)?管理率"),
    _phrase("EHR_OPEN_RATE", r"电子健康档案(?:向居民)?(?:的)?开放(?:使用)?率"),
    _phrase("OP_DISEASE_TYPES", r"门诊(?:和住院)?病种", "ge"),
    _phrase("IP_DISEASE_TYPES", r"住院病种", "ge"),
]

_NUMBER = r"(\d+(?:\.\d+)?)"
_RISE = re.compile(r"(?:同比|较上年度?)?(?:提升|提高|上升|增长|增加)" + rf"(?:{_NUMBER}\s*个?百分点)?")
_FALL = re.compile(r"(?:同比|较上年度?)?(?:下降|降低|减少)" + rf"(?:{_NUMBER}\s*个?百分点)?")
_AT_LEAST = re.compile(rf"(?:达到?|巩固在|保持在|稳定在|不低于|≥|＞=|超过)\s*{_NUMBER}\s*(?:%|％|种|个|人|家|项)?")
_AT_MOST = re.compile(rf"(?:不高于|不超过|控制在|≤|低于)\s*{_NUMBER}\s*(?:%|％|种|个|人|家|项)?")
_NUMBER_ABOVE = re.compile(rf"{_NUMBER}\s*(?:%|％|种|个|人|家|项)?以上")
_NUMBER_BELOW = re.compile(rf"{_NUMBER}\s*(?:%|％|种|个|人|家|项)?以下")
_DIRECTION_WORD = re.compile(r"同比|较上年")
_PAIR = re.compile(rf"分别(?:达到?|为)\s*{_NUMBER}\s*(?:种|个|%|％)?\s*和\s*{_NUMBER}")


@dataclass(frozen=True)
class Proposal:
    """A link the text suggests: indicator ``code`` with ``operator`` (ge, le, gt, rise, fall),
    ``value`` (the threshold; for rise/fall the level that also counts: 或达到90%) and ``points``
    (rise/fall by at least). ``phrase`` is the words that named the indicator, ``clause`` the
    stretch of text the target was read from."""

    code: str
    operator: str
    value: Decimal | None
    points: Decimal | None
    phrase: str
    clause: str


def _segments(clause: str) -> list[tuple[Phrase, str, str]]:
    """(phrase, matched words, text from the match to the next match) for each phrase in ``clause``."""
    found: list[tuple[int, int, Phrase]] = []
    taken: list[tuple[int, int]] = []
    for phrase in PHRASES:
        for match in phrase.pattern.finditer(clause):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            found.append((start, end, phrase))
    found.sort(key=lambda row: row[0])
    segments = []
    for position, (start, end, phrase) in enumerate(found):
        stop = found[position + 1][0] if position + 1 < len(found) else len(clause)
        segments.append((phrase, clause[start:end], clause[end:stop]))
    return segments


def _number(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def _read_target(phrase: Phrase, rest: str) -> tuple[str, Decimal | None, Decimal | None]:
    """(operator, value, points) stated in ``rest`` (the words after the phrase), else the phrase's own."""
    operator, value, points = "", None, None
    direction = _DIRECTION_WORD.search(rest)
    rise, fall = _RISE.search(rest), _FALL.search(rest)
    at_least = _AT_LEAST.search(rest) or _NUMBER_ABOVE.search(rest)
    at_most = _AT_MOST.search(rest) or _NUMBER_BELOW.search(rest)
    if phrase.operator in ("ge", "gt") and rise and rise.group(1) is None and not direction:
        # 增长10%以上: a growth stated as a level of the (growth) indicator itself.
        rise = None
    if rise and (direction or phrase.operator == "rise") and (not fall or rise.start() < fall.start()):
        operator, points = "rise", _number(rise.group(1))
        value = _number(at_least.group(1)) if at_least else None
    elif fall and (direction or phrase.operator == "fall"):
        operator, points = "fall", _number(fall.group(1))
        value = _number(at_most.group(1)) if at_most else None
    elif at_most and not at_least:
        operator, value = "le", _number(at_most.group(1))
    elif at_least:
        operator, value = "ge", _number(at_least.group(1))
    if not operator:
        operator, value = phrase.operator, phrase.value
    elif operator == "ge" and phrase.operator == "gt" and value is None:
        operator, value = "gt", phrase.value
    return operator, value, points


def propose_targets(target_text: str) -> list[Proposal]:
    """The indicator links ``target_text`` (``extract_targets`` of an item's text) suggests, in the
    order of the text, one per indicator. Reads no database: whether the indicator exists is the
    caller's question."""
    proposals: list[Proposal] = []
    seen: set[str] = set()
    for clause in re.split(r"[；;。\n]+", target_text or ""):
        clause = clause.strip()
        if not clause:
            continue
        segments = _segments(clause)
        pair = _PAIR.search(clause)
        for phrase, words, rest in segments:
            if phrase.code in seen:
                continue
            if pair and phrase.code in ("OP_DISEASE_TYPES", "IP_DISEASE_TYPES") and "和住院" in words:
                # 门诊和住院病种分别达100种和60种: two indicators, two numbers.
                for code, number in (("OP_DISEASE_TYPES", pair.group(1)), ("IP_DISEASE_TYPES", pair.group(2))):
                    if code not in seen:
                        seen.add(code)
                        proposals.append(Proposal(code, "ge", Decimal(number), None, words, clause))
                continue
            operator, value, points = _read_target(phrase, rest)
            if not operator:
                continue
            seen.add(phrase.code)
            proposals.append(Proposal(phrase.code, operator, value, points, words, clause))
    return proposals


# Judging: pure ---------------------------------------------------------------------------------

TOWARD, AWAY, FLAT = "toward", "away", "flat"
_UPWARD = ("ge", "gt", "rise")


def target_met(*, operator: str, value: Decimal | None, target: Decimal | None, points: Decimal | None,
               last_year: Decimal | None) -> bool | None:
    """Whether ``value`` meets the target; None when there is no figure to judge. rise/fall compare
    with ``last_year`` (by at least ``points`` when given); their ``target`` is a level that counts
    as well (同比提升1个百分点或达到90%)."""
    if value is None or not operator:
        return None
    if operator == "ge":
        return None if target is None else value >= target
    if operator == "gt":
        return None if target is None else value > target
    if operator == "le":
        return None if target is None else value <= target
    reached = None
    if target is not None:
        reached = value >= target if operator == "rise" else value <= target
    if reached:
        return True
    if last_year is None:
        return reached  # False when the level is not reached, None when there is nothing to judge
    change = value - last_year
    if operator == "rise":
        return change >= points if points else change > 0
    return change <= -points if points else change < 0


def target_trend(*, operator: str, value: Decimal | None, previous: Decimal | None) -> str:
    """Whether the indicator moved toward or away from the target since the previous period
    ("" when either figure is missing)."""
    if value is None or previous is None or not operator:
        return ""
    if value == previous:
        return FLAT
    rising = value > previous
    return TOWARD if rising == (operator in _UPWARD) else AWAY


def _shown(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def target_label(operator: str, value: Decimal | None, points: Decimal | None) -> str:
    """A target in words: ≥90, >0, ≤5, 同比提升≥1个百分点或≥90, 同比下降."""
    from django.utils.translation import gettext as _

    if operator in ("ge", "gt", "le"):
        return {"ge": "≥", "gt": ">", "le": "≤"}[operator] + _shown(value)
    if operator not in ("rise", "fall"):
        return ""
    if points:
        text = (_("rise by at least %(points)s points") if operator == "rise"
                else _("fall by at least %(points)s points")) % {"points": _shown(points)}
    else:
        text = _("rise against last year") if operator == "rise" else _("fall against last year")
    if value is not None:
        text = _("%(direction)s or reach %(value)s") % {
            "direction": text, "value": ("≥" if operator == "rise" else "≤") + _shown(value)}
    return text
