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

struct omni_config;
struct rl_table;

/*
 * Serve 'listen_fd' with cfg->threads threads until told to stop.
 * 'ratelimit' (borrowed, may be NULL: nothing is limited) is the shared
 * rate-limit table (ratelimit.h) made before the fork, so that every
 * worker counts in the same memory.
 * 'ready_fd' (or -1) receives this process's pid as an int once every
 * thread is accepting, which is how the master knows a replacement is up.
 * Returns the process exit status: 0 after a clean drain, 1 if the drain
 * timed out or set-up failed.
 */
int worker_run(int listen_fd, const struct omni_config *cfg,
    struct rl_table *ratelimit, int ready_fd);

#endif
