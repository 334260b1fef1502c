/* Save, restore, managed save, core dumps and their jobs against real
 * QEMU and the test guest. The guest runs a counter (a shell loop writing
 * /tmp/counter) and keeps a marker file in RAM: a domain that comes back
 * with the marker and a counter that carries on from where it was is the
 * same guest, not a new boot. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_conn, qv_conn_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_domain, qv_domain_free)

static itest T;
static char *small_mount;

static void setup(void) { itest_setup(&T); }
static void teardown(void)
{
    if (small_mount) {
        const char *argv[] = { "umount", "-l", small_mount, NULL };
        g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, NULL, NULL);
        g_clear_pointer(&small_mount, g_free);
    }
    itest_teardown(&T);
}

TestSuite(save, .init = setup, .fini = teardown, .timeout = 300);

#define NOTE(...) (fprintf(stderr, "test-save: note: " __VA_ARGS__), fputc('\n', stderr))
#define BOOT_MS 90000

static qv_domain *define(qv_conn *conn, const char *name)
{
    g_autofree char *xml = itest_domain_xml(&T, name, NULL);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    return dom;
}

static void assert_state(qv_domain *dom, int want_state, int want_reason)
{
    int state = -1, reason = -1;
    qv_error *err = NULL;
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_assert_eq(state, want_state, "state %d (reason %d), expected %d", state, reason, want_state);
    cr_assert_eq(reason, want_reason, "reason %d, expected %d (state %d)", reason, want_reason,
                 state);
}

/* Boots the guest and starts its counter and marker. */
static qv_domain *boot_counting(qv_conn *conn, const char *name)
{
    qv_domain *dom = define(conn, name);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(dom, 0, &err), err);
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", BOOT_MS), "the guest did not boot");
    g_autoptr(qv_qmp) ga = itest_agent_open(&T, name);
    int code;
    g_autofree char *out = itest_guest_run(ga,
        "echo here-before-save > /tmp/marker; "
        "(i=0; while :; do i=$((i+1)); echo $i > /tmp/counter.new; "
        "mv /tmp/counter.new /tmp/counter; sleep 0.05; done) </dev/null >/dev/null 2>&1 &", &code);
    cr_assert_eq(code, 0);
    return dom;
}

static long read_counter(const char *name)
{
    g_autoptr(qv_qmp) ga = itest_agent_open(&T, name);
    int code;
    g_autofree char *out = itest_guest_run(ga, "cat /tmp/counter", &code);
    cr_assert_eq(code, 0, "no counter in the guest");
    return strtol(out, NULL, 10);
}

/* The guest is the one that was saved: its marker is there and its
 * counter goes on from at least `from`. */
static void assert_same_guest_counting(const char *name, long from)
{
    /* One agent client at a time: QEMU serves one connection. */
    qv_qmp *ga = itest_agent_open(&T, name);
    int code;
    g_autofree char *marker = itest_guest_run(ga, "cat /tmp/marker", &code);
    qv_qmp_free(ga);
    cr_assert_eq(code, 0, "the marker is gone: the guest booted anew");
    cr_assert_str_eq(g_strstrip(marker), "here-before-save");
    long now = read_counter(name);
    cr_assert_geq(now, from, "the counter went back: %ld < %ld", now, from);
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (read_counter(name) <= now)
        cr_assert_lt(g_get_monotonic_time(), deadline, "the counter stopped at %ld", now);
}

/* Nothing but want in dir: no temporary image left behind. */
static void assert_only_file(const char *dir, const char *want)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    cr_assert_not_null(d);
    const char *e;
    while ((e = g_dir_read_name(d)))
        cr_assert(want && !strcmp(e, want), "unexpected file %s in %s", e, dir);
}

/* No temporary image (".NAME.qvirt-part.PID") left in dir. */
static void assert_no_partial(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    cr_assert_not_null(d);
    const char *e;
    while ((e = g_dir_read_name(d)))
        cr_assert_null(strstr(e, ".qvirt-part."), "a temporary image %s stayed in %s", e, dir);
}

/* The connection's journal holds an event of name's with these numbers
 * (detail < 0: any). */
