/*
 * debug.c -- endpoints for tests and operators, served only with
 * OMNI_DEBUG_ROUTES=1, which the configuration refuses in production.
 *
 * GET /debug/sleep?ms=N holds a worker thread N ms (at most 60 s): the
 * integration tests use it to keep a request in flight across a drain, a
 * reload or a flood.  POST /debug/echo answers with the parsed JSON body,
 * to check the JSON rules of the router end to end.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "handlers.h"
#include "timeutil.h"

#define DEBUG_SLEEP_MAX_MS 60000

void handle_debug_sleep(struct http_request *req, struct http_response *resp)
{
	const char *v = http_param(req, "ms");
	struct json_object *o;
	char *end;
	long ms;

	if (v == NULL) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "query parameter ms is required", "ms", "is required");
		return;
	}
	errno = 0;
	ms = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || ms < 0 ||
	    ms > DEBUG_SLEEP_MAX_MS) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "ms must be an integer from 0 to 60000", "ms",
		    "out of range");
		return;
	}
	time_sleep_ms(ms);
	o = json_object_new_object();
	if (o != NULL)
		json_object_object_add(o, "slept_ms",
		    json_object_new_int64(ms));
	http_response_json(resp, 200, o);
}

void handle_debug_echo(struct http_request *req, struct http_response *resp)
{
	http_response_json(resp, 200, json_object_get(req->json));
}
