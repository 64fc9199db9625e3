/*
 * call.c -- one call request of the local executor: the body the SDK
 * expects (spec 4.4: event, events, memoized steps, ctx with the stack),
 * its URL (the function's step URL with the target as stepId), its
 * signature, and the answer with the headers that decide what happens
 * next.
 *
 * exec_call_build() reads the database (ex->mu held); exec_call_send()
 * runs without the lock: the app may send events back to us meanwhile.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_internal.h"
#include "http_client.h"
#include "inngest_signing.h"
#include "json_util.h"

#define USER_AGENT "omni-executor/0.1"

/* {"<hashed id>": value, ...} and the ids in the order they were
 * memoized, which is the ctx.stack the SDK checks its replay against. */
static int memoized(struct executor *ex, const char *run_id,
    struct json_object *steps, struct json_object *stack)
{
	sqlite3_stmt *st = exec_sql(ex, "SELECT id, value FROM steps WHERE "
	    "run_id = ? ORDER BY seq", "s", run_id);
	int rc = st != NULL ? 0 : -1;

	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *id = exec_col_text(st, 0);

		if (json_object_object_add(steps, id, exec_col_json(st, 1)) !=
		    0 || json_object_array_add(stack,
		    json_object_new_string(id)) != 0)
			rc = -1;
	}
	exec_sql_end(ex, st);
	return rc;
}

static struct json_object *call_ctx(struct executor *ex,
    const struct exec_call *c, const char *fn_id, int disable_immediate,
    struct json_object *stack)
{
	struct json_object *ctx = json_object_new_object(), *s;

	s = json_object_new_object();
	if (ctx == NULL || s == NULL) {
		json_object_put(ctx);
		json_object_put(s);
		json_object_put(stack);
		return NULL;
	}
	json_object_object_add(s, "current", json_object_new_int64(
	    (int64_t)json_object_array_length(stack)));
	json_object_object_add(s, "stack", stack);
	json_object_object_add(ctx, "run_id", json_object_new_string(
	    c->run_id));
	json_object_object_add(ctx, "fn_id", json_object_new_string(fn_id));
	json_object_object_add(ctx, "attempt", json_object_new_int(
	    c->attempt));
	json_object_object_add(ctx, "max_attempts", json_object_new_int(
	    exec_max_attempts(ex, c->run_id)));
	json_object_object_add(ctx, "disable_immediate_execution",
	    json_object_new_boolean(disable_immediate));
	json_object_object_add(ctx, "use_api", json_object_new_boolean(0));
	json_object_object_add(ctx, "stack", s);
	return ctx;
}

/* 'base' (the step URL without stepId) plus "stepId=<target>". */
static char *target_url(const char *base, const char *step)
{
	char *url = NULL;

	/* Hashed ids and "step" are URL-safe already: hex digits. */
	if (asprintf(&url, "%s%cstepId=%s", base, strchr(base, '?') != NULL ?
	    '&' : '?', step) < 0)
		return NULL;
	return url;
}

int exec_call_build(struct executor *ex, struct exec_call *c)
{
	struct json_object *body = NULL, *event = NULL, *events, *steps,
	    *stack, *ctx;
	sqlite3_stmt *st;
	const char *text;
	int rc = -1, disable;

	st = exec_sql(ex, "SELECT r.fn_id, r.event, r.disable_immediate, "
	    "f.step_url FROM runs r JOIN functions f ON f.id = r.fn_id WHERE "
	    "r.id = ?", "s", c->run_id);
	if (st == NULL || sqlite3_step(st) != SQLITE_ROW)
		goto out;
	event = exec_col_json(st, 1);
	disable = sqlite3_column_int(st, 2);
	body = json_object_new_object();
	events = json_object_new_array();
	steps = json_object_new_object();
	stack = json_object_new_array();
	if (body == NULL || events == NULL || steps == NULL || stack == NULL ||
	    memoized(ex, c->run_id, steps, stack) != 0) {
		json_object_put(events);
		json_object_put(steps);
		json_object_put(stack);
		goto out;
	}
	ctx = call_ctx(ex, c, exec_col_text(st, 0), disable, stack);
	json_object_array_add(events, json_object_get(event));
	json_object_object_add(body, "event", json_object_get(event));
	json_object_object_add(body, "events", events);
	json_object_object_add(body, "steps", steps);
	json_object_object_add(body, "ctx", ctx);
	json_object_object_add(body, "version", json_object_new_int(1));
	c->url = target_url(exec_col_text(st, 3), c->step);
	text = json_compact(body);
	c->body = text != NULL ? strdup(text) : NULL;
	c->body_len = c->body != NULL ? strlen(c->body) : 0;
	rc = ctx != NULL && c->url != NULL && c->body != NULL ? 0 : -1;
out:
	exec_sql_end(ex, st);
	json_object_put(event);
	json_object_put(body);
	return rc;
}

void exec_call_free(struct exec_call *c)
{
	free(c->url);
	free(c->body);
	c->url = c->body = NULL;
}

void exec_call_send(struct executor *ex, const struct exec_call *c,
    struct exec_answer *a)
{
	static const char *const want[] = { "X-Inngest-No-Retry",
	    "X-Inngest-Sdk" };
	char sig[ING_SIG_HEADER_LEN], sigline[ING_SIG_HEADER_LEN + 32];
	const char *headers[3];
	struct hc_request req = { 0 };
	struct hc_response resp;
	enum hc_err err;
	int64_t t0 = exec_now_ms();

	memset(a, 0, sizeof(*a));
	a->retry_after_ms = -1;
	a->started_at = t0;
	if (ing_signature_make(ex->cfg.signing_key, c->body, c->body_len,
	    t0 / 1000, sig, sizeof(sig)) != 0) {
		a->net_error = "cannot sign the call request";
		return;
	}
	snprintf(sigline, sizeof(sigline), "X-Inngest-Signature: %s", sig);
	headers[0] = "Content-Type: application/json";
	headers[1] = sigline;
	headers[2] = "X-Inngest-Server-Kind: cloud";
	req.method = "POST";
	req.url = c->url;
	req.headers = headers;
	req.nheaders = 3;
	req.body = c->body;
	req.body_len = c->body_len;
	req.timeout_ms = ex->cfg.call_timeout_ms;
	req.user_agent = USER_AGENT;
	req.want_headers = want;
	req.nwant = 2;
	err = hc_perform(&req, &resp);
	a->duration_ms = exec_now_ms() - t0;
	if (err != HC_OK) {
		a->net_error = hc_strerror(err);
		return;
	}
	a->status = resp.status;
	a->body = resp.body;
	a->body_len = resp.body_len;
	a->retry_after_ms = resp.retry_after_ms;
	a->no_retry = resp.headers[0];
	a->sdk = resp.headers[1];
}

void exec_answer_free(struct exec_answer *a)
{
	free(a->body);
	free(a->no_retry);
	free(a->sdk);
	a->body = a->no_retry = a->sdk = NULL;
}
