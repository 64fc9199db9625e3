/*
 * test_ratelimit.c -- unit tests for the shared rate-limit table
 * (app/ratelimit.c) and the policy the router applies with it
 * (app/http/rate_gate.c, through router_dispatch).
 *
 * The clock is injected: rl_hit() takes the time, and the gate takes it
 * from req->started, which the tests set after parsing.  The
 * multi-process tests fork children that hammer one table the way the
 * pool's workers do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jwt_token.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "rate_gate.h"
#include "ratelimit.h"
#include "handlers.h"
#include "router.h"

#define MIN_MS RL_WINDOW_MS
#define T0 (1000 * MIN_MS) /* the start of some window */

static struct rl_table *
table(size_t n)
{
	struct rl_table *t = NULL;

	assert_int_equal(rl_table_create(n, &t), RL_OK);
	assert_non_null(t);
	return t;
}

static int
hit(struct rl_table *t, const char *id, unsigned limit, long long now)
{
	return rl_hit(t, RL_KEY_IP, RL_BUDGET_GENERAL, id, strlen(id), limit,
	    now, NULL);
}

/* Hits admitted out of 'n' tries of key 'id' at 'now'. */
static int
admitted(struct rl_table *t, const char *id, unsigned limit, long long now,
    int n)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += hit(t, id, limit, now) == 0;
	return ok;
}

/* ---- SipHash ---- */

