/*
 * driver.c -- the local executor's driver threads.
 *
 * Each thread takes the next due job that the function's concurrency
 * limits allow, and:
 *   - a "call" job: builds the call request, sends it without the lock,
 *     then applies the answer in one transaction (ops.c);
 *   - a "wake" job (a sleep ended): memoizes null for the step and asks
 *     for the next discovery call;
 *   - a "timeout" job: a wait for an event ends with null, an invoke
 *     with a timeout error -- unless the event or the child came first.
 *
 * A claimed job stays in the database until its outcome is committed:
 * killed mid-call, the executor does the call again after a restart, and
 * nothing whose result was committed runs twice.  Claims live in memory
 * only, under ex->mu.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec_internal.h"
#include "http_client.h"
#include "log.h"

#define PICK_BATCH    512     /* due jobs looked at per pick */
#define IDLE_WAIT_MS  1000    /* longest sleep without a known job */
#define ERROR_DELAY   1000    /* a job whose outcome failed to commit */

struct job {
	int64_t id;
	char run_id[EXEC_ID_LEN];
	char kind[16];
	char step[128];
	int attempt;
	char fn_id[256];
	char keys[EXEC_MAX_CONC][256];
	int limits[EXEC_MAX_CONC];
};

static int claimed(const struct executor *ex, int64_t id)
{
	for (size_t i = 0; i < EXEC_MAX_CLAIMS; i++)
		if (ex->claims[i].used && ex->claims[i].job_id == id)
			return 1;
	return 0;
}

/* Whether one more call of 'j' stays within each concurrency limit of
 * its function: calls in flight with the same function and key. */
static int within_limits(const struct executor *ex, const struct job *j)
{
	for (int k = 0; k < EXEC_MAX_CONC; k++) {
		int n = 0;

		if (j->limits[k] <= 0)
			continue;
		for (size_t i = 0; i < EXEC_MAX_CLAIMS; i++) {
			const struct exec_claim *c = &ex->claims[i];

			if (c->used && strcmp(c->fn_id, j->fn_id) == 0 &&
			    strcmp(c->keys[k], j->keys[k]) == 0)
				n++;
		}
		if (n >= j->limits[k])
			return 0;
	}
	return 1;
}

static struct exec_claim *claim(struct executor *ex, const struct job *j)
{
	for (size_t i = 0; i < EXEC_MAX_CLAIMS; i++) {
		struct exec_claim *c = &ex->claims[i];

		if (c->used)
			continue;
		c->used = 1;
		c->job_id = j->id;
		/* Same-sized, NUL-terminated arrays. */
		memcpy(c->fn_id, j->fn_id, sizeof(c->fn_id));
		memcpy(c->keys, j->keys, sizeof(c->keys));
		return c;
	}
	return NULL;
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *st, int i)
{
	snprintf(dst, len, "%s", exec_col_text(st, i));
}

/* The first due job a thread may take now: 1 found, 0 none. */
static int pick(struct executor *ex, struct job *j)
{
	sqlite3_stmt *st = exec_sql(ex, "SELECT j.id, j.run_id, j.kind, "
	    "j.step, j.attempt, r.fn_id, r.ckey0, r.ckey1, "
	    "COALESCE(f.limit0, 0), COALESCE(f.limit1, 0) FROM jobs j "
	    "JOIN runs r ON r.id = j.run_id LEFT JOIN functions f ON "
	    "f.id = r.fn_id WHERE j.due_at <= ? ORDER BY j.due_at, j.id "
	    "LIMIT ?", "ii", exec_now_ms(), (int64_t)PICK_BATCH);
	int found = 0;

	while (st != NULL && !found && sqlite3_step(st) == SQLITE_ROW) {
		j->id = sqlite3_column_int64(st, 0);
		if (claimed(ex, j->id))
			continue;
		copy_col(j->run_id, sizeof(j->run_id), st, 1);
		copy_col(j->kind, sizeof(j->kind), st, 2);
		copy_col(j->step, sizeof(j->step), st, 3);
		j->attempt = sqlite3_column_int(st, 4);
		copy_col(j->fn_id, sizeof(j->fn_id), st, 5);
		copy_col(j->keys[0], sizeof(j->keys[0]), st, 6);
		copy_col(j->keys[1], sizeof(j->keys[1]), st, 7);
		j->limits[0] = sqlite3_column_int(st, 8);
		j->limits[1] = sqlite3_column_int(st, 9);
		found = strcmp(j->kind, "call") != 0 || within_limits(ex, j);
	}
	exec_sql_end(ex, st);
	return found;
}

