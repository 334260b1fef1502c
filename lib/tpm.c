/* TPM emulators (tpm.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tpm.h"
#include "qv-fd.h"

struct qv_tpms {
    GArray *qemu_fds;    /* the start's: QEMU's ends go here */
    GArray *state_fds;   /* int: each TPM's state folder, opened */
    GPtrArray *versions; /* "2.0" or "1.2", same order */
    GArray *swtpm_fds;   /* int: swtpm's end of each channel */
    guint next;          /* the TPM qv_tpm_channel serves next */
};

static void close_all(GArray *fds)
{
    for (guint i = 0; fds && i < fds->len; i++)
        close(g_array_index(fds, int, i));
}

void qv_tpms_free(qv_tpms *t)
{
    if (!t)
        return;
    close_all(t->state_fds);
    close_all(t->swtpm_fds);
    g_array_unref(t->state_fds);
    g_array_unref(t->swtpm_fds);
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
 * every start too). */
static int manufacture(const char *state, bool tpm2, const char *pcr_banks, bool reconfigure,
                       qv_error **err)
{
    const char *create[] = { "swtpm_setup", "--tpmstate", state, "--create-ek-cert",
                             "--create-platform-cert", "--lock-nvram", "--not-overwrite",
                             tpm2 ? "--tpm2" : NULL, NULL, NULL, NULL };
    const char *reconf[] = { "swtpm_setup", "--tpmstate", state, "--tpm2", "--reconfigure",
                             "--pcr-banks", pcr_banks, NULL };
    if (tpm2 && pcr_banks) {
        create[8] = "--pcr-banks";
        create[9] = pcr_banks;
    }
    const char *const *argv = reconfigure ? reconf : create;
    g_autofree char *out = NULL;
    g_autoptr(GError) gerr = NULL;
    gint status = 0;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &status, &gerr))
        return qv_error_set(err, -ENOENT, "cannot run swtpm_setup for the TPM state in %s: %s "
                            "(the swtpm-tools package has it)", state, gerr->message);
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_strstrip(out);
        const char *last = strrchr(out, '\n');
        return qv_error_set(err, -EIO, "swtpm_setup could not make the TPM state in %s: %s",
                            state, last ? last + 1 : out);
    }
    return 0;
}

int qv_tpms_prepare(qv_conn *conn, const qv_domdef *def, const qv_qemu_user *user,
                    GArray *qemu_fds, qv_tpms **ret, qv_error **err)
{
    g_autoptr(qv_tpms) t = g_new0(qv_tpms, 1);
    t->qemu_fds = qemu_fds;
    t->state_fds = g_array_new(FALSE, FALSE, sizeof(int));
    t->swtpm_fds = g_array_new(FALSE, FALSE, sizeof(int));
    t->versions = g_ptr_array_new();
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
        if (r >= 0 && !g_file_test(marker, G_FILE_TEST_EXISTS))
            r = manufacture(state, tpm2, tpm->pcr_banks, false, err);
        else if (r >= 0 && tpm2 && tpm->pcr_banks)
            r = manufacture(state, tpm2, tpm->pcr_banks, true, err);
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
        g_ptr_array_add(argv, g_strdup_printf("--swtpm=%s:%d:%d",
                                              (const char *)t->versions->pdata[i], state, chan));
        g_array_append_val(pass, state);
        g_array_append_val(pass, chan);
    }
}
