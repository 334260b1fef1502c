/* Consoles, channels and graphics clients of running domains, the guest
 * agent's small calls and the remaining small domain calls
 * (qvirt-console.h; see "guest agent" below for the latter).
 *
 * A console session is a plain fd handed to the caller, so no qvirt process
 * stays behind to referee it. Who holds a device is read from the device
 * itself: a pty session holds a flock on its own open file description
 * (released when the caller closes the fd, or dies), and a unix socket
 * session is the client QEMU has accepted (query-chardev says "disconnected:"
 * while there is none). Opens run under the monitor lock, so two openers
 * cannot both see a free device. FORCE asks QEMU for a fresh backend
 * (chardev-change): QEMU closes the old pty master or client socket, which
 * is what really cuts the old session off. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"
#include "remote.h"
#include "qv-socket.h"
#include "qvirt/qvirt-console.h"

/* How long QEMU may take to accept a chardev connection; it is asked after
 * 2 ms, then ever less often, up to every 100 ms. */
#define QV_CHR_ACCEPT_WAIT_MS 5000
#define QV_CHR_ACCEPT_POLL_MIN_MS 2
#define QV_CHR_ACCEPT_POLL_MAX_MS 100

static const char *chr_kind_word(int kind)
{
    switch (kind) {
    case QV_CHR_SERIAL: return "serial port";
    case QV_CHR_CONSOLE: return "console";
    case QV_CHR_PARALLEL: return "parallel port";
    default: return "channel";
    }
}

static qv_domdef_chr *chr_by_alias(const qv_domdef *def, int kind, const char *alias)
{
    for (guint i = 0; i < def->chrs->len; i++) {
        qv_domdef_chr *c = def->chrs->pdata[i];
        if (c->kind == kind && c->alias && !strcmp(c->alias, alias))
            return c;
    }
    return NULL;
}

/* A console with target type serial is serial N itself: QEMU has one
 * chardev for both, named after the serial port. */
static qv_domdef_chr *resolve_serial_console(const qv_domdef *def, qv_domdef_chr *c)
{
    if (c && c->kind == QV_CHR_CONSOLE && c->target_type && !strcmp(c->target_type, "serial") &&
        c->alias) {
        qv_domdef_chr *s = chr_by_alias(def, QV_CHR_SERIAL, c->alias);
        if (s)
            return s;
    }
    return c;
}

/* libvirt's choice: dev_name among consoles, serials and parallels by
 * alias; without one, the first console, else the first serial port. */
static qv_domdef_chr *find_console(const qv_domdef *def, const char *dev_name)
{
    static const int kinds[] = { QV_CHR_CONSOLE, QV_CHR_SERIAL, QV_CHR_PARALLEL };
    for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++)
        for (guint i = 0; i < def->chrs->len; i++) {
            qv_domdef_chr *c = def->chrs->pdata[i];
            if (c->kind != kinds[k] || (k == 2 && !dev_name))
                continue;
            if (!dev_name || (c->alias && !strcmp(c->alias, dev_name)))
                return resolve_serial_console(def, c);
        }
    return NULL;
}

static qv_domdef_chr *find_channel(const qv_domdef *def, const char *name)
{
    for (guint i = 0; i < def->chrs->len; i++) {
        qv_domdef_chr *c = def->chrs->pdata[i];
        if (c->kind == QV_CHR_CHANNEL &&
            ((c->alias && !strcmp(c->alias, name)) ||
             (c->target_name && !strcmp(c->target_name, name))))
            return c;
    }
    return NULL;
}

/* Where the builder put a unix socket chardev (domxml/cmdline-chardev.c). */
static char *chr_socket_path(qv_domain *dom, const qv_domdef_chr *c)
{
    if (c->src.path)
        return g_strdup(c->src.path);
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    if (c->kind == QV_CHR_CHANNEL && c->target_name)
        return g_strdup_printf("%s/%s.sock", dir, c->target_name);
    return g_strdup_printf("%s/%s.sock", dir, c->alias);
}

/* query-chardev's view of one chardev: whether a client is connected to a
 * server socket, and whether the guest side is open. */
static int chardev_query(qv_qmp *qmp, const char *label, bool *connected, bool *frontend_open,
                         qv_error **err)
{
    g_autoptr(json_object) list = NULL;
    int r = qv_qmp_call(qmp, "query-chardev", NULL, 0, &list, err);
    if (r < 0)
        return r;
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        json_object *e = json_object_array_get_idx(list, i), *v;
        if (!json_object_object_get_ex(e, "label", &v) || strcmp(json_object_get_string(v), label))
            continue;
        if (connected)
            *connected = json_object_object_get_ex(e, "filename", &v) &&
                         !g_str_has_prefix(json_object_get_string(v), "disconnected:");
        if (frontend_open)
            *frontend_open = json_object_object_get_ex(e, "frontend-open", &v) &&
                             json_object_get_boolean(v);
        return 0;
    }
    return qv_error_set(err, -ENODEV, "QEMU has no character device '%s'", label);
}

