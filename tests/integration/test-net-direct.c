/* Host-side network features made at start, as libvirt 9.0 makes them: a
 * direct interface's macvtap (on a dummy or veth link here) exists while the
 * domain runs, with the guest's MAC, and is gone after destroy; a start
 * on a missing link fails naming the interface; a bridge port gets
 * <port isolated='yes'> and its tap <coalesce>'s rx-frames; <backend tap>
 * is the device opened. Needs CAP_NET_ADMIN and iproute2 (skips without). */
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include "itest.h"

static itest T;
static void setup(void) { itest_setup(&T); }
static void teardown(void) { itest_teardown(&T); }

TestSuite(net_direct, .init = setup, .fini = teardown, .timeout = 120);

#define LOWER "qvt-dummy0"
#define BRIDGE "qvt-isobr0"
/* Criterion runs the tests in parallel: each test has links of its own. */
#define LOWER_HP "qvt-dummy2"

static bool ip(const char *const *args)
{
    int st = 0;
    return g_spawn_sync(NULL, (char **)args, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                        G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &st, NULL) &&
           WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static char *sysfs(const char *ifname, const char *file)
{
    g_autofree char *path = g_strdup_printf("/sys/class/net/%s/%s", ifname, file);
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    return g_strstrip(text);
}

/* The rx-frames coalescing of ifname, or -1. */
static long rx_frames(const char *ifname)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ethtool_coalesce c = { .cmd = ETHTOOL_GCOALESCE };
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    g_strlcpy(ifr.ifr_name, ifname, IFNAMSIZ);
    ifr.ifr_data = (void *)&c;
    long v = s >= 0 && ioctl(s, SIOCETHTOOL, &ifr) == 0 ? (long)c.rx_max_coalesced_frames : -1;
    if (s >= 0)
        close(s);
    return v;
}

static int start(const char *name, const char *devices, qv_conn **conn, qv_domain **dom,
                 qv_error **err)
{
    g_autofree char *xml = itest_domain_xml(&T, name, devices);
    *conn = itest_open(&T);
    int r = qv_conn_define_domain(*conn, xml, 0, dom, err);
    return r < 0 ? r : qv_domain_create(*dom, 0, err);
}

