/* The qvirt CLI without a running guest: argument errors, virsh's exact
 * output for an inactive domain, --json documents, metadata, events of
 * define/undefine seen from another process, and domxml-to-argv. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli-run.h"
#include "qv-json.h"

static cli_env env;
/* a background `qvirt event`, killed in teardown when an assertion fails */
static cli_bg bg;

static void setup(void)
{
    cli_env_init(&env);
}

static void teardown(void)
{
    if (bg.pid > 0) {
        kill(bg.pid, SIGKILL);
        waitpid(bg.pid, NULL, 0);
    }
    cli_env_clear(&env);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 60);

#define ASSERT_OK(r) \
    cr_assert_eq((r).status, 0, "exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)
#define ASSERT_FAILS(r) \
    do { \
        cr_assert_eq((r).status, 1, "exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err); \
        cr_assert(g_str_has_prefix((r).err, "error: "), "stderr: %s", (r).err); \
        cr_assert(strchr((r).err, '\n') == (r).err + strlen((r).err) - 1, \
                  "one line expected: %s", (r).err); \
    } while (0)

static json_object *parse_json(const char *text)
{
    json_object *o = json_tokener_parse(text);
    cr_assert(o, "not JSON: %s", text);
    return o;
}

static void define_small(const char *name)
{
    g_autofree char *xml = cli_small_xml(name);
    g_autofree char *file = g_strdup_printf("%s.xml", name);
    g_autofree char *path = cli_write_file(&env, file, xml);
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "define", path, NULL);
    ASSERT_OK(r);
    g_autofree char *want = g_strdup_printf("Domain '%s' defined from %s\n\n", name, path);
    cr_assert_str_eq(r.out, want);
}

/* ---- argument errors ---------------------------------------------------- */

Test(cli, no_command)
{
    g_auto(cli_result) r = { 0 };
    const char *argv[] = { NULL };
    cli_run(&r, argv);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "error: no command given"), "%s", r.err);
}

Test(cli, unknown_command)
{
    g_auto(cli_result) r = { 0 };
    const char *argv[] = { "frobnicate", NULL };
    cli_run(&r, argv);
    ASSERT_FAILS(r);
    cr_assert_str_eq(r.err, "error: unknown command: 'frobnicate'\n");
}

Test(cli, unknown_global_option)
{
    g_auto(cli_result) r = { 0 };
    const char *argv[] = { "--frob", "list", NULL };
    cli_run(&r, argv);
    ASSERT_FAILS(r);
}

Test(cli, unknown_command_option)
{
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "list", "--frob", NULL);
    ASSERT_FAILS(r);
    cr_assert_str_eq(r.err, "error: command 'list' doesn't support option --frob\n");
    cr_assert_str_eq(r.out, "");
}

Test(cli, missing_and_extra_arguments)
{
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "dominfo", NULL);
    ASSERT_FAILS(r);
    cr_assert_str_eq(r.err, "error: command 'dominfo' requires <domain> option\n");
    cli_run_uri(&r, env.uri, "dominfo", "a", "b", NULL);
    ASSERT_FAILS(r);
    cli_run_uri(&r, env.uri, "shutdown", "x", "--mode", "bogus", NULL);
    ASSERT_FAILS(r);
    cli_run_uri(&r, env.uri, "event", "--timeout", "soon", "--all", NULL);
    ASSERT_FAILS(r);
    cli_run_uri(&r, env.uri, "event", NULL);
    ASSERT_FAILS(r);
    cr_assert_str_eq(r.err, "error: one of --list, --all, or --event <type> is required\n");
    cli_run_uri(&r, env.uri, "event", "--event", "nonsense", NULL);
    ASSERT_FAILS(r);
    /* --json is rejected by commands that have no JSON form */
    cli_run_uri(&r, env.uri, "start", "x", "--json", NULL);
    ASSERT_FAILS(r);
}

Test(cli, missing_domain_and_file)
{
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "dominfo", "nosuch", NULL);
    ASSERT_FAILS(r);
    cr_assert(strstr(r.err, "nosuch"), "%s", r.err);
    cli_run_uri(&r, env.uri, "start", "nosuch", NULL);
    ASSERT_FAILS(r);
    cli_run_uri(&r, env.uri, "define", "/nonexistent/x.xml", NULL);
    ASSERT_FAILS(r);
    cr_assert(strstr(r.err, "/nonexistent/x.xml"), "%s", r.err);
    g_autofree char *bad = cli_write_file(&env, "bad.xml", "<domain><name>x</name>");
    cli_run_uri(&r, env.uri, "define", bad, NULL);
    ASSERT_FAILS(r);
}

Test(cli, bad_uri)
{
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, "qvirt:///embed?bogus=1", "list", NULL);
    ASSERT_FAILS(r);
}

Test(cli, help_and_version)
{
    g_auto(cli_result) r = { 0 };
    const char *help[] = { "--help", NULL };
    cli_run(&r, help);
    ASSERT_OK(r);
    const char *cmds[] = { "define", "undefine", "create", "start", "destroy", "shutdown",
                           "reboot", "reset", "suspend", "resume", "list", "dominfo",
                           "domstate", "domid", "domname", "domuuid", "dumpxml", "desc",
                           "metadata", "autostart", "autostart-all", "domcontrol", "event",
                           "qemu-monitor-command", "domxml-to-argv" };
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        g_autofree char *needle = g_strdup_printf("\n  %s ", cmds[i]);
        cr_assert(strstr(r.out, needle), "help lacks %s", cmds[i]);
    }
    const char *version[] = { "--version", NULL };
    cli_run(&r, version);
    ASSERT_OK(r);
    cr_assert(g_regex_match_simple("^[0-9]+\\.[0-9]+\\.[0-9]+\n$", r.out, 0, 0), "%s", r.out);
    const char *cmdhelp[] = { "domstate", "--help", NULL };
    cli_run(&r, cmdhelp);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "--reason"), "%s", r.out);
}

