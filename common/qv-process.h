/* The one process launcher of the project (bubblewrap, libuv, systemd).
 *
 * - argv arrays only, never a shell; a clean environment unless envp is given.
 * - Every fd of the parent is close-on-exec; the child additionally marks all
 *   fds > 2 close-on-exec (close_range) and clears the flag only on the pass
 *   list, so only the pass list (kept at the same numbers) reaches the program.
 * - Signal dispositions and the mask are reset in the child.
 * - An exec failure reaches the parent as -errno through a close-on-exec pipe,
 *   so a missing binary is an immediate -ENOENT, not a timeout.
 * - Supervision uses a pidfd where the kernel has one (pidfd_open, Linux 5.3);
 *   the fallback is waitpid(WNOHANG) polling on a timer. The library installs
 *   no SIGCHLD handler.
 * - Optionally the child is placed in a cgroup before it runs
 *   (clone3 CLONE_INTO_CGROUP where available, else a write of "0" to
 *   cgroup.procs in the child before exec). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "qv-error.h"

/* A device node a program with a private /dev gets (qv_spawn_opts.dev). */
typedef struct qv_spawn_dev {
    const char *name;   /* below /dev: "kvm", "dri/renderD128" */
    dev_t rdev;         /* a character device */
    mode_t mode;
    uid_t uid;
    gid_t gid;
} qv_spawn_dev;

typedef struct qv_spawn_opts {
    const char *const *argv;    /* argv[0]: a path, or a name looked up in the caller's PATH */
    const char *const *envp;    /* NULL: a clean environment: LC_ALL=C and PATH only */
    const char *const *env_add; /* with envp NULL: "NAME=VALUE"s set in the clean environment, in order */
    const int *pass_fds;        /* fds the child keeps, at the same numbers */
    size_t n_pass_fds;
    int stdin_fd;               /* -1: /dev/null */
    int stdout_fd;              /* -1: /dev/null */
    int stderr_fd;              /* -1: /dev/null */
    bool new_session;           /* setsid() in the child */
    const char *cwd;            /* NULL: unchanged */
    int cgroup_fd;              /* -1: none; else a cgroup v2 directory fd to run in */
    /* Who the program runs as (a root caller's QEMU): the supplementary
     * groups, then the group, then the user are set before exec; uid
     * (uid_t)-1 leaves the caller's. */
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t n_groups;
    /* No capability survives the exec: every one leaves the bounding,
     * inheritable and ambient sets (and, for a program that stays root,
     * the permitted and effective ones), and no_new_privs is set, so no
     * setuid program can give any back. */
    bool drop_caps;
    /* A mount namespace of its own whose /dev holds only null, zero, full,
     * random, urandom, ptmx (with the host's pts), a shm, the fd links and
     * these nodes: a tmpfs set up at dev_staging (an empty folder; root
     * only) and moved onto /dev. NULL: the caller's /dev. */
    const char *dev_staging;
    const qv_spawn_dev *devs;
    size_t n_devs;
    /* With dev_staging: folders below /dev (names such as "hugepages")
     * bind-mounted from the host's /dev into the private one, for the
     * hugetlbfs mounts QEMU puts guest RAM on. NULL-terminated or NULL. */
    const char *const *dev_mounts;
    /* Called in the parent once the child exists and before it may exec,
     * with its pid; the child execs only when this returns 0, and never
     * when the parent dies first. For recording a pid before the program
     * runs (qvirt-monitor writes status.json so no QEMU runs unrecorded).
     * A negative return fails the spawn with that code. */
    int (*before_exec)(pid_t pid, void *userdata);
    void *before_exec_data;
} qv_spawn_opts;

/* Initialises opts with stdio at /dev/null, no cgroup, and the caller's
 * user and capabilities. */
void qv_spawn_opts_init(qv_spawn_opts *opts);

typedef struct qv_process qv_process;

/* Starts the program. On success the child has exec'd. */
int qv_process_spawn(const qv_spawn_opts *opts, qv_process **ret, qv_error **err);
pid_t qv_process_pid(const qv_process *p);
/* A fd that becomes readable when the process exits (the pidfd), or -1 when
 * the kernel has no pidfds (then poll with a timeout and call try_wait). */
int qv_process_get_fd(const qv_process *p);
/* Non-blocking: 1 and *status (waitpid status) when exited, 0 when running. */
int qv_process_try_wait(qv_process *p, int *status, qv_error **err);
/* Waits up to timeout_ms (-1: forever). -ETIMEDOUT when still running. */
int qv_process_wait(qv_process *p, int timeout_ms, int *status, qv_error **err);
int qv_process_signal(qv_process *p, int sig, qv_error **err);
/* SIGTERM, then SIGKILL when the process has not exited after grace_ms
 * (timer-driven through the pidfd, no sleeps); reaps it. */
int qv_process_terminate(qv_process *p, int grace_ms, int *status, qv_error **err);
/* Frees the handle; does not kill or reap the process. */
void qv_process_free(qv_process *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_process, qv_process_free)

/* The fields of /proc/PID/stat that qvirt reads: the one parser of it. */
typedef struct qv_proc_stat {
    char state;                    /* field 3: R, S, D, Z, X, ... */
    unsigned long long utime;      /* field 14, clock ticks */
    unsigned long long stime;      /* field 15, clock ticks */
    unsigned long long start_time; /* field 22, clock ticks since boot */
    unsigned long long rss_kib;    /* field 24 (pages), in KiB */
    int processor;                 /* field 39: the CPU last run on; -1 unknown */
} qv_proc_stat;
/* A stat line is well under this; more means something is wrong. */
#define QV_PROC_STAT_MAX 4096
/* Reads /proc/PID/stat, or with tid > 0 /proc/PID/task/TID/stat. 0, or a
 * negative errno (-ENOENT: no such process). */
int qv_proc_stat_read(pid_t pid, pid_t tid, qv_proc_stat *ret);
/* True for a zombie or a dead task: it has exited, reaped or not (its
 * parent, say a killed monitor whose QEMU went to a PID 1 that does not
 * reap, may never collect it). */
bool qv_proc_stat_exited(const qv_proc_stat *st);
/* Clock ticks (utime, stime) in nanoseconds. */
unsigned long long qv_proc_ticks_to_ns(unsigned long long ticks);

/* Start time of a pid in clock ticks since boot (field 22 of /proc/PID/stat),
 * used with the pid to detect pid reuse. 0 when the process does not exist. */
unsigned long long qv_process_start_time(pid_t pid);
