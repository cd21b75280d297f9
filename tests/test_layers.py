"""The apps import one way (the layers contract of import-linter in pyproject.toml), and no app
imports another app's private names (``_x``): a helper two apps need lives in ``core`` with a public
name. Both fail the suite when a change crosses them, not only ``make lint``."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

from core import demo
from core.demo import DemoReport

BASE_DIR = Path(__file__).resolve().parent.parent
APPS = tuple(tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"])

# Private names still borrowed across apps, ``(file, module, name): reason``; none today. An entry
# whose import is gone fails the test, so the list only shrinks.
ALLOWED: dict[tuple[str, str, str], str] = {}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(source: str, app: str) -> list[tuple[int, str, str]]:
    """``(line, module, name)`` of every ``from <other app>.<module> import _name`` in ``source``
    (also ``from <other app> import _module`` and a private module on the way: ``<app>._mod.x``),
    at any depth: an import inside a function counts as well."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            imports = [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):  # ``import other_app._module``
            imports = [(alias.name, alias.name.rpartition(".")[2]) for alias in node.names]
        else:
            continue
        for module, name in imports:
            parts = module.split(".")
            if parts[0] in APPS and parts[0] != app and (_private(name) or any(_private(p) for p in parts)):
                found.append((node.lineno, module, name))
    return sorted(found)


def project_files():
    for app in APPS:
        for path in sorted((BASE_DIR / app).rglob("*.py")):
            yield app, path


def test_the_check_finds_a_private_name_borrowed_from_another_app():
    source = (
        "from alliances.exports import OFFICIAL_LANGUAGE, _date_zh\n"
        "from tasks.status import local_date\n"
        "from staffing._internal import thing\n"
        "import security._hidden\n"
        "def f():\n"
        "    from reports.xlsx import _put\n"
    )
    assert private_imports(source, "finance") == [
        (1, "alliances.exports", "_date_zh"), (3, "staffing._internal", "thing"),
        (4, "security._hidden", "_hidden"), (6, "reports.xlsx", "_put")]
    # Within its own app a private name is the app's business; dunder names are not private.
    assert private_imports("from finance.views import _helper\nfrom core.x import __version__\n", "finance") == []


def test_no_private_name_is_imported_across_apps():
    seen, problems = set(), []
    for app, path in project_files():
        relative = path.relative_to(BASE_DIR).as_posix()
        for line, module, name in private_imports(path.read_text(encoding="utf-8"), app):
            key = (relative, module, name)
            if key in ALLOWED:
                seen.add(key)
            else:
                problems.append(f"{relative}:{line}: from {module} import {name}")
    assert not problems, (
        "Private names imported from another app (move the helper to core with a public name):\n"
        + "\n".join(problems))
    stale = sorted(set(ALLOWED) - seen)
    assert not stale, f"Exceptions whose import is gone, remove them from ALLOWED: {stale}"


def test_the_layers_contract_is_kept(monkeypatch, capsys):
    monkeypatch.chdir(BASE_DIR)
    code = lint_imports(config_filename=str(BASE_DIR / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out


def test_the_contract_fails_when_a_layer_is_crossed(monkeypatch, capsys, tmp_path):
    """The same check, against a contract the code breaks (core above alliances, which imports core):
    lint-imports sees the crossing and says where."""
    config = tmp_path / "upside_down.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    core\n    alliances\n\n"
        "[importlinter:contract:upside-down]\nname = Upside down\ntype = layers\nlayers =\n    core\n    alliances\n")
    monkeypatch.chdir(BASE_DIR)
    assert lint_imports(config_filename=str(config), no_cache=True, no_logo=True) == 1
    assert "alliances is not allowed to import core" in capsys.readouterr().out


def test_core_imports_no_domain_app():
    """Also without import-linter: no module of core names a domain app in an import."""
    domain = set(APPS) - {"core"}
    offenders = []
    for path in sorted((BASE_DIR / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                       else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path.relative_to(BASE_DIR)}:{node.lineno}: {m}" for m in modules
                          if m.split(".")[0] in domain]
    assert not offenders, offenders


# The demo, loaded by parts each app registers (core imports none of them) ------------------------

def fake_loader(*, now, today):
    return DemoReport(summary=f"loaded {now}")


def test_each_app_registers_its_demo_part_in_the_order_of_the_layers():
    names = [part.name for part in demo.parts()]
    assert names == ["organisation", "ledgers", "filings", "finance", "staffing", "reports"]
    assert {part.skip_flag for part in demo.parts()} == {
        None, "--without-ledgers", "--without-filings", "--without-staffing", "--without-reports"}
    assert demo.logins() is not None and demo.logins().rows()


def test_a_demo_part_is_skipped_with_what_it_needs(monkeypatch):
    monkeypatch.setattr(demo, "_parts", [])
    for name, needs in [("a", ()), ("b", ("a",)), ("c", ("a",)), ("d", ("b", "c"))]:
        demo.register(demo.DemoPart(name=name, loader="tests.test_layers.fake_loader", needs=needs))
    done = demo.load(now="n", today="t", skip={"b"})
    assert [part.name for part, _report in done] == ["a", "c"]
    assert [report.summary for _part, report in done] == ["loaded n", "loaded n"]
    assert demo.load(now="n", today="t", skip={"a"}) == []