/* ---- an inactive domain, virsh's exact output ------------------------------ */

Test(cli, empty_list_table)
{
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "list", "--all", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, " Id   Name   State\n--------------------\n\n");
    cli_run_uri(&r, env.uri, "list", "--all", "-q", NULL);
    ASSERT_FAILS(r); /* -q is a global option, not a list option */
    const char *quiet[] = { "-q", "-c", env.uri, "list", "--all", NULL };
    cli_run(&r, quiet);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "");
}

Test(cli, define_list_info_undefine)
{
    define_small("demo");
    define_small("Alpha");
    g_auto(cli_result) r = { 0 };

    cli_run_uri(&r, env.uri, "list", "--all", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, " Id   Name    State\n"
                            "------------------------\n"
                            " -    Alpha   shut off\n"
                            " -    demo    shut off\n"
                            "\n");
    cli_run_uri(&r, env.uri, "list", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, " Id   Name   State\n--------------------\n\n");
    cli_run_uri(&r, env.uri, "list", "--inactive", "--name", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Alpha\ndemo\n\n");
    cli_run_uri(&r, env.uri, "list", "--all", "--state-running", "--name", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "\n");
    cli_run_uri(&r, env.uri, "list", "--all", "--transient", "--name", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "\n");

    cli_run_uri(&r, env.uri, "domuuid", "demo", NULL);
    ASSERT_OK(r);
    cr_assert(g_regex_match_simple("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n\n$",
                                   r.out, 0, 0), "%s", r.out);
    g_autofree char *uuid = g_strndup(r.out, 36);

    cli_run_uri(&r, env.uri, "dominfo", "demo", NULL);
    ASSERT_OK(r);
    g_autofree char *want = g_strdup_printf(
        "Id:             -\n"
        "Name:           demo\n"
        "UUID:           %s\n"
        "OS Type:        hvm\n"
        "State:          shut off\n"
        "CPU(s):         2\n"
        "Max memory:     131072 KiB\n"
        "Used memory:    131072 KiB\n"
        "Persistent:     yes\n"
        "Autostart:      disable\n"
        "Managed save:   no\n"
        "Security model: none\n"
        "Security DOI:   0\n"
        "\n", uuid);
    cr_assert_str_eq(r.out, want);

    /* the same domain by UUID */
    cli_run_uri(&r, env.uri, "dominfo", uuid, NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, want);
    cli_run_uri(&r, env.uri, "domname", uuid, NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "demo\n\n");

    cli_run_uri(&r, env.uri, "domstate", "demo", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "shut off\n\n");
    cli_run_uri(&r, env.uri, "domstate", "demo", "--reason", NULL);
    ASSERT_OK(r);
    cr_assert(g_regex_match_simple("^shut off \\((unknown|shutdown|destroyed)\\)\n\n$", r.out, 0, 0),
              "%s", r.out);
    cli_run_uri(&r, env.uri, "domid", "demo", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "-\n\n");

    cli_run_uri(&r, env.uri, "dumpxml", "demo", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "<name>demo</name>"), "%s", r.out);
    cr_assert(strstr(r.out, uuid), "%s", r.out);

    cli_run_uri(&r, env.uri, "autostart", "demo", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Domain 'demo' marked as autostarted\n\n");
    cli_run_uri(&r, env.uri, "list", "--all", "--autostart", "--name", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "demo\n\n");
    cli_run_uri(&r, env.uri, "list", "--all", "--no-autostart", "--name", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Alpha\n\n");
    cli_run_uri(&r, env.uri, "autostart", "--disable", "demo", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Domain 'demo' unmarked as autostarted\n\n");

    cli_run_uri(&r, env.uri, "undefine", "demo", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Domain 'demo' has been undefined\n\n");
    cli_run_uri(&r, env.uri, "dominfo", "demo", NULL);
    ASSERT_FAILS(r);
    cli_run_uri(&r, env.uri, "list", "--all", "--name", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Alpha\n\n");
}

/* dumpxml --migratable leaves out what older libvirt adds by itself (the
 * default USB controller and pci-root here) and still defines the same guest. */
Test(cli, dumpxml_migratable)
{
    define_small("mig");
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "dumpxml", "mig", NULL);
    ASSERT_OK(r);
    g_autofree char *full = g_strdup(r.out);
    cr_assert(strstr(full, "<controller type='usb' index='0' model='piix3-uhci'>"), "%s", full);
    cr_assert(strstr(full, "<controller type='pci' index='0' model='pci-root'/>"), "%s", full);

    cli_run_uri(&r, env.uri, "dumpxml", "mig", "--migratable", NULL);
    ASSERT_OK(r);
    cr_assert_null(strstr(r.out, "<controller type='usb'"), "%s", r.out);
    cr_assert_null(strstr(r.out, "<controller type='pci'"), "%s", r.out);
    cr_assert(strstr(r.out, "<controller type='ide' index='0'>"), "%s", r.out);
    cr_assert(strstr(r.out, "<memballoon model='virtio'>"), "%s", r.out);

    /* defining the migratable XML again restores the implicit controllers */
    g_autofree char *path = cli_write_file(&env, "mig-migratable.xml", r.out);
    cli_run_uri(&r, env.uri, "undefine", "mig", NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "define", path, NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "dumpxml", "mig", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "<controller type='usb' index='0' model='piix3-uhci'>\n"
                            "      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>"),
              "%s", r.out);
    cr_assert(strstr(r.out, "<controller type='pci' index='0' model='pci-root'/>"), "%s", r.out);
}

Test(cli, lifecycle_errors_on_inactive_domain)
{
    define_small("idle1");
    g_auto(cli_result) r = { 0 };
    const char *cmds[] = { "destroy", "suspend", "resume", "reset", "shutdown", "reboot" };
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        cli_run_uri(&r, env.uri, cmds[i], "idle1", NULL);
        ASSERT_FAILS(r);
    }
    cli_run_uri(&r, env.uri, "qemu-monitor-command", "idle1", "{\"execute\":\"query-status\"}", NULL);
    ASSERT_FAILS(r);
    cli_run_uri(&r, env.uri, "qemu-monitor-command", "idle1", "not json", NULL);
    ASSERT_FAILS(r);
}

Test(cli, desc_and_metadata)
{
    define_small("meta");
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "desc", "meta", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "No description for domain: meta\n");
    cli_run_uri(&r, env.uri, "desc", "meta", "a", "web", "server", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Domain description updated successfully\n");
    cli_run_uri(&r, env.uri, "desc", "meta", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "a web server\n");
    cli_run_uri(&r, env.uri, "desc", "meta", "--title", "--new-desc", "Web", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Domain title updated successfully\n");
    cli_run_uri(&r, env.uri, "desc", "meta", "--title", "--config", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Web\n");
    cli_run_uri(&r, env.uri, "desc", "meta", "--json", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) d = parse_json(r.out);
    json_object *v;
    cr_assert(json_object_object_get_ex(d, "description", &v));
    cr_assert_str_eq(json_object_get_string(v), "a web server");
    cli_run_uri(&r, env.uri, "desc", "meta", "--current", "--live", NULL);
    ASSERT_FAILS(r);

    const char *ns = "http://example.org/qvirt-test";
    cli_run_uri(&r, env.uri, "metadata", "meta", ns, "--key", "t", "--set",
                "<app owner='ops'>x</app>", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Metadata modified\n\n");
    cli_run_uri(&r, env.uri, "metadata", "meta", ns, NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "owner=\"ops\"") || strstr(r.out, "owner='ops'"), "%s", r.out);
    cr_assert(strstr(r.out, ":app ") || strstr(r.out, "<app "), "%s", r.out);
    cli_run_uri(&r, env.uri, "metadata", "meta", ns, "--json", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) m = parse_json(r.out);
    cr_assert(json_object_object_get_ex(m, "metadata", &v));
    cli_run_uri(&r, env.uri, "metadata", "meta", ns, "--set", "<app/>", NULL);
    ASSERT_FAILS(r);
    cr_assert_str_eq(r.err, "error: namespace key is required when modifying metadata\n");
    cli_run_uri(&r, env.uri, "metadata", "meta", "--uri", ns, "--remove", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Metadata removed\n\n");
    cli_run_uri(&r, env.uri, "metadata", "meta", ns, NULL);
    ASSERT_FAILS(r);
}

/* ---- --json --------------------------------------------------------------- */

Test(cli, json_documents)
{
    define_small("js");
    g_auto(cli_result) r = { 0 };
    json_object *v;

    cli_run_uri(&r, env.uri, "--json", "list", "--all", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) list = parse_json(r.out);
    cr_assert(json_object_is_type(list, json_type_array));
    cr_assert_eq(json_object_array_length(list), 1);
    json_object *d0 = json_object_array_get_idx(list, 0);
    cr_assert(json_object_object_get_ex(d0, "name", &v));
    cr_assert_str_eq(json_object_get_string(v), "js");
    cr_assert(json_object_object_get_ex(d0, "id", &v) && v == NULL);
    cr_assert(json_object_object_get_ex(d0, "state", &v));
    cr_assert_str_eq(json_object_get_string(v), "shut off");
    cr_assert(json_object_object_get_ex(d0, "persistent", &v) && json_object_get_boolean(v));

    /* --json after the command name as well */
    cli_run_uri(&r, env.uri, "dominfo", "js", "--json", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) info = parse_json(r.out);
    cr_assert(json_object_object_get_ex(info, "cpus", &v));
    cr_assert_eq(json_object_get_int(v), 2);
    cr_assert(json_object_object_get_ex(info, "max_memory_kib", &v));
    cr_assert_eq(json_object_get_int64(v), 131072);
    cr_assert(json_object_object_get_ex(info, "autostart", &v) && !json_object_get_boolean(v));

    cli_run_uri(&r, env.uri, "--json", "domstate", "js", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) st = parse_json(r.out);
    cr_assert(json_object_object_get_ex(st, "state_code", &v));
    cr_assert_eq(json_object_get_int(v), 5);
    cr_assert(json_object_object_get_ex(st, "reason", &v));

    cli_run_uri(&r, env.uri, "--json", "domid", "js", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) id = parse_json(r.out);
    cr_assert(json_object_object_get_ex(id, "id", &v) && v == NULL);

    cli_run_uri(&r, env.uri, "--json", "domuuid", "js", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) u = parse_json(r.out);
    cr_assert(json_object_object_get_ex(u, "uuid", &v));
    g_autofree char *uuid = g_strdup(json_object_get_string(v));

    cli_run_uri(&r, env.uri, "--json", "domname", uuid, NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) n = parse_json(r.out);
    cr_assert(json_object_object_get_ex(n, "name", &v));
    cr_assert_str_eq(json_object_get_string(v), "js");

    cli_run_uri(&r, env.uri, "--json", "event", "--list", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) names = parse_json(r.out);
    cr_assert_eq(json_object_array_length(names), 27);
    cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(names, 0)), "lifecycle");

    cli_run_uri(&r, env.uri, "--json", "autostart-all", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) started = parse_json(r.out);
    cr_assert_eq(json_object_array_length(started), 0);
}

/* ---- events ----------------------------------------------------------------- */

Test(cli, event_list_and_timeout)
{
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "event", "--list", NULL);
    ASSERT_OK(r);
    cr_assert(g_str_has_prefix(r.out, "lifecycle\nreboot\nrtc-change\nwatchdog\nio-error\n"), "%s", r.out);
    cr_assert(strstr(r.out, "\nmemory-device-size-change\n\n"), "%s", r.out);

    cli_run_uri(&r, env.uri, "event", "--all", "--timeout", "1", NULL);
    cr_assert_eq(r.status, 1);
    cr_assert_str_eq(r.out, "event loop timed out\nevents received: 0\n\n");
}

/* True when process pid has an inotify watch on the file with inode ino,
 * as /proc/<pid>/fdinfo/<fd> lists it ("inotify wd:1 ino:<hex> ..."). */
static bool process_watches_inode(GPid pid, ino_t ino)
{
    g_autofree char *fd_dir = g_strdup_printf("/proc/%d/fd", (int)pid);
    g_autoptr(GDir) dir = g_dir_open(fd_dir, 0, NULL);
    if (!dir)
        return false;
    g_autofree char *needle = g_strdup_printf(" ino:%llx ", (unsigned long long)ino);
    const char *fd;
    while ((fd = g_dir_read_name(dir))) {
        g_autofree char *link_path = g_build_filename(fd_dir, fd, NULL);
        g_autofree char *target = g_file_read_link(link_path, NULL);
        if (!target || strcmp(target, "anon_inode:inotify"))
            continue;
        g_autofree char *info_path = g_strdup_printf("/proc/%d/fdinfo/%s", (int)pid, fd);
        g_autofree char *info = NULL;
        if (!g_file_get_contents(info_path, &info, NULL, NULL))
            continue;
        for (const char *line = strstr(info, "inotify wd:"); line; line = strstr(line + 1, "inotify wd:")) {
            const char *end = strchrnul(line, '\n');
            const char *hit = strstr(line, needle);
            if (hit && hit < end)
                return true;
        }
    }
    return false;
}

/* Waits until the background `qvirt event` is registered: it watches this
 * env's event journal. The library fixes its read position before it adds
 * the watch, so every line appended from then on reaches the listener.
 * False when the process exited or timeout_ms passed first. */
static bool listener_registered(const cli_bg *b, int timeout_ms)
{
    g_autofree char *journal = g_build_filename(env.root, "run", "events", NULL);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (;;) {
        struct stat st;
        if (stat(journal, &st) == 0 && process_watches_inode(b->pid, st.st_ino))
            return true;
        /* exited (without reaping it: teardown and cli_bg_finish do that) */
        siginfo_t si = { 0 };
        if (waitid(P_PID, (id_t)b->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == b->pid)
            return false;
        if (g_get_monotonic_time() > deadline)
            return false;
        poll(NULL, 0, 5);  /* a polling interval, not the synchronisation */
    }
}

/* define and undefine in this process, `qvirt event` in another */
Test(cli, event_from_another_process)
{
    g_auto(cli_result) r = { 0 };
    const char *argv[] = { "-c", env.uri, "event", "--all", "--loop", "--timeout", "60", NULL };
    cr_assert(cli_bg_start(&bg, argv));
    cr_assert(listener_registered(&bg, 20000), "qvirt event never watched the journal");
    define_small("ev");
    bool def = cli_bg_wait_for(&bg, "event 'lifecycle' for domain 'ev': Defined Added\n", 20000);
    cr_assert(def, "no Defined event: %s", bg.out->str);
    cli_run_uri(&r, env.uri, "undefine", "ev", NULL);
    ASSERT_OK(r);
    bool undef = cli_bg_wait_for(&bg, "event 'lifecycle' for domain 'ev': Undefined Removed\n", 20000);
    /* SIGINT right after the last line: the listener may be anywhere
     * between printing it and waiting again, and must still stop. */
    int status = cli_bg_finish(&bg, SIGINT, 20000);
    bg.pid = 0;
    cr_assert(undef, "no Undefined event: %s", bg.out->str);
    cr_assert_str_eq(bg.out->str, "event 'lifecycle' for domain 'ev': Defined Added\n"
                                  "event 'lifecycle' for domain 'ev': Undefined Removed\n"
                                  "event loop interrupted\n"
                                  "events received: 2\n\n");
    cr_assert_eq(status, 0, "%s", bg.out->str);
    g_string_free(bg.out, TRUE);
}

Test(cli, event_one_shot_with_timestamp)
{
    const char *argv[] = { "-c", env.uri, "event", "--event", "lifecycle", "--timestamp",
                           "--timeout", "60", NULL };
    cr_assert(cli_bg_start(&bg, argv));
    cr_assert(listener_registered(&bg, 20000), "qvirt event never watched the journal");
    define_small("one");
    bool seen = cli_bg_wait_for(&bg, "events received: 1\n", 20000);
    int status = cli_bg_finish(&bg, 0, 20000);
    bg.pid = 0;
    cr_assert(seen, "%s", bg.out->str);
    cr_assert_eq(status, 0);
    cr_assert(g_regex_match_simple("^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}\\+0000: "
                                   "event 'lifecycle' for domain 'one': Defined Added\n"
                                   "events received: 1\n\n$", bg.out->str, 0, 0),
              "%s", bg.out->str);
    g_string_free(bg.out, TRUE);
}

/* ---- domxml-to-argv ------------------------------------------------------ */

Test(cli, domxml_to_argv)
{
    g_autofree char *xml = cli_small_xml("argv1");
    g_autofree char *path = cli_write_file(&env, "argv1.xml", xml);
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "domxml-to-argv", path, NULL);
    ASSERT_OK(r);
    cr_assert(g_str_has_prefix(r.out, "/usr/bin/qemu-system-x86_64 "), "%s", r.out);
    cr_assert(strstr(r.out, "guest=argv1"), "%s", r.out);
    cr_assert(strstr(r.out, "fd=3"), "the monitor is fd 3: %s", r.out);
    /* one line, then virsh's empty line */
    cr_assert(g_str_has_suffix(r.out, "\n\n") && strchr(r.out, '\n') == r.out + strlen(r.out) - 2,
              "%s", r.out);

    cli_run_uri(&r, env.uri, "domxml-to-argv", "--json", path, NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) arr = parse_json(r.out);
    cr_assert(json_object_is_type(arr, json_type_array));
    cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(arr, 0)),
                     "/usr/bin/qemu-system-x86_64");
    bool has_name = false;
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (strstr(json_object_get_string(json_object_array_get_idx(arr, i)), "guest=argv1"))
            has_name = true;
    cr_assert(has_name, "%s", r.out);

    /* A VNC unix socket is the supervisor's, as a start does it: QEMU's
     * display gets no listener of its own and no path. */
    const char *vnc_xml =
        "<domain type='qemu'><name>argv2</name><memory unit='MiB'>128</memory>"
        "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
        "<devices><graphics type='vnc'><listen type='socket'/></graphics></devices></domain>";
    g_autofree char *vnc_path = cli_write_file(&env, "argv2.xml", vnc_xml);
    cli_run_uri(&r, env.uri, "domxml-to-argv", vnc_path, NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, " -vnc none "), "%s", r.out);
    cr_assert_null(strstr(r.out, "vnc.sock"), "%s", r.out);

    g_autofree char *bad = cli_write_file(&env, "bad.xml", "<domain type='qemu'><memory>1024</memory></domain>");
    cli_run_uri(&r, env.uri, "domxml-to-argv", bad, NULL);
    ASSERT_FAILS(r);
    g_autofree char *garbage = cli_write_file(&env, "garbage.xml", "not xml at all");
    cli_run_uri(&r, env.uri, "domxml-to-argv", garbage, NULL);
    ASSERT_FAILS(r);
    cli_run_uri(&r, env.uri, "domxml-to-argv", "/nonexistent.xml", NULL);
    ASSERT_FAILS(r);
}

