/* The random stream of every seeded computation in mist: xoshiro256** behind GSL's gsl_rng
 * interface, seeded with all 64 bits (GSL's MT19937 keeps only 32 bits of a seed, so distinct
 * 64-bit seeds could give identical streams). Include only where GSL is included. */
#ifndef MIST_RNG_H
#define MIST_RNG_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

/* The gsl_rng type; gsl_rng_set(r, seed) uses every bit of a 64-bit unsigned long seed. */
extern const gsl_rng_type *mist_rng_xoshiro256;

/* A generator seeded with seed (NULL when out of memory). Free with gsl_rng_free. */
gsl_rng *mist_rng_alloc(uint64_t seed);

#endif
