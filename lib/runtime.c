#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "qvirt/qvirt.h"
#include "qv-fd.h"
#include "qv-process.h"
#include "runtime.h"
#include "netlink.h"
#include "vmcgroup.h"

char *qv_rt_config_domains_dir(const qv_rt_paths *p)
{
    return g_strdup_printf("%s/domains", p->config_dir);
}

char *qv_rt_autostart_dir(const qv_rt_paths *p)
{
    return g_strdup_printf("%s/autostart", p->config_dir);
}

char *qv_rt_autostart_path(const qv_rt_paths *p, const char *name)
{
    return g_strdup_printf("%s/autostart/%s", p->config_dir, name);
}

char *qv_rt_next_id_path(const qv_rt_paths *p)
{
    return g_strdup_printf("%s/next-id", p->run_dir);
}

char *qv_rt_locks_dir(const qv_rt_paths *p)
{
    return g_strdup_printf("%s/locks", p->run_dir);
}

char *qv_rt_lifecycle_lock_path(const qv_rt_paths *p, const char *name)
{
    return g_strdup_printf("%s/locks/%s.lock", p->run_dir, name);
}

char *qv_rt_stop_lock_path(const qv_rt_paths *p, const char *name)
{
    return g_strdup_printf("%s/locks/%s.stop.lock", p->run_dir, name);
}

char *qv_rt_id_lock_path(const qv_rt_paths *p)
{
    return g_strdup_printf("%s/locks/.id.lock", p->run_dir);
}

char *qv_rt_shutoff_dir(const qv_rt_paths *p)
{
    return g_strdup_printf("%s/shutoff", p->run_dir);
}

char *qv_rt_shutoff_path(const qv_rt_paths *p, const char *name)
{
    return g_strdup_printf("%s/shutoff/%s.json", p->run_dir, name);
}

char *qv_rt_log_dir(const qv_rt_paths *p)
{
    return g_strdup_printf("%s/logs", p->run_dir);
}

char *qv_rt_log_path(const qv_rt_paths *p, const char *name)
{
    return g_strdup_printf("%s/logs/%s.log", p->run_dir, name);
}

char *qv_rt_domains_dir(const qv_rt_paths *p)
{
    return g_strdup_printf("%s/domains", p->run_dir);
}

char *qv_rt_domain_dir(const qv_rt_paths *p, const char *name)
{
    return g_strdup_printf("%s/domains/%s", p->run_dir, name);
}

char *qv_rt_domain_file(const qv_rt_paths *p, const char *name, const char *file)
{
    return g_strdup_printf("%s/domains/%s/%s", p->run_dir, name, file);
}

char *qv_rt_config_file(const qv_rt_paths *p, const char *name)
{
    return g_strdup_printf("%s/domains/%s.xml", p->config_dir, name);
}

char *qv_rt_journal_path(const qv_rt_paths *p)
{
    return g_strdup_printf("%s/events", p->run_dir);
}

char *qv_rt_journal_gen_path(const qv_rt_paths *p, unsigned long long gen)
{
    return g_strdup_printf("%s/events.%llu", p->run_dir, gen);
}

char *qv_rt_journal_lock_path(const qv_rt_paths *p)
{
    return g_strdup_printf("%s/locks/.events.lock", p->run_dir);
}

int qv_rt_journal_generations(const qv_rt_paths *p, unsigned long long *oldest,
                              unsigned long long *newest)
{
    *oldest = *newest = 0;
    DIR *d = opendir(p->run_dir);
    if (!d)
        return -errno;
    struct dirent *de;
    while ((de = readdir(d))) {
        /* events.<digits> only: not a temp file or anything else. */
        if (strncmp(de->d_name, "events.", 7) != 0)
            continue;
        const char *digits = de->d_name + 7;
        guint64 gen;
        if (!g_ascii_isdigit(*digits) ||
            !g_ascii_string_to_unsigned(digits, 10, 1, G_MAXUINT64, &gen, NULL))
            continue;
        if (!*oldest || gen < *oldest)
            *oldest = gen;
        if (gen > *newest)
            *newest = gen;
    }
    closedir(d);
    return 0;
}

long long qv_rt_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int qv_rt_mkdirs(const char *path, qv_error **err)
{
    if (g_mkdir_with_parents(path, 0700) < 0)
        return qv_error_set_errno(err, -errno, "cannot create directory %s", path);
    return 0;
}

/* GLib reports file errors as GFileError: back to the errno it came from. */
static int file_error_errno(const GError *e)
{
    static const int map[] = {
        [G_FILE_ERROR_EXIST] = EEXIST,   [G_FILE_ERROR_ISDIR] = EISDIR,
        [G_FILE_ERROR_ACCES] = EACCES,   [G_FILE_ERROR_NAMETOOLONG] = ENAMETOOLONG,
        [G_FILE_ERROR_NOENT] = ENOENT,   [G_FILE_ERROR_NOTDIR] = ENOTDIR,
        [G_FILE_ERROR_NXIO] = ENXIO,     [G_FILE_ERROR_NODEV] = ENODEV,
        [G_FILE_ERROR_ROFS] = EROFS,     [G_FILE_ERROR_TXTBSY] = ETXTBSY,
        [G_FILE_ERROR_FAULT] = EFAULT,   [G_FILE_ERROR_LOOP] = ELOOP,
        [G_FILE_ERROR_NOSPC] = ENOSPC,   [G_FILE_ERROR_NOMEM] = ENOMEM,
        [G_FILE_ERROR_MFILE] = EMFILE,   [G_FILE_ERROR_NFILE] = ENFILE,
        [G_FILE_ERROR_BADF] = EBADF,     [G_FILE_ERROR_INVAL] = EINVAL,
        [G_FILE_ERROR_PIPE] = EPIPE,     [G_FILE_ERROR_AGAIN] = EAGAIN,
        [G_FILE_ERROR_INTR] = EINTR,     [G_FILE_ERROR_IO] = EIO,
        [G_FILE_ERROR_PERM] = EPERM,     [G_FILE_ERROR_NOSYS] = ENOSYS,
    };
    if (e->domain == G_FILE_ERROR && e->code >= 0 && (size_t)e->code < G_N_ELEMENTS(map) &&
        map[e->code])
        return -map[e->code];
    return -EIO;
}

