/* A domain's background job (qvirt-job.h; the record: job.h). */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "remote.h"
#include "qv-log.h"
#include "qv-process.h"

/* The statistics as libvirt's typed parameter names (VIR_DOMAIN_JOB_*),
 * for the completed record and the JOB_COMPLETED event. */
static const struct {
    const char *name;
    unsigned long long bit;
    size_t off;
} job_fields[] = {
#define F(n, b, m) { n, QV_DOMAIN_JOB_FIELD_##b, offsetof(qv_domain_job_stats, m) }
    F("time_elapsed", TIME_ELAPSED, time_elapsed),
    F("time_remaining", TIME_REMAINING, time_remaining),
    F("downtime", DOWNTIME, downtime),
    F("setup_time", SETUP_TIME, setup_time),
    F("data_total", DATA_TOTAL, data_total),
    F("data_processed", DATA_PROCESSED, data_processed),
    F("data_remaining", DATA_REMAINING, data_remaining),
    F("memory_total", MEMORY_TOTAL, memory_total),
    F("memory_processed", MEMORY_PROCESSED, memory_processed),
    F("memory_remaining", MEMORY_REMAINING, memory_remaining),
    F("memory_constant", MEMORY_CONSTANT, memory_constant),
    F("memory_normal", MEMORY_NORMAL, memory_normal),
    F("memory_normal_bytes", MEMORY_NORMAL_BYTES, memory_normal_bytes),
    F("memory_bps", MEMORY_BPS, memory_bps),
    F("memory_dirty_rate", MEMORY_DIRTY_RATE, memory_dirty_rate),
    F("memory_page_size", MEMORY_PAGE_SIZE, memory_page_size),
    F("memory_iteration", MEMORY_ITERATION, memory_iteration),
    F("disk_total", DISK_TOTAL, disk_total),
    F("disk_processed", DISK_PROCESSED, disk_processed),
    F("disk_remaining", DISK_REMAINING, disk_remaining),
    F("disk_bps", DISK_BPS, disk_bps),
    F("compression_cache", COMPRESSION_CACHE, compression_cache),
    F("compression_bytes", COMPRESSION_BYTES, compression_bytes),
    F("compression_pages", COMPRESSION_PAGES, compression_pages),
    F("compression_cache_misses", COMPRESSION_CACHE_MISSES, compression_cache_misses),
    F("compression_overflow", COMPRESSION_OVERFLOW, compression_overflow),
    F("auto_converge_throttle", AUTO_CONVERGE_THROTTLE, auto_converge_throttle),
    F("memory_postcopy_requests", MEMORY_POSTCOPY_REQS, memory_postcopy_reqs),
#undef F
};

static unsigned long long *field_ptr(qv_domain_job_stats *st, size_t i)
{
    return (unsigned long long *)(void *)((char *)st + job_fields[i].off);
}

static void set_field(qv_domain_job_stats *st, unsigned long long bit, unsigned long long v)
{
    for (size_t i = 0; i < G_N_ELEMENTS(job_fields); i++)
        if (job_fields[i].bit == bit) {
            *field_ptr(st, i) = v;
            st->fields |= bit;
        }
}

static json_object *stats_to_json(const qv_domain_job_stats *st)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_int(st->type));
    json_object_object_add(o, "operation", json_object_new_int(st->operation));
    json_object_object_add(o, "success", json_object_new_boolean(st->success));
    for (size_t i = 0; i < G_N_ELEMENTS(job_fields); i++)
        if (st->fields & job_fields[i].bit)
            json_object_object_add(o, job_fields[i].name,
                                   json_object_new_int64((int64_t)*field_ptr((qv_domain_job_stats *)st, i)));
    if (st->fields & QV_DOMAIN_JOB_FIELD_ERRMSG)
        json_object_object_add(o, "errmsg", json_object_new_string(st->errmsg));
    return o;
}

