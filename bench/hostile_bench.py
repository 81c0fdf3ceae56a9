#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gymhelper under hostile load: exact-key cache hits (wrk, 16 connections) and /health from
other addresses, with the server's RSS, first alone, then while attackers on other loopback
addresses hold 1,000 slow-header connections (slowloris: a header line per second, reopened
when dropped) and 150 uploads that declare 9.5 MB, send 9 MB at full speed and never finish;
then while 4,000 slow-header connections come from one address (issue 10's slowhttptest case:
past MAX_CONNECTIONS_PER_CLIENT they are closed at accept and reopened at once); then 64
connections of cache hits for --soak seconds (60): errors and RSS growth.

usage: /usr/bin/python3 bench/hostile_bench.py [--build=build] [--duration=S] [--soak=S]
Loopback only; the attackers, wrk and the server share this machine's CPUs (named in the
header). Exits non-zero only when a run failed to run.
"""
import argparse
import multiprocessing
import os
import resource
import selectors
import socket
import sys
import tempfile
import threading
import time
import shutil

from benchlib import BenchError, cpu_model, section, source_commit, table, target

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_bench as HB  # noqa: E402  (its process, wrk and fake-provider helpers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLOW_CONNS, UPLOADS = 1000, 150
ONE_ADDRESS_CONNS, ONE_ADDRESS = 4000, "127.0.3.1"
UPLOAD_DECLARED, UPLOAD_SENT = 9_500_000, 9_000_000


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


class Attack:
    """The attackers, in a process of their own (Attacker): not a thread of this process, whose
    Python loop over 1,150 sockets would hold the interpreter lock the /health sampler needs,
    so that the sampler timed the lock instead of the server."""

    def __init__(self, port, one_address=False):
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self.counts = ctx.Array("q", 2)  # opened, dropped: written by the attacker at its end
        self.opened = self.dropped = 0
        self.process = ctx.Process(target=attacker_main,
                                   args=(port, self.stop, self.counts, one_address), daemon=True)

    def start(self):
        self.process.start()

    def finish(self):
        self.stop.set()
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            raise BenchError("the attacker process did not stop")
        self.opened, self.dropped = self.counts[0], self.counts[1]


def attacker_main(port, stop, counts, one_address):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < ONE_ADDRESS_CONNS + 1000 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ONE_ADDRESS_CONNS + 1000, hard))
    a = Attacker(port, stop, one_address)
    try:
        a.run()
    finally:
        counts[0], counts[1] = a.opened, a.dropped


class Attacker:
    """One selector drives every attacker socket: slowloris sockets from 127.0.1.x (30 per
    address) and uploads from 127.0.2.x (30 per address), or (one_address) 4,000 slowloris
    sockets from ONE_ADDRESS."""

    def __init__(self, port, stop, one_address=False):
        self.port = port
        self.stop = stop
        self.one_address = one_address
        self.opened = 0
        self.dropped = 0
        self.body = os.urandom(1 << 18)

    def connect(self, kind, i):
        src = (ONE_ADDRESS if self.one_address
               else "127.0.%d.%d" % (1 if kind == "slow" else 2, 1 + i // 30))
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((src, 0))
            s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            return None
        self.opened += 1
        return {"sock": s, "kind": kind, "i": i, "sent": 0, "next": time.monotonic(),
                "head": False}

    def run(self):
        sel = selectors.DefaultSelector()
        if self.one_address:
            conns = [self.connect("slow", i) for i in range(ONE_ADDRESS_CONNS)]
        else:
            conns = [self.connect("slow", i) for i in range(SLOW_CONNS)]
            conns += [self.connect("upload", i) for i in range(UPLOADS)]
        for c in conns:
            if c:
                sel.register(c["sock"], selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        while not self.stop.is_set():
            for key, ev in sel.select(timeout=0.05):
                c = key.data
                if ev & selectors.EVENT_READ:
                    try:
                        data = c["sock"].recv(65536)
                    except (BlockingIOError, InterruptedError):
                        data = None
                    except OSError:
                        data = b""
                    if data == b"":
                        self.reopen(sel, c)
                        continue
                if ev & selectors.EVENT_WRITE:
                    self.feed(sel, c)
            now = time.monotonic()
            for key in list(sel.get_map().values()):
                c = key.data
                if c["kind"] == "slow" and now >= c["next"] and c["head"]:
                    sel.modify(c["sock"], selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()

    def reopen(self, sel, c):
        self.dropped += 1
        sel.unregister(c["sock"])
        c["sock"].close()
        n = self.connect(c["kind"], c["i"])
        if n:
            sel.register(n["sock"], selectors.EVENT_READ | selectors.EVENT_WRITE, n)

    def feed(self, sel, c):
        s = c["sock"]
        try:
            if not c["head"]:
                if c["kind"] == "slow":
                    s.send(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                else:
                    s.send(b"POST /api/v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           b"image/jpeg\r\nContent-Length: %d\r\n\r\n" % UPLOAD_DECLARED)
                c["head"] = True
            elif c["kind"] == "slow":
                s.send(b"X-a: b\r\n")
            elif c["sent"] < UPLOAD_SENT:
                c["sent"] += s.send(self.body[:min(len(self.body), UPLOAD_SENT - c["sent"])])
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.reopen(sel, c)
            return
        if c["kind"] == "slow":
            c["next"] = time.monotonic() + 1.0
            sel.modify(s, selectors.EVENT_READ, c)
        elif c["sent"] >= UPLOAD_SENT:
            sel.modify(s, selectors.EVENT_READ, c)  # unfinished: nothing more, ever


class Sampler:
    """/health from 127.0.0.9 every 50 ms and the server's RSS and descriptors."""

    def __init__(self, port, pid):
        self.port, self.pid = port, pid
        self.lat, self.fail, self.rss, self.fds = [], 0, [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5,
                                             source_address=("127.0.0.9", 0))
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    data += d
                s.close()
                if data.startswith(b"HTTP/1.1 200"):
                    self.lat.append(time.monotonic() - t0)
                else:
                    self.fail += 1
            except OSError:
                self.fail += 1
            self.rss.append(rss_mb(self.pid))
            self.fds.append(open_fds(self.pid))
            self.stop.wait(0.05)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] * 1000 if xs else float("nan")