/* Swaps the chardev's backend for a fresh one of the given kind. */
static int chardev_change(qv_qmp *qmp, const char *label, json_object *backend, json_object **ret,
                          const char *what, qv_error **err)
{
    json_object *args = json_object_new_object();
    json_object_object_add(args, "id", json_object_new_string(label));
    json_object_object_add(args, "backend", backend);
    qv_error *lerr = NULL;
    int r = qv_qmp_call(qmp, "chardev-change", args, 0, ret, &lerr);
    if (r < 0 && qv_error_qmp_desc(lerr) && strstr(qv_error_qmp_desc(lerr), "hotswap")) {
        qv_error_free(lerr);
        return qv_error_set(err, -ENOTSUP,
                            "%s is in use by another session and cannot be taken over: QEMU's "
                            "device model cannot swap its backend; the other session must close "
                            "it first", what);
    }
    if (r < 0) {
        qv_error_prefix(lerr, "cannot take over %s", what);
        return qv_error_propagate(err, lerr);
    }
    return r;
}

static int open_pty(const char *path, const char *what, int *fd_out, qv_error **err)
{
    int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open %s (%s)", what, path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return -EBUSY;
        return qv_error_set_errno(err, -e, "cannot lock %s (%s)", what, path);
    }
    /* QEMU made the pty raw; a previous user may have changed that, and an
     * echoing line discipline would send the guest's output back to it. */
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(fd, TCSANOW, &t);
    }
    *fd_out = fd;
    return 0;
}

/* Every chr sharing the alias (serial N and its console) gets the new pty. */
static int record_pty(qv_domain *dom, const char *alias, const char *path, qv_error **err)
{
    g_autoptr(qv_domdef) live = NULL;
    int r = qv_domain_load_live(dom, &live, err);
    if (r == -ENOENT)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    if (r < 0)
        return r;
    for (guint i = 0; i < live->chrs->len; i++) {
        qv_domdef_chr *c = live->chrs->pdata[i];
        if (c->src.type == QV_CHR_PTY && c->alias && !strcmp(c->alias, alias)) {
            g_free(c->src.path);
            c->src.path = g_strdup(path);
        }
    }
    return qv_domain_save_live(dom, live, err);
}

/* QEMU accepts in its main loop; wait until it reports our connection, so
 * the next opener (after the monitor lock is released) sees it. */
static int wait_accepted(qv_qmp *qmp, const char *label, const char *what, qv_error **err)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)QV_CHR_ACCEPT_WAIT_MS * 1000;
    for (int delay = QV_CHR_ACCEPT_POLL_MIN_MS;;
         delay = MIN(delay * 2, QV_CHR_ACCEPT_POLL_MAX_MS)) {
        bool connected = false;
        int r = chardev_query(qmp, label, &connected, NULL, err);
        if (r < 0)
            return r;
        if (connected)
            return 0;
        if (g_get_monotonic_time() > deadline)
            return qv_error_set(err, -ETIMEDOUT, "QEMU did not accept the connection to %s "
                                "within %d s", what, QV_CHR_ACCEPT_WAIT_MS / 1000);
        poll(NULL, 0, delay);
    }
}

static int open_socket_chr(qv_domain *dom, qv_qmp *qmp, const qv_domdef_chr *c, const char *label,
                           const char *what, bool force, int *fd_out, qv_error **err)
{
    if (c->src.path && !c->src.bind)
        return qv_error_set(err, -ENOTSUP,
                            "%s connects to %s as a client; only sockets QEMU listens on "
                            "(mode='bind') can be opened", what, c->src.path);
    g_autofree char *path = chr_socket_path(dom, c);
    bool connected = false;
    int r = chardev_query(qmp, label, &connected, NULL, err);
    if (r < 0)
        return r;
    if (connected && !force)
        return qv_error_set(err, -EBUSY, "%s is in use by another session", what);
    if (connected) {
        /* A new listener replaces the one in use, which cuts its client
         * off. It is bound here under a name of its own, handed to QEMU
         * (which needs no rights on the folder), and moved in. */
        g_autofree char *tmp = g_strdup_printf("%s.%06x", path, g_random_int() & 0xffffff);
        static const char fdname[] = "qvirt-listener";
        qv_autoclose int lfd = qv_unix_listen(tmp, err);
        if (lfd < 0)
            return lfd;
        json_object *fdargs = json_object_new_object();
        json_object_object_add(fdargs, "fdname", json_object_new_string(fdname));
        if ((r = qv_qmp_call_with_fd(qmp, "getfd", fdargs, lfd, 0, NULL, err)) < 0) {
            unlink(tmp);
            return r;
        }
        json_object *addr = json_object_new_object();
        json_object *udata = json_object_new_object();
        json_object_object_add(udata, "str", json_object_new_string(fdname));
        json_object_object_add(addr, "type", json_object_new_string("fd"));
        json_object_object_add(addr, "data", udata);
        json_object *data = json_object_new_object();
        json_object_object_add(data, "addr", addr);
        json_object_object_add(data, "server", json_object_new_boolean(1));
        json_object_object_add(data, "wait", json_object_new_boolean(0));
        json_object *backend = json_object_new_object();
        json_object_object_add(backend, "type", json_object_new_string("socket"));
        json_object_object_add(backend, "data", data);
        if ((r = chardev_change(qmp, label, backend, NULL, what, err)) < 0) {
            json_object *close_args = json_object_new_object();
            json_object_object_add(close_args, "fdname", json_object_new_string(fdname));
            qv_qmp_call(qmp, "closefd", close_args, 0, NULL, NULL);
            unlink(tmp);
            return r;
        }
        if (rename(tmp, path) < 0)
            return qv_error_set_errno(err, -errno, "cannot move the new socket of %s to %s", what,
                                      path);
    }
    int fd = qv_unix_connect(path, err);
    if (fd < 0) {
        if (err && *err)
            qv_error_prefix(*err, "%s", what);
        return fd;
    }
    if ((r = wait_accepted(qmp, label, what, err)) < 0) {
        close(fd);
        return r;
    }
    *fd_out = fd;
    return 0;
}

