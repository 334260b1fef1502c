/* Memory of a domain: the balloon target (set_memory), the maximum, and the
 * balloon's statistics period, live (QMP) and in the config, as libvirt's
 * QEMU driver does. */
#include <errno.h>
#include <string.h>

#include "internal.h"

static int check_memory(const qv_domain *dom, const qv_domdef *def, unsigned long long kib,
                        bool maximum, const char *which, qv_error **err)
{
    if (maximum) {
        if (def->cpu.cells && def->cpu.cells->len)
            return qv_error_set(err, -EINVAL,
                                "domain '%s' has NUMA cells: change the memory of each "
                                "<cell> in its XML instead of the maximum", dom->name);
        return 0;
    }
    if (kib > def->memory_kib)
        return qv_error_set(err, -EINVAL,
                            "cannot set the %s memory of domain '%s' to %llu KiB: its maximum is "
                            "%llu KiB", which, dom->name, kib, def->memory_kib);
    return 0;
}

int qv_domain_set_memory(qv_domain *dom, unsigned long long kib, unsigned int flags,
                         qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_set_memory: dom is required");
    const unsigned int known = QV_DOMAIN_MEM_LIVE | QV_DOMAIN_MEM_CONFIG | QV_DOMAIN_MEM_MAXIMUM;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_domain_set_memory: unsupported flags 0x%x",
                            flags & ~known);
    if (kib == 0 || kib > (1ULL << 42))
        return qv_error_set(err, -EINVAL, "memory size %llu KiB is out of range", kib);
    bool maximum = flags & QV_DOMAIN_MEM_MAXIMUM;
    unsigned int affect = flags & (QV_DOMAIN_MEM_LIVE | QV_DOMAIN_MEM_CONFIG);
    int lock = qv_domain_lock_lifecycle(dom->conn, dom->name, err);
    if (lock < 0)
        return lock;
    g_autoptr(qv_domdef) live = NULL;
    g_autoptr(qv_domdef) cfg = NULL;
    int r = qv_domain_resolve_affect(dom, &affect, err);
    if (r >= 0 && maximum && (affect & QV_DOMAIN_AFFECT_LIVE))
        r = qv_error_set(err, -EINVAL, "cannot change the maximum memory of running domain '%s': "
                         "change the config and restart it", dom->name);
    /* Check everything before changing anything. */
    if (r >= 0 && (affect & QV_DOMAIN_AFFECT_LIVE) && (r = qv_domain_load_def(dom, true, &live, err)) >= 0)
        r = check_memory(dom, live, kib, false, "live", err);
    if (r >= 0 && (affect & QV_DOMAIN_AFFECT_CONFIG) && (r = qv_domain_load_def(dom, false, &cfg, err)) >= 0)
        r = check_memory(dom, cfg, kib, maximum, "configured", err);
    const char *balloon = live ? qv_domdef_balloon_alias(live) : NULL;
    if (r >= 0 && live && !balloon)
        r = qv_error_set(err, -ENOTSUP, "domain '%s' has no virtio memory balloon "
                         "(<memballoon model='virtio'/>) to change its memory while it runs",
                         dom->name);
    if (r >= 0 && live) {
        json_object *args = json_object_new_object();
        json_object_object_add(args, "value", json_object_new_int64((int64_t)(kib * 1024)));
        r = qv_domain_qmp_call(dom, "balloon", args, NULL, err);
        if (r >= 0) {
            live->current_memory_kib = kib;
            r = qv_domain_save_live(dom, live, err);
        }
    }
    if (r >= 0 && cfg) {
        if (maximum) {
            cfg->memory_kib = kib;
            if (cfg->current_memory_kib > kib)
                cfg->current_memory_kib = kib;
        } else {
            cfg->current_memory_kib = kib;
        }
        r = qv_domain_save_config(dom->conn, cfg, err);
    }
    qv_rt_unlock(lock);
    return r < 0 ? r : 0;
}

int qv_domain_set_memory_stats_period(qv_domain *dom, int period, unsigned int flags,
                                      qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_set_memory_stats_period: dom is required");
    const unsigned int known = QV_DOMAIN_AFFECT_LIVE | QV_DOMAIN_AFFECT_CONFIG;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL,
                            "qv_domain_set_memory_stats_period: unsupported flags 0x%x",
                            flags & ~known);
    if (period < 0)
        return qv_error_set(err, -EINVAL, "the memory statistics period must be 0 or more "
                            "seconds, not %d", period);
    int lock = qv_domain_lock_lifecycle(dom->conn, dom->name, err);
    if (lock < 0)
        return lock;
    g_autoptr(qv_domdef) live = NULL;
    g_autoptr(qv_domdef) cfg = NULL;
    int r = qv_domain_resolve_affect(dom, &flags, err);
    if (r >= 0 && (flags & QV_DOMAIN_AFFECT_LIVE))
        r = qv_domain_load_def(dom, true, &live, err);
    if (r >= 0 && (flags & QV_DOMAIN_AFFECT_CONFIG))
        r = qv_domain_load_def(dom, false, &cfg, err);
    if (r >= 0 && ((live && !qv_domdef_balloon_alias(live)) || (cfg && !qv_domdef_balloon_alias(cfg))))
        r = qv_error_set(err, -ENOTSUP, "domain '%s' has no virtio memory balloon "
                         "(<memballoon model='virtio'/>) to collect memory statistics",
                         dom->name);
    if (r >= 0 && live) {
        g_autofree char *path = g_strdup_printf("/machine/peripheral/%s",
                                                qv_domdef_balloon_alias(live));
        json_object *args = json_object_new_object();
        json_object_object_add(args, "path", json_object_new_string(path));
        json_object_object_add(args, "property",
                               json_object_new_string("guest-stats-polling-interval"));
        json_object_object_add(args, "value", json_object_new_int(period));
        r = qv_domain_qmp_call(dom, "qom-set", args, NULL, err);
        if (r >= 0) {
            live->memballoon->stats_period = (unsigned int)period;
            r = qv_domain_save_live(dom, live, err);
        }
    }
    if (r >= 0 && cfg) {
        cfg->memballoon->stats_period = (unsigned int)period;
        r = qv_domain_save_config(dom->conn, cfg, err);
    }
    qv_rt_unlock(lock);
    return r < 0 ? r : 0;
}
