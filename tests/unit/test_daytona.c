/*
 * test_daytona.c -- the Daytona client without a network: retry policy,
 * Retry-After parsing, error mapping, request bodies, JSON decoding, and
 * the call engine (auth, key fallback, retries, timeouts) through the
 * transport seam with scripted answers, the toolbox's session calls, and
 * the shell quoting (checked against a real sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "daytona.h"
#include "shell_quote.h"

/* ---- a scripted transport ---------------------------------------------- */

#define MAX_STEPS 16
#define MAX_SEEN 16

struct step {
	enum dt_err rc;        /* what perform() returns */
	long status;
	const char *body;
	long retry_after_ms;
};

struct script {
	struct step steps[MAX_STEPS];
	int nsteps;
	int next;
	/* what the client sent */
	int calls;
	char urls[MAX_SEEN][512];
	char auth[MAX_SEEN][128];
	char org[MAX_SEEN][128];
	char ctype[MAX_SEEN][160];
	enum dt_method methods[MAX_SEEN];
	char bodies[MAX_SEEN][1024];
	long timeouts[MAX_SEEN];
	size_t max_response[MAX_SEEN];
	long slept[MAX_SEEN];
	int nsleeps;
};

static struct script S;

static void script_reset(void)
{
	memset(&S, 0, sizeof(S));
}

static void script_add(enum dt_err rc, long status, const char *body,
    long retry_after)
{
	assert_true(S.nsteps < MAX_STEPS);
	S.steps[S.nsteps].rc = rc;
	S.steps[S.nsteps].status = status;
	S.steps[S.nsteps].body = body;
	S.steps[S.nsteps].retry_after_ms = retry_after;
	S.nsteps++;
}

static void copy_header(char dst[], size_t len, const char *const *headers,
    const char *name)
{
	size_t n = strlen(name), i;

	dst[0] = '\0';
	for (i = 0; headers[i] != NULL; i++)
		if (strncmp(headers[i], name, n) == 0) {
			snprintf(dst, len, "%s", headers[i] + n);
			return;
		}
}

static enum dt_err fake_perform(void *ctx, const struct dt_http_req *req,
    struct dt_http_resp *resp)
{
	struct step *st;
	int i = S.calls;

	(void)ctx;
	if (i < MAX_SEEN) {
		snprintf(S.urls[i], sizeof(S.urls[i]), "%s", req->url);
		copy_header(S.auth[i], sizeof(S.auth[i]), req->headers,
		    "Authorization: ");
		copy_header(S.org[i], sizeof(S.org[i]), req->headers,
		    "X-Daytona-Organization-ID: ");
		copy_header(S.ctype[i], sizeof(S.ctype[i]), req->headers,
		    "Content-Type: ");
		S.methods[i] = req->method;
		S.timeouts[i] = req->timeout_ms;
		S.max_response[i] = req->max_response;
		if (req->body != NULL)
			snprintf(S.bodies[i], sizeof(S.bodies[i]), "%.*s",
			    (int)(req->body_len < 1000 ? req->body_len : 1000),
			    req->body);
	}
	S.calls++;
	if (S.next >= S.nsteps)
		fail_msg("unexpected request %d to %s", i, req->url);
	st = &S.steps[S.next++];
	resp->status = st->status;
	resp->retry_after_ms = st->retry_after_ms;
	if (st->rc != DT_OK)
		return st->rc;
	if (st->body != NULL) {
		/* as the curl transport: the cap binds 2xx answers */
		if (strlen(st->body) > req->max_response &&
		    (st->status / 100 == 2 || strlen(st->body) > 65536))
			return DT_ETOOLARGE;
		resp->body = strdup(st->body);
		resp->body_len = strlen(st->body);
	}
	return DT_OK;
}

static void fake_sleep(void *ctx, long ms)
{
	(void)ctx;
	if (S.nsleeps < MAX_SEEN)
		S.slept[S.nsleeps] = ms;
	S.nsleeps++;
}

static double fake_rand(void *ctx)
{
	(void)ctx;
	return 0.5;
}

static struct dt_client *make_client(const char *fallback, const char *org)
{
	struct dt_client_opts o = {0};
	struct dt_transport t = {fake_perform, fake_sleep, fake_rand, NULL};
	struct dt_client *c;

	o.api_url = "https://dt.example/api/";
	o.api_key = "key-primary";
	o.api_key_fallback = fallback;
	o.org_id = org;
	o.backoff_base_ms = 100;
	o.backoff_max_ms = 1000;
	o.retry_budget_ms = 5000;
	o.max_attempts = 4;
	c = dt_client_new(&o, NULL);
	assert_non_null(c);
	dt_client_set_transport(c, &t);
	return c;
}

#define SANDBOX_JSON \
	"{\"id\":\"sb-1\",\"name\":\"omni-abc\",\"state\":\"started\"," \
	"\"desiredState\":\"started\",\"createdAt\":\"2025-01-02T03:04:05Z\"," \
	"\"labels\":{\"omni.user-id\":\"u1\",\"n\":7}," \
	"\"toolboxProxyUrl\":\"https://proxy.example/toolbox\"," \
	"\"errorReason\":null,\"target\":\"eu\"}"

/* ---- retry policy -------------------------------------------------------- */

static const struct dt_retry_policy POL = {4, 100, 1000};

static void test_retry_never_for_non_idempotent(void **state)
{
	(void)state;
	assert_int_equal(dt_retry_delay(&POL, 0, DT_OK, 503, -1, 0, 0.5), -1);
	assert_int_equal(dt_retry_delay(&POL, 0, DT_ENETWORK, 0, -1, 0, 0.5),
	    -1);
	assert_int_equal(dt_retry_delay(&POL, 0, DT_OK, 429, 1000, 0, 0.5),
	    -1);
}

static void test_retry_statuses(void **state)
{
	(void)state;
	assert_true(dt_retry_delay(&POL, 1, DT_OK, 429, -1, 0, 0.5) >= 0);
	assert_true(dt_retry_delay(&POL, 1, DT_OK, 502, -1, 0, 0.5) >= 0);
	assert_true(dt_retry_delay(&POL, 1, DT_OK, 503, -1, 0, 0.5) >= 0);
	assert_true(dt_retry_delay(&POL, 1, DT_OK, 504, -1, 0, 0.5) >= 0);
	assert_true(dt_retry_delay(&POL, 1, DT_ENETWORK, 0, -1, 0, 0.5) >= 0);
	assert_int_equal(dt_retry_delay(&POL, 1, DT_OK, 500, -1, 0, 0.5), -1);
	assert_int_equal(dt_retry_delay(&POL, 1, DT_OK, 404, -1, 0, 0.5), -1);
	assert_int_equal(dt_retry_delay(&POL, 1, DT_OK, 409, -1, 0, 0.5), -1);
	assert_int_equal(dt_retry_delay(&POL, 1, DT_OK, 200, -1, 0, 0.5), -1);
	assert_int_equal(dt_retry_delay(&POL, 1, DT_ETIMEOUT, 0, -1, 0, 0.5),
	    -1);
	assert_int_equal(dt_retry_delay(&POL, 1, DT_ETOOLARGE, 0, -1, 0, 0.5),
	    -1);
}

