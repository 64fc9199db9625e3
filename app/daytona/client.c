/*
 * client.c -- the Daytona client's engine: options, keys, the default
 * transport over http_client (one reused handle per thread, and every
 * other rule of outbound HTTP: http_client.h), and dt_call_do(), which
 * sends one call with authentication, key fallback and bounded retries.
 *
 * Which calls are idempotent (may be sent again after an ambiguous
 * failure) is decided by the callers in sandbox_api.c and toolbox.c; the
 * rules are:
 *   GET      reads, always safe.
 *   DELETE   deleting twice leaves the same outcome; the second answer
 *            may be 404 or 409, which the provider treats as done.
 *   start    Daytona answers a start of a started sandbox with the
 *            sandbox, and a start during a transition with 409: repeating
 *            it never starts anything twice.
 *   stop     likewise (409 while stopping, 400 once stopped).
 *   create   NOT retried: a lost answer may hide a sandbox that exists;
 *            the provider looks it up by name instead.
 *   execute  NOT retried: a command may have run.
 *   upload   a whole-file replace: the same bytes twice give the same
 *            file.
 * A 401 is different: Daytona's auth guard refuses before any handler
 * runs, so sending the same call with the fallback key is always safe.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daytona.h"
#include "daytona_internal.h"
#include "http_client.h"
#include "log.h"
#include "metrics.h"
#include "timeutil.h"

#define DEF_CONNECT_MS 5000L
#define DEF_TIMEOUT_MS 20000L
#define DEF_LIFECYCLE_MS 60000L
#define DEF_EXEC_MARGIN_MS 15000L
#define DEF_MAX_RESPONSE ((size_t)4 * 1024 * 1024)
#define DEF_ATTEMPTS 4
#define DEF_BACKOFF_BASE_MS 250L
#define DEF_BACKOFF_MAX_MS 4000L
#define DEF_RETRY_BUDGET_MS 10000L
/* The toolbox proxy URL changes only with Daytona's deployment. */
#define TB_CACHE_MS (10LL * 60 * 1000)

struct dt_client {
	char *api_url;              /* no trailing '/' */
	char *org_id;               /* NULL = none */
	long connect_timeout_ms;
	long timeout_ms;
	long lifecycle_timeout_ms;
	long exec_margin_ms;
	size_t max_response;
	struct dt_retry_policy retry;
	long retry_budget_ms;
	struct dt_transport transport;

	pthread_mutex_t key_lock;   /* guards the three below */
	char *keys[2];              /* primary, fallback (NULL = none) */
	int preferred;              /* index of the key that works */
	unsigned key_gen;           /* bumped by dt_client_set_keys */

	pthread_mutex_t tb_lock;
	char tb_url[DT_URL_MAX];
	long long tb_at_ms;
};

/* ---- the default transport: http_client ------------------------------- */

/* Error answers (Daytona's JSON) are read up to this size even when the
 * caller's cap is smaller (a 4-byte download still needs its 404 text). */
#define ERROR_BODY_MAX ((size_t)64 * 1024)

void dt_thread_cleanup(void)
{
	hc_thread_cleanup();
}

static const char *const method_names[DT_METHOD__MAX] = {
	[DT_GET] = "GET", [DT_POST] = "POST", [DT_PUT] = "PUT",
	[DT_DELETE] = "DELETE",
};

/* What http_client's result means for the client. */
static enum dt_err hc_to_dt(enum hc_err err)
{
	switch (err) {
	case HC_OK:
		return DT_OK;
	case HC_ETOOLARGE:
		return DT_ETOOLARGE;
	case HC_ENOMEM:
		return DT_ENOMEM;
	case HC_ETIMEOUT:
		return DT_ETIMEOUT;
	default:
		/* A refused URL cannot happen (dt_client_new checks the
		 * scheme); like any other failure it means no answer. */
		return DT_ENETWORK;
	}
}

static enum dt_err http_perform(void *ctx, const struct dt_http_req *req,
    struct dt_http_resp *resp)
{
	struct hc_request hr = {0};
	struct hc_response hs;
	enum dt_err err;

