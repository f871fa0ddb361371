#!/usr/bin/env python3
"""A local webhook receiver for jtm-alert, for the demo and for trying a configuration by hand.

    ops/alert-receiver.py --port 8099 --secret-file demo.secret [--log notices.ndjson]
                          [--seen-file seen.txt] [--tolerance 300]

Listens on 127.0.0.1 and verifies each notice as the Standard Webhooks specification asks:
  - webhook-signature holds "v1,<base64 HMAC-SHA256(secret, id '.' timestamp '.' raw body)>"
    (a secret file holding "whsec_<base64>" is decoded first, as the specification's libraries do);
    compared in constant time, before the body is parsed;
  - webhook-timestamp is within --tolerance seconds of the receiver's clock (a replayed old notice
    is refused even with its valid signature);
  - webhook-id has not been accepted before (kept in --seen-file, so a restart forgets nothing);
    a repeated id is answered 200 (the sender may retry after a lost answer) and not acted on.
Prints one line per notice and appends accepted notices to --log as NDJSON.
Answers 401 on a missing or bad signature or a timestamp outside the tolerance, 400 on a body that
is not JSON. See docs/alerts.md.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def load_key(path):
    with open(path, "rb") as f:
        raw = f.read().rstrip(b"\r\n")
    if raw.startswith(b"whsec_"):
        return base64.b64decode(raw[6:], validate=True)
    return raw


def signature(key, msg_id, ts, body):
    mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class SeenIds:
    """Accepted webhook-ids with the time they were signed, appended to a file and reloaded on start.
    Ids older than twice the tolerance are forgotten: their timestamps are refused anyway."""

    def __init__(self, path, tolerance):
        self.path, self.keep, self.ids, self.lock = path, 2 * tolerance, {}, threading.Lock()
        if path and os.path.exists(path):
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and parts[1].isdigit():
                        self.ids[parts[0]] = int(parts[1])
            self._compact()

    def _compact(self):
        cutoff = time.time() - self.keep
        self.ids = {k: t for k, t in self.ids.items() if t >= cutoff}
        if self.path:
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                f.writelines(f"{k} {t}\n" for k, t in self.ids.items())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)

    def add_if_new(self, msg_id, ts):
        """True when msg_id is new (and is now recorded, durably, before the notice is acted on)."""
        with self.lock:
            if msg_id in self.ids:
                return False
            self.ids[msg_id] = ts
            if self.path:
                with open(self.path, "a") as f:
                    f.write(f"{msg_id} {ts}\n")
                    f.flush()
                    os.fsync(f.fileno())
            return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--log", help="append accepted notices to this NDJSON file")
    ap.add_argument("--seen-file", help="accepted webhook-ids, kept across restarts (default: --log + .seen)")
    ap.add_argument("--tolerance", type=int, default=300, help="seconds a webhook-timestamp may differ (300)")
    args = ap.parse_args()
    key = load_key(args.secret_file)
    seen = SeenIds(args.seen_file or (args.log + ".seen" if args.log else None), args.tolerance)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):  # quiet: one line per notice below
            pass

        def answer(self, code):
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def refuse(self, why):
            print(f"{self.path}: {why}, refused", flush=True)
            return self.answer(401)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            msg_id = self.headers.get("webhook-id", "")
            ts = self.headers.get("webhook-timestamp", "")
            sigs = self.headers.get("webhook-signature", "")
            if not msg_id or not ts.isdigit() or not sigs:
                return self.refuse("webhook-id, webhook-timestamp or webhook-signature missing")
            want = signature(key, msg_id, ts, body)
            # The header may carry several space-separated signatures (key rotation).
            if not any(hmac.compare_digest(s, want) for s in sigs.split()):
                return self.refuse("signature does not verify")
            if abs(time.time() - int(ts)) > args.tolerance:
                return self.refuse(f"timestamp {ts} outside the {args.tolerance} s tolerance (replay?)")
            try:
                notice = json.loads(body)
            except ValueError:
                return self.answer(400)
            if not seen.add_if_new(msg_id, int(ts)):
                print(f"{self.path}: duplicate {msg_id} dropped", flush=True)
                return self.answer(200)
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
