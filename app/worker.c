/*
 * worker.c -- a worker process: T threads in FCGX_Accept_r loops.
 *
 * Stopping a thread that is blocked in accept(2) is the delicate part.
 * libfcgi retries an interrupted accept unless the request was set up with
 * FCGI_FAIL_ACCEPT_ON_INTR, and a process-directed signal wakes only one
 * thread.  So the main thread, once told to stop, calls
 * FCGX_ShutdownPending() and sends SIGUSR1 (installed without SA_RESTART)
 * to each thread that is waiting for a request, again every few
 * milliseconds until all have returned: a thread that was between its
 * check of the stop flag and the accept call is caught by the next round.
 * Threads busy with a request are never signalled, so their I/O is not
 * interrupted; they finish the request and then see the flag.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "config.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "log.h"
#include "worker.h"

#define WAKE_INTERVAL_MS 20

struct thread_slot {
	pthread_t tid;
	atomic_int waiting;   /* in FCGX_Accept_r: safe to interrupt */
	atomic_int done;      /* the loop has returned */
};

/* One worker per process: the signal handler needs to reach it. */
static struct {
	const struct omni_config *cfg;
	int listen_fd;
	atomic_int stopping;
	int signal_pipe[2];
} self = { .signal_pipe = { -1, -1 } };

static void on_stop_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	atomic_store(&self.stopping, 1);
	FCGX_ShutdownPending();
	if (write(self.signal_pipe[1], &b, 1) < 0) {
		/* The flag is set and the main thread polls it anyway. */
	}
	errno = saved;
}

/* SIGUSR1 only interrupts a blocking call; the flag says why. */
static void on_wake_signal(int sig)
{
	(void)sig;
}

static int install(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: accept must return EINTR */
	return sigaction(sig, &sa, NULL);
}

static void *thread_main(void *arg)
{
	struct thread_slot *slot = arg;
	FCGX_Request fr;

	if (FCGX_InitRequest(&fr, self.listen_fd,
	    FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_msg(LOG_ERROR, "worker_thread_error",
		    "FCGX_InitRequest failed");
		atomic_store(&slot->done, 1);
		return NULL;
	}
	while (!atomic_load(&self.stopping)) {
		int rc;

		atomic_store(&slot->waiting, 1);
		if (atomic_load(&self.stopping)) {
			atomic_store(&slot->waiting, 0);
			break;
		}
		rc = FCGX_Accept_r(&fr);
		atomic_store(&slot->waiting, 0);
		if (rc < 0) {
			if (atomic_load(&self.stopping) || rc == -EINTR)
				continue;
			log_msg(LOG_ERROR, "accept_error",
			    "FCGX_Accept_r failed: %s", strerror(-rc));
			/* A lasting error (EMFILE) must not spin. */
			usleep(100000);
			continue;
		}
		fcgi_serve(&fr, self.cfg);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	atomic_store(&slot->done, 1);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wake the idle threads until all have returned or 'deadline' passes.
 * Returns the number still running. */
static int drain(struct thread_slot *slots, int n, double deadline)
{
	for (;;) {
		int running = 0;

		for (int i = 0; i < n; i++) {
			if (atomic_load(&slots[i].done))
				continue;
			running++;
			if (atomic_load(&slots[i].waiting))
				pthread_kill(slots[i].tid, SIGUSR1);
		}
		if (running == 0 || now_s() >= deadline)
			return running;
		poll(NULL, 0, WAKE_INTERVAL_MS);
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

static void wait_for_stop(void)
{
	struct pollfd pfd = { .fd = self.signal_pipe[0], .events = POLLIN };

	while (!atomic_load(&self.stopping)) {
		unsigned char b;

		if (poll(&pfd, 1, 1000) > 0 &&
		    read(self.signal_pipe[0], &b, 1) < 0 && errno != EINTR)
			break;
	}
}

int worker_run(int listen_fd, const struct omni_config *cfg, int ready_fd)
{
	struct thread_slot *slots;
	char err[256];
	int n = cfg->threads, started = 0, left, status = 0;
	double t0;
	struct json_object *line;

	self.cfg = cfg;
	self.listen_fd = listen_fd;
	if (pipe(self.signal_pipe) != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN); /* the master reloads, not the worker */
	if (install(SIGTERM, on_stop_signal) != 0 ||
	    install(SIGINT, on_stop_signal) != 0 ||
	    install(SIGUSR1, on_wake_signal) != 0)
		return 1;
	if (FCGX_Init() != 0) {
		log_msg(LOG_ERROR, "worker_init_failed", "FCGX_Init failed");
		return 1;
	}
	if (handlers_init(cfg, err, sizeof(err)) != 0) {
		log_msg(LOG_ERROR, "worker_init_failed", "%s", err);
		return 1;
	}
	if ((slots = calloc((size_t)n, sizeof(*slots))) == NULL) {
		handlers_fini();
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
		FCGX_ShutdownPending();
		status = 1;
	} else {
		if ((line = log_begin(LOG_INFO, "worker_ready")) != NULL) {
			json_object_object_add(line, "threads",
			    json_object_new_int(n));
			log_end(line);
		}
		announce_ready(ready_fd);
		wait_for_stop();
	}

	t0 = now_s();
	log_msg(LOG_INFO, "worker_drain", "stopped accepting");
	left = drain(slots, started, t0 + cfg->shutdown_timeout);
	if ((line = log_begin(left ? LOG_WARN : LOG_INFO,
	    left ? "worker_drain_timeout" : "worker_drained")) != NULL) {
		json_object_object_add(line, "duration_ms",
		    json_object_new_int64((int64_t)((now_s() - t0) * 1000)));
		json_object_object_add(line, "threads_busy",
		    json_object_new_int(left));
		log_end(line);
	}
	if (left > 0)
		return 1; /* threads still hold requests: exit without joining */
	for (int i = 0; i < started; i++)
		pthread_join(slots[i].tid, NULL);
	free(slots);
	handlers_fini();
	return status;
}
