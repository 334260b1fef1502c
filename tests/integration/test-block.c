/* Disks and interfaces of the test guest: block statistics growing with
 * writes the guest makes (through the agent), block_peek reading back the
 * guest's bytes, block_resize seen in the guest's /sys/block, I/O limits
 * read back from QEMU (BlockBackend and throttle-group disks), memory_peek,
 * disk errors from a full host file system, tap counters counting frames the
 * host sends, tc rules from bandwidth limits, and the virsh-style commands. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"
#include "qmp.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_conn, qv_conn_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_domain, qv_domain_free)

static itest T;
static char *small_mount;
static void setup(void) { itest_setup(&T); }
static void teardown(void)
{
    if (small_mount) {
        const char *argv[] = { "umount", "-l", small_mount, NULL };
        g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                     G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    }
    itest_teardown(&T);
}

TestSuite(block, .init = setup, .fini = teardown, .timeout = 240);

/* A check this machine cannot make, said on stderr (Criterion's warnings
 * would turn the run into a failure). */
#define NOTE(...) (fprintf(stderr, "test-block: note: " __VA_ARGS__), fputc('\n', stderr))
#define MIB (1024ULL * 1024)

/* ---- helpers -------------------------------------------------------------- */

static qv_domain *start(qv_conn *conn, const char *name, const char *extra)
{
    g_autofree char *xml = itest_domain_xml(&T, name, extra);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = qv_conn_define_domain(conn, xml, 0, &dom, &err);
    cr_assert_eq(r, 0, "define: %s", err ? qv_error_message(err) : "?");
    r = qv_domain_create(dom, 0, &err);
    cr_assert_eq(r, 0, "start: %s", err ? qv_error_message(err) : "?");
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", 60000), "the guest did not boot");
    return dom;
}

static void destroy(qv_domain *dom)
{
    qv_error *err = NULL;
    int r = qv_domain_destroy(dom, 0, &err);
    cr_assert_eq(r, 0, "destroy: %s", err ? qv_error_message(err) : "?");
}




static char *guest_ok(qv_qmp *ga, const char *script)
{
    int code;
    char *out = itest_guest_run(ga, script, &code);
    cr_assert_eq(code, 0, "guest command failed (%d): %s\n%s", code, script, out);
    return g_strchomp(out);
}

#define CLI_OK(...) ITEST_CLI_OK(&T, __VA_ARGS__)

/* Runs a host program (test only); returns stdout or NULL on failure. */
static char *host_run(const char *const *argv)
{
    char *out = NULL;
    int st = 0;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &st, NULL))
        return NULL;
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        g_free(out);
        return NULL;
    }
    return out;
}

static void make_file(const char *path, off_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, size), 0);
    close(fd);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The guest's block device name of the disk with this serial. */
static char *guest_disk(qv_qmp *ga, const char *serial)
{
    g_autofree char *script = g_strdup_printf(
        "for d in /sys/block/vd*; do [ \"$(cat $d/serial 2>/dev/null)\" = %s ] && "
        "echo ${d##*/}; done; true", serial);
    char *name = guest_ok(ga, script);
    cr_assert(*name, "the guest has no disk with serial %s", serial);
    return name;
}

static unsigned long long guest_sectors(qv_qmp *ga, const char *dev)
{
    g_autofree char *script = g_strdup_printf("cat /sys/block/%s/size", dev);
    g_autofree char *out = guest_ok(ga, script);
    return g_ascii_strtoull(out, NULL, 10);
}

#define PATTERN "QVIRT-BLOCK-PEEK-0123456789abcdef"

static char *disk_xml(const char *path, const char *fmt, const char *dev, const char *serial,
                      const char *more)
{
    return g_strdup_printf("    <disk type='file' device='disk'><driver name='qemu' type='%s'%s/>"
                           "<source file='%s'/><target dev='%s' bus='virtio'/>"
                           "<serial>%s</serial>%s</disk>\n",
                           fmt, strstr(more, "stop") ? " error_policy='stop'" : "",
                           path, dev, serial, strstr(more, "<iotune>") ? more : "");
}

/* ---- shut off domains: sizes, raw reads and config-only settings ---------- */

