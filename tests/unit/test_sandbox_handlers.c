/*
 * test_sandbox_handlers.c -- the sandbox endpoints (handlers/sandbox.c) on
 * the local provider in a temporary data directory: the contract's
 * response shapes, reuse and restart, validation errors naming the field,
 * 404 for unknown sandboxes, the error model for provider failures, and
 * the /ready check; and POST /debug/sandbox/exec (handlers/debug.c), which
 * runs a command through the same provider.
 *
 * Requests are built from FastCGI-style params with http_request_parse();
 * the JSON body is parsed as the router does for JSON routes.  The owner
 * rule under OMNI_AUTH=jwt is checked through the real router, with HS256
 * bearer tokens made here with OpenSSL's HMAC, so the subject the handlers
 * compare is the one the router verified.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "jwt_token.h"


#include "config.h"
#include "handler_call.h"
#include "handlers.h"
#include "http.h"
#include "json_util.h"
#include "omni_worker.h"
#include "router.h"
#include "sandbox.h"
#include "sandbox_daytona.h"
#include "sandbox_local.h"
#include "timeutil.h"
#include "rm_tree.h"

static char dir[64];
static struct omni_config cfg;
/* The worker context the handlers are served with (omni_worker.h). */
static struct omni_worker worker;

/* sandbox_handlers_init on a fresh context for 'c'. */
static int init_with(const struct omni_config *c, char *err, size_t len)
{
	memset(&worker, 0, sizeof(worker));
	worker.cfg = c;
	pthread_mutex_init(&worker.ready.mu, NULL);
	return sandbox_handlers_init(&worker, err, len);
}

/*
 * Call 'h' with a request for 'method' 'uri' ("/path?query") and, when
 * 'json' is not NULL, that JSON body (handler_call.h).
 */
static struct handler_reply call(route_handler h, const char *method,
    const char *uri, const char *json)
{
	return handler_call(h, &worker, &cfg, NULL, 65536, method, uri, json);
}

static const char *str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		return NULL;
	return json_object_get_string(v);
}

static const char *err_code(struct handler_reply *r)
{
	struct json_object *e;

	if (!json_object_object_get_ex(r->json, "error", &e))
		return "";
	return str(e, "code");
}

static const char *err_field(struct handler_reply *r)
{
	struct json_object *e, *d;

	if (!json_object_object_get_ex(r->json, "error", &e) ||
	    !json_object_object_get_ex(e, "details", &d))
		return "";
	return str(d, "field");
}

static void done(struct handler_reply *r)
{
	json_object_put(r->json);
	r->json = NULL;
}

/* ---- the owner rule under OMNI_AUTH=jwt, through the router ---- */

static char jwt_secret[] = "handlers-test-secret-0123456789abcdef";

/* The Authorization param: an HS256 token for subject 'sub', valid for an
 * hour, signed with jwt_secret. */
static void bearer_for(const char *sub, char *out, size_t outlen)
{
	char payload[256];

	snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":%lld}",
	    sub, (long long)time(NULL) + 3600);
	jwt_bearer_param(out, outlen, payload, jwt_secret);
}

static void use_jwt(void)
{
	cfg.auth = CFG_AUTH_JWT;
	cfg.jwt_secret = jwt_secret;
}

/*
 * As call(), through router_dispatch() on a one-route table (a user
 * route, JSON when 'json' is not NULL), with a bearer token for 'sub'
 * when 'sub' is not NULL.
 */
static struct handler_reply call_as(const char *sub, route_handler h,
    const char *method, const char *uri, const char *json)
{
	char m[48], u[512], path[512], q[512], cl[48], auth[1024];
	char *envp[8];
	struct http_request req;
	struct http_response resp;
	struct handler_body b = { json, json ? strlen(json) : 0, 0 };
	struct route row;
	struct handler_reply r;
	const char *qs = strchr(uri, '?');
	int n = 0;

	snprintf(m, sizeof(m), "REQUEST_METHOD=%s", method);
	snprintf(u, sizeof(u), "REQUEST_URI=%s", uri);
	snprintf(path, sizeof(path), "%.*s",
	    (int)(qs ? (size_t)(qs - uri) : strlen(uri)), uri);
	snprintf(q, sizeof(q), "QUERY_STRING=%s", qs ? qs + 1 : "");
	snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", b.len);
	envp[n++] = m;
	envp[n++] = u;
	envp[n++] = q;
	if (json != NULL) {
		envp[n++] = cl;
		envp[n++] = (char *)(uintptr_t)"CONTENT_TYPE=application/json";
	}
	if (sub != NULL) {
		bearer_for(sub, auth, sizeof(auth));
		envp[n++] = auth;
	}
	envp[n] = NULL;
	row = (struct route){ method, path, h,
	    json != NULL ? ROUTE_BODY_JSON : ROUTE_BODY_NONE, ROUTE_USER, 0, 0 };
	assert_int_equal(http_request_parse(&req, envp, handler_read_body, &b, 65536,
	    &cfg), HTTP_PARSE_OK);
	req.app = &worker;
	http_response_init(&resp);
	router_dispatch(&row, 1, &req, &resp);
	memset(&r, 0, sizeof(r));
	r.status = resp.status;
	snprintf(r.content_type, sizeof(r.content_type), "%s",
	    resp.content_type ? resp.content_type : "");
	r.json = resp.body ? json_tokener_parse(resp.body) : NULL;
	http_response_free(&resp);
	http_request_free(&req);
	return r;
}

