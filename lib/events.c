/* Events: every process that changes a domain (and each domain's monitor)
 * appends one JSON line to <run>/events; listeners in any process tail it.
 * inotify makes the tail pollable, so callers can use their own loop.
 * The journal rotates into numbered generations (see runtime.h); a listener
 * reads each generation to its end and then the next, so it loses nothing
 * unless it falls more than QV_RT_JOURNAL_KEEP rotations behind, and then
 * its dispatch says so (-ENOBUFS) rather than skip silently. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "remote.h"

static const char *const event_names[QV_DOMAIN_EVENT_ID_LAST] = {
    "lifecycle", "reboot", "rtc-change", "watchdog", "io-error", "graphics", "io-error-reason",
    "control-error", "block-job", "disk-change", "tray-change", "pm-wakeup", "pm-suspend",
    "balloon-change", "pm-suspend-disk", "device-removed", "block-job-2", "tunable",
    "agent-lifecycle", "device-added", "migration-iteration", "job-completed",
    "device-removal-failed", "metadata-change", "block-threshold", "memory-failure",
    "memory-device-size-change",
};

const char *qv_event_id_to_string(int event_id)
{
    if (event_id < 0 || event_id >= QV_DOMAIN_EVENT_ID_LAST)
        return NULL;
    return event_names[event_id];
}

/* Takes the journal lock shared, so that no generation is renamed or
 * deleted while a listener looks one up. -1 when the lock file cannot be
 * opened: no appender can rotate without it either. */
static int journal_lock_shared(qv_conn *conn)
{
    g_autofree char *path = qv_rt_journal_lock_path(&conn->paths);
    qv_autoclose int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_SH) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return qv_steal_fd(&fd);
}

/* Journal lock held. Opens generation gen of the journal (live: the one
 * appended to) from its start, or from its end when registering, and
 * watches it when it is the live one (a rotated one no longer changes). */
static int journal_open(qv_conn *conn, unsigned long long gen, unsigned long long live,
                        bool from_start, qv_error **err)
{
    bool is_live = gen == live;
    g_autofree char *path = is_live ? qv_rt_journal_path(&conn->paths)
                                    : qv_rt_journal_gen_path(&conn->paths, gen);
    qv_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | (is_live ? O_CREAT : 0), 0600);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open the event journal %s", path);
    /* The read position is fixed before the watch exists: a line appended
     * once the watch is live is then always past it. (The other order lost
     * a line appended between the two calls: it woke the listener, but the
     * read started after it.) A line appended between lseek and the watch
     * is read by the next dispatch. */
    off_t off = from_start ? 0 : lseek(fd, 0, SEEK_END);
    /* IN_MOVE_SELF: a rotation wakes listeners, who then follow it. */
    if (is_live && inotify_add_watch(conn->inotify_fd, path, IN_MODIFY | IN_MOVE_SELF) < 0) {
        int e = -errno;
        return qv_error_set_errno(err, e, "cannot watch the event journal %s", path);
    }
    qv_closep(&conn->journal_fd);
    conn->journal_fd = qv_steal_fd(&fd);
    conn->journal_off = off;
    conn->journal_gen = gen;
    conn->journal_draining = false;
    if (conn->journal_partial)
        g_string_truncate(conn->journal_partial, 0);
    return 0;
}

/* Moves on from a rotated generation, read to its end, to the next one.
 * When the bound on kept generations (QV_RT_JOURNAL_KEEP) has deleted
 * generations this listener never read, it goes on from the oldest kept
 * and counts the lost ones, which the dispatch then reports. */
static int journal_next(qv_conn *conn, qv_error **err)
{
    qv_autoclose int lock = journal_lock_shared(conn);
    unsigned long long oldest, newest;
    int r = qv_rt_journal_generations(&conn->paths, &oldest, &newest);
    if (r < 0)
        return qv_error_set_errno(err, r, "cannot list the event journal's generations in %s",
                                  conn->paths.run_dir);
    unsigned long long live = newest + 1, want = conn->journal_gen + 1;
    if (!oldest)
        oldest = live;
    if (want < oldest) {
        conn->journal_lost += oldest - want;
        want = oldest;
    } else if (want > live) {
        want = live; /* the journal was removed from under us: follow the new one */
    }
    return journal_open(conn, want, live, true, err);
}