/* Config files must survive a crash: GLib writes a temp file, fsyncs it and
 * renames it over the old one. */
int qv_rt_write_atomic(const char *path, const char *data, size_t len, qv_error **err)
{
    g_autoptr(GError) gerr = NULL;
    if (!g_file_set_contents_full(path, data, (gssize)len,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                  0600, &gerr))
        return qv_error_set(err, file_error_errno(gerr), "cannot write %s: %s", path,
                            gerr->message);
    return 0;
}

/* Runtime files live in /run (tmpfs) and mean nothing after a reboot: they
 * only need rename's atomicity, not fsync. */
int qv_rt_write_runtime(const char *path, const char *data, size_t len, qv_error **err)
{
    g_autofree char *tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
    qv_autoclose int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot write %s", path);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? -errno : -EIO;
            unlink(tmp);
            return qv_error_set_errno(err, e, "cannot write %s", path);
        }
        off += (size_t)n;
    }
    if (close(qv_steal_fd(&fd)) < 0) {
        int e = -errno;
        unlink(tmp);
        return qv_error_set_errno(err, e, "cannot write %s", path);
    }
    /* Runtime files change on every stop and cont. On ext4 a rename over an
     * existing file flushes the new file's data first (auto_da_alloc), which
     * made each write cost about 0.5 ms; an exchange does not, and readers
     * still see the old content or the new, never neither. The old content
     * is then unlinked. */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) == 0) {
        unlink(tmp);
        return 0;
    }
    /* ENOENT: nothing to exchange with yet; EINVAL: the file system cannot
     * exchange. A plain rename does. */
    if (rename(tmp, path) < 0) {
        int e = -errno;
        unlink(tmp);
        return qv_error_set_errno(err, e, "cannot replace %s", path);
    }
    return 0;
}

/* The runtime folder's JSON files (status.json, shutoff/<name>.json) are a
 * few hundred bytes; a larger one is not ours. */
#define QV_RT_JSON_MAX_SIZE (1 << 20)

int qv_rt_read_json(const char *path, json_object **ret, qv_error **err)
{
    g_autofree char *data = NULL;
    int r = qv_read_file(path, QV_RT_JSON_MAX_SIZE, &data, NULL, err);
    if (r < 0)
        return r;
    json_object *obj = json_tokener_parse(data);
    if (!obj || !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return qv_error_set(err, -EBADMSG, "%s does not hold a JSON object", path);
    }
    *ret = obj;
    return 0;
}

int qv_rt_write_json(const char *path, json_object *obj, qv_error **err)
{
    size_t len;
    const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
    return qv_rt_write_runtime(path, s, len, err);
}

/* Holders of a lock keep it for one monitor command (a few hundred us), so
 * a waiter retries at first after 50 us and backs off to 5 ms. */
#define QV_RT_LOCK_POLL_MIN_NS 50000
#define QV_RT_LOCK_POLL_MAX_NS 5000000

int qv_rt_lock_fd(int fd, int timeout_ms)
{
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (errno != EWOULDBLOCK)
        return -errno;
    if (timeout_ms == 0)
        return -EWOULDBLOCK; /* callers turn this into their own message */
    if (timeout_ms < 0) {
        while (flock(fd, LOCK_EX) < 0)
            if (errno != EINTR)
                return -errno;
        return 0;
    }
    /* flock has no timeout, and a library must not use signals to break
     * a blocking wait: retry with a short backoff until the deadline. */
    long long deadline = g_get_monotonic_time() + (long long)timeout_ms * 1000;
    long delay_ns = QV_RT_LOCK_POLL_MIN_NS;
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        if (g_get_monotonic_time() >= deadline)
            return -ETIMEDOUT;
        struct timespec ts = { 0, delay_ns };
        ppoll(NULL, 0, &ts, NULL);
        if (delay_ns < QV_RT_LOCK_POLL_MAX_NS)
            delay_ns *= 2;
    }
    return 0;
}

int qv_rt_lock(const char *path, int timeout_ms, qv_error **err)
{
    qv_autoclose int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open lock %s", path);
    int r = qv_rt_lock_fd(fd, timeout_ms);
    if (r == 0)
        return qv_steal_fd(&fd);
    if (r == -EWOULDBLOCK || r == -ETIMEDOUT)
        return r;
    return qv_error_set_errno(err, r, "cannot lock %s", path);
}

void qv_rt_unlock(int fd)
{
    qv_closep(&fd);
}

static void state_from_json(json_object *obj, qv_rt_state *st)
{
    json_object *v;
    st->state = json_object_object_get_ex(obj, "state", &v) ? json_object_get_int(v) : 0;
    st->reason = json_object_object_get_ex(obj, "reason", &v) ? json_object_get_int(v) : 0;
    st->since_us = json_object_object_get_ex(obj, "since", &v) ? json_object_get_int64(v) : 0;
}

int qv_rt_state_read(const char *path, qv_rt_state *st, qv_error **err)
{
    g_autoptr(json_object) obj = NULL;
    int r = qv_rt_read_json(path, &obj, err);
    if (r < 0)
        return r;
    state_from_json(obj, st);
    return 0;
}

