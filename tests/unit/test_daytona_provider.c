/*
 * test_daytona_provider.c -- the Daytona provider (and the per-user policy
 * of sandbox.c on top of it) against tests/fakes/fake_daytona.py, started
 * here with port 0 and stopped by its pid: real libcurl, real HTTP, the
 * fake's faults and its log of calls.  The pure mappings (states, errors)
 * are tested first and need no server.
 *
 * Needs python3; run from the repository root (make test does), or set
 * OMNI_FAKE_DAYTONA to the fake's path.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "config.h"
#include "daytona.h"
#include "sandbox.h"
#include "sandbox_daytona.h"

#define KEY1 "test-primary-key"
#define KEY2 "test-fallback-key"

static pid_t fake_pid = -1;
static int fake_port;
static char api_url[128];

/* ---- the fake server ----------------------------------------------------- */

static const char *fake_path(void)
{
	const char *p = getenv("OMNI_FAKE_DAYTONA");

	return p != NULL ? p : "tests/fakes/fake_daytona.py";
}

static int start_fake(void **state)
{
	char buf[256];
	size_t got = 0;
	int pfd[2];
	struct pollfd pf;
	long long deadline;

	(void)state;
	if (access(fake_path(), R_OK) != 0) {
		fprintf(stderr, "fake_daytona.py not found at %s (run from the "
		    "repository root)\n", fake_path());
		return -1;
	}
	if (pipe(pfd) != 0)
		return -1;
	fake_pid = fork();
	if (fake_pid < 0)
		return -1;
	if (fake_pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execlp("python3", "python3", fake_path(), "--port", "0",
		    "--key", KEY1 ":primary", "--key", KEY2 ":fallback",
		    "--create-delay", "0.2", "--start-delay", "0.2",
		    "--max-lifetime", "300", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	pf.fd = pfd[0];
	pf.events = POLLIN;
	buf[0] = '\0';
	deadline = time(NULL) + 15;
	while (got < sizeof(buf) - 1 && strchr(buf, '\n') == NULL &&
	    time(NULL) <= deadline) {
		ssize_t n;
		int r = poll(&pf, 1, 1000);

		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		n = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
	}
	close(pfd[0]);
	if (sscanf(buf, "PORT=%d", &fake_port) != 1) {
		fprintf(stderr, "fake_daytona did not start: %s\n", buf);
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
		fake_pid = -1;
		return -1;
	}
	snprintf(api_url, sizeof(api_url), "http://127.0.0.1:%d/api",
	    fake_port);
	return 0;
}

static int stop_fake(void **state)
{
	(void)state;
	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
		fake_pid = -1;
	}
	dt_thread_cleanup();
	return 0;
}

static size_t ctl_write(char *p, size_t size, size_t n, void *ud)
{
	struct { char *data; size_t len; } *b = ud;
	char *q = realloc(b->data, b->len + size * n + 1);

	if (q == NULL)
		return 0;
	memcpy(q + b->len, p, size * n);
	b->len += size * n;
	q[b->len] = '\0';
	b->data = q;
	return size * n;
}

/* A control call; returns the parsed answer (new reference) or NULL. */
static struct json_object *ctl(const char *method, const char *path,
    const char *json)
{
	struct { char *data; size_t len; } b = {NULL, 0};
	struct curl_slist *h = NULL;
	struct json_object *o = NULL;
	char url[256];
	long status = 0;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fake_port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ctl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (json != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	}
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		fail_msg("control %s %s: %ld %s", method, path, status,
		    b.data ? b.data : "");
	if (b.data != NULL)
		o = json_tokener_parse(b.data);
	free(b.data);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return o;
}

static void ctl_do(const char *method, const char *path, const char *json)
{
	json_object_put(ctl(method, path, json));
}

/*
 * Calls in the fake's log whose "METHOD path" starts with 'prefix'
 * (NULL: all) and whose key is 'key' (NULL: any) and status 'status'
 * (-1: any).
 */
static int log_count(const char *prefix, const char *key, int status)
{
	struct json_object *log = ctl("GET", "/__control/log", NULL), *e, *v;
	char route[512];
	size_t i;
	int n = 0;

	assert_non_null(log);
	for (i = 0; i < json_object_array_length(log); i++) {
		e = json_object_array_get_idx(log, i);
		json_object_object_get_ex(e, "method", &v);
		snprintf(route, sizeof(route), "%s ",
		    json_object_get_string(v));
		json_object_object_get_ex(e, "path", &v);
		strncat(route, json_object_get_string(v),
		    sizeof(route) - strlen(route) - 1);
		if (prefix != NULL && strncmp(route, prefix, strlen(prefix)))
			continue;
		if (key != NULL) {
			json_object_object_get_ex(e, "key", &v);
			if (v == NULL || strcmp(json_object_get_string(v), key))
				continue;
		}
		if (status >= 0) {
			json_object_object_get_ex(e, "status", &v);
			if (json_object_get_int(v) != status)
				continue;
		}
		n++;
	}
	json_object_put(log);
	return n;
}

static void fault(const char *json)
{
	ctl_do("POST", "/__control/faults", json);
}

/* ---- the provider under test --------------------------------------------- */

static struct omni_config cfg;

static struct sbx_provider *make_provider(const char *key, const char *fallback,
    long timeout_ms)
{
	struct dt_client_opts o = {0};
	struct sbx_provider *p = NULL;
	struct dt_client *c;

	memset(&cfg, 0, sizeof(cfg));
	cfg.provider = CFG_PROVIDER_DAYTONA;
	cfg.daytona_api_url = api_url;
	cfg.daytona_api_key = (char *)key;
	cfg.daytona_api_key_fallback = (char *)fallback;
	cfg.daytona_snapshot = "omni-snap";
	cfg.daytona_org_id = "org-test";
	if (timeout_ms == 0) {
		assert_int_equal(sbx_daytona_new(&cfg, &p), SBX_OK);
		return p;
	}
	o.api_url = api_url;
	o.api_key = key;
	o.api_key_fallback = fallback;
	o.timeout_ms = timeout_ms;
	o.lifecycle_timeout_ms = timeout_ms;
	c = dt_client_new(&o, NULL);
	assert_non_null(c);
	assert_int_equal(sbx_daytona_new_with_client(&cfg, c, &p), SBX_OK);
	return p;
}

/* Each test starts from an empty fake with both keys valid. */
static int reset(void **state)
{
	(void)state;
	ctl_do("POST", "/__control/reset", "{}");
	ctl_do("POST", "/__control/keys/add", "{\"key\":\"" KEY1
	    "\",\"name\":\"primary\"}");
	ctl_do("POST", "/__control/keys/add", "{\"key\":\"" KEY2
	    "\",\"name\":\"fallback\"}");
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ensure_ready(struct sbx_provider *p, const char *user,
    struct sbx_info *info)
{
	assert_int_equal(sbx_ensure_for_user(p, user, info, NULL), SBX_OK);
	assert_int_equal(sbx_wait_ready(p, info->id, 10000, info, NULL), SBX_OK);
	assert_int_equal(info->state, SBX_STATE_READY);
}

/* ---- pure mappings ------------------------------------------------------- */

static void test_state_mapping(void **state)
{
	static const struct {
		const char *s, *d;
		enum sbx_state want;
	} t[] = {
		{"started", "started", SBX_STATE_READY},
		{"started", NULL, SBX_STATE_READY},
		{"started", "stopped", SBX_STATE_CREATING},
		{"stopped", "stopped", SBX_STATE_STOPPED},
		{"stopped", "started", SBX_STATE_CREATING},
		{"archived", "archived", SBX_STATE_STOPPED},
		{"archiving", "archived", SBX_STATE_STOPPED},
		{"paused", "paused", SBX_STATE_STOPPED},
		{"error", "started", SBX_STATE_ERROR},
		{"build_failed", "started", SBX_STATE_ERROR},
		{"destroyed", "destroyed", SBX_STATE_ERROR},
		{"destroying", "destroyed", SBX_STATE_ERROR},
		{"started", "destroyed", SBX_STATE_ERROR},
		{"creating", "started", SBX_STATE_CREATING},
		{"starting", "started", SBX_STATE_CREATING},
		{"stopping", "stopped", SBX_STATE_CREATING},
		{"restoring", "started", SBX_STATE_CREATING},
		{"pending_build", "started", SBX_STATE_CREATING},
		{"pulling_snapshot", "started", SBX_STATE_CREATING},
		{"unknown", "started", SBX_STATE_CREATING},
		{"a_state_from_the_future", "", SBX_STATE_CREATING},
		{"", "", SBX_STATE_CREATING},
		{NULL, NULL, SBX_STATE_CREATING},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (sbx_daytona_state(t[i].s, t[i].d) != t[i].want)
			fail_msg("state %s/%s", t[i].s, t[i].d);
}

static void test_error_mapping(void **state)
{
	(void)state;
	assert_int_equal(sbx_daytona_err(DT_OK), SBX_OK);
	assert_int_equal(sbx_daytona_err(DT_ENOTFOUND), SBX_ENOTFOUND);
	assert_int_equal(sbx_daytona_err(DT_ECONFLICT), SBX_ECONFLICT);
	assert_int_equal(sbx_daytona_err(DT_EQUOTA), SBX_EQUOTA);
	assert_int_equal(sbx_daytona_err(DT_ERATELIMIT), SBX_ERATELIMIT);
	assert_int_equal(sbx_daytona_err(DT_EUNAVAILABLE), SBX_EUNAVAILABLE);
	assert_int_equal(sbx_daytona_err(DT_ETIMEOUT), SBX_ETIMEOUT);
	assert_int_equal(sbx_daytona_err(DT_ENETWORK), SBX_ENETWORK);
	assert_int_equal(sbx_daytona_err(DT_EAUTH), SBX_EAUTH);
	assert_int_equal(sbx_daytona_err(DT_EBADREQUEST), SBX_EUPSTREAM);
	assert_int_equal(sbx_daytona_err(DT_EPROTO), SBX_EUPSTREAM);
	assert_int_equal(sbx_daytona_err(DT_ETOOLARGE), SBX_ETOOLARGE);
	assert_int_equal(sbx_daytona_err((enum dt_err)99), SBX_EUPSTREAM);
}

static void test_new_refuses_incomplete_config(void **state)
{
	struct omni_config c;
	struct sbx_provider *p = (struct sbx_provider *)1;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(sbx_daytona_new(&c, &p), SBX_EINVAL);
	assert_null(p);
	c.daytona_api_url = "http://127.0.0.1:1/api";
	assert_int_equal(sbx_daytona_new(&c, &p), SBX_EINVAL);
	c.daytona_api_key = "";
	assert_int_equal(sbx_daytona_new(&c, &p), SBX_EINVAL);
	c.daytona_api_url = "not a url";
	c.daytona_api_key = "k";
	assert_int_equal(sbx_daytona_new(&c, &p), SBX_EINVAL);
}

/* ---- lifecycle against the fake ------------------------------------------ */

static void test_create_then_reuse(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_info a, b;
	struct json_object *log, *e, *body, *v;
	char name[SBX_NAME_MAX];

	(void)state;
	assert_int_equal(sbx_ensure_for_user(p, "user-1", &a, NULL), SBX_OK);
	assert_true(a.state == SBX_STATE_CREATING ||
	    a.state == SBX_STATE_READY);
	assert_string_equal(a.user_id, "user-1");
	assert_true(a.created_at[0] != '\0');
	/* find by name (404) then one create */
	assert_int_equal(log_count("GET /api/sandbox/omni-", NULL, 404), 1);
	assert_int_equal(log_count("POST /api/sandbox", NULL, 200), 1);
	/* the create carried name, snapshot, labels, env, auto-stop, org */
	log = ctl("GET", "/__control/log", NULL);
	e = json_object_array_get_idx(log, 1);
	json_object_object_get_ex(e, "body", &body);
	sbx_name_for_user("user-1", name);
	json_object_object_get_ex(body, "name", &v);
	assert_string_equal(json_object_get_string(v), name);
	json_object_object_get_ex(body, "snapshot", &v);
	assert_string_equal(json_object_get_string(v), "omni-snap");
	json_object_object_get_ex(body, "autoStopInterval", &v);
	assert_int_equal(json_object_get_int(v), SBX_DAYTONA_AUTO_STOP_MIN);
	json_object_object_get_ex(body, "labels", &v);
	json_object_object_get_ex(v, SBX_LABEL_USER, &v);
	assert_string_equal(json_object_get_string(v), "user-1");
	json_object_object_get_ex(body, "env", &v);
	json_object_object_get_ex(v, "OMNI_USER_ID", &v);
	assert_non_null(v);
	json_object_object_get_ex(e, "org", &v);
	assert_string_equal(json_object_get_string(v), "org-test");
	json_object_put(log);

	assert_int_equal(sbx_wait_ready(p, a.id, 10000, &a, NULL), SBX_OK);
	ctl_do("POST", "/__control/log/reset", "{}");
	assert_int_equal(sbx_ensure_for_user(p, "user-1", &b, NULL), SBX_OK);
	assert_string_equal(a.id, b.id);
	assert_int_equal(b.state, SBX_STATE_READY);
	/* reuse costs exactly one Daytona call */
	assert_int_equal(log_count(NULL, NULL, -1), 1);
	sbx_provider_free(p);
}

static void test_stopped_is_restarted(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_info a, b;

	(void)state;
	ensure_ready(p, "user-stop", &a);
	assert_int_equal(p->ops->stop(p, a.id, NULL), SBX_OK);
	/* stopping twice is not an error */
	assert_int_equal(p->ops->stop(p, a.id, NULL), SBX_OK);
	usleep(400 * 1000);
	assert_int_equal(p->ops->get(p, a.id, &b, NULL), SBX_OK);
	assert_int_equal(b.state, SBX_STATE_STOPPED);
	ctl_do("POST", "/__control/log/reset", "{}");
	assert_int_equal(sbx_ensure_for_user(p, "user-stop", &b, NULL), SBX_OK);
	assert_string_equal(a.id, b.id);
	assert_int_equal(log_count("POST /api/sandbox/", NULL, 200), 1);
	assert_int_equal(sbx_wait_ready(p, b.id, 10000, &b, NULL), SBX_OK);
	sbx_provider_free(p);
}

static void test_error_is_replaced(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_info a, b;
	char path[256];

	(void)state;
	ensure_ready(p, "user-err", &a);
	snprintf(path, sizeof(path), "/__control/sandboxes/%s/state", a.id);
	ctl_do("POST", path, "{\"state\":\"error\"}");
	assert_int_equal(p->ops->get(p, a.id, &b, NULL), SBX_OK);
	assert_int_equal(b.state, SBX_STATE_ERROR);
	assert_int_equal(sbx_ensure_for_user(p, "user-err", &b, NULL), SBX_OK);
	assert_string_not_equal(a.id, b.id);
	assert_int_equal(log_count("DELETE /api/sandbox/", NULL, 200), 1);
	/* the old one is on its way out */
	assert_int_equal(p->ops->get(p, a.id, &a, NULL), SBX_OK);
	assert_int_equal(a.state, SBX_STATE_ERROR);
	sbx_provider_free(p);
}

struct race {
	struct sbx_provider *p;
	struct sbx_info info;
	enum sbx_err err;
};

static void *race_run(void *arg)
{
	struct race *r = arg;

	r->err = sbx_ensure_for_user(r->p, "user-race", &r->info, NULL);
	return NULL;
}

static void test_concurrent_creates_end_with_one(void **state)
{
	struct sbx_provider *p1 = make_provider(KEY1, NULL, 0);
	struct sbx_provider *p2 = make_provider(KEY1, NULL, 0);
	struct race r[2];
	struct dt_kv l = {SBX_LABEL_USER, "user-race"};
	struct dt_sandbox *items;
	pthread_t t[2];
	size_t n;

	(void)state;
	/* Both creates wait before they are served, so the second lookup
	 * still sees no sandbox: both create, Daytona's unique name decides. */
	memset(r, 0, sizeof(r));
	r[0].p = p1;
	r[1].p = p2;
	fault("{\"kind\":\"latency\",\"latency_ms\":500,\"count\":2,"
	    "\"match\":\"^POST /api/sandbox$\"}");
	pthread_create(&t[0], NULL, race_run, &r[0]);
	pthread_create(&t[1], NULL, race_run, &r[1]);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	assert_int_equal(r[0].err, SBX_OK);
	assert_int_equal(r[1].err, SBX_OK);
	assert_string_equal(r[0].info.id, r[1].info.id);
	assert_int_equal(log_count("POST /api/sandbox", NULL, 409), 1);
	assert_int_equal(dt_sandbox_list(sbx_daytona_client(p1), &l, 1, 10,
	    &items, &n, NULL), DT_OK);
	assert_int_equal(n, 1);
	free(items);
	sbx_provider_free(p1);
	sbx_provider_free(p2);
}

static void test_remove_and_ownership_guard(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct dt_create_params cp = {0};
	struct dt_sandbox other;
	struct sbx_info a;

	(void)state;
	ensure_ready(p, "user-rm", &a);
	assert_int_equal(p->ops->remove(p, a.id, NULL), SBX_OK);
	assert_int_equal(p->ops->get(p, a.id, &a, NULL), SBX_OK);
	assert_int_equal(a.state, SBX_STATE_ERROR); /* destroying */
	usleep(400 * 1000);
	assert_int_equal(p->ops->get(p, a.id, &a, NULL), SBX_ENOTFOUND);
	assert_int_equal(p->ops->remove(p, "no-such-id", NULL), SBX_ENOTFOUND);
	assert_int_equal(p->ops->get(p, "bad id", &a, NULL), SBX_EINVAL);

	/* a sandbox of the organisation that is not Omni's */
	cp.name = "someone-elses";
	cp.auto_stop_minutes = cp.auto_archive_minutes =
	    cp.auto_delete_minutes = -1;
	assert_int_equal(dt_sandbox_create(sbx_daytona_client(p), &cp, &other,
	    NULL), DT_OK);
	assert_int_equal(p->ops->get(p, other.id, &a, NULL), SBX_ENOTFOUND);
	assert_int_equal(p->ops->remove(p, other.id, NULL), SBX_ENOTFOUND);
	assert_int_equal(log_count("DELETE", NULL, -1), 1);
	sbx_provider_free(p);
}

/* ---- keys ---------------------------------------------------------------- */

static void test_fallback_key_after_revoke(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, KEY2, 0);
	struct sbx_info a, b;

	(void)state;
	ensure_ready(p, "user-key", &a);
	assert_true(log_count(NULL, "primary", 200) > 0);
	assert_int_equal(log_count(NULL, "fallback", -1), 0);
	/* rotate: the old key is revoked mid-test */
	ctl_do("POST", "/__control/keys/revoke", "{\"name\":\"primary\"}");
	ctl_do("POST", "/__control/log/reset", "{}");
	assert_int_equal(p->ops->get(p, a.id, &b, NULL), SBX_OK);
	assert_int_equal(log_count(NULL, "unknown", 401), 1);
	assert_int_equal(log_count(NULL, "fallback", 200), 1);
	assert_int_equal(dt_client_key_in_use(sbx_daytona_client(p)), 1);
	/* later calls go straight to the fallback */
	ctl_do("POST", "/__control/log/reset", "{}");
	assert_int_equal(sbx_ensure_for_user(p, "user-key", &b, NULL), SBX_OK);
	assert_int_equal(log_count(NULL, NULL, -1), 1);
	assert_int_equal(log_count(NULL, "fallback", 200), 1);
	/* a reload with the new key as primary */
	cfg.daytona_api_key = KEY2;
	cfg.daytona_api_key_fallback = NULL;
	p->ops->reload(p, &cfg);
	ctl_do("POST", "/__control/log/reset", "{}");
	assert_int_equal(p->ops->get(p, a.id, &b, NULL), SBX_OK);
	assert_int_equal(log_count(NULL, NULL, -1), 1);
	sbx_provider_free(p);
}

static void test_all_keys_refused(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, KEY2, 0);
	struct sbx_error le;
	struct sbx_info a;
	char detail[128] = "";

	(void)state;
	ctl_do("POST", "/__control/keys/revoke", "{\"name\":\"primary\"}");
	ctl_do("POST", "/__control/keys/revoke", "{\"name\":\"fallback\"}");
	assert_int_equal(sbx_ensure_for_user(p, "user-nokey", &a, &le),
	    SBX_EAUTH);
	assert_int_equal(le.code, SBX_EAUTH);
	assert_int_equal(le.http_status, 401);
	assert_int_equal(p->ops->check(p, detail, sizeof(detail)), SBX_EAUTH);
	assert_non_null(strstr(detail, "401"));
	assert_null(strstr(detail, KEY1));
	sbx_provider_free(p);
}

/* ---- faults -------------------------------------------------------------- */

static void test_429_honours_retry_after(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_info a;
	long long t0;

	(void)state;
	ensure_ready(p, "user-429", &a);
	ctl_do("POST", "/__control/log/reset", "{}");
	fault("{\"kind\":\"status\",\"status\":429,\"retry_after\":1,"
	    "\"throttler\":\"authenticated\",\"match\":\"^GET /api/\"}");
	t0 = now_ms();
	assert_int_equal(p->ops->get(p, a.id, &a, NULL), SBX_OK);
	assert_true(now_ms() - t0 >= 1000);
	assert_int_equal(log_count(NULL, NULL, 429), 1);
	assert_int_equal(log_count(NULL, NULL, 200), 1);
	sbx_provider_free(p);
}

static void test_429_on_create_not_retried(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_error le;
	struct sbx_info a;

	(void)state;
	fault("{\"kind\":\"status\",\"status\":429,\"retry_after\":2,"
	    "\"throttler\":\"sandbox-create\","
	    "\"match\":\"^POST /api/sandbox$\"}");
	assert_int_equal(sbx_ensure_for_user(p, "user-429c", &a, &le),
	    SBX_ERATELIMIT);
	assert_int_equal(log_count("POST /api/sandbox", NULL, -1), 1);
	assert_int_equal(le.code, SBX_ERATELIMIT);
	assert_int_equal(le.retry_after_s, 2);
	assert_int_equal(le.http_status, 429);
	sbx_provider_free(p);
}

static void test_dropped_connection_retried_for_reads(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_info a;

	(void)state;
	ensure_ready(p, "user-drop", &a);
	ctl_do("POST", "/__control/log/reset", "{}");
	fault("{\"kind\":\"drop\",\"match\":\"^GET /api/sandbox/\"}");
	assert_int_equal(p->ops->get(p, a.id, &a, NULL), SBX_OK);
	assert_int_equal(log_count(NULL, NULL, -1), 2);
	sbx_provider_free(p);
}

static void test_dropped_create_is_not_resent(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_info a;

	(void)state;
	/* the request never reached the handler: nothing was created */
	fault("{\"kind\":\"drop\",\"match\":\"^POST /api/sandbox$\"}");
	assert_int_equal(sbx_ensure_for_user(p, "user-dropc", &a, NULL),
	    SBX_ENETWORK);
	assert_int_equal(log_count("POST /api/sandbox", NULL, -1), 1);
	sbx_provider_free(p);
}

static void test_lost_create_answer_finds_the_sandbox(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_info a;
	struct json_object *all;

	(void)state;
	/* created, but the answer is lost */
	fault("{\"kind\":\"drop_after\",\"match\":\"^POST /api/sandbox$\"}");
	assert_int_equal(sbx_ensure_for_user(p, "user-lost", &a, NULL), SBX_OK);
	assert_int_equal(log_count("POST /api/sandbox", NULL, -1), 1);
	all = ctl("GET", "/__control/sandboxes", NULL);
	assert_int_equal(json_object_array_length(all), 1);
	json_object_put(all);
	sbx_provider_free(p);
}

static void test_503_retried_500_not(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_info a;

	(void)state;
	ensure_ready(p, "user-5xx", &a);
	ctl_do("POST", "/__control/log/reset", "{}");
	fault("{\"kind\":\"status\",\"status\":503,\"count\":2,"
	    "\"match\":\"^GET /api/\"}");
	assert_int_equal(p->ops->get(p, a.id, &a, NULL), SBX_OK);
	assert_int_equal(log_count(NULL, NULL, -1), 3);
	ctl_do("POST", "/__control/log/reset", "{}");
	fault("{\"kind\":\"status\",\"status\":500,\"match\":\"^GET /api/\"}");
	assert_int_equal(p->ops->get(p, a.id, &a, NULL), SBX_EUPSTREAM);
	assert_int_equal(log_count(NULL, NULL, -1), 1);
	/* 503 for good: unavailable after the retries */
	fault("{\"kind\":\"status\",\"status\":503,\"count\":10,"
	    "\"match\":\"^GET /api/\"}");
	assert_int_equal(p->ops->get(p, a.id, &a, NULL), SBX_EUNAVAILABLE);
	ctl_do("DELETE", "/__control/faults", NULL);
	sbx_provider_free(p);
}

static void test_injected_401_404_409(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, KEY2, 0);
	struct sbx_provider *q = make_provider(KEY1, NULL, 0);
	struct sbx_info a, b;

	(void)state;
	ensure_ready(p, "user-inj", &a);
	/* 401 once: the fallback answers */
	fault("{\"kind\":\"status\",\"status\":401,\"match\":\"^GET /api/\"}");
	assert_int_equal(p->ops->get(p, a.id, &b, NULL), SBX_OK);
	/* 401 without a fallback */
	fault("{\"kind\":\"status\",\"status\":401,\"match\":\"^GET /api/\"}");
	assert_int_equal(q->ops->get(q, a.id, &b, NULL), SBX_EAUTH);
	/* 404 */
	fault("{\"kind\":\"status\",\"status\":404,\"match\":\"^GET /api/\"}");
	assert_int_equal(q->ops->get(q, a.id, &b, NULL), SBX_ENOTFOUND);
	/* 409 on create: the policy looks again and creates */
	ctl_do("POST", "/__control/log/reset", "{}");
	fault("{\"kind\":\"status\",\"status\":409,"
	    "\"match\":\"^POST /api/sandbox$\"}");
	assert_int_equal(sbx_ensure_for_user(q, "user-inj2", &b, NULL), SBX_OK);
	assert_int_equal(log_count("POST /api/sandbox", NULL, 200), 1);
	sbx_provider_free(p);
	sbx_provider_free(q);
}

static void test_slow_answer_times_out(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 300);
	struct sbx_info a;
	long long t0;

	(void)state;
	ensure_ready(p, "user-slow", &a);
	ctl_do("POST", "/__control/log/reset", "{}");
	fault("{\"kind\":\"latency\",\"latency_ms\":1500,"
	    "\"match\":\"^GET /api/\"}");
	t0 = now_ms();
	assert_int_equal(p->ops->get(p, a.id, &a, NULL), SBX_ETIMEOUT);
	assert_true(now_ms() - t0 < 1200);
	/* a timeout is not retried */
	usleep(1400 * 1000);
	assert_int_equal(log_count(NULL, NULL, -1), 1);
	sbx_provider_free(p);
}

static void test_quota_is_clear(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_error le;
	struct sbx_info a;

	(void)state;
	ctl_do("POST", "/__control/config", "{\"max_sandboxes\":1}");
	assert_int_equal(sbx_ensure_for_user(p, "user-q1", &a, NULL), SBX_OK);
	assert_int_equal(sbx_ensure_for_user(p, "user-q2", &a, &le),
	    SBX_EQUOTA);
	assert_int_equal(le.code, SBX_EQUOTA);
	assert_int_equal(le.http_status, 400);
	assert_non_null(strstr(le.message, "limit exceeded"));
	sbx_provider_free(p);
}

