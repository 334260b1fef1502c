/* The typed domain model (libvirt's "Domain XML format").
 *
 * Strings are g_malloc'd (NULL when absent). Device lists are GPtrArrays that
 * own their elements. Tristates use QV_TRI_* (0 = absent). Sizes are KiB
 * unless named otherwise. */
#pragma once

#include <stdbool.h>
#include <glib.h>
#include <json-c/json.h>

#include "domxml.h"

enum { QV_TRI_ABSENT = 0, QV_TRI_ON = 1, QV_TRI_OFF = 2 };

enum { QV_DOMDEF_VIRT_QEMU = 0, QV_DOMDEF_VIRT_KVM = 1 };

enum qv_domdef_lifecycle_action {
    QV_DOMDEF_LIFECYCLE_DESTROY = 0,
    QV_DOMDEF_LIFECYCLE_RESTART,
    QV_DOMDEF_LIFECYCLE_PRESERVE,
    QV_DOMDEF_LIFECYCLE_RENAME_RESTART,
    QV_DOMDEF_LIFECYCLE_COREDUMP_DESTROY,
    QV_DOMDEF_LIFECYCLE_COREDUMP_RESTART,
};

/* ---- device addresses ---------------------------------------------------- */
enum qv_domdef_addr_type {
    QV_ADDR_NONE = 0, QV_ADDR_PCI, QV_ADDR_DRIVE, QV_ADDR_VIRTIO_SERIAL, QV_ADDR_USB,
    QV_ADDR_ISA, QV_ADDR_CCID, QV_ADDR_DIMM,
};

typedef struct qv_domdef_addr {
    int type;
    unsigned int domain, bus, slot, function;   /* pci */
    int multifunction;                          /* tristate */
    unsigned int controller, target, unit;      /* drive (+bus), virtio-serial (+bus, port), ccid (controller, slot) */
    unsigned int port;                          /* virtio-serial port; isa iobase */
    unsigned int irq;                           /* isa */
    char *usb_port;                             /* usb: "1", "1.2" */
    unsigned long long base;                    /* dimm */
} qv_domdef_addr;

/* ---- disks --------------------------------------------------------------- */
enum { QV_DISK_TYPE_FILE = 0, QV_DISK_TYPE_BLOCK, QV_DISK_TYPE_NETWORK, QV_DISK_TYPE_DIR,
       QV_DISK_TYPE_VOLUME, QV_DISK_TYPE_NVME };
enum { QV_DISK_DEVICE_DISK = 0, QV_DISK_DEVICE_CDROM, QV_DISK_DEVICE_FLOPPY, QV_DISK_DEVICE_LUN };
enum { QV_DISK_BUS_NONE = 0, QV_DISK_BUS_VIRTIO, QV_DISK_BUS_SATA, QV_DISK_BUS_IDE,
       QV_DISK_BUS_SCSI, QV_DISK_BUS_USB, QV_DISK_BUS_FDC };

/* A network disk's second and later <host> (gluster, rbd). */
typedef struct qv_domdef_disk_host {
    char *name, *port, *transport, *socket;
} qv_domdef_disk_host;

typedef struct qv_domdef_disk_src qv_domdef_disk_src;
struct qv_domdef_disk_src {
    int type;                 /* QV_DISK_TYPE_* */
    char *format;             /* raw, qcow2 (from driver type / backingStore format) */
    char *path;               /* file, block, dir (volume: see qv_build_ctx.volume_path) */
    char *protocol;           /* network: nbd, iscsi, rbd, gluster, nfs, ssh, http, https, ftp, ftps */
    char *name;               /* network: export name / url path / target[/lun] / pool/image */
    char *host, *port, *transport, *socket;   /* the first <host> */
    GPtrArray *more_hosts;    /* qv_domdef_disk_host, NULL when at most one */
    char *query;
    char *snapshot, *config_file;   /* rbd: <snapshot name>, <config file> */
    char *initiator_iqn;      /* iscsi: <initiator><iqn name> */
    char *nfs_user, *nfs_group;   /* nfs: <identity user group> */
    /* <auth username><secret type usage|uuid/></auth> (rbd, iscsi, curl),
     * in <source> or (older XML) in <disk>, formatted back where it was. */
    char *auth_username, *auth_type, *auth_usage, *auth_uuid;
    bool auth_in_disk;
    /* <encryption format='luks'><secret type='passphrase' usage|uuid/> */
    char *enc_format, *enc_engine, *enc_usage, *enc_uuid;
    bool enc_in_disk;
    int ssl_verify;           /* tristate: https, ftps <ssl verify> */
    unsigned long long readahead, timeout;   /* curl: <readahead size>, <timeout seconds>; 0 unset */
    char *pool, *volume, *volume_mode;       /* volume: <source pool volume mode> */
    char *nvme_type;          /* nvme: <source type='pci'> */
    int nvme_managed;         /* tristate */
    unsigned int nvme_namespace;
    qv_domdef_addr nvme_addr; /* the controller's host PCI address */
    unsigned long long metadata_cache;  /* qcow2 <metadata_cache><max_size>, bytes; 0: QEMU's */
    bool has_backing;         /* a <backingStore> element was given */
    qv_domdef_disk_src *backing;  /* NULL with has_backing: explicitly no backing */
};

