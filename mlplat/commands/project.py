"""`mlplat init [DIR]`: a working project in one command (scaffold in mlplat.project)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("init", help="create a project: conf/, an example dataset, a registry policy, .gitignore, README")
    p.add_argument("directory", nargs="?", default=".", help="the project directory (default: the current one)")
    p.add_argument("--ci", choices=("github", "gitlab"),
                   help="also write the CI file: .github/workflows/mlplat.yml or .gitlab-ci.yml (docs/ci.md)")
    p.set_defaults(handler=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    from mlplat import ops
    from mlplat.project import init_project

    root = Path(args.directory).expanduser().resolve()
    user = os.environ.get("MLPLAT_ACTOR") or ops.os_user()
    if args.ci:
        from mlplat.ci.workflows import TARGETS

        ci_file = root / TARGETS[args.ci]
        if ci_file.exists():  # refused before anything is written, like the other files
            from mlplat.errors import ConfigError

            raise ConfigError(f"{root} already has {TARGETS[args.ci]}: mlplat init never overwrites files; "
                              "choose an empty or new directory")
    files = init_project(root, user=user)
    if args.ci:
        files.append(ops.write_ci_workflow(root, args.ci))
    print(f"created a project in {root}:")
    for path in files:
        print(f"  {path.relative_to(root)}")
    policy = root / "conf" / "access" / "default.yaml"
    go = "" if root == Path.cwd().resolve() else f"cd {args.directory} && "
    print(f"next: {go}mlplat train && mlplat leaderboard")
    print(f"access: {user!r} holds every role in {policy.relative_to(root)}; promoting to production needs an "
          "approver other than the requester (four-eyes): add a second person to roles.ml-lead there")
    return 0
