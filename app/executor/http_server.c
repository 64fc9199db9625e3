/*
 * http_server.c -- the executor's HTTP server over libmicrohttpd
 * (exec_http.h says what a handler sees and who owns what).
 *
 * MHD owns the sockets, the HTTP parsing, keep-alive and the idle
 * timeout; this file only collects each request body in memory (up to
 * the cap), calls the one handler and turns its answer into an MHD
 * response.  MHD calls the access handler several times per request: once
 * with the headers, once per piece of body, and once more with no data
 * when the request is complete -- the handler runs on that last call.
 *
 * SIGPIPE: nothing here installs a handler.  On Linux MHD sends with
 * MSG_NOSIGNAL (SO_NOSIGPIPE elsewhere), so a peer that goes away makes a
 * send fail with EPIPE instead of killing the process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "exec_http.h"
#include "log.h"

#define DEF_HOST "127.0.0.1"
#define DEF_MAX_BODY ((size_t)4 * 1024 * 1024)
#define DEF_THREADS 4u
#define DEF_TIMEOUT_S 30u
/* Spread over the pool's threads by MHD; far above what the local
 * executor's callers (the pool, a browser) open. */
#define CONNECTION_LIMIT 256u

#define JSON_TYPE "application/json"
#define ERR_500 "{\"error\":{\"code\":\"SERVER_ERROR\",\"message\":" \
	"\"the handler gave no answer\",\"details\":{}}"
#define ERR_OOM "{\"error\":{\"code\":\"SERVER_ERROR\",\"message\":" \
	"\"out of memory\",\"details\":{}}"

struct exec_http_server {
	struct MHD_Daemon *daemon;
	exec_http_handler handler;
	void *ud;
	size_t max_body;
	/* MHD's messages: the first one while starting explains a failed
	 * start; the others go to the log. */
	pthread_mutex_t log_mu;
	int starting;
	char start_err[256];
};

/* One request's state, kept in MHD's per-request pointer (con_cls) and
 * freed by request_done(). */
struct req_state {
	char *buf;
	size_t len, cap;
	int too_large;   /* over max_body: the rest is read and dropped */
	int no_memory;   /* growing 'buf' failed: same, then a 500 */
	int answered;    /* a response is queued already */
};

/* ---- MHD's messages ----------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct exec_http_server *srv = cls;
	char msg[256];
	size_t n;
	int keep;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	pthread_mutex_lock(&srv->log_mu);
	keep = srv->starting && srv->start_err[0] == '\0';
	if (keep)
		snprintf(srv->start_err, sizeof(srv->start_err), "%s", msg);
	pthread_mutex_unlock(&srv->log_mu);
	if (!keep)
		log_msg(LOG_WARN, "exec_http", "%s", msg);
}

/* ---- responses ---------------------------------------------------------- */

/* The headers every answer carries, unless the handler named the same
 * header itself (then its value wins instead of a duplicate). */
static int add_common_headers(struct MHD_Response *r, const char *type,
    const struct exec_http_response *hr)
{
	static const char *const names[] = {
		"Cache-Control", "X-Content-Type-Options"
	};
	static const char *const values[] = { "no-store", "nosniff" };

	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    type) != MHD_YES)
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int own = 0;

		for (int j = 0; hr != NULL && j < EXEC_HTTP_MAX_HEADERS; j++)
			if (hr->header_names[j] != NULL &&
			    strcasecmp(hr->header_names[j], names[i]) == 0)
				own = 1;
		if (!own && MHD_add_response_header(r, names[i],
		    values[i]) != MHD_YES)
			return -1;
	}
	return 0;
}

/* Queue a JSON answer the server writes itself (errors); MHD copies
 * 'json'. */
static enum MHD_Result queue_json(struct MHD_Connection *conn,
    unsigned status, const char *json)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(json), (void *)json,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;    /* MHD closes the connection */
	if (add_common_headers(r, JSON_TYPE, NULL) != 0) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result queue_too_large(struct MHD_Connection *conn,
    size_t max_body)
{
	char json[160];

	snprintf(json, sizeof(json), "{\"error\":{\"code\":"
	    "\"PAYLOAD_TOO_LARGE\",\"message\":\"request body exceeds %zu "
	    "bytes\",\"details\":{}}", max_body);
	return queue_json(conn, MHD_HTTP_CONTENT_TOO_LARGE, json);
}

