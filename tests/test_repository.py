"""Nothing committed points outside the repository (shared design notes, machine paths)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\.\./shared|/work/|/home/|/root/|/tmp/[\w.-]*venv")


def test_no_committed_file_points_outside_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    hits = []
    for name in files:
        path = REPO / name
        if path.suffix in (".png", ".parquet", ".db", ".joblib") or not path.is_file():
            continue
        for n, line in enumerate(path.read_text(errors="ignore").splitlines(), 1):
            if OUTSIDE.search(line) and name != "tests/test_repository.py":
                hits.append(f"{name}:{n}: {line.strip()[:120]}")
    assert not hits, "\n".join(hits)
