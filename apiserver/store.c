/*
 * store: SQLite persistence (see store.h for the durability argument). Statements are
 * prepared once; each write is a transaction unless the caller grouped several with
 * store_begin/store_commit.
 */
#include "apiserver/store.h"

#include "base/error.h"
#include "base/fs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/* Checkpoints run on a thread of their own, off the server loop: a checkpoint fsyncs,
 * which would otherwise stall the write (and the watch events) that triggers it. The
 * connection's own auto-checkpoint stays as a backstop that bounds the WAL (~80 MiB)
 * should the thread fall behind. */
#define STORE_CHECKPOINT_INTERVAL_MS 500
#define STORE_WAL_BACKSTOP_PAGES "20000"

struct store {
  sqlite3 *db;
  char *path;
  pthread_t checkpointer;
  bool checkpointer_running, stopping;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sqlite3_stmt *put, *del, *del_res, *set_rev, *begin, *commit, *rollback;
  long long revision;
  bool in_tx;
};

static int db_error(store *s, const char *what) {
  return error_set(ERR_IO, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(store *s, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    int rc = error_set(ERR_IO, "store: %s: %s", sql, msg ? msg : "");
    sqlite3_free(msg);
    return rc;
  }
  return 0;
}

static int prepare(store *s, sqlite3_stmt **st, const char *sql) {
  if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
    return db_error(s, sql);
  return 0;
}

static void *checkpoint_loop(void *arg) {
  store *s = arg;
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 1000);
  pthread_mutex_lock(&s->mu);
  while (!s->stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)STORE_CHECKPOINT_INTERVAL_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&s->cv, &s->mu, &until);
    if (s->stopping)
      break;
    pthread_mutex_unlock(&s->mu);
    sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  sqlite3_close(db);
  return NULL;
}

void store_close(store *s) {
  if (!s)
    return;
  if (s->checkpointer_running) {
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->checkpointer, NULL);
  }
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s->path);
  sqlite3_stmt *all[] = {s->put, s->del, s->del_res, s->set_rev, s->begin, s->commit, s->rollback};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    sqlite3_finalize(all[i]);
  sqlite3_close(s->db);
  free(s);
}

int store_open(store **out, const char *dir) {
  int rc = fs_mkdir_p(dir, 0700);
  if (rc)
    return rc;
  char *path = fs_join(dir, "objects.db");
  if (!path)
    return ERR_NOMEM;
  store *s = calloc(1, sizeof(*s));
  if (!s) {
    free(path);
    return error_set(ERR_NOMEM, "out of memory");
  }
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
      SQLITE_OK) {
    rc = db_error(s, path);
    goto fail;
  }
  sqlite3_busy_timeout(s->db, 5000);
  if ((rc = exec(s, "PRAGMA journal_mode=WAL")) || (rc = exec(s, "PRAGMA synchronous=NORMAL")) ||
      (rc = exec(s, "PRAGMA wal_autocheckpoint=" STORE_WAL_BACKSTOP_PAGES)) ||
      (rc = exec(s, "CREATE TABLE IF NOT EXISTS objects (resource TEXT NOT NULL, key TEXT NOT "
                    "NULL, rv INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (resource, key))"
                    " WITHOUT ROWID")) ||
      (rc = exec(s, "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER)")) ||
      (rc = exec(s, "INSERT OR IGNORE INTO meta VALUES ('revision', 0)")))
    goto fail;
  sqlite3_stmt *q = NULL;
  if ((rc = prepare(s, &q, "SELECT value FROM meta WHERE name='revision'")))
    goto fail;
  if (sqlite3_step(q) == SQLITE_ROW)
    s->revision = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  if ((rc = prepare(s, &s->put, "INSERT OR REPLACE INTO objects VALUES (?1, ?2, ?3, ?4)")) ||
      (rc = prepare(s, &s->del, "DELETE FROM objects WHERE resource=?1 AND key=?2")) ||
      (rc = prepare(s, &s->del_res, "DELETE FROM objects WHERE resource=?1")) ||
      (rc = prepare(s, &s->set_rev, "UPDATE meta SET value=?1 WHERE name='revision'")) ||
      (rc = prepare(s, &s->begin, "BEGIN IMMEDIATE")) ||
      (rc = prepare(s, &s->commit, "COMMIT")) || (rc = prepare(s, &s->rollback, "ROLLBACK")))
    goto fail;
  s->path = path;
  s->checkpointer_running = pthread_create(&s->checkpointer, NULL, checkpoint_loop, s) == 0;
  *out = s;
  return 0;
