/*
 * test_metrics.c -- unit tests for the shared metrics region
 * (app/metrics/) and GET /metrics (handlers/metrics.c).
 *
 * Each test makes its own region over a small route table, installs it,
 * counts, renders, and checks exact lines of the exposition.  The
 * multi-process tests fork children that count in the same region, as
 * the pool's workers do, and one that dies by SIGKILL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "handlers.h"
#include "metrics.h"
#include "router.h"

static void nop(struct http_request *req, struct http_response *resp)
{
	(void)req;
	http_response_body(resp, 200, "text/plain", "", 0);
}

static const struct route table[] = {
	{ "GET", "/", nop, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, 0 },
	{ "POST", "/api/x", nop, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, 0 },
	{ "GET", "/api/x", nop, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, 0 },
	{ "GET", "/q\"uote", nop, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, 0 },
};
#define NROWS (sizeof(table) / sizeof(table[0]))

static struct metrics *
region(void)
{
	struct metrics *m;

	assert_int_equal(metrics_create(table, NROWS, &m), METRICS_OK);
	metrics_install(m);
	return m;
}

static int
teardown(void **state)
{
	(void)state;
	metrics_destroy(metrics_installed());
	assert_null(metrics_installed());
	return 0;
}

/* The exposition, for strstr checks; the caller frees it. */
static char *
render(struct metrics *m)
{
	char *text;
	size_t len;

	assert_int_equal(metrics_render(m, &text, &len), METRICS_OK);
	assert_int_equal(strlen(text), len);
	return text;
}

static void
assert_line(const char *text, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (strstr(text, want) == NULL)
		fail_msg("missing line: %s\n--- in ---\n%s", line, text);
}

static void
assert_no(const char *text, const char *piece)
{
	if (strstr(text, piece) != NULL)
		fail_msg("unexpected: %s\n--- in ---\n%s", piece, text);
}

static void
test_requests_by_route_method_and_class(void **state)
{
	struct metrics *m = region();
	char *t;

	(void)state;
	for (int i = 0; i < 3; i++)
		metrics_observe_request(0, "GET", 200, 500);
	metrics_observe_request(0, "HEAD", 200, 500);
	metrics_observe_request(1, "POST", 201, 500);
	/* Rows 1 and 2 share a path: one label. */
	metrics_observe_request(2, "GET", 404, 500);
	metrics_observe_request(-1, "GET", 404, 500);
	metrics_observe_request(99, "BREW", 418, 500);
	metrics_observe_request(0, "GET", 503, 500);
	metrics_observe_request(0, "GET", 0, 500); /* no status: 5xx */
	t = render(m);
	assert_line(t, "omni_http_requests_total{route=\"/\",method=\"GET\","
	    "status_class=\"2xx\"} 3");
	assert_line(t, "omni_http_requests_total{route=\"/\",method=\"HEAD\","
	    "status_class=\"2xx\"} 1");
	assert_line(t, "omni_http_requests_total{route=\"/api/x\",method="
	    "\"POST\",status_class=\"2xx\"} 1");
	assert_line(t, "omni_http_requests_total{route=\"/api/x\",method="
	    "\"GET\",status_class=\"4xx\"} 1");
	assert_line(t, "omni_http_requests_total{route=\"unmatched\",method="
	    "\"GET\",status_class=\"4xx\"} 1");
	assert_line(t, "omni_http_requests_total{route=\"unmatched\",method="
	    "\"other\",status_class=\"4xx\"} 1");
	assert_line(t, "omni_http_requests_total{route=\"/\",method=\"GET\","
	    "status_class=\"5xx\"} 2");
	/* Never counted: not shown. */
	assert_no(t, "route=\"/q");
	assert_no(t, "method=\"PUT\"");
	free(t);
}

