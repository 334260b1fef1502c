/* The qvirt CLI with a real guest (scripts/make-test-guest): lifecycle
 * commands with virsh's exact messages and states, and the events that
 * `qvirt event` prints in another process. Skips when the guest is missing. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli-run.h"
#include "guest.h"
#include "leftovers.h"

static cli_env env;
/* the background listener, killed in teardown when an assertion fails */
static cli_bg bg;

static void setup(void)
{
    cli_env_init(&env);
}

static void teardown(void)
{
    /* never leave a QEMU or a listener behind, whatever failed */
    if (bg.pid > 0) {
        kill(bg.pid, SIGKILL);
        waitpid(bg.pid, NULL, 0);
        bg.pid = 0;
    }
    g_auto(cli_result) r = { 0 };
    if (env.uri) {
        cli_run_uri(&r, env.uri, "destroy", "demo", NULL);
        cli_run_uri(&r, env.uri, "destroy", "tdemo", NULL);
        /* a migration's destination root, inside the test's */
        g_autofree char *dst = g_build_filename(env.root, "dst", NULL);
        if (g_file_test(dst, G_FILE_TEST_IS_DIR))
            qvt_kill_leftovers(dst);
    }
    cli_env_clear(&env);
}

TestSuite(cli_guest, .init = setup, .fini = teardown, .timeout = 240);

#define ASSERT_OK(r) \
    cr_assert_eq((r).status, 0, "exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)
#define ASSERT_OUT(r, want) \
    do { \
        ASSERT_OK(r); \
        cr_assert_str_eq((r).out, want); \
    } while (0)

/* examples/demo.xml pointed at the built guest, under the given name. */
static char *guest_xml_file(const char *name)
{
    g_autofree char *reason = NULL, *kernel = NULL;
    if (!qv_test_guest_available(&reason))
        cr_skip_test("%s", reason);
    if (!qv_test_guest_paths(&kernel, NULL, &reason))
        cr_skip_test("%s", reason);
    const char *src = g_getenv("QVIRT_SOURCE_ROOT");
    cr_assert(src, "QVIRT_SOURCE_ROOT is not set (run through meson test)");
    g_autofree char *demo = g_build_filename(src, "examples", "demo.xml", NULL);
    g_autofree char *xml = NULL;
    cr_assert(g_file_get_contents(demo, &xml, NULL, NULL), "cannot read %s", demo);
    g_autofree char *dir = g_path_get_dirname(kernel);
    g_auto(GStrv) parts = g_strsplit(xml, "@GUEST@", -1);
    g_autofree char *joined = g_strjoinv(dir, parts);
    g_auto(GStrv) named = g_strsplit(joined, "<name>demo</name>", -1);
    /* a fixed UUID, so that defining the file again updates the domain */
    g_autofree char *uuid = g_uuid_string_random();
    g_autofree char *tag = g_strdup_printf("<name>%s</name>\n  <uuid>%s</uuid>", name, uuid);
    g_autofree char *out = g_strjoinv(tag, named);
    g_autofree char *file = g_strdup_printf("%s.xml", name);
    return cli_write_file(&env, file, out);
}

static char *state_reason(void)
{
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "domstate", "--reason", "demo", NULL);
    ASSERT_OK(r);
    return g_strdup(r.out);
}

