/*
 * test_exec_engine.c -- the local executor's engine without HTTP and
 * without driver threads: app syncs (executor_register), events
 * (executor_events), what an answer to a call request does to its run
 * (exec_apply_answer, simulated by reading the due job from SQLite), the
 * call request's body and URL (exec_call_build), and the retry backoff.
 *
 * Each test gets a fresh database in a mkdtemp directory; executor_start
 * is never called, so nothing runs behind the test's back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "exec_internal.h"
#include "executor.h"
#include "inngest_signing.h"
#include "log.h"
#include "rm_tree.h"

#define SIGNING_KEY "signkey-test-" \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OTHER_KEY "signkey-test-" \
    "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define EVENT_KEY "evkey-test"
#define SDK "c:v0.1.0"
#define BASE_MS 1000
#define MAX_MS  6000   /* not base * 2^k: the cap must cut */

/* app-fn: retries 2 (3 attempts), trigger filtered on n, cancellable.
 * app-child: invoked; its URL has stepId first, which the store drops. */
#define FN_MAIN \
    "{\"id\":\"app-fn\",\"name\":\"fn\",\"triggers\":[{\"event\":\"t/ev\"," \
    "\"expression\":\"event.data.n > 1\"}],\"steps\":{\"step\":{\"id\":" \
    "\"step\",\"name\":\"step\",\"runtime\":{\"type\":\"http\",\"url\":" \
    "\"http://127.0.0.1:9/api/inngest?fnId=app-fn&stepId=step\"}," \
    "\"retries\":{\"attempts\":2}}},\"concurrency\":[{\"limit\":1}]," \
    "\"cancel\":[{\"event\":\"t/cancel\",\"if\":" \
    "\"async.data.id == event.data.id\"}]}"
#define FN_CHILD \
    "{\"id\":\"app-child\",\"name\":\"child\",\"triggers\":[{\"event\":" \
    "\"t/child\"}],\"steps\":{\"step\":{\"id\":\"step\",\"name\":\"step\"," \
    "\"runtime\":{\"type\":\"http\",\"url\":" \
    "\"http://127.0.0.1:9/api/inngest?stepId=step&fnId=app-child\"}," \
    "\"retries\":{\"attempts\":0}}}}"
#define APP(fns) "{\"url\":\"http://127.0.0.1:9/api/inngest\"," \
    "\"functions\":[" fns "]}"

struct fx {
	char dir[64];
	char db[128];
	char bearer[ING_KEY_HASH_LEN + 8];
	struct executor *ex;
};

/* ---- harness ------------------------------------------------------------ */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct exec_config cfg = { 0 };
	char hash[ING_KEY_HASH_LEN], err[256];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_exec_engine.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/exec.db", f->dir);
	if (ing_signing_key_hash(SIGNING_KEY, hash, sizeof(hash)) != 0) {
		rm_tree(f->dir);
		free(f);
		return -1;
	}
	snprintf(f->bearer, sizeof(f->bearer), "Bearer %s", hash);
	cfg.db_path = f->db;
	cfg.signing_key = SIGNING_KEY;
	cfg.event_key = EVENT_KEY;
	cfg.workers = 1;
	cfg.retry_base_ms = BASE_MS;
	cfg.retry_max_ms = MAX_MS;
	if (executor_open(&cfg, &f->ex, err, sizeof(err)) != 0) {
		fprintf(stderr, "executor_open: %s\n", err);
		rm_tree(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	executor_close(f->ex);
	rm_tree(f->dir);
	free(f);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	return 0;
}

static int do_register(struct fx *f, const char *auth, const char *body,
    struct json_object **out)
{
	return executor_register(f->ex, auth, body, strlen(body), out);
}

/* Register and check it worked. */
static void sync_app(struct fx *f, const char *body)
{
	struct json_object *out = NULL;

	assert_int_equal(do_register(f, f->bearer, body, &out), 200);
	json_object_put(out);
}

static int send_events(struct fx *f, const char *body,
    struct json_object **keep)
{
	struct json_object *out = NULL;
	int st = executor_events(f->ex, EVENT_KEY, body, strlen(body), &out);

	if (keep != NULL)
		*keep = out;
	else
		json_object_put(out);
	return st;
}

/* A query returning one integer; 's' parameters only (0 to 2). */
static int64_t q_int(struct fx *f, const char *sql, const char *a,
    const char *b)
{
	int64_t v;

	pthread_mutex_lock(&f->ex->mu);
	if (b != NULL)
		v = exec_sql_int(f->ex, -1, sql, "ss", a, b);
	else if (a != NULL)
		v = exec_sql_int(f->ex, -1, sql, "s", a);
	else
		v = exec_sql_int(f->ex, -1, sql, "");
	pthread_mutex_unlock(&f->ex->mu);
	return v;
}

static int64_t n_runs(struct fx *f)
{
	return q_int(f, "SELECT COUNT(*) FROM runs", NULL, NULL);
}

static int64_t n_jobs(struct fx *f, const char *run, const char *kind)
{
	return q_int(f, "SELECT COUNT(*) FROM jobs WHERE run_id = ? AND "
	    "kind = ?", run, kind);
}

/* The newest run of 'fn' into 'id'; the test fails without one. */
static void run_of(struct fx *f, const char *fn, char id[EXEC_ID_LEN])
{
	sqlite3_stmt *st;
	int found = 0;

	pthread_mutex_lock(&f->ex->mu);
	st = exec_sql(f->ex, "SELECT id FROM runs WHERE fn_id = ? ORDER BY "
	    "started_at DESC, id DESC LIMIT 1", "s", fn);
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(id, EXEC_ID_LEN, "%s", exec_col_text(st, 0));
		found = 1;
	}
	exec_sql_end(f->ex, st);
	pthread_mutex_unlock(&f->ex->mu);
	assert_true(found);
}

/* Sync the app and start one run of app-fn with data {n:2, id:'x1'}. */
static void start_main(struct fx *f, char run[EXEC_ID_LEN])
{
	sync_app(f, APP(FN_MAIN "," FN_CHILD));
	assert_int_equal(send_events(f, "{\"name\":\"t/ev\",\"data\":"
	    "{\"n\":2,\"id\":\"x1\"}}", NULL), 200);
	run_of(f, "app-fn", run);
}

/* The oldest call job of 'run' (any step when 'step' is NULL) as a
 * claimed call; returns 0 when there is none. */
