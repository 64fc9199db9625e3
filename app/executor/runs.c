/*
 * runs.c -- the lifecycle of a run in the local executor: start, memoized
 * steps, the job queue, the end (and the parent it reports to), and the
 * JSON the pages and GET /runs show.
 *
 * Every function expects ex->mu held and, where it writes more than one
 * row, the caller's transaction open: a run's state moves in one commit.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec_expr.h"
#include "exec_internal.h"
#include "json_util.h"
#include "log.h"
#include "timeutil.h"

int64_t exec_now_ms(void)
{
	return (int64_t)time_real_ms();
}

/* Crockford's base32: ids sort by time, then by chance (ULID-like). */
void exec_new_id(const char *prefix, char out[EXEC_ID_LEN])
{
	static const char B32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	uint64_t t = (uint64_t)exec_now_ms();
	unsigned char rnd[16];
	size_t n = strlen(prefix), i;

	if (n > EXEC_ID_LEN - 27)
		n = EXEC_ID_LEN - 27;
	memcpy(out, prefix, n);
	for (i = 0; i < 10; i++)
		out[n + 9 - i] = B32[(t >> (5 * i)) & 31];
	arc4random_buf(rnd, sizeof(rnd));
	for (i = 0; i < 16; i++)
		out[n + 10 + i] = B32[rnd[i] & 31];
	out[n + 26] = '\0';
}

void exec_log_transition(const char *run_id, const char *fn_id,
    const char *from, const char *to, const char *why)
{
	struct json_object *line = log_begin(LOG_INFO, "run_transition");

	if (line == NULL)
		return;
	json_object_object_add(line, "run_id", json_object_new_string(run_id));
	json_object_object_add(line, "function_id",
	    json_object_new_string(fn_id));
	json_object_object_add(line, "from", from != NULL ?
	    json_object_new_string(from) : NULL);
	json_object_object_add(line, "to", json_object_new_string(to));
	if (why != NULL)
		json_object_object_add(line, "reason",
		    json_object_new_string(why));
	log_end(line);
}

/* The concurrency key of entry 'i' of a function's config for 'event'
 * into 'out': "" when the entry has no key (one limit for the whole
 * function), else the key's JSON text; a missing key value counts as
 * null, as Inngest treats it. */
static void concurrency_key(struct json_object *config, int i,
    struct json_object *event, char *out, size_t len)
{
	struct json_object *arr, *ent, *key, *v;
	struct exec_expr *e = NULL;

