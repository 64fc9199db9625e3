/*
 * app.c -- the Inngest app: configuration resolved once (mode, origins,
 * keys), the registry of function definitions, and the sync payload built
 * from that registry (spec 3, 4.2.1, 4.3.2).
 *
 * One table of `static const struct ing_function` feeds both sync and
 * calls, so what Inngest knows about a function can never drift from what
 * runs.
 */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "inngest_internal.h"
#include "inngest_transport.h"

#define MAX_ID_LEN 128

const char *ing_strerror(enum ing_err err)
{
	switch (err) {
	case ING_OK:
		return "ok";
	case ING_ENOMEM:
		return "out of memory";
	case ING_EINVAL:
		return "invalid argument";
	case ING_EDUPLICATE:
		return "duplicate function id";
	case ING_ENOKEY:
		return "key not configured";
	case ING_ETRANSPORT:
		return "could not reach Inngest";
	case ING_EUPSTREAM:
		return "Inngest answered with a server error";
	case ING_EREJECTED:
		return "Inngest rejected the request";
	case ING_EPROTOCOL:
		return "unexpected answer from Inngest";
	case ING_ETOOLARGE:
		return "answer from Inngest too large";
	case ING__MAX:
		break;
	}
	return "unknown error";
}

static int is_set(const char *s)
{
	return s != NULL && *s != '\0';
}

/*
 * INNGEST_DEV (spec 4.2.1): unset, "", "0" or "false" -> cloud; "1" or
 * "true" -> dev on the default origin; anything else is the dev server's
 * origin (a bare "host:port" gets "http://").  '*origin' is malloc'd or
 * NULL; '*oom' is set if copying it failed.
 */
static enum ing_mode parse_dev(const char *v, char **origin, int *oom)
{
	size_t n;

	*origin = NULL;
	if (!is_set(v) || strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0)
		return ING_MODE_CLOUD;
	if (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0)
		return ING_MODE_DEV;
	if (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0) {
		*origin = ing_strdup_origin(v);
	} else {
		n = strlen(v);
		*origin = malloc(n + 8);
		if (*origin != NULL) {
			memcpy(*origin, "http://", 7);
			memcpy(*origin + 7, v, n + 1);
		}
	}
	if (*origin == NULL)
		*oom = 1;
	return ING_MODE_DEV;
}

/* The first set value of 'a', 'b', 'c'. */
static const char *first_set(const char *a, const char *b, const char *c)
{
	return is_set(a) ? a : is_set(b) ? b : c;
}

/* Copy 'src' into '*dst' when set; -1 out of memory. */
static int copy_opt(char **dst, const char *src, int origin)
{
	if (!is_set(src))
		return 0;
	*dst = origin ? ing_strdup_origin(src) : strdup(src);
	return *dst != NULL ? 0 : -1;
}

/*
 * Resolve mode and origins (explicit origin, then INNGEST_BASE_URL, then
 * the dev origin in dev mode, then the cloud defaults) and copy the
 * strings of 'cfg' into 'app'.  -1 out of memory.
 */
static int load_config(struct ing_app *app, const struct ing_config *cfg)
{
	char *dev_origin = NULL;
	const char *dev;
	int oom = 0;

	app->mode = parse_dev(cfg->dev, &dev_origin, &oom);
	dev = dev_origin != NULL ? dev_origin : ING_DEV_ORIGIN;
	app->api_origin = ing_strdup_origin(first_set(cfg->api_origin,
	    cfg->base_url, app->mode == ING_MODE_DEV ? dev :
	    ING_CLOUD_API_ORIGIN));
	app->event_origin = ing_strdup_origin(first_set(
	    cfg->event_api_origin, cfg->base_url,
	    app->mode == ING_MODE_DEV ? dev : ING_CLOUD_EVENT_ORIGIN));
	free(dev_origin);
	app->app_id = strdup(is_set(cfg->app_id) ?
	    cfg->app_id : ING_DEFAULT_APP_ID);
	if (oom || app->api_origin == NULL || app->event_origin == NULL ||
	    app->app_id == NULL ||
	    copy_opt(&app->signing_key, cfg->signing_key, 0) != 0 ||
	    copy_opt(&app->signing_key_fallback,
	    cfg->signing_key_fallback, 0) != 0 ||
	    copy_opt(&app->event_key, cfg->event_key, 0) != 0 ||
	    copy_opt(&app->env, cfg->env, 0) != 0 ||
	    copy_opt(&app->serve_origin, cfg->serve_origin, 1) != 0 ||
	    copy_opt(&app->serve_path, cfg->serve_path, 0) != 0)
		return -1;
	/* One header line for every request to Inngest (spec 3.1); a value
	 * that would split the header is dropped, not sent. */
	if (app->env != NULL) {
		for (const char *p = app->env; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				ing_log(app, ING_LOG_WARN, "inngest_config",
				    "INNGEST_ENV has control characters; not "
				    "sent");
				return 0;
			}
		app->env_header = malloc(strlen(app->env) + 16);
		if (app->env_header == NULL)
			return -1;
		sprintf(app->env_header, "X-Inngest-Env: %s", app->env);
	}
	return 0;
}

