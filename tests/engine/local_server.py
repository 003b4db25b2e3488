"""A threaded HTTP server on 127.0.0.1 (a free port) that the stand-ins for ad platforms run on."""
from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class LocalServer:
    """Call `serve(handler_class)` in __init__; `with` starts and stops it."""

    def serve(self, handler) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, at every test's end
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