static bool journal_has(const char *name, int event_id, int event, int detail)
{
    g_autofree char *path = g_build_filename(T.root, "run", "events", NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return false;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        json_object *o = json_tokener_parse(*l), *v;
        bool hit = o && json_object_object_get_ex(o, "domain", &v) &&
                   !strcmp(json_object_get_string(v), name) &&
                   json_object_object_get_ex(o, "event_id", &v) && json_object_get_int(v) == event_id &&
                   json_object_object_get_ex(o, "event", &v) && json_object_get_int(v) == event &&
                   (detail < 0 || (json_object_object_get_ex(o, "detail", &v) &&
                                   json_object_get_int(v) == detail));
        json_object_put(o);
        if (hit)
            return true;
    }
    return false;
}

static char *read_all(const char *path, gsize *len)
{
    char *data = NULL;
    cr_assert(g_file_get_contents(path, &data, len, NULL), "cannot read %s", path);
    return data;
}

Test(save, save_then_restore_continues)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autoptr(qv_domain) dom = boot_counting(conn, "sv");
    qv_error *err = NULL;
    long before = read_counter("sv");
    g_autofree char *dir = g_build_filename(T.root, "images", NULL);
    cr_assert_eq(mkdir(dir, 0700), 0);
    g_autofree char *img = g_build_filename(dir, "sv.img", NULL);

    itest_ok(qv_domain_save(dom, img, NULL, 0, &err), err);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_SAVED);
    assert_only_file(dir, "sv.img");

    /* libvirt's header: complete magic, version 2, the XML, was running. */
    gsize len;
    g_autofree char *data = read_all(img, &len);
    cr_assert_gt(len, 1 << 20, "the image holds %zu bytes", len);
    cr_assert_eq(memcmp(data, "LibvirtQemudSave", 16), 0);
    guint32 f[5];
    memcpy(f, data + 16, sizeof f);
    cr_assert_eq(f[0], 2, "version %u", f[0]);
    cr_assert_eq(f[2], 1, "was_running %u", f[2]);
    cr_assert_eq(f[3], 0, "format %u", f[3]);
    cr_assert_eq((92 + f[1]) % 4096, 0, "the stream starts at %u", 92 + f[1]);
    cr_assert(strstr(data + 92, "<name>sv</name>"), "no domain XML in the image");
    /* QEMU's migration stream follows: its magic "QEVM". */
    cr_assert_eq(memcmp(data + 92 + f[1], "QEVM", 4), 0, "no QEMU stream after the header");

    char *xml = NULL;
    itest_ok(qv_conn_get_save_image_xml_description(conn, img, 0, &xml, &err), err);
    cr_assert(strstr(xml, "<name>sv</name>"));
    free(xml);

    itest_ok(qv_conn_restore_domain(conn, img, NULL, 0, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_RESTORED);
    assert_same_guest_counting("sv", before);
    cr_assert(journal_has("sv", QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_STOPPED,
                          QV_DOMAIN_EVENT_STOPPED_SAVED), "no STOPPED SAVED event");
    cr_assert(journal_has("sv", QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_STARTED,
                          QV_DOMAIN_EVENT_STARTED_RESTORED), "no STARTED RESTORED event");
    cr_assert(journal_has("sv", QV_DOMAIN_EVENT_ID_JOB_COMPLETED, 0, -1), "no JOB_COMPLETED event");

    qv_domain_job_stats st = { .size = sizeof st };
    itest_ok(qv_domain_get_job_stats(dom, &st, QV_DOMAIN_JOB_STATS_COMPLETED, &err), err);
    cr_assert_eq(st.type, QV_DOMAIN_JOB_COMPLETED);
    cr_assert_eq(st.operation, QV_DOMAIN_JOB_OPERATION_SAVE);
    cr_assert(st.fields & QV_DOMAIN_JOB_FIELD_MEMORY_TOTAL);
    cr_assert_gt(st.memory_total, 0);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);

    /* The image's XML and its state to restore are changed in place: the
     * domain comes back paused with the new XML. */
    xml = NULL;
    itest_ok(qv_conn_get_save_image_xml_description(conn, img, QV_DOMAIN_SAVE_IMAGE_XML_SECURE,
                                                    &xml, &err), err);
    g_auto(GStrv) parts = g_strsplit(xml, "</name>", 2);
    free(xml);
    g_autofree char *edited = g_strjoin("</name><description>edited in the image</description>",
                                        parts[0], parts[1], NULL);
    itest_ok(qv_conn_define_save_image_xml(conn, img, edited, QV_DOMAIN_SAVE_PAUSED, &err), err);
    itest_ok(qv_conn_restore_domain(conn, img, NULL, 0, &err), err);
    int state;
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_assert_eq(state, QV_DOMAIN_PAUSED);
    itest_ok(qv_domain_get_xml_description(dom, 0, &xml, &err), err);
    cr_assert(strstr(xml, "edited in the image"), "the restored domain has the old XML");
    free(xml);
    itest_ok(qv_domain_resume(dom, &err), err);
    assert_same_guest_counting("sv", before);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

