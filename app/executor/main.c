/*
 * main.c -- build/omni-executor: the local executor as a process.
 *
 * Configuration (environment; README "Local executor"):
 *   INNGEST_SIGNING_KEY            signs calls, checks syncs (required)
 *   INNGEST_EVENT_KEY              the key of POST /e/{key} (required)
 *   OMNI_EXECUTOR_PORT             loopback port (8288)
 *   OMNI_EXECUTOR_HOST             loopback address to bind (127.0.0.1;
 *                                  the pages have no login, so nothing
 *                                  but a loopback address is accepted)
 *   OMNI_EXECUTOR_DB               SQLite file
 *                                  ($OMNI_DATA_DIR/executor.sqlite)
 *   OMNI_EXECUTOR_APP_URL          serve URL to sync at start (none)
 *   OMNI_EXECUTOR_WORKERS          driver threads (4)
 *   OMNI_EXECUTOR_RETRY_BASE_MS    first retry delay (1000)
 *   OMNI_EXECUTOR_RETRY_MAX_MS     backoff cap (300000)
 *   OMNI_EXECUTOR_CALL_TIMEOUT_MS  one call request (300000)
 *   LOG_LEVEL                      debug|info|warn|error (info)
 * A bad or missing value stops start-up with one line naming it (exit
 * 78).  SIGTERM or SIGINT stops it: the HTTP server first, then the
 * driver threads (a call in flight is made again at the next start).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_api.h"
#include "exec_http.h"
#include "executor.h"
#include "http_client.h"
#include "log.h"

#define EX_CONFIG 78
#define MAX_BODY  (4u << 20)

static void die_config(const char *var, const char *why)
{
	fprintf(stderr, "omni-executor: %s: %s\n", var, why);
	exit(EX_CONFIG);
}

static long env_long(const char *var, long def, long lo, long hi)
{
	const char *s = getenv(var);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi) {
		char why[96];

		snprintf(why, sizeof(why), "must be an integer from %ld to %ld",
		    lo, hi);
		die_config(var, why);
	}
	return v;
}

static const char *env_required(const char *var)
{
	const char *s = getenv(var);

	if (s == NULL || *s == '\0')
		die_config(var, "is required");
	return s;
}

/* OMNI_EXECUTOR_DB, else $OMNI_DATA_DIR/executor.sqlite. */
static const char *db_path(char *buf, size_t len)
{
	const char *db = getenv("OMNI_EXECUTOR_DB"), *dir;

	if (db != NULL && *db != '\0')
		return db;
	dir = getenv("OMNI_DATA_DIR");
	if (dir == NULL || *dir == '\0')
		die_config("OMNI_DATA_DIR", "is required (or set "
		    "OMNI_EXECUTOR_DB)");
	if ((size_t)snprintf(buf, len, "%s/executor.sqlite", dir) >= len)
		die_config("OMNI_DATA_DIR", "is too long");
	return buf;
}

/* NULL, or a numeric loopback address (127.0.0.0/8 or ::1). */
static const char *loopback_host(void)
{
	const char *h = getenv("OMNI_EXECUTOR_HOST");
	unsigned char a[16];

	if (h == NULL || *h == '\0')
		return NULL;
	if ((inet_pton(AF_INET, h, a) == 1 && a[0] == 127) ||
	    (inet_pton(AF_INET6, h, a) == 1 &&
	    memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0))
		return h;
	die_config("OMNI_EXECUTOR_HOST", "must be a numeric loopback address "
	    "(127.0.0.1 or ::1): the run pages have no login");
	return NULL;
}

static void read_config(struct exec_config *c, char *dbbuf, size_t dblen)
{
	const char *lvl = getenv("LOG_LEVEL"), *key;
	enum log_level level;

	if (lvl != NULL && *lvl != '\0') {
		if (log_level_parse(lvl, &level) != 0)
			die_config("LOG_LEVEL", "must be debug, info, warn or "
			    "error");
		log_set_level(level);
	}
	memset(c, 0, sizeof(*c));
	key = env_required("INNGEST_SIGNING_KEY");
	if (strncmp(key, "signkey-", 8) != 0)
		die_config("INNGEST_SIGNING_KEY", "must look like "
		    "signkey-<env>-<hex>");
	c->signing_key = key;
	c->event_key = env_required("INNGEST_EVENT_KEY");
	c->db_path = db_path(dbbuf, dblen);
	c->app_url = getenv("OMNI_EXECUTOR_APP_URL");
	if (c->app_url != NULL && *c->app_url != '\0' &&
	    strncmp(c->app_url, "http://", 7) != 0 &&
	    strncmp(c->app_url, "https://", 8) != 0)
		die_config("OMNI_EXECUTOR_APP_URL", "must be an http(s) URL");
	c->workers = (unsigned)env_long("OMNI_EXECUTOR_WORKERS", 4, 1, 64);
	c->retry_base_ms = env_long("OMNI_EXECUTOR_RETRY_BASE_MS", 1000, 1,
	    3600000);
	c->retry_max_ms = env_long("OMNI_EXECUTOR_RETRY_MAX_MS", 300000, 1,
	    86400000);
	c->call_timeout_ms = env_long("OMNI_EXECUTOR_CALL_TIMEOUT_MS", 300000,
	    100, 7200000);
	c->sync_wait_s = 60;
}

int main(void)
{
	struct exec_http_options ho = { 0 };
	struct exec_http_server *srv = NULL;
	struct executor *ex = NULL;
	struct exec_config cfg;
	char dbbuf[PATH_MAX], err[256];
	sigset_t set;
	int sig = 0;

	/* Every thread started below inherits the blocked set; only
	 * sigwait() here sees the stop signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	read_config(&cfg, dbbuf, sizeof(dbbuf));
	ho.host = loopback_host();
	ho.port = (int)env_long("OMNI_EXECUTOR_PORT", 8288, 0, 65535);
	ho.max_body = MAX_BODY;
	ho.threads = 4;
	ho.handler = exec_api_handle;
	if (http_client_global_init() != 0) {
		fprintf(stderr, "omni-executor: libcurl failed to start\n");
		return 1;
	}
	if (executor_open(&cfg, &ex, err, sizeof(err)) != 0) {
		fprintf(stderr, "omni-executor: %s\n", err);
		return 1;
	}
	ho.ud = ex;
	if (exec_http_start(&ho, &srv, err, sizeof(err)) != 0) {
		fprintf(stderr, "omni-executor: %s\n", err);
		executor_close(ex);
		return 1;
	}
	if (executor_start(ex) != 0) {
		fprintf(stderr, "omni-executor: cannot start threads\n");
		return 1;
	}
	log_msg(LOG_INFO, "executor_listening", "omni-executor listening on "
	    "%s:%d, runs at /runs", ho.host != NULL ? ho.host : "127.0.0.1",
	    exec_http_port(srv));
	sigwait(&set, &sig);
	log_msg(LOG_INFO, "executor_stopping", "signal %d", sig);
	exec_http_stop(srv);
	executor_close(ex);
	return 0;
}
