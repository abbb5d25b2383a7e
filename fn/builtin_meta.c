/*
 * builtin_meta: the metadata built-ins, following the catalog functions' documented
 * behaviour (and their published test expectations) rule by rule:
 *
 *   set-namespace    namespace-scoped objects (known built-in kinds always; other kinds
 *                    when they carry a namespace) move to the new namespace; Namespace
 *                    objects are renamed; a CRD's conversion webhook service, an
 *                    APIService's service and ClusterRoleBinding subjects follow; the
 *                    config.kubernetes.io/depends-on annotations that point at moved
 *                    objects are rewritten. An empty namespace counts as "default".
 *                    Without namespaceMatcher every object must come from one upstream
 *                    namespace (internal.kpt.dev/upstream-identifier, else its own).
 *                    Local-config objects are skipped. Two summary results.
 *   set-labels       metadata.labels, selectors (created for Service, RC, Deployment,
 *                    ReplicaSet, DaemonSet, StatefulSet; only updated for Job, PDB,
 *                    NetworkPolicy), pod templates, CronJob job templates, StatefulSet
 *                    volume claim templates; keys in sorted order; local config skipped;
 *                    one result "set N labels in total".
 *   set-annotations  kustomize's commonAnnotations field specs (metadata, and the pod and
 *                    job templates of workloads), local config included; one result per
 *                    annotated field: "set annotations: {json}" with field and file.
 */
#include "builtin.h"

#include "base/error.h"
#include "base/str.h"
#include "cad/krm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAMES 256
#define DEPENDS_ON "config.kubernetes.io/depends-on"

/* ---- shared ---- */

/* A small set of strings kept sorted (Go's sets.String.List() order). */
typedef struct strset {
  char *v[MAX_NAMES];
  int n;
} strset;

static void strset_add(strset *s, const char *x) {
  int i = 0;
  while (i < s->n && strcmp(s->v[i], x) < 0)
    i++;
  if ((i < s->n && !strcmp(s->v[i], x)) || s->n >= MAX_NAMES)
    return;
  char *d = str_dup(x);
  if (!d)
    return;
  memmove(&s->v[i + 1], &s->v[i], (size_t)(s->n - i) * sizeof(char *));
  s->v[i] = d;
  s->n++;
}

static void strset_free(strset *s) {
  for (int i = 0; i < s->n; i++)
    free(s->v[i]);
  s->n = 0;
}

/* "[a b c]" as Go's %v prints a []string. Caller frees. */
static char *strset_format(const strset *s) {
  buf b = BUF_INIT;
  buf_putc(&b, '[');
  for (int i = 0; i < s->n; i++)
    buf_printf(&b, "%s%s", i ? " " : "", s->v[i]);
  buf_putc(&b, ']');
  return buf_detach(&b, NULL);
}

static const char *group_of(const yml_node *item, char *out, size_t size) {
  const char *av = item_api_version(item);
  const char *slash = av ? strchr(av, '/') : NULL;
  size_t n = slash ? (size_t)(slash - av) : 0;
  if (n >= size)
    n = size - 1;
  memcpy(out, av ? av : "", n);
  out[n] = 0;
  return out;
}

static bool kind_in(const char *kind, const char *const *kinds) {
  for (; kind && *kinds; kinds++)
    if (!strcmp(kind, *kinds))
      return true;
  return false;
}

/* ---- set-namespace ---- */

static const char *const cluster_kinds[] = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PersistentVolume", "StorageClass", "Node", "APIService", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration", "PriorityClass", "CSIDriver", "CSINode", "VolumeAttachment",
    "IngressClass", "RuntimeClass", "PodSecurityPolicy", "CertificateSigningRequest",
    "ComponentStatus", "FlowSchema", "PriorityLevelConfiguration", "TokenReview",
    "SelfSubjectAccessReview", "SelfSubjectRulesReview", "SubjectAccessReview",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", NULL};

