"""Small formatting helpers shared by the governance report and model cards (Markdown tables,
times, numbers, charts as data URIs); their HTML pages are templates (mlplat.reports.html)."""

from __future__ import annotations

import base64
import datetime as dt
import io
from typing import Any


# -- small shared formatting (also used by the model card) ------------------------------------
def iso(ts: float | None) -> str:
    if ts is None:
        return "–"
    return dt.datetime.fromtimestamp(float(ts), dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "_none_\n"

    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def png_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # servers and the bot have no display; must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt
