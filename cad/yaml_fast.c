/*
 * yaml_fast: a scanner for the block-style YAML that kpt packages are written in, feeding
 * the same tree builder as libyaml (see yaml_internal.h).
 *
 * Purpose. libyaml is the parser of record, but its event parser alone runs at ~25 MB/s on
 * a package of Deployments, and issue 4 wants the whole round trip at >= 50 MB/s. Almost
 * every file in a package uses a small, regular subset of YAML; this scanner parses that
 * subset straight from the bytes, producing exactly the events (kinds, styles, values,
 * byte marks, lines) libyaml would, so the tree is built by the same code.
 *
 * The subset. Documents separated by "---" lines (comments after the marker allowed),
 * whose root is a block mapping or block sequence. Block mappings whose keys are plain or
 * quoted scalars on one line followed by ":"; block sequences ("- "), compact forms
 * ("- key: v", "- - x") and indentless sequences under a key; scalars that fit on one
 * line: plain, 'single' and "double" quoted (the common escapes); flow sequences on one
 * line holding such scalars ("[a, 'b']"); empty values (null); comments and blank lines
 * anywhere between tokens; \n or \r\n line breaks; UTF-8 text.
 *
 * Anything else makes it give up for the whole file (return 1), and yml_file_parse runs
 * libyaml instead: tabs, a byte-order mark, control characters or invalid UTF-8, "...",
 * directives, empty documents, scalar or flow roots, anchors, aliases, tags, block
 * scalars (| >), flow mappings, nested flow sequences, "?" complex keys, multi-line plain
 * or quoted scalars, "\" escapes other than the common ones, keys over 1000 bytes, and
 * every construct that is an error (so libyaml reports errors, with its messages). The
 * scanner never reports an error itself.
 *
 * Invariant (guarded by test/fuzz/yaml_fastpath.c, a differential fuzz target, and the
 * unit tests): for any input, either this gives up, or the tree it builds dumps exactly
 * as the libyaml-built tree does (yml_debug_dump: spans, styles, values, lines, slots).
 */
#include "cad/yaml_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Giving up: 1, remembering the line of this file that gave up (for tests and debugging). */
static _Thread_local int last_bail;
static int bail_at(int line) {
  last_bail = line;
  return 1;
}
#define BAIL bail_at(__LINE__)

int yml_fast_last_bail(void) { return last_bail; }
#define NONE SIZE_MAX
#define MAX_KEY_BYTES 1000 /* libyaml gives up on simple keys over 1024 characters */

#define TRY(x)                                                                                     \
  do {                                                                                             \
    int rc_ = (x);                                                                                 \
    if (rc_)                                                                                       \
      return rc_;                                                                                  \
  } while (0)

typedef struct fscan {
  yml_builder *b;
  const char *t;
  size_t len;
  /* the cursor: a node's first byte (or a content line's), its column and 0-based line */
  size_t p, col, line;
  bool eof;
  int depth;
  char *scratch; /* decoded quoted scalars */
  size_t scap;
} fscan;

/* Byte classes: which bytes stop a run inside a plain scalar, a double-quoted one, a
 * single-quoted one. The text is NUL-terminated (and holds no other NUL: text_ok). */
enum { C_PLAIN = 1, C_DQ = 2, C_SQ = 4 };
static const unsigned char CLS[256] = {
    [0] = C_PLAIN | C_DQ | C_SQ, ['\n'] = C_PLAIN | C_DQ | C_SQ, ['\r'] = C_PLAIN | C_DQ | C_SQ,
    [' '] = C_PLAIN, ['#'] = C_PLAIN, [':'] = C_PLAIN, ['"'] = C_DQ, ['\\'] = C_DQ, ['\''] = C_SQ,
};

/* A scalar scanned on one line. */
typedef struct scal {
  size_t start, end; /* span (quotes included) */
  size_t next;       /* first byte after the scalar, or after its ':' when it is a key */
  const char *v;     /* value (into the text or the scratch buffer) */
  size_t vlen;
  yml_style style;
  size_t colon; /* the ':' that makes it a key, or NONE */
} scal;

static inline bool blankz(const fscan *s, size_t p) {
  return p >= s->len || s->t[p] == ' ' || s->t[p] == '\n' || s->t[p] == '\r';
}

static inline bool eol(const fscan *s, size_t p) {
  return p >= s->len || s->t[p] == '\n' || s->t[p] == '\r';
}

