/* The guest agent's small calls (hostname, fstrim, suspend), wakeup, and the
 * calls QEMU answers trivially or not at all (security label, scheduler
 * type, process signals).
 *
 * Before asking the agent, QEMU's query-chardev says whether the guest has
 * opened the agent's virtio-serial port ("frontend-open"), as libvirt learns
 * from VSERPORT_CHANGE: a guest without a running qemu-ga then gives a quick
 * "not connected" instead of a timeout, and a timeout means an agent that
 * is there but does not answer. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "qvirt/qvirt-console.h"

#define QV_AGENT_TIMEOUT_MS 5000
#define QV_AGENT_PROBE_MS 1000
#define QV_AGENT_FSTRIM_TIMEOUT_MS 120000
/* guest-suspend-* sends no reply when it works; this long without an error
 * reply, the suspend is under way. */
#define QV_AGENT_SUSPEND_REPLY_MS 3000
#define QV_SUSPEND_WAIT_MS 60000
#define QV_WAKEUP_WAIT_MS 30000
/* wait_state looks at the state after 5 ms, then ever less often, up to
 * every 100 ms. */
#define QV_STATE_POLL_MIN_MS 5
#define QV_STATE_POLL_MAX_MS 100

static const char agent_channel_name[] = "org.qemu.guest_agent.0";

/* 1 when the guest has the agent's port open, 0 when not. */
static int agent_frontend_open(qv_domain *dom, const char *alias, qv_error **err)
{
    g_autofree char *label = g_strdup_printf("char%s", alias);
    g_autoptr(json_object) list = NULL;
    int r = qv_domain_qmp_call(dom, "query-chardev", NULL, &list, err);
    if (r < 0)
        return r;
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        json_object *e = json_object_array_get_idx(list, i), *v;
        if (!json_object_object_get_ex(e, "label", &v) || strcmp(json_object_get_string(v), label))
            continue;
        return !json_object_object_get_ex(e, "frontend-open", &v) || json_object_get_boolean(v);
    }
    return 1;
}

/* One agent command (args consumed) after the checks above. QEMU forgets
 * that the port is open when its backend was swapped (a forced channel
 * open), so a closed port is confirmed with a short guest-ping before the
 * agent is declared absent. */
static int guest_agent(qv_domain *dom, const char *cmd, json_object *args, int timeout_ms,
                       json_object **ret, qv_error **err)
{
    int r = qv_domain_require_active(dom, NULL, err);
    const qv_domdef *def = NULL;
    if (r >= 0)
        r = qv_domain_get_def(dom, &def, err);
    if (r < 0) {
        json_object_put(args);
        return r;
    }
    for (guint i = 0; i < def->chrs->len; i++) {
        const qv_domdef_chr *c = def->chrs->pdata[i];
        if (c->kind != QV_CHR_CHANNEL || !c->alias || !c->target_name ||
            strcmp(c->target_name, agent_channel_name))
            continue;
        if ((r = agent_frontend_open(dom, c->alias, err)) < 0) {
            json_object_put(args);
            return r;
        }
        if (r == 0) {
            qv_error *lerr = NULL;
            r = qv_domain_agent_call(dom, "guest-ping", NULL, QV_AGENT_PROBE_MS, NULL, &lerr);
            qv_error_free(lerr);
            if (r < 0) {
                json_object_put(args);
                return qv_error_set(err, -ENOTCONN,
                                    "domain '%s': the guest agent is not connected (qemu-ga is "
                                    "not running in the guest, or has not opened its port)",
                                    dom->name);
            }
        }
        break;
    }
    /* Without a channel, this says so. */
    return qv_domain_agent_call(dom, cmd, args, timeout_ms, ret, err);
}

int qv_domain_get_hostname(qv_domain *dom, unsigned int flags, char **ret, qv_error **err)
{
    if (!dom || !ret)
        return qv_error_set(err, -EINVAL, "qv_domain_get_hostname: dom and ret are required");
    if (flags & ~(unsigned)(QV_DOMAIN_GET_HOSTNAME_LEASE | QV_DOMAIN_GET_HOSTNAME_AGENT))
        return qv_error_set(err, -EINVAL, "qv_domain_get_hostname: unsupported flags 0x%x", flags);
    if ((flags & QV_DOMAIN_GET_HOSTNAME_LEASE) && (flags & QV_DOMAIN_GET_HOSTNAME_AGENT))
        return qv_error_set(err, -EINVAL, "get_hostname: the lease and agent sources exclude "
                            "each other");
    if (flags & QV_DOMAIN_GET_HOSTNAME_LEASE)
        return qv_error_set(err, -ENOTSUP, "hostnames from DHCP leases come from libvirt's "
                            "virtual networks, which qvirt does not run; use the agent source");
    g_autoptr(json_object) reply = NULL;
    int r = guest_agent(dom, "guest-get-host-name", NULL, QV_AGENT_TIMEOUT_MS, &reply, err);
    if (r < 0)
        return r;
    json_object *v;
    if (!reply || !json_object_object_get_ex(reply, "host-name", &v) ||
        !json_object_is_type(v, json_type_string))
        return qv_error_set(err, -EIO, "domain '%s': the guest agent's guest-get-host-name reply "
                            "has no host-name", dom->name);
    *ret = strdup(json_object_get_string(v));
    return 0;
}

