/*
 * test_response.c -- unit tests for app/http/response.c and
 * app/http/api_error.c: building responses, headers, and the contract's
 * error model (status and wire code of every api_err, body shape).
 *
 * The expected table below is copied from the contract
 * (../shared/ARCHITECTURE.md, "Error codes used"), not from api_error.c,
 * so a drift in either shows up here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
#include "http.h"

static const struct {
	enum api_err err;
	int status;
	const char *code;
} contract[] = {
	{ API_VALIDATION_ERROR, 400, "VALIDATION_ERROR" },
	{ API_UNAUTHORIZED, 401, "UNAUTHORIZED" },
	{ API_FORBIDDEN, 403, "FORBIDDEN" },
	{ API_NOT_FOUND, 404, "NOT_FOUND" },
	{ API_METHOD_NOT_ALLOWED, 405, "METHOD_NOT_ALLOWED" },
	{ API_SANDBOX_NOT_FOUND, 404, "SANDBOX_NOT_FOUND" },
	{ API_SANDBOX_NOT_READY, 409, "SANDBOX_NOT_READY" },
	{ API_PAYLOAD_TOO_LARGE, 413, "PAYLOAD_TOO_LARGE" },
	{ API_UNSUPPORTED_MEDIA_TYPE, 415, "UNSUPPORTED_MEDIA_TYPE" },
	{ API_RATE_LIMITED, 429, "RATE_LIMITED" },
	{ API_SANDBOX_ERROR, 500, "SANDBOX_ERROR" },
	{ API_SERVER_ERROR, 500, "SERVER_ERROR" },
	{ API_UPSTREAM_ERROR, 502, "UPSTREAM_ERROR" },
	{ API_SERVICE_UNAVAILABLE, 503, "SERVICE_UNAVAILABLE" },
	{ API_UPSTREAM_TIMEOUT, 504, "UPSTREAM_TIMEOUT" },
};
#define NCONTRACT (sizeof(contract) / sizeof(contract[0]))

/* Parse the response body as JSON; checks it is application/json. */
static struct json_object *
parse_body(const struct http_response *resp)
{
	struct json_object *o;

	assert_non_null(resp->content_type);
	assert_string_equal(resp->content_type, "application/json");
	assert_non_null(resp->body);
	assert_int_equal(strlen(resp->body), resp->body_len);
	o = json_tokener_parse(resp->body);
	assert_non_null(o);
	return o;
}

static struct json_object *
member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

/* ---- api_error table ---- */

static void
test_api_err_status_matches_contract(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCONTRACT; i++)
		assert_int_equal(api_err_status(contract[i].err),
		    contract[i].status);
}

static void
test_api_err_code_matches_contract(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCONTRACT; i++)
		assert_string_equal(api_err_code(contract[i].err),
		    contract[i].code);
}

static void
test_api_err_every_value_has_a_code(void **state)
{
	(void)state;
	for (int e = 0; e < API__MAX; e++) {
		const char *code = api_err_code((enum api_err)e);
		int status = api_err_status((enum api_err)e);

		assert_non_null(code);
		assert_true(strlen(code) > 0);
		assert_true(status >= 200 && status <= 599);
	}
	assert_int_equal(api_err_status(API_OK), 200);
	assert_int_equal(api_err_status(API_CONFLICT), 409);
	assert_string_equal(api_err_code(API_CONFLICT), "CONFLICT");
}

static void
test_api_err_out_of_range_is_server_error(void **state)
{
	static const int bad[] = { API__MAX, API__MAX + 1, 1000, -1 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(api_err_status((enum api_err)bad[i]), 500);
		assert_string_equal(api_err_code((enum api_err)bad[i]),
		    "SERVER_ERROR");
	}
}

static void
test_status_text(void **state)
{
	(void)state;
	assert_string_equal(http_status_text(200), "OK");
	assert_string_equal(http_status_text(204), "No Content");
	assert_string_equal(http_status_text(404), "Not Found");
	assert_string_equal(http_status_text(413), "Payload Too Large");
	assert_string_equal(http_status_text(504), "Gateway Timeout");
	assert_string_equal(http_status_text(799), "Unknown");
	assert_string_equal(http_status_text(-1), "Unknown");
	for (size_t i = 0; i < NCONTRACT; i++)
		assert_string_not_equal(http_status_text(contract[i].status),
		    "Unknown");
}

