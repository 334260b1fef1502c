/* Test helper: the DES block cipher, only for the response a VNC client
 * sends to the server's challenge (RFB's "VNC authentication"). */
#pragma once
#include <stdint.h>

void des_encrypt_block(const uint8_t key[8], const uint8_t in[8], uint8_t out[8]);
/* The 16-byte response to a VNC challenge for password. */
void vnc_auth_response(const char *password, const uint8_t challenge[16], uint8_t response[16]);
