/*
 * daytona_internal.h -- what the Daytona module's own files share and nothing
 * else needs (daytona.h is the public and test-facing API).
 */
#ifndef OMNI_DAYTONA_INTERNAL_H
#define OMNI_DAYTONA_INTERNAL_H

#include "daytona.h"

/*
 * Decode a 2xx answer into the caller's result.  'resp->body' is NULL
 * when the answer was empty; a decoder that keeps the body sets
 * 'resp->body' to NULL.  Errors go into 'st->message' as for any call.
 */
typedef enum dt_err (*dt_decode_fn)(struct dt_http_resp *resp, void *arg,
    struct dt_status *st);

/*
 * The one shape of a request: send 'call' to 'url' with dt_call_do(), then
 * hand a 2xx answer to 'decode' (NULL: the body is not needed) and free
 * the body.  Takes 'url' (freed here; NULL means building it ran out of
 * memory, DT_ENOMEM).  'st' must not be NULL.  Returns the result, also
 * in 'st->err'.
 */
enum dt_err dt_call_url(struct dt_client *c, struct dt_call *call, char *url,
    dt_decode_fn decode, void *arg, struct dt_status *st);

/*
 * A call into the toolbox of sandbox 'id': 'call' is sent to
 * "<toolbox proxy url>/<id><op>[?path=<escaped path>]" ('path' NULL: no
 * query; 'op' goes in as it is, so the caller escapes what it puts in it)
 * and answered as dt_call_url() does.  A network failure forgets the
 * cached proxy URL, which may have moved.  'st' must not be NULL.
 */
enum dt_err dt_tb_call(struct dt_client *c, const char *id, const char *op,
    const char *path, struct dt_call *call, dt_decode_fn decode, void *arg,
    struct dt_status *st);

/*
 * Where a call reports: 'st' when the caller gave one, else 'local' (the
 * callee's own storage), cleared either way.  Every entry point starts
 * with it so that the body can always write to the status.
 */
struct dt_status *dt_status_begin(struct dt_status *st,
    struct dt_status *local);

#endif
