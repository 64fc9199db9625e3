/*
 * metrics.c -- GET /metrics: the machine's counters (metrics.h) in the
 * Prometheus text format.
 *
 * Who may read them is decided by configuration and the TCP peer alone,
 * never by a header a client can write: with OMNI_METRICS_TOKEN set,
 * whoever presents it as a bearer token (compared in constant time);
 * without, only a loopback REMOTE_ADDR -- the address the front server
 * saw, so a scraper on the front's host (or its loopback metrics
 * listener) gets in and the public does not.
 */
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "client_ip.h"
#include "config.h"
#include "handlers.h"
#include "metrics.h"

static int loopback_peer(const char *remote_addr)
{
	static const unsigned char v6_loopback[16] = { [15] = 1 };
	struct client_ip a;

	if (remote_addr == NULL || client_ip_parse(remote_addr,
	    strlen(remote_addr), &a) != 0)
		return 0;
	if (a.family == AF_INET)
		return a.addr[0] == 127;
	return a.family == AF_INET6 &&
	    memcmp(a.addr, v6_loopback, sizeof(v6_loopback)) == 0;
}

/* Does the Authorization header carry 'token' as a bearer token? */
static int bearer_matches(const char *header, const char *token)
{
	size_t want = strlen(token), got;

	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return 0;
	header += 7;
	while (*header == ' ')
		header++;
	got = strlen(header);
	while (got > 0 && header[got - 1] == ' ')
		got--;
	/* The length is not secret (the token's alphabet and minimum are
	 * documented); its bytes are compared in constant time. */
	return got == want && CRYPTO_memcmp(header, token, want) == 0;
}

void handle_metrics(struct http_request *req, struct http_response *resp)
{
	const struct omni_config *cfg = req->cfg;
	struct metrics *m = metrics_installed();
	enum metrics_err e;
	char *text;
	size_t len;

	if (m == NULL || cfg == NULL || !cfg->metrics || !metrics_enabled()) {
		http_response_error(resp, API_NOT_FOUND,
		    "metrics are turned off (OMNI_METRICS=0)", NULL);
		return;
	}
	if (cfg->metrics_token != NULL) {
		if (!bearer_matches(http_header(req, "authorization"),
		    cfg->metrics_token)) {
			http_response_error(resp, API_UNAUTHORIZED,
			    "GET /metrics wants the metrics bearer token",
			    NULL);
			http_response_header(resp, "WWW-Authenticate",
			    "Bearer realm=\"metrics\"");
			return;
		}
	} else if (!loopback_peer(req->remote_addr)) {
		http_response_error(resp, API_FORBIDDEN,
		    "metrics are served to loopback clients only (set "
		    "OMNI_METRICS_TOKEN to scrape from elsewhere)", NULL);
		return;
	}
	if ((e = metrics_render(m, &text, &len)) != METRICS_OK) {
		http_response_error(resp, API_SERVER_ERROR,
		    metrics_strerror(e), NULL);
		return;
	}
	http_response_body(resp, 200, METRICS_CONTENT_TYPE, text, len);
	http_response_header(resp, "Cache-Control", "no-store");
	free(text);
}
