/* How QEMU is confined, read from the running QEMU: the user and groups it
 * runs as, no capability in any set, no_new_privs, its seccomp sandbox,
 * and no path of the domain's files on its command line (they reach it as
 * fds, so it needs no rights on them or their folders: the connection
 * root here is a private 0700 folder of root's), while the guest still
 * reads and writes its disk; its own mount namespace with a /dev of only
 * what it needs; a hotplugged tap. Also the explicit opt-outs (user=root,
 * still without capabilities; namespaces= empty) and a configured user
 * that does not exist. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest.h"
#include "itest.h"
#include "qv-socket.h"

static itest T;
static void setup(void) { itest_setup(&T); }
static void teardown(void) { itest_teardown(&T); }

TestSuite(security, .init = setup, .fini = teardown, .timeout = 180);

static char *proc_file(pid_t pid, const char *name, gsize *len)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/%s", (int)pid, name);
    char *text = NULL;
    cr_assert(g_file_get_contents(path, &text, len, NULL), "cannot read %s", path);
    return text;
}

/* The value of "Key:" in /proc/PID/status, tabs included. */
static char *status_field(const char *status, const char *key)
{
    g_autofree char *k = g_strdup_printf("\n%s:\t", key);
    const char *p = strstr(status, k);
    cr_assert_not_null(p, "no %s in /proc status", key);
    p += strlen(k);
    return g_strndup(p, strcspn(p, "\n"));
}

static void assert_no_caps(const char *status)
{
    const char *sets[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
    for (size_t i = 0; i < G_N_ELEMENTS(sets); i++) {
        g_autofree char *v = status_field(status, sets[i]);
        cr_assert_str_eq(v, "0000000000000000", "QEMU's %s is %s", sets[i], v);
    }
    g_autofree char *nnp = status_field(status, "NoNewPrivs");
    cr_assert_str_eq(nnp, "1", "QEMU has no no_new_privs");
}

/* Reads exactly n bytes of a display socket within 10 s (asserts). */
static void read_within(int fd, char *buf, size_t n, const char *what)
{
    size_t got = 0;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (got < n) {
        cr_assert_lt(g_get_monotonic_time(), deadline, "%s sent %zu of %zu bytes", what, got, n);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, buf + got, n - got);
        cr_assert_gt(r, 0, "%s closed", what);
        got += (size_t)r;
    }
}

static void write_conf(const char *text)
{
    g_autofree char *path = g_build_filename(T.root, "config", "qvirt.conf", NULL);
    cr_assert(g_file_set_contents(path, text, -1, NULL));
}

