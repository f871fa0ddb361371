#include "i18n.h"

#include <stdio.h>
#include <string.h>

#include "labels.h"

/* Indexed by jtm_msg, [nl, en]; designated initialisers keep rows and enum in step and a gap
 * shows up as NULL (tests/test_report_svg.c checks that none is left). */
static const char *const messages[M__COUNT][2] = {
    [M_TITLE] = {"Jeugdmonitor: transformatie van de jeugdhulp", "Youth monitor: transformation of youth care"},
    [M_REGION_ALL] = {"Regio (alle gemeenten)", "Region (all municipalities)"},
    [M_GEMEENTE] = {"Gemeente", "Municipality"},
    [M_PERIOD] = {"Periode", "Period"},
    [M_PREV_PERIOD] = {"Vorige periode", "Previous period"},
    [M_GENERATED] = {"Gemaakt op", "Generated on"},
    [M_PUBLIC_NOTE] = {"Openbare versie: aantallen kleiner dan %d staan er als \"<%d\"; met \"x\" is een aantal "
                       "verborgen zodat totalen de kleine aantallen niet verraden. Mediaan en kwartielen alleen "
                       "bij minstens %d waarnemingen.",
                       "Public version: counts below %d are shown as \"<%d\"; \"x\" hides a count so that totals "
                       "do not give small counts away. Medians and quartiles only from %d observations up."},
    [M_INTERNAL_NOTE] = {"Interne versie voor de regio: bevat kleine aantallen, niet verspreiden buiten de regio.",
                         "Internal version for the region: holds small counts, do not share outside the region."},
    [M_LEGEND_SUPPRESSED] = {"kleiner dan de drempel", "below the threshold"},
    [M_LEGEND_SECONDARY] = {"verborgen om terugrekenen te voorkomen", "hidden so it cannot be worked out"},
    [M_NO_DATA] = {"Geen gegevens in deze periode.", "No data in this period."},
    [M_CONTENTS] = {"Inhoud", "Contents"},
    [M_ROUTES] = {"Cliëntroutes", "Client routes"},
    [M_ROUTES_DESC] = {"Kinderen van wie de eerste signalering of zorg in de periode viel, van fase naar fase "
                       "(JGZ-signaal, verzuimmelding, start van zorg per niveau). Breedte naar aantal kinderen; wat niet "
                       "verder stroomt, bleef in die fase.",
                       "Children whose first signal or care fell in the period, from stage to stage (JGZ signal, "
                       "absence report, start of care per level). Width by number of children; what does not flow on stayed "
                       "in that stage."},
    [M_ROUTES_CHILDREN] = {"kinderen", "children"},
    [M_ROUTES_STEP] = {"Stap", "Step"},
    [M_ROUTES_PUBLIC] = {"Routes van minder dan %d kinderen zijn weggelaten.",
                         "Routes of fewer than %d children are left out."},
    [M_WAITING] = {"Wachtlijst per week en categorie", "Waiting list per week and category"},
    [M_WAITING_DESC] = {"Aanvragen en toewijzingen die aan het eind van de week nog niet gestart zijn.",
                        "Requests and allocations not yet started at the end of the week."},
    [M_WAITING_SERIES] = {"wachtend", "waiting"},
    [M_WAITING_BOUND] = {"bovengrens bij alarm (EARS)", "upper bound at alarm (EARS)"},
    [M_WAITING_ALARM] = {"alarm", "alarm"},
    [M_WAITING_FIRING] = {"alarm actief", "alarm active"},
    [M_WAITING_NO_ALERTS] = {"Alarmgegevens zijn (nog) niet beschikbaar in deze database.",
                             "Alert data is not (yet) available in this database."},
    [M_WAITING_REGION_ALERTS] = {"Voor de hele regio: een alarm is gemarkeerd als het in minstens één gemeente "
                                 "afging; bovengrenzen gelden per gemeente en staan in de gemeenterapporten.",
                                 "For the whole region: an alarm is marked when it fired in at least one "
                                 "municipality; upper bounds are per municipality and appear in their reports."},
    [M_WEEK] = {"week", "week"},
    [M_DAYS] = {"Beslisdagen en startdagen", "Decision days and start days"},
    [M_DAYS_DESC] = {"Mediaan (punt) en kwartielen (balk) per categorie en kwartaal, tegen de normen: de gemeente "
                     "beslist binnen 8 weken; Treeknorm: hoogstens 4 weken tot intake en 10 weken van intake tot "
                     "behandeling.",
                     "Median (dot) and quartiles (bar) per category and quarter, against the norms: the "
                     "municipality decides within 8 weeks; Treeknorm: at most 4 weeks to intake and 10 weeks "
                     "from intake to treatment."},
    [M_DECISION_DAYS] = {"Beslisdagen (aanvraag tot toewijzing)", "Decision days (request to allocation)"},
    [M_START_DAYS] = {"Startdagen (toewijzing tot start zorg)", "Start days (allocation to start of care)"},
    [M_MEDIAN] = {"mediaan", "median"},
    [M_IQR] = {"kwartielen", "quartiles"},
    [M_NORM_DECISION] = {"beslistermijn 8 weken", "decision within 8 weeks"},
    [M_NORM_TREEK_INTAKE] = {"Treeknorm 4 weken", "Treeknorm 4 weeks"},
    [M_NORM_TREEK_TREAT] = {"Treeknorm 10 weken", "Treeknorm 10 weeks"},
    [M_DAYS_UNIT] = {"dagen", "days"},
    [M_QUARTER] = {"kwartaal", "quarter"},
    [M_EPISODES] = {"trajecten", "episodes"},
    [M_INDICATORS] = {"Indicatoren voor de vijf transformatiedoelen", "Indicators for the five transformation goals"},
    [M_INDICATORS_DESC] = {"Huidige periode tegen de even lange periode ervoor.",
                           "This period against the period of the same length before it."},
    [M_COL_GOAL] = {"Doel", "Goal"},
    [M_COL_INDICATOR] = {"Indicator", "Indicator"},
    [M_COL_CURRENT] = {"Deze periode", "This period"},
    [M_COL_PREVIOUS] = {"Vorige periode", "Previous period"},
    [M_COL_CHANGE] = {"Verandering", "Change"},
    [M_GOAL1] = {"Preventie en eigen kracht", "Prevention and own strength"},
    [M_GOAL2] = {"Demedicaliseren, normaliseren", "Demedicalise, normalise"},
    [M_GOAL3] = {"Eerder de juiste hulp, dichtbij", "The right help earlier, close to home"},
    [M_GOAL4] = {"Integrale hulp (één gezin, één plan)", "Integrated help (one family, one plan)"},
    [M_GOAL5] = {"Ruimte voor professionals", "Room for professionals"},
    [M_IND_JGZ_SEEN] = {"Kinderen gezien door JGZ (gemiddeld per maand)", "Children seen by JGZ (monthly average)"},
    [M_IND_EARLY_SIGNAL] = {"Aandeel nieuwe zorgcliënten met eerder JGZ- of schoolsignaal",
                            "Share of new care clients with an earlier JGZ or school signal"},
    [M_IND_REF_MEDICAL] = {"Aandeel zorg verwezen door huisarts of medisch specialist",
                           "Share of care referred by GP or medical specialist"},
    [M_IND_REF_LOCAL] = {"Aandeel zorg verwezen door lokaal team of jeugdarts",
                         "Share of care referred by local team or youth doctor"},
    [M_IND_SIGNAL_TO_CARE] = {"Dagen van eerste signaal tot zorg (mediaan)", "Days from first signal to care (median)"},
    [M_IND_DECISION_MEDIAN] = {"Beslisdagen (mediaan)", "Decision days (median)"},
    [M_IND_START_MEDIAN] = {"Startdagen (mediaan)", "Start days (median)"},
    [M_IND_WAITING_END] = {"Wachtenden aan het eind van de periode", "Waiting at the end of the period"},
    [M_IND_RESIDENTIAL] = {"Aandeel verblijf (43, 44) in gestarte zorg", "Residential share (43, 44) of care started"},
    [M_IND_REPEAT] = {"Aandeel herhaald beroep onder kinderen die zorg startten",
                      "Share of repeat care among children starting care"},
    [M_IND_MULTI_PROVIDER] = {"Kinderen met zorg bij meerdere aanbieders tegelijk",
                              "Children in care at several providers at once"},
    [M_IND_CROSS_FEED] = {"Aandeel nieuwe zorgcliënten met route over meerdere bronnen",
                          "Share of new care clients whose route crosses sources"},
    [M_IND_PLANNED_END] = {"Aandeel beëindigd volgens plan (31) tegen voortijdig (32-35)",
                           "Share ended as planned (31) vs. early (32-35)"},
    [M_PP] = {"%-punt", "pp"},
    [M_POPULATION] = {"Bevolking per leeftijdsgroep en wijk", "Population per age band and district"},
    [M_POPULATION_DESC] = {"Kinderen per maand, gemiddeld over de maanden van de periode (afgerond).",
                           "Children per month, averaged over the months of the period (rounded)."},
    [M_POPULATION_NO_PC4] = {"Het warehouse houdt de bevolking bij per gemeente, niet per postcodegebied (pc4): "
                             "de tabel toont daarom gemeenten.",
                             "The warehouse keeps population per municipality, not per postcode area (pc4): "
                             "the table therefore shows municipalities."},
    [M_COL_DISTRICT] = {"Wijk (pc4)", "District (pc4)"},
    [M_COL_AGE] = {"Leeftijd", "Age"},
    [M_COL_JGZ] = {"Gezien door JGZ", "Seen by JGZ"},
    [M_COL_ABSENCE] = {"Verzuimmelding", "Absence report"},
    [M_COL_CARE] = {"In zorg", "In care"},
    [M_COL_RESIDENTIAL] = {"In verblijf", "In residential care"},
    [M_COL_STARTS] = {"Nieuwe zorgstarts", "New care starts"},
    [M_TOTAL] = {"Totaal", "Total"},
    [M_FOOTER] = {"Gemaakt door jtm-report uit het regionale warehouse; gepseudonimiseerde gegevens, geen "
                  "persoonsgegevens.",
                  "Made by jtm-report from the regional warehouse; pseudonymised data, no personal data."},
};