/* ---- error responses ---- */

static void
test_error_response_status_and_code_for_every_err(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCONTRACT; i++) {
		struct http_response resp;
		struct json_object *o;

		http_response_init(&resp);
		assert_int_equal(http_response_error(&resp, contract[i].err,
		    "something failed", NULL), 0);
		assert_int_equal(resp.status, contract[i].status);
		o = parse_body(&resp);
		assert_string_equal(json_object_get_string(member(member(o,
		    "error"), "code")), contract[i].code);
		json_object_put(o);
		http_response_free(&resp);
	}
}

static void
test_error_body_shape(void **state)
{
	struct http_response resp;
	struct json_object *o, *e, *d;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_error(&resp, API_NOT_FOUND,
	    "no such sandbox", NULL), 0);
	o = parse_body(&resp);
	assert_true(json_object_is_type(o, json_type_object));
	assert_int_equal(json_object_object_length(o), 1);
	e = member(o, "error");
	assert_true(json_object_is_type(e, json_type_object));
	assert_int_equal(json_object_object_length(e), 3);
	assert_string_equal(json_object_get_string(member(e, "code")),
	    "NOT_FOUND");
	assert_string_equal(json_object_get_string(member(e, "message")),
	    "no such sandbox");
	d = member(e, "details");
	assert_true(json_object_is_type(d, json_type_object));
	assert_int_equal(json_object_object_length(d), 0);
	json_object_put(o);
	http_response_free(&resp);
}

static void
test_error_details_taken(void **state)
{
	struct http_response resp;
	struct json_object *o, *d, *details = json_object_new_object();

	(void)state;
	json_object_object_add(details, "retryAfter", json_object_new_int(7));
	http_response_init(&resp);
	assert_int_equal(http_response_error(&resp, API_RATE_LIMITED,
	    "slow down", details), 0);
	assert_int_equal(resp.status, 429);
	o = parse_body(&resp);
	d = member(member(o, "error"), "details");
	assert_int_equal(json_object_get_int(member(d, "retryAfter")), 7);
	json_object_put(o);
	http_response_free(&resp);
}

static void
test_field_error_details(void **state)
{
	struct http_response resp;
	struct json_object *o, *d;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_field_error(&resp,
	    API_VALIDATION_ERROR, "bad input", "userId", "is required"), 0);
	assert_int_equal(resp.status, 400);
	o = parse_body(&resp);
	d = member(member(o, "error"), "details");
	assert_int_equal(json_object_object_length(d), 2);
	assert_string_equal(json_object_get_string(member(d, "field")),
	    "userId");
	assert_string_equal(json_object_get_string(member(d, "problem")),
	    "is required");
	json_object_put(o);
	http_response_free(&resp);
}

static void
test_error_message_is_json_escaped(void **state)
{
	struct http_response resp;
	struct json_object *o;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_error(&resp, API_SERVER_ERROR,
	    "quote \" backslash \\ newline \n", NULL), 0);
	o = parse_body(&resp);
	assert_string_equal(json_object_get_string(member(member(o, "error"),
	    "message")), "quote \" backslash \\ newline \n");
	json_object_put(o);
	http_response_free(&resp);
}

static void
test_error_out_of_range_is_500_server_error(void **state)
{
	struct http_response resp;
	struct json_object *o;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_error(&resp, (enum api_err)999,
	    "odd", NULL), 0);
	assert_int_equal(resp.status, 500);
	o = parse_body(&resp);
	assert_string_equal(json_object_get_string(member(member(o, "error"),
	    "code")), "SERVER_ERROR");
	json_object_put(o);
	http_response_free(&resp);
}

/* ---- headers ---- */

