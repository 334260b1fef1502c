/* The one process launcher: see qv-process.h for the contract.
 *
 * Everything the child needs (resolved path, argv, envp, fds) is prepared in
 * the parent before fork, so the child only makes async-signal-safe calls:
 * the caller may have threads, and malloc locks held by another thread at
 * fork time would deadlock a child that allocates. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qv-file.h"
#include "qv-process.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define QV_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* How often the no-pidfd fallback polls waitpid(WNOHANG). */
#define QV_POLL_INTERVAL_MS 10
/* How long terminate waits after SIGKILL before giving up (a process stuck in
 * uninterruptible sleep must not hang the caller forever). */
#define QV_KILL_WAIT_MS 5000

/* Our own copy of the clone3 argument block (linux/sched.h, v2 layout with
 * the cgroup field), so we need not mix linux/ and glibc sched headers. */
struct qv_clone_args {
    uint64_t flags;
    uint64_t pidfd;
    uint64_t child_tid;
    uint64_t parent_tid;
    uint64_t exit_signal;
    uint64_t stack;
    uint64_t stack_size;
    uint64_t tls;
    uint64_t set_tid;
    uint64_t set_tid_size;
    uint64_t cgroup;
};

struct qv_process {
    pid_t pid;
    int pidfd;          /* -1 when the kernel has no pidfds */
    bool reaped;
    int status;         /* waitpid status once reaped */
};

/* What the child reports through the error pipe before _exit(127). */
enum child_stage {
    STAGE_SIGNALS = 1,
    STAGE_CGROUP,
    STAGE_SETSID,
    STAGE_STDIO,
    STAGE_FDS,
    STAGE_CHDIR,
    STAGE_EXEC,
    STAGE_HOLD,
    STAGE_CAPS,
    STAGE_USER,
    STAGE_DEV,
};

struct child_report {
    int stage;
    int err;            /* positive errno */
};

/* Everything the child reads, prepared by the parent. */
struct child_ctx {
    const char *path;
    char *const *argv;
    char *const *envp;
    const int *pass_fds;
    size_t n_pass_fds;
    int std_fds[3];
    bool new_session;
    const char *cwd;
    int cgroup_fd;
    bool cgroup_by_clone;   /* clone3 already placed us */
    int report_fd;
    int hold_fd;            /* -1, or where the parent says "go" before exec */
    int hold_wfd;           /* the parent's end, closed at once in the child */
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t n_groups;
    bool drop_caps;
    int cap_last;           /* /proc/sys/kernel/cap_last_cap, read by the parent */
    bool caller_is_root;
    const char *dev_staging;
    char **dev_paths;       /* dev_staging/<name> of each of devs, prepared by the parent */
    const qv_spawn_dev *devs;
    size_t n_devs;
    char **dev_dirs;        /* folders to make below dev_staging, parents first */
    char **dev_mount_src;   /* /dev/<name> of each of dev_mounts */
    char **dev_mount_dst;   /* dev_staging/<name> of each */
};

void qv_spawn_opts_init(qv_spawn_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->stdin_fd = -1;
    opts->stdout_fd = -1;
    opts->stderr_fd = -1;
    opts->cgroup_fd = -1;
    opts->uid = (uid_t)-1;
    opts->gid = (gid_t)-1;
}

/* ---- child side: async-signal-safe calls only ---- */

static void child_fail(const struct child_ctx *c, int stage, int err)
{
    struct child_report r = { .stage = stage, .err = err };
    ssize_t n;
    do {
        n = write(c->report_fd, &r, sizeof(r));
    } while (n < 0 && errno == EINTR);
    _exit(127);
}

static int child_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: mark every open fd through
 * /proc/self/fd, read with getdents64 into a stack buffer (opendir would
 * malloc). Can go once 5.11 is the minimum kernel. */
