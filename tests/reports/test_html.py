"""The shared HTML layer escapes untrusted text and inlines its stylesheet."""

from __future__ import annotations

from mlplat.reports import html as pages

HOSTILE = '<script>alert("x")</script>&"\''


def test_base_page_escapes_and_is_self_contained():
    out = pages.environment().from_string(
        '{% extends "base.html" %}{% import "macros.html" as m %}'
        "{% block content %}<h1>{{ title }}</h1>{{ m.table(['col'], [[value]]) }}{{ m.badge(value) }}{% endblock %}"
    ).render(title=HOSTILE, value=HOSTILE, generated=None)
    assert "<script>" not in out
    assert "&lt;script&gt;" in out
    assert "--accent" in out  # the stylesheet is inlined
    assert "http://" not in out and "https://" not in out  # no request to any other host
