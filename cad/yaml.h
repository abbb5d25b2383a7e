/*
 * yaml: YAML that keeps what people wrote.
 *
 * Purpose. Packages are edited by machines (functions, merges, `pkg get`) but owned by
 * people. A file nobody changed must come back byte-identical, and a file where one field
 * changed must keep its comments, key order, quoting, indentation and `---` separators
 * everywhere else. kpt gets there with kyaml; this module is Portico's equivalent.
 *
 * How it works. A file is parsed with libyaml's event API (or, for the block-style subset
 * kpt writes, a fast scanner producing the very same events: see yaml.c) into a tree of
 * yml_node (mapping, sequence, scalar, alias). Every node parsed from text keeps a
 * reference to the shared source text and its byte span [start, end) in it (end excludes
 * trailing blanks and line breaks; a block collection's span runs to the end of its last
 * line, so the same-line comment after its last value is included). Editing marks the node
 * and its ancestors "touched". Serialising walks the tree: an untouched node is copied from
 * its source bytes; a touched block collection copies the gaps between its original
 * children (comments, blank lines, indentation) and recurses into them, drops removed
 * children with their head comments, and appends new children in kpt's layout (two-space
 * indentation, block style, sequences "compact" like kyaml's default: the dash under the
 * parent key). A node moved into another place or another file keeps its source and is
 * re-emitted from it, re-indented to its new column. Fresh nodes (no source) are rendered
 * the way kyaml / yaml.v3 write them: plain scalars when that reads back as the same
 * string, otherwise double quotes; multi-line strings as literal blocks.
 *
 * Names. Everything is prefixed yml_ so it never collides with libyaml's yaml_*.
 *
 * Ownership. A yml_file owns its documents; a document owns its root; a collection owns
 * its children. Nodes returned by getters are borrowed (valid until that node is removed
 * or the file freed). Functions that insert a node take ownership of it, also on failure.
 * A node's source text is reference-counted, so a node may outlive the file it came from
 * (yml_node_copy from one file into another is the normal merge pattern).
 *
 * Invariants. After yml_file_parse, yml_file_write on an untouched file reproduces the
 * input exactly. Parsed collections and scalars are never re-quoted or re-styled unless
 * their value was set. Limits: input size (YML_MAX_INPUT), nesting depth (YML_MAX_DEPTH),
 * node count (YML_MAX_NODES); beyond them parsing fails with ERR_LIMIT.
 *
 * Errors: int results per base/error.h. Parse errors are ERR_INVALID with a message
 * "<name>:<line>:<column>: <problem>" (1-based line and column).
 */
#ifndef PORTICO_CAD_YAML_H
#define PORTICO_CAD_YAML_H

#include "base/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define YML_MAX_INPUT ((size_t)64 << 20) /* 64 MiB of YAML per file */
#define YML_MAX_DEPTH 256                /* nesting of collections */
#define YML_MAX_NODES ((size_t)4 << 20)  /* nodes per file */

typedef enum { YML_SCALAR = 1, YML_MAP, YML_SEQ, YML_ALIAS } yml_kind;

/* Presentation style. For scalars: plain, 'single', "double", |literal, >folded. For
 * collections: block or flow ({...} / [...]). YML_STYLE_ANY lets the writer choose. */
typedef enum {
  YML_STYLE_ANY = 0,
  YML_PLAIN,
  YML_SINGLE_QUOTED,
  YML_DOUBLE_QUOTED,
  YML_LITERAL,
  YML_FOLDED,
  YML_BLOCK,
  YML_FLOW
} yml_style;

typedef struct yml_node yml_node;
typedef struct yml_file yml_file;

/* ---- files and documents -------------------------------------------------------------- */

/* Parses `len` bytes of YAML (one or more documents). `name` (borrowed, copied) is used in
 * error messages (a file path). On success *out is a new file; the caller frees it with
 * yml_file_free. Duplicate keys in a mapping are an error (as kyaml). ERR_INVALID with
 * "name:line:col: problem", ERR_LIMIT, ERR_NOMEM; *out untouched on failure. An empty
 * input gives a file with zero documents. */
int yml_file_parse(yml_file **out, const char *name, const char *text, size_t len);

/* A new empty file (no documents, no source). NULL on ERR_NOMEM. */
yml_file *yml_file_new(void);

void yml_file_free(yml_file *f);

/* Appends the serialised file to `out` (see the design note). ERR_LIMIT/ERR_NOMEM from
 * the buffer; `out` may hold a partial write on failure. */
int yml_file_write(const yml_file *f, buf *out);

/* Did anything change since parsing? (false for an untouched parsed file) */
bool yml_file_touched(const yml_file *f);

