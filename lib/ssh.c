/* ssh to a qvirt+ssh:// URI's host (ssh.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ssh.h"

int qv_ssh_spawn(const qv_ssh_uri *u, const char *subcommand, int stdio_fd, qv_process **proc,
                 int *to, int *from, int *errs, qv_error **err)
{
    g_autofree char *q_cmd = g_shell_quote(u->command);
    g_autofree char *q_uri = g_shell_quote(u->remote_uri);
    g_autofree char *remote = g_strdup_printf("%s --connect %s %s", q_cmd, q_uri,
                                           subcommand);
    g_autofree char *port = u->port ? g_strdup_printf("%d", u->port) : NULL;
    const char *argv[32];
    size_t n = 0;
    argv[n++] = "ssh";
    argv[n++] = "-T";
    argv[n++] = "-e";
    argv[n++] = "none";
    argv[n++] = "-o";
    argv[n++] = "BatchMode=yes";
    /* A host that vanishes ends the connection within a minute, rather
     * than leave its calls waiting for ever. */
    argv[n++] = "-o";
    argv[n++] = "ServerAliveInterval=15";
    if (port) {
        argv[n++] = "-p";
        argv[n++] = port;
    }
    if (u->user) {
        argv[n++] = "-l";
        argv[n++] = u->user;
    }
    if (u->keyfile) {
        argv[n++] = "-i";
        argv[n++] = u->keyfile;
    }
    if (u->no_verify) {
        argv[n++] = "-o";
        argv[n++] = "StrictHostKeyChecking=no";
        argv[n++] = "-o";
        argv[n++] = "UserKnownHostsFile=/dev/null";
    }
    argv[n++] = "--";
    argv[n++] = u->host;
    argv[n++] = remote;
    argv[n] = NULL;
    /* ssh finds the caller's keys and agent through these. */
    g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func(g_free);
    const char *keep[] = { "HOME", "USER", "LOGNAME", "PATH", "SSH_AUTH_SOCK" };
    for (size_t i = 0; i < G_N_ELEMENTS(keep); i++)
        if (g_getenv(keep[i]))
            g_ptr_array_add(env, g_strdup_printf("%s=%s", keep[i], g_getenv(keep[i])));
    g_ptr_array_add(env, g_strdup("LC_ALL=C"));
    g_ptr_array_add(env, NULL);
    qv_spawn_opts so;
    qv_spawn_opts_init(&so);
    so.argv = argv;
    so.envp = (const char *const *)env->pdata;
    so.new_session = true;
    *errs = memfd_create("ssh-stderr", MFD_CLOEXEC);
    so.stderr_fd = *errs;
    if (stdio_fd >= 0) {
        so.stdin_fd = stdio_fd;
        so.stdout_fd = stdio_fd;
        return qv_process_spawn(&so, proc, err);
    }
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return qv_error_set_errno(err, -errno, "cannot make a pipe for ssh");
    if (pipe2(out, O_CLOEXEC) < 0) {
        int e = -errno;
        close(in[0]);
        close(in[1]);
        return qv_error_set_errno(err, e, "cannot make a pipe for ssh");
    }
    so.stdin_fd = in[0];
    so.stdout_fd = out[1];
    int r = qv_process_spawn(&so, proc, err);
    close(in[0]);
    close(out[1]);
    if (r < 0) {
        close(in[1]);
        close(out[0]);
        return r;
    }
    *to = in[1];
    *from = out[0];
    return 0;
}

void qv_ssh_add_stderr(int fd, qv_error **err)
{
    char buf[512] = "";
    /* The end of what ssh said: a long connection's stderr may have grown. */
    off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
    off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, from) : -1;
    buf[n > 0 ? n : 0] = '\0';
    g_strstrip(buf);
    char *nl = strrchr(buf, '\n');
    const char *last = nl ? nl + 1 : buf;
    if (g_str_has_prefix(last, "ssh: "))
        last += 5;
    if (err && *err && *last) {
        char *msg = g_strdup_printf("%s (ssh: %s)", (*err)->message, last);
        g_free((*err)->message);
        (*err)->message = msg;
    }
}
