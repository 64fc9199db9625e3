/*
 * test_http_client.c -- the outbound HTTP client (http_client.h) against a
 * loopback server in a thread (loopback_http.h): connection reuse, the
 * response caps, the timeout, refused protocols, close-on-exec sockets,
 * Retry-After, the request bytes, and the buffer.
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
#include "loopback_http.h"

#define KEEP_ALIVE_OK "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

static enum hc_err get(const struct lb_server *s, const char *path,
    size_t cap, long timeout_ms, struct hc_response *resp)
{
	struct hc_request req = {0};
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
	req.method = "GET";
	req.url = url;
	req.max_response = cap;
	req.timeout_ms = timeout_ms;
	req.connect_timeout_ms = 2000;
	return hc_perform(&req, resp);
}

static void test_connection_reused_on_one_thread(void **state)
{
	struct hc_response r;
	struct lb_server s;

	(void)state;
	hc_thread_cleanup();
	assert_int_equal(lb_start(&s, KEEP_ALIVE_OK), 0);
	assert_int_equal(get(&s, "/a", 0, 5000, &r), HC_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello");
	assert_int_equal(r.body_len, 5);
	hc_response_free(&r);
	assert_int_equal(get(&s, "/b", 0, 5000, &r), HC_OK);
	assert_string_equal(r.body, "hello");
	hc_response_free(&r);
	assert_int_equal(atomic_load(&s.requests), 2);
	assert_int_equal(atomic_load(&s.accepts), 1);
	/* Cleaning the thread's handle drops its connections. */
	hc_thread_cleanup();
	assert_int_equal(get(&s, "/c", 0, 5000, &r), HC_OK);
	hc_response_free(&r);
	assert_int_equal(atomic_load(&s.accepts), 2);
	lb_stop(&s);
}

static void test_fresh_connect_opens_a_new_connection(void **state)
{
	struct hc_request req = {0};
	struct hc_response r;
	struct lb_server s;
	char url[128];

	(void)state;
	assert_int_equal(lb_start(&s, KEEP_ALIVE_OK), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	req.method = "POST";
	req.url = url;
	req.body = "x";
	req.body_len = 1;
	req.fresh_connect = 1;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(hc_perform(&req, &r), HC_OK);
		hc_response_free(&r);
	}
	assert_int_equal(atomic_load(&s.accepts), 2);
	lb_stop(&s);
}

static void test_sockets_are_close_on_exec(void **state)
{
	struct hc_response r;
	struct lb_server s;

	(void)state;
	hc_thread_cleanup();
	assert_int_equal(lb_start(&s, KEEP_ALIVE_OK), 0);
	assert_int_equal(get(&s, "/", 0, 5000, &r), HC_OK);
	hc_response_free(&r);
	lb_stop(&s);
	/* The server found the client's end while connected. */
	assert_int_equal(atomic_load(&s.cloexec), 1);
}

static void test_response_cap(void **state)
{
	struct hc_request req = {0};
	struct hc_response r;
	struct lb_server s;
	char url[128];

	(void)state;
	assert_int_equal(lb_start(&s, "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 20\r\n\r\n01234567890123456789"), 0);
	assert_int_equal(get(&s, "/", 10, 5000, &r), HC_ETOOLARGE);
	assert_null(r.body);
	assert_int_equal(r.status, 0);
	/* Exactly at the cap is fine. */
	assert_int_equal(get(&s, "/", 20, 5000, &r), HC_OK);
	assert_int_equal(r.body_len, 20);
	hc_response_free(&r);
	lb_stop(&s);

	/* An error answer may use the larger error cap, and only that. */
	assert_int_equal(lb_start(&s, "HTTP/1.1 404 Not Found\r\n"
	    "Content-Length: 20\r\n\r\n01234567890123456789"), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	req.method = "GET";
	req.url = url;
	req.max_response = 4;
	req.max_error_body = 64;
	assert_int_equal(hc_perform(&req, &r), HC_OK);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "01234567890123456789");
	hc_response_free(&r);
	req.max_error_body = 10;
	assert_int_equal(hc_perform(&req, &r), HC_ETOOLARGE);
	assert_null(r.body);
	lb_stop(&s);
}

