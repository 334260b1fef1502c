/* Snapshots against real QEMU and the test guest, with a real qcow2 disk.
 *
 * The guest keeps a counter in RAM (/tmp/c, on its initramfs) that a shell
 * loop prints on the serial console, and writes the same counter to its
 * qcow2 disk. Reverting to an internal snapshot must bring back both the
 * RAM value (the console prints the old counter again) and the disk's.
 * External disk-only snapshots put an overlay on the disk; reverting to one
 * brings back the disk as it was. Shut-off domains use qemu-img; their
 * images are read from the host with qemu-io. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "qmp.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_conn, qv_conn_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_domain, qv_domain_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_snapshot, qv_snapshot_free)

static itest T;
static char *small_mount;   /* a tmpfs of the test, unmounted at teardown */
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

TestSuite(snapshot, .init = setup, .fini = teardown, .timeout = 400);

#define MIB (1024ULL * 1024)
#define BOOT_MS 120000
#define CONSOLE_MS 60000

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
#define HOST(...) host_run((const char *const[]){ __VA_ARGS__, NULL })

static char *make_qcow2(const char *name)
{
    char *path = g_build_filename(T.root, name, NULL);
    g_autofree char *o = HOST("qemu-img", "create", "-q", "-f", "qcow2", path, "16M");
    cr_assert_not_null(o, "qemu-img create %s failed", path);
    return path;
}

static char *disk_xml(const char *path)
{
    return g_strdup_printf("    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                           "<source file='%s'/><target dev='vdb' bus='virtio'/>"
                           "<serial>qvsnap</serial></disk>\n", path);
}

static qv_domain *define(qv_conn *conn, const char *name, const char *disk)
{
    g_autofree char *d = disk_xml(disk);
    g_autofree char *xml = itest_domain_xml(&T, name, d);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    return dom;
}

static void boot(qv_domain *dom)
{
    qv_error *err = NULL;
    int before = itest_console_count(&T, "QVIRT-GUEST-READY");
    itest_ok(qv_domain_create(dom, 0, &err), err);
    cr_assert(itest_wait_console_n(&T, "QVIRT-GUEST-READY", before + 1, BOOT_MS),
              "the guest did not boot");
}

static char *guest_ok(qv_qmp *ga, const char *script)
{
    int code;
    char *out = itest_guest_run(ga, script, &code);
    cr_assert_eq(code, 0, "guest command failed (%d): %s\n%s", code, script, out);
    return g_strchomp(out);
}

/* The guest's disk with serial qvsnap. */
static char *guest_disk(qv_qmp *ga)
{
    char *name = guest_ok(ga, "for d in /sys/block/vd*; do [ \"$(cat $d/serial 2>/dev/null)\" = "
                              "qvsnap ] && echo ${d##*/}; done; true");
    cr_assert(*name, "the guest has no disk with serial qvsnap");
    return name;
}

/* Sets the counter: in RAM (printed by the console loop) and on the disk. */
static void set_counter(qv_qmp *ga, const char *dev, int n)
{
    g_autofree char *s = g_strdup_printf(
        "echo %d > /tmp/c && printf 'DISK-%d;' | dd of=/dev/%s bs=512 conv=notrunc,fsync "
        "2>/dev/null && sync", n, n, dev);
    g_free(guest_ok(ga, s));
}

static char *disk_counter(qv_qmp *ga, const char *dev)
{
    g_autofree char *s = g_strdup_printf("echo 3 > /proc/sys/vm/drop_caches; "
                                         "dd if=/dev/%s bs=512 count=1 2>/dev/null | "
                                         "cut -d';' -f1", dev);
    return guest_ok(ga, s);
}

static char *snapshot_xml(qv_snapshot *s)
{
    char *xml = NULL;
    qv_error *err = NULL;
    itest_ok(qv_snapshot_get_xml_description(s, 0, &xml, &err), err);
    return xml;
}

static int snapshot_count(qv_domain *dom, unsigned int flags)
{
    qv_error *err = NULL;
    int n = qv_domain_num_of_snapshots(dom, flags, &err);
    itest_ok(n, err);
    return n;
}

/* The snapshot names of the image, as qemu-img sees them (-U: QEMU may hold it). */
static char *image_snapshots(const char *img)
{
    char *o = HOST("qemu-img", "snapshot", "-U", "-l", img);
    cr_assert_not_null(o, "qemu-img snapshot -l %s failed", img);
    return o;
}

/* Lifecycle events as "event/detail" words, in order. */
static void on_event(qv_conn *conn, const qv_event *ev, void *opaque)
{
    g_string_append_printf(opaque, "%d/%d ", ev->event, ev->detail);
}

/* BLOCK_JOB_2 events as "job_type/status" words, in order. */
static void on_job_event(qv_conn *conn, const qv_event *ev, void *opaque)
{
    g_autoptr(json_object) j = json_tokener_parse(ev->json);
    json_object *t = NULL, *st = NULL;
    if (j && json_object_object_get_ex(j, "job_type", &t) && json_object_object_get_ex(j, "status", &st))
        g_string_append_printf(opaque, "%d/%d ", json_object_get_int(t), json_object_get_int(st));
}

static bool saw(qv_conn *conn, GString *evs, int event, int detail)
{
    qv_error *err = NULL;
    itest_ok(qv_conn_event_dispatch(conn, &err), err);
    g_autofree char *w = g_strdup_printf("%d/%d ", event, detail);
    return strstr(evs->str, w) != NULL;
}

static char *domain_xml(qv_domain *dom, unsigned int flags)
{
    char *xml = NULL;
    qv_error *err = NULL;
    itest_ok(qv_domain_get_xml_description(dom, flags, &xml, &err), err);
    return xml;
}