static void
test_histogram_is_cumulative_with_sum_and_count(void **state)
{
	struct metrics *m = region();
	char *t;

	(void)state;
	metrics_observe_request(0, "GET", 200, 400);      /* <= 1 ms */
	metrics_observe_request(0, "GET", 200, 1000);     /* <= 1 ms, edge */
	metrics_observe_request(0, "GET", 200, 3000);     /* <= 5 ms */
	metrics_observe_request(0, "GET", 200, 700000000); /* +Inf */
	t = render(m);
	assert_line(t, "omni_http_request_duration_seconds_bucket{route=\"/\","
	    "le=\"0.001000\"} 2");
	assert_line(t, "omni_http_request_duration_seconds_bucket{route=\"/\","
	    "le=\"0.002500\"} 2");
	assert_line(t, "omni_http_request_duration_seconds_bucket{route=\"/\","
	    "le=\"0.005000\"} 3");
	assert_line(t, "omni_http_request_duration_seconds_bucket{route=\"/\","
	    "le=\"120.000000\"} 3");
	assert_line(t, "omni_http_request_duration_seconds_bucket{route=\"/\","
	    "le=\"+Inf\"} 4");
	assert_line(t, "omni_http_request_duration_seconds_sum{route=\"/\"} "
	    "700.004400");
	assert_line(t, "omni_http_request_duration_seconds_count{route=\"/\"} "
	    "4");
	assert_line(t, "# TYPE omni_http_request_duration_seconds histogram");
	free(t);
}

static void
test_label_values_are_escaped(void **state)
{
	struct metrics *m = region();
	char *t;

	(void)state;
	metrics_observe_request(3, "GET", 200, 10);
	metrics_count_inngest_call("fn\\back\nslash", 200);
	t = render(m);
	assert_line(t, "omni_http_requests_total{route=\"/q\\\"uote\","
	    "method=\"GET\",status_class=\"2xx\"} 1");
	assert_line(t, "omni_inngest_calls_total{function=\"fn\\\\back\\nslash\","
	    "outcome=\"completed\"} 1");
	free(t);
}

static void
test_sandbox_inngest_and_counters(void **state)
{
	struct metrics *m = region();
	char *t;

	(void)state;
	metrics_observe_sandbox(METRICS_SBX_CREATE, "local", 1, 2000);
	metrics_observe_sandbox(METRICS_SBX_EXEC, "daytona", 0, 2000);
	metrics_observe_sandbox(METRICS_SBX_READY, "elsewhere", 1, 2000);
	metrics_observe_sandbox(METRICS_SBX__MAX, "local", 1, 2000);
	metrics_count_inngest_call("omni-a", 200);
	metrics_count_inngest_call("omni-a", 206);
	metrics_count_inngest_call("omni-a", 206);
	metrics_count_inngest_call("omni-b", 400);
	metrics_count_inngest_call("omni-b", 500);
	metrics_count_inngest_call("omni-b", 401);
	metrics_count_inngest_call(NULL, 200);
	metrics_count_events(3, 1);
	metrics_count_events(1, 0);
	metrics_count_daytona_retry();
	metrics_count_daytona_429();
	metrics_count_daytona_429();
	metrics_count_rate_limited(1, METRICS_LIMIT_CLIENT);
	metrics_count_rate_limited(0, METRICS_LIMIT_USER);
	metrics_set_workers_alive(3);
	metrics_count_worker_restart();
	metrics_set_build(m, "1.2.3", "abcdef123456");
	t = render(m);
	assert_line(t, "omni_sandbox_operation_duration_seconds_count{"
	    "operation=\"create\",provider=\"local\",outcome=\"ok\"} 1");
	assert_line(t, "omni_sandbox_operation_duration_seconds_count{"
	    "operation=\"exec\",provider=\"daytona\",outcome=\"error\"} 1");
	assert_line(t, "omni_sandbox_operation_duration_seconds_count{"
	    "operation=\"ready\",provider=\"other\",outcome=\"ok\"} 1");
	assert_no(t, "operation=\"start\"");
	assert_line(t, "omni_inngest_calls_total{function=\"omni-a\","
	    "outcome=\"completed\"} 1");
	assert_line(t, "omni_inngest_calls_total{function=\"omni-a\","
	    "outcome=\"steps\"} 2");
	assert_line(t, "omni_inngest_calls_total{function=\"omni-b\","
	    "outcome=\"failed\"} 1");
	assert_line(t, "omni_inngest_calls_total{function=\"omni-b\","
	    "outcome=\"error\"} 1");
	assert_line(t, "omni_inngest_calls_total{function=\"omni-b\","
	    "outcome=\"other\"} 1");
	assert_line(t, "omni_inngest_calls_total{function=\"other\","
	    "outcome=\"completed\"} 1");
	assert_line(t, "omni_inngest_events_sent_total{outcome=\"ok\"} 3");
	assert_line(t, "omni_inngest_events_sent_total{outcome=\"error\"} 1");
	assert_line(t, "omni_daytona_retries_total 1");
	assert_line(t, "omni_daytona_rate_limited_total 2");
	assert_line(t, "omni_rate_limited_total{budget=\"strict\","
	    "scope=\"client\"} 1");
	assert_line(t, "omni_rate_limited_total{budget=\"general\","
	    "scope=\"user\"} 1");
	assert_line(t, "omni_rate_limited_total{budget=\"general\","
	    "scope=\"client\"} 0");
	assert_line(t, "omni_workers_alive 3");
	assert_line(t, "omni_worker_restarts_total 1");
	assert_line(t, "omni_draining 0");
	assert_true(strncmp(t, "# HELP omni_build_info ", 23) == 0);
	assert_line(t, "omni_build_info{version=\"1.2.3\","
	    "revision=\"abcdef123456\"} 1");
	free(t);
}