static void test_check(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	char detail[128] = "";

	(void)state;
	assert_int_equal(p->ops->check(p, detail, sizeof(detail)), SBX_OK);
	assert_int_equal(log_count("GET /api/sandbox", NULL, 200), 1);
	sbx_provider_free(p);
}

/* ---- toolbox ------------------------------------------------------------- */

static void test_exec(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	const char *env[] = {"GREETING=hi there", NULL};
	struct sbx_exec_opts o = {0};
	struct sbx_exec_result r;
	struct sbx_info a;

	(void)state;
	ensure_ready(p, "user-exec", &a);
	assert_int_equal(p->ops->exec(p, a.id, "echo x", NULL, &r, NULL), SBX_OK);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.output, "x\n");
	sbx_exec_result_free(&r);
	o.env = env;
	assert_int_equal(p->ops->exec(p, a.id, "printenv GREETING", &o, &r, NULL),
	    SBX_OK);
	assert_string_equal(r.output, "hi there\n");
	sbx_exec_result_free(&r);
	assert_int_equal(p->ops->exec(p, a.id, "false", NULL, &r, NULL), SBX_OK);
	assert_int_equal(r.exit_code, 1);
	sbx_exec_result_free(&r);
	o.timeout_s = 1;
	assert_int_equal(p->ops->exec(p, a.id, "sleep 5", &o, &r, NULL), SBX_OK);
	assert_int_equal(r.timed_out, 1);
	sbx_exec_result_free(&r);
	/* a command is never sent twice, even when its answer is lost */
	ctl_do("POST", "/__control/log/reset", "{}");
	fault("{\"kind\":\"drop\",\"match\":\"process/execute\"}");
	assert_int_equal(p->ops->exec(p, a.id, "echo y", NULL, &r, NULL),
	    SBX_ENETWORK);
	assert_int_equal(log_count("POST /toolbox/", NULL, -1), 1);
	assert_int_equal(p->ops->exec(p, a.id, "", NULL, &r, NULL), SBX_EINVAL);
	sbx_provider_free(p);
}

