/*
 * fuzz_exec_events.c -- libFuzzer harness for the local executor's event
 * API, executor_events() (app/executor/events.c), and its sync,
 * executor_register() (app/executor/register.c).
 *
 * Once, an executor is opened with executor_open() on a SQLite file in a
 * fresh temporary directory (removed at exit); executor_start() is never
 * called, so no driver thread runs and no call request is sent: started
 * runs only queue jobs.  One function is registered with the right
 * bearer: triggered by "t/ev" with an expression, cancelled by "t/cancel"
 * with an `if`, and a concurrency key, so events reach the trigger,
 * cancellation matching; a running run of it with two waits (on
 * "t/reply" with an `if`, on "t/any" without) is put in the database as a
 * waitForEvent op leaves them, and put back after an event that may have
 * resolved or cancelled them, so events reach the wait matching too.
 *
 * Input layout:
 *   byte 0   bits 0-2 7: registration, the rest is the sync body; else
 *                     the rest is the event body
 *            bits 3-4 events: 3 a wrong event key, else the right one;
 *                     registration: 1 a wrong bearer, 2 none (NULL),
 *                     else the right one
 *   rest     the body (an exact-size copy, not NUL-terminated)
 *
 * Every 1000 inputs, and after an input that leaves more than 500 runs,
 * the rows of runs, events, jobs, waits, steps and calls are deleted so
 * the database stays small.  A fuzzed sync that
 * succeeds replaces the functions, so the harness drops them and
 * registers the fixed function again.  With FUZZ_EXEC_EVENTS_VERBOSE
 * set, each status and answer goes to stderr.
 *
 * Beyond the sanitizers, the harness aborts when a status is not 200,
 * 400, 401 or 500, the answer is not a JSON object, a 200 from events
 * has no "ids" array of non-empty strings, one from a sync no "ok", an
 * error answer has no "error" string, a wrong key or bearer is not 401,
 * or the fixed function fails to register.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "exec_internal.h"
#include "executor.h"
#include "inngest_signing.h"
#include "log.h"
#include "fuzz_util.h"

#define SIGNING_KEY "signkey-test-" \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define EVENT_KEY "evkey-fuzz"
#define CLEAN_EVERY 1000
#define MAX_RUNS    500

static const char GOOD_APP[] =
    "{\"url\":\"http://127.0.0.1:9/api/inngest\",\"appName\":\"fuzz\","
    "\"functions\":[{\"id\":\"fuzz-fn\",\"name\":\"fn\",\"triggers\":["
    "{\"event\":\"t/ev\",\"expression\":"
    "\"event.data.n > 1 && event.data.kind != 'skip'\"},"
    "{\"event\":\"t/other\"}],"
    "\"steps\":{\"step\":{\"id\":\"step\",\"name\":\"step\",\"runtime\":"
    "{\"type\":\"http\",\"url\":"
    "\"http://127.0.0.1:9/api/inngest?fnId=fuzz-fn&stepId=step\"},"
    "\"retries\":{\"attempts\":2}}},"
    "\"concurrency\":[{\"limit\":1,\"key\":\"event.data.user\"}],"
    "\"cancel\":[{\"event\":\"t/cancel\",\"if\":"
    "\"async.data.id == event.data.id\",\"timeout\":\"1h\"}]}]}";

static struct executor *ex;
static char dir[64];
static char db[128];
static char bearer[ING_KEY_HASH_LEN + 8];
static unsigned long count;
static int verbose;
static int dirty;              /* the waits may need seeding again */

static void seed_waits(void);

