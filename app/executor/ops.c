/*
 * ops.c -- what an answer to a call request does to its run, as the
 * Inngest server decides it (spec 4.4 and 5, and the server's
 * httpdriver for retries):
 *
 *   200 with X-Inngest-Sdk     the function returned: the run completes
 *   206 with X-Inngest-Sdk     an array of ops: steps ran, failed, were
 *                              planned, or the run sleeps, waits, invokes
 *   any other answer, no       retried with backoff up to the function's
 *   answer, or a 2xx without   attempts; X-Inngest-No-Retry: true ends
 *   X-Inngest-Sdk              the run failed at once
 *
 * Runs under ex->mu in the caller's transaction.  Every call is recorded
 * (its step, attempt, HTTP status, outcome and ops) for the pages.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "exec_duration.h"
#include "exec_expr.h"
#include "exec_internal.h"
#include "json_util.h"
#include "log.h"

#define MAX_ERROR_TEXT 512

struct apply {
	struct executor *ex;
	const struct exec_call *c;
	const struct exec_answer *a;
	struct json_object *ops_seen;   /* [{op, id, name}] for the record */
	const char *outcome;
	char error[MAX_ERROR_TEXT];
	char step_name[256];
	int progressed;
	int failed;                     /* the run ended failed here */
};

static int has_job(struct executor *ex, const char *run_id,
    const char *kind, const char *step)
{
	return exec_sql_int(ex, 0, "SELECT COUNT(*) FROM jobs WHERE run_id = ? "
	    "AND kind = ? AND step = ?", "sss", run_id, kind, step) > 0;
}

/* {"data": v} or {"error": v}, a new object (v borrowed). */
static struct json_object *wrap(const char *key, struct json_object *v)
{
	struct json_object *o = json_object_new_object();

	if (o != NULL)
		json_object_object_add(o, key, json_object_get(v));
	return o;
}

static int memoize_wrapped(struct apply *ap, const char *id,
    const char *name, const char *key, struct json_object *v)
{
	struct json_object *w = wrap(key, v);
	int rc = w != NULL ? exec_memoize(ap->ex, ap->c->run_id, id, name, w) :
	    -1;

	json_object_put(w);
	/* A planned call of a step that has its result now is moot. */
	if (rc == 0)
		rc = exec_sql_do(ap->ex, "DELETE FROM jobs WHERE run_id = ? AND "
		    "kind = 'call' AND step = ? AND id != ?", "ssi",
		    ap->c->run_id, id, ap->c->job_id);
	ap->progressed = 1;
	return rc;
}

/* End the run failed with an error object {name, message}. */
static int fail_run(struct apply *ap, const char *name, const char *msg)
{
	struct json_object *e = json_object_new_object();
	int rc;

	if (e == NULL)
		return -1;
	json_object_object_add(e, "name", json_object_new_string(name));
	json_object_object_add(e, "message", json_object_new_string(msg));
	rc = exec_run_finish(ap->ex, ap->c->run_id, "failed", NULL, e);
	json_object_put(e);
	snprintf(ap->error, sizeof(ap->error), "%s", msg);
	ap->failed = 1;
	ap->outcome = "failed";
	return rc;
}

static int op_step_error(struct apply *ap, struct json_object *op,
    const char *id, const char *name)
{
	struct json_object *err = NULL;
	int attempt = strcmp(ap->c->step, id) == 0 ? ap->c->attempt : 0;
	int next = attempt + 1;

	json_object_object_get_ex(op, "error", &err);
	if (next >= exec_max_attempts(ap->ex, ap->c->run_id))
		return memoize_wrapped(ap, id, name, "error", err);
	if (has_job(ap->ex, ap->c->run_id, "call", id))
		return 0;
	return exec_job_add(ap->ex, ap->c->run_id, "call", id, next,
	    exec_now_ms() + exec_backoff_ms(ap->ex, next,
	    ap->a->retry_after_ms));
}

/* opts.<key>, or op.name (inngest-js writes a sleep's time there). */
static const char *opt_or_name(struct json_object *op, const char *key)
{
	struct json_object *opts;
	const char *v = NULL;

	if (json_object_object_get_ex(op, "opts", &opts))
		v = json_str_member(opts, key);
	return v != NULL ? v : json_str_member(op, "name");
}