static void stats_from_json(json_object *o, qv_domain_job_stats *st)
{
    st->type = (int)qv_json_get_int(o, "type", QV_DOMAIN_JOB_NONE);
    st->operation = (int)qv_json_get_int(o, "operation", 0);
    st->fields = QV_DOMAIN_JOB_FIELD_OPERATION | QV_DOMAIN_JOB_FIELD_SUCCESS;
    json_object *v;
    st->success = json_object_object_get_ex(o, "success", &v) && json_object_get_boolean(v);
    for (size_t i = 0; i < G_N_ELEMENTS(job_fields); i++)
        if (json_object_object_get_ex(o, job_fields[i].name, &v)) {
            *field_ptr(st, i) = (unsigned long long)json_object_get_int64(v);
            st->fields |= job_fields[i].bit;
        }
    const char *msg = qv_json_get_str(o, "errmsg");
    if (msg) {
        g_strlcpy(st->errmsg, msg, sizeof st->errmsg);
        st->fields |= QV_DOMAIN_JOB_FIELD_ERRMSG;
    }
}

static char *completed_path(qv_domain *dom)
{
    g_autofree char *name = g_strdup_printf("%s.json", dom->name);
    return g_build_filename(dom->conn->paths.run_dir, "jobs", name, NULL);
}

int qv_job_begin(qv_domain *dom, const qv_active *act, int operation, qv_job_kind kind,
                 qv_job *job, qv_error **err)
{
    qv_job cur;
    if (qv_job_current(dom, &cur) == 1)
        return qv_error_set(err, -EBUSY, "domain '%s' has a job running already (pid %d)",
                            dom->name, (int)cur.owner_pid);
    *job = (qv_job){ .operation = operation, .kind = kind, .owner_pid = getpid(),
                     .owner_start = qv_process_start_time(getpid()),
                     .started_us = qv_rt_now_us() };
    g_strlcpy(job->run_id, act->status.run_id, sizeof job->run_id);
    g_autofree char *abort_marker = qv_domain_file(dom, QV_JOB_ABORT_FILE);
    g_autofree char *suspend_marker = qv_domain_file(dom, QV_JOB_SUSPEND_FILE);
    unlink(abort_marker);
    unlink(suspend_marker);
    return qv_job_update(dom, job, err);
}

int qv_job_update(qv_domain *dom, const qv_job *job, qv_error **err)
{
    g_autoptr(json_object) o = json_object_new_object();
    json_object_object_add(o, "operation", json_object_new_int(job->operation));
    json_object_object_add(o, "kind", json_object_new_int(job->kind));
    json_object_object_add(o, "owner_pid", json_object_new_int(job->owner_pid));
    json_object_object_add(o, "owner_start", json_object_new_int64((int64_t)job->owner_start));
    json_object_object_add(o, "started_us", json_object_new_int64(job->started_us));
    json_object_object_add(o, "run_id", json_object_new_string(job->run_id));
    json_object_object_add(o, "stopped_cpus", json_object_new_boolean(job->stopped_cpus));
    json_object_object_add(o, "tmp_file", json_object_new_string(job->tmp_file));
    json_object_object_add(o, "handed_over", json_object_new_boolean(job->handed_over));
    g_autofree char *path = qv_domain_file(dom, QV_JOB_FILE);
    return qv_rt_write_json(path, o, err);
}

/* The record as it stands: 1 when there is one for the current run
 * (*alive: its owner lives), else 0. */
