/*
 * yaml: see yaml.h for the design. Implementation notes:
 *
 * - Two parsers, one tree builder. libyaml is the parser of record: it defines what the
 *   tree of any input is, and every error message. Its event parser alone runs at ~25 MB/s
 *   on a package of Deployments (libfyaml ~16 MB/s), while issue 4 asks for a round trip
 *   (parse + write) of >= 50 MB/s. So yml_file_parse first runs the fast scanner of
 *   yaml_fast.c, which handles the block-style subset kpt packages are written in and
 *   gives up (for the whole file) on anything else, any doubt and every error; libyaml
 *   then parses the file as before. Both feed the same yml_build_* functions below with
 *   the same events (kinds, styles, decoded values, byte marks, lines), so spans, slots
 *   and everything derived from them come from one piece of code. Equivalence is guarded
 *   by test/fuzz/yaml_fastpath.c (differential: for any input the fast scanner gives up or
 *   its tree dumps exactly as libyaml's, via yml_debug_dump, and both write alike) and by
 *   test/unit/cad/test_yaml_fast.c. PORTICO_YAML_FAST=0 in the environment turns the
 *   fast scanner off (bench/pkg.sh reports both figures).
 * - libyaml reports marks as character indexes; handle_event converts them to byte
 *   offsets with a cursor that walks the UTF-8 text (identity for ASCII input).
 * - Parsed nodes, their values, children arrays and slots are carved from an arena owned
 *   by the (reference-counted) source text; a subtree nobody edited is freed by dropping
 *   its node count from the reference count, without a walk (MEM_PURE).
 * - A parsed block collection remembers, per original child, where the child's "key"
 *   begins (the key of a map entry, the dash of a sequence item) and where its value
 *   begins and ends. The writer uses these to copy the text between children (comments,
 *   blank lines) and to drop a removed child together with its head comments.
 * - Spans never include trailing blanks or line breaks; what follows a node up to the next
 *   node belongs to the enclosing collection's gaps.
 */
#include "cad/yaml.h"
#include "cad/yaml_internal.h"

#include "base/error.h"
#include "base/str.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Parsed nodes (and their values, children arrays, slots) are carved from chunks owned by
 * the source text they were parsed from, which every node references: freeing a parsed
 * node frees nothing but its edits, and the chunks go with the last reference. */
typedef struct arena_chunk {
  struct arena_chunk *next;
  size_t used, cap;
  max_align_t data[];
} arena_chunk;

typedef struct yml_src {
  int refs;
  char *text;
  size_t len;
  arena_chunk *chunks; /* newest first */
} yml_src;

/* Which parts of a node live in its source's arena (yml_node.mem). MEM_PURE: the node and
 * its whole subtree are untouched parsed nodes owning no heap memory, `subtree` of them;
 * freeing it is then just dropping that many references (no walk). Every edit below a
 * node clears MEM_PURE on the path to the root (mark_touched, mark_impure). */
enum {
  MEM_NODE = 1,
  MEM_VALUE = 2,
  MEM_KIDS = 4,
  MEM_SLOTS = 8,
  MEM_TAG = 16,
  MEM_ANCHOR = 32,
  MEM_PURE = 64
};

/* Where an original child of a block collection sat in the source. */
typedef struct yml_slot {
  size_t kstart; /* map: key start; seq: the dash */
  size_t vstart; /* value's first byte (its properties included) */
  size_t vend;   /* value's end */
} yml_slot;

struct yml_node {
  yml_kind kind;
  yml_style style;
  char *tag;
  char *anchor;
  char *value; /* scalar value, or alias name */
  size_t len;
  const yml_node *target; /* alias target, borrowed */
  yml_node **kids;        /* seq: items; map: key, value, key, value ... */
  size_t n;               /* number of kids (maps: 2 * entries) */
  size_t cap;
  yml_node *parent;
  /* source */
  yml_src *src;
  size_t pstart, end; /* span, properties included */
  size_t cstart;      /* content start (first key / dash for block collections) */
  int line, col;      /* 1-based line; 0-based byte column of cstart */
  /* original children (block collections) */
  yml_slot *slots;
  size_t nslots;
  const yml_node *slot_owner; /* for keys/items: the collection whose slots index it */
  long slot;                  /* index in slot_owner's slots, -1 if none */
  bool complex_keys; /* a map with explicit ("? ") or non-scalar keys: never spliced */
  bool touched;   /* this node or something below changed */
  bool value_set; /* scalar text must be rendered fresh */
  bool comment_set;
  unsigned char mem; /* MEM_* bits */
  uint32_t subtree;  /* with MEM_PURE: nodes in the subtree, this one included */
  char *line_comment; /* on map keys: comment after the key's colon / value */
  char *head_comment; /* comment lines written before the node when placed fresh */
};

typedef struct yml_doc {
  yml_node *root;
  long orig; /* index of the document in the source, -1 for added documents */
  size_t root_pstart, root_end;
} yml_doc;

struct yml_file {
  char *name;
  yml_src *src;
  yml_doc *docs;
  size_t ndocs, cap;
  size_t *regions; /* nregions+1 offsets: document i of the source is [regions[i], regions[i+1]) */
  size_t nregions;
  bool changed; /* documents added/removed/replaced */
  bool wide;    /* fresh sequences indented under their key */
};

/* ---- small helpers ------------------------------------------------------------------- */

/* Drops `k` references to the source, freeing it (text and arena) with the last. */
static void src_release_n(yml_src *s, size_t k) {
  if (s && (s->refs -= (int)k) == 0) {
    for (arena_chunk *c = s->chunks, *next; c; c = next) {
      next = c->next;
      free(c);
    }
    free(s->text);
    free(s);
  }
}

static void src_release(yml_src *s) { src_release_n(s, 1); }

#define ARENA_ALIGN (sizeof(max_align_t))
#define ARENA_MIN ((size_t)4 << 10)
#define ARENA_MAX ((size_t)8 << 20)

/* A new chunk for arena_alloc: chunks grow geometrically from a size guessed from the
 * text's length. */
static void *arena_grow(yml_src *s, size_t size) {
  size_t cap = s->chunks ? s->chunks->cap * 2 : s->len * 8;
  if (cap < ARENA_MIN)
    cap = ARENA_MIN;
  if (cap > ARENA_MAX)
    cap = ARENA_MAX;
  if (cap < size)
    cap = size;
  arena_chunk *c = malloc(sizeof(*c) + cap);
  if (!c) {
    error_set(ERR_NOMEM, "out of memory");
    return NULL;
  }
  c->used = size;
  c->cap = cap;
  c->next = s->chunks;
  s->chunks = c;
  return c->data;
}

/* `size` bytes from the source's arena (aligned, uninitialised); NULL on ERR_NOMEM. */
static inline void *arena_alloc(yml_src *s, size_t size) {
  size = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
  arena_chunk *c = s->chunks;
  if (__builtin_expect(!c || c->cap - c->used < size, 0))
    return arena_grow(s, size);
  void *p = (char *)c->data + c->used;
  c->used += size;
  return p;
}

/* A zeroed node from the arena, holding a reference to `s`. */
static yml_node *arena_node(yml_src *s, yml_kind kind) {
  yml_node *n = arena_alloc(s, sizeof(*n));
  if (!n)
    return NULL;
  memset(n, 0, sizeof(*n));
  n->kind = kind;
  n->slot = -1;
  n->mem = MEM_NODE;
  n->src = s;
  s->refs++;
  return n;
}

static yml_node *node_alloc(yml_kind kind) {
  yml_node *n = calloc(1, sizeof(*n));
  if (!n) {
    error_set(ERR_NOMEM, "out of memory");
    return NULL;
  }
  n->kind = kind;
  n->slot = -1;
  return n;
}

void yml_node_free(yml_node *n) {
  if (!n)
    return;
  if (n->mem & MEM_PURE) {
    src_release_n(n->src, n->subtree);
    return;
  }
  for (size_t i = 0; i < n->n; i++)
    yml_node_free(n->kids[i]);
  if (!(n->mem & MEM_KIDS))
    free(n->kids);
  if (!(n->mem & MEM_TAG))
    free(n->tag);
  if (!(n->mem & MEM_ANCHOR))
    free(n->anchor);
  if (!(n->mem & MEM_VALUE))
    free(n->value);
  if (!(n->mem & MEM_SLOTS))
    free(n->slots);
  free(n->line_comment);
  free(n->head_comment);
  yml_src *s = n->src;
  if (!(n->mem & MEM_NODE))
    free(n);
  src_release(s); /* last: the node itself may live in this source's arena */
}

/* Room for `extra` more children: from `arena` while parsing, else from the heap. */
static int kids_grow(yml_node *n, size_t extra, yml_src *arena) {
  if (n->n + extra <= n->cap)
    return 0;
  size_t cap = n->cap ? n->cap * 2 : 8;
  while (cap < n->n + extra)
    cap *= 2;
  yml_node **k;
  if (arena || (n->mem & MEM_KIDS)) {
    k = arena ? arena_alloc(arena, cap * sizeof(*k)) : malloc(cap * sizeof(*k));
    if (k && n->n)
      memcpy(k, n->kids, n->n * sizeof(*k));
  } else {
    k = realloc(n->kids, cap * sizeof(*k));
  }
  if (!k)
    return error_set(ERR_NOMEM, "out of memory");
  if (arena)
    n->mem |= MEM_KIDS;
  else
    n->mem &= (unsigned char)~MEM_KIDS;
  n->kids = k;
  n->cap = cap;
  return 0;
}

static int kids_reserve(yml_node *n, size_t extra) { return kids_grow(n, extra, NULL); }

static void mark_touched(yml_node *n) {
  for (; n; n = n->parent) {
    n->touched = true;
    n->mem &= (unsigned char)~MEM_PURE;
  }
}

/* The node now owns heap memory (a comment, a tag): no bulk free for it and above. */
static void mark_impure(yml_node *n) {
  for (; n; n = n->parent)
    n->mem &= (unsigned char)~MEM_PURE;
}

/* Offset of the '\n' ending the line that contains `pos` (or len). */
static size_t eol(const yml_src *s, size_t pos) {
  const char *nl = pos < s->len ? memchr(s->text + pos, '\n', s->len - pos) : NULL;
  return nl ? (size_t)(nl - s->text) : s->len;
}

static int column_of(const yml_src *s, size_t pos) {
  size_t p = pos;
  while (p > 0 && s->text[p - 1] != '\n')
    p--;
  if (p == 0 && pos >= 3 && !memcmp(s->text, "\xEF\xBB\xBF", 3))
    p = 3; /* a byte-order mark takes no column */
  return (int)(pos - p);
}

/* ---- parsing ------------------------------------------------------------------------- */

typedef struct anchor_ent {
  char *name;
  yml_node *node;
} anchor_ent;

struct yml_builder {
  yml_file *f;
  const char *text;
  size_t len;
  bool ascii;
  size_t ci, bi; /* char index / byte offset cursor */
  yml_node *stack[YML_MAX_DEPTH + 1];
  int depth;
  size_t nodes;
  anchor_ent *anchors;
  size_t nanchors, anchors_cap;
  size_t col_pos, col_ls; /* column_at's memory: a position and its line's start */
  bool col_valid;
  bool fast;      /* events come from the fast scanner */
  size_t max_end; /* the largest node end so far */
};
typedef yml_builder parse_ctx;

static size_t utf8_len(unsigned char c) {
  if (c < 0x80)
    return 1;
  if ((c & 0xE0) == 0xC0)
    return 2;
  if ((c & 0xF0) == 0xE0)
    return 3;
  if ((c & 0xF8) == 0xF0)
    return 4;
  return 1;
}

/* Converts libyaml's character index to a byte offset. */
static size_t to_byte(parse_ctx *c, size_t ci) {
  if (c->ascii)
    return ci < c->len ? ci : c->len;
  while (c->ci < ci && c->bi < c->len) {
    c->bi += utf8_len((unsigned char)c->text[c->bi]);
    c->ci++;
  }
  while (c->ci > ci && c->bi > 0) {
    c->bi--;
    while (c->bi > 0 && ((unsigned char)c->text[c->bi] & 0xC0) == 0x80)
      c->bi--;
    c->ci--;
  }
  return c->bi > c->len ? c->len : c->bi;
}

static size_t trim_end(const char *t, size_t start, size_t end) {
  while (end > start && (t[end - 1] == ' ' || t[end - 1] == '\t' || t[end - 1] == '\n' ||
                         t[end - 1] == '\r'))
    end--;
  return end;
}

