/* The libvirt domain XML formatter: domain-level elements. Devices are in
 * format-devices.c. Output follows libvirt's element order and validates
 * against libvirt's domain schema. */
#include <string.h>

#include "domxml-priv.h"

void qv_xml_escape_append(GString *buf, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': g_string_append(buf, "&amp;"); break;
        case '<': g_string_append(buf, "&lt;"); break;
        case '>': g_string_append(buf, "&gt;"); break;
        case '\'': g_string_append(buf, "&apos;"); break;
        case '"': g_string_append(buf, "&quot;"); break;
        case '\r': g_string_append(buf, "&#13;"); break;
        default: g_string_append_c(buf, *s);
        }
    }
}

void qv_fmt_attr(GString *buf, const char *name, const char *value)
{
    if (!value)
        return;
    g_string_append_printf(buf, " %s='", name);
    qv_xml_escape_append(buf, value);
    g_string_append_c(buf, '\'');
}

void qv_fmt_attr_uint(GString *buf, const char *name, unsigned long long value)
{
    g_string_append_printf(buf, " %s='%llu'", name, value);
}

void qv_fmt_indent(GString *buf, int depth)
{
    for (int i = 0; i < depth; i++)
        g_string_append(buf, "  ");
}

void qv_fmt_text_elem(GString *buf, int depth, const char *name, const char *text)
{
    if (!text)
        return;
    qv_fmt_indent(buf, depth);
    g_string_append_printf(buf, "<%s>", name);
    qv_xml_escape_append(buf, text);
    g_string_append_printf(buf, "</%s>\n", name);
}

const char *qv_tri_yesno(int tri)
{
    return tri == QV_TRI_ON ? "yes" : tri == QV_TRI_OFF ? "no" : NULL;
}

const char *qv_tri_onoff(int tri)
{
    return tri == QV_TRI_ON ? "on" : tri == QV_TRI_OFF ? "off" : NULL;
}

/* Re-indents a verbatim element to the given depth. Kept elements were
 * serialised without formatting, so their text is written as-is. */
static void fmt_raw(GString *buf, int depth, const char *raw)
{
    if (!raw)
        return;
    /* The element was dumped with libxml2's own indentation, relative to
     * itself: every line moves to this depth. */
    for (const char *line = raw; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        qv_fmt_indent(buf, depth);
        g_string_append_len(buf, line, (gssize)len);
        g_string_append_c(buf, '\n');
        line += len + (nl ? 1 : 0);
    }
}

