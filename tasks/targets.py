"""Quantitative targets inside a task's text (县域就诊率同比提升1个百分点或达到90%): the clauses
that state a number to reach or a direction against last year. Stored on the item as text for a
person to read and, later, to link to an indicator."""

from __future__ import annotations

import re

_CLAUSE_SPLIT = re.compile(r"[，,；;。！!？?\n]+")
# A number with a unit a target is stated in, a comparison sign, or a change against last year.
_TARGET = re.compile(
    r"(\d+(?:\.\d+)?\s*(?:%|％|个百分点|种|人|家|个|项|例))"
    r"|[≥≤＞＜]"
    r"|(?:同比|较上年度?)(?:提升|提高|上升|增长|下降|降低|减少)"
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
