/* Character devices: the -chardev backend (key=value, QEMU 7.2 has no JSON
 * -chardev) and the serial, parallel, console and channel front ends. */
#include <string.h>

#include "domxml-priv.h"

/* QMP arguments are json-c objects; keys are string literals, which json-c
 * need not copy. */
static void json_set_str(json_object *o, const char *key, const char *value)
{
    if (value)
        json_object_object_add_ex(o, key, json_object_new_string(value), JSON_C_OBJECT_KEY_IS_CONSTANT);
}

static void json_set_int(json_object *o, const char *key, long long value)
{
    json_object_object_add_ex(o, key, json_object_new_int64(value), JSON_C_OBJECT_KEY_IS_CONSTANT);
}

static void json_set_bool(json_object *o, const char *key, bool value)
{
    json_object_object_add_ex(o, key, json_object_new_boolean(value), JSON_C_OBJECT_KEY_IS_CONSTANT);
}

static json_object *inet_addr(const char *host, const char *port)
{
    json_object *d = json_object_new_object();
    json_set_str(d, "host", host ? host : "127.0.0.1");
    json_set_str(d, "port", port ? port : "0");
    json_object *a = json_object_new_object();
    json_set_str(a, "type", "inet");
    json_object_object_add(a, "data", d);
    return a;
}

/* TLS on a TCP chardev, as libvirt 9.0's qemuBuildTLSx509CommandLine:
 * a tls-creds-x509 object "obj<id>_tls0" on the host's credentials (a
 * client always checks the server's certificate; a server checks its
 * clients' unless the host says not to), added before the chardev that
 * names it. NULL: no TLS. */
static char *add_tls_creds(qv_cmdline *cl, const qv_domdef_chr_source *src, const char *id)
{
    const qv_build_ctx *ctx = cl->ctx;
    if (src->type != QV_CHR_TCP || !(src->tls == QV_TRI_ON || (!src->tls && ctx && ctx->chardev_tls)))
        return NULL;
    char *obj = g_strdup_printf("obj%s_tls0", id);
    qv_jobj *o = qv_jobj_new(cl);
    qv_json_set_str(o, "qom-type", "tls-creds-x509");
    qv_json_set_str(o, "id", obj);
    qv_json_set_str(o, "dir", ctx && ctx->chardev_tls_x509_dir ? ctx->chardev_tls_x509_dir : "/etc/pki/qemu");
    qv_json_set_str(o, "endpoint", src->bind ? "server" : "client");
    qv_json_set_bool(o, "verify-peer", !src->bind || !ctx || !ctx->chardev_tls_no_verify);
    qv_cmdline_add_json(cl, "-object", o);
    return obj;
}

/* QMP's chardev-add wants the ChardevBackend union, not the -chardev keys:
 * the same settings as qv_cmdline_add_chardev, spelled for QMP. */
