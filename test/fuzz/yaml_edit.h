/*
 * yaml_edit: the edit the YAML fuzz targets make to every parsed tree before writing it
 * again: each mapping gets `key: value` added, each sequence loses its item `remove_at`
 * (when it has more than `remove_at` items), depth-first, at most 32 levels deep.
 */
#ifndef PORTICO_TEST_FUZZ_YAML_EDIT_H
#define PORTICO_TEST_FUZZ_YAML_EDIT_H

#include "cad/yaml.h"

static inline void fuzz_yaml_edit(yml_node *n, const char *key, const char *value, size_t remove_at,
                                  int depth) {
  if (!n || depth > 32)
    return;
  if (yml_node_kind(n) == YML_MAP) {
    for (size_t i = 0; i < yml_node_size(n); i++)
      fuzz_yaml_edit(yml_map_value_at(n, i), key, value, remove_at, depth + 1);
    yml_map_set(n, key, yml_str_new(value));
  } else if (yml_node_kind(n) == YML_SEQ) {
    for (size_t i = 0; i < yml_node_size(n); i++)
      fuzz_yaml_edit(yml_seq_at(n, i), key, value, remove_at, depth + 1);
    if (yml_node_size(n) > remove_at)
      yml_seq_remove_at(n, remove_at);
  }
}

#endif
