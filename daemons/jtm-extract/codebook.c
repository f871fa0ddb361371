#include "codebook.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct cat {
    const char *value, *label;
} cat;

typedef struct field {
    const char *name, *type, *title, *description, *generalisation;
    const cat *cats; /* NULL-terminated, or NULL */
    int closed;      /* 1: every value is one of cats (constraints.enum) */
} field;

static const cat groups[] = {{"care", "care: a request, allocation or episode of youth care"},
                             {"comparison", "comparison: known only from JGZ or school absence data"}, {0}};
static const cat levels[] = {{"0", "month, every field"},
                             {"1", "quarter, weeks in bands"},
                             {"2", "year; category, provider, requested, allocated withheld; codes grouped"},
                             {"3", "path class; episodes: care level, start year, end reason group"},
                             {"4", "one row per child, episode fields withheld"},
                             {"5", "as 4, sex and first signal withheld, path class"},
                             {"6", "as 5, gemeente and first care withheld, two age bands"},
                             {"7", "as 6, path, repeat care and episodes withheld, main care level"},
                             {"8", "as 7, age withheld"},
                             {0}};
static const cat sexes[] = {{"0", "unknown"}, {"1", "male"}, {"2", "female"}, {0}};
static const cat ages[] = {{"0-3", "0-3 years"},  {"4-11", "4-11 years"}, {"12-17", "12-17 years"},
                           {"18-23", "18-23 years"}, {"24+", "24 years or older"}, {"0-11", "0-11 years"},
                           {"12+", "12 years or older"}, {"unknown", "birth month unknown"}, {0}};
static const cat yesno[] = {{"0", "no"}, {"1", "yes"}, {0}};
static const cat care_levels[] = {{"AMB", "ambulant or day treatment (41, 45)"}, {"GGZ", "mental health (51, 52, 54)"},
                                  {"VERBLIJF", "residential (43, 44)"}, {"CRISIS", "crisis (46)"},
                                  {"JB", "child protection (48)"}, {"JR", "youth probation (47)"},
                                  {"OVERIG", "other categories"}, {0}};
static const cat categories[] = {
    {"31", "legacy 31"}, {"32", "legacy 32"}, {"33", "legacy 33"}, {"34", "legacy 34"}, {"35", "legacy 35"},
    {"36", "legacy 36"}, {"37", "legacy 37"}, {"38", "legacy 38"},
    {"40", "personal care"}, {"41", "day treatment"}, {"42", "transport"}, {"43", "residential incl. treatment"},
    {"44", "residential excl. treatment"}, {"45", "ambulant"}, {"46", "crisis"}, {"47", "youth probation"},
    {"48", "child protection"}, {"49", "preventive justice"}, {"50", "tailored arrangements"},
    {"51", "basic mental health"}, {"52", "specialist mental health"}, {"53", "paediatrics"},
    {"54", "youth mental health"}, {"55", "nationally purchased care"}, {"OTHER", "rare category (merged)"}, {0}};
static const cat referrers[] = {
    {"01", "municipality / local team"}, {"02", "GP"}, {"03", "youth doctor (JGZ)"},
    {"04", "certified institution"}, {"05", "medical specialist"}, {"06", "self / none"},
    {"08", "court or public prosecutor"}, {"OTHER", "rare referrer (merged)"},
    {"local", "level 2 group: 01"}, {"medical", "level 2 group: 02, 03, 05"}, {"legal", "level 2 group: 04, 08"},
    {"self", "level 2 group: 06"}, {"other", "level 2 group: anything else"}, {0}};
static const cat end_reasons[] = {
    {"02", "death"}, {"20", "temporarily stopped"}, {"31", "as planned"}, {"32", "early by client"},
    {"33", "early by provider"}, {"34", "early by agreement"}, {"35", "external circumstances"},
    {"36", "by municipality"}, {"37", "change request"}, {"38", "switch of provider"},
    {"39", "outflow to another domain"}, {"OTHER", "rare end reason (merged)"},
    {"planned", "level 2 group: 31"}, {"early", "level 2 group: 32-35"}, {"other", "level 2 group: anything else"},
    {0}};

