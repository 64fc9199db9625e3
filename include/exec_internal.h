/*
 * exec_internal.h -- what the local executor's files share (executor.h is
 * the module's interface; this header is for app/executor/ only).
 *
 *   store.c     the SQLite connection: schema, statements, transactions
 *   register.c  POST /fn/register: validating and storing functions
 *   events.c    POST /e/{key}: validating events, starting runs,
 *               resolving waits, cancelling runs
 *   runs.c      run lifecycle: start, memoize, schedule, finish
 *   call.c      one call request: its body, signature and URL
 *   ops.c       what an answer to a call request does to its run
 *   driver.c    the driver threads: claiming due jobs under the limits
 *   engine.c    open, start, close, the start-up sync
 *   views.c     HTML pages (exec_views.h)
 *   http_server.c, api.c, main.c  the process around it
 *
 * Locking: every function here that touches ex->db expects ex->mu held,
 * except where it says otherwise.  Times are epoch milliseconds.
 */
#ifndef OMNI_EXEC_INTERNAL_H
#define OMNI_EXEC_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sqlite3.h>

#include "executor.h"

struct json_object;

#define EXEC_ID_LEN     64     /* run ids, event ids we make */
#define EXEC_MAX_CLAIMS 256    /* call requests in flight at once */
#define EXEC_MAX_CONC   2      /* concurrency entries per function */
#define EXEC_DISCOVERY  "step" /* the target of a call without a step */

/* A job being worked on by a driver thread (in memory only: a job row
 * stays in the database until its outcome is committed, so a crash
 * leaves it to be done again). */
struct exec_claim {
	int64_t job_id;
	char fn_id[256];
	char keys[EXEC_MAX_CONC][256];  /* concurrency keys ("" none) */
	int used;
};

/* A prepared statement kept for reuse, keyed by its SQL text's address
 * (every statement is a string literal). */
#define EXEC_STMT_CACHE 96
struct exec_stmt {
	const char *sql;
	sqlite3_stmt *st;
	int busy;                    /* handed out, not yet ended */
};

struct executor {
	struct exec_config cfg;
	sqlite3 *db;
	struct exec_stmt stmts[EXEC_STMT_CACHE];
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* a job was added, or one finished */
	struct exec_claim claims[EXEC_MAX_CLAIMS];
	pthread_t *threads;
	unsigned nthreads;
	unsigned nthreads_alive;     /* driver threads not yet returned */
	pthread_t sync_thread;       /* the start-up sync (executor_start) */
	int has_sync_thread;
	_Atomic int stopping;        /* read by the sync thread unlocked */
};

/* ---- store.c ------------------------------------------------------------ */

int exec_store_open(struct executor *ex, char *err, size_t errlen);
void exec_store_close(struct executor *ex);

/*
 * Prepare 'sql' (a string literal: statements are cached by its address,
 * as parsing costs more than running them) and bind its parameters from
 * 'types', one char each: 's' const char * (NULL binds null), 'i'
 * int64_t, 'j' struct json_object * (serialized; NULL binds the JSON text
 * "null").  NULL on error (logged).  Every statement returned is given
 * back with exec_sql_end(), never sqlite3_finalize().
 */
sqlite3_stmt *exec_sql(struct executor *ex, const char *sql,
    const char *types, ...);
/* Done with a statement from exec_sql() (NULL is a no-op). */
void exec_sql_end(struct executor *ex, sqlite3_stmt *st);
/* The same, stepped once and finalized: 0 done, -1 error (logged). */
int exec_sql_do(struct executor *ex, const char *sql, const char *types,
    ...);
/* A single integer (first column of the first row), or 'def'. */
int64_t exec_sql_int(struct executor *ex, int64_t def, const char *sql,
    const char *types, ...);
/* Column 'i' of the current row parsed as JSON (a new reference; NULL for
 * SQL NULL, the JSON null, or text that does not parse). */
struct json_object *exec_col_json(sqlite3_stmt *st, int i);
/* Column 'i' as text, "" for NULL (borrowed until the next step). */
const char *exec_col_text(sqlite3_stmt *st, int i);

int exec_begin(struct executor *ex);
int exec_commit(struct executor *ex);     /* rolls back on failure */
void exec_rollback(struct executor *ex);