static const char *const namespaced_kinds[] = {
    "Pod", "Service", "ConfigMap", "Secret", "ServiceAccount", "Deployment", "StatefulSet",
    "DaemonSet", "ReplicaSet", "Job", "CronJob", "Ingress", "NetworkPolicy", "Role", "RoleBinding",
    "PersistentVolumeClaim", "Endpoints", "EndpointSlice", "Event", "LimitRange", "ResourceQuota",
    "HorizontalPodAutoscaler", "PodDisruptionBudget", "ReplicationController", "PodTemplate",
    "ControllerRevision", "Lease", "CSIStorageCapacity", "LocalSubjectAccessReview", NULL};

static bool is_cluster_scoped(const yml_node *item) {
  return kind_in(item_kind(item), cluster_kinds);
}

/* Known namespaced kinds always; unknown kinds when they carry a namespace. */
static bool is_namespace_scoped(const yml_node *item) {
  if (is_cluster_scoped(item))
    return false;
  if (kind_in(item_kind(item), namespaced_kinds))
    return true;
  const char *ns = item_namespace(item);
  return ns && *ns;
}

/* Field `i` (0 group, 1 kind, 2 namespace, 3 name) of the upstream identifier, or NULL. */
static char *origin_field(const yml_node *item, int i) {
  const char *id = krm_annotation(item, KRM_ANN_UPSTREAM_ID);
  if (!id)
    return NULL;
  const char *p = id;
  for (int k = 0; k < i && p; k++) {
    p = strchr(p, '|');
    if (p)
      p++;
  }
  if (!p)
    return NULL;
  const char *end = strchr(p, '|');
  return str_ndup(p, end ? (size_t)(end - p) : strlen(p));
}

typedef struct ns_walk {
  const char *new_ns;
  const char *matcher; /* NULL: all */
  int count;
  strset olds;
} ns_walk;

/* The catalog's visitor: decides for one namespace value; returns the value to write
 * (a new string) — the current one made explicit ("" -> "default") or the new namespace. */
static char *visit(ns_walk *w, const char *origin, const char *current) {
  const char *cur = current && *current ? current : "default";
  if (!strcmp(cur, w->new_ns))
    return str_dup(cur);
  bool change = !w->matcher || !strcmp(w->matcher, cur) || (origin && !strcmp(w->matcher, origin));
  if (!change)
    return str_dup(cur);
  strset_add(&w->olds, cur);
  w->count++;
  return str_dup(w->new_ns);
}

/* Visits the string at `map`.`key` (only when present unless `always`). */
static int visit_field(ns_walk *w, yml_node *map, const char *key, const char *origin, bool always) {
  if (!map || yml_node_kind(map) != YML_MAP)
    return 0;
  yml_node *v = yml_map_get(map, key);
  if (!v && !always)
    return 0;
  const char *cur = v ? yml_scalar_value(v, NULL) : NULL;
  char *nv = visit(w, origin, cur);
  if (!nv)
    return ERR_NOMEM;
  int rc = yml_set_str_if_changed(map, key, nv);
  free(nv);
  return rc < 0 ? rc : 0;
}

/* "group/namespaces/ns/Kind/name" of a namespace-scoped object, or NULL. */
static char *depends_on_id(const yml_node *item) {
  char g[128];
  const char *ns = item_namespace(item);
  return str_printf("%s/namespaces/%s/%s/%s", group_of(item, g, sizeof(g)),
                    ns && *ns ? ns : "default", item_kind(item) ? item_kind(item) : "",
                    item_name(item) ? item_name(item) : "");
}

