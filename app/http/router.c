/*
 * router.c -- dispatch over a route table, applying the rules every route
 * shares (see router.h for their order).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "json_util.h"
#include "rate_gate.h"
#include "router.h"

static int route_enabled(const struct route *r, const struct http_request *req)
{
	return !r->debug_only || (req->cfg != NULL && req->cfg->debug_routes);
}

/* A HEAD request is answered by the GET route. */
static int method_matches(const struct route *r, const char *method)
{
	return strcmp(r->method, method) == 0 ||
	    (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0);
}

size_t router_allow(const struct route *table, size_t n,
    const struct http_request *req, const char *path, char *buf, size_t len)
{
	size_t found = 0, used = 0;
	int has_get = 0;

	if (len > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct route *r = &table[i];

		if (strcmp(r->path, path) != 0 || !route_enabled(r, req))
			continue;
		if (strcmp(r->method, "GET") == 0)
			has_get = 1;
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used,
			    "%s, ", r->method);
		found++;
	}
	if (found > 0 && used < len)
		snprintf(buf + used, len - used, "%sOPTIONS",
		    has_get ? "HEAD, " : "");
	return found;
}

static void add_cors(const struct http_request *req, struct http_response *resp)
{
	const char *origin = http_header(req, "origin");
	const char *allow;

	if (origin == NULL || req->cfg == NULL)
		return;
	allow = cfg_origin_allowed(req->cfg, origin);
	http_response_header(resp, "Vary", "Origin");
	if (allow == NULL)
		return;
	http_response_header(resp, "Access-Control-Allow-Origin", allow);
	http_response_header(resp, "Access-Control-Expose-Headers",
	    "X-Request-Id, Retry-After");
}

static void preflight(const struct http_request *req,
    struct http_response *resp, const char *allow)
{
	const char *origin = http_header(req, "origin");

	if (origin != NULL && (req->cfg == NULL ||
	    cfg_origin_allowed(req->cfg, origin) == NULL)) {
		http_response_error(resp, API_FORBIDDEN,
		    "origin not allowed", NULL);
		return;
	}
	http_response_body(resp, 204, "text/plain", "", 0);
	http_response_header(resp, "Allow", allow);
	if (origin == NULL)
		return;
	http_response_header(resp, "Access-Control-Allow-Methods", allow);
	http_response_header(resp, "Access-Control-Allow-Headers",
	    "Authorization, Content-Type, X-Request-Id");
	http_response_header(resp, "Access-Control-Max-Age", "600");
}

static void unauthorized(struct http_response *resp, const char *message)
{
	http_response_error(resp, API_UNAUTHORIZED, message, NULL);
	http_response_header(resp, "WWW-Authenticate", "Bearer");
}

/*
 * 0 if the request may go on; otherwise the response is filled.  The
 * token's subject is kept in req->auth_subject: handlers bind the user's
 * data to it, so a token without one cannot reach a user route.
 */
static int check_auth(const struct route *r, struct http_request *req,
    struct http_response *resp)
{
	enum auth_err err;

	req->auth_subject[0] = '\0';
	if (r->auth == ROUTE_PUBLIC || req->cfg == NULL ||
	    req->cfg->auth != CFG_AUTH_JWT)
		return 0;
	err = auth_verify_bearer(req->cfg->jwt_secret,
	    http_header(req, "authorization"), time(NULL), req->auth_subject,
	    sizeof(req->auth_subject));
	if (err != AUTH_OK) {
		unauthorized(resp, auth_strerror(err));
		return -1;
	}
	if (req->auth_subject[0] == '\0') {
		unauthorized(resp, "token has no subject");
		return -1;
	}
	return 0;
}

static int check_json_body(struct http_request *req,
    struct http_response *resp)
{
	char why[160];
	enum json_err err;

	if (!http_is_json_type(req->content_type)) {
		http_response_field_error(resp, API_UNSUPPORTED_MEDIA_TYPE,
		    "this endpoint accepts application/json only",
		    "Content-Type", req->content_type ? "not application/json" :
		    "missing");
		return -1;
	}
	err = json_parse_object(req->body, req->body_len, &req->json, why,
	    sizeof(why));
	if (err == JSON_ENOMEM) {
		http_response_error(resp, API_SERVER_ERROR, "out of memory",
		    NULL);
		return -1;
	}
	if (err != JSON_OK) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "the request body is not a valid JSON object", "body", why);
		return -1;
	}
	return 0;
}

/* The first enabled row with the request's path, or -1. */
static int path_row(const struct route *table, size_t n,
    const struct http_request *req)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].path, req->path) == 0 &&
		    route_enabled(&table[i], req))
			return (int)i;
	return -1;
}

static void route(const struct route *table, size_t n, int row,
    struct http_request *req, struct http_response *resp)
{
	const struct route *match = NULL;
	struct rate_pass pass;
	char allow[128];

	if (req->body_status == HTTP_BODY_TOO_LARGE) {
		http_response_error(resp, API_PAYLOAD_TOO_LARGE,
		    "the request body is larger than the server accepts", NULL);
		return;
	}
	/* The Allow list is built only for the answers that carry it. */
	if (row < 0) {
		http_response_error(resp, API_NOT_FOUND, "no such endpoint",
		    NULL);
		return;
	}
	if (strcmp(req->method, "OPTIONS") == 0) {
		router_allow(table, n, req, req->path, allow, sizeof(allow));
		preflight(req, resp, allow);
		return;
	}
	for (size_t i = (size_t)row; i < n && match == NULL; i++)
		if (strcmp(table[i].path, req->path) == 0 &&
		    route_enabled(&table[i], req) &&
		    method_matches(&table[i], req->method))
			match = &table[i];
	if (match == NULL) {
		router_allow(table, n, req, req->path, allow, sizeof(allow));
		http_response_error(resp, API_METHOD_NOT_ALLOWED,
		    "method not allowed on this endpoint", NULL);
		http_response_header(resp, "Allow", allow);
		return;
	}
	if (rate_gate_client(req, match->limit, resp, &pass) != 0)
		return;
	if (req->body_status == HTTP_BODY_READ_ERROR) {
		http_response_error(resp, API_VALIDATION_ERROR,
		    "the request body ended early", NULL);
		return;
	}
	if (check_auth(match, req, resp) != 0 ||
	    rate_gate_user(req, match->limit, resp, &pass) != 0)
		return;
	if (match->body == ROUTE_BODY_JSON && check_json_body(req, resp) != 0)
		return;
	match->handler(req, resp);
	if (resp->status == 0 && !resp->oom)
		http_response_error(resp, API_SERVER_ERROR,
		    "the handler produced no response", NULL);
}

int router_dispatch(const struct route *table, size_t n,
    struct http_request *req, struct http_response *resp)
{
	int row = req->path != NULL ? path_row(table, n, req) : -1;

	route(table, n, row, req, resp);
	add_cors(req, resp);
	return row;
}