Test(snapshot, running_internal_and_external)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *img = make_qcow2("data.qcow2");
    g_autoptr(qv_domain) dom = define(conn, "snap-run", img);
    boot(dom);
    qv_qmp *ga = itest_agent_open(&T, "snap-run");
    g_autofree char *dev = guest_disk(ga);
    qv_error *err = NULL;
    g_autoptr(GString) evs = g_string_new(NULL);
    itest_ok(qv_conn_domain_event_register_any(conn, dom, QV_DOMAIN_EVENT_ID_LIFECYCLE, on_event,
                                               evs, &err), err);
    itest_ok(qv_conn_event_dispatch(conn, &err), err);

    /* The console loop prints the RAM counter. */
    g_free(guest_ok(ga, "echo 1 > /tmp/c; (while :; do echo \"CNT=$(cat /tmp/c)\" > /dev/ttyS0; "
                        "sleep 0.2; done) >/dev/null 2>&1 </dev/null & echo started"));
    set_counter(ga, dev, 1);
    cr_assert(itest_wait_console(&T, "CNT=1", CONSOLE_MS));

    /* A bad snapshot XML: one sentence naming the element. */
    qv_snapshot *bad = NULL;
    int r = qv_domain_create_snapshot(dom, "<domainsnapshot><disks><disk name='vdb' "
                                      "snapshot='sideways'/></disks></domainsnapshot>", 0, &bad, &err);
    cr_assert_eq(r, -EINVAL);
    cr_expect_str_eq(qv_error_message(err), "/domainsnapshot/disks/disk/@snapshot: unsupported "
                     "value 'sideways' (expected one of no, internal, external, manual)");
    g_clear_pointer(&err, qv_error_free);
    r = qv_domain_create_snapshot(dom, "<domainsnapshot><disks><disk name='vdq'/></disks>"
                                  "</domainsnapshot>", 0, &bad, &err);
    cr_assert_lt(r, 0);
    cr_expect(strstr(qv_error_message(err), "'vdq'"), "%s", qv_error_message(err));
    g_clear_pointer(&err, qv_error_free);

    /* s1: an internal snapshot of the running guest, memory included. */
    g_autoptr(qv_snapshot) s1 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>s1</name>"
                                       "<description>counter 1</description></domainsnapshot>",
                                       0, &s1, &err), err);
    int state = 0;
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING, "the guest runs on after the snapshot");
    cr_expect(saw(conn, evs, QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_PAUSED),
              "events: %s", evs->str);
    g_autofree char *lst = image_snapshots(img);
    cr_expect(strstr(lst, "s1"), "the image holds s1: %s", lst);
    g_autofree char *x1 = snapshot_xml(s1);
    cr_expect(strstr(x1, "<state>running</state>"), "%s", x1);
    cr_expect(strstr(x1, "<memory snapshot='internal'/>"), "%s", x1);
    cr_expect(strstr(x1, "<disk name='vdb' snapshot='internal'/>"), "%s", x1);
    cr_expect(strstr(x1, "<domain type='qemu'>"), "%s", x1);
    cr_expect_eq(qv_snapshot_is_current(s1, 0, &err), 1);

    /* The counter moves on, in RAM and on disk. */
    set_counter(ga, dev, 2);
    cr_assert(itest_wait_console(&T, "CNT=2", CONSOLE_MS));
    g_autofree char *c2 = disk_counter(ga, dev);
    cr_expect_str_eq(c2, "DISK-2");

    /* s2, a child of s1, taken while paused. */
    itest_ok(qv_domain_suspend(dom, &err), err);
    g_autoptr(qv_snapshot) s2 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>s2</name></domainsnapshot>", 0,
                                       &s2, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_PAUSED, "a paused domain stays paused");
    g_autofree char *x2 = snapshot_xml(s2);
    cr_expect(strstr(x2, "<state>paused</state>"), "%s", x2);
    cr_expect(strstr(x2, "<parent>\n    <name>s1</name>\n  </parent>"), "%s", x2);
    itest_ok(qv_domain_resume(dom, &err), err);

    /* Revert to s1: RAM and disk as they were. */
    qv_qmp_free(ga);
    int ones = itest_console_count(&T, "CNT=1");
    itest_ok(qv_snapshot_revert_to(s1, 0, &err), err);
    int reason = 0;
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    cr_expect_eq(reason, QV_DOMAIN_RUNNING_FROM_SNAPSHOT);
    cr_expect(saw(conn, evs, QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT),
              "events: %s", evs->str);
    cr_expect(saw(conn, evs, QV_DOMAIN_EVENT_RESUMED, QV_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT),
              "events: %s", evs->str);
    cr_assert(itest_wait_console_n(&T, "CNT=1", ones + 3, CONSOLE_MS),
              "the guest's RAM did not go back to counter 1");
    ga = itest_agent_open(&T, "snap-run");
    g_autofree char *c1 = disk_counter(ga, dev);
    cr_expect_str_eq(c1, "DISK-1");
    g_autofree char *ram = guest_ok(ga, "cat /tmp/c");
    cr_expect_str_eq(ram, "1");
    cr_expect_eq(qv_snapshot_is_current(s1, 0, &err), 1);

    /* Revert to s2 (paused when taken): paused, with counter 2. */
    qv_qmp_free(ga);
    itest_ok(qv_snapshot_revert_to(s2, 0, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_PAUSED);
    cr_expect_eq(reason, QV_DOMAIN_PAUSED_FROM_SNAPSHOT);
    itest_ok(qv_snapshot_revert_to(s2, QV_DOMAIN_SNAPSHOT_REVERT_RUNNING, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    ga = itest_agent_open(&T, "snap-run");
    g_autofree char *c2b = disk_counter(ga, dev);
    cr_expect_str_eq(c2b, "DISK-2");

    /* Listing and the tree; the metadata seen by a second connection. */
    cr_expect_eq(snapshot_count(dom, 0), 2);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_ROOTS), 1);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_LEAVES), 1);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_INTERNAL), 2);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_EXTERNAL), 0);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_ACTIVE), 2);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_INACTIVE), 0);
    {
        g_autoptr(qv_conn) c2conn = itest_open(&T);
        g_autoptr(qv_domain) d2 = NULL;
        itest_ok(qv_conn_get_domain_by_name(c2conn, "snap-run", &d2, &err), err);
        char **names = NULL;
        int n = qv_domain_list_snapshot_names(d2, 10, QV_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL, &names,
                                              &err);
        itest_ok(n, err);
        cr_expect_eq(n, 2);
        cr_expect_str_eq(names[0], "s1");
        cr_expect_str_eq(names[1], "s2");
        qv_snapshot_names_free(names);
        g_autoptr(qv_snapshot) cur = NULL;
        itest_ok(qv_domain_current_snapshot(d2, 0, &cur, &err), err);
        cr_expect_str_eq(qv_snapshot_get_name(cur), "s2");
        g_autoptr(qv_snapshot) par = NULL;
        itest_ok(qv_snapshot_get_parent(cur, 0, &par, &err), err);
        cr_expect_str_eq(qv_snapshot_get_name(par), "s1");
        cr_expect_eq(qv_snapshot_num_of_child_snapshots(par, 0, &err), 1);
    }

    /* Undefining a domain with snapshots is refused, as libvirt does. */
    r = qv_domain_undefine(dom, 0, &err);
    cr_expect_eq(r, -EBUSY);
    cr_expect(err && strstr(qv_error_message(err), "2 snapshots"), "%s",
              err ? qv_error_message(err) : "");
    g_clear_pointer(&err, qv_error_free);

    /* An internal snapshot deleted while running: QEMU's snapshot-delete. */
    g_autoptr(qv_snapshot) tmp = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>tmp</name></domainsnapshot>",
                                       0, &tmp, &err), err);
    g_autofree char *lt = image_snapshots(img);
    cr_expect(strstr(lt, "tmp"), "%s", lt);
    itest_ok(qv_snapshot_delete(tmp, 0, &err), err);
    g_autofree char *lt2 = image_snapshots(img);
    cr_expect_null(strstr(lt2, "tmp"), "%s", lt2);
    g_autoptr(qv_snapshot) cur2 = NULL;
    itest_ok(qv_domain_current_snapshot(dom, 0, &cur2, &err), err);
    cr_expect_str_eq(qv_snapshot_get_name(cur2), "s2", "the parent became current");

    /* External, disk-only: an overlay goes on vdb while the guest runs. */
    set_counter(ga, dev, 3);
    g_autofree char *ovl = g_build_filename(T.root, "data.ext1", NULL);
    g_autoptr(qv_snapshot) e1 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>ext1</name></domainsnapshot>",
                                       QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY |
                                       QV_DOMAIN_SNAPSHOT_CREATE_ATOMIC, &e1, &err), err);
    cr_expect(g_file_test(ovl, G_FILE_TEST_EXISTS), "no overlay %s", ovl);
    g_autofree char *live = domain_xml(dom, 0);
    g_autofree char *want_src = g_strdup_printf("<source file='%s'/>", ovl);
    cr_expect(strstr(live, want_src), "the live XML does not show the overlay: %s", live);
    cr_expect(strstr(live, "<backingStore type='file'>"), "%s", live);
    g_autofree char *cfg = domain_xml(dom, QV_DOMAIN_XML_INACTIVE);
    cr_expect(strstr(cfg, want_src), "the config does not show the overlay: %s", cfg);
    g_autofree char *xe = snapshot_xml(e1);
    cr_expect(strstr(xe, "<state>disk-snapshot</state>"), "%s", xe);
    cr_expect(strstr(xe, "snapshot='external'"), "%s", xe);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_EXTERNAL), 1);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_DISK_ONLY), 1);
    /* The guest writes on, into the overlay. */
    set_counter(ga, dev, 4);
    g_autofree char *c4 = disk_counter(ga, dev);
    cr_expect_str_eq(c4, "DISK-4");
    /* (Deleting external snapshots of a running domain: test
     * external_delete_running.) */

    /* s1 was taken before the overlay: reverting the running QEMU to it
     * needs a new QEMU, which only FORCE allows. */
    r = qv_snapshot_revert_to(s1, 0, &err);
    cr_expect_eq(r, -EINVAL);
    cr_expect(err && strstr(qv_error_message(err), "use FORCE"), "%s",
              err ? qv_error_message(err) : "");
    g_clear_pointer(&err, qv_error_free);
    /* LIVE is for external snapshots with memory (test external_memory). */
    r = qv_domain_create_snapshot(dom, NULL, QV_DOMAIN_SNAPSHOT_CREATE_LIVE, &bad, &err);
    cr_expect_eq(r, -EINVAL);
    cr_expect(err && strstr(qv_error_message(err), "external snapshots with memory"), "%s",
              err ? qv_error_message(err) : "");
    g_clear_pointer(&err, qv_error_free);

    /* Revert to ext1, running: a new QEMU on a new overlay, counter 3. */
    qv_qmp_free(ga);
    /* A new QEMU starts the console file anew: the old guest's lines go. */
    cr_assert_eq(truncate(T.console, 0), 0);
    pid_t old_qemu = (pid_t)itest_status_field(&T, "snap-run", "qemu_pid");
    /* The reverts so far changed the config: DEFINED FROM_SNAPSHOT. */
    cr_expect(saw(conn, evs, QV_DOMAIN_EVENT_DEFINED, QV_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT),
              "events: %s", evs->str);
    g_string_truncate(evs, 0);
    itest_ok(qv_snapshot_revert_to(e1, QV_DOMAIN_SNAPSHOT_REVERT_RUNNING, &err), err);
    cr_expect_neq((pid_t)itest_status_field(&T, "snap-run", "qemu_pid"), old_qemu);
    cr_expect(saw(conn, evs, QV_DOMAIN_EVENT_STOPPED, QV_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT),
              "events: %s", evs->str);
    /* The new QEMU is STARTED FROM_SNAPSHOT (libvirt's detail), then
     * RESUMED FROM_SNAPSHOT; never BOOTED, and no SUSPENDED in between. */
    cr_expect(saw(conn, evs, QV_DOMAIN_EVENT_STARTED, QV_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT),
              "events: %s", evs->str);
    cr_expect_not(saw(conn, evs, QV_DOMAIN_EVENT_STARTED, QV_DOMAIN_EVENT_STARTED_BOOTED),
                  "events: %s", evs->str);
    cr_expect_not(saw(conn, evs, QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_PAUSED),
                  "events: %s", evs->str);
    cr_expect(saw(conn, evs, QV_DOMAIN_EVENT_RESUMED, QV_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT),
              "events: %s", evs->str);
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    cr_expect_eq(reason, QV_DOMAIN_RUNNING_FROM_SNAPSHOT);
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", BOOT_MS),
              "the guest did not boot after the revert");
    ga = itest_agent_open(&T, "snap-run");
    g_autofree char *dev2 = guest_disk(ga);
    g_autofree char *c3 = disk_counter(ga, dev2);
    cr_expect_str_eq(c3, "DISK-3");
    qv_qmp_free(ga);

    /* QUIESCE: the guest agent freezes the file systems around it. */
    g_autoptr(qv_snapshot) e2 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>ext2</name></domainsnapshot>",
                                       QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY |
                                       QV_DOMAIN_SNAPSHOT_CREATE_QUIESCE, &e2, &err), err);
    g_autofree char *ovl2 = g_build_filename(T.root, "data.ext2", NULL);
    cr_expect(g_file_test(ovl2, G_FILE_TEST_EXISTS), "no overlay %s", ovl2);

    /* Revert a shut-off domain to s1, taken running: a new QEMU loads its
     * memory and runs on, counter 1 in RAM and on disk. */
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    cr_assert_eq(truncate(T.console, 0), 0);
    itest_ok(qv_conn_event_dispatch(conn, &err), err);
    g_string_truncate(evs, 0);
    itest_ok(qv_snapshot_revert_to(s1, 0, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    cr_expect_eq(reason, QV_DOMAIN_RUNNING_FROM_SNAPSHOT);
    cr_expect(saw(conn, evs, QV_DOMAIN_EVENT_STARTED, QV_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT),
              "events: %s", evs->str);
    cr_expect_not(saw(conn, evs, QV_DOMAIN_EVENT_STARTED, QV_DOMAIN_EVENT_STARTED_BOOTED),
                  "events: %s", evs->str);
    cr_assert(itest_wait_console_n(&T, "CNT=1", 3, CONSOLE_MS),
              "the new QEMU did not get s1's memory");
    cr_expect_eq(itest_console_count(&T, "QVIRT-GUEST-READY"), 0, "the guest booted afresh");
    ga = itest_agent_open(&T, "snap-run");
    g_autofree char *c1b = disk_counter(ga, dev);
    cr_expect_str_eq(c1b, "DISK-1");
    qv_qmp_free(ga);

    /* HALT: the domain is shut off (from snapshot) once the snapshot is made. */
    g_autoptr(qv_snapshot) h = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>h</name></domainsnapshot>",
                                       QV_DOMAIN_SNAPSHOT_CREATE_HALT, &h, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_SHUTOFF);
    cr_expect_eq(reason, QV_DOMAIN_SHUTOFF_FROM_SNAPSHOT);

    /* Delete s1 with its children: every snapshot goes, s1, s2 and h leave
     * the image, the overlays no disk uses any more are removed. */
    itest_ok(qv_snapshot_delete(s1, QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN, &err), err);
    cr_expect_not(g_file_test(ovl2, G_FILE_TEST_EXISTS), "%s is left", ovl2);
    cr_expect_eq(snapshot_count(dom, 0), 0);
    g_autofree char *lst2 = image_snapshots(img);
    cr_expect_null(strstr(lst2, "s1"), "%s", lst2);
    cr_expect_null(strstr(lst2, "s2"), "%s", lst2);
    cr_expect_null(strstr(lst2, " h "), "%s", lst2);
    cr_expect_eq(qv_domain_has_current_snapshot(dom, 0, &err), 0);
    itest_ok(qv_domain_undefine(dom, 0, &err), err);
}

