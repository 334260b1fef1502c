/* Unit tests for cgroups/: a temp folder laid out like cgroup v2, plus the
 * real cgroup2 hierarchy where this machine allows it. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cgroup.h"

static char *make_root(void)
{
    char *dir = g_dir_make_tmp("qv-cgroup-XXXXXX", NULL);
    cr_assert_not_null(dir);
    return dir;
}

static void put(const char *dir, const char *file, const char *content)
{
    g_autofree char *p = g_build_filename(dir, file, NULL);
    cr_assert(g_file_set_contents(p, content, -1, NULL), "cannot write %s", p);
}

static char *get(const char *dir, const char *file)
{
    g_autofree char *p = g_build_filename(dir, file, NULL);
    char *c = NULL;
    cr_assert(g_file_get_contents(p, &c, NULL, NULL), "cannot read %s", p);
    return c;
}

static void rm_root(const char *root)
{
    /* The root itself is a plain folder: remove its content, then it. */
    g_autoptr(GDir) d = g_dir_open(root, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(root, n, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR))
            cr_assert_eq(qv_cgroup_remove(root, n, NULL), 0);
        else
            g_unlink(p);
    }
    g_rmdir(root);
}

Test(cgroup, open_creates_nested_path)
{
    g_autofree char *root = make_root();
    int fd = -1;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_open(root, "qvirt/vm1/emulator", true, &fd, &err), 0,
                 "%s", err ? err->message : "");
    cr_assert_geq(fd, 0);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    g_autofree char *p = g_build_filename(root, "qvirt/vm1/emulator", NULL);
    cr_assert(g_file_test(p, G_FILE_TEST_IS_DIR));
    close(fd);

    /* Opening again without create works; leading/double slashes are fine. */
    cr_assert_eq(qv_cgroup_open(root, "/qvirt//vm1/", false, &fd, &err), 0);
    close(fd);
    /* NULL path is the root itself. */
    cr_assert_eq(qv_cgroup_open(root, NULL, false, &fd, &err), 0);
    close(fd);
    rm_root(root);
}

Test(cgroup, open_missing_without_create)
{
    g_autofree char *root = make_root();
    int fd = 7;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_open(root, "nope/deeper", false, &fd, &err), -ENOENT);
    cr_assert_eq(fd, -1);
    g_autofree char *expected = g_strdup_printf("cgroup %s/nope does not exist", root);
    cr_assert_str_eq(err->message, expected);
    rm_root(root);
}

Test(cgroup, open_refuses_dotdot)
{
    g_autofree char *root = make_root();
    int fd = -1;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_open(root, "a/../../etc", true, &fd, &err), -EINVAL);
    cr_assert(strstr(err->message, ".."), "%s", err->message);
    g_autofree char *a = g_build_filename(root, "a", NULL);
    cr_assert_not(g_file_test(a, G_FILE_TEST_EXISTS), "nothing may be created before refusing");
    rm_root(root);
}

Test(cgroup, open_missing_root)
{
    int fd = -1;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_open("/nonexistent-qv-root", "x", true, &fd, &err), -ENOENT);
    cr_assert(strstr(err->message, "/nonexistent-qv-root"), "%s", err->message);
}

Test(cgroup, write_and_read_roundtrip)
{
    g_autofree char *root = make_root();
    int fd = -1;
    cr_assert_eq(qv_cgroup_open(root, "vm", true, &fd, NULL), 0);
    g_autofree char *vm = g_build_filename(root, "vm", NULL);
    put(vm, "cgroup.controllers", "cpu io memory\n");
    put(vm, "cpu.weight", "100\n");

    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_write(fd, "cpu.weight", "50", &err), 0, "%s", err ? err->message : "");
    g_autofree char *raw = get(vm, "cpu.weight");
    cr_assert_str_eq(raw, "50");   /* replaced, not overlaid on "100\n" */

    put(vm, "memory.max", "max\n");
    g_autofree char *v = NULL;
    cr_assert_eq(qv_cgroup_read(fd, "memory.max", &v, &err), 0);
    cr_assert_str_eq(v, "max");
    close(fd);
    rm_root(root);
}