int qv_rt_state_write(const char *path, const qv_rt_state *st, qv_error **err)
{
    g_autoptr(json_object) obj = json_object_new_object();
    json_object_object_add(obj, "state", json_object_new_int(st->state));
    json_object_object_add(obj, "reason", json_object_new_int(st->reason));
    json_object_object_add(obj, "since", json_object_new_int64(st->since_us));
    return qv_rt_write_json(path, obj, err);
}

/* ---- the run state word --------------------------------------------------- */

/* Two layouts: "qvstate1" (32 bytes, before the balloon word) is still
 * read, so a run started by an older build stays readable; its balloon
 * size is unknown. New runs get "qvstate2" (40 bytes). */
#define STATE_MAGIC_V1 "qvstate1"
#define STATE_MAGIC "qvstate2"

/* The word, from bit 0 up: the state (4 bits), the reason (8 bits), the
 * retired flag, and the microseconds since the base time of the last
 * change (51 bits: 71 years). Part of the file format: changing it needs a
 * new magic. */
enum {
    STATE_STATE_SHIFT = 0,
    STATE_STATE_BITS = 4,
    STATE_REASON_SHIFT = STATE_STATE_SHIFT + STATE_STATE_BITS,
    STATE_REASON_BITS = 8,
    STATE_RETIRED_SHIFT = STATE_REASON_SHIFT + STATE_REASON_BITS,
    STATE_DELTA_SHIFT = STATE_RETIRED_SHIFT + 1,
    STATE_DELTA_BITS = 64 - STATE_DELTA_SHIFT,
};
_Static_assert(STATE_RETIRED_SHIFT == 12 && STATE_DELTA_SHIFT == 13 && STATE_DELTA_BITS == 51,
               "the state word's layout is part of the qvstate2 file format");
#define STATE_FIELD_MASK(bits) ((UINT64_C(1) << (bits)) - 1)
#define STATE_RETIRED (UINT64_C(1) << STATE_RETIRED_SHIFT)

/* The file: a magic, the run's base time, the word (above), when a stop
 * or cont last took qmp.lock (for get_control_info), and the balloon's
 * actual size (KiB, 0 until known; v2 only). */
typedef struct state_file {
    char magic[8];
    int64_t base_us;
    uint64_t word;
    int64_t lock_since_us; /* when qmp.lock was last taken by a stop/cont */
    uint64_t balloon_kib;  /* the balloon's actual size, 0: unknown */
} state_file;
#define STATE_FILE_V1_SIZE offsetof(state_file, balloon_kib)

struct qv_rt_statemap {
    state_file *f;
    size_t size;           /* mapped bytes: a v1 file has no balloon word */
    bool writable;
};

static uint64_t state_pack(const state_file *f, const qv_rt_state *st)
{
    long long d = st->since_us - f->base_us;
    if (d < 0)
        d = 0;
    if ((uint64_t)d > STATE_FIELD_MASK(STATE_DELTA_BITS))
        d = (long long)STATE_FIELD_MASK(STATE_DELTA_BITS);
    return ((uint64_t)st->state & STATE_FIELD_MASK(STATE_STATE_BITS)) << STATE_STATE_SHIFT |
           ((uint64_t)st->reason & STATE_FIELD_MASK(STATE_REASON_BITS)) << STATE_REASON_SHIFT |
           (uint64_t)d << STATE_DELTA_SHIFT;
}

int qv_rt_statemap_create(const char *path, const qv_rt_state *st, qv_error **err)
{
    state_file f = { .base_us = st->since_us };
    memcpy(f.magic, STATE_MAGIC, sizeof f.magic);
    f.word = state_pack(&f, st);
    return qv_rt_write_runtime(path, (const char *)&f, sizeof f, err);
}

/* A state file is one of the known (magic, size) pairs; anything else
 * (short, a newer layout, not ours) is refused with -EINVAL. */
static bool state_file_valid(const void *p, size_t size)
{
    const char *magic = p;
    const size_t magic_len = sizeof((state_file *)NULL)->magic;
    return (size == sizeof(state_file) && memcmp(magic, STATE_MAGIC, magic_len) == 0) ||
           (size == STATE_FILE_V1_SIZE && memcmp(magic, STATE_MAGIC_V1, magic_len) == 0);
}

