/* See qemu-start.h. The skip list names golden cases (tests/domxml/cases)
 * that need host hardware or services. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "domdef.h"
#include "golden.h"
#include "qemu-start.h"
#include "qmp.h"
#include "qv-process.h"
#include "x509.h"


static const struct { const char *name; const char *reason; } skip_list[] = {
    { "net-bridge", "needs a host bridge and qemu-bridge-helper" },
    { "net-network-bridge", "needs a host bridge and qemu-bridge-helper" },
    { "virtinst-net-network-default", "needs libvirt's virbr0 bridge and qemu-bridge-helper" },
    { "net-ethernet", "needs CAP_NET_ADMIN and a tap device" },
    { "net-ethernet-script", "needs CAP_NET_ADMIN and a tap device" },
    { "disk-nbd", "needs an NBD server" },
    { "disk-nbd-unix", "needs an NBD server" },
    { "disk-http", "network source; QEMU's curl block driver may be missing" },
    { "disk-network-protocols", "needs iSCSI, Ceph, Gluster, NFS, HTTPS and FTP servers" },
    { "disk-network-ssh", "needs an SSH server" },
    { "disk-network-auth", "needs Ceph, iSCSI and HTTPS servers" },
    { "disk-repeated-network-source", "needs an HTTPS server" },
    { "disk-nvme", "needs a host NVMe controller bound to vfio-pci" },
    { "hostdev-pci", "needs host PCI devices bound to vfio-pci" },
    { "hostdev-pci-q35", "needs a host PCI device bound to vfio-pci and a mediated device" },
    { "hostdev-scsi", "needs host SCSI devices with /dev/sg nodes" },
    { "graphics-dbus-address-gl", "needs a D-Bus bus and a GPU render node" },
    { "net-vhostuser", "needs a vhost-user backend (QEMU waits for it to connect)" },
    { "net-vdpa", "needs a host vDPA device" },
    { "disk-block", "needs a host block device" },
    { "disk-lun", "needs a host SCSI block device" },
    { "vsock", "needs /dev/vhost-vsock" },
    { "vsock-non-transitional", "needs /dev/vhost-vsock" },
    { "tpm-emulator", "needs a running swtpm" },
    { "tpm-passthrough", "needs a host TPM" },
    { "egl-headless", "needs a GPU render node" },
    { "graphics-sdl", "needs an X display" },
    { "hostdev-usb", "needs the USB host device" },
    { "input-evdev", "needs a host evdev device" },
    { "input-passthrough", "needs a host evdev device" },
    { "smartcard-host", "needs NSS certificates" },
    { "firmware-pflash", "needs OVMF images" },
    { "memory-locked", "mlock needs a large RLIMIT_MEMLOCK" },
    { "chr-dev", "needs a host tty" },
    { "chr-pipe", "needs a named pipe" },
    { "chr-tcp-connect", "needs a TCP server" },
    { "chr-unix-connect", "needs a listening socket" },
    { "rng-egd", "needs an EGD server" },
    { "iommu-intel", "interrupt remapping needs KVM's split irqchip" },
    { "audio-oss", "needs an OSS device (/dev/dsp0)" },
    { "audio-pulseaudio", "needs a PulseAudio server and qemu-system-gui's audio-pa module" },
    { "audio-jack", "needs a JACK server and qemu-system-gui's audio-jack module" },
    { "audio-sdl", "needs qemu-system-gui's audio-sdl module and a sound device" },
    { "audio-dbus", "a D-Bus audio backend needs a D-Bus display (-display dbus)" },
    { "memory-hugepages-numa", "needs 1 GiB hugepages mounted on /dev/hugepages1G" },
};

/* Free hugepages of the default size, from /proc/meminfo. */
static long free_hugepages(void)
{
    g_autofree char *mi = NULL;
    if (!g_file_get_contents("/proc/meminfo", &mi, NULL, NULL))
        return 0;
    const char *p = strstr(mi, "HugePages_Free:");
    return p ? strtol(p + strlen("HugePages_Free:"), NULL, 10) : 0;
}

/* The file argv[i] names, if any: a -blockdev "filename", a -chardev
 * path=, a -bios or -kernel argument. */
