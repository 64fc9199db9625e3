/*
 * worker.c -- a worker process: T threads serving FastCGI connections.
 *
 * Omni accepts connections itself and hands each one to libfcgi, rather
 * than letting FCGX_Accept_r accept.  libfcgi's accept cannot be stopped
 * cleanly: after accepting a unix-socket connection it waits up to 2 s for
 * the connection to become readable, and a signal that interrupts that wait
 * (the usual way to wake a thread blocked in accept) makes it close the
 * connection, which the front server reports as a 502; with
 * FCGX_ShutdownPending() set it can then loop on a stale descriptor.
 *
 * So each thread waits with poll(2) on either the listening socket (one
 * thread per process at a time, under accept_lock, to avoid a thundering
 * herd) or its kept-alive connection, and in both cases on a wake pipe too.
 * To stop, the main thread writes to the wake pipe: threads waiting for a
 * connection return at once; a thread on a kept-alive connection serves a
 * request that is already there, otherwise closes the idle connection;
 * threads busy with a request finish it first.
 *
 * No signal interrupts any request's I/O: SIGTERM and SIGINT are blocked
 * before the first thread is created, so every serving thread (and any
 * thread libcurl starts from one) inherits the mask, and the main thread
 * alone takes them, synchronously, with sigwait(2).  No handler is
 * installed for them, so libfcgi and libcurl never see EINTR from a stop.
 * SIGPIPE and SIGHUP are ignored (ignored signals interrupt nothing).
 * Under the pool the master forks with the signals already blocked
 * (pool.c), so a SIGTERM that arrives at any point of the start-up stays
 * pending and drains the worker as soon as its threads run.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "config.h"
#include "fcgi_io.h"
#include "log.h"
#include "timeutil.h"
#include "worker.h"

#define DRAIN_POLL_MS 20
#define ACCEPT_ERROR_PAUSE_MS 100

struct thread_slot {
	pthread_t tid;
	atomic_int done;      /* the loop has returned */
};

void (*worker_test_hook)(const char *point);

/* One worker per process, shared by its threads. */
static struct {
	const struct omni_config *cfg;
	const struct worker_service *svc;
	struct fcgi_site site;    /* what every request is served over */
	int listen_fd;
	atomic_int stopping;
	int wake_pipe[2];     /* main thread -> every serving thread */
	pthread_mutex_t accept_lock;
} self = {
	.wake_pipe = { -1, -1 },
	.accept_lock = PTHREAD_MUTEX_INITIALIZER,
};

static void test_point(const char *point)
{
	if (worker_test_hook != NULL)
		worker_test_hook(point);
}

void worker_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

int worker_block_stop_signals(void)
{
	sigset_t stop;
	struct sigaction sa;

	worker_stop_signals(&stop);
	if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0)
		return -1;
	/* A signal whose disposition is SIG_IGN is discarded when sent, even
	 * while blocked, so sigwait would never see it: make sure neither is
	 * ignored (a launcher may have left them so). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0)
		return -1;
	return 0;
}

/* Wait until 'fd' is readable (1) or the worker is stopping (0).  The wake
 * pipe is never drained, so once written it wakes every waiter. */
static int wait_readable(int fd)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = self.wake_pipe[0], .events = POLLIN },
	};

	for (;;) {
		if (atomic_load(&self.stopping))
			return 0;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (p[1].revents != 0)
			return 0;
		if (p[0].revents != 0)
			return 1;
	}
}

/* Accept one connection into 'fr'.  Returns 0, or -1 when stopping. */
static int accept_connection(FCGX_Request *fr)
{
	for (;;) {
		int fd = -1, err = 0;

		pthread_mutex_lock(&self.accept_lock);
		if (wait_readable(self.listen_fd)) {
			fd = accept4(self.listen_fd, NULL, NULL, SOCK_CLOEXEC);
			err = errno;
		}
		pthread_mutex_unlock(&self.accept_lock);
		if (fd >= 0) {
			fr->ipcFd = fd;
			/* Otherwise FCGX_Accept_r would close it on entry, as
			 * the end of a previous, not kept-alive, request. */
			fr->keepConnection = 1;
			return 0;
		}
		if (atomic_load(&self.stopping))
			return -1;
		/* Another process took it (EAGAIN) or the client left: try
		 * again.  A lasting error (EMFILE) must not spin. */
		if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR &&
		    err != ECONNABORTED) {
			log_msg(LOG_ERROR, "accept_error", "accept: %s",
			    strerror(err));
			time_sleep_ms(ACCEPT_ERROR_PAUSE_MS);
		}
	}
}

/* On a kept-alive connection: 1 when a request is there to serve, 0 when
 * the worker is stopping and the connection is idle. */
static int next_request_ready(FCGX_Request *fr)
{
	struct pollfd p = { .fd = fr->ipcFd, .events = POLLIN };

	if (wait_readable(fr->ipcFd))
		return 1;
	/* Stopping: a request the front server already sent is served, so
	 * it is not lost; an idle connection is closed. */
	return poll(&p, 1, 0) > 0;
}

