/* lib/hostdev.c: the start-time checks of host devices, on a temp folder
 * standing in for the host's /sys and /dev; lib/pool.c: volumes of
 * libvirt storage pools, from pool definitions in a temp folder;
 * lib/secret.c: libvirt's secret store in a temp folder. */
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "domdef.h"
#include "hostdev.h"
#include "pool.h"
#include "secret.h"

#define DOM(devices)                                                                              \
    "<domain type='qemu'><name>h</name><memory>131072</memory><os><type>hvm</type></os>"         \
    "<devices>" devices "</devices></domain>"

#define PCI_HOSTDEV                                                                               \
    "<hostdev mode='subsystem' type='pci' managed='yes'><source>"                                 \
    "<address domain='0x0000' bus='0x06' slot='0x02' function='0x0'/></source></hostdev>"

static char *root;

static void setup(void)
{
    root = g_dir_make_tmp("qvirt-hostdev-XXXXXX", NULL);
    cr_assert(root);
}

static void remove_tree(const char *path)
{
    GDir *d = g_file_test(path, G_FILE_TEST_IS_SYMLINK) ? NULL : g_dir_open(path, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *child = g_build_filename(path, n, NULL);
        remove_tree(child);
    }
    if (d)
        g_dir_close(d);
    g_remove(path);
}

static void teardown(void)
{
    remove_tree(root);
    g_free(root);
}

static void mkpath(const char *path)
{
    g_autofree char *p = g_strconcat(root, path, NULL);
    cr_assert(g_mkdir_with_parents(p, 0755) == 0);
}

static void touch(const char *path)
{
    g_autofree char *p = g_strconcat(root, path, NULL);
    g_autofree char *dir = g_path_get_dirname(p);
    cr_assert(g_mkdir_with_parents(dir, 0755) == 0);
    cr_assert(g_file_set_contents(p, "", 0, NULL));
}

static void link_to(const char *path, const char *target)
{
    g_autofree char *p = g_strconcat(root, path, NULL);
    cr_assert(symlink(target, p) == 0);
}

static int check(const char *xml, qv_error **err)
{
    g_autoptr(qv_domdef) def = NULL;
    cr_assert_eq(qv_domxml_parse(xml, 0, &def, NULL), 0);
    return qv_hostdevs_check(def, root, err);
}

TestSuite(hostdev, .init = setup, .fini = teardown);

Test(hostdev, pci_missing_device_is_named)
{
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(check(DOM(PCI_HOSTDEV), &err), -ENODEV);
    cr_assert_str_eq(qv_error_message(err), "The host has no PCI device 0000:06:02.0 for host device hostdev0.");
}

Test(hostdev, pci_needs_vfio_and_the_vfio_driver)
{
    mkpath("/sys/bus/pci/devices/0000:06:02.0");
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(check(DOM(PCI_HOSTDEV), &err), -ENODEV);
    cr_assert(strstr(qv_error_message(err), "no /dev/vfio/vfio"), "%s", qv_error_message(err));
    touch("/dev/vfio/vfio");
    mkpath("/sys/bus/pci/drivers/e1000e");
    link_to("/sys/bus/pci/devices/0000:06:02.0/driver", "../../drivers/e1000e");
    g_autoptr(qv_error) err2 = NULL;
    cr_assert_eq(check(DOM(PCI_HOSTDEV), &err2), -EBUSY);
    cr_assert_str_eq(qv_error_message(err2), "Host PCI device 0000:06:02.0 for host device hostdev0 is bound to e1000e, not to vfio-pci; qvirt does not rebind host devices, so bind it to vfio-pci first.");
}

Test(hostdev, pci_bound_to_vfio_passes_and_names_its_group)
{
    touch("/dev/vfio/vfio");
    mkpath("/sys/bus/pci/devices/0000:06:02.0");
    link_to("/sys/bus/pci/devices/0000:06:02.0/driver", "../../../bus/pci/drivers/vfio-pci");
    link_to("/sys/bus/pci/devices/0000:06:02.0/iommu_group", "../../../kernel/iommu_groups/14");
    cr_assert_eq(check(DOM(PCI_HOSTDEV), NULL), 0);
    g_autoptr(qv_domdef) def = NULL;
    cr_assert_eq(qv_domxml_parse(DOM(PCI_HOSTDEV), 0, &def, NULL), 0);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    qv_hostdevs_vfio_nodes(def, root, names);
    cr_assert_eq(names->len, 2);
    cr_assert_str_eq(names->pdata[0], "/dev/vfio/vfio");
    cr_assert_str_eq(names->pdata[1], "/dev/vfio/14");
}