static void
cleanup(void)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[160];

	executor_close(ex);
	ex = NULL;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(*sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void
register_good(void)
{
	struct json_object *out = NULL;
	int st = executor_register(ex, bearer, GOOD_APP, strlen(GOOD_APP),
	    &out);

	if (st != 200)
		fprintf(stderr, "fixed function: %d %s\n", st,
		    out != NULL ? json_object_to_json_string(out) : "");
	check(st == 200, "the fixed function did not register");
	json_object_put(out);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct exec_config cfg;
	char hash[ING_KEY_HASH_LEN], err[256];

	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	verbose = getenv("FUZZ_EXEC_EVENTS_VERBOSE") != NULL;
	snprintf(dir, sizeof(dir), "/tmp/fuzz_exec_events.XXXXXX");
	check(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(db, sizeof(db), "%s/exec.db", dir);
	check(ing_signing_key_hash(SIGNING_KEY, hash, sizeof(hash)) == 0,
	    "ing_signing_key_hash");
	snprintf(bearer, sizeof(bearer), "Bearer %s", hash);
	cfg.db_path = db;
	cfg.signing_key = SIGNING_KEY;
	cfg.event_key = EVENT_KEY;
	cfg.workers = 1;
	if (executor_open(&cfg, &ex, err, sizeof(err)) != 0) {
		fprintf(stderr, "executor_open: %s\n", err);
		rmdir(dir);
		abort();
	}
	atexit(cleanup);
	register_good();
	seed_waits();
	return 0;
}

static void
clean_rows(void)
{
	pthread_mutex_lock(&ex->mu);
	check(exec_sql_do(ex, "DELETE FROM runs", "") == 0 &&
	    exec_sql_do(ex, "DELETE FROM events", "") == 0 &&
	    exec_sql_do(ex, "DELETE FROM jobs", "") == 0 &&
	    exec_sql_do(ex, "DELETE FROM waits", "") == 0 &&
	    exec_sql_do(ex, "DELETE FROM steps", "") == 0 &&
	    exec_sql_do(ex, "DELETE FROM calls", "") == 0, "clean rows");
	pthread_mutex_unlock(&ex->mu);
}

/* A running run of fuzz-fn with two waits on it, as a waitForEvent op
 * leaves them (one with an `if`, one without), so that events reach the
 * wait matching too: put back whenever an event may have resolved or
 * cancelled them. */
static void
seed_waits(void)
{
	pthread_mutex_lock(&ex->mu);
	check(exec_sql_do(ex, "INSERT OR IGNORE INTO runs (id, fn_id, "
	    "event_id, event_name, event, status, started_at) VALUES ("
	    "'run-fuzz-wait', 'fuzz-fn', 'ev-fuzz-wait', 't/ev', "
	    "'{\"name\":\"t/ev\",\"id\":\"ev-fuzz-wait\",\"data\":"
	    "{\"id\":\"r1\",\"user\":\"alice\",\"n\":2}}', 'running', 1)",
	    "") == 0 &&
	    exec_sql_do(ex, "UPDATE runs SET status = 'running', ended_at = "
	    "NULL WHERE id = 'run-fuzz-wait'", "") == 0 &&
	    exec_sql_do(ex, "INSERT OR IGNORE INTO waits (run_id, step, event, "
	    "expr, until_at) VALUES ('run-fuzz-wait', 'wait-if', 't/reply', "
	    "'async.data.id == event.data.id && async.data.ok == true', "
	    "253402300799000)", "") == 0 &&
	    exec_sql_do(ex, "INSERT OR IGNORE INTO waits (run_id, step, event, "
	    "expr, until_at) VALUES ('run-fuzz-wait', 'wait-any', 't/any', "
	    "NULL, 253402300799000)", "") == 0, "seed waits");
	pthread_mutex_unlock(&ex->mu);
}

static void
drop_functions(void)
{
	pthread_mutex_lock(&ex->mu);
	check(exec_sql_do(ex, "DELETE FROM functions", "") == 0,
	    "drop functions");
	pthread_mutex_unlock(&ex->mu);
}

/* The answer's "error" is a string (an error status). */
static int
has_error(struct json_object *out)
{
	struct json_object *v;

	return json_object_object_get_ex(out, "error", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0;
}

static void
check_answer(int st, struct json_object *out, int reg)
{
	struct json_object *v;

	if (verbose)
		fprintf(stderr, "%s: %d %s\n", reg ? "register" : "events", st,
		    out != NULL ? json_object_to_json_string(out) : "(null)");
	check(st == 200 || st == 400 || st == 401 || st == 500,
	    "status not 200, 400, 401 or 500");
	check(out != NULL && json_object_is_type(out, json_type_object),
	    "answer not an object");
	if (st != 200) {
		check(has_error(out), "error answer without \"error\"");
		return;
	}
	if (reg) {
		check(json_object_object_get_ex(out, "ok", &v) &&
		    json_object_is_type(v, json_type_boolean) &&
		    json_object_get_boolean(v), "sync 200 without \"ok\"");
		return;
	}
	check(json_object_object_get_ex(out, "ids", &v) &&
	    json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) > 0, "events 200 without \"ids\"");
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		struct json_object *id = json_object_array_get_idx(v, i);

		check(json_object_is_type(id, json_type_string) &&
		    json_object_get_string_len(id) > 0, "an id is not a "
		    "non-empty string");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *out = NULL;
	char *body;
	size_t len;
	int st, mode, reg;

	if (size < 1)
		return 0;
	if (++count % CLEAN_EVERY == 0) {
		clean_rows();
		dirty = 1;
	}
	reg = (data[0] & 7) == 7;
	mode = (data[0] >> 3) & 3;
	len = size - 1;
	body = malloc(len > 0 ? len : 1);
	if (body == NULL)
		return 0;
	memcpy(body, data + 1, len);
	if (reg) {
		const char *auth = mode == 1 ? "Bearer signkey-test-00" :
		    mode == 2 ? NULL : bearer;

		st = executor_register(ex, auth, body, len, &out);
		check_answer(st, out, 1);
		check(auth == bearer || st == 401, "wrong bearer not 401");
		if (st == 200) {
			drop_functions();
			register_good();
			dirty = 1;
		}
	} else {
		if (dirty) {
			seed_waits();
			dirty = 0;
		}
		st = executor_events(ex, mode == 3 ? "evkey-fuzZ" : EVENT_KEY,
		    body, len, &out);
		dirty = st == 200;
		/* Big batches start many runs, which every later event's
		 * cancellation scan reads: clean early past MAX_RUNS. */
		if (st == 200) {
			int64_t runs;

			pthread_mutex_lock(&ex->mu);
			runs = exec_sql_int(ex, 0, "SELECT COUNT(*) FROM runs",
			    "");
			pthread_mutex_unlock(&ex->mu);
			if (runs > MAX_RUNS)
				clean_rows();
		}
		check_answer(st, out, 0);
		check(mode != 3 || st == 401, "wrong event key not 401");
	}
	json_object_put(out);
	free(body);
	return 0;
}
