/* Lifetime of the domain model, copying, metadata and UUID helpers. */
#include <string.h>
#include <libxml/parser.h>

#include "domxml-priv.h"

void qv_domdef_addr_clear(qv_domdef_addr *a)
{
    g_clear_pointer(&a->usb_port, g_free);
}

void qv_domdef_disk_src_clear(qv_domdef_disk_src *s)
{
    g_free(s->format); g_free(s->path); g_free(s->protocol); g_free(s->name);
    g_free(s->host); g_free(s->port); g_free(s->transport); g_free(s->socket); g_free(s->query);
    if (s->more_hosts)
        g_ptr_array_free(s->more_hosts, TRUE);
    g_free(s->snapshot); g_free(s->config_file); g_free(s->initiator_iqn);
    g_free(s->nfs_user); g_free(s->nfs_group);
    g_free(s->auth_username); g_free(s->auth_type); g_free(s->auth_usage); g_free(s->auth_uuid);
    g_free(s->enc_format); g_free(s->enc_engine); g_free(s->enc_usage); g_free(s->enc_uuid);
    g_free(s->pool); g_free(s->volume); g_free(s->volume_mode); g_free(s->nvme_type);
    qv_domdef_addr_clear(&s->nvme_addr);
    if (s->backing) {
        qv_domdef_disk_src_clear(s->backing);
        g_free(s->backing);
    }
    memset(s, 0, sizeof(*s));
}

bool qv_domdef_disk_src_present(const qv_domdef_disk_src *s)
{
    return s->path || s->type == QV_DISK_TYPE_NETWORK || s->type == QV_DISK_TYPE_VOLUME ||
           s->type == QV_DISK_TYPE_NVME;
}

void qv_domdef_disk_host_free(void *p)
{
    qv_domdef_disk_host *h = p;
    if (!h)
        return;
    g_free(h->name); g_free(h->port); g_free(h->transport); g_free(h->socket);
    g_free(h);
}

void qv_domdef_chr_source_clear(qv_domdef_chr_source *s)
{
    g_free(s->path); g_free(s->host); g_free(s->service); g_free(s->bind_host);
    g_free(s->bind_service); g_free(s->log_file); g_free(s->channel); g_free(s->mouse_mode);
    memset(s, 0, sizeof(*s));
}

void qv_domdef_disk_free(void *p)
{
    qv_domdef_disk *d = p;
    if (!d)
        return;
    qv_domdef_disk_src_clear(&d->src);
    g_free(d->startup_policy); g_free(d->driver_name); g_free(d->cache); g_free(d->io);
    g_free(d->discard); g_free(d->detect_zeroes); g_free(d->error_policy); g_free(d->target_dev);
    g_free(d->geo_trans);
    g_free(d->tray); g_free(d->model); g_free(d->serial); g_free(d->wwn); g_free(d->vendor); g_free(d->product);
    g_free(d->iotune.group_name);
    qv_domdef_addr_clear(&d->addr);
    g_free(d->alias);
    g_free(d);
}

void qv_domdef_controller_free(void *p)
{
    qv_domdef_controller *c = p;
    if (!c)
        return;
    g_free(c->model);
    g_free(c->model_name);
    qv_domdef_addr_clear(&c->addr);
    g_free(c->alias);
    g_free(c);
}

const qv_net_offload_name qv_net_offloads[QV_NET_N_OFFLOADS] = {
    [QV_NET_HOST_CSUM] = { "host", "csum", "csum" },
    [QV_NET_HOST_GSO] = { "host", "gso", "gso" },
    [QV_NET_HOST_TSO4] = { "host", "tso4", "host_tso4" },
    [QV_NET_HOST_TSO6] = { "host", "tso6", "host_tso6" },
    [QV_NET_HOST_ECN] = { "host", "ecn", "host_ecn" },
    [QV_NET_HOST_UFO] = { "host", "ufo", "host_ufo" },
    [QV_NET_HOST_MRG_RXBUF] = { "host", "mrg_rxbuf", "mrg_rxbuf" },
    [QV_NET_GUEST_CSUM] = { "guest", "csum", "guest_csum" },
    [QV_NET_GUEST_TSO4] = { "guest", "tso4", "guest_tso4" },
    [QV_NET_GUEST_TSO6] = { "guest", "tso6", "guest_tso6" },
    [QV_NET_GUEST_ECN] = { "guest", "ecn", "guest_ecn" },
    [QV_NET_GUEST_UFO] = { "guest", "ufo", "guest_ufo" },
};