Test(block, shutoff)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *raw = g_build_filename(T.root, "data.img", NULL);
    g_autofree char *qcow = g_build_filename(T.root, "data.qcow2", NULL);
    make_file(raw, 16 * MIB);
    /* The host writes bytes the peek must find. */
    int fd = open(raw, O_WRONLY | O_CLOEXEC);
    cr_assert_eq(pwrite(fd, PATTERN, strlen(PATTERN), 3 * MIB), (ssize_t)strlen(PATTERN));
    close(fd);
    const char *qimg[] = { "qemu-img", "create", "-q", "-f", "qcow2", qcow, "64M", NULL };
    g_autofree char *qout = host_run(qimg);
    cr_assert_not_null(qout, "qemu-img create failed");
    g_autofree char *d1 = disk_xml(raw, "raw", "vdb", "qvdata", "");
    g_autofree char *d2 = disk_xml(qcow, "qcow2", "vdc", "qvqcow", "");
    g_autofree char *extra = g_strconcat(d1, d2, "    <interface type='user'>"
                                         "<mac address='52:54:00:12:34:56'/>"
                                         "<model type='virtio'/></interface>\n", NULL);
    g_autofree char *xml = itest_domain_xml(&T, "blk-off", extra);
    g_autoptr(qv_domain) dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);

    qv_block_info bi;
    itest_ok(qv_domain_get_block_info(dom, "vdb", &bi, 0, &err), err);
    cr_expect_eq(bi.capacity, 16 * MIB);
    cr_expect_eq(bi.physical, 16 * MIB);
    cr_expect_leq(bi.allocation, 16 * MIB);
    itest_ok(qv_domain_get_block_info(dom, qcow, &bi, 0, &err), err);  /* by source path */
    cr_expect_eq(bi.capacity, 64 * MIB, "qcow2 virtual size %llu", bi.capacity);
    cr_expect_lt(bi.physical, 64 * MIB);

    char buf[64] = "";
    itest_ok(qv_domain_block_peek(dom, "vdb", 3 * MIB, strlen(PATTERN), buf, 0, &err), err);
    cr_expect_arr_eq(buf, PATTERN, strlen(PATTERN));
    cr_expect_eq(qv_domain_block_peek(dom, "vdb", 16 * MIB - 4, 8, buf, 0, &err), -EINVAL);
    cr_expect(strstr(qv_error_message(err), "beyond the end"), "%s", qv_error_message(err));
    g_clear_pointer(&err, qv_error_free);
    cr_expect_eq(qv_domain_block_peek(dom, "vdc", 0, 8, buf, 0, &err), -EOPNOTSUPP);
    g_clear_pointer(&err, qv_error_free);
    cr_expect_eq(qv_domain_block_peek(dom, "vdz", 0, 8, buf, 0, &err), -ENOENT);
    cr_expect(strstr(qv_error_message(err), "no disk 'vdz'"), "%s", qv_error_message(err));
    g_clear_pointer(&err, qv_error_free);

    /* Running-only calls say so. */
    qv_block_stats bs;
    cr_expect_eq(qv_domain_block_stats(dom, "vdb", &bs, 0, &err), -EINVAL);
    cr_expect(strstr(qv_error_message(err), "not running"), "%s", qv_error_message(err));
    g_clear_pointer(&err, qv_error_free);
    cr_expect_eq(qv_domain_memory_peek(dom, 0, 16, buf, QV_MEMORY_PHYSICAL, &err), -EINVAL);
    g_clear_pointer(&err, qv_error_free);
    cr_expect_eq(qv_domain_memory_peek(dom, 0, 16, buf, 0, &err), -EINVAL);
    g_clear_pointer(&err, qv_error_free);

    /* iotune into the config (CURRENT on a shut off domain). */
    qv_block_iotune t = { .fields = QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC | QV_BLOCK_IOTUNE_READ_IOPS_SEC,
                          .total_bytes_sec = MIB, .read_iops_sec = 300 };
    itest_ok(qv_domain_set_block_iotune(dom, "vdb", &t, 0, &err), err);
    qv_block_iotune got;
    itest_ok(qv_domain_get_block_iotune(dom, "vdb", &got, QV_DOMAIN_AFFECT_CONFIG, &err), err);
    cr_expect_eq(got.total_bytes_sec, MIB);
    cr_expect_eq(got.read_iops_sec, 300);
    cr_expect_eq(got.write_bytes_sec, 0);
    qv_block_iotune_clear(&got);
    t = (qv_block_iotune){ .fields = QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC | QV_BLOCK_IOTUNE_READ_BYTES_SEC,
                           .total_bytes_sec = 1, .read_bytes_sec = 1 };
    cr_expect_eq(qv_domain_set_block_iotune(dom, "vdb", &t, 0, &err), -EINVAL);
    cr_expect(strstr(qv_error_message(err), "at the same time"), "%s", qv_error_message(err));
    g_clear_pointer(&err, qv_error_free);
    t = (qv_block_iotune){ .fields = QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX |
                                     QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX_LENGTH,
                           .total_bytes_sec_max = 2 * MIB, .total_bytes_sec_max_length = 5 };
    cr_expect_eq(qv_domain_set_block_iotune(dom, "vdb", &t, QV_DOMAIN_AFFECT_CONFIG, &err),
                 -EOPNOTSUPP);
    g_clear_pointer(&err, qv_error_free);
    cr_expect_eq(qv_domain_set_block_iotune(dom, "vdb", &t, QV_DOMAIN_AFFECT_LIVE, &err), -EINVAL);
    cr_expect(strstr(qv_error_message(err), "not running"), "%s", qv_error_message(err));
    g_clear_pointer(&err, qv_error_free);

    /* Bandwidth into the config. */
    qv_interface_bandwidth bw = { .fields = QV_INTERFACE_BANDWIDTH_IN_AVERAGE |
                                            QV_INTERFACE_BANDWIDTH_IN_BURST |
                                            QV_INTERFACE_BANDWIDTH_OUT_AVERAGE,
                                  .inbound_average = 1000, .inbound_burst = 256,
                                  .outbound_average = 500 };
    itest_ok(qv_domain_set_interface_parameters(dom, "52:54:00:12:34:56", &bw, 0, &err), err);
    qv_interface_bandwidth gb;
    itest_ok(qv_domain_get_interface_parameters(dom, "net0", &gb, 0, &err), err);
    cr_expect_eq(gb.inbound_average, 1000);
    cr_expect_eq(gb.inbound_burst, 256);
    cr_expect_eq(gb.outbound_average, 500);
    cr_expect_eq(gb.fields, QV_INTERFACE_BANDWIDTH_ALL);
    bw = (qv_interface_bandwidth){ .fields = QV_INTERFACE_BANDWIDTH_IN_FLOOR, .inbound_floor = 5 };
    cr_expect_eq(qv_domain_set_interface_parameters(dom, "net0", &bw, 0, &err), -EOPNOTSUPP);
    g_clear_pointer(&err, qv_error_free);
    char *cfg = NULL;
    itest_ok(qv_domain_get_xml_description(dom, QV_DOMAIN_XML_INACTIVE, &cfg, &err), err);
    cr_expect(strstr(cfg, "<total_bytes_sec>1048576</total_bytes_sec>"), "%s", cfg);
    cr_expect(strstr(cfg, "<read_iops_sec>300</read_iops_sec>"), "%s", cfg);
    cr_expect(strstr(cfg, "<inbound average='1000' burst='256'/>"), "%s", cfg);
    cr_expect(strstr(cfg, "<outbound average='500'/>"), "%s", cfg);
    free(cfg);

    /* The commands. */
    g_autofree char *list = CLI_OK("domblklist", "blk-off");
    cr_expect(g_str_has_prefix(list, " Target   Source\n---"), "%s", list);
    g_autofree char *row = g_strdup_printf("\n vdb      %s\n vdc      %s\n", raw, qcow);
    cr_expect(strstr(list, row), "%s", list);
    g_autofree char *info = CLI_OK("domblkinfo", "blk-off", "vdb");
    cr_expect(g_str_has_prefix(info, "Capacity:       16777216\nAllocation:     "), "%s", info);
    cr_expect(strstr(info, "\nPhysical:       16777216\n"), "%s", info);
    g_autofree char *human = CLI_OK("domblkinfo", "blk-off", "vdc", "--human");
    cr_expect(g_str_has_prefix(human, "Capacity:       64.000 MiB\n"), "%s", human);
    g_autofree char *tune = CLI_OK("blkdeviotune", "blk-off", "vdb");
    cr_expect(g_str_has_prefix(tune, "total_bytes_sec: 1048576\nread_bytes_sec : 0\n"), "%s", tune);
    cr_expect(strstr(tune, "\nread_iops_sec  : 300\n"), "%s", tune);
    g_free(CLI_OK("blkdeviotune", "blk-off", "vdb", "--write-bytes-sec", "2M", "--config"));
    g_autofree char *tj = CLI_OK("blkdeviotune", "blk-off", "vdb", "--json");
    g_autoptr(json_object) tjo = json_tokener_parse(tj);
    json_object *v;
    cr_assert(json_object_object_get_ex(tjo, "write_bytes_sec", &v), "%s", tj);
    cr_expect_eq(json_object_get_int64(v), 2 * MIB);
    cr_expect(json_object_object_get_ex(tjo, "total_bytes_sec", &v) && json_object_get_int64(v) == 0,
              "a read/write limit clears the total one: %s", tj);
    g_autofree char *iflist = CLI_OK("domiflist", "blk-off");
    cr_expect_str_eq(iflist, " Interface   Type   Source   Model    MAC\n"
                             "---------------------------------------------------------\n"
                             " -           user   -        virtio   52:54:00:12:34:56\n\n");
    g_autofree char *iftune = CLI_OK("domiftune", "blk-off", "net0");
    cr_expect_str_eq(iftune, "inbound.average: 1000\ninbound.peak   : 0\ninbound.burst  : 256\n"
                             "inbound.floor  : 0\noutbound.average: 500\noutbound.peak  : 0\n"
                             "outbound.burst : 0\n\n");
    g_free(CLI_OK("domiftune", "blk-off", "net0", "--inbound", "0", "--config"));
    g_autofree char *iftune2 = CLI_OK("domiftune", "blk-off", "net0", "--json");
    g_autoptr(json_object) ifj = json_tokener_parse(iftune2);
    cr_expect(json_object_object_get_ex(ifj, "inbound.average", &v) && json_object_get_int64(v) == 0,
              "%s", iftune2);
    cr_expect(json_object_object_get_ex(ifj, "outbound.average", &v) && json_object_get_int64(v) == 500,
              "%s", iftune2);
    int st;
    g_autofree char *bad = ITEST_CLI(&T, &st, "domblkstat", "blk-off", "vdb");
    cr_expect_neq(st, 0, "domblkstat on a shut off domain must fail");
}

