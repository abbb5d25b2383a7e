/*
 * protobuf: see protobuf.h. A reader over a (pointer, length) window: each nested message
 * gets its own window carved out of its parent's, so no read can escape the input. Field
 * numbers come from k8s.io/api/core/v1/generated.proto and
 * k8s.io/apimachinery/pkg/{runtime,apis/meta/v1}/generated.proto.
 */
#include "apiserver/protobuf.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/str.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

typedef struct reader {
  const uint8_t *p;
  size_t len;
} reader;

typedef struct field {
  uint32_t number;
  int wire;
  uint64_t varint;      /* WIRE_VARINT */
  const uint8_t *bytes; /* WIRE_LEN */
  size_t bytes_len;
} field;

static int read_varint(reader *r, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (!r->len)
      return error_set(ERR_INVALID, "protobuf: truncated varint");
    uint8_t b = *r->p++;
    r->len--;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return error_set(ERR_INVALID, "protobuf: varint too long");
}

/* Reads the next field; ERR_EOF at the clean end of the window. */
static int next_field(reader *r, field *f) {
  if (!r->len)
    return ERR_EOF;
  uint64_t key;
  int rc = read_varint(r, &key);
  if (rc)
    return rc;
  f->number = (uint32_t)(key >> 3);
  f->wire = (int)(key & 7);
  if (key >> 3 == 0 || key >> 3 > 536870911)
    return error_set(ERR_INVALID, "protobuf: bad field number");
  switch (f->wire) {
  case WIRE_VARINT:
    return read_varint(r, &f->varint);
  case WIRE_I64:
  case WIRE_I32: {
    size_t n = f->wire == WIRE_I64 ? 8 : 4;
    if (r->len < n)
      return error_set(ERR_INVALID, "protobuf: truncated fixed field");
    r->p += n;
    r->len -= n;
    return 0;
  }
  case WIRE_LEN: {
    uint64_t n;
    if ((rc = read_varint(r, &n)))
      return rc;
    if (n > r->len)
      return error_set(ERR_INVALID, "protobuf: length %llu past the end of the message",
                       (unsigned long long)n);
    f->bytes = r->p;
    f->bytes_len = (size_t)n;
    r->p += n;
    r->len -= n;
    return 0;
  }
  default:
    return error_set(ERR_INVALID, "protobuf: unsupported wire type %d", f->wire);
  }
}

static int expect_wire(const field *f, int wire, const char *what) {
  if (f->wire != wire)
    return error_set(ERR_INVALID, "protobuf: field %s has the wrong wire type", what);
  return 0;
}

static json_t *field_string(const field *f) {
  json_t *s = json_stringn(f->bytes_len ? (const char *)f->bytes : "", f->bytes_len);
  if (!s)
    error_set(ERR_INVALID, "protobuf: string field is not valid UTF-8");
  return s;
}

static json_t *field_base64(const field *f) {
  size_t out_len = 4 * ((f->bytes_len + 2) / 3);
  char *text = malloc(out_len + 1);
  if (!text) {
    error_set(ERR_NOMEM, "out of memory");
    return NULL;
  }
  int n = f->bytes_len ? EVP_EncodeBlock((unsigned char *)text, f->bytes, (int)f->bytes_len) : 0;
  json_t *s = json_stringn(text, n > 0 ? (size_t)n : 0);
  free(text);
  if (!s)
    error_set(ERR_NOMEM, "out of memory");
  return s;
}

/* A map<string, string|bytes> entry message {key = 1, value = 2} added to obj. */
static int decode_map_entry(const field *entry, json_t *obj, bool bytes_value) {
  if (expect_wire(entry, WIRE_LEN, "map entry"))
    return ERR_INVALID;
  reader r = {entry->bytes, entry->bytes_len};
  field f, key = {0}, value = {0};
  bool have_key = false, have_value = false;
  int rc;
  while ((rc = next_field(&r, &f)) == 0) {
    if (f.number == 1 && !expect_wire(&f, WIRE_LEN, "map key")) {
      key = f;
      have_key = true;
    } else if (f.number == 2 && !expect_wire(&f, WIRE_LEN, "map value")) {
      value = f;
      have_value = true;
    } else if (f.number <= 2) {
      return ERR_INVALID;
    }
  }
  if (rc != ERR_EOF)
    return rc;
  (void)have_key;
  json_t *k = have_key ? field_string(&key) : json_string("");
  if (!k)
    return ERR_INVALID;
  json_t *v;
  if (have_value)
    v = bytes_value ? field_base64(&value) : field_string(&value);
  else
    v = json_string("");
  if (!v) {
    json_decref(k);
    return error_code() ? error_code() : ERR_INVALID;
  }
  json_object_set_new(obj, json_string_value(k), v);
  json_decref(k);
  return 0;
}

