/*
 * rate_gate.h -- RATE_LIMIT_RPM applied to one request: the router's two
 * calls into the machine's shared counters (ratelimit.h).
 *
 * Policy:
 *   - RATE_LIMIT_RPM=0, or no table (req->ratelimit NULL): nothing is
 *     limited, not even the strict routes.
 *   - A route's enum route_limit picks its budget: the general budget
 *     (RATE_LIMIT_RPM), the strict one (RATE_LIMIT_STRICT_RPM, 0 meaning
 *     RATE_LIMIT_RPM / 6 and at least 1), or none (exempt).  The two
 *     budgets are separate counters: a strict route's requests do not
 *     spend the general budget.
 *   - Every limited request is counted against its client address
 *     (client_ip.h, with OMNI_TRUSTED_PROXIES) before authentication, so
 *     requests with bad tokens are limited too; after authentication a
 *     request with a subject (OMNI_AUTH=jwt, a user route) is also counted
 *     against that subject, so a token used from many addresses is
 *     limited as well.  A request refused by the second count is given
 *     back to the first: only admitted requests are counted.
 *   - A refusal is 429 RATE_LIMITED in the error model, with Retry-After
 *     (seconds until the window ends) and details {limit,
 *     windowSeconds, retryAfter}, and one "rate_limited" log line that
 *     names the key kind, the budget and, for an address, the address;
 *     never the subject.
 *
 * The decision time is req->started (CLOCK_MONOTONIC at parse), which is
 * also how tests move the clock.
 */
#ifndef OMNI_RATE_GATE_H
#define OMNI_RATE_GATE_H

#include "http.h"
#include "ratelimit.h"
#include "router.h"

struct omni_config;

/* What the first count admitted, for the second to give back. */
struct rate_pass {
	struct rl_ticket client;
};

/* Hits per window that budget 'cls' allows under 'cfg'; 0: unlimited. */
unsigned rate_gate_limit(const struct omni_config *cfg,
    enum route_limit cls);

/*
 * Count 'req' against its client address.  0: go on ('*pass' filled);
 * -1: over budget, 'resp' holds the 429.
 */
int rate_gate_client(struct http_request *req, enum route_limit cls,
    struct http_response *resp, struct rate_pass *pass);

/*
 * Count 'req' against req->auth_subject (nothing when it is empty).  0:
 * go on; -1: over budget, the client's hit in '*pass' is given back and
 * 'resp' holds the 429.
 */
int rate_gate_user(struct http_request *req, enum route_limit cls,
    struct http_response *resp, struct rate_pass *pass);

#endif