/* Create the sandbox of 'user' as 'user'; its id into 'id'. */
static void create_as(const char *user, char *id, size_t len)
{
	char body[160];
	struct handler_reply r;

	snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", user);
	r = call_as(cfg.auth == CFG_AUTH_JWT ? user : NULL,
	    handle_sandbox_create, "POST", "/api/sandbox/create", body);
	assert_int_equal(r.status, 200);
	snprintf(id, len, "%s", str(r.json, "sandboxId"));
	done(&r);
}

/* Does the local sandbox directory of 'id' exist? */
static int sandbox_dir_exists(const char *id)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/sandboxes/%s", dir, id);
	return stat(path, &st) == 0;
}


static int setup(void **state)
{
	char err[256];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/omni-sbxh-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.provider = CFG_PROVIDER_LOCAL;
	cfg.data_dir = dir;
	if (init_with(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "init: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sandbox_handlers_fini(&worker);
	rm_tree(dir);
	return 0;
}

static void create_answers_contract_shape(void **state)
{
	struct handler_reply r;

	(void)state;
	r = call(handle_sandbox_create, "POST", "/api/sandbox/create",
	    "{\"userId\":\"alice\"}");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/json");
	assert_int_equal(json_object_object_length(r.json), 4);
	assert_string_equal(str(r.json, "sandboxId"),
	    "omni-2bd806c97f0e00af1a1fc3328fa763a9");
	assert_string_equal(str(r.json, "status"), "ready");
	assert_string_equal(str(r.json, "userId"), "alice");
	assert_non_null(str(r.json, "createdAt"));
	assert_int_equal(strlen(str(r.json, "createdAt")), 24);
	done(&r);
}

static void create_reuses_the_users_sandbox(void **state)
{
	struct handler_reply a, b;

	(void)state;
	a = call(handle_sandbox_create, "POST", "/api/sandbox/create",
	    "{\"userId\":\"alice\"}");
	b = call(handle_sandbox_create, "POST", "/api/sandbox/create",
	    "{\"userId\":\"alice\"}");
	assert_int_equal(b.status, 200);
	assert_string_equal(str(a.json, "sandboxId"), str(b.json, "sandboxId"));
	assert_string_equal(str(a.json, "createdAt"), str(b.json, "createdAt"));
	done(&a);
	done(&b);
}

static void create_restarts_a_stopped_sandbox(void **state)
{
	struct sbx_local_opts o;
	struct sbx_provider *p;
	struct handler_reply a, s, b;

	(void)state;
	a = call(handle_sandbox_create, "POST", "/api/sandbox/create",
	    "{\"userId\":\"alice\"}");
	/* Another process (a second provider on the same data directory)
	 * stops it. */
	memset(&o, 0, sizeof(o));
	o.data_dir = dir;
	assert_int_equal(sbx_local_new_opts(&o, &p, NULL, 0), SBX_OK);
	assert_int_equal(p->ops->stop(p, str(a.json, "sandboxId"), NULL), SBX_OK);
	sbx_provider_free(p);
	s = call(handle_sandbox_status, "GET",
	    "/api/sandbox/status?id=omni-2bd806c97f0e00af1a1fc3328fa763a9",
	    NULL);
	assert_string_equal(str(s.json, "status"), "stopped");
	b = call(handle_sandbox_create, "POST", "/api/sandbox/create",
	    "{\"userId\":\"alice\"}");
	assert_int_equal(b.status, 200);
	assert_string_equal(str(b.json, "status"), "ready");
	assert_string_equal(str(a.json, "sandboxId"), str(b.json, "sandboxId"));
	done(&a);
	done(&s);
	done(&b);
}

static void create_validation_names_the_field(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"userId\":null}",
		"{\"userId\":42}",
		"{\"userId\":\"\"}",
		"{\"userId\":\"a/b\"}",
		"{\"userId\":\"tab\\there\"}",
		"{\"userId\":\"caf\\u00e9\"}",
		"{\"user\":\"alice\"}",
	};
	char big[300];
	struct handler_reply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = call(handle_sandbox_create, "POST", "/api/sandbox/create",
		    bad[i]);
		if (r.status != 400)
			fail_msg("%s: status %d", bad[i], r.status);
		assert_string_equal(err_code(&r), "VALIDATION_ERROR");
		assert_string_equal(err_field(&r), "userId");
		done(&r);
	}
	snprintf(big, sizeof(big), "{\"userId\":\"%0200d\"}", 0);
	r = call(handle_sandbox_create, "POST", "/api/sandbox/create", big);
	assert_int_equal(r.status, 400);
	assert_string_equal(err_field(&r), "userId");
	done(&r);
}

