#!/usr/bin/env python3
"""The chaos soak's driver (bench/chaos.sh starts PostgreSQL and builds, then runs this).

A synthetic region is produced at a steady rate (jtm-synth --rate) through three jtm-ingest and one
jtm-linker into PostgreSQL while, every few seconds, one daemon is SIGKILLed and restarted after
systemd's RestartSec; now and then PostgreSQL is restarted or the broker taken down and up. Then the
same region is loaded again without faults into a second database and both are compared row for row
(ops/compare-rows.sql). Prints the differences, the kills and the recovery time per kill: from the
restart to the first event that the restarted daemon's feed got into the warehouse (for jtm-ingest:
a pseudo message it wrote after its restart, applied by the linker; for jtm-linker: its first
applied batch), p50 and max.

Kill policy: kills are due on a schedule 2-5 s apart; at each the victim is the linker with
probability JTM_CHAOS_LINKER_SHARE (1/6), else one of the three ingests. A daemon is not killed
again before it recovered from its last kill (else that recovery is never measured): a busy ingest
is replaced by another ingest that is up. The linker is killed only while no ingest recovers, and no
ingest while the linker recovers: the linker's outage, and the backlog it then works through, would
be counted into the ingest's recovery (an ingest killed just after the linker took 24 s to get its
first event past the linker's backlog). When the victim must wait, so do the kills after it; they
follow at least 1 s apart once it is killed. Each linker kill thus stops the others for about 13 s,
hence its smaller share: 1/4 gave about 85 kills in 10 minutes instead of 100 or more. PostgreSQL restarts and broker outages happen with nothing recovering and pause
the kills until every feed flows again, after a broker outage for twice the session timeout more
(the consumers that lost the broker rejoin meanwhile); their recovery is reported on its own lines.

Settings come from the environment (see bench/chaos.sh). Exit status 0 when there were no
differences and no daemon died by itself, 1 otherwise.
"""
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

FEEDS = ["jgz", "verzuim", "soj"]
EVENTS_PER_CHILD = 6.9  # jtm-synth's defaults (3 years): 84,984 events for 12,371 children


def env(name, default):
    v = os.environ.get(name, "")
    return type(default)(v) if v else default


ROOT = os.environ["CHAOS_ROOT"]
BUILD = os.environ["CHAOS_BUILD"]
STATE = os.environ["CHAOS_STATE"]
CONNINFO = os.environ["CHAOS_CONNINFO"]  # database jtm: the chaos run
CLEAN_CONNINFO = os.environ["CHAOS_CLEAN_CONNINFO"]  # database jtm_clean: the clean run
PSQL = os.environ["CHAOS_PSQL"]
PGCTL = os.environ["CHAOS_PGCTL"].split()  # ops/pg.sh with this run's folder and port
SECONDS = env("JTM_CHAOS_SECONDS", 600)
RATE = env("JTM_CHAOS_RATE", 2500)
CLEAN_RATE = env("JTM_CHAOS_CLEAN_RATE", 5000)
SEED = env("JTM_CHAOS_SEED", int(time.time()) % 100000)
KILL_MIN, KILL_MAX = env("JTM_CHAOS_KILL_MIN", 2.0), env("JTM_CHAOS_KILL_MAX", 5.0)
RESTART_SEC = env("JTM_CHAOS_RESTART_SEC", 2.0)  # ops/systemd units: RestartSec=2s
INFRA_EVERY = env("JTM_CHAOS_INFRA_EVERY", 200.0)  # a PostgreSQL restart or broker outage this often
SESSION_MS = env("JTM_CHAOS_SESSION_MS", 6000)  # see bench/chaos.sh
WORKERS = env("JTM_CHAOS_WORKERS", 2)
BATCH_MAX = env("JTM_CHAOS_BATCH_MAX", 5000)
LINKER_SHARE = env("JTM_CHAOS_LINKER_SHARE", 1 / 6)
PARTITIONS = env("JTM_CHAOS_PARTITIONS", 32)
METRICS_BASE = env("JTM_CHAOS_METRICS_BASE", 9580)
CHILDREN = env("JTM_CHAOS_CHILDREN", 0) or max(100, int(RATE * SECONDS / EVENTS_PER_CHILD))