/* The disk chain of vdb in the domain's XML (flags: 0 live, INACTIVE the
 * config) as "top>backing>...". */
static char *vdb_chain(qv_domain *dom, unsigned int flags)
{
    g_autofree char *xml = domain_xml(dom, flags);
    const char *d = strstr(xml, "<target dev='vdb'");
    cr_assert(d, "no vdb: %s", xml);
    const char *start = d;
    while (start > xml && strncmp(start, "<disk ", 6))
        start--;
    GString *out = g_string_new(NULL);
    const char *end = strstr(d, "</disk>");
    for (const char *p = start; (p = strstr(p, "<source file='")) && p < end; p++) {
        p += strlen("<source file='");
        const char *q = strchr(p, '\'');
        g_string_append_printf(out, "%s%.*s", out->len ? ">" : "", (int)(q - p), p);
    }
    return g_string_free(out, FALSE);
}

static char *image_backing(const char *img)
{
    g_autofree char *o = HOST("qemu-img", "info", "-U", "--output=json", img);
    cr_assert_not_null(o, "qemu-img info %s failed", img);
    g_autoptr(json_object) j = json_tokener_parse(o);
    json_object *b = NULL;
    return json_object_object_get_ex(j, "backing-filename", &b) ? g_strdup(json_object_get_string(b))
                                                                : g_strdup("");
}

/* Deleting external snapshots of a running domain: each overlay is merged
 * into the image the snapshot froze by a block commit (non-active when it
 * is deep in the chain, active and pivoted when it is the top), the
 * overlay files go, the live XML and the config follow, the stored
 * snapshots that named the overlay name the base instead, and the guest
 * runs on with everything it wrote. A commit that fails half-way (the
 * second disk's base on a full tmpfs) keeps the metadata and says what
 * was merged; deleting again finishes. A revert that starts a new QEMU
 * paused is STARTED FROM_SNAPSHOT then SUSPENDED FROM_SNAPSHOT. */
Test(snapshot, external_delete_running)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *img = make_qcow2("del.qcow2");
    g_autoptr(qv_domain) dom = define(conn, "snap-del", img);
    boot(dom);
    qv_qmp *ga = itest_agent_open(&T, "snap-del");
    g_autofree char *dev = guest_disk(ga);
    qv_error *err = NULL;
    pid_t qemu = (pid_t)itest_status_field(&T, "snap-del", "qemu_pid");
    g_autofree char *ovl1 = g_build_filename(T.root, "del.e1", NULL);
    g_autofree char *ovl2 = g_build_filename(T.root, "del.e2", NULL);
    const unsigned int disk_only = QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY;

    /* The merges are block jobs: their events prove which kind ran. */
    g_autoptr(GString) jobs = g_string_new(NULL);
    itest_ok(qv_conn_domain_event_register_any(conn, dom, QV_DOMAIN_EVENT_ID_BLOCK_JOB_2,
                                               on_job_event, jobs, &err), err);
    set_counter(ga, dev, 1);
    g_autoptr(qv_snapshot) e1 = NULL, e2 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>e1</name></domainsnapshot>",
                                       disk_only, &e1, &err), err);
    set_counter(ga, dev, 2);
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>e2</name></domainsnapshot>",
                                       disk_only, &e2, &err), err);
    set_counter(ga, dev, 3);
    g_autofree char *ch0 = vdb_chain(dom, 0);
    g_autofree char *want0 = g_strdup_printf("%s>%s>%s", ovl2, ovl1, img);
    cr_assert_str_eq(ch0, want0);

    /* e2's parent e1 is not current and has one child: its overlay is deep
     * in the chain, a non-active commit merges it into del.qcow2 and e2's
     * overlay gets del.qcow2 as its backing. */
    itest_ok(qv_snapshot_delete(e1, 0, &err), err);
    cr_expect(saw(conn, jobs, QV_DOMAIN_BLOCK_JOB_TYPE_COMMIT, QV_DOMAIN_BLOCK_JOB_COMPLETED),
              "a non-active commit: %s", jobs->str);
    g_string_truncate(jobs, 0);
    cr_expect_not(g_file_test(ovl1, G_FILE_TEST_EXISTS), "%s is left", ovl1);
    g_autofree char *ch1 = vdb_chain(dom, 0);
    g_autofree char *want1 = g_strdup_printf("%s>%s", ovl2, img);
    cr_expect_str_eq(ch1, want1, "the live chain");
    g_autofree char *cf1 = vdb_chain(dom, QV_DOMAIN_XML_INACTIVE);
    cr_expect_str_eq(cf1, want1, "the config's chain");
    g_autofree char *b2 = image_backing(ovl2);
    cr_expect_str_eq(b2, img);
    g_autofree char *x2 = snapshot_xml(e2);
    cr_expect_null(strstr(x2, "<parent>"), "e2 became a root: %s", x2);
    cr_expect_null(strstr(x2, ovl1), "e2's domain still names the merged overlay: %s", x2);
    g_autofree char *c3 = disk_counter(ga, dev);
    cr_expect_str_eq(c3, "DISK-3");
    int state = 0, reason = 0;
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    cr_expect_eq((pid_t)itest_status_field(&T, "snap-del", "qemu_pid"), qemu, "a new QEMU");

    /* e2, current and a leaf: an active commit, pivoted to del.qcow2. */
    itest_ok(qv_snapshot_delete(e2, 0, &err), err);
    cr_expect(saw(conn, jobs, QV_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT, QV_DOMAIN_BLOCK_JOB_READY),
              "an active commit: %s", jobs->str);
    cr_expect(saw(conn, jobs, QV_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT,
                  QV_DOMAIN_BLOCK_JOB_COMPLETED), "pivoted: %s", jobs->str);
    cr_expect_not(g_file_test(ovl2, G_FILE_TEST_EXISTS), "%s is left", ovl2);
    g_autofree char *ch2 = vdb_chain(dom, 0);
    cr_expect_str_eq(ch2, img, "the live chain");
    g_autofree char *cf2 = vdb_chain(dom, QV_DOMAIN_XML_INACTIVE);
    cr_expect_str_eq(cf2, img, "the config's chain");
    g_autofree char *c3b = disk_counter(ga, dev);
    cr_expect_str_eq(c3b, "DISK-3");
    set_counter(ga, dev, 4);   /* into del.qcow2 now */
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    cr_expect_eq((pid_t)itest_status_field(&T, "snap-del", "qemu_pid"), qemu, "a new QEMU");
    cr_expect_eq(snapshot_count(dom, 0), 0);
    cr_expect_eq(qv_domain_has_current_snapshot(dom, 0, &err), 0);

    /* The children variants, leaf first: CHILDREN_ONLY merges e4 into e3's
     * overlay; then CHILDREN (no child left) merges e3. */
    g_autofree char *ovl3 = g_build_filename(T.root, "del.e3", NULL);
    g_autofree char *ovl4 = g_build_filename(T.root, "del.e4", NULL);
    g_autoptr(qv_snapshot) e3 = NULL, e4 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>e3</name></domainsnapshot>",
                                       disk_only, &e3, &err), err);
    set_counter(ga, dev, 5);
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>e4</name></domainsnapshot>",
                                       disk_only, &e4, &err), err);
    set_counter(ga, dev, 6);
    /* libvirt's rule: the current snapshot with a child cannot go. */
    {
        g_autofree char *x3 = snapshot_xml(e3);
        qv_snapshot *again = NULL;
        itest_ok(qv_domain_create_snapshot(dom, x3, QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE |
                                           QV_DOMAIN_SNAPSHOT_CREATE_CURRENT, &again, &err), err);
        qv_snapshot_free(again);
        cr_expect_eq(qv_snapshot_delete(e3, 0, &err), -ENOTSUP);
        cr_expect(err && strstr(qv_error_message(err), "current one and has a child"), "%s",
                  err ? qv_error_message(err) : "");
        g_clear_pointer(&err, qv_error_free);
        g_autofree char *x4 = snapshot_xml(e4);
        itest_ok(qv_domain_create_snapshot(dom, x4, QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE |
                                           QV_DOMAIN_SNAPSHOT_CREATE_CURRENT, &again, &err), err);
        qv_snapshot_free(again);
    }
    itest_ok(qv_snapshot_delete(e3, QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY, &err), err);
    cr_expect_not(g_file_test(ovl4, G_FILE_TEST_EXISTS), "%s is left", ovl4);
    g_autofree char *ch3 = vdb_chain(dom, 0);
    g_autofree char *want3 = g_strdup_printf("%s>%s", ovl3, img);
    cr_expect_str_eq(ch3, want3);
    cr_expect_eq(snapshot_count(dom, 0), 1);
    cr_expect_eq(qv_snapshot_is_current(e3, 0, &err), 1, "e4's parent became current");
    itest_ok(qv_snapshot_delete(e3, QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN, &err), err);
    cr_expect_not(g_file_test(ovl3, G_FILE_TEST_EXISTS), "%s is left", ovl3);
    g_autofree char *ch4 = vdb_chain(dom, 0);
    cr_expect_str_eq(ch4, img);
    g_autofree char *c6 = disk_counter(ga, dev);
    cr_expect_str_eq(c6, "DISK-6");

    /* A revert that needs a new QEMU, paused: STARTED FROM_SNAPSHOT, then
     * SUSPENDED FROM_SNAPSHOT; deleting the snapshot of the paused domain
     * then merges the revert's overlay, and the domain stays paused. */
    g_autoptr(GString) evs = g_string_new(NULL);
    itest_ok(qv_conn_domain_event_register_any(conn, dom, QV_DOMAIN_EVENT_ID_LIFECYCLE, on_event,
                                               evs, &err), err);
    itest_ok(qv_conn_event_dispatch(conn, &err), err);
    g_autoptr(qv_snapshot) e5 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>e5</name></domainsnapshot>",
                                       disk_only, &e5, &err), err);
    /* While a disk has a block job (a copy), snapshots wait, as libvirt's. */
    {
        g_autofree char *cp = g_build_filename(T.root, "del.copy", NULL);
        itest_ok(qv_domain_block_rebase(dom, "vdb", cp, 0, QV_DOMAIN_BLOCK_REBASE_COPY, &err), err);
        qv_snapshot *no = NULL;
        cr_expect_eq(qv_domain_create_snapshot(dom, NULL, disk_only, &no, &err), -EBUSY);
        cr_expect(err && strstr(qv_error_message(err), "has a block job"), "%s",
                  err ? qv_error_message(err) : "");
        g_clear_pointer(&err, qv_error_free);
        cr_expect_eq(qv_snapshot_revert_to(e5, 0, &err), -EBUSY);
        g_clear_pointer(&err, qv_error_free);
        cr_expect_eq(qv_snapshot_delete(e5, 0, &err), -EBUSY);
        g_clear_pointer(&err, qv_error_free);
        itest_ok(qv_domain_abort_block_job(dom, "vdb", 0, &err), err);
        unlink(cp);
        cr_expect_eq(snapshot_count(dom, 0), 1);
    }
    qv_qmp_free(ga);
    itest_ok(qv_snapshot_revert_to(e5, QV_DOMAIN_SNAPSHOT_REVERT_PAUSED, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_PAUSED);
    cr_expect_eq(reason, QV_DOMAIN_PAUSED_FROM_SNAPSHOT);
    cr_expect(saw(conn, evs, QV_DOMAIN_EVENT_STARTED, QV_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT),
              "events: %s", evs->str);
    cr_expect(saw(conn, evs, QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT),
              "events: %s", evs->str);
    cr_expect_not(saw(conn, evs, QV_DOMAIN_EVENT_STARTED, QV_DOMAIN_EVENT_STARTED_BOOTED),
                  "events: %s", evs->str);
    cr_expect_not(saw(conn, evs, QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_PAUSED),
                  "events: %s", evs->str);
    itest_ok(qv_snapshot_delete(e5, 0, &err), err);
    g_autofree char *ch5 = vdb_chain(dom, 0);
    cr_expect_str_eq(ch5, img);
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_PAUSED, "the delete ran the paused domain");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    itest_expect_no_cgroups(T.root);
    g_autofree char *bi = image_backing(img);
    cr_expect_str_eq(bi, "");
    g_autofree char *rd = HOST("qemu-io", "-f", "qcow2", "-r", "-c", "read -v 0 16", img);
    /* qemu-io -v: "DISK-6" in hex. */
    cr_expect(rd && strstr(rd, "44 49 53 4b 2d 36 3b"), "what the guest wrote is in the base: %s", rd);
}