static void
test_header_crlf_in_value_refused(void **state)
{
	static const char *bad[] = { "a\r\nX-Evil: 1", "a\nX-Evil: 1",
	    "a\rb", "\n" };
	struct http_response resp;

	(void)state;
	http_response_init(&resp);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(http_response_header(&resp, "X-Id", bad[i]),
		    -1);
		assert_int_equal(http_response_set_header(&resp, "X-Id",
		    bad[i]), -1);
	}
	assert_int_equal(resp.nheaders, 0);
	assert_null(http_response_get_header(&resp, "X-Id"));
	assert_null(http_response_get_header(&resp, "X-Evil"));
	assert_int_equal(resp.oom, 0);
	http_response_free(&resp);
}

static void
test_header_crlf_in_name_refused(void **state)
{
	struct http_response resp;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_header(&resp, "X-A\r\nX-Evil", "1"),
	    -1);
	assert_int_equal(http_response_set_header(&resp, "X-A\nB", "1"), -1);
	assert_int_equal(resp.nheaders, 0);
	http_response_free(&resp);
}

static void
test_set_header_crlf_keeps_old_value(void **state)
{
	struct http_response resp;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_header(&resp, "Retry-After", "5"), 0);
	assert_int_equal(http_response_set_header(&resp, "Retry-After",
	    "5\r\nSet-Cookie: x"), -1);
	assert_int_equal(resp.nheaders, 1);
	assert_string_equal(http_response_get_header(&resp, "Retry-After"),
	    "5");
	http_response_free(&resp);
}

static void
test_header_add_keeps_order_and_duplicates(void **state)
{
	struct http_response resp;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_header(&resp, "Vary", "Origin"), 0);
	assert_int_equal(http_response_header(&resp, "X-B", "2"), 0);
	assert_int_equal(http_response_header(&resp, "Vary", "Accept"), 0);
	assert_int_equal(resp.nheaders, 3);
	assert_string_equal(resp.headers[0].name, "Vary");
	assert_string_equal(resp.headers[0].value, "Origin");
	assert_string_equal(resp.headers[1].name, "X-B");
	assert_string_equal(resp.headers[2].value, "Accept");
	assert_string_equal(http_response_get_header(&resp, "vary"),
	    "Origin");
	http_response_free(&resp);
}

static void
test_set_header_replaces(void **state)
{
	struct http_response resp;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_header(&resp, "X-A", "1"), 0);
	assert_int_equal(http_response_header(&resp, "X-B", "2"), 0);
	assert_int_equal(http_response_set_header(&resp, "x-a", "3"), 0);
	assert_int_equal(resp.nheaders, 2);
	assert_string_equal(resp.headers[0].name, "X-A");
	assert_string_equal(resp.headers[0].value, "3");
	assert_string_equal(http_response_get_header(&resp, "X-A"), "3");
	http_response_free(&resp);
}

static void
test_set_header_adds_when_absent(void **state)
{
	struct http_response resp;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_set_header(&resp, "Allow", "GET"), 0);
	assert_int_equal(resp.nheaders, 1);
	assert_string_equal(http_response_get_header(&resp, "allow"), "GET");
	http_response_free(&resp);
}

static void
test_header_values_are_copied(void **state)
{
	struct http_response resp;
	char name[] = "X-Copy", value[] = "before";

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_header(&resp, name, value), 0);
	strcpy(value, "after!");
	name[0] = 'Y';
	assert_string_equal(http_response_get_header(&resp, "X-Copy"),
	    "before");
	http_response_free(&resp);
}

static void
test_many_headers_grow(void **state)
{
	struct http_response resp;
	char name[32];

	(void)state;
	http_response_init(&resp);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "X-H%d", i);
		assert_int_equal(http_response_header(&resp, name, name), 0);
	}
	assert_int_equal(resp.nheaders, 100);
	assert_string_equal(http_response_get_header(&resp, "X-H99"),
	    "X-H99");
	http_response_free(&resp);
}

/* ---- bodies ---- */

