/*
 * health.c -- liveness (GET /) and readiness (GET /ready).
 *
 * Liveness touches nothing: it says the worker answers.  Readiness runs
 * each check and answers 503 when one fails, with every result in the body
 * so an operator sees which: the configuration, the pool not draining
 * (metrics.h: the master sets it at SIGTERM, OMNI_DRAIN_DELAY before it
 * stops accepting), the sandbox provider answering, Inngest configured
 * for its mode, and, when OMNI_EGRESS_PROBE names hosts, each reachable
 * by TCP (a firewall rule that blocks too much shows here first).  The
 * two that leave the machine are cached (omni_ready_cached), because
 * load balancers poll /ready.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "handlers.h"
#include "http_client.h"
#include "inngest.h"
#include "metrics.h"
#include "omni_worker.h"
#include "timeutil.h"

#define EGRESS_CACHE_MS 30000 /* probes leave the machine at most this often */
#define EGRESS_TIMEOUT_MS 2000 /* per host, name resolution included */

/* The same bytes every time: a constant, not a JSON object built and
 * serialised per call (health checks are the most frequent request). */
void handle_root(struct http_request *req, struct http_response *resp)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	(void)req;
	http_response_body(resp, 200, "application/json", ok, sizeof(ok) - 1);
}

static int add_check(struct json_object *checks, const char *name, int ok,
    const char *detail)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "ok", json_object_new_boolean(ok));
	if (detail != NULL && *detail != '\0')
		json_object_object_add(c, "detail",
		    json_object_new_string(detail));
	json_object_object_add(checks, name, c);
	return ok;
}

int omni_ready_cached(struct omni_ready_cache *rc, long long ttl_ms,
    int (*probe)(void *ctx, char *buf, size_t len), void *ctx,
    char *detail, size_t len)
{
	char buf[sizeof(rc->detail)];
	long long now = time_mono_ms();
	int ok;

	pthread_mutex_lock(&rc->mu);
	if (rc->checked_ms != 0 && (rc->checking ||
	    now - rc->checked_ms < ttl_ms)) {
		ok = rc->ok;
		snprintf(detail, len, "%s", rc->detail);
		pthread_mutex_unlock(&rc->mu);
		return ok;
	}
	rc->checking = 1;
	pthread_mutex_unlock(&rc->mu);
	buf[0] = '\0';
	ok = probe(ctx, buf, sizeof(buf));
	pthread_mutex_lock(&rc->mu);
	rc->checked_ms = time_mono_ms();
	rc->checking = 0;
	rc->ok = ok;
	snprintf(rc->detail, sizeof(rc->detail), "%s", buf);
	pthread_mutex_unlock(&rc->mu);
	snprintf(detail, len, "%s", buf);
	return ok;
}

/* Inngest as its mode needs it: calls verified and events sendable. */
static int inngest_check(const struct omni_worker *w, char *detail,
    size_t len)
{
	const struct omni_config *cfg = w != NULL ? w->cfg : NULL;

	if (w == NULL || w->inngest == NULL || cfg == NULL) {
		snprintf(detail, len, "the Inngest app is not initialised");
		return 0;
	}
	if (ing_app_mode(w->inngest) == ING_MODE_DEV) {
		snprintf(detail, len, "dev mode");
		return 1;
	}
	/* Development may run without any Inngest (the sandbox API alone);
	 * staging and production cannot start without the key. */
	if (cfg->inngest_signing_key == NULL &&
	    cfg->env == CFG_ENV_DEVELOPMENT) {
		snprintf(detail, len, "not configured (development)");
		return 1;
	}
	if (cfg->inngest_signing_key == NULL) {
		snprintf(detail, len, "INNGEST_SIGNING_KEY is not set");
		return 0;
	}
	if (cfg->inngest_event_key == NULL) {
		snprintf(detail, len, "INNGEST_EVENT_KEY is not set");
		return 0;
	}
	snprintf(detail, len, "cloud mode");
	return 1;
}

/* Every OMNI_EGRESS_PROBE host in turn; the first failures named. */
static int egress_probe(void *ctx, char *buf, size_t len)
{
	const char *p = ctx;
	size_t used = 0;
	int ok = 1;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		char host[300];
		enum hc_err e;

		snprintf(host, sizeof(host), "%.*s", (int)n, p);
		e = hc_probe_tcp(host, EGRESS_TIMEOUT_MS);
		if (e != HC_OK) {
			ok = 0;
			if (used < len)
				used += (size_t)snprintf(buf + used, len - used,
				    "%s%s: %s", used ? "; " : "", host,
				    hc_strerror(e));
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (ok)
		snprintf(buf, len, "reached");
	return ok;
}

void handle_ready(struct http_request *req, struct http_response *resp)
{
	struct omni_worker *w = omni_worker_of(req);
	struct json_object *o = json_object_new_object();
	struct json_object *checks = json_object_new_object();
	char detail[160];
	int ok = 1, draining = metrics_draining();

	if (o == NULL || checks == NULL) {
		json_object_put(o);
		json_object_put(checks);
		http_response_error(resp, API_SERVER_ERROR, "out of memory",
		    NULL);
		return;
	}
	/* A worker only runs with a configuration that passed validation;
	 * the check reports which profile it is. */
	ok &= add_check(checks, "config", req->cfg != NULL,
	    req->cfg ? cfg_env_name(req->cfg->env) : "not loaded");
	/* First, so that a load balancer stops sending before the pool
	 * stops accepting. */
	ok &= add_check(checks, "draining", !draining, draining ?
	    "the pool is stopping" : "");
	ok &= add_check(checks, "sandbox", sandbox_ready_check(w, detail,
	    sizeof(detail)), detail);
	ok &= add_check(checks, "inngest", inngest_check(w, detail,
	    sizeof(detail)), detail);
	if (w != NULL && req->cfg != NULL && req->cfg->egress_probe != NULL)
		ok &= add_check(checks, "egress", omni_ready_cached(&w->egress,
		    EGRESS_CACHE_MS, egress_probe, req->cfg->egress_probe,
		    detail, sizeof(detail)), detail);
	json_object_object_add(o, "status",
	    json_object_new_string(ok ? "ready" : "not_ready"));
	json_object_object_add(o, "checks", checks);
	http_response_json(resp, ok ? 200 : 503, o);
}
