/*
 * api: helpers shared by both sides of the seam described in api.h (query lookup,
 * Status and JSON responses). Streams are implemented by the transport (http_server.c).
 */
#include "apiserver/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *api_request_query(const api_request *req, const char *name) {
  for (size_t i = 0; i < req->query_count; i++)
    if (!strcmp(req->query[i].name, name))
      return req->query[i].value;
  return NULL;
}

void api_respond_json(api_response *resp, int code, const json_t *obj) {
  resp->status = code;
  snprintf(resp->content_type, sizeof(resp->content_type), "application/json");
  buf_reset(&resp->body);
  char *text = json_dumps(obj, JSON_COMPACT);
  if (text) {
    buf_puts(&resp->body, text);
    free(text);
  }
}

void api_respond_status(api_response *resp, int code, const char *reason, const char *message,
                        json_t *details) {
  json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                         "metadata", "status", code < 400 ? "Success" : "Failure", "message",
                         message ? message : "", "reason", reason ? reason : "", "code", code);
  if (st && details)
    json_object_set_new(st, "details", details);
  else if (details)
    json_decref(details);
  if (st && (!reason || !*reason))
    json_object_del(st, "reason");
  api_respond_json(resp, code, st);
  json_decref(st);
}
