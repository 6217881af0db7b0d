"""The code stays within the project's lint rules (ruff.toml): unused code, import order, bug patterns,
blind excepts without a stated reason; it is formatted, type-checked (pyproject.toml [tool.mypy]) and keeps the
layer contracts ([tool.importlinter]). Each tool is the venv's own, so the suite checks what `make test` pins."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which(tool, path=str(Path(sys.executable).parent)) or tool
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_nothing() -> None:
    run = _run("ruff", "check", "--output-format=concise", ".")
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format_changes_nothing() -> None:
    run = _run("ruff", "format", "--check", ".")
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_finds_no_errors() -> None:
    run = _run("mypy")  # files and options from pyproject.toml
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found" in run.stdout, run.stdout + run.stderr


def test_import_contracts_are_kept() -> None:
    run = _run("lint-imports")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout, run.stdout + run.stderr


LONG_FUNCTION_LINES = 60
CODE_DIRS = ("lib", "api", "ui", "views", "cli", "bench", "testkit")
# Alembic revisions are frozen history: rewriting an applied migration is worse than a long one.
EXEMPT = ("lib/adapters/migrations/versions/",)


def _long_functions() -> list[str]:
    import ast

    files = [ROOT / "app.py", *(p for d in CODE_DIRS for p in sorted((ROOT / d).rglob("*.py")))]
    found = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(EXEMPT):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > LONG_FUNCTION_LINES:
                    found.append(f"{rel}:{node.lineno} {node.name} ({n} lines)")
    return found


def test_no_function_is_longer_than_sixty_lines() -> None:
    offenders = _long_functions()
    assert not offenders, "functions over 60 lines:\n" + "\n".join(offenders)
