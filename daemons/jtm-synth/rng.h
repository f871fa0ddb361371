/* The synthetic region's only source of randomness: xoshiro256** seeded through splitmix64.
 * Every child gets its own streams derived from (seed, stream number), so the output depends on the
 * seed and the parameters only, never on time, addresses or hash order. */
#ifndef JTM_SYNTH_RNG_H
#define JTM_SYNTH_RNG_H

#include <stdint.h>

typedef struct synth_rng {
    uint64_t s[4];
} synth_rng;

static inline uint64_t synth_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t synth_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* Independent stream number `stream` of generator `seed`. */
void synth_rng_seed(synth_rng *r, uint64_t seed, uint64_t stream);

static inline uint64_t synth_rng_next(synth_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = synth_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = synth_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double synth_rng_unif(synth_rng *r) { return (double)(synth_rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n) (n < 2^32; multiply-shift, bias below 2^-32). */
static inline uint32_t synth_rng_below(synth_rng *r, uint32_t n)
{
    return (uint32_t)(((synth_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform integer in [lo, hi]. */
static inline int synth_rng_range(synth_rng *r, int lo, int hi)
{
    return hi <= lo ? lo : lo + (int)synth_rng_below(r, (uint32_t)(hi - lo + 1));
}

static inline int synth_rng_bern(synth_rng *r, double p) { return synth_rng_unif(r) < p; }

/* Standard normal (Box-Muller, one value per call). */
double synth_rng_normal(synth_rng *r);
/* Log-normal with the given median and log-scale sigma. */
double synth_rng_lognormal(synth_rng *r, double median, double sigma);
/* Exponential with the given mean. */
double synth_rng_exp(synth_rng *r, double mean);
/* Index drawn from weights w[0..n-1] (need not sum to 1; at least one > 0). */
int synth_rng_pick(synth_rng *r, const double *w, int n);

#endif
