/* Tap devices made by qvirt for QEMU (tap.h). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "internal.h"
#include "tap.h"
#include "netlink.h"
#include "qv-fd.h"

struct qv_taps {
    GArray *table;       /* qv_tap_fds */
    GPtrArray *strings;  /* what the table points into */
    GPtrArray *fd_names; /* getfd names, in the order the fds were added */
};

static void taps_free_contents(qv_taps *t)
{
    g_array_unref(t->table);
    g_ptr_array_unref(t->strings);
    g_ptr_array_unref(t->fd_names);
}

void qv_taps_free(qv_taps *t)
{
    if (!t)
        return;
    taps_free_contents(t);
    g_free(t);
}

const qv_tap_fds *qv_taps_get(const qv_taps *t, unsigned int *count)
{
    *count = t ? t->table->len : 0;
    return t ? (const qv_tap_fds *)(void *)t->table->data : NULL;
}

const char *qv_taps_fd_name(const qv_taps *t, guint i)
{
    return i < t->fd_names->len ? g_ptr_array_index(t->fd_names, i) : NULL;
}

/* The bridge an interface joins: its own, its network's, or none. */
static int tap_bridge(const qv_domdef_net *n, const qv_networks *nets, bool *wants_tap,
                      const char **bridge)
{
    *bridge = NULL;
    *wants_tap = n->type == QV_NET_ETHERNET || n->type == QV_NET_BRIDGE || n->type == QV_NET_DIRECT;
    if (n->type == QV_NET_BRIDGE)
        *bridge = n->source_bridge;
    if (n->type == QV_NET_NETWORK) {
        unsigned int count = 0;
        const qv_network_resolution *res = qv_networks_get(nets, &count);
        for (unsigned int i = 0; i < count; i++)
            if (!g_strcmp0(res[i].name, n->source_network) && res[i].kind == QV_NETWORK_BRIDGE) {
                *wants_tap = true;
                *bridge = res[i].bridge;
            }
    }
    return 0;
}

/* Brings ifname up and, with a bridge, joins it. Its MTU is the
 * interface's <mtu>, else the bridge's, as libvirt sets it: a tap joining a
 * bridge at the default 1500 would pull a jumbo-frame bridge down to 1500. */
static int link_up(const char *ifname, const char *bridge, unsigned int mtu, qv_error **err)
{
    qv_autoclose int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return qv_error_set_errno(err, -errno, "cannot open a socket to set up %s", ifname);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    g_strlcpy(ifr.ifr_name, ifname, IFNAMSIZ);
    if (!mtu && bridge) {
        struct ifreq br;
        memset(&br, 0, sizeof br);
        g_strlcpy(br.ifr_name, bridge, IFNAMSIZ);
        if (ioctl(s, SIOCGIFMTU, &br) == 0)
            mtu = (unsigned int)br.ifr_mtu;
    }
    if (mtu) {
        ifr.ifr_mtu = (int)mtu;
        if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
            return qv_error_set_errno(err, -errno, "cannot set the MTU of %s to %u", ifname, mtu);
    }
    if (bridge) {
        struct ifreq br;
        memset(&br, 0, sizeof br);
        g_strlcpy(br.ifr_name, bridge, IFNAMSIZ);
        br.ifr_ifindex = (int)if_nametoindex(ifname);
        if (ioctl(s, SIOCBRADDIF, &br) < 0)
            return qv_error_set_errno(err, -errno, "cannot add tap device %s to bridge %s",
                                      ifname, bridge);
    }
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return qv_error_set_errno(err, -errno, "cannot read the flags of %s", ifname);
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return qv_error_set_errno(err, -errno, "cannot bring %s up", ifname);
    return 0;
}

/* One queue of a tap device; *name: the name asked for (a %d pattern lets
 * the kernel choose), then the one it got. */
static int tap_queue(const char *tun, char name[IFNAMSIZ], bool vnet_hdr, bool multi, qv_error **err)
{
    int fd = open(tun, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open %s to make tap device %s",
                                  tun, name);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0) | (multi ? IFF_MULTI_QUEUE : 0);
    g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = -errno;
        close(fd);
        return qv_error_set_errno(err, e, "cannot make tap device %s", name);
    }
    g_strlcpy(name, ifr.ifr_name, IFNAMSIZ);
    return fd;
}

/* One queue of macvtap name: its /dev/tapIFINDEX. Without udev (a
 * container) the node is made from sysfs's numbers, opened and removed. */
static int macvtap_queue(const char *name, int ifindex, bool vnet_hdr, qv_error **err)
{
    g_autofree char *dev = g_strdup_printf("/dev/tap%d", ifindex);
    int fd = open(dev, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        g_autofree char *sys = g_strdup_printf("/sys/class/net/%s/macvtap/tap%d/dev", name, ifindex);
        g_autofree char *nums = NULL;
        unsigned int maj, min;
        if (g_file_get_contents(sys, &nums, NULL, NULL) && sscanf(nums, "%u:%u", &maj, &min) == 2 &&
            mknod(dev, S_IFCHR | 0600, makedev(maj, min)) == 0) {
            fd = open(dev, O_RDWR | O_CLOEXEC);
            int e = errno;
            unlink(dev);
            errno = e;
        } else {
            errno = ENOENT;
        }
    }
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open %s of macvtap %s", dev, name);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (vnet_hdr && ioctl(fd, TUNGETIFF, &ifr) == 0) {
        ifr.ifr_flags |= IFF_VNET_HDR;
        ioctl(fd, TUNSETIFF, &ifr);
    }
    return fd;
}

