/* Runtime state shared by the library and qvirt-monitor, kept in files so that
 * any process that opens the same connection sees the same domains. The
 * whole layout:
 *
 *   <config>/domains/<name>.xml      persistent config (atomic writes)
 *   <config>/autostart/<name>        autostart marker
 *   <run>/events, events.<N>         the journal: one JSON object a line;
 *                                    rotated generations, a few kept
 *   <run>/next-id                    the next domain id
 *   <run>/locks/<name>.lock          lifecycle lock (start, stop, define, undefine)
 *   <run>/locks/<name>.stop.lock     serialises recording a run's end
 *   <run>/locks/.events.lock         appenders shared, a rotation alone
 *   <run>/locks/.id.lock             serialises next-id
 *   <run>/shutoff/<name>.json        how the domain last stopped (reason)
 *   <run>/logs/<name>.log            QEMU's output, kept across runs
 *   <run>/jobs/<name>.json           the last completed job's statistics (job.c)
 *   <config>/save/<name>.save        a managed save image (save.c)
 *   <run>/domains/<name>/            exists while the domain is active; it
 *                                    appears whole (built as
 *                                    .<name>.<pid>.new, renamed into place;
 *                                    an ended run is renamed
 *                                    <name>.gone.<pid> before it is
 *                                    removed), and run-id (random)
 *                                    identifies the run:
 *       run-id                       that identity
 *       starter                      "PID START" of the process starting the
 *                                    run, until the start commits
 *       status.json                  pids + start times, id, flags, on_*
 *                                    actions (written by the monitor)
 *       state                        state + reason: one word in a shared
 *                                    mapping, and the balloon's actual size
 *                                    (see qv_rt_statemap)
 *       live.xml                     the live XML (atomic)
 *       monitor.sock                 QEMU's supervisor monitor (listening:
 *                                    a new supervisor can re-attach)
 *       monitor.lock                 held by the supervisor for its life
 *       monitor.log                  the supervisor's log
 *       ctl.sock                     qvirt-monitor's command proxy (kept-open
 *                                    connections, any number of clients)
 *       qmp.sock, qmp.lock           QEMU's command monitor (fallback, and
 *                                    fd passing) and the lock serialising it
 *       lane-0.sock, lane-0.lock     one more command monitor (QV_RT_LANES
 *                                    is 1): the process that holds
 *                                    lane-0.lock keeps a direct connection
 *                                    to lane-0.sock
 *       agent.lock                   serialises the guest agent channel
 *       stopping                     intent marker written before a stop
 *       reboot                       a guest reboot is in progress (the
 *                                    poweroff half is not a shutdown)
 *       unplugged-vcpus              vCPUs unplugged live (resources.c)
 *       job                          the running job: operation, its process,
 *                                    what to undo if that dies (job.h)
 *       <channel>.sock, vnc.sock,    sockets the argv builder generates for
 *       spice.sock                   chardevs and displays without a path
 *                                    (qvirt binds chardevs' and hands them
 *                                    to QEMU listening)
 *       owners                       files QEMU had to open by path, given
 *                                    to its user for the run: "UID GID
 *                                    NEWUID NEWGID PATH" lines, given back
 *                                    when the run ends
 *       dev/                         where QEMU's private /dev is set up
 *                                    before it moves onto /dev (empty here)
 *       memory-XXXXXX,               short-lived files QEMU writes for
 *       screenshot-XXXXXX.png        memory_peek and screenshot (unlinked at
 *                                    once; QEMU gets them as fds)
 *
 * State writers (library commands, the monitor's event handling) hold
 * qmp.lock while they learn the state from QEMU and write it, so a late event
 * never overwrites a newer state. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "qv-error.h"
#include "qv-file.h"
#include "qv-json.h"

/* QEMU command monitors that processes lease for direct, kept-open
 * connections (one process each); the rest go through ctl.sock. Code and
 * file names are written for N lanes, but there is one: QEMU
 * reads its monitors a byte per main-loop pass and every monitor's socket,
 * connected or not, is in that loop, so each idle one made every command
 * dearer (about 5% of a stop/cont pair each, measured side by side). */
