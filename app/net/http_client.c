/*
 * http_client.c -- the one outbound HTTP client (http_client.h says what
 * every request gets and who owns what).
 *
 * Every libcurl option an outbound request carries is set in
 * set_options(), so a rule added there holds for every caller.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>

#include "http_client.h"

/* curl_easy_header() reads captured headers: libcurl 7.83 or later
 * (Debian 12 has 7.88). */
#if LIBCURL_VERSION_NUM < 0x075300
#error "libcurl 7.83 or later is required"
#endif

#define DEF_CONNECT_MS 5000L
#define DEF_TIMEOUT_MS 30000L
#define DEF_MAX_RESPONSE ((size_t)4 * 1024 * 1024)
/* Retry-After past a day is a misconfigured server, not a plan. */
#define RETRY_AFTER_MAX_S 86400L

const char *hc_strerror(enum hc_err err)
{
	switch (err) {
	case HC_OK: return "ok";
	case HC_EINVAL: return "invalid argument";
	case HC_ENOMEM: return "out of memory";
	case HC_EREFUSED: return "URL refused";
	case HC_ENETWORK: return "network error";
	case HC_ETIMEOUT: return "timed out";
	case HC_ETOOLARGE: return "response too large";
	}
	return "unknown error";
}

/* ---- the buffer --------------------------------------------------------- */

