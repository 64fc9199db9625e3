"""test_knowledge.py -- Omni's work end to end: notes in, documents out.

The whole stack on loopback: the pool behind real nginx, the real
executor (build/omni-executor) driving create-task and process-knowledge
over the signed protocol, and the agent running in the user's sandbox --
a local bubblewrap sandbox, or a sandbox of the fake Daytona, whose
session commands run for real.  The agent is tests/agents/test-agent.sh in
a copy of the workspace template (its first line picks a behaviour), in
front of the example agent that `make run` uses.

Everything goes through the API a web frontend uses: create the sandbox,
POST /api/knowledge/process, poll GET /api/task/results until found, GET
/api/knowledge/query.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_executor import EVENT_KEY, ExecutorMixin  # noqa: E402
from test_sandbox_daytona import KEY_OLD, Fake  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "sandbox-image", "workspace")
TEST_AGENT = os.path.join(ROOT, "tests", "agents", "test-agent.sh")
DEADLINE_S = 6

NOTES = """Monthly check-in, March
- MRR $48k, up from 42k
- 12 customers, burn 30k/month, runway 14 months
- hired two engineers, headcount 8
Voice note: we grew 12.5% MoM and Jane Doe at Example Ventures wants the
update by Friday. It's "good" news; $(touch pwned) `touch pwned2` stays text.
"""


def brief(res):
    """A stored result for a failure message, without the file texts."""
    res = dict(res, files=[f.get("path") for f in res.get("files", [])])
    return json.dumps(res)[:3000]


def make_template(into):
    """The workspace template plus the test agent."""
    dst = os.path.join(into, "workspace")
    shutil.copytree(TEMPLATE, dst)
    shutil.copy(TEST_AGENT, os.path.join(dst, ".omni-system",
                                         "test-agent.sh"))
    return dst


def agent_env(template):
    return {
        "OMNI_WORKSPACE_TEMPLATE": template,
        "OMNI_AGENT_CMD": "sh .omni-system/test-agent.sh",
        "OMNI_AGENT_KEY_NAME": "",
        "OMNI_AGENT_POLL": "1",
        "OMNI_AGENT_DEADLINE": str(DEADLINE_S),
        "OMNI_AGENT_MODELS": "example-model,other-model",
    }


class Flow:
    """The frontend's calls, and the checks every provider shares."""

    def create(self, user):
        r = self.stack.post_json("/api/sandbox/create", {"userId": user})
        self.assertEqual(r.status, 200, r)
        sid = r.json()["sandboxId"]
        harness.wait_until(lambda: self.stack.get(
            "/api/sandbox/status?id=" + sid).json().get("status") ==
            "ready", 30, what="sandbox ready")
        return sid

    def process(self, sid, user, task, notes, **extra):
        body = dict({"input": notes, "sandboxId": sid, "userId": user,
                     "taskId": task}, **extra)
        return self.stack.post_json("/api/knowledge/process", body)

    def results(self, task, user):
        q = urllib.parse.urlencode({"taskId": task, "userId": user})
        return self.stack.get("/api/task/results?" + q)

    def wait_result(self, task, user, timeout=60):
        seen = {}

        def found():
            r = self.results(task, user)
            self.assertEqual(r.status, 200, r)
            body = r.json()
            seen["last"] = body
            return body if body["found"] else None
        try:
            return harness.wait_until(found, timeout, interval=0.2,
                                      what="task %s stored" % task)
        except TimeoutError:
            self.fail("no result for %s: last %s\n%s" % (
                task, json.dumps(seen.get("last"))[:2000],
                self.stack.dump_logs()))

    def run_task(self, user, task, notes, **extra):
        sid = self.create(user)
        r = self.process(sid, user, task, notes, **extra)
        self.assertEqual(r.status, 202, r)
        body = r.json()
        self.assertEqual(set(body), {"jobId", "accepted"})
        self.assertTrue(body["accepted"])
        return sid, body["jobId"], self.wait_result(task, user)

    @staticmethod
    def file_named(result, path):
        for f in result["files"]:
            if f["path"] == path:
                return f
        raise AssertionError("%s not in %s" % (
            path, [f["path"] for f in result["files"]]))

    # -- shared tests --

    def test_notes_become_documents(self):
        sid, job, res = self.run_task("founder-1", "task-docs", NOTES)
        self.assertTrue(res["success"], brief(res))
        self.assertIsNone(res["error"])
        self.assertEqual(res["taskId"], "task-docs")
        for key in ("result", "messages", "files", "timestamp"):
            self.assertIn(key, res)
        metrics = json.loads(self.file_named(
            res, "metrics/current.json")["content"])
        self.assertEqual(metrics["mrr"], 48000)
        self.assertEqual(metrics["customers"], 12)
        self.assertEqual(metrics["burn"], 30000)
        self.assertEqual(metrics["runway_months"], 14)
        self.assertEqual(metrics["headcount"], 8)
        memos = [f for f in res["files"]
                 if f["directory"] == "deliverables/memos"]
        self.assertEqual(len(memos), 1, res["files"])
        memo = memos[0]
        self.assertEqual(memo["type"], "markdown")
        self.assertIn("48000", memo["content"])
        self.assertIn("$(touch pwned)", memo["content"])
        self.assertEqual(memo["size"], len(memo["content"].encode()))
        for f in res["files"]:
            self.assertFalse(f["path"].startswith(".omni/"), f["path"])
        types = [m["type"] for m in res["messages"]]
        self.assertEqual(types[-1], "done")
        self.assertIn("result", types)
        self.assertTrue(all(m["jobId"] == job for m in res["messages"]))
        self.assertIsInstance(res["result"], str)
        self.assertIn("memo", res["result"])

    def test_failing_agent_is_a_stored_failure(self):
        _, _, res = self.run_task("founder-2", "task-fail",
                                  "#fail\nnotes\n")
        self.assertFalse(res["success"])
        self.assertIn("code 3", res["error"])
        self.assertIn("failed on purpose", res["error"])
        self.assertEqual([m["type"] for m in res["messages"]][-2:],
                         ["error", "done"])

    def test_input_reaches_the_agent_byte_for_byte(self):
        text = ("#digest\n" + "it's \"q\" $(id) `id` \\ \n\u00e9\u20ac\U0001f680\n"
                + "x" * (200 * 1024))
        _, _, res = self.run_task("founder-3", "task-bytes", text)
        self.assertTrue(res["success"], brief(res))
        raw = text.encode()
        self.assertEqual(res["result"], {
            "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)})


class KnowledgeStack(Flow, ExecutorMixin):
    """The pool behind a front server, the real executor (ExecutorMixin),
    the agent in a copy of the workspace template, and the provider the
    subclass chooses (provider_env)."""

    @classmethod
    def provider_env(cls):
        return {}

    @classmethod
    def provider_stop(cls):
        pass

    @classmethod
    def extra_env(cls):
        cls.tmp = tempfile.mkdtemp(prefix="omni-kn-")
        cls.template = make_template(cls.tmp)
        env = agent_env(cls.template)
        env.update(cls.provider_env())
        return env

    @classmethod
    def extra_stop(cls):
        cls.provider_stop()
        if getattr(cls, "tmp", None):
            shutil.rmtree(cls.tmp, ignore_errors=True)


class LocalKnowledge(KnowledgeStack):
    """The local provider: bubblewrap sandboxes under OMNI_DATA_DIR."""

    def home(self, sid):
        return os.path.join(self.stack.env["OMNI_DATA_DIR"], "sandboxes",
                            sid, "home")

    def starts(self, sid):
        try:
            with open(os.path.join(self.home(sid), ".omni",
                                   "agent-starts.log")) as f:
                return len(f.read().splitlines())
        except FileNotFoundError:
            return 0

    def runs_of(self, fn):
        return [r for r in self.ex.runs() if r["function_id"].endswith(fn)]

    def test_missing_workspace_is_a_stored_failure(self):
        sid = self.create("founder-nows")
        os.unlink(os.path.join(self.home(sid), ".omni-system", "README.md"))
        r = self.process(sid, "founder-nows", "task-nows", NOTES)
        self.assertEqual(r.status, 202, r)
        res = self.wait_result("task-nows", "founder-nows")
        self.assertFalse(res["success"])
        self.assertIn("workspace is missing", res["error"])
        self.assertEqual(self.starts(sid), 0)

    def test_nothing_ran_from_the_notes(self):
        sid, _, res = self.run_task("founder-4", "task-pwn", NOTES)
        self.assertTrue(res["success"], brief(res))
        for name in ("pwned", "pwned2"):
            self.assertFalse(os.path.exists(os.path.join(self.home(sid),
                                                         name)))
        self.assertEqual(self.starts(sid), 1)

    def test_deadline_kills_the_agent(self):
        t0 = time.monotonic()
        sid, job, res = self.run_task("founder-5", "task-hang",
                                      "#hang\n")
        self.assertFalse(res["success"])
        self.assertIn("did not finish within %d s" % DEADLINE_S,
                      res["error"])
        self.assertGreaterEqual(time.monotonic() - t0, DEADLINE_S)
        with open(os.path.join(self.home(sid), ".omni", "jobs", job,
                               "exit")) as f:
            self.assertEqual(f.read().strip(), "137")

    def test_stopped_sandbox_is_started_by_process(self):
        sid = self.create("founder-6")
        state = os.path.join(self.stack.env["OMNI_DATA_DIR"], "sandboxes",
                             sid, "state.json")
        with open(state) as f:
            st = json.load(f)
        st["state"] = "stopped"
        with open(state + ".tmp", "w") as f:
            json.dump(st, f)
        os.rename(state + ".tmp", state)
        self.assertEqual(self.stack.get("/api/sandbox/status?id=" + sid)
                         .json()["status"], "stopped")
        r = self.process(sid, "founder-6", "task-stopped", NOTES)
        self.assertEqual(r.status, 202, r)
        res = self.wait_result("task-stopped", "founder-6")
        self.assertTrue(res["success"], brief(res))

    def test_status_while_running(self):
        sid = self.create("founder-7")
        r = self.process(sid, "founder-7", "task-watch", "#slow\n" + NOTES)
        self.assertEqual(r.status, 202, r)

        def running():
            body = self.results("task-watch", "founder-7").json()
            return body if body.get("status") == "running" else None
        body = harness.wait_until(running, 20, interval=0.1,
                                  what="status running")
        self.assertFalse(body["found"])
        self.assertEqual(body["taskId"], "task-watch")
        self.assertTrue(body["messages"])
        self.assertTrue(self.wait_result("task-watch",
                                         "founder-7")["success"])

    def test_pool_killed_while_the_agent_runs(self):
        sid = self.create("founder-8")
        r = self.process(sid, "founder-8", "task-kill", "#slow\n" + NOTES)
        self.assertEqual(r.status, 202, r)
        harness.wait_until(lambda: self.starts(sid) == 1, 20,
                           what="the agent started")
        self.stack.restart_pool()
        res = self.wait_result("task-kill", "founder-8")
        self.assertTrue(res["success"], brief(res))
        self.assertEqual(self.starts(sid), 1)

    def test_executor_restarted_while_the_agent_runs(self):
        sid = self.create("founder-9")
        r = self.process(sid, "founder-9", "task-exrestart",
                         "#slow\n" + NOTES)
        self.assertEqual(r.status, 202, r)
        harness.wait_until(lambda: self.starts(sid) == 1, 20,
                           what="the agent started")
        self.ex.stop()
        self.ex.start()
        res = self.wait_result("task-exrestart", "founder-9")
        self.assertTrue(res["success"], brief(res))
        self.assertEqual(self.starts(sid), 1)

    def test_front_restarted_while_the_agent_runs(self):
        sid = self.create("founder-fr")
        r = self.process(sid, "founder-fr", "task-front", "#slow\n" + NOTES)
        self.assertEqual(r.status, 202, r)
        harness.wait_until(lambda: self.starts(sid) == 1, 20,
                           what="the agent started")
        # The executor reaches Omni through the front server: its calls
        # fail while the front is down and are retried with backoff (in
        # these tests 50 ms doubling to 400 ms, ten retries: about 3 s).
        self.stack.restart_front(down_s=1)
        res = self.wait_result("task-front", "founder-fr")
        self.assertTrue(res["success"], brief(res))
        self.assertEqual(self.starts(sid), 1)

    def test_concurrent_users_see_only_their_own(self):
        users = ["team-%d" % i for i in range(3)]
        sids = {u: self.create(u) for u in users}
        for u in users:
            r = self.process(sids[u], u, "task-" + u,
                             "- MRR $%dk\n- note of %s\n" % (
                                 10 + users.index(u), u))
            self.assertEqual(r.status, 202, r)
        for u in users:
            res = self.wait_result("task-" + u, u)
            self.assertTrue(res["success"], brief(res))
            metrics = json.loads(self.file_named(
                res, "metrics/current.json")["content"])
            self.assertEqual(metrics["mrr"], (10 + users.index(u)) * 1000)
            memo = [f for f in res["files"]
                    if f["directory"] == "deliverables/memos"][0]
            for other in users:
                if other != u:
                    self.assertNotIn(other, memo["content"])
            # Another user's task is not found in this user's sandbox.
            other = users[(users.index(u) + 1) % len(users)]
            body = self.results("task-" + other, u).json()
            self.assertFalse(body["found"])

    def test_someone_elses_sandbox_is_not_found(self):
        sid = self.create("owner-a")
        self.create("owner-b")
        r = self.process(sid, "owner-b", "task-steal", NOTES)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["error"]["code"], "SANDBOX_NOT_FOUND")

    def test_validation(self):
        sid = self.create("founder-v")
        for body, field in (
                ({"input": "", "sandboxId": sid, "userId": "founder-v",
                  "taskId": "t"}, "input"),
                ({"input": "x", "sandboxId": sid, "userId": "founder-v",
                  "taskId": "../t"}, "taskId"),
                ({"input": "x", "sandboxId": sid, "userId": "founder-v",
                  "taskId": "t", "model": "gpt-unknown"}, "model")):
            r = self.stack.post_json("/api/knowledge/process", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json()["error"]["code"], "VALIDATION_ERROR")
        r = self.results("../etc", "founder-v")
        self.assertEqual(r.status, 400, r)

    def test_query_after_two_tasks(self):
        sid = self.create("founder-q")
        for task, notes in (("q-one", NOTES),
                            ("q-two", "- cash $1.2M\n- 15 customers\n")):
            self.assertEqual(self.process(sid, "founder-q", task,
                                          notes).status, 202)
            self.assertTrue(self.wait_result(task, "founder-q")["success"])
        q = urllib.parse.urlencode({"userId": "founder-q", "query": "MRR"})
        r = self.stack.get("/api/knowledge/query?" + q)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual([t["taskId"] for t in self.stack.get(
            "/api/knowledge/query?userId=founder-q").json()["tasks"]],
            ["q-two", "q-one"])
        paths = [p["path"] for p in body["patterns"]]
        self.assertTrue(any(p.startswith("deliverables/memos/")
                            for p in paths), paths)
        for p in body["patterns"]:
            for m in p["matches"]:
                self.assertIn("mrr", m["text"].lower())
        # A query is a literal: regex and shell characters match nothing.
        q = urllib.parse.urlencode({"userId": "founder-q",
                                    "query": ".*$(id)"})
        body = self.stack.get("/api/knowledge/query?" + q).json()
        self.assertEqual(body["patterns"], [])

    def test_create_task_flow(self):
        """The web frontend's flow: an omni/create.task event."""
        status, body = self.ex.call(
            "POST", "/e/" + EVENT_KEY, {"name": "omni/create.task", "data": {
                "task": {"id": "task-ct", "title": "March update"},
                "userId": "founder-ct", "prompt": NOTES}})
        self.assertEqual(status, 200, body)
        res = self.wait_result("task-ct", "founder-ct")
        self.assertTrue(res["success"], brief(res))
        created = self.runs_of("create-task")
        self.assertTrue(any(r["status"] == "completed" for r in created))

    def test_call_requests_of_one_task(self):
        _, job, res = self.run_task("founder-c", "task-count", NOTES)
        self.assertTrue(res["success"], brief(res))
        runs = [r for r in self.runs_of("process-knowledge")
                if r["status"] == "completed"]
        counts = []
        for r in runs:
            run = self.ex.run(r["run_id"])
            if (run.get("event") or {}).get("data", {}).get("jobId") == job:
                counts.append(len(run["calls"]))
        self.assertEqual(len(counts), 1)
        # preflight, start, one check, a sleep or two, collect, store.
        self.assertLess(counts[0], 20, counts)
        print("\n[figure] call requests of one task: %d" % counts[0])


class LocalKnowledgeNginx(LocalKnowledge, unittest.TestCase):
    FRONT = "nginx"


class LocalKnowledgeCaddy(KnowledgeStack, unittest.TestCase):
    """The shared flow behind Caddy."""
    FRONT = "caddy"


class DaytonaKnowledgeNginx(KnowledgeStack, unittest.TestCase):
    """The Daytona provider against the fake, whose snapshot holds the
    workspace and whose session commands run the agent for real."""

    @classmethod
    def provider_env(cls):
        cls.fake = Fake(cls.tmp, ["--snapshot-dir",
                                  "omni-agent=" + cls.template])
        # The fake's process/execute emulates commands rather than running
        # them: the preflight script (really run on the local provider)
        # is answered as passing.
        cls.fake.ctl("POST", "/exec", {"match": r"omni-system/README\.md",
                                       "exitCode": 0, "result": ""})
        return {
            "SANDBOX_PROVIDER": "daytona",
            "DAYTONA_API_URL": cls.fake.api_url,
            "DAYTONA_API_KEY": KEY_OLD,
            "DAYTONA_SNAPSHOT": "omni-agent",
        }

    @classmethod
    def provider_stop(cls):
        if getattr(cls, "fake", None) is not None:
            cls.fake.proc.stop()

    def test_agent_runs_as_a_session_command(self):
        self.fake.clear_log()
        _, job, res = self.run_task("founder-s", "task-session", NOTES)
        self.assertTrue(res["success"], brief(res))
        execs = [e for e in self.fake.log()
                 if e["method"] == "POST" and e["path"].endswith("/exec")
                 and "/process/session/" in e["path"]]
        self.assertEqual(len(execs), 1, execs)
        self.assertIn("omni-job-" + job, execs[0]["path"])


if __name__ == "__main__":
    unittest.main()
