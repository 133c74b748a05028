"""The audit trail is anchored outside its rows (mlplat/tracking/anchor.py): entries cut from
its end, a chain recomputed after an edit, stripped MACs and deleted checkpoints are all
found by ``verify``; what stays undetectable is pinned here as docs/governance.md says."""

from __future__ import annotations

import os
import stat

import pytest
import sqlalchemy as sa

from mlplat.tracking import anchor, audit
from mlplat.tracking.schema import audit_checkpoints, audit_log
from mlplat.tracking.store import Store


@pytest.fixture
def keyed(tmp_path, monkeypatch):
    """A key file of this test only (the witness file lives beside it)."""
    monkeypatch.delenv(anchor.KEY_ENV, raising=False)
    monkeypatch.setenv(anchor.KEY_FILE_ENV, str(tmp_path / "cfg" / "audit.key"))
    return tmp_path / "cfg"


@pytest.fixture
def store(tmp_path, keyed):
    st = Store.open(f"sqlite:///{tmp_path / 's.db'}", tmp_path / "a")
    yield st
    st.close()


def _append(store: Store, n: int, start: int = 0) -> None:
    with store.write() as conn:
        for i in range(start, start + n):
            audit.append(conn, actor="alice", source="cli", action="run.start", object_type="run",
                         object_id=f"r{i}", payload={"i": i})


def _checkpoint(store: Store) -> dict:
    with store.write() as conn:
        return audit.checkpoint(conn, actor="alice", source="cli")


def _verify(store: Store, **kw) -> audit.Verification:
    with store.read() as conn:
        return audit.verify(conn, **kw)


def _sql(store: Store, statement: str, **params) -> None:
    with store.writer.begin() as conn:
        conn.execute(sa.text(statement), params)


def _recompute_chain(store: Store, *, mac_with: bytes | None = None) -> None:
    """What a forger with database access but not the key does: fix every hash after an edit
    (and sign with a key of their own, or leave the old MACs)."""
    import hashlib
    import hmac

    with store.writer.begin() as conn:
        prev = audit.GENESIS
        for r in conn.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all():
            digest = audit._digest(r.payload)
            h = audit._entry_hash(r.seq, r.ts, r.actor, r.source, r.action, r.object_type, r.object_id, digest, prev)
            values = {"payload_digest": digest, "prev_hash": prev, "hash": h}
            if mac_with is not None:
                values["mac"] = hmac.new(mac_with, b"entry|" + h.encode(), hashlib.sha256).hexdigest()
            conn.execute(audit_log.update().where(audit_log.c.seq == r.seq).values(**values))
            prev = h


def test_the_key_file_is_created_private_once_and_never_stored(store, keyed, tmp_path):
    _append(store, 2)
    key_file = keyed / "audit.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    key = key_file.read_bytes().strip()
    assert key not in (tmp_path / "s.db").read_bytes()
    with store.read() as conn:
        macs = conn.execute(sa.select(audit_log.c.mac)).scalars().all()
    assert all(m and len(m) == 64 for m in macs)


def test_an_edit_with_the_chain_recomputed_is_detected(store):
    _append(store, 5)
    assert _verify(store).ok
    _sql(store, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    _recompute_chain(store)  # the hash chain alone now verifies again
    v = _verify(store)
    assert not v.ok and v.first_bad_seq == 3 and "MAC does not match" in v.reason
    _recompute_chain(store, mac_with=b"a key of the forger's own")
    assert _verify(store).first_bad_seq == 1  # every MAC is now from another key
    _sql(store, "UPDATE audit_log SET mac = NULL WHERE seq >= 3")
    _recompute_chain(store)
    v = _verify(store)
    assert not v.ok and v.first_bad_seq == 1  # entries 1-2 carry a foreign MAC; stripping all is next
    _sql(store, "UPDATE audit_log SET mac = NULL")
    v = _verify(store)
    # every MAC stripped reads as a trail from before the key... but the witness saw entry 5 signed
    assert not v.ok and "differs from the one this machine saw" in v.reason


def test_a_stripped_mac_after_signed_entries_is_detected(store):
    _append(store, 4)
    _sql(store, "UPDATE audit_log SET mac = NULL WHERE seq = 4")
    v = _verify(store)
    assert not v.ok and v.first_bad_seq == 4 and "no MAC" in v.reason


def test_tail_deletion_is_detected_by_the_checkpoint(store, keyed):
    _append(store, 7)
    cp = _checkpoint(store)
    assert cp["seq"] == 7 and len(cp["mac"]) == 64
    (keyed / "audit-witness.json").unlink()  # another machine's view: only the store's checkpoints
    _sql(store, "DELETE FROM audit_log WHERE seq = 7")
    v = _verify(store, remember=False)
    assert not v.ok and "deleted from the end" in v.reason and "checkpoint 1" in v.reason
    _sql(store, "DELETE FROM audit_log WHERE seq >= 5")
    assert "deleted from the end" in _verify(store, remember=False).reason


def test_tail_deletion_after_the_newest_checkpoint_is_detected_by_the_witness(store):
    _append(store, 4)
    _checkpoint(store)
    _append(store, 3, start=4)
    assert _verify(store).ok  # this machine now witnessed entry 7
    _sql(store, "DELETE FROM audit_log WHERE seq > 4")
    v = _verify(store)
    assert not v.ok and "this machine saw entry 7" in v.reason


def test_deleted_or_edited_checkpoints_are_detected(store, keyed):
    _append(store, 2)
    _checkpoint(store)
    _append(store, 2, start=2)
    _checkpoint(store)
    _append(store, 2, start=4)
    _checkpoint(store)
    assert _verify(store).checkpoints == 3
    (keyed / "audit-witness.json").unlink()
    _sql(store, "DELETE FROM audit_checkpoints WHERE id = 2")
    assert "a checkpoint before it was deleted" in _verify(store, remember=False).reason
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_checkpoints)).scalar() == 2


def test_what_is_not_detected_on_a_machine_that_never_saw_the_head(store, keyed):
    """docs/governance.md: entries cut after the newest checkpoint, together with every later
    checkpoint, are found only by a witness that saw them (this machine, a posted digest)."""
    _append(store, 4)
    _checkpoint(store)
    _append(store, 2, start=4)
    (keyed / "audit-witness.json").unlink()
    _sql(store, "DELETE FROM audit_log WHERE seq > 4")
    assert _verify(store, remember=False).ok


def test_a_store_made_anew_at_the_same_url_is_not_a_truncation(tmp_path, keyed):
    url = f"sqlite:///{tmp_path / 'again.db'}"
    first = Store.open(url, tmp_path / "a")
    _append(first, 5)
    assert _verify(first).ok
    first.close()
    (tmp_path / "again.db").unlink()
    from mlplat.tracking import store as store_mod

    store_mod._OPENED.clear()
    second = Store.open(url, tmp_path / "a")
    _append(second, 2)
    v = _verify(second)
    assert v.ok and "a new trail" in v.witness
    second.close()


def test_entries_from_before_the_key_are_reported_unsigned(store):
    _sql(store, "DELETE FROM audit_log")
    with store.write() as conn:  # written as migration 0010 did: no MAC
        prev = audit.GENESIS
        for seq in (1, 2):
            row = audit._row(seq, prev, actor="a", source="cli", action="x", object_type="run", object_id="r",
                             payload={})
            row["mac"] = None
            conn.execute(audit_log.insert().values(**row))
            prev = row["hash"]
    _append(store, 2)
    v = _verify(store)
    assert v.ok and (v.unsigned, v.signed) == (2, 2)
