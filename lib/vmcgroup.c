/* A domain's cgroup: see vmcgroup.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "cgroup.h"
#include "qv-fd.h"
#include "qv-file.h"
#include "runtime.h"
#include "vmcgroup.h"

void qv_vmcg_clear(qv_vmcg *cg)
{
    g_clear_pointer(&cg->mount, g_free);
    g_clear_pointer(&cg->path, g_free);
    g_clear_pointer(&cg->unit, g_free);
}

char *qv_vmcg_dir(const qv_vmcg *cg)
{
    return g_build_filename(cg->mount, cg->path, NULL);
}

int qv_vmcg_record(const char *domain_dir, const qv_vmcg *cg, qv_error **err)
{
    g_autofree char *file = g_build_filename(domain_dir, QV_RT_RUN_CGROUP, NULL);
    g_autofree char *text = g_strdup_printf("%s\n%s\n", cg->mount, cg->path);
    return qv_rt_write_runtime(file, text, strlen(text), err);
}

int qv_vmcg_read(const char *domain_dir, qv_vmcg *cg)
{
    g_autofree char *file = g_build_filename(domain_dir, QV_RT_RUN_CGROUP, NULL);
    g_autofree char *text = NULL;
    cg->mount = cg->path = cg->unit = NULL;
    if (qv_read_file(file, 8192, &text, NULL, NULL) < 0)
        return 0;
    g_auto(GStrv) lines = g_strsplit(text, "\n", 3);
    /* Only what the start wrote: an absolute mount, a relative path. */
    if (g_strv_length(lines) < 2 || lines[0][0] != '/' || !lines[1][0] || lines[1][0] == '/' ||
        strstr(lines[1], ".."))
        return -EINVAL;
    cg->mount = g_strdup(lines[0]);
    cg->path = g_strdup(lines[1]);
    return 0;
}

int qv_vmcg_open(const qv_vmcg *cg, const char *child, bool create, int *fd, qv_error **err)
{
    qv_autoclose int vm = -1;
    int r = qv_cgroup_open(cg->mount, cg->path, false, &vm, err);
    if (r < 0 || !child) {
        *fd = qv_steal_fd(&vm);
        return r;
    }
    if (create && mkdirat(vm, child, 0755) < 0 && errno != EEXIST)
        return qv_error_set_errno(err, -errno, "cannot create cgroup %s/%s/%s", cg->mount,
                                  cg->path, child);
    qv_autoclose int c = openat(vm, child, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (c < 0)
        return qv_error_set_errno(err, -errno, "cannot open cgroup %s/%s/%s", cg->mount,
                                  cg->path, child);
    if (create) {
        g_autofree char *type = NULL;
        if ((r = qv_cgroup_read(c, "cgroup.type", &type, err)) < 0)
            return r;
        if (strcmp(type, "threaded") && (r = qv_cgroup_make_threaded(c, err)) < 0)
            return r;
    }
    *fd = qv_steal_fd(&c);
    return 0;
}

void qv_vmcg_leave(const qv_vmcg *cg)
{
    qv_autoclose int root = open(cg->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root >= 0)
        qv_cgroup_add_pid(root, 0, NULL);
}

/* Waits until the group and its children hold no task: cgroup.events says
 * "populated 0" (kernfs wakes poll() with POLLPRI when it changes). A
 * killed QEMU's threads leave a moment after its leader is a zombie. */
static bool wait_empty(const qv_vmcg *cg, int timeout_ms)
{
    g_autofree char *file = g_build_filename(cg->mount, cg->path, "cgroup.events", NULL);
    qv_autoclose int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (;;) {
        char buf[256];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
            return false;
        buf[n] = '\0';
        if (strstr(buf, "populated 0"))
            return true;
        gint64 left = (end - g_get_monotonic_time()) / 1000;
        if (left <= 0)
            return false;
        struct pollfd p = { fd, POLLPRI, 0 };
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            return false;
    }
}

/* Kills what is left in the supervisor leaf of an ended run: the
 * supervisor's qvirt-blockjob runs (and a supervisor that outlived its
 * run). Nothing waits for them, and one that waits for the lifecycle lock
 * the remover holds would never leave. The leaf is threaded, so no
 * cgroup.kill there (EOPNOTSUPP): each thread's process gets SIGKILL,
 * except the caller's own. */
static void kill_supervisor_leftovers(const qv_vmcg *cg)
{
    g_autofree char *file = g_build_filename(cg->mount, cg->path, QV_VMCG_SUPERVISOR,
                                             "cgroup.threads", NULL);
    g_autofree char *text = NULL;
    if (qv_read_file(file, 1 << 16, &text, NULL, NULL) < 0)
        return;
    g_auto(GStrv) tids = g_strsplit(text, "\n", -1);
    for (char **t = tids; *t; t++) {
        char *end;
        long tid = strtol(*t, &end, 10);
        if (end == *t || tid <= 0)
            continue;
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/task/%ld", tid);
        if (access(self, F_OK) == 0)
            continue;
        kill((pid_t)tid, SIGKILL); /* a thread's id names its whole process */
    }
}

int qv_vmcg_remove(const qv_vmcg *cg, qv_error **err)
{
    int r = qv_cgroup_remove(cg->mount, cg->path, NULL);
    if (r == -EBUSY)
        kill_supervisor_leftovers(cg);
    if (r == -EBUSY && wait_empty(cg, QV_VMCG_EMPTY_MS))
        r = qv_cgroup_remove(cg->mount, cg->path, NULL);
    return r < 0 ? qv_cgroup_remove(cg->mount, cg->path, err) : 0;
}

int qv_vmcg_kill(const qv_vmcg *cg)
{
    g_autofree char *file = g_build_filename(cg->mount, cg->path, "cgroup.kill", NULL);
    qv_autoclose int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return write(fd, "1", 1) == 1 ? 0 : -errno;
}