static void fmt_os(GString *buf, const qv_domdef *def)
{
    const qv_domdef_os *os = &def->os;
    g_string_append(buf, "  <os");
    qv_fmt_attr(buf, "firmware", os->firmware);
    g_string_append(buf, ">\n    <type");
    qv_fmt_attr(buf, "arch", os->arch);
    qv_fmt_attr(buf, "machine", os->machine);
    g_string_append_printf(buf, ">%s</type>\n", os->type ? os->type : "hvm");
    if (os->fw_secure_boot || os->fw_enrolled_keys) {
        g_string_append(buf, "    <firmware>\n");
        if (os->fw_enrolled_keys)
            g_string_append_printf(buf, "      <feature enabled='%s' name='enrolled-keys'/>\n",
                                   qv_tri_yesno(os->fw_enrolled_keys));
        if (os->fw_secure_boot)
            g_string_append_printf(buf, "      <feature enabled='%s' name='secure-boot'/>\n",
                                   qv_tri_yesno(os->fw_secure_boot));
        g_string_append(buf, "    </firmware>\n");
    }
    if (os->loader || os->loader_type || os->loader_readonly || os->loader_secure) {
        g_string_append(buf, "    <loader");
        qv_fmt_attr(buf, "readonly", os->loader_readonly);
        qv_fmt_attr(buf, "secure", os->loader_secure);
        qv_fmt_attr(buf, "type", os->loader_type);
        if (os->loader) {
            g_string_append_c(buf, '>');
            qv_xml_escape_append(buf, os->loader);
            g_string_append(buf, "</loader>\n");
        } else {
            g_string_append(buf, "/>\n");
        }
    }
    if (os->nvram || os->nvram_template) {
        g_string_append(buf, "    <nvram");
        qv_fmt_attr(buf, "template", os->nvram_template);
        if (os->nvram) {
            g_string_append_c(buf, '>');
            qv_xml_escape_append(buf, os->nvram);
            g_string_append(buf, "</nvram>\n");
        } else {
            g_string_append(buf, "/>\n");
        }
    }
    qv_fmt_text_elem(buf, 2, "kernel", os->kernel);
    qv_fmt_text_elem(buf, 2, "initrd", os->initrd);
    qv_fmt_text_elem(buf, 2, "cmdline", os->cmdline);
    qv_fmt_text_elem(buf, 2, "dtb", os->dtb);
    if (os->acpi_table) {
        g_string_append(buf, "    <acpi>\n      <table");
        qv_fmt_attr(buf, "type", os->acpi_table_type);
        g_string_append_c(buf, '>');
        qv_xml_escape_append(buf, os->acpi_table);
        g_string_append(buf, "</table>\n    </acpi>\n");
    }
    for (guint i = 0; i < os->boot_devs->len; i++)
        g_string_append_printf(buf, "    <boot dev='%s'/>\n", (char *)g_ptr_array_index(os->boot_devs, i));
    if (os->bootmenu) {
        g_string_append(buf, "    <bootmenu");
        qv_fmt_attr(buf, "enable", qv_tri_yesno(os->bootmenu));
        if (os->bootmenu_timeout >= 0)
            qv_fmt_attr_uint(buf, "timeout", (unsigned)os->bootmenu_timeout);
        g_string_append(buf, "/>\n");
    }
    if (os->smbios_mode)
        g_string_append_printf(buf, "    <smbios mode='%s'/>\n", os->smbios_mode);
    if (os->bios_useserial || os->bios_reboot_timeout != -1) {
        g_string_append(buf, "    <bios");
        qv_fmt_attr(buf, "useserial", qv_tri_yesno(os->bios_useserial));
        if (os->bios_reboot_timeout != -1)
            g_string_append_printf(buf, " rebootTimeout='%d'", os->bios_reboot_timeout);
        g_string_append(buf, "/>\n");
    }
    g_string_append(buf, "  </os>\n");
}

static void fmt_feature_list(GString *buf, const char *name, const char *mode, GPtrArray *list)
{
    g_string_append_printf(buf, "    <%s", name);
    qv_fmt_attr(buf, "mode", mode);
    if (!list->len) {
        g_string_append(buf, "/>\n");
        return;
    }
    g_string_append(buf, ">\n");
    for (guint i = 0; i < list->len; i++) {
        qv_domdef_feature *f = g_ptr_array_index(list, i);
        g_string_append_printf(buf, "      <%s", f->name);
        qv_fmt_attr(buf, "state", qv_tri_onoff(f->state));
        qv_fmt_attr(buf, !strcmp(f->name, "spinlocks") ? "retries" :
                         !strcmp(f->name, "dirty-ring") ? "size" : "value", f->value);
        if (!f->direct && !f->extended) {
            g_string_append(buf, "/>\n");
            continue;
        }
        g_string_append(buf, ">\n");
        if (f->direct)
            g_string_append_printf(buf, "        <direct state='%s'/>\n", qv_tri_onoff(f->direct));
        if (f->extended)
            g_string_append_printf(buf, "        <extended state='%s'/>\n", qv_tri_onoff(f->extended));
        g_string_append_printf(buf, "      </%s>\n", f->name);
    }
    g_string_append_printf(buf, "    </%s>\n", name);
}