static int set_namespace_config(const fn_rlist *rl, const char **ns, const char **matcher) {
  *ns = *matcher = NULL;
  if (!rl->config || !yml_node_size(rl->config))
    return error_set(ERR_INVALID, "FunctionConfig is missing. Expect `ConfigMap.v1` or "
                                  "`SetNamespace.v1alpha1.fn.kpt.dev`");
  const char *kind = yml_lookup_str(rl->config, "kind", NULL);
  const char *av = yml_lookup_str(rl->config, "apiVersion", NULL);
  if (str_eq(kind, "ConfigMap") && str_eq(av, "v1")) {
    const char *name = yml_lookup_str(rl->config, "metadata", "name", NULL);
    *matcher = yml_lookup_str(rl->config, "data", "namespaceMatcher", NULL);
    *ns = yml_lookup_str(rl->config, "data", "namespace", NULL);
    if (*ns && **ns)
      return 0;
    const char *pkgname = yml_lookup_str(rl->config, "data", "name", NULL);
    if (str_eq(name, "kptfile.kpt.dev")) {
      *ns = pkgname;
      return pkgname && *pkgname ? 0 : error_set(ERR_INVALID, "`data.name` should not be empty");
    }
    return error_set(ERR_INVALID, "`data.namespace` should not be empty");
  }
  if (str_eq(kind, "SetNamespace") && av && str_has_prefix(av, "fn.kpt.dev/")) {
    *ns = yml_lookup_str(rl->config, "namespace", NULL);
    *matcher = yml_lookup_str(rl->config, "namespaceMatcher", NULL);
    return *ns && **ns ? 0 : error_set(ERR_INVALID, "`namespace` should not be empty");
  }
  return error_set(ERR_INVALID,
                   "unknown functionConfig Kind=%s ApiVersion=%s, expect `ConfigMap.v1` or "
                   "`SetNamespace.v1alpha1.fn.kpt.dev`",
                   kind ? kind : "", av ? av : "");
}

