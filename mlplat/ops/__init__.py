"""The operations every front door calls (CLI, Hydra app, Slack bot, scheduler, HTTP).

Each operation takes plain arguments plus who asks and from where, and returns plain
data; front doors only format. Rules (what may run, who may approve, what a gate needs)
are enforced here or below, never in a front door, so they hold whichever door is used.
One module per domain; this package re-exports their public functions so callers write
``from mlplat import ops; ops.leaderboard(...)``. Submodules import heavy libraries inside
functions, so importing ``mlplat.ops`` stays cheap.
"""

from __future__ import annotations

import importlib

# each domain's operations; a domain adds its module name here
_SUBMODULES = ("runs", "registry", "serving", "store", "sweeps", "schedule", "governance", "monitoring", "untrusted",
               "data")



def __getattr__(name: str):
    """Import domain modules on first use, in order, until one exports ``name``.

    A read-only command (`mlplat leaderboard`) then imports the runs module only, which is
    part of keeping its whole process under half a second.
    """
    for sub in _SUBMODULES:
        mod = importlib.import_module(f"{__name__}.{sub}")
        if name in getattr(mod, "__all__", ()):
            value = getattr(mod, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no operation {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *(a for sub in _SUBMODULES
                               for a in getattr(importlib.import_module(f"{__name__}.{sub}"), "__all__", ()))})