/* A sleep's end, or a wait's or an invoke's timeout. */
static int run_timer(struct executor *ex, const struct job *j)
{
	struct json_object *err, *val;
	int rc;

	if (exec_sql_do(ex, "DELETE FROM jobs WHERE id = ?", "i", j->id) != 0)
		return -1;
	if (exec_is_memoized(ex, j->run_id, j->step))
		return 0; /* the event or the child came first */
	if (strcmp(j->kind, "wake") == 0 ||
	    exec_sql_int(ex, 0, "SELECT COUNT(*) FROM waits WHERE run_id = ? "
	    "AND step = ?", "ss", j->run_id, j->step) > 0) {
		rc = exec_sql_do(ex, "DELETE FROM waits WHERE run_id = ? AND "
		    "step = ?", "ss", j->run_id, j->step);
		if (rc == 0)
			rc = exec_memoize(ex, j->run_id, j->step, NULL, NULL);
	} else {
		/* An invoke's timeout: the parent sees an error. */
		err = json_object_new_object();
		val = json_object_new_object();
		json_object_object_add(err, "name", json_object_new_string(
		    "InngestInvokeTimeoutError"));
		json_object_object_add(err, "message", json_object_new_string(
		    "the invoked function did not finish in time"));
		json_object_object_add(val, "error", err);
		rc = exec_memoize(ex, j->run_id, j->step, NULL, val);
		json_object_put(val);
	}
	return rc == 0 ? exec_discover(ex, j->run_id) : -1;
}

/* A job whose outcome could not be committed is tried again later
 * rather than at once, so a failing database is not spun on. */
static void postpone(struct executor *ex, int64_t id)
{
	exec_sql_do(ex, "UPDATE jobs SET due_at = ? WHERE id = ?", "ii",
	    exec_now_ms() + ERROR_DELAY, id);
}

static void do_timer(struct executor *ex, const struct job *j)
{
	if (exec_begin(ex) != 0)
		return;
	if (run_timer(ex, j) != 0 || exec_commit(ex) != 0) {
		exec_rollback(ex);
		postpone(ex, j->id);
	}
}

/* A call job: called and returns with ex->mu held; drops it meanwhile. */
static void do_call(struct executor *ex, const struct job *j)
{
	struct exec_call c = { .job_id = j->id, .attempt = j->attempt };
	struct exec_claim *cl = claim(ex, j);
	struct exec_answer a;
	int rc;

	if (cl == NULL) {
		/* Every slot busy: leave the job for a later pick. */
		pthread_cond_wait(&ex->cv, &ex->mu);
		return;
	}
	snprintf(c.run_id, sizeof(c.run_id), "%s", j->run_id);
	snprintf(c.step, sizeof(c.step), "%s", j->step);
	if (exec_call_build(ex, &c) != 0) {
		exec_call_free(&c);
		cl->used = 0;
		if (exec_begin(ex) == 0 && exec_sql_do(ex, "DELETE FROM jobs "
		    "WHERE id = ?", "i", j->id) == 0 && exec_run_finish(ex,
		    j->run_id, "failed", NULL, NULL) == 0 &&
		    exec_commit(ex) == 0)
			log_msg(LOG_ERROR, "executor_call_unbuildable", "run %s: "
			    "its function is no longer registered", j->run_id);
		else
			exec_rollback(ex);
		return;
	}
	pthread_mutex_unlock(&ex->mu);
	exec_call_send(ex, &c, &a);
	pthread_mutex_lock(&ex->mu);
	rc = exec_begin(ex);
	if (rc == 0)
		rc = exec_apply_answer(ex, &c, &a);
	if (rc == 0)
		rc = exec_commit(ex);
	if (rc != 0) {
		exec_rollback(ex);
		postpone(ex, j->id);
	}
	cl->used = 0;
	pthread_cond_broadcast(&ex->cv);
	exec_answer_free(&a);
	exec_call_free(&c);
}

/* Sleep until the next job is due (at most IDLE_WAIT_MS), or until a job
 * is added or a call finishes. */
static void idle(struct executor *ex)
{
	int64_t now = exec_now_ms(), next, wait_ms = IDLE_WAIT_MS;
	struct timespec ts;

	next = exec_sql_int(ex, -1, "SELECT MIN(due_at) FROM jobs WHERE "
	    "due_at > ?", "i", now);
	if (next > 0 && next - now < wait_ms)
		wait_ms = next - now;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&ex->cv, &ex->mu, &ts);
}

void *exec_driver_main(void *arg)
{
	struct executor *ex = arg;
	struct job j;

	pthread_mutex_lock(&ex->mu);
	while (!ex->stopping) {
		if (!pick(ex, &j))
			idle(ex);
		else if (strcmp(j.kind, "call") == 0)
			do_call(ex, &j);
		else
			do_timer(ex, &j);
	}
	ex->nthreads_alive--;
	pthread_cond_broadcast(&ex->cv);
	pthread_mutex_unlock(&ex->mu);
	hc_thread_cleanup();
	return NULL;
}
