"""moto's standalone S3 server on 127.0.0.1, as the tests' object store.

``S3Server.start()`` runs ``moto.server`` in a subprocess on a free port (no network
beyond loopback; nothing to install beyond the test extra), so CLI subprocesses, the
service and in-process code all talk to the same real HTTP S3 API. ``env()`` is what a
user sets: the standard AWS variables, with AWS_ENDPOINT_URL pointing at the stand-in.
The session fixture ``s3`` in tests/conftest.py starts one for the whole run; other
tests (the prediction log) can reuse it with their own bucket from ``make_bucket``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3Server:
    port: int
    proc: subprocess.Popen | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, *, auth: bool = False, timeout: float = 30.0) -> S3Server:
        """A running server; ``auth``: moto checks credentials (every key is then refused)."""
        server = cls(free_port())
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        if auth:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        server.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(server.port)],
                                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(f"moto.server exited {server.proc.returncode} before answering")
            try:
                httpx.get(server.endpoint + "/moto-api/", timeout=1.0)
                return server
            except httpx.HTTPError:
                time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"moto.server did not answer on {server.endpoint} within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def env(self) -> dict[str, str]:
        """The standard AWS variables a user sets for this endpoint (fake keys: moto accepts any)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1", **self.extra_env}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def make_bucket(self, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name


def use_in_process(server: S3Server, monkeypatch) -> None:
    """Point this process's fsspec/s3fs at ``server`` (fresh filesystem instances, its env)."""
    import s3fs

    from mlplat.tracking import artifact_stores

    for k, v in server.env().items():
        monkeypatch.setenv(k, v)
    s3fs.S3FileSystem.clear_instance_cache()
    artifact_stores.reset()