static int take_call(struct fx *f, const char *run, const char *step,
    struct exec_call *c)
{
	sqlite3_stmt *st;
	int found = 0;

	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&f->ex->mu);
	st = step != NULL ?
	    exec_sql(f->ex, "SELECT id, run_id, step, attempt FROM jobs WHERE "
	    "kind = 'call' AND run_id = ? AND step = ? ORDER BY id LIMIT 1",
	    "ss", run, step) :
	    exec_sql(f->ex, "SELECT id, run_id, step, attempt FROM jobs WHERE "
	    "kind = 'call' AND run_id = ? ORDER BY id LIMIT 1", "s", run);
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		c->job_id = sqlite3_column_int64(st, 0);
		snprintf(c->run_id, sizeof(c->run_id), "%s",
		    exec_col_text(st, 1));
		snprintf(c->step, sizeof(c->step), "%s", exec_col_text(st, 2));
		c->attempt = sqlite3_column_int(st, 3);
		found = 1;
	}
	exec_sql_end(f->ex, st);
	pthread_mutex_unlock(&f->ex->mu);
	return found;
}

static void must_take(struct fx *f, const char *run, const char *step,
    struct exec_call *c)
{
	assert_true(take_call(f, run, step, c));
}

/* Apply an answer to 'c' as a driver thread would. */
static int answer_ex(struct fx *f, const struct exec_call *c, long status,
    const char *body, const char *sdk, const char *no_retry,
    long retry_after_ms)
{
	struct exec_answer a = { 0 };
	int rc;

	a.status = status;
	a.body = (char *)body;
	a.body_len = body != NULL ? strlen(body) : 0;
	a.retry_after_ms = retry_after_ms;
	a.no_retry = (char *)no_retry;
	a.sdk = (char *)sdk;
	a.started_at = exec_now_ms();
	a.duration_ms = 3;
	pthread_mutex_lock(&f->ex->mu);
	rc = exec_begin(f->ex);
	if (rc == 0)
		rc = exec_apply_answer(f->ex, c, &a);
	if (rc == 0)
		rc = exec_commit(f->ex);
	else
		exec_rollback(f->ex);
	pthread_mutex_unlock(&f->ex->mu);
	return rc;
}

static void answer(struct fx *f, const struct exec_call *c, long status,
    const char *body)
{
	assert_int_equal(answer_ex(f, c, status, body, SDK, NULL, -1), 0);
}

/* Take the next call of 'run' and answer it. */
static void take_answer(struct fx *f, const char *run, long status,
    const char *body)
{
	struct exec_call c;

	must_take(f, run, NULL, &c);
	answer(f, &c, status, body);
}

static struct json_object *get_run(struct fx *f, const char *run)
{
	struct json_object *out = NULL;

	assert_int_equal(executor_run(f->ex, run, &out), 200);
	assert_non_null(out);
	return out;
}

static const char *str_at(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static char *run_status(struct fx *f, const char *run)
{
	struct json_object *r = get_run(f, run);
	char *s = strdup(str_at(r, "status"));

	json_object_put(r);
	return s;
}

static void assert_status(struct fx *f, const char *run, const char *want)
{
	char *s = run_status(f, run);

	assert_string_equal(s, want);
	free(s);
}

/* The stored value of step 'id' of 'run' as JSON text (malloc'd), or
 * NULL when not memoized. */
static char *step_value(struct fx *f, const char *run, const char *id)
{
	sqlite3_stmt *st;
	char *v = NULL;

	pthread_mutex_lock(&f->ex->mu);
	st = exec_sql(f->ex, "SELECT value FROM steps WHERE run_id = ? AND "
	    "id = ?", "ss", run, id);
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		v = strdup(exec_col_text(st, 0));
	exec_sql_end(f->ex, st);
	pthread_mutex_unlock(&f->ex->mu);
	return v;
}

static void assert_step(struct fx *f, const char *run, const char *id,
    const char *want)
{
	char *v = step_value(f, run, id);

	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

static int64_t job_due(struct fx *f, const char *run, const char *kind,
    const char *step)
{
	int64_t v;

	pthread_mutex_lock(&f->ex->mu);
	v = exec_sql_int(f->ex, -1, "SELECT due_at FROM jobs WHERE run_id = ? "
	    "AND kind = ? AND step = ?", "sss", run, kind, step);
	pthread_mutex_unlock(&f->ex->mu);
	return v;
}

/* ---- 1. register -------------------------------------------------------- */

static void test_register_good_then_unchanged(void **state)
{
	struct fx *f = *state;
	struct json_object *out = NULL;
	const char *body = APP(FN_MAIN "," FN_CHILD);

	assert_int_equal(do_register(f, f->bearer, body, &out), 200);
	assert_true(json_object_get_boolean(member(out, "ok")));
	assert_non_null(member(out, "modified"));
	assert_true(json_object_get_boolean(member(out, "modified")));
	json_object_put(out);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM functions", NULL,
	    NULL), 2);
	assert_int_equal(q_int(f, "SELECT attempts FROM functions WHERE id = ?",
	    "app-fn", NULL), 3);

	assert_int_equal(do_register(f, f->bearer, body, &out), 200);
	assert_true(json_object_get_boolean(member(out, "ok")));
	assert_non_null(member(out, "modified"));
	assert_false(json_object_get_boolean(member(out, "modified")));
	json_object_put(out);

	/* Dropping a function is a modification. */
	assert_int_equal(do_register(f, f->bearer, APP(FN_MAIN), &out), 200);
	assert_true(json_object_get_boolean(member(out, "modified")));
	json_object_put(out);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM functions", NULL,
	    NULL), 1);
}

static void test_register_wrong_bearer(void **state)
{
	struct fx *f = *state;
	struct json_object *out = NULL;
	char hash[ING_KEY_HASH_LEN], auth[ING_KEY_HASH_LEN + 8];
	const char *body = APP(FN_MAIN);

	assert_int_equal(ing_signing_key_hash(OTHER_KEY, hash, sizeof(hash)),
	    0);
	snprintf(auth, sizeof(auth), "Bearer %s", hash);
	assert_int_equal(do_register(f, auth, body, &out), 401);
	assert_non_null(str_at(out, "error"));
	json_object_put(out);
	/* The unhashed key is not the bearer either. */
	assert_int_equal(do_register(f, "Bearer " SIGNING_KEY, body, &out),
	    401);
	json_object_put(out);
	assert_int_equal(do_register(f, NULL, body, &out), 401);
	json_object_put(out);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM functions", NULL,
	    NULL), 0);
}