static int op_sleep(struct apply *ap, struct json_object *op, const char *id)
{
	const char *d = opt_or_name(op, "duration");
	int64_t ms, now = exec_now_ms();

	if (has_job(ap->ex, ap->c->run_id, "wake", id))
		return 0;
	if (d == NULL || exec_duration_ms(d, now, &ms) != 0)
		return fail_run(ap, "InvalidSleep", "a Sleep op without a "
		    "valid duration or time");
	return exec_job_add(ap->ex, ap->c->run_id, "wake", id, 0, now + ms);
}

static int op_wait(struct apply *ap, struct json_object *op, const char *id)
{
	struct json_object *opts = NULL;
	const char *event, *expr, *timeout;
	struct exec_expr *e = NULL;
	char why[160];
	int64_t ms, now = exec_now_ms();
	int rc;

	if (exec_sql_int(ap->ex, 0, "SELECT COUNT(*) FROM waits WHERE run_id "
	    "= ? AND step = ?", "ss", ap->c->run_id, id) > 0)
		return 0;
	json_object_object_get_ex(op, "opts", &opts);
	event = json_str_member(opts, "event");
	expr = json_str_member(opts, "if");
	timeout = json_str_member(opts, "timeout");
	if (event == NULL || *event == '\0')
		return fail_run(ap, "InvalidWait", "a WaitForEvent op without "
		    "an event name");
	if (timeout == NULL || exec_duration_ms(timeout, now, &ms) != 0)
		return fail_run(ap, "InvalidWait", "a WaitForEvent op without "
		    "a valid timeout");
	if (expr != NULL && exec_expr_compile(expr, EXPR_BOOL, &e, why,
	    sizeof(why)) != EXPR_OK)
		return fail_run(ap, "InvalidExpression", why);
	exec_expr_free(e);
	rc = exec_sql_do(ap->ex, "INSERT INTO waits (run_id, step, event, "
	    "expr, until_at) VALUES (?, ?, ?, ?, ?)", "ssssi", ap->c->run_id,
	    id, event, expr, now + ms);
	return rc == 0 ? exec_job_add(ap->ex, ap->c->run_id, "timeout", id, 0,
	    now + ms) : -1;
}

static int op_invoke(struct apply *ap, struct json_object *op,
    const char *id, const char *name)
{
	struct json_object *opts = NULL, *payload = NULL, *data = NULL, *ev,
	    *e;
	const char *fn, *timeout;
	char child[EXEC_ID_LEN], evid[EXEC_ID_LEN];
	int64_t ms, now = exec_now_ms();
	int rc;

	if (exec_sql_int(ap->ex, 0, "SELECT COUNT(*) FROM runs WHERE "
	    "parent_run = ? AND parent_step = ?", "ss", ap->c->run_id, id) > 0)
		return 0;
	json_object_object_get_ex(op, "opts", &opts);
	fn = json_str_member(opts, "function_id");
	if (fn == NULL || exec_sql_int(ap->ex, 0, "SELECT COUNT(*) FROM "
	    "functions WHERE id = ?", "s", fn) == 0) {
		e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(
		    "FunctionNotFound"));
		json_object_object_add(e, "message", json_object_new_string(
		    "no function with that id is registered"));
		rc = memoize_wrapped(ap, id, name, "error", e);
		json_object_put(e);
		return rc;
	}
	if (json_object_object_get_ex(opts, "payload", &payload))
		json_object_object_get_ex(payload, "data", &data);
	ev = json_object_new_object();
	if (ev == NULL)
		return -1;
	exec_new_id("01", evid);
	json_object_object_add(ev, "id", json_object_new_string(evid));
	json_object_object_add(ev, "name", json_object_new_string(
	    "inngest/function.invoked"));
	json_object_object_add(ev, "data", json_object_is_type(data,
	    json_type_object) ? json_object_get(data) :
	    json_object_new_object());
	json_object_object_add(ev, "ts", json_object_new_int64(now));
	rc = exec_run_start(ap->ex, fn, ev, ap->c->run_id, id, child);
	json_object_put(ev);
	timeout = json_str_member(opts, "timeout");
	if (rc == 0 && timeout != NULL &&
	    exec_duration_ms(timeout, now, &ms) == 0)
		rc = exec_job_add(ap->ex, ap->c->run_id, "timeout", id, 0,
		    now + ms);
	return rc;
}