static int open_pty_chr(qv_domain *dom, qv_qmp *qmp, const qv_domdef_chr *c, const char *label,
                        const char *what, bool force, int *fd_out, qv_error **err)
{
    if (!c->src.path)
        return qv_error_set(err, -EIO, "the live XML of domain '%s' does not record which pty "
                            "%s uses", dom->name, what);
    int r = open_pty(c->src.path, what, fd_out, err);
    if (r != -EBUSY)
        return r;
    if (!force)
        return qv_error_set(err, -EBUSY, "%s is in use by another session", what);
    json_object *backend = json_object_new_object();
    json_object_object_add(backend, "type", json_object_new_string("pty"));
    json_object_object_add(backend, "data", json_object_new_object());
    g_autoptr(json_object) ret = NULL;
    if ((r = chardev_change(qmp, label, backend, &ret, what, err)) < 0)
        return r;
    json_object *pty;
    if (!ret || !json_object_object_get_ex(ret, "pty", &pty))
        return qv_error_set(err, -EIO, "QEMU did not say which pty now backs %s", what);
    const char *path = json_object_get_string(pty);
    if ((r = record_pty(dom, c->alias, path, err)) < 0)
        return r;
    r = open_pty(path, what, fd_out, err);
    if (r == -EBUSY)
        return qv_error_set(err, -EBUSY, "%s was taken by another session at once", what);
    return r;
}

/* The part of open_console and open_channel after the device is chosen.
 * The live definition is read under the monitor lock, so a FORCE that moved
 * the pty just before is seen. */
static int open_chr(qv_domain *dom, bool channel, const char *name, bool force, int *fd_out,
                    qv_error **err)
{
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0)
        return r;
    qv_qmp *qmp;
    int lock;
    if ((r = qv_domain_qmp_open(dom, &qmp, &lock, err)) < 0)
        return r;
    g_autoptr(qv_domdef) live = NULL;
    r = qv_domain_load_live(dom, &live, err);
    if (r == -ENOENT)
        r = qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    qv_domdef_chr *c = NULL;
    if (r >= 0) {
        c = channel ? find_channel(live, name) : find_console(live, name);
        if (!c && channel)
            r = qv_error_set(err, -ENOENT, "domain '%s' has no channel '%s'", dom->name, name);
        else if (!c && name)
            r = qv_error_set(err, -ENOENT, "domain '%s' has no console, serial or parallel "
                             "device '%s'", dom->name, name);
        else if (!c)
            r = qv_error_set(err, -ENOENT, "domain '%s' has no console or serial port",
                             dom->name);
    }
    if (r >= 0) {
        g_autofree char *what = channel
                                    ? g_strdup_printf("the channel '%s' of domain '%s'", name,
                                                      dom->name)
                                    : g_strdup_printf("the console of domain '%s'", dom->name);
        g_autofree char *label = g_strdup_printf("char%s", c->alias);
        if (c->src.type == QV_CHR_PTY)
            r = open_pty_chr(dom, qmp, c, label, what, force, fd_out, err);
        else if (c->src.type == QV_CHR_UNIX)
            r = open_socket_chr(dom, qmp, c, label, what, force, fd_out, err);
        else
            r = qv_error_set(err, -ENOTSUP,
                             "the %s '%s' of domain '%s' is not a pty or a unix socket QEMU "
                             "listens on, so it cannot be opened", chr_kind_word(c->kind),
                             c->alias, dom->name);
    }
    qv_domain_qmp_close(qmp, lock);
    return r;
}

int qv_domain_open_console(qv_domain *dom, const char *dev_name, int *fd_out, unsigned int flags,
                           qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_open_console(dom, dev_name, fd_out, flags, err));
    if (!dom || !fd_out)
        return qv_error_set(err, -EINVAL, "qv_domain_open_console: dom and fd_out are required");
    if (flags & ~(unsigned)(QV_DOMAIN_CONSOLE_FORCE | QV_DOMAIN_CONSOLE_SAFE))
        return qv_error_set(err, -EINVAL, "qv_domain_open_console: unsupported flags 0x%x", flags);
    *fd_out = -1;
    return open_chr(dom, false, dev_name, flags & QV_DOMAIN_CONSOLE_FORCE, fd_out, err);
}

int qv_domain_open_channel(qv_domain *dom, const char *name, int *fd_out, unsigned int flags,
                           qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_open_channel(dom, name, fd_out, flags, err));
    if (!dom || !name || !fd_out)
        return qv_error_set(err, -EINVAL,
                            "qv_domain_open_channel: dom, name and fd_out are required");
    if (flags & ~(unsigned)QV_DOMAIN_CHANNEL_FORCE)
        return qv_error_set(err, -EINVAL, "qv_domain_open_channel: unsupported flags 0x%x", flags);
    *fd_out = -1;
    return open_chr(dom, true, name, flags & QV_DOMAIN_CHANNEL_FORCE, fd_out, err);
}

/* ---- graphics ----------------------------------------------------------- */