/* Joins tap to Open vSwitch bridge with the external ids libvirt's
 * virNetDevOpenvswitchAddPort sets, which OVN and friends read. */
static int ovs_add_port(const qv_domdef *def, const qv_domdef_net *n, const char *bridge,
                        const char *tap, qv_error **err)
{
    char uuid[37];
    qv_uuid_format(def->uuid, uuid);
    g_autofree char *mac = g_strdup_printf("external-ids:attached-mac=%02x:%02x:%02x:%02x:%02x:%02x",
                                           n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
    g_autofree char *iface = g_strdup_printf("external-ids:iface-id=\"%s\"", n->vport_interfaceid ? n->vport_interfaceid : "");
    g_autofree char *vm = g_strdup_printf("external-ids:vm-id=\"%s\"", uuid);
    g_autofree char *profile = n->vport_profileid
        ? g_strdup_printf("external-ids:port-profile=\"%s\"", n->vport_profileid) : NULL;
    const char *argv[] = { "ovs-vsctl", "--timeout=5", "--", "--may-exist", "add-port", bridge, tap,
                           "--", "set", "Interface", tap, mac, iface, vm,
                           "external-ids:iface-status=active", profile, NULL };
    g_autoptr(GError) gerr = NULL;
    g_autofree char *errout = NULL;
    gint status = 0;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, &errout, &status, &gerr) ||
        !g_spawn_check_wait_status(status, NULL))
        return qv_error_set(err, -EIO, "interface %s: cannot add tap %s to Open vSwitch bridge %s: %s",
                            n->alias, tap, bridge,
                            gerr ? gerr->message : errout && *errout ? g_strstrip(errout) : "ovs-vsctl failed");
    return 0;
}

/* <coalesce><rx><frames max>: as libvirt's virNetDevSetCoalesce. */
static int set_coalesce(const qv_domdef_net *n, const char *ifname, qv_error **err)
{
    qv_autoclose int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ethtool_coalesce c = { .cmd = ETHTOOL_GCOALESCE };
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    g_strlcpy(ifr.ifr_name, ifname, IFNAMSIZ);
    ifr.ifr_data = (void *)&c;
    if (s < 0 || ioctl(s, SIOCETHTOOL, &ifr) < 0)
        return qv_error_set_errno(err, -errno, "interface %s: cannot read the coalesce settings of %s", n->alias, ifname);
    c.cmd = ETHTOOL_SCOALESCE;
    c.rx_max_coalesced_frames = n->coalesce_rx_frames;
    if (ioctl(s, SIOCETHTOOL, &ifr) < 0)
        return qv_error_set_errno(err, -errno, "interface %s: cannot set rx-frames coalescing of %s", n->alias, ifname);
    return 0;
}

static void add_fd(qv_taps *t, GArray *fds, GString *list, int fd, const char *kind,
                   const char *alias, unsigned int q, bool getfd_names)
{
    g_array_append_val(fds, fd);
    char *name = g_strdup_printf("%s-%s-%u", kind, alias, q);
    g_ptr_array_add(t->fd_names, name);
    if (list->len)
        g_string_append_c(list, ':');
    if (getfd_names)
        g_string_append(list, name);
    else
        g_string_append_printf(list, "%d", fd);
}

