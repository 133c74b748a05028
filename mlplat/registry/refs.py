"""Model references (``churn``, ``churn:3``, ``churn@production``) and the names they may use.

Apart from mlplat.registry.versions (which re-exports them) because the one-shot read commands
(`mlplat monitor history churn@production`) parse a reference without importing SQLAlchemy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlplat.errors import NotFound, RegistryError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")


@dataclass(frozen=True)
class Ref:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise RegistryError(f"model name {name!r} is not allowed: use letters, digits, '_', '.', '-' "
                            "(up to 100, starting with a letter or digit), e.g. churn")
    return name


def check_alias(alias: str) -> str:
    if not ALIAS_RE.match(alias or ""):
        raise RegistryError(f"alias {alias!r} is not allowed: use letters, digits, '_', '-' starting with a "
                            "letter, e.g. production")
    return alias


def parse_ref(text: str) -> Ref:
    """'churn' (latest), 'churn:3' (version 3) or 'churn@production' (what the alias points at)."""
    text = (text or "").strip()
    if "@" in text:
        name, alias = text.split("@", 1)
        return Ref(check_name(name), alias=check_alias(alias))
    if ":" in text:
        name, version = text.split(":", 1)
        if not version.isdigit() or int(version) < 1:
            raise RegistryError(f"version {version!r} in {text!r} is not a version number: use e.g. {name}:3")
        return Ref(check_name(name), version=int(version))
    return Ref(check_name(text))


def not_registered(name: str) -> NotFound:
    return NotFound(f"model {name!r} is not registered; see `mlplat models list` or register a run with "
                    f"`mlplat models register <run id> --name {name}`")
