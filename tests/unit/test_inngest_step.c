/*
 * test_inngest_step.c -- the step tools and every opcode path, driven
 * through ing_serve() the way the Inngest server drives them: post a call
 * request, read the 206 ops, post again with the steps memoized.  Call
 * counters prove that memoized step code does not run again (inngestgo
 * handler_test.go TestSteps is the model).  Dev mode, so no signatures
 * here; test_inngest_serve.c covers those.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "inngest.h"
#include "inngest_internal.h"
#include "inngest_jcs.h"
#include "inngest_step.h"
#include "inngest_transport.h"
#include "log.h"

#define NOW_MS INT64_C(1700000000000)

/* ---- fake transport: canned answers, recorded requests ---------------- */

struct fake {
	int calls;
	long status[8];
	const char *body[8];
	char url[8][512];
	char sent[8][4096];
};

static struct fake fake;

static enum ing_err fake_send(void *ud, const struct ing_http_req *req,
    struct ing_http_res *res)
{
	int i = fake.calls++;

	(void)ud;
	memset(res, 0, sizeof(*res));
	if (i >= 8 || fake.status[i] == 0)
		return ING_ETRANSPORT;
	snprintf(fake.url[i], sizeof(fake.url[i]), "%s", req->url);
	snprintf(fake.sent[i], sizeof(fake.sent[i]), "%.*s",
	    (int)req->body_len, req->body != NULL ? req->body : "");
	res->status = fake.status[i];
	res->body = strdup(fake.body[i] != NULL ? fake.body[i] : "");
	res->body_len = strlen(res->body);
	return ING_OK;
}

static const struct ing_transport fake_transport = { fake_send, NULL };

static long long fake_now(void)
{
	return NOW_MS;
}

static void no_sleep(long long ms)
{
	(void)ms;
}

/* ---- test functions ----------------------------------------------------- */

static int calls_a, calls_b, calls_c, fails_left;

static enum ing_rc step_a(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	(void)ctx;
	(void)arg;
	calls_a++;
	*out = json_object_new_int(1);
	return ING_RC_OK;
}

static enum ing_rc step_b(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	(void)ctx;
	calls_b++;
	*out = json_object_new_int(json_object_get_int(arg) + 1);
	return ING_RC_OK;
}

static enum ing_rc step_c(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	(void)ctx;
	calls_c++;
	*out = json_object_new_int(json_object_get_int(arg) + 1);
	return ING_RC_OK;
}

static enum ing_rc fn_three(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *a, *b, *c;

	ING_TRY(ing_step_run(ctx, "first", step_a, NULL, &a));
	ING_TRY(ing_step_run(ctx, "second", step_b, a, &b));
	ING_TRY(ing_step_run(ctx, "third", step_c, b, &c));
	*result = json_object_new_object();
	json_object_object_add(*result, "sum", json_object_get(c));
	return ING_RC_OK;
}

static enum ing_rc step_flaky(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	(void)arg;
	calls_a++;
	if (fails_left > 0) {
		fails_left--;
		return ing_fail_retry_after(ctx, 7, "flaky %d", calls_a);
	}
	*out = json_object_new_string("ok");
	return ING_RC_OK;
}

static enum ing_rc step_fatal(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	(void)arg;
	(void)out;
	calls_a++;
	return ing_fail(ctx, ING_RC_NO_RETRY, "Fatal", "cannot go on");
}

static enum ing_rc fn_flaky(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *v;

	ING_TRY(ing_step_run(ctx, "flaky", step_flaky, NULL, &v));
	*result = json_object_get(v);
	return ING_RC_OK;
}

static enum ing_rc fn_fatal_step(struct ing_ctx *ctx,
    struct json_object **result)
{
	struct json_object *v;

	ING_TRY(ing_step_run(ctx, "fatal", step_fatal, NULL, &v));
	*result = json_object_get(v);
	return ING_RC_OK;
}

/* Handles a failed step and carries on. */
static enum ing_rc fn_recovers(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *v;
	enum ing_rc rc;

	rc = ing_step_run(ctx, "fatal", step_fatal, NULL, &v);
	if (rc == ING_RC_STEP_FAILED) {
		*result = json_object_new_string(ing_step_error(ctx)->message);
		return ING_RC_OK;
	}
	ING_TRY(rc);
	*result = json_object_new_string("no error");
	return ING_RC_OK;
}

static enum ing_rc fn_fails(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *kind;

	(void)result;
	if (json_object_object_get_ex(json_object_object_get(
	    ing_ctx_event(ctx), "data"), "kind", &kind) &&
	    strcmp(json_object_get_string(kind), "fatal") == 0)
		return ing_fail(ctx, ING_RC_NO_RETRY, "BadInput", "bad %s",
		    "input");
	if (strcmp(json_object_get_string(kind), "later") == 0)
		return ing_fail_retry_after(ctx, 30, "try later");
	return ing_fail(ctx, ING_RC_RETRY, NULL, "transient");
}

static enum ing_rc fn_sleep(struct ing_ctx *ctx, struct json_object **result)
{
	ING_TRY(ing_step_sleep(ctx, "nap", "1s"));
	*result = json_object_new_string("rested");
	return ING_RC_OK;
}

static enum ing_rc fn_wait(struct ing_ctx *ctx, struct json_object **result)
{
	static const struct ing_wait_opts w = {
		.event = "test/approved",
		.if_expr = "async.data.id == event.data.id",
		.timeout = "2s",
	};
	struct json_object *ev;
	enum ing_rc rc;

