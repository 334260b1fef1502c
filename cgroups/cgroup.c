/* cgroup v2 files: see cgroup.h. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"

/* Interface files are small; this only guards against a wrong path. */
#define QV_CGROUP_MAX_READ (4 * 1024 * 1024)

/* A path for messages: the target of /proc/self/fd/N, or "fd N". */
static char *fd_display_path(int fd)
{
    char link[64];
    int n = snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    if (n > 0 && (size_t)n < sizeof(link)) {
        char *target = g_file_read_link(link, NULL);
        if (target)
            return target;
    }
    return g_strdup_printf("fd %d", fd);
}

static bool valid_file_name(const char *file)
{
    return file && file[0] && !strchr(file, '/') && strcmp(file, ".") != 0 && strcmp(file, "..") != 0;
}

static int read_fd_all(int fd, char **ret)
{
    g_autoptr(GString) s = g_string_new(NULL);
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        if (s->len + (size_t)n > QV_CGROUP_MAX_READ)
            return -EFBIG;
        g_string_append_len(s, buf, n);
    }
    *ret = g_string_free(g_steal_pointer(&s), FALSE);
    return 0;
}

/* Reads a file of dirfd without error reporting; NULL when unreadable. */
static char *read_quiet(int dirfd, const char *file)
{
    int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *content = NULL;
    int r = read_fd_all(fd, &content);
    close(fd);
    return r < 0 ? NULL : content;
}

static bool word_in_list(const char *list, const char *word)
{
    g_auto(GStrv) words = g_strsplit_set(list, " \n\t", -1);
    for (char **w = words; *w; w++) {
        if (strcmp(*w, word) == 0)
            return true;
    }
    return false;
}

/* The controller an interface file belongs to: "cpu" for "cpu.weight";
 * NULL for the core "cgroup.*" files, which every cgroup has. */
static char *controller_of(const char *file)
{
    const char *dot = strchr(file, '.');
    if (!dot || dot == file)
        return NULL;
    char *c = g_strndup(file, (gsize)(dot - file));
    if (strcmp(c, "cgroup") == 0) {
        g_free(c);
        return NULL;
    }
    return c;
}

/* The controllers of the hierarchy's root above dirfd (the root cgroup is
 * the one without a cgroup.type), and its path; NULL when not found. */
