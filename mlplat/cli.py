"""The `mlplat` command.

`mlplat train ...` hands its arguments to the Hydra app untouched; the other subcommands
come from the modules in ``mlplat.commands`` (argparse over ``mlplat.ops``). Imports are
lazy so `mlplat --help` starts fast, and every error a user can cause ends in one line on
stderr and a non-zero exit (the traceback only with --verbose).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

# one module per domain under mlplat.commands, with the top-level commands it registers (a
# domain adds its line here). A command builds only its own module's parser: importing every
# module and reading the entry points costs ~80 ms, a third of `mlplat leaderboard`. A test
# checks this table against what each module registers.
COMMAND_MODULES = {
    "runs": ("leaderboard", "runs", "sweeps"),
    "store": ("store",),
    "registry": ("models", "approvals", "approve", "reject", "audit"),
    "serving": ("serve", "predict"),
    "scheduler": ("scheduler",),
    "governance": ("report", "lineage"),
    "monitor": ("monitor",),
    "ci": ("check", "ci"),
    "project": ("init",),
    "ui": ("ui",),
    "data": ("data",),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for ``command`` alone when a module here owns it, else for every command."""
    parser = argparse.ArgumentParser(
        prog="mlplat",
        description="Declarative ML platform: Hydra configs in, tracked runs, leaderboards, registry out.",
        epilog="`mlplat train --help` shows the Hydra app's own help (config groups, overrides, -m).",
    )
    parser.add_argument("--verbose", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("train", help="run an experiment (a Hydra app: overrides, -m sweeps, --cfg job)", add_help=False)
    owners = [name for name, commands in COMMAND_MODULES.items() if command in commands]
    for name in owners or COMMAND_MODULES:
        importlib.import_module(f"mlplat.commands.{name}").register(sub)
    if not owners:
        # front doors that live outside the engine (the Slack bot's `bot` and `chat`) add
        # their subcommands through this entry-point group, so mlplat never imports them
        from importlib.metadata import entry_points

        for ep in entry_points(group="mlplat.commands"):
            ep.load()(sub)
    sub.add_parser("version", help="print the mlplat version")
    return parser


def _train(args: list[str]) -> int:
    """`mlplat train`: the Hydra app. Its module finds the project when imported (Hydra's
    config path), so a bad project setting (MLPLAT_CONF_DIR) is reported here, in one line."""
    from mlplat.errors import MlplatError

    try:
        from mlplat.app import train_main
    except MlplatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return train_main(args)


def main(argv: list[str] | None = None) -> int:
    # OpenMP's default busy-wait makes HistGradientBoosting/XGBoost 5-10x slower as soon as
    # another process competes for the cores (parallel sweeps, a bot): yield instead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("train", "-sc", "--shell-completion"):
        # the completion script Hydra installs calls `mlplat -sc query=bash` (see app._completion_line)
        sys.exit(_train(argv[1:] if argv[0] == "train" else argv))
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        sys.exit(0)
    if args.command == "version":
        from mlplat import __version__

        print(__version__)
        sys.exit(0)
    if args.verbose:
        os.environ["MLPLAT_VERBOSE"] = "1"
    from mlplat.errors import MlplatError

    try:
        code = args.handler(args)
    except MlplatError as exc:
        if args.verbose:
            raise
        from mlplat.redact import text as masked  # a message may quote a store URL

        print(f"error: {masked(str(exc))}", file=sys.stderr)
        code = 1
    except BrokenPipeError:
        code = 0
    sys.exit(code)


def run() -> None:
    """The console script: ``main``, then the process ends without the collector's last passes.

    At exit the interpreter's final collections walk every object it still tracks, about a
    million once scikit-learn, SciPy and pandas are imported: 0.28 s of a 1.4 s process
    that only imports sklearn.linear_model, 0.4 s after `mlplat predict` of 1M rows. Frozen
    objects are skipped (``gc.freeze``); everything else at exit still happens (atexit
    handlers, threads joined, files flushed and closed as their references go)."""
    try:
        main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    run()