static void fmt_features(GString *buf, const qv_domdef *def)
{
    const qv_domdef_features *f = &def->features;
    GString *b = g_string_new(NULL);
    if (f->acpi)
        g_string_append(b, "    <acpi/>\n");
    if (f->apic) {
        g_string_append(b, "    <apic");
        qv_fmt_attr(b, "eoi", qv_tri_onoff(f->apic_eoi));
        g_string_append(b, "/>\n");
    }
    if (f->pae)
        g_string_append(b, "    <pae/>\n");
    if (f->hap_set)
        g_string_append_printf(b, "    <hap state='%s'/>\n", qv_tri_onoff(f->hap) ? qv_tri_onoff(f->hap) : "on");
    if (f->hyperv)
        fmt_feature_list(b, "hyperv", f->hyperv_mode, f->hyperv_features);
    if (f->kvm)
        fmt_feature_list(b, "kvm", NULL, f->kvm_features);
    if (f->pvspinlock_set)
        g_string_append_printf(b, "    <pvspinlock state='%s'/>\n", qv_tri_onoff(f->pvspinlock) ? qv_tri_onoff(f->pvspinlock) : "on");
    if (f->pmu_set)
        g_string_append_printf(b, "    <pmu state='%s'/>\n", qv_tri_onoff(f->pmu) ? qv_tri_onoff(f->pmu) : "on");
    if (f->vmport_set)
        g_string_append_printf(b, "    <vmport state='%s'/>\n", qv_tri_onoff(f->vmport) ? qv_tri_onoff(f->vmport) : "on");
    if (f->smm_set)
        g_string_append_printf(b, "    <smm state='%s'/>\n", qv_tri_onoff(f->smm) ? qv_tri_onoff(f->smm) : "on");
    if (f->ioapic_driver)
        g_string_append_printf(b, "    <ioapic driver='%s'/>\n", f->ioapic_driver);
    if (f->vmcoreinfo)
        g_string_append(b, "    <vmcoreinfo state='on'/>\n");
    if (b->len) {
        g_string_append(buf, "  <features>\n");
        g_string_append(buf, b->str);
        g_string_append(buf, "  </features>\n");
    }
    g_string_free(b, TRUE);
}

static void fmt_cpu(GString *buf, const qv_domdef *def)
{
    const qv_domdef_cpu *cpu = &def->cpu;
    if (!cpu->mode)
        return;
    g_string_append(buf, "  <cpu");
    qv_fmt_attr(buf, "mode", cpu->mode);
    qv_fmt_attr(buf, "match", cpu->match);
    qv_fmt_attr(buf, "check", cpu->check);
    qv_fmt_attr(buf, "migratable", cpu->migratable);
    if (!cpu->model && !cpu->vendor && !cpu->sockets && !cpu->features->len && !cpu->cells->len &&
        !(def->rare && (def->rare->cpu_cache_mode || def->rare->maxphysaddr_mode))) {
        g_string_append(buf, "/>\n");
        return;
    }
    g_string_append(buf, ">\n");
    if (cpu->model) {
        g_string_append(buf, "    <model");
        qv_fmt_attr(buf, "fallback", cpu->model_fallback);
        g_string_append_c(buf, '>');
        qv_xml_escape_append(buf, cpu->model);
        g_string_append(buf, "</model>\n");
    }
    qv_fmt_text_elem(buf, 2, "vendor", cpu->vendor);
    if (cpu->sockets)
        g_string_append_printf(buf, "    <topology sockets='%u' dies='%u' cores='%u' threads='%u'/>\n",
                               cpu->sockets, cpu->dies, cpu->cores, cpu->threads);
    const qv_domdef_rare *r = def->rare;
    if (r && r->cpu_cache_mode) {
        g_string_append(buf, "    <cache");
        if (r->cpu_cache_level != -1)
            g_string_append_printf(buf, " level='%d'", r->cpu_cache_level);
        g_string_append_printf(buf, " mode='%s'/>\n", r->cpu_cache_mode);
    }
    if (r && r->maxphysaddr_mode) {
        g_string_append_printf(buf, "    <maxphysaddr mode='%s'", r->maxphysaddr_mode);
        if (r->maxphysaddr_bits != -1)
            g_string_append_printf(buf, " bits='%d'", r->maxphysaddr_bits);
        g_string_append(buf, "/>\n");
    }
    for (guint i = 0; i < cpu->features->len; i++) {
        qv_domdef_cpu_feature *f = g_ptr_array_index(cpu->features, i);
        g_string_append(buf, "    <feature");
        qv_fmt_attr(buf, "policy", f->policy);
        qv_fmt_attr(buf, "name", f->name);
        g_string_append(buf, "/>\n");
    }
    if (cpu->cells->len) {
        g_string_append(buf, "    <numa>\n");
        for (guint i = 0; i < cpu->cells->len; i++) {
            qv_domdef_numa_cell *c = g_ptr_array_index(cpu->cells, i);
            g_string_append_printf(buf, "      <cell id='%u'", c->id);
            qv_fmt_attr(buf, "cpus", c->cpus);
            g_string_append_printf(buf, " memory='%llu' unit='KiB'", c->memory_kib);
            qv_fmt_attr(buf, "memAccess", c->mem_access);
            qv_fmt_attr(buf, "discard", c->discard);
            g_string_append(buf, "/>\n");
        }
        g_string_append(buf, "    </numa>\n");
    }
    g_string_append(buf, "  </cpu>\n");
}