int qv_chardev_backend_json(qv_cmdline *cl, const qv_domdef_chr_source *src, const char *id,
                            const char *default_socket_name, json_object **ret, qv_error **err)
{
    const char *runtime_dir = cl->ctx ? cl->ctx->runtime_dir : NULL;
    g_autoptr(json_object) data = json_object_new_object();
    const char *type = NULL;
    switch (src->type) {
    case QV_CHR_PTY: type = "pty"; break;
    case QV_CHR_NULL: type = "null"; break;
    case QV_CHR_FILE: {
        type = "file";
        int flags = O_WRONLY | O_CREAT | (src->append == QV_TRI_ON ? O_APPEND : O_TRUNC);
        g_autofree char *file = qv_cmdline_file(cl, src->path, flags, id, err);
        if (!file)
            return -EINVAL;
        json_set_str(data, "out", file);
        if (src->append)
            json_set_bool(data, "append", src->append == QV_TRI_ON);
        break;
    }
    case QV_CHR_UNIX: case QV_CHR_TCP: {
        type = "socket";
        bool bind = src->bind;
        json_object *addr;
        if (src->type == QV_CHR_UNIX) {
            g_autofree char *path = g_strdup(src->path);
            if (!path) {
                if (!default_socket_name || !runtime_dir)
                    return qv_error_set(err, -EINVAL, "The unix character device %s needs a source path.", id);
                path = g_strdup_printf("%s/%s", runtime_dir, default_socket_name);
                bind = true;
            }
            /* QEMU gets the socket made, unless it is to reconnect. */
            g_autofree char *fdname = NULL;
            if ((bind || !src->reconnect) && qv_cmdline_socket(cl, path, id, bind, &fdname, err) < 0)
                return -EINVAL;
            json_object *d = json_object_new_object();
            json_set_str(d, fdname ? "str" : "path", fdname ? fdname : path);
            addr = json_object_new_object();
            json_set_str(addr, "type", fdname ? "fd" : "unix");
            json_object_object_add(addr, "data", d);
        } else {
            addr = inet_addr(src->host, src->service);
            if (src->telnet)
                json_set_bool(data, "telnet", true);
            g_autofree char *tls = add_tls_creds(cl, src, id);
            if (tls)
                json_set_str(data, "tls-creds", tls);
        }
        json_object_object_add(data, "addr", addr);
        json_set_bool(data, "server", bind);
        if (bind)
            json_set_bool(data, "wait", false);
        else if (src->reconnect)
            json_set_int(data, "reconnect", src->reconnect);
        break;
    }
    case QV_CHR_UDP:
        type = "udp";
        json_object_object_add(data, "remote", inet_addr(src->host, src->service));
        if (src->bind_host || src->bind_service)
            json_object_object_add(data, "local", inet_addr(src->bind_host, src->bind_service));
        break;
    case QV_CHR_PIPE: case QV_CHR_DEV:
        type = src->type == QV_CHR_PIPE ? "pipe" : "serial";
        json_set_str(data, "device", src->path);
        break;
    default:
        return qv_error_set(err, -EOPNOTSUPP, "The character device %s has a source type that cannot be hotplugged.", id);
    }
    if (src->log_file) {
        int flags = O_WRONLY | O_CREAT | (src->log_append == QV_TRI_ON ? O_APPEND : O_TRUNC);
        g_autofree char *opaque = g_strdup_printf("%s-log", id);
        g_autofree char *log = qv_cmdline_file(cl, src->log_file, flags, opaque, err);
        if (!log)
            return -EINVAL;
        json_set_str(data, "logfile", log);
        if (src->log_append)
            json_set_bool(data, "logappend", src->log_append == QV_TRI_ON);
    }
    json_object *b = json_object_new_object();
    json_set_str(b, "type", type);
    json_object_object_add(b, "data", g_steal_pointer(&data));
    *ret = b;
    return 0;
}

