/*
 * sandbox: see sandbox.h for the design. This file has two parts: the parent side (prepare
 * every path, string and the seccomp program; start P with proc_start; write P's id maps
 * when Portico is root, from a thread that waits for P to ask; finish with proc_finish and
 * read the report pipe) and P, the
 * function's process (the setup hook proc_start runs in the cloned child).
 *
 * Child-side rule: after the clone only system calls and the small helpers below that
 * touch nothing but the stack and the prepared `child_plan`. No malloc, no stdio, no locks.
 *
 * Report pipe: P writes short lines on `report_fd` (close-on-exec, so the function itself
 * never holds it): "setup <step> <errno>" when building the sandbox failed, "nsrefused
 * <step> <errno>" when the kernel refused a namespace. The parent reads it without
 * blocking once P was reaped.
 */
#include "sandbox.h"

#include "base/error.h"
#include "base/log.h"
#include "base/str.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SANDBOX_UID 65534 /* inside the user namespace and on the host */
#define SANDBOX_GID 65534
#define NEWROOT "/tmp"    /* mount point of the new root inside the private mount ns */
#define PLAN_MAX_OPS 48
#define PLAN_PATH_MAX 512

void sandbox_limits_default(sandbox_limits *l) {
  l->wall_ms = 10000;
  l->cpu_seconds = 10;
  l->memory_bytes = (int64_t)1 << 30;
  l->processes = 64;
  l->open_files = 256;
  l->output_bytes = (int64_t)64 << 20;
  l->tmp_bytes = (int64_t)64 << 20;
}

/* ---- the plan: everything the child needs, prepared by the parent ---- */

typedef enum { OP_MKDIR, OP_SYMLINK, OP_TOUCH, OP_BIND, OP_TMPFS, OP_PROC } op_kind;

typedef struct plan_op {
  op_kind kind;
  char target[PLAN_PATH_MAX]; /* absolute, under NEWROOT */
  char source[PLAN_PATH_MAX]; /* OP_BIND: host path; OP_SYMLINK: link text */
  char options[64];           /* OP_TMPFS: mount data */
  unsigned long flags;        /* OP_BIND: flags of the read-only remount */
  int source_fd;              /* OP_BIND: O_PATH fd opened in the child */
  bool optional;              /* failure is tolerated (non-root /proc) */
} plan_op;

typedef struct child_plan {
  bool strict;
  bool as_root;
  int report_fd;
  int to_parent;   /* P writes 'u' here once its user namespace exists (root only) */
  int from_parent; /* and reads 'm' here once the parent wrote its uid/gid maps */
  int lifeline;    /* read end; the parent holds the only write end until P is reaped */
  char exe[PLAN_PATH_MAX];
  char *const *argv;
  char *const *envp;
  char *default_argv[2]; /* {exe, NULL} when the spec gives no argv */
  plan_op ops[PLAN_MAX_OPS];
  int n_ops;
  char uid_map[64], gid_map[64];
  uid_t caller_uid;
  gid_t caller_gid;
  struct rlimit cpu, as, nproc, nofile;
  struct sock_fprog prog;
} child_plan;

/* ---- async-signal-safe helpers ---- */

static size_t safe_strlen(const char *s) {
  size_t n = 0;
  while (s[n])
    n++;
  return n;
}

/* Appends the decimal form of v to dst (NUL-terminated, at most size). */
static void safe_append_num(char *dst, size_t size, long v) {
  char tmp[24];
  int n = 0;
  bool neg = v < 0;
  unsigned long u = neg ? (unsigned long)(-(v + 1)) + 1 : (unsigned long)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u && n < 22);
  if (neg)
    tmp[n++] = '-';
  size_t len = safe_strlen(dst);
  while (n > 0 && len + 1 < size)
    dst[len++] = tmp[--n];
  dst[len] = 0;
}

static void safe_append(char *dst, size_t size, const char *s) {
  size_t len = safe_strlen(dst);
  while (*s && len + 1 < size)
    dst[len++] = *s++;
  dst[len] = 0;
}

static void report(const child_plan *plan, const char *kind, const char *step, long a, long b) {
  char line[160] = "";
  safe_append(line, sizeof(line), kind);
  safe_append(line, sizeof(line), " ");
  safe_append(line, sizeof(line), step);
  safe_append(line, sizeof(line), " ");
  safe_append_num(line, sizeof(line), a);
  safe_append(line, sizeof(line), " ");
  safe_append_num(line, sizeof(line), b);
  safe_append(line, sizeof(line), "\n");
  ssize_t w = write(plan->report_fd, line, safe_strlen(line));
  (void)w;
}

static __attribute__((noreturn)) void child_fail(const child_plan *plan, const char *step) {
  report(plan, "setup", step, errno, 0);
  _exit(127);
}

static __attribute__((noreturn)) void child_refused(const child_plan *plan, const char *step) {
  report(plan, "nsrefused", step, errno, 0);
  _exit(127);
}

static int write_file(const char *path, const char *data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t len = safe_strlen(data);
  ssize_t w = write(fd, data, len);
  int saved = errno;
  close(fd);
  errno = saved;
  return w == (ssize_t)len ? 0 : -1;
}

/* Closes every descriptor from 3 up except `keep` (a sorted list of up to 3, -1 unused). */
static void close_all_but(const int *keep, int n) {
  int lo = 3;
  for (int i = 0; i < n; i++) {
    if (keep[i] < lo)
      continue;
    if (keep[i] > lo)
      syscall(SYS_close_range, (unsigned)lo, (unsigned)keep[i] - 1, 0);
    lo = keep[i] + 1;
  }
  syscall(SYS_close_range, (unsigned)lo, ~0U, 0);
}