/* The handler's answer as an MHD response, which takes 'hr->body' in
 * every case (freed with it, or here when none could be made).  NULL
 * when it could not be made. */
static struct MHD_Response *handler_response(struct exec_http_response *hr)
{
	static char empty[1];
	struct MHD_Response *r;
	int i;

	if (hr->body != NULL)
		r = MHD_create_response_from_buffer_with_free_callback(
		    hr->body_len, hr->body, free);
	else
		r = MHD_create_response_from_buffer(0, empty,
		    MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(hr->body);
		return NULL;
	}
	hr->body = NULL;
	if (add_common_headers(r, hr->content_type != NULL ?
	    hr->content_type : JSON_TYPE, hr) != 0)
		goto bad;
	for (i = 0; i < EXEC_HTTP_MAX_HEADERS; i++) {
		if (hr->header_names[i] == NULL || hr->header_values[i] == NULL)
			continue;
		/* MHD refuses names and values with CR, LF or ':' in the
		 * name: a handler bug, answered 500 rather than sent. */
		if (MHD_add_response_header(r, hr->header_names[i],
		    hr->header_values[i]) != MHD_YES)
			goto bad;
	}
	return r;
bad:
	MHD_destroy_response(r);
	return NULL;
}

/* ---- requests ----------------------------------------------------------- */

/* Keep a piece of body, or drop it once the request is over the cap (the
 * rest is still read so that the 413 reaches a client that sends it). */
static void collect(struct req_state *st, size_t max_body, const char *data,
    size_t n)
{
	size_t want;
	char *p;

	if (st->too_large || st->no_memory)
		return;
	if (n > max_body - st->len) {
		st->too_large = 1;
		free(st->buf);
		st->buf = NULL;
		return;
	}
	if (st->len + n + 1 > st->cap) {
		/* Doubling, but never past the cap plus its NUL. */
		want = st->cap ? st->cap : 4096;
		while (want < st->len + n + 1)
			want = want > max_body / 2 ? st->len + n + 1 :
			    want * 2;
		p = realloc(st->buf, want);
		if (p == NULL) {
			st->no_memory = 1;
			return;
		}
		st->buf = p;
		st->cap = want;
	}
	memcpy(st->buf + st->len, data, n);
	st->len += n;
	st->buf[st->len] = '\0';
}

/* A declared Content-Length over the cap is refused before any of the
 * body is read (MHD then sends no "100 Continue"). */
static int declared_too_large(struct MHD_Connection *conn, size_t max_body)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n;
	char *end;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (end == v)
		return 0;    /* MHD answers a malformed one itself */
	return errno == ERANGE || n > max_body;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* The complete request: hand it to the handler and queue its answer. */
static enum MHD_Result dispatch(struct exec_http_server *srv,
    struct MHD_Connection *conn, const char *url, const char *method,
    struct req_state *st)
{
	struct exec_http_request req = {0};
	struct exec_http_response hr = {0};
	struct MHD_Response *r;
	enum MHD_Result ret;

	req.method = method;
	req.path = url;
	req.accept = header(conn, MHD_HTTP_HEADER_ACCEPT);
	req.authorization = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
	req.content_type = header(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
	req.body = st->buf != NULL ? st->buf : "";
	req.body_len = st->len;
	req.conn = conn;
	srv->handler(srv->ud, &req, &hr);
	/* MHD sends any code from 100 to 999; a handler that set none, or
	 * one outside HTTP's classes, is a bug answered 500. */
	if (hr.status < 100 || hr.status > 599) {
		free(hr.body);
		return queue_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, ERR_500);
	}
	r = handler_response(&hr);
	if (r == NULL)
		return queue_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, ERR_500);
	ret = MHD_queue_response(conn, (unsigned)hr.status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
    const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct exec_http_server *srv = cls;
	struct req_state *st = *con_cls;

	(void)version;
	if (st == NULL) {
		/* First call: headers only. */
		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return MHD_NO;
		*con_cls = st;
		if (!declared_too_large(conn, srv->max_body))
			return MHD_YES;
		st->answered = 1;
		return queue_too_large(conn, srv->max_body);
	}
	if (*upload_data_size > 0) {
		if (!st->answered)
			collect(st, srv->max_body, upload_data,
			    *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (st->answered)
		return MHD_YES;
	st->answered = 1;
	if (st->too_large)
		return queue_too_large(conn, srv->max_body);
	if (st->no_memory)
		return queue_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, ERR_OOM);
	return dispatch(srv, conn, url, method, st);
}

static void request_done(void *cls, struct MHD_Connection *conn,
    void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct req_state *st = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (st != NULL) {
		free(st->buf);
		free(st);
		*con_cls = NULL;
	}
}

/* ---- the server --------------------------------------------------------- */

union bind_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* Parse the numeric host (a name would need a resolver and could bind
 * somewhere unexpected).  0, or -1 with 'err' set. */
static int parse_host(const char *host, int port, union bind_addr *a,
    int *ipv6, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (port < 0 || port > 65535) {
		snprintf(err, errlen, "port %d out of range", port);
		return -1;
	}
	if (inet_pton(AF_INET, host, &a->in4.sin_addr) == 1) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons((uint16_t)port);
		*ipv6 = 0;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons((uint16_t)port);
		*ipv6 = 1;
		return 0;
	}
	snprintf(err, errlen, "host '%s' is not a numeric IPv4 or IPv6 "
	    "address", host);
	return -1;
}

