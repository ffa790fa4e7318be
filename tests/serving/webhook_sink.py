"""A loopback webhook receiver for forwarding tests: records deliveries, can fail, go down and come back."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipeline.serve import free_port


class WebhookSink:
    """POSTs to http://127.0.0.1:<port>/ are recorded; `fail_next` answers 503, `down()` refuses connections."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.deliveries: list[tuple[str, dict]] = []  # (idempotency key, body), as received
        self.refused = 0  # requests answered with a failure
        self.fail_next = 0
        self.fail_status = 503
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> WebhookSink:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with sink._lock:
                    failing = sink.fail_next > 0
                    if failing:
                        sink.fail_next -= 1
                        sink.refused += 1
                    else:
                        sink.deliveries.append(
                            (self.headers.get("idempotency-key", ""), json.loads(body))
                        )
                self.send_response(sink.fail_status if failing else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ what arrived

    def alert_ids(self) -> list[str]:
        """Every forwarded alert id, once per delivery received (copies with the same key too)."""
        with self._lock:
            return [a["alert_id"] for _, body in self.deliveries for a in body["alerts"]]

    def unique_deliveries(self) -> dict[str, dict]:
        """Deliveries by idempotency key: what a receiver that drops copies would keep."""
        with self._lock:
            return dict(self.deliveries)

    def processed_alert_ids(self) -> list[str]:
        return [a["alert_id"] for body in self.unique_deliveries().values() for a in body["alerts"]]

    def pages(self) -> list[tuple[str, str]]:
        """(incident_id, tier) of each page a receiver that drops copies by key keeps, in arrival order."""
        return [(body["incident_id"], body["tier"]) for body in self.unique_deliveries().values()]