	rc = ing_step_wait_for_event(ctx, "approval", &w, &ev);
	if (rc == ING_RC_TIMEOUT) {
		*result = json_object_new_string("timed out");
		return ING_RC_OK;
	}
	ING_TRY(rc);
	*result = json_object_get(json_object_object_get(ev, "name"));
	return ING_RC_OK;
}

static enum ing_rc fn_invoke(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *data = ing_ctx_keep(ctx, json_object_new_object());
	struct ing_invoke_opts o = {
		.function_id = "omni-child", .data = data, .timeout = "1h",
	};
	struct json_object *v;

	json_object_object_add(data, "x", json_object_new_int(5));
	ING_TRY(ing_step_invoke(ctx, "call-child", &o, &v));
	*result = json_object_get(v);
	return ING_RC_OK;
}

static enum ing_rc fn_parallel(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *a, *b;
	enum ing_rc ra, rb;

	ING_TRY(ing_parallel_begin(ctx));
	ra = ing_step_run(ctx, "left", step_a, NULL, &a);
	rb = ing_step_run(ctx, "right", step_c, NULL, &b);
	ING_TRY(ing_parallel_end(ctx));
	ING_TRY(ra);
	ING_TRY(rb);
	*result = json_object_new_int(json_object_get_int(a) +
	    json_object_get_int(b));
	return ING_RC_OK;
}

static enum ing_rc fn_loop(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *v = NULL;

	for (int i = 0; i < 3; i++)
		ING_TRY(ing_step_run(ctx, "item", step_a, NULL, &v));
	*result = json_object_get(v);
	return ING_RC_OK;
}

/* Ignores YIELD: the SDK must still report only the first step. */
static enum ing_rc fn_ignores_yield(struct ing_ctx *ctx,
    struct json_object **result)
{
	struct json_object *v;

	(void)ing_step_run(ctx, "first", step_a, NULL, &v);
	(void)ing_step_sleep(ctx, "nap", "1s");
	(void)ing_step_run(ctx, "second", step_b, NULL, &v);
	*result = json_object_new_string("done");
	return ING_RC_OK;
}

static enum ing_rc step_nested(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	(void)arg;
	return ing_step_run(ctx, "inner", step_a, NULL, out);
}

static enum ing_rc fn_nested(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *v;

	ING_TRY(ing_step_run(ctx, "outer", step_nested, NULL, &v));
	*result = json_object_get(v);
	return ING_RC_OK;
}

static enum ing_rc fn_bad_yield(struct ing_ctx *ctx,
    struct json_object **result)
{
	(void)ctx;
	(void)result;
	return ING_RC_YIELD;
}

static enum ing_rc fn_send(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *ev = ing_ctx_keep(ctx, json_object_new_object());
	struct json_object *ids;

	json_object_object_add(ev, "name", json_object_new_string("test/x"));
	ING_TRY(ing_step_send_event(ctx, "notify", ev, &ids));
	*result = json_object_get(ids);
	return ING_RC_OK;
}

static enum ing_rc fn_events(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *v;

	ING_TRY(ing_step_run(ctx, "first", step_a, NULL, &v));
	*result = json_object_new_object();
	json_object_object_add(*result, "n", json_object_new_int64((int64_t)
	    json_object_array_length(ing_ctx_events(ctx))));
	json_object_object_add(*result, "name", json_object_get(
	    json_object_object_get(ing_ctx_event(ctx), "name")));
	json_object_object_add(*result, "run", json_object_new_string(
	    ing_ctx_run_id(ctx)));
	return ING_RC_OK;
}

#define FN(ident, h) \
	static const struct ing_function ident = { .id = #ident, \
	    .triggers = { { .event = "test/go" } }, .handler = h }

FN(three, fn_three);
FN(flaky, fn_flaky);
static const struct ing_function flaky_r = { .id = "flaky_r",
    .triggers = { { .event = "test/go" } }, .handler = fn_flaky,
    .has_retries = 1, .retries = 1 };
FN(fatal_step, fn_fatal_step);
FN(recovers, fn_recovers);
FN(fails, fn_fails);
FN(sleeper, fn_sleep);
FN(waiter, fn_wait);
FN(invoker, fn_invoke);
FN(parallel, fn_parallel);
FN(looper, fn_loop);
FN(ignores_yield, fn_ignores_yield);
FN(nested, fn_nested);
FN(bad_yield, fn_bad_yield);
FN(sender, fn_send);
FN(events, fn_events);

static const struct ing_function *const all_fns[] = {
	&three, &flaky, &flaky_r, &fatal_step, &recovers, &fails, &sleeper, &waiter,
	&invoker, &parallel, &looper, &ignores_yield, &nested, &bad_yield,
	&sender, &events, NULL
};

/* ---- harness ------------------------------------------------------------ */

static struct ing_app *app;
static struct ing_response res;

static int setup(void **state)
{
	struct ing_config cfg;
	struct ing_hooks hooks = { .transport = &fake_transport,
	    .now_ms = fake_now,
	    .sleep_ms = no_sleep };

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.app_id = "omni";
	cfg.dev = "1";
	cfg.event_key = "evt";
	log_set_level(LOG_ERROR);
	if (ing_app_new(&cfg, &hooks, &app) != ING_OK)
		return -1;
	for (int i = 0; all_fns[i] != NULL; i++)
		if (ing_app_register(app, all_fns[i]) != ING_OK)
			return -1;
	memset(&fake, 0, sizeof(fake));
	memset(&res, 0, sizeof(res));
	calls_a = calls_b = calls_c = fails_left = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ing_response_free(&res);
	ing_app_free(app);
	app = NULL;
	return 0;
}