static void test_register_unsupported_expression(void **state)
{
	struct fx *f = *state;
	struct json_object *out = NULL;
	const char *err;

	assert_int_equal(do_register(f, f->bearer, APP(FN_CHILD ","
	    "{\"id\":\"app-bad\",\"name\":\"bad\",\"triggers\":[{\"event\":"
	    "\"t/ev\",\"expression\":\"size(event.data) > 1\"}],\"steps\":"
	    "{\"step\":{\"id\":\"step\",\"runtime\":{\"url\":"
	    "\"http://127.0.0.1:9/api/inngest\"}}}}"), &out), 400);
	err = str_at(out, "error");
	assert_non_null(err);
	assert_non_null(strstr(err, "app-bad"));
	assert_non_null(strstr(err, "not supported"));
	json_object_put(out);
	/* One bad function refuses the whole sync. */
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM functions", NULL,
	    NULL), 0);
}

static void test_register_cron_refused(void **state)
{
	struct fx *f = *state;
	struct json_object *out = NULL;
	const char *err;

	assert_int_equal(do_register(f, f->bearer, APP(
	    "{\"id\":\"app-cron\",\"triggers\":[{\"cron\":\"0 * * * *\"}],"
	    "\"steps\":{\"step\":{\"id\":\"step\",\"runtime\":{\"url\":"
	    "\"http://127.0.0.1:9/api/inngest\"}}}}"), &out), 400);
	err = str_at(out, "error");
	assert_non_null(err);
	assert_non_null(strstr(err, "app-cron"));
	assert_non_null(strstr(err, "cron"));
	json_object_put(out);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM functions", NULL,
	    NULL), 0);
}

static void test_register_bad_sync_keeps_previous(void **state)
{
	struct fx *f = *state;
	struct json_object *out = NULL;

	sync_app(f, APP(FN_MAIN));
	/* Same app: app-fn would be replaced by app-child, but the second
	 * function is bad. */
	assert_int_equal(do_register(f, f->bearer, APP(FN_CHILD ","
	    "{\"id\":\"app-cron\",\"triggers\":[{\"cron\":\"0 * * * *\"}],"
	    "\"steps\":{\"step\":{\"id\":\"step\",\"runtime\":{\"url\":"
	    "\"http://127.0.0.1:9/api/inngest\"}}}}"), &out), 400);
	json_object_put(out);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM functions", NULL,
	    NULL), 1);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM functions WHERE id = ?",
	    "app-fn", NULL), 1);
	assert_int_equal(send_events(f, "{\"name\":\"t/ev\",\"data\":"
	    "{\"n\":5}}", NULL), 200);
	assert_int_equal(n_runs(f), 1);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM runs WHERE fn_id = ?",
	    "app-fn", NULL), 1);
}

/* ---- 2. events ---------------------------------------------------------- */

static void test_events_object_and_array(void **state)
{
	struct fx *f = *state;
	struct json_object *out = NULL, *ids;
	const char *a, *b;

	sync_app(f, APP(FN_MAIN));
	assert_int_equal(send_events(f, "{\"name\":\"t/ev\",\"id\":\"given-1\","
	    "\"data\":{\"n\":2}}", &out), 200);
	ids = member(out, "ids");
	assert_true(json_object_is_type(ids, json_type_array));
	assert_int_equal(json_object_array_length(ids), 1);
	assert_string_equal(json_object_get_string(
	    json_object_array_get_idx(ids, 0)), "given-1");
	assert_int_equal(json_object_get_int(member(out, "status")), 200);
	json_object_put(out);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM runs WHERE event_id = ?",
	    "given-1", NULL), 1);

	assert_int_equal(send_events(f, "[{\"name\":\"t/ev\",\"data\":"
	    "{\"n\":3}},{\"name\":\"t/other\"}]", &out), 200);
	ids = member(out, "ids");
	assert_int_equal(json_object_array_length(ids), 2);
	a = json_object_get_string(json_object_array_get_idx(ids, 0));
	b = json_object_get_string(json_object_array_get_idx(ids, 1));
	assert_true(strlen(a) > 0 && strlen(b) > 0);
	assert_string_not_equal(a, b);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM events WHERE id = ?",
	    a, NULL), 1);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM events WHERE id = ?",
	    b, NULL), 1);
	json_object_put(out);
	assert_int_equal(n_runs(f), 2);
}

static void test_events_trigger_expression_filters(void **state)
{
	struct fx *f = *state;

	sync_app(f, APP(FN_MAIN));
	assert_int_equal(send_events(f, "{\"name\":\"t/ev\",\"data\":"
	    "{\"n\":1}}", NULL), 200);
	assert_int_equal(n_runs(f), 0);
	/* The event is stored all the same. */
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM events", NULL, NULL),
	    1);
	assert_int_equal(send_events(f, "{\"name\":\"t/ev\",\"data\":"
	    "{\"n\":2}}", NULL), 200);
	assert_int_equal(n_runs(f), 1);
	/* Another name triggers nothing. */
	assert_int_equal(send_events(f, "{\"name\":\"t/nope\",\"data\":"
	    "{\"n\":2}}", NULL), 200);
	assert_int_equal(n_runs(f), 1);
}

static void test_events_wrong_key(void **state)
{
	struct fx *f = *state;
	struct json_object *out = NULL;
	const char *body = "{\"name\":\"t/ev\",\"data\":{\"n\":2}}";

	sync_app(f, APP(FN_MAIN));
	assert_int_equal(executor_events(f->ex, "evkey-tesx", body,
	    strlen(body), &out), 401);
	assert_non_null(str_at(out, "error"));
	json_object_put(out);
	assert_int_equal(executor_events(f->ex, "", body, strlen(body), &out),
	    401);
	json_object_put(out);
	assert_int_equal(executor_events(f->ex, NULL, body, strlen(body),
	    &out), 401);
	json_object_put(out);
	assert_int_equal(n_runs(f), 0);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM events", NULL, NULL),
	    0);
}

static void test_events_invalid_batch_stores_nothing(void **state)
{
	struct fx *f = *state;
	struct json_object *out = NULL;
	const char *err;

	sync_app(f, APP(FN_MAIN));
	assert_int_equal(send_events(f, "[{\"name\":\"t/ev\",\"data\":"
	    "{\"n\":2}},{\"name\":\"t/ev\",\"data\":[1]}]", &out), 400);
	err = str_at(out, "error");
	assert_non_null(err);
	assert_non_null(strstr(err, "event 1"));
	json_object_put(out);
	assert_int_equal(n_runs(f), 0);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM events", NULL, NULL),
	    0);
	assert_int_equal(send_events(f, "[{\"name\":\"t/ev\",\"data\":"
	    "{\"n\":2}},{\"name\":\"inngest/x\"}]", NULL), 400);
	assert_int_equal(send_events(f, "[]", NULL), 400);
	assert_int_equal(send_events(f, "{\"name\":", NULL), 400);
	assert_int_equal(n_runs(f), 0);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM events", NULL, NULL),
	    0);
}

