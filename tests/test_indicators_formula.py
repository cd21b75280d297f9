"""Formula parsing: valid formulas, syntax errors and unknown codes, with Chinese messages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from indicators.formula import BinOp, FormulaError, Num, Ref, check, parse


def test_a_formula_with_filters_offsets_precedence_and_parentheses():
    formula = parse("(MED_REVENUE@lead - DRUG_REVENUE@lead[ly]) / MED_REVENUE@lead * 100")
    assert formula.refs == [Ref("MED_REVENUE", "lead"), Ref("DRUG_REVENUE", "lead", "ly")]
    assert isinstance(formula.tree, BinOp) and formula.tree.op == "*"
    assert formula.tree.right == Num(Decimal(100))
    values = {"MED_REVENUE": Decimal(1000), "DRUG_REVENUE": Decimal(300)}
    assert formula.evaluate(lambda ref: values[ref.code]) == Decimal(70)


def test_unary_minus_decimals_and_precedence():
    assert parse("2 + 3 * 4").evaluate(lambda ref: None) == 14
    assert parse("-(1.5 - 4) * 2").evaluate(lambda ref: None) == 5
    assert parse("A - -B").evaluate(lambda ref: Decimal(2)) == 4


def test_missing_values_and_division_by_zero_give_no_value():
    assert parse("A / B").evaluate(lambda ref: Decimal(0) if ref.code == "B" else Decimal(1)) is None
    assert parse("A + B").evaluate(lambda ref: None if ref.code == "B" else Decimal(1)) is None


@pytest.mark.parametrize(("text", "message"), [
    ("", "公式为空"),
    ("OP_VISITS +", "公式不完整"),
    ("(OP_VISITS", "缺少“)”"),
    ("OP_VISITS OP_VISITS", "第11个字符处"),
    ("OP_VISITS ? 2", "第11个字符“?”"),
    ("OP_VISITS@abroad", "未知的单位筛选“abroad”"),
    ("OP_VISITS[lastweek]", "未知的期间偏移“lastweek”"),
    ("OP_VISITS[ly", "缺少“]”"),
    ("(OP_VISITS + 1 2", "应为“)”"),
])
def test_syntax_errors_say_where_in_chinese(text, message):
    with pytest.raises(FormulaError) as caught:
        parse(text)
    assert message in str(caught.value)


def test_unknown_codes_are_named():
    with pytest.raises(FormulaError) as caught:
        check("OP_VISITS@primary / VISITS_TOTAL + BEDS", {"OP_VISITS"})
    assert "未知的数据项代码“VISITS_TOTAL”、“BEDS”" in str(caught.value)


def test_validation_rules_take_plain_codes_only():
    assert check("A + B", {"A", "B"}, plain=True).codes == ["A", "B"]
    with pytest.raises(FormulaError) as caught:
        check("A@lead", {"A"}, plain=True)
    assert "A@lead" in str(caught.value)


def test_no_python_is_evaluated():
    with pytest.raises(FormulaError):
        parse("__import__('os').system('true')")