/* Sets obj[name] to an object built from map entries (creating it on first use). */
static int add_map_entry(json_t *obj, const char *name, const field *f, bool bytes_value) {
  json_t *map = json_object_get(obj, name);
  if (!map) {
    map = json_object();
    if (!map || json_object_set_new(obj, name, map))
      return error_set(ERR_NOMEM, "out of memory");
  }
  return decode_map_entry(f, map, bytes_value);
}

/* Sets obj[name] to the string; an empty string is left out, as the JSON encoding does
 * for these `omitempty` fields (Go's protobuf encoder writes them anyway). */
static int set_string(json_t *obj, const char *name, const field *f) {
  if (expect_wire(f, WIRE_LEN, name))
    return ERR_INVALID;
  if (f->bytes_len == 0)
    return 0;
  json_t *s = field_string(f);
  if (!s)
    return ERR_INVALID;
  json_object_set_new(obj, name, s);
  return 0;
}

static int append_string(json_t *obj, const char *name, const field *f) {
  if (expect_wire(f, WIRE_LEN, name))
    return ERR_INVALID;
  json_t *arr = json_object_get(obj, name);
  if (!arr) {
    arr = json_array();
    json_object_set_new(obj, name, arr);
  }
  json_t *s = field_string(f);
  if (!s)
    return ERR_INVALID;
  json_array_append_new(arr, s);
  return 0;
}

static int decode_object_meta(const field *mf, json_t **out) {
  if (expect_wire(mf, WIRE_LEN, "metadata"))
    return ERR_INVALID;
  json_t *meta = json_object();
  if (!meta)
    return error_set(ERR_NOMEM, "out of memory");
  reader r = {mf->bytes, mf->bytes_len};
  field f;
  int rc;
  while ((rc = next_field(&r, &f)) == 0) {
    switch (f.number) {
    case 1:
      rc = set_string(meta, "name", &f);
      break;
    case 2:
      rc = set_string(meta, "generateName", &f);
      break;
    case 3:
      rc = set_string(meta, "namespace", &f);
      break;
    case 5:
      rc = set_string(meta, "uid", &f);
      break;
    case 6:
      rc = set_string(meta, "resourceVersion", &f);
      break;
    case 11:
      rc = add_map_entry(meta, "labels", &f, false);
      break;
    case 12:
      rc = add_map_entry(meta, "annotations", &f, false);
      break;
    case 14:
      rc = append_string(meta, "finalizers", &f);
      break;
    default:
      rc = 0;
      break; /* fields kubectl create never sets, skipped */
    }
    if (rc)
      break;
  }
  if (rc != ERR_EOF) {
    json_decref(meta);
    return rc;
  }
  *out = meta;
  return 0;
}

static int set_bool(json_t *obj, const char *name, const field *f) {
  if (expect_wire(f, WIRE_VARINT, name))
    return ERR_INVALID;
  json_object_set_new(obj, name, json_boolean(f->varint != 0));
  return 0;
}

typedef enum { KIND_NAMESPACE, KIND_CONFIGMAP, KIND_SECRET, KIND_SERVICE } kind_id;

static int decode_namespace_spec(const field *sf, json_t *obj) {
  if (expect_wire(sf, WIRE_LEN, "spec"))
    return ERR_INVALID;
  json_t *spec = json_object();
  json_object_set_new(obj, "spec", spec);
  reader r = {sf->bytes, sf->bytes_len};
  field f;
  int rc;
  while ((rc = next_field(&r, &f)) == 0)
    if (f.number == 1 && (rc = append_string(spec, "finalizers", &f)))
      return rc;
  return rc == ERR_EOF ? 0 : rc;
}

/* Sets obj[name] to an int32 varint; zero is left out (omitempty, as set_string). */
static int set_int32(json_t *obj, const char *name, const field *f) {
  if (expect_wire(f, WIRE_VARINT, name))
    return ERR_INVALID;
  int32_t v = (int32_t)(uint32_t)f->varint; /* int32 fields: negatives are sign-extended */
  if (v != 0)
    json_object_set_new(obj, name, json_integer(v));
  return 0;
}

/* intstr.IntOrString {type = 1 (0 int, 1 string), intVal = 2, strVal = 3} as a JSON
 * integer or string in obj[name]. */
