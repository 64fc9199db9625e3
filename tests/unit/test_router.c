/*
 * test_router.c -- unit tests for app/http/router.c.
 *
 * A small route table defined here, with handlers that count their calls,
 * is dispatched with requests built by http_request_parse() from FastCGI
 * params, as the worker builds them.  The configuration is a zeroed
 * struct omni_config filled by hand.  Bearer tokens are made here with
 * OpenSSL's HMAC so the auth rule is checked against real HS256 JWTs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jwt_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "config.h"
#include "handlers.h"
#include "router.h"

/* ---- the test table ---- */

enum h_id { H_GET, H_POST, H_DELETE, H_RAW, H_ME, H_ME_POST, H_SILENT,
	H_DEBUG, H__MAX };

static int calls[H__MAX];
static int saw_json;          /* the JSON handler found req->json */
static char saw_subject[160]; /* req->auth_subject as /me's handler saw it */

static void
reply_ok(struct http_response *resp)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	http_response_json(resp, 200, o);
}

static void
h_get(struct http_request *req, struct http_response *resp)
{
	(void)req;
	calls[H_GET]++;
	reply_ok(resp);
}

static void
h_post(struct http_request *req, struct http_response *resp)
{
	calls[H_POST]++;
	saw_json = req->json != NULL &&
	    json_object_is_type(req->json, json_type_object);
	reply_ok(resp);
}

static void
h_delete(struct http_request *req, struct http_response *resp)
{
	(void)req;
	calls[H_DELETE]++;
	reply_ok(resp);
}

static void
h_raw(struct http_request *req, struct http_response *resp)
{
	calls[H_RAW]++;
	http_response_body(resp, 200, "text/plain", req->body ? req->body : "",
	    req->body_len);
}

static void
h_me(struct http_request *req, struct http_response *resp)
{
	snprintf(saw_subject, sizeof(saw_subject), "%s", req->auth_subject);
	calls[H_ME]++;
	reply_ok(resp);
}

static void
h_me_post(struct http_request *req, struct http_response *resp)
{
	(void)req;
	calls[H_ME_POST]++;
	reply_ok(resp);
}

static void
h_silent(struct http_request *req, struct http_response *resp)
{
	(void)req;
	(void)resp;
	calls[H_SILENT]++;
}

static void
h_debug(struct http_request *req, struct http_response *resp)
{
	(void)req;
	calls[H_DEBUG]++;
	reply_ok(resp);
}

static const struct route table[] = {
	{ "GET", "/items", h_get, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, 0 },
	{ "POST", "/items", h_post, ROUTE_BODY_JSON, ROUTE_PUBLIC, 0, 0 },
	{ "DELETE", "/items", h_delete, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, 0 },
	{ "POST", "/raw", h_raw, ROUTE_BODY_RAW, ROUTE_PUBLIC, 0, 0 },
	{ "GET", "/me", h_me, ROUTE_BODY_NONE, ROUTE_USER, 0, 0 },
	{ "POST", "/me", h_me_post, ROUTE_BODY_JSON, ROUTE_USER, 0, 0 },
	{ "GET", "/silent", h_silent, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, 0 },
	{ "GET", "/debug/x", h_debug, ROUTE_BODY_NONE, ROUTE_PUBLIC, 1, 0 },
};
#define NROUTES (sizeof(table) / sizeof(table[0]))

/* ---- configuration and request plumbing ---- */

static char origins_list[] = "https://app.example, http://localhost:3000";
static char origins_star[] = "*";
static char secret[] = "test-secret-0123456789-abcdefghij";

static struct omni_config cfg;

static int
setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_body = 1024;
	cfg.allowed_origins = origins_list;
	cfg.auth = CFG_AUTH_NONE;
	memset(calls, 0, sizeof(calls));
	saw_json = 0;
	snprintf(saw_subject, sizeof(saw_subject), "(handler not called)");
	return 0;
}

struct mem_reader {
	const char *data;
	size_t len;
	size_t pos;
};

static long
mem_read(void *ctx, char *buf, size_t len)
{
	struct mem_reader *r = ctx;
	size_t n = r->len - r->pos;

	if (n > len)
		n = len;
	if (n == 0)
		return 0;
	memcpy(buf, r->data + r->pos, n);
	r->pos += n;
	return (long)n;
}