void qv_domdef_net_free(void *p)
{
    qv_domdef_net *n = p;
    if (!n)
        return;
    g_free(n->model); g_free(n->source_bridge); g_free(n->source_network); g_free(n->target_dev);
    g_free(n->script); g_free(n->downscript); g_free(n->link_state); g_free(n->driver_name);
    g_free(n->rom_file); g_free(n->txmode);
    g_free(n->source_address); g_free(n->local_address); g_free(n->source_path);
    g_free(n->direct_mode); g_free(n->source_portgroup); g_free(n->guest_dev); g_free(n->backend_domain); g_free(n->vport_type); g_free(n->vport_interfaceid);
    g_free(n->vport_profileid); g_free(n->vport_instanceid);
    g_free(n->vport_managerid); g_free(n->vport_typeid); g_free(n->vport_typeidversion); g_free(n->teaming_type);
    g_free(n->teaming_persistent); g_free(n->backend_tap); g_free(n->backend_vhost);
    g_free(n->source_mode); g_free(n->source_dev); g_free(n->ip4_address); g_free(n->ip6_address);
    qv_domdef_addr_clear(&n->addr);
    g_free(n->alias);
    g_free(n);
}

void qv_domdef_chr_free(void *p)
{
    qv_domdef_chr *c = p;
    if (!c)
        return;
    qv_domdef_chr_source_clear(&c->src);
    g_free(c->target_type); g_free(c->target_model); g_free(c->target_name); g_free(c->target_address);
    qv_domdef_addr_clear(&c->addr);
    g_free(c->alias);
    g_free(c);
}

void qv_domdef_graphics_free(void *p)
{
    qv_domdef_graphics *g = p;
    if (!g)
        return;
    g_free(g->listen_type); g_free(g->listen_address); g_free(g->socket); g_free(g->passwd); g_free(g->passwd_valid_to); g_free(g->connected);
    g_free(g->keymap); g_free(g->share_policy); g_free(g->rendernode); g_free(g->default_mode);
    g_free(g->dbus_address);
    if (g->spice_channels)
        g_ptr_array_unref(g->spice_channels);
    g_free(g->spice_image); g_free(g->spice_jpeg); g_free(g->spice_zlib); g_free(g->spice_streaming);
    g_free(g->spice_mouse);
    g_free(g->alias);
    g_free(g);
}

void qv_domdef_video_free(void *p)
{
    qv_domdef_video *v = p;
    if (!v)
        return;
    g_free(v->model);
    qv_domdef_addr_clear(&v->addr);
    g_free(v->alias);
    g_free(v);
}

void qv_domdef_input_free(void *p)
{
    qv_domdef_input *i = p;
    if (!i)
        return;
    g_free(i->type); g_free(i->bus); g_free(i->source_evdev); g_free(i->grab);
    g_free(i->grab_toggle); g_free(i->repeat); g_free(i->model);
    qv_domdef_addr_clear(&i->addr);
    g_free(i->alias);
    g_free(i);
}

void qv_domdef_sound_free(void *p)
{
    qv_domdef_sound *s = p;
    if (!s)
        return;
    g_free(s->model);
    if (s->codecs)
        g_ptr_array_unref(s->codecs);
    qv_domdef_addr_clear(&s->addr);
    g_free(s->alias);
    g_free(s);
}

