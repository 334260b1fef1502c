/* The cgroup v2 kernel behaviour qvirt's domain layout relies on, pinned on
 * the kernel scripts/cgroup2-vm boots (Debian's 6.1 on CI): a domain cgroup
 * `vm` whose children supervisor, emulator and vcpuN are threaded. If a
 * kernel changes one of these answers, this test says which.
 * Each test builds its own tree under /sys/fs/cgroup/kt-PID-NAME. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
/* How long the throttled thread spins to measure its share of a CPU. */
#define THROTTLE_MEASURE_SECONDS 2.0
/* Rounds of exit-then-rmdir, to catch a transient EBUSY. */
#define RMDIR_ROUNDS 20

static char base[128];

static void need_cgroup2_root(void)
{
    struct statfs st;
    if (statfs(CGROUP_ROOT, &st) != 0 || st.f_type != CGROUP2_SUPER_MAGIC)
        cr_skip_test("%s is not a cgroup2 mount: run this test through scripts/cgroup2-vm", CGROUP_ROOT);
}

/* Writes value to base/rel; returns 0 or -errno. */
static int put(const char *rel, const char *value)
{
    g_autofree char *p = g_build_filename(base, rel, NULL);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = write(fd, value, strlen(value)) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static int put_int(const char *rel, long v)
{
    char b[32];
    snprintf(b, sizeof b, "%ld", v);
    return put(rel, b);
}

/* base/rel's content without the trailing newline, or "E<errno>". */
static char *get(const char *rel)
{
    g_autofree char *p = g_build_filename(base, rel, NULL);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return g_strdup_printf("E%d", errno);
    char b[4096];
    ssize_t n = read(fd, b, sizeof b - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return g_strdup_printf("E%d", e);
    b[n] = 0;
    return g_strdup(g_strchomp(b));
}

static void mk(const char *rel)
{
    g_autofree char *p = g_build_filename(base, rel, NULL);
    cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %s", p, strerror(errno));
}

static int rm(const char *rel)
{
    g_autofree char *p = g_build_filename(base, rel, NULL);
    return rmdir(p) == 0 ? 0 : -errno;
}

static void mk_threaded(const char *rel)
{
    mk(rel);
    g_autofree char *t = g_strdup_printf("%s/cgroup.type", rel);
    cr_assert_eq(put(t, "threaded"), 0, "%s <- threaded", t);
}

/* base = /sys/fs/cgroup/kt-PID-NAME with the domain controllers enabled for
 * its children, and base/vm holding threaded supervisor, emulator, vcpu0 with
 * +cpu +cpuset +pids. */
static void make_vm(const char *name)
{
    need_cgroup2_root();
    snprintf(base, sizeof base, CGROUP_ROOT "/kt-%d-%s", (int)getpid(), name);
    cr_assert_eq(mkdir(base, 0755), 0, "mkdir %s: %s", base, strerror(errno));
    cr_assert_eq(put("cgroup.subtree_control", "+cpu +cpuset +pids +memory +io"), 0);
    mk("vm");
    mk_threaded("vm/supervisor");
    mk_threaded("vm/emulator");
    mk_threaded("vm/vcpu0");
    cr_assert_eq(put("vm/cgroup.subtree_control", "+cpu +cpuset +pids"), 0);
}

/* Writes "0" (the writer itself) to a cgroup.procs given by absolute path. */
static int move_self(const char *abs_procs)
{
    int fd = open(abs_procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = write(fd, "0", 1) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static pid_t tid_of_self(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* Q1: vm becomes "domain threaded"; only threaded controllers below it, and
 * the domain controllers' files of vm itself stay writable. */
Test(cgroup2_kernel, threaded_children_make_vm_a_threaded_domain)
{
    make_vm("q1");
    g_autofree char *type = get("vm/cgroup.type");
    cr_expect_str_eq(type, "domain threaded");
    g_autofree char *ctl = get("vm/cgroup.subtree_control");
    cr_expect_str_eq(ctl, "cpuset cpu pids");
    cr_expect_eq(put("vm/cgroup.subtree_control", "+memory"), -EOPNOTSUPP);
    cr_expect_eq(put("vm/cgroup.subtree_control", "+io"), -EOPNOTSUPP);
    cr_expect_eq(put("vm/memory.max", "536870912"), 0);
    cr_expect_eq(put("vm/io.weight", "default 200"), 0);
    cr_expect_eq(put("vm/cpu.max", "50000 100000"), 0);
    cr_expect_eq(put("vm/pids.max", "1000"), 0);
    /* The order matters: a child cannot turn threaded below a cgroup that
     * has a domain controller in subtree_control. */
    mk("vm2");
    cr_expect_eq(put("vm2/cgroup.subtree_control", "+memory"), 0);
    mk("vm2/t");
    cr_expect_eq(put("vm2/t/cgroup.type", "threaded"), -EOPNOTSUPP);
}

/* Q2: a whole process can start in, or be moved into, a threaded cgroup. */
Test(cgroup2_kernel, process_starts_in_a_threaded_cgroup)
{
    make_vm("q2");
    g_autofree char *dir = g_build_filename(base, "vm/emulator", NULL);
    int cfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(cfd, 0);
    struct clone_args ca = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)cfd };
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid == 0) {
        char b[256] = "";
        int fd = open("/proc/self/cgroup", O_RDONLY);
        ssize_t n = read(fd, b, sizeof b - 1);
        _exit(n > 0 && strstr(b, "/vm/emulator\n") ? 0 : 1);
    }
    close(cfd);
    cr_assert_gt(pid, 0, "clone3(CLONE_INTO_CGROUP vm/emulator): %s", strerror(errno));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child did not start in vm/emulator");

    /* A process of another domain: cgroup.procs works, cgroup.threads not. */
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pid = fork();
    if (pid == 0) {
        char c;
        close(p[1]);
        _exit(read(p[0], &c, 1) < 0);
    }
    close(p[0]);
    cr_expect_eq(put_int("vm/emulator/cgroup.threads", pid), -EOPNOTSUPP);
    cr_expect_eq(put_int("vm/emulator/cgroup.procs", pid), 0);
    g_autofree char *threads = get("vm/emulator/cgroup.threads");
    g_autofree char *want = g_strdup_printf("%ld", pid);
    cr_expect_str_eq(threads, want);
    /* Reading cgroup.procs of a threaded cgroup is not supported; the
     * process is listed in the threaded domain's. */
    g_autofree char *procs = get("vm/emulator/cgroup.procs");
    g_autofree char *eopnotsupp = g_strdup_printf("E%d", EOPNOTSUPP);
    cr_expect_str_eq(procs, eopnotsupp);
    g_autofree char *vm_procs = get("vm/cgroup.procs");
    cr_expect_str_eq(vm_procs, want);
    close(p[1]);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
}

static atomic_int spinner_tid;
static atomic_int spinner_go;
static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
/* Spins for THROTTLE_MEASURE_SECONDS once told to; returns its CPU share. */
static void *spin(void *arg)
{
    double *share = arg;
    spinner_tid = tid_of_self();
    while (!spinner_go) {
    }
    double c0 = thread_cpu_seconds(), w0 = monotonic_seconds(), w;
    while ((w = monotonic_seconds()) - w0 < THROTTLE_MEASURE_SECONDS) {
    }
    *share = (thread_cpu_seconds() - c0) / (w - w0);
    return NULL;
}

/* Q3: threads move between the threaded children of their domain, and
 * cpu.max of the child throttles them. */
Test(cgroup2_kernel, threads_move_and_cpu_max_throttles_them)
{
    make_vm("q3");
    cr_assert_eq(put_int("vm/cgroup.procs", getpid()), 0);
    pthread_t t;
    double share = -1;
    cr_assert_eq(pthread_create(&t, NULL, spin, &share), 0);
    while (!spinner_tid) {
    }
    int tid = spinner_tid;
    cr_expect_eq(put_int("vm/emulator/cgroup.threads", tid_of_self()), 0);
    cr_expect_eq(put_int("vm/emulator/cgroup.threads", tid), 0);
    cr_expect_eq(put_int("vm/vcpu0/cgroup.threads", tid), 0);
    g_autofree char *vcpu = get("vm/vcpu0/cgroup.threads");
    g_autofree char *want = g_strdup_printf("%d", tid);
    cr_expect_str_eq(vcpu, want);
    cr_expect_eq(put_int("vm/emulator/cgroup.threads", tid), 0);
    cr_expect_eq(put_int("vm/vcpu0/cgroup.threads", tid), 0);

    cr_assert_eq(put("vm/vcpu0/cpu.max", "10000 100000"), 0);
    spinner_go = 1;
    pthread_join(t, NULL);
    g_autofree char *stat = get("vm/vcpu0/cpu.stat");
    cr_expect(strstr(stat, "nr_throttled 0\n") == NULL, "never throttled: %s", stat);
    /* About 10% measured; the bound leaves room for a loaded machine. */
    cr_expect(share > 0 && share < 0.25, "a spinner under cpu.max 10000 100000 used %.1f%% of a CPU", 100 * share);
}

/* Q4: a process in vm/supervisor leaves for the root (allowed with the
 * root's controllers enabled) but not for an inner cgroup with controllers
 * in subtree_control (EBUSY); then the tree goes. */
Test(cgroup2_kernel, supervisor_leaves_for_the_root_then_vm_goes)
{
    make_vm("q4");
    g_autofree char *root_ctl = g_strdup(CGROUP_ROOT "/cgroup.subtree_control");
    g_autofree char *root_on = NULL;
    cr_assert(g_file_get_contents(root_ctl, &root_on, NULL, NULL));
    cr_assert(strstr(root_on, "cpu"), "the root has no controllers enabled: '%s'", root_on);
    g_autofree char *sup = g_build_filename(base, "vm/supervisor/cgroup.procs", NULL);
    g_autofree char *inner = g_build_filename(base, "cgroup.procs", NULL);
    cr_assert_eq(move_self(sup), 0);
    cr_expect_eq(move_self(inner), -EBUSY);
    cr_expect_eq(rm("vm/supervisor"), -EBUSY);
    cr_assert_eq(move_self(CGROUP_ROOT "/cgroup.procs"), 0);
    cr_expect_eq(rm("vm/supervisor"), 0);
    cr_expect_eq(rm("vm/emulator"), 0);
    cr_expect_eq(rm("vm/vcpu0"), 0);
    cr_expect_eq(rm("vm"), 0);
    cr_expect_eq(rmdir(base), 0);
}

/* Q5: once the last task of a threaded child has exited, rmdir works at
 * once, even before the parent reaps the zombie. */
Test(cgroup2_kernel, rmdir_right_after_exit)
{
    make_vm("q5");
    int busy = 0;
    for (int i = 0; i < RMDIR_ROUNDS; i++) {
        g_autofree char *rel = g_strdup_printf("vm/t%d", i);
        mk_threaded(rel);
        g_autofree char *procs = g_strdup_printf("%s/%s/cgroup.procs", base, rel);
        pid_t pid = fork();
        if (pid == 0)
            _exit(move_self(procs) == 0 ? 0 : 1);
        siginfo_t si = { 0 };
        cr_assert_eq(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
        cr_assert_eq(si.si_status, 0, "the child could not enter %s", rel);
        if (rm(rel) != 0)
            busy++;
        waitpid(pid, NULL, 0);
        if (busy)
            rm(rel);
    }
    cr_expect_eq(busy, 0, "rmdir failed %d of %d times right after the exit", busy, RMDIR_ROUNDS);
}

/* Q6: cpuset.cpus and cpuset.mems are writable in a threaded child; a CPU
 * that does not exist is ERANGE (not EINVAL), a node that does not exist
 * EINVAL. */
Test(cgroup2_kernel, cpuset_in_a_threaded_child)
{
    make_vm("q6");
    cr_expect_eq(put("vm/vcpu0/cpuset.cpus", "0"), 0);
    g_autofree char *eff = get("vm/vcpu0/cpuset.cpus.effective");
    cr_expect_str_eq(eff, "0");
    cr_expect_eq(put("vm/vcpu0/cpuset.mems", "0"), 0);
    cr_expect_eq(put("vm/vcpu0/cpuset.cpus", "4095"), -ERANGE);
    cr_expect_eq(put("vm/vcpu0/cpuset.mems", "63"), -EINVAL);
    /* A lone newline clears the request: the parent's CPUs again. (An empty
     * write(2) reaches no handler and changes nothing.) */
    cr_expect_eq(put("vm/vcpu0/cpuset.cpus", "\n"), 0);
    g_autofree char *cleared = get("vm/vcpu0/cpuset.cpus");
    cr_expect_str_eq(cleared, "");
    g_autofree char *back = get("vm/vcpu0/cpuset.cpus.effective");
    g_autofree char *parent = get("vm/cpuset.cpus.effective");
    cr_expect_str_eq(back, parent);
}