/* Bearer tokens for API calls (spec 4.1.4); a key that is not hex after
 * its prefix still verifies signatures but cannot authenticate. */
static void hash_keys(struct ing_app *app)
{
	if (app->signing_key != NULL &&
	    ing_signing_key_hash(app->signing_key, app->key_hash,
	    sizeof(app->key_hash)) != 0) {
		app->key_hash[0] = '\0';
		ing_log(app, ING_LOG_WARN, "inngest_config",
		    "INNGEST_SIGNING_KEY is not hex after its prefix; API "
		    "requests will not authenticate with it");
	}
	if (app->signing_key_fallback != NULL &&
	    ing_signing_key_hash(app->signing_key_fallback,
	    app->fallback_hash, sizeof(app->fallback_hash)) != 0) {
		app->fallback_hash[0] = '\0';
		ing_log(app, ING_LOG_WARN, "inngest_config",
		    "INNGEST_SIGNING_KEY_FALLBACK is not hex after its prefix; "
		    "API requests will not authenticate with it");
	}
	/* For the signed introspection, which would otherwise hash it on
	 * every request. */
	if (app->event_key != NULL &&
	    ing_event_key_hash(app->event_key, app->event_key_hash) != 0)
		app->event_key_hash[0] = '\0';
	if (app->mode == ING_MODE_CLOUD && app->signing_key == NULL &&
	    app->signing_key_fallback == NULL)
		ing_log(app, ING_LOG_WARN, "inngest_config", "cloud mode "
		    "without INNGEST_SIGNING_KEY: every call request will be "
		    "refused (set INNGEST_DEV=1 for a dev server)");
}

/* The default clock and sleep: what the SDK uses unless a hook says
 * otherwise (the host's own helpers are not the SDK's to include). */
