/* A compact JSON Schema (draft 7) validator for the feed schemas in schemas/.
 *
 * A schema (a jansson value) is compiled once (jtm_schema_compile / jtm_schema_load) into an
 * internal tree; patterns are compiled then too. Instances are flat documents (common/jdoc.h), the
 * form jtm-ingest parses events into: jtm_schema_validate_doc never allocates, never touches the
 * schema JSON and may be called from several threads on the same compiled schema.
 * jtm_schema_validate takes a jansson value instead (tests, tools): it builds the document first.
 *
 * Supported keywords (everything else, including "format"s other than date and date-time, is
 * ignored as the specification says for unknown keywords):
 *   boolean schemas true/false, type (the "integer" type also takes a real with zero fraction),
 *   enum, const (numbers compare by value: 1 == 1.0), minLength, maxLength (Unicode code points),
 *   pattern, format "date" (jtm_date_parse: a real calendar date, years 1900-2199) and "date-time"
 *   (jtm_datetime_check, RFC 3339), minimum, maximum, exclusiveMinimum, exclusiveMaximum,
 *   multipleOf, properties, required, patternProperties, additionalProperties (bool or schema),
 *   items (schema or array form), additionalItems, minItems, maxItems, allOf, anyOf, oneOf, not,
 *   if/then/else, $ref to a JSON pointer in the same document ("#", "#/definitions/x",
 *   "#/$defs/x", any "#/..." pointer; ~0 ~1 and %XX unescaped). $ref replaces its sibling keywords
 *   (draft 7). Not supported: remote $ref and $id base-URI changes (compile fails on a $ref that
 *   is not "#..."), contains, propertyNames, dependencies, min/maxProperties, uniqueItems.
 *
 * Patterns ("pattern", "patternProperties") are ECMA 262 regular expressions, not anchored,
 * compiled by common/pattern.h (see there for the supported syntax).
 *
 * The reason of a failed validation is "schema:<kind>:<path>", the first error met in this fixed
 * order per schema node: $ref, type, const, enum, minLength/maxLength, pattern, format, minimum..,
 * multipleOf, properties and required merged (in the order of "properties", then required names
 * not in "properties"; a missing one is "missing", a present one is validated), patternProperties
 * and additionalProperties (in the instance's key order), minItems/maxItems, items/additionalItems,
 * allOf, anyOf, oneOf, not, if/then/else. Kinds:
 *   missing    a required property is absent          (path = the absent property)
 *   type       wrong JSON type
 *   const      not the const value
 *   enum       not one of the enum values
 *   length     minLength / maxLength
 *   pattern    pattern does not match
 *   format     not a valid date / date-time
 *   range      minimum / maximum / exclusiveMinimum / exclusiveMaximum
 *   multipleof multipleOf
 *   additional a property additionalProperties: false forbids (path = that property)
 *   items      minItems / maxItems, or an item additionalItems: false forbids
 *   anyof, oneof, not   the combinator failed as a whole
 *   false      the instance met a boolean schema false
 *   depth      nesting deeper than JTM_SCHEMA_MAX_DEPTH (a $ref loop without progress)
 * Errors inside properties, patternProperties, additionalProperties (schema form), items, allOf,
 * $ref and then/else are reported as the inner error.
 * Paths are dotted ("client.bsn"), array items as "[i]" ("list[2].x"); the document root is "$".
 * A reason never holds a value. It holds property names from the schema, and an instance's own
 * key only below additionalProperties (false or a schema) or patternProperties: with the open raw
 * feed schemas, a supplier's key never reaches a reason (and so a dead-letter header or log).
 */
#ifndef JTM_SCHEMA_H
#define JTM_SCHEMA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "jdoc.h"

#define JTM_SCHEMA_MAX_DEPTH 64

typedef struct jtm_schema jtm_schema;

/* Compiles doc (not stolen; the result does not keep references to it). Returns NULL and fills
 * errstr on an invalid schema (a keyword of the wrong type, an unparsable pattern, an unresolvable
 * or remote $ref). */
jtm_schema *jtm_schema_compile(json_t *doc, char *errstr, size_t errlen);
/* Reads and compiles a schema file. */
jtm_schema *jtm_schema_load(const char *path, char *errstr, size_t errlen);
void jtm_schema_free(jtm_schema *s);

/* 0 when node root of d is valid; else -1 and reason (if not NULL) gets "schema:<kind>:<path>",
 * truncated to reasonlen. Does not allocate. */
int jtm_schema_validate_doc(const jtm_schema *s, const jtm_jdoc *d, uint32_t root, char *reason, size_t reasonlen);

/* The same for a jansson value (allocates its document; "schema:memory:$" when that fails). */
int jtm_schema_validate(const jtm_schema *s, json_t *instance, char *reason, size_t reasonlen);

#endif
