/*
 * omni_worker.h -- the worker context: everything one worker process
 * makes after fork and hands to every request it serves.
 *
 * One struct omni_worker per worker process, built by omni_worker_open()
 * before the serving threads start and released by omni_worker_close()
 * after they have stopped.  The HTTP layer carries it opaquely
 * (http_request.worker); handlers reach it with omni_worker_of(req) and
 * reach no global of their own, so a test can build as many contexts as
 * it likes, side by side.
 *
 * Threads: after open the context is shared read-only by the worker's
 * threads, except for the /ready caches, which have their own locks.  Every
 * handle inside is itself thread safe (sandbox.h, inngest.h).
 *
 * Ownership: 'cfg' is borrowed (the master's, it outlives every worker);
 * the sandbox provider and the Inngest app are owned by the context.  The
 * rate-limit table is not here: the HTTP layer applies it before any
 * handler runs (struct fcgi_site, rate_gate.h).
 */
#ifndef OMNI_WORKER_CTX_H
#define OMNI_WORKER_CTX_H

#include <pthread.h>
#include <stddef.h>

#include "http.h"

struct ing_app;
struct omni_config;
struct sbx_provider;

/* One of /ready's slow checks, cached (omni_ready_cached, handlers.h):
 * the provider's (handlers/sandbox.c) and the egress probe's
 * (handlers/health.c). */
struct omni_ready_cache {
	pthread_mutex_t mu;
	long long checked_ms;   /* monotonic; 0: never */
	int checking;           /* a thread is asking the provider */
	int ok;
	char detail[160];
};

struct omni_worker {
	const struct omni_config *cfg;  /* borrowed */
	struct sbx_provider *sandbox;   /* owned; NULL until opened */
	struct ing_app *inngest;        /* owned; NULL until opened */
	struct omni_ready_cache ready;   /* the sandbox provider check */
	struct omni_ready_cache egress;  /* OMNI_EGRESS_PROBE */
};

/*
 * Make the context of one worker: the sandbox provider chosen by
 * cfg->provider and the Inngest app with its functions.  0 on success; -1 with one line in 'err' (which part failed and
 * what to check), and nothing left to release.
 */
int omni_worker_open(struct omni_worker *w, const struct omni_config *cfg,
    char *err, size_t errlen);

/* Release what omni_worker_open made; 'w' may be zeroed or NULL. */
void omni_worker_close(struct omni_worker *w);

/* The same on the heap, in the shape struct worker_service (worker.h)
 * wants: NULL with 'err' filled on failure; omni_worker_free(NULL) is a
 * no-op. */
void *omni_worker_new(const struct omni_config *cfg, char *err,
    size_t errlen);
void omni_worker_free(void *w);

/* The context a request is served with (NULL outside a worker).  Inline,
 * so that a handler reading it depends on this header only, not on the
 * wiring that builds the context (handlers/worker_ctx.c). */
static inline struct omni_worker *omni_worker_of(
    const struct http_request *req)
{
	return req != NULL ? (struct omni_worker *)req->app : NULL;
}

#endif