Test(hostdev, mdev_and_nvme)
{
    const char *mdev = DOM("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
                           "<address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>");
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(check(mdev, &err), -ENODEV);
    cr_assert_str_eq(qv_error_message(err), "The host has no mediated device c2177883-f1bb-47f0-914d-32a22e3a8804 for hostdev0.");
    mkpath("/sys/bus/mdev/devices/c2177883-f1bb-47f0-914d-32a22e3a8804");
    touch("/dev/vfio/vfio");
    cr_assert_eq(check(mdev, NULL), 0);
    const char *nvme = DOM("<disk type='nvme' device='disk'><source type='pci' managed='yes' namespace='1'>"
                           "<address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>"
                           "<target dev='vda' bus='virtio'/></disk>");
    g_autoptr(qv_error) err2 = NULL;
    cr_assert_eq(check(nvme, &err2), -ENODEV);
    cr_assert_str_eq(qv_error_message(err2), "The host has no PCI device 0000:01:00.0 for NVMe disk vda.");
}

Test(hostdev, vdpa_device)
{
    const char *vdpa = DOM("<interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/><model type='virtio'/></interface>");
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(check(vdpa, &err), -ENODEV);
    cr_assert_str_eq(qv_error_message(err), "The host has no vDPA device /dev/vhost-vdpa-0 for interface net0.");
    touch("/dev/vhost-vdpa-0");
    cr_assert_eq(check(vdpa, NULL), 0);
}

#define VF_IFACE "<interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:aa'/>" \
    "<source><address type='pci' domain='0x0000' bus='0x06' slot='0x10' function='0x2'/></source></interface>"

/* An interface of type hostdev: a VF bound to vfio-pci, whose PF and
 * index are found in sysfs; a PCI device that is no VF is refused. */
Test(hostdev, sriov_vf_interface)
{
    touch("/dev/vfio/vfio");
    mkpath("/sys/bus/pci/devices/0000:06:10.2");
    link_to("/sys/bus/pci/devices/0000:06:10.2/driver", "../../../bus/pci/drivers/vfio-pci");
    link_to("/sys/bus/pci/devices/0000:06:10.2/iommu_group", "../../../kernel/iommu_groups/21");
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(check(DOM(VF_IFACE), &err), -EINVAL);
    cr_assert_str_eq(qv_error_message(err), "Host PCI device 0000:06:10.2 of interface hostdev0 is not an SR-IOV virtual function; pass it with <hostdev type='pci'>.");
    mkpath("/sys/bus/pci/devices/0000:06:00.0/net/enp6s0f0");
    link_to("/sys/bus/pci/devices/0000:06:10.2/physfn", "../0000:06:00.0");
    link_to("/sys/bus/pci/devices/0000:06:00.0/virtfn0", "../0000:06:10.0");
    link_to("/sys/bus/pci/devices/0000:06:00.0/virtfn1", "../0000:06:10.2");
    cr_assert_eq(check(DOM(VF_IFACE), NULL), 0);
    g_autoptr(qv_domdef) def = NULL;
    cr_assert_eq(qv_domxml_parse(DOM(VF_IFACE), 0, &def, NULL), 0);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    qv_hostdevs_vfio_nodes(def, root, names);
    cr_assert_eq(names->len, 2);
    cr_assert_str_eq(names->pdata[1], "/dev/vfio/21");
    /* The PF is found (enp6s0f0, VF 1); the MAC set then fails as there is
     * no such link here, naming the interface and the PF. */
    g_autoptr(qv_error) err2 = NULL;
    cr_assert_lt(qv_hostdev_nets_set_mac(def, root, &err2), 0);
    cr_assert(strstr(qv_error_message(err2), "hostdev0") && strstr(qv_error_message(err2), "enp6s0f0"), "%s",
              qv_error_message(err2));
}