static char *named_file(char **argv, size_t i)
{
    if (i > 0 && (!strcmp(argv[i - 1], "-bios") || !strcmp(argv[i - 1], "-kernel")))
        return g_strdup(argv[i]);
    const char *at = strstr(argv[i], "\"filename\":\"");
    if (at)
        at += strlen("\"filename\":\"");
    else if ((at = strstr(argv[i], "\"romfile\":\"")))
        at += strlen("\"romfile\":\"");
    else if (i > 0 && !strcmp(argv[i - 1], "-chardev") && (at = strstr(argv[i], ",path=")))
        at += strlen(",path=");
    return at ? g_strndup(at, strcspn(at, "\",")) : NULL;
}

static const char *skip_reason(const char *name, char **argv)
{
    for (size_t i = 0; i < G_N_ELEMENTS(skip_list); i++)
        if (!strcmp(skip_list[i].name, name))
            return skip_list[i].reason;
    for (size_t i = 0; argv[i]; i++) {
        if (strstr(argv[i], "accel=kvm") || (!strcmp(argv[i], "-accel") && argv[i + 1] &&
                                             g_str_has_prefix(argv[i + 1], "kvm")))
            return "needs KVM (guests hang here: only TCG is used)";
        /* Guest RAM on hugetlbfs needs pages reserved on the host. */
        if ((strstr(argv[i], "\"mem-path\":\"/dev/hugepages") || strstr(argv[i], "\"hugetlb\":true")) &&
            (free_hugepages() < 128 || !g_file_test("/dev/hugepages", G_FILE_TEST_IS_DIR)))
            return "needs 128 free 2 MiB hugepages and hugetlbfs on /dev/hugepages";
        if (!strcmp(argv[i], "-cpu") && argv[i + 1] && g_str_has_prefix(argv[i + 1], "host"))
            return "-cpu host needs KVM";
        if (!strcmp(argv[i], "-tpmdev") && argv[i + 1] && g_str_has_prefix(argv[i + 1], "emulator"))
            return "needs a running swtpm (the guest test 'tpm' boots one through the library)";
        if (!strcmp(argv[i], "-tpmdev") && argv[i + 1] && g_str_has_prefix(argv[i + 1], "passthrough"))
            return "needs a host TPM";
        if (strstr(argv[i], "\"type\":\"bridge\""))
            return "needs a host bridge and qemu-bridge-helper";
        if (strstr(argv[i], "\"type\":\"tap\"") || strstr(argv[i], "\"driver\":\"vhost-vsock"))
            return "needs CAP_NET_ADMIN, tap devices or /dev/vhost-*";
        if (strstr(argv[i], "egl-headless") || strstr(argv[i], "input-linux"))
            return "needs a GPU render node or a host evdev device";
        if (strstr(argv[i], "\"driver\":\"iscsi\""))
            return "needs an iSCSI target";
        if (strstr(argv[i], "\"driver\":\"vfio-pci") || strstr(argv[i], "\"driver\":\"scsi-generic\""))
            return "needs a host device passed through (VFIO or /dev/sg)";
        if (strstr(argv[i], "\"driver\":\"vhost-scsi-pci"))
            return "needs /dev/vhost-scsi and a LIO vhost target of that WWPN";
        if (strstr(argv[i], "\"type\":\"vhost-vdpa\"") || strstr(argv[i], "\"type\":\"vhost-user\""))
            return "needs a vDPA device or a vhost-user backend";
        if (!strcmp(argv[i], "-audiodev") && argv[i + 1] &&
            (strstr(argv[i + 1], "\"driver\":\"pa\"") || strstr(argv[i + 1], "\"driver\":\"jack\"") ||
             strstr(argv[i + 1], "\"driver\":\"oss\"") || strstr(argv[i + 1], "\"driver\":\"sdl\"") ||
             strstr(argv[i + 1], "\"driver\":\"alsa\"") || strstr(argv[i + 1], "\"driver\":\"dbus\"")))
            return "needs an audio server or device, or qemu-system-gui's audio modules";
        /* A socket netdev on an address this host may not have. */
        if (!strcmp(argv[i], "-netdev") && argv[i + 1] && strstr(argv[i + 1], "\"type\":\"socket\"") &&
            !strstr(argv[i + 1], "127.0.0.1") && !strstr(argv[i + 1], "\"udp\""))
            return "binds or connects a socket netdev to an address of another host";
        if (!strcmp(argv[i], "-chardev") && argv[i + 1] && g_str_has_prefix(argv[i + 1], "socket,") &&
            strstr(argv[i + 1], ",host=") && !strstr(argv[i + 1], "server=on"))
            return "connects to a TCP server";
        /* <numatune> binds guest RAM to host nodes this host may lack. */
        const char *hn = strstr(argv[i], "\"host-nodes\":[");
        for (const char *p = hn ? hn + 14 : NULL; p && *p && *p != ']'; p++) {
            if (!g_ascii_isdigit(*p))
                continue;
            g_autofree char *node = g_strdup_printf("/sys/devices/system/node/node%ld",
                                                    strtol(p, (char **)&p, 10));
            p--;
            if (!g_file_test(node, G_FILE_TEST_IS_DIR))
                return "binds guest memory to a host NUMA node this host does not have";
        }
    }
    /* Files the XML names outside the fixture (libvirt's documentation
     * examples): an image, /var/log/vm/..., a Xen loader, a named pipe. A
     * file QEMU creates (a log, a listening socket) needs its folder only. */
    for (size_t i = 1; argv[i]; i++) {
        g_autofree char *file = named_file(argv, i);
        if (!file || file[0] != '/' || g_str_has_prefix(file, "/dev/fdset/"))
            continue;
        bool creates = !strcmp(argv[i - 1], "-chardev") &&
                       (g_str_has_prefix(argv[i], "file,") || strstr(argv[i], "server=on"));
        g_autofree char *dir = g_path_get_dirname(file);
        if (!g_file_test(creates ? dir : file, G_FILE_TEST_EXISTS))
            return "names a file this host lacks";
    }
    return NULL;
}

