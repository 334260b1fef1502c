/* The libvirt domain XML parser: document safety checks and the domain-level
 * elements. Devices are in parse-devices.c. */
#include <string.h>
#include <libxml/parser.h>

#include "domxml-priv.h"


static inline bool name_is(const xmlNode *n, const char *name)
{
    return qv_streq((const char *)n->name, name);
}

static int parse_lifecycle(const xmlNode *node, int *out, bool crash, qv_error **err)
{
    g_autofree char *v = qv_xml_text(node);
    static const char *const names[] = {
        "destroy", "restart", "preserve", "rename-restart", "coredump-destroy", "coredump-restart",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (strcmp(v, names[i]) == 0) {
            if (!crash && i >= QV_DOMDEF_LIFECYCLE_COREDUMP_DESTROY)
                break;
            *out = (int)i;
            return 0;
        }
    }
    return qv_xml_error(err, node, "unsupported lifecycle action '%s'", v);
}

/* <hugepages><page size unit nodeset/>...: a page size per set of guest
 * NUMA nodes (checked against the cells in post-parse). */
static int parse_hugepages(qv_domdef *def, const xmlNode *hp, qv_error **err)
{
    for (xmlNode *c = hp->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!name_is(c, "page"))
            return qv_xml_error(err, c, "unknown hugepages element");
        qv_domdef_hugepage *h = g_new0(qv_domdef_hugepage, 1);
        g_ptr_array_add(qv_domdef_rare_get(def)->mb_pages, h);
        g_autofree char *size = qv_xml_prop(c, "size");
        g_autofree char *unit = qv_xml_prop(c, "unit");
        unsigned long long v = 0, mult = 1;
        if (!unit || !strcmp(unit, "KiB") || !strcmp(unit, "k") || !strcmp(unit, "K"))
            mult = 1;
        else if (!strcmp(unit, "MiB") || !strcmp(unit, "M"))
            mult = 1024;
        else if (!strcmp(unit, "GiB") || !strcmp(unit, "G"))
            mult = 1024 * 1024;
        else
            return qv_xml_attr_error(err, c, "unit", "unsupported hugepage size unit '%s'", unit);
        if (!size || qv_parse_uint_str(size, 10, (16ULL << 20) / mult, &v) < 0 || v == 0)
            return qv_xml_attr_error(err, c, "size", "a hugepage needs a size");
        h->size_kib = v * mult;
        if (qv_xml_prop_cpuset(c, "nodeset", "NUMA node", false, &h->nodeset, err) < 0)
            return -EINVAL;
    }
    return 0;
}