def run_hits(bench, base, body_path, duration, label, attack_port=None, conns=16,
             one_address=False):
    srv = bench.srv
    rss0 = rss_mb(srv.pid)
    attack = None
    if attack_port:
        attack = Attack(attack_port, one_address)
        attack.start()
        time.sleep(5)  # let the attackers reach their steady state
    sampler = Sampler(attack_port or int(base.rsplit(":", 1)[1]), srv.pid)
    sampler.thread.start()
    try:
        res = HB.run_wrk(bench.wrk, "exact.lua", base + "/api/v1/analyze", 2, conns, duration,
                         body_path, label, os.path.join(bench.tmp, "wrk-%s.log" % label),
                         srv.pid)
    finally:
        sampler.stop.set()
        sampler.thread.join()
        if attack:
            attack.finish()
    return [label, "%.0f" % res["rps"], "%.2f" % (res["p50_us"] / 1000.0),
            "%.2f" % (res["p99_us"] / 1000.0), "%d / %d" % (res["non2xx"], res["socket_errors"]),
            "%.1f / %.1f / %.1f" % (pct(sampler.lat, 50), pct(sampler.lat, 99),
                                    max(sampler.lat or [0]) * 1000),
            str(sampler.fail), "%.0f" % rss0, "%.0f" % max(sampler.rss or [0]),
            str(max(sampler.fds or [0])),
            "%d / %d" % (attack.opened, attack.dropped) if attack else "-"], sampler, res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--soak", type=int, default=60,
                    help="seconds of the 64-connection cache-hit run (0: skip it)")
    ap.add_argument("--photos", default=os.path.join(ROOT, "..", "shared", "data", "gym-photos"))
    args = ap.parse_args()
    args.build = os.path.abspath(args.build if os.path.isdir(args.build)
                                 else os.path.join(ROOT, args.build))
    args.threads16, args.conns16, args.perf = 2, 16, False
    tmp = tempfile.mkdtemp(prefix="gh-hostile-bench-")
    bench = HB.Bench(args, tmp)
    rows = []
    try:
        print("# gymhelper under hostile load")
        print()
        table(["item", "value"], [["CPU", cpu_model()], ["nproc", str(os.cpu_count())],
                                  ["source", source_commit()], ["build dir", args.build],
                                  ["server settings", "defaults, --log-level warn"]], align="ll")
        body_path, exact, _, _ = HB.make_bodies(bench.gh, args.photos, tmp)
        base = bench.start_gymhelper()
        for _ in range(2):  # a miss, then a memory hit
            st, body = HB.post_jpeg(base, exact)
            if st != 200:
                raise BenchError("priming answered %d: %s" % (st, body[:200]))
        port = int(base.rsplit(":", 1)[1])
        section("Cache hits and /health, alone and under attack")
        row, _, _ = run_hits(bench, base, body_path, args.duration, "no attack")
        rows.append(row)
        row, s, res = run_hits(bench, base, body_path, args.duration,
                               "1,000 slowloris + 150 unfinished 9.5 MB uploads", port)
        rows.append(row)
        row, s1, res1 = run_hits(bench, base, body_path, args.duration,
                                 "4,000 slowloris from one address", port, one_address=True)
        rows.append(row)
        table(["load", "hits req/s", "p50 ms", "p99 ms", "hits non-2xx / socket errors",
               "/health p50 / p99 / max ms", "/health failures", "RSS before MB",
               "RSS max MB", "server fds max", "attacker connections opened / dropped"],
              rows, align="lrrrrrrrrrr")
        print()
        print("wrk -t2 -c16 from 127.0.0.1 (exact-key memory hits of a ~100 KB JPEG); /health "
              "from 127.0.0.9 every 50 ms; attackers from 127.0.1.x and 127.0.2.x, 30 "
              "connections per address, or 4,000 from %s, on the same %d CPUs."
              % (ONE_ADDRESS, os.cpu_count()))
        for label, r in (("the 1,000 + 150", res), ("the 4,000 from one address", res1)):
            print("wrk's socket errors under %s: connect %d, read %d, write %d, timeout %d."
                  % (label, r["connect"], r["read"], r["write"], r["timeout"]))
        target(max(s.lat or [1]) < 0.1 and s.fail == 0,
               "/health within 100 ms throughout the attack (max %.1f ms, %d failures)"
               % (max(s.lat or [0]) * 1000, s.fail))
        target(max(s1.lat or [1]) < 0.1 and s1.fail == 0,
               "/health within 100 ms under 4,000 slowloris from one address (max %.1f ms, "
               "%d failures)" % (max(s1.lat or [0]) * 1000, s1.fail))
        if args.soak > 0:
            # Issue 10's soak target: 64 connections of cache hits, no attack, rate limits off;
            # wrk's 64 come from one address, so a server of their own allows 128 per address
            # (the default 32 would rightly refuse half of them).
            section("64 connections of cache hits for %d s" % args.soak)
            base = bench.start_gymhelper(["--max-connections-per-client", "128"])
            for _ in range(2):
                HB.post_jpeg(base, exact)
            row, s, _ = run_hits(bench, base, body_path, args.soak,
                                 "64 connections, %d s" % args.soak, conns=64)
            table(["load", "hits req/s", "p50 ms", "p99 ms", "non-2xx / socket errors",
                   "/health p50 / p99 / max ms", "/health failures", "RSS before MB",
                   "RSS max MB", "server fds max", "-"], [row], align="lrrrrrrrrrr")
            growth = float(row[8]) - float(row[7])
            target(row[4] == "0 / 0" and growth < 64,
                   "zero non-2xx answers and RSS growth under 64 MB (%s errors, %+.0f MB)"
                   % (row[4], growth))
    finally:
        bench.procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
