/*
 * events.c -- POST /e/{event key}: the local executor's event API.
 *
 * A body is one event object or an array of them, each
 *   {"name": str (required, not "inngest/..."), "data": object,
 *    "id": str (idempotency: an id seen before starts nothing again),
 *    "ts": epoch ms, "user": object, "v": str}.
 * The whole body is validated before anything is stored: one bad event
 * refuses the request with 400 and a message naming it.  Then, in one
 * transaction, each event is stored and
 *   1. resolves the waits for its name whose `if` matches (event = the
 *      waiting run's trigger, async = this event),
 *   2. cancels the running runs whose function's cancelOn matches,
 *   3. starts a run of every function with a trigger that matches.
 * The answer is Inngest's: {"ids": [...], "status": 200}.
 */
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_duration.h"
#include "exec_expr.h"
#include "exec_internal.h"
#include "json_util.h"
#include "log.h"

#define MAX_EVENTS   1000
#define MAX_NAME_LEN 256
#define MAX_ID_LEN   256

int exec_answer_error(struct json_object **out, int status,
    const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "status", json_object_new_int(status));
	*out = o;
	return status;
}

static int key_ok(const char *want, const char *got)
{
	size_t n = strlen(want);

	return got != NULL && strlen(got) == n && n > 0 &&
	    CRYPTO_memcmp(want, got, n) == 0;
}

/* NULL when 'ev' is a valid event, else what is wrong with it. */
static const char *invalid_event(struct json_object *ev)
{
	struct json_object *v;
	const char *name;
	size_t n;

	if (!json_object_is_type(ev, json_type_object))
		return "is not an object";
	if (!json_object_object_get_ex(ev, "name", &v) ||
	    !json_object_is_type(v, json_type_string))
		return "has no name";
	name = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n > MAX_NAME_LEN || strlen(name) != n)
		return "has an empty, overlong or NUL-containing name";
	if (strncmp(name, "inngest/", 8) == 0)
		return "uses the reserved prefix inngest/";
	if (json_object_object_get_ex(ev, "data", &v) && v != NULL &&
	    !json_object_is_type(v, json_type_object))
		return "has data that is not an object";
	if (json_object_object_get_ex(ev, "user", &v) && v != NULL &&
	    !json_object_is_type(v, json_type_object))
		return "has a user that is not an object";
	if (json_object_object_get_ex(ev, "id", &v) && v != NULL &&
	    (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0 ||
	    json_object_get_string_len(v) > MAX_ID_LEN ||
	    strlen(json_object_get_string(v)) !=
	    (size_t)json_object_get_string_len(v)))
		return "has an id that is not a non-empty string";
	if (json_object_object_get_ex(ev, "ts", &v) && v != NULL &&
	    (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0))
		return "has a ts that is not a non-negative integer";
	if (json_object_object_get_ex(ev, "v", &v) && v != NULL &&
	    !json_object_is_type(v, json_type_string))
		return "has a v that is not a string";
	return NULL;
}

/* Fill in what the sender left out: id, ts, data. */
static void complete_event(struct json_object *ev)
{
	struct json_object *v;
	char id[EXEC_ID_LEN];

	if (!json_object_object_get_ex(ev, "id", &v) || v == NULL) {
		exec_new_id("01", id);
		json_object_object_add(ev, "id", json_object_new_string(id));
	}
	if (!json_object_object_get_ex(ev, "ts", &v) || v == NULL)
		json_object_object_add(ev, "ts", json_object_new_int64(
		    exec_now_ms()));
	if (!json_object_object_get_ex(ev, "data", &v) || v == NULL)
		json_object_object_add(ev, "data", json_object_new_object());
}

static const char *ev_str(struct json_object *ev, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(ev, key, &v) ?
	    json_object_get_string(v) : "";
}

/* An optional expression (NULL or "" matches) against event/async. */
static int expr_matches(const char *text, struct json_object *event,
    struct json_object *async)
{
	struct exec_expr *e;
	int r;

	if (text == NULL || *text == '\0')
		return 1;
	if (exec_expr_compile(text, EXPR_BOOL, &e, NULL, 0) != EXPR_OK)
		return 0;
	r = exec_expr_eval(e, event, async);
	exec_expr_free(e);
	return r;
}

/* The run's triggering event (a new reference), or NULL. */
static struct json_object *run_event(struct executor *ex, const char *run)
{
	sqlite3_stmt *st = exec_sql(ex, "SELECT event FROM runs WHERE id = ?",
	    "s", run);
	struct json_object *ev = NULL;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		ev = exec_col_json(st, 0);
	exec_sql_end(ex, st);
	return ev;
}

