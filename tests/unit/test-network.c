/* <interface type='network'> names: libvirt's definitions first, then
 * qvirt's networks.conf, else one sentence naming the network. */
#include <errno.h>
#include <criterion/criterion.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "network.h"
#include "runtime.h"

static char *dir;
static char *conf;
static const char *dirs[2];
static char *run_dir, *etc_dir;

static void setup(void)
{
    dir = g_dir_make_tmp("qvnet-XXXXXX", NULL);
    run_dir = g_build_filename(dir, "run", NULL);
    etc_dir = g_build_filename(dir, "etc", NULL);
    g_mkdir(run_dir, 0700);
    g_mkdir(etc_dir, 0700);
    dirs[0] = run_dir;
    dirs[1] = etc_dir;
    conf = g_build_filename(dir, "networks.conf", NULL);
}

static void put(const char *in, const char *file, const char *text)
{
    g_autofree char *path = g_build_filename(in, file, NULL);
    cr_assert(g_file_set_contents(path, text, -1, NULL));
}

static void teardown(void)
{
    qv_rt_remove_tree(dir);
    g_free(dir);
    g_free(conf);
    g_free(run_dir);
    g_free(etc_dir);
}

TestSuite(network, .init = setup, .fini = teardown);

Test(network, libvirt_definition_gives_its_bridge)
{
    put(etc_dir, "default.xml",
        "<network><name>default</name><forward mode='nat'/>"
        "<bridge name='virbr0' stp='on' delay='0'/></network>");
    qv_network_kind kind = 0;
    g_autofree char *bridge = NULL;
    cr_assert_eq(qv_network_lookup(dirs, 2, conf, "default", &kind, &bridge, NULL), 0);
    cr_assert_eq(kind, QV_NETWORK_BRIDGE);
    cr_assert_str_eq(bridge, "virbr0");
}

Test(network, running_copy_wins_and_is_unwrapped)
{
    put(etc_dir, "lan.xml", "<network><name>lan</name><bridge name='old0'/></network>");
    put(run_dir, "lan.xml",
        "<networkstatus><class_id bitmap='0-2'/><network><name>lan</name>"
        "<bridge name='virbr7'/></network></networkstatus>");
    qv_network_kind kind = 0;
    g_autofree char *bridge = NULL;
    cr_assert_eq(qv_network_lookup(dirs, 2, conf, "lan", &kind, &bridge, NULL), 0);
    cr_assert_str_eq(bridge, "virbr7");
}

Test(network, macvtap_network_is_refused_by_name)
{
    put(etc_dir, "direct.xml",
        "<network><name>direct</name><forward mode='bridge'><interface dev='eth0'/></forward>"
        "</network>");
    put(etc_dir, "pass.xml", "<network><name>pass</name><forward mode='hostdev'/></network>");
    qv_network_kind kind = 0;
    char *bridge = NULL;
    qv_error *err = NULL;
    cr_assert_lt(qv_network_lookup(dirs, 2, conf, "direct", &kind, &bridge, &err), 0);
    cr_assert(strstr(qv_error_message(err), "direct"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    cr_assert_eq(qv_network_lookup(dirs, 2, conf, "pass", &kind, &bridge, &err), -EOPNOTSUPP);
    cr_assert(strstr(qv_error_message(err), "hostdev"), "%s", qv_error_message(err));
    qv_error_freep(&err);
}

Test(network, qvirt_table_bridge_and_user)
{
    put(dir, "networks.conf", "[office]\nbridge=br0\n\n[nat]\nmode=user\n\n[broken]\nmode=odd\n");
    qv_network_kind kind = 0;
    g_autofree char *bridge = NULL;
    cr_assert_eq(qv_network_lookup(dirs, 2, conf, "office", &kind, &bridge, NULL), 0);
    cr_assert_eq(kind, QV_NETWORK_BRIDGE);
    cr_assert_str_eq(bridge, "br0");
    char *none = NULL;
    cr_assert_eq(qv_network_lookup(dirs, 2, conf, "nat", &kind, &none, NULL), 0);
    cr_assert_eq(kind, QV_NETWORK_USER);
    cr_assert_null(none);
    qv_error *err = NULL;
    cr_assert_lt(qv_network_lookup(dirs, 2, conf, "broken", &kind, &none, &err), 0);
    cr_assert(strstr(qv_error_message(err), "neither bridge=NAME nor mode=user"), "%s",
              qv_error_message(err));
    qv_error_freep(&err);
}

Test(network, unknown_name_is_one_sentence)
{
    qv_network_kind kind = 0;
    char *bridge = NULL;
    qv_error *err = NULL;
    cr_assert_eq(qv_network_lookup(dirs, 2, conf, "nowhere", &kind, &bridge, &err), -ENOENT);
    const char *m = qv_error_message(err);
    cr_assert(strstr(m, "network 'nowhere' is not defined") && strstr(m, "networks.conf") &&
              !strchr(m, '\n'), "%s", m);
    qv_error_freep(&err);
    cr_assert_eq(qv_network_lookup(dirs, 2, conf, "../x", &kind, &bridge, &err), -EINVAL);
    qv_error_freep(&err);
}