static void test_events_duplicate_id_one_run(void **state)
{
	struct fx *f = *state;
	const char *ev = "{\"name\":\"t/ev\",\"id\":\"dup-1\",\"data\":"
	    "{\"n\":2}}";

	sync_app(f, APP(FN_MAIN));
	assert_int_equal(send_events(f, ev, NULL), 200);
	assert_int_equal(send_events(f, ev, NULL), 200);
	assert_int_equal(n_runs(f), 1);
	/* Within one batch as well. */
	assert_int_equal(send_events(f, "[{\"name\":\"t/ev\",\"id\":\"dup-2\","
	    "\"data\":{\"n\":2}},{\"name\":\"t/ev\",\"id\":\"dup-2\",\"data\":"
	    "{\"n\":3}}]", NULL), 200);
	assert_int_equal(n_runs(f), 2);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM events", NULL, NULL),
	    2);
}

/* ---- 3. ops ------------------------------------------------------------- */

static void test_ops_step_run_memoizes_and_discovers(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct exec_call c;

	start_main(f, run);
	assert_int_equal(n_jobs(f, run, "call"), 1);
	must_take(f, run, NULL, &c);
	assert_string_equal(c.step, EXEC_DISCOVERY);
	assert_int_equal(c.attempt, 0);
	answer(f, &c, 206, "[{\"op\":\"StepRun\",\"id\":\"aa11\",\"name\":"
	    "\"first\",\"data\":{\"v\":1}}]");
	assert_step(f, run, "aa11", "{\"data\":{\"v\":1}}");
	assert_int_equal(n_jobs(f, run, "call"), 1);
	must_take(f, run, NULL, &c);
	assert_string_equal(c.step, EXEC_DISCOVERY);
	assert_int_equal(c.attempt, 0);
	assert_true(c.job_id > 0);
	assert_status(f, run, "running");
}

static void test_ops_200_completes(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct json_object *r;

	start_main(f, run);
	take_answer(f, run, 200, "{\"result\":42}");
	r = get_run(f, run);
	assert_string_equal(str_at(r, "status"), "completed");
	assert_int_equal(json_object_get_int(member(member(r, "output"),
	    "result")), 42);
	assert_non_null(member(r, "ended_at"));
	json_object_put(r);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM jobs WHERE run_id = ?",
	    run, NULL), 0);
}

static void test_ops_step_error_retries_then_memoizes(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct exec_call c;
	const char *err = "[{\"op\":\"StepError\",\"id\":\"bb22\",\"name\":"
	    "\"flaky\",\"error\":{\"name\":\"Error\",\"message\":\"boom\"}}]";
	int64_t t0, due;

	start_main(f, run);
	t0 = exec_now_ms();
	take_answer(f, run, 206, err);
	assert_null(step_value(f, run, "bb22"));
	must_take(f, run, NULL, &c);
	assert_string_equal(c.step, "bb22");
	assert_int_equal(c.attempt, 1);
	/* Backoff for the first retry: [base/2, base]. */
	due = job_due(f, run, "call", "bb22");
	assert_true(due >= t0 + BASE_MS / 2);
	assert_true(due <= exec_now_ms() + BASE_MS);
	assert_int_equal(n_jobs(f, run, "call"), 1);
	/* The retry's call request carries the attempt and targets it. */
	pthread_mutex_lock(&f->ex->mu);
	assert_int_equal(exec_call_build(f->ex, &c), 0);
	pthread_mutex_unlock(&f->ex->mu);
	{
		struct json_object *b = NULL;

		assert_non_null(strstr(c.url, "stepId=bb22"));
		b = json_tokener_parse(c.body);
		assert_non_null(b);
		assert_int_equal(json_object_get_int(member(member(b, "ctx"),
		    "attempt")), 1);
		json_object_put(b);
	}
	exec_call_free(&c);

	t0 = exec_now_ms();
	must_take(f, run, NULL, &c);
	answer(f, &c, 206, err);
	assert_null(step_value(f, run, "bb22"));
	must_take(f, run, NULL, &c);
	assert_string_equal(c.step, "bb22");
	assert_int_equal(c.attempt, 2);
	due = job_due(f, run, "call", "bb22");
	assert_true(due >= t0 + BASE_MS);           /* 2000/2 */
	assert_true(due <= exec_now_ms() + 2 * BASE_MS);

	/* Attempt 2 is the last of 3: the error is the step's result. */
	answer(f, &c, 206, err);
	assert_step(f, run, "bb22", "{\"error\":{\"name\":\"Error\","
	    "\"message\":\"boom\"}}");
	assert_status(f, run, "running");
	assert_int_equal(n_jobs(f, run, "call"), 1);
	must_take(f, run, NULL, &c);
	assert_string_equal(c.step, EXEC_DISCOVERY);
	assert_int_equal(c.attempt, 0);
}

static void test_ops_500_retries(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct exec_call c;
	int64_t t0, due;

	start_main(f, run);
	must_take(f, run, NULL, &c);
	t0 = exec_now_ms();
	assert_int_equal(answer_ex(f, &c, 500, "{\"message\":\"down\"}", SDK,
	    NULL, -1), 0);
	assert_status(f, run, "running");
	must_take(f, run, NULL, &c);
	assert_string_equal(c.step, EXEC_DISCOVERY);
	assert_int_equal(c.attempt, 1);
	due = job_due(f, run, "call", EXEC_DISCOVERY);
	assert_true(due >= t0 + BASE_MS / 2);
	/* X-Inngest-No-Retry: false is not true. */
	assert_int_equal(answer_ex(f, &c, 500, "oops", SDK, "false", -1), 0);
	must_take(f, run, NULL, &c);
	assert_int_equal(c.attempt, 2);
	/* The last attempt fails the run. */
	assert_int_equal(answer_ex(f, &c, 503, "{\"message\":\"still\"}", SDK,
	    NULL, -1), 0);
	assert_status(f, run, "failed");
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM jobs WHERE run_id = ?",
	    run, NULL), 0);
}

static void test_ops_500_retry_after_wins(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct exec_call c;
	int64_t t0, due;

	start_main(f, run);
	must_take(f, run, NULL, &c);
	t0 = exec_now_ms();
	assert_int_equal(answer_ex(f, &c, 429, "slow down", SDK, NULL,
	    60000), 0);
	due = job_due(f, run, "call", EXEC_DISCOVERY);
	assert_true(due >= t0 + 60000);
	assert_true(due <= exec_now_ms() + 60000);
}