static void fmt_clock(GString *buf, const qv_domdef *def)
{
    g_string_append(buf, "  <clock");
    qv_fmt_attr(buf, "offset", def->clock_offset);
    qv_fmt_attr(buf, "timezone", def->clock_timezone);
    if (def->clock_offset && !strcmp(def->clock_offset, "absolute"))
        g_string_append_printf(buf, " start='%llu'", def->rare ? def->rare->clock_start : 0);
    if (def->clock_offset && !strcmp(def->clock_offset, "variable")) {
        g_string_append_printf(buf, " adjustment='%lld'", def->clock_adjustment);
        qv_fmt_attr(buf, "basis", def->clock_basis ? def->clock_basis : "utc");
    }
    if (!def->timers->len) {
        g_string_append(buf, "/>\n");
        return;
    }
    g_string_append(buf, ">\n");
    for (guint i = 0; i < def->timers->len; i++) {
        qv_domdef_timer *t = g_ptr_array_index(def->timers, i);
        g_string_append(buf, "    <timer");
        qv_fmt_attr(buf, "name", t->name);
        qv_fmt_attr(buf, "track", t->track);
        qv_fmt_attr(buf, "tickpolicy", t->tickpolicy);
        qv_fmt_attr(buf, "present", qv_tri_yesno(t->present));
        g_string_append(buf, "/>\n");
    }
    g_string_append(buf, "  </clock>\n");
}

static void fmt_memory_backing(GString *buf, const qv_domdef *def)
{
    if (!def->mb_hugepages && !def->mb_nosharepages && !def->mb_locked && !def->mb_source &&
        !def->mb_access && !def->mb_allocation && !def->mb_discard && !(def->rare && def->rare->mb_alloc_threads))
        return;
    g_string_append(buf, "  <memoryBacking>\n");
    const GPtrArray *pages = def->rare ? def->rare->mb_pages : NULL;
    if (def->mb_hugepages && (!pages || !pages->len))
        g_string_append(buf, "    <hugepages/>\n");
    else if (def->mb_hugepages) {
        g_string_append(buf, "    <hugepages>\n");
        for (guint i = 0; i < pages->len; i++) {
            const qv_domdef_hugepage *h = g_ptr_array_index(pages, i);
            g_string_append_printf(buf, "      <page size='%llu' unit='KiB'", h->size_kib);
            qv_fmt_attr(buf, "nodeset", h->nodeset);
            g_string_append(buf, "/>\n");
        }
        g_string_append(buf, "    </hugepages>\n");
    }
    if (def->mb_nosharepages)
        g_string_append(buf, "    <nosharepages/>\n");
    if (def->mb_locked)
        g_string_append(buf, "    <locked/>\n");
    if (def->mb_source)
        g_string_append_printf(buf, "    <source type='%s'/>\n", def->mb_source);
    if (def->mb_access)
        g_string_append_printf(buf, "    <access mode='%s'/>\n", def->mb_access);
    unsigned int threads = def->rare ? def->rare->mb_alloc_threads : 0;
    if (def->mb_allocation || threads) {
        g_string_append(buf, "    <allocation");
        qv_fmt_attr(buf, "mode", def->mb_allocation);
        if (threads)
            g_string_append_printf(buf, " threads='%u'", threads);
        g_string_append(buf, "/>\n");
    }
    if (def->mb_discard)
        g_string_append(buf, "    <discard/>\n");
    g_string_append(buf, "  </memoryBacking>\n");
}