static void test_files(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_file_list l;
	struct sbx_info a;
	char *data;
	size_t len, i;
	int found = 0;

	(void)state;
	ensure_ready(p, "user-files", &a);
	assert_int_equal(p->ops->write_file(p, a.id, ".omni/tasks/t1.json",
	    "{\"ok\":true}", 11, NULL), SBX_OK);
	assert_int_equal(p->ops->read_file(p, a.id, ".omni/tasks/t1.json",
	    1024, &data, &len, NULL), SBX_OK);
	assert_int_equal(len, 11);
	assert_string_equal(data, "{\"ok\":true}");
	free(data);
	assert_int_equal(p->ops->read_file(p, a.id, ".omni/tasks/t1.json", 3,
	    &data, &len, NULL), SBX_ETOOLARGE);
	assert_null(data);
	/* 0 is the default cap and SIZE_MAX no cap: both read it whole */
	assert_int_equal(p->ops->read_file(p, a.id, ".omni/tasks/t1.json", 0,
	    &data, &len, NULL), SBX_OK);
	assert_int_equal(len, 11);
	free(data);
	assert_int_equal(p->ops->read_file(p, a.id, ".omni/tasks/t1.json",
	    SIZE_MAX, &data, &len, NULL), SBX_OK);
	assert_int_equal(len, 11);
	free(data);
	assert_int_equal(p->ops->read_file(p, a.id, ".omni/nope", 1024, &data,
	    &len, NULL), SBX_ENOTFOUND);
	assert_int_equal(p->ops->list_files(p, a.id, ".omni/tasks", &l, NULL),
	    SBX_OK);
	for (i = 0; i < l.count; i++)
		if (strcmp(l.entries[i].name, "t1.json") == 0 &&
		    !l.entries[i].is_dir && l.entries[i].size == 11 &&
		    l.entries[i].mtime > 0)
			found = 1;
	assert_true(found);
	sbx_file_list_free(&l);
	assert_int_equal(p->ops->write_file(p, a.id, "../escape", "x", 1, NULL),
	    SBX_EINVAL);
	assert_int_equal(p->ops->read_file(p, a.id, "a/../../b", 10, &data,
	    &len, NULL), SBX_EINVAL);
	sbx_provider_free(p);
}

