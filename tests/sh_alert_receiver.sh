#!/usr/bin/env bash
# ops/alert-receiver.py refuses replayed notices (Standard Webhooks): a captured notice posted again
# with its valid signature under a new id, under its old id, or with its old (stale) timestamp is not
# acted on, also after the receiver restarts. Also pins the receiver's signature to the
# specification's example. Run by ctest with the build folder as $1 and the source folder as $2.
set -euo pipefail
src=${2:-$(cd "$(dirname "$0")/.." && pwd)}
exec python3 - "$src/ops/alert-receiver.py" <<'PY'
import base64, importlib.util, json, os, socket, subprocess, sys, tempfile, time, urllib.request, urllib.error

spec = importlib.util.spec_from_file_location("rx", sys.argv[1])
rx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rx)
# The specification's example vector.
k = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
assert rx.signature(k, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}') == \
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "signature differs from the Standard Webhooks example"

d = tempfile.mkdtemp()
key = os.urandom(32)
sec = os.path.join(d, "secret")
with open(sec, "w") as f:
    f.write("whsec_" + base64.b64encode(key).decode() + "\n")
os.chmod(sec, 0o600)
log = os.path.join(d, "notices.ndjson")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def start():
    port = free_port()
    p = subprocess.Popen([sys.executable, sys.argv[1], "--port", str(port), "--secret-file", sec, "--log", log],
                         stdout=subprocess.PIPE, text=True)
    assert "alert receiver on" in p.stdout.readline()
    return p, port

def post(port, msg_id, ts, sig, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/hook", data=body, method="POST",
                                 headers={"webhook-id": msg_id, "webhook-timestamp": str(ts),
                                          "webhook-signature": sig, "Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code

def accepted():
    return sum(1 for _ in open(log)) if os.path.exists(log) else 0

body = json.dumps({"municipality": "GM0505", "category": "45", "status": "firing", "week": "2026-11-30",
                   "observed": 152, "upper_bound": 87.43, "method": "C2", "summary": "test"}).encode()
p, port = start()
try:
    now = int(time.time())
    sig = rx.signature(key, "a" * 32, str(now), body)
    assert post(port, "a" * 32, now, sig, body) == 200 and accepted() == 1, "a valid notice was not accepted"
    assert post(port, "a" * 32, now, sig, body) == 200 and accepted() == 1, "the same id was acted on twice"
    assert post(port, "b" * 32, now, sig, body) == 401, "the captured signature verified under a new id"
    assert post(port, "a" * 32, now, "v1," + base64.b64encode(b"x" * 32).decode(), body) == 401, "a bad signature"
    old = now - 3600
    assert post(port, "c" * 32, old, rx.signature(key, "c" * 32, str(old), body), body) == 401, \
        "a notice signed an hour ago was accepted"
    assert post(port, "d" * 32, now, "", body) == 401, "a notice without signature"
    assert accepted() == 1
finally:
    p.terminate(); p.wait()
# After a restart the receiver still knows the id it accepted.
p, port = start()
try:
    assert post(port, "a" * 32, now, sig, body) == 200 and accepted() == 1, "replay accepted after a restart"
    now2 = int(time.time())
    assert post(port, "e" * 32, now2, rx.signature(key, "e" * 32, str(now2), body), body) == 200 and accepted() == 2
finally:
    p.terminate(); p.wait()
print("alert-receiver: replays refused (new id, old id, stale timestamp, after restart)")
PY
