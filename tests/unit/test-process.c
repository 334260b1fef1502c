/* Unit tests for the one process launcher (common/process.c).
 * Shells appear here only as test programs; library code never uses one. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "qv-process.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads fd to EOF. */
static char *read_all(int fd)
{
    GString *s = g_string_new(NULL);
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        g_string_append_len(s, buf, n);
    }
    return g_string_free(s, FALSE);
}

/* Reads one line (up to '\n') from fd, byte by byte, so nothing after it is consumed. */
static char *read_line(int fd)
{
    GString *s = g_string_new(NULL);
    char c;
    while (read(fd, &c, 1) == 1 && c != '\n')
        g_string_append_c(s, c);
    return g_string_free(s, FALSE);
}

static void make_pipe(int p[2])
{
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
}

/* Runs argv with stdout (and optionally stderr) to a pipe, returns the output and the
 * waitpid status. */
static char *run_capture(const char *const *argv, const char *const *envp, int *status)
{
    int p[2];
    make_pipe(p);
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.envp = envp;
    o.stdout_fd = p[1];
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    int r = qv_process_spawn(&o, &proc, &err);
    cr_assert_eq(r, 0, "spawn %s: %s", argv[0], err ? err->message : "?");
    close(p[1]);
    char *out = read_all(p[0]);
    close(p[0]);
    r = qv_process_wait(proc, 10000, status, &err);
    cr_assert_eq(r, 0, "wait: %s", err ? err->message : "?");
    return out;
}

/* Waits until pid has exec'd program comm (the kernel sets comm after it has
 * closed the close-on-exec fds, so the fd table is final then). */
static void wait_for_comm(pid_t pid, const char *comm)
{
    g_autofree char *file = g_strdup_printf("/proc/%d/comm", (int)pid);
    int64_t deadline = now_ms() + 5000;
    while (now_ms() < deadline) {
        g_autofree char *c = NULL;
        if (g_file_get_contents(file, &c, NULL, NULL) && g_str_has_prefix(c, comm))
            return;
        g_usleep(1000);
    }
    cr_assert_fail("process %d never became %s", (int)pid, comm);
}