static void
test_siphash_reference_vectors(void **state)
{
	unsigned char key[16], msg[15];

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (unsigned char)i;
	/* The paper's example (Appendix A) and the first vector of the
	 * reference test set. */
	assert_true(rl_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
	assert_true(rl_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	key[0] ^= 1;
	assert_true(rl_siphash(key, msg, 15) != 0xa129ca6149be45e5ULL);
}

/* ---- the table ---- */

static void
test_sizes(void **state)
{
	struct rl_table *t = NULL;
	struct rl_stats st;

	(void)state;
	assert_int_equal(rl_table_create(7, &t), RL_EINVAL);
	assert_null(t);
	assert_int_equal(rl_table_create(12, &t), RL_EINVAL);
	assert_int_equal(rl_table_bytes(12), 0);
	assert_true(rl_table_bytes(0) == rl_table_bytes(RL_DEFAULT_BUCKETS));
	/* 16 bytes a bucket: the default table is about 1 MiB. */
	assert_true(rl_table_bytes(RL_DEFAULT_BUCKETS) <
	    RL_DEFAULT_BUCKETS * 16 + 4096);
	t = table(0);
	rl_table_stats(t, &st);
	assert_int_equal(st.buckets, RL_DEFAULT_BUCKETS);
	assert_int_equal(st.used, 0);
	rl_table_destroy(t);
	rl_table_destroy(NULL);
	assert_string_equal(rl_strerror(RL_OK), "ok");
	assert_non_null(rl_strerror((enum rl_err)99));
}

static void
test_counts_exact_in_window(void **state)
{
	struct rl_table *t = table(64);

	(void)state;
	assert_int_equal(admitted(t, "a", 5, T0 + 10, 5), 5);
	/* The sixth and later are refused, however many come. */
	assert_int_equal(admitted(t, "a", 5, T0 + 20, 50), 0);
	/* A limit of one. */
	assert_int_equal(admitted(t, "one", 1, T0 + 30, 3), 1);
	/* Limit 0 is "no limit": everything passes, nothing is stored. */
	assert_int_equal(admitted(t, "free", 0, T0, 1000), 1000);
	rl_table_destroy(t);
}

static void
test_limit_zero_stores_nothing(void **state)
{
	struct rl_table *t = table(64);
	struct rl_stats st;

	(void)state;
	assert_int_equal(admitted(t, "free", 0, T0, 10), 10);
	rl_table_stats(t, &st);
	assert_int_equal(st.used, 0);
	assert_int_equal(rl_hit(NULL, RL_KEY_IP, RL_BUDGET_GENERAL, "x", 1, 1,
	    T0, NULL), 0);
	rl_table_destroy(t);
}

static void
test_retry_after_with_injected_clock(void **state)
{
	struct rl_table *t = table(64);

	(void)state;
	assert_int_equal(rl_retry_after(T0), 60);
	assert_int_equal(rl_retry_after(T0 + 1), 60);      /* 59.999 s */
	assert_int_equal(rl_retry_after(T0 + 30500), 30);  /* 29.5 s */
	assert_int_equal(rl_retry_after(T0 + 59000), 1);
	assert_int_equal(rl_retry_after(T0 + 59999), 1);   /* never 0 */
	assert_int_equal(rl_retry_after(T0 + MIN_MS), 60); /* next window */

	/* A refusal says how long until the window frees the key. */
	assert_int_equal(hit(t, "k", 1, T0 + 100), 0);
	assert_int_equal(hit(t, "k", 1, T0 + 100), 60);
	assert_int_equal(hit(t, "k", 1, T0 + 45000), 15);
	assert_int_equal(hit(t, "k", 1, T0 + 59999), 1);
	rl_table_destroy(t);
}

static void
test_new_window_resets(void **state)
{
	struct rl_table *t = table(64);

	(void)state;
	assert_int_equal(admitted(t, "k", 3, T0, 10), 3);
	/* The last millisecond of the window is still the window. */
	assert_int_equal(admitted(t, "k", 3, T0 + MIN_MS - 1, 1), 0);
	/* The next window starts from zero, with the full budget again. */
	assert_int_equal(admitted(t, "k", 3, T0 + MIN_MS, 10), 3);
	/* Skipping windows is the same. */
	assert_int_equal(admitted(t, "k", 3, T0 + 7 * MIN_MS + 5, 10), 3);
	rl_table_destroy(t);
}

static void
test_kinds_and_budgets_are_independent(void **state)
{
	struct rl_table *t = table(64);
	const char *id = "192.0.2.7";
	size_t len = strlen(id);

	(void)state;
	/* Exhaust (IP, general, id). */
	for (int i = 0; i < 2; i++)
		assert_int_equal(rl_hit(t, RL_KEY_IP, RL_BUDGET_GENERAL, id,
		    len, 2, T0, NULL), 0);
	assert_true(rl_hit(t, RL_KEY_IP, RL_BUDGET_GENERAL, id, len, 2, T0,
	    NULL) > 0);
	/* The same bytes as a user, or on the strict budget, are other
	 * counters with their whole budget. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rl_hit(t, RL_KEY_USER, RL_BUDGET_GENERAL, id,
		    len, 2, T0, NULL), 0);
		assert_int_equal(rl_hit(t, RL_KEY_IP, RL_BUDGET_STRICT, id,
		    len, 2, T0, NULL), 0);
	}
	assert_true(rl_hit(t, RL_KEY_USER, RL_BUDGET_GENERAL, id, len, 2, T0,
	    NULL) > 0);
	assert_true(rl_hit(t, RL_KEY_IP, RL_BUDGET_STRICT, id, len, 2, T0,
	    NULL) > 0);
	/* Another id of the same kind too. */
	assert_int_equal(rl_hit(t, RL_KEY_IP, RL_BUDGET_GENERAL, "192.0.2.8",
	    9, 2, T0, NULL), 0);
	/* A prefix of an id is not the id. */
	assert_int_equal(rl_hit(t, RL_KEY_IP, RL_BUDGET_GENERAL, id, len - 1,
	    2, T0, NULL), 0);
	rl_table_destroy(t);
}

static void
test_undo_gives_back_only_its_window(void **state)
{
	struct rl_table *t = table(64);
	struct rl_ticket tk;

	(void)state;
	assert_int_equal(admitted(t, "k", 3, T0, 2), 2);
	assert_int_equal(rl_hit(t, RL_KEY_IP, RL_BUDGET_GENERAL, "k", 1, 3,
	    T0, &tk), 0);
	assert_true(tk.valid);
	assert_true(hit(t, "k", 3, T0) > 0);
	rl_undo(t, &tk);
	assert_false(tk.valid);
	assert_int_equal(admitted(t, "k", 3, T0, 5), 1);
	/* Undoing twice gives back nothing more. */
	rl_undo(t, &tk);
	assert_int_equal(admitted(t, "k", 3, T0, 5), 0);
	/* A ticket of an old window does not touch the new one. */
	assert_int_equal(rl_hit(t, RL_KEY_IP, RL_BUDGET_GENERAL, "k", 1, 3,
	    T0 + MIN_MS, &tk), 0);
	assert_int_equal(admitted(t, "k", 3, T0 + MIN_MS, 5), 2);
	tk.window ^= 1;
	rl_undo(t, &tk);
	assert_int_equal(admitted(t, "k", 3, T0 + MIN_MS, 5), 0);
	/* A refused hit has no ticket. */
	assert_true(rl_hit(t, RL_KEY_IP, RL_BUDGET_GENERAL, "k", 1, 3,
	    T0 + MIN_MS, &tk) > 0);
	assert_false(tk.valid);
	rl_undo(t, &tk); /* harmless */
	rl_undo(NULL, NULL);
	rl_table_destroy(t);
}

/* With RL_MIN_BUCKETS buckets every key shares the one probe window, so
 * the table is full after 8 keys whatever their hashes. */
static void
test_full_table_evicts_the_stalest(void **state)
{
	struct rl_table *t = table(RL_MIN_BUCKETS);
	struct rl_stats st;
	char id[16];

	(void)state;
	/* One key last seen five windows ago, seven seen now. */
	assert_int_equal(hit(t, "old", 4, T0 - 5 * MIN_MS), 0);
	for (int i = 0; i < 7; i++) {
		snprintf(id, sizeof(id), "k%d", i);
		assert_int_equal(admitted(t, id, 4, T0, 3), 3);
	}
	rl_table_stats(t, &st);
	assert_int_equal(st.used, 8);
	assert_true(st.evictions == 0);

	/* A new key is served: it takes the stale bucket, which held no
	 * count of this window, so nothing live was lost. */
	assert_int_equal(hit(t, "new", 4, T0), 0);
	rl_table_stats(t, &st);
	assert_int_equal(st.used, 8);
	assert_true(st.evictions == 0);
	/* The seven current keys kept their counts: one hit left each. */
	for (int i = 0; i < 7; i++) {
		snprintf(id, sizeof(id), "k%d", i);
		assert_int_equal(admitted(t, id, 4, T0, 3), 1);
	}

	/* All eight now count this window.  Another new key takes the bucket
	 * with the fewest hits ("new", one hit): a live take-over. */
	assert_int_equal(hit(t, "old", 4, T0), 0);
	rl_table_stats(t, &st);
	assert_true(st.evictions == 1);
	for (int i = 0; i < 7; i++) {
		snprintf(id, sizeof(id), "k%d", i);
		assert_int_equal(admitted(t, id, 4, T0, 1), 0);
	}
	rl_table_destroy(t);
}

static void
test_churn_serves_all_keeps_heavy_hitters(void **state)
{
	struct rl_table *t = table(RL_MIN_BUCKETS);
	char id[16];

	(void)state;
	/* A client at its limit ... */
	assert_int_equal(admitted(t, "heavy", 4, T0, 10), 4);
	/* ... then 200 different clients in the same window, 25 times more
	 * than the table holds: each one is served ... */
	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		assert_int_equal(hit(t, id, 4, T0 + i), 0);
	}
	/* ... and the heavy client was never the one forgotten: the bucket
	 * with the fewest hits goes first. */
	assert_true(hit(t, "heavy", 4, T0 + 500) > 0);
	rl_table_destroy(t);
}

/* ---- many processes on one table ---- */

#define KIDS 6
#define KID_HITS 20000
#define SHARED_LIMIT 50000
#define OWN_LIMIT 37

struct shared_counts {
	atomic_int go;              /* start line for every child */
	atomic_int ready;
	int shared_ok[KIDS];        /* admitted hits on the common key */
	int own_ok[KIDS];           /* admitted hits on the child's own key */
};

static void
child(struct rl_table *t, struct shared_counts *c, int k)
{
	char own[16];

	snprintf(own, sizeof(own), "kid-%d", k);
	atomic_fetch_add(&c->ready, 1);
	while (!atomic_load(&c->go))
		;
	for (int i = 0; i < KID_HITS; i++) {
		c->shared_ok[k] += hit(t, "everyone", SHARED_LIMIT,
		    T0 + i) == 0;
		c->own_ok[k] += hit(t, own, OWN_LIMIT, T0 + i) == 0;
	}
	_exit(0);
}

static void
test_processes_share_one_exact_count(void **state)
{
	struct rl_table *t = table(0);
	struct shared_counts *c;
	pid_t pids[KIDS];
	int total = 0;

	(void)state;
	c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(c != MAP_FAILED);
	memset(c, 0, sizeof(*c));
	for (int k = 0; k < KIDS; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0)
			child(t, c, k);
	}
	while (atomic_load(&c->ready) < KIDS)
		usleep(1000);
	atomic_store(&c->go, 1);
	for (int k = 0; k < KIDS; k++) {
		int status;

		assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* 120000 tries on one key from six processes at once: exactly the
	 * limit got through, and each private key got exactly its own. */
	for (int k = 0; k < KIDS; k++) {
		total += c->shared_ok[k];
		assert_int_equal(c->own_ok[k], OWN_LIMIT);
	}
	assert_int_equal(total, SHARED_LIMIT);
	/* And the parent sees the same count: no budget left. */
	assert_true(hit(t, "everyone", SHARED_LIMIT, T0 + 1) > 0);
	munmap(c, sizeof(*c));
	rl_table_destroy(t);
}

static void
test_count_survives_a_killed_process(void **state)
{
	struct rl_table *t = table(0);
	pid_t pid;
	int status;

	(void)state;
	/* A "worker" spends the budget and is killed while it runs. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (int i = 0; i < 5; i++)
			hit(t, "client", 5, T0);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	/* Its replacement, forked from the same parent, finds no budget. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(hit(t, "client", 5, T0 + 1000) > 0 ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	rl_table_destroy(t);
}

/* ---- the policy, through the router ---- */

enum h_id { H_G, H_S, H_X, H_ME, H__MAX };
static int calls[H__MAX];

static void
reply(struct http_response *resp)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	http_response_json(resp, 200, o);
}

static void h_g(struct http_request *q, struct http_response *r)
{ (void)q; calls[H_G]++; reply(r); }
static void h_s(struct http_request *q, struct http_response *r)
{ (void)q; calls[H_S]++; reply(r); }
static void h_x(struct http_request *q, struct http_response *r)
{ (void)q; calls[H_X]++; reply(r); }
static void h_me(struct http_request *q, struct http_response *r)
{ (void)q; calls[H_ME]++; reply(r); }

static const struct route routes[] = {
	{ "GET", "/g", h_g, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0,
	    ROUTE_LIMIT_GENERAL },
	{ "POST", "/s", h_s, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0,
	    ROUTE_LIMIT_STRICT },
	{ "GET", "/x", h_x, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0,
	    ROUTE_LIMIT_EXEMPT },
	{ "GET", "/me", h_me, ROUTE_BODY_NONE, ROUTE_USER, 0,
	    ROUTE_LIMIT_GENERAL },
	{ "POST", "/me", h_me, ROUTE_BODY_NONE, ROUTE_USER, 0,
	    ROUTE_LIMIT_STRICT },
};

static char secret[] = "rate-limit-test-secret-0123456789abcdef";
static char loopback[] = "127.0.0.1,::1";
static char nobody[] = "";
static struct omni_config cfg;
static struct rl_table *gate_table;

static int
gate_setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_body = 1024;
	cfg.rate_limit_rpm = 3;
	cfg.trusted_proxies = loopback;
	cfg.jwt_secret = secret;
	memset(calls, 0, sizeof(calls));
	log_set_level(LOG_ERROR); /* the refusal lines; one test reads them */
	assert_int_equal(rl_table_create(256, &gate_table), RL_OK);
	return 0;
}