Test(save, managed_save_through_start)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autoptr(qv_domain) dom = boot_counting(conn, "msv");
    qv_error *err = NULL;
    long before = read_counter("msv");
    cr_assert_eq(qv_domain_has_managed_save_image(dom, 0, &err), 0);
    itest_ok(qv_domain_managed_save(dom, 0, &err), err);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_SAVED);
    cr_assert_eq(qv_domain_has_managed_save_image(dom, 0, &err), 1);

    qv_domain **list = NULL;
    cr_assert_eq(qv_conn_list_all_domains(conn, QV_CONNECT_LIST_DOMAINS_MANAGEDSAVE, &list, &err), 1);
    qv_domain_list_free(list);
    cr_assert_eq(qv_conn_list_all_domains(conn, QV_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE, &list,
                                          &err), 0);
    qv_domain_list_free(list);
    /* undefine refuses while the image exists, as libvirt does. */
    cr_assert_eq(qv_domain_undefine(dom, 0, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "managed save"), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;

    /* start resumes it, and the image goes. */
    itest_ok(qv_domain_create(dom, 0, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_RESTORED);
    cr_assert_eq(qv_domain_has_managed_save_image(dom, 0, &err), 0);
    assert_same_guest_counting("msv", before);

    /* force boot discards it. */
    itest_ok(qv_domain_managed_save(dom, 0, &err), err);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_FORCE_BOOT, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    cr_assert_eq(qv_domain_has_managed_save_image(dom, 0, &err), 0);

    /* undefine with MANAGED_SAVE removes the image with the domain. */
    itest_ok(qv_domain_managed_save(dom, 0, &err), err);
    itest_ok(qv_domain_undefine(dom, QV_DOMAIN_UNDEFINE_MANAGED_SAVE, &err), err);
    g_autofree char *img = g_build_filename(T.root, "config", "save", "msv.save", NULL);
    cr_assert(!g_file_test(img, G_FILE_TEST_EXISTS), "the managed save image stayed");
}

/* A save that cannot write its image leaves the domain running. */
static void assert_failed_save_keeps_running(qv_domain *dom, const char *name, const char *path,
                                             const char *words)
{
    qv_error *err = NULL;
    long before = read_counter(name);
    int r = qv_domain_save(dom, path, NULL, 0, &err);
    cr_assert_lt(r, 0, "the save to %s worked", path);
    cr_assert(strstr(qv_error_message(err), words), "error: %s", qv_error_message(err));
    cr_assert_null(strchr(qv_error_message(err), '\n'));
    qv_error_free(err);
    int state;
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_assert_eq(state, QV_DOMAIN_RUNNING);
    cr_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
    long after = read_counter(name);
    cr_assert_geq(after, before);
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (read_counter(name) <= after)
        cr_assert_lt(g_get_monotonic_time(), deadline, "the counter stopped at %ld", after);
}

Test(save, failed_save_leaves_domain_running)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autoptr(qv_domain) dom = boot_counting(conn, "fsv");
    g_autofree char *bad = g_build_filename(T.root, "no", "such", "dir", "x.img", NULL);
    assert_failed_save_keeps_running(dom, "fsv", bad, "cannot create a file");
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);

    /* Out of space half-way: QEMU's stream fails, the CPUs run again. */
    if (geteuid() != 0) {
        NOTE("not root: no small tmpfs for the out-of-space save");
        return;
    }
    small_mount = g_build_filename(T.root, "small", NULL);
    mkdir(small_mount, 0700);
    const char *argv[] = { "mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small_mount, NULL };
    int st = -1;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, NULL, NULL, &st, NULL) || st != 0) {
        NOTE("cannot mount a tmpfs here: the out-of-space save is skipped");
        g_clear_pointer(&small_mount, g_free);
        return;
    }
    g_autofree char *full = g_build_filename(small_mount, "full.img", NULL);
    assert_failed_save_keeps_running(dom, "fsv", full, "cannot save domain 'fsv'");
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_SAVE_CANCELED);
    assert_only_file(small_mount, NULL);
    qv_error *err = NULL;
    qv_domain_job_stats js = { .size = sizeof js };
    itest_ok(qv_domain_get_job_stats(dom, &js, QV_DOMAIN_JOB_STATS_COMPLETED, &err), err);
    cr_assert_eq(js.type, QV_DOMAIN_JOB_FAILED);
    cr_assert(js.fields & QV_DOMAIN_JOB_FIELD_ERRMSG);
}

