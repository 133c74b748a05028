"""The `mlplat` parser: each command builds only its own module's parser, and the table of
which module owns which command matches what the modules register."""

from __future__ import annotations

import argparse
import importlib

import pytest

from mlplat.cli import COMMAND_MODULES, build_parser


def _choices(parser: argparse.ArgumentParser) -> set[str]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


@pytest.mark.parametrize("module", sorted(COMMAND_MODULES))
def test_table_matches_what_each_module_registers(module):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(f"mlplat.commands.{module}").register(sub)
    assert set(sub.choices) == set(COMMAND_MODULES[module])


def test_a_command_builds_only_its_own_module():
    assert _choices(build_parser("leaderboard")) == {"train", "version", "leaderboard", "runs", "sweeps"}


def test_no_or_unknown_command_builds_everything_including_entry_points():
    every = {c for cmds in COMMAND_MODULES.values() for c in cmds} | {"train", "version", "bot", "chat"}
    assert _choices(build_parser(None)) == every
    assert _choices(build_parser("leaderbord")) == every  # argparse then names the valid choices
