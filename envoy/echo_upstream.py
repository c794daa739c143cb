#!/usr/bin/env python3
"""Demo and test upstream: answers any method and path with 200 and a JSON echo of the request.

    python3 envoy/echo_upstream.py PORT

Body: {"method": ..., "path": ..., "headers": {lower-case name: value}}. Repeated headers are
joined with ", ". PORT 0 picks a free port; the port is printed on stderr either way.
Standard library only.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Envoy's upstream connections expect

    def _echo(self):
        self._drain_body()  # so the keep-alive connection stays in sync
        headers = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        body = json.dumps({"method": self.command, "path": self.path, "headers": headers}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _drain_body(self):
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                self.rfile.read(size + 2)  # chunk data and its CRLF
                if size == 0:
                    break  # the 2 bytes read were the final CRLF (no trailers expected)
            return
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)

    def __getattr__(self, name):
        # BaseHTTPRequestHandler dispatches to do_<METHOD>: answer every method, even unknown ones.
        if name.startswith("do_"):
            return self._echo
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        sys.stderr.write("echo_upstream: " + (fmt % args) + "\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: echo_upstream.py PORT")
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo)
    server.daemon_threads = True
    print(f"echo_upstream: listening on 127.0.0.1:{server.server_port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
