/*
 * register.c -- POST /fn/register: an app syncs its functions with the
 * local executor (spec 4.3).
 *
 * Authorization is the app's signing key hashed as the SDK sends it
 * (Bearer signkey-<env>-<sha256 hex>).  The body is
 *   {"url": serve URL, "appName": str, "functions": [function, ...], ...}
 * and each function
 *   {"id": str, "name": str, "triggers": [{"event", "expression"?}],
 *    "steps": {"step": {"runtime": {"url"}, "retries": {"attempts"}}},
 *    "concurrency": [{"limit", "key"?, "scope"?}], "cancel": [{"event",
 *    "if"?, "timeout"?}]}.
 * Every expression must be in the subset of exec_expr.h, and features the
 * executor does not implement (cron triggers, throttle, rateLimit,
 * debounce, batchEvents, idempotency, priority, singleton, timeouts) are
 * refused by name: a function is never run with part of its definition
 * silently dropped.  One bad function refuses the whole sync (400,
 * nothing stored); a good sync replaces the app's functions in one
 * transaction and answers {"ok": true, "modified": bool}.
 */
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_duration.h"
#include "exec_expr.h"
#include "exec_internal.h"
#include "inngest_signing.h"
#include "json_util.h"
#include "log.h"

#define MAX_FUNCTIONS 200
#define MAX_FN_ID     200
#define MAX_URL       2048
#define MAX_ATTEMPTS  20       /* Inngest's own cap on retries */
#define MAX_LIMIT     10000

static const char *const UNSUPPORTED[] = { "throttle", "rateLimit",
    "debounce", "batchEvents", "idempotency", "priority", "singleton",
    "timeouts" };

struct fn_def {
	const char *id;
	const char *name;
	char *step_url;          /* malloc'd: the runtime URL minus stepId */
	int attempts;
	int limits[EXEC_MAX_CONC];
	struct json_object *config;  /* borrowed from the body */
};

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strlen(json_object_get_string(v)) ==
	    (size_t)json_object_get_string_len(v))
		return json_object_get_string(v);
	return NULL;
}

static int http_url(const char *u)
{
	return u != NULL && strlen(u) < MAX_URL &&
	    (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0);
}

/* Compile 'text' as 'kind'; on failure, why in 'err' with 'what'. */
static int check_expr(const char *text, enum exec_expr_kind kind,
    const char *what, char *err, size_t len)
{
	struct exec_expr *e = NULL;
	char why[160];

	if (exec_expr_compile(text, kind, &e, why, sizeof(why)) != EXPR_OK) {
		snprintf(err, len, "%.24s \"%.80s\": %.160s", what, text, why);
		return -1;
	}
	exec_expr_free(e);
	return 0;
}

static int check_triggers(struct json_object *f, char *err, size_t len)
{
	struct json_object *trs, *t, *v;
	size_t n;

	if (!json_object_object_get_ex(f, "triggers", &trs) ||
	    !json_object_is_type(trs, json_type_array) ||
	    (n = json_object_array_length(trs)) == 0 || n > 10) {
		snprintf(err, len, "needs 1 to 10 triggers");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		t = json_object_array_get_idx(trs, i);
		if (json_object_object_get_ex(t, "cron", &v)) {
			snprintf(err, len, "cron triggers are not supported "
			    "by the local executor");
			return -1;
		}
		if (str_of(t, "event") == NULL || *str_of(t, "event") == '\0') {
			snprintf(err, len, "trigger %zu has no event name", i);
			return -1;
		}
		if (json_object_object_get_ex(t, "expression", &v) &&
		    v != NULL && (str_of(t, "expression") == NULL ||
		    check_expr(str_of(t, "expression"), EXPR_BOOL,
		    "trigger expression", err, len) != 0)) {
			if (str_of(t, "expression") == NULL)
				snprintf(err, len, "trigger %zu: expression "
				    "must be a string", i);
			return -1;
		}
	}
	return 0;
}

/* The step URL without its stepId parameter, which each call sets. */
static char *strip_step_id(const char *url)
{
	char *u = strdup(url), *q, *p, *end;

	if (u == NULL || (q = strchr(u, '?')) == NULL)
		return u;
	for (p = q + 1; *p != '\0';) {
		end = p + strcspn(p, "&");
		if (strncmp(p, "stepId=", 7) == 0) {
			memmove(p, *end == '&' ? end + 1 : end,
			    strlen(*end == '&' ? end + 1 : end) + 1);
			continue;
		}
		p = *end == '&' ? end + 1 : end;
	}
	/* Drop a trailing '&' or a bare '?'. */
	for (size_t n = strlen(u); n > 0 && (u[n - 1] == '&' ||
	    u[n - 1] == '?'); n--)
		u[n - 1] = '\0';
	return u;
}