static int read_record(qv_domain *dom, qv_job *job, bool *alive)
{
    *alive = false;
    g_autofree char *path = qv_domain_file(dom, QV_JOB_FILE);
    g_autoptr(json_object) o = NULL;
    if (qv_rt_read_json(path, &o, NULL) < 0)
        return 0;
    memset(job, 0, sizeof *job);
    job->operation = (int)qv_json_get_int(o, "operation", 0);
    job->kind = (qv_job_kind)qv_json_get_int(o, "kind", 0);
    job->owner_pid = (pid_t)qv_json_get_int(o, "owner_pid", 0);
    job->owner_start = (unsigned long long)qv_json_get_int(o, "owner_start", 0);
    job->started_us = qv_json_get_int(o, "started_us", 0);
    g_strlcpy(job->run_id, qv_json_get_str(o, "run_id") ? qv_json_get_str(o, "run_id") : "",
              sizeof job->run_id);
    json_object *v;
    job->stopped_cpus = json_object_object_get_ex(o, "stopped_cpus", &v) &&
                        json_object_get_boolean(v);
    job->handed_over = json_object_object_get_ex(o, "handed_over", &v) &&
                       json_object_get_boolean(v);
    g_strlcpy(job->tmp_file, qv_json_get_str(o, "tmp_file") ? qv_json_get_str(o, "tmp_file") : "",
              sizeof job->tmp_file);
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    char run_id[40];
    qv_rt_run_id_read(dir, run_id);
    if (job->owner_pid <= 0 || strcmp(run_id, job->run_id))
        return 0;
    *alive = qv_rt_pid_alive(job->owner_pid, job->owner_start);
    return 1;
}

int qv_job_current(qv_domain *dom, qv_job *job)
{
    bool alive;
    /* A record whose owner died (or of an earlier run) is no job. */
    return read_record(dom, job, &alive) == 1 && alive;
}

/* How long recovery waits for QEMU to stop a cancelled migration. */
#define QV_JOB_CANCEL_MS 10000

void qv_job_recover(qv_domain *dom)
{
    qv_job job;
    bool alive;
    if (read_record(dom, &job, &alive) != 1 || alive)
        return;
    qv_domain_job_stats st = { .size = sizeof st };
    const char *status = "none";
    g_autoptr(qv_error) lerr = NULL;
    if (qv_job_query(dom, NULL, &job, &st, &status, &lerr) < 0) {
        qv_log(QV_LOG_INFO, "domain '%s': cannot look at the job a dead process left: %s",
               dom->name, qv_error_message(lerr));
        return;
    }
    if (job.kind == QV_JOB_DUMP && st.type == QV_DOMAIN_JOB_UNBOUNDED)
        return; /* QEMU cannot cancel a dump: recovered once it ends */
    if (job.handed_over) {
        /* The destination may run the guest: never resume the source. */
        qv_active act;
        st.type = QV_DOMAIN_JOB_COMPLETED;
        qv_job_end(dom, &job, &st);
        if (qv_domain_observe(dom, &act, NULL) == 0 && act.phase == QV_RUN_ON)
            qv_domain_end_run(dom, &act, "migrated", QV_DOMAIN_SHUTOFF_MIGRATED,
                              QV_DOMAIN_EVENT_STOPPED_MIGRATED);
        qv_log(QV_LOG_INFO, "domain '%s': ended the source of a migration whose process (pid %d) "
               "died after handing the guest over", dom->name, (int)job.owner_pid);
        return;
    }
    bool migration_out = job.operation == QV_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
    qv_qmp *qmp = NULL;
    int lock = -1;
    /* A job whose QEMU migration never began (status none: a migration's
     * caller killed while its destination started) has nothing to cancel. */
    if (job.kind == QV_JOB_MIGRATION && st.type == QV_DOMAIN_JOB_UNBOUNDED &&
        strcmp(status, "none") && qv_domain_qmp_open(dom, &qmp, &lock, NULL) == 0) {
        /* QEMU ends a cancelled stream at its next write, and says so
         * with a MIGRATION event (the dead save turned them on). */
        qv_qmp_call(qmp, "migrate_cancel", NULL, 0, NULL, NULL);
        gint64 deadline = g_get_monotonic_time() + QV_JOB_CANCEL_MS * 1000;
        while (qv_job_query(dom, qmp, &job, &st, &status, NULL) == 0 &&
               st.type == QV_DOMAIN_JOB_UNBOUNDED && strcmp(status, "none")) {
            gint64 left = (deadline - g_get_monotonic_time()) / 1000;
            qv_qmp_event *ev = NULL;
            if (left <= 0 || (qv_qmp_wait_event(qmp, "MIGRATION", (int)left, &ev, NULL) < 0 &&
                              qv_qmp_is_broken(qmp)))
                break;
            qv_qmp_event_free(ev);
        }
        qv_domain_qmp_close(qmp, lock);
    }
    if (*job.tmp_file)
        unlink(job.tmp_file);
    if (job.stopped_cpus && qv_domain_lock_run(dom, NULL) == 0) {
        qv_rt_state cur;
        if (dom->smap && qv_rt_statemap_load(dom->smap, &cur) && cur.state == QV_DOMAIN_PAUSED &&
            qv_domain_qmp_call_locked(dom, "cont", NULL) == 0) {
            qv_rt_state run = { QV_DOMAIN_RUNNING,
                                migration_out ? QV_DOMAIN_RUNNING_MIGRATION_CANCELED
                                              : QV_DOMAIN_RUNNING_SAVE_CANCELED,
                                qv_rt_now_us() };
            qv_rt_statemap_store(dom->smap, &run);
            qv_conn_emit(dom->conn, dom->name, dom->uuid_str, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                         QV_DOMAIN_EVENT_RESUMED,
                         migration_out ? QV_DOMAIN_EVENT_RESUMED_MIGRATED
                                       : QV_DOMAIN_EVENT_RESUMED_UNPAUSED, NULL);
        }
        qv_domain_unlock_run(dom);
    }
    st.type = QV_DOMAIN_JOB_FAILED;
    g_snprintf(st.errmsg, sizeof st.errmsg, "the process running the job (pid %d) ended before it",
               (int)job.owner_pid);
    st.fields |= QV_DOMAIN_JOB_FIELD_ERRMSG;
    qv_log(QV_LOG_INFO, "domain '%s': recovered from a job whose process (pid %d) died",
           dom->name, (int)job.owner_pid);
    qv_job_end(dom, &job, &st);
}

