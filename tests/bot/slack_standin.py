"""A local HTTP server on 127.0.0.1 standing in for Slack's Web API, and signed-request helpers.

Records every call (method and parameters); answers like Slack for the methods the bot
uses; the upload URL it hands out points back at itself; ``rate_limit(method, n)`` makes
the next ``n`` calls of a method answer 429 with Retry-After. Used by tests/bot and by
benchmarks/bot.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_sdk.signature import SignatureVerifier


class SlackStandIn:
    def __init__(self, groups: dict[str, list[str]] | None = None, retry_after: int = 1):
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.uploads: list[bytes] = []
        self.groups = dict(groups or {})
        self.retry_after = retry_after
        self._fail: dict[str, int] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/upload/"):
                    standin._record("upload", {"path": self.path, "size": len(body)})
                    standin.uploads.append(body)
                    self._send(200, b"OK", "text/plain")
                    return
                method = self.path.rsplit("/", 1)[-1]
                params = standin._params(self.headers.get("Content-Type", ""), body, self.path)
                status, payload, headers = standin._answer(method, params, self.server.server_port)
                self._send(status, json.dumps(payload).encode(), "application/json", headers)

            do_GET = do_POST  # noqa: N815

            def _send(self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def rate_limit(self, method: str, times: int = 1) -> None:
        with self._lock:
            self._fail[method] = times

    def _record(self, method: str, params: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append((method, params))

    @staticmethod
    def _params(ctype: str, body: bytes, path: str) -> dict[str, Any]:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        if "json" in ctype and body:
            # form bodies carry blocks/view as JSON text: give JSON bodies the same shape
            return {**query, **{k: v if isinstance(v, str) else json.dumps(v) for k, v in json.loads(body).items()}}
        if body:
            return {**query, **dict(urllib.parse.parse_qsl(body.decode()))}
        return query

    def _answer(self, method: str, params: dict[str, Any], port: int) -> tuple[int, dict, dict]:
        with self._lock:
            if self._fail.get(method, 0) > 0:
                self._fail[method] -= 1
                self.calls.append((method, {**params, "_answered": 429}))
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(self.retry_after)}
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            params["_ts"] = ts  # the ts Slack gave the new message, for tests to follow threads
            self.calls.append((method, params))
        if method == "auth.test":
            return 200, {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "user": "mlplat",
                         "url": "https://example.slack.com/"}, {}
        if method == "chat.postMessage":
            return 200, {"ok": True, "channel": params.get("channel"), "ts": ts}, {}
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": ts}, {}
        if method == "chat.update":
            return 200, {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}, {}
        if method == "files.getUploadURLExternal":
            fid = f"F{next(self._ts):06d}"
            return 200, {"ok": True, "upload_url": f"http://127.0.0.1:{port}/upload/{fid}", "file_id": fid}, {}
        if method == "files.completeUploadExternal":
            files = json.loads(params.get("files") or "[]")
            return 200, {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}, {}
        if method == "files.info":
            return 200, {"ok": True, "file": {"id": params.get("file"), "name": "file"}}, {}
        if method == "usergroups.users.list":
            return 200, {"ok": True, "users": self.groups.get(params.get("usergroup", ""), [])}, {}
        return 200, {"ok": True}, {}

    # -- reading what the bot did ----------------------------------------------------------
    def of(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [p for m, p in self.calls if m == method and p.get("_answered") != 429]

    def texts(self, method: str = "chat.postMessage") -> list[str]:
        return [str(p.get("text", "")) + " " + str(p.get("blocks", "")) for p in self.of(method)]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.uploads.clear()


def signed(secret: str, body: str, *, timestamp: int | None = None, content_type: str,
           retry_num: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
               "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)}
    if retry_num is not None:
        headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
    return headers


def post(url: str, body: str, headers: dict[str, str], timeout: float = 10) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


_trigger = itertools.count(1)


def command_body(user: str, text: str, *, channel: str = "CGEN", trigger_id: str | None = None) -> str:
    return urllib.parse.urlencode({
        "token": "legacy", "team_id": "T1", "team_domain": "example", "channel_id": channel, "channel_name": "ml",
        "user_id": user, "user_name": user.lower(), "command": "/mlplat", "text": text,
        "api_app_id": "A1", "response_url": "http://127.0.0.1:9/unused",
        "trigger_id": trigger_id or f"trig.{time.time_ns()}.{next(_trigger)}",
    })


def action_body(user: str, action_id: str, value: str, *, channel: str, message_ts: str) -> str:
    payload = {
        "type": "block_actions", "team": {"id": "T1"}, "user": {"id": user}, "api_app_id": "A1",
        "token": "legacy", "trigger_id": f"trig.{time.time_ns()}.{next(_trigger)}",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "channel": {"id": channel}, "message": {"ts": message_ts, "text": ""},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value,
                     "action_ts": str(time.time())}],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def event_body(event: dict[str, Any], event_id: str) -> str:
    return json.dumps({"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": event_id, "event_time": int(time.time()), "event": event})