static int
gate_teardown(void **state)
{
	(void)state;
	rl_table_destroy(gate_table);
	gate_table = NULL;
	return 0;
}

struct answer {
	int status;
	char retry_after[16];
	char code[32];
	long long limit;
};

static long
no_body(void *ctx, char *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return 0;
}

/*
 * Dispatch METHOD PATH from REMOTE_ADDR 'ra' (may be NULL) with
 * X-Forwarded-For 'xff' (may be NULL) and a token for 'sub' (may be
 * NULL) at monotonic time 'now_ms'.
 */
static struct answer
send_at(const char *method, const char *path, const char *ra,
    const char *xff, const char *sub, long long now_ms)
{
	char m[32], u[64], r[80], x[128], auth[1024], payload[256];
	char *env[8];
	size_t n = 0;
	struct http_request req;
	struct http_response resp;
	struct answer a;
	const char *v;

	snprintf(m, sizeof(m), "REQUEST_METHOD=%s", method);
	snprintf(u, sizeof(u), "REQUEST_URI=%s", path);
	env[n++] = m;
	env[n++] = u;
	if (ra != NULL) {
		snprintf(r, sizeof(r), "REMOTE_ADDR=%s", ra);
		env[n++] = r;
	}
	if (xff != NULL) {
		snprintf(x, sizeof(x), "HTTP_X_FORWARDED_FOR=%s", xff);
		env[n++] = x;
	}
	if (sub != NULL) {
		snprintf(payload, sizeof(payload),
		    "{\"sub\":\"%s\",\"exp\":%lld}", sub,
		    (long long)time(NULL) + 3600);
		jwt_bearer_param(auth, sizeof(auth), payload, secret);
		env[n++] = auth;
	}
	env[n] = NULL;
	assert_int_equal(http_request_parse(&req, env, no_body, NULL,
	    cfg.max_body, &cfg), HTTP_PARSE_OK);
	req.ratelimit = gate_table;
	req.started.tv_sec = (time_t)(now_ms / 1000);
	req.started.tv_nsec = (long)(now_ms % 1000) * 1000000L;
	http_response_init(&resp);
	router_dispatch(routes, sizeof(routes) / sizeof(routes[0]), &req,
	    &resp);

	memset(&a, 0, sizeof(a));
	a.status = resp.status;
	if ((v = http_response_get_header(&resp, "Retry-After")) != NULL)
		snprintf(a.retry_after, sizeof(a.retry_after), "%s", v);
	if (resp.status >= 400 && resp.body != NULL) {
		struct json_object *o = json_tokener_parse(resp.body), *e, *f;

		if (o != NULL && json_object_object_get_ex(o, "error", &e)) {
			if (json_object_object_get_ex(e, "code", &f))
				snprintf(a.code, sizeof(a.code), "%s",
				    json_object_get_string(f));
			if (json_object_object_get_ex(e, "details", &f) &&
			    json_object_object_get_ex(f, "limit", &f))
				a.limit = json_object_get_int64(f);
		}
		json_object_put(o);
	}
	http_response_free(&resp);
	http_request_free(&req);
	return a;
}