/* ---- background jobs ----------------------------------------------------- */

static void test_job_command_shape_and_quoting(void **state)
{
	const char *argv[] = {"sh", "-c", "echo 'a b' $HOME", NULL};
	const char *spaced[] = {"my prog", "x y", "", NULL};
	char *cmd;

	(void)state;
	assert_int_equal(sbx_daytona_job_command("j1", argv, &cmd), SBX_OK);
	assert_string_equal(cmd, "cd \"$HOME\" && { "
	    "[ -f .omni/jobs/j1/env ] && . ./.omni/jobs/j1/env; "
	    "rm -f .omni/jobs/j1/env; "
	    "'sh' '-c' 'echo '\\''a b'\\'' $HOME' "
	    "< .omni/jobs/j1/input > .omni/jobs/j1/stdout "
	    "2> .omni/jobs/j1/stderr; "
	    "echo $? > .omni/jobs/j1/exit.tmp && "
	    "mv -f .omni/jobs/j1/exit.tmp .omni/jobs/j1/exit; }");
	free(cmd);
	/* spaces stay inside their word; an empty word stays a word */
	assert_int_equal(sbx_daytona_job_command("j-2_X", spaced, &cmd),
	    SBX_OK);
	assert_non_null(strstr(cmd, "; 'my prog' 'x y' '' < "));
	free(cmd);
}

