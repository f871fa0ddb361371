#include "labels.h"

#include <string.h>

static const struct {
    const char *code, *nl, *en;
} categories[] = {
    {"40", "40 persoonlijke verzorging", "40 personal care"},
    {"41", "41 dagbehandeling", "41 day treatment"},
    {"42", "42 vervoer", "42 transport"},
    {"43", "43 verblijf incl. behandeling", "43 residential incl. treatment"},
    {"44", "44 verblijf excl. behandeling", "44 residential excl. treatment"},
    {"45", "45 ambulant", "45 ambulant"},
    {"46", "46 crisis", "46 crisis"},
    {"47", "47 jeugdreclassering", "47 youth probation"},
    {"48", "48 jeugdbescherming", "48 child protection"},
    {"49", "49 preventief justitieel", "49 preventive justice"},
    {"50", "50 maatwerk", "50 tailored arrangements"},
    {"51", "51 basis-GGZ", "51 basic mental health"},
    {"52", "52 specialistische GGZ", "52 specialist mental health"},
    {"53", "53 kindergeneeskunde", "53 paediatrics"},
    {"54", "54 jeugd-GGZ", "54 youth mental health"},
    {"55", "55 landelijk ingekocht", "55 nationally purchased"},
};

const char *jtm_label_category(jtm_label_lang lang, const char *code)
{
    if (!code)
        return "";
    for (size_t i = 0; i < sizeof categories / sizeof categories[0]; i++)
        if (strcmp(categories[i].code, code) == 0)
            return lang == JTM_LABEL_EN ? categories[i].en : categories[i].nl;
    return code;
}

/* The municipalities of the youth-care region Zuid-Holland Zuid (CBS codes of 2023 onwards). A
 * region elsewhere adds its own rows; programs fall back to the code, or to a name in their
 * configuration. */
static const struct {
    const char *code, *name;
} gemeenten[] = {
    {"GM0482", "Alblasserdam"},
    {"GM0505", "Dordrecht"},
    {"GM0512", "Gorinchem"},
    {"GM0523", "Hardinxveld-Giessendam"},
    {"GM0531", "Hendrik-Ido-Ambacht"},
    {"GM0590", "Papendrecht"},
    {"GM0610", "Sliedrecht"},
    {"GM0642", "Zwijndrecht"},
    {"GM1961", "Vijfheerenlanden"},
    {"GM1978", "Molenlanden"},
};

const char *jtm_label_gemeente(const char *code)
{
    if (!code)
        return NULL;
    for (size_t i = 0; i < sizeof gemeenten / sizeof gemeenten[0]; i++)
        if (strcmp(gemeenten[i].code, code) == 0)
            return gemeenten[i].name;
    return NULL;
}