/* One request: method, URI, extra params (NULL-terminated list of
 * "NAME=value"), body (may be NULL).  A CONTENT_LENGTH is added for a
 * body unless 'extra' already has one. */
struct exchange {
	struct http_request req;
	struct http_response resp;
	struct json_object *body;   /* parsed response body, if JSON */
};

static void
dispatch(struct exchange *x, const char *method, const char *uri,
    const char *const *extra, const char *body)
{
	char m[64], u[256], cl[64];
	char *env[32];
	size_t n = 0;
	int has_cl = 0;
	struct mem_reader r = { body, body ? strlen(body) : 0, 0 };

	snprintf(m, sizeof(m), "REQUEST_METHOD=%s", method);
	snprintf(u, sizeof(u), "REQUEST_URI=%s", uri);
	env[n++] = m;
	env[n++] = u;
	for (; extra != NULL && *extra != NULL && n < 28; extra++) {
		if (strncmp(*extra, "CONTENT_LENGTH=", 15) == 0)
			has_cl = 1;
		env[n++] = (char *)*extra;
	}
	if (body != NULL && !has_cl) {
		snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(body));
		env[n++] = cl;
	}
	env[n] = NULL;

	memset(x, 0, sizeof(*x));
	assert_int_equal(http_request_parse(&x->req, env, mem_read, &r,
	    cfg.max_body, &cfg), HTTP_PARSE_OK);
	http_response_init(&x->resp);
	router_dispatch(table, NROUTES, &x->req, &x->resp);
	assert_int_not_equal(x->resp.status, 0);
	if (x->resp.content_type != NULL &&
	    strcmp(x->resp.content_type, "application/json") == 0)
		x->body = json_tokener_parse(x->resp.body);
}

static void
exchange_free(struct exchange *x)
{
	json_object_put(x->body);
	http_response_free(&x->resp);
	http_request_free(&x->req);
}

/* error.code of the response, or NULL. */
static const char *
error_code(const struct exchange *x)
{
	struct json_object *e, *c;

	if (x->body == NULL || !json_object_object_get_ex(x->body, "error", &e)
	    || !json_object_object_get_ex(e, "code", &c))
		return NULL;
	return json_object_get_string(c);
}

/* error.message of the response, or NULL. */
static const char *
error_message(const struct exchange *x)
{
	struct json_object *e, *m;

	if (x->body == NULL || !json_object_object_get_ex(x->body, "error", &e)
	    || !json_object_object_get_ex(e, "message", &m))
		return NULL;
	return json_object_get_string(m);
}

/* error.details.<key> of the response, or NULL. */
static const char *
error_detail(const struct exchange *x, const char *key)
{
	struct json_object *e, *d, *v;

	if (x->body == NULL ||
	    !json_object_object_get_ex(x->body, "error", &e) ||
	    !json_object_object_get_ex(e, "details", &d) ||
	    !json_object_object_get_ex(d, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static int
total_calls(void)
{
	int n = 0;

	for (int i = 0; i < H__MAX; i++)
		n += calls[i];
	return n;
}

/* ---- HS256 tokens (jwt_token.h) ---- */

static void
valid_payload(char *out, size_t len)
{
	snprintf(out, len, "{\"sub\":\"user-1\",\"exp\":%lld}",
	    (long long)time(NULL) + 3600);
}

/* ---- not found / method not allowed ---- */

static void
test_unknown_path_is_404(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "GET", "/nope", NULL, NULL);
	assert_int_equal(x.resp.status, 404);
	assert_string_equal(error_code(&x), "NOT_FOUND");
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_unknown_path_options_is_404(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "OPTIONS", "/nope", NULL, NULL);
	assert_int_equal(x.resp.status, 404);
	assert_string_equal(error_code(&x), "NOT_FOUND");
	exchange_free(&x);
}

static void
test_path_match_is_exact(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "GET", "/items/", NULL, NULL);
	assert_int_equal(x.resp.status, 404);
	exchange_free(&x);
	dispatch(&x, "GET", "/ITEMS", NULL, NULL);
	assert_int_equal(x.resp.status, 404);
	exchange_free(&x);
	assert_int_equal(total_calls(), 0);
}

static void
test_wrong_method_is_405_with_allow(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "PUT", "/items", NULL, NULL);
	assert_int_equal(x.resp.status, 405);
	assert_string_equal(error_code(&x), "METHOD_NOT_ALLOWED");
	assert_string_equal(http_response_get_header(&x.resp, "Allow"),
	    "GET, POST, DELETE, HEAD, OPTIONS");
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_405_allow_has_no_head_without_get(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "GET", "/raw", NULL, NULL);
	assert_int_equal(x.resp.status, 405);
	assert_string_equal(http_response_get_header(&x.resp, "Allow"),
	    "POST, OPTIONS");
	exchange_free(&x);
}