int qv_cmdline_add_chardev(qv_cmdline *cl, const qv_domdef_chr_source *src, const char *id,
                           const char *default_socket_name, qv_error **err)
{
    if (cl->capture) {
        json_object *backend = NULL;
        if (qv_chardev_backend_json(cl, src, id, default_socket_name, &backend, err) < 0)
            return -EINVAL;
        json_object *o = json_object_new_object();
        json_object_object_add_ex(o, "id", json_object_new_string(id), JSON_C_OBJECT_KEY_IS_CONSTANT);
        json_object_object_add_ex(o, "backend", backend, JSON_C_OBJECT_KEY_IS_CONSTANT);
        qv_cmdline_capture(cl, "-chardev", o);
        return 0;
    }
    GString *s = g_string_new(NULL);
    const char *backend = NULL;
    switch (src->type) {
    case QV_CHR_PTY: backend = "pty"; break;
    case QV_CHR_FILE: backend = "file"; break;
    case QV_CHR_UNIX: case QV_CHR_TCP: backend = "socket"; break;
    case QV_CHR_UDP: backend = "udp"; break;
    case QV_CHR_NULL: backend = "null"; break;
    case QV_CHR_VC: backend = "vc"; break;
    case QV_CHR_STDIO: backend = "stdio"; break;
    case QV_CHR_PIPE: backend = "pipe"; break;
    case QV_CHR_DEV: backend = "tty"; break;
    case QV_CHR_SPICEVMC: backend = "spicevmc"; break;
    case QV_CHR_SPICEPORT: backend = "spiceport"; break;
    case QV_CHR_QEMU_VDAGENT: backend = "qemu-vdagent"; break;
    }
    g_string_append(s, backend);
    qv_opt_append(s, "id", id);
    switch (src->type) {
    case QV_CHR_FILE: {
        /* QEMU truncates unless told to append: so does the opener. */
        int flags = O_WRONLY | O_CREAT | (src->append == QV_TRI_ON ? O_APPEND : O_TRUNC);
        g_autofree char *file = qv_cmdline_file(cl, src->path, flags, id, err);
        if (!file) {
            g_string_free(s, TRUE);
            return -EINVAL;
        }
        qv_opt_append(s, "path", file);
        if (src->append)
            g_string_append_printf(s, ",append=%s", src->append == QV_TRI_ON ? "on" : "off");
        break;
    }
    case QV_CHR_PIPE: case QV_CHR_DEV:
        qv_opt_append(s, "path", src->path);
        break;
    case QV_CHR_UNIX: {
        g_autofree char *gen = NULL;
        const char *path = src->path;
        bool bind = src->bind;
        if (!path) {
            if (!default_socket_name) {
                g_string_free(s, TRUE);
                return qv_error_set(err, -EINVAL, "The unix character device %s needs a source path.", id);
            }
            gen = g_strconcat(cl->ctx->runtime_dir, "/", default_socket_name, NULL);
            path = gen;
            bind = true;
        }
        /* QEMU gets the socket made, unless it is to reconnect. */
        g_autofree char *fd = NULL;
        if ((bind || !src->reconnect) && qv_cmdline_socket(cl, path, id, bind, &fd, err) < 0) {
            g_string_free(s, TRUE);
            return -EINVAL;
        }
        if (fd)
            g_string_append_printf(s, ",fd=%s", fd);
        else
            qv_opt_append(s, "path", path);
        if (bind)
            g_string_append(s, ",server=on,wait=off");
        else if (src->reconnect)
            g_string_append_printf(s, ",reconnect=%u", src->reconnect);
        break;
    }
    case QV_CHR_TCP: {
        qv_opt_append(s, "host", src->host ? src->host : "127.0.0.1");
        qv_opt_append(s, "port", src->service);
        if (src->telnet)
            g_string_append(s, ",telnet=on");
        if (src->bind)
            g_string_append(s, ",server=on,wait=off");
        else if (src->reconnect)
            g_string_append_printf(s, ",reconnect=%u", src->reconnect);
        g_autofree char *tls = add_tls_creds(cl, src, id);
        if (tls)
            qv_opt_append(s, "tls-creds", tls);
        break;
    }
    case QV_CHR_UDP:
        qv_opt_append(s, "host", src->host ? src->host : "127.0.0.1");
        qv_opt_append(s, "port", src->service);
        if (src->bind_host)
            qv_opt_append(s, "localaddr", src->bind_host);
        if (src->bind_service)
            qv_opt_append(s, "localport", src->bind_service);
        break;
    case QV_CHR_SPICEVMC:
        g_string_append(s, ",name=vdagent");
        break;
    case QV_CHR_SPICEPORT:
        qv_opt_append(s, "name", src->channel);
        break;
    case QV_CHR_QEMU_VDAGENT:
        /* As libvirt 9.0: the clipboard as given, the mouse on in client mode. */
        g_string_append(s, ",name=vdagent");
        if (src->clipboard)
            g_string_append_printf(s, ",clipboard=%s", src->clipboard == QV_TRI_ON ? "on" : "off");
        if (src->mouse_mode)
            g_string_append_printf(s, ",mouse=%s", !strcmp(src->mouse_mode, "client") ? "on" : "off");
        break;
    default:
        break;
    }
    if (src->log_file) {
        int flags = O_WRONLY | O_CREAT | (src->log_append == QV_TRI_ON ? O_APPEND : O_TRUNC);
        g_autofree char *opaque = g_strdup_printf("%s-log", id);
        g_autofree char *log = qv_cmdline_file(cl, src->log_file, flags, opaque, err);
        if (!log) {
            g_string_free(s, TRUE);
            return -EINVAL;
        }
        qv_opt_append(s, "logfile", log);
        if (src->log_append)
            g_string_append_printf(s, ",logappend=%s", src->log_append == QV_TRI_ON ? "on" : "off");
    }
    qv_cmdline_add(cl, "-chardev");
    g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
    return 0;
}