static void test_timeout(void **state)
{
	struct hc_response r;
	struct lb_server s;

	(void)state;
	assert_int_equal(lb_start(&s, NULL), 0);
	assert_int_equal(get(&s, "/", 0, 300, &r), HC_ETIMEOUT);
	assert_null(r.body);
	assert_int_equal(r.status, 0);
	lb_stop(&s);
}

static void test_refused_connection_is_a_network_error(void **state)
{
	struct hc_response r;
	struct lb_server s;

	(void)state;
	assert_int_equal(lb_start(&s, KEEP_ALIVE_OK), 0);
	lb_stop(&s); /* nothing listens on the port now */
	assert_int_equal(get(&s, "/", 0, 2000, &r), HC_ENETWORK);
	assert_null(r.body);
}

static void test_other_protocols_refused(void **state)
{
	static const char *const urls[] = { "file:///etc/passwd",
		"ftp://127.0.0.1:%d/", "gopher://127.0.0.1:%d/",
		"dict://127.0.0.1:%d/" };
	struct hc_request req = {0};
	struct hc_response r;
	struct lb_server s;
	char url[128];

	(void)state;
	assert_int_equal(lb_start(&s, KEEP_ALIVE_OK), 0);
	req.method = "GET";
	req.url = url;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		snprintf(url, sizeof(url), urls[i], s.port);
		assert_int_equal(hc_perform(&req, &r), HC_EREFUSED);
		assert_null(r.body);
	}
	lb_stop(&s);
	/* Refused before connecting. */
	assert_int_equal(atomic_load(&s.accepts), 0);
}

static void test_retry_after_captured(void **state)
{
	struct hc_response r;
	struct lb_server s;

	(void)state;
	assert_int_equal(lb_start(&s, "HTTP/1.1 429 Too Many Requests\r\n"
	    "Retry-After: 7\r\nretry-after-minute: 3\r\n"
	    "Content-Length: 0\r\n\r\n"), 0);
	assert_int_equal(get(&s, "/", 0, 5000, &r), HC_OK);
	assert_int_equal(r.status, 429);
	assert_int_equal(r.retry_after_ms, 7000);
	/* No body is still a body. */
	assert_non_null(r.body);
	assert_string_equal(r.body, "");
	hc_response_free(&r);
	lb_stop(&s);

	assert_int_equal(lb_start(&s, KEEP_ALIVE_OK), 0);
	assert_int_equal(get(&s, "/", 0, 5000, &r), HC_OK);
	assert_int_equal(r.retry_after_ms, -1);
	hc_response_free(&r);
	lb_stop(&s);
}

/* Named response headers come back, whatever their case; absent ones are
 * NULL; hc_response_free() releases them. */