/* Starts tailing the journal from its current end. */
static int events_init(qv_conn *conn, qv_error **err)
{
    if (conn->inotify_fd >= 0)
        return 0;
    conn->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (conn->inotify_fd < 0)
        return qv_error_set_errno(err, -errno, "cannot watch the event journal");
    /* Under the lock the live file is the generation after the newest
     * rotated one, and stays so until the file is open. */
    qv_autoclose int lock = journal_lock_shared(conn);
    unsigned long long oldest, newest;
    int r = qv_rt_journal_generations(&conn->paths, &oldest, &newest);
    if (r < 0)
        qv_error_set_errno(err, r, "cannot list the event journal's generations in %s",
                           conn->paths.run_dir);
    else
        r = journal_open(conn, newest + 1, newest + 1, false, err);
    if (r < 0) {
        qv_closep(&conn->inotify_fd);
        return r;
    }
    conn->journal_partial = g_string_new(NULL);
    return 0;
}

/* True when the journal was rotated away from under our fd. */
static bool journal_rotated(qv_conn *conn)
{
    g_autofree char *path = qv_rt_journal_path(&conn->paths);
    struct stat now, ours;
    return stat(path, &now) == 0 && fstat(conn->journal_fd, &ours) == 0 &&
           (now.st_ino != ours.st_ino || now.st_dev != ours.st_dev);
}

int qv_conn_domain_event_register_any(qv_conn *conn, qv_domain *dom, int event_id,
                                      qv_event_cb cb, void *opaque, qv_error **err)
{
    if (!conn || !cb)
        return qv_error_set(err, -EINVAL, "event registration needs a connection and a callback");
    if (event_id < -1 || event_id >= QV_DOMAIN_EVENT_ID_LAST)
        return qv_error_set(err, -EINVAL, "unknown event id %d", event_id);
    /* A remote connection's callbacks live here too; its events come on
     * the stream the remote side sends its journal's lines on. */
    int r = conn->remote ? qv_remote_events_fd(conn, err) : events_init(conn, err);
    if (r < 0)
        return r;
    qv_event_cb_entry *e = g_new0(qv_event_cb_entry, 1);
    e->id = conn->next_callback_id++;
    e->domain_name = dom ? g_strdup(dom->name) : NULL;
    e->event_id = event_id;
    e->cb = cb;
    e->opaque = opaque;
    g_ptr_array_add(conn->callbacks, e);
    return e->id;
}

int qv_conn_domain_event_deregister_any(qv_conn *conn, int callback_id, qv_error **err)
{
    if (!conn)
        return qv_error_set(err, -EINVAL, "event deregistration needs a connection");
    for (guint i = 0; i < conn->callbacks->len; i++) {
        qv_event_cb_entry *e = conn->callbacks->pdata[i];
        if (e->id == callback_id) {
            g_ptr_array_remove_index(conn->callbacks, i);
            g_free(e->domain_name);
            g_free(e);
            return 0;
        }
    }
    return qv_error_set(err, -ENOENT, "no event callback with id %d", callback_id);
}

int qv_conn_event_get_fd(qv_conn *conn, qv_error **err)
{
    if (!conn)
        return qv_error_set(err, -EINVAL, "qv_conn_event_get_fd: conn is required");
    if (conn->remote)
        return qv_remote_events_fd(conn, err);
    int r = events_init(conn, err);
    return r < 0 ? r : conn->inotify_fd;
}

/* A member of a journal line, if it has the type qvirt writes it with. */
static json_object *member(json_object *obj, const char *key, json_type type)
{
    json_object *v;
    return json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, type) ? v : NULL;
}