/* A disk behind a throttle filter (<iotune>): the overlays go below the
 * filter, and after a delete's pivot the next snapshot finds the disk's
 * top node again from the recorded node names (paused: no guest needed). */
Test(snapshot, external_delete_throttled)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *img = make_qcow2("thr.qcow2");
    g_autofree char *d = g_strdup_printf("    <disk type='file' device='disk'><driver name='qemu' "
                                         "type='qcow2'/><source file='%s'/><target dev='vdb' "
                                         "bus='virtio'/><iotune><total_bytes_sec>209715200"
                                         "</total_bytes_sec></iotune></disk>\n", img);
    g_autofree char *xml = itest_domain_xml(&T, "snap-thr", d);
    g_autoptr(qv_domain) dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    const unsigned int disk_only = QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY;
    g_autoptr(qv_snapshot) t1 = NULL, t2 = NULL, t3 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>t1</name></domainsnapshot>",
                                       disk_only, &t1, &err), err);
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>t2</name></domainsnapshot>",
                                       disk_only, &t2, &err), err);
    itest_ok(qv_snapshot_delete(t2, 0, &err), err);
    g_autofree char *o1 = g_build_filename(T.root, "thr.t1", NULL);
    g_autofree char *w1 = g_strdup_printf("%s>%s", o1, img);
    g_autofree char *c1 = vdb_chain(dom, 0);
    cr_expect_str_eq(c1, w1);
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>t3</name></domainsnapshot>",
                                       disk_only, &t3, &err), err);
    g_autofree char *o3 = g_build_filename(T.root, "thr.t3", NULL);
    g_autofree char *w3 = g_strdup_printf("%s>%s>%s", o3, o1, img);
    g_autofree char *c3 = vdb_chain(dom, 0);
    cr_expect_str_eq(c3, w3);
    itest_ok(qv_snapshot_delete(t1, 0, &err), err);
    itest_ok(qv_snapshot_delete(t3, 0, &err), err);
    g_autofree char *c4 = vdb_chain(dom, 0);
    cr_expect_str_eq(c4, img);
    g_autofree char *live = domain_xml(dom, 0);
    cr_expect(strstr(live, "<total_bytes_sec>209715200</total_bytes_sec>"), "%s", live);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    /* The deletes' commits left qvirt-blockjob runs waiting for the
     * destroy's lifecycle lock in the domain's cgroup: gone with the run. */
    itest_expect_no_cgroups(T.root);
}

/* A delete whose second commit fails (its base on a full tmpfs) keeps the
 * snapshot, says which disk was merged and why the other failed (QEMU's
 * text); the chains stay valid and the guest runs on. Deleting again once
 * there is room finishes. */
Test(snapshot, external_delete_fails_halfway)
{
    if (geteuid() != 0)
        cr_skip_test("not root: no tmpfs to fill");
    small_mount = g_build_filename(T.root, "small", NULL);
    mkdir(small_mount, 0700);
    g_autofree char *m = HOST("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small_mount);
    if (!m) {
        g_clear_pointer(&small_mount, g_free);
        cr_skip_test("cannot mount a tmpfs");
    }
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *img = make_qcow2("half.qcow2");
    g_autofree char *img2 = g_build_filename(small_mount, "c.qcow2", NULL);
    g_free(HOST("qemu-img", "create", "-q", "-f", "qcow2", img2, "16M"));
    cr_assert(g_file_test(img2, G_FILE_TEST_EXISTS));
    g_autofree char *d1 = disk_xml(img);
    g_autofree char *d2 = g_strdup_printf("    <disk type='file' device='disk'><driver name='qemu' "
                                          "type='qcow2'/><source file='%s'/><target dev='vdc' "
                                          "bus='virtio'/><serial>qvfull</serial></disk>\n", img2);
    g_autofree char *devs = g_strconcat(d1, d2, NULL);
    g_autofree char *xml = itest_domain_xml(&T, "snap-half", devs);
    g_autoptr(qv_domain) dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    boot(dom);
    qv_qmp *ga = itest_agent_open(&T, "snap-half");
    g_autofree char *dev = guest_disk(ga);
    g_autofree char *ovlb = g_build_filename(T.root, "half.h1", NULL);
    g_autofree char *ovlc = g_build_filename(T.root, "c.h1", NULL);
    g_autofree char *sx = g_strdup_printf("<domainsnapshot><name>h1</name><disks><disk name='vdc' "
                                          "snapshot='external'><source file='%s'/></disk></disks>"
                                          "</domainsnapshot>", ovlc);
    g_autoptr(qv_snapshot) h1 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, sx, QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, &h1, &err), err);
    set_counter(ga, dev, 1);
    /* 4 MiB for vdc's overlay: more than its base's tmpfs holds. */
    g_free(guest_ok(ga, "for d in /sys/block/vd*; do [ \"$(cat $d/serial)\" = qvfull ] && "
                        "dd if=/dev/urandom of=/dev/${d##*/} bs=1048576 count=4 conv=fsync "
                        "2>/dev/null; done; true"));
    int r = qv_snapshot_delete(h1, 0, &err);
    cr_expect_lt(r, 0);
    const char *msg = err ? qv_error_message(err) : "";
    cr_expect(strstr(msg, "it is kept; the overlays of disks vdb were merged already"), "%s", msg);
    cr_expect(strstr(msg, "No space left on device"), "QEMU's text: %s", msg);
    g_clear_pointer(&err, qv_error_free);
    cr_expect_eq(snapshot_count(dom, 0), 1, "the snapshot's metadata is kept");
    cr_expect_not(g_file_test(ovlb, G_FILE_TEST_EXISTS), "vdb's overlay was merged: %s", ovlb);
    cr_expect(g_file_test(ovlc, G_FILE_TEST_EXISTS), "vdc's overlay is kept");
    g_autofree char *chb = vdb_chain(dom, 0);
    cr_expect_str_eq(chb, img);
    g_autofree char *live = domain_xml(dom, 0);
    g_autofree char *srcc = g_strdup_printf("<source file='%s'/>", ovlc);
    cr_expect(strstr(live, srcc), "vdc is still on its overlay: %s", live);
    int state = 0;
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    g_autofree char *c1 = disk_counter(ga, dev);
    cr_expect_str_eq(c1, "DISK-1");
    /* Room again: the second delete merges vdc's overlay and ends it. */
    g_free(HOST("mount", "-o", "remount,size=64m", small_mount));
    itest_ok(qv_snapshot_delete(h1, 0, &err), err);
    cr_expect_not(g_file_test(ovlc, G_FILE_TEST_EXISTS), "%s is left", ovlc);
    cr_expect_eq(snapshot_count(dom, 0), 0);
    g_autofree char *live2 = domain_xml(dom, 0);
    g_autofree char *src2 = g_strdup_printf("<source file='%s'/>", img2);
    cr_expect(strstr(live2, src2), "vdc is on its base again: %s", live2);
    qv_qmp_free(ga);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    itest_expect_no_cgroups(T.root);
}

/* REVERT_RESET_NVRAM: the new QEMU of a revert gets its UEFI variables
 * from their template again (libvirt's flag); without it they are kept. */
Test(snapshot, revert_reset_nvram)
{
    if (!g_file_test("/usr/share/qemu/firmware/60-edk2-x86_64.json", G_FILE_TEST_EXISTS))
        cr_skip_test("the ovmf package is not installed (no /usr/share/qemu/firmware descriptors)");
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *img = make_qcow2("efi.qcow2");
    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'><name>snap-efi</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
        "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type></os>"
        "<features><acpi/></features><devices><disk type='file' device='disk'><driver "
        "name='qemu' type='qcow2'/><source file='%s'/><target dev='vda' bus='virtio'/></disk>"
        "</devices></domain>", img);
    g_autoptr(qv_domain) dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    g_autofree char *nvram = g_build_filename(T.root, "config", "nvram", "snap-efi_VARS.fd", NULL);
    g_autofree char *tmpl = NULL;
    gsize tlen = 0;
    cr_assert(g_file_get_contents(nvram, &tmpl, &tlen, NULL), "no NVRAM at %s", nvram);
    g_autoptr(qv_snapshot) x = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>x</name></domainsnapshot>",
                                       QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, &x, &err), err);
    g_autofree char *scribbled = g_memdup2(tmpl, tlen);
    memset(scribbled, 0xaa, 4096);
    cr_assert(g_file_set_contents(nvram, scribbled, (gssize)tlen, NULL));
    itest_ok(qv_snapshot_revert_to(x, QV_DOMAIN_SNAPSHOT_REVERT_PAUSED, &err), err);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    g_autofree char *kept = NULL;
    gsize klen = 0;
    cr_assert(g_file_get_contents(nvram, &kept, &klen, NULL));
    cr_expect(klen == tlen && !memcmp(kept, scribbled, tlen), "a plain revert rewrote the NVRAM");
    g_autofree char *o = ITEST_CLI_OK(&T, "snapshot-revert", "snap-efi", "x", "--paused",
                                      "--reset-nvram");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    g_autofree char *now = NULL;
    gsize nlen = 0;
    cr_assert(g_file_get_contents(nvram, &now, &nlen, NULL));
    cr_expect(nlen == tlen && !memcmp(now, tmpl, tlen), "--reset-nvram kept the scribbled NVRAM");
    itest_ok(qv_snapshot_delete(x, 0, &err), err);
    itest_ok(qv_domain_undefine(dom, QV_DOMAIN_UNDEFINE_NVRAM, &err), err);
}