static void test_job_command_refuses_bad_specs(void **state)
{
	const char *ok[] = {"true", NULL};
	const char *empty0[] = {"", NULL};
	const char *nl[] = {"sh", "-c", "echo a\necho b", NULL};
	const char *cr[] = {"sh", "-c", "echo a\r", NULL};
	const char *many[SBX_JOB_ARGV_MAX + 2];
	const char *big[] = {"echo", NULL, NULL};
	char *cmd = (char *)1, *word;
	size_t i;

	(void)state;
	for (i = 0; i < SBX_JOB_ARGV_MAX + 1; i++)
		many[i] = "x";
	many[SBX_JOB_ARGV_MAX + 1] = NULL;
	assert_int_equal(sbx_daytona_job_command("j", NULL, &cmd), SBX_EINVAL);
	assert_null(cmd);
	assert_int_equal(sbx_daytona_job_command("j", empty0, &cmd),
	    SBX_EINVAL);
	assert_int_equal(sbx_daytona_job_command("j", nl, &cmd), SBX_EINVAL);
	assert_int_equal(sbx_daytona_job_command("j", cr, &cmd), SBX_EINVAL);
	assert_int_equal(sbx_daytona_job_command("j", many, &cmd), SBX_EINVAL);
	assert_int_equal(sbx_daytona_job_command("../j", ok, &cmd), SBX_EINVAL);
	assert_int_equal(sbx_daytona_job_command("j k", ok, &cmd), SBX_EINVAL);
	assert_int_equal(sbx_daytona_job_command("", ok, &cmd), SBX_EINVAL);
	many[SBX_JOB_ARGV_MAX] = NULL; /* exactly the maximum */
	assert_int_equal(sbx_daytona_job_command("j", many, &cmd), SBX_OK);
	free(cmd);
	word = malloc(SBX_DAYTONA_JOB_COMMAND_MAX + 1);
	assert_non_null(word);
	memset(word, 'a', SBX_DAYTONA_JOB_COMMAND_MAX);
	word[SBX_DAYTONA_JOB_COMMAND_MAX] = '\0';
	big[1] = word;
	assert_int_equal(sbx_daytona_job_command("j", big, &cmd),
	    SBX_ETOOLARGE);
	assert_null(cmd);
	free(word);
}

static void test_job_env_file(void **state)
{
	const char *env[] = {"A=it's", "B=x y $z `w`", "C=", NULL};
	const char *bad[] = {"LD_PRELOAD=/x.so", NULL};
	const char *none[] = {NULL};
	char *s;
	size_t len;

	(void)state;
	assert_int_equal(sbx_daytona_job_env(env, &s, &len), SBX_OK);
	assert_string_equal(s, "export A='it'\\''s'\n"
	    "export B='x y $z `w`'\n"
	    "export C=''\n");
	assert_int_equal(len, strlen(s));
	free(s);
	assert_int_equal(sbx_daytona_job_env(none, &s, &len), SBX_OK);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	assert_int_equal(sbx_daytona_job_env(NULL, &s, &len), SBX_OK);
	free(s);
	assert_int_equal(sbx_daytona_job_env(bad, &s, &len), SBX_EINVAL);
	assert_null(s);
}

/* The prefix of the fake's log route of a session call of job 'job'. */
static void session_route(char *buf, size_t len, const char *method,
    const char *sandbox, const char *job, const char *suffix)
{
	snprintf(buf, len, "%s /toolbox/%s/process/session/%s%s%s", method,
	    sandbox, SBX_DAYTONA_JOB_SESSION, job, suffix);
}

/* Poll sbx_job_status until the job is in 'want' (or 'ms' pass). */
static struct sbx_job_status wait_job(struct sbx_provider *p, const char *id,
    const char *job, enum sbx_job_state want, int ms)
{
	struct sbx_job_status js = {0};
	long long end = now_ms() + ms;

	do {
		assert_int_equal(sbx_job_status(p, id, job, &js, NULL), SBX_OK);
		if (js.state == want)
			break;
		usleep(50 * 1000);
	} while (now_ms() < end);
	return js;
}

static void write_input(struct sbx_provider *p, const char *id,
    const char *job, const char *data, size_t len)
{
	char path[128];

	assert_int_equal(sbx_job_path(path, sizeof(path), job, "input"), 0);
	assert_int_equal(p->ops->write_file(p, id, path, data, len, NULL),
	    SBX_OK);
}

/* Job file 'file' as read through the provider (asserts it exists). */
static char *job_file(struct sbx_provider *p, const char *id, const char *job,
    const char *file, size_t *len)
{
	char path[128], *data;

	assert_int_equal(sbx_job_path(path, sizeof(path), job, file), 0);
	assert_int_equal(p->ops->read_file(p, id, path, 0, &data, len, NULL),
	    SBX_OK);
	return data;
}

/* The fake's materialised directories that still exist. */
static size_t fake_roots(void)
{
	struct json_object *s = ctl("GET", "/__control/sessions", NULL), *v;
	size_t n;

	assert_non_null(s);
	assert_true(json_object_object_get_ex(s, "roots", &v));
	n = json_object_array_length(v);
	json_object_put(s);
	return n;
}

/* Wait (up to 3 s) until no directory of the fake is left: the last
 * command's thread removes it right after publishing its exit code. */
static void assert_no_roots(void)
{
	long long end = now_ms() + 3000;

	while (fake_roots() != 0 && now_ms() < end)
		usleep(20 * 1000);
	assert_int_equal(fake_roots(), 0);
}

static void test_job_runs_to_its_exit(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	/* quotes, substitutions, newlines and non-ASCII: sh must not read
	 * any of it, cat gives it back byte for byte */
	static const char input[] = "it's \"quoted\" $(echo no) `echo no` "
	    "$HOME\nline two\n\tnon-ASCII: \xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\n"
	    "'\\''\n";
	const char *argv[] = {"sh", "-c", "cat; echo err >&2; sleep 1; exit 3",
	    NULL};
	struct sbx_job_spec spec = {0};
	struct sbx_job_status js;
	struct sbx_info a;
	char route[256], *data;
	size_t len;
	int already = -1;

	(void)state;
	ensure_ready(p, "user-job", &a);
	write_input(p, a.id, "job1", input, sizeof(input) - 1);
	spec.job_id = "job1";
	spec.argv = argv;
	ctl_do("POST", "/__control/log/reset", "{}");
	assert_int_equal(sbx_job_start(p, a.id, &spec, &already, NULL),
	    SBX_OK);
	assert_int_equal(already, 0);
	assert_int_equal(sbx_job_status(p, a.id, "job1", &js, NULL), SBX_OK);
	assert_int_equal(js.state, SBX_JOB_RUNNING);
	js = wait_job(p, a.id, "job1", SBX_JOB_EXITED, 4000);
	assert_int_equal(js.state, SBX_JOB_EXITED);
	assert_int_equal(js.exit_code, 3);
	data = job_file(p, a.id, "job1", "stdout", &len);
	assert_int_equal(len, sizeof(input) - 1);
	assert_memory_equal(data, input, len);
	free(data);
	data = job_file(p, a.id, "job1", "stderr", &len);
	assert_string_equal(data, "err\n");
	free(data);
	data = job_file(p, a.id, "job1", "exit", &len);
	assert_string_equal(data, "3\n");
	free(data);
	/* no env: nothing uploaded but the input before */
	assert_int_equal(log_count("POST /toolbox/", NULL, -1) -
	    log_count("POST /toolbox/", NULL, 200) -
	    log_count("POST /toolbox/", NULL, 201) -
	    log_count("POST /toolbox/", NULL, 202), 0);
	/* started once: a second start finds it and runs nothing */
	session_route(route, sizeof(route), "POST", a.id, "job1", "/exec");
	assert_int_equal(log_count(route, NULL, 202), 1);
	already = 0;
	assert_int_equal(sbx_job_start(p, a.id, &spec, &already, NULL),
	    SBX_OK);
	assert_int_equal(already, 1);
	assert_int_equal(log_count(route, NULL, -1), 1);
	js = wait_job(p, a.id, "job1", SBX_JOB_EXITED, 0);
	assert_int_equal(js.exit_code, 3);
	/* sessions die with a restart; the job's files say it ran */
	assert_int_equal(dt_session_delete(sbx_daytona_client(p), a.id,
	    SBX_DAYTONA_JOB_SESSION "job1", NULL), DT_OK);
	already = 0;
	assert_int_equal(sbx_job_start(p, a.id, &spec, &already, NULL),
	    SBX_OK);
	assert_int_equal(already, 1);
	assert_int_equal(log_count(route, NULL, -1), 1);
	assert_no_roots();
	sbx_provider_free(p);
}

