/*
 * factory.c -- the one place that knows every provider: SANDBOX_PROVIDER
 * picks which one sbx_provider_new() makes.  Nothing else in the sandbox
 * module names a provider, and the providers include nothing of it, so the
 * arrows run one way: factory -> providers -> the helpers of sandbox.c.
 */
#include <stddef.h>

#include "config.h"
#include "sandbox.h"
#include "sandbox_daytona.h"
#include "sandbox_local.h"

enum sbx_err sbx_provider_new(const struct omni_config *cfg,
    struct sbx_provider **out, char *detail, size_t detail_len)
{
	if (detail != NULL && detail_len > 0)
		detail[0] = '\0';
	if (out == NULL)
		return SBX_EINVAL;
	*out = NULL;
	if (cfg == NULL)
		return SBX_EINVAL;
	switch (cfg->provider) {
	case CFG_PROVIDER_LOCAL:
		return sbx_local_new(cfg, out, detail, detail_len);
	case CFG_PROVIDER_DAYTONA:
		return sbx_daytona_new(cfg, out);
	default:
		return SBX_EINVAL;
	}
}

void sbx_provider_free(struct sbx_provider *p)
{
	if (p != NULL && p->ops != NULL && p->ops->destroy != NULL)
		p->ops->destroy(p);
}
