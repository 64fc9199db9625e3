/*
 * handlers.c -- per-process set-up of the handler modules, run in each
 * worker after fork so that no connection or thread-local state is shared
 * between processes.
 */
#include "handlers.h"

int handlers_init(const struct omni_config *cfg, char *err, size_t errlen)
{
	if (sandbox_handlers_init(cfg, err, errlen) != 0)
		return -1;
	if (inngest_handlers_init(cfg, err, errlen) != 0) {
		sandbox_handlers_fini();
		return -1;
	}
	return 0;
}

void handlers_fini(void)
{
	inngest_handlers_fini();
	sandbox_handlers_fini();
}

int handlers_preflight(const struct omni_config *cfg, char *err,
    size_t errlen)
{
	int rc = handlers_init(cfg, err, errlen);

	handlers_fini();
	return rc;
}
