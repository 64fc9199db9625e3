/*
 * router.h -- the route table and the one function that dispatches on it.
 *
 * Routes are data: a static const array of struct route (handlers/routes.c
 * is Omni's table).  router_dispatch() applies, in order, the rules every
 * route shares, so no handler repeats them:
 *   1. the body was too large             -> 413 PAYLOAD_TOO_LARGE
 *   2. no route has this path             -> 404 NOT_FOUND
 *   3. OPTIONS on a known path            -> 204 CORS preflight
 *   4. no route has this method           -> 405 METHOD_NOT_ALLOWED + Allow
 *   4a. the client's budget is spent      -> 429 RATE_LIMITED + Retry-After
 *      (rate_gate.h; before auth, so bad tokens are counted too)
 *   5. auth required and missing/invalid,
 *      or a token without a subject      -> 401 UNAUTHORIZED
 *      (the subject goes to req->auth_subject for the handlers)
 *   5a. the subject's budget is spent     -> 429 RATE_LIMITED + Retry-After
 *   6. JSON route, wrong content type     -> 415 UNSUPPORTED_MEDIA_TYPE
 *   7. JSON route, body not a JSON object -> 400 VALIDATION_ERROR
 *   8. the handler
 * and finally adds the CORS headers when the Origin is allowed.  A HEAD
 * request is served by the GET route (the worker sends no body).
 */
#ifndef OMNI_ROUTER_H
#define OMNI_ROUTER_H

#include <stddef.h>

#include "http.h"

typedef void (*route_handler)(struct http_request *req,
    struct http_response *resp);

enum route_body {
	ROUTE_BODY_NONE = 0, /* body ignored */
	ROUTE_BODY_JSON,     /* must be application/json and a JSON object */
	ROUTE_BODY_RAW,      /* handler reads req->body itself */
};

enum route_auth {
	ROUTE_PUBLIC = 0,    /* no credentials (health, inngest: own scheme) */
	ROUTE_USER,          /* bearer JWT when OMNI_AUTH=jwt */
};

/*
 * Which RATE_LIMIT_* budget a route's requests spend (rate_gate.h).  The
 * default, 0, is the general budget, so a row that says nothing is
 * limited; exempt only what must answer under any load.
 */
enum route_limit {
	ROUTE_LIMIT_GENERAL = 0, /* RATE_LIMIT_RPM */
	ROUTE_LIMIT_STRICT,      /* RATE_LIMIT_STRICT_RPM: expensive work */
	ROUTE_LIMIT_EXEMPT,      /* never limited (health, /api/inngest) */
};

struct route {
	const char *method;  /* "GET", "POST", ... */
	const char *path;    /* exact path */
	route_handler handler;
	enum route_body body;
	enum route_auth auth;
	int debug_only;      /* served only when OMNI_DEBUG_ROUTES=1 */
	enum route_limit limit;
};

/*
 * Dispatch 'req' over 'table' ('n' rows) into 'resp'.  Always leaves a
 * status and a body in 'resp' (handlers that forget get a 500).  Returns
 * the index of the first row with the request's path (whatever its
 * method; metrics.h counts by path), or -1 when no route has the path.
 */
int router_dispatch(const struct route *table, size_t n,
    struct http_request *req, struct http_response *resp);

/*
 * Write the Allow value for 'path' ("GET, HEAD, OPTIONS") into 'buf'.
 * Returns the number of routes with that path (0: unknown path).
 */
size_t router_allow(const struct route *table, size_t n,
    const struct http_request *req, const char *path, char *buf,
    size_t len);

#endif