static int graphics_at(qv_domain *dom, unsigned int idx, const qv_domdef_graphics **ret,
                       qv_error **err)
{
    const qv_domdef *def;
    int r = qv_domain_get_def(dom, &def, err);
    if (r < 0)
        return r;
    if (!def->graphics || idx >= def->graphics->len)
        return qv_error_set(err, -EINVAL, "domain '%s' has no graphics device %u (it has %u)",
                            dom->name, idx, def->graphics ? def->graphics->len : 0);
    const qv_domdef_graphics *g = def->graphics->pdata[idx];
    if (g->type != QV_GFX_VNC && g->type != QV_GFX_SPICE)
        return qv_error_set(err, -ENOTSUP, "graphics device %u of domain '%s' is not VNC or "
                            "SPICE, so it takes no clients", idx, dom->name);
    *ret = g;
    return 0;
}

int qv_domain_open_graphics(qv_domain *dom, unsigned int idx, int fd, unsigned int flags,
                            qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_open_graphics(dom, idx, fd, flags, err));
    if (!dom || fd < 0)
        return qv_error_set(err, -EINVAL, "qv_domain_open_graphics: dom and an fd are required");
    if (flags & ~(unsigned)QV_DOMAIN_OPEN_GRAPHICS_SKIPAUTH)
        return qv_error_set(err, -EINVAL, "qv_domain_open_graphics: unsupported flags 0x%x", flags);
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0)
        return r;
    const qv_domdef_graphics *g = NULL;
    if ((r = graphics_at(dom, idx, &g, err)) < 0)
        return r;
    const char *protocol = g->type == QV_GFX_VNC ? "vnc" : "spice";
    qv_qmp *qmp;
    int lock;
    if ((r = qv_domain_qmp_open(dom, &qmp, &lock, err)) < 0)
        return r;
    static const char fdname[] = "qvirt-graphics";
    json_object *args = json_object_new_object();
    json_object_object_add(args, "fdname", json_object_new_string(fdname));
    r = qv_qmp_call_with_fd(qmp, "getfd", args, fd, 0, NULL, err);
    if (r >= 0) {
        args = json_object_new_object();
        json_object_object_add(args, "protocol", json_object_new_string(protocol));
        json_object_object_add(args, "fdname", json_object_new_string(fdname));
        json_object_object_add(args, "skipauth",
                               json_object_new_boolean(flags & QV_DOMAIN_OPEN_GRAPHICS_SKIPAUTH));
        qv_error *lerr = NULL;
        r = qv_qmp_call(qmp, "add_client", args, 0, NULL, &lerr);
        if (r < 0) {
            /* QEMU keeps a getfd'd fd until someone takes it. */
            args = json_object_new_object();
            json_object_object_add(args, "fdname", json_object_new_string(fdname));
            qv_qmp_call(qmp, "closefd", args, 0, NULL, NULL);
            qv_error_prefix(lerr, "cannot add a %s client to domain '%s'", protocol, dom->name);
            qv_error_propagate(err, lerr);
        }
    } else if (err && *err) {
        qv_error_prefix(*err, "cannot pass the %s client socket to domain '%s'", protocol,
                        dom->name);
    }
    qv_domain_qmp_close(qmp, lock);
    return r < 0 ? r : 0;
}

int qv_domain_open_graphics_fd(qv_domain *dom, unsigned int idx, unsigned int flags, int *fd_out,
                               qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_open_graphics_fd(dom, idx, flags, fd_out, err));
    if (!dom || !fd_out)
        return qv_error_set(err, -EINVAL, "qv_domain_open_graphics_fd: dom and fd_out are required");
    *fd_out = -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return qv_error_set_errno(err, -errno, "cannot create a socket pair");
    qv_autoclose int mine = sv[0], theirs = sv[1];
    int r = qv_domain_open_graphics(dom, idx, theirs, flags, err);
    if (r < 0)
        return r;
    *fd_out = qv_steal_fd(&mine);
    return 0;
}

/* ---- display URI --------------------------------------------------------- */

/* QEMU's actual port of a VNC or SPICE display (query-vnc / query-spice),
 * and a SPICE display's TLS port (0: none). */
static int query_port(qv_qmp *qmp, int type, int *port, int *tls_port, qv_error **err)
{
    g_autoptr(json_object) ret = NULL;
    bool vnc = type == QV_GFX_VNC;
    int r = qv_qmp_call(qmp, vnc ? "query-vnc" : "query-spice", NULL, 0, &ret, err);
    if (r < 0)
        return r;
    json_object *v;
    *port = 0;
    *tls_port = 0;
    if (!vnc && json_object_object_get_ex(ret, "tls-port", &v))
        *tls_port = json_object_get_int(v);
    if (vnc && json_object_object_get_ex(ret, "service", &v))
        *port = (int)g_ascii_strtoll(json_object_get_string(v), NULL, 10);
    else if (!vnc && json_object_object_get_ex(ret, "port", &v))
        *port = json_object_get_int(v);
    return 0;
}

int qv_domain_record_graphics_ports(qv_qmp *qmp, qv_domdef *def)
{
    bool seen[2] = { false, false };
    for (guint i = 0; def->graphics && i < def->graphics->len; i++) {
        qv_domdef_graphics *g = def->graphics->pdata[i];
        if ((g->type != QV_GFX_VNC && g->type != QV_GFX_SPICE) || (!g->autoport && g->tls_port != -1) ||
            (g->listen_type && strcmp(g->listen_type, "address")) || seen[g->type])
            continue;
        /* query-vnc and query-spice describe the first display of a kind. */
        seen[g->type] = true;
        int port, tls_port;
        if (query_port(qmp, g->type, &port, &tls_port, NULL) < 0)
            continue;
        if (port > 0)
            g->port = port;
        if (tls_port > 0)
            g->tls_port = tls_port;
    }
    return 0;
}

