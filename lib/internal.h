/* Internal structures of libqvirt, and the calls its files share, grouped
 * by the file that defines them (README, "Layout", lists every file). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "qvirt/qvirt.h"
#include "domxml.h"
#include "domdef.h"
#include "qmp.h"
#include "qv-error.h"
#include "qv-fd.h"
#include "runtime.h"
#include "vmcgroup.h"

typedef struct qv_event_cb_entry {
    int id;
    char *domain_name;   /* NULL: any domain */
    int event_id;        /* -1: any */
    qv_event_cb cb;
    void *opaque;
} qv_event_cb_entry;

struct qv_conn {
    char *uri;
    /* A qvirt+ssh:// connection: its calls go to the remote host
     * (remote.h), and the fields below are unused. NULL: local. */
    struct qv_remote *remote;
    qv_rt_paths paths;
    /* Autodestroy domains started through this connection (names). */
    GPtrArray *autodestroy;
    /* Events: the journal is tailed from journal_off in journal_fd, which is
     * generation journal_gen (see runtime.h). journal_draining: it was
     * rotated away, so once read to its end the next generation follows.
     * journal_lost: generations deleted unread, reported by the dispatch. */
    int inotify_fd;
    int journal_fd;
    off_t journal_off;
    unsigned long long journal_gen;
    bool journal_draining;
    unsigned long long journal_lost;
    GString *journal_partial;
    GPtrArray *callbacks;   /* qv_event_cb_entry* */
    int next_callback_id;
    /* Appending: the journal kept open. The one piece of a connection that
     * calls on different domain handles share, hence its own lock: those
     * may run in different threads at once (qvirt.h; bench/lifecycle.c
     * starts 20 domains of one connection so). */
    GMutex emit_lock;
    qv_rt_journal_writer emit;
};

struct qv_domain {
    qv_conn *conn;
    char *name;
    unsigned char uuid[16];
    char uuid_str[37];
    /* The run's state word, mapped (see qv_rt_statemap), and the run's
     * qmp.lock, kept open by the process that opened it (run_lock_owner:
     * a forked child shares the open file, and with it the lock). Both
     * belong to one run; once the word says retired, the handle looks
     * again. */
    qv_rt_statemap *smap;
    int run_lock;
    pid_t run_lock_owner;
    /* Cached monitor liveness check, and the status.json of the run that
     * monitor belongs to (pids do not change during a run). */
    int monitor_pidfd;
    pid_t monitor_pid;
    qv_rt_status status;
    /* Kept-open connection to that monitor's command proxy (ctl.sock). */
    qv_qmp *ctl;
    pid_t ctl_monitor;
    pid_t ctl_owner;        /* the process that connected it (fork) */
    /* A leased lane: a direct connection to QEMU's lane monitor (there is
     * one, QV_RT_LANES), held with lane-0.lock for as long as the handle
     * uses it, and the run (QEMU pid and start time) it belongs to. */
    qv_qmp *lane;
    int lane_lock;
    pid_t lane_qemu;
    unsigned long long lane_qemu_start;
    gint64 lane_retry_us;   /* the lane was taken: when to look again */
    gint64 lane_used_us;    /* last call on it */
    pid_t lane_owner;       /* the process that leased it (fork) */
    /* Cached definition (live when active, else config), keyed like state. */
    qv_domdef *def;
    ino_t def_ino;
    struct timespec def_mtime;
    bool def_live;
};

/* Where a domain's run stands, as one look at its files finds it. */
typedef enum qv_run_phase {
    QV_RUN_NONE,     /* no run: shut off, and recorded so */
    QV_RUN_STARTING, /* a start, or the undoing of one, before QEMU runs */
    QV_RUN_ON,       /* QEMU lives */
    QV_RUN_ENDED,    /* ended, and nobody recorded it yet (qv_domain_settle) */
} qv_run_phase;

/* Active-domain access. */
typedef struct qv_active {
    qv_rt_status status;     /* read from status.json; zero before QEMU runs */
    /* Kept-open connection to that monitor's command proxy (ctl.sock). */
    qv_qmp *ctl;
    pid_t ctl_monitor;
    qv_run_phase phase;
    bool active;             /* STARTING or ON */
    int ended_reason;        /* QV_RUN_ENDED: SHUTOFF_FAILED or SHUTOFF_CRASHED */
} qv_active;

