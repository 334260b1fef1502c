# Sourced by scripts/test and scripts/demo: the Debian packages qvirt needs to
# build, test and run, and a function that installs the missing ones.
QVIRT_DEBS=(
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libjson-c-dev libxml2-dev libglib2.0-dev libcriterion-dev
  qemu-system-x86 qemu-utils
  ovmf                       # UEFI images and QEMU's firmware descriptors (<os firmware='efi'>)
  swtpm swtpm-tools          # <tpm><backend type='emulator'/>
  libvirt-clients            # virt-xml-validate and libvirt's schemas (round-trip tests)
  cpio xz-utils zstd kmod busybox-static
)

qvirt_install_deps() {
  local missing=()
  local p
  for p in "${QVIRT_DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "qvirt needs these Debian packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
