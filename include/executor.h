/*
 * executor.h -- the local executor: an embedded Inngest server for one
 * machine (build/omni-executor, started by `make run`).
 *
 * It plays the Inngest server's side of the SDK protocol
 * (docs/SDK_SPEC.md in inngest/inngest) over real HTTP, so that the app
 * it drives needs no special case:
 *   - events arrive at POST /e/{event key} (one object or an array) and
 *     start the runs whose triggers match, resolve waits and cancel runs;
 *   - apps sync at POST /fn/register (bearer: the hashed signing key),
 *     and the executor triggers a sync itself at start (a signed PUT to
 *     the serve URL);
 *   - each run is driven with signed call requests: memoized steps,
 *     ctx.stack, planned and parallel steps, retries with exponential
 *     backoff and jitter, Retry-After and X-Inngest-No-Retry, sleeps,
 *     waits for events, invokes, concurrency limits and cancellation;
 *   - GET /runs and /runs/{id} show what it holds (JSON, or HTML for a
 *     browser: exec_views.h).
 * Everything it knows lives in SQLite (WAL) at cfg->db_path: functions,
 * events, runs, memoized steps, the job queue and timers.  A run in
 * flight when the process dies resumes when it starts again; a recorded
 * step is never run again.  docs/inngest.md lists what it does not cover.
 *
 * Threads: 'workers' driver threads send call requests; the HTTP server's
 * threads call executor_events() and friends.  One mutex guards the
 * database connection and the in-memory claims; no lock is held while a
 * call request is on the wire (the app sends events back meanwhile).
 *
 * Ownership: the configuration's strings are borrowed for the executor's
 * lifetime.  The JSON answers are new references the caller puts.
 */
#ifndef OMNI_EXECUTOR_H
#define OMNI_EXECUTOR_H

#include <stddef.h>

struct json_object;
struct executor;

struct exec_config {
	const char *db_path;       /* SQLite file (created) */
	const char *signing_key;   /* signs calls, authenticates syncs */
	const char *event_key;     /* the {key} of POST /e/{key} */
	const char *app_url;       /* serve URL to sync at start, or NULL */
	const char *public_url;    /* where the app reaches us (logs only) */
	unsigned workers;          /* driver threads; 0: 4 */
	long retry_base_ms;        /* first retry delay; 0: 1000 */
	long retry_max_ms;         /* cap of the backoff; 0: 300000 */
	long call_timeout_ms;      /* one call request; 0: 300000 */
	long sync_wait_s;          /* how long to retry the start-up sync */
	int max_runs_listed;       /* GET /runs; 0: 200 */
};

/* Open (or create) the database and check its schema.  0, or -1 with
 * 'err' naming the cause. */
int executor_open(const struct exec_config *cfg, struct executor **out,
    char *err, size_t errlen);

/* Start the driver threads, and the start-up sync in a thread of its
 * own (executor_sync_app) when there is an app URL.  0 or -1. */
int executor_start(struct executor *ex);

/* Ask the driver threads to stop, wait for them (calls in flight finish
 * or time out) and free everything.  NULL is a no-op. */
void executor_close(struct executor *ex);

/*
 * The sync at start: PUT cfg->app_url (signed) until it answers 200 or
 * cfg->sync_wait_s passes.  0 synced, -1 not (logged); no-op 0 without
 * an app URL.
 */
int executor_sync_app(struct executor *ex);

/*
 * The HTTP entry points.  Each returns the HTTP status and sets '*out'
 * to the JSON answer (a new reference; on 4xx {"error": "..."}; on 5xx
 * as well).  Nothing is stored unless the whole request is valid.
 */
int executor_events(struct executor *ex, const char *key, const char *body,
    size_t len, struct json_object **out);
int executor_register(struct executor *ex, const char *authorization,
    const char *body, size_t len, struct json_object **out);
int executor_runs(struct executor *ex, struct json_object **out);
int executor_run(struct executor *ex, const char *run_id,
    struct json_object **out);

#endif
