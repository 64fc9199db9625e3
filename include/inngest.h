/*
 * inngest.h -- Omni's Inngest SDK: apps, function definitions and the
 * transport-neutral serve entry point for /api/inngest.
 *
 * No official C SDK exists; this one follows the Inngest SDK spec
 * (docs/SDK_SPEC.md in inngest/inngest) and, where the spec is silent, the
 * behaviour of inngestgo and inngest-js.  docs/inngest.md maps each spec
 * section to the code and lists what is not covered.
 *
 * The pieces:
 *   inngest.h           this file: app, function table, serve, errors
 *   inngest_step.h      what a function body uses: ctx, step tools, errors
 *   inngest_event.h     sending events from anywhere (handlers, steps)
 *   inngest_signing.h   request signatures and key hashes
 *   inngest_jcs.h       RFC 8785 canonical JSON (signature fallback)
 *   inngest_transport.h outgoing HTTP: the vtable the host implements
 *
 * Dependencies: libc, json-c and OpenSSL; no network code of its own.
 * The SDK includes no header of its host program: configuration comes in
 * as struct ing_config, logging goes out through struct ing_hooks, and
 * requests come in as struct ing_request.  handlers/inngest.c is Omni's
 * adapter for all three.
 *
 * Life cycle: the master or each worker builds one struct ing_app from the
 * configuration (ing_app_new), registers the functions (ing_app_register)
 * and never changes it again; any number of threads may then call
 * ing_serve() concurrently.  Each call builds and frees its own state.
 *
 * Memory: ing_app_new() returns an app the caller frees with
 * ing_app_free().  ing_serve() always fills the response; the caller
 * releases it with ing_response_free() whatever ing_serve() returned.
 * Function definitions are borrowed: they must outlive the app (they are
 * meant to be `static const`).
 */
#ifndef OMNI_INNGEST_H
#define OMNI_INNGEST_H

#include <stddef.h>
#include <stdint.h>

#include "inngest_step.h"

struct json_object;
struct ing_app;
struct ing_ctx;
struct ing_transport;

/* "<language>:v<semver>", as inngestgo's "go:v0.16.0" (spec 4.1.1). */
#define ING_SDK_LANGUAGE "c"
#define ING_SDK_VERSION  "0.1.0"
/* Value of X-Inngest-Sdk and of the sync payload's "sdk": the spec wants
 * the two identical (4.3.2). */
#define ING_SDK_HEADER   ING_SDK_LANGUAGE ":v" ING_SDK_VERSION
/* Execution version in X-Inngest-Req-Version: spec 4.1.2 says it MUST be
 * 2, and inngestgo sends "2" too. */
#define ING_REQ_VERSION  "2"
/* Sent as "framework" at sync and in introspection. */
#define ING_FRAMEWORK    "fastcgi"
/* Default origins (spec 4.2.1). */
#define ING_CLOUD_API_ORIGIN   "https://api.inngest.com"
#define ING_CLOUD_EVENT_ORIGIN "https://inn.gs"
#define ING_DEV_ORIGIN         "http://localhost:8288"

/* Errors of the SDK's own API calls (not of user functions). */
enum ing_err {
	ING_OK = 0,        /* 0: success */
	ING_ENOMEM,        /* 1: out of memory */
	ING_EINVAL,        /* 2: bad argument or definition; see the log */
	ING_EDUPLICATE,    /* 3: a function with this id is registered */
	ING_ENOKEY,        /* 4: a key the operation needs is not set */
	ING_ETRANSPORT,    /* 5: network error or timeout talking to Inngest */
	ING_EUPSTREAM,     /* 6: Inngest answered 5xx (after retries) */
	ING_EREJECTED,     /* 7: Inngest answered 4xx (bad key or payload) */
	ING_EPROTOCOL,     /* 8: Inngest answered something unparseable */
	ING_ETOOLARGE,     /* 9: a response exceeded its size cap */
	ING__MAX
};

