/*
 * loopback_http.h -- a tiny HTTP/1.1 server on 127.0.0.1:<ephemeral> run in
 * a thread, for the outbound client tests (test_http_client.c,
 * test_inngest_http.c).  It answers every request with one canned reply,
 * keeps connections open unless the reply says "Connection: close" (so
 * connection reuse shows in the accept count), and records whether the
 * client's end of each connection is close-on-exec (found through
 * /proc/self/fd: client and server share the process).
 *
 * Bounded: every wait polls at most LB_POLL_MS and the thread ends as soon
 * as lb_stop() is called.
 */
#ifndef OMNI_TEST_LOOPBACK_HTTP_H
#define OMNI_TEST_LOOPBACK_HTTP_H

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback_listen.h"

#define LB_POLL_MS 50

struct lb_server {
	int fd;
	int port;
	const char *reply;        /* NULL: read the request, never answer */
	atomic_int stop;
	atomic_int accepts;       /* connections accepted */
	atomic_int requests;      /* requests read */
	atomic_int cloexec;       /* client ends seen: -1 none yet, 0 one
	                           * lacked FD_CLOEXEC, 1 all had it */
	char got[8192];           /* the last request's bytes */
	pthread_t thread;
};

/* The fd of this process's socket whose local port is 'local' and whose
 * peer port is 'peer' (the client's end), or -1. */
static int lb_find_client_fd(int local, int peer)
{
	struct sockaddr_in a;
	struct dirent *e;
	socklen_t len;
	DIR *d = opendir("/proc/self/fd");
	int found = -1;

	if (d == NULL)
		return -1;
	while (found < 0 && (e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		len = sizeof(a);
		if (getsockname(fd, (struct sockaddr *)&a, &len) != 0 ||
		    a.sin_family != AF_INET || ntohs(a.sin_port) != local)
			continue;
		len = sizeof(a);
		if (getpeername(fd, (struct sockaddr *)&a, &len) == 0 &&
		    ntohs(a.sin_port) == peer)
			found = fd;
	}
	closedir(d);
	return found;
}

static void lb_note_cloexec(struct lb_server *s, int c)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd, ok;

	if (getpeername(c, (struct sockaddr *)&a, &len) != 0)
		return;
	fd = lb_find_client_fd(ntohs(a.sin_port), s->port);
	if (fd < 0)
		return;
	ok = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
	if (atomic_load(&s->cloexec) != 0)
		atomic_store(&s->cloexec, ok);
}

/*
 * Wait for 'fd' to be readable: 1, or 0 when we stop.  While waiting on a
 * connection, a new connection on the listener also ends the wait (0):
 * the client is sequential, so it has given up on the idle one.
 */
static int lb_wait(struct lb_server *s, int fd)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
		{ .fd = s->fd, .events = POLLIN } };
	nfds_t n = fd == s->fd ? 1 : 2;

	while (!atomic_load(&s->stop)) {
		int r = poll(p, n, LB_POLL_MS);

		if (r < 0)
			return 0;
		if (r > 0)
			return (p[0].revents & (POLLIN | POLLHUP)) != 0;
	}
	return 0;
}

/*
 * Read one request (headers and a Content-Length body) and copy it to
 * s->got: 1, or 0 when the client closed or we stop.  Read into 'buf'
 * first so that s->got keeps the last complete request while the test
 * looks at it (the client sends the next only after that).
 */
static int lb_read_request(struct lb_server *s, int c)
{
	char buf[sizeof(s->got)];
	size_t n = 0, want = 0;
	char *eoh = NULL;

	for (;;) {
		ssize_t r;

		if (eoh != NULL && n >= want) {
			memcpy(s->got, buf, n + 1);
			return 1;
		}
		if (n >= sizeof(buf) - 1 || !lb_wait(s, c))
			return 0;
		r = read(c, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			return 0;
		n += (size_t)r;
		buf[n] = '\0';
		if (eoh == NULL && (eoh = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "Content-Length:");

			want = (size_t)(eoh + 4 - buf);
			if (cl != NULL && cl < eoh)
				want += (size_t)strtoul(cl + 15, NULL, 10);
		}
	}
}

static void lb_serve_conn(struct lb_server *s, int c)
{
	while (lb_read_request(s, c)) {
		atomic_fetch_add(&s->requests, 1);
		if (s->reply == NULL) {
			/* Silent: hold the connection until the client
			 * gives up or we stop. */
			char b[256];

			while (lb_wait(s, c) && read(c, b, sizeof(b)) > 0)
				;
			return;
		}
		if (write(c, s->reply, strlen(s->reply)) < 0 ||
		    strstr(s->reply, "Connection: close") != NULL)
			return;
	}
}

static void *lb_main(void *arg)
{
	struct lb_server *s = arg;

	while (lb_wait(s, s->fd)) {
		int c = accept(s->fd, NULL, NULL);

		if (c < 0)
			continue;
		atomic_fetch_add(&s->accepts, 1);
		lb_note_cloexec(s, c);
		lb_serve_conn(s, c);
		close(c);
	}
	return NULL;
}

/* Listen on 127.0.0.1:0 and serve 'reply'; 0 or -1. */
static int lb_start(struct lb_server *s, const char *reply)
{
	memset(s, 0, sizeof(*s));
	s->reply = reply;
	atomic_init(&s->stop, 0);
	atomic_init(&s->accepts, 0);
	atomic_init(&s->requests, 0);
	atomic_init(&s->cloexec, -1);
	/* The port before the thread starts: it compares ports against
	 * it. */
	if ((s->fd = listen_loopback(&s->port)) < 0)
		return -1;
	if (pthread_create(&s->thread, NULL, lb_main, s) != 0) {
		close(s->fd);
		return -1;
	}
	return 0;
}

static void lb_stop(struct lb_server *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->fd);
}

#endif
