"""Chat text -> a command and checked overrides. Chat text is never code.

Arguments are split with shlex here; the allow-list rule itself (Hydra's override grammar,
allowed groups and bounded parameters, the refused forms) is enforced by
``mlplat.ops.check_untrusted_overrides`` so it holds for any front door. A sweep must
also stay under ``max_sweep_jobs``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from mlplat.errors import BotError


class Refused(BotError):
    """Chat text that the bot will not run; the message says which token and why."""


@dataclass
class Command:
    name: str
    args: list[str] = field(default_factory=list)
    text: str = ""


def split(text: str) -> Command:
    """``run demo model=knn`` -> Command("run", ["demo", "model=knn"]); malformed quoting refused."""
    try:
        tokens = shlex.split(text or "")
    except ValueError as exc:
        raise Refused(f"cannot read the command ({exc}): close the quotes or remove the stray quote") from None
    if not tokens:
        return Command("help", [], text or "")
    return Command(tokens[0].lower(), tokens[1:], text)


def check_overrides(tokens: list[str], allow: dict[str, Any], *, group_options, single_run: bool = False) -> list[str]:
    """The allow-list rule lives in ``mlplat.ops`` (it holds for any front door); chat replies use Refused.
    ``single_run``: a sweep value is refused, by the same rule as `mlplat train` without -m."""
    from mlplat import ops
    from mlplat.errors import OverrideRefused

    try:
        return ops.check_untrusted_overrides(tokens, allow, group_options=group_options, single_run=single_run)
    except OverrideRefused as exc:
        raise Refused(str(exc)) from None


def sweep_jobs(overrides: list[str]) -> int | None:
    """How many jobs a sweep command line launches; None when its sweeper cannot say."""
    from mlplat import ops

    return ops.plan_sweep(overrides).total


def check_sweep_size(overrides: list[str], cap: int) -> int:
    total = sweep_jobs(overrides)
    if total is None:
        raise Refused(f"cannot tell how many jobs this sweep runs, so it cannot be checked against the cap "
                      f"of {cap}; set the sweeper's number of trials")
    if total > cap:
        raise Refused(f"this sweep runs {total} jobs, more than the {cap} allowed from chat "
                      "(conf/bot allow.max_sweep_jobs): narrow the values or run it from the CLI")
    return total
