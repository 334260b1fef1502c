#include <signal.h>

#include <glib.h>
#include <json-c/json.h>

#include "leftovers.h"

void qvt_kill_leftovers(const char *root)
{
    g_autofree char *dir = g_build_filename(root, "run", "domains", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    const char *n;
    while ((n = g_dir_read_name(d))) {
        g_autofree char *st = g_build_filename(dir, n, "status.json", NULL);
        json_object *o = json_object_from_file(st);
        json_object *v;
        if (o && json_object_object_get_ex(o, "qemu_pid", &v) && json_object_get_int(v) > 0)
            kill(json_object_get_int(v), SIGKILL);
        json_object_put(o);
    }
    g_dir_close(d);
}