static void test_retry_backoff_grows_with_jitter_and_cap(void **state)
{
	(void)state;
	/* attempt 0: base 100 -> in [50, 100] */
	assert_int_equal(dt_retry_delay(&POL, 1, DT_OK, 503, -1, 0, 0.0), 50);
	assert_int_equal(dt_retry_delay(&POL, 1, DT_OK, 503, -1, 0, 0.999),
	    99);
	/* attempt 2: 400 -> [200, 400] */
	assert_int_equal(dt_retry_delay(&POL, 1, DT_OK, 503, -1, 2, 0.0), 200);
	/* a long series stays under the cap */
	{
		struct dt_retry_policy many = {40, 100, 1000};

		assert_true(dt_retry_delay(&many, 1, DT_OK, 503, -1, 30,
		    0.999) <= 1000);
		assert_true(dt_retry_delay(&many, 1, DT_OK, 503, -1, 30,
		    0.0) >= 500);
	}
}

static void test_retry_honours_retry_after(void **state)
{
	(void)state;
	assert_int_equal(dt_retry_delay(&POL, 1, DT_OK, 429, 3000, 0, 0.5),
	    3000);
	/* a hint shorter than the back-off does not shorten it */
	assert_int_equal(dt_retry_delay(&POL, 1, DT_OK, 429, 10, 2, 0.0), 200);
}

static void test_retry_stops_at_max_attempts(void **state)
{
	(void)state;
	assert_true(dt_retry_delay(&POL, 1, DT_OK, 503, -1, 2, 0.5) >= 0);
	assert_int_equal(dt_retry_delay(&POL, 1, DT_OK, 503, -1, 3, 0.5), -1);
}

/* ---- Retry-After --------------------------------------------------------- */

static void test_retry_after_seconds_and_throttler(void **state)
{
	static const char a[] = "Retry-After: 3\r\n";
	static const char b[] = "retry-after-sandbox-create: 12\r\n";
	static const char c[] = "RETRY-AFTER-authenticated:7";
	long ms = -1;

	(void)state;
	assert_int_equal(dt_parse_retry_after(a, strlen(a), 0, &ms), 1);
	assert_int_equal(ms, 3000);
	assert_int_equal(dt_parse_retry_after(b, strlen(b), 0, &ms), 1);
	assert_int_equal(ms, 12000);
	assert_int_equal(dt_parse_retry_after(c, strlen(c), 0, &ms), 1);
	assert_int_equal(ms, 7000);
}

static void test_retry_after_http_date(void **state)
{
	static const char a[] =
	    "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n";
	long ms = -1;

	(void)state;
	/* 1445412480 is that date; ten seconds before it */
	assert_int_equal(dt_parse_retry_after(a, strlen(a), 1445412470L, &ms),
	    1);
	assert_int_equal(ms, 10000);
	/* in the past: retry now */
	assert_int_equal(dt_parse_retry_after(a, strlen(a), 1445412490L, &ms),
	    1);
	assert_int_equal(ms, 0);
}

static void test_retry_after_rejects_others(void **state)
{
	static const char *const bad[] = {
		"Retry-Afterx: 3\r\n", "Retry-After-: 3\r\n",
		"Retry-After: -1\r\n", "Retry-After: 3x\r\n",
		"Retry-After:\r\n", "Content-Length: 3\r\n",
		"X-Retry-After: 3\r\n", "Retry-After 3\r\n",
	};
	size_t i;
	long ms = 42;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dt_parse_retry_after(bad[i], strlen(bad[i]),
		    0, &ms), 0);
	assert_int_equal(ms, 42);
}

/* ---- error mapping ----------------------------------------------------- */

static void test_error_mapping_by_status(void **state)
{
	static const struct {
		long status;
		enum dt_err err;
	} t[] = {
		{200, DT_OK}, {204, DT_OK}, {400, DT_EBADREQUEST},
		{401, DT_EAUTH}, {403, DT_EAUTH}, {404, DT_ENOTFOUND},
		{408, DT_ETIMEOUT}, {409, DT_ECONFLICT}, {413, DT_ETOOLARGE},
		{422, DT_EBADREQUEST}, {429, DT_ERATELIMIT},
		{500, DT_EUPSTREAM}, {502, DT_EUPSTREAM},
		{503, DT_EUNAVAILABLE}, {504, DT_ETIMEOUT}, {302, DT_EPROTO},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(dt_err_from_http(t[i].status, NULL, 0, NULL,
		    0), t[i].err);
}

static void test_error_quota_messages(void **state)
{
	static const char cpu[] =
	    "{\"statusCode\":400,\"error\":\"Bad Request\","
	    "\"message\":\"Total CPU limit exceeded. Maximum allowed: 10.\"}";
	static const char susp[] = "{\"statusCode\":403,\"message\":"
	    "\"Organization is suspended: Depleted credits\"}";
	static const char plain[] = "{\"statusCode\":400,\"message\":"
	    "\"Snapshot foo not found\"}";
	char msg[256];

	(void)state;
	assert_int_equal(dt_err_from_http(400, cpu, strlen(cpu), msg,
	    sizeof(msg)), DT_EQUOTA);
	assert_string_equal(msg, "Total CPU limit exceeded. Maximum allowed: "
	    "10.");
	assert_int_equal(dt_err_from_http(403, susp, strlen(susp), msg,
	    sizeof(msg)), DT_EQUOTA);
	assert_int_equal(dt_err_from_http(400, plain, strlen(plain), msg,
	    sizeof(msg)), DT_EBADREQUEST);
	assert_string_equal(msg, "Snapshot foo not found");
}

static void test_error_message_is_sanitised(void **state)
{
	static const char body[] = "{\"message\":\"bad\\u0007\\nthing\"}";
	char msg[8];

	(void)state;
	assert_int_equal(dt_err_from_http(500, body, strlen(body), msg,
	    sizeof(msg)), DT_EUPSTREAM);
	/* control bytes replaced, cut to the buffer */
	assert_string_equal(msg, "bad  th");
	/* junk bodies give no message, never a crash */
	assert_int_equal(dt_err_from_http(500, "<html>", 6, msg, sizeof(msg)),
	    DT_EUPSTREAM);
	assert_string_equal(msg, "");
}

/* ---- bodies and decoding ------------------------------------------------ */

static void test_create_body_fields(void **state)
{
	struct dt_kv env[] = {{"A", "1"}};
	struct dt_kv labels[] = {{"omni.user-id", "u/1\"x"}};
	struct dt_create_params p = {0};
	struct json_object *o, *v, *l;
	char *body;

	(void)state;
	p.name = "omni-abc";
	p.snapshot = "snap";
	p.target = "eu";
	p.env = env;
	p.nenv = 1;
	p.labels = labels;
	p.nlabels = 1;
	p.auto_stop_minutes = 30;
	p.auto_archive_minutes = -1;
	p.auto_delete_minutes = -1;
	body = dt_create_body(&p);
	assert_non_null(body);
	o = json_tokener_parse(body);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "name", &v));
	assert_string_equal(json_object_get_string(v), "omni-abc");
	assert_true(json_object_object_get_ex(o, "snapshot", &v));
	assert_string_equal(json_object_get_string(v), "snap");
	assert_true(json_object_object_get_ex(o, "target", &v));
	assert_true(json_object_object_get_ex(o, "autoStopInterval", &v));
	assert_int_equal(json_object_get_int(v), 30);
	assert_false(json_object_object_get_ex(o, "autoArchiveInterval", &v));
	assert_false(json_object_object_get_ex(o, "autoDeleteInterval", &v));
	assert_true(json_object_object_get_ex(o, "labels", &l));
	assert_true(json_object_object_get_ex(l, "omni.user-id", &v));
	assert_string_equal(json_object_get_string(v), "u/1\"x");
	assert_true(json_object_object_get_ex(o, "env", &l));
	assert_true(json_object_object_get_ex(l, "A", &v));
	json_object_put(o);
	free(body);
}

