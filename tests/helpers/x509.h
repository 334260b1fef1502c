/* x509 credentials for the TLS tests (tests/helpers/x509.c). */
#pragma once

#include <stdbool.h>

/* Makes a CA, and a server certificate for 127.0.0.1 and a client
 * certificate signed by it, in dir (which must exist), in the layout QEMU's
 * tls-creds-x509 and SPICE's x509-dir read: ca-cert.pem, server-cert.pem,
 * server-key.pem, client-cert.pem, client-key.pem. The keys are readable
 * by all: throwaway keys an unprivileged QEMU must read. False, with *why
 * (g_free it; why may be NULL), when certtool (gnutls-bin) is missing or
 * fails. */
bool qvt_make_x509(const char *dir, char **why);