static void audio_io_clear(qv_domdef_audio_io *io)
{
    g_free(io->format); g_free(io->dev); g_free(io->name); g_free(io->stream_name);
    g_free(io->server_name); g_free(io->client_name); g_free(io->connect_ports);
}

void qv_domdef_audio_free(void *p)
{
    qv_domdef_audio *a = p;
    if (!a)
        return;
    g_free(a->type);
    audio_io_clear(&a->in);
    audio_io_clear(&a->out);
    g_free(a->server_name); g_free(a->sdl_driver); g_free(a->path);
    g_free(a);
}

void qv_domdef_hugepage_free(void *p)
{
    qv_domdef_hugepage *h = p;
    g_free(h->nodeset);
    g_free(h);
}

static void qemu_env_free(void *p)
{
    qv_domdef_qemu_env *e = p;
    g_free(e->name); g_free(e->value); g_free(e);
}

qv_domdef_rare *qv_domdef_rare_get(qv_domdef *def)
{
    if (!def->rare) {
        qv_domdef_rare *r = g_new0(qv_domdef_rare, 1);
        r->qemu_args = g_ptr_array_new_with_free_func(g_free);
        r->qemu_env = g_ptr_array_new_with_free_func(qemu_env_free);
        r->qemu_caps_add = g_ptr_array_new_with_free_func(g_free);
        r->qemu_caps_del = g_ptr_array_new_with_free_func(g_free);
        r->mb_pages = g_ptr_array_new_with_free_func(qv_domdef_hugepage_free);
        r->cpu_cache_level = -1;
        r->maxphysaddr_bits = -1;
        def->rare = r;
    }
    return def->rare;
}

static void rare_free(qv_domdef_rare *r)
{
    if (!r)
        return;
    g_ptr_array_unref(r->qemu_args); g_ptr_array_unref(r->qemu_env);
    g_ptr_array_unref(r->qemu_caps_add); g_ptr_array_unref(r->qemu_caps_del);
    g_ptr_array_unref(r->mb_pages);
    g_free(r->cpu_cache_mode); g_free(r->maxphysaddr_mode);
    g_free(r);
}

#define SIMPLE_FREE(fn, type, ...)                                  \
    void fn(void *p)                                                \
    {                                                               \
        type *x = p;                                                \
        if (!x)                                                     \
            return;                                                 \
        char **fields[] = { __VA_ARGS__ };                          \
        for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)           \
            g_free(*fields[i]);                                     \
        qv_domdef_addr_clear(&x->addr);                             \
        g_free(x->alias);                                           \
        g_free(x);                                                  \
    }

SIMPLE_FREE(qv_domdef_memballoon_free, qv_domdef_memballoon, &x->model)
SIMPLE_FREE(qv_domdef_watchdog_free, qv_domdef_watchdog, &x->model, &x->action)
SIMPLE_FREE(qv_domdef_panic_free, qv_domdef_panic, &x->model)
SIMPLE_FREE(qv_domdef_shmem_free, qv_domdef_shmem, &x->name, &x->model)
SIMPLE_FREE(qv_domdef_iommu_free, qv_domdef_iommu, &x->model)
SIMPLE_FREE(qv_domdef_hub_free, qv_domdef_hub, &x->type)
void qv_domdef_hostdev_free(void *p)
{
    qv_domdef_hostdev *x = p;
    if (!x)
        return;
    g_free(x->type); g_free(x->driver_name); g_free(x->rom_file); g_free(x->scsi_adapter);
    g_free(x->sgio); g_free(x->rawio); g_free(x->mdev_uuid); g_free(x->mdev_model); g_free(x->teaming_persistent);
    g_free(x->vhost_wwpn); g_free(x->vhost_model);
    if (x->iscsi) {
        qv_domdef_disk_src_clear(x->iscsi);
        g_free(x->iscsi);
    }
    qv_domdef_addr_clear(&x->host_addr);
    qv_domdef_addr_clear(&x->addr);
    g_free(x->alias);
    g_free(x);
}
SIMPLE_FREE(qv_domdef_fs_free, qv_domdef_fs, &x->type, &x->driver, &x->accessmode, &x->source,
            &x->target, &x->model)
