/* Device hotplug against the test guest (one boot for every check): a disk
 * attached live appears in the guest and leaves it and QEMU on detach, a
 * CONFIG-only attach changes only the config, a failed attach leaves no
 * block node behind, cdrom media changes and ejects show in query-block,
 * channels and rngs appear in and leave /machine/peripheral, and the
 * virsh-style commands print virsh's messages. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "qmp.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_conn, qv_conn_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_domain, qv_domain_free)

static itest T;
static void setup(void) { itest_setup(&T); }
static void teardown(void) { itest_teardown(&T); }

TestSuite(hotplug, .init = setup, .fini = teardown, .timeout = 180);


/* ---- helpers -------------------------------------------------------------- */

/* Runs `sh -c script` in the guest; returns its stdout (any exit code). */
static char *guest_sh(qv_qmp *ga, const char *script)
{
    int code;
    return itest_guest_run(ga, script, &code);
}

/* Polls the guest until script's output does (want) or does not contain needle. */
static bool guest_wait_for(qv_qmp *ga, const char *script, const char *needle, bool want, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
    for (;;) {
        g_autofree char *out = guest_sh(ga, script);
        if ((strstr(out, needle) != NULL) == want)
            return true;
        if (g_get_monotonic_time() > deadline)
            return false;
        poll(NULL, 0, 200);
    }
}

/* One QMP command through qemu-monitor-command; returns the reply text. */
static char *qmp(qv_domain *dom, const char *cmd)
{
    char *reply = NULL;
    qv_error *err = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, cmd, &reply, 0, &err), err);
    return reply;
}

static char *peripherals(qv_domain *dom)
{
    return qmp(dom, "{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/machine/peripheral\"}}");
}

static char *xml_of(qv_domain *dom, unsigned int flags)
{
    char *xml = NULL;
    qv_error *err = NULL;
    itest_ok(qv_domain_get_xml_description(dom, flags, &xml, &err), err);
    return xml;
}

static void make_file(const char *path, off_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, size), 0);
    close(fd);
}

#define CLI_OK(...) ITEST_CLI_OK(&T, __VA_ARGS__)

static char *write_xml(const char *name, const char *xml)
{
    char *path = g_build_filename(T.root, name, NULL);
    cr_assert(g_file_set_contents(path, xml, -1, NULL));
    return path;
}

/* ---- the test ------------------------------------------------------------- */

Test(hotplug, devices_of_a_running_guest)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *disk1 = g_build_filename(T.root, "hot1.raw", NULL);
    g_autofree char *disk2 = g_build_filename(T.root, "hot2.raw", NULL);
    g_autofree char *iso_a = g_build_filename(T.root, "a.iso", NULL);
    g_autofree char *iso_b = g_build_filename(T.root, "b.iso", NULL);
    make_file(disk1, 8 << 20);
    make_file(disk2, 8 << 20);
    make_file(iso_a, 1 << 20);
    make_file(iso_b, 2 << 20);
    g_autofree char *cdrom = g_strdup_printf(
        "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
        "<source file='%s'/><target dev='hdc' bus='ide'/><readonly/></disk>", iso_a);
    g_autofree char *dxml = itest_domain_xml(&T, "hp", cdrom);
    g_autoptr(qv_domain) dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, dxml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, 0, &err), err);
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", 60000), "the guest did not boot");
    qv_qmp *ga = itest_agent_open(&T, "hp");

    /* A live disk: seen by the guest, in query-block, in the live XML only. */
    g_autofree char *vdb = g_strdup_printf(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        "<source file='%s'/><target dev='vdb' bus='virtio'/><serial>hot1</serial></disk>", disk1);
    itest_ok(qv_domain_attach_device(dom, vdb, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err), err);
    /* query-block escapes slashes: compare file names. The guest has no other disk: it names the first one it sees vda;
     * the serial identifies it. */