Test(process, missing_program_in_path_is_immediate_enoent)
{
    const char *argv[] = { "qv-no-such-program-xyz", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    int64_t t0 = now_ms();
    int r = qv_process_spawn(&o, &proc, &err);
    int64_t dt = now_ms() - t0;
    cr_assert_eq(r, -ENOENT);
    cr_assert_null(proc);
    cr_assert_not_null(err);
    cr_assert_eq(err->code, -ENOENT);
    cr_assert(strstr(err->message, "qv-no-such-program-xyz"), "message: %s", err->message);
    cr_assert_lt(dt, 1000, "took %lld ms", (long long)dt);
}

Test(process, missing_absolute_binary_reports_exec_errno)
{
    const char *argv[] = { "/nonexistent-dir/qv-foo", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    int64_t t0 = now_ms();
    int r = qv_process_spawn(&o, &proc, &err);
    int64_t dt = now_ms() - t0;
    cr_assert_eq(r, -ENOENT);
    cr_assert_null(proc);
    cr_assert_str_eq(err->message, "cannot execute /nonexistent-dir/qv-foo: No such file or directory");
    cr_assert_lt(dt, 1000, "took %lld ms", (long long)dt);
    /* The failed child was reaped by spawn: no zombie is left for us. */
    cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
    cr_assert_eq(errno, ECHILD);
}

Test(process, path_lookup_uses_callers_path_and_reports_non_executables)
{
    g_autofree char *dir = g_dir_make_tmp("qv-proc-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "qv-plain-file", NULL);
    cr_assert(g_file_set_contents(file, "x", -1, NULL));
    g_autofree char *path = g_strdup_printf("%s::/bin:/usr/bin", dir);
    g_setenv("PATH", path, TRUE);
    const char *argv[] = { "qv-plain-file", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), -EACCES);
    g_autofree char *expected = g_strdup_printf("cannot execute %s: it is not an executable file", file);
    cr_assert_str_eq(err->message, expected);

    /* Found through the caller's PATH, and that PATH is what the child gets. */
    g_clear_pointer(&err, qv_error_free);
    const char *argv2[] = { "printenv", "PATH", NULL };
    int status;
    g_autofree char *out = run_capture(argv2, NULL, &status);
    g_autofree char *expected_out = g_strdup_printf("%s\n", path);
    cr_assert_str_eq(out, expected_out);
    g_unlink(file);
    g_rmdir(dir);
}

Test(process, non_executable_file_is_eacces)
{
    g_autofree char *dir = g_dir_make_tmp("qv-proc-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "notexec", NULL);
    cr_assert(g_file_set_contents(file, "#!/bin/sh\n", -1, NULL));
    const char *argv[] = { file, NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), -EACCES);
    cr_assert(strstr(err->message, "cannot execute"), "message: %s", err->message);
    g_unlink(file);
    g_rmdir(dir);
}

Test(process, no_fd_leaks_and_pass_list_kept)
{
    /* Deliberately leaky fds in the parent (no O_CLOEXEC). */
    int leak1 = open("/dev/null", O_RDONLY);
    int leak2 = open("/dev/null", O_RDONLY);
    int leakpipe[2];
    cr_assert_eq(pipe(leakpipe), 0);
    int pass_a = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int pass_b = open("/dev/null", O_RDONLY);   /* passed and not cloexec: still fine */
    cr_assert(leak1 >= 3 && leak2 >= 3 && pass_a >= 3 && pass_b >= 3);

    const char *argv[] = { "/bin/sleep", "5", NULL };
    int pass[] = { pass_a, pass_b };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.pass_fds = pass;
    o.n_pass_fds = 2;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0, "%s", err ? err->message : "");
    pid_t pid = qv_process_pid(proc);
    wait_for_comm(pid, "sleep");

    g_autofree char *fddir = g_strdup_printf("/proc/%d/fd", (int)pid);
    /* comm names the new program before the dynamic loader has opened
     * and closed its libraries: wait until the table is small twice in a
     * row, the loader done. */
    for (int tries = 0, calm = 0; tries < 200 && calm < 2; tries++) {
        poll(NULL, 0, 20);
        g_autoptr(GDir) probe = g_dir_open(fddir, 0, NULL);
        int count = 0;
        while (probe && g_dir_read_name(probe))
            count++;
        calm = count <= 5 ? calm + 1 : 0;
    }
    g_autoptr(GDir) d = g_dir_open(fddir, 0, NULL);
    cr_assert_not_null(d);
    GArray *seen = g_array_new(FALSE, FALSE, sizeof(int));
    const char *name;
    while ((name = g_dir_read_name(d))) {
        int fd = atoi(name);
        g_array_append_val(seen, fd);
        bool expected = fd <= 2 || fd == pass_a || fd == pass_b;
        g_autofree char *link_path = g_strdup_printf("%s/%s", fddir, name);
        g_autofree char *target = g_file_read_link(link_path, NULL);
        cr_expect(expected, "fd %d (%s) leaked into the child", fd, target ? target : "?");
    }
    cr_assert_eq(seen->len, 5, "child has %u fds, expected 0,1,2,%d,%d", seen->len, pass_a, pass_b);
    g_array_free(seen, TRUE);

    int status = 0;
    cr_assert_eq(qv_process_terminate(proc, 2000, &status, &err), 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    close(leak1);
    close(leak2);
    close(leakpipe[0]);
    close(leakpipe[1]);
    close(pass_a);
    close(pass_b);
}

Test(process, passed_socket_usable_at_same_number)
{
    /* bash, because dash only redirects fds 0..9. */
    if (access("/bin/bash", X_OK) != 0)
        cr_skip_test("/bin/bash is needed to write to fd 42 from a script");
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    /* A fixed, high number that stdio handling must not disturb. */
    int fd = 42;
    cr_assert_eq(dup3(sv[1], fd, O_CLOEXEC), fd);
    close(sv[1]);

    const char *argv[] = { "/bin/bash", "-c", "echo hello-through-42 >&42", NULL };
    int pass[] = { fd };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.pass_fds = pass;
    o.n_pass_fds = 1;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0, "%s", err ? err->message : "");
    close(fd);
    int status = -1;
    cr_assert_eq(qv_process_wait(proc, 10000, &status, &err), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %x", status);
    g_autofree char *out = read_all(sv[0]);
    cr_assert_str_eq(out, "hello-through-42\n");
    close(sv[0]);
}

Test(process, pass_fd_in_stdio_range_is_rejected)
{
    const char *argv[] = { "/bin/true", NULL };
    int pass[] = { 1 };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.pass_fds = pass;
    o.n_pass_fds = 1;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), -EINVAL);
    cr_assert(strstr(err->message, "pass fd 1"), "message: %s", err->message);
}

Test(process, closed_pass_fd_is_ebadf)
{
    const char *argv[] = { "/bin/true", NULL };
    int pass[] = { 987 };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.pass_fds = pass;
    o.n_pass_fds = 1;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), -EBADF);
    cr_assert(strstr(err->message, "987"), "message: %s", err->message);
}

