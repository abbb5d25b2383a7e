/*
 * registry_table: server-side printing (meta.k8s.io/v1 Table), which kubectl asks for
 * with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Built-in kinds print the
 * columns kube-apiserver prints; custom resources print Name plus their
 * additionalPrinterColumns (Name and Age when they declare none), whose JSONPaths are
 * evaluated by a small evaluator for the forms CRDs use: `.a.b`, `.a[0]`, `.a[*]`,
 * `.a[?(@.k=="v")].b`. Date columns and ages are rendered as kubectl's human durations.
 */
#include "apiserver/registry_internal.h"

#include "base/buf.h"
#include "base/jpath.h"
#include "base/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool registry_wants_table(const api_request *req) {
  return req->accept && strstr(req->accept, "as=Table") != NULL;
}

static time_t parse_rfc3339(const char *s) {
  struct tm tm = {0};
  if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
    return 0;
  return timegm(&tm);
}

void registry_human_age(const char *rfc3339, char *out, size_t size) {
  time_t t = parse_rfc3339(rfc3339);
  if (!t) {
    str_copy(out, "<unknown>", size);
    return;
  }
  long long d = (long long)(time(NULL) - t);
  if (d < -1) {
    str_copy(out, "<invalid>", size);
    return;
  }
  if (d < 0)
    d = 0;
  long long m = d / 60, h = d / 3600, days = h / 24, years = days / 365;
  if (d < 120)
    snprintf(out, size, "%llds", d);
  else if (m < 10)
    d % 60 ? snprintf(out, size, "%lldm%llds", m, d % 60) : snprintf(out, size, "%lldm", m);
  else if (m < 180)
    snprintf(out, size, "%lldm", m);
  else if (h < 8)
    m % 60 ? snprintf(out, size, "%lldh%lldm", h, m % 60) : snprintf(out, size, "%lldh", h);
  else if (h < 48)
    snprintf(out, size, "%lldh", h);
  else if (h < 24 * 8)
    h % 24 ? snprintf(out, size, "%lldd%lldh", days, h % 24) : snprintf(out, size, "%lldd", days);
  else if (days < 365 * 2)
    snprintf(out, size, "%lldd", days);
  else if (days < 365 * 8)
    snprintf(out, size, "%lldy%lldd", years, days % 365);
  else
    snprintf(out, size, "%lldy", years);
}

/* --- a small JSONPath ------------------------------------------------------------------ */

#define JP_MAX_RESULTS 64

typedef struct jp_set {
  const json_t *v[JP_MAX_RESULTS];
  size_t n;
} jp_set;

static void jp_add(jp_set *s, const json_t *v) {
  if (v && s->n < JP_MAX_RESULTS)
    s->v[s->n++] = v;
}