/* Whether TCP port is free on the host: libvirt's
 * virPortAllocatorBindToPort, a bind on the IPv4 and IPv6 wildcard
 * addresses (SO_REUSEADDR, so a closing connection does not count). */
static bool tcp_port_free(int port)
{
    struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_ANY) };
    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                               .sin6_addr = IN6ADDR_ANY_INIT };
    const struct { int family; const struct sockaddr *sa; socklen_t len; } addrs[] = {
        { AF_INET, (const struct sockaddr *)&a4, sizeof a4 },
        { AF_INET6, (const struct sockaddr *)&a6, sizeof a6 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(addrs); i++) {
        qv_autoclose int s = socket(addrs[i].family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0)
            continue; /* no IPv6 here */
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (addrs[i].family == AF_INET6)
            setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(s, addrs[i].sa, addrs[i].len) < 0 && errno == EADDRINUSE)
            return false;
    }
    return true;
}

int qv_domain_pick_spice_ports(qv_domdef *def, bool spice_tls, qv_error **err)
{
    int next = 5900;
    for (guint i = 0; def->graphics && i < def->graphics->len; i++) {
        qv_domdef_graphics *g = def->graphics->pdata[i];
        if (g->type != QV_GFX_SPICE || !g->autoport || !g->listen_type ||
            strcmp(g->listen_type, "address"))
            continue;
        bool need[2];
        qv_domdef_spice_autoports(g, spice_tls, &need[0], &need[1]);
        if (need[1] && !spice_tls)
            continue; /* the argv builder refuses it, in libvirt's words */
        int *ports[2] = { &g->port, &g->tls_port };
        for (int k = 0; k < 2; k++) {
            if (!need[k])
                continue;
            while (next <= 65535 && !tcp_port_free(next))
                next++;
            if (next > 65535)
                return qv_error_set(err, -EADDRINUSE, "no free TCP port from 5900 up for the "
                                    "SPICE display of domain '%s'", def->name);
            *ports[k] = next++;
        }
    }
    return 0;
}

int qv_domain_set_graphics_passwords(qv_qmp *qmp, const qv_domdef *def, qv_error **err)
{
    for (guint i = 0; def->graphics && i < def->graphics->len; i++) {
        const qv_domdef_graphics *g = def->graphics->pdata[i];
        if (!g->passwd || (g->type != QV_GFX_VNC && g->type != QV_GFX_SPICE))
            continue;
        const char *proto = g->type == QV_GFX_VNC ? "vnc" : "spice";
        json_object *args = json_object_new_object();
        json_object_object_add(args, "protocol", json_object_new_string(proto));
        json_object_object_add(args, "password", json_object_new_string(g->passwd));
        /* VNC accepts only "keep". */
        if (g->type == QV_GFX_SPICE && g->connected)
            json_object_object_add(args, "connected", json_object_new_string(g->connected));
        int r = qv_qmp_call(qmp, "set_password", args, 0, NULL, err);
        long long expiry = qv_domdef_passwd_expiry(g);
        if (r >= 0) {
            args = json_object_new_object();
            json_object_object_add(args, "protocol", json_object_new_string(proto));
            g_autofree char *when = expiry > 0 ? g_strdup_printf("@%lld", expiry) : g_strdup("never");
            json_object_object_add(args, "time", json_object_new_string(when));
            r = qv_qmp_call(qmp, "expire_password", args, 0, NULL, err);
        }
        if (r < 0) {
            if (err && *err)
                qv_error_prefix(*err, "cannot set the %s password of domain '%s'",
                                g->type == QV_GFX_VNC ? "VNC" : "SPICE", def->name);
            return r;
        }
    }
    return 0;
}

static bool wildcard_address(const char *a)
{
    return !a || !*a || !strcmp(a, "0.0.0.0") || !strcmp(a, "::") || !strcmp(a, "[::]");
}

