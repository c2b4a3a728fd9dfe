"""The house rules of the code itself (issue 11): walls, sizes, one way of importing.

* The import-linter contracts in ``pyproject.toml`` hold (the walls between subpackages, the
  layers of the data flow, no circles). ``make test`` also runs ``lint-imports`` on its own.
* No module has more than 500 lines and no function more than 80 (from ``def`` to its last
  line, not counting its docstring: numpy docstrings and ``--help`` texts are documentation).
* The package's own modules are imported with ``import`` statements that import-linter can
  see; the two lazy tables (public names, CLI commands) load by name but every entry is also
  a static import the graph contains.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clvmodels"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def python_files() -> list[Path]:
    """Every Python file of the package and the scripts."""
    return sorted([*PACKAGE.rglob("*.py"), *(ROOT / "scripts").rglob("*.py")])


def function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from ``def`` to the function's end, without its docstring."""
    lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
    first = node.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        lines -= first.end_lineno - first.lineno + 1  # type: ignore[operator]
    return lines


def test_function_lines_counts_code_not_docstring() -> None:
    tree = ast.parse('def f():\n    """Doc.\n\n    More.\n    """\n    x = 1\n    return x\n')
    assert function_lines(tree.body[0]) == 3  # type: ignore[arg-type]


def test_no_module_over_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in python_files()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_over_80_lines() -> None:
    long = {}
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if (n := function_lines(node)) > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = n
    assert long == {}


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        found = shutil.which("lint-imports")
        if found is None:
            pytest.fail("lint-imports is missing: pip install -e '.[dev]'")
        lint = Path(found)
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-6000:]


def dynamic_imports(path: Path) -> list[int]:
    """Lines that import one of the package's own modules by name, in one file.

    A call of ``importlib.import_module``/``__import__`` counts unless its argument is a
    string (or a module-level string constant) naming another package, such as the adapter's
    ``pymc_marketing.clv.distributions``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in {"import_module", "__import__"}:
                continue
            arg = node.args[0]
            text = arg.value if isinstance(arg, ast.Constant) else None
            if isinstance(arg, ast.Name):
                text = constants.get(arg.id)
            if not isinstance(text, str) or text.split(".")[0] == "clvmodels":
                lines.append(node.lineno)
    return lines


def test_no_dynamic_import_of_the_package_outside_the_two_lazy_tables() -> None:
    allowed = {PACKAGE / "__init__.py", PACKAGE / "cli" / "__init__.py"}
    found = {
        str(p.relative_to(ROOT)): lines
        for p in PACKAGE.rglob("*.py")
        if p not in allowed and (lines := dynamic_imports(p))
    }
    assert found == {}


def type_checking_imports(path: Path) -> dict[str, str]:
    """``name -> module`` of the ``from clvmodels... import`` lines under TYPE_CHECKING."""
    names = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module:
                    for alias in stmt.names:
                        names[alias.asname or alias.name] = stmt.module
    return names


def test_public_names_table_matches_its_static_imports() -> None:
    import clvmodels

    static = type_checking_imports(PACKAGE / "__init__.py")
    table = {name: f"clvmodels.{module}" for name, module in clvmodels._PUBLIC.items()}
    assert table == static
    assert set(clvmodels.__all__) == {*table, "__version__"}


def test_command_table_matches_its_static_imports() -> None:
    from clvmodels.cli import COMMANDS

    static = type_checking_imports(PACKAGE / "cli" / "__init__.py")
    table = {}
    for target, _ in COMMANDS.values():
        module, function = target.split(":")
        table[function] = module
    assert {static.get(f, "missing") for f in table} == set(table.values())
    assert all(static[f] == m for f, m in table.items())
