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
