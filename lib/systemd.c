/* Transient scopes and machined registration over systemd's system bus
 * (GDBus): see systemd.h. Only the qvirt-systemd helper links this (and
 * GIO): loading GIO would cost every process that links libqvirt a few
 * milliseconds at start, for what only starts under systemd need. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "qv-log.h"
#include "systemd.h"

/* How long systemd may take to make a scope (its job to finish). */
#define QV_SYSTEMD_JOB_MS 30000
/* A bus call systemd answers at once unless it is busy. */
#define QV_SYSTEMD_CALL_MS 30000

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"

static GDBusConnection *system_bus(bool user, qv_error **err)
{
    g_autoptr(GError) ge = NULL;
    /* A private connection, closed after use: nothing of it outlives the
     * call but GDBus's worker thread. */
    g_autofree char *addr = g_dbus_address_get_for_bus_sync(user ? G_BUS_TYPE_SESSION
                                                                 : G_BUS_TYPE_SYSTEM, NULL, &ge);
    GDBusConnection *bus = addr ? g_dbus_connection_new_for_address_sync(
                                      addr, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                      NULL, NULL, &ge)
                                : NULL;
    if (!bus)
        qv_error_set(err, -ECONNREFUSED, "cannot connect to systemd's %s bus: %s",
                     user ? "user" : "system", ge ? ge->message : "no address");
    return bus;
}

typedef struct job_wait {
    GPtrArray *done;     /* "PATH RESULT" of every JobRemoved seen */
} job_wait;

static void on_job_removed(GDBusConnection *c, const char *sender, const char *path,
                           const char *iface, const char *signal, GVariant *params, void *opaque)
{
    job_wait *w = opaque;
    guint32 id;
    const char *job, *unit, *result;
    g_variant_get(params, "(u&o&s&s)", &id, &job, &unit, &result);
    g_ptr_array_add(w->done, g_strdup_printf("%s %s", job, result));
}

static const char *job_result(job_wait *w, const char *job)
{
    size_t n = strlen(job);
    for (guint i = 0; i < w->done->len; i++) {
        const char *d = w->done->pdata[i];
        if (!strncmp(d, job, n) && d[n] == ' ')
            return d + n + 1;
    }
    return NULL;
}

static gboolean on_timeout(gpointer flag)
{
    *(bool *)flag = true;
    return G_SOURCE_REMOVE;
}

/* The scope's ControlGroup property. */
static int scope_cgroup(GDBusConnection *bus, const char *unit, char **ret, qv_error **err)
{
    g_autoptr(GError) ge = NULL;
    g_autoptr(GVariant) u = g_dbus_connection_call_sync(
        bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", g_variant_new("(s)", unit),
        G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NONE, QV_SYSTEMD_CALL_MS, NULL, &ge);
    if (!u)
        return qv_error_set(err, -ENOENT, "systemd has no unit %s: %s", unit, ge->message);
    const char *obj;
    g_variant_get(u, "(&o)", &obj);
    g_autoptr(GVariant) v = g_dbus_connection_call_sync(
        bus, SD_DEST, obj, "org.freedesktop.DBus.Properties", "Get",
        g_variant_new("(ss)", "org.freedesktop.systemd1.Scope", "ControlGroup"),
        G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE, QV_SYSTEMD_CALL_MS, NULL, &ge);
    if (!v)
        return qv_error_set(err, -EIO, "cannot read the cgroup of %s: %s", unit, ge->message);
    g_autoptr(GVariant) inner = NULL;
    g_variant_get(v, "(v)", &inner);
    const char *cg = g_variant_get_string(inner, NULL);
    if (!cg || cg[0] != '/')
        return qv_error_set(err, -EIO, "systemd gave %s no cgroup", unit);
    *ret = g_strdup(cg);
    return 0;
}