#define QV_RT_LANES 1

typedef struct qv_rt_paths {
    char *config_dir;
    char *run_dir;
} qv_rt_paths;

/* The paths of the layout above, each built here and nowhere else (the
 * journal's are with the journal, below). */
char *qv_rt_config_domains_dir(const qv_rt_paths *p);            /* <config>/domains */
char *qv_rt_config_file(const qv_rt_paths *p, const char *name);
char *qv_rt_autostart_dir(const qv_rt_paths *p);
char *qv_rt_autostart_path(const qv_rt_paths *p, const char *name);
char *qv_rt_next_id_path(const qv_rt_paths *p);
char *qv_rt_locks_dir(const qv_rt_paths *p);
char *qv_rt_lifecycle_lock_path(const qv_rt_paths *p, const char *name);
char *qv_rt_stop_lock_path(const qv_rt_paths *p, const char *name);
char *qv_rt_id_lock_path(const qv_rt_paths *p);
char *qv_rt_shutoff_dir(const qv_rt_paths *p);
char *qv_rt_shutoff_path(const qv_rt_paths *p, const char *name);
char *qv_rt_log_dir(const qv_rt_paths *p);
char *qv_rt_log_path(const qv_rt_paths *p, const char *name);
char *qv_rt_domains_dir(const qv_rt_paths *p);                   /* <run>/domains */
char *qv_rt_domain_dir(const qv_rt_paths *p, const char *name);
/* A file of a run's folder: file is one of the QV_RT_RUN_* names. Code that
 * has the folder at hand (the start, which builds it under another name;
 * the monitor) joins it with the same names. */
char *qv_rt_domain_file(const qv_rt_paths *p, const char *name, const char *file);
char *qv_rt_journal_path(const qv_rt_paths *p);

/* The files of a run's folder (<run>/domains/<name>/, described above). */
#define QV_RT_RUN_ID "run-id"
#define QV_RT_RUN_STARTER "starter"
#define QV_RT_RUN_STATUS "status.json"
#define QV_RT_RUN_STATE "state"
#define QV_RT_RUN_LIVE_XML "live.xml"
#define QV_RT_RUN_MONITOR_SOCK "monitor.sock"
#define QV_RT_RUN_MONITOR_LOCK "monitor.lock"
#define QV_RT_RUN_MONITOR_LOG "monitor.log"
#define QV_RT_RUN_CTL_SOCK "ctl.sock"
#define QV_RT_RUN_QMP_SOCK "qmp.sock"
#define QV_RT_RUN_QMP_LOCK "qmp.lock"
#define QV_RT_RUN_LANE_SOCK_FMT "lane-%d.sock" /* of the lane's index */
#define QV_RT_RUN_LANE_LOCK_FMT "lane-%d.lock"
#define QV_RT_RUN_AGENT_LOCK "agent.lock"
#define QV_RT_RUN_STOPPING "stopping"
#define QV_RT_RUN_REBOOT "reboot"
#define QV_RT_RUN_UNPLUGGED_VCPUS "unplugged-vcpus"
#define QV_RT_RUN_DEV_STAGING "dev"
#define QV_RT_RUN_OWNERS "owners"

/* mkdir -p with mode 0700 for the last component. */
int qv_rt_mkdirs(const char *path, qv_error **err);
/* g_file_set_contents_full(DURABLE): temp file + fsync + rename, so the old
 * file stays intact on any failure (full disk included). */
int qv_rt_write_atomic(const char *path, const char *data, size_t len, qv_error **err);
/* The same without fsync, for runtime state (tmpfs, gone at reboot): a
 * rename (an exchange where it can) still makes every reader see the old or
 * the new file. */
int qv_rt_write_runtime(const char *path, const char *data, size_t len, qv_error **err);
/* The bounded read is qv_read_file (common/qv-file.h). This old name is
 * kept only for proc_rss_kib in resources.c, which the memory-stats rework
 * replaces with qv_proc_stat_read()'s rss_kib; drop it then. */