static void test_create_body_omits_defaults_and_rejects_bad(void **state)
{
	struct dt_create_params p = {0};
	struct dt_kv bad[] = {{"", "x"}};
	char *body;

	(void)state;
	p.name = "omni-abc";
	p.auto_stop_minutes = -1;
	p.auto_archive_minutes = -1;
	p.auto_delete_minutes = -1;
	body = dt_create_body(&p);
	assert_non_null(body);
	assert_string_equal(body, "{\"name\":\"omni-abc\"}");
	free(body);
	p.labels = bad;
	p.nlabels = 1;
	assert_null(dt_create_body(&p));
	p.nlabels = 0;
	p.name = "has space";
	assert_null(dt_create_body(&p));
}

/*
 * Split 'cmd' as the toolbox daemon does (quotes group, no escapes, empty
 * words dropped) into 'argv' (at most 7 words, strings in 'buf'); returns
 * the word count.
 */
static int daemon_split(const char *cmd, char *buf, size_t len, char **argv)
{
	char quote = 0, *w = buf, *start = buf;
	int n = 0;

	for (;; cmd++) {
		if (*cmd == '\0' || (*cmd == ' ' && !quote)) {
			if (w > start && n < 7) {
				*w++ = '\0';
				argv[n++] = start;
				start = w;
			}
			if (*cmd == '\0')
				break;
		} else if ((*cmd == '"' || *cmd == '\'') &&
		    (!quote || quote == *cmd)) {
			quote = quote ? 0 : *cmd;
		} else if ((size_t)(w - buf) + 2 < len) {
			*w++ = *cmd;
		}
	}
	argv[n] = NULL;
	return n;
}

/* The "command" of an execute body, split as the daemon splits it. */
static int body_argv(const char *body, char *buf, size_t len, char **argv)
{
	struct json_object *o = json_tokener_parse(body), *v;
	int n;

	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "command", &v));
	n = daemon_split(json_object_get_string(v), buf, len, argv);
	json_object_put(o);
	return n;
}