	out[0] = '\0';
	if (!json_object_object_get_ex(config, "concurrency", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    (size_t)i >= json_object_array_length(arr))
		return;
	ent = json_object_array_get_idx(arr, (size_t)i);
	if (!json_object_object_get_ex(ent, "key", &key) ||
	    !json_object_is_type(key, json_type_string))
		return;
	/* Registration compiled it already; a failure here is memory. */
	if (exec_expr_compile(json_object_get_string(key), EXPR_VALUE, &e,
	    NULL, 0) != EXPR_OK)
		return;
	v = exec_expr_value(e, event, NULL);
	snprintf(out, len, "%s", v != NULL ? json_compact(v) : "null");
	exec_expr_free(e);
}

static struct json_object *function_config(struct executor *ex,
    const char *fn_id)
{
	sqlite3_stmt *st = exec_sql(ex, "SELECT config FROM functions "
	    "WHERE id = ?", "s", fn_id);
	struct json_object *cfg = NULL;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		cfg = exec_col_json(st, 0);
	exec_sql_end(ex, st);
	return cfg;
}

int exec_run_start(struct executor *ex, const char *fn_id,
    struct json_object *event, const char *parent_run,
    const char *parent_step, char run_id[EXEC_ID_LEN])
{
	struct json_object *cfg = function_config(ex, fn_id), *v;
	char k0[256], k1[256];
	const char *ev_id = NULL, *ev_name = "";
	int64_t now = exec_now_ms();
	int rc;

	if (cfg == NULL)
		return -1;
	concurrency_key(cfg, 0, event, k0, sizeof(k0));
	concurrency_key(cfg, 1, event, k1, sizeof(k1));
	json_object_put(cfg);
	if (json_object_object_get_ex(event, "id", &v))
		ev_id = json_object_get_string(v);
	if (json_object_object_get_ex(event, "name", &v))
		ev_name = json_object_get_string(v);
	exec_new_id("01", run_id);
	rc = exec_sql_do(ex, "INSERT INTO runs (id, fn_id, event_id, "
	    "event_name, event, status, started_at, parent_run, parent_step, "
	    "ckey0, ckey1) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
	    "ssssjissss", run_id, fn_id, ev_id, ev_name, event, now,
	    parent_run, parent_step, k0, k1);
	if (rc == 0)
		rc = exec_job_add(ex, run_id, "call", EXEC_DISCOVERY, 0, now);
	if (rc == 0)
		exec_log_transition(run_id, fn_id, NULL, "running",
		    parent_run != NULL ? "invoked" : "event");
	return rc;
}

int exec_memoize(struct executor *ex, const char *run_id, const char *step,
    const char *name, struct json_object *value)
{
	return exec_sql_do(ex, "INSERT OR IGNORE INTO steps (run_id, id, seq, "
	    "name, value) VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 "
	    "FROM steps WHERE run_id = ?1), ?3, ?4)", "sssj", run_id, step,
	    name, value);
}

int exec_is_memoized(struct executor *ex, const char *run_id,
    const char *step)
{
	return exec_sql_int(ex, 0, "SELECT COUNT(*) FROM steps WHERE "
	    "run_id = ? AND id = ?", "ss", run_id, step) > 0;
}

int exec_job_add(struct executor *ex, const char *run_id, const char *kind,
    const char *step, int attempt, int64_t due)
{
	int rc = exec_sql_do(ex, "INSERT INTO jobs (run_id, kind, step, "
	    "attempt, due_at) VALUES (?, ?, ?, ?, ?)", "sssii", run_id, kind,
	    step, (int64_t)attempt, due);

	if (rc == 0)
		pthread_cond_broadcast(&ex->cv);
	return rc;
}

int exec_discover(struct executor *ex, const char *run_id)
{
	if (exec_sql_int(ex, 0, "SELECT COUNT(*) FROM jobs WHERE run_id = ? "
	    "AND kind = 'call'", "s", run_id) > 0)
		return 0;
	if (exec_sql_int(ex, 0, "SELECT COUNT(*) FROM runs WHERE id = ? AND "
	    "status = 'running'", "s", run_id) == 0)
		return 0;
	return exec_job_add(ex, run_id, "call", EXEC_DISCOVERY, 0,
	    exec_now_ms());
}

/* What a parent's invoke step memoizes when its child ends. */
static struct json_object *child_result(const char *status,
    struct json_object *output, struct json_object *error)
{
	struct json_object *r = json_object_new_object(), *e;

	if (r == NULL)
		return NULL;
	if (strcmp(status, "completed") == 0) {
		json_object_object_add(r, "data", json_object_get(output));
		return r;
	}
	if (json_object_is_type(error, json_type_object))
		e = json_object_get(error);
	else {
		e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(
		    strcmp(status, "cancelled") == 0 ? "Cancelled" : "Error"));
		json_object_object_add(e, "message", json_object_new_string(
		    error != NULL ? json_compact(error) : status));
	}
	json_object_object_add(r, "error", e);
	return r;
}

static int report_to_parent(struct executor *ex, const char *run_id,
    const char *status, struct json_object *output,
    struct json_object *error)
{
	/* Only a parent still running hears of it: a cancelled parent
	 * stays as it was cancelled. */
	sqlite3_stmt *st = exec_sql(ex, "SELECT c.parent_run, c.parent_step "
	    "FROM runs c JOIN runs p ON p.id = c.parent_run WHERE c.id = ? AND "
	    "p.status = 'running'", "s", run_id);
	struct json_object *value;
	int rc = 0;

	if (st == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		char parent[EXEC_ID_LEN], step[128];

		snprintf(parent, sizeof(parent), "%s", exec_col_text(st, 0));
		snprintf(step, sizeof(step), "%s", exec_col_text(st, 1));
		value = child_result(status, output, error);
		rc = value == NULL ? -1 :
		    exec_memoize(ex, parent, step, NULL, value);
		json_object_put(value);
		/* The invoke's timeout job has nothing left to do. */
		if (rc == 0)
			rc = exec_sql_do(ex, "DELETE FROM jobs WHERE run_id = ? "
			    "AND kind = 'timeout' AND step = ?", "ss", parent,
			    step);
		if (rc == 0)
			rc = exec_discover(ex, parent);
	}
	exec_sql_end(ex, st);
	return rc;
}

