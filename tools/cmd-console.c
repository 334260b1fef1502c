/* qvirt console, domdisplay and the guest agent commands (domhostname,
 * domfstrim, dompmsuspend, dompmwakeup). Messages follow virsh. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

#define CONSOLE_ESCAPE 0x1d       /* Ctrl-] */
/* Without a tty: after EOF on stdin, the console's output is copied until it
 * has been quiet this long (or for at most the cap). */
#define CONSOLE_DRAIN_QUIET_MS 2000
#define CONSOLE_DRAIN_MAX_MS 10000

static volatile sig_atomic_t console_quit;

static void console_signal(int sig)
{
    (void)sig;
    console_quit = 1;
}

static bool write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Copies stdin to the console and the console to stdout. Returns 0 when the
 * user left (Ctrl-] or end of input), 1 when the console closed. */
static int console_loop(int cfd, bool tty)
{
    bool in_open = true;
    gint64 eof_at = 0, last_out = 0;
    char buf[4096];
    while (!console_quit) {
        struct pollfd p[2] = { { .fd = cfd, .events = POLLIN },
                               { .fd = STDIN_FILENO, .events = in_open ? POLLIN : 0 } };
        int timeout = -1;
        if (!in_open) {
            gint64 now = g_get_monotonic_time();
            gint64 quiet_left = CONSOLE_DRAIN_QUIET_MS - (now - MAX(last_out, eof_at)) / 1000;
            gint64 max_left = CONSOLE_DRAIN_MAX_MS - (now - eof_at) / 1000;
            timeout = (int)MAX(0, MIN(quiet_left, max_left));
            if (timeout == 0)
                return 0;
        }
        int r = poll(p, in_open ? 2 : 1, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return 1;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(cfd, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0)
                return 1;
            if (!write_all(STDOUT_FILENO, buf, (size_t)n))
                return 0;
            last_out = g_get_monotonic_time();
        }
        if (in_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0) {
                if (tty)
                    return 0;
                in_open = false;
                eof_at = g_get_monotonic_time();
                continue;
            }
            char *esc = memchr(buf, CONSOLE_ESCAPE, (size_t)n);
            size_t len = esc ? (size_t)(esc - buf) : (size_t)n;
            if (len && !write_all(cfd, buf, len))
                return 1;
            if (esc)
                return 0;
        }
    }
    return 0;
}

static bool cmd_console(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    static const cli_flag map[] = {
        { "force", QV_DOMAIN_CONSOLE_FORCE },
        { "safe", QV_DOMAIN_CONSOLE_SAFE },
        { NULL, 0 },
    };
    unsigned int flags = cli_flags(args, map);
    int cfd = -1;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_open_console(dom, cli_str(args, "devname"), &cfd, flags, &err) < 0) {
        cli_error_qv(err, "failed to open the console");
        return false;
    }
    cli_info(ctx, "Connected to domain '%s'\n", qv_domain_get_name(dom));
    cli_info(ctx, "Escape character is ^] (Ctrl + ])\n");
    fflush(stdout);

    bool tty = isatty(STDIN_FILENO);
    struct termios saved;
    bool restored = true;
    if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
        struct termios raw = saved;
        cfmakeraw(&raw);
        if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0)
            restored = false;
    }
    struct sigaction sa = { .sa_handler = console_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int closed = console_loop(cfd, tty);
    close(cfd);
    if (!restored)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    if (tty)
        printf("\n");
    if (closed) {
        cli_error("the console of domain '%s' was closed (the domain stopped, or another "
                  "session took it over with --force)", qv_domain_get_name(dom));
        return false;
    }
    return true;
}

static bool cmd_domdisplay(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    unsigned int flags = cli_has(args, "include-password") ? QV_DOMAIN_DISPLAY_INCLUDE_PASSWORD : 0;
    g_autofree char *uri = NULL;
    g_autoptr(qv_error) err = NULL;
    int r = qv_domain_get_display_uri(dom, cli_str(args, "type"), flags, &uri, &err);
    if (r == -ENOENT && !cli_str(args, "type")) {
        cli_error("No graphical display found");
        return false;
    }
    if (r < 0) {
        cli_error_qv(err, "failed to get the display URI");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "uri", json_object_new_string(uri));
        cli_print_json(o);
    } else {
        printf("%s\n", uri);
    }
    return true;
}

