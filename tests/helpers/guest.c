/* Boots the test guest for tests: see guest.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"
#include "qv-config.h"
#include "qv-json.h"
#include "qv-process.h"

/* qmp.h defines the same cleanup; this file does not include it. */

struct qv_test_guest {
    char *dir;
    char *qmp_path;
    char *agent_path;
    char *stderr_path;
    qv_process *proc;
    int console_fd;       /* our end of the serial socketpair, -1 after EOF */
    GString *console;     /* everything the serial console printed */
    bool exited;
    int status;
    unsigned next_marker;
};

static const char *qemu_binary(void)
{
    const char *q = g_getenv("QVIRT_QEMU");
    return q && *q ? q : "qemu-system-x86_64";
}

static char *guest_dir(void)
{
    const char *dir = g_getenv("QVIRT_TEST_GUEST");
    if (dir && *dir)
        return g_strdup(dir);
    const char *root = g_getenv("QVIRT_BUILD_ROOT");
    return g_build_filename(root && *root ? root : QV_BUILD_ROOT, "test-guest", NULL);
}

bool qv_test_guest_paths(char **kernel, char **initrd, char **reason)
{
    g_autofree char *dir = guest_dir();
    g_autofree char *k = g_build_filename(dir, "vmlinuz", NULL);
    g_autofree char *i = g_build_filename(dir, "initramfs.img", NULL);

    if (!g_file_test(k, G_FILE_TEST_IS_REGULAR) || !g_file_test(i, G_FILE_TEST_IS_REGULAR)) {
        if (reason)
            *reason = g_strdup_printf("the test guest is not built in %s "
                                      "(run scripts/make-test-guest %s)", dir, dir);
        return false;
    }
    if (kernel)
        *kernel = g_steal_pointer(&k);
    if (initrd)
        *initrd = g_steal_pointer(&i);
    return true;
}

char *qv_test_guest_domain_xml(const char *name, const char *kernel, const char *initrd,
                               const char *devices)
{
    return g_strdup_printf(
        "<domain type='qemu'>\n"
        "  <name>%s</name>\n"
        "  <memory unit='MiB'>256</memory>\n"
        "  <vcpu>1</vcpu>\n"
        "  <os><type arch='x86_64' machine='pc'>hvm</type>\n"
        "    <kernel>%s</kernel><initrd>%s</initrd>\n"
        "    <cmdline>" QV_TEST_GUEST_CMDLINE "</cmdline></os>\n"
        "  <features><acpi/></features>\n"
        "  <devices>\n"
        "%s"
        "  </devices>\n"
        "</domain>\n",
        name, kernel, initrd, devices);
}

bool qv_test_guest_available(char **reason)
{
    if (!qv_test_guest_paths(NULL, NULL, reason))
        return false;
    const char *q = qemu_binary();
    g_autofree char *found = g_find_program_in_path(q);
    if (!found) {
        if (reason)
            *reason = g_strdup_printf("%s is not installed (apt-get install qemu-system-x86)", q);
        return false;
    }
    return true;
}

/* --- sockets ------------------------------------------------------------- */

static int listen_unix(const char *path, qv_error **err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return qv_error_set(err, -ENAMETOOLONG, "the socket path %s is too long", path);
    strcpy(sa.sun_path, path);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot create a unix socket");
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        int e = -errno;
        close(fd);
        return qv_error_set_errno(err, e, "cannot listen on %s", path);
    }
    return fd;
}

static int connect_unix(const char *path, qv_error **err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return qv_error_set(err, -ENAMETOOLONG, "the socket path %s is too long", path);
    strcpy(sa.sun_path, path);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot create a unix socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = -errno;
        close(fd);
        return qv_error_set_errno(err, e, "cannot connect to %s", path);
    }
    return fd;
}

static int64_t deadline_after(int timeout_ms)
{
    return g_get_monotonic_time() + (int64_t)timeout_ms * 1000;
}

static int ms_left(int64_t deadline)
{
    int64_t left = (deadline - g_get_monotonic_time()) / 1000;
    return left < 0 ? 0 : (int)left;
}

/* --- console and process pump -------------------------------------------- */

