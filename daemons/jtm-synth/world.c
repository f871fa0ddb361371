/* The fixed parts of the synthetic region: municipalities of Zuid-Holland Zuid with their CBS codes,
 * populations (thousands, 2023, rounded) and postcode ranges; schools; providers; iJw products;
 * the code lists of contracts.md; and the parsing of --municipalities and --spike. */
#include "world.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const synth_feed_names[SYNTH_FEEDS] = {"jgz", "verzuim", "soj"};
const char *const synth_type_names[SYNTH_TYPES] = {"contact", "signal", "referral", "mazl", "melding",
                                                   "vrijstelling", "resolved", "request", "answer",
                                                   "allocation", "start", "stop", "invoice"};
const int synth_type_feed[SYNTH_TYPES] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2};

const char *const synth_moments[] = {"groep2", "groep7", "vo_onderbouw", "vo_bovenbouw",
                                     "indicatie", "huisbezoek", "0-4"};
const char *const synth_outcomes[] = {"geen_zorg", "advies", "vervolg_jgz", "verwijzing"};
const char *const synth_domains[] = {"psychosociaal", "lichamelijk", "gezin", "verzuim", "veiligheid", "overig"};
const char *const synth_referral_to[] = {"huisarts", "jeugdteam", "jeugdhulp", "ggz",
                                         "medisch_specialist", "veilig_thuis", "overig"};
const char *const synth_mazl_triggers[] = {"4_in_12_weeks", "7_consecutive_days", "po_zorgwekkend"};
const char *const synth_mazl_advice[] = {"geen", "aanpassing_school", "verwijzing", "vrijstelling"};
const char *const synth_melding_kinds[] = {"16u_4w", "lrv", "luxe", "absoluut", "rmc", "overig"};
const char *const synth_school_types[] = {"po", "vo", "mbo", "so"};
const char *const synth_articles[] = {"5a", "5b", "5c", "11d", "11g", "15", "3a"};
const char *const synth_resolved_outcomes[] = {"terug_naar_school", "andere_school", "vrijstelling",
                                               "verhuisd", "overig"};
const char *const synth_referrers[] = {"01", "02", "03", "04", "05", "06", "08"};
const char *const synth_end_reasons[] = {"31", "32", "33", "34", "35", "36", "37", "38", "39", "02"};

const char *const synth_first_names_m[] = {"Daan", "Sem", "Lucas", "Levi", "Finn", "Milan", "Noah", "Luuk",
                                           "Bram", "Jesse", "Thijs", "Mohamed", "Adam", "Sven", "Ruben",
                                           "Julian", "Mees", "Gijs", "Ömer", "Stijn", "Tim", "Jayden"};
const char *const synth_first_names_f[] = {"Emma", "Julia", "Mila", "Tess", "Sophie", "Zoë", "Sara", "Nora",
                                           "Eva", "Liv", "Anna", "Noor", "Fleur", "Yara", "Lotte", "Fenna",
                                           "Sanne", "Amira", "Lieke", "Isa", "Roos", "Maud"};
const char *const synth_last_names[] = {"de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker",
                                        "Janssen", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot",
                                        "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer",
                                        "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "Kok",
                                        "Jacobs", "de Haan", "Vermeulen", "van den Heuvel", "Yılmaz",
                                        "El Amrani", "Kaya", "Verhoeven", "Kuipers", "van Vliet", "Sahin",
                                        "Pieterse", "Boers", "'t Hart"};
const int synth_n_first_m = (int)(sizeof synth_first_names_m / sizeof *synth_first_names_m);
const int synth_n_first_f = (int)(sizeof synth_first_names_f / sizeof *synth_first_names_f);
const int synth_n_last = (int)(sizeof synth_last_names / sizeof *synth_last_names);

/* Regional products: unit (WJ756), frequency (WJ757: 2 week, 4 month, 6 total), volume range and
 * tariff per unit. */
