#!/bin/sh
# Runs a command as nobody, with nobody's own service manager (systemd
# --user, started here) and its session bus: how an ordinary user's
# domains get a delegated subtree of their own under systemd. Inside the
# scripts/cgroup2-vm --systemd guest only.
set -e
uid=$(id -u nobody)
gid=$(id -g nobody)
systemctl start "user@$uid.service"
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups \
    env XDG_RUNTIME_DIR="/run/user/$uid" DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" \
    HOME=/tmp "$@"
