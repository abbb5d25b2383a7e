/*
 * registry_list: reads. get answers from the cache (as a Table when asked); list builds
 * the page from the cached JSON texts (a concatenation, so 10,000 objects take a few
 * milliseconds) after label and field selectors; limit/continue pages are computed as of
 * the first page's resourceVersion by undoing newer events from the history, so a paged
 * list is consistent; a token older than the history is 410 Expired.
 */
#include "apiserver/registry_internal.h"

#include "apiserver/patch.h"
#include "apiserver/schema.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/jpath.h"
#include "base/str.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- reading -------------------------------------------------------------------------- */

void registry_respond_object(api_response *resp, int code, const type_info *ti, const char *version,
                           const api_request *req, const char *json, size_t len) {
  if (registry_wants_table(req)) {
    json_t *obj = json_loads(json, 0, NULL);
    json_t *rows = json_array();
    if (obj)
      json_array_append_new(rows, registry_table_row(ti, obj));
    json_t *t = json_pack("{s:s, s:s, s:{s:s?}, s:o, s:o}", "kind", "Table", "apiVersion",
                          "meta.k8s.io/v1", "metadata", "resourceVersion",
                          jpath_str(obj, "metadata.resourceVersion"), "columnDefinitions",
                          registry_table_columns(ti), "rows", rows);
    api_respond_json(resp, code, t);
    json_decref(t);
    json_decref(obj);
    return;
  }
  char *rewritten = registry_object_for_version(ti, version, json);
  if (rewritten) {
    registry_respond_raw_json(resp, code, rewritten, strlen(rewritten));
    free(rewritten);
  } else {
    registry_respond_raw_json(resp, code, json, len);
  }
}

void registry_respond_json_object(api_response *resp, int code, const type_info *ti,
                                const char *version, const api_request *req, const json_t *obj) {
  char *text = json_dumps(obj, JSON_COMPACT);
  if (text)
    registry_respond_object(resp, code, ti, version, req, text, strlen(text));
  free(text);
}

const char *const *registry_field_labels(const type_info *ti) {
  static const char *const core_event[] = {
      "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
      "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
      "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type", NULL};
  static const char *const secret[] = {"type", NULL};
  static const char *const ns[] = {"status.phase", NULL};
  if (!ti->builtin || *ti->t.group)
    return NULL;
  if (!strcmp(ti->t.kind, "Event"))
    return core_event;
  if (!strcmp(ti->t.kind, "Secret"))
    return secret;
  if (!strcmp(ti->t.kind, "Namespace"))
    return ns;
  return NULL;
}


typedef struct snapshot {
  list_item *items;
  size_t count, cap;
  char **owned; /* JSON texts parsed out of history */
  size_t owned_count;
} snapshot;

static int item_cmp(const void *a, const void *b) {
  return strcmp(((const list_item *)a)->key, ((const list_item *)b)->key);
}

static void snapshot_add(snapshot *s, const char *key, const char *json, const json_t *labels) {
  if (s->count == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    list_item *bigger = realloc(s->items, cap * sizeof(*bigger));
    if (!bigger)
      return;
    s->items = bigger;
    s->cap = cap;
  }
  s->items[s->count++] = (list_item){key, json, labels};
}

/* The collection as of `rv` (>= compacted), restricted to keys after `after`. Items
 * borrow from the cache and the history; valid until the next write. */
static int snapshot_at(registry *r, const collection *c, const char *resource, long long rv,
                       const char *after, snapshot *s) {
  size_t start = 0;
  if (c && after) {
    collection_find(c, after, &start);
    if (start < c->count && !strcmp(c->items[start]->key, after))
      start++;
  }
  for (size_t i = start; c && i < c->count; i++)
    snapshot_add(s, c->items[i]->key, c->items[i]->json, c->items[i]->labels);
  if (rv >= r->rv)
    return 0;
  size_t first, count;
  int rc = registry_history_since(r, rv, &first, &count);
  if (rc)
    return rc;
  /* undo newer events, newest first */
  for (size_t k = count; k-- > 0;) {
    const event *e = registry_history_at(r, first + k);
    if (strcmp(e->resource, resource) || (after && strcmp(e->key, after) <= 0))
      continue;
    size_t idx = (size_t)-1;
    for (size_t i = 0; i < s->count; i++)
      if (!strcmp(s->items[i].key, e->key)) {
        idx = i;
        break;
      }
    if (e->type == EV_ADDED) {
      if (idx != (size_t)-1)
        s->items[idx] = s->items[--s->count];
    } else if (idx != (size_t)-1) {
      s->items[idx].json = e->prev;
      s->items[idx].labels = e->prev_labels;
    } else {
      snapshot_add(s, e->key, e->prev, e->prev_labels);
    }
  }
  qsort(s->items, s->count, sizeof(list_item), item_cmp);
  return 0;
}

