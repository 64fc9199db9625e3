/*
 * worker.h -- one worker process: T threads, each in an FCGX_Accept_r
 * loop on a shared listening socket.
 *
 * A worker is forked by the pool master (pool.h), or is the whole process
 * when spawn-fcgi started Omni with the listening socket on fd 0.  It runs
 * until SIGTERM or SIGINT, then drains: it stops accepting, lets the
 * requests in flight finish (bounded by cfg->shutdown_timeout) and returns.
 */
#ifndef OMNI_WORKER_H
#define OMNI_WORKER_H

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
	void *(*open)(const struct omni_config *cfg,
	    struct rl_table *ratelimit, char *err, size_t errlen);
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

#endif