static char *root_controllers(int dirfd, char **root_path)
{
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
    for (int depth = 0; fd >= 0 && depth < 64; depth++) {
        if (faccessat(fd, "cgroup.type", F_OK, 0) < 0) {
            char *c = read_quiet(fd, "cgroup.controllers");
            *root_path = fd_display_path(fd);
            close(fd);
            return c;
        }
        int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(fd);
        fd = up;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* Builds the error for a failed access to `file`: when the file belongs to a
 * controller that cgroup.controllers does not list, that is the real cause;
 * when the hierarchy itself lacks it (a host that binds it to cgroup v1),
 * enabling it cannot help, and the message says so. */
static int file_error(qv_error **err, int code, int dirfd, const char *verb, const char *file)
{
    g_autofree char *dir = fd_display_path(dirfd);
    if (code == -ENOENT || code == -EACCES) {
        g_autofree char *ctrl = controller_of(file);
        g_autofree char *controllers = ctrl ? read_quiet(dirfd, "cgroup.controllers") : NULL;
        g_autofree char *root = NULL;
        g_autofree char *at_root = controllers && !word_in_list(controllers, ctrl)
                                       ? root_controllers(dirfd, &root) : NULL;
        if (at_root && !word_in_list(at_root, ctrl))
            return qv_error_set(err, code,
                                "cannot %s %s in %s: the %s controller is not available in the "
                                "cgroup v2 hierarchy at %s (the host binds it to cgroup v1, or "
                                "the kernel lacks it)", verb, file, dir, ctrl, root);
        if (controllers && !word_in_list(controllers, ctrl))
            return qv_error_set(err, code,
                                "cannot %s %s in %s: the %s controller is not enabled for this "
                                "cgroup (write +%s to cgroup.subtree_control of its parent)",
                                verb, file, dir, ctrl, ctrl);
    }
    return qv_error_set_errno(err, code, "cannot %s %s in %s", verb, file, dir);
}

int qv_cgroup_open(const char *root, const char *path, bool create, int *dirfd_out, qv_error **err)
{
    if (!root || !root[0])
        return qv_error_set(err, -EINVAL, "cannot open a cgroup without a root directory");
    if (!dirfd_out)
        return qv_error_set(err, -EINVAL, "cannot open a cgroup without a place for its fd");
    *dirfd_out = -1;

    g_auto(GStrv) parts = g_strsplit(path ? path : "", "/", -1);
    for (char **p = parts; *p; p++) {
        if (strcmp(*p, "..") == 0)
            return qv_error_set(err, -EINVAL, "cannot open cgroup %s: '..' is not allowed in a cgroup path",
                                path);
    }

    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open cgroup root %s", root);

    g_autoptr(GString) shown = g_string_new(root);
    for (char **p = parts; *p; p++) {
        if ((*p)[0] == '\0' || strcmp(*p, ".") == 0)
            continue;
        if (shown->len == 0 || shown->str[shown->len - 1] != '/')
            g_string_append_c(shown, '/');
        g_string_append(shown, *p);

        if (create && mkdirat(fd, *p, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            close(fd);
            return qv_error_set_errno(err, -e, "cannot create cgroup %s", shown->str);
        }
        int next = openat(fd, *p, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        int e = errno;
        close(fd);
        if (next < 0) {
            if (e == ENOENT)
                return qv_error_set(err, -ENOENT, "cgroup %s does not exist", shown->str);
            return qv_error_set_errno(err, -e, "cannot open cgroup %s", shown->str);
        }
        fd = next;
    }
    *dirfd_out = fd;
    return 0;
}

int qv_cgroup_write(int dirfd, const char *file, const char *value, qv_error **err)
{
    if (dirfd < 0 || !valid_file_name(file) || !value)
        return qv_error_set(err, -EINVAL, "cannot write cgroup file %s: invalid arguments",
                            file ? file : "(null)");
    /* O_TRUNC is what a shell's '>' does: harmless on cgroupfs, and it keeps
     * a plain-folder root (tests) holding exactly the last value. */
    int fd = openat(dirfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return file_error(err, -errno, dirfd, "write", file);
    size_t len = strlen(value);
    ssize_t n;
    do {
        n = write(fd, value, len);
    } while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n < 0)
        return file_error(err, -e, dirfd, "write", file);
    if ((size_t)n != len) {
        g_autofree char *dir = fd_display_path(dirfd);
        return qv_error_set(err, -EIO, "cannot write %s in %s: short write (%zd of %zu bytes)",
                            file, dir, n, len);
    }
    return 0;
}

int qv_cgroup_read(int dirfd, const char *file, char **ret, qv_error **err)
{
    if (dirfd < 0 || !valid_file_name(file) || !ret)
        return qv_error_set(err, -EINVAL, "cannot read cgroup file %s: invalid arguments",
                            file ? file : "(null)");
    int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return file_error(err, -errno, dirfd, "read", file);
    g_autofree char *content = NULL;
    int r = read_fd_all(fd, &content);
    close(fd);
    if (r < 0)
        return file_error(err, r, dirfd, "read", file);
    size_t len = strlen(content);
    if (len > 0 && content[len - 1] == '\n')
        content[len - 1] = '\0';
    *ret = g_steal_pointer(&content);
    return 0;
}

int qv_cgroup_enable_controllers(int parent_dirfd, const char *const *controllers, qv_error **err)
{
    if (parent_dirfd < 0)
        return qv_error_set(err, -EINVAL, "cannot enable controllers: invalid cgroup fd %d", parent_dirfd);
    if (!controllers || !controllers[0])
        return 0;
    g_autoptr(GString) line = g_string_new(NULL);
    for (const char *const *c = controllers; *c; c++) {
        if (!(*c)[0] || strpbrk(*c, " \t\n+-/"))
            return qv_error_set(err, -EINVAL, "cannot enable controller '%s': not a controller name", *c);
        if (line->len)
            g_string_append_c(line, ' ');
        g_string_append_printf(line, "+%s", *c);
    }

    int fd = openat(parent_dirfd, "cgroup.subtree_control", O_WRONLY | O_TRUNC | O_CLOEXEC);
    int code = 0;
    if (fd < 0) {
        code = -errno;
    } else {
        ssize_t n;
        do {
            n = write(fd, line->str, line->len);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            code = -errno;
        else if ((size_t)n != line->len)
            code = -EIO;
        close(fd);
    }
    if (code == 0)
        return 0;

    g_autofree char *dir = fd_display_path(parent_dirfd);
    if (code == -ENOENT || code == -EACCES) {
        g_autofree char *available = read_quiet(parent_dirfd, "cgroup.controllers");
        if (available) {
            g_strstrip(available);
            for (const char *const *c = controllers; *c; c++) {
                if (!word_in_list(available, *c))
                    return qv_error_set(err, code,
                                        "cannot enable the %s controller in %s: it is not available there (available: %s)",
                                        *c, dir, available[0] ? available : "none");
            }
        }
    }
    if (code == -EBUSY)
        return qv_error_set(err, code,
                            "cannot enable controllers (%s) in %s: the cgroup holds processes itself, and cgroup v2 only enables controllers for cgroups without processes",
                            line->str, dir);
    return qv_error_set_errno(err, code, "cannot enable controllers (%s) in %s", line->str, dir);
}

int qv_cgroup_add_pid(int dirfd, pid_t pid, qv_error **err)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return qv_error_set(err, -EINVAL, "cannot format pid %d", (int)pid);
    return qv_cgroup_write(dirfd, "cgroup.procs", buf, err);
}

/* Deletes the plain files of a directory: only reached on a plain-folder root,
 * since rmdir on cgroupfs never fails with ENOTEMPTY. */
static int unlink_files(int dirfd)
{
    int dup_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
    if (dup_fd < 0)
        return -errno;
    DIR *d = fdopendir(dup_fd);
    if (!d) {
        int e = errno;
        close(dup_fd);
        return -e;
    }
    rewinddir(d);   /* the dup shares the offset of an fd already listed */
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
            continue;
        if (unlinkat(dirfd, de->d_name, 0) < 0 && errno != ENOENT)
            r = -errno;
    }
    closedir(d);
    return r;
}

/* Removes `name` in parent_fd after its child cgroups, deepest first. */
static int remove_tree(int parent_fd, const char *name, const char *shown, qv_error **err)
{
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return qv_error_set_errno(err, -errno, "cannot open cgroup %s", shown);
    }
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        int e = errno;
        if (dup_fd >= 0)
            close(dup_fd);
        close(fd);
        return qv_error_set_errno(err, -e, "cannot list cgroup %s", shown);
    }
    rewinddir(d);
    g_autoptr(GPtrArray) children = g_ptr_array_new_with_free_func(g_free);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            g_ptr_array_add(children, g_strdup(de->d_name));
    }
    closedir(d);

    int r = 0;
    for (guint i = 0; i < children->len && r == 0; i++) {
        const char *child = g_ptr_array_index(children, i);
        g_autofree char *child_shown = g_build_filename(shown, child, NULL);
        r = remove_tree(fd, child, child_shown, err);
    }
    if (r < 0) {
        close(fd);
        return r;
    }

    int rr = unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
    if (rr == -ENOTEMPTY) {
        int u = unlink_files(fd);
        if (u < 0) {
            close(fd);
            return qv_error_set_errno(err, u, "cannot empty directory %s", shown);
        }
        rr = unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
    }
    close(fd);
    if (rr == 0 || rr == -ENOENT)
        return 0;
    if (rr == -EBUSY)
        return qv_error_set(err, -EBUSY, "cannot remove cgroup %s: processes are still inside it", shown);
    return qv_error_set_errno(err, rr, "cannot remove cgroup %s", shown);
}