static int set_int_or_string(json_t *obj, const char *name, const field *sf) {
  if (expect_wire(sf, WIRE_LEN, name))
    return ERR_INVALID;
  reader r = {sf->bytes, sf->bytes_len};
  field f;
  uint64_t type = 0;
  int32_t int_val = 0;
  const field *str = NULL;
  field str_field;
  int rc;
  while ((rc = next_field(&r, &f)) == 0) {
    if (f.number == 1 && !(rc = expect_wire(&f, WIRE_VARINT, "IntOrString type")))
      type = f.varint;
    else if (f.number == 2 && !(rc = expect_wire(&f, WIRE_VARINT, "IntOrString intVal")))
      int_val = (int32_t)(uint32_t)f.varint;
    else if (f.number == 3 && !(rc = expect_wire(&f, WIRE_LEN, "IntOrString strVal"))) {
      str_field = f;
      str = &str_field;
    }
    if (rc)
      return ERR_INVALID;
  }
  if (rc != ERR_EOF)
    return rc;
  json_t *v = NULL;
  if (type == 1)
    v = str ? field_string(str) : json_string("");
  else
    v = json_integer(int_val);
  if (!v)
    return ERR_INVALID;
  json_object_set_new(obj, name, v);
  return 0;
}

/* ServicePort {name = 1, protocol = 2, port = 3, targetPort = 4, nodePort = 5,
 * appProtocol = 6} appended to spec.ports. */
static int append_service_port(json_t *spec, const field *pf) {
  if (expect_wire(pf, WIRE_LEN, "ports"))
    return ERR_INVALID;
  json_t *ports = json_object_get(spec, "ports");
  if (!ports) {
    ports = json_array();
    if (!ports || json_object_set_new(spec, "ports", ports))
      return error_set(ERR_NOMEM, "out of memory");
  }
  json_t *port = json_object();
  if (!port || json_array_append_new(ports, port))
    return error_set(ERR_NOMEM, "out of memory");
  reader r = {pf->bytes, pf->bytes_len};
  field f;
  int rc;
  while ((rc = next_field(&r, &f)) == 0) {
    switch (f.number) {
    case 1: rc = set_string(port, "name", &f); break;
    case 2: rc = set_string(port, "protocol", &f); break;
    case 3: rc = set_int32(port, "port", &f); break;
    case 4: rc = set_int_or_string(port, "targetPort", &f); break;
    case 5: rc = set_int32(port, "nodePort", &f); break;
    case 6: rc = set_string(port, "appProtocol", &f); break;
    default: rc = 0; break;
    }
    if (rc)
      return rc;
  }
  return rc == ERR_EOF ? 0 : rc;
}

/* ServiceSpec: the fields `kubectl create service` sets (ports = 1, selector = 2,
 * clusterIP = 3, type = 4, externalIPs = 5, sessionAffinity = 7, externalName = 10,
 * clusterIPs = 18); the others are not written by kubectl create and are skipped. */
static int decode_service_spec(const field *sf, json_t *obj) {
  if (expect_wire(sf, WIRE_LEN, "spec"))
    return ERR_INVALID;
  json_t *spec = json_object();
  if (!spec || json_object_set_new(obj, "spec", spec))
    return error_set(ERR_NOMEM, "out of memory");
  reader r = {sf->bytes, sf->bytes_len};
  field f;
  int rc;
  while ((rc = next_field(&r, &f)) == 0) {
    switch (f.number) {
    case 1: rc = append_service_port(spec, &f); break;
    case 2: rc = add_map_entry(spec, "selector", &f, false); break;
    case 3: rc = set_string(spec, "clusterIP", &f); break;
    case 4: rc = set_string(spec, "type", &f); break;
    case 5: rc = append_string(spec, "externalIPs", &f); break;
    case 7: rc = set_string(spec, "sessionAffinity", &f); break;
    case 10: rc = set_string(spec, "externalName", &f); break;
    case 18: rc = append_string(spec, "clusterIPs", &f); break;
    default: rc = 0; break;
    }
    if (rc)
      return rc;
  }
  return rc == ERR_EOF ? 0 : rc;
}