/* "- " (or "-" at the end of a line): a block sequence entry. */
static inline bool dash_at(const fscan *s, size_t p) {
  return p < s->len && s->t[p] == '-' && blankz(s, p + 1);
}

/* "---" or "..." followed by a blank (callers check the column is 0). */
static bool marker_at(const fscan *s, size_t p) {
  const char *t = s->t;
  return p + 3 <= s->len && ((t[p] == '-' && t[p + 1] == '-' && t[p + 2] == '-') ||
                             (t[p] == '.' && t[p + 1] == '.' && t[p + 2] == '.')) &&
         blankz(s, p + 3);
}

/* Only printable characters libyaml accepts, as valid UTF-8; no tabs (they have special
 * rules in indentation that the scanner does not follow). */
static bool text_ok(const unsigned char *t, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned char c = t[i];
    if ((c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r') {
      i++;
      continue;
    }
    if (c < 0x80)
      return false;
    size_t n;
    uint32_t v;
    if ((c & 0xE0) == 0xC0) {
      n = 2;
      v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      v = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      v = c & 0x07;
    } else {
      return false;
    }
    if (i + n > len)
      return false;
    for (size_t k = 1; k < n; k++) {
      if ((t[i + k] & 0xC0) != 0x80)
        return false;
      v = v << 6 | (t[i + k] & 0x3F);
    }
    if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000))
      return false;
    if (!((v >= 0xA0 && v <= 0xD7FF) || (v >= 0xE000 && v <= 0xFFFD) ||
          (v >= 0x10000 && v <= 0x10FFFF)))
      return false;
    i += n;
  }
  return true;
}

/* From the start of a line at `p`: skips blank and comment lines and places the cursor on
 * the first byte of the next content line (or at EOF). */
static int skip_lines(fscan *s, size_t p) {
  const char *t = s->t;
  for (;;) {
    size_t q = p;
    while (q < s->len && t[q] == ' ')
      q++;
    if (q >= s->len) {
      s->eof = true;
      s->p = s->len;
      return 0;
    }
    char c = t[q];
    if (c == '#') {
      const char *nl = memchr(t + q, '\n', s->len - q);
      if (!nl) {
        s->eof = true;
        s->p = s->len;
        return 0;
      }
      p = (size_t)(nl - t) + 1;
      s->line++;
    } else if (c == '\n') {
      p = q + 1;
      s->line++;
    } else if (c == '\r') {
      if (q + 1 >= s->len || t[q + 1] != '\n')
        return BAIL;
      p = q + 2;
      s->line++;
    } else {
      s->p = q;
      s->col = q - p;
      return 0;
    }
  }
}

/* After a token ending at `q`: the rest of the line must be blanks and maybe a comment
 * (after a blank); then moves to the next content line. */
static int finish_line(fscan *s, size_t q) {
  const char *t = s->t;
  size_t start = q;
  while (q < s->len && t[q] == ' ')
    q++;
  if (q < s->len && t[q] == '#') {
    if (q == start)
      return BAIL; /* "x#": libyaml would call it a comment; YAML would not */
    const char *nl = memchr(t + q, '\n', s->len - q);
    q = nl ? (size_t)(nl - t) : s->len;
  }
  if (q >= s->len) {
    s->eof = true;
    s->p = s->len;
    return 0;
  }
  if (t[q] == '\r')
    q++;
  if (q >= s->len || t[q] != '\n')
    return BAIL;
  s->line++;
  return skip_lines(s, q + 1);
}

/* Can a plain scalar start at p? (libyaml's rule, stricter in flow context.) */
static bool plain_start(const fscan *s, size_t p, bool flow) {
  switch (s->t[p]) {
  case '-':
    return !blankz(s, p + 1);
  case '?':
  case ':':
    return !flow && !blankz(s, p + 1);
  case ',': case '[': case ']': case '{': case '}': case '#': case '&': case '*': case '!':
  case '|': case '>': case '\'': case '"': case '%': case '@': case '`': case ' ': case '\n':
  case '\r':
    return false;
  default:
    return true;
  }
}