static void status_answers_contract_shape(void **state)
{
	struct handler_reply c, s;
	char uri[128];

	(void)state;
	c = call(handle_sandbox_create, "POST", "/api/sandbox/create",
	    "{\"userId\":\"bob\"}");
	snprintf(uri, sizeof(uri), "/api/sandbox/status?id=%s",
	    str(c.json, "sandboxId"));
	s = call(handle_sandbox_status, "GET", uri, NULL);
	assert_int_equal(s.status, 200);
	assert_int_equal(json_object_object_length(s.json), 3);
	assert_string_equal(str(s.json, "sandboxId"), str(c.json, "sandboxId"));
	assert_string_equal(str(s.json, "status"), "ready");
	assert_string_equal(str(s.json, "createdAt"), str(c.json, "createdAt"));
	done(&c);
	done(&s);
}

static void status_errors(void **state)
{
	struct handler_reply r;

	(void)state;
	r = call(handle_sandbox_status, "GET", "/api/sandbox/status", NULL);
	assert_int_equal(r.status, 400);
	assert_string_equal(err_field(&r), "id");
	done(&r);
	r = call(handle_sandbox_status, "GET", "/api/sandbox/status?id=", NULL);
	assert_int_equal(r.status, 400);
	done(&r);
	r = call(handle_sandbox_status, "GET",
	    "/api/sandbox/status?id=..%2F..%2Fetc", NULL);
	assert_int_equal(r.status, 400);
	assert_string_equal(err_field(&r), "id");
	done(&r);
	r = call(handle_sandbox_status, "GET",
	    "/api/sandbox/status?id=omni-00000000000000000000000000000000",
	    NULL);
	assert_int_equal(r.status, 404);
	assert_string_equal(err_code(&r), "SANDBOX_NOT_FOUND");
	assert_string_equal(r.content_type, "application/json");
	done(&r);
	r = call(handle_sandbox_status, "GET",
	    "/api/sandbox/status?id=whatever", NULL);
	assert_int_equal(r.status, 404);
	done(&r);
}

static void delete_then_gone(void **state)
{
	struct handler_reply c, d, s;
	char uri[128];

	(void)state;
	c = call(handle_sandbox_create, "POST", "/api/sandbox/create",
	    "{\"userId\":\"carol\"}");
	snprintf(uri, sizeof(uri), "/api/sandbox?id=%s",
	    str(c.json, "sandboxId"));
	d = call(handle_sandbox_delete, "DELETE", uri, NULL);
	assert_int_equal(d.status, 200);
	assert_int_equal(json_object_object_length(d.json), 2);
	assert_string_equal(str(d.json, "sandboxId"), str(c.json, "sandboxId"));
	assert_string_equal(str(d.json, "deleted"), "true");
	done(&d);
	snprintf(uri, sizeof(uri), "/api/sandbox/status?id=%s",
	    str(c.json, "sandboxId"));
	s = call(handle_sandbox_status, "GET", uri, NULL);
	assert_int_equal(s.status, 404);
	done(&s);
	snprintf(uri, sizeof(uri), "/api/sandbox?id=%s",
	    str(c.json, "sandboxId"));
	d = call(handle_sandbox_delete, "DELETE", uri, NULL);
	assert_int_equal(d.status, 404);
	assert_string_equal(err_code(&d), "SANDBOX_NOT_FOUND");
	done(&d);
	d = call(handle_sandbox_delete, "DELETE", "/api/sandbox", NULL);
	assert_int_equal(d.status, 400);
	assert_string_equal(err_field(&d), "id");
	done(&d);
	done(&c);
}

static void provider_conflict_is_error_model(void **state)
{
	char name[SBX_NAME_MAX], path[1024];
	struct handler_reply r;
	FILE *f;

	(void)state;
	/* A damaged store: the user's sandbox name holds another user's. */
	r = call(handle_sandbox_create, "POST", "/api/sandbox/create",
	    "{\"userId\":\"dave\"}");
	done(&r);
	sbx_name_for_user("dave", name);
	snprintf(path, sizeof(path), "%s/sandboxes/%s/state.json", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "{\"id\":\"%s\",\"userId\":\"mallory\",\"state\":\"ready\","
	    "\"createdAt\":\"x\"}", name);
	fclose(f);
	r = call(handle_sandbox_create, "POST", "/api/sandbox/create",
	    "{\"userId\":\"dave\"}");
	assert_int_equal(r.status, 409);
	assert_string_equal(r.content_type, "application/json");
	assert_string_equal(err_code(&r), "CONFLICT");
	done(&r);
}

static void ready_check_uses_provider(void **state)
{
	char detail[160];

	(void)state;
	detail[0] = '\0';
	assert_int_equal(sandbox_ready_check(&worker, detail, sizeof(detail)), 1);
	assert_non_null(strstr(detail, "local"));
}

