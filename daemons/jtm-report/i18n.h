/* The report's labels: Dutch by default, English with --lang en. Every visible word comes from
 * here, so a missing translation is a compile-time gap in one table, not a stray string in a chart. */
#ifndef JTM_REPORT_I18N_H
#define JTM_REPORT_I18N_H

#include <stddef.h>

typedef enum { JTM_LANG_NL = 0, JTM_LANG_EN = 1 } jtm_lang;

typedef enum {
    M_TITLE,
    M_REGION_ALL,
    M_GEMEENTE,
    M_PERIOD,
    M_PREV_PERIOD,
    M_GENERATED,
    M_PUBLIC_NOTE,
    M_INTERNAL_NOTE,
    M_LEGEND_SUPPRESSED,
    M_LEGEND_SECONDARY,
    M_NO_DATA,
    M_CONTENTS,
    /* routes */
    M_ROUTES,
    M_ROUTES_DESC,
    M_ROUTES_CHILDREN,
    M_ROUTES_STEP,
    M_ROUTES_PUBLIC,
    /* waiting list */
    M_WAITING,
    M_WAITING_DESC,
    M_WAITING_SERIES,
    M_WAITING_BOUND,
    M_WAITING_ALARM,
    M_WAITING_FIRING,
    M_WAITING_NO_ALERTS,
    M_WAITING_REGION_ALERTS,
    M_WEEK,
    /* days */
    M_DAYS,
    M_DAYS_DESC,
    M_DECISION_DAYS,
    M_START_DAYS,
    M_MEDIAN,
    M_IQR,
    M_NORM_DECISION,
    M_NORM_TREEK_INTAKE,
    M_NORM_TREEK_TREAT,
    M_DAYS_UNIT,
    M_QUARTER,
    M_EPISODES,
    /* indicators */
    M_INDICATORS,
    M_INDICATORS_DESC,
    M_COL_GOAL,
    M_COL_INDICATOR,
    M_COL_CURRENT,
    M_COL_PREVIOUS,
    M_COL_CHANGE,
    M_GOAL1,
    M_GOAL2,
    M_GOAL3,
    M_GOAL4,
    M_GOAL5,
    M_IND_JGZ_SEEN,
    M_IND_EARLY_SIGNAL,
    M_IND_REF_MEDICAL,
    M_IND_REF_LOCAL,
    M_IND_SIGNAL_TO_CARE,
    M_IND_DECISION_MEDIAN,
    M_IND_START_MEDIAN,
    M_IND_WAITING_END,
    M_IND_RESIDENTIAL,
    M_IND_REPEAT,
    M_IND_MULTI_PROVIDER,
    M_IND_CROSS_FEED,
    M_IND_PLANNED_END,
    M_PP, /* percentage points */
    /* population */
    M_POPULATION,
    M_POPULATION_DESC,
    M_POPULATION_NO_PC4,
    M_COL_DISTRICT,
    M_COL_AGE,
    M_COL_JGZ,
    M_COL_ABSENCE,
    M_COL_CARE,
    M_COL_RESIDENTIAL,
    M_COL_STARTS,
    M_TOTAL,
    M_FOOTER,
    M__COUNT
} jtm_msg;

/* Parses "nl" or "en". Returns 0 or -1. */
int jtm_lang_parse(const char *s, jtm_lang *out);
const char *jtm_lang_code(jtm_lang lang);
/* The label; never NULL. */
const char *jtm_i18n(jtm_lang lang, jtm_msg msg);
/* The label with every "%d" in it replaced by v (labels are not printf formats). Returns out. */
const char *jtm_i18n_int(jtm_lang lang, jtm_msg msg, int v, char *out, size_t outlen);
/* "45 ambulant" style name of an iJw category (JZ020); unknown codes come back as the code. */
const char *jtm_i18n_category(jtm_lang lang, const char *code);
/* The name of a route stage (JGZ, VERZUIM, AMB, ...); unknown stages come back unchanged. */
const char *jtm_i18n_stage(jtm_lang lang, const char *stage);

#endif