/* An ELF core of the guest, with its notes; the domain runs on. */
Test(save, core_dump_is_elf_with_notes)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autoptr(qv_domain) dom = boot_counting(conn, "dmp");
    qv_error *err = NULL;
    long before = read_counter("dmp");
    g_autofree char *core = g_build_filename(T.root, "dmp.core", NULL);
    itest_ok(qv_domain_core_dump(dom, core, QV_DUMP_MEMORY_ONLY, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_UNPAUSED);
    assert_same_guest_counting("dmp", before);

    gsize len;
    g_autofree char *data = read_all(core, &len);
    cr_assert_gt(len, sizeof(Elf64_Ehdr));
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(void *)data;
    cr_assert_eq(memcmp(eh->e_ident, ELFMAG, SELFMAG), 0, "not an ELF file");
    cr_assert_eq(eh->e_ident[EI_CLASS], ELFCLASS64);
    cr_assert_eq(eh->e_type, ET_CORE);
    cr_assert_eq(eh->e_machine, EM_X86_64);
    cr_assert_leq(eh->e_phoff + (gsize)eh->e_phnum * sizeof(Elf64_Phdr), len);
    bool core_note = false, qemu_note = false;
    guint64 load_bytes = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(void *)(data + eh->e_phoff + i * sizeof *ph);
        if (ph->p_type == PT_LOAD)
            load_bytes += ph->p_filesz;
        if (ph->p_type != PT_NOTE)
            continue;
        cr_assert_leq(ph->p_offset + ph->p_filesz, len);
        for (guint64 off = 0; off + sizeof(Elf64_Nhdr) <= ph->p_filesz;) {
            const Elf64_Nhdr *n = (const Elf64_Nhdr *)(void *)(data + ph->p_offset + off);
            const char *nm = (const char *)(n + 1);
            if (n->n_namesz >= 4 && !strncmp(nm, "CORE", 4) && n->n_type == NT_PRSTATUS)
                core_note = true;
            if (n->n_namesz >= 4 && !strncmp(nm, "QEMU", 4))
                qemu_note = true;
            off += sizeof *n + ((n->n_namesz + 3) & ~3u) + ((n->n_descsz + 3) & ~3u);
        }
    }
    cr_assert(core_note, "no CORE NT_PRSTATUS note");
    cr_assert(qemu_note, "no QEMU CPU state note");
    cr_assert_geq(load_bytes, 200ull << 20, "the dump holds %llu bytes of memory",
                  (unsigned long long)load_bytes);

    qv_domain_job_stats st = { .size = sizeof st };
    itest_ok(qv_domain_get_job_stats(dom, &st, QV_DOMAIN_JOB_STATS_COMPLETED, &err), err);
    cr_assert_eq(st.type, QV_DOMAIN_JOB_COMPLETED);
    cr_assert_eq(st.operation, QV_DOMAIN_JOB_OPERATION_DUMP);

    /* kdump-zlib, when this QEMU has it, is makedumpfile's flattened format. */
    g_autofree char *kd = g_build_filename(T.root, "dmp.kdump", NULL);
    int r = qv_domain_core_dump_format(dom, kd, QV_DOMAIN_CORE_DUMP_FORMAT_KDUMP_ZLIB,
                                       QV_DUMP_MEMORY_ONLY, &err);
    if (r == -ENOTSUP) {
        NOTE("%s", qv_error_message(err));
    } else {
        itest_ok(r, err);
        g_autofree char *kdata = read_all(kd, &len);
        cr_assert(len > 16 && !memcmp(kdata, "makedumpfile", 12), "not a flattened kdump");
    }

    /* LIVE: the CPUs are not stopped for it (no pause is recorded). */
    itest_ok(qv_domain_core_dump(dom, core, QV_DUMP_MEMORY_ONLY | QV_DUMP_LIVE, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_UNPAUSED);
    /* CRASH: the domain ends shut off (crashed) once the dump is written. */
    cr_assert_eq(qv_domain_core_dump(dom, core, QV_DUMP_CRASH | QV_DUMP_LIVE, &err), -EINVAL);
    qv_error_free(err);
    err = NULL;
    itest_ok(qv_domain_core_dump(dom, core, QV_DUMP_MEMORY_ONLY | QV_DUMP_CRASH, &err), err);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_CRASHED);
    cr_assert(journal_has("dmp", QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_STOPPED,
                          QV_DOMAIN_EVENT_STOPPED_CRASHED), "no STOPPED CRASHED event");
}

