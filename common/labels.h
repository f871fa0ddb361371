/* Human names of the codes that the feeds carry, for text that people read (the report, alert
 * notices): iJw care categories (JZ020) in Dutch and English, and CBS municipality names of the
 * region. One table each, shared by every program that shows them. */
#ifndef JTM_LABELS_H
#define JTM_LABELS_H

typedef enum { JTM_LABEL_NL, JTM_LABEL_EN } jtm_label_lang;

/* "45 ambulant" style label of a care category; an unknown code comes back as the code itself,
 * NULL as "". Never NULL. */
const char *jtm_label_category(jtm_label_lang lang, const char *code);
/* The municipality's name ("Dordrecht" for GM0505), or NULL when the code is not in the table. */
const char *jtm_label_gemeente(const char *code);

#endif
