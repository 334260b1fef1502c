/* The files QEMU uses, opened by qvirt (qemu-files.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qemu-files.h"
#include "qv-socket.h"

static int open_for_qemu(void *data, const char *path, int flags, qv_error **err)
{
    qv_qemu_files *f = data;
    int fd = open(path, flags | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        int acc = flags & O_ACCMODE;
        return qv_error_set_errno(err, -errno, "cannot open %s for %s", path,
                                  acc == O_RDONLY ? "reading" : acc == O_WRONLY ? "writing"
                                                                                : "reading and writing");
    }
    if (f->fds)
        g_array_append_val(f->fds, fd);
    return fd;
}

static int listen_for_qemu(void *data, const char *path, qv_error **err)
{
    qv_qemu_files *f = data;
    int fd = qv_unix_listen(path, err);
    if (fd >= 0 && f->fds)
        g_array_append_val(f->fds, fd);
    return fd;
}

void qv_qemu_files_init(qv_qemu_files *f, unsigned int first_fdset, bool keep)
{
    memset(f, 0, sizeof *f);
    f->opener.open = open_for_qemu;
    f->opener.listen = listen_for_qemu;
    f->opener.data = f;
    f->opener.first_fdset = first_fdset;
    f->fds = keep ? g_array_new(FALSE, FALSE, sizeof(int)) : NULL;
}

void qv_qemu_files_clear(qv_qemu_files *f)
{
    if (!f->fds)
        return;
    for (guint i = 0; i < f->fds->len; i++)
        close(g_array_index(f->fds, int, i));
    g_array_free(f->fds, TRUE);
    f->fds = NULL;
}

unsigned int qv_qmp_next_fdset(qv_qmp *qmp)
{
    g_autoptr(json_object) sets = NULL;
    long long max = 0;
    if (qv_qmp_call(qmp, "query-fdsets", NULL, 0, &sets, NULL) == 0)
        for (size_t i = 0; json_object_is_type(sets, json_type_array) &&
                           i < json_object_array_length(sets); i++) {
            json_object *id;
            if (json_object_object_get_ex(json_object_array_get_idx(sets, i), "fdset-id", &id))
                max = MAX(max, json_object_get_int64(id));
        }
    return (unsigned int)max + 1;
}

int qv_domain_qmp_write_file(qv_domain *dom, const char *cmd, json_object *args, const char *key,
                             int fd, bool via_proc, qv_error **err)
{
    g_autoptr(json_object) owned = args;
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    if (r < 0)
        return r;
    struct stat st;
    g_autofree char *proc = g_strdup_printf("/proc/%d", (int)act.status.qemu_pid);
    if (via_proc && (stat(proc, &st) < 0 || fchown(fd, st.st_uid, st.st_gid) < 0))
        return qv_error_set_errno(err, -errno, "domain '%s': cannot give QEMU (pid %d) the file "
                                  "for its %s", dom->name, (int)act.status.qemu_pid, cmd);
    qv_qmp *qmp = NULL;
    int lock = -1;
    if ((r = qv_domain_qmp_open(dom, &qmp, &lock, err)) < 0)
        return r;
    unsigned int set = qv_qmp_next_fdset(qmp);
    json_object *add = json_object_new_object();
    json_object_object_add(add, "fdset-id", json_object_new_int64(set));
    json_object_object_add(add, "opaque", json_object_new_string(cmd));
    g_autoptr(json_object) added = NULL;
    r = qv_qmp_call_with_fd(qmp, "add-fd", add, fd, 0, &added, err);
    if (r >= 0) {
        g_autofree char *name = via_proc
            ? g_strdup_printf("/proc/self/fd/%lld", (long long)qv_json_get_int(added, "fd", -1))
            : g_strdup_printf("/dev/fdset/%u", set);
        json_object_object_add(owned, key, json_object_new_string(name));
        r = qv_qmp_call(qmp, cmd, g_steal_pointer(&owned), 0, NULL, err);
        json_object *rm = json_object_new_object();
        json_object_object_add(rm, "fdset-id", json_object_new_int64(set));
        qv_qmp_call(qmp, "remove-fd", rm, 0, NULL, NULL);
    }
    qv_domain_qmp_close(qmp, lock);
    if (r < 0 && err && *err)
        qv_error_prefix(*err, "domain '%s'", dom->name);
    return r;
}