static int run_tool(const char *const *argv)
{
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    g_autoptr(qv_process) p = NULL;
    int status = -1;
    if (qv_process_spawn(&o, &p, NULL) < 0 || qv_process_wait(p, 30000, &status, NULL) < 0)
        return -1;
    return status;
}

char *qemu_start_fixture(void)
{
    g_autofree char *dir = g_dir_make_tmp("qvirt-domxml-XXXXXX", NULL);
    cr_assert(dir);
    static const char *const images[][3] = {
        { "qcow2", "disk.qcow2", "16M" }, { "raw", "disk.raw", "16M" }, { "raw", "disk2.raw", "8M" },
        { "raw", "cdrom.iso", "1M" }, { "raw", "floppy.img", "1440K" }, { "qcow2", "base.qcow2", "16M" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(images); i++) {
        g_autofree char *path = g_build_filename(dir, images[i][1], NULL);
        const char *argv[] = { "qemu-img", "create", "-q", "-f", images[i][0], path, images[i][2], NULL };
        cr_assert(run_tool(argv) == 0, "qemu-img create %s failed", path);
    }
    /* An overlay on base.qcow2 for backing-chain cases. */
    g_autofree char *base = g_build_filename(dir, "base.qcow2", NULL);
    g_autofree char *ov = g_build_filename(dir, "overlay.qcow2", NULL);
    const char *ovargv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", ov, NULL };
    cr_assert(run_tool(ovargv) == 0);
    g_autofree char *odd = g_build_filename(dir, "odd, name 'quoted'.raw", NULL);
    const char *oddargv[] = { "qemu-img", "create", "-q", "-f", "raw", odd, "1M", NULL };
    cr_assert(run_tool(oddargv) == 0);
    /* A header-only SLIC table for <os><acpi><table type='slic'>: QEMU
     * checks its length and checksum. */
    guint8 slic[36] = { 'S', 'L', 'I', 'C', 36, 0, 0, 0, 1, 0, 'Q', 'V', 'I', 'R', 'T', ' ',
                        'Q', 'V', 'I', 'R', 'T', 'S', 'L', 'C', 1, 0, 0, 0, 'Q', 'V', 'R', 'T', 1 };
    guint8 sum = 0;
    for (size_t i = 0; i < sizeof slic; i++)
        sum = (guint8)(sum + slic[i]);
    slic[9] = (guint8)(0x100 - sum);
    g_autofree char *slic_path = g_build_filename(dir, "slic.dat", NULL);
    cr_assert(g_file_set_contents(slic_path, (const char *)slic, sizeof slic, NULL));
    g_autofree char *shared = g_build_filename(dir, "shared", NULL);
    g_mkdir(shared, 0700);
    /* A kernel for direct-boot cases: the host's, if readable. */
    GDir *boot = g_dir_open("/boot", 0, NULL);
    const char *n;
    while (boot && (n = g_dir_read_name(boot))) {
        g_autofree char *src = g_build_filename("/boot", n, NULL);
        if (g_str_has_prefix(n, "vmlinuz-")) {
            g_autofree char *l = g_build_filename(dir, "vmlinuz", NULL);
            (void)!symlink(src, l);
        } else if (g_str_has_prefix(n, "initrd.img-")) {
            g_autofree char *l = g_build_filename(dir, "initrd.img", NULL);
            (void)!symlink(src, l);
        }
    }
    if (boot)
        g_dir_close(boot);
    return g_steal_pointer(&dir);
}

static int listen_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    cr_assert(listen(fd, 4) == 0);
    return fd;
}

