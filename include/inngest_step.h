/*
 * inngest_step.h -- what a durable function body uses: the per-invocation
 * context, step tools, and error reporting.
 *
 * A function reads top to bottom, as in inngestgo:
 *
 *     static enum ing_rc fn(struct ing_ctx *ctx, struct json_object **result)
 *     {
 *         struct json_object *a, *b;
 *
 *         ING_TRY(ing_step_run(ctx, "fetch", do_fetch, NULL, &a));
 *         ING_TRY(ing_step_sleep(ctx, "pause", "10s"));
 *         ING_TRY(ing_step_run(ctx, "store", do_store, a, &b));
 *         *result = json_object_get(b);
 *         return ING_RC_OK;
 *     }
 *
 * Each call either hands back a value (ING_RC_OK), or tells the function
 * to stop at once because the SDK has planned work for the Inngest server
 * (ING_RC_YIELD), or reports an error.  ING_TRY returns anything but
 * ING_RC_OK to the caller, so the function unwinds through its own
 * cleanup: there is no longjmp.  The server calls the function again with
 * the finished steps memoized, and the same calls then return their values
 * without running the step code again.
 *
 * Step ids are the developer's names for steps ("fetch"); the SDK hashes
 * them (SHA-1 hex, with ":n" appended on the n-th repeat of a name in one
 * run) exactly as the other SDKs do, so the server's memoized state lines
 * up across SDKs.
 *
 * Memory: the ctx owns everything the SDK gives out.  Every json_object a
 * step tool returns through an out-pointer is BORROWED: valid until the
 * function returns; take json_object_get() to keep it longer (e.g. to
 * return it as the result).  Objects a callback hands to the SDK (the
 * step's data, the function's result) become the SDK's.  Use
 * ing_ctx_keep() / ing_ctx_defer() to tie your own allocations to the
 * invocation so that no return path leaks.
 *
 * Threading: a ctx belongs to one call on one thread.
 */
#ifndef OMNI_INNGEST_STEP_H
#define OMNI_INNGEST_STEP_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct ing_ctx;

/* What a step tool or a function body returns. */
enum ing_rc {
	ING_RC_OK = 0,       /* 0: value available / function finished */
	ING_RC_YIELD,        /* 1: the SDK took over; return it at once */
	ING_RC_RETRY,        /* 2: retriable failure (500, No-Retry: false) */
	ING_RC_NO_RETRY,     /* 3: permanent failure (400, No-Retry: true) */
	ING_RC_STEP_FAILED,  /* 4: a step failed for good; ing_step_error() */
	ING_RC_TIMEOUT,      /* 5: wait_for_event saw no event in time */
	ING_RC_SDK_ERROR,    /* 6: SDK trouble (memory, corrupt state); retry */
	ING_RC__MAX
};

/* Return anything but ING_RC_OK to the caller. */
#define ING_TRY(expr)                                                   \
	do {                                                            \
		enum ing_rc ing_try_rc_ = (expr);                       \
		if (ing_try_rc_ != ING_RC_OK)                           \
			return ing_try_rc_;                             \
	} while (0)

/* "ok", "yield", "retry", ... never NULL. */
const char *ing_rc_name(enum ing_rc rc);

/* SHA-1 length in hex plus NUL. */
#define ING_STEP_HASH_LEN 41

/*
 * Hash a step id as the spec (5.1.2) says: SHA-1 hex of 'id' when 'n' is
 * 0, of "id:n" otherwise.  Writes 40 hex digits and a NUL to 'out'.
 * Returns 0, or -1 if hashing failed (out of memory).
 */
int ing_step_hash(const char *id, unsigned n, char out[ING_STEP_HASH_LEN]);

/* ------------------------------------------------------------------ */
/* Context                                                             */
/* ------------------------------------------------------------------ */

/* The triggering event (first of a batch); borrowed, never NULL. */
struct json_object *ing_ctx_event(struct ing_ctx *ctx);
/* All events of the run (a JSON array); borrowed, never NULL. */
struct json_object *ing_ctx_events(struct ing_ctx *ctx);
/* ctx.run_id; "" if the server sent none. */
const char *ing_ctx_run_id(const struct ing_ctx *ctx);
/* ctx.attempt: 0 on the first attempt of the current step or call. */
int ing_ctx_attempt(const struct ing_ctx *ctx);
/* The composite function id being run. */
const char *ing_ctx_fn_id(const struct ing_ctx *ctx);
/* The pointer set with ing_app_set_data(). */
void *ing_ctx_app_data(const struct ing_ctx *ctx);

/*
 * Tie 'obj' (a json-c reference you own) to the invocation: it is
 * released when the function returns.  Returns 'obj' (borrowed from now
 * on), or NULL if 'obj' was NULL or out of memory, in which case it has
 * been released already.
 */
struct json_object *ing_ctx_keep(struct ing_ctx *ctx, struct json_object *obj);

/*
 * Run 'fn(ptr)' when the invocation ends (LIFO).  Returns 0, or -1 out of
 * memory, in which case 'fn(ptr)' has been called already.
 */
int ing_ctx_defer(struct ing_ctx *ctx, void (*fn)(void *), void *ptr);