int exec_run_finish(struct executor *ex, const char *run_id,
    const char *status, struct json_object *output,
    struct json_object *error)
{
	char fn_id[256] = "";
	sqlite3_stmt *st;

	st = exec_sql(ex, "SELECT fn_id FROM runs WHERE id = ? AND status = "
	    "'running'", "s", run_id);
	if (st == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(fn_id, sizeof(fn_id), "%s", exec_col_text(st, 0));
	exec_sql_end(ex, st);
	if (fn_id[0] == '\0')
		return 0; /* already ended: a late answer or a second cancel */
	if (exec_sql_do(ex, "UPDATE runs SET status = ?, output = ?, error = "
	    "?, ended_at = ? WHERE id = ?", "sjjis", status, output, error,
	    exec_now_ms(), run_id) != 0 ||
	    exec_sql_do(ex, "DELETE FROM jobs WHERE run_id = ?", "s",
	    run_id) != 0 ||
	    exec_sql_do(ex, "DELETE FROM waits WHERE run_id = ?", "s",
	    run_id) != 0)
		return -1;
	exec_log_transition(run_id, fn_id, "running", status, NULL);
	return report_to_parent(ex, run_id, status, output, error);
}

int exec_max_attempts(struct executor *ex, const char *run_id)
{
	return (int)exec_sql_int(ex, 4, "SELECT f.attempts FROM runs r JOIN "
	    "functions f ON f.id = r.fn_id WHERE r.id = ?", "s", run_id);
}

int64_t exec_backoff_ms(const struct executor *ex, int attempt,
    long retry_after_ms)
{
	int64_t base = ex->cfg.retry_base_ms, cap = ex->cfg.retry_max_ms;
	int64_t d = base;

	if (retry_after_ms >= 0)
		return retry_after_ms;
	for (int i = 1; i < attempt && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	/* Equal jitter: at least half the delay, so retries of many runs
	 * that failed together spread out without any coming too soon. */
	return d / 2 + (int64_t)arc4random_uniform((uint32_t)(d / 2 + 1));
}

/* ---- JSON for GET /runs and the pages ---------------------------------- */

static void add_time(struct json_object *o, const char *key,
    sqlite3_stmt *st, int i)
{
	json_object_object_add(o, key, sqlite3_column_type(st, i) ==
	    SQLITE_NULL ? NULL : json_object_new_int64(
	    sqlite3_column_int64(st, i)));
}

static void add_text(struct json_object *o, const char *key,
    sqlite3_stmt *st, int i)
{
	json_object_object_add(o, key, sqlite3_column_type(st, i) ==
	    SQLITE_NULL ? NULL : json_object_new_string(exec_col_text(st, i)));
}

#define SUMMARY_COLS "id, fn_id, event_name, status, started_at, ended_at, " \
	"event_id"

static struct json_object *summary_of(sqlite3_stmt *st)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	add_text(o, "run_id", st, 0);
	add_text(o, "function_id", st, 1);
	add_text(o, "event_name", st, 2);
	add_text(o, "status", st, 3);
	add_time(o, "started_at", st, 4);
	add_time(o, "ended_at", st, 5);
	add_text(o, "event_id", st, 6);
	return o;
}

struct json_object *exec_runs_json(struct executor *ex, int limit)
{
	struct json_object *arr = json_object_new_array();
	sqlite3_stmt *st;

	st = exec_sql(ex, "SELECT " SUMMARY_COLS " FROM runs ORDER BY "
	    "started_at DESC, id DESC LIMIT ?", "i", (int64_t)limit);
	if (arr == NULL || st == NULL) {
		exec_sql_end(ex, st);
		json_object_put(arr);
		return NULL;
	}
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_array_add(arr, summary_of(st));
	exec_sql_end(ex, st);
	return arr;
}

static struct json_object *calls_of(struct executor *ex, const char *id)
{
	struct json_object *arr = json_object_new_array(), *o;
	sqlite3_stmt *st = exec_sql(ex, "SELECT seq, step, step_name, attempt, "
	    "started_at, duration_ms, http_status, outcome, ops, error FROM "
	    "calls WHERE run_id = ? ORDER BY seq", "s", id);