static void
test_function_table_is_bounded(void **state)
{
	struct metrics *m = region();
	char name[32], *t;

	(void)state;
	for (int i = 0; i < METRICS_FUNCTIONS_MAX + 5; i++) {
		snprintf(name, sizeof(name), "fn-%d", i);
		metrics_count_inngest_call(name, 200);
	}
	metrics_count_inngest_call("fn-0", 200);
	t = render(m);
	assert_line(t, "omni_inngest_calls_total{function=\"fn-0\","
	    "outcome=\"completed\"} 2");
	snprintf(name, sizeof(name), "fn-%d", METRICS_FUNCTIONS_MAX - 1);
	assert_non_null(strstr(t, name));
	assert_line(t, "omni_inngest_calls_total{function=\"other\","
	    "outcome=\"completed\"} 5");
	free(t);
}

static void
test_disabled_counts_nothing_but_keeps_draining(void **state)
{
	struct metrics *m = region();
	char *t;

	(void)state;
	metrics_set_enabled(m, 0);
	assert_false(metrics_enabled());
	metrics_observe_request(0, "GET", 200, 10);
	metrics_count_daytona_retry();
	metrics_set_draining(1);
	assert_true(metrics_draining());
	t = render(m);
	assert_no(t, "omni_http_requests_total{");
	assert_line(t, "omni_daytona_retries_total 0");
	assert_line(t, "omni_draining 1");
	free(t);
	metrics_set_enabled(m, 1);
	assert_true(metrics_enabled());
}

static void
test_no_instance_is_a_no_op(void **state)
{
	(void)state;
	metrics_install(NULL);
	metrics_observe_request(0, "GET", 200, 10);
	metrics_count_inngest_call("x", 200);
	metrics_set_draining(1);
	assert_false(metrics_draining());
	assert_false(metrics_enabled());
}

static void
test_too_many_rows_refused(void **state)
{
	static struct route big[METRICS_ROWS_MAX + 1];
	static char paths[METRICS_ROUTES_MAX + 1][8];
	struct metrics *m = NULL;

	(void)state;
	for (size_t i = 0; i < METRICS_ROWS_MAX + 1; i++)
		big[i] = table[0];
	assert_int_equal(metrics_create(big, METRICS_ROWS_MAX + 1, &m),
	    METRICS_ETOOMANY);
	assert_null(m);
	for (size_t i = 0; i < METRICS_ROUTES_MAX + 1; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/%zu", i);
		big[i].path = paths[i];
	}
	assert_int_equal(metrics_create(big, METRICS_ROUTES_MAX + 1, &m),
	    METRICS_ETOOMANY);
	assert_int_equal(metrics_create(big, METRICS_ROUTES_MAX, &m),
	    METRICS_OK);
	metrics_destroy(m);
	assert_string_equal(metrics_strerror(METRICS_ETOOMANY),
	    "the route table is larger than the metrics region holds");
}

/* Workers count in one region; a worker killed outright loses nothing
 * it counted, and a function id claimed by two processes is one slot. */
static void
test_forked_workers_share_counts(void **state)
{
	struct metrics *m = region();
	pid_t kids[4];
	int status;
	char *t;

	(void)state;
	for (int k = 0; k < 4; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			for (int i = 0; i < 10000; i++)
				metrics_observe_request(0, "GET", 200, 100);
			metrics_count_inngest_call("shared-fn", 206);
			if (k == 3) {
				raise(SIGKILL);
				for (;;)
					pause();
			}
			_exit(0);
		}
	}
	for (int k = 0; k < 4; k++)
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
	t = render(m);
	assert_line(t, "omni_http_requests_total{route=\"/\",method=\"GET\","
	    "status_class=\"2xx\"} 40000");
	assert_line(t, "omni_http_request_duration_seconds_count{route=\"/\"} "
	    "40000");
	assert_line(t, "omni_inngest_calls_total{function=\"shared-fn\","
	    "outcome=\"steps\"} 4");
	free(t);
}

