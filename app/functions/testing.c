/*
 * testing.c -- durable functions that exercise the Inngest SDK end to end:
 * a run of three steps, a retried step, a permanent failure, a sleep,
 * parallel steps, a wait for an event, sending and invoking.  Registered
 * only when OMNI_DEBUG_ROUTES=1 (never in production); see functions.h.
 *
 * Each function reads top to bottom; every value a step hands back is
 * borrowed from the invocation, so no path frees anything by hand.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "functions.h"
#include "inngest_step.h"
#include "timeutil.h"

#define NAME_LEN 96

/* ---- helpers ------------------------------------------------------------ */

/* event.data.<key> as a string, or 'def'. */
static const char *data_str(struct ing_ctx *ctx, const char *key,
    const char *def)
{
	struct json_object *data, *v;

	if (json_object_object_get_ex(ing_ctx_event(ctx), "data", &data) &&
	    json_object_object_get_ex(data, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return def;
}

/* event.data.<key> as an integer in [lo, hi], or 'def'. */
static int data_int(struct ing_ctx *ctx, const char *key, int def, int lo,
    int hi)
{
	struct json_object *data, *v;
	int64_t n;

	if (!json_object_object_get_ex(ing_ctx_event(ctx), "data", &data) ||
	    !json_object_object_get_ex(data, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return def;
	n = json_object_get_int64(v);
	return n < lo ? lo : n > hi ? hi : (int)n;
}

/* Step code that returns its own name: what a real step would compute. */
static enum ing_rc step_name(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	(void)ctx;
	*out = json_object_new_string(arg);
	return *out != NULL ? ING_RC_OK :
	    ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
}

/* A new array of the borrowed values 'v' (n of them), or NULL. */
static struct json_object *array_of(struct json_object *const *v, size_t n)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; arr != NULL && i < n; i++)
		if (json_object_array_add(arr, json_object_get(v[i])) != 0) {
			json_object_put(v[i]);
			json_object_put(arr);
			arr = NULL;
		}
	return arr;
}

static enum ing_rc result_or_oom(struct ing_ctx *ctx, struct json_object *r,
    struct json_object **result)
{
	if (r == NULL)
		return ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
	*result = r;
	return ING_RC_OK;
}

/* {"<key>": value} with 'value' taken. */
static struct json_object *object_with(const char *key,
    struct json_object *value)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL || value == NULL ||
	    json_object_object_add(o, key, value) != 0) {
		json_object_put(value);
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* ---- test-three-steps --------------------------------------------------- */

static enum ing_rc three_steps(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *v[3];

	ING_TRY(ing_step_run(ctx, "first", step_name, "first", &v[0]));
	ING_TRY(ing_step_run(ctx, "second", step_name, "second", &v[1]));
	ING_TRY(ing_step_run(ctx, "third", step_name, "third", &v[2]));
	return result_or_oom(ctx, object_with("steps", array_of(v, 3)),
	    result);
}

/* ---- test-flaky --------------------------------------------------------- */

static enum ing_rc flaky_step(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	(void)arg;
	/* Stateless, so any worker of any replica behaves the same: the
	 * first data.failures attempts (default 1) fail. */
	if (ing_ctx_attempt(ctx) < data_int(ctx, "failures", 1, 0, 20))
		return ing_fail(ctx, ING_RC_RETRY, "FlakyError",
		    "this attempt fails on purpose");
	*out = json_object_new_int(ing_ctx_attempt(ctx));
	return ING_RC_OK;
}

static enum ing_rc flaky(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *attempt;

	ING_TRY(ing_step_run(ctx, "flaky", flaky_step, NULL, &attempt));
	return result_or_oom(ctx, object_with("succeeded_on_attempt",
	    json_object_get(attempt)), result);
}

/* ---- test-fatal --------------------------------------------------------- */

static enum ing_rc validate_step(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	(void)arg;
	(void)out;
	return ing_fail(ctx, ING_RC_NO_RETRY, "ValidationError",
	    "input can never be valid");
}

static enum ing_rc fatal(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *v;

	(void)result;
	if (strcmp(data_str(ctx, "where", "step"), "function") == 0)
		return ing_fail(ctx, ING_RC_NO_RETRY, "FatalError",
		    "the function gives up");
	ING_TRY(ing_step_run(ctx, "validate", validate_step, NULL, &v));
	return ing_fail(ctx, ING_RC_NO_RETRY, "Unreachable",
	    "validate cannot succeed");
}

/* ---- test-sleep --------------------------------------------------------- */

static enum ing_rc sleeper(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *v[2];

	ING_TRY(ing_step_run(ctx, "before", step_name, "before", &v[0]));
	ING_TRY(ing_step_sleep(ctx, "nap", data_str(ctx, "duration", "1s")));
	ING_TRY(ing_step_run(ctx, "after", step_name, "after", &v[1]));
	return result_or_oom(ctx, object_with("steps", array_of(v, 2)),
	    result);
}

/* ---- test-cancel -------------------------------------------------------- */

/* The same shape as test-sleep (default nap 30s); cancelled by
 * <prefix>/test.cancel with the same data.id (registration). */
static enum ing_rc cancellable(struct ing_ctx *ctx,
    struct json_object **result)
{
	struct json_object *v[2];

	ING_TRY(ing_step_run(ctx, "before", step_name, "before", &v[0]));
	ING_TRY(ing_step_sleep(ctx, "nap", data_str(ctx, "duration", "30s")));
	ING_TRY(ing_step_run(ctx, "after", step_name, "after", &v[1]));
	return result_or_oom(ctx, object_with("steps", array_of(v, 2)),
	    result);
}

/* ---- test-serial -------------------------------------------------------- */

/* A step that holds its worker thread for data.ms (default 200, at most
 * 2000) and says when it ran: with the function's concurrency limit of
 * 1, no two runs' steps overlap. */
static enum ing_rc busy_step(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	struct json_object *o = json_object_new_object();
	long long start = time_real_ms();

	(void)arg;
	time_sleep_ms(data_int(ctx, "ms", 200, 0, 2000));
	if (o == NULL)
		return ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
	json_object_object_add(o, "start_ms", json_object_new_int64(start));
	json_object_object_add(o, "end_ms",
	    json_object_new_int64(time_real_ms()));
	*out = o;
	return ING_RC_OK;
}

static enum ing_rc serial(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *v;

	ING_TRY(ing_step_run(ctx, "work", busy_step, NULL, &v));
	return result_or_oom(ctx, json_object_get(v), result);
}

/* ---- test-parallel ------------------------------------------------------ */

static enum ing_rc join_step(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	struct json_object *const *v = arg;

	(void)ctx;
	*out = array_of(v, 2);
	return *out != NULL ? ING_RC_OK :
	    ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
}

static enum ing_rc parallel(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *v[2], *joined;
	enum ing_rc left, right;

	ING_TRY(ing_parallel_begin(ctx));
	left = ing_step_run(ctx, "left", step_name, "left", &v[0]);
	right = ing_step_run(ctx, "right", step_name, "right", &v[1]);
	ING_TRY(ing_parallel_end(ctx));
	ING_TRY(left);
	ING_TRY(right);
	ING_TRY(ing_step_run(ctx, "join", join_step, v, &joined));
	return result_or_oom(ctx, object_with("joined",
	    json_object_get(joined)), result);
}

/* ---- test-wait ---------------------------------------------------------- */

static char approve_event[NAME_LEN];

static enum ing_rc waiter(struct ing_ctx *ctx, struct json_object **result)
{
	struct ing_wait_opts w = {
		.event = approve_event,
		.if_expr = "async.data.id == event.data.id",
		.timeout = data_str(ctx, "timeout", "2s"),
	};
	struct json_object *ev = NULL, *r, *data, *who = NULL;
	enum ing_rc rc;

	rc = ing_step_wait_for_event(ctx, "approval", &w, &ev);
	if (rc != ING_RC_OK && rc != ING_RC_TIMEOUT)
		return rc;
	r = json_object_new_object();
	if (r == NULL)
		return ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
	json_object_object_add(r, "matched",
	    json_object_new_boolean(rc == ING_RC_OK));
	if (rc == ING_RC_OK && json_object_object_get_ex(ev, "data", &data))
		json_object_object_get_ex(data, "approver", &who);
	json_object_object_add(r, "approver", json_object_get(who));
	*result = r;
	return ING_RC_OK;
}

/* ---- test-send ---------------------------------------------------------- */

static char sent_event[NAME_LEN];

static enum ing_rc sender(struct ing_ctx *ctx, struct json_object **result)
{
	struct json_object *ev, *data, *ids;

	ev = ing_ctx_keep(ctx, json_object_new_object());
	data = json_object_new_object();
	if (ev == NULL || data == NULL ||
	    json_object_object_add(ev, "data", data) != 0) {
		json_object_put(data);
		return ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
	}
	json_object_object_add(ev, "name", json_object_new_string(sent_event));
	json_object_object_add(data, "from", json_object_new_string(
	    ing_ctx_run_id(ctx)));
	ING_TRY(ing_step_send_event(ctx, "notify", ev, &ids));
	return result_or_oom(ctx, object_with("ids", json_object_get(ids)),
	    result);
}

/* ---- test-invoke -------------------------------------------------------- */

static char invoke_target[NAME_LEN];
static char cancel_event[NAME_LEN];

static enum ing_rc invoker(struct ing_ctx *ctx, struct json_object **result)
{
	struct ing_invoke_opts o = {
		.function_id = invoke_target,
		.data = NULL,
		.timeout = "1m",
	};
	struct json_object *child;

	ING_TRY(ing_step_invoke(ctx, "child", &o, &child));
	return result_or_oom(ctx, object_with("child",
	    json_object_get(child)), result);
}

/* ---- registration ------------------------------------------------------- */

struct slot {
	const char *id;
	const char *event;        /* after "<prefix>/" */
	ing_handler handler;
	int retries;              /* -1: server default */
	char name[NAME_LEN];
	struct ing_function fn;
};

static struct slot slots[] = {
	{ "test-three-steps", "test.three-steps", three_steps, -1, "", {0} },
	{ "test-flaky", "test.flaky", flaky, 3, "", {0} },
	{ "test-fatal", "test.fatal", fatal, 3, "", {0} },
	{ "test-sleep", "test.sleep", sleeper, -1, "", {0} },
	{ "test-parallel", "test.parallel", parallel, -1, "", {0} },
	{ "test-wait", "test.wait", waiter, -1, "", {0} },
	{ "test-send", "test.send", sender, -1, "", {0} },
	{ "test-invoke", "test.invoke", invoker, -1, "", {0} },
	{ "test-cancel", "test.cancellable", cancellable, -1, "", {0} },
	{ "test-serial", "test.serial", serial, -1, "", {0} },
};

/* What the table's columns cannot say: test-cancel's cancelOn and
 * test-serial's concurrency limit. */
static void flow_control(struct slot *s)
{
	if (strcmp(s->id, "test-cancel") == 0) {
		s->fn.cancel[0].event = cancel_event;
		s->fn.cancel[0].if_expr = "async.data.id == event.data.id";
	} else if (strcmp(s->id, "test-serial") == 0)
		s->fn.concurrency[0].limit = 1;
}

enum ing_err functions_register_testing(struct ing_app *app,
    const struct omni_config *cfg)
{
	const char *prefix;
	enum ing_err err;

	if (app == NULL || cfg == NULL)
		return ING_EINVAL;
	if (!cfg->debug_routes)
		return ING_OK;
	prefix = cfg->event_prefix != NULL && *cfg->event_prefix != '\0' ?
	    cfg->event_prefix : "omni";
	snprintf(approve_event, sizeof(approve_event), "%s/test.approve",
	    prefix);
	snprintf(sent_event, sizeof(sent_event), "%s/test.sent", prefix);
	snprintf(invoke_target, sizeof(invoke_target), "%s-test-three-steps",
	    ing_app_id(app));
	snprintf(cancel_event, sizeof(cancel_event), "%s/test.cancel", prefix);
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		struct slot *s = &slots[i];

		if ((size_t)snprintf(s->name, sizeof(s->name), "%s/%s", prefix,
		    s->event) >= sizeof(s->name))
			return ING_EINVAL;
		memset(&s->fn, 0, sizeof(s->fn));
		s->fn.id = s->id;
		s->fn.triggers[0].event = s->name;
		s->fn.handler = s->handler;
		if (s->retries >= 0) {
			s->fn.has_retries = 1;
			s->fn.retries = s->retries;
		}
		flow_control(s);
		err = ing_app_register(app, &s->fn);
		if (err != ING_OK)
			return err;
	}
	return ING_OK;
}