/* ---- runs.c ------------------------------------------------------------- */

int64_t exec_now_ms(void);
/* A fresh id "<prefix><26 base32 chars>" in 'out' (EXEC_ID_LEN). */
void exec_new_id(const char *prefix, char out[EXEC_ID_LEN]);

/* Start a run of 'fn_id' for 'event' (borrowed); the parent fields for
 * an invoke (NULL otherwise).  Writes its id to 'run_id'.  0 or -1. */
int exec_run_start(struct executor *ex, const char *fn_id,
    struct json_object *event, const char *parent_run,
    const char *parent_step, char run_id[EXEC_ID_LEN]);
/* Record a step's result (first write wins).  'value' borrowed. */
int exec_memoize(struct executor *ex, const char *run_id, const char *step,
    const char *name, struct json_object *value);
int exec_is_memoized(struct executor *ex, const char *run_id,
    const char *step);
/* Queue a job; kind is "call", "wake" or "timeout". */
int exec_job_add(struct executor *ex, const char *run_id, const char *kind,
    const char *step, int attempt, int64_t due);
/* Queue the call without a target if no call of the run is queued. */
int exec_discover(struct executor *ex, const char *run_id);
/* End a run: "completed" (output), "failed" (error) or "cancelled";
 * drops its jobs and waits and reports to a parent. */
int exec_run_finish(struct executor *ex, const char *run_id,
    const char *status, struct json_object *output,
    struct json_object *error);
/* The run's function's attempts (retries + 1). */
int exec_max_attempts(struct executor *ex, const char *run_id);
/* The delay before attempt 'attempt' (1 = first retry): exponential from
 * cfg.retry_base_ms with jitter, capped at cfg.retry_max_ms; a
 * Retry-After hint (>= 0) wins. */
int64_t exec_backoff_ms(const struct executor *ex, int attempt,
    long retry_after_ms);
/* One JSON log line for a transition of a run. */
void exec_log_transition(const char *run_id, const char *fn_id,
    const char *from, const char *to, const char *why);

/* ---- call.c ------------------------------------------------------------- */

struct exec_call {
	int64_t job_id;
	char run_id[EXEC_ID_LEN];
	char step[128];            /* EXEC_DISCOVERY or a hashed step id */
	int attempt;
	char *url;                 /* malloc'd */
	char *body;                /* malloc'd JSON text */
	size_t body_len;
};

/* Build the call request of a claimed job from the database. 0 or -1. */
int exec_call_build(struct executor *ex, struct exec_call *c);
void exec_call_free(struct exec_call *c);

struct exec_answer {
	long status;               /* 0: no answer (network, timeout) */
	char *body;
	size_t body_len;
	long retry_after_ms;
	char *no_retry;            /* X-Inngest-No-Retry, or NULL */
	char *sdk;                 /* X-Inngest-Sdk, or NULL */
	const char *net_error;     /* when status is 0 */
	int64_t started_at;
	int64_t duration_ms;
};

/* Sign and send (no lock held).  Always fills 'a'. */
void exec_call_send(struct executor *ex, const struct exec_call *c,
    struct exec_answer *a);
void exec_answer_free(struct exec_answer *a);

/* ---- driver.c ---------------------------------------------------------- */

/* A driver thread's body ('arg' is the executor). */
void *exec_driver_main(void *arg);

/* ---- ops.c -------------------------------------------------------------- */

/* Apply the answer to the run, record the call, drop the job.  In a
 * transaction the caller opens. 0 or -1. */
int exec_apply_answer(struct executor *ex, const struct exec_call *c,
    const struct exec_answer *a);

/* ---- events.c ----------------------------------------------------------- */

/* '*out' = {"error": msg, "status": status}; returns 'status'. */
int exec_answer_error(struct json_object **out, int status,
    const char *msg);

/* Resolve waits and cancellations for a stored event (used by invokes'
 * and events' paths alike). */
int exec_event_effects(struct executor *ex, struct json_object *event);

/* ---- runs views (runs.c) ------------------------------------------------ */

struct json_object *exec_runs_json(struct executor *ex, int limit);
struct json_object *exec_run_json(struct executor *ex, const char *run_id);

#endif