/* The file's name as given to yml_file_parse (borrowed; "" for new files). */
const char *yml_file_name(const yml_file *f);

size_t yml_file_doc_count(const yml_file *f);

/* Root node of document `i` (borrowed), NULL when out of range or the document is empty. */
yml_node *yml_file_doc(const yml_file *f, size_t i);

/* Appends a new document whose root is `root` (ownership taken). Written after a "---"
 * line when it is not the first document. */
int yml_file_add_doc(yml_file *f, yml_node *root);

/* Inserts a new document at position `i` (clamped to the end); ownership of `root` taken. */
int yml_file_insert_doc(yml_file *f, size_t i, yml_node *root);

/* Replaces the root of document `i` (ownership of `root` taken; the old root is freed). */
int yml_file_set_doc(yml_file *f, size_t i, yml_node *root);

/* Removes document `i` (and its separator and leading comments). */
int yml_file_remove_doc(yml_file *f, size_t i);

/* ---- nodes: inspection ---------------------------------------------------------------- */

yml_kind yml_node_kind(const yml_node *n);
yml_style yml_node_style(const yml_node *n);

/* The node an alias points to (itself for non-aliases). Borrowed; NULL for a dangling
 * alias. */
const yml_node *yml_node_resolve(const yml_node *n);

/* Explicit tag as written ("!!str", "!custom"), or NULL. Borrowed. */
const char *yml_node_tag(const yml_node *n);

/* Anchor name, or NULL. Borrowed. */
const char *yml_node_anchor(const yml_node *n);

/* 1-based line and column where the node starts in its source (0 for fresh nodes). */
int yml_node_line(const yml_node *n);
int yml_node_column(const yml_node *n);

/* A scalar's value (decoded: quotes and escapes resolved). Borrowed, NUL-terminated (a
 * value may contain NUL; use len_out). NULL for non-scalars. */
const char *yml_scalar_value(const yml_node *n, size_t *len_out);

/* Is the scalar a YAML null (plain "", "~", "null", "Null", "NULL", or tag !!null)? */
bool yml_scalar_is_null(const yml_node *n);

/* Is the scalar a string (quoted, block, or tagged !!str, or plain text that resolves to
 * no other type)? */
bool yml_scalar_is_string(const yml_node *n);

/* Number of entries (map) or items (seq); 0 for scalars. */
size_t yml_node_size(const yml_node *n);

/* Map: i-th key and value (borrowed). Seq: yml_seq_at. NULL when out of range. */
yml_node *yml_map_key_at(const yml_node *map, size_t i);
yml_node *yml_map_value_at(const yml_node *map, size_t i);
yml_node *yml_seq_at(const yml_node *seq, size_t i);

/* The value of the entry whose key is the scalar `key`, or NULL. Borrowed. */
yml_node *yml_map_get(const yml_node *map, const char *key);

/* Index of `key` in the map, or -1. */
long yml_map_index(const yml_node *map, const char *key);

/* Follows a path of map keys from `n`: yml_lookup(root, "metadata", "name", NULL). Aliases
 * are resolved on the way. NULL when any step is missing. */
yml_node *yml_lookup(const yml_node *n, ...) __attribute__((sentinel));

/* The string value at a path of keys, or NULL (missing, or not a scalar). Borrowed. */
const char *yml_lookup_str(const yml_node *n, ...) __attribute__((sentinel));

/* Parent collection of a node, NULL for roots and detached nodes. */
yml_node *yml_node_parent(const yml_node *n);

/* Deep structural equality of the data (values, not presentation): scalars compare by
 * resolved value and type, maps by key set regardless of order, seqs item by item. */
bool yml_node_equal(const yml_node *a, const yml_node *b);

/* ---- nodes: construction -------------------------------------------------------------- */

/* Fresh scalar holding `value` (len bytes; copied). Style YML_STYLE_ANY lets the writer
 * choose (plain when it reads back as a string, else double-quoted). NULL on ERR_NOMEM. */
yml_node *yml_scalar_new(const char *value, size_t len, yml_style style);

/* Convenience: a string scalar from a C string (written so it reads back as a string). */
yml_node *yml_str_new(const char *s);

/* A plain scalar that is meant to resolve to a non-string (number, bool, null): written
 * as-is, never quoted. */
yml_node *yml_plain_new(const char *s);

/* Fresh empty mapping / sequence (block style unless YML_FLOW). */
yml_node *yml_map_new(yml_style style);
yml_node *yml_seq_new(yml_style style);

/* Deep copy, keeping source references and styles (so the copy is written with the
 * original's bytes, re-indented). The copy is detached. NULL on ERR_NOMEM. */