static void sort_fds(int *fds, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
      int t = fds[j];
      fds[j] = fds[j - 1];
      fds[j - 1] = t;
    }
}

/* The identity changes as raw system calls: glibc's wrappers apply them to every thread
 * of the process by signalling the others and waiting for them, and P, cloned from a
 * possibly multi-threaded Portico, inherits glibc's list of threads that it does not have
 * (it would wait forever). P is single-threaded: the raw call is the whole process's. */
static int raw_setgroups_none(void) { return (int)syscall(SYS_setgroups, 0, NULL); }
static int raw_setresgid(gid_t g) { return (int)syscall(SYS_setresgid, g, g, g); }
static int raw_setresuid(uid_t u) { return (int)syscall(SYS_setresuid, u, u, u); }

/* Empties the bounding and ambient sets: no exec can give a capability back. Needs
 * CAP_SETPCAP, so it runs before the uid change. */
static int drop_bounding_set(void) {
  for (int cap = 0; cap < 64; cap++)
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      return -1;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return -1;
  return 0;
}

/* Clears effective/permitted/inheritable; for uid 0 inside (the unprivileged caller's
 * mapping) also locks the securebits that would give root its capabilities on exec. */
static int clear_capabilities(bool lock_root) {
  if (lock_root &&
      prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                   SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                   SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
            0, 0, 0) < 0)
    return -1;
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  return (int)syscall(SYS_capset, &hdr, data);
}

/* The last steps, common to both modes: limits, no_new_privs, seccomp, exec. */
static __attribute__((noreturn)) void child_exec(const child_plan *plan, int lifeline_fd) {
  if (setrlimit(RLIMIT_NOFILE, &plan->nofile) < 0)
    child_fail(plan, "rlimit-nofile");
  if (setrlimit(RLIMIT_NPROC, &plan->nproc) < 0)
    child_fail(plan, "rlimit-nproc");
  if (setrlimit(RLIMIT_CPU, &plan->cpu) < 0)
    child_fail(plan, "rlimit-cpu");
  struct rlimit zero = {0, 0};
  setrlimit(RLIMIT_CORE, &zero);
  setrlimit(RLIMIT_MEMLOCK, &zero);
  setrlimit(RLIMIT_MSGQUEUE, &zero);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    child_fail(plan, "no-new-privs");
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    child_fail(plan, "pdeathsig");
  if (lifeline_fd >= 0) {
    /* The supervisor holds the only write end: a hang-up means it is gone. */
    struct pollfd p = {lifeline_fd, POLLIN, 0};
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLIN)))
      _exit(137);
    close(lifeline_fd);
  }
  /* The address-space limit last but one: everything above may need memory. */
  if (setrlimit(RLIMIT_AS, &plan->as) < 0)
    child_fail(plan, "rlimit-as");
  /* Every inherited descriptor beyond stdio goes at exec (the report pipe included). */
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP)
      signal(s, SIG_DFL);
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &plan->prog) < 0)
    child_fail(plan, "seccomp");
  /* No barrier: a sandbox built ahead of its turn (sandbox_start) starts its function now,
   * which then waits for its input on stdin like any filter, so that its own start-up (an
   * interpreter, a dynamic loader) overlaps whatever runs before it. Every limit is already
   * in force; the wall time counts from the release. */
  static char *const empty_env[] = {NULL};
  execve(plan->exe, plan->argv, plan->envp ? plan->envp : empty_env);
  child_fail(plan, "exec");
}