int qv_domain_get_display_uri(qv_domain *dom, const char *type, unsigned int flags, char **ret,
                              qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_display_uri(dom, type, flags, ret, err));
    if (!dom || !ret)
        return qv_error_set(err, -EINVAL, "qv_domain_get_display_uri: dom and ret are required");
    if (flags & ~(unsigned)QV_DOMAIN_DISPLAY_INCLUDE_PASSWORD)
        return qv_error_set(err, -EINVAL, "qv_domain_get_display_uri: unsupported flags 0x%x",
                            flags);
    int want = -1;
    if (type && !strcmp(type, "vnc"))
        want = QV_GFX_VNC;
    else if (type && !strcmp(type, "spice"))
        want = QV_GFX_SPICE;
    else if (type)
        return qv_error_set(err, -EINVAL, "unknown display type '%s' (use vnc or spice)", type);
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0)
        return r;
    const qv_domdef *def;
    if ((r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    /* virsh's order: VNC, then SPICE; displays that listen nowhere have no URI. */
    const qv_domdef_graphics *g = NULL;
    static const int order[] = { QV_GFX_VNC, QV_GFX_SPICE };
    for (size_t k = 0; !g && k < G_N_ELEMENTS(order); k++) {
        if (want >= 0 && order[k] != want)
            continue;
        for (guint i = 0; !g && def->graphics && i < def->graphics->len; i++) {
            const qv_domdef_graphics *c = def->graphics->pdata[i];
            if (c->type == order[k] && !(c->listen_type && !strcmp(c->listen_type, "none")))
                g = c;
        }
    }
    if (!g)
        return qv_error_set(err, -ENOENT, "domain '%s' has no %s%sgraphical display with an "
                            "address", dom->name, type ? type : "", type ? " " : "");
    const char *scheme = g->type == QV_GFX_VNC ? "vnc" : "spice";
    GString *uri = g_string_new(NULL);
    if (g->listen_type && !strcmp(g->listen_type, "socket")) {
        g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
        g_autofree char *path = qv_domdef_display_socket(g, dir);
        g_string_append_printf(uri, "%s+unix://%s", scheme, path);
    } else {
        int port = g->port, tls_port = g->tls_port;
        if (port <= 0) {
            /* Started before the port was recorded: ask QEMU. */
            qv_qmp *qmp;
            int lock;
            if ((r = qv_domain_qmp_open(dom, &qmp, &lock, err)) < 0) {
                g_string_free(uri, TRUE);
                return r;
            }
            r = query_port(qmp, g->type, &port, &tls_port, err);
            qv_domain_qmp_close(qmp, lock);
            if (r < 0) {
                g_string_free(uri, TRUE);
                return r;
            }
        }
        const char *host = wildcard_address(g->listen_address) ? "localhost" : g->listen_address;
        if (!g->listen_address)
            host = "127.0.0.1"; /* the builder's default listen address */
        g_string_append_printf(uri, "%s://", scheme);
        if (g->passwd && (flags & QV_DOMAIN_DISPLAY_INCLUDE_PASSWORD))
            g_string_append_printf(uri, ":%s@", g->passwd);
        g_string_append_printf(uri, strchr(host, ':') ? "[%s]" : "%s", host);
        if (port > 0)
            g_string_append_printf(uri, ":%d", g->type == QV_GFX_VNC ? port - 5900 : port);
        if (g->type == QV_GFX_SPICE && tls_port > 0)
            g_string_append_printf(uri, "?tls-port=%d", tls_port);
    }
    *ret = strdup(uri->str);
    g_string_free(uri, TRUE);
    return 0;
}

/* ==== guest agent, power management, the remaining small calls ============= */

/* The guest agent's small calls (hostname, fstrim, suspend), wakeup, and the
 * calls QEMU answers trivially or not at all (security label, scheduler
 * type, process signals).
 *
 * Before asking the agent, QEMU's query-chardev says whether the guest has
 * opened the agent's virtio-serial port ("frontend-open"), as libvirt learns
 * from VSERPORT_CHANGE: a guest without a running qemu-ga then gives a quick
 * "not connected" instead of a timeout, and a timeout means an agent that
 * is there but does not answer. */
#define QV_AGENT_TIMEOUT_MS 5000
#define QV_AGENT_PROBE_MS 1000
#define QV_AGENT_FSTRIM_TIMEOUT_MS 120000
/* guest-suspend-* sends no reply when it works; this long without an error
 * reply, the suspend is under way. */
#define QV_AGENT_SUSPEND_REPLY_MS 3000
#define QV_SUSPEND_WAIT_MS 60000
#define QV_WAKEUP_WAIT_MS 30000
/* wait_state looks at the state after 5 ms, then ever less often, up to
 * every 100 ms. */
#define QV_STATE_POLL_MIN_MS 5
#define QV_STATE_POLL_MAX_MS 100

static const char agent_channel_name[] = "org.qemu.guest_agent.0";

/* 1 when the guest has the agent's port open, 0 when not. */
static int agent_frontend_open(qv_domain *dom, const char *alias, qv_error **err)
{
    g_autofree char *label = g_strdup_printf("char%s", alias);
    g_autoptr(json_object) list = NULL;
    int r = qv_domain_qmp_call(dom, "query-chardev", NULL, &list, err);
    if (r < 0)
        return r;
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        json_object *e = json_object_array_get_idx(list, i), *v;
        if (!json_object_object_get_ex(e, "label", &v) || strcmp(json_object_get_string(v), label))
            continue;
        return !json_object_object_get_ex(e, "frontend-open", &v) || json_object_get_boolean(v);
    }
    return 1;
}

/* One agent command (args consumed) after the checks above. QEMU forgets
 * that the port is open when its backend was swapped (a forced channel
 * open), so a closed port is confirmed with a short guest-ping before the
 * agent is declared absent. */
static int guest_agent(qv_domain *dom, const char *cmd, json_object *args, int timeout_ms,
                       json_object **ret, qv_error **err)
{
    int r = qv_domain_require_active(dom, NULL, err);
    const qv_domdef *def = NULL;
    if (r >= 0)
        r = qv_domain_get_def(dom, &def, err);
    if (r < 0) {
        json_object_put(args);
        return r;
    }
    for (guint i = 0; i < def->chrs->len; i++) {
        const qv_domdef_chr *c = def->chrs->pdata[i];
        if (c->kind != QV_CHR_CHANNEL || !c->alias || !c->target_name ||
            strcmp(c->target_name, agent_channel_name))
            continue;
        if ((r = agent_frontend_open(dom, c->alias, err)) < 0) {
            json_object_put(args);
            return r;
        }
        if (r == 0) {
            qv_error *lerr = NULL;
            r = qv_domain_agent_call(dom, "guest-ping", NULL, QV_AGENT_PROBE_MS, NULL, &lerr);
            qv_error_free(lerr);
            if (r < 0) {
                json_object_put(args);
                return qv_error_set(err, -ENOTCONN,
                                    "domain '%s': the guest agent is not connected (qemu-ga is "
                                    "not running in the guest, or has not opened its port)",
                                    dom->name);
            }
        }
        break;
    }
    /* Without a channel, this says so. */
    return qv_domain_agent_call(dom, cmd, args, timeout_ms, ret, err);
}

