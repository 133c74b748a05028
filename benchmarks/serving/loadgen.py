"""Load generator (its own process): `loadgen.py URL RECORDS_JSON ROWS CONCURRENCY RATE SECONDS [PATH KEY]`.

PATH and KEY (default /v1/models/churn/predict and records) name the endpoint and the body's
key for the rows: MLflow's scoring server takes /invocations with dataframe_records.

RATE 0: closed loop (each of CONCURRENCY threads sends the next request when the last
returns). RATE > 0: open loop at RATE req/s spread over the threads, latency measured from
the scheduled send time so a stalled server cannot hide its queueing (coordinated omission).
Prints one JSON object: n, errors, rps, p50, p95, p99 (ms).
"""

from __future__ import annotations

import json
import sys
import threading
import time

import httpx
import numpy as np


def main() -> None:
    url, path, rows, conc, rate, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
        float(sys.argv[5]), float(sys.argv[6])
    endpoint, key = (sys.argv[7], sys.argv[8]) if len(sys.argv) > 8 else ("/v1/models/churn/predict", "records")
    body = json.dumps({key: json.loads(open(path).read())[:rows]}).encode()
    target = f"{url}{endpoint}"
    lat: list[float] = []
    last_done = [0.0]
    errors = [0]
    lock = threading.Lock()
    start = time.perf_counter() + 0.5
    end = start + seconds

    def worker(i: int) -> None:
        with httpx.Client(timeout=10, headers={"content-type": "application/json"}) as c:
            c.post(target, content=body)  # warm the connection
            k = 0
            while True:
                if rate > 0:
                    scheduled = start + (k * conc + i) / rate
                    k += 1
                    if scheduled >= end:
                        return
                    delay = scheduled - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                else:
                    scheduled = time.perf_counter()
                    if scheduled < start:
                        time.sleep(start - scheduled)
                        scheduled = time.perf_counter()
                    if scheduled >= end:
                        return
                try:
                    ok = c.post(target, content=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                done = time.perf_counter()
                with lock:
                    lat.append((done - scheduled) * 1000)
                    last_done[0] = max(last_done[0], done)
                    errors[0] += not ok

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a = np.asarray(lat)
    print(json.dumps({"n": len(a), "errors": errors[0], "rps": len(a) / max(last_done[0] - start, 1e-9),  # achieved, not offered
                      "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
                      "p99": float(np.percentile(a, 99))}))


if __name__ == "__main__":
    main()
