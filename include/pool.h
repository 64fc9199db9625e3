/*
 * pool.h -- the master process: binds the listening socket, forks and
 * supervises the workers (worker.h).
 *
 *   - a worker that dies is replaced, after a backoff that doubles while
 *     workers keep dying young (logged as worker_exit / worker_restart);
 *   - SIGTERM or SIGINT: stop accepting, let every worker drain, exit 0;
 *   - SIGHUP: re-read the configuration (env file and environment) and
 *     replace the workers one at a time, each old one retired only once
 *     its replacement accepts, so no request is refused; a configuration
 *     that does not validate is logged and the old one kept.
 *
 * The master's handlers only write the signal number to a self-pipe; its
 * loop does the work.  It forks with those signals blocked, and the child
 * drops the master's handlers before unblocking any, so a signal in the
 * fork window is never handled as the master's (nor lost): a SIGTERM is
 * held until the worker takes it and drains (worker.h).
 */
#ifndef OMNI_POOL_H
#define OMNI_POOL_H

#include <stddef.h>

struct metrics;
struct omni_config;
struct worker_service;

struct pool_opts {
	const struct worker_service *service; /* what the workers serve */
	const char *listen;     /* "unix:/path" or "host:port" */
	const char *env_file;   /* --env-file, NULL if none */
	int workers;            /* --workers, 0 = from configuration */
	int threads;            /* --threads, 0 = from configuration */
};

/*
 * Parse and bind 'spec' ("unix:PATH" or "HOST:PORT").  Returns the
 * listening fd or -1 with a reason in 'err'.  A stale unix socket file is
 * replaced.
 */
int pool_listen(const char *spec, char *err, size_t errlen);

/*
 * Run the master until it is told to stop.  Takes ownership of 'cfg'
 * (it is replaced on reload and freed at the end).  Returns the exit
 * status for main().
 */
int pool_run(const struct pool_opts *opts, struct omni_config *cfg);

/*
 * Make the machine's metrics region for 'svc's routes (metrics.h),
 * enabled as cfg->metrics says, with the build info and start time, and
 * install it in this process -- so in every process forked after.
 * pool_run() calls it; main.c too when spawn-fcgi made the process the
 * only worker.  0, or -1 with one line in 'err'.
 */
int pool_metrics_open(const struct worker_service *svc,
    const struct omni_config *cfg, struct metrics **out, char *err,
    size_t errlen);

#endif