Test(net_direct, macvtap_lives_as_long_as_the_run)
{
    ip((const char *const[]){ "ip", "link", "del", LOWER, NULL });
    /* A dummy link, or a veth pair where the kernel has no dummy driver. */
    if (!ip((const char *const[]){ "ip", "link", "add", LOWER, "type", "dummy", NULL }) &&
        !ip((const char *const[]){ "ip", "link", "add", LOWER, "type", "veth", "peer", "name", "qvt-dummy1", NULL }))
        cr_skip_test("cannot make a dummy or veth link (needs CAP_NET_ADMIN and iproute2)");
    ip((const char *const[]){ "ip", "link", "set", LOWER, "up", NULL });
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = start("direct",
                  "    <interface type='direct'><mac address='52:54:00:aa:bb:01'/>\n"
                  "      <source dev='" LOWER "' mode='bridge'/><target dev='qvtmvt0'/>\n"
                  "      <model type='virtio'/><tune><sndbuf>1600</sndbuf></tune></interface>\n", &conn, &dom, &err);
    g_autofree char *mac = r >= 0 ? sysfs("qvtmvt0", "address") : NULL;
    bool macvtap = r >= 0 && g_file_test("/sys/class/net/qvtmvt0/macvtap", G_FILE_TEST_IS_DIR);
    if (r >= 0)
        qv_domain_destroy(dom, 0, NULL);
    bool gone = !if_nametoindex("qvtmvt0");
    ip((const char *const[]){ "ip", "link", "del", "qvtmvt0", NULL });
    ip((const char *const[]){ "ip", "link", "del", LOWER, NULL });
    cr_assert_geq(r, 0, "define or start failed: %s", err ? qv_error_message(err) : "?");
    cr_expect(macvtap, "qvtmvt0 is not a macvtap while the domain runs");
    cr_expect_str_eq(mac ? mac : "", "52:54:00:aa:bb:01", "the macvtap's MAC is not the guest's");
    cr_expect(gone, "the macvtap is still there after destroy");
    qv_error_free(err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(net_direct, a_missing_link_fails_naming_the_interface)
{
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = start("direct-missing",
                  "    <interface type='direct'><source dev='qvt-nolink9'/></interface>\n",
                  &conn, &dom, &err);
    cr_assert_lt(r, 0, "a direct interface on a missing link started");
    const char *msg = qv_error_message(err);
    cr_expect(strstr(msg, "net0") && strstr(msg, "qvt-nolink9"), "error names neither the interface nor the link: %s", msg);
    cr_expect(!strchr(msg, '\n'), "the error is more than one line: %s", msg);
    cr_log_info("refusal: %s", msg);
    qv_error_free(err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(net_direct, bridge_port_is_isolated_and_coalesced)
{
    ip((const char *const[]){ "ip", "link", "del", BRIDGE, NULL });
    if (!ip((const char *const[]){ "ip", "link", "add", BRIDGE, "type", "bridge", NULL }))
        cr_skip_test("cannot make a bridge (needs CAP_NET_ADMIN and iproute2)");
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = start("isolated",
                  "    <interface type='bridge'><source bridge='" BRIDGE "'/><port isolated='yes'/>\n"
                  "      <coalesce><rx><frames max='7'/></rx></coalesce>\n"
                  "      <target dev='qvtiso0'/><model type='virtio'/></interface>\n",
                  &conn, &dom, &err);
    g_autofree char *iso = r >= 0 ? sysfs("qvtiso0", "brport/isolated") : NULL;
    long frames = r >= 0 ? rx_frames("qvtiso0") : -1;
    if (r >= 0)
        qv_domain_destroy(dom, 0, NULL);
    ip((const char *const[]){ "ip", "link", "del", BRIDGE, NULL });
    cr_assert_geq(r, 0, "define or start failed: %s", err ? qv_error_message(err) : "?");
    cr_expect_str_eq(iso ? iso : "", "1", "the tap's bridge port is not isolated");
    cr_expect_eq(frames, 7, "the tap's rx-frames coalescing is %ld, not <coalesce>'s 7", frames);
    qv_error_free(err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* <backend tap>: the tun device opened is the one named (a missing one
 * makes the start fail naming it, so the path is the one used). */
Test(net_direct, backend_tap_is_the_device_opened)
{
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = start("backend",
                  "    <interface type='ethernet'><backend tap='/dev/qvt-no-tun'/>\n"
                  "      <model type='virtio'/></interface>\n", &conn, &dom, &err);
    if (r >= 0)
        qv_domain_destroy(dom, 0, NULL);
    cr_assert_lt(r, 0, "a start with <backend tap='/dev/qvt-no-tun'> succeeded");
    cr_expect(strstr(qv_error_message(err), "/dev/qvt-no-tun"), "the error does not name the backend: %s",
              qv_error_message(err));
    qv_error_free(err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* The output of ovs-vsctl ARGS..., stripped, or NULL when it fails. */
static char *ovs(const char *const *args)
{
    int st = 0;
    char *out = NULL;
    if (!g_spawn_sync(NULL, (char **)args, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &st, NULL) || !WIFEXITED(st) || WEXITSTATUS(st)) {
        g_free(out);
        return NULL;
    }
    return g_strstrip(out);
}

#define OVSBR "qvtovs0"

/* <virtualport type='openvswitch'>: the tap is a port of the OVS bridge
 * with libvirt's external ids while the domain runs, and not after. The
 * bridge uses OVS's userspace datapath, so no kernel module is needed;
 * without ovs-vsctl and a running ovsdb-server/ovs-vswitchd the test skips. */
Test(net_direct, openvswitch_port_for_the_run)
{
    g_autofree char *show = ovs((const char *const[]){ "ovs-vsctl", "--timeout=5", "show", NULL });
    if (!show)
        cr_skip_test("no Open vSwitch here (ovs-vsctl with a running ovsdb-server and ovs-vswitchd)");
    g_free(ovs((const char *const[]){ "ovs-vsctl", "--timeout=5", "--if-exists", "del-br", OVSBR, NULL }));
    g_autofree char *made = ovs((const char *const[]){ "ovs-vsctl", "--timeout=5", "add-br", OVSBR, "--", "set",
                                                       "bridge", OVSBR, "datapath_type=netdev", NULL });
    cr_assert(made, "cannot make OVS bridge " OVSBR);
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = start("ovs",
                  "    <interface type='bridge'><mac address='52:54:00:aa:bb:02'/>\n"
                  "      <source bridge='" OVSBR "'/>\n"
                  "      <virtualport type='openvswitch'>\n"
                  "        <parameters interfaceid='78533349-8b77-4467-bfd3-d1ac4af0275a'/>\n"
                  "      </virtualport>\n"
                  "      <target dev='qvtovsp0'/><model type='virtio'/></interface>\n", &conn, &dom, &err);
    g_autofree char *ports = r >= 0 ? ovs((const char *const[]){ "ovs-vsctl", "--timeout=5", "list-ports", OVSBR, NULL }) : NULL;
    g_autofree char *ids = r >= 0 ? ovs((const char *const[]){ "ovs-vsctl", "--timeout=5", "get", "Interface", "qvtovsp0",
                                                               "external-ids", NULL }) : NULL;
    if (r >= 0)
        qv_domain_destroy(dom, 0, NULL);
    g_autofree char *after = ovs((const char *const[]){ "ovs-vsctl", "--timeout=5", "list-ports", OVSBR, NULL });
    g_free(ovs((const char *const[]){ "ovs-vsctl", "--timeout=5", "--if-exists", "del-br", OVSBR, NULL }));
    cr_assert_geq(r, 0, "define or start failed: %s", err ? qv_error_message(err) : "?");
    cr_expect(ports && strstr(ports, "qvtovsp0"), "the tap is not a port of " OVSBR ": %s", ports ? ports : "");
    cr_expect(ids && strstr(ids, "attached-mac=\"52:54:00:aa:bb:02\"") &&
              strstr(ids, "iface-id=\"78533349-8b77-4467-bfd3-d1ac4af0275a\"") &&
              strstr(ids, "iface-status=active") && strstr(ids, "vm-id="),
              "the port lacks libvirt's external ids: %s", ids ? ids : "");
    cr_expect(after && !strstr(after, "qvtovsp0"), "the port is still on " OVSBR " after destroy");
    qv_error_free(err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* A direct interface attached to a running domain gets its macvtap, and
 * loses it when detached (not only when the run ends: another domain may
 * take the name meanwhile). */
Test(net_direct, hotplugged_macvtap_goes_with_its_interface)
{
    ip((const char *const[]){ "ip", "link", "del", LOWER_HP, NULL });
    if (!ip((const char *const[]){ "ip", "link", "add", LOWER_HP, "type", "dummy", NULL }) &&
        !ip((const char *const[]){ "ip", "link", "add", LOWER_HP, "type", "veth", "peer", "name", "qvt-dummy3", NULL }))
        cr_skip_test("cannot make a dummy or veth link (needs CAP_NET_ADMIN and iproute2)");
    ip((const char *const[]){ "ip", "link", "set", LOWER_HP, "up", NULL });
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = start("direct-hp", "", &conn, &dom, &err);
    bool booted = r >= 0 && itest_wait_console(&T, "QVIRT-GUEST-READY", 60000);
    const char *nic = "<interface type='direct'><mac address='52:54:00:aa:bb:03'/>"
                      "<source dev='" LOWER_HP "' mode='bridge'/><target dev='qvtmvt1'/>"
                      "<model type='virtio'/></interface>";
    int ra = booted ? qv_domain_attach_device(dom, nic, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err) : -1;
    bool made = ra >= 0 && if_nametoindex("qvtmvt1");
    int rd = ra >= 0 ? qv_domain_detach_device(dom, nic, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err) : -1;
    bool gone = !if_nametoindex("qvtmvt1");
    if (r >= 0)
        qv_domain_destroy(dom, 0, NULL);
    ip((const char *const[]){ "ip", "link", "del", "qvtmvt1", NULL });
    ip((const char *const[]){ "ip", "link", "del", LOWER_HP, NULL });
    cr_assert_geq(r, 0, "define or start failed: %s", err ? qv_error_message(err) : "?");
    cr_assert(booted, "the guest did not boot");
    cr_assert_geq(ra, 0, "attach failed: %s", err ? qv_error_message(err) : "?");
    cr_expect(made, "no macvtap qvtmvt1 after the attach");
    cr_assert_geq(rd, 0, "detach failed: %s", err ? qv_error_message(err) : "?");
    cr_expect(gone, "the macvtap is still there after the detach");
    qv_error_free(err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* A start that fails after the macvtap is made (here its vhost device is
 * missing) leaves no macvtap behind. */
Test(net_direct, failed_start_leaves_no_macvtap)
{
    ip((const char *const[]){ "ip", "link", "del", "qvt-dummy4", NULL });
    if (!ip((const char *const[]){ "ip", "link", "add", "qvt-dummy4", "type", "dummy", NULL }) &&
        !ip((const char *const[]){ "ip", "link", "add", "qvt-dummy4", "type", "veth", "peer", "name", "qvt-dummy5", NULL }))
        cr_skip_test("cannot make a dummy or veth link (needs CAP_NET_ADMIN and iproute2)");
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = start("direct-fail",
                  "    <interface type='direct'><source dev='qvt-dummy4'/><target dev='qvtmvt2'/>\n"
                  "      <model type='virtio'/><driver name='vhost'/><backend vhost='/dev/qvt-no-vhost'/>\n"
                  "    </interface>\n", &conn, &dom, &err);
    bool left = if_nametoindex("qvtmvt2") != 0;
    if (r >= 0)
        qv_domain_destroy(dom, 0, NULL);
    ip((const char *const[]){ "ip", "link", "del", "qvtmvt2", NULL });
    ip((const char *const[]){ "ip", "link", "del", "qvt-dummy4", NULL });
    cr_assert_lt(r, 0, "a start with a missing vhost device succeeded");
    cr_expect(strstr(qv_error_message(err), "/dev/qvt-no-vhost"), "%s", qv_error_message(err));
    cr_expect(!left, "the failed start left macvtap qvtmvt2 behind");
    qv_error_free(err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* Virtualports a host agent must associate (802.1Qbg, 802.1Qbh, midonet)
 * are defined and kept, but a start refuses them in one sentence naming
 * the interface and the type, before any macvtap or tap is made (the
 * links named do not exist, so a later check would fail on them first). */
Test(net_direct, agent_virtualports_refuse_to_start)
{
    static const struct { const char *name, *type, *iface; } cases[] = {
        { "vport-qbg", "802.1Qbg",
          "    <interface type='direct'><source dev='qvt-nolink8' mode='vepa'/><target dev='qvtmvt8'/>\n"
          "      <virtualport type='802.1Qbg'><parameters managerid='11' typeid='1193047' typeidversion='2'/></virtualport>\n"
          "    </interface>\n" },
        { "vport-qbh", "802.1Qbh",
          "    <interface type='direct'><source dev='qvt-nolink8'/><target dev='qvtmvt8'/>\n"
          "      <virtualport type='802.1Qbh'><parameters profileid='finance'/></virtualport>\n"
          "    </interface>\n" },
        { "vport-midonet", "midonet",
          "    <interface type='bridge'><source bridge='qvt-nobridge8'/><target dev='qvttap8'/>\n"
          "      <virtualport type='midonet'><parameters interfaceid='78533349-8b77-4467-bfd3-d1ac4af0275a'/></virtualport>\n"
          "    </interface>\n" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        qv_conn *conn = NULL;
        qv_domain *dom = NULL;
        qv_error *err = NULL;
        int r = start(cases[i].name, cases[i].iface, &conn, &dom, &err);
        if (r >= 0)
            qv_domain_destroy(dom, 0, NULL);
        cr_assert_lt(r, 0, "%s: a start with a %s virtualport succeeded", cases[i].name, cases[i].type);
        const char *msg = qv_error_message(err);
        cr_log_info("refusal: %s", msg);
        cr_expect(strstr(msg, "net0") && strstr(msg, cases[i].type) && strstr(msg, "virtualport"),
                  "%s: the error names not the interface and its virtualport: %s", cases[i].name, msg);
        cr_expect(!strchr(msg, '\n'), "the error is more than one line: %s", msg);
        cr_expect(!if_nametoindex("qvtmvt8") && !if_nametoindex("qvttap8"), "%s: a link was left behind", cases[i].name);
        qv_error_free(err);
        qv_domain_free(dom);
        qv_conn_close(conn);
    }
}
