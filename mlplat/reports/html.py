"""Every HTML page mlplat writes renders here: Jinja2 templates with autoescaping on.

One environment, one base template (``templates/base.html``) and one stylesheet
(``templates/style.css``, inlined into each page), so reports, model cards, profiles and the
web UI look like one product, and untrusted text (dataset values, column names, chat text) is
escaped by the template engine rather than by hand at each concatenation. Pages are
self-contained: the stylesheet is inlined and charts are data URIs or inline SVG, so a report
opens offline and makes no request to any other host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")

_ENV = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    # .html and .svg are escaped; the .css include is trusted text of ours
    autoescape=select_autoescape(enabled_extensions=("html", "svg"), default_for_string=True),
    undefined=StrictUndefined,  # a missing variable is a bug in the caller, not an empty cell
    trim_blocks=True,
    lstrip_blocks=True,
)


def environment() -> Environment:
    """The shared environment, for front doors that add their own template folders."""
    return _ENV


def add_templates(directory: Path) -> Environment:
    """An environment that looks in ``directory`` first and then in the shared templates.

    A front door (the web UI, the data profile) keeps its page templates beside its code and
    still extends ``base.html`` and includes ``style.css``.
    """
    return _ENV.overlay(loader=ChoiceLoader([FileSystemLoader(str(directory)), _ENV.loader]))


def render(template: str, **context: Any) -> str:
    """Render ``template`` (a file under templates/) with ``context``; autoescaped."""
    return _ENV.get_template(template).render(**context)
