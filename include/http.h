/*
 * http.h -- one HTTP request and its response, independent of FastCGI.
 *
 * The worker (app/worker.c) turns the FastCGI params and input stream of a
 * request into a struct http_request with http_request_parse(), hands it to
 * the router, and writes the struct http_response back.  Unit tests build
 * requests from an envp array and a memory body the same way, so handlers
 * never see libfcgi.
 *
 * Ownership: a request owns every string and array it points to, and the
 * parsed JSON body; http_request_free() releases them.  Handlers get the
 * request const and borrow from it.  A response owns its headers and body;
 * http_response_free() releases them.  Setters copy their arguments, except
 * http_response_json(), which takes the json object it is given.
 */
#ifndef OMNI_HTTP_H
#define OMNI_HTTP_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "api_error.h"

struct omni_config;
struct rl_table;

struct http_kv {
	char *name;
	char *value;
};

/* Outcome of reading the body. */
enum http_body_status {
	HTTP_BODY_OK = 0,      /* complete, in body/body_len */
	HTTP_BODY_TOO_LARGE,   /* over the limit: discarded, not kept */
	HTTP_BODY_READ_ERROR,  /* the stream ended before CONTENT_LENGTH */
	HTTP_BODY__MAX
};

/* Why parsing failed (http_request_parse). */
enum http_parse_err {
	HTTP_PARSE_OK = 0,
	HTTP_PARSE_BAD_PATH,    /* missing, not absolute, bad %-escape, NUL */
	HTTP_PARSE_BAD_QUERY,   /* bad %-escape or NUL in the query */
	HTTP_PARSE_BAD_METHOD,  /* missing or not a token */
	HTTP_PARSE_NOMEM,
	HTTP_PARSE__MAX
};

#define HTTP_REQUEST_ID_MAX 65 /* 64 characters + NUL */

struct http_request {
	char method[16];          /* upper-case token, e.g. "GET" */
	char *path;               /* %-decoded path, no query, starts with '/' */
	char *raw_query;          /* QUERY_STRING as received, "" if none */
	struct http_kv *params;   /* %-decoded query parameters, in order */
	size_t nparams;
	struct http_kv *headers;  /* names lower-case with '-', in order */
	size_t nheaders;
	char *remote_addr;        /* REMOTE_ADDR, "" if unknown */
	char request_id[HTTP_REQUEST_ID_MAX]; /* X-Request-Id or generated */
	char *content_type;       /* CONTENT_TYPE, NULL if none */
	long long content_length; /* CONTENT_LENGTH, -1 if absent */

	char *body;               /* NUL-terminated, NULL if none/too large */
	size_t body_len;
	enum http_body_status body_status;
	struct json_object *json; /* parsed body on JSON routes (router) */

	const struct omni_config *cfg; /* borrowed */
	/* Borrowed: the machine's shared rate-limit counters (ratelimit.h),
	 * set by the worker after parsing; NULL (the parse's value, and what
	 * tests get) means nothing is limited. */
	struct rl_table *ratelimit;
	/* Borrowed: the application's per-process context that the server
	 * was given (fcgi_io.h, struct fcgi_site.app), opaque to the HTTP
	 * layer; NULL after the parse.  Omni's handlers read it through
	 * omni_worker_of() (omni_worker.h). */
	void *app;
	struct timespec started;  /* CLOCK_MONOTONIC at parse */

	/*
	 * The verified bearer token's "sub" claim, set by the router before
	 * the handler runs (router.h, rule 5): with OMNI_AUTH=jwt every
	 * ROUTE_USER handler sees a non-empty subject (a token without one
	 * is refused with 401).  "" when auth is off, on public routes, and
	 * until the router has run.  Handlers bind user data to it
	 * (handlers.h, sandbox_get_owned).
	 */
	char auth_subject[128];
};

/* Reads up to 'len' bytes of body into 'buf'; returns bytes read, 0 at the
 * end, -1 on error.  The worker wraps FCGX_GetStr; tests wrap a buffer. */
typedef long (*http_body_reader)(void *ctx, char *buf, size_t len);

/*
 * Fill 'req' from the FastCGI params 'envp' ("NAME=value", NULL-terminated)
 * and read the body from 'reader' up to 'max_body' bytes.  A longer body
 * is drained and dropped (body_status TOO_LARGE) so memory stays bounded.
 * On any return '*req' must be released with http_request_free(); on error
 * the request id is still set, so an error response can carry it.
 */
enum http_parse_err http_request_parse(struct http_request *req,
    char *const *envp, http_body_reader reader, void *reader_ctx,
    size_t max_body, const struct omni_config *cfg);

void http_request_free(struct http_request *req);

/* Header value by lower-case name ("x-request-id"), NULL if absent.
 * Borrowed from 'req'. */
const char *http_header(const struct http_request *req, const char *name);

/* Query parameter by name (first occurrence), NULL if absent.  Borrowed. */
const char *http_param(const struct http_request *req, const char *name);

/*
 * %-decode 'in' (len bytes) into a new NUL-terminated string.  In a query
 * ('plus_is_space' 1) '+' means space.  Returns NULL for a malformed escape,
 * an encoded NUL, or no memory; '*out_len' gets the length if not NULL.
 */
char *http_percent_decode(const char *in, size_t len, int plus_is_space,
    size_t *out_len);

/* Is 'ct' (a Content-Type value) application/json, with any parameters? */
int http_is_json_type(const char *ct);

/* ---- responses ---- */

struct http_response {
	int status;               /* 0 until set; the worker sends 500 then */
	struct http_kv *headers;  /* extra headers, in order */
	size_t nheaders;
	size_t cap;
	char *content_type;       /* owned */
	char *body;               /* owned, may contain NULs */
	size_t body_len;
	int oom;                  /* a setter ran out of memory */
};

void http_response_init(struct http_response *resp);
void http_response_free(struct http_response *resp);

/* Add (or, with replace, set) a header.  Copies.  0 or -1 on ENOMEM. */
int http_response_header(struct http_response *resp, const char *name,
    const char *value);
int http_response_set_header(struct http_response *resp, const char *name,
    const char *value);
const char *http_response_get_header(const struct http_response *resp,
    const char *name);

/* Set status, content type and a copy of 'body'.  0 or -1 on ENOMEM. */
int http_response_body(struct http_response *resp, int status,
    const char *content_type, const void *body, size_t len);

/* Serialize 'obj' as the application/json body with 'status'.  Takes the
 * reference to 'obj' (put on every path).  0 or -1 on ENOMEM. */
int http_response_json(struct http_response *resp, int status,
    struct json_object *obj);

/*
 * The contract's error model: {"error":{"code","message","details"}} with
 * the status of 'err'.  'message' is safe operator text (never user input
 * or a secret).  'details' is taken (may be NULL -> {}).
 */
int http_response_error(struct http_response *resp, enum api_err err,
    const char *message, struct json_object *details);

/* The same with details {"field": 'field', "problem": 'problem'}. */
int http_response_field_error(struct http_response *resp, enum api_err err,
    const char *message, const char *field, const char *problem);

#endif