/* ---- GET /metrics ---- */

static struct omni_config hcfg;

static int
handler_setup(void **state)
{
	(void)state;
	memset(&hcfg, 0, sizeof(hcfg));
	hcfg.metrics = 1;
	region();
	return 0;
}

static long
no_body(void *ctx, char *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return 0;
}

/* GET /metrics from 'remote' (the REMOTE_ADDR a front would pass) with
 * 'auth' as the Authorization header (NULL: none). */
static void
get_metrics(const char *remote, const char *auth, int want)
{
	char ra[128], au[256];
	char *envp[] = { (char *)"REQUEST_METHOD=GET",
	    (char *)"REQUEST_URI=/metrics", ra, au, NULL };
	struct http_request req;
	struct http_response resp;

	snprintf(ra, sizeof(ra), "REMOTE_ADDR=%s", remote);
	snprintf(au, sizeof(au), "HTTP_AUTHORIZATION=%s", auth ? auth : "");
	if (auth == NULL)
		envp[3] = NULL;
	assert_int_equal(http_request_parse(&req, envp, no_body, NULL, 1024,
	    &hcfg), HTTP_PARSE_OK);
	http_response_init(&resp);
	handle_metrics(&req, &resp);
	if (resp.status != want)
		fail_msg("%s %s: %d, want %d", remote, auth ? auth : "-",
		    resp.status, want);
	if (want == 200) {
		assert_string_equal(resp.content_type, METRICS_CONTENT_TYPE);
		assert_non_null(memmem(resp.body, resp.body_len,
		    "omni_build_info", 15));
	}
	if (want == 401)
		assert_non_null(http_response_get_header(&resp,
		    "WWW-Authenticate"));
	http_response_free(&resp);
	http_request_free(&req);
}

static void
test_handler_loopback_only(void **state)
{
	(void)state;
	get_metrics("127.0.0.1", NULL, 200);
	get_metrics("127.255.0.9", NULL, 200);
	get_metrics("::1", NULL, 200);
	get_metrics("10.0.0.1", NULL, 403);
	get_metrics("128.0.0.1", NULL, 403);
	get_metrics("", NULL, 403);
	get_metrics("not an address", NULL, 403);
}

static void
test_handler_token(void **state)
{
	char tok[] = "0123456789abcdef0123";

	(void)state;
	hcfg.metrics_token = tok;
	get_metrics("127.0.0.1", NULL, 401);
	get_metrics("10.0.0.1", "Bearer 0123456789abcdef0123", 200);
	get_metrics("10.0.0.1", "bearer  0123456789abcdef0123 ", 200);
	get_metrics("10.0.0.1", "Bearer 0123456789abcdef012", 401);
	get_metrics("10.0.0.1", "Bearer 0123456789abcdef01234", 401);
	get_metrics("10.0.0.1", "Basic 0123456789abcdef0123", 401);
	get_metrics("10.0.0.1", "0123456789abcdef0123", 401);
	hcfg.metrics_token = NULL;
}

static void
test_handler_off(void **state)
{
	(void)state;
	hcfg.metrics = 0;
	get_metrics("127.0.0.1", NULL, 404);
	hcfg.metrics = 1;
	metrics_set_enabled(metrics_installed(), 0);
	get_metrics("127.0.0.1", NULL, 404);
	metrics_set_enabled(metrics_installed(), 1);
	get_metrics("127.0.0.1", NULL, 200);
}

#define T(f) cmocka_unit_test_setup_teardown(f, NULL, teardown)
#define H(f) cmocka_unit_test_setup_teardown(f, handler_setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_requests_by_route_method_and_class),
		T(test_histogram_is_cumulative_with_sum_and_count),
		T(test_label_values_are_escaped),
		T(test_sandbox_inngest_and_counters),
		T(test_function_table_is_bounded),
		T(test_disabled_counts_nothing_but_keeps_draining),
		T(test_no_instance_is_a_no_op),
		cmocka_unit_test(test_too_many_rows_refused),
		T(test_forked_workers_share_counts),
		H(test_handler_loopback_only),
		H(test_handler_token),
		H(test_handler_off),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
