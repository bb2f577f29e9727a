"""Local HTTP servers for tests: 127.0.0.1 only, served from a background thread.

from http_helpers import FileServer

srv = FileServer()
url = srv.serve("/tiny.hdf5", payload)
...
srv.close()

``FileServer`` (files, Range support, request log) serves the download tests; a test with a
handler of its own starts it with ``serve_in_background``. The ``file_server`` and
``opener`` fixtures (conftest.py) wrap ``FileServer`` and ``direct_opener``.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def direct_opener() -> urllib.request.OpenerDirector:
    """An opener without proxies: a proxy from the environment must never see (or reroute)
    requests to the test server."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def serve_in_background(httpd: ThreadingHTTPServer) -> Callable[[], None]:
    """Serve ``httpd`` from a daemon thread; returns the function that stops it and closes
    its socket (safe to call twice)."""
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

    return stop


class FileServer:
    """Serves ``files[path]``; ``requests`` logs (path, Range header) of every GET.

    A ``Range: bytes=N-`` request gets 206 with the rest of the file (416 when N is past the
    end), unless ``honor_range`` is False: then the whole file comes back with 200, as from a
    server that ignores ranges. An unknown path gets 404.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.honor_range = True
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if rng and server.honor_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._stop = serve_in_background(self.httpd)

    def serve(self, path: str, body: bytes) -> str:
        """Serve ``body`` at ``path``; returns its URL."""
        self.files[path] = body
        return self.base + path

    @property
    def ranges(self) -> list[str | None]:
        """The Range header of each request, in order (None where there was none)."""
        return [rng for _, rng in self.requests]

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> FileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
