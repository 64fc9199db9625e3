#!/usr/bin/env python3
"""The local executor against the test executor, through nginx, in one run.

For each executor (build/omni-executor, and tests/fakes/inngest_executor.py
as the reference), a pool of its own behind nginx, then, alternated
ROUNDS times:

  runs/s        N three-step runs started by one batch of events, timed
                until every one has completed
  event->call   the time from POSTing an event to its function's first
                step running in Omni (test-serial with ms=0 reports when
                its step started), one event at a time, K times

Prints the medians and the local executor's ratio to the reference: a
ratio, not a timed test.  Only 127.0.0.1; everything is stopped by PID.

    python3 bench/bench_executor.py [--runs 100] [--latency 20] [--rounds 3]
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402
import test_executor as tx  # noqa: E402
import test_inngest as ti  # noqa: E402


class Local:
    name = "omni-executor"

    def __init__(self):
        port = harness.free_port()
        self.stack = harness.Stack(port=port, env={
            "INNGEST_SERVE_ORIGIN": "http://127.0.0.1:%d" % port,
            "INNGEST_DEV": "0", "INNGEST_SIGNING_KEY": tx.KEY,
            "INNGEST_EVENT_KEY": tx.EVENT_KEY, "LOG_LEVEL": "warn"})
        self.ex = tx.RealExecutor(self.stack.run_dir, "http://127.0.0.1:%d"
                                  "/api/inngest" % port).start()
        for var in ("INNGEST_API_ORIGIN", "INNGEST_EVENT_API_ORIGIN"):
            self.stack.env[var] = self.ex.origin
        self.stack.start()
        harness.wait_until(self.ex.synced, 30, what="sync")

    def send(self, events):
        return self.ex.send(events)

    def statuses(self, ids):
        return {r["event_id"]: r["status"] for r in self.ex.runs()
                if r["event_id"] in ids}

    def output(self, event_id):
        run = self.ex.wait(self.ex.run_for(event_id))
        return run["output"]

    def stop(self):
        self.ex.stop()
        self.stack.stop()


class Reference:
    name = "test executor (Python)"

    def __init__(self):
        port = harness.free_port()
        self.stack = harness.Stack(port=port, env={
            "INNGEST_SERVE_ORIGIN": "http://127.0.0.1:%d" % port,
            "INNGEST_DEV": "0", "INNGEST_SIGNING_KEY": ti.KEY,
            "INNGEST_EVENT_KEY": ti.EVENT_KEY, "LOG_LEVEL": "warn"})
        self.ex = ti.Executor(self.stack.log_dir)
        self.stack.env["INNGEST_BASE_URL"] = self.ex.origin
        self.stack.start()
        r = self.stack.request("PUT", "/api/inngest")
        if r.status != 200:
            raise RuntimeError("sync failed: %s" % r.text)

    def send(self, events):
        return self.ex.post("/e/" + ti.EVENT_KEY, events)["ids"]

    def statuses(self, ids):
        return {r["event_id"]: r["status"]
                for r in self.ex.get("/test/runs")["runs"]
                if r.get("event_id") in ids}

    def output(self, event_id):
        def run_id():
            hits = [r["run_id"] for r in self.ex.get("/test/runs")["runs"]
                    if r.get("event_id") == event_id]
            return hits[0] if hits else None
        return self.ex.wait(harness.wait_until(run_id, 10))["output"]

    def stop(self):
        self.ex.stop()
        self.stack.stop()


def runs_per_second(ex, n):
    t0 = time.perf_counter()
    ids = set(ex.send([{"name": "omni/test.three-steps", "data": {"i": i}}
                       for i in range(n)]))

    def done():
        st = ex.statuses(ids)
        return len(st) == n and all(s != "running" for s in st.values())
    harness.wait_until(done, 300, interval=0.02, what="%d runs" % n)
    return n / (time.perf_counter() - t0)


def event_to_first_call_ms(ex, k):
    out = []
    for _ in range(k):
        t0 = time.time() * 1000
        eid = ex.send({"name": "omni/test.serial", "data": {"ms": 0}})[0]
        out.append(ex.output(eid)["start_ms"] - t0)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--latency", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    executors = []
    try:
        executors = [Local(), Reference()]
        rps = {e.name: [] for e in executors}
        lat = {e.name: [] for e in executors}
        for _ in range(a.rounds):
            for e in executors:
                rps[e.name].append(runs_per_second(e, a.runs))
                lat[e.name].append(event_to_first_call_ms(e, a.latency))
    finally:
        for e in executors:
            e.stop()
    local, ref = executors[0].name, executors[1].name
    med = {k: (statistics.median(rps[k]), statistics.median(lat[k]))
           for k in rps}
    print("## The local executor against the test executor\n")
    print("| executor | three-step runs/s | event -> first call, ms |")
    print("|---|---|---|")
    for k in (local, ref):
        print("| %s | %.0f | %.1f |" % (k, med[k][0], med[k][1]))
    print("| ratio (local / reference) | %.2f | %.2f |" % (
        med[local][0] / med[ref][0], med[local][1] / med[ref][1]))
    print("\n(%d rounds alternated; %d runs per batch; latency median of "
          "%d)" % (a.rounds, a.runs, a.latency))


if __name__ == "__main__":
    main()
