/*
 * test_inngest_transport.c -- Omni's transport for the SDK
 * (inngest_http.h, struct ing_transport over http_client.h) against a
 * one-shot HTTP server on 127.0.0.1 run in a thread: answers, request
 * bytes, the response cap, connection errors, the timeout; and the SDK's
 * own ing_transport_none, which never reaches the network.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "inngest.h"
#include "http_client.h"
#include "inngest_http.h"
#include "inngest_transport.h"

struct server {
	int fd;
	int port;
	const char *reply;       /* NULL: accept, read, never answer */
	long hold_ms;            /* keep the silent connection this long */
	char got[4096];          /* what the client sent */
	pthread_t thread;
};

static void *serve_once(void *arg)
{
	struct server *s = arg;
	size_t n = 0;
	int c;

	c = accept(s->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	/* Read until the end of the headers and a small body. */
	while (n < sizeof(s->got) - 1) {
		ssize_t r = read(c, s->got + n, sizeof(s->got) - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
		s->got[n] = '\0';
		if (strstr(s->got, "\r\n\r\n") != NULL &&
		    (strstr(s->got, "Content-Length: ") == NULL ||
		    strstr(s->got, "}") != NULL))
			break;
	}
	if (s->reply != NULL)
		(void)!write(c, s->reply, strlen(s->reply));
	else
		usleep((useconds_t)s->hold_ms * 1000);
	close(c);
	return NULL;
}

static void start(struct server *s, const char *reply)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->reply = reply;
	s->hold_ms = 600;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 1), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve_once, s), 0);
}

static void finish(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
}

static enum ing_err post(struct server *s, const char *path, size_t cap,
    long timeout_ms, struct ing_http_res *res)
{
	static const char *const hdrs[] = { "Content-Type: application/json",
		"X-Test: yes" };
	struct ing_http_req req;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.nheaders = 2;
	req.body = "{\"a\":1}";
	req.body_len = 7;
	req.max_response = cap;
	req.timeout_ms = timeout_ms;
	return omni_inngest_transport.send(NULL, &req, res);
}

static void test_answer_and_request_bytes(void **state)
{
	struct ing_http_res res;
	struct server s;

	(void)state;
	start(&s, "HTTP/1.1 201 Created\r\nContent-Length: 11\r\n"
	    "Connection: close\r\n\r\n{\"ok\":true}");
	assert_int_equal(post(&s, "/fn/register?x=1", 0, 5000, &res), ING_OK);
	finish(&s);
	assert_int_equal(res.status, 201);
	assert_string_equal(res.body, "{\"ok\":true}");
	assert_int_equal(res.body_len, 11);
	ing_http_res_free(&res);
	assert_null(res.body);
	assert_non_null(strstr(s.got, "POST /fn/register?x=1 HTTP/1.1\r\n"));
	assert_non_null(strstr(s.got, "X-Test: yes\r\n"));
	assert_non_null(strstr(s.got, "User-Agent: " ING_SDK_HEADER "\r\n"));
	assert_null(strstr(s.got, "Expect:"));
	assert_non_null(strstr(s.got, "{\"a\":1}"));
}

static void test_error_statuses_are_answers(void **state)
{
	struct ing_http_res res;
	struct server s;

	(void)state;
	start(&s, "HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n");
	assert_int_equal(post(&s, "/", 0, 5000, &res), ING_OK);
	finish(&s);
	assert_int_equal(res.status, 503);
	assert_string_equal(res.body, "");
	ing_http_res_free(&res);
}

static void test_response_cap(void **state)
{
	struct ing_http_res res;
	struct server s;

	(void)state;
	start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n"
	    "Connection: close\r\n\r\n01234567890123456789");
	assert_int_equal(post(&s, "/", 10, 5000, &res), ING_ETOOLARGE);
	finish(&s);
	assert_null(res.body);
	assert_int_equal(res.status, 0);
}

static void test_timeout_is_a_transport_error(void **state)
{
	struct ing_http_res res;
	struct server s;

	(void)state;
	start(&s, NULL);
	assert_int_equal(post(&s, "/", 0, 300, &res), ING_ETRANSPORT);
	finish(&s);
	assert_null(res.body);
}

static void test_refused_connection_is_a_transport_error(void **state)
{
	struct ing_http_res res;
	struct server s;

	(void)state;
	start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	finish(&s); /* closes the listener: nothing listens on the port */
	assert_int_equal(post(&s, "/", 0, 2000, &res), ING_ETRANSPORT);
}

static void test_other_protocols_refused(void **state)
{
	struct ing_http_req req;
	struct ing_http_res res;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = "file:///etc/passwd";
	assert_int_equal(omni_inngest_transport.send(NULL, &req, &res),
	    ING_ETRANSPORT);
	assert_null(res.body);
}

/* An app given no transport fails every request, to anywhere. */
static void test_no_transport_never_connects(void **state)
{
	struct server srv;
	struct ing_http_req req = { 0 };
	struct ing_http_res res = { .status = 99 };
	char url[64];

	(void)state;
	start(&srv, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv.port);
	req.method = "GET";
	req.url = url;
	assert_int_equal(ing_transport_none.send(NULL, &req, &res),
	    ING_ETRANSPORT);
	assert_int_equal(res.status, 0);
	assert_null(res.body);
	finish(&srv);
	assert_string_equal(srv.got, ""); /* nothing was sent to it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_and_request_bytes),
		cmocka_unit_test(test_error_statuses_are_answers),
		cmocka_unit_test(test_response_cap),
		cmocka_unit_test(test_timeout_is_a_transport_error),
		cmocka_unit_test(test_refused_connection_is_a_transport_error),
		cmocka_unit_test(test_other_protocols_refused),
		cmocka_unit_test(test_no_transport_never_connects),
	};
	int rc;

	if (http_client_global_init() != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	return rc;
}
