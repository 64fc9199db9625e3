/*
 * timeutil.c -- monotonic and wall clock helpers (timeutil.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

long long time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long time_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double time_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long time_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_sleep_ms(long long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void time_rfc3339_now(char *buf, size_t len)
{
	/* The seconds part changes once a second and every log line asks
	 * for it: each thread keeps the last one formatted. */
	static _Thread_local time_t cached_sec = -1;
	static _Thread_local char cached[24];
	static _Thread_local size_t cached_len;
	struct timespec now;
	struct tm tm;

	if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
		now.tv_sec = time(NULL);
		now.tv_nsec = 0;
	}
	if (now.tv_sec != cached_sec) {
		if (gmtime_r(&now.tv_sec, &tm) == NULL ||
		    (cached_len = strftime(cached, sizeof(cached),
		    "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
			cached_sec = -1;
			snprintf(buf, len, "1970-01-01T00:00:00.000Z");
			return;
		}
		cached_sec = now.tv_sec;
	}
	if (len >= cached_len + 6) {
		long ms = now.tv_nsec / 1000000L;

		memcpy(buf, cached, cached_len);
		buf[cached_len] = '.';
		buf[cached_len + 1] = (char)('0' + ms / 100);
		buf[cached_len + 2] = (char)('0' + ms / 10 % 10);
		buf[cached_len + 3] = (char)('0' + ms % 10);
		buf[cached_len + 4] = 'Z';
		buf[cached_len + 5] = '\0';
	} else {
		snprintf(buf, len, "%.*s.%03ldZ", (int)cached_len, cached,
		    now.tv_nsec / 1000000L);
	}
}