int qv_cgroup_remove(const char *root, const char *path, qv_error **err)
{
    if (!root || !root[0] || !path)
        return qv_error_set(err, -EINVAL, "cannot remove a cgroup without a root and a path");
    g_autofree char *trimmed = g_strdup(path);
    g_strstrip(trimmed);
    char *rel = trimmed;
    while (*rel == '/')
        rel++;
    size_t len = strlen(rel);
    while (len > 0 && rel[len - 1] == '/')
        rel[--len] = '\0';
    if (len == 0)
        return qv_error_set(err, -EINVAL, "cannot remove the cgroup root %s itself", root);

    g_autofree char *parent_path = g_path_get_dirname(rel);
    g_autofree char *name = g_path_get_basename(rel);
    if (strcmp(name, "..") == 0 || strcmp(name, ".") == 0)
        return qv_error_set(err, -EINVAL, "cannot remove cgroup %s: '.' and '..' are not allowed", path);

    int parent_fd = -1;
    g_autoptr(qv_error) local = NULL;
    int r = qv_cgroup_open(root, strcmp(parent_path, ".") == 0 ? NULL : parent_path, false,
                           &parent_fd, &local);
    if (r == -ENOENT)
        return 0;   /* the parent is gone, so is the cgroup */
    if (r < 0)
        return qv_error_propagate(err, g_steal_pointer(&local));
    g_autofree char *shown = g_build_filename(root, rel, NULL);
    r = remove_tree(parent_fd, name, shown, err);
    close(parent_fd);
    return r;
}