SIMPLE_FREE(qv_domdef_memdev_free, qv_domdef_memdev, &x->model, &x->access, &x->discard,
            &x->source_path, &x->source_nodemask)

void qv_domdef_vsock_free(void *p)
{
    qv_domdef_vsock *v = p;
    if (!v)
        return;
    g_free(v->model);
    qv_domdef_addr_clear(&v->addr);
    g_free(v->alias);
    g_free(v);
}

void qv_domdef_rng_free(void *p)
{
    qv_domdef_rng *r = p;
    if (!r)
        return;
    g_free(r->model); g_free(r->backend_model); g_free(r->backend_path);
    if (r->egd) {
        qv_domdef_chr_source_clear(r->egd);
        g_free(r->egd);
    }
    qv_domdef_addr_clear(&r->addr);
    g_free(r->alias);
    g_free(r);
}

void qv_domdef_tpm_free(void *p)
{
    qv_domdef_tpm *t = p;
    if (!t)
        return;
    g_free(t->model); g_free(t->backend); g_free(t->version); g_free(t->path); g_free(t->pcr_banks); g_free(t->secret_uuid);
    g_free(t->alias);
    g_free(t);
}

void qv_domdef_smartcard_free(void *p)
{
    qv_domdef_smartcard *s = p;
    if (!s)
        return;
    g_free(s->mode);
    qv_domdef_chr_source_clear(&s->src);
    qv_domdef_addr_clear(&s->addr);
    g_free(s->alias);
    g_free(s);
}

void qv_domdef_redirdev_free(void *p)
{
    qv_domdef_redirdev *r = p;
    if (!r)
        return;
    g_free(r->bus);
    qv_domdef_chr_source_clear(&r->src);
    qv_domdef_addr_clear(&r->addr);
    g_free(r->alias);
    g_free(r);
}

void qv_domdef_metadata_elem_free(void *p)
{
    qv_domdef_metadata_elem *m = p;
    if (!m)
        return;
    g_free(m->uri); g_free(m->prefix); g_free(m->xml);
    g_free(m);
}

static void cpu_feature_free(void *p)
{
    qv_domdef_cpu_feature *f = p;
    g_free(f->policy); g_free(f->name); g_free(f);
}

static void numa_cell_free(void *p)
{
    qv_domdef_numa_cell *c = p;
    g_free(c->cpus); g_free(c->mem_access); g_free(c->discard); g_free(c);
}

static void timer_free(void *p)
{
    qv_domdef_timer *t = p;
    g_free(t->name); g_free(t->tickpolicy); g_free(t->track); g_free(t);
}

static void feature_free(void *p)
{
    qv_domdef_feature *f = p;
    g_free(f->name); g_free(f->value); g_free(f);
}