/* Room in '*arr' (holding 'n' of 'cap' elements of 'size' bytes) for
 * one more, doubling as it fills: the matches an event collects before
 * it acts on them.  0, or -1 out of memory ('*arr' kept). */
static int room_for_one(void **arr, size_t n, size_t *cap, size_t size)
{
	size_t want = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return 0;
	if ((p = realloc(*arr, want * size)) == NULL)
		return -1;
	*arr = p;
	*cap = want;
	return 0;
}

struct match {
	char run_id[EXEC_ID_LEN];
	char step[128];
};

/* Waits for this event's name whose condition holds: collected first
 * (the statement must be done before the rows it reads change), then
 * resolved. */
static int resolve_waits(struct executor *ex, struct json_object *event)
{
	sqlite3_stmt *st = exec_sql(ex, "SELECT run_id, step, expr FROM waits "
	    "WHERE event = ? AND until_at >= ? ORDER BY until_at", "si",
	    ev_str(event, "name"), exec_now_ms());
	struct match *m = NULL;
	size_t n = 0, cap = 0;
	int rc = st != NULL ? 0 : -1;

	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *trigger = run_event(ex,
		    exec_col_text(st, 0));

		if (expr_matches((const char *)sqlite3_column_text(st, 2),
		    trigger, event)) {
			rc = room_for_one((void **)&m, n, &cap, sizeof(*m));
			if (rc == 0) {
				snprintf(m[n].run_id, sizeof(m[n].run_id), "%s",
				    exec_col_text(st, 0));
				snprintf(m[n].step, sizeof(m[n].step), "%s",
				    exec_col_text(st, 1));
				n++;
			}
		}
		json_object_put(trigger);
	}
	exec_sql_end(ex, st);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = exec_sql_do(ex, "DELETE FROM waits WHERE run_id = ? AND "
		    "step = ?", "ss", m[i].run_id, m[i].step);
		if (rc == 0)
			rc = exec_sql_do(ex, "DELETE FROM jobs WHERE run_id = ? "
			    "AND kind = 'timeout' AND step = ?", "ss",
			    m[i].run_id, m[i].step);
		if (rc == 0)
			rc = exec_memoize(ex, m[i].run_id, m[i].step, NULL,
			    event);
		if (rc == 0)
			rc = exec_discover(ex, m[i].run_id);
	}
	free(m);
	return rc;
}

/* Whether one cancel entry of a function config matches. */
static int cancel_matches(struct json_object *c, struct json_object *event,
    struct json_object *trigger, int64_t started_at)
{
	struct json_object *v;
	int64_t ms;

	if (!json_object_object_get_ex(c, "event", &v) ||
	    strcmp(json_object_get_string(v), ev_str(event, "name")) != 0)
		return 0;
	if (json_object_object_get_ex(c, "timeout", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    exec_duration_ms(json_object_get_string(v), started_at, &ms) ==
	    0 && exec_now_ms() > started_at + ms)
		return 0;
	return expr_matches(json_object_object_get_ex(c, "if", &v) ?
	    json_object_get_string(v) : NULL, trigger, event);
}

static int cancel_runs(struct executor *ex, struct json_object *event)
{
	struct json_object *name = json_object_object_get(event, "name");
	/* A prefilter, so that an event no cancelOn names does not read
	 * every running run: the config text (serialized the same way)
	 * must hold the quoted name.  cancel_matches() decides. */
	sqlite3_stmt *st = exec_sql(ex, "SELECT r.id, r.event, r.started_at, "
	    "f.config FROM functions f JOIN runs r ON r.fn_id = f.id WHERE "
	    "f.config LIKE '%\"cancel\"%' AND instr(f.config, ?) > 0 AND "
	    "r.status = 'running'", "s", json_compact(name));
	char (*ids)[EXEC_ID_LEN] = NULL;
	size_t n = 0, cap = 0;
	int rc = st != NULL ? 0 : -1;

	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *trigger = exec_col_json(st, 1);
		struct json_object *cfg = exec_col_json(st, 3), *arr;
		int hit = 0;

		if (json_object_object_get_ex(cfg, "cancel", &arr) &&
		    json_object_is_type(arr, json_type_array))
			for (size_t i = 0; !hit &&
			    i < json_object_array_length(arr); i++)
				hit = cancel_matches(json_object_array_get_idx(
				    arr, i), event, trigger,
				    sqlite3_column_int64(st, 2));
		if (hit)
			rc = room_for_one((void **)&ids, n, &cap, sizeof(*ids));
		if (hit && rc == 0)
			snprintf(ids[n++], EXEC_ID_LEN, "%s",
			    exec_col_text(st, 0));
		json_object_put(trigger);
		json_object_put(cfg);
	}
	exec_sql_end(ex, st);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = exec_run_finish(ex, ids[i], "cancelled", NULL, NULL);
	free(ids);
	return rc;
}