static void set_source(parse_ctx *c, yml_node *n, size_t pstart, size_t end) {
  n->pstart = pstart;
  n->cstart = pstart;
  n->end = trim_end(c->text, pstart, end);
  if (n->end > c->max_end)
    c->max_end = n->end;
}

static int anchor_add(parse_ctx *c, const char *name, yml_node *n) {
  if (c->nanchors == c->anchors_cap) {
    size_t cap = c->anchors_cap ? c->anchors_cap * 2 : 8;
    anchor_ent *a = realloc(c->anchors, cap * sizeof(*a));
    if (!a)
      return error_set(ERR_NOMEM, "out of memory");
    c->anchors = a;
    c->anchors_cap = cap;
  }
  c->anchors[c->nanchors].name = (char *)name; /* borrowed from the node */
  c->anchors[c->nanchors].node = n;
  c->nanchors++;
  return 0;
}

static const yml_node *anchor_find(parse_ctx *c, const char *name) {
  for (size_t i = c->nanchors; i > 0; i--)
    if (!strcmp(c->anchors[i - 1].name, name))
      return c->anchors[i - 1].node;
  return NULL;
}

static int parse_error(parse_ctx *c, size_t line, size_t col, const char *what) {
  return error_set(ERR_INVALID, "%s:%zu:%zu: %s", c->f->name[0] ? c->f->name : "<input>",
                   line + 1, col + 1, what);
}

static int cmp_str_ptr(const void *a, const void *b) {
  const yml_node *x = *(yml_node *const *)a, *y = *(yml_node *const *)b;
  if (x->len != y->len)
    return x->len < y->len ? -1 : 1;
  return memcmp(x->value, y->value, x->len);
}

/* Called when a mapping is complete: duplicate scalar keys are an error. */
static int check_duplicates(parse_ctx *c, yml_node *map) {
  size_t entries = map->n / 2;
  if (entries < 2)
    return 0;
  if (entries <= 16) { /* small maps: no duplicates is the rule, checked pairwise */
    bool dup = false;
    for (size_t i = 1; i < entries && !dup; i++) {
      const yml_node *a = map->kids[2 * i];
      if (a->kind != YML_SCALAR)
        continue;
      for (size_t j = 0; j < i && !dup; j++) {
        const yml_node *b = map->kids[2 * j];
        dup = b->kind == YML_SCALAR && a->len == b->len && !memcmp(a->value, b->value, a->len);
      }
    }
    if (!dup)
      return 0;
  }
  yml_node **keys = malloc(entries * sizeof(*keys));
  if (!keys)
    return error_set(ERR_NOMEM, "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < entries; i++)
    if (map->kids[2 * i]->kind == YML_SCALAR)
      keys[k++] = map->kids[2 * i];
  qsort(keys, k, sizeof(*keys), cmp_str_ptr);
  int rc = 0;
  for (size_t i = 1; i < k; i++) {
    if (!cmp_str_ptr(&keys[i - 1], &keys[i])) {
      const yml_node *second = keys[i]->pstart > keys[i - 1]->pstart ? keys[i] : keys[i - 1];
      char what[160];
      snprintf(what, sizeof(what), "duplicate key \"%.100s\" in mapping", keys[i]->value);
      rc = parse_error(c, (size_t)second->line - 1, (size_t)second->col, what);
      break;
    }
  }
  free(keys);
  return rc;
}

static bool dash_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || !ch; }

/* The '-' of the block sequence entry whose value starts at `v` in the NUL-terminated text:
 * before it on its line, or ending an earlier line ("- # note" too) after which come only
 * blank and comment lines. Comments are skipped whole (a '-' in one is no dash). */
static size_t find_dash(const char *t, size_t v) {
  size_t p = v;
  while (p > 0 && (t[p - 1] == ' ' || t[p - 1] == '\t'))
    p--;
  if (p > 0 && t[p - 1] == '-')
    return p - 1;
  size_t start = p;
  while (p > 0 && t[p - 1] == '\n') {
    size_t ls = p - 1, i, dash = SIZE_MAX;
    while (ls > 0 && t[ls - 1] != '\n')
      ls--;
    for (i = ls; t[i] == ' ' || t[i] == '\t'; i++)
      ;
    while (t[i] == '-' && dash_blank(t[i + 1])) {
      dash = i++;
      while (t[i] == ' ' || t[i] == '\t')
        i++;
    }
    if (dash != SIZE_MAX)
      return dash;
    if (t[i] != '#' && t[i] != '\n' && t[i] != '\r')
      break;
    p = ls;
  }
  /* not found that way: the nearest '-' before the value */
  p = start;
  while (p > 0 && t[p - 1] != '-')
    p--;
  return p > 0 ? p - 1 : v;
}

/* Records where the original children of a finished block collection sat. */
static int record_slots(parse_ctx *c, yml_node *n) {
  const char *t = c->text;
  size_t count = n->kind == YML_MAP ? n->n / 2 : n->n;
  if (count == 0)
    return 0;
  n->slots = arena_alloc(c->f->src, count * sizeof(*n->slots));
  if (!n->slots)
    return ERR_NOMEM;
  n->mem |= MEM_SLOTS;
  n->nslots = count;
  for (size_t i = 0; i < count; i++) {
    yml_slot *s = &n->slots[i];
    yml_node *v;
    if (n->kind == YML_MAP) {
      yml_node *key = n->kids[2 * i];
      v = n->kids[2 * i + 1];
      s->kstart = key->pstart;
      key->slot_owner = n;
      key->slot = (long)i;
      size_t q = key->pstart;
      while (q > 0 && (t[q - 1] == ' ' || t[q - 1] == '\t'))
        q--;
      if (key->kind != YML_SCALAR || (q > 0 && t[q - 1] == '?'))
        n->complex_keys = true;
    } else {
      v = n->kids[i];
      size_t p = find_dash(t, v->pstart);
      s->kstart = p;
      v->slot_owner = n;
      v->slot = (long)i;
    }
    s->vstart = v->pstart;
    s->vend = v->end;
    if (s->vend < s->vstart)
      s->vend = s->vstart;
  }
  n->cstart = n->slots[0].kstart;
  /* the first key's column, or the first item's less the "- " before it on its line */
  const yml_node *first = n->kids[0];
  size_t gap = n->slots[0].vstart - n->cstart;
  if (n->kind == YML_MAP && first->pstart == n->cstart)
    n->col = first->col;
  else if (n->kind == YML_SEQ && (size_t)first->col >= gap &&
           !memchr(t + n->cstart, '\n', gap))
    n->col = first->col - (int)gap;
  else
    n->col = column_of(c->f->src, n->cstart);
  /* the collection's span ends with the line of its last value */
  size_t last = n->slots[count - 1].vend;
  n->end = trim_end(t, n->pstart, eol(c->f->src, last));
  if (n->end < last)
    n->end = last;
  return 0;
}

static int attach(parse_ctx *c, yml_node *n) {
  if (++c->nodes > YML_MAX_NODES) {
    yml_node_free(n);
    return error_set(ERR_LIMIT, "%s: more than %zu YAML nodes", c->f->name, (size_t)YML_MAX_NODES);
  }
  if (c->depth == 0) {
    yml_doc *d = &c->f->docs[c->f->ndocs - 1];
    d->root = n;
    d->root_pstart = n->pstart;
    d->root_end = n->end;
    return 0;
  }
  yml_node *parent = c->stack[c->depth - 1];
  if (kids_grow(parent, 1, c->f->src)) {
    yml_node_free(n);
    return ERR_NOMEM;
  }
  parent->kids[parent->n++] = n;
  n->parent = parent;
  return 0;
}

static int add_doc_slot(yml_file *f) {
  if (f->ndocs == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 4;
    yml_doc *d = realloc(f->docs, cap * sizeof(*d));
    if (!d)
      return error_set(ERR_NOMEM, "out of memory");
    f->docs = d;
    f->cap = cap;
  }
  memset(&f->docs[f->ndocs], 0, sizeof(yml_doc));
  f->docs[f->ndocs].orig = -1;
  f->ndocs++;
  return 0;
}

static int add_region(yml_file *f, size_t off) {
  size_t *r = realloc(f->regions, (f->nregions + 2) * sizeof(*r));
  if (!r)
    return error_set(ERR_NOMEM, "out of memory");
  f->regions = r;
  f->regions[f->nregions++] = off;
  return 0;
}

/* Keeps a node's span, and its children's, at or before `limit`. */
static void clamp_spans(yml_node *n, size_t limit, int depth) {
  if (depth > YML_MAX_DEPTH + 1)
    return;
  if (n->end > limit)
    n->end = limit;
  if (n->pstart > n->end)
    n->pstart = n->end;
  if (n->cstart > n->end)
    n->cstart = n->end;
  for (size_t i = 0; i < n->nslots; i++) {
    if (n->slots[i].vend > limit)
      n->slots[i].vend = limit;
    if (n->slots[i].vstart > n->slots[i].vend)
      n->slots[i].vstart = n->slots[i].vend;
    if (n->slots[i].kstart > n->slots[i].vstart)
      n->slots[i].kstart = n->slots[i].vstart;
  }
  for (size_t i = 0; i < n->n; i++)
    clamp_spans(n->kids[i], limit, depth + 1);
}

/* ---- the tree builder: one function per parser event ------------------------------ *
 * Both event sources (libyaml below, the fast scanner in yaml_fast.c) call these with
 * byte offsets into the source and 0-based line numbers, so the tree, its spans and its
 * slots are built by the same code whichever parser produced the events. */

int yml_build_doc_start(parse_ctx *c, size_t s) {
  yml_file *f = c->f;
  if (add_doc_slot(f) || add_region(f, f->nregions == 0 ? 0 : s))
    return ERR_NOMEM;
  f->docs[f->ndocs - 1].orig = (long)f->ndocs - 1;
  return 0;
}

int yml_build_doc_end(parse_ctx *c, size_t s) {
  yml_file *f = c->f;
  /* an empty value at the very end of a document is placed by libyaml where the next
   * token is, which can be past this document: keep every span inside it */
  size_t limit = trim_end(c->text, 0, s);
  /* (the fast scanner's spans are well-formed: nothing to clamp unless one passes the end) */
  if (f->ndocs && f->docs[f->ndocs - 1].root && (!c->fast || c->max_end > limit)) {
    yml_doc *d = &f->docs[f->ndocs - 1];
    clamp_spans(d->root, limit, 0);
    if (d->root_end > d->root->end)
      d->root_end = d->root->end;
    if (d->root_pstart > d->root_end)
      d->root_pstart = d->root_end;
  }
  return 0;
}

static inline int anchor_attach(parse_ctx *c, yml_node *n) {
  if (n->anchor && anchor_add(c, n->anchor, n)) {
    yml_node_free(n);
    return ERR_NOMEM;
  }
  return attach(c, n);
}

/* A copy of s[0, len) with a NUL after it, in the arena; NULL on ERR_NOMEM. */
static char *arena_strndup(yml_src *src, const char *s, size_t len) {
  char *d = arena_alloc(src, len + 1);
  if (d) {
    memcpy(d, s, len);
    d[len] = 0;
  }
  return d;
}

/* Sets the node's tag and anchor (copies in the arena). */
static int set_properties(parse_ctx *c, yml_node *n, const char *tag, const char *anchor) {
  if (tag) {
    if (!(n->tag = arena_strndup(c->f->src, tag, strlen(tag))))
      return ERR_NOMEM;
    n->mem |= MEM_TAG;
  }
  if (anchor) {
    if (!(n->anchor = arena_strndup(c->f->src, anchor, strlen(anchor))))
      return ERR_NOMEM;
    n->mem |= MEM_ANCHOR;
  }
  return 0;
}

/* Byte column of `pos` (as column_of), remembering the last line start so that events
 * in text order cost time linear in the text's length, not in its lines' lengths. */
static int column_at(parse_ctx *c, size_t pos) {
  const char *t = c->text;
  if (!c->col_valid || pos < c->col_pos) {
    size_t ls = pos;
    while (ls > 0 && t[ls - 1] != '\n')
      ls--;
    c->col_ls = ls;
    c->col_valid = true;
  } else if (pos > c->col_pos) {
    const char *nl = memrchr(t + c->col_pos, '\n', pos - c->col_pos);
    if (nl)
      c->col_ls = (size_t)(nl - t) + 1;
  }
  c->col_pos = pos;
  size_t ls = c->col_ls;
  if (ls == 0 && pos >= 3 && !memcmp(t, "\xEF\xBB\xBF", 3))
    ls = 3; /* a byte-order mark takes no column */
  return (int)(pos - ls);
}