/* Runs the plan's mount operations, then pivots into the new root. */
static void child_build_root(child_plan *plan) {
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    child_fail(plan, "make-mounts-private");
  /* Open every bind source before the new root covers NEWROOT (a source may live there). */
  for (int i = 0; i < plan->n_ops; i++) {
    plan_op *op = &plan->ops[i];
    if (op->kind != OP_BIND)
      continue;
    op->source_fd = open(op->source, O_PATH | O_CLOEXEC);
    if (op->source_fd < 0)
      child_fail(plan, "open-bind-source");
  }
  if (mount("portico-fn", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=512,mode=0755") <
      0)
    child_fail(plan, "mount-root-tmpfs");
  for (int i = 0; i < plan->n_ops; i++) {
    plan_op *op = &plan->ops[i];
    switch (op->kind) {
    case OP_MKDIR:
      if (mkdir(op->target, 0755) < 0 && errno != EEXIST)
        child_fail(plan, "mkdir");
      break;
    case OP_SYMLINK:
      if (symlink(op->source, op->target) < 0)
        child_fail(plan, "symlink");
      break;
    case OP_TOUCH: {
      int fd = open(op->target, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0)
        child_fail(plan, "create-mount-point");
      close(fd);
      break;
    }
    case OP_BIND: {
      char src[40] = "/proc/self/fd/";
      safe_append_num(src, sizeof(src), op->source_fd);
      if (mount(src, op->target, NULL, MS_BIND, NULL) < 0)
        child_fail(plan, "bind");
      if (mount(NULL, op->target, NULL, MS_REMOUNT | MS_BIND | op->flags, NULL) < 0)
        child_fail(plan, "bind-read-only");
      close(op->source_fd);
      op->source_fd = -1;
      break;
    }
    case OP_TMPFS:
      if (mount("portico-tmp", op->target, "tmpfs", MS_NOSUID | MS_NODEV, op->options) < 0)
        child_fail(plan, "mount-tmp");
      break;
    case OP_PROC:
      if (mount("proc", op->target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
          !op->optional)
        child_fail(plan, "mount-proc");
      break;
    }
  }
  if (chdir(NEWROOT) < 0)
    child_fail(plan, "chdir-new-root");
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    child_fail(plan, "pivot-root");
  if (umount2(".", MNT_DETACH) < 0)
    child_fail(plan, "detach-old-root");
  if (chdir("/") < 0)
    child_fail(plan, "chdir-root");
  if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
    child_fail(plan, "root-read-only");
}

/* P, the function's process, in the child proc_start cloned: PID 1 of its new PID
 * namespace (and, when Portico is not root, in its new user namespace, created first).
 * Never returns. */
static int sandbox_child(void *arg) {
  child_plan *plan = arg;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    _exit(127);
  /* The parent may have died before the line above: it holds the lifeline's only write
   * end, so a hang-up means it is gone. */
  struct pollfd lp = {plan->lifeline, POLLIN, 0};
  if (plan->lifeline >= 0 && poll(&lp, 1, 0) > 0 && (lp.revents & (POLLHUP | POLLIN)))
    _exit(137);
  struct rlimit zero = {0, 0};
  setrlimit(RLIMIT_CORE, &zero);
  if (!plan->strict) {
    int keep[2] = {plan->report_fd, plan->lifeline};
    sort_fds(keep, 2);
    close_all_but(keep, 2);
    if (drop_bounding_set() < 0)
      child_fail(plan, "drop-capabilities");
    if (plan->as_root &&
        (raw_setgroups_none() < 0 || raw_setresgid(SANDBOX_GID) < 0 ||
         raw_setresuid(SANDBOX_UID) < 0))
      child_fail(plan, "drop-to-unprivileged-uid");
    if (clear_capabilities(!plan->as_root) < 0)
      child_fail(plan, "drop-capabilities");
    child_exec(plan, plan->lifeline);
  }
  int keep[4] = {plan->report_fd, plan->to_parent, plan->from_parent, plan->lifeline};
  sort_fds(keep, 4);
  close_all_but(keep, 4);
  if (!plan->as_root) {
    /* Unprivileged: the user namespace came first (clone), and P maps itself: the caller's
     * uid and gid appear as 65534 inside, so the function is never uid 0, not even of its
     * own namespace (exec then leaves it no capability at all). */
    char map[48] = "65534 ";
    safe_append_num(map, sizeof(map), plan->caller_uid);
    safe_append(map, sizeof(map), " 1\n");
    if (write_file("/proc/self/setgroups", "deny") < 0 || write_file("/proc/self/uid_map", map) < 0)
      child_fail(plan, "write-id-map");
    map[6] = 0;
    safe_append_num(map, sizeof(map), plan->caller_gid);
    safe_append(map, sizeof(map), " 1\n");
    if (write_file("/proc/self/gid_map", map) < 0)
      child_fail(plan, "write-id-map");
  } else if (raw_setgroups_none() < 0) {
    child_fail(plan, "setgroups");
  }
  /* The other namespaces here, in P, not in the clone: creating a network namespace and
   * copying the mount table are the costly part of the set-up, and so they run in the
   * child, overlapping whatever the parent does next (render's next step). */
  if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
    child_refused(plan, "unshare");
  static const char hostname[] = "portico-fn";
  sethostname(hostname, sizeof(hostname) - 1);
  child_build_root(plan);
  if (plan->as_root) {
    /* The user namespace last, so that every other namespace belongs to the initial one:
     * inside its own, the function holds no capability over them. Its uid/gid maps need a
     * privileged writer outside: the parent (sandbox_map_ids). */
    if (unshare(CLONE_NEWUSER) < 0)
      child_refused(plan, "unshare-user");
    char c = 'u';
    if (write(plan->to_parent, &c, 1) != 1 || read(plan->from_parent, &c, 1) != 1 || c != 'm')
      child_fail(plan, "uid-map-handshake");
    if (drop_bounding_set() < 0)
      child_fail(plan, "drop-capabilities");
    if (raw_setresgid(SANDBOX_GID) < 0)
      child_fail(plan, "setresgid");
    if (raw_setresuid(SANDBOX_UID) < 0)
      child_fail(plan, "setresuid");
  }
  close(plan->to_parent);
  close(plan->from_parent);
  if ((!plan->as_root && drop_bounding_set() < 0) || clear_capabilities(!plan->as_root) < 0)
    child_fail(plan, "drop-capabilities");
  child_exec(plan, plan->lifeline);
}

/* ---- parent side ---- */

static const char *const denied_syscalls[] = {
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "mount", "umount", "umount2",
    "pivot_root", "chroot", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "bpf", "keyctl", "add_key", "request_key", "perf_event_open", "unshare",
    "setns", "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "userfaultfd",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "iopl", "ioperm", "fanotify_init",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "sethostname", "setdomainname", "vhangup", "nfsservctl", "uselib", "_sysctl", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "personality", "pidfd_getfd", "vm86", "vm86old",
    "create_module", "get_kernel_syms", "query_module", "mbind", "migrate_pages", "move_pages",
    "set_mempolicy", "stime"};

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
                    const struct scmp_arg_cmp *args) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR)
    return 0; /* not on this architecture */
  int rc = seccomp_rule_add_array(ctx, action, nr, n, args);
  return rc == -EDOM || rc == -EEXIST ? 0 : rc;
}

