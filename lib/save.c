/* Save, restore, managed save and core dumps (qvirt-save.h), each a job
 * (job.h) that any process sees and may abort.
 *
 * A save, as libvirt does it: the CPUs stop, max-bandwidth is raised
 * (7.2's default is 128 MiB/s), QEMU gets the image file over SCM_RIGHTS
 * (getfd) and writes its migration stream into it (migrate fd:) after
 * libvirt's header (save-image.h), which says "LibvirtQemudPart" until
 * the stream is complete. The image is written under a temporary name in
 * its folder and renamed into place once whole, so a failed or
 * interrupted save never leaves a file that looks like an image; the
 * domain then runs on as before. Once renamed, QEMU is stopped and the
 * domain ends shut off (saved).
 *
 * A restore starts QEMU with -incoming defer (start.c), hands it the
 * image's fd positioned at the stream (getfd, migrate-incoming fd:) and
 * waits for the migration to complete before cont.
 *
 * getfd'd fds belong to the monitor connection that received them, so
 * getfd and the command that uses the fd go on one connection: QEMU's
 * command monitor (qmp.sock, under qmp.lock), kept for the job, which also
 * brings its MIGRATION / DUMP_COMPLETED events. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "remote.h"
#include "job.h"
#include "save-image.h"
#include "qv-log.h"

/* How long a job's wait for QEMU's next event lasts before it asks QEMU
 * where things stand (the stall check below and --verbose's progress come
 * from those answers). */
#define QV_JOB_POLL_MS 200
/* A save, restore or dump whose byte count has not moved for this long is
 * given up (QEMU wedged, or a writer blocked for good). */
#define QV_JOB_STALL_MS 120000
/* QEMU's time between SIGTERM and SIGKILL when a save or crash dump ends it. */
#define QV_SAVE_STOP_GRACE_MS 10000
/* The fd names given to QEMU with getfd. */
#define QV_SAVE_FDNAME "qvirt-save"
#define QV_RESTORE_FDNAME "qvirt-restore"
#define QV_DUMP_FDNAME "qvirt-dump"

/* ---- small pieces ------------------------------------------------------- */

char *qv_domain_managed_save_path(qv_conn *conn, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.save", name);
    return g_build_filename(conn->paths.config_dir, "save", file, NULL);
}

static int qmp_simple(qv_qmp *qmp, const char *cmd, json_object *args, json_object **ret,
                      qv_error **err)
{
    return qv_qmp_call(qmp, cmd, args, 0, ret, err);
}

static json_object *migrate_events_args(void)
{
    json_object *cap = json_object_new_object();
    json_object_object_add(cap, "capability", json_object_new_string("events"));
    json_object_object_add(cap, "state", json_object_new_boolean(true));
    json_object *caps = json_object_new_array();
    json_object_array_add(caps, cap);
    json_object *args = json_object_new_object();
    json_object_object_add(args, "capabilities", caps);
    return args;
}

static int migrate_events_on(qv_qmp *qmp, qv_error **err)
{
    return qmp_simple(qmp, "migrate-set-capabilities", migrate_events_args(), NULL, err);
}

static json_object *max_bandwidth_args(long long bps)
{
    json_object *args = json_object_new_object();
    json_object_object_add(args, "max-bandwidth", json_object_new_int64(bps));
    return args;
}

static int set_max_bandwidth(qv_qmp *qmp, long long bps, qv_error **err)
{
    return qmp_simple(qmp, "migrate-set-parameters", max_bandwidth_args(bps), NULL, err);
}

/* Gives QEMU fd under name on this connection. */
static int give_fd(qv_qmp *qmp, const char *name, int fd, qv_error **err)
{
    json_object *args = json_object_new_object();
    json_object_object_add(args, "fdname", json_object_new_string(name));
    return qv_qmp_call_with_fd(qmp, "getfd", args, fd, 0, NULL, err);
}

static void drop_fd(qv_qmp *qmp, const char *name)
{
    json_object *args = json_object_new_object();
    json_object_object_add(args, "fdname", json_object_new_string(name));
    qv_qmp_call(qmp, "closefd", args, 0, NULL, NULL);
}

/* Waits for a QEMU job (a migration either way, or a dump) to end,
 * waking on its events and asking QEMU each QV_JOB_POLL_MS. Returns the
 * final stats (type COMPLETED, FAILED or CANCELLED). Progress, for the
 * stall check: the offset of file_fd, whose open file QEMU shares (it
 * reads or writes the image through it), else what QEMU reports done (an
 * incoming migration reports nothing). With !stats, a completed event is
 * taken at its word (st says COMPLETED, nothing more): the caller needs no
 * figures, and a question then is one more turn of QEMU's main loop before
 * cont. */