/* Run 'argv' (as the daemon would exec it) and return its output. */
static char *run_argv(char **argv)
{
	static char out[4096];
	size_t got = 0;
	ssize_t r;
	int fd[2], status;
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fd[1]);
	while ((r = read(fd[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)r;
	close(fd[0]);
	out[got] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	snprintf(out + got, sizeof(out) - got, "|%d", WEXITSTATUS(status));
	return out;
}

static void test_exec_body_fields(void **state)
{
	struct dt_exec_params p = {0};
	struct json_object *o, *v;
	char *body;

	(void)state;
	p.command = "echo x";
	body = dt_exec_body(&p);
	o = json_tokener_parse(body);
	/* always bounded: the daemon waits for ever without a timeout */
	assert_true(json_object_object_get_ex(o, "timeout", &v));
	assert_int_equal(json_object_get_int(v), DT_EXEC_DEFAULT_TIMEOUT_S);
	assert_false(json_object_object_get_ex(o, "cwd", &v));
	/* the daemon's ExecuteRequest has no environment field */
	assert_false(json_object_object_get_ex(o, "envs", &v));
	json_object_put(o);
	free(body);
	p.timeout_s = 5;
	p.cwd = "work";
	body = dt_exec_body(&p);
	o = json_tokener_parse(body);
	assert_true(json_object_object_get_ex(o, "timeout", &v));
	assert_int_equal(json_object_get_int(v), 5);
	assert_true(json_object_object_get_ex(o, "cwd", &v));
	assert_string_equal(json_object_get_string(v), "work");
	json_object_put(o);
	free(body);
	p.command = "";
	assert_null(dt_exec_body(&p));
}

/* What the daemon execs is sh with one script: the command and the
 * environment arrive intact, whatever quotes and spaces they hold. */
static void test_exec_body_runs_in_sh_with_env(void **state)
{
	struct dt_kv env[] = {{"K", "it's \"a\" $HOME `x` \\ end"},
	    {"EMPTY", ""}};
	struct dt_exec_params p = {0};
	char buf[8192], *argv[8], *body;

	(void)state;
	p.command = "printf '%s|%s|' \"$K\" \"${EMPTY-unset}\"; exit 3";
	p.env = env;
	p.nenv = 2;
	body = dt_exec_body(&p);
	assert_non_null(body);
	assert_int_equal(body_argv(body, buf, sizeof(buf), argv), 3);
	assert_string_equal(argv[0], "sh");
	assert_string_equal(argv[1], "-c");
	assert_null(strchr(argv[2], '\''));
	assert_string_equal(run_argv(argv),
	    "it's \"a\" $HOME `x` \\ end|||3");
	free(body);
}

static void test_exec_body_rejects_bad_env_and_size(void **state)
{
	struct dt_kv env[] = {{"A=B", "v"}};
	struct dt_exec_params p = {0};
	char *big, *body;

	(void)state;
	p.command = "true";
	p.env = env;
	p.nenv = 1;
	assert_null(dt_exec_body(&p));
	env[0].key = "1A";
	assert_null(dt_exec_body(&p));
	env[0].key = "A-B";
	assert_null(dt_exec_body(&p));
	env[0].key = "A_1";
	body = dt_exec_body(&p);
	assert_non_null(body);
	free(body);
	big = malloc(DT_EXEC_SCRIPT_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', DT_EXEC_SCRIPT_MAX + 1);
	big[DT_EXEC_SCRIPT_MAX + 1] = '\0';
	p.nenv = 0;
	p.command = big;
	assert_null(dt_exec_body(&p));
	big[DT_EXEC_SCRIPT_MAX] = '\0';
	body = dt_exec_body(&p);
	assert_non_null(body);
	free(body);
	free(big);
}

static void test_decode_sandbox(void **state)
{
	struct json_object *o = json_tokener_parse(SANDBOX_JSON);
	struct dt_sandbox s;
	char why[64];

	(void)state;
	assert_int_equal(dt_sandbox_decode(o, &s, why, sizeof(why)), DT_OK);
	assert_string_equal(s.id, "sb-1");
	assert_string_equal(s.name, "omni-abc");
	assert_string_equal(s.state, "started");
	assert_string_equal(s.desired_state, "started");
	assert_string_equal(s.created_at, "2025-01-02T03:04:05Z");
	assert_string_equal(s.toolbox_proxy_url,
	    "https://proxy.example/toolbox");
	assert_string_equal(s.error_reason, "");
	/* the non-string label is skipped */
	assert_int_equal(s.nlabels, 1);
	assert_string_equal(dt_sandbox_label(&s, "omni.user-id"), "u1");
	assert_null(dt_sandbox_label(&s, "n"));
	json_object_put(o);
}

static void test_decode_sandbox_rejects_bad_fields(void **state)
{
	static const char *const bad[] = {
		"{\"name\":\"x\"}",                     /* no id */
		"{\"id\":\"\"}",                        /* empty id */
		"{\"id\":7}",                           /* id not a string */
		"{\"id\":\"a\",\"state\":5}",           /* state not a string */
		"{\"id\":\"a\",\"labels\":[]}",         /* labels not object */
		"[1]",
	};
	struct dt_sandbox s;
	char why[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *o = json_tokener_parse(bad[i]);

		assert_non_null(o);
		assert_int_equal(dt_sandbox_decode(o, &s, why, sizeof(why)),
		    DT_EPROTO);
		assert_true(why[0] != '\0');
		json_object_put(o);
	}
	assert_int_equal(dt_sandbox_decode(NULL, &s, why, sizeof(why)),
	    DT_EPROTO);
}

static void test_parse_time(void **state)
{
	(void)state;
	assert_int_equal(dt_parse_time("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(dt_parse_time("2024-05-01T12:00:00.123Z"),
	    1714564800LL);
	assert_int_equal(dt_parse_time("2024-05-01T14:00:00+02:00"),
	    1714564800LL);
	assert_int_equal(dt_parse_time(
	    "2024-05-01 12:00:00.123456789 +0000 UTC"), 1714564800LL);
	assert_int_equal(dt_parse_time("yesterday"), 0);
	assert_int_equal(dt_parse_time(NULL), 0);
}

static void test_url_escape(void **state)
{
	char *e = dt_url_escape("a b/c?d=é{\"x\"}-_.~");

	(void)state;
	assert_string_equal(e, "a%20b%2Fc%3Fd%3D%C3%A9%7B%22x%22%7D-_.~");
	free(e);
}

/* ---- the engine through the seam --------------------------------------- */

static void test_get_builds_url_and_auth(void **state)
{
	struct dt_client *c = make_client(NULL, "org-1");
	struct dt_sandbox s;
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 200, SANDBOX_JSON, -1);
	assert_int_equal(dt_sandbox_get(c, "omni-abc", &s, &st), DT_OK);
	assert_int_equal(S.calls, 1);
	assert_int_equal(S.methods[0], DT_GET);
	assert_string_equal(S.urls[0],
	    "https://dt.example/api/sandbox/omni-abc");
	assert_string_equal(S.auth[0], "Bearer key-primary");
	assert_string_equal(S.org[0], "org-1");
	assert_int_equal(st.http_status, 200);
	assert_int_equal(st.attempts, 1);
	assert_string_equal(s.id, "sb-1");
	dt_client_free(c);
}

static void test_no_org_header_unless_configured(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);

	(void)state;
	script_reset();
	script_add(DT_OK, 200, SANDBOX_JSON, -1);
	assert_int_equal(dt_sandbox_get(c, "x", NULL, NULL), DT_OK);
	assert_string_equal(S.org[0], "");
	dt_client_free(c);
}

static void test_fallback_key_on_401_is_remembered(void **state)
{
	struct dt_client *c = make_client("key-fallback", NULL);
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 401, "{\"message\":\"Invalid credentials\"}", -1);
	script_add(DT_OK, 200, SANDBOX_JSON, -1);
	script_add(DT_OK, 200, SANDBOX_JSON, -1);
	assert_int_equal(dt_sandbox_get(c, "x", NULL, &st), DT_OK);
	assert_string_equal(S.auth[0], "Bearer key-primary");
	assert_string_equal(S.auth[1], "Bearer key-fallback");
	assert_int_equal(st.used_fallback, 1);
	assert_int_equal(dt_client_key_in_use(c), 1);
	/* the next call goes straight to the fallback */
	assert_int_equal(dt_sandbox_get(c, "x", NULL, &st), DT_OK);
	assert_int_equal(S.calls, 3);
	assert_string_equal(S.auth[2], "Bearer key-fallback");
	/* a reload resets the choice */
	assert_int_equal(dt_client_set_keys(c, "key-new", NULL), DT_OK);
	assert_int_equal(dt_client_key_in_use(c), 0);
	dt_client_free(c);
}

static void test_fallback_also_for_create(void **state)
{
	struct dt_client *c = make_client("key-fallback", NULL);
	struct dt_create_params p = {0};
	struct dt_status st;

	(void)state;
	p.name = "omni-abc";
	p.auto_stop_minutes = p.auto_archive_minutes =
	    p.auto_delete_minutes = -1;
	script_reset();
	script_add(DT_OK, 401, NULL, -1);
	script_add(DT_OK, 200, SANDBOX_JSON, -1);
	assert_int_equal(dt_sandbox_create(c, &p, NULL, &st), DT_OK);
	assert_int_equal(S.calls, 2);
	assert_string_equal(S.ctype[0], "application/json");
	dt_client_free(c);
}

static void test_both_keys_refused(void **state)
{
	struct dt_client *c = make_client("key-fallback", NULL);
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 401, NULL, -1);
	script_add(DT_OK, 401, NULL, -1);
	assert_int_equal(dt_sandbox_get(c, "x", NULL, &st), DT_EAUTH);
	assert_int_equal(st.attempts, 2);
	assert_int_equal(st.http_status, 401);
	assert_int_equal(dt_client_key_in_use(c), 0);
	dt_client_free(c);
}

