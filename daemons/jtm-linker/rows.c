#include "rows.h"

#include "copytext.h"

const char *const lk_table_name[LK_TABLES] = {"wh.care_episode", "wh.episode_waiting", "wh.route",
                                              "wh.population_fact"};
const char *const lk_table_columns[LK_TABLES] = {
    "pid, gemeente, category, provider_agb, referrer, requested_on, allocated_on, started_on, ended_on, "
    "end_reason, rejected, invoiced_cents",
    "pid, gemeente, category, waiting_from, waiting_until",
    "pid, gemeente, path, first_signal_on, first_care_on, episodes, repeat_care",
    "pid, gemeente, birth_month, kind, from_month, to_month, residential",
};

static void tab(sbuf *b) { sb_putc(b, '\t'); }

static void episodes(sbuf *b, const char *pid, const lk_derived *d)
{
    for (size_t i = 0; i < d->n_episodes; i++) {
        const lk_episode *e = &d->episodes[i];
        lk_copy_str(b, pid), tab(b);
        lk_copy_str(b, e->gemeente), tab(b);
        lk_copy_str(b, e->category), tab(b);
        lk_copy_str(b, e->provider_agb), tab(b);
        lk_copy_str(b, e->referrer), tab(b);
        lk_copy_date(b, e->requested_on), tab(b);
        lk_copy_date(b, e->allocated_on), tab(b);
        lk_copy_date(b, e->started_on), tab(b);
        lk_copy_date(b, e->ended_on), tab(b);
        lk_copy_str(b, e->end_reason), tab(b);
        lk_copy_bool(b, e->rejected), tab(b);
        if (e->has_invoiced)
            lk_copy_int(b, e->invoiced_cents);
        else
            lk_copy_null(b);
        sb_putc(b, '\n');
    }
}

static void waiting(sbuf *b, const char *pid, const lk_derived *d)
{
    for (size_t i = 0; i < d->n_episodes; i++) {
        int32_t from, until;
        const lk_episode *e = &d->episodes[i];
        if (!lk_episode_waiting(e, &from, &until))
            continue;
        lk_copy_str(b, pid), tab(b);
        lk_copy_str(b, e->gemeente), tab(b);
        lk_copy_str(b, e->category), tab(b);
        lk_copy_date(b, from), tab(b);
        lk_copy_date(b, until);
        sb_putc(b, '\n');
    }
}

static void route(sbuf *b, const char *pid, const lk_derived *d)
{
    const lk_route *r = &d->route;
    if (!r->present)
        return;
    lk_copy_str(b, pid), tab(b);
    lk_copy_str(b, r->gemeente), tab(b);
    lk_copy_str(b, r->path), tab(b);
    lk_copy_date(b, r->first_signal_on), tab(b);
    lk_copy_date(b, r->first_care_on), tab(b);
    lk_copy_int(b, r->episodes), tab(b);
    lk_copy_bool(b, r->repeat_care);
    sb_putc(b, '\n');
}

static void facts(sbuf *b, const char *pid, const lk_derived *d)
{
    static const char *const kinds[] = {"jgz", "absence", "care"};
    for (size_t i = 0; i < d->n_facts; i++) {
        const lk_fact *f = &d->facts[i];
        lk_copy_str(b, pid), tab(b);
        lk_copy_str(b, f->gemeente), tab(b);
        lk_copy_date(b, d->route.birth_month), tab(b);
        sb_puts(b, kinds[f->kind]), tab(b);
        lk_copy_date(b, f->from_month), tab(b);
        lk_copy_date(b, f->to_month), tab(b);
        lk_copy_bool(b, f->residential);
        sb_putc(b, '\n');
    }
}

void lk_rows_append(sbuf *b, int t, const char *pid, const lk_derived *d)
{
    switch (t) {
    case LK_TABLE_EPISODE: episodes(b, pid, d); break;
    case LK_TABLE_WAITING: waiting(b, pid, d); break;
    case LK_TABLE_ROUTE: route(b, pid, d); break;
    case LK_TABLE_FACT: facts(b, pid, d); break;
    default: break;
    }
}