static void drain_console(qv_test_guest *g)
{
    char buf[4096];
    while (g->console_fd >= 0) {
        ssize_t n = read(g->console_fd, buf, sizeof(buf));
        if (n > 0) {
            g_string_append_len(g->console, buf, n);
        } else if (n == 0) {
            close(g->console_fd);
            g->console_fd = -1;
        } else if (errno == EINTR) {
            continue;
        } else {
            if (errno != EAGAIN) {
                close(g->console_fd);
                g->console_fd = -1;
            }
            break;
        }
    }
}

static void check_exit(qv_test_guest *g)
{
    if (g->exited)
        return;
    int status = 0;
    if (qv_process_try_wait(g->proc, &status, NULL) == 1) {
        g->exited = true;
        g->status = status;
        drain_console(g);
    }
}

/* Waits up to timeout_ms for console output or QEMU's exit, then reads
 * whatever is there. */
static void pump(qv_test_guest *g, int timeout_ms)
{
    struct pollfd pfd[2];
    nfds_t n = 0;
    int pidfd = g->exited ? -1 : qv_process_get_fd(g->proc);

    if (g->console_fd >= 0)
        pfd[n++] = (struct pollfd){ .fd = g->console_fd, .events = POLLIN };
    if (pidfd >= 0)
        pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
    /* Without a pidfd the exit is only seen by polling try_wait. */
    if (pidfd < 0 && !g->exited && timeout_ms > 50)
        timeout_ms = 50;
    if (poll(pfd, n, timeout_ms) < 0 && errno != EINTR)
        g_usleep(10000);
    drain_console(g);
    check_exit(g);
}

static char *read_stderr(const qv_test_guest *g)
{
    char *text = NULL;
    if (!g->stderr_path || !g_file_get_contents(g->stderr_path, &text, NULL, NULL))
        return g_strdup("");
    return g_strstrip(text);
}

char *qv_test_guest_console_tail(const qv_test_guest *g, unsigned n)
{
    g_autofree char *text = g_strndup(g->console->str, g->console->len);
    /* Drop carriage returns and NULs so the tail prints cleanly. */
    char *w = text;
    for (size_t i = 0; i < g->console->len; i++)
        if (g->console->str[i] != '\r' && g->console->str[i] != '\0')
            *w++ = g->console->str[i];
    *w = '\0';
    while (w > text && w[-1] == '\n')
        *--w = '\0';
    const char *start = w;
    unsigned lines = 0;
    while (start > text) {
        if (start[-1] == '\n' && ++lines == n)
            break;
        start--;
    }
    return g_strdup(*start ? start : "(the console printed nothing)");
}

static int exited_error(const qv_test_guest *g, const char *waiting_for, qv_error **err)
{
    g_autofree char *why = NULL;
    if (WIFEXITED(g->status))
        why = g_strdup_printf("with status %d", WEXITSTATUS(g->status));
    else
        why = g_strdup_printf("on signal %d", WTERMSIG(g->status));
    g_autofree char *stderr_text = read_stderr(g);
    g_autofree char *tail = qv_test_guest_console_tail(g, 20);
    return qv_error_set(err, -ECHILD,
                        "QEMU exited %s while waiting for %s; QEMU stderr: %s; "
                        "last console lines:\n%s", why, waiting_for,
                        *stderr_text ? stderr_text : "(empty)", tail);
}

int qv_test_guest_expect(qv_test_guest *g, const char *text, size_t from, int timeout_ms,
                         qv_error **err)
{
    int64_t deadline = deadline_after(timeout_ms);
    size_t tlen = strlen(text);

    for (;;) {
        if (from < g->console->len &&
            memmem(g->console->str + from, g->console->len - from, text, tlen))
            return 0;
        if (g->exited)
            return exited_error(g, text, err);
        int left = ms_left(deadline);
        if (left == 0) {
            g_autofree char *tail = qv_test_guest_console_tail(g, 20);
            return qv_error_set(err, -ETIMEDOUT,
                                "the guest console did not show '%s' within %d ms; "
                                "last console lines:\n%s", text, timeout_ms, tail);
        }
        pump(g, left);
    }
}

/* --- boot ---------------------------------------------------------------- */

/* A failed Criterion assertion leaves the test function with a longjmp, so
 * g_autoptr cleanups do not run and QEMU would outlive the test. The worker
 * process still exits normally, so an atexit hook reaps what is left. */
static GPtrArray *live_guests;