static void test_429_retried_after_hint(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 429, NULL, 2000);
	script_add(DT_OK, 200, SANDBOX_JSON, -1);
	assert_int_equal(dt_sandbox_get(c, "x", NULL, &st), DT_OK);
	assert_int_equal(S.nsleeps, 1);
	assert_int_equal(S.slept[0], 2000);
	assert_int_equal(st.attempts, 2);
	dt_client_free(c);
}

static void test_429_beyond_budget_gives_up_with_hint(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 429, "{\"message\":\"ThrottlerException\"}", 60000);
	assert_int_equal(dt_sandbox_get(c, "x", NULL, &st), DT_ERATELIMIT);
	assert_int_equal(S.nsleeps, 0);
	assert_int_equal(st.retry_after_ms, 60000);
	dt_client_free(c);
}

static void test_network_errors_retried_until_max(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_status st;
	int i;

	(void)state;
	script_reset();
	for (i = 0; i < 4; i++)
		script_add(DT_ENETWORK, 0, NULL, -1);
	assert_int_equal(dt_sandbox_delete(c, "x", &st), DT_ENETWORK);
	assert_int_equal(S.calls, 4);
	assert_int_equal(S.nsleeps, 3);
	/* 50, 100, 200 with jitter 0.5 of [d/2, d] */
	assert_int_equal(S.slept[0], 75);
	assert_int_equal(S.slept[1], 150);
	assert_int_equal(S.slept[2], 300);
	assert_int_equal(S.methods[0], DT_DELETE);
	dt_client_free(c);
}

/* /ready's probe: one GET, its own short deadline, never retried. */
static void test_ping_is_one_quick_attempt(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 503, "{}", 2000);
	script_add(DT_OK, 200, "{\"items\":[]}", -1);
	assert_int_equal(dt_ping(c, 1500, &st), DT_EUNAVAILABLE);
	assert_int_equal(S.calls, 1);
	assert_int_equal(S.nsleeps, 0);
	assert_int_equal(S.timeouts[0], 1500);
	assert_int_equal(S.methods[0], DT_GET);
	assert_non_null(strstr(S.urls[0], "/sandbox?limit=1"));
	assert_int_equal(st.retry_after_ms, 2000);
	script_reset();
	script_add(DT_OK, 200, "{\"items\":[]}", -1);
	assert_int_equal(dt_ping(c, 1500, &st), DT_OK);
	assert_int_equal(dt_ping(c, 0, &st), DT_EINVAL);
	dt_client_free(c);
}

static void test_create_not_retried_on_503(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_create_params p = {0};
	struct dt_status st;

	(void)state;
	p.name = "omni-abc";
	p.auto_stop_minutes = p.auto_archive_minutes =
	    p.auto_delete_minutes = -1;
	script_reset();
	script_add(DT_OK, 503, NULL, -1);
	assert_int_equal(dt_sandbox_create(c, &p, NULL, &st), DT_EUNAVAILABLE);
	assert_int_equal(S.calls, 1);
	script_reset();
	script_add(DT_ENETWORK, 0, NULL, -1);
	assert_int_equal(dt_sandbox_create(c, &p, NULL, &st), DT_ENETWORK);
	assert_int_equal(S.calls, 1);
	dt_client_free(c);
}

static void test_start_retried_on_502(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 502, NULL, -1);
	script_add(DT_OK, 200, SANDBOX_JSON, -1);
	assert_int_equal(dt_sandbox_start(c, "sb-1", NULL, &st), DT_OK);
	assert_string_equal(S.urls[1],
	    "https://dt.example/api/sandbox/sb-1/start");
	assert_int_equal(S.methods[1], DT_POST);
	/* lifecycle calls get the long timeout */
	assert_int_equal(S.timeouts[1], 60000);
	dt_client_free(c);
}

static void test_garbage_answer_is_proto_error(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 200, "{\"id\":\"x\"} trailing", -1);
	assert_int_equal(dt_sandbox_get(c, "x", NULL, &st), DT_EPROTO);
	script_reset();
	script_add(DT_OK, 200, NULL, -1);
	assert_int_equal(dt_sandbox_get(c, "x", NULL, &st), DT_EPROTO);
	dt_client_free(c);
}

static void test_list_by_labels(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_kv l = {"omni.user-id", "u1"};
	struct dt_sandbox *items;
	size_t n;

	(void)state;
	script_reset();
	script_add(DT_OK, 200, "{\"items\":[" SANDBOX_JSON "," SANDBOX_JSON
	    "],\"nextCursor\":null}", -1);
	assert_int_equal(dt_sandbox_list(c, &l, 1, 5, &items, &n, NULL), DT_OK);
	assert_string_equal(S.urls[0], "https://dt.example/api/sandbox?limit=5"
	    "&labels=%7B%22omni.user-id%22%3A%22u1%22%7D");
	assert_int_equal(n, 2);
	assert_string_equal(items[1].id, "sb-1");
	free(items);
	/* an old API's bare array is accepted too */
	script_reset();
	script_add(DT_OK, 200, "[" SANDBOX_JSON "]", -1);
	assert_int_equal(dt_sandbox_list(c, NULL, 0, 5, &items, &n, NULL),
	    DT_OK);
	assert_int_equal(n, 1);
	free(items);
	assert_int_equal(dt_sandbox_list(c, NULL, 0, 0, &items, &n, NULL),
	    DT_EINVAL);
	dt_client_free(c);
}

static void test_bad_ids_never_reach_the_wire(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);

	(void)state;
	script_reset();
	assert_int_equal(dt_sandbox_get(c, "", NULL, NULL), DT_EINVAL);
	assert_int_equal(dt_sandbox_get(c, "a b", NULL, NULL), DT_EINVAL);
	assert_int_equal(dt_sandbox_get(c, "a\nb", NULL, NULL), DT_EINVAL);
	assert_int_equal(dt_sandbox_delete(c, NULL, NULL), DT_EINVAL);
	assert_int_equal(S.calls, 0);
	dt_client_free(c);
}

