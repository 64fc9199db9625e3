/*
 * fake_transport.h -- a struct ing_transport for unit tests: answers each
 * request with the next canned status and body, and records what the SDK
 * sent (method, URL, header lines, body).  Also a recording sleep hook.
 * Header-only, static: each test file that includes it gets its own copy
 * of the functions and of the 'fake' state.
 *
 * Set FAKE_MAXREQ before including to change how many requests are
 * answered; the ones past it fail with ING_ETRANSPORT, as does a request
 * whose canned status is 0 (a network error).
 *
 * Ownership: the recorded bodies are strndup()'d; the test frees
 * fake.req[i].body (fake_reset() does it).  The canned replies are
 * borrowed and must outlive the request.
 */
#ifndef OMNI_TEST_FAKE_TRANSPORT_H
#define OMNI_TEST_FAKE_TRANSPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inngest_transport.h"

#ifndef FAKE_MAXREQ
#define FAKE_MAXREQ 4
#endif

struct fake_sent {
	char method[8];
	char url[512];
	char headers[1024];          /* "Name: value\n" per line */
	char *body;                  /* malloc'd, NUL-terminated */
};

static struct {
	int calls;
	long status[FAKE_MAXREQ];    /* 0 = network error */
	const char *reply[FAKE_MAXREQ];
	struct fake_sent req[FAKE_MAXREQ];
	long long slept[FAKE_MAXREQ];
	int nsleeps;
} fake;

static inline enum ing_err fake_send(void *ud, const struct ing_http_req *req,
    struct ing_http_res *res)
{
	int i = fake.calls++;
	struct fake_sent *s;

	(void)ud;
	memset(res, 0, sizeof(*res));
	if (i >= FAKE_MAXREQ)
		return ING_ETRANSPORT;
	s = &fake.req[i];
	snprintf(s->method, sizeof(s->method), "%s", req->method);
	snprintf(s->url, sizeof(s->url), "%s", req->url);
	s->headers[0] = '\0';
	for (size_t k = 0; k < req->nheaders; k++) {
		strncat(s->headers, req->headers[k],
		    sizeof(s->headers) - strlen(s->headers) - 2);
		strcat(s->headers, "\n");
	}
	s->body = strndup(req->body != NULL ? req->body : "", req->body_len);
	if (fake.status[i] == 0)
		return ING_ETRANSPORT;
	res->status = fake.status[i];
	res->body = strdup(fake.reply[i] != NULL ? fake.reply[i] : "");
	res->body_len = strlen(res->body);
	return ING_OK;
}

static const struct ing_transport fake_transport = { fake_send, NULL };

/* A sleep hook that records instead of sleeping. */
static inline void fake_sleep(long long ms)
{
	if (fake.nsleeps < FAKE_MAXREQ)
		fake.slept[fake.nsleeps++] = ms;
}

/* Free the recorded bodies and forget every answer and request. */
static inline void fake_reset(void)
{
	for (int i = 0; i < FAKE_MAXREQ; i++)
		free(fake.req[i].body);
	memset(&fake, 0, sizeof(fake));
}

#endif
