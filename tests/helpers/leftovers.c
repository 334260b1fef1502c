#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>
#include <json-c/json.h>

#include "leftovers.h"

/* How long each monitor may take to record its QEMU's end and go. */
#define QVT_MONITOR_GONE_MS 10000

static int status_pid(json_object *o, const char *field)
{
    json_object *v;
    return o && json_object_object_get_ex(o, field, &v) ? json_object_get_int(v) : 0;
}

void qvt_kill_leftovers(const char *root)
{
    g_autofree char *dir = g_build_filename(root, "run", "domains", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    g_autoptr(GArray) monitors = g_array_new(FALSE, FALSE, sizeof(int));
    const char *n;
    while ((n = g_dir_read_name(d))) {
        g_autofree char *st = g_build_filename(dir, n, "status.json", NULL);
        json_object *o = json_object_from_file(st);
        int qemu = status_pid(o, "qemu_pid"), mon = status_pid(o, "monitor_pid");
        /* A pidfd first, so the wait below is on this very process. */
        int fd = mon > 0 ? (int)syscall(SYS_pidfd_open, mon, 0) : -1;
        if (fd >= 0)
            g_array_append_val(monitors, fd);
        if (qemu > 0)
            kill(qemu, SIGKILL);
        json_object_put(o);
    }
    g_dir_close(d);
    /* The monitors record the ends and remove what the runs had (their
     * cgroups among it) before the caller removes the root under them. */
    for (guint i = 0; i < monitors->len; i++) {
        int fd = g_array_index(monitors, int, i);
        struct pollfd p = { fd, POLLIN, 0 };
        poll(&p, 1, QVT_MONITOR_GONE_MS);
        close(fd);
    }
}

/* The first cgroup2 mount of /proc/self/mountinfo ("... - cgroup2 ..."). */
static char *cgroup2_mount(void)
{
    g_autofree char *info = NULL;
    if (!g_file_get_contents("/proc/self/mountinfo", &info, NULL, NULL))
        return NULL;
    g_auto(GStrv) lines = g_strsplit(info, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *sep = strstr(*l, " - ");
        if (!sep || !g_str_has_prefix(sep + 3, "cgroup2 "))
            continue;
        g_auto(GStrv) f = g_strsplit(*l, " ", 6);
        if (g_strv_length(f) < 5)
            continue;
        /* Mount points escape spaces as \040; none of ours have them. */
        return g_strdup(f[4]);
    }
    return NULL;
}

/* How deep below the mount a domain's group may be: machine/<group> or
 * machine.slice/<scope>/qvirt, or a delegated root a level or two down. */
#define QVT_CGROUP_SCAN_DEPTH 4

static void scan_groups(const char *dir, const char *group_suffix, const char *scope_suffix,
                        int depth, GString *found)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    const char *n;
    while ((n = g_dir_read_name(d))) {
        g_autofree char *c = g_build_filename(dir, n, NULL);
        if (!g_file_test(c, G_FILE_TEST_IS_DIR))
            continue;
        if (g_str_has_suffix(n, group_suffix) ||
            (g_str_has_prefix(n, "qvirt-") && g_str_has_suffix(n, scope_suffix)))
            g_string_append_printf(found, "%s%s", found->len ? "\n" : "", c);
        else if (depth > 1)
            scan_groups(c, group_suffix, scope_suffix, depth - 1, found);
    }
    g_dir_close(d);
}

char *qvt_cgroup_leftovers(const char *root)
{
    g_autofree char *mount = cgroup2_mount();
    if (!mount)
        return NULL;
    g_autofree char *config = g_build_filename(root, "config", NULL);
    g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, config, -1);
    g_autofree char *group_suffix = g_strdup_printf(".qvirt-%.8s", sum);
    g_autofree char *scope_suffix = g_strdup_printf("-%.8s.scope", sum);
    g_autoptr(GString) found = g_string_new(NULL);
    scan_groups(mount, group_suffix, scope_suffix, QVT_CGROUP_SCAN_DEPTH, found);
    return found->len ? g_string_free(g_steal_pointer(&found), FALSE) : NULL;
}
