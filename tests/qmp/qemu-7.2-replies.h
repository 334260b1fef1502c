/* Replies recorded from qemu-system-x86_64 7.2 (Debian 1:7.2+dfsg-7+deb12u18)
 * run as `-machine none -S -nodefaults -display none` with a control
 * monitor on a socketpair. The "id" members are left out: the fake server
 * copies the request's id in, as QEMU does. Lines end in \r\n like QEMU's. */
#pragma once

#define QEMU72_GREETING \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
    "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define QEMU72_RETURN_EMPTY "{\"return\": {}}"
#define QEMU72_QUERY_STATUS_PRELAUNCH \
    "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false}}"
#define QEMU72_QUERY_FDSETS_EMPTY "{\"return\": []}"
#define QEMU72_EVENT_RESUME \
    "{\"timestamp\": {\"seconds\": 1795384881, \"microseconds\": 43065}, \"event\": \"RESUME\"}\r\n"
#define QEMU72_EVENT_STOP \
    "{\"timestamp\": {\"seconds\": 1795384881, \"microseconds\": 243453}, \"event\": \"STOP\"}\r\n"
#define QEMU72_EVENT_SHUTDOWN_QUIT \
    "{\"timestamp\": {\"seconds\": 1795384882, \"microseconds\": 245812}, \"event\": \"SHUTDOWN\", " \
    "\"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}}\r\n"
#define QEMU72_ERROR_COMMAND_NOT_FOUND \
    "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command no-such-cmd has not been found\"}}"
#define QEMU72_ERROR_CLOSEFD_NOPE \
    "{\"error\": {\"class\": \"GenericError\", \"desc\": \"File descriptor named 'nope' not found\"}}"
#define QEMU72_ERROR_DEVICE_NOT_FOUND \
    "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'nope' not found\"}}"
