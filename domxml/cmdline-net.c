/* Network interfaces: -netdev JSON (user, tap, bridge) plus the NIC -device. */
#include <string.h>

#include "domxml-priv.h"

static const char *nic_driver(const char *model)
{
    if (!strcmp(model, "virtio-transitional"))
        return "virtio-net-pci-transitional";
    if (!strcmp(model, "virtio-non-transitional"))
        return "virtio-net-pci-non-transitional";
    static const struct { const char *model, *driver; } map[] = {
        { "virtio", "virtio-net-pci" }, { "e1000", "e1000" }, { "e1000e", "e1000e" },
        { "rtl8139", "rtl8139" }, { "vmxnet3", "vmxnet3" }, { "ne2k_pci", "ne2k_pci" },
        { "pcnet", "pcnet" }, { "i82559er", "i82559er" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
        if (!strcmp(map[i].model, model))
            return map[i].driver;
    return NULL;
}

static unsigned int net_bootindex(const qv_domdef *def, const qv_domdef_net *n)
{
    if (n->boot_order)
        return n->boot_order;
    for (guint i = 0; i < def->os.boot_devs->len; i++)
        if (!strcmp(g_ptr_array_index(def->os.boot_devs, i), "network"))
            return def->nets->len && g_ptr_array_index(def->nets, 0) == n ? i + 1 : 0;
    return 0;
}

const qv_network_resolution *qv_cmdline_find_network(const qv_cmdline *cl, const char *name)
{
    for (unsigned int i = 0; cl->ctx && name && i < cl->ctx->n_networks; i++) {
        const qv_network_resolution *r = &cl->ctx->networks[i];
        if (r->name && !strcmp(r->name, name) &&
            ((r->kind == QV_NETWORK_BRIDGE && r->bridge && *r->bridge) || r->kind == QV_NETWORK_USER))
            return r;
    }
    return NULL;
}

static const qv_tap_fds *find_tap(const qv_cmdline *cl, const char *alias)
{
    for (unsigned int i = 0; cl->ctx && alias && i < cl->ctx->n_taps; i++)
        if (!strcmp(cl->ctx->taps[i].alias, alias))
            return &cl->ctx->taps[i];
    return NULL;
}

/* An interface of type hostdev: the SR-IOV VF as vfio-pci, as libvirt 9.0
 * builds it (its MAC is set on the PF by lib/ at start, not here). */
static int add_hostdev_net(qv_cmdline *cl, const qv_domdef_net *n, qv_error **err)
{
    qv_jobj *dev = qv_json_device(cl, "vfio-pci", n->alias);
    g_autoptr(qv_jobj) guard = dev;
    const qv_domdef_addr *a = &n->host_addr;
    g_autofree char *host = g_strdup_printf("%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->function);
    qv_json_set_str(dev, "host", host);
    unsigned int boot = net_bootindex(cl->def, n);
    if (boot)
        qv_json_set_int(dev, "bootindex", boot);
    if (n->teaming_type && !strcmp(n->teaming_type, "transient"))
        qv_json_set_str(dev, "failover_pair_id", n->teaming_persistent);
    if (n->rom_bar)
        qv_json_set_int(dev, "rombar", n->rom_bar == QV_TRI_ON);
    if (n->rom_file)
        qv_json_set_str(dev, "romfile", n->rom_file);
    if (n->acpi_index)
        qv_json_set_int(dev, "acpi-index", n->acpi_index);
    if (qv_cmdline_set_address(cl, dev, &n->addr, "network interface", err) < 0)
        return -EINVAL;
    qv_cmdline_add_json(cl, "-device", g_steal_pointer(&guard));
    return 0;
}

int qv_cmdline_add_net(qv_cmdline *cl, const qv_domdef_net *n, qv_error **err)
{
    if (n->type == QV_NET_HOSTDEV)
        return add_hostdev_net(cl, n, err);
    g_autofree char *hostnet = qv_strcat2("host", n->alias);
    qv_jobj *nd = qv_jobj_new(cl);
    const qv_tap_fds *tap = find_tap(cl, n->alias);
    if (tap) {
        /* The tap is made (and joined to its bridge) by the caller. */
        bool many = strchr(tap->fds, ':') != NULL;
        qv_json_set_str(nd, "type", "tap");
        qv_json_set_str(nd, many ? "fds" : "fd", tap->fds);
        if (tap->vhostfds) {
            qv_json_set_bool(nd, "vhost", true);
            qv_json_set_str(nd, many ? "vhostfds" : "vhostfd", tap->vhostfds);
        }
    } else switch (n->type) {
    case QV_NET_USER:
        qv_json_set_str(nd, "type", "user");
        /* libvirt 9.0: <ip> is the network user mode serves the guest. */
        if (n->ip4_address) {
            g_autofree char *net = n->ip4_prefix ? g_strdup_printf("%s/%u", n->ip4_address, n->ip4_prefix)
                                                 : g_strdup(n->ip4_address);
            qv_json_set_str(nd, "net", net);
        }
        if (n->ip6_address) {
            qv_json_set_str(nd, "ipv6-prefix", n->ip6_address);
            if (n->ip6_prefix)
                qv_json_set_int(nd, "ipv6-prefixlen", n->ip6_prefix);
        }
        break;
    case QV_NET_CLIENT: case QV_NET_SERVER: case QV_NET_MCAST: case QV_NET_UDP: {
        static const char *const keys[] = { "connect", "listen", "mcast", "udp" };
        g_autofree char *addr = g_strdup_printf("%s:%u", n->source_address ? n->source_address : "",
                                                n->source_port);
        qv_json_set_str(nd, "type", "socket");
        qv_json_set_str(nd, keys[n->type - QV_NET_CLIENT], addr);
        if (n->type == QV_NET_UDP) {
            g_autofree char *local = g_strdup_printf("%s:%u", n->local_address, n->local_port);
            qv_json_set_str(nd, "localaddr", local);
        }
        break;
    }
    case QV_NET_VHOSTUSER: {
        /* The socket is made here (server) or connected here (client
         * without <reconnect>), like any unix chardev. */
        g_autofree char *chr = qv_strcat2("char", n->alias);
        qv_domdef_chr_source src = { .type = QV_CHR_UNIX, .path = n->source_path,
                                     .bind = !strcmp(n->source_mode, "server"),
                                     .reconnect = n->reconnect };
        if (qv_cmdline_add_chardev(cl, &src, chr, NULL, err) < 0) {
            qv_jobj_free(nd);
            return -EINVAL;
        }
        qv_json_set_str(nd, "type", "vhost-user");
        qv_json_set_str(nd, "chardev", chr);
        break;
    }
    case QV_NET_VDPA: {
        /* libvirt opens the vDPA device and passes it in an fdset; so do we. */
        g_autofree char *dev = qv_cmdline_file(cl, n->source_dev, O_RDWR, hostnet, err);
        if (!dev) {
            qv_jobj_free(nd);
            return -EINVAL;
        }
        qv_json_set_str(nd, "type", "vhost-vdpa");
        qv_json_set_str(nd, "vhostdev", dev);
        break;
    }
    case QV_NET_DIRECT:
        /* The macvtap's /dev/tapN is opened by lib/ at start (and found
         * above); without it, the fd names a hotplug would getfd. */
        qv_json_set_str(nd, "type", "tap");
        {
            g_autofree char *fdname = g_strdup_printf("tap-%s-0", n->alias);
            qv_json_set_str(nd, "fd", fdname);
            if (n->driver_name && !strcmp(n->driver_name, "vhost")) {
                g_autofree char *vfd = g_strdup_printf("vhost-%s-0", n->alias);
                qv_json_set_bool(nd, "vhost", true);
                qv_json_set_str(nd, "vhostfd", vfd);
            }
        }
        break;
    case QV_NET_ETHERNET:
        qv_json_set_str(nd, "type", "tap");
        if (n->target_dev)
            qv_json_set_str(nd, "ifname", n->target_dev);
        qv_json_set_str(nd, "script", n->script ? n->script : "no");
        qv_json_set_str(nd, "downscript", n->downscript ? n->downscript : "no");
        break;
    case QV_NET_BRIDGE:
        qv_json_set_str(nd, "type", "bridge");
        qv_json_set_str(nd, "br", n->source_bridge);
        break;
    case QV_NET_NETWORK: {
        const qv_network_resolution *r = qv_cmdline_find_network(cl, n->source_network);
        if (!r) {
            qv_jobj_free(nd);
            return qv_error_set(err, -ENOENT, "Interface %s: network '%s' is not known to qvirt on this host; use type='bridge' with its bridge, or type='user'.",
                                n->alias, n->source_network);
        }
        if (r->kind == QV_NETWORK_BRIDGE) {
            qv_json_set_str(nd, "type", "bridge");
            qv_json_set_str(nd, "br", r->bridge);
        } else {
            qv_json_set_str(nd, "type", "user");
        }
        break;
    }
    default:
        qv_jobj_free(nd);
        return qv_error_set(err, -EINVAL, "Interface %s: unsupported type.", n->alias);
    }
    bool user = n->type == QV_NET_USER ||
                (n->type == QV_NET_NETWORK && qv_cmdline_find_network(cl, n->source_network)->kind == QV_NETWORK_USER);
    if (user && n->mtu && strcmp(n->model, "virtio")) {
        qv_jobj_free(nd);
        return qv_error_set(err, -EINVAL, "Interface %s: the MTU of user networking needs model virtio.", n->alias);
    }
    if (n->type == QV_NET_DIRECT) {
        if (n->queues > 1 && !tap) {
            qv_jobj_free(nd);
            return qv_error_set(err, -EINVAL, "Interface %s: a direct interface's queues need the macvtap qvirt makes at start.", n->alias);
        }
    } else if (n->type >= QV_NET_CLIENT) {
        bool sock = n->type <= QV_NET_UDP;
        if (sock && n->queues > 1) {
            qv_jobj_free(nd);
            return qv_error_set(err, -EINVAL, "Interface %s: a socket interface has no multiqueue.", n->alias);
        }
        if (!sock && n->queues > 1)
            qv_json_set_int(nd, "queues", n->queues);
    } else if (!user) {
        if (!tap && n->driver_name && !strcmp(n->driver_name, "vhost"))
            qv_json_set_bool(nd, "vhost", true);
        if (n->queues > 1 && !tap) /* with fds QEMU counts the queues itself */
            qv_json_set_int(nd, "queues", n->queues);
    } else if (n->queues > 1) {
        qv_jobj_free(nd);
        return qv_error_set(err, -EINVAL, "Interface %s: user networking has no multiqueue.", n->alias);
    }
    if (n->sndbuf_set && !user)
        qv_json_set_int(nd, "sndbuf", (long long)n->sndbuf);
    qv_json_set_str(nd, "id", hostnet);
    qv_cmdline_add_json(cl, "-netdev", nd);

    const char *driver = nic_driver(n->model);
    if (!driver)
        return qv_error_set(err, -EINVAL, "Interface %s: unsupported model '%s'.", n->alias, n->model);
    qv_jobj *dev = qv_json_device(cl, driver, n->alias);
    g_autoptr(qv_jobj) guard = dev;
    qv_json_set_str(dev, "netdev", hostnet);
    char mac[18];
    g_snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
               n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
    qv_json_set_str(dev, "mac", mac);
    if (n->queues > 1) {
        qv_json_set_bool(dev, "mq", true);
        qv_json_set_int(dev, "vectors", 2 * n->queues + 2);
    }
    if (n->mtu && !strcmp(n->model, "virtio"))
        qv_json_set_int(dev, "host_mtu", n->mtu);
    /* libvirt 9.0: the persistent member of a failover pair; the transient
     * vfio-pci names this NIC's id in failover_pair_id. */
    if (n->teaming_type && !strcmp(n->teaming_type, "persistent"))
        qv_json_set_bool(dev, "failover", true);
    /* <driver> tuning, as libvirt's qemuBuildNicDevProps sets it. */
    if (n->txmode)
        qv_json_set_str(dev, "tx", !strcmp(n->txmode, "iothread") ? "bh" : "timer");
    if (n->ioeventfd)
        qv_json_set_bool(dev, "ioeventfd", n->ioeventfd == QV_TRI_ON);
    if (n->event_idx)
        qv_json_set_bool(dev, "event_idx", n->event_idx == QV_TRI_ON);
    for (int i = 0; i < QV_NET_N_OFFLOADS; i++)
        if (n->offloads[i])
            qv_json_set_bool(dev, qv_net_offloads[i].prop, n->offloads[i] == QV_TRI_ON);
    if (n->rx_queue_size)
        qv_json_set_int(dev, "rx_queue_size", n->rx_queue_size);
    if (n->tx_queue_size)
        qv_json_set_int(dev, "tx_queue_size", n->tx_queue_size);
    unsigned int boot = net_bootindex(cl->def, n);
    if (boot)
        qv_json_set_int(dev, "bootindex", boot);
    if (n->rom_bar)
        qv_json_set_int(dev, "rombar", n->rom_bar == QV_TRI_ON); /* a uint32 property, not a bool */
    if (n->rom_file)
        qv_json_set_str(dev, "romfile", n->rom_file);
    if (n->acpi_index)
        qv_json_set_int(dev, "acpi-index", n->acpi_index);
    if (qv_cmdline_set_address(cl, dev, &n->addr, "network interface", err) < 0)
        return -EINVAL;
    qv_cmdline_add_json(cl, "-device", g_steal_pointer(&guard));
    return 0;
}

int qv_cmdline_add_nets(qv_cmdline *cl, qv_error **err)
{
    for (guint i = 0; i < cl->def->nets->len; i++)
        if (qv_cmdline_add_net(cl, g_ptr_array_index(cl->def->nets, i), err) < 0)
            return -EINVAL;
    return 0;
}