Test(security, qemu_runs_unprivileged_with_files_as_fds, .timeout = 240)
{
    if (geteuid() != 0)
        cr_skip_test("QEMU changes user only for a root caller");
    struct passwd *pw = getpwnam("qvirt-qemu");
    if (!pw)
        cr_skip_test("no user qvirt-qemu (scripts/deps.sh creates it)");
    uid_t quid = pw->pw_uid;
    gid_t qgid = pw->pw_gid;
    struct stat rst;
    cr_assert_eq(stat(T.root, &rst), 0);
    cr_assert_eq(rst.st_mode & 0077, 0, "the connection root should be private for this test");

    g_autofree char *disk = g_build_filename(T.root, "secret-disk.raw", NULL);
    int dfd = open(disk, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(dfd, 0);
    cr_assert_eq(ftruncate(dfd, 4 << 20), 0);
    close(dfd);
    /* A qcow2 overlay whose backing image only its header names (the XML
     * has no <backingStore>): qvirt reads the chain and QEMU gets both. */
    g_autofree char *base = g_build_filename(T.root, "base.raw", NULL);
    g_autofree char *overlay = g_build_filename(T.root, "overlay.qcow2", NULL);
    g_autofree char *mark = g_malloc0(8192);
    memcpy(mark + 4096, "QVIRT-BACKING-MARK", 18);
    cr_assert(g_file_set_contents(base, mark, 8192, NULL));
    cr_assert_eq(chmod(base, 0600), 0);
    const char *img[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "base.raw",
                          overlay, NULL };
    gint img_status = -1;
    cr_assert(g_spawn_sync(T.root, (char **)img, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                           &img_status, NULL) && img_status == 0, "qemu-img create failed");
    cr_assert_eq(chmod(overlay, 0600), 0);
    g_autofree char *extra = g_strdup_printf(
        "    <disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        "<source file='%s'/><target dev='vda' bus='virtio'/><serial>sec1</serial></disk>\n"
        "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='%s'/><target dev='vdb' bus='virtio'/><serial>sec2</serial></disk>\n",
        disk, overlay);
    g_autofree char *xml = itest_domain_xml(&T, "sec", extra);
    qv_conn *conn = itest_open(&T);
    qv_error *err = NULL;
    qv_domain *dom = NULL;
    itest_ok(qv_conn_create_domain(conn, xml, 0, &dom, &err), err);
    pid_t qemu = (pid_t)itest_status_field(&T, "sec", "qemu_pid");

    g_autofree char *st = proc_file(qemu, "status", NULL);
    g_autofree char *uid = status_field(st, "Uid"), *gid = status_field(st, "Gid");
    g_autofree char *want_uid = g_strdup_printf("%u\t%u\t%u\t%u", quid, quid, quid, quid);
    g_autofree char *want_gid = g_strdup_printf("%u\t%u\t%u\t%u", qgid, qgid, qgid, qgid);
    cr_assert_str_eq(uid, want_uid, "QEMU runs as uid %s", uid);
    cr_assert_str_eq(gid, want_gid, "QEMU runs as gid %s", gid);
    /* With its user's groups: kvm, for /dev/kvm (scripts/deps.sh). */
    struct group *kvm = getgrnam("kvm");
    if (kvm) {
        g_autofree char *groups = status_field(st, "Groups");
        g_autofree char *kvm_gid = g_strdup_printf("%u", (unsigned)kvm->gr_gid);
        g_auto(GStrv) list = g_strsplit(g_strstrip(groups), " ", -1);
        cr_assert(g_strv_contains((const char *const *)list, kvm_gid),
                  "QEMU is not in group kvm: Groups: %s", groups);
    }
    assert_no_caps(st);
    g_autofree char *seccomp = status_field(st, "Seccomp");
    cr_assert_str_eq(seccomp, "2", "QEMU has no seccomp filter (mode %s)", seccomp);

    /* Its own mount namespace, whose /dev holds only what QEMU needs. */
    g_autofree char *ns_self = g_file_read_link("/proc/self/ns/mnt", NULL);
    g_autofree char *ns_link = g_strdup_printf("/proc/%d/ns/mnt", (int)qemu);
    g_autofree char *ns_qemu = g_file_read_link(ns_link, NULL);
    cr_assert(ns_self && ns_qemu && strcmp(ns_self, ns_qemu), "QEMU shares our mount namespace");
    g_autofree char *devdir = g_strdup_printf("/proc/%d/root/dev", (int)qemu);
    g_autoptr(GDir) d = g_dir_open(devdir, 0, NULL);
    cr_assert_not_null(d, "cannot list QEMU's /dev");
    static const char *const allowed[] = { "null", "zero", "full", "random", "urandom", "ptmx",
                                           "pts", "shm", "fd", "stdin", "stdout", "stderr" };
    unsigned int seen = 0;
    for (const char *e; (e = g_dir_read_name(d));) {
        bool ok = false;
        for (size_t i = 0; i < G_N_ELEMENTS(allowed); i++)
            ok = ok || !strcmp(e, allowed[i]);
        cr_assert(ok, "QEMU's /dev has %s", e);
        seen++;
    }
    cr_assert_eq(seen, G_N_ELEMENTS(allowed), "QEMU's /dev lacks some of the basic nodes");

    /* No path of ours on QEMU's command line: the disk is an fd. */
    gsize len = 0;
    g_autofree char *cmdline = proc_file(qemu, "cmdline", &len);
    cr_assert_null(memmem(cmdline, len, "secret-disk.raw", strlen("secret-disk.raw")),
                   "QEMU's argv names the disk image");
    cr_assert_null(memmem(cmdline, len, T.root, strlen(T.root)),
                   "QEMU's argv names a path in the private connection root");

    /* The guest writes its disk, and the bytes land in the image. (Booted
     * first: under load TCG takes longer than the agent's own wait.) */
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", 60000), "the guest did not boot");
    qv_qmp *ga = itest_agent_open(&T, "sec");
    int code = -1;
    g_autofree char *out = itest_guest_run(
        ga, "d=$(for x in /sys/block/vd*; do [ \"$(cat $x/serial)\" = sec1 ] && echo ${x##*/}; "
            "done); printf QVIRT-SECURITY-MARK | dd of=/dev/$d bs=512 seek=8 conv=fsync 2>&1",
        &code);
    cr_assert_eq(code, 0, "the guest could not write its disk: %s", out);
    g_autofree char *through = itest_guest_run(
        ga, "d=$(for x in /sys/block/vd*; do [ \"$(cat $x/serial)\" = sec2 ] && echo ${x##*/}; "
            "done); dd if=/dev/$d bs=512 skip=8 count=1 2>/dev/null", &code);
    cr_assert(strstr(through, "QVIRT-BACKING-MARK"), "the guest does not read the backing image "
              "through the overlay: %s", through);
    g_autofree char *live = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &live, &err), err);
    g_autofree char *base_src = g_strdup_printf("<source file='%s'", base);
    cr_assert(strstr(live, "<backingStore type='file'") && strstr(live, base_src),
              "the live XML lacks the probed backing chain: %s", live);
    cr_assert_null(memmem(cmdline, len, "base.raw", 8), "QEMU's argv names the backing image");
    qv_qmp_free(ga);

    /* A hotplugged tap interface: qvirt makes the tap and brings it up,
     * QEMU (which could not) gets its fd, and the tap goes with the NIC. */
    if (access("/dev/net/tun", R_OK | W_OK) == 0) {
        g_autofree char *tap = g_strdup_printf("qvs%d", (int)(getpid() % 100000));
        g_autofree char *nic = g_strdup_printf(
            "<interface type='ethernet'><mac address='52:54:00:5e:c0:01'/><target dev='%s'/>"
            "<model type='virtio'/></interface>", tap);
        itest_ok(qv_domain_attach_device(dom, nic, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err), err);
        g_autofree char *flags_path = g_strdup_printf("/sys/class/net/%s/flags", tap);
        g_autofree char *flags = NULL;
        cr_assert(g_file_get_contents(flags_path, &flags, NULL, NULL), "no tap %s", tap);
        cr_assert(g_ascii_strtoull(flags, NULL, 16) & 1, "tap %s is not up (%s)", tap, flags);
        /* detach returns once QEMU's netdev_del has closed the tap's only
         * fd, which unregisters the device there and then. */
        itest_ok(qv_domain_detach_device(dom, nic, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err), err);
        g_autofree char *dev_dir = g_strdup_printf("/sys/class/net/%s", tap);
        cr_assert_not(g_file_test(dev_dir, G_FILE_TEST_EXISTS), "tap %s outlived its NIC", tap);
    }
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    g_autofree char *bytes = NULL;
    gsize blen = 0;
    cr_assert(g_file_get_contents(disk, &bytes, &blen, NULL));
    cr_assert_geq(blen, 8 * 512 + 20);
    cr_assert_eq(memcmp(bytes + 8 * 512, "QVIRT-SECURITY-MARK", 19), 0,
                 "the guest's write did not reach the image");
    /* The image kept its owner and mode: nothing was chowned for QEMU. */
    struct stat dst;
    cr_assert_eq(stat(disk, &dst), 0);
    cr_assert_eq(dst.st_uid, 0);
    cr_assert_eq(dst.st_mode & 0777, 0600);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(security, root_only_when_configured_and_still_without_capabilities)
{
    if (geteuid() != 0)
        cr_skip_test("needs a root caller");
    qv_conn *conn = itest_open(&T);
    /* Also without the private /dev, for hosts that cannot have one. */
    write_conf("[qemu]\nuser=root\nnamespaces=\n");
    g_autofree char *xml = itest_domain_xml(&T, "asroot", NULL);
    qv_error *err = NULL;
    qv_domain *dom = NULL;
    itest_ok(qv_conn_create_domain(conn, xml, QV_DOMAIN_START_PAUSED, &dom, &err), err);
    pid_t qemu = (pid_t)itest_status_field(&T, "asroot", "qemu_pid");
    g_autofree char *st = proc_file(qemu, "status", NULL);
    g_autofree char *uid = status_field(st, "Uid");
    cr_assert_str_eq(uid, "0\t0\t0\t0");
    assert_no_caps(st);
    g_autofree char *ns_self = g_file_read_link("/proc/self/ns/mnt", NULL);
    g_autofree char *ns_link = g_strdup_printf("/proc/%d/ns/mnt", (int)qemu);
    g_autofree char *ns_qemu = g_file_read_link(ns_link, NULL);
    cr_assert_str_eq(ns_qemu, ns_self, "namespaces= still gave QEMU a mount namespace");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);

    /* A user that does not exist: one sentence naming it and the file. */
    write_conf("[qemu]\nuser=qvirt-no-such-user\n");
    g_autofree char *xml2 = itest_domain_xml(&T, "nouser", NULL);
    cr_assert_lt(qv_conn_create_domain(conn, xml2, QV_DOMAIN_START_PAUSED, &dom, &err), 0);
    cr_assert_not_null(strstr(qv_error_message(err), "'qvirt-no-such-user'"), "%s",
                       qv_error_message(err));
    cr_assert_not_null(strstr(qv_error_message(err), "qvirt.conf"), "%s", qv_error_message(err));
    qv_error_free(err);
    qv_conn_close(conn);
}