static void test_ops_500_no_retry_fails(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct exec_call c;
	struct json_object *r;

	start_main(f, run);
	must_take(f, run, NULL, &c);
	assert_int_equal(answer_ex(f, &c, 500, "{\"name\":\"NonRetriable\","
	    "\"message\":\"give up\"}", SDK, "true", -1), 0);
	r = get_run(f, run);
	assert_string_equal(str_at(r, "status"), "failed");
	assert_string_equal(str_at(member(r, "error"), "message"), "give up");
	json_object_put(r);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM jobs WHERE run_id = ?",
	    run, NULL), 0);
}

static void test_ops_200_without_sdk_is_error(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct exec_call c;
	struct json_object *r;

	start_main(f, run);
	must_take(f, run, NULL, &c);
	assert_int_equal(answer_ex(f, &c, 200, "{\"result\":1}", NULL, NULL,
	    -1), 0);
	r = get_run(f, run);
	assert_string_equal(str_at(r, "status"), "running");
	assert_null(member(r, "output"));
	json_object_put(r);
	must_take(f, run, NULL, &c);
	assert_int_equal(c.attempt, 1);
	/* An empty header is no SDK either. */
	assert_int_equal(answer_ex(f, &c, 206, "[{\"op\":\"StepRun\",\"id\":"
	    "\"cc33\",\"data\":1}]", "", NULL, -1), 0);
	assert_null(step_value(f, run, "cc33"));
	must_take(f, run, NULL, &c);
	assert_int_equal(c.attempt, 2);
	assert_status(f, run, "running");
}

static void test_ops_step_planned_parallel(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct exec_call c;
	struct json_object *b;

	start_main(f, run);
	assert_int_equal(q_int(f, "SELECT disable_immediate FROM runs WHERE "
	    "id = ?", run, NULL), 0);
	take_answer(f, run, 206, "[{\"op\":\"StepPlanned\",\"id\":\"dd44\","
	    "\"name\":\"left\"},{\"op\":\"StepPlanned\",\"id\":\"ee55\","
	    "\"name\":\"right\"}]");
	assert_int_equal(n_jobs(f, run, "call"), 2);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM jobs WHERE run_id = ? "
	    "AND kind = 'call' AND step = ?", run, "dd44"), 1);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM jobs WHERE run_id = ? "
	    "AND kind = 'call' AND step = ?", run, "ee55"), 1);
	assert_int_equal(q_int(f, "SELECT disable_immediate FROM runs WHERE "
	    "id = ?", run, NULL), 1);

	must_take(f, run, "ee55", &c);
	pthread_mutex_lock(&f->ex->mu);
	assert_int_equal(exec_call_build(f->ex, &c), 0);
	pthread_mutex_unlock(&f->ex->mu);
	assert_string_equal(c.url, "http://127.0.0.1:9/api/inngest?"
	    "fnId=app-fn&stepId=ee55");
	b = json_tokener_parse(c.body);
	assert_non_null(b);
	assert_true(json_object_get_boolean(member(member(b, "ctx"),
	    "disable_immediate_execution")));
	json_object_put(b);
	/* One of them reports its result: the other is still queued, and
	 * no discovery call is added while it is. */
	answer(f, &c, 206, "[{\"op\":\"StepRun\",\"id\":\"ee55\",\"data\":2}]");
	exec_call_free(&c);
	assert_step(f, run, "ee55", "{\"data\":2}");
	assert_int_equal(n_jobs(f, run, "call"), 1);
	must_take(f, run, NULL, &c);
	assert_string_equal(c.step, "dd44");
}

static void test_ops_sleep(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct json_object *r, *sl;
	int64_t t0, due;

	start_main(f, run);
	t0 = exec_now_ms();
	take_answer(f, run, 206, "[{\"op\":\"Sleep\",\"id\":\"ff66\",\"name\":"
	    "\"nap\",\"opts\":{\"duration\":\"2s\"}}]");
	due = job_due(f, run, "wake", "ff66");
	assert_true(due >= t0 + 2000);
	assert_true(due <= exec_now_ms() + 2000);
	assert_int_equal(n_jobs(f, run, "call"), 0);
	assert_null(step_value(f, run, "ff66"));
	r = get_run(f, run);
	sl = member(r, "sleeping");
	assert_int_equal(json_object_array_length(sl), 1);
	assert_string_equal(str_at(json_object_array_get_idx(sl, 0), "id"),
	    "ff66");
	json_object_put(r);
}

static void test_ops_wait_for_event(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	char *v;
	struct json_object *sv;

	start_main(f, run);
	take_answer(f, run, 206, "[{\"op\":\"WaitForEvent\",\"id\":\"ab12\","
	    "\"name\":\"t/reply\",\"opts\":{\"event\":\"t/reply\",\"if\":"
	    "\"async.data.id == event.data.id\",\"timeout\":\"1h\"}}]");
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM waits WHERE run_id = ?",
	    run, NULL), 1);
	assert_int_equal(n_jobs(f, run, "timeout"), 1);
	assert_int_equal(n_jobs(f, run, "call"), 0);

	/* Not the one it waits for. */
	assert_int_equal(send_events(f, "{\"name\":\"t/reply\",\"data\":"
	    "{\"id\":\"x2\"}}", NULL), 200);
	assert_null(step_value(f, run, "ab12"));
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM waits WHERE run_id = ?",
	    run, NULL), 1);
	assert_int_equal(n_jobs(f, run, "timeout"), 1);
	assert_int_equal(n_jobs(f, run, "call"), 0);

	assert_int_equal(send_events(f, "{\"name\":\"t/reply\",\"id\":"
	    "\"reply-1\",\"data\":{\"id\":\"x1\",\"ok\":true}}", NULL), 200);
	v = step_value(f, run, "ab12");
	assert_non_null(v);
	sv = json_tokener_parse(v);
	free(v);
	assert_string_equal(str_at(sv, "id"), "reply-1");
	assert_string_equal(str_at(sv, "name"), "t/reply");
	assert_true(json_object_get_boolean(member(member(sv, "data"), "ok")));
	json_object_put(sv);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM waits WHERE run_id = ?",
	    run, NULL), 0);
	assert_int_equal(n_jobs(f, run, "timeout"), 0);
	assert_int_equal(n_jobs(f, run, "call"), 1);
	assert_status(f, run, "running");
}

