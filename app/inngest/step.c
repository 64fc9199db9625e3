/*
 * step.c -- the step tools (spec 5): hashing step ids, memoization,
 * the rules for running, planning and reporting steps, parallel blocks.
 *
 * Every tool starts the same way (step_begin): count the id's repeats,
 * hash "id" or "id:n", look the hash up in the request's memoized steps.
 * A hit returns the value.  A miss either runs the step now (a Run step,
 * immediate execution allowed), or appends an op to ctx->ops; after that
 * the tool returns ING_RC_YIELD and the ctx is "halted": the response is
 * decided and any further tool call yields at once.  Inside a parallel
 * block misses do not halt, so every sibling gets reported.
 */
#include <json-c/json.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "inngest_event.h"
#include "inngest_internal.h"

/*
 * SHA-1, fetched once per process: EVP_sha1() makes every EVP_DigestInit
 * search OpenSSL's provider tables again, which cost more than hashing a
 * step id.  Shared read-only by every thread, kept for the process's life.
 */
static EVP_MD *sha1_impl;
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;

static void fetch_sha1(void)
{
	sha1_impl = EVP_MD_fetch(NULL, "SHA1", NULL);
}

int ing_step_hash(const char *id, unsigned n, char out[ING_STEP_HASH_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c;
	char suffix[16];
	int ok;

	pthread_once(&sha1_once, fetch_sha1);
	if (sha1_impl == NULL || (c = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(c, sha1_impl, NULL) == 1 &&
	    EVP_DigestUpdate(c, id, strlen(id)) == 1;
	if (ok && n > 0) {
		int k = snprintf(suffix, sizeof(suffix), ":%u", n);

		ok = EVP_DigestUpdate(c, suffix, (size_t)k) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen == 20;
	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	ing_hex_encode(md, 20, out, 0);
	return 0;
}

struct step {
	const char *id;                 /* the developer's id */
	unsigned n;                     /* repeats before this one */
	char hash[ING_STEP_HASH_LEN];
	struct json_object *memo;       /* memoized value, borrowed */
	int found;
};

static enum ing_rc step_begin(struct ing_ctx *ctx, const char *id,
    struct step *s)
{
	struct json_object *cnt = NULL, *nv;
	int64_t n = 0;

	memset(s, 0, sizeof(*s));
	if (ctx->in_step)
		return ing_ctx_sdk_error(ctx, "step '%s' called inside the "
		    "code of another step", id != NULL ? id : "");
	if (id == NULL || *id == '\0')
		return ing_ctx_sdk_error(ctx, "empty step id");
	if (json_object_object_get_ex(ctx->counts, id, &cnt))
		n = json_object_get_int64(cnt);
	nv = json_object_new_int64(n + 1);
	if (nv == NULL || json_object_object_add(ctx->counts, id, nv) != 0) {
		json_object_put(nv);
		return ing_ctx_sdk_error(ctx, "out of memory");
	}
	if (ctx->halted)
		return ING_RC_YIELD;
	s->id = id;
	s->n = (unsigned)n;
	if (ing_step_hash(id, s->n, s->hash) != 0)
		return ing_ctx_sdk_error(ctx, "cannot hash step id");
	s->found = json_object_object_get_ex(ctx->steps, s->hash, &s->memo);
	if (s->found)
		ing_ctx_consume(ctx, s->hash);
	return ING_RC_OK;
}

/*
 * A memoized value is {"data": X}, {"error": E} or, for steps the server
 * fills itself (sleep, wait), the bare value.  Returns 1 for an error.
 */
static int unwrap(struct json_object *memo, struct json_object **val)
{
	*val = memo;
	if (json_object_is_type(memo, json_type_object) &&
	    json_object_object_length(memo) == 1) {
		struct json_object *v;

		if (json_object_object_get_ex(memo, "data", &v)) {
			*val = v;
			return 0;
		}
		if (json_object_object_get_ex(memo, "error", &v)) {
			*val = v;
			return 1;
		}
	}
	return 0;
}

static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static enum ing_rc memo_failed(struct ing_ctx *ctx, struct json_object *err)
{
	const char *name = str_member(err, "name");
	const char *msg = str_member(err, "message");

	if (msg == NULL && json_object_is_type(err, json_type_string))
		msg = json_object_get_string(err);
	ctx->step_error_json = err;
	ctx->step_error.name = name != NULL ? name : "Error";
	ctx->step_error.message = msg != NULL ? msg : "step failed";
	ctx->step_error.stack = str_member(err, "stack");
	ctx->has_step_error = 1;
	return ING_RC_STEP_FAILED;
}

/* {"id", "op", "name", "displayName", "userland": {"id", "index"}}: the
 * hashed id for the server, the developer's id for people (spec 5.1.1). */
/* A memoized {data} or {error} (run, invoke): ING_RC_OK with '*out'
 * borrowed, or ING_RC_STEP_FAILED. */
static enum ing_rc memo_result(struct ing_ctx *ctx, struct step *s,
    struct json_object **out)
{
	struct json_object *val;

	if (unwrap(s->memo, &val))
		return memo_failed(ctx, val);
	if (out != NULL)
		*out = val;
	return ING_RC_OK;
}

static struct json_object *new_op(struct step *s, const char *opname)
{
	struct json_object *op = json_object_new_object(), *ul;

	if (op == NULL || ing_json_add_str(op, "id", s->hash) != 0 ||
	    ing_json_add_str(op, "op", opname) != 0 ||
	    ing_json_add_str(op, "name", s->id) != 0 ||
	    ing_json_add_str(op, "displayName", s->id) != 0 ||
	    (ul = ing_json_add_object(op, "userland")) == NULL ||
	    ing_json_add_str(ul, "id", s->id) != 0 ||
	    (s->n > 0 && ing_json_add_int(ul, "index", s->n) != 0)) {
		json_object_put(op);
		return NULL;
	}
	return op;
}

/* Append 'op' (taken) to the response; halts outside parallel blocks. */
static enum ing_rc report(struct ing_ctx *ctx, struct json_object *op)
{
	if (op == NULL)
		return ing_ctx_sdk_error(ctx, "out of memory building an op");
	if (json_object_array_add(ctx->ops, op) != 0) {
		json_object_put(op);
		return ing_ctx_sdk_error(ctx, "out of memory");
	}
	if (ctx->in_parallel)
		ctx->parallel_pending++;
	else
		ctx->halted = 1;
	return ING_RC_YIELD;
}

/*
 * A step that is not memoized and not the one the server asked for
 * (stepId targeting): report nothing.  In sequence the target cannot come
 * after it, so stop; in a parallel block keep looking through siblings.
 */
static enum ing_rc skip_untargeted(struct ing_ctx *ctx)
{
	if (ctx->in_parallel)
		ctx->parallel_pending++;
	else
		ctx->halted = 1;
	return ING_RC_YIELD;
}

static int final_attempt(const struct ing_ctx *ctx)
{
	return ctx->max_attempts > 0 && ctx->attempt + 1 >= ctx->max_attempts;
}

/* The step's code failed with 'rc': report StepError (retriable) or
 * StepFailed (no retry, or no attempts left) with the error slot's
 * {name, message}, and the headers that go with it. */
static struct json_object *error_op(struct ing_ctx *ctx, struct step *s,
    enum ing_rc rc)
{
	struct json_object *op, *err;
	int final = rc == ING_RC_NO_RETRY || rc == ING_RC_STEP_FAILED ||
	    rc == ING_RC_TIMEOUT || final_attempt(ctx);

	if (!ctx->has_error)
		ing_ctx_sdk_error(ctx, "step code returned %s without "
		    "ing_fail()", ing_rc_name(rc));
	op = new_op(s, final ? "StepFailed" : "StepError");
	if (op == NULL || (err = ing_json_add_object(op, "error")) == NULL ||
	    ing_json_add_str(err, "name", ctx->err_name) != 0 ||
	    ing_json_add_str(err, "message", ctx->err_message) != 0) {
		json_object_put(op);
		return NULL;
	}
	ctx->op_no_retry = final;
	if (!final && ctx->err_retry_after > 0)
		ctx->op_retry_after = ctx->err_retry_after;
	return op;
}

/*
 * Run the step's code now and report the outcome as the call's only op:
 * StepRun with its data, or an error op.  The error slot is the step's
 * while it runs and is cleared after, so the function starts clean.
 */
static enum ing_rc run_now(struct ing_ctx *ctx, struct step *s,
    ing_step_fn fn, void *arg)
{
	struct json_object *data = NULL, *op;
	enum ing_rc rc;

	ing_ctx_clear_error(ctx);
	ctx->in_step = 1;
	rc = fn(ctx, arg, &data);
	ctx->in_step = 0;
	if (ctx->target != NULL)
		ctx->target_found = 1;
	if (rc == ING_RC_OK) {
		op = new_op(s, "StepRun");
		/* 'data' may be NULL: JSON null is a valid step result. */
		if (op == NULL ||
		    json_object_object_add(op, "data", data) != 0) {
			json_object_put(op);
			json_object_put(data);
			op = NULL;
		}
	} else {
		json_object_put(data);
		op = error_op(ctx, s, rc);
		ing_ctx_clear_error(ctx);
	}
	ctx->halted = 1;
	if (op == NULL || json_object_array_add(ctx->ops, op) != 0) {
		json_object_put(op);
		return ing_ctx_sdk_error(ctx, "out of memory");
	}
	return ING_RC_YIELD;
}

enum ing_rc ing_step_run(struct ing_ctx *ctx, const char *id, ing_step_fn fn,
    void *arg, struct json_object **out)
{
	struct step s;
	enum ing_rc rc;

	if (out != NULL)
		*out = NULL;
	if (fn == NULL)
		return ing_ctx_sdk_error(ctx, "step '%s' has no code",
		    id != NULL ? id : "");
	rc = step_begin(ctx, id, &s);
	if (rc != ING_RC_OK)
		return rc;
	if (s.found)
		return memo_result(ctx, &s, out);
	if (ctx->target != NULL) {
		if (strcmp(ctx->target, s.hash) != 0)
			return skip_untargeted(ctx);
		return run_now(ctx, &s, fn, arg);
	}
	if (ctx->in_parallel || ctx->disable_immediate)
		return report(ctx, new_op(&s, "StepPlanned"));
	return run_now(ctx, &s, fn, arg);
}

/* A new op 'opname' for 's' carrying 'opts' (taken); NULL out of memory. */
static struct json_object *op_with_opts(struct step *s, const char *opname,
    struct json_object *opts)
{
	struct json_object *op;

	if (opts == NULL)
		return NULL;
	op = new_op(s, opname);
	if (op == NULL || json_object_object_add(op, "opts", opts) != 0) {
		json_object_put(op);
		json_object_put(opts);
		return NULL;
	}
	return op;
}

enum ing_rc ing_step_sleep(struct ing_ctx *ctx, const char *id,
    const char *duration)
{
	struct json_object *opts;
	struct step s;
	enum ing_rc rc;

	if (duration == NULL || *duration == '\0')
		return ing_ctx_sdk_error(ctx, "sleep '%s' without a duration",
		    id != NULL ? id : "");
	rc = step_begin(ctx, id, &s);
	if (rc != ING_RC_OK)
		return rc;
	if (s.found)
		return ING_RC_OK; /* the server memoizes null once slept */
	if (ctx->target != NULL && strcmp(ctx->target, s.hash) != 0)
		return skip_untargeted(ctx);
	opts = json_object_new_object();
	if (opts != NULL && ing_json_add_str(opts, "duration", duration) != 0) {
		json_object_put(opts);
		opts = NULL;
	}
	return report(ctx, op_with_opts(&s, "Sleep", opts));
}

enum ing_rc ing_step_wait_for_event(struct ing_ctx *ctx, const char *id,
    const struct ing_wait_opts *o, struct json_object **event_out)
{
	struct json_object *opts, *val;
	struct step s;
	enum ing_rc rc;

	if (event_out != NULL)
		*event_out = NULL;
	if (o == NULL || o->event == NULL || *o->event == '\0' ||
	    o->timeout == NULL || *o->timeout == '\0')
		return ing_ctx_sdk_error(ctx, "wait '%s' needs an event and a "
		    "timeout", id != NULL ? id : "");
	rc = step_begin(ctx, id, &s);
	if (rc != ING_RC_OK)
		return rc;
	if (s.found) {
		if (unwrap(s.memo, &val))
			return memo_failed(ctx, val);
		if (val == NULL)
			return ING_RC_TIMEOUT;
		if (event_out != NULL)
			*event_out = val;
		return ING_RC_OK;
	}
	if (ctx->target != NULL && strcmp(ctx->target, s.hash) != 0)
		return skip_untargeted(ctx);
	opts = json_object_new_object();
	if (opts != NULL && (ing_json_add_str(opts, "event", o->event) != 0 ||
	    ing_json_add_str(opts, "timeout", o->timeout) != 0 ||
	    ing_json_add_str(opts, "if", o->if_expr) != 0)) {
		json_object_put(opts);
		opts = NULL;
	}
	return report(ctx, op_with_opts(&s, "WaitForEvent", opts));
}

/* {"function_id", "payload": {"data": copy of o->data or {}},
 * "timeout"?} (spec 5.3.4); NULL out of memory. */
static struct json_object *invoke_opts(const struct ing_invoke_opts *o)
{
	struct json_object *opts, *payload, *data = NULL;

	if (o->data == NULL)
		data = json_object_new_object();
	else if (json_object_deep_copy(o->data, &data, NULL) != 0)
		data = NULL;
	opts = json_object_new_object();
	payload = opts != NULL ? ing_json_add_object(opts, "payload") : NULL;
	if (payload == NULL) {
		json_object_put(data);
		json_object_put(opts);
		return NULL;
	}
	if (ing_json_add(payload, "data", data) != 0 ||
	    ing_json_add_str(opts, "function_id", o->function_id) != 0 ||
	    ing_json_add_str(opts, "timeout", o->timeout) != 0) {
		json_object_put(opts);
		return NULL;
	}
	return opts;
}

enum ing_rc ing_step_invoke(struct ing_ctx *ctx, const char *id,
    const struct ing_invoke_opts *o, struct json_object **out)
{
	struct json_object *opts;
	struct step s;
	enum ing_rc rc;

	if (out != NULL)
		*out = NULL;
	if (o == NULL || o->function_id == NULL || *o->function_id == '\0')
		return ing_ctx_sdk_error(ctx, "invoke '%s' needs a function id",
		    id != NULL ? id : "");
	if (o->data != NULL && !json_object_is_type(o->data, json_type_object))
		return ing_ctx_sdk_error(ctx, "invoke '%s': data must be an "
		    "object", id != NULL ? id : "");
	rc = step_begin(ctx, id, &s);
	if (rc != ING_RC_OK)
		return rc;
	if (s.found)
		return memo_result(ctx, &s, out);
	if (ctx->target != NULL && strcmp(ctx->target, s.hash) != 0)
		return skip_untargeted(ctx);

	opts = invoke_opts(o);
	if (opts == NULL)
		return ing_ctx_sdk_error(ctx, "out of memory");
	return report(ctx, op_with_opts(&s, "InvokeFunction", opts));
}

/* The code of a send-event step: send, then return {"ids": [...]}. */
static enum ing_rc send_code(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	struct json_object *ids = NULL, *res;
	enum ing_err err;

	err = ing_event_send(ctx->app, arg, &ids);
	if (err == ING_EINVAL)
		return ing_fail(ctx, ING_RC_NO_RETRY, "SendEventError",
		    "invalid events");
	if (err != ING_OK)
		return ing_fail(ctx, ING_RC_RETRY, "SendEventError",
		    "sending events failed: %s", ing_strerror(err));
	res = json_object_new_object();
	if (res == NULL || json_object_object_add(res, "ids", ids) != 0) {
		json_object_put(ids);
		json_object_put(res);
		return ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
	}
	*out = res;
	return ING_RC_OK;
}

enum ing_rc ing_step_send_event(struct ing_ctx *ctx, const char *id,
    struct json_object *events, struct json_object **ids_out)
{
	struct json_object *res = NULL, *ids;
	enum ing_rc rc;

	if (ids_out != NULL)
		*ids_out = NULL;
	if (events == NULL)
		return ing_ctx_sdk_error(ctx, "send '%s' without events",
		    id != NULL ? id : "");
	rc = ing_step_run(ctx, id, send_code, events, &res);
	if (rc == ING_RC_OK && ids_out != NULL &&
	    json_object_object_get_ex(res, "ids", &ids))
		*ids_out = ids;
	return rc;
}

enum ing_rc ing_parallel_begin(struct ing_ctx *ctx)
{
	if (ctx->in_step)
		return ing_ctx_sdk_error(ctx, "parallel block inside step code");
	if (ctx->in_parallel)
		return ing_ctx_sdk_error(ctx, "parallel blocks do not nest");
	if (ctx->halted)
		return ING_RC_YIELD;
	ctx->in_parallel = 1;
	ctx->parallel_pending = 0;
	return ING_RC_OK;
}

enum ing_rc ing_parallel_end(struct ing_ctx *ctx)
{
	if (!ctx->in_parallel)
		return ctx->halted ? ING_RC_YIELD :
		    ing_ctx_sdk_error(ctx, "parallel end without begin");
	ctx->in_parallel = 0;
	ing_ctx_check_order(ctx);
	if (ctx->halted)
		return ING_RC_YIELD;
	if (ctx->parallel_pending > 0) {
		ctx->halted = 1;
		return ING_RC_YIELD;
	}
	return ING_RC_OK;
}