/* A host device the host lacks is defined and shown as argv, and refused
 * only by start, in one sentence naming it (lib/hostdev.c). */
Test(cli, host_device_refused_at_start)
{
    const char *xml =
        "<domain type='qemu'><name>hd1</name><memory unit='MiB'>64</memory>"
        "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
        "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
        "<address domain='0xfffe' bus='0xff' slot='0x1f' function='0x7'/></source></hostdev>"
        "</devices></domain>";
    g_autofree char *path = cli_write_file(&env, "hd1.xml", xml);
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "domxml-to-argv", path, NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "\"driver\":\"vfio-pci\",\"id\":\"hostdev0\",\"host\":\"fffe:ff:1f.7\""), "%s", r.out);
    cli_run_uri(&r, env.uri, "define", path, NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "start", "hd1", NULL);
    ASSERT_FAILS(r);
    cr_assert_str_eq(r.err, "error: The host has no PCI device fffe:ff:1f.7 for host device hostdev0.\n");
    cli_run_uri(&r, env.uri, "domstate", "hd1", NULL);
    ASSERT_OK(r);
    cr_assert(g_str_has_prefix(r.out, "shut off"), "%s", r.out);
}

/* A LUKS image that is a volume of a libvirt dir pool starts: the pool
 * and the secret come from the folders [libvirt] storage= and secrets= of
 * qvirt.conf name (libvirt's own layout), and the passphrase reaches QEMU
 * in a memfd, not on its command line (lib/pool.c, lib/secret.c). */