static void test_ops_invoke_child(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN], child[EXEC_ID_LEN];
	struct exec_call c;
	struct json_object *r, *ev;

	start_main(f, run);
	take_answer(f, run, 206, "[{\"op\":\"InvokeFunction\",\"id\":\"cd34\","
	    "\"name\":\"call child\",\"opts\":{\"function_id\":\"app-child\","
	    "\"payload\":{\"data\":{\"x\":5}},\"timeout\":\"1h\"}}]");
	run_of(f, "app-child", child);
	assert_string_not_equal(child, run);
	assert_int_equal(n_jobs(f, run, "timeout"), 1);
	assert_int_equal(n_jobs(f, run, "call"), 0);
	r = get_run(f, child);
	assert_string_equal(str_at(r, "status"), "running");
	assert_string_equal(str_at(r, "parent_run_id"), run);
	ev = member(r, "event");
	assert_string_equal(str_at(ev, "name"), "inngest/function.invoked");
	assert_int_equal(json_object_get_int(member(member(ev, "data"), "x")),
	    5);
	json_object_put(r);

	/* The child's call: URL with its stepId moved to the end. */
	must_take(f, child, NULL, &c);
	pthread_mutex_lock(&f->ex->mu);
	assert_int_equal(exec_call_build(f->ex, &c), 0);
	pthread_mutex_unlock(&f->ex->mu);
	assert_string_equal(c.url, "http://127.0.0.1:9/api/inngest?"
	    "fnId=app-child&stepId=step");
	answer(f, &c, 200, "{\"child\":\"done\"}");
	exec_call_free(&c);
	assert_status(f, child, "completed");
	assert_step(f, run, "cd34", "{\"data\":{\"child\":\"done\"}}");
	assert_int_equal(n_jobs(f, run, "timeout"), 0);
	assert_int_equal(n_jobs(f, run, "call"), 1);
	must_take(f, run, NULL, &c);
	assert_string_equal(c.step, EXEC_DISCOVERY);
	assert_status(f, run, "running");
}

static void test_ops_cancel_event(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];

	start_main(f, run);
	take_answer(f, run, 206, "[{\"op\":\"WaitForEvent\",\"id\":\"ef56\","
	    "\"opts\":{\"event\":\"t/never\",\"timeout\":\"1h\"}},"
	    "{\"op\":\"StepPlanned\",\"id\":\"fa67\"}]");
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM waits WHERE run_id = ?",
	    run, NULL), 1);
	assert_int_equal(n_jobs(f, run, "call"), 1);
	assert_int_equal(n_jobs(f, run, "timeout"), 1);

	/* A cancel for another id leaves it alone. */
	assert_int_equal(send_events(f, "{\"name\":\"t/cancel\",\"data\":"
	    "{\"id\":\"x9\"}}", NULL), 200);
	assert_status(f, run, "running");
	assert_int_equal(n_jobs(f, run, "call"), 1);

	assert_int_equal(send_events(f, "{\"name\":\"t/cancel\",\"data\":"
	    "{\"id\":\"x1\"}}", NULL), 200);
	assert_status(f, run, "cancelled");
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM jobs WHERE run_id = ?",
	    run, NULL), 0);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM waits WHERE run_id = ?",
	    run, NULL), 0);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM runs WHERE id = ? AND "
	    "ended_at IS NOT NULL", run, NULL), 1);
}

static void test_ops_answer_after_cancel(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct exec_call c, c2;
	struct json_object *r, *calls, *last;

	start_main(f, run);
	/* Claimed by a "driver", then the run is cancelled while on the
	 * wire. */
	must_take(f, run, NULL, &c);
	c2 = c;
	assert_int_equal(send_events(f, "{\"name\":\"t/cancel\",\"data\":"
	    "{\"id\":\"x1\"}}", NULL), 200);
	assert_status(f, run, "cancelled");
	answer(f, &c, 206, "[{\"op\":\"StepRun\",\"id\":\"ab99\",\"data\":1},"
	    "{\"op\":\"StepPlanned\",\"id\":\"ab98\"}]");
	answer(f, &c2, 200, "{\"late\":true}");

	r = get_run(f, run);
	assert_string_equal(str_at(r, "status"), "cancelled");
	assert_null(member(r, "output"));
	assert_int_equal(json_object_array_length(member(r, "steps")), 0);
	calls = member(r, "calls");
	assert_int_equal(json_object_array_length(calls), 2);
	last = json_object_array_get_idx(calls, 0);
	assert_string_equal(str_at(last, "outcome"), "cancelled");
	assert_int_equal(json_object_get_int(member(last, "http_status")), 206);
	last = json_object_array_get_idx(calls, 1);
	assert_string_equal(str_at(last, "outcome"), "cancelled");
	assert_int_equal(json_object_get_int(member(last, "http_status")), 200);
	json_object_put(r);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM jobs WHERE run_id = ?",
	    run, NULL), 0);
	assert_int_equal(q_int(f, "SELECT disable_immediate FROM runs WHERE "
	    "id = ?", run, NULL), 0);
}

static void test_ops_calls_recorded(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct exec_call c;
	struct json_object *r, *calls, *k, *ops;
	static const struct { long status; const char *outcome;
	    const char *step; int attempt; } want[] = {
		{ 206, "ops", EXEC_DISCOVERY, 0 },
		{ 500, "retry", EXEC_DISCOVERY, 0 },
		{ 0, "network", EXEC_DISCOVERY, 1 },
		{ 200, "completed", EXEC_DISCOVERY, 2 },
	};

	start_main(f, run);
	take_answer(f, run, 206, "[{\"op\":\"StepRun\",\"id\":\"ac01\",\"name\":"
	    "\"one\",\"data\":1}]");
	must_take(f, run, NULL, &c);
	assert_int_equal(answer_ex(f, &c, 500, "{\"message\":\"bad gateway\"}",
	    NULL, NULL, -1), 0);
	must_take(f, run, NULL, &c);
	{
		struct exec_answer a = { 0 };

		a.status = 0;
		a.retry_after_ms = -1;
		a.net_error = "connection refused";
		a.started_at = exec_now_ms();
		pthread_mutex_lock(&f->ex->mu);
		assert_int_equal(exec_begin(f->ex), 0);
		assert_int_equal(exec_apply_answer(f->ex, &c, &a), 0);
		assert_int_equal(exec_commit(f->ex), 0);
		pthread_mutex_unlock(&f->ex->mu);
	}
	take_answer(f, run, 200, "\"ok\"");

	r = get_run(f, run);
	assert_string_equal(str_at(r, "status"), "completed");
	assert_string_equal(json_object_get_string(member(r, "output")), "ok");
	calls = member(r, "calls");
	assert_int_equal(json_object_array_length(calls), 4);
	for (size_t i = 0; i < 4; i++) {
		k = json_object_array_get_idx(calls, i);
		assert_int_equal(json_object_get_int(member(k, "seq")),
		    (int)i + 1);
		assert_int_equal(json_object_get_int(member(k, "http_status")),
		    want[i].status);
		assert_string_equal(str_at(k, "outcome"), want[i].outcome);
		assert_string_equal(str_at(k, "step"), want[i].step);
		assert_int_equal(json_object_get_int(member(k, "attempt")),
		    want[i].attempt);
		assert_int_equal(json_object_get_int(member(k, "duration_ms")),
		    i == 2 ? 0 : 3);
	}
	ops = member(json_object_array_get_idx(calls, 0), "ops");
	assert_int_equal(json_object_array_length(ops), 1);
	assert_string_equal(str_at(json_object_array_get_idx(ops, 0), "op"),
	    "StepRun");
	assert_string_equal(str_at(json_object_array_get_idx(ops, 0), "id"),
	    "ac01");
	assert_string_equal(str_at(json_object_array_get_idx(calls, 1),
	    "error"), "bad gateway");
	assert_string_equal(str_at(json_object_array_get_idx(calls, 2),
	    "error"), "connection refused");
	json_object_put(r);
}