int hc_buf_put(struct hc_buf *b, const void *p, size_t n)
{
	size_t want;
	char *d;

	if (b->failed)
		return -1;
	if (n > SIZE_MAX - 1 - b->len) {
		b->failed = 1;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		want = b->cap ? b->cap : 4096;
		while (want < b->len + n + 1) {
			if (want > SIZE_MAX / 2) {
				want = b->len + n + 1;
				break;
			}
			want *= 2;
		}
		d = realloc(b->data, want);
		if (d == NULL) {
			b->failed = 1;
			return -1;
		}
		b->data = d;
		b->cap = want;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

char *hc_buf_take(struct hc_buf *b, size_t *len)
{
	char *d;

	if (b->failed || (b->data == NULL && hc_buf_put(b, "", 0) != 0))
		return NULL;
	d = b->data;
	if (len != NULL)
		*len = b->len;
	memset(b, 0, sizeof(*b));
	return d;
}

void hc_buf_free(struct hc_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- process and thread state ------------------------------------------ */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_ok;
static pthread_key_t handle_key;

static void handle_destroy(void *h)
{
	if (h != NULL)
		curl_easy_cleanup(h);
}

static void global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return;
	if (pthread_key_create(&handle_key, handle_destroy) != 0)
		return;
	global_ok = 1;
}

int http_client_global_init(void)
{
	pthread_once(&global_once, global_init);
	return global_ok ? 0 : -1;
}

/* The calling thread's easy handle, made on first use. */
static CURL *thread_handle(void)
{
	CURL *h;

	if (!global_ok)
		return NULL;
	h = pthread_getspecific(handle_key);
	if (h != NULL)
		return h;
	h = curl_easy_init();
	if (h == NULL)
		return NULL;
	if (pthread_setspecific(handle_key, h) != 0) {
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

void hc_thread_cleanup(void)
{
	CURL *h;

	if (!global_ok)
		return;
	h = pthread_getspecific(handle_key);
	if (h != NULL) {
		pthread_setspecific(handle_key, NULL);
		curl_easy_cleanup(h);
	}
}

/* ---- Retry-After ---------------------------------------------------------- */

/* ASCII only: the locale must not change what a header means. */
static int is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * RFC 9110 10.2.3 gives Retry-After as delay-seconds or an HTTP date;
 * some services (Daytona's throttlers) also send Retry-After-<name>
 * with delay-seconds.
 */
int hc_parse_retry_after(const char *line, size_t len, long now_epoch,
    long *ms)
{
	static const char name[] = "retry-after";
	char value[128];
	const char *p, *end, *v;
	size_t nlen = sizeof(name) - 1, vlen;
	char *stop;
	long secs;

	if (line == NULL || ms == NULL || len <= nlen ||
	    strncasecmp(line, name, nlen) != 0)
		return 0;
	end = line + len;
	p = line + nlen;
	/* "Retry-After" exactly, or "Retry-After-<throttler>". */
	if (*p == '-') {
		const char *tok = ++p;

		while (p < end && is_token_char(*p))
			p++;
		if (p == tok)
			return 0;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p != ':')
		return 0;
	v = p + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
	    end[-1] == ' ' || end[-1] == '\t'))
		end--;
	vlen = (size_t)(end - v);
	if (vlen == 0 || vlen >= sizeof(value))
		return 0;
	memcpy(value, v, vlen);
	value[vlen] = '\0';
	if (value[0] >= '0' && value[0] <= '9') {
		secs = strtol(value, &stop, 10);
		if (*stop != '\0' || secs < 0)
			return 0;
		if (secs > RETRY_AFTER_MAX_S)
			secs = RETRY_AFTER_MAX_S;
		*ms = secs * 1000;
		return 1;
	} else {
		time_t when = curl_getdate(value, NULL);

		if (when == (time_t)-1)
			return 0;
		secs = (long)when - now_epoch;
		*ms = secs > 0 ? (secs > RETRY_AFTER_MAX_S ?
		    RETRY_AFTER_MAX_S : secs) * 1000 : 0;
		return 1;
	}
}

/* ---- one request ---------------------------------------------------------- */

struct sink {
	CURL *h;
	struct hc_buf buf;
	size_t max;        /* cap on a 2xx body */
	size_t max_error;  /* cap on any other body */
	int over;          /* the answer passed its cap */
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb, cap = s->max;
	long status = 0;

	if (n > cap || s->buf.len > cap - n) {
		/* Only look at the status when the small cap is passed:
		 * the common case needs no getinfo. */
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
		if (!(status >= 200 && status < 300))
			cap = s->max_error;
		if (n > cap || s->buf.len > cap - n) {
			s->over = 1;
			return 0; /* curl stops with CURLE_WRITE_ERROR */
		}
	}
	if (hc_buf_put(&s->buf, ptr, n) != 0)
		return 0;
	return n;
}

static size_t on_header(char *ptr, size_t size, size_t nitems, void *ud)
{
	long *retry_after = ud, ms;
	size_t n = size * nitems;

	/* A new status line starts a new answer (after 100 Continue): only
	 * the final answer's hint counts. */
	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
		*retry_after = -1;
	else if (hc_parse_retry_after(ptr, n, (long)time(NULL), &ms) &&
	    ms > *retry_after)
		*retry_after = ms;
	return n;
}

/* libcurl opens its sockets without close-on-exec; workers fork children
 * that must not inherit a connection (with its TLS session) to another
 * service. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose,
    struct curl_sockaddr *a)
{
	(void)ud;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void set_method(CURL *h, const struct hc_request *req)
{
	int post = strcmp(req->method, "POST") == 0;

	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (!post)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	/* A DELETE (or other verb) without a body sends none at all. */
	if (req->body == NULL && !post && strcmp(req->method, "PUT") != 0)
		return;
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS,
	    req->body != NULL ? req->body : "");
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)(req->body != NULL ? req->body_len : 0));
}

/* Every option, in one place. */
static void set_options(CURL *h, const struct hc_request *req,
    struct curl_slist *hdrs, struct sink *sink, long *retry_after)
{
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    req->connect_timeout_ms > 0 ? req->connect_timeout_ms :
	    DEF_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    req->timeout_ms > 0 ? req->timeout_ms : DEF_TIMEOUT_MS);
	/* The defaults already verify; saying so keeps a later edit from
	 * turning it off for one caller without it showing here. */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, retry_after);
	curl_easy_setopt(h, CURLOPT_USERAGENT,
	    req->user_agent != NULL ? req->user_agent : "omni-fcgi");
	if (req->fresh_connect)
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	set_method(h, req);
}

