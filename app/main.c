/*
 * main.c -- omni-fcgi: command line, configuration, and the choice between
 * running a pool (--listen) and being one worker under spawn-fcgi (the
 * listening socket already on fd 0).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "build_info.h"
#include "config.h"
#include "handlers.h"
#include "log.h"
#include "pool.h"
#include "metrics.h"
#include "ratelimit.h"
#include "worker.h"

#define EXIT_USAGE 64 /* sysexits.h EX_USAGE */

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: omni-fcgi --listen unix:PATH|HOST:PORT [--workers W] "
	    "[--threads T] [--env-file F]\n"
	    "       omni-fcgi [--threads T] [--env-file F]   "
	    "(under spawn-fcgi: socket on fd 0)\n");
}

static int parse_count(const char *opt, const char *v, int max, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || n < 1 || n > max) {
		fprintf(stderr, "omni-fcgi: %s must be an integer from 1 to "
		    "%d\n", opt, max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* spawn-fcgi hands over a listening socket as fd 0. */
static int stdin_is_listening_socket(void)
{
	int listening = 0;
	socklen_t len = sizeof(listening);

	if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0)
		return 0;
	return listening;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "env-file", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct pool_opts opts = { .service = &omni_service };
	struct omni_config cfg;
	struct rl_table *ratelimit = NULL;
	struct metrics *metrics = NULL;
	enum rl_err rle;
	char err[512];
	int c, rc;

	while ((c = getopt_long(argc, argv, "l:w:t:e:hV", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'l':
			opts.listen = optarg;
			break;
		case 'w':
			if (parse_count("--workers", optarg, 256,
			    &opts.workers) != 0)
				return EXIT_USAGE;
			break;
		case 't':
			if (parse_count("--threads", optarg, 1024,
			    &opts.threads) != 0)
				return EXIT_USAGE;
			break;
		case 'e':
			opts.env_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("omni-fcgi %s (%s)\n", omni_version,
			    omni_revision);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (opts.listen == NULL && !stdin_is_listening_socket()) {
		fprintf(stderr, "omni-fcgi: no --listen given and fd 0 is not "
		    "a listening socket\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	/* spawn-fcgi mode: this process is the worker from here on, so a
	 * SIGTERM during the set-up below is held and then drains it, as in
	 * a worker the pool forks (worker.h). */
	if (opts.listen == NULL && worker_block_stop_signals() != 0) {
		fprintf(stderr, "omni-fcgi: %s\n", strerror(errno));
		return 1;
	}
	if (cfg_load(&cfg, opts.env_file, err, sizeof(err)) != CFG_OK) {
		fprintf(stderr, "omni-fcgi: configuration error: %s\n", err);
		return CFG_EXIT_CODE;
	}
	log_set_level(cfg.log_level);
	if (worker_service_preflight(&omni_service, &cfg, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "omni-fcgi: configuration error: %s\n", err);
		cfg_free(&cfg);
		return CFG_EXIT_CODE;
	}
	if (opts.listen != NULL)
		return pool_run(&opts, &cfg);

	/* spawn-fcgi mode: this process is the one worker. */
	if (opts.threads > 0)
		cfg.threads = opts.threads;
	log_msg(LOG_INFO, "start", "serving the socket on fd 0 with %d "
	    "threads (spawn-fcgi mode)", cfg.threads);
	cfg_log_summary(&cfg);
	/* One process: the table is private to it (spawn-fcgi -F N starts N
	 * programs, each counting alone). */
	if (cfg.rate_limit_rpm > 0 &&
	    (rle = rl_table_create(0, &ratelimit)) != RL_OK) {
		fprintf(stderr, "omni-fcgi: RATE_LIMIT_RPM: %s\n",
		    rl_strerror(rle));
		cfg_free(&cfg);
		return 1;
	}
	/* Counts made by this process only, as for the limiter. */
	if (pool_metrics_open(&omni_service, &cfg, &metrics, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "omni-fcgi: %s\n", err);
		rl_table_destroy(ratelimit);
		cfg_free(&cfg);
		return 1;
	}
	metrics_set_workers_alive(1);
	rc = worker_run(0, &cfg, &omni_service, ratelimit, -1);
	log_msg(LOG_INFO, "stop", "worker exited");
	rl_table_destroy(ratelimit);
	metrics_destroy(metrics);
	cfg_free(&cfg);
	return rc;
}
