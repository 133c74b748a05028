"""The Slack front door of mlplat: `/mlplat` commands, approval buttons, alerts, App Home.

Imports mlplat, never the reverse. Platform rules (roles for registry actions, four-eyes,
gates) live in ``mlplat.ops``; this package parses chat text, maps Slack identities,
filters chat input against the allow-list in conf/bot, and renders Block Kit.
"""