/* Text for an error value, never NULL. */
const char *ing_strerror(enum ing_err err);

/* ------------------------------------------------------------------ */
/* Function definitions                                                */
/* ------------------------------------------------------------------ */

#define ING_MAX_TRIGGERS    4
#define ING_MAX_CONCURRENCY 2
#define ING_MAX_CANCEL      4

/* One trigger: exactly one of 'event' or 'cron'. */
struct ing_trigger {
	const char *event;       /* event name, e.g. "omni/create.task" */
	const char *expression;  /* optional CEL filter for 'event' */
	const char *cron;        /* unix cron string, e.g. "0 0 * * *" */
};

/* A concurrency limit; unused rows have limit 0. */
struct ing_concurrency {
	int limit;
	const char *key;         /* optional CEL expression */
	const char *scope;       /* NULL, "fn", "env" or "account" */
};

/* Optional flow control; each is unset while its first field is 0/NULL. */
struct ing_throttle {
	int limit;               /* runs started per period (>= 1) */
	const char *period;      /* time string, e.g. "1m" */
	int burst;               /* 0 = server default */
	const char *key;
};
struct ing_rate_limit {
	int limit;
	const char *period;
	const char *key;
};
struct ing_debounce {
	const char *period;
	const char *key;
	const char *timeout;
};
struct ing_batch {
	int max_size;            /* 1..100 */
	const char *timeout;     /* "1s".."60s" */
	const char *key;
};
struct ing_cancel {
	const char *event;
	const char *if_expr;     /* sent as "if" */
	const char *timeout;
};

/*
 * The function body.  It reads the event with ing_ctx_event(), calls step
 * tools (inngest_step.h) and returns:
 *   ING_RC_OK    with '*result' set to a new json-c reference (or left
 *                NULL for JSON null) that the SDK takes over;
 *   ING_RC_YIELD as soon as any step tool returns it;
 *   an error kind (see enum ing_rc) after ing_fail() or as returned by a
 *   step tool.
 */
typedef enum ing_rc (*ing_handler)(struct ing_ctx *ctx,
    struct json_object **result);

/*
 * A function definition, meant to be a `static const` with designated
 * initialisers.  Rows of the fixed arrays are used up to the first empty
 * one.  One table feeds both sync (registration JSON) and calls.
 */
struct ing_function {
	const char *id;          /* required; [A-Za-z0-9_.-]+, unique */
	const char *name;        /* display name; defaults to 'id' */
	struct ing_trigger triggers[ING_MAX_TRIGGERS];
	ing_handler handler;     /* required */

	int has_retries;         /* set 'retries' (else server default) */
	int retries;             /* retries after the first attempt, 0..20 */

	struct ing_concurrency concurrency[ING_MAX_CONCURRENCY];
	struct ing_throttle throttle;
	struct ing_rate_limit rate_limit;
	struct ing_debounce debounce;
	struct ing_batch batch_events;
	struct ing_cancel cancel[ING_MAX_CANCEL];
	const char *idempotency; /* CEL expression */
	const char *priority_run;/* CEL expression for priority.run */
};

/* ------------------------------------------------------------------ */
/* App                                                                 */
/* ------------------------------------------------------------------ */

enum ing_mode {
	ING_MODE_CLOUD = 0,      /* verify signatures, talk to Inngest Cloud */
	ING_MODE_DEV,            /* INNGEST_DEV: no verification, dev server */
	ING_MODE__MAX
};

/*
 * The configuration, as plain strings (borrowed by ing_app_new(), which
 * copies what it keeps).  NULL and "" both mean unset.  The names are
 * those of the environment variables of the Inngest SDK spec (4.2.1);
 * the host reads them however it likes.
 */