const synth_product synth_products[] = {
    {40, "40A01", "04", "2", 1, 4, 6500, 1},
    {41, "41A03", "16", "2", 2, 5, 7500, 1},
    {42, "42A01", "82", "2", 2, 10, 2500, 1},
    {43, "43A10", "14", "2", 7, 7, 28500, 1},
    {44, "44A05", "14", "2", 7, 7, 19500, 1},
    {45, "45A12", "04", "2", 1, 3, 9800, 5},
    {45, "45A20", "04", "6", 10, 60, 9800, 3},
    {45, "45B01", "01", "6", 600, 3000, 165, 2},
    {46, "46A01", "14", "6", 14, 28, 35000, 1},
    {47, "47A01", "82", "4", 1, 1, 95000, 1},
    {48, "48A01", "82", "4", 1, 1, 120000, 3},
    {48, "48B02", "82", "4", 1, 1, 150000, 1},
    {49, "49A01", "04", "6", 5, 20, 9800, 1},
    {50, "50A01", "83", "6", 500, 5000, 100, 1},
    {51, "51A01", "84", "4", 1, 2, 45000, 1},
    {52, "52A01", "01", "6", 1200, 6000, 210, 2},
    {52, "52B03", "04", "2", 1, 2, 12500, 1},
    {53, "53A01", "04", "6", 5, 20, 12000, 1},
    {54, "54A01", "01", "6", 900, 4000, 190, 1},
    {55, "55A01", "14", "2", 7, 7, 40000, 1},
};
const int synth_n_products = (int)(sizeof synth_products / sizeof *synth_products);

const synth_muni synth_default_munis[] = {
    {"GM0482", "Alblasserdam", 20.5, {2951}, {2954}, 1},
    {"GM0505", "Dordrecht", 121, {3311, 3328}, {3319, 3328}, 2},
    {"GM0512", "Gorinchem", 38, {4201}, {4208}, 1},
    {"GM0523", "Hardinxveld-Giessendam", 18.5, {3371}, {3373}, 1},
    {"GM0531", "Hendrik-Ido-Ambacht", 32, {3341}, {3344}, 1},
    {"GM1978", "Molenlanden", 45, {2964, 3381}, {2977, 3381}, 2},
    {"GM0590", "Papendrecht", 32.5, {3351}, {3356}, 1},
    {"GM0610", "Sliedrecht", 26, {3361}, {3364}, 1},
    {"GM1961", "Vijfheerenlanden", 58, {4131, 4141, 4230}, {4133, 4145, 4236}, 3},
    {"GM0642", "Zwijndrecht", 45, {3331}, {3336}, 1},
};
const int synth_n_default_munis = (int)(sizeof synth_default_munis / sizeof *synth_default_munis);

void synth_params_default(synth_params *p)
{
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->children = 20000;
    memcpy(p->munis, synth_default_munis, sizeof synth_default_munis);
    p->n_munis = synth_n_default_munis;
    p->start = (jtm_date){2021, 1, 1};
    p->years = 3;
    p->dirty = 0;
    p->corrections = 0.01;
    p->duplicates = 0.005;
    p->late = 0.01;
    p->placeholders = 0.045;
}