/* domain.c: the handle and its view of the run. */
int qv_domain_new(qv_conn *conn, const char *name, const unsigned char uuid[16], qv_domain **ret);
/* A file of the domain's runtime folder (<run>/domains/NAME/file). */
char *qv_domain_file(const qv_domain *dom, const char *file);
/* Reads where the run stands (status.json, the starter, the pids) and
 * changes nothing: a run that ended unrecorded is QV_RUN_ENDED, with the
 * reason it will be recorded with. Waits (bounded) for a monitor that is
 * recording its QEMU's end. */
int qv_domain_observe(qv_domain *dom, qv_active *act, qv_error **err);
/* The one place where a run that ended without being recorded is cleaned
 * up: an abandoned start undone (failed), a QEMU that died with its
 * monitor recorded (crashed), a half-made run folder removed. A QEMU
 * nobody supervises gets a supervisor again. The caller holds the
 * lifecycle lock. act is the run as it stands afterwards. */
int qv_domain_settle(qv_domain *dom, qv_active *act, qv_error **err);
/* Fails with "domain 'x' is not running" unless it is; act may be NULL. */
int qv_domain_require_active(qv_domain *dom, qv_active *act, qv_error **err);
/* The current definition: live XML when active, else the config. Borrowed. */
int qv_domain_get_def(qv_domain *dom, const qv_domdef **def, qv_error **err);
/* Whether the monitor of the run the handle knows still lives (a pidfd
 * poll, no file read). */
bool qv_domain_monitor_alive(qv_domain *dom);
/* Drop what the handle keeps of a run that ended: the monitor's pidfd, and
 * the state mapping with its qmp.lock fd. */
void qv_domain_forget_monitor(qv_domain *dom);
void qv_domain_forget_run(qv_domain *dom);

/* What one call works from, loaded once at its start: the run, whether
 * there is a config, which definitions the call affects and those
 * definitions. A call then works from this value alone. */
typedef struct qv_call {
    qv_domain *dom;
    int lock;            /* the lifecycle lock (qv_domain_begin), else -1 */
    qv_active act;
    bool persistent;
    unsigned int affect; /* QV_DOMAIN_AFFECT_LIVE and/or _CONFIG */
    qv_domdef *live;     /* the live definition, when affect has LIVE */
    qv_domdef *cfg;      /* the config, when affect has CONFIG */
} qv_call;
#define QV_CALL_INIT { .lock = -1 }
/* For a call that changes the domain: takes the lifecycle lock, settles
 * the run, then resolves affect (AFFECT_CURRENT becomes LIVE on a running
 * domain, else CONFIG; LIVE needs a run and CONFIG a config) and loads the
 * definitions it names. QV_CALL_RUN_ONLY loads no definition. */
#define QV_CALL_RUN_ONLY (~0u)
int qv_domain_begin(qv_domain *dom, unsigned int affect, qv_call *c, qv_error **err);
/* The same for a call that only reads: no lock, nothing settled. */
int qv_domain_look(qv_domain *dom, unsigned int affect, qv_call *c, qv_error **err);
/* Saves the definitions the call loaded: live first, then the config. */
int qv_call_save(qv_call *c, qv_error **err);
/* Frees the definitions and releases the lock. */
void qv_call_end(qv_call *c);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qv_call, qv_call_end)
/* How long a monitor whose QEMU has gone may take to record it and exit. */
#define QV_MONITOR_EXIT_WAIT_MS 5000

/* config.c: stored definitions. */
/* The persistent config, or -ENOENT when the domain is transient. */
int qv_domain_load_config(qv_conn *conn, const char *name, qv_domdef **ret, qv_error **err);
int qv_domain_save_config(qv_conn *conn, const qv_domdef *def, qv_error **err);
/* The live (true) or config definition; a clear error when there is none. */
int qv_domain_load_def(qv_domain *dom, bool live, qv_domdef **ret, qv_error **err);
/* The live definition (live.xml): -ENOENT (no error set) when not running. */
int qv_domain_load_live(qv_domain *dom, qv_domdef **ret, qv_error **err);
int qv_domain_save_live(qv_domain *dom, const qv_domdef *def, qv_error **err);

/* lifecycle.c: the lifecycle lock (<run>/locks/NAME.lock): starts, stops,
 * defines and undefines of one domain, one at a time. Returns the fd. */