int jtm_lang_parse(const char *s, jtm_lang *out)
{
    if (s && strcmp(s, "nl") == 0) {
        *out = JTM_LANG_NL;
        return 0;
    }
    if (s && strcmp(s, "en") == 0) {
        *out = JTM_LANG_EN;
        return 0;
    }
    return -1;
}

const char *jtm_lang_code(jtm_lang lang) { return lang == JTM_LANG_EN ? "en" : "nl"; }

const char *jtm_i18n(jtm_lang lang, jtm_msg msg)
{
    if ((int)msg < 0 || msg >= M__COUNT)
        return "?";
    const char *s = messages[msg][lang == JTM_LANG_EN ? 1 : 0];
    return s ? s : "?";
}

const char *jtm_i18n_int(jtm_lang lang, jtm_msg msg, int v, char *out, size_t outlen)
{
    const char *s = jtm_i18n(lang, msg);
    char num[16];
    int nl = snprintf(num, sizeof num, "%d", v);
    size_t o = 0;
    if (outlen == 0)
        return out;
    while (*s && o + 1 < outlen) {
        if (s[0] == '%' && s[1] == 'd') {
            for (int i = 0; i < nl && o + 1 < outlen; i++)
                out[o++] = num[i];
            s += 2;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
    return out;
}

const char *jtm_i18n_category(jtm_lang lang, const char *code)
{
    return jtm_label_category(lang == JTM_LANG_EN ? JTM_LABEL_EN : JTM_LABEL_NL, code);
}

static const struct {
    const char *stage, *nl, *en;
} stages[] = {
    {"JGZ", "JGZ-signaal", "JGZ signal"},
    {"VERZUIM", "Verzuim", "Absence"},
    {"AMB", "Ambulant", "Ambulant"},
    {"GGZ", "GGZ", "Mental health"},
    {"VERBLIJF", "Verblijf", "Residential"},
    {"CRISIS", "Crisis", "Crisis"},
    {"JB", "Jeugdbescherming", "Child protection"},
    {"JR", "Jeugdreclassering", "Youth probation"},
    {"OVERIG", "Overig", "Other"},
};

const char *jtm_i18n_stage(jtm_lang lang, const char *stage)
{
    if (!stage)
        return "";
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++)
        if (strcmp(stages[i].stage, stage) == 0)
            return lang == JTM_LANG_EN ? stages[i].en : stages[i].nl;
    return stage;
}
