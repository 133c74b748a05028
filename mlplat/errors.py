"""mlplat's error tree.

One root, one base per domain, docstring-only leaves (the httpx habit). Every message a
user can cause says what is wrong, the value got, what was expected and how to fix it, in
one line: front doors print ``str(exc)`` and exit non-zero, a traceback only on request.
Foreign errors (SQLAlchemy, XGBoost, slack_sdk, OmegaConf) are translated where they
enter, with ``raise ... from exc`` so ``--verbose`` still shows the cause.
"""

from __future__ import annotations


class MlplatError(Exception):
    """Root of every error a user of mlplat can cause or meet."""


class ConfigError(MlplatError):
    """A config file or override is wrong (unknown key, wrong type, unknown option)."""


class NothingToRun(ConfigError):
    """A command that has nothing left to do (a sweep whose Optuna study is complete): said in one
    line, nothing recorded, and not a failure (exit 0)."""


class DataError(MlplatError):
    """A dataset cannot be loaded or does not fit its declared schema."""


class DataSourceError(DataError):
    """The dataset's file, table or loader cannot be read."""


class DataFileMissing(DataSourceError):
    """The dataset's file (CSV, Parquet, SQLite) is not where its config says."""


class SchemaViolation(DataError):
    """Loaded data breaks the schema declared in conf/dataset."""


class TargetError(DataError):
    """The target column is missing or unusable for the declared task."""


class OverrideRefused(ConfigError):
    """An override from an untrusted front door (chat) is not on the allow-list."""


class StoreError(MlplatError):
    """The run store cannot be reached, migrated or queried."""


class NoStore(StoreError):
    """A read found no store at the configured location (reads never create one)."""


class NotFound(StoreError):
    """A run, sweep, model, version or request id does not exist."""


class ArtifactIntegrityError(StoreError):
    """An artifact's bytes no longer match the sha256 recorded when it was written."""


class RegistryError(MlplatError):
    """A registry operation is not allowed in the current state."""


class PermissionDenied(RegistryError):
    """The actor lacks the role this operation needs, or is the requester."""


class ServingError(MlplatError):
    """A prediction request or batch input does not fit the model's signature."""


class MonitoringError(MlplatError):
    """A monitoring check could not run."""


class BotError(MlplatError):
    """Chat text was refused or a Slack setting is missing."""


def one_line(exc: BaseException) -> str:
    """The user-facing line for an exception (our own messages are already one line)."""
    if isinstance(exc, MlplatError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


__all__ = [
    "one_line",
    "ArtifactIntegrityError",
    "BotError",
    "ConfigError",
    "DataError",
    "DataSourceError",
    "DataFileMissing",
    "MlplatError",
    "MonitoringError",
    "NoStore",
    "NotFound",
    "OverrideRefused",
    "PermissionDenied",
    "RegistryError",
    "SchemaViolation",
    "ServingError",
    "StoreError",
    "TargetError",
]