static void free_live_guests(void)
{
    while (live_guests && live_guests->len > 0)
        qv_test_guest_free(g_ptr_array_index(live_guests, live_guests->len - 1));
}

static void track_guest(qv_test_guest *g)
{
    if (!live_guests) {
        live_guests = g_ptr_array_new();
        atexit(free_live_guests);
    }
    g_ptr_array_add(live_guests, g);
}

int qv_test_guest_boot(const qv_test_guest_opts *opts, qv_test_guest **ret, qv_error **err)
{
    static const qv_test_guest_opts defaults = { 0 };
    if (!opts)
        opts = &defaults;

    g_autofree char *kernel = NULL, *initrd = NULL, *reason = NULL;
    if (!qv_test_guest_paths(&kernel, &initrd, &reason))
        return qv_error_set(err, -ENOENT, "%s", reason);

    g_autoptr(qv_test_guest) g = g_new0(qv_test_guest, 1);
    g->console_fd = -1;
    g->console = g_string_new(NULL);
    track_guest(g);

    g_autoptr(GError) gerr = NULL;
    g->dir = g_dir_make_tmp("qvtest-guest-XXXXXX", &gerr);
    if (!g->dir)
        return qv_error_set(err, -EIO, "cannot create a temp folder: %s", gerr->message);
    g->qmp_path = g_build_filename(g->dir, "qmp.sock", NULL);
    g->stderr_path = g_build_filename(g->dir, "qemu.stderr", NULL);
    if (!opts->no_agent)
        g->agent_path = g_build_filename(g->dir, "agent.sock", NULL);

    int ser[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ser) < 0)
        return qv_error_set_errno(err, -errno, "cannot create the console socketpair");
    g->console_fd = ser[0];
    int qemu_ser = ser[1];
    fcntl(g->console_fd, F_SETFL, O_NONBLOCK);

    int r = 0, mon = -1, ga = -1, errfd = -1;
    mon = listen_unix(g->qmp_path, err);
    if (mon < 0)
        r = mon;
    if (r == 0 && g->agent_path) {
        ga = listen_unix(g->agent_path, err);
        if (ga < 0)
            r = ga;
    }
    if (r == 0) {
        errfd = open(g->stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (errfd < 0)
            r = qv_error_set_errno(err, -errno, "cannot create %s", g->stderr_path);
    }

    if (r == 0) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(argv, g_strdup(qemu_binary()));
        g_ptr_array_add(argv, g_strdup("-machine"));
        g_ptr_array_add(argv, g_strdup("pc,accel=tcg"));
        g_ptr_array_add(argv, g_strdup("-m"));
        g_ptr_array_add(argv, g_strdup_printf("%d", opts->memory_mib > 0 ? opts->memory_mib : 256));
        g_ptr_array_add(argv, g_strdup("-smp"));
        g_ptr_array_add(argv, g_strdup("1"));
        g_ptr_array_add(argv, g_strdup("-nodefaults"));
        g_ptr_array_add(argv, g_strdup("-no-user-config"));
        g_ptr_array_add(argv, g_strdup("-display"));
        g_ptr_array_add(argv, g_strdup("none"));
        /* A guest panic (panic=-1) then ends QEMU instead of looping. */
        g_ptr_array_add(argv, g_strdup("-no-reboot"));
        g_ptr_array_add(argv, g_strdup("-kernel"));
        g_ptr_array_add(argv, g_strdup(kernel));
        g_ptr_array_add(argv, g_strdup("-initrd"));
        g_ptr_array_add(argv, g_strdup(initrd));
        g_ptr_array_add(argv, g_strdup("-append"));
        g_ptr_array_add(argv, g_strdup(QV_TEST_GUEST_CMDLINE));
        g_ptr_array_add(argv, g_strdup("-chardev"));
        g_ptr_array_add(argv, g_strdup_printf("socket,id=ser0,fd=%d,server=off", qemu_ser));
        g_ptr_array_add(argv, g_strdup("-serial"));
        g_ptr_array_add(argv, g_strdup("chardev:ser0"));
        g_ptr_array_add(argv, g_strdup("-chardev"));
        g_ptr_array_add(argv, g_strdup_printf("socket,id=mon0,fd=%d,server=on,wait=off", mon));
        g_ptr_array_add(argv, g_strdup("-mon"));
        g_ptr_array_add(argv, g_strdup("chardev=mon0,mode=control"));
        g_ptr_array_add(argv, g_strdup("-device"));
        g_ptr_array_add(argv, g_strdup("virtio-balloon-pci,id=balloon0"));
        if (ga >= 0) {
            g_ptr_array_add(argv, g_strdup("-device"));
            g_ptr_array_add(argv, g_strdup("virtio-serial-pci,id=virtio-serial0"));
            g_ptr_array_add(argv, g_strdup("-chardev"));
            g_ptr_array_add(argv, g_strdup_printf("socket,id=ga0,fd=%d,server=on,wait=off", ga));
            g_ptr_array_add(argv, g_strdup("-device"));
            g_ptr_array_add(argv, g_strdup("virtserialport,bus=virtio-serial0.0,chardev=ga0,"
                                           "name=org.qemu.guest_agent.0"));
        }
        for (const char *const *a = opts->extra_args; a && *a; a++)
            g_ptr_array_add(argv, g_strdup(*a));
        g_ptr_array_add(argv, NULL);

        int pass[3] = { qemu_ser, mon, ga };
        qv_spawn_opts so;
        qv_spawn_opts_init(&so);
        so.argv = (const char *const *)argv->pdata;
        so.pass_fds = pass;
        so.n_pass_fds = ga >= 0 ? 3 : 2;
        so.stderr_fd = errfd;
        so.new_session = true;
        r = qv_process_spawn(&so, &g->proc, err);
    }

    /* QEMU holds its own copies now. */
    close(qemu_ser);
    if (mon >= 0)
        close(mon);
    if (ga >= 0)
        close(ga);
    if (errfd >= 0)
        close(errfd);
    if (r < 0)
        return r;

    if (!opts->no_wait) {
        int timeout = opts->boot_timeout_ms > 0 ? opts->boot_timeout_ms
                                                : QV_TEST_GUEST_BOOT_TIMEOUT_MS;
        r = qv_test_guest_expect(g, QV_TEST_GUEST_READY_LINE, 0, timeout, err);
        if (r < 0) {
            if (err && *err)
                qv_error_prefix(*err, "the test guest did not boot");
            return r;
        }
    }
    *ret = g_steal_pointer(&g);
    return 0;
}

