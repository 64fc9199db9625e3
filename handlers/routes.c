/*
 * routes.c -- Omni's route table: every endpoint of the contract, in one
 * place, and the service the process model runs (worker.h).
 * router_dispatch() (app/http/router.c) applies the shared rules.
 *
 * The last column is the rate-limit budget (router.h, enum route_limit):
 * health and /api/inngest (Inngest's own calls, signed) are exempt;
 * routes that start expensive work -- POST /api/sandbox/create and POST
 * /api/knowledge/process (an agent run) -- spend the strict budget
 * (test_ratelimit.c checks both lists against this table); everything
 * else, the reads of a sandbox included, the general one.
 */
#include "handlers.h"
#include "omni_worker.h"
#include "router.h"
#include "worker.h"

#define GENERAL ROUTE_LIMIT_GENERAL
#define STRICT ROUTE_LIMIT_STRICT
#define EXEMPT ROUTE_LIMIT_EXEMPT

const struct route omni_routes[] = {
	{ "GET", "/", handle_root, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, EXEMPT },
	{ "GET", "/ready", handle_ready, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0,
	    EXEMPT },
	/* Its own access rule (loopback or the metrics token), and the
	 * general budget, so that guessing the token is limited too. */
	{ "GET", "/metrics", handle_metrics, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0,
	    GENERAL },
	{ "POST", "/api/sandbox/create", handle_sandbox_create,
	    ROUTE_BODY_JSON, ROUTE_USER, 0, STRICT },
	{ "GET", "/api/sandbox/status", handle_sandbox_status, ROUTE_BODY_NONE,
	    ROUTE_USER, 0, GENERAL },
	{ "DELETE", "/api/sandbox", handle_sandbox_delete, ROUTE_BODY_NONE,
	    ROUTE_USER, 0, GENERAL },
	{ "POST", "/api/knowledge/process", handle_knowledge_process,
	    ROUTE_BODY_JSON, ROUTE_USER, 0, STRICT },
	{ "GET", "/api/knowledge/query", handle_knowledge_query,
	    ROUTE_BODY_NONE, ROUTE_USER, 0, GENERAL },
	{ "GET", "/api/task/results", handle_task_results, ROUTE_BODY_NONE,
	    ROUTE_USER, 0, GENERAL },
	{ "GET", "/api/inngest", handle_inngest, ROUTE_BODY_RAW, ROUTE_PUBLIC,
	    0, EXEMPT },
	{ "PUT", "/api/inngest", handle_inngest, ROUTE_BODY_RAW, ROUTE_PUBLIC,
	    0, EXEMPT },
	{ "POST", "/api/inngest", handle_inngest, ROUTE_BODY_RAW, ROUTE_PUBLIC,
	    0, EXEMPT },
	/* Debug routes (development only, config.h) take a bearer token
	 * like user routes when OMNI_AUTH=jwt: /debug/sleep holds a thread
	 * for up to 60 s. */
	{ "GET", "/debug/sleep", handle_debug_sleep, ROUTE_BODY_NONE,
	    ROUTE_USER, 1, GENERAL },
	{ "POST", "/debug/echo", handle_debug_echo, ROUTE_BODY_JSON,
	    ROUTE_USER, 1, GENERAL },
	{ "POST", "/debug/sandbox/exec", handle_debug_sandbox_exec,
	    ROUTE_BODY_JSON, ROUTE_USER, 1, GENERAL },
};

const size_t omni_routes_count = sizeof(omni_routes) / sizeof(omni_routes[0]);

const struct worker_service omni_service = {
	.routes = omni_routes,
	.nroutes = sizeof(omni_routes) / sizeof(omni_routes[0]),
	.open = omni_worker_new,
	.close = omni_worker_free,
};