	(void)ctx;
	hr.method = method_names[req->method];
	hr.url = req->url;
	hr.headers = req->headers;
	while (req->headers != NULL && req->headers[hr.nheaders] != NULL)
		hr.nheaders++;
	hr.body = req->body;
	hr.body_len = req->body_len;
	hr.connect_timeout_ms = req->connect_timeout_ms;
	hr.timeout_ms = req->timeout_ms;
	hr.max_response = req->max_response;
	hr.max_error_body = ERROR_BODY_MAX;
	/* Creates and commands could run twice on libcurl's silent resend
	 * over a dead reused connection (http_client.h). */
	hr.fresh_connect = !req->idempotent;
	err = hc_to_dt(hc_perform(&hr, &hs));
	resp->curl_code = hs.curl_code;
	resp->status = hs.status;
	resp->retry_after_ms = hs.retry_after_ms;
	/* An empty answer has no body here, as the decoders expect. */
	if (hs.body_len == 0)
		hc_response_free(&hs);
	resp->body = hs.body;
	resp->body_len = hs.body_len;
	return err;
}

static void default_sleep(void *ctx, long ms)
{
	(void)ctx;
	time_sleep_ms(ms);
}

/* Jitter only: a per-thread xorshift seeded from the clock and the thread
 * is plenty, and needs no lock. */
static double default_rand(void *ctx)
{
	static _Thread_local unsigned long long s;

	(void)ctx;
	if (s == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = ((unsigned long long)ts.tv_nsec << 20) ^
		    (unsigned long long)ts.tv_sec ^
		    (unsigned long long)(uintptr_t)&ts ^ 0x9e3779b97f4a7c15ULL;
	}
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (double)(s >> 11) / 9007199254740992.0;
}