struct qv_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int child_cloexec_from_3_fallback(void)
{
    int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        /* No /proc: walk the whole fd table. */
        struct rlimit rl;
        int max = 65536;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur < (rlim_t)INT_MAX)
            max = (int)rl.rlim_cur;
        for (int fd = 3; fd < max; fd++)
            (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        return 0;
    }
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
        if (n < 0) {
            int e = errno;
            close(dfd);
            return -e;
        }
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            struct qv_dirent64 *d = (struct qv_dirent64 *)(buf + off);
            off += d->d_reclen;
            int fd = 0;
            bool digits = d->d_name[0] != '\0';
            for (const char *s = d->d_name; *s; s++) {
                if (*s < '0' || *s > '9') {
                    digits = false;
                    break;
                }
                fd = fd * 10 + (*s - '0');
            }
            if (digits && fd > 2 && fd != dfd)
                (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
    }
    close(dfd);
    return 0;
}

/* The child's own /dev (qv_spawn_opts.dev_staging): async-signal-safe
 * calls on paths the parent built. */
static int child_private_dev(const struct child_ctx *c)
{
    static const struct { const char *name; unsigned int major, minor; } basic[] = {
        { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 },
        { "urandom", 1, 9 }, { "ptmx", 5, 2 },
    };
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
        mount("qvirt-dev", c->dev_staging, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755") < 0)
        return -errno;
    int dfd = open(c->dev_staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int r = 0;
    for (size_t i = 0; r == 0 && i < G_N_ELEMENTS(basic); i++)
        if (mknodat(dfd, basic[i].name, S_IFCHR | 0666, makedev(basic[i].major, basic[i].minor)) < 0 ||
            fchmodat(dfd, basic[i].name, 0666, 0) < 0)
            r = -errno;
    if (r == 0 && (mkdirat(dfd, "pts", 0755) < 0 || mkdirat(dfd, "shm", 01777) < 0 ||
                   symlinkat("/proc/self/fd", dfd, "fd") < 0 ||
                   symlinkat("/proc/self/fd/0", dfd, "stdin") < 0 ||
                   symlinkat("/proc/self/fd/1", dfd, "stdout") < 0 ||
                   symlinkat("/proc/self/fd/2", dfd, "stderr") < 0))
        r = -errno;
    for (char **d = c->dev_dirs; r == 0 && d && *d; d++)
        if (mkdir(*d, 0755) < 0 && errno != EEXIST)
            r = -errno;
    for (size_t i = 0; r == 0 && i < c->n_devs; i++) {
        const qv_spawn_dev *dv = &c->devs[i];
        if (mknod(c->dev_paths[i], S_IFCHR | (dv->mode & 07777), dv->rdev) < 0 ||
            chown(c->dev_paths[i], dv->uid, dv->gid) < 0 || chmod(c->dev_paths[i], dv->mode & 07777) < 0)
            r = -errno;
    }
    for (size_t i = 0; r == 0 && c->dev_mount_src && c->dev_mount_src[i]; i++)
        if ((mkdir(c->dev_mount_dst[i], 0755) < 0 && errno != EEXIST) ||
            mount(c->dev_mount_src[i], c->dev_mount_dst[i], NULL, MS_BIND | MS_REC, NULL) < 0)
            r = -errno;
    close(dfd);
    if (r < 0)
        return r;
    /* The host's ptys (a pty QEMU opens is one the caller can open too),
     * a shm of its own, then the whole tree onto /dev. */
    char pts[PATH_MAX], shm[PATH_MAX];
    size_t n = strlen(c->dev_staging);
    if (n + 5 > sizeof pts)
        return -ENAMETOOLONG;
    memcpy(pts, c->dev_staging, n);
    memcpy(pts + n, "/pts", 5);
    memcpy(shm, c->dev_staging, n);
    memcpy(shm + n, "/shm", 5);
    if (mount("/dev/pts", pts, NULL, MS_BIND, NULL) < 0 ||
        mount("qvirt-shm", shm, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0 ||
        mount(c->dev_staging, "/dev", NULL, MS_MOVE, NULL) < 0)
        return -errno;
    return 0;
}

static _Noreturn void child_run(const struct child_ctx *c)
{
    /* Only the parent may keep the hold pipe open: end of file must mean
     * the parent is gone or gave up. */
    if (c->hold_wfd >= 0)
        close(c->hold_wfd);
    /* The parent blocked all signals around fork; reset dispositions while
     * still blocked, then unblock, so no inherited handler ever runs here. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &sa, NULL);   /* SIGKILL/SIGSTOP/libc-internal fail: fine */
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        child_fail(c, STAGE_SIGNALS, errno);

    if (c->cgroup_fd >= 0 && !c->cgroup_by_clone) {
        int fd = openat(c->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            child_fail(c, STAGE_CGROUP, errno);
        int r = child_write_all(fd, "0", 1);
        close(fd);
        if (r < 0)
            child_fail(c, STAGE_CGROUP, -r);
    }

    if (c->new_session && setsid() < 0)
        child_fail(c, STAGE_SETSID, errno);

    /* Move each std source above 2 first, so a source that is itself 0..2
     * (e.g. stdout_fd = 2) is not overwritten by an earlier dup2. The copies
     * are close-on-exec; dup2 clears the flag on the targets. */
    int tmp[3];
    for (int i = 0; i < 3; i++) {
        tmp[i] = fcntl(c->std_fds[i], F_DUPFD_CLOEXEC, 3);
        if (tmp[i] < 0)
            child_fail(c, STAGE_STDIO, errno);
    }
    for (int i = 0; i < 3; i++) {
        if (dup2(tmp[i], i) < 0)
            child_fail(c, STAGE_STDIO, errno);
    }

    /* All fds above 2 (including the copies above and the report pipe)
     * become close-on-exec; only the pass list is let through. */
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        int r = child_cloexec_from_3_fallback();
        if (r < 0)
            child_fail(c, STAGE_FDS, -r);
    }
    for (size_t i = 0; i < c->n_pass_fds; i++) {
        int flags = fcntl(c->pass_fds[i], F_GETFD);
        if (flags < 0 || fcntl(c->pass_fds[i], F_SETFD, flags & ~FD_CLOEXEC) < 0)
            child_fail(c, STAGE_FDS, errno);
    }

    if (c->cwd && chdir(c->cwd) < 0)
        child_fail(c, STAGE_CHDIR, errno);

    if (c->dev_staging) {
        int r = child_private_dev(c);
        if (r < 0)
            child_fail(c, STAGE_DEV, -r);
    }
    if (c->drop_caps) {
        /* An ordinary user cannot shrink the bounding set (that takes
         * CAP_SETPCAP), and needs not: with no_new_privs nothing it runs
         * gains a capability. */
        for (int cap = 0; cap <= c->cap_last; cap++)
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL &&
                !(errno == EPERM && !c->caller_is_root))
                child_fail(c, STAGE_CAPS, errno);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
            child_fail(c, STAGE_CAPS, errno);
    }
    if (c->uid != (uid_t)-1) {
        if (setgroups(c->n_groups, c->groups) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
            setresuid(c->uid, c->uid, c->uid) < 0)
            child_fail(c, STAGE_USER, errno);
    }
    if (c->drop_caps) {
        /* A program that stays root still has its permitted and effective
         * sets: empty them (after setresuid, which needed them). */
        struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct no_caps[2] = { { 0 } };
        if (syscall(SYS_capset, &hdr, no_caps) < 0 ||
            prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            child_fail(c, STAGE_CAPS, errno);
    }

    if (c->hold_fd >= 0) {
        /* One byte: go. End of file: the parent died or gave up. */
        char go = 0;
        ssize_t n;
        do {
            n = read(c->hold_fd, &go, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1)
            child_fail(c, STAGE_HOLD, n < 0 ? errno : ECANCELED);
    }

    execve(c->path, c->argv, c->envp);
    child_fail(c, STAGE_EXEC, errno);
    _exit(127);   /* not reached */
}

/* ---- parent side ---- */

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* PATH lookup in the parent, so a missing program fails before any fork. */
static int resolve_program(const char *name, const char *search_path, char **ret, qv_error **err)
{
    if (strchr(name, '/')) {
        *ret = g_strdup(name);
        return 0;
    }
    if (name[0] == '\0')
        return qv_error_set(err, -EINVAL, "cannot start a program with an empty name");
    g_auto(GStrv) dirs = g_strsplit(search_path, ":", -1);
    g_autofree char *not_executable = NULL;
    for (char **d = dirs; *d; d++) {
        if ((*d)[0] == '\0')   /* an empty entry means the cwd: never search it */
            continue;
        g_autofree char *candidate = g_build_filename(*d, name, NULL);
        if (is_executable_file(candidate)) {
            *ret = g_steal_pointer(&candidate);
            return 0;
        }
        if (!not_executable && access(candidate, F_OK) == 0)
            not_executable = g_steal_pointer(&candidate);
    }
    if (not_executable)
        return qv_error_set(err, -EACCES, "cannot execute %s: it is not an executable file",
                            not_executable);
    return qv_error_set(err, -ENOENT, "cannot find program %s in PATH (%s)", name, search_path);
}

static bool fd_is_open(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

static int check_opts(const qv_spawn_opts *o, qv_error **err)
{
    if (!o || !o->argv || !o->argv[0])
        return qv_error_set(err, -EINVAL, "cannot spawn a process without argv[0]");
    const char *prog = o->argv[0];
    const int std[3] = { o->stdin_fd, o->stdout_fd, o->stderr_fd };
    static const char *const std_names[3] = { "stdin", "stdout", "stderr" };
    for (int i = 0; i < 3; i++) {
        if (std[i] >= 0 && !fd_is_open(std[i]))
            return qv_error_set(err, -EBADF, "cannot spawn %s: %s fd %d is not open",
                                prog, std_names[i], std[i]);
        if (std[i] < -1)
            return qv_error_set(err, -EINVAL, "cannot spawn %s: %s fd %d is invalid",
                                prog, std_names[i], std[i]);
    }
    if (o->n_pass_fds > 0 && !o->pass_fds)
        return qv_error_set(err, -EINVAL, "cannot spawn %s: n_pass_fds is set but pass_fds is NULL",
                            prog);
    for (size_t i = 0; i < o->n_pass_fds; i++) {
        int fd = o->pass_fds[i];
        /* 0..2 belong to stdin_fd/stdout_fd/stderr_fd; passing them too would
         * make the result depend on the order of the dups. */
        if (fd < 3)
            return qv_error_set(err, -EINVAL,
                                "cannot spawn %s: pass fd %d collides with stdio (use stdin_fd/stdout_fd/stderr_fd)",
                                prog, fd);
        if (!fd_is_open(fd))
            return qv_error_set(err, -EBADF, "cannot spawn %s: pass fd %d is not open", prog, fd);
    }
    if (o->cgroup_fd >= 0 && !fd_is_open(o->cgroup_fd))
        return qv_error_set(err, -EBADF, "cannot spawn %s: cgroup fd %d is not open",
                            prog, o->cgroup_fd);
    if (o->cgroup_fd < -1)
        return qv_error_set(err, -EINVAL, "cannot spawn %s: cgroup fd %d is invalid",
                            prog, o->cgroup_fd);
    for (size_t i = 0; o->dev_mounts && o->dev_mounts[i]; i++) {
        const char *m = o->dev_mounts[i];
        if (!o->dev_staging || !*m || strchr(m, '/') || !strcmp(m, ".") || !strcmp(m, ".."))
            return qv_error_set(err, -EINVAL, "cannot spawn %s: '%s' is not a folder name below a private /dev",
                                prog, m);
    }
    return 0;
}

/* The highest capability number this kernel knows (CAP_LAST_CAP of the
 * headers when /proc does not say). */
static int cap_last(void)
{
    g_autofree char *s = NULL;
    if (g_file_get_contents("/proc/sys/kernel/cap_last_cap", &s, NULL, NULL)) {
        int n = atoi(s);
        if (n > 0 && n < 64)
            return n;
    }
    return CAP_LAST_CAP;
}

static const char *stage_what(int stage)
{
    switch (stage) {
    case STAGE_SIGNALS: return "cannot reset the signal mask";
    case STAGE_CGROUP: return "cannot move the process into its cgroup";
    case STAGE_SETSID: return "cannot start a new session";
    case STAGE_STDIO: return "cannot set up stdin/stdout/stderr";
    case STAGE_FDS: return "cannot set up the inherited file descriptors";
    case STAGE_CHDIR: return "cannot change directory";
    case STAGE_HOLD: return "the launcher gave up before it could run";
    case STAGE_CAPS: return "cannot drop its capabilities";
    case STAGE_USER: return "cannot switch to the user it is to run as";
    case STAGE_DEV: return "cannot set up its private /dev (a mount namespace)";
    default: return "cannot start the process";
    }
}

/* Forks; with a cgroup fd first tries clone3(CLONE_INTO_CGROUP), which also
 * gives the pidfd atomically. Returns the pid in the parent, 0 in the child,
 * -errno on failure. *by_clone says whether clone3 placed the child. */
static pid_t fork_child(int cgroup_fd, int *pidfd, bool *by_clone)
{
    *pidfd = -1;
    *by_clone = false;
    if (cgroup_fd >= 0) {
        int fd = -1;
        struct qv_clone_args args = {
            .flags = CLONE_PIDFD | CLONE_INTO_CGROUP,
            .pidfd = (uint64_t)(uintptr_t)&fd,
            .exit_signal = SIGCHLD,
            .cgroup = (uint64_t)cgroup_fd,
        };
        long pid = syscall(SYS_clone3, &args, sizeof(args));
        if (pid >= 0) {
            *by_clone = true;   /* in both processes: the child must not write cgroup.procs */
            *pidfd = fd;
            return (pid_t)pid;
        }
        /* ENOSYS/E2BIG (kernel < 5.7), EBADF (not a cgroup2 dir, e.g. a test
         * folder), EPERM (seccomp): fall back to fork and a write of "0" to
         * cgroup.procs in the child, whose error, if any, is reported. */
    }
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    return pid;
}

static int pidfd_open_or_none(pid_t pid)
{
    /* pidfd_open arrived in Linux 5.3; the fallback can go with older kernels. */
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -1;
    int flags = fcntl((int)fd, F_GETFD);   /* pidfds are always close-on-exec */
    if (flags >= 0 && !(flags & FD_CLOEXEC))
        (void)fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
    return (int)fd;
}

static void reap_blocking(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

int qv_process_spawn(const qv_spawn_opts *opts, qv_process **ret, qv_error **err)
{
    if (!ret)
        return qv_error_set(err, -EINVAL, "cannot spawn a process without a place for its handle");
    *ret = NULL;
    int r = check_opts(opts, err);
    if (r < 0)
        return r;

    const char *parent_path = g_getenv("PATH");
    if (!parent_path || !parent_path[0])
        parent_path = QV_DEFAULT_PATH;

    g_autofree char *path = NULL;
    r = resolve_program(opts->argv[0], parent_path, &path, err);
    if (r < 0)
        return r;

    g_autofree char *env_path = g_strconcat("PATH=", parent_path, NULL);
    char *clean_env[] = { (char *)"LC_ALL=C", env_path, NULL };
    char *const *envp = opts->envp ? (char *const *)opts->envp : clean_env;
    g_auto(GStrv) added_env = NULL;
    if (!opts->envp && opts->env_add && opts->env_add[0]) {
        added_env = g_strdupv(clean_env);
        for (const char *const *e = opts->env_add; *e; e++) {
            const char *eq = strchr(*e, '=');
            if (!eq || eq == *e)
                return qv_error_set(err, -EINVAL, "'%s' is not an environment NAME=VALUE", *e);
            g_autofree char *name = g_strndup(*e, (gsize)(eq - *e));
            added_env = g_environ_setenv(added_env, name, eq + 1, TRUE);
        }
        envp = added_env;
    }

    int devnull = -1;
    if (opts->stdin_fd < 0 || opts->stdout_fd < 0 || opts->stderr_fd < 0) {
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0)
            return qv_error_set_errno(err, -errno, "cannot open /dev/null");
    }

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        r = -errno;
        if (devnull >= 0)
            close(devnull);
        return qv_error_set_errno(err, r, "cannot create a pipe to start %s", path);
    }

    struct child_ctx c = {
        .path = path,
        .argv = (char *const *)opts->argv,
        .envp = envp,
        .pass_fds = opts->pass_fds,
        .n_pass_fds = opts->n_pass_fds,
        .std_fds = {
            opts->stdin_fd >= 0 ? opts->stdin_fd : devnull,
            opts->stdout_fd >= 0 ? opts->stdout_fd : devnull,
            opts->stderr_fd >= 0 ? opts->stderr_fd : devnull,
        },
        .new_session = opts->new_session,
        .cwd = opts->cwd,
        .cgroup_fd = opts->cgroup_fd,
        .report_fd = pipefd[1],
        .hold_fd = -1,
        .hold_wfd = -1,
        .uid = opts->uid,
        .gid = opts->gid,
        .groups = opts->groups,
        .n_groups = opts->n_groups,
        .drop_caps = opts->drop_caps,
        .cap_last = opts->drop_caps ? cap_last() : 0,
        .caller_is_root = geteuid() == 0,
        .dev_staging = opts->dev_staging,
        .devs = opts->devs,
        .n_devs = opts->n_devs,
    };
    /* The paths the child's /dev setup uses, built here (no malloc there). */
    g_auto(GStrv) dev_paths = NULL, dev_dirs = NULL;
    if (opts->dev_staging) {
        dev_paths = g_new0(char *, opts->n_devs + 1);
        GPtrArray *dirs = g_ptr_array_new();
        for (size_t i = 0; i < opts->n_devs; i++) {
            dev_paths[i] = g_build_filename(opts->dev_staging, opts->devs[i].name, NULL);
            g_autofree char *sub = g_path_get_dirname(opts->devs[i].name);
            if (strcmp(sub, "."))
                g_ptr_array_add(dirs, g_build_filename(opts->dev_staging, sub, NULL));
        }
        g_ptr_array_add(dirs, NULL);
        dev_dirs = (char **)g_ptr_array_free(dirs, FALSE);
        c.dev_paths = dev_paths;
        c.dev_dirs = dev_dirs;
    }
    g_auto(GStrv) mount_src = NULL, mount_dst = NULL;
    if (opts->dev_staging && opts->dev_mounts && opts->dev_mounts[0]) {
        guint n = g_strv_length((char **)opts->dev_mounts);
        mount_src = g_new0(char *, n + 1);
        mount_dst = g_new0(char *, n + 1);
        for (guint i = 0; i < n; i++) {
            mount_src[i] = g_build_filename("/dev", opts->dev_mounts[i], NULL);
            mount_dst[i] = g_build_filename(opts->dev_staging, opts->dev_mounts[i], NULL);
        }
        c.dev_mount_src = mount_src;
        c.dev_mount_dst = mount_dst;
    }
    int hold[2] = { -1, -1 };
    if (opts->before_exec) {
        if (pipe2(hold, O_CLOEXEC) < 0) {
            r = -errno;
            close(pipefd[0]);
            close(pipefd[1]);
            if (devnull >= 0)
                close(devnull);
            return qv_error_set_errno(err, r, "cannot create a pipe to start %s", path);
        }
        c.hold_fd = hold[0];
        c.hold_wfd = hold[1];
    }

    /* Block every signal across fork so the child cannot run one of the
     * caller's handlers before it has reset the dispositions. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);

    int pidfd = -1;
    bool by_clone = false;
    pid_t pid = fork_child(opts->cgroup_fd, &pidfd, &by_clone);
    if (pid == 0) {
        c.cgroup_by_clone = by_clone;
        child_run(&c);
    }
    int fork_errno = pid < 0 ? -pid : 0;

    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(pipefd[1]);
    if (devnull >= 0)
        close(devnull);
    if (hold[0] >= 0)
        close(hold[0]);

    if (pid < 0) {
        close(pipefd[0]);
        if (hold[1] >= 0)
            close(hold[1]);
        return qv_error_set_errno(err, -fork_errno, "cannot fork to start %s", path);
    }
    int hold_r = 0;
    if (hold[1] >= 0) {
        hold_r = opts->before_exec(pid, opts->before_exec_data);
        if (hold_r >= 0 && write(hold[1], "g", 1) != 1)
            hold_r = -errno;
        close(hold[1]);
    }

    /* EOF means exec succeeded (the close-on-exec write end went away). */
    struct child_report rep = { 0 };
    ssize_t n;
    do {
        n = read(pipefd[0], &rep, sizeof(rep));
    } while (n < 0 && errno == EINTR);
    int read_errno = n < 0 ? errno : 0;
    close(pipefd[0]);

    if (n != 0) {
        reap_blocking(pid);
        if (pidfd >= 0)
            close(pidfd);
        if (hold_r < 0)
            return qv_error_set_errno(err, hold_r, "cannot start %s: its launcher gave up", path);
        if (n < 0)
            return qv_error_set_errno(err, -read_errno, "cannot learn whether %s started", path);
        if (n != (ssize_t)sizeof(rep) || rep.err <= 0)
            return qv_error_set(err, -EIO, "cannot start %s: the child sent a malformed report", path);
        if (rep.stage == STAGE_EXEC)
            return qv_error_set_errno(err, -rep.err, "cannot execute %s", path);
        if (rep.stage == STAGE_CHDIR)
            return qv_error_set_errno(err, -rep.err, "cannot start %s: cannot change directory to %s",
                                      path, opts->cwd);
        return qv_error_set_errno(err, -rep.err, "cannot start %s: %s", path, stage_what(rep.stage));
    }

    if (pidfd < 0)
        pidfd = pidfd_open_or_none(pid);

    qv_process *p = g_new0(qv_process, 1);
    p->pid = pid;
    p->pidfd = pidfd;
    *ret = p;
    return 0;
}

pid_t qv_process_pid(const qv_process *p)
{
    return p ? p->pid : -1;
}

int qv_process_get_fd(const qv_process *p)
{
    return p ? p->pidfd : -1;
}

int qv_process_try_wait(qv_process *p, int *status, qv_error **err)
{
    if (!p)
        return qv_error_set(err, -EINVAL, "cannot wait for a NULL process");
    if (!p->reaped) {
        int st = 0;
        pid_t r;
        do {
            r = waitpid(p->pid, &st, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            int e = errno;
            if (e == ECHILD)
                return qv_error_set(err, -ECHILD,
                                    "cannot wait for process %d: it was reaped elsewhere or is not our child",
                                    (int)p->pid);
            return qv_error_set_errno(err, -e, "cannot wait for process %d", (int)p->pid);
        }
        if (r == 0)
            return 0;
        p->reaped = true;
        p->status = st;
        /* The pidfd stays open until free: the caller may have it in a poll
         * set, and closing it here would let its number be reused. */
    }
    if (status)
        *status = p->status;
    return 1;
}

int qv_process_wait(qv_process *p, int timeout_ms, int *status, qv_error **err)
{
    if (!p)
        return qv_error_set(err, -EINVAL, "cannot wait for a NULL process");
    int64_t deadline = timeout_ms >= 0 ? monotonic_ms() + timeout_ms : 0;

    for (;;) {
        int r = qv_process_try_wait(p, status, err);
        if (r != 0)
            return r < 0 ? r : 0;

        int remaining = -1;
        if (timeout_ms >= 0) {
            int64_t now = monotonic_ms();
            if (now >= deadline)
                return qv_error_set(err, -ETIMEDOUT, "process %d is still running after %d ms",
                                    (int)p->pid, timeout_ms);
            remaining = (int)MIN(deadline - now, (int64_t)INT_MAX);
        }

        if (p->pidfd >= 0) {
            struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
            if (poll(&pfd, 1, remaining) < 0 && errno != EINTR)
                return qv_error_set_errno(err, -errno, "cannot poll process %d", (int)p->pid);
        } else {
            /* No pidfd (kernel < 5.3): a short timer between waitpid polls. */
            int step = remaining < 0 ? QV_POLL_INTERVAL_MS : MIN(remaining, QV_POLL_INTERVAL_MS);
            (void)poll(NULL, 0, step);
        }
    }
}

int qv_process_signal(qv_process *p, int sig, qv_error **err)
{
    if (!p)
        return qv_error_set(err, -EINVAL, "cannot signal a NULL process");
    if (p->reaped)
        return qv_error_set(err, -ESRCH, "cannot send signal %d to process %d: it has exited",
                            sig, (int)p->pid);
    if (p->pidfd >= 0) {
        if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) == 0)
            return 0;
        if (errno != ENOSYS)
            return qv_error_set_errno(err, -errno, "cannot send signal %d to process %d",
                                      sig, (int)p->pid);
    }
    /* Not reaped yet, so the pid cannot have been reused. */
    if (kill(p->pid, sig) < 0)
        return qv_error_set_errno(err, -errno, "cannot send signal %d to process %d", sig, (int)p->pid);
    return 0;
}

int qv_process_terminate(qv_process *p, int grace_ms, int *status, qv_error **err)
{
    if (!p)
        return qv_error_set(err, -EINVAL, "cannot terminate a NULL process");
    if (grace_ms < 0)
        return qv_error_set(err, -EINVAL, "cannot terminate process %d: negative grace time %d ms",
                            (int)p->pid, grace_ms);
    int r = qv_process_try_wait(p, status, err);
    if (r != 0)
        return r < 0 ? r : 0;

    /* ESRCH here means it is a zombie already; the wait below reaps it. */
    if (p->pidfd >= 0)
        (void)syscall(SYS_pidfd_send_signal, p->pidfd, SIGTERM, NULL, 0);
    else
        (void)kill(p->pid, SIGTERM);

    g_autoptr(qv_error) local = NULL;
    r = qv_process_wait(p, grace_ms, status, &local);
    if (r == 0)
        return 0;
    if (r != -ETIMEDOUT)
        return qv_error_propagate(err, g_steal_pointer(&local));

    if (p->pidfd >= 0)
        (void)syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
    else
        (void)kill(p->pid, SIGKILL);
    g_clear_pointer(&local, qv_error_free);
    r = qv_process_wait(p, QV_KILL_WAIT_MS, status, &local);
    if (r == -ETIMEDOUT)
        return qv_error_set(err, -ETIMEDOUT, "process %d did not exit %d ms after SIGKILL",
                            (int)p->pid, QV_KILL_WAIT_MS);
    if (r < 0)
        return qv_error_propagate(err, g_steal_pointer(&local));
    return 0;
}

void qv_process_free(qv_process *p)
{
    if (!p)
        return;
    if (p->pidfd >= 0)
        close(p->pidfd);
    g_free(p);
}

/* /proc/PID/stat, or /proc/PID/task/TID/stat with tid > 0. comm (field 2)
 * may hold spaces and ')', so the fields are counted from the last ')'. */
int qv_proc_stat_read(pid_t pid, pid_t tid, qv_proc_stat *ret)
{
    *ret = (qv_proc_stat){ .processor = -1 };
    if (pid <= 0 || tid < 0)
        return -EINVAL;
    char file[64];
    int len = tid ? snprintf(file, sizeof(file), "/proc/%d/task/%d/stat", (int)pid, (int)tid)
                  : snprintf(file, sizeof(file), "/proc/%d/stat", (int)pid);
    if (len < 0 || (size_t)len >= sizeof(file))
        return -EINVAL;
    g_autofree char *buf = NULL;
    int r = qv_read_file(file, QV_PROC_STAT_MAX, &buf, NULL, NULL);
    if (r < 0)
        return r;
    const char *s = strrchr(buf, ')');
    if (!s || s[1] != ' ')
        return -EBADMSG;
    /* f[0] is field 3 (state), so field n is f[n - 3]. */
    g_auto(GStrv) f = g_strsplit(s + 2, " ", -1);
    guint n = g_strv_length(f);
    if (n < 22 - 2 || !f[0][0])
        return -EBADMSG;
    ret->state = f[0][0];
    ret->utime = g_ascii_strtoull(f[14 - 3], NULL, 10);
    ret->stime = g_ascii_strtoull(f[15 - 3], NULL, 10);
    char *end = NULL;
    errno = 0;
    ret->start_time = g_ascii_strtoull(f[22 - 3], &end, 10);
    if (errno || end == f[22 - 3])
        return -EBADMSG;
    if (n > 24 - 3) {
        long page = sysconf(_SC_PAGESIZE);
        ret->rss_kib = g_ascii_strtoull(f[24 - 3], NULL, 10) * (unsigned long long)(page > 0 ? page : 4096) / 1024;
    }
    if (n > 39 - 3)
        ret->processor = (int)g_ascii_strtoll(f[39 - 3], NULL, 10);
    return 0;
}

bool qv_proc_stat_exited(const qv_proc_stat *st)
{
    /* A zombie (Z) has exited; X (x on old kernels) is dead. */
    return st->state == 'Z' || st->state == 'X' || st->state == 'x';
}

unsigned long long qv_proc_ticks_to_ns(unsigned long long ticks)
{
    long hz = sysconf(_SC_CLK_TCK);
    return ticks * (1000000000ULL / (unsigned long long)(hz > 0 ? hz : 100));
}

unsigned long long qv_process_start_time(pid_t pid)
{
    qv_proc_stat st;
    return qv_proc_stat_read(pid, 0, &st) < 0 ? 0 : st.start_time;
}
