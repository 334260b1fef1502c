/* An interface's tap gets its <mtu>, or with no <mtu> its bridge's, as
 * libvirt sets it: a jumbo-frame bridge keeps its MTU when a domain joins
 * it, and a non-virtio NIC's <mtu> (which the guest is not told) still
 * applies on the host side. Needs CAP_NET_ADMIN (tap devices, a bridge). */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "itest.h"

static itest T;
static void setup(void) { itest_setup(&T); }
static void teardown(void) { itest_teardown(&T); }

TestSuite(net_mtu, .init = setup, .fini = teardown, .timeout = 120);

#define BRIDGE "qvmtubr0"

static bool ip(const char *const *args)
{
    int st = 0;
    return g_spawn_sync(NULL, (char **)args, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                        G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &st, NULL) &&
           WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static unsigned int host_mtu(const char *ifname)
{
    g_autofree char *path = g_strdup_printf("/sys/class/net/%s/mtu", ifname);
    g_autofree char *text = NULL;
    cr_assert(g_file_get_contents(path, &text, NULL, NULL), "no %s", path);
    return (unsigned int)strtoul(text, NULL, 10);
}

static void del_bridge(void)
{
    ip((const char *const[]){ "ip", "link", "del", BRIDGE, NULL });
}

Test(net_mtu, tap_takes_the_interface_or_bridge_mtu)
{
    del_bridge();
    if (!ip((const char *const[]){ "ip", "link", "add", BRIDGE, "type", "bridge", NULL }))
        cr_skip_test("cannot make a bridge (needs CAP_NET_ADMIN and iproute2)");
    bool ok = ip((const char *const[]){ "ip", "link", "set", BRIDGE, "mtu", "9000", "up", NULL });
    g_autofree char *devices = g_strdup_printf(
        "    <interface type='bridge'><source bridge='" BRIDGE "'/>\n"
        "      <target dev='qvmtu0'/><model type='virtio'/></interface>\n"
        "    <interface type='ethernet'><target dev='qvmtu1'/>\n"
        "      <model type='e1000'/><mtu size='1400'/></interface>\n");
    g_autofree char *xml = itest_domain_xml(&T, "mtu", devices);
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = ok ? qv_conn_define_domain(conn, xml, 0, &dom, &err) : -1;
    if (r >= 0)
        r = qv_domain_create(dom, 0, &err);
    unsigned int tap0 = r >= 0 ? host_mtu("qvmtu0") : 0, tap1 = r >= 0 ? host_mtu("qvmtu1") : 0;
    unsigned int br = host_mtu(BRIDGE);
    if (dom && r >= 0)
        qv_domain_destroy(dom, 0, NULL);
    del_bridge();
    cr_assert(ok, "cannot set the bridge's MTU to 9000");
    cr_assert_geq(r, 0, "define or start failed: %s", err ? qv_error_message(err) : "?");
    cr_expect_eq(tap0, 9000, "the bridge port's tap has MTU %u, not the bridge's 9000", tap0);
    cr_expect_eq(br, 9000, "the bridge fell to MTU %u when the domain joined it", br);
    cr_expect_eq(tap1, 1400, "the e1000's tap has MTU %u, not its <mtu> 1400", tap1);
    qv_error_free(err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}