static void test_exec_timeout_output_and_proxy_cache(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_exec_params p = {0};
	struct dt_exec_result r;
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 200, "{\"url\":\"https://proxy.example/toolbox/\"}",
	    -1);
	script_add(DT_OK, 200, "{\"exitCode\":3,\"result\":\"hello world\"}",
	    -1);
	p.command = "echo hello world";
	p.timeout_s = 7;
	p.max_output = 5;
	assert_int_equal(dt_process_execute(c, "sb-1", &p, &r, &st), DT_OK);
	assert_string_equal(S.urls[0],
	    "https://dt.example/api/sandbox/sb-1/toolbox-proxy-url");
	assert_string_equal(S.urls[1],
	    "https://proxy.example/toolbox/sb-1/process/execute");
	/* bounded by the command's timeout plus the margin */
	assert_int_equal(S.timeouts[1], 7000 + 15000);
	assert_int_equal(r.exit_code, 3);
	assert_int_equal(r.truncated, 1);
	assert_int_equal(r.output_len, 5);
	assert_string_equal(r.output, "hello");
	dt_exec_result_free(&r);

	/* the proxy URL is cached; the daemon's 408 is a timed-out command */
	script_reset();
	script_add(DT_OK, 408, "{\"message\":\"command execution timeout\"}",
	    -1);
	assert_int_equal(dt_process_execute(c, "sb-1", &p, &r, &st), DT_OK);
	assert_int_equal(S.calls, 1);
	assert_int_equal(r.timed_out, 1);
	assert_int_equal(r.exit_code, 137);
	dt_exec_result_free(&r);

	/* a command is never sent twice */
	script_reset();
	script_add(DT_ENETWORK, 0, NULL, -1);
	assert_int_equal(dt_process_execute(c, "sb-1", &p, &r, &st),
	    DT_ENETWORK);
	assert_int_equal(S.calls, 1);
	assert_null(r.output);
	dt_client_free(c);
}

static void test_exec_negative_exit_code(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_exec_params p = {0};
	struct dt_exec_result r;

	(void)state;
	script_reset();
	script_add(DT_OK, 200, "{\"url\":\"http://p/t\"}", -1);
	script_add(DT_OK, 200, "{\"exitCode\":-1,\"result\":\"\"}", -1);
	p.command = "x";
	assert_int_equal(dt_process_execute(c, "sb-1", &p, &r, NULL), DT_OK);
	assert_int_equal(r.exit_code, 255);
	dt_exec_result_free(&r);
	script_reset();
	script_add(DT_OK, 200, "{\"result\":\"no code\"}", -1);
	assert_int_equal(dt_process_execute(c, "sb-1", &p, &r, NULL),
	    DT_EPROTO);
	dt_client_free(c);
}

static void test_upload_is_multipart(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 200, "{\"url\":\"http://p/t\"}", -1);
	script_add(DT_OK, 200, NULL, -1);
	assert_int_equal(dt_file_upload(c, "sb-1", ".omni/a b.json", "DATA", 4,
	    &st), DT_OK);
	assert_string_equal(S.urls[1],
	    "http://p/t/sb-1/files/upload?path=.omni%2Fa%20b.json");
	assert_true(strncmp(S.ctype[1], "multipart/form-data; boundary=omni-",
	    35) == 0);
	assert_non_null(strstr(S.bodies[1],
	    "name=\"file\"; filename=\"a b.json\""));
	assert_non_null(strstr(S.bodies[1], "\r\n\r\nDATA\r\n--omni-"));
	dt_client_free(c);
}

static void test_download_cap_and_missing(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_status st;
	char *data;
	size_t len;

	(void)state;
	script_reset();
	script_add(DT_OK, 200, "{\"url\":\"http://p/t\"}", -1);
	script_add(DT_OK, 200, "0123456789", -1);
	assert_int_equal(dt_file_download(c, "sb-1", "f", 4, &data, &len, &st),
	    DT_ETOOLARGE);
	assert_null(data);
	assert_int_equal(S.max_response[1], 4);
	script_reset();
	script_add(DT_OK, 404, "{\"message\":\"no such file\"}", -1);
	assert_int_equal(dt_file_download(c, "sb-1", "f", 4, &data, &len, &st),
	    DT_ENOTFOUND);
	script_reset();
	script_add(DT_OK, 200, NULL, -1);
	assert_int_equal(dt_file_download(c, "sb-1", "f", 4, &data, &len, &st),
	    DT_OK);
	assert_string_equal(data, "");
	assert_int_equal(len, 0);
	free(data);
	dt_client_free(c);
}

static void test_file_list_decodes(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_file_info *items;
	size_t n;

	(void)state;
	script_reset();
	script_add(DT_OK, 200, "{\"url\":\"http://p/t\"}", -1);
	script_add(DT_OK, 200, "[{\"name\":\"a\",\"isDir\":true,\"size\":4096,"
	    "\"modTime\":\"2024-05-01 12:00:00 +0000 UTC\"},{\"name\":\"b.md\","
	    "\"isDir\":false,\"size\":12}]", -1);
	assert_int_equal(dt_file_list(c, "sb-1", ".", &items, &n, NULL), DT_OK);
	assert_int_equal(n, 2);
	assert_string_equal(items[0].name, "a");
	assert_true(items[0].is_dir);
	assert_int_equal(items[0].mtime, 1714564800LL);
	assert_int_equal(items[1].size, 12);
	dt_file_info_free(items, n);
	script_reset();
	script_add(DT_OK, 200, "[{\"name\":\"../x\"}]", -1);
	assert_int_equal(dt_file_list(c, "sb-1", ".", &items, &n, NULL),
	    DT_EPROTO);
	dt_client_free(c);
}

/* ---- sessions ------------------------------------------------------------ */

