"""Where artifact bytes live: a local directory, or an object store reached through fsspec.

Both backends take and return *locations* (a filesystem path, or an ``s3://``/``gs://``/
``az://`` URL), which are what the ``artifacts`` table records, so a reader picks the
backend from the recorded location alone and never needs the writer's config.

- Local: a temp file in the same directory, fsync, ``os.replace`` (``mlplat.files``): a
  reader never sees half a file and a crash never leaves a recorded, empty artifact.
- Object store: each object is written whole with one request (s3fs ``pipe_file`` is one
  PUT below 100 MB and a multipart upload, which S3 also publishes only on completion,
  above): there is no rename on object stores, and a PUT is already all-or-nothing.

Credentials come from the provider's own chain (AWS_* variables, ``~/.aws``, instance
roles; the endpoint from AWS_ENDPOINT_URL or fsspec's FSSPEC_S3_* config), never from the
URL: :func:`mlplat.project.check_artifact_url` refuses a URL carrying them, so none is stored.
Provider errors are translated here into one line each (bucket missing, credentials
refused, endpoint unreachable).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from mlplat.errors import MlplatError, NotFound, StoreError
from mlplat.extras import require
from mlplat.files import write_atomic
from mlplat.project import artifact_scheme, check_artifact_url


class Backend(Protocol):
    def put(self, location: str, data: bytes) -> None: ...
    def put_many(self, objects: dict[str, bytes]) -> None: ...
    def get(self, location: str) -> bytes: ...
    def delete(self, location: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def check_writable(self, root: str) -> None: ...


def join(root: str | Path, *parts: str) -> str:
    """``root``/parts as a location: URL joining for object stores, ``Path`` for directories."""
    root = str(root)
    if artifact_scheme(root):
        return "/".join([root.rstrip("/"), *parts])
    return str(Path(root, *parts))


class LocalBackend:
    def put(self, location: str, data: bytes) -> None:
        write_atomic(location, data, fsync=True)

    def put_many(self, objects: dict[str, bytes]) -> None:
        for location, data in objects.items():
            self.put(location, data)

    def get(self, location: str) -> bytes:
        p = Path(location)
        if not p.is_file():
            raise NotFound(f"artifact {location!r} is missing (pruned or moved); re-run the experiment to recreate it")
        return p.read_bytes()

    def delete(self, location: str) -> bool:
        p = Path(location)
        try:
            p.unlink()
        except FileNotFoundError:
            return False
        with contextlib.suppress(OSError):
            p.parent.rmdir()  # only when empty: files mlplat did not record are left alone
        return True

    def list(self, prefix: str) -> list[str]:
        root = Path(prefix)
        return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []

    def check_writable(self, root: str) -> None:
        return None  # the directory is created by the first write, which names any OSError


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _bucket(location: str) -> str:
    return location.split("://", 1)[1].split("/", 1)[0]


# botocore retries a refused connection with back-off (23 s measured through s3fs
# against a closed port); a run waits for a down endpoint ~2 s instead, then says so
_DEFAULT_OPTIONS = {
    "s3": {"config_kwargs": {"connect_timeout": 5, "retries": {"max_attempts": 2}}},
    "s3a": {"config_kwargs": {"connect_timeout": 5, "retries": {"max_attempts": 2}}},
}


class ObjectBackend:
    """An fsspec filesystem for one URL scheme (s3fs, gcsfs, adlfs)."""

    def __init__(self, scheme: str):
        self.scheme = scheme
        import fsspec  # comes with the extra; only a store on object storage loads it

        options = dict(_DEFAULT_OPTIONS.get(scheme, {}))
        options.update(fsspec.config.conf.get(scheme, {}))  # the user's fsspec config wins
        self.fs = fsspec.filesystem(scheme, **options)

    @contextlib.contextmanager
    def _translated(self, location: str, doing: str) -> Iterator[None]:
        try:
            yield
        except MlplatError:
            raise
        except FileNotFoundError as exc:
            if doing == "read":
                raise NotFound(f"artifact {location!r} is missing (pruned, moved or its bucket deleted); "
                               "re-run the experiment to recreate it") from exc
            raise StoreError(f"cannot {doing} {location}: bucket {_bucket(location)!r} does not exist; "
                             "create it or fix tracking.artifacts") from exc
        except PermissionError as exc:
            raise StoreError(f"cannot {doing} {location}: the object store refused the credentials "
                             f"({_first_line(exc)}); check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                             "AWS_PROFILE (or your provider's credential chain)") from exc
        except Exception as exc:  # noqa: BLE001 - connection errors come from botocore/aiohttp/google/azure
            raise StoreError(f"cannot {doing} {location}: the object store did not answer ({_first_line(exc)}); "
                             "check AWS_ENDPOINT_URL (or your provider's endpoint) and that it is reachable") from exc

    def put(self, location: str, data: bytes) -> None:
        with self._translated(location, "write"):
            self.fs.pipe_file(location, data)

    def put_many(self, objects: dict[str, bytes]) -> None:
        """Each object one whole PUT, sent concurrently (fsspec's ``pipe``): a run's seven artifacts
        cost about one round trip instead of seven (benchmarks/artifact_store)."""
        if not objects:
            return
        where = os.path.commonpath([loc.split("://", 1)[1] for loc in objects])
        with self._translated(f"{self.scheme}://{where}", "write"):
            self.fs.pipe(dict(objects))

    def get(self, location: str) -> bytes:
        with self._translated(location, "read"):
            return self.fs.cat_file(location)

    def delete(self, location: str) -> bool:
        with self._translated(location, "delete"):
            try:
                self.fs.rm_file(location)
            except FileNotFoundError:
                return False
            # s3 deletes of an absent key succeed: the store's records already told us it existed
            return True

    def list(self, prefix: str) -> list[str]:
        with self._translated(prefix, "list"):
            try:
                found = self.fs.find(prefix)
            except FileNotFoundError:
                return []
        return sorted(f"{self.scheme}://{p}" for p in found)

    def check_writable(self, root: str) -> None:
        """One request before a run starts: the bucket exists and the credentials are accepted."""
        with self._translated(root, "write"):
            # ls, not exists(): exists() turns a refusal or a timeout into False
            self.fs.ls(_bucket(root), refresh=True)


_LOCAL = LocalBackend()
_OBJECT: dict[str, ObjectBackend] = {}
_CHECKED: set[str] = set()


def backend(location: str | Path) -> Backend:
    """The backend that reads and writes ``location`` (checked: scheme known, extra installed)."""
    scheme = artifact_scheme(str(location))
    if scheme is None:
        return _LOCAL
    found = _OBJECT.get(scheme)
    if found is None:
        extra = check_artifact_url(str(location), "artifact location")
        require(extra, f"artifact location {str(location)!r}")
        found = _OBJECT[scheme] = ObjectBackend(scheme)
    return found


def check_writable(root: str | Path) -> None:
    """Fail before anything is recorded when the artifact root cannot take writes (once per process)."""
    key = str(root)
    if key in _CHECKED:
        return
    backend(key).check_writable(key)
    _CHECKED.add(key)


def reset() -> None:
    """Forget filesystem instances and checks (tests that restart the object store; a fork)."""
    _OBJECT.clear()
    _CHECKED.clear()


os.register_at_fork(after_in_child=reset)  # fsspec's async clients do not survive a fork
