"""Subcommands of `mlplat`, one module per domain.

Each module defines ``register(sub)`` that adds its argparse subparsers and sets
``handler=`` on them; handlers take the parsed args and return an exit code. Modules
import only argparse at top level, and each handler imports what it uses: `mlplat --help`
builds every module's parser, so a top-level ``mlplat.ops`` domain module (SQLAlchemy,
Hydra, pandas) would cost it 0.5-1.5 s; `mlplat COMMAND` builds only its own module's
parser (``COMMAND_MODULES`` in mlplat/cli.py).
"""