fail:
  free(path);
  store_close(s);
  return rc;
}

long long store_revision(const store *s) { return s->revision; }

int store_load(store *s, int (*fn)(void *, const char *, const char *, const char *, size_t,
                                   long long),
               void *ctx) {
  sqlite3_stmt *q = NULL;
  int rc = prepare(s, &q, "SELECT resource, key, data, rv FROM objects ORDER BY resource, key");
  if (rc)
    return rc;
  int step;
  while ((step = sqlite3_step(q)) == SQLITE_ROW) {
    rc = fn(ctx, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1),
            (const char *)sqlite3_column_text(q, 2), (size_t)sqlite3_column_bytes(q, 2),
            sqlite3_column_int64(q, 3));
    if (rc)
      break;
  }
  if (!rc && step != SQLITE_DONE)
    rc = db_error(s, "load");
  sqlite3_finalize(q);
  return rc;
}

static int step_reset(store *s, sqlite3_stmt *st, const char *what) {
  int r = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r == SQLITE_DONE ? 0 : db_error(s, what);
}

int store_begin(store *s) {
  if (s->in_tx)
    return error_set(ERR_INVALID, "store: transaction already open");
  int rc = step_reset(s, s->begin, "begin");
  if (!rc)
    s->in_tx = true;
  return rc;
}

int store_commit(store *s) {
  if (!s->in_tx)
    return 0;
  s->in_tx = false;
  int rc = step_reset(s, s->commit, "commit");
  if (rc)
    step_reset(s, s->rollback, "rollback");
  return rc;
}

/* Runs one write (already bound) plus the revision update, in the caller's transaction or
 * in one of its own. */
static int write_with_revision(store *s, sqlite3_stmt *st, long long rv, const char *what) {
  bool own = !s->in_tx;
  int rc = 0;
  if (own && (rc = store_begin(s))) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
  }
  rc = step_reset(s, st, what);
  if (!rc) {
    sqlite3_bind_int64(s->set_rev, 1, rv);
    rc = step_reset(s, s->set_rev, "revision");
  }
  if (own) {
    if (rc) {
      s->in_tx = false;
      step_reset(s, s->rollback, "rollback");
    } else {
      rc = store_commit(s);
    }
  }
  if (!rc && rv > s->revision)
    s->revision = rv;
  return rc;
}

int store_put(store *s, const char *resource, const char *key, const char *json, size_t len,
              long long rv) {
  sqlite3_bind_text(s->put, 1, resource, -1, SQLITE_STATIC);
  sqlite3_bind_text(s->put, 2, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s->put, 3, rv);
  sqlite3_bind_text(s->put, 4, json, (int)len, SQLITE_STATIC);
  return write_with_revision(s, s->put, rv, "put");
}

int store_delete(store *s, const char *resource, const char *key, long long rv) {
  sqlite3_bind_text(s->del, 1, resource, -1, SQLITE_STATIC);
  sqlite3_bind_text(s->del, 2, key, -1, SQLITE_STATIC);
  return write_with_revision(s, s->del, rv, "delete");
}

int store_delete_resource(store *s, const char *resource, long long rv) {
  sqlite3_bind_text(s->del_res, 1, resource, -1, SQLITE_STATIC);
  return write_with_revision(s, s->del_res, rv, "delete resource");
}
