#include "mist_rng.h"

#include "mist_core.h"

typedef struct xoshiro_state {
    uint64_t s[4];
} xoshiro_state;

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t next64(xoshiro_state *st)
{
    uint64_t *s = st->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void xo_set(void *vstate, unsigned long seed)
{
    xoshiro_state *st = vstate;
    uint64_t x = (uint64_t)seed;
    /* SplitMix64 expansion, as the xoshiro authors recommend; never all zero */
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        st->s[i] = mist_mix64(x);
    }
}

/* 32-bit outputs (the high half): GSL's integer samplers assume max fits their bit tricks. */
static unsigned long xo_get(void *vstate) { return (unsigned long)(next64(vstate) >> 32); }

/* 53 random bits in [0, 1). */
static double xo_get_double(void *vstate) { return (double)(next64(vstate) >> 11) * 0x1.0p-53; }

static const gsl_rng_type xoshiro_type = {"xoshiro256**", 0xffffffffUL, 0, sizeof(xoshiro_state),
                                          xo_set, xo_get, xo_get_double};

const gsl_rng_type *mist_rng_xoshiro256 = &xoshiro_type;

gsl_rng *mist_rng_alloc(uint64_t seed)
{
    gsl_rng *r = gsl_rng_alloc(mist_rng_xoshiro256);
    if (r) gsl_rng_set(r, (unsigned long)seed);
    return r;
}