/* Waits for QEMU's migration (a memory snapshot's stream) to begin, then
 * lets it crawl at 256 KiB/s so another process can act on the job. */
static void slow_down_stream(qv_domain *dom)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    for (;;) {
        char *reply = NULL;
        qv_error *err = NULL;
        int r = qv_domain_qemu_monitor_command(dom, "{\"execute\":\"query-migrate\"}", &reply, 0,
                                               &err);
        qv_error_free(err);
        bool active = r == 0 && (strstr(reply, "\"active\"") || strstr(reply, "\"setup\""));
        free(reply);
        if (active)
            break;
        cr_assert_lt(g_get_monotonic_time(), deadline, "the snapshot's migration never began");
    }
    char *reply = NULL;
    qv_error *err = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\":\"migrate-set-parameters\","
                                            "\"arguments\":{\"max-bandwidth\":262144}}",
                                            &reply, 0, &err), err);
    free(reply);
}

/* The first 16 bytes of a file. */
static char *file_magic(const char *path)
{
    char buf[17] = { 0 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "cannot open %s", path);
    cr_assert_eq(read(fd, buf, 16), 16, "%s is shorter than a save-image magic", path);
    close(fd);
    return g_strdup(buf);
}

/* Files of dir whose names contain part. */
static int files_with(const char *dir, const char *part)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    cr_assert_not_null(d);
    int n = 0;
    for (const char *f; (f = g_dir_read_name(d));)
        n += strstr(f, part) != NULL;
    return n;
}

/* Reverting to an external snapshot with memory brings back RAM and disk:
 * asserts the console prints counter n again (from a restore, not a boot)
 * and the disk holds DISK-n. */
static void assert_back_to(const char *name, int n)
{
    g_autofree char *cnt = g_strdup_printf("CNT=%d", n);
    cr_assert(itest_wait_console_n(&T, cnt, 3, CONSOLE_MS),
              "the new QEMU did not get the snapshot's memory (%s)", cnt);
    cr_expect_eq(itest_console_count(&T, "QVIRT-GUEST-READY"), 0, "the guest booted afresh");
    qv_qmp *ga = itest_agent_open(&T, name);
    g_autofree char *dev = guest_disk(ga);
    g_autofree char *disk = disk_counter(ga, dev);
    g_autofree char *want = g_strdup_printf("DISK-%d", n);
    cr_expect_str_eq(disk, want);
    g_autofree char *ram = guest_ok(ga, "cat /tmp/c");
    g_autofree char *want_ram = g_strdup_printf("%d", n);
    cr_expect_str_eq(ram, want_ram);
    qv_qmp_free(ga);
}

