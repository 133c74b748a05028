"""Subcommands of `mlplat`, one module per domain.

Each module defines ``register(sub)`` that adds its argparse subparsers and sets
``handler=`` on them; handlers take the parsed args and return an exit code. Modules
import only argparse at top level so `mlplat --help` stays fast.
"""