int builtin_set_namespace(fn_rlist *rl) {
  const char *ns, *matcher;
  int rc = set_namespace_config(rl, &ns, &matcher);
  if (rc)
    return rc;
  if (matcher && !*matcher)
    matcher = NULL;
  size_t n = yml_node_size(rl->items);
  ns_walk w = {.new_ns = ns, .matcher = matcher};
  strset depends = {0}, origins = {0}, dep_olds = {0};
  char *msg = NULL;
  /* Identities before the change, and the origins (upstream namespaces). */
  for (size_t i = 0; i < n; i++) {
    yml_node *item = yml_seq_at(rl->items, i);
    if (krm_is_local_config(item) || !is_namespace_scoped(item))
      continue;
    char *id = depends_on_id(item);
    if (id)
      strset_add(&depends, id);
    free(id);
    char *origin = origin_field(item, 2);
    const char *o = origin ? origin : item_namespace(item);
    if (o && *o)
      strset_add(&origins, o);
    free(origin);
  }
  if (!matcher && origins.n > 1) {
    char *list = strset_format(&origins);
    rc = error_set(ERR_INVALID,
                   "unable to use origin `namespace` to match. expect a single upstream namespace, "
                   "found %s. please switch to use `namespaceMatcher`to specify the namespace "
                   "value you want to change",
                   list ? list : "");
    free(list);
    goto done;
  }
  /* Cluster-scoped objects with namespace fields first, then the namespaced ones. */
  for (int pass = 0; pass < 2 && !rc; pass++) {
    for (size_t i = 0; i < n && !rc; i++) {
      yml_node *item = yml_seq_at(rl->items, i);
      if (krm_is_local_config(item))
        continue;
      const char *kind = item_kind(item);
      if (pass == 0 && is_cluster_scoped(item)) {
        if (str_eq(kind, "Namespace")) {
          char *origin = origin_field(item, 3);
          rc = visit_field(&w, yml_map_get(item, "metadata"), "name", origin ? origin : item_name(item),
                           false);
          free(origin);
        } else if (str_eq(kind, "CustomResourceDefinition")) {
          rc = visit_field(&w, yml_lookup(item, "spec", "conversion", "webhook", "clientConfig", "service", NULL),
                           "namespace", "", false);
        } else if (str_eq(kind, "APIService")) {
          rc = visit_field(&w, yml_lookup(item, "spec", "service", NULL), "namespace", "", false);
        } else if (str_eq(kind, "ClusterRoleBinding")) {
          yml_node *subjects = yml_map_get(item, "subjects");
          for (size_t s = 0; subjects && yml_node_kind(subjects) == YML_SEQ &&
                             s < yml_node_size(subjects) && !rc;
               s++)
            rc = visit_field(&w, yml_seq_at(subjects, s), "namespace", "", false);
        }
      } else if (pass == 1 && is_namespace_scoped(item)) {
        char *origin = origin_field(item, 2);
        rc = visit_field(&w, yml_map_ensure_map(item, "metadata"), "namespace",
                         origin ? origin : item_namespace(item), true);
        free(origin);
      }
    }
  }
  if (rc)
    goto done;
  char *olds = strset_format(&w.olds);
  msg = w.count ? str_printf("namespace %s updated to \"%s\", %d value(s) changed", olds ? olds : "[]",
                             ns, w.count)
                : str_printf("all matching namespaces are already \"%s\". no value changed", ns);
  free(olds);
  rc = msg ? fn_result_add(rl, "info", msg, NULL, NULL) : ERR_NOMEM;
  free(msg);
  msg = NULL;
  /* depends-on annotations that point at an object of the package. */
  int dep_count = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    yml_node *item = yml_seq_at(rl->items, i);
    const char *dep = krm_is_local_config(item) ? NULL : krm_annotation(item, DEPENDS_ON);
    if (!dep)
      continue;
    char seg[5][256];
    int ns_count = 0;
    const char *p = dep;
    bool ok = true;
    for (; ns_count < 5 && ok; ns_count++) {
      const char *e = strchr(p, '/');
      size_t len = e ? (size_t)(e - p) : strlen(p);
      ok = len < sizeof(seg[0]) && (ns_count < 4 ? e != NULL : e == NULL);
      if (ok) {
        memcpy(seg[ns_count], p, len);
        seg[ns_count][len] = 0;
        p = e ? e + 1 : p + len;
      }
    }
    if (!ok || strcmp(seg[1], "namespaces") || !seg[2][0] || !seg[3][0] || !seg[4][0])
      continue;
    bool known = false;
    for (int k = 0; k < depends.n && !known; k++)
      known = !strcmp(depends.v[k], dep);
    if (!known || !strcmp(seg[2], ns) || (matcher && strcmp(matcher, seg[2])))
      continue;
    strset_add(&dep_olds, seg[2]);
    dep_count++;
    char *nv = str_printf("%s/namespaces/%s/%s/%s", seg[0], ns, seg[3], seg[4]);
    rc = nv ? krm_set_annotation(item, DEPENDS_ON, nv) : ERR_NOMEM;
    free(nv);
  }
  if (!rc) {
    olds = strset_format(&dep_olds);
    msg = dep_count ? str_printf("`depends-on` annotation namespace %s updated to \"%s\", %d "
                                 "value(s) changed",
                                 olds ? olds : "", ns, dep_count)
                    : str_dup("all `depends-on` annotations are up-to-date. no `namespace` changed");
    free(olds);
    rc = msg ? fn_result_add(rl, "info", msg, NULL, NULL) : ERR_NOMEM;
  }
done:
  free(msg);
  strset_free(&w.olds);
  strset_free(&depends);
  strset_free(&origins);
  strset_free(&dep_olds);
  return rc;
}

/* ---- set-labels ---- */

typedef struct label_ctx {
  const char *keys[MAX_NAMES]; /* sorted */
  const char *vals[MAX_NAMES];
  int n;
  int count;
} label_ctx;

/* Loads key/value pairs sorted by key. */
static void load_pairs(label_ctx *c, const yml_node *pairs) {
  c->n = 0;
  for (size_t i = 0; pairs && i < yml_node_size(pairs) && c->n < MAX_NAMES; i++) {
    const char *k = yml_scalar_value(yml_map_key_at(pairs, i), NULL);
    const char *v = yml_scalar_value(yml_map_value_at(pairs, i), NULL);
    if (!k || !v)
      continue;
    int j = c->n;
    while (j > 0 && strcmp(c->keys[j - 1], k) > 0) {
      c->keys[j] = c->keys[j - 1];
      c->vals[j] = c->vals[j - 1];
      j--;
    }
    c->keys[j] = k;
    c->vals[j] = v;
    c->n++;
  }
}

