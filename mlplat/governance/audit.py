"""Moved to ``mlplat.tracking.audit`` (the audit trail is part of the store: tracking and the
registry write it in their own transactions, and they sit below governance).

This name stays only so branches written against the old path keep importing while they
are merged; new code imports ``mlplat.tracking.audit``. Delete it once nothing uses it.
"""

from mlplat.tracking.audit import Verification, append, append_many, entries, verify  # noqa: F401