int qv_systemd_start_scope(bool user, const char *unit, const char *slice,
                           const char *description, pid_t pid, char **cgroup, qv_error **err)
{
    g_autoptr(GDBusConnection) bus = system_bus(user, err);
    if (!bus)
        return -ECONNREFUSED;
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    job_wait w = { g_ptr_array_new_with_free_func(g_free) };
    guint sub = g_dbus_connection_signal_subscribe(bus, SD_DEST, SD_MANAGER, "JobRemoved", SD_PATH,
                                                   NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_job_removed,
                                                   &w, NULL);
    /* systemd sends job signals only once somebody subscribed. */
    g_autoptr(GVariant) s = g_dbus_connection_call_sync(bus, SD_DEST, SD_PATH, SD_MANAGER,
                                                        "Subscribe", NULL, NULL,
                                                        G_DBUS_CALL_FLAGS_NONE,
                                                        QV_SYSTEMD_CALL_MS, NULL, NULL);
    GVariantBuilder props;
    g_variant_builder_init(&props, G_VARIANT_TYPE("a(sv)"));
    g_variant_builder_add(&props, "(sv)", "Description", g_variant_new_string(description));
    g_variant_builder_add(&props, "(sv)", "Slice", g_variant_new_string(slice));
    g_variant_builder_add(&props, "(sv)", "Delegate", g_variant_new_boolean(TRUE));
    guint32 p = (guint32)pid;
    g_variant_builder_add(&props, "(sv)", "PIDs",
                          g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32, &p, 1, sizeof(p)));
    /* Gone once it is empty, failed or not: a domain's next run makes a
     * new one of the same name. */
    g_variant_builder_add(&props, "(sv)", "CollectMode", g_variant_new_string("inactive-or-failed"));
    g_autoptr(GError) ge = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        bus, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit",
        g_variant_new("(ssa(sv)a(sa(sv)))", unit, "fail", &props, NULL),
        G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NONE, QV_SYSTEMD_CALL_MS, NULL, &ge);
    int r = 0;
    if (!reply) {
        r = qv_error_set(err, g_error_matches(ge, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED)
                                  ? -EACCES : -EIO,
                         "systemd cannot start scope %s: %s", unit, ge->message);
    } else {
        const char *job;
        g_variant_get(reply, "(&o)", &job);
        bool timed_out = false;
        GSource *t = g_timeout_source_new(QV_SYSTEMD_JOB_MS);
        g_source_set_callback(t, on_timeout, &timed_out, NULL);
        g_source_attach(t, ctx);
        while (!job_result(&w, job) && !timed_out)
            g_main_context_iteration(ctx, TRUE);
        g_source_destroy(t);
        g_source_unref(t);
        const char *result = job_result(&w, job);
        if (!result)
            r = qv_error_set(err, -ETIMEDOUT, "systemd did not make scope %s within %d s", unit,
                             QV_SYSTEMD_JOB_MS / 1000);
        else if (strcmp(result, "done"))
            r = qv_error_set(err, -EIO, "systemd could not make scope %s (job %s)", unit, result);
    }
    g_dbus_connection_signal_unsubscribe(bus, sub);
    if (r >= 0)
        r = scope_cgroup(bus, unit, cgroup, err);
    g_dbus_connection_close_sync(bus, NULL, NULL);
    g_main_context_pop_thread_default(ctx);
    g_ptr_array_free(w.done, TRUE);
    return r;
}

int qv_systemd_register_machine(const char *machine, const unsigned char uuid[16], pid_t leader,
                                qv_error **err)
{
    g_autoptr(GDBusConnection) bus = system_bus(false, err);
    if (!bus)
        return -ECONNREFUSED;
    g_autoptr(GError) ge = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        bus, "org.freedesktop.machine1", "/org/freedesktop/machine1",
        "org.freedesktop.machine1.Manager", "RegisterMachine",
        g_variant_new("(s@ayssus)", machine,
                      g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, uuid, 16, 1), "qvirt", "vm",
                      (guint32)leader, ""),
        NULL, G_DBUS_CALL_FLAGS_NONE, QV_SYSTEMD_CALL_MS, NULL, &ge);
    int r = reply ? 0 : qv_error_set(err, -EIO, "cannot register machine %s with "
                                     "systemd-machined: %s", machine, ge->message);
    g_dbus_connection_close_sync(bus, NULL, NULL);
    return r;
}
