"""Indicator and validation formulas: parsed safely (no ``eval``) into a small tree.

Syntax::

    OP_VISITS@primary / OP_VISITS * 100
    (MED_REVENUE@lead - DRUG_REVENUE@lead) / MED_REVENUE@lead
    INPATIENTS@lead[ly]

- a *reference* is a data element code, optionally ``@filter`` (which units of the scope count)
  and ``[offset]`` (which period);
- filters: ``all`` (default: every unit of the scope), ``lead`` (the lead hospital of an alliance),
  ``member`` (members other than the lead), ``primary`` (基层: central/township/community health
  centres and village clinics), ``township`` (central and township health centres), ``hospital``
  (county-level hospitals: general, TCM, MCH), ``county`` (figures the county itself files);
- offsets: ``pp`` (previous period), ``ly`` (same period last year);
- numbers, ``+ - * /``, unary minus and parentheses.

Errors are ``FormulaError`` with a Chinese message that names the position and what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, DivisionByZero, InvalidOperation

from django.utils.translation import gettext as _

FILTERS = ("all", "lead", "member", "primary", "township", "hospital", "county")
OFFSETS = ("pp", "ly")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z][A-Za-z0-9_]*)
      | (?P<op>[-+*/()@\[\]])
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)


class FormulaError(ValueError):
    """A formula that cannot be used; the message is for the user."""


@dataclass(frozen=True)
class Ref:
    code: str
    filter: str = "all"
    offset: str = ""

    def __str__(self) -> str:
        text = self.code
        if self.filter != "all":
            text += f"@{self.filter}"
        if self.offset:
            text += f"[{self.offset}]"
        return text


@dataclass(frozen=True)
class Num:
    value: Decimal


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Node
    right: Node


Node = Ref | Num | Neg | BinOp


@dataclass(frozen=True)
class Formula:
    text: str
    tree: Node

    @property
    def refs(self) -> list[Ref]:
        found: list[Ref] = []
        _collect(self.tree, found)
        return list(dict.fromkeys(found))

    @property
    def codes(self) -> list[str]:
        return list(dict.fromkeys(ref.code for ref in self.refs))

    def evaluate(self, lookup: Callable[[Ref], Decimal | None]) -> Decimal | None:
        """The value, with ``lookup`` giving each reference's value; None when a reference has no
        value or a division is by zero."""
        return _evaluate(self.tree, lookup)


def _collect(node: Node, found: list[Ref]) -> None:
    if isinstance(node, Ref):
        found.append(node)
    elif isinstance(node, Neg):
        _collect(node.operand, found)
    elif isinstance(node, BinOp):
        _collect(node.left, found)
        _collect(node.right, found)


def _evaluate(node: Node, lookup) -> Decimal | None:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Ref):
        return lookup(node)
    if isinstance(node, Neg):
        value = _evaluate(node.operand, lookup)
        return None if value is None else -value
    left = _evaluate(node.left, lookup)
    right = _evaluate(node.right, lookup)
    if left is None or right is None:
        return None
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    if right == 0:
        return None
    try:
        return left / right
    except (DivisionByZero, InvalidOperation):
        return None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        stripped = text.rstrip()
        while position < len(stripped):
            match = _TOKEN.match(stripped, position)
            if match is None:  # pragma: no cover - the pattern matches any non-space character
                break
            kind = match.lastgroup or "bad"
            value = match.group(kind)
            column = match.start(kind) + 1
            if kind == "bad":
                raise FormulaError(
                    _("Character %(char)s at position %(pos)d is not allowed in a formula.")
                    % {"char": f"“{value}”", "pos": column}
                )
            self.tokens.append((kind, value, column))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise FormulaError(_("The formula ends too early."))
        self.index += 1
        return token

    def expect(self, symbol: str) -> None:
        if self.peek() is None:
            raise FormulaError(_("%(expected)s is missing at the end of the formula.") % {"expected": f"“{symbol}”"})
        token = self.take()
        if token[1] != symbol:
            raise FormulaError(
                _("Expected %(expected)s at position %(pos)d, found %(found)s.")
                % {"expected": f"“{symbol}”", "pos": token[2], "found": f"“{token[1]}”"}
            )

    def parse(self) -> Node:
        if not self.tokens:
            raise FormulaError(_("The formula is empty."))
        tree = self.expression()
        token = self.peek()
        if token is not None:
            raise FormulaError(
                _("Unexpected %(found)s at position %(pos)d.") % {"found": f"“{token[1]}”", "pos": token[2]}
            )
        return tree

    def expression(self) -> Node:
        node = self.product()
        while (token := self.peek()) is not None and token[1] in "+-" and token[0] == "op":
            self.take()
            node = BinOp(token[1], node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while (token := self.peek()) is not None and token[1] in "*/" and token[0] == "op":
            self.take()
            node = BinOp(token[1], node, self.unary())
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token is not None and token[1] == "-":
            self.take()
            return Neg(self.unary())
        return self.atom()

    def atom(self) -> Node:
        kind, value, column = self.take()
        if kind == "number":
            return Num(Decimal(value))
        if value == "(":
            node = self.expression()
            self.expect(")")
            return node
        if kind == "name":
            return self.reference(value)
        raise FormulaError(
            _("Unexpected %(found)s at position %(pos)d.") % {"found": f"“{value}”", "pos": column}
        )

    def reference(self, code: str) -> Ref:
        unit_filter, offset = "all", ""
        token = self.peek()
        if token is not None and token[1] == "@":
            self.take()
            kind, value, column = self.take()
            if kind != "name" or value not in FILTERS:
                raise FormulaError(
                    _("Unknown unit filter %(found)s at position %(pos)d; use one of %(allowed)s.")
                    % {"found": f"“{value}”", "pos": column, "allowed": "、".join(FILTERS)}
                )
            unit_filter = value
            token = self.peek()
        if token is not None and token[1] == "[":
            self.take()
            kind, value, column = self.take()
            if kind != "name" or value not in OFFSETS:
                raise FormulaError(
                    _("Unknown period offset %(found)s at position %(pos)d; use pp (previous period) or ly "
                      "(same period last year).") % {"found": f"“{value}”", "pos": column}
                )
            offset = value
            self.expect("]")
        return Ref(code, unit_filter, offset)


def parse(text: str) -> Formula:
    """The formula ``text`` parsed; ``FormulaError`` if it is not valid syntax."""
    return Formula(text, _Parser(text or "").parse())


def check(text: str, known_codes: Iterable[str], *, plain: bool = False) -> Formula:
    """Parse ``text`` and check every code is a known data element. ``plain`` (validation rules):
    no unit filters or period offsets."""
    formula = parse(text)
    known = set(known_codes)
    unknown = [code for code in formula.codes if code not in known]
    if unknown:
        raise FormulaError(
            _("Unknown data element code %(codes)s.") % {"codes": "、".join(f"“{code}”" for code in unknown)}
        )
    if plain:
        decorated = [str(ref) for ref in formula.refs if ref.filter != "all" or ref.offset]
        if decorated:
            raise FormulaError(
                _("Unit filters and period offsets are not allowed here: %(refs)s.")
                % {"refs": "、".join(decorated)}
            )
    return formula