qv_domdef *qv_domdef_new(void)
{
    /* Not g_new0: glibc's calloc bypasses its per-thread cache, and at about
     * 1 KiB (sizeof(qv_domdef) is 1024; the cache takes up to 1032) the struct
     * is then a large-bin request that makes malloc consolidate the fast bins
     * on every parse. Together with qv_xml_dump's kept buffer this took
     * bench/domxml from ~26,500 to ~30,000 domains/s. */
    qv_domdef *def = g_new(qv_domdef, 1);
    memset(def, 0, sizeof(*def));
    def->id = -1;
    def->on_reboot = QV_DOMDEF_LIFECYCLE_RESTART;
    def->metadata = g_ptr_array_new_with_free_func(qv_domdef_metadata_elem_free);
    def->seclabels = g_ptr_array_new_with_free_func(g_free);
    def->os.boot_devs = g_ptr_array_new_with_free_func(g_free);
    def->os.bootmenu_timeout = -1;
    def->os.bios_reboot_timeout = -1;
    def->features.hyperv_features = g_ptr_array_new_with_free_func(feature_free);
    def->features.kvm_features = g_ptr_array_new_with_free_func(feature_free);
    def->cpu.features = g_ptr_array_new_with_free_func(cpu_feature_free);
    def->cpu.cells = g_ptr_array_new_with_free_func(numa_cell_free);
    def->timers = g_ptr_array_new_with_free_func(timer_free);
    def->disks = g_ptr_array_new_with_free_func(qv_domdef_disk_free);
    def->controllers = g_ptr_array_new_with_free_func(qv_domdef_controller_free);
    def->nets = g_ptr_array_new_with_free_func(qv_domdef_net_free);
    def->chrs = g_ptr_array_new_with_free_func(qv_domdef_chr_free);
    def->inputs = g_ptr_array_new_with_free_func(qv_domdef_input_free);
    def->graphics = g_ptr_array_new_with_free_func(qv_domdef_graphics_free);
    def->videos = g_ptr_array_new_with_free_func(qv_domdef_video_free);
    def->sounds = g_ptr_array_new_with_free_func(qv_domdef_sound_free);
    def->audios = g_ptr_array_new_with_free_func(qv_domdef_audio_free);
    def->watchdogs = g_ptr_array_new_with_free_func(qv_domdef_watchdog_free);
    def->rngs = g_ptr_array_new_with_free_func(qv_domdef_rng_free);
    def->panics = g_ptr_array_new_with_free_func(qv_domdef_panic_free);
    def->shmems = g_ptr_array_new_with_free_func(qv_domdef_shmem_free);
    def->tpms = g_ptr_array_new_with_free_func(qv_domdef_tpm_free);
    def->smartcards = g_ptr_array_new_with_free_func(qv_domdef_smartcard_free);
    def->redirdevs = g_ptr_array_new_with_free_func(qv_domdef_redirdev_free);
    def->hubs = g_ptr_array_new_with_free_func(qv_domdef_hub_free);
    def->hostdevs = g_ptr_array_new_with_free_func(qv_domdef_hostdev_free);
    def->filesystems = g_ptr_array_new_with_free_func(qv_domdef_fs_free);
    def->memdevs = g_ptr_array_new_with_free_func(qv_domdef_memdev_free);
    return def;
}

void qv_domdef_free(qv_domdef *def)
{
    if (!def)
        return;
    g_free(def->name); g_free(def->title); g_free(def->description);
    g_ptr_array_unref(def->metadata);
    g_free(def->mb_source); g_free(def->mb_access); g_free(def->mb_allocation);
    rare_free(def->rare);
    g_free(def->vcpu_placement); g_free(def->vcpu_cpuset);
    g_free(def->raw_vcpus); g_free(def->raw_iothreadids);
    qv_domdef_tune_clear(def);
    g_free(def->raw_resource); g_free(def->raw_sysinfo); g_free(def->raw_perf);
    g_free(def->raw_keywrap);
    g_ptr_array_unref(def->seclabels);

    qv_domdef_os *os = &def->os;
    g_free(os->type); g_free(os->arch); g_free(os->machine); g_free(os->firmware);
    g_free(os->kernel); g_free(os->initrd); g_free(os->cmdline); g_free(os->dtb);
    g_free(os->acpi_table_type); g_free(os->acpi_table);
    g_free(os->loader); g_free(os->loader_type); g_free(os->loader_readonly);
    g_free(os->loader_secure); g_free(os->nvram); g_free(os->nvram_template);
    g_ptr_array_unref(os->boot_devs);
    g_free(os->smbios_mode);

    g_free(def->features.ioapic_driver); g_free(def->features.hyperv_mode);
    g_ptr_array_unref(def->features.hyperv_features);
    g_ptr_array_unref(def->features.kvm_features);

    qv_domdef_cpu *cpu = &def->cpu;
    g_free(cpu->mode); g_free(cpu->match); g_free(cpu->check); g_free(cpu->migratable);
    g_free(cpu->model); g_free(cpu->model_fallback); g_free(cpu->vendor);
    g_ptr_array_unref(cpu->features);
    g_ptr_array_unref(cpu->cells);

    g_free(def->clock_offset); g_free(def->clock_timezone); g_free(def->clock_basis);
    g_ptr_array_unref(def->timers);
    g_free(def->on_lockfailure);
    g_free(def->emulator);

    GPtrArray *lists[] = {
        def->disks, def->controllers, def->nets, def->chrs, def->inputs, def->graphics,
        def->videos, def->sounds, def->audios, def->watchdogs, def->rngs, def->panics,
        def->shmems, def->tpms, def->smartcards, def->redirdevs, def->hubs, def->hostdevs,
        def->filesystems, def->memdevs,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(lists); i++)
        g_ptr_array_unref(lists[i]);
    qv_domdef_memballoon_free(def->memballoon);
    qv_domdef_vsock_free(def->vsock);
    qv_domdef_iommu_free(def->iommu);
    g_free(def);
}