/* QEMU opens the kernel itself, through its own fd: a kernel in the
 * private (0700) connection root boots when the file is readable to QEMU's
 * user; one that is not is given to that user for the run and back after
 * it, also when the run ends by a crash nobody watched. */
Test(security, kernel_in_a_private_folder, .timeout = 120)
{
    if (geteuid() != 0 || !getpwnam("qvirt-qemu"))
        cr_skip_test("needs a root caller and the user qvirt-qemu");
    uid_t quid = getpwnam("qvirt-qemu")->pw_uid;
    g_autofree char *kernel = g_build_filename(T.root, "vmlinuz-copy", NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    cr_assert(g_file_get_contents(T.kernel, &data, &len, NULL));
    cr_assert(g_file_set_contents(kernel, data, (gssize)len, NULL));
    cr_assert_eq(chmod(kernel, 0644), 0);
    /* A channel QEMU connects to as a client, in the same private folder:
     * qvirt connects and QEMU gets the connected socket. */
    g_autofree char *peer = g_build_filename(T.root, "peer.sock", NULL);
    int lfd = qv_unix_listen(peer, NULL);
    cr_assert_geq(lfd, 0);
    g_autofree char *chan = g_strdup_printf(
        "    <channel type='unix'><source mode='connect' path='%s'/>"
        "<target type='virtio' name='org.qvirt.peer'/></channel>\n", peer);
    g_autofree char *xml = qv_test_guest_domain_xml("privk", kernel, T.initrd, chan);
    qv_conn *conn = itest_open(&T);
    qv_error *err = NULL;
    qv_domain *dom = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    gsize clen = 0;
    g_autofree char *cmdline = proc_file((pid_t)itest_status_field(&T, "privk", "qemu_pid"),
                                         "cmdline", &clen);
    cr_assert_null(memmem(cmdline, clen, "vmlinuz-copy", 12), "QEMU's argv names the kernel");
    cr_assert_null(memmem(cmdline, clen, "peer.sock", 9), "QEMU's argv names the peer socket");
    struct pollfd pl = { .fd = lfd, .events = POLLIN };
    cr_assert_eq(poll(&pl, 1, 5000), 1, "nobody connected to the channel's peer socket");
    int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(cfd, 0);
    close(cfd);
    close(lfd);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);

    /* Unreadable to QEMU's user: given to it for the run, and back. */
    cr_assert_eq(chmod(kernel, 0600), 0);
    lfd = qv_unix_listen(peer, NULL);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    struct stat st;
    cr_assert_eq(stat(kernel, &st), 0);
    cr_assert_eq(st.st_uid, quid, "the kernel was not given to QEMU's user for the run");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    cr_assert_eq(stat(kernel, &st), 0);
    cr_assert_eq(st.st_uid, 0, "the kernel's owner was not given back");
    cr_assert_eq(st.st_mode & 07777, 0600);

    /* A run that ends with QEMU and its supervisor killed: the next call
     * that changes the domain records the end and gives the file back. */
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    pid_t qemu = (pid_t)itest_status_field(&T, "privk", "qemu_pid");
    pid_t monitor = (pid_t)itest_status_field(&T, "privk", "monitor_pid");
    kill(monitor, SIGKILL);
    kill(qemu, SIGKILL);
    cr_assert(itest_wait_pid_gone(monitor, 20000) && itest_wait_pid_gone(qemu, 20000));
    cr_assert_eq(stat(kernel, &st), 0);
    cr_assert_eq(st.st_uid, quid, "nobody was left to give the kernel back yet");
    cr_assert_lt(qv_domain_destroy(dom, 0, &err), 0); /* not running: but settled */
    qv_error_freep(&err);
    cr_assert_eq(stat(kernel, &st), 0);
    cr_assert_eq(st.st_uid, 0, "the kernel's owner was not given back after the crash");
    close(lfd);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* An nvdimm's file in a folder QEMU's user cannot search, made by qvirt
 * when missing: QEMU maps it through its inherited fd, the file is QEMU's
 * user's for the run only, and QEMU's argv does not name it. */
Test(security, nvdimm_file_in_a_private_folder, .timeout = 120)
{
    if (geteuid() != 0 || !getpwnam("qvirt-qemu"))
        cr_skip_test("needs a root caller and the user qvirt-qemu");
    uid_t quid = getpwnam("qvirt-qemu")->pw_uid;
    g_autofree char *nv = g_build_filename(T.root, "nvdimm.img", NULL);
    cr_assert_eq(chmod(T.root, 0700), 0);
    g_autofree char *dev = g_strdup_printf(
        "    <memory model='nvdimm'><source><path>%s</path></source>"
        "<target><size unit='MiB'>16</size></target></memory>\n", nv);
    g_autofree char *base = qv_test_guest_domain_xml("privnv", T.kernel, T.initrd, dev);
    g_auto(GStrv) parts = g_strsplit(base, "  <memory unit='MiB'>256</memory>", 2);
    g_autofree char *xml = g_strjoinv("  <maxMemory slots='2' unit='MiB'>1024</maxMemory>\n"
                                      "  <memory unit='MiB'>256</memory>", parts);
    qv_conn *conn = itest_open(&T);
    qv_error *err = NULL;
    qv_domain *dom = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    struct stat st;
    cr_assert_eq(stat(nv, &st), 0, "the nvdimm file was not made");
    cr_assert_eq(st.st_uid, quid, "the nvdimm file was not given to QEMU's user for the run");
    cr_assert_eq(st.st_size, 16 << 20, "QEMU did not size the nvdimm file");
    gsize clen = 0;
    g_autofree char *cmdline = proc_file((pid_t)itest_status_field(&T, "privnv", "qemu_pid"),
                                         "cmdline", &clen);
    cr_assert_null(memmem(cmdline, clen, "nvdimm.img", 10), "QEMU's argv names the nvdimm file");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    cr_assert_eq(stat(nv, &st), 0);
    cr_assert_eq(st.st_uid, 0, "the nvdimm file's owner was not given back");
    itest_ok(qv_domain_undefine(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* Starts (paused) a domain whose one display of kind type ("vnc" or
 * "spice") listens on a generated unix socket; *path: that socket, which
 * domdisplay names and which lies in the private run folder. */
static qv_domain *start_socket_display(qv_conn *conn, const char *name, const char *type,
                                       char **path)
{
    g_autofree char *devices = g_strdup_printf(
        "    <graphics type='%s'><listen type='socket'/></graphics>\n", type);
    g_autofree char *xml = qv_test_guest_domain_xml(name, T.kernel, T.initrd, devices);
    qv_error *err = NULL;
    qv_domain *dom = NULL;
    itest_ok(qv_conn_create_domain(conn, xml, QV_DOMAIN_START_PAUSED, &dom, &err), err);
    g_autofree char *uri = NULL;
    itest_ok(qv_domain_get_display_uri(dom, type, 0, &uri, &err), err);
    g_autofree char *prefix = g_strdup_printf("%s+unix://", type);
    cr_assert(g_str_has_prefix(uri, prefix), "%s", uri);
    *path = g_strdup(uri + strlen(prefix));
    cr_assert(g_str_has_prefix(*path, T.root), "the socket is not in the run folder: %s", *path);
    return dom;
}

static int connect_to(const char *path)
{
    qv_error *err = NULL;
    int fd = qv_unix_connect(path, &err);
    cr_assert_geq(fd, 0, "cannot connect to %s: %s", path, err ? qv_error_message(err) : "?");
    return fd;
}

/* A VNC display on a unix socket in the private run folder: the
 * supervisor listens there and hands each client to QEMU, which could not
 * reach the folder; the client gets QEMU's RFB greeting. */
Test(security, vnc_unix_socket_in_a_private_folder)
{
    qv_conn *conn = itest_open(&T);
    g_autofree char *path = NULL;
    qv_domain *dom = start_socket_display(conn, "vncsock", "vnc", &path);
    /* Twice: each client is handed over in turn. */
    for (int round = 0; round < 2; round++) {
        int fd = connect_to(path);
        char greet[13] = { 0 };
        read_within(fd, greet, 12, "the VNC socket");
        cr_assert_str_eq(greet, "RFB 003.008\n");
        close(fd);
    }
    qv_error *err = NULL;
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* The same for SPICE: QEMU's SPICE server answers a client's link
 * message (magic "REDQ") on the supervisor's socket. */
Test(security, spice_unix_socket_in_a_private_folder)
{
    qv_conn *conn = itest_open(&T);
    g_autofree char *path = NULL;
    qv_domain *dom = start_socket_display(conn, "spicesock", "spice", &path);
    int fd = connect_to(path);
    /* SpiceLinkHeader (magic, version 2.2, size) and SpiceLinkMess for the
     * main channel, little-endian, no capabilities. */
    const unsigned char link[16 + 18] = {
        'R', 'E', 'D', 'Q', 2, 0, 0, 0, 2, 0, 0, 0, 18, 0, 0, 0,
        0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 18, 0, 0, 0,
    };
    cr_assert_eq(write(fd, link, sizeof link), (ssize_t)sizeof link);
    char magic[5] = { 0 };
    read_within(fd, magic, 4, "the SPICE socket");
    cr_assert_str_eq(magic, "REDQ", "no SPICE link reply");
    close(fd);
    qv_error *err = NULL;
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* An emulated TPM: swtpm runs under the supervisor as QEMU's user with no
 * capabilities, QEMU has the TPM, the state is made once and kept across
 * starts, swtpm ends with QEMU, and undefine keeps the state only when
 * asked (KEEP_TPM). */
Test(security, tpm_emulator_is_confined_and_its_state_kept, .timeout = 120)
{
    if (!g_find_program_in_path("swtpm") || !g_find_program_in_path("swtpm_setup"))
        cr_skip_test("swtpm and swtpm_setup are missing (scripts/deps.sh installs them)");
    g_autofree char *xml = qv_test_guest_domain_xml(
        "tpm", T.kernel, T.initrd,
        "    <tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>\n");
    qv_conn *conn = itest_open(&T);
    qv_error *err = NULL;
    qv_domain *dom = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    char *reply = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\":\"query-tpm\"}", &reply, 0, &err),
             err);
    cr_assert(strstr(reply, "\"tpm-crb\"") && strstr(reply, "\"emulator\""), "%s", reply);
    free(reply);

    /* swtpm: a child of the supervisor, confined as QEMU is. */
    pid_t monitor = (pid_t)itest_status_field(&T, "tpm", "monitor_pid");
    pid_t swtpm = 0;
    g_autoptr(GDir) procs = g_dir_open("/proc", 0, NULL);
    for (const char *e; !swtpm && (e = g_dir_read_name(procs));) {
        pid_t pid = (pid_t)g_ascii_strtoll(e, NULL, 10);
        if (pid <= 0)
            continue;
        g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
        g_autofree char *st = NULL;
        if (!g_file_get_contents(path, &st, NULL, NULL) || !strstr(st, "Name:\tswtpm\n"))
            continue;
        g_autofree char *ppid = status_field(st, "PPid");
        if (atoi(ppid) == monitor)
            swtpm = pid;
    }
    cr_assert_gt(swtpm, 0, "no swtpm under the supervisor %d", (int)monitor);
    g_autofree char *sst = proc_file(swtpm, "status", NULL);
    assert_no_caps(sst);
    struct passwd *pw = geteuid() == 0 ? getpwnam("qvirt-qemu") : NULL;
    if (pw) {
        g_autofree char *uid = status_field(sst, "Uid");
        g_autofree char *want = g_strdup_printf("%u\t%u\t%u\t%u", pw->pw_uid, pw->pw_uid,
                                                pw->pw_uid, pw->pw_uid);
        cr_assert_str_eq(uid, want, "swtpm runs as uid %s", uid);
    }
    char uuid[37];
    itest_ok(qv_domain_get_uuid_string(dom, uuid, &err), err);
    g_autofree char *state = g_build_filename(T.root, "config", "swtpm", uuid, "tpm2",
                                              "tpm2-00.permall", NULL);
    cr_assert(g_file_test(state, G_FILE_TEST_EXISTS), "no TPM state at %s", state);
    struct stat before;
    cr_assert_eq(stat(state, &before), 0);

    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    cr_assert(itest_wait_pid_gone(swtpm, 10000), "swtpm outlived QEMU");
    /* The second start uses the same state. */
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    struct stat after;
    cr_assert_eq(stat(state, &after), 0);
    cr_assert_eq(after.st_ino, before.st_ino, "the TPM was made again");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);

    g_autofree char *top = g_build_filename(T.root, "config", "swtpm", uuid, NULL);
    cr_assert_lt(qv_domain_undefine(dom, QV_DOMAIN_UNDEFINE_TPM | QV_DOMAIN_UNDEFINE_KEEP_TPM,
                                    &err), 0);
    qv_error_freep(&err);
    itest_ok(qv_domain_undefine(dom, QV_DOMAIN_UNDEFINE_KEEP_TPM, &err), err);
    cr_assert(g_file_test(state, G_FILE_TEST_EXISTS), "KEEP_TPM removed the state");
    qv_domain_free(dom);
    /* Defined again (the same UUID finds the same state), then undefined
     * without KEEP_TPM: the state goes. */
    g_autofree char *with_uuid = g_strdup_printf("<name>tpm</name><uuid>%s</uuid>", uuid);
    g_auto(GStrv) parts = g_strsplit(xml, "<name>tpm</name>", 2);
    g_autofree char *xml2 = g_strjoinv(with_uuid, parts);
    itest_ok(qv_conn_define_domain(conn, xml2, 0, &dom, &err), err);
    itest_ok(qv_domain_undefine(dom, 0, &err), err);
    cr_assert_not(g_file_test(top, G_FILE_TEST_EXISTS), "undefine kept the TPM state");
    qv_domain_free(dom);
    qv_conn_close(conn);
}
