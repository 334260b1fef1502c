/* Network interfaces of domains: traffic counters and bandwidth limits.
 *
 * Both need the interface's host device: the tap QEMU opened for an
 * <interface type='ethernet'> under its <target dev> name. The counters come
 * from the tap's sysfs statistics, and limits are tc rules on the tap, the
 * ones libvirt's virNetDevBandwidthSet installs: traffic to the guest leaves
 * the host through the tap (an HTB class shapes it), traffic from the guest
 * enters the host there (an ingress policer drops what is over the rate). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "block-priv.h"
#include "qv-process.h"

#define TC_TIMEOUT_MS 10000
/* SIGTERM to SIGKILL for a tc that overran TC_TIMEOUT_MS. */
#define TC_KILL_GRACE_MS 1000

static const char *const net_type_names[] = { "user-mode networking", "an ethernet (tap) "
                                              "device", "a bridge", "a libvirt network" };

static void format_mac(const unsigned char m[6], char out[18])
{
    g_snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* By host device name, MAC address or alias. */
static qv_domdef_net *find_net(qv_domain *dom, const qv_domdef *def, const char *name,
                               qv_error **err)
{
    for (guint i = 0; i < def->nets->len; i++) {
        qv_domdef_net *n = g_ptr_array_index(def->nets, i);
        char mac[18];
        format_mac(n->mac, mac);
        if ((n->target_dev && !strcmp(n->target_dev, name)) || !g_ascii_strcasecmp(mac, name) ||
            (n->alias && !strcmp(n->alias, name)))
            return n;
    }
    qv_error_set(err, -ENOENT, "domain '%s' has no interface '%s' (name it by its host device, "
                 "MAC address or alias)", dom->name, name);
    return NULL;
}

static const char *net_label(const qv_domdef_net *n)
{
    return n->alias ? n->alias : n->target_dev ? n->target_dev : "?";
}

/* The host device of an interface of a running domain. */
static int host_device(qv_domain *dom, const qv_domdef_net *n, const char *what,
                       qv_error **err)
{
    if (n->type == QV_NET_USER)
        return qv_error_set(err, -EOPNOTSUPP, "interface %s uses user-mode networking, which "
                            "has no host device to %s", net_label(n), what);
    if (!n->target_dev)
        return qv_error_set(err, -EOPNOTSUPP, "interface %s of domain '%s' is %s without a "
                            "known host device name (give <target dev='...'/>), so there is "
                            "nothing to %s", net_label(n), dom->name,
                            net_type_names[n->type], what);
    return 0;
}

static int check_args(const char *what, qv_domain *dom, const char *device, const void *p,
                      qv_error **err)
{
    if (!dom || !device || !*device || !p)
        return qv_error_set(err, -EINVAL, "%s: dom, an interface name and the result are "
                            "required", what);
    return 0;
}

/* ---- interface_stats -------------------------------------------------------- */

static int read_counter(const char *dev, const char *name, long long *out, qv_error **err)
{
    g_autofree char *path = g_strdup_printf("/sys/class/net/%s/statistics/%s", dev, name);
    g_autofree char *text = NULL;
    int r = qv_read_file(path, 64, &text, NULL, err);
    if (r < 0)
        return r;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text)
        return qv_error_set(err, -EIO, "%s does not hold a number", path);
    *out = v;
    return 0;
}

