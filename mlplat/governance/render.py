"""Small Markdown/HTML rendering helpers shared by the governance report and model cards."""

from __future__ import annotations

import base64
import datetime as dt
import html
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


def html_table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "<p class='none'>none</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:6px 0}
th,td{border-bottom:1px solid #eee;padding:4px 8px;text-align:left}th{background:#f7f7f7}
.status{color:#fff;border-radius:4px;padding:2px 8px}.ok{background:#1e8449}.warn{background:#d68910}
.error{background:#c0392b}.none{color:#777}img{max-width:100%}.charts{display:flex;gap:16px;flex-wrap:wrap}
"""


def html_page(title: str, body: str) -> str:
    """A self-contained page: inline CSS, images as data URIs, no scripts or network."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>\n")


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