/* Sets QEMU's migration bandwidth low once the save's migration runs
 * (the save raised it before `migrate`): the save then takes minutes,
 * while the tests look at its job. */
static void slow_down_save(qv_domain *dom)
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
        cr_assert_lt(g_get_monotonic_time(), deadline, "the save's migration never began");
    }
    char *reply = NULL;
    qv_error *err = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\":\"migrate-set-parameters\","
                                            "\"arguments\":{\"max-bandwidth\":262144}}",
                                            &reply, 0, &err), err);
    free(reply);
}

/* The save runs in a child process; the test is the other process. */
static pid_t save_in_child(const char *name, const char *img)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        qv_conn *c = NULL;
        qv_domain *d = NULL;
        if (qv_conn_open(T.uri, &c, NULL) < 0 || qv_conn_get_domain_by_name(c, name, &d, NULL) < 0)
            _exit(3);
        int r = qv_domain_save(d, img, NULL, 0, NULL);
        _exit(r == -ECANCELED ? 0 : r == 0 ? 1 : 2);
    }
    return pid;
}

/* Fills guest memory with data that does not compress to zero pages, so
 * a save at low bandwidth has megabytes to write. */
static void fill_guest_memory(const char *name)
{
    g_autoptr(qv_qmp) ga = itest_agent_open(&T, name);
    int code;
    g_autofree char *out = itest_guest_run(ga, "head -c 16777216 /dev/urandom > /tmp/fill", &code);
    cr_assert_eq(code, 0);
}

Test(save, abort_from_another_process)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autoptr(qv_domain) dom = boot_counting(conn, "ab");
    fill_guest_memory("ab");
    qv_error *err = NULL;
    long before = read_counter("ab");
    g_autofree char *img = g_build_filename(T.root, "ab.img", NULL);
    pid_t child = save_in_child("ab", img);
    slow_down_save(dom);

    /* This process sees the other's job, and aborts it. */
    qv_domain_job_info info;
    itest_ok(qv_domain_get_job_info(dom, &info, &err), err);
    cr_assert_eq(info.type, QV_DOMAIN_JOB_UNBOUNDED);
    /* QEMU counts the memory once its migration leaves setup. */
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (info.mem_total == 0) {
        cr_assert_lt(g_get_monotonic_time(), deadline, "the job never reported its memory");
        itest_ok(qv_domain_get_job_info(dom, &info, &err), err);
        cr_assert_eq(info.type, QV_DOMAIN_JOB_UNBOUNDED);
    }
    qv_domain_control_info ci;
    itest_ok(qv_domain_get_control_info(dom, &ci, 0, &err), err);
    cr_assert_eq(ci.state, QV_DOMAIN_CONTROL_JOB);
    itest_ok(qv_domain_abort_job(dom, 0, &err), err);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the save did not end aborted (status %d)", status);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_SAVE_CANCELED);
    cr_assert(!g_file_test(img, G_FILE_TEST_EXISTS));
    assert_no_partial(T.root);
    itest_ok(qv_domain_get_job_info(dom, &info, &err), err);
    cr_assert_eq(info.type, QV_DOMAIN_JOB_NONE);
    assert_same_guest_counting("ab", before);
    qv_domain_job_stats st = { .size = sizeof st };
    itest_ok(qv_domain_get_job_stats(dom, &st, QV_DOMAIN_JOB_STATS_COMPLETED, &err), err);
    cr_assert_eq(st.type, QV_DOMAIN_JOB_CANCELLED);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

