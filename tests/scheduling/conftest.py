"""Fixtures of the scheduler tests (the kit itself is in sched_kit.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sched_kit import REPO, Recorder, SchedProject


@pytest.fixture
def sched(tmp_path: Path, monkeypatch) -> SchedProject:
    project = SchedProject(tmp_path)
    shutil.copytree(REPO / "conf", project.conf)
    for key, value in project.env().items():
        if key.startswith("MLPLAT_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return project


@pytest.fixture
def recorder():
    from mlplat.notify import set_notifier

    rec = Recorder()
    set_notifier(rec)
    yield rec
    set_notifier(None)