Test(process, sigterm_escalates_to_sigkill_after_grace)
{
    int p[2];
    make_pipe(p);
    /* exec keeps SIG_IGN, so sleep ignores SIGTERM too; "ready" says the trap is set. */
    const char *argv[] = { "/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 30", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.stdout_fd = p[1];
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0, "%s", err ? err->message : "");
    close(p[1]);
    g_autofree char *line = read_line(p[0]);
    cr_assert_str_eq(line, "ready");

    const int grace = 400;
    int status = 0;
    int64_t t0 = now_ms();
    int r = qv_process_terminate(proc, grace, &status, &err);
    int64_t dt = now_ms() - t0;
    cr_assert_eq(r, 0, "%s", err ? err->message : "");
    cr_assert(WIFSIGNALED(status), "status %x", status);
    cr_assert_eq(WTERMSIG(status), SIGKILL);
    cr_assert_geq(dt, grace - 5, "escalated after %lld ms, before the grace time", (long long)dt);
    cr_assert_lt(dt, grace + 2000, "took %lld ms", (long long)dt);
    /* Reaped: a second terminate returns the same status without signalling. */
    int again = 0;
    cr_assert_eq(qv_process_terminate(proc, grace, &again, &err), 0);
    cr_assert_eq(again, status);
    cr_assert_eq(qv_process_signal(proc, 0, &err), -ESRCH);
    close(p[0]);
}

Test(process, sigterm_suffices_for_a_polite_process)
{
    const char *argv[] = { "/bin/sleep", "30", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0);
    int pidfd = qv_process_get_fd(proc);
    cr_assert_geq(pidfd, 0, "no pidfd although the kernel has pidfd_open");
    cr_assert(fcntl(pidfd, F_GETFD) & FD_CLOEXEC);
    struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
    cr_assert_eq(poll(&pfd, 1, 0), 0, "pidfd readable while the process runs");
    int status;
    cr_assert_eq(qv_process_try_wait(proc, &status, &err), 0);
    cr_assert_eq(kill(qv_process_pid(proc), SIGSTOP), 0);
    cr_assert_eq(kill(qv_process_pid(proc), SIGCONT), 0);
    cr_assert_eq(qv_process_signal(proc, SIGUSR1, &err), 0);
    cr_assert_eq(poll(&pfd, 1, 5000), 1, "pidfd not readable after the process died");
    cr_assert_eq(qv_process_try_wait(proc, &status, &err), 1);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1, "status %x", status);
    cr_assert_eq(qv_process_get_fd(proc), pidfd, "the pidfd must stay open until free");

    g_clear_pointer(&proc, qv_process_free);
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0);
    int64_t t0 = now_ms();
    cr_assert_eq(qv_process_terminate(proc, 5000, &status, &err), 0);
    cr_assert_lt(now_ms() - t0, 2000);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status %x", status);
}

Test(process, wait_times_out)
{
    const char *argv[] = { "/bin/sleep", "30", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0);
    int64_t t0 = now_ms();
    cr_assert_eq(qv_process_wait(proc, 150, NULL, &err), -ETIMEDOUT);
    int64_t dt = now_ms() - t0;
    cr_assert(dt >= 145 && dt < 1500, "waited %lld ms", (long long)dt);
    g_clear_pointer(&err, qv_error_free);
    cr_assert_eq(qv_process_signal(proc, SIGKILL, &err), 0);
    int status;
    cr_assert_eq(qv_process_wait(proc, -1, &status, &err), 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

Test(process, clean_environment)
{
    g_setenv("QV_SHOULD_NOT_LEAK", "1", TRUE);
    const char *argv[] = { "env", NULL };
    int status;
    g_autofree char *out = run_capture(argv, NULL, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const char *path = g_getenv("PATH");
    g_autofree char *expected = g_strdup_printf("LC_ALL=C\nPATH=%s\n",
                                                path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    cr_assert_str_eq(out, expected);
}

Test(process, added_environment_goes_into_the_clean_one)
{
    g_setenv("QV_SHOULD_NOT_LEAK", "1", TRUE);
    const char *argv[] = { "env", NULL };
    const char *add[] = { "TZ=Europe/Paris", "LC_ALL=C.UTF-8", "EMPTY=", "TZ=UTC", NULL };
    int p[2];
    make_pipe(p);
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.env_add = add;
    o.stdout_fd = p[1];
    g_autoptr(qv_process) proc = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, NULL), 0);
    close(p[1]);
    g_autofree char *out = read_all(p[0]);
    close(p[0]);
    int status;
    cr_assert_eq(qv_process_wait(proc, 10000, &status, NULL), 0);
    /* A later NAME wins over the clean value and an earlier one. */
    cr_assert(strstr(out, "LC_ALL=C.UTF-8\n") && strstr(out, "TZ=UTC\n") && strstr(out, "EMPTY=\n"), "%s", out);
    cr_assert(!strstr(out, "Europe") && !strstr(out, "QV_SHOULD_NOT_LEAK") && strstr(out, "PATH="), "%s", out);
}

Test(process, added_environment_needs_a_name)
{
    const char *argv[] = { "env", NULL };
    const char *add[] = { "=x", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.env_add = add;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), -EINVAL);
}

/* A folder of the host's /dev (hugetlbfs in QEMU's case) reaches the
 * private /dev as a bind mount, and only what is asked for. */
Test(process, private_dev_gets_the_folders_asked_for)
{
    if (geteuid() != 0)
        cr_skip_test("a private /dev needs root");
    if (!g_file_test("/dev/net/tun", G_FILE_TEST_EXISTS))
        cr_skip_test("the host has no /dev/net/tun to see through the bind mount");
    g_autofree char *staging = g_dir_make_tmp("qvirt-devstage-XXXXXX", NULL);
    cr_assert(staging);
    const char *argv[] = { "ls", "/dev/net", "/dev/cpu", NULL };
    const char *mounts[] = { "net", NULL };
    int p[2];
    make_pipe(p);
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.dev_staging = staging;
    o.dev_mounts = mounts;
    o.stdout_fd = p[1];
    o.stderr_fd = p[1];
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0, "%s", err ? err->message : "");
    close(p[1]);
    g_autofree char *out = read_all(p[0]);
    close(p[0]);
    int status;
    cr_assert_eq(qv_process_wait(proc, 10000, &status, NULL), 0);
    cr_assert(strstr(out, "tun"), "%s", out);
    cr_assert(strstr(out, "/dev/cpu") && strstr(out, "No such file"), "%s", out);
    g_rmdir(staging);

    const char *bad[] = { "../etc", NULL };
    o.dev_mounts = bad;
    o.stdout_fd = o.stderr_fd = -1;
    g_autoptr(qv_process) proc2 = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc2, NULL), -EINVAL);
}