static int decode_body(kind_id kind, const uint8_t *data, size_t len, json_t *obj) {
  reader r = {data, len};
  field f;
  int rc;
  while ((rc = next_field(&r, &f)) == 0) {
    if (f.number == 1) {
      json_t *meta = NULL;
      if ((rc = decode_object_meta(&f, &meta)))
        return rc;
      json_object_set_new(obj, "metadata", meta);
      continue;
    }
    rc = 0;
    switch (kind) {
    case KIND_NAMESPACE:
      if (f.number == 2)
        rc = decode_namespace_spec(&f, obj);
      break;
    case KIND_CONFIGMAP:
      if (f.number == 2)
        rc = add_map_entry(obj, "data", &f, false);
      else if (f.number == 3)
        rc = add_map_entry(obj, "binaryData", &f, true);
      else if (f.number == 4)
        rc = set_bool(obj, "immutable", &f);
      break;
    case KIND_SECRET:
      if (f.number == 2)
        rc = add_map_entry(obj, "data", &f, true);
      else if (f.number == 3)
        rc = set_string(obj, "type", &f);
      else if (f.number == 4)
        rc = add_map_entry(obj, "stringData", &f, false);
      else if (f.number == 5)
        rc = set_bool(obj, "immutable", &f);
      break;
    case KIND_SERVICE: /* status (3) is the server's */
      if (f.number == 2)
        rc = decode_service_spec(&f, obj);
      break;
    }
    if (rc)
      return rc;
  }
  return rc == ERR_EOF ? 0 : rc;
}

bool protobuf_is_content_type(const char *content_type) {
  if (!content_type)
    return false;
  size_t n = strlen(PROTOBUF_CONTENT_TYPE);
  return !strncmp(content_type, PROTOBUF_CONTENT_TYPE, n) &&
         (content_type[n] == 0 || content_type[n] == ';' || content_type[n] == ' ');
}

int protobuf_decode_object(const void *data, size_t len, json_t **out) {
  static const uint8_t magic[4] = {'k', '8', 's', 0};
  if (!data || len < 4 || memcmp(data, magic, 4))
    return error_set(ERR_INVALID, "protobuf: missing the k8s envelope magic");
  reader r = {(const uint8_t *)data + 4, len - 4};
  field f, raw = {0};
  bool have_raw = false;
  json_t *type_meta = json_object();
  if (!type_meta)
    return error_set(ERR_NOMEM, "out of memory");
  int rc;
  while ((rc = next_field(&r, &f)) == 0) {
    if (f.number == 1) {
      if (expect_wire(&f, WIRE_LEN, "typeMeta")) {
        rc = ERR_INVALID;
        break;
      }
      reader tr = {f.bytes, f.bytes_len};
      field tf;
      while ((rc = next_field(&tr, &tf)) == 0) {
        if (tf.number == 1 && (rc = set_string(type_meta, "apiVersion", &tf)))
          break;
        if (tf.number == 2 && (rc = set_string(type_meta, "kind", &tf)))
          break;
      }
      if (rc != ERR_EOF)
        break;
    } else if (f.number == 2) {
      if (expect_wire(&f, WIRE_LEN, "raw")) {
        rc = ERR_INVALID;
        break;
      }
      raw = f;
      have_raw = true;
    } else if (f.number == 3 || f.number == 4) {
      /* contentEncoding / contentType: kubectl leaves them empty; anything else is an
       * encoding we do not speak */
      if (expect_wire(&f, WIRE_LEN, "content encoding")) {
        rc = ERR_INVALID;
        break;
      }
      if (f.bytes_len) {
        json_decref(type_meta);
        return error_set(ERR_UNSUPPORTED, "protobuf: content encoding or type is not supported");
      }
    }
  }
  if (rc != ERR_EOF) {
    json_decref(type_meta);
    return rc ? rc : ERR_INVALID;
  }
  const char *api_version = json_string_value(json_object_get(type_meta, "apiVersion"));
  const char *kind = json_string_value(json_object_get(type_meta, "kind"));
  kind_id id;
  if (!api_version || !kind || strcmp(api_version, "v1")) {
    json_decref(type_meta);
    return error_set(ERR_UNSUPPORTED, "protobuf: only core v1 objects are accepted in protobuf");
  }
  if (!strcmp(kind, "Namespace"))
    id = KIND_NAMESPACE;
  else if (!strcmp(kind, "ConfigMap"))
    id = KIND_CONFIGMAP;
  else if (!strcmp(kind, "Secret"))
    id = KIND_SECRET;
  else if (!strcmp(kind, "Service"))
    id = KIND_SERVICE;
  else {
    error_set(ERR_UNSUPPORTED, "protobuf: kind %.64s is not accepted in protobuf", kind);
    json_decref(type_meta);
    return ERR_UNSUPPORTED;
  }
  if (!have_raw)
    raw.bytes_len = 0;
  rc = decode_body(id, raw.bytes, raw.bytes_len, type_meta);
  if (rc) {
    json_decref(type_meta);
    return rc;
  }
  *out = type_meta;
  return 0;
}