static void *thread_main(void *arg)
{
	struct thread_slot *slot = arg;
	FCGX_Request fr;

	if (FCGX_InitRequest(&fr, self.listen_fd, 0) != 0) {
		log_msg(LOG_ERROR, "worker_thread_error",
		    "FCGX_InitRequest failed");
		atomic_store(&slot->done, 1);
		return NULL;
	}
	for (;;) {
		if (fr.ipcFd < 0) {
			if (accept_connection(&fr) != 0)
				break;
		} else if (!next_request_ready(&fr)) {
			break;
		}
		/* The connection is readable: libfcgi reads the request from
		 * it; it answers < 0 when the peer closed, and then has
		 * closed the connection itself. */
		if (FCGX_Accept_r(&fr) < 0)
			continue;
		test_point("serving");
		fcgi_serve(&fr, &self.site);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	atomic_store(&slot->done, 1);
	return NULL;
}

/* Wait until every thread has returned or 'deadline' passes.  Returns the
 * number still running. */
static int drain(struct thread_slot *slots, int n, double deadline)
{
	for (;;) {
		int running = 0;

		for (int i = 0; i < n; i++)
			running += !atomic_load(&slots[i].done);
		if (running == 0 || time_mono_s() >= deadline)
			return running;
		time_sleep_ms(DRAIN_POLL_MS);
	}
}

static void announce_ready(int ready_fd)
{
	int pid = (int)getpid();

	if (ready_fd < 0)
		return;
	/* An int is below PIPE_BUF, so the write is atomic on the pipe
	 * that all workers share with the master. */
	if (write(ready_fd, &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
		log_msg(LOG_WARN, "worker_ready_lost",
		    "could not tell the master this worker is ready");
	close(ready_fd);
}

/* Block until SIGTERM or SIGINT; one already pending returns at once. */
static int wait_for_stop(void)
{
	sigset_t stop;
	int sig = 0;

	worker_stop_signals(&stop);
	while (sigwait(&stop, &sig) != 0) {
		/* Only EINVAL is possible, and the set is valid. */
	}
	atomic_store(&self.stopping, 1);
	return sig;
}

static int setup(int listen_fd, const struct omni_config *cfg)
{
	int flags;

	self.cfg = cfg;
	self.listen_fd = listen_fd;
	if (pipe2(self.wake_pipe, O_CLOEXEC) != 0)
		return -1;
	/* Non-blocking: the process that loses the race for a connection
	 * gets EAGAIN instead of blocking in accept. */
	flags = fcntl(listen_fd, F_GETFL);
	if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN); /* the master reloads, not the worker */
	if (FCGX_Init() != 0) {
		log_msg(LOG_ERROR, "worker_init_failed", "FCGX_Init failed");
		return -1;
	}
	return 0;
}

static void log_drained(int left, double t0)
{
	struct json_object *line = log_begin(left ? LOG_WARN : LOG_INFO,
	    left ? "worker_drain_timeout" : "worker_drained");

	if (line == NULL)
		return;
	json_object_object_add(line, "duration_ms",
	    json_object_new_int64((int64_t)((time_mono_s() - t0) * 1000)));
	json_object_object_add(line, "threads_busy", json_object_new_int(left));
	log_end(line);
}

int worker_service_preflight(const struct worker_service *svc,
    const struct omni_config *cfg, char *err, size_t errlen)
{
	void *app = svc->open(cfg, err, errlen);

	if (app == NULL)
		return -1;
	svc->close(app);
	return 0;
}

int worker_run(int listen_fd, const struct omni_config *cfg,
    const struct worker_service *svc, struct rl_table *ratelimit,
    int ready_fd)
{
	struct thread_slot *slots;
	struct json_object *line;
	char err[256];
	int n = cfg->threads, started = 0, left, status = 0, sig;
	double t0;

	test_point("worker_begin");
	/* First, before any thread exists: every thread created below
	 * inherits the mask. */
	if (worker_block_stop_signals() != 0 || setup(listen_fd, cfg) != 0)
		return 1;
	test_point("worker_setup");
	self.svc = svc;
	self.site.cfg = cfg;
	self.site.routes = svc->routes;
	self.site.nroutes = svc->nroutes;
	self.site.ratelimit = ratelimit;
	if ((self.site.app = svc->open(cfg, err, sizeof(err))) == NULL) {
		log_msg(LOG_ERROR, "worker_init_failed", "%s", err);
		return 1;
	}
	test_point("worker_handlers");
	if ((slots = calloc((size_t)n, sizeof(*slots))) == NULL) {
		svc->close(self.site.app);
		return 1;
	}
	for (; started < n; started++)
		if (pthread_create(&slots[started].tid, NULL, thread_main,
		    &slots[started]) != 0)
			break;
	if (started < n) {
		log_msg(LOG_ERROR, "worker_init_failed",
		    "started %d of %d threads", started, n);
		atomic_store(&self.stopping, 1);
		status = 1;
	} else {
		if ((line = log_begin(LOG_INFO, "worker_ready")) != NULL) {
			json_object_object_add(line, "threads",
			    json_object_new_int(n));
			log_end(line);
		}
		test_point("worker_threads");
		announce_ready(ready_fd);
		test_point("worker_ready");
		sig = wait_for_stop();
		log_msg(LOG_INFO, "worker_drain", "signal %d: stopped "
		    "accepting", sig);
	}

	t0 = time_mono_s();
	if (write(self.wake_pipe[1], "x", 1) < 0)
		log_msg(LOG_ERROR, "worker_drain", "cannot wake threads");
	left = drain(slots, started, t0 + cfg->shutdown_timeout);
	log_drained(left, t0);
	if (left > 0)
		return 1; /* threads still hold requests: exit without joining */
	for (int i = 0; i < started; i++)
		pthread_join(slots[i].tid, NULL);
	free(slots);
	svc->close(self.site.app);
	self.site.app = NULL;
	return status;
}