static int job_call(qv_domain *dom, qv_qmp *qmp, const char *cmd, json_object **ret,
                    qv_error **err)
{
    if (qmp)
        return qv_qmp_call(qmp, cmd, NULL, 0, ret, err);
    /* The job's owner holds qmp.lock: the handle must know the run to take
     * its lane or the proxy instead. */
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0)
        return r;
    return qv_domain_qmp_call(dom, cmd, NULL, ret, err);
}

static unsigned long long uget(json_object *o, const char *key)
{
    long long v = qv_json_get_int(o, key, 0);
    return v > 0 ? (unsigned long long)v : 0;
}

/* A migration's disk copy: its mirror jobs' progress (migrate.c names
 * them), added to the data figures as libvirt does. Gone once the mirrors
 * completed at the switch-over. */
static void add_disk_copy(qv_domain *dom, qv_qmp *qmp, qv_domain_job_stats *st)
{
    g_autoptr(json_object) jobs = NULL;
    if (job_call(dom, qmp, "query-block-jobs", &jobs, NULL) < 0 || !jobs)
        return;
    unsigned long long total = 0, done = 0, bps = 0;
    bool any = false;
    for (size_t i = 0; i < json_object_array_length(jobs); i++) {
        json_object *j = json_object_array_get_idx(jobs, i);
        if (!g_str_has_prefix(qv_json_get_str(j, "device") ?: "", QV_JOB_MIGRATE_MIRROR_PREFIX))
            continue;
        any = true;
        total += uget(j, "len");
        done += uget(j, "offset");
        bps += uget(j, "speed");
    }
    if (!any)
        return;
    set_field(st, QV_DOMAIN_JOB_FIELD_DISK_TOTAL, total);
    set_field(st, QV_DOMAIN_JOB_FIELD_DISK_PROCESSED, done);
    set_field(st, QV_DOMAIN_JOB_FIELD_DISK_REMAINING, total > done ? total - done : 0);
    set_field(st, QV_DOMAIN_JOB_FIELD_DISK_BPS, bps);
    set_field(st, QV_DOMAIN_JOB_FIELD_DATA_TOTAL, st->data_total + total);
    set_field(st, QV_DOMAIN_JOB_FIELD_DATA_PROCESSED, st->data_processed + done);
    set_field(st, QV_DOMAIN_JOB_FIELD_DATA_REMAINING,
              st->data_remaining + (total > done ? total - done : 0));
}