void qv_test_guest_free(qv_test_guest *g)
{
    if (!g)
        return;
    if (live_guests)
        g_ptr_array_remove_fast(live_guests, g);
    if (g->proc) {
        if (!g->exited)
            qv_process_terminate(g->proc, 2000, NULL, NULL);
        qv_process_free(g->proc);
    }
    if (g->console_fd >= 0)
        close(g->console_fd);
    if (g->dir) {
        const char *names[] = { "qmp.sock", "agent.sock", "qemu.stderr" };
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
            g_autofree char *p = g_build_filename(g->dir, names[i], NULL);
            unlink(p);
        }
        rmdir(g->dir);
    }
    g_string_free(g->console, TRUE);
    g_free(g->dir);
    g_free(g->qmp_path);
    g_free(g->agent_path);
    g_free(g->stderr_path);
    g_free(g);
}

/* --- console commands ------------------------------------------------------ */

static int write_console(qv_test_guest *g, const char *data, size_t len, int64_t deadline,
                         qv_error **err)
{
    while (len > 0) {
        if (g->console_fd < 0 || g->exited)
            return exited_error(g, "the console to accept input", err);
        ssize_t n = write(g->console_fd, data, len);
        if (n > 0) {
            data += n;
            len -= n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return qv_error_set_errno(err, -errno, "cannot write to the guest console");
        if (ms_left(deadline) == 0)
            return qv_error_set(err, -ETIMEDOUT, "the guest console did not accept input in time");
        struct pollfd p = { .fd = g->console_fd, .events = POLLOUT };
        poll(&p, 1, 50);
        drain_console(g);
    }
    return 0;
}

/* Finds "<marker>" followed by a line end or a space at or after from. */
static const char *find_marker(const GString *s, size_t from, const char *marker, char next)
{
    size_t mlen = strlen(marker);
    const char *p = s->str + from, *end = s->str + s->len;
    while (p < end) {
        const char *m = memmem(p, end - p, marker, mlen);
        if (!m || m + mlen >= end)
            return NULL;
        char c = m[mlen];
        if (c == next || (next == '\n' && c == '\r'))
            return m;
        p = m + 1;
    }
    return NULL;
}

int qv_test_guest_run(qv_test_guest *g, const char *command, int timeout_ms, char **output,
                      qv_error **err)
{
    /* The quotes split the markers in the echoed input line, so only the
     * shell's own output contains them whole. */
    unsigned id = ++g->next_marker;
    g_autofree char *begin = g_strdup_printf("QVB%u", id);
    g_autofree char *endm = g_strdup_printf("QVE%u", id);
    g_autofree char *line = g_strdup_printf("echo QVB\"\"%u; %s; echo QVE\"\"%u $?\n",
                                            id, command, id);
    int64_t deadline = deadline_after(timeout_ms);
    size_t from = g->console->len;

    int r = write_console(g, line, strlen(line), deadline, err);
    if (r < 0)
        return r;

    for (;;) {
        const char *b = find_marker(g->console, from, begin, '\n');
        const char *e = NULL;
        if (b)
            e = find_marker(g->console, b - g->console->str, endm, ' ');
        /* The status line is complete once its line end arrived. */
        const char *eol = e ? memchr(e, '\n', g->console->str + g->console->len - e) : NULL;
        if (eol) {
            const char *out_start = memchr(b, '\n', e - b);
            out_start = out_start ? out_start + 1 : e;
            if (output) {
                GString *o = g_string_sized_new(e - out_start + 1);
                for (const char *c = out_start; c < e; c++)
                    if (*c != '\r')
                        g_string_append_c(o, *c);
                *output = g_string_free(o, FALSE);
            }
            return (int)strtol(e + strlen(endm) + 1, NULL, 10);
        }
        if (g->exited)
            return exited_error(g, "a console command to finish", err);
        int left = ms_left(deadline);
        if (left == 0) {
            g_autofree char *tail = qv_test_guest_console_tail(g, 20);
            return qv_error_set(err, -ETIMEDOUT,
                                "the guest command '%s' did not finish within %d ms; "
                                "last console lines:\n%s", command, timeout_ms, tail);
        }
        pump(g, left);
    }
}

const char *qv_test_guest_console(const qv_test_guest *g) { return g->console->str; }
size_t qv_test_guest_console_len(const qv_test_guest *g) { return g->console->len; }
const char *qv_test_guest_dir(const qv_test_guest *g) { return g->dir; }
const char *qv_test_guest_qmp_path(const qv_test_guest *g) { return g->qmp_path; }
const char *qv_test_guest_agent_path(const qv_test_guest *g) { return g->agent_path; }
pid_t qv_test_guest_pid(const qv_test_guest *g) { return qv_process_pid(g->proc); }

int qv_test_guest_wait_exit(qv_test_guest *g, int timeout_ms, int *status, qv_error **err)
{
    int64_t deadline = deadline_after(timeout_ms);
    while (!g->exited) {
        int left = ms_left(deadline);
        if (left == 0) {
            g_autofree char *tail = qv_test_guest_console_tail(g, 10);
            return qv_error_set(err, -ETIMEDOUT, "QEMU did not exit within %d ms; "
                                "last console lines:\n%s", timeout_ms, tail);
        }
        pump(g, left);
    }
    if (status)
        *status = g->status;
    return 0;
}

/* --- JSON exchange ------------------------------------------------------------ */

/* Reads one '\n'-terminated JSON object from fd, keeping any rest in buf. */
static int read_json_line(int fd, GString *buf, int64_t deadline, const char *path,
                          json_object **ret, qv_error **err)
{
    for (;;) {
        char *nl = memchr(buf->str, '\n', buf->len);
        if (nl) {
            g_autofree char *line = g_strndup(buf->str, nl - buf->str);
            g_string_erase(buf, 0, nl - buf->str + 1);
            g_strstrip(line);
            if (!*line)
                continue;
            json_object *obj = json_tokener_parse(line);
            if (!obj || !json_object_is_type(obj, json_type_object)) {
                json_object_put(obj);
                return qv_error_set(err, -EPROTO, "%s sent a line that is not a JSON object: %s",
                                    path, line);
            }
            *ret = obj;
            return 0;
        }
        int left = ms_left(deadline);
        if (left == 0)
            return qv_error_set(err, -ETIMEDOUT, "%s did not answer in time", path);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, left) <= 0)
            continue;
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n == 0)
            return qv_error_set(err, -ECONNRESET, "%s closed the connection", path);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return qv_error_set_errno(err, -errno, "cannot read from %s", path);
        }
        g_string_append_len(buf, tmp, n);
    }
}