Test(process, explicit_environment_is_used_verbatim)
{
    const char *argv[] = { "/usr/bin/env", NULL };
    const char *envp[] = { "A=1", "B=two words", NULL };
    int status;
    g_autofree char *out = run_capture(argv, envp, &status);
    cr_assert_str_eq(out, "A=1\nB=two words\n");
}

Test(process, stdio_redirection)
{
    int in[2], out[2], errp[2];
    make_pipe(in);
    make_pipe(out);
    make_pipe(errp);
    const char *argv[] = { "/bin/sh", "-c", "read x; echo \"out:$x\"; echo \"err:$x\" >&2", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.stdin_fd = in[0];
    o.stdout_fd = out[1];
    o.stderr_fd = errp[1];
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0, "%s", err ? err->message : "");
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    cr_assert_eq(write(in[1], "abc\n", 4), 4);
    close(in[1]);
    g_autofree char *o_txt = read_all(out[0]);
    g_autofree char *e_txt = read_all(errp[0]);
    cr_assert_str_eq(o_txt, "out:abc\n");
    cr_assert_str_eq(e_txt, "err:abc\n");
    int status;
    cr_assert_eq(qv_process_wait(proc, 10000, &status, &err), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(out[0]);
    close(errp[0]);
}

Test(process, stdout_and_stderr_to_the_same_fd_and_default_devnull)
{
    int p[2];
    make_pipe(p);
    /* stdin defaults to /dev/null: cat sees EOF at once. */
    const char *argv[] = { "/bin/sh", "-c", "cat; echo one; echo two >&2", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.stdout_fd = p[1];
    o.stderr_fd = p[1];
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0);
    close(p[1]);
    g_autofree char *txt = read_all(p[0]);
    cr_assert_str_eq(txt, "one\ntwo\n");
    cr_assert_eq(qv_process_wait(proc, 10000, NULL, &err), 0);
    close(p[0]);
}

Test(process, stdio_sources_inside_0_to_2_are_swapped_correctly)
{
    /* The parent's own fds 1 and 2 become pipes, and the child gets them
     * crossed: stdout_fd = 2, stderr_fd = 1. A naive dup2 sequence would
     * send both streams to the same place. */
    int a[2], b[2];
    make_pipe(a);
    make_pipe(b);
    int saved1 = fcntl(1, F_DUPFD_CLOEXEC, 3);
    int saved2 = fcntl(2, F_DUPFD_CLOEXEC, 3);
    cr_assert(saved1 >= 0 && saved2 >= 0);
    cr_assert_eq(dup2(a[1], 1), 1);
    cr_assert_eq(dup2(b[1], 2), 2);
    close(a[1]);
    close(b[1]);

    const char *argv[] = { "/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.stdout_fd = 2;
    o.stderr_fd = 1;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    int r = qv_process_spawn(&o, &proc, &err);

    dup2(saved1, 1);
    dup2(saved2, 2);
    close(saved1);
    close(saved2);
    cr_assert_eq(r, 0, "%s", err ? err->message : "");

    g_autofree char *via_a = read_all(a[0]);
    g_autofree char *via_b = read_all(b[0]);
    cr_assert_str_eq(via_b, "to-stdout\n");
    cr_assert_str_eq(via_a, "to-stderr\n");
    cr_assert_eq(qv_process_wait(proc, 10000, NULL, &err), 0);
    close(a[0]);
    close(b[0]);
}

Test(process, signal_dispositions_and_mask_are_reset)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    cr_assert_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    const char *argv[] = { "/bin/cat", "/proc/self/status", NULL };
    int status;
    g_autofree char *out = run_capture(argv, NULL, &status);
    cr_assert(strstr(out, "\nSigBlk:\t0000000000000000\n"), "%s", out);
    cr_assert(strstr(out, "\nSigIgn:\t0000000000000000\n"), "%s", out);
}

Test(process, new_session)
{
    const char *argv[] = { "/bin/sleep", "30", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.new_session = true;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0);
    pid_t pid = qv_process_pid(proc);
    cr_assert_eq(getsid(pid), pid);
    cr_assert_eq(getpgid(pid), pid);
    cr_assert_eq(qv_process_terminate(proc, 2000, NULL, &err), 0);

    g_autoptr(qv_process) proc2 = NULL;
    o.new_session = false;
    cr_assert_eq(qv_process_spawn(&o, &proc2, &err), 0);
    cr_assert_eq(getsid(qv_process_pid(proc2)), getsid(0));
    cr_assert_eq(qv_process_terminate(proc2, 2000, NULL, &err), 0);
}

Test(process, cwd)
{
    g_autofree char *dir = g_dir_make_tmp("qv-proc-XXXXXX", NULL);
    g_autofree char *real = realpath(dir, NULL);
    const char *argv[] = { "/bin/pwd", "-P", NULL };
    int p[2];
    make_pipe(p);
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.cwd = dir;
    o.stdout_fd = p[1];
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0);
    close(p[1]);
    g_autofree char *out = read_all(p[0]);
    g_autofree char *expected = g_strdup_printf("%s\n", real);
    cr_assert_str_eq(out, expected);
    cr_assert_eq(qv_process_wait(proc, 10000, NULL, &err), 0);
    close(p[0]);

    g_autoptr(qv_process) proc2 = NULL;
    o.cwd = "/nonexistent-qv-dir";
    o.stdout_fd = -1;
    cr_assert_eq(qv_process_spawn(&o, &proc2, &err), -ENOENT);
    cr_assert(strstr(err->message, "/nonexistent-qv-dir"), "message: %s", err->message);
    g_rmdir(dir);
}