#define qv_rt_read_file qv_read_file
/* Reads and parses a JSON file. */
int qv_rt_read_json(const char *path, json_object **ret, qv_error **err);
int qv_rt_write_json(const char *path, json_object *obj, qv_error **err);

/* flock-based locks on a lock file (created when missing). Returns the fd
 * (to close for unlocking) or a negative errno. timeout_ms < 0 waits forever;
 * 0 tries once (-EWOULDBLOCK when held). */
int qv_rt_lock(const char *path, int timeout_ms, qv_error **err);
void qv_rt_unlock(int fd);
/* The same on an open lock file: 0, or -EWOULDBLOCK / -ETIMEDOUT / -errno. */
int qv_rt_lock_fd(int fd, int timeout_ms);

/* A domain state: an active domain's run state, or how it last stopped. */
typedef struct qv_rt_state {
    int state;
    int reason;
    long long since_us;   /* wall clock of the last change */
} qv_rt_state;
/* shutoff/<name>.json: how a domain last stopped (JSON, rarely written). */
int qv_rt_state_read(const char *path, qv_rt_state *st, qv_error **err);
int qv_rt_state_write(const char *path, const qv_rt_state *st, qv_error **err);

/* An active domain's run state (<domain dir>/state): one 64-bit word that
 * every process maps shared. Writers hold qmp.lock and replace it with one
 * atomic store; readers load it with no lock and no system call. A word
 * cannot be half-written, so a writer that dies leaves the old state or
 * the new one. When a run ends the word is marked retired before its
 * directory goes, which tells a process holding the mapping to look again
 * (a new run has a new file). */
typedef struct qv_rt_statemap qv_rt_statemap;
/* Creates the file for a new run (atomically: readers never see it short). */
int qv_rt_statemap_create(const char *path, const qv_rt_state *st, qv_error **err);
/* Maps the file (-ENOENT, or -EINVAL when it is not a state file). A file
 * of the older layout (no balloon word) is mapped too: its balloon size
 * reads unknown. */
int qv_rt_statemap_open(const char *path, qv_rt_statemap **ret);
void qv_rt_statemap_free(qv_rt_statemap *m);
/* The state; false once the run has been retired. */
bool qv_rt_statemap_load(const qv_rt_statemap *m, qv_rt_state *st);
/* qmp.lock held. -ESTALE once retired; -EACCES when the file could only
 * be mapped read-only. */
int qv_rt_statemap_store(qv_rt_statemap *m, const qv_rt_state *st);
/* Marks the run over (idempotent). */
void qv_rt_statemap_retire(qv_rt_statemap *m);
/* When a stop or cont took qmp.lock (a store, not a write to the lock file:
 * for get_control_info, which also reads the lock file's stamp). */
void qv_rt_statemap_set_lock_since(qv_rt_statemap *m, long long us);
long long qv_rt_statemap_lock_since(const qv_rt_statemap *m);
/* The balloon's actual size in KiB, which the supervisor keeps from
 * BALLOON_CHANGE events (and one query-balloon when it connects): 0 while
 * unknown, once retired, and for a file of the older layout. Storing 0
 * makes it unknown again. Set: -ESTALE once retired, -EACCES read-only,
 * -EOPNOTSUPP for an older file. */
int qv_rt_statemap_set_balloon(qv_rt_statemap *m, unsigned long long kib);
unsigned long long qv_rt_statemap_balloon(const qv_rt_statemap *m);
/* One-shot helpers by path: load (-ESTALE when retired) and store. */
int qv_rt_state_load(const char *path, qv_rt_state *st);
int qv_rt_state_store(const char *path, const qv_rt_state *st);
/* A run being started names its starter in <domain dir>/starter ("PID
 * START-TIME") until the start commits, which removes the file. A starter
 * file whose process is gone marks a start abandoned half-way: whoever
 * finds it (the supervisor, or any library call) undoes that run. */
typedef enum qv_rt_starter {
    QV_RT_STARTER_NONE,      /* no file: committed, or never begun */
    QV_RT_STARTER_ALIVE,     /* a start is in progress */
    QV_RT_STARTER_GONE,      /* the starter died before it committed */
} qv_rt_starter;
int qv_rt_starter_write(const char *domain_dir, qv_error **err);
/* Each run dir holds a random run-id, written before the dir appears: an
 * identity that survives inode reuse. buf gets "" when there is none. */
