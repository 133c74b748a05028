"""Which experiments a change touches: ``git diff --name-only BASE...HEAD`` mapped through the configs.

An experiment preset uses its own file, ``conf/config.yaml``, the option it picks in each
training group (dataset, features, model, evaluation) and the dataset's data file (CSV,
Parquet or SQLite); a changed path that one of these is marks the experiment affected.
Everything else that changed (docs, code, other groups) is listed as not mapped.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mlplat.errors import ConfigError, MlplatError

TRAINING_GROUPS = ("dataset", "features", "model", "evaluation")
GIT_TIMEOUT_S = 30


class GitError(MlplatError):
    """Not a git repository, or a ref git does not know."""


def git(*args: str, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
    except FileNotFoundError:
        raise GitError("git is not installed: install it (mlplat ci reads the change from git)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"`git {' '.join(args)}` did not answer within {GIT_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        msg = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise GitError(f"`git {' '.join(args)}` failed: {msg}")
    return proc.stdout


def toplevel(cwd: Path | None = None) -> Path:
    try:
        return Path(git("rev-parse", "--show-toplevel", cwd=cwd).strip())
    except GitError:
        raise GitError(f"{(cwd or Path.cwd())} is not inside a git repository: run mlplat ci in the project's "
                       "checkout (git clone, or `git init` and commit)") from None


def resolve_ref(ref: str, cwd: Path | None = None) -> str:
    try:
        return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=cwd).strip()
    except GitError:
        raise GitError(f"unknown base ref {ref!r}: git has no such commit here; fetch it first (e.g. "
                       f"`git fetch origin main`, and in GitHub Actions checkout with fetch-depth: 0)") from None


def head(cwd: Path | None = None) -> str:
    return git("rev-parse", "HEAD", cwd=cwd).strip()


def changed_files(base: str, cwd: Path | None = None) -> list[str]:
    """Paths (relative to the repository root) changed between the merge base of ``base`` and HEAD."""
    resolve_ref(base, cwd)
    out = git("diff", "--name-only", f"{base}...HEAD", cwd=cwd)
    return [line for line in out.splitlines() if line.strip()]


def diff_lines(base: str, paths: list[str], limit: int, cwd: Path | None = None) -> list[str]:
    """The added and removed lines of ``paths`` between ``base`` and HEAD, with a header per file."""
    if not paths or limit <= 0:
        return []
    out = git("diff", "--unified=0", "--no-color", f"{base}...HEAD", "--", *paths, cwd=cwd)
    lines = []
    for line in out.splitlines():
        if line.startswith("+++ b/"):
            lines.append(f"# {line[6:]}")
        elif line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
            lines.append(line)
        if len(lines) >= limit:
            lines.append(f"... (more lines cut at {limit})")
            break
    return lines


@dataclass
class Experiment:
    name: str
    files: list[str] = field(default_factory=list)  # repository-relative paths it depends on
    choices: dict[str, str] = field(default_factory=dict)


def _rel(path: Path, root: Path) -> str | None:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return None  # outside the repository: git cannot report it changed


def experiment_files(name: str, root: Path) -> Experiment:
    """The repository files experiment preset ``name`` is built from."""
    from omegaconf import open_dict

    from mlplat.config.compose import compose, find_config, to_plain
    from mlplat.data.sources import resolve_path

    cfg = compose([f"experiment={name}"], return_hydra_config=True)
    choices = {k: str(v) for k, v in cfg.hydra.runtime.choices.items() if v is not None and "/" not in k}
    with open_dict(cfg):
        cfg.pop("hydra")  # its run-time fields (job.num) cannot be resolved outside a Hydra run
    plain = to_plain(cfg)
    # each from the config layer it comes from (the project's conf/, else the shipped library)
    relative = ["config.yaml", "mlplat.yaml", f"experiment/{name}.yaml",
                *(f"{g}/{choices[g]}.yaml" for g in TRAINING_GROUPS if g in choices)]
    paths = [p for p in (find_config(r) for r in relative) if p is not None]
    dataset = plain["dataset"]
    if dataset.get("path") and str(dataset["source"]) in ("csv", "parquet"):
        paths.append(resolve_path(dataset["path"]))
    url = str(dataset.get("url") or "")
    if str(dataset["source"]) == "sql" and url.startswith("sqlite:///") and ":memory:" not in url:
        paths.append(resolve_path(url.removeprefix("sqlite:///")))
    files = [r for r in (_rel(p, root) for p in paths) if r]
    return Experiment(name, files, choices)


def all_experiments() -> list[str]:
    from mlplat.config.compose import group_options

    return group_options("experiment")


def affected(changed: list[str], root: Path, names: list[str] | None = None, *,
             with_files: bool = True) -> tuple[list[Experiment], list[str]]:
    """(experiments that use a changed file, changed files no experiment uses).

    Named experiments are taken as they are; ``with_files`` False skips finding their files
    (a composition each), which only the diff needs.
    """
    known = all_experiments()
    for n in names or []:
        if n not in known:
            raise ConfigError(f"unknown experiment {n!r}: choose one of {', '.join(known) or '(none)'} "
                              "(files in conf/experiment)")
    if names and not with_files:
        return [Experiment(n) for n in names], sorted(changed)
    candidates = [experiment_files(n, root) for n in (names or known)]
    changed_set = set(changed)
    hit = [e for e in candidates if names or changed_set & set(e.files)]
    used = {f for e in candidates for f in e.files}
    return hit, sorted(changed_set - used)
