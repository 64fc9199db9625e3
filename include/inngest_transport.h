/*
 * inngest_transport.h -- outgoing HTTP for the Inngest SDK (sync, event
 * sending, fetching a run's batch and actions).
 *
 * One small vtable so that unit tests can answer with canned responses and
 * record what the SDK sent; the program embedding the SDK supplies the
 * real one (ing_hooks.transport).  A transport must bound every call:
 * the connect and total timeouts of the request, http/https only, no
 * redirects, the response body capped at max_response.
 *
 * This header is the whole contract between the SDK and a transport: an
 * implementation (Omni's runs over its outbound HTTP client) needs only
 * this file.  A transport may be called from many threads at once.
 *
 * Ownership: the request is borrowed.  On ING_OK the response body is a
 * malloc'd NUL-terminated buffer the caller frees with
 * ing_http_res_free(); on error the response holds nothing.
 */
#ifndef OMNI_INNGEST_TRANSPORT_H
#define OMNI_INNGEST_TRANSPORT_H

#include <stddef.h>

#include "inngest.h"

struct ing_http_req {
	const char *method;          /* "GET", "POST" */
	const char *url;             /* absolute http(s) URL */
	const char *const *headers;  /* "Name: value" lines */
	size_t nheaders;
	const char *body;            /* NULL for none */
	size_t body_len;
	long connect_timeout_ms;     /* 0 = 5000 */
	long timeout_ms;             /* 0 = 30000 */
	size_t max_response;         /* 0 = 4 MiB */
};

struct ing_http_res {
	long status;                 /* HTTP status; 0 if none */
	char *body;                  /* malloc'd, NUL-terminated */
	size_t body_len;
};

struct ing_transport {
	/*
	 * Perform 'req'.  ING_OK whenever an HTTP answer came back (any
	 * status); ING_ETRANSPORT on connection errors and timeouts;
	 * ING_ETOOLARGE past the cap; ING_ENOMEM.
	 */
	enum ing_err (*send)(void *ud, const struct ing_http_req *req,
	    struct ing_http_res *res);
	void *ud;
};

/*
 * The transport an app has when its hooks give none: every send fails
 * with ING_ETRANSPORT, so an app that was never given a way out says so
 * instead of reaching the network behind its user's back.  The SDK ships
 * no network code of its own: the program that embeds it brings the
 * transport (Omni's is app/net/inngest_transport.c).
 */
extern const struct ing_transport ing_transport_none;

/* Free the body of 'res' and zero it. */
void ing_http_res_free(struct ing_http_res *res);

#endif