Test(cgroup, write_names_the_missing_controller)
{
    g_autofree char *root = make_root();
    int fd = -1;
    cr_assert_eq(qv_cgroup_open(root, "vm", true, &fd, NULL), 0);
    g_autofree char *vm = g_build_filename(root, "vm", NULL);
    put(vm, "cgroup.controllers", "memory pids\n");
    put(vm, "cgroup.type", "domain\n");
    put(root, "cgroup.controllers", "cpu memory pids\n");

    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_write(fd, "cpu.weight", "50", &err), -ENOENT);
    g_autofree char *expected = g_strdup_printf(
        "cannot write cpu.weight in %s: the cpu controller is not enabled for this cgroup "
        "(write +cpu to cgroup.subtree_control of its parent)", vm);
    cr_assert_str_eq(err->message, expected);

    /* Reads get the same diagnosis. */
    g_clear_pointer(&err, qv_error_free);
    g_autofree char *v = NULL;
    cr_assert_eq(qv_cgroup_read(fd, "io.max", &v, &err), -ENOENT);
    /* ...and where the hierarchy itself lacks the controller, say so. */
    cr_assert(strstr(err->message, "the io controller is not available in the cgroup v2 "
                     "hierarchy at"), "%s", err->message);

    /* The controller is there but the file is not: a plain errno message. */
    g_clear_pointer(&err, qv_error_free);
    cr_assert_eq(qv_cgroup_write(fd, "memory.bogus", "1", &err), -ENOENT);
    g_autofree char *plain = g_strdup_printf("cannot write memory.bogus in %s: No such file or directory", vm);
    cr_assert_str_eq(err->message, plain);

    /* Core files are never blamed on a controller. */
    g_clear_pointer(&err, qv_error_free);
    cr_assert_eq(qv_cgroup_write(fd, "cgroup.procs", "1", &err), -ENOENT);
    cr_assert_null(strstr(err->message, "controller"), "%s", err->message);
    close(fd);
    rm_root(root);
}

Test(cgroup, write_rejects_bad_file_names)
{
    g_autofree char *root = make_root();
    int fd = -1;
    cr_assert_eq(qv_cgroup_open(root, NULL, false, &fd, NULL), 0);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_write(fd, "../escape", "1", &err), -EINVAL);
    g_clear_pointer(&err, qv_error_free);
    cr_assert_eq(qv_cgroup_write(fd, "", "1", &err), -EINVAL);
    g_clear_pointer(&err, qv_error_free);
    cr_assert_eq(qv_cgroup_write(-1, "cpu.weight", "1", &err), -EINVAL);
    close(fd);
    rm_root(root);
}

Test(cgroup, enable_controllers)
{
    g_autofree char *root = make_root();
    put(root, "cgroup.controllers", "cpu io memory pids\n");
    put(root, "cgroup.subtree_control", "");
    int fd = -1;
    cr_assert_eq(qv_cgroup_open(root, NULL, false, &fd, NULL), 0);
    const char *want[] = { "cpu", "io", NULL };
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_enable_controllers(fd, want, &err), 0, "%s", err ? err->message : "");
    g_autofree char *sc = get(root, "cgroup.subtree_control");
    cr_assert_str_eq(sc, "+cpu +io");

    /* Empty list: nothing to do. */
    const char *none[] = { NULL };
    cr_assert_eq(qv_cgroup_enable_controllers(fd, none, &err), 0);

    /* Names that would smuggle other tokens are refused. */
    const char *bad[] = { "cpu -memory", NULL };
    cr_assert_eq(qv_cgroup_enable_controllers(fd, bad, &err), -EINVAL);
    close(fd);
    rm_root(root);
}

Test(cgroup, enable_controllers_names_the_unavailable_one)
{
    g_autofree char *root = make_root();
    put(root, "cgroup.controllers", "cpu io\n");
    /* No cgroup.subtree_control: the write fails with ENOENT, as the kernel does. */
    int fd = -1;
    cr_assert_eq(qv_cgroup_open(root, NULL, false, &fd, NULL), 0);
    const char *want[] = { "cpu", "pids", NULL };
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_enable_controllers(fd, want, &err), -ENOENT);
    g_autofree char *expected = g_strdup_printf(
        "cannot enable the pids controller in %s: it is not available there (available: cpu io)", root);
    cr_assert_str_eq(err->message, expected);
    close(fd);
    rm_root(root);
}

Test(cgroup, add_pid)
{
    g_autofree char *root = make_root();
    put(root, "cgroup.procs", "");
    int fd = -1;
    cr_assert_eq(qv_cgroup_open(root, NULL, false, &fd, NULL), 0);
    cr_assert_eq(qv_cgroup_add_pid(fd, 1234, NULL), 0);
    g_autofree char *c = get(root, "cgroup.procs");
    cr_assert_str_eq(c, "1234");
    close(fd);
    rm_root(root);
}

