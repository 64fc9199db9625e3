/*
 * inngest_http.h -- the Inngest SDK's transport (struct ing_transport,
 * inngest_transport.h) over Omni's one outbound HTTP client, so that the
 * SDK's requests follow the same rules as every other outbound request
 * (http_client.h): per-thread connection reuse, timeouts, TLS
 * verification, http/https only, no redirects, close-on-exec sockets,
 * capped answers.
 *
 * Omni hands it to the SDK in handlers/inngest.c.  Errors: ING_OK whenever an HTTP answer
 * came back (any status); ING_ETRANSPORT on connection errors, timeouts
 * and refused (non-http) URLs; ING_ETOOLARGE past the request's cap (which
 * applies to every status); ING_ENOMEM; ING_EINVAL for a request without
 * a method or URL.  On ING_OK the body is malloc'd, NUL-terminated, never
 * NULL, and released with ing_http_res_free() (or free()); on error the
 * response is zeroed.
 *
 * Start-up: http_client_global_init() must run while the process is
 * single-threaded (inngest_handlers_init does it before ing_app_new);
 * until it has, send() fails with ING_EINVAL rather than initialising
 * libcurl from a serving thread.
 */
#ifndef OMNI_INNGEST_HTTP_H
#define OMNI_INNGEST_HTTP_H

#include "inngest_transport.h"

extern const struct ing_transport omni_inngest_transport;

#endif
