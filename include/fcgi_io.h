/*
 * fcgi_io.h -- serve one accepted FastCGI request: parse it into a
 * struct http_request, dispatch it over Omni's route table, write the
 * response to the FastCGI output stream and log one line for it.
 *
 * This is the only place that knows both libfcgi and the HTTP structs.
 */
#ifndef OMNI_FCGI_IO_H
#define OMNI_FCGI_IO_H

#include <fcgiapp.h>

#include "http.h"

struct omni_config;
struct rl_table;

/* Handle the request accepted in 'fr'.  The caller calls FCGX_Finish_r. */
void fcgi_serve(FCGX_Request *fr, const struct omni_config *cfg);

/* The same, counting the request in 'ratelimit' (ratelimit.h; borrowed,
 * NULL: nothing is limited, which is what fcgi_serve does). */
void fcgi_serve_limited(FCGX_Request *fr, const struct omni_config *cfg,
    struct rl_table *ratelimit);

/*
 * Write 'resp' for 'req' as a CGI response (Status line, headers,
 * Content-Length, body) to 'out'.  X-Request-Id and Content-Type are
 * always present; HEAD and 204 answers carry no body.  Returns 0 or -1 if
 * the front server went away.
 */
int fcgi_write_response(FCGX_Stream *out, const struct http_request *req,
    const struct http_response *resp);

#endif
