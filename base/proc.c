/*
 * proc: fork/exec with pipes, a poll loop, a deadline and output ceilings. The child is
 * made a process-group leader so that a kill reaches everything it started.
 */
#include "proc.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd) {
  if (*fd >= 0) {
    close(*fd);
    *fd = -1;
  }
}

static void close_pair(int p[2]) {
  close_fd(&p[0]);
  close_fd(&p[1]);
}

int proc_start(const proc_spec *spec, proc_child *child) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  static char *const empty_env[] = {NULL};
  child->pid = 0;
  child->in = child->out = child->err = -1;
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    int rc = error_set_errno(ERR_IO, "cannot create pipes for %s", spec->argv[0]);
    close_pair(in);
    close_pair(out);
    close_pair(err);
    return rc;
  }
  pid_t pid = spec->clone_flags
                  ? (pid_t)syscall(SYS_clone, spec->clone_flags | SIGCHLD, NULL, NULL, NULL, NULL)
                  : fork();
  if (pid < 0) {
    int saved = errno;
    int rc = error_set_errno(ERR_IO, "cannot fork to run %s", spec->argv[0]);
    close_pair(in);
    close_pair(out);
    close_pair(err);
    errno = saved;
    return rc;
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (spec->cwd && chdir(spec->cwd) < 0)
      _exit(127);
    if (spec->setup && spec->setup(spec->setup_arg))
      _exit(127);
    char *const *envp = spec->envp ? spec->envp : empty_env;
    if (strchr(spec->argv[0], '/'))
      execve(spec->argv[0], spec->argv, envp);
    else
      execvpe(spec->argv[0], spec->argv, envp);
    _exit(127);
  }
  setpgid(pid, pid); /* also from the parent, to close the race with an early kill */
  close(in[0]);
  close(out[1]);
  close(err[1]);
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  child->pid = pid;
  child->in = in[1];
  child->out = out[0];
  child->err = err[0];
  return 0;
}

/* Waits for `pid`; its CPU time (ms) in *cpu_ms when not NULL. */
static void reap(pid_t pid, int *status, int64_t *cpu_ms) {
  struct rusage ru;
  memset(&ru, 0, sizeof(ru));
  for (;;) {
    pid_t w = wait4(pid, status, 0, &ru);
    if (w == pid || (w < 0 && errno != EINTR))
      break;
  }
  if (cpu_ms)
    *cpu_ms = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
              (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

void proc_abort(proc_child *child) {
  if (child->pid > 0) {
    kill(-child->pid, SIGKILL);
    int status;
    reap(child->pid, &status, NULL);
  }
  child->pid = 0;
  close_fd(&child->in);
  close_fd(&child->out);
  close_fd(&child->err);
}

int proc_finish(const proc_spec *spec, proc_child *child, proc_result *result) {
  buf_init(&result->out, spec->stdout_limit);
  buf_init(&result->err, spec->stderr_limit);
  int64_t start = now_ms();
  pid_t pid = child->pid;
  signal(SIGPIPE, SIG_IGN);

  const char *feed = spec->stdin_data;
  size_t feed_left = spec->stdin_data ? spec->stdin_len : 0;
  if (!feed_left)
    close_fd(&child->in);
  proc_outcome killed_for = PROC_EXITED;
  while (child->out >= 0 || child->err >= 0 || child->in >= 0) {
    struct pollfd fds[3];
    int n = 0;
    if (child->out >= 0) fds[n++] = (struct pollfd){child->out, POLLIN, 0};
    if (child->err >= 0) fds[n++] = (struct pollfd){child->err, POLLIN, 0};
    if (child->in >= 0) fds[n++] = (struct pollfd){child->in, POLLOUT, 0};
    int wait_ms = -1;
    if (spec->timeout_ms > 0) {
      int64_t left = spec->timeout_ms - (now_ms() - start);
      if (left <= 0) {
        killed_for = PROC_TIMED_OUT;
        break;
      }
      wait_ms = left > 1000000 ? 1000000 : (int)left;
    }
    int ready = poll(fds, (nfds_t)n, wait_ms);
    if (ready < 0 && errno != EINTR)
      break;
    for (int i = 0; i < n && ready > 0; i++) {
      if (!fds[i].revents)
        continue;
      if (fds[i].fd == child->in) {
        ssize_t w = write(child->in, feed, feed_left);
        if (w > 0) {
          feed += w;
          feed_left -= (size_t)w;
        }
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || feed_left == 0)
          close_fd(&child->in);
        continue;
      }
      int *fdp = fds[i].fd == child->out ? &child->out : &child->err;
      buf *target = fdp == &child->out ? &result->out : &result->err;
      char chunk[65536];
      ssize_t r = read(*fdp, chunk, sizeof(chunk));
      if (r > 0) {
        if (buf_append(target, chunk, (size_t)r)) {
          killed_for = PROC_OUTPUT_LIMIT;
          break;
        }
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        close_fd(fdp);
      }
    }
    if (killed_for != PROC_EXITED)
      break;
  }
  if (killed_for != PROC_EXITED)
    kill(-pid, SIGKILL);
  else if (spec->on_output && child->out < 0 && child->err < 0)
    spec->on_output(spec->on_output_arg, &result->out);
  int status = 0;
  reap(pid, &status, &result->cpu_ms);
  /* Whatever the child left behind in its group goes too. */
  kill(-pid, SIGKILL);
  child->pid = 0;
  close_fd(&child->in);
  close_fd(&child->out);
  close_fd(&child->err);
  result->wall_ms = now_ms() - start;
  if (killed_for != PROC_EXITED) {
    result->outcome = killed_for;
  } else if (WIFEXITED(status)) {
    result->exit_code = WEXITSTATUS(status);
    result->outcome = result->exit_code == 127 && result->out.len == 0 && result->err.len == 0
                          ? PROC_SPAWN_FAILED
                          : PROC_EXITED;
  } else if (WIFSIGNALED(status)) {
    result->outcome = PROC_SIGNALED;
    result->signal = WTERMSIG(status);
  }
  return 0;
}

int proc_run(const proc_spec *spec, proc_result *result) {
  proc_child child;
  int rc = proc_start(spec, &child);
  if (rc) {
    buf_init(&result->out, spec->stdout_limit);
    buf_init(&result->err, spec->stderr_limit);
    return rc;
  }
  return proc_finish(spec, &child, result);
}

void proc_result_free(proc_result *result) {
  buf_free(&result->out);
  buf_free(&result->err);
}

void proc_describe(const proc_result *r, char *out, size_t size) {
  switch (r->outcome) {
  case PROC_EXITED: snprintf(out, size, "exited with code %d", r->exit_code); break;
  case PROC_SIGNALED: snprintf(out, size, "killed by signal %d (%s)", r->signal, strsignal(r->signal)); break;
  case PROC_TIMED_OUT: snprintf(out, size, "killed after %lld ms (wall time limit)", (long long)r->wall_ms); break;
  case PROC_OUTPUT_LIMIT: snprintf(out, size, "killed: output larger than its limit"); break;
  case PROC_SPAWN_FAILED: snprintf(out, size, "could not be started"); break;
  }
}