static void init_failure_names_the_variable(void **state)
{
	struct omni_config bad;
	char err[256];
	char file[128];
	FILE *f;

	(void)state;
	sandbox_handlers_fini(&worker);
	memset(&bad, 0, sizeof(bad));
	bad.provider = CFG_PROVIDER_LOCAL;
	bad.data_dir = NULL;
	assert_int_equal(init_with(&bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SANDBOX_PROVIDER=local"));
	/* a data dir that is a file */
	snprintf(file, sizeof(file), "%s/plainfile", dir);
	assert_non_null(f = fopen(file, "w"));
	fclose(f);
	bad.data_dir = file;
	assert_int_equal(init_with(&bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "OMNI_DATA_DIR"));
	/* without a provider the endpoints answer 503, not a crash */
	{
		struct handler_reply r = call(handle_sandbox_status, "GET",
		    "/api/sandbox/status?id=abc", NULL);
		char detail[64];

		assert_int_equal(r.status, 503);
		done(&r);
		assert_int_equal(sandbox_ready_check(&worker, detail, sizeof(detail)),
		    0);
	}
	assert_int_equal(init_with(&cfg, err, sizeof(err)), 0);
}

/* Every provider error lands on the contract's error model, as documented
 * in handlers.h: status, code, details.reason, Retry-After where waiting
 * helps. */
static void error_mapping_is_complete(void **state)
{
	static const struct {
		enum sbx_err e;
		int status;
		const char *code;
		int retry_after;
	} want[] = {
		{ SBX_ENOTFOUND, 404, "SANDBOX_NOT_FOUND", 0 },
		{ SBX_EINVAL, 400, "VALIDATION_ERROR", 0 },
		{ SBX_ECONFLICT, 409, "CONFLICT", 0 },
		{ SBX_EAUTH, 502, "UPSTREAM_ERROR", 0 },
		{ SBX_ERATELIMIT, 503, "SERVICE_UNAVAILABLE", 1 },
		{ SBX_EUNAVAILABLE, 503, "SERVICE_UNAVAILABLE", 1 },
		{ SBX_ETIMEOUT, 504, "UPSTREAM_TIMEOUT", 0 },
		{ SBX_EUPSTREAM, 502, "UPSTREAM_ERROR", 0 },
		{ SBX_ENETWORK, 503, "SERVICE_UNAVAILABLE", 1 },
		{ SBX_EQUOTA, 503, "SERVICE_UNAVAILABLE", 0 },
		{ SBX_EISOLATION, 503, "SERVICE_UNAVAILABLE", 0 },
		{ SBX_EIO, 500, "SANDBOX_ERROR", 0 },
		{ SBX_ENOMEM, 500, "SERVER_ERROR", 0 },
		{ SBX_ETOOLARGE, 413, "PAYLOAD_TOO_LARGE", 0 },
		{ SBX__MAX + 7, 500, "SERVER_ERROR", 0 }, /* not an error */
		{ SBX_OK, 500, "SERVER_ERROR", 0 },
	};
	struct http_request req = { .app = &worker };
	struct http_response resp;
	struct json_object *o, *e, *d, *v;
	struct sbx_error why;
	size_t i;

	(void)state;
	assert_int_equal(sizeof(want) / sizeof(want[0]), SBX__MAX + 1);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		http_response_init(&resp);
		sbx_error_clear(&why);
		why.code = want[i].e;
		sandbox_error_response(&req, &resp, &why, "test");
		assert_int_equal(resp.status, want[i].status);
		assert_non_null(o = json_tokener_parse(resp.body));
		assert_true(json_object_object_get_ex(o, "error", &e));
		assert_string_equal(str(e, "code"), want[i].code);
		assert_true(strlen(str(e, "message")) > 0);
		assert_true(json_object_object_get_ex(e, "details", &d));
		assert_true(json_object_object_get_ex(d, "reason", &v));
		if (want[i].retry_after)
			assert_non_null(http_response_get_header(&resp,
			    "Retry-After"));
		else
			assert_null(http_response_get_header(&resp,
			    "Retry-After"));
		json_object_put(o);
		http_response_free(&resp);
	}
}

/* The detail of a failed call travels in its struct sbx_error, whatever
 * the provider: its Retry-After hint and, for a quota, its own words. */
static void error_detail_comes_from_the_call(void **state)
{
	struct http_request req = { .app = &worker };
	struct http_response resp;
	struct json_object *o, *e, *d, *v;
	struct sbx_error why;

	(void)state;
	sbx_error_clear(&why);
	why.code = SBX_ERATELIMIT;
	why.retry_after_s = 17;
	http_response_init(&resp);
	sandbox_error_response(&req, &resp, &why, "test");
	assert_int_equal(resp.status, 503);
	assert_string_equal(http_response_get_header(&resp, "Retry-After"),
	    "17");
	http_response_free(&resp);

	sbx_error_clear(&why);
	why.code = SBX_EQUOTA;
	snprintf(why.message, sizeof(why.message), "sandbox limit exceeded");
	http_response_init(&resp);
	sandbox_error_response(&req, &resp, &why, "test");
	assert_non_null(o = json_tokener_parse(resp.body));
	assert_true(json_object_object_get_ex(o, "error", &e));
	assert_true(json_object_object_get_ex(e, "details", &d));
	assert_true(json_object_object_get_ex(d, "providerMessage", &v));
	assert_string_equal(json_object_get_string(v), "sandbox limit exceeded");
	json_object_put(o);
	http_response_free(&resp);

	/* The same words on another error are not repeated to the client. */
	why.code = SBX_EUPSTREAM;
	http_response_init(&resp);
	sandbox_error_response(&req, &resp, &why, "test");
	assert_null(strstr(resp.body, "limit exceeded"));
	http_response_free(&resp);
}

/* A socket that completes the TCP handshake (kernel backlog) but never
 * answers; the first 'close_first' connections are accepted and closed at
 * once (a fast failure). */
struct mute_server {
	int fd, port, close_first;
	pthread_t tid;
};

static void *mute_accept(void *v)
{
	struct mute_server *m = v;
	int i, c;

	for (i = 0; i < m->close_first; i++)
		if ((c = accept(m->fd, NULL, NULL)) >= 0)
			close(c);
	return NULL;
}

static void mute_start(struct mute_server *m, int close_first)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	m->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(m->fd >= 0);
	assert_int_equal(bind(m->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(m->fd, 16), 0);
	assert_int_equal(getsockname(m->fd, (struct sockaddr *)&a, &len), 0);
	m->port = ntohs(a.sin_port);
	m->close_first = close_first;
	assert_int_equal(pthread_create(&m->tid, NULL, mute_accept, m), 0);
}

static void *ready_thread(void *v)
{
	char detail[160];

	*(int *)v = sandbox_ready_check(&worker, detail, sizeof(detail));
	return NULL;
}

/*
 * /ready against a Daytona that hangs: one check is bounded by the
 * provider's short deadline, its answer is cached, and while one thread
 * refreshes it the others answer at once with the last result.
 */
static void ready_check_is_bounded_and_cached(void **state)
{
	struct mute_server m;
	struct omni_config dcfg;
	char err[256], url[64], detail[160];
	long long t0;
	pthread_t tid;
	int ok = -1;

	(void)state;
	sandbox_handlers_fini(&worker);
	mute_start(&m, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api", m.port);
	memset(&dcfg, 0, sizeof(dcfg));
	dcfg.provider = CFG_PROVIDER_DAYTONA;
	dcfg.daytona_api_url = url;
	dcfg.daytona_api_key = (char *)(uintptr_t)"k";
	assert_int_equal(init_with(&dcfg, err, sizeof(err)), 0);
	/* 1: the connection is closed at once: a fast failure */
	assert_int_equal(sandbox_ready_check(&worker, detail, sizeof(detail)), 0);
	assert_non_null(strstr(detail, "daytona"));
	/* cached: answered without asking */
	t0 = time_mono_ms();
	assert_int_equal(sandbox_ready_check(&worker, detail, sizeof(detail)), 0);
	assert_true(time_mono_ms() - t0 < 100);
	/* 2: after the cache expires, one thread asks and hangs on the mute
	 * server; another is answered at once with the last result */
	time_sleep_ms(3100);
	t0 = time_mono_ms();
	assert_int_equal(pthread_create(&tid, NULL, ready_thread, &ok), 0);
	time_sleep_ms(300);
	assert_int_equal(sandbox_ready_check(&worker, detail, sizeof(detail)), 0);
	assert_true(time_mono_ms() - t0 < 1000);
	assert_int_equal(pthread_join(tid, NULL), 0);
	assert_int_equal(ok, 0);
	/* the hung check gave up at its deadline, not after retries */
	assert_true(time_mono_ms() - t0 < SBX_DAYTONA_CHECK_TIMEOUT_MS + 1500);
	assert_true(time_mono_ms() - t0 >= SBX_DAYTONA_CHECK_TIMEOUT_MS);
	assert_int_equal(sandbox_ready_check(&worker, detail, sizeof(detail)), 0);
	assert_non_null(strstr(detail, "in time"));
	sandbox_handlers_fini(&worker);
	pthread_join(m.tid, NULL);
	close(m.fd);
	assert_int_equal(init_with(&cfg, err, sizeof(err)), 0);
}

/* A ready sandbox for "erin"; its id is written into 'id'. */
static void ready_sandbox(char *id, size_t len)
{
	struct handler_reply c = call(handle_sandbox_create, "POST",
	    "/api/sandbox/create", "{\"userId\":\"erin\"}");

	assert_int_equal(c.status, 200);
	assert_string_equal(str(c.json, "status"), "ready");
	snprintf(id, len, "%s", str(c.json, "sandboxId"));
	done(&c);
}

static struct handler_reply exec_call(const char *id, const char *command,
    const char *extra)
{
	struct json_object *o = json_object_new_object();
	char body[1024];
	struct handler_reply r;

	json_object_object_add(o, "sandboxId", json_object_new_string(id));
	json_object_object_add(o, "command", json_object_new_string(command));
	snprintf(body, sizeof(body), "%.*s%s%s}",
	    (int)strlen(json_compact(o)) - 1, json_compact(o),
	    extra ? "," : "", extra ? extra : "");
	json_object_put(o);
	r = call(handle_debug_sandbox_exec, "POST", "/debug/sandbox/exec",
	    body);
	return r;
}

static int boolean(struct json_object *o, const char *k)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, k, &v));
	assert_true(json_object_is_type(v, json_type_boolean));
	return json_object_get_boolean(v);
}