Test(cli_guest, lifecycle_and_events)
{
    g_autofree char *xml = guest_xml_file("demo");
    g_auto(cli_result) r = { 0 };

    const char *argv[] = { "-c", env.uri, "event", "--domain", "demo", "--all", "--loop",
                           "--timeout", "200", NULL };
    /* the domain must exist for --domain: define it first, then keep
     * redefining until the listener reports one */
    cli_run_uri(&r, env.uri, "define", xml, NULL);
    ASSERT_OK(r);
    cr_assert(cli_bg_start(&bg, argv));
    bool ready = false;
    for (int i = 0; i < 50 && !ready; i++) {
        cli_run_uri(&r, env.uri, "define", xml, NULL);
        ASSERT_OK(r);
        ready = cli_bg_wait_for(&bg, "event 'lifecycle' for domain 'demo': Defined Updated\n", 200);
    }
    cr_assert(ready, "the listener saw no event: %s", bg.out->str);

    cli_run_uri(&r, env.uri, "start", "demo", NULL);
    ASSERT_OUT(r, "Domain 'demo' started\n\n");
    g_autofree char *s1 = state_reason();
    cr_assert_str_eq(s1, "running (booted)\n\n");

    cli_run_uri(&r, env.uri, "start", "demo", NULL);
    cr_assert_eq(r.status, 1, "starting twice must fail");

    cli_run_uri(&r, env.uri, "domid", "demo", NULL);
    ASSERT_OK(r);
    cr_assert(g_regex_match_simple("^[0-9]+\n\n$", r.out, 0, 0), "%s", r.out);
    g_autofree char *id = g_strndup(r.out, strchr(r.out, '\n') - r.out);
    cli_run_uri(&r, env.uri, "domname", id, NULL);
    ASSERT_OUT(r, "demo\n\n");
    /* a DOMAIN argument may be the id */
    cli_run_uri(&r, env.uri, "domstate", id, NULL);
    ASSERT_OUT(r, "running\n\n");

    cli_run_uri(&r, env.uri, "list", NULL);
    ASSERT_OK(r);
    size_t w = MAX(strlen(id), 2);
    g_autofree char *dashes = g_strnfill(w + 3 + 7 + 10, '-');
    g_autofree char *want_list = g_strdup_printf(" %-*s   Name   State\n%s\n %-*s   demo   running\n\n",
                                                 (int)w, "Id", dashes, (int)w, id);
    cr_assert_str_eq(r.out, want_list);

    /* Keys and NMIs reach QEMU; the demo domain has no display to shoot. */
    cli_run_uri(&r, env.uri, "send-key", "demo", "KEY_A", "0x1e", NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "send-key", "demo", "--codeset", "usb", "4", NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "send-key", "demo", "KEY_NOPE", NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "error: unknown key name 'KEY_NOPE'"), "%s", r.err);
    cli_run_uri(&r, env.uri, "inject-nmi", "demo", NULL);
    ASSERT_OK(r);
    g_autofree char *shot = g_build_filename(env.root, "shot.png", NULL);
    cli_run_uri(&r, env.uri, "screenshot", "demo", shot, NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "There is no console to take a screendump from"), "%s", r.err);
    cr_assert_not(g_file_test(shot, G_FILE_TEST_EXISTS), "a failed screenshot left a file");

    cli_run_uri(&r, env.uri, "dominfo", "demo", NULL);
    ASSERT_OK(r);
    g_autofree char *idline = g_strdup_printf("Id:             %s\n", id);
    cr_assert(g_str_has_prefix(r.out, idline), "%s", r.out);
    cr_assert(strstr(r.out, "\nState:          running\n"), "%s", r.out);
    cr_assert(g_regex_match_simple("\nCPU time:       [0-9]+\\.[0-9]s\n", r.out, 0, 0), "%s", r.out);
    cr_assert(strstr(r.out, "\nMax memory:     262144 KiB\n"), "%s", r.out);

    cli_run_uri(&r, env.uri, "domcontrol", "demo", NULL);
    ASSERT_OUT(r, "ok\n\n");

    cli_run_uri(&r, env.uri, "suspend", "demo", NULL);
    ASSERT_OUT(r, "Domain 'demo' suspended\n\n");
    g_autofree char *s2 = state_reason();
    cr_assert_str_eq(s2, "paused (user)\n\n");
    cli_run_uri(&r, env.uri, "list", "--state-paused", "--name", NULL);
    ASSERT_OUT(r, "demo\n\n");

    cli_run_uri(&r, env.uri, "resume", "demo", NULL);
    ASSERT_OUT(r, "Domain 'demo' resumed\n\n");
    g_autofree char *s3 = state_reason();
    cr_assert_str_eq(s3, "running (unpaused)\n\n");

    cli_run_uri(&r, env.uri, "qemu-monitor-command", "demo", "--return-value",
                "{\"execute\":", "\"query-status\"}", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "\"status\"") && strstr(r.out, "\"running\""), "%s", r.out);

    cli_run_uri(&r, env.uri, "dumpxml", "demo", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "<domain") && strstr(r.out, "id="), "%s", r.out);
    /* User networking: also when the suite runs as an ordinary user. */
    cli_run_uri(&r, env.uri, "domiflist", "demo", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "user") && strstr(r.out, "52:54:00:de:00:01"), "%s", r.out);
    cli_run_uri(&r, env.uri, "qemu-monitor-command", "demo", "--return-value",
                "{\"execute\":", "\"query-rx-filter\"}", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "52:54:00:de:00:01"), "QEMU has no such NIC: %s", r.out);

    cli_run_uri(&r, env.uri, "reset", "demo", NULL);
    ASSERT_OUT(r, "Domain 'demo' was reset\n\n");

    cli_run_uri(&r, env.uri, "destroy", "demo", NULL);
    ASSERT_OUT(r, "Domain 'demo' destroyed\n\n");
    g_autofree char *s4 = state_reason();
    cr_assert_str_eq(s4, "shut off (destroyed)\n\n");
    cli_run_uri(&r, env.uri, "domid", "demo", NULL);
    ASSERT_OUT(r, "-\n\n");

    bool stopped = cli_bg_wait_for(&bg, "event 'lifecycle' for domain 'demo': Stopped Destroyed\n", 20000);
    int status = cli_bg_finish(&bg, SIGINT, 10000);
    bg.pid = 0;
    cr_assert(stopped, "%s", bg.out->str);
    const char *lines[] = {
        "event 'lifecycle' for domain 'demo': Started Booted\n",
        "event 'lifecycle' for domain 'demo': Suspended Paused\n",
        "event 'lifecycle' for domain 'demo': Resumed Unpaused\n",
        "event 'lifecycle' for domain 'demo': Stopped Destroyed\n",
        "event loop interrupted\nevents received: ",
    };
    const char *at = bg.out->str;
    for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
        const char *p = strstr(at, lines[i]);
        cr_assert(p, "missing or out of order: %s\nin:\n%s", lines[i], bg.out->str);
        at = p + strlen(lines[i]);
    }
    cr_assert_eq(status, 0);
    g_string_free(bg.out, TRUE);
}