/* ---- a running guest's disks ------------------------------------------------ */

static bool wait_sectors(qv_qmp *ga, const char *dev, unsigned long long want)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < deadline) {
        if (guest_sectors(ga, dev) == want)
            return true;
        poll(NULL, 0, 100);
    }
    return false;
}

/* The query-block entry whose inserted.bps is want (proof QEMU holds it). */
static bool qemu_has_bps(qv_domain *dom, long long want)
{
    char *reply = NULL;
    qv_error *err = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\":\"query-block\"}", &reply, 0, &err),
             err);
    g_autoptr(json_object) o = json_tokener_parse(reply);
    free(reply);
    json_object *ret, *ins, *bps;
    bool found = false;
    if (json_object_object_get_ex(o, "return", &ret))
        for (size_t i = 0; i < json_object_array_length(ret); i++)
            if (json_object_object_get_ex(json_object_array_get_idx(ret, i), "inserted", &ins) &&
                json_object_object_get_ex(ins, "bps", &bps) && json_object_get_int64(bps) == want)
                found = true;
    return found;
}

static long long qom_limit(qv_domain *dom, const char *object, const char *key)
{
    g_autofree char *cmd = g_strdup_printf("{\"execute\":\"qom-get\",\"arguments\":{\"path\":"
                                           "\"/objects/%s\",\"property\":\"limits\"}}", object);
    char *reply = NULL;
    qv_error *err = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, cmd, &reply, 0, &err), err);
    g_autoptr(json_object) o = json_tokener_parse(reply);
    free(reply);
    json_object *ret, *v;
    return json_object_object_get_ex(o, "return", &ret) && json_object_object_get_ex(ret, key, &v)
               ? json_object_get_int64(v) : -1;
}