/* Evaluates `path` (without the surrounding braces) on `root`. */
static void jsonpath_eval(const json_t *root, const char *path, jp_set *out) {
  jp_set cur = {.n = 0};
  jp_add(&cur, root);
  const char *p = path;
  if (*p == '{')
    p++;
  if (*p == '$')
    p++;
  while (*p && *p != '}') {
    jp_set next = {.n = 0};
    if (*p == '.') {
      p++;
      char key[256];
      size_t n = 0;
      while (*p && *p != '.' && *p != '[' && *p != '}' && n + 1 < sizeof(key)) {
        if (*p == '\\' && p[1])
          p++;
        key[n++] = *p++;
      }
      key[n] = 0;
      if (!n)
        continue;
      for (size_t i = 0; i < cur.n; i++)
        jp_add(&next, json_object_get(cur.v[i], key));
    } else if (*p == '[') {
      const char *end = strchr(p, ']');
      if (!end)
        break;
      char inner[256];
      str_copy(inner, p + 1, (size_t)(end - p) < sizeof(inner) ? (size_t)(end - p) : sizeof(inner));
      p = end + 1;
      if (!strcmp(inner, "*")) {
        for (size_t i = 0; i < cur.n; i++) {
          size_t j;
          json_t *v;
          if (json_is_array(cur.v[i])) {
            json_array_foreach(cur.v[i], j, v) {
              jp_add(&next, v);
            }
          }
        }
      } else if (inner[0] == '?') {
        /* ?(@.key=="value") or ?(@.key=='value') */
        char fkey[128] = "", fval[128] = "";
        const char *at = strstr(inner, "@.");
        const char *eq = strstr(inner, "==");
        if (at && eq && eq > at) {
          size_t kl = (size_t)(eq - at - 2);
          str_copy(fkey, at + 2, kl + 1 < sizeof(fkey) ? kl + 1 : sizeof(fkey));
          const char *v = eq + 2;
          while (*v == ' ' || *v == '"' || *v == '\'')
            v++;
          size_t vl = 0;
          while (v[vl] && v[vl] != '"' && v[vl] != '\'' && v[vl] != ')')
            vl++;
          str_copy(fval, v, vl + 1 < sizeof(fval) ? vl + 1 : sizeof(fval));
          for (size_t k = strlen(fkey); k > 0 && fkey[k - 1] == ' '; k--)
            fkey[k - 1] = 0;
        }
        for (size_t i = 0; i < cur.n; i++) {
          size_t j;
          json_t *item;
          if (!json_is_array(cur.v[i]))
            continue;
          json_array_foreach(cur.v[i], j, item) {
            const json_t *fv = jpath_get(item, fkey);
            const char *s = json_string_value(fv);
            char num[64];
            if (!s && json_is_integer(fv)) {
              snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(fv));
              s = num;
            }
            if (s && !strcmp(s, fval))
              jp_add(&next, item);
          }
        }
      } else {
        int64_t idx;
        if (!str_to_int64(inner, INT64_MIN, INT64_MAX, &idx))
          for (size_t i = 0; i < cur.n; i++) {
            size_t sz = json_array_size(cur.v[i]);
            int64_t k = idx < 0 ? (int64_t)sz + idx : idx;
            if (k >= 0 && (size_t)k < sz)
              jp_add(&next, json_array_get(cur.v[i], (size_t)k));
          }
        else if (inner[0] == '\'' || inner[0] == '"') { /* ['key'] */
          size_t l = strlen(inner);
          if (l >= 2) {
            inner[l - 1] = 0;
            for (size_t i = 0; i < cur.n; i++)
              jp_add(&next, json_object_get(cur.v[i], inner + 1));
          }
        }
      }
    } else {
      break;
    }
    cur = next;
  }
  *out = cur;
}

static json_t *cell_for(const char *type, const jp_set *res) {
  if (res->n == 0)
    return json_null();
  const json_t *v = res->v[0];
  if (type && !strcmp(type, "date")) {
    char age[32];
    registry_human_age(json_string_value(v), age, sizeof(age));
    return json_string(age);
  }
  if (type && (!strcmp(type, "integer") || !strcmp(type, "number") || !strcmp(type, "boolean")) &&
      (json_is_number(v) || json_is_boolean(v)))
    return json_deep_copy(v);
  if (res->n > 1 || !json_is_string(v)) {
    buf b = BUF_INIT;
    for (size_t i = 0; i < res->n; i++) {
      if (i)
        buf_putc(&b, ',');
      if (json_is_string(res->v[i])) {
        buf_puts(&b, json_string_value(res->v[i]));
      } else {
        char *s = json_dumps(res->v[i], JSON_COMPACT | JSON_ENCODE_ANY);
        buf_puts(&b, s ? s : "");
        free(s);
      }
    }
    json_t *out = json_string(buf_cstr(&b));
    buf_free(&b);
    return out;
  }
  return json_deep_copy(v);
}

static json_t *column(const char *name, const char *type, const char *format,
                      const char *description, int priority) {
  return json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", name, "type", type, "format",
                   format ? format : "", "description", description ? description : "",
                   "priority", priority);
}