int yml_build_scalar(parse_ctx *c, size_t s, size_t en, size_t line, int col, const char *value,
                     size_t len, yml_style style, const char *tag, const char *anchor) {
  yml_node *n = arena_node(c->f->src, YML_SCALAR);
  if (!n || !(n->value = arena_strndup(c->f->src, value, len)))
    return ERR_NOMEM;
  n->mem |= MEM_VALUE;
  n->len = len;
  n->style = style;
  if ((tag || anchor) && set_properties(c, n, tag, anchor)) {
    yml_node_free(n);
    return ERR_NOMEM;
  }
  set_source(c, n, s, en);
  n->line = (int)line + 1;
  n->col = col >= 0 ? col : column_at(c, n->pstart);
  n->mem |= MEM_PURE;
  n->subtree = 1;
  return anchor_attach(c, n);
}

int yml_build_alias(parse_ctx *c, size_t s, size_t en, size_t line, size_t column,
                    const char *name) {
  yml_node *n = arena_node(c->f->src, YML_ALIAS);
  if (!n)
    return ERR_NOMEM;
  if (name) {
    if (!(n->value = arena_strndup(c->f->src, name, strlen(name)))) {
      yml_node_free(n);
      return ERR_NOMEM;
    }
    n->mem |= MEM_VALUE;
  }
  n->len = n->value ? strlen(n->value) : 0;
  n->target = n->value ? anchor_find(c, n->value) : NULL;
  set_source(c, n, s, en);
  n->line = (int)line + 1;
  n->col = column_at(c, n->pstart);
  if (!n->target) {
    yml_node_free(n);
    return parse_error(c, line, column, "alias to an unknown anchor");
  }
  n->mem |= MEM_PURE;
  n->subtree = 1;
  return attach(c, n);
}

int yml_build_start(parse_ctx *c, yml_kind kind, yml_style style, size_t s, size_t line, int col,
                    const char *tag, const char *anchor) {
  yml_file *f = c->f;
  if (c->depth >= YML_MAX_DEPTH)
    return error_set(ERR_LIMIT, "%s:%zu: YAML nested deeper than %d", f->name, line + 1,
                     YML_MAX_DEPTH);
  yml_node *n = arena_node(f->src, kind);
  if (!n)
    return ERR_NOMEM;
  n->style = style;
  if ((tag || anchor) && set_properties(c, n, tag, anchor)) {
    yml_node_free(n);
    return ERR_NOMEM;
  }
  n->pstart = n->cstart = s;
  n->end = s;
  n->line = (int)line + 1;
  n->col = col >= 0 ? col : column_at(c, s);
  int rc = anchor_attach(c, n);
  if (rc)
    return rc;
  c->stack[c->depth++] = n;
  return 0;
}

int yml_build_end(parse_ctx *c, size_t en) {
  yml_node *n = c->stack[--c->depth];
  if (n->kind == YML_MAP) {
    int rc = check_duplicates(c, n);
    if (rc)
      return rc;
  }
  if (n->style == YML_FLOW) {
    n->end = trim_end(c->text, n->pstart, en);
  } else if (record_slots(c, n)) {
    return ERR_NOMEM;
  }
  if (n->end > c->max_end)
    c->max_end = n->end;
  uint64_t sub = 1;
  for (size_t i = 0; i < n->n && sub; i++)
    sub = (n->kids[i]->mem & MEM_PURE) ? sub + n->kids[i]->subtree : 0;
  if (sub && sub <= UINT32_MAX) {
    n->mem |= MEM_PURE;
    n->subtree = (uint32_t)sub;
  }
  if (c->depth == 0) {
    yml_doc *d = &c->f->docs[c->f->ndocs - 1];
    d->root_end = n->end;
  }
  return 0;
}

/* libyaml's events, converted (character indexes to byte offsets) and passed on. */
static int handle_event(parse_ctx *c, yaml_event_t *e) {
  size_t s = to_byte(c, e->start_mark.index);
  size_t en = to_byte(c, e->end_mark.index);
  size_t line = e->start_mark.line;
  switch (e->type) {
  case YAML_DOCUMENT_START_EVENT:
    return yml_build_doc_start(c, s);
  case YAML_DOCUMENT_END_EVENT:
    return yml_build_doc_end(c, s);
  case YAML_SCALAR_EVENT: {
    yml_style st;
    switch (e->data.scalar.style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: st = YML_SINGLE_QUOTED; break;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: st = YML_DOUBLE_QUOTED; break;
    case YAML_LITERAL_SCALAR_STYLE: st = YML_LITERAL; break;
    case YAML_FOLDED_SCALAR_STYLE: st = YML_FOLDED; break;
    default: st = YML_PLAIN; break;
    }
    return yml_build_scalar(c, s, en, line, -1, (const char *)e->data.scalar.value,
                            e->data.scalar.length, st, (const char *)e->data.scalar.tag,
                            (const char *)e->data.scalar.anchor);
  }
  case YAML_ALIAS_EVENT:
    return yml_build_alias(c, s, en, line, e->start_mark.column,
                           (const char *)e->data.alias.anchor);
  case YAML_MAPPING_START_EVENT:
    return yml_build_start(c, YML_MAP,
                           e->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE ? YML_FLOW
                                                                                  : YML_BLOCK,
                           s, line, -1, (const char *)e->data.mapping_start.tag,
                           (const char *)e->data.mapping_start.anchor);
  case YAML_SEQUENCE_START_EVENT:
    return yml_build_start(c, YML_SEQ,
                           e->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE ? YML_FLOW
                                                                                    : YML_BLOCK,
                           s, line, -1, (const char *)e->data.sequence_start.tag,
                           (const char *)e->data.sequence_start.anchor);
  case YAML_MAPPING_END_EVENT:
  case YAML_SEQUENCE_END_EVENT:
    return yml_build_end(c, en);
  default:
    return 0;
  }
}

yml_file *yml_file_new(void) {
  yml_file *f = calloc(1, sizeof(*f));
  if (!f) {
    error_set(ERR_NOMEM, "out of memory");
    return NULL;
  }
  f->name = str_dup("");
  if (!f->name) {
    free(f);
    return NULL;
  }
  return f;
}

void yml_file_free(yml_file *f) {
  if (!f)
    return;
  for (size_t i = 0; i < f->ndocs; i++)
    yml_node_free(f->docs[i].root);
  free(f->docs);
  free(f->regions);
  free(f->name);
  src_release(f->src);
  free(f);
}

static _Thread_local size_t fast_taken, fast_bailed;

void yml_fast_stats(size_t *taken, size_t *bailed) {
  if (taken)
    *taken = fast_taken;
  if (bailed)
    *bailed = fast_bailed;
}

/* Forgets every document (after the fast scanner gave up), and the arena with them. */
static void file_drop_docs(yml_file *f) {
  for (size_t i = 0; i < f->ndocs; i++)
    yml_node_free(f->docs[i].root);
  f->ndocs = 0;
  f->nregions = 0;
  if (f->src->refs == 1) {
    for (arena_chunk *c = f->src->chunks, *next; c; c = next) {
      next = c->next;
      free(c);
    }
    f->src->chunks = NULL;
  }
}

/* Runs libyaml over the file's source, building the tree. */
static int parse_libyaml(parse_ctx *c) {
  const char *text = c->text;
  size_t len = c->len;
  c->ascii = true;
  c->ci = c->bi = 0;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)text[i] >= 0x80) {
      c->ascii = false;
      break;
    }
  if (!c->ascii && len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
    /* libyaml (detecting the encoding itself) skips a byte-order mark without counting
     * it as a character or a column */
    c->bi = 3;
  }
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p))
    return error_set(ERR_NOMEM, "out of memory");
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  int rc = 0;
  for (;;) {
    yaml_event_t e;
    if (!yaml_parser_parse(&p, &e)) {
      const char *what = p.problem ? p.problem : "invalid YAML";
      char msg[256];
      if (p.context)
        snprintf(msg, sizeof(msg), "%s %s", p.context, what);
      else
        snprintf(msg, sizeof(msg), "%s", what);
      rc = parse_error(c, p.problem_mark.line, p.problem_mark.column, msg);
      break;
    }
    bool end = e.type == YAML_STREAM_END_EVENT;
    rc = handle_event(c, &e);
    yaml_event_delete(&e);
    if (rc || end)
      break;
  }
  yaml_parser_delete(&p);
  return rc;
}

enum { TEXT_CR = 1, TEXT_CTRL = 2, TEXT_HIGH = 4 };

/* Which kinds of bytes the text holds: TEXT_CR ('\r'), TEXT_CTRL (other control bytes,
 * tabs, DEL), TEXT_HIGH (non-ASCII). Sixteen bytes at a time (GCC/Clang vectors). */
typedef unsigned char v16u __attribute__((vector_size(16)));

static unsigned text_classes(const char *text, size_t len) {
  const v16u k7f = {0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f,
                    0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f};
  const v16u k20 = {0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
                    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20};
  const v16u kcr = {13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13};
  const v16u knl = {10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10};
  v16u cr = {0}, ctrl = {0}, high = {0};
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
    v16u v;
    memcpy(&v, text + i, 16);
    high |= v > k7f;
    cr |= v == kcr;
    ctrl |= ((v < k20) & (v != knl) & (v != kcr)) | (v == k7f);
  }
  unsigned acc = 0;
  for (int k = 0; k < 16; k++)
    acc |= (cr[k] ? TEXT_CR : 0) | (ctrl[k] ? TEXT_CTRL : 0) | (high[k] ? TEXT_HIGH : 0);
  for (; i < len; i++) {
    unsigned char ch = (unsigned char)text[i];
    acc |= ch >= 0x80 ? TEXT_HIGH : ch == '\r' ? TEXT_CR : (ch < 0x20 && ch != '\n') || ch == 0x7f ? TEXT_CTRL : 0;
  }
  return acc;
}

static bool fast_disabled(void) {
  const char *v = getenv("PORTICO_YAML_FAST");
  return v && !strcmp(v, "0");
}

int yml_file_parse(yml_file **out, const char *name, const char *text, size_t len) {
  return yml_file_parse_mode(out, name, text, len,
                             fast_disabled() ? YML_PARSE_LIBYAML : YML_PARSE_AUTO);
}

int yml_file_parse_mode(yml_file **out, const char *name, const char *text, size_t len,
                        yml_parse_mode mode) {
  if (len > YML_MAX_INPUT)
    return error_set(ERR_LIMIT, "%s: YAML input larger than %zu bytes", name ? name : "<input>",
                     (size_t)YML_MAX_INPUT);
  if (len >= 2 && (((unsigned char)text[0] == 0xFF && (unsigned char)text[1] == 0xFE) ||
                   ((unsigned char)text[0] == 0xFE && (unsigned char)text[1] == 0xFF)))
    return error_set(ERR_INVALID, "%s:1:1: only UTF-8 YAML is supported", name ? name : "<input>");
  unsigned cls = text_classes(text, len);
  /* line breaks other than \n and \r\n (a bare \r, NEL, LS, PS) are YAML 1.1 line
   * breaks to libyaml but not to the text layer here: refused */
  for (size_t i = 0, line = 1; (cls & (TEXT_CR | TEXT_HIGH)) && i < len; i++) {
    unsigned char ch = (unsigned char)text[i];
    bool odd = (ch == '\r' && (i + 1 >= len || text[i + 1] != '\n')) ||
               (ch == 0xC2 && i + 1 < len && (unsigned char)text[i + 1] == 0x85) ||
               (ch == 0xE2 && i + 2 < len && (unsigned char)text[i + 1] == 0x80 &&
                ((unsigned char)text[i + 2] == 0xA8 || (unsigned char)text[i + 2] == 0xA9));
    if (odd)
      return error_set(ERR_INVALID, "%s:%zu: unsupported line break (only \\n and \\r\\n)",
                       name ? name : "<input>", line);
    line += ch == '\n';
  }
  if (len > 3 && (cls & TEXT_HIGH)) {
    const char *bom = memmem(text + 1, len - 1, "\xEF\xBB\xBF", 3);
    if (bom) {
      size_t line = 1;
      for (const char *q = text; q < bom; q++)
        line += *q == '\n';
      return error_set(ERR_INVALID, "%s:%zu: byte-order mark inside the text", name ? name : "<input>",
                       line);
    }
  }
  yml_file *f = yml_file_new();
  if (!f)
    return ERR_NOMEM;
  free(f->name);
  f->name = str_dup(name ? name : "");
  f->src = calloc(1, sizeof(*f->src));
  if (!f->name || !f->src || !(f->src->text = malloc(len + 1))) {
    yml_file_free(f);
    return error_set(ERR_NOMEM, "out of memory");
  }
  f->src->refs = 1;
  memcpy(f->src->text, text, len);
  f->src->text[len] = 0;
  f->src->len = len;

  parse_ctx c;
  memset(&c, 0, sizeof(c));
  c.f = f;
  c.text = f->src->text;
  c.len = len;
  int rc = 1;
  if (mode != YML_PARSE_LIBYAML) {
    c.fast = true;
    rc = yml_fast_scan(&c, c.text, len, !(cls & (TEXT_CR | TEXT_CTRL | TEXT_HIGH)));
    if (rc == 0) {
      fast_taken++;
    } else {
      fast_bailed++;
      file_drop_docs(f);
      c.depth = 0;
      c.nodes = 0;
      c.nanchors = 0;
      c.col_valid = false;
      c.fast = false;
      c.max_end = 0;
      if (mode == YML_PARSE_FAST) {
        free(c.anchors);
        yml_file_free(f);
        return error_set(ERR_UNSUPPORTED, "%s: outside the fast YAML subset",
                         name ? name : "<input>");
      }
    }
  }
  if (rc != 0)
    rc = parse_libyaml(&c);
  free(c.anchors);
  if (rc) {
    yml_file_free(f);
    return rc;
  }
  if (add_region(f, len)) {
    yml_file_free(f);
    return ERR_NOMEM;
  }
  f->nregions--; /* regions[nregions] is the end sentinel */
  *out = f;
  return 0;
}

