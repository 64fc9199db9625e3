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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "functions.h"
#include "handlers.h"
#include "inngest.h"
#include "log.h"
#include "omni_worker.h"

int inngest_handlers_init(struct omni_worker *w, char *err, size_t errlen)
{
	enum ing_err e;

	if (w->inngest != NULL)
		return 0;
	e = ing_app_new(w->cfg, NULL, &w->inngest);
	if (e != ING_OK) {
		snprintf(err, errlen, "inngest: %s", ing_strerror(e));
		return -1;
	}
	e = functions_register_testing(w->inngest, w->cfg);
	if (e != ING_OK) {
		snprintf(err, errlen, "inngest: registering test functions: %s",
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