/* What curl_easy_perform()'s 'rc' means for the caller. */
static enum hc_err curl_result(CURLcode rc, const struct sink *s)
{
	if (s->over)
		return HC_ETOOLARGE;
	if (s->buf.failed || rc == CURLE_OUT_OF_MEMORY)
		return HC_ENOMEM;
	switch (rc) {
	case CURLE_OK:
		return HC_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return HC_ETIMEOUT;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return HC_EREFUSED;
	default:
		return HC_ENETWORK;
	}
}

static void wipe_headers(struct curl_slist *hdrs)
{
	struct curl_slist *l;

	/* Header lines carry API keys: do not leave them in freed memory. */
	for (l = hdrs; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(hdrs);
}

/* The values of the headers the caller asked for, from the final answer
 * (request -1: the last one after any 100 Continue).  0, or -1 out of
 * memory. */
static int capture_headers(CURL *h, const struct hc_request *req,
    struct hc_response *resp)
{
	struct curl_header *hdr;

	for (size_t i = 0; i < req->nwant; i++) {
		if (curl_easy_header(h, req->want_headers[i], 0, CURLH_HEADER,
		    -1, &hdr) != CURLHE_OK)
			continue;
		resp->headers[i] = strdup(hdr->value);
		if (resp->headers[i] == NULL)
			return -1;
	}
	return 0;
}

enum hc_err hc_perform(const struct hc_request *req, struct hc_response *resp)
{
	struct sink sink = {0};
	struct curl_slist *hdrs = NULL, *n;
	enum hc_err err = HC_OK;
	CURLcode rc;
	CURL *h;

	if (resp == NULL)
		return HC_EINVAL;
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	if (req == NULL || req->url == NULL || req->method == NULL ||
	    (req->nheaders > 0 && req->headers == NULL) ||
	    req->nwant > HC_MAX_WANT ||
	    (req->nwant > 0 && req->want_headers == NULL))
		return HC_EINVAL;
	if (!global_ok)
		return HC_EINVAL;
	h = thread_handle();
	if (h == NULL)
		return HC_ENOMEM;
	/* Reset keeps the connection cache: that is the point of the
	 * per-thread handle. */
	curl_easy_reset(h);
	for (size_t i = 0; i < req->nheaders; i++) {
		n = curl_slist_append(hdrs, req->headers[i]);
		if (n == NULL) {
			wipe_headers(hdrs);
			return HC_ENOMEM;
		}
		hdrs = n;
	}
	sink.h = h;
	sink.max = req->max_response > 0 ? req->max_response :
	    DEF_MAX_RESPONSE;
	sink.max_error = req->max_error_body > sink.max ?
	    req->max_error_body : sink.max;
	set_options(h, req, hdrs, &sink, &resp->retry_after_ms);
	rc = curl_easy_perform(h);
	resp->curl_code = (int)rc;
	if ((err = curl_result(rc, &sink)) == HC_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		resp->body = hc_buf_take(&sink.buf, &resp->body_len);
		if (resp->body == NULL || capture_headers(h, req, resp) != 0)
			err = HC_ENOMEM;
	}
	if (err != HC_OK) {
		hc_response_free(resp);
		resp->status = 0;
		resp->retry_after_ms = -1;
	}
	/* The handle keeps pointers to our stack and to the header list:
	 * drop them before either goes. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	wipe_headers(hdrs);
	hc_buf_free(&sink.buf);
	return err;
}

void hc_response_free(struct hc_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	for (size_t i = 0; i < HC_MAX_WANT; i++) {
		free(resp->headers[i]);
		resp->headers[i] = NULL;
	}
}

enum hc_err hc_probe_tcp(const char *host_port, long timeout_ms)
{
	struct sink none = { 0 };
	char url[300];
	CURLcode rc;
	CURL *h;

	if (host_port == NULL || *host_port == '\0' ||
	    strpbrk(host_port, "/?#@ ") != NULL ||
	    (size_t)snprintf(url, sizeof(url), "http://%s/", host_port) >=
	    sizeof(url))
		return HC_EREFUSED;
	if ((h = curl_easy_init()) == NULL)
		return HC_ENOMEM;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	return curl_result(rc, &none);
}
