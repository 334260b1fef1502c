#include <poll.h>
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
