/*
 * inngest_transport.h -- outgoing HTTP for the Inngest SDK (sync, event
 * sending, fetching a run's batch and actions).
 *
 * One small vtable so that unit tests can answer with canned responses and
 * record what the SDK sent; ing_transport_curl is the real one.  Every call
 * is bounded: libcurl runs with CURLOPT_NOSIGNAL (threads), a connect
 * timeout and a total timeout, only http/https, no redirects, and the
 * response body is capped.
 *
 * This header is the whole contract between the SDK and a transport:
 * transport_curl.c includes nothing else of the SDK, so another
 * implementation (say, over a host's own HTTP client) needs only this
 * file.  A transport may be called from many threads at once.
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

/* The libcurl transport.  curl_global_init() must have run before threads
 * start (ing_app_new() does it through the function below). */
extern const struct ing_transport ing_transport_curl;

/*
 * libcurl's global init and cleanup (reference counted by libcurl), so
 * that only transport_curl.c includes curl.h.  Not thread safe: call
 * while the process is single-threaded.  Init returns 0, or -1 if
 * libcurl could not initialise.
 */
int ing_transport_curl_global_init(void);
void ing_transport_curl_global_cleanup(void);

/* Free the body of 'res' and zero it. */
void ing_http_res_free(struct ing_http_res *res);

#endif