int qv_cmdline_add_chr(qv_cmdline *cl, const qv_domdef_chr *c, qv_error **err)
{
    g_autofree char *chr_id = qv_strcat2("char", c->alias);
    g_autofree char *sock = NULL;
    if (c->kind == QV_CHR_CHANNEL && c->target_name)
        sock = qv_strcat2(c->target_name, ".sock");
    else
        sock = qv_strcat2(c->alias, ".sock");
    qv_jobj *dev = NULL;
    switch (c->kind) {
    case QV_CHR_SERIAL:
        if (qv_cmdline_add_chardev(cl, &c->src, chr_id, sock, err) < 0)
            return -EINVAL;
        if (!strcmp(c->target_type, "isa-serial")) {
            dev = qv_json_device(cl, "isa-serial", c->alias);
            qv_json_set_str(dev, "chardev", chr_id);
            qv_json_set_int(dev, "index", c->target_port);
        } else if (!strcmp(c->target_type, "pci-serial")) {
            dev = qv_json_device(cl, "pci-serial", c->alias);
            qv_json_set_str(dev, "chardev", chr_id);
        } else {
            dev = qv_json_device(cl, "usb-serial", c->alias);
            qv_json_set_str(dev, "chardev", chr_id);
        }
        break;
    case QV_CHR_PARALLEL:
        if (qv_cmdline_add_chardev(cl, &c->src, chr_id, sock, err) < 0)
            return -EINVAL;
        dev = qv_json_device(cl, "isa-parallel", c->alias);
        qv_json_set_str(dev, "chardev", chr_id);
        qv_json_set_int(dev, "index", c->target_port);
        break;
    case QV_CHR_CONSOLE:
        if (!strcmp(c->target_type, "serial"))
            return 0;   /* the same device as serial0 */
        if (qv_cmdline_add_chardev(cl, &c->src, chr_id, sock, err) < 0)
            return -EINVAL;
        dev = qv_json_device(cl, "virtconsole", c->alias);
        qv_json_set_str(dev, "bus", "virtio-serial0.0");
        qv_json_set_int(dev, "nr", c->target_port);
        qv_json_set_str(dev, "chardev", chr_id);
        break;
    case QV_CHR_CHANNEL: {
        if (qv_cmdline_add_chardev(cl, &c->src, chr_id, sock, err) < 0)
            return -EINVAL;
        if (!strcmp(c->target_type, "guestfwd")) {
            /* libvirt 9.0: a user-mode netdev of the channel's own, whose
             * guestfwd rule sends the guest's connections to the chardev. */
            qv_jobj *nd = qv_jobj_new(cl);
            g_autofree char *rule = g_strdup_printf("tcp:%s:%d-chardev:%s", c->target_address,
                                                    c->target_port, chr_id);
            qv_json_set_str(nd, "type", "user");
            qv_json_open_list(nd, "guestfwd");
            qv_json_open_item(nd);
            qv_json_set_str(nd, "str", rule);
            qv_json_close(nd);
            qv_json_close_list(nd);
            qv_json_set_str(nd, "id", c->alias);
            qv_cmdline_add_json(cl, "-netdev", nd);
            return 0;
        }
        dev = qv_json_device(cl, "virtserialport", c->alias);
        g_autofree char *bus = qv_strdup_uints("virtio-serial", '.', 2,
                                               (const unsigned int[]){ c->addr.controller, c->addr.bus });
        if (!qv_domdef_find_controller(cl->def, QV_CTRL_VIRTIO_SERIAL, c->addr.controller)) {
            qv_jobj_free(dev);
            return qv_error_set(err, -EINVAL, "Channel %s is on virtio-serial controller %u, which does not exist.", c->alias, c->addr.controller);
        }
        qv_json_set_str(dev, "bus", bus);
        qv_json_set_int(dev, "nr", c->addr.port);
        qv_json_set_str(dev, "chardev", chr_id);
        qv_json_set_str(dev, "name", c->target_name ? c->target_name : "com.redhat.spice.0");
        break;
    }
    }
    if (c->kind == QV_CHR_SERIAL && (strcmp(c->target_type, "isa-serial"))) {
        if (qv_cmdline_set_address(cl, dev, &c->addr, "serial port", err) < 0) {
            qv_jobj_free(dev);
            return -EINVAL;
        }
    }
    qv_cmdline_add_json(cl, "-device", dev);
    return 0;
}

int qv_cmdline_add_chrs(qv_cmdline *cl, qv_error **err)
{
    static const int order[] = { QV_CHR_SERIAL, QV_CHR_PARALLEL, QV_CHR_CONSOLE, QV_CHR_CHANNEL };
    for (size_t k = 0; k < G_N_ELEMENTS(order); k++)
        for (guint i = 0; i < cl->def->chrs->len; i++) {
            qv_domdef_chr *c = g_ptr_array_index(cl->def->chrs, i);
            if (c->kind == order[k] && qv_cmdline_add_chr(cl, c, err) < 0)
                return -EINVAL;
        }
    return 0;
}
