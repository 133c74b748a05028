"""The operations surface: every domain's public names reach `mlplat.ops`, once each."""

from __future__ import annotations

import importlib

from mlplat import ops


def test_every_exported_operation_resolves_through_ops():
    seen: dict[str, str] = {}
    for sub in ops._SUBMODULES:
        mod = importlib.import_module(f"mlplat.ops.{sub}")
        for name in mod.__all__:
            assert name not in seen, f"{name} exported by both {seen[name]} and {sub}"
            seen[name] = sub
            assert getattr(ops, name) is getattr(mod, name)
    assert {"leaderboard", "register", "approve", "check_drift", "governance_report", "check_untrusted_overrides",
            "start_scheduler", "store_stats"} <= set(seen)


def test_an_unknown_operation_is_an_attribute_error():
    assert not hasattr(ops, "launch_missiles")
