"""The shell commands README.md and docs/*.md show, read out of their fenced code blocks.

A documented command is a line of a fenced block that starts with `mlplat` (after an optional
`$ ` prompt and `VAR=value` assignments), or `python -m mlplat`. Comments after `#` are dropped;
`a | b` and `a && b` are separate commands; `mlplat models show churn | churn:3` is shorthand
for `mlplat models show churn:3`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")


@dataclass(frozen=True)
class Documented:
    doc: str  # path relative to the repository
    line: int  # 1-based line of the block's line
    text: str  # the command as written (comment dropped)
    env: tuple[tuple[str, str], ...]  # VAR=value assignments in front of it
    argv: tuple[str, ...]  # the arguments after `mlplat`

    @property
    def key(self) -> str:
        """How the tables in the tests name a command: `mlplat` and its arguments, env first."""
        env = " ".join(f"{k}={v}" for k, v in self.env)
        return (env + " " if env else "") + "mlplat " + " ".join(self.argv)

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.key}"


def _strip_comment(line: str) -> str:
    # a '#' starts a comment only at a word start outside quotes ('churn#3' and "a # b" stay)
    out, quote = [], None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            break
        out.append(ch)
    return "".join(out).strip()


def _split(line: str) -> list[str]:
    parts: list[str] = []
    for chunk in re.split(r"\s+&&\s+", line):
        parts.extend(p.strip() for p in re.split(r"\s+\|\s+", chunk))
    return [p for p in parts if p]


def _parse(text: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]] | None:
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    env = []
    while words and ASSIGNMENT.match(words[0]):
        k, _, v = words.pop(0).partition("=")
        env.append((k, v))
    if words[:3] == ["python", "-m", "mlplat"]:
        words = ["mlplat", *words[3:]]
    if not words or words[0] != "mlplat":
        return None
    return tuple(env), tuple(words[1:])


def documented_commands(repo: Path = REPO) -> list[Documented]:
    docs = [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]
    found: list[Documented] = []
    for path in docs:
        text = path.read_text()
        for block in FENCE.finditer(text):
            first = text.count("\n", 0, block.start(1)) + 1
            for offset, raw in enumerate(block.group(1).splitlines()):
                line = _strip_comment(raw.strip().removeprefix("$ "))
                previous: tuple[str, ...] | None = None
                for part in _split(line):
                    parsed = _parse(part)
                    if parsed is None and previous and not part.startswith(("mlplat", "cd ", "python")):
                        # shorthand alternative: `mlplat models show churn | churn:3`
                        parsed = ((), (*previous[:-1], *part.split()))
                    if parsed is None:
                        continue
                    env, argv = parsed
                    previous = argv
                    found.append(Documented(str(path.relative_to(repo)), first + offset, part, env, argv))
    return found