static int check_step(struct json_object *f, struct fn_def *d, char *err,
    size_t len)
{
	struct json_object *steps, *step, *rt, *re, *v;
	const char *url;
	int64_t retries = 3;

	if (!json_object_object_get_ex(f, "steps", &steps) ||
	    !json_object_object_get_ex(steps, "step", &step) ||
	    !json_object_object_get_ex(step, "runtime", &rt) ||
	    !http_url(url = str_of(rt, "url"))) {
		snprintf(err, len, "needs steps.step.runtime.url, an http(s) "
		    "URL");
		return -1;
	}
	if (json_object_object_get_ex(step, "retries", &re) &&
	    json_object_object_get_ex(re, "attempts", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    (retries = json_object_get_int64(v)) < 0 ||
		    retries > MAX_ATTEMPTS) {
			snprintf(err, len, "retries.attempts must be an integer "
			    "from 0 to %d", MAX_ATTEMPTS);
			return -1;
		}
	}
	d->attempts = (int)retries + 1;
	d->step_url = strip_step_id(url);
	if (d->step_url == NULL) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	return 0;
}

static int check_concurrency(struct json_object *f, struct fn_def *d,
    char *err, size_t len)
{
	struct json_object *arr, *c, *v;
	const char *scope;
	size_t n;

	if (!json_object_object_get_ex(f, "concurrency", &arr) || arr == NULL)
		return 0;
	if (!json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) > EXEC_MAX_CONC) {
		snprintf(err, len, "concurrency must be an array of at most %d "
		    "limits", EXEC_MAX_CONC);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		c = json_object_array_get_idx(arr, i);
		if (!json_object_object_get_ex(c, "limit", &v) ||
		    !json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > MAX_LIMIT) {
			snprintf(err, len, "concurrency %zu: limit must be an "
			    "integer from 0 to %d", i, MAX_LIMIT);
			return -1;
		}
		d->limits[i] = (int)json_object_get_int64(v);
		scope = str_of(c, "scope");
		if (scope != NULL && strcmp(scope, "fn") != 0) {
			snprintf(err, len, "concurrency %zu: scope \"%.20s\" is "
			    "not supported by the local executor (only fn)", i,
			    scope);
			return -1;
		}
		if (json_object_object_get_ex(c, "key", &v) && v != NULL &&
		    (str_of(c, "key") == NULL || check_expr(str_of(c, "key"),
		    EXPR_VALUE, "concurrency key", err, len) != 0)) {
			if (str_of(c, "key") == NULL)
				snprintf(err, len, "concurrency %zu: key must "
				    "be a string", i);
			return -1;
		}
	}
	return 0;
}

static int check_cancel(struct json_object *f, char *err, size_t len)
{
	struct json_object *arr, *c, *v;
	const char *t;
	int64_t ms;
	size_t n;

	if (!json_object_object_get_ex(f, "cancel", &arr) || arr == NULL)
		return 0;
	if (!json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) > 10) {
		snprintf(err, len, "cancel must be an array of at most 10");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		c = json_object_array_get_idx(arr, i);
		if (str_of(c, "event") == NULL || *str_of(c, "event") == '\0') {
			snprintf(err, len, "cancel %zu has no event name", i);
			return -1;
		}
		if (json_object_object_get_ex(c, "if", &v) && v != NULL &&
		    (str_of(c, "if") == NULL || check_expr(str_of(c, "if"),
		    EXPR_BOOL, "cancel condition", err, len) != 0)) {
			if (str_of(c, "if") == NULL)
				snprintf(err, len, "cancel %zu: if must be a "
				    "string", i);
			return -1;
		}
		if ((t = str_of(c, "timeout")) != NULL &&
		    exec_duration_ms(t, 0, &ms) != 0) {
			snprintf(err, len, "cancel %zu: bad timeout", i);
			return -1;
		}
	}
	return 0;
}

static int check_function(struct json_object *f, struct fn_def *d,
    char *err, size_t len)
{
	struct json_object *v;

	memset(d, 0, sizeof(*d));
	d->config = f;
	if (!json_object_is_type(f, json_type_object)) {
		snprintf(err, len, "is not an object");
		return -1;
	}
	d->id = str_of(f, "id");
	if (d->id == NULL || *d->id == '\0' || strlen(d->id) > MAX_FN_ID) {
		snprintf(err, len, "needs an id of 1 to %d characters",
		    MAX_FN_ID);
		return -1;
	}
	d->name = str_of(f, "name");
	for (size_t i = 0; i < sizeof(UNSUPPORTED) / sizeof(*UNSUPPORTED);
	    i++)
		if (json_object_object_get_ex(f, UNSUPPORTED[i], &v) &&
		    v != NULL) {
			snprintf(err, len, "%s is not supported by the local "
			    "executor", UNSUPPORTED[i]);
			return -1;
		}
	if (check_triggers(f, err, len) != 0 ||
	    check_step(f, d, err, len) != 0 ||
	    check_concurrency(f, d, err, len) != 0 ||
	    check_cancel(f, err, len) != 0)
		return -1;
	return 0;
}

static int repeats(const struct fn_def *d, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (strcmp(d[k].id, d[i].id) == 0)
			return 1;
	return 0;
}

