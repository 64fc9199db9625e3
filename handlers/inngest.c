/*
 * inngest.c -- GET, PUT, POST /api/inngest: a thin adapter from the
 * FastCGI request (http.h) to the SDK's transport-neutral entry point
 * (ing_serve, inngest.h) and back.
 *
 * Each worker process builds one Inngest app after fork into its worker
 * context (inngest_handlers_init) and registers the functions; threads then share
 * it read-only.  The route is raw-bodied: signatures are computed over the
 * exact bytes Inngest sent, so nothing may parse or re-encode the body
 * before the SDK sees it.
 *
 * Where the sync URL comes from is decided here, not by the client: an
 * unsigned PUT may start a sync (spec 4.3.1), so whatever this adapter
 * hands the SDK as scheme and host is the caller's to choose.  In cloud
 * mode it hands nothing: the URL is INNGEST_SERVE_ORIGIN (which the
 * configuration requires) or the sync fails, naming it.  In dev mode
 * (development only) it hands the Host header, so that a dev server in a
 * container reaches the app by the name it used, and always the scheme
 * "http": X-Forwarded-Proto is a client header like any other.
 *
 * The SDK knows nothing of Omni: this file also hands it the
 * configuration (ing_config_from) and installs the log hooks that turn
 * its lines into Omni's log lines (same event names and fields as when
 * the SDK called log.h itself).
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "functions.h"
#include "handlers.h"
#include "http_client.h"
#include "inngest.h"
#include "inngest_http.h"
#include "log.h"
#include "metrics.h"
#include "omni_worker.h"

/* The SDK's configuration is Omni's INNGEST_* settings, borrowed. */
static struct ing_config ing_config_from(const struct omni_config *cfg)
{
	struct ing_config c = {
		.dev = cfg->inngest_dev,
		.base_url = cfg->inngest_base_url,
		.api_origin = cfg->inngest_api_origin,
		.event_api_origin = cfg->inngest_event_api_origin,
		.app_id = cfg->inngest_app_id,
		.signing_key = cfg->inngest_signing_key,
		.signing_key_fallback = cfg->inngest_signing_key_fallback,
		.event_key = cfg->inngest_event_key,
		.env = cfg->inngest_env,
		.serve_origin = cfg->inngest_serve_origin,
		.serve_path = cfg->inngest_serve_path,
	};

	return c;
}

static enum log_level log_level_of(enum ing_log_level level)
{
	switch (level) {
	case ING_LOG_DEBUG:
		return LOG_DEBUG;
	case ING_LOG_INFO:
		return LOG_INFO;
	case ING_LOG_WARN:
		return LOG_WARN;
	default:
		return LOG_ERROR;
	}
}

/* The SDK promises messages free of secrets and user text. */
static void sdk_log(void *ud, enum ing_log_level level, const char *event,
    const char *msg)
{
	(void)ud;
	log_msg(log_level_of(level), event, "%s", msg);
}

/* What a call request ran goes into its access line ("request"), not a
 * line of its own: one write per call.  The line already has the status
 * and the whole duration; fn_ms is the function's own share, in whole
 * milliseconds as the SDK measures it. */
static void sdk_log_call(void *ud, const struct ing_log_call *c)
{
	(void)ud;
	/* Counted whatever the log level lets through. */
	metrics_count_inngest_call(c->fn, c->status);
	if (c->fn != NULL)
		log_request_add_str("fn", c->fn);
	if (c->run_id != NULL)
		log_request_add_str("run_id", c->run_id);
	log_request_add_int("attempt", c->attempt);
	if (c->rc != NULL)
		log_request_add_str("rc", c->rc);
	log_request_add_int("ops", (long long)c->ops);
	log_request_add_int("fn_ms", c->ms);
}

static void sdk_events_sent(void *ud, size_t count, int ok)
{
	(void)ud;
	metrics_count_events(count, ok);
}

int inngest_handlers_init(struct omni_worker *w, char *err, size_t errlen)
{
	const struct ing_hooks hooks = {
		.transport = &omni_inngest_transport,
		.log = sdk_log,
		.log_call = sdk_log_call,
		.events_sent = sdk_events_sent,
	};
	struct ing_config icfg;
	enum ing_err e;

	if (w->inngest != NULL)
		return 0;
	/* libcurl's global set-up, while the worker is single-threaded. */
	if (http_client_global_init() != 0) {
		snprintf(err, errlen, "inngest: libcurl cannot initialise");
		return -1;
	}
	icfg = ing_config_from(w->cfg);
	e = ing_app_new(&icfg, &hooks, &w->inngest);
	if (e != ING_OK) {
		snprintf(err, errlen, "inngest: %s", ing_strerror(e));
		return -1;
	}
	/* Omni's functions find the worker's provider through it. */
	ing_app_set_data(w->inngest, w);
	e = functions_register_create_task(w->inngest, w->cfg);
	if (e == ING_OK)
		e = functions_register_process_knowledge(w->inngest, w->cfg);
	if (e == ING_OK)
		e = functions_register_testing(w->inngest, w->cfg);
	if (e != ING_OK) {
		snprintf(err, errlen, "inngest: registering functions: %s",
		    ing_strerror(e));
		ing_app_free(w->inngest);
		w->inngest = NULL;
		return -1;
	}
	return 0;
}

void inngest_handlers_fini(struct omni_worker *w)
{
	ing_app_free(w->inngest);
	w->inngest = NULL;
}

void handle_inngest(struct http_request *req, struct http_response *resp)
{
	struct ing_header_ref *hdrs = NULL;
	struct ing_response ires;
	struct ing_request ireq = { 0 };
	const char *ctype = "application/json";
	struct omni_worker *w = omni_worker_of(req);
	struct ing_app *app = w != NULL ? w->inngest : NULL;

	if (app == NULL) {
		http_response_error(resp, API_SERVICE_UNAVAILABLE,
		    "Inngest is not initialised", NULL);
		return;
	}
	if (req->nheaders > 0) {
		hdrs = calloc(req->nheaders, sizeof(*hdrs));
		if (hdrs == NULL) {
			http_response_error(resp, API_SERVER_ERROR,
			    "out of memory", NULL);
			return;
		}
		for (size_t i = 0; i < req->nheaders; i++) {
			hdrs[i].name = req->headers[i].name;
			hdrs[i].value = req->headers[i].value;
		}
	}
	/* The router serves HEAD through the GET route. */
	ireq.method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
	ireq.query = req->raw_query;
	ireq.headers = hdrs;
	ireq.nheaders = hdrs != NULL ? req->nheaders : 0;
	ireq.body = req->body;
	ireq.body_len = req->body != NULL ? req->body_len : 0;
	ireq.scheme = NULL; /* "http"; see the top of this file */
	ireq.host = ing_app_mode(app) == ING_MODE_DEV ?
	    http_header(req, "host") : NULL;
	ireq.path = req->path;

	(void)ing_serve(app, &ireq, &ires);
	free(hdrs);

	for (size_t i = 0; i < ires.nheaders; i++) {
		if (strcasecmp(ires.headers[i].name, "Content-Type") == 0)
			ctype = ires.headers[i].value;
		else
			http_response_header(resp, ires.headers[i].name,
			    ires.headers[i].value);
	}
	http_response_body(resp, ires.status, ctype,
	    ires.body != NULL ? ires.body : "", ires.body_len);
	ing_response_free(&ires);
}