static int exit_code(struct json_object *o)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, "exitCode", &v));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int(v);
}

static void debug_exec_validation_names_the_field(void **state)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
		{ "{\"command\":\"true\"}", "sandboxId" },
		{ "{\"sandboxId\":null,\"command\":\"true\"}", "sandboxId" },
		{ "{\"sandboxId\":7,\"command\":\"true\"}", "sandboxId" },
		{ "{\"sandboxId\":\"\",\"command\":\"true\"}", "sandboxId" },
		{ "{\"sandboxId\":\"../etc\",\"command\":\"true\"}",
		    "sandboxId" },
		{ "{\"sandboxId\":\"a b\",\"command\":\"true\"}", "sandboxId" },
		{ "{\"sandboxId\":\"x\"}", "command" },
		{ "{\"sandboxId\":\"x\",\"command\":\"\"}", "command" },
		{ "{\"sandboxId\":\"x\",\"command\":[\"ls\"]}", "command" },
		{ "{\"sandboxId\":\"x\",\"command\":\"a\\u0000b\"}",
		    "command" },
		{ "{\"sandboxId\":\"x\",\"command\":\"true\",\"timeoutS\":0}",
		    "timeoutS" },
		{ "{\"sandboxId\":\"x\",\"command\":\"true\",\"timeoutS\":301}",
		    "timeoutS" },
		{ "{\"sandboxId\":\"x\",\"command\":\"true\",\"timeoutS\":-1}",
		    "timeoutS" },
		{ "{\"sandboxId\":\"x\",\"command\":\"true\",\"timeoutS\":1.5}",
		    "timeoutS" },
		{ "{\"sandboxId\":\"x\",\"command\":\"true\",\"timeoutS\":\"5\"}",
		    "timeoutS" },
		{ "{\"sandboxId\":\"x\",\"command\":\"true\",\"timeoutS\":true}",
		    "timeoutS" },
		{ "{\"sandboxId\":\"x\",\"command\":\"true\","
		    "\"timeoutS\":9223372036854775807}", "timeoutS" },
	};
	char big[9000];
	struct handler_reply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = call(handle_debug_sandbox_exec, "POST",
		    "/debug/sandbox/exec", bad[i].body);
		if (r.status != 400 ||
		    strcmp(err_field(&r), bad[i].field) != 0)
			fail_msg("%s: status %d field %s", bad[i].body,
			    r.status, err_field(&r));
		assert_string_equal(err_code(&r), "VALIDATION_ERROR");
		done(&r);
	}
	/* a command one byte over the limit */
	memcpy(big, "{\"sandboxId\":\"x\",\"command\":\"", 28);
	memset(big + 28, 'a', 8193);
	memcpy(big + 28 + 8193, "\"}", 3);
	r = call(handle_debug_sandbox_exec, "POST", "/debug/sandbox/exec", big);
	assert_int_equal(r.status, 400);
	assert_string_equal(err_field(&r), "command");
	done(&r);
}