int qv_job_query(qv_domain *dom, qv_qmp *qmp, const qv_job *job, qv_domain_job_stats *st,
                 const char **status, qv_error **err)
{
    size_t size = st->size;
    memset(st, 0, sizeof *st);
    st->size = size;
    st->operation = job->operation;
    st->fields = QV_DOMAIN_JOB_FIELD_OPERATION;
    long long now = qv_rt_now_us();
    set_field(st, QV_DOMAIN_JOB_FIELD_TIME_ELAPSED,
              now > job->started_us ? (unsigned long long)(now - job->started_us) / 1000 : 0);
    g_autoptr(json_object) q = NULL;
    int r = job_call(dom, qmp, job->kind == QV_JOB_DUMP ? "query-dump" : "query-migrate", &q,
                     err);
    if (r < 0)
        return r;
    const char *s = qv_json_get_str(q, "status");
    *status = !s ? "none"
            : !strcmp(s, "completed") ? "completed"
            : !strcmp(s, "failed") ? "failed"
            : !strcmp(s, "cancelled") ? "cancelled"
            : !strcmp(s, "none") ? "none" : "active";
    st->type = !strcmp(*status, "completed") ? QV_DOMAIN_JOB_COMPLETED
             : !strcmp(*status, "failed") ? QV_DOMAIN_JOB_FAILED
             : !strcmp(*status, "cancelled") ? QV_DOMAIN_JOB_CANCELLED
             : QV_DOMAIN_JOB_UNBOUNDED;
    if (job->kind == QV_JOB_DUMP) {
        unsigned long long total = uget(q, "total"), done = uget(q, "completed");
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_TOTAL, total);
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_PROCESSED, done);
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_REMAINING, total > done ? total - done : 0);
        set_field(st, QV_DOMAIN_JOB_FIELD_DATA_TOTAL, total);
        set_field(st, QV_DOMAIN_JOB_FIELD_DATA_PROCESSED, done);
        set_field(st, QV_DOMAIN_JOB_FIELD_DATA_REMAINING, total > done ? total - done : 0);
        return 0;
    }
    json_object *ram = qv_json_get(q, "ram");
    if (ram) {
        unsigned long long total = uget(ram, "total"), remaining = uget(ram, "remaining");
        unsigned long long transferred = uget(ram, "transferred");
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_TOTAL, total);
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_REMAINING, remaining);
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_PROCESSED, transferred);
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_CONSTANT, uget(ram, "duplicate"));
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_NORMAL, uget(ram, "normal"));
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_NORMAL_BYTES, uget(ram, "normal-bytes"));
        /* mbps is megabits a second; libvirt reports bytes a second. */
        double mbps = json_object_get_double(qv_json_get(ram, "mbps"));
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_BPS, (unsigned long long)(mbps * 1e6 / 8));
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_DIRTY_RATE, uget(ram, "dirty-pages-rate"));
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_PAGE_SIZE, uget(ram, "page-size"));
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_ITERATION, uget(ram, "dirty-sync-count"));
        set_field(st, QV_DOMAIN_JOB_FIELD_DATA_TOTAL, total);
        set_field(st, QV_DOMAIN_JOB_FIELD_DATA_PROCESSED, transferred);
        set_field(st, QV_DOMAIN_JOB_FIELD_DATA_REMAINING, remaining);
    }
    json_object *xb = qv_json_get(q, "xbzrle-cache");
    if (xb) {
        set_field(st, QV_DOMAIN_JOB_FIELD_COMPRESSION_CACHE, uget(xb, "cache-size"));
        set_field(st, QV_DOMAIN_JOB_FIELD_COMPRESSION_BYTES, uget(xb, "bytes"));
        set_field(st, QV_DOMAIN_JOB_FIELD_COMPRESSION_PAGES, uget(xb, "pages"));
        set_field(st, QV_DOMAIN_JOB_FIELD_COMPRESSION_CACHE_MISSES, uget(xb, "cache-miss"));
        set_field(st, QV_DOMAIN_JOB_FIELD_COMPRESSION_OVERFLOW, uget(xb, "overflow"));
    }
    if (qv_json_get(q, "cpu-throttle-percentage"))
        set_field(st, QV_DOMAIN_JOB_FIELD_AUTO_CONVERGE_THROTTLE,
                  uget(q, "cpu-throttle-percentage"));
    if (ram && qv_json_get(ram, "postcopy-requests"))
        set_field(st, QV_DOMAIN_JOB_FIELD_MEMORY_POSTCOPY_REQS, uget(ram, "postcopy-requests"));
    if (job->operation == QV_DOMAIN_JOB_OPERATION_MIGRATION_OUT)
        add_disk_copy(dom, qmp, st);
    if (qv_json_get(q, "setup-time"))
        set_field(st, QV_DOMAIN_JOB_FIELD_SETUP_TIME, uget(q, "setup-time"));
    if (qv_json_get(q, "downtime"))
        set_field(st, QV_DOMAIN_JOB_FIELD_DOWNTIME, uget(q, "downtime"));
    const char *desc = qv_json_get_str(q, "error-desc");
    if (desc) {
        g_strlcpy(st->errmsg, desc, sizeof st->errmsg);
        st->fields |= QV_DOMAIN_JOB_FIELD_ERRMSG;
    }
    return 0;
}