/* ---- the client -------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? strdup(s) : NULL;
}

static void free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

struct dt_client *dt_client_new(const struct dt_client_opts *o,
    enum dt_err *errp)
{
	struct dt_client *c;
	enum dt_err err = DT_EINVAL;
	size_t n;

	if (o == NULL || o->api_url == NULL || o->api_key == NULL ||
	    o->api_key[0] == '\0' ||
	    (strncmp(o->api_url, "http://", 7) != 0 &&
	    strncmp(o->api_url, "https://", 8) != 0))
		goto fail;
	err = DT_ENOMEM;
	if (http_client_global_init() != 0)
		goto fail;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->api_url = strdup(o->api_url);
	c->org_id = dup_or_null(o->org_id);
	c->keys[0] = strdup(o->api_key);
	c->keys[1] = dup_or_null(o->api_key_fallback);
	if (c->api_url == NULL || c->keys[0] == NULL ||
	    (o->org_id != NULL && *o->org_id && c->org_id == NULL) ||
	    (o->api_key_fallback != NULL && *o->api_key_fallback &&
	    c->keys[1] == NULL)) {
		free(c->api_url);
		free(c->org_id);
		free_secret(c->keys[0]);
		free_secret(c->keys[1]);
		free(c);
		goto fail;
	}
	n = strlen(c->api_url);
	while (n > 0 && c->api_url[n - 1] == '/')
		c->api_url[--n] = '\0';
	c->connect_timeout_ms = o->connect_timeout_ms > 0 ?
	    o->connect_timeout_ms : DEF_CONNECT_MS;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEF_TIMEOUT_MS;
	c->lifecycle_timeout_ms = o->lifecycle_timeout_ms > 0 ?
	    o->lifecycle_timeout_ms : DEF_LIFECYCLE_MS;
	c->exec_margin_ms = o->exec_margin_ms > 0 ?
	    o->exec_margin_ms : DEF_EXEC_MARGIN_MS;
	c->max_response = o->max_response > 0 ?
	    o->max_response : DEF_MAX_RESPONSE;
	c->retry.max_attempts = o->max_attempts > 0 ?
	    o->max_attempts : DEF_ATTEMPTS;
	c->retry.base_ms = o->backoff_base_ms > 0 ?
	    o->backoff_base_ms : DEF_BACKOFF_BASE_MS;
	c->retry.max_ms = o->backoff_max_ms > 0 ?
	    o->backoff_max_ms : DEF_BACKOFF_MAX_MS;
	c->retry_budget_ms = o->retry_budget_ms > 0 ?
	    o->retry_budget_ms : DEF_RETRY_BUDGET_MS;
	c->transport.perform = http_perform;
	c->transport.sleep_ms = default_sleep;
	c->transport.rand01 = default_rand;
	pthread_mutex_init(&c->key_lock, NULL);
	pthread_mutex_init(&c->tb_lock, NULL);
	if (errp != NULL)
		*errp = DT_OK;
	return c;
fail:
	if (errp != NULL)
		*errp = err;
	return NULL;
}

void dt_client_free(struct dt_client *c)
{
	if (c == NULL)
		return;
	free(c->api_url);
	free(c->org_id);
	free_secret(c->keys[0]);
	free_secret(c->keys[1]);
	pthread_mutex_destroy(&c->key_lock);
	pthread_mutex_destroy(&c->tb_lock);
	free(c);
	dt_thread_cleanup();
}

void dt_client_set_transport(struct dt_client *c, const struct dt_transport *t)
{
	if (c == NULL || t == NULL)
		return;
	if (t->perform != NULL)
		c->transport.perform = t->perform;
	if (t->sleep_ms != NULL)
		c->transport.sleep_ms = t->sleep_ms;
	if (t->rand01 != NULL)
		c->transport.rand01 = t->rand01;
	c->transport.ctx = t->ctx;
}

enum dt_err dt_client_set_keys(struct dt_client *c, const char *api_key,
    const char *api_key_fallback)
{
	char *k0, *k1 = NULL, *old0, *old1;

	if (c == NULL || api_key == NULL || *api_key == '\0')
		return DT_EINVAL;
	k0 = strdup(api_key);
	if (api_key_fallback != NULL && *api_key_fallback != '\0')
		k1 = strdup(api_key_fallback);
	if (k0 == NULL || (api_key_fallback != NULL && *api_key_fallback &&
	    k1 == NULL)) {
		free_secret(k0);
		free_secret(k1);
		return DT_ENOMEM;
	}
	pthread_mutex_lock(&c->key_lock);
	old0 = c->keys[0];
	old1 = c->keys[1];
	c->keys[0] = k0;
	c->keys[1] = k1;
	c->preferred = 0;
	c->key_gen++;
	pthread_mutex_unlock(&c->key_lock);
	free_secret(old0);
	free_secret(old1);
	return DT_OK;
}

int dt_client_key_in_use(struct dt_client *c)
{
	int k;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->key_lock);
	k = c->preferred;
	pthread_mutex_unlock(&c->key_lock);
	return k;
}

const char *dt_client_api_url(const struct dt_client *c)
{
	return c != NULL ? c->api_url : "";
}

long dt_client_timeout(const struct dt_client *c, int which)
{
	if (c == NULL)
		return 0;
	return which == 0 ? c->lifecycle_timeout_ms : c->exec_margin_ms;
}

int dt_client_tb_cache_get(struct dt_client *c, char *url, size_t len)
{
	int hit = 0;

	pthread_mutex_lock(&c->tb_lock);
	if (c->tb_url[0] != '\0' &&
	    time_mono_ms() - c->tb_at_ms < TB_CACHE_MS &&
	    strlen(c->tb_url) < len) {
		memcpy(url, c->tb_url, strlen(c->tb_url) + 1);
		hit = 1;
	}
	pthread_mutex_unlock(&c->tb_lock);
	return hit;
}

void dt_client_tb_cache_set(struct dt_client *c, const char *url)
{
	pthread_mutex_lock(&c->tb_lock);
	if (url == NULL || strlen(url) >= sizeof(c->tb_url)) {
		c->tb_url[0] = '\0';
	} else {
		memcpy(c->tb_url, url, strlen(url) + 1);
		c->tb_at_ms = time_mono_ms();
	}
	pthread_mutex_unlock(&c->tb_lock);
}

/* ---- one call ---------------------------------------------------------- */