static void debug_exec_runs_the_command(void **state)
{
	char id[SBX_ID_MAX];
	struct handler_reply r;

	(void)state;
	ready_sandbox(id, sizeof(id));
	r = exec_call(id, "echo hi; echo err >&2; exit 3", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/json");
	assert_int_equal(json_object_object_length(r.json), 4);
	assert_int_equal(exit_code(r.json), 3);
	assert_false(boolean(r.json, "timedOut"));
	assert_false(boolean(r.json, "truncated"));
	assert_string_equal(str(r.json, "output"), "hi\nerr\n");
	done(&r);
}

static void debug_exec_time_limit(void **state)
{
	char id[SBX_ID_MAX];
	long long t0;
	struct handler_reply r;

	(void)state;
	ready_sandbox(id, sizeof(id));
	t0 = time_mono_ms();
	r = exec_call(id, "sleep 20", "\"timeoutS\":1");
	assert_true(time_mono_ms() - t0 < 10000);
	assert_int_equal(r.status, 200);
	assert_true(boolean(r.json, "timedOut"));
	assert_int_not_equal(exit_code(r.json), 0);
	done(&r);
}

static void debug_exec_output_is_capped_and_utf8(void **state)
{
	char id[SBX_ID_MAX];
	struct handler_reply r;

	(void)state;
	ready_sandbox(id, sizeof(id));
	r = exec_call(id, "yes | head -c 200000", NULL);
	assert_int_equal(r.status, 200);
	assert_true(boolean(r.json, "truncated"));
	assert_int_equal(exit_code(r.json), 0);
	assert_int_equal(strlen(str(r.json, "output")), 65536);
	done(&r);
	/* bytes that are not UTF-8 (a lone 0xff, a truncated sequence, an
	 * overlong '/') come back as U+FFFD; valid ones as they are */
	r = exec_call(id, "printf 'a\\377b\\303\\251\\342\\202c\\300\\257'",
	    NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(str(r.json, "output"),
	    "a\xEF\xBF\xBD" "b\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD" "c"
	    "\xEF\xBF\xBD\xEF\xBF\xBD");
	done(&r);
}

static void debug_exec_provider_errors(void **state)
{
	char id[SBX_ID_MAX], err[256];
	struct sbx_provider *p;
	struct handler_reply r;

	(void)state;
	r = exec_call("omni-00000000000000000000000000000000", "true", NULL);
	assert_int_equal(r.status, 404);
	assert_string_equal(err_code(&r), "SANDBOX_NOT_FOUND");
	done(&r);
	/* a stopped sandbox refuses commands: the error model, 409 */
	ready_sandbox(id, sizeof(id));
	p = worker.sandbox;
	assert_int_equal(p->ops->stop(p, id, NULL), SBX_OK);
	r = exec_call(id, "true", NULL);
	assert_int_equal(r.status, 409);
	assert_string_equal(err_code(&r), "CONFLICT");
	done(&r);
	/* no provider: 503, not a crash */
	sandbox_handlers_fini(&worker);
	r = exec_call(id, "true", NULL);
	assert_int_equal(r.status, 503);
	done(&r);
	assert_int_equal(init_with(&cfg, err, sizeof(err)), 0);
}

static void jwt_create_for_own_subject(void **state)
{
	struct handler_reply r;

	(void)state;
	use_jwt();
	r = call_as("alice", handle_sandbox_create, "POST",
	    "/api/sandbox/create", "{\"userId\":\"alice\"}");
	assert_int_equal(r.status, 200);
	assert_string_equal(str(r.json, "userId"), "alice");
	assert_true(sandbox_dir_exists(str(r.json, "sandboxId")));
	done(&r);
}

static void jwt_create_for_another_user_is_403(void **state)
{
	char name[SBX_NAME_MAX];
	struct sbx_info info;
	struct handler_reply r;

	(void)state;
	use_jwt();
	r = call_as("alice", handle_sandbox_create, "POST",
	    "/api/sandbox/create", "{\"userId\":\"bob\"}");
	assert_int_equal(r.status, 403);
	assert_string_equal(r.content_type, "application/json");
	assert_string_equal(err_code(&r), "FORBIDDEN");
	assert_string_equal(err_field(&r), "userId");
	done(&r);
	/* nothing was created, for either user */
	sbx_name_for_user("bob", name);
	assert_false(sandbox_dir_exists(name));
	sbx_name_for_user("alice", name);
	assert_false(sandbox_dir_exists(name));
	assert_int_equal(worker.sandbox->ops->find_for_user(
	    worker.sandbox, "bob", &info, NULL), SBX_ENOTFOUND);
}

static void jwt_status_of_own_sandbox(void **state)
{
	char id[SBX_ID_MAX], uri[192];
	struct handler_reply r;

	(void)state;
	use_jwt();
	create_as("alice", id, sizeof(id));
	snprintf(uri, sizeof(uri), "/api/sandbox/status?id=%s", id);
	r = call_as("alice", handle_sandbox_status, "GET", uri, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(str(r.json, "sandboxId"), id);
	assert_string_equal(str(r.json, "status"), "ready");
	done(&r);
}

static void jwt_status_of_another_users_sandbox_is_404(void **state)
{
	char id[SBX_ID_MAX], uri[192];
	struct handler_reply r, unknown;

	(void)state;
	use_jwt();
	create_as("bob", id, sizeof(id));
	snprintf(uri, sizeof(uri), "/api/sandbox/status?id=%s", id);
	r = call_as("alice", handle_sandbox_status, "GET", uri, NULL);
	assert_int_equal(r.status, 404);
	assert_string_equal(err_code(&r), "SANDBOX_NOT_FOUND");
	/* exactly what an id that does not exist gets */
	unknown = call_as("alice", handle_sandbox_status, "GET",
	    "/api/sandbox/status?id=omni-00000000000000000000000000000000",
	    NULL);
	assert_int_equal(unknown.status, 404);
	assert_true(json_object_equal(r.json, unknown.json));
	done(&r);
	done(&unknown);
}

static void jwt_delete_of_another_users_sandbox_is_404(void **state)
{
	char id[SBX_ID_MAX], uri[192];
	struct handler_reply r, unknown;

	(void)state;
	use_jwt();
	create_as("bob", id, sizeof(id));
	snprintf(uri, sizeof(uri), "/api/sandbox?id=%s", id);
	r = call_as("alice", handle_sandbox_delete, "DELETE", uri, NULL);
	assert_int_equal(r.status, 404);
	assert_string_equal(err_code(&r), "SANDBOX_NOT_FOUND");
	unknown = call_as("alice", handle_sandbox_delete, "DELETE",
	    "/api/sandbox?id=omni-00000000000000000000000000000000", NULL);
	assert_true(json_object_equal(r.json, unknown.json));
	done(&r);
	done(&unknown);
	/* nothing was deleted: bob still has it */
	assert_true(sandbox_dir_exists(id));
	snprintf(uri, sizeof(uri), "/api/sandbox/status?id=%s", id);
	r = call_as("bob", handle_sandbox_status, "GET", uri, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(str(r.json, "status"), "ready");
	done(&r);
}

static void jwt_delete_of_own_sandbox(void **state)
{
	char id[SBX_ID_MAX], uri[192];
	struct handler_reply r;

	(void)state;
	use_jwt();
	create_as("bob", id, sizeof(id));
	snprintf(uri, sizeof(uri), "/api/sandbox?id=%s", id);
	r = call_as("bob", handle_sandbox_delete, "DELETE", uri, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(str(r.json, "deleted"), "true");
	done(&r);
	assert_false(sandbox_dir_exists(id));
}

static void jwt_debug_exec_only_in_own_sandbox(void **state)
{
	char id[SBX_ID_MAX], body[256], path[512];
	struct handler_reply r;
	struct stat st;

	(void)state;
	use_jwt();
	create_as("bob", id, sizeof(id));
	snprintf(body, sizeof(body), "{\"sandboxId\":\"%s\","
	    "\"command\":\"echo x > ran\"}", id);
	r = call_as("alice", handle_debug_sandbox_exec, "POST",
	    "/debug/sandbox/exec", body);
	assert_int_equal(r.status, 404);
	assert_string_equal(err_code(&r), "SANDBOX_NOT_FOUND");
	done(&r);
	snprintf(path, sizeof(path), "%s/sandboxes/%s/home/ran", dir, id);
	assert_int_not_equal(stat(path, &st), 0); /* the command did not run */
	r = call_as("bob", handle_debug_sandbox_exec, "POST",
	    "/debug/sandbox/exec", body);
	assert_int_equal(r.status, 200);
	assert_int_equal(exit_code(r.json), 0);
	done(&r);
	assert_int_equal(stat(path, &st), 0);
}

/* A request that reaches a handler without a subject (the router refuses
 * it first) owns nothing. */
static void jwt_without_subject_owns_nothing(void **state)
{
	char id[SBX_ID_MAX], uri[192];
	struct handler_reply r;

	(void)state;
	create_as("bob", id, sizeof(id));
	use_jwt();
	snprintf(uri, sizeof(uri), "/api/sandbox/status?id=%s", id);
	r = call(handle_sandbox_status, "GET", uri, NULL);
	assert_int_equal(r.status, 404);
	done(&r);
	r = call(handle_sandbox_create, "POST", "/api/sandbox/create",
	    "{\"userId\":\"bob\"}");
	assert_int_equal(r.status, 403);
	done(&r);
}

/* OMNI_AUTH=none: no tokens, and any caller reaches any sandbox. */
static void auth_none_reaches_any_sandbox(void **state)
{
	char id[SBX_ID_MAX], uri[192];
	struct handler_reply r;

	(void)state;
	create_as("bob", id, sizeof(id));
	snprintf(uri, sizeof(uri), "/api/sandbox/status?id=%s", id);
	r = call_as(NULL, handle_sandbox_status, "GET", uri, NULL);
	assert_int_equal(r.status, 200);
	done(&r);
	snprintf(uri, sizeof(uri), "/api/sandbox?id=%s", id);
	r = call_as(NULL, handle_sandbox_delete, "DELETE", uri, NULL);
	assert_int_equal(r.status, 200);
	done(&r);
	assert_false(sandbox_dir_exists(id));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(create_answers_contract_shape),
		T(create_reuses_the_users_sandbox),
		T(create_restarts_a_stopped_sandbox),
		T(create_validation_names_the_field),
		T(status_answers_contract_shape),
		T(status_errors),
		T(delete_then_gone),
		T(provider_conflict_is_error_model),
		T(ready_check_uses_provider),
		T(init_failure_names_the_variable),
		T(error_mapping_is_complete),
		T(error_detail_comes_from_the_call),
		T(ready_check_is_bounded_and_cached),
		T(debug_exec_validation_names_the_field),
		T(debug_exec_runs_the_command),
		T(debug_exec_time_limit),
		T(debug_exec_output_is_capped_and_utf8),
		T(debug_exec_provider_errors),
		T(jwt_create_for_own_subject),
		T(jwt_create_for_another_user_is_403),
		T(jwt_status_of_own_sandbox),
		T(jwt_status_of_another_users_sandbox_is_404),
		T(jwt_delete_of_another_users_sandbox_is_404),
		T(jwt_delete_of_own_sandbox),
		T(jwt_debug_exec_only_in_own_sandbox),
		T(jwt_without_subject_owns_nothing),
		T(auth_none_reaches_any_sandbox),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
