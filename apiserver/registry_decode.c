/*
 * registry_decode: request bodies into JSON objects. JSON (application/json and the patch
 * types), YAML (application/yaml, one document, via libyaml with YAML 1.2 core-schema
 * scalars) and the Kubernetes protobuf envelope (protobuf.h) for the core kinds kubectl
 * sends that way. Errors carry kube-apiserver's wording where it has one.
 */
#include "apiserver/protobuf.h"
#include "apiserver/registry_internal.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/str.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YAML_MAX_DEPTH 100

static json_t *yaml_scalar(const yaml_node_t *node) {
  const char *s = (const char *)node->data.scalar.value;
  size_t n = node->data.scalar.length;
  if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return json_stringn(s, n);
  const char *tag = (const char *)node->tag;
  if (tag && !strcmp(tag, YAML_STR_TAG) && strcmp(tag, YAML_DEFAULT_SCALAR_TAG))
    return json_stringn(s, n);
  if (n == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
    return json_null();
  if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
    return json_true();
  if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
    return json_false();
  int64_t iv;
  if (!str_to_int64(s, INT64_MIN, INT64_MAX, &iv) && strlen(s) == n &&
      !(n > 1 && s[0] == '0') && !(n > 2 && s[0] == '-' && s[1] == '0'))
    return json_integer(iv);
  char *end = NULL;
  bool numeric = isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+' || s[0] == '.') &&
                                                  n > 1 && (isdigit((unsigned char)s[1]) || s[1] == '.'));
  if (numeric) {
    double d = strtod(s, &end);
    if (end && *end == 0 && strpbrk(s, ".eE"))
      return json_real(d);
  }
  return json_stringn(s, n);
}

static json_t *yaml_node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth) {
  if (!node || depth > YAML_MAX_DEPTH)
    return NULL;
  switch (node->type) {
  case YAML_SCALAR_NODE: return yaml_scalar(node);
  case YAML_SEQUENCE_NODE: {
    json_t *arr = json_array();
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         it < node->data.sequence.items.top; it++) {
      json_t *v = yaml_node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);
      if (!v) {
        json_decref(arr);
        return NULL;
      }
      json_array_append_new(arr, v);
    }
    return arr;
  }
  case YAML_MAPPING_NODE: {
    json_t *obj = json_object();
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
      yaml_node_t *k = yaml_document_get_node(doc, p->key);
      if (!k || k->type != YAML_SCALAR_NODE) {
        json_decref(obj);
        return NULL;
      }
      json_t *v = yaml_node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
      if (!v) {
        json_decref(obj);
        return NULL;
      }
      char *key = str_ndup((const char *)k->data.scalar.value, k->data.scalar.length);
      json_object_set_new(obj, key ? key : "", v);
      free(key);
    }
    return obj;
  }
  case YAML_NO_NODE: break;
  }
  return NULL;
}

int registry_yaml_to_json(const char *text, size_t len, json_t **out, char **message) {
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) {
    *message = str_dup("yaml: out of memory");
    return 400;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  int status = 0;
  if (!yaml_parser_load(&parser, &doc)) {
    *message = str_printf("error converting YAML to JSON: yaml: line %zu: %s",
                          parser.problem_mark.line + 1, parser.problem ? parser.problem : "error");
    yaml_parser_delete(&parser);
    return 400;
  }
  json_t *v = yaml_node_to_json(&doc, yaml_document_get_root_node(&doc), 0);
  if (!v) {
    *message = str_dup("error converting YAML to JSON: unsupported or empty document");
    status = 400;
  } else {
    *out = v;
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return status;
}

static bool media_is(const char *content_type, const char *want) {
  size_t n = strlen(want);
  return !strncasecmp(content_type, want, n) &&
         (content_type[n] == 0 || content_type[n] == ';' || content_type[n] == ' ');
}

int registry_decode_body(const api_request *req, json_t **out, char **message) {
  const char *ct = req->content_type ? req->content_type : "";
  if (req->body_len > API_MAX_BODY) {
    *message = str_dup("Request entity too large: limit is 3145728");
    return 413;
  }
  if (protobuf_is_content_type(ct)) {
    json_t *obj = NULL;
    int rc = protobuf_decode_object(req->body, req->body_len, &obj);
    if (rc == ERR_UNSUPPORTED) {
      *message = str_printf("the body of the request was in an unknown format - accepted media "
                            "types include: application/json, application/yaml, "
                            "application/vnd.kubernetes.protobuf");
      return 415;
    }
    if (rc) {
      *message = str_printf("failed to decode protobuf body: %s", error_message());
      return 400;
    }
    *out = obj;
    return 0;
  }
  if (media_is(ct, "application/yaml") || media_is(ct, "application/x-yaml") ||
      media_is(ct, "text/yaml")) {
    json_t *v = NULL;
    int st = registry_yaml_to_json(req->body ? req->body : "", req->body_len, &v, message);
    if (st)
      return st;
    if (!json_is_object(v)) {
      json_decref(v);
      *message = str_dup("Object 'Kind' is missing in the request body");
      return 400;
    }
    *out = v;
    return 0;
  }
  if (*ct && !media_is(ct, "application/json") && !media_is(ct, "*/*")) {
    *message = str_printf("the body of the request was in an unknown format - accepted media "
                          "types include: application/json, application/yaml, "
                          "application/vnd.kubernetes.protobuf");
    return 415;
  }
  json_error_t jerr;
  json_t *v = json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
  if (!v) {
    *message = str_printf("couldn't get version/kind; json parse error: %s", jerr.text);
    return 400;
  }
  if (!json_is_object(v)) {
    json_decref(v);
    *message = str_dup("couldn't get version/kind; json parse error: json: cannot unmarshal "
                       "non-object into Go value of type struct");
    return 400;
  }
  *out = v;
  return 0;
}