/* The URL's path without the query, for logs (queries carry file paths). */
static void log_path(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://");
	size_t n;

	p = p != NULL ? strchr(p + 3, '/') : NULL;
	if (p == NULL)
		p = "/";
	n = strcspn(p, "?");
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/*
 * What one call needs across its attempts: copies of the keys (a reload
 * may replace the client's while we wait), which key to use, and the
 * fixed headers.  Released by call_state_free().
 */
struct call_state {
	char *keys[2];
	int preferred;    /* the client's choice when the call began */
	unsigned gen;     /* the client's key generation then */
	int key_idx;      /* the key the next attempt sends */
	char *org;        /* "X-Daytona-Organization-ID: ..." or NULL */
	char *ctype;      /* "Content-Type: ..." or NULL */
};

static void call_state_free(struct call_state *cs)
{
	free_secret(cs->keys[0]);
	free_secret(cs->keys[1]);
	free(cs->org);
	free(cs->ctype);
}

static enum dt_err call_state_init(struct dt_client *c,
    const struct dt_call *call, struct call_state *cs)
{
	int oom;

	memset(cs, 0, sizeof(*cs));
	pthread_mutex_lock(&c->key_lock);
	cs->keys[0] = strdup(c->keys[0]);
	cs->keys[1] = c->keys[1] != NULL ? strdup(c->keys[1]) : NULL;
	oom = cs->keys[0] == NULL || (c->keys[1] != NULL &&
	    cs->keys[1] == NULL);
	cs->preferred = c->preferred;
	cs->gen = c->key_gen;
	pthread_mutex_unlock(&c->key_lock);
	if (oom)
		return DT_ENOMEM;
	if (cs->keys[cs->preferred] == NULL)
		cs->preferred = 0;
	cs->key_idx = cs->preferred;
	if (c->org_id != NULL && asprintf(&cs->org,
	    "X-Daytona-Organization-ID: %s", c->org_id) < 0) {
		cs->org = NULL;
		return DT_ENOMEM;
	}
	if (call->body != NULL && asprintf(&cs->ctype, "Content-Type: %s",
	    call->content_type != NULL ? call->content_type :
	    "application/json") < 0) {
		cs->ctype = NULL;
		return DT_ENOMEM;
	}
	return DT_OK;
}

/* One attempt with the key 'cs->key_idx'; perform()'s result. */
static enum dt_err call_send(struct dt_client *c, const struct dt_call *call,
    const struct call_state *cs, struct dt_http_resp *resp)
{
	struct dt_http_req req;
	const char *headers[8];
	char *auth;
	enum dt_err rc;
	int nh = 0;

	if (asprintf(&auth, "Authorization: Bearer %s",
	    cs->keys[cs->key_idx]) < 0)
		return DT_ENOMEM;
	headers[nh++] = auth;
	headers[nh++] = "Accept: application/json";
	/* No "Expect: 100-continue" round trip on uploads. */
	headers[nh++] = "Expect:";
	if (cs->org != NULL)
		headers[nh++] = cs->org;
	if (cs->ctype != NULL)
		headers[nh++] = cs->ctype;
	headers[nh] = NULL;
	memset(&req, 0, sizeof(req));
	req.method = call->method;
	req.url = call->url;
	req.headers = headers;
	req.body = call->body;
	req.body_len = call->body_len;
	req.connect_timeout_ms = c->connect_timeout_ms;
	req.idempotent = call->idempotent;
	req.timeout_ms = call->timeout_ms > 0 ? call->timeout_ms :
	    c->timeout_ms;
	req.max_response = call->max_response > 0 ? call->max_response :
	    c->max_response;
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	rc = c->transport.perform(c->transport.ctx, &req, resp);
	free_secret(auth);
	if (rc != DT_OK) {
		free(resp->body);
		resp->body = NULL;
	}
	return rc;
}

/*
 * The answer of the last attempt becomes the call's result: on a 2xx
 * remember the key that worked, otherwise map the status to an error and
 * drop the body.
 */
static enum dt_err call_finish(struct dt_client *c, struct call_state *cs,
    struct dt_http_resp *resp, struct dt_status *st)
{
	enum dt_err rc;

	if (resp->status >= 200 && resp->status < 300) {
		if (cs->key_idx != cs->preferred) {
			pthread_mutex_lock(&c->key_lock);
			if (c->key_gen == cs->gen)
				c->preferred = cs->key_idx;
			pthread_mutex_unlock(&c->key_lock);
			log_msg(LOG_WARN, "daytona_key_switch",
			    "the %s Daytona API key was refused (401); "
			    "using the %s key from now on",
			    cs->preferred == 0 ? "primary" : "fallback",
			    cs->key_idx == 0 ? "primary" : "fallback");
		}
		st->used_fallback = cs->key_idx == 1;
		return DT_OK;
	}
	rc = dt_err_from_http(resp->status, resp->body, resp->body_len,
	    st->message, sizeof(st->message));
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	if (rc == DT_EAUTH && resp->status == 401)
		log_msg(LOG_ERROR, "daytona_auth_failed",
		    "Daytona refused %s (401)", cs->keys[1] != NULL ?
		    "both the primary and the fallback API keys" :
		    "the API key");
	return rc;
}

static void call_log(const struct dt_call *call, const char *path,
    const struct dt_status *st, long long t0)
{
	struct json_object *line = log_begin(LOG_DEBUG, "daytona_call");

	if (line == NULL)
		return;
	json_object_object_add(line, "method",
	    json_object_new_string(method_names[call->method]));
	json_object_object_add(line, "path", json_object_new_string(path));
	json_object_object_add(line, "status",
	    json_object_new_int64(st->http_status));
	json_object_object_add(line, "attempts",
	    json_object_new_int(st->attempts));
	json_object_object_add(line, "ms",
	    json_object_new_int64(time_mono_ms() - t0));
	json_object_object_add(line, "result",
	    json_object_new_string(dt_strerror(st->err)));
	log_end(line);
}

void dt_status_init(struct dt_status *st)
{
	memset(st, 0, sizeof(*st));
	st->retry_after_ms = -1;
}

struct dt_status *dt_status_begin(struct dt_status *st,
    struct dt_status *local)
{
	if (st == NULL)
		st = local;
	dt_status_init(st);
	return st;
}

enum dt_err dt_call_do(struct dt_client *c, const struct dt_call *call,
    struct dt_http_resp *resp, struct dt_status *st)
{
	struct dt_retry_policy pol;
	struct dt_status local;
	struct call_state cs;
	char path[160];
	int tried_other = 0, attempt = 0;
	long waited = 0, delay;
	long long t0 = time_mono_ms();
	enum dt_err rc;

	st = dt_status_begin(st, &local);
	memset(resp, 0, sizeof(*resp));
	if (c == NULL || call == NULL || call->url == NULL ||
	    (unsigned)call->method >= DT_METHOD__MAX)
		return st->err = DT_EINVAL;
	log_path(call->url, path, sizeof(path));
	pol = c->retry;
	if (call->max_attempts > 0 && call->max_attempts < pol.max_attempts)
		pol.max_attempts = call->max_attempts;
	if ((rc = call_state_init(c, call, &cs)) != DT_OK)
		goto out;
	for (;;) {
		rc = call_send(c, call, &cs, resp);
		st->attempts++;
		st->http_status = rc == DT_OK ? resp->status : 0;
		st->curl_code = resp->curl_code;
		if (rc == DT_OK && resp->status == 401 && !tried_other &&
		    cs.keys[1 - cs.key_idx] != NULL) {
			/* Refused by the auth guard before anything ran:
			 * safe to send again, whatever the call. */
			tried_other = 1;
			cs.key_idx = 1 - cs.key_idx;
			free(resp->body);
			resp->body = NULL;
			continue;
		}
		if (rc == DT_OK && resp->status == 429)
			metrics_count_daytona_429();
		if (rc == DT_OK && resp->retry_after_ms >= 0 &&
		    (resp->status == 429 || resp->status == 503))
			st->retry_after_ms = resp->retry_after_ms;
		delay = dt_retry_delay(&pol, call->idempotent, rc,
		    resp->status, resp->retry_after_ms, attempt,
		    c->transport.rand01(c->transport.ctx));
		/* A hint past the budget ends the retries: the caller gets
		 * the error with the hint (st->retry_after_ms). */
		if (delay < 0 || waited + delay > c->retry_budget_ms)
			break;
		metrics_count_daytona_retry();
		if (rc == DT_OK)
			log_msg(LOG_INFO, "daytona_retry", "%s %s: HTTP %ld, "
			    "attempt %d, retrying in %ld ms",
			    method_names[call->method], path, resp->status,
			    attempt + 1, delay);
		else
			log_msg(LOG_INFO, "daytona_retry", "%s %s: %s, "
			    "attempt %d, retrying in %ld ms",
			    method_names[call->method], path, dt_strerror(rc),
			    attempt + 1, delay);
		free(resp->body);
		resp->body = NULL;
		c->transport.sleep_ms(c->transport.ctx, delay);
		waited += delay;
		attempt++;
	}
	if (rc == DT_OK)
		rc = call_finish(c, &cs, resp, st);
out:
	st->err = rc;
	call_log(call, path, st, t0);
	call_state_free(&cs);
	return rc;
}

enum dt_err dt_call_url(struct dt_client *c, struct dt_call *call, char *url,
    dt_decode_fn decode, void *arg, struct dt_status *st)
{
	struct dt_http_resp resp;
	enum dt_err err;

	if (url == NULL)
		return st->err = DT_ENOMEM;
	call->url = url;
	err = dt_call_do(c, call, &resp, st);
	call->url = NULL;
	free(url);
	if (err != DT_OK)
		return err;
	if (decode != NULL)
		err = decode(&resp, arg, st);
	free(resp.body);
	return st->err = err;
}
