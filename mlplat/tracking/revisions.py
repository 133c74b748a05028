"""Where the schema's migrations live and which revisions are current, without importing
SQLAlchemy or Alembic (the Store and the direct read path both ask on every command)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")
# not Alembic's default name: Optuna's RDB storage shares the database and has its own
VERSION_TABLE = "mlplat_alembic_version"

_ASSIGN = re.compile(r"^(revision|down_revision)\s*(?::[^=]+)?=\s*(.+?)\s*$", re.M)


def script_heads() -> set[str]:
    """The migration heads, read from the revision files' ``revision``/``down_revision`` lines.

    Alembic's ScriptDirectory costs ~0.3 s of imports, a large part of a read-only command's
    budget. A file this reader cannot parse raises LookupError, which sends the caller to
    Alembic (the Store) or to the Store (the direct path): a surprise costs time, never
    correctness. A test checks the answer equals Alembic's.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(m.groups() for m in _ASSIGN.finditer(path.read_text()))
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (KeyError, ValueError, SyntaxError):
            raise LookupError(path) from None
        revisions.add(revision)
        parents.update(down if isinstance(down, tuple | list) else [down] if down else [])
    return revisions - parents
