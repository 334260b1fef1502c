/* The QMP client against a real QEMU: `-machine none -S` with its control
 * monitor on a socketpair end passed as an fd (no paths, no retries). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <glib.h>

#include "qmp.h"
#include "qv-process.h"

static qv_process *proc;
static qv_qmp *qmp;

static void start_qemu(void)
{
    g_autofree char *bin = g_find_program_in_path("qemu-system-x86_64");
    if (!bin)
        cr_skip_test("qemu-system-x86_64 is not installed");
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    g_autofree char *chardev = g_strdup_printf("socket,id=mon,fd=%d,server=off", sv[1]);
    const char *argv[] = { bin, "-machine", "none", "-S", "-nodefaults", "-display", "none",
                           "-chardev", chardev, "-mon", "chardev=mon,mode=control", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.pass_fds = &sv[1];
    o.n_pass_fds = 1;
    o.stderr_fd = g_getenv("QV_TEST_VERBOSE") ? STDERR_FILENO : -1;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0, "%s", qv_error_message(err));
    close(sv[1]);
    cr_assert_eq(qv_qmp_new(sv[0], QV_QMP_MODE_QMP, &qmp, &err), 0);
    cr_assert_eq(qv_qmp_handshake(qmp, 20000, &err), 0, "%s", qv_error_message(err));
}

static void stop_qemu(void)
{
    qv_qmp_free(qmp);
    qmp = NULL;
    if (proc) {
        kill(qv_process_pid(proc), SIGCONT);
        qv_process_terminate(proc, 2000, NULL, NULL);
        qv_process_free(proc);
        proc = NULL;
    }
}

static const char *str_member(json_object *o, const char *key)
{
    json_object *v = NULL;
    cr_assert(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key, json_object_to_json_string(o));
    return json_object_get_string(v);
}

static const char *query_status(void)
{
    static char status[32];
    g_autoptr(json_object) ret = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_call(qmp, "query-status", NULL, 10000, &ret, &err), 0, "%s", qv_error_message(err));
    g_strlcpy(status, str_member(ret, "status"), sizeof(status));
    return status;
}

TestSuite(qemu, .init = start_qemu, .fini = stop_qemu, .timeout = 60);
TestSuite(qemu_listen, .fini = stop_qemu, .timeout = 60);

Test(qemu, greeting_and_query_status)
{
    json_object *g = qv_qmp_get_greeting(qmp), *v, *q, *major;
    cr_assert_not_null(g);
    cr_assert(json_object_object_get_ex(g, "version", &v));
    cr_assert(json_object_object_get_ex(v, "qemu", &q));
    cr_assert(json_object_object_get_ex(q, "major", &major));
    cr_assert_geq(json_object_get_int(major), 7);
    cr_assert_str_eq(query_status(), "prelaunch");
}

Test(qemu, stop_cont_events)
{
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_call(qmp, "cont", NULL, 10000, NULL, &err), 0, "%s", qv_error_message(err));
    g_autoptr(qv_qmp_event) resume = NULL;
    cr_assert_eq(qv_qmp_wait_event(qmp, "RESUME", 10000, &resume, &err), 0, "%s", qv_error_message(err));
    cr_assert_gt(resume->seconds, 0);
    cr_assert_str_eq(query_status(), "running");

    cr_assert_eq(qv_qmp_call(qmp, "stop", NULL, 10000, NULL, &err), 0, "%s", qv_error_message(err));
    g_autoptr(qv_qmp_event) stop = NULL;
    cr_assert_eq(qv_qmp_wait_event(qmp, "STOP", 10000, &stop, &err), 0, "%s", qv_error_message(err));
    cr_assert_str_eq(query_status(), "paused");
    cr_assert_eq(qv_qmp_events_dropped(qmp), 0);
}

/* A batch goes out at once; each command gets its own answer, a failing
 * one does not spoil the others, and the connection stays usable. */