static struct answer
send_from(const char *method, const char *path, const char *ra)
{
	return send_at(method, path, ra, NULL, NULL, T0 + 15000);
}

static void
test_gate_429_in_the_error_model(void **state)
{
	struct answer a;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_from("GET", "/g", "192.0.2.1").status,
		    200);
	a = send_at("GET", "/g", "192.0.2.1", NULL, NULL, T0 + 15000);
	assert_int_equal(a.status, 429);
	assert_string_equal(a.code, "RATE_LIMITED");
	assert_string_equal(a.retry_after, "45");
	assert_int_equal(a.limit, 3);
	/* The handler never ran for the refused request. */
	assert_int_equal(calls[H_G], 3);
	/* Another client is not affected. */
	assert_int_equal(send_from("GET", "/g", "192.0.2.2").status, 200);
	/* HEAD is the GET route: counted on the same budget. */
	assert_int_equal(send_from("HEAD", "/g", "192.0.2.1").status, 429);
	/* Next window: served again. */
	assert_int_equal(send_at("GET", "/g", "192.0.2.1", NULL, NULL,
	    T0 + MIN_MS).status, 200);
}

static void
test_gate_exempt_routes_and_rpm_zero(void **state)
{
	(void)state;
	for (int i = 0; i < 20; i++)
		assert_int_equal(send_from("GET", "/x", "192.0.2.1").status,
		    200);
	assert_int_equal(calls[H_X], 20);
	/* Exempt requests did not spend the general budget either. */
	assert_int_equal(send_from("GET", "/g", "192.0.2.1").status, 200);
	/* RATE_LIMIT_RPM=0: nothing is limited, the strict routes neither. */
	cfg.rate_limit_rpm = 0;
	cfg.rate_limit_strict_rpm = 1;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(send_from("GET", "/g", "192.0.2.1").status,
		    200);
		assert_int_equal(send_from("POST", "/s", "192.0.2.1").status,
		    200);
	}
}