/* The dead save left its migration running and the CPUs stopped: any
 * call that changes the domain (qv_domain_begin) undoes that first. A save
 * to a folder that does not exist is one that changes nothing else. */
static long read_counter_after_recovery(qv_domain *dom, const char *name)
{
    qv_error *err = NULL;
    g_autofree char *bad = g_build_filename(T.root, "no-such-dir", "x.img", NULL);
    cr_assert_lt(qv_domain_save(dom, bad, NULL, 0, &err), 0);
    qv_error_free(err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_SAVE_CANCELED);
    return read_counter(name);
}

/* A caller killed mid-save leaves no job behind: the domain can be
 * destroyed and started, and a new save works. */
Test(save, killed_saver_leaves_domain_usable)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autoptr(qv_domain) dom = boot_counting(conn, "ks");
    fill_guest_memory("ks");
    qv_error *err = NULL;
    g_autofree char *img = g_build_filename(T.root, "ks.img", NULL);
    pid_t child = save_in_child("ks", img);
    slow_down_save(dom);
    kill(child, SIGKILL);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);

    qv_domain_job_info info;
    itest_ok(qv_domain_get_job_info(dom, &info, &err), err);
    cr_assert_eq(info.type, QV_DOMAIN_JOB_NONE, "a dead caller's job is still shown");
    cr_assert(!g_file_test(img, G_FILE_TEST_EXISTS), "a partial image took the name");

    /* The next call that changes the domain undoes what the dead save
     * began: QEMU's migration, the paused CPUs, the temporary file. A new
     * save then works, and the guest comes back from it. */
    long before = read_counter_after_recovery(dom, "ks");
    assert_no_partial(T.root);
    itest_ok(qv_domain_save(dom, img, NULL, 0, &err), err);
    itest_ok(qv_conn_restore_domain(conn, img, NULL, 0, &err), err);
    assert_same_guest_counting("ks", before);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    itest_ok(qv_domain_create(dom, 0, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

/* Images that are not whole give one clear sentence. */
Test(save, bad_images_are_refused_clearly)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    struct { const char *name; const char *data; gssize len; const char *words; } cases[] = {
        { "magic.img", "NotAnImageAtAll-and-more-bytes", -1, "not a save image" },
        { "short.img", "LibvirtQemudSave\002\000", 18, "truncated" },
        { "empty.img", "", 0, "not a save image" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *p = g_build_filename(T.root, cases[i].name, NULL);
        cr_assert(g_file_set_contents(p, cases[i].data, cases[i].len, NULL));
        qv_error *err = NULL;
        cr_assert_lt(qv_conn_restore_domain(conn, p, NULL, 0, &err), 0);
        cr_assert(strstr(qv_error_message(err), cases[i].words), "%s: %s", cases[i].name,
                  qv_error_message(err));
        cr_assert(strstr(qv_error_message(err), p), "the message does not name the file");
        cr_assert_null(strchr(qv_error_message(err), '\n'));
        qv_error_free(err);
    }
    /* A header whose save never finished, with its XML but no stream. */
    g_autofree char *part = g_build_filename(T.root, "part.img", NULL);
    char head[92 + 4004] = "LibvirtQemudPart";
    guint32 f[5] = { 2, 4004, 1, 0, 0 };
    memcpy(head + 16, f, sizeof f);
    strcpy(head + 92, "<domain type='qemu'><name>p</name></domain>");
    cr_assert(g_file_set_contents(part, head, sizeof head, NULL));
    qv_error *err = NULL;
    cr_assert_lt(qv_conn_restore_domain(conn, part, NULL, 0, &err), 0);
    cr_assert(strstr(qv_error_message(err), "incomplete"), "%s", qv_error_message(err));
    qv_error_free(err);
}