int qv_domain_interface_stats(qv_domain *dom, const char *device, qv_interface_stats *stats,
                              qv_error **err)
{
    int r = check_args("qv_domain_interface_stats", dom, device, stats, err);
    const qv_domdef *def;
    if (r < 0 || (r = qv_domain_require_active(dom, NULL, err)) < 0 ||
        (r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    const qv_domdef_net *n = find_net(dom, def, device, err);
    if (!n)
        return -ENOENT;
    if ((r = host_device(dom, n, "read statistics from", err)) < 0)
        return r;
    g_autofree char *dir = g_strdup_printf("/sys/class/net/%s", n->target_dev);
    if (access(dir, F_OK) < 0)
        return qv_error_set(err, -ENODEV, "interface %s of domain '%s': the host device %s "
                            "does not exist", net_label(n), dom->name, n->target_dev);
    /* The tap's receive side is what the guest sent: swap, as libvirt does. */
    static const struct { const char *file; size_t off; } map[] = {
        { "tx_bytes", offsetof(qv_interface_stats, rx_bytes) },
        { "tx_packets", offsetof(qv_interface_stats, rx_packets) },
        { "tx_errors", offsetof(qv_interface_stats, rx_errs) },
        { "tx_dropped", offsetof(qv_interface_stats, rx_drop) },
        { "rx_bytes", offsetof(qv_interface_stats, tx_bytes) },
        { "rx_packets", offsetof(qv_interface_stats, tx_packets) },
        { "rx_errors", offsetof(qv_interface_stats, tx_errs) },
        { "rx_dropped", offsetof(qv_interface_stats, tx_drop) },
    };
    qv_interface_stats s;
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
        if ((r = read_counter(n->target_dev, map[i].file,
                              (long long *)((char *)&s + map[i].off), err)) < 0)
            return r;
    *stats = s;
    return 0;
}

/* ---- bandwidth: the model -------------------------------------------------- */

static void bw_from_domdef(qv_interface_bandwidth *b, const qv_domdef_net *n)
{
    memset(b, 0, sizeof *b);
    b->fields = QV_INTERFACE_BANDWIDTH_ALL;
    if (n->inbound.set) {
        b->inbound_average = n->inbound.average;
        b->inbound_peak = n->inbound.peak;
        b->inbound_burst = n->inbound.burst;
        b->inbound_floor = n->inbound.floor;
    }
    if (n->outbound.set) {
        b->outbound_average = n->outbound.average;
        b->outbound_peak = n->outbound.peak;
        b->outbound_burst = n->outbound.burst;
    }
}

static void bw_to_domdef(qv_domdef_net *n, const qv_interface_bandwidth *b)
{
    n->inbound = (qv_domdef_bandwidth_dir){
        .set = b->inbound_average != 0, .average = b->inbound_average,
        .peak = b->inbound_average ? b->inbound_peak : 0,
        .burst = b->inbound_average ? b->inbound_burst : 0,
    };
    n->outbound = (qv_domdef_bandwidth_dir){
        .set = b->outbound_average != 0, .average = b->outbound_average,
        .peak = b->outbound_average ? b->outbound_peak : 0,
        .burst = b->outbound_average ? b->outbound_burst : 0,
    };
}

static int bw_merge(const qv_domdef_net *n, qv_interface_bandwidth *cur,
                    const qv_interface_bandwidth *p, qv_error **err)
{
    const unsigned int f = p->fields;
    if (f & ~QV_INTERFACE_BANDWIDTH_ALL)
        return qv_error_set(err, -EINVAL, "set_interface_parameters: unknown field bits 0x%x",
                            f & ~QV_INTERFACE_BANDWIDTH_ALL);
    if ((f & QV_INTERFACE_BANDWIDTH_IN_FLOOR) && p->inbound_floor)
        return qv_error_set(err, -EOPNOTSUPP, "interface %s: inbound.floor needs an interface "
                            "on a libvirt network, which qvirt does not have", net_label(n));
#define M(bit, field) if (f & (bit)) cur->field = p->field;
    M(QV_INTERFACE_BANDWIDTH_IN_AVERAGE, inbound_average)
    M(QV_INTERFACE_BANDWIDTH_IN_PEAK, inbound_peak)
    M(QV_INTERFACE_BANDWIDTH_IN_BURST, inbound_burst)
    M(QV_INTERFACE_BANDWIDTH_OUT_AVERAGE, outbound_average)
    M(QV_INTERFACE_BANDWIDTH_OUT_PEAK, outbound_peak)
    M(QV_INTERFACE_BANDWIDTH_OUT_BURST, outbound_burst)
#undef M
    cur->inbound_floor = 0;
    if (!cur->inbound_average && (cur->inbound_peak || cur->inbound_burst) &&
        !(f & QV_INTERFACE_BANDWIDTH_IN_AVERAGE))
        return qv_error_set(err, -EINVAL, "interface %s: inbound peak and burst need an "
                            "inbound average", net_label(n));
    if (!cur->outbound_average && (cur->outbound_peak || cur->outbound_burst) &&
        !(f & QV_INTERFACE_BANDWIDTH_OUT_AVERAGE))
        return qv_error_set(err, -EINVAL, "interface %s: outbound peak and burst need an "
                            "outbound average", net_label(n));
    /* An average of 0 removes the whole direction. */
    if (!cur->inbound_average)
        cur->inbound_peak = cur->inbound_burst = 0;
    if (!cur->outbound_average)
        cur->outbound_peak = cur->outbound_burst = 0;
    const unsigned long long max = 1ULL << 32;  /* tc's rates are 32-bit KiB/s */
    if (cur->inbound_average > max || cur->inbound_peak > max || cur->inbound_burst > max ||
        cur->outbound_average > max || cur->outbound_peak > max || cur->outbound_burst > max)
        return qv_error_set(err, -EINVAL, "interface %s: bandwidth values are limited to %llu",
                            net_label(n), max);
    return 0;
}

/* ---- bandwidth: tc ------------------------------------------------------------ */

static const char *tc_binary(void)
{
    static const char *const candidates[] = { "/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc" };
    for (size_t i = 0; i < G_N_ELEMENTS(candidates); i++)
        if (access(candidates[i], X_OK) == 0)
            return candidates[i];
    return "tc";
}

/* Runs tc with argv (without the program name); its stderr becomes the
 * error message. With may_fail, a failure is not an error (removing rules
 * that are not there). */
static int run_tc(const char *const *args, bool may_fail, qv_error **err)
{
    const char *argv[32] = { tc_binary() };
    size_t n = 1;
    for (; args[n - 1]; n++) {
        g_assert(n + 1 < G_N_ELEMENTS(argv));
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    qv_autoclose int out = memfd_create("tc-stderr", MFD_CLOEXEC);
    if (out < 0)
        return qv_error_set_errno(err, -errno, "cannot create a buffer for tc's output");
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.stderr_fd = out;
    o.stdout_fd = out;
    g_autoptr(qv_process) p = NULL;
    qv_error *lerr = NULL;
    int status = 0;
    g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);
    int r = qv_process_spawn(&o, &p, &lerr);
    if (r < 0) {
        if (r == -ENOENT) {
            qv_error_free(lerr);
            return qv_error_set(err, -ENOENT, "cannot run tc (from iproute2) to set bandwidth "
                                "limits: it is not installed");
        }
        return qv_error_propagate(err, lerr);
    }
    r = qv_process_wait(p, TC_TIMEOUT_MS, &status, &lerr);
    if (r == -ETIMEDOUT) {
        qv_error_free(lerr);
        lerr = NULL;
        qv_process_terminate(p, TC_KILL_GRACE_MS, &status, NULL);
        return qv_error_set(err, -ETIMEDOUT, "'%s' did not finish in %d s", cmdline,
                            TC_TIMEOUT_MS / 1000);
    }
    if (r < 0)
        return qv_error_propagate(err, lerr);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char msg[512] = "";
    ssize_t len = pread(out, msg, sizeof msg - 1, 0);
    if (may_fail)
        return 0;
    msg[len > 0 ? len : 0] = '\0';
    g_strstrip(msg);
    char *nl = strchr(msg, '\n');
    if (nl)
        *nl = '\0';
    return qv_error_set(err, -EIO, "'%s' failed%s%s", cmdline, *msg ? ": " : "", msg);
}

#define TC(...) run_tc((const char *const[]){ __VA_ARGS__, NULL }, false, err)

/* libvirt's virNetDevBandwidthSet: clear, then HTB for inbound and an
 * ingress policer for outbound. tc's "kbps" and "kb" are KiB units. */
static void tc_clear(const char *dev)
{
    run_tc((const char *const[]){ "qdisc", "del", "dev", dev, "root", NULL }, true, NULL);
    run_tc((const char *const[]){ "qdisc", "del", "dev", dev, "ingress", NULL }, true, NULL);
}

static int tc_install(const char *dev, const qv_interface_bandwidth *b, qv_error **err)
{
    int r = 0;
    if (b->inbound_average) {
        g_autofree char *rate = g_strdup_printf("%llukbps", b->inbound_average);
        g_autofree char *ceil = g_strdup_printf("%llukbps", b->inbound_peak ? b->inbound_peak
                                                                             : b->inbound_average);
        g_autofree char *burst = g_strdup_printf("%llukb", b->inbound_burst);
        if ((r = TC("qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1")) < 0)
            return r;
        if (b->inbound_burst)
            r = TC("class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate",
                   rate, "ceil", ceil, "burst", burst);
        else
            r = TC("class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate",
                   rate, "ceil", ceil);
        if (r < 0)
            return r;
        /* SFQ keeps flows fair inside the class, and libvirt's fw filter
         * classifies marked packets; "default 1" already sends everything
         * through the class, so a kernel without sch_sfq or cls_fw still
         * shapes (with the class's FIFO). */
        run_tc((const char *const[]){ "qdisc", "add", "dev", dev, "parent", "1:1", "handle", "2:",
                                      "sfq", "perturb", "10", NULL }, true, NULL);
        run_tc((const char *const[]){ "filter", "add", "dev", dev, "parent", "1:0", "protocol",
                                      "all", "prio", "1", "handle", "1", "fw", "flowid", "1",
                                      NULL }, true, NULL);
    }
    if (b->outbound_average) {
        g_autofree char *rate = g_strdup_printf("%llukbps", b->outbound_average);
        g_autofree char *burst = g_strdup_printf("%llukb", b->outbound_burst ? b->outbound_burst
                                                                             : b->outbound_average);
        if ((r = TC("qdisc", "add", "dev", dev, "ingress")) < 0 ||
            (r = TC("filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all", "u32",
                    "match", "u32", "0", "0", "police", "rate", rate, "burst", burst, "mtu",
                    "64kb", "drop", "flowid", ":1")) < 0)
            return r;
    }
    return 0;
}

/* Replaces the rules of old with those of b; when that fails half-way, the
 * old rules are put back (best effort), so the tap keeps matching the live
 * XML. */
static int tc_apply(const char *dev, const qv_interface_bandwidth *b,
                    const qv_interface_bandwidth *old, qv_error **err)
{
    tc_clear(dev);
    int r = tc_install(dev, b, err);
    if (r < 0) {
        tc_clear(dev);
        tc_install(dev, old, NULL);
    }
    return r;
}

/* ---- get/set_interface_parameters ------------------------------------------- */

int qv_domain_get_interface_parameters(qv_domain *dom, const char *device,
                                       qv_interface_bandwidth *ret, unsigned int flags,
                                       qv_error **err)
{
    int r = check_args("qv_domain_get_interface_parameters", dom, device, ret, err);
    if (r < 0 || (r = qv_blk_resolve_affect(dom, &flags, true, "get_interface_parameters",
                                            err)) < 0)
        return r;
    g_autoptr(qv_domdef) def = NULL;
    r = flags & QV_DOMAIN_AFFECT_CONFIG ? qv_domain_load_config(dom->conn, dom->name, &def, err)
                                        : qv_domain_load_live(dom, &def, err);
    if (r < 0)
        return r;
    const qv_domdef_net *n = find_net(dom, def, device, err);
    if (!n)
        return -ENOENT;
    bw_from_domdef(ret, n);
    return 0;
}

int qv_domain_set_interface_parameters(qv_domain *dom, const char *device,
                                       const qv_interface_bandwidth *params, unsigned int flags,
                                       qv_error **err)
{
    int r = check_args("qv_domain_set_interface_parameters", dom, device, params, err);
    if (r < 0)
        return r;
    int lock = qv_domain_lock_lifecycle(dom->conn, dom->name, err);
    if (lock < 0)
        return lock;
    r = qv_blk_resolve_affect(dom, &flags, false, "set_interface_parameters", err);
    g_autoptr(qv_domdef) live = NULL;
    g_autoptr(qv_domdef) cfg = NULL;
    qv_domdef_net *ln = NULL, *cn = NULL;
    qv_interface_bandwidth lb, lb_old, cb;
    /* Check every requested change before applying any. */
    if (r >= 0 && (flags & QV_DOMAIN_AFFECT_LIVE) && (r = qv_domain_load_live(dom, &live, err)) >= 0) {
        if (!(ln = find_net(dom, live, device, err)))
            r = -ENOENT;
        else if ((r = host_device(dom, ln, "set bandwidth limits on", err)) >= 0) {
            bw_from_domdef(&lb, ln);
            lb_old = lb;
            r = bw_merge(ln, &lb, params, err);
        }
    }
    if (r >= 0 && (flags & QV_DOMAIN_AFFECT_CONFIG) &&
        (r = qv_domain_load_config(dom->conn, dom->name, &cfg, err)) >= 0) {
        if (!(cn = find_net(dom, cfg, device, err))) {
            r = -ENOENT;
        } else {
            bw_from_domdef(&cb, cn);
            r = bw_merge(cn, &cb, params, err);
        }
    }
    if (r >= 0 && live && (r = tc_apply(ln->target_dev, &lb, &lb_old, err)) >= 0) {
        bw_to_domdef(ln, &lb);
        r = qv_domain_save_live(dom, live, err);
    }
    if (r >= 0 && cfg) {
        bw_to_domdef(cn, &cb);
        r = qv_domain_save_config(dom->conn, cfg, err);
    }
    qv_rt_unlock(lock);
    return r < 0 ? r : 0;
}
