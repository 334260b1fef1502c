#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leftovers.h"
#include "cli-run.h"

void cli_result_clear(cli_result *r)
{
    g_clear_pointer(&r->out, g_free);
    g_clear_pointer(&r->err, g_free);
}

static int wait_status_to_code(int ws)
{
    if (WIFEXITED(ws))
        return WEXITSTATUS(ws);
    if (WIFSIGNALED(ws))
        return 128 + WTERMSIG(ws);
    return -1;
}

void cli_run(cli_result *r, const char *const *argv)
{
    g_autoptr(GPtrArray) full = g_ptr_array_new();
    g_ptr_array_add(full, (char *)QVIRT_BIN);
    for (const char *const *a = argv; *a; a++)
        g_ptr_array_add(full, (char *)*a);
    g_ptr_array_add(full, NULL);
    int ws = 0;
    g_autoptr(GError) gerr = NULL;
    cli_result_clear(r);
    if (!g_spawn_sync(NULL, (char **)full->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &r->out,
                      &r->err, &ws, &gerr)) {
        r->status = -1;
        r->err = g_strdup(gerr->message);
        r->out = g_strdup("");
        return;
    }
    r->status = wait_status_to_code(ws);
}

void cli_run_uri(cli_result *r, const char *uri, ...)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    g_ptr_array_add(args, (char *)"-c");
    g_ptr_array_add(args, (char *)uri);
    va_list ap;
    va_start(ap, uri);
    const char *a;
    while ((a = va_arg(ap, const char *)))
        g_ptr_array_add(args, (char *)a);
    va_end(ap);
    g_ptr_array_add(args, NULL);
    cli_run(r, (const char *const *)args->pdata);
}

char *cli_run_words(const char *uri, int *status, const char *const *words)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    g_ptr_array_add(args, (char *)"-c");
    g_ptr_array_add(args, (char *)uri);
    for (const char *const *w = words; *w; w++)
        g_ptr_array_add(args, (char *)*w);
    g_ptr_array_add(args, NULL);
    g_auto(cli_result) r = { 0 };
    cli_run(&r, (const char *const *)args->pdata);
    *status = r.status;
    if (r.status != 0)
        return g_strconcat(r.out, r.err, NULL);
    return g_steal_pointer(&r.out);
}

void cli_env_init(cli_env *e)
{
    g_autoptr(GError) gerr = NULL;
    e->root = g_dir_make_tmp("qvirt-cli-XXXXXX", &gerr);
    g_assert(e->root);
    e->uri = g_strdup_printf("qvirt:///embed?root=%s", e->root);
}

static void rm_rf(const char *path)
{
    const char *argv[] = { "rm", "-rf", "--", path, NULL };
    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                 G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, NULL, NULL);
}

void cli_env_clear(cli_env *e)
{
    if (e->root) {
        qvt_kill_leftovers(e->root); /* what a failed test left running */
        rm_rf(e->root);
    }
    g_clear_pointer(&e->root, g_free);
    g_clear_pointer(&e->uri, g_free);
}

char *cli_write_file(const cli_env *e, const char *name, const char *text)
{
    char *path = g_build_filename(e->root, name, NULL);
    g_assert(g_file_set_contents(path, text, -1, NULL));
    return path;
}

char *cli_small_xml(const char *name)
{
    return g_strdup_printf("<domain type='qemu'>\n"
                           "  <name>%s</name>\n"
                           "  <memory unit='MiB'>128</memory>\n"
                           "  <vcpu>2</vcpu>\n"
                           "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                           "</domain>\n", name);
}

bool cli_bg_start(cli_bg *bg, const char *const *argv)
{
    g_autoptr(GPtrArray) full = g_ptr_array_new();
    g_ptr_array_add(full, (char *)QVIRT_BIN);
    for (const char *const *a = argv; *a; a++)
        g_ptr_array_add(full, (char *)*a);
    g_ptr_array_add(full, NULL);
    bg->out = g_string_new(NULL);
    bg->out_fd = -1;
    g_autoptr(GError) gerr = NULL;
    if (!g_spawn_async_with_pipes(NULL, (char **)full->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                  NULL, NULL, &bg->pid, NULL, &bg->out_fd, NULL, &gerr))
        return false;
    fcntl(bg->out_fd, F_SETFL, fcntl(bg->out_fd, F_GETFL) | O_NONBLOCK);
    return true;
}

/* Reads what is there; false at EOF. */
static bool bg_read(cli_bg *bg, int timeout_ms)
{
    struct pollfd p = { .fd = bg->out_fd, .events = POLLIN };
    if (poll(&p, 1, timeout_ms) <= 0)
        return true;
    char buf[4096];
    ssize_t n = read(bg->out_fd, buf, sizeof buf);
    if (n > 0) {
        g_string_append_len(bg->out, buf, n);
        return true;
    }
    return n < 0 && (errno == EAGAIN || errno == EINTR);
}

bool cli_bg_wait_for(cli_bg *bg, const char *text, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (!strstr(bg->out->str, text)) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0 || !bg_read(bg, (int)MIN(left, 200)))
            return strstr(bg->out->str, text) != NULL;
    }
    return true;
}