int qv_domain_get_hostname(qv_domain *dom, unsigned int flags, char **ret, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_hostname(dom, flags, ret, err));
    if (!dom || !ret)
        return qv_error_set(err, -EINVAL, "qv_domain_get_hostname: dom and ret are required");
    if (flags & ~(unsigned)(QV_DOMAIN_GET_HOSTNAME_LEASE | QV_DOMAIN_GET_HOSTNAME_AGENT))
        return qv_error_set(err, -EINVAL, "qv_domain_get_hostname: unsupported flags 0x%x", flags);
    if ((flags & QV_DOMAIN_GET_HOSTNAME_LEASE) && (flags & QV_DOMAIN_GET_HOSTNAME_AGENT))
        return qv_error_set(err, -EINVAL, "get_hostname: the lease and agent sources exclude "
                            "each other");
    if (flags & QV_DOMAIN_GET_HOSTNAME_LEASE)
        return qv_error_set(err, -ENOTSUP, "hostnames from DHCP leases come from libvirt's "
                            "virtual networks, which qvirt does not run; use the agent source");
    g_autoptr(json_object) reply = NULL;
    int r = guest_agent(dom, "guest-get-host-name", NULL, QV_AGENT_TIMEOUT_MS, &reply, err);
    if (r < 0)
        return r;
    json_object *v;
    if (!reply || !json_object_object_get_ex(reply, "host-name", &v) ||
        !json_object_is_type(v, json_type_string))
        return qv_error_set(err, -EIO, "domain '%s': the guest agent's guest-get-host-name reply "
                            "has no host-name", dom->name);
    *ret = strdup(json_object_get_string(v));
    return 0;
}

int qv_domain_fs_trim(qv_domain *dom, const char *mountpoint, unsigned long long minimum,
                      unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_fs_trim(dom, mountpoint, minimum, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_fs_trim: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_fs_trim: flags must be 0");
    if (mountpoint)
        return qv_error_set(err, -ENOTSUP, "fs_trim: the guest agent trims every filesystem; "
                            "it cannot be limited to a mount point (%s)", mountpoint);
    json_object *args = NULL;
    if (minimum) {
        args = json_object_new_object();
        json_object_object_add(args, "minimum", json_object_new_int64((int64_t)minimum));
    }
    g_autoptr(json_object) reply = NULL;
    int r = guest_agent(dom, "guest-fstrim", args, QV_AGENT_FSTRIM_TIMEOUT_MS, &reply, err);
    if (r < 0)
        return r;
    /* The agent reports per filesystem; when none could be trimmed, say
     * why in the agent's own words. */
    json_object *paths;
    if (!reply || !json_object_object_get_ex(reply, "paths", &paths) ||
        json_object_array_length(paths) == 0)
        return 0;
    g_autoptr(GString) why = g_string_new(NULL);
    size_t failed = 0, n = json_object_array_length(paths);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(paths, i), *p, *er;
        if (!json_object_object_get_ex(e, "error", &er))
            continue;
        failed++;
        g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "",
                               json_object_object_get_ex(e, "path", &p) ? json_object_get_string(p) : "?",
                               json_object_get_string(er));
    }
    if (failed == n)
        return qv_error_set(err, -EIO, "domain '%s': the guest agent could not trim any "
                            "filesystem: %s", dom->name, why->str);
    return 0;
}

/* Polls the domain state until pred holds or the deadline passes. */
static int wait_state(qv_domain *dom, int want, bool equal, int timeout_ms, int *state)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (int delay = QV_STATE_POLL_MIN_MS;; delay = MIN(delay * 2, QV_STATE_POLL_MAX_MS)) {
        int s = -1;
        if (qv_domain_get_state(dom, &s, NULL, NULL) == 0 && (s == want) == equal) {
            *state = s;
            return 0;
        }
        *state = s;
        if (g_get_monotonic_time() > deadline)
            return -ETIMEDOUT;
        poll(NULL, 0, delay);
    }
}

