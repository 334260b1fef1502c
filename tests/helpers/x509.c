/* x509 credentials for the TLS tests: see x509.h. */
#include <sys/stat.h>

#include <glib.h>

#include "qv-process.h"
#include "x509.h"

/* How long one certtool run may take. */
#define QVT_CERTTOOL_MS 30000

static bool run_certtool(const char *const *argv)
{
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    g_autoptr(qv_process) p = NULL;
    int status = -1;
    return qv_process_spawn(&o, &p, NULL) == 0 &&
           qv_process_wait(p, QVT_CERTTOOL_MS, &status, NULL) >= 0 && status == 0;
}

bool qvt_make_x509(const char *dir, char **why)
{
    g_autofree char *certtool = g_find_program_in_path("certtool");
    if (!certtool) {
        if (why)
            *why = g_strdup("needs certtool (gnutls-bin) to make x509 credentials");
        return false;
    }
    static const char *const templates[][2] = {
        { "ca", "cn = qvirt test CA\nca\ncert_signing_key\nexpiration_days = 30\n" },
        { "server", "cn = 127.0.0.1\nip_address = 127.0.0.1\ntls_www_server\nencryption_key\n"
                    "signing_key\nexpiration_days = 30\n" },
        { "client", "cn = qvirt test client\ntls_www_client\nencryption_key\nsigning_key\n"
                    "expiration_days = 30\n" },
    };
    g_autofree char *ca_key = g_build_filename(dir, "ca-key.pem", NULL);
    g_autofree char *ca_cert = g_build_filename(dir, "ca-cert.pem", NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(templates); i++) {
        g_autofree char *info = g_strdup_printf("%s/%s.info", dir, templates[i][0]);
        g_autofree char *key = g_strdup_printf("%s/%s-key.pem", dir, templates[i][0]);
        g_autofree char *cert = g_strdup_printf("%s/%s-cert.pem", dir, templates[i][0]);
        const char *genkey[] = { "certtool", "--generate-privkey", "--outfile", key, NULL };
        const char *self[] = { "certtool", "--generate-self-signed", "--load-privkey", key,
                               "--template", info, "--outfile", cert, NULL };
        const char *sign[] = { "certtool", "--generate-certificate", "--load-privkey", key,
                               "--load-ca-certificate", ca_cert, "--load-ca-privkey", ca_key,
                               "--template", info, "--outfile", cert, NULL };
        if (!g_file_set_contents(info, templates[i][1], -1, NULL) || !run_certtool(genkey) ||
            !run_certtool(i == 0 ? self : sign) || chmod(key, 0644) < 0) {
            if (why)
                *why = g_strdup_printf("certtool could not make %s", cert);
            return false;
        }
    }
    return true;
}