Test(snapshot, external_memory)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *img = make_qcow2("mem.qcow2");
    g_autoptr(qv_domain) dom = define(conn, "snap-mem", img);
    boot(dom);
    qv_qmp *ga = itest_agent_open(&T, "snap-mem");
    g_autofree char *dev = guest_disk(ga);
    qv_error *err = NULL;
    g_free(guest_ok(ga, "echo 1 > /tmp/c; (while :; do echo \"CNT=$(cat /tmp/c)\" > /dev/ttyS0; "
                        "sleep 0.2; done) >/dev/null 2>&1 </dev/null & echo started"));
    set_counter(ga, dev, 1);
    cr_assert(itest_wait_console(&T, "CNT=1", CONSOLE_MS));
    int state = 0, reason = 0;

    /* A memory file in a folder that does not exist: refused, the domain
     * runs on, its XML untouched, no overlay and no file left. */
    g_autofree char *live0 = domain_xml(dom, 0);
    g_autofree char *cfg0 = domain_xml(dom, QV_DOMAIN_XML_INACTIVE);
    g_autofree char *badx = g_strdup_printf("<domainsnapshot><name>bad</name><memory "
                                            "snapshot='external' file='%s/no/such/m.mem'/>"
                                            "</domainsnapshot>", T.root);
    qv_snapshot *bad = NULL;
    int r = qv_domain_create_snapshot(dom, badx, 0, &bad, &err);
    cr_expect_lt(r, 0);
    cr_expect(err && strstr(qv_error_message(err), "cannot create a file"), "%s",
              err ? qv_error_message(err) : "");
    g_clear_pointer(&err, qv_error_free);
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    g_autofree char *live1 = domain_xml(dom, 0);
    g_autofree char *cfg1 = domain_xml(dom, QV_DOMAIN_XML_INACTIVE);
    cr_expect_str_eq(live1, live0);
    cr_expect_str_eq(cfg1, cfg0);
    cr_expect_eq(files_with(T.root, "mem.bad"), 0, "an overlay of the failed snapshot is left");
    cr_expect_eq(snapshot_count(dom, 0), 0);
    cr_assert(itest_wait_console_n(&T, "CNT=1", itest_console_count(&T, "CNT=1") + 2,
                                   CONSOLE_MS), "the guest does not run on");
    /* A failure after the memory was written (the overlay's name is taken):
     * the memory file goes again, the CPUs run, the XML is untouched. */
    g_autofree char *taken = g_build_filename(T.root, "mem.late", NULL);
    cr_assert(g_file_set_contents(taken, "mine", -1, NULL));
    g_autofree char *meml = g_build_filename(T.root, "late.mem", NULL);
    g_autofree char *latex = g_strdup_printf("<domainsnapshot><name>late</name><memory "
                                             "snapshot='external' file='%s'/></domainsnapshot>",
                                             meml);
    r = qv_domain_create_snapshot(dom, latex, 0, &bad, &err);
    cr_expect_eq(r, -EEXIST);
    cr_expect(err && strstr(qv_error_message(err), "exists already"), "%s",
              err ? qv_error_message(err) : "");
    g_clear_pointer(&err, qv_error_free);
    cr_expect_not(g_file_test(meml, G_FILE_TEST_EXISTS), "the memory file %s is left", meml);
    cr_expect_eq(files_with(T.root, "qvirt-part"), 0, "a temporary image is left");
    g_autofree char *mine = NULL;
    cr_expect(g_file_get_contents(taken, &mine, NULL, NULL) && !strcmp(mine, "mine"),
              "the file in the overlay's way was touched");
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    g_autofree char *live1b = domain_xml(dom, 0);
    g_autofree char *cfg1b = domain_xml(dom, QV_DOMAIN_XML_INACTIVE);
    cr_expect_str_eq(live1b, live0);
    cr_expect_str_eq(cfg1b, cfg0);
    cr_expect_eq(snapshot_count(dom, 0), 0);
    qv_domain_job_stats jf = { .size = sizeof jf };
    itest_ok(qv_domain_get_job_stats(dom, &jf, QV_DOMAIN_JOB_STATS_COMPLETED, &err), err);
    cr_expect_eq(jf.type, QV_DOMAIN_JOB_FAILED);
    cr_expect_eq(jf.operation, QV_DOMAIN_JOB_OPERATION_SNAPSHOT);
    cr_assert(itest_wait_console_n(&T, "CNT=1", itest_console_count(&T, "CNT=1") + 2,
                                   CONSOLE_MS), "the guest does not run on");

    /* Another process sees the snapshot's job and aborts it: the domain
     * runs on as before, nothing of the snapshot is left. The guest's RAM
     * gets megabytes that do not compress to zero pages first. */
    g_free(guest_ok(ga, "head -c 16777216 /dev/urandom > /tmp/fill"));
    g_autofree char *mema = g_build_filename(T.root, "ab.mem", NULL);
    g_autofree char *abx = g_strdup_printf("<domainsnapshot><name>ab</name><memory "
                                           "snapshot='external' file='%s'/></domainsnapshot>",
                                           mema);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        qv_conn *c2 = NULL;
        qv_domain *d2 = NULL;
        if (qv_conn_open(T.uri, &c2, NULL) < 0 ||
            qv_conn_get_domain_by_name(c2, "snap-mem", &d2, NULL) < 0)
            _exit(3);
        r = qv_domain_create_snapshot(d2, abx, 0, NULL, NULL);
        _exit(r == -ECANCELED ? 0 : r == 0 ? 1 : 2);
    }
    slow_down_stream(dom);
    qv_domain_job_stats cur = { .size = sizeof cur };
    itest_ok(qv_domain_get_job_stats(dom, &cur, 0, &err), err);
    cr_expect_eq(cur.type, QV_DOMAIN_JOB_UNBOUNDED);
    cr_expect_eq(cur.operation, QV_DOMAIN_JOB_OPERATION_SNAPSHOT);
    itest_ok(qv_domain_abort_job(dom, 0, &err), err);
    int wst;
    cr_assert_eq(waitpid(child, &wst, 0), child);
    cr_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
              "the snapshot did not end aborted (status %d)", wst);
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    cr_expect_not(g_file_test(mema, G_FILE_TEST_EXISTS), "the memory file %s is left", mema);
    cr_expect_eq(files_with(T.root, "qvirt-part"), 0, "a temporary image is left");
    cr_expect_eq(files_with(T.root, "mem.ab"), 0, "an overlay of the aborted snapshot is left");
    g_autofree char *live1c = domain_xml(dom, 0);
    cr_expect_str_eq(live1c, live0);
    cr_expect_eq(snapshot_count(dom, 0), 0);
    g_free(guest_ok(ga, "rm -f /tmp/fill"));
    cr_assert(itest_wait_console_n(&T, "CNT=1", itest_console_count(&T, "CNT=1") + 2,
                                   CONSOLE_MS), "the guest does not run on");

    /* m1: memory to a save image, an overlay on vdb; the guest runs on. */
    g_autofree char *mem1 = g_build_filename(T.root, "m1.mem", NULL);
    g_autofree char *ovl1 = g_build_filename(T.root, "mem.m1", NULL);
    g_autofree char *x1 = g_strdup_printf("<domainsnapshot><name>m1</name><memory "
                                          "snapshot='external' file='%s'/></domainsnapshot>",
                                          mem1);
    g_autoptr(qv_snapshot) m1 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, x1, 0, &m1, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING, "the guest runs on after the snapshot");
    g_autofree char *magic = file_magic(mem1);
    cr_expect_str_eq(magic, "LibvirtQemudSave");
    g_autofree char *imgxml = NULL;
    itest_ok(qv_conn_get_save_image_xml_description(conn, mem1, 0, &imgxml, &err), err);
    cr_expect(strstr(imgxml, "<name>snap-mem</name>"), "%s", imgxml);
    cr_expect_eq(files_with(T.root, "qvirt-part"), 0, "a temporary image is left");
    cr_expect(g_file_test(ovl1, G_FILE_TEST_EXISTS), "no overlay %s", ovl1);
    g_autofree char *sx1 = snapshot_xml(m1);
    cr_expect(strstr(sx1, "<state>running</state>"), "%s", sx1);
    g_autofree char *want_mem = g_strdup_printf("<memory snapshot='external' file='%s'/>", mem1);
    cr_expect(strstr(sx1, want_mem), "%s", sx1);
    cr_expect(strstr(sx1, "<disk name='vdb' snapshot='external'"), "%s", sx1);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_EXTERNAL), 1);
    g_autofree char *live2 = domain_xml(dom, 0);
    g_autofree char *want_src = g_strdup_printf("<source file='%s'/>", ovl1);
    cr_expect(strstr(live2, want_src), "the live XML does not show the overlay: %s", live2);
    /* The snapshot was a job: its statistics say so. */
    qv_domain_job_stats js = { .size = sizeof js };
    itest_ok(qv_domain_get_job_stats(dom, &js, QV_DOMAIN_JOB_STATS_COMPLETED, &err), err);
    cr_expect_eq(js.type, QV_DOMAIN_JOB_COMPLETED);
    cr_expect_eq(js.operation, QV_DOMAIN_JOB_OPERATION_SNAPSHOT);

    /* The counter moves on, in RAM and on the disk (into the overlay). */
    set_counter(ga, dev, 2);
    cr_assert(itest_wait_console(&T, "CNT=2", CONSOLE_MS));
    g_autofree char *c2 = disk_counter(ga, dev);
    cr_expect_str_eq(c2, "DISK-2");
    qv_qmp_free(ga);

    /* Revert: a new QEMU restores m1's memory on a new overlay over m1's
     * disk image. */
    cr_assert_eq(truncate(T.console, 0), 0);
    itest_ok(qv_snapshot_revert_to(m1, 0, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    cr_expect_eq(reason, QV_DOMAIN_RUNNING_FROM_SNAPSHOT);
    assert_back_to("snap-mem", 1);

    /* LIVE: the CPUs run while QEMU writes the memory. */
    ga = itest_agent_open(&T, "snap-mem");
    g_free(dev);
    dev = guest_disk(ga);
    set_counter(ga, dev, 5);
    cr_assert(itest_wait_console(&T, "CNT=5", CONSOLE_MS));
    g_autofree char *mem2 = g_build_filename(T.root, "m2.mem", NULL);
    g_autofree char *x2 = g_strdup_printf("<domainsnapshot><name>m2</name><memory "
                                          "snapshot='external' file='%s'/></domainsnapshot>",
                                          mem2);
    g_autoptr(qv_snapshot) m2 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, x2, QV_DOMAIN_SNAPSHOT_CREATE_LIVE, &m2, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    g_autofree char *magic2 = file_magic(mem2);
    cr_expect_str_eq(magic2, "LibvirtQemudSave");
    set_counter(ga, dev, 6);
    cr_assert(itest_wait_console(&T, "CNT=6", CONSOLE_MS));
    qv_qmp_free(ga);
    /* REVERT_PAUSED overrides the recorded running state. */
    cr_assert_eq(truncate(T.console, 0), 0);
    itest_ok(qv_snapshot_revert_to(m2, QV_DOMAIN_SNAPSHOT_REVERT_PAUSED, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_PAUSED);
    cr_expect_eq(reason, QV_DOMAIN_PAUSED_FROM_SNAPSHOT);
    itest_ok(qv_domain_resume(dom, &err), err);
    assert_back_to("snap-mem", 5);

    /* HALT: the domain ends shut off (from snapshot); reverting to it
     * brings back the memory. */
    g_autofree char *mem3 = g_build_filename(T.root, "m3.mem", NULL);
    g_autofree char *ovl3 = g_build_filename(T.root, "mem.m3", NULL);
    g_autofree char *x3 = g_strdup_printf("<domainsnapshot><name>m3</name><memory "
                                          "snapshot='external' file='%s'/></domainsnapshot>",
                                          mem3);
    g_autoptr(qv_snapshot) m3 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, x3, QV_DOMAIN_SNAPSHOT_CREATE_HALT, &m3, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_SHUTOFF);
    cr_expect_eq(reason, QV_DOMAIN_SHUTOFF_FROM_SNAPSHOT);
    g_autofree char *sx3 = snapshot_xml(m3);
    cr_expect(strstr(sx3, "<state>running</state>"), "%s", sx3);
    cr_assert_eq(truncate(T.console, 0), 0);
    itest_ok(qv_snapshot_revert_to(m3, 0, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    assert_back_to("snap-mem", 5);

    /* A paused domain: the snapshot records paused and the domain stays
     * paused; once resumed, the guest writes its disk (QEMU's migration
     * left the images inactive until cont). */
    itest_ok(qv_domain_suspend(dom, &err), err);
    g_autofree char *mem4 = g_build_filename(T.root, "m4.mem", NULL);
    g_autofree char *ovl4 = g_build_filename(T.root, "mem.m4", NULL);
    g_autofree char *x4 = g_strdup_printf("<domainsnapshot><name>m4</name><memory "
                                          "snapshot='external' file='%s'/></domainsnapshot>",
                                          mem4);
    g_autoptr(qv_snapshot) m4 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, x4, 0, &m4, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_PAUSED);
    g_autofree char *sx4 = snapshot_xml(m4);
    cr_expect(strstr(sx4, "<state>paused</state>"), "%s", sx4);
    itest_ok(qv_domain_resume(dom, &err), err);
    ga = itest_agent_open(&T, "snap-mem");
    g_free(dev);
    dev = guest_disk(ga);
    set_counter(ga, dev, 7);
    g_autofree char *c7 = disk_counter(ga, dev);
    cr_expect_str_eq(c7, "DISK-7");
    qv_qmp_free(ga);
    cr_assert_eq(truncate(T.console, 0), 0);
    itest_ok(qv_snapshot_revert_to(m4, 0, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_expect_eq(state, QV_DOMAIN_PAUSED, "m4 was taken paused");
    itest_ok(qv_domain_resume(dom, &err), err);
    assert_back_to("snap-mem", 5);

    /* The CLI: snapshot-create-as --memspec ... --live, as virsh. */
    g_autofree char *mem5 = g_build_filename(T.root, "c5.mem", NULL);
    g_autofree char *spec = g_strdup_printf("file=%s,snapshot=external", mem5);
    g_autofree char *o5 = ITEST_CLI_OK(&T, "snapshot-create-as", "snap-mem", "c5", "--memspec",
                                       spec, "--live");
    cr_expect_str_eq(o5, "Domain snapshot c5 created\n\n");
    g_autofree char *magic5 = file_magic(mem5);
    cr_expect_str_eq(magic5, "LibvirtQemudSave");
    g_autofree char *info5 = ITEST_CLI_OK(&T, "snapshot-info", "snap-mem", "c5");
    cr_expect(strstr(info5, "State:          running\nLocation:       external\n"), "%s", info5);
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);

    /* Delete, shut off: the memory files and overlays go with the
     * snapshots (leaf first); with METADATA_ONLY m1's memory file stays. */
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    g_autofree char *d5 = ITEST_CLI_OK(&T, "snapshot-delete", "snap-mem", "c5");
    cr_expect_not(g_file_test(mem5, G_FILE_TEST_EXISTS), "%s is left", mem5);
    itest_ok(qv_snapshot_delete(m4, 0, &err), err);
    cr_expect_not(g_file_test(mem4, G_FILE_TEST_EXISTS), "%s is left", mem4);
    cr_expect_not(g_file_test(ovl4, G_FILE_TEST_EXISTS), "%s is left", ovl4);
    itest_ok(qv_snapshot_delete(m3, 0, &err), err);
    cr_expect_not(g_file_test(mem3, G_FILE_TEST_EXISTS), "%s is left", mem3);
    cr_expect_not(g_file_test(ovl3, G_FILE_TEST_EXISTS), "%s is left", ovl3);
    itest_ok(qv_snapshot_delete(m1, QV_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY, &err), err);
    cr_expect(g_file_test(mem1, G_FILE_TEST_EXISTS), "METADATA_ONLY removed %s", mem1);
    cr_expect_eq(snapshot_count(dom, 0), 1);
    itest_ok(qv_domain_create(dom, 0, &err), err);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

Test(snapshot, shutoff_internal_external)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *img = make_qcow2("off.qcow2");
    g_autoptr(qv_domain) dom = define(conn, "snap-off", img);
    qv_error *err = NULL;
    g_autofree char *w1 = HOST("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 64k", img);
    cr_assert_not_null(w1);

    /* Internal, shut off: qemu-img snapshot -c. */
    g_autoptr(qv_snapshot) o1 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>o1</name></domainsnapshot>", 0,
                                       &o1, &err), err);
    g_autofree char *x = snapshot_xml(o1);
    cr_expect(strstr(x, "<state>shutoff</state>"), "%s", x);
    cr_expect(strstr(x, "<memory snapshot='no'/>"), "%s", x);
    g_autofree char *lst = image_snapshots(img);
    cr_expect(strstr(lst, "o1"), "%s", lst);
    g_autofree char *w2 = HOST("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 0 64k", img);
    cr_assert_not_null(w2);
    itest_ok(qv_snapshot_revert_to(o1, 0, &err), err);
    g_autofree char *rd = HOST("qemu-io", "-f", "qcow2", "-c", "read -P 0x11 0 64k", img);
    cr_expect_not_null(rd, "the image did not go back to o1's data");
    int state = 0;
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_SHUTOFF);

    /* A redefinition and a name clash. */
    qv_snapshot *dup = NULL;
    cr_expect_eq(qv_domain_create_snapshot(dom, "<domainsnapshot><name>o1</name></domainsnapshot>",
                                           0, &dup, &err), -EEXIST);
    g_clear_pointer(&err, qv_error_free);

    /* External, shut off: an overlay by qemu-img, the config follows. */
    g_autofree char *ovl = g_build_filename(T.root, "off.x1", NULL);
    g_autoptr(qv_snapshot) x1 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>x1</name></domainsnapshot>",
                                       QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, &x1, &err), err);
    g_autofree char *cfg = domain_xml(dom, QV_DOMAIN_XML_INACTIVE);
    g_autofree char *want = g_strdup_printf("<source file='%s'/>", ovl);
    cr_expect(strstr(cfg, want), "%s", cfg);
    g_autofree char *w3 = HOST("qemu-io", "-f", "qcow2", "-c", "write -P 0x33 0 64k", ovl);
    cr_assert_not_null(w3);
    /* Revert: a fresh overlay on the image as it was. */
    itest_ok(qv_snapshot_revert_to(x1, 0, &err), err);
    g_autofree char *rd2 = HOST("qemu-io", "-f", "qcow2", "-c", "read -P 0x11 0 64k", ovl);
    cr_expect_not_null(rd2, "the reverted overlay does not show x1's data");
    /* Delete x1: the overlay is merged down and the config uses the base. */
    g_autofree char *w4 = HOST("qemu-io", "-f", "qcow2", "-c", "write -P 0x44 0 64k", ovl);
    cr_assert_not_null(w4);
    itest_ok(qv_snapshot_delete(x1, 0, &err), err);
    cr_expect_not(g_file_test(ovl, G_FILE_TEST_EXISTS), "the overlay is still there");
    g_autofree char *cfg2 = domain_xml(dom, QV_DOMAIN_XML_INACTIVE);
    g_autofree char *want2 = g_strdup_printf("<source file='%s'/>", img);
    cr_expect(strstr(cfg2, want2), "%s", cfg2);
    g_autofree char *rd3 = HOST("qemu-io", "-f", "qcow2", "-c", "read -P 0x44 0 64k", img);
    cr_expect_not_null(rd3, "the overlay's data did not reach the base image");

    /* Two external snapshots, y2 a child of y1: deleting y1 merges its
     * overlay, deep in the chain now, into the base (qemu-img commit) and
     * rebases y2's overlay onto the base; deleting y2 merges the top. */
    g_autofree char *oy1 = g_build_filename(T.root, "off.y1", NULL);
    g_autofree char *oy2 = g_build_filename(T.root, "off.y2", NULL);
    g_autoptr(qv_snapshot) y1 = NULL, y2 = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>y1</name></domainsnapshot>",
                                       QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, &y1, &err), err);
    g_free(HOST("qemu-io", "-f", "qcow2", "-c", "write -P 0x55 0 64k", oy1));
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>y2</name></domainsnapshot>",
                                       QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, &y2, &err), err);
    g_free(HOST("qemu-io", "-f", "qcow2", "-c", "write -P 0x66 64k 64k", oy2));
    itest_ok(qv_snapshot_delete(y1, 0, &err), err);
    cr_expect_not(g_file_test(oy1, G_FILE_TEST_EXISTS), "%s is left", oy1);
    g_autofree char *cy = vdb_chain(dom, QV_DOMAIN_XML_INACTIVE);
    g_autofree char *wy = g_strdup_printf("%s>%s", oy2, img);
    cr_expect_str_eq(cy, wy);
    g_autofree char *by2 = image_backing(oy2);
    cr_expect_str_eq(by2, img);
    g_autofree char *xy2 = snapshot_xml(y2);
    cr_expect_null(strstr(xy2, oy1), "y2 still names the merged overlay: %s", xy2);
    g_autofree char *r55 = HOST("qemu-io", "-f", "qcow2", "-c", "read -P 0x55 0 64k", oy2);
    cr_expect_not_null(r55, "y1's data is not under y2's overlay any more");
    itest_ok(qv_snapshot_delete(y2, 0, &err), err);
    cr_expect_not(g_file_test(oy2, G_FILE_TEST_EXISTS), "%s is left", oy2);
    g_autofree char *cy2 = vdb_chain(dom, QV_DOMAIN_XML_INACTIVE);
    cr_expect_str_eq(cy2, img);
    g_autofree char *r66 = HOST("qemu-io", "-f", "qcow2", "-c", "read -P 0x66 64k 64k", img);
    cr_expect_not_null(r66, "y2's data did not reach the base image");
    g_autofree char *r55b = HOST("qemu-io", "-f", "qcow2", "-c", "read -P 0x55 0 64k", img);
    cr_expect_not_null(r55b, "y1's data did not reach the base image");

    /* REDEFINE: metadata alone, with CURRENT; NO_METADATA: none kept. */
    g_autoptr(qv_snapshot) rdef = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>rd</name><state>shutoff</state>"
                                       "<creationTime>1000</creationTime><parent><name>o1</name>"
                                       "</parent></domainsnapshot>",
                                       QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE |
                                       QV_DOMAIN_SNAPSHOT_CREATE_CURRENT, &rdef, &err), err);
    cr_expect_eq(qv_snapshot_is_current(rdef, 0, &err), 1);
    g_autofree char *xrd = snapshot_xml(rdef);
    cr_expect(strstr(xrd, "<creationTime>1000</creationTime>"), "%s", xrd);
    qv_snapshot *bad = NULL;
    cr_expect_eq(qv_domain_create_snapshot(dom, "<domainsnapshot><name>r2</name><state>shutoff"
                                           "</state><parent><name>ghost</name></parent>"
                                           "</domainsnapshot>", QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE,
                                           &bad, &err), -EINVAL);
    cr_expect(err && strstr(qv_error_message(err), "'ghost'"), "%s", err ? qv_error_message(err) : "");
    g_clear_pointer(&err, qv_error_free);
    int before = snapshot_count(dom, 0);
    g_autoptr(qv_snapshot) nm = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>nm</name></domainsnapshot>",
                                       QV_DOMAIN_SNAPSHOT_CREATE_NO_METADATA, &nm, &err), err);
    cr_expect_eq(snapshot_count(dom, 0), before, "NO_METADATA kept metadata");
    g_autofree char *lnm = image_snapshots(img);
    cr_expect(strstr(lnm, "nm"), "the image holds nm: %s", lnm);
    /* Filters: o1 has the child rd; rd is a leaf; topological puts o1 first. */
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_NO_LEAVES), 1);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_LEAVES), 1);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_INACTIVE), 2);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_ACTIVE), 0);
    cr_expect_eq(snapshot_count(dom, QV_DOMAIN_SNAPSHOT_LIST_NO_METADATA), 0);
    char **names = NULL;
    itest_ok(qv_domain_list_snapshot_names(dom, 10, QV_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL, &names,
                                           &err), err);
    cr_expect_str_eq(names[0], "o1", "rd (created at 1000) still follows its parent");
    qv_snapshot_names_free(names);
    cr_expect_eq(qv_snapshot_num_of_child_snapshots(o1, QV_DOMAIN_SNAPSHOT_LIST_DESCENDANTS, &err), 1);
    cr_expect_eq(qv_domain_num_of_snapshots(dom, 1u << 20, &err), -EINVAL);
    g_clear_pointer(&err, qv_error_free);
    cr_expect_eq(qv_domain_create_snapshot(dom, NULL, QV_DOMAIN_SNAPSHOT_CREATE_CURRENT, &bad, &err),
                 -EINVAL);
    g_clear_pointer(&err, qv_error_free);

    /* Metadata only, then the domain goes with UNDEFINE_SNAPSHOTS_METADATA. */
    cr_expect_eq(qv_domain_undefine(dom, 0, &err), -EBUSY);
    g_clear_pointer(&err, qv_error_free);
    itest_ok(qv_domain_undefine(dom, QV_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA, &err), err);
    g_autofree char *sdir = g_build_filename(T.root, "config", "snapshot", "snap-off", NULL);
    cr_expect_not(g_file_test(sdir, G_FILE_TEST_EXISTS), "%s is left", sdir);
}