json_t *registry_table_columns(const type_info *ti) {
  json_t *cols = json_array();
  const char *kind = ti->t.kind;
  json_array_append_new(cols, column("Name", "string", "name",
                                     "Name must be unique within a namespace.", 0));
  if (ti->is_crd_served) {
    if (!json_array_size(ti->t.printer_columns)) {
      json_array_append_new(cols, column("Age", "date", "", "", 0));
      return cols;
    }
    size_t i;
    json_t *c;
    json_array_foreach(ti->t.printer_columns, i, c) {
      const char *name = jpath_str(c, "name");
      if (name && !strcasecmp(name, "name"))
        continue;
      json_array_append_new(cols, column(name ? name : "", jpath_str(c, "type") ? jpath_str(c, "type") : "string",
                                         jpath_str(c, "format"), jpath_str(c, "description"),
                                         (int)jpath_int(c, "priority", 0)));
    }
    return cols;
  }
  if (!strcmp(kind, "Namespace")) {
    json_array_append_new(cols, column("Status", "string", "", "The status of the namespace", 0));
  } else if (!strcmp(kind, "ConfigMap")) {
    json_array_append_new(cols, column("Data", "string", "", "Number of data in configmap", 0));
  } else if (!strcmp(kind, "Secret")) {
    json_array_append_new(cols, column("Type", "string", "", "The type of the secret", 0));
    json_array_append_new(cols, column("Data", "string", "", "Number of data in secret", 0));
  } else if (!strcmp(kind, "Service")) {
    json_array_append_new(cols, column("Type", "string", "", "The type of the service", 0));
    json_array_append_new(cols, column("Cluster-IP", "string", "", "The cluster IP of the service", 0));
    json_array_append_new(cols, column("External-IP", "string", "", "The external IP of the service", 0));
    json_array_append_new(cols, column("Port(s)", "string", "", "The ports of the service", 0));
    json_array_append_new(cols, column("Age", "string", "", "", 0));
    json_array_append_new(cols, column("Selector", "string", "", "The service selector", 1));
    return cols;
  } else if (!strcmp(kind, "Lease")) {
    json_array_append_new(cols, column("Holder", "string", "", "The holder of the lease", 0));
  } else if (!strcmp(kind, "CustomResourceDefinition")) {
    json_array_set_new(cols, 0, column("Name", "string", "name", "", 0));
    json_array_append_new(cols, column("Created At", "date", "", "", 0));
    return cols;
  } else if (!strcmp(kind, "Event") && !*ti->t.group) {
    json_decref(cols);
    cols = json_array();
    json_array_append_new(cols, column("Last Seen", "string", "", "", 0));
    json_array_append_new(cols, column("Type", "string", "", "", 0));
    json_array_append_new(cols, column("Reason", "string", "", "", 0));
    json_array_append_new(cols, column("Object", "string", "", "", 0));
    json_array_append_new(cols, column("Message", "string", "", "", 0));
    return cols;
  }
  json_array_append_new(cols, column("Age", "string", "", "", 0));
  return cols;
}

static json_t *age_cell(const json_t *obj, const char *path) {
  char age[32];
  registry_human_age(jpath_str(obj, path), age, sizeof(age));
  return json_string(age);
}

static json_t *partial_object(const json_t *obj) {
  json_t *meta = json_deep_copy(json_object_get(obj, "metadata"));
  return json_pack("{s:s, s:s, s:o}", "kind", "PartialObjectMetadata", "apiVersion",
                   "meta.k8s.io/v1", "metadata", meta ? meta : json_object());
}

/* Service columns as kubectl's printer: TYPE, CLUSTER-IP ("<none>" when unset),
 * EXTERNAL-IP (the external name, the external IPs, or "<none>"), PORT(S) ("81/TCP", or
 * "80:30080/TCP" with a node port), AGE, and SELECTOR (wide). */
static void service_cells(json_t *cells, const json_t *obj) {
  const char *type = jpath_str(obj, "spec.type"), *ip = jpath_str(obj, "spec.clusterIP");
  json_array_append_new(cells, json_string(type ? type : "ClusterIP"));
  json_array_append_new(cells, json_string(ip && *ip ? ip : "<none>"));
  buf b = BUF_INIT;
  const char *ext = jpath_str(obj, "spec.externalName");
  const json_t *ips = json_object_get(json_object_get(obj, "spec"), "externalIPs");
  size_t i;
  const json_t *v;
  if (type && !strcmp(type, "ExternalName") && ext)
    buf_printf(&b, "%s", ext);
  json_array_foreach(ips, i, v) {
    if (json_is_string(v))
      buf_printf(&b, "%s%s", b.len ? "," : "", json_string_value(v));
  }
  json_array_append_new(cells, json_string(b.len ? buf_cstr(&b) : "<none>"));
  buf_reset(&b);
  json_array_foreach(json_object_get(json_object_get(obj, "spec"), "ports"), i, v) {
    const char *proto = jpath_str(v, "protocol");
    json_int_t port = jpath_int(v, "port", 0), node = jpath_int(v, "nodePort", 0);
    if (node)
      buf_printf(&b, "%s%lld:%lld/%s", b.len ? "," : "", (long long)port, (long long)node,
                 proto ? proto : "TCP");
    else
      buf_printf(&b, "%s%lld/%s", b.len ? "," : "", (long long)port, proto ? proto : "TCP");
  }
  json_array_append_new(cells, json_string(b.len ? buf_cstr(&b) : "<none>"));
  buf_reset(&b);
  const json_t *sel = json_object_get(json_object_get(obj, "spec"), "selector");
  const char *k;
  json_object_foreach((json_t *)sel, k, v) {
    if (json_is_string(v))
      buf_printf(&b, "%s%s=%s", b.len ? "," : "", k, json_string_value(v));
  }
  json_array_append_new(cells, age_cell(obj, "metadata.creationTimestamp"));
  json_array_append_new(cells, json_string(b.len ? buf_cstr(&b) : "<none>"));
  buf_free(&b);
}