int qv_rt_statemap_open(const char *path, qv_rt_statemap **ret)
{
    bool writable = true;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == EACCES) {
        writable = false;
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return -errno;
    struct stat sb;
    int r = fstat(fd, &sb) < 0 ? -errno : 0;
    size_t size = r == 0 ? (size_t)sb.st_size : 0;
    if (r == 0 && size != sizeof(state_file) && size != STATE_FILE_V1_SIZE)
        r = -EINVAL;
    void *p = MAP_FAILED;
    if (r == 0) {
        p = mmap(NULL, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            r = -errno;
    }
    close(fd);
    if (r == 0 && !state_file_valid(p, size))
        r = -EINVAL;
    if (r < 0) {
        if (p != MAP_FAILED)
            munmap(p, size);
        return r;
    }
    qv_rt_statemap *m = g_new0(qv_rt_statemap, 1);
    m->f = p;
    m->size = size;
    m->writable = writable;
    *ret = m;
    return 0;
}

void qv_rt_statemap_free(qv_rt_statemap *m)
{
    if (!m)
        return;
    munmap(m->f, m->size);
    g_free(m);
}

bool qv_rt_statemap_load(const qv_rt_statemap *m, qv_rt_state *st)
{
    uint64_t w = __atomic_load_n(&m->f->word, __ATOMIC_ACQUIRE);
    st->state = (int)(w >> STATE_STATE_SHIFT & STATE_FIELD_MASK(STATE_STATE_BITS));
    st->reason = (int)(w >> STATE_REASON_SHIFT & STATE_FIELD_MASK(STATE_REASON_BITS));
    st->since_us = m->f->base_us + (long long)(w >> STATE_DELTA_SHIFT);
    return !(w & STATE_RETIRED);
}

int qv_rt_statemap_store(qv_rt_statemap *m, const qv_rt_state *st)
{
    if (!m->writable)
        return -EACCES;
    /* Retiring is for good: a late writer must not bring the run back. */
    uint64_t want = state_pack(m->f, st);
    uint64_t w = __atomic_load_n(&m->f->word, __ATOMIC_ACQUIRE);
    do {
        if (w & STATE_RETIRED)
            return -ESTALE;
    } while (!__atomic_compare_exchange_n(&m->f->word, &w, want, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    return 0;
}

void qv_rt_statemap_retire(qv_rt_statemap *m)
{
    if (m->writable)
        __atomic_fetch_or(&m->f->word, STATE_RETIRED, __ATOMIC_ACQ_REL);
}

void qv_rt_statemap_set_lock_since(qv_rt_statemap *m, long long us)
{
    if (m->writable)
        __atomic_store_n(&m->f->lock_since_us, (int64_t)us, __ATOMIC_RELAXED);
}

long long qv_rt_statemap_lock_since(const qv_rt_statemap *m)
{
    return __atomic_load_n(&m->f->lock_since_us, __ATOMIC_RELAXED);
}

/* The balloon word has no lock: the supervisor is its one writer (from
 * BALLOON_CHANGE events and its own query-balloon), and it is read
 * alone, so one atomic store and one atomic load are all it needs. */
int qv_rt_statemap_set_balloon(qv_rt_statemap *m, unsigned long long kib)
{
    if (!m->writable)
        return -EACCES;
    if (m->size < sizeof(state_file))
        return -EOPNOTSUPP;
    if (__atomic_load_n(&m->f->word, __ATOMIC_ACQUIRE) & STATE_RETIRED)
        return -ESTALE;
    __atomic_store_n(&m->f->balloon_kib, (uint64_t)kib, __ATOMIC_RELEASE);
    return 0;
}

unsigned long long qv_rt_statemap_balloon(const qv_rt_statemap *m)
{
    if (m->size < sizeof(state_file))
        return 0;
    uint64_t kib = __atomic_load_n(&m->f->balloon_kib, __ATOMIC_ACQUIRE);
    /* Loaded before the retired flag: a run retired meanwhile reads 0. */
    if (__atomic_load_n(&m->f->word, __ATOMIC_ACQUIRE) & STATE_RETIRED)
        return 0;
    return kib;
}

int qv_rt_state_load(const char *path, qv_rt_state *st)
{
    qv_rt_statemap *m;
    int r = qv_rt_statemap_open(path, &m);
    if (r < 0)
        return r;
    r = qv_rt_statemap_load(m, st) ? 0 : -ESTALE;
    qv_rt_statemap_free(m);
    return r;
}

int qv_rt_state_store(const char *path, const qv_rt_state *st)
{
    qv_rt_statemap *m;
    int r = qv_rt_statemap_open(path, &m);
    if (r < 0)
        return r;
    r = qv_rt_statemap_store(m, st);
    qv_rt_statemap_free(m);
    return r;
}

/* Tells every process that maps this run's state that the run is over. */
/* The files given to QEMU's user for the run go back to their owners
 * (those still as the run left them). */
static void restore_owners(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, QV_RT_RUN_OWNERS, NULL);
    g_autofree char *text = NULL;
    if (qv_read_file(path, 1 << 20, &text, NULL, NULL) < 0)
        return;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        long ou, og, nu, ng;
        int off = 0;
        if (sscanf(*l, "%ld %ld %ld %ld %n", &ou, &og, &nu, &ng, &off) != 4 || !(*l)[off])
            continue;
        const char *file = *l + off;
        struct stat st;
        if (stat(file, &st) < 0 || st.st_uid != (uid_t)nu || st.st_gid != (gid_t)ng)
            continue; /* gone, or changed hands since: leave it */
        if (chown(file, (uid_t)ou, (gid_t)og) < 0) {
            /* nothing more to try: the record goes with the run */
        }
    }
    unlink(path);
}

int qv_rt_chown_for_run(const char *domain_dir, const char *file, uid_t uid, gid_t gid,
                        qv_error **err)
{
    struct stat st;
    if (stat(file, &st) < 0)
        return qv_error_set_errno(err, -errno, "cannot give %s to QEMU's user", file);
    if (st.st_uid == uid && st.st_gid == gid)
        return 0;
    /* The record first, synced: a crash after the chown still gives it back. */
    g_autofree char *path = g_build_filename(domain_dir, QV_RT_RUN_OWNERS, NULL);
    g_autofree char *line = g_strdup_printf("%ld %ld %ld %ld %s\n", (long)st.st_uid,
                                            (long)st.st_gid, (long)uid, (long)gid, file);
    qv_autoclose int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line) || fsync(fd) < 0)
        return qv_error_set_errno(err, -errno, "cannot record the owner of %s in %s", file, path);
    if (chown(file, uid, gid) < 0)
        return qv_error_set_errno(err, -errno, "cannot give %s to QEMU's user", file);
    return 0;
}

/* The run's cgroup goes with it. Processes still inside (a supervisor
 * that is ending the run itself and could not leave it) keep it until the
 * last retire, or the domain's next start, removes it. */