int qv_rt_run_id_write(const char *domain_dir, qv_error **err);
void qv_rt_run_id_read(const char *domain_dir, char buf[40]);
qv_rt_starter qv_rt_starter_check(const char *domain_dir);
/* Writes the "stopping" marker (why: "destroyed", "failed", "crashed"):
 * the run's end is recorded with that reason, not as a crash. The marker
 * names its writer (a second line, "PID START"): a library call that
 * marks a run stopping waits for QEMU and the monitor to exit and then
 * removes the run's cgroup itself (qv_vmcg_remove of the group it read
 * before), so the monitor, which lives in that cgroup, does not have to
 * move out of it first (a cgroup move waits for an RCU grace period). */
void qv_rt_mark_stopping(const char *domain_dir, const char *why);
/* The marker's reason (NULL: no marker); *writer_waits: its writer is
 * another process, still alive, so it removes the run's cgroup. */
char *qv_rt_stopping_read(const char *domain_dir, bool *writer_waits);
/* Records that a start failed (shutoff/<name>.json: shut off, failed). */
void qv_rt_record_failed_start(const qv_rt_paths *p, const char *name);
/* Removes a domain's runtime dir, retiring its state first. */
void qv_rt_remove_run_dir(const char *dir);
/* Gives path to uid:gid for the run in domain_dir (a file QEMU must open
 * by path and its user could not): the owner it had is recorded first, and
 * given back when the run ends, however it ends (libvirt's DAC driver with
 * remember_owner). */
int qv_rt_chown_for_run(const char *domain_dir, const char *path, uid_t uid, gid_t gid,
                        qv_error **err);

/* What the supervisor does when the guest powers off, reboots or crashes
 * (<on_poweroff>, <on_reboot>, <on_crash>). */
typedef enum qv_rt_action {
    QV_RT_ACTION_DESTROY,
    QV_RT_ACTION_RESTART,
    QV_RT_ACTION_PRESERVE,
} qv_rt_action;
qv_rt_action qv_rt_action_parse(const char *s);
const char *qv_rt_action_name(qv_rt_action a);

/* Status of an active domain (status.json), written by its supervisor as
 * soon as QEMU runs (and again by a supervisor that re-attaches), so a run
 * always names the processes to stop. */
typedef struct qv_rt_status {
    pid_t qemu_pid;
    unsigned long long qemu_start;
    pid_t monitor_pid;
    unsigned long long monitor_start;
    int id;
    bool transient;
    bool autodestroy;
    pid_t owner_pid;              /* autodestroy owner */
    unsigned long long owner_start;
    long long started_us;
    qv_rt_action on_poweroff;
    qv_rt_action on_reboot;
    qv_rt_action on_crash;
    char run_id[40];              /* which run this is: the run dir's run-id
                                   * (filled in by qv_rt_status_read) */
} qv_rt_status;
int qv_rt_status_read(const char *path, qv_rt_status *st, qv_error **err);
int qv_rt_status_write(const char *path, const qv_rt_status *st, qv_error **err);
/* Undoes a run whose start failed or was abandoned: QEMU is killed and
 * waited for, then its monitor, and the run ends shut off (failed). */
void qv_rt_undo_run(const qv_rt_paths *p, const char *name, const char *uuid,
                    const qv_rt_status *st);
/* True when pid is alive and still the process that started at start_time. */
bool qv_rt_pid_alive(pid_t pid, unsigned long long start_time);

/* The journal is rotated once it passes QV_RT_JOURNAL_MAX_BYTES: renamed to
 * events.<gen>, where gen counts up from 1 and never repeats, and the live
 * file is always generation (newest rotated + 1). The newest
 * QV_RT_JOURNAL_KEEP rotated generations are kept, so the journal takes at
 * most (QV_RT_JOURNAL_KEEP + 1) * QV_RT_JOURNAL_MAX_BYTES (plus a line).
 * Listeners walk the generations in order, each read to its end; one that
 * falls more than QV_RT_JOURNAL_KEEP rotations behind finds generations
 * deleted, and is told it lost events. Rotations and deletions happen under
 * the journal lock held exclusively; appenders hold it shared, and so do
 * listeners while they look up a generation. */
