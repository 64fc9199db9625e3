/*
 * inngest_event.h -- sending events to Inngest (spec 1.3.4, 4.2.1).
 *
 * POST {event origin}/e/{INNGEST_EVENT_KEY} with a JSON array of events.
 * Each event gets an "id" (a ULID) and "ts" (ms since the epoch) when it
 * has none, and "data": {} when missing, so that a retried send is
 * idempotent on the server.  X-Inngest-Env carries INNGEST_ENV when set.
 * Network errors and 5xx answers are retried with exponential backoff and
 * jitter (ING_EVENT_ATTEMPTS in all, 100 ms base); 4xx answers are not.
 *
 * In dev mode a missing event key is replaced by a placeholder, as the dev
 * server accepts any key; in cloud mode it is ING_ENOKEY.  The key is never
 * logged.  Thread safe; blocks the calling thread for at most
 * ING_EVENT_ATTEMPTS request timeouts plus the backoff.
 */
#ifndef OMNI_INNGEST_EVENT_H
#define OMNI_INNGEST_EVENT_H

#include "inngest.h"

#define ING_EVENT_ATTEMPTS 4
#define ING_EVENT_TIMEOUT_MS 10000

/*
 * Send 'events' (borrowed): one event object or an array of them, each
 * with a non-empty string "name" and, if present, an object "data".  The
 * caller's objects are not modified.  On ING_OK and if 'ids_out' is not
 * NULL, '*ids_out' is a new json-c reference to the array of ids the
 * server returned (the caller puts it).  Errors: ING_EINVAL (bad events),
 * ING_ENOKEY, ING_ETRANSPORT, ING_EUPSTREAM, ING_EREJECTED, ING_EPROTOCOL,
 * ING_ENOMEM.
 */
enum ing_err ing_event_send(struct ing_app *app, struct json_object *events,
    struct json_object **ids_out);

/*
 * Write a new ULID (26 Crockford base32 characters and a NUL) for the time
 * 'ms' into 'out'.  Returns 0, or -1 if no randomness was available.
 */
int ing_ulid(int64_t ms, char out[27]);

#endif