static int auth_ok(const char *key, const char *authorization)
{
	char want[ING_KEY_HASH_LEN + 8], hash[ING_KEY_HASH_LEN];
	size_t n;

	if (authorization == NULL || ing_signing_key_hash(key, hash,
	    sizeof(hash)) != 0)
		return 0;
	snprintf(want, sizeof(want), "Bearer %s", hash);
	n = strlen(want);
	return strlen(authorization) == n &&
	    CRYPTO_memcmp(want, authorization, n) == 0;
}

/* Store the checked functions of the app at 'url'.  Sets '*modified'. */
static int store(struct executor *ex, const char *url, struct fn_def *d,
    size_t n, int *modified)
{
	int64_t now = exec_now_ms();
	int rc = exec_begin(ex), changed = 0;

	for (size_t i = 0; rc == 0 && i < n; i++, changed +=
	    rc == 0 ? sqlite3_changes(ex->db) : 0)
		rc = exec_sql_do(ex, "INSERT INTO functions (id, app_url, name, "
		    "config, step_url, attempts, limit0, limit1, updated_at) "
		    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(id) "
		    "DO UPDATE SET app_url = ?2, name = ?3, config = ?4, "
		    "step_url = ?5, attempts = ?6, limit0 = ?7, limit1 = ?8, "
		    "updated_at = ?9 WHERE config != ?4 OR app_url != ?2",
		    "sssjsiiii", d[i].id, url, d[i].name, d[i].config,
		    d[i].step_url, (int64_t)d[i].attempts,
		    (int64_t)d[i].limits[0], (int64_t)d[i].limits[1], now);
	/* Functions the app no longer has are forgotten; their runs stay
	 * on record and end failed if they try to go on. */
	if (rc == 0) {
		rc = exec_sql_do(ex, "CREATE TEMP TABLE IF NOT EXISTS synced "
		    "(id TEXT PRIMARY KEY)", "");
		if (rc == 0)
			rc = exec_sql_do(ex, "DELETE FROM synced", "");
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = exec_sql_do(ex, "INSERT OR IGNORE INTO synced "
			    "VALUES (?)", "s", d[i].id);
		if (rc == 0 && (rc = exec_sql_do(ex, "DELETE FROM functions "
		    "WHERE app_url = ? AND id NOT IN (SELECT id FROM synced)",
		    "s", url)) == 0)
			changed += sqlite3_changes(ex->db);
	}
	*modified = changed > 0;
	if (rc == 0)
		return exec_commit(ex);
	exec_rollback(ex);
	return -1;
}

int executor_register(struct executor *ex, const char *authorization,
    const char *body, size_t len, struct json_object **out)
{
	struct json_object *root = NULL, *fns;
	struct fn_def *defs = NULL;
	const char *url;
	char err[300], msg[400];
	size_t n = 0, i;
	int status = 400, modified = 0, rc;

	*out = NULL;
	if (!auth_ok(ex->cfg.signing_key, authorization))
		return exec_answer_error(out, 401, "the signing key does not "
		    "match");
	if (json_parse_object(body, len, &root, err, sizeof(err)) != JSON_OK) {
		snprintf(msg, sizeof(msg), "the body is not a JSON object: %s",
		    err);
		return exec_answer_error(out, 400, msg);
	}
	url = str_of(root, "url");
	if (!http_url(url)) {
		status = exec_answer_error(out, 400, "url must be the app's "
		    "http(s) serve URL");
		goto out;
	}
	if (!json_object_object_get_ex(root, "functions", &fns) ||
	    !json_object_is_type(fns, json_type_array) ||
	    (n = json_object_array_length(fns)) > MAX_FUNCTIONS) {
		status = exec_answer_error(out, 400, "functions must be an "
		    "array of at most 200");
		goto out;
	}
	defs = calloc(n + 1, sizeof(*defs));
	if (defs == NULL) {
		status = exec_answer_error(out, 500, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (check_function(json_object_array_get_idx(fns, i), &defs[i],
		    err, sizeof(err)) != 0)
			break;
		if (repeats(defs, i)) {
			snprintf(err, sizeof(err), "repeats the id of an earlier "
			    "function");
			break;
		}
	}
	if (i < n) {
		snprintf(msg, sizeof(msg), "function %zu (%.64s): %s", i,
		    defs[i].id != NULL ? defs[i].id : "?", err);
		status = exec_answer_error(out, 400, msg);
		goto out;
	}
	pthread_mutex_lock(&ex->mu);
	rc = store(ex, url, defs, n, &modified);
	pthread_mutex_unlock(&ex->mu);
	if (rc != 0) {
		status = exec_answer_error(out, 500, "the functions could not "
		    "be stored");
		goto out;
	}
	log_msg(LOG_INFO, "executor_app_synced", "%zu functions, modified %s",
	    n, modified ? "true" : "false");
	*out = json_object_new_object();
	json_object_object_add(*out, "ok", json_object_new_boolean(1));
	json_object_object_add(*out, "modified", json_object_new_boolean(
	    modified));
	status = 200;
out:
	for (i = 0; defs != NULL && i < n; i++)
		free(defs[i].step_url);
	free(defs);
	json_object_put(root);
	return status;
}
