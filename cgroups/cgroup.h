/* cgroup v2 files (crun style).
 *
 * Everything works from directory fds with openat(), so the cgroup root is a
 * parameter: production code passes the cgroup2 mount (qv_cgroup_find_v2_mount),
 * tests pass a temp folder laid out like a cgroup. Errors name the file and
 * the directory, and a write that fails because a controller is not enabled
 * says which controller. All returned fds are O_CLOEXEC. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "qv-error.h"

/* Opens (and with create, makes, like mkdir -p) the cgroup directory `path`
 * below `root` ("qvirt/vm1"; NULL or "" is the root itself; ".." is refused).
 * *dirfd_out is an O_RDONLY|O_DIRECTORY|O_CLOEXEC fd, usable as
 * qv_spawn_opts.cgroup_fd. */
int qv_cgroup_open(const char *root, const char *path, bool create, int *dirfd_out, qv_error **err);

/* Writes value to the interface file `file` of the cgroup dirfd in one write(),
 * as the kernel wants. On ENOENT/EACCES it reads cgroup.controllers and says
 * which controller is missing ("cannot write cpu.weight in /sys/fs/cgroup/x:
 * the cpu controller is not enabled for this cgroup"). */
int qv_cgroup_write(int dirfd, const char *file, const char *value, qv_error **err);

/* Reads the whole file; one trailing newline is stripped ("max", not "max\n"). */
int qv_cgroup_read(int dirfd, const char *file, char **ret, qv_error **err);

/* Enables controllers for the children of parent_dirfd by writing
 * "+cpu +io" to its cgroup.subtree_control. controllers is NULL-terminated;
 * an empty list does nothing. */
int qv_cgroup_enable_controllers(int parent_dirfd, const char *const *controllers, qv_error **err);

/* Moves pid (0: the caller) into the cgroup: writes it to cgroup.procs. */
int qv_cgroup_add_pid(int dirfd, pid_t pid, qv_error **err);

/* Removes the cgroup `path` below `root` and its child cgroups, deepest first.
 * A cgroup that does not exist counts as removed. -EBUSY when processes are
 * still inside. On a plain folder root (tests) the files are removed too. */
int qv_cgroup_remove(const char *root, const char *path, qv_error **err);

/* The mount point of the cgroup v2 hierarchy (unified or hybrid layout) from
 * mountinfo (NULL: /proc/self/mountinfo). -ENOENT when none is mounted. */
int qv_cgroup_find_v2_mount(const char *mountinfo, char **ret, qv_error **err);

/* The cgroup v2 path of pid (0: the caller) relative to the mount, from the
 * "0::" line of /proc/PID/cgroup, e.g. "/user.slice/session-1.scope". */
int qv_cgroup_get_path(pid_t pid, char **ret, qv_error **err);

/* ---- threaded cgroups (per-thread groups: vCPUs, iothreads) ------------- */

/* Makes the cgroup threaded (writes "threaded" to its cgroup.type): its
 * parent becomes a threaded domain, and only the threaded controllers
 * (cpu, cpuset, pids) work inside it. */
int qv_cgroup_make_threaded(int dirfd, qv_error **err);

/* Moves one thread (a TID) into the cgroup: writes it to cgroup.threads. */
int qv_cgroup_add_thread(int dirfd, pid_t tid, qv_error **err);

/* Whether the cgroup has the controller (cgroup.controllers lists it). */
bool qv_cgroup_has_controller(int dirfd, const char *controller);

/* ---- values of interface files -------------------------------------------- */

/* cpu.max: "QUOTA PERIOD" in microseconds; a negative quota is "max". */
char *qv_cgroup_cpu_max_format(long long quota, unsigned long long period);
/* Parses cpu.max; "max" gives *quota = -1. */
int qv_cgroup_cpu_max_parse(const char *text, long long *quota, unsigned long long *period,
                            qv_error **err);

/* A byte count or "max" (memory.max, memory.high, memory.swap.max,
 * memory.min): UINT64_MAX stands for "max". */
char *qv_cgroup_bytes_format(unsigned long long bytes);
int qv_cgroup_bytes_parse(const char *text, unsigned long long *bytes, qv_error **err);

/* The value of `key` in a flat keyed file's text ("usage_usec 123\n..."),
 * or in one line of a nested keyed file ("8:0 rbps=1 wbps=max": key "rbps";
 * "max" gives UINT64_MAX). -ENOENT when the key is absent. */
int qv_cgroup_keyed_value(const char *text, const char *key, unsigned long long *ret);

/* The line of a nested keyed file (io.max, io.weight) whose first word is
 * `first` ("8:0", "default"), without that word; NULL when there is none. */
char *qv_cgroup_keyed_line(const char *text, const char *first);