Test(process, start_time)
{
    cr_assert_gt(qv_process_start_time(getpid()), 0);
    cr_assert_eq(qv_process_start_time(0), 0);
    cr_assert_eq(qv_process_start_time(-5), 0);

    /* A comm with spaces and parentheses must not confuse the parser. */
    g_autofree char *dir = g_dir_make_tmp("qv-proc-XXXXXX", NULL);
    g_autofree char *prog = g_build_filename(dir, "a) b (c", NULL);
    g_autofree char *data = NULL;
    gsize len;
    cr_assert(g_file_get_contents("/bin/sleep", &data, &len, NULL));
    cr_assert(g_file_set_contents(prog, data, len, NULL));
    cr_assert_eq(chmod(prog, 0755), 0);

    const char *argv[] = { prog, "30", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0, "%s", err ? err->message : "");
    pid_t pid = qv_process_pid(proc);
    wait_for_comm(pid, "a) b (c");
    unsigned long long mine = qv_process_start_time(getpid());
    unsigned long long child = qv_process_start_time(pid);
    cr_assert_geq(child, mine);
    /* Cross-check against a naive parse of the same field by sscanf after ") ". */
    g_autofree char *stat = NULL;
    g_autofree char *statfile = g_strdup_printf("/proc/%d/stat", (int)pid);
    cr_assert(g_file_get_contents(statfile, &stat, NULL, NULL));
    const char *after = strrchr(stat, ')') + 2;
    unsigned long long expected = 0;
    cr_assert_eq(sscanf(after, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                        &expected), 1);
    cr_assert_eq(child, expected);

    cr_assert_eq(qv_process_terminate(proc, 2000, NULL, &err), 0);
    /* Reaped: the pid is gone. */
    cr_assert_eq(qv_process_start_time(pid), 0);
    g_unlink(prog);
    g_rmdir(dir);
}

