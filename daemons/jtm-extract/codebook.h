/* The codebook of a study extract: a Frictionless Data package descriptor (datapackage.json,
 * Data Package with one tabular-data-resource and its Table Schema) beside the CSV, so that R
 * (frictionless::read_package), Python (frictionless.Package) and SPSS users (through either) load
 * the columns with their types and value labels. Each field has name, title, description, type,
 * the generalisation applied per level (jtm:generalisation) and, for coded columns, categories
 * (value and label, Table Schema v2) and constraints.enum. "" (not applicable) and "*" (withheld
 * by generalisation) are the missing values. */
#ifndef JTM_EXTRACT_CODEBOOK_H
#define JTM_EXTRACT_CODEBOOK_H

#include <stdio.h>

#include "extract.h"

/* Writes the descriptor for the CSV named csv_name (a path relative to the descriptor). Returns 0
 * or -1. */
int jtm_codebook_write(FILE *out, const jtm_extract_params *p, const char *csv_name, const char *csv_sha256_hex);

#endif
