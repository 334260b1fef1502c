/* A domain's cgroup (cgroup v2), shared by the library and qvirt-monitor.
 *
 *   <mount>/<base>/<name>.qvirt[-<conn>]/   the VM group: memory.*, io.*,
 *                                           cpu.weight, the global cpu.max
 *   (under systemd: <mount>/machine.slice/qvirt-<name>[-<conn>].scope/qvirt/)
 *       supervisor/    threaded: qvirt-monitor
 *       emulator/      threaded: QEMU's main thread and every thread and
 *                      process it starts (swtpm too)
 *       vcpuN/         threaded: vCPU N's thread
 *       iothreadN/     threaded: iothread N's thread
 *
 * All children are threaded, so the VM group is a threaded domain: memory
 * and io are accounted and limited there, for the whole domain, while cpu,
 * cpuset and pids work per thread group below it. The supervisor sits in
 * a leaf of its own, so the VM group itself holds no process (cgroup v2's
 * "no internal processes" rule) and QEMU is placed before it runs.
 *
 * The run records where its group is (<run>/domains/<name>/cgroup: the
 * mount, then the VM group's path below it), and the group goes with the
 * run (qv_rt retire, which every end of a run goes through). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "qv-error.h"

#define QV_RT_RUN_CGROUP "cgroup"
#define QV_VMCG_SUPERVISOR "supervisor"
#define QV_VMCG_EMULATOR "emulator"

typedef struct qv_vmcg {
    char *mount;   /* the cgroup2 mount: /sys/fs/cgroup */
    char *path;    /* the VM group below it: machine/vm1.qvirt */
    /* Under systemd, the transient scope the VM group lives in (the group
     * is <scope>/qvirt); until the scope exists path is NULL. Not part of
     * the run's record. */
    char *unit;
} qv_vmcg;

void qv_vmcg_clear(qv_vmcg *cg);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qv_vmcg, qv_vmcg_clear)

/* The VM group's absolute path. */
char *qv_vmcg_dir(const qv_vmcg *cg);

/* Records cg in the run folder, and reads it back: 0 and cg->mount NULL
 * when the run has no cgroup. */
int qv_vmcg_record(const char *domain_dir, const qv_vmcg *cg, qv_error **err);
int qv_vmcg_read(const char *domain_dir, qv_vmcg *cg);

/* Opens a child group (QV_VMCG_*, "vcpu0", ...), or with child NULL the VM
 * group; with create it is made threaded first. */
int qv_vmcg_open(const qv_vmcg *cg, const char *child, bool create, int *fd, qv_error **err);

/* Moves the calling process out of the VM group, to the hierarchy's root,
 * so that it can remove the group (the supervisor, as it ends a run).
 * Best effort: where the caller may not (a delegated subtree), the group
 * stays until the library retires the run. */
void qv_vmcg_leave(const qv_vmcg *cg);

/* How long a removal waits for the tasks of an ended run to leave (a
 * killed QEMU's threads take a moment after its leader is a zombie). */
#define QV_VMCG_EMPTY_MS 3000

/* Removes the VM group of an ended run and its children. What is still in
 * the supervisor leaf (the ended supervisor's qvirt-blockjob runs, which
 * may wait for the lifecycle lock the caller holds) is killed; QEMU's
 * processes get up to QV_VMCG_EMPTY_MS to go. -EBUSY while processes are
 * still in it. */
int qv_vmcg_remove(const qv_vmcg *cg, qv_error **err);

/* Kills every process in the VM group (cgroup.kill, Linux 5.14+). */
int qv_vmcg_kill(const qv_vmcg *cg);