char *registry_b64_encode(const char *in, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  buf b = BUF_INIT;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned char)in[i] << 16;
    if (i + 1 < n)
      v |= (unsigned char)in[i + 1] << 8;
    if (i + 2 < n)
      v |= (unsigned char)in[i + 2];
    buf_putc(&b, tbl[(v >> 18) & 63]);
    buf_putc(&b, tbl[(v >> 12) & 63]);
    buf_putc(&b, i + 1 < n ? tbl[(v >> 6) & 63] : '=');
    buf_putc(&b, i + 2 < n ? tbl[v & 63] : '=');
  }
  return buf_detach(&b, NULL);
}

static int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

/* Decodes standard or URL base64 (padding optional). NULL when malformed. */
static char *b64_decode(const char *in, size_t *out_len) {
  buf b = BUF_INIT;
  unsigned acc = 0;
  int bits = 0;
  for (const char *p = in; *p && *p != '='; p++) {
    int v = b64_value(*p);
    if (v < 0) {
      buf_free(&b);
      return NULL;
    }
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf_putc(&b, (char)((acc >> bits) & 0xff));
    }
  }
  return buf_detach(&b, out_len);
}

static char *continue_token(long long rv, const char *last_key) {
  json_t *t = json_pack("{s:s, s:I, s:s}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rv, "start",
                        last_key);
  char *text = json_dumps(t, JSON_COMPACT);
  json_decref(t);
  char *out = text ? registry_b64_encode(text, strlen(text)) : NULL;
  free(text);
  return out;
}

static int continue_parse(const char *token, long long *rv, char **start) {
  size_t len = 0;
  char *raw = b64_decode(token, &len);
  json_t *t = raw ? json_loadb(raw, len, 0, NULL) : NULL;
  free(raw);
  const char *s = json_string_value(json_object_get(t, "start"));
  json_t *v = json_object_get(t, "rv");
  if (!s || !json_is_integer(v) || !str_eq(jpath_str(t, "v"), "meta.k8s.io/v1")) {
    json_decref(t);
    return error_set(ERR_INVALID, "continue key is not valid: incorrect encoded start "
                                  "resourceVersion (version meta.k8s.io/v1)");
  }
  *rv = (long long)json_integer_value(v);
  *start = str_dup(s);
  json_decref(t);
  return 0;
}

bool registry_item_matches(const list_item *it, const char *ns, const selector *labels,
                         const selector *fields) {
  if (ns) {
    size_t n = strlen(ns);
    if (strncmp(it->key, ns, n) || it->key[n] != '/')
      return false;
  }
  if (!selector_matches_labels(labels, it->labels))
    return false;
  if (selector_is_empty(fields))
    return true;
  json_t *obj = json_loads(it->json, 0, NULL);
  bool ok = obj && selector_matches_fields(fields, obj);
  json_decref(obj);
  return ok;
}

int registry_parse_selectors(const type_info *ti, const api_request *req, api_response *resp,
                             selector **labels, selector **fields) {
  *labels = NULL;
  *fields = NULL;
  const char *ls = api_request_query(req, "labelSelector");
  const char *fs = api_request_query(req, "fieldSelector");
  if ((ls && selector_parse_labels(ls, labels)) ||
      (fs && selector_parse_fields(fs, registry_field_labels(ti), fields))) {
    registry_respond_text_status(resp, 400, "BadRequest", error_message());
    selector_free(*labels);
    selector_free(*fields);
    *labels = NULL;
    *fields = NULL;
    return ERR_INVALID;
  }
  return 0;
}