/* The command text of every session exec the fake saw, joined. */
static void exec_commands(char *buf, size_t len)
{
	struct json_object *log = ctl("GET", "/__control/log", NULL), *e, *v;
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < json_object_array_length(log); i++) {
		e = json_object_array_get_idx(log, i);
		json_object_object_get_ex(e, "path", &v);
		if (strstr(json_object_get_string(v), "/process/session/") ==
		    NULL || !json_object_object_get_ex(e, "body", &v) ||
		    !json_object_object_get_ex(v, "command", &v))
			continue;
		strncat(buf, json_object_get_string(v), len - strlen(buf) - 1);
	}
	json_object_put(log);
}

static void test_job_env_stays_out_of_the_command(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	const char *env[] = {"OMNI_SECRET=s3cr'et \"v\" $(x) \\n", NULL};
	/* the env file is gone before the program runs */
	const char *argv[] = {"sh", "-c", "test ! -e .omni/jobs/jobenv/env && "
	    "printf %s \"$OMNI_SECRET\"", NULL};
	struct sbx_job_spec spec = {0};
	struct sbx_job_status js;
	struct sbx_info a;
	char cmds[4096], *data;
	size_t len;

	(void)state;
	ensure_ready(p, "user-jobenv", &a);
	write_input(p, a.id, "jobenv", "", 0);
	spec.job_id = "jobenv";
	spec.argv = argv;
	spec.env = env;
	assert_int_equal(sbx_job_start(p, a.id, &spec, NULL, NULL), SBX_OK);
	js = wait_job(p, a.id, "jobenv", SBX_JOB_EXITED, 4000);
	assert_int_equal(js.state, SBX_JOB_EXITED);
	assert_int_equal(js.exit_code, 0);
	data = job_file(p, a.id, "jobenv", "stdout", &len);
	assert_string_equal(data, "s3cr'et \"v\" $(x) \\n");
	free(data);
	assert_int_equal(p->ops->read_file(p, a.id, ".omni/jobs/jobenv/env", 0,
	    &data, &len, NULL), SBX_ENOTFOUND);
	/* Daytona keeps the command text: the value is not in it */
	exec_commands(cmds, sizeof(cmds));
	assert_non_null(strstr(cmds, ".omni/jobs/jobenv/env"));
	assert_null(strstr(cmds, "s3cr"));
	sbx_provider_free(p);
}

/* Is a process of group 'pgid' alive (a zombie is not: in a container
 * PID 1 may never reap the orphans of a killed group)? */
static int group_alive(int pgid)
{
	char path[300], buf[512], *p, st;
	int alive = 0, ppid, pgrp;
	struct dirent *de;
	DIR *d = opendir("/proc");
	FILE *f;

	assert_non_null(d);
	while (!alive && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue; /* gone meanwhile */
		/* "pid (comm) state ppid pgrp ...": comm may hold ')' */
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %c %d %d", &st, &ppid, &pgrp) == 3 &&
		    pgrp == pgid && st != 'Z' && st != 'X')
			alive = 1;
		fclose(f);
	}
	closedir(d);
	return alive;
}

/* The pid (= process group) of the one running command of the fake. */
static int running_pid(void)
{
	struct json_object *s = ctl("GET", "/__control/sessions", NULL), *cmds;
	struct json_object *c, *v;
	size_t i;
	int pid = -1;

	json_object_object_get_ex(s, "commands", &cmds);
	for (i = 0; i < json_object_array_length(cmds); i++) {
		c = json_object_array_get_idx(cmds, i);
		json_object_object_get_ex(c, "running", &v);
		if (!json_object_get_boolean(v))
			continue;
		json_object_object_get_ex(c, "pid", &v);
		pid = json_object_get_int(v);
	}
	json_object_put(s);
	return pid;
}

static void test_job_kill(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	const char *argv[] = {"sleep", "30", NULL};
	struct sbx_job_spec spec = {0};
	struct sbx_job_status js;
	struct sbx_info a;
	long long end;
	int running = -1, pid;

	(void)state;
	ensure_ready(p, "user-jobkill", &a);
	/* never started: not running, and no such job */
	assert_int_equal(p->ops->job_running(p, a.id, "nojob", &running, NULL),
	    SBX_OK);
	assert_int_equal(running, 0);
	assert_int_equal(sbx_job_status(p, a.id, "nojob", &js, NULL),
	    SBX_ENOTFOUND);
	write_input(p, a.id, "jobkill", "", 0);
	spec.job_id = "jobkill";
	spec.argv = argv;
	assert_int_equal(sbx_job_start(p, a.id, &spec, NULL, NULL), SBX_OK);
	assert_int_equal(p->ops->job_running(p, a.id, "jobkill", &running,
	    NULL), SBX_OK);
	assert_int_equal(running, 1);
	pid = running_pid();
	assert_true(pid > 1);
	assert_true(group_alive(pid));
	assert_int_equal(sbx_job_kill(p, a.id, "jobkill", NULL), SBX_OK);
	assert_int_equal(p->ops->job_running(p, a.id, "jobkill", &running,
	    NULL), SBX_OK);
	assert_int_equal(running, 0);
	assert_int_equal(sbx_job_status(p, a.id, "jobkill", &js, NULL),
	    SBX_OK);
	assert_int_equal(js.state, SBX_JOB_LOST);
	end = now_ms() + 3000;
	while (group_alive(pid) && now_ms() < end)
		usleep(20 * 1000);
	assert_false(group_alive(pid));
	/* killing what is gone is fine */
	assert_int_equal(sbx_job_kill(p, a.id, "jobkill", NULL), SBX_OK);
	assert_no_roots();
	sbx_provider_free(p);
}