static void remove_cgroup(const char *dir)
{
    g_auto(qv_vmcg) cg = { 0 };
    if (qv_vmcg_read(dir, &cg) == 0 && cg.mount)
        qv_vmcg_remove(&cg, NULL);
}

static void retire_run(const char *dir, bool keep_cgroup)
{
    qv_rt_host_links_release(dir);   /* macvtaps and OVS ports of the run */
    restore_owners(dir);
    if (!keep_cgroup)
        remove_cgroup(dir);
    g_autofree char *path = g_build_filename(dir, QV_RT_RUN_STATE, NULL);
    qv_rt_statemap *m;
    if (qv_rt_statemap_open(path, &m) == 0) {
        qv_rt_statemap_retire(m);
        qv_rt_statemap_free(m);
    }
}

int qv_rt_starter_write(const char *domain_dir, qv_error **err)
{
    g_autofree char *path = g_build_filename(domain_dir, QV_RT_RUN_STARTER, NULL);
    g_autofree char *data = g_strdup_printf("%d %llu", (int)getpid(),
                                            qv_process_start_time(getpid()));
    return qv_rt_write_runtime(path, data, strlen(data), err);
}

int qv_rt_run_id_write(const char *domain_dir, qv_error **err)
{
    g_autofree char *path = g_build_filename(domain_dir, QV_RT_RUN_ID, NULL);
    /* From the kernel, not GLib's generator: a forked child shares that
     * generator's state with its parent and would draw the same id. */
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return qv_error_set_errno(err, -errno, "cannot draw a run id");
    char id[33];
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(id + 2 * i, 3, "%02x", raw[i]);
    return qv_rt_write_runtime(path, id, strlen(id), err);
}

void qv_rt_run_id_read(const char *domain_dir, char buf[40])
{
    g_autofree char *path = g_build_filename(domain_dir, QV_RT_RUN_ID, NULL);
    g_autofree char *data = NULL;
    buf[0] = '\0';
    if (qv_rt_read_file(path, 39, &data, NULL, NULL) == 0)
        g_strlcpy(buf, data, 40);
}

qv_rt_starter qv_rt_starter_check(const char *domain_dir)
{
    g_autofree char *path = g_build_filename(domain_dir, QV_RT_RUN_STARTER, NULL);
    g_autofree char *data = NULL;
    if (qv_read_file(path, 64, &data, NULL, NULL) < 0)
        return QV_RT_STARTER_NONE;
    int pid = 0;
    unsigned long long start = 0;
    if (sscanf(data, "%d %llu", &pid, &start) != 2)
        return QV_RT_STARTER_GONE;
    return qv_rt_pid_alive(pid, start) ? QV_RT_STARTER_ALIVE : QV_RT_STARTER_GONE;
}

void qv_rt_mark_stopping(const char *domain_dir, const char *why)
{
    g_autofree char *path = g_build_filename(domain_dir, QV_RT_RUN_STOPPING, NULL);
    g_autofree char *data = g_strdup_printf("%s\n%d %llu\n", why, (int)getpid(),
                                            qv_process_start_time(getpid()));
    qv_rt_write_runtime(path, data, strlen(data), NULL);
}

char *qv_rt_stopping_read(const char *domain_dir, bool *writer_waits)
{
    g_autofree char *path = g_build_filename(domain_dir, QV_RT_RUN_STOPPING, NULL);
    g_autofree char *data = NULL;
    *writer_waits = false;
    if (qv_read_file(path, 4096, &data, NULL, NULL) < 0)
        return NULL;
    char *nl = strchr(data, '\n');
    int pid = 0;
    unsigned long long start = 0;
    /* A marker without its writer (written by an older qvirt) is the
     * monitor's to finish, cgroup included. */
    if (nl && sscanf(nl + 1, "%d %llu", &pid, &start) == 2 && pid > 0 && pid != getpid())
        *writer_waits = qv_rt_pid_alive(pid, start);
    return nl ? g_strndup(data, (gsize)(nl - data)) : g_steal_pointer(&data);
}

/* How long an undone run waits for QEMU, then for its monitor. */
#define QV_RT_UNDO_WAIT_MS 10000

void qv_rt_undo_run(const qv_rt_paths *p, const char *name, const char *uuid,
                    const qv_rt_status *st)
{
    g_autofree char *dir = qv_rt_domain_dir(p, name);
    g_auto(qv_vmcg) cg = { 0 };
    qv_vmcg_read(dir, &cg);
    qv_rt_mark_stopping(dir, "failed");
    if (qv_rt_pid_alive(st->qemu_pid, st->qemu_start))
        kill(st->qemu_pid, SIGKILL);
    qv_rt_wait_exit(st->qemu_pid, st->qemu_start, QV_RT_UNDO_WAIT_MS);
    /* The monitor records the stop; wait for it so the caller sees a
     * consistent shut off domain, and record it when it cannot. */
    qv_rt_wait_exit(st->monitor_pid, st->monitor_start, QV_RT_UNDO_WAIT_MS);
    qv_rt_finalize_run(p, name, uuid, st->run_id, QV_DOMAIN_SHUTOFF_FAILED,
                       QV_DOMAIN_EVENT_STOPPED_FAILED, NULL);
    if (cg.mount)
        qv_vmcg_remove(&cg, NULL); /* the monitor left it to us */
}

void qv_rt_record_failed_start(const qv_rt_paths *p, const char *name)
{
    g_autofree char *shutoff_dir = qv_rt_shutoff_dir(p);
    g_autofree char *path = qv_rt_shutoff_path(p, name);
    qv_rt_mkdirs(shutoff_dir, NULL);
    qv_rt_state failed = { QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_FAILED, qv_rt_now_us() };
    qv_rt_state_write(path, &failed, NULL);
}