struct ing_config {
	const char *dev;                   /* INNGEST_DEV: NULL, "0", "1",
	                                    * "false", "true" or an origin */
	const char *base_url;              /* INNGEST_BASE_URL */
	const char *api_origin;            /* INNGEST_API_ORIGIN */
	const char *event_api_origin;      /* INNGEST_EVENT_API_ORIGIN */
	const char *app_id;                /* INNGEST_APP_ID; unset = "omni" */
	const char *signing_key;           /* INNGEST_SIGNING_KEY (secret) */
	const char *signing_key_fallback;  /* (secret) */
	const char *event_key;             /* INNGEST_EVENT_KEY (secret) */
	const char *env;                   /* INNGEST_ENV */
	const char *serve_origin;          /* INNGEST_SERVE_ORIGIN */
	const char *serve_path;            /* INNGEST_SERVE_PATH */
};

/* App id used when ing_config.app_id is unset. */
#define ING_DEFAULT_APP_ID "omni"

/* Severity of an SDK log line (the host maps it onto its own levels). */
enum ing_log_level {
	ING_LOG_DEBUG = 0,
	ING_LOG_INFO,
	ING_LOG_WARN,
	ING_LOG_ERROR,
	ING_LOG__MAX
};

/*
 * The fields of the one structured line per call request (call.c),
 * event "inngest_call".  Every pointer is borrowed for the duration of
 * the hook call.
 */
struct ing_log_call {
	const char *fn;          /* composite function id */
	const char *run_id;      /* NULL if the server sent none */
	int attempt;
	const char *rc;          /* ing_rc_name() of the outcome */
	int status;              /* HTTP status of the answer */
	size_t ops;              /* ops reported in the answer */
	long long ms;            /* time spent running the function */
};

/*
 * Seams for the host and for tests.  Any NULL member means the default:
 * no transport (ing_transport_none: every outgoing request fails with
 * ING_ETRANSPORT; a host that syncs or sends events gives its own),
 * CLOCK_REALTIME, nanosleep,
 * and no logging at all (the SDK writes nothing on its own; a host that
 * wants the lines installs 'log' and 'log_call').
 *
 * 'log' gets a stable event name ("inngest_config", "inngest_sync_failed",
 * ...) and a formatted message; neither ever holds a secret (keys, bearer
 * tokens) or user text (event data, step output), so the host may write
 * them as they are.  Both log hooks receive 'log_ud' and may be called
 * from any thread that calls into the SDK.
 */
struct ing_hooks {
	const struct ing_transport *transport;
	long long (*now_ms)(void);        /* wall clock, ms since the epoch */
	void (*sleep_ms)(long long ms);   /* used between event retries */
	void (*log)(void *ud, enum ing_log_level level, const char *event,
	    const char *msg);
	void (*log_call)(void *ud, const struct ing_log_call *call);
	/* After each ing_event_send() that reached the network: how many
	 * events it carried and whether the event API took them (for the
	 * host's counters; same 'log_ud'). */
	void (*events_sent)(void *ud, size_t count, int ok);
	void *log_ud;
};

/*
 * Build an app from 'cfg' (borrowed; the strings are copied).
 * Mode: dev unset, empty, "0" or "false" is cloud; "1"/"true" is dev on
 * ING_DEV_ORIGIN; an origin ("http://host:port", or "host:port") is dev
 * on that origin.  Origins: api_origin / event_api_origin win, then
 * base_url for both, then the dev origin in dev mode, then the cloud
 * defaults.  The app id is cfg->app_id (ING_DEFAULT_APP_ID if unset).
 *
 * 'hooks' may be NULL (copied).  On ING_OK '*out' is owned by the caller.
 * ING_EINVAL for a NULL 'cfg'; ING_ENOMEM out of memory.
 */
enum ing_err ing_app_new(const struct ing_config *cfg,
    const struct ing_hooks *hooks, struct ing_app **out);

/* Free 'app' (NULL accepted). */
void ing_app_free(struct ing_app *app);