int qv_domain_fs_trim(qv_domain *dom, const char *mountpoint, unsigned long long minimum,
                      unsigned int flags, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_fs_trim: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_fs_trim: flags must be 0");
    if (mountpoint)
        return qv_error_set(err, -ENOTSUP, "fs_trim: the guest agent trims every filesystem; "
                            "it cannot be limited to a mount point (%s)", mountpoint);
    json_object *args = NULL;
    if (minimum) {
        args = json_object_new_object();
        json_object_object_add(args, "minimum", json_object_new_int64((int64_t)minimum));
    }
    g_autoptr(json_object) reply = NULL;
    int r = guest_agent(dom, "guest-fstrim", args, QV_AGENT_FSTRIM_TIMEOUT_MS, &reply, err);
    if (r < 0)
        return r;
    /* The agent reports per filesystem; when none could be trimmed, say
     * why in the agent's own words. */
    json_object *paths;
    if (!reply || !json_object_object_get_ex(reply, "paths", &paths) ||
        json_object_array_length(paths) == 0)
        return 0;
    g_autoptr(GString) why = g_string_new(NULL);
    size_t failed = 0, n = json_object_array_length(paths);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(paths, i), *p, *er;
        if (!json_object_object_get_ex(e, "error", &er))
            continue;
        failed++;
        g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "",
                               json_object_object_get_ex(e, "path", &p) ? json_object_get_string(p) : "?",
                               json_object_get_string(er));
    }
    if (failed == n)
        return qv_error_set(err, -EIO, "domain '%s': the guest agent could not trim any "
                            "filesystem: %s", dom->name, why->str);
    return 0;
}

/* Polls the domain state until pred holds or the deadline passes. */
static int wait_state(qv_domain *dom, int want, bool equal, int timeout_ms, int *state)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (int delay = QV_STATE_POLL_MIN_MS;; delay = MIN(delay * 2, QV_STATE_POLL_MAX_MS)) {
        int s = -1;
        if (qv_domain_get_state(dom, &s, NULL, NULL) == 0 && (s == want) == equal) {
            *state = s;
            return 0;
        }
        *state = s;
        if (g_get_monotonic_time() > deadline)
            return -ETIMEDOUT;
        poll(NULL, 0, delay);
    }
}