void qv_rt_remove_run_dir(const char *dir)
{
    retire_run(dir, false);
    /* Gone at once: a process killed half-way through the removal leaves
     * a grave nobody reads, never a run dir without its state file. */
    g_autofree char *grave = g_strdup_printf("%s.gone.%d", dir, (int)getpid());
    qv_rt_remove_tree(grave);
    qv_rt_remove_tree(rename(dir, grave) == 0 ? grave : dir);
}

qv_rt_action qv_rt_action_parse(const char *s)
{
    if (!s || !strcmp(s, "destroy"))
        return QV_RT_ACTION_DESTROY;
    if (!strcmp(s, "restart"))
        return QV_RT_ACTION_RESTART;
    return QV_RT_ACTION_PRESERVE;
}

const char *qv_rt_action_name(qv_rt_action a)
{
    switch (a) {
    case QV_RT_ACTION_RESTART: return "restart";
    case QV_RT_ACTION_PRESERVE: return "preserve";
    default: return "destroy";
    }
}

int qv_rt_status_read(const char *path, qv_rt_status *st, qv_error **err)
{
    g_autoptr(json_object) obj = NULL;
    int r = qv_rt_read_json(path, &obj, err);
    if (r < 0)
        return r;
    st->qemu_pid = (pid_t)qv_json_get_int(obj, "qemu_pid", 0);
    st->qemu_start = (unsigned long long)qv_json_get_int(obj, "qemu_start", 0);
    st->monitor_pid = (pid_t)qv_json_get_int(obj, "monitor_pid", 0);
    st->monitor_start = (unsigned long long)qv_json_get_int(obj, "monitor_start", 0);
    st->id = (int)qv_json_get_int(obj, "id", 0);
    st->transient = qv_json_get_int(obj, "transient", 0) != 0;
    st->autodestroy = qv_json_get_int(obj, "autodestroy", 0) != 0;
    st->owner_pid = (pid_t)qv_json_get_int(obj, "owner_pid", 0);
    st->owner_start = (unsigned long long)qv_json_get_int(obj, "owner_start", 0);
    st->started_us = qv_json_get_int(obj, "started", 0);
    g_autofree char *dir = g_path_get_dirname(path);
    qv_rt_run_id_read(dir, st->run_id);
    json_object *v;
    st->on_poweroff = qv_rt_action_parse(json_object_object_get_ex(obj, "on_poweroff", &v)
                                         ? json_object_get_string(v) : NULL);
    st->on_reboot = json_object_object_get_ex(obj, "on_reboot", &v)
                        ? qv_rt_action_parse(json_object_get_string(v)) : QV_RT_ACTION_RESTART;
    st->on_crash = qv_rt_action_parse(json_object_object_get_ex(obj, "on_crash", &v)
                                      ? json_object_get_string(v) : NULL);
    return 0;
}

int qv_rt_status_write(const char *path, const qv_rt_status *st, qv_error **err)
{
    g_autoptr(json_object) obj = json_object_new_object();
    json_object_object_add(obj, "qemu_pid", json_object_new_int64(st->qemu_pid));
    json_object_object_add(obj, "qemu_start", json_object_new_int64((int64_t)st->qemu_start));
    json_object_object_add(obj, "monitor_pid", json_object_new_int64(st->monitor_pid));
    json_object_object_add(obj, "monitor_start", json_object_new_int64((int64_t)st->monitor_start));
    json_object_object_add(obj, "id", json_object_new_int(st->id));
    json_object_object_add(obj, "transient", json_object_new_int(st->transient));
    json_object_object_add(obj, "autodestroy", json_object_new_int(st->autodestroy));
    json_object_object_add(obj, "owner_pid", json_object_new_int64(st->owner_pid));
    json_object_object_add(obj, "owner_start", json_object_new_int64((int64_t)st->owner_start));
    json_object_object_add(obj, "started", json_object_new_int64(st->started_us));
    json_object_object_add(obj, "on_poweroff", json_object_new_string(qv_rt_action_name(st->on_poweroff)));
    json_object_object_add(obj, "on_reboot", json_object_new_string(qv_rt_action_name(st->on_reboot)));
    json_object_object_add(obj, "on_crash", json_object_new_string(qv_rt_action_name(st->on_crash)));
    return qv_rt_write_json(path, obj, err);
}

bool qv_rt_pid_alive(pid_t pid, unsigned long long start_time)
{
    qv_proc_stat st;
    if (qv_proc_stat_read(pid, 0, &st) < 0 || qv_proc_stat_exited(&st))
        return false;
    return start_time == 0 || st.start_time == start_time;
}

/* Journal lock held exclusively. The live file becomes the next
 * generation (never a number used before, so a listener that knows which
 * generation it read knows which comes next) and generations past the
 * bound go. A failed rename leaves the journal growing until the next try:
 * better than losing lines. */
static void journal_rotate(const qv_rt_paths *p, const char *path)
{
    unsigned long long oldest, newest;
    if (qv_rt_journal_generations(p, &oldest, &newest) < 0)
        return;
    g_autofree char *next = qv_rt_journal_gen_path(p, newest + 1);
    if (rename(path, next) < 0)
        return;
    if (!oldest)
        oldest = newest + 1;
    for (unsigned long long gen = oldest; gen + QV_RT_JOURNAL_KEEP <= newest + 1; gen++) {
        g_autofree char *gone = qv_rt_journal_gen_path(p, gen);
        unlink(gone);
    }
}

void qv_rt_journal_writer_close(qv_rt_journal_writer *w)
{
    qv_closep(&w->fd);
    qv_closep(&w->lock_fd);
}

