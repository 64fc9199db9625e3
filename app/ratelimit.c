/*
 * ratelimit.c -- the shared, lock-free fixed-window counters (ratelimit.h).
 *
 * A bucket is two words.  'key' is the 64-bit keyed hash of the key (0:
 * empty); it says who owns the bucket and is only ever changed by a
 * compare-and-swap, from 0 (claim) or from the owner being evicted.
 * 'state' packs [check:16 | window:24 | count:24].  The check bits are the
 * top bits of the owner's hash: binding the count to its owner inside the
 * word that the admitting CAS replaces means a hit can never be added to a
 * count that a new owner has just taken over -- the CAS sees other check
 * bits and the thread looks the key up again.  So a hit is admitted by one
 * CAS, without a lock a dying worker could hold.
 *
 * Atomics must be lock-free to work across processes (a lock inside
 * libatomic is private to each process): checked at compile time.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "ratelimit.h"

#if ATOMIC_LLONG_LOCK_FREE != 2
#error "cross-process counters need lock-free 64-bit atomics"
#endif

typedef _Atomic unsigned long long rl_word;
_Static_assert(sizeof(unsigned long long) == 8, "64-bit words");

#define CNT_BITS 24
#define WIN_BITS 24
#define CNT_MASK ((1ULL << CNT_BITS) - 1)
#define WIN_MASK ((1ULL << WIN_BITS) - 1)
#define CHK_SHIFT (CNT_BITS + WIN_BITS)
#define ST_CHECK(s) ((s) >> CHK_SHIFT)
#define ST_WINDOW(s) (((s) >> CNT_BITS) & WIN_MASK)
#define ST_COUNT(s) ((s) & CNT_MASK)
#define ST_PACK(chk, win, cnt) \
	(((unsigned long long)(chk) << CHK_SHIFT) | \
	 (((unsigned long long)(win) & WIN_MASK) << CNT_BITS) | \
	 ((unsigned long long)(cnt) & CNT_MASK))

/* Bounds on retries.  Each failed CAS means another thread made progress,
 * so these are never reached in practice; they only guarantee that no
 * request can spin for ever.  Giving up admits the hit (and is counted):
 * a limiter must not turn contention into refusals. */
#define MAX_LOOKUPS 16
#define MAX_CAS 4096

#define RL_MAGIC 0x4f4d4e49524c3031ULL /* "OMNIRL01" */

struct rl_bucket {
	rl_word key;
	rl_word state;
};

struct rl_table {
	unsigned long long magic;
	size_t nbuckets;        /* power of two */
	size_t mapped;          /* bytes of the mapping */
	unsigned char seed[16]; /* SipHash key, the same in every process */
	rl_word evictions;      /* live buckets taken over */
	rl_word gave_up;        /* hits admitted after MAX_* retries */
	struct rl_bucket buckets[];
};

/* ---- SipHash-2-4 (Aumasson & Bernstein), written from the paper ---- */

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define SIPROUND(v0, v1, v2, v3) do { \
	v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32); \
	v2 += v3; v3 = rotl(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = rotl(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32); \
} while (0)