static void test_wanted_headers_captured(void **state)
{
	static const char *const want[] = { "X-Inngest-Sdk",
	    "X-Inngest-No-Retry", "X-Absent" };
	struct hc_request req = { 0 };
	struct hc_response r;
	struct lb_server s;
	char url[64];

	(void)state;
	assert_int_equal(lb_start(&s, "HTTP/1.1 206 Partial Content\r\n"
	    "x-inngest-sdk: c:v0.1.0\r\nX-Inngest-No-Retry: true\r\n"
	    "Content-Length: 2\r\n\r\n[]"), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	req.method = "GET";
	req.url = url;
	req.want_headers = want;
	req.nwant = 3;
	assert_int_equal(hc_perform(&req, &r), HC_OK);
	assert_int_equal(r.status, 206);
	assert_string_equal(r.headers[0], "c:v0.1.0");
	assert_string_equal(r.headers[1], "true");
	assert_null(r.headers[2]);
	hc_response_free(&r);
	assert_null(r.headers[0]);
	/* More names than the response has room for is a bad argument. */
	req.nwant = HC_MAX_WANT + 1;
	assert_int_equal(hc_perform(&req, &r), HC_EINVAL);
	lb_stop(&s);
}

static void test_request_bytes(void **state)
{
	static const char *const hdrs[] = { "X-Test: yes",
		"Content-Type: application/json" };
	struct hc_request req = {0};
	struct hc_response r;
	struct lb_server s;
	char url[128];

	(void)state;
	assert_int_equal(lb_start(&s, KEEP_ALIVE_OK), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/p?q=1", s.port);
	req.method = "PUT";
	req.url = url;
	req.headers = hdrs;
	req.nheaders = 2;
	req.body = "{\"a\":1}";
	req.body_len = 7;
	assert_int_equal(hc_perform(&req, &r), HC_OK);
	hc_response_free(&r);
	assert_non_null(strstr(s.got, "PUT /p?q=1 HTTP/1.1\r\n"));
	assert_non_null(strstr(s.got, "X-Test: yes\r\n"));
	assert_non_null(strstr(s.got, "User-Agent: omni-fcgi\r\n"));
	assert_non_null(strstr(s.got, "\r\n\r\n{\"a\":1}"));

	/* A DELETE without a body sends none. */
	req.method = "DELETE";
	req.body = NULL;
	req.body_len = 0;
	req.nheaders = 0;
	req.user_agent = "probe/1";
	assert_int_equal(hc_perform(&req, &r), HC_OK);
	hc_response_free(&r);
	assert_non_null(strstr(s.got, "DELETE /p?q=1 HTTP/1.1\r\n"));
	assert_non_null(strstr(s.got, "User-Agent: probe/1\r\n"));
	assert_null(strcasestr(s.got, "Content-Length"));
	lb_stop(&s);
}

static void test_bad_arguments(void **state)
{
	struct hc_request req = {0};
	struct hc_response r;

	(void)state;
	assert_int_equal(hc_perform(&req, &r), HC_EINVAL);
	req.url = "http://127.0.0.1:1/";
	assert_int_equal(hc_perform(&req, &r), HC_EINVAL);
	assert_null(r.body);
	assert_int_equal(r.retry_after_ms, -1);
	assert_int_equal(hc_perform(&req, NULL), HC_EINVAL);
}

static void test_buffer(void **state)
{
	struct hc_buf b = {0};
	char big[5000];
	size_t len;
	char *p;

	(void)state;
	p = hc_buf_take(&b, &len);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
	memset(big, 'x', sizeof(big));
	assert_int_equal(hc_buf_put(&b, "ab", 2), 0);
	assert_int_equal(hc_buf_put(&b, big, sizeof(big)), 0);
	assert_int_equal(b.len, 5002);
	assert_int_equal(b.data[b.len], '\0');
	p = hc_buf_take(&b, &len);
	assert_int_equal(len, 5002);
	assert_memory_equal(p, "abxx", 4);
	assert_null(b.data);
	free(p);
	hc_buf_free(&b);
}

static void test_retry_after_parse(void **state)
{
	long ms = 0;

	(void)state;
	assert_int_equal(hc_parse_retry_after("Retry-After: 2\r\n", 16, 0,
	    &ms), 1);
	assert_int_equal(ms, 2000);
	assert_int_equal(hc_parse_retry_after("Retry-After-x: 1", 16, 0,
	    &ms), 1);
	assert_int_equal(ms, 1000);
	assert_int_equal(hc_parse_retry_after("Retry-Afterx: 1", 15, 0, &ms),
	    0);
	assert_int_equal(hc_parse_retry_after("Retry-After: -1", 15, 0, &ms),
	    0);
	assert_int_equal(hc_parse_retry_after("Retry-After: 999999", 19, 0,
	    &ms), 1);
	assert_int_equal(ms, 86400L * 1000);
	assert_int_equal(hc_parse_retry_after(
	    "Retry-After: Thu, 01 Jan 1970 00:01:40 GMT", 42, 40, &ms), 1);
	assert_int_equal(ms, 60000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_connection_reused_on_one_thread),
		cmocka_unit_test(test_fresh_connect_opens_a_new_connection),
		cmocka_unit_test(test_sockets_are_close_on_exec),
		cmocka_unit_test(test_response_cap),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_refused_connection_is_a_network_error),
		cmocka_unit_test(test_other_protocols_refused),
		cmocka_unit_test(test_retry_after_captured),
		cmocka_unit_test(test_wanted_headers_captured),
		cmocka_unit_test(test_request_bytes),
		cmocka_unit_test(test_buffer),
		cmocka_unit_test(test_retry_after_parse),
	};
	int rc;

	/* Still single-threaded: the servers' threads start in the tests. */
	if (http_client_global_init() != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	hc_thread_cleanup();
	return rc;
}