/* A 1 MiB tmpfs for a disk that runs out of host space; NULL when this
 * machine cannot mount one (not root). */
static char *mount_small_fs(void)
{
    if (geteuid() != 0)
        return NULL;
    char *dir = g_build_filename(T.root, "small", NULL);
    mkdir(dir, 0700);
    const char *argv[] = { "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir, NULL };
    g_autofree char *out = host_run(argv);
    if (!out) {
        g_free(dir);
        return NULL;
    }
    return dir;
}

Test(block, running_disks)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *sys = g_build_filename(T.root, "sys.img", NULL);
    g_autofree char *data = g_build_filename(T.root, "data.img", NULL);
    make_file(sys, 1 * MIB);
    make_file(data, 16 * MIB);
    g_autofree char *d0 = disk_xml(sys, "raw", "vda", "qvsys",
                                   "<iotune><total_bytes_sec>20971520</total_bytes_sec></iotune>");
    g_autofree char *d1 = disk_xml(data, "raw", "vdb", "qvdata", "");
    small_mount = mount_small_fs();
    g_autofree char *full = small_mount ? g_build_filename(small_mount, "full.img", NULL) : NULL;
    g_autofree char *d2 = NULL;
    if (full) {
        make_file(full, 8 * MIB);
        d2 = disk_xml(full, "raw", "vdc", "qvfull", "stop");
    } else {
        NOTE("no tmpfs can be mounted here (not root): the out-of-space check is skipped");
    }
    g_autofree char *extra = g_strconcat(d0, d1, d2 ? d2 : "", NULL);
    g_autoptr(qv_domain) dom = start(conn, "blk-run", extra);
    qv_qmp *ga = itest_agent_open(&T, "blk-run");
    qv_error *err = NULL;
    g_autofree char *gdata = guest_disk(ga, "qvdata");

    /* Writes and reads the guest makes show in the statistics. */
    qv_block_stats s0, s1;
    itest_ok(qv_domain_block_stats(dom, "vdb", &s0, 0, &err), err);
    g_autofree char *wr = g_strdup_printf("printf %s | dd of=/dev/%s bs=%d seek=1 conv=notrunc,fsync "
                                          "2>/dev/null && echo 3 > /proc/sys/vm/drop_caches && "
                                          "dd if=/dev/%s of=/dev/null bs=65536 count=8 2>/dev/null",
                                          PATTERN, gdata, (int)(5 * MIB), gdata);
    g_free(guest_ok(ga, wr));
    itest_ok(qv_domain_block_stats(dom, "vdb", &s1, 0, &err), err);
    cr_expect_gt(s1.wr_req, s0.wr_req, "wr_req %lld -> %lld", s0.wr_req, s1.wr_req);
    cr_expect_geq(s1.wr_bytes - s0.wr_bytes, (long long)strlen(PATTERN));
    cr_expect_gt(s1.flush_operations, s0.flush_operations);
    cr_expect_geq(s1.rd_bytes - s0.rd_bytes, 8 * 65536, "rd_bytes %lld -> %lld", s0.rd_bytes,
                  s1.rd_bytes);
    cr_expect_gt(s1.wr_total_times, 0);
    cr_expect_eq(s1.errs, 0);
    qv_block_stats all;
    itest_ok(qv_domain_block_stats(dom, NULL, &all, 0, &err), err);
    cr_expect_geq(all.wr_bytes, s1.wr_bytes);
    cr_expect_eq(qv_domain_block_stats(dom, "vdq", &all, 0, &err), -ENOENT);
    g_clear_pointer(&err, qv_error_free);

    /* The bytes the guest wrote, read from the host side. */
    char buf[64] = "";
    itest_ok(qv_domain_block_peek(dom, data, 5 * MIB, strlen(PATTERN), buf, 0, &err), err);
    cr_expect_arr_eq(buf, PATTERN, strlen(PATTERN));
    g_autofree char *big = g_malloc(QV_DOMAIN_PEEK_MAX + 1);
    cr_expect_eq(qv_domain_block_peek(dom, "vdb", 0, QV_DOMAIN_PEEK_MAX + 1, big, 0, &err), -EINVAL);
    g_clear_pointer(&err, qv_error_free);

    /* Resizing: the guest's capacity follows. */
    qv_block_info bi;
    itest_ok(qv_domain_get_block_info(dom, "vdb", &bi, 0, &err), err);
    cr_expect_eq(bi.capacity, 16 * MIB);
    cr_expect_gt(bi.allocation, 0);
    g_autofree char *rs = CLI_OK("blockresize", "blk-run", "vdb", "32M");
    cr_expect_str_eq(rs, "Block device 'vdb' is resized\n\n");
    cr_expect(wait_sectors(ga, gdata, 32 * MIB / 512), "the guest sees %llu sectors",
              guest_sectors(ga, gdata));
    itest_ok(qv_domain_block_resize(dom, "vdb", 40 * 1024, 0, &err), err);  /* KiB */
    cr_expect(wait_sectors(ga, gdata, 40 * MIB / 512), "the guest sees %llu sectors",
              guest_sectors(ga, gdata));
    itest_ok(qv_domain_get_block_info(dom, "vdb", &bi, 0, &err), err);
    cr_expect_eq(bi.capacity, 40 * MIB);
    cr_expect_eq(bi.physical, 40 * MIB);
    cr_expect_eq(file_size(data), (long long)(40 * MIB));

    /* I/O limits on a BlockBackend (vdb has no <iotune>). */
    qv_block_iotune t;
    itest_ok(qv_domain_get_block_iotune(dom, "vdb", &t, 0, &err), err);
    cr_expect_eq(t.total_bytes_sec, 0);
    cr_expect_eq(t.fields, QV_BLOCK_IOTUNE_ALL);
    qv_block_iotune_clear(&t);
    t = (qv_block_iotune){ .fields = QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC | QV_BLOCK_IOTUNE_TOTAL_IOPS_SEC |
                                     QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX |
                                     QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX_LENGTH,
                           .total_bytes_sec = 10 * MIB, .total_iops_sec = 1000,
                           .total_bytes_sec_max = 20 * MIB, .total_bytes_sec_max_length = 10 };
    itest_ok(qv_domain_set_block_iotune(dom, "vdb", &t, QV_DOMAIN_AFFECT_LIVE, &err), err);
    cr_expect(qemu_has_bps(dom, 10 * MIB), "QEMU's query-block has no bps of 10 MiB/s");
    qv_block_iotune got;
    itest_ok(qv_domain_get_block_iotune(dom, "vdb", &got, 0, &err), err);
    cr_expect_eq(got.total_bytes_sec, 10 * MIB);
    cr_expect_eq(got.total_iops_sec, 1000);
    cr_expect_eq(got.total_bytes_sec_max, 20 * MIB);
    cr_expect_eq(got.total_bytes_sec_max_length, 10);
    qv_block_iotune_clear(&got);
    t = (qv_block_iotune){ .fields = QV_BLOCK_IOTUNE_READ_BYTES_SEC, .read_bytes_sec = 5 * MIB };
    cr_expect_eq(qv_domain_set_block_iotune(dom, "vdb", &t, 0, &err), -EINVAL,
                 "total_bytes_sec_max without total_bytes_sec must be refused");
    g_clear_pointer(&err, qv_error_free);
    t.fields |= QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX | QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX_LENGTH;
    itest_ok(qv_domain_set_block_iotune(dom, "vdb", &t, 0, &err), err);
    g_autofree char *tune = CLI_OK("blkdeviotune", "blk-run", "vdb", "--live");
    cr_expect(g_str_has_prefix(tune, "total_bytes_sec: 0\nread_bytes_sec : 5242880\n"
                                     "write_bytes_sec: 0\ntotal_iops_sec : 1000\n"), "%s", tune);
    char *live = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &live, &err), err);
    cr_expect(strstr(live, "<read_bytes_sec>5242880</read_bytes_sec>"), "%s", live);
    free(live);
    /* The live XML has <iotune> now, but QEMU has no throttle filter over
     * vdb: a resize still finds the disk's root node. */
    itest_ok(qv_domain_block_resize(dom, "vdb", 48 * 1024, 0, &err), err);
    cr_expect(wait_sectors(ga, gdata, 48 * MIB / 512), "the guest sees %llu sectors",
              guest_sectors(ga, gdata));

    /* I/O limits of a disk started with <iotune>: its throttle group. */
    itest_ok(qv_domain_get_block_iotune(dom, "vda", &got, 0, &err), err);
    cr_expect_eq(got.total_bytes_sec, 20 * MIB);
    qv_block_iotune_clear(&got);
    g_free(CLI_OK("blkdeviotune", "blk-run", "vda", "--total-iops-sec", "500"));
    cr_expect_eq(qom_limit(dom, "throttle-virtio-disk0", "iops-total"), 500);
    cr_expect_eq(qom_limit(dom, "throttle-virtio-disk0", "bps-total"), 20 * MIB);
    itest_ok(qv_domain_get_block_iotune(dom, "vda", &got, 0, &err), err);
    cr_expect_eq(got.total_iops_sec, 500);
    cr_expect_eq(got.total_bytes_sec, 20 * MIB);
    qv_block_iotune_clear(&got);

    /* Guest memory: the BIOS area reads the same twice. */
    g_autofree unsigned char *m1 = g_malloc(4096), *m2 = g_malloc(4096);
    itest_ok(qv_domain_memory_peek(dom, 0xf0000, 4096, m1, QV_MEMORY_PHYSICAL, &err), err);
    itest_ok(qv_domain_memory_peek(dom, 0xf0000, 4096, m2, QV_MEMORY_PHYSICAL, &err), err);
    cr_expect_arr_eq(m1, m2, 4096);
    bool nonzero = false;
    for (int i = 0; i < 4096; i++)
        nonzero = nonzero || m1[i];
    cr_expect(nonzero, "the BIOS area read as zeros");
    g_autofree char *stext = guest_ok(ga, "grep -m1 ' _stext$' /proc/kallsyms | cut -d' ' -f1");
    unsigned long long va = g_ascii_strtoull(stext, NULL, 16);
    if (va) {
        itest_ok(qv_domain_memory_peek(dom, va, 64, m1, QV_MEMORY_VIRTUAL, &err), err);
        itest_ok(qv_domain_memory_peek(dom, va, 64, m2, QV_MEMORY_VIRTUAL, &err), err);
        cr_expect_arr_eq(m1, m2, 64);
    } else {
        NOTE("the guest hides kernel addresses: the virtual memory_peek read is skipped");
    }
    cr_expect_lt(qv_domain_memory_peek(dom, 0, 16, m1, QV_MEMORY_VIRTUAL, &err), 0,
                 "address 0 is not mapped");
    g_clear_pointer(&err, qv_error_free);

    /* The commands on a running domain. */
    g_autofree char *st = CLI_OK("domblkstat", "blk-run", "vdb");
    cr_expect(g_str_has_prefix(st, "vdb rd_req "), "%s", st);
    cr_expect(strstr(st, "\nvdb wr_bytes "), "%s", st);
    cr_expect(strstr(st, "\nvdb flush_total_times "), "%s", st);
    g_autofree char *sth = CLI_OK("domblkstat", "blk-run", "vdb", "--human");
    cr_expect(g_str_has_prefix(sth, "vdb number of read operations:      "), "%s", sth);
    g_autofree char *sta = CLI_OK("domblkstat", "blk-run");
    cr_expect(g_str_has_prefix(sta, " rd_req "), "%s", sta);
    g_autofree char *det = CLI_OK("domblklist", "blk-run", "--details");
    cr_expect(g_str_has_prefix(det, " Type   Device   Target   Source\n"), "%s", det);
    g_autofree char *detrow = g_strdup_printf(" file   disk     vdb      %s\n", data);
    cr_expect(strstr(det, detrow), "%s", det);
    g_autofree char *allinfo = CLI_OK("domblkinfo", "blk-run", "--all");
    cr_expect(g_str_has_prefix(allinfo, " Target   Capacity   Allocation   Physical\n"), "%s", allinfo);
    cr_expect(strstr(allinfo, "\n vdb      50331648   "), "%s", allinfo);

    /* Disk errors: none yet, then a host file system that fills up. */
    cr_expect_eq(qv_domain_get_disk_errors(dom, NULL, 0, 0, &err), full ? 3 : 2);
    qv_disk_error de[4];
    cr_expect_eq(qv_domain_get_disk_errors(dom, de, 4, 0, &err), 0);
    g_autofree char *noerr = CLI_OK("domblkerror", "blk-run");
    cr_expect_str_eq(noerr, "No errors found\n\n");
    if (full) {
        g_autofree char *gfull = guest_disk(ga, "qvfull");
        g_autofree char *fill = g_strdup_printf("dd if=/dev/urandom of=/dev/%s bs=65536 count=64 "
                                                "conv=fsync", gfull);
        itest_guest_spawn(ga, fill);
        int reason = -1;
        cr_assert_eq(itest_wait_state(dom, QV_DOMAIN_PAUSED, 30000, &reason), QV_DOMAIN_PAUSED,
                     "the guest did not pause on the full disk");
        cr_expect_eq(reason, QV_DOMAIN_PAUSED_IOERROR);
        int n = qv_domain_get_disk_errors(dom, de, 4, 0, &err);
        cr_assert_eq(n, 1, "disk errors: %d", n);
        cr_expect_str_eq(de[0].disk, "vdc");
        cr_expect_eq(de[0].error, QV_DOMAIN_DISK_ERROR_NO_SPACE);
        free(de[0].disk);
        g_autofree char *errs = CLI_OK("domblkerror", "blk-run");
        cr_expect_str_eq(errs, "vdc: no space\n\n");
    }
    qv_qmp_free(ga);
    destroy(dom);
}

