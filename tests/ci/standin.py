"""A local HTTP server on 127.0.0.1 standing in for GitHub's and GitLab's comment APIs.

GitHub: GET/POST /repos/{owner}/{repo}/issues/{n}/comments, PATCH /repos/{owner}/{repo}/issues/comments/{id}.
GitLab: GET/POST /projects/{id}/merge_requests/{iid}/notes, PUT .../notes/{note id}.
Every request is recorded (method, path, query, headers, JSON body); ``fail_next`` makes the
next N requests answer a given status (a 5xx to exercise retries, 401 for a bad token).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

GH_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
GH_ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
GL_LIST = re.compile(r"^/projects/([^/]+)/merge_requests/(\d+)/notes$")
GL_ONE = re.compile(r"^/projects/([^/]+)/merge_requests/(\d+)/notes/(\d+)$")


class StandIn:
    def __init__(self, token: str):
        self.token = token
        self.requests: list[dict] = []
        self.comments: dict[tuple[str, int], list[dict]] = {}  # (project, pr) -> comments
        self.fail: list[int] = []
        self.next_id = 100
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                with standin.lock:
                    standin.requests.append({"method": self.command, "path": url.path, "query": parse_qs(url.query),
                                             "headers": dict(self.headers), "json": body})
                    if standin.fail:
                        self._send(standin.fail.pop(0), {"message": "injected failure"})
                        return
                    status, out = standin.route(self.command, url.path, dict(self.headers), body)
                self._send(status, out)

            do_GET = do_POST = do_PATCH = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def authorised(self, headers: dict) -> bool:
        return headers.get("Authorization") == f"Bearer {self.token}" or headers.get("PRIVATE-TOKEN") == self.token

    def route(self, method: str, path: str, headers: dict, body):
        if not self.authorised(headers):
            return 401, {"message": "Bad credentials"}
        for pattern in (GH_LIST, GL_LIST):
            m = pattern.match(path)
            if m:
                key = (m.group(1), int(m.group(2)))
                if key[1] != 7:  # the only pull request that exists
                    return 404, {"message": "Not Found"}
                items = self.comments.setdefault(key, [])
                if method == "GET":
                    return 200, items
                if method == "POST":
                    self.next_id += 1
                    item = {"id": self.next_id, "body": body["body"], "html_url": f"http://pr/{self.next_id}"}
                    items.append(item)
                    return 201, item
        m = GH_ONE.match(path) or GL_ONE.match(path)
        if m and method in ("PATCH", "PUT"):
            cid = int(m.groups()[-1])
            for items in self.comments.values():
                for item in items:
                    if item["id"] == cid:
                        item["body"] = body["body"]
                        return 200, item
            return 404, {"message": "Not Found"}
        return 404, {"message": f"no route {method} {path}"}

    def all_comments(self) -> list[dict]:
        return [c for items in self.comments.values() for c in items]

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
