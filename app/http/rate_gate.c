/*
 * rate_gate.c -- the rate-limit policy of a request (rate_gate.h).
 */
#include <stdio.h>
#include <string.h>

#include "client_ip.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "rate_gate.h"

#define STRICT_DIVISOR 6 /* default strict budget: a sixth of the general */

unsigned rate_gate_limit(const struct omni_config *cfg,
    enum route_limit cls)
{
	unsigned rpm;

	if (cfg == NULL || cfg->rate_limit_rpm <= 0 ||
	    cls == ROUTE_LIMIT_EXEMPT)
		return 0;
	rpm = (unsigned)cfg->rate_limit_rpm;
	if (cls != ROUTE_LIMIT_STRICT)
		return rpm;
	if (cfg->rate_limit_strict_rpm > 0)
		return (unsigned)cfg->rate_limit_strict_rpm;
	return rpm / STRICT_DIVISOR > 0 ? rpm / STRICT_DIVISOR : 1;
}

static long long started_ms(const struct http_request *req)
{
	return (long long)req->started.tv_sec * 1000 +
	    req->started.tv_nsec / 1000000;
}

static enum rl_budget budget_of(enum route_limit cls)
{
	return cls == ROUTE_LIMIT_STRICT ? RL_BUDGET_STRICT :
	    RL_BUDGET_GENERAL;
}

static void log_refusal(const struct http_request *req, const char *kind,
    enum route_limit cls, unsigned limit, int retry,
    const struct client_ip *client)
{
	struct json_object *line = log_begin(LOG_INFO, "rate_limited");
	char text[CLIENT_IP_TEXT_MAX];

	if (line == NULL)
		return;
	json_object_object_add(line, "request_id",
	    json_object_new_string(req->request_id));
	json_object_object_add(line, "key", json_object_new_string(kind));
	json_object_object_add(line, "budget", json_object_new_string(
	    cls == ROUTE_LIMIT_STRICT ? "strict" : "general"));
	json_object_object_add(line, "limit", json_object_new_int64(limit));
	json_object_object_add(line, "retry_after",
	    json_object_new_int(retry));
	/* The address is the one counted, formatted from its parsed bytes:
	 * no header text reaches the log.  A subject never does. */
	if (client != NULL) {
		client_ip_format(client, text, sizeof(text));
		json_object_object_add(line, "client",
		    json_object_new_string(text));
	}
	log_end(line);
}

static void refuse(struct http_response *resp, unsigned limit, int retry)
{
	struct json_object *d = json_object_new_object();
	char value[16];

	if (d != NULL) {
		json_object_object_add(d, "limit",
		    json_object_new_int64(limit));
		json_object_object_add(d, "windowSeconds",
		    json_object_new_int((int)(RL_WINDOW_MS / 1000)));
		json_object_object_add(d, "retryAfter",
		    json_object_new_int(retry));
	}
	http_response_error(resp, API_RATE_LIMITED,
	    "too many requests; retry after the time in Retry-After", d);
	snprintf(value, sizeof(value), "%d", retry);
	http_response_header(resp, "Retry-After", value);
}

int rate_gate_client(struct http_request *req, enum route_limit cls,
    struct http_response *resp, struct rate_pass *pass)
{
	unsigned limit = rate_gate_limit(req->cfg, cls);
	unsigned char key[CLIENT_IP_KEY_MAX];
	struct client_ip_trust trust;
	struct client_ip client;
	int retry;

	memset(pass, 0, sizeof(*pass));
	if (req->ratelimit == NULL || limit == 0)
		return 0;
	/* Validated at load; a list that no longer parses trusts nobody. */
	if (client_ip_trust_parse(req->cfg->trusted_proxies, &trust) != NULL)
		trust.n = 0;
	client_ip_resolve(req->remote_addr, http_header(req,
	    "x-forwarded-for"), &trust, &client);
	retry = rl_hit(req->ratelimit, RL_KEY_IP, budget_of(cls), key,
	    client_ip_key(&client, key), limit, started_ms(req),
	    &pass->client);
	if (retry == 0)
		return 0;
	log_refusal(req, "ip", cls, limit, retry, &client);
	metrics_count_rate_limited(cls == ROUTE_LIMIT_STRICT,
	    METRICS_LIMIT_CLIENT);
	refuse(resp, limit, retry);
	return -1;
}

int rate_gate_user(struct http_request *req, enum route_limit cls,
    struct http_response *resp, struct rate_pass *pass)
{
	unsigned limit = rate_gate_limit(req->cfg, cls);
	int retry;

	if (req->ratelimit == NULL || limit == 0 ||
	    req->auth_subject[0] == '\0')
		return 0;
	retry = rl_hit(req->ratelimit, RL_KEY_USER, budget_of(cls),
	    req->auth_subject, strlen(req->auth_subject), limit,
	    started_ms(req), NULL);
	if (retry == 0)
		return 0;
	rl_undo(req->ratelimit, &pass->client);
	log_refusal(req, "user", cls, limit, retry, NULL);
	metrics_count_rate_limited(cls == ROUTE_LIMIT_STRICT,
	    METRICS_LIMIT_USER);
	refuse(resp, limit, retry);
	return -1;
}
