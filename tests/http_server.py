"""Real HTTP servers on 127.0.0.1 for tests (standard library, a thread each, port 0): never the internet.

`FileServer` serves files from memory like a static web server (HEAD, GET, byte ranges with
Accept-Ranges and Content-Range, ETag and Last-Modified, If-Match), and fails on request: each
entry of `faults` is used up by one request, in order:

- "503": answers 503 Service Unavailable with an empty body;
- "reset": closes the connection without answering (the client sees it dropped);
- "cut": answers normally but closes the connection halfway through the body.

`ranges = False` makes it ignore Range headers (200 with the whole body, no Accept-Ranges), as
some servers do. `requests` records (method, path, Range header) of every request.

`FailingProxy` forwards every request to another server (moto's S3) and answers 503 instead for
the first requests that match a rule, for testing botocore's retries against a real endpoint.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

LAST_MODIFIED = "Wed, 02 Dec 2026 01:02:03 GMT"


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers: urllib3 reuses connections

    def log_message(self, *args) -> None:  # one stderr line per request otherwise
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):  # the client dropped a connection it would not reuse
            pass


class FileServer:
    """Files served from memory at http://127.0.0.1:PORT/NAME; see the module docstring."""

    def __init__(self):
        self.files: dict[str, bytes] = {}  # path ("/text8.zip") -> bytes
        self.faults: list[str] = []  # "503" | "reset" | "cut", one per coming request
        self.ranges = True  # serve byte ranges
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.lock = threading.Lock()
        server = self

        class Handler(_Quiet):
            def do_HEAD(self):
                server.answer(self, body=False)

            def do_GET(self):
                server.answer(self, body=True)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @staticmethod
    def etag(data: bytes) -> str:
        return '"' + hashlib.sha1(data).hexdigest()[:16] + '"'

    def answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        with self.lock:
            self.requests.append((h.command, h.path, h.headers.get("Range")))
            fault = self.faults.pop(0) if self.faults else None
        if fault == "reset":
            h.close_connection = True
            return
        if fault == "503":
            h.send_response(503)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = self.files.get(h.path)
        if data is None:
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        etag = self.etag(data)
        if h.headers.get("If-Match") not in (None, "*", etag):
            h.send_response(412)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        start, end, status = 0, len(data), 200
        asked = h.headers.get("Range")
        if self.ranges and asked and asked.startswith("bytes="):
            first, _, last = asked[len("bytes="):].partition("-")
            start = int(first) if first else max(0, len(data) - int(last))
            end = min(len(data), int(last) + 1) if first and last else len(data)
            if start >= len(data):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            status = 206
        h.send_response(status)
        h.send_header("Content-Length", str(end - start))
        h.send_header("ETag", etag)
        h.send_header("Last-Modified", LAST_MODIFIED)
        if self.ranges:
            h.send_header("Accept-Ranges", "bytes")
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        h.end_headers()
        if not body:
            return
        part = data[start:end]
        try:
            if fault == "cut":
                h.wfile.write(part[: len(part) // 2])
                h.wfile.flush()
                h.close_connection = True
                return
            h.wfile.write(part)
        except (BrokenPipeError, ConnectionResetError):  # the client closed early (it sought elsewhere)
            h.close_connection = True

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FailingProxy:
    """Forwards requests to `target` (http://host:port); answers 503 to the first `count` requests `rule` accepts."""

    def __init__(self, target: str):
        host, port = target.removeprefix("http://").split(":")
        self.rules: list[list] = []  # [rule(method, path) -> bool, 503s left]
        self.seen: list[tuple[str, str, int]] = []  # (method, path, status answered) of every request
        self.lock = threading.Lock()
        proxy = self

        class Handler(_Quiet):
            def handle_one(self):
                length = self.headers.get("Content-Length")
                if length is not None:
                    body = self.rfile.read(int(length))
                elif self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self._dechunk()
                else:
                    body = b""
                status = proxy.fault(self.command, self.path)
                if status:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                hop = ("transfer-encoding", "connection")  # this hop's own: the body is forwarded whole
                headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
                headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                self.send_response(response.status)
                for k, v in response.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()
                with proxy.lock:
                    proxy.seen.append((self.command, self.path, response.status))

            def _dechunk(self) -> bytes:
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_one

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def fail(self, rule: Callable[[str, str], bool], count: int) -> None:
        """Answer 503 to the next `count` requests for which `rule(method, path)` is true."""
        with self.lock:
            self.rules.append([rule, count])

    def fault(self, method: str, path: str) -> int:
        with self.lock:
            for rule in self.rules:
                if rule[1] > 0 and rule[0](method, path):
                    rule[1] -= 1
                    self.seen.append((method, path, 503))
                    return 503
        return 0

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