Test(cli, luks_volume_with_libvirt_secret)
{
    g_autofree char *images = g_build_filename(env.root, "images", NULL);
    g_autofree char *storage = g_build_filename(env.root, "storage", NULL);
    g_autofree char *secrets = g_build_filename(env.root, "secrets", NULL);
    cr_assert(g_mkdir_with_parents(images, 0755) == 0 && g_mkdir_with_parents(storage, 0700) == 0 &&
              g_mkdir_with_parents(secrets, 0700) == 0);
    g_autofree char *img = g_build_filename(images, "luks.img", NULL);
    g_autofree char *mk = g_strdup_printf("qemu-img create -q --object secret,id=s0,data=qvirt-luks "
                                          "-f luks -o key-secret=s0,iter-time=10 %s 8M", img);
    g_autofree char *out = NULL, *errs = NULL;
    int status = -1;
    g_auto(GStrv) mkargv = NULL;
    cr_assert(g_shell_parse_argv(mk, NULL, &mkargv, NULL));
    /* QEMU 7.2's key derivation timing fails now and then ("Unable to get
     * accurate CPU usage"): try again. */
    for (int tries = 0; tries < 8 && status != 0; tries++) {
        g_clear_pointer(&out, g_free);
        g_clear_pointer(&errs, g_free);
        cr_assert(g_spawn_sync(NULL, mkargv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &errs,
                               &status, NULL));
    }
    cr_assert(status == 0, "qemu-img: %s", errs);
    g_autofree char *pool = g_strdup_printf("<pool type='dir'><name>imgs</name><target><path>%s</path></target></pool>", images);
    g_autofree char *pool_file = g_build_filename(storage, "imgs.xml", NULL);
    cr_assert(g_file_set_contents(pool_file, pool, -1, NULL));
    const char *uuid = "6b3d6f4e-0d0a-4a57-9f6e-9d1c2b3a4f5e";
    g_autofree char *sdef = g_strdup_printf("<secret ephemeral='no' private='yes'><uuid>%s</uuid>"
                                            "<usage type='volume'><volume>%s</volume></usage></secret>", uuid, img);
    g_autofree char *sxml = g_strdup_printf("%s/%s.xml", secrets, uuid);
    g_autofree char *sval = g_strdup_printf("%s/%s.base64", secrets, uuid);
    g_autofree char *b64 = g_base64_encode((const guchar *)"qvirt-luks", 10);
    cr_assert(g_file_set_contents(sxml, sdef, -1, NULL) && g_file_set_contents(sval, b64, -1, NULL));
    g_autofree char *conf = g_strdup_printf("[libvirt]\nstorage=%s\nsecrets=%s\n", storage, secrets);
    g_autofree char *conf_path = g_build_filename(env.root, "config", "qvirt.conf", NULL);
    g_autofree char *conf_dir = g_path_get_dirname(conf_path);
    g_mkdir_with_parents(conf_dir, 0700);
    cr_assert(g_file_set_contents(conf_path, conf, -1, NULL));

    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'><name>luks1</name><memory unit='MiB'>64</memory>"
        "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
        "<disk type='volume' device='disk'><driver name='qemu' type='raw'/>"
        "<source pool='imgs' volume='luks.img'/><target dev='vda' bus='virtio'/>"
        "<encryption format='luks'><secret type='passphrase' usage='%s'/></encryption></disk>"
        "</devices></domain>", img);
    g_autofree char *path = cli_write_file(&env, "luks1.xml", xml);
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "define", path, NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "start", "luks1", "--paused", NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "qemu-monitor-command", "luks1", "{\"execute\":\"query-named-block-nodes\"}", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "\"drv\":\"luks\"") || strstr(r.out, "\"drv\": \"luks\""), "%s", r.out);
    cli_run_uri(&r, env.uri, "destroy", "luks1", NULL);
    ASSERT_OK(r);

    /* The wrong passphrase: QEMU refuses to open the image. */
    cr_assert(g_file_set_contents(sval, "d3Jvbmc=", -1, NULL));
    cli_run_uri(&r, env.uri, "start", "luks1", "--paused", NULL);
    ASSERT_FAILS(r);
    cr_assert(strstr(r.err, "Invalid password") || strstr(r.err, "password"), "%s", r.err);
}