static char *hash(const char *id, unsigned n)
{
	static char h[4][ING_STEP_HASH_LEN];
	static int k;
	char *p = h[k++ % 4];

	assert_int_equal(ing_step_hash(id, n, p), 0);
	return p;
}

/*
 * POST a call for function 'fn' with optional stepId 'step', memoized
 * 'steps' (a JSON object text) and ctx members 'ctx_extra' (text inside
 * the ctx object).  Returns the parsed body (caller puts).
 */
static struct json_object *call_full(const char *fn, const char *step,
    const char *steps, const char *ctx_extra, const char *event_data)
{
	char query[256], body[4096];
	struct ing_request req;
	struct json_object *out = NULL;

	snprintf(query, sizeof(query), "fnId=omni-%s%s%s", fn,
	    step != NULL ? "&stepId=" : "", step != NULL ? step : "");
	snprintf(body, sizeof(body), "{\"event\":{\"name\":\"test/go\","
	    "\"data\":%s},\"steps\":%s,\"ctx\":{\"run_id\":\"run1\""
	    "%s%s}}", event_data != NULL ? event_data : "{}",
	    steps != NULL ? steps : "{}", ctx_extra != NULL ? "," : "",
	    ctx_extra != NULL ? ctx_extra : "");
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.query = query;
	req.body = body;
	req.body_len = strlen(body);
	ing_response_free(&res);
	assert_int_equal(ing_serve(app, &req, &res), ING_OK);
	assert_non_null(res.body);
	assert_int_equal(ing_json_parse(res.body, res.body_len, &out), 0);
	assert_string_equal(ing_response_header(&res, "X-Inngest-Sdk"),
	    ING_SDK_HEADER);
	assert_string_equal(ing_response_header(&res,
	    "X-Inngest-Req-Version"), "2");
	return out;
}

static struct json_object *call(const char *fn, const char *steps)
{
	return call_full(fn, NULL, steps, NULL, NULL);
}

static const char *op_str(struct json_object *ops, size_t i, const char *key)
{
	struct json_object *v;

	assert_true(json_object_is_type(ops, json_type_array));
	assert_true(i < json_object_array_length(ops));
	if (!json_object_object_get_ex(json_object_array_get_idx(ops, i), key,
	    &v))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *op_get(struct json_object *ops, size_t i,
    const char *key)
{
	return json_object_object_get(json_object_array_get_idx(ops, i), key);
}

/* ---- tests -------------------------------------------------------------- */

static void test_three_steps_run_one_per_call_then_finish(void **state)
{
	char steps[512];
	struct json_object *o;

	(void)state;
	o = call("three", NULL);
	assert_int_equal(res.status, 206);
	assert_int_equal(json_object_array_length(o), 1);
	assert_string_equal(op_str(o, 0, "op"), "StepRun");
	assert_string_equal(op_str(o, 0, "id"), hash("first", 0));
	assert_string_equal(op_str(o, 0, "displayName"), "first");
	assert_int_equal(json_object_get_int(op_get(o, 0, "data")), 1);
	json_object_put(o);

	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":1}}",
	    hash("first", 0));
	o = call("three", steps);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "id"), hash("second", 0));
	assert_int_equal(json_object_get_int(op_get(o, 0, "data")), 2);
	json_object_put(o);

	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":1},\"%s\":"
	    "{\"data\":2}}", hash("first", 0), hash("second", 0));
	o = call("three", steps);
	assert_string_equal(op_str(o, 0, "id"), hash("third", 0));
	json_object_put(o);

	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":1},\"%s\":"
	    "{\"data\":2},\"%s\":{\"data\":3}}", hash("first", 0),
	    hash("second", 0), hash("third", 0));
	o = call("three", steps);
	assert_int_equal(res.status, 200);
	assert_int_equal(json_object_get_int(json_object_object_get(o,
	    "sum")), 3);
	json_object_put(o);
	/* Each step's code ran exactly once over the four calls. */
	assert_int_equal(calls_a, 1);
	assert_int_equal(calls_b, 1);
	assert_int_equal(calls_c, 1);
}

static void test_disable_immediate_execution_plans_then_target_runs(
    void **state)
{
	struct json_object *o;

	(void)state;
	o = call_full("three", NULL, NULL,
	    "\"disable_immediate_execution\":true", NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "op"), "StepPlanned");
	assert_string_equal(op_str(o, 0, "id"), hash("first", 0));
	assert_null(op_get(o, 0, "data"));
	assert_int_equal(calls_a, 0);
	json_object_put(o);

	o = call_full("three", hash("first", 0), NULL,
	    "\"disable_immediate_execution\":true", NULL);
	assert_int_equal(res.status, 206);
	assert_int_equal(json_object_array_length(o), 1);
	assert_string_equal(op_str(o, 0, "op"), "StepRun");
	assert_int_equal(calls_a, 1);
	json_object_put(o);
}

static void test_stepid_step_means_no_target(void **state)
{
	struct json_object *o;

	(void)state;
	o = call_full("three", "step", NULL, NULL, NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "op"), "StepRun");
	json_object_put(o);
}