/* The one /proc/PID/stat parser: the fields callers read, a thread's own
 * file, and a zombie seen as exited before it is reaped. */
Test(process, proc_stat_fields_and_zombie)
{
    qv_proc_stat st;
    cr_assert_eq(qv_proc_stat_read(getpid(), 0, &st), 0);
    cr_assert_eq(st.state, 'R');
    cr_assert_eq(st.start_time, qv_process_start_time(getpid()));
    cr_assert_gt(st.rss_kib, 0);
    cr_assert_geq(st.processor, 0);
    cr_assert_not(qv_proc_stat_exited(&st));
    cr_assert_eq(qv_proc_stat_read(getpid(), getpid(), &st), 0);
    cr_assert_eq(st.state, 'R');
    cr_assert_eq(qv_proc_stat_read(0, 0, &st), -EINVAL);

    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(0);
    /* Not reaped yet: a zombie until waitpid below. */
    for (int i = 0; i < 500; i++) {
        cr_assert_eq(qv_proc_stat_read(pid, 0, &st), 0);
        if (qv_proc_stat_exited(&st))
            break;
        g_usleep(2000);
    }
    cr_assert(qv_proc_stat_exited(&st), "state %c", st.state);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    cr_assert_eq(qv_proc_stat_read(pid, 0, &st), -ENOENT);
}

Test(process, cgroup_placement_fallback_writes_cgroup_procs)
{
    /* A plain folder that looks like a cgroup: clone3(CLONE_INTO_CGROUP)
     * refuses it (EBADF), so the child writes "0" to cgroup.procs itself. */
    g_autofree char *dir = g_dir_make_tmp("qv-proc-cg-XXXXXX", NULL);
    g_autofree char *procs = g_build_filename(dir, "cgroup.procs", NULL);
    cr_assert(g_file_set_contents(procs, "", 0, NULL));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dfd, 0);

    const char *argv[] = { "/bin/true", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.cgroup_fd = dfd;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0, "%s", err ? err->message : "");
    int status;
    cr_assert_eq(qv_process_wait(proc, 10000, &status, &err), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_autofree char *content = NULL;
    cr_assert(g_file_get_contents(procs, &content, NULL, NULL));
    cr_assert_str_eq(content, "0");

    /* Without cgroup.procs the placement fails and spawn says so. */
    g_unlink(procs);
    g_autoptr(qv_process) proc2 = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc2, &err), -ENOENT);
    cr_assert(strstr(err->message, "cgroup"), "message: %s", err->message);
    close(dfd);
    g_rmdir(dir);
}

/* Finds the cgroup v2 mount point (pure or hybrid layout), or NULL. */
static char *find_cgroup2_mount(void)
{
    g_autofree char *info = NULL;
    if (!g_file_get_contents("/proc/self/mountinfo", &info, NULL, NULL))
        return NULL;
    g_auto(GStrv) lines = g_strsplit(info, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *sep = strstr(*l, " - ");
        if (!sep || !g_str_has_prefix(sep, " - cgroup2 "))
            continue;
        g_auto(GStrv) f = g_strsplit(*l, " ", -1);
        if (g_strv_length(f) > 4)
            return g_strdup(f[4]);
    }
    return NULL;
}

Test(process, cgroup_placement_into_real_cgroup2)
{
    g_autofree char *mnt = find_cgroup2_mount();
    if (!mnt)
        cr_skip_test("no cgroup v2 hierarchy is mounted");
    g_autofree char *self = NULL;
    cr_assert(g_file_get_contents("/proc/self/cgroup", &self, NULL, NULL));
    const char *v2 = strstr(self, "0::");
    if (!v2)
        cr_skip_test("this process has no cgroup v2 membership line");
    g_autofree char *rel = g_strndup(v2 + 3, strcspn(v2 + 3, "\n"));
    g_autofree char *name = g_strdup_printf("qv-test-proc-%d", (int)getpid());
    g_autofree char *parent = g_build_filename(mnt, rel, NULL);
    g_autofree char *cg = g_build_filename(parent, name, NULL);
    if (mkdir(cg, 0755) < 0 && errno != EEXIST)
        cr_skip_test("cannot create a test cgroup %s: %s", cg, strerror(errno));
    int dfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dfd, 0);

    /* Tell whether the clone3 path itself is permitted here. */
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
            set_tid, set_tid_size, cgroup;
    } args = { .flags = 0x200000000ULL, .exit_signal = SIGCHLD, .cgroup = (uint64_t)dfd };
    long pid = syscall(SYS_clone3, &args, sizeof(args));
    if (pid == 0)
        _exit(0);
    if (pid < 0)
        cr_log_warn("clone3(CLONE_INTO_CGROUP) is not permitted here (%s): only the cgroup.procs fallback is exercised",
                    strerror(errno));
    else
        waitpid((pid_t)pid, NULL, 0);

    const char *argv[] = { "/bin/sleep", "30", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.cgroup_fd = dfd;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    int r = qv_process_spawn(&o, &proc, &err);
    if (r < 0) {
        rmdir(cg);
        cr_skip_test("cannot place a process in %s (%s); clone3 %s", cg, err->message,
                     pid < 0 ? "not permitted" : "permitted");
    }
    g_autofree char *cgfile = g_strdup_printf("/proc/%d/cgroup", (int)qv_process_pid(proc));
    g_autofree char *member = NULL;
    cr_assert(g_file_get_contents(cgfile, &member, NULL, NULL));
    g_autofree char *expect = g_strdup_printf("0::%s%s%s\n", rel, g_str_has_suffix(rel, "/") ? "" : "/", name);
    cr_assert(strstr(member, expect), "child cgroups: %s (expected %s)", member, expect);
    cr_assert_eq(qv_process_terminate(proc, 2000, NULL, &err), 0);
    close(dfd);
    cr_assert_eq(rmdir(cg), 0, "rmdir %s: %s", cg, strerror(errno));
    if (pid < 0)
        cr_skip_test("placement works through cgroup.procs, but the clone3 path was not exercised: clone3(CLONE_INTO_CGROUP) is not permitted here");
}

