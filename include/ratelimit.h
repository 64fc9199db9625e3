/*
 * ratelimit.h -- the machine-wide request counters behind RATE_LIMIT_RPM:
 * a fixed-size, lock-free table in shared memory.
 *
 * The master creates the table (rl_table_create) before it forks any
 * worker, so every worker, a restarted worker and the workers of a reload
 * all count in the same memory: killing a worker or sending SIGHUP does
 * not reset anyone's count.  The table never grows; nothing in it is
 * allocated per request.
 *
 * What is counted: a key is (kind, budget, bytes) -- for example (IP,
 * general, the client's address) or (user, strict, the token's subject).
 * Each key gets a fixed window of RL_WINDOW_MS aligned on the monotonic
 * clock (CLOCK_MONOTONIC is the same in every process of the machine), and
 * rl_hit() admits at most 'limit' hits per key per window.  Keys that
 * differ in any of the three parts are independent counters.
 *
 * Layout: RL_PROBE consecutive buckets, from a position chosen by a keyed
 * hash (SipHash-2-4 with a random key made at creation, so clients cannot
 * aim their keys at one probe window), may hold a key.  Each bucket is two
 * 64-bit atomics: the key's hash, and (check bits, window, count) packed in
 * one word so that admitting a hit is a single compare-and-swap.  When a
 * key's probe window is full, the bucket whose window is oldest (fewest
 * hits on a tie) is taken over: a full table forgets its stalest client,
 * it never refuses everyone.  Counts are exact while no bucket of a
 * current window is taken over (rl_stats counts those take-overs).
 *
 * Ownership: the creator owns the mapping; rl_table_destroy() unmaps it in
 * that process (forked children keep their own mapping until they exit).
 * All other functions are thread and process safe and allocate nothing.
 */
#ifndef OMNI_RATELIMIT_H
#define OMNI_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RL_WINDOW_MS 60000LL       /* one minute: the "per minute" of RPM */
#define RL_DEFAULT_BUCKETS 65536u  /* 1 MiB of counters */
#define RL_MIN_BUCKETS 8u          /* at least one probe window */
#define RL_PROBE 8u                /* buckets a key may live in */
#define RL_LIMIT_MAX 16777215u     /* the count field holds 24 bits */
#define RL_ID_MAX 128u             /* longest key bytes (a JWT sub) */

enum rl_err {
	RL_OK = 0,
	RL_EINVAL,   /* bucket count not a power of two >= RL_MIN_BUCKETS */
	RL_ENOMEM,   /* mmap failed */
	RL_ERANDOM,  /* no randomness for the hash key */
	RL__MAX
};

enum rl_kind {
	RL_KEY_IP = 1,     /* a client address (client_ip.h) */
	RL_KEY_USER = 2,   /* an authenticated subject */
};

enum rl_budget {
	RL_BUDGET_GENERAL = 1, /* RATE_LIMIT_RPM */
	RL_BUDGET_STRICT = 2,  /* RATE_LIMIT_STRICT_RPM (expensive routes) */
};

struct rl_table;

/* A hit that was admitted, so that it can be given back (rl_undo). */
struct rl_ticket {
	size_t bucket;
	uint64_t check;    /* the key's check bits */
	uint64_t window;
	int valid;         /* 0: nothing to give back */
};

/* Counters about the table, for tests and operators. */
struct rl_stats {
	size_t buckets;       /* size of the table */
	size_t used;          /* buckets that hold a key */
	uint64_t evictions;   /* take-overs of a bucket counting this window */
	uint64_t gave_up;     /* hits admitted unchecked after lost races */
};

/*
 * Map a zeroed table of 'nbuckets' buckets (a power of two >= RL_MIN_BUCKETS;
 * 0 means RL_DEFAULT_BUCKETS) shared with the processes forked after this
 * call.  On RL_OK '*out' is owned by the caller.
 */
enum rl_err rl_table_create(size_t nbuckets, struct rl_table **out);

/* Unmap it in this process; NULL is accepted. */
void rl_table_destroy(struct rl_table *t);

/* Bytes the table of 'nbuckets' buckets maps (0 when invalid). */
size_t rl_table_bytes(size_t nbuckets);

/*
 * Count one hit of key (kind, budget, id[0..len)) at 'now_ms' (monotonic
 * milliseconds; the caller passes the clock so tests can move it) against
 * 'limit' hits per window.  Returns 0 when admitted, and fills '*ticket'
 * (may be NULL); otherwise the key is at its limit, nothing is counted and
 * the value is the Retry-After: whole seconds until this window ends, from
 * 1 to RL_WINDOW_MS / 1000.  'len' beyond RL_ID_MAX is cut; a 'limit' of 0
 * admits everything (no limit); a limit above RL_LIMIT_MAX is clamped.
 */
int rl_hit(struct rl_table *t, enum rl_kind kind, enum rl_budget budget,
    const void *id, size_t len, unsigned limit, long long now_ms,
    struct rl_ticket *ticket);

/*
 * Give back the hit 'ticket' admitted (a later check refused the request),
 * if its window is still the bucket's.  The ticket becomes invalid.
 */
void rl_undo(struct rl_table *t, struct rl_ticket *ticket);

/* Seconds until the window holding 'now_ms' ends, 1..RL_WINDOW_MS/1000. */
int rl_retry_after(long long now_ms);

/* Fill '*st' (walks the table: for tests and diagnostics, not requests). */
void rl_table_stats(const struct rl_table *t, struct rl_stats *st);

/* SipHash-2-4 of 'msg' under the 16-byte 'key' (exposed for its test). */
uint64_t rl_siphash(const unsigned char key[16], const void *msg,
    size_t len);

/* Text for an error value, never NULL. */
const char *rl_strerror(enum rl_err err);

#endif
