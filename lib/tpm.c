/* TPM emulators (tpm.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tpm.h"
#include "pool.h"
#include "qv-fd.h"
#include "qv-process.h"
#include "secret.h"

/* How long swtpm_setup may take to manufacture a TPM (its EK and platform
 * certificates need RSA keys; a second or two here). */
#define QV_SWTPM_SETUP_TIMEOUT_MS 120000

struct qv_tpms {
    GArray *qemu_fds;    /* the start's: QEMU's ends go here */
    GArray *state_fds;   /* int: each TPM's state folder, opened */
    GPtrArray *versions; /* "2.0" or "1.2", same order */
    GArray *swtpm_fds;   /* int: swtpm's end of each channel */
    GArray *key_fds;     /* int: per TPM, its passphrase for the state and for
                          * migration (two sealed memfds), or -1 and -1 */
    guint next;          /* the TPM qv_tpm_channel serves next */
};

static void close_all(GArray *fds)
{
    for (guint i = 0; fds && i < fds->len; i++)
        if (g_array_index(fds, int, i) >= 0)
            close(g_array_index(fds, int, i));
}

void qv_tpms_free(qv_tpms *t)
{
    if (!t)
        return;
    close_all(t->state_fds);
    close_all(t->swtpm_fds);
    close_all(t->key_fds);
    g_array_unref(t->state_fds);
    g_array_unref(t->swtpm_fds);
    g_array_unref(t->key_fds);
    g_ptr_array_unref(t->versions);
    g_free(t);
}

char *qv_conn_tpm_dir(qv_conn *conn, const unsigned char uuid[16])
{
    char s[37];
    qv_uuid_format(uuid, s);
    return g_build_filename(conn->paths.config_dir, "swtpm", s, NULL);
}

/* Gives the state folder and its files to QEMU's user (its own state, for
 * good: swtpm writes it). */
static int give_state(const char *dir, const qv_qemu_user *user, qv_error **err)
{
    if (user->uid == (uid_t)-1)
        return 0;
    if (chown(dir, user->uid, user->gid) < 0)
        return qv_error_set_errno(err, -errno, "cannot give %s to QEMU's user", dir);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    for (const char *e; d && (e = g_dir_read_name(d));) {
        g_autofree char *f = g_build_filename(dir, e, NULL);
        if (lchown(f, user->uid, user->gid) < 0)
            return qv_error_set_errno(err, -errno, "cannot give %s to QEMU's user", f);
    }
    return 0;
}

/* The first start manufactures the TPM, as libvirt does (swtpm_setup with
 * an EK and platform certificate, NVRAM locked); with <active_pcr_banks>
 * it activates those banks, and a later start whose banks are set
 * reconfigures the existing state to them (libvirt runs --reconfigure on
 * every start too). key_fd >= 0: the state is encrypted with a key swtpm
 * derives from the passphrase read from it (libvirt 9.0's --pwdfile-fd
 * and --cipher). Runs through the one spawn path, which passes key_fd
 * alone; swtpm_setup's output goes to a memfd, read for its last line. */
static int manufacture(const char *state, bool tpm2, const char *pcr_banks, bool reconfigure,
                       int key_fd, qv_error **err)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    const char *common[] = { "swtpm_setup", "--tpmstate", state, NULL };
    for (const char **a = common; *a; a++)
        g_ptr_array_add(argv, g_strdup(*a));
    if (reconfigure) {
        const char *r[] = { "--tpm2", "--reconfigure", "--pcr-banks", pcr_banks, NULL };
        for (const char **a = r; *a; a++)
            g_ptr_array_add(argv, g_strdup(*a));
    } else {
        const char *c[] = { "--create-ek-cert", "--create-platform-cert", "--lock-nvram",
                            "--not-overwrite", NULL };
        for (const char **a = c; *a; a++)
            g_ptr_array_add(argv, g_strdup(*a));
        if (tpm2)
            g_ptr_array_add(argv, g_strdup("--tpm2"));
        if (tpm2 && pcr_banks) {
            g_ptr_array_add(argv, g_strdup("--pcr-banks"));
            g_ptr_array_add(argv, g_strdup(pcr_banks));
        }
    }
    if (key_fd >= 0) {
        g_ptr_array_add(argv, g_strdup("--pwdfile-fd"));
        g_ptr_array_add(argv, g_strdup_printf("%d", key_fd));
        g_ptr_array_add(argv, g_strdup("--cipher"));
        g_ptr_array_add(argv, g_strdup("aes-256-cbc"));
    }
    g_ptr_array_add(argv, NULL);
    qv_autoclose int out = memfd_create("swtpm_setup-output", MFD_CLOEXEC);
    if (out < 0)
        return qv_error_set_errno(err, -errno, "cannot make a memfd for swtpm_setup's output");
    /* swtpm_setup finds its configuration (and an unprivileged user's
     * certificate authority) through HOME and XDG_CONFIG_HOME. */
    g_autofree char *home = g_getenv("HOME") ? g_strconcat("HOME=", g_getenv("HOME"), NULL) : NULL;
    g_autofree char *xdg = g_getenv("XDG_CONFIG_HOME")
                               ? g_strconcat("XDG_CONFIG_HOME=", g_getenv("XDG_CONFIG_HOME"), NULL) : NULL;
    const char *env[3] = { home ? home : xdg, home ? xdg : NULL, NULL };
    qv_spawn_opts so;
    qv_spawn_opts_init(&so);
    so.argv = (const char *const *)argv->pdata;
    so.env_add = env;
    so.stdout_fd = out;
    so.pass_fds = &key_fd;
    so.n_pass_fds = key_fd >= 0 ? 1 : 0;
    g_autoptr(qv_process) p = NULL;
    g_autoptr(qv_error) e = NULL;
    int status = 0;
    int r = qv_process_spawn(&so, &p, &e);
    if (r < 0)
        return qv_error_set(err, r, "cannot run swtpm_setup for the TPM state in %s: %s "
                            "(the swtpm-tools package has it)", state, qv_error_message(e));
    if ((r = qv_process_wait(p, QV_SWTPM_SETUP_TIMEOUT_MS, &status, &e)) < 0) {
        qv_process_terminate(p, 1000, NULL, NULL);
        return qv_error_set(err, r, "swtpm_setup did not finish making the TPM state in %s: %s",
                            state, qv_error_message(e));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        char buf[4096];
        ssize_t n = pread(out, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = 0;
        g_strstrip(buf);
        const char *last = strrchr(buf, '\n');
        return qv_error_set(err, -EIO, "swtpm_setup could not make the TPM state in %s: %s",
                            state, last ? last + 1 : *buf ? buf : "it failed");
    }
    return 0;
}