static void
test_gate_strict_budget(void **state)
{
	(void)state;
	/* Defaults: RPM / 6, at least 1. */
	cfg.rate_limit_rpm = 12;
	assert_int_equal(rate_gate_limit(&cfg, ROUTE_LIMIT_STRICT), 2);
	assert_int_equal(rate_gate_limit(&cfg, ROUTE_LIMIT_GENERAL), 12);
	assert_int_equal(rate_gate_limit(&cfg, ROUTE_LIMIT_EXEMPT), 0);
	cfg.rate_limit_rpm = 5;
	assert_int_equal(rate_gate_limit(&cfg, ROUTE_LIMIT_STRICT), 1);
	cfg.rate_limit_strict_rpm = 4;
	assert_int_equal(rate_gate_limit(&cfg, ROUTE_LIMIT_STRICT), 4);
	assert_int_equal(rate_gate_limit(NULL, ROUTE_LIMIT_GENERAL), 0);

	cfg.rate_limit_rpm = 12;
	cfg.rate_limit_strict_rpm = 0;
	assert_int_equal(send_from("POST", "/s", "192.0.2.1").status, 200);
	assert_int_equal(send_from("POST", "/s", "192.0.2.1").status, 200);
	assert_int_equal(send_from("POST", "/s", "192.0.2.1").status, 429);
	/* The general budget is a separate count: all 12 still there. */
	for (int i = 0; i < 12; i++)
		assert_int_equal(send_from("GET", "/g", "192.0.2.1").status,
		    200);
	assert_int_equal(send_from("GET", "/g", "192.0.2.1").status, 429);
	assert_int_equal(calls[H_S], 2);
}

