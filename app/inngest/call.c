/*
 * call.c -- call requests (spec 4.4, 5): POST /api/inngest?fnId=..&stepId=..
 * verified, its function found, its full payload fetched when the server
 * trimmed it (ctx.use_api), the function run once, and its outcome turned
 * into the answer: 200 with the result, 206 with the reported ops, 400 /
 * 500 with an error and X-Inngest-No-Retry.
 *
 * An unknown fnId gets 500, as the spec (4.4.1) and inngest-js answer;
 * inngestgo's 410 is retried by the server exactly like a 500 (no
 * X-Inngest-No-Retry on either), so nothing is gained by differing from
 * the spec.
 */
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inngest_internal.h"
#include "inngest_jcs.h"
#include "inngest_transport.h"

#define MAX_FN_ID 300
#define MAX_STEP_ID 100
#define MAX_API_PAYLOAD (64u * 1024u * 1024u)

/*
 * Spec 4.1.3: in dev mode nothing is verified, so say once per process if
 * calls do not come from a dev server (a cloud server reaching a dev-mode
 * app is a configuration mistake worth seeing).  The header never decides
 * whether to verify.
 */
static void warn_if_not_dev_server(const struct ing_app *app,
    const struct ing_request *req)
{
	static atomic_flag warned = ATOMIC_FLAG_INIT;
	const char *kind = ing_req_header(req, "X-Inngest-Server-Kind");

	if ((kind == NULL || strcmp(kind, "dev") != 0) &&
	    !atomic_flag_test_and_set(&warned))
		ing_log(app, ING_LOG_WARN, "inngest_not_dev_server", "dev mode "
		    "(INNGEST_DEV) but a call came without X-Inngest-Server-"
		    "Kind: dev; signatures are not checked in dev mode");
}

/* ---- ctx.use_api (spec 4.4.2) ----------------------------------------- */

/* GET {api}/v0/runs/{run_id}/{what}; '*out' a new reference. */
static enum ing_err fetch_run_part(struct ing_app *app, const char *run_id,
    const char *what, enum json_type want, struct json_object **out)
{
	struct ing_http_res hr;
	struct ing_buf b;
	enum ing_err err;
	char *url;

	*out = NULL;
	ing_buf_init(&b);
	ing_buf_puts(&b, app->api_origin);
	ing_buf_puts(&b, "/v0/runs/");
	ing_buf_put_urlenc(&b, run_id);
	ing_buf_putc(&b, '/');
	ing_buf_puts(&b, what);
	url = ing_buf_take(&b, NULL);
	if (url == NULL)
		return ING_ENOMEM;
	err = ing_app_api_request(app, "GET", url, NULL, 0, NULL, 0,
	    MAX_API_PAYLOAD, &hr);
	free(url);
	if (err != ING_OK)
		return err;
	if (hr.status != 200)
		err = hr.status >= 500 ? ING_EUPSTREAM : ING_EREJECTED;
	else if (ing_json_parse(hr.body, hr.body_len, out) != ING_JCS_OK ||
	    !json_object_is_type(*out, want)) {
		json_object_put(*out);
		*out = NULL;
		err = ING_EPROTOCOL;
	}
	ing_http_res_free(&hr);
	return err;
}

/* The server sets ctx.use_api; older servers (and inngestgo's request
 * type) have it at the top level. */
static int use_api(struct json_object *body)
{
	struct json_object *cx, *v;

	if (json_object_object_get_ex(body, "ctx", &cx) &&
	    json_object_object_get_ex(cx, "use_api", &v) &&
	    json_object_get_boolean(v))
		return 1;
	return json_object_object_get_ex(body, "use_api", &v) &&
	    json_object_get_boolean(v);
}

/* Replace event, events and steps in 'body' with the API's copies. */
static enum ing_err load_full_payload(struct ing_app *app,
    struct json_object *body)
{
	struct json_object *cx, *v, *batch = NULL, *actions = NULL, *first;
	const char *run_id = NULL;
	enum ing_err err;