/* The catalog's updateLabels: at the path below `o` (a map), set each label when it exists
 * with another value, or when missing and `create`. Counts every label considered. */
static int update_labels(label_ctx *c, yml_node *o, const char *const *path, bool create) {
  if (!o || yml_node_kind(o) != YML_MAP)
    return 0;
  for (int i = 0; i < c->n; i++) {
    c->count++;
    yml_node *m = o;
    for (const char *const *p = path; *p && m; p++) {
      yml_node *next = yml_map_get(m, *p);
      if (!next && create)
        next = yml_map_ensure_map(m, *p);
      m = next && yml_node_kind(next) == YML_MAP ? next : NULL;
    }
    if (!m)
      continue;
    yml_node *cur = yml_map_get(m, c->keys[i]);
    if (!cur && !create)
      continue;
    int rc = yml_set_str_if_changed(m, c->keys[i], c->vals[i]);
    if (rc < 0)
      return rc;
  }
  return 0;
}

static yml_node *child_map(yml_node *n, const char *key) {
  yml_node *v = n && yml_node_kind(n) == YML_MAP ? yml_map_get(n, key) : NULL;
  return v && yml_node_kind(v) == YML_MAP ? v : NULL;
}

static const char *const meta_labels[] = {"metadata", "labels", NULL};
static const char *const selector_labels[] = {"selector", "matchLabels", NULL};
static const char *const label_selector[] = {"labelSelector", "matchLabels", NULL};
static const char *const pod_selector[] = {"podSelector", "matchLabels", NULL};

static int labels_in_pod(label_ctx *c, yml_node *pod) {
  if (!pod)
    return 0;
  int rc = update_labels(c, pod, meta_labels, true);
  yml_node *spec = child_map(pod, "spec");
  yml_node *tsc = spec ? yml_map_get(spec, "topologySpreadConstraints") : NULL;
  for (size_t i = 0; !rc && tsc && yml_node_kind(tsc) == YML_SEQ && i < yml_node_size(tsc); i++)
    rc = update_labels(c, yml_seq_at(tsc, i), label_selector, false);
  yml_node *aff = child_map(spec, "affinity");
  static const char *const kinds[] = {"podAffinity", "podAntiAffinity"};
  for (int k = 0; k < 2 && !rc && aff; k++) {
    yml_node *pa = child_map(aff, kinds[k]);
    if (!pa)
      continue;
    yml_node *pref = yml_map_get(pa, "preferredDuringSchedulingIgnoredDuringExecution");
    for (size_t i = 0; !rc && pref && yml_node_kind(pref) == YML_SEQ && i < yml_node_size(pref); i++)
      rc = update_labels(c, child_map(yml_seq_at(pref, i), "podAffinityTerm"), label_selector, false);
    yml_node *req = yml_map_get(pa, "requiredDuringSchedulingIgnoredDuringExecution");
    for (size_t i = 0; !rc && req && yml_node_kind(req) == YML_SEQ && i < yml_node_size(req); i++)
      rc = update_labels(c, yml_seq_at(req, i), label_selector, false);
  }
  return rc;
}

