/*
 * routes.c -- Omni's route table: every endpoint of the contract, in one
 * place.  router_dispatch() (app/http/router.c) applies the shared rules.
 */
#include "handlers.h"
#include "router.h"

const struct route omni_routes[] = {
	{ "GET", "/", handle_root, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0 },
	{ "GET", "/ready", handle_ready, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0 },
	{ "POST", "/api/sandbox/create", handle_sandbox_create,
	    ROUTE_BODY_JSON, ROUTE_USER, 0 },
	{ "GET", "/api/sandbox/status", handle_sandbox_status, ROUTE_BODY_NONE,
	    ROUTE_USER, 0 },
	{ "DELETE", "/api/sandbox", handle_sandbox_delete, ROUTE_BODY_NONE,
	    ROUTE_USER, 0 },
	{ "GET", "/api/inngest", handle_inngest, ROUTE_BODY_RAW, ROUTE_PUBLIC,
	    0 },
	{ "PUT", "/api/inngest", handle_inngest, ROUTE_BODY_RAW, ROUTE_PUBLIC,
	    0 },
	{ "POST", "/api/inngest", handle_inngest, ROUTE_BODY_RAW, ROUTE_PUBLIC,
	    0 },
	{ "GET", "/debug/sleep", handle_debug_sleep, ROUTE_BODY_NONE,
	    ROUTE_PUBLIC, 1 },
	{ "POST", "/debug/echo", handle_debug_echo, ROUTE_BODY_JSON,
	    ROUTE_USER, 1 },
	{ "POST", "/debug/sandbox/exec", handle_debug_sandbox_exec,
	    ROUTE_BODY_JSON, ROUTE_USER, 1 },
};

const size_t omni_routes_count = sizeof(omni_routes) / sizeof(omni_routes[0]);
