/* Device parsers: one function per device element of <devices>. */
#include <string.h>

#include "domxml-priv.h"

static inline bool name_is(const xmlNode *n, const char *name)
{
    return qv_streq((const char *)n->name, name);
}

#define FOR_EACH_CHILD(c, parent) \
    for (xmlNode *c = (parent)->children; c; c = c->next) \
        if (c->type == XML_ELEMENT_NODE)

void qv_parse_alias(const xmlNode *dev, unsigned int flags, char **alias)
{
    xmlNode *a = qv_xml_child(dev, "alias");
    if (!a)
        return;
    g_autofree char *name = qv_xml_prop(a, "name");
    /* User aliases (ua-*) are configuration; others are runtime facts. */
    if (name && ((flags & QV_DOMXML_PARSE_STATUS) || g_str_has_prefix(name, "ua-"))) {
        g_free(*alias);
        *alias = g_steal_pointer(&name);
    }
}

static int addr_field(const xmlNode *n, const char *name, unsigned int max, unsigned int *out,
                      qv_error **err)
{
    int r = qv_xml_prop_uint(n, name, out, err);
    if (r > 0 && *out > max)
        return qv_xml_attr_error(err, n, name, "%u is out of range (max %u)", *out, max);
    return r < 0 ? r : 0;
}

int qv_parse_address(const xmlNode *dev, qv_domdef_addr *addr, qv_error **err)
{
    xmlNode *a = qv_xml_child(dev, "address");
    if (!a)
        return 0;
    g_autofree char *type = qv_xml_prop(a, "type");
    if (!type)
        return qv_xml_error(err, a, "missing address type");
    if (!strcmp(type, "pci")) {
        addr->type = QV_ADDR_PCI;
        if (addr_field(a, "domain", 0, &addr->domain, err) < 0 ||
            addr_field(a, "bus", 255, &addr->bus, err) < 0 ||
            addr_field(a, "slot", 31, &addr->slot, err) < 0 ||
            addr_field(a, "function", 7, &addr->function, err) < 0 ||
            qv_xml_prop_tristate(a, "multifunction", &addr->multifunction, err) < 0)
            return -EINVAL;
    } else if (!strcmp(type, "drive")) {
        addr->type = QV_ADDR_DRIVE;
        if (addr_field(a, "controller", 255, &addr->controller, err) < 0 ||
            addr_field(a, "bus", 255, &addr->bus, err) < 0 ||
            addr_field(a, "target", 255, &addr->target, err) < 0 ||
            addr_field(a, "unit", 16383, &addr->unit, err) < 0)
            return -EINVAL;
    } else if (!strcmp(type, "virtio-serial")) {
        addr->type = QV_ADDR_VIRTIO_SERIAL;
        if (addr_field(a, "controller", 255, &addr->controller, err) < 0 ||
            addr_field(a, "bus", 0, &addr->bus, err) < 0 ||
            addr_field(a, "port", 31, &addr->port, err) < 0)
            return -EINVAL;
    } else if (!strcmp(type, "usb")) {
        addr->type = QV_ADDR_USB;
        if (addr_field(a, "bus", 255, &addr->bus, err) < 0)
            return -EINVAL;
        qv_set_str(&addr->usb_port, qv_xml_prop(a, "port"));
        if (addr->usb_port && (!*addr->usb_port ||
                               strspn(addr->usb_port, "0123456789.") != strlen(addr->usb_port)))
            return qv_xml_attr_error(err, a, "port", "'%s' is not a USB port path", addr->usb_port);
    } else if (!strcmp(type, "isa")) {
        addr->type = QV_ADDR_ISA;
        if (addr_field(a, "iobase", 65535, &addr->port, err) < 0 ||
            addr_field(a, "irq", 255, &addr->irq, err) < 0)
            return -EINVAL;
    } else if (!strcmp(type, "ccid")) {
        addr->type = QV_ADDR_CCID;
        if (addr_field(a, "controller", 255, &addr->controller, err) < 0 ||
            addr_field(a, "slot", 255, &addr->slot, err) < 0)
            return -EINVAL;
    } else if (!strcmp(type, "dimm")) {
        addr->type = QV_ADDR_DIMM;
        if (addr_field(a, "slot", 255, &addr->slot, err) < 0 ||
            qv_xml_prop_ull(a, "base", &addr->base, err) < 0)
            return -EINVAL;
    } else {
        return qv_xml_attr_error(err, a, "type", "unsupported address type '%s'", type);
    }
    return 0;
}

static int common_tail(const xmlNode *dev, unsigned int flags, qv_domdef_addr *addr, char **alias,
                       qv_error **err)
{
    if (addr && qv_parse_address(dev, addr, err) < 0)
        return -EINVAL;
    if (!addr && qv_xml_child(dev, "address"))
        return qv_xml_error(err, qv_xml_child(dev, "address"), "this device takes no address");
    if (alias)
        qv_parse_alias(dev, flags, alias);
    return 0;
}

static bool is_common(const xmlNode *c)
{
    return name_is(c, "address") || name_is(c, "alias");
}

