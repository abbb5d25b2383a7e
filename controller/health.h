/*
 * health: the operations HTTP server (/healthz, /readyz, /metrics) on a libuv loop.
 *
 * Requests are parsed with http_parser (never by hand); one request per connection
 * (answers carry "Connection: close"); a request larger than HEALTH_MAX_REQUEST or a
 * client idle for HEALTH_IDLE_MS is dropped. /healthz answers 200 "ok" while the loop
 * runs; /readyz asks the ready callback; /metrics renders the registry (after the
 * collect callback refreshed gauges). GET and HEAD only.
 */
#ifndef PORTICO_CONTROLLER_HEALTH_H
#define PORTICO_CONTROLLER_HEALTH_H

#include <stdbool.h>
#include <uv.h>

#define HEALTH_MAX_REQUEST 8192
#define HEALTH_IDLE_MS 10000
#define HEALTH_MAX_CONNECTIONS 64

typedef struct health_server health_server;

typedef struct health_callbacks {
  bool (*ready)(void *ctx, char *why, size_t why_size); /* NULL: always ready */
  void (*collect)(void *ctx);                           /* refresh gauges before /metrics */
  void *ctx;
} health_callbacks;

/* Listens on "HOST:PORT" (PORT 0 picks one; health_server_port tells which). */
int health_server_start(health_server **out, uv_loop_t *loop, const char *addr,
                        const health_callbacks *cb);
int health_server_port(health_server *s);
/* Closes the listener and connections; frees once closed. */
void health_server_close(health_server *s);

/* Splits "HOST:PORT" ("[v6]:PORT" too). ERR_INVALID. */
int health_parse_addr(const char *addr, char *host, size_t host_size, int *port);

#endif