static char *scratch(fscan *s, size_t need) {
  if (need > s->scap) {
    size_t cap = need < 256 ? 256 : need * 2;
    char *n = realloc(s->scratch, cap);
    if (!n)
      return NULL;
    s->scratch = n;
    s->scap = cap;
  }
  return s->scratch;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static size_t put_utf8(char *o, uint32_t v) {
  if (v < 0x80) {
    o[0] = (char)v;
    return 1;
  }
  if (v < 0x800) {
    o[0] = (char)(0xC0 | v >> 6);
    o[1] = (char)(0x80 | (v & 0x3F));
    return 2;
  }
  if (v < 0x10000) {
    o[0] = (char)(0xE0 | v >> 12);
    o[1] = (char)(0x80 | ((v >> 6) & 0x3F));
    o[2] = (char)(0x80 | (v & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | v >> 18);
  o[1] = (char)(0x80 | ((v >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((v >> 6) & 0x3F));
  o[3] = (char)(0x80 | (v & 0x3F));
  return 4;
}

/* Decodes the body of a one-line double-quoted scalar t[from, to) into the scratch buffer. */
static int decode_double(fscan *s, size_t from, size_t to, scal *sc) {
  const char *t = s->t;
  char *o = scratch(s, 2 * (to - from) + 8);
  if (!o)
    return BAIL;
  size_t n = 0;
  for (size_t q = from; q < to; q++) {
    if (t[q] != '\\') {
      o[n++] = t[q];
      continue;
    }
    q++;
    int digits = 0;
    switch (t[q]) {
    case '0': o[n++] = 0; break;
    case 'a': o[n++] = 7; break;
    case 'b': o[n++] = 8; break;
    case 't': o[n++] = 9; break;
    case 'n': o[n++] = 10; break;
    case 'v': o[n++] = 11; break;
    case 'f': o[n++] = 12; break;
    case 'r': o[n++] = 13; break;
    case 'e': o[n++] = 0x1B; break;
    case ' ': o[n++] = ' '; break;
    case '"': o[n++] = '"'; break;
    case '/': o[n++] = '/'; break;
    case '\\': o[n++] = '\\'; break;
    case 'N': n += put_utf8(o + n, 0x85); break;
    case '_': n += put_utf8(o + n, 0xA0); break;
    case 'L': n += put_utf8(o + n, 0x2028); break;
    case 'P': n += put_utf8(o + n, 0x2029); break;
    case 'x': digits = 2; break;
    case 'u': digits = 4; break;
    case 'U': digits = 8; break;
    default: return BAIL;
    }
    if (digits) {
      if (q + (size_t)digits >= to)
        return BAIL;
      uint32_t v = 0;
      for (int k = 1; k <= digits; k++) {
        int h = hexval(t[q + (size_t)k]);
        if (h < 0)
          return BAIL;
        v = v << 4 | (uint32_t)h;
      }
      if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
        return BAIL;
      n += put_utf8(o + n, v);
      q += (size_t)digits;
    }
  }
  sc->v = o;
  sc->vlen = n;
  return 0;
}

/* A quoted scalar at p (t[p] is the quote) that closes on the same line. */
static int scan_quoted(fscan *s, size_t p, scal *sc) {
  const char *t = s->t;
  char quote = t[p];
  bool esc = false;
  size_t q = p + 1;
  unsigned char stop = quote == '"' ? C_DQ : C_SQ;
  for (;;) {
    while (!(CLS[(unsigned char)t[q]] & stop))
      q++;
    char c = t[q];
    if (c == quote) {
      if (quote == '\'' && t[q + 1] == '\'') {
        esc = true;
        q += 2;
        continue;
      }
      break;
    }
    if (c != '\\')
      return BAIL; /* the end of the line: multi-line */
    esc = true;
    if (eol(s, q + 1))
      return BAIL; /* an escaped line break */
    q += 2;
  }
  sc->start = p;
  sc->end = sc->next = q + 1;
  sc->colon = NONE;
  sc->style = quote == '"' ? YML_DOUBLE_QUOTED : YML_SINGLE_QUOTED;
  if (!esc) {
    sc->v = t + p + 1;
    sc->vlen = q - p - 1;
    return 0;
  }
  if (quote == '"')
    return decode_double(s, p + 1, q, sc);
  char *o = scratch(s, q - p);
  if (!o)
    return BAIL;
  size_t n = 0;
  for (size_t i = p + 1; i < q; i++) {
    o[n++] = t[i];
    if (t[i] == '\'')
      i++;
  }
  sc->v = o;
  sc->vlen = n;
  return 0;
}

/* A scalar in block context at p, on one line: plain (up to a comment, the end of the
 * line, or ": ") or quoted. sc->colon is set when a ':' indicator follows (a key). */
static int scan_scalar(fscan *s, size_t p, scal *sc) {
  const char *t = s->t;
  if (t[p] == '\'' || t[p] == '"') {
    TRY(scan_quoted(s, p, sc));
    size_t q = sc->end;
    while (q < s->len && t[q] == ' ')
      q++;
    if (q < s->len && t[q] == ':' && blankz(s, q + 1)) {
      sc->colon = q;
      sc->next = q + 1;
    }
    return 0;
  }
  if (!plain_start(s, p, false))
    return BAIL;
  size_t q = p, end = p;
  sc->colon = NONE;
  for (;;) {
    size_t from = q;
    while (!(CLS[(unsigned char)t[q]] & C_PLAIN))
      q++;
    if (q > from)
      end = q;
    char c = t[q];
    if (c == ' ') {
      q++;
    } else if (c == '#') {
      if (t[q - 1] == ' ')
        break; /* a comment */
      end = ++q;
    } else if (c == ':') {
      if (blankz(s, q + 1)) {
        sc->colon = q;
        break;
      }
      end = ++q;
    } else {
      break; /* the end of the line */
    }
  }
  sc->start = p;
  sc->end = end;
  sc->next = sc->colon != NONE ? sc->colon + 1 : end;
  sc->v = t + p;
  sc->vlen = end - p;
  sc->style = YML_PLAIN;
  return 0;
}

/* Builds a scalar scanned on the cursor's line. */
static int build(fscan *s, const scal *sc) {
  return yml_build_scalar(s->b, sc->start, sc->end, s->line, (int)(s->col + (sc->start - s->p)),
                          sc->v, sc->vlen, sc->style, NULL, NULL);
}

/* A flow sequence on one line at p ('[') of plain or quoted scalars; *after is the byte
 * after its ']'. */
static int parse_flow_seq(fscan *s, size_t p, size_t *after) {
  const char *t = s->t;
  TRY(yml_build_start(s->b, YML_SEQ, YML_FLOW, p, s->line, (int)s->col, NULL, NULL));
  size_t q = p + 1;
  while (q < s->len && t[q] == ' ')
    q++;
  if (q < s->len && t[q] != ']') {
    for (;;) {
      scal it = {0};
      if (q >= s->len)
        return BAIL;
      if (t[q] == '\'' || t[q] == '"') {
        TRY(scan_quoted(s, q, &it));
        q = it.end;
      } else if (plain_start(s, q, true)) {
        size_t end = q;
        it.start = q;
        for (;;) {
          if (eol(s, q))
            return BAIL;
          char c = t[q];
          if (c == ',' || c == ']')
            break;
          if (c == ' ') {
            q++;
            continue;
          }
          if (c == '#' || c == ':' || c == '?' || c == '[' || c == '{' || c == '}')
            return BAIL;
          end = ++q;
        }
        it.end = end;
        it.v = t + it.start;
        it.vlen = end - it.start;
        it.style = YML_PLAIN;
      } else {
        return BAIL;
      }
      TRY(build(s, &it));
      while (q < s->len && t[q] == ' ')
        q++;
      if (q < s->len && t[q] == ',') {
        q++;
        while (q < s->len && t[q] == ' ')
          q++;
        if (q < s->len && t[q] == ']')
          return BAIL; /* a trailing comma */
        continue;
      }
      if (q < s->len && t[q] == ']')
        break;
      return BAIL;
    }
  }
  if (q >= s->len)
    return BAIL;
  *after = q + 1;
  return yml_build_end(s->b, q + 1);
}

static int parse_map(fscan *s, scal *first);
static int parse_seq(fscan *s, bool indentless);

/* A node at the cursor (s->p, s->col). `compact`: a block collection may start here (not
 * on the line of a mapping key). `root`: the node is a document's root (it must be a block
 * collection). On return the cursor is on the next content line (or EOF). */
static int parse_node(fscan *s, bool compact, bool root) {
  if (++s->depth > YML_MAX_DEPTH)
    return BAIL;
  int rc;
  if (dash_at(s, s->p)) {
    rc = compact ? parse_seq(s, false) : BAIL;
  } else if (s->t[s->p] == '[') {
    size_t after = 0;
    rc = root ? BAIL : parse_flow_seq(s, s->p, &after);
    if (!rc)
      rc = finish_line(s, after);
  } else {
    scal sc;
    rc = scan_scalar(s, s->p, &sc);
    if (!rc) {
      if (sc.colon != NONE)
        rc = compact ? parse_map(s, &sc) : BAIL;
      else if (root)
        rc = BAIL;
      else if (!(rc = build(s, &sc)))
        rc = finish_line(s, sc.next);
    }
  }
  s->depth--;
  return rc;
}

/* The value after a key's ':' or an entry's '-' (at q) of a collection at column
 * `indent`. */
static int parse_value(fscan *s, size_t q, size_t indent, bool in_map) {
  const char *t = s->t;
  size_t vmark = q, vline = s->line, vcol = s->col + (q - s->p);
  while (q < s->len && t[q] == ' ')
    q++;
  if (eol(s, q) || t[q] == '#') {
    TRY(finish_line(s, vmark));
    if (!s->eof && s->col > indent)
      return parse_node(s, true, false);
    if (in_map && !s->eof && s->col == indent && dash_at(s, s->p))
      return parse_seq(s, true); /* an indentless sequence ("---" is no dash) */
    return yml_build_scalar(s->b, vmark, vmark, vline, (int)vcol, "", 0, YML_PLAIN, NULL, NULL);
  }
  s->col += q - s->p;
  s->p = q;
  return parse_node(s, !in_map, false);
}

/* A block mapping whose first key (already scanned) is at the cursor. */
static int parse_map(fscan *s, scal *first) {
  size_t col = s->col;
  TRY(yml_build_start(s->b, YML_MAP, YML_BLOCK, s->p, s->line, (int)s->col, NULL, NULL));
  scal k = *first;
  for (;;) {
    if (k.colon == NONE || k.colon - k.start > MAX_KEY_BYTES)
      return BAIL;
    TRY(build(s, &k));
    TRY(parse_value(s, k.next, col, true));
    if (s->eof || s->col < col)
      break;
    if (s->col > col)
      return BAIL;
    if (col == 0 && marker_at(s, s->p))
      break;
    if (dash_at(s, s->p))
      return BAIL;
    TRY(scan_scalar(s, s->p, &k));
  }
  return yml_build_end(s->b, s->p);
}

/* A block sequence whose first '-' is at the cursor. `indentless`: the value of a key at
 * the same column, which ends at the next key. */
static int parse_seq(fscan *s, bool indentless) {
  size_t col = s->col;
  TRY(yml_build_start(s->b, YML_SEQ, YML_BLOCK, s->p, s->line, (int)s->col, NULL, NULL));
  for (;;) {
    TRY(parse_value(s, s->p + 1, col, false));
    if (s->eof || s->col < col)
      break;
    if (s->col > col)
      return BAIL;
    if (col == 0 && marker_at(s, s->p))
      break;
    if (!dash_at(s, s->p)) {
      if (indentless)
        break;
      return BAIL;
    }
  }
  return yml_build_end(s->b, s->p);
}

static int scan_stream(fscan *s) {
  TRY(skip_lines(s, 0));
  bool first = true;
  while (!s->eof) {
    size_t start = s->p;
    if (s->col == 0 && marker_at(s, s->p)) {
      if (s->t[s->p] == '.')
        return BAIL;
      TRY(finish_line(s, s->p + 3));
      if (s->eof || (s->col == 0 && marker_at(s, s->p)))
        return BAIL; /* an empty document */
    } else if (!first) {
      return BAIL;
    }
    first = false;
    TRY(yml_build_doc_start(s->b, start));
    TRY(parse_node(s, true, true));
    if (!s->eof && !(s->col == 0 && marker_at(s, s->p) && s->t[s->p] == '-'))
      return BAIL;
    TRY(yml_build_doc_end(s->b, s->eof ? s->len : s->p));
  }
  return 0;
}

int yml_fast_scan(yml_builder *b, const char *text, size_t len, bool printable_ascii) {
  last_bail = 0;
  if (!printable_ascii && ((len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) ||
                           !text_ok((const unsigned char *)text, len)))
    return BAIL;
  fscan s;
  memset(&s, 0, sizeof(s));
  s.b = b;
  s.t = text;
  s.len = len;
  int rc = scan_stream(&s);
  free(s.scratch);
  return rc;
}