/* printf into memory the ctx owns; NULL out of memory. */
char *ing_ctx_printf(struct ing_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * Record an error for the function or, inside a step callback, for the
 * step, and return 'kind' (ING_RC_RETRY or ING_RC_NO_RETRY; anything else
 * is treated as ING_RC_RETRY).  The message goes to the Inngest server as
 * {name, message}; 'name' NULL means "Error".  Returns 'kind' so that
 * `return ing_fail(ctx, ING_RC_RETRY, NULL, "x %d", n);` reads well.
 */
enum ing_rc ing_fail(struct ing_ctx *ctx, enum ing_rc kind,
    const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Like ing_fail(ctx, ING_RC_RETRY, ...) and ask the server to wait
 * 'seconds' before retrying (Retry-After).
 */
enum ing_rc ing_fail_retry_after(struct ing_ctx *ctx, long seconds,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A step's final error, as memoized by the server. */
struct ing_step_error {
	const char *name;        /* never NULL */
	const char *message;     /* never NULL */
	const char *stack;       /* NULL if none */
};

/*
 * The error of the last step tool that returned ING_RC_STEP_FAILED, or
 * NULL.  Borrowed from the ctx.  If the function returns
 * ING_RC_STEP_FAILED, the server receives this error unchanged and the run
 * fails without retries (spec 5.2.2).
 */
const struct ing_step_error *ing_step_error(const struct ing_ctx *ctx);

/* ------------------------------------------------------------------ */
/* Step tools                                                          */
/* ------------------------------------------------------------------ */

/*
 * Step code: do the work, set '*out' to a new json-c reference (or leave
 * it NULL for JSON null) and return ING_RC_OK; or call ing_fail() and
 * return its result.  Step tools cannot be called from inside step code.
 */
typedef enum ing_rc (*ing_step_fn)(struct ing_ctx *ctx, void *arg,
    struct json_object **out);

/*
 * Run 'fn(ctx, arg, ...)' as the step 'id' (spec 5.3.1).
 *   memoized data   -> ING_RC_OK, '*out' borrowed (NULL for JSON null);
 *   memoized error  -> ING_RC_STEP_FAILED, see ing_step_error();
 *   otherwise the step is run now (when the server allows immediate
 *   execution) and reported as StepRun, or StepError / StepFailed when it
 *   fails (StepFailed once attempts are exhausted or on ING_RC_NO_RETRY),
 *   or planned as StepPlanned (disable_immediate_execution, parallel
 *   blocks): -> ING_RC_YIELD.
 */
enum ing_rc ing_step_run(struct ing_ctx *ctx, const char *id, ing_step_fn fn,
    void *arg, struct json_object **out);

/*
 * Sleep for 'duration', a time string ("30s", "2h45m") or an RFC 3339
 * date (spec 5.3.2).  ING_RC_OK once slept, else ING_RC_YIELD.
 */
enum ing_rc ing_step_sleep(struct ing_ctx *ctx, const char *id,
    const char *duration);

struct ing_wait_opts {
	const char *event;       /* event name to wait for (required) */
	const char *if_expr;     /* optional CEL; "async" is the new event */
	const char *timeout;     /* time string (required) */
};

/*
 * Wait for an event (spec 5.3.3).  ING_RC_OK with '*event_out' borrowed,
 * ING_RC_TIMEOUT when none came in time, or ING_RC_YIELD.
 */
enum ing_rc ing_step_wait_for_event(struct ing_ctx *ctx, const char *id,
    const struct ing_wait_opts *opts, struct json_object **event_out);

struct ing_invoke_opts {
	const char *function_id; /* composite id "<app>-<fn>" (required) */
	struct json_object *data;/* borrowed; the event's data ({} if NULL) */
	const char *timeout;     /* optional time string */
};

/*
 * Invoke another function and wait for its result (spec 5.3.4).
 * ING_RC_OK with '*out' borrowed, ING_RC_STEP_FAILED if it failed, or
 * ING_RC_YIELD.
 */
enum ing_rc ing_step_invoke(struct ing_ctx *ctx, const char *id,
    const struct ing_invoke_opts *opts, struct json_object **out);

/*
 * Send events as the step 'id' (a run step, so a retry of the function
 * does not send them twice).  'events' (borrowed) is one event object or
 * an array of them; ids and ts are filled in when missing.  ING_RC_OK with
 * '*ids_out' (borrowed, may be NULL) the array of event ids.
 */
enum ing_rc ing_step_send_event(struct ing_ctx *ctx, const char *id,
    struct json_object *events, struct json_object **ids_out);

/*
 * Parallel steps (spec 5.5).  Between begin and end, a step that is not
 * memoized is planned (StepPlanned, Sleep, WaitForEvent...) and its call
 * returns ING_RC_YIELD without stopping the block, so every step in the
 * block is reported in one response and runs in its own call request.
 * Memoized steps return their values as usual.  ing_parallel_end()
 * returns ING_RC_YIELD if any step of the block is still pending, else
 * ING_RC_OK; check each step's own return code after that:
 *
 *     ing_parallel_begin(ctx);
 *     rc_a = ing_step_run(ctx, "a", fa, NULL, &a);
 *     rc_b = ing_step_run(ctx, "b", fb, NULL, &b);
 *     ING_TRY(ing_parallel_end(ctx));
 *     ING_TRY(rc_a);
 *     ING_TRY(rc_b);
 *
 * Blocks do not nest; ing_parallel_begin() inside a block returns
 * ING_RC_SDK_ERROR.
 */
enum ing_rc ing_parallel_begin(struct ing_ctx *ctx);
enum ing_rc ing_parallel_end(struct ing_ctx *ctx);

#endif