/* Builds the BPF program once per mode; the result is shared and never freed. */
static int build_filter(bool weak, struct sock_fprog *out) {
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  static struct sock_fprog cache[2];
  pthread_mutex_lock(&lock);
  struct sock_fprog *c = &cache[weak ? 1 : 0];
  int rc = 0;
  if (c->filter) {
    *out = *c;
    goto done;
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  int memfd = -1;
  if (!ctx) {
    rc = error_set(ERR_NOMEM, "seccomp_init failed");
    goto done;
  }
  uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  for (size_t i = 0; i < sizeof(denied_syscalls) / sizeof(denied_syscalls[0]) && !rc; i++)
    rc = add_rule(ctx, eperm, denied_syscalls[i], 0, NULL);
  /* clone3 cannot be filtered by flags (they sit in memory): ENOSYS makes libc use clone. */
  if (!rc)
    rc = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
  static const unsigned long ns_flags[] = {CLONE_NEWNS,  CLONE_NEWUSER, CLONE_NEWPID,
                                           CLONE_NEWNET, CLONE_NEWIPC,  CLONE_NEWUTS,
                                           CLONE_NEWCGROUP, CLONE_NEWTIME};
  for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]) && !rc; i++) {
    struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]);
    rc = add_rule(ctx, eperm, "clone", 1, &a);
  }
  if (!rc) {
    struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, AF_PACKET);
    rc = add_rule(ctx, eperm, "socket", 1, &a);
  }
  if (!rc) {
    struct scmp_arg_cmp a = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_RAW);
    rc = add_rule(ctx, eperm, "socket", 1, &a);
  }
  if (!rc) {
    struct scmp_arg_cmp a = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_PACKET);
    rc = add_rule(ctx, eperm, "socket", 1, &a);
  }
  if (!rc) {
    struct scmp_arg_cmp a = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, TIOCSTI);
    rc = add_rule(ctx, eperm, "ioctl", 1, &a);
  }
  if (weak && !rc) {
    /* Without a PID namespace the process group is the only handle on the tree. */
    rc = add_rule(ctx, eperm, "setsid", 0, NULL);
    if (!rc)
      rc = add_rule(ctx, eperm, "setpgid", 0, NULL);
  }
  if (rc) {
    rc = error_set(ERR_GENERIC, "cannot build the seccomp filter: %s", strerror(-rc));
    goto free_ctx;
  }
  memfd = memfd_create("portico-seccomp", MFD_CLOEXEC);
  if (memfd < 0 || seccomp_export_bpf(ctx, memfd) < 0) {
    rc = error_set_errno(ERR_IO, "cannot export the seccomp filter");
    goto free_ctx;
  }
  off_t size = lseek(memfd, 0, SEEK_END);
  if (size <= 0 || size % (off_t)sizeof(struct sock_filter) || size > 65536) {
    rc = error_set(ERR_GENERIC, "seccomp filter has an unexpected size %lld", (long long)size);
    goto free_ctx;
  }
  struct sock_filter *f = malloc((size_t)size);
  if (!f || pread(memfd, f, (size_t)size, 0) != size) {
    free(f);
    rc = error_set(ERR_IO, "cannot read back the seccomp filter");
    goto free_ctx;
  }
  c->filter = f;
  c->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
  *out = *c;
free_ctx:
  if (memfd >= 0)
    close(memfd);
  seccomp_release(ctx);
done:
  pthread_mutex_unlock(&lock);
  return rc;
}

static plan_op *plan_add(child_plan *plan, op_kind kind, const char *target_rel) {
  if (plan->n_ops >= PLAN_MAX_OPS)
    return NULL;
  plan_op *op = &plan->ops[plan->n_ops];
  memset(op, 0, sizeof(*op));
  op->kind = kind;
  op->source_fd = -1;
  size_t n = (size_t)snprintf(op->target, sizeof(op->target), NEWROOT "%s", target_rel);
  if (n >= sizeof(op->target))
    return NULL;
  plan->n_ops++;
  return op;
}

static int plan_bind(child_plan *plan, const char *host, bool is_dir, unsigned long flags) {
  if (!plan_add(plan, is_dir ? OP_MKDIR : OP_TOUCH, host))
    return error_set(ERR_LIMIT, "sandbox plan too long");
  plan_op *op = plan_add(plan, OP_BIND, host);
  if (!op || str_copy(op->source, host, sizeof(op->source)) >= sizeof(op->source))
    return error_set(ERR_LIMIT, "sandbox path too long: %s", host);
  op->flags = MS_RDONLY | MS_NOSUID | flags;
  return 0;
}

/* mkdir -p of every parent directory of `path` (absolute) inside the new root. */
static int plan_parents(child_plan *plan, const char *path) {
  char part[PLAN_PATH_MAX];
  for (const char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
    size_t n = (size_t)(p - path);
    if (n >= sizeof(part))
      return error_set(ERR_LIMIT, "sandbox path too long: %s", path);
    memcpy(part, path, n);
    part[n] = 0;
    if (!plan_add(plan, OP_MKDIR, part))
      return error_set(ERR_LIMIT, "sandbox plan too long");
  }
  return 0;
}

static const char *const system_dirs[] = {"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"};

static bool under_system_dir(const char *real) {
  for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++) {
    size_t n = strlen(system_dirs[i]);
    if (!strncmp(real, system_dirs[i], n) && real[n] == '/')
      return true;
  }
  return false;
}

