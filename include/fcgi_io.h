/*
 * fcgi_io.h -- serve one accepted FastCGI request: parse it into a
 * struct http_request, dispatch it over the route table it is given, write the
 * response to the FastCGI output stream and log one line for it.
 *
 * This is the only place that knows both libfcgi and the HTTP structs.
 */
#ifndef OMNI_FCGI_IO_H
#define OMNI_FCGI_IO_H

#include <fcgiapp.h>

#include "http.h"

struct omni_config;
struct route;
struct rl_table;

/*
 * What a server serves: configuration, its route table and the context
 * every request carries.  All borrowed; they outlive the serving threads.
 */
struct fcgi_site {
	const struct omni_config *cfg;
	const struct route *routes;  /* router.h */
	size_t nroutes;
	struct rl_table *ratelimit;  /* ratelimit.h; NULL: nothing limited */
	void *app;                   /* becomes http_request.app */
};

/* Handle the request accepted in 'fr' over 'site'.  The caller calls
 * FCGX_Finish_r. */
void fcgi_serve(FCGX_Request *fr, const struct fcgi_site *site);

/*
 * Write 'resp' for 'req' as a CGI response (Status line, headers,
 * Content-Length, body) to 'out'.  X-Request-Id and Content-Type are
 * always present; HEAD and 204 answers carry no body.  Returns 0 or -1 if
 * the front server went away.
 */
int fcgi_write_response(FCGX_Stream *out, const struct http_request *req,
    const struct http_response *resp);

#endif
