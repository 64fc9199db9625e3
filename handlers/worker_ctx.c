/*
 * worker_ctx.c -- the wiring of the worker context (omni_worker.h): which
 * handler module makes which part, in which order, and the service
 * description (worker.h) through which the process model, which knows
 * nothing of handlers, opens one context per worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "omni_worker.h"

int omni_worker_open(struct omni_worker *w, const struct omni_config *cfg,
    char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	pthread_mutex_init(&w->ready.mu, NULL);
	pthread_mutex_init(&w->egress.mu, NULL);
	if (sandbox_handlers_init(w, err, errlen) != 0)
		goto fail;
	if (inngest_handlers_init(w, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	omni_worker_close(w);
	return -1;
}

void omni_worker_close(struct omni_worker *w)
{
	if (w == NULL || w->cfg == NULL)
		return;
	inngest_handlers_fini(w);
	sandbox_handlers_fini(w);
	pthread_mutex_destroy(&w->ready.mu);
	pthread_mutex_destroy(&w->egress.mu);
	memset(w, 0, sizeof(*w));
}

void *omni_worker_new(const struct omni_config *cfg, char *err,
    size_t errlen)
{
	struct omni_worker *w = malloc(sizeof(*w));

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (omni_worker_open(w, cfg, err, errlen) != 0) {
		free(w);
		return NULL;
	}
	return w;
}

void omni_worker_free(void *w)
{
	omni_worker_close(w);
	free(w);
}