#define PERIOD "YYYY-MM at level 0, YYYY-Qn at 1, YYYY at 2"
static const field fields[] = {
    {"study_pid", "string", "Study pseudonym", "The child's pseudonym for this study (32 hex); unrelated to any other study's.",
     "none", NULL, 0},
    {"group", "string", "Group", "care: the child had youth care (requested or received); comparison: known only from JGZ or school absence data, the denominator.",
     "none", groups, 1},
    {"generalisation", "integer", "Generalisation level", "The level of the hierarchy this child's rows were released at (docs/access.md).",
     "none", levels, 1},
    {"gemeente", "string", "Municipality", "CBS municipality code of the child's latest event.", "from 6: *", NULL, 0},
    {"sex", "integer", "Sex", "client.sex of the latest event.", "from 5: *", sexes, 1},
    {"age_band", "string", "Age band", "Age in years at first care, else at first signal, else on 1 January of the extract year.",
     "levels 0-5: 0-3, 4-11, 12-17, 18-23, 24+; 6-7: 0-11, 12+; 8: *", ages, 1},
    {"path", "string", "Route", "Stage events in date order joined by > (JGZ, VERZUIM, AMB, GGZ, VERBLIJF, CRISIS, JB, JR, OVERIG); OTHER for paths of fewer than rare_min children; empty without stages.",
     "levels 0-2 and 4: the path; 3, 5 and 6: its class: signal (only JGZ/VERZUIM), signal>care (a signal first, then care), care (care first); from 7: *", NULL, 0},
    {"care_levels", "string", "Care levels", "The care levels of the child's started episodes, sorted, joined by +.", "levels 0-6: the set; from 7: the main level (CRISIS, VERBLIJF, JB, JR, GGZ, AMB, OVERIG: the first present)", NULL, 0},
    {"first_signal", "string", "First signal", "Period of the first JGZ or absence stage event.",
     PERIOD "-4, * from 5", NULL, 0},
    {"first_care", "string", "First care", "Period of the first start of care.", PERIOD "-5, * from 6", NULL, 0},
    {"repeat_care", "integer", "Repeat care", "Care started again after an earlier episode had ended (CBS herhaald beroep).",
     "from 7: *", yesno, 1},
    {"episodes", "string", "Episodes", "Number of started care episodes.", "levels 0-1: the number; 2-6: 0, 1, 2, 3+; from 7: *", NULL, 0},
    {"care_level", "string", "Care level of the episode", "Route level of this row's episode.", "from 4: *", care_levels, 1},
    {"category", "string", "iJw category", "Care category (JZ020) of this row's episode.", "from 2: *", categories, 0},
    {"provider", "string", "Provider", "AGB code of the provider; OTHER for providers of fewer than rare_min children.",
     "from 2: *", NULL, 0},
    {"referrer", "string", "Referrer", "Who referred (COD327) the request of this episode.",
     "levels 0-1: the code; 2: grouped; from 3: *", referrers, 0},
    {"requested", "string", "Requested", "Period of the request.", "YYYY-MM at 0, YYYY-Qn at 1, * from 2", NULL, 0},
    {"allocated", "string", "Allocated", "Period of the allocation decision.", "YYYY-MM at 0, YYYY-Qn at 1, * from 2", NULL, 0},
    {"started", "string", "Started", "Period of the start of care.", PERIOD "-3, * from 4", NULL, 0},
    {"ended", "string", "Ended", "Period of the end of care.", PERIOD ", * from 3", NULL, 0},
    {"end_reason", "string", "End reason", "Reason the care ended (JZ588).", "levels 0-1: the code; 2-3: grouped; from 4: *",
     end_reasons, 0},
    {"rejected", "integer", "Rejected", "The request was rejected and no allocation followed.", "from 3: *", yesno, 1},
    {"decision_weeks", "string", "Decision weeks", "Whole weeks from request to allocation.",
     "level 0: the number; 1-2: 0-4, 5-8, 9-13, 14+; from 3: *", NULL, 0},
    {"start_weeks", "string", "Start weeks", "Whole weeks from allocation to start.",
     "level 0: the number; 1-2: 0-4, 5-8, 9-13, 14+; from 3: *", NULL, 0},
};

static json_t *field_json(const field *f)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", f->name, "type", f->type, "title", f->title,
                          "description", f->description, "jtm:generalisation", f->generalisation);
    if (!o || !f->cats)
        return o;
    json_t *cats = json_array(), *en = json_array();
    int integer = strcmp(f->type, "integer") == 0;
    for (const cat *c = f->cats; c->value; c++) {
        json_t *v = integer ? json_integer(atoll(c->value)) : json_string(c->value);
        json_array_append_new(cats, json_pack("{s:O, s:s}", "value", v, "label", c->label));
        json_array_append_new(en, v);
    }
    json_object_set_new(o, "categories", cats);
    if (f->closed)
        json_object_set_new(o, "constraints", json_pack("{s:o}", "enum", en));
    else
        json_decref(en);
    return o;
}

int jtm_codebook_write(FILE *out, const jtm_extract_params *p, const char *csv_name, const char *csv_sha256_hex)
{
    json_t *fs = json_array();
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        json_array_append_new(fs, field_json(&fields[i]));
    char name[80], hash[80];
    snprintf(name, sizeof name, "jtm-study-%s", p->study_id);
    for (char *c = name; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
        else if (*c == '.')
            *c = '-';
    snprintf(hash, sizeof hash, "sha256:%s", csv_sha256_hex ? csv_sha256_hex : "");
    json_t *pkg = json_pack(
        "{s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:o, s:[ss]}}]}",
        "profile", "tabular-data-package", "name", name, "title", "jtm study extract",
        "description",
        "One row per care episode of a child (one row per child without episodes, and from generalisation level 3 on); "
        "a child's rows share study_pid. Every record is shared by at least k children (see the .meta.json). "
        "Empty: not applicable; *: withheld by generalisation.",
        "resources", "name", "extract", "path", csv_name, "profile", "tabular-data-resource", "format", "csv",
        "mediatype", "text/csv", "encoding", "utf-8", "hash", hash, "schema", "fields", fs, "missingValues", "", "*");
    if (!pkg)
        return -1;
    int rc = json_dumpf(pkg, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : -1;
    fputc('\n', out);
    json_decref(pkg);
    return rc;
}