static bool list_has_name(json_object *list, const char *key, const char *value, bool substring)
{
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        json_object *e = json_object_array_get_idx(list, i), *v = NULL;
        if (!json_object_object_get_ex(e, key, &v))
            continue;
        const char *s = json_object_get_string(v);
        if (s && (substring ? strstr(s, value) != NULL : !strcmp(s, value)))
            return true;
    }
    return false;
}

/* LUKS images (qcow2's own encryption and the luks format) whose
 * passphrase is the golden host's secret (qemu_secret_file); slow to make
 * (key derivation), so only for the cases that use them. */
static void make_luks_images(const char *dir)
{
    g_autofree char *lq = g_build_filename(dir, "luks.qcow2", NULL);
    g_autofree char *lr = g_build_filename(dir, "luks.img", NULL);
    if (g_file_test(lq, G_FILE_TEST_EXISTS) && g_file_test(lr, G_FILE_TEST_EXISTS))
        return;
    const char *lqargv[] = { "qemu-img", "create", "-q", "--object", "secret,id=sec0,data=qvirt-test",
                             "-f", "qcow2", "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10",
                             lq, "16M", NULL };
    const char *lrargv[] = { "qemu-img", "create", "-q", "--object", "secret,id=sec0,data=qvirt-test",
                             "-f", "luks", "-o", "key-secret=sec0,iter-time=10", lr, "16M", NULL };
    /* QEMU 7.2's key derivation timing fails now and then ("Unable to get
     * accurate CPU usage", a thread CPU clock read as 0): try again. */
    bool made = false;
    for (int tries = 0; !made && tries < 8; tries++)
        made = run_tool(lqargv) == 0 && run_tool(lrargv) == 0;
    cr_assert(made, "qemu-img could not make the LUKS images");
}

/* The golden host's secrets as a start passes them: a file QEMU reads,
 * base64 of the value ("qvirt-test", the LUKS images' passphrase). */
static char *qemu_secret_file(void *data, const char *usage_type, const char *usage,
                              const char *uuid, qv_error **err)
{
    g_autofree char *check = golden_secret_file(NULL, usage_type, usage, uuid, err);
    if (!check)
        return NULL;
    g_autofree char *b64 = g_base64_encode((const guchar *)"qvirt-test", 10);
    char *path = g_build_filename(data, "secret.b64", NULL);
    cr_assert(g_file_set_contents(path, b64, -1, NULL));
    return path;
}

/* x509 credentials for TLS chardevs (<source tls='yes'>) and SPICE's
 * TLS port (-spice x509-dir=), in the folder
 * layout QEMU's tls-creds-x509 reads: a CA, and a server and a client
 * certificate for 127.0.0.1 signed by it (certtool, from gnutls-bin).
 * False when certtool is missing. */
static bool make_x509(const char *dir)
{
    g_autofree char *pki = g_build_filename(dir, "pki", NULL);
    g_autofree char *done = g_build_filename(pki, "client-key.pem", NULL);
    if (g_file_test(done, G_FILE_TEST_EXISTS))
        return true;
    g_autofree char *certtool = g_find_program_in_path("certtool");
    if (!certtool)
        return false;
    g_mkdir_with_parents(pki, 0700);
    g_autofree char *why = NULL;
    cr_assert(qvt_make_x509(pki, &why), "%s", why);
    return true;
}

static char *json_str(const char *text, const char *key)
{
    g_autoptr(json_object) o = json_tokener_parse(text);
    json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return g_strdup(json_object_get_string(v));
}

/* The checks' QEMUs listen on the ports their XML names (SPICE's 5900,
 * ...): in a network namespace of the test process's own, with its
 * loopback up, they cannot meet another test's QEMU on the same port.
 * Where that is not allowed (not root), they share the host's. */
