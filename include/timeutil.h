/*
 * timeutil.h -- the clock helpers every module needs, in one place.
 *
 * Monotonic time measures durations and deadlines (it never jumps with
 * the wall clock); real time is only for timestamps shown to people and
 * peers.  All functions are thread safe and allocate nothing.
 */
#ifndef OMNI_TIMEUTIL_H
#define OMNI_TIMEUTIL_H

#include <stddef.h>

/* Monotonic clock in milliseconds / microseconds / seconds, for
 * durations. */
long long time_mono_ms(void);
long long time_mono_us(void);
double time_mono_s(void);

/* Wall clock in milliseconds since the epoch. */
long long time_real_ms(void);

/* Sleep 'ms' milliseconds, resuming after signals. */
void time_sleep_ms(long long ms);

/* The current UTC time as RFC 3339 with milliseconds,
 * "2026-11-29T10:00:00.123Z", into 'buf' of at least TIME_RFC3339_LEN. */
#define TIME_RFC3339_LEN 25
void time_rfc3339_now(char *buf, size_t len);

#endif
