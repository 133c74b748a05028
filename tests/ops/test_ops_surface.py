"""The operations surface: every domain's public names reach `mlplat.ops`, once each, from
the module the static table names."""

from __future__ import annotations

import ast
import importlib
import pkgutil

import mlplat.ops
from mlplat import ops


def _domain_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(mlplat.ops.__path__))


def test_every_exported_operation_resolves_through_ops():
    seen: dict[str, str] = {}
    for sub in _domain_modules():
        mod = importlib.import_module(f"mlplat.ops.{sub}")
        for name in getattr(mod, "__all__", ()):
            assert name not in seen, f"{name} exported by both {seen[name]} and {sub}"
            seen[name] = sub
            assert ops.OPERATIONS.get(name) == sub, f"ops.OPERATIONS must map {name!r} to {sub!r}"
            assert getattr(ops, name) is getattr(mod, name)
    assert seen == ops.OPERATIONS, f"names in ops.OPERATIONS that no module exports: {set(ops.OPERATIONS) - set(seen)}"
    assert {"leaderboard", "register", "approve", "check_drift", "governance_report", "check_untrusted_overrides",
            "store_stats"} <= set(seen)


def test_tools_can_follow_every_name_to_its_module():
    """The TYPE_CHECKING imports in mlplat/ops/__init__.py say what OPERATIONS says."""
    tree = ast.parse(open(mlplat.ops.__file__).read())
    guarded = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    imported = {a.name: node.module.rsplit(".", 1)[-1] for node in guarded.body for a in node.names}
    assert imported == ops.OPERATIONS


def test_an_unknown_operation_is_an_attribute_error():
    assert not hasattr(ops, "launch_missiles")