/* The virsh-style commands on a shut-off domain: their output and errors. */
Test(snapshot, cli)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *img = make_qcow2("cli.qcow2");
    g_autoptr(qv_domain) dom = define(conn, "snap-cli", img);
    int st = 0;
    g_autofree char *o1 = ITEST_CLI_OK(&T, "snapshot-create-as", "snap-cli", "c1", "first");
    cr_expect_str_eq(o1, "Domain snapshot c1 created\n\n");
    g_autofree char *o2 = ITEST_CLI_OK(&T, "snapshot-create-as", "snap-cli", "--name", "c2");
    g_autofree char *ovl = g_build_filename(T.root, "cli.c3", NULL);
    g_autofree char *spec = g_strdup_printf("vdb,snapshot=external,file=%s", ovl);
    g_autofree char *o3 = ITEST_CLI_OK(&T, "snapshot-create-as", "snap-cli", "c3", "--disk-only",
                                       "--diskspec", spec);
    cr_expect(g_file_test(ovl, G_FILE_TEST_EXISTS));

    /* list's snapshot filters, through the connection's list_all_domains. */
    g_autofree char *bare = g_build_filename(T.root, "bare.qcow2", NULL);
    g_autoptr(qv_domain) plain = define(conn, "snap-none", bare);
    g_autofree char *with = ITEST_CLI_OK(&T, "list", "--all", "--name", "--with-snapshot");
    cr_expect_str_eq(with, "snap-cli\n\n");
    g_autofree char *without = ITEST_CLI_OK(&T, "list", "--all", "--name", "--without-snapshot");
    cr_expect_str_eq(without, "snap-none\n\n");

    g_autofree char *tree = ITEST_CLI_OK(&T, "snapshot-list", "snap-cli", "--tree");
    cr_expect_str_eq(tree, "c1\n  |\n  +- c2\n      |\n      +- c3\n        \n\n");
    g_autofree char *names = ITEST_CLI_OK(&T, "snapshot-list", "snap-cli", "--name", "--leaves");
    cr_expect_str_eq(names, "c3\n\n");
    g_autofree char *ext = ITEST_CLI_OK(&T, "snapshot-list", "snap-cli", "--name", "--internal");
    cr_expect_str_eq(ext, "c1\nc2\n\n");
    g_autofree char *table = ITEST_CLI_OK(&T, "snapshot-list", "snap-cli", "--parent");
    cr_expect(g_str_has_prefix(table, " Name   Creation Time               State           Parent\n"),
              "%s", table);
    cr_expect(strstr(table, "disk-snapshot   c2\n"), "%s", table);
    g_autofree char *js = ITEST_CLI_OK(&T, "snapshot-list", "snap-cli", "--json");
    g_autoptr(json_object) arr = json_tokener_parse(js);
    cr_assert(json_object_is_type(arr, json_type_array), "%s", js);
    cr_expect_eq(json_object_array_length(arr), 3);

    g_autofree char *info = ITEST_CLI_OK(&T, "snapshot-info", "snap-cli", "--current");
    cr_expect_str_eq(info, "Name:           c3\nDomain:         snap-cli\nCurrent:        yes\n"
                           "State:          disk-snapshot\nLocation:       external\n"
                           "Parent:         c2\nChildren:       0\nDescendants:    0\n"
                           "Metadata:       yes\n\n");
    g_autofree char *cur = ITEST_CLI_OK(&T, "snapshot-current", "snap-cli", "--name");
    cr_expect_str_eq(cur, "c3\n\n");
    g_autofree char *par = ITEST_CLI_OK(&T, "snapshot-parent", "snap-cli", "c2");
    cr_expect_str_eq(par, "c1\n\n");
    g_autofree char *dx = ITEST_CLI_OK(&T, "snapshot-dumpxml", "snap-cli", "c1");
    cr_expect(strstr(dx, "<description>first</description>"), "%s", dx);
    g_autofree char *px = ITEST_CLI_OK(&T, "snapshot-create-as", "snap-cli", "p", "--print-xml",
                                       "--diskspec", "vdb,snapshot=external,file=/a,,b");
    cr_expect(strstr(px, "<source file='/a,b'/>"), "%s", px);

    /* snapshot-edit through $EDITOR: a description changed by sed. */
    g_setenv("EDITOR", "sed -i s/first/edited/", TRUE);
    g_unsetenv("VISUAL");
    g_autofree char *ed = ITEST_CLI_OK(&T, "snapshot-edit", "snap-cli", "c1");
    cr_expect_str_eq(ed, "Snapshot c1 edited.\n\n");
    g_autofree char *dx2 = ITEST_CLI_OK(&T, "snapshot-dumpxml", "snap-cli", "c1");
    cr_expect(strstr(dx2, "<description>edited</description>"), "%s", dx2);

    /* Errors: one line, "error: ...", exit 1. */
    g_autofree char *bad = ITEST_CLI(&T, &st, "snapshot-info", "snap-cli", "nope");
    cr_expect_eq(st, 1);
    cr_expect(strstr(bad, "error: domain 'snap-cli' has no snapshot named 'nope'\n"), "%s", bad);
    g_autofree char *xf = g_build_filename(T.root, "bad-snap.xml", NULL);
    cr_assert(g_file_set_contents(xf, "<domainsnapshot><memory snapshot='sideways'/>"
                                      "</domainsnapshot>", -1, NULL));
    g_autofree char *bad2 = ITEST_CLI(&T, &st, "snapshot-create", "snap-cli", xf);
    cr_expect_eq(st, 1);
    cr_expect(strstr(bad2, "error: /domainsnapshot/memory/@snapshot: unsupported value 'sideways'"),
              "%s", bad2);
    g_autofree char *und = ITEST_CLI(&T, &st, "undefine", "snap-cli");
    cr_expect_eq(st, 1);
    cr_expect(strstr(und, "error: cannot undefine domain 'snap-cli' with 3 snapshots"), "%s", und);

    g_autofree char *del = ITEST_CLI_OK(&T, "snapshot-delete", "snap-cli", "c3");
    cr_expect_str_eq(del, "Domain snapshot c3 deleted\n\n");
    g_autofree char *rv = ITEST_CLI_OK(&T, "snapshot-revert", "snap-cli", "c1");
    g_autofree char *delc = ITEST_CLI_OK(&T, "snapshot-delete", "snap-cli", "c1", "--children");
    cr_expect_str_eq(delc, "Domain snapshot c1 deleted\n\n");
    g_autofree char *empty = ITEST_CLI_OK(&T, "snapshot-list", "snap-cli", "--name");
    cr_expect_str_eq(empty, "\n");
    g_autofree char *u = ITEST_CLI_OK(&T, "undefine", "snap-cli");
}