void qv_job_end(qv_domain *dom, const qv_job *job, const qv_domain_job_stats *final)
{
    qv_domain_job_stats st = *final;
    st.fields |= QV_DOMAIN_JOB_FIELD_OPERATION | QV_DOMAIN_JOB_FIELD_SUCCESS;
    st.operation = job->operation;
    st.success = st.type == QV_DOMAIN_JOB_COMPLETED;
    g_autoptr(json_object) o = stats_to_json(&st);
    g_autofree char *path = completed_path(dom);
    g_autofree char *dir = g_path_get_dirname(path);
    if (qv_rt_mkdirs(dir, NULL) < 0 || qv_rt_write_json(path, o, NULL) < 0)
        qv_log(QV_LOG_INFO, "domain '%s': cannot keep the completed job's statistics in %s",
               dom->name, path);
    qv_conn_emit(dom->conn, dom->name, dom->uuid_str, QV_DOMAIN_EVENT_ID_JOB_COMPLETED, 0, 0,
                 json_object_get(o));
    g_autofree char *rec = qv_domain_file(dom, QV_JOB_FILE);
    g_autofree char *abort_marker = qv_domain_file(dom, QV_JOB_ABORT_FILE);
    unlink(abort_marker);
    unlink(rec);
}

/* ---- the public calls --------------------------------------------------- */

static int job_stats(qv_domain *dom, qv_domain_job_stats *stats, unsigned int flags,
                     qv_error **err);