typedef struct qv_domdef_iotune {
    unsigned long long total_bytes_sec, read_bytes_sec, write_bytes_sec;
    unsigned long long total_iops_sec, read_iops_sec, write_iops_sec;
    unsigned long long total_bytes_sec_max, read_bytes_sec_max, write_bytes_sec_max;
    unsigned long long total_iops_sec_max, read_iops_sec_max, write_iops_sec_max;
    unsigned long long size_iops_sec;
    char *group_name;
} qv_domdef_iotune;

typedef struct qv_domdef_disk {
    int device;
    qv_domdef_disk_src src;   /* src.path NULL: empty (cdrom/floppy) */
    char *startup_policy;
    char *driver_name, *cache, *io, *discard, *detect_zeroes, *error_policy;
    unsigned int iothread, queues;
    char *target_dev;
    int bus;
    char *model;              /* virtio, virtio-transitional, virtio-non-transitional */
    char *tray;
    int removable;            /* <target removable>, tristate: USB and SCSI disks */
    unsigned int rotation_rate;   /* <target rotation_rate>: 1 (SSD) or RPM; 0 unset */
    bool readonly, shareable, transient;
    char *serial, *wwn, *vendor, *product;
    unsigned int boot_order;
    unsigned int logical_block_size, physical_block_size, discard_granularity;
    unsigned int geo_cyls, geo_heads, geo_secs;   /* <geometry>; 0: unset */
    char *geo_trans;          /* none, lba, auto */
    bool has_iotune;
    qv_domdef_iotune iotune;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_disk;

/* ---- controllers --------------------------------------------------------- */
enum { QV_CTRL_PCI = 0, QV_CTRL_USB, QV_CTRL_SCSI, QV_CTRL_VIRTIO_SERIAL, QV_CTRL_SATA,
       QV_CTRL_IDE, QV_CTRL_CCID, QV_CTRL_FDC };

/* The parser's mark for a controller written without index='...': numbered
 * once all controllers are read, as libvirt does. */
#define QV_CTRL_INDEX_UNSET 0xffffffffu

typedef struct qv_domdef_controller {
    int type;
    unsigned int index;
    char *model;              /* pci-root, pcie-root, pci-bridge, pcie-root-port, ..., piix3-uhci, qemu-xhci, virtio-scsi, ... */
    int ports, vectors, queues;   /* -1: unset */
    int chassis, port, chassis_nr, busnr;   /* pci <target>; -1: unset */
    int numa_node;            /* pci/pcie-expander-bus <target><node>; -1: unset */
    unsigned long long pcihole64_kib;   /* root: <pcihole64>; 0 unset */
    bool has_pcihole64;
    int master_startport;     /* usb companion (<master startport=.../>); -1: none */
    unsigned int iothread;
    char *model_name;         /* pci <model name>: the QEMU device; NULL: derived from model */
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_controller;

/* ---- network interfaces -------------------------------------------------- */
enum { QV_NET_USER = 0, QV_NET_ETHERNET, QV_NET_BRIDGE, QV_NET_NETWORK, QV_NET_CLIENT,
       QV_NET_SERVER, QV_NET_MCAST, QV_NET_UDP, QV_NET_VHOSTUSER, QV_NET_VDPA, QV_NET_DIRECT,
       QV_NET_HOSTDEV };

typedef struct qv_domdef_bandwidth_dir {
    bool set;
    unsigned long long average, peak, burst, floor;
} qv_domdef_bandwidth_dir;

/* A virtio NIC's offloads, <driver><host .../><guest .../></driver>: one
 * tristate each, named in qv_net_offloads (domxml-priv.h). */
enum { QV_NET_HOST_CSUM = 0, QV_NET_HOST_GSO, QV_NET_HOST_TSO4, QV_NET_HOST_TSO6, QV_NET_HOST_ECN,
       QV_NET_HOST_UFO, QV_NET_HOST_MRG_RXBUF, QV_NET_GUEST_CSUM, QV_NET_GUEST_TSO4,
       QV_NET_GUEST_TSO6, QV_NET_GUEST_ECN, QV_NET_GUEST_UFO, QV_NET_N_OFFLOADS };

typedef struct qv_domdef_net {
    int type;
    unsigned char mac[6];
    char *model;
    char *source_bridge, *source_network;
    char *source_address;     /* client, server, mcast, udp: <source address port> */
    unsigned int source_port;
    char *local_address;      /* udp: <source><local address port> */
    unsigned int local_port;
    char *source_path, *source_mode;   /* vhostuser: <source type='unix' path mode> */
    unsigned int reconnect;   /* vhostuser client: seconds; 0 off */
    char *source_dev;         /* vdpa: /dev/vhost-vdpa-N; direct: the host link */
    char *direct_mode;        /* direct: macvtap mode (vepa, bridge, private, passthrough) */
    int trust_guest_rx;       /* tristate trustGuestRxFilters */
    /* <virtualport>: type NULL (untyped, merged with a network's),
     * "openvswitch", "midonet", "802.1Qbg" or "802.1Qbh"; its parameters as
     * given (the 802.1Qbg numbers in decimal, as libvirt writes them) */
    bool vport;
    char *vport_type, *vport_interfaceid, *vport_profileid, *vport_instanceid;
    char *vport_managerid, *vport_typeid, *vport_typeidversion;
    char *teaming_type;       /* persistent, transient */
    char *teaming_persistent; /* transient: the alias of the persistent virtio NIC */
    char *backend_tap, *backend_vhost;   /* <backend>: the tun and vhost-net devices to open */
    int port_isolated;        /* tristate <port isolated> */
    unsigned int coalesce_rx_frames;     /* <coalesce><rx><frames max>; set: coalesce_set */
    bool coalesce_set;
    char *source_portgroup;   /* network: <source portgroup>, kept (no portgroups here) */
    unsigned long long sndbuf;/* <tune><sndbuf>; set: sndbuf_set */
    bool sndbuf_set;
    unsigned int acpi_index;  /* <acpi index>: QEMU's acpi-index; 0 unset */
    qv_domdef_addr host_addr; /* hostdev: the SR-IOV VF (<source><address type='pci'>) */
    int managed;              /* hostdev: tristate managed= (qvirt never rebinds drivers) */
    char *guest_dev;          /* <guest dev>: a container's name for it; kept, unused by QEMU */
    char *backend_domain;     /* <backenddomain name>: Xen's; kept, unused by QEMU (as libvirt) */
    char *ip4_address, *ip6_address;   /* user: <ip family address prefix> */
    unsigned int ip4_prefix, ip6_prefix;
    char *target_dev;
    char *script, *downscript;
    unsigned int mtu;
    qv_domdef_bandwidth_dir inbound, outbound;
    char *link_state;         /* "up", "down" */
    char *driver_name;
    unsigned int queues;
    /* virtio-net tuning on <driver>: txmode (iothread, timer), tristates,
     * ring sizes (0: QEMU's), offloads */
    char *txmode;
    int ioeventfd, event_idx;
    unsigned int rx_queue_size, tx_queue_size;
    int offloads[QV_NET_N_OFFLOADS];
    unsigned int boot_order;
    int rom_bar;              /* tristate */
    char *rom_file;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_net;

/* ---- character devices --------------------------------------------------- */
enum { QV_CHR_SERIAL = 0, QV_CHR_CONSOLE, QV_CHR_PARALLEL, QV_CHR_CHANNEL };
enum { QV_CHR_PTY = 0, QV_CHR_FILE, QV_CHR_UNIX, QV_CHR_TCP, QV_CHR_UDP, QV_CHR_NULL,
       QV_CHR_VC, QV_CHR_STDIO, QV_CHR_PIPE, QV_CHR_DEV, QV_CHR_SPICEVMC, QV_CHR_SPICEPORT,
       QV_CHR_QEMU_VDAGENT };

typedef struct qv_domdef_chr_source {
    int type;
    char *path;               /* file, unix, pipe, dev, pty (live) */
    bool bind;                /* unix/tcp: mode='bind' (server) */
    char *host, *service;     /* tcp; udp connect side */
    char *bind_host, *bind_service;   /* udp */
    bool telnet;              /* tcp protocol type='telnet' */
    int append;               /* tristate, file */
    char *log_file;
    int log_append;
    unsigned int reconnect;   /* seconds; 0 off */
    int tls;                  /* tcp: tristate <source tls>; absent: the host's default
                               * (qv_build_ctx.chardev_tls) */
    char *channel;            /* spiceport: <source channel> */
    int clipboard;            /* qemu-vdagent: tristate <clipboard copypaste> */
    char *mouse_mode;         /* qemu-vdagent: <mouse mode>: client, server */
} qv_domdef_chr_source;

typedef struct qv_domdef_chr {
    int kind;                 /* QV_CHR_SERIAL ... */
    qv_domdef_chr_source src;
    char *target_type;        /* serial: isa-serial, pci-serial, usb-serial; console: serial, virtio; channel: virtio, guestfwd */
    char *target_model;
    char *target_name;        /* channel name */
    char *target_address;     /* guestfwd: the guest-side IPv4 address */
    int target_port;          /* -1: unset; guestfwd: the guest-side port */
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_chr;

/* ---- graphics, video, input, sound, audio -------------------------------- */
enum { QV_GFX_VNC = 0, QV_GFX_SPICE, QV_GFX_EGL_HEADLESS, QV_GFX_SDL, QV_GFX_DBUS };

typedef struct qv_domdef_graphics {
    int type;
    int port;                 /* -1: unset */
    bool autoport;
    int websocket;            /* 0 unset, -1 auto */
    int tls_port;             /* SPICE tlsPort: 0 none, -1 automatic */
    char *listen_type;        /* address, socket, none */
    char *listen_address;
    char *socket;
    char *passwd;             /* reaches QEMU over QMP (set_password), never argv */
    char *passwd_valid_to;    /* passwdValidTo: UTC, YYYY-MM-DDTHH:MM:SS */
    char *connected;          /* keep, disconnect or fail: clients on a change */
    char *keymap;
    char *share_policy;
    char *rendernode;
    int gl;                   /* tristate <gl enable> (dbus, SPICE) */
    char *dbus_address;       /* dbus: the bus to join (D-Bus address) */
    int dbus_p2p;             /* dbus: tristate, peer-to-peer clients over QMP add_client */
    char *default_mode;
    /* SPICE: <channel name mode>, kept as "name=mode" in document order,
     * and its compression and client options (NULL or 0: unset). */
    GPtrArray *spice_channels;
    char *spice_image;        /* <image compression> */
    char *spice_jpeg;         /* <jpeg compression> */
    char *spice_zlib;         /* <zlib compression> */
    int spice_playback;       /* <playback compression>, tristate */
    char *spice_streaming;    /* <streaming mode> */
    int spice_copypaste;      /* <clipboard copypaste>, tristate */
    char *spice_mouse;        /* <mouse mode> */
    int spice_filetransfer;   /* <filetransfer enable>, tristate */
    char *alias;
} qv_domdef_graphics;

typedef struct qv_domdef_video {
    char *model;              /* vga, cirrus, virtio, qxl, bochs, ramfb, none */
    unsigned int vram, ram, vram64, vgamem, heads;
    bool primary;
    int accel3d;              /* tristate */
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_video;

typedef struct qv_domdef_input {
    char *type;               /* tablet, mouse, keyboard, passthrough, evdev */
    char *bus;                /* ps2, usb, virtio */
    char *model;              /* virtio, virtio-non-transitional (virtio bus) */
    char *source_evdev;
    char *grab, *grab_toggle, *repeat;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_input;

typedef struct qv_domdef_sound {
    char *model;              /* ich6, ich9, ac97, es1370, sb16, usb */
    GPtrArray *codecs;        /* char* codec types: duplex, micro, output */
    unsigned int audio_id;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_sound;

/* One direction (<input>, <output>) of an audio backend. */
typedef struct qv_domdef_audio_io {
    int mixing_engine, fixed_settings;        /* tristates */
    unsigned int voices, buffer_length;       /* 0: unset */
    unsigned int frequency, channels;         /* <settings>; 0: unset */
    char *format;                             /* <settings format>: u8, s8, u16, s16, u32, s32, f32 */
    char *dev;                                /* alsa, oss */
    unsigned int buffer_count;                /* oss, sdl */
    int try_poll;                             /* oss; tristate */
    char *name, *stream_name;                 /* pulseaudio */
    unsigned int latency;                     /* pulseaudio, us */
    char *server_name, *client_name, *connect_ports;   /* jack */
    int exact_name;                           /* jack; tristate */
} qv_domdef_audio_io;

typedef struct qv_domdef_audio {
    unsigned int id;
    char *type;               /* none, alsa, dbus, file, jack, oss, pulseaudio, sdl, spice */
    unsigned int timer_period;   /* us; 0: unset */
    qv_domdef_audio_io in, out;
    int try_mmap, exclusive;  /* oss; tristates */
    int dsp_policy;           /* oss; -1: unset */
    char *server_name;        /* pulseaudio */
    char *sdl_driver;         /* sdl: driver attribute, SDL_AUDIODRIVER in QEMU's environment */
    char *path;               /* file: the WAV file */
} qv_domdef_audio;

/* ---- misc devices -------------------------------------------------------- */
typedef struct qv_domdef_memballoon {
    char *model;              /* virtio, none */
    int autodeflate, free_page_reporting;   /* tristate */
    unsigned int stats_period;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_memballoon;

typedef struct qv_domdef_watchdog {
    char *model;              /* i6300esb, ib700, itco */
    char *action;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_watchdog;

typedef struct qv_domdef_rng {
    char *model;              /* virtio */
    char *backend_model;      /* random, builtin, egd */
    char *backend_path;       /* random: /dev/urandom */
    qv_domdef_chr_source *egd;
    unsigned int rate_bytes, rate_period;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_rng;

typedef struct qv_domdef_panic {
    char *model;              /* isa, pci, hyperv */
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_panic;

typedef struct qv_domdef_shmem {
    char *name;
    char *model;              /* ivshmem-plain */
    unsigned long long size_kib;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_shmem;

typedef struct qv_domdef_vsock {
    char *model;              /* virtio, virtio-non-transitional (NULL: virtio) */
    bool auto_cid;
    unsigned int cid;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_vsock;

typedef struct qv_domdef_iommu {
    char *model;              /* intel, virtio */
    int intremap, caching_mode, eim, iotlb;   /* tristate */
    unsigned int aw_bits;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_iommu;

typedef struct qv_domdef_tpm {
    char *model;              /* tpm-tis, tpm-crb */
    char *backend;            /* emulator, passthrough */
    char *version;            /* 2.0, 1.2 */
    char *path;               /* passthrough device */
    char *pcr_banks;          /* <active_pcr_banks>: "sha256,sha384"; NULL: swtpm's */
    char *secret_uuid;        /* <encryption secret>: the vtpm secret whose value is the
                               * passphrase of the state (lib/tpm.c); NULL: unencrypted */
    char *alias;
} qv_domdef_tpm;

typedef struct qv_domdef_smartcard {
    char *mode;               /* host, passthrough */
    qv_domdef_chr_source src;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_smartcard;

typedef struct qv_domdef_redirdev {
    char *bus;                /* usb */
    qv_domdef_chr_source src; /* spicevmc or tcp */
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_redirdev;

typedef struct qv_domdef_hub {
    char *type;               /* usb */
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_hub;

typedef struct qv_domdef_hostdev {
    char *type;               /* usb, pci, scsi, mdev, scsi_host (vhost-scsi) */
    int managed;              /* tristate (pci: libvirt's default is no) */
    unsigned int vendor, product;       /* usb; 0: unset */
    int host_bus, host_device;          /* usb; -1: unset */
    qv_domdef_addr host_addr; /* pci: the host device (type QV_ADDR_PCI) */
    char *driver_name;        /* pci: vfio */
    int rom_bar;              /* pci, mdev: tristate <rom bar> */
    char *rom_file;
    char *scsi_adapter;       /* scsi: <adapter name='scsi_hostN'> */
    qv_domdef_disk_src *iscsi;/* scsi: <source protocol='iscsi'> (a network disk's source:
                               * name target/lun, one <host>, <auth>, <initiator>); else NULL */
    unsigned int scsi_bus, scsi_target, scsi_unit;
    char *sgio, *rawio;       /* scsi: filtered/unfiltered, yes/no */
    bool readonly, shareable; /* scsi */
    char *mdev_uuid;          /* mdev: <source><address uuid> */
    char *mdev_model;         /* mdev: vfio-pci */
    int mdev_display, mdev_ramfb;   /* mdev: tristates */
    char *teaming_persistent; /* pci: <teaming type='transient' persistent=ALIAS> */
    char *vhost_wwpn;         /* scsi_host: <source protocol='vhost' wwpn> */
    char *vhost_model;        /* scsi_host: model (virtio, virtio-transitional, ...) */
    unsigned int boot_order;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_hostdev;

typedef struct qv_domdef_fs {
    char *type;               /* mount */
    char *driver;             /* path */
    char *accessmode;         /* passthrough, mapped, squash */
    char *model;              /* virtio, virtio-transitional, virtio-non-transitional */
    char *source;
    char *target;
    bool readonly;
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_fs;

typedef struct qv_domdef_memdev {
    char *model;              /* dimm, nvdimm, virtio-pmem, virtio-mem */
    char *access;             /* shared, private */
    char *discard;            /* yes, no */
    unsigned long long size_kib;
    int node;                 /* -1: unset */
    char *source_path;        /* nvdimm, virtio-pmem: the backing file */
    bool source_pmem;         /* nvdimm: <source><pmem/> */
    unsigned long long alignsize_kib;   /* nvdimm */
    unsigned long long pagesize_kib;    /* dimm, virtio-mem: <source><pagesize> */
    char *source_nodemask;    /* dimm, virtio-mem: host nodes */
    unsigned long long label_kib;       /* nvdimm <target><label><size> */
    bool readonly;            /* nvdimm <target><readonly/> */
    unsigned long long block_kib, requested_kib;   /* virtio-mem */
    qv_domdef_addr addr;
    char *alias;
} qv_domdef_memdev;

/* ---- domain-level pieces ------------------------------------------------- */
typedef struct qv_domdef_cpu_feature { char *policy; char *name; } qv_domdef_cpu_feature;
typedef struct qv_domdef_numa_cell {
    unsigned int id;
    char *cpus;
    unsigned long long memory_kib;
    char *mem_access;
    char *discard;            /* yes, no */
} qv_domdef_numa_cell;

typedef struct qv_domdef_cpu {
    char *mode;               /* custom, host-model, host-passthrough, maximum; NULL: no <cpu> */
    char *match, *check, *migratable;
    char *model, *model_fallback, *vendor;
    unsigned int sockets, dies, cores, threads;   /* 0: no topology */
    GPtrArray *features;      /* qv_domdef_cpu_feature */
    GPtrArray *cells;         /* qv_domdef_numa_cell */
} qv_domdef_cpu;

typedef struct qv_domdef_timer {
    char *name, *tickpolicy, *track;
    int present;              /* tristate */
} qv_domdef_timer;

typedef struct qv_domdef_feature {
    char *name;               /* hyperv child, or kvm child */
    int state;                /* tristate */
    char *value;              /* spinlocks retries, vendor_id value */
    int direct, extended;     /* tristates: <stimer><direct/>, <tlbflush><direct/><extended/> */
} qv_domdef_feature;

typedef struct qv_domdef_features {
    bool acpi, apic, pae, hap_set, pmu_set, vmcoreinfo, pvspinlock_set, vmport_set, smm_set;
    int hap, pmu, pvspinlock, vmport, smm;   /* tristates */
    bool apic_eoi_set; int apic_eoi;
    char *ioapic_driver;
    bool hyperv;
    char *hyperv_mode;
    GPtrArray *hyperv_features;   /* qv_domdef_feature */
    bool kvm;
    GPtrArray *kvm_features;      /* qv_domdef_feature: hidden, hint-dedicated, poll-control, dirty-ring (value: size) */
} qv_domdef_features;

typedef struct qv_domdef_os {
    char *type;               /* hvm */
    char *arch, *machine;
    char *firmware;
    char *kernel, *initrd, *cmdline, *dtb;
    /* <acpi><table type='slic'>: an extra ACPI table from a file */
    char *acpi_table_type, *acpi_table;
    char *loader, *loader_type, *loader_readonly, *loader_secure;
    char *nvram, *nvram_template;
    int fw_secure_boot, fw_enrolled_keys;   /* tristates: <firmware><feature> */
    GPtrArray *boot_devs;     /* char*: hd, cdrom, network, fd */
    int bootmenu;             /* tristate */
    int bootmenu_timeout;     /* -1: unset */
    int bios_useserial;       /* tristate */
    int bios_reboot_timeout;  /* -1 unset */
    char *smbios_mode;
} qv_domdef_os;

typedef struct qv_domdef_metadata_elem {
    char *uri, *prefix;
    char *xml;                /* the element, serialised with its namespace declaration */
} qv_domdef_metadata_elem;

/* <cputune>, <memtune>, <blkiotune>, <numatune>: typed, no effect on the
 * QEMU command line (cgroups apply them). */
typedef struct qv_domdef_pin {
    unsigned int id;          /* vcpupin vcpu / iothreadpin iothread; unused for emulatorpin */
    char *cpuset;
} qv_domdef_pin;

typedef struct qv_domdef_cputune {
    bool has_shares;
    unsigned long long shares;
    /* periods in us (0: unset, else 1000..1000000); quotas in us (0: unset,
     * negative: unlimited, else 1000..17592186044415) */
    unsigned long long period, global_period, emulator_period, iothread_period;
    long long quota, global_quota, emulator_quota, iothread_quota;
    GPtrArray *vcpupins;      /* qv_domdef_pin, NULL when none */
    char *emulatorpin;        /* cpuset */
    GPtrArray *iothreadpins;  /* qv_domdef_pin, NULL when none */
    GPtrArray *raw_rest;      /* char*: vcpusched, cachetune, ... verbatim, NULL when none */
} qv_domdef_cputune;

#define QV_DOMDEF_MEMTUNE_UNLIMITED 9007199254740991ULL /* KiB, libvirt's "unlimited" */

typedef struct qv_domdef_memtune {
    /* KiB; 0 means unset (QV_DOMDEF_MEMTUNE_UNLIMITED and above are unset too) */
    unsigned long long hard_limit, soft_limit, swap_hard_limit, min_guarantee;
} qv_domdef_memtune;

typedef struct qv_domdef_blkio_device {
    char *path;
    unsigned int weight;      /* 0: unset */
    unsigned long long read_bytes_sec, write_bytes_sec, read_iops_sec, write_iops_sec;
} qv_domdef_blkio_device;

typedef struct qv_domdef_blkiotune {
    unsigned int weight;      /* 0: unset, else 100..1000 */
    GPtrArray *devices;       /* qv_domdef_blkio_device, NULL when none */
} qv_domdef_blkiotune;

typedef struct qv_domdef_hugepage {
    unsigned long long size_kib;   /* 0: the host's default hugepage size */
    char *nodeset;            /* guest NUMA nodes; NULL: all the others */
} qv_domdef_hugepage;

typedef struct qv_domdef_qemu_env {
    char *name, *value;       /* value NULL: set empty */
} qv_domdef_qemu_env;

/* Settings few domains have, kept out of line so qv_domdef stays within
 * glibc's per-thread cache (see qv_domdef_new). Made by
 * qv_domdef_rare_get with its arrays; readers check def->rare. */
typedef struct qv_domdef_rare {
    /* <qemu:commandline> and <qemu:capabilities> (namespace
     * http://libvirt.org/schemas/domain/qemu/1.0): they taint the domain. */
    GPtrArray *qemu_args;     /* char*: appended to QEMU's argv */
    GPtrArray *qemu_env;      /* qv_domdef_qemu_env: added to QEMU's environment */
    GPtrArray *qemu_caps_add, *qemu_caps_del;   /* char*: kept only; qvirt has no capability overrides */
    GPtrArray *mb_pages;      /* qv_domdef_hugepage: <memoryBacking><hugepages><page>s */
    unsigned int mb_alloc_threads;    /* <memoryBacking><allocation threads>; 0: unset */
    unsigned long long clock_start;   /* <clock offset='absolute' start>: seconds since the epoch */
    char *cpu_cache_mode;     /* <cpu><cache mode>: emulate, passthrough, disable */
    int cpu_cache_level;      /* <cache level>: 3 or -1 */
    char *maxphysaddr_mode;   /* <cpu><maxphysaddr mode>: passthrough, emulate */
    int maxphysaddr_bits;     /* -1: unset */
} qv_domdef_rare;

typedef struct qv_domdef_memnode {
    unsigned int cellid;
    char *mode;               /* strict, interleave, preferred, restrictive */
    char *nodeset;
} qv_domdef_memnode;

typedef struct qv_domdef_numatune {
    bool has_memory;
    char *mode;               /* of <memory>: strict (default), interleave, preferred, restrictive */
    char *placement;          /* static or auto */
    char *nodeset;            /* NULL with placement auto */
    GPtrArray *memnodes;      /* qv_domdef_memnode, NULL when none */
} qv_domdef_numatune;

struct qv_domdef {
    int virt_type;
    int id;                   /* runtime: -1 inactive */
    char *name;
    unsigned char uuid[16];
    bool has_genid;
    bool genid_auto;
    unsigned char genid[16];
    char *title, *description;
    GPtrArray *metadata;      /* qv_domdef_metadata_elem */

    unsigned long long memory_kib, current_memory_kib, max_memory_kib;
    unsigned int max_memory_slots;
    /* memoryBacking */
    bool mb_hugepages, mb_nosharepages, mb_locked, mb_discard;
    char *mb_source, *mb_access, *mb_allocation;

    unsigned int vcpus, vcpus_current;
    char *vcpu_placement, *vcpu_cpuset;
    unsigned int iothreads;

    qv_domdef_cputune cputune;
    qv_domdef_memtune memtune;
    qv_domdef_blkiotune blkiotune;
    qv_domdef_numatune numatune;

    /* Elements kept verbatim (no effect on the QEMU command line here). */
    char *raw_vcpus, *raw_iothreadids, *raw_resource, *raw_sysinfo, *raw_perf, *raw_keywrap;
    GPtrArray *seclabels;     /* char*: <seclabel> elements verbatim */

    qv_domdef_os os;
    qv_domdef_features features;
    qv_domdef_cpu cpu;

    char *clock_offset;       /* utc, localtime, timezone, variable, absolute */
    char *clock_timezone, *clock_basis;
    long long clock_adjustment;
    GPtrArray *timers;        /* qv_domdef_timer */

    int on_poweroff, on_reboot, on_crash;
    char *on_lockfailure;

    int pm_suspend_to_mem, pm_suspend_to_disk;   /* tristates */

    char *emulator;
    GPtrArray *disks;         /* qv_domdef_disk */
    GPtrArray *controllers;   /* qv_domdef_controller */
    GPtrArray *nets;          /* qv_domdef_net */
    GPtrArray *chrs;          /* qv_domdef_chr: serial, console, parallel, channel in document order per kind */
    GPtrArray *inputs;
    GPtrArray *graphics;
    GPtrArray *videos;
    GPtrArray *sounds;
    GPtrArray *audios;
    qv_domdef_memballoon *memballoon;   /* always set after parse (model none when disabled) */
    GPtrArray *watchdogs;
    GPtrArray *rngs;
    GPtrArray *panics;
    GPtrArray *shmems;
    qv_domdef_vsock *vsock;
    qv_domdef_iommu *iommu;
    GPtrArray *tpms;
    GPtrArray *smartcards;
    GPtrArray *redirdevs;
    GPtrArray *hubs;
    GPtrArray *hostdevs;
    GPtrArray *filesystems;
    GPtrArray *memdevs;

    qv_domdef_rare *rare;     /* NULL: none of its settings */
};

/* Allocates an empty definition with every list created. */
qv_domdef *qv_domdef_new(void);

/* Frees a qv_domdef_pin (the free function of the pin arrays). */
void qv_domdef_pin_free(void *pin);

/* Cpusets (<vcpu cpuset>, vcpupin, emulatorpin, iothreadpin, numatune
 * nodesets, NUMA cell cpus) hold CPUs or nodes 0 to QV_CPUSET_MAX - 1, like
 * libvirt's VIR_DOMAIN_CPUMASK_LEN. */
#define QV_CPUSET_MAX 16384
/* Parses a libvirt cpuset ("0-3,^2,6") into *out in libvirt's canonical
 * form ("0-1,3,6"; g_free() it). -EINVAL: not a cpuset; -ERANGE: a number
 * is QV_CPUSET_MAX or more; -ENOENT: nothing is selected. */
int qv_cpuset_canonicalise(const char *list, char **out);

/* Small lookups shared by the formatter and the builder. */
const char *qv_domdef_lifecycle_to_string(int action);
bool qv_domdef_is_q35(const qv_domdef *def);
qv_domdef_controller *qv_domdef_find_controller(const qv_domdef *def, int type, unsigned int index);

/* ---- hotplug (hotplug.c) ------------------------------------------------- */
enum qv_domdef_devclass {
    QV_DEVCLASS_NONE = 0, QV_DEVCLASS_DISK, QV_DEVCLASS_NET, QV_DEVCLASS_CHR, QV_DEVCLASS_INPUT,
    QV_DEVCLASS_RNG, QV_DEVCLASS_WATCHDOG,
};

/* One device of a definition; dev points into its class list. */
typedef struct qv_domdef_devref {
    int cls;
    void *dev;
} qv_domdef_devref;

/* One step of a hotplug, in order: opt names the command-line option whose
 * JSON args carries ("-blockdev": blockdev-add, "-device": device_add,
 * "-netdev": netdev_add, "-object": object-add, "-chardev": chardev-add
 * (already in QMP's {"id","backend"} form), "-action": set-action). */
typedef struct qv_hotplug_item {
    char *opt;
    json_object *args;
    int fd;             /* -add-fd: the fd the QMP add-fd passes (owned), else -1 */
} qv_hotplug_item;
void qv_hotplug_item_free(void *p);
/* Whether a disk source names a medium: a path, or a network, volume or
 * NVMe source (which have none). */
bool qv_domdef_disk_src_present(const qv_domdef_disk_src *s);
/* Frees what a disk source holds (also in domxml-priv.h). */
void qv_domdef_disk_src_clear(qv_domdef_disk_src *s);

/* Parses one device element (disk, interface, channel, input, rng or
 * watchdog) as it would sit in def: *ret_def is a copy of def with the
 * device appended and its defaults, alias and address assigned (on q35 a
 * PCI device goes into a free pcie-root-port); *ret_dev points at it inside
 * *ret_def. */
int qv_domxml_parse_device(const char *xml, const qv_domdef *def, qv_domdef **ret_def,
                           qv_domdef_devref *ret_dev, qv_error **err);
/* Parses one device element alone, without defaults (aliases are read), to
 * find a device of a definition with qv_domdef_find_device. */
int qv_domxml_parse_device_match(const char *xml, qv_domdef **ret_holder, qv_domdef_devref *ret_dev,
                                 qv_error **err);
/* The device of def that match describes: the same alias when match has
 * one, else libvirt's keys (disk target, interface MAC, channel name, input
 * type and bus, rng and watchdog model). -ENODEV when none. */
int qv_domdef_find_device(const qv_domdef *def, const qv_domdef_devref *match,
                          qv_domdef_devref *found, qv_error **err);
/* Removes (and frees) the device from def's lists. */
void qv_domdef_remove_device(qv_domdef *def, const qv_domdef_devref *dev);
/* The device's alias (its QEMU id). */
const char *qv_domdef_device_alias(const qv_domdef_devref *dev);
/* The unix socket a VNC or SPICE display listens on (<listen
 * type='socket'>): its socket, else vnc.sock or spice.sock in runtime_dir.
 * NULL for other displays. */
char *qv_domdef_display_socket(const qv_domdef_graphics *g, const char *runtime_dir);
/* Which ports an autoport SPICE display on an address needs, as libvirt's
 * qemuProcessSPICEAllocatePorts decides: a plain one unless only TLS is
 * wanted (defaultMode='secure'), a TLS one when a channel or defaultMode
 * asks for it or spice_tls (qemu.conf) is on. */
void qv_domdef_spice_autoports(const qv_domdef_graphics *g, bool spice_tls, bool *port, bool *tls);

/* When the display's password expires, in seconds since the epoch (UTC),
 * from passwdValidTo; 0 when it never does, -1 when the time is malformed. */
long long qv_domdef_passwd_expiry(const qv_domdef_graphics *g);
/* The QMP steps that add dev (from def) to a running QEMU: the same JSON the
 * argv builder emits. *ret: GPtrArray of qv_hotplug_item. From ctx: the
 * runtime dir, networks, taps and files (see qv_file_opener: files go to
 * QEMU as fds, in "-add-fd" and "-getfd" items first); its monitors are
 * not used. */
int qv_domxml_build_hotplug(const qv_domdef *def, const qv_domdef_devref *dev,
                            const qv_build_ctx *ctx, GPtrArray **ret, qv_error **err);