static int plan_build(child_plan *plan, const sandbox_spec *spec, const char *exe_real) {
  int rc = 0;
  for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]) && !rc; i++) {
    struct stat st;
    const char *d = system_dirs[i];
    if (lstat(d, &st) < 0)
      continue;
    if (S_ISLNK(st.st_mode)) {
      char target[PLAN_PATH_MAX];
      ssize_t n = readlink(d, target, sizeof(target) - 1);
      if (n <= 0)
        continue;
      target[n] = 0;
      plan_op *op = plan_add(plan, OP_SYMLINK, d);
      if (!op)
        return error_set(ERR_LIMIT, "sandbox plan too long");
      str_copy(op->source, target, sizeof(op->source));
    } else if (S_ISDIR(st.st_mode)) {
      rc = plan_bind(plan, d, true, MS_NODEV);
    }
  }
  /* From /etc only what programs need to start: the loader cache and the alternatives
   * links (Debian's /usr/bin/awk -> /etc/alternatives/awk -> mawk). No passwd, no keys. */
  struct stat st;
  if (!rc && !plan_add(plan, OP_MKDIR, "/etc"))
    rc = error_set(ERR_LIMIT, "sandbox plan too long");
  if (!rc && stat("/etc/ld.so.cache", &st) == 0)
    rc = plan_bind(plan, "/etc/ld.so.cache", false, MS_NODEV | MS_NOEXEC);
  if (!rc && lstat("/etc/alternatives", &st) == 0 && S_ISDIR(st.st_mode))
    rc = plan_bind(plan, "/etc/alternatives", true, MS_NODEV | MS_NOEXEC);
  if (!rc && !plan_add(plan, OP_MKDIR, "/dev"))
    rc = error_set(ERR_LIMIT, "sandbox plan too long");
  static const char *const devices[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                        "/dev/urandom"};
  for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]) && !rc; i++)
    if (stat(devices[i], &st) == 0 && S_ISCHR(st.st_mode))
      rc = plan_bind(plan, devices[i], false, MS_NOEXEC);
  static const char *const dev_links[][2] = {{"/dev/fd", "/proc/self/fd"},
                                             {"/dev/stdin", "/proc/self/fd/0"},
                                             {"/dev/stdout", "/proc/self/fd/1"},
                                             {"/dev/stderr", "/proc/self/fd/2"}};
  for (size_t i = 0; i < 4 && !rc; i++) {
    plan_op *op = plan_add(plan, OP_SYMLINK, dev_links[i][0]);
    if (!op)
      return error_set(ERR_LIMIT, "sandbox plan too long");
    str_copy(op->source, dev_links[i][1], sizeof(op->source));
  }
  if (!rc) {
    plan_op *op = plan_add(plan, OP_MKDIR, "/proc");
    plan_op *pr = op ? plan_add(plan, OP_PROC, "/proc") : NULL;
    if (!pr)
      return error_set(ERR_LIMIT, "sandbox plan too long");
    pr->optional = !plan->as_root;
    op = plan_add(plan, OP_MKDIR, "/tmp");
    plan_op *tmp = op ? plan_add(plan, OP_TMPFS, "/tmp") : NULL;
    if (!tmp)
      return error_set(ERR_LIMIT, "sandbox plan too long");
    snprintf(tmp->options, sizeof(tmp->options), "size=%lld,nr_inodes=4096,mode=1777",
             (long long)spec->limits.tmp_bytes);
  }
  if (!rc && !under_system_dir(exe_real)) {
    rc = plan_parents(plan, exe_real);
    if (!rc)
      rc = plan_bind(plan, exe_real, false, MS_NODEV);
  }
  return rc;
}

static void set_rlimit(struct rlimit *r, int64_t soft, int64_t hard) {
  r->rlim_cur = soft > 0 ? (rlim_t)soft : RLIM_INFINITY;
  r->rlim_max = hard > 0 ? (rlim_t)hard : RLIM_INFINITY;
}

/* Parses the report pipe's lines into the result. Returns true on a setup failure;
 * *refused is set when the failure was the kernel refusing a namespace. */
static bool read_report(int fd, sandbox_result *result, bool *refused) {
  char text[1024];
  ssize_t n = read(fd, text, sizeof(text) - 1);
  if (n <= 0)
    return false;
  text[n] = 0;
  bool failed = false;
  for (char *line = text; line && *line;) {
    char *next = strchr(line, '\n');
    if (next)
      *next++ = 0;
    char kind[16], step[48];
    long a = 0, b = 0;
    if (sscanf(line, "%15s %47s %ld %ld", kind, step, &a, &b) == 4) {
      if (!strcmp(kind, "setup") || !strcmp(kind, "nsrefused")) {
        if (!failed)
          snprintf(result->detail, sizeof(result->detail), "sandbox set-up failed at %s: %s",
                   step, strerror((int)a));
        failed = true;
        *refused = *refused || !strcmp(kind, "nsrefused");
      }
    }
    line = next;
  }
  return failed;
}

