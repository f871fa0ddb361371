#!/usr/bin/env python3
"""A local webhook receiver for jtm-alert, for the demo and for trying a configuration by hand.

    ops/alert-receiver.py --port 8099 --secret-file demo.secret [--log notices.ndjson]

Listens on 127.0.0.1, verifies X-JTM-Signature (HMAC-SHA256 of the raw body with the secret),
drops a notice whose X-JTM-Idempotency-Key it has already accepted (answering 200, as a receiver
should), prints one line per notice and appends accepted notices to --log as NDJSON.
Answers 401 on a bad signature, 400 on a body that is not JSON. See docs/alerts.md.
"""
import argparse
import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--log", help="append accepted notices to this NDJSON file")
    args = ap.parse_args()
    with open(args.secret_file, "rb") as f:
        secret = f.read().rstrip(b"\r\n")
    seen = set()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):  # quiet: one line per notice below
            pass

        def answer(self, code):
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(self.headers.get("X-JTM-Signature", ""), want):
                print(f"{self.path}: signature does not verify, refused", flush=True)
                return self.answer(401)
            try:
                notice = json.loads(body)
            except ValueError:
                return self.answer(400)
            key = self.headers.get("X-JTM-Idempotency-Key", "")
            if key in seen:
                print(f"{self.path}: duplicate {key} dropped", flush=True)
                return self.answer(200)
            seen.add(key)
            print(f"{self.path}: {notice['status'].upper()} {notice['municipality']} category {notice['category']} "
                  f"week {notice['week']}: {notice['observed']} waiting, bound {notice['upper_bound']} "
                  f"({notice['method']}) - {notice['summary']}", flush=True)
            if args.log:
                with open(args.log, "a") as f:
                    f.write(json.dumps(notice) + "\n")
            self.answer(200)

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"alert receiver on http://127.0.0.1:{args.port}/", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