static int make_one(qv_taps *t, const qv_domdef *def, qv_domdef_net *n, const char *bridge,
                    const char *dir, bool getfd_names, GArray *fds, qv_error **err)
{
    char name[IFNAMSIZ];
    bool direct = n->type == QV_NET_DIRECT;
    bool ovs = bridge && !g_strcmp0(n->vport_type, "openvswitch");
    const char *tun = n->backend_tap ? n->backend_tap : "/dev/net/tun";
    const char *vhost_dev = n->backend_vhost ? n->backend_vhost : "/dev/vhost-net";
    g_strlcpy(name, n->target_dev && *n->target_dev ? n->target_dev : direct ? "" : "vnet%d", sizeof name);
    unsigned int queues = MAX(n->queues, 1u);
    bool vnet_hdr = !g_strcmp0(n->model, "virtio");
    bool vhost = n->driver_name && !strcmp(n->driver_name, "vhost");
    g_autoptr(GString) tapfds = g_string_new(NULL), vhostfds = g_string_new(NULL);
    guint first = fds->len;
    int r = 0, ifindex = 0;
    if (direct) {
        /* libvirt's virNetDevMacVLanCreateWithVPortProfile: a macvtap on
         * the source link with the guest's MAC, recorded at once so that
         * the run's end (or this start failing) removes it. */
        ifindex = qv_nl_macvtap_add(name, n->source_dev, n->direct_mode, n->mac, err);
        if (ifindex < 0) {
            if (err && *err)
                qv_error_prefix(*err, "interface %s (direct on %s)", n->alias, n->source_dev);
            return ifindex;
        }
        g_autofree char *line = g_strdup_printf("macvtap %s", name);
        if (dir)
            r = qv_rt_host_link_record(dir, line, err);
    }
    for (unsigned int q = 0; r >= 0 && q < queues; q++) {
        int fd = direct ? macvtap_queue(name, ifindex, vnet_hdr, err)
                        : tap_queue(tun, name, vnet_hdr, queues > 1, err);
        if (fd < 0) {
            r = fd;
            break;
        }
        add_fd(t, fds, tapfds, fd, "tap", n->alias, q, getfd_names);
        if (vhost) {
            int vfd = open(vhost_dev, O_RDWR | O_CLOEXEC);
            if (vfd < 0) {
                r = qv_error_set_errno(err, -errno, "interface %s: cannot open %s "
                                       "for vhost", n->alias, vhost_dev);
                break;
            }
            add_fd(t, fds, vhostfds, vfd, "vhost", n->alias, q, getfd_names);
        }
    }
    if (r >= 0)
        r = link_up(name, ovs ? NULL : bridge, n->mtu, err);
    if (r >= 0 && ovs) {
        g_autofree char *line = g_strdup_printf("ovs %s %s", bridge, name);
        if ((r = ovs_add_port(def, n, bridge, name, err)) >= 0 && dir)
            r = qv_rt_host_link_record(dir, line, err);
    }
    if (r >= 0 && bridge && !ovs && n->port_isolated == QV_TRI_ON &&
        (r = qv_nl_brport_isolated(name, true, err)) < 0 && err && *err)
        qv_error_prefix(*err, "interface %s", n->alias);
    /* As libvirt 9.0, on taps only (a macvtap's <coalesce> is kept, unused). */
    if (r >= 0 && n->coalesce_set && !direct)
        r = set_coalesce(n, name, err);
    if (r >= 0 && n->script && *n->script && strcmp(n->script, "no")) {
        /* libvirt runs an ethernet interface's script itself, with the tap's name. */
        const char *argv[] = { n->script, name, NULL };
        g_autoptr(GError) gerr = NULL;
        gint status = 0;
        if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
                          &status, &gerr) || !g_spawn_check_wait_status(status, NULL))
            r = qv_error_set(err, -EIO, "interface %s: the script %s %s failed%s%s", n->alias,
                             n->script, name, gerr ? ": " : "", gerr ? gerr->message : "");
    }
    if (r < 0) {
        if (direct && dir)
            qv_rt_host_link_release(dir, "macvtap", name);   /* the link and its record */
        else if (direct)
            qv_nl_link_del(name);
        for (guint i = first; i < fds->len; i++)
            close(g_array_index(fds, int, i));
        g_array_set_size(fds, first);
        g_ptr_array_set_size(t->fd_names, first);
        return r;
    }
    g_free(n->target_dev);
    n->target_dev = g_strdup(name);
    char *fs = g_string_free(g_steal_pointer(&tapfds), FALSE);
    char *vs = vhost ? g_string_free(g_steal_pointer(&vhostfds), FALSE) : NULL;
    g_ptr_array_add(t->strings, fs);
    if (vs)
        g_ptr_array_add(t->strings, vs);
    qv_tap_fds e = { .alias = n->alias, .fds = fs, .vhostfds = vs };
    g_array_append_val(t->table, e);
    return 0;
}

int qv_net_check_virtualport(const qv_domdef_net *n, qv_error **err)
{
    const char *t = n->vport_type;
    if (!t || !strcmp(t, "openvswitch"))
        return 0;
    return qv_error_set(err, -EOPNOTSUPP, "Interface %s has a virtualport of type '%s', which %s; qvirt does not do "
                        "that, so it cannot start this interface.", n->alias, t,
                        !strcmp(t, "802.1Qbg") ? "lldpad must associate with the switch (VDP)"
                        : !strcmp(t, "802.1Qbh") ? "the host NIC must associate with its port profile"
                        : "the MidoNet agent must bind (mm-ctl --bind-port)");
}

int qv_taps_make(qv_domdef *def, const qv_domdef_net *only, const qv_networks *nets,
                 const char *dir, bool getfd_names, GArray *fds, qv_taps **ret, qv_error **err)
{
    g_autoptr(qv_taps) t = g_new0(qv_taps, 1);
    t->table = g_array_new(FALSE, TRUE, sizeof(qv_tap_fds));
    t->strings = g_ptr_array_new_with_free_func(g_free);
    t->fd_names = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < def->nets->len; i++) {
        qv_domdef_net *n = def->nets->pdata[i];
        if (only && n != only)
            continue;
        if (qv_net_check_virtualport(n, err) < 0)
            return -EOPNOTSUPP;
        bool wants;
        const char *bridge;
        tap_bridge(n, nets, &wants, &bridge);
        int r = wants ? make_one(t, def, n, bridge, dir, getfd_names, fds, err) : 0;
        if (r < 0)
            return r;
    }
    *ret = g_steal_pointer(&t);
    return 0;
}