Test(cgroup, remove_tree_and_missing_is_ok)
{
    g_autofree char *root = make_root();
    int fd = -1;
    cr_assert_eq(qv_cgroup_open(root, "qvirt/vm1/vcpu0", true, &fd, NULL), 0);
    close(fd);
    cr_assert_eq(qv_cgroup_open(root, "qvirt/vm1/emulator", true, &fd, NULL), 0);
    close(fd);
    g_autofree char *vm1 = g_build_filename(root, "qvirt/vm1", NULL);
    put(vm1, "cgroup.procs", "");
    g_autofree char *vcpu = g_build_filename(vm1, "vcpu0", NULL);
    put(vcpu, "cpu.weight", "100");

    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_remove(root, "qvirt/vm1", &err), 0, "%s", err ? err->message : "");
    cr_assert_not(g_file_test(vm1, G_FILE_TEST_EXISTS));
    g_autofree char *qvirt = g_build_filename(root, "qvirt", NULL);
    cr_assert(g_file_test(qvirt, G_FILE_TEST_IS_DIR), "the parent stays");

    cr_assert_eq(qv_cgroup_remove(root, "qvirt/vm1", &err), 0, "a missing cgroup counts as removed");
    cr_assert_eq(qv_cgroup_remove(root, "gone/deep", &err), 0);
    cr_assert_eq(qv_cgroup_remove(root, "/", &err), -EINVAL);
    rm_root(root);
}

Test(cgroup, find_v2_mount_from_mountinfo)
{
    g_autofree char *root = make_root();
    put(root, "mountinfo",
        "23 1 0:21 / /proc rw,nosuid - proc proc rw\n"
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "41 31 0:38 / /sys/fs/cgroup/uni\\040fied rw,relatime shared:9 - cgroup2 cgroup2 rw\n");
    g_autofree char *mi = g_build_filename(root, "mountinfo", NULL);
    g_autofree char *mnt = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_find_v2_mount(mi, &mnt, &err), 0, "%s", err ? err->message : "");
    cr_assert_str_eq(mnt, "/sys/fs/cgroup/uni fied");

    put(root, "mountinfo", "23 1 0:21 / /proc rw,nosuid - proc proc rw\n");
    g_autofree char *none = NULL;
    cr_assert_eq(qv_cgroup_find_v2_mount(mi, &none, &err), -ENOENT);
    rm_root(root);
}

Test(cgroup, get_path_of_self)
{
    g_autofree char *path = NULL;
    g_autoptr(qv_error) err = NULL;
    int r = qv_cgroup_get_path(0, &path, &err);
    if (r == -ENOENT)
        cr_skip_test("this process is in no cgroup v2 hierarchy: %s", err->message);
    cr_assert_eq(r, 0, "%s", err ? err->message : "");
    cr_assert_eq(path[0], '/', "%s", path);
    g_autofree char *again = NULL;
    cr_assert_eq(qv_cgroup_get_path(getpid(), &again, NULL), 0);
    cr_assert_str_eq(again, path);
}

/* Opens a fresh test cgroup under our own cgroup in the real hierarchy, or skips. */
static int open_real_test_cgroup(char **mnt_out, char **rel_out)
{
    g_autofree char *mnt = NULL;
    g_autofree char *self = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_cgroup_find_v2_mount(NULL, &mnt, &err) < 0)
        cr_skip_test("%s", err->message);
    if (qv_cgroup_get_path(0, &self, &err) < 0)
        cr_skip_test("%s", err->message);
    g_autofree char *rel = g_strdup_printf("%s/qv-test-cgroup-%d", strcmp(self, "/") == 0 ? "" : self,
                                           (int)getpid());
    int fd = -1;
    if (qv_cgroup_open(mnt, rel, true, &fd, &err) < 0)
        cr_skip_test("cannot create a test cgroup: %s", err->message);
    *mnt_out = g_steal_pointer(&mnt);
    *rel_out = g_steal_pointer(&rel);
    return fd;
}

static bool has_word(const char *list, const char *word)
{
    g_auto(GStrv) w = g_strsplit_set(list, " \n", -1);
    return g_strv_contains((const char *const *)w, word);
}

