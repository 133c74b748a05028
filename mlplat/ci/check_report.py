"""What `mlplat check` reports: one ``Problem`` per line (file, key, what is wrong, the fix) in a
``Report``, and how a problem names its file and key. Shared by the check's parts
(mlplat.ci.check and the modules beside it)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlplat.errors import DataFileMissing

KEY_RE = re.compile(r"\bat ([A-Za-z_][\w.\[\]]*)")


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    problem: str
    kind: str

    def line(self) -> str:
        return f"{self.file}: {self.key}: {self.problem}"


@dataclass
class Report:
    problems: list[Problem] = dataclasses.field(default_factory=list)
    checked: dict[str, int] = dataclasses.field(default_factory=dict)
    sweeps: dict[str, int | None] = dataclasses.field(default_factory=dict)
    # options that read a required environment variable this shell does not set: variable -> files
    needs_env: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    # options whose estimator comes from an extra not installed here (pip install 'mlplat[x]'): extra -> files
    needs_extra: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    # the library's own example options (not overridden by the project) whose data files this project
    # does not have: file -> what is missing; the project's own files with a missing data file are problems
    needs_data: dict[str, str] = dataclasses.field(default_factory=dict)
    shipped: set[str] = dataclasses.field(default_factory=set)  # those options' files, as problems name them

    def missing_shipped_data(self, file: str, exc: BaseException) -> bool:
        """Record ``exc`` as a note, and say so, when it is a shipped example's data file missing here."""
        if file in self.shipped and isinstance(exc, DataFileMissing):
            self.needs_data.setdefault(file, str(exc))
            return True
        return False

    def add(self, file: str, key: str, problem: str, kind: str) -> None:
        self.problems.append(Problem(file, key or "-", problem, kind))

    def count(self, what: str) -> None:
        self.checked[what] = self.checked.get(what, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {"ok": not self.problems, "problems": [dataclasses.asdict(p) for p in self.problems],
                "checked": self.checked, "sweeps": self.sweeps, "needs_env": self.needs_env,
                "needs_extra": self.needs_extra, "needs_data": self.needs_data}


def _rel(path: Path) -> str:
    """A file's name as a user reads it: relative to the project, else to the layer holding it."""
    from mlplat.config.compose import config_dirs, project

    path = path.resolve()
    for base in (project().base, *(d.parent for d in config_dirs())):
        try:
            return str(path.relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


def _where(relative: str) -> str:
    """The file a config path (e.g. "registry/default.yaml") comes from, named as ``_rel`` names it."""
    from mlplat.config.compose import find_config

    found = find_config(relative)
    return _rel(found) if found else f"conf/{relative}"


def _key_of(exc: BaseException) -> str:
    m = KEY_RE.search(str(exc))
    return m.group(1) if m else "-"
