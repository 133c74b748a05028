"""Credentials masked before anything is written or printed.

One rule for every writer (the runs table, the audit trail, artifacts, Hydra's own files,
log lines, listings): a URL keeps its scheme, user, host and path but loses its password
(``postgresql+psycopg://postgres:***@host/db``) and the values of secret-looking query
parameters (``?token=***``); a mapping's value under a secret-looking key (``password``,
``signing_secret``, ``bot_token``) becomes ``***``; and the value of any environment
variable whose name looks secret (``*_PASSWORD``, ``*_TOKEN``, ``MLPLAT_AUDIT_KEY``, ...)
is replaced wherever it appears, which covers a secret resolved into a config through
``${oc.env:...}``. Masking is idempotent, so a value masked twice stays the same.

Standard library only (``urllib.parse``): every command may call it, and SQLAlchemy's
``make_url`` would cost the read commands its import; URLs here are split by hand at the
last ``@`` of the authority, as SQLAlchemy does, so a password holding ``@`` or ``:`` is
masked whole.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

# key names (in a config, a query string or an environment variable) whose value is a secret
_SECRET_NAME = re.compile(
    r"(?:^|[_\-.])(password|passwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|"
    r"secret[_\-]?key|audit[_\-]?key|credentials?)$", re.IGNORECASE)
# query parameters that also carry secrets in signed URLs (S3 presigned, SAS, JWT in a link)
_SECRET_QUERY = re.compile(r"(?:^|[_\-.])(sig|signature|x-amz-signature|x-amz-credential|auth|"
                           r"access_token|jwt|key|apikey)$", re.IGNORECASE)
# a URL inside free text (an override, a command line, an error message, a YAML file)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")
# the same in Hydra's escaped form (its launcher logs and override_dirname write `\://u\:pw@`)
_ESCAPED_USERINFO = re.compile(r"(\\://[^\s/@\\:'\"]*\\:)([^\s'\"]+)(@)")
_MIN_ENV_SECRET = 6  # shorter values ("1", "true") would mask unrelated text


def is_secret_name(name: str) -> bool:
    """True for key names that hold secrets: ``password``, ``slack_bot_token``, ``api-key``."""
    return bool(_SECRET_NAME.search(str(name)))


def _secret_query(name: str) -> bool:
    return is_secret_name(name) or bool(_SECRET_QUERY.search(name))


def url(value: str) -> str:
    """``value`` (one URL) with its password and secret query values masked."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if colon and password and password != MASK:
            netloc = f"{user}:{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_query(k) and v != MASK for k, v in pairs):
            query = urlencode([(k, MASK if _secret_query(k) else v) for k, v in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        return value
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _env_secrets() -> list[str]:
    found = [v for k, v in os.environ.items() if is_secret_name(k) and len(v) >= _MIN_ENV_SECRET]
    return sorted(set(found), key=len, reverse=True)  # longest first: a secret containing another


def text(value: str) -> str:
    """Free text with every URL in it masked and every secret environment value replaced."""
    return _text(value, _env_secrets())


def _text(value: str, secrets: list[str]) -> str:
    if not isinstance(value, str) or not value:
        return value
    masked = _URL.sub(lambda m: url(m.group(0)), value) if "://" in value else value
    if "\\://" in masked:
        masked = _ESCAPED_USERINFO.sub(lambda m: m.group(1) + (m.group(2) if m.group(2) == MASK else MASK)
                                       + m.group(3), masked)
    for secret in secrets:
        if secret in masked:
            masked = masked.replace(secret, MASK)
    return masked


def value(obj: Any) -> Any:
    """A copy of a config, payload or listing (dicts, lists, strings) with every secret masked."""
    # the environment's secrets are listed once per call, not once per string: a run's
    # config holds ~280 strings, and listing them each time was 0.4 s of a 10-job sweep (profiled)
    return _value(obj, _env_secrets())


def _value(obj: Any, secrets: list[str]) -> Any:
    if isinstance(obj, dict):
        return {k: (MASK if is_secret_name(k) and isinstance(v, str) and v else _value(v, secrets))
                for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_value(v, secrets) for v in obj)
    if isinstance(obj, str):
        return _text(obj, secrets)
    return obj


def override(item: str) -> str:
    """One ``key=value`` override: a secret-looking key's value masked, URLs in it masked."""
    key, eq, val = item.partition("=")
    if eq and is_secret_name(key.lstrip("+~").strip()) and val:
        return f"{key}={MASK}"
    return text(item)