Test(cli_guest, shutdown_by_acpi)
{
    g_autofree char *xml = guest_xml_file("demo");
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "define", xml, NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "start", "demo", NULL);
    ASSERT_OK(r);
    /* the guest honours the power button once booted: ask until it goes */
    g_autofree char *state = NULL;
    for (int i = 0; i < 40; i++) {
        cli_run_uri(&r, env.uri, "shutdown", "demo", "--mode", "acpi", NULL);
        if (r.status == 0)
            cr_assert_str_eq(r.out, "Domain 'demo' is being shutdown\n\n");
        /* Its lifecycle event, or 3 s: a guest still booting ignores the
         * button (and an event that came before the listener is missed). */
        g_auto(cli_result) ev = { 0 };
        cli_run_uri(&ev, env.uri, "event", "--domain", "demo", "--event", "lifecycle",
                    "--timeout", "3", NULL);
        g_free(state);
        state = state_reason();
        if (g_str_has_prefix(state, "shut off"))
            break;
    }
    cr_assert_str_eq(state, "shut off (shutdown)\n\n");
}

Test(cli_guest, autostart_all_and_transient)
{
    g_autofree char *xml = guest_xml_file("demo");
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "define", xml, NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "autostart-all", NULL);
    ASSERT_OUT(r, "\n");
    cli_run_uri(&r, env.uri, "autostart", "demo", NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "autostart-all", NULL);
    ASSERT_OUT(r, "Domain 'demo' started\n\n");
    /* already running: nothing to do */
    cli_run_uri(&r, env.uri, "autostart-all", NULL);
    ASSERT_OUT(r, "\n");
    cli_run_uri(&r, env.uri, "destroy", "demo", NULL);
    ASSERT_OK(r);

    /* a transient domain from create: gone once destroyed */
    g_autofree char *txml = guest_xml_file("tdemo");
    cli_run_uri(&r, env.uri, "create", txml, NULL);
    ASSERT_OK(r);
    g_autofree char *want = g_strdup_printf("Domain 'tdemo' created from %s\n\n", txml);
    cr_assert_str_eq(r.out, want);
    cli_run_uri(&r, env.uri, "list", "--transient", "--name", NULL);
    ASSERT_OUT(r, "tdemo\n\n");
    cli_run_uri(&r, env.uri, "destroy", "tdemo", NULL);
    ASSERT_OUT(r, "Domain 'tdemo' destroyed\n\n");
    cli_run_uri(&r, env.uri, "list", "--all", "--name", NULL);
    ASSERT_OUT(r, "demo\n\n");

    /* --autodestroy: the domain dies with the qvirt command that made it */
    cli_run_uri(&r, env.uri, "create", "--autodestroy", txml, NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "list", "--all", "--name", NULL);
    ASSERT_OUT(r, "demo\n\n");
}

