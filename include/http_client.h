/*
 * http_client.h -- Omni's one outbound HTTP client (libcurl underneath).
 *
 * Every request to another service (Daytona, Inngest) goes through
 * hc_perform() so that the rules cannot drift apart between callers:
 *   - one CURL easy handle per thread, reused so that its connection cache
 *     keeps connections open across calls; released when the thread exits
 *     (pthread key destructor) or earlier by hc_thread_cleanup();
 *   - a connect timeout and a total timeout on every request;
 *   - TLS peer and host verification always on;
 *   - http and https only (CURLOPT_PROTOCOLS_STR, or CURLOPT_PROTOCOLS on a
 *     libcurl older than 7.85), never a redirect;
 *   - CURLOPT_NOSIGNAL (threads: no SIGALRM for DNS timeouts);
 *   - sockets opened close-on-exec, so a connection never leaks into the
 *     children workers fork (the local sandbox runs commands);
 *   - the response body collected into a capped growable buffer;
 *   - the Retry-After hint of the final answer read from its headers;
 *   - on request, the values of a few named headers of the final answer.
 * Retries are not done here: the callers own their retry loops (Daytona's
 * policy is struct dt_retry_policy in daytona.h, since its test seam sits
 * above the network).
 *
 * Start-up: http_client_global_init() runs curl_global_init(), which is
 * not thread safe: call it while the process is still single-threaded,
 * before any thread might call hc_perform().  Calling it again is cheap.
 *
 * Ownership: the request and everything it points to are borrowed for the
 * duration of the call; header lines are wiped (explicit_bzero) after the
 * request since they carry API keys.  On HC_OK 'resp->body' is a malloc'd,
 * NUL-terminated buffer (never NULL, "" when the answer had no body) that
 * the caller releases with hc_response_free() (which also frees captured
 * header values).  On any error the
 * response holds no memory (body NULL, status 0) and nothing needs freeing.
 */
#ifndef OMNI_HTTP_CLIENT_H
#define OMNI_HTTP_CLIENT_H

#include <stddef.h>

enum hc_err {
	HC_OK = 0,      /* an HTTP answer came back, of any status */
	HC_EINVAL,      /* bad argument (NULL url or method), or
	                 * http_client_global_init() failed or never ran */
	HC_ENOMEM,      /* out of memory */
	HC_EREFUSED,    /* the URL was refused before connecting: a scheme
	                 * other than http/https, or malformed */
	HC_ENETWORK,    /* no answer: DNS, connect, reset, TLS, dropped */
	HC_ETIMEOUT,    /* the connect or total timeout passed */
	HC_ETOOLARGE    /* the body passed the cap for its status */
};

const char *hc_strerror(enum hc_err err);

/* A growable byte buffer, always NUL-terminated once it holds data. */
struct hc_buf {
	char *data;     /* malloc'd, or NULL while empty */
	size_t len;
	size_t cap;
	int failed;     /* an allocation failed; the contents are partial */
};

/* Append 'n' bytes; 0, or -1 out of memory (and 'failed' is set). */
int hc_buf_put(struct hc_buf *b, const void *p, size_t n);
/* Hand the contents over (never NULL unless out of memory: an empty
 * buffer gives ""); the buffer is empty afterwards. */
char *hc_buf_take(struct hc_buf *b, size_t *len);
void hc_buf_free(struct hc_buf *b);

struct hc_request {
	const char *method;          /* "GET", "POST", "PUT", "DELETE", ... */
	const char *url;             /* absolute http(s) URL */
	const char *const *headers;  /* "Name: value" lines */
	size_t nheaders;
	const char *body;            /* NULL = none; POST and PUT then send
	                              * an empty body */
	size_t body_len;
	long connect_timeout_ms;     /* 0 = 5000 */
	long timeout_ms;             /* whole exchange; 0 = 30000 */
	size_t max_response;         /* cap on a 2xx body; 0 = 4 MiB */
	size_t max_error_body;       /* cap on any other status's body when
	                              * larger than max_response (an error
	                              * text must fit even when a download's
	                              * cap is tiny); 0 = max_response */
	int fresh_connect;           /* 1: a new connection.  libcurl resends
	                              * a request on its own when a reused
	                              * connection dies before the answer;
	                              * requests that must not run twice
	                              * set this. */
	const char *user_agent;      /* NULL = "omni-fcgi" */
	const char *const *want_headers;  /* names of response headers to
	                              * capture (at most HC_MAX_WANT); their
	                              * values land in resp->headers[i] */
	size_t nwant;
};

#define HC_MAX_WANT 4

struct hc_response {
	long status;                 /* HTTP status; 0 when no answer */
	int curl_code;               /* the CURLcode, for diagnostics */
	char *body;                  /* see Ownership above */
	size_t body_len;
	long retry_after_ms;         /* largest Retry-After or
	                              * Retry-After-<name> of the final
	                              * answer, in ms; -1 when none */
	char *headers[HC_MAX_WANT];  /* the value of want_headers[i] in the
	                              * final answer (malloc'd), NULL when it
	                              * was absent; freed by
	                              * hc_response_free() */
};

/* Once, while single-threaded (see above).  0 or -1. */
int http_client_global_init(void);

/* Perform 'req' on the calling thread's handle; fills '*resp'. */
enum hc_err hc_perform(const struct hc_request *req,
    struct hc_response *resp);

void hc_response_free(struct hc_response *resp);

/*
 * Can a TCP connection to 'host_port' ("name:443", "10.0.0.1:443",
 * "[::1]:443") be opened within 'timeout_ms' (name resolution included)?
 * HC_OK when it connected (it is closed at once, nothing is sent);
 * HC_ETIMEOUT, HC_ENETWORK (refused, unreachable, no such name),
 * HC_EREFUSED (not a host:port).  A fresh handle, so that a probe never
 * finds a cached connection instead of a path through the firewall.
 */
enum hc_err hc_probe_tcp(const char *host_port, long timeout_ms);

/* Release the calling thread's handle (and its connections) now; the next
 * hc_perform() on this thread makes a new one. */
void hc_thread_cleanup(void);

/*
 * Parse one header line; if it is Retry-After or Retry-After-<name>
 * (case-insensitive), store its delay in ms in '*ms' (delay-seconds or an
 * HTTP date against 'now_epoch', capped at one day) and return 1.
 */
int hc_parse_retry_after(const char *line, size_t len, long now_epoch,
    long *ms);

#endif
