/*
 * worker.h -- one worker process: T threads, each in an FCGX_Accept_r
 * loop on a shared listening socket.
 *
 * A worker is forked by the pool master (pool.h), or is the whole process
 * when spawn-fcgi started Omni with the listening socket on fd 0.  It runs
 * until SIGTERM or SIGINT, then drains: it stops accepting, lets the
 * requests in flight finish (bounded by cfg->shutdown_timeout) and returns.
 *
 * Signals: SIGTERM and SIGINT are blocked in every thread and taken by the
 * main thread with sigwait(2), so no serving thread's I/O (libfcgi,
 * libcurl) is ever interrupted by them.  A stop signal that arrives while
 * the worker starts up stays pending and drains it once its threads run;
 * for that the caller blocks them before fork (pool.c) or as the first
 * thing in the process (main.c, spawn-fcgi mode).  Anything the worker
 * executes must clear the mask in its child (the local sandbox does).
 */
#ifndef OMNI_WORKER_H
#define OMNI_WORKER_H

#include <signal.h>
#include <stddef.h>

struct omni_config;
struct rl_table;
struct route;

/*
 * What a worker serves, given by the program above the process model
 * (main.c passes Omni's, handlers.h): the route table (router.h) and the
 * per-process context every request carries (http_request.app).
 * open() runs in the worker after fork, before any thread starts; it
 * returns the context or NULL with one line in 'err'.  close() runs after
 * the last thread has stopped.  The master runs open() and close() once
 * before forking, so that a configuration that cannot work stops start-up
 * with one line instead of workers that die and restart.
 */
struct worker_service {
	const struct route *routes;
	size_t nroutes;
	void *(*open)(const struct omni_config *cfg, char *err,
	    size_t errlen);
	void (*close)(void *app);
};

/* The master's check: open() and close() once; 0, or -1 with 'err'. */
int worker_service_preflight(const struct worker_service *svc,
    const struct omni_config *cfg, char *err, size_t errlen);

/*
 * Serve 'svc' on 'listen_fd' with cfg->threads threads until told to
 * stop.
 * 'ratelimit' (borrowed, may be NULL: nothing is limited) is the shared
 * rate-limit table (ratelimit.h) made before the fork, so that every
 * worker counts in the same memory.
 * 'ready_fd' (or -1) receives this process's pid as an int once every
 * thread is accepting, which is how the master knows a replacement is up.
 * Returns the process exit status: 0 after a clean drain, 1 if the drain
 * timed out or set-up failed.
 */
int worker_run(int listen_fd, const struct omni_config *cfg,
    const struct worker_service *svc, struct rl_table *ratelimit,
    int ready_fd);

/* Fill 'set' with the signals that stop a worker: SIGTERM and SIGINT. */
void worker_stop_signals(sigset_t *set);

/*
 * Block the stop signals in the calling thread (and so in the threads it
 * creates later) and make sure they are not ignored, since an ignored
 * signal is discarded even while blocked.  Returns 0 or -1.  worker_run()
 * calls it first; a caller blocks them earlier to cover its own set-up.
 */
int worker_block_stop_signals(void);

/*
 * For tests only, NULL otherwise: called with the name of each point of a
 * worker's start-up ("pool_forked", "pool_child" in pool.c, then
 * "worker_begin", "worker_setup", "worker_handlers", "worker_threads",
 * "worker_ready") and, on a serving thread, "serving" before each request
 * is handled.  A function pointer rather than an environment variable so
 * that nothing outside the test binary can turn it on.
 */
extern void (*worker_test_hook)(const char *point);

#endif