/* Makes pidfd_open, pidfd_send_signal, clone3 and close_range fail with ENOSYS
 * in this test process, as on an old kernel, so the fallbacks run. */
static void pretend_old_kernel(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_send_signal, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close_range, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
    };
    struct sock_fprog prog = { .len = G_N_ELEMENTS(filter), .filter = filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
        cr_skip_test("cannot install a seccomp filter to emulate an old kernel: %s", strerror(errno));
}

Test(process, fallbacks_without_pidfd_clone3_close_range)
{
#if !defined(__x86_64__)
    cr_skip_test("the old-kernel seccomp filter is written for x86_64 only");
#endif
    pretend_old_kernel();
    int leak = open("/dev/null", O_RDONLY);   /* no O_CLOEXEC */
    cr_assert_geq(leak, 3);

    /* fd hygiene through the /proc/self/fd fallback. */
    const char *argv[] = { "/bin/sleep", "30", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0, "%s", err ? err->message : "");
    cr_assert_eq(qv_process_get_fd(proc), -1, "a pidfd although pidfd_open is filtered");
    pid_t pid = qv_process_pid(proc);
    wait_for_comm(pid, "sleep");
    g_autofree char *leaked = g_strdup_printf("/proc/%d/fd/%d", (int)pid, leak);
    cr_assert_neq(access(leaked, F_OK), 0, "fd %d leaked into the child", leak);

    /* Waiting by polling, and escalation by timer. */
    int64_t t0 = now_ms();
    cr_assert_eq(qv_process_wait(proc, 100, NULL, &err), -ETIMEDOUT);
    g_clear_pointer(&err, qv_error_free);
    cr_assert_geq(now_ms() - t0, 95);
    int status;
    cr_assert_eq(qv_process_terminate(proc, 2000, &status, &err), 0, "%s", err ? err->message : "");
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

    /* Cgroup placement without clone3. */
    g_autofree char *dir = g_dir_make_tmp("qv-proc-cg-XXXXXX", NULL);
    g_autofree char *procs = g_build_filename(dir, "cgroup.procs", NULL);
    cr_assert(g_file_set_contents(procs, "", 0, NULL));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const char *argv2[] = { "/bin/true", NULL };
    o.argv = argv2;
    o.cgroup_fd = dfd;
    g_autoptr(qv_process) proc2 = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc2, &err), 0, "%s", err ? err->message : "");
    cr_assert_eq(qv_process_wait(proc2, 5000, &status, &err), 0);
    g_autofree char *content = NULL;
    cr_assert(g_file_get_contents(procs, &content, NULL, NULL));
    cr_assert_str_eq(content, "0");
    close(dfd);
    close(leak);
    g_unlink(procs);
    g_rmdir(dir);
}

/* before_exec: the parent learns the pid while the child still waits, and
 * a refusal means the program never runs. */
typedef struct hold_seen {
    pid_t pid;
    char exe[4096];
    int answer;
} hold_seen;

static int hold_cb(pid_t pid, void *opaque)
{
    hold_seen *h = opaque;
    h->pid = pid;
    g_autofree char *link = g_strdup_printf("/proc/%d/exe", (int)pid);
    ssize_t n = readlink(link, h->exe, sizeof h->exe - 1);
    h->exe[n > 0 ? n : 0] = '\0';
    return h->answer;
}

