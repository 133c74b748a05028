"""The artifact store on object storage (moto's S3 server on 127.0.0.1) and on disk, in process.

Each backend writes whole objects, records sha256 and size, refuses changed bytes on every
load; models from S3 are cached by digest; bad locations and unreachable or refusing
servers give one line each.
"""

from __future__ import annotations

import hashlib
import io
import time

import joblib
import pytest
from sklearn.linear_model import LogisticRegression

from mlplat.errors import ArtifactIntegrityError, ConfigError, NotFound, StoreError
from mlplat.extras import MissingExtra
from mlplat.project import resolve_tracking
from mlplat.tracking import artifact_stores
from mlplat.tracking import artifacts as art
from tests.s3_kit import S3Server, free_port, use_in_process

LZ4_FRAME = b"\x04\x22\x4d\x18"


@pytest.fixture
def bucket(s3, monkeypatch, tmp_path):
    use_in_process(s3, monkeypatch)
    monkeypatch.setenv("MLPLAT_ARTIFACT_CACHE", str(tmp_path / "cache"))
    return s3.make_bucket("art")


def _model():
    return LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


def test_round_trip_digest_and_cache_on_s3(s3, bucket, tmp_path):
    root = f"s3://{bucket}/mlplat"
    run = art.run_location(root, "r1")
    assert run == f"s3://{bucket}/mlplat/r1"
    a = art.write_json(run, "metrics.json", {"auc": 0.9})
    m = art.write_pickle(run, "model.joblib", _model())
    assert a.path == f"{run}/metrics.json" and a.size == len(art.read_verified(a.path, a.sha256))
    body = s3.client().get_object(Bucket=bucket, Key="mlplat/r1/model.joblib")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == m.sha256 and len(body) == m.size  # digest over the stored bytes
    assert LZ4_FRAME in body[:200]  # compressed inside joblib's container
    assert art.load_pickle_verified(m.path, m.sha256).predict([[3.0]]).tolist() == [1]
    cached = tmp_path / "cache" / m.sha256
    assert cached.read_bytes() == body
    assert art.list_under(run) == [f"{run}/metrics.json", f"{run}/model.joblib"]

    # a changed object is refused; the cache (content-addressed) still holds the good bytes
    s3.client().put_object(Bucket=bucket, Key="mlplat/r1/model.joblib", Body=body[:-1] + b"x")
    with pytest.raises(ArtifactIntegrityError, match="was modified after it was written"):
        art.read_verified(m.path, m.sha256)
    assert art.load_pickle_verified(m.path, m.sha256).predict([[0.0]]).tolist() == [0]
    # a damaged cache entry is not trusted: fetched again, and the store's bad bytes are refused
    cached.write_bytes(b"junk")
    with pytest.raises(ArtifactIntegrityError):
        art.load_pickle_verified(m.path, m.sha256)

    assert art.delete(a.path) is True
    with pytest.raises(NotFound, match="is missing"):
        art.read_verified(a.path, a.sha256)


def test_uncompressed_models_written_before_still_load(tmp_path, bucket):
    buf = io.BytesIO()
    joblib.dump(_model(), buf)  # how models were stored before compression
    for root in (tmp_path / "artifacts", f"s3://{bucket}/old"):
        old = art.write_bytes(art.run_location(root, "r0"), "model.joblib", buf.getvalue())
        assert art.load_pickle_verified(old.path, old.sha256).predict([[3.0]]).tolist() == [1]


def test_local_backend_lists_and_deletes(tmp_path):
    run = art.run_location(tmp_path / "artifacts", "r1")
    a = art.write_bytes(run, "a.json", b"{}")
    assert art.list_under(run) == [a.path]
    assert art.delete(a.path) is True and art.delete(a.path) is False
    assert not (tmp_path / "artifacts" / "r1").exists()  # the emptied run folder goes too


def test_missing_bucket_is_one_line_before_anything_is_written(s3, bucket):
    root = f"s3://no-such-{bucket}/mlplat"
    with pytest.raises(StoreError, match=r"bucket 'no-such-.*' does not exist; create it") as exc:
        art.check_writable(root)
    assert "\n" not in str(exc.value)
    with pytest.raises(StoreError, match="does not exist"):
        art.write_bytes(root, "x.json", b"{}")