static int parse_memory_backing(qv_domdef *def, const xmlNode *mb, qv_error **err)
{
    for (xmlNode *c = mb->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (name_is(c, "hugepages")) {
            def->mb_hugepages = true;
            if (parse_hugepages(def, c, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "nosharepages"))
            def->mb_nosharepages = true;
        else if (name_is(c, "locked"))
            def->mb_locked = true;
        else if (name_is(c, "discard"))
            def->mb_discard = true;
        else if (name_is(c, "source")) {
            static const char *const t[] = { "anonymous", "file", "memfd", NULL };
            if (qv_xml_prop_enum(c, "type", t, &def->mb_source, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "access")) {
            static const char *const t[] = { "shared", "private", NULL };
            if (qv_xml_prop_enum(c, "mode", t, &def->mb_access, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "allocation")) {
            static const char *const t[] = { "immediate", "ondemand", NULL };
            if (qv_xml_prop_enum(c, "mode", t, &def->mb_allocation, err) < 0 ||
                qv_xml_prop_uint(c, "threads", &qv_domdef_rare_get(def)->mb_alloc_threads, err) < 0)
                return -EINVAL;
        } else
            return qv_xml_error(err, c, "unsupported memory backing element");
    }
    return 0;
}

/* <firmware><feature enabled='yes|no' name='secure-boot|enrolled-keys'/>:
 * what autoselection must (or must not) find in the image. */
static int parse_firmware_features(qv_domdef_os *os, const xmlNode *fwn, qv_error **err)
{
    for (xmlNode *c = fwn->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!name_is(c, "feature"))
            return qv_xml_error(err, c, "unknown firmware element");
        g_autofree char *name = qv_xml_prop(c, "name");
        int enabled = QV_TRI_ABSENT;
        if (qv_xml_prop_tristate(c, "enabled", &enabled, err) < 0)
            return -EINVAL;
        if (!name || !enabled)
            return qv_xml_error(err, c, "a firmware feature needs name and enabled attributes");
        if (!strcmp(name, "secure-boot"))
            os->fw_secure_boot = enabled;
        else if (!strcmp(name, "enrolled-keys"))
            os->fw_enrolled_keys = enabled;
        else
            return qv_xml_attr_error(err, c, "name", "unsupported firmware feature '%s' (secure-boot, enrolled-keys)", name);
    }
    if (os->fw_enrolled_keys == QV_TRI_ON && os->fw_secure_boot == QV_TRI_OFF)
        return qv_xml_error(err, fwn, "firmware feature 'enrolled-keys' cannot be enabled when firmware feature 'secure-boot' is disabled");
    return 0;
}

static int parse_os(qv_domdef *def, const xmlNode *osn, qv_error **err)
{
    qv_domdef_os *os = &def->os;
    static const char *const fw[] = { "bios", "efi", NULL };
    if (qv_xml_prop_enum(osn, "firmware", fw, &os->firmware, err) < 0)
        return -EINVAL;
    for (xmlNode *c = osn->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (name_is(c, "type")) {
            qv_set_str(&os->type, qv_xml_text(c));
            qv_set_str(&os->arch, qv_xml_prop(c, "arch"));
            qv_set_str(&os->machine, qv_xml_prop(c, "machine"));
            if (strcmp(os->type, "hvm") != 0)
                return qv_xml_error(err, c, "unsupported OS type '%s' (only hvm)", os->type);
            if (os->arch && strcmp(os->arch, "x86_64") != 0 && strcmp(os->arch, "i686") != 0)
                return qv_xml_attr_error(err, c, "arch", "unsupported architecture '%s' (only x86_64)", os->arch);
            if (os->machine && !g_str_has_prefix(os->machine, "pc") && strcmp(os->machine, "q35"))
                return qv_xml_attr_error(err, c, "machine", "unsupported machine type '%s'", os->machine);
        } else if (name_is(c, "kernel")) {
            qv_set_str(&os->kernel, qv_xml_text(c));
        } else if (name_is(c, "initrd")) {
            qv_set_str(&os->initrd, qv_xml_text(c));
        } else if (name_is(c, "cmdline")) {
            qv_set_str(&os->cmdline, qv_xml_text(c));
        } else if (name_is(c, "dtb")) {
            qv_set_str(&os->dtb, qv_xml_text(c));
        } else if (name_is(c, "loader")) {
            qv_set_str(&os->loader, qv_xml_text(c));
            if (os->loader && !*os->loader)   /* no path: autoselection */
                g_clear_pointer(&os->loader, g_free);
            static const char *const lt[] = { "rom", "pflash", NULL };
            static const char *const yn[] = { "yes", "no", NULL };
            if (qv_xml_prop_enum(c, "type", lt, &os->loader_type, err) < 0 ||
                qv_xml_prop_enum(c, "readonly", yn, &os->loader_readonly, err) < 0 ||
                qv_xml_prop_enum(c, "secure", yn, &os->loader_secure, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "nvram")) {
            qv_set_str(&os->nvram, qv_xml_text(c));
            qv_set_str(&os->nvram_template, qv_xml_prop(c, "template"));
            if (os->nvram && !*os->nvram)
                g_clear_pointer(&os->nvram, g_free);
        } else if (name_is(c, "boot")) {
            static const char *const devs[] = { "hd", "cdrom", "network", "fd", NULL };
            char *dev = NULL;
            int r = qv_xml_prop_enum(c, "dev", devs, &dev, err);
            if (r < 0)
                return r;
            if (r == 0)
                return qv_xml_error(err, c, "missing dev attribute");
            g_ptr_array_add(os->boot_devs, dev);
        } else if (name_is(c, "bootmenu")) {
            if (qv_xml_prop_tristate(c, "enable", &os->bootmenu, err) < 0 ||
                qv_xml_prop_int(c, "timeout", &os->bootmenu_timeout, err) < 0)
                return -EINVAL;
            if (os->bootmenu_timeout > 65535)
                return qv_xml_attr_error(err, c, "timeout", "must be at most 65535 ms");
        } else if (name_is(c, "bios")) {
            if (qv_xml_prop_tristate(c, "useserial", &os->bios_useserial, err) < 0 ||
                qv_xml_prop_int(c, "rebootTimeout", &os->bios_reboot_timeout, err) < 0)
                return -EINVAL;
            if (os->bios_reboot_timeout < -1 || os->bios_reboot_timeout > 65535)
                return qv_xml_attr_error(err, c, "rebootTimeout", "must be between -1 and 65535");
        } else if (name_is(c, "smbios")) {
            static const char *const m[] = { "emulate", "host", "sysinfo", NULL };
            if (qv_xml_prop_enum(c, "mode", m, &os->smbios_mode, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "firmware")) {
            if (parse_firmware_features(os, c, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "acpi")) {
            /* libvirt 9.0 knows one table, the SLIC (Windows OEM activation). */
            for (xmlNode *t = c->children; t; t = t->next) {
                if (t->type != XML_ELEMENT_NODE)
                    continue;
                static const char *const types[] = { "slic", NULL };
                if (!name_is(t, "table"))
                    return qv_xml_error(err, t, "unknown ACPI element");
                if (os->acpi_table)
                    return qv_xml_error(err, t, "only one ACPI table is supported");
                if (qv_xml_prop_enum(t, "type", types, &os->acpi_table_type, err) < 0)
                    return -EINVAL;
                if (!os->acpi_table_type)
                    return qv_xml_error(err, t, "missing table type (slic)");
                qv_set_str(&os->acpi_table, qv_xml_text(t));
                if (!os->acpi_table || !*os->acpi_table)
                    return qv_xml_error(err, t, "an ACPI table needs a file");
            }
        } else if (name_is(c, "init") || name_is(c, "initarg") || name_is(c, "bootloader")) {
            return qv_xml_error(err, c, "container and Xen boot options are not supported by QEMU");
        } else {
            return qv_xml_error(err, c, "unknown OS element");
        }
    }
    if (!os->type) {
        return qv_xml_error(err, osn, "missing <type>hvm</type>");
    }
    return 0;
}

static int parse_feature_list(const xmlNode *parent, GPtrArray *list, const char *const *known,
                              qv_error **err)
{
    for (xmlNode *c = parent->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        bool ok = false;
        for (size_t i = 0; known[i]; i++)
            ok = ok || name_is(c, known[i]);
        if (!ok)
            return qv_xml_error(err, c, "unsupported feature");
        qv_domdef_feature *f = g_new0(qv_domdef_feature, 1);
        qv_set_str(&f->name, g_strdup((const char *)c->name));
        g_ptr_array_add(list, f);
        if (qv_xml_prop_tristate(c, "state", &f->state, err) < 0)
            return -EINVAL;
        qv_set_str(&f->value, qv_xml_prop(c, name_is(c, "spinlocks") ? "retries" :
                                             name_is(c, "dirty-ring") ? "size" : "value"));
        for (xmlNode *sub = c->children; sub; sub = sub->next) {
            if (sub->type != XML_ELEMENT_NODE)
                continue;
            /* libvirt's only sub-features: <stimer><direct/>, <tlbflush><direct/><extended/>. */
            int *slot = name_is(sub, "direct") && (name_is(c, "stimer") || name_is(c, "tlbflush")) ? &f->direct :
                        name_is(sub, "extended") && name_is(c, "tlbflush") ? &f->extended : NULL;
            if (!slot)
                return qv_xml_error(err, sub, "unsupported Hyper-V sub-feature");
            if (qv_xml_prop_tristate(sub, "state", slot, err) < 0)
                return -EINVAL;
            if (*slot == QV_TRI_ABSENT)
                return qv_xml_attr_error(err, sub, "state", "is required");
        }
        if (name_is(c, "spinlocks") && f->state != QV_TRI_OFF) {
            unsigned long long retries = 0;
            if (!f->value || qv_parse_uint_str(f->value, 0, 0xffffffffULL, &retries) < 0)
                return qv_xml_attr_error(err, c, "retries", "must be a number of retries");
            if (retries < 4095)
                return qv_xml_attr_error(err, c, "retries", "must be at least 4095");
        }
        if (name_is(c, "dirty-ring") && f->state == QV_TRI_ON) {
            /* libvirt's default ring, in entries per vCPU. */
            if (!f->value)
                f->value = g_strdup("4096");
            unsigned long long size = 0;
            if (qv_parse_uint_str(f->value, 10, 65536, &size) < 0 || size < 1024 || (size & (size - 1)))
                return qv_xml_attr_error(err, c, "size", "the dirty ring size must be a power of 2 from 1024 to 65536");
        } else if (name_is(c, "dirty-ring") && f->value) {
            return qv_xml_attr_error(err, c, "size", "a dirty ring size needs state='on'");
        }
        if (name_is(c, "vendor_id") && f->state != QV_TRI_OFF &&
            (!f->value || !*f->value || strlen(f->value) > 12))
            return qv_xml_attr_error(err, c, "value", "must be 1 to 12 characters");
    }
    return 0;
}

static int parse_features(qv_domdef *def, const xmlNode *fn, qv_error **err)
{
    qv_domdef_features *f = &def->features;
    static const char *const hv[] = {
        "relaxed", "vapic", "spinlocks", "vpindex", "runtime", "synic", "stimer", "reset",
        "vendor_id", "frequencies", "reenlightenment", "tlbflush", "ipi", "evmcs", "avic",
        "emsr_bitmap", "xmm_input", NULL,
    };
    static const char *const kvm[] = { "hidden", "hint-dedicated", "poll-control", "pv-ipi",
                                       "dirty-ring", NULL };
    for (xmlNode *c = fn->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        int tri = QV_TRI_ON;
        if (name_is(c, "acpi"))
            f->acpi = true;
        else if (name_is(c, "apic")) {
            f->apic = true;
            if (qv_xml_prop_tristate(c, "eoi", &f->apic_eoi, err) < 0)
                return -EINVAL;
            f->apic_eoi_set = f->apic_eoi != QV_TRI_ABSENT;
        } else if (name_is(c, "pae"))
            f->pae = true;
        else if (name_is(c, "vmcoreinfo")) {
            if (qv_xml_prop_tristate(c, "state", &tri, err) < 0)
                return -EINVAL;
            f->vmcoreinfo = tri != QV_TRI_OFF;
        } else if (name_is(c, "hap") || name_is(c, "pmu") || name_is(c, "pvspinlock") ||
                   name_is(c, "vmport") || name_is(c, "smm")) {
            if (qv_xml_prop_tristate(c, "state", &tri, err) < 0)
                return -EINVAL;
            if (name_is(c, "hap")) { f->hap_set = true; f->hap = tri; }
            else if (name_is(c, "pmu")) { f->pmu_set = true; f->pmu = tri; }
            else if (name_is(c, "pvspinlock")) { f->pvspinlock_set = true; f->pvspinlock = tri; }
            else if (name_is(c, "vmport")) { f->vmport_set = true; f->vmport = tri; }
            else { f->smm_set = true; f->smm = tri; }
        } else if (name_is(c, "ioapic")) {
            static const char *const d[] = { "qemu", "kvm", NULL };
            if (qv_xml_prop_enum(c, "driver", d, &f->ioapic_driver, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "hyperv")) {
            f->hyperv = true;
            static const char *const m[] = { "custom", "passthrough", NULL };
            if (qv_xml_prop_enum(c, "mode", m, &f->hyperv_mode, err) < 0 ||
                parse_feature_list(c, f->hyperv_features, hv, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "kvm")) {
            f->kvm = true;
            if (parse_feature_list(c, f->kvm_features, kvm, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "privnet") || name_is(c, "viridian") || name_is(c, "htm") ||
                   name_is(c, "msrs") || name_is(c, "capabilities")) {
            /* Harmless here: Xen/PPC/LXC features QEMU x86 has no use for. */
            return qv_xml_error(err, c, "feature not supported for QEMU x86 guests");
        } else {
            return qv_xml_error(err, c, "unsupported feature");
        }
    }
    return 0;
}

static int parse_cpu(qv_domdef *def, const xmlNode *cn, qv_error **err)
{
    qv_domdef_cpu *cpu = &def->cpu;
    static const char *const modes[] = { "custom", "host-model", "host-passthrough", "maximum", NULL };
    static const char *const matches[] = { "minimum", "exact", "strict", NULL };
    static const char *const checks[] = { "none", "partial", "full", NULL };
    static const char *const onoff[] = { "on", "off", NULL };
    if (qv_xml_prop_enum(cn, "mode", modes, &cpu->mode, err) < 0 ||
        qv_xml_prop_enum(cn, "match", matches, &cpu->match, err) < 0 ||
        qv_xml_prop_enum(cn, "check", checks, &cpu->check, err) < 0 ||
        qv_xml_prop_enum(cn, "migratable", onoff, &cpu->migratable, err) < 0)
        return -EINVAL;
    if (!cpu->mode)
        qv_set_str(&cpu->mode, g_strdup("custom"));
    for (xmlNode *c = cn->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (name_is(c, "model")) {
            qv_set_str(&cpu->model, qv_xml_text(c));
            static const char *const fb[] = { "allow", "forbid", NULL };
            if (qv_xml_prop_enum(c, "fallback", fb, &cpu->model_fallback, err) < 0)
                return -EINVAL;
            if (!*cpu->model)
                g_clear_pointer(&cpu->model, g_free);
        } else if (name_is(c, "vendor")) {
            qv_set_str(&cpu->vendor, qv_xml_text(c));
        } else if (name_is(c, "topology")) {
            cpu->dies = 1;
            if (qv_xml_prop_uint(c, "sockets", &cpu->sockets, err) < 0 ||
                qv_xml_prop_uint(c, "dies", &cpu->dies, err) < 0 ||
                qv_xml_prop_uint(c, "cores", &cpu->cores, err) < 0 ||
                qv_xml_prop_uint(c, "threads", &cpu->threads, err) < 0)
                return -EINVAL;
            if (!cpu->sockets || !cpu->dies || !cpu->cores || !cpu->threads)
                return qv_xml_error(err, c, "sockets, cores and threads must all be at least 1");
        } else if (name_is(c, "feature")) {
            qv_domdef_cpu_feature *f = g_new0(qv_domdef_cpu_feature, 1);
            g_ptr_array_add(cpu->features, f);
            static const char *const pol[] = { "force", "require", "optional", "disable", "forbid", NULL };
            if (qv_xml_prop_enum(c, "policy", pol, &f->policy, err) < 0)
                return -EINVAL;
            qv_set_str(&f->name, qv_xml_prop(c, "name"));
            if (!f->name || !*f->name || strpbrk(f->name, ",= "))
                return qv_xml_error(err, c, "missing or invalid feature name");
            if (!f->policy)
                qv_set_str(&f->policy, g_strdup("require"));
        } else if (name_is(c, "numa")) {
            for (xmlNode *cell = c->children; cell; cell = cell->next) {
                if (cell->type != XML_ELEMENT_NODE)
                    continue;
                if (!name_is(cell, "cell"))
                    return qv_xml_error(err, cell, "unsupported NUMA element");
                qv_domdef_numa_cell *nc = g_new0(qv_domdef_numa_cell, 1);
                g_ptr_array_add(cpu->cells, nc);
                nc->id = cpu->cells->len - 1;
                if (qv_xml_prop_uint(cell, "id", &nc->id, err) < 0)
                    return -EINVAL;
                if (qv_xml_prop_cpuset(cell, "cpus", "CPU", true, &nc->cpus, err) < 0)
                    return -EINVAL;
                g_autofree char *mem = qv_xml_prop(cell, "memory");
                g_autofree char *unit = qv_xml_prop(cell, "unit");
                unsigned long long m;
                if (!mem || qv_parse_uint_str(mem, 10, ULLONG_MAX / 1024, &m) < 0)
                    return qv_xml_attr_error(err, cell, "memory", "missing or invalid size");
                if (unit && strcmp(unit, "KiB") && strcmp(unit, "k")) {
                    if (!strcmp(unit, "MiB") || !strcmp(unit, "M"))
                        m *= 1024;
                    else if (!strcmp(unit, "GiB") || !strcmp(unit, "G"))
                        m *= 1024 * 1024;
                    else
                        return qv_xml_attr_error(err, cell, "unit", "unsupported unit '%s'", unit);
                }
                nc->memory_kib = m;
                static const char *const ma[] = { "shared", "private", NULL };
                static const char *const yn[] = { "yes", "no", NULL };
                if (qv_xml_prop_enum(cell, "memAccess", ma, &nc->mem_access, err) < 0 ||
                    qv_xml_prop_enum(cell, "discard", yn, &nc->discard, err) < 0)
                    return -EINVAL;
            }
        } else if (name_is(c, "cache")) {
            qv_domdef_rare *r = qv_domdef_rare_get(def);
            static const char *const cm[] = { "emulate", "passthrough", "disable", NULL };
            if (qv_xml_prop_enum(c, "mode", cm, &r->cpu_cache_mode, err) < 0 ||
                qv_xml_prop_int(c, "level", &r->cpu_cache_level, err) < 0)
                return -EINVAL;
            if (!r->cpu_cache_mode)
                return qv_xml_attr_error(err, c, "mode", "a CPU cache needs a mode (emulate, passthrough or disable)");
            if (!strcmp(r->cpu_cache_mode, "emulate") && r->cpu_cache_level != 3)
                return qv_xml_attr_error(err, c, "level", "CPU cache mode 'emulate' needs level='3'");
            if (strcmp(r->cpu_cache_mode, "emulate") && r->cpu_cache_level != -1)
                return qv_xml_attr_error(err, c, "level", "CPU cache mode '%s' takes no level", r->cpu_cache_mode);
        } else if (name_is(c, "maxphysaddr")) {
            qv_domdef_rare *r = qv_domdef_rare_get(def);
            static const char *const pm[] = { "passthrough", "emulate", NULL };
            if (qv_xml_prop_enum(c, "mode", pm, &r->maxphysaddr_mode, err) < 0 ||
                qv_xml_prop_int(c, "bits", &r->maxphysaddr_bits, err) < 0)
                return -EINVAL;
            if (!r->maxphysaddr_mode)
                return qv_xml_attr_error(err, c, "mode", "maxphysaddr needs a mode (passthrough or emulate)");
            if (!strcmp(r->maxphysaddr_mode, "emulate") && r->maxphysaddr_bits == -1)
                return qv_xml_attr_error(err, c, "bits", "maxphysaddr mode 'emulate' needs bits");
            /* QEMU 7.2's x86 range, so a bad value fails here rather than at start. */
            if (r->maxphysaddr_bits != -1 && (r->maxphysaddr_bits < 32 || r->maxphysaddr_bits > 52))
                return qv_xml_attr_error(err, c, "bits", "maxphysaddr bits must be between 32 and 52");
        } else {
            return qv_xml_error(err, c, "unknown CPU element");
        }
    }
    if (strcmp(cpu->mode, "custom") == 0 && !cpu->model && cpu->features->len)
        return qv_xml_error(err, cn, "CPU features need a <model>");
    bool host_cpu = !strcmp(cpu->mode, "host-passthrough") || !strcmp(cpu->mode, "maximum");
    const qv_domdef_rare *r = def->rare;
    if (r && r->cpu_cache_mode && !strcmp(r->cpu_cache_mode, "passthrough") && !host_cpu)
        return qv_xml_error(err, qv_xml_child(cn, "cache"), "CPU cache mode 'passthrough' needs a host-passthrough or maximum CPU");
    if (r && r->maxphysaddr_mode && !strcmp(r->maxphysaddr_mode, "passthrough") &&
        strcmp(cpu->mode, "host-passthrough"))
        return qv_xml_error(err, qv_xml_child(cn, "maxphysaddr"), "maxphysaddr mode 'passthrough' needs a host-passthrough CPU");
    return 0;
}

static int parse_clock(qv_domdef *def, const xmlNode *cn, qv_error **err)
{
    static const char *const offs[] = { "utc", "localtime", "timezone", "variable", "absolute", NULL };
    if (qv_xml_prop_enum(cn, "offset", offs, &def->clock_offset, err) < 0)
        return -EINVAL;
    if (def->clock_offset && !strcmp(def->clock_offset, "absolute")) {
        /* A fixed guest start time; QEMU's -rtc base=ISO time covers years 1970 to 9999. */
        g_autofree char *start = qv_xml_prop(cn, "start");
        if (!start || qv_parse_uint_str(start, 10, 253402300799ULL, &qv_domdef_rare_get(def)->clock_start) < 0)
            return qv_xml_attr_error(err, cn, "start", "offset 'absolute' needs start, in seconds since the epoch");
    }
    qv_set_str(&def->clock_timezone, qv_xml_prop(cn, "timezone"));
    qv_set_str(&def->clock_basis, qv_xml_prop(cn, "basis"));
    g_autofree char *adj = qv_xml_prop(cn, "adjustment");
    if (adj && strcmp(adj, "reset") != 0) {
        char *end;
        def->clock_adjustment = g_ascii_strtoll(adj, &end, 10);
        if (*end || end == adj)
            return qv_xml_attr_error(err, cn, "adjustment", "'%s' is not an integer", adj);
    }
    if (def->clock_offset && strcmp(def->clock_offset, "timezone") == 0 && !def->clock_timezone)
        return qv_xml_error(err, cn, "offset 'timezone' needs a timezone attribute");
    for (xmlNode *c = cn->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!name_is(c, "timer"))
            return qv_xml_error(err, c, "unknown clock element");
        static const char *const names[] = { "platform", "pit", "rtc", "hpet", "tsc", "kvmclock",
                                             "hypervclock", "armvtimer", NULL };
        static const char *const tp[] = { "delay", "catchup", "merge", "discard", NULL };
        static const char *const tr[] = { "boot", "guest", "wall", "realtime", NULL };
        qv_domdef_timer *t = g_new0(qv_domdef_timer, 1);
        g_ptr_array_add(def->timers, t);
        if (qv_xml_prop_enum(c, "name", names, &t->name, err) < 0 ||
            qv_xml_prop_enum(c, "tickpolicy", tp, &t->tickpolicy, err) < 0 ||
            qv_xml_prop_enum(c, "track", tr, &t->track, err) < 0 ||
            qv_xml_prop_tristate(c, "present", &t->present, err) < 0)
            return -EINVAL;
        if (!t->name)
            return qv_xml_error(err, c, "missing timer name");
        if (!strcmp(t->name, "armvtimer") || !strcmp(t->name, "platform"))
            return qv_xml_error(err, c, "timer '%s' is not supported for QEMU x86 guests", t->name);
    }
    return 0;
}

static int parse_vcpu(qv_domdef *def, const xmlNode *vn, qv_error **err)
{
    g_autofree char *text = qv_xml_text(vn);
    unsigned long long v;
    if (qv_parse_uint_str(text, 10, 4096, &v) < 0)
        return qv_xml_error(err, vn, "'%s' is not a vCPU count between 1 and 4096", text);
    if (v == 0)
        return qv_xml_error(err, vn, "a domain needs at least 1 vCPU");
    def->vcpus = (unsigned int)v;
    static const char *const pl[] = { "static", "auto", NULL };
    if (qv_xml_prop_enum(vn, "placement", pl, &def->vcpu_placement, err) < 0 ||
        qv_xml_prop_uint(vn, "current", &def->vcpus_current, err) < 0)
        return -EINVAL;
    if (qv_xml_prop_cpuset(vn, "cpuset", "CPU", false, &def->vcpu_cpuset, err) < 0)
        return -EINVAL;
    if (def->vcpus_current > def->vcpus)
        return qv_xml_attr_error(err, vn, "current", "%u exceeds the maximum of %u vCPUs",
                                 def->vcpus_current, def->vcpus);
    return 0;
}

#define QV_QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

static bool env_name_valid(const char *n)
{
    if (!n || !(g_ascii_isalpha(*n) || *n == '_'))
        return false;
    for (; *n; n++)
        if (!g_ascii_isalnum(*n) && *n != '_')
            return false;
    return true;
}

/* libvirt's QEMU namespace: <qemu:commandline> (<qemu:arg value>,
 * <qemu:env name value>) and <qemu:capabilities> (<qemu:add capability>,
 * <qemu:del capability>). Repeated elements add up, as in libvirt. */
static int parse_qemu_ns(qv_domdef *def, const xmlNode *n, qv_error **err)
{
    bool cmdline = name_is(n, "commandline");
    if (!cmdline && !name_is(n, "capabilities"))
        return qv_xml_error(err, n, "QEMU namespace element not supported by qvirt (only commandline and capabilities)");
    qv_domdef_rare *ns = qv_domdef_rare_get(def);
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!c->ns || strcmp((const char *)c->ns->href, QV_QEMU_NS))
            return qv_xml_error(err, c, "unknown element in the QEMU namespace");
        if (cmdline && name_is(c, "arg")) {
            char *v = qv_xml_prop(c, "value");
            if (!v)
                return qv_xml_attr_error(err, c, "value", "a QEMU command-line argument needs a value");
            g_ptr_array_add(ns->qemu_args, v);
        } else if (cmdline && name_is(c, "env")) {
            g_autofree char *name = qv_xml_prop(c, "name");
            if (!env_name_valid(name))
                return qv_xml_attr_error(err, c, "name", "an environment name must start with a letter or underscore and hold only letters, digits and underscores");
            qv_domdef_qemu_env *e = g_new0(qv_domdef_qemu_env, 1);
            e->name = g_steal_pointer(&name);
            e->value = qv_xml_prop(c, "value");
            g_ptr_array_add(ns->qemu_env, e);
        } else if (!cmdline && (name_is(c, "add") || name_is(c, "del"))) {
            char *cap = qv_xml_prop(c, "capability");
            if (!cap || !*cap) {
                g_free(cap);
                return qv_xml_attr_error(err, c, "capability", "a QEMU capability needs a name");
            }
            g_ptr_array_add(name_is(c, "add") ? ns->qemu_caps_add : ns->qemu_caps_del, cap);
        } else {
            return qv_xml_error(err, c, "unknown element in the QEMU namespace");
        }
    }
    return 0;
}

static bool ns_declared_on(const xmlNs *ns, const xmlNode *top)
{
    for (const xmlNs *d = top->nsDef; d; d = d->next)
        if (d == ns)
            return true;
    return false;
}

/* Whether n's subtree declares no namespace below top and uses only those
 * top declares: then top serialises on its own exactly as the reconciled
 * copy in a document of its own does, and the copy can be skipped. (With
 * declarations further down, the copy's reconciliation moves and renames
 * them; that output is kept as it is.) */
static bool ns_declared_on_top(const xmlNode *n, const xmlNode *top)
{
    if ((n != top && n->nsDef) || (n->ns && !ns_declared_on(n->ns, top)))
        return false;
    for (const xmlAttr *a = n->properties; a; a = a->next)
        if (a->ns && !ns_declared_on(a->ns, top))
            return false;
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !ns_declared_on_top(c, top))
            return false;
    return true;
}

static int parse_metadata(qv_domdef *def, xmlNode *mn, qv_error **err)
{
    for (xmlNode *c = mn->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!c->ns || !c->ns->href)
            return qv_xml_error(err, c, "metadata elements need a namespace");
        /* libvirt keeps one element per namespace: the last one wins. */
        for (guint i = 0; i < def->metadata->len; i++) {
            qv_domdef_metadata_elem *m = g_ptr_array_index(def->metadata, i);
            if (strcmp(m->uri, (const char *)c->ns->href) == 0) {
                g_ptr_array_remove_index(def->metadata, i);
                break;
            }
        }
        qv_domdef_metadata_elem *m = g_new0(qv_domdef_metadata_elem, 1);
        qv_set_str(&m->uri, g_strdup((const char *)c->ns->href));
        qv_set_str(&m->prefix, g_strdup(c->ns->prefix ? (const char *)c->ns->prefix : NULL));
        if (ns_declared_on_top(c, c)) {
            qv_set_str(&m->xml, qv_xml_dump(c));   /* the copy below would be the same */
        } else {
            g_autoptr(xmlDoc) doc = xmlNewDoc((const xmlChar *)"1.0");
            xmlNode *copy = xmlDocCopyNode(c, doc, 1);
            xmlDocSetRootElement(doc, copy);
            xmlReconciliateNs(doc, copy);
            qv_set_str(&m->xml, qv_xml_dump(copy));
        }
        g_ptr_array_add(def->metadata, m);
    }
    return 0;
}

static int parse_pm(qv_domdef *def, const xmlNode *pn, qv_error **err)
{
    for (xmlNode *c = pn->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (name_is(c, "suspend-to-mem")) {
            if (qv_xml_prop_tristate(c, "enabled", &def->pm_suspend_to_mem, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "suspend-to-disk")) {
            if (qv_xml_prop_tristate(c, "enabled", &def->pm_suspend_to_disk, err) < 0)
                return -EINVAL;
        } else
            return qv_xml_error(err, c, "unknown power management element");
    }
    return 0;
}

/* As the library's qv_name_valid, and as libvirt refuses a newline: a name
 * is a file name in the config and run folders, and a line in logs. */
static bool valid_name(const char *name)
{
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return *name && name[0] != '.' && !strchr(name, '/') && g_utf8_validate(name, -1, NULL) &&
           strlen(name) <= 1024;
}

static int parse_domain(qv_domdef *def, xmlNode *root, unsigned int flags, qv_error **err)
{
    g_autofree char *type = qv_xml_prop(root, "type");
    if (!type)
        return qv_xml_error(err, root, "missing type attribute (qemu or kvm)");
    if (strcmp(type, "kvm") == 0)
        def->virt_type = QV_DOMDEF_VIRT_KVM;
    else if (strcmp(type, "qemu") == 0)
        def->virt_type = QV_DOMDEF_VIRT_QEMU;
    else
        return qv_xml_attr_error(err, root, "type", "unsupported domain type '%s' (only qemu and kvm)", type);
    if (flags & QV_DOMXML_PARSE_STATUS) {
        if (qv_xml_prop_int(root, "id", &def->id, err) < 0)
            return -EINVAL;
    }

    bool have_uuid = false, have_memory = false, have_os = false;
    xmlNode *devices = NULL;
    for (xmlNode *c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        int r = 0;
        if (c->ns && c->ns->href && !strcmp((const char *)c->ns->href, QV_QEMU_NS)) {
            if (parse_qemu_ns(def, c, err) < 0)
                return -EINVAL;
            continue;
        }
        if (c->ns)
            return qv_xml_error(err, c, "unsupported namespaced element (only libvirt's QEMU namespace is known)");
        if (name_is(c, "name")) {
            qv_set_str(&def->name, qv_xml_text(c));
            if (!valid_name(def->name)) {
                g_autofree char *shown = g_strescape(def->name, NULL);  /* one line */
                return qv_xml_error(err, c, "invalid domain name '%s' (must be non-empty, without '/' or control characters, not starting with '.')", shown);
            }
        } else if (name_is(c, "uuid")) {
            g_autofree char *u = qv_xml_text(c);
            if (qv_uuid_parse(u, def->uuid) < 0)
                return qv_xml_error(err, c, "malformed UUID '%s'", u);
            have_uuid = true;
        } else if (name_is(c, "genid")) {
            g_autofree char *u = qv_xml_text(c);
            def->has_genid = true;
            if (!*u)
                qv_uuid_generate(def->genid);   /* recorded, like libvirt */
            else if (qv_uuid_parse(u, def->genid) < 0)
                return qv_xml_error(err, c, "malformed genid '%s'", u);
        } else if (name_is(c, "title")) {
            qv_set_str(&def->title, qv_xml_text(c));
            if (strchr(def->title, '\n'))
                return qv_xml_error(err, c, "a title must be one line");
        } else if (name_is(c, "description")) {
            xmlChar *v = xmlNodeGetContent(c);
            qv_set_str(&def->description, g_strdup((const char *)v));
            xmlFree(v);
        } else if (name_is(c, "metadata")) {
            r = parse_metadata(def, c, err);
        } else if (name_is(c, "memory")) {
            r = qv_xml_scaled_kib(c, "KiB", &def->memory_kib, err);
            have_memory = true;
        } else if (name_is(c, "currentMemory")) {
            r = qv_xml_scaled_kib(c, "KiB", &def->current_memory_kib, err);
        } else if (name_is(c, "maxMemory")) {
            r = qv_xml_scaled_kib(c, "KiB", &def->max_memory_kib, err);
            if (r == 0 && qv_xml_prop_uint(c, "slots", &def->max_memory_slots, err) < 0)
                r = -EINVAL;
            if (r == 0 && def->max_memory_slots > 255)
                r = qv_xml_attr_error(err, c, "slots", "at most 255 memory slots are supported");
        } else if (name_is(c, "memoryBacking")) {
            r = parse_memory_backing(def, c, err);
        } else if (name_is(c, "vcpu")) {
            r = parse_vcpu(def, c, err);
        } else if (name_is(c, "iothreads")) {
            g_autofree char *t = qv_xml_text(c);
            unsigned long long n;
            if (qv_parse_uint_str(t, 10, 1024, &n) < 0)
                return qv_xml_error(err, c, "'%s' is not an iothread count", t);
            def->iothreads = (unsigned int)n;
        } else if (name_is(c, "vcpus")) {
            qv_set_str(&def->raw_vcpus, qv_xml_dump(c));
        } else if (name_is(c, "iothreadids")) {
            qv_set_str(&def->raw_iothreadids, qv_xml_dump(c));
        } else if (name_is(c, "cputune")) {
            r = qv_parse_cputune(def, c, err);
        } else if (name_is(c, "memtune")) {
            r = qv_parse_memtune(def, c, err);
        } else if (name_is(c, "blkiotune")) {
            r = qv_parse_blkiotune(def, c, err);
        } else if (name_is(c, "numatune")) {
            r = qv_parse_numatune(def, c, err);
        } else if (name_is(c, "resource")) {
            qv_set_str(&def->raw_resource, qv_xml_dump(c));
        } else if (name_is(c, "sysinfo")) {
            qv_set_str(&def->raw_sysinfo, qv_xml_dump(c));
        } else if (name_is(c, "perf")) {
            qv_set_str(&def->raw_perf, qv_xml_dump(c));
        } else if (name_is(c, "keywrap")) {
            qv_set_str(&def->raw_keywrap, qv_xml_dump(c));
        } else if (name_is(c, "seclabel")) {
            g_ptr_array_add(def->seclabels, qv_xml_dump(c));
        } else if (name_is(c, "os")) {
            r = parse_os(def, c, err);
            have_os = true;
        } else if (name_is(c, "features")) {
            r = parse_features(def, c, err);
        } else if (name_is(c, "cpu")) {
            r = parse_cpu(def, c, err);
        } else if (name_is(c, "clock")) {
            r = parse_clock(def, c, err);
        } else if (name_is(c, "on_poweroff")) {
            r = parse_lifecycle(c, &def->on_poweroff, false, err);
        } else if (name_is(c, "on_reboot")) {
            r = parse_lifecycle(c, &def->on_reboot, false, err);
        } else if (name_is(c, "on_crash")) {
            r = parse_lifecycle(c, &def->on_crash, true, err);
        } else if (name_is(c, "on_lockfailure")) {
            static const char *const lf[] = { "poweroff", "restart", "pause", "ignore", NULL };
            g_autofree char *v = qv_xml_text(c);
            bool ok = false;
            for (size_t i = 0; lf[i]; i++)
                ok = ok || strcmp(lf[i], v) == 0;
            if (!ok)
                return qv_xml_error(err, c, "unsupported lock failure action '%s'", v);
            qv_set_str(&def->on_lockfailure, g_steal_pointer(&v));
        } else if (name_is(c, "pm")) {
            r = parse_pm(def, c, err);
        } else if (name_is(c, "devices")) {
            devices = c;
        } else if (name_is(c, "idmap") || name_is(c, "launchSecurity") || name_is(c, "bootloader") ||
                   name_is(c, "bootloader_args") || name_is(c, "throttlegroups")) {
            return qv_xml_error(err, c, "element not supported by qvirt");
        } else {
            return qv_xml_error(err, c, "unknown element");
        }
        if (r < 0)
            return r;
    }
    if (!def->name)
        return qv_xml_error(err, root, "missing <name>");
    if (!have_memory)
        return qv_xml_error(err, root, "missing <memory>");
    if (!have_os)
        return qv_xml_error(err, root, "missing <os>");
    if (!def->vcpus)
        def->vcpus = 1;
    if (!have_uuid)
        qv_uuid_generate(def->uuid);
    if (qv_tune_validate(def, err) < 0)
        return -EINVAL;
    if (devices && qv_parse_devices(def, devices, flags, err) < 0)
        return -EINVAL;
    return 0;
}

int qv_domxml_parse(const char *xml, unsigned int flags, qv_domdef **ret, qv_error **err)
{
    if (!xml || !ret)
        return qv_error_set(err, -EINVAL, "No domain XML given.");
    g_autoptr(xmlDoc) doc = NULL;
    int r = qv_xml_read(xml, "domain", &doc, err);
    if (r < 0)
        return r;
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "domain") != 0 || root->ns)
        return qv_error_set(err, -EINVAL, "The root element must be <domain>.");

    g_autoptr(qv_domdef) def = qv_domdef_new();
    if (parse_domain(def, root, flags, err) < 0)
        return -EINVAL;
    if (qv_domdef_post_parse(def, err) < 0)
        return -EINVAL;
    *ret = g_steal_pointer(&def);
    return 0;
}
