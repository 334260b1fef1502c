/* The domain XML layer: libvirt-compatible domain XML parsed into a typed
 * model (domdef.h), formatted back to libvirt XML, and turned into a QEMU 7.2
 * command line. Pure functions over strings and structs: no process or file
 * I/O happens here, which keeps the golden tests trivial. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "qv-error.h"

typedef struct qv_domdef qv_domdef;

/* Same values as QV_DOMAIN_XML_*. */
enum {
    QV_DOMXML_FORMAT_SECURE = 1,
    QV_DOMXML_FORMAT_INACTIVE = 2,
    /* Leave out the devices older libvirt adds by itself (see
     * format-devices.c); implies neither INACTIVE nor SECURE. */
    QV_DOMXML_FORMAT_MIGRATABLE = 8,
};

/* Parse flags. */
enum {
    /* The XML is live status XML written by qv_domxml_format() without
     * INACTIVE: read the id attribute and device aliases too. */
    QV_DOMXML_PARSE_STATUS = 1 << 0,
};

/* Upper bound of an accepted document. */
#define QV_DOMXML_MAX_SIZE (4 * 1024 * 1024)

int qv_domxml_parse(const char *xml, unsigned int flags, qv_domdef **ret, qv_error **err);
/* g_free() the result. */
char *qv_domxml_format(const qv_domdef *def, unsigned int flags);
qv_domdef *qv_domdef_copy(const qv_domdef *def);
/* 0 when dst describes the same guest-visible machine as src (abi.c):
 * what a migration's destination XML may differ in, and what not. */
int qv_domdef_check_abi(const qv_domdef *src, const qv_domdef *dst, qv_error **err);
void qv_domdef_free(qv_domdef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_domdef, qv_domdef_free)

/* A QEMU firmware descriptor (docs/interop/firmware.json), reduced to what
 * autoselection matches on: a "uefi" image mapped as "flash". */
enum {
    QV_FW_FEATURE_SECURE_BOOT = 1 << 0,
    QV_FW_FEATURE_ENROLLED_KEYS = 1 << 1,
    QV_FW_FEATURE_REQUIRES_SMM = 1 << 2,
    QV_FW_FEATURE_ACPI_S3 = 1 << 3,
    QV_FW_FEATURE_ACPI_S4 = 1 << 4,
};
typedef struct qv_firmware_desc {
    const char *name;            /* the descriptor's file name, for messages */
    const char *executable;      /* mapping.executable.filename (raw) */
    const char *nvram_template;  /* mapping.nvram-template.filename (raw) */
    const char *const *machines; /* x86_64 target's machine globs, NULL-terminated */
    unsigned int features;       /* QV_FW_FEATURE_* */
} qv_firmware_desc;

/* True when def leaves the firmware image to autoselection: <os
 * firmware='efi'> or a pflash <loader> without a path. */
bool qv_domdef_firmware_autoselect(const qv_domdef *def);
/* Picks the first of fw[] that fits def (architecture, machine, <firmware>
 * features, <loader secure>, <smm>) and fills def as libvirt 9.0's live XML
 * shows it: <loader readonly='yes' secure type='pflash'>, <nvram template>
 * with the per-domain path under nvram_dir, and <smm state='on'/> when the
 * image requires SMM. A no-op when nothing is to be selected. */
int qv_domdef_fill_firmware(qv_domdef *def, const qv_firmware_desc *fw, unsigned int n_fw,
                            const char *nvram_dir, qv_error **err);
/* The NVRAM file def uses (its <nvram>, else the default under nvram_dir
 * when its UEFI image is autoselected), or NULL. g_free(). */
char *qv_domdef_nvram_path(const qv_domdef *def, const char *nvram_dir);

/* An <interface type='network'> name, resolved by the caller. */
typedef enum { QV_NETWORK_BRIDGE = 1, QV_NETWORK_USER } qv_network_kind;
typedef struct qv_network_resolution {
    const char *name;         /* <source network='...'> */
    qv_network_kind kind;
    const char *bridge;       /* QV_NETWORK_BRIDGE: the host bridge to join */
} qv_network_resolution;

/* A tap device the caller made for an interface (an unprivileged QEMU
 * could not): QEMU gets its fds instead of creating a tap or running the
 * bridge helper. */