int qv_domain_get_job_stats(qv_domain *dom, qv_domain_job_stats *stats, unsigned int flags,
                            qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_job_stats(dom, stats, flags, err));
    if (!dom || !stats || stats->size < QV_DOMAIN_JOB_STATS_SIZE_V1)
        return qv_error_set(err, -EINVAL, "qv_domain_get_job_stats: dom and stats (with its "
                            "size set) are required");
    /* Filled whole here, then copied up to the caller's size. */
    size_t caller_size = stats->size;
    qv_domain_job_stats full = { .size = sizeof full };
    int r = job_stats(dom, &full, flags, err);
    if (r < 0)
        return r;
    memcpy(stats, &full, MIN(caller_size, sizeof full));
    stats->size = caller_size;
    return 0;
}

static int job_stats(qv_domain *dom, qv_domain_job_stats *stats, unsigned int flags,
                     qv_error **err)
{
    if (flags & ~(unsigned)(QV_DOMAIN_JOB_STATS_COMPLETED | QV_DOMAIN_JOB_STATS_KEEP_COMPLETED))
        return qv_error_set(err, -EINVAL, "qv_domain_get_job_stats: unsupported flags 0x%x",
                            flags);
    size_t size = stats->size;
    memset(stats, 0, sizeof *stats);
    stats->size = size;
    stats->type = QV_DOMAIN_JOB_NONE;
    if (flags & QV_DOMAIN_JOB_STATS_COMPLETED) {
        g_autofree char *path = completed_path(dom);
        g_autoptr(json_object) o = NULL;
        if (qv_rt_read_json(path, &o, NULL) == 0) {
            stats_from_json(o, stats);
            if (!(flags & QV_DOMAIN_JOB_STATS_KEEP_COMPLETED))
                unlink(path);
        }
        return 0;
    }
    qv_job job;
    if (qv_job_current(dom, &job) != 1)
        return 0;
    const char *status;
    int r = qv_job_query(dom, NULL, &job, stats, &status, err);
    if (r < 0)
        return r;
    /* Until its owner records the end, the job is still running (libvirt
     * reports its saves and dumps unbounded). */
    stats->type = QV_DOMAIN_JOB_UNBOUNDED;
    return 0;
}

int qv_domain_get_job_info(qv_domain *dom, qv_domain_job_info *info, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_job_info(dom, info, err));
    if (!dom || !info)
        return qv_error_set(err, -EINVAL, "qv_domain_get_job_info: dom and info are required");
    qv_domain_job_stats st = { .size = sizeof st };
    int r = qv_domain_get_job_stats(dom, &st, 0, err);
    if (r < 0)
        return r;
    *info = (qv_domain_job_info){
        .type = st.type,
        .time_elapsed = st.time_elapsed, .time_remaining = st.time_remaining,
        .data_total = st.data_total, .data_processed = st.data_processed,
        .data_remaining = st.data_remaining,
        .mem_total = st.memory_total, .mem_processed = st.memory_processed,
        .mem_remaining = st.memory_remaining,
    };
    return 0;
}

int qv_domain_abort_job(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_abort_job(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_abort_job: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_abort_job: unsupported flags 0x%x", flags);
    qv_job job;
    if (qv_job_current(dom, &job) != 1)
        return qv_error_set(err, -EINVAL, "domain '%s' has no job to abort", dom->name);
    if (job.kind == QV_JOB_DUMP)
        return qv_error_set(err, -ENOTSUP, "domain '%s': QEMU cannot abort a memory dump",
                            dom->name);
    /* A migration may be copying disks before QEMU's own migration runs:
     * the marker tells its owner to stop there too (migrate.c). */
    if (job.operation == QV_DOMAIN_JOB_OPERATION_MIGRATION_OUT) {
        g_autofree char *marker = qv_domain_file(dom, QV_JOB_ABORT_FILE);
        if (qv_rt_write_runtime(marker, "", 0, err) < 0)
            return -EIO;
    }
    /* The job's owner sees the migration end cancelled and puts the
     * domain back as it was (the handle knows the run: lane or proxy). */
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0)
        return r;
    return qv_domain_qmp_call(dom, "migrate_cancel", NULL, NULL, err);
}
