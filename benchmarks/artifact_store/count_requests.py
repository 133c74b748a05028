"""Where a sweep trial's artifact time goes: S3 requests per trial and the time in each backend's put.

Runs ``--trials`` trials of the benchmark's sweep (synthetic random forest, one thread,
``evaluation=fast``) in this process through ``mlplat.api.train``, once with local artifacts
and once on moto's S3 server on 127.0.0.1, and prints per trial: the requests s3fs sent (by
S3 operation, with their time), the trial's wall and CPU time (all threads) and the calls and time of ``LocalBackend.put`` /
``ObjectBackend.put`` / ``put_many`` (where each artifact's bytes are written; a run's artifacts go
through ``put_many`` at once, LocalBackend's writing them one by one). The first trial of
each side also pays the once-per-process costs (s3fs's import and client, the bucket check).

Run: .venv/bin/python benchmarks/artifact_store/count_requests.py [--trials 3]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

import s3fs

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from mlplat import api  # noqa: E402 - this checkout's mlplat
from mlplat.tracking import artifact_cache, artifact_stores  # noqa: E402
from tests.s3_kit import S3Server  # noqa: E402

requests: collections.Counter = collections.Counter()
request_s: collections.Counter = collections.Counter()
puts: collections.Counter = collections.Counter()
put_s: collections.Counter = collections.Counter()


def count_requests(original):
    async def wrapped(self, method, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return await original(self, method, *args, **kwargs)
        finally:
            requests[method] += 1
            request_s[method] += time.perf_counter() - t0
    return wrapped


def count_puts(cls, label: str):
    original = cls.put
    original_many = cls.put_many

    def put(self, location, data):
        t0 = time.perf_counter()
        try:
            return original(self, location, data)
        finally:
            puts[label] += 1
            put_s[label] += time.perf_counter() - t0

    def put_many(self, objects):  # a run's artifacts (artifacts.together): one call, its objects counted
        t0 = time.perf_counter()
        try:
            return original_many(self, objects)
        finally:
            puts[label] += len(objects)
            put_s[label] += time.perf_counter() - t0
    cls.put, cls.put_many = put, put_many


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    args = ap.parse_args()
    s3fs.S3FileSystem._call_s3 = count_requests(s3fs.S3FileSystem._call_s3)
    count_puts(artifact_stores.LocalBackend, "local put")
    count_puts(artifact_stores.ObjectBackend, "S3 put")
    print(f"load average {os.getloadavg()[0]:.2f} at start")
    server = S3Server.start()
    try:
        os.environ.update(server.env())
        bucket = server.make_bucket("count")
        with tempfile.TemporaryDirectory(prefix="mlplat_artcount_") as tmp:
            os.chdir(tmp)
            os.environ[artifact_cache.ENV] = f"{tmp}/cache"
            for side, root in (("local", f"{tmp}/artifacts"), ("s3", f"s3://{bucket}/count")):
                for i in range(args.trials):
                    requests.clear(), request_s.clear(), puts.clear(), put_s.clear()
                    t0, cpu0 = time.perf_counter(), time.process_time()
                    api.train(["dataset=synthetic", "model=random_forest", "evaluation=fast", "runtime.threads=1",
                               f"tracking.url=sqlite:///{tmp}/{side}.db", f"tracking.artifacts={root}",
                               f"model.params.n_estimators={60 + i}"])
                    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                    reqs = ", ".join(f"{k} x{n} {request_s[k] * 1000:.0f} ms" for k, n in sorted(requests.items()))
                    put = ", ".join(f"{k} x{n} {put_s[k] * 1000:.0f} ms" for k, n in puts.items())
                    print(f"{side:5} trial {i + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU (all threads); {put}; S3 requests: {reqs or 'none'}; "
                          f"load {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
