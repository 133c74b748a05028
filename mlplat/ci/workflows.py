"""The CI files `mlplat ci workflow github|gitlab` writes (templates under mlplat/ci/templates/).

Each runs `mlplat check`, `mlplat ci run` and `mlplat ci comment` on pull (merge) requests and
`mlplat ci deploy` on the main branch, with the venv cached and the store URL and tokens taken
from the CI system's secrets. Every run step calls only `.venv/bin/mlplat` with shell variables
(no `${{ }}` expression inside a script), so the steps run unchanged on a laptop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from mlplat.errors import ConfigError

TEMPLATES = Path(__file__).with_name("templates")
TARGETS = {"github": Path(".github/workflows/mlplat.yml"), "gitlab": Path(".gitlab-ci.yml")}
# YAML is not HTML: autoescaping would corrupt quotes, so these templates get their own environment
_ENV = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=False, undefined=StrictUndefined,
                   keep_trailing_newline=True)


def _install(root: Path) -> str:
    """What the Install step installs: the project itself when it is a package, else its requirements."""
    if (root / "pyproject.toml").is_file() or (root / "setup.py").is_file():
        return "-e ."
    if (root / "requirements.txt").is_file():
        return "-r requirements.txt"
    return "mlplat"


def render(root: Path, kind: Literal["github", "gitlab"], *, branch: str = "main", target: str = "production",
           python: str = "3.11") -> str:
    if kind not in TARGETS:
        raise ConfigError(f"unknown CI kind {kind!r}: use github or gitlab")
    return _ENV.get_template(f"{kind}.yml").render(branch=branch, target=target, python=python, install=_install(root))


def write_workflow(root: Path, kind: Literal["github", "gitlab"], *, force: bool = False) -> Path:
    """Write the CI file for ``kind`` under ``root``; refuses to overwrite one unless ``force``."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"project directory {str(root)!r} does not exist; create it or pass another directory")
    text = render(root, kind)
    path = root / TARGETS[kind]
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; pass --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise ConfigError(f"cannot write {path} ({exc.strerror}); check the directory's permissions") from None
    return path
