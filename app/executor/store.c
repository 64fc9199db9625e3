/*
 * store.c -- the local executor's SQLite connection: the schema, a small
 * binding helper and transactions.
 *
 * One connection, used under ex->mu, holding the file exclusively.  WAL:
 * a commit is one append; synchronous=NORMAL keeps every
 * committed transaction across a killed process (the WAL is in the page
 * cache and replayed on open); only a power loss can drop the last ones.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "exec_internal.h"
#include "json_util.h"
#include "log.h"

#define SCHEMA_VERSION 1

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS functions ("
    " id TEXT PRIMARY KEY, app_url TEXT NOT NULL, name TEXT,"
    " config TEXT NOT NULL, step_url TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, limit0 INTEGER NOT NULL DEFAULT 0,"
    " limit1 INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS events ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, body TEXT NOT NULL,"
    " received_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS runs ("
    " id TEXT PRIMARY KEY, fn_id TEXT NOT NULL, event_id TEXT,"
    " event_name TEXT NOT NULL,"
    " event TEXT NOT NULL, status TEXT NOT NULL, output TEXT, error TEXT,"
    " started_at INTEGER NOT NULL, ended_at INTEGER,"
    " parent_run TEXT, parent_step TEXT,"
    " disable_immediate INTEGER NOT NULL DEFAULT 0,"
    " ckey0 TEXT NOT NULL DEFAULT '', ckey1 TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS runs_by_start ON runs(started_at);"
    "CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status, fn_id);"
    "CREATE TABLE IF NOT EXISTS steps ("
    " run_id TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,"
    " name TEXT, value TEXT, PRIMARY KEY (run_id, id));"
    "CREATE TABLE IF NOT EXISTS calls ("
    " run_id TEXT NOT NULL, seq INTEGER NOT NULL, step TEXT NOT NULL,"
    " step_name TEXT, attempt INTEGER NOT NULL,"
    " started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
    " http_status INTEGER NOT NULL, outcome TEXT NOT NULL, ops TEXT,"
    " error TEXT, PRIMARY KEY (run_id, seq));"
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,"
    " kind TEXT NOT NULL, step TEXT NOT NULL, attempt INTEGER NOT NULL,"
    " due_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS jobs_by_due ON jobs(due_at, id);"
    "CREATE INDEX IF NOT EXISTS jobs_by_run ON jobs(run_id, kind, step);"
    "CREATE TABLE IF NOT EXISTS waits ("
    " run_id TEXT NOT NULL, step TEXT NOT NULL, event TEXT NOT NULL,"
    " expr TEXT, until_at INTEGER NOT NULL, PRIMARY KEY (run_id, step));"
    "CREATE INDEX IF NOT EXISTS waits_by_event ON waits(event);";

static void log_db(struct executor *ex, const char *what)
{
	log_msg(LOG_ERROR, "executor_db_error", "%s: %s", what,
	    sqlite3_errmsg(ex->db));
}

int exec_store_open(struct executor *ex, char *err, size_t errlen)
{
	char *msg = NULL;
	int64_t version;

	if (sqlite3_open_v2(ex->cfg.db_path, &ex->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", ex->cfg.db_path,
		    ex->db != NULL ? sqlite3_errmsg(ex->db) : "out of memory");
		return -1;
	}
	/* A busy database (another executor on the same file) is an error
	 * after a few seconds, not a hang. */
	sqlite3_busy_timeout(ex->db, 5000);
	/* Exclusive: one executor per database (a second one would drive
	 * the same runs twice), and no file lock taken per transaction. */
	if (sqlite3_exec(ex->db, "PRAGMA locking_mode=EXCLUSIVE;"
	    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
	    &msg) != SQLITE_OK ||
	    sqlite3_exec(ex->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", ex->cfg.db_path,
		    msg != NULL ? msg : "schema failed");
		sqlite3_free(msg);
		return -1;
	}
	version = exec_sql_int(ex, -1, "PRAGMA user_version", "");
	if (version == 0)
		exec_sql_do(ex, "PRAGMA user_version = 1", "");
	else if (version != SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %lld, this executor "
		    "knows %d", ex->cfg.db_path, (long long)version,
		    SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

void exec_store_close(struct executor *ex)
{
	for (size_t i = 0; i < EXEC_STMT_CACHE; i++) {
		sqlite3_finalize(ex->stmts[i].st);
		ex->stmts[i] = (struct exec_stmt){ 0 };
	}
	if (ex->db != NULL)
		sqlite3_close(ex->db);
	ex->db = NULL;
}

/* A cached, idle statement for 'sql', or a new one (cached when a slot
 * is free).  A statement still in use higher up the stack (the same SQL
 * run again while its rows are read) gets a fresh, uncached one. */
static sqlite3_stmt *statement(struct executor *ex, const char *sql)
{
	struct exec_stmt *free_slot = NULL;
	sqlite3_stmt *st = NULL;

	for (size_t i = 0; i < EXEC_STMT_CACHE; i++) {
		struct exec_stmt *c = &ex->stmts[i];

		if (c->sql == sql && !c->busy) {
			c->busy = 1;
			return c->st;
		}
		if (c->sql == NULL && free_slot == NULL)
			free_slot = c;
	}
	if (sqlite3_prepare_v3(ex->db, sql, -1, free_slot != NULL ?
	    SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) != SQLITE_OK) {
		log_db(ex, "prepare");
		sqlite3_finalize(st);
		return NULL;
	}
	if (free_slot != NULL)
		*free_slot = (struct exec_stmt){ sql, st, 1 };
	return st;
}

void exec_sql_end(struct executor *ex, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < EXEC_STMT_CACHE; i++)
		if (ex->stmts[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			ex->stmts[i].busy = 0;
			return;
		}
	sqlite3_finalize(st);
}

static int bind_args(sqlite3_stmt *st, const char *types, va_list ap)
{
	struct json_object *j;
	const char *s;
	int i = 1, rc = SQLITE_OK;

	for (const char *t = types; *t != '\0' && rc == SQLITE_OK; t++, i++) {
		switch (*t) {
		case 's':
			s = va_arg(ap, const char *);
			rc = s != NULL ? sqlite3_bind_text(st, i, s, -1,
			    SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
			break;
		case 'i':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'j':
			j = va_arg(ap, struct json_object *);
			rc = sqlite3_bind_text(st, i, j != NULL ?
			    json_compact(j) : "null", -1, SQLITE_TRANSIENT);
			break;
		default:
			return SQLITE_MISUSE;
		}
	}
	return rc;
}

static sqlite3_stmt *prepare_v(struct executor *ex, const char *sql,
    const char *types, va_list ap)
{
	sqlite3_stmt *st = statement(ex, sql);

	if (st == NULL)
		return NULL;
	if (bind_args(st, types, ap) != SQLITE_OK) {
		log_db(ex, "bind");
		exec_sql_end(ex, st);
		return NULL;
	}
	return st;
}

sqlite3_stmt *exec_sql(struct executor *ex, const char *sql,
    const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, types);
	st = prepare_v(ex, sql, types, ap);
	va_end(ap);
	return st;
}

int exec_sql_do(struct executor *ex, const char *sql, const char *types,
    ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, types);
	st = prepare_v(ex, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		log_db(ex, "step");
	exec_sql_end(ex, st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int64_t exec_sql_int(struct executor *ex, int64_t def, const char *sql,
    const char *types, ...)
{
	sqlite3_stmt *st;
	int64_t v = def;
	va_list ap;

	va_start(ap, types);
	st = prepare_v(ex, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return def;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	exec_sql_end(ex, st);
	return v;
}

struct json_object *exec_col_json(sqlite3_stmt *st, int i)
{
	const char *text = (const char *)sqlite3_column_text(st, i);
	struct json_object *v = NULL;

	if (text == NULL)
		return NULL;
	/* What the store holds it wrote itself from parsed JSON: a failure
	 * here means a damaged file, shown as null. */
	if (json_parse_value(text, (size_t)sqlite3_column_bytes(st, i), &v,
	    NULL, 0) != JSON_OK)
		return NULL;
	return v;
}

const char *exec_col_text(sqlite3_stmt *st, int i)
{
	const char *text = (const char *)sqlite3_column_text(st, i);

	return text != NULL ? text : "";
}

int exec_begin(struct executor *ex)
{
	return exec_sql_do(ex, "BEGIN IMMEDIATE", "");
}

int exec_commit(struct executor *ex)
{
	if (exec_sql_do(ex, "COMMIT", "") == 0)
		return 0;
	exec_rollback(ex);
	return -1;
}

void exec_rollback(struct executor *ex)
{
	if (!sqlite3_get_autocommit(ex->db))
		exec_sql_do(ex, "ROLLBACK", "");
}
