"""Argument types and shared options for the `mlplat` subcommands (argparse only: cheap to import)."""

from __future__ import annotations

import argparse
import time


def parse_duration(text: str) -> float:
    """'30d' -> seconds. One clear error for anything else."""
    from mlplat.durations import seconds

    value = seconds(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"malformed duration {text!r}: use a number and a unit, e.g. 90s, 30m, 24h, 7d, 2w")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="URL", help="store URL (default: tracking.url of the config, or MLPLAT_STORE_URL)")


def add_format(p: argparse.ArgumentParser, choices=("table", "json")) -> None:
    p.add_argument("--format", choices=choices, default="table", help="output format (default: table)")


def add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--experiment", help="only runs of this experiment")
    p.add_argument("--sweep", help="only runs of this sweep id")
    p.add_argument("--dataset", help="only runs on this dataset")
    p.add_argument("--model", help="only runs of this model")
    p.add_argument("--since", type=parse_duration, metavar="DURATION", help="only runs started within, e.g. 24h, 30d")




def store_of(args):
    """The store named by --store, else the config's tracking.url (or MLPLAT_STORE_URL)."""
    from mlplat import ops

    return ops.open_store(url=args.store) if getattr(args, "store", None) else ops.open_store()


def filters_of(args) -> dict:
    return {"experiment": getattr(args, "experiment", None), "sweep_id": getattr(args, "sweep", None),
            "dataset": getattr(args, "dataset", None), "model": getattr(args, "model", None),
            "status": getattr(args, "status", None)}


def since_of(args) -> float | None:
    return time.time() - args.since if getattr(args, "since", None) else None