static void
test_gate_forwarded_for_only_from_trusted_proxy(void **state)
{
	char xff[32];

	(void)state;
	/* An untrusted peer cannot buy a new budget with a new header. */
	for (int i = 0; i < 6; i++) {
		snprintf(xff, sizeof(xff), "203.0.113.%d", i);
		assert_int_equal(send_at("GET", "/g", "198.51.100.1", xff, NULL,
		    T0).status, i < 3 ? 200 : 429);
	}
	/* Loopback (the default trusted front) names the client: each
	 * forwarded client has its own budget, the peer's is untouched. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_at("GET", "/g", "127.0.0.1",
		    "203.0.113.50", NULL, T0).status, 200);
	assert_int_equal(send_at("GET", "/g", "127.0.0.1", "203.0.113.50",
	    NULL, T0).status, 429);
	assert_int_equal(send_at("GET", "/g", "127.0.0.1", "203.0.113.51",
	    NULL, T0).status, 200);
	/* OMNI_TRUSTED_PROXIES="": the header counts for nothing. */
	cfg.trusted_proxies = nobody;
	for (int i = 0; i < 4; i++) {
		snprintf(xff, sizeof(xff), "203.0.113.%d", 100 + i);
		assert_int_equal(send_at("GET", "/g", "127.0.0.1", xff, NULL,
		    T0).status, i < 3 ? 200 : 429);
	}
	/* No REMOTE_ADDR: one shared "unknown" client. */
	for (int i = 0; i < 4; i++) {
		snprintf(xff, sizeof(xff), "203.0.113.%d", 200 + i);
		assert_int_equal(send_at("GET", "/g", NULL, xff, NULL,
		    T0).status, i < 3 ? 200 : 429);
	}
}