rnd = random.Random(SEED)
CHILDREN_PROCS = []  # processes (or dicts of them) that main() stops at the end
T0 = time.monotonic()


def say(msg):
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} [{time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# ---- the broker ----

class Broker:
    def __init__(self):
        self.ctl = f"{STATE}/ctl.sock"
        topics = []
        for prefix in ("", "clean."):
            for kind in ("raw", "pseudo", "dlq"):
                topics += [f"{prefix}{kind}.{f}" for f in FEEDS]
        boot_file = f"{STATE}/bootstrap"
        self.proc = subprocess.Popen(
            [f"{BUILD}/bin/jtm-devbroker", "--partitions", str(PARTITIONS), "--topics", ",".join(topics),
             "--bootstrap-file", boot_file, "--control-socket", self.ctl],
            stdout=open(f"{STATE}/devbroker.log", "ab"), stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(boot_file) and open(boot_file).read().strip():
                break
            time.sleep(0.1)
        self.boot = open(boot_file).read().strip()

    def cmd(self, line):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.ctl)
        s.sendall((line + "\n").encode())
        ans = b""
        while not ans.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            ans += chunk
        s.close()
        return ans.decode().strip()

    def ends(self, topic):
        """{partition: end offset} of topic, or None while the broker is down."""
        ans = self.cmd(f"stats {topic}")
        if not ans.startswith("ok") or "offsets=unavailable" in ans:
            return None
        out = {}
        for tok in ans.split():
            if tok.startswith("p") and ".." in tok:
                p, rng = tok[1:].split("=", 1)
                out[int(p)] = int(rng.split("..")[1])
        return out

    def pruned(self):
        ans = self.cmd("stats")
        for tok in ans.split():
            if tok.startswith("pruned="):
                return int(tok.split("=")[1])
        return -1


# ---- PostgreSQL ----

def sql(conninfo, query, **params):
    """Rows of query (psql variables :'name' from params, quoted by psql), or None on failure."""
    args = [PSQL, conninfo, "-qAtX", "-F", " "] + [f"-v{k}={v}" for k, v in params.items()]
    r = subprocess.run(args, input=query, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None
    return [line.split(" ") for line in r.stdout.splitlines() if line]


def applied(conninfo, group):
    """{(topic, partition): next offset} the linker group committed in the warehouse, or None."""
    rows = sql(conninfo, "SELECT topic, partition, next_offset FROM ops.kafka_offset WHERE consumer_group = :'g'",
               g=group)
    if rows is None:
        return None
    return {(t, int(p)): int(n) for t, p, n in rows}


def metric_sum(port, prefix):
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except Exception:
        return None
    vals = [float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(prefix)]
    return sum(vals) if vals else None


# ---- the daemons ----

class Pipeline:
    """Three jtm-ingest and a jtm-linker on <prefix>raw.* -> <prefix>pseudo.* -> database."""

    def __init__(self, name, prefix, conninfo, metrics):
        self.name, self.prefix, self.conninfo, self.metrics = name, prefix, conninfo, metrics
        self.group = f"{name}-linker"
        self.procs = {}
        self.runs = 0

    def conf(self, daemon):
        timeouts = f"kafka.session.timeout.ms = {SESSION_MS}\n" if SESSION_MS else ""
        if daemon == "linker":
            text = (f"kafka.bootstrap.servers = {BROKER.boot}\npg.conninfo = {self.conninfo}\n"
                    + "".join(f"topics.{f} = {self.prefix}pseudo.{f}\n" for f in FEEDS)
                    + f"group = {self.group}\nworkers = {WORKERS}\nstats.interval_ms = 5000\n"
                    # after an outage the first batch is the backlog, up to batch.max: 100,000
                    # (the default) take many seconds to commit on a loaded 2-core machine
                    f"batch.max = {BATCH_MAX}\n"
                    f"metrics.listen = {self.listen(daemon)}\n" + timeouts)
        else:
            text = (f"feed = {daemon}\nkey.file = {STATE}/region.key\nkey.id = kchaos\n"
                    f"kafka.bootstrap.servers = {BROKER.boot}\ntopic.raw = {self.prefix}raw.{daemon}\n"
                    f"topic.pseudo = {self.prefix}pseudo.{daemon}\ntopic.dlq = {self.prefix}dlq.{daemon}\n"
                    f"group.id = {self.name}-ingest-{daemon}\nstats.interval.ms = 1000\n"
                    f"metrics.listen = {self.listen(daemon)}\nkafka.compression.type = lz4\n" + timeouts)
        path = f"{STATE}/{self.name}-{daemon}.conf"
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(text)
        return path

    def listen(self, daemon):
        return f"127.0.0.1:{self.port(daemon)}"

    def port(self, daemon):
        return METRICS_BASE + self.metrics + (FEEDS.index(daemon) if daemon in FEEDS else 3)

    def start(self, daemon):
        self.runs += 1
        prog = "jtm-linker" if daemon == "linker" else "jtm-ingest"
        log = open(f"{STATE}/{self.name}-{daemon}.log", "ab")
        log.write(f"---- start {self.runs}\n".encode())
        log.flush()
        self.procs[daemon] = subprocess.Popen([f"{BUILD}/bin/{prog}", "-c", self.conf(daemon)], stdout=log,
                                              stderr=subprocess.STDOUT)

    def start_all(self):
        for d in FEEDS + ["linker"]:
            self.start(d)

    def kill(self, daemon):
        p = self.procs[daemon]
        p.send_signal(signal.SIGKILL)
        p.wait()

    def dead_by_itself(self):
        return [d for d, p in self.procs.items() if p.poll() is not None]

    def stop_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = {}
        for d, p in self.procs.items():
            try:
                codes[d] = p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                codes[d] = "timeout"
        return codes

    def pseudo_ends(self, feed):
        return BROKER.ends(f"{self.prefix}pseudo.{feed}")

    def caught_up(self):
        """Every raw message consumed (each ingest's lag 0, and as many pseudo and dead-letter
        messages as raw ones, or more after redeliveries) and every pseudo message applied.
        Returns the pseudo end offsets then, else None."""
        raw = out = 0
        ends_all = {}
        for f in FEEDS:
            lag = metric_sum(self.port(f), "jtm_ingest_consumer_lag{")
            r, q, d = (BROKER.ends(f"{self.prefix}{k}.{f}") for k in ("raw", "pseudo", "dlq"))
            if lag is None or lag > 0 or r is None or q is None or d is None:
                return None
            raw += sum(r.values())
            out += sum(q.values()) + sum(d.values())
            ends_all.update({(f"{self.prefix}pseudo.{f}", p): e for p, e in q.items()})
        if raw == 0 or out < raw:
            return None
        done = applied(self.conninfo, self.group)
        if done is None or any(done.get(k, 0) < e for k, e in ends_all.items() if e > 0):
            return None
        return ends_all

    def wait_caught_up(self, timeout):
        """Caught up twice in a row, 2 s apart, with nothing new in between."""
        until = time.monotonic() + timeout
        last = None
        while time.monotonic() < until:
            ends = self.caught_up()
            if ends is not None and ends == last:
                return True
            last = ends
            time.sleep(2)
        return False


def synth(prefix, rate, log):
    return subprocess.Popen(
        [f"{BUILD}/bin/jtm-synth", "--seed", str(SEED), "--children", str(CHILDREN), "--kafka", BROKER.boot,
         "-X", f"topic.prefix={prefix}", "-X", f"rate={rate}", "-X", "kafka.compression.type=lz4",
         "-X", f"tmp.dir={STATE}"],
        stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def synth_events(log):
    n = -1
    for line in open(log, errors="replace"):
        if "event=done events=" in line:
            n = int(line.split("event=done events=")[1].split()[0])
    return n


# ---- the chaos run ----

def marks_for(pipe, daemon):
    """What must be passed, per pseudo partition, for daemon's restart to show in the warehouse:
    for an ingest the end offsets of its pseudo topic now (it alone writes there, and it is down);
    for the linker the offsets it has applied (0 where it applied nothing yet). None while the
    broker or PostgreSQL does not answer."""
    if daemon == "linker":
        done = applied(pipe.conninfo, pipe.group)
        if done is None:
            return None
        return {(f"{pipe.prefix}pseudo.{f}", p): done.get((f"{pipe.prefix}pseudo.{f}", p), 0)
                for f in FEEDS for p in range(PARTITIONS)}
    ends = pipe.pseudo_ends(daemon)
    return None if ends is None else {(f"{pipe.prefix}pseudo.{daemon}", p): e for p, e in ends.items()}


def passed(done, marks):
    return any(done.get(k, 0) > v for k, v in marks.items())


def chaos(pipe):
    """Returns the kills (dicts: daemon, at, recovery seconds or None), the infrastructure faults
    (kind, seconds until every feed flowed again), the daemons that exited by themselves, and the
    number of events produced."""
    kills, infra, unexpected = [], [], []
    down = {}  # daemon -> its kill record, waiting for the restart
    pending = {}  # daemon -> (kill record, restarted at, marks), waiting for its first event
    synth_log = f"{STATE}/synth-chaos.log"
    sp = synth("", RATE, synth_log)
    CHILDREN_PROCS.append(sp)
    say(f"chaos: producing {CHILDREN} children at {RATE} events/s (about {SECONDS} s), seed {SEED}")
    next_kill = time.monotonic() + rnd.uniform(KILL_MIN, KILL_MAX)
    next_infra = time.monotonic() + INFRA_EVERY
    infra_kinds = ["pg_restart", "broker_outage"]
    victim = None
    produced_at = None
    while sp.poll() is None or down or pending:
        now = time.monotonic()
        if sp.poll() is not None:
            produced_at = produced_at or now
            if now > produced_at + 120:
                say(f"no new events after the last kill: not measured {sorted(pending)}")
                break
        for d in pipe.dead_by_itself():
            if d not in down:
                code = pipe.procs[d].returncode
                unexpected.append((d, code, now - T0))
                say(f"{d} exited by itself (status {code}): restarting it as systemd would")
                down[d] = {"daemon": d, "at": now - T0, "recovery": None, "kill": False}
                pending.pop(d, None)
        for d, rec in list(down.items()):
            if now >= T0 + rec["at"] + RESTART_SEC:
                # taken at the kill (nothing moves them while the daemon is down), else now
                marks = rec.get("marks") or marks_for(pipe, d)
                if marks is None:
                    say(f"restart of {d}: broker or PostgreSQL does not answer, trying again")
                    continue
                pipe.start(d)
                del down[d]
                pending[d] = (rec, time.monotonic(), marks)
        if pending:
            done = applied(pipe.conninfo, pipe.group)
            if done is not None:
                for d, (rec, restarted_at, marks) in list(pending.items()):
                    if passed(done, marks):
                        rec["recovery"] = time.monotonic() - restarted_at
                        del pending[d]
                        say(f"recovered {d:8s} {rec['recovery']:5.1f} s after its restart")
        infra_due = sp.poll() is None and now >= next_infra
        if infra_due and not pending and not down:
            kind = infra_kinds[len(infra) % 2]
            took = infra_fault(pipe, kind)
            infra.append((kind, took))
            # Consumers that lost the broker rejoin their groups after it; kills resume when the
            # groups have settled (a member killed mid-rejoin makes the mock take two rounds).
            settle = 2 * (SESSION_MS or 10000) / 1000 if kind == "broker_outage" else 0
            next_infra = time.monotonic() + INFRA_EVERY
            next_kill = time.monotonic() + settle + rnd.uniform(KILL_MIN, KILL_MAX)
            continue
        if sp.poll() is None and not infra_due and now >= next_kill:
            victim = victim or ("linker" if rnd.random() < LINKER_SHARE else rnd.choice(FEEDS))
            busy = set(down) | set(pending)
            if victim != "linker" and victim in busy:
                free = [f for f in FEEDS if f not in busy]
                victim = rnd.choice(free) if free else victim
            if victim not in busy and (not busy if victim == "linker" else "linker" not in busy):
                d, victim = victim, None
                pipe.kill(d)
                rec = {"daemon": d, "at": time.monotonic() - T0, "recovery": None, "kill": True,
                       "marks": marks_for(pipe, d)}
                kills.append(rec)
                down[d] = rec
                say(f"SIGKILL {d} (kill {len(kills)})")
                next_kill = max(next_kill + rnd.uniform(KILL_MIN, KILL_MAX), now + 1.0)
        time.sleep(0.25)
    if sp.returncode != 0:
        say(f"jtm-synth failed (status {sp.returncode}), see {synth_log}")
    return kills, infra, unexpected, synth_events(synth_log)


def infra_fault(pipe, kind):
    """PostgreSQL restarted, or every broker down and up; returns the seconds from the fault's end
    until every feed got an event into the warehouse again: after a PostgreSQL restart, a message
    the linker applied after it; after a broker outage, one an ingest wrote after it."""
    outage = rnd.uniform(2, 5)
    say(f"{kind}: {outage:.1f} s")
    if kind == "pg_restart":
        subprocess.run(PGCTL + ["stop"], capture_output=True)
        time.sleep(outage)
        subprocess.run(PGCTL + ["start"], capture_output=True, env=dict(os.environ, JTM_PGNOMIGRATE="1"))
    else:
        BROKER.cmd("down all")
        time.sleep(outage)
        BROKER.cmd("up all")
    t = time.monotonic()
    marks = None
    while marks is None and time.monotonic() < t + 60:
        if kind == "pg_restart":
            marks = marks_for(pipe, "linker")
        else:
            parts = [marks_for(pipe, f) for f in FEEDS]
            marks = None if None in parts else {k: v for m in parts for k, v in m.items()}
        if marks is None:
            time.sleep(0.25)
    waiting = set(FEEDS)
    while marks is not None and waiting and time.monotonic() < t + 300:
        done = applied(pipe.conninfo, pipe.group)
        if done is not None:
            for f in list(waiting):
                if passed(done, {k: v for k, v in marks.items() if k[0].endswith(f"pseudo.{f}")}):
                    waiting.discard(f)
        time.sleep(0.25)
    took = time.monotonic() - t
    say(f"{kind}: every feed flowing again {took:.1f} s after it ended" + (f" (not: {waiting})" if waiting else ""))
    return took if not waiting else float("inf")


# ---- the comparison ----

def rows(conninfo, out):
    with open(out, "w") as f:
        r = subprocess.run([PSQL, conninfo, "-qAtX", "-F", " ", "-f", f"{ROOT}/ops/compare-rows.sql"], stdout=f,
                           stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"compare-rows.sql failed: {r.stderr}")
    subprocess.run(["sort", "-o", out, out], check=True, env=dict(os.environ, LC_ALL="C"))


def compare():
    a, b = f"{STATE}/rows-chaos.txt", f"{STATE}/rows-clean.txt"
    rows(CONNINFO, a)
    rows(CLEAN_CONNINFO, b)
    r = subprocess.run(["comm", "-3", a, b], capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"),
                       check=True)
    per = {}
    for line in r.stdout.splitlines():
        side = "clean_only" if line.startswith("\t") else "chaos_only"
        tbl = line.strip().split(" ")[0]
        per.setdefault(tbl, {"chaos_only": 0, "clean_only": 0})[side] += 1
    counts = {}
    for path in (a, b):
        for line in open(path):
            counts.setdefault(line.split(" ")[0], [0, 0])[path == b] += 1
    return per, counts


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def main():
    # SIGTERM (and Ctrl-C) end the run through the finally below, which stops every child
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run()
    finally:
        for p in CHILDREN_PROCS:
            for proc in p.values() if isinstance(p, dict) else [p]:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


def run():
    global BROKER
    BROKER = Broker()
    CHILDREN_PROCS.append(BROKER.proc)
    say(f"broker {BROKER.boot}, {PARTITIONS} partitions; PostgreSQL {CONNINFO}")
    with open(os.open(f"{STATE}/region.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("chaos-soak-region-key-0123456789abcdef-0123456789\n")
    pipe = Pipeline("chaos", "", CONNINFO, 0)
    CHILDREN_PROCS.append(pipe.procs)
    pipe.start_all()
    t_chaos = time.monotonic()
    kills, infra, unexpected, events = chaos(pipe)
    say(f"chaos: production done ({events} events), {len(kills)} kills; waiting for the pipeline to catch up")
    caught = pipe.wait_caught_up(900)
    t_chaos = time.monotonic() - t_chaos
    codes = pipe.stop_all()
    say(f"chaos: {'caught up' if caught else 'did NOT catch up'}; stopped: {codes}")

    say(f"clean run: the same region (seed {SEED}) at {CLEAN_RATE} events/s into database jtm_clean, no faults")
    clean = Pipeline("clean", "clean.", CLEAN_CONNINFO, 10)
    CHILDREN_PROCS.append(clean.procs)
    clean.start_all()
    sp = synth("clean.", CLEAN_RATE, f"{STATE}/synth-clean.log")
    CHILDREN_PROCS.append(sp)
    sp.wait()
    clean_ok = clean.wait_caught_up(1800)
    clean.stop_all()
    clean_events = synth_events(f"{STATE}/synth-clean.log")
    say(f"clean run: {'caught up' if clean_ok else 'did NOT catch up'} ({clean_events} events)")

    per, counts = compare()
    differences = sum(v["chaos_only"] + v["clean_only"] for v in per.values())
    for tbl in sorted(counts):
        d = per.get(tbl, {"chaos_only": 0, "clean_only": 0})
        print(f"table {tbl}: rows chaos={counts[tbl][0]} clean={counts[tbl][1]} only_in_chaos={d['chaos_only']} "
              f"only_in_clean={d['clean_only']}")
    times = [k["recovery"] for k in kills if k["recovery"] is not None]
    with open(f"{STATE}/kills.tsv", "w") as f:
        f.write("daemon\tkilled_at_s\trecovery_s\n")
        for k in kills:
            f.write(f"{k['daemon']}\t{k['at']:.1f}\t{'' if k['recovery'] is None else round(k['recovery'], 2)}\n")
    for d in FEEDS + ["linker"]:
        ts = [k["recovery"] for k in kills if k["daemon"] == d and k["recovery"] is not None]
        n = sum(1 for k in kills if k["daemon"] == d)
        if n:
            print(f"recovery {d}: kills={n} measured={len(ts)} p50_s={pct(ts, 0.5):.1f} "
                  f"max_s={max(ts) if ts else float('nan'):.1f}")
    for kind, took in infra:
        print(f"infra {kind}: every feed flowing again after {took:.1f} s")
    pruned = BROKER.pruned()
    print(f"seed={SEED} seconds={t_chaos:.0f} rate={RATE} children={CHILDREN} events={events} "
          f"clean_events={clean_events} session_timeout_ms={SESSION_MS or 'default'} workers={WORKERS} "
          f"broker_pruned={pruned} unexpected_exits={len(unexpected)}")
    print(f"kills={len(kills)} recovered={len(times)} pg_restarts={sum(1 for k, _ in infra if k == 'pg_restart')} "
          f"broker_outages={sum(1 for k, _ in infra if k == 'broker_outage')}")
    print(f"recovery_p50_s={pct(times, 0.5):.1f} recovery_max_s={max(times) if times else float('nan'):.1f}")
    print(f"chaos_differences={differences}")
    BROKER.proc.send_signal(signal.SIGTERM)
    BROKER.proc.wait()
    ok = differences == 0 and caught and clean_ok and not unexpected and len(times) == len(kills)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