static void test_unknown_target_reports_step_not_found(void **state)
{
	char steps[256];
	struct json_object *o;

	(void)state;
	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":1}}",
	    hash("first", 0));
	o = call_full("three", "0123456789abcdef0123456789abcdef01234567",
	    steps, NULL, NULL);
	assert_int_equal(res.status, 206);
	assert_int_equal(json_object_array_length(o), 1);
	assert_string_equal(op_str(o, 0, "op"), "StepNotFound");
	assert_string_equal(op_str(o, 0, "id"),
	    "0123456789abcdef0123456789abcdef01234567");
	assert_int_equal(calls_b, 0);
	json_object_put(o);
}

static void test_step_error_retriable_before_last_attempt(void **state)
{
	struct json_object *o, *err;

	(void)state;
	fails_left = 1;
	o = call_full("flaky", NULL, NULL, "\"max_attempts\":3", NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "op"), "StepError");
	err = op_get(o, 0, "error");
	assert_string_equal(json_object_get_string(json_object_object_get(err,
	    "message")), "flaky 1");
	assert_string_equal(ing_response_header(&res, "X-Inngest-No-Retry"),
	    "false");
	assert_string_equal(ing_response_header(&res, "Retry-After"), "7");
	json_object_put(o);

	/* The retry (attempt 1) succeeds. */
	o = call_full("flaky", NULL, NULL, "\"attempt\":1,\"max_attempts\":3",
	    NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "op"), "StepRun");
	assert_string_equal(json_object_get_string(op_get(o, 0, "data")), "ok");
	assert_null(ing_response_header(&res, "X-Inngest-No-Retry"));
	json_object_put(o);
}

static void test_step_error_on_last_attempt_is_step_failed(void **state)
{
	struct json_object *o;

	(void)state;
	fails_left = 5;
	/* attempt 2 of 3 is the last one */
	o = call_full("flaky", NULL, NULL, "\"attempt\":2,\"max_attempts\":3",
	    NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "op"), "StepFailed");
	assert_string_equal(ing_response_header(&res, "X-Inngest-No-Retry"),
	    "true");
	assert_null(ing_response_header(&res, "Retry-After"));
	json_object_put(o);
}

static void test_fn_retries_bound_attempts_without_max_attempts(void **state)
{
	struct json_object *o;

	(void)state;
	fails_left = 5;
	/* flaky_r has retries = 1: attempt 1 is the last. */
	o = call_full("flaky_r", NULL, NULL, "\"attempt\":1", NULL);
	assert_string_equal(op_str(o, 0, "op"), "StepFailed");
	json_object_put(o);
	/* Without either, only the server knows: StepError. */
	o = call_full("flaky", NULL, NULL, "\"attempt\":9", NULL);
	assert_string_equal(op_str(o, 0, "op"), "StepError");
	json_object_put(o);
}

static void test_non_retriable_step_error_is_step_failed(void **state)
{
	struct json_object *o, *err;

	(void)state;
	o = call("fatal_step", NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "op"), "StepFailed");
	err = op_get(o, 0, "error");
	assert_string_equal(json_object_get_string(json_object_object_get(err,
	    "name")), "Fatal");
	assert_string_equal(ing_response_header(&res, "X-Inngest-No-Retry"),
	    "true");
	json_object_put(o);
}

static void test_memoized_step_error_propagated_is_non_retriable(void **state)
{
	char steps[256];
	struct json_object *o;

	(void)state;
	snprintf(steps, sizeof(steps), "{\"%s\":{\"error\":{\"name\":\"Fatal\","
	    "\"message\":\"cannot go on\",\"stack\":\"s\"}}}",
	    hash("fatal", 0));
	o = call("fatal_step", steps);
	assert_int_equal(res.status, 400);
	assert_string_equal(ing_response_header(&res, "X-Inngest-No-Retry"),
	    "true");
	/* The original serialised error, unchanged. */
	assert_string_equal(json_object_get_string(json_object_object_get(o,
	    "name")), "Fatal");
	assert_string_equal(json_object_get_string(json_object_object_get(o,
	    "stack")), "s");
	assert_int_equal(calls_a, 0);
	json_object_put(o);
}

static void test_memoized_step_error_can_be_handled(void **state)
{
	char steps[256];
	struct json_object *o;

	(void)state;
	snprintf(steps, sizeof(steps), "{\"%s\":{\"error\":{\"name\":\"Fatal\","
	    "\"message\":\"cannot go on\"}}}", hash("fatal", 0));
	o = call("recovers", steps);
	assert_int_equal(res.status, 200);
	assert_string_equal(json_object_get_string(o), "cannot go on");
	json_object_put(o);
}

static void test_function_errors_map_to_status_and_headers(void **state)
{
	struct json_object *o;

	(void)state;
	o = call_full("fails", NULL, NULL, NULL, "{\"kind\":\"fatal\"}");
	assert_int_equal(res.status, 400);
	assert_string_equal(ing_response_header(&res, "X-Inngest-No-Retry"),
	    "true");
	assert_string_equal(json_object_get_string(json_object_object_get(o,
	    "name")), "BadInput");
	assert_string_equal(json_object_get_string(json_object_object_get(o,
	    "message")), "bad input");
	json_object_put(o);

	o = call_full("fails", NULL, NULL, NULL, "{\"kind\":\"transient\"}");
	assert_int_equal(res.status, 500);
	assert_string_equal(ing_response_header(&res, "X-Inngest-No-Retry"),
	    "false");
	assert_null(ing_response_header(&res, "Retry-After"));
	json_object_put(o);

	o = call_full("fails", NULL, NULL, NULL, "{\"kind\":\"later\"}");
	assert_int_equal(res.status, 500);
	assert_string_equal(ing_response_header(&res, "X-Inngest-No-Retry"),
	    "false");
	assert_string_equal(ing_response_header(&res, "Retry-After"), "30");
	json_object_put(o);
}