/* A build tree runs uninstalled: with no QVIRT_MONITOR, the library finds
 * qvirt-monitor beside libqvirt.so (the test's own environment sets it). */
Test(cli, runs_uninstalled)
{
    g_unsetenv("QVIRT_MONITOR");
    define_small("uninst");
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "start", "uninst", "--paused", NULL);
    ASSERT_OK(r);
    cli_result_clear(&r);
    cli_run_uri(&r, env.uri, "domstate", "uninst", "--reason", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "paused (user)\n\n");
    cli_result_clear(&r);
    cli_run_uri(&r, env.uri, "destroy", "uninst", NULL);
    ASSERT_OK(r);
}

/* ---- the tunables in the config (no cgroup needed) --------------------------- */

Test(cli, tunables_in_the_config)
{
    define_small("tuned");
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "schedinfo", "tuned", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out,
                     "Scheduler      : posix\n"
                     "cpu_shares     : 0\n"
                     "vcpu_period    : 0\n"
                     "vcpu_quota     : 0\n"
                     "emulator_period: 0\n"
                     "emulator_quota : 0\n"
                     "global_period  : 0\n"
                     "global_quota   : 0\n"
                     "iothread_period: 0\n"
                     "iothread_quota : 0\n\n");
    cli_run_uri(&r, env.uri, "schedinfo", "tuned", "--config", "--set", "cpu_shares=512",
                "vcpu_quota=-1", "--set", "vcpu_period=20000", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "cpu_shares     : 512\n"), "%s", r.out);
    cr_assert(strstr(r.out, "vcpu_period    : 20000\n"), "%s", r.out);
    cr_assert(strstr(r.out, "vcpu_quota     : -1\n"), "%s", r.out);
    cli_run_uri(&r, env.uri, "schedinfo", "tuned", "--set", "bogus=1", NULL);
    ASSERT_FAILS(r);
    cr_assert_str_eq(r.err, "error: invalid scheduler option: bogus\n");
    cli_run_uri(&r, env.uri, "schedinfo", "tuned", "--set", "cpu_shares=0", NULL);
    ASSERT_FAILS(r);
    cr_assert_str_eq(r.err, "error: cpu_shares is out of range: it must be between 1 and 10000 "
                            "(cgroup v2's cpu.weight)\n");
    cli_run_uri(&r, env.uri, "schedinfo", "tuned", "--set", "vcpu_period=10", NULL);
    ASSERT_FAILS(r);
    cr_assert(strstr(r.err, "vcpu_period is out of range: it must be between 1000 and 1000000"),
              "%s", r.err);

    cli_run_uri(&r, env.uri, "memtune", "tuned", "--hard-limit", "1G", "--soft-limit", "-1", NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "memtune", "tuned", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out,
                     "hard_limit     : 1048576\n"
                     "soft_limit     : unlimited\n"
                     "swap_hard_limit: unlimited\n"
                     "min_guarantee  : 0\n\n");

    cli_run_uri(&r, env.uri, "blkiotune", "tuned", "--weight", "300", NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "blkiotune", "tuned", "--weight", "5000", NULL);
    ASSERT_FAILS(r);
    cli_run_uri(&r, env.uri, "blkiotune", "tuned", "--json", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) b = parse_json(r.out);
    cr_assert_eq(qv_json_get_int(b, "weight", -1), 300);

    cli_run_uri(&r, env.uri, "numatune", "tuned", "--mode", "interleave", "--nodeset", "0", NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "numatune", "tuned", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "numa_mode      : interleave\nnuma_nodeset   : 0\n\n");
    cli_run_uri(&r, env.uri, "numatune", "tuned", "--nodeset", "x-y", NULL);
    ASSERT_FAILS(r);

    /* All of it lands in the persistent XML. */
    cli_run_uri(&r, env.uri, "dumpxml", "tuned", "--inactive", NULL);
    ASSERT_OK(r);
    cr_assert(strstr(r.out, "<shares>512</shares>"), "%s", r.out);
    cr_assert(strstr(r.out, "<period>20000</period>"), "%s", r.out);
    cr_assert(strstr(r.out, "<hard_limit unit='KiB'>1048576</hard_limit>"), "%s", r.out);
    cr_assert(strstr(r.out, "<weight>300</weight>"), "%s", r.out);
    cr_assert(strstr(r.out, "<memory mode='interleave' nodeset='0'/>"), "%s", r.out);

    cli_run_uri(&r, env.uri, "schedinfo", "tuned", "--live", NULL);
    ASSERT_FAILS(r);
    cli_run_uri(&r, env.uri, "cpu-stats", "tuned", NULL);
    ASSERT_FAILS(r);
}