/* libvirt's QEMU namespace elements, last in <domain> as libvirt writes them. */
static void fmt_qemu_ns(GString *buf, const qv_domdef_rare *ns)
{
    if (ns && (ns->qemu_args->len || ns->qemu_env->len)) {
        g_string_append(buf, "  <qemu:commandline>\n");
        for (guint i = 0; i < ns->qemu_args->len; i++) {
            g_string_append(buf, "    <qemu:arg");
            qv_fmt_attr(buf, "value", g_ptr_array_index(ns->qemu_args, i));
            g_string_append(buf, "/>\n");
        }
        for (guint i = 0; i < ns->qemu_env->len; i++) {
            const qv_domdef_qemu_env *e = g_ptr_array_index(ns->qemu_env, i);
            g_string_append(buf, "    <qemu:env");
            qv_fmt_attr(buf, "name", e->name);
            qv_fmt_attr(buf, "value", e->value);
            g_string_append(buf, "/>\n");
        }
        g_string_append(buf, "  </qemu:commandline>\n");
    }
    if (ns && (ns->qemu_caps_add->len || ns->qemu_caps_del->len)) {
        g_string_append(buf, "  <qemu:capabilities>\n");
        for (guint i = 0; i < ns->qemu_caps_add->len; i++) {
            g_string_append(buf, "    <qemu:add");
            qv_fmt_attr(buf, "capability", g_ptr_array_index(ns->qemu_caps_add, i));
            g_string_append(buf, "/>\n");
        }
        for (guint i = 0; i < ns->qemu_caps_del->len; i++) {
            g_string_append(buf, "    <qemu:del");
            qv_fmt_attr(buf, "capability", g_ptr_array_index(ns->qemu_caps_del, i));
            g_string_append(buf, "/>\n");
        }
        g_string_append(buf, "  </qemu:capabilities>\n");
    }
}