const char *yml_file_name(const yml_file *f) { return f->name; }
size_t yml_file_doc_count(const yml_file *f) { return f->ndocs; }

yml_node *yml_file_doc(const yml_file *f, size_t i) {
  return i < f->ndocs ? f->docs[i].root : NULL;
}

bool yml_file_touched(const yml_file *f) {
  if (f->changed)
    return true;
  for (size_t i = 0; i < f->ndocs; i++)
    if (f->docs[i].root && f->docs[i].root->touched)
      return true;
  return false;
}

int yml_file_add_doc(yml_file *f, yml_node *root) {
  if (add_doc_slot(f)) {
    yml_node_free(root);
    return ERR_NOMEM;
  }
  f->docs[f->ndocs - 1].root = root;
  f->changed = true;
  return 0;
}

int yml_file_insert_doc(yml_file *f, size_t i, yml_node *root) {
  if (add_doc_slot(f)) {
    yml_node_free(root);
    return ERR_NOMEM;
  }
  if (i >= f->ndocs)
    i = f->ndocs - 1;
  memmove(&f->docs[i + 1], &f->docs[i], (f->ndocs - 1 - i) * sizeof(yml_doc));
  memset(&f->docs[i], 0, sizeof(yml_doc));
  f->docs[i].orig = -1;
  f->docs[i].root = root;
  f->changed = true;
  return 0;
}

int yml_file_set_doc(yml_file *f, size_t i, yml_node *root) {
  if (i >= f->ndocs) {
    yml_node_free(root);
    return error_set(ERR_INVALID, "no document %zu", i);
  }
  yml_node_free(f->docs[i].root);
  f->docs[i].root = root;
  f->changed = true;
  return 0;
}

int yml_file_remove_doc(yml_file *f, size_t i) {
  if (i >= f->ndocs)
    return error_set(ERR_INVALID, "no document %zu", i);
  yml_node_free(f->docs[i].root);
  memmove(&f->docs[i], &f->docs[i + 1], (f->ndocs - i - 1) * sizeof(yml_doc));
  f->ndocs--;
  f->changed = true;
  return 0;
}

/* ---- inspection ---------------------------------------------------------------------- */

yml_kind yml_node_kind(const yml_node *n) { return n->kind; }
yml_style yml_node_style(const yml_node *n) { return n->style; }
const char *yml_node_tag(const yml_node *n) { return n->tag; }
const char *yml_node_anchor(const yml_node *n) { return n->anchor; }
int yml_node_line(const yml_node *n) { return n->src ? n->line : 0; }
int yml_node_column(const yml_node *n) { return n->src ? n->col + 1 : 0; }
yml_node *yml_node_parent(const yml_node *n) { return n->parent; }

const yml_node *yml_node_resolve(const yml_node *n) {
  for (int i = 0; n && n->kind == YML_ALIAS && i < 64; i++)
    n = n->target;
  return n && n->kind == YML_ALIAS ? NULL : n;
}

const char *yml_scalar_value(const yml_node *n, size_t *len_out) {
  n = n ? yml_node_resolve(n) : NULL;
  if (!n || n->kind != YML_SCALAR)
    return NULL;
  if (len_out)
    *len_out = n->len;
  return n->value ? n->value : "";
}

size_t yml_node_size(const yml_node *n) {
  if (!n)
    return 0;
  if (n->kind == YML_MAP)
    return n->n / 2;
  if (n->kind == YML_SEQ)
    return n->n;
  return 0;
}

yml_node *yml_map_key_at(const yml_node *m, size_t i) {
  return m && m->kind == YML_MAP && i < m->n / 2 ? m->kids[2 * i] : NULL;
}

yml_node *yml_map_value_at(const yml_node *m, size_t i) {
  return m && m->kind == YML_MAP && i < m->n / 2 ? m->kids[2 * i + 1] : NULL;
}

yml_node *yml_seq_at(const yml_node *s, size_t i) {
  return s && s->kind == YML_SEQ && i < s->n ? s->kids[i] : NULL;
}

long yml_map_index(const yml_node *m, const char *key) {
  if (!m || m->kind != YML_MAP)
    return -1;
  size_t kl = strlen(key);
  for (size_t i = 0; i < m->n / 2; i++) {
    const yml_node *k = m->kids[2 * i];
    if (k->kind == YML_SCALAR && k->len == kl && !memcmp(k->value, key, kl))
      return (long)i;
  }
  return -1;
}

yml_node *yml_map_get(const yml_node *m, const char *key) {
  m = m ? yml_node_resolve(m) : NULL;
  long i = yml_map_index(m, key);
  return i < 0 ? NULL : m->kids[2 * i + 1];
}

static yml_node *lookup_v(const yml_node *n, va_list ap) {
  const char *k;
  while (n && (k = va_arg(ap, const char *)) != NULL) {
    n = yml_node_resolve(n);
    n = n ? yml_map_get(n, k) : NULL;
  }
  return n ? (yml_node *)yml_node_resolve(n) : NULL;
}

yml_node *yml_lookup(const yml_node *n, ...) {
  va_list ap;
  va_start(ap, n);
  yml_node *r = lookup_v(n, ap);
  va_end(ap);
  return r;
}

const char *yml_lookup_str(const yml_node *n, ...) {
  va_list ap;
  va_start(ap, n);
  yml_node *r = lookup_v(n, ap);
  va_end(ap);
  if (!r || r->kind != YML_SCALAR || yml_scalar_is_null(r))
    return NULL;
  return r->value ? r->value : "";
}

/* ---- scalar resolution (YAML 1.2 core schema, as yaml.v3) ---------------------------- */

typedef enum { RES_STR, RES_NULL, RES_BOOL, RES_INT, RES_FLOAT } res_type;

static bool is_int_text(const char *s) {
  if (*s == '-' || *s == '+')
    s++;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
    s += 2;
    if (!*s)
      return false;
    for (; *s; s++)
      if (!isxdigit((unsigned char)*s) && *s != '_')
        return false;
    return true;
  }
  if (!*s)
    return false;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s) && *s != '_')
      return false;
  return true;
}

static bool is_float_text(const char *s) {
  static const char *special[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                                  "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"};
  for (size_t i = 0; i < sizeof(special) / sizeof(*special); i++)
    if (!strcmp(s, special[i]))
      return true;
  const char *p = s;
  if (*p == '-' || *p == '+')
    p++;
  bool digits = false, dot = false;
  while (isdigit((unsigned char)*p) || *p == '_' || (*p == '.' && !dot)) {
    if (*p == '.')
      dot = true;
    else if (*p != '_')
      digits = true;
    p++;
  }
  if (!digits)
    return false;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '-' || *p == '+')
      p++;
    if (!isdigit((unsigned char)*p))
      return false;
    while (isdigit((unsigned char)*p))
      p++;
  } else if (!dot) {
    return false;
  }
  return *p == 0;
}

static res_type resolve_plain(const char *v, size_t len) {
  if (strlen(v) != len)
    return RES_STR;
  if (len == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
      !strcmp(v, "NULL"))
    return RES_NULL;
  if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE") || !strcmp(v, "false") ||
      !strcmp(v, "False") || !strcmp(v, "FALSE"))
    return RES_BOOL;
  if (is_int_text(v))
    return RES_INT;
  if (is_float_text(v))
    return RES_FLOAT;
  return RES_STR;
}

static res_type resolve_node(const yml_node *n) {
  if (n->tag) {
    if (!strcmp(n->tag, "tag:yaml.org,2002:str") || !strcmp(n->tag, "!!str"))
      return RES_STR;
    if (!strcmp(n->tag, "tag:yaml.org,2002:null") || !strcmp(n->tag, "!!null"))
      return RES_NULL;
    if (!strcmp(n->tag, "tag:yaml.org,2002:bool") || !strcmp(n->tag, "!!bool"))
      return RES_BOOL;
    if (!strcmp(n->tag, "tag:yaml.org,2002:int") || !strcmp(n->tag, "!!int"))
      return RES_INT;
    if (!strcmp(n->tag, "tag:yaml.org,2002:float") || !strcmp(n->tag, "!!float"))
      return RES_FLOAT;
  }
  if (n->style != YML_PLAIN)
    return RES_STR;
  return resolve_plain(n->value ? n->value : "", n->len);
}

bool yml_scalar_is_null(const yml_node *n) {
  n = n ? yml_node_resolve(n) : NULL;
  return n && n->kind == YML_SCALAR && resolve_node(n) == RES_NULL;
}

bool yml_scalar_is_string(const yml_node *n) {
  n = n ? yml_node_resolve(n) : NULL;
  return n && n->kind == YML_SCALAR && resolve_node(n) == RES_STR;
}

/* yaml.v3 also quotes YAML 1.1 booleans so that old parsers read them as strings. */
static bool is_old_bool(const char *s) {
  static const char *words[] = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                "on", "On", "ON", "off", "Off", "OFF"};
  for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
    if (!strcmp(s, words[i]))
      return true;
  return false;
}

bool yml_plain_safe(const char *s, size_t len) {
  if (len == 0 || strlen(s) != len)
    return false;
  if (resolve_plain(s, len) != RES_STR || is_old_bool(s))
    return false;
  unsigned char c0 = (unsigned char)s[0];
  if (strchr("-?:,[]{}#&*!|>'\"%@`", c0)) {
    /* "-x", "?x", ":x" are plain when followed by a non-space; keep it simple like v3 */
    if (!((c0 == '-' || c0 == '?' || c0 == ':') && len > 1 && s[1] != ' '))
      return false;
    if (c0 == '-' && len >= 3 && !strncmp(s, "---", 3))
      return false;
  }
  if (s[0] == ' ' || s[len - 1] == ' ' || s[0] == '\t' || s[len - 1] == '\t')
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f)
      return false;
    if (c == ':' && (i + 1 == len || s[i + 1] == ' ' || s[i + 1] == ','))
      return false;
    if (c == '#' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
      return false;
  }
  if (len >= 3 && !strncmp(s, "...", 3)) /* as yaml.v3: a document marker at column 0 */
    return false;
  return true;
}

/* ---- equality ------------------------------------------------------------------------ */

static bool scalar_equal(const yml_node *a, const yml_node *b) {
  res_type ta = resolve_node(a), tb = resolve_node(b);
  if (ta != tb)
    return false;
  if (ta == RES_NULL)
    return true;
  return a->len == b->len && !memcmp(a->value ? a->value : "", b->value ? b->value : "", a->len);
}

static bool equal_depth(const yml_node *a, const yml_node *b, int depth) {
  if (depth > YML_MAX_DEPTH)
    return false;
  a = a ? yml_node_resolve(a) : NULL;
  b = b ? yml_node_resolve(b) : NULL;
  if (!a || !b)
    return a == b;
  if (a->kind != b->kind)
    return false;
  switch (a->kind) {
  case YML_SCALAR:
    return scalar_equal(a, b);
  case YML_SEQ:
    if (a->n != b->n)
      return false;
    for (size_t i = 0; i < a->n; i++)
      if (!equal_depth(a->kids[i], b->kids[i], depth + 1))
        return false;
    return true;
  case YML_MAP:
    if (a->n != b->n)
      return false;
    for (size_t i = 0; i < a->n / 2; i++) {
      const yml_node *ka = a->kids[2 * i];
      if (ka->kind != YML_SCALAR) {
        /* a collection as a key: compare entry by entry at the same place */
        if (!equal_depth(ka, b->kids[2 * i], depth + 1) ||
            !equal_depth(a->kids[2 * i + 1], b->kids[2 * i + 1], depth + 1))
          return false;
        continue;
      }
      const yml_node *vb = yml_map_get(b, ka->value);
      if (!vb || !equal_depth(a->kids[2 * i + 1], vb, depth + 1))
        return false;
    }
    return true;
  default:
    return false;
  }
}

