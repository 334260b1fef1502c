/* rtnetlink for the host links of a domain's interfaces (netlink.h). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <glib.h>

#include "netlink.h"
#include "qv-fd.h"

/* How long the kernel may take to answer one rtnetlink request. */
#define QV_NL_REPLY_TIMEOUT_S 5

typedef struct nl_req {
    struct nlmsghdr h;
    struct ifinfomsg i;
    char attrs[512];
} nl_req;

static struct rtattr *nl_put(nl_req *r, unsigned short type, const void *data, size_t len)
{
    struct rtattr *a = (struct rtattr *)(void *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));
    g_assert(NLMSG_ALIGN(r->h.nlmsg_len) + RTA_SPACE(len) <= sizeof *r);
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len)
        memcpy(RTA_DATA(a), data, len);
    r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
    return a;
}

static void nl_nest_end(nl_req *r, struct rtattr *nest)
{
    nest->rta_len = (unsigned short)((char *)r + r->h.nlmsg_len - (char *)nest);
}

static void nl_init(nl_req *r, unsigned short type, unsigned short flags, unsigned char family)
{
    memset(r, 0, sizeof *r);
    r->h.nlmsg_len = NLMSG_LENGTH(sizeof r->i);
    r->h.nlmsg_type = type;
    r->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    r->h.nlmsg_seq = 1;
    r->i.ifi_family = family;
}

/* Sends r and returns the kernel's answer: 0 or a negative errno. */
static int nl_talk(nl_req *r)
{
    qv_autoclose int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0)
        return -errno;
    struct timeval tv = { .tv_sec = QV_NL_REPLY_TIMEOUT_S };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    if (sendto(s, r, r->h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -errno;
    char buf[4096];
    ssize_t n = recv(s, buf, sizeof buf, 0);
    if (n < 0)
        return -errno;
    for (struct nlmsghdr *h = (struct nlmsghdr *)(void *)buf; NLMSG_OK(h, (size_t)n);
         h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *e = NLMSG_DATA(h);
            return e->error;
        }
    }
    return -EPROTO;
}

int qv_nl_macvtap_add(char name[16], const char *lower, const char *mode,
                      const unsigned char mac[6], qv_error **err)
{
    static const struct { const char *name; unsigned int mode; } modes[] = {
        { "vepa", MACVLAN_MODE_VEPA }, { "bridge", MACVLAN_MODE_BRIDGE },
        { "private", MACVLAN_MODE_PRIVATE }, { "passthrough", MACVLAN_MODE_PASSTHRU },
    };
    unsigned int m = MACVLAN_MODE_VEPA;
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++)
        if (!g_strcmp0(modes[i].name, mode))
            m = modes[i].mode;
    unsigned int link = if_nametoindex(lower);
    if (!link)
        return qv_error_set(err, -ENODEV, "host network link '%s' does not exist", lower);
    bool pick = !*name;
    for (unsigned int k = 0; k < 4096; k++) {
        if (pick)
            g_snprintf(name, 16, "macvtap%u", k);
        if (pick && if_nametoindex(name))
            continue;
        nl_req r;
        nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC);
        nl_put(&r, IFLA_IFNAME, name, strlen(name) + 1);
        nl_put(&r, IFLA_LINK, &link, sizeof link);
        nl_put(&r, IFLA_ADDRESS, mac, 6);
        struct rtattr *info = nl_put(&r, IFLA_LINKINFO, NULL, 0);
        nl_put(&r, IFLA_INFO_KIND, "macvtap", strlen("macvtap"));
        struct rtattr *data = nl_put(&r, IFLA_INFO_DATA, NULL, 0);
        nl_put(&r, IFLA_MACVLAN_MODE, &m, sizeof m);
        nl_nest_end(&r, data);
        nl_nest_end(&r, info);
        int e = nl_talk(&r);
        if (e == -EEXIST && pick)
            continue;   /* another process took the name in between */
        if (e < 0)
            return qv_error_set_errno(err, e, "cannot make macvtap %s on '%s'%s", name, lower,
                                      e == -EPERM ? " (it needs CAP_NET_ADMIN)" : "");
        unsigned int idx = if_nametoindex(name);
        return idx ? (int)idx : qv_error_set(err, -ENODEV, "macvtap %s vanished", name);
    }
    return qv_error_set(err, -EBUSY, "no free macvtap name on this host");
}