static void note_op(struct apply *ap, const char *kind, const char *id,
    const char *name)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return;
	json_object_object_add(o, "op", json_object_new_string(kind));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "name", name != NULL ?
	    json_object_new_string(name) : NULL);
	json_object_array_add(ap->ops_seen, o);
	if (name != NULL && strcmp(id, ap->c->step) == 0)
		snprintf(ap->step_name, sizeof(ap->step_name), "%s", name);
}

/* Step ids are hashes (hex) in every SDK; the id becomes the stepId of a
 * call URL, so anything outside [A-Za-z0-9._:-] is refused, not escaped. */
static int safe_step_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= 128)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

static int apply_op(struct apply *ap, struct json_object *op)
{
	const char *id = json_str_member(op, "id"), *kind = json_str_member(op, "op");
	const char *name = json_str_member(op, "displayName");
	struct json_object *v = NULL;

	if (name == NULL)
		name = json_str_member(op, "name");
	if (id == NULL || kind == NULL || !safe_step_id(id))
		return fail_run(ap, "InvalidOp", "an op without a valid id or "
		    "op name");
	note_op(ap, kind, id, name);
	if (strcmp(kind, "StepNotFound") == 0) {
		ap->progressed = 1;
		return 0;
	}
	if (exec_is_memoized(ap->ex, ap->c->run_id, id))
		return 0; /* reported again by a replay: already recorded */
	if (strcmp(kind, "StepRun") == 0 || strcmp(kind, "Step") == 0) {
		json_object_object_get_ex(op, "data", &v);
		return memoize_wrapped(ap, id, name, "data", v);
	}
	if (strcmp(kind, "StepFailed") == 0) {
		json_object_object_get_ex(op, "error", &v);
		return memoize_wrapped(ap, id, name, "error", v);
	}
	if (strcmp(kind, "StepError") == 0)
		return op_step_error(ap, op, id, name);
	if (strcmp(kind, "StepPlanned") == 0)
		return has_job(ap->ex, ap->c->run_id, "call", id) ? 0 :
		    exec_job_add(ap->ex, ap->c->run_id, "call", id, 0,
		    exec_now_ms());
	if (strcmp(kind, "Sleep") == 0)
		return op_sleep(ap, op, id);
	if (strcmp(kind, "WaitForEvent") == 0)
		return op_wait(ap, op, id);
	if (strcmp(kind, "InvokeFunction") == 0)
		return op_invoke(ap, op, id, name);
	log_msg(LOG_WARN, "executor_unknown_op", "run %s: op %s is not "
	    "supported; ignored", ap->c->run_id, kind);
	return 0;
}

static int apply_ops(struct apply *ap, struct json_object *ops)
{
	size_t n = json_object_array_length(ops);
	int rc = 0;

	ap->outcome = "ops";
	/* Several ops at once are parallel steps: from now on the SDK must
	 * report each step instead of running the next one itself. */
	if (n > 1)
		rc = exec_sql_do(ap->ex, "UPDATE runs SET disable_immediate = 1 "
		    "WHERE id = ?", "s", ap->c->run_id);
	for (size_t i = 0; rc == 0 && !ap->failed && i < n; i++) {
		struct json_object *op = json_object_array_get_idx(ops, i);

		rc = json_object_is_type(op, json_type_object) ?
		    apply_op(ap, op) : fail_run(ap, "InvalidOp", "an op that "
		    "is not an object");
	}
	if (rc != 0 || ap->failed)
		return rc;
	if (ap->progressed || strcmp(ap->c->step, EXEC_DISCOVERY) != 0)
		return exec_discover(ap->ex, ap->c->run_id);
	return 0;
}

/* The answer's body as JSON, or as a string when it is not JSON. */
static struct json_object *body_value(const struct exec_answer *a)
{
	struct json_object *v = NULL;

	if (a->body == NULL || a->body_len == 0)
		return NULL;
	if (json_parse_value(a->body, a->body_len, &v, NULL, 0) == JSON_OK)
		return v;
	return json_object_new_string_len(a->body, a->body_len >
	    MAX_ERROR_TEXT ? MAX_ERROR_TEXT : (int)a->body_len);
}

