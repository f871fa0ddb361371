/* The synthetic region's fixed parts: municipalities, schools, providers, products, names, code
 * lists, and the binary event record every other module passes around. Internal to jtm-synth. */
#ifndef JTM_SYNTH_WORLD_H
#define JTM_SYNTH_WORLD_H

#include <stdint.h>

#include "rng.h"
#include "synth.h"

/* One event as a fixed-size record (what the time buckets hold). Dates are days since 1970-01-01,
 * -1 when absent; *_k numbers are per-child counters that emit.c turns into identifiers
 * ("soj.<child>.<k>"); code fields index the tables below. */
typedef struct synth_event {
    int64_t send_at;     /* sort key, seconds since epoch */
    int64_t recorded_at; /* seconds since epoch, written as recorded_at */
    uint64_t seq;        /* tie-break within a second: child << 24 | per-child number */
    uint32_t child;
    uint32_t bsn;        /* 9 digits; 999999999 and 0 are the placeholders */
    int32_t birth, occurred;
    int32_t d1, d2, d3;
    int32_t n1, n2;
    uint32_t id_k, ref_k, ref2_k;
    uint16_t pc4, provider, school, first_name, last_name;
    char pc_letters[2];
    uint8_t pc_space, sex, muni, feed, type, status, dirty, product;
    uint8_t c0, c1;
    uint8_t noise; /* SYNTH_NOISE_* bits, for the statistics */
} synth_event;

#define SYNTH_NOISE_DUP 1
#define SYNTH_NOISE_LATE 2
#define SYNTH_NOISE_PLACEHOLDER 4

#define SYNTH_NONE 0xFFFF

typedef struct synth_product {
    int category;
    const char *code, *unit, *frequency;
    int vol_lo, vol_hi;
    int tariff_cents;   /* per unit */
    double share;       /* within its category */
} synth_product;

typedef struct synth_school {
    char brin[7];
    uint8_t muni, type; /* type: 0 po, 1 vo, 2 mbo, 3 so */
} synth_school;

typedef struct synth_provider {
    char agb[9];
    uint64_t categories; /* bit c set: offers category c (40..55) */
    double weight;
} synth_provider;

typedef struct synth_world {
    const synth_params *p;
    long start_day, end_day; /* window [start_day, end_day) */
    synth_school *schools;
    int n_schools;
    int *po_of_muni[SYNTH_MAX_MUNIS], n_po[SYNTH_MAX_MUNIS];
    int *vo_of_muni[SYNTH_MAX_MUNIS], n_vo[SYNTH_MAX_MUNIS];
    int *mbo, n_mbo, *so, n_so;
    synth_provider *providers;
    int n_providers;
    double muni_cum[SYNTH_MAX_MUNIS];
} synth_world;

/* Code tables (emit.c writes the strings, life.c draws indices). */
extern const char *const synth_moments[];      /* contact moment */
extern const char *const synth_outcomes[];     /* contact outcome */
extern const char *const synth_domains[];
extern const char *const synth_referral_to[];
extern const char *const synth_mazl_triggers[];
extern const char *const synth_mazl_advice[];
extern const char *const synth_melding_kinds[];
extern const char *const synth_school_types[];
extern const char *const synth_articles[];
extern const char *const synth_resolved_outcomes[];
extern const char *const synth_referrers[];
extern const char *const synth_end_reasons[];
extern const char *const synth_first_names_m[], *const synth_first_names_f[], *const synth_last_names[];
extern const int synth_n_first_m, synth_n_first_f, synth_n_last;
extern const synth_product synth_products[];
extern const int synth_n_products;
extern const synth_muni synth_default_munis[];
extern const int synth_n_default_munis;

enum { MOM_GROEP2, MOM_GROEP7, MOM_VO_ONDER, MOM_VO_BOVEN, MOM_INDICATIE, MOM_HUISBEZOEK, MOM_04 };
enum { OUT_GEEN, OUT_ADVIES, OUT_VERVOLG, OUT_VERWIJZING };
enum { KIND_16U, KIND_LRV, KIND_LUXE, KIND_ABSOLUUT, KIND_RMC, KIND_OVERIG };
enum { ST_PO, ST_VO, ST_MBO, ST_SO };

/* Where life.c delivers the events of one child. */
typedef struct synth_sink {
    int (*add)(void *ctx, const synth_event *ev);
    void *ctx;
} synth_sink;

/* Simulates child number `child` of the region and delivers its events (window, noise and
 * placeholders applied) to sink. Returns 0, or the first non-zero sink result. */
int synth_life_child(const synth_world *w, uint32_t child, const synth_sink *sink);

/* Builds schools and providers from the parameters (its own random stream). Returns 0 or -1. */
int synth_world_init(synth_world *w, const synth_params *p, char *errstr, size_t errlen);
void synth_world_free(synth_world *w);
/* Picks a municipality index by population weight. */
int synth_world_pick_muni(const synth_world *w, synth_rng *r);
/* Index of a provider offering category, by weight. */
int synth_world_pick_provider(const synth_world *w, synth_rng *r, int category);
/* Index of a product of category, by share. */
int synth_world_pick_product(synth_rng *r, int category);

#endif