static struct MHD_Daemon *start_daemon(struct exec_http_server *srv,
    const struct exec_http_options *opt, union bind_addr *a, int ipv6)
{
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;

	if (ipv6)
		flags |= MHD_USE_IPv6;
	/* The logger first, so that no start-up message reaches stderr
	 * unformatted. */
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
	    MHD_OPTION_SOCK_ADDR, &a->sa,
	    MHD_OPTION_THREAD_POOL_SIZE,
	    opt->threads ? opt->threads : DEF_THREADS,
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    opt->timeout_s ? opt->timeout_s : DEF_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
	    MHD_OPTION_NOTIFY_COMPLETED, request_done, srv,
	    MHD_OPTION_END);
}

int exec_http_start(const struct exec_http_options *opt,
    struct exec_http_server **out, char *err, size_t errlen)
{
	struct exec_http_server *srv;
	const char *host;
	union bind_addr a;
	int ipv6;

	*out = NULL;
	if (opt == NULL || opt->handler == NULL) {
		snprintf(err, errlen, "no handler");
		return -1;
	}
	host = opt->host != NULL ? opt->host : DEF_HOST;
	if (parse_host(host, opt->port, &a, &ipv6, err, errlen) != 0)
		return -1;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL || pthread_mutex_init(&srv->log_mu, NULL) != 0) {
		free(srv);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	srv->handler = opt->handler;
	srv->ud = opt->ud;
	srv->max_body = opt->max_body ? opt->max_body : DEF_MAX_BODY;
	/* Room for the NUL after a body of exactly the cap. */
	if (srv->max_body > SIZE_MAX - 1)
		srv->max_body = SIZE_MAX - 1;
	srv->starting = 1;
	srv->daemon = start_daemon(srv, opt, &a, ipv6);
	pthread_mutex_lock(&srv->log_mu);
	srv->starting = 0;
	pthread_mutex_unlock(&srv->log_mu);
	if (srv->daemon == NULL) {
		/* MHD says why (bind: "Address already in use") when built
		 * with messages, as Debian's is. */
		snprintf(err, errlen, "cannot listen on %s port %d: %s", host,
		    opt->port, srv->start_err[0] ? srv->start_err :
		    "libmicrohttpd refused to start");
		pthread_mutex_destroy(&srv->log_mu);
		free(srv);
		return -1;
	}
	*out = srv;
	return 0;
}

int exec_http_port(const struct exec_http_server *srv)
{
	const union MHD_DaemonInfo *info;

	if (srv == NULL)
		return -1;
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return info != NULL ? (int)info->port : -1;
}

const char *exec_http_query(const struct exec_http_request *req,
    const char *name)
{
	if (req == NULL || req->conn == NULL || name == NULL)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	    name);
}

/* MHD_stop_daemon closes the listening socket and joins the pool's
 * threads: a handler already running finishes before this returns (so
 * the caller may free 'ud' afterwards), and every request's state is
 * released through request_done(). */
void exec_http_stop(struct exec_http_server *srv)
{
	if (srv == NULL)
		return;
	MHD_stop_daemon(srv->daemon);
	pthread_mutex_destroy(&srv->log_mu);
	free(srv);
}