/* A copy through the formatter and the parser: one code path that is tested
 * by every golden case, instead of a hand-written deep copy per struct that
 * silently falls behind when a field is added. */
qv_domdef *qv_domdef_copy(const qv_domdef *def)
{
    g_autofree char *xml = qv_domxml_format(def, QV_DOMXML_FORMAT_SECURE);
    qv_domdef *copy = NULL;
    qv_error *err = NULL;
    int r = qv_domxml_parse(xml, QV_DOMXML_PARSE_STATUS, &copy, &err);
    if (r < 0) {
        /* The formatter only writes what the parser accepts. */
        g_warning("qv_domdef_copy: %s", qv_error_message(err));
        qv_error_free(err);
        g_assert_not_reached();
    }
    return copy;
}

const char *qv_domdef_lifecycle_to_string(int action)
{
    static const char *const names[] = {
        "destroy", "restart", "preserve", "rename-restart", "coredump-destroy", "coredump-restart",
    };
    if (action < 0 || action >= (int)G_N_ELEMENTS(names))
        return "destroy";
    return names[action];
}

bool qv_domdef_is_q35(const qv_domdef *def)
{
    return def->os.machine && (g_str_has_prefix(def->os.machine, "pc-q35") ||
                               strcmp(def->os.machine, "q35") == 0);
}

qv_domdef_controller *qv_domdef_find_controller(const qv_domdef *def, int type, unsigned int index)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type == type && c->index == index)
            return c;
    }
    return NULL;
}

/* ---- UUIDs ---- */
void qv_uuid_format(const unsigned char uuid[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[uuid[i] >> 4];
        out[o++] = hex[uuid[i] & 15];
    }
    out[o] = '\0';
}

int qv_uuid_parse(const char *s, unsigned char uuid[16])
{
    int n = 0;
    if (!s)
        return -EINVAL;
    while (g_ascii_isspace(*s))
        s++;
    while (*s && n < 32) {
        if (*s == '-') {
            s++;
            continue;
        }
        if (!g_ascii_isxdigit(*s))
            return -EINVAL;
        int v = g_ascii_xdigit_value(*s);
        if (n % 2 == 0)
            uuid[n / 2] = v << 4;
        else
            uuid[n / 2] |= v;
        n++;
        s++;
    }
    while (g_ascii_isspace(*s))
        s++;
    if (n != 32 || *s)
        return -EINVAL;
    return 0;
}

void qv_uuid_generate(unsigned char uuid[16])
{
    for (int i = 0; i < 16; i += 4) {
        guint32 r = g_random_int();
        memcpy(uuid + i, &r, 4);
    }
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
}

