/*
 * transport_curl.c -- the libcurl implementation of struct ing_transport.
 *
 * Every option lives here.  Each request uses its own easy handle (the
 * SDK is called from many threads and requests to Inngest are rare next to
 * the calls Inngest makes to us), always with NOSIGNAL, a connect timeout,
 * a total timeout, http/https only, no redirects and close-on-exec
 * sockets, and collects the answer into a capped buffer.
 *
 * It includes only the public inngest_transport.h (no SDK internals), so
 * that it can move out of the SDK or be replaced by a transport over
 * another HTTP client without touching the SDK.
 */
#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "inngest_transport.h"

#define DEFAULT_CONNECT_MS 5000L
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_RESPONSE (4u * 1024u * 1024u)

/* The answer so far: 'data' always has room for a final NUL. */
struct sink {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
	int too_large;
	int failed;      /* out of memory */
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb, cap;
	char *q;

	if (n > s->max || s->len > s->max - n || s->len + n >= SIZE_MAX) {
		s->too_large = 1;
		return 0;
	}
	if (s->len + n + 1 > s->cap) {
		cap = s->cap != 0 ? s->cap : 256;
		while (cap < s->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? s->len + n + 1 : cap * 2;
		q = realloc(s->data, cap);
		if (q == NULL) {
			s->failed = 1;
			return 0;
		}
		s->data = q;
		s->cap = cap;
	}
	memcpy(s->data + s->len, p, n);
	s->len += n;
	s->data[s->len] = '\0';
	return n;
}

/* Workers fork children (the local sandbox runs commands): a connection
 * to Inngest must not leak into them, and libcurl opens its sockets
 * without close-on-exec. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose,
    struct curl_sockaddr *a)
{
	(void)ud;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* The request's header lines plus "Expect:" (libcurl adds "Expect:
 * 100-continue" to larger POSTs; Inngest does not need the extra round
 * trip).  NULL out of memory. */
static struct curl_slist *header_list(const struct ing_http_req *req)
{
	struct curl_slist *hdrs = NULL, *tmp;

	for (size_t i = 0; i <= req->nheaders; i++) {
		tmp = curl_slist_append(hdrs, i < req->nheaders ?
		    req->headers[i] : "Expect:");
		if (tmp == NULL) {
			curl_slist_free_all(hdrs);
			return NULL;
		}
		hdrs = tmp;
	}
	return hdrs;
}

/* Every option, in one place: bounded, http(s) only, no redirects. */
static void set_options(CURL *h, const struct ing_http_req *req,
    struct curl_slist *hdrs, struct sink *sink)
{
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    req->connect_timeout_ms > 0 ? req->connect_timeout_ms :
	    DEFAULT_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(h, CURLOPT_USERAGENT, ING_SDK_HEADER);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return;
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS,
	    req->body != NULL ? req->body : "");
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)(req->body != NULL ? req->body_len : 0));
}

static enum ing_err curl_send(void *ud, const struct ing_http_req *req,
    struct ing_http_res *res)
{
	struct curl_slist *hdrs;
	struct sink sink = { 0 };
	enum ing_err err = ING_OK;
	CURLcode cc;
	CURL *h;

	(void)ud;
	memset(res, 0, sizeof(*res));
	sink.max = req->max_response != 0 ? req->max_response :
	    DEFAULT_MAX_RESPONSE;
	h = curl_easy_init();
	if (h == NULL)
		return ING_ENOMEM;
	hdrs = header_list(req);
	if (hdrs == NULL) {
		curl_easy_cleanup(h);
		return ING_ENOMEM;
	}
	set_options(h, req, hdrs, &sink);
	cc = curl_easy_perform(h);
	if (sink.too_large)
		err = ING_ETOOLARGE;
	else if (sink.failed)
		err = ING_ENOMEM;
	else if (cc != CURLE_OK)
		err = ING_ETRANSPORT;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	/* An empty answer still gets a (NUL-terminated) body. */
	if (err == ING_OK && sink.data == NULL &&
	    (sink.data = calloc(1, 1)) == NULL)
		err = ING_ENOMEM;
	if (err == ING_OK) {
		res->body = sink.data;
		res->body_len = sink.len;
	} else {
		memset(res, 0, sizeof(*res));
		free(sink.data);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return err;
}

const struct ing_transport ing_transport_curl = { curl_send, NULL };

int ing_transport_curl_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void ing_transport_curl_global_cleanup(void)
{
	curl_global_cleanup();
}

void ing_http_res_free(struct ing_http_res *res)
{
	if (res == NULL)
		return;
	free(res->body);
	memset(res, 0, sizeof(*res));
}