static void
test_body_copied_with_nuls(void **state)
{
	struct http_response resp;
	char src[] = { 'a', '\0', 'b' };

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_body(&resp, 201, "text/plain", src, 3),
	    0);
	src[0] = 'z';
	assert_int_equal(resp.status, 201);
	assert_string_equal(resp.content_type, "text/plain");
	assert_int_equal(resp.body_len, 3);
	assert_memory_equal(resp.body, "a\0b", 3);
	assert_int_equal(resp.body[3], '\0');
	http_response_free(&resp);
}

static void
test_body_replaces_previous(void **state)
{
	struct http_response resp;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_body(&resp, 200, "text/plain", "first",
	    5), 0);
	assert_int_equal(http_response_error(&resp, API_NOT_FOUND, "gone",
	    NULL), 0);
	assert_int_equal(resp.status, 404);
	assert_string_equal(resp.content_type, "application/json");
	assert_null(strstr(resp.body, "first"));
	http_response_free(&resp);
}

static void
test_empty_body(void **state)
{
	struct http_response resp;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_body(&resp, 204, "text/plain", NULL,
	    0), 0);
	assert_int_equal(resp.status, 204);
	assert_int_equal(resp.body_len, 0);
	assert_non_null(resp.body);
	assert_string_equal(resp.body, "");
	http_response_free(&resp);
}

static void
test_json_compact_without_slash_escape(void **state)
{
	struct http_response resp;
	struct json_object *o = json_object_new_object();

	(void)state;
	json_object_object_add(o, "path", json_object_new_string("/a/b"));
	json_object_object_add(o, "n", json_object_new_int(1));
	http_response_init(&resp);
	assert_int_equal(http_response_json(&resp, 200, o), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/json");
	assert_string_equal(resp.body, "{\"path\":\"/a/b\",\"n\":1}");
	http_response_free(&resp);
}

static void
test_json_null_object_is_oom(void **state)
{
	struct http_response resp;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(http_response_json(&resp, 200, NULL), -1);
	assert_int_equal(resp.oom, 1);
	assert_int_equal(resp.status, 0);
	http_response_free(&resp);
}

static void
test_free_resets_and_is_repeatable(void **state)
{
	struct http_response resp;

	(void)state;
	http_response_init(&resp);
	assert_int_equal(resp.status, 0);
	assert_null(resp.body);
	http_response_header(&resp, "X-A", "1");
	http_response_body(&resp, 200, "text/plain", "x", 1);
	http_response_free(&resp);
	assert_int_equal(resp.nheaders, 0);
	assert_null(resp.headers);
	assert_null(resp.body);
	http_response_free(&resp);
	http_response_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_err_status_matches_contract),
		cmocka_unit_test(test_api_err_code_matches_contract),
		cmocka_unit_test(test_api_err_every_value_has_a_code),
		cmocka_unit_test(test_api_err_out_of_range_is_server_error),
		cmocka_unit_test(test_status_text),
		cmocka_unit_test(
		    test_error_response_status_and_code_for_every_err),
		cmocka_unit_test(test_error_body_shape),
		cmocka_unit_test(test_error_details_taken),
		cmocka_unit_test(test_field_error_details),
		cmocka_unit_test(test_error_message_is_json_escaped),
		cmocka_unit_test(test_error_out_of_range_is_500_server_error),
		cmocka_unit_test(test_header_crlf_in_value_refused),
		cmocka_unit_test(test_header_crlf_in_name_refused),
		cmocka_unit_test(test_set_header_crlf_keeps_old_value),
		cmocka_unit_test(test_header_add_keeps_order_and_duplicates),
		cmocka_unit_test(test_set_header_replaces),
		cmocka_unit_test(test_set_header_adds_when_absent),
		cmocka_unit_test(test_header_values_are_copied),
		cmocka_unit_test(test_many_headers_grow),
		cmocka_unit_test(test_body_copied_with_nuls),
		cmocka_unit_test(test_body_replaces_previous),
		cmocka_unit_test(test_empty_body),
		cmocka_unit_test(test_json_compact_without_slash_escape),
		cmocka_unit_test(test_json_null_object_is_oom),
		cmocka_unit_test(test_free_resets_and_is_repeatable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