#define QV_RT_JOURNAL_MAX_BYTES (8 << 20)
#define QV_RT_JOURNAL_KEEP 3
/* <run>/events.<gen>, and the journal lock. */
char *qv_rt_journal_gen_path(const qv_rt_paths *p, unsigned long long gen);
char *qv_rt_journal_lock_path(const qv_rt_paths *p);
/* The rotated generations on disk: oldest and newest, both 0 when there is
 * none. Hold the journal lock (shared is enough) for a stable answer. */
int qv_rt_journal_generations(const qv_rt_paths *p, unsigned long long *oldest,
                              unsigned long long *newest);

/* Appends one event line to the connection journal. obj gains "ts" (wall
 * clock, us) when missing. O_APPEND writes of one line are atomic. */
int qv_rt_journal_append(const qv_rt_paths *p, json_object *obj, qv_error **err);
/* An appender that keeps the journal and its lock file open between lines
 * (opening both cost more than the line). It reopens the journal after a
 * rotation and both after a fork. Not for two threads at once. */
typedef struct qv_rt_journal_writer {
    int lock_fd;
    int fd;
    dev_t dev;
    ino_t ino;
    pid_t pid;
} qv_rt_journal_writer;
#define QV_RT_JOURNAL_WRITER_INIT { -1, -1, 0, 0, 0 }
int qv_rt_journal_write(const qv_rt_paths *p, qv_rt_journal_writer *w, json_object *obj,
                        qv_error **err);
void qv_rt_journal_writer_close(qv_rt_journal_writer *w);
/* Convenience: an event with the standard fields. extra (consumed, may be
 * NULL) supplies event-specific fields. */
int qv_rt_emit(const qv_rt_paths *p, const char *name, const char *uuid, int event_id,
               int event, int detail, json_object *extra);
/* The same through a kept-open writer (NULL: open and close the journal). */
int qv_rt_emit_with(const qv_rt_paths *p, qv_rt_journal_writer *w, const char *name,
                    const char *uuid, int event_id, int event, int detail, json_object *extra);

/* Called once QEMU has gone: writes shutoff/<name>.json with the reason,
 * emits STOPPED, removes the runtime dir. Idempotent: whoever (the monitor,
 * or the library when the monitor is gone) gets there first does it. */
int qv_rt_finalize_stop(const qv_rt_paths *p, const char *name, const char *uuid,
                        int shutoff_reason, int stopped_detail, qv_error **err);
/* The same for one run: nothing is done when the runtime dir is no longer
 * the one whose run-id is run_id (a new run replaced it; NULL: any). stopped_detail
 * < 0: no STOPPED event (a start that never emitted STARTED). */
int qv_rt_finalize_run(const qv_rt_paths *p, const char *name, const char *uuid, const char *run_id,
                       int shutoff_reason, int stopped_detail, qv_error **err);
/* The same, leaving the run's cgroup to the process that marked the run
 * stopping and waits for the caller (the monitor, still in it) to exit. */
int qv_rt_finalize_run_keep_cgroup(const qv_rt_paths *p, const char *name, const char *uuid,
                                   const char *run_id, int shutoff_reason, int stopped_detail,
                                   qv_error **err);
/* Removes a directory tree (runtime dirs only hold plain files and sockets). */
int qv_rt_remove_tree(const char *path);

long long qv_rt_now_us(void);
/* Maps QEMU's query-status "status" to a state/reason, given the previous
 * state (reasons are kept when the category does not change). */
void qv_rt_state_from_runstate(const char *runstate, const qv_rt_state *prev, qv_rt_state *out);

/* Waits until pid (checked against start_time) has exited, through a pidfd
 * (poll with a timeout, no sleeps). 0 when gone, -ETIMEDOUT otherwise. */
int qv_rt_wait_exit(pid_t pid, unsigned long long start_time, int timeout_ms);