int cli_bg_finish(cli_bg *bg, int sig, int timeout_ms)
{
    if (sig)
        kill(bg->pid, sig);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (g_get_monotonic_time() < deadline && bg_read(bg, 200))
        ;
    int ws = 0;
    pid_t r;
    while ((r = waitpid(bg->pid, &ws, WNOHANG)) == 0 && g_get_monotonic_time() < deadline)
        g_usleep(20000);
    if (r == 0) {
        kill(bg->pid, SIGKILL);
        waitpid(bg->pid, &ws, 0);
    }
    close(bg->out_fd);
    return wait_status_to_code(ws);
}

char *cli_fake_ssh(const char *dir, const char *root)
{
    g_autofree char *bindir = g_build_filename(dir, "bin", NULL);
    g_mkdir_with_parents(bindir, 0700);
    g_autofree char *log = g_build_filename(dir, "ssh.log", NULL);
    g_autofree char *qlog = g_shell_quote(log);
    g_autoptr(GString) s = g_string_new("#!/bin/sh\n# The tests' ssh: runs the remote command on this host.\n");
    g_string_append_printf(s, "echo \"$$ $*\" >> %s\n", qlog);
    /* ssh passes the remote side nothing of the caller's environment. */
    const char *vars[] = { "QVIRT_MONITOR", "QVIRT_BUILD_ROOT", "QVIRT_SOURCE_ROOT",
                           "LD_LIBRARY_PATH", "QVIRT_QEMU", "QVIRT_DEBUG", "QVIRT_LOG_FILE",
                           "QVIRT_TEST_GUEST", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
    for (size_t i = 0; i < G_N_ELEMENTS(vars); i++)
        if (g_getenv(vars[i])) {
            g_autofree char *q = g_shell_quote(g_getenv(vars[i]));
            g_string_append_printf(s, "export %s=%s\n", vars[i], q);
        }
    g_string_append(s, "for last; do :; done\nexec /bin/sh -c \"$last\"\n");
    g_autofree char *ssh = g_build_filename(bindir, "ssh", NULL);
    g_assert(g_file_set_contents(ssh, s->str, -1, NULL));
    g_assert(chmod(ssh, 0755) == 0);
    g_autofree char *path = g_strdup_printf("%s:%s", bindir, g_getenv("PATH") ? g_getenv("PATH")
                                                                              : "/usr/bin:/bin");
    g_setenv("PATH", path, TRUE);
    g_autofree char *eroot = g_uri_escape_string(root, "/", FALSE);
    g_autofree char *ebin = g_uri_escape_string(QVIRT_BIN, "/", FALSE);
    return g_strdup_printf("qvirt+ssh://fakehost/embed?root=%s&command=%s", eroot, ebin);
}

int cli_fake_ssh_runs(const char *dir)
{
    g_autofree char *log = g_build_filename(dir, "ssh.log", NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(log, &text, NULL, NULL))
        return 0;
    int n = 0;
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        n++;
    return n;
}

GArray *cli_remote_serve_pids(const char *root)
{
    GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    GDir *d = g_dir_open("/proc", 0, NULL);
    const char *e;
    while (d && (e = g_dir_read_name(d))) {
        if (!g_ascii_isdigit(e[0]))
            continue;
        g_autofree char *p = g_strdup_printf("/proc/%s/cmdline", e);
        g_autofree char *cmd = NULL;
        gsize len = 0;
        if (!g_file_get_contents(p, &cmd, &len, NULL) || len == 0)
            continue; /* gone, or a zombie (empty cmdline) */
        bool serve = false, names_root = false;
        for (const char *a = cmd; a < cmd + len; a += strlen(a) + 1) {
            serve |= strcmp(a, "remote-serve") == 0;
            names_root |= strstr(a, root) != NULL;
        }
        pid_t pid = (pid_t)atoi(e);
        if (serve && names_root)
            g_array_append_val(pids, pid);
    }
    if (d)
        g_dir_close(d);
    return pids;
}

int cli_remote_serves(const char *root)
{
    g_autoptr(GArray) pids = cli_remote_serve_pids(root);
    return (int)pids->len;
}
