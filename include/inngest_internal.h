/*
 * inngest_internal.h -- cross-file internals of the Inngest SDK
 * (the files in app/inngest/).  Nothing here is API: handlers and functions use
 * inngest.h, inngest_step.h and inngest_event.h only.
 *
 * Header convention of the SDK:
 *   - Public headers (inngest.h, inngest_step.h, inngest_event.h,
 *     inngest_signing.h, inngest_jcs.h, inngest_transport.h) are what a
 *     host program includes.  They include only libc headers and each
 *     other, never a header of the host.
 *   - This header is module-internal: only the .c files of app/inngest
 *     include it (and white-box unit tests).  It may include the
 *     public headers.
 *   - The SDK's .c files include libc, json-c, OpenSSL, the SDK's own
 *     headers and nothing else.  The transport is the host's (the
 *     public inngest_transport.h is its whole contract).
 *   - Calls run one way, down this list: serve.c dispatches to sync.c and
 *     call.c; all three answer through respond.c; everything builds on
 *     app.c, ctx.c, step.c, event.c, signing.c, jcs.c and util.c.
 *
 *   util.c      growable buffer, per-invocation arena, query strings,
 *               hex, logging through the app's hooks, checked json-c
 *               builders
 *   app.c       struct ing_app, registry, sync payload, API requests
 *   ctx.c       struct ing_ctx life cycle, memoized state, error slot
 *   step.c      step tools and the planning rules
 *   respond.c   struct ing_response helpers and request verification
 *               shared by serve.c, sync.c and call.c
 *   serve.c     the /api/inngest entry point (method dispatch),
 *               introspection, trust probe
 *   sync.c      PUT: sync
 *   call.c      POST: call requests
 *   signing.c   signatures and key hashes
 *   event.c     event client
 *   jcs.c       RFC 8785
 */
#ifndef OMNI_INNGEST_INTERNAL_H
#define OMNI_INNGEST_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "inngest.h"
#include "inngest_signing.h"
#include "inngest_step.h"

struct json_object;
struct ing_http_req;
struct ing_http_res;

/* ---- growable byte buffer (util.c) ------------------------------- */

struct ing_buf {
	char *data;      /* always NUL-terminated once non-NULL */
	size_t len;
	size_t cap;
	int failed;      /* an append ran out of memory */
};