yml_node *yml_node_copy(const yml_node *n);

/* Frees a detached node and its subtree. Never call on a node that still has a parent or
 * is a document root (remove it first). NULL is fine. */
void yml_node_free(yml_node *n);

/* ---- nodes: editing ------------------------------------------------------------------- */

/* Replaces a scalar's value, keeping its style where the new value allows it. */
int yml_scalar_set(yml_node *n, const char *value, size_t len);

/* Sets key -> value in a map (value ownership taken, also on failure). An existing entry
 * keeps its place (and the key its comments) and gets the new value; otherwise the entry
 * is appended. ERR_INVALID when `map` is not a map. */
int yml_map_set(yml_node *map, const char *key, yml_node *value);

/* As yml_map_set but a new entry is inserted at position `index` (clamped). */
int yml_map_insert(yml_node *map, size_t index, const char *key, yml_node *value);

/* Sets key to a string scalar (existing scalar kept and re-valued, so its quoting
 * survives; otherwise a fresh string scalar). */
int yml_map_set_str(yml_node *map, const char *key, const char *value);

/* Gets the map at `key`, creating an empty block map when missing (or replacing a null
 * scalar). Borrowed; NULL on failure (ERR_INVALID if the existing value is not a map). */
yml_node *yml_map_ensure_map(yml_node *map, const char *key);

/* Removes the entry `key` (freeing it). ERR_NOTFOUND when absent. */
int yml_map_remove(yml_node *map, const char *key);

/* Removes entry i, freeing it. */
int yml_map_remove_at(yml_node *map, size_t i);

/* Detaches and returns entry i's value (caller owns it), removing the entry. */
yml_node *yml_map_take_at(yml_node *map, size_t i);

/* Appends / inserts an item (ownership taken, also on failure). */
int yml_seq_append(yml_node *seq, yml_node *item);
int yml_seq_insert(yml_node *seq, size_t index, yml_node *item);

/* Removes item i, freeing it. */
int yml_seq_remove_at(yml_node *seq, size_t i);

/* Replaces item i with `item` (ownership taken). */
int yml_seq_set(yml_node *seq, size_t i, yml_node *item);

/* Replaces node `old` (which must have a parent or be a document root) by `repl` in place
 * (ownership of `repl` taken; `old` is freed). */
int yml_node_replace(yml_node *old, yml_node *repl);

/* Sets (or with NULL clears) the comment written after the node's key on the same line:
 * for a map value that is a block collection, `key: # text`, else `key: value # text`.
 * `text` without the leading "# ". The node must be a map value. */
int yml_node_set_line_comment(yml_node *value, const char *text);

/* The same-line comment of a map entry (after the colon or after the value), without the
 * "# ", as a new string the caller frees; NULL when there is none. */
char *yml_node_line_comment(const yml_node *value);

/* Head comments: comment lines written just before a node that is placed somewhere new
 * (a sequence item written fresh, the root of an added document). `text` holds whole
 * lines including their "#", separated by "\n", without a final newline; NULL clears. */
int yml_node_set_head_comment(yml_node *n, const char *text);

/* The comment lines before document i's root in the source (after any "---"), or NULL.
 * Caller frees. */
char *yml_file_doc_head_comment(const yml_file *f, size_t i);

/* The comment lines between item i's dash and the item itself ("- # c\n  a: b"), or NULL.
 * Caller frees. */
char *yml_seq_item_head_comment(const yml_node *seq, size_t i);

/* Sequences created fresh in this file are written "wide" (indented two columns under
 * their key) instead of kyaml's default "compact". */
void yml_file_set_wide_sequences(yml_file *f, bool wide);

/* ---- JSON ----------------------------------------------------------------------------- */

/* The node's data as JSON (new reference): maps -> objects (non-scalar keys are
 * stringified), seqs -> arrays, scalars resolved per YAML 1.2 core schema as kyaml does
 * (null, bool, int, float, else string; quoted and !!str are strings). Aliases resolved
 * (depth-limited). NULL on ERR_NOMEM / ERR_LIMIT. */
json_t *yml_to_json(const yml_node *n);

/* A fresh block-style tree from JSON (strings that would read back as another type are
 * quoted). NULL on ERR_NOMEM. */
yml_node *yml_from_json(const json_t *j);

/* ---- rendering helpers ---------------------------------------------------------------- */

/* Writes a detached or fresh node as a standalone YAML document body (no "---"), at
 * column 0, ending with a newline. */
int yml_node_write(const yml_node *n, buf *out);

/* Would `s` be read back as the same string when written plain? */
bool yml_plain_safe(const char *s, size_t len);

#endif
