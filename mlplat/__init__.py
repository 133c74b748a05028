"""mlplat: a declarative ML platform (Hydra configs -> tracked runs -> registry -> serving -> monitoring).

The Python API (``mlplat.train``, ``leaderboard``, ``runs``, ``load_model``, ``log_run``,
``register``, ``predict``) lives in ``mlplat.api`` and is re-exported here lazily: ``mlplat
--help`` must start in well under half a second, so nothing heavy (sklearn, pandas,
SQLAlchemy) is imported until a function is called. The table below names each export's
module, so a lookup is one import, never a search.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {name: "mlplat.api" for name in ("train", "leaderboard", "runs", "load_model", "log_run", "register",
                                            "predict")}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlplat' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
