"""What anchors the audit trail outside the rows it protects.

The hash chain (``audit.py``) finds an edited or deleted entry only if nobody recomputed
the hashes after it. Three things kept outside the chain's rows close that gap:

- **the audit key**: ``MLPLAT_AUDIT_KEY`` if set, else the key file
  (``MLPLAT_AUDIT_KEY_FILE``, default ``~/.config/mlplat/audit.key``, honouring
  ``XDG_CONFIG_HOME``), created with mode 0600 on first use. It is never written to the
  database. Every entry carries ``mac = HMAC-SHA256(key, hash)``: recomputing the chain
  without the key leaves MACs that do not match.
- **signed checkpoints** (table ``audit_checkpoints``): the head (seq, hash) at a time, its
  MAC covering the previous checkpoint's MAC. ``verify`` compares them with the trail, so
  entries deleted from the end (up to the newest checkpoint) are found.
- **the witness file** beside the key file (``audit-witness.json``): the newest head this
  machine saw verified or checkpointed, per store. A trail shorter than it, or different at
  that entry, is reported even when the checkpoints were deleted too.

Everyone who writes to one store must use the same key: a team store sets
``MLPLAT_AUDIT_KEY`` from its secret manager on every writer (CLI, bot, scheduler, CI).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from mlplat.errors import StoreError

KEY_ENV = "MLPLAT_AUDIT_KEY"
KEY_FILE_ENV = "MLPLAT_AUDIT_KEY_FILE"
_cache: dict[tuple[str | None, str], bytes] = {}


def key_path() -> Path:
    """The key file (whether or not MLPLAT_AUDIT_KEY is set: the witness file lives beside it)."""
    explicit = os.environ.get(KEY_FILE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mlplat" / "audit.key"


def _read_or_create(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_bytes().strip()
    except OSError as exc:
        raise StoreError(f"cannot create the audit key file {path}: {exc}; set {KEY_ENV} or "
                         f"{KEY_FILE_ENV} to a writable place") from exc
    value = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as fh:
        fh.write(value + b"\n")
    return value


def key() -> bytes:
    env = os.environ.get(KEY_ENV) or None
    path = key_path()
    cached = _cache.get((env, str(path)))
    if cached is None:
        cached = env.encode() if env else _read_or_create(path)
        if not cached:
            raise StoreError(f"the audit key file {path} is empty; delete it to make a new one "
                             "(entries signed with the old key will then fail `mlplat audit verify`)")
        _cache[(env, str(path))] = cached
    return cached


def key_id() -> str:
    """A digest naming the key (safe to store and print; it does not reveal the key)."""
    return hashlib.sha256(b"mlplat-audit-key-id|" + key()).hexdigest()[:12]


def entry_mac(entry_hash: str) -> str:
    return hmac.new(key(), b"entry|" + entry_hash.encode(), hashlib.sha256).hexdigest()


def checkpoint_mac(seq: int, entry_hash: str, ts: float, prev_mac: str) -> str:
    material = f"checkpoint|{seq}|{entry_hash}|{ts!r}|{prev_mac}".encode()
    return hmac.new(key(), material, hashlib.sha256).hexdigest()


def same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a, b)


# -- the witness: the newest head seen on this machine, per store ----------------------------
def witness_path() -> Path:
    return key_path().with_name("audit-witness.json")


def _store_key(store_id: str) -> str:
    return hashlib.sha256(store_id.encode()).hexdigest()[:24]


def witnessed(store_id: str) -> dict | None:
    """{"seq", "hash", "ts"} last seen for the store, or None (never seen here, or unreadable)."""
    try:
        data = json.loads(witness_path().read_text())
    except (OSError, ValueError):
        return None
    entry = data.get(_store_key(store_id)) if isinstance(data, dict) else None
    return entry if isinstance(entry, dict) and "seq" in entry and "hash" in entry else None


def witness(store_id: str, seq: int, entry_hash: str, ts: float, first_hash: str, *, reset: bool = False) -> None:
    """Remember (seq, hash) for the store if it is newer than what was seen (atomic rewrite).

    ``first_hash`` (entry 1's hash) tells a store recreated at the same URL (a new trail,
    every entry signed) from a shortened one; ``reset`` replaces the old head then."""
    path = witness_path()
    try:
        data = json.loads(path.read_text())
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    k = _store_key(store_id)
    if not reset and int((data.get(k) or {}).get("seq", -1)) > seq:
        return
    data[k] = {"seq": seq, "hash": entry_hash, "ts": ts, "first": first_hash}
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass  # the witness is a second anchor; the checkpoints in the store stay the first