Test(qemu, batch_answers_each_command)
{
    g_autoptr(qv_error) err = NULL;
    json_object *args = json_object_new_object();
    json_object_object_add(args, "path", json_object_new_string("/machine"));
    json_object_object_add(args, "property", json_object_new_string("type"));
    qv_qmp_batch_cmd cmds[] = {
        { .command = "query-status" },
        { .command = "no-such-command" },
        { .command = "qom-get", .args = args },
    };
    cr_assert_eq(qv_qmp_call_batch(qmp, cmds, 3, 10000, &err), 0, "%s", qv_error_message(err));
    cr_assert_eq(cmds[0].result, 0);
    cr_assert_str_eq(str_member(cmds[0].ret, "status"), "prelaunch");
    cr_assert_eq(cmds[1].result, -ENOTSUP, "%d", cmds[1].result);
    cr_assert_str_eq(qv_error_qmp_class(cmds[1].err), "CommandNotFound");
    cr_assert_eq(cmds[2].result, 0, "%s", cmds[2].err ? qv_error_message(cmds[2].err) : "");
    cr_assert_str_eq(json_object_get_string(cmds[2].ret), "none-machine");
    qv_qmp_batch_clear(cmds, 3);
    cr_assert_str_eq(query_status(), "prelaunch");
}

Test(qemu, getfd_and_closefd)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    g_autoptr(qv_error) err = NULL;
    json_object *args = json_object_new_object();
    json_object_object_add(args, "fdname", json_object_new_string("qv-pipe"));
    cr_assert_eq(qv_qmp_call_with_fd(qmp, "getfd", args, p[1], 10000, NULL, &err), 0, "%s",
                 qv_error_message(err));
    close(p[1]);
    /* QEMU holds the write end now: closing the name succeeds once */
    args = json_object_new_object();
    json_object_object_add(args, "fdname", json_object_new_string("qv-pipe"));
    cr_assert_eq(qv_qmp_call(qmp, "closefd", args, 10000, NULL, &err), 0, "%s", qv_error_message(err));
    /* ... and with QEMU's copy closed, the pipe reports EOF */
    char c;
    cr_assert_eq(read(p[0], &c, 1), 0);
    close(p[0]);
    args = json_object_new_object();
    json_object_object_add(args, "fdname", json_object_new_string("qv-pipe"));
    cr_assert_eq(qv_qmp_call(qmp, "closefd", args, 10000, NULL, &err), -EIO);
    cr_assert_str_eq(qv_error_qmp_class(err), "GenericError");
    cr_assert_str_eq(qv_error_message(err), "QEMU command 'closefd' failed: File descriptor named 'qv-pipe' not found");
}

Test(qemu, add_fd_shows_in_query_fdsets)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    g_autoptr(qv_error) err = NULL;
    json_object *args = json_object_new_object();
    json_object_object_add(args, "fdset-id", json_object_new_int(7));
    json_object_object_add(args, "opaque", json_object_new_string("qv,test \"x\""));
    g_autoptr(json_object) ret = NULL;
    cr_assert_eq(qv_qmp_call_with_fd(qmp, "add-fd", args, fd, 10000, &ret, &err), 0, "%s",
                 qv_error_message(err));
    close(fd);
    json_object *v;
    cr_assert(json_object_object_get_ex(ret, "fdset-id", &v));
    cr_assert_eq(json_object_get_int(v), 7);
    cr_assert(json_object_object_get_ex(ret, "fd", &v));
    int qemu_fd = json_object_get_int(v);

    g_autoptr(json_object) sets = NULL;
    cr_assert_eq(qv_qmp_call(qmp, "query-fdsets", NULL, 10000, &sets, &err), 0);
    cr_assert_eq(json_object_array_length(sets), 1, "%s", json_object_to_json_string(sets));
    json_object *set = json_object_array_get_idx(sets, 0), *fds;
    cr_assert(json_object_object_get_ex(set, "fds", &fds));
    json_object *entry = json_object_array_get_idx(fds, 0);
    cr_assert(json_object_object_get_ex(entry, "fd", &v));
    cr_assert_eq(json_object_get_int(v), qemu_fd);
    cr_assert_str_eq(str_member(entry, "opaque"), "qv,test \"x\"");
}

