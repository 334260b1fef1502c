/* Runs inside scripts/cgroup2-vm (see tests/cgroup2/meson.build): checks that
 * the guest gives what the cgroup v2 tests rely on, a real cgroup2 root with
 * the controllers enabled and a QEMU that answers QMP. Outside the guest,
 * where cgroup2 is not the hierarchy at /sys/fs/cgroup, it skips. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
/* QEMU under TCG inside a TCG guest takes seconds to start on a busy machine. */
#define QMP_REPLY_TIMEOUT_MS 120000

static void need_cgroup2_root(void)
{
    struct statfs st;
    if (statfs(CGROUP_ROOT, &st) != 0 || st.f_type != CGROUP2_SUPER_MAGIC)
        cr_skip_test("%s is not a cgroup2 mount: run this test through scripts/cgroup2-vm", CGROUP_ROOT);
}

static char *read_trimmed(const char *path)
{
    char *c = NULL;
    g_autoptr(GError) error = NULL;
    cr_assert(g_file_get_contents(path, &c, NULL, &error), "%s", error ? error->message : path);
    return g_strstrip(c);
}

static void write_file(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    ssize_t n = write(fd, value, strlen(value));
    int e = errno;
    close(fd);
    cr_assert_eq(n, (ssize_t)strlen(value), "write '%s' to %s: %s", value, path, strerror(e));
}

Test(cgroup2, root_lists_the_controllers)
{
    need_cgroup2_root();
    g_autofree char *ctrls = read_trimmed(CGROUP_ROOT "/cgroup.controllers");
    g_auto(GStrv) words = g_strsplit(ctrls, " ", -1);
    const char *wanted[] = { "cpu", "memory", "io", "cpuset" };
    for (size_t i = 0; i < G_N_ELEMENTS(wanted); i++)
        cr_expect(g_strv_contains((const char *const *)words, wanted[i]),
                  "cgroup.controllers '%s' lacks %s", ctrls, wanted[i]);
}

Test(cgroup2, child_takes_cpu_and_memory_limits)
{
    need_cgroup2_root();
    g_autofree char *child = g_strdup_printf(CGROUP_ROOT "/smoke-%d", (int)getpid());
    g_autofree char *sub = g_build_filename(child, "leaf", NULL);
    cr_assert_eq(mkdir(child, 0755), 0, "mkdir %s: %s", child, strerror(errno));
    g_autofree char *ctl = g_build_filename(child, "cgroup.subtree_control", NULL);
    write_file(ctl, "+cpu +memory +io +cpuset +pids");
    cr_assert_eq(mkdir(sub, 0755), 0, "mkdir %s: %s", sub, strerror(errno));

    g_autofree char *cpu_max = g_build_filename(sub, "cpu.max", NULL);
    write_file(cpu_max, "50000 100000");
    g_autofree char *cpu_got = read_trimmed(cpu_max);
    cr_expect_str_eq(cpu_got, "50000 100000");

    g_autofree char *mem_max = g_build_filename(sub, "memory.max", NULL);
    write_file(mem_max, "268435456");
    g_autofree char *mem_got = read_trimmed(mem_max);
    cr_expect_str_eq(mem_got, "268435456");

    cr_assert_eq(rmdir(sub), 0, "rmdir %s: %s", sub, strerror(errno));
    cr_assert_eq(rmdir(child), 0, "rmdir %s: %s", child, strerror(errno));
}

static gint64 deadline_after_ms(int ms)
{
    return g_get_monotonic_time() / 1000 + ms;
}

/* Reads from fd into buf until a line holding `needle` arrives or the
 * deadline passes; returns whether it arrived. */
static bool read_until(int fd, GString *buf, const char *needle, gint64 deadline_ms)
{
    while (!strstr(buf->str, needle)) {
        gint64 left = deadline_ms - g_get_monotonic_time() / 1000;
        if (left <= 0)
            return false;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0)
            return false;
        g_string_append_len(buf, chunk, n);
    }
    return true;
}

Test(cgroup2, qemu_answers_qmp_in_the_guest)
{
    need_cgroup2_root();
    g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
    if (!qemu)
        cr_skip_test("qemu-system-x86_64 is not installed");
    char *argv[] = { qemu, "-machine", "none", "-nodefaults", "-display", "none",
                     "-qmp", "stdio", NULL };
    GPid pid;
    int in_fd, out_fd;
    g_autoptr(GError) error = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                       &pid, &in_fd, &out_fd, NULL, &error),
              "%s", error ? error->message : "spawn failed");
    g_autoptr(GString) buf = g_string_new(NULL);
    bool greeted = read_until(out_fd, buf, "\"QMP\"", deadline_after_ms(QMP_REPLY_TIMEOUT_MS));
    bool answered = false;
    if (greeted) {
        g_string_truncate(buf, 0);
        const char cmd[] = "{\"execute\":\"qmp_capabilities\"}\n";
        answered = write(in_fd, cmd, sizeof cmd - 1) == (ssize_t)(sizeof cmd - 1)
                   && read_until(out_fd, buf, "\"return\"", deadline_after_ms(QMP_REPLY_TIMEOUT_MS));
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(in_fd);
    close(out_fd);
    cr_assert(greeted, "no QMP greeting from QEMU; got '%s'", buf->str);
    cr_assert(answered, "no reply to qmp_capabilities; got '%s'", buf->str);
}