	if (json_object_object_get_ex(body, "ctx", &cx) &&
	    json_object_object_get_ex(cx, "run_id", &v) &&
	    json_object_is_type(v, json_type_string))
		run_id = json_object_get_string(v);
	if (run_id == NULL || *run_id == '\0')
		return ING_EPROTOCOL;
	err = fetch_run_part(app, run_id, "batch", json_type_array, &batch);
	if (err == ING_OK)
		err = fetch_run_part(app, run_id, "actions", json_type_object,
		    &actions);
	if (err != ING_OK) {
		json_object_put(batch);
		json_object_put(actions);
		return err;
	}
	/* Spec: event is the first of the batch.  Each add takes its
	 * value, so every one runs even after a failure. */
	first = json_object_array_get_idx(batch, 0);
	if (first != NULL &&
	    ing_json_add(body, "event", json_object_get(first)) != 0)
		err = ING_ENOMEM;
	if (ing_json_add(body, "events", batch) != 0)
		err = ING_ENOMEM;
	if (ing_json_add(body, "steps", actions) != 0)
		err = ING_ENOMEM;
	return err;
}

/* ---- the answer -------------------------------------------------------- */

/* 206 [{"id": target, "op": "StepNotFound"}] (spec 5.3.1). */
static void respond_step_not_found(struct ing_ctx *ctx,
    struct ing_response *res)
{
	struct json_object *arr = json_object_new_array(), *op;

	op = arr != NULL ? ing_json_push_object(arr) : NULL;
	if (op == NULL || ing_json_add_str(op, "id", ctx->target) != 0 ||
	    ing_json_add_str(op, "op", "StepNotFound") != 0) {
		json_object_put(arr);
		ing_res_error(res, 0, "SDKError", "out of memory", 0);
		return;
	}
	ing_log(ctx->app, ING_LOG_WARN, "inngest_step_not_found", "fn %s "
	    "run %s: step %s not found", ctx->fn_id, ctx->run_id, ctx->target);
	ing_res_json(res, 206, arr);
}

/* 206 with the reported ops and the retry headers their errors imply. */
static void respond_ops(struct ing_ctx *ctx, struct ing_response *res)
{
	char num[24];

	ing_res_json(res, 206, json_object_get(ctx->ops));
	if (ctx->op_no_retry >= 0)
		ing_res_set_header(res, "X-Inngest-No-Retry",
		    ctx->op_no_retry ? "true" : "false");
	if (ctx->op_retry_after > 0) {
		snprintf(num, sizeof(num), "%ld", ctx->op_retry_after);
		ing_res_set_header(res, "Retry-After", num);
	}
}

/* Error outcomes of the function (spec 4.4.3, 5.2.2). */
static void respond_failure(struct ing_ctx *ctx, enum ing_rc rc,
    struct ing_response *res)
{
	const char *name = ctx->has_error ? ctx->err_name : "Error";

	switch (rc) {
	case ING_RC_STEP_FAILED:
		/* The step's own serialized error, not retried. */
		if (ctx->step_error_json != NULL) {
			ing_res_json(res, 400,
			    json_object_get(ctx->step_error_json));
			ing_res_set_header(res, "X-Inngest-No-Retry", "true");
		} else {
			ing_res_error(res, 1, "StepError", "step failed", 0);
		}
		return;
	case ING_RC_TIMEOUT:
		ing_res_error(res, 1, "EventNotReceived",
		    "the awaited event did not arrive in time", 0);
		return;
	case ING_RC_NO_RETRY:
		ing_res_error(res, 1, name, ctx->has_error ?
		    ctx->err_message : "function failed", 0);
		return;
	default:
		ing_res_error(res, 0, name, ctx->has_error ? ctx->err_message :
		    rc == ING_RC_RETRY ? "function failed" :
		    "function returned an unknown code",
		    ctx->has_error ? ctx->err_retry_after : 0);
		return;
	}
}

/* Turn the function's outcome into the HTTP answer. */
static void respond_run(struct ing_ctx *ctx, enum ing_rc rc,
    struct json_object *result, struct ing_response *res)
{
	if (rc != ING_RC_OK && rc != ING_RC_YIELD)
		respond_failure(ctx, rc, res);
	else if (json_object_array_length(ctx->ops) > 0)
		respond_ops(ctx, res); /* ops take precedence over a result */
	else if (ctx->target != NULL && !ctx->target_found)
		respond_step_not_found(ctx, res);
	else if (rc == ING_RC_YIELD)
		ing_res_error(res, 0, "SDKError", "function yielded without "
		    "reporting a step", 0);
	else
		ing_res_json(res, 200, json_object_get(result));
}