static void
test_gate_user_budget_across_addresses(void **state)
{
	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.rate_limit_rpm = 2;
	/* One token from ever new addresses: the subject's budget holds. */
	assert_int_equal(send_at("GET", "/me", "192.0.2.10", NULL, "alice",
	    T0).status, 200);
	assert_int_equal(send_at("GET", "/me", "192.0.2.11", NULL, "alice",
	    T0).status, 200);
	assert_int_equal(send_at("GET", "/me", "192.0.2.12", NULL, "alice",
	    T0).status, 429);
	assert_int_equal(calls[H_ME], 2);
	/* That refusal was given back to 192.0.2.12: two more from there. */
	assert_int_equal(send_at("GET", "/me", "192.0.2.12", NULL, "bob",
	    T0).status, 200);
	assert_int_equal(send_at("GET", "/me", "192.0.2.12", NULL, "carol",
	    T0).status, 200);
	assert_int_equal(send_at("GET", "/me", "192.0.2.12", NULL, "dave",
	    T0).status, 429);
	/* Bad tokens are counted by address before auth refuses them. */
	assert_int_equal(send_at("GET", "/me", "192.0.2.13", NULL, NULL,
	    T0).status, 401);
	assert_int_equal(send_at("GET", "/me", "192.0.2.13", NULL, NULL,
	    T0).status, 401);
	assert_int_equal(send_at("GET", "/me", "192.0.2.13", NULL, NULL,
	    T0).status, 429);
	/* A public route has no subject: only the address counts. */
	assert_int_equal(send_at("GET", "/g", "192.0.2.14", NULL, "alice",
	    T0).status, 200);
}

static void
test_gate_user_strict_budget_is_separate(void **state)
{
	char ra[32];

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	cfg.rate_limit_rpm = 4;
	cfg.rate_limit_strict_rpm = 1;
	assert_int_equal(send_at("POST", "/me", "192.0.2.30", NULL, "erin",
	    T0).status, 200);
	assert_int_equal(send_at("POST", "/me", "192.0.2.31", NULL, "erin",
	    T0).status, 429);
	/* The subject's general budget is whole. */
	for (int i = 0; i < 5; i++) {
		snprintf(ra, sizeof(ra), "192.0.2.%d", 40 + i);
		assert_int_equal(send_at("GET", "/me", ra, NULL, "erin",
		    T0).status, i < 4 ? 200 : 429);
	}
}

/* Capture fd 2 around one refused request; the log line must name the
 * key kind and never the subject. */
static void
test_gate_logs_one_line_without_the_subject(void **state)
{
	FILE *cap = tmpfile();
	int saved = dup(STDERR_FILENO);
	char buf[4096];
	size_t len;

	(void)state;
	assert_non_null(cap);
	cfg.auth = CFG_AUTH_JWT;
	cfg.rate_limit_rpm = 1;
	log_set_level(LOG_INFO);
	assert_int_equal(send_at("GET", "/me", "192.0.2.20", NULL,
	    "secret-subject-42", T0).status, 200);
	fflush(stderr);
	assert_true(dup2(fileno(cap), STDERR_FILENO) >= 0);
	assert_int_equal(send_at("GET", "/me", "192.0.2.21", NULL,
	    "secret-subject-42", T0).status, 429);
	assert_int_equal(send_at("GET", "/g", "192.0.2.20", NULL, NULL,
	    T0).status, 429);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(cap);
	len = fread(buf, 1, sizeof(buf) - 1, cap);
	buf[len] = '\0';
	fclose(cap);
	assert_non_null(strstr(buf, "\"event\":\"rate_limited\""));
	assert_non_null(strstr(buf, "\"key\":\"user\""));
	assert_non_null(strstr(buf, "\"key\":\"ip\""));
	assert_non_null(strstr(buf, "\"client\":\"192.0.2.20\""));
	assert_null(strstr(buf, "secret-subject-42"));
	/* One line per refusal. */
	{
		int lines = 0;

		for (char *p = buf; (p = strstr(p, "rate_limited")) != NULL;
		    p++)
			lines++;
		assert_int_equal(lines, 2);
	}
}

/* ---- Omni's table ---- */

static int
is(const struct route *r, const char *method, const char *path)
{
	return strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0;
}