typedef struct qv_tap_fds {
    const char *alias;     /* the interface's */
    const char *fds;       /* "N" or "N:M:...": fd numbers, or (hotplug) getfd names */
    const char *vhostfds;  /* the same for vhost=on; NULL: none */
} qv_tap_fds;

/* How QEMU reaches the files it reads and writes by name (disk images,
 * firmware and NVRAM, character device output): with an opener, the caller
 * opens each file and QEMU gets the fd in an fdset ("-add-fd", then
 * "/dev/fdset/N" where the path was), so QEMU needs no rights on the file
 * or its folders: one fd a set, open for what QEMU does with the file.
 * Without an opener, QEMU gets the paths. */
typedef struct qv_file_opener {
    /* Returns an fd (close-on-exec; the caller passes it on), or a
     * negative errno with *err naming the file. flags are open(2)'s. */
    int (*open)(void *data, const char *path, int flags, qv_error **err);
    /* A unix socket QEMU is to listen on: bound and listening at path
     * (replacing a stale one), returned as an fd QEMU gets instead of the
     * path. NULL: QEMU binds the path itself. */
    int (*listen)(void *data, const char *path, qv_error **err);
    /* A unix socket QEMU is to connect to: connected here and passed on.
     * NULL: QEMU connects to the path itself. */
    int (*connect)(void *data, const char *path, qv_error **err);
    void *data;
    unsigned int first_fdset;   /* fdset ids count up from here (> 0) */
} qv_file_opener;

/* An opener that opens nothing: each file and socket gets the next number
 * from *next_fd, for showing the argv a start would run (domxml-to-native,
 * golden tests). */
int qv_file_opener_placeholder(void *data, const char *path, int flags, qv_error **err);
int qv_file_listen_placeholder(void *data, const char *path, qv_error **err);
#define QV_FILE_OPENER_PLACEHOLDER(next_fd)                                                       \
    { .open = qv_file_opener_placeholder, .listen = qv_file_listen_placeholder,                    \
      .connect = qv_file_listen_placeholder, .data = (next_fd), .first_fdset = 1 }

struct qv_domdef_tpm;
struct qv_domdef_hostdev;

typedef struct qv_build_ctx {
    const char *emulator;      /* NULL: def->emulator, else "/usr/bin/qemu-system-x86_64" */
    int monitor_fd;            /* listening unix socket for the command monitor */
    int event_monitor_fd;      /* listening socket of the supervisor's monitor; -1: omit */
    const char *runtime_dir;   /* where generated sockets go */
    /* Listening unix sockets for more command monitors ("lanes"), one
     * client each: a process that leases one talks to QEMU directly. */
    const int *lane_fds;
    unsigned int n_lanes;
    /* What the caller found for each <interface type='network'> name (this
     * layer reads no files): libvirt's network definitions on the host, or
     * qvirt's own name -> bridge/user table. A name missing here is refused. */
    const qv_network_resolution *networks;
    unsigned int n_networks;
    /* QEMU's firmware descriptors, in priority order, as the caller read
     * them (lib/firmware.c); <os firmware='efi'> picks the first match. */
    const qv_firmware_desc *firmware;
    unsigned int n_firmware;
    /* Where a domain's NVRAM goes when <nvram> names no file:
     * <nvram_dir>/<name>_VARS.fd (libvirt: /var/lib/libvirt/qemu/nvram). */
    const char *nvram_dir;
    const qv_file_opener *files; /* NULL: QEMU opens paths itself */
    const qv_tap_fds *taps;      /* interfaces whose tap the caller made */
    unsigned int n_taps;
    /* The caller listens on VNC and SPICE unix sockets itself and hands
     * each client to QEMU (add_client): QEMU then gets a display without a
     * listener (-vnc none, -spice port=0), and needs no rights on the
     * socket's folder. */
    bool display_sockets_by_caller;
    /* A TPM emulator's control channel: the caller starts swtpm on one end
     * of a socket pair and returns the other, which QEMU gets. NULL: QEMU
     * connects to <runtime_dir>/<alias>-swtpm.sock. */
    int (*tpm_channel)(void *data, const struct qv_domdef_tpm *tpm, qv_error **err);
    void *tpm_data;
    /* The /dev/sgN node of a SCSI host device (<hostdev type='scsi'>), as
     * the host's sysfs names it (g_free()), or NULL with *err naming the
     * device. NULL callback: SCSI host devices are refused. */
    char *(*scsi_generic)(void *data, const struct qv_domdef_hostdev *hostdev, qv_error **err);
    void *scsi_data;
    /* The file (or, *block set, the block device) a <disk type='volume'>
     * names: volume of storage pool, as the host's libvirt pool
     * definitions place it (g_free()), or NULL with *err naming the pool.
     * NULL callback: volume disks are refused. */
    char *(*volume_path)(void *data, const char *pool, const char *volume, bool *block, qv_error **err);
    void *volume_data;
    /* A secret of the host's secret store (disk <auth>, LUKS <encryption>)
     * as a file QEMU reads, holding the value base64-encoded (g_free()):
     * the secret has usage type usage_type (ceph, iscsi, volume) and the
     * usage name usage, or the UUID uuid. NULL with *err naming the secret
     * when there is none. NULL callback: disks with secrets are refused
     * (the value never goes on the command line). */
    char *(*secret_file)(void *data, const char *usage_type, const char *usage, const char *uuid,
                         qv_error **err);
    void *secret_data;
    /* TLS on TCP character devices (libvirt's qemu.conf chardev_tls*): the
     * folder of QEMU's x509 credentials (NULL: /etc/pki/qemu), whether a
     * listening one lets clients in without a certificate, and whether a
     * TCP chardev without tls= uses TLS. */
    const char *chardev_tls_x509_dir;
    bool chardev_tls_no_verify;
    bool chardev_tls;
    /* SPICE TLS (libvirt's qemu.conf spice_tls*): whether a SPICE display
     * may have a TLS port (off: a tlsPort, a secure channel or defaultMode
     * is refused, as libvirt refuses them), and the folder of QEMU's x509
     * credentials for it, -spice x509-dir= (NULL: /etc/pki/qemu). */
    const char *spice_tls_x509_dir;
    bool spice_tls;
} qv_build_ctx;