/* Undoes mountinfo's octal escapes ("\040" is a space). */
static char *unescape_mountinfo(const char *s)
{
    GString *out = g_string_new(NULL);
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            g_string_append_c(out, (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0')));
            s += 3;
        } else {
            g_string_append_c(out, *s);
        }
    }
    return g_string_free(out, FALSE);
}

int qv_cgroup_find_v2_mount(const char *mountinfo, char **ret, qv_error **err)
{
    const char *file = mountinfo ? mountinfo : "/proc/self/mountinfo";
    g_autofree char *content = NULL;
    g_autoptr(GError) gerr = NULL;
    if (!g_file_get_contents(file, &content, NULL, &gerr))
        return qv_error_set(err, -EIO, "cannot read %s: %s", file, gerr->message);
    g_auto(GStrv) lines = g_strsplit(content, "\n", -1);
    for (char **l = lines; *l; l++) {
        /* "id parent maj:min root mountpoint opts [optional...] - fstype source superopts" */
        const char *sep = strstr(*l, " - ");
        if (!sep || !g_str_has_prefix(sep + 3, "cgroup2 "))
            continue;
        g_auto(GStrv) fields = g_strsplit(*l, " ", 6);
        if (g_strv_length(fields) < 5)
            continue;
        *ret = unescape_mountinfo(fields[4]);
        return 0;
    }
    return qv_error_set(err, -ENOENT, "no cgroup v2 hierarchy is mounted (none found in %s)", file);
}

int qv_cgroup_get_path(pid_t pid, char **ret, qv_error **err)
{
    char file[64];
    int n = pid > 0 ? snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid)
                    : snprintf(file, sizeof(file), "/proc/self/cgroup");
    if (n < 0 || (size_t)n >= sizeof(file))
        return qv_error_set(err, -EINVAL, "cannot format the cgroup file name of pid %d", (int)pid);
    g_autofree char *content = NULL;
    if (!g_file_get_contents(file, &content, NULL, NULL))
        return qv_error_set(err, -ESRCH, "cannot read %s: no such process", file);
    g_auto(GStrv) lines = g_strsplit(content, "\n", -1);
    for (char **l = lines; *l; l++) {
        if (g_str_has_prefix(*l, "0::")) {
            *ret = g_strdup(*l + 3);
            return 0;
        }
    }
    return qv_error_set(err, -ENOENT, "%s has no cgroup v2 entry", file);
}