int qv_domain_lock_lifecycle(qv_conn *conn, const char *name, qv_error **err);

/* qmp-route.c: QMP commands on the shortest path (lane, proxy, qmp.sock). */
/* Opens a QMP connection to the command monitor, holding qmp.lock (*lock_fd)
 * for as long as it is open. */
int qv_domain_qmp_open(qv_domain *dom, qv_qmp **qmp, int *lock_fd, qv_error **err);
/* The same without waiting: connected (a listening socket's backlog takes
 * the connection before QEMU accepts) and the handshake under way, which
 * qv_qmp_dispatch moves on and the first command waits for. */
int qv_domain_qmp_open_async(qv_domain *dom, qv_qmp **qmp, int *lock_fd, qv_error **err);
void qv_domain_qmp_close(qv_qmp *qmp, int lock_fd);
/* One command (args consumed) on the shortest path; errors name the domain. */
int qv_domain_qmp_call(qv_domain *dom, const char *cmd, json_object *args, json_object **ret,
                       qv_error **err);
/* Sends n independent commands at once (one round trip) on the same path
 * as qv_domain_qmp_call; each reports its own result, ret and err (free
 * them with qv_qmp_batch_clear). args are consumed. A negative return means
 * no command could be sent or the connection broke. */
int qv_domain_qmp_batch(qv_domain *dom, qv_qmp_batch_cmd *cmds, size_t n, qv_error **err);
/* qmp.lock of the run the handle maps, on the fd the handle keeps (stop
 * and cont: see lifecycle.c), and one command sent while holding it. */
int qv_domain_lock_run(qv_domain *dom, qv_error **err);
void qv_domain_unlock_run(qv_domain *dom);
int qv_domain_qmp_call_locked(qv_domain *dom, const char *cmd, qv_error **err);

/* agent.c: runs one guest agent command (args consumed) on the domain's
 * agent channel. */
int qv_domain_agent_call(qv_domain *dom, const char *cmd, json_object *args, int timeout_ms,
                         json_object **ret, qv_error **err);

/* resources.c: applies the config's CPU pins and the balloon statistics
 * period to a QEMU that has just started (before cont), in two steps:
 * the QMP (the balloon's period, QEMU's vCPU and iothread threads, one
 * round trip), then the placement, which asks QEMU nothing and so may run
 * while QEMU loads a saved state. The run's cgroup (cg->mount NULL: none)
 * is where vCPU and iothread threads go, with their pins and limits. */
typedef struct qv_tuning {
    GArray *vcpus;          /* NULL: nothing to place or pin */
    json_object *iothreads; /* query-iothreads, when there is a cgroup */
} qv_tuning;
void qv_tuning_clear(qv_tuning *t);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qv_tuning, qv_tuning_clear)
int qv_domain_tuning_query(qv_qmp *qmp, const qv_domdef *def, const qv_vmcg *cg, qv_tuning *t,
                           qv_error **err);
int qv_domain_tuning_apply(const qv_tuning *t, const qv_domdef *def, pid_t qemu_pid,
                           const qv_vmcg *cg, qv_error **err);

/* tune.c: the domain's cgroup (vmcgroup.h). Makes the VM group of a start
 * under the connection's cgroup root with its supervisor and emulator
 * leaves, records it in run_dir and applies the definition's VM-wide
 * tunables; with no usable cgroup v2 leaves cg empty and returns 0, unless
 * the definition has tunables only cgroups apply. */
int qv_tune_create_cgroup(qv_conn *conn, const qv_domdef *def, const char *run_dir, qv_vmcg *cg,
                          qv_error **err);
/* start.c: a helper program's path ("qvirt-monitor"; $env_name overrides). */
char *qv_helper_binary(const char *name, const char *env_name);

/* Under systemd, qv_tune_create_cgroup leaves cg->path NULL and cg->unit
 * set: the scope is made for the supervisor's process before it runs
 * (qv_spawn_opts.before_exec with a qv_tune_scope), which then moves into
 * the VM group's supervisor leaf. */
typedef struct qv_tune_scope {
    qv_conn *conn;
    const qv_domdef *def;
    const char *run_dir;
    qv_vmcg *cg;
    qv_error *err;   /* why it failed */
} qv_tune_scope;
int qv_tune_scope_place(pid_t pid, void *opaque);
/* Registers a domain that runs in a scope with systemd-machined (best
 * effort; a debug line when machined is not there). */
