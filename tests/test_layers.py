"""Imports run one way, down the layers declared in pyproject.toml ([tool.importlinter]).

The first test checks the tree as it is; the others plant an upward import in a copy of
the packages and check that `lint-imports` refuses it, so the contract cannot silently
stop checking (a renamed package, a layer dropped from the list).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_no_module_imports_a_layer_above_it():
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in run.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    # bot/ installs as the package mlplat_bot (setup.py): copy it under that name
    for package, name in (("mlplat", "mlplat"), ("bot", "mlplat_bot")):
        shutil.copytree(ROOT / package, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _plant(path: Path, line: str, *, in_function: bool = False) -> None:
    text = path.read_text()
    if in_function:  # imports inside functions count too
        text += f"\n\ndef _planted():\n    {line}\n"
    else:
        text = text.replace("from __future__ import annotations\n", f"from __future__ import annotations\n{line}\n", 1)
    path.write_text(text)


@pytest.mark.parametrize(("module", "line", "in_function"), [
    ("mlplat/tracking/store.py", "from mlplat.ops import common", True),  # the store reaching up to ops
    ("mlplat/monitoring/retrain.py", "from mlplat import ops", False),  # what retrain did before
    ("mlplat/serving/predlog.py", "from mlplat.ops.common import compose_plain", True),
    ("mlplat/ops/schedule_probe.py", "from mlplat.scheduling import runner", False),  # ops calling a front door
])
def test_an_upward_import_breaks_the_contract(copy: Path, module: str, line: str, in_function: bool):
    target = copy / module
    if not target.exists():
        target.write_text('"""planted"""\n\nfrom __future__ import annotations\n')
    _plant(target, line, in_function=in_function)
    run = _lint(copy)
    assert run.returncode != 0 and "BROKEN" in run.stdout, run.stdout[-2000:]


def test_a_cycle_between_ops_modules_breaks_the_contract(copy: Path):
    _plant(copy / "mlplat/ops/common.py", "from mlplat.ops import listing", in_function=True)
    run = _lint(copy)
    assert run.returncode != 0 and "without cycles" in run.stdout and "BROKEN" in run.stdout, run.stdout[-2000:]
