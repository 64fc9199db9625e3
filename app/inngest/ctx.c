/*
 * ctx.c -- the per-invocation context: what the call request carried
 * (event, events, memoized steps, ctx block), the arena that owns every
 * allocation of the invocation, the error slot, and the ctx.stack order
 * check of spec 5.4.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "inngest_internal.h"

static void put_json(void *p)
{
	json_object_put(p);
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* Keep 'obj' (a new reference) until release; NULL out of memory. */
static struct json_object *keep(struct ing_ctx *ctx, struct json_object *obj)
{
	if (obj == NULL)
		return NULL;
	if (ing_arena_defer(&ctx->arena, put_json, obj) != 0) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static void load_stack(struct ing_ctx *ctx, struct json_object *cx)
{
	struct json_object *st = member(member(cx, "stack"), "stack");
	size_t n, k = 0;

	if (st == NULL || !json_object_is_type(st, json_type_array))
		return;
	n = json_object_array_length(st);
	if (n == 0)
		return;
	ctx->stack = ing_arena_alloc(&ctx->arena, n * sizeof(*ctx->stack));
	ctx->consumed = ing_arena_alloc(&ctx->arena, n);
	if (ctx->stack == NULL || ctx->consumed == NULL) {
		ctx->stack = NULL;
		return; /* the order check is advisory */
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(st, i);

		if (json_object_is_type(e, json_type_string))
			ctx->stack[k++] = json_object_get_string(e);
	}
	ctx->nstack = k;
}

enum ing_err ing_ctx_init(struct ing_ctx *ctx, struct ing_app *app,
    const struct ing_function *fn, struct json_object *body, const char *target)
{
	struct json_object *cx, *v;
	char composite[320];

	memset(ctx, 0, sizeof(*ctx));
	ing_arena_init(&ctx->arena);
	ctx->app = app;
	ctx->fn = fn;
	ctx->op_no_retry = -1;
	if (ing_app_composite_id(app, fn, composite, sizeof(composite)) != 0)
		return ING_EINVAL;
	ctx->fn_id = ing_arena_strdup(&ctx->arena, composite);
	ctx->counts = json_object_new_object();
	ctx->ops = json_object_new_array();
	if (ctx->fn_id == NULL || ctx->counts == NULL || ctx->ops == NULL)
		return ING_ENOMEM;

	if (!json_object_is_type(body, json_type_object))
		return ING_EINVAL;
	ctx->events = member(body, "events");
	if (ctx->events != NULL &&
	    !json_object_is_type(ctx->events, json_type_array))
		return ING_EINVAL;
	ctx->event = member(body, "event");
	if (ctx->event == NULL && ctx->events != NULL &&
	    json_object_array_length(ctx->events) > 0)
		ctx->event = json_object_array_get_idx(ctx->events, 0);
	if (!json_object_is_type(ctx->event, json_type_object))
		return ING_EINVAL;
	if (ctx->events == NULL) {
		ctx->events = keep(ctx, json_object_new_array());
		if (ctx->events == NULL ||
		    json_object_array_add(ctx->events,
		    json_object_get(ctx->event)) != 0)
			return ING_ENOMEM;
	}
	ctx->steps = member(body, "steps");
	if (ctx->steps == NULL || !json_object_is_type(ctx->steps,
	    json_type_object)) {
		ctx->steps = keep(ctx, json_object_new_object());
		if (ctx->steps == NULL)
			return ING_ENOMEM;
	}

	cx = member(body, "ctx");
	v = member(cx, "run_id");
	ctx->run_id = json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : "";
	v = member(cx, "attempt");
	ctx->attempt = json_object_is_type(v, json_type_int) ?
	    json_object_get_int(v) : 0;
	if (ctx->attempt < 0)
		ctx->attempt = 0;
	v = member(cx, "max_attempts");
	ctx->max_attempts = json_object_is_type(v, json_type_int) ?
	    json_object_get_int(v) : 0;
	if (ctx->max_attempts <= 0)
		ctx->max_attempts = fn->has_retries ? fn->retries + 1 : 0;
	v = member(cx, "disable_immediate_execution");
	ctx->disable_immediate = json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v);
	load_stack(ctx, cx);

	if (target != NULL && *target != '\0' && strcmp(target, "step") != 0) {
		ctx->target = ing_arena_strdup(&ctx->arena, target);
		if (ctx->target == NULL)
			return ING_ENOMEM;
	}
	return ING_OK;
}

void ing_ctx_release(struct ing_ctx *ctx)
{
	json_object_put(ctx->counts);
	json_object_put(ctx->ops);
	ctx->counts = NULL;
	ctx->ops = NULL;
	ing_arena_release(&ctx->arena);
}

void ing_ctx_clear_error(struct ing_ctx *ctx)
{
	ctx->has_error = 0;
	ctx->err_kind = ING_RC_OK;
	ctx->err_name = NULL;
	ctx->err_message = NULL;
	ctx->err_retry_after = 0;
}

/* ---- ctx.stack order (spec 5.4) -------------------------------------- */

static void warn_changed(struct ing_ctx *ctx)
{
	if (ctx->warned_changed)
		return;
	ctx->warned_changed = 1;
	ing_log(ctx->app, ING_LOG_WARN, "inngest_fn_changed", "fn %s run %s: "
	    "memoized steps found out of ctx.stack order; the function "
	    "appears to have changed or is not deterministic", ctx->fn_id,
	    ctx->run_id);
}

