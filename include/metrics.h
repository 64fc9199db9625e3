/*
 * metrics.h -- the machine's counters and histograms, served by GET
 * /metrics in the Prometheus text format (handlers/metrics.c).
 *
 * Where the counts live: one fixed-size region of shared anonymous
 * memory, made by the master before it forks any worker
 * (metrics_create) and inherited by every worker it ever forks.  The
 * counts are in the region, not in a worker, so a worker that dies loses
 * none of the counts it made, a reload keeps them, and a scrape answered
 * by any worker shows the whole machine.
 *
 * Cost on the request path: each count is one relaxed atomic add on a
 * 64-bit word (lock free, checked at compile time); nothing locks and
 * nothing is allocated.  The only compare-and-swap is the first time a
 * function id is seen on the machine (it claims a slot).
 *
 * Bounded series: every label value comes from a fixed list -- the route
 * table's paths (plus "unmatched" for every other path), a fixed set of
 * methods and status classes, sandbox operations, providers, outcomes --
 * or from the Inngest functions Omni registered (at most
 * METRICS_FUNCTIONS_MAX).  Nothing a client sends can add a series.
 *
 * One instance per process: counts are made deep inside modules (the
 * Daytona client's retry loop, the rate gate, the sandbox policy) that
 * have no business carrying a handle, so the region is installed once
 * (metrics_install), before any thread starts, and only read after --
 * as the log level is.  With none installed (unit tests that do not ask
 * for one) every metrics_count_* / metrics_observe_* call does nothing.
 * OMNI_METRICS=0 keeps the region (the pool's draining flag lives in it)
 * but stops the counting and GET /metrics.
 *
 * Ownership: the creator owns the mapping (metrics_destroy unmaps it in
 * that process; forked children keep theirs until they exit).
 * metrics_render() returns a buffer the caller frees.
 */
#ifndef OMNI_METRICS_H
#define OMNI_METRICS_H

#include <stddef.h>

struct route;

#define METRICS_ROUTES_MAX 32     /* distinct paths in a route table */
#define METRICS_ROWS_MAX 64       /* rows in a route table */
#define METRICS_FUNCTIONS_MAX 32  /* Inngest function ids */
#define METRICS_LABEL_MAX 96      /* bytes of a path or function id + NUL */

enum metrics_err {
	METRICS_OK = 0,
	METRICS_ETOOMANY,  /* more rows or paths than the fixed region holds */
	METRICS_ENOMEM,    /* mmap failed (or the render ran out of memory) */
	METRICS__MAX
};

/* Sandbox operations timed by the sandbox policy (sandbox.h). */
enum metrics_sbx_op {
	METRICS_SBX_CREATE = 0, /* the provider's create of a user's sandbox */
	METRICS_SBX_START,      /* a start of a stopped sandbox */
	METRICS_SBX_EXEC,       /* one command */
	METRICS_SBX_READY,      /* the wait until a sandbox is ready */
	METRICS_SBX__MAX
};

/* Where a counted 429 came from (rate_gate.h). */
enum metrics_limit_scope {
	METRICS_LIMIT_CLIENT = 0, /* the client's address */
	METRICS_LIMIT_USER,       /* the token's subject */
	METRICS_LIMIT__MAX
};

struct metrics;

/*
 * Make the region for 'routes' ('n' rows; paths may repeat across
 * methods, each distinct path is one label).  On METRICS_OK '*out' is
 * owned by the caller.  Counting starts enabled.
 */
enum metrics_err metrics_create(const struct route *routes, size_t n,
    struct metrics **out);
void metrics_destroy(struct metrics *m);
const char *metrics_strerror(enum metrics_err err);

/* The process's instance (NULL: none); install before threads start. */
void metrics_install(struct metrics *m);
struct metrics *metrics_installed(void);

/* OMNI_METRICS: the master sets it at start and on reload, for all. */
void metrics_set_enabled(struct metrics *m, int on);
int metrics_enabled(void);

/* Version and revision reported by omni_build_info (copied, cut to
 * METRICS_LABEL_MAX); set by the master at start. */
void metrics_set_build(struct metrics *m, const char *version,
    const char *revision);

/* ---- counting: each a no-op with no instance or when disabled ---- */

/*
 * One answered request: 'row' is the index of the route table row whose
 * path matched (router_dispatch's return), -1 for an unknown path or a
 * request that could not be parsed; 'method' the request's method
 * (anything outside the fixed set counts as "other").
 */
void metrics_observe_request(int row, const char *method, int status,
    long long duration_us);

/* One provider operation ('provider': the sbx_ops name; ok: it
 * succeeded). */
void metrics_observe_sandbox(enum metrics_sbx_op op, const char *provider,
    int ok, long long duration_us);

/* One Inngest call request answered for function 'fn' (composite id)
 * with HTTP 'status' (200 completed, 206 steps, 400 failed for good,
 * 500 to be retried). */
void metrics_count_inngest_call(const char *fn, int status);

/* 'n' events sent to Inngest's event API, delivered or not. */
void metrics_count_events(size_t n, int ok);

void metrics_count_daytona_retry(void);
void metrics_count_daytona_429(void);

/* A request answered 429 by Omni's own limiter ('strict': the strict
 * budget). */
void metrics_count_rate_limited(int strict, enum metrics_limit_scope scope);

/* ---- the master's process state ---- */

void metrics_set_workers_alive(int n);
void metrics_count_worker_restart(void);

/* Draining: set by the master when a stop begins, read by /ready. */
void metrics_set_draining(int on);
int metrics_draining(void);

/* Seconds since the epoch when the master started (a gauge). */
void metrics_set_start_time(struct metrics *m, long long epoch_s);

/*
 * The exposition of every series of 'm' (text/plain; version=0.0.4):
 * counters that were never counted are left out, as Prometheus client
 * libraries do for labelled series.  On METRICS_OK '*out' (NUL-ended,
 * '*len' bytes) is the caller's to free().
 */
enum metrics_err metrics_render(const struct metrics *m, char **out,
    size_t *len);

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