/* True while some process holds the run's qmp.lock (a snapshot call holds
 * it from its first QMP command to its last). */
static bool qmp_lock_held(const char *name)
{
    g_autofree char *p = g_build_filename(T.root, "run", "domains", name, "qmp.lock", NULL);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

/* Callers killed at random points of a snapshot (before, during and after
 * QEMU's job): the domain must end running, the next snapshot must not trip
 * over a job a dead caller left, and revert and destroy must work. */
Test(snapshot, caller_killed_during_create)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *img = make_qcow2("kill.qcow2");
    g_autoptr(qv_domain) dom = define(conn, "snap-kill", img);
    boot(dom);
    qv_error *err = NULL;
    g_autoptr(GRand) rand = g_rand_new();
    int killed = 0;
    for (int round = 0; round < 8; round++) {
        g_autofree char *xml = g_strdup_printf("<domainsnapshot><name>k%d</name></domainsnapshot>",
                                               round);
        pid_t child = fork();
        cr_assert_geq(child, 0);
        if (child == 0) {
            qv_conn *c2 = NULL;
            qv_domain *d2 = NULL;
            if (qv_conn_open(T.uri, &c2, NULL) < 0 ||
                qv_conn_get_domain_by_name(c2, "snap-kill", &d2, NULL) < 0)
                _exit(2);
            _exit(qv_domain_create_snapshot(d2, xml, 0, NULL, NULL) < 0 ? 1 : 0);
        }
        /* Once the child holds qmp.lock, a random delay, then SIGKILL. */
        gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
        bool exited = false;
        while (!qmp_lock_held("snap-kill") && g_get_monotonic_time() < deadline)
            if ((exited = waitpid(child, NULL, WNOHANG) == child))
                break;
        if (!exited) {
            int delay_us = g_rand_int_range(rand, 0, 60 * 1000);
            poll(NULL, 0, delay_us / 1000);
            killed += kill(child, SIGKILL) == 0;
            waitpid(child, NULL, 0);
        }
        int reason = 0;
        cr_assert_eq(itest_wait_state(dom, QV_DOMAIN_RUNNING, 30000, &reason), QV_DOMAIN_RUNNING,
                     "round %d: the domain did not end running after its caller died", round);
    }
    cr_expect_gt(killed, 0, "no caller was killed inside the call");
    g_autoptr(qv_snapshot) s = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>after</name></domainsnapshot>",
                                       0, &s, &err), err);
    g_autofree char *x = snapshot_xml(s);
    cr_expect(strstr(x, "<state>running</state>"), "%s", x);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    itest_ok(qv_snapshot_revert_to(s, 0, &err), err);
    int state = 0;
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_expect_eq(state, QV_DOMAIN_RUNNING);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

static bool lifecycle_lock_held(const char *name)
{
    g_autofree char *f = g_strconcat(name, ".lock", NULL);
    g_autofree char *p = g_build_filename(T.root, "run", "locks", f, NULL);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

/* Callers killed at random points of an external snapshot's delete on a
 * running domain (before, during and after its active commit): the domain
 * runs on with a valid chain and everything the guest wrote; the snapshot
 * stays until a delete ends, a commit left READY can be pivoted like any
 * block job, and deleting again finishes. */
Test(snapshot, caller_killed_during_external_delete)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *img = make_qcow2("kdel.qcow2");
    g_autoptr(qv_domain) dom = define(conn, "snap-kdel", img);
    boot(dom);
    qv_qmp *ga = itest_agent_open(&T, "snap-kdel");
    g_autofree char *dev = guest_disk(ga);
    qv_error *err = NULL;
    g_autoptr(GRand) rand = g_rand_new();
    int killed = 0, left_job = 0, left_meta = 0;
    for (int round = 0; round < 6; round++) {
        g_autofree char *name = g_strdup_printf("k%d", round);
        g_autofree char *xml = g_strdup_printf("<domainsnapshot><name>%s</name></domainsnapshot>",
                                               name);
        g_autofree char *ovl = g_strdup_printf("%s/kdel.%s", T.root, name);
        qv_snapshot *s = NULL;
        itest_ok(qv_domain_create_snapshot(dom, xml, QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, &s,
                                           &err), err);
        /* Some MiB in the overlay, so the commit takes a while. */
        g_autofree char *fill = g_strdup_printf("dd if=/dev/urandom of=/dev/%s bs=1048576 seek=1 "
                                                "count=6 conv=fsync 2>/dev/null", dev);
        g_free(guest_ok(ga, fill));
        set_counter(ga, dev, 10 + round);
        pid_t child = fork();
        cr_assert_geq(child, 0);
        if (child == 0) {
            qv_conn *c2 = NULL;
            qv_domain *d2 = NULL;
            qv_snapshot *s2 = NULL;
            if (qv_conn_open(T.uri, &c2, NULL) < 0 ||
                qv_conn_get_domain_by_name(c2, "snap-kdel", &d2, NULL) < 0 ||
                qv_domain_get_snapshot_by_name(d2, name, 0, &s2, NULL) < 0)
                _exit(2);
            _exit(qv_snapshot_delete(s2, 0, NULL) < 0 ? 1 : 0);
        }
        gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
        bool exited = false;
        while (!lifecycle_lock_held("snap-kdel") && g_get_monotonic_time() < deadline)
            if ((exited = waitpid(child, NULL, WNOHANG) == child))
                break;
        if (!exited) {
            poll(NULL, 0, g_rand_int_range(rand, 0, 250));
            killed += kill(child, SIGKILL) == 0 && waitpid(child, NULL, WNOHANG) == 0;
            waitpid(child, NULL, 0);
        }
        int state = 0;
        itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
        cr_assert_eq(state, QV_DOMAIN_RUNNING, "round %d", round);
        g_autofree char *c = disk_counter(ga, dev);
        g_autofree char *want = g_strdup_printf("DISK-%d", 10 + round);
        cr_assert_str_eq(c, want, "round %d: the guest's data", round);
        /* A commit its dead caller left: pivoted once READY, as any job. */
        for (gint64 end = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;;) {
            qv_block_job_info info;
            int j = qv_domain_get_block_job_info(dom, "vdb", &info, 0, &err);
            itest_ok(j, err);
            if (j == 0)
                break;
            left_job += info.ready;
            cr_assert_lt(g_get_monotonic_time(), end, "round %d: the job did not end", round);
            if (info.ready)
                itest_ok(qv_domain_abort_block_job(dom, "vdb", QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT,
                                                   &err), err);
            else
                poll(NULL, 0, 100);
        }
        if (qv_snapshot_has_metadata(s, 0, NULL) == 1) {
            left_meta++;
            itest_ok(qv_snapshot_delete(s, 0, &err), err);
        }
        qv_snapshot_free(s);
        cr_expect_eq(snapshot_count(dom, 0), 0, "round %d", round);
        cr_expect_not(g_file_test(ovl, G_FILE_TEST_EXISTS), "round %d: %s is left", round, ovl);
        g_autofree char *ch = vdb_chain(dom, 0);
        cr_expect_str_eq(ch, img, "round %d: the live chain", round);
        g_autofree char *cf = vdb_chain(dom, QV_DOMAIN_XML_INACTIVE);
        cr_expect_str_eq(cf, img, "round %d: the config's chain", round);
        g_autofree char *c2 = disk_counter(ga, dev);
        cr_expect_str_eq(c2, want, "round %d: the guest's data after the delete", round);
    }
    cr_expect_gt(killed, 0, "no caller was killed inside the call");
    fprintf(stderr, "test-snapshot: note: %d callers killed; %d left a READY commit, %d the "
            "snapshot\n", killed, left_job, left_meta);
    qv_qmp_free(ga);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    itest_ok(qv_domain_create(dom, 0, &err), err);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}