bool yml_node_equal(const yml_node *a, const yml_node *b) { return equal_depth(a, b, 0); }

/* ---- construction -------------------------------------------------------------------- */

yml_node *yml_scalar_new(const char *value, size_t len, yml_style style) {
  yml_node *n = node_alloc(YML_SCALAR);
  if (!n)
    return NULL;
  n->value = str_ndup(value ? value : "", value ? len : 0);
  if (!n->value) {
    free(n);
    return NULL;
  }
  n->len = value ? len : 0;
  n->style = style;
  n->touched = n->value_set = true;
  return n;
}

yml_node *yml_str_new(const char *s) {
  yml_node *n = yml_scalar_new(s, strlen(s), YML_STYLE_ANY);
  if (n && !(n->tag = str_dup("!!str"))) {
    yml_node_free(n);
    return NULL;
  }
  return n;
}

yml_node *yml_plain_new(const char *s) { return yml_scalar_new(s, strlen(s), YML_PLAIN); }

yml_node *yml_map_new(yml_style style) {
  yml_node *n = node_alloc(YML_MAP);
  if (n) {
    n->style = style == YML_FLOW ? YML_FLOW : YML_BLOCK;
    n->touched = true;
  }
  return n;
}

yml_node *yml_seq_new(yml_style style) {
  yml_node *n = node_alloc(YML_SEQ);
  if (n) {
    n->style = style == YML_FLOW ? YML_FLOW : YML_BLOCK;
    n->touched = true;
  }
  return n;
}

static yml_node *copy_depth(const yml_node *n, int depth) {
  if (depth > YML_MAX_DEPTH) {
    error_set(ERR_LIMIT, "YAML nested deeper than %d", YML_MAX_DEPTH);
    return NULL;
  }
  yml_node *c = node_alloc(n->kind);
  if (!c)
    return NULL;
  c->style = n->style;
  c->len = n->len;
  c->target = n->target;
  c->src = n->src;
  if (c->src)
    c->src->refs++;
  c->pstart = n->pstart;
  c->end = n->end;
  c->cstart = n->cstart;
  c->line = n->line;
  c->col = n->col;
  c->touched = n->touched;
  c->value_set = n->value_set;
  c->comment_set = n->comment_set;
  c->complex_keys = n->complex_keys;
  if ((n->tag && !(c->tag = str_dup(n->tag))) || (n->anchor && !(c->anchor = str_dup(n->anchor))) ||
      (n->value && !(c->value = str_ndup(n->value, n->len))) ||
      (n->line_comment && !(c->line_comment = str_dup(n->line_comment))) ||
      (n->head_comment && !(c->head_comment = str_dup(n->head_comment))))
    goto fail;
  if (n->nslots) {
    c->slots = malloc(n->nslots * sizeof(*c->slots));
    if (!c->slots)
      goto fail;
    memcpy(c->slots, n->slots, n->nslots * sizeof(*c->slots));
    c->nslots = n->nslots;
  }
  if (n->n) {
    if (kids_reserve(c, n->n))
      goto fail;
    for (size_t i = 0; i < n->n; i++) {
      yml_node *k = copy_depth(n->kids[i], depth + 1);
      if (!k)
        goto fail;
      k->parent = c;
      if (n->kids[i]->slot_owner == n) {
        k->slot_owner = c;
        k->slot = n->kids[i]->slot;
      }
      c->kids[c->n++] = k;
    }
  }
  return c;
fail:
  yml_node_free(c);
  error_set(ERR_NOMEM, "out of memory");
  return NULL;
}

yml_node *yml_node_copy(const yml_node *n) { return n ? copy_depth(n, 0) : NULL; }

/* ---- editing ------------------------------------------------------------------------- */

int yml_scalar_set(yml_node *n, const char *value, size_t len) {
  if (!n || n->kind != YML_SCALAR)
    return error_set(ERR_INVALID, "not a scalar");
  if (n->len == len && n->value && !memcmp(n->value, value, len))
    return 0;
  char *v = str_ndup(value, len);
  if (!v)
    return ERR_NOMEM;
  /* keep the style where the new value allows it */
  if (n->style == YML_PLAIN) {
    res_type old = resolve_plain(n->value ? n->value : "", n->len);
    res_type neu = resolve_plain(v, len);
    bool ok = old == RES_STR ? yml_plain_safe(v, len)
                             : (neu != RES_STR && !memchr(v, '\n', len));
    if (!ok)
      n->style = YML_STYLE_ANY;
  } else if ((n->style == YML_LITERAL || n->style == YML_FOLDED) && !memchr(v, '\n', len)) {
    n->style = YML_STYLE_ANY;
  }
  if (!(n->mem & MEM_VALUE))
    free(n->value);
  n->mem &= (unsigned char)~MEM_VALUE;
  n->value = v;
  n->len = len;
  n->value_set = true;
  mark_touched(n);
  return 0;
}

static void detach_kid(yml_node *k) {
  k->parent = NULL;
}

static int map_insert_node(yml_node *map, size_t index, yml_node *key, yml_node *value) {
  if (kids_reserve(map, 2)) {
    yml_node_free(key);
    yml_node_free(value);
    return ERR_NOMEM;
  }
  size_t at = 2 * (index > map->n / 2 ? map->n / 2 : index);
  memmove(&map->kids[at + 2], &map->kids[at], (map->n - at) * sizeof(yml_node *));
  map->kids[at] = key;
  map->kids[at + 1] = value;
  map->n += 2;
  key->parent = value->parent = map;
  key->touched = true;
  mark_touched(map);
  return 0;
}

int yml_map_insert(yml_node *map, size_t index, const char *key, yml_node *value) {
  if (!value)
    return error_code() ? error_code() : ERR_NOMEM;
  if (!map || map->kind != YML_MAP) {
    yml_node_free(value);
    return error_set(ERR_INVALID, "not a mapping");
  }
  long i = yml_map_index(map, key);
  if (i >= 0) {
    yml_node *old = map->kids[2 * i + 1];
    if (old == value)
      return 0;
    map->kids[2 * i + 1] = value;
    value->parent = map;
    value->slot_owner = NULL;
    value->slot = -1;
    mark_touched(map);
    yml_node_free(old);
    return 0;
  }
  yml_node *k = yml_scalar_new(key, strlen(key), YML_STYLE_ANY);
  if (!k) {
    yml_node_free(value);
    return ERR_NOMEM;
  }
  return map_insert_node(map, index, k, value);
}

int yml_map_set(yml_node *map, const char *key, yml_node *value) {
  return yml_map_insert(map, SIZE_MAX, key, value);
}

int yml_map_set_str(yml_node *map, const char *key, const char *value) {
  yml_node *old = yml_map_get(map, key);
  if (old && old->kind == YML_SCALAR && old->style != YML_PLAIN) {
    int rc = yml_scalar_set(old, value, strlen(value));
    if (rc == 0 && old->style == YML_STYLE_ANY && !old->tag)
      old->tag = str_dup("!!str");
    mark_impure(old);
    return rc;
  }
  if (old && old->kind == YML_SCALAR && resolve_node(old) == RES_STR) {
    if (yml_plain_safe(value, strlen(value)))
      return yml_scalar_set(old, value, strlen(value));
  }
  return yml_map_set(map, key, yml_str_new(value));
}

yml_node *yml_map_ensure_map(yml_node *map, const char *key) {
  yml_node *v = yml_map_get(map, key);
  if (v && v->kind == YML_MAP)
    return v;
  if (v && !yml_scalar_is_null(v)) {
    error_set(ERR_INVALID, "%s is not a mapping", key);
    return NULL;
  }
  v = yml_map_new(YML_BLOCK);
  if (yml_map_set(map, key, v))
    return NULL;
  return v;
}

int yml_map_remove_at(yml_node *map, size_t i) {
  yml_node *v = yml_map_take_at(map, i);
  if (!v)
    return error_set(ERR_NOTFOUND, "no entry %zu", i);
  yml_node_free(v);
  return 0;
}

yml_node *yml_map_take_at(yml_node *map, size_t i) {
  if (!map || map->kind != YML_MAP || i >= map->n / 2)
    return NULL;
  yml_node *k = map->kids[2 * i], *v = map->kids[2 * i + 1];
  memmove(&map->kids[2 * i], &map->kids[2 * i + 2], (map->n - 2 * i - 2) * sizeof(yml_node *));
  map->n -= 2;
  yml_node_free(k);
  detach_kid(v);
  mark_touched(map);
  return v;
}

int yml_map_remove(yml_node *map, const char *key) {
  long i = yml_map_index(map, key);
  if (i < 0)
    return error_set(ERR_NOTFOUND, "no key %s", key);
  return yml_map_remove_at(map, (size_t)i);
}

int yml_seq_insert(yml_node *seq, size_t index, yml_node *item) {
  if (!item)
    return error_code() ? error_code() : ERR_NOMEM;
  if (!seq || seq->kind != YML_SEQ) {
    yml_node_free(item);
    return error_set(ERR_INVALID, "not a sequence");
  }
  if (kids_reserve(seq, 1)) {
    yml_node_free(item);
    return ERR_NOMEM;
  }
  if (index > seq->n)
    index = seq->n;
  memmove(&seq->kids[index + 1], &seq->kids[index], (seq->n - index) * sizeof(yml_node *));
  seq->kids[index] = item;
  seq->n++;
  item->parent = seq;
  if (item->slot_owner != seq) {
    item->slot_owner = NULL;
    item->slot = -1;
  }
  mark_touched(seq);
  return 0;
}

int yml_seq_append(yml_node *seq, yml_node *item) {
  return yml_seq_insert(seq, SIZE_MAX, item);
}

int yml_seq_remove_at(yml_node *seq, size_t i) {
  if (!seq || seq->kind != YML_SEQ || i >= seq->n)
    return error_set(ERR_NOTFOUND, "no item %zu", i);
  yml_node *it = seq->kids[i];
  memmove(&seq->kids[i], &seq->kids[i + 1], (seq->n - i - 1) * sizeof(yml_node *));
  seq->n--;
  detach_kid(it);
  yml_node_free(it);
  mark_touched(seq);
  return 0;
}

int yml_seq_set(yml_node *seq, size_t i, yml_node *item) {
  if (!item)
    return error_code() ? error_code() : ERR_NOMEM;
  if (!seq || seq->kind != YML_SEQ || i >= seq->n) {
    yml_node_free(item);
    return error_set(ERR_NOTFOUND, "no item");
  }
  yml_node *old = seq->kids[i];
  if (old == item)
    return 0;
  seq->kids[i] = item;
  item->parent = seq;
  /* the replacement takes the old item's place in the source layout */
  item->slot_owner = old->slot_owner;
  item->slot = old->slot;
  mark_touched(seq);
  yml_node_free(old);
  return 0;
}

int yml_node_replace(yml_node *old, yml_node *repl) {
  if (!repl)
    return error_code() ? error_code() : ERR_NOMEM;
  yml_node *p = old->parent;
  if (!p) {
    yml_node_free(repl);
    return error_set(ERR_INVALID, "node has no parent");
  }
  for (size_t i = 0; i < p->n; i++) {
    if (p->kids[i] != old)
      continue;
    if (p->kind == YML_SEQ)
      return yml_seq_set(p, i, repl);
    if (i % 2 == 0) {
      yml_node_free(repl);
      return error_set(ERR_INVALID, "cannot replace a key");
    }
    p->kids[i] = repl;
    repl->parent = p;
    repl->slot_owner = NULL;
    repl->slot = -1;
    mark_touched(p);
    yml_node_free(old);
    return 0;
  }
  yml_node_free(repl);
  return error_set(ERR_INVALID, "node not found in its parent");
}

static yml_node *key_of(const yml_node *value) {
  const yml_node *p = value ? value->parent : NULL;
  if (!p || p->kind != YML_MAP)
    return NULL;
  for (size_t i = 1; i < p->n; i += 2)
    if (p->kids[i] == value)
      return p->kids[i - 1];
  return NULL;
}