/* ---- migration without a guest ------------------------------------------------ */

/* A second connection root inside the test's folder, as the destination. */
static char *dst_uri(void)
{
    g_autofree char *root = g_build_filename(env.root, "dst", NULL);
    cr_assert_eq(mkdir(root, 0700), 0);
    return g_strdup_printf("qvirt:///embed?root=%s", root);
}

Test(cli, migrate_option_errors_and_offline)
{
    define_small("mo");
    g_autofree char *dst = dst_uri();
    g_auto(cli_result) r = { 0 };
    static const struct { const char *args[6]; const char *err; } cases[] = {
        { { "mo", NULL }, "error: command 'migrate' requires <desturi> option\n" },
        { { "--live", "--offline", "mo", "DST", NULL },
          "error: Options --live and --offline are mutually exclusive\n" },
        { { "--postcopy-after-precopy", "mo", "DST", NULL },
          "error: Option --postcopy is required by option --postcopy-after-precopy\n" },
        { { "--live", "--timeout", "5", "--timeout-postcopy", "mo", "DST" },
          "error: Option --postcopy is required by option --timeout-postcopy\n" },
        { { "--persistent-xml", "x.xml", "mo", "DST", NULL },
          "error: Option --persistent is required by option --persistent-xml\n" },
        { { "--timeout", "5", "mo", "DST", NULL },
          "error: migrate: Unexpected timeout for offline migration\n" },
        { { "--live", "--timeout-suspend", "mo", "DST", NULL },
          "error: migrate: Unexpected --timeout-* option without --timeout\n" },
        { { "--live", "--timeout", "-1", "mo", "DST", NULL },
          "error: numeric value '-1' for <timeout> option is malformed or out of range\n" },
        { { "--bandwidth", "lots", "mo", "DST", NULL },
          "error: numeric value 'lots' for <bandwidth> option is malformed or out of range\n" },
        { { "nosuch", "DST", NULL }, NULL },
        /* the library's sentences */
        { { "--live", "mo", "DST", NULL },
          "error: domain 'mo' is not running (migrate a shut-off domain's config with "
          "--offline --persistent)\n" },
        { { "--offline", "mo", "DST", NULL },
          "error: offline migration copies only the config, so it needs --persistent "
          "(PERSIST_DEST)\n" },
        { { "--tunnelled", "--p2p", "mo", "DST", NULL },
          "error: tunnelled migration is not supported: qvirt has no daemon to carry the "
          "stream; QEMU sends it straight to the destination (leave out --tunnelled)\n" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *words[10] = { "migrate" };
        size_t n = 1;
        for (size_t k = 0; k < G_N_ELEMENTS(cases[i].args) && cases[i].args[k]; k++)
            words[n++] = !strcmp(cases[i].args[k], "DST") ? dst : cases[i].args[k];
        const char *argv[14] = { "-c", env.uri };
        memcpy(argv + 2, words, n * sizeof *words);
        argv[n + 2] = NULL;
        cli_run(&r, argv);
        ASSERT_FAILS(r);
        if (cases[i].err)
            cr_assert_str_eq(r.err, cases[i].err, "case %zu", i);
    }

    /* --offline --persistent moves the config; the destination defines it. */
    cli_run_uri(&r, env.uri, "migrate", "--offline", "--persistent", "--undefinesource",
                "--direct", "mo", dst, NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "\n");
    cr_assert_str_eq(r.err, "");
    cli_run_uri(&r, dst, "list", "--all", "--name", "--persistent", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "mo\n\n");
    cli_run_uri(&r, env.uri, "list", "--all", "--name", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "\n");
    /* and back, with the --desturi and --dname spellings */
    cli_run_uri(&r, dst, "migrate", "--offline", "--persistent", "--domain", "mo", "--desturi",
                env.uri, "--dname", "mo2", NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "list", "--all", "--name", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "mo2\n\n");
    cli_run_uri(&r, dst, "list", "--all", "--name", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "mo\n\n");
}

/* The tunables on a paused domain (QEMU runs, no guest needed), with
 * virsh's output. */
Test(cli, migrate_tunables_on_paused_domain)
{
    define_small("tun");
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, env.uri, "migrate-getmaxdowntime", "tun", NULL);
    ASSERT_FAILS(r);
    cr_assert(strstr(r.err, "is not running"), "%s", r.err);
    cli_run_uri(&r, env.uri, "start", "--paused", "tun", NULL);
    ASSERT_OK(r);

    cli_run_uri(&r, env.uri, "migrate-getmaxdowntime", "tun", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "300\n\n");   /* QEMU's default downtime-limit */
    cli_run_uri(&r, env.uri, "migrate-setmaxdowntime", "tun", "0", NULL);
    ASSERT_FAILS(r);
    cr_assert_str_eq(r.err, "error: migrate: Invalid downtime\n");
    cli_run_uri(&r, env.uri, "migrate-setmaxdowntime", "tun", "450", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "\n");
    cli_run_uri(&r, env.uri, "migrate-getmaxdowntime", "tun", "--json", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) d = parse_json(r.out);
    cr_assert_eq(qv_json_get_int(d, "downtime", -1), 450);

    cli_run_uri(&r, env.uri, "migrate-getspeed", "tun", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "8796093022207\n\n");   /* libvirt's unlimited */
    cli_run_uri(&r, env.uri, "migrate-setspeed", "tun", "100", NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "migrate-setspeed", "tun", "--bandwidth", "20", "--postcopy", NULL);
    ASSERT_OK(r);
    cli_run_uri(&r, env.uri, "migrate-getspeed", "tun", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "100\n\n");
    cli_run_uri(&r, env.uri, "migrate-getspeed", "tun", "--postcopy", "--json", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) s = parse_json(r.out);
    cr_assert_eq(qv_json_get_int(s, "bandwidth", -1), 20);
    cli_run_uri(&r, env.uri, "migrate-setspeed", "tun", "fast", NULL);
    ASSERT_FAILS(r);

    cli_run_uri(&r, env.uri, "migrate-compcache", "tun", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Compression cache: 64.000 MiB\n");
    cli_run_uri(&r, env.uri, "migrate-compcache", "tun", "--size", "134217728", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Compression cache: 128.000 MiB\n");
    cli_run_uri(&r, env.uri, "-q", "migrate-compcache", "tun", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Compression cache: 128.000 MiB\n");
    cli_run_uri(&r, env.uri, "migrate-compcache", "tun", "--json", NULL);
    ASSERT_OK(r);
    g_autoptr(json_object) c = parse_json(r.out);
    cr_assert_eq(qv_json_get_int(c, "size", -1), 134217728);

    /* no migration runs */
    cli_run_uri(&r, env.uri, "migrate-postcopy", "tun", NULL);
    ASSERT_FAILS(r);
    cr_assert_str_eq(r.err, "error: domain 'tun' is not being migrated\n");
    cli_run_uri(&r, env.uri, "domjobinfo", "tun", NULL);
    ASSERT_OK(r);
    cr_assert_str_eq(r.out, "Job type:         None        \n\n");
    /* a running domain does not migrate offline, nor to its own connection */
    g_autofree char *dst = dst_uri();
    cli_run_uri(&r, env.uri, "migrate", "--offline", "--persistent", "tun", dst, NULL);
    ASSERT_FAILS(r);
    cr_assert(strstr(r.err, "is running: an offline migration"), "%s", r.err);
    cli_run_uri(&r, env.uri, "migrate", "--live", "tun", env.uri, NULL);
    ASSERT_FAILS(r);
    cr_assert_str_eq(r.err, "error: cannot migrate domain 'tun' to its own connection\n");

    cli_run_uri(&r, env.uri, "destroy", "tun", NULL);
    ASSERT_OK(r);
}

/* ---- qvirt+ssh:// ----------------------------------------------------------- */
/* `qvirt -c qvirt+ssh://...` through the fake ssh (cli_fake_ssh: the remote
 * command runs here), on the test's root: what it prints is what the local
 * URI prints. */

Test(cli, remote_over_fake_ssh)
{
    g_autofree char *ruri = cli_fake_ssh(env.root, env.root);
    g_autofree char *xml = cli_small_xml("far");
    g_autofree char *path = cli_write_file(&env, "far.xml", xml);
    g_auto(cli_result) r = { 0 };
    cli_run_uri(&r, ruri, "define", path, NULL);
    ASSERT_OK(r);
    g_autofree char *want = g_strdup_printf("Domain 'far' defined from %s\n\n", path);
    cr_assert_str_eq(r.out, want);
    cr_assert_eq(cli_fake_ssh_runs(env.root), 1, "define did not go through ssh");
    const char *cmds[][4] = { { "list", "--all", NULL }, { "dumpxml", "far", NULL },
                              { "domstate", "far", "--reason", NULL },
                              { "dominfo", "far", NULL } };
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        g_auto(cli_result) rr = { 0 }, lr = { 0 };
        const char *ra[8] = { "-c", ruri }, *la[8] = { "-c", env.uri };
        for (size_t k = 0; cmds[i][k]; k++)
            ra[2 + k] = la[2 + k] = cmds[i][k];
        cli_run(&rr, ra);
        cli_run(&lr, la);
        ASSERT_OK(rr);
        ASSERT_OK(lr);
        cr_assert_str_eq(rr.out, lr.out, "qvirt %s differs over ssh", cmds[i][0]);
    }
    cr_assert_eq(cli_fake_ssh_runs(env.root), 1 + (int)G_N_ELEMENTS(cmds));
    cli_run_uri(&r, ruri, "list", "--all", NULL);
    cr_assert(strstr(r.out, " far ") && strstr(r.out, "shut off"), "%s", r.out);
    cli_run_uri(&r, ruri, "domstate", "nosuch", NULL);
    ASSERT_FAILS(r);
    cr_assert(strstr(r.err, "nosuch"), "%s", r.err);
    cli_run_uri(&r, ruri, "undefine", "far", NULL);
    ASSERT_OK(r);
    /* Each qvirt's remote-serve ends with it (it reads the end of its
     * input once qvirt is gone). */
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (cli_remote_serves(env.root) > 0) {
        cr_assert_lt(g_get_monotonic_time(), deadline, "a remote-serve outlived its qvirt");
        poll(NULL, 0, 20);
    }
}

Test(cli, remote_errors)
{
    g_autofree char *ruri = cli_fake_ssh(env.root, env.root);
    g_auto(cli_result) r = { 0 };
    /* A remote command that is not qvirt. */
    g_autofree char *bad = g_strdup_printf("qvirt+ssh://fakehost/embed?root=%s&command=/bin/false",
                                           env.root);
    cli_run_uri(&r, bad, "list", NULL);
    ASSERT_FAILS(r);
    cr_assert(strstr(r.err, "fakehost"), "%s", r.err);
    /* A host nobody answers at (the real ssh: port 1 of this host). */
    const char *path = g_getenv("PATH");
    const char *real = strchr(path, ':') + 1; /* without the fake */
    g_autofree char *ssh = g_find_program_in_path("ssh");
    g_setenv("PATH", real, TRUE);
    g_autofree char *real_ssh = g_find_program_in_path("ssh");
    if (!real_ssh)
        cr_skip_test("no ssh (openssh-client) for the unreachable host case");
    cli_run_uri(&r, "qvirt+ssh://127.0.0.1:1/system", "list", NULL);
    ASSERT_FAILS(r);
    cr_assert(strstr(r.err, "127.0.0.1"), "%s", r.err);
    cr_assert(strstr(r.err, "refused") || strstr(r.err, "ssh"), "%s", r.err);
}