#define SERIALS "cat /sys/block/vd*/serial 2>/dev/null"
    if (!guest_wait_for(ga, SERIALS, "hot1", true, 15000)) {
        g_autofree char *diag = guest_sh(ga, "ls /sys/block /sys/bus/pci/devices; dmesg | tail -20");
        cr_assert_fail("the guest does not see the disk:\n%s", diag);
    }
    g_autofree char *blk = qmp(dom, "{\"execute\":\"query-block\"}");
    cr_assert(strstr(blk, "virtio-disk1"), "query-block lacks the disk: %s", blk);
    /* QEMU got the image as an fd (it opens no path of ours), in an fdset
     * named after the disk's storage node. */
    cr_assert_null(strstr(blk, "hot1.raw"), "QEMU opened the image by its path: %s", blk);
    g_autofree char *sets = qmp(dom, "{\"execute\":\"query-fdsets\"}");
    cr_assert(strstr(sets, "\"virtio-disk1-storage\""), "no fdset for the disk: %s", sets);
    g_autofree char *live = xml_of(dom, 0);
    g_autofree char *cfg = xml_of(dom, QV_DOMAIN_XML_INACTIVE);
    cr_assert(strstr(live, "dev='vdb'"), "live XML lacks vdb");
    cr_assert_null(strstr(cfg, "dev='vdb'"), "a LIVE attach changed the config");

    /* Detach: gone from the guest, from query-block and from the nodes. */
    itest_ok(qv_domain_detach_device(dom, vdb, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err), err);
    cr_assert(guest_wait_for(ga, SERIALS, "hot1", false, 5000), "the disk is still in the guest");
    g_autofree char *blk2 = qmp(dom, "{\"execute\":\"query-block\"}");
    cr_assert_null(strstr(blk2, "virtio-disk1"), "query-block still has the disk: %s", blk2);
    g_autofree char *nodes = qmp(dom, "{\"execute\":\"query-named-block-nodes\"}");
    cr_assert_null(strstr(nodes, "virtio-disk1"), "nodes left behind: %s", nodes);
    g_autofree char *sets2 = qmp(dom, "{\"execute\":\"query-fdsets\"}");
    cr_assert_null(strstr(sets2, "virtio-disk1-storage"), "the disk's fdset left behind: %s", sets2);
    g_autofree char *live2 = xml_of(dom, 0);
    cr_assert_null(strstr(live2, "dev='vdb'"), "live XML still has vdb");

    /* CONFIG only: the config changes, QEMU and the live XML do not. */
    g_autofree char *vdc = g_strdup_printf(
        "<disk type='file' device='disk'><source file='%s'/><target dev='vdc' bus='virtio'/></disk>", disk2);
    itest_ok(qv_domain_attach_device(dom, vdc, QV_DOMAIN_DEVICE_MODIFY_CONFIG, &err), err);
    g_autofree char *cfg2 = xml_of(dom, QV_DOMAIN_XML_INACTIVE);
    g_autofree char *live3 = xml_of(dom, 0);
    g_autofree char *blk3 = qmp(dom, "{\"execute\":\"query-block\"}");
    cr_assert(strstr(cfg2, "dev='vdc'"), "the config lacks vdc");
    cr_assert_null(strstr(live3, "dev='vdc'"), "a CONFIG attach changed the live XML");
    cr_assert_null(strstr(blk3, "virtio-disk2"), "a CONFIG attach reached QEMU");
    itest_ok(qv_domain_detach_device(dom, vdc, QV_DOMAIN_DEVICE_MODIFY_CONFIG, &err), err);
    g_autofree char *cfg3 = xml_of(dom, QV_DOMAIN_XML_INACTIVE);
    cr_assert_null(strstr(cfg3, "dev='vdc'"), "the config still has vdc");

    /* A missing source: the attach fails and leaves no node behind. */
    g_autofree char *missing = g_strdup_printf(
        "<disk type='file' device='disk'><source file='%s/nope.raw'/><target dev='vdd' bus='virtio'/></disk>", T.root);
    qv_error *ferr = NULL;
    cr_assert_lt(qv_domain_attach_device(dom, missing, QV_DOMAIN_DEVICE_MODIFY_LIVE, &ferr), 0);
    cr_assert(strstr(qv_error_message(ferr), "vdd"), "the error does not name the disk: %s", qv_error_message(ferr));
    cr_log_info("failed attach: %s", qv_error_message(ferr));
    qv_error_free(ferr);
    g_autofree char *nodes2 = qmp(dom, "{\"execute\":\"query-named-block-nodes\"}");
    cr_assert_null(strstr(nodes2, "virtio-disk3"), "a failed attach left nodes: %s", nodes2);
    g_autofree char *live4 = xml_of(dom, 0);
    cr_assert_null(strstr(live4, "dev='vdd'"), "a failed attach reached the live XML");

    /* cdrom media: update, eject, insert (virsh's change-media). */
    g_autofree char *o1 = CLI_OK("change-media", "hp", "hdc", iso_b, "--update");
    cr_assert(strstr(o1, "Successfully updated media."), "%s", o1);
    g_autofree char *blk4 = qmp(dom, "{\"execute\":\"query-block\"}");
    /* QEMU has the media as fds: b.iso is the 2 MiB one. */
    cr_assert(strstr(blk4, "\"virtual-size\":2097152") && !strstr(blk4, "\"virtual-size\":1048576"),
              "query-block does not show the new medium: %s", blk4);
    g_autofree char *o2 = CLI_OK("change-media", "hp", "hdc", "--eject");
    cr_assert(strstr(o2, "Successfully ejected media."), "%s", o2);
    g_autofree char *blk5 = qmp(dom, "{\"execute\":\"query-block\"}");
    cr_assert_null(strstr(blk5, "\"inserted\""), "the medium is still in: %s", blk5);
    g_autofree char *live5 = xml_of(dom, 0);
    cr_assert_null(strstr(live5, iso_b), "the live XML still has the medium");
    g_autofree char *o3 = CLI_OK("change-media", "hp", "hdc", iso_a, "--insert");
    cr_assert(strstr(o3, "Successfully inserted media."), "%s", o3);
    g_autofree char *blk6 = qmp(dom, "{\"execute\":\"query-block\"}");
    cr_assert(strstr(blk6, "\"virtual-size\":1048576"), "the inserted medium is not in query-block: %s",
              blk6);

    /* A channel and an rng (through the CLI), in /machine/peripheral and out again. */
    g_autofree char *chan = write_xml("chan.xml", "<channel type='unix'><target type='virtio' name='org.qvirt.hotplug'/></channel>");
    g_autofree char *o4 = CLI_OK("attach-device", "hp", chan, "--live");
    cr_assert(strstr(o4, "Device attached successfully"), "%s", o4);
    g_autofree char *rng = write_xml("rng.xml", "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>");
    g_autofree char *o5 = CLI_OK("attach-device", "hp", rng);
    cr_assert(strstr(o5, "Device attached successfully"), "%s", o5);
    g_autofree char *per = peripherals(dom);
    cr_assert(strstr(per, "\"channel1\""), "the channel is not in /machine/peripheral: %s", per);
    cr_assert(strstr(per, "\"rng0\""), "the rng is not in /machine/peripheral: %s", per);
    cr_assert(guest_wait_for(ga, "cat /sys/class/misc/hw_random/rng_available", "virtio", true, 10000),
              "the guest does not see the virtio rng");
    g_autofree char *o6 = CLI_OK("detach-device", "hp", chan);
    cr_assert(strstr(o6, "Device detached successfully"), "%s", o6);
    g_autofree char *o7 = CLI_OK("detach-device", "hp", rng);
    cr_assert(strstr(o7, "Device detached successfully"), "%s", o7);
    g_autofree char *per2 = peripherals(dom);
    cr_assert_null(strstr(per2, "\"channel1\""), "the channel is still there: %s", per2);
    cr_assert_null(strstr(per2, "\"rng0\""), "the rng is still there: %s", per2);
    g_autofree char *chardevs = qmp(dom, "{\"execute\":\"query-chardev\"}");
    cr_assert_null(strstr(chardevs, "charchannel1"), "the channel's chardev is left: %s", chardevs);
    g_autofree char *objs = qmp(dom, "{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/objects\"}}");
    cr_assert_null(strstr(objs, "objrng0"), "the rng backend is left: %s", objs);

    /* An interface, a tablet and a watchdog: in QEMU after attach, gone after detach. */
    static const char *const more[] = {
        "<interface type='user'><mac address='52:54:00:aa:bb:cc'/><model type='virtio'/></interface>",
        "<input type='tablet' bus='virtio'/>",
        "<watchdog model='i6300esb' action='reset'/>",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(more); i++) {
        itest_ok(qv_domain_attach_device(dom, more[i], 0, &err), err);
        g_autofree char *lx = xml_of(dom, 0);
        g_autofree char *p1 = peripherals(dom);
        const char *id = i == 0 ? "\"net0\"" : i == 1 ? "\"input" : "\"watchdog0\"";
        cr_assert(strstr(p1, id), "%s is not in /machine/peripheral: %s", more[i], p1);
        itest_ok(qv_domain_detach_device(dom, more[i], 0, &err), err);
        g_autofree char *p2 = peripherals(dom);
        if (i != 1)
            cr_assert_null(strstr(p2, id), "%s is still in /machine/peripheral: %s", more[i], p2);
    }
    g_autofree char *netdevs = qmp(dom, "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"info network\"}}");
    cr_assert_null(strstr(netdevs, "hostnet0"), "the netdev is left: %s", netdevs);

    /* Errors: detaching what is not there names it. */
    qv_error *nerr = NULL;
    g_autofree char *vdz = g_strdup_printf("<disk type='file'><source file='%s'/><target dev='vdz'/></disk>", disk1);
    cr_assert_eq(qv_domain_detach_device(dom, vdz, 0, &nerr), -ENODEV);
    cr_assert(strstr(qv_error_message(nerr), "vdz"), "%s", qv_error_message(nerr));
    qv_error_free(nerr);

    qv_qmp_free(ga);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}
