/*
 * yaml_internal: what cad/yaml.c shares with its fast scanner (cad/yaml_fast.c), its tests
 * and its fuzz targets. Not for other modules: they use cad/yaml.h.
 *
 * The tree builder. yml_file_parse turns parser events into the yml_node tree through the
 * yml_build_* functions below. Two event sources call them: libyaml (the parser of record,
 * for everything) and yml_fast_scan (a scanner for the block-style subset kpt packages are
 * written in, which must produce exactly the events libyaml would, with the same marks).
 * Offsets are bytes into the source text; lines are 0-based (libyaml's marks).
 *
 * Invariants: events nest (start/end balanced, scalars inside a document); a builder error
 * leaves the partial tree owned by the file (freed with it).
 */
#ifndef PORTICO_CAD_YAML_INTERNAL_H
#define PORTICO_CAD_YAML_INTERNAL_H

#include "cad/yaml.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct yml_builder yml_builder;

/* Events. Each returns 0 or a negative ERR_* (the builder's own checks: duplicate keys,
 * depth and node limits, unknown aliases, memory); after an error the parse is abandoned. */
int yml_build_doc_start(yml_builder *b, size_t start);
int yml_build_doc_end(yml_builder *b, size_t start);
/* `value` (len bytes, decoded) is copied. tag and anchor may be NULL. `col`: the byte
 * column of `start` when the caller knows it (as the builder would compute it: bytes since
 * the line's start, a leading byte-order mark not counted), else -1. */
int yml_build_scalar(yml_builder *b, size_t start, size_t end, size_t line, int col,
                     const char *value, size_t len, yml_style style, const char *tag,
                     const char *anchor);
int yml_build_alias(yml_builder *b, size_t start, size_t end, size_t line, size_t column,
                    const char *name);
/* kind YML_MAP or YML_SEQ, style YML_BLOCK or YML_FLOW. */
int yml_build_start(yml_builder *b, yml_kind kind, yml_style style, size_t start, size_t line,
                    int col, const char *tag, const char *anchor);
int yml_build_end(yml_builder *b, size_t end);

/* The fast scanner (yaml_fast.c). Feeds the whole of text[0, len) (text[len] must be 0:
 * the file's own copy of the source) to `b` as libyaml would, or gives up.
 * `printable_ascii`: the caller has checked that the text holds only bytes 0x20-0x7E, '\n'
 * and '\r' (else the scanner checks its characters itself). Returns 0 when every event was
 * delivered, 1 when the text is outside the subset it handles (the builder's state is then
 * meaningless and must be discarded), or the builder's negative error (to be discarded
 * too: libyaml then reports errors). */
int yml_fast_scan(yml_builder *b, const char *text, size_t len, bool printable_ascii);

/* The line of cad/yaml_fast.c where the scanner last gave up on this thread (0: never). */
int yml_fast_last_bail(void);

/* Which parser yml_file_parse_mode uses. */
typedef enum {
  YML_PARSE_AUTO = 0, /* the fast scanner, falling back to libyaml when it gives up */
  YML_PARSE_LIBYAML,  /* libyaml only */
  YML_PARSE_FAST      /* the fast scanner only: ERR_UNSUPPORTED when it gives up */
} yml_parse_mode;

/* yml_file_parse with a chosen parser (yml_file_parse is YML_PARSE_AUTO unless the
 * environment variable PORTICO_YAML_FAST is "0", which forces libyaml). */
int yml_file_parse_mode(yml_file **out, const char *name, const char *text, size_t len,
                        yml_parse_mode mode);

/* Counts, for this thread, of parses the fast scanner completed and of those where it
 * gave up (libyaml then parsed). Either pointer may be NULL. */
void yml_fast_stats(size_t *taken, size_t *bailed);

/* Appends a canonical dump of everything the parser stored (documents, regions, every
 * node's kind, style, tag, anchor, value, spans, line, column, slots), one line per item,
 * so two parses of the same text can be compared. ERR_NOMEM / ERR_LIMIT from the buffer. */
int yml_debug_dump(const yml_file *f, buf *out);

#endif
