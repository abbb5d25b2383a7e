/*
 * leader: leader election on a coordination.k8s.io/v1 Lease, as client-go's
 * tools/leaderelection does it.
 *
 * Every retry period the candidate reads the Lease. It takes it when the Lease does not
 * exist (create), when it holds it already, when the holder is empty, or when the record
 * has not changed for a whole lease duration as observed on the local monotonic clock
 * (so clock skew between replicas does not matter). Taking and renewing are updates with
 * the Lease's resourceVersion, so two candidates can never both win. A leader that has not
 * renewed successfully for the renew deadline stops leading at once (on_stop runs before
 * anything else happens) and becomes a candidate again. Stopping releases the Lease
 * (holderIdentity emptied) so that a standby takes over without waiting.
 * Runs on the client's loop thread.
 */
#ifndef PORTICO_CONTROLLER_LEADER_H
#define PORTICO_CONTROLLER_LEADER_H

#include "controller/client.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct leader_options {
  const char *namespace;       /* Lease namespace */
  const char *name;            /* Lease name */
  const char *identity;        /* holderIdentity; NULL: hostname_pid_random */
  uint64_t lease_duration_ms;  /* 0: 15000 */
  uint64_t renew_deadline_ms;  /* 0: 10000 */
  uint64_t retry_period_ms;    /* 0: 2000 */
  void (*on_start)(void *ctx); /* became leader */
  void (*on_stop)(void *ctx);  /* lost (or released) leadership */
  void *ctx;
} leader_options;

typedef struct leader_elector leader_elector;

/* Starts campaigning (loop thread). *out owned: leader_close. */
int leader_start(leader_elector **out, kube_client *client, const leader_options *opts);

/* Stops: on_stop runs if leading, the Lease is released (best effort, bounded by the
 * retry period), then `on_closed` runs and the elector is freed. */
void leader_close(leader_elector *le, void (*on_closed)(void *ctx), void *ctx);

bool leader_is_leader(leader_elector *le); /* any thread */
const char *leader_identity(leader_elector *le);
uint64_t leader_transitions(leader_elector *le);

/* Formats now as a metav1.MicroTime ("2026-11-25T18:00:00.123456Z"). */
void leader_micro_time(char *out, size_t size);

#endif