Test(cgroup, real_hierarchy_diagnosis_membership_and_busy_remove)
{
    g_autofree char *mnt = NULL, *rel = NULL;
    int fd = open_real_test_cgroup(&mnt, &rel);
    g_autofree char *controllers = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_read(fd, "cgroup.controllers", &controllers, &err), 0);
    g_autofree char *shown = g_build_filename(mnt, rel, NULL);

    g_autofree char *root_ctrl = NULL;
    g_autofree char *root_file = g_build_filename(mnt, "cgroup.controllers", NULL);
    g_file_get_contents(root_file, &root_ctrl, NULL, NULL);
    if (!has_word(controllers, "cpu")) {
        /* The kernel's own answer must be turned into the controller
         * sentence: not enabled here, or (a hybrid host) not in the
         * hierarchy at all. */
        cr_assert_eq(qv_cgroup_write(fd, "cpu.weight", "50", &err), -ENOENT);
        g_autofree char *expected =
            root_ctrl && !has_word(root_ctrl, "cpu")
                ? g_strdup_printf("cannot write cpu.weight in %s: the cpu controller is not "
                                  "available in the cgroup v2 hierarchy at %s (the host binds it "
                                  "to cgroup v1, or the kernel lacks it)", shown, mnt)
                : g_strdup_printf("cannot write cpu.weight in %s: the cpu controller is not "
                                  "enabled for this cgroup (write +cpu to cgroup.subtree_control "
                                  "of its parent)", shown);
        cr_assert_str_eq(err->message, expected);
        g_clear_pointer(&err, qv_error_free);
    } else {
        cr_assert_eq(qv_cgroup_write(fd, "cpu.weight", "50", &err), 0, "%s", err ? err->message : "");
        g_autofree char *w = NULL;
        cr_assert_eq(qv_cgroup_read(fd, "cpu.weight", &w, &err), 0);
        cr_assert_str_eq(w, "50");
    }

    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    cr_assert_eq(qv_cgroup_add_pid(fd, child, &err), 0, "%s", err ? err->message : "");
    g_autofree char *procs = NULL;
    cr_assert_eq(qv_cgroup_read(fd, "cgroup.procs", &procs, &err), 0);
    g_autofree char *pidstr = g_strdup_printf("%d", (int)child);
    cr_assert(has_word(procs, pidstr), "cgroup.procs: %s", procs);
    g_autofree char *cpath = NULL;
    cr_assert_eq(qv_cgroup_get_path(child, &cpath, &err), 0);
    cr_assert_str_eq(cpath, rel);

    cr_assert_eq(qv_cgroup_remove(mnt, rel, &err), -EBUSY);
    g_autofree char *busy = g_strdup_printf("cannot remove cgroup %s: processes are still inside it", shown);
    cr_assert_str_eq(err->message, busy);
    g_clear_pointer(&err, qv_error_free);

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(fd);
    cr_assert_eq(qv_cgroup_remove(mnt, rel, &err), 0, "%s", err ? err->message : "");
    cr_assert_not(g_file_test(shown, G_FILE_TEST_EXISTS));
}

Test(cgroup, real_hierarchy_enable_controllers)
{
    g_autofree char *mnt = NULL, *rel = NULL;
    int fd = open_real_test_cgroup(&mnt, &rel);
    g_autofree char *controllers = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_read(fd, "cgroup.controllers", &controllers, &err), 0);
    g_strstrip(controllers);
    if (!controllers[0]) {
        close(fd);
        cr_assert_eq(qv_cgroup_remove(mnt, rel, NULL), 0);
        cr_skip_test("no controllers are delegated to the cgroup v2 hierarchy at %s (cgroup.controllers of a new cgroup is empty)",
                     mnt);
    }
    g_auto(GStrv) avail = g_strsplit(controllers, " ", -1);
    const char *want[] = { avail[0], NULL };
    cr_assert_eq(qv_cgroup_enable_controllers(fd, want, &err), 0, "%s", err ? err->message : "");
    int sub = -1;
    cr_assert_eq(qv_cgroup_open(mnt, rel, false, &sub, NULL), 0);
    close(sub);
    g_autofree char *childrel = g_strdup_printf("%s/leaf", rel);
    cr_assert_eq(qv_cgroup_open(mnt, childrel, true, &sub, &err), 0);
    g_autofree char *leaf_ctrls = NULL;
    cr_assert_eq(qv_cgroup_read(sub, "cgroup.controllers", &leaf_ctrls, &err), 0);
    cr_assert(has_word(leaf_ctrls, avail[0]), "leaf controllers: %s", leaf_ctrls);
    close(sub);
    close(fd);
    cr_assert_eq(qv_cgroup_remove(mnt, rel, &err), 0, "%s", err ? err->message : "");
}