static void error_text(struct apply *ap, struct json_object *v)
{
	struct json_object *m;
	const char *text;

	if (ap->error[0] != '\0')
		return; /* already said */
	if (ap->a->status == 0)
		text = ap->a->net_error != NULL ? ap->a->net_error : "no answer";
	else if (json_object_object_get_ex(v, "message", &m))
		text = json_object_get_string(m);
	else
		text = v != NULL ? json_object_get_string(v) : "";
	snprintf(ap->error, sizeof(ap->error), "%s", text);
}

/* Any answer that is not a 200/206 from an SDK: retry or fail. */
static int retry_or_fail(struct apply *ap, struct json_object *v)
{
	int next = ap->c->attempt + 1, rc;

	error_text(ap, v);
	if ((ap->a->no_retry == NULL ||
	    strcmp(ap->a->no_retry, "true") != 0) &&
	    next < exec_max_attempts(ap->ex, ap->c->run_id)) {
		ap->outcome = ap->a->status == 0 ? "network" : "retry";
		return exec_job_add(ap->ex, ap->c->run_id, "call", ap->c->step,
		    next, exec_now_ms() + exec_backoff_ms(ap->ex, next,
		    ap->a->retry_after_ms));
	}
	ap->outcome = "failed";
	if (v == NULL)
		return fail_run(ap, "Error", ap->error);
	rc = exec_run_finish(ap->ex, ap->c->run_id, "failed", NULL, v);
	ap->failed = 1;
	return rc;
}

static int record_call(struct apply *ap)
{
	const struct exec_answer *a = ap->a;

	if (ap->step_name[0] == '\0') {
		sqlite3_stmt *st = exec_sql(ap->ex, "SELECT name FROM steps "
		    "WHERE run_id = ? AND id = ?", "ss", ap->c->run_id,
		    ap->c->step);

		if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
			snprintf(ap->step_name, sizeof(ap->step_name), "%s",
			    exec_col_text(st, 0));
		exec_sql_end(ap->ex, st);
	}
	return exec_sql_do(ap->ex, "INSERT INTO calls (run_id, seq, step, "
	    "step_name, attempt, started_at, duration_ms, http_status, "
	    "outcome, ops, error) VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + "
	    "1 FROM calls WHERE run_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	    "?10)", "sssiiiisjs", ap->c->run_id, ap->c->step,
	    ap->step_name[0] != '\0' ? ap->step_name : NULL,
	    (int64_t)ap->c->attempt, a->started_at, a->duration_ms,
	    (int64_t)a->status, ap->outcome, ap->ops_seen,
	    ap->error[0] != '\0' ? ap->error : NULL);
}

int exec_apply_answer(struct executor *ex, const struct exec_call *c,
    const struct exec_answer *a)
{
	struct apply ap = { .ex = ex, .c = c, .a = a, .outcome = "retry" };
	struct json_object *v = NULL;
	int rc, from_sdk = a->sdk != NULL && a->sdk[0] != '\0';

	if ((ap.ops_seen = json_object_new_array()) == NULL)
		return -1;
	if (exec_sql_do(ex, "DELETE FROM jobs WHERE id = ?", "i",
	    c->job_id) != 0) {
		json_object_put(ap.ops_seen);
		return -1;
	}
	v = body_value(a);
	if (exec_sql_int(ex, 0, "SELECT COUNT(*) FROM runs WHERE id = ? AND "
	    "status = 'running'", "s", c->run_id) == 0) {
		/* Cancelled (or ended) while the call was on the wire. */
		ap.outcome = "cancelled";
		rc = 0;
	} else if (a->status == 200 && from_sdk) {
		ap.outcome = "completed";
		rc = exec_run_finish(ex, c->run_id, "completed", v, NULL);
	} else if (a->status == 206 && from_sdk &&
	    json_object_is_type(v, json_type_array)) {
		rc = apply_ops(&ap, v);
	} else {
		if (a->status >= 200 && a->status < 300)
			snprintf(ap.error, sizeof(ap.error), "a %ld answer "
			    "without X-Inngest-Sdk or ops", a->status);
		rc = a->status >= 200 && a->status < 300 ?
		    retry_or_fail(&ap, NULL) : retry_or_fail(&ap, v);
	}
	if (rc == 0)
		rc = record_call(&ap);
	json_object_put(v);
	json_object_put(ap.ops_seen);
	return rc;
}
