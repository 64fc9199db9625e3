/*
 * env_clear.h -- for the unit tests that load the configuration from the
 * environment (test_config.c, test_envfile.c): unset every variable Omni
 * reads, and any stray OMNI_* (an unknown one would produce a warning),
 * so that each test starts from the same empty environment.
 * Header-only: include it from one test file per binary.
 */
#ifndef OMNI_TEST_ENV_CLEAR_H
#define OMNI_TEST_ENV_CLEAR_H

#include <stdlib.h>
#include <string.h>

extern char **environ;

static const char *const env_clear_names[] = {
	"OMNI_ENV", "PORT", "LOG_LEVEL", "OMNI_WORKERS", "OMNI_THREADS",
	"OMNI_MAX_BODY", "OMNI_SHUTDOWN_TIMEOUT", "OMNI_ALLOWED_ORIGINS",
	"OMNI_DEBUG_ROUTES", "SANDBOX_PROVIDER", "OMNI_DATA_DIR",
	"OMNI_LOCAL_UNSANDBOXED", "DAYTONA_API_URL", "DAYTONA_API_KEY",
	"DAYTONA_API_KEY_FALLBACK", "DAYTONA_API_KEY_FILE", "DAYTONA_SNAPSHOT",
	"DAYTONA_TARGET", "DAYTONA_ORGANIZATION_ID", "INNGEST_APP_ID",
	"INNGEST_SIGNING_KEY", "INNGEST_SIGNING_KEY_FALLBACK",
	"INNGEST_EVENT_KEY", "INNGEST_ENV", "INNGEST_DEV", "INNGEST_BASE_URL",
	"INNGEST_API_ORIGIN", "INNGEST_EVENT_API_ORIGIN",
	"INNGEST_SERVE_ORIGIN", "INNGEST_SERVE_PATH", "OMNI_EVENT_PREFIX",
	"OMNI_AGENT_CMD", "OMNI_AUTH", "JWT_SECRET", "RATE_LIMIT_RPM",
};

/* Unset the names above, then each 'extra' name (NULL-terminated list,
 * or NULL), then every OMNI_* left. */
static void env_clear(const char *const *extra)
{
	for (size_t i = 0; i < sizeof(env_clear_names) /
	    sizeof(env_clear_names[0]); i++)
		unsetenv(env_clear_names[i]);
	for (; extra != NULL && *extra != NULL; extra++)
		unsetenv(*extra);
	for (;;) {
		char name[256] = "";

		for (char **e = environ; *e != NULL; e++) {
			if (strncmp(*e, "OMNI_", 5) == 0) {
				size_t n = strcspn(*e, "=");

				if (n < sizeof(name)) {
					memcpy(name, *e, n);
					name[n] = '\0';
				}
				break;
			}
		}
		if (name[0] == '\0')
			break;
		unsetenv(name);
	}
}

#endif