json_t *registry_table_row(const type_info *ti, const json_t *obj) {
  json_t *cells = json_array();
  const char *kind = ti->t.kind;
  const char *name = jpath_str(obj, "metadata.name");
  bool core_event = !strcmp(kind, "Event") && !*ti->t.group;
  if (!core_event || ti->is_crd_served)
    json_array_append_new(cells, json_string(name ? name : ""));
  if (ti->is_crd_served) {
    if (!json_array_size(ti->t.printer_columns)) {
      json_array_append_new(cells, age_cell(obj, "metadata.creationTimestamp"));
    } else {
      size_t i;
      json_t *c;
      json_array_foreach(ti->t.printer_columns, i, c) {
        const char *cname = jpath_str(c, "name");
        if (cname && !strcasecmp(cname, "name"))
          continue;
        jp_set res;
        jsonpath_eval(obj, jpath_str(c, "jsonPath") ? jpath_str(c, "jsonPath") : "", &res);
        json_array_append_new(cells, cell_for(jpath_str(c, "type"), &res));
      }
    }
  } else if (!strcmp(kind, "Namespace")) {
    const char *phase = jpath_str(obj, "status.phase");
    json_array_append_new(cells, json_string(phase ? phase : ""));
    json_array_append_new(cells, age_cell(obj, "metadata.creationTimestamp"));
  } else if (!strcmp(kind, "ConfigMap") || !strcmp(kind, "Secret")) {
    if (!strcmp(kind, "Secret")) {
      const char *type = jpath_str(obj, "type");
      json_array_append_new(cells, json_string(type ? type : "Opaque"));
    }
    size_t n = json_object_size(json_object_get(obj, "data")) +
               json_object_size(json_object_get(obj, "binaryData"));
    json_array_append_new(cells, json_integer((json_int_t)n));
    json_array_append_new(cells, age_cell(obj, "metadata.creationTimestamp"));
  } else if (!strcmp(kind, "Service")) {
    service_cells(cells, obj);
  } else if (!strcmp(kind, "Lease")) {
    const char *h = jpath_str(obj, "spec.holderIdentity");
    json_array_append_new(cells, json_string(h ? h : ""));
    json_array_append_new(cells, age_cell(obj, "metadata.creationTimestamp"));
  } else if (!strcmp(kind, "CustomResourceDefinition")) {
    const char *ts = jpath_str(obj, "metadata.creationTimestamp");
    json_array_append_new(cells, json_string(ts ? ts : ""));
  } else if (core_event) {
    const char *last = jpath_str(obj, "lastTimestamp");
    if (!last)
      last = jpath_str(obj, "eventTime");
    if (!last)
      last = jpath_str(obj, "metadata.creationTimestamp");
    char age[32];
    registry_human_age(last, age, sizeof(age));
    json_array_append_new(cells, json_string(age));
    const char *t = jpath_str(obj, "type"), *reason = jpath_str(obj, "reason");
    json_array_append_new(cells, json_string(t ? t : ""));
    json_array_append_new(cells, json_string(reason ? reason : ""));
    const char *ik = jpath_str(obj, "involvedObject.kind"),
               *in = jpath_str(obj, "involvedObject.name");
    char *o = str_printf("%s/%s", ik ? ik : "", in ? in : "");
    for (char *p = o; p && *p && *p != '/'; p++)
      *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    json_array_append_new(cells, json_string(o ? o : ""));
    free(o);
    const char *msg = jpath_str(obj, "message");
    json_array_append_new(cells, json_string(msg ? msg : ""));
  } else {
    json_array_append_new(cells, age_cell(obj, "metadata.creationTimestamp"));
  }
  return json_pack("{s:o, s:o}", "cells", cells, "object", partial_object(obj));
}