int qv_rt_journal_write(const qv_rt_paths *p, qv_rt_journal_writer *w, json_object *obj,
                        qv_error **err)
{
    if (!json_object_object_get_ex(obj, "ts", NULL))
        json_object_object_add(obj, "ts", json_object_new_int64(qv_rt_now_us()));
    pid_t self = getpid();
    if (w->pid != self) {
        /* a forked child: its copies share the parent's open files */
        qv_rt_journal_writer_close(w);
        w->pid = self;
    }
    g_autofree char *path = qv_rt_journal_path(p);
    /* Appenders share this lock; a rotation takes it alone, so no line is
     * ever written to a file that was already rotated away. */
    if (w->lock_fd < 0) {
        g_autofree char *lock_path = qv_rt_journal_lock_path(p);
        w->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    }
    if (w->lock_fd >= 0)
        while (flock(w->lock_fd, LOCK_SH) < 0 && errno == EINTR)
            ;
    struct stat st;
    /* Under the shared lock the journal cannot move: is ours still it? */
    if (w->fd >= 0 && (stat(path, &st) < 0 || st.st_ino != w->ino || st.st_dev != w->dev))
        qv_closep(&w->fd);
    if (w->fd < 0) {
        w->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (w->fd < 0 || fstat(w->fd, &st) < 0) {
            int e = -errno;
            qv_closep(&w->fd);
            if (w->lock_fd >= 0)
                flock(w->lock_fd, LOCK_UN);
            return qv_error_set_errno(err, e, "cannot open the event journal %s", path);
        }
        w->dev = st.st_dev;
        w->ino = st.st_ino;
    }
    size_t len;
    const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
    /* One write() of the whole line: O_APPEND makes it land in one piece,
     * unless its writer is killed while the kernel copies it (a line that
     * crosses a page may stop at the page's end). Such a torn line must not
     * swallow the next one: a journal that does not end with a newline
     * gets one first, and readers skip the fragment. */
    char last = '\n';
    if (fstat(w->fd, &st) == 0 && st.st_size > 0 && pread(w->fd, &last, 1, st.st_size - 1) != 1)
        last = '\n';
    g_autofree char *line = g_strdup_printf("%s%s\n", last == '\n' ? "" : "\n", s);
    len += last == '\n' ? 0 : 1;
    ssize_t n = write(w->fd, line, len + 1);
    int e = n < 0 ? -errno : 0;
    bool full = fstat(w->fd, &st) == 0 && st.st_size > QV_RT_JOURNAL_MAX_BYTES;
    if (full && w->lock_fd >= 0 && flock(w->lock_fd, LOCK_EX | LOCK_NB) == 0) {
        /* Re-check under the exclusive lock: another appender may have
         * rotated already. */
        if (stat(path, &st) == 0 && st.st_size > QV_RT_JOURNAL_MAX_BYTES)
            journal_rotate(p, path);
    }
    if (w->lock_fd >= 0)
        flock(w->lock_fd, LOCK_UN);
    if (n < 0)
        return qv_error_set_errno(err, e, "cannot append to the event journal %s", path);
    return 0;
}

int qv_rt_journal_append(const qv_rt_paths *p, json_object *obj, qv_error **err)
{
    qv_rt_journal_writer w = QV_RT_JOURNAL_WRITER_INIT;
    int r = qv_rt_journal_write(p, &w, obj, err);
    qv_rt_journal_writer_close(&w);
    return r;
}

int qv_rt_emit_with(const qv_rt_paths *p, qv_rt_journal_writer *w, const char *name,
                    const char *uuid, int event_id, int event, int detail, json_object *extra)
{
    json_object *obj = extra ? extra : json_object_new_object();
    json_object_object_add(obj, "domain", json_object_new_string(name));
    if (uuid)
        json_object_object_add(obj, "uuid", json_object_new_string(uuid));
    json_object_object_add(obj, "event_id", json_object_new_int(event_id));
    json_object_object_add(obj, "event", json_object_new_int(event));
    json_object_object_add(obj, "detail", json_object_new_int(detail));
    int r = w ? qv_rt_journal_write(p, w, obj, NULL) : qv_rt_journal_append(p, obj, NULL);
    json_object_put(obj);
    return r;
}

int qv_rt_emit(const qv_rt_paths *p, const char *name, const char *uuid, int event_id,
               int event, int detail, json_object *extra)
{
    return qv_rt_emit_with(p, NULL, name, uuid, event_id, event, detail, extra);
}

int qv_rt_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        g_autofree char *child = g_build_filename(path, de->d_name, NULL);
        if (de->d_type == DT_DIR)
            qv_rt_remove_tree(child);
        else
            unlink(child);
    }
    closedir(d);
    return rmdir(path) < 0 && errno != ENOENT ? -errno : 0;
}

int qv_rt_finalize_stop(const qv_rt_paths *p, const char *name, const char *uuid,
                        int shutoff_reason, int stopped_detail, qv_error **err)
{
    return qv_rt_finalize_run(p, name, uuid, NULL, shutoff_reason, stopped_detail, err);
}

/* The stop lock: another process recording the same stop. */
#define QV_RT_STOP_LOCK_MS 10000

