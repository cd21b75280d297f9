"""The seed ledgers (tasks/seed_ledgers/*.xlsx): the committed workbooks are what build.py writes,
and they hold the seed documents' task lists as transcribed. No database."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from tasks.seed_ledgers import build

SEED_DIR = Path(build.__file__).resolve().parent
FIRST_DATA_ROW = 4
CHINESE_NUMERALS = set("一二三四五六七")


def _sheet(path: Path):
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["台账"]
    return workbook["台账"]


def _spec(seed: str) -> dict:
    return next(spec for spec in build.LEDGERS if spec["seed"] == seed)


@pytest.fixture(scope="module")
def sheets() -> dict:
    return {spec["seed"]: _sheet(SEED_DIR / spec["filename"]) for spec in build.LEDGERS}


def _data_rows(ws):
    """(row number, values A–E) of the table's rows, from row 4 to the last row with a border."""
    for row in range(FIRST_DATA_ROW, ws.max_row + 1):
        if ws.cell(row, 1).border.left.style is None:
            break
        yield row, [ws.cell(row, col).value for col in range(1, 6)]


def test_committed_files_are_what_the_builder_writes(tmp_path):
    paths = build.build_all(tmp_path)
    assert [p.name for p in paths] == [spec["filename"] for spec in build.LEDGERS]
    for path in paths:
        built, committed = _sheet(path), _sheet(SEED_DIR / path.name)
        assert (built.max_row, built.max_column) == (committed.max_row, committed.max_column), path.name
        for row in range(1, max(built.max_row, committed.max_row) + 1):
            for col in range(1, max(built.max_column, committed.max_column) + 1):
                assert built.cell(row, col).value == committed.cell(row, col).value, (path.name, row, col)
        assert sorted(map(str, built.merged_cells.ranges)) == sorted(map(str, committed.merged_cells.ranges))
        assert path.read_bytes() == (SEED_DIR / path.name).read_bytes(), f"{path.name}: rebuild and commit it"


def test_builds_are_deterministic(tmp_path):
    first = [p.read_bytes() for p in build.build_all(tmp_path / "a")]
    second = [p.read_bytes() for p in build.build_all(tmp_path / "b")]
    assert first == second


@pytest.mark.parametrize("seed", ["000", "001", "004"])
def test_common_layout(sheets, seed):
    ws, spec = sheets[seed], _spec(seed)
    width = len(spec["columns"])
    end = openpyxl.utils.get_column_letter(width)
    assert ws["A1"].value == spec["title"]
    assert ws["A1"].font.bold and ws["A1"].font.size == 16 and ws["A1"].font.name == "宋体"
    assert f"A1:{end}1" in {str(r) for r in ws.merged_cells.ranges}
    row2 = {c.coordinate: c.value for c in ws[2] if c.value is not None}
    assert row2 == {"A2": f"文号：{spec['doc_number']}", "C2": f"发文机关：{spec['issuer']}",
                    "E2": f"年度：{spec['year']}"}
    assert [ws.cell(3, col).value for col in range(1, width + 1)] == [title for title, _w in spec["columns"]]
    assert all(ws.cell(3, col).font.bold and ws.cell(3, col).fill.fgColor.rgb.endswith("D9E1F2")
               for col in range(1, width + 1))
    assert ws.freeze_panes == "A4"


def test_000_counts_and_merges(sheets):
    ws = sheets["000"]
    merged = {str(r) for r in ws.merged_cells.ranges}
    sections, items, key_tasks = [], [], []
    for row, values in _data_rows(ws):
        if f"A{row}:D{row}" in merged:
            sections.append(values[0])
            assert ws.cell(row, 1).font.bold
            continue
        items.append(re.match(r"\d+\.\d+", values[1]).group(0))
        if values[0]:
            key_tasks.append(values[0])
    assert sections == ["一、“深化改革”行动", "二、“优化配置”行动", "三、“数字赋能”行动", "四、“能力提升”行动",
                        "五、“医防融合”行动"]
    assert len(items) == _spec("000")["items"] == 39
    assert items[0] == "1.1" and items[-1] == "13.3" and len(set(items)) == 39
    assert len(key_tasks) == 13 and key_tasks[0] == "1．夯实管理责任" and key_tasks[-1] == "13．完善闭环管理"
    # 重点任务 1 and its units span its three items (rows 5–7); the note sits two rows below the table.
    assert {"A5:A7", "C5:C7", "A45:A47", "C45:C47"} <= merged
    assert ws["A49"].value.startswith("鼓励各地重点探索的医共体改革事项：1.医共体人员岗位管理；")
    assert "A49:D49" in merged and ws["A48"].value is None