Test(process, before_exec_sees_the_pid_before_the_program_runs)
{
    g_autofree char *dir = g_dir_make_tmp("qvhold-XXXXXX", NULL);
    g_autofree char *mark = g_build_filename(dir, "ran", NULL);
    const char *argv[] = { "/usr/bin/touch", mark, NULL };
    qv_spawn_opts so;
    qv_spawn_opts_init(&so);
    so.argv = argv;
    hold_seen h = { .answer = 0 };
    so.before_exec = hold_cb;
    so.before_exec_data = &h;
    g_autoptr(qv_process) p = NULL;
    cr_assert_eq(qv_process_spawn(&so, &p, NULL), 0);
    cr_assert_eq(h.pid, qv_process_pid(p));
    cr_assert(!g_str_has_suffix(h.exe, "/touch"), "the program ran before before_exec returned");
    int st = -1;
    cr_assert_eq(qv_process_wait(p, 5000, &st, NULL), 0);
    cr_assert(g_file_test(mark, G_FILE_TEST_EXISTS));

    g_unlink(mark);
    h.answer = -EIO;
    g_autoptr(qv_process) q = NULL;
    qv_error *err = NULL;
    cr_assert_eq(qv_process_spawn(&so, &q, &err), -EIO);
    cr_assert_null(q);
    cr_assert(strstr(qv_error_message(err), "gave up"), "%s", qv_error_message(err));
    qv_error_free(err);
    cr_assert(!g_file_test(mark, G_FILE_TEST_EXISTS), "a refused program ran");
    g_rmdir(dir);
}

/* The value of "Key:" in a /proc/PID/status text, with its tabs. */
static char *status_field(const char *status, const char *key)
{
    g_autofree char *k = g_strdup_printf("\n%s:\t", key);
    const char *p = strstr(status, k);
    cr_assert_not_null(p, "no %s in:\n%s", key, status);
    p += strlen(k);
    return g_strndup(p, strcspn(p, "\n"));
}

static char *status_as(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups)
{
    const char *argv[] = { "cat", "/proc/self/status", NULL };
    int p[2];
    make_pipe(p);
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.stdout_fd = p[1];
    o.uid = uid;
    o.gid = gid;
    o.groups = groups;
    o.n_groups = n_groups;
    o.drop_caps = true;
    g_autoptr(qv_process) proc = NULL;
    g_autoptr(qv_error) err = NULL;
    int r = qv_process_spawn(&o, &proc, &err);
    cr_assert_eq(r, 0, "spawn: %s", err ? err->message : "?");
    close(p[1]);
    char *out = read_all(p[0]);
    close(p[0]);
    int status;
    cr_assert_eq(qv_process_wait(proc, 10000, &status, &err), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "cat failed: %d", status);
    return out;
}

/* What QEMU gets when qvirt runs as root: another user and group, only the
 * groups given, no capability in any set, no_new_privs. */
Test(process, runs_as_another_user_without_capabilities)
{
    if (geteuid() != 0)
        cr_skip_test("switching users needs root");
    const gid_t groups[] = { 65533 };
    g_autofree char *st = status_as(65534, 65534, groups, 1);
    g_autofree char *uid = status_field(st, "Uid"), *gid = status_field(st, "Gid");
    g_autofree char *grp = status_field(st, "Groups");
    cr_assert_str_eq(uid, "65534\t65534\t65534\t65534");
    cr_assert_str_eq(gid, "65534\t65534\t65534\t65534");
    cr_assert_str_eq(g_strstrip(grp), "65533");
    const char *sets[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
    for (size_t i = 0; i < G_N_ELEMENTS(sets); i++) {
        g_autofree char *v = status_field(st, sets[i]);
        cr_assert_str_eq(v, "0000000000000000", "%s is %s", sets[i], v);
    }
    g_autofree char *nnp = status_field(st, "NoNewPrivs");
    cr_assert_str_eq(nnp, "1");
}

/* A program that stays root (an explicit opt-out) still loses every
 * capability. */
Test(process, stays_root_without_capabilities)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to have capabilities to lose");
    g_autofree char *st = status_as((uid_t)-1, (gid_t)-1, NULL, 0);
    g_autofree char *uid = status_field(st, "Uid");
    cr_assert_str_eq(uid, "0\t0\t0\t0");
    const char *sets[] = { "CapPrm", "CapEff", "CapBnd", "CapAmb" };
    for (size_t i = 0; i < G_N_ELEMENTS(sets); i++) {
        g_autofree char *v = status_field(st, sets[i]);
        cr_assert_str_eq(v, "0000000000000000", "%s is %s", sets[i], v);
    }
}
