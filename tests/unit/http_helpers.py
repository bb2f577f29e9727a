"""A local HTTP file server for download tests: 127.0.0.1 only, Range support, request log.

from http_helpers import FileServer

srv = FileServer()
url = srv.serve("/tiny.hdf5", payload)
...
srv.close()
"""

from __future__ import annotations

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def direct_opener() -> urllib.request.OpenerDirector:
    """An opener without proxies: a proxy from the environment must never see (or reroute)
    requests to the test server."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


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
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def serve(self, path: str, body: bytes) -> str:
        """Serve ``body`` at ``path``; returns its URL."""
        self.files[path] = body
        return self.base + path

    @property
    def ranges(self) -> list[str | None]:
        """The Range header of each request, in order (None where there was none)."""
        return [rng for _, rng in self.requests]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
