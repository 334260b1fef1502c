/* The tunables' cgroup files (lib/tune.c) against a temp folder laid out
 * like a domain's cgroup: what each <cputune>, <memtune>, <blkiotune> and
 * <numatune> setting writes where, in the units the kernel takes. The same
 * behaviours run on a real cgroup v2 in tests/cgroup2/. */
#include <errno.h>
#include <criterion/criterion.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <unistd.h>

#include "cgroup.h"
#include "internal.h"

static char *vm;

static void put(const char *in, const char *file, const char *text)
{
    g_autofree char *path = g_build_filename(in, file, NULL);
    cr_assert(g_file_set_contents(path, text, -1, NULL));
}

static char *get(const char *in, const char *file)
{
    g_autofree char *path = g_build_filename(in, file, NULL);
    char *text = NULL;
    cr_assert(g_file_get_contents(path, &text, NULL, NULL), "%s was not written", path);
    return g_strchomp(text);
}

static void setup(void)
{
    vm = g_dir_make_tmp("qvtune-XXXXXX", NULL);
    put(vm, "cgroup.controllers", "cpuset cpu io memory pids\n");
    put(vm, "cgroup.type", "domain threaded\n");
    put(vm, "cpu.max", "max 100000\n");
    /* The interface files cgroupfs has (writes never create files). */
    static const char *const files[] = { "cpu.weight", "memory.max", "memory.high", "memory.min",
                                         "memory.swap.max", "io.weight", "io.max",
                                         "cpuset.mems", "cpuset.cpus" };
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++)
        put(vm, files[i], "");
    g_autofree char *emu = g_build_filename(vm, "emulator", NULL);
    g_mkdir(emu, 0755);
    put(emu, "cgroup.controllers", "cpuset cpu pids\n");
    put(emu, "cpu.max", "max 100000\n");
    put(emu, "cpuset.cpus", "");
}

static void teardown(void)
{
    g_autofree char *parent = g_path_get_dirname(vm), *name = g_path_get_basename(vm);
    qv_cgroup_remove(parent, name, NULL);
    g_free(vm);
}

static qv_domdef *parse(const char *tune)
{
    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'><name>t</name><memory>65536</memory><vcpu>2</vcpu>"
        "<os><type>hvm</type></os>%s</domain>", tune);
    qv_domdef *def = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_domxml_parse(xml, 0, &def, &err), 0, "%s", err ? err->message : "");
    return def;
}

TestSuite(tune, .init = setup, .fini = teardown);

Test(tune, cputune_goes_to_weight_and_cpu_max)
{
    g_autoptr(qv_domdef) def = parse(
        "<cputune><shares>512</shares><global_period>50000</global_period>"
        "<global_quota>25000</global_quota><emulator_quota>-1</emulator_quota>"
        "<emulator_period>20000</emulator_period><emulatorpin cpuset='0'/></cputune>");
    qv_autoclose int fd = open(vm, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_tune_apply_vm(fd, def, &err), 0, "%s", err ? err->message : "");
    g_autofree char *w = get(vm, "cpu.weight"), *g = get(vm, "cpu.max");
    cr_assert_str_eq(w, "512");
    cr_assert_str_eq(g, "25000 50000");
    g_autofree char *emu = g_build_filename(vm, "emulator", NULL);
    g_autofree char *e = get(emu, "cpu.max"), *pin = get(emu, "cpuset.cpus");
    cr_assert_str_eq(e, "max 20000");
    cr_assert_str_eq(pin, "0");
}

Test(tune, memtune_is_written_in_bytes)
{
    g_autoptr(qv_domdef) def = parse(
        "<memtune><hard_limit unit='MiB'>300</hard_limit><soft_limit>204800</soft_limit>"
        "<min_guarantee unit='KiB'>1024</min_guarantee></memtune>");
    qv_autoclose int fd = open(vm, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_tune_apply_vm(fd, def, &err), 0, "%s", err ? err->message : "");
    g_autofree char *max = get(vm, "memory.max"), *high = get(vm, "memory.high");
    g_autofree char *min = get(vm, "memory.min");
    cr_assert_str_eq(max, "314572800");
    cr_assert_str_eq(high, "209715200");
    cr_assert_str_eq(min, "1048576");
    g_autofree char *swap = get(vm, "memory.swap.max");
    cr_assert_str_eq(swap, "", "an unset limit is not written");
}

Test(tune, blkio_weight_uses_bfq_when_the_host_has_it)
{
    g_autoptr(qv_domdef) def = parse("<blkiotune><weight>300</weight></blkiotune>");
    qv_autoclose int fd = open(vm, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_tune_apply_vm(fd, def, &err), 0, "%s", err ? err->message : "");
    g_autofree char *w = get(vm, "io.weight");
    cr_assert_str_eq(w, "default 300");
    put(vm, "io.bfq.weight", "default 100\n");
    cr_assert_eq(qv_tune_apply_vm(fd, def, &err), 0, "%s", err ? err->message : "");
    g_autofree char *b = get(vm, "io.bfq.weight");
    cr_assert_str_eq(b, "default 300");
}

Test(tune, blkio_devices_must_be_block_devices)
{
    g_autoptr(qv_domdef) def = parse(
        "<blkiotune><device><path>/dev/null</path><read_bytes_sec>1000</read_bytes_sec>"
        "</device></blkiotune>");
    qv_autoclose int fd = open(vm, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_tune_apply_vm(fd, def, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "/dev/null is not a block device"), "%s",
              qv_error_message(err));
}

Test(tune, numatune_nodeset_is_cpuset_mems)
{
    g_autoptr(qv_domdef) def = parse(
        "<numatune><memory mode='strict' nodeset='0'/></numatune>");
    qv_autoclose int fd = open(vm, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_tune_apply_vm(fd, def, &err), 0, "%s", err ? err->message : "");
    g_autofree char *m = get(vm, "cpuset.mems");
    cr_assert_str_eq(m, "0");
}

Test(tune, a_missing_controller_is_named)
{
    /* cgroupfs has no cpu.* files where the cpu controller is not enabled. */
    put(vm, "cgroup.controllers", "cpuset io memory pids\n");
    g_autofree char *weight = g_build_filename(vm, "cpu.weight", NULL);
    g_unlink(weight);
    g_autoptr(qv_domdef) def = parse("<cputune><shares>512</shares></cputune>");
    qv_autoclose int fd = open(vm, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_tune_apply_vm(fd, def, &err), -ENOENT);
    cr_assert(strstr(qv_error_message(err), "the cpu controller is not enabled for this cgroup "
                     "(write +cpu to cgroup.subtree_control of its parent)"), "%s",
              qv_error_message(err));
}