static int send_json(int fd, json_object *msg, const char *path, qv_error **err)
{
    g_autofree char *text = g_strdup_printf(
        "%s\n", json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
    size_t len = strlen(text);
    const char *p = text;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return qv_error_set_errno(err, -errno, "cannot write to %s", path);
        }
        p += n;
        len -= n;
    }
    return 0;
}

/* Sends one command and returns the next reply object, skipping events. */
static int exchange(int fd, GString *buf, const char *path, const char *command,
                    json_object *args, int64_t deadline, json_object **reply, qv_error **err)
{
    g_autoptr(json_object) msg = json_object_new_object();
    json_object_object_add(msg, "execute", json_object_new_string(command));
    if (args)
        json_object_object_add(msg, "arguments", args);
    int r = send_json(fd, msg, path, err);
    if (r < 0)
        return r;
    for (;;) {
        json_object *obj = NULL;
        r = read_json_line(fd, buf, deadline, path, &obj, err);
        if (r < 0)
            return r;
        if (json_object_object_get_ex(obj, "event", NULL)) {
            json_object_put(obj);
            continue;
        }
        *reply = obj;
        return 0;
    }
}

int qv_test_json_call(const char *socket_path, bool expect_greeting, const char *command,
                      json_object *args_in, int timeout_ms, json_object **reply, qv_error **err)
{
    g_autoptr(json_object) args = args_in;
    int64_t deadline = deadline_after(timeout_ms);
    g_autoptr(GString) buf = g_string_new(NULL);
    int fd = connect_unix(socket_path, err);
    if (fd < 0)
        return fd;

    int r = 0;
    if (expect_greeting) {
        json_object *greeting = NULL;
        r = read_json_line(fd, buf, deadline, socket_path, &greeting, err);
        if (r == 0 && !json_object_object_get_ex(greeting, "QMP", NULL))
            r = qv_error_set(err, -EPROTO, "%s sent no QMP greeting", socket_path);
        json_object_put(greeting);
        json_object *caps = NULL;
        if (r == 0)
            r = exchange(fd, buf, socket_path, "qmp_capabilities", NULL, deadline, &caps, err);
        json_object_put(caps);
    } else {
        /* qemu-ga: guest-sync with a fresh id flushes replies left over from
         * earlier connections. */
        int64_t id = g_get_monotonic_time() & 0x7fffffff;
        for (;;) {
            json_object *sync_args = json_object_new_object();
            json_object_object_add(sync_args, "id", json_object_new_int64(id));
            json_object *rep = NULL;
            r = exchange(fd, buf, socket_path, "guest-sync", sync_args, deadline, &rep, err);
            if (r < 0)
                break;
            json_object *ret = NULL;
            bool match = json_object_object_get_ex(rep, "return", &ret) &&
                         json_object_get_int64(ret) == id;
            json_object_put(rep);
            if (match)
                break;
        }
    }

    json_object *rep = NULL;
    if (r == 0)
        r = exchange(fd, buf, socket_path, command, g_steal_pointer(&args), deadline, &rep, err);
    close(fd);
    if (r < 0)
        return r;

    json_object *val = NULL, *error = NULL;
    if (json_object_object_get_ex(rep, "error", &error)) {
        json_object *cls = NULL, *desc = NULL;
        json_object_object_get_ex(error, "class", &cls);
        json_object_object_get_ex(error, "desc", &desc);
        r = qv_error_set_qmp(err, -EIO, json_object_get_string(cls), json_object_get_string(desc),
                             "%s failed: %s", command, json_object_get_string(desc));
    } else if (json_object_object_get_ex(rep, "return", &val)) {
        if (reply)
            *reply = json_object_get(val);
    } else {
        r = qv_error_set(err, -EPROTO, "%s sent a reply to %s with neither return nor error",
                         socket_path, command);
    }
    json_object_put(rep);
    return r;
}