static int wait_job(qv_domain *dom, qv_qmp *qmp, const qv_job *job, const char *event,
                    int file_fd, bool stats, qv_domain_job_stats *st, qv_error **err)
{
    unsigned long long last_done = 0;
    gint64 last_move = g_get_monotonic_time();
    for (;;) {
        qv_qmp_event *ev = NULL;
        int r = qv_qmp_wait_event(qmp, event, QV_JOB_POLL_MS, &ev, NULL);
        /* A MIGRATION event of a step on the way (setup, active) needs no
         * question: QEMU loads an incoming stream in its main loop, where a
         * query waits its turn (25-40 ms a query, measured) and slows the
         * load. Only the end, or a quiet poll period, is asked about. */
        const char *evs = ev ? qv_json_get_str(ev->data, "status") : NULL;
        bool step = evs && strcmp(evs, "completed") && strcmp(evs, "failed") &&
                    strcmp(evs, "cancelled");
        bool completed = !stats && evs && !strcmp(evs, "completed");
        bool quiet = !ev;
        qv_qmp_event_free(ev);
        if (completed) {
            st->size = sizeof *st;
            st->type = QV_DOMAIN_JOB_COMPLETED;
            return 0;
        }
        if (r < 0 && r != -ETIMEDOUT && qv_qmp_is_broken(qmp))
            return qv_error_set(err, -EIO, "domain '%s': QEMU's monitor closed during the job",
                                dom->name);
        if (step)
            continue;
        /* A restore's progress shows in the image's offset, which QEMU
         * moves as it reads: while it moves, a quiet period needs no
         * question either (on a busy host a load outlasts QV_JOB_POLL_MS,
         * and the question then held it up 25-50 ms); the end comes as an
         * event, and an offset that stops moving is asked about. */
        if (!stats && quiet && file_fd >= 0) {
            off_t pos = lseek(file_fd, 0, SEEK_CUR);
            if (pos >= 0 && (unsigned long long)pos != last_done) {
                last_done = (unsigned long long)pos;
                last_move = g_get_monotonic_time();
                continue;
            }
        }
        const char *status;
        st->size = sizeof *st;
        if ((r = qv_job_query(dom, qmp, job, st, &status, err)) < 0)
            return r;
        if (st->type != QV_DOMAIN_JOB_UNBOUNDED)
            return 0;
        gint64 now = g_get_monotonic_time();
        off_t pos = file_fd >= 0 ? lseek(file_fd, 0, SEEK_CUR) : -1;
        unsigned long long done = pos >= 0 ? (unsigned long long)pos : st->data_processed;
        if (done != last_done || !strcmp(status, "none")) {
            last_done = done;
            last_move = now;
        } else if (now - last_move > (gint64)QV_JOB_STALL_MS * 1000) {
            return qv_error_set(err, -ETIMEDOUT, "domain '%s': the job made no progress for %d s",
                                dom->name, QV_JOB_STALL_MS / 1000);
        }
    }
}

/* Stops the CPUs for a job and records why (qmp.lock held across, as for
 * suspend). *was_running: they ran before. */
int qv_job_stop_cpus(qv_domain *dom, int reason, bool *was_running, qv_error **err)
{
    int state;
    *was_running = false;
    int r = qv_domain_get_state(dom, &state, NULL, err);
    if (r < 0)
        return r;
    if (state != QV_DOMAIN_RUNNING)
        return 0;
    if ((r = qv_domain_lock_run(dom, err)) < 0)
        return r;
    if ((r = qv_domain_qmp_call_locked(dom, "stop", err)) >= 0) {
        *was_running = true;
        qv_rt_state st = { QV_DOMAIN_PAUSED, reason, qv_rt_now_us() };
        qv_rt_statemap_store(dom->smap, &st);
        qv_conn_emit(dom->conn, dom->name, dom->uuid_str, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                     QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_PAUSED, NULL);
    }
    qv_domain_unlock_run(dom);
    return r;
}

/* Lets the CPUs run again after a job that did not end the domain. */
void qv_job_resume_cpus(qv_domain *dom, int reason)
{
    g_autoptr(qv_error) lerr = NULL;
    if (qv_domain_lock_run(dom, &lerr) < 0) {
        qv_log(QV_LOG_WARNING, "domain '%s': cannot resume it: %s", dom->name,
               qv_error_message(lerr));
        return;
    }
    if (qv_domain_qmp_call_locked(dom, "cont", &lerr) >= 0) {
        qv_rt_state st = { QV_DOMAIN_RUNNING, reason, qv_rt_now_us() };
        qv_rt_statemap_store(dom->smap, &st);
        qv_conn_emit(dom->conn, dom->name, dom->uuid_str, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                     QV_DOMAIN_EVENT_RESUMED, QV_DOMAIN_EVENT_RESUMED_UNPAUSED, NULL);
    } else {
        qv_log(QV_LOG_WARNING, "domain '%s': cannot resume it: %s", dom->name,
               qv_error_message(lerr));
    }
    qv_domain_unlock_run(dom);
}

void qv_domain_end_run(qv_domain *dom, const qv_active *act, const char *why, int reason, int detail)
{
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_auto(qv_vmcg) cg = { 0 };
    qv_vmcg_read(dir, &cg);
    qv_rt_mark_stopping(dir, why);
    pid_t pid = act->status.qemu_pid;
    if (pid > 0 && qv_rt_pid_alive(pid, act->status.qemu_start)) {
        kill(pid, SIGTERM);
        if (qv_rt_wait_exit(pid, act->status.qemu_start, QV_SAVE_STOP_GRACE_MS) == -ETIMEDOUT) {
            kill(pid, SIGKILL);
            qv_rt_wait_exit(pid, act->status.qemu_start, QV_SAVE_STOP_GRACE_MS);
        }
    }
    qv_rt_wait_exit(act->status.monitor_pid, act->status.monitor_start, QV_MONITOR_EXIT_WAIT_MS);
    qv_rt_finalize_run(&dom->conn->paths, dom->name, dom->uuid_str, act->status.run_id, reason,
                       detail, NULL);
    if (cg.mount)
        qv_vmcg_remove(&cg, NULL); /* the monitor left it to us (qv_rt_mark_stopping) */
    qv_domain_forget_monitor(dom);
    qv_domain_forget_run(dom);
}