static void log_call(struct ing_ctx *ctx, enum ing_rc rc, int status,
    long long ms)
{
	const struct ing_hooks *h = &ctx->app->hooks;
	struct ing_log_call line;

	/* Fields, not text: the host decides how the line looks. */
	if (h->log_call == NULL)
		return;
	line.fn = ctx->fn_id;
	line.run_id = ctx->run_id;
	line.attempt = ctx->attempt;
	line.rc = ing_rc_name(rc);
	line.status = status;
	line.ops = json_object_array_length(ctx->ops);
	line.ms = ms;
	h->log_call(h->log_ud, &line);
}

/* ---- the call ------------------------------------------------------------ */

/* Run 'fn' on the parsed request 'body' (borrowed) and answer. */
static void run(struct ing_app *app, const struct ing_function *fn,
    struct json_object *body, const char *step_id, struct ing_response *res)
{
	struct json_object *result = NULL;
	long long t0 = app->hooks.now_ms();
	struct ing_ctx ctx;
	enum ing_err err;
	enum ing_rc rc;

	err = ing_ctx_init(&ctx, app, fn, body, step_id);
	if (err != ING_OK) {
		ing_ctx_release(&ctx);
		if (err == ING_ENOMEM)
			ing_res_error(res, 0, "SDKError", "out of memory", 0);
		else
			ing_res_error(res, 1, "BadRequest", "call request "
			    "without an event", 0);
		return;
	}
	rc = fn->handler(&ctx, &result);
	if (ctx.in_parallel) /* returned from inside a block */
		(void)ing_parallel_end(&ctx);
	respond_run(&ctx, rc, result, res);
	log_call(&ctx, rc, res->status, app->hooks.now_ms() - t0);
	json_object_put(result);
	ing_ctx_release(&ctx);
}

/*
 * fnId and stepId from the query: 0, or -1 with the answer set.  A stepId
 * too long to be a step hash is refused: ignoring it would run steps the
 * server did not ask for.
 */
static int read_ids(struct ing_app *app, const struct ing_request *req,
    struct ing_response *res, const struct ing_function **fn,
    char *step_id, size_t step_len)
{
	char fn_id[MAX_FN_ID], msg[MAX_FN_ID + 32];

	if (ing_query_get(req->query, "fnId", fn_id, sizeof(fn_id)) != 1 ||
	    fn_id[0] == '\0') {
		ing_res_error(res, 1, "BadRequest", "missing fnId", 0);
		return -1;
	}
	*fn = ing_app_find(app, fn_id);
	if (*fn == NULL) {
		snprintf(msg, sizeof(msg), "function not found: %s", fn_id);
		ing_log(app, ING_LOG_WARN, "inngest_fn_not_found",
		    "unknown fnId");
		ing_res_message(res, 500, msg, 0);
		return -1;
	}
	switch (ing_query_get(req->query, "stepId", step_id, step_len)) {
	case 1:
		return 0;
	case 0:
		step_id[0] = '\0';
		return 0;
	default:
		ing_res_error(res, 1, "BadRequest", "stepId too long", 0);
		return -1;
	}
}

void ing_serve_call(struct ing_app *app, const struct ing_request *req,
    struct ing_response *res)
{
	char step_id[MAX_STEP_ID], msg[128];
	const struct ing_function *fn;
	struct json_object *body = NULL;
	enum ing_sig_err se;
	enum ing_err err;

	if (app->mode == ING_MODE_CLOUD) {
		se = ing_serve_verify(app, req, NULL);
		if (se != ING_SIG_OK) {
			ing_res_refuse(app, res, se, "call", 0);
			return;
		}
	} else {
		warn_if_not_dev_server(app, req);
	}
	if (read_ids(app, req, res, &fn, step_id, sizeof(step_id)) != 0)
		return;
	if (ing_json_parse(req->body, req->body_len, &body) != ING_JCS_OK ||
	    !json_object_is_type(body, json_type_object)) {
		json_object_put(body);
		ing_res_error(res, 1, "BadRequest", "malformed call request "
		    "body", 0);
		return;
	}
	if (use_api(body) && (err = load_full_payload(app, body)) != ING_OK) {
		/* Spec 4.4.2: 500, so the server retries the call. */
		snprintf(msg, sizeof(msg), "cannot fetch the run's payload: "
		    "%s", ing_strerror(err));
		ing_log(app, ING_LOG_ERROR, "inngest_use_api_failed", "%s",
		    msg);
		ing_res_error(res, 0, "SDKError", msg, 0);
	} else {
		run(app, fn, body, step_id, res);
	}
	json_object_put(body);
}