int qv_domain_pm_suspend_for_duration(qv_domain *dom, unsigned int target,
                                      unsigned long long duration, unsigned int flags,
                                      qv_error **err)
{
    static const char *const cmds[] = { "guest-suspend-ram", "guest-suspend-disk",
                                        "guest-suspend-hybrid" };
    static const char *const words[] = { "memory", "disk", "memory and disk (hybrid)" };
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_pm_suspend_for_duration: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_pm_suspend_for_duration: flags must be 0");
    if (target > QV_NODE_SUSPEND_TARGET_HYBRID)
        return qv_error_set(err, -EINVAL, "pm suspend: unknown target %u (0 mem, 1 disk, "
                            "2 hybrid)", target);
    if (duration)
        return qv_error_set(err, -ENOTSUP, "pm suspend: QEMU has no wake-up timer for a "
                            "duration; use 0 and wake the guest with pm wakeup");
    int state;
    int r = qv_domain_get_state(dom, &state, NULL, err);
    if (r < 0)
        return r;
    if (state == QV_DOMAIN_SHUTOFF)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    if (state == QV_DOMAIN_PMSUSPENDED)
        return qv_error_set(err, -EINVAL, "domain '%s' is already suspended by its guest",
                            dom->name);
    if (state != QV_DOMAIN_RUNNING)
        return qv_error_set(err, -EINVAL, "domain '%s' must be running to suspend its guest",
                            dom->name);
    const qv_domdef *def;
    if ((r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    bool to_mem = target != QV_NODE_SUSPEND_TARGET_DISK;
    bool to_disk = target != QV_NODE_SUSPEND_TARGET_MEM;
    if (to_mem && def->pm_suspend_to_mem == QV_TRI_OFF)
        return qv_error_set(err, -EINVAL, "domain '%s' has suspend-to-mem disabled "
                            "(<pm><suspend-to-mem enabled='no'/></pm>)", dom->name);
    if (to_disk && def->pm_suspend_to_disk == QV_TRI_OFF)
        return qv_error_set(err, -EINVAL, "domain '%s' has suspend-to-disk disabled "
                            "(<pm><suspend-to-disk enabled='no'/></pm>)", dom->name);
    if (to_mem) {
        g_autoptr(json_object) m = NULL;
        json_object *v;
        if ((r = qv_domain_qmp_call(dom, "query-current-machine", NULL, &m, err)) < 0)
            return r;
        if (json_object_object_get_ex(m, "wakeup-suspend-support", &v) &&
            !json_object_get_boolean(v))
            return qv_error_set(err, -ENOTSUP, "the machine of domain '%s' cannot wake a guest "
                                "from suspend to RAM, so QEMU does not offer it", dom->name);
    }
    qv_error *lerr = NULL;
    r = guest_agent(dom, cmds[target], NULL, QV_AGENT_SUSPEND_REPLY_MS, NULL, &lerr);
    if (r < 0 && r != -ETIMEDOUT)
        return qv_error_propagate(err, lerr);
    qv_error_free(lerr);
    /* Suspended to RAM: pmsuspended; to disk: the guest powers off. */
    int want = target == QV_NODE_SUSPEND_TARGET_DISK ? QV_DOMAIN_SHUTOFF : QV_DOMAIN_PMSUSPENDED;
    if (wait_state(dom, want, true, QV_SUSPEND_WAIT_MS, &state) < 0)
        return qv_error_set(err, -ETIMEDOUT, "domain '%s': the guest did not suspend to %s "
                            "within %d s (the guest agent sent no error)", dom->name,
                            words[target], QV_SUSPEND_WAIT_MS / 1000);
    return 0;
}

int qv_domain_pm_wakeup(qv_domain *dom, unsigned int flags, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_pm_wakeup: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_pm_wakeup: flags must be 0");
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0)
        return r;
    if ((r = qv_domain_qmp_call(dom, "system_wakeup", NULL, NULL, err)) < 0)
        return r;
    /* The monitor records the wakeup from QEMU's WAKEUP event. */
    int state;
    if (wait_state(dom, QV_DOMAIN_PMSUSPENDED, false, QV_WAKEUP_WAIT_MS, &state) < 0)
        return qv_error_set(err, -ETIMEDOUT, "domain '%s' was still suspended %d s after "
                            "system_wakeup", dom->name, QV_WAKEUP_WAIT_MS / 1000);
    return 0;
}

/* ---- security, scheduler, signals ------------------------------------------ */

int qv_domain_get_security_label(qv_domain *dom, qv_security_label *label, qv_error **err)
{
    if (!dom || !label)
        return qv_error_set(err, -EINVAL, "qv_domain_get_security_label: dom and label are required");
    const qv_domdef *def;
    int r = qv_domain_get_def(dom, &def, err);
    if (r < 0)
        return r;
    memset(label, 0, sizeof *label);
    g_strlcpy(label->model, "none", sizeof label->model);
    return 0;
}

int qv_domain_get_security_label_list(qv_domain *dom, qv_security_label **labels, qv_error **err)
{
    if (!dom || !labels)
        return qv_error_set(err, -EINVAL,
                            "qv_domain_get_security_label_list: dom and labels are required");
    qv_security_label *l = calloc(1, sizeof *l);
    if (!l)
        return qv_error_set(err, -ENOMEM, "out of memory");
    int r = qv_domain_get_security_label(dom, l, err);
    if (r < 0) {
        free(l);
        return r;
    }
    *labels = l;
    return 1;
}

int qv_domain_get_scheduler_type(qv_domain *dom, int *nparams, char **ret, qv_error **err)
{
    if (!dom || !ret)
        return qv_error_set(err, -EINVAL, "qv_domain_get_scheduler_type: dom and ret are required");
    const qv_domdef *def;
    int r = qv_domain_get_def(dom, &def, err);
    if (r < 0)
        return r;
    /* cpu_shares, vcpu_period, vcpu_quota, emulator_period, emulator_quota,
     * global_period, global_quota, iothread_period, iothread_quota. */
    if (nparams)
        *nparams = 9;
    *ret = strdup("posix");
    return 0;
}

int qv_domain_send_process_signal(qv_domain *dom, long long pid_value, unsigned int signum,
                                  unsigned int flags, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_send_process_signal: dom is required");
    return qv_error_set(err, -ENOTSUP,
                        "sending signals to processes inside the guest is for container drivers; "
                        "QEMU has no such operation (use the guest agent's guest-exec to run kill)");
}