int yml_node_set_line_comment(yml_node *value, const char *text) {
  yml_node *k = key_of(value);
  if (!k)
    return error_set(ERR_INVALID, "line comments go on map values");
  char *c = NULL;
  if (text && !(c = str_dup(text)))
    return ERR_NOMEM;
  free(k->line_comment);
  k->line_comment = c;
  mark_impure(k);
  k->comment_set = true;
  mark_touched(k);
  return 0;
}

/* The same-line comment in src starting the scan at `pos` (skipping spaces and one ':'),
 * as [*cs, *ce) or false. Stops at a line break or other content. */
static bool find_comment(const yml_src *s, size_t pos, size_t limit, bool colon, size_t *cs,
                         size_t *ce) {
  const char *t = s->text;
  if (limit > s->len)
    limit = s->len;
  if (colon) {
    while (pos < limit && (t[pos] == ' ' || t[pos] == '\t'))
      pos++;
    if (pos < limit && t[pos] == ':')
      pos++;
  }
  while (pos < limit && (t[pos] == ' ' || t[pos] == '\t'))
    pos++;
  if (pos < limit && t[pos] == '#') {
    *cs = pos;
    *ce = eol(s, pos);
    while (*ce > *cs && (t[*ce - 1] == ' ' || t[*ce - 1] == '\r'))
      (*ce)--;
    return true;
  }
  return false;
}

char *yml_node_line_comment(const yml_node *value) {
  const yml_node *k = key_of(value);
  if (!k)
    return NULL;
  if (k->comment_set)
    return k->line_comment ? str_dup(k->line_comment) : NULL;
  if (!k->src)
    return NULL;
  size_t cs, ce;
  bool found = false;
  if (value->src == k->src && value->pstart >= k->end)
    found = find_comment(k->src, k->end, value->pstart, true, &cs, &ce);
  if (!found && value->src == k->src && (value->kind == YML_SCALAR || value->style == YML_FLOW))
    found = find_comment(k->src, value->end, k->src->len, false, &cs, &ce);
  if (!found)
    return NULL;
  cs++;
  if (cs < ce && k->src->text[cs] == ' ')
    cs++;
  return str_ndup(k->src->text + cs, ce - cs);
}

int yml_node_set_head_comment(yml_node *n, const char *text) {
  char *c = NULL;
  if (text && !(c = str_dup(text)))
    return ERR_NOMEM;
  free(n->head_comment);
  n->head_comment = c;
  mark_impure(n);
  return 0;
}

/* Collects the comment lines of src[from, to) (each trimmed of leading blanks). */
static char *comment_lines(const yml_src *s, size_t from, size_t to) {
  buf b = BUF_INIT;
  size_t p = from;
  while (p < to) {
    size_t e = eol(s, p);
    if (e > to)
      e = to;
    size_t q = p;
    while (q < e && (s->text[q] == ' ' || s->text[q] == '\t'))
      q++;
    if (q < e && s->text[q] == '#') {
      size_t qe = trim_end(s->text, q, e);
      if ((b.len && buf_putc(&b, '\n')) || buf_append(&b, s->text + q, qe - q)) {
        buf_free(&b);
        return NULL;
      }
    }
    p = e + 1;
  }
  if (!b.len) {
    buf_free(&b);
    return NULL;
  }
  return buf_detach(&b, NULL);
}

char *yml_file_doc_head_comment(const yml_file *f, size_t i) {
  if (i >= f->ndocs || f->docs[i].orig < 0 || !f->src || !f->docs[i].root)
    return NULL;
  size_t rs = f->regions[f->docs[i].orig];
  const yml_src *s = f->src;
  /* skip directives and the "---" line */
  size_t p = rs, last_marker = rs;
  while (p < f->docs[i].root_pstart) {
    size_t e = eol(s, p);
    if (!strncmp(s->text + p, "---", 3) || s->text[p] == '%')
      last_marker = e + 1;
    p = e + 1;
  }
  if (last_marker > f->docs[i].root_pstart)
    last_marker = f->docs[i].root_pstart;
  return comment_lines(s, last_marker, f->docs[i].root_pstart);
}

char *yml_seq_item_head_comment(const yml_node *seq, size_t i) {
  if (!seq || seq->kind != YML_SEQ || i >= seq->n)
    return NULL;
  const yml_node *it = seq->kids[i];
  if (it->head_comment)
    return str_dup(it->head_comment);
  if (it->slot_owner != seq || it->slot < 0 || !seq->src)
    return NULL;
  const yml_slot *sl = &seq->slots[it->slot];
  return comment_lines(seq->src, sl->kstart + 1, sl->vstart);
}

void yml_file_set_wide_sequences(yml_file *f, bool wide) { f->wide = wide; }

/* ---- writing ------------------------------------------------------------------------- */

typedef struct emitter {
  buf *out;
  int rc;
  int depth;
  bool wide;
  bool fresh_pos; /* the node being emitted sits somewhere new (not its source place) */
  bool props_done; /* its properties (anchor, tag) are already written (on the key line) */
} emitter;

static void put(emitter *e, const char *s, size_t n) {
  if (!e->rc && n)
    e->rc = buf_append(e->out, s, n);
}

static void puts_(emitter *e, const char *s) { put(e, s, strlen(s)); }

static void spaces(emitter *e, int n) {
  static const char sp[] = "                                                                ";
  while (n > 0 && !e->rc) {
    int k = n > 64 ? 64 : n;
    put(e, sp, (size_t)k);
    n -= k;
  }
}

/* Copies src[from, to), shifting every line after the first by `delta` columns (and the
 * first too when `from` is at the start of a line and `first_too`). Blank lines are copied
 * as they are. */
static void copy_shift2(emitter *e, const yml_src *s, size_t from, size_t to, int delta,
                        bool first_too) {
  if (to <= from)
    return;
  if (delta == 0) {
    put(e, s->text + from, to - from);
    return;
  }
  const char *t = s->text;
  size_t p = from;
  bool at_line_start = first_too;
  while (p < to) {
    if (at_line_start) {
      size_t q = p;
      while (q < to && t[q] == ' ')
        q++;
      if (!(q < to && (t[q] == '\n' || t[q] == '\r'))) {
        if (delta > 0) {
          spaces(e, delta);
        } else {
          size_t drop = (size_t)(-delta);
          if (drop > q - p)
            drop = q - p;
          p += drop;
        }
      }
    }
    const char *nl = memchr(t + p, '\n', to - p);
    size_t lend = nl ? (size_t)(nl - t) + 1 : to;
    put(e, t + p, lend - p);
    p = lend;
    at_line_start = true;
    if (!nl)
      return;
  }
  /* the range ended with a line break: the node that follows starts at column 0 of the
   * next line (a compact sequence under its key) and moves too */
  if (delta > 0 && to < s->len && t[to] != '\n' && t[to] != '\r')
    spaces(e, delta);
}

static void copy_shift(emitter *e, const yml_src *s, size_t from, size_t to, int delta) {
  copy_shift2(e, s, from, to, delta, false);
}

static void emit(emitter *e, const yml_node *n, int col, int indent, bool flow);

static void emit_double_quoted(emitter *e, const char *v, size_t len) {
  put(e, "\"", 1);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)v[i];
    char esc[8];
    switch (c) {
    case '"': puts_(e, "\\\""); break;
    case '\\': puts_(e, "\\\\"); break;
    case '\n': puts_(e, "\\n"); break;
    case '\t': puts_(e, "\\t"); break;
    case '\r': puts_(e, "\\r"); break;
    case 0: puts_(e, "\\0"); break;
    default:
      if (c < 0x20 || c == 0x7f) {
        snprintf(esc, sizeof(esc), "\\x%02X", c);
        puts_(e, esc);
      } else {
        put(e, (const char *)&v[i], 1);
      }
    }
  }
  put(e, "\"", 1);
}

static void emit_single_quoted(emitter *e, const char *v, size_t len) {
  put(e, "'", 1);
  for (size_t i = 0; i < len; i++) {
    if (v[i] == '\'')
      put(e, "''", 2);
    else
      put(e, &v[i], 1);
  }
  put(e, "'", 1);
}

static bool literal_ok(const char *v, size_t len) {
  if (strlen(v) != len)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)v[i];
    if ((c < 0x20 && c != '\n') || c == 0x7f)
      return false;
    if (c == ' ' && (i + 1 == len || v[i + 1] == '\n'))
      return false; /* trailing spaces on a line do not survive a block scalar well */
  }
  return true;
}

static void emit_literal(emitter *e, const char *v, size_t len, int indent) {
  put(e, "|", 1);
  if (len && v[0] == ' ') {
    char ind[8];
    snprintf(ind, sizeof(ind), "%d", 2);
    puts_(e, ind);
  }
  size_t trailing = 0;
  while (trailing < len && v[len - 1 - trailing] == '\n')
    trailing++;
  if (trailing == 0)
    put(e, "-", 1);
  else if (trailing > 1)
    put(e, "+", 1);
  size_t body = trailing > 0 ? len - 1 : len; /* last newline ends the final line */
  size_t p = 0;
  while (p <= body && !e->rc) {
    const char *nl = memchr(v + p, '\n', body - p);
    size_t lend = nl ? (size_t)(nl - v) : body;
    put(e, "\n", 1);
    if (lend > p) {
      spaces(e, indent);
      put(e, v + p, lend - p);
    }
    if (!nl)
      break;
    p = lend + 1;
  }
}

static void emit_scalar(emitter *e, const yml_node *n, int indent, bool flow) {
  const char *v = n->value ? n->value : "";
  size_t len = n->len;
  yml_style st = n->style;
  bool multiline = memchr(v, '\n', len) != NULL;
  switch (st) {
  case YML_PLAIN:
    if (!multiline && !(flow && strpbrk(v, ",[]{}")) &&
        (yml_plain_safe(v, len) || resolve_plain(v, len) != RES_STR) &&
        strlen(v) == len && (len == 0 || (v[0] != ' ' && v[len - 1] != ' '))) {
      put(e, v, len);
      return;
    }
    break;
  case YML_SINGLE_QUOTED:
    if (!multiline && strlen(v) == len) {
      emit_single_quoted(e, v, len);
      return;
    }
    break;
  case YML_DOUBLE_QUOTED:
    emit_double_quoted(e, v, len);
    return;
  default:
    break;
  }
  if (yml_plain_safe(v, len) && !multiline && !(flow && strpbrk(v, ",[]{}"))) {
    put(e, v, len);
    return;
  }
  if (n->tag && resolve_node(n) != RES_STR && !multiline && strlen(v) == len && len) {
    put(e, v, len); /* tagged non-string (e.g. a number built by yml_from_json) */
    return;
  }
  if (multiline && !flow && literal_ok(v, len)) {
    emit_literal(e, v, len, indent);
    return;
  }
  emit_double_quoted(e, v, len);
}

static bool is_block_collection(const yml_node *n, bool flow) {
  return !flow && (n->kind == YML_MAP || n->kind == YML_SEQ) && n->style != YML_FLOW && n->n > 0;
}

static void emit_key(emitter *e, const yml_node *k, bool flow) {
  if (flow && k->kind == YML_SCALAR && k->style == YML_PLAIN && k->value && strpbrk(k->value, ",[]{}")) {
    emit_scalar(e, k, 0, true); /* flow indicators cannot stay plain inside {...} */
    return;
  }
  if (k->kind != YML_SCALAR) {
    emit(e, k, 0, 0, true); /* a collection as a key: flow style on one line */
    return;
  }
  if (k->len == 0 && k->style == YML_PLAIN && !k->anchor)
    puts_(e, "null"); /* an empty (null) key cannot be written implicitly */
  else if (k->src && !k->value_set && !memchr(k->src->text + k->pstart, '\n', k->end - k->pstart))
    put(e, k->src->text + k->pstart, k->end - k->pstart);
  else
    emit_scalar(e, k, 0, true);
}

/* One map entry rendered fresh, at column `col`. */
/* Writes " <properties>" (anchor, tag) of block collection `v` about to be placed under a
 * key, on the key's line: on a line of their own they could sit at the key's column ("a:"
 * then "!tag" then "- x"), which does not parse. Returns whether there were any (then the
 * emit of `v` must skip them: e->props_done). */
static bool emit_key_line_props(emitter *e, const yml_node *v) {
  if (v->src && v->pstart < v->cstart) {
    const char *t = v->src->text;
    size_t pe = v->pstart;
    while (pe < v->cstart && t[pe] != '\n' && t[pe] != '\r' &&
           !(t[pe] == '#' && pe > v->pstart && t[pe - 1] == ' '))
      pe++;
    pe = trim_end(t, v->pstart, pe);
    if (pe == v->pstart)
      return false;
    put(e, " ", 1);
    put(e, t + v->pstart, pe - v->pstart);
    return true;
  }
  if (!v->src && v->anchor) {
    put(e, " &", 2);
    puts_(e, v->anchor);
    return true;
  }
  return false;
}