void ing_buf_init(struct ing_buf *b);
void ing_buf_free(struct ing_buf *b);
/* Append; 0 or -1 out of memory (then the buffer stays failed). */
int ing_buf_put(struct ing_buf *b, const void *p, size_t n);
int ing_buf_puts(struct ing_buf *b, const char *s);
int ing_buf_putc(struct ing_buf *b, char c);
int ing_buf_printf(struct ing_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand the bytes to the caller (free()); NULL if failed.  Resets 'b'. */
char *ing_buf_take(struct ing_buf *b, size_t *len);

/* ---- per-invocation arena (util.c) -------------------------------- */

struct ing_arena_chunk;
struct ing_cleanup;

struct ing_arena {
	struct ing_arena_chunk *chunks;
	struct ing_cleanup *cleanups;
};

void ing_arena_init(struct ing_arena *a);
/* Zeroed memory owned by the arena, or NULL. */
void *ing_arena_alloc(struct ing_arena *a, size_t n);
char *ing_arena_strdup(struct ing_arena *a, const char *s);
char *ing_arena_vprintf(struct ing_arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Register fn(p) for release time; -1 out of memory (nothing recorded). */
int ing_arena_defer(struct ing_arena *a, void (*fn)(void *), void *p);
/* Run the cleanups (LIFO) and free every chunk; the arena is reusable. */
void ing_arena_release(struct ing_arena *a);

/* ---- small helpers (util.c) --------------------------------------- */

/*
 * Find the first parameter 'name' in the raw query string 'query' and
 * percent-decode it ('+' is a space; a malformed escape or an encoded NUL
 * is refused) into 'out'.  Returns 1 if found (and it fit), 0 if absent,
 * -1 if present but longer than 'outlen' - 1 or badly escaped.
 */
int ing_query_get(const char *query, const char *name, char *out,
    size_t outlen);
/* Copy 'query' without the parameters named in the NULL-terminated
 * 'drop' list into 'b' (no leading '?'). */
int ing_query_filter(struct ing_buf *b, const char *query,
    const char *const *drop);
/* Append 's' percent-encoded for a query value. */
int ing_buf_put_urlenc(struct ing_buf *b, const char *s);
/*
 * Hex digits of the 'n' bytes at 'in' into 'out', which needs 2 * n + 1
 * bytes: lower case, or upper case when 'upper'.  NUL-terminated.  The
 * one hex table of the SDK.
 */
void ing_hex_encode(const unsigned char *in, size_t n, char *out, int upper);
/* Header lookup in a request, case-insensitive; NULL if absent. */
const char *ing_req_header(const struct ing_request *req, const char *name);
/* Duplicate 's' without trailing '/'; NULL for NULL or out of memory. */
char *ing_strdup_origin(const char *s);
/* Serialise 'obj' compactly, without "\/"; NULL out of memory.  The
 * string belongs to 'obj' (json-c semantics). */
const char *ing_json_text(struct json_object *obj, size_t *len);

/*
 * Checked json-c builders: 0, or -1 out of memory.  ing_json_add() and
 * ing_json_push() take 'v' on every path (NULL counts as out of memory,
 * so `ing_json_add(o, k, json_object_new_x(..))` needs no other check).
 * ing_json_add_str() adds nothing for a NULL 's'; the _or_null variant
 * adds JSON null.
 */
int ing_json_add(struct json_object *o, const char *key,
    struct json_object *v);
int ing_json_add_str(struct json_object *o, const char *key, const char *s);
int ing_json_add_str_or_null(struct json_object *o, const char *key,
    const char *s);
int ing_json_add_int(struct json_object *o, const char *key, int64_t n);
int ing_json_add_bool(struct json_object *o, const char *key, int b);
int ing_json_push(struct json_object *arr, struct json_object *v);
/* A new empty object or array added as 'key' of 'o' (or appended to
 * 'arr'); borrowed from the parent, NULL out of memory. */
struct json_object *ing_json_add_object(struct json_object *o,
    const char *key);
struct json_object *ing_json_add_array(struct json_object *o,
    const char *key);
struct json_object *ing_json_push_object(struct json_object *arr);

/* ---- logging (util.c) --------------------------------------------- */

/*
 * Format a line and hand it to the app's log hook; nothing when no hook
 * is installed (then nothing is formatted either).  Never pass secrets
 * or user text: the host writes the message as it is.
 */
void ing_log(const struct ing_app *app, enum ing_log_level level,
    const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- app (app.c) -------------------------------------------------- */

struct ing_app {
	char *app_id;
	enum ing_mode mode;
	char *api_origin;
	char *event_origin;
	char *signing_key;           /* NULL when unset */
	char *signing_key_fallback;  /* NULL when unset */
	char *event_key;             /* NULL when unset */
	char *env;                   /* INNGEST_ENV, NULL when unset */
	char *env_header;            /* "X-Inngest-Env: <env>" or NULL */
	char *serve_origin;          /* NULL when unset */
	char *serve_path;            /* NULL when unset */
	char key_hash[ING_KEY_HASH_LEN];          /* "" when none */
	char fallback_hash[ING_KEY_HASH_LEN];     /* "" when none */
	char event_key_hash[65];     /* hex SHA-256 of event_key, "" when none */
	const struct ing_function **fns;
	size_t nfns;
	size_t capfns;
	void *data;
	/* The unsigned introspection body, the same for every unsigned GET:
	 * made by the first one (serve.c), freed with the app. */
	_Atomic(char *) public_introspection;
	struct ing_hooks hooks;      /* transport and clocks always set; the
	                              * log hooks may be NULL (log nothing) */
};

/* The composite id of 'fn' into 'out'; -1 if it does not fit. */
int ing_app_composite_id(const struct ing_app *app,
    const struct ing_function *fn, char *out, size_t outlen);

/*
 * Send one request to Inngest through the app's transport with the
 * headers every request carries (Content-Type, X-Inngest-Sdk,
 * X-Inngest-Req-Version, X-Inngest-Env when set), "Authorization: Bearer
 * 'auth'" when 'auth' is set, and the 'extra' "Name: value" lines.
 * 'timeout_ms' 0 is the transport's default.  Errors and ownership as
 * struct ing_transport's send.
 */
enum ing_err ing_app_send(struct ing_app *app, const char *method,
    const char *url, const char *auth, const char *const *extra,
    size_t nextra, const char *body, size_t body_len, long timeout_ms,
    size_t max_response, struct ing_http_res *res);

/*
 * Send an authenticated request to the Inngest API: Authorization with
 * the hashed signing key, retried once with the hashed fallback key on
 * 401/403 (spec 3.1); none in dev mode without a key.  'extra' are more
 * "Name: value" lines (may be NULL).
 */
enum ing_err ing_app_api_request(struct ing_app *app, const char *method,
    const char *url, const char *const *extra, size_t nextra,
    const char *body, size_t body_len, size_t max_response,
    struct ing_http_res *res);

/* What this SDK supports beyond the base protocol, for the sync payload
 * and introspection: a new reference, NULL out of memory. */
struct json_object *ing_capabilities_json(void);

/* ---- responses and verification (respond.c) ----------------------- */

/* Set (or replace) a response header; dropped when the table is full. */
void ing_res_set_header(struct ing_response *res, const char *name,
    const char *value);
/* Serialise 'obj' (taken; NULL is JSON null) as the body with 'status';
 * 500 if that runs out of memory. */
void ing_res_json(struct ing_response *res, int status,
    struct json_object *obj);
/* {"message": msg}, with "modified": false when 'with_modified' (the
 * shape of sync answers, spec 4.3.1). */
void ing_res_message(struct ing_response *res, int status, const char *msg,
    int with_modified);
/* A function error {"name", "message"}: 400 + X-Inngest-No-Retry: true,
 * or 500 + false and Retry-After when 'retry_after' > 0 (spec 4.4.3). */
void ing_res_error(struct ing_response *res, int no_retry, const char *name,
    const char *msg, long retry_after);
/* 'len' bytes of 'text' as the body (copied); 500 without one out of
 * memory. */
void ing_res_text(struct ing_response *res, const char *text, size_t len);
/* Verify the request's X-Inngest-Signature over its body ('*which' as in
 * ing_signature_verify). */
enum ing_sig_err ing_serve_verify(struct ing_app *app,
    const struct ing_request *req, int *which);
/* Answer a request that failed verification with 'e': 401 Unauthorized,
 * or 500 when no key is configured; the reason is logged, not sent. */
void ing_res_refuse(const struct ing_app *app, struct ing_response *res,
    enum ing_sig_err e, const char *what, int sync_shape);

/* ---- serving: PUT (sync.c) and POST (call.c); serve.c dispatches -- */

/* Answer the request in 'res' (always filled; see ing_serve()). */
void ing_serve_sync(struct ing_app *app, const struct ing_request *req,
    struct ing_response *res);
void ing_serve_call(struct ing_app *app, const struct ing_request *req,
    struct ing_response *res);

/* ---- per-invocation context (ctx.c, step.c) ----------------------- */

struct ing_ctx {
	struct ing_app *app;
	const struct ing_function *fn;
	const char *fn_id;               /* composite, arena */
	struct ing_arena arena;

	struct json_object *event;       /* borrowed from 'owned' below */
	struct json_object *events;
	struct json_object *steps;       /* object: hash -> memoized value */
	const char *run_id;
	int attempt;
	int max_attempts;                /* 0 = not sent by the server */
	int disable_immediate;
	const char *target;              /* stepId to run, or NULL */
	int target_found;

	struct json_object *counts;      /* owned: user id -> times seen */
	struct json_object *ops;         /* owned: array of reported ops */
	int halted;                      /* ops are final; tools yield */
	int in_step;                     /* inside step code */
	int in_parallel;
	int parallel_pending;            /* block steps not memoized */

	const char **stack;              /* ctx.stack.stack, borrowed */
	unsigned char *consumed;         /* per stack entry */
	size_t nstack;
	size_t cursor;                   /* first unconsumed entry */
	int warned_changed;

	/* Error slot: set by ing_fail(), read by step.c and serve.c. */
	int has_error;
	enum ing_rc err_kind;
	const char *err_name;
	const char *err_message;
	long err_retry_after;            /* seconds; 0 = none */

	/* Last memoized step error. */
	struct json_object *step_error_json;  /* borrowed */
	struct ing_step_error step_error;
	int has_step_error;

	/* Response headers implied by reported step errors. */
	int op_no_retry;                 /* -1 none, 0 "false", 1 "true" */
	long op_retry_after;
};

/*
 * Prepare 'ctx' for running 'fn' with the parsed call body 'body'
 * (borrowed: must outlive the ctx) and 'target' (stepId, NULL or "step"
 * for none; copied).  ING_EINVAL if the body lacks a usable event.
 */
enum ing_err ing_ctx_init(struct ing_ctx *ctx, struct ing_app *app,
    const struct ing_function *fn, struct json_object *body,
    const char *target);
/* Release everything the ctx owns. */
void ing_ctx_release(struct ing_ctx *ctx);
/* Clear the error slot. */
void ing_ctx_clear_error(struct ing_ctx *ctx);
/* Note that the memoized step 'hash' was used (ctx.stack order check). */
void ing_ctx_consume(struct ing_ctx *ctx, const char *hash);
/* At the end of a parallel block: check the consumed entries. */
void ing_ctx_check_order(struct ing_ctx *ctx);
/* Record an SDK problem in the error slot; returns ING_RC_SDK_ERROR. */
enum ing_rc ing_ctx_sdk_error(struct ing_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