static long long real_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void real_sleep_ms(long long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

enum ing_err ing_app_new(const struct ing_config *cfg,
    const struct ing_hooks *hooks, struct ing_app **out)
{
	struct ing_app *app;

	*out = NULL;
	if (cfg == NULL)
		return ING_EINVAL;
	app = calloc(1, sizeof(*app));
	if (app == NULL)
		return ING_ENOMEM;
	/* Hooks first: reading the configuration may already log. */
	app->hooks.transport = &ing_transport_none;
	app->hooks.now_ms = real_now_ms;
	app->hooks.sleep_ms = real_sleep_ms;
	if (hooks != NULL) {
		if (hooks->transport != NULL)
			app->hooks.transport = hooks->transport;
		if (hooks->now_ms != NULL)
			app->hooks.now_ms = hooks->now_ms;
		if (hooks->sleep_ms != NULL)
			app->hooks.sleep_ms = hooks->sleep_ms;
		app->hooks.log = hooks->log;
		app->hooks.log_call = hooks->log_call;
		app->hooks.events_sent = hooks->events_sent;
		app->hooks.log_ud = hooks->log_ud;
	}
	if (load_config(app, cfg) != 0) {
		ing_app_free(app);
		return ING_ENOMEM;
	}
	hash_keys(app);
	*out = app;
	return ING_OK;
}

/* Secrets do not outlive the app in freed memory. */
static void free_secret(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void ing_app_free(struct ing_app *app)
{
	if (app == NULL)
		return;
	free(app->app_id);
	free(app->api_origin);
	free(app->event_origin);
	free_secret(app->signing_key);
	free_secret(app->signing_key_fallback);
	free_secret(app->event_key);
	free(app->env);
	free(app->env_header);
	free(app->serve_origin);
	free(app->serve_path);
	free(app->fns);
	free(atomic_load(&app->public_introspection));
	OPENSSL_cleanse(app, sizeof(*app)); /* holds the bearer tokens */
	free(app);
}

void ing_app_set_data(struct ing_app *app, void *data)
{
	app->data = data;
}

const char *ing_app_id(const struct ing_app *app)
{
	return app->app_id;
}

enum ing_mode ing_app_mode(const struct ing_app *app)
{
	return app->mode;
}

const char *ing_app_api_origin(const struct ing_app *app)
{
	return app->api_origin;
}

const char *ing_app_event_origin(const struct ing_app *app)
{
	return app->event_origin;
}

size_t ing_app_function_count(const struct ing_app *app)
{
	return app->nfns;
}

int ing_app_composite_id(const struct ing_app *app,
    const struct ing_function *fn, char *out, size_t outlen)
{
	size_t a = strlen(app->app_id), f = strlen(fn->id);

	if (a + 1 + f + 1 > outlen)
		return -1;
	memcpy(out, app->app_id, a);
	out[a] = '-';
	memcpy(out + a + 1, fn->id, f + 1);
	return 0;
}

const struct ing_function *ing_app_find(const struct ing_app *app,
    const char *fn_id)
{
	size_t a = strlen(app->app_id);

	if (fn_id == NULL)
		return NULL;
	for (size_t i = 0; i < app->nfns; i++) {
		const char *id = app->fns[i]->id;

		if (strncmp(fn_id, app->app_id, a) == 0 && fn_id[a] == '-' &&
		    strcmp(fn_id + a + 1, id) == 0)
			return app->fns[i];
	}
	/* Older servers and SDKs address functions by their bare id. */
	for (size_t i = 0; i < app->nfns; i++)
		if (strcmp(fn_id, app->fns[i]->id) == 0)
			return app->fns[i];
	return NULL;
}

/* ---- registration ---------------------------------------------------- */

static int invalid(const struct ing_app *app, const struct ing_function *fn,
    const char *why)
{
	ing_log(app, ING_LOG_ERROR, "inngest_register", "function '%s': %s",
	    fn->id != NULL ? fn->id : "(no id)", why);
	return -1;
}

static int valid_id(const char *id)
{
	size_t n = 0;

	if (!is_set(id))
		return 0;
	for (; id[n] != '\0'; n++) {
		unsigned char c = (unsigned char)id[n];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return 0;
	}
	return n <= MAX_ID_LEN;
}

static int validate(const struct ing_app *app,
    const struct ing_function *fn)
{
	size_t ntrig = 0;

	if (!valid_id(fn->id))
		return invalid(app, fn, "id must be 1-128 of "
		    "[A-Za-z0-9_.-]");
	if (fn->handler == NULL)
		return invalid(app, fn, "no handler");
	for (size_t i = 0; i < ING_MAX_TRIGGERS; i++) {
		const struct ing_trigger *t = &fn->triggers[i];

		if (t->event == NULL && t->cron == NULL &&
		    t->expression == NULL)
			break;
		if (is_set(t->event) == is_set(t->cron))
			return invalid(app, fn, "a trigger needs exactly one "
			    "of event or cron");
		if (t->expression != NULL && !is_set(t->event))
			return invalid(app, fn, "an expression needs an "
			    "event");
		ntrig++;
	}
	if (ntrig == 0)
		return invalid(app, fn, "no trigger");
	if (fn->has_retries && (fn->retries < 0 || fn->retries > 20))
		return invalid(app, fn, "retries must be 0..20");
	for (size_t i = 0; i < ING_MAX_CONCURRENCY; i++) {
		const struct ing_concurrency *c = &fn->concurrency[i];

		if (c->limit == 0 && c->key == NULL && c->scope == NULL)
			break;
		if (c->limit <= 0)
			return invalid(app, fn, "concurrency limit must be "
			    "> 0");
		if (c->scope != NULL && strcmp(c->scope, "fn") != 0 &&
		    strcmp(c->scope, "env") != 0 &&
		    strcmp(c->scope, "account") != 0)
			return invalid(app, fn, "concurrency scope must be "
			    "fn, env or account");
	}
	if (fn->throttle.limit < 0 || fn->throttle.burst < 0 ||
	    (fn->throttle.limit > 0) != is_set(fn->throttle.period))
		return invalid(app, fn, "throttle needs limit > 0 and a "
		    "period");
	if (fn->rate_limit.limit < 0 ||
	    (fn->rate_limit.limit > 0) != is_set(fn->rate_limit.period))
		return invalid(app, fn, "rateLimit needs limit > 0 and a "
		    "period");
	if (!is_set(fn->debounce.period) &&
	    (fn->debounce.key != NULL || fn->debounce.timeout != NULL))
		return invalid(app, fn, "debounce needs a period");
	if (fn->batch_events.max_size < 0 || fn->batch_events.max_size > 100 ||
	    (fn->batch_events.max_size > 0) != is_set(fn->batch_events.timeout))
		return invalid(app, fn, "batchEvents needs maxSize 1..100 "
		    "and a timeout");
	for (size_t i = 0; i < ING_MAX_CANCEL; i++) {
		const struct ing_cancel *c = &fn->cancel[i];

		if (c->event == NULL && c->if_expr == NULL &&
		    c->timeout == NULL)
			break;
		if (!is_set(c->event))
			return invalid(app, fn, "cancel needs an event");
	}
	return 0;
}

enum ing_err ing_app_register(struct ing_app *app,
    const struct ing_function *fn)
{
	char composite[2 * MAX_ID_LEN + 64];

	if (app == NULL || fn == NULL)
		return ING_EINVAL;
	if (validate(app, fn) != 0)
		return ING_EINVAL;
	if (ing_app_composite_id(app, fn, composite, sizeof(composite)) != 0)
		return ING_EINVAL;
	for (size_t i = 0; i < app->nfns; i++)
		if (strcmp(app->fns[i]->id, fn->id) == 0) {
			ing_log(app, ING_LOG_ERROR, "inngest_register",
			    "function '%s' registered twice", fn->id);
			return ING_EDUPLICATE;
		}
	if (app->nfns == app->capfns) {
		size_t cap = app->capfns != 0 ? app->capfns * 2 : 8;
		const struct ing_function **p;

		p = realloc(app->fns, cap * sizeof(*p));
		if (p == NULL)
			return ING_ENOMEM;
		app->fns = p;
		app->capfns = cap;
	}
	app->fns[app->nfns++] = fn;
	return ING_OK;
}

/* ---- sync payload ---------------------------------------------------- */

static struct json_object *triggers_json(const struct ing_function *fn)
{
	struct json_object *arr = json_object_new_array(), *t;

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < ING_MAX_TRIGGERS; i++) {
		const struct ing_trigger *tr = &fn->triggers[i];

		if (tr->event == NULL && tr->cron == NULL)
			break;
		t = ing_json_push_object(arr);
		if (t == NULL || (is_set(tr->cron) ?
		    ing_json_add_str(t, "cron", tr->cron) :
		    ing_json_add_str(t, "event", tr->event) != 0 ||
		    ing_json_add_str(t, "expression", tr->expression)) != 0) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

/*
 * The single "step" entry: its runtime URL is the sync URL plus fnId and
 * stepId=step (spec 4.3.2, as inngest-js builds it).
 */
static struct json_object *step_json(const struct ing_function *fn,
    const char *url, const char *composite)
{
	struct json_object *steps, *step, *rt, *re;
	struct ing_buf b;
	char *u;
	int bad;

	ing_buf_init(&b);
	ing_buf_puts(&b, url);
	ing_buf_putc(&b, strchr(url, '?') != NULL ? '&' : '?');
	ing_buf_puts(&b, "fnId=");
	ing_buf_put_urlenc(&b, composite);
	ing_buf_puts(&b, "&stepId=step");
	u = ing_buf_take(&b, NULL);
	steps = json_object_new_object();
	step = steps != NULL ? ing_json_add_object(steps, "step") : NULL;
	bad = u == NULL || step == NULL ||
	    ing_json_add_str(step, "id", "step") != 0 ||
	    ing_json_add_str(step, "name", "step") != 0 ||
	    (rt = ing_json_add_object(step, "runtime")) == NULL ||
	    ing_json_add_str(rt, "type", "http") != 0 ||
	    ing_json_add_str(rt, "url", u) != 0;
	/* Both official SDKs send the retry count as "attempts", and the
	 * server reads it that way (it adds the first attempt itself). */
	if (!bad && fn->has_retries)
		bad = (re = ing_json_add_object(step, "retries")) == NULL ||
		    ing_json_add_int(re, "attempts", fn->retries) != 0;
	free(u);
	if (bad) {
		json_object_put(steps);
		return NULL;
	}
	return steps;
}

/* Concurrency and cancel: arrays of small objects. */
static int flow_arrays_json(const struct ing_function *fn,
    struct json_object *f)
{
	struct json_object *o, *arr = NULL;

	if (fn->concurrency[0].limit > 0 &&
	    (arr = ing_json_add_array(f, "concurrency")) == NULL)
		return -1;
	for (size_t i = 0; i < ING_MAX_CONCURRENCY &&
	    fn->concurrency[i].limit > 0; i++) {
		const struct ing_concurrency *c = &fn->concurrency[i];

		if ((o = ing_json_push_object(arr)) == NULL ||
		    ing_json_add_int(o, "limit", c->limit) != 0 ||
		    ing_json_add_str(o, "key", c->key) != 0 ||
		    ing_json_add_str(o, "scope", c->scope) != 0)
			return -1;
	}
	if (is_set(fn->cancel[0].event) &&
	    (arr = ing_json_add_array(f, "cancel")) == NULL)
		return -1;
	for (size_t i = 0; i < ING_MAX_CANCEL &&
	    is_set(fn->cancel[i].event); i++) {
		const struct ing_cancel *c = &fn->cancel[i];

		if ((o = ing_json_push_object(arr)) == NULL ||
		    ing_json_add_str(o, "event", c->event) != 0 ||
		    ing_json_add_str(o, "if", c->if_expr) != 0 ||
		    ing_json_add_str(o, "timeout", c->timeout) != 0)
			return -1;
	}
	return 0;
}

/* Throttle, rateLimit, debounce, batchEvents, idempotency, priority:
 * each present only when the function sets it. */
static int flow_control_json(const struct ing_function *fn,
    struct json_object *f)
{
	const struct ing_throttle *th = &fn->throttle;
	const struct ing_rate_limit *rl = &fn->rate_limit;
	const struct ing_debounce *db = &fn->debounce;
	const struct ing_batch *bt = &fn->batch_events;
	struct json_object *o;

	if (th->limit > 0 && ((o = ing_json_add_object(f, "throttle")) ==
	    NULL || ing_json_add_int(o, "limit", th->limit) != 0 ||
	    ing_json_add_str(o, "period", th->period) != 0 ||
	    (th->burst > 0 && ing_json_add_int(o, "burst", th->burst) != 0) ||
	    ing_json_add_str(o, "key", th->key) != 0))
		return -1;
	if (rl->limit > 0 && ((o = ing_json_add_object(f, "rateLimit")) ==
	    NULL || ing_json_add_int(o, "limit", rl->limit) != 0 ||
	    ing_json_add_str(o, "period", rl->period) != 0 ||
	    ing_json_add_str(o, "key", rl->key) != 0))
		return -1;
	if (is_set(db->period) && ((o = ing_json_add_object(f,
	    "debounce")) == NULL ||
	    ing_json_add_str(o, "period", db->period) != 0 ||
	    ing_json_add_str(o, "key", db->key) != 0 ||
	    ing_json_add_str(o, "timeout", db->timeout) != 0))
		return -1;
	if (bt->max_size > 0 && ((o = ing_json_add_object(f,
	    "batchEvents")) == NULL ||
	    ing_json_add_int(o, "maxSize", bt->max_size) != 0 ||
	    ing_json_add_str(o, "timeout", bt->timeout) != 0 ||
	    ing_json_add_str(o, "key", bt->key) != 0))
		return -1;
	if (ing_json_add_str(f, "idempotency", fn->idempotency) != 0)
		return -1;
	if (is_set(fn->priority_run) && ((o = ing_json_add_object(f,
	    "priority")) == NULL ||
	    ing_json_add_str(o, "run", fn->priority_run) != 0))
		return -1;
	return flow_arrays_json(fn, f);
}

static struct json_object *function_json(const struct ing_app *app,
    const struct ing_function *fn, const char *url)
{
	char composite[2 * MAX_ID_LEN + 64];
	struct json_object *f;

	if (ing_app_composite_id(app, fn, composite, sizeof(composite)) != 0)
		return NULL;
	f = json_object_new_object();
	if (f == NULL || ing_json_add_str(f, "id", composite) != 0 ||
	    ing_json_add_str(f, "name", is_set(fn->name) ? fn->name :
	    fn->id) != 0 ||
	    ing_json_add(f, "triggers", triggers_json(fn)) != 0 ||
	    ing_json_add(f, "steps", step_json(fn, url, composite)) != 0 ||
	    flow_control_json(fn, f) != 0) {
		json_object_put(f);
		return NULL;
	}
	return f;
}

/* What this SDK can do beyond the base protocol (spec 4.5): only the
 * trust probe (POST ?probe=trust); no in-band sync, no Connect. */
struct json_object *ing_capabilities_json(void)
{
	struct json_object *o = json_object_new_object();

	if (o != NULL && ing_json_add_str(o, "trust_probe", "v1") != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

enum ing_err ing_app_sync_payload(const struct ing_app *app,
    const char *url, struct json_object **out)
{
	struct json_object *root, *fns;

	*out = NULL;
	if (!is_set(url))
		return ING_EINVAL;
	root = json_object_new_object();
	if (root == NULL)
		return ING_ENOMEM;
	fns = json_object_new_array();
	if (ing_json_add_str(root, "url", url) != 0 ||
	    ing_json_add_str(root, "deployType", "ping") != 0 ||
	    ing_json_add_str(root, "appName", app->app_id) != 0 ||
	    ing_json_add_str(root, "sdk", ING_SDK_HEADER) != 0 ||
	    ing_json_add_str(root, "v", "0.1") != 0 ||
	    ing_json_add_str(root, "framework", ING_FRAMEWORK) != 0 ||
	    ing_json_add(root, "capabilities", ing_capabilities_json()) != 0 ||
	    ing_json_add(root, "functions", fns) != 0)
		goto fail;
	for (size_t i = 0; i < app->nfns; i++)
		if (ing_json_push(fns, function_json(app, app->fns[i],
		    url)) != 0)
			goto fail;
	*out = root;
	return ING_OK;
fail:
	json_object_put(root);
	return ING_ENOMEM;
}

/* ---- authenticated API requests ------------------------------------- */

#define MAX_API_HEADERS 12

enum ing_err ing_app_send(struct ing_app *app, const char *method,
    const char *url, const char *auth, const char *const *extra,
    size_t nextra, const char *body, size_t body_len, long timeout_ms,
    size_t max_response, struct ing_http_res *res)
{
	const char *hdrs[MAX_API_HEADERS];
	char authline[ING_KEY_HASH_LEN + 32];
	struct ing_http_req req = { 0 };
	size_t n = 0;
	enum ing_err err;

	/* Spec 4.1.4: every request carries what responses carry. */
	hdrs[n++] = "Content-Type: application/json";
	hdrs[n++] = "X-Inngest-Sdk: " ING_SDK_HEADER;
	hdrs[n++] = "X-Inngest-Req-Version: " ING_REQ_VERSION;
	if (auth != NULL && *auth != '\0') {
		snprintf(authline, sizeof(authline), "Authorization: Bearer %s",
		    auth);
		hdrs[n++] = authline;
	}
	if (app->env_header != NULL)
		hdrs[n++] = app->env_header;
	for (size_t i = 0; i < nextra && n < MAX_API_HEADERS; i++)
		hdrs[n++] = extra[i];
	req.method = method;
	req.url = url;
	req.headers = hdrs;
	req.nheaders = n;
	req.body = body;
	req.body_len = body_len;
	req.timeout_ms = timeout_ms;
	req.max_response = max_response;
	err = app->hooks.transport->send(app->hooks.transport->ud, &req, res);
	OPENSSL_cleanse(authline, sizeof(authline));
	return err;
}

enum ing_err ing_app_api_request(struct ing_app *app, const char *method,
    const char *url, const char *const *extra, size_t nextra, const char *body,
    size_t body_len, size_t max_response, struct ing_http_res *res)
{
	enum ing_err err;

	err = ing_app_send(app, method, url, app->key_hash, extra, nextra,
	    body, body_len, 0, max_response, res);
	if (err == ING_OK && (res->status == 401 || res->status == 403) &&
	    app->fallback_hash[0] != '\0') {
		ing_http_res_free(res);
		err = ing_app_send(app, method, url, app->fallback_hash, extra,
		    nextra, body, body_len, 0, max_response, res);
	}
	return err;
}