	while (arr != NULL && st != NULL && sqlite3_step(st) == SQLITE_ROW &&
	    (o = json_object_new_object()) != NULL) {
		add_time(o, "seq", st, 0);
		add_text(o, "step", st, 1);
		add_text(o, "step_name", st, 2);
		add_time(o, "attempt", st, 3);
		add_time(o, "started_at", st, 4);
		add_time(o, "duration_ms", st, 5);
		add_time(o, "http_status", st, 6);
		add_text(o, "outcome", st, 7);
		json_object_object_add(o, "ops", exec_col_json(st, 8));
		add_text(o, "error", st, 9);
		json_object_array_add(arr, o);
	}
	exec_sql_end(ex, st);
	return arr;
}

static struct json_object *steps_of(struct executor *ex, const char *id)
{
	struct json_object *arr = json_object_new_array(), *o, *v, *m;
	sqlite3_stmt *st = exec_sql(ex, "SELECT id, name, value FROM steps "
	    "WHERE run_id = ? ORDER BY seq", "s", id);

	while (arr != NULL && st != NULL && sqlite3_step(st) == SQLITE_ROW &&
	    (o = json_object_new_object()) != NULL) {
		add_text(o, "id", st, 0);
		add_text(o, "name", st, 1);
		v = exec_col_json(st, 2);
		/* {data} and {error} show as such; a wait's event or a
		 * sleep's null is the step's data. */
		if (json_object_object_get_ex(v, "error", &m) &&
		    json_object_object_length(v) == 1)
			json_object_object_add(o, "error", json_object_get(m));
		else if (json_object_object_get_ex(v, "data", &m) &&
		    json_object_object_length(v) == 1)
			json_object_object_add(o, "data", json_object_get(m));
		else
			json_object_object_add(o, "data", json_object_get(v));
		json_object_put(v);
		json_object_array_add(arr, o);
	}
	exec_sql_end(ex, st);
	return arr;
}

static struct json_object *pending_of(struct executor *ex, const char *id,
    int waits)
{
	struct json_object *arr = json_object_new_array(), *o;
	sqlite3_stmt *st = waits ?
	    exec_sql(ex, "SELECT step, until_at, event, expr FROM waits WHERE "
	    "run_id = ? ORDER BY until_at", "s", id) :
	    exec_sql(ex, "SELECT step, due_at FROM jobs WHERE run_id = ? AND "
	    "kind = 'wake' ORDER BY due_at", "s", id);

	while (arr != NULL && st != NULL && sqlite3_step(st) == SQLITE_ROW &&
	    (o = json_object_new_object()) != NULL) {
		add_text(o, "id", st, 0);
		add_time(o, "until", st, 1);
		if (waits) {
			add_text(o, "event", st, 2);
			add_text(o, "if", st, 3);
		}
		json_object_array_add(arr, o);
	}
	exec_sql_end(ex, st);
	return arr;
}

struct json_object *exec_run_json(struct executor *ex, const char *run_id)
{
	struct json_object *o = NULL;
	sqlite3_stmt *st = exec_sql(ex, "SELECT " SUMMARY_COLS ", event, "
	    "output, error, parent_run FROM runs WHERE id = ?", "s", run_id);

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW &&
	    (o = summary_of(st)) != NULL) {
		json_object_object_add(o, "event", exec_col_json(st, 7));
		json_object_object_add(o, "output", exec_col_json(st, 8));
		json_object_object_add(o, "error", exec_col_json(st, 9));
		add_text(o, "parent_run_id", st, 10);
		json_object_object_add(o, "calls", calls_of(ex, run_id));
		json_object_object_add(o, "steps", steps_of(ex, run_id));
		json_object_object_add(o, "waiting", pending_of(ex, run_id, 1));
		json_object_object_add(o, "sleeping",
		    pending_of(ex, run_id, 0));
	}
	exec_sql_end(ex, st);
	return o;
}
