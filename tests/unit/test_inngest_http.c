/*
 * test_inngest_http.c -- the Inngest SDK's transport over http_client
 * (inngest_http.h) against a loopback server (loopback_http.h): answers,
 * request bytes, the cap on every status, errors, and which requests may
 * reuse a connection; and the SDK's own ing_transport_none, which never
 * reaches the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_client.h"
#include "inngest.h"
#include "inngest_http.h"
#include "inngest_transport.h"
#include "loopback_http.h"

static enum ing_err send_to(const struct lb_server *s, const char *method,
    size_t cap, long timeout_ms, struct ing_http_res *res)
{
	static const char *const hdrs[] = { "Content-Type: application/json",
		"X-Test: yes" };
	struct ing_http_req req;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/fn/register?x=1",
	    s->port);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.headers = hdrs;
	req.nheaders = 2;
	if (strcmp(method, "GET") != 0) {
		req.body = "{\"a\":1}";
		req.body_len = 7;
	}
	req.max_response = cap;
	req.timeout_ms = timeout_ms;
	return omni_inngest_transport.send(omni_inngest_transport.ud, &req,
	    res);
}

static void test_answer_and_request_bytes(void **state)
{
	struct ing_http_res res;
	struct lb_server s;

	(void)state;
	assert_int_equal(lb_start(&s, "HTTP/1.1 201 Created\r\n"
	    "Content-Length: 11\r\n\r\n{\"ok\":true}"), 0);
	assert_int_equal(send_to(&s, "POST", 0, 5000, &res), ING_OK);
	lb_stop(&s);
	assert_int_equal(res.status, 201);
	assert_string_equal(res.body, "{\"ok\":true}");
	assert_int_equal(res.body_len, 11);
	ing_http_res_free(&res);
	assert_null(res.body);
	assert_non_null(strstr(s.got, "POST /fn/register?x=1 HTTP/1.1\r\n"));
	assert_non_null(strstr(s.got, "X-Test: yes\r\n"));
	assert_non_null(strstr(s.got, "User-Agent: " ING_SDK_HEADER "\r\n"));
	assert_null(strstr(s.got, "Expect:"));
	assert_non_null(strstr(s.got, "\r\n\r\n{\"a\":1}"));
}

static void test_error_status_is_an_answer(void **state)
{
	struct ing_http_res res;
	struct lb_server s;

	(void)state;
	assert_int_equal(lb_start(&s, "HTTP/1.1 503 Unavailable\r\n"
	    "Content-Length: 0\r\n\r\n"), 0);
	assert_int_equal(send_to(&s, "POST", 0, 5000, &res), ING_OK);
	lb_stop(&s);
	assert_int_equal(res.status, 503);
	assert_non_null(res.body);
	assert_string_equal(res.body, "");
	free(res.body);
}

static void test_cap_holds_for_every_status(void **state)
{
	static const char *const replies[] = {
		"HTTP/1.1 200 OK\r\n"
		    "Content-Length: 20\r\n\r\n01234567890123456789",
		"HTTP/1.1 500 Oops\r\n"
		    "Content-Length: 20\r\n\r\n01234567890123456789",
	};
	struct ing_http_res res;
	struct lb_server s;

	(void)state;
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		assert_int_equal(lb_start(&s, replies[i]), 0);
		assert_int_equal(send_to(&s, "POST", 10, 5000, &res),
		    ING_ETOOLARGE);
		lb_stop(&s);
		assert_null(res.body);
		assert_int_equal(res.status, 0);
	}
}

static void test_timeout_and_refused_are_transport_errors(void **state)
{
	struct ing_http_req req;
	struct ing_http_res res;
	struct lb_server s;

	(void)state;
	assert_int_equal(lb_start(&s, NULL), 0);
	assert_int_equal(send_to(&s, "POST", 0, 300, &res), ING_ETRANSPORT);
	lb_stop(&s);
	assert_null(res.body);
	/* Nothing listens there now. */
	assert_int_equal(send_to(&s, "GET", 0, 2000, &res), ING_ETRANSPORT);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = "file:///etc/passwd";
	assert_int_equal(omni_inngest_transport.send(NULL, &req, &res),
	    ING_ETRANSPORT);
	assert_null(res.body);
	req.url = NULL;
	assert_int_equal(omni_inngest_transport.send(NULL, &req, &res),
	    ING_EINVAL);
}

static void test_gets_reuse_posts_do_not(void **state)
{
	struct ing_http_res res;
	struct lb_server s;

	(void)state;
	hc_thread_cleanup();
	assert_int_equal(lb_start(&s, "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 2\r\n\r\n{}"), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(send_to(&s, "GET", 0, 5000, &res), ING_OK);
		free(res.body);
	}
	assert_int_equal(atomic_load(&s.accepts), 1);
	/* An event sent twice by libcurl's silent resend would be two
	 * events: every POST goes on a new connection. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(send_to(&s, "POST", 0, 5000, &res), ING_OK);
		free(res.body);
	}
	assert_int_equal(atomic_load(&s.accepts), 3);
	assert_int_equal(atomic_load(&s.cloexec), 1);
	lb_stop(&s);
}

/* An app given no transport fails every request, to anywhere. */
static void test_no_transport_never_connects(void **state)
{
	struct ing_http_req req = { 0 };
	struct ing_http_res res = { .status = 99 };
	struct lb_server s;
	char url[64];

	(void)state;
	assert_int_equal(lb_start(&s, "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 2\r\n\r\nok"), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	req.method = "GET";
	req.url = url;
	assert_int_equal(ing_transport_none.send(NULL, &req, &res),
	    ING_ETRANSPORT);
	assert_int_equal(res.status, 0);
	assert_null(res.body);
	lb_stop(&s);
	assert_int_equal(atomic_load(&s.accepts), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_and_request_bytes),
		cmocka_unit_test(test_error_status_is_an_answer),
		cmocka_unit_test(test_cap_holds_for_every_status),
		cmocka_unit_test(test_timeout_and_refused_are_transport_errors),
		cmocka_unit_test(test_gets_reuse_posts_do_not),
		cmocka_unit_test(test_no_transport_never_connects),
	};
	int rc;

	/* While single-threaded, as inngest_http.h asks. */
	if (http_client_global_init() != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	hc_thread_cleanup();
	return rc;
}
