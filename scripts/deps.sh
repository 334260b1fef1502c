# Sourced by scripts/test and scripts/demo: the Debian packages qvirt needs to
# build, test and run, and a function that installs the missing ones.
QVIRT_DEBS=(
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libjson-c-dev libxml2-dev libglib2.0-dev libcriterion-dev
  qemu-system-x86 qemu-utils
  qemu-block-extra           # network disks: iscsi, rbd, gluster, nfs, ssh and curl block drivers
  ovmf                       # UEFI images and QEMU's firmware descriptors (<os firmware='efi'>)
  swtpm swtpm-tools          # <tpm><backend type='emulator'/>
  libvirt-clients            # virt-xml-validate and libvirt's schemas (round-trip tests)
  cpio xz-utils zstd kmod busybox-static   # the test guest's and scripts/cgroup2-vm's initramfs
  util-linux                 # setpriv and flock (scripts/cgroup2-vm)
  systemd dbus systemd-container   # scripts/cgroup2-vm --systemd: PID 1, the system bus, machined
  openssh-client             # qvirt+ssh:// migration: runs qvirt on the remote host
  openssh-server iproute2    # its test: an sshd in a network namespace
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

# The unprivileged user a root caller's QEMU runs as (lib/qemu-user.h), in
# group kvm so KVM guests can open /dev/kvm; like libvirt's libvirt-qemu.
QVIRT_QEMU_USER=qvirt-qemu

qvirt_create_qemu_user() {
  getent passwd "$QVIRT_QEMU_USER" >/dev/null && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "qvirt runs a root caller's QEMU as user $QVIRT_QEMU_USER; create it as root:" >&2
    echo "  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $QVIRT_QEMU_USER" >&2
    return 1
  fi
  getent group kvm >/dev/null || groupadd --system kvm
  useradd --system --user-group --groups kvm --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$QVIRT_QEMU_USER"
}
