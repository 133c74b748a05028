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
_SUBMODULES = ("runs", "registry", "serving", "store", "sweeps", "schedule", "governance", "monitoring", "untrusted")

__all__: list[str] = []
for _name in _SUBMODULES:
    _mod = importlib.import_module(f"{__name__}.{_name}")
    for _attr in getattr(_mod, "__all__", ()):
        globals()[_attr] = getattr(_mod, _attr)
        __all__.append(_attr)
