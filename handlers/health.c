/*
 * health.c -- liveness (GET /) and readiness (GET /ready).
 *
 * Liveness touches nothing: it says the worker answers.  Readiness runs
 * each check and answers 503 when one fails, with every result in the body
 * so an operator sees which.
 */
#include <string.h>

#include "config.h"
#include "handlers.h"
#include "omni_worker.h"

void handle_root(struct http_request *req, struct http_response *resp)
{
	struct json_object *o = json_object_new_object();

	(void)req;
	if (o != NULL)
		json_object_object_add(o, "status",
		    json_object_new_string("ok"));
	http_response_json(resp, 200, o);
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

void handle_ready(struct http_request *req, struct http_response *resp)
{
	struct json_object *o = json_object_new_object();
	struct json_object *checks = json_object_new_object();
	char detail[160];
	int ok = 1, sandbox_ok;

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
	/* Cached by the sandbox module for a few seconds: /ready is polled
	 * by load balancers and must not hammer the provider. */
	sandbox_ok = sandbox_ready_check(omni_worker_of(req), detail,
	    sizeof(detail));
	ok &= add_check(checks, "sandbox", sandbox_ok, detail);
	json_object_object_add(o, "status",
	    json_object_new_string(ok ? "ready" : "not_ready"));
	json_object_object_add(o, "checks", checks);
	http_response_json(resp, ok ? 200 : 503, o);
}