/* *argv_out: NULL-terminated, g_strfreev(). */
int qv_domxml_build_argv(const qv_domdef *def, const qv_build_ctx *ctx, char ***argv_out,
                         qv_error **err);
/* What QEMU's environment gets on top of the clean one (LC_ALL=C, PATH), as
 * "NAME=VALUE" strings in order: TZ for <clock offset='timezone'>,
 * SDL_AUDIODRIVER for an sdl <audio> with a <driver>, then each
 * <qemu:env> (a later one wins). NULL-terminated, g_strfreev(). */
char **qv_domxml_build_env(const qv_domdef *def);
/* The hugetlbfs folders QEMU puts def's guest RAM in (/dev/hugepages,
 * /dev/hugepages1G, ...): they must be mounted when it starts, and reach a
 * private /dev. NULL-terminated, g_strfreev(). */
char **qv_domdef_hugetlbfs_dirs(const qv_domdef *def);
/* Whether def uses libvirt's QEMU namespace (<qemu:commandline>,
 * <qemu:capabilities>): libvirt marks such a domain tainted
 * ("custom-argv"), and qvirt's debug log says so at start. */
bool qv_domdef_tainted_custom_argv(const qv_domdef *def);
/* Shell-quoted, one line, for logs and domxml-to-argv. g_free() the result. */
char *qv_argv_to_shell(const char *const *argv);

/* Metadata helpers; type: 0 description, 1 title, 2 element (QV_DOMAIN_METADATA_*). */
int qv_domdef_get_metadata(const qv_domdef *def, int type, const char *uri, char **ret,
                           qv_error **err);
/* value NULL removes; for an element, value is the XML of one element, stored
 * under namespace uri with prefix key. */
int qv_domdef_set_metadata(qv_domdef *def, int type, const char *value, const char *key,
                           const char *uri, qv_error **err);

void qv_uuid_format(const unsigned char uuid[16], char out[37]);
/* 0, or -EINVAL when s is not a UUID (with or without dashes). */
int qv_uuid_parse(const char *s, unsigned char uuid[16]);
/* Random version 4 UUID. */
void qv_uuid_generate(unsigned char uuid[16]);

/* Escapes a value for a QEMU key=value option: commas are doubled. */
char *qv_qemu_opt_escape(const char *value);