char *qv_domxml_format(const qv_domdef *def, unsigned int flags)
{
    GString *buf = g_string_sized_new(4096);
    char uuid[37];
    g_string_append_printf(buf, "<domain type='%s'", def->virt_type == QV_DOMDEF_VIRT_KVM ? "kvm" : "qemu");
    if (!(flags & QV_DOMXML_FORMAT_INACTIVE) && def->id >= 0)
        g_string_append_printf(buf, " id='%d'", def->id);
    const qv_domdef_rare *ns = def->rare;
    if (ns && (ns->qemu_args->len || ns->qemu_env->len || ns->qemu_caps_add->len || ns->qemu_caps_del->len))
        g_string_append(buf, " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'");
    g_string_append(buf, ">\n");
    qv_fmt_text_elem(buf, 1, "name", def->name);
    qv_uuid_format(def->uuid, uuid);
    g_string_append_printf(buf, "  <uuid>%s</uuid>\n", uuid);
    if (def->has_genid) {
        if (def->genid_auto && (flags & QV_DOMXML_FORMAT_INACTIVE))
            g_string_append(buf, "  <genid/>\n");
        else {
            qv_uuid_format(def->genid, uuid);
            g_string_append_printf(buf, "  <genid>%s</genid>\n", uuid);
        }
    }
    qv_fmt_text_elem(buf, 1, "title", def->title);
    qv_fmt_text_elem(buf, 1, "description", def->description);
    if (def->metadata->len) {
        g_string_append(buf, "  <metadata>\n");
        for (guint i = 0; i < def->metadata->len; i++) {
            qv_domdef_metadata_elem *m = g_ptr_array_index(def->metadata, i);
            fmt_raw(buf, 2, m->xml);
        }
        g_string_append(buf, "  </metadata>\n");
    }
    if (def->max_memory_kib)
        g_string_append_printf(buf, "  <maxMemory slots='%u' unit='KiB'>%llu</maxMemory>\n",
                               def->max_memory_slots, def->max_memory_kib);
    g_string_append_printf(buf, "  <memory unit='KiB'>%llu</memory>\n", def->memory_kib);
    g_string_append_printf(buf, "  <currentMemory unit='KiB'>%llu</currentMemory>\n",
                           def->current_memory_kib);
    qv_fmt_blkiotune(buf, def);
    qv_fmt_memtune(buf, def);
    fmt_memory_backing(buf, def);
    g_string_append(buf, "  <vcpu");
    qv_fmt_attr(buf, "placement", def->vcpu_placement ? def->vcpu_placement : "static");
    qv_fmt_attr(buf, "cpuset", def->vcpu_cpuset);
    if (def->vcpus_current && def->vcpus_current != def->vcpus)
        qv_fmt_attr_uint(buf, "current", def->vcpus_current);
    g_string_append_printf(buf, ">%u</vcpu>\n", def->vcpus);
    fmt_raw(buf, 1, def->raw_vcpus);
    if (def->iothreads)
        g_string_append_printf(buf, "  <iothreads>%u</iothreads>\n", def->iothreads);
    fmt_raw(buf, 1, def->raw_iothreadids);
    qv_fmt_cputune(buf, def);
    qv_fmt_numatune(buf, def);
    fmt_raw(buf, 1, def->raw_resource);
    fmt_raw(buf, 1, def->raw_sysinfo);
    fmt_os(buf, def);
    fmt_features(buf, def);
    fmt_cpu(buf, def);
    fmt_clock(buf, def);
    g_string_append_printf(buf, "  <on_poweroff>%s</on_poweroff>\n", qv_domdef_lifecycle_to_string(def->on_poweroff));
    g_string_append_printf(buf, "  <on_reboot>%s</on_reboot>\n", qv_domdef_lifecycle_to_string(def->on_reboot));
    g_string_append_printf(buf, "  <on_crash>%s</on_crash>\n", qv_domdef_lifecycle_to_string(def->on_crash));
    qv_fmt_text_elem(buf, 1, "on_lockfailure", def->on_lockfailure);
    if (def->pm_suspend_to_mem || def->pm_suspend_to_disk) {
        g_string_append(buf, "  <pm>\n");
        if (def->pm_suspend_to_mem)
            g_string_append_printf(buf, "    <suspend-to-mem enabled='%s'/>\n", qv_tri_yesno(def->pm_suspend_to_mem));
        if (def->pm_suspend_to_disk)
            g_string_append_printf(buf, "    <suspend-to-disk enabled='%s'/>\n", qv_tri_yesno(def->pm_suspend_to_disk));
        g_string_append(buf, "  </pm>\n");
    }
    fmt_raw(buf, 1, def->raw_perf);
    qv_format_devices(buf, def, flags);
    for (guint i = 0; i < def->seclabels->len; i++)
        fmt_raw(buf, 1, g_ptr_array_index(def->seclabels, i));
    fmt_raw(buf, 1, def->raw_keywrap);
    fmt_qemu_ns(buf, def->rare);
    g_string_append(buf, "</domain>\n");
    return g_string_free(buf, FALSE);
}