def test_001_counts_and_merges(sheets):
    ws = sheets["001"]
    merged = {str(r) for r in ws.merged_cells.ranges}
    items, categories, key_tasks, blank_rows = [], [], [], []
    for row, values in _data_rows(ws):
        if not any(values):
            blank_rows.append(row)
            continue
        items.append(re.match(r"（(\d+)）", values[2]).group(1))
        if values[0]:
            categories.append(values[0])
        if values[1]:
            key_tasks.append(values[1])
    assert items == [str(n) for n in range(1, 40)]
    assert len(set(categories)) == 4 and len(categories) == 7  # three repeated across page breaks
    assert len(key_tasks) == 17 and key_tasks[-1] == "17. 提高基本公共卫生服务水平"
    assert blank_rows == [27, 40]  # after （23） and after （35）
    assert {"A4:A15", "A16:A19", "A26:A28", "A29:A33", "A34:A40", "A41:A44"} <= merged
    assert {"D4:D8", "D10:D15", "D20:D25", "D26:D28", "D34:D40"} <= merged
    assert not any(r.startswith("E") for r in merged)


def test_004_counts(sheets):
    ws = sheets["004"]
    sections, numbers = [], []
    for _row, values in _data_rows(ws):
        if values[0] in CHINESE_NUMERALS:
            sections.append((values[0], values[1]))
            assert values[2:] == [None, None, None]
        else:
            numbers.append(values[0])
    assert [s[0] for s in sections] == list("一二三四五六七")
    assert sections[5] == ("六", "加快推进健康黄南建设")
    assert numbers == list(range(1, 49))


@pytest.mark.parametrize("seed", ["000", "001", "004"])
def test_deadlines_are_text(sheets, seed):
    ws = sheets[seed]
    column = {"000": 4, "001": 5, "004": 5}[seed]
    found = 0
    for row, values in _data_rows(ws):
        cell = ws.cell(row, column)
        if values[0] in CHINESE_NUMERALS or (seed == "000" and values[1] is None):
            continue  # a section row
        assert cell.number_format == "@"
        if cell.value is not None:
            assert isinstance(cell.value, str), (seed, row, cell.value)
            found += 1
    assert found == {"000": 39, "001": 4, "004": 48}[seed]


def _row_of(ws, column: int, prefix: str) -> int:
    """The row whose cell in ``column`` starts with ``prefix`` (is ``prefix``, for a 序号)."""
    return next(row for row, values in _data_rows(ws)
                if (str(values[column - 1]) == prefix if isinstance(values[column - 1], int)
                    else str(values[column - 1] or "").startswith(prefix)))


def test_spot_checks_against_the_seeds(sheets):
    ws = sheets["000"]
    row = _row_of(ws, 2, "10.1")
    assert "县域就诊率同比提升1个百分点或达到90%" in ws.cell(row, 2).value
    assert ws.cell(row, 3).value == "各地卫生健康行政部门、各医共体" and ws.cell(row, 4).value == "12月底"
    assert ws.cell(_row_of(ws, 2, "1.1"), 4).value == "4月底完成并持续推进"
    assert ws.cell(_row_of(ws, 2, "13.3"), 4).value == "持续实施"

    ws = sheets["001"]
    assert ws.cell(_row_of(ws, 3, "（1）"), 5).value == "2020.03"
    assert ws.cell(_row_of(ws, 3, "（15）"), 5).value == "2020.12"
    row = _row_of(ws, 3, "（17）")
    assert ws.cell(row, 5).value is None
    assert ws.cell(row, 4).value == "县卫生\n健康局"
    assert ws.cell(row, 3).value.endswith("×1000。")

    ws = sheets["004"]
    row = _row_of(ws, 1, "29")
    assert "市保障局" in ws.cell(row, 3).value
    assert [ws.cell(_row_of(ws, 1, "3"), col).value for col in (3, 4, 5)] == ["市卫生健康局", "——", "10月底前出台文件"]
    assert [ws.cell(_row_of(ws, 1, "10"), col).value for col in (3, 4, 5)] == ["市卫生健康局", "市卫生健康局", "12月底"]
    assert ws.cell(_row_of(ws, 1, "25"), 4).value is None