static int resolve_exe(const char *exe, char *real, size_t size) {
  if (!exe || exe[0] != '/')
    return error_set(ERR_INVALID, "function executable must be an absolute path: %s",
                     exe ? exe : "(none)");
  char tmp[PATH_MAX];
  if (!realpath(exe, tmp))
    return error_set_errno(ERR_NOTFOUND, "function executable %s", exe);
  struct stat st;
  if (stat(tmp, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
    return error_set(ERR_INVALID, "function executable %s is not an executable file", exe);
  if (str_copy(real, tmp, size) >= size)
    return error_set(ERR_LIMIT, "function executable path too long: %s", exe);
  return 0;
}

struct sandbox_proc {
  child_plan *plan;
  int report[2];
  proc_child child;
  sandbox_limits limits;
  size_t fed;          /* bytes of input written by sandbox_release */
  int64_t released_ms; /* when (CLOCK_MONOTONIC), 0 when not released */
  /* The parent's ends: P's 'u' (read), our 'm' (write), the lifeline (write, held until P
   * is reaped). -1 when unused. */
  int from_p, to_p, lifeline;
  bool mapped; /* the uid/gid maps are written (or there is nothing to write) */
  /* Root: the thread that writes P's maps as soon as P asks (so that P reaches its exec
   * without waiting for the caller), and the pipe that tells it to give up. */
  pthread_t mapper;
  bool mapper_running;
  int stop[2];
};

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* Root: writes P's uid and gid maps once P has made its user namespace (it says 'u', then
 * waits for our 'm'). Waits at most the wall time limit for P to get there; when P failed
 * before (its report says why) or the maps cannot be written, P is left without its 'm'
 * and fails at "uid-map-handshake". */
static void map_ids_now(sandbox_proc *sp) {
  if (sp->from_p < 0)
    return;
  struct pollfd p[2] = {{sp->from_p, POLLIN, 0}, {sp->stop[0], POLLIN, 0}};
  int wait_ms = sp->limits.wall_ms > 0 && sp->limits.wall_ms < 600000 ? (int)sp->limits.wall_ms : 600000;
  int ready;
  while ((ready = poll(p, sp->stop[0] >= 0 ? 2 : 1, wait_ms)) < 0 && errno == EINTR)
    ;
  char c = 0;
  if (ready <= 0 || p[1].revents || read(sp->from_p, &c, 1) != 1 || c != 'u') {
    close_fd(&sp->to_p);
    return;
  }
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/gid_map", sp->child.pid);
  int rc = write_file(path, sp->plan->gid_map);
  snprintf(path, sizeof(path), "/proc/%d/uid_map", sp->child.pid);
  if (!rc)
    rc = write_file(path, sp->plan->uid_map);
  c = 'm';
  if (!rc && write(sp->to_p, &c, 1) != 1)
    rc = -1;
  close_fd(&sp->to_p);
}

static void *mapper_main(void *arg) {
  map_ids_now(arg);
  return NULL;
}

/* The maps are written (by the mapper thread, waited for here, or now when there is no
 * thread); P has its 'm' or never will. */
static void sandbox_map_ids(sandbox_proc *sp) {
  if (sp->mapped)
    return;
  sp->mapped = true;
  if (sp->mapper_running)
    pthread_join(sp->mapper, NULL);
  else
    map_ids_now(sp);
  sp->mapper_running = false;
}

/* For a sandbox that will not run: stops a mapper still waiting for P and joins it (P
 * will not get its 'm'); nothing is waited for without a mapper. */
static void sandbox_stop_mapper(sandbox_proc *sp) {
  if (!sp->mapper_running) {
    sp->mapped = true;
    return;
  }
  char c = 's';
  if (write(sp->stop[1], &c, 1) != 1)
    log_warn(NULL, "sandbox: cannot stop the uid-map thread: %s", strerror(errno));
  sandbox_map_ids(sp);
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sandbox_release(sandbox_proc *sp, const void *data, size_t len) {
  if (sp->released_ms)
    return error_set(ERR_INVALID, "sandbox already released");
  sandbox_map_ids(sp);
  sp->released_ms = mono_ms();
  if (!sp->released_ms)
    sp->released_ms = 1;
  /* The stdin pipe is non-blocking: what fits now; sandbox_finish feeds the rest. */
  while (sp->fed < len && sp->child.in >= 0) {
    ssize_t w = write(sp->child.in, (const char *)data + sp->fed, len - sp->fed);
    if (w > 0)
      sp->fed += (size_t)w;
    else if (w < 0 && errno == EINTR)
      continue;
    else
      break;
  }
  return 0;
}

static void proc_free(sandbox_proc *sp) {
  close_fd(&sp->stop[0]);
  close_fd(&sp->stop[1]);
  close_fd(&sp->report[0]);
  close_fd(&sp->report[1]);
  close_fd(&sp->from_p);
  close_fd(&sp->to_p);
  close_fd(&sp->lifeline);
  free(sp->plan);
  free(sp);
}

int sandbox_start(const sandbox_spec *spec, sandbox_proc **out) {
  *out = NULL;
  sandbox_proc *sp = calloc(1, sizeof(*sp));
  child_plan *plan = calloc(1, sizeof(*plan));
  if (!sp || !plan) {
    free(sp);
    free(plan);
    return error_set(ERR_NOMEM, "out of memory");
  }
  sp->plan = plan;
  sp->report[0] = sp->report[1] = -1;
  sp->from_p = sp->to_p = sp->lifeline = -1;
  sp->stop[0] = sp->stop[1] = -1;
  sp->mapped = true; /* until there is a handshake to do */
  plan->to_parent = plan->from_parent = plan->lifeline = -1;
  sp->limits = spec->limits;
  plan->strict = spec->mode == SANDBOX_STRICT;
  plan->as_root = geteuid() == 0;
  int rc = resolve_exe(spec->exe, plan->exe, sizeof(plan->exe));
  if (rc)
    goto fail;
  if (plan->strict) {
    rc = plan_build(plan, spec, plan->exe);
    if (rc)
      goto fail;
  } else {
    log_warn(NULL, "SANDBOX WEAK MODE: running %s WITHOUT namespaces (no mount, PID, network, "
                   "IPC or user isolation); only rlimits, seccomp and an unprivileged uid apply",
             spec->exe);
  }
  rc = build_filter(!plan->strict, &plan->prog);
  if (rc)
    goto fail;
  snprintf(plan->uid_map, sizeof(plan->uid_map), "%d %d 1\n", SANDBOX_UID, SANDBOX_UID);
  snprintf(plan->gid_map, sizeof(plan->gid_map), "%d %d 1\n", SANDBOX_GID, SANDBOX_GID);
  const sandbox_limits *l = &spec->limits;
  set_rlimit(&plan->cpu, l->cpu_seconds, l->cpu_seconds > 0 ? l->cpu_seconds + 1 : 0);
  set_rlimit(&plan->as, l->memory_bytes, l->memory_bytes);
  set_rlimit(&plan->nproc, l->processes, l->processes);
  set_rlimit(&plan->nofile, l->open_files, l->open_files);
  plan->default_argv[0] = plan->exe;
  plan->argv = spec->argv ? spec->argv : plan->default_argv;
  plan->envp = spec->envp;
  plan->caller_uid = geteuid();
  plan->caller_gid = getegid();
  int up[2] = {-1, -1}, down[2] = {-1, -1}, life[2] = {-1, -1};
  if (pipe2(sp->report, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(life, O_CLOEXEC) < 0 ||
      (plan->strict && (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0))) {
    rc = error_set_errno(ERR_IO, "cannot create the sandbox pipes");
    for (int i = 0; i < 2; i++) {
      close_fd(&up[i]);
      close_fd(&down[i]);
      close_fd(&life[i]);
    }
    goto fail;
  }
  plan->report_fd = sp->report[1];
  plan->to_parent = up[1];
  plan->from_parent = down[0];
  plan->lifeline = life[0];
  sp->from_p = up[0];
  sp->to_p = down[1];
  sp->lifeline = life[1];
  sp->mapped = !(plan->strict && plan->as_root);
  /* The clone makes P the PID 1 of a new PID namespace (inside a new user namespace first
   * when Portico is not root; as root P makes that one last, see sandbox_child); P makes
   * the others itself. The child copies argv, envp and the plan: they need not outlive
   * this call. */
  unsigned long ns = CLONE_NEWPID;
  char *const exec_argv[] = {plan->exe, NULL}; /* proc's own exec is never reached */
  proc_spec ps = {.argv = exec_argv,
                  .setup = sandbox_child,
                  .setup_arg = plan,
                  .clone_flags = !plan->strict ? 0 : plan->as_root ? ns : ns | CLONE_NEWUSER};
  rc = proc_start(&ps, &sp->child);
  int saved = errno;
  /* The child's ends stay with the child only. */
  close_fd(&sp->report[1]);
  close_fd(&plan->to_parent);
  close_fd(&plan->from_parent);
  close_fd(&plan->lifeline);
  if (rc && plan->strict && (saved == EPERM || saved == EINVAL || saved == ENOSPC || saved == EUSERS ||
                             saved == EACCES))
    rc = error_set(ERR_UNAVAILABLE,
                   "sandbox set-up failed at clone: %s; the kernel refuses the namespaces the "
                   "sandbox needs, so Portico will not run untrusted functions here (use "
                   "--sandbox=weak to accept weaker isolation)",
                   strerror(saved));
  if (rc)
    goto fail;
  /* Root: P asks for its maps once its other namespaces and root are built; a thread
   * answers, so that P goes on to its exec while the caller does other work. Without the
   * thread (it could not start), the maps are written at the release. */
  if (!sp->mapped && pipe2(sp->stop, O_CLOEXEC) == 0 &&
      pthread_create(&sp->mapper, NULL, mapper_main, sp) == 0)
    sp->mapper_running = true;
  *out = sp;
  return 0;
fail:
  proc_free(sp);
  return rc;
}

void sandbox_cancel(sandbox_proc *sp) {
  if (!sp)
    return;
  sandbox_stop_mapper(sp);
  proc_abort(&sp->child);
  proc_free(sp);
}

int sandbox_finish(sandbox_proc *sp, const void *stdin_data, size_t stdin_len,
                   void (*on_output)(void *arg, const buf *out), void *on_output_arg,
                   sandbox_result *result) {
  result->detail[0] = 0;
  result->limits = sp->limits;
  const sandbox_limits *l = &sp->limits;
  /* After sandbox_release: its bytes are already in the pipe, and the wall time runs
   * since then. */
  size_t skip = sp->fed < stdin_len ? sp->fed : stdin_len;
  int64_t wall = l->wall_ms;
  if (sp->released_ms && wall > 0) {
    wall -= mono_ms() - sp->released_ms;
    if (wall < 1)
      wall = 1;
  }
  proc_spec ps = {
      .stdin_data = stdin_data ? (const char *)stdin_data + skip : NULL,
      .stdin_len = stdin_len - skip,
      .stdout_limit = (size_t)l->output_bytes,
      .stderr_limit = (size_t)l->output_bytes,
      .timeout_ms = wall,
      .on_output = on_output,
      .on_output_arg = on_output_arg,
  };
  sandbox_map_ids(sp);
  proc_result pr;
  memset(&pr, 0, sizeof(pr));
  int rc = proc_finish(&ps, &sp->child, &pr);
  result->out = pr.out;
  result->err = pr.err;
  result->wall_ms = pr.wall_ms;
  bool refused = false;
  result->outcome = SANDBOX_OK;
  bool setup_failed = read_report(sp->report[0], result, &refused);
  switch (pr.outcome) {
  case PROC_TIMED_OUT: result->outcome = SANDBOX_WALL_TIME; break;
  case PROC_OUTPUT_LIMIT: result->outcome = SANDBOX_OUTPUT_LIMIT; break;
  case PROC_SIGNALED:
    /* RLIMIT_CPU sends SIGXCPU at the soft limit and SIGKILL at the hard one (a second on). */
    result->outcome = pr.signal == SIGXCPU || (pr.signal == SIGKILL && l->cpu_seconds > 0 &&
                                               pr.cpu_ms >= l->cpu_seconds * 1000)
                          ? SANDBOX_CPU_TIME
                          : SANDBOX_SIGNALED;
    result->signal = pr.signal;
    break;
  case PROC_EXITED:
  case PROC_SPAWN_FAILED:
    if (setup_failed)
      result->outcome = SANDBOX_SETUP_FAILED;
    if (result->outcome == SANDBOX_OK)
      result->exit_code = pr.exit_code;
    break;
  }
  if (!rc && setup_failed && refused && sp->plan->strict)
    rc = error_set(ERR_UNAVAILABLE,
                   "%s; the kernel refuses the namespaces the sandbox needs, so Portico will not "
                   "run untrusted functions here (use --sandbox=weak to accept weaker isolation)",
                   result->detail);
  proc_free(sp);
  return rc;
}

int sandbox_run(const sandbox_spec *spec, sandbox_result *result) {
  buf_init(&result->out, 0);
  buf_init(&result->err, 0);
  result->detail[0] = 0;
  result->limits = spec->limits;
  sandbox_proc *sp = NULL;
  int rc = sandbox_start(spec, &sp);
  if (rc)
    return rc;
  return sandbox_finish(sp, spec->stdin_data, spec->stdin_len, NULL, NULL, result);
}

void sandbox_result_free(sandbox_result *result) {
  buf_free(&result->out);
  buf_free(&result->err);
}

bool sandbox_available(char *why, size_t why_size) {
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  static int state = -1; /* -1 unknown, 0 no, 1 yes */
  static char reason[256];
  pthread_mutex_lock(&lock);
  if (state < 0) {
    static char *const argv[] = {"sh", "-c", "exit 0", NULL};
    sandbox_spec spec = {.exe = "/bin/sh", .argv = argv, .mode = SANDBOX_STRICT};
    sandbox_limits_default(&spec.limits);
    sandbox_result r;
    memset(&r, 0, sizeof(r));
    int rc = sandbox_run(&spec, &r);
    if (rc)
      snprintf(reason, sizeof(reason), "%s", error_message());
    else if (r.outcome != SANDBOX_OK || r.exit_code != 0)
      snprintf(reason, sizeof(reason), "%s", r.detail[0] ? r.detail : "probe function failed");
    state = !rc && r.outcome == SANDBOX_OK && r.exit_code == 0;
    sandbox_result_free(&r);
  }
  bool ok = state == 1;
  if (why && why_size)
    snprintf(why, why_size, "%s", ok ? "" : reason);
  pthread_mutex_unlock(&lock);
  return ok;
}

void sandbox_describe(const sandbox_result *r, char *out, size_t size) {
  switch (r->outcome) {
  case SANDBOX_OK: snprintf(out, size, "exited with code %d", r->exit_code); break;
  case SANDBOX_WALL_TIME:
    snprintf(out, size, "killed after %lld ms: wall time limit of %lld ms reached",
             (long long)r->wall_ms, (long long)r->limits.wall_ms);
    break;
  case SANDBOX_CPU_TIME:
    snprintf(out, size, "killed: CPU time limit of %lld s reached", (long long)r->limits.cpu_seconds);
    break;
  case SANDBOX_OUTPUT_LIMIT:
    snprintf(out, size, "killed: output larger than its limit of %lld bytes",
             (long long)r->limits.output_bytes);
    break;
  case SANDBOX_SIGNALED:
    snprintf(out, size, "killed by signal %d (%s)", r->signal, strsignal(r->signal));
    break;
  case SANDBOX_SETUP_FAILED: snprintf(out, size, "%s", r->detail); break;
  }
}

int sandbox_parse_mode(const char *s, sandbox_mode *out) {
  if (str_eq(s, "strict"))
    *out = SANDBOX_STRICT;
  else if (str_eq(s, "weak"))
    *out = SANDBOX_WEAK;
  else
    return error_set(ERR_INVALID, "unknown sandbox mode '%s' (want strict or weak)", s ? s : "");
  return 0;
}

static int parse_scaled(const char *s, const char *const *suffixes, const int64_t *scale,
                        size_t n, int64_t *out) {
  if (!s || !*s)
    return ERR_INVALID;
  size_t len = strlen(s);
  for (size_t i = 0; i < n; i++) {
    size_t sl = strlen(suffixes[i]);
    if (len <= sl || strcmp(s + len - sl, suffixes[i]))
      continue;
    char num[32];
    if (len - sl >= sizeof(num))
      return ERR_INVALID;
    memcpy(num, s, len - sl);
    num[len - sl] = 0;
    int64_t v;
    if (str_to_int64(num, 0, INT64_MAX / scale[i], &v))
      return ERR_INVALID;
    *out = v * scale[i];
    return 0;
  }
  return ERR_INVALID;
}

int sandbox_parse_size(const char *s, int64_t *out) {
  static const char *const suf[] = {"Ki", "Mi", "Gi", "Ti", "k", "K", "M", "G", "T", ""};
  static const int64_t scale[] = {1 << 10,    1 << 20, 1 << 30,    (int64_t)1 << 40, 1000, 1000,
                                  1000000, 1000000000, 1000000000000, 1};
  if (parse_scaled(s, suf, scale, 10, out))
    return error_set(ERR_INVALID, "bad size '%s' (examples: 1Gi, 512Mi, 64M, 1000)", s ? s : "");
  return 0;
}

int sandbox_parse_duration_ms(const char *s, int64_t *out) {
  static const char *const suf[] = {"ms", "s", "m", ""};
  static const int64_t scale[] = {1, 1000, 60000, 1000};
  if (parse_scaled(s, suf, scale, 4, out))
    return error_set(ERR_INVALID, "bad duration '%s' (examples: 10s, 500ms, 2m)", s ? s : "");
  return 0;
}