static void
test_omni_routes_budgets(void **state)
{
	static const char *const exempt[] = { "/", "/ready", "/health",
	    "/api/inngest" };
	int create = 0, process = 0;

	(void)state;
	for (size_t i = 0; i < omni_routes_count; i++) {
		const struct route *r = &omni_routes[i];
		int want_exempt = 0;

		for (size_t j = 0; j < sizeof(exempt) / sizeof(exempt[0]); j++)
			want_exempt |= strcmp(r->path, exempt[j]) == 0;
		/* Exactly health and Inngest are exempt ... */
		assert_int_equal(r->limit == ROUTE_LIMIT_EXEMPT, want_exempt);
		/* ... and the expensive routes spend the strict budget, also
		 * when they are added later. */
		if (is(r, "POST", "/api/sandbox/create") ||
		    is(r, "POST", "/api/knowledge/process"))
			assert_int_equal(r->limit, ROUTE_LIMIT_STRICT);
		else if (!want_exempt)
			assert_int_equal(r->limit, ROUTE_LIMIT_GENERAL);
		create += is(r, "POST", "/api/sandbox/create");
		process += is(r, "POST", "/api/knowledge/process");
	}
	assert_int_equal(create, 1);
	assert_int_equal(process, 1);
}

/* ---- configuration ---- */

static void
test_config_variables(void **state)
{
	struct omni_config c;
	char err[256];

	(void)state;
	unsetenv("RATE_LIMIT_STRICT_RPM");
	unsetenv("OMNI_TRUSTED_PROXIES");
	assert_int_equal(cfg_load(&c, NULL, err, sizeof(err)), CFG_OK);
	assert_int_equal(c.rate_limit_strict_rpm, 0);
	assert_string_equal(c.trusted_proxies, "127.0.0.1,::1");
	cfg_free(&c);

	setenv("RATE_LIMIT_STRICT_RPM", "7", 1);
	setenv("OMNI_TRUSTED_PROXIES", "", 1);
	assert_int_equal(cfg_load(&c, NULL, err, sizeof(err)), CFG_OK);
	assert_int_equal(c.rate_limit_strict_rpm, 7);
	assert_string_equal(c.trusted_proxies, "");
	cfg_free(&c);

	setenv("OMNI_TRUSTED_PROXIES", "10.0.0.0/33", 1);
	assert_int_equal(cfg_load(&c, NULL, err, sizeof(err)), CFG_EINVAL);
	assert_non_null(strstr(err, "OMNI_TRUSTED_PROXIES"));
	setenv("OMNI_TRUSTED_PROXIES", "10.0.0.0/8", 1);
	setenv("RATE_LIMIT_STRICT_RPM", "-1", 1);
	assert_int_equal(cfg_load(&c, NULL, err, sizeof(err)), CFG_EINVAL);
	assert_non_null(strstr(err, "RATE_LIMIT_STRICT_RPM"));
	unsetenv("RATE_LIMIT_STRICT_RPM");
	unsetenv("OMNI_TRUSTED_PROXIES");
}

#define G(f) cmocka_unit_test_setup_teardown(f, gate_setup, gate_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_reference_vectors),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_counts_exact_in_window),
		cmocka_unit_test(test_limit_zero_stores_nothing),
		cmocka_unit_test(test_retry_after_with_injected_clock),
		cmocka_unit_test(test_new_window_resets),
		cmocka_unit_test(test_kinds_and_budgets_are_independent),
		cmocka_unit_test(test_undo_gives_back_only_its_window),
		cmocka_unit_test(test_full_table_evicts_the_stalest),
		cmocka_unit_test(test_churn_serves_all_keeps_heavy_hitters),
		cmocka_unit_test(test_processes_share_one_exact_count),
		cmocka_unit_test(test_count_survives_a_killed_process),
		G(test_gate_429_in_the_error_model),
		G(test_gate_exempt_routes_and_rpm_zero),
		G(test_gate_strict_budget),
		G(test_gate_forwarded_for_only_from_trusted_proxy),
		G(test_gate_user_budget_across_addresses),
		G(test_gate_user_strict_budget_is_separate),
		G(test_gate_logs_one_line_without_the_subject),
		cmocka_unit_test(test_omni_routes_budgets),
		cmocka_unit_test(test_config_variables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