static void emit_fresh_entry(emitter *e, const yml_node *k, const yml_node *v, int col, bool flow) {
  emit_key(e, k, flow);
  put(e, ":", 1);
  bool has_comment = k->comment_set ? k->line_comment != NULL : false;
  char *orig_comment = NULL;
  if (!k->comment_set && k->src && v->src == k->src) {
    /* an entry moved here: keep its same-line comment */
    orig_comment = yml_node_line_comment(v);
  }
  const char *comment = k->comment_set ? k->line_comment : orig_comment;
  has_comment = comment != NULL;
  if (is_block_collection(v, flow)) {
    bool props = emit_key_line_props(e, v);
    if (has_comment) {
      puts_(e, " # ");
      puts_(e, comment);
    }
    put(e, "\n", 1);
    int child = v->kind == YML_MAP || e->wide ? col + 2 : col;
    spaces(e, child);
    e->props_done = props;
    emit(e, v, child, child + 2, flow);
  } else {
    const yml_node *r = v;
    bool empty_null = r->kind == YML_SCALAR && r->len == 0 && r->style == YML_PLAIN && !r->tag;
    if (!empty_null) {
      put(e, " ", 1);
      e->fresh_pos = true;
      emit(e, v, col + 2, col + 2, flow);
    }
    if (has_comment) {
      puts_(e, " # ");
      puts_(e, comment);
    }
  }
  free(orig_comment);
}

static void emit_fresh_item(emitter *e, const yml_node *v, int col) {
  bool empty_null = v->kind == YML_SCALAR && v->len == 0 && v->style == YML_PLAIN && !v->tag;
  if (empty_null) {
    put(e, "-", 1);
    return;
  }
  put(e, "- ", 2);
  if (v->head_comment) {
    puts_(e, v->head_comment);
    put(e, "\n", 1);
    spaces(e, col + 2);
  }
  e->fresh_pos = true;
  emit(e, v, col + 2, col + 2, false);
}

static void emit_fresh_collection(emitter *e, const yml_node *n, int col, bool flow) {
  bool map = n->kind == YML_MAP;
  if (n->n == 0) {
    puts_(e, map ? "{}" : "[]");
    return;
  }
  if (flow || n->style == YML_FLOW) {
    put(e, map ? "{" : "[", 1);
    size_t step = map ? 2 : 1;
    for (size_t i = 0; i < n->n; i += step) {
      if (i)
        put(e, ", ", 2);
      if (map) {
        emit_key(e, n->kids[i], true);
        put(e, ": ", 2);
        emit(e, n->kids[i + 1], col, col, true);
      } else {
        emit(e, n->kids[i], col, col, true);
      }
    }
    put(e, map ? "}" : "]", 1);
    return;
  }
  size_t step = map ? 2 : 1;
  for (size_t i = 0; i < n->n; i += step) {
    if (i) {
      put(e, "\n", 1);
      spaces(e, col);
    }
    if (map)
      emit_fresh_entry(e, n->kids[i], n->kids[i + 1], col, false);
    else
      emit_fresh_item(e, n->kids[i], col);
  }
}

/* The gap from the end of a key to its value contains a line break (block value)? */
static bool gap_has_newline(const yml_src *s, size_t from, size_t to) {
  return to > from && memchr(s->text + from, '\n', to - from) != NULL;
}

/* A touched block collection parsed from source: copy the gaps between the children that
 * are still there, drop removed ones, append new ones. `col` is where it is written. */
static void emit_spliced(emitter *e, const yml_node *n, int col, bool props_done) {
  const yml_src *s = n->src;
  const char *t = s->text;
  bool map = n->kind == YML_MAP;
  int delta = col - n->col;
  size_t step = map ? 2 : 1;
  long prev = -1;      /* slot of the child written just before, -1 if it was new */
  long last_slot = -1; /* highest slot written so far */
  bool any = false;    /* something written */
  bool prev_comment_dropped = false;
  if (!props_done)
    copy_shift(e, s, n->pstart, n->cstart, delta); /* properties (anchor, tag) */
  for (size_t i = 0; i < n->n && !e->rc; i += step) {
    const yml_node *k = map ? n->kids[i] : NULL;
    const yml_node *v = map ? n->kids[i + 1] : n->kids[i];
    const yml_node *owner_node = n->kids[i]; /* the key of a map entry, or the item */
    long slot = owner_node->slot_owner == n ? owner_node->slot : -1;
    if (slot >= 0 && slot <= last_slot)
      slot = -1; /* moved backwards: treat as new */
    if (slot >= 0) {
      const yml_slot *sl = &n->slots[slot];
      size_t region;
      bool region_at_line_start = false;
      if (!any) {
        region = sl->kstart;
        if (slot > 0) {
          /* keep its head comments, without doubling the indentation already written */
          region = eol(s, n->slots[slot - 1].vend) + 1;
          size_t sp = 0;
          while (region < sl->kstart && t[region] == ' ' && (int)sp < n->col) {
            region++;
            sp++;
          }
          if (region > sl->kstart)
            region = sl->kstart;
        }
      } else {
        /* finish the previous line (its same-line comment), then this child's lead */
        if (prev >= 0) {
          size_t pe = n->slots[prev].vend;
          if (!prev_comment_dropped)
            copy_shift(e, s, pe, eol(s, pe), delta);
        }
        put(e, "\n", 1);
        region = slot > 0 ? eol(s, n->slots[slot - 1].vend) + 1 : sl->kstart;
        if (region > sl->kstart)
          region = sl->kstart;
        region_at_line_start = true;
      }
      prev_comment_dropped = false;
      if (region_at_line_start) {
        /* shift the first line of the lead; what follows is copied with copy_shift */
        size_t fl = eol(s, region);
        if (fl >= sl->kstart) {
          /* the lead is the key's own line: indentation only */
          size_t q = region;
          while (q < sl->kstart && t[q] == ' ')
            q++;
          int ind = (int)(q - region) + delta;
          spaces(e, ind < 0 ? 0 : ind);
          region = q;
        } else {
          copy_shift2(e, s, region, fl + 1, delta, true);
          region = fl + 1;
          size_t q = region;
          while (q < sl->kstart && t[q] == ' ')
            q++;
          if (q == sl->kstart || eol(s, region) >= sl->kstart) {
            int ind = (int)(q - region) + delta;
            spaces(e, ind < 0 ? 0 : ind);
            region = q;
          }
        }
        region_at_line_start = false;
      }
      bool block_old = gap_has_newline(s, map ? k->end : sl->kstart, sl->vstart);
      bool block_new = is_block_collection(v, false);
      bool same_value = v->src == s && v->pstart == sl->vstart;
      bool comment_change = map && k->comment_set;
      if (map && (comment_change || block_old != block_new || !same_value)) {
        /* key as written, then a fresh separator */
        copy_shift(e, s, region, k->end, delta);
        put(e, ":", 1);
        const char *comment = NULL;
        char *kept = NULL;
        if (comment_change)
          comment = k->line_comment;
        else if (block_old && block_new) {
          size_t cs, ce;
          if (find_comment(s, k->end, sl->vstart, true, &cs, &ce))
            kept = str_ndup(t + cs + 1 + (t[cs + 1] == ' '), ce - cs - 1 - (t[cs + 1] == ' '));
          comment = kept;
        }
        if (block_new) {
          bool props = !(block_old && same_value) && emit_key_line_props(e, v);
          if (comment) {
            puts_(e, " # ");
            puts_(e, comment);
          }
          if (block_old && same_value) {
            /* keep the original line break and indentation before the value */
            size_t nl = eol(s, k->end);
            copy_shift(e, s, nl, sl->vstart, delta);
            emit(e, v, v->col + delta, v->col + delta + 2, false);
          } else {
            put(e, "\n", 1);
            int child = v->kind == YML_MAP || e->wide ? col + 2 : col;
            if (block_old) {
              child = column_of(s, sl->vstart) + delta;
              if (v->kind == YML_MAP && child <= col)
                child = col + 2;
            }
            spaces(e, child);
            e->props_done = props;
            emit(e, v, child, child + 2, false);
          }
        } else {
          bool empty_null = v->kind == YML_SCALAR && v->len == 0 && v->style == YML_PLAIN && !v->tag;
          if (!empty_null) {
            put(e, " ", 1);
            e->fresh_pos = true;
            emit(e, v, col + 2, col + 2, false);
          }
          if (comment_change) {
            if (comment) {
              puts_(e, " # ");
              puts_(e, comment);
            }
            prev_comment_dropped = true;
          } else if (!block_old && !same_value) {
            /* the old value's same-line comment belonged to the value that was replaced
             * (as in kyaml, where it hangs on the value node) */
            prev_comment_dropped = true;
          }
        }
        free(kept);
      } else if (map) {
        copy_shift(e, s, region, sl->vstart, delta);
        emit(e, v, v->col + delta, column_of(s, sl->kstart) + delta + 2, false);
      } else {
        /* sequence item: dash and gap as written */
        bool same_item = v->src == s && v->pstart == sl->vstart;
        if (same_item || !block_old) {
          copy_shift(e, s, region, sl->vstart, delta);
          int icol = same_item ? v->col + delta : column_of(s, sl->vstart) + delta;
          emit(e, v, icol, col + 2, false);
        } else {
          copy_shift(e, s, region, sl->kstart, delta);
          emit_fresh_item(e, v, col);
        }
      }
      prev = slot;
      last_slot = slot;
    } else {
      if (any) {
        if (prev >= 0 && !prev_comment_dropped) {
          size_t pe = n->slots[prev].vend;
          copy_shift(e, s, pe, eol(s, pe), delta);
        }
        put(e, "\n", 1);
        spaces(e, col);
      }
      if (map)
        emit_fresh_entry(e, k, v, col, false);
      else
        emit_fresh_item(e, v, col);
      prev = -1;
      prev_comment_dropped = false;
    }
    any = true;
  }
  if (prev >= 0 && !prev_comment_dropped) {
    size_t pe = n->slots[prev].vend;
    size_t end = eol(s, pe);
    end = trim_end(t, pe, end);
    copy_shift(e, s, pe, end, delta);
  }
  if (!any)
    puts_(e, map ? "{}" : "[]");
}

/* How far to shift the continuation lines of a multi-line scalar written somewhere new:
 * so that the least indented of them lands at `indent` (block scalars keep their content's
 * relative indentation; folded plain or quoted lines only need to stay inside their
 * parent, all of them: not just the first). `fallback` for one-line scalars. */
static int scalar_shift(const yml_node *n, int indent, int fallback) {
  const char *t = n->src->text;
  const char *nl = memchr(t + n->pstart, '\n', n->end - n->pstart);
  if (!nl)
    return fallback;
  size_t p = (size_t)(nl - t) + 1;
  long least = -1;
  while (p < n->end) {
    size_t q = p;
    while (q < n->end && t[q] == ' ')
      q++;
    if (q < n->end && t[q] != '\n' && t[q] != '\r' && (least < 0 || (long)(q - p) < least))
      least = (long)(q - p);
    const char *next = memchr(t + q, '\n', n->end - q);
    if (!next)
      break;
    p = (size_t)(next - t) + 1;
  }
  return least < 0 ? fallback : indent - (int)least;
}

static void emit(emitter *e, const yml_node *n, int col, int indent, bool flow) {
  if (e->rc)
    return;
  if (++e->depth > YML_MAX_DEPTH + 8) {
    e->rc = error_set(ERR_LIMIT, "YAML nested too deep to write");
    return;
  }
  bool flow_unsafe = flow && n->kind == YML_SCALAR &&
                     (n->style == YML_LITERAL || n->style == YML_FOLDED ||
                      (n->style == YML_PLAIN && n->value && strpbrk(n->value, ",[]{}")));
  bool clean = n->src && !n->touched && !(flow && n->kind != YML_SCALAR && n->style != YML_FLOW &&
                                          n->kind != YML_ALIAS) &&
               !flow_unsafe;
  bool fresh_pos = e->fresh_pos, props_done = e->props_done;
  e->fresh_pos = e->props_done = false;
  if (clean) {
    int delta = col - n->col;
    if (fresh_pos && n->kind == YML_SCALAR)
      delta = scalar_shift(n, indent, delta);
    copy_shift(e, n->src, props_done ? n->cstart : n->pstart, n->end, delta);
  } else if (n->kind == YML_ALIAS) {
    put(e, "*", 1);
    puts_(e, n->value ? n->value : "");
  } else if (n->kind == YML_SCALAR) {
    if (n->src && !n->value_set && !flow_unsafe)
      copy_shift(e, n->src, n->pstart, n->end,
                 fresh_pos ? scalar_shift(n, indent, col - n->col) : col - n->col);
    else {
      if (n->anchor) {
        put(e, "&", 1);
        puts_(e, n->anchor);
        put(e, " ", 1);
      }
      emit_scalar(e, n, indent, flow);
    }
  } else if (n->src && n->style == YML_BLOCK && n->nslots > 0 && !flow && !n->complex_keys) {
    emit_spliced(e, n, col, props_done);
  } else {
    if (n->anchor && !props_done) {
      put(e, "&", 1);
      puts_(e, n->anchor);
      if (is_block_collection(n, flow)) {
        put(e, "\n", 1);
        spaces(e, col);
      } else {
        put(e, " ", 1);
      }
    }
    emit_fresh_collection(e, n, col, flow);
  }
  e->depth--;
}