static int finalize_run(const qv_rt_paths *p, const char *name, const char *uuid,
                        const char *run_id, int shutoff_reason, int stopped_detail,
                        bool keep_cgroup, qv_error **err)
{
    g_autofree char *dir = qv_rt_domain_dir(p, name);
    /* The monitor and a library process may both get here: the first one,
     * under this lock, records the stop. The reason is written before the
     * runtime dir goes, so a reader never sees an active domain turn into
     * "shut off (unknown)". */
    g_autofree char *lock_path = qv_rt_stop_lock_path(p, name);
    int lock = qv_rt_lock(lock_path, QV_RT_STOP_LOCK_MS, err);
    if (lock < 0)
        return lock;
    struct stat dst;
    char id[40];
    if (run_id)
        qv_rt_run_id_read(dir, id);
    if (stat(dir, &dst) < 0 || !S_ISDIR(dst.st_mode) || (run_id && strcmp(id, run_id))) {
        qv_rt_unlock(lock);
        return 0;
    }
    g_autofree char *shutoff_dir = qv_rt_shutoff_dir(p);
    qv_rt_mkdirs(shutoff_dir, NULL);
    g_autofree char *shutoff = qv_rt_shutoff_path(p, name);
    qv_rt_state st = { QV_DOMAIN_SHUTOFF, shutoff_reason, qv_rt_now_us() };
    qv_rt_state_write(shutoff, &st, NULL);
    g_autofree char *grave = g_strdup_printf("%s.gone.%d", dir, (int)getpid());
    int r = 1;
    retire_run(dir, keep_cgroup);
    if (rename(dir, grave) < 0)
        r = qv_error_set_errno(err, -errno, "cannot remove %s", dir);
    else
        qv_rt_remove_tree(grave);
    qv_rt_unlock(lock);
    if (r > 0 && stopped_detail >= 0)
        qv_rt_emit(p, name, uuid, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_STOPPED,
                   stopped_detail, NULL);
    return r;
}

int qv_rt_finalize_run(const qv_rt_paths *p, const char *name, const char *uuid, const char *run_id,
                       int shutoff_reason, int stopped_detail, qv_error **err)
{
    return finalize_run(p, name, uuid, run_id, shutoff_reason, stopped_detail, false, err);
}

int qv_rt_finalize_run_keep_cgroup(const qv_rt_paths *p, const char *name, const char *uuid,
                                   const char *run_id, int shutoff_reason, int stopped_detail,
                                   qv_error **err)
{
    return finalize_run(p, name, uuid, run_id, shutoff_reason, stopped_detail, true, err);
}

void qv_rt_state_from_runstate(const char *rs, const qv_rt_state *prev, qv_rt_state *out)
{
    int state, reason;
    if (!strcmp(rs, "running")) {
        state = QV_DOMAIN_RUNNING;
        reason = QV_DOMAIN_RUNNING_UNPAUSED;
    } else if (!strcmp(rs, "paused") || !strcmp(rs, "prelaunch") || !strcmp(rs, "debug")) {
        state = QV_DOMAIN_PAUSED;
        reason = QV_DOMAIN_PAUSED_USER;
    } else if (!strcmp(rs, "io-error")) {
        state = QV_DOMAIN_PAUSED;
        reason = QV_DOMAIN_PAUSED_IOERROR;
    } else if (!strcmp(rs, "watchdog")) {
        state = QV_DOMAIN_PAUSED;
        reason = QV_DOMAIN_PAUSED_WATCHDOG;
    } else if (!strcmp(rs, "postmigrate") || !strcmp(rs, "finish-migrate") ||
               !strcmp(rs, "inmigrate")) {
        state = QV_DOMAIN_PAUSED;
        reason = QV_DOMAIN_PAUSED_MIGRATION;
    } else if (!strcmp(rs, "save-vm")) {
        state = QV_DOMAIN_PAUSED;
        reason = QV_DOMAIN_PAUSED_SAVE;
    } else if (!strcmp(rs, "restore-vm")) {
        state = QV_DOMAIN_PAUSED;
        reason = QV_DOMAIN_PAUSED_FROM_SNAPSHOT;
    } else if (!strcmp(rs, "internal-error")) {
        state = QV_DOMAIN_PAUSED;
        reason = QV_DOMAIN_PAUSED_UNKNOWN;
    } else if (!strcmp(rs, "guest-panicked")) {
        state = QV_DOMAIN_CRASHED;
        reason = QV_DOMAIN_CRASHED_PANICKED;
    } else if (!strcmp(rs, "suspended")) {
        state = QV_DOMAIN_PMSUSPENDED;
        reason = QV_DOMAIN_PMSUSPENDED_UNKNOWN;
    } else if (!strcmp(rs, "shutdown")) {
        state = QV_DOMAIN_SHUTDOWN;
        reason = QV_DOMAIN_SHUTDOWN_USER;
    } else {
        state = QV_DOMAIN_NOSTATE;
        reason = 0;
    }
    if (prev && prev->state == state) {
        *out = *prev; /* same category: the writer that knew more wins */
        return;
    }
    out->state = state;
    out->reason = reason;
    out->since_us = qv_rt_now_us();
}

/* Without pidfds, how often qv_rt_wait_exit looks whether the pid is gone. */
#define QV_RT_EXIT_POLL_MS 5

int qv_rt_wait_exit(pid_t pid, unsigned long long start_time, int timeout_ms)
{
    if (!qv_rt_pid_alive(pid, start_time))
        return 0;
    qv_autoclose int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) {
        /* No pidfds (Linux < 5.3): fall back to checking on a short timer.
         * This fallback can go once 5.3 is the oldest supported kernel. */
        long long deadline = g_get_monotonic_time() + (long long)timeout_ms * 1000;
        while (qv_rt_pid_alive(pid, start_time)) {
            if (timeout_ms >= 0 && g_get_monotonic_time() >= deadline)
                return -ETIMEDOUT;
            poll(NULL, 0, QV_RT_EXIT_POLL_MS);
        }
        return 0;
    }
    /* The pid may have been reused between the check and pidfd_open. */
    if (!qv_rt_pid_alive(pid, start_time))
        return 0;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r > 0 ? 0 : -ETIMEDOUT;
}
