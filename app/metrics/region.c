/*
 * region.c -- the shared region of counters (metrics.h): making it, and
 * every count the rest of Omni makes in it.
 */
#include <string.h>
#include <sys/mman.h>

#include "metrics_internal.h"
#include "router.h"

#define MET_MAGIC 0x6f6d6e696d657431ULL /* "omnimet1" */

const long long met_bucket_us[MET_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000, 120000000,
};

const char *const met_method_names[MET_METHODS] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "other",
};

const char *const met_provider_names[MET_PROVIDERS] = {
	"local", "daytona", "other",
};

const char *const met_sbx_op_names[METRICS_SBX__MAX] = {
	[METRICS_SBX_CREATE] = "create",
	[METRICS_SBX_START] = "start",
	[METRICS_SBX_EXEC] = "exec",
	[METRICS_SBX_READY] = "ready",
};

const char *const met_call_outcome_names[MET_CALL_OUTCOMES] = {
	"completed", "steps", "failed", "error", "other",
};

/* Set once before any thread starts (metrics.h), read only after. */
static struct metrics *installed;

static void copy_label(char *dst, const char *src)
{
	size_t n = src != NULL ? strnlen(src, METRICS_LABEL_MAX - 1) : 0;

	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

enum metrics_err metrics_create(const struct route *routes, size_t n,
    struct metrics **out)
{
	struct metrics *m;

	*out = NULL;
	if (n > METRICS_ROWS_MAX)
		return METRICS_ETOOMANY;
	/* Anonymous shared memory comes zeroed: every count 0. */
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return METRICS_ENOMEM;
	m->magic = MET_MAGIC;
	m->mapped = sizeof(*m);
	m->nrows = n;
	for (size_t i = 0; i < n; i++) {
		size_t p;

		for (p = 0; p < m->npaths; p++)
			if (strncmp(m->path[p], routes[i].path,
			    METRICS_LABEL_MAX) == 0)
				break;
		if (p == m->npaths) {
			if (m->npaths == METRICS_ROUTES_MAX) {
				munmap(m, sizeof(*m));
				return METRICS_ETOOMANY;
			}
			copy_label(m->path[m->npaths++], routes[i].path);
		}
		m->row_path[i] = (unsigned char)p;
	}
	atomic_store(&m->enabled, 1);
	*out = m;
	return METRICS_OK;
}

void metrics_destroy(struct metrics *m)
{
	if (m == NULL)
		return;
	if (installed == m)
		installed = NULL;
	munmap(m, m->mapped);
}

const char *metrics_strerror(enum metrics_err err)
{
	switch (err) {
	case METRICS_OK:
		return "ok";
	case METRICS_ETOOMANY:
		return "the route table is larger than the metrics region holds";
	case METRICS_ENOMEM:
		return "out of memory for the metrics region";
	default:
		return "unknown metrics error";
	}
}

void metrics_install(struct metrics *m)
{
	installed = m;
}

struct metrics *metrics_installed(void)
{
	return installed;
}

void metrics_set_enabled(struct metrics *m, int on)
{
	if (m != NULL)
		atomic_store(&m->enabled, on ? 1 : 0);
}

/* The instance to count in, or NULL when counting is off. */
static struct metrics *counting(void)
{
	struct metrics *m = installed;

	if (m == NULL ||
	    !atomic_load_explicit(&m->enabled, memory_order_relaxed))
		return NULL;
	return m;
}

int metrics_enabled(void)
{
	return counting() != NULL;
}

void metrics_set_build(struct metrics *m, const char *version,
    const char *revision)
{
	if (m == NULL)
		return;
	copy_label(m->version, version);
	copy_label(m->revision, revision);
}

void metrics_set_start_time(struct metrics *m, long long epoch_s)
{
	if (m != NULL)
		m->start_time = epoch_s;
}

static void add(met_counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void observe(struct met_hist *h, long long us)
{
	size_t b = 0;

	if (us < 0)
		us = 0;
	while (b < MET_BUCKETS && us > met_bucket_us[b])
		b++;
	add(&h->bucket[b], 1);
	add(&h->sum_us, (uint64_t)us);
	add(&h->count, 1);
}

static size_t method_index(const char *method)
{
	size_t i;

	for (i = 0; method != NULL && i + 1 < MET_METHODS; i++)
		if (strcmp(method, met_method_names[i]) == 0)
			return i;
	return MET_METHODS - 1;
}

void metrics_observe_request(int row, const char *method, int status,
    long long duration_us)
{
	struct metrics *m = counting();
	size_t path, cls;

	if (m == NULL)
		return;
	path = row >= 0 && (size_t)row < m->nrows ? m->row_path[row] :
	    m->npaths;
	cls = status >= 100 && status < 600 ? (size_t)(status / 100 - 1) :
	    MET_CLASSES - 1;
	add(&m->requests[path][method_index(method)][cls], 1);
	observe(&m->duration[path], duration_us);
}

void metrics_observe_sandbox(enum metrics_sbx_op op, const char *provider,
    int ok, long long duration_us)
{
	struct metrics *m = counting();
	size_t p = 0;

	if (m == NULL || (unsigned)op >= METRICS_SBX__MAX)
		return;
	while (p + 1 < MET_PROVIDERS && (provider == NULL ||
	    strcmp(provider, met_provider_names[p]) != 0))
		p++;
	observe(&m->sandbox[op][p][ok ? 0 : 1], duration_us);
}

/*
 * The slot of 'fn': found among the ready ones, or claimed.  A slot
 * being written by another process is waited for briefly; one left
 * half-written (its writer died between two stores) is skipped.
 */
static struct met_function *function_slot(struct metrics *m, const char *fn)
{
	for (size_t i = 0; i < METRICS_FUNCTIONS_MAX; i++) {
		struct met_function *f = &m->fn[i];
		int state = atomic_load_explicit(&f->state,
		    memory_order_acquire);
		int spins = 0;

		if (state == 0) {
			int expect = 0;

			if (atomic_compare_exchange_strong(&f->state, &expect,
			    1)) {
				copy_label(f->name, fn);
				atomic_store_explicit(&f->state, 2,
				    memory_order_release);
				return f;
			}
			state = expect;
		}
		while (state == 1 && spins++ < 100000)
			state = atomic_load_explicit(&f->state,
			    memory_order_acquire);
		if (state == 2 && strncmp(f->name, fn,
		    METRICS_LABEL_MAX - 1) == 0)
			return f;
	}
	return NULL;
}

void metrics_count_inngest_call(const char *fn, int status)
{
	struct metrics *m = counting();
	struct met_function *f;
	size_t o;

	if (m == NULL)
		return;
	o = status == 200 ? 0 : status == 206 ? 1 : status == 400 ? 2 :
	    status >= 500 ? 3 : 4;
	f = fn != NULL && *fn != '\0' ? function_slot(m, fn) : NULL;
	add(f != NULL ? &f->calls[o] : &m->fn_other[o], 1);
}

void metrics_count_events(size_t n, int ok)
{
	struct metrics *m = counting();

	if (m != NULL)
		add(&m->events[ok ? 0 : 1], n);
}

void metrics_count_daytona_retry(void)
{
	struct metrics *m = counting();

	if (m != NULL)
		add(&m->daytona_retries, 1);
}

void metrics_count_daytona_429(void)
{
	struct metrics *m = counting();

	if (m != NULL)
		add(&m->daytona_429, 1);
}

void metrics_count_rate_limited(int strict, enum metrics_limit_scope scope)
{
	struct metrics *m = counting();

	if (m != NULL && (unsigned)scope < METRICS_LIMIT__MAX)
		add(&m->rate_limited[strict ? 1 : 0][scope], 1);
}

/* The master's state is kept whether or not counting is on: /ready
 * needs the draining flag either way. */
void metrics_set_workers_alive(int n)
{
	if (installed != NULL)
		atomic_store(&installed->workers_alive, n);
}

void metrics_count_worker_restart(void)
{
	if (installed != NULL)
		add(&installed->worker_restarts, 1);
}

void metrics_set_draining(int on)
{
	if (installed != NULL)
		atomic_store(&installed->draining, on ? 1 : 0);
}

int metrics_draining(void)
{
	return installed != NULL && atomic_load(&installed->draining);
}