Test(hostdev, vhost_scsi_needs_its_device)
{
    qv_error *err = NULL;
    const char *xml = DOM("<hostdev mode='subsystem' type='scsi_host'><source protocol='vhost' wwpn='naa.50014057667280d8'/></hostdev>");
    cr_assert_eq(check(xml, &err), -ENODEV);
    cr_assert_str_eq(qv_error_message(err), "The host has no /dev/vhost-scsi (the vhost_scsi module) for vhost-scsi host device hostdev0 (naa.50014057667280d8).");
    qv_error_free(err);
    touch("/dev/vhost-scsi");
    cr_assert_eq(check(xml, NULL), 0);
}

Test(hostdev, scsi_generic_node_from_sysfs)
{
    const char *scsi = DOM("<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host2'/>"
                           "<address bus='0' target='1' unit='3'/></source></hostdev>");
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(check(scsi, &err), -ENODEV);
    cr_assert_str_eq(qv_error_message(err), "The host has no SCSI device scsi_host2 0:1:3 (with a generic node) for hostdev0.");
    mkpath("/sys/bus/scsi/devices/2:0:1:3/scsi_generic/sg4");
    cr_assert_eq(check(scsi, NULL), 0);
    g_autoptr(qv_domdef) def = NULL;
    cr_assert_eq(qv_domxml_parse(scsi, 0, &def, NULL), 0);
    g_autofree char *sg = qv_hostdev_scsi_generic(root, g_ptr_array_index(def->hostdevs, 0), NULL);
    g_autofree char *want = g_strconcat(root, "/dev/sg4", NULL);
    cr_assert_str_eq(sg, want);
}

static void write_pool(const char *name, const char *xml)
{
    g_autofree char *file = g_strdup_printf("%s/storage/%s.xml", root, name);
    mkpath("/storage");
    cr_assert(g_file_set_contents(file, xml, -1, NULL));
}

Test(hostdev, volumes_of_libvirt_pools)
{
    write_pool("default", "<pool type='dir'><name>default</name><target>\n  <path> /var/lib/libvirt/images </path>\n</target></pool>");
    write_pool("vg0", "<pool type='logical'><name>vg0</name><target><path>/dev/vg0</path></target></pool>");
    write_pool("ceph", "<pool type='rbd'><name>ceph</name><source><name>rbd</name></source></pool>");
    g_autofree char *dir = g_strconcat(root, "/storage", NULL);
    bool block = true;
    g_autofree char *a = qv_pool_volume_path(dir, "default", "guest.qcow2", &block, NULL);
    cr_assert_str_eq(a, "/var/lib/libvirt/images/guest.qcow2");
    cr_assert_not(block);
    g_autofree char *b = qv_pool_volume_path(dir, "vg0", "lv1", &block, NULL);
    cr_assert_str_eq(b, "/dev/vg0/lv1");
    cr_assert(block);
    g_autoptr(qv_error) e1 = NULL, e2 = NULL, e3 = NULL;
    cr_assert_null(qv_pool_volume_path(dir, "ceph", "img", &block, &e1));
    cr_assert_str_eq(qv_error_message(e1), "Storage pool 'ceph' is of type 'rbd'; qvirt finds volumes of dir, fs, netfs and logical pools only.");
    cr_assert_null(qv_pool_volume_path(dir, "nope", "img", &block, &e2));
    cr_assert(strstr(qv_error_message(e2), "Storage pool 'nope' has no libvirt definition in "), "%s", qv_error_message(e2));
    cr_assert_null(qv_pool_volume_path(dir, "default", "../etc/shadow", &block, &e3));
}

static void write_secret(const char *uuid, const char *usage_xml, const char *value)
{
    mkpath("/secrets");
    g_autofree char *xml = g_strdup_printf("%s/secrets/%s.xml", root, uuid);
    g_autofree char *def = g_strdup_printf("<secret ephemeral='no' private='yes'><uuid>%s</uuid>%s</secret>",
                                           uuid, usage_xml);
    cr_assert(g_file_set_contents(xml, def, -1, NULL));
    if (value) {
        g_autofree char *b64 = g_strdup_printf("%s/secrets/%s.base64", root, uuid);
        cr_assert(g_file_set_contents(b64, value, -1, NULL));
    }
}

