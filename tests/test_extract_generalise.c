/* The extract's generalisation hierarchy (daemons/jtm-extract/generalise.h) on one hand-made child
 * with two episodes and one of the comparison group: what each level shows, that records of equal
 * children are equal strings whatever the row order, and the loss count. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generalise.h"

/* pid group gemeente sex age path path_class care_levels first_signal first_care repeat episodes
 * care_level category provider referrer requested allocated started ended end_reason rejected
 * decision_days start_days */
static const char *ep1[S_NCOLS] = {"p1", "care", "GM0505", "2", "9", "JGZ>AMB>VERBLIJF", "signal>care", "AMB+VERBLIJF",
                                   "2024-01-05", "2024-03-11", "0", "2", "AMB", "45", "12345670", "02",
                                   "2024-02-02", "2024-02-20", "2024-03-11", "2024-08-30", "31", "0", "18", "20"};
static const char *ep2[S_NCOLS] = {"p1", "care", "GM0505", "2", "9", "JGZ>AMB>VERBLIJF", "signal>care", "AMB+VERBLIJF",
                                   "2024-01-05", "2024-03-11", "0", "2", "VERBLIJF", "43", "12345671", "04",
                                   "2024-09-02", "2024-09-10", "2024-11-04", "", "", "0", "8", "55"};
static const char *cmp[S_NCOLS] = {"p2", "comparison", "GM0363", "1", "2", "", "", "", "", "", "0", "0",
                                   "", "", "", "", "", "", "", "", "", "", "", ""};

static jtm_gen_record gen(const char *const *const *rows, size_t n, int level)
{
    jtm_gen_record r;
    cr_assert_eq(jtm_gen_child((const jtm_gen_src *)rows, n, level, &r), 0);
    return r;
}

static const char *at(const jtm_gen_record *r, size_t row, int col) { return r->rows[row][col]; }

Test(generalise, levels_coarsen_as_documented)
{
    const char *const *care[2] = {ep1, ep2};
    jtm_gen_record r0 = gen(care, 2, 0), r1 = gen(care, 2, 1), r2 = gen(care, 2, 2), r4 = gen(care, 2, 4),
                   r8 = gen(care, 2, JTM_GEN_LEVELS - 1);
    cr_assert_eq(r0.nrows, 2);
    cr_assert_str_eq(at(&r0, 0, G_STARTED), "2024-03");
    cr_assert_str_eq(at(&r0, 1, G_START_WEEKS), "7");
    cr_assert_str_eq(at(&r0, 0, G_AGE_BAND), "4-11");
    cr_assert_str_eq(at(&r1, 1, G_STARTED), "2024-Q4");
    cr_assert_str_eq(at(&r1, 1, G_START_WEEKS), "5-8");
    cr_assert_str_eq(at(&r2, 0, G_STARTED), "2024");
    cr_assert_str_eq(at(&r2, 0, G_PROVIDER), "*");
    cr_assert_str_eq(at(&r2, 0, G_REFERRER), "medical");
    cr_assert_str_eq(at(&r2, 1, G_REFERRER), "legal");
    cr_assert_str_eq(at(&r2, 0, G_END_REASON), "planned");
    cr_assert_str_eq(at(&r2, 1, G_END_REASON), "", "not applicable stays empty");
    cr_assert_str_eq(at(&r2, 0, G_REQUESTED), "*");
    cr_assert_eq(r4.nrows, 1, "one row per child from level 4");
    cr_assert_str_eq(at(&r4, 0, G_CARE_LEVEL), "*");
    cr_assert_str_eq(at(&r4, 0, G_PATH), "JGZ>AMB>VERBLIJF");
    cr_assert_str_eq(at(&r4, 0, G_FIRST_CARE), "2024");
    cr_assert_str_eq(at(&r8, 0, G_CARE_LEVELS), "VERBLIJF", "main level");
    cr_assert_str_eq(at(&r8, 0, G_GEMEENTE), "*");
    cr_assert_str_eq(at(&r8, 0, G_AGE_BAND), "*");
    cr_assert_str_eq(at(&r8, 0, G_GROUP), "care");
    char lvl[8];
    snprintf(lvl, sizeof lvl, "%d", JTM_GEN_LEVELS - 1);
    cr_assert_str_eq(at(&r8, 0, G_LEVEL), lvl);

    /* The record is a set of rows: the order of the episodes does not change it. */
    const char *const *rev[2] = {ep2, ep1};
    jtm_gen_record q0 = gen(rev, 2, 0);
    char *a = jtm_gen_signature(&r0), *b = jtm_gen_signature(&q0), *c = jtm_gen_signature(&r1);
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c);
    /* Loss: nothing at level 0; from level 4 every episode cell and the coarsened dates. */
    long g = 0, cells = 0;
    jtm_gen_loss(&r0, &r0, &g, &cells);
    cr_assert_eq(g, 0);
    cr_assert_gt(cells, 30);
    long g4 = 0;
    jtm_gen_loss(&r0, &r4, &g4, &cells);
    cr_assert_gt(g4, 20);
    cr_assert_lt(g4, cells);
    free(a);
    free(b);
    free(c);
    jtm_gen_record_free(&q0);
    jtm_gen_record_free(&r0);
    jtm_gen_record_free(&r1);
    jtm_gen_record_free(&r2);
    jtm_gen_record_free(&r4);
    jtm_gen_record_free(&r8);
}

Test(generalise, comparison_child_has_no_episode_fields_at_any_level)
{
    const char *const *one[1] = {cmp};
    for (int l = 0; l < JTM_GEN_LEVELS; l++) {
        jtm_gen_record r = gen(one, 1, l);
        cr_assert_eq(r.nrows, 1);
        cr_assert_str_eq(at(&r, 0, G_GROUP), "comparison");
        for (int c = G_FIRST_EPISODE_FIELD; c < G_NCOLS; c++)
            cr_assert_str_eq(at(&r, 0, c), "", "level %d column %d", l, c);
        cr_assert_str_eq(at(&r, 0, G_CARE_LEVELS), "");
        jtm_gen_record_free(&r);
    }
}