int registry_handle_list(registry *r, const type_info *ti, const char *version, const char *ns,
                       const api_request *req, api_response *resp) {
  selector *labels = NULL, *fields = NULL;
  if (registry_parse_selectors(ti, req, resp, &labels, &fields))
    return 0;
  int64_t limit = 0;
  const char *lq = api_request_query(req, "limit");
  if (lq && *lq && str_to_int64(lq, INT64_MIN, INT64_MAX, &limit))
    limit = 0;
  if (limit < 0)
    limit = 0;
  long long list_rv = r->rv;
  char *after = NULL;
  const char *cont = api_request_query(req, "continue");
  if (cont && *cont) {
    if (continue_parse(cont, &list_rv, &after)) {
      registry_respond_text_status(resp, 400, "BadRequest", error_message());
      selector_free(labels);
      selector_free(fields);
      return 0;
    }
  } else {
    /* resourceVersionMatch=Exact lists as of that resourceVersion (410 once compacted);
     * otherwise any resourceVersion is served the latest state, which is never older */
    const char *rvq = api_request_query(req, "resourceVersion");
    const char *match = api_request_query(req, "resourceVersionMatch");
    int64_t at;
    if (match && !strcmp(match, "Exact") && rvq && !str_to_int64(rvq, 1, INT64_MAX, &at) &&
        at < list_rv)
      list_rv = at;
  }
  const char *fns = selector_field_equals(fields, "metadata.namespace");
  if (!ns && fns && ti->t.namespaced)
    ns = fns;
  collection *c = registry_collection(r, ti->resource, false);
  snapshot snap = {0};
  if (snapshot_at(r, c, ti->resource, list_rv, after, &snap)) {
    if (after)
      registry_respond_text_status(resp, 410, "Expired",
                                   "The provided continue parameter is too old to display a "
                                   "consistent list result. You can start a new list without "
                                   "the continue parameter.");
    else
      registry_respond_text_status(resp, 410, "Expired", error_message());
    free(snap.items);
    free(after);
    selector_free(labels);
    selector_free(fields);
    return 0;
  }
  bool table = registry_wants_table(req);
  bool rewrite = strcmp(version, ti->storage_version) != 0;
  buf items = BUF_INIT;
  json_t *rows = table ? json_array() : NULL;
  size_t shown = 0, i = 0;
  const char *last_key = NULL;
  bool more = false;
  for (i = 0; i < snap.count; i++) {
    const list_item *it = &snap.items[i];
    if (!registry_item_matches(it, ns, labels, fields))
      continue;
    if (limit > 0 && shown == (size_t)limit) {
      more = true;
      break;
    }
    if (table) {
      json_t *obj = json_loads(it->json, 0, NULL);
      if (obj)
        json_array_append_new(rows, registry_table_row(ti, obj));
      json_decref(obj);
    } else {
      if (shown)
        buf_putc(&items, ',');
      char *rw = rewrite ? registry_object_for_version(ti, version, it->json) : NULL;
      buf_puts(&items, rw ? rw : it->json);
      free(rw);
    }
    last_key = it->key;
    shown++;
  }
  char *token = more && last_key ? continue_token(list_rv, last_key) : NULL;
  if (table) {
    char rvs[32];
    snprintf(rvs, sizeof(rvs), "%lld", list_rv);
    json_t *meta = json_pack("{s:s}", "resourceVersion", rvs);
    if (token)
      json_object_set_new(meta, "continue", json_string(token));
    json_t *t = json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "Table", "apiVersion",
                          "meta.k8s.io/v1", "metadata", meta, "columnDefinitions",
                          registry_table_columns(ti), "rows", rows);
    api_respond_json(resp, 200, t);
    json_decref(t);
  } else {
    buf *out = &resp->body;
    buf_reset(out);
    buf_reserve(out, items.len + 256);
    char *av = *ti->t.group ? str_printf("%s/%s", ti->t.group, version) : str_dup(version);
    buf_printf(out, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"",
               ti->t.list_kind, av ? av : "", list_rv);
    free(av);
    if (token)
      buf_printf(out, ",\"continue\":\"%s\"", token);
    if (token && selector_is_empty(labels) && selector_is_empty(fields)) {
      size_t remaining = 0;
      for (size_t k = i; k < snap.count; k++)
        remaining += registry_item_matches(&snap.items[k], ns, NULL, NULL);
      buf_printf(out, ",\"remainingItemCount\":%zu", remaining);
    }
    buf_puts(out, "},\"items\":[");
    buf_append(out, items.data ? items.data : "", items.len);
    buf_puts(out, "]}");
    resp->status = 200;
    str_copy(resp->content_type, "application/json", sizeof(resp->content_type));
  }
  free(token);
  buf_free(&items);
  free(snap.items);
  free(after);
  selector_free(labels);
  selector_free(fields);
  return 0;
}