static int is_gm_code(const char *s, size_t n)
{
    if (n != 6 || s[0] != 'G' || s[1] != 'M')
        return 0;
    for (int i = 2; i < 6; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

int synth_parse_municipalities(synth_params *p, const char *list, char *errstr, size_t errlen)
{
    synth_muni out[SYNTH_MAX_MUNIS];
    int n = 0;
    const char *s = list;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char item[128];
        if (len == 0 || len >= sizeof item) {
            snprintf(errstr, errlen, "municipalities: empty or overlong entry");
            return -1;
        }
        memcpy(item, s, len);
        item[len] = '\0';
        if (n == SYNTH_MAX_MUNIS) {
            snprintf(errstr, errlen, "municipalities: at most %d", SYNTH_MAX_MUNIS);
            return -1;
        }
        char *colon = strchr(item, ':');
        size_t codelen = colon ? (size_t)(colon - item) : len;
        if (!is_gm_code(item, codelen)) {
            snprintf(errstr, errlen, "municipalities: %.*s is not GM + 4 digits", (int)codelen, item);
            return -1;
        }
        synth_muni m;
        memset(&m, 0, sizeof m);
        if (!colon) {
            int found = -1;
            for (int i = 0; i < synth_n_default_munis; i++)
                if (strcmp(synth_default_munis[i].code, item) == 0)
                    found = i;
            if (found < 0) {
                snprintf(errstr, errlen, "municipalities: %s is not built in; give it as %s:PC4LO-PC4HI[:weight]",
                         item, item);
                return -1;
            }
            m = synth_default_munis[found];
        } else {
            int lo, hi, used = 0;
            double weight = 30;
            if (sscanf(colon + 1, "%d-%d%n", &lo, &hi, &used) != 2 || lo < 1000 || hi > 9999 || lo > hi) {
                snprintf(errstr, errlen, "municipalities: %s: expected CODE:PC4LO-PC4HI[:weight]", item);
                return -1;
            }
            const char *rest = colon + 1 + used;
            if (*rest) {
                char *end;
                if (*rest != ':' || (weight = strtod(rest + 1, &end)) <= 0 || *end) {
                    snprintf(errstr, errlen, "municipalities: %s: bad weight", item);
                    return -1;
                }
            }
            memcpy(m.code, item, 6);
            snprintf(m.name, sizeof m.name, "%s", m.code);
            m.weight = weight;
            m.pc4_lo[0] = lo;
            m.pc4_hi[0] = hi;
            m.n_ranges = 1;
        }
        for (int i = 0; i < n; i++)
            if (strcmp(out[i].code, m.code) == 0) {
                snprintf(errstr, errlen, "municipalities: %s given twice", m.code);
                return -1;
            }
        out[n++] = m;
        s = e ? e + 1 : s + len;
    }
    if (n == 0) {
        snprintf(errstr, errlen, "municipalities: empty list");
        return -1;
    }
    memcpy(p->munis, out, (size_t)n * sizeof *out);
    p->n_munis = n;
    p->n_spikes = 0; /* spikes name municipalities by index: parse them after this */
    return 0;
}

int synth_parse_spike(synth_params *p, const char *spec, char *errstr, size_t errlen)
{
    char code[8] = "";
    int cat = 0, year = 0, week = 0, used = 0;
    double factor = 3;
    if (p->n_spikes == SYNTH_MAX_SPIKES) {
        snprintf(errstr, errlen, "spike: at most %d", SYNTH_MAX_SPIKES);
        return -1;
    }
    if (sscanf(spec, "%6[A-Z0-9]:%d:%d-W%d%n", code, &cat, &year, &week, &used) != 4 || !is_gm_code(code, strlen(code))) {
        snprintf(errstr, errlen, "spike: expected GMxxxx:CAT:YYYY-Www[:factor], got %s", spec);
        return -1;
    }
    const char *rest = spec + used;
    if (*rest) {
        char *end;
        if (*rest != ':' || (factor = strtod(rest + 1, &end)) < 1 || factor > 100 || *end) {
            snprintf(errstr, errlen, "spike: factor must be a number from 1 to 100");
            return -1;
        }
    }
    int muni = -1;
    for (int i = 0; i < p->n_munis; i++)
        if (strcmp(p->munis[i].code, code) == 0)
            muni = i;
    if (muni < 0) {
        snprintf(errstr, errlen, "spike: %s is not one of the municipalities", code);
        return -1;
    }
    int known = 0;
    for (int i = 0; i < synth_n_products; i++)
        if (synth_products[i].category == cat)
            known = 1;
    if (!known) {
        snprintf(errstr, errlen, "spike: category %d has no products (use 40-55)", cat);
        return -1;
    }
    /* ISO week 1 is the week with January 4th; weeks start on Monday. */
    jtm_date jan4 = {year, 1, 4};
    if (year < 1900 || year > 2199 || week < 1 || week > 53) {
        snprintf(errstr, errlen, "spike: bad ISO week %d-W%02d", year, week);
        return -1;
    }
    long monday1 = jtm_date_to_days(jan4) - jtm_date_weekday(jan4);
    if (week == 53) {
        jtm_date dec28 = {year, 12, 28}; /* always in the last ISO week */
        long last = jtm_date_to_days(dec28) - jtm_date_weekday(dec28);
        if (last != monday1 + 52 * 7) {
            snprintf(errstr, errlen, "spike: %d has no ISO week 53", year);
            return -1;
        }
    }
    synth_spike *sp = &p->spikes[p->n_spikes++];
    sp->muni = muni;
    sp->category = cat;
    sp->first_day = monday1 + (week - 1) * 7L;
    sp->weeks = 6;
    sp->factor = factor;
    return 0;
}

static void make_brin(char out[7], unsigned i, unsigned vestiging)
{
    /* 2 digits + 2 letters + 2 digits (BRIN number plus branch). */
    out[0] = (char)('0' + (1 + i / 676) / 10 % 10);
    out[1] = (char)('0' + (1 + i / 676) % 10);
    out[2] = (char)('A' + i / 26 % 26);
    out[3] = (char)('A' + i % 26);
    out[4] = '0';
    out[5] = (char)('0' + vestiging % 10);
    out[6] = '\0';
}

static int add_school(synth_world *w, int *cap, unsigned id, int muni, int type)
{
    if (w->n_schools == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        synth_school *s = realloc(w->schools, (size_t)*cap * sizeof *s);
        if (!s)
            return -1;
        w->schools = s;
    }
    synth_school *s = &w->schools[w->n_schools];
    make_brin(s->brin, id, (unsigned)(id * 7u % 3u));
    s->muni = (uint8_t)muni;
    s->type = (uint8_t)type;
    return w->n_schools++;
}

static int push_index(int **arr, int *n, int v)
{
    int *a = realloc(*arr, (size_t)(*n + 1) * sizeof *a);
    if (!a)
        return -1;
    a[(*n)++] = v;
    *arr = a;
    return 0;
}

int synth_world_init(synth_world *w, const synth_params *p, char *errstr, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->p = p;
    w->start_day = jtm_date_to_days(p->start);
    jtm_date end = p->start;
    end.year += p->years;
    if (end.month == 2 && end.day == 29)
        end.day = 28;
    w->end_day = jtm_date_to_days(end);
    synth_rng r;
    synth_rng_seed(&r, p->seed, 0xFFFFFFFFull);

    double total = 0;
    for (int i = 0; i < p->n_munis; i++)
        total += p->munis[i].weight;
    double cum = 0;
    for (int i = 0; i < p->n_munis; i++) {
        cum += p->munis[i].weight / total;
        w->muni_cum[i] = cum;
    }
    w->muni_cum[p->n_munis - 1] = 1.0;

    /* Schools: about one primary school per 2,500 inhabitants, one secondary per 15,000. The
     * BRIN numbers are a shuffled sequence, so they do not give away the municipality order. */
    int cap = 0;
    unsigned base = synth_rng_below(&r, 5000);
    unsigned id = 0;
    for (int m = 0; m < p->n_munis; m++) {
        int npo = (int)(p->munis[m].weight / 2.5) + 2, nvo = (int)(p->munis[m].weight / 15) + 1;
        for (int i = 0; i < npo; i++) {
            int s = add_school(w, &cap, (base + (id++) * 7919u) % 40000u, m, ST_PO);
            if (s < 0 || push_index(&w->po_of_muni[m], &w->n_po[m], s) < 0)
                goto oom;
        }
        for (int i = 0; i < nvo; i++) {
            int s = add_school(w, &cap, (base + (id++) * 7919u) % 40000u, m, ST_VO);
            if (s < 0 || push_index(&w->vo_of_muni[m], &w->n_vo[m], s) < 0)
                goto oom;
        }
    }
    /* Regional schools: MBO and special education serve the whole region. */
    for (int i = 0; i < 3; i++) {
        int s = add_school(w, &cap, (base + (id++) * 7919u) % 40000u, i % p->n_munis, ST_MBO);
        if (s < 0 || push_index(&w->mbo, &w->n_mbo, s) < 0)
            goto oom;
    }
    for (int i = 0; i < 4; i++) {
        int s = add_school(w, &cap, (base + (id++) * 7919u) % 40000u, i % p->n_munis, ST_SO);
        if (s < 0 || push_index(&w->so, &w->n_so, s) < 0)
            goto oom;
    }

    /* Providers: a few large generalists and many small specialists (weights fall off as 1/rank). */
    static const uint64_t templates[] = {
        (1ull << 45) | (1ull << 41) | (1ull << 40) | (1ull << 42),            /* ambulant */
        (1ull << 51) | (1ull << 52) | (1ull << 54) | (1ull << 45),            /* ggz */
        (1ull << 43) | (1ull << 44) | (1ull << 46) | (1ull << 45),            /* residential */
        (1ull << 47) | (1ull << 48) | (1ull << 49),                           /* justice (GI) */
        (1ull << 45) | (1ull << 50) | (1ull << 53) | (1ull << 55),            /* other */
    };
    w->n_providers = 36;
    w->providers = calloc((size_t)w->n_providers, sizeof *w->providers);
    if (!w->providers)
        goto oom;
    for (int i = 0; i < w->n_providers; i++) {
        synth_provider *pr = &w->providers[i];
        unsigned agb = 73000000u + (unsigned)i * 2711u + synth_rng_below(&r, 2000);
        snprintf(pr->agb, sizeof pr->agb, "%08u", agb);
        pr->categories = templates[i % 5];
        pr->weight = 1.0 / (1 + i / 5);
    }
    return 0;
oom:
    snprintf(errstr, errlen, "out of memory building the region");
    synth_world_free(w);
    return -1;
}

void synth_world_free(synth_world *w)
{
    free(w->schools);
    for (int m = 0; m < SYNTH_MAX_MUNIS; m++) {
        free(w->po_of_muni[m]);
        free(w->vo_of_muni[m]);
    }
    free(w->mbo);
    free(w->so);
    free(w->providers);
    memset(w, 0, sizeof *w);
}

int synth_world_pick_muni(const synth_world *w, synth_rng *r)
{
    double u = synth_rng_unif(r);
    for (int i = 0; i < w->p->n_munis; i++)
        if (u < w->muni_cum[i])
            return i;
    return w->p->n_munis - 1;
}

int synth_world_pick_provider(const synth_world *w, synth_rng *r, int category)
{
    double total = 0;
    for (int i = 0; i < w->n_providers; i++)
        if (w->providers[i].categories >> category & 1)
            total += w->providers[i].weight;
    double x = synth_rng_unif(r) * total;
    int last = 0;
    for (int i = 0; i < w->n_providers; i++)
        if (w->providers[i].categories >> category & 1) {
            last = i;
            if (x < w->providers[i].weight)
                return i;
            x -= w->providers[i].weight;
        }
    return last;
}

int synth_world_pick_product(synth_rng *r, int category)
{
    double total = 0;
    for (int i = 0; i < synth_n_products; i++)
        if (synth_products[i].category == category)
            total += synth_products[i].share;
    double x = synth_rng_unif(r) * total;
    int last = 0;
    for (int i = 0; i < synth_n_products; i++)
        if (synth_products[i].category == category) {
            last = i;
            if (x < synth_products[i].share)
                return i;
            x -= synth_products[i].share;
        }
    return last;
}