int builtin_set_labels(fn_rlist *rl) {
  label_ctx c;
  memset(&c, 0, sizeof(c));
  load_pairs(&c, fn_config_map(rl, "labels"));
  bool any = false;
  for (size_t i = 0; i < yml_node_size(rl->items) && !any; i++)
    any = !krm_is_local_config(yml_seq_at(rl->items, i)) && !item_is_kptfile(yml_seq_at(rl->items, i));
  if (!any)
    return fn_result_add(rl, "info", "no input resources", NULL, NULL);
  if (!c.n)
    return fn_result_add(rl, "warning", "no `labels` arguments are given in FunctionConfig", NULL, NULL);
  int rc = 0;
  for (size_t i = 0; i < yml_node_size(rl->items) && !rc; i++) {
    yml_node *o = yml_seq_at(rl->items, i);
    if (krm_is_local_config(o) || item_is_kptfile(o))
      continue;
    const char *kind = item_kind(o);
    char g[128];
    const char *group = group_of(o, g, sizeof(g));
    const char *av = item_api_version(o);
    bool core_v1 = str_eq(av, "v1");
    rc = update_labels(&c, o, meta_labels, true);
    /* selectors */
    if (!rc && core_v1 && (str_eq(kind, "Service") || str_eq(kind, "ReplicationController"))) {
      static const char *const p[] = {"spec", "selector", NULL};
      rc = update_labels(&c, o, p, true);
    }
    static const char *const spec_match[] = {"spec", "selector", "matchLabels", NULL};
    static const char *const created[] = {"Deployment", "ReplicaSet", "DaemonSet", NULL};
    if (!rc && (kind_in(kind, created) || (str_eq(kind, "StatefulSet") && str_eq(group, "apps"))))
      rc = update_labels(&c, o, spec_match, true);
    else if (!rc && ((str_eq(kind, "Job") && str_eq(group, "batch")) ||
                     (str_eq(kind, "PodDisruptionBudget") && str_eq(group, "policy"))))
      rc = update_labels(&c, o, spec_match, false);
    bool netpol = str_eq(kind, "NetworkPolicy") && str_eq(group, "networking.k8s.io");
    if (!rc && netpol) {
      static const char *const p[] = {"spec", "podSelector", "matchLabels", NULL};
      rc = update_labels(&c, o, p, false);
    }
    yml_node *spec = child_map(o, "spec");
    if (rc || !spec)
      continue;
    static const char *const pod_kinds[] = {"Deployment", "ReplicaSet", "DaemonSet", NULL};
    bool pod = (core_v1 && str_eq(kind, "ReplicationController")) || kind_in(kind, pod_kinds) ||
               (str_eq(kind, "StatefulSet") && str_eq(group, "apps")) ||
               (str_eq(kind, "Job") && str_eq(group, "batch"));
    if (pod)
      rc = labels_in_pod(&c, child_map(spec, "template"));
    if (!rc && str_eq(kind, "CronJob") && str_eq(group, "batch")) {
      yml_node *job = child_map(spec, "jobTemplate");
      if (job) {
        rc = update_labels(&c, job, meta_labels, true);
        yml_node *jspec = child_map(job, "spec");
        if (!rc)
          rc = update_labels(&c, jspec, selector_labels, false);
        if (!rc)
          rc = labels_in_pod(&c, child_map(jspec, "template"));
      }
    }
    if (!rc && str_eq(kind, "StatefulSet") && str_eq(group, "apps")) {
      yml_node *vcts = yml_map_get(spec, "volumeClaimTemplates");
      for (size_t v = 0; !rc && vcts && yml_node_kind(vcts) == YML_SEQ && v < yml_node_size(vcts); v++) {
        yml_node *vol = yml_seq_at(vcts, v);
        rc = update_labels(&c, vol, meta_labels, true);
        if (!rc)
          rc = update_labels(&c, vol, selector_labels, false);
      }
    }
    if (!rc && netpol) {
      static const char *const dirs[][2] = {{"ingress", "from"}, {"egress", "to"}};
      for (int d = 0; d < 2 && !rc; d++) {
        yml_node *rules = yml_map_get(spec, dirs[d][0]);
        for (size_t r = 0; !rc && rules && yml_node_kind(rules) == YML_SEQ && r < yml_node_size(rules); r++) {
          yml_node *peers = yml_node_kind(yml_seq_at(rules, r)) == YML_MAP
                                ? yml_map_get(yml_seq_at(rules, r), dirs[d][1])
                                : NULL;
          for (size_t q = 0; !rc && peers && yml_node_kind(peers) == YML_SEQ && q < yml_node_size(peers); q++)
            rc = update_labels(&c, yml_seq_at(peers, q), pod_selector, false);
        }
      }
    }
  }
  if (rc)
    return rc;
  char *msg = str_printf("set %d labels in total", c.count);
  rc = msg ? fn_result_add(rl, "info", msg, NULL, NULL) : ERR_NOMEM;
  free(msg);
  return rc;
}