int qv_cgroup_make_threaded(int dirfd, qv_error **err)
{
    return qv_cgroup_write(dirfd, "cgroup.type", "threaded", err);
}

int qv_cgroup_add_thread(int dirfd, pid_t tid, qv_error **err)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d", (int)tid);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return qv_error_set(err, -EINVAL, "cannot format thread id %d", (int)tid);
    return qv_cgroup_write(dirfd, "cgroup.threads", buf, err);
}

bool qv_cgroup_has_controller(int dirfd, const char *controller)
{
    g_autofree char *list = read_quiet(dirfd, "cgroup.controllers");
    return list && word_in_list(list, controller);
}

char *qv_cgroup_cpu_max_format(long long quota, unsigned long long period)
{
    if (quota < 0)
        return g_strdup_printf("max %llu", period);
    return g_strdup_printf("%lld %llu", quota, period);
}

/* One unsigned decimal number, the whole of s. */
static bool parse_ull(const char *s, unsigned long long *out)
{
    if (!s || !g_ascii_isdigit(s[0]))
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = g_ascii_strtoull(s, &end, 10);
    if (errno || !end || *end)
        return false;
    *out = v;
    return true;
}

int qv_cgroup_cpu_max_parse(const char *text, long long *quota, unsigned long long *period,
                            qv_error **err)
{
    g_auto(GStrv) w = g_strsplit_set(text ? text : "", " \n", -1);
    unsigned long long q = 0, p = 0;
    if (!w[0] || !w[1] || (w[2] && w[2][0]) || !parse_ull(w[1], &p) ||
        (strcmp(w[0], "max") && (!parse_ull(w[0], &q) || q > (unsigned long long)LLONG_MAX)))
        return qv_error_set(err, -EINVAL, "cannot parse cpu.max '%s': expected 'QUOTA PERIOD'",
                            text ? text : "");
    *quota = strcmp(w[0], "max") ? (long long)q : -1;
    *period = p;
    return 0;
}

char *qv_cgroup_bytes_format(unsigned long long bytes)
{
    return bytes == UINT64_MAX ? g_strdup("max") : g_strdup_printf("%llu", bytes);
}

int qv_cgroup_bytes_parse(const char *text, unsigned long long *bytes, qv_error **err)
{
    if (text && !strcmp(text, "max")) {
        *bytes = UINT64_MAX;
        return 0;
    }
    if (!parse_ull(text, bytes))
        return qv_error_set(err, -EINVAL, "cannot parse '%s' as a byte count or 'max'",
                            text ? text : "");
    return 0;
}

int qv_cgroup_keyed_value(const char *text, const char *key, unsigned long long *ret)
{
    g_auto(GStrv) words = g_strsplit_set(text ? text : "", " \n", -1);
    size_t klen = strlen(key);
    for (char **w = words; *w; w++) {
        const char *v = NULL;
        if (!strncmp(*w, key, klen) && (*w)[klen] == '=')
            v = *w + klen + 1;                  /* nested: key=value */
        else if (!strcmp(*w, key) && w[1])
            v = w[1];                           /* flat: key value */
        if (!v)
            continue;
        if (!strcmp(v, "max")) {
            *ret = UINT64_MAX;
            return 0;
        }
        return parse_ull(v, ret) ? 0 : -EINVAL;
    }
    return -ENOENT;
}

char *qv_cgroup_keyed_line(const char *text, const char *first)
{
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    size_t n = strlen(first);
    for (char **l = lines; *l; l++) {
        if (!strncmp(*l, first, n) && ((*l)[n] == ' ' || (*l)[n] == '\0'))
            return g_strdup(g_strstrip(*l + n));
    }
    return NULL;
}