int qv_domain_pm_suspend_for_duration(qv_domain *dom, unsigned int target,
                                      unsigned long long duration, unsigned int flags,
                                      qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_pm_suspend_for_duration(dom, target, duration, flags, err));
    static const char *const cmds[] = { "guest-suspend-ram", "guest-suspend-disk",
                                        "guest-suspend-hybrid" };
    static const char *const words[] = { "memory", "disk", "memory and disk (hybrid)" };
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_pm_suspend_for_duration: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_pm_suspend_for_duration: flags must be 0");
    if (target > QV_NODE_SUSPEND_TARGET_HYBRID)
        return qv_error_set(err, -EINVAL, "pm suspend: unknown target %u (0 mem, 1 disk, "
                            "2 hybrid)", target);
    if (duration)
        return qv_error_set(err, -ENOTSUP, "pm suspend: QEMU has no wake-up timer for a "
                            "duration; use 0 and wake the guest with pm wakeup");
    int state;
    int r = qv_domain_get_state(dom, &state, NULL, err);
    if (r < 0)
        return r;
    if (state == QV_DOMAIN_SHUTOFF)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    if (state == QV_DOMAIN_PMSUSPENDED)
        return qv_error_set(err, -EINVAL, "domain '%s' is already suspended by its guest",
                            dom->name);
    if (state != QV_DOMAIN_RUNNING)
        return qv_error_set(err, -EINVAL, "domain '%s' must be running to suspend its guest",
                            dom->name);
    const qv_domdef *def;
    if ((r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    bool to_mem = target != QV_NODE_SUSPEND_TARGET_DISK;
    bool to_disk = target != QV_NODE_SUSPEND_TARGET_MEM;
    if (to_mem && def->pm_suspend_to_mem == QV_TRI_OFF)
        return qv_error_set(err, -EINVAL, "domain '%s' has suspend-to-mem disabled "
                            "(<pm><suspend-to-mem enabled='no'/></pm>)", dom->name);
    if (to_disk && def->pm_suspend_to_disk == QV_TRI_OFF)
        return qv_error_set(err, -EINVAL, "domain '%s' has suspend-to-disk disabled "
                            "(<pm><suspend-to-disk enabled='no'/></pm>)", dom->name);
    if (to_mem) {
        g_autoptr(json_object) m = NULL;
        json_object *v;
        if ((r = qv_domain_qmp_call(dom, "query-current-machine", NULL, &m, err)) < 0)
            return r;
        if (json_object_object_get_ex(m, "wakeup-suspend-support", &v) &&
            !json_object_get_boolean(v))
            return qv_error_set(err, -ENOTSUP, "the machine of domain '%s' cannot wake a guest "
                                "from suspend to RAM, so QEMU does not offer it", dom->name);
    }
    qv_error *lerr = NULL;
    r = guest_agent(dom, cmds[target], NULL, QV_AGENT_SUSPEND_REPLY_MS, NULL, &lerr);
    if (r < 0 && r != -ETIMEDOUT)
        return qv_error_propagate(err, lerr);
    qv_error_free(lerr);
    /* Suspended to RAM: pmsuspended; to disk: the guest powers off. */
    int want = target == QV_NODE_SUSPEND_TARGET_DISK ? QV_DOMAIN_SHUTOFF : QV_DOMAIN_PMSUSPENDED;
    if (wait_state(dom, want, true, QV_SUSPEND_WAIT_MS, &state) < 0)
        return qv_error_set(err, -ETIMEDOUT, "domain '%s': the guest did not suspend to %s "
                            "within %d s (the guest agent sent no error)", dom->name,
                            words[target], QV_SUSPEND_WAIT_MS / 1000);
    return 0;
}

int qv_domain_pm_wakeup(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_pm_wakeup(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_pm_wakeup: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_pm_wakeup: flags must be 0");
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0)
        return r;
    if ((r = qv_domain_qmp_call(dom, "system_wakeup", NULL, NULL, err)) < 0)
        return r;
    /* The monitor records the wakeup from QEMU's WAKEUP event. */
    int state;
    if (wait_state(dom, QV_DOMAIN_PMSUSPENDED, false, QV_WAKEUP_WAIT_MS, &state) < 0)
        return qv_error_set(err, -ETIMEDOUT, "domain '%s' was still suspended %d s after "
                            "system_wakeup", dom->name, QV_WAKEUP_WAIT_MS / 1000);
    return 0;
}

/* ---- security, scheduler, signals ------------------------------------------ */

int qv_domain_get_security_label(qv_domain *dom, qv_security_label *label, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_security_label(dom, label, err));
    if (!dom || !label)
        return qv_error_set(err, -EINVAL, "qv_domain_get_security_label: dom and label are required");
    const qv_domdef *def;
    int r = qv_domain_get_def(dom, &def, err);
    if (r < 0)
        return r;
    memset(label, 0, sizeof *label);
    g_strlcpy(label->model, "none", sizeof label->model);
    return 0;
}

int qv_domain_get_security_label_list(qv_domain *dom, qv_security_label **labels, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_security_label_list(dom, labels, err));
    if (!dom || !labels)
        return qv_error_set(err, -EINVAL,
                            "qv_domain_get_security_label_list: dom and labels are required");
    qv_security_label *l = calloc(1, sizeof *l);
    if (!l)
        return qv_error_set(err, -ENOMEM, "out of memory");
    int r = qv_domain_get_security_label(dom, l, err);
    if (r < 0) {
        free(l);
        return r;
    }
    *labels = l;
    return 1;
}

int qv_domain_get_scheduler_type(qv_domain *dom, int *nparams, char **ret, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_scheduler_type(dom, nparams, ret, err));
    if (!dom || !ret)
        return qv_error_set(err, -EINVAL, "qv_domain_get_scheduler_type: dom and ret are required");
    const qv_domdef *def;
    int r = qv_domain_get_def(dom, &def, err);
    if (r < 0)
        return r;
    /* cpu_shares, vcpu_period, vcpu_quota, emulator_period, emulator_quota,
     * global_period, global_quota, iothread_period, iothread_quota. */
    if (nparams)
        *nparams = 9;
    *ret = strdup("posix");
    return 0;
}

int qv_domain_send_process_signal(qv_domain *dom, long long pid_value, unsigned int signum,
                                  unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_send_process_signal(dom, pid_value, signum, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_send_process_signal: dom is required");
    return qv_error_set(err, -ENOTSUP,
                        "sending signals to processes inside the guest is for container drivers; "
                        "QEMU has no such operation (use the guest agent's guest-exec to run kill)");
}