void qv_tune_register_machine(qv_conn *conn, const qv_domdef *def, const qv_vmcg *cg,
                              pid_t qemu_pid);
/* The VM-wide and emulator tunables of def, into the VM group vm. */
int qv_tune_apply_vm(int vm, const qv_domdef *def, qv_error **err);
/* Moves vCPU index's thread into its vcpuN group, with its pin and cpu.max. */
int qv_tune_place_vcpu(const qv_vmcg *cg, const qv_domdef *def, unsigned int index, pid_t tid,
                       qv_error **err);
/* A live pin of vCPU vcpu (or with vcpu < 0 the emulator) also becomes
 * cpuset.cpus of its cgroup, where the run has one with cpuset. */
int qv_tune_pin_group(qv_domain *dom, int vcpu, const unsigned char *cpumap, int maplen,
                      qv_error **err);
/* Moves QEMU's iothreads (list: query-iothreads) into their iothreadN
 * groups. */
int qv_tune_place_iothreads(const qv_vmcg *cg, const qv_domdef *def, json_object *list,
                            qv_error **err);

/* start.c */
int qv_conn_start_domain(qv_conn *conn, qv_domain *dom, qv_domdef *def, bool transient,
                         unsigned int flags, qv_error **err);
/* Starts a new qvirt-monitor for a running QEMU whose monitor died; it
 * re-attaches through QEMU's monitor.sock. 0 also when another process
 * supervises the run already (-EBUSY is not returned for that). */
int qv_domain_attach_supervisor(qv_domain *dom, qv_error **err);
/* A start that loads a saved or migrated state instead of booting: QEMU
 * starts with -incoming defer; then either the save image at fd
 * (positioned at the stream; save.c) is loaded, or load() runs on the
 * starting QEMU's command monitor and returns once the state is in (an
 * incoming migration; migrate.c). The domain then runs when run is set,
 * else stays paused: running (restored), STARTED emitted as RESTORED.
 * With fd -1 and no load it boots, for a start on behalf of another
 * operation (a snapshot's revert). started_detail (QV_DOMAIN_EVENT_STARTED_*,
 * 0 = default) is the STARTED event's detail, with no SUSPENDED event after
 * it (the operation reports what follows, as libvirt's revert and
 * migration do), and reason (0 = default) the run state's reason once up,
 * paused or running as the start flags say. A start that fails, or whose
 * caller dies before it ends, is undone, QEMU with it. */
typedef struct qv_start_restore {
    int fd;
    bool run;
    int (*load)(qv_domain *dom, qv_qmp *qmp, void *opaque, qv_error **err);
    void *opaque;
    int started_detail;
    int reason;
} qv_start_restore;
int qv_conn_start_domain_restore(qv_conn *conn, qv_domain *dom, qv_domdef *def, bool transient,
                                 unsigned int flags, const qv_start_restore *restore,
                                 qv_error **err);

/* qemu-img.c: runs qemu-img as the caller with args (without the program
 * name, NULL-terminated); its stderr becomes the error message. */
int qv_qemu_img(const char *const *args, qv_error **err);

/* save.c: ends the run after a save, a crash dump or a migration: QEMU
 * goes, and the run is recorded shut off with reason (and STOPPED with
 * detail), as destroy records it destroyed. */
void qv_domain_end_run(qv_domain *dom, const qv_active *act, const char *why, int reason,
                       int detail);
/* save.c: managed save images, and the restore's incoming migration on a
 * starting QEMU's command monitor: begun (QEMU then loads the image from
 * fd in its main loop while the caller carries on), then waited for. */
char *qv_domain_managed_save_path(qv_conn *conn, const char *name);
int qv_restore_begin(qv_qmp *qmp, int fd, qv_error **err);
int qv_restore_finish(qv_domain *dom, qv_qmp *qmp, int fd, qv_error **err);
/* The XML a save image keeps: dxml (same domain, checked) or the live
 * definition, inactive and with its secrets. */
int qv_save_image_xml(qv_domain *dom, const char *dxml, char **ret, qv_error **err);
struct qv_job;
/* A save image being written (by a save, or an external snapshot's
 * memory): under a temporary name in its folder, renamed once whole. */
