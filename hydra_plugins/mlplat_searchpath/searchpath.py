"""mlplat's config layers on Hydra's search path, after whatever the command put first.

Hydra's order is: --config-dir, the primary directory (the project's conf/, or -cp), Hydra's
own configs; this plugin then appends the layers mlplat composes from
(mlplat.config.compose.config_dirs: the project's conf/ when it is not already there, and
the shipped library ``pkg://mlplat_conf``). A project file therefore overrides the shipped
file of the same name, and a project that holds only ``conf/dataset/x.yaml`` still finds
every shipped model and feature set.

It acts only in a process that composes mlplat's configs (mlplat.config.compose imported),
so other Hydra apps installed next to mlplat keep their own search path.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


def _directory(path: str) -> Path | None:
    if path.startswith("file://"):
        return Path(path[len("file://"):]).resolve()
    if path == "pkg://mlplat_conf":
        from mlplat.project import shipped_conf

        return shipped_conf()
    if "://" not in path:  # hydra.main(config_path=<absolute dir>) is kept without a scheme
        return Path(path).resolve()
    return None


class MlplatSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        if "mlplat.config.compose" not in sys.modules:
            return
        import importlib.util

        from mlplat.config.compose import config_dirs
        from mlplat.project import shipped_conf

        present = {_directory(e.path) for e in search_path.get_path() if e.path}
        shipped = shipped_conf()
        for directory in config_dirs():
            if directory in present:
                continue
            if directory == shipped and importlib.util.find_spec("mlplat_conf") is not None:
                search_path.append(provider="mlplat", path="pkg://mlplat_conf")
            else:
                search_path.append(provider="mlplat-project", path=f"file://{directory}")
            present.add(directory)
