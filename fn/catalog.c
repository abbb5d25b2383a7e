/* catalog: see catalog.h. */
#include "catalog.h"

#include <string.h>

static const catalog_entry entries[] = {
    {"set-namespace", "gcr.io/kpt-fn/set-namespace:v0.4.1",
     "Sets the namespace of every namespaced resource (and references to the old one).", false},
    {"set-labels", "gcr.io/kpt-fn/set-labels:v0.2.0",
     "Adds or updates labels on every resource, including selectors and pod templates.", false},
    {"set-annotations", "gcr.io/kpt-fn/set-annotations:v0.1.4",
     "Adds or updates annotations on every resource.", false},
    {"apply-setters", "gcr.io/kpt-fn/apply-setters:v0.2.0",
     "Sets field values marked with `# kpt-set:` comments from setter values.", false},
    {"search-replace", "gcr.io/kpt-fn/search-replace:v0.2.0",
     "Searches fields by path and value and replaces or reports them.", false},
    {"ensure-name-substring", "gcr.io/kpt-fn/ensure-name-substring:v0.2.0",
     "Prepends or appends a substring to resource names unless already present.", false},
    {"set-image", "gcr.io/kpt-fn/set-image:v0.1.1",
     "Sets the name, tag or digest of container images.", false},
    {"apply-replacements", "gcr.io/kpt-fn/apply-replacements:v0.1.1",
     "Copies field values from a source resource into target fields (kustomize replacements).",
     false},
};

#define N_ENTRIES (sizeof(entries) / sizeof(entries[0]))

const catalog_entry *catalog_find(const char *name) {
  for (size_t i = 0; name && i < N_ENTRIES; i++)
    if (!strcmp(entries[i].name, name))
      return &entries[i];
  return NULL;
}

const catalog_entry *catalog_at(size_t i) { return i < N_ENTRIES ? &entries[i] : NULL; }

const char *catalog_names(void) {
  return "set-namespace, set-labels, set-annotations, apply-setters, search-replace, "
         "ensure-name-substring, set-image, apply-replacements";
}
