/*
 * exec_duration.h -- durations and times for the local executor
 * (app/executor/duration.c): how long a Sleep, a WaitForEvent or a
 * cancellation window lasts.
 */
#ifndef OMNI_EXEC_DURATION_H
#define OMNI_EXEC_DURATION_H

#include <stdint.h>

/*
 * Durations and times, as the SDKs write them in Sleep and WaitForEvent
 * ops: a Go-style duration ("1m30s", "250ms", "2h", "1.5s"; units ns us
 * ms s m h d w, at least one) or an RFC 3339 time ("2026-12-03T10:00:00Z",
 * "...+01:00", fractional seconds allowed), which counts from 'now_ms'
 * (epoch ms) and is clamped at 0 when past.  Stores milliseconds in
 * '*out'.  Returns 0, or -1 for anything else (empty, negative, junk
 * after the number, over 10 years).
 */
int exec_duration_ms(const char *text, int64_t now_ms, int64_t *out);

#endif
