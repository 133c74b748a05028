"""Faults inside a training job: a full disk is reported in one line naming the folder, and the
run is recorded as failed with that line (in-process; the CLI's stderr path is covered by
tests/data/test_bad_data.py, whose job error reaches stderr)."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from mlplat import engine
from mlplat.errors import MlplatError
from mlplat.ops.common import compose_plain
from mlplat.tracking import artifacts as art


def test_disk_full_names_the_artifact_folder_and_fails_the_run(tmp_path, monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith(("MLPLAT_", "HYDRA_"))]:
        monkeypatch.delenv(key)
    cfg = compose_plain(["dataset=synthetic", "dataset.generator_params.n_samples=200", "evaluation=fast",
                         f"tracking.url=sqlite:///{tmp_path / 'store.db'}", f"tracking.artifacts={tmp_path / 'art'}"])

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(art, "write_pickle", full)
    with pytest.raises(MlplatError) as info:
        engine.run_experiment(cfg, engine.RunContext(actor="test"))
    run_id = info.value.mlplat_run_id
    expected = (f"disk full writing the artifacts under {tmp_path / 'art' / run_id}: free space there or point "
                "tracking.artifacts at another disk")
    assert str(info.value) == expected
    with sqlite3.connect(tmp_path / "store.db") as con:
        assert con.execute("SELECT status, error FROM runs WHERE id = ?", (run_id,)).fetchone() == ("failed", expected)