static void test_job_start_needs_input_and_resumes_empty_session(void **st)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	const char *argv[] = {"true", NULL};
	struct sbx_job_spec spec = {0};
	struct dt_session_info info;
	struct sbx_job_status js;
	struct sbx_error why;
	struct sbx_info a;
	char route[256];
	int already = -1;

	(void)st;
	ensure_ready(p, "user-jobin", &a);
	spec.job_id = "jobin";
	spec.argv = argv;
	assert_int_equal(sbx_job_start(p, a.id, &spec, &already, &why),
	    SBX_ENOTFOUND);
	assert_int_equal(why.code, SBX_ENOTFOUND);
	/* the session it made is not left behind */
	assert_int_equal(dt_session_get(sbx_daytona_client(p), a.id,
	    SBX_DAYTONA_JOB_SESSION "jobin", &info, NULL), DT_ENOTFOUND);
	/* a start that died between create and exec: the next one runs */
	assert_int_equal(dt_session_create(sbx_daytona_client(p), a.id,
	    SBX_DAYTONA_JOB_SESSION "jobin", NULL), DT_OK);
	write_input(p, a.id, "jobin", "x", 1);
	assert_int_equal(sbx_job_start(p, a.id, &spec, &already, NULL),
	    SBX_OK);
	assert_int_equal(already, 0);
	session_route(route, sizeof(route), "POST", a.id, "jobin", "/exec");
	assert_int_equal(log_count(route, NULL, 202), 1);
	js = wait_job(p, a.id, "jobin", SBX_JOB_EXITED, 4000);
	assert_int_equal(js.state, SBX_JOB_EXITED);
	assert_int_equal(js.exit_code, 0);
	/* a bad spec never reaches Daytona */
	ctl_do("POST", "/__control/log/reset", "{}");
	spec.job_id = "bad id";
	assert_int_equal(sbx_job_start(p, a.id, &spec, NULL, NULL), SBX_EINVAL);
	assert_int_equal(log_count(NULL, NULL, -1), 0);
	sbx_provider_free(p);
}

/* Names in directory 'dir' of the sandbox, ' '-joined into 'buf'. */
static void list_names(struct sbx_provider *p, const char *id,
    const char *dir, char *buf, size_t len)
{
	struct sbx_file_list l;
	size_t i;

	buf[0] = '\0';
	assert_int_equal(p->ops->list_files(p, id, dir, &l, NULL), SBX_OK);
	for (i = 0; i < l.count; i++) {
		strncat(buf, l.entries[i].name, len - strlen(buf) - 1);
		strncat(buf, " ", len - strlen(buf) - 1);
	}
	sbx_file_list_free(&l);
}

static void test_write_file_is_atomic(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct sbx_error why;
	struct sbx_info a;
	char names[512], *data;
	size_t len;

	(void)state;
	ensure_ready(p, "user-atomic", &a);
	assert_int_equal(p->ops->write_file(p, a.id, "notes/it's.md", "old",
	    3, NULL), SBX_OK);
	ctl_do("POST", "/__control/log/reset", "{}");
	assert_int_equal(p->ops->write_file(p, a.id, "notes/it's.md",
	    "new content", 11, NULL), SBX_OK);
	/* beside it under a temporary name, then one rename */
	assert_int_equal(log_count("POST /toolbox/", NULL, 200), 2);
	assert_int_equal(log_count("POST /toolbox/", NULL, -1), 2);
	assert_int_equal(p->ops->read_file(p, a.id, "notes/it's.md", 0, &data,
	    &len, NULL), SBX_OK);
	assert_string_equal(data, "new content");
	free(data);
	list_names(p, a.id, "notes", names, sizeof(names));
	assert_string_equal(names, "it's.md ");
	/* a rename that fails: the error, the old file, no temporary */
	ctl_do("POST", "/__control/exec", "{\"match\":\"^mv \","
	    "\"exitCode\":1,\"result\":\"mv: Permission denied\\n\"}");
	assert_int_equal(p->ops->write_file(p, a.id, "notes/it's.md", "lost",
	    4, &why), SBX_EIO);
	assert_int_equal(why.code, SBX_EIO);
	assert_non_null(strstr(why.message, "Permission denied"));
	assert_int_equal(p->ops->read_file(p, a.id, "notes/it's.md", 0, &data,
	    &len, NULL), SBX_OK);
	assert_string_equal(data, "new content");
	free(data);
	list_names(p, a.id, "notes", names, sizeof(names));
	assert_string_equal(names, "it's.md ");
	/* a path that names no file */
	assert_int_equal(p->ops->write_file(p, a.id, "notes/", "x", 1, NULL),
	    SBX_EINVAL);
	sbx_provider_free(p);
}

/* ---- threads ------------------------------------------------------------- */

struct worker {
	struct sbx_provider *p;
	const char *id;
	int ok;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct sbx_info info;
	int i;

	for (i = 0; i < 10; i++)
		if (w->p->ops->get(w->p, w->id, &info, NULL) == SBX_OK)
			w->ok++;
	return NULL; /* the thread's curl handle is freed by its destructor */
}

static void test_threads_share_a_provider(void **state)
{
	struct sbx_provider *p = make_provider(KEY1, NULL, 0);
	struct worker w[4];
	pthread_t t[4];
	struct sbx_info a;
	int i;

	(void)state;
	ensure_ready(p, "user-threads", &a);
	for (i = 0; i < 4; i++) {
		w[i].p = p;
		w[i].id = a.id;
		w[i].ok = 0;
		pthread_create(&t[i], NULL, worker_run, &w[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 10);
	}
	sbx_provider_free(p);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_state_mapping),
		cmocka_unit_test(test_error_mapping),
		cmocka_unit_test(test_new_refuses_incomplete_config),
		cmocka_unit_test(test_job_command_shape_and_quoting),
		cmocka_unit_test(test_job_command_refuses_bad_specs),
		cmocka_unit_test(test_job_env_file),
	};
	const struct CMUnitTest live[] = {
		T(test_create_then_reuse),
		T(test_stopped_is_restarted),
		T(test_error_is_replaced),
		T(test_concurrent_creates_end_with_one),
		T(test_remove_and_ownership_guard),
		T(test_fallback_key_after_revoke),
		T(test_all_keys_refused),
		T(test_429_honours_retry_after),
		T(test_429_on_create_not_retried),
		T(test_dropped_connection_retried_for_reads),
		T(test_dropped_create_is_not_resent),
		T(test_lost_create_answer_finds_the_sandbox),
		T(test_503_retried_500_not),
		T(test_injected_401_404_409),
		T(test_slow_answer_times_out),
		T(test_quota_is_clear),
		T(test_check),
		T(test_exec),
		T(test_files),
		T(test_write_file_is_atomic),
		T(test_job_runs_to_its_exit),
		T(test_job_env_stays_out_of_the_command),
		T(test_job_kill),
		T(test_job_start_needs_input_and_resumes_empty_session),
		T(test_threads_share_a_provider),
	};
	int failed;

	signal(SIGPIPE, SIG_IGN);
	failed = cmocka_run_group_tests_name("daytona_pure", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("daytona_fake", live, start_fake,
	    stop_fake);
	return failed != 0;
}