/*
 * Validate 'fn' and add it to the app (borrowed; must outlive the app).
 * ING_EINVAL names the problem in the log (missing id or handler, no or
 * malformed trigger, bad limit); ING_EDUPLICATE if the id is taken.
 * Not thread safe: register everything before serving.
 */
enum ing_err ing_app_register(struct ing_app *app,
    const struct ing_function *fn);

/* Opaque pointer handed to functions through ing_ctx_app_data(). */
void ing_app_set_data(struct ing_app *app, void *data);

/* Accessors (borrowed strings, valid while the app lives). */
const char *ing_app_id(const struct ing_app *app);
enum ing_mode ing_app_mode(const struct ing_app *app);
const char *ing_app_api_origin(const struct ing_app *app);
const char *ing_app_event_origin(const struct ing_app *app);
size_t ing_app_function_count(const struct ing_app *app);

/*
 * Find a function by composite id ("<app>-<fn>") or bare id; NULL if none.
 */
const struct ing_function *ing_app_find(const struct ing_app *app,
    const char *fn_id);

/*
 * Build the sync payload (spec 4.3.2) for the serve URL 'url' (absolute,
 * without deployId).  On ING_OK '*out' is a new json-c reference.
 */
enum ing_err ing_app_sync_payload(const struct ing_app *app,
    const char *url, struct json_object **out);

/* ------------------------------------------------------------------ */
/* Serve: the /api/inngest entry point                                 */
/* ------------------------------------------------------------------ */

/* A borrowed request header. */
struct ing_header_ref {
	const char *name;        /* matched case-insensitively */
	const char *value;
};

/*
 * The request as the transport saw it; every pointer is borrowed for the
 * duration of ing_serve().
 */
struct ing_request {
	const char *method;      /* "GET", "PUT", "POST", ... */
	const char *query;       /* raw query string without '?', or NULL */
	const struct ing_header_ref *headers;
	size_t nheaders;
	const char *body;        /* raw bytes, exactly as received */
	size_t body_len;
	/* Where the client reached us; used to build the sync URL when
	 * INNGEST_SERVE_ORIGIN / INNGEST_SERVE_PATH are not set. */
	const char *scheme;      /* "http" or "https"; NULL = "http" */
	const char *host;        /* Host header value, with port if any */
	const char *path;        /* request path, e.g. "/api/inngest" */
};

#define ING_RESPONSE_MAX_HEADERS 8

struct ing_response_header {
	char name[40];
	char value[200];
};

/* The answer to send; fill by ing_serve(), free with ing_response_free(). */
struct ing_response {
	int status;
	size_t nheaders;
	struct ing_response_header headers[ING_RESPONSE_MAX_HEADERS];
	char *body;              /* malloc'd, NUL-terminated */
	size_t body_len;
};

/*
 * Handle one /api/inngest request:
 *   GET        introspection (spec 4.5); the private fields only to a
 *              request whose signature verifies;
 *   PUT        sync: POST {api origin}/fn/register (spec 4.3);
 *   POST       ?probe=trust: trust probe; otherwise a call request
 *              (spec 4.4, 5): verify, find fnId, run, report;
 *   other      405 with Allow.
 * A request that fails verification gets 401 {"message":"Unauthorized"}
 * (as both official SDKs; docs/inngest.md says why not the spec's 500);
 * an unknown fnId gets 500.
 * Every response carries Content-Type, X-Inngest-Sdk and
 * X-Inngest-Req-Version.  Returns ING_OK when the response reflects the
 * protocol outcome (including 4xx/5xx answers), ING_ENOMEM when it is a
 * bare 500 built without allocation.  '*res' is always valid to send.
 */
enum ing_err ing_serve(struct ing_app *app, const struct ing_request *req,
    struct ing_response *res);

/* Release what ing_serve() put in 'res' (safe to call twice). */
void ing_response_free(struct ing_response *res);

/* Look up a response header by name (case-insensitive); NULL if absent. */
const char *ing_response_header(const struct ing_response *res,
    const char *name);

#endif
