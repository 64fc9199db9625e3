/*
 * exec_http.h -- the local executor's HTTP server: libmicrohttpd underneath,
 * one handler for every request, bodies collected in memory up to a cap.
 *
 * The executor speaks the Inngest server's side of the protocol on it
 * (events, registrations) and serves its pages; the routing is the
 * handler's.  The server owns connections, reading bodies, timeouts and
 * writing answers; the handler sees a complete request and fills a
 * response.  Bodies over 'max_body' are answered 413 with a JSON error
 * without reaching the handler; a handler that leaves the status at 0
 * answers 500.
 *
 * Threads: the handler runs on the server's threads (a pool of
 * 'threads'), possibly several at once: it must be thread safe.
 *
 * Ownership: the request and all it points to are borrowed for the call.
 * The handler puts a malloc'd body in 'resp->body' (or leaves it NULL for
 * none); the server frees it.  'content_type' and the header values are
 * borrowed and must outlive the call (string literals, or storage the
 * handler owns for longer).
 */
#ifndef OMNI_EXEC_HTTP_H
#define OMNI_EXEC_HTTP_H

#include <stddef.h>

struct exec_http_server;

struct exec_http_request {
	const char *method;         /* "GET", "POST", ... */
	const char *path;           /* the URL path, percent-decoded, without
	                             * the query */
	const char *accept;         /* header values, NULL when absent */
	const char *authorization;
	const char *content_type;
	const char *body;           /* NUL-terminated copy; "" when none */
	size_t body_len;
	void *conn;                 /* the server's, for exec_http_query() */
};

#define EXEC_HTTP_MAX_HEADERS 4

struct exec_http_response {
	int status;
	const char *content_type;   /* NULL: application/json */
	char *body;                 /* malloc'd, taken by the server */
	size_t body_len;
	const char *header_names[EXEC_HTTP_MAX_HEADERS];  /* e.g. "Allow" */
	const char *header_values[EXEC_HTTP_MAX_HEADERS];
};

typedef void (*exec_http_handler)(void *ud,
    const struct exec_http_request *req, struct exec_http_response *resp);

struct exec_http_options {
	const char *host;          /* numeric address to bind; NULL: 127.0.0.1 */
	int port;                  /* 0: any free port (see exec_http_port) */
	size_t max_body;           /* 0: 4 MiB */
	unsigned threads;          /* 0: 4 */
	unsigned timeout_s;        /* idle connection timeout; 0: 30 */
	exec_http_handler handler;
	void *ud;
};

/*
 * Start serving.  0 with '*out' set, or -1 with 'err' naming the cause
 * (bad host, port in use, out of memory).
 */
int exec_http_start(const struct exec_http_options *opt,
    struct exec_http_server **out, char *err, size_t errlen);

/* The bound port (useful after port 0). */
int exec_http_port(const struct exec_http_server *srv);

/* A query argument of the request (decoded), or NULL. */
const char *exec_http_query(const struct exec_http_request *req,
    const char *name);

/* Stop accepting, finish the requests in flight, free the server.  NULL
 * is a no-op. */
void exec_http_stop(struct exec_http_server *srv);

#endif