int qv_nl_link_del(const char *name)
{
    unsigned int idx = if_nametoindex(name);
    if (!idx)
        return 0;
    nl_req r;
    nl_init(&r, RTM_DELLINK, 0, AF_UNSPEC);
    r.i.ifi_index = (int)idx;
    int e = nl_talk(&r);
    return e == -ENODEV ? 0 : e;
}

int qv_nl_vf_set_mac(const char *pf, int vf, const unsigned char mac[6], qv_error **err)
{
    unsigned int idx = if_nametoindex(pf);
    if (!idx)
        return qv_error_set(err, -ENODEV, "SR-IOV physical function %s is not a network link here", pf);
    nl_req r;
    nl_init(&r, RTM_SETLINK, 0, AF_UNSPEC);
    r.i.ifi_index = (int)idx;
    struct rtattr *list = nl_put(&r, IFLA_VFINFO_LIST, NULL, 0);
    struct rtattr *info = nl_put(&r, IFLA_VF_INFO, NULL, 0);
    struct ifla_vf_mac m;
    memset(&m, 0, sizeof m);
    m.vf = (unsigned int)vf;
    memcpy(m.mac, mac, 6);
    nl_put(&r, IFLA_VF_MAC, &m, sizeof m);
    nl_nest_end(&r, info);
    nl_nest_end(&r, list);
    int e = nl_talk(&r);
    if (e < 0)
        return qv_error_set_errno(err, e, "cannot set the MAC of virtual function %d of %s", vf, pf);
    return 0;
}

int qv_nl_brport_isolated(const char *name, bool on, qv_error **err)
{
    unsigned int idx = if_nametoindex(name);
    if (!idx)
        return qv_error_set(err, -ENODEV, "cannot isolate bridge port %s: no such link", name);
    nl_req r;
    nl_init(&r, RTM_SETLINK, 0, AF_BRIDGE);
    r.i.ifi_index = (int)idx;
    struct rtattr *pi = nl_put(&r, IFLA_PROTINFO | NLA_F_NESTED, NULL, 0);
    unsigned char v = on;
    nl_put(&r, IFLA_BRPORT_ISOLATED, &v, sizeof v);
    nl_nest_end(&r, pi);
    int e = nl_talk(&r);
    if (e < 0)
        return qv_error_set_errno(err, e, "cannot set the isolated flag of bridge port %s", name);
    return 0;
}

int qv_rt_host_link_record(const char *dir, const char *line, qv_error **err)
{
    g_autofree char *path = g_build_filename(dir, QV_RT_HOST_LINKS, NULL);
    qv_autoclose int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    g_autofree char *l = g_strconcat(line, "\n", NULL);
    if (fd < 0 || write(fd, l, strlen(l)) != (ssize_t)strlen(l))
        return qv_error_set_errno(err, -errno, "cannot record host link '%s' in %s", line, path);
    return 0;
}

static void release_line(char **f)
{
    if (g_strv_length(f) == 2 && !strcmp(f[0], "macvtap")) {
        qv_nl_link_del(f[1]);
    } else if (g_strv_length(f) == 3 && !strcmp(f[0], "ovs")) {
        /* As libvirt's virNetDevOpenvswitchRemovePort. */
        const char *argv[] = { "ovs-vsctl", "--timeout=5", "--", "--if-exists", "del-port",
                               f[1], f[2], NULL };
        g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                     G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    }
}

void qv_rt_host_link_release(const char *dir, const char *kind, const char *name)
{
    g_autofree char *path = g_build_filename(dir, QV_RT_HOST_LINKS, NULL);
    g_autofree char *data = NULL;
    if (!name || !g_file_get_contents(path, &data, NULL, NULL))
        return;
    g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
    g_autoptr(GString) keep = g_string_new(NULL);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, " ", 3);
        guint n = g_strv_length(f);
        if (n >= 2 && !strcmp(f[0], kind) && !strcmp(f[n - 1], name))
            release_line(f);
        else if (**l)
            g_string_append_printf(keep, "%s\n", *l);
    }
    /* Another run may reuse the name later: it must not be removed at
     * this run's end. */
    g_file_set_contents(path, keep->str, (gssize)keep->len, NULL);
}

void qv_rt_host_links_release(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, QV_RT_HOST_LINKS, NULL);
    g_autofree char *data = NULL;
    if (!g_file_get_contents(path, &data, NULL, NULL))
        return;
    g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, " ", 3);
        release_line(f);
    }
    unlink(path);
}
