"""Who is asking, and whether a state-changing request really comes from our own page.

The UI is read-only unless an identity source is configured: ``--auth-header`` names the
header an authenticating proxy sets (e.g. X-Forwarded-User), and only requests whose peer
address is one of ``ui.trusted_proxies`` may carry it; from anywhere else the header is
ignored, so a client cannot name itself. No identity means no buttons and every
state-changing request refused. Each form carries a CSRF token bound to the identity
(an HMAC under a key that lives only in this process), so another site cannot make a
signed-in user's browser approve something.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable

_IDENTITY = re.compile(r"^[A-Za-z0-9_.@+\-]{1,200}$")


class Guard:
    def __init__(self, auth_header: str | None, trusted_proxies: Iterable[str]):
        self.auth_header = auth_header.strip().lower() if auth_header and auth_header.strip() else None
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]
        self._key = secrets.token_bytes(32)

    @property
    def enabled(self) -> bool:
        return self.auth_header is not None and bool(self.trusted)

    def _trusted_peer(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in net for net in self.trusted)

    def identity(self, headers, peer: str | None) -> str | None:
        """The proxy-asserted user, or None (no identity source, untrusted peer, no or odd header)."""
        if not self.enabled or not self._trusted_peer(peer):
            return None
        value = (headers.get(self.auth_header) or "").strip()
        return value if _IDENTITY.match(value) else None

    def token(self, identity: str) -> str:
        return hmac.new(self._key, identity.encode(), hashlib.sha256).hexdigest()

    def check_token(self, identity: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.token(identity), str(token))