Test(qemu, quit_is_observed)
{
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_call(qmp, "quit", NULL, 10000, NULL, &err), 0, "%s", qv_error_message(err));
    g_autoptr(qv_qmp_event) sd = NULL;
    cr_assert_eq(qv_qmp_wait_event(qmp, "SHUTDOWN", 10000, &sd, &err), 0, "%s", qv_error_message(err));
    cr_assert_str_eq(str_member(sd->data, "reason"), "host-qmp-quit");
    int status = -1;
    cr_assert_eq(qv_process_wait(proc, 10000, &status, &err), 0, "%s", qv_error_message(err));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    qv_process_free(proc);
    proc = NULL;
    /* the monitor is gone: a clear error, and at once */
    g_autoptr(qv_error) err2 = NULL;
    gint64 t0 = g_get_monotonic_time();
    int r = qv_qmp_call(qmp, "query-status", NULL, 10000, NULL, &err2);
    cr_assert_lt(g_get_monotonic_time() - t0, 2 * G_USEC_PER_SEC);
    cr_assert(r == -ECONNRESET || r == -EPIPE, "%d", r);
    cr_assert(strstr(qv_error_message(err2), "QEMU monitor closed") || r == -EPIPE, "%s",
              qv_error_message(err2));
    cr_assert(qv_qmp_is_broken(qmp));
}

Test(qemu, sigstop_times_out_then_recovers)
{
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_signal(proc, SIGSTOP, &err), 0, "%s", qv_error_message(err));
    gint64 t0 = g_get_monotonic_time();
    cr_assert_eq(qv_qmp_call(qmp, "query-status", NULL, 300, NULL, &err), -ETIMEDOUT);
    gint64 took = g_get_monotonic_time() - t0;
    cr_assert(took < 3 * G_USEC_PER_SEC, "took %" G_GINT64_FORMAT " us", took);
    cr_assert_str_eq(qv_error_message(err), "QEMU command 'query-status' got no reply within 300 ms");
    cr_assert_not(qv_qmp_is_broken(qmp));
    cr_assert_eq(qv_process_signal(proc, SIGCONT, NULL), 0);
    /* the late reply to the first query is dropped; these get their own */
    cr_assert_str_eq(query_status(), "prelaunch");
    cr_assert_str_eq(query_status(), "prelaunch");
}

/* The other way to hand QEMU its monitor: a listening socket created here
 * and passed as an fd (server=on,wait=off), reached by path. */
Test(qemu_listen, connect_path)
{
    g_autofree char *bin = g_find_program_in_path("qemu-system-x86_64");
    if (!bin)
        cr_skip_test("qemu-system-x86_64 is not installed");
    g_autofree char *dir = g_dir_make_tmp("qv-qmp-XXXXXX", NULL);
    cr_assert_not_null(dir);
    g_autofree char *path = g_build_filename(dir, "qmp.sock", NULL);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(lfd, 4), 0);
    g_autofree char *chardev = g_strdup_printf("socket,id=mon,fd=%d,server=on,wait=off", lfd);
    const char *argv[] = { bin, "-machine", "none", "-S", "-nodefaults", "-display", "none",
                           "-chardev", chardev, "-mon", "chardev=mon,mode=control", NULL };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.pass_fds = &lfd;
    o.n_pass_fds = 1;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_process_spawn(&o, &proc, &err), 0, "%s", qv_error_message(err));
    close(lfd);
    /* the socket listens already: no retry loop needed */
    cr_assert_eq(qv_qmp_connect_path(path, QV_QMP_MODE_QMP, 20000, &qmp, &err), 0, "%s",
                 qv_error_message(err));
    cr_assert_str_eq(query_status(), "prelaunch");
    stop_qemu();
    unlink(path);
    rmdir(dir);

    g_autoptr(qv_error) err2 = NULL;
    qv_qmp *none = NULL;
    cr_assert_eq(qv_qmp_connect_path(path, QV_QMP_MODE_QMP, 1000, &none, &err2), -ENOENT);
    cr_assert(g_str_has_prefix(qv_error_message(err2), "cannot connect to '"), "%s", qv_error_message(err2));
}