/* save, restore, managed save, dump and the job commands, with virsh's
 * messages and states. */
Test(cli_guest, save_restore_and_managed_save)
{
    g_autofree char *xml = guest_xml_file("demo");
    g_autofree char *img = g_build_filename(env.root, "demo.img", NULL);
    g_autofree char *core = g_build_filename(env.root, "demo.core", NULL);
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "define", xml, NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "start", "demo", NULL);
    ASSERT_OK(r);

    cli_run_uri(&r, env.uri, "save", "demo", img, "--verbose", NULL);
    g_autofree char *want = g_strdup_printf("\nDomain 'demo' saved to %s\n\n", img);
    ASSERT_OUT(r, want);
    cr_assert(strstr(r.err, "Save: [100 %]"), "no progress: %s", r.err);
    g_autofree char *s1 = state_reason();
    cr_assert_str_eq(s1, "shut off (saved)\n\n");
    cli_run_uri(&r, env.uri, "save-image-dumpxml", img, NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "<name>demo</name>"), "%s", r.out);
    cli_run_uri(&r, env.uri, "domjobinfo", "demo", "--completed", NULL);
    ASSERT_OK(r);
    cr_assert(g_str_has_prefix(r.out, "Job type:         Completed   \nOperation:        Save"),
              "%s", r.out);

    cli_run_uri(&r, env.uri, "restore", img, NULL);
    g_autofree char *want_r = g_strdup_printf("Domain restored from %s\n\n", img);
    ASSERT_OUT(r, want_r);
    g_autofree char *s2 = state_reason();
    cr_assert_str_eq(s2, "running (restored)\n\n");
    cli_run_uri(&r, env.uri, "domjobinfo", "demo", NULL);
    ASSERT_OUT(r, "Job type:         None        \n\n");

    cli_run_uri(&r, env.uri, "dump", "demo", core, "--memory-only", NULL);
    g_autofree char *want_d = g_strdup_printf("\nDomain 'demo' dumped to %s\n\n", core);
    ASSERT_OUT(r, want_d);

    cli_run_uri(&r, env.uri, "managedsave", "demo", NULL);
    ASSERT_OUT(r, "\nDomain 'demo' state saved by qvirt\n\n");
    cli_run_uri(&r, env.uri, "dominfo", "demo", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "Managed save:   yes\n"), "%s", r.out);
    cli_run_uri(&r, env.uri, "list", "--all", "--managed-save", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, " demo   saved\n"), "%s", r.out);
    cli_run_uri(&r, env.uri, "list", "--all", "--with-managed-save", "--name", NULL);
    ASSERT_OUT(r, "demo\n\n");
    cli_run_uri(&r, env.uri, "undefine", "demo", NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(g_str_has_prefix(r.err, "error: refusing to undefine domain 'demo' while its "
                               "managed save image exists"), "%s", r.err);
    cli_run_uri(&r, env.uri, "start", "demo", NULL);
    ASSERT_OUT(r, "Domain 'demo' started\n\n");
    g_autofree char *s3 = state_reason();
    cr_assert_str_eq(s3, "running (restored)\n\n");
    cli_run_uri(&r, env.uri, "managedsave-remove", "demo", NULL);
    ASSERT_OUT(r, "Domain 'demo' has no manage save image; removal skipped\n\n");
    cli_run_uri(&r, env.uri, "destroy", "demo", NULL);
    ASSERT_OK(r);

    /* A file that is no image: one sentence, exit 1. */
    cli_run_uri(&r, env.uri, "restore", xml, NULL);
    cr_assert_eq(r.status, 1);
    g_autofree char *want_e = g_strdup_printf("error: %s: the file is not a save image (no "
                                              "libvirt save-image magic at its start)\n", xml);
    cr_assert_str_eq(r.err, want_e);
}