static void test_call_build_body(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct exec_call c;
	struct json_object *b, *ctx, *steps, *stack, *ev;

	start_main(f, run);
	take_answer(f, run, 206, "[{\"op\":\"StepRun\",\"id\":\"bf02\",\"data\":"
	    "\"two\"}]");
	take_answer(f, run, 206, "[{\"op\":\"StepRun\",\"id\":\"af01\",\"data\":"
	    "{\"one\":1}}]");
	must_take(f, run, NULL, &c);
	pthread_mutex_lock(&f->ex->mu);
	assert_int_equal(exec_call_build(f->ex, &c), 0);
	pthread_mutex_unlock(&f->ex->mu);
	/* The old stepId of the registered URL is gone, the target added. */
	assert_string_equal(c.url, "http://127.0.0.1:9/api/inngest?"
	    "fnId=app-fn&stepId=step");
	assert_int_equal(c.body_len, strlen(c.body));
	b = json_tokener_parse(c.body);
	assert_non_null(b);
	ev = member(b, "event");
	assert_string_equal(str_at(ev, "name"), "t/ev");
	assert_string_equal(str_at(member(ev, "data"), "id"), "x1");
	assert_int_equal(json_object_array_length(member(b, "events")), 1);
	assert_string_equal(str_at(json_object_array_get_idx(member(b,
	    "events"), 0), "name"), "t/ev");
	steps = member(b, "steps");
	assert_int_equal(json_object_object_length(steps), 2);
	assert_string_equal(str_at(member(steps, "bf02"), "data"), "two");
	assert_int_equal(json_object_get_int(member(member(member(steps,
	    "af01"), "data"), "one")), 1);
	ctx = member(b, "ctx");
	assert_string_equal(str_at(ctx, "run_id"), run);
	assert_int_equal(json_object_get_int(member(ctx, "attempt")), 0);
	assert_non_null(member(ctx, "disable_immediate_execution"));
	assert_false(json_object_get_boolean(member(ctx,
	    "disable_immediate_execution")));
	stack = member(member(ctx, "stack"), "stack");
	assert_int_equal(json_object_array_length(stack), 2);
	assert_string_equal(json_object_get_string(
	    json_object_array_get_idx(stack, 0)), "bf02");
	assert_string_equal(json_object_get_string(
	    json_object_array_get_idx(stack, 1)), "af01");
	assert_int_equal(json_object_get_int(member(member(ctx, "stack"),
	    "current")), 2);
	json_object_put(b);
	exec_call_free(&c);
	assert_null(c.url);
	assert_null(c.body);
}

static void test_ops_invoke_unknown_function(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct exec_call c;
	char *v;
	struct json_object *sv;

	start_main(f, run);
	take_answer(f, run, 206, "[{\"op\":\"InvokeFunction\",\"id\":\"ce35\","
	    "\"opts\":{\"function_id\":\"app-nope\",\"payload\":{\"data\":{}}}}]");
	assert_int_equal(n_runs(f), 1);
	v = step_value(f, run, "ce35");
	assert_non_null(v);
	sv = json_tokener_parse(v);
	free(v);
	assert_string_equal(str_at(member(sv, "error"), "name"),
	    "FunctionNotFound");
	json_object_put(sv);
	must_take(f, run, NULL, &c);
	assert_string_equal(c.step, EXEC_DISCOVERY);
}

static void test_ops_invoke_child_fails(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN], child[EXEC_ID_LEN];
	struct exec_call c;

	start_main(f, run);
	take_answer(f, run, 206, "[{\"op\":\"InvokeFunction\",\"id\":\"cf36\","
	    "\"opts\":{\"function_id\":\"app-child\",\"timeout\":\"1h\"}}]");
	run_of(f, "app-child", child);
	must_take(f, child, NULL, &c);
	assert_int_equal(answer_ex(f, &c, 500, "{\"name\":\"Boom\",\"message\":"
	    "\"bad\"}", SDK, "true", -1), 0);
	assert_status(f, child, "failed");
	assert_step(f, run, "cf36", "{\"error\":{\"name\":\"Boom\","
	    "\"message\":\"bad\"}}");
	assert_int_equal(n_jobs(f, run, "timeout"), 0);
	assert_int_equal(n_jobs(f, run, "call"), 1);
	assert_status(f, run, "running");
}

/* A child that ends after its parent was cancelled: the parent stays
 * cancelled with nothing queued and no step recorded after its end. */
static void test_ops_child_ends_after_parent_cancelled(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN], child[EXEC_ID_LEN];
	struct exec_call c;

	start_main(f, run);
	take_answer(f, run, 206, "[{\"op\":\"InvokeFunction\",\"id\":\"da37\","
	    "\"opts\":{\"function_id\":\"app-child\"}}]");
	run_of(f, "app-child", child);
	assert_int_equal(send_events(f, "{\"name\":\"t/cancel\",\"data\":"
	    "{\"id\":\"x1\"}}", NULL), 200);
	assert_status(f, run, "cancelled");
	assert_status(f, child, "running");
	must_take(f, child, NULL, &c);
	answer(f, &c, 200, "{\"late\":1}");
	assert_status(f, child, "completed");
	assert_status(f, run, "cancelled");
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM jobs WHERE run_id = ?",
	    run, NULL), 0);
	/* The cancelled parent does not hear from its late child. */
	assert_null(step_value(f, run, "da37"));
}