int qv_events_deliver(qv_conn *conn, const char *line)
{
    g_autoptr(json_object) obj = json_tokener_parse(line);
    if (!obj || !json_object_is_type(obj, json_type_object))
        return 0; /* a torn or foreign line: skip it */
    /* Only what qvirt writes is an event: a valid domain name, integer
     * ids, a timestamp. Anything else is skipped, not half-delivered. */
    json_object *id = member(obj, "event_id", json_type_int);
    json_object *name = member(obj, "domain", json_type_string);
    json_object *ts = member(obj, "ts", json_type_int);
    json_object *event = member(obj, "event", json_type_int);
    json_object *detail = member(obj, "detail", json_type_int);
    json_object *uuid = member(obj, "uuid", json_type_string);
    if (!id || !name || !ts || json_object_get_int(id) < 0 || json_object_get_int64(ts) <= 0 ||
        !qv_name_valid(json_object_get_string(name)) ||
        (json_object_object_get_ex(obj, "event", NULL) && !event) ||
        (json_object_object_get_ex(obj, "detail", NULL) && !detail) ||
        (json_object_object_get_ex(obj, "uuid", NULL) && !uuid))
        return 0;
    qv_event ev = {
        .event_id = json_object_get_int(id),
        .domain_name = json_object_get_string(name),
        .domain_uuid = uuid ? json_object_get_string(uuid) : NULL,
        .event = event ? json_object_get_int(event) : 0,
        .detail = detail ? json_object_get_int(detail) : 0,
        .json = line,
        .timestamp_us = json_object_get_int64(ts),
    };
    int delivered = 0;
    /* Callbacks may deregister themselves: iterate over a snapshot of ids. */
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int));
    for (guint i = 0; i < conn->callbacks->len; i++)
        g_array_append_val(ids, ((qv_event_cb_entry *)conn->callbacks->pdata[i])->id);
    for (guint k = 0; k < ids->len; k++) {
        qv_event_cb_entry *e = NULL;
        for (guint i = 0; i < conn->callbacks->len; i++)
            if (((qv_event_cb_entry *)conn->callbacks->pdata[i])->id == g_array_index(ids, int, k))
                e = conn->callbacks->pdata[i];
        if (!e)
            continue;
        if (e->event_id >= 0 && e->event_id != ev.event_id)
            continue;
        if (e->domain_name && strcmp(e->domain_name, ev.domain_name))
            continue;
        e->cb(conn, &ev, e->opaque);
        delivered = 1;
    }
    return delivered;
}

int qv_conn_event_dispatch(qv_conn *conn, qv_error **err)
{
    if (!conn)
        return qv_error_set(err, -EINVAL, "qv_conn_event_dispatch: conn is required");
    if (conn->remote)
        return qv_remote_events_dispatch(conn, err);
    int r = events_init(conn, err);
    if (r < 0)
        return r;
    char drain[4096];
    while (read(conn->inotify_fd, drain, sizeof drain) > 0)
        ;
    int count = 0;
    for (;;) {
        char buf[16384];
        ssize_t n = pread(conn->journal_fd, buf, sizeof buf, conn->journal_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return qv_error_set_errno(err, -errno, "cannot read the event journal");
        if (n == 0) {
            if (!conn->journal_draining) {
                if (!journal_rotated(conn))
                    break; /* at the end of the live file */
                /* Rotated away. Appenders finish their lines before a
                 * rotation (the lock), but a line may have landed since
                 * this read: read to the end once more, then move on. */
                conn->journal_draining = true;
                continue;
            }
            r = journal_next(conn, err);
            if (r < 0)
                return r;
            continue;
        }
        conn->journal_off += n;
        g_string_append_len(conn->journal_partial, buf, n);
        char *start = conn->journal_partial->str, *nl;
        while ((nl = memchr(start, '\n', conn->journal_partial->len -
                                             (size_t)(start - conn->journal_partial->str)))) {
            *nl = '\0';
            count += qv_events_deliver(conn, start);
            start = nl + 1;
        }
        g_string_erase(conn->journal_partial, 0, start - conn->journal_partial->str);
    }
    if (conn->journal_lost) {
        unsigned long long lost = conn->journal_lost;
        conn->journal_lost = 0;
        return qv_error_set(err, -ENOBUFS,
                            "events were lost: %llu generation(s) of the event journal were "
                            "deleted before this connection read them", lost);
    }
    return count;
}

int qv_conn_event_run(qv_conn *conn, int timeout_ms, qv_error **err)
{
    int fd = qv_conn_event_get_fd(conn, err);
    if (fd < 0)
        return fd;
    long long deadline = g_get_monotonic_time() + (long long)timeout_ms * 1000;
    for (;;) {
        int n = qv_conn_event_dispatch(conn, err);
        if (n != 0)
            return n;
        int left = -1;
        if (timeout_ms >= 0) {
            long long l = (deadline - g_get_monotonic_time()) / 1000;
            if (l <= 0)
                return 0;
            left = (int)l;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, left) < 0 && errno != EINTR)
            return qv_error_set_errno(err, -errno, "cannot wait for events");
    }
}

void qv_conn_emit(qv_conn *conn, const char *name, const char *uuid, int event_id, int event,
                  int detail, json_object *extra)
{
    g_mutex_lock(&conn->emit_lock);
    qv_rt_emit_with(&conn->paths, &conn->emit, name, uuid, event_id, event, detail, extra);
    g_mutex_unlock(&conn->emit_lock);
}
