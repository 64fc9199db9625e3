/*
 * metrics_internal.h -- the layout of the shared region (metrics.h),
 * shared by the counting side (region.c) and the exposition (render.c)
 * only.
 */
#ifndef OMNI_METRICS_INTERNAL_H
#define OMNI_METRICS_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "metrics.h"

/* Counters are shared between processes: they must not fall back to a
 * lock that lives in one process's memory. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics are lock free");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "int atomics are lock free");

typedef _Atomic uint64_t met_counter;

/* Upper bounds of the duration buckets, in microseconds, from 1 ms to
 * two minutes: requests sit at the low end, sandbox creates and waits
 * for readiness at the high end. */
#define MET_BUCKETS 16
extern const long long met_bucket_us[MET_BUCKETS];

struct met_hist {
	met_counter bucket[MET_BUCKETS + 1]; /* not cumulative; last: +Inf */
	met_counter sum_us;
	met_counter count;
};

/* Fixed label sets. */
#define MET_METHODS 8        /* GET HEAD POST PUT DELETE OPTIONS PATCH other */
#define MET_CLASSES 5        /* 1xx .. 5xx */
#define MET_PROVIDERS 3      /* local daytona other */
#define MET_OUTCOMES 2       /* ok error */
#define MET_CALL_OUTCOMES 5  /* completed steps failed error other */
extern const char *const met_method_names[MET_METHODS];
extern const char *const met_provider_names[MET_PROVIDERS];
extern const char *const met_sbx_op_names[METRICS_SBX__MAX];
extern const char *const met_call_outcome_names[MET_CALL_OUTCOMES];

/* A function id's slot: 0 empty, 1 being written, 2 ready to read. */
struct met_function {
	_Atomic int state;
	char name[METRICS_LABEL_MAX];
	met_counter calls[MET_CALL_OUTCOMES];
};

struct metrics {
	uint64_t magic;
	size_t mapped;
	_Atomic int enabled;
	long long start_time;
	char version[METRICS_LABEL_MAX];
	char revision[METRICS_LABEL_MAX];

	/* Route labels: distinct paths, then "unmatched" at npaths. */
	size_t npaths;
	size_t nrows;
	char path[METRICS_ROUTES_MAX][METRICS_LABEL_MAX];
	unsigned char row_path[METRICS_ROWS_MAX];

	met_counter requests[METRICS_ROUTES_MAX + 1][MET_METHODS][MET_CLASSES];
	struct met_hist duration[METRICS_ROUTES_MAX + 1];
	struct met_hist sandbox[METRICS_SBX__MAX][MET_PROVIDERS][MET_OUTCOMES];

	struct met_function fn[METRICS_FUNCTIONS_MAX];
	met_counter fn_other[MET_CALL_OUTCOMES]; /* the table was full */

	met_counter events[MET_OUTCOMES];
	met_counter daytona_retries;
	met_counter daytona_429;
	met_counter rate_limited[2][METRICS_LIMIT__MAX]; /* general, strict */

	_Atomic int64_t workers_alive;
	met_counter worker_restarts;
	_Atomic int draining;
};

#endif