static void private_network(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    if (unshare(CLONE_NEWNET) < 0)
        return;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = { 0 };
    g_strlcpy(ifr.ifr_name, "lo", sizeof ifr.ifr_name);
    if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        cr_assert(ioctl(fd, SIOCSIFFLAGS, &ifr) == 0, "cannot bring up the loopback");
    }
    if (fd >= 0)
        close(fd);
}

qemu_start_result qemu_start_check(const char *name, const char *xml, const char *tmp,
                                   const qv_network_resolution *networks, unsigned int n_networks,
                                   GString *failures, char **message)
{
    private_network();
    if (!networks) {
        networks = golden_networks;
        n_networks = golden_n_networks;
    }
    if (strstr(xml, "/luks."))
        make_luks_images(tmp);
    g_auto(GStrv) parts = g_strsplit(xml, QEMU_START_FAKE_ROOT, -1);
    g_autofree char *mapped = g_strjoinv((char *)tmp, parts);

    g_autoptr(qv_domdef) def = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_domxml_parse(mapped, 0, &def, &err) < 0) {
        *message = g_strdup(qv_error_message(err));
        return QEMU_START_PARSE_FAILED;
    }
    g_autofree char *mon_path = g_build_filename(tmp, "mon.sock", NULL);
    unlink(mon_path);
    int mon = listen_unix(mon_path);
    qv_build_ctx ctx = { "qemu-system-x86_64", mon, -1, tmp, NULL, 0, networks, n_networks,
                         golden_firmware, golden_n_firmware, tmp, .scsi_generic = golden_scsi_generic,
                         .volume_path = golden_volume_path, .volume_data = (void *)tmp,
                         .secret_file = qemu_secret_file, .secret_data = (void *)tmp };
    g_autofree char *pki = g_build_filename(tmp, "pki", NULL);
    ctx.chardev_tls_x509_dir = pki;
    ctx.spice_tls_x509_dir = pki;
    ctx.spice_tls = golden_spice_tls(name);
    if (qv_domdef_firmware_autoselect(def)) {
        /* What lib/firmware.c does at start: the NVRAM from its template. */
        g_autoptr(qv_domdef) filled = qv_domdef_copy(def);
        g_autofree char *vars = NULL;
        gsize n = 0;
        if (qv_domdef_fill_firmware(filled, golden_firmware, golden_n_firmware, tmp, NULL) == 0 &&
            (!g_file_test(filled->os.loader, G_FILE_TEST_EXISTS) ||
             !g_file_get_contents(filled->os.nvram_template, &vars, &n, NULL))) {
            *message = g_strdup("the ovmf package is not installed");
            close(mon);
            return QEMU_START_SKIPPED;
        }
        if (vars && g_str_has_prefix(filled->os.nvram, tmp))
            cr_assert(g_file_set_contents(filled->os.nvram, vars, (gssize)n, NULL));
    }
    g_auto(GStrv) argv = NULL;
    if (qv_domxml_build_argv(def, &ctx, &argv, &err) < 0) {
        *message = g_strdup(qv_error_message(err));
        close(mon);
        return QEMU_START_BUILD_FAILED;
    }
    const char *reason = skip_reason(name, argv);
    if (reason) {
        *message = g_strdup(reason);
        close(mon);
        return QEMU_START_SKIPPED;
    }
    for (size_t i = 0; argv[i]; i++) {
        bool spice_tls = i > 0 && !strcmp(argv[i - 1], "-spice") && strstr(argv[i], ",x509-dir=");
        if ((strstr(argv[i], "\"tls-creds-x509\"") || spice_tls) && !make_x509(tmp)) {
            *message = g_strdup("needs certtool (gnutls-bin) to make x509 credentials for TLS");
            close(mon);
            return QEMU_START_SKIPPED;
        }
    }
    if (strstr(mapped, "/vmlinuz") && !g_file_test(g_build_filename(tmp, "vmlinuz", NULL), G_FILE_TEST_EXISTS)) {
        *message = g_strdup("no readable host kernel in /boot");
        close(mon);
        return QEMU_START_SKIPPED;
    }
    g_autofree char *log_path = g_build_filename(tmp, "qemu.log", NULL);
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = (const char *const *)argv;
    o.pass_fds = &mon;
    o.n_pass_fds = 1;
    o.stderr_fd = logfd;
    o.stdout_fd = logfd;
    g_autoptr(qv_process) proc = NULL;
    cr_assert(qv_process_spawn(&o, &proc, NULL) == 0);
    close(mon);
    close(logfd);

    g_autoptr(qv_qmp) qmp = NULL;
    if (qv_qmp_connect_path(mon_path, QV_QMP_MODE_QMP, 20000, &qmp, &err) < 0) {
        int st;
        qv_process_terminate(proc, 2000, &st, NULL);
        g_autofree char *log = NULL;
        g_file_get_contents(log_path, &log, NULL, NULL);
        g_string_append_printf(failures, "%s: QEMU refused the command line: %s\n", name, log ? log : "");
        return QEMU_START_OK;
    }
    g_autoptr(json_object) periph = NULL, blocks = NULL, chardevs = NULL, objects = NULL;
    json_object *args = json_object_new_object();
    json_object_object_add(args, "path", json_object_new_string("/machine/peripheral"));
    cr_assert(qv_qmp_call(qmp, "qom-list", args, 0, &periph, NULL) == 0);
    args = json_object_new_object();
    json_object_object_add(args, "path", json_object_new_string("/objects"));
    cr_assert(qv_qmp_call(qmp, "qom-list", args, 0, &objects, NULL) == 0);
    cr_assert(qv_qmp_call(qmp, "query-block", NULL, 0, &blocks, NULL) == 0);
    cr_assert(qv_qmp_call(qmp, "query-chardev", NULL, 0, &chardevs, NULL) == 0);
    for (size_t i = 0; argv[i] && argv[i + 1]; i++) {
        if (!strcmp(argv[i], "-device")) {
            g_autofree char *id = json_str(argv[i + 1], "id");
            if (id && !list_has_name(periph, "name", id, false))
                g_string_append_printf(failures, "%s: device %s missing from /machine/peripheral\n", name, id);
            g_autofree char *drive = json_str(argv[i + 1], "drive");
            if (id && drive && !list_has_name(blocks, "qdev", id, true))
                g_string_append_printf(failures, "%s: disk %s missing from query-block\n", name, id);
        } else if (!strcmp(argv[i], "-object") && strstr(argv[i + 1], "\"tls-creds-x509\"")) {
            /* The credentials loaded (QEMU checks them as it makes the object). */
            g_autofree char *id = json_str(argv[i + 1], "id");
            if (id && !list_has_name(objects, "name", id, false))
                g_string_append_printf(failures, "%s: object %s missing from /objects\n", name, id);
        } else if (!strcmp(argv[i], "-spice") && strstr(argv[i + 1], "tls-port=")) {
            /* QEMU loaded the credentials of x509-dir (it exits where it
             * cannot) and listens on the TLS port. */
            const char *p = strstr(argv[i + 1], "tls-port=") + strlen("tls-port=");
            g_autoptr(json_object) spice = NULL;
            json_object *v = NULL;
            cr_assert(qv_qmp_call(qmp, "query-spice", NULL, 0, &spice, NULL) == 0);
            if (!json_object_object_get_ex(spice, "tls-port", &v) ||
                json_object_get_int(v) != (int)g_ascii_strtoll(p, NULL, 10))
                g_string_append_printf(failures, "%s: query-spice has no tls-port %d: %s\n", name,
                                       (int)g_ascii_strtoll(p, NULL, 10),
                                       json_object_to_json_string(spice));
        } else if (!strcmp(argv[i], "-chardev")) {
            const char *p = strstr(argv[i + 1], "id=");
            g_autofree char *id = p ? g_strndup(p + 3, strcspn(p + 3, ",")) : NULL;
            if (id && !list_has_name(chardevs, "label", id, false))
                g_string_append_printf(failures, "%s: chardev %s missing from query-chardev\n", name, id);
        }
    }
    qv_qmp_call(qmp, "quit", NULL, 5000, NULL, NULL);
    int status = 0;
    if (qv_process_wait(proc, 10000, &status, NULL) < 0)
        qv_process_terminate(proc, 2000, &status, NULL);
    return QEMU_START_OK;
}

void qemu_start_fixture_remove(const char *dir)
{
    const char *rmargv[] = { "rm", "-rf", dir, NULL };
    run_tool(rmargv);
}

bool qemu_start_available(void)
{
    g_autofree char *q = g_find_program_in_path("qemu-system-x86_64");
    g_autofree char *i = g_find_program_in_path("qemu-img");
    return q && i;
}

