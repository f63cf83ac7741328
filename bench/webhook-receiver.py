#!/usr/bin/env python3
"""A webhook receiver for scripts/bench's consumers run, on 127.0.0.1 only: answers 204 to
every POST, counts them, and writes its port to PORT_FILE (and the count to COUNT_FILE on exit).

    webhook-receiver.py PORT_FILE COUNT_FILE
"""
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY_BYTES_MAX = 1 << 20
received = [0]


class Handler(BaseHTTPRequestHandler):
    # Keep-alive, as a real receiver would: a connection per delivery would measure Python.
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length", 0)), BODY_BYTES_MAX)
        self.rfile.read(length)
        received[0] += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_) -> None:
        pass


def main() -> None:
    port_file, count_file = sys.argv[1:3]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def stop(*_) -> None:
        open(count_file, "w").write(f"{received[0]}\n")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    open(port_file, "w").write(f"{server.server_address[1]}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