/* ---- character device sources ---- */
int qv_parse_chr_source(const xmlNode *dev, qv_domdef_chr_source *src, const char *type,
                        qv_error **err)
{
    static const char *const types[] = { "pty", "file", "unix", "tcp", "udp", "null", "vc",
                                         "stdio", "pipe", "dev", "spicevmc", "spiceport",
                                         "qemu-vdagent", NULL };
    int t = -1;
    for (int i = 0; types[i]; i++)
        if (!strcmp(types[i], type))
            t = i;
    if (t < 0)
        return qv_xml_attr_error(err, dev, "type", "unsupported character device type '%s'", type);
    src->type = t;
    FOR_EACH_CHILD(c, dev) {
        if (name_is(c, "source")) {
            g_autofree char *mode = qv_xml_prop(c, "mode");
            if (mode && strcmp(mode, "bind") && strcmp(mode, "connect"))
                return qv_xml_attr_error(err, c, "mode", "unsupported mode '%s'", mode);
            bool bind = mode && !strcmp(mode, "bind");
            if (t == QV_CHR_SPICEPORT) {
                qv_set_str(&src->channel, qv_xml_prop(c, "channel"));
                continue;
            }
            if (t == QV_CHR_QEMU_VDAGENT) {
                static const char *const modes[] = { "client", "server", NULL };
                xmlNode *cb = qv_xml_child(c, "clipboard"), *mouse = qv_xml_child(c, "mouse");
                if ((cb && qv_xml_prop_tristate(cb, "copypaste", &src->clipboard, err) < 0) ||
                    (mouse && qv_xml_prop_enum(mouse, "mode", modes, &src->mouse_mode, err) < 0))
                    return -EINVAL;
                continue;
            }
            if (t == QV_CHR_UDP && bind) {
                qv_set_str(&src->bind_host, qv_xml_prop(c, "host"));
                qv_set_str(&src->bind_service, qv_xml_prop(c, "service"));
                continue;
            }
            if (t == QV_CHR_UNIX || t == QV_CHR_TCP)
                src->bind = mode ? bind : (t == QV_CHR_UNIX ? false : false);
            qv_set_str(&src->path, qv_xml_prop(c, "path"));
            qv_set_str(&src->host, qv_xml_prop(c, "host"));
            qv_set_str(&src->service, qv_xml_prop(c, "service"));
            if (qv_xml_prop_tristate(c, "append", &src->append, err) < 0)
                return -EINVAL;
            /* TLS on a TCP chardev: QEMU's tls-creds-x509 with the host's
             * credentials (qv_build_ctx.chardev_tls_x509_dir), as libvirt. */
            if (qv_xml_prop_tristate(c, "tls", &src->tls, err) < 0)
                return -EINVAL;
            if (src->tls && t != QV_CHR_TCP)
                return qv_xml_attr_error(err, c, "tls", "TLS is only for character devices of type 'tcp'");
            xmlNode *rc = qv_xml_child(c, "reconnect");
            if (rc) {
                int en = QV_TRI_ABSENT;
                if (qv_xml_prop_tristate(rc, "enabled", &en, err) < 0 ||
                    qv_xml_prop_uint(rc, "timeout", &src->reconnect, err) < 0)
                    return -EINVAL;
                if (en != QV_TRI_ON)
                    src->reconnect = 0;
            }
        } else if (name_is(c, "protocol")) {
            g_autofree char *p = qv_xml_prop(c, "type");
            if (p && strcmp(p, "raw") && strcmp(p, "telnet"))
                return qv_xml_attr_error(err, c, "type", "unsupported protocol '%s'", p);
            src->telnet = p && !strcmp(p, "telnet");
        } else if (name_is(c, "log")) {
            qv_set_str(&src->log_file, qv_xml_prop(c, "file"));
            if (qv_xml_prop_tristate(c, "append", &src->log_append, err) < 0)
                return -EINVAL;
            if (!src->log_file)
                return qv_xml_error(err, c, "missing file attribute");
        }
    }
    if (t == QV_CHR_UNIX && !src->path)
        src->bind = true;   /* a generated socket in the runtime directory */
    switch (t) {
    case QV_CHR_FILE: case QV_CHR_PIPE: case QV_CHR_DEV:
        if (!src->path)
            return qv_xml_error(err, dev, "a '%s' character device needs <source path=...>", type);
        break;
    case QV_CHR_TCP:
        if (!src->service)
            return qv_xml_error(err, dev, "a tcp character device needs <source service=...>");
        break;
    case QV_CHR_UDP:
        if (!src->service)
            return qv_xml_error(err, dev, "a udp character device needs <source mode='connect' service=...>");
        break;
    case QV_CHR_SPICEPORT:
        if (!src->channel)
            return qv_xml_error(err, dev, "a spiceport character device needs <source channel=...>");
        if (strspn(src->channel, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(src->channel))
            return qv_xml_error(err, dev, "spiceport channel '%s' has characters other than letters, digits, '.', '_', '-'", src->channel);
        break;
    case QV_CHR_PTY:
        break;
    default:
        break;
    }
    return 0;
}

/* ---- disks ---- */
static int parse_disk_host(const xmlNode *h, char **name, char **port, char **transport,
                           char **socket, qv_error **err)
{
    qv_set_str(name, qv_xml_prop(h, "name"));
    qv_set_str(port, qv_xml_prop(h, "port"));
    qv_set_str(transport, qv_xml_prop(h, "transport"));
    qv_set_str(socket, qv_xml_prop(h, "socket"));
    if (*transport && strcmp(*transport, "tcp") && strcmp(*transport, "unix"))
        return qv_xml_attr_error(err, h, "transport", "unsupported transport '%s'", *transport);
    if (*port && (!**port || strspn(*port, "0123456789") != strlen(*port)))
        return qv_xml_attr_error(err, h, "port", "'%s' is not a port number", *port);
    return 0;
}

/* <secret type usage|uuid/> of <auth> or <encryption>. */
static int parse_secret_ref(const xmlNode *owner, const char *const *types, char **type,
                            char **usage, char **uuid, qv_error **err)
{
    xmlNode *s = qv_xml_child(owner, "secret");
    if (!s)
        return qv_xml_error(err, owner, "<%s> needs a <secret>", (const char *)owner->name);
    if (qv_xml_prop_enum(s, "type", types, type, err) < 0)
        return -EINVAL;
    qv_set_str(usage, qv_xml_prop(s, "usage"));
    qv_set_str(uuid, qv_xml_prop(s, "uuid"));
    if (!*usage == !*uuid)
        return qv_xml_error(err, s, "a <secret> names the secret by usage or by uuid, one of them");
    unsigned char u[16];
    if (*uuid) {
        if (qv_uuid_parse(*uuid, u) < 0)
            return qv_xml_attr_error(err, s, "uuid", "'%s' is not a UUID", *uuid);
        char canon[37];
        qv_uuid_format(u, canon);
        qv_set_str(uuid, g_strdup(canon));
    }
    return 0;
}

static int parse_disk_auth(const xmlNode *a, qv_domdef_disk_src *src, bool in_disk, qv_error **err)
{
    static const char *const types[] = { "ceph", "iscsi", "vtpm", NULL };
    if (src->type != QV_DISK_TYPE_NETWORK)
        return qv_xml_error(err, a, "<auth> is only for network disks");
    qv_set_str(&src->auth_username, qv_xml_prop(a, "username"));
    if (!src->auth_username)
        return qv_xml_error(err, a, "<auth> needs a username");
    if (parse_secret_ref(a, types, &src->auth_type, &src->auth_usage, &src->auth_uuid, err) < 0)
        return -EINVAL;
    src->auth_in_disk = in_disk;
    return 0;
}

static int parse_disk_encryption(const xmlNode *e, qv_domdef_disk_src *src, bool in_disk, qv_error **err)
{
    static const char *const formats[] = { "luks", "luks2", "qcow", "default", NULL };
    static const char *const engines[] = { "qemu", "librbd", NULL };
    static const char *const types[] = { "passphrase", NULL };
    if (qv_xml_prop_enum(e, "format", formats, &src->enc_format, err) < 0 ||
        qv_xml_prop_enum(e, "engine", engines, &src->enc_engine, err) < 0)
        return -EINVAL;
    if (!src->enc_format || strcmp(src->enc_format, "luks"))
        return qv_xml_attr_error(err, e, "format", "only LUKS encryption (format='luks') is supported by QEMU's own engine");
    if (src->enc_engine && strcmp(src->enc_engine, "qemu"))
        return qv_xml_attr_error(err, e, "engine", "only QEMU's own LUKS engine (engine='qemu') is supported");
    g_autofree char *type = NULL;
    if (parse_secret_ref(e, types, &type, &src->enc_usage, &src->enc_uuid, err) < 0)
        return -EINVAL;
    src->enc_in_disk = in_disk;
    return 0;
}

/* The elements of a network <source> besides <host>, checked against the
 * protocols that have them, as libvirt's validation does. */
static int parse_network_source_extras(const xmlNode *n, qv_domdef_disk_src *src, qv_error **err)
{
    const char *p = src->protocol;
    bool curl = !strcmp(p, "http") || !strcmp(p, "https") || !strcmp(p, "ftp") || !strcmp(p, "ftps");
    FOR_EACH_CHILD(c, n) {
        if (name_is(c, "host")) {
            continue;
        } else if (name_is(c, "auth")) {
            if (strcmp(p, "rbd") && strcmp(p, "iscsi") && !curl)
                return qv_xml_error(err, c, "<auth> is only for rbd, iscsi, http, https, ftp and ftps disks");
            if (parse_disk_auth(c, src, false, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "encryption")) {
            if (parse_disk_encryption(c, src, false, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "cookies")) {
            return qv_xml_error(err, c, "<cookies> is not supported: libvirt passes cookies to QEMU as secrets, which qvirt does only for <auth> and <encryption>");
        } else if (name_is(c, "ssl")) {
            if (strcmp(p, "https") && strcmp(p, "ftps"))
                return qv_xml_error(err, c, "<ssl> is only for https and ftps disks");
            if (qv_xml_prop_tristate(c, "verify", &src->ssl_verify, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "readahead") || name_is(c, "timeout")) {
            bool ra = name_is(c, "readahead");
            unsigned long long v = 0;
            if (!curl)
                return qv_xml_error(err, c, "<%s> is only for http, https, ftp and ftps disks", ra ? "readahead" : "timeout");
            int r = qv_xml_prop_ull(c, ra ? "size" : "seconds", &v, err);
            if (r < 0)
                return r;
            if (r == 0 || v == 0)
                return qv_xml_error(err, c, "<%s> needs a %s greater than 0", ra ? "readahead" : "timeout", ra ? "size" : "seconds");
            *(ra ? &src->readahead : &src->timeout) = v;
        } else if (name_is(c, "snapshot") || name_is(c, "config")) {
            bool snap = name_is(c, "snapshot");
            if (strcmp(p, "rbd"))
                return qv_xml_error(err, c, "<%s> is only for rbd disks", snap ? "snapshot" : "config");
            char *v = qv_xml_prop(c, snap ? "name" : "file");
            if (!v)
                return qv_xml_error(err, c, "<%s> needs a %s", snap ? "snapshot" : "config", snap ? "name" : "file");
            qv_set_str(snap ? &src->snapshot : &src->config_file, v);
        } else if (name_is(c, "identity")) {
            if (strcmp(p, "nfs"))
                return qv_xml_error(err, c, "<identity> is only for nfs disks");
            qv_set_str(&src->nfs_user, qv_xml_prop(c, "user"));
            qv_set_str(&src->nfs_group, qv_xml_prop(c, "group"));
            /* QEMU takes numbers; names would need the host's user database. */
            const char *ids[] = { src->nfs_user, src->nfs_group };
            for (int i = 0; i < 2; i++) {
                const char *v = ids[i] && ids[i][0] == '+' ? ids[i] + 1 : ids[i];
                if (v && (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 9))
                    return qv_xml_attr_error(err, c, i ? "group" : "user", "'%s' is not a numeric id (+N); qvirt does not look names up", ids[i]);
            }
        } else if (name_is(c, "initiator")) {
            if (strcmp(p, "iscsi"))
                return qv_xml_error(err, c, "<initiator> is only for iscsi disks");
            xmlNode *iqn = qv_xml_child(c, "iqn");
            if (iqn)
                qv_set_str(&src->initiator_iqn, qv_xml_prop(iqn, "name"));
            if (!src->initiator_iqn)
                return qv_xml_error(err, c, "<initiator> needs <iqn name=...>");
        } else {
            return qv_xml_error(err, c, "unsupported network disk source option");
        }
    }
    return 0;
}

static int parse_network_source(const xmlNode *n, qv_domdef_disk_src *src, qv_error **err)
{
    static const char *const protos[] = { "nbd", "iscsi", "rbd", "gluster", "nfs", "ssh", "http",
                                          "https", "ftp", "ftps", NULL };
    int r = qv_xml_prop_enum(n, "protocol", protos, &src->protocol, err);
    if (r < 0)
        return r;
    if (r == 0)
        return qv_xml_error(err, n, "a network disk needs a protocol (nbd, iscsi, rbd, gluster, nfs, ssh, http, https, ftp, ftps)");
    const char *p = src->protocol;
    qv_set_str(&src->name, qv_xml_prop(n, "name"));
    qv_set_str(&src->query, qv_xml_prop(n, "query"));
    if (src->more_hosts)
        g_ptr_array_set_size(src->more_hosts, 0);
    unsigned int nhosts = 0;
    FOR_EACH_CHILD(h, n) {
        if (!name_is(h, "host"))
            continue;
        if (nhosts++ == 0) {
            if (parse_disk_host(h, &src->host, &src->port, &src->transport, &src->socket, err) < 0)
                return -EINVAL;
            continue;
        }
        if (strcmp(p, "gluster") && strcmp(p, "rbd"))
            return qv_xml_error(err, h, "an %s disk takes one <host>", p);
        if (!src->more_hosts)
            src->more_hosts = g_ptr_array_new_with_free_func(qv_domdef_disk_host_free);
        qv_domdef_disk_host *more = g_new0(qv_domdef_disk_host, 1);
        g_ptr_array_add(src->more_hosts, more);
        if (parse_disk_host(h, &more->name, &more->port, &more->transport, &more->socket, err) < 0)
            return -EINVAL;
        if (!more->name && !more->socket)
            return qv_xml_error(err, h, "a <host> needs a name or a socket");
    }
    if (strcmp(p, "rbd") && !src->host && !src->socket)
        return qv_xml_error(err, n, "a network disk needs <host name=...>%s", !strcmp(p, "nbd") || !strcmp(p, "gluster") ? " or a unix socket" : "");
    if (nhosts && !src->host && !src->socket)
        return qv_xml_error(err, n, "a <host> needs a name%s", !strcmp(p, "nbd") || !strcmp(p, "gluster") ? " or a socket" : "");
    bool unix_ok = !strcmp(p, "nbd") || !strcmp(p, "gluster");
    if (!unix_ok && (src->socket || (src->transport && !strcmp(src->transport, "unix"))))
        return qv_xml_error(err, n, "an %s disk cannot use a unix socket", p);
    for (guint i = 0; src->more_hosts && i < src->more_hosts->len; i++) {
        qv_domdef_disk_host *h = g_ptr_array_index(src->more_hosts, i);
        if (!unix_ok && (h->socket || (h->transport && !strcmp(h->transport, "unix"))))
            return qv_xml_error(err, n, "an %s disk cannot use a unix socket", p);
    }
    if (strcmp(p, "nbd") && (!src->name || !*src->name))
        return qv_xml_error(err, n, "an %s disk needs a name (%s)", p,
                            !strcmp(p, "iscsi") ? "target/lun" : !strcmp(p, "rbd") ? "pool/image" :
                            !strcmp(p, "gluster") ? "volume/path" : "the path");
    if ((!strcmp(p, "rbd") || !strcmp(p, "gluster")) &&
        (!strchr(src->name, '/') || src->name[0] == '/' || strchr(src->name, '/')[1] == '\0'))
        return qv_xml_attr_error(err, n, "name", "'%s' is not %s", src->name,
                                 !strcmp(p, "rbd") ? "pool/image" : "volume/path");
    if (!strcmp(p, "iscsi") && strchr(src->name, '/')) {
        const char *lun = strchr(src->name, '/') + 1;
        if (!*lun || strspn(lun, "0123456789") != strlen(lun))
            return qv_xml_attr_error(err, n, "name", "'%s' is not an iSCSI target/lun", src->name);
    }
    return parse_network_source_extras(n, src, err);
}

/* <source type='pci' managed namespace><address domain bus slot function/>:
 * the host NVMe controller QEMU's userspace driver takes over (VFIO). */
static int parse_nvme_source(const xmlNode *n, qv_domdef_disk_src *src, qv_error **err)
{
    static const char *const types[] = { "pci", NULL };
    if (qv_xml_prop_enum(n, "type", types, &src->nvme_type, err) < 0 ||
        qv_xml_prop_tristate(n, "managed", &src->nvme_managed, err) < 0 ||
        qv_xml_prop_uint(n, "namespace", &src->nvme_namespace, err) < 0)
        return -EINVAL;
    if (!src->nvme_type)
        return qv_xml_error(err, n, "an nvme disk needs <source type='pci'>");
    if (!src->nvme_namespace)
        return qv_xml_error(err, n, "an nvme disk needs a namespace of 1 or more");
    xmlNode *a = qv_xml_child(n, "address");
    if (!a)
        return qv_xml_error(err, n, "an nvme disk needs the controller's <address domain bus slot function>");
    src->nvme_addr.type = QV_ADDR_PCI;
    if (addr_field(a, "domain", 0xffff, &src->nvme_addr.domain, err) < 0 ||
        addr_field(a, "bus", 255, &src->nvme_addr.bus, err) < 0 ||
        addr_field(a, "slot", 31, &src->nvme_addr.slot, err) < 0 ||
        addr_field(a, "function", 7, &src->nvme_addr.function, err) < 0)
        return -EINVAL;
    return 0;
}

static int parse_disk_source(const xmlNode *n, qv_domdef_disk_src *src, const xmlNode *owner,
                             qv_error **err)
{
    (void)owner;
    switch (src->type) {
    case QV_DISK_TYPE_FILE:
        qv_set_str(&src->path, qv_xml_prop(n, "file"));
        break;
    case QV_DISK_TYPE_BLOCK:
        qv_set_str(&src->path, qv_xml_prop(n, "dev"));
        break;
    case QV_DISK_TYPE_DIR:
        qv_set_str(&src->path, qv_xml_prop(n, "dir"));
        break;
    case QV_DISK_TYPE_VOLUME: {
        static const char *const modes[] = { "host", "direct", NULL };
        qv_set_str(&src->pool, qv_xml_prop(n, "pool"));
        qv_set_str(&src->volume, qv_xml_prop(n, "volume"));
        if (qv_xml_prop_enum(n, "mode", modes, &src->volume_mode, err) < 0)
            return -EINVAL;
        if (!src->pool || !src->volume)
            return qv_xml_error(err, n, "a volume disk needs <source pool=... volume=...>");
        break;
    }
    case QV_DISK_TYPE_NVME:
        return parse_nvme_source(n, src, err);
    default:
        return parse_network_source(n, src, err);
    }
    FOR_EACH_CHILD(c, n) {
        if (name_is(c, "auth") && parse_disk_auth(c, src, false, err) < 0)
            return -EINVAL;
        if (name_is(c, "encryption") && parse_disk_encryption(c, src, false, err) < 0)
            return -EINVAL;
    }
    return 0;
}

static int disk_type_from(const xmlNode *n, const char *attr, int *out, qv_error **err)
{
    g_autofree char *type = qv_xml_prop(n, attr);
    if (!type || !strcmp(type, "file"))
        *out = QV_DISK_TYPE_FILE;
    else if (!strcmp(type, "block"))
        *out = QV_DISK_TYPE_BLOCK;
    else if (!strcmp(type, "network"))
        *out = QV_DISK_TYPE_NETWORK;
    else if (!strcmp(type, "dir"))
        *out = QV_DISK_TYPE_DIR;
    else if (!strcmp(type, "volume"))
        *out = QV_DISK_TYPE_VOLUME;
    else if (!strcmp(type, "nvme"))
        *out = QV_DISK_TYPE_NVME;
    else
        return qv_xml_attr_error(err, n, attr, "unsupported disk type '%s' (file, block, network, dir, volume, nvme)", type);
    return 0;
}

/* <metadata_cache><max_size unit>N</max_size></metadata_cache> under a
 * disk's <driver> or a backing store's <format>: qcow2's cache-size. */
static int parse_metadata_cache(const xmlNode *parent, qv_domdef_disk_src *s, qv_error **err)
{
    const xmlNode *mc = qv_xml_child(parent, "metadata_cache");
    if (!mc)
        return 0;
    FOR_EACH_CHILD(c, mc) {
        if (!name_is(c, "max_size"))
            return qv_xml_error(err, c, "unknown metadata cache element");
        if (qv_xml_scaled_bytes(c, "bytes", &s->metadata_cache, err) < 0)
            return -EINVAL;
    }
    if (s->metadata_cache && g_strcmp0(s->format, "qcow2"))
        return qv_xml_error(err, mc, "a metadata cache size needs the qcow2 format");
    return 0;
}

static int parse_backing(const xmlNode *n, qv_domdef_disk_src *parent, qv_error **err)
{
    parent->has_backing = true;
    if (parent->backing) {   /* a repeated <backingStore>: the later one wins */
        qv_domdef_disk_src_clear(parent->backing);
        g_clear_pointer(&parent->backing, g_free);
    }
    if (!n->children && !n->properties)
        return 0;   /* <backingStore/>: explicitly no backing image */
    qv_domdef_disk_src *b = g_new0(qv_domdef_disk_src, 1);
    parent->backing = b;
    if (disk_type_from(n, "type", &b->type, err) < 0)
        return -EINVAL;
    if (b->type > QV_DISK_TYPE_NETWORK)
        return qv_xml_attr_error(err, n, "type", "a backing store is a file, block or network image");
    xmlNode *f = qv_xml_child(n, "format");
    if (f) {
        static const char *const fmts[] = { "raw", "qcow2", NULL };
        if (qv_xml_prop_enum(f, "type", fmts, &b->format, err) < 0 ||
            parse_metadata_cache(f, b, err) < 0)
            return -EINVAL;
    }
    xmlNode *s = qv_xml_child(n, "source");
    if (!s)
        return qv_xml_error(err, n, "a backing store needs a <source>");
    if (parse_disk_source(s, b, n, err) < 0)
        return -EINVAL;
    if (b->auth_username || b->enc_format)
        return qv_xml_error(err, s, "a backing image with <auth> or <encryption> is not supported");
    /* qvirt opens every image of the chain itself, so each needs its name
     * (the formatter writes no <source> without one). */
    if (b->type != QV_DISK_TYPE_NETWORK && !b->path)
        return qv_xml_error(err, s, "a backing store's <source> needs a %s attribute",
                            b->type == QV_DISK_TYPE_BLOCK ? "dev" : "file");
    xmlNode *next = qv_xml_child(n, "backingStore");
    if (next)
        return parse_backing(next, b, err);
    return 0;
}

static int parse_iotune(const xmlNode *n, qv_domdef_iotune *t, qv_error **err)
{
    static const struct { const char *name; size_t off; } fields[] = {
#define F(x) { #x, G_STRUCT_OFFSET(qv_domdef_iotune, x) }
        F(total_bytes_sec), F(read_bytes_sec), F(write_bytes_sec),
        F(total_iops_sec), F(read_iops_sec), F(write_iops_sec),
        F(total_bytes_sec_max), F(read_bytes_sec_max), F(write_bytes_sec_max),
        F(total_iops_sec_max), F(read_iops_sec_max), F(write_iops_sec_max),
        F(size_iops_sec),
#undef F
    };
    FOR_EACH_CHILD(c, n) {
        if (name_is(c, "group_name")) {
            qv_set_str(&t->group_name, qv_xml_text(c));
            continue;
        }
        bool found = false;
        for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
            if (!name_is(c, fields[i].name))
                continue;
            g_autofree char *v = qv_xml_text(c);
            unsigned long long x;
            if (qv_parse_uint_str(v, 10, 1000000000000000ULL, &x) < 0)
                return qv_xml_error(err, c, "'%s' is not a valid limit", v);
            *(unsigned long long *)((char *)t + fields[i].off) = x;
            found = true;
        }
        if (!found)
            return qv_xml_error(err, c, "unsupported I/O tuning setting");
    }
    if ((t->total_bytes_sec && (t->read_bytes_sec || t->write_bytes_sec)) ||
        (t->total_iops_sec && (t->read_iops_sec || t->write_iops_sec)))
        return qv_xml_error(err, n, "total and read/write limits cannot be combined");
    return 0;
}

static int parse_disk(qv_domdef *def, xmlNode *dn, unsigned int flags, qv_error **err)
{
    qv_domdef_disk *d = g_new0(qv_domdef_disk, 1);
    g_ptr_array_add(def->disks, d);
    if (disk_type_from(dn, "type", &d->src.type, err) < 0)
        return -EINVAL;
    g_autofree char *device = qv_xml_prop(dn, "device");
    if (!device || !strcmp(device, "disk"))
        d->device = QV_DISK_DEVICE_DISK;
    else if (!strcmp(device, "cdrom"))
        d->device = QV_DISK_DEVICE_CDROM;
    else if (!strcmp(device, "floppy"))
        d->device = QV_DISK_DEVICE_FLOPPY;
    else if (!strcmp(device, "lun"))
        d->device = QV_DISK_DEVICE_LUN;
    else
        return qv_xml_attr_error(err, dn, "device", "unsupported disk device '%s'", device);

    static const char *const vmodels[] = { "virtio", "virtio-transitional", "virtio-non-transitional", NULL };
    if (qv_xml_prop_enum(dn, "model", vmodels, &d->model, err) < 0)
        return -EINVAL;

    xmlNode *src_node = NULL, *auth_node = NULL, *enc_node = NULL;
    FOR_EACH_CHILD(c, dn) {
        if (name_is(c, "driver")) {
            static const char *const names[] = { "qemu", NULL };
            static const char *const types[] = { "raw", "qcow2", "fat", NULL };
            static const char *const caches[] = { "default", "none", "writethrough", "writeback",
                                                  "directsync", "unsafe", NULL };
            static const char *const ios[] = { "threads", "native", "io_uring", NULL };
            static const char *const discards[] = { "ignore", "unmap", NULL };
            static const char *const dz[] = { "off", "on", "unmap", NULL };
            static const char *const ep[] = { "stop", "report", "ignore", "enospace", NULL };
            if (qv_xml_prop_enum(c, "name", names, &d->driver_name, err) < 0 ||
                qv_xml_prop_enum(c, "type", types, &d->src.format, err) < 0 ||
                qv_xml_prop_enum(c, "cache", caches, &d->cache, err) < 0 ||
                qv_xml_prop_enum(c, "io", ios, &d->io, err) < 0 ||
                qv_xml_prop_enum(c, "discard", discards, &d->discard, err) < 0 ||
                qv_xml_prop_enum(c, "detect_zeroes", dz, &d->detect_zeroes, err) < 0 ||
                qv_xml_prop_enum(c, "error_policy", ep, &d->error_policy, err) < 0 ||
                qv_xml_prop_uint(c, "iothread", &d->iothread, err) < 0 ||
                qv_xml_prop_uint(c, "queues", &d->queues, err) < 0 ||
                parse_metadata_cache(c, &d->src, err) < 0)
                return -EINVAL;
            if (d->cache && !strcmp(d->cache, "default"))
                g_clear_pointer(&d->cache, g_free);
        } else if (name_is(c, "source")) {
            /* Parsed after the loop: a repeated <source> is the last one,
             * whole, not mixed into the first (an iscsi <initiator> kept
             * for an ftps source). */
            src_node = c;
        } else if (name_is(c, "backingStore")) {
            if (parse_backing(c, &d->src, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "target")) {
            qv_set_str(&d->target_dev, qv_xml_prop(c, "dev"));
            g_autofree char *bus = qv_xml_prop(c, "bus");
            static const char *const buses[] = { "", "virtio", "sata", "ide", "scsi", "usb", "fdc", NULL };
            if (bus) {
                d->bus = -1;
                for (int i = 1; buses[i]; i++)
                    if (!strcmp(bus, buses[i]))
                        d->bus = i;
                if (d->bus < 0)
                    return qv_xml_attr_error(err, c, "bus", "unsupported disk bus '%s'", bus);
            }
            static const char *const trays[] = { "open", "closed", NULL };
            if (qv_xml_prop_enum(c, "tray", trays, &d->tray, err) < 0 ||
                qv_xml_prop_tristate(c, "removable", &d->removable, err) < 0 ||
                qv_xml_prop_uint(c, "rotation_rate", &d->rotation_rate, err) < 0)
                return -EINVAL;
            /* As libvirt validates them: QEMU has the properties only there. */
            if (d->removable && d->bus && d->bus != QV_DISK_BUS_USB && d->bus != QV_DISK_BUS_SCSI)
                return qv_xml_attr_error(err, c, "removable", "only USB and SCSI disks can be removable");
            if (d->rotation_rate && d->bus && d->bus != QV_DISK_BUS_SCSI && d->bus != QV_DISK_BUS_IDE &&
                d->bus != QV_DISK_BUS_SATA)
                return qv_xml_attr_error(err, c, "rotation_rate", "only SCSI, IDE and SATA disks have a rotation rate");
            if (d->rotation_rate > 65534)
                return qv_xml_attr_error(err, c, "rotation_rate", "must be 1 (no rotation) or an RPM below 65535");
        } else if (name_is(c, "readonly")) {
            d->readonly = true;
        } else if (name_is(c, "shareable")) {
            d->shareable = true;
        } else if (name_is(c, "transient")) {
            d->transient = true;
        } else if (name_is(c, "serial")) {
            qv_set_str(&d->serial, qv_xml_text(c));
            if (strspn(d->serial, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ .+-") != strlen(d->serial))
                return qv_xml_error(err, c, "disk serial '%s' has characters other than letters, digits, '_', ' ', '.', '+', '-'", d->serial);
        } else if (name_is(c, "wwn")) {
            qv_set_str(&d->wwn, qv_xml_text(c));
            if (strlen(d->wwn) != 16 || strspn(d->wwn, "0123456789abcdefABCDEF") != 16)
                return qv_xml_error(err, c, "'%s' is not a 16-digit hexadecimal WWN", d->wwn);
        } else if (name_is(c, "vendor")) {
            qv_set_str(&d->vendor, qv_xml_text(c));
        } else if (name_is(c, "product")) {
            qv_set_str(&d->product, qv_xml_text(c));
        } else if (name_is(c, "boot")) {
            if (qv_xml_prop_uint(c, "order", &d->boot_order, err) < 0)
                return -EINVAL;
            if (!d->boot_order)
                return qv_xml_error(err, c, "boot order must be at least 1");
        } else if (name_is(c, "iotune")) {
            d->has_iotune = true;
            if (parse_iotune(c, &d->iotune, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "blockio")) {
            if (qv_xml_prop_uint(c, "logical_block_size", &d->logical_block_size, err) < 0 ||
                qv_xml_prop_uint(c, "physical_block_size", &d->physical_block_size, err) < 0 ||
                qv_xml_prop_uint(c, "discard_granularity", &d->discard_granularity, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "geometry")) {
            static const char *const trans[] = { "none", "lba", "auto", NULL };
            d->geo_cyls = d->geo_heads = d->geo_secs = 0;
            if (qv_xml_prop_uint(c, "cyls", &d->geo_cyls, err) < 0 ||
                qv_xml_prop_uint(c, "heads", &d->geo_heads, err) < 0 ||
                qv_xml_prop_uint(c, "secs", &d->geo_secs, err) < 0 ||
                qv_xml_prop_enum(c, "trans", trans, &d->geo_trans, err) < 0)
                return -EINVAL;
            if (!d->geo_cyls || !d->geo_heads || !d->geo_secs)
                return qv_xml_error(err, c, "<geometry> needs cyls, heads and secs greater than 0");
        } else if (is_common(c)) {
        } else if (name_is(c, "auth")) {
            auth_node = c;
        } else if (name_is(c, "encryption")) {
            enc_node = c;
        } else if (name_is(c, "mirror") || name_is(c, "throttlefilters")) {
            return qv_xml_error(err, c, "unsupported disk element");
        } else {
            return qv_xml_error(err, c, "unknown disk element");
        }
    }
    if (src_node) {
        static const char *const sp[] = { "mandatory", "requisite", "optional", NULL };
        if (parse_disk_source(src_node, &d->src, dn, err) < 0 ||
            qv_xml_prop_enum(src_node, "startupPolicy", sp, &d->startup_policy, err) < 0)
            return -EINVAL;
    }
    if (!d->target_dev || !*d->target_dev)
        return qv_xml_error(err, dn, "missing <target dev=...>");
    /* The older places of <auth> and <encryption>: in <disk> itself. */
    if (auth_node && parse_disk_auth(auth_node, &d->src, true, err) < 0)
        return -EINVAL;
    if (enc_node && parse_disk_encryption(enc_node, &d->src, true, err) < 0)
        return -EINVAL;
    if (d->src.enc_format && (d->src.type == QV_DISK_TYPE_DIR || d->src.type == QV_DISK_TYPE_NVME))
        return qv_xml_error(err, dn, "LUKS encryption is for file, block, volume and network disks");
    static const char *const type_names[] = { "file", "block", "network", "dir", "volume", "nvme" };
    if (d->src.type >= QV_DISK_TYPE_NETWORK && d->src.type != QV_DISK_TYPE_DIR && !src_node)
        return qv_xml_error(err, dn, "a %s disk needs a <source>", type_names[d->src.type]);
    if ((d->src.type == QV_DISK_TYPE_DIR) != (d->src.format && !strcmp(d->src.format, "fat")) &&
        (d->src.type != QV_DISK_TYPE_DIR || d->src.format))
        return qv_xml_error(err, dn, d->src.type == QV_DISK_TYPE_DIR ? "a dir disk's driver type is fat"
                                                                    : "driver type fat is only for dir disks");
    if (d->src.type == QV_DISK_TYPE_DIR && d->device != QV_DISK_DEVICE_DISK &&
        d->device != QV_DISK_DEVICE_FLOPPY)
        return qv_xml_error(err, dn, "a dir disk is a disk or a floppy (QEMU's vvfat)");
    if (d->src.type >= QV_DISK_TYPE_DIR && d->src.type != QV_DISK_TYPE_VOLUME && d->src.has_backing &&
        d->src.backing)
        return qv_xml_error(err, dn, "a %s disk has no backing store", type_names[d->src.type]);
    if (!d->src.path && (d->src.type < QV_DISK_TYPE_NETWORK || d->src.type == QV_DISK_TYPE_DIR) &&
        d->device != QV_DISK_DEVICE_CDROM && d->device != QV_DISK_DEVICE_FLOPPY)
        return qv_xml_error(err, dn, "only cdrom and floppy disks may be empty; give <source>");
    if (d->device == QV_DISK_DEVICE_LUN && d->src.type != QV_DISK_TYPE_BLOCK)
        return qv_xml_error(err, dn, "a lun disk needs type='block'");
    if (d->transient && d->shareable)
        return qv_xml_error(err, dn, "a disk cannot be both transient and shareable");
    return common_tail(dn, flags, &d->addr, &d->alias, err);
}

/* ---- controllers ---- */
/* A PCI controller's <model name>: the QEMU device behind its model. Old
 * libvirt q35 domains keep ioh3420 root ports (Intel's, guest-visibly
 * different from QEMU's pcie-root-port), so the name is kept and used. */
static int parse_pci_model_name(qv_domdef_controller *c, xmlNode *m, qv_error **err)
{
    static const char *const names[][2] = {
        { "pci-bridge", "pci-bridge" },           { "pcie-root-port", "pcie-root-port" },
        { "pcie-root-port", "ioh3420" },          { "dmi-to-pci-bridge", "i82801b11-bridge" },
        { "pcie-switch-upstream-port", "x3130-upstream" },
        { "pcie-switch-downstream-port", "xio3130-downstream" },
        { "pcie-to-pci-bridge", "pcie-pci-bridge" },
        { "pci-expander-bus", "pxb" },            { "pcie-expander-bus", "pxb-pcie" },
    };
    g_autofree char *name = qv_xml_prop(m, "name");
    if (!name)
        return 0;
    if (c->type != QV_CTRL_PCI)
        return qv_xml_attr_error(err, m, "name", "only PCI controllers name a model device");
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (strcmp(names[i][1], name) || (c->model && strcmp(c->model, names[i][0])))
            continue;
        if (!c->model)
            c->model = g_strdup(names[i][0]);
        qv_set_str(&c->model_name, g_steal_pointer(&name));
        return 0;
    }
    return qv_xml_attr_error(err, m, "name", "'%s' is not a device for a %s controller", name,
                             c->model ? c->model : "pci");
}

static int parse_controller(qv_domdef *def, xmlNode *cn, unsigned int flags, qv_error **err)
{
    static const char *const types[] = { "pci", "usb", "scsi", "virtio-serial", "sata", "ide",
                                         "ccid", "fdc", NULL };
    qv_domdef_controller *c = g_new0(qv_domdef_controller, 1);
    g_ptr_array_add(def->controllers, c);
    c->ports = c->vectors = c->queues = -1;
    c->chassis = c->port = c->chassis_nr = c->busnr = c->numa_node = -1;
    g_autofree char *type = qv_xml_prop(cn, "type");
    c->type = -1;
    for (int i = 0; type && types[i]; i++)
        if (!strcmp(type, types[i]))
            c->type = i;
    if (c->type < 0)
        return qv_xml_attr_error(err, cn, "type", "unsupported controller type '%s'", type ? type : "(none)");
    c->master_startport = -1;
    if (!xmlHasProp(cn, BAD_CAST "index"))
        c->index = QV_CTRL_INDEX_UNSET;
    else if (qv_xml_prop_uint(cn, "index", &c->index, err) < 0)
        return -EINVAL;
    else if (c->index > 255)
        return qv_xml_attr_error(err, cn, "index", "must be at most 255");
    static const char *const pci_models[] = { "pci-root", "pcie-root", "pci-bridge", "pcie-root-port",
                                              "dmi-to-pci-bridge", "pcie-switch-upstream-port",
                                              "pcie-switch-downstream-port", "pcie-to-pci-bridge",
                                              "pci-expander-bus", "pcie-expander-bus", NULL };
    static const char *const usb_models[] = { "piix3-uhci", "piix4-uhci", "ehci", "ich9-ehci1",
                                              "ich9-uhci1", "ich9-uhci2", "ich9-uhci3", "nec-xhci",
                                              "qemu-xhci", "none", NULL };
    static const char *const scsi_models[] = { "virtio-scsi", "lsilogic", "virtio-transitional",
                                               "virtio-non-transitional", NULL };
    static const char *const none[] = { NULL };
    static const char *const vserial_models[] = { "virtio", "virtio-transitional", "virtio-non-transitional", NULL };
    static const char *const sata_models[] = { "ahci", NULL };
    static const char *const ide_models[] = { "piix3", "piix4", "ich6", NULL };
    const char *const *models[] = { pci_models, usb_models, scsi_models, vserial_models, sata_models,
                                    ide_models, none, none };
    if (qv_xml_prop_enum(cn, "model", models[c->type], &c->model, err) < 0)
        return -EINVAL;
    if (qv_xml_prop_int(cn, "ports", &c->ports, err) < 0 ||
        qv_xml_prop_int(cn, "vectors", &c->vectors, err) < 0)
        return -EINVAL;
    FOR_EACH_CHILD(ch, cn) {
        if (name_is(ch, "driver")) {
            if (qv_xml_prop_int(ch, "queues", &c->queues, err) < 0 ||
                qv_xml_prop_uint(ch, "iothread", &c->iothread, err) < 0)
                return -EINVAL;
        } else if (name_is(ch, "target")) {
            if (qv_xml_prop_int(ch, "chassis", &c->chassis, err) < 0 ||
                qv_xml_prop_int(ch, "port", &c->port, err) < 0 ||
                qv_xml_prop_int(ch, "chassisNr", &c->chassis_nr, err) < 0 ||
                qv_xml_prop_int(ch, "busNr", &c->busnr, err) < 0)
                return -EINVAL;
            xmlNode *node = qv_xml_child(ch, "node");
            if (node) {
                g_autofree char *v = qv_xml_text(node);
                unsigned long long n;
                if (qv_parse_uint_str(v, 10, 0xffff, &n) < 0)
                    return qv_xml_error(err, node, "'%s' is not a NUMA node number", v);
                c->numa_node = (int)n;
            }
        } else if (name_is(ch, "pcihole64")) {
            if (qv_xml_scaled_kib(ch, "KiB", &c->pcihole64_kib, err) < 0)
                return -EINVAL;
            c->has_pcihole64 = true;
        } else if (name_is(ch, "model")) {
            if (parse_pci_model_name(c, ch, err) < 0)
                return -EINVAL;
        } else if (name_is(ch, "master")) {
            if (c->type != QV_CTRL_USB || !c->model || !g_str_has_prefix(c->model, "ich9-uhci"))
                return qv_xml_error(err, ch, "only ich9-uhci1, ich9-uhci2 and ich9-uhci3 controllers can be USB companions");
            unsigned int sp = 0;
            if (qv_xml_prop_uint(ch, "startport", &sp, err) < 0)
                return -EINVAL;
            if (sp > 4)
                return qv_xml_attr_error(err, ch, "startport", "must be 0, 2 or 4");
            c->master_startport = (int)sp;
        } else if (!is_common(ch)) {
            return qv_xml_error(err, ch, "unknown controller element");
        }
    }
    return common_tail(cn, flags, &c->addr, &c->alias, err);
}

/* Controllers written without an index get, in document order, the
 * smallest index no controller of their type has (libvirt's
 * virDomainControllerFindUnusedIndex); a USB companion without one joins
 * the controller it follows. Then every index is unique per type, except
 * that ich9-uhci companions share their master's. */
static int number_controllers(qv_domdef *def, qv_error **err)
{
    static const char *const types[] = { "pci", "usb", "scsi", "virtio-serial", "sata", "ide",
                                         "ccid", "fdc" };
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->index != QV_CTRL_INDEX_UNSET)
            continue;
        if (c->master_startport >= 0) {
            qv_domdef_controller *master = NULL;
            for (guint j = i; j-- > 0 && !master;) {
                qv_domdef_controller *o = g_ptr_array_index(def->controllers, j);
                if (o->type == QV_CTRL_USB && o->master_startport < 0)
                    master = o;
            }
            if (master) {
                c->index = master->index;
                continue;
            }
        }
        unsigned int idx = 0;
        while (qv_domdef_find_controller(def, c->type, idx))
            idx++;
        if (idx > 255)
            return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: no free %s controller index is left.", i + 1, types[c->type]);
        c->index = idx;
    }
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        for (guint j = 0; j < i; j++) {
            qv_domdef_controller *o = g_ptr_array_index(def->controllers, j);
            if (o->type != c->type || o->index != c->index)
                continue;
            if (c->type == QV_CTRL_USB && (c->master_startport >= 0 || o->master_startport >= 0) &&
                !(c->master_startport >= 0 && o->master_startport >= 0 && !g_strcmp0(c->model, o->model)))
                continue;   /* a master and its companions */
            return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: duplicate %s controller index %u.", i + 1, types[c->type], c->index);
        }
    }
    return 0;
}

/* ---- network interfaces ---- */
/* Exactly six two-digit hex bytes separated by colons, like libvirt (no
 * signs or spaces, which sscanf's %x let through). */
static int parse_mac(const char *s, unsigned char mac[6])
{
    if (strlen(s) != 17)
        return -EINVAL;
    for (int i = 0; i < 6; i++) {
        const char *p = s + 3 * i;
        int hi = g_ascii_xdigit_value(p[0]), lo = g_ascii_xdigit_value(p[1]);
        if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':'))
            return -EINVAL;
        mac[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int parse_bandwidth_dir(const xmlNode *n, qv_domdef_bandwidth_dir *d, qv_error **err)
{
    d->set = true;
    if (qv_xml_prop_ull(n, "average", &d->average, err) < 0 ||
        qv_xml_prop_ull(n, "peak", &d->peak, err) < 0 ||
        qv_xml_prop_ull(n, "burst", &d->burst, err) < 0 ||
        qv_xml_prop_ull(n, "floor", &d->floor, err) < 0)
        return -EINVAL;
    return 0;
}

/* The <source> of socket, vhost-user and vDPA interfaces. */
static int parse_net_source(const xmlNode *c, qv_domdef_net *n, qv_error **err)
{
    switch (n->type) {
    case QV_NET_CLIENT: case QV_NET_SERVER: case QV_NET_MCAST: case QV_NET_UDP: {
        qv_set_str(&n->source_address, qv_xml_prop(c, "address"));
        if (qv_xml_prop_uint(c, "port", &n->source_port, err) < 0)
            return -EINVAL;
        xmlNode *l = qv_xml_child(c, "local");
        if (l && n->type != QV_NET_UDP)
            return qv_xml_error(err, l, "only udp interfaces have a <local> address");
        if (l) {
            qv_set_str(&n->local_address, qv_xml_prop(l, "address"));
            if (qv_xml_prop_uint(l, "port", &n->local_port, err) < 0)
                return -EINVAL;
        }
        break;
    }
    case QV_NET_VHOSTUSER: {
        static const char *const types[] = { "unix", NULL };
        static const char *const modes[] = { "server", "client", NULL };
        g_autofree char *t = NULL;
        if (qv_xml_prop_enum(c, "type", types, &t, err) < 0 ||
            qv_xml_prop_enum(c, "mode", modes, &n->source_mode, err) < 0)
            return -EINVAL;
        qv_set_str(&n->source_path, qv_xml_prop(c, "path"));
        xmlNode *rc = qv_xml_child(c, "reconnect");
        if (rc) {
            int en = QV_TRI_ABSENT;
            unsigned int timeout = 0;
            if (qv_xml_prop_tristate(rc, "enabled", &en, err) < 0 ||
                qv_xml_prop_uint(rc, "timeout", &timeout, err) < 0)
                return -EINVAL;
            n->reconnect = en == QV_TRI_ON ? timeout : 0;
            if (en == QV_TRI_ON && !timeout)
                return qv_xml_error(err, rc, "<reconnect enabled='yes'> needs a timeout of 1 second or more");
        }
        break;
    }
    case QV_NET_VDPA:
        qv_set_str(&n->source_dev, qv_xml_prop(c, "dev"));
        break;
    case QV_NET_HOSTDEV: {
        xmlNode *a = qv_xml_child(c, "address");
        g_autofree char *at = a ? qv_xml_prop(a, "type") : NULL;
        if (!a || g_strcmp0(at, "pci"))
            return qv_xml_error(err, c, "a hostdev interface needs <source><address type='pci' domain bus slot function>");
        n->host_addr.type = QV_ADDR_PCI;
        if (addr_field(a, "domain", 0xffff, &n->host_addr.domain, err) < 0 ||
            addr_field(a, "bus", 255, &n->host_addr.bus, err) < 0 ||
            addr_field(a, "slot", 31, &n->host_addr.slot, err) < 0 ||
            addr_field(a, "function", 7, &n->host_addr.function, err) < 0)
            return -EINVAL;
        break;
    }
    case QV_NET_DIRECT: {
        static const char *const modes[] = { "vepa", "bridge", "private", "passthrough", NULL };
        qv_set_str(&n->source_dev, qv_xml_prop(c, "dev"));
        if (qv_xml_prop_enum(c, "mode", modes, &n->direct_mode, err) < 0)
            return -EINVAL;
        if (!n->direct_mode)
            n->direct_mode = g_strdup("vepa");   /* libvirt's default */
        break;
    }
    default:
        break;
    }
    return 0;
}

static int check_net_source(const xmlNode *in, qv_domdef_net *n, qv_error **err)
{
    static const char *const names[] = { "user", "ethernet", "bridge", "network", "client", "server",
                                         "mcast", "udp", "vhostuser", "vdpa", "direct", "hostdev" };
    const char *t = names[n->type];
    switch (n->type) {
    case QV_NET_CLIENT: case QV_NET_MCAST: case QV_NET_UDP:
        if (!n->source_address)
            return qv_xml_error(err, in, "a %s interface needs <source address=... port=...>", t);
        /* fall through */
    case QV_NET_SERVER:
        if (!n->source_port || n->source_port > 65535)
            return qv_xml_error(err, in, "a %s interface needs <source port=...> from 1 to 65535", t);
        if (n->type == QV_NET_UDP && (!n->local_address || !n->local_port || n->local_port > 65535))
            return qv_xml_error(err, in, "a udp interface needs <source><local address=... port=...>");
        break;
    case QV_NET_VHOSTUSER:
        if (!n->source_path || !n->source_mode)
            return qv_xml_error(err, in, "a vhostuser interface needs <source type='unix' path=... mode=...>");
        if (n->reconnect && !strcmp(n->source_mode, "server"))
            return qv_xml_error(err, in, "<reconnect> is only for mode='client' (QEMU connecting)");
        break;
    case QV_NET_VDPA:
        if (!n->source_dev)
            return qv_xml_error(err, in, "a vdpa interface needs <source dev=...>");
        break;
    case QV_NET_HOSTDEV:
        if (n->host_addr.type != QV_ADDR_PCI)
            return qv_xml_error(err, in, "a hostdev interface needs <source><address type='pci' domain bus slot function>");
        break;
    case QV_NET_DIRECT:
        if (!n->source_dev || !*n->source_dev || strlen(n->source_dev) >= 16 || strchr(n->source_dev, '/'))
            return qv_xml_error(err, in, "a direct interface needs <source dev=...> naming a host network link");
        break;
    default:
        break;
    }
    if ((n->type == QV_NET_VHOSTUSER || n->type == QV_NET_VDPA) && n->model && strcmp(n->model, "virtio"))
        return qv_xml_error(err, in, "a %s interface needs <model type='virtio'/>", t);
    if ((n->ip4_address || n->ip6_address) && n->type != QV_NET_USER)
        return qv_xml_error(err, in, "<ip> is only for type='user' interfaces (the guest network user mode serves)");
    if (n->type >= QV_NET_CLIENT && n->type != QV_NET_DIRECT && n->type != QV_NET_HOSTDEV && n->driver_name && !strcmp(n->driver_name, "vhost"))
        return qv_xml_error(err, in, "<driver name='vhost'> is only for tap interfaces");
    return 0;
}

/* A numeric <virtualport><parameters> attribute of 802.1Qbg, kept in
 * decimal as libvirt writes it back (it reads hex too). */
static int parse_vport_number(const xmlNode *p, const char *name, unsigned long long max, char **out,
                              qv_error **err)
{
    g_autofree char *v = qv_xml_prop(p, name);
    unsigned long long x;
    if (!v)
        return 0;
    if (qv_parse_uint_str(v, 0, max, &x) < 0)
        return qv_xml_attr_error(err, p, name, "'%s' is not a number from 0 to %llu", v, max);
    qv_set_str(out, g_strdup_printf("%llu", x));
    return 0;
}

/* <virtualport>, as libvirt's virNetDevVPortProfileParse reads it: Open
 * vSwitch (the tap joins the OVS bridge with ovs-vsctl at start), untyped
 * (its parameters kept for a network to merge), and the kinds whose port
 * a host agent associates: 802.1Qbg (lldpad's VDP), 802.1Qbh (the NIC's
 * port profile) and midonet (the MidoNet agent). Those three are kept and
 * built like a plain interface; starting one is refused by lib/ (tap.c),
 * as qvirt talks to none of those agents. Each type takes only its own
 * parameters, and on a bridge, direct or hostdev interface (not a network,
 * whose own virtualport may complete it) the ones it needs. libvirt makes
 * up a missing instanceid or interfaceid; qvirt keeps it missing. */
static int parse_net_virtualport(const xmlNode *c, qv_domdef_net *n, qv_error **err)
{
    static const char *const types[] = { "openvswitch", "midonet", "802.1Qbg", "802.1Qbh", NULL };
    g_autofree char *type = NULL;
    if (qv_xml_prop_enum(c, "type", types, &type, err) < 0)
        return -EINVAL;
    n->vport = true;
    qv_set_str(&n->vport_type, g_steal_pointer(&type));
    xmlNode *p = qv_xml_child(c, "parameters");
    if (p) {
        if (parse_vport_number(p, "managerid", 0xff, &n->vport_managerid, err) < 0 ||
            parse_vport_number(p, "typeid", 0xffffff, &n->vport_typeid, err) < 0 ||
            parse_vport_number(p, "typeidversion", 0xff, &n->vport_typeidversion, err) < 0)
            return -EINVAL;
        qv_set_str(&n->vport_interfaceid, qv_xml_prop(p, "interfaceid"));
        qv_set_str(&n->vport_profileid, qv_xml_prop(p, "profileid"));
        qv_set_str(&n->vport_instanceid, qv_xml_prop(p, "instanceid"));
        unsigned char u[16];
        if (n->vport_instanceid && qv_uuid_parse(n->vport_instanceid, u) < 0)
            return qv_xml_attr_error(err, p, "instanceid", "'%s' is not a UUID", n->vport_instanceid);
        if (n->vport_interfaceid && qv_uuid_parse(n->vport_interfaceid, u) < 0)
            return qv_xml_attr_error(err, p, "interfaceid", "'%s' is not a UUID", n->vport_interfaceid);
        if (n->vport_profileid && strlen(n->vport_profileid) >= 40)
            return qv_xml_attr_error(err, p, "profileid", "a port profile name is at most 39 characters");
    }
    const char *t = n->vport_type;
    if (!t)
        return 0;
    /* virNetDevVPortProfileCheckNoExtras: what each type takes. */
    bool qbg = !strcmp(t, "802.1Qbg"), qbh = !strcmp(t, "802.1Qbh"), ovs = !strcmp(t, "openvswitch");
    const struct { const char *name; const char *value; bool allowed; } params[] = {
        { "managerid", n->vport_managerid, qbg },
        { "typeid", n->vport_typeid, qbg },
        { "typeidversion", n->vport_typeidversion, qbg },
        { "instanceid", n->vport_instanceid, qbg },
        { "interfaceid", n->vport_interfaceid, ovs || !strcmp(t, "midonet") },
        { "profileid", n->vport_profileid, ovs || qbh },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(params); i++)
        if (params[i].value && !params[i].allowed)
            return qv_xml_attr_error(err, p, params[i].name, "a virtualport of type '%s' takes no %s", t,
                                     params[i].name);
    if (n->type == QV_NET_NETWORK)
        return 0;
    if (qbg && (!n->vport_managerid || !n->vport_typeid || !n->vport_typeidversion))
        return qv_xml_error(err, c, "a virtualport of type '802.1Qbg' needs <parameters> managerid, typeid and typeidversion");
    if (qbh && !n->vport_profileid)
        return qv_xml_error(err, c, "a virtualport of type '802.1Qbh' needs <parameters profileid>");
    return 0;
}

/* The checks of virtualport, teaming, port, coalesce and backend that
 * depend on the interface's type and model, as libvirt 9.0 makes them. */
static int check_net_extras(const xmlNode *in, const qv_domdef_net *n, qv_error **err)
{
    bool tap = n->type == QV_NET_ETHERNET || n->type == QV_NET_BRIDGE || n->type == QV_NET_NETWORK ||
               n->type == QV_NET_DIRECT;
    /* As virDomainNetDefValidatePortOptions: a network's interface takes
     * any type (its network decides). */
    if (n->vport_type && n->type != QV_NET_NETWORK) {
        const char *t = n->vport_type;
        bool fits = !strcmp(t, "openvswitch") || !strcmp(t, "midonet") ? n->type == QV_NET_BRIDGE
                  : !strcmp(t, "802.1Qbg") ? n->type == QV_NET_DIRECT
                  : n->type == QV_NET_DIRECT || n->type == QV_NET_HOSTDEV;
        if (!fits)
            return qv_xml_error(err, qv_xml_child(in, "virtualport"), "a virtualport of type '%s' is only for %s interfaces", t,
                                !strcmp(t, "openvswitch") || !strcmp(t, "midonet") ? "bridge and network"
                                : !strcmp(t, "802.1Qbg") ? "direct and network" : "direct, hostdev and network");
    }
    if (n->teaming_type) {
        xmlNode *t = qv_xml_child(in, "teaming");
        if (!strcmp(n->teaming_type, "persistent") && n->model && g_strcmp0(n->model, "virtio"))
            return qv_xml_error(err, t, "a persistent teaming interface needs <model type='virtio'/> (QEMU's virtio-net failover)");
        if (!strcmp(n->teaming_type, "persistent") && n->teaming_persistent)
            return qv_xml_error(err, t, "a persistent teaming interface takes no persistent= attribute");
        if (!strcmp(n->teaming_type, "transient") && n->type != QV_NET_HOSTDEV)
            return qv_xml_error(err, t, "a transient teaming member must be a PCI <hostdev> or an interface of type 'hostdev'");
        if (!strcmp(n->teaming_type, "transient") && (!n->teaming_persistent || !*n->teaming_persistent))
            return qv_xml_error(err, t, "a transient <teaming> needs persistent= naming the alias of its virtio interface");
    }
    if (n->port_isolated && !tap)
        return qv_xml_error(err, qv_xml_child(in, "port"), "<port isolated> is only for interfaces with a tap on a bridge");
    if ((n->backend_tap || n->backend_vhost) && !tap)
        return qv_xml_error(err, qv_xml_child(in, "backend"), "<backend> tap and vhost paths are only for tap interfaces");
    if (n->sndbuf_set && !tap)
        return qv_xml_error(err, qv_xml_child(in, "tune"), "<tune><sndbuf> is only for tap interfaces");
    if (n->coalesce_set && !tap)
        return qv_xml_error(err, qv_xml_child(in, "coalesce"), "<coalesce> is only for tap interfaces");
    return 0;
}

/* <ip family address prefix> of a user interface: the network QEMU's
 * user mode serves the guest (libvirt 9.0: net=, ipv6-prefix=). */
static int parse_net_ip(const xmlNode *c, qv_domdef_net *n, qv_error **err)
{
    static const char *const families[] = { "ipv4", "ipv6", NULL };
    g_autofree char *family = NULL, *address = NULL;
    unsigned int prefix = 0;
    if (qv_xml_prop_enum(c, "family", families, &family, err) < 0 ||
        qv_xml_prop_uint(c, "prefix", &prefix, err) < 0)
        return -EINVAL;
    address = qv_xml_prop(c, "address");
    if (!address)
        return qv_xml_error(err, c, "<ip> needs an address");
    bool v6 = strchr(address, ':') != NULL;
    if (family && !strcmp(family, "ipv6") != v6)
        return qv_xml_attr_error(err, c, "address", "'%s' is not an %s address", address, family);
    if (strspn(address, v6 ? "0123456789abcdefABCDEF:" : "0123456789.") != strlen(address))
        return qv_xml_attr_error(err, c, "address", "'%s' is not an IP address", address);
    if (prefix > (v6 ? 128u : 32u))
        return qv_xml_attr_error(err, c, "prefix", "%u is too long for an %s address", prefix, v6 ? "IPv6" : "IPv4");
    if ((v6 ? n->ip6_address : n->ip4_address))
        return qv_xml_error(err, c, "user-mode networking serves one %s network", v6 ? "IPv6" : "IPv4");
    if (v6) {
        n->ip6_address = g_steal_pointer(&address);
        n->ip6_prefix = prefix;
    } else {
        n->ip4_address = g_steal_pointer(&address);
        n->ip4_prefix = prefix;
    }
    return 0;
}

/* A virtio ring size: QEMU takes powers of two from 256 to 1024. */
static int parse_ring_size(xmlNode *d, const char *attr, unsigned int *out, qv_error **err)
{
    if (qv_xml_prop_uint(d, attr, out, err) < 0)
        return -EINVAL;
    if (*out && (*out < 256 || *out > 1024 || (*out & (*out - 1))))
        return qv_xml_attr_error(err, d, attr, "must be a power of two from 256 to 1024");
    return 0;
}

/* <driver txmode ioeventfd event_idx rx_queue_size tx_queue_size> and its
 * <host>/<guest> offloads: virtio-net-pci properties (cmdline-net.c). */
static int parse_net_driver_tuning(qv_domdef_net *n, xmlNode *d, qv_error **err)
{
    static const char *const txmodes[] = { "iothread", "timer", NULL };
    if (qv_xml_prop_enum(d, "txmode", txmodes, &n->txmode, err) < 0 ||
        qv_xml_prop_tristate(d, "ioeventfd", &n->ioeventfd, err) < 0 ||
        qv_xml_prop_tristate(d, "event_idx", &n->event_idx, err) < 0 ||
        parse_ring_size(d, "rx_queue_size", &n->rx_queue_size, err) < 0 ||
        parse_ring_size(d, "tx_queue_size", &n->tx_queue_size, err) < 0)
        return -EINVAL;
    FOR_EACH_CHILD(c, d) {
        bool known = false;
        for (int i = 0; i < QV_NET_N_OFFLOADS; i++) {
            if (!name_is(c, qv_net_offloads[i].elem))
                continue;
            known = true;
            if (qv_xml_prop_tristate(c, qv_net_offloads[i].attr, &n->offloads[i], err) < 0)
                return -EINVAL;
        }
        if (!known)
            return qv_xml_error(err, c, "unknown interface driver element");
    }
    /* Unknown attributes of <host>/<guest> would be dropped in silence. */
    FOR_EACH_CHILD(c, d) {
        for (xmlAttr *a = c->properties; a; a = a->next) {
            bool known = false;
            for (int i = 0; i < QV_NET_N_OFFLOADS; i++)
                known |= name_is(c, qv_net_offloads[i].elem) && !strcmp((const char *)a->name, qv_net_offloads[i].attr);
            if (!known)
                return qv_xml_attr_error(err, c, (const char *)a->name, "unsupported offload");
        }
    }
    return 0;
}

static bool net_driver_tuned(const qv_domdef_net *n)
{
    bool any = n->txmode || n->ioeventfd || n->event_idx || n->rx_queue_size || n->tx_queue_size;
    for (int i = 0; i < QV_NET_N_OFFLOADS; i++)
        any |= n->offloads[i] != QV_TRI_ABSENT;
    return any;
}

static int parse_interface(qv_domdef *def, xmlNode *in, unsigned int flags, qv_error **err)
{
    qv_domdef_net *n = g_new0(qv_domdef_net, 1);
    g_ptr_array_add(def->nets, n);
    g_autofree char *type = qv_xml_prop(in, "type");
    if (!type)
        return qv_xml_error(err, in, "missing interface type");
    if (!strcmp(type, "user"))
        n->type = QV_NET_USER;
    else if (!strcmp(type, "ethernet"))
        n->type = QV_NET_ETHERNET;
    else if (!strcmp(type, "bridge"))
        n->type = QV_NET_BRIDGE;
    else if (!strcmp(type, "network"))
        n->type = QV_NET_NETWORK;   /* resolved to a bridge or user networking when the argv is built */
    else if (!strcmp(type, "client"))
        n->type = QV_NET_CLIENT;
    else if (!strcmp(type, "server"))
        n->type = QV_NET_SERVER;
    else if (!strcmp(type, "mcast"))
        n->type = QV_NET_MCAST;
    else if (!strcmp(type, "udp"))
        n->type = QV_NET_UDP;
    else if (!strcmp(type, "vhostuser"))
        n->type = QV_NET_VHOSTUSER;
    else if (!strcmp(type, "vdpa"))
        n->type = QV_NET_VDPA;
    else if (!strcmp(type, "direct"))
        n->type = QV_NET_DIRECT;   /* a macvtap on <source dev>, made at start */
    else if (!strcmp(type, "hostdev"))
        n->type = QV_NET_HOSTDEV;  /* an SR-IOV VF: vfio-pci, its MAC set on the PF at start */
    else
        return qv_xml_attr_error(err, in, "type", "unsupported interface type '%s' (user, ethernet, bridge, network, client, server, mcast, udp, vhostuser, vdpa, direct, hostdev)", type);
    if (n->type == QV_NET_HOSTDEV && qv_xml_prop_tristate(in, "managed", &n->managed, err) < 0)
        return -EINVAL;
    if (qv_xml_prop_tristate(in, "trustGuestRxFilters", &n->trust_guest_rx, err) < 0)
        return -EINVAL;
    bool have_mac = false;
    FOR_EACH_CHILD(c, in) {
        if (name_is(c, "mac")) {
            g_autofree char *a = qv_xml_prop(c, "address");
            if (!a || parse_mac(a, n->mac) < 0)
                return qv_xml_attr_error(err, c, "address", "'%s' is not a MAC address", a ? a : "");
            if (n->mac[0] & 1)
                return qv_xml_attr_error(err, c, "address", "'%s' is a multicast address", a);
            have_mac = true;
        } else if (name_is(c, "model")) {
            static const char *const models[] = { "virtio", "virtio-transitional", "virtio-non-transitional",
                                                  "e1000", "e1000e", "rtl8139", "vmxnet3",
                                                  "ne2k_pci", "pcnet", "i82559er", NULL };
            if (qv_xml_prop_enum(c, "type", models, &n->model, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "source")) {
            qv_set_str(&n->source_bridge, qv_xml_prop(c, "bridge"));
            qv_set_str(&n->source_network, qv_xml_prop(c, "network"));
            qv_set_str(&n->source_portgroup, qv_xml_prop(c, "portgroup"));
            if (parse_net_source(c, n, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "ip")) {
            if (parse_net_ip(c, n, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "portForward")) {
            return qv_xml_error(err, c, "<portForward> needs libvirt's passt backend, which qvirt does not run; user-mode networking has no port forwards");
        } else if (name_is(c, "target")) {
            qv_set_str(&n->target_dev, qv_xml_prop(c, "dev"));
            if (n->target_dev && (strlen(n->target_dev) >= 16 || strchr(n->target_dev, '/')))
                return qv_xml_attr_error(err, c, "dev", "'%s' is not a valid interface name", n->target_dev);
        } else if (name_is(c, "script")) {
            qv_set_str(&n->script, qv_xml_prop(c, "path"));
        } else if (name_is(c, "downscript")) {
            qv_set_str(&n->downscript, qv_xml_prop(c, "path"));
        } else if (name_is(c, "mtu")) {
            if (qv_xml_prop_uint(c, "size", &n->mtu, err) < 0)
                return -EINVAL;
            if (n->mtu < 68 || n->mtu > 65535)
                return qv_xml_attr_error(err, c, "size", "MTU must be between 68 and 65535");
        } else if (name_is(c, "bandwidth")) {
            xmlNode *i = qv_xml_child(c, "inbound"), *o = qv_xml_child(c, "outbound");
            if ((i && parse_bandwidth_dir(i, &n->inbound, err) < 0) ||
                (o && parse_bandwidth_dir(o, &n->outbound, err) < 0))
                return -EINVAL;
        } else if (name_is(c, "link")) {
            static const char *const st[] = { "up", "down", NULL };
            if (qv_xml_prop_enum(c, "state", st, &n->link_state, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "driver")) {
            static const char *const dn[] = { "qemu", "vhost", NULL };
            static const char *const hdn[] = { "vfio", NULL };
            if (qv_xml_prop_enum(c, "name", n->type == QV_NET_HOSTDEV ? hdn : dn, &n->driver_name, err) < 0 ||
                qv_xml_prop_uint(c, "queues", &n->queues, err) < 0)
                return -EINVAL;
            if (n->queues > 256)
                return qv_xml_attr_error(err, c, "queues", "at most 256 queues are supported");
            if (parse_net_driver_tuning(n, c, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "boot")) {
            if (qv_xml_prop_uint(c, "order", &n->boot_order, err) < 0)
                return -EINVAL;
            if (!n->boot_order)
                return qv_xml_error(err, c, "boot order must be at least 1");
        } else if (name_is(c, "rom")) {
            if (qv_xml_prop_tristate(c, "bar", &n->rom_bar, err) < 0)
                return -EINVAL;
            int en = QV_TRI_ABSENT;
            if (qv_xml_prop_tristate(c, "enabled", &en, err) < 0)
                return -EINVAL;
            if (en == QV_TRI_OFF)
                qv_set_str(&n->rom_file, g_strdup(""));
            else
                qv_set_str(&n->rom_file, qv_xml_prop(c, "file"));
        } else if (name_is(c, "virtualport")) {
            if (parse_net_virtualport(c, n, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "teaming")) {
            static const char *const tt[] = { "persistent", "transient", NULL };
            if (qv_xml_prop_enum(c, "type", tt, &n->teaming_type, err) < 0)
                return -EINVAL;
            qv_set_str(&n->teaming_persistent, qv_xml_prop(c, "persistent"));
        } else if (name_is(c, "backend")) {
            qv_set_str(&n->backend_tap, qv_xml_prop(c, "tap"));
            qv_set_str(&n->backend_vhost, qv_xml_prop(c, "vhost"));
            if ((n->backend_tap && n->backend_tap[0] != '/') || (n->backend_vhost && n->backend_vhost[0] != '/'))
                return qv_xml_error(err, c, "<backend> tap and vhost must be absolute device paths");
        } else if (name_is(c, "guest")) {
            qv_set_str(&n->guest_dev, qv_xml_prop(c, "dev"));
        } else if (name_is(c, "backenddomain")) {
            qv_set_str(&n->backend_domain, qv_xml_prop(c, "name"));
        } else if (name_is(c, "tune")) {
            xmlNode *sb = qv_xml_child(c, "sndbuf");
            if (sb) {
                g_autofree char *v = (char *)xmlNodeGetContent(sb);
                char *end = NULL;
                n->sndbuf = g_ascii_strtoull(v ? g_strstrip(v) : "", &end, 10);
                if (!v || !*v || *end)
                    return qv_xml_error(err, sb, "<sndbuf> must be a number of bytes");
                n->sndbuf_set = true;
            }
        } else if (name_is(c, "acpi")) {
            if (qv_xml_prop_uint(c, "index", &n->acpi_index, err) < 0)
                return -EINVAL;
            if (!n->acpi_index || n->acpi_index > 16383)
                return qv_xml_attr_error(err, c, "index", "an ACPI index must be between 1 and 16383");
        } else if (name_is(c, "port")) {
            if (qv_xml_prop_tristate(c, "isolated", &n->port_isolated, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "coalesce")) {
            xmlNode *rx = qv_xml_child(c, "rx"), *fr = rx ? qv_xml_child(rx, "frames") : NULL;
            if (fr && qv_xml_prop_uint(fr, "max", &n->coalesce_rx_frames, err) < 0)
                return -EINVAL;
            n->coalesce_set = fr && xmlHasProp(fr, BAD_CAST "max");
        } else if (is_common(c)) {
        } else if (name_is(c, "filterref") || name_is(c, "vlan") || name_is(c, "route")) {
            return qv_xml_error(err, c, "unsupported interface element");
        } else {
            return qv_xml_error(err, c, "unknown interface element");
        }
    }
    if (!have_mac) {
        n->mac[0] = 0x52; n->mac[1] = 0x54; n->mac[2] = 0x00;
        guint32 r = g_random_int();
        n->mac[3] = r & 0xff; n->mac[4] = (r >> 8) & 0xff; n->mac[5] = (r >> 16) & 0xff;
    }
    if (n->type == QV_NET_BRIDGE && !n->source_bridge)
        return qv_xml_error(err, in, "a bridge interface needs <source bridge=...>");
    if (n->type == QV_NET_NETWORK && (!n->source_network || !*n->source_network))
        return qv_xml_error(err, in, "a network interface needs <source network=...>");
    if (n->type != QV_NET_NETWORK) {
        g_clear_pointer(&n->source_network, g_free);
        g_clear_pointer(&n->source_portgroup, g_free);
    }
    else
        g_clear_pointer(&n->source_bridge, g_free);   /* live XML's resolved bridge: resolved again at start */
    if (n->type != QV_NET_ETHERNET && (n->script || n->downscript))
        return qv_xml_error(err, in, "scripts are only supported for type='ethernet'");
    if (check_net_source(in, n, err) < 0)
        return -EINVAL;
    if (check_net_extras(in, n, err) < 0)
        return -EINVAL;
    if (net_driver_tuned(n) && g_strcmp0(n->model, "virtio"))
        return qv_xml_error(err, qv_xml_child(in, "driver"), "txmode, ioeventfd, event_idx, ring sizes and offloads need model virtio");
    return common_tail(in, flags, &n->addr, &n->alias, err);
}

/* ---- serial, console, parallel, channel ---- */
static int parse_chr(qv_domdef *def, xmlNode *cn, int kind, unsigned int flags, qv_error **err)
{
    qv_domdef_chr *c = g_new0(qv_domdef_chr, 1);
    g_ptr_array_add(def->chrs, c);
    c->kind = kind;
    c->target_port = -1;
    g_autofree char *type = qv_xml_prop(cn, "type");
    if (qv_parse_chr_source(cn, &c->src, type ? type : "pty", err) < 0)
        return -EINVAL;
    FOR_EACH_CHILD(ch, cn) {
        if (name_is(ch, "target")) {
            qv_set_str(&c->target_type, qv_xml_prop(ch, "type"));
            qv_set_str(&c->target_name, qv_xml_prop(ch, "name"));
            qv_set_str(&c->target_address, qv_xml_prop(ch, "address"));
            if (qv_xml_prop_int(ch, "port", &c->target_port, err) < 0)
                return -EINVAL;
            xmlNode *m = qv_xml_child(ch, "model");
            if (m)
                qv_set_str(&c->target_model, qv_xml_prop(m, "name"));
        } else if (name_is(ch, "source") || name_is(ch, "protocol") || name_is(ch, "log") ||
                   is_common(ch)) {
        } else {
            return qv_xml_error(err, ch, "unknown character device element");
        }
    }
    const char *tt = c->target_type;
    switch (kind) {
    case QV_CHR_SERIAL:
        if (tt && strcmp(tt, "isa-serial") && strcmp(tt, "pci-serial") && strcmp(tt, "usb-serial"))
            return qv_xml_error(err, cn, "unsupported serial target type '%s'", tt);
        break;
    case QV_CHR_CONSOLE:
        if (tt && strcmp(tt, "serial") && strcmp(tt, "virtio"))
            return qv_xml_error(err, cn, "unsupported console target type '%s' (serial, virtio)", tt);
        break;
    case QV_CHR_PARALLEL:
        if (tt)
            return qv_xml_error(err, cn, "parallel ports take no target type");
        break;
    case QV_CHR_CHANNEL:
        if (!tt)
            return qv_xml_error(err, cn, "a channel needs <target type='virtio' name=...>");
        if (!strcmp(tt, "guestfwd")) {
            /* libvirt: a TCP forward from the guest's user-mode network. */
            if (!c->target_address || c->target_port < 1 || c->target_port > 65535)
                return qv_xml_error(err, cn, "a guestfwd channel needs <target address=... port=...> with a port from 1 to 65535");
            unsigned int o[4];
            char tail;
            if (sscanf(c->target_address, "%u.%u.%u.%u%c", &o[0], &o[1], &o[2], &o[3], &tail) != 4 ||
                o[0] > 255 || o[1] > 255 || o[2] > 255 || o[3] > 255)
                return qv_xml_error(err, cn, "guestfwd address '%s' is not an IPv4 address", c->target_address);
            if (c->src.type == QV_CHR_SPICEVMC || c->src.type == QV_CHR_SPICEPORT ||
                c->src.type == QV_CHR_QEMU_VDAGENT)
                return qv_xml_error(err, cn, "a guestfwd channel cannot be of type '%s'", type);
            break;
        }
        if (strcmp(tt, "virtio"))
            return qv_xml_error(err, cn, "unsupported channel target type '%s'", tt);
        if (!c->target_name && c->src.type != QV_CHR_SPICEVMC && c->src.type != QV_CHR_QEMU_VDAGENT)
            return qv_xml_error(err, cn, "a virtio channel needs a target name");
        if (c->target_name && (strchr(c->target_name, '/') || !*c->target_name))
            return qv_xml_error(err, cn, "invalid channel name '%s'", c->target_name);
        break;
    }
    if ((c->src.type == QV_CHR_SPICEVMC || c->src.type == QV_CHR_QEMU_VDAGENT) && kind != QV_CHR_CHANNEL)
        return qv_xml_error(err, cn, "%s is only supported for channels", type);
    return common_tail(cn, flags, &c->addr, &c->alias, err);
}

/* ---- graphics ---- */
/* A SPICE child element: its channel modes, compression and client options,
 * which become -spice options (cmdline-graphics.c). Returns 1 when c is one
 * of them, 0 when it is not, negative on a bad value (*err set). */
static int parse_spice_child(qv_domdef_graphics *g, xmlNode *c, qv_error **err)
{
    static const char *const image[] = { "auto_glz", "auto_lz", "quic", "glz", "lz", "off", NULL };
    static const char *const wan[] = { "auto", "never", "always", NULL };
    static const char *const streaming[] = { "filter", "all", "off", NULL };
    static const char *const mouse[] = { "server", "client", NULL };
    if (name_is(c, "channel")) {
        static const char *const names[] = { "main", "display", "inputs", "cursor", "playback",
                                             "record", "smartcard", "usbredir", NULL };
        static const char *const modes[] = { "any", "secure", "insecure", NULL };
        g_autofree char *name = NULL, *mode = NULL;
        if (qv_xml_prop_enum(c, "name", names, &name, err) < 0 ||
            qv_xml_prop_enum(c, "mode", modes, &mode, err) < 0)
            return -EINVAL;
        if (!name || !mode)
            return qv_xml_error(err, c, "a SPICE channel needs a name and a mode");
        if (!g->spice_channels)
            g->spice_channels = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(g->spice_channels, g_strdup_printf("%s=%s", name, mode));
        return 1;
    }
    if (name_is(c, "image"))
        return qv_xml_prop_enum(c, "compression", image, &g->spice_image, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "jpeg"))
        return qv_xml_prop_enum(c, "compression", wan, &g->spice_jpeg, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "zlib"))
        return qv_xml_prop_enum(c, "compression", wan, &g->spice_zlib, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "playback"))
        return qv_xml_prop_tristate(c, "compression", &g->spice_playback, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "streaming"))
        return qv_xml_prop_enum(c, "mode", streaming, &g->spice_streaming, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "clipboard"))
        return qv_xml_prop_tristate(c, "copypaste", &g->spice_copypaste, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "mouse"))
        return qv_xml_prop_enum(c, "mode", mouse, &g->spice_mouse, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "filetransfer"))
        return qv_xml_prop_tristate(c, "enable", &g->spice_filetransfer, err) < 0 ? -EINVAL : 1;
    return 0;
}

static int parse_graphics(qv_domdef *def, xmlNode *gn, unsigned int flags, qv_error **err)
{
    qv_domdef_graphics *g = g_new0(qv_domdef_graphics, 1);
    g_ptr_array_add(def->graphics, g);
    g->port = -1;
    g_autofree char *type = qv_xml_prop(gn, "type");
    if (!type)
        return qv_xml_error(err, gn, "missing graphics type");
    if (!strcmp(type, "vnc"))
        g->type = QV_GFX_VNC;
    else if (!strcmp(type, "spice"))
        g->type = QV_GFX_SPICE;
    else if (!strcmp(type, "egl-headless"))
        g->type = QV_GFX_EGL_HEADLESS;
    else if (!strcmp(type, "sdl"))
        g->type = QV_GFX_SDL;
    else if (!strcmp(type, "dbus"))
        g->type = QV_GFX_DBUS;
    else
        return qv_xml_attr_error(err, gn, "type", "unsupported graphics type '%s' (vnc, spice, egl-headless, sdl, dbus)", type);
    int autoport = QV_TRI_ABSENT;
    if (qv_xml_prop_int(gn, "port", &g->port, err) < 0 ||
        qv_xml_prop_int(gn, "tlsPort", &g->tls_port, err) < 0 ||
        qv_xml_prop_int(gn, "websocket", &g->websocket, err) < 0 ||
        qv_xml_prop_tristate(gn, "autoport", &autoport, err) < 0)
        return -EINVAL;
    if (g->port != -1 && (g->port < 5900 || g->port > 65535) && !(flags & QV_DOMXML_PARSE_STATUS))
        return qv_xml_attr_error(err, gn, "port", "%d is not a port between 5900 and 65535 (or -1 for automatic)", g->port);
    g->autoport = autoport == QV_TRI_ON || (autoport == QV_TRI_ABSENT && g->port == -1);
    if (g->autoport && !(flags & QV_DOMXML_PARSE_STATUS)) {
        g->port = -1;
        g->tls_port = 0; /* libvirt picks one itself where the display needs it */
    }
    qv_set_str(&g->passwd, qv_xml_prop(gn, "passwd"));
    qv_set_str(&g->passwd_valid_to, qv_xml_prop(gn, "passwdValidTo"));
    static const char *const conn_kinds[] = { "keep", "disconnect", "fail", NULL };
    if (qv_xml_prop_enum(gn, "connected", conn_kinds, &g->connected, err) < 0)
        return -EINVAL;
    if (g->passwd_valid_to && qv_domdef_passwd_expiry(g) < 0)
        return qv_xml_attr_error(err, gn, "passwdValidTo",
                                 "'%s' is not a UTC time of the form 2024-01-31T12:00:00",
                                 g->passwd_valid_to);
    qv_set_str(&g->keymap, qv_xml_prop(gn, "keymap"));
    qv_set_str(&g->share_policy, qv_xml_prop(gn, "sharePolicy"));
    qv_set_str(&g->socket, qv_xml_prop(gn, "socket"));
    static const char *const modes[] = { "any", "secure", "insecure", NULL };
    if (qv_xml_prop_enum(gn, "defaultMode", modes, &g->default_mode, err) < 0)
        return -EINVAL;
    g_autofree char *listen_attr = qv_xml_prop(gn, "listen");
    if (g->keymap && strspn(g->keymap, "abcdefghijklmnopqrstuvwxyz-_") != strlen(g->keymap))
        return qv_xml_attr_error(err, gn, "keymap", "'%s' is not a keymap name", g->keymap);
    int spice;
    FOR_EACH_CHILD(c, gn) {
        if (name_is(c, "listen")) {
            static const char *const lt[] = { "address", "socket", "none", "network", NULL };
            if (qv_xml_prop_enum(c, "type", lt, &g->listen_type, err) < 0)
                return -EINVAL;
            if (g->listen_type && !strcmp(g->listen_type, "network"))
                return qv_xml_error(err, c, "listen type 'network' needs libvirt's network service; use type='address'");
            qv_set_str(&g->listen_address, qv_xml_prop(c, "address"));
            char *s = qv_xml_prop(c, "socket");
            if (s) {
                g_free(g->socket);
                g->socket = s;
            }
        } else if (name_is(c, "gl")) {
            qv_set_str(&g->rendernode, qv_xml_prop(c, "rendernode"));
            if ((g->type == QV_GFX_DBUS || g->type == QV_GFX_SPICE) &&
                qv_xml_prop_tristate(c, "enable", &g->gl, err) < 0)
                return -EINVAL;
        } else if (g->type == QV_GFX_SPICE && (spice = parse_spice_child(g, c, err)) != 0) {
            if (spice < 0)
                return -EINVAL;
        } else if (name_is(c, "audio")) {
            /* <audio id> names an <audio> backend; the SPICE one is implied. */
        } else if (!is_common(c)) {
            return qv_xml_error(err, c, "unknown graphics element");
        }
    }
    if (!g->listen_address && listen_attr)
        g->listen_address = g_steal_pointer(&listen_attr);
    if (!g->listen_type)
        qv_set_str(&g->listen_type, g_strdup(g->socket ? "socket" : "address"));
    if (g->type == QV_GFX_DBUS) {
        qv_set_str(&g->dbus_address, qv_xml_prop(gn, "address"));
        if (qv_xml_prop_tristate(gn, "p2p", &g->dbus_p2p, err) < 0)
            return -EINVAL;
        if (g->dbus_address && g->dbus_p2p == QV_TRI_ON)
            return qv_xml_error(err, gn, "a dbus display has either address= or p2p='yes', not both");
        if (!g->dbus_address && g->dbus_p2p != QV_TRI_ON)
            return qv_xml_error(err, gn, "qvirt starts no D-Bus daemon for a dbus display; give address= (a bus to join) or p2p='yes'");
        if (g->rendernode && g->gl != QV_TRI_ON)
            return qv_xml_error(err, gn, "a rendernode needs <gl enable='yes'>");
    }
    if (g->type == QV_GFX_VNC && g->passwd && strlen(g->passwd) > 8)
        return qv_xml_attr_error(err, gn, "passwd", "VNC passwords are at most 8 characters");
    return common_tail(gn, flags, NULL, &g->alias, err);
}

static int parse_video(qv_domdef *def, xmlNode *vn, unsigned int flags, qv_error **err)
{
    qv_domdef_video *v = g_new0(qv_domdef_video, 1);
    g_ptr_array_add(def->videos, v);
    xmlNode *m = qv_xml_child(vn, "model");
    if (m) {
        static const char *const models[] = { "vga", "cirrus", "virtio", "qxl", "bochs", "ramfb",
                                              "none", NULL };
        if (qv_xml_prop_enum(m, "type", models, &v->model, err) < 0 ||
            qv_xml_prop_uint(m, "vram", &v->vram, err) < 0 ||
            qv_xml_prop_uint(m, "ram", &v->ram, err) < 0 ||
            qv_xml_prop_uint(m, "vram64", &v->vram64, err) < 0 ||
            qv_xml_prop_uint(m, "vgamem", &v->vgamem, err) < 0 ||
            qv_xml_prop_uint(m, "heads", &v->heads, err) < 0)
            return -EINVAL;
        int primary = QV_TRI_ABSENT;
        if (qv_xml_prop_tristate(m, "primary", &primary, err) < 0)
            return -EINVAL;
        v->primary = primary == QV_TRI_ON;
        xmlNode *acc = qv_xml_child(m, "acceleration");
        if (acc && qv_xml_prop_tristate(acc, "accel3d", &v->accel3d, err) < 0)
            return -EINVAL;
    }
    if (!v->model)
        qv_set_str(&v->model, g_strdup("vga"));
    FOR_EACH_CHILD(c, vn) {
        if (!name_is(c, "model") && !name_is(c, "driver") && !is_common(c))
            return qv_xml_error(err, c, "unknown video element");
    }
    return common_tail(vn, flags, &v->addr, &v->alias, err);
}

static int parse_input(qv_domdef *def, xmlNode *in, unsigned int flags, qv_error **err)
{
    qv_domdef_input *i = g_new0(qv_domdef_input, 1);
    g_ptr_array_add(def->inputs, i);
    static const char *const types[] = { "tablet", "mouse", "keyboard", "passthrough", "evdev", NULL };
    static const char *const buses[] = { "ps2", "usb", "virtio", NULL };
    if (qv_xml_prop_enum(in, "type", types, &i->type, err) < 0 ||
        qv_xml_prop_enum(in, "bus", buses, &i->bus, err) < 0)
        return -EINVAL;
    if (!i->type)
        return qv_xml_error(err, in, "missing input type");
    xmlNode *s = qv_xml_child(in, "source");
    if (s) {
        qv_set_str(&i->source_evdev, qv_xml_prop(s, !strcmp(i->type, "evdev") ? "dev" : "evdev"));
        qv_set_str(&i->grab, qv_xml_prop(s, "grab"));
        qv_set_str(&i->grab_toggle, qv_xml_prop(s, "grabToggle"));
        qv_set_str(&i->repeat, qv_xml_prop(s, "repeat"));
    }
    if (!i->bus)
        i->bus = g_strdup(!strcmp(i->type, "tablet") ? "usb" :
                          !strcmp(i->type, "passthrough") ? "virtio" :
                          !strcmp(i->type, "evdev") ? "" : "ps2");
    if (!*i->bus)
        g_clear_pointer(&i->bus, g_free);
    if (!strcmp(i->type, "tablet") && i->bus && !strcmp(i->bus, "ps2"))
        return qv_xml_error(err, in, "a tablet cannot be on the ps2 bus");
    static const char *const vmodels[] = { "virtio", "virtio-transitional", "virtio-non-transitional", NULL };
    if (qv_xml_prop_enum(in, "model", vmodels, &i->model, err) < 0)
        return -EINVAL;
    if (i->model && (!i->bus || strcmp(i->bus, "virtio")))
        return qv_xml_attr_error(err, in, "model", "an input model needs bus='virtio'");
    /* virtio-input devices are virtio 1.0 only: non-transitional is what
     * QEMU always gives, a legacy interface does not exist. */
    if (qv_virtio_transitional(i->model))
        return qv_xml_attr_error(err, in, "model", "input model 'virtio-transitional' does not exist in QEMU (virtio input devices are modern-only)");
    if ((!strcmp(i->type, "passthrough") || !strcmp(i->type, "evdev")) && !i->source_evdev)
        return qv_xml_error(err, in, "a %s input needs a source device", i->type);
    return common_tail(in, flags, &i->addr, &i->alias, err);
}

static int parse_sound(qv_domdef *def, xmlNode *sn, unsigned int flags, qv_error **err)
{
    qv_domdef_sound *s = g_new0(qv_domdef_sound, 1);
    g_ptr_array_add(def->sounds, s);
    s->codecs = g_ptr_array_new_with_free_func(g_free);
    static const char *const models[] = { "ich6", "ich9", "ac97", "es1370", "sb16", "usb", NULL };
    if (qv_xml_prop_enum(sn, "model", models, &s->model, err) < 0)
        return -EINVAL;
    if (!s->model)
        return qv_xml_error(err, sn, "missing sound model");
    FOR_EACH_CHILD(c, sn) {
        if (name_is(c, "codec")) {
            static const char *const ct[] = { "duplex", "micro", "output", NULL };
            char *t = NULL;
            if (qv_xml_prop_enum(c, "type", ct, &t, err) < 0)
                return -EINVAL;
            g_ptr_array_add(s->codecs, t ? t : g_strdup("duplex"));
        } else if (name_is(c, "audio")) {
            if (qv_xml_prop_uint(c, "id", &s->audio_id, err) < 0)
                return -EINVAL;
        } else if (!is_common(c)) {
            return qv_xml_error(err, c, "unknown sound element");
        }
    }
    return common_tail(sn, flags, &s->addr, &s->alias, err);
}

/* One direction of an audio backend (libvirt's <input>/<output>): the
 * common attributes, <settings>, and the attributes of its type. */
static int parse_audio_io(const qv_domdef_audio *a, xmlNode *n, qv_domdef_audio_io *io, qv_error **err)
{
    const char *t = a->type;
    bool alsa = !strcmp(t, "alsa"), oss = !strcmp(t, "oss"), pa = !strcmp(t, "pulseaudio");
    bool sdl = !strcmp(t, "sdl"), jack = !strcmp(t, "jack");
    if (qv_xml_prop_tristate(n, "mixingEngine", &io->mixing_engine, err) < 0 ||
        qv_xml_prop_tristate(n, "fixedSettings", &io->fixed_settings, err) < 0 ||
        qv_xml_prop_uint(n, "voices", &io->voices, err) < 0 ||
        qv_xml_prop_uint(n, "bufferLength", &io->buffer_length, err) < 0)
        return -EINVAL;
    /* Attributes of other backend types are refused, not silently dropped. */
    static const struct { const char *attr; const char *types; } typed[] = {
        { "dev", "alsa oss" }, { "bufferCount", "oss sdl" }, { "tryPoll", "oss" },
        { "name", "pulseaudio" }, { "streamName", "pulseaudio" }, { "latency", "pulseaudio" },
        { "serverName", "jack" }, { "clientName", "jack" }, { "connectPorts", "jack" },
        { "exactName", "jack" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(typed); i++) {
        if (!xmlHasProp(n, (const xmlChar *)typed[i].attr))
            continue;
        g_auto(GStrv) ok = g_strsplit(typed[i].types, " ", -1);
        if (!g_strv_contains((const char *const *)ok, t))
            return qv_xml_attr_error(err, n, typed[i].attr, "not an attribute of audio type '%s'", t);
    }
    if (alsa || oss)
        qv_set_str(&io->dev, qv_xml_prop(n, "dev"));
    if ((oss || sdl) && qv_xml_prop_uint(n, "bufferCount", &io->buffer_count, err) < 0)
        return -EINVAL;
    if (oss && qv_xml_prop_tristate(n, "tryPoll", &io->try_poll, err) < 0)
        return -EINVAL;
    if (pa) {
        qv_set_str(&io->name, qv_xml_prop(n, "name"));
        qv_set_str(&io->stream_name, qv_xml_prop(n, "streamName"));
        if (qv_xml_prop_uint(n, "latency", &io->latency, err) < 0)
            return -EINVAL;
    }
    if (jack) {
        qv_set_str(&io->server_name, qv_xml_prop(n, "serverName"));
        qv_set_str(&io->client_name, qv_xml_prop(n, "clientName"));
        qv_set_str(&io->connect_ports, qv_xml_prop(n, "connectPorts"));
        if (qv_xml_prop_tristate(n, "exactName", &io->exact_name, err) < 0)
            return -EINVAL;
    }
    FOR_EACH_CHILD(c, n) {
        if (!name_is(c, "settings"))
            return qv_xml_error(err, c, "unknown audio element");
        static const char *const fmts[] = { "s8", "u8", "s16", "u16", "s32", "u32", "f32", NULL };
        if (qv_xml_prop_uint(c, "frequency", &io->frequency, err) < 0 ||
            qv_xml_prop_uint(c, "channels", &io->channels, err) < 0 ||
            qv_xml_prop_enum(c, "format", fmts, &io->format, err) < 0)
            return -EINVAL;
        if (io->fixed_settings != QV_TRI_ON)
            return qv_xml_error(err, c, "audio settings need fixedSettings='yes'");
    }
    return 0;
}

static int parse_audio(qv_domdef *def, xmlNode *an, qv_error **err)
{
    qv_domdef_audio *a = g_new0(qv_domdef_audio, 1);
    g_ptr_array_add(def->audios, a);
    a->dsp_policy = -1;
    /* libvirt 9.0's backends; coreaudio is macOS's, pipewire came with
     * libvirt 9.10 and QEMU 8.1. */
    static const char *const types[] = { "none", "alsa", "dbus", "file", "jack", "oss", "pulseaudio",
                                         "sdl", "spice", "coreaudio", "pipewire", NULL };
    if (qv_xml_prop_enum(an, "type", types, &a->type, err) < 0 ||
        qv_xml_prop_uint(an, "id", &a->id, err) < 0 ||
        qv_xml_prop_uint(an, "timerPeriod", &a->timer_period, err) < 0)
        return -EINVAL;
    if (!a->type)
        return qv_xml_error(err, an, "missing audio backend type");
    if (!strcmp(a->type, "coreaudio") || !strcmp(a->type, "pipewire"))
        return qv_xml_attr_error(err, an, "type", "audio type '%s' is not supported by QEMU 7.2 on Linux", a->type);
    if (!a->id)
        a->id = def->audios->len;
    const char *t = a->type;
    if (!strcmp(t, "oss")) {
        if (qv_xml_prop_tristate(an, "tryMMap", &a->try_mmap, err) < 0 ||
            qv_xml_prop_tristate(an, "exclusive", &a->exclusive, err) < 0 ||
            qv_xml_prop_int(an, "dspPolicy", &a->dsp_policy, err) < 0)
            return -EINVAL;
        if (xmlHasProp(an, (const xmlChar *)"dspPolicy") && a->dsp_policy < 0)
            return qv_xml_attr_error(err, an, "dspPolicy", "must be 0 or more");
    } else if (xmlHasProp(an, (const xmlChar *)"tryMMap") || xmlHasProp(an, (const xmlChar *)"exclusive") ||
               xmlHasProp(an, (const xmlChar *)"dspPolicy")) {
        return qv_xml_error(err, an, "tryMMap, exclusive and dspPolicy are attributes of audio type 'oss' only");
    }
    if (!strcmp(t, "pulseaudio"))
        qv_set_str(&a->server_name, qv_xml_prop(an, "serverName"));
    else if (xmlHasProp(an, (const xmlChar *)"serverName"))
        return qv_xml_attr_error(err, an, "serverName", "not an attribute of audio type '%s'", t);
    if (!strcmp(t, "sdl")) {
        static const char *const d[] = { "esd", "alsa", "arts", "pulseaudio", NULL };
        if (qv_xml_prop_enum(an, "driver", d, &a->sdl_driver, err) < 0)
            return -EINVAL;
    } else if (xmlHasProp(an, (const xmlChar *)"driver")) {
        return qv_xml_attr_error(err, an, "driver", "not an attribute of audio type '%s'", t);
    }
    if (!strcmp(t, "file"))
        qv_set_str(&a->path, qv_xml_prop(an, "path"));
    else if (xmlHasProp(an, (const xmlChar *)"path"))
        return qv_xml_attr_error(err, an, "path", "not an attribute of audio type '%s'", t);
    FOR_EACH_CHILD(c, an) {
        if (name_is(c, "input") || name_is(c, "output")) {
            if (parse_audio_io(a, c, name_is(c, "input") ? &a->in : &a->out, err) < 0)
                return -EINVAL;
        } else {
            return qv_xml_error(err, c, "unknown audio element");
        }
    }
    return 0;
}

static int parse_memballoon(qv_domdef *def, xmlNode *mn, unsigned int flags, qv_error **err)
{
    if (def->memballoon)
        return qv_xml_error(err, mn, "only one memballoon is supported");
    qv_domdef_memballoon *b = g_new0(qv_domdef_memballoon, 1);
    def->memballoon = b;
    static const char *const models[] = { "virtio", "virtio-transitional", "virtio-non-transitional",
                                          "none", NULL };
    if (qv_xml_prop_enum(mn, "model", models, &b->model, err) < 0 ||
        qv_xml_prop_tristate(mn, "autodeflate", &b->autodeflate, err) < 0 ||
        qv_xml_prop_tristate(mn, "freePageReporting", &b->free_page_reporting, err) < 0)
        return -EINVAL;
    if (!b->model)
        return qv_xml_error(err, mn, "missing memballoon model");
    FOR_EACH_CHILD(c, mn) {
        if (name_is(c, "stats")) {
            if (qv_xml_prop_uint(c, "period", &b->stats_period, err) < 0)
                return -EINVAL;
        } else if (!name_is(c, "driver") && !is_common(c)) {
            return qv_xml_error(err, c, "unknown memballoon element");
        }
    }
    return common_tail(mn, flags, &b->addr, &b->alias, err);
}

static int parse_watchdog(qv_domdef *def, xmlNode *wn, unsigned int flags, qv_error **err)
{
    qv_domdef_watchdog *w = g_new0(qv_domdef_watchdog, 1);
    g_ptr_array_add(def->watchdogs, w);
    static const char *const models[] = { "i6300esb", "ib700", "itco", NULL };
    static const char *const actions[] = { "reset", "shutdown", "poweroff", "pause", "none",
                                           "dump", "inject-nmi", NULL };
    if (qv_xml_prop_enum(wn, "model", models, &w->model, err) < 0 ||
        qv_xml_prop_enum(wn, "action", actions, &w->action, err) < 0)
        return -EINVAL;
    if (!w->model)
        return qv_xml_error(err, wn, "missing watchdog model");
    return common_tail(wn, flags, &w->addr, &w->alias, err);
}

static int parse_rng(qv_domdef *def, xmlNode *rn, unsigned int flags, qv_error **err)
{
    qv_domdef_rng *r = g_new0(qv_domdef_rng, 1);
    g_ptr_array_add(def->rngs, r);
    static const char *const models[] = { "virtio", "virtio-transitional", "virtio-non-transitional", NULL };
    if (qv_xml_prop_enum(rn, "model", models, &r->model, err) < 0)
        return -EINVAL;
    if (!r->model)
        return qv_xml_error(err, rn, "missing rng model");
    xmlNode *b = qv_xml_child(rn, "backend");
    if (!b)
        return qv_xml_error(err, rn, "missing <backend>");
    static const char *const bm[] = { "random", "builtin", "egd", NULL };
    if (qv_xml_prop_enum(b, "model", bm, &r->backend_model, err) < 0)
        return -EINVAL;
    if (!r->backend_model)
        return qv_xml_error(err, b, "missing backend model");
    if (!strcmp(r->backend_model, "random")) {
        qv_set_str(&r->backend_path, qv_xml_text(b));
        if (!*r->backend_path)
            g_clear_pointer(&r->backend_path, g_free);
    } else if (!strcmp(r->backend_model, "egd")) {
        g_autofree char *t = qv_xml_prop(b, "type");
        r->egd = g_new0(qv_domdef_chr_source, 1);
        if (qv_parse_chr_source(b, r->egd, t ? t : "tcp", err) < 0)
            return -EINVAL;
    }
    xmlNode *rate = qv_xml_child(rn, "rate");
    if (rate && (qv_xml_prop_uint(rate, "bytes", &r->rate_bytes, err) < 0 ||
                 qv_xml_prop_uint(rate, "period", &r->rate_period, err) < 0))
        return -EINVAL;
    return common_tail(rn, flags, &r->addr, &r->alias, err);
}

static int parse_panic(qv_domdef *def, xmlNode *pn, unsigned int flags, qv_error **err)
{
    qv_domdef_panic *p = g_new0(qv_domdef_panic, 1);
    g_ptr_array_add(def->panics, p);
    static const char *const models[] = { "isa", "pvpanic", "hyperv", NULL };
    if (qv_xml_prop_enum(pn, "model", models, &p->model, err) < 0)
        return -EINVAL;
    if (!p->model)
        qv_set_str(&p->model, g_strdup("isa"));
    return common_tail(pn, flags, &p->addr, &p->alias, err);
}

static int parse_shmem(qv_domdef *def, xmlNode *sn, unsigned int flags, qv_error **err)
{
    qv_domdef_shmem *s = g_new0(qv_domdef_shmem, 1);
    g_ptr_array_add(def->shmems, s);
    qv_set_str(&s->name, qv_xml_prop(sn, "name"));
    if (!s->name || !*s->name || strchr(s->name, '/') || s->name[0] == '.')
        return qv_xml_attr_error(err, sn, "name", "missing or invalid shared memory name");
    xmlNode *m = qv_xml_child(sn, "model");
    static const char *const models[] = { "ivshmem-plain", "ivshmem-doorbell", "ivshmem", NULL };
    if (m && qv_xml_prop_enum(m, "type", models, &s->model, err) < 0)
        return -EINVAL;
    if (!s->model)
        qv_set_str(&s->model, g_strdup("ivshmem-plain"));
    if (strcmp(s->model, "ivshmem-plain"))
        return qv_xml_error(err, sn, "only the ivshmem-plain model is supported");
    xmlNode *sz = qv_xml_child(sn, "size");
    if (sz && qv_xml_scaled_kib(sz, "M", &s->size_kib, err) < 0)
        return -EINVAL;
    if (!s->size_kib)
        s->size_kib = 4096;
    if (s->size_kib & (s->size_kib - 1))
        return qv_xml_error(err, sn, "the shared memory size must be a power of two");
    if (qv_xml_child(sn, "server") || qv_xml_child(sn, "msi"))
        return qv_xml_error(err, sn, "ivshmem servers and MSI are not supported");
    return common_tail(sn, flags, &s->addr, &s->alias, err);
}

static int parse_vsock(qv_domdef *def, xmlNode *vn, unsigned int flags, qv_error **err)
{
    if (def->vsock)
        return qv_xml_error(err, vn, "only one vsock device is supported");
    qv_domdef_vsock *v = g_new0(qv_domdef_vsock, 1);
    def->vsock = v;
    static const char *const vmodels[] = { "virtio", "virtio-transitional", "virtio-non-transitional", NULL };
    if (qv_xml_prop_enum(vn, "model", vmodels, &v->model, err) < 0)
        return -EINVAL;
    /* vhost-vsock is a virtio 1.0 device: QEMU has no legacy interface for it. */
    if (qv_virtio_transitional(v->model))
        return qv_xml_attr_error(err, vn, "model", "vsock model 'virtio-transitional' does not exist in QEMU (vhost-vsock is modern-only)");
    xmlNode *cid = qv_xml_child(vn, "cid");
    if (cid) {
        int a = QV_TRI_ABSENT;
        if (qv_xml_prop_tristate(cid, "auto", &a, err) < 0 ||
            qv_xml_prop_uint(cid, "address", &v->cid, err) < 0)
            return -EINVAL;
        v->auto_cid = a == QV_TRI_ON;
        if (!v->auto_cid && v->cid < 3)
            return qv_xml_attr_error(err, cid, "address", "guest CIDs start at 3");
    } else {
        v->auto_cid = true;
    }
    return common_tail(vn, flags, &v->addr, &v->alias, err);
}

static int parse_iommu(qv_domdef *def, xmlNode *in, unsigned int flags, qv_error **err)
{
    if (def->iommu)
        return qv_xml_error(err, in, "only one IOMMU is supported");
    qv_domdef_iommu *i = g_new0(qv_domdef_iommu, 1);
    def->iommu = i;
    static const char *const models[] = { "intel", "virtio", NULL };
    if (qv_xml_prop_enum(in, "model", models, &i->model, err) < 0)
        return -EINVAL;
    if (!i->model)
        return qv_xml_error(err, in, "missing IOMMU model");
    xmlNode *d = qv_xml_child(in, "driver");
    if (d && (qv_xml_prop_tristate(d, "intremap", &i->intremap, err) < 0 ||
              qv_xml_prop_tristate(d, "caching_mode", &i->caching_mode, err) < 0 ||
              qv_xml_prop_tristate(d, "eim", &i->eim, err) < 0 ||
              qv_xml_prop_tristate(d, "iotlb", &i->iotlb, err) < 0 ||
              qv_xml_prop_uint(d, "aw_bits", &i->aw_bits, err) < 0))
        return -EINVAL;
    return common_tail(in, flags, &i->addr, &i->alias, err);
}

static int parse_tpm(qv_domdef *def, xmlNode *tn, unsigned int flags, qv_error **err)
{
    qv_domdef_tpm *t = g_new0(qv_domdef_tpm, 1);
    g_ptr_array_add(def->tpms, t);
    static const char *const models[] = { "tpm-tis", "tpm-crb", NULL };
    if (qv_xml_prop_enum(tn, "model", models, &t->model, err) < 0)
        return -EINVAL;
    if (!t->model)
        qv_set_str(&t->model, g_strdup("tpm-tis"));
    xmlNode *b = qv_xml_child(tn, "backend");
    if (!b)
        return qv_xml_error(err, tn, "missing <backend>");
    static const char *const bt[] = { "emulator", "passthrough", NULL };
    static const char *const vers[] = { "1.2", "2.0", NULL };
    if (qv_xml_prop_enum(b, "type", bt, &t->backend, err) < 0 ||
        qv_xml_prop_enum(b, "version", vers, &t->version, err) < 0)
        return -EINVAL;
    if (!t->backend)
        return qv_xml_error(err, b, "missing backend type");
    FOR_EACH_CHILD(c, b) {
        if (name_is(c, "device")) {
            qv_set_str(&t->path, qv_xml_prop(c, "path"));
        } else if (name_is(c, "active_pcr_banks")) {
            /* swtpm_setup --pcr-banks (lib/tpm.c), in libvirt's order. */
            static const char *const banks[] = { "sha1", "sha256", "sha384", "sha512", NULL };
            g_autoptr(GString) list = g_string_new(NULL);
            for (size_t i = 0; banks[i]; i++) {
                if (qv_xml_child(c, banks[i]))
                    g_string_append_printf(list, "%s%s", list->len ? "," : "", banks[i]);
            }
            FOR_EACH_CHILD(bank, c) {
                if (!g_strv_contains(banks, (const char *)bank->name))
                    return qv_xml_error(err, bank, "unknown PCR bank (sha1, sha256, sha384, sha512)");
            }
            if (!strcmp(t->backend, "emulator") && t->version && !strcmp(t->version, "1.2"))
                return qv_xml_error(err, c, "PCR banks need a TPM 2.0");
            if (list->len)
                qv_set_str(&t->pcr_banks, g_string_free(g_steal_pointer(&list), FALSE));
        } else if (name_is(c, "encryption")) {
            /* swtpm encrypts the state with a key derived from the secret's
             * value (lib/tpm.c); libvirt reads this for emulators only. */
            unsigned char u[16];
            g_autofree char *secret = qv_xml_prop(c, "secret");
            if (strcmp(t->backend, "emulator"))
                return qv_xml_error(err, c, "<encryption> is only for an emulated TPM's state");
            if (!secret)
                return qv_xml_error(err, c, "missing secret= (the UUID of a vtpm secret)");
            if (qv_uuid_parse(secret, u) < 0)
                return qv_xml_attr_error(err, c, "secret", "'%s' is not a UUID", secret);
            char norm[37];
            qv_uuid_format(u, norm);
            qv_set_str(&t->secret_uuid, g_strdup(norm));
        } else {
            return qv_xml_error(err, c, "unsupported TPM backend element");
        }
    }
    if (!strcmp(t->backend, "passthrough") && !t->path)
        qv_set_str(&t->path, g_strdup("/dev/tpm0"));
    return common_tail(tn, flags, NULL, &t->alias, err);
}

static int parse_smartcard(qv_domdef *def, xmlNode *sn, unsigned int flags, qv_error **err)
{
    qv_domdef_smartcard *s = g_new0(qv_domdef_smartcard, 1);
    g_ptr_array_add(def->smartcards, s);
    static const char *const modes[] = { "host", "passthrough", NULL };
    if (qv_xml_prop_enum(sn, "mode", modes, &s->mode, err) < 0)
        return -EINVAL;
    if (!s->mode)
        return qv_xml_error(err, sn, "missing smartcard mode (host, passthrough)");
    if (!strcmp(s->mode, "passthrough")) {
        g_autofree char *t = qv_xml_prop(sn, "type");
        if (qv_parse_chr_source(sn, &s->src, t ? t : "spicevmc", err) < 0)
            return -EINVAL;
    }
    return common_tail(sn, flags, &s->addr, &s->alias, err);
}

static int parse_redirdev(qv_domdef *def, xmlNode *rn, unsigned int flags, qv_error **err)
{
    qv_domdef_redirdev *r = g_new0(qv_domdef_redirdev, 1);
    g_ptr_array_add(def->redirdevs, r);
    static const char *const buses[] = { "usb", NULL };
    if (qv_xml_prop_enum(rn, "bus", buses, &r->bus, err) < 0)
        return -EINVAL;
    if (!r->bus)
        qv_set_str(&r->bus, g_strdup("usb"));
    g_autofree char *t = qv_xml_prop(rn, "type");
    if (!t || (strcmp(t, "spicevmc") && strcmp(t, "tcp")))
        return qv_xml_attr_error(err, rn, "type", "unsupported redirection type (spicevmc, tcp)");
    if (qv_parse_chr_source(rn, &r->src, t, err) < 0)
        return -EINVAL;
    return common_tail(rn, flags, &r->addr, &r->alias, err);
}

static int parse_hub(qv_domdef *def, xmlNode *hn, unsigned int flags, qv_error **err)
{
    qv_domdef_hub *h = g_new0(qv_domdef_hub, 1);
    g_ptr_array_add(def->hubs, h);
    static const char *const types[] = { "usb", NULL };
    if (qv_xml_prop_enum(hn, "type", types, &h->type, err) < 0)
        return -EINVAL;
    if (!h->type)
        return qv_xml_error(err, hn, "missing hub type");
    return common_tail(hn, flags, &h->addr, &h->alias, err);
}

static int parse_hostdev_usb(qv_domdef_hostdev *h, xmlNode *src, qv_error **err)
{
    h->host_bus = h->host_device = -1;
    xmlNode *v = qv_xml_child(src, "vendor"), *p = qv_xml_child(src, "product");
    xmlNode *a = qv_xml_child(src, "address");
    if (v && qv_xml_prop_uint(v, "id", &h->vendor, err) < 0)
        return -EINVAL;
    if (p && qv_xml_prop_uint(p, "id", &h->product, err) < 0)
        return -EINVAL;
    if (a && (qv_xml_prop_int(a, "bus", &h->host_bus, err) < 0 ||
              qv_xml_prop_int(a, "device", &h->host_device, err) < 0))
        return -EINVAL;
    if (!h->vendor && h->host_bus < 0)
        return qv_xml_error(err, src, "a USB host device needs a vendor/product or a bus/device address");
    if (h->vendor > 0xffff || h->product > 0xffff)
        return qv_xml_error(err, src, "USB vendor and product ids are 16-bit");
    return 0;
}

static int parse_hostdev_pci(qv_domdef_hostdev *h, xmlNode *hn, xmlNode *src, qv_error **err)
{
    xmlNode *a = qv_xml_child(src, "address");
    if (!a)
        return qv_xml_error(err, src, "a PCI host device needs <address domain bus slot function>");
    h->host_addr.type = QV_ADDR_PCI;
    if (addr_field(a, "domain", 0xffff, &h->host_addr.domain, err) < 0 ||
        addr_field(a, "bus", 255, &h->host_addr.bus, err) < 0 ||
        addr_field(a, "slot", 31, &h->host_addr.slot, err) < 0 ||
        addr_field(a, "function", 7, &h->host_addr.function, err) < 0)
        return -EINVAL;
    xmlNode *drv = qv_xml_child(hn, "driver");
    static const char *const drivers[] = { "vfio", NULL };
    if (drv && qv_xml_prop_enum(drv, "name", drivers, &h->driver_name, err) < 0)
        return -EINVAL;
    return 0;
}

static int parse_hostdev_scsi(qv_domdef_hostdev *h, xmlNode *hn, xmlNode *src, qv_error **err)
{
    static const char *const sgios[] = { "filtered", "unfiltered", NULL };
    static const char *const yesno[] = { "yes", "no", NULL };
    g_autofree char *protocol = qv_xml_prop(src, "protocol");
    if (qv_xml_prop_enum(hn, "sgio", sgios, &h->sgio, err) < 0 ||
        qv_xml_prop_enum(hn, "rawio", yesno, &h->rawio, err) < 0)
        return -EINVAL;
    if (protocol) {
        /* An iSCSI LUN QEMU's own initiator reaches (libvirt's
         * virDomainHostdevSubsysSCSIiSCSIDefParseXML): the source of a
         * network disk, which the argv builder shares. */
        if (strcmp(protocol, "iscsi"))
            return qv_xml_attr_error(err, src, "protocol", "a SCSI host device's protocol is 'iscsi'");
        if (h->sgio || h->rawio)
            return qv_xml_error(err, hn, "sgio and rawio are for host SCSI devices, not iSCSI ones");
        h->iscsi = g_new0(qv_domdef_disk_src, 1);
        h->iscsi->type = QV_DISK_TYPE_NETWORK;
        if (parse_network_source(src, h->iscsi, err) < 0)
            return -EINVAL;
        if (h->iscsi->enc_format)
            return qv_xml_error(err, qv_xml_child(src, "encryption"), "an iSCSI host device takes no <encryption>");
        h->readonly = qv_xml_child(hn, "readonly") != NULL;
        h->shareable = qv_xml_child(hn, "shareable") != NULL;
        return 0;
    }
    xmlNode *ad = qv_xml_child(src, "adapter"), *a = qv_xml_child(src, "address");
    if (ad)
        qv_set_str(&h->scsi_adapter, qv_xml_prop(ad, "name"));
    if (!h->scsi_adapter || !g_str_has_prefix(h->scsi_adapter, "scsi_host") ||
        !h->scsi_adapter[9] || strspn(h->scsi_adapter + 9, "0123456789") != strlen(h->scsi_adapter + 9))
        return qv_xml_error(err, src, "a SCSI host device needs <adapter name='scsi_hostN'>");
    if (!a)
        return qv_xml_error(err, src, "a SCSI host device needs <address bus target unit>");
    if (addr_field(a, "bus", 65535, &h->scsi_bus, err) < 0 ||
        addr_field(a, "target", 65535, &h->scsi_target, err) < 0 ||
        addr_field(a, "unit", 0xffffffffu, &h->scsi_unit, err) < 0)
        return -EINVAL;
    h->readonly = qv_xml_child(hn, "readonly") != NULL;
    h->shareable = qv_xml_child(hn, "shareable") != NULL;
    return 0;
}

static int parse_hostdev_mdev(qv_domdef_hostdev *h, xmlNode *hn, xmlNode *src, qv_error **err)
{
    static const char *const models[] = { "vfio-pci", "vfio-ccw", "vfio-ap", NULL };
    if (qv_xml_prop_enum(hn, "model", models, &h->mdev_model, err) < 0 ||
        qv_xml_prop_tristate(hn, "display", &h->mdev_display, err) < 0 ||
        qv_xml_prop_tristate(hn, "ramfb", &h->mdev_ramfb, err) < 0)
        return -EINVAL;
    if (!h->mdev_model)
        return qv_xml_error(err, hn, "a mediated device needs a model (vfio-pci)");
    if (strcmp(h->mdev_model, "vfio-pci"))
        return qv_xml_attr_error(err, hn, "model", "a %s mediated device is for s390 hosts; x86_64 guests take vfio-pci", h->mdev_model);
    xmlNode *a = qv_xml_child(src, "address");
    if (a)
        qv_set_str(&h->mdev_uuid, qv_xml_prop(a, "uuid"));
    unsigned char uuid[16];
    if (!h->mdev_uuid || qv_uuid_parse(h->mdev_uuid, uuid) < 0)
        return qv_xml_error(err, src, "a mediated device needs <address uuid=...> with a UUID");
    char canon[37];
    qv_uuid_format(uuid, canon);
    qv_set_str(&h->mdev_uuid, g_strdup(canon));
    if (h->mdev_ramfb == QV_TRI_ON && h->mdev_display != QV_TRI_ON)
        return qv_xml_attr_error(err, hn, "ramfb", "ramfb needs display='on'");
    return 0;
}

/* A vhost-scsi target (<hostdev type='scsi_host'>): the host's LIO
 * target by its WWPN, which libvirt checks is "naa." and 16 hex digits. */
static int parse_hostdev_scsi_host(qv_domdef_hostdev *h, xmlNode *hn, xmlNode *src, qv_error **err)
{
    static const char *const models[] = { "virtio", "virtio-transitional", "virtio-non-transitional", NULL };
    g_autofree char *protocol = qv_xml_prop(src, "protocol");
    if (g_strcmp0(protocol, "vhost"))
        return qv_xml_error(err, src, "a scsi_host host device needs <source protocol='vhost' wwpn=...>");
    if (qv_xml_prop_enum(hn, "model", models, &h->vhost_model, err) < 0)
        return -EINVAL;
    qv_set_str(&h->vhost_wwpn, qv_xml_prop(src, "wwpn"));
    const char *w = h->vhost_wwpn;
    if (!w || !g_str_has_prefix(w, "naa.") || strlen(w) != 20 || strspn(w + 4, "0123456789abcdefABCDEF") != 16)
        return qv_xml_error(err, src, "a vhost-scsi host device needs wwpn='naa.' followed by 16 hex digits");
    return 0;
}

/* USB, PCI (VFIO), SCSI (scsi-generic) and mediated (VFIO) host devices:
 * the argv is always built; whether the host has the device is checked
 * when the domain starts (lib/), as libvirt does. */
static int parse_hostdev(qv_domdef *def, xmlNode *hn, unsigned int flags, qv_error **err)
{
    g_autofree char *mode = qv_xml_prop(hn, "mode");
    g_autofree char *type = qv_xml_prop(hn, "type");
    if (mode && strcmp(mode, "subsystem"))
        return qv_xml_error(err, hn, "capabilities-mode host devices are only for containers");
    static const char *const types[] = { "usb", "pci", "scsi", "mdev", "scsi_host", NULL };
    bool known = false;
    for (int i = 0; type && types[i]; i++)
        known |= !strcmp(type, types[i]);
    if (!known)
        return qv_xml_error(err, hn, "unsupported host device type '%s' (usb, pci, scsi, mdev, scsi_host)", type ? type : "");
    qv_domdef_hostdev *h = g_new0(qv_domdef_hostdev, 1);
    g_ptr_array_add(def->hostdevs, h);
    qv_set_str(&h->type, g_strdup(type));
    h->host_bus = h->host_device = -1;
    if (qv_xml_prop_tristate(hn, "managed", &h->managed, err) < 0)
        return -EINVAL;
    xmlNode *src = qv_xml_child(hn, "source");
    if (!src)
        return qv_xml_error(err, hn, "missing <source>");
    int r = !strcmp(type, "usb") ? parse_hostdev_usb(h, src, err)
          : !strcmp(type, "pci") ? parse_hostdev_pci(h, hn, src, err)
          : !strcmp(type, "scsi") ? parse_hostdev_scsi(h, hn, src, err)
          : !strcmp(type, "scsi_host") ? parse_hostdev_scsi_host(h, hn, src, err)
          : parse_hostdev_mdev(h, hn, src, err);
    if (r < 0)
        return r;
    xmlNode *teaming = qv_xml_child(hn, "teaming");
    if (teaming) {
        /* libvirt: the hostdev is the transient member of a failover pair
         * whose persistent member is a virtio interface (QEMU's vfio-pci
         * failover_pair_id names that NIC's id). */
        g_autofree char *tt = qv_xml_prop(teaming, "type");
        if (strcmp(type, "pci") || g_strcmp0(tt, "transient"))
            return qv_xml_error(err, teaming, "a host device's <teaming> must be type='transient' on a PCI host device");
        qv_set_str(&h->teaming_persistent, qv_xml_prop(teaming, "persistent"));
        if (!h->teaming_persistent || !*h->teaming_persistent)
            return qv_xml_error(err, teaming, "a transient <teaming> needs persistent= naming the alias of its virtio interface");
    }
    xmlNode *rom = qv_xml_child(hn, "rom");
    if (rom) {
        if (strcmp(type, "pci") && strcmp(type, "mdev"))
            return qv_xml_error(err, rom, "only PCI and mediated host devices have a ROM");
        if (qv_xml_prop_tristate(rom, "bar", &h->rom_bar, err) < 0)
            return -EINVAL;
        qv_set_str(&h->rom_file, qv_xml_prop(rom, "file"));
    }
    xmlNode *boot = qv_xml_child(hn, "boot");
    if (boot && qv_xml_prop_uint(boot, "order", &h->boot_order, err) < 0)
        return -EINVAL;
    if (boot && !strcmp(type, "mdev"))
        return qv_xml_error(err, boot, "a mediated device cannot boot the guest");
    return common_tail(hn, flags, &h->addr, &h->alias, err);
}

static int parse_filesystem(qv_domdef *def, xmlNode *fn, unsigned int flags, qv_error **err)
{
    qv_domdef_fs *f = g_new0(qv_domdef_fs, 1);
    g_ptr_array_add(def->filesystems, f);
    static const char *const types[] = { "mount", NULL };
    static const char *const am[] = { "passthrough", "mapped", "squash", NULL };
    static const char *const vmodels[] = { "virtio", "virtio-transitional", "virtio-non-transitional", NULL };
    if (qv_xml_prop_enum(fn, "type", types, &f->type, err) < 0 ||
        qv_xml_prop_enum(fn, "accessmode", am, &f->accessmode, err) < 0 ||
        qv_xml_prop_enum(fn, "model", vmodels, &f->model, err) < 0)
        return -EINVAL;
    if (!f->type)
        qv_set_str(&f->type, g_strdup("mount"));
    xmlNode *d = qv_xml_child(fn, "driver");
    if (d) {
        qv_set_str(&f->driver, qv_xml_prop(d, "type"));
        if (f->driver && !strcmp(f->driver, "virtiofs"))
            return qv_xml_error(err, d, "virtiofs needs virtiofsd and shared memory, not supported; use the 9p 'path' driver");
        if (f->driver && strcmp(f->driver, "path"))
            return qv_xml_attr_error(err, d, "type", "unsupported filesystem driver '%s' (path)", f->driver);
    }
    xmlNode *s = qv_xml_child(fn, "source"), *t = qv_xml_child(fn, "target");
    if (s)
        qv_set_str(&f->source, qv_xml_prop(s, "dir"));
    if (t)
        qv_set_str(&f->target, qv_xml_prop(t, "dir"));
    if (!f->source || !f->target)
        return qv_xml_error(err, fn, "a filesystem needs <source dir=...> and <target dir=...>");
    if (strlen(f->target) > 31)
        return qv_xml_error(err, fn, "the mount tag '%s' is longer than 31 characters", f->target);
    f->readonly = qv_xml_child(fn, "readonly") != NULL;
    return common_tail(fn, flags, &f->addr, &f->alias, err);
}

static int memdev_size(xmlNode *parent, const char *name, unsigned long long *kib, qv_error **err)
{
    xmlNode *n = parent ? qv_xml_child(parent, name) : NULL;
    return n ? qv_xml_scaled_kib(n, "KiB", kib, err) : 0;
}

/* <memory model='dimm|nvdimm|virtio-pmem|virtio-mem' access discard>:
 * <source> (path, pmem, alignsize for file-backed models; pagesize,
 * nodemask for RAM-backed ones) and <target> (size, node, label, readonly,
 * block, requested). */
static int parse_memdev(qv_domdef *def, xmlNode *mn, unsigned int flags, qv_error **err)
{
    qv_domdef_memdev *m = g_new0(qv_domdef_memdev, 1);
    g_ptr_array_add(def->memdevs, m);
    m->node = -1;
    static const char *const models[] = { "dimm", "nvdimm", "virtio-pmem", "virtio-mem", "sgx-epc", NULL };
    static const char *const acc[] = { "shared", "private", NULL };
    static const char *const yn[] = { "yes", "no", NULL };
    if (qv_xml_prop_enum(mn, "model", models, &m->model, err) < 0 ||
        qv_xml_prop_enum(mn, "access", acc, &m->access, err) < 0 ||
        qv_xml_prop_enum(mn, "discard", yn, &m->discard, err) < 0)
        return -EINVAL;
    if (!m->model)
        return qv_xml_error(err, mn, "missing memory model (dimm, nvdimm, virtio-pmem or virtio-mem)");
    if (!strcmp(m->model, "sgx-epc"))
        return qv_xml_attr_error(err, mn, "model", "SGX EPC memory is not supported by qvirt");
    bool file_backed = !strcmp(m->model, "nvdimm") || !strcmp(m->model, "virtio-pmem");
    xmlNode *src = qv_xml_child(mn, "source");
    if (src) {
        FOR_EACH_CHILD(c, src) {
            if (file_backed && name_is(c, "path")) {
                qv_set_str(&m->source_path, qv_xml_text(c));
            } else if (!strcmp(m->model, "nvdimm") && name_is(c, "pmem")) {
                m->source_pmem = true;
            } else if (!strcmp(m->model, "nvdimm") && name_is(c, "alignsize")) {
                if (qv_xml_scaled_kib(c, "KiB", &m->alignsize_kib, err) < 0)
                    return -EINVAL;
            } else if (!file_backed && name_is(c, "pagesize")) {
                if (qv_xml_scaled_kib(c, "KiB", &m->pagesize_kib, err) < 0)
                    return -EINVAL;
            } else if (!file_backed && name_is(c, "nodemask")) {
                g_autofree char *nm = qv_xml_text(c);
                int r = qv_cpuset_canonicalise(nm, &m->source_nodemask);
                if (r < 0)
                    return qv_xml_error(err, c, "'%s' is not a host NUMA node set", nm);
            } else {
                return qv_xml_error(err, c, "not a source element of memory model '%s'", m->model);
            }
        }
    }
    if (file_backed && (!m->source_path || !*m->source_path))
        return qv_xml_error(err, mn, "memory model '%s' needs <source><path>", m->model);
    xmlNode *t = qv_xml_child(mn, "target");
    if (!t || !qv_xml_child(t, "size"))
        return qv_xml_error(err, mn, "missing <target><size>");
    FOR_EACH_CHILD(c, t) {
        bool nv = !strcmp(m->model, "nvdimm"), vm = !strcmp(m->model, "virtio-mem");
        if (name_is(c, "size")) {
            if (qv_xml_scaled_kib(c, "KiB", &m->size_kib, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "node")) {
            g_autofree char *nv_text = qv_xml_text(c);
            unsigned long long x;
            if (qv_parse_uint_str(nv_text, 10, 255, &x) < 0)
                return qv_xml_error(err, c, "'%s' is not a NUMA node", nv_text);
            m->node = (int)x;
        } else if (nv && name_is(c, "label")) {
            if (memdev_size(c, "size", &m->label_kib, err) < 0)
                return -EINVAL;
        } else if (nv && name_is(c, "readonly")) {
            m->readonly = true;
        } else if (vm && name_is(c, "block")) {
            if (qv_xml_scaled_kib(c, "KiB", &m->block_kib, err) < 0)
                return -EINVAL;
        } else if (vm && name_is(c, "requested")) {
            if (qv_xml_scaled_kib(c, "KiB", &m->requested_kib, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "current") || name_is(c, "address")) {
            /* virtio-mem's live plugged size and address: QEMU's to report. */
        } else {
            return qv_xml_error(err, c, "not a target element of memory model '%s'", m->model);
        }
    }
    if (m->size_kib == 0 || m->size_kib % 1024)
        return qv_xml_error(err, mn, "a memory device size must be a non-zero multiple of 1 MiB");
    if (!strcmp(m->model, "virtio-pmem") && m->node >= 0)
        return qv_xml_error(err, mn, "virtio-pmem does not take a NUMA node");
    if (!strcmp(m->model, "nvdimm") && m->label_kib && m->label_kib < 128)
        return qv_xml_error(err, mn, "an nvdimm label must be at least 128 KiB");
    if (!strcmp(m->model, "nvdimm") && m->label_kib >= m->size_kib)
        return qv_xml_error(err, mn, "an nvdimm label must be smaller than the nvdimm");
    if (!strcmp(m->model, "virtio-mem")) {
        unsigned long long page = m->pagesize_kib ? m->pagesize_kib : 2048;
        if (!m->block_kib)
            return qv_xml_error(err, mn, "virtio-mem needs a <target><block> size");
        if ((m->block_kib & (m->block_kib - 1)) || m->block_kib < page)
            return qv_xml_error(err, mn, "the virtio-mem block size must be a power of 2 of at least the %llu KiB page size", page);
        if (m->size_kib % m->block_kib || m->requested_kib % m->block_kib)
            return qv_xml_error(err, mn, "the virtio-mem size and requested size must be multiples of its block size");
        if (m->requested_kib > m->size_kib)
            return qv_xml_error(err, mn, "the virtio-mem requested size must not exceed its size");
    }
    return common_tail(mn, flags, &m->addr, &m->alias, err);
}

int qv_parse_devices(qv_domdef *def, xmlNode *devices, unsigned int flags, qv_error **err)
{
    FOR_EACH_CHILD(c, devices) {
        int r;
        if (name_is(c, "emulator")) {
            qv_set_str(&def->emulator, qv_xml_text(c));
            if (!g_path_is_absolute(def->emulator))
                return qv_xml_error(err, c, "the emulator must be an absolute path");
            r = 0;
        } else if (name_is(c, "disk"))
            r = parse_disk(def, c, flags, err);
        else if (name_is(c, "controller"))
            r = parse_controller(def, c, flags, err);
        else if (name_is(c, "interface"))
            r = parse_interface(def, c, flags, err);
        else if (name_is(c, "serial"))
            r = parse_chr(def, c, QV_CHR_SERIAL, flags, err);
        else if (name_is(c, "console"))
            r = parse_chr(def, c, QV_CHR_CONSOLE, flags, err);
        else if (name_is(c, "parallel"))
            r = parse_chr(def, c, QV_CHR_PARALLEL, flags, err);
        else if (name_is(c, "channel"))
            r = parse_chr(def, c, QV_CHR_CHANNEL, flags, err);
        else if (name_is(c, "input"))
            r = parse_input(def, c, flags, err);
        else if (name_is(c, "graphics"))
            r = parse_graphics(def, c, flags, err);
        else if (name_is(c, "video"))
            r = parse_video(def, c, flags, err);
        else if (name_is(c, "sound"))
            r = parse_sound(def, c, flags, err);
        else if (name_is(c, "audio"))
            r = parse_audio(def, c, err);
        else if (name_is(c, "memballoon"))
            r = parse_memballoon(def, c, flags, err);
        else if (name_is(c, "watchdog"))
            r = parse_watchdog(def, c, flags, err);
        else if (name_is(c, "rng"))
            r = parse_rng(def, c, flags, err);
        else if (name_is(c, "panic"))
            r = parse_panic(def, c, flags, err);
        else if (name_is(c, "shmem"))
            r = parse_shmem(def, c, flags, err);
        else if (name_is(c, "vsock"))
            r = parse_vsock(def, c, flags, err);
        else if (name_is(c, "iommu"))
            r = parse_iommu(def, c, flags, err);
        else if (name_is(c, "tpm"))
            r = parse_tpm(def, c, flags, err);
        else if (name_is(c, "smartcard"))
            r = parse_smartcard(def, c, flags, err);
        else if (name_is(c, "redirdev"))
            r = parse_redirdev(def, c, flags, err);
        else if (name_is(c, "hub"))
            r = parse_hub(def, c, flags, err);
        else if (name_is(c, "hostdev"))
            r = parse_hostdev(def, c, flags, err);
        else if (name_is(c, "filesystem"))
            r = parse_filesystem(def, c, flags, err);
        else if (name_is(c, "memory"))
            r = parse_memdev(def, c, flags, err);
        else if (name_is(c, "lease") || name_is(c, "redirfilter") || name_is(c, "nvram") ||
                 name_is(c, "crypto") || name_is(c, "pstore"))
            r = qv_xml_error(err, c, "device not supported by qvirt");
        else
            r = qv_xml_error(err, c, "unknown device");
        if (r < 0)
            return r;
    }
    return number_controllers(def, err);
}