Test(hostdev, secrets_of_libvirts_store)
{
    write_secret("8ba2b2f0-2bc4-4b1a-8b22-4f3e2ae6e3a1", "<usage type='ceph'><name>client.admin secret</name></usage>",
                 "QVFCdnFiNWZBQUFBQUJBQUxrbzV3ZkRWNDdrc2ZpL0hHYWE0TEE9PQ==\n");
    write_secret("2f9b7f6e-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "<usage type='iscsi'><target>libvirtiscsi</target></usage>",
                 "cXZpcnQtdGVzdA==");
    write_secret("0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f", "<usage type='volume'><volume>/var/lib/libvirt/images/luks.img</volume></usage>",
                 "not base64!");
    write_secret("11111111-2222-4333-8444-555555555555", "<usage type='ceph'><name>no value</name></usage>", NULL);
    g_autofree char *dir = g_strconcat(root, "/secrets", NULL);
    g_autofree char *a = qv_secret_lookup(dir, "ceph", "client.admin secret", NULL, NULL);
    cr_assert_str_eq(a, "QVFCdnFiNWZBQUFBQUJBQUxrbzV3ZkRWNDdrc2ZpL0hHYWE0TEE9PQ==");
    g_autofree char *b = qv_secret_lookup(dir, "iscsi", NULL, "2f9b7f6e-1c3d-4e5f-8a9b-0c1d2e3f4a5b", NULL);
    cr_assert_str_eq(b, "cXZpcnQtdGVzdA==");
    g_autoptr(qv_error) e1 = NULL, e2 = NULL, e3 = NULL;
    cr_assert_null(qv_secret_lookup(dir, "iscsi", "client.admin secret", NULL, &e1));
    cr_assert(strstr(qv_error_message(e1), "No iscsi secret 'client.admin secret' is in libvirt's secret store"), "%s", qv_error_message(e1));
    cr_assert_null(qv_secret_lookup(dir, "volume", "/var/lib/libvirt/images/luks.img", NULL, &e2));
    cr_assert(strstr(qv_error_message(e2), "is not base64"), "%s", qv_error_message(e2));
    cr_assert_null(qv_secret_lookup(dir, "ceph", "no value", NULL, &e3));
    cr_assert(strstr(qv_error_message(e3), "has no value"), "%s", qv_error_message(e3));

    /* The value reaches QEMU as a sealed memfd it reads by /proc/self/fd. */
    g_auto(qv_qemu_files) files = { 0 };
    qv_qemu_files_init(&files, 1, true);
    qv_secret_source src = { .dir = dir, .files = &files };
    g_autofree char *path = qv_secret_file(&src, "iscsi", "libvirtiscsi", NULL, NULL);
    cr_assert(g_str_has_prefix(path, "/proc/self/fd/"), "%s", path);
    cr_assert_eq(files.fds->len, 1);
    g_autofree char *got = NULL;
    cr_assert(g_file_get_contents(path, &got, NULL, NULL));
    cr_assert_str_eq(got, "cXZpcnQtdGVzdA==");
    int fd = g_array_index(files.fds, int, 0);
    cr_assert_lt(write(fd, "x", 1), 0, "the memfd is sealed against writes");

    /* For a reader of the fd itself (swtpm's pwdfd=): the value decoded,
     * read from the start. */
    int vfd = qv_secret_value_fd(dir, "iscsi", "2f9b7f6e-1c3d-4e5f-8a9b-0c1d2e3f4a5b", NULL);
    cr_assert_geq(vfd, 0);
    char value[64] = { 0 };
    cr_assert_eq(read(vfd, value, sizeof value - 1), 10);
    cr_assert_str_eq(value, "qvirt-test");
    cr_assert_lt(write(vfd, "x", 1), 0, "the memfd is sealed against writes");
    close(vfd);
    g_autoptr(qv_error) e4 = NULL;
    cr_assert_lt(qv_secret_value_fd(dir, "vtpm", "33333333-2222-4333-8444-555555555555", &e4), 0);
    cr_assert(strstr(qv_error_message(e4), "has no value"), "%s", qv_error_message(e4));
}

/* An iSCSI LUN is QEMU's initiator's to reach: nothing of the host's is
 * looked for at start. */
Test(hostdev, iscsi_needs_nothing_of_the_host)
{
    const char *xml = DOM("<controller type='scsi' model='virtio-scsi'/>"
                          "<hostdev mode='subsystem' type='scsi'><source protocol='iscsi' name='iqn.2014-08.com.example:t/1'>"
                          "<host name='example.com'/></source></hostdev>");
    cr_assert_eq(check(xml, NULL), 0);
}