/* Writes what is in the page cache of fd to disk, and with bypass drops it
 * from the cache (QEMU writes its stream unaligned, so O_DIRECT is not an
 * option for its fd). */
static int flush_file(int fd, bool bypass, const char *path, qv_error **err)
{
    if (fdatasync(fd) < 0)
        return qv_error_set_errno(err, -errno, "cannot write %s to disk", path);
    if (bypass)
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    return 0;
}

/* The XML a save image keeps: dxml (same domain, checked) or the live
 * definition, inactive and with its secrets (a restore needs them). */
int qv_save_image_xml(qv_domain *dom, const char *dxml, char **ret, qv_error **err)
{
    g_autoptr(qv_domdef) def = NULL;
    int r = dxml ? qv_domxml_parse(dxml, 0, &def, err) : qv_domain_load_def(dom, true, &def, err);
    if (r < 0)
        return r;
    if (dxml && (strcmp(def->name, dom->name) || memcmp(def->uuid, dom->uuid, 16)))
        return qv_error_set(err, -EINVAL, "the XML given for the image of domain '%s' describes "
                            "another domain ('%s')", dom->name, def->name);
    *ret = qv_domxml_format(def, QV_DOMXML_FORMAT_SECURE | QV_DOMXML_FORMAT_INACTIVE);
    return 0;
}