/* ---- metadata ---- */
int qv_domdef_get_metadata(const qv_domdef *def, int type, const char *uri, char **ret,
                           qv_error **err)
{
    const char *v = NULL;
    switch (type) {
    case 0: v = def->description; break;
    case 1: v = def->title; break;
    case 2:
        if (!uri)
            return qv_error_set(err, -EINVAL, "A metadata element needs a namespace URI.");
        for (guint i = 0; i < def->metadata->len; i++) {
            qv_domdef_metadata_elem *m = g_ptr_array_index(def->metadata, i);
            if (m->uri && strcmp(m->uri, uri) == 0) {
                v = m->xml;
                break;
            }
        }
        if (!v)
            return qv_error_set(err, -ENOENT, "The domain has no metadata element in namespace '%s'.", uri);
        break;
    default:
        return qv_error_set(err, -EINVAL, "Unknown metadata type %d.", type);
    }
    if (!v)
        return qv_error_set(err, -ENOENT, "The domain has no %s.", type == 0 ? "description" : "title");
    *ret = g_strdup(v);
    return 0;
}

static void set_ns_recursive(xmlNode *node, xmlNs *ns)
{
    for (xmlNode *n = node; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        n->ns = ns;
        set_ns_recursive(n->children, ns);
    }
}

int qv_domdef_set_metadata(qv_domdef *def, int type, const char *value, const char *key,
                           const char *uri, qv_error **err)
{
    switch (type) {
    case 0:
        g_free(def->description);
        def->description = g_strdup(value && *value ? value : NULL);
        return 0;
    case 1:
        if (value && strchr(value, '\n'))
            return qv_error_set(err, -EINVAL, "A domain title must be one line.");
        g_free(def->title);
        def->title = g_strdup(value && *value ? value : NULL);
        return 0;
    case 2:
        break;
    default:
        return qv_error_set(err, -EINVAL, "Unknown metadata type %d.", type);
    }
    if (!uri || !*uri)
        return qv_error_set(err, -EINVAL, "A metadata element needs a namespace URI.");
    for (guint i = 0; i < def->metadata->len; i++) {
        qv_domdef_metadata_elem *m = g_ptr_array_index(def->metadata, i);
        if (m->uri && strcmp(m->uri, uri) == 0) {
            g_ptr_array_remove_index(def->metadata, i);
            break;
        }
    }
    if (!value)
        return 0;
    if (!key || !*key || xmlValidateNCName((const xmlChar *)key, 0) != 0)
        return qv_error_set(err, -EINVAL, "A metadata element needs a valid namespace prefix (key).");
    if (strlen(value) > QV_DOMXML_MAX_SIZE)
        return qv_error_set(err, -EINVAL, "The metadata element is too large.");
    xmlDoc *doc = xmlReadMemory(value, (int)strlen(value), "metadata.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
    if (!doc || !xmlDocGetRootElement(doc) || doc->intSubset) {
        if (doc)
            xmlFreeDoc(doc);
        return qv_error_set(err, -EINVAL, "The metadata value is not one well-formed XML element.");
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNs *ns = xmlNewNs(root, (const xmlChar *)uri, (const xmlChar *)key);
    set_ns_recursive(root, ns);
    qv_domdef_metadata_elem *m = g_new0(qv_domdef_metadata_elem, 1);
    m->uri = g_strdup(uri);
    m->prefix = g_strdup(key);
    m->xml = qv_xml_dump(root);
    xmlFreeDoc(doc);
    g_ptr_array_add(def->metadata, m);
    return 0;
}

long long qv_domdef_passwd_expiry(const qv_domdef_graphics *g)
{
    if (!g->passwd_valid_to)
        return 0;
    /* libvirt's form, a UTC time without a zone (seconds may carry a
     * fraction, which libvirt ignores too). */
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(g->passwd_valid_to, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        (g->passwd_valid_to[n] && g->passwd_valid_to[n] != '.'))
        return -1;
    g_autoptr(GDateTime) t = g_date_time_new_utc(y, mo, d, h, mi, sec);
    return t ? (long long)g_date_time_to_unix(t) : -1;
}