static void test_session_create_and_exists(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 200, "{\"url\":\"http://p/t\"}", -1);
	script_add(DT_OK, 201, NULL, -1);
	assert_int_equal(dt_session_create(c, "sb-1", "omni-job-a", &st),
	    DT_OK);
	assert_string_equal(S.urls[1], "http://p/t/sb-1/process/session");
	assert_int_equal(S.methods[1], DT_POST);
	assert_string_equal(S.bodies[1], "{\"sessionId\":\"omni-job-a\"}");
	assert_string_equal(S.ctype[1], "application/json");
	/* a taken id, in either of the daemons' words */
	script_reset();
	script_add(DT_OK, 409, "{\"message\":\"session already exists\"}", -1);
	assert_int_equal(dt_session_create(c, "sb-1", "omni-job-a", &st),
	    DT_ECONFLICT);
	script_reset();
	script_add(DT_OK, 400, "{\"message\":\"session omni-job-a already "
	    "exists\"}", -1);
	assert_int_equal(dt_session_create(c, "sb-1", "omni-job-a", &st),
	    DT_ECONFLICT);
	assert_int_equal(st.err, DT_ECONFLICT);
	script_reset();
	script_add(DT_OK, 400, "{\"message\":\"sessionId is required\"}", -1);
	assert_int_equal(dt_session_create(c, "sb-1", "omni-job-a", &st),
	    DT_EBADREQUEST);
	/* retried like the idempotent calls */
	script_reset();
	script_add(DT_OK, 503, NULL, -1);
	script_add(DT_OK, 201, NULL, -1);
	assert_int_equal(dt_session_create(c, "sb-1", "omni-job-a", &st),
	    DT_OK);
	assert_int_equal(S.calls, 2);
	/* bad ids never reach the wire */
	script_reset();
	assert_int_equal(dt_session_create(c, "sb-1", "a b", &st), DT_EINVAL);
	assert_int_equal(dt_session_create(c, "sb-1", "", &st), DT_EINVAL);
	assert_int_equal(dt_session_create(c, "", "s", &st), DT_EINVAL);
	assert_int_equal(S.calls, 0);
	dt_client_free(c);
}

static void test_session_decode(void **state)
{
	struct dt_session_info si;
	char why[128];
	const char *s;

	(void)state;
	s = "{\"sessionId\":\"s\",\"commands\":null}";
	assert_int_equal(dt_session_decode(s, strlen(s), &si, why,
	    sizeof(why)), DT_OK);
	assert_int_equal(si.ncommands, 0);
	assert_string_equal(si.first_id, "");
	s = "{\"sessionId\":\"s\"}";
	assert_int_equal(dt_session_decode(s, strlen(s), &si, NULL, 0), DT_OK);
	assert_int_equal(si.ncommands, 0);
	/* running: exitCode absent, or null */
	s = "{\"sessionId\":\"s\",\"commands\":[{\"id\":\"c1\",\"command\":"
	    "\"x\"},{\"id\":\"c2\",\"command\":\"y\",\"exitCode\":null}]}";
	assert_int_equal(dt_session_decode(s, strlen(s), &si, why,
	    sizeof(why)), DT_OK);
	assert_int_equal(si.ncommands, 2);
	assert_int_equal(si.nrunning, 2);
	assert_string_equal(si.first_id, "c1");
	assert_int_equal(si.first_has_exit, 0);
	/* ended */
	s = "{\"sessionId\":\"s\",\"commands\":[{\"id\":\"c1\",\"command\":"
	    "\"x\",\"exitCode\":3},{\"id\":\"c2\",\"exitCode\":0}]}";
	assert_int_equal(dt_session_decode(s, strlen(s), &si, why,
	    sizeof(why)), DT_OK);
	assert_int_equal(si.ncommands, 2);
	assert_int_equal(si.nrunning, 0);
	assert_int_equal(si.first_has_exit, 1);
	assert_int_equal(si.first_exit_code, 3);
	/* junk */
	s = "[]";
	assert_int_equal(dt_session_decode(s, strlen(s), &si, why,
	    sizeof(why)), DT_EPROTO);
	s = "{\"commands\":{}}";
	assert_int_equal(dt_session_decode(s, strlen(s), &si, why,
	    sizeof(why)), DT_EPROTO);
	s = "{\"commands\":[{\"command\":\"x\"}]}";
	assert_int_equal(dt_session_decode(s, strlen(s), &si, why,
	    sizeof(why)), DT_EPROTO);
	assert_non_null(strstr(why, "id"));
	s = "{\"commands\":[{\"id\":\"c\",\"exitCode\":\"0\"}]}";
	assert_int_equal(dt_session_decode(s, strlen(s), &si, why,
	    sizeof(why)), DT_EPROTO);
	assert_int_equal(si.ncommands, 0);
	s = "{\"commands\":[7]}";
	assert_int_equal(dt_session_decode(s, strlen(s), &si, why,
	    sizeof(why)), DT_EPROTO);
	assert_int_equal(dt_session_decode(NULL, 0, &si, why, sizeof(why)),
	    DT_EPROTO);
}

static void test_session_get_and_delete(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	struct dt_session_info si;
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 200, "{\"url\":\"http://p/t\"}", -1);
	script_add(DT_OK, 200, "{\"sessionId\":\"x?y\",\"commands\":[{\"id\":"
	    "\"c1\",\"command\":\"sleep 1\"}]}", -1);
	assert_int_equal(dt_session_get(c, "sb-1", "x?y", &si, &st), DT_OK);
	/* the id is one path segment, whatever it holds */
	assert_string_equal(S.urls[1], "http://p/t/sb-1/process/session/x%3Fy");
	assert_int_equal(S.methods[1], DT_GET);
	assert_int_equal(si.ncommands, 1);
	assert_int_equal(si.nrunning, 1);
	script_reset();
	script_add(DT_OK, 404, "{\"message\":\"session not found\"}", -1);
	assert_int_equal(dt_session_get(c, "sb-1", "s", &si, &st),
	    DT_ENOTFOUND);
	assert_int_equal(si.ncommands, 0);
	script_reset();
	script_add(DT_OK, 200, "not json", -1);
	assert_int_equal(dt_session_get(c, "sb-1", "s", &si, &st), DT_EPROTO);
	script_reset();
	script_add(DT_OK, 200, NULL, -1);
	assert_int_equal(dt_session_delete(c, "sb-1", "omni-job-a", &st),
	    DT_OK);
	assert_string_equal(S.urls[0],
	    "http://p/t/sb-1/process/session/omni-job-a");
	assert_int_equal(S.methods[0], DT_DELETE);
	script_reset();
	script_add(DT_OK, 404, NULL, -1);
	assert_int_equal(dt_session_delete(c, "sb-1", "omni-job-a", &st),
	    DT_ENOTFOUND);
	dt_client_free(c);
}

