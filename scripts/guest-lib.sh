# Sourced by scripts/make-test-guest and scripts/cgroup2-vm: the pieces both
# need to turn Debian packages (or the host's own kernel) into a busybox
# initramfs. Bash only; callers run with `set -euo pipefail` and define
# die() before sourcing this file.

# --- Debian packages ----------------------------------------------------------

gl_apt_updated=0
gl_apt_update_once() {
    [ $gl_apt_updated -eq 0 ] || return 0
    gl_apt_updated=1
    echo "${0##*/}: refreshing the apt package lists (apt-get update)." >&2
    apt-get update -qq || die "'apt-get update' failed: the Debian archive is needed to fetch the guest packages."
}

# Kernel package behind the linux-image-amd64 metapackage, e.g. linux-image-6.1.0-56-amd64.
gl_kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

# gl_download DEBDIR PACKAGE...: `apt-get download` the packages that DEBDIR
# does not hold yet.
gl_download() {
    local debs=$1 p
    shift
    local missing=()
    for p in "$@"; do
        compgen -G "$debs/${p}_*.deb" >/dev/null || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    echo "${0##*/}: downloading ${missing[*]}" >&2
    # The _apt sandbox user may not write to DEBDIR; the files are only read here.
    gl_dl() { (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >/dev/null); }
    if ! gl_dl; then
        gl_apt_update_once
        gl_dl || die "'apt-get download ${missing[*]}' failed."
    fi
}

# gl_deb_of DEBDIR PACKAGE: the newest downloaded .deb of PACKAGE.
gl_deb_of() {
    local f
    f=$(compgen -G "$1/${2}_*.deb" | sort -V | tail -n 1) || true
    [ -n "$f" ] || die "the package $2 was not downloaded into $1."
    echo "$f"
}

# --- kernel modules -------------------------------------------------------------

# gl_index_modules MODDIR: fills gl_modpath[name] with each module's file
# (names with '-' spelled '_', as the kernel does).
declare -gA gl_modpath=()
gl_index_modules() {
    local f name
    gl_modpath=()
    while IFS= read -r -d '' f; do
        name=${f##*/}
        name=${name%%.ko*}
        gl_modpath[${name//-/_}]=$f
    done < <(find "$1/kernel" -name '*.ko*' -print0)
}

gl_decompress() {
    case "$1" in
        *.ko.xz) xz -dc "$1" ;;
        *.ko.zst) zstd -dc "$1" ;;
        *.ko.gz) gzip -dc "$1" ;;
        *) cat "$1" ;;
    esac
}

# The .modinfo section holds "depends=a,b"; read it without needing kmod.
gl_mod_depends() {
    gl_decompress "$1" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}

# gl_install_modules ROOT MODULE...: copies the modules and everything they
# depend on, decompressed (busybox insmod reads plain .ko files only), into
# ROOT/lib/modules, and lists them in dependency order in
# ROOT/etc/modules.order. A module absent from gl_modpath is taken as built
# in. Sets gl_module_count.
gl_install_modules() {
    local root=$1 m d
    shift
    local -A visited=()
    local order=()
    gl_visit() {
        local mod=$1 dep
        [ -z "${visited[$mod]:-}" ] || return 0
        visited[$mod]=1
        [ -n "${gl_modpath[$mod]:-}" ] || return 0   # built in, or absent in this kernel
        for dep in $(gl_mod_depends "${gl_modpath[$mod]}"); do
            gl_visit "${dep//-/_}"
        done
        order+=("$mod")
    }
    for m in "$@"; do gl_visit "$m"; done

    mkdir -p "$root/lib/modules" "$root/etc"
    : > "$root/etc/modules.order"
    for m in "${order[@]}"; do
        gl_decompress "${gl_modpath[$m]}" > "$root/lib/modules/$m.ko"
        echo "$m.ko" >> "$root/etc/modules.order"
    done
    gl_module_count=${#order[@]}
}

# --- packing ---------------------------------------------------------------------

# gl_pack_initramfs ROOT OUT: a gzip'd newc cpio of ROOT, owned by root,
# written to OUT.tmp and renamed, so a reader never sees half an image.
gl_pack_initramfs() {
    (cd "$1" && find . -print0 | LC_ALL=C sort -z \
        | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -6 > "$2.tmp"
    mv "$2.tmp" "$2"
}