/* ---- values of interface files ---------------------------------------------------- */

Test(cgroup, cpu_max_round_trips)
{
    g_autofree char *a = qv_cgroup_cpu_max_format(-1, 100000);
    g_autofree char *b = qv_cgroup_cpu_max_format(25000, 50000);
    cr_assert_str_eq(a, "max 100000");
    cr_assert_str_eq(b, "25000 50000");
    long long q;
    unsigned long long p;
    cr_assert_eq(qv_cgroup_cpu_max_parse("max 100000", &q, &p, NULL), 0);
    cr_assert_eq(q, -1);
    cr_assert_eq(p, 100000);
    cr_assert_eq(qv_cgroup_cpu_max_parse("25000 50000\n", &q, &p, NULL), 0);
    cr_assert_eq(q, 25000);
    cr_assert_eq(p, 50000);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_cpu_max_parse("lots", &q, &p, &err), -EINVAL);
    cr_assert_str_eq(err->message, "cannot parse cpu.max 'lots': expected 'QUOTA PERIOD'");
}

Test(cgroup, bytes_and_max)
{
    unsigned long long v;
    cr_assert_eq(qv_cgroup_bytes_parse("max", &v, NULL), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(qv_cgroup_bytes_parse("4096", &v, NULL), 0);
    cr_assert_eq(v, 4096);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_cgroup_bytes_parse("-1", &v, &err), -EINVAL);
    cr_assert_str_eq(err->message, "cannot parse '-1' as a byte count or 'max'");
    g_autofree char *m = qv_cgroup_bytes_format(UINT64_MAX), *n = qv_cgroup_bytes_format(1024);
    cr_assert_str_eq(m, "max");
    cr_assert_str_eq(n, "1024");
}

Test(cgroup, keyed_files)
{
    const char *stat = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n";
    unsigned long long v;
    cr_assert_eq(qv_cgroup_keyed_value(stat, "user_usec", &v), 0);
    cr_assert_eq(v, 1000);
    cr_assert_eq(qv_cgroup_keyed_value(stat, "nr_periods", &v), -ENOENT);
    const char *iomax = "8:0 rbps=1048576 wbps=max riops=max wiops=100\n8:16 rbps=2 wbps=max riops=max wiops=max\n";
    g_autofree char *line = qv_cgroup_keyed_line(iomax, "8:16");
    cr_assert_str_eq(line, "rbps=2 wbps=max riops=max wiops=max");
    g_autofree char *first = qv_cgroup_keyed_line(iomax, "8:0");
    cr_assert_eq(qv_cgroup_keyed_value(first, "wbps", &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(qv_cgroup_keyed_value(first, "wiops", &v), 0);
    cr_assert_eq(v, 100);
    cr_assert_null(qv_cgroup_keyed_line(iomax, "8:1"));
    g_autofree char *w = qv_cgroup_keyed_line("default 100\n8:0 300\n", "default");
    cr_assert_str_eq(w, "100");
}

Test(cgroup, threaded_children_and_threads)
{
    g_autofree char *root = make_root();
    int fd = -1;
    cr_assert_eq(qv_cgroup_open(root, "vm/vcpu0", true, &fd, NULL), 0);
    g_autofree char *dir = g_build_filename(root, "vm", "vcpu0", NULL);
    put(dir, "cgroup.type", "domain\n");
    put(dir, "cgroup.threads", "");
    cr_assert_eq(qv_cgroup_make_threaded(fd, NULL), 0);
    cr_assert_eq(qv_cgroup_add_thread(fd, 4242, NULL), 0);
    g_autofree char *type = get(dir, "cgroup.type"), *threads = get(dir, "cgroup.threads");
    cr_assert_str_eq(type, "threaded");
    cr_assert_str_eq(threads, "4242");
    put(dir, "cgroup.controllers", "cpu cpuset pids\n");
    cr_assert(qv_cgroup_has_controller(fd, "cpuset"));
    cr_assert(!qv_cgroup_has_controller(fd, "memory"));
    close(fd);
    rm_root(root);
}