int exec_event_effects(struct executor *ex, struct json_object *event)
{
	int rc = resolve_waits(ex, event);

	return rc == 0 ? cancel_runs(ex, event) : rc;
}

/* Start a run of every function with a trigger that matches. */
static int start_triggered(struct executor *ex, struct json_object *event)
{
	sqlite3_stmt *st = exec_sql(ex, "SELECT id, config FROM functions "
	    "ORDER BY id", "");
	char (*fns)[256] = NULL;
	size_t n = 0, cap = 0;
	char run_id[EXEC_ID_LEN];
	int rc = st != NULL ? 0 : -1;

	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *cfg = exec_col_json(st, 1), *trs, *t, *v;
		int hit = 0;

		if (json_object_object_get_ex(cfg, "triggers", &trs) &&
		    json_object_is_type(trs, json_type_array))
			for (size_t i = 0; !hit &&
			    i < json_object_array_length(trs); i++) {
				t = json_object_array_get_idx(trs, i);
				hit = json_object_object_get_ex(t, "event", &v)
				    && strcmp(json_object_get_string(v),
				    ev_str(event, "name")) == 0 &&
				    expr_matches(json_object_object_get_ex(t,
				    "expression", &v) ?
				    json_object_get_string(v) : NULL, event,
				    NULL);
			}
		if (hit)
			rc = room_for_one((void **)&fns, n, &cap, sizeof(*fns));
		if (hit && rc == 0)
			snprintf(fns[n++], 256, "%s", exec_col_text(st, 0));
		json_object_put(cfg);
	}
	exec_sql_end(ex, st);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = exec_run_start(ex, fns[i], event, NULL, NULL, run_id);
	free(fns);
	return rc;
}

/* Store one (completed) event and let it act; an id seen before is
 * answered without acting again. */
static int ingest(struct executor *ex, struct json_object *ev)
{
	const char *id = ev_str(ev, "id");
	int rc;

	if (exec_sql_int(ex, 0, "SELECT COUNT(*) FROM events WHERE id = ?",
	    "s", id) > 0)
		return 0;
	rc = exec_sql_do(ex, "INSERT INTO events (id, name, body, "
	    "received_at) VALUES (?, ?, ?, ?)", "ssji", id,
	    ev_str(ev, "name"), ev, exec_now_ms());
	if (rc == 0)
		rc = exec_event_effects(ex, ev);
	if (rc == 0)
		rc = start_triggered(ex, ev);
	return rc;
}

int executor_events(struct executor *ex, const char *key, const char *body,
    size_t len, struct json_object **out)
{
	struct json_object *root = NULL, *list, *ids, *ev;
	const char *why;
	char perr[160], msg[240];
	size_t n;
	int rc = 0;

	*out = NULL;
	if (!key_ok(ex->cfg.event_key, key))
		return exec_answer_error(out, 401, "event key not found");
	if (json_parse_value(body, len, &root, perr, sizeof(perr)) !=
	    JSON_OK) {
		snprintf(msg, sizeof(msg), "the body is not JSON: %s", perr);
		return exec_answer_error(out, 400, msg);
	}
	if (json_object_is_type(root, json_type_object)) {
		list = json_object_new_array();
		json_object_array_add(list, json_object_get(root));
		json_object_put(root);
		root = list;
	}
	if (!json_object_is_type(root, json_type_array) ||
	    (n = json_object_array_length(root)) == 0 || n > MAX_EVENTS) {
		json_object_put(root);
		return exec_answer_error(out, 400, "the body must be an event "
		    "or an array of 1 to 1000 events");
	}
	for (size_t i = 0; i < n; i++)
		if ((why = invalid_event(json_object_array_get_idx(root, i))) !=
		    NULL) {
			json_object_put(root);
			snprintf(msg, sizeof(msg), "event %zu %s", i, why);
			return exec_answer_error(out, 400, msg);
		}
	ids = json_object_new_array();
	pthread_mutex_lock(&ex->mu);
	rc = exec_begin(ex);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		ev = json_object_array_get_idx(root, i);
		complete_event(ev);
		json_object_array_add(ids, json_object_new_string(
		    ev_str(ev, "id")));
		rc = ingest(ex, ev);
	}
	if (rc == 0)
		rc = exec_commit(ex);
	else
		exec_rollback(ex);
	pthread_mutex_unlock(&ex->mu);
	json_object_put(root);
	if (rc != 0) {
		json_object_put(ids);
		return exec_answer_error(out, 500, "the events could not be "
		    "stored");
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "ids", ids);
	json_object_object_add(*out, "status", json_object_new_int(200));
	return 200;
}