static void advance(struct ing_ctx *ctx)
{
	while (ctx->cursor < ctx->nstack && ctx->consumed[ctx->cursor])
		ctx->cursor++;
}

void ing_ctx_consume(struct ing_ctx *ctx, const char *hash)
{
	size_t i;

	if (ctx->stack == NULL)
		return;
	for (i = ctx->cursor; i < ctx->nstack; i++)
		if (!ctx->consumed[i] && strcmp(ctx->stack[i], hash) == 0)
			break;
	if (i == ctx->nstack)
		return; /* not in the stack (or seen already): nothing to say */
	ctx->consumed[i] = 1;
	/* Inside a parallel block the code order of sibling steps need not
	 * match their completion order; the block is checked as a whole. */
	if (!ctx->in_parallel && i != ctx->cursor)
		warn_changed(ctx);
	advance(ctx);
}

void ing_ctx_check_order(struct ing_ctx *ctx)
{
	advance(ctx);
	for (size_t i = ctx->cursor; i < ctx->nstack; i++)
		if (ctx->consumed[i]) {
			warn_changed(ctx);
			return;
		}
}

/* ---- public accessors -------------------------------------------------- */

struct json_object *ing_ctx_event(struct ing_ctx *ctx)
{
	return ctx->event;
}

struct json_object *ing_ctx_events(struct ing_ctx *ctx)
{
	return ctx->events;
}

const char *ing_ctx_run_id(const struct ing_ctx *ctx)
{
	return ctx->run_id != NULL ? ctx->run_id : "";
}

int ing_ctx_attempt(const struct ing_ctx *ctx)
{
	return ctx->attempt;
}

const char *ing_ctx_fn_id(const struct ing_ctx *ctx)
{
	return ctx->fn_id;
}

void *ing_ctx_app_data(const struct ing_ctx *ctx)
{
	return ctx->app->data;
}

struct json_object *ing_ctx_keep(struct ing_ctx *ctx, struct json_object *obj)
{
	return keep(ctx, obj);
}

int ing_ctx_defer(struct ing_ctx *ctx, void (*fn)(void *), void *ptr)
{
	if (ing_arena_defer(&ctx->arena, fn, ptr) != 0) {
		fn(ptr);
		return -1;
	}
	return 0;
}

char *ing_ctx_printf(struct ing_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = ing_arena_vprintf(&ctx->arena, fmt, ap);
	va_end(ap);
	return p;
}

/* ---- errors ------------------------------------------------------------- */

static enum ing_rc set_error(struct ing_ctx *ctx, enum ing_rc kind,
    const char *name, long retry_after, const char *fmt, va_list ap)
{
	const char *msg;

	if (kind != ING_RC_NO_RETRY && kind != ING_RC_SDK_ERROR)
		kind = ING_RC_RETRY;
	msg = ing_arena_vprintf(&ctx->arena, fmt, ap);
	ctx->has_error = 1;
	ctx->err_kind = kind;
	ctx->err_name = name != NULL ?
	    ing_arena_strdup(&ctx->arena, name) : NULL;
	if (ctx->err_name == NULL)
		ctx->err_name = "Error";
	ctx->err_message = msg != NULL ? msg : "error (message lost: out of "
	    "memory)";
	ctx->err_retry_after = retry_after > 0 ? retry_after : 0;
	return kind;
}

enum ing_rc ing_fail(struct ing_ctx *ctx, enum ing_rc kind, const char *name,
    const char *fmt, ...)
{
	va_list ap;
	enum ing_rc rc;

	va_start(ap, fmt);
	rc = set_error(ctx, kind == ING_RC_NO_RETRY ? ING_RC_NO_RETRY :
	    ING_RC_RETRY, name, 0, fmt, ap);
	va_end(ap);
	return rc;
}

enum ing_rc ing_fail_retry_after(struct ing_ctx *ctx, long seconds,
    const char *fmt, ...)
{
	va_list ap;
	enum ing_rc rc;

	va_start(ap, fmt);
	rc = set_error(ctx, ING_RC_RETRY, NULL, seconds > 0 ? seconds : 1,
	    fmt, ap);
	va_end(ap);
	return rc;
}

enum ing_rc ing_ctx_sdk_error(struct ing_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(ctx, ING_RC_SDK_ERROR, "SDKError", 0, fmt, ap);
	va_end(ap);
	return ING_RC_SDK_ERROR;
}

const struct ing_step_error *ing_step_error(const struct ing_ctx *ctx)
{
	return ctx->has_step_error ? &ctx->step_error : NULL;
}

const char *ing_rc_name(enum ing_rc rc)
{
	switch (rc) {
	case ING_RC_OK:
		return "ok";
	case ING_RC_YIELD:
		return "yield";
	case ING_RC_RETRY:
		return "retry";
	case ING_RC_NO_RETRY:
		return "no_retry";
	case ING_RC_STEP_FAILED:
		return "step_failed";
	case ING_RC_TIMEOUT:
		return "timeout";
	case ING_RC_SDK_ERROR:
		return "sdk_error";
	case ING_RC__MAX:
		break;
	}
	return "unknown";
}