static int write_all_at(int fd, const void *buf, size_t len, off_t off, const char *path,
                        qv_error **err)
{
    const char *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return qv_error_set_errno(err, n < 0 ? -errno : -EIO, "cannot write %s", path);
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/* ---- save --------------------------------------------------------------- */

/* Migrates the stopped domain into o's file (at its current offset): the
 * job's final stats in *st. The bandwidth QEMU had is put back after, or
 * only on a failure when the image ends the run (o->old_bw keeps it for a
 * failure after the stream). */
static int stream_out(qv_domain *dom, const qv_job *job, qv_image_out *o,
                      qv_domain_job_stats *st, qv_error **err)
{
    qv_qmp *qmp = NULL;
    int lock = -1;
    int r = qv_domain_qmp_open(dom, &qmp, &lock, err);
    if (r < 0)
        return r;
    /* One round trip: the old bandwidth, migration events, and libvirt's
     * unlimited (the CPUs are stopped, nothing to converge). */
    qv_qmp_batch_cmd cmds[3] = {
        { .command = "query-migrate-parameters" },
        { .command = "migrate-set-capabilities", .args = migrate_events_args() },
        { .command = "migrate-set-parameters", .args = max_bandwidth_args(INT64_MAX) },
    };
    r = qv_qmp_call_batch(qmp, cmds, G_N_ELEMENTS(cmds), 0, err);
    long long old_bw = r >= 0 && cmds[0].result >= 0
                           ? qv_json_get_int(cmds[0].ret, "max-bandwidth", -1) : -1;
    for (size_t i = 0; r >= 0 && i < G_N_ELEMENTS(cmds); i++)
        if (cmds[i].result < 0)
            r = qv_error_propagate(err, g_steal_pointer(&cmds[i].err));
    qv_qmp_batch_clear(cmds, G_N_ELEMENTS(cmds));
    if (r >= 0 && (r = give_fd(qmp, QV_SAVE_FDNAME, o->fd, err)) >= 0) {
        json_object *args = json_object_new_object();
        json_object_object_add(args, "uri", json_object_new_string("fd:" QV_SAVE_FDNAME));
        if ((r = qmp_simple(qmp, "migrate", args, NULL, err)) < 0)
            drop_fd(qmp, QV_SAVE_FDNAME);
        else
            r = wait_job(dom, qmp, job, "MIGRATION", o->fd, true, st, err);
    }
    bool worked = r >= 0 && st->type == QV_DOMAIN_JOB_COMPLETED;
    if (old_bw >= 0 && (!worked || !o->ends_run))
        set_max_bandwidth(qmp, old_bw, NULL);
    else
        o->old_bw = old_bw;
    if (r < 0 && !qv_qmp_is_broken(qmp))
        qmp_simple(qmp, "migrate_cancel", NULL, NULL, NULL);
    qv_domain_qmp_close(qmp, lock);
    return r;
}

void qv_image_out_clear(qv_image_out *o)
{
    qv_closep(&o->fd);
    g_clear_pointer(&o->path, g_free);
    g_clear_pointer(&o->tmp, g_free);
    if (o->head)
        g_byte_array_unref(g_steal_pointer(&o->head));
}

int qv_image_out_open(qv_domain *dom, qv_job *job, const char *path, const char *xml,
                      bool restore_running, const char *noun, const char *verb, qv_image_out *o,
                      qv_error **err)
{
    o->fd = -1;
    o->noun = noun;
    o->verb = verb;
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *tmp_name = g_strdup_printf(".%s.qvirt-part.%d", base, (int)getpid());
    o->path = g_strdup(path);
    o->tmp = g_build_filename(dir, tmp_name, NULL);
    o->head = qv_save_image_build(xml, restore_running, false);
    /* The record names the temporary file before it exists: a caller
     * killed at any point leaves nothing the recovery does not know of. */
    g_strlcpy(job->tmp_file, o->tmp, sizeof job->tmp_file);
    int r = qv_job_update(dom, job, err);
    if (r >= 0 && (o->fd = open(o->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return qv_error_set_errno(err, -errno, "cannot %s domain '%s' to %s: cannot create a "
                                  "file in %s", verb, dom->name, path, dir);
    if (r >= 0 && (r = write_all_at(o->fd, o->head->data, o->head->len, 0, o->tmp, err)) >= 0 &&
        lseek(o->fd, o->head->len, SEEK_SET) < 0)
        r = qv_error_set_errno(err, -errno, "cannot write %s", o->tmp);
    if (r < 0 && o->fd >= 0)
        unlink(o->tmp);
    return r;
}

int qv_image_out_write(qv_domain *dom, const qv_job *job, qv_image_out *o, bool bypass,
                       qv_domain_job_stats *st, qv_error **err)
{
    o->old_bw = -1;
    int r = stream_out(dom, job, o, st, err);
    if (r >= 0 && st->type != QV_DOMAIN_JOB_COMPLETED)
        r = st->type == QV_DOMAIN_JOB_CANCELLED
                ? qv_error_set(err, -ECANCELED, "the %s of domain '%s' was aborted", o->noun,
                               dom->name)
                : qv_error_set(err, -EIO, "cannot %s domain '%s' to %s: %s", o->verb,
                               dom->name, o->path,
                               *st->errmsg ? st->errmsg : "QEMU's migration failed");
    if (r >= 0) {
        /* Complete: the magic says so, then the name. */
        qv_save_header h;
        qv_save_header_parse(o->head->data, o->head->len, &h, NULL);
        h.complete = true;
        unsigned char fixed[QV_SAVE_HEADER_LEN];
        qv_save_header_pack(&h, fixed);
        if ((r = flush_file(o->fd, bypass, o->tmp, err)) >= 0 &&
            (r = write_all_at(o->fd, fixed, sizeof fixed, 0, o->tmp, err)) >= 0 &&
            (r = flush_file(o->fd, false, o->tmp, err)) >= 0 && rename(o->tmp, o->path) < 0)
            r = qv_error_set_errno(err, -errno, "cannot rename %s to %s", o->tmp, o->path);
    }
    if (r < 0) {
        unlink(o->tmp);
        /* The run goes on after all: QEMU's bandwidth as it was. */
        if (o->old_bw >= 0)
            qv_domain_qmp_call(dom, "migrate-set-parameters", max_bandwidth_args(o->old_bw),
                               NULL, NULL);
    }
    return r;
}

static int save_to(qv_domain *dom, const char *path, const char *dxml, unsigned int flags,
                   qv_error **err)
{
    const unsigned int known = QV_DOMAIN_SAVE_BYPASS_CACHE | QV_DOMAIN_SAVE_RUNNING |
                               QV_DOMAIN_SAVE_PAUSED;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "save: unsupported flags 0x%x", flags);
    if ((flags & QV_DOMAIN_SAVE_RUNNING) && (flags & QV_DOMAIN_SAVE_PAUSED))
        return qv_error_set(err, -EINVAL, "save: RUNNING and PAUSED exclude each other");
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, QV_CALL_RUN_ONLY, &c, err);
    if (r < 0)
        return r;
    if (c.act.phase != QV_RUN_ON)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    g_autofree char *xml = NULL;
    if ((r = qv_save_image_xml(dom, dxml, &xml, err)) < 0)
        return r;
    int state;
    if ((r = qv_domain_get_state(dom, &state, NULL, err)) < 0)
        return r;
    bool running_now = state == QV_DOMAIN_RUNNING;
    bool restore_running = (flags & QV_DOMAIN_SAVE_RUNNING) ? true
                         : (flags & QV_DOMAIN_SAVE_PAUSED) ? false : running_now;
    qv_job job;
    if ((r = qv_job_begin(dom, &c.act, QV_DOMAIN_JOB_OPERATION_SAVE, QV_JOB_MIGRATION, &job,
                          err)) < 0)
        return r;
    qv_domain_job_stats st = { .size = sizeof st, .type = QV_DOMAIN_JOB_FAILED };
    g_auto(qv_image_out) out = { .fd = -1 };
    out.ends_run = true;
    if ((r = qv_image_out_open(dom, &job, path, xml, restore_running, "save", "save", &out,
                               err)) < 0) {
        g_strlcpy(st.errmsg, err && *err ? qv_error_message(*err) : "", sizeof st.errmsg);
        st.fields |= QV_DOMAIN_JOB_FIELD_ERRMSG;
        qv_job_end(dom, &job, &st);
        return r;
    }
    qv_log(QV_LOG_INFO, "domain '%s': saving to %s", dom->name, path);
    bool was_running = false;
    r = qv_job_stop_cpus(dom, QV_DOMAIN_PAUSED_SAVE, &was_running, err);
    if (r >= 0 && was_running) {
        job.stopped_cpus = true;
        r = qv_job_update(dom, &job, err);
    }
    if (r >= 0)
        r = qv_image_out_write(dom, &job, &out, flags & QV_DOMAIN_SAVE_BYPASS_CACHE, &st, err);
    else
        unlink(out.tmp);
    if (r < 0) {
        if (st.type == QV_DOMAIN_JOB_UNBOUNDED || st.type == QV_DOMAIN_JOB_COMPLETED)
            st.type = QV_DOMAIN_JOB_FAILED;
        if (err && *err && !*st.errmsg) {
            g_strlcpy(st.errmsg, qv_error_message(*err), sizeof st.errmsg);
            st.fields |= QV_DOMAIN_JOB_FIELD_ERRMSG;
        }
        if (was_running)
            qv_job_resume_cpus(dom, QV_DOMAIN_RUNNING_SAVE_CANCELED);
        qv_job_end(dom, &job, &st);
        qv_log(QV_LOG_INFO, "domain '%s': save failed; it carries on", dom->name);
        return r;
    }
    qv_job_end(dom, &job, &st);
    qv_domain_end_run(dom, &c.act, "saved", QV_DOMAIN_SHUTOFF_SAVED, QV_DOMAIN_EVENT_STOPPED_SAVED);
    qv_log(QV_LOG_INFO, "domain '%s': saved to %s; state written: shut off (saved)", dom->name,
           path);
    return 0;
}

int qv_domain_save(qv_domain *dom, const char *file, const char *dxml, unsigned int flags,
                   qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_save(dom, file, dxml, flags, err));
    if (!dom || !file || !*file)
        return qv_error_set(err, -EINVAL, "qv_domain_save: dom and file are required");
    return save_to(dom, file, dxml, flags, err);
}

int qv_domain_managed_save(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_managed_save(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_managed_save: dom is required");
    if (qv_domain_is_persistent(dom, NULL) != 1)
        return qv_error_set(err, -EINVAL, "cannot do managed save of domain '%s': it is "
                            "transient", dom->name);
    g_autofree char *path = qv_domain_managed_save_path(dom->conn, dom->name);
    g_autofree char *dir = g_path_get_dirname(path);
    int r = qv_rt_mkdirs(dir, err);
    return r < 0 ? r : save_to(dom, path, NULL, flags, err);
}

int qv_domain_has_managed_save_image(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_has_managed_save_image(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_has_managed_save_image: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_has_managed_save_image: flags must be 0");
    g_autofree char *path = qv_domain_managed_save_path(dom->conn, dom->name);
    return g_file_test(path, G_FILE_TEST_IS_REGULAR) ? 1 : 0;
}

int qv_domain_managed_save_remove(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_managed_save_remove(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_managed_save_remove: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_managed_save_remove: flags must be 0");
    qv_autoclose int lock = qv_domain_lock_lifecycle(dom->conn, dom->name, err);
    if (lock < 0)
        return qv_steal_fd(&lock);
    g_autofree char *path = qv_domain_managed_save_path(dom->conn, dom->name);
    if (unlink(path) < 0 && errno != ENOENT)
        return qv_error_set_errno(err, -errno, "cannot remove the managed save image %s", path);
    return 0;
}

/* ---- images ------------------------------------------------------------- */

typedef struct save_image {
    qv_save_header h;
    char *xml;
    int fd;        /* positioned at the stream */
} save_image;

static void save_image_clear(save_image *im)
{
    g_free(im->xml);
    im->xml = NULL;
    qv_closep(&im->fd);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(save_image, save_image_clear)

static int read_exactly(int fd, void *buf, size_t len, size_t *got)
{
    *got = 0;
    while (*got < len) {
        ssize_t n = read(fd, (char *)buf + *got, len - *got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return 0;
}

/* Opens an image and reads its header and XML; any problem is one
 * sentence naming the file. writable: for an in-place XML rewrite. */
static int open_image(const char *path, bool writable, bool need_complete, save_image *im,
                      qv_error **err)
{
    im->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (im->fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open the save image %s", path);
    unsigned char fixed[QV_SAVE_HEADER_LEN];
    size_t got;
    int r = read_exactly(im->fd, fixed, sizeof fixed, &got);
    if (r < 0)
        return qv_error_set_errno(err, r, "cannot read the save image %s", path);
    g_autoptr(qv_error) lerr = NULL;
    g_autofree unsigned char *data = NULL;
    if ((r = qv_save_header_parse(fixed, got, &im->h, &lerr)) >= 0) {
        data = g_malloc(im->h.data_len);
        if ((r = read_exactly(im->fd, data, im->h.data_len, &got)) < 0)
            return qv_error_set_errno(err, r, "cannot read the save image %s", path);
        r = qv_save_data_xml(&im->h, data, got, &im->xml, &lerr);
    }
    if (r < 0)
        return qv_error_set(err, r, "%s: %s", path, qv_error_message(lerr));
    if (need_complete && !im->h.complete)
        return qv_error_set(err, -EINVAL, "%s: the save image is incomplete: the save that "
                            "wrote it did not finish", path);
    if (im->h.format != 0)
        return qv_error_set(err, -ENOTSUP, "%s: the save image is compressed (format %u); "
                            "qvirt reads raw images only", path, im->h.format);
    return 0;
}

int qv_conn_get_save_image_xml_description(qv_conn *conn, const char *file, unsigned int flags,
                                           char **ret, qv_error **err)
{
    QV_REMOTE_CONN(conn,
                     qv_remote__qv_conn_get_save_image_xml_description(conn, file, flags, ret, err));
    if (!conn || !file || !ret)
        return qv_error_set(err, -EINVAL, "qv_conn_get_save_image_xml_description: conn, file "
                            "and ret are required");
    if (flags & ~(unsigned)QV_DOMAIN_SAVE_IMAGE_XML_SECURE)
        return qv_error_set(err, -EINVAL, "get_save_image_xml_description: unsupported flags "
                            "0x%x", flags);
    g_auto(save_image) im = { .fd = -1 };
    int r = open_image(file, false, false, &im, err);
    if (r < 0)
        return r;
    g_autoptr(qv_domdef) def = NULL;
    if ((r = qv_domxml_parse(im.xml, 0, &def, err)) < 0) {
        if (err && *err)
            qv_error_prefix(*err, "the XML in save image %s", file);
        return r;
    }
    g_autofree char *xml = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE |
                                                 ((flags & QV_DOMAIN_SAVE_IMAGE_XML_SECURE)
                                                      ? QV_DOMXML_FORMAT_SECURE : 0));
    *ret = strdup(xml);
    return 0;
}

int qv_conn_define_save_image_xml(qv_conn *conn, const char *file, const char *dxml,
                                  unsigned int flags, qv_error **err)
{
    QV_REMOTE_CONN(conn, qv_remote__qv_conn_define_save_image_xml(conn, file, dxml, flags, err));
    if (!conn || !file || !dxml)
        return qv_error_set(err, -EINVAL, "qv_conn_define_save_image_xml: conn, file and dxml "
                            "are required");
    if (flags & ~(unsigned)(QV_DOMAIN_SAVE_RUNNING | QV_DOMAIN_SAVE_PAUSED))
        return qv_error_set(err, -EINVAL, "define_save_image_xml: unsupported flags 0x%x", flags);
    if ((flags & QV_DOMAIN_SAVE_RUNNING) && (flags & QV_DOMAIN_SAVE_PAUSED))
        return qv_error_set(err, -EINVAL, "define_save_image_xml: RUNNING and PAUSED exclude "
                            "each other");
    g_auto(save_image) im = { .fd = -1 };
    int r = open_image(file, true, true, &im, err);
    if (r < 0)
        return r;
    g_autoptr(qv_domdef) old = NULL, def = NULL;
    if ((r = qv_domxml_parse(im.xml, 0, &old, err)) < 0 ||
        (r = qv_domxml_parse(dxml, 0, &def, err)) < 0)
        return r;
    if (strcmp(old->name, def->name) || memcmp(old->uuid, def->uuid, 16))
        return qv_error_set(err, -EINVAL, "the new XML describes domain '%s', not the saved "
                            "domain '%s'", def->name, old->name);
    g_autofree char *xml = qv_domxml_format(def, QV_DOMXML_FORMAT_SECURE |
                                                 QV_DOMXML_FORMAT_INACTIVE);
    size_t room = im.h.cookie_offset ? im.h.cookie_offset : im.h.data_len;
    size_t len = strlen(xml) + 1;
    if (len > room)
        return qv_error_set(err, -ENOSPC, "the new XML (%zu bytes) does not fit in the %zu "
                            "bytes save image %s has for it", len, room, file);
    if (flags & QV_DOMAIN_SAVE_RUNNING)
        im.h.was_running = 1;
    else if (flags & QV_DOMAIN_SAVE_PAUSED)
        im.h.was_running = 0;
    g_autofree char *area = g_malloc0(room);
    memcpy(area, xml, len);
    unsigned char fixed[QV_SAVE_HEADER_LEN];
    qv_save_header_pack(&im.h, fixed);
    if ((r = write_all_at(im.fd, area, room, QV_SAVE_HEADER_LEN, file, err)) < 0 ||
        (r = write_all_at(im.fd, fixed, sizeof fixed, 0, file, err)) < 0)
        return r;
    return flush_file(im.fd, false, file, err);
}

/* ---- restore ------------------------------------------------------------ */

int qv_restore_begin(qv_qmp *qmp, int fd, qv_error **err)
{
    int r = migrate_events_on(qmp, err);
    if (r >= 0 && (r = give_fd(qmp, QV_RESTORE_FDNAME, fd, err)) >= 0) {
        json_object *args = json_object_new_object();
        json_object_object_add(args, "uri", json_object_new_string("fd:" QV_RESTORE_FDNAME));
        if ((r = qmp_simple(qmp, "migrate-incoming", args, NULL, err)) < 0)
            drop_fd(qmp, QV_RESTORE_FDNAME);
    }
    return r;
}

int qv_restore_finish(qv_domain *dom, qv_qmp *qmp, int fd, qv_error **err)
{
    qv_job job = { .operation = QV_DOMAIN_JOB_OPERATION_RESTORE, .kind = QV_JOB_MIGRATION,
                   .started_us = qv_rt_now_us() };
    qv_domain_job_stats st = { .size = sizeof st };
    int r;
    if ((r = wait_job(dom, qmp, &job, "MIGRATION", fd, false, &st, err)) >= 0 &&
        st.type != QV_DOMAIN_JOB_COMPLETED)
        r = qv_error_set(err, -EIO, "QEMU could not load the saved state: %s",
                         *st.errmsg ? st.errmsg : "its incoming migration failed (see the "
                         "domain's QEMU log)");
    return r;
}

/* Restores an image into dom (or a new handle when dom is NULL). */
static int restore_from(qv_conn *conn, qv_domain *dom, const char *file, const char *dxml,
                        unsigned int flags, qv_error **err)
{
    const unsigned int known = QV_DOMAIN_SAVE_BYPASS_CACHE | QV_DOMAIN_SAVE_RUNNING |
                               QV_DOMAIN_SAVE_PAUSED | QV_DOMAIN_SAVE_RESET_NVRAM;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "restore: unsupported flags 0x%x", flags);
    if ((flags & QV_DOMAIN_SAVE_RUNNING) && (flags & QV_DOMAIN_SAVE_PAUSED))
        return qv_error_set(err, -EINVAL, "restore: RUNNING and PAUSED exclude each other");
    g_auto(save_image) im = { .fd = -1 };
    int r = open_image(file, false, true, &im, err);
    if (r < 0)
        return r;
    g_autoptr(qv_domdef) saved = NULL, def = NULL;
    if ((r = qv_domxml_parse(im.xml, 0, &saved, err)) < 0) {
        if (err && *err)
            qv_error_prefix(*err, "the XML in save image %s", file);
        return r;
    }
    if (dxml) {
        if ((r = qv_domxml_parse(dxml, 0, &def, err)) < 0)
            return r;
        if (strcmp(saved->name, def->name) || memcmp(saved->uuid, def->uuid, 16))
            return qv_error_set(err, -EINVAL, "the XML given describes domain '%s', not the "
                                "saved domain '%s'", def->name, saved->name);
    } else {
        def = g_steal_pointer(&saved);
    }
    qv_domain *own __attribute__((cleanup(qv_domain_freep))) = NULL;
    if (!dom) {
        if (qv_conn_get_domain_by_name(conn, def->name, &own, NULL) == 0 &&
            memcmp(own->uuid, def->uuid, 16))
            return qv_error_set(err, -EEXIST, "domain '%s' is defined with another UUID (%s) "
                                "than the saved one", def->name, own->uuid_str);
        qv_domain *by_uuid = NULL;
        if (qv_conn_get_domain_by_uuid(conn, def->uuid, &by_uuid, NULL) == 0 &&
            strcmp(by_uuid->name, def->name)) {
            r = qv_error_set(err, -EEXIST, "domain '%s' already has the saved domain's UUID",
                             by_uuid->name);
            qv_domain_free(by_uuid);
            return r;
        }
        qv_domain_free(by_uuid);
        if (!own && (r = qv_domain_new(conn, def->name, def->uuid, &own)) < 0)
            return r;
        dom = own;
    }
    bool run = (flags & QV_DOMAIN_SAVE_RUNNING) ? true
             : (flags & QV_DOMAIN_SAVE_PAUSED) ? false : im.h.was_running != 0;
    bool persistent = qv_domain_is_persistent(dom, NULL) == 1;
    qv_start_restore rs = { .fd = im.fd, .run = run };
    unsigned int sflags = (run ? 0 : QV_DOMAIN_START_PAUSED) |
                          ((flags & QV_DOMAIN_SAVE_RESET_NVRAM) ? QV_DOMAIN_START_RESET_NVRAM : 0);
    r = qv_conn_start_domain_restore(conn, dom, def, !persistent, sflags, &rs, err);
    if (r >= 0 && (flags & QV_DOMAIN_SAVE_BYPASS_CACHE))
        posix_fadvise(im.fd, 0, 0, POSIX_FADV_DONTNEED);
    return r;
}

int qv_domain_start_from_image(qv_domain *dom, const char *file, unsigned int start_flags,
                               int started_detail, int reason, qv_error **err)
{
    g_auto(save_image) im = { .fd = -1 };
    int r = open_image(file, false, true, &im, err);
    if (r < 0)
        return r;
    g_autoptr(qv_domdef) def = NULL;
    if ((r = qv_domain_load_config(dom->conn, dom->name, &def, err)) < 0)
        return r;
    qv_start_restore rs = { .fd = im.fd, .run = !(start_flags & QV_DOMAIN_START_PAUSED),
                            .started_detail = started_detail, .reason = reason };
    return qv_conn_start_domain_restore(dom->conn, dom, def, false, start_flags, &rs, err);
}

int qv_conn_restore_domain(qv_conn *conn, const char *file, const char *dxml, unsigned int flags,
                           qv_error **err)
{
    QV_REMOTE_CONN(conn, qv_remote__qv_conn_restore_domain(conn, file, dxml, flags, err));
    if (!conn || !file || !*file)
        return qv_error_set(err, -EINVAL, "qv_conn_restore_domain: conn and file are required");
    return restore_from(conn, NULL, file, dxml, flags, err);
}

int qv_domain_start_managed(qv_domain *dom, unsigned int flags, qv_error **err)
{
    g_autofree char *path = qv_domain_managed_save_path(dom->conn, dom->name);
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return 0;
    /* A running domain: the start says so (an image can be there when a
     * managed save was killed between its rename and the domain's end). */
    if (qv_domain_is_active(dom, NULL) == 1)
        return 0;
    if (flags & QV_DOMAIN_START_FORCE_BOOT) {
        if (unlink(path) < 0 && errno != ENOENT)
            return qv_error_set_errno(err, -errno, "cannot remove the managed save image %s",
                                      path);
        return 0;
    }
    /* An image whose save never completed is no state to go back to:
     * libvirt ignores it and boots; so does this, and removes it. */
    g_auto(save_image) im = { .fd = -1 };
    if (open_image(path, false, false, &im, NULL) == 0 && !im.h.complete) {
        qv_log(QV_LOG_INFO, "domain '%s': ignoring the incomplete managed save image %s",
               dom->name, path);
        unlink(path);
        return 0;
    }
    save_image_clear(&im);
    unsigned int rflags = (flags & QV_DOMAIN_START_PAUSED) ? QV_DOMAIN_SAVE_PAUSED : 0;
    if (flags & QV_DOMAIN_START_RESET_NVRAM)
        rflags |= QV_DOMAIN_SAVE_RESET_NVRAM;
    int r = restore_from(dom->conn, dom, path, NULL, rflags, err);
    if (r < 0) {
        if (err && *err)
            qv_error_prefix(*err, "cannot restore domain '%s' from its managed save image "
                            "(start with force boot to discard it)", dom->name);
        return r;
    }
    unlink(path);
    return 1;
}

/* ---- core dump ---------------------------------------------------------- */

static const char *const dump_formats[] = { "elf", "kdump-zlib", "kdump-lzo", "kdump-snappy",
                                            "win-dmp" };

/* QEMU builds some kdump compressions optionally: ask it. */
static int check_dump_format(qv_domain *dom, const char *fmt, qv_error **err)
{
    g_autoptr(json_object) caps = NULL;
    int r = qv_domain_qmp_call(dom, "query-dump-guest-memory-capability", NULL, &caps, err);
    if (r < 0)
        return r;
    json_object *list = qv_json_get(caps, "formats");
    for (size_t i = 0; list && i < json_object_array_length(list); i++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(list, i)), fmt))
            return 0;
    return qv_error_set(err, -ENOTSUP, "this QEMU cannot write '%s' dumps", fmt);
}

static int dump_into(qv_domain *dom, const qv_job *job, int fd, const char *fmt,
                     qv_domain_job_stats *st, qv_error **err)
{
    qv_qmp *qmp = NULL;
    int lock = -1;
    int r = qv_domain_qmp_open(dom, &qmp, &lock, err);
    if (r < 0)
        return r;
    if ((r = give_fd(qmp, QV_DUMP_FDNAME, fd, err)) >= 0) {
        json_object *args = json_object_new_object();
        json_object_object_add(args, "paging", json_object_new_boolean(false));
        json_object_object_add(args, "protocol", json_object_new_string("fd:" QV_DUMP_FDNAME));
        json_object_object_add(args, "format", json_object_new_string(fmt));
        json_object_object_add(args, "detach", json_object_new_boolean(true));
        if ((r = qmp_simple(qmp, "dump-guest-memory", args, NULL, err)) < 0)
            drop_fd(qmp, QV_DUMP_FDNAME);
        else
            r = wait_job(dom, qmp, job, "DUMP_COMPLETED", fd, true, st, err);
    }
    qv_domain_qmp_close(qmp, lock);
    return r;
}

int qv_domain_core_dump_format(qv_domain *dom, const char *file, unsigned int format,
                               unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_core_dump_format(dom, file, format, flags, err));
    if (!dom || !file || !*file)
        return qv_error_set(err, -EINVAL, "qv_domain_core_dump: dom and file are required");
    const unsigned int known = QV_DUMP_CRASH | QV_DUMP_LIVE | QV_DUMP_BYPASS_CACHE |
                               QV_DUMP_RESET | QV_DUMP_MEMORY_ONLY;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "core_dump: unsupported flags 0x%x", flags);
    if ((flags & QV_DUMP_CRASH) && (flags & QV_DUMP_LIVE))
        return qv_error_set(err, -EINVAL, "core_dump: crash and live flags exclude each other");
    if ((flags & QV_DUMP_CRASH) && (flags & QV_DUMP_RESET))
        return qv_error_set(err, -EINVAL, "core_dump: crash and reset flags exclude each other");
    if (format >= G_N_ELEMENTS(dump_formats))
        return qv_error_set(err, -EINVAL, "core_dump: unknown format %u", format);
    const char *fmt = dump_formats[format];
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, QV_CALL_RUN_ONLY, &c, err);
    if (r < 0)
        return r;
    if (c.act.phase != QV_RUN_ON)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    if ((r = check_dump_format(dom, fmt, err)) < 0)
        return r;
    qv_autoclose int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot dump domain '%s' to %s", dom->name, file);
    qv_job job;
    if ((r = qv_job_begin(dom, &c.act, QV_DOMAIN_JOB_OPERATION_DUMP, QV_JOB_DUMP, &job,
                          err)) < 0) {
        unlink(file);
        return r;
    }
    bool was_running = false;
    qv_domain_job_stats st = { .size = sizeof st, .type = QV_DOMAIN_JOB_FAILED };
    if (!(flags & QV_DUMP_LIVE))
        r = qv_job_stop_cpus(dom, QV_DOMAIN_PAUSED_DUMP, &was_running, err);
    if (r >= 0 && was_running) {
        job.stopped_cpus = true;
        r = qv_job_update(dom, &job, err);
    }
    if (r >= 0)
        r = dump_into(dom, &job, fd, fmt, &st, err);
    if (r >= 0 && st.type != QV_DOMAIN_JOB_COMPLETED)
        r = qv_error_set(err, -EIO, "cannot dump domain '%s' to %s: %s", dom->name, file,
                         *st.errmsg ? st.errmsg : "QEMU's dump failed");
    if (r >= 0)
        r = flush_file(fd, flags & QV_DUMP_BYPASS_CACHE, file, err);
    if (r < 0) {
        unlink(file);
        if (st.type == QV_DOMAIN_JOB_COMPLETED || st.type == QV_DOMAIN_JOB_UNBOUNDED)
            st.type = QV_DOMAIN_JOB_FAILED;
    }
    qv_job_end(dom, &job, &st);
    if (r >= 0 && (flags & QV_DUMP_CRASH)) {
        qv_domain_end_run(dom, &c.act, "crashed", QV_DOMAIN_SHUTOFF_CRASHED,
                QV_DOMAIN_EVENT_STOPPED_CRASHED);
        return 0;
    }
    if (r >= 0 && (flags & QV_DUMP_RESET))
        qv_domain_qmp_call(dom, "system_reset", NULL, NULL, NULL);
    if (was_running)
        qv_job_resume_cpus(dom, QV_DOMAIN_RUNNING_UNPAUSED);
    return r;
}

int qv_domain_core_dump(qv_domain *dom, const char *file, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_core_dump(dom, file, flags, err));
    return qv_domain_core_dump_format(dom, file, QV_DOMAIN_CORE_DUMP_FORMAT_RAW, flags, err);
}
