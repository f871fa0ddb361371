#include "rng.h"

#include <math.h>

void synth_rng_seed(synth_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t a = synth_splitmix64(&x);
    x = a ^ (stream * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = synth_splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1; /* the all-zero state is the one xoshiro cannot leave */
}

double synth_rng_normal(synth_rng *r)
{
    double u1 = synth_rng_unif(r), u2 = synth_rng_unif(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

double synth_rng_lognormal(synth_rng *r, double median, double sigma)
{
    return median * exp(sigma * synth_rng_normal(r));
}

double synth_rng_exp(synth_rng *r, double mean) { return -mean * log(1.0 - synth_rng_unif(r)); }

int synth_rng_pick(synth_rng *r, const double *w, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    double x = synth_rng_unif(r) * total;
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}