/* ---- a tap interface ------------------------------------------------------- */

/* Sends count broadcast frames of len bytes out of the host device ifname
 * (into the guest). */
static void send_frames(const char *ifname, int count, size_t len)
{
    int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    cr_assert_geq(s, 0, "packet socket: %s", strerror(errno));
    struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(ifname),
                              .sll_halen = 6 };
    cr_assert_gt(to.sll_ifindex, 0);
    memset(to.sll_addr, 0xff, 6);
    g_autofree unsigned char *frame = g_malloc0(len);
    memset(frame, 0xff, 6);                                       /* broadcast */
    memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6);
    frame[12] = 0x88, frame[13] = 0xb5;                           /* local experimental */
    for (int i = 0; i < count; i++)
        cr_assert_eq(sendto(s, frame, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len,
                     "sendto %s: %s", ifname, strerror(errno));
    close(s);
}

static char *tc_show(const char *what, const char *dev, const char *parent)
{
    const char *argv[] = { "tc", what, "show", "dev", dev, parent ? "parent" : NULL, parent, NULL };
    char *out = host_run(argv);
    cr_assert_not_null(out, "tc %s show dev %s failed", what, dev);
    return out;
}

Test(block, tap_interface)
{
    if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0)
        cr_skip_test("a tap device needs root and /dev/net/tun");
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *tap = g_strdup_printf("qvb%d", (int)(getpid() % 100000));
    g_autofree char *extra = g_strdup_printf(
        "    <interface type='ethernet'><mac address='52:54:00:ab:cd:01'/>"
        "<target dev='%s'/><model type='virtio'/></interface>\n"
        "    <interface type='user'><mac address='52:54:00:ab:cd:02'/>"
        "<model type='virtio'/></interface>\n", tap);
    g_autoptr(qv_domain) dom = start(conn, "blk-net", extra);
    qv_qmp *ga = itest_agent_open(&T, "blk-net");
    qv_error *err = NULL;
    const char *up[] = { "ip", "link", "set", tap, "up", NULL };
    g_autofree char *upout = host_run(up);
    cr_assert_not_null(upout, "ip link set %s up failed", tap);
    g_free(guest_ok(ga, "for n in /sys/class/net/*; do [ \"$(cat $n/address)\" = 52:54:00:ab:cd:01 ]"
                        " && ip link set ${n##*/} up && ip addr add 192.0.2.2/24 dev ${n##*/}; "
                        "done; true"));

    qv_interface_stats s0, s1;
    itest_ok(qv_domain_interface_stats(dom, tap, &s0, &err), err);
    send_frames(tap, 5, 128);
    int code;
    g_free(itest_guest_run(ga, "ping -c 2 -W 1 192.0.2.1", &code));  /* ARP from the guest */
    itest_ok(qv_domain_interface_stats(dom, "52:54:00:AB:CD:01", &s1, &err), err);
    cr_expect_geq(s1.rx_packets - s0.rx_packets, 5, "guest rx_packets %lld -> %lld", s0.rx_packets,
                  s1.rx_packets);
    cr_expect_geq(s1.rx_bytes - s0.rx_bytes, 5 * 128);
    cr_expect_gt(s1.tx_packets, s0.tx_packets, "guest tx_packets %lld -> %lld", s0.tx_packets,
                 s1.tx_packets);
    cr_expect_geq(s1.tx_errs, 0);

    cr_expect_eq(qv_domain_interface_stats(dom, "52:54:00:ab:cd:02", &s1, &err), -EOPNOTSUPP);
    cr_expect_str_eq(qv_error_message(err), "interface net1 uses user-mode networking, which has "
                     "no host device to read statistics from");
    g_clear_pointer(&err, qv_error_free);

    g_autofree char *st = CLI_OK("domifstat", "blk-net", tap);
    g_autofree char *prefix = g_strdup_printf("%s rx_bytes ", tap);
    cr_expect(g_str_has_prefix(st, prefix), "%s", st);
    g_autofree char *lst = CLI_OK("domiflist", "blk-net");
    g_autofree char *row = g_strdup_printf(" %-*s   ethernet   -        virtio   52:54:00:ab:cd:01\n",
                                           (int)MAX(strlen(tap), strlen("Interface")), tap);
    cr_expect(strstr(lst, row), "%s", lst);

    if (access("/usr/sbin/tc", X_OK) != 0 && access("/sbin/tc", X_OK) != 0) {
        NOTE("tc (iproute2) is not installed: the bandwidth checks are skipped");
    } else {
        /* Inbound: an HTB class on the tap. */
        qv_interface_bandwidth bw = {
            .fields = QV_INTERFACE_BANDWIDTH_IN_AVERAGE | QV_INTERFACE_BANDWIDTH_IN_PEAK |
                      QV_INTERFACE_BANDWIDTH_IN_BURST,
            .inbound_average = 1000, .inbound_peak = 2000, .inbound_burst = 512,
        };
        itest_ok(qv_domain_set_interface_parameters(dom, tap, &bw, QV_DOMAIN_AFFECT_LIVE, &err), err);
        g_autofree char *qd = tc_show("qdisc", tap, NULL);
        cr_expect(strstr(qd, "qdisc htb 1: root"), "%s", qd);
        g_autofree char *cl = tc_show("class", tap, NULL);
        cr_expect(strstr(cl, "class htb 1:1 root"), "%s", cl);
        qv_interface_bandwidth gb;
        itest_ok(qv_domain_get_interface_parameters(dom, tap, &gb, 0, &err), err);
        cr_expect_eq(gb.inbound_average, 1000);
        cr_expect_eq(gb.inbound_peak, 2000);
        cr_expect_eq(gb.inbound_burst, 512);
        g_autofree char *tune = CLI_OK("domiftune", "blk-net", tap, "--live");
        cr_expect(g_str_has_prefix(tune, "inbound.average: 1000\ninbound.peak   : 2000\n"), "%s", tune);

        /* Outbound: an ingress policer, which needs the kernel's act_police. */
        bw = (qv_interface_bandwidth){ .fields = QV_INTERFACE_BANDWIDTH_OUT_AVERAGE,
                                       .outbound_average = 500 };
        int r = qv_domain_set_interface_parameters(dom, tap, &bw, 0, &err);
        if (r < 0 && strstr(qv_error_message(err), "Failed to load TC action module")) {
            NOTE("this kernel has no act_police: the outbound checks are limited to the "
                        "error (%s)", qv_error_message(err));
            g_autofree char *kept = tc_show("qdisc", tap, NULL);
            cr_expect(strstr(kept, "qdisc htb 1: root"), "the inbound limit was lost: %s", kept);
            itest_ok(qv_domain_get_interface_parameters(dom, tap, &gb, 0, NULL), NULL);
            cr_expect_eq(gb.outbound_average, 0, "a failed change reached the live XML");
            g_clear_pointer(&err, qv_error_free);
        } else {
            itest_ok(r, err);
            g_autofree char *qd1 = tc_show("qdisc", tap, NULL);
            cr_expect(strstr(qd1, "qdisc ingress ffff:"), "%s", qd1);
            cr_expect(strstr(qd1, "qdisc htb 1: root"), "%s", qd1);
            g_autofree char *fl = tc_show("filter", tap, "ffff:");
            cr_expect(strstr(fl, "police"), "%s", fl);
        }
        g_free(CLI_OK("domiftune", "blk-net", tap, "--inbound", "0", "--live"));
        g_autofree char *qd2 = tc_show("qdisc", tap, NULL);
        cr_expect(!strstr(qd2, "htb"), "inbound limit still there: %s", qd2);
        bw = (qv_interface_bandwidth){ .fields = QV_INTERFACE_BANDWIDTH_OUT_AVERAGE };
        itest_ok(qv_domain_set_interface_parameters(dom, tap, &bw, 0, &err), err);
        g_autofree char *qd3 = tc_show("qdisc", tap, NULL);
        cr_expect(!strstr(qd3, "ingress"), "outbound limit still there: %s", qd3);
        cr_expect_eq(qv_domain_set_interface_parameters(dom, "net1", &bw, 0, &err), -EOPNOTSUPP);
        cr_expect(strstr(qv_error_message(err), "user-mode networking"), "%s", qv_error_message(err));
        g_clear_pointer(&err, qv_error_free);
    }
    qv_qmp_free(ga);
    destroy(dom);
}