typedef struct qv_image_out {
    char *path, *tmp;
    int fd;
    GByteArray *head;
    const char *noun, *verb;   /* for errors: "the NOUN was aborted", "cannot VERB domain" */
    bool ends_run;             /* a complete image ends the run (a save): QEMU's migration
                                  bandwidth is then left as the image needed it */
    long long old_bw;          /* that bandwidth before, while it is to be put back */
} qv_image_out;
void qv_image_out_clear(qv_image_out *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qv_image_out, qv_image_out_clear)
/* Creates the temporary file (named in the job record first) with the
 * image's header and XML; a failure leaves no file. */
int qv_image_out_open(qv_domain *dom, struct qv_job *job, const char *path, const char *xml,
                      bool restore_running, const char *noun, const char *verb, qv_image_out *o,
                      qv_error **err);
/* QEMU migrates into it (the CPUs stopped, or running: QEMU then stops
 * them when the stream ends), then the header says complete and the file
 * gets its name. *st: the job's final stats. A failure removes the file. */
int qv_image_out_write(qv_domain *dom, const struct qv_job *job, qv_image_out *o, bool bypass,
                       qv_domain_job_stats *st, qv_error **err);
/* Stops the CPUs for a job, recording reason (*was_running: they ran),
 * and lets them run again after it, recording reason. */
int qv_job_stop_cpus(qv_domain *dom, int reason, bool *was_running, qv_error **err);
void qv_job_resume_cpus(qv_domain *dom, int reason);
/* Starts dom (shut off, persistent) from the save image file with its
 * stored config: paused with QV_DOMAIN_START_PAUSED in start_flags, else
 * running. started_detail and reason as in qv_start_restore (0: a
 * restore's). */
int qv_domain_start_from_image(qv_domain *dom, const char *file, unsigned int start_flags,
                               int started_detail, int reason, qv_error **err);
/* Starts dom from its managed save image when it has one: 1 when it did,
 * 0 when there is none (or START_FORCE_BOOT discarded it). */
int qv_domain_start_managed(qv_domain *dom, unsigned int flags, qv_error **err);

/* events.c: appends an event to the connection's journal. */
void qv_conn_emit(qv_conn *conn, const char *name, const char *uuid, int event_id, int event,
                  int detail, json_object *extra);
/* events.c: hands one journal line (an event as qv_conn_emit wrote it) to
 * the connection's callbacks; 1 when one took it. A remote connection's
 * event stream carries these lines too (lib/remote.c). */
int qv_events_deliver(qv_conn *conn, const char *line);

/* conn.c */
bool qv_name_valid(const char *name);
/* A connection on these folders, without a URI (the supervisor's helpers
 * know the folders, not the URI). */
int qv_conn_open_paths(const char *config_dir, const char *run_dir, qv_conn **ret, qv_error **err);

/* snapshot.c: the domain's stored snapshots (<config>/snapshot/NAME/):
 * how many, and removing them all (undefine). */
int qv_domain_snapshot_count(qv_conn *conn, const char *name);
void qv_domain_snapshot_remove_all(qv_conn *conn, const char *name);

/* defutil.c: questions about a definition. */
/* qvirt-monitor's --display-socket arguments: the VNC and SPICE unix
 * sockets it listens on and hands clients of to QEMU (g_ptr_array_unref). */
GPtrArray *qv_domdef_display_socket_args(const qv_domdef *def, const char *runtime_dir);
/* The guest agent channel's socket path, or NULL when there is none. */
char *qv_domdef_agent_socket(const qv_domdef *def, const char *runtime_dir);
/* The balloon's device id, or NULL without a virtio balloon. */
const char *qv_domdef_balloon_alias(const qv_domdef *def);

/* console.c: fills in QEMU's actual ports of autoport VNC/SPICE displays. */
int qv_domain_record_graphics_ports(qv_qmp *qmp, qv_domdef *def);
/* console.c: free TCP ports, from 5900 up, for the autoport SPICE displays
 * of def that listen on an address (a plain port, and a TLS port as
 * qv_domdef_spice_autoports says), set in def before the argv is built, as
 * libvirt's port allocator does; QEMU picks VNC's itself. */
int qv_domain_pick_spice_ports(qv_domdef *def, bool spice_tls, qv_error **err);
/* Gives QEMU the VNC and SPICE passwords (and their expiry) over QMP: they
 * are never on its command line, which every user can read. */
int qv_domain_set_graphics_passwords(qv_qmp *qmp, const qv_domdef *def, qv_error **err);