/* ---- set-annotations ---- */

typedef struct annotated {
  char *file, *index, *field;
} annotated;

static int cmp_annotated(const void *a, const void *b) {
  const annotated *x = a, *y = b;
  int c = strcmp(x->file, y->file);
  if (!c)
    c = strcmp(x->index, y->index);
  return c ? c : strcmp(x->field, y->field);
}

int builtin_set_annotations(fn_rlist *rl) {
  label_ctx c;
  memset(&c, 0, sizeof(c));
  load_pairs(&c, fn_config_map(rl, "annotations"));
  if (!c.n)
    return 0;
  /* The message: every annotation as a JSON object with sorted keys. */
  json_t *all = json_object();
  for (int i = 0; all && i < c.n; i++)
    json_object_set_new(all, c.keys[i], json_string(c.vals[i]));
  char *json = all ? json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(all);
  char *msg = json ? str_printf("set annotations: %s", json) : NULL;
  free(json);
  if (!msg)
    return ERR_NOMEM;
  size_t n = yml_node_size(rl->items);
  annotated *done = calloc(n * 3 + 1, sizeof(annotated));
  size_t nd = 0;
  int rc = done ? 0 : ERR_NOMEM;
  static const char *const tmpl_kinds[] = {"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", NULL};
  for (size_t i = 0; i < n && !rc; i++) {
    yml_node *o = yml_seq_at(rl->items, i);
    if (item_is_kptfile(o))
      continue;
    const char *kind = item_kind(o);
    char g[128];
    const char *group = group_of(o, g, sizeof(g));
    const char *paths[3][7] = {{"metadata", "annotations", NULL}};
    int np = 1;
    if ((str_eq(kind, "ReplicationController") && str_eq(item_api_version(o), "v1")) ||
        kind_in(kind, tmpl_kinds) || (str_eq(kind, "Job") && str_eq(group, "batch"))) {
      const char *p[] = {"spec", "template", "metadata", "annotations", NULL};
      memcpy(paths[np++], p, sizeof(p));
    } else if (str_eq(kind, "CronJob") && str_eq(group, "batch")) {
      const char *p[] = {"spec", "jobTemplate", "metadata", "annotations", NULL};
      const char *q[] = {"spec", "jobTemplate", "spec", "template", "metadata", "annotations", NULL};
      memcpy(paths[np++], p, sizeof(p));
      memcpy(paths[np++], q, sizeof(q));
    }
    const char *file = krm_annotation(o, KRM_ANN_PATH);
    const char *index = krm_annotation(o, KRM_ANN_INDEX);
    for (int p = 0; p < np && !rc; p++) {
      int before = c.count;
      rc = update_labels(&c, o, paths[p], true);
      if (rc || c.count == before)
        continue;
      buf field = BUF_INIT;
      for (int k = 0; k < 7 && paths[p][k]; k++)
        buf_printf(&field, "%s%s", k ? "." : "", paths[p][k]);
      done[nd].file = str_dup(file ? file : "");
      done[nd].index = str_dup(index ? index : "0");
      done[nd].field = buf_detach(&field, NULL);
      if (!done[nd].file || !done[nd].index || !done[nd].field)
        rc = ERR_NOMEM;
      nd++;
    }
  }
  if (!rc)
    qsort(done, nd, sizeof(annotated), cmp_annotated);
  for (size_t i = 0; i < nd; i++) {
    if (!rc)
      rc = fn_result_add_file(rl, NULL, msg, done[i].file[0] ? done[i].file : NULL, done[i].index,
                              done[i].field);
    free(done[i].file);
    free(done[i].index);
    free(done[i].field);
  }
  free(done);
  free(msg);
  return rc;
}
