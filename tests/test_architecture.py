"""The layer contracts of pyproject.toml hold, and they catch a forbidden import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_tree_keeps_every_layer_contract() -> None:
    result = _lint(PROJECT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for package in ("segments", "flows", "tasks"):
        shutil.copytree(PROJECT / package, root / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(PROJECT / "pyproject.toml", root / "pyproject.toml")
    return root


def _add_import(path: Path, line: str) -> None:
    text = path.read_text()
    marker = "from __future__ import annotations\n"
    path.write_text(text.replace(marker, marker + "\n" + line + "\n", 1))


def test_a_library_module_importing_a_flow_breaks_the_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _add_import(root / "segments" / "core" / "db.py", "import flows.context  # noqa")
    result = _lint(root)
    assert result.returncode != 0
    assert "The library never imports tasks, flows or the CLI BROKEN" in result.stdout
    assert "segments.core.db -> flows.context" in result.stdout


def test_a_stage_reaching_into_another_stages_module_breaks_the_contract(
    tmp_path: Path,
) -> None:
    root = _copy(tmp_path)
    _add_import(root / "segments" / "publish" / "marts.py", "import segments.lifecycle.train")
    result = _lint(root)
    assert result.returncode != 0
    assert "segments.lifecycle is entered through its package API BROKEN" in result.stdout