/* How long the test guest may take to boot under TCG. */
#define GUEST_BOOT_MS 90000

/* The guest is up once its balloon driver reports (dommemstat's
 * last_update), which is late in its boot. */
static void wait_booted(const char *uri, const char *name)
{
    g_auto(cli_result) r = { 0 };
    gint64 deadline = g_get_monotonic_time() + GUEST_BOOT_MS * G_TIME_SPAN_MILLISECOND;
    for (;;) {
        cli_run_uri(&r, uri, "dommemstat", name, NULL);
        ASSERT_OK(r);
        if (strstr(r.out, "last_update "))
            return;
        cr_assert_lt(g_get_monotonic_time(), deadline, "the guest did not boot: %s", r.out);
        g_usleep(500000);
    }
}

/* migrate --live --verbose to another root on this host: virsh's progress
 * line, the completed job's statistics, the domain running (migrated) at
 * the destination and shut off (migrated) here; then back, not live and
 * persistently. */
Test(cli_guest, migrate_live_verbose)
{
    g_autofree char *xml = guest_xml_file("demo");
    g_autofree char *dst_root = g_build_filename(env.root, "dst", NULL);
    cr_assert_eq(mkdir(dst_root, 0700), 0);
    g_autofree char *dst = g_strdup_printf("qvirt:///embed?root=%s", dst_root);
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "define", xml, NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "start", "demo", NULL);
    ASSERT_OK(r);
    wait_booted(env.uri, "demo");

    /* 50 MiB/s: the ~90 MiB the guest uses take long enough for the
     * watcher to report progress on the way */
    cli_run_uri(&r, env.uri, "migrate", "--live", "--verbose", "--bandwidth", "50", "demo", dst,
                NULL);
    ASSERT_OUT(r, "\n");
    /* virsh's lines; a poll that finds nothing left says 100 too */
    cr_assert(g_regex_match_simple("^(\rMigration: \\[ {0,2}[0-9]{1,3} %\\])*"
                                   "\rMigration: \\[100 %\\]\n$", r.err, 0, 0),
              "not virsh's progress lines: %s", r.err);
    cr_assert(g_regex_match_simple("\rMigration: \\[ {1,2}[0-9]{1,2} %\\]", r.err, 0, 0),
              "no progress on the way: %s", r.err);

    cli_run_uri(&r, dst, "domstate", "demo", NULL);
    ASSERT_OUT(r, "running\n\n");
    cli_run_uri(&r, dst, "domstate", "--reason", "demo", NULL);
    ASSERT_OUT(r, "running (migrated)\n\n");
    g_autofree char *src_state = state_reason();
    cr_assert_str_eq(src_state, "shut off (migrated)\n\n");
    /* without --persistent the destination's domain is transient */
    cli_run_uri(&r, dst, "list", "--transient", "--name", NULL);
    ASSERT_OUT(r, "demo\n\n");

    cli_run_uri(&r, env.uri, "domjobinfo", "demo", "--completed", "--keep-completed", NULL);
    ASSERT_OK(r);
    const char *labels[] = {
        "Job type:         Completed   \nOperation:        Outgoing migration\n",
        "\nTime elapsed:     ", "\nData processed:   ", "\nData remaining:   0.000 B\n",
        "\nData total:       ", "\nMemory processed: ", "\nMemory remaining: 0.000 B\n",
        "\nMemory total:     ", "\nPage size:        4096         bytes\n",
        "\nIteration:        ", "\nConstant pages:   ", "\nNormal pages:     ",
        "\nNormal data:      ", "\nTotal downtime:   ", "\nSetup time:       ",
    };
    const char *at = r.out;
    for (size_t i = 0; i < G_N_ELEMENTS(labels); i++) {
        const char *p = strstr(at, labels[i]);
        cr_assert(p, "missing or out of order: '%s' in:\n%s", labels[i], r.out);
        at = p + 1;
    }
    cr_assert(g_regex_match_simple("\nTotal downtime:   [0-9]+ +ms\n", r.out, 0, 0), "%s", r.out);
    /* --keep-completed kept them for this read */
    cli_run_uri(&r, env.uri, "domjobinfo", "demo", "--completed", "--json", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "\"Outgoing migration\"") && strstr(r.out, "\"downtime\""),
              "%s", r.out);

    /* back, not live (the CPUs stop for the transfer), persistently, the
     * source's config undefined */
    cli_run_uri(&r, dst, "migrate", "--persistent", "--undefinesource", "demo", env.uri,
                "tcp://127.0.0.1", NULL);
    ASSERT_OUT(r, "\n");
    cr_assert_str_eq(r.err, "");
    g_autofree char *back = state_reason();
    cr_assert_str_eq(back, "running (migrated)\n\n");
    cli_run_uri(&r, dst, "list", "--all", "--name", NULL);
    ASSERT_OUT(r, "\n");
    cli_run_uri(&r, env.uri, "destroy", "demo", NULL);
    ASSERT_OK(r);
}