static void test_sleep_reported_then_memoized_null_continues(void **state)
{
	char steps[256];
	struct json_object *o, *opts;

	(void)state;
	o = call("sleeper", NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "op"), "Sleep");
	assert_string_equal(op_str(o, 0, "id"), hash("nap", 0));
	opts = op_get(o, 0, "opts");
	assert_string_equal(json_object_get_string(json_object_object_get(opts,
	    "duration")), "1s");
	json_object_put(o);

	snprintf(steps, sizeof(steps), "{\"%s\":null}", hash("nap", 0));
	o = call("sleeper", steps);
	assert_int_equal(res.status, 200);
	assert_string_equal(json_object_get_string(o), "rested");
	json_object_put(o);
}

static void test_wait_for_event_reported_with_opts(void **state)
{
	struct json_object *o, *opts;

	(void)state;
	o = call("waiter", NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "op"), "WaitForEvent");
	opts = op_get(o, 0, "opts");
	assert_string_equal(json_object_get_string(json_object_object_get(opts,
	    "event")), "test/approved");
	assert_string_equal(json_object_get_string(json_object_object_get(opts,
	    "timeout")), "2s");
	assert_string_equal(json_object_get_string(json_object_object_get(opts,
	    "if")), "async.data.id == event.data.id");
	json_object_put(o);
}

static void test_wait_for_event_timeout_and_match(void **state)
{
	char steps[256];
	struct json_object *o;

	(void)state;
	snprintf(steps, sizeof(steps), "{\"%s\":null}", hash("approval", 0));
	o = call("waiter", steps);
	assert_int_equal(res.status, 200);
	assert_string_equal(json_object_get_string(o), "timed out");
	json_object_put(o);

	snprintf(steps, sizeof(steps), "{\"%s\":{\"name\":\"test/approved\","
	    "\"data\":{\"id\":1}}}", hash("approval", 0));
	o = call("waiter", steps);
	assert_int_equal(res.status, 200);
	assert_string_equal(json_object_get_string(o), "test/approved");
	json_object_put(o);

	/* A server that wraps the event in {"data": ...} works too. */
	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":{\"name\":"
	    "\"test/approved\",\"data\":{}}}}", hash("approval", 0));
	o = call("waiter", steps);
	assert_string_equal(json_object_get_string(o), "test/approved");
	json_object_put(o);
}

static void test_invoke_reported_then_data_and_error(void **state)
{
	char steps[256];
	struct json_object *o, *opts, *payload;

	(void)state;
	o = call("invoker", NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "op"), "InvokeFunction");
	opts = op_get(o, 0, "opts");
	assert_string_equal(json_object_get_string(json_object_object_get(opts,
	    "function_id")), "omni-child");
	payload = json_object_object_get(opts, "payload");
	assert_int_equal(json_object_get_int(json_object_object_get(
	    json_object_object_get(payload, "data"), "x")), 5);
	json_object_put(o);

	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":{\"y\":6}}}",
	    hash("call-child", 0));
	o = call("invoker", steps);
	assert_int_equal(res.status, 200);
	assert_int_equal(json_object_get_int(json_object_object_get(o, "y")), 6);
	json_object_put(o);

	snprintf(steps, sizeof(steps), "{\"%s\":{\"error\":{\"name\":\"E\","
	    "\"message\":\"child failed\"}}}", hash("call-child", 0));
	o = call("invoker", steps);
	assert_int_equal(res.status, 400);
	assert_string_equal(json_object_get_string(json_object_object_get(o,
	    "message")), "child failed");
	json_object_put(o);
}

static void test_parallel_steps_planned_together(void **state)
{
	char steps[256];
	struct json_object *o;

	(void)state;
	o = call("parallel", NULL);
	assert_int_equal(res.status, 206);
	assert_int_equal(json_object_array_length(o), 2);
	assert_string_equal(op_str(o, 0, "op"), "StepPlanned");
	assert_string_equal(op_str(o, 0, "id"), hash("left", 0));
	assert_string_equal(op_str(o, 1, "op"), "StepPlanned");
	assert_string_equal(op_str(o, 1, "id"), hash("right", 0));
	assert_int_equal(calls_a + calls_c, 0);
	json_object_put(o);

	/* Each planned step then runs alone in its own call. */
	o = call_full("parallel", hash("right", 0), NULL,
	    "\"disable_immediate_execution\":true", NULL);
	assert_int_equal(res.status, 206);
	assert_int_equal(json_object_array_length(o), 1);
	assert_string_equal(op_str(o, 0, "op"), "StepRun");
	assert_string_equal(op_str(o, 0, "id"), hash("right", 0));
	assert_int_equal(calls_a, 0);
	assert_int_equal(calls_c, 1);
	json_object_put(o);

	/* One memoized, one still pending: nothing new to plan twice. */
	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":1}}",
	    hash("right", 0));
	o = call_full("parallel", NULL, steps,
	    "\"disable_immediate_execution\":true", NULL);
	assert_int_equal(res.status, 206);
	assert_int_equal(json_object_array_length(o), 1);
	assert_string_equal(op_str(o, 0, "id"), hash("left", 0));
	json_object_put(o);

	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":1},\"%s\":"
	    "{\"data\":1}}", hash("left", 0), hash("right", 0));
	o = call("parallel", steps);
	assert_int_equal(res.status, 200);
	assert_int_equal(json_object_get_int(o), 2);
	json_object_put(o);
}

