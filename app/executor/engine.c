/*
 * engine.c -- the local executor's lifetime: open the store, start and
 * stop the driver threads, the sync it triggers at start, and the run
 * queries behind GET /runs.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_internal.h"
#include "http_client.h"
#include "inngest_signing.h"
#include "log.h"
#include "timeutil.h"

#define DEF_WORKERS      4
#define DEF_RETRY_BASE   1000
#define DEF_RETRY_MAX    300000
#define DEF_CALL_TIMEOUT 300000
#define DEF_RUNS_LISTED  200
#define STOP_WAIT_MS     10000   /* calls in flight at shutdown */

static void defaults(struct exec_config *c)
{
	if (c->workers == 0)
		c->workers = DEF_WORKERS;
	if (c->retry_base_ms <= 0)
		c->retry_base_ms = DEF_RETRY_BASE;
	if (c->retry_max_ms <= 0)
		c->retry_max_ms = DEF_RETRY_MAX;
	if (c->retry_max_ms < c->retry_base_ms)
		c->retry_max_ms = c->retry_base_ms;
	if (c->call_timeout_ms <= 0)
		c->call_timeout_ms = DEF_CALL_TIMEOUT;
	if (c->max_runs_listed <= 0)
		c->max_runs_listed = DEF_RUNS_LISTED;
}

int executor_open(const struct exec_config *cfg, struct executor **out,
    char *err, size_t errlen)
{
	struct executor *ex;

	*out = NULL;
	if (cfg == NULL || cfg->db_path == NULL || cfg->signing_key == NULL ||
	    cfg->event_key == NULL) {
		snprintf(err, errlen, "a database path, a signing key and an "
		    "event key are required");
		return -1;
	}
	if ((ex = calloc(1, sizeof(*ex))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ex->cfg = *cfg;
	defaults(&ex->cfg);
	pthread_mutex_init(&ex->mu, NULL);
	pthread_cond_init(&ex->cv, NULL);
	if (exec_store_open(ex, err, errlen) != 0) {
		executor_close(ex);
		return -1;
	}
	*out = ex;
	return 0;
}

static void *sync_main(void *arg)
{
	executor_sync_app(arg);
	return NULL;
}

int executor_start(struct executor *ex)
{
	ex->threads = calloc(ex->cfg.workers, sizeof(*ex->threads));
	if (ex->threads == NULL)
		return -1;
	if (ex->cfg.app_url != NULL && ex->cfg.app_url[0] != '\0' &&
	    pthread_create(&ex->sync_thread, NULL, sync_main, ex) == 0)
		ex->has_sync_thread = 1;
	pthread_mutex_lock(&ex->mu);
	for (; ex->nthreads < ex->cfg.workers; ex->nthreads++) {
		if (pthread_create(&ex->threads[ex->nthreads], NULL,
		    exec_driver_main, ex) != 0)
			break;
		ex->nthreads_alive++;
	}
	pthread_mutex_unlock(&ex->mu);
	return ex->nthreads == ex->cfg.workers ? 0 : -1;
}

/* Wait for the driver threads, at most STOP_WAIT_MS: 1 all returned. */
static int wait_for_drivers(struct executor *ex)
{
	int64_t until = exec_now_ms() + STOP_WAIT_MS;
	struct timespec ts;

	pthread_mutex_lock(&ex->mu);
	ex->stopping = 1;
	pthread_cond_broadcast(&ex->cv);
	while (ex->nthreads_alive > 0 && exec_now_ms() < until) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&ex->cv, &ex->mu, &ts);
	}
	pthread_mutex_unlock(&ex->mu);
	return ex->nthreads_alive == 0;
}

void executor_close(struct executor *ex)
{
	if (ex == NULL)
		return;
	if (!wait_for_drivers(ex)) {
		/* A call still on the wire past the wait: its job is still in
		 * the database and runs again on the next start.  Its thread
		 * holds the executor, so nothing is freed. */
		log_msg(LOG_WARN, "executor_stop_timeout", "%u call(s) still "
		    "in flight; they will be made again at the next start",
		    ex->nthreads_alive);
		return;
	}
	for (unsigned i = 0; i < ex->nthreads; i++)
		pthread_join(ex->threads[i], NULL);
	if (ex->has_sync_thread)
		pthread_join(ex->sync_thread, NULL);
	free(ex->threads);
	pthread_mutex_lock(&ex->mu);
	exec_store_close(ex);
	pthread_mutex_unlock(&ex->mu);
	pthread_cond_destroy(&ex->cv);
	pthread_mutex_destroy(&ex->mu);
	free(ex);
}

/* One signed PUT of the serve URL: the HTTP status, 0 for no answer. */
static long put_app(struct executor *ex)
{
	char sig[ING_SIG_HEADER_LEN], line[ING_SIG_HEADER_LEN + 32];
	const char *headers[2];
	struct hc_request req = { 0 };
	struct hc_response resp;
	long status = 0;

	if (ing_signature_make(ex->cfg.signing_key, "", 0,
	    exec_now_ms() / 1000, sig, sizeof(sig)) != 0)
		return 0;
	snprintf(line, sizeof(line), "X-Inngest-Signature: %s", sig);
	headers[0] = line;
	headers[1] = "X-Inngest-Server-Kind: cloud";
	req.method = "PUT";
	req.url = ex->cfg.app_url;
	req.headers = headers;
	req.nheaders = 2;
	req.timeout_ms = 10000;
	req.user_agent = "omni-executor/0.1";
	if (hc_perform(&req, &resp) == HC_OK) {
		status = resp.status;
		hc_response_free(&resp);
	}
	return status;
}

int executor_sync_app(struct executor *ex)
{
	int64_t until = exec_now_ms() + ex->cfg.sync_wait_s * 1000;
	long status;

	if (ex->cfg.app_url == NULL || ex->cfg.app_url[0] == '\0')
		return 0;
	for (;;) {
		status = put_app(ex);
		if (status == 200) {
			log_msg(LOG_INFO, "executor_sync", "the app synced");
			return 0;
		}
		if (exec_now_ms() >= until || ex->stopping)
			break;
		time_sleep_ms(500);
	}
	log_msg(LOG_ERROR, "executor_sync_failed", "the app at the serve URL "
	    "did not sync (last status %ld); PUT it by hand once it is up",
	    status);
	return -1;
}

int executor_runs(struct executor *ex, struct json_object **out)
{
	pthread_mutex_lock(&ex->mu);
	*out = exec_runs_json(ex, ex->cfg.max_runs_listed);
	pthread_mutex_unlock(&ex->mu);
	return *out != NULL ? 200 : exec_answer_error(out, 500, "the runs "
	    "could not be read");
}

int executor_run(struct executor *ex, const char *run_id,
    struct json_object **out)
{
	pthread_mutex_lock(&ex->mu);
	*out = exec_run_json(ex, run_id);
	pthread_mutex_unlock(&ex->mu);
	return *out != NULL ? 200 : exec_answer_error(out, 404, "no run with "
	    "that id");
}