/* One passphrase fd for each reader of the vtpm secret's value. */
static int key_fd(const char *secrets, const qv_domdef_tpm *tpm, qv_error **err)
{
    int fd = qv_secret_value_fd(secrets, "vtpm", tpm->secret_uuid, err);
    if (fd < 0 && err && *err)
        qv_error_prefix(*err, "TPM %s's state encryption", tpm->alias ? tpm->alias : "tpm0");
    return fd;
}

int qv_tpms_prepare(qv_conn *conn, const qv_domdef *def, const qv_qemu_user *user,
                    GArray *qemu_fds, qv_tpms **ret, qv_error **err)
{
    g_autoptr(qv_tpms) t = g_new0(qv_tpms, 1);
    t->qemu_fds = qemu_fds;
    t->state_fds = g_array_new(FALSE, FALSE, sizeof(int));
    t->swtpm_fds = g_array_new(FALSE, FALSE, sizeof(int));
    t->key_fds = g_array_new(FALSE, FALSE, sizeof(int));
    t->versions = g_ptr_array_new();
    g_autofree char *secrets = qv_conn_libvirt_dir(conn, "secrets");
    for (guint i = 0; def->tpms && i < def->tpms->len; i++) {
        const qv_domdef_tpm *tpm = def->tpms->pdata[i];
        if (strcmp(tpm->backend, "emulator"))
            continue;
        bool tpm2 = !tpm->version || strcmp(tpm->version, "1.2");
        g_autofree char *top = qv_conn_tpm_dir(conn, def->uuid);
        g_autofree char *state = g_build_filename(top, tpm2 ? "tpm2" : "tpm1.2", NULL);
        int r = qv_rt_mkdirs(state, err);
        g_autofree char *marker = g_build_filename(state, tpm2 ? "tpm2-00.permall" : "tpm-00.permall",
                                                   NULL);
        /* Each encrypted TPM's fds: swtpm_setup's, then swtpm's two. */
        int keys[3] = { -1, -1, -1 };
        for (int k = 0; r >= 0 && tpm->secret_uuid && k < 3; k++)
            if ((keys[k] = key_fd(secrets, tpm, err)) < 0)
                r = keys[k];
        g_array_append_vals(t->key_fds, keys + 1, 2);   /* closed with t */
        if (r >= 0 && !g_file_test(marker, G_FILE_TEST_EXISTS))
            r = manufacture(state, tpm2, tpm->pcr_banks, false, keys[0], err);
        else if (r >= 0 && tpm2 && tpm->pcr_banks)
            r = manufacture(state, tpm2, tpm->pcr_banks, true, keys[0], err);
        if (keys[0] >= 0)
            close(keys[0]);
        if (r >= 0)
            r = give_state(state, user, err);
        if (r < 0)
            return r;
        /* The folder above stays private; swtpm reaches the state through
         * its own fd. */
        int fd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return qv_error_set_errno(err, -errno, "cannot open %s", state);
        g_array_append_val(t->state_fds, fd);
        g_ptr_array_add(t->versions, (gpointer)(tpm2 ? "2.0" : "1.2"));
    }
    *ret = g_steal_pointer(&t);
    return 0;
}

int qv_tpm_channel(void *data, const struct qv_domdef_tpm *tpm, qv_error **err)
{
    qv_tpms *t = data;
    (void)tpm;
    if (t->next >= t->state_fds->len)
        return qv_error_set(err, -EINVAL, "no TPM state was prepared for this TPM");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return qv_error_set_errno(err, -errno, "cannot make the TPM emulator's channel");
    g_array_append_val(t->swtpm_fds, sv[0]);
    g_array_append_val(t->qemu_fds, sv[1]);
    t->next++;
    return sv[1];
}

void qv_tpms_monitor_args(const qv_tpms *t, GPtrArray *argv, GArray *pass)
{
    for (guint i = 0; i < t->swtpm_fds->len; i++) {
        int state = g_array_index(t->state_fds, int, i);
        int chan = g_array_index(t->swtpm_fds, int, i);
        int key = g_array_index(t->key_fds, int, 2 * i), migkey = g_array_index(t->key_fds, int, 2 * i + 1);
        if (key >= 0) {
            g_ptr_array_add(argv, g_strdup_printf("--swtpm=%s:%d:%d:%d:%d", (const char *)t->versions->pdata[i],
                                                  state, chan, key, migkey));
            g_array_append_val(pass, key);
            g_array_append_val(pass, migkey);
        } else {
            g_ptr_array_add(argv, g_strdup_printf("--swtpm=%s:%d:%d",
                                                  (const char *)t->versions->pdata[i], state, chan));
        }
        g_array_append_val(pass, state);
        g_array_append_val(pass, chan);
    }
}