static bool cmd_domhostname(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *source = cli_str(args, "source");
    unsigned int flags = 0;
    if (source && !strcmp(source, "agent"))
        flags = QV_DOMAIN_GET_HOSTNAME_AGENT;
    else if (source && !strcmp(source, "lease"))
        flags = QV_DOMAIN_GET_HOSTNAME_LEASE;
    else if (source) {
        cli_error("Unknown data source '%s'", source);
        return false;
    }
    g_autofree char *name = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_get_hostname(dom, flags, &name, &err) < 0) {
        cli_error_qv(err, "failed to get hostname");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "hostname", json_object_new_string(name));
        cli_print_json(o);
    } else {
        printf("%s\n", name);
    }
    return true;
}

static bool cmd_domfstrim(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    guint64 minimum = 0;
    const char *m = cli_str(args, "minimum");
    if (m && !g_ascii_string_to_unsigned(m, 10, 0, G_MAXUINT64, &minimum, NULL)) {
        cli_error("Invalid argument for --minimum: %s", m);
        return false;
    }
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_fs_trim(dom, cli_str(args, "mountpoint"), minimum, 0, &err) < 0) {
        cli_error_qv(err, "Unable to invoke fstrim");
        return false;
    }
    return true;
}

static bool cmd_dompmsuspend(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *target = cli_str(args, "target");
    unsigned int t;
    if (!strcmp(target, "mem"))
        t = QV_NODE_SUSPEND_TARGET_MEM;
    else if (!strcmp(target, "disk"))
        t = QV_NODE_SUSPEND_TARGET_DISK;
    else if (!strcmp(target, "hybrid"))
        t = QV_NODE_SUSPEND_TARGET_HYBRID;
    else {
        cli_error("Invalid target");
        return false;
    }
    guint64 duration = 0;
    const char *d = cli_str(args, "duration");
    if (d && !g_ascii_string_to_unsigned(d, 10, 0, G_MAXUINT64, &duration, NULL)) {
        cli_error("Invalid duration argument");
        return false;
    }
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_pm_suspend_for_duration(dom, t, duration, 0, &err) < 0) {
        cli_error_qv(err, "Domain could not be suspended");
        return false;
    }
    cli_info(ctx, "Domain '%s' successfully suspended\n", qv_domain_get_name(dom));
    return true;
}

static bool cmd_dompmwakeup(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_pm_wakeup(dom, 0, &err) < 0) {
        cli_error_qv(err, "Domain could not be woken up");
        return false;
    }
    cli_info(ctx, "Domain '%s' successfully woken up\n", qv_domain_get_name(dom));
    return true;
}

#define OPT_DOMAIN { "domain", CLI_OPT_STRING, true, true, "domain name, id or uuid" }

static const cli_opt opts_console[] = {
    OPT_DOMAIN,
    { "devname", CLI_OPT_STRING, true, false, "character device name" },
    { "force", CLI_OPT_BOOL, false, false, "force console connection (disconnect already connected sessions)" },
    { "safe", CLI_OPT_BOOL, false, false, "only connect if safe console handling is supported" },
    { NULL },
};
static const cli_opt opts_domdisplay[] = {
    OPT_DOMAIN,
    { "include-password", CLI_OPT_BOOL, false, false, "includes the password into the connection URI if available" },
    { "type", CLI_OPT_STRING, false, false, "select particular graphical display (vnc or spice)" },
    { NULL },
};
static const cli_opt opts_domhostname[] = {
    OPT_DOMAIN,
    { "source", CLI_OPT_STRING, false, false, "address source: 'lease' or 'agent'" },
    { NULL },
};
static const cli_opt opts_domfstrim[] = {
    OPT_DOMAIN,
    { "minimum", CLI_OPT_INT, false, false, "Just a hint to ignore contiguous free ranges smaller than this (Bytes)" },
    { "mountpoint", CLI_OPT_STRING, false, false, "which mount point to trim" },
    { NULL },
};
static const cli_opt opts_dompmsuspend[] = {
    OPT_DOMAIN,
    { "target", CLI_OPT_STRING, true, true, "mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend)" },
    { "duration", CLI_OPT_INT, false, false, "duration in seconds" },
    { NULL },
};
static const cli_opt opts_dompmwakeup[] = { OPT_DOMAIN, { NULL } };

const cli_cmd cli_console_cmds[] = {
    { "console", cmd_console, opts_console, "connect to the guest console", false },
    { "domdisplay", cmd_domdisplay, opts_domdisplay, "domain display connection URI", true },
    { "domfstrim", cmd_domfstrim, opts_domfstrim, "Invoke fstrim on domain's mounted filesystems.", false },
    { "domhostname", cmd_domhostname, opts_domhostname, "print the domain's hostname", true },
    { "dompmsuspend", cmd_dompmsuspend, opts_dompmsuspend, "suspend a domain gracefully using power management functions", false },
    { "dompmwakeup", cmd_dompmwakeup, opts_dompmwakeup, "wakeup a domain from pmsuspended state", false },
    { NULL },
};
