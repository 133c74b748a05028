"""Steps of the two-node Ray test that must run inside its network namespace.

moto's S3 server listens on 127.0.0.1 of the namespace, so creating the bucket, killing a
trial's worker once its run shows `running`, and reading every artifact back all happen in
processes started there (`python ray_cluster_steps.py STEP`). Each step is a fresh process
with the driver's environment (AWS_* pointing at the stand-in, the store's socket URL) and
writes what it saw as JSON for the test to assert on; the store itself the test reads from
the host over TCP.

    bucket              wait for the S3 stand-in, create $BUCKET
    kill MARK OUT       SIGKILL the worker of the first running run whose overrides contain
                        MARK; write {run_id, pid} to OUT
    verify OUT          read every artifact of every done run through mlplat's artifact store
                        (sha256 checked), load each model and predict; write the findings to OUT
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import boto3
import httpx
import sqlalchemy as sa
from sklearn.datasets import load_breast_cancer

from mlplat.tracking import artifacts as art

WAIT_S = 120.0


def _s3():
    return boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def bucket() -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(os.environ["AWS_ENDPOINT_URL"] + "/moto-api/", timeout=1.0)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                sys.exit("the S3 stand-in did not answer within 30 s")
            time.sleep(0.1)
    _s3().create_bucket(Bucket=os.environ["BUCKET"])


def kill(mark: str, out: str) -> None:
    engine = sa.create_engine(os.environ["STORE"])
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT id, pid FROM runs WHERE status = 'running' AND overrides LIKE :m"),
                               {"m": f"%{mark}%"}).first()
        if row is not None:
            os.kill(row.pid, signal.SIGKILL)
            with open(out, "w") as f:
                json.dump({"run_id": row.id, "pid": row.pid}, f)
            return
        time.sleep(0.2)
    sys.exit(f"no running run with {mark!r} in its overrides within {WAIT_S} s")


def verify(out: str) -> None:
    engine = sa.create_engine(os.environ["STORE"])
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT a.run_id, a.name, a.path, a.sha256 FROM artifacts a JOIN runs r "
                                    "ON r.id = a.run_id WHERE r.status = 'done' ORDER BY a.run_id, a.name")).all()
    X = load_breast_cancer(as_frame=True).frame.drop(columns="target").head(20)
    read, predicted = [], {}
    for r in rows:
        data = art.read_verified(r.path, r.sha256)  # raises unless the bytes match the recorded sha256
        read.append({"run_id": r.run_id, "name": r.name, "path": r.path, "size": len(data)})
        if r.name == "model.joblib":
            model = art.load_pickle_verified(r.path, r.sha256)
            predicted[r.run_id] = len(model.predict(X))
    listed = _s3().list_objects_v2(Bucket=os.environ["BUCKET"]).get("Contents", [])
    with open(out, "w") as f:
        json.dump({"read": read, "predicted": predicted, "keys": sorted(o["Key"] for o in listed)}, f)


if __name__ == "__main__":
    step, *args = sys.argv[1:]
    {"bucket": bucket, "kill": kill, "verify": verify}[step](*args)