static void test_repeated_ids_get_index_suffix(void **state)
{
	char steps[512];
	struct json_object *o;

	(void)state;
	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":1}}",
	    hash("item", 0));
	o = call("looper", steps);
	assert_string_equal(op_str(o, 0, "id"), hash("item", 1));
	assert_int_equal(json_object_get_int(json_object_object_get(
	    op_get(o, 0, "userland"), "index")), 1);
	json_object_put(o);

	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":1},\"%s\":"
	    "{\"data\":1}}", hash("item", 0), hash("item", 1));
	o = call("looper", steps);
	assert_string_equal(op_str(o, 0, "id"), hash("item", 2));
	json_object_put(o);
}

static void test_tools_after_a_report_only_yield(void **state)
{
	struct json_object *o;

	(void)state;
	o = call("ignores_yield", NULL);
	assert_int_equal(res.status, 206);
	assert_int_equal(json_object_array_length(o), 1);
	assert_string_equal(op_str(o, 0, "id"), hash("first", 0));
	assert_int_equal(calls_a, 1);
	assert_int_equal(calls_b + calls_c, 0);
	json_object_put(o);
}

static void test_step_inside_step_code_is_a_step_error(void **state)
{
	struct json_object *o, *err;

	(void)state;
	o = call("nested", NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "op"), "StepError");
	err = op_get(o, 0, "error");
	assert_non_null(strstr(json_object_get_string(json_object_object_get(
	    err, "message")), "inside the code of another step"));
	assert_int_equal(calls_a, 0);
	json_object_put(o);
}

static void test_yield_without_a_step_is_retriable_error(void **state)
{
	struct json_object *o;

	(void)state;
	o = call("bad_yield", NULL);
	assert_int_equal(res.status, 500);
	assert_string_equal(ing_response_header(&res, "X-Inngest-No-Retry"),
	    "false");
	json_object_put(o);
}

static void test_send_event_step_sends_then_memoizes_ids(void **state)
{
	char steps[256];
	struct json_object *o, *data;

	(void)state;
	fake.status[0] = 200;
	fake.body[0] = "{\"ids\":[\"01HID\"],\"status\":200}";
	o = call("sender", NULL);
	assert_int_equal(res.status, 206);
	assert_string_equal(op_str(o, 0, "op"), "StepRun");
	data = op_get(o, 0, "data");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
	    json_object_object_get(data, "ids"), 0)), "01HID");
	assert_int_equal(fake.calls, 1);
	assert_string_equal(fake.url[0], "http://localhost:8288/e/evt");
	json_object_put(o);

	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":{\"ids\":"
	    "[\"01HID\"]}}}", hash("notify", 0));
	o = call("sender", steps);
	assert_int_equal(res.status, 200);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
	    o, 0)), "01HID");
	assert_int_equal(fake.calls, 1); /* not sent again */
	json_object_put(o);
}

static void test_use_api_fetches_batch_and_actions(void **state)
{
	char actions[256];
	struct json_object *o;

	(void)state;
	snprintf(actions, sizeof(actions), "{\"%s\":{\"data\":1}}",
	    hash("first", 0));
	fake.status[0] = 200;
	fake.body[0] = "[{\"name\":\"test/big\",\"data\":{}},"
	    "{\"name\":\"test/second\",\"data\":{}}]";
	fake.status[1] = 200;
	fake.body[1] = actions;
	o = call_full("events", NULL, NULL, "\"use_api\":true", NULL);
	assert_int_equal(res.status, 200);
	assert_int_equal(json_object_get_int(json_object_object_get(o, "n")),
	    2);
	assert_string_equal(json_object_get_string(json_object_object_get(o,
	    "name")), "test/big");
	assert_string_equal(fake.url[0],
	    "http://localhost:8288/v0/runs/run1/batch");
	assert_string_equal(fake.url[1],
	    "http://localhost:8288/v0/runs/run1/actions");
	assert_int_equal(calls_a, 0);
	json_object_put(o);
}

static void test_use_api_failure_is_retriable_500(void **state)
{
	struct json_object *o;

	(void)state;
	fake.status[0] = 404;
	fake.body[0] = "{\"error\":\"no such run\"}";
	o = call_full("events", NULL, NULL, "\"use_api\":true", NULL);
	assert_int_equal(res.status, 500);
	assert_string_equal(ing_response_header(&res, "X-Inngest-No-Retry"),
	    "false");
	assert_int_equal(calls_a, 0);
	json_object_put(o);
}

static void test_single_event_becomes_events_array(void **state)
{
	char steps[256];
	struct json_object *o;

	(void)state;
	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":1}}",
	    hash("first", 0));
	o = call("events", steps);
	assert_int_equal(json_object_get_int(json_object_object_get(o, "n")),
	    1);
	assert_string_equal(json_object_get_string(json_object_object_get(o,
	    "run")), "run1");
	json_object_put(o);
}

/* ---- ctx.stack order, checked on the ctx directly ----------------------- */

/* A parsed call body with steps 'a' and 'b' memoized and ctx.stack saying
 * they finished as 'x' then 'y'.  The caller puts it. */