/* One event resolves every matching wait, however many (more than any
 * fixed batch a resolver might collect). */
#define MANY_WAITERS 65

static void test_events_many_waiters_all_resolved(void **state)
{
	struct fx *f = *state;
	struct exec_call c;
	sqlite3_stmt *st;
	int found;

	sync_app(f, APP(FN_MAIN));
	for (int i = 0; i < MANY_WAITERS; i++)
		assert_int_equal(send_events(f, "{\"name\":\"t/ev\",\"data\":"
		    "{\"n\":2,\"id\":\"x1\"}}", NULL), 200);
	assert_int_equal(n_runs(f), MANY_WAITERS);
	for (int i = 0; i < MANY_WAITERS; i++) {
		memset(&c, 0, sizeof(c));
		found = 0;
		pthread_mutex_lock(&f->ex->mu);
		st = exec_sql(f->ex, "SELECT id, run_id, step, attempt FROM "
		    "jobs WHERE kind = 'call' ORDER BY id LIMIT 1", "");
		if (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
			c.job_id = sqlite3_column_int64(st, 0);
			snprintf(c.run_id, sizeof(c.run_id), "%s",
			    exec_col_text(st, 1));
			snprintf(c.step, sizeof(c.step), "%s",
			    exec_col_text(st, 2));
			c.attempt = sqlite3_column_int(st, 3);
			found = 1;
		}
		exec_sql_end(f->ex, st);
		pthread_mutex_unlock(&f->ex->mu);
		assert_true(found);
		answer(f, &c, 206, "[{\"op\":\"WaitForEvent\",\"id\":\"db38\","
		    "\"opts\":{\"event\":\"t/reply\",\"if\":"
		    "\"async.data.id == event.data.id\",\"timeout\":\"1h\"}}]");
	}
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM waits", NULL, NULL),
	    MANY_WAITERS);
	assert_int_equal(send_events(f, "{\"name\":\"t/reply\",\"data\":"
	    "{\"id\":\"x1\"}}", NULL), 200);
	assert_true(q_int(f, "SELECT COUNT(*) FROM steps WHERE id = ?",
	    "db38", NULL) >= 64);
	/* Every waiter hears the one event. */
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM waits", NULL, NULL),
	    0);
	assert_int_equal(q_int(f, "SELECT COUNT(*) FROM steps WHERE id = ?",
	    "db38", NULL), MANY_WAITERS);
}

/* An op id becomes the stepId of a call URL: one outside the hash
 * alphabet ('&', '=', a space) is refused and fails the run, so it never
 * reaches a URL. */
static void test_call_url_with_unsafe_step_id(void **state)
{
	struct fx *f = *state;
	char run[EXEC_ID_LEN];
	struct json_object *r, *call;

	start_main(f, run);
	take_answer(f, run, 206, "[{\"op\":\"StepPlanned\",\"id\":"
	    "\"a b&fnId=evil\"}]");
	assert_status(f, run, "failed");
	assert_int_equal(n_jobs(f, run, "call"), 0);
	r = get_run(f, run);
	assert_string_equal(str_at(member(r, "error"), "name"), "InvalidOp");
	call = json_object_array_get_idx(member(r, "calls"), 0);
	assert_string_equal(str_at(call, "outcome"), "failed");
	json_object_put(r);
}

/* ---- 4. backoff --------------------------------------------------------- */

static void test_backoff_retry_after_wins(void **state)
{
	struct fx *f = *state;

	assert_int_equal(exec_backoff_ms(f->ex, 1, 1234), 1234);
	assert_int_equal(exec_backoff_ms(f->ex, 5, 0), 0);
	/* Above the cap as well: the app said so. */
	assert_int_equal(exec_backoff_ms(f->ex, 1, 600000), 600000);
}

static void test_backoff_exponential_jitter_capped(void **state)
{
	struct fx *f = *state;

	for (int n = 1; n <= 40; n++) {
		int64_t d = BASE_MS, lo = INT64_MAX, hi = 0;

		for (int i = 1; i < n && d < MAX_MS; i++)
			d *= 2;
		if (d > MAX_MS)
			d = MAX_MS;
		for (int k = 0; k < 300; k++) {
			int64_t v = exec_backoff_ms(f->ex, n, -1);

			assert_in_range(v, d / 2, d);
			if (v < lo)
				lo = v;
			if (v > hi)
				hi = v;
		}
		/* Jitter: the 300 draws are not all the same. */
		assert_true(hi > lo);
	}
	/* Spot values of d: 1000, 2000, 4000, then the cap 6000. */
	assert_in_range(exec_backoff_ms(f->ex, 1, -1), 500, 1000);
	assert_in_range(exec_backoff_ms(f->ex, 2, -1), 1000, 2000);
	assert_in_range(exec_backoff_ms(f->ex, 3, -1), 2000, 4000);
	assert_in_range(exec_backoff_ms(f->ex, 4, -1), 3000, 6000);
	assert_in_range(exec_backoff_ms(f->ex, 30, -1), 3000, 6000);
}

/* ---- main --------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_register_good_then_unchanged),
		T(test_register_wrong_bearer),
		T(test_register_unsupported_expression),
		T(test_register_cron_refused),
		T(test_register_bad_sync_keeps_previous),
		T(test_events_object_and_array),
		T(test_events_trigger_expression_filters),
		T(test_events_wrong_key),
		T(test_events_invalid_batch_stores_nothing),
		T(test_events_duplicate_id_one_run),
		T(test_ops_step_run_memoizes_and_discovers),
		T(test_ops_200_completes),
		T(test_ops_step_error_retries_then_memoizes),
		T(test_ops_500_retries),
		T(test_ops_500_retry_after_wins),
		T(test_ops_500_no_retry_fails),
		T(test_ops_200_without_sdk_is_error),
		T(test_ops_step_planned_parallel),
		T(test_ops_sleep),
		T(test_ops_wait_for_event),
		T(test_ops_invoke_child),
		T(test_ops_cancel_event),
		T(test_ops_answer_after_cancel),
		T(test_ops_calls_recorded),
		T(test_ops_invoke_unknown_function),
		T(test_ops_invoke_child_fails),
		T(test_ops_child_ends_after_parent_cancelled),
		T(test_events_many_waiters_all_resolved),
		T(test_call_build_body),
		T(test_call_url_with_unsafe_step_id),
		T(test_backoff_retry_after_wins),
		T(test_backoff_exponential_jitter_capped),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
