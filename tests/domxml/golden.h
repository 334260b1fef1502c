/* Shared by the domxml tests: where the golden cases live and how a case is
 * turned into its outputs. */
#pragma once

#include <glib.h>

#include "domxml.h"

#define GOLDEN_MONITOR_FD 3
#define GOLDEN_EVENT_FD 4
#define GOLDEN_RUNTIME_DIR "/run/qvirt/test"

/* The networks the golden cases' host has, as lib/ would resolve them:
 * libvirt's 'default' network on bridge virbr0, and a qvirt entry 'slirp'
 * for user-mode networking. */
extern const qv_network_resolution golden_networks[];
extern const unsigned int golden_n_networks;

/* The firmware descriptors of the golden cases' host (Debian 12's ovmf) and
 * where their NVRAM goes. */
extern const qv_firmware_desc golden_firmware[];
extern const unsigned int golden_n_firmware;
#define GOLDEN_NVRAM_DIR "/var/lib/qvirt/nvram"

/* The golden host's SCSI generic nodes: /dev/sgN for a <hostdev
 * type='scsi'> of unit N (qv_build_ctx.scsi_generic). */
char *golden_scsi_generic(void *data, const struct qv_domdef_hostdev *hostdev, qv_error **err);

/* The golden host's libvirt storage pools: 'default', a dir pool at
 * /var/lib/libvirt/images (or at data, a folder), and no other
 * (qv_build_ctx.volume_path). */
char *golden_volume_path(void *data, const char *pool, const char *volume, bool *block,
                         qv_error **err);

/* The golden host's secret store: the ceph secret 'client.admin secret',
 * the iscsi secret 'libvirtiscsi' and the secret
 * 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f, each as /proc/self/fd/N, N from
 * *data (an int counter, the placeholder opener's) or 100
 * (qv_build_ctx.secret_file). */
char *golden_secret_file(void *data, const char *usage_type, const char *usage, const char *uuid,
                         qv_error **err);

/* The golden host's qemu.conf has spice_tls = 1 for the cases named
 * graphics-spice-tls*, and 0 (libvirt's default) for the others
 * (qv_build_ctx.spice_tls). */
bool golden_spice_tls(const char *name);

/* Directory of tests/domxml/cases. */
char *golden_cases_dir(void);
/* Sorted case names (file names without .xml). */
GPtrArray *golden_list_cases(const char *dir);
/* argv, one element per line. */
char *golden_argv_text(char **argv);
/* argv as sorted "-opt value" pairs, one a line: the same guest, whatever
 * the order the builder wrote its devices in. */
char *golden_sorted_argv(char **argv);