static struct json_object *stack_body(const char *a, const char *b,
    const char *x, const char *y)
{
	struct json_object *o = NULL;
	char body[512];

	snprintf(body, sizeof(body), "{\"event\":{\"name\":\"test/go\","
	    "\"data\":{}},\"steps\":{\"%s\":{\"data\":1},\"%s\":{\"data\":2}},"
	    "\"ctx\":{\"stack\":{\"stack\":[\"%s\",\"%s\"],\"current\":2}}}",
	    hash(a, 0), hash(b, 0), hash(x, 0), hash(y, 0));
	assert_int_equal(ing_json_parse(body, strlen(body), &o), 0);
	return o;
}

static void test_stack_order_mismatch_is_noticed(void **state)
{
	struct json_object *b, *v;
	struct ing_ctx ctx;

	(void)state;
	/* The stack says "second" finished before "first". */
	b = stack_body("first", "second", "second", "first");
	assert_int_equal(ing_ctx_init(&ctx, app, &three, b, NULL), ING_OK);
	assert_int_equal(ing_step_run(&ctx, "first", step_a, NULL, &v),
	    ING_RC_OK);
	assert_true(ctx.warned_changed);
	ing_ctx_release(&ctx);

	/* In code order: no warning. */
	json_object_put(b);
	b = stack_body("first", "second", "first", "second");
	assert_int_equal(ing_ctx_init(&ctx, app, &three, b, NULL), ING_OK);
	assert_int_equal(ing_step_run(&ctx, "first", step_a, NULL, &v),
	    ING_RC_OK);
	assert_int_equal(ing_step_run(&ctx, "second", step_a, NULL, &v),
	    ING_RC_OK);
	assert_false(ctx.warned_changed);
	ing_ctx_release(&ctx);
	json_object_put(b);
}

static void test_parallel_siblings_may_complete_in_any_order(void **state)
{
	struct json_object *b, *v;
	struct ing_ctx ctx;

	(void)state;
	b = stack_body("left", "right", "right", "left");
	assert_int_equal(ing_ctx_init(&ctx, app, &parallel, b, NULL), ING_OK);
	assert_int_equal(ing_parallel_begin(&ctx), ING_RC_OK);
	assert_int_equal(ing_step_run(&ctx, "left", step_a, NULL, &v),
	    ING_RC_OK);
	assert_int_equal(ing_step_run(&ctx, "right", step_a, NULL, &v),
	    ING_RC_OK);
	assert_int_equal(ing_parallel_end(&ctx), ING_RC_OK);
	assert_false(ctx.warned_changed);
	ing_ctx_release(&ctx);
	json_object_put(b);
}

static void test_ctx_keep_and_defer_release_on_every_path(void **state)
{
	char body[] = "{\"event\":{\"name\":\"x\",\"data\":{}}}";
	struct json_object *b = NULL;
	struct ing_ctx ctx;
	char *p;

	(void)state;
	assert_int_equal(ing_json_parse(body, strlen(body), &b), 0);
	assert_int_equal(ing_ctx_init(&ctx, app, &three, b, NULL), ING_OK);
	assert_non_null(ing_ctx_keep(&ctx, json_object_new_string("kept")));
	p = malloc(16);
	assert_int_equal(ing_ctx_defer(&ctx, free, p), 0);
	assert_string_equal(ing_ctx_printf(&ctx, "%s-%d", "a", 1), "a-1");
	assert_null(ing_ctx_keep(&ctx, NULL));
	/* ASan reports a leak if release missed any of these. */
	ing_ctx_release(&ctx);
	json_object_put(b);
}

static void test_rc_names_total(void **state)
{
	(void)state;
	for (int i = 0; i <= ING_RC__MAX; i++)
		assert_non_null(ing_rc_name((enum ing_rc)i));
	assert_string_equal(ing_rc_name(ING_RC_YIELD), "yield");
}

/* ---- log hooks ---------------------------------------------------------- */

static struct {
	int lines;
	enum ing_log_level level;
	char event[64];
	char msg[256];
	int calls;
	char fn[64];
	char run_id[32];
	int attempt;
	char rc[16];
	int status;
	size_t ops;
} logged;

static void record_log(void *ud, enum ing_log_level level, const char *event,
    const char *msg)
{
	assert_ptr_equal(ud, &logged);
	logged.lines++;
	logged.level = level;
	snprintf(logged.event, sizeof(logged.event), "%s", event);
	snprintf(logged.msg, sizeof(logged.msg), "%s", msg);
}

static void record_call(void *ud, const struct ing_log_call *c)
{
	assert_ptr_equal(ud, &logged);
	logged.calls++;
	snprintf(logged.fn, sizeof(logged.fn), "%s", c->fn);
	snprintf(logged.run_id, sizeof(logged.run_id), "%s",
	    c->run_id != NULL ? c->run_id : "(none)");
	logged.attempt = c->attempt;
	snprintf(logged.rc, sizeof(logged.rc), "%s", c->rc);
	logged.status = c->status;
	logged.ops = c->ops;
	assert_true(c->ms >= 0);
}

/* The SDK logs only through the hooks: one message per problem, one
 * structured line per call, with the fields the host needs. */