int yml_node_write(const yml_node *n, buf *out) {
  emitter e = {out, 0, 0, false, false, false};
  emit(&e, n, 0, 2, false);
  put(&e, "\n", 1);
  return e.rc;
}

static int file_write(const yml_file *f, buf *out);

/* The write guard: an edited file's text must parse again into the same documents (same
 * count, yml_node_equal roots). The splicing emitter keeps what people wrote around the
 * edits; for YAML KRM files do not normally contain (explicit `?` keys in odd places, found
 * by fuzzing) it can misjudge a span. Such an edit is then refused with ERR_INVALID naming
 * the file, rather than written broken: the caller writes nothing. Untouched files are
 * their source, byte for byte, and are not checked. */
static int verify_written(const yml_file *f, const char *text, size_t len) {
  yml_file *g = NULL;
  const char *name = f->name && *f->name ? f->name : "<yaml>";
  if (yml_file_parse(&g, name, text, len) != 0)
    return error_set(ERR_INVALID, "cannot write %s: the edited YAML would not parse again (%s)",
                     name, error_message());
  bool same = g->ndocs == f->ndocs;
  for (size_t i = 0; same && i < f->ndocs; i++)
    same = yml_node_equal(f->docs[i].root, g->docs[i].root);
  yml_file_free(g);
  return same ? 0
              : error_set(ERR_INVALID,
                          "cannot write %s: the edited YAML would read back differently", name);
}

int yml_file_write(const yml_file *f, buf *out) {
  size_t start = out->len;
  int rc = file_write(f, out);
  if (!rc && f->src && yml_file_touched(f))
    rc = verify_written(f, out->data ? out->data + start : "", out->len - start);
  return rc;
}

static int file_write(const yml_file *f, buf *out) {
  emitter e = {out, 0, 0, f->wide, false, false};
  const yml_src *s = f->src;
  if (s && s->len)
    (void)buf_reserve(out, s->len); /* the output is about the input's size (a hint only) */
  bool wrote = false;
  for (size_t i = 0; i < f->ndocs && !e.rc; i++) {
    const yml_doc *d = &f->docs[i];
    if (d->orig >= 0 && s) {
      size_t rs = f->regions[d->orig], re = f->regions[d->orig + 1];
      if (wrote && out->len && out->data[out->len - 1] != '\n' && re > rs && s->text[rs] == '-')
        put(&e, "\n", 1); /* a rewritten document before this one's "---" */
      if (f->changed) {
        bool has_marker = re - rs >= 3 && !strncmp(s->text + rs, "---", 3);
        if (wrote && !has_marker && d->orig == 0) {
          if (out->len && out->data[out->len - 1] != '\n')
            put(&e, "\n", 1);
          put(&e, "---\n", 4);
        } else if (wrote && out->len && out->data[out->len - 1] != '\n') {
          put(&e, "\n", 1);
        } else if (!wrote && has_marker && d->orig > 0) {
          size_t nl = eol(s, rs);
          rs = nl < re ? nl + 1 : re; /* the first document needs no separator */
        }
      }
      if (!d->root || d->root_pstart < rs || d->root_end > re || d->root_pstart > d->root_end) {
        put(&e, s->text + rs, re - rs); /* (spans are kept inside their region at parse) */
      } else {
        put(&e, s->text + rs, d->root_pstart - rs);
        emit(&e, d->root, column_of(s, d->root_pstart) + (d->root->src == s ? 0 : 0), 2, false);
        put(&e, s->text + d->root_end, re - d->root_end);
      }
      wrote = true;
      continue;
    }
    if (wrote) {
      if (out->len && out->data[out->len - 1] != '\n')
        put(&e, "\n", 1);
      put(&e, "---\n", 4);
    }
    if (d->root) {
      if (d->root->head_comment) {
        puts_(&e, d->root->head_comment);
        put(&e, "\n", 1);
      }
      emit(&e, d->root, 0, 2, false);
      put(&e, "\n", 1);
    }
    wrote = true;
  }
  if (!e.rc && s && f->ndocs == 0 && !f->changed)
    put(&e, s->text, s->len);
  return e.rc;
}

/* ---- JSON ---------------------------------------------------------------------------- */

static json_t *to_json_depth(const yml_node *n, int depth) {
  if (depth > YML_MAX_DEPTH) {
    error_set(ERR_LIMIT, "YAML nested deeper than %d", YML_MAX_DEPTH);
    return NULL;
  }
  n = yml_node_resolve(n);
  if (!n)
    return json_null();
  switch (n->kind) {
  case YML_SCALAR: {
    const char *v = n->value ? n->value : "";
    switch (resolve_node(n)) {
    case RES_NULL: return json_null();
    case RES_BOOL: return json_boolean(v[0] == 't' || v[0] == 'T');
    case RES_INT: {
      char *end = NULL;
      const char *p = v;
      int base = 10;
      bool neg = false;
      if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
      }
      if (p[0] == '0' && p[1] == 'x') { base = 16; p += 2; }
      else if (p[0] == '0' && p[1] == 'o') { base = 8; p += 2; }
      else if (p[0] == '0' && p[1] == 'b') { base = 2; p += 2; }
      if (strchr(p, '_'))
        return json_stringn(v, n->len);
      errno = 0;
      unsigned long long u = strtoull(p, &end, base);
      if (errno || !end || *end || u > (unsigned long long)INT64_MAX)
        return json_real(strtod(v, NULL));
      return json_integer(neg ? -(json_int_t)u : (json_int_t)u);
    }
    case RES_FLOAT: {
      if (strstr(v, "inf") || strstr(v, "Inf") || strstr(v, "INF") || strstr(v, "nan") ||
          strstr(v, "NaN") || strstr(v, "NAN"))
        return json_stringn(v, n->len); /* JSON has no infinities */
      return json_real(strtod(v, NULL));
    }
    default:
      return json_stringn(v, n->len);
    }
  }
  case YML_SEQ: {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n->n; i++) {
      json_t *x = to_json_depth(n->kids[i], depth + 1);
      if (!x || json_array_append_new(a, x)) {
        json_decref(a);
        return NULL;
      }
    }
    return a;
  }
  case YML_MAP: {
    json_t *o = json_object();
    for (size_t i = 0; o && i < n->n; i += 2) {
      const yml_node *k = yml_node_resolve(n->kids[i]);
      json_t *x = to_json_depth(n->kids[i + 1], depth + 1);
      if (!x) {
        json_decref(o);
        return NULL;
      }
      if (k && k->kind == YML_SCALAR) {
        char *key = str_ndup(k->value ? k->value : "", k->len);
        if (!key || json_object_set_new(o, key, x)) {
          free(key);
          json_decref(o);
          return NULL;
        }
        free(key);
      } else {
        json_t *kj = k ? to_json_depth(k, depth + 1) : NULL;
        char *ks = kj ? json_dumps(kj, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(kj);
        if (!ks || json_object_set_new(o, ks, x)) {
          free(ks);
          json_decref(o);
          return NULL;
        }
        free(ks);
      }
    }
    return o;
  }
  default:
    return json_null();
  }
}

json_t *yml_to_json(const yml_node *n) { return n ? to_json_depth(n, 0) : json_null(); }

static yml_node *from_json_depth(const json_t *j, int depth) {
  if (depth > YML_MAX_DEPTH) {
    error_set(ERR_LIMIT, "JSON nested deeper than %d", YML_MAX_DEPTH);
    return NULL;
  }
  char num[64];
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    yml_node *m = yml_map_new(YML_BLOCK);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) {
      if (!m)
        return NULL;
      yml_node *key = yml_scalar_new(k, strlen(k), YML_STYLE_ANY);
      yml_node *val = key ? from_json_depth(v, depth + 1) : NULL;
      if (!key || !val) {
        yml_node_free(key);
        yml_node_free(m);
        return NULL;
      }
      if (map_insert_node(m, SIZE_MAX, key, val)) {
        yml_node_free(m);
        return NULL;
      }
    }
    return m;
  }
  case JSON_ARRAY: {
    yml_node *s = yml_seq_new(YML_BLOCK);
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) {
      if (!s)
        return NULL;
      if (yml_seq_append(s, from_json_depth(v, depth + 1))) {
        yml_node_free(s);
        return NULL;
      }
    }
    return s;
  }
  case JSON_STRING:
    return yml_scalar_new(json_string_value(j), json_string_length(j), YML_STYLE_ANY);
  case JSON_INTEGER:
    snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
    return yml_plain_new(num);
  case JSON_REAL: {
    double d = json_real_value(j);
    if (d == floor(d) && fabs(d) < 1e15)
      snprintf(num, sizeof(num), "%.1f", d);
    else
      snprintf(num, sizeof(num), "%.17g", d);
    return yml_plain_new(num);
  }
  case JSON_TRUE:
    return yml_plain_new("true");
  case JSON_FALSE:
    return yml_plain_new("false");
  default:
    return yml_plain_new("null");
  }
}

yml_node *yml_from_json(const json_t *j) { return from_json_depth(j, 0); }

/* ---- debugging: a canonical dump of the parsed tree ---------------------------------- */

static void dump_bytes(buf *out, const char *s, size_t len) {
  buf_putc(out, '"');
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
      buf_printf(out, "\\x%02x", ch);
    else
      buf_putc(out, (char)ch);
  }
  buf_putc(out, '"');
}

static void dump_node(buf *out, const yml_file *f, const yml_node *n, const yml_node *parent,
                      int depth) {
  if (depth > YML_MAX_DEPTH + 2)
    return;
  buf_printf(out, "%*snode kind=%d style=%d line=%d col=%d pstart=%zu cstart=%zu end=%zu", depth * 2,
             "", (int)n->kind, (int)n->style, n->line, n->col, n->pstart, n->cstart, n->end);
  buf_printf(out, " src=%s parent=%s touched=%d set=%d ckeys=%d", n->src == f->src ? "file" : "other",
             n->parent == parent ? "ok" : "BAD", n->touched, n->value_set, n->complex_keys);
  buf_printf(out, " slot=%ld owner=%s", n->slot,
             !n->slot_owner ? "none" : n->slot_owner == parent ? "parent" : "other");
  buf_puts(out, " tag=");
  if (n->tag)
    dump_bytes(out, n->tag, strlen(n->tag));
  buf_puts(out, " anchor=");
  if (n->anchor)
    dump_bytes(out, n->anchor, strlen(n->anchor));
  buf_printf(out, " len=%zu value=", n->len);
  if (n->value)
    dump_bytes(out, n->value, n->len);
  if (n->kind == YML_ALIAS)
    buf_printf(out, " target=%zu", n->target ? n->target->pstart : (size_t)-1);
  buf_printf(out, " nslots=%zu", n->nslots);
  for (size_t i = 0; i < n->nslots; i++)
    buf_printf(out, " [%zu %zu %zu]", n->slots[i].kstart, n->slots[i].vstart, n->slots[i].vend);
  buf_putc(out, '\n');
  for (size_t i = 0; i < n->n; i++)
    dump_node(out, f, n->kids[i], n, depth + 1);
}

int yml_debug_dump(const yml_file *f, buf *out) {
  buf_printf(out, "file ndocs=%zu nregions=%zu changed=%d regions=", f->ndocs, f->nregions,
             f->changed);
  for (size_t i = 0; f->regions && i <= f->nregions; i++)
    buf_printf(out, "%zu ", f->regions[i]);
  buf_putc(out, '\n');
  for (size_t i = 0; i < f->ndocs; i++) {
    const yml_doc *d = &f->docs[i];
    buf_printf(out, "doc %zu orig=%ld root=[%zu %zu]\n", i, d->orig, d->root_pstart, d->root_end);
    if (d->root)
      dump_node(out, f, d->root, NULL, 1);
  }
  return buf_printf(out, "end\n");
}
