#!/usr/bin/env python3
"""A local webhook receiver for the demo: verifies X-JTM-Signature with the shared secret,
drops resends by idempotency key, appends each accepted notice as one JSON line to a file.
Usage: webhook_receiver.py PORT SECRET_FILE OUT_FILE   (binds 127.0.0.1 only)"""
import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port, secret_file, out_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(secret_file, "rb") as f:
    secret = f.read().rstrip(b"\n")
seen = set()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(self.headers.get("X-JTM-Signature", ""), want):
            self.send_response(401)
            self.end_headers()
            return
        notice = json.loads(body)
        key = notice.get("idempotency_key")
        if key not in seen:
            seen.add(key)
            with open(out_file, "a") as f:
                f.write(json.dumps({"path": self.path, "signature_ok": True, "notice": notice}) + "\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


HTTPServer(("127.0.0.1", port), Handler).serve_forever()