uint64_t rl_siphash(const unsigned char key[16], const void *msg,
    size_t len)
{
	const unsigned char *p = msg;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t m, last = (uint64_t)len << 56;
	size_t whole = len - len % 8;

	for (size_t i = 0; i < whole; i += 8) {
		m = load_le64(p + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t i = 0; i < len % 8; i++)
		last |= (uint64_t)p[whole + i] << (8 * i);
	v3 ^= last;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the table ---- */

static int valid_size(size_t n)
{
	return n >= RL_MIN_BUCKETS && (n & (n - 1)) == 0 &&
	    n <= ((size_t)1 << 30);
}

size_t rl_table_bytes(size_t nbuckets)
{
	if (nbuckets == 0)
		nbuckets = RL_DEFAULT_BUCKETS;
	if (!valid_size(nbuckets))
		return 0;
	return sizeof(struct rl_table) + nbuckets * sizeof(struct rl_bucket);
}

enum rl_err rl_table_create(size_t nbuckets, struct rl_table **out)
{
	size_t bytes = rl_table_bytes(nbuckets);
	unsigned char seed[16];
	struct rl_table *t;
	size_t got = 0;

	*out = NULL;
	if (bytes == 0)
		return RL_EINVAL;
	while (got < sizeof(seed)) {
		ssize_t n = getrandom(seed + got, sizeof(seed) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return RL_ERANDOM;
		got += (size_t)n;
	}
	/* Anonymous shared memory comes zeroed: every bucket empty. */
	t = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return RL_ENOMEM;
	t->magic = RL_MAGIC;
	t->nbuckets = nbuckets ? nbuckets : RL_DEFAULT_BUCKETS;
	t->mapped = bytes;
	memcpy(t->seed, seed, sizeof(seed));
	*out = t;
	return RL_OK;
}

void rl_table_destroy(struct rl_table *t)
{
	if (t != NULL)
		munmap(t, t->mapped);
}

int rl_retry_after(long long now_ms)
{
	long long end = (now_ms / RL_WINDOW_MS + 1) * RL_WINDOW_MS;
	long long s = (end - now_ms + 999) / 1000;

	if (s < 1)
		s = 1;
	if (s > RL_WINDOW_MS / 1000)
		s = RL_WINDOW_MS / 1000;
	return (int)s;
}

/*
 * The bucket holding 'h', claiming an empty one or evicting the stalest
 * of the probe window when there is none.  Returns its index, or -1 after
 * MAX_LOOKUPS lost races.
 *
 * Buckets are claimed lowest-empty-first and never emptied again, so two
 * threads claiming the same key race for the same empty bucket, and the
 * loser sees the winner's key in it: a key is never claimed twice (except
 * when two take-overs of different buckets race; counts are approximate
 * only while the table is full).
 */
static long find_bucket(struct rl_table *t, uint64_t h, uint64_t win)
{
	size_t mask = t->nbuckets - 1, start = (size_t)h & mask;

	for (int round = 0; round < MAX_LOOKUPS; round++) {
		size_t victim = start;
		unsigned long long vkey = 0, vstate = 0;
		uint64_t vage = 0;
		int have_victim = 0, empty = -1;

		for (unsigned i = 0; i < RL_PROBE; i++) {
			size_t idx = (start + i) & mask;
			struct rl_bucket *b = &t->buckets[idx];
			unsigned long long k = atomic_load(&b->key), s;
			uint64_t age;

			if (k == h)
				return (long)idx;
			if (k == 0) {
				if (empty < 0)
					empty = (int)i;
				continue;
			}
			s = atomic_load(&b->state);
			age = (win - ST_WINDOW(s)) & WIN_MASK;
			if (!have_victim || age > vage || (age == vage &&
			    ST_COUNT(s) < ST_COUNT(vstate))) {
				victim = idx;
				vkey = k;
				vstate = s;
				vage = age;
				have_victim = 1;
			}
		}
		for (int i = empty; i >= 0 && i < (int)RL_PROBE; i++) {
			size_t idx = (start + (size_t)i) & mask;
			unsigned long long k = 0;

			if (atomic_compare_exchange_strong(&t->buckets[idx].key,
			    &k, h) || k == h)
				return (long)idx;
		}
		if (empty >= 0 || !have_victim)
			continue; /* the empties went meanwhile: look again */
		if (atomic_compare_exchange_strong(&t->buckets[victim].key,
		    &vkey, h)) {
			if (vage == 0 && ST_COUNT(vstate) > 0)
				atomic_fetch_add(&t->evictions, 1);
			return (long)victim;
		}
	}
	return -1;
}

int rl_hit(struct rl_table *t, enum rl_kind kind, enum rl_budget budget,
    const void *id, size_t len, unsigned limit, long long now_ms,
    struct rl_ticket *ticket)
{
	unsigned char msg[2 + RL_ID_MAX];
	uint64_t h, chk, win;

	if (ticket != NULL)
		ticket->valid = 0;
	if (t == NULL || limit == 0)
		return 0;
	if (limit > RL_LIMIT_MAX)
		limit = RL_LIMIT_MAX;
	if (len > RL_ID_MAX)
		len = RL_ID_MAX;
	msg[0] = (unsigned char)kind;
	msg[1] = (unsigned char)budget;
	if (len > 0)
		memcpy(msg + 2, id, len);
	h = rl_siphash(t->seed, msg, len + 2);
	if (h == 0)
		h = 1; /* 0 marks an empty bucket */
	chk = h >> CHK_SHIFT;
	win = (uint64_t)(now_ms / RL_WINDOW_MS) & WIN_MASK;

	for (int round = 0; round < MAX_LOOKUPS; round++) {
		long idx = find_bucket(t, h, win);
		struct rl_bucket *b;
		int lost = 0;

		if (idx < 0)
			break;
		b = &t->buckets[idx];
		for (int n = 0; n < MAX_CAS && !lost; n++) {
			unsigned long long s = atomic_load(&b->state), next;

			if (ST_CHECK(s) != chk) {
				/* Left by the previous owner, or we were
				 * evicted: which one the key word says. */
				if (atomic_load(&b->key) != h) {
					lost = 1;
					continue;
				}
				next = ST_PACK(chk, win, 1);
			} else if (ST_WINDOW(s) != win) {
				next = ST_PACK(chk, win, 1);
			} else if (ST_COUNT(s) >= limit) {
				return rl_retry_after(now_ms);
			} else {
				next = s + 1;
			}
			if (atomic_compare_exchange_strong(&b->state, &s,
			    next)) {
				if (ticket != NULL)
					*ticket = (struct rl_ticket){
						.bucket = (size_t)idx,
						.check = chk, .window = win,
						.valid = 1 };
				return 0;
			}
		}
		if (!lost)
			break;
	}
	atomic_fetch_add(&t->gave_up, 1);
	return 0;
}

void rl_undo(struct rl_table *t, struct rl_ticket *ticket)
{
	struct rl_bucket *b;
	unsigned long long s;

	if (t == NULL || ticket == NULL || !ticket->valid ||
	    ticket->bucket >= t->nbuckets)
		return;
	ticket->valid = 0;
	b = &t->buckets[ticket->bucket];
	s = atomic_load(&b->state);
	while (ST_CHECK(s) == ticket->check &&
	    ST_WINDOW(s) == ticket->window && ST_COUNT(s) > 0)
		if (atomic_compare_exchange_weak(&b->state, &s, s - 1))
			return;
}

void rl_table_stats(const struct rl_table *t, struct rl_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (t == NULL)
		return;
	st->buckets = t->nbuckets;
	for (size_t i = 0; i < t->nbuckets; i++)
		if (atomic_load(&((struct rl_table *)t)->buckets[i].key) != 0)
			st->used++;
	st->evictions = atomic_load(&((struct rl_table *)t)->evictions);
	st->gave_up = atomic_load(&((struct rl_table *)t)->gave_up);
}

const char *rl_strerror(enum rl_err err)
{
	switch (err) {
	case RL_OK:
		return "ok";
	case RL_EINVAL:
		return "bucket count must be a power of two of at least 8";
	case RL_ENOMEM:
		return "cannot map the shared rate-limit table";
	case RL_ERANDOM:
		return "no randomness for the rate-limit hash key";
	case RL__MAX:
		break;
	}
	return "unknown rate-limit error";
}