def test_unreachable_endpoint_is_one_line(monkeypatch, bucket):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    artifact_stores.reset()
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    t0 = time.monotonic()
    with pytest.raises(StoreError, match="the object store did not answer .*check AWS_ENDPOINT_URL") as exc:
        art.check_writable(f"s3://{bucket}/mlplat")
    assert "\n" not in str(exc.value), str(exc.value)
    assert time.monotonic() - t0 < 10  # 23 s with the providers' default retries


def test_refused_credentials_are_one_line(monkeypatch, tmp_path):
    strict = S3Server.start(auth=True)  # moto checks keys: the test keys are unknown to it
    try:
        use_in_process(strict, monkeypatch)
        with pytest.raises(StoreError, match="refused the credentials .*AWS_ACCESS_KEY_ID") as exc:
            art.write_bytes("s3://any-bucket/mlplat/r1", "x.json", b"{}")
        assert "\n" not in str(exc.value) and "testing" not in str(exc.value)
    finally:
        strict.stop()


@pytest.mark.parametrize("url, expected", [
    ("ftp://host/artifacts", r"unknown URL scheme 'ftp://': use a filesystem path or s3:// \(s3 extra\)"),
    ("s3://KEY:SECRET@bucket/x", r"carries credentials or options \(s3://<hidden>\)"),
    ("s3:///prefix", "names no bucket"),
])
def test_bad_artifact_urls_are_refused_at_config_time(url, expected):
    with pytest.raises(ConfigError, match=expected) as exc:
        resolve_tracking({"url": "sqlite:///x.db", "artifacts": url})
    assert "SECRET" not in str(exc.value)


def test_missing_extra_names_it(monkeypatch):
    from mlplat import extras

    monkeypatch.setattr(extras, "_installed", lambda module: module != "gcsfs")
    with pytest.raises(MissingExtra, match=r"needs the 'gcs' extra \(gcsfs is not installed\): pip install 'mlplat\[gcs\]'"):
        resolve_tracking({"url": "sqlite:///x.db", "artifacts": "gs://bucket/mlplat"})
    assert resolve_tracking({"url": "sqlite:///x.db", "artifacts": "s3://bucket/mlplat/"})["artifacts"] == \
        "s3://bucket/mlplat"


def test_writes_together_are_sent_at_the_block_end_whole_and_only_if_it_completes(s3, bucket, tmp_path):
    run = art.run_location(f"s3://{bucket}/mlplat", "r2")

    def keys():
        found = s3.client().list_objects_v2(Bucket=bucket, Prefix="mlplat/r2/").get("Contents", [])
        return sorted(o["Key"] for o in found)

    with art.together():
        written = [art.write_json(run, f"a{i}.json", {"i": i}) for i in range(7)]
        written.append(art.write_pickle(run, "model.joblib", _model()))
        local = art.write_bytes(tmp_path / "here", "now.txt", b"local")  # local writes are not held
        assert keys() == [] and (tmp_path / "here" / "now.txt").read_bytes() == b"local"
    assert keys() == sorted(f"mlplat/r2/{a.name}" for a in written)
    for a in written:  # each object whole, its recorded digest and size true
        body = s3.client().get_object(Bucket=bucket, Key=f"mlplat/r2/{a.name}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == a.sha256 and len(body) == a.size
    assert art.read_verified(local.path, local.sha256) == b"local"

    with pytest.raises(RuntimeError), art.together():
        art.write_json(art.run_location(f"s3://{bucket}/mlplat", "r3"), "x.json", {})
        raise RuntimeError("the run failed")
    assert not s3.client().list_objects_v2(Bucket=bucket, Prefix="mlplat/r3/").get("Contents")

    with pytest.raises(StoreError, match="does not exist") as exc, art.together():
        art.write_json(f"s3://no-such-{bucket}/mlplat/r4", "x.json", {})
        art.write_json(f"s3://no-such-{bucket}/mlplat/r4", "y.json", {})
    assert "\n" not in str(exc.value)