static void
test_head_without_get_is_405(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "HEAD", "/raw", NULL, NULL);
	assert_int_equal(x.resp.status, 405);
	assert_int_equal(calls[H_RAW], 0);
	exchange_free(&x);
}

static void
test_head_served_by_get(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "HEAD", "/items", NULL, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(calls[H_GET], 1);
	assert_int_equal(total_calls(), 1);
	exchange_free(&x);
}

static void
test_router_allow_lists_methods(void **state)
{
	struct http_request req;
	char buf[128];

	(void)state;
	memset(&req, 0, sizeof(req));
	req.cfg = &cfg;
	assert_int_equal(router_allow(table, NROUTES, &req, "/me", buf,
	    sizeof(buf)), 2);
	assert_string_equal(buf, "GET, POST, HEAD, OPTIONS");
	assert_int_equal(router_allow(table, NROUTES, &req, "/none", buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void
test_router_allow_truncates_safely(void **state)
{
	struct http_request req;
	char buf[10];

	(void)state;
	memset(&req, 0, sizeof(req));
	req.cfg = &cfg;
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(router_allow(table, NROUTES, &req, "/items", buf,
	    sizeof(buf)), 3);
	assert_true(memchr(buf, '\0', sizeof(buf)) != NULL);
	assert_int_equal(strncmp(buf, "GET, POST", strlen(buf)), 0);
}

/* ---- OPTIONS and CORS ---- */

static void
test_preflight_allowed_origin_is_204_with_cors(void **state)
{
	const char *h[] = { "HTTP_ORIGIN=https://app.example",
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD=POST", NULL };
	const char *v;
	struct exchange x;

	(void)state;
	dispatch(&x, "OPTIONS", "/items", h, NULL);
	assert_int_equal(x.resp.status, 204);
	assert_int_equal(x.resp.body_len, 0);
	assert_string_equal(http_response_get_header(&x.resp, "Allow"),
	    "GET, POST, DELETE, HEAD, OPTIONS");
	assert_string_equal(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Origin"), "https://app.example");
	assert_string_equal(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Methods"),
	    "GET, POST, DELETE, HEAD, OPTIONS");
	v = http_response_get_header(&x.resp, "Access-Control-Allow-Headers");
	assert_non_null(v);
	assert_non_null(strstr(v, "Authorization"));
	assert_non_null(strstr(v, "Content-Type"));
	assert_non_null(http_response_get_header(&x.resp,
	    "Access-Control-Max-Age"));
	assert_string_equal(http_response_get_header(&x.resp, "Vary"),
	    "Origin");
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_preflight_disallowed_origin_is_403(void **state)
{
	const char *h[] = { "HTTP_ORIGIN=https://evil.example", NULL };
	struct exchange x;

	(void)state;
	dispatch(&x, "OPTIONS", "/items", h, NULL);
	assert_int_equal(x.resp.status, 403);
	assert_string_equal(error_code(&x), "FORBIDDEN");
	assert_null(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Origin"));
	assert_null(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Methods"));
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_options_without_origin_is_204_without_cors(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "OPTIONS", "/items", NULL, NULL);
	assert_int_equal(x.resp.status, 204);
	assert_string_equal(http_response_get_header(&x.resp, "Allow"),
	    "GET, POST, DELETE, HEAD, OPTIONS");
	assert_null(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Origin"));
	assert_null(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Methods"));
	exchange_free(&x);
}

static void
test_preflight_not_blocked_by_auth(void **state)
{
	const char *h[] = { "HTTP_ORIGIN=https://app.example", NULL };
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	dispatch(&x, "OPTIONS", "/me", h, NULL);
	assert_int_equal(x.resp.status, 204);
	exchange_free(&x);
}

static void
test_cors_allowed_origin_echoed(void **state)
{
	const char *h[] = { "HTTP_ORIGIN=http://localhost:3000", NULL };
	const char *v;
	struct exchange x;

	(void)state;
	dispatch(&x, "GET", "/items", h, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_string_equal(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Origin"), "http://localhost:3000");
	assert_string_equal(http_response_get_header(&x.resp, "Vary"),
	    "Origin");
	v = http_response_get_header(&x.resp,
	    "Access-Control-Expose-Headers");
	assert_non_null(v);
	assert_non_null(strstr(v, "X-Request-Id"));
	exchange_free(&x);
}

static void
test_cors_star_when_configured(void **state)
{
	const char *h[] = { "HTTP_ORIGIN=https://anything.example", NULL };
	struct exchange x;

	(void)state;
	cfg.allowed_origins = origins_star;
	dispatch(&x, "GET", "/items", h, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_string_equal(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Origin"), "*");
	exchange_free(&x);
}

static void
test_cors_disallowed_origin_gets_no_allow_origin(void **state)
{
	const char *h[] = { "HTTP_ORIGIN=https://app.example.evil", NULL };
	struct exchange x;

	(void)state;
	dispatch(&x, "GET", "/items", h, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(calls[H_GET], 1);
	assert_null(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Origin"));
	assert_null(http_response_get_header(&x.resp,
	    "Access-Control-Expose-Headers"));
	exchange_free(&x);
}

static void
test_cors_none_without_origin(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "GET", "/items", NULL, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_null(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Origin"));
	exchange_free(&x);
}

static void
test_cors_none_when_no_allowlist(void **state)
{
	const char *h[] = { "HTTP_ORIGIN=https://app.example", NULL };
	struct exchange x;

	(void)state;
	cfg.allowed_origins = NULL;
	dispatch(&x, "GET", "/items", h, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_null(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Origin"));
	exchange_free(&x);
}

static void
test_cors_headers_on_error_responses(void **state)
{
	const char *h[] = { "HTTP_ORIGIN=https://app.example", NULL };
	struct exchange x;

	(void)state;
	dispatch(&x, "GET", "/nope", h, NULL);
	assert_int_equal(x.resp.status, 404);
	assert_string_equal(http_response_get_header(&x.resp,
	    "Access-Control-Allow-Origin"), "https://app.example");
	exchange_free(&x);
}

/* ---- body rules ---- */

static void
test_too_large_is_413_before_routing(void **state)
{
	const char *h[] = { "CONTENT_TYPE=text/plain", NULL };
	struct exchange x;

	(void)state;
	cfg.max_body = 4;
	dispatch(&x, "POST", "/nope", h, "0123456789");
	assert_int_equal(x.resp.status, 413);
	assert_string_equal(error_code(&x), "PAYLOAD_TOO_LARGE");
	exchange_free(&x);
}

static void
test_too_large_is_413_on_json_route(void **state)
{
	const char *h[] = { "CONTENT_TYPE=text/plain", NULL };
	struct exchange x;

	(void)state;
	cfg.max_body = 4;
	dispatch(&x, "POST", "/items", h, "{\"a\":1}");
	assert_int_equal(x.resp.status, 413);
	assert_string_equal(error_code(&x), "PAYLOAD_TOO_LARGE");
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_too_large_is_413_before_auth(void **state)
{
	struct exchange x;

	(void)state;
	cfg.max_body = 4;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	dispatch(&x, "POST", "/me", NULL, "{\"a\":1}");
	assert_int_equal(x.resp.status, 413);
	exchange_free(&x);
}

static void
test_json_route_missing_content_type_is_415(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "POST", "/items", NULL, "{\"a\":1}");
	assert_int_equal(x.resp.status, 415);
	assert_string_equal(error_code(&x), "UNSUPPORTED_MEDIA_TYPE");
	assert_string_equal(error_detail(&x, "field"), "Content-Type");
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_json_route_other_content_type_is_415(void **state)
{
	static const char *types[] = { "CONTENT_TYPE=text/plain",
	    "CONTENT_TYPE=application/x-www-form-urlencoded",
	    "CONTENT_TYPE=application/jsonp" };
	struct exchange x;

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const char *h[] = { types[i], NULL };

		dispatch(&x, "POST", "/items", h, "{\"a\":1}");
		assert_int_equal(x.resp.status, 415);
		assert_string_equal(error_code(&x), "UNSUPPORTED_MEDIA_TYPE");
		exchange_free(&x);
	}
	assert_int_equal(total_calls(), 0);
}

static void
test_json_route_charset_accepted(void **state)
{
	const char *h[] = { "CONTENT_TYPE=application/json; charset=utf-8",
	    NULL };
	struct exchange x;

	(void)state;
	dispatch(&x, "POST", "/items", h, "{\"a\":1}");
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(calls[H_POST], 1);
	assert_true(saw_json);
	exchange_free(&x);
}

static void
test_json_route_bad_json_is_400_body(void **state)
{
	const char *h[] = { "CONTENT_TYPE=application/json", NULL };
	struct exchange x;

	(void)state;
	dispatch(&x, "POST", "/items", h, "{\"a\":");
	assert_int_equal(x.resp.status, 400);
	assert_string_equal(error_code(&x), "VALIDATION_ERROR");
	assert_string_equal(error_detail(&x, "field"), "body");
	assert_non_null(error_detail(&x, "problem"));
	assert_true(strlen(error_detail(&x, "problem")) > 0);
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_json_route_non_object_is_400_body(void **state)
{
	const char *h[] = { "CONTENT_TYPE=application/json", NULL };
	struct exchange x;

	(void)state;
	dispatch(&x, "POST", "/items", h, "[1,2]");
	assert_int_equal(x.resp.status, 400);
	assert_string_equal(error_code(&x), "VALIDATION_ERROR");
	assert_string_equal(error_detail(&x, "field"), "body");
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_json_route_empty_body_is_400_body(void **state)
{
	const char *h[] = { "CONTENT_TYPE=application/json", NULL };
	struct exchange x;

	(void)state;
	dispatch(&x, "POST", "/items", h, NULL);
	assert_int_equal(x.resp.status, 400);
	assert_string_equal(error_detail(&x, "field"), "body");
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_short_body_is_400_without_handler(void **state)
{
	const char *h[] = { "CONTENT_TYPE=application/json",
	    "CONTENT_LENGTH=50", NULL };
	struct exchange x;

	(void)state;
	dispatch(&x, "POST", "/items", h, "{}");
	assert_int_equal(x.resp.status, 400);
	assert_string_equal(error_code(&x), "VALIDATION_ERROR");
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_raw_route_skips_content_type_check(void **state)
{
	const char *h[] = { "CONTENT_TYPE=text/plain", NULL };
	struct exchange x;

	(void)state;
	dispatch(&x, "POST", "/raw", h, "not json");
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(calls[H_RAW], 1);
	assert_string_equal(x.resp.body, "not json");
	assert_null(x.req.json);
	exchange_free(&x);
}

/* ---- debug routes ---- */

static void
test_debug_route_hidden_by_default(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "GET", "/debug/x", NULL, NULL);
	assert_int_equal(x.resp.status, 404);
	assert_string_equal(error_code(&x), "NOT_FOUND");
	exchange_free(&x);
	dispatch(&x, "OPTIONS", "/debug/x", NULL, NULL);
	assert_int_equal(x.resp.status, 404);
	exchange_free(&x);
	assert_int_equal(calls[H_DEBUG], 0);
}

static void
test_debug_route_served_when_enabled(void **state)
{
	struct exchange x;

	(void)state;
	cfg.debug_routes = 1;
	dispatch(&x, "GET", "/debug/x", NULL, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(calls[H_DEBUG], 1);
	exchange_free(&x);
}

/* ---- auth ---- */

static void
test_auth_missing_bearer_is_401(void **state)
{
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	dispatch(&x, "GET", "/me", NULL, NULL);
	assert_int_equal(x.resp.status, 401);
	assert_string_equal(error_code(&x), "UNAUTHORIZED");
	assert_string_equal(http_response_get_header(&x.resp,
	    "WWW-Authenticate"), "Bearer");
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_auth_valid_token_calls_handler(void **state)
{
	char payload[128], auth[1024];
	const char *h[] = { auth, NULL };
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	valid_payload(payload, sizeof(payload));
	jwt_bearer_param(auth, sizeof(auth), payload, secret);
	dispatch(&x, "GET", "/me", h, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(calls[H_ME], 1);
	exchange_free(&x);
}

static void
test_auth_wrong_key_is_401(void **state)
{
	char payload[128], auth[1024];
	const char *h[] = { auth, NULL };
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	valid_payload(payload, sizeof(payload));
	jwt_bearer_param(auth, sizeof(auth), payload, "another-secret");
	dispatch(&x, "GET", "/me", h, NULL);
	assert_int_equal(x.resp.status, 401);
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_auth_expired_token_is_401(void **state)
{
	char payload[128], auth[1024];
	const char *h[] = { auth, NULL };
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	snprintf(payload, sizeof(payload), "{\"sub\":\"u\",\"exp\":%lld}",
	    (long long)time(NULL) - 3600);
	jwt_bearer_param(auth, sizeof(auth), payload, secret);
	dispatch(&x, "GET", "/me", h, NULL);
	assert_int_equal(x.resp.status, 401);
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_auth_checked_before_content_type(void **state)
{
	const char *h[] = { "CONTENT_TYPE=text/plain", NULL };
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	dispatch(&x, "POST", "/me", h, "x");
	assert_int_equal(x.resp.status, 401);
	exchange_free(&x);
}

static void
test_auth_valid_token_then_json_rules(void **state)
{
	char payload[128], auth[1024];
	const char *h[] = { auth, "CONTENT_TYPE=application/json", NULL };
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	valid_payload(payload, sizeof(payload));
	jwt_bearer_param(auth, sizeof(auth), payload, secret);
	dispatch(&x, "POST", "/me", h, "{\"q\":1}");
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(calls[H_ME_POST], 1);
	exchange_free(&x);
}

static void
test_auth_off_serves_user_route(void **state)
{
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_NONE;
	dispatch(&x, "GET", "/me", NULL, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(calls[H_ME], 1);
	exchange_free(&x);
}

static void
test_auth_not_required_on_public_route(void **state)
{
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	dispatch(&x, "GET", "/items", NULL, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(calls[H_GET], 1);
	exchange_free(&x);
}

static void
test_auth_subject_reaches_handler(void **state)
{
	char payload[128], auth[1024];
	const char *h[] = { auth, NULL };
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	valid_payload(payload, sizeof(payload));
	jwt_bearer_param(auth, sizeof(auth), payload, secret);
	dispatch(&x, "GET", "/me", h, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_string_equal(saw_subject, "user-1");
	assert_string_equal(x.req.auth_subject, "user-1");
	exchange_free(&x);
}

static void
test_auth_token_without_sub_is_401(void **state)
{
	char payload[128], auth[1024];
	const char *h[] = { auth, NULL };
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	snprintf(payload, sizeof(payload), "{\"exp\":%lld}",
	    (long long)time(NULL) + 3600);
	jwt_bearer_param(auth, sizeof(auth), payload, secret);
	dispatch(&x, "GET", "/me", h, NULL);
	assert_int_equal(x.resp.status, 401);
	assert_string_equal(error_code(&x), "UNAUTHORIZED");
	assert_string_equal(error_message(&x), "token has no subject");
	assert_string_equal(http_response_get_header(&x.resp,
	    "WWW-Authenticate"), "Bearer");
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_auth_token_with_empty_sub_is_401(void **state)
{
	char payload[128], auth[1024];
	const char *h[] = { auth, "CONTENT_TYPE=application/json", NULL };
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	/* An empty subject names nobody: the verifier refuses the token. */
	snprintf(payload, sizeof(payload), "{\"sub\":\"\",\"exp\":%lld}",
	    (long long)time(NULL) + 3600);
	jwt_bearer_param(auth, sizeof(auth), payload, secret);
	dispatch(&x, "POST", "/me", h, "{}");
	assert_int_equal(x.resp.status, 401);
	assert_string_equal(error_message(&x), "malformed bearer token");
	assert_int_equal(total_calls(), 0);
	exchange_free(&x);
}

static void
test_auth_token_without_sub_ok_on_public_route(void **state)
{
	char payload[128], auth[1024];
	const char *h[] = { auth, NULL };
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = secret;
	snprintf(payload, sizeof(payload), "{\"exp\":%lld}",
	    (long long)time(NULL) + 3600);
	jwt_bearer_param(auth, sizeof(auth), payload, secret);
	dispatch(&x, "GET", "/items", h, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(calls[H_GET], 1);
	exchange_free(&x);
}

static void
test_auth_off_leaves_subject_empty(void **state)
{
	char payload[128], auth[1024];
	const char *h[] = { auth, NULL };
	struct exchange x;

	(void)state;
	cfg.auth = CFG_AUTH_NONE;
	cfg.jwt_secret = secret;
	/* A valid token is not read when auth is off. */
	valid_payload(payload, sizeof(payload));
	jwt_bearer_param(auth, sizeof(auth), payload, secret);
	dispatch(&x, "GET", "/me", h, NULL);
	assert_int_equal(x.resp.status, 200);
	assert_string_equal(saw_subject, "");
	exchange_free(&x);
}

/* ---- handler contract ---- */

static void
test_handler_that_sets_nothing_is_500(void **state)
{
	struct exchange x;

	(void)state;
	dispatch(&x, "GET", "/silent", NULL, NULL);
	assert_int_equal(calls[H_SILENT], 1);
	assert_int_equal(x.resp.status, 500);
	assert_string_equal(error_code(&x), "SERVER_ERROR");
	exchange_free(&x);
}

static void
test_omni_table_root_is_public_get(void **state)
{
	int found = 0;

	(void)state;
	for (size_t i = 0; i < omni_routes_count; i++)
		if (strcmp(omni_routes[i].path, "/") == 0 &&
		    strcmp(omni_routes[i].method, "GET") == 0) {
			found = 1;
			assert_int_equal(omni_routes[i].auth, ROUTE_PUBLIC);
			assert_int_equal(omni_routes[i].debug_only, 0);
		}
	assert_true(found);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_unknown_path_is_404),
		T(test_unknown_path_options_is_404),
		T(test_path_match_is_exact),
		T(test_wrong_method_is_405_with_allow),
		T(test_405_allow_has_no_head_without_get),
		T(test_head_without_get_is_405),
		T(test_head_served_by_get),
		T(test_router_allow_lists_methods),
		T(test_router_allow_truncates_safely),
		T(test_preflight_allowed_origin_is_204_with_cors),
		T(test_preflight_disallowed_origin_is_403),
		T(test_options_without_origin_is_204_without_cors),
		T(test_preflight_not_blocked_by_auth),
		T(test_cors_allowed_origin_echoed),
		T(test_cors_star_when_configured),
		T(test_cors_disallowed_origin_gets_no_allow_origin),
		T(test_cors_none_without_origin),
		T(test_cors_none_when_no_allowlist),
		T(test_cors_headers_on_error_responses),
		T(test_too_large_is_413_before_routing),
		T(test_too_large_is_413_on_json_route),
		T(test_too_large_is_413_before_auth),
		T(test_json_route_missing_content_type_is_415),
		T(test_json_route_other_content_type_is_415),
		T(test_json_route_charset_accepted),
		T(test_json_route_bad_json_is_400_body),
		T(test_json_route_non_object_is_400_body),
		T(test_json_route_empty_body_is_400_body),
		T(test_short_body_is_400_without_handler),
		T(test_raw_route_skips_content_type_check),
		T(test_debug_route_hidden_by_default),
		T(test_debug_route_served_when_enabled),
		T(test_auth_missing_bearer_is_401),
		T(test_auth_valid_token_calls_handler),
		T(test_auth_wrong_key_is_401),
		T(test_auth_expired_token_is_401),
		T(test_auth_checked_before_content_type),
		T(test_auth_valid_token_then_json_rules),
		T(test_auth_off_serves_user_route),
		T(test_auth_not_required_on_public_route),
		T(test_auth_subject_reaches_handler),
		T(test_auth_token_without_sub_is_401),
		T(test_auth_token_with_empty_sub_is_401),
		T(test_auth_token_without_sub_ok_on_public_route),
		T(test_auth_off_leaves_subject_empty),
		T(test_handler_that_sets_nothing_is_500),
		T(test_omni_table_root_is_public_get),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
