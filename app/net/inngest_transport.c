/*
 * inngest_transport.c -- struct ing_transport over http_client (see
 * inngest_http.h for the contract).  Only the SDK's own choices live here:
 * its user agent, its defaults, no "Expect: 100-continue", and which
 * requests must not be resent.
 */
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "inngest_http.h"

#define DEFAULT_CONNECT_MS 5000L
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_RESPONSE ((size_t)4 * 1024 * 1024)
/* The request's own lines plus "Expect:"; the SDK sends a handful. */
#define MAX_HEADERS 32

static enum ing_err from_hc(enum hc_err err)
{
	switch (err) {
	case HC_OK:
		return ING_OK;
	case HC_ENOMEM:
		return ING_ENOMEM;
	case HC_ETOOLARGE:
		return ING_ETOOLARGE;
	case HC_EINVAL:
		return ING_EINVAL;
	default:
		return ING_ETRANSPORT;
	}
}

static enum ing_err hc_send(void *ud, const struct ing_http_req *req,
    struct ing_http_res *res)
{
	const char *headers[MAX_HEADERS + 1];
	struct hc_request hr = {0};
	struct hc_response hs;
	enum ing_err err;

	(void)ud;
	memset(res, 0, sizeof(*res));
	if (req == NULL || req->method == NULL || req->url == NULL ||
	    req->nheaders > MAX_HEADERS ||
	    (req->nheaders > 0 && req->headers == NULL))
		return ING_EINVAL;
	for (size_t i = 0; i < req->nheaders; i++)
		headers[i] = req->headers[i];
	/* libcurl adds "Expect: 100-continue" to larger POSTs; Inngest does
	 * not need the extra round trip. */
	headers[req->nheaders] = "Expect:";
	hr.method = req->method;
	hr.url = req->url;
	hr.headers = headers;
	hr.nheaders = req->nheaders + 1;
	hr.body = req->body;
	hr.body_len = req->body_len;
	hr.connect_timeout_ms = req->connect_timeout_ms > 0 ?
	    req->connect_timeout_ms : DEFAULT_CONNECT_MS;
	hr.timeout_ms = req->timeout_ms > 0 ? req->timeout_ms :
	    DEFAULT_TIMEOUT_MS;
	hr.max_response = req->max_response > 0 ? req->max_response :
	    DEFAULT_MAX_RESPONSE;
	/* Inngest's answers are capped whatever their status. */
	hr.max_error_body = hr.max_response;
	/* A POST sends an event or a sync: never let libcurl resend it on
	 * its own over a reused connection that died.  Reads may reuse. */
	hr.fresh_connect = strcmp(req->method, "GET") != 0;
	hr.user_agent = ING_SDK_HEADER;
	err = from_hc(hc_perform(&hr, &hs));
	if (err != ING_OK)
		return err;
	res->status = hs.status;
	res->body = hs.body;
	res->body_len = hs.body_len;
	return ING_OK;
}

const struct ing_transport omni_inngest_transport = { hc_send, NULL };