static void test_log_hooks_get_messages_and_call_lines(void **state)
{
	struct ing_config cfg = { .app_id = "omni", .dev = "1" };
	struct ing_hooks hooks = { .transport = &fake_transport,
	    .now_ms = fake_now, .sleep_ms = no_sleep, .log = record_log,
	    .log_call = record_call, .log_ud = &logged };
	char steps[256];
	struct json_object *o;

	(void)state;
	memset(&logged, 0, sizeof(logged));
	ing_app_free(app);
	assert_int_equal(ing_app_new(&cfg, &hooks, &app), ING_OK);
	for (int i = 0; all_fns[i] != NULL; i++)
		assert_int_equal(ing_app_register(app, all_fns[i]), ING_OK);
	/* Registering twice is refused and says so. */
	assert_int_equal(ing_app_register(app, &three), ING_EDUPLICATE);
	assert_int_equal(logged.lines, 1);
	assert_int_equal(logged.level, ING_LOG_ERROR);
	assert_string_equal(logged.event, "inngest_register");
	assert_string_equal(logged.msg, "function 'three' registered twice");

	snprintf(steps, sizeof(steps), "{\"%s\":{\"data\":1}}",
	    hash("first", 0));
	o = call_full("three", "0123456789abcdef0123456789abcdef01234567",
	    steps, NULL, NULL);
	assert_int_equal(res.status, 206);
	json_object_put(o);
	/* The dev-server warning (once per process, so maybe not here) and
	 * the step-not-found warning went to the message hook. */
	assert_true(logged.lines >= 2);
	assert_int_equal(logged.level, ING_LOG_WARN);
	assert_string_equal(logged.event, "inngest_step_not_found");
	assert_string_equal(logged.msg, "fn omni-three run run1: step "
	    "0123456789abcdef0123456789abcdef01234567 not found");
	assert_int_equal(logged.calls, 1);
	assert_string_equal(logged.fn, "omni-three");
	assert_string_equal(logged.run_id, "run1");
	assert_string_equal(logged.rc, "yield");
	assert_int_equal(logged.status, 206);
	/* StepNotFound is the answer, not an op the function reported. */
	assert_int_equal(logged.ops, 0);
}

/* ---- SDK-internal helpers (util.c) -------------------------------------- */

/* The SDK's own query decoder keeps the rules of Omni's HTTP layer. */
static void test_query_get_decodes_like_the_http_layer(void **state)
{
	char v[8];

	(void)state;
	assert_int_equal(ing_query_get("a=1&fnId=x%2Fy+z&b", "fnId", v,
	    sizeof(v)), 1);
	assert_string_equal(v, "x/y z");
	assert_int_equal(ing_query_get("b&fnId", "fnId", v, sizeof(v)), 1);
	assert_string_equal(v, "");
	assert_int_equal(ing_query_get("fnIdx=1", "fnId", v, sizeof(v)), 0);
	assert_int_equal(ing_query_get(NULL, "fnId", v, sizeof(v)), 0);
	assert_int_equal(ing_query_get("fnId=%00", "fnId", v, sizeof(v)), -1);
	assert_int_equal(ing_query_get("fnId=%4", "fnId", v, sizeof(v)), -1);
	assert_int_equal(ing_query_get("fnId=%zz", "fnId", v, sizeof(v)), -1);
	assert_int_equal(ing_query_get("fnId=1234567", "fnId", v, sizeof(v)),
	    1);
	assert_int_equal(ing_query_get("fnId=12345678", "fnId", v,
	    sizeof(v)), -1);
	assert_int_equal(ing_query_get("fnId=%41%62", "fnId", v, sizeof(v)),
	    1);
	assert_string_equal(v, "Ab");
}

static void test_hex_encode_both_cases(void **state)
{
	const unsigned char in[] = { 0x00, 0x1f, 0xab, 0xff };
	char out[9];

	(void)state;
	ing_hex_encode(in, sizeof(in), out, 0);
	assert_string_equal(out, "001fabff");
	ing_hex_encode(in, sizeof(in), out, 1);
	assert_string_equal(out, "001FABFF");
	ing_hex_encode(in, 0, out, 0);
	assert_string_equal(out, "");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_three_steps_run_one_per_call_then_finish),
		T(test_disable_immediate_execution_plans_then_target_runs),
		T(test_stepid_step_means_no_target),
		T(test_unknown_target_reports_step_not_found),
		T(test_log_hooks_get_messages_and_call_lines),
		T(test_query_get_decodes_like_the_http_layer),
		T(test_hex_encode_both_cases),
		T(test_step_error_retriable_before_last_attempt),
		T(test_step_error_on_last_attempt_is_step_failed),
		T(test_fn_retries_bound_attempts_without_max_attempts),
		T(test_non_retriable_step_error_is_step_failed),
		T(test_memoized_step_error_propagated_is_non_retriable),
		T(test_memoized_step_error_can_be_handled),
		T(test_function_errors_map_to_status_and_headers),
		T(test_sleep_reported_then_memoized_null_continues),
		T(test_wait_for_event_reported_with_opts),
		T(test_wait_for_event_timeout_and_match),
		T(test_invoke_reported_then_data_and_error),
		T(test_parallel_steps_planned_together),
		T(test_repeated_ids_get_index_suffix),
		T(test_tools_after_a_report_only_yield),
		T(test_step_inside_step_code_is_a_step_error),
		T(test_yield_without_a_step_is_retriable_error),
		T(test_send_event_step_sends_then_memoizes_ids),
		T(test_use_api_fetches_batch_and_actions),
		T(test_use_api_failure_is_retriable_500),
		T(test_single_event_becomes_events_array),
		T(test_stack_order_mismatch_is_noticed),
		T(test_parallel_siblings_may_complete_in_any_order),
		T(test_ctx_keep_and_defer_release_on_every_path),
		T(test_rc_names_total),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