/* --timeout: once the migration has run a second, the domain is suspended
 * (paused (migrating)) while the job goes on, as virsh's watcher does it;
 * migrate-setspeed from another process then speeds the job up, and the
 * guest runs at the destination. */
Test(cli_guest, migrate_timeout_suspends)
{
    g_autofree char *xml = guest_xml_file("demo");
    g_autofree char *dst_root = g_build_filename(env.root, "dst", NULL);
    cr_assert_eq(mkdir(dst_root, 0700), 0);
    g_autofree char *dst = g_strdup_printf("qvirt:///embed?root=%s", dst_root);
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "define", xml, NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "start", "demo", NULL);
    ASSERT_OK(r);
    wait_booted(env.uri, "demo");

    /* 5 MiB/s: the migration needs far longer than the timeout */
    const char *argv[] = { "-c", env.uri, "migrate", "--live", "--timeout", "1",
                           "--timeout-suspend", "--bandwidth", "5", "demo", dst, NULL };
    cr_assert(cli_bg_start(&bg, argv));
    gint64 deadline = g_get_monotonic_time() + 15 * G_TIME_SPAN_SECOND;
    g_autofree char *state = NULL;
    for (;;) {
        g_free(state);
        state = state_reason();
        if (!strcmp(state, "paused (migrating)\n\n"))
            break;
        cr_assert_str_eq(state, "running (booted)\n\n");
        cr_assert_lt(g_get_monotonic_time(), deadline, "the timeout did not suspend the domain");
        /* the suspend's lifecycle event (1 s: it may have come already) */
        g_auto(cli_result) ev = { 0 };
        cli_run_uri(&ev, env.uri, "event", "--domain", "demo", "--event", "lifecycle",
                    "--timeout", "1", NULL);
    }
    /* suspended while the job still runs, not by its end */
    cli_run_uri(&r, env.uri, "domjobinfo", "demo", NULL);
    ASSERT_OK(r);
    cr_assert(g_str_has_prefix(r.out, "Job type:         Unbounded   \n"
                                      "Operation:        Outgoing migration\n"), "%s", r.out);
    cli_run_uri(&r, env.uri, "migrate-setspeed", "demo", "1000", NULL);
    ASSERT_OK(r);
    int status = cli_bg_finish(&bg, 0, 120000);
    bg.pid = 0;
    cr_assert_eq(status, 0, "migrate failed: %s", bg.out->str);
    g_string_free(bg.out, TRUE);
    cli_run_uri(&r, dst, "domstate", "--reason", "demo", NULL);
    ASSERT_OUT(r, "running (migrated)\n\n");
    g_autofree char *src_state = state_reason();
    cr_assert_str_eq(src_state, "shut off (migrated)\n\n");
    cli_run_uri(&r, dst, "destroy", "demo", NULL);
    ASSERT_OK(r);
}