static void test_session_exec_async(void **state)
{
	struct dt_client *c = make_client(NULL, NULL);
	char cmd_id[DT_CMD_ID_MAX], *big;
	struct json_object *body, *v;
	struct dt_status st;

	(void)state;
	script_reset();
	script_add(DT_OK, 200, "{\"url\":\"http://p/t\"}", -1);
	script_add(DT_OK, 202, "{\"cmdId\":\"cmd-7\"}", -1);
	assert_int_equal(dt_session_exec_async(c, "sb-1", "omni-job-a",
	    "cd \"$HOME\" && 'true'", cmd_id, sizeof(cmd_id), &st), DT_OK);
	assert_string_equal(cmd_id, "cmd-7");
	assert_string_equal(S.urls[1],
	    "http://p/t/sb-1/process/session/omni-job-a/exec");
	body = json_tokener_parse(S.bodies[1]);
	assert_non_null(body);
	assert_true(json_object_object_get_ex(body, "command", &v));
	assert_string_equal(json_object_get_string(v),
	    "cd \"$HOME\" && 'true'");
	assert_true(json_object_object_get_ex(body, "runAsync", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(body, "async", &v));
	assert_true(json_object_get_boolean(v));
	json_object_put(body);
	/* sent once: it may have started */
	script_reset();
	script_add(DT_OK, 503, NULL, -1);
	assert_int_equal(dt_session_exec_async(c, "sb-1", "s", "x", NULL, 0,
	    &st), DT_EUNAVAILABLE);
	assert_int_equal(S.calls, 1);
	script_reset();
	script_add(DT_ENETWORK, 0, NULL, -1);
	assert_int_equal(dt_session_exec_async(c, "sb-1", "s", "x", NULL, 0,
	    &st), DT_ENETWORK);
	assert_int_equal(S.calls, 1);
	/* no cmdId: the answer is not understood */
	script_reset();
	script_add(DT_OK, 200, "{}", -1);
	assert_int_equal(dt_session_exec_async(c, "sb-1", "s", "x", cmd_id,
	    sizeof(cmd_id), &st), DT_EPROTO);
	/* refused before the wire */
	script_reset();
	assert_int_equal(dt_session_exec_async(c, "sb-1", "s", "", NULL, 0,
	    &st), DT_EINVAL);
	big = malloc(DT_EXEC_SCRIPT_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', DT_EXEC_SCRIPT_MAX + 1);
	big[DT_EXEC_SCRIPT_MAX + 1] = '\0';
	assert_int_equal(dt_session_exec_async(c, "sb-1", "s", big, NULL, 0,
	    &st), DT_ETOOLARGE);
	free(big);
	assert_int_equal(S.calls, 0);
	dt_client_free(c);
}

/* shell_quote() gives sh the bytes back: printf them through a real sh. */
static void test_sh_quote_round_trips(void **state)
{
	static const char *const words[] = {
		"", "plain", "a b", "it's", "'''", "'\\''",
		"$(echo no) `echo no` $HOME ${X:-y} \\ \" * ? ~ # ; & |",
		"line\nbreak\ttab", "non-ASCII \xc3\xa9 \xe6\x97\xa5",
	};
	char cmd[512], out[512];
	size_t i, n, len;
	FILE *f;

	(void)state;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		n = (size_t)snprintf(cmd, sizeof(cmd), "printf %%s ");
		len = shell_quote(NULL, words[i]);
		assert_true(n + len < sizeof(cmd));
		assert_int_equal(shell_quote(cmd + n, words[i]), len);
		assert_int_equal(strlen(cmd + n), len);
		f = popen(cmd, "r");
		assert_non_null(f);
		n = fread(out, 1, sizeof(out) - 1, f);
		out[n] = '\0';
		assert_int_equal(pclose(f), 0);
		assert_string_equal(out, words[i]);
	}
	shell_quote(cmd, "it's");
	assert_string_equal(cmd, "'it'\\''s'");
}

static void test_client_options_validated(void **state)
{
	struct dt_client_opts o = {0};
	enum dt_err err;

	(void)state;
	assert_null(dt_client_new(NULL, &err));
	assert_int_equal(err, DT_EINVAL);
	o.api_url = "ftp://x";
	o.api_key = "k";
	assert_null(dt_client_new(&o, &err));
	assert_int_equal(err, DT_EINVAL);
	o.api_url = "http://x";
	o.api_key = "";
	assert_null(dt_client_new(&o, &err));
	o.api_key = "k";
	dt_client_free(dt_client_new(&o, &err));
	assert_int_equal(err, DT_OK);
	assert_string_equal(dt_strerror(DT__MAX), "unknown Daytona error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_never_for_non_idempotent),
		cmocka_unit_test(test_retry_statuses),
		cmocka_unit_test(test_retry_backoff_grows_with_jitter_and_cap),
		cmocka_unit_test(test_retry_honours_retry_after),
		cmocka_unit_test(test_retry_stops_at_max_attempts),
		cmocka_unit_test(test_retry_after_seconds_and_throttler),
		cmocka_unit_test(test_retry_after_http_date),
		cmocka_unit_test(test_retry_after_rejects_others),
		cmocka_unit_test(test_error_mapping_by_status),
		cmocka_unit_test(test_error_quota_messages),
		cmocka_unit_test(test_error_message_is_sanitised),
		cmocka_unit_test(test_create_body_fields),
		cmocka_unit_test(
		    test_create_body_omits_defaults_and_rejects_bad),
		cmocka_unit_test(test_exec_body_fields),
		cmocka_unit_test(test_exec_body_runs_in_sh_with_env),
		cmocka_unit_test(test_exec_body_rejects_bad_env_and_size),
		cmocka_unit_test(test_decode_sandbox),
		cmocka_unit_test(test_decode_sandbox_rejects_bad_fields),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_url_escape),
		cmocka_unit_test(test_get_builds_url_and_auth),
		cmocka_unit_test(test_no_org_header_unless_configured),
		cmocka_unit_test(test_fallback_key_on_401_is_remembered),
		cmocka_unit_test(test_fallback_also_for_create),
		cmocka_unit_test(test_both_keys_refused),
		cmocka_unit_test(test_429_retried_after_hint),
		cmocka_unit_test(test_429_beyond_budget_gives_up_with_hint),
		cmocka_unit_test(test_network_errors_retried_until_max),
		cmocka_unit_test(test_ping_is_one_quick_attempt),
		cmocka_unit_test(test_create_not_retried_on_503),
		cmocka_unit_test(test_start_retried_on_502),
		cmocka_unit_test(test_garbage_answer_is_proto_error),
		cmocka_unit_test(test_list_by_labels),
		cmocka_unit_test(test_bad_ids_never_reach_the_wire),
		cmocka_unit_test(test_exec_timeout_output_and_proxy_cache),
		cmocka_unit_test(test_exec_negative_exit_code),
		cmocka_unit_test(test_upload_is_multipart),
		cmocka_unit_test(test_download_cap_and_missing),
		cmocka_unit_test(test_file_list_decodes),
		cmocka_unit_test(test_session_create_and_exists),
		cmocka_unit_test(test_session_decode),
		cmocka_unit_test(test_session_get_and_delete),
		cmocka_unit_test(test_session_exec_async),
		cmocka_unit_test(test_sh_quote_round_trips),
		cmocka_unit_test(test_client_options_validated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
