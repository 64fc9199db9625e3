/*
 * render.c -- the Prometheus text exposition (format 0.0.4) of the
 * shared region (metrics.h).  Runs per scrape, never on another
 * request's path, so it may take its time and allocate.
 *
 * Reads are relaxed loads of counters other threads keep adding to: a
 * scrape is a snapshot of each counter, not of all of them at once (a
 * histogram's _count may run a request ahead of its buckets), as with
 * any Prometheus client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_internal.h"

static uint64_t get(const met_counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Write 's' quoted and escaped as the format wants (\\, \", \n) into
 * 'dst' ('cap' bytes; labels are at most METRICS_LABEL_MAX, so twice that
 * always fits). */
static void escape_into(char *dst, size_t cap, const char *s)
{
	size_t o = 0;

	dst[o++] = '"';
	for (; *s != '\0' && o + 4 < cap; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n')
			dst[o++] = '\\';
		dst[o++] = *s == '\n' ? 'n' : *s;
	}
	dst[o++] = '"';
	dst[o] = '\0';
}

static void put_value(FILE *f, const char *s)
{
	char buf[METRICS_LABEL_MAX * 2 + 4];

	escape_into(buf, sizeof(buf), s);
	fputs(buf, f);
}

static void head(FILE *f, const char *name, const char *type,
    const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void seconds(FILE *f, uint64_t us)
{
	fprintf(f, "%llu.%06llu", (unsigned long long)(us / 1000000),
	    (unsigned long long)(us % 1000000));
}

/* One histogram's series; 'labels' is the text inside the braces,
 * already escaped, without a trailing comma. */
static void hist(FILE *f, const char *name, const char *labels,
    const struct met_hist *h)
{
	uint64_t cum = 0;

	for (size_t b = 0; b <= MET_BUCKETS; b++) {
		cum += get(&h->bucket[b]);
		fprintf(f, "%s_bucket{%s,le=\"", name, labels);
		if (b == MET_BUCKETS)
			fputs("+Inf", f);
		else
			seconds(f, (uint64_t)met_bucket_us[b]);
		fprintf(f, "\"} %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "%s_sum{%s} ", name, labels);
	seconds(f, get(&h->sum_us));
	fprintf(f, "\n%s_count{%s} %llu\n", name, labels,
	    (unsigned long long)get(&h->count));
}

static const char *route_label(const struct metrics *m, size_t p)
{
	return p < m->npaths ? m->path[p] : "unmatched";
}

static void requests(FILE *f, const struct metrics *m)
{
	static const char *const cls[MET_CLASSES] = {
		"1xx", "2xx", "3xx", "4xx", "5xx",
	};

	head(f, "omni_http_requests_total", "counter",
	    "Requests answered, by route, method and status class.");
	for (size_t p = 0; p <= m->npaths; p++)
		for (size_t k = 0; k < MET_METHODS; k++)
			for (size_t c = 0; c < MET_CLASSES; c++) {
				uint64_t v = get(&m->requests[p][k][c]);

				if (v == 0)
					continue;
				fputs("omni_http_requests_total{route=", f);
				put_value(f, route_label(m, p));
				fprintf(f, ",method=\"%s\",status_class=\"%s\"}"
				    " %llu\n", met_method_names[k], cls[c],
				    (unsigned long long)v);
			}
	head(f, "omni_http_request_duration_seconds", "histogram",
	    "Time from parsing a request to writing its answer, by route.");
	for (size_t p = 0; p <= m->npaths; p++) {
		char labels[METRICS_LABEL_MAX * 2 + 16];

		if (get(&m->duration[p].count) == 0)
			continue;
		memcpy(labels, "route=", 6);
		escape_into(labels + 6, sizeof(labels) - 6, route_label(m, p));
		hist(f, "omni_http_request_duration_seconds", labels,
		    &m->duration[p]);
	}
}

static void sandbox(FILE *f, const struct metrics *m)
{
	head(f, "omni_sandbox_operation_duration_seconds", "histogram",
	    "Sandbox provider operations, by operation, provider and "
	    "outcome.");
	for (size_t o = 0; o < METRICS_SBX__MAX; o++)
		for (size_t p = 0; p < MET_PROVIDERS; p++)
			for (size_t r = 0; r < MET_OUTCOMES; r++) {
				const struct met_hist *h = &m->sandbox[o][p][r];
				char labels[128];

				if (get(&h->count) == 0)
					continue;
				snprintf(labels, sizeof(labels),
				    "operation=\"%s\",provider=\"%s\","
				    "outcome=\"%s\"", met_sbx_op_names[o],
				    met_provider_names[p], r == 0 ? "ok" :
				    "error");
				hist(f, "omni_sandbox_operation_duration_seconds",
				    labels, h);
			}
}

static void calls(FILE *f, const char *fn, const met_counter *c)
{
	for (size_t o = 0; o < MET_CALL_OUTCOMES; o++) {
		uint64_t v = get(&c[o]);

		if (v == 0)
			continue;
		fputs("omni_inngest_calls_total{function=", f);
		put_value(f, fn);
		fprintf(f, ",outcome=\"%s\"} %llu\n",
		    met_call_outcome_names[o], (unsigned long long)v);
	}
}

static void inngest(FILE *f, const struct metrics *m)
{
	head(f, "omni_inngest_calls_total", "counter",
	    "Inngest call requests run, by function and outcome (completed "
	    "200, steps 206, failed 400, error 5xx).");
	for (size_t i = 0; i < METRICS_FUNCTIONS_MAX; i++) {
		const struct met_function *fn = &m->fn[i];

		if (atomic_load_explicit(&fn->state,
		    memory_order_acquire) == 2)
			calls(f, fn->name, fn->calls);
	}
	calls(f, "other", m->fn_other);
	head(f, "omni_inngest_events_sent_total", "counter",
	    "Events sent to Inngest's event API, by outcome.");
	for (size_t o = 0; o < MET_OUTCOMES; o++)
		fprintf(f, "omni_inngest_events_sent_total{outcome=\"%s\"} "
		    "%llu\n", o == 0 ? "ok" : "error",
		    (unsigned long long)get(&m->events[o]));
}

static void counter(FILE *f, const char *name, const char *help,
    const met_counter *c)
{
	head(f, name, "counter", help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)get(c));
}

static void limits_and_pool(FILE *f, const struct metrics *m)
{
	counter(f, "omni_daytona_retries_total",
	    "Daytona API calls sent again after a failure.",
	    &m->daytona_retries);
	counter(f, "omni_daytona_rate_limited_total",
	    "Daytona API answers with status 429.", &m->daytona_429);
	head(f, "omni_rate_limited_total", "counter",
	    "Requests refused with 429 by Omni's limiter, by budget and "
	    "scope.");
	for (size_t b = 0; b < 2; b++)
		for (size_t s = 0; s < METRICS_LIMIT__MAX; s++)
			fprintf(f, "omni_rate_limited_total{budget=\"%s\","
			    "scope=\"%s\"} %llu\n", b ? "strict" : "general",
			    s == METRICS_LIMIT_USER ? "user" : "client",
			    (unsigned long long)get(&m->rate_limited[b][s]));
	head(f, "omni_workers_alive", "gauge",
	    "Worker processes the master supervises now.");
	fprintf(f, "omni_workers_alive %lld\n",
	    (long long)atomic_load(&m->workers_alive));
	counter(f, "omni_worker_restarts_total",
	    "Workers replaced after an unplanned exit.", &m->worker_restarts);
	head(f, "omni_draining", "gauge",
	    "1 while the pool drains before stopping (/ready answers 503).");
	fprintf(f, "omni_draining %d\n", atomic_load(&m->draining));
	head(f, "omni_start_time_seconds", "gauge",
	    "When the master started, in seconds since the epoch.");
	fprintf(f, "omni_start_time_seconds %lld\n", m->start_time);
}

enum metrics_err metrics_render(const struct metrics *m, char **out,
    size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f;

	*out = NULL;
	*len = 0;
	if (m == NULL || (f = open_memstream(&buf, &n)) == NULL)
		return METRICS_ENOMEM;
	head(f, "omni_build_info", "gauge",
	    "Always 1; the labels say which build answers.");
	fputs("omni_build_info{version=", f);
	put_value(f, m->version);
	fputs(",revision=", f);
	put_value(f, m->revision);
	fputs("} 1\n", f);
	requests(f, m);
	sandbox(f, m);
	inngest(f, m);
	limits_and_pool(f, m);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return METRICS_ENOMEM;
	}
	if (fclose(f) != 0 || buf == NULL) {
		free(buf);
		return METRICS_ENOMEM;
	}
	*out = buf;
	*len = n;
	return METRICS_OK;
}
