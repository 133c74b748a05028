from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "registry"))

from kit import fresh_store, train_churn  # noqa: E402


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    return train_churn(tmp_path_factory.getbasetemp() / "churn_runs")


@pytest.fixture
def store(tmp_path, trained):
    return fresh_store(tmp_path, trained)[0]


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 (a real HTTP endpoint speaking the S3 API), with dummy credentials.

    Yields (endpoint URL, environment for subprocesses); the process is stopped at the end.
    """
    import os
    import subprocess
    import time

    import httpx
    from kit import free_port

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": endpoint}
    try:
        deadline = time.time() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.1)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        yield endpoint, env
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh bucket on the moto server: (s3://<bucket>, endpoint)."""
    import uuid

    import s3fs

    endpoint, _ = s3_server
    name = f"mlplat-{uuid.uuid4().hex[:10]}"
    s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True).mkdir(name)
    return f"s3://{name}", endpoint
