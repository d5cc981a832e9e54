/* Device identity proofs (connect.params.device): Ed25519 signatures over the v3 (or v2)
 * device-auth payload, checked the way OpenClaw 2026.9.6's gateway checks them; plus the
 * base64url codec and the device-token format that go with them. See device_sig.c. */
#ifndef CG_AUTH_DEVICE_SIG_H
#define CG_AUTH_DEVICE_SIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* signedAt may differ from now by at most this much, either way (inclusive). */
#define CG_DEVICE_SIG_SKEW_MS 120000
/* base64url (no padding) of a raw 32-byte Ed25519 public key, without the NUL. */
#define CG_DEVICE_PUBLIC_KEY_LEN 43
/* A device token: 32 random bytes as base64url without padding, plus the NUL. */
#define CG_DEVICE_TOKEN_SIZE 44

/* The outcomes, in the order the checks run. */
typedef enum {
    CG_DEVICE_SIG_OK,
    CG_DEVICE_SIG_ID_MISMATCH,    /* id is not the hex SHA-256 of the key, or bad key */
    CG_DEVICE_SIG_EXPIRED,        /* signedAt not an integer within 2 minutes of now */
    CG_DEVICE_SIG_NONCE_REQUIRED, /* nonce blank after trimming */
    CG_DEVICE_SIG_NONCE_MISMATCH, /* nonce is not this connection's challenge nonce */
    CG_DEVICE_SIG_INVALID,        /* neither the v3 nor the v2 payload verifies */
} cg_device_sig_result;

/* What a verified proof established. */
typedef struct cg_device_proof {
    /* The key in canonical form (base64url of the raw 32 bytes, whatever form was sent:
     * padded, standard alphabet or PEM); what pairing records compare. */
    char public_key[CG_DEVICE_PUBLIC_KEY_LEN + 1];
    int version; /* the payload that verified: 3 or 2; 0 when nothing was verified */
} cg_device_proof;

/* Verifies connect params' `device` (which must be present) against this connection's
 * challenge nonce and the wall clock now_ms. *proof is filled on CG_DEVICE_SIG_OK and
 * zeroed otherwise. The signed role is params.role (default "operator"), the scopes
 * params.scopes as sent, the token auth.token, else auth.deviceToken, else
 * auth.bootstrapToken, else "". */
cg_device_sig_result cg_device_sig_verify(const json_t *connect_params, const char *challenge_nonce,
                                          int64_t now_ms, cg_device_proof *proof);
/* The real gateway's names for a refusal: details.code ("DEVICE_AUTH_NONCE_MISMATCH"),
 * details.reason ("device-nonce-mismatch") and the error message ("device nonce
 * mismatch"). NULL for CG_DEVICE_SIG_OK. */
const char *cg_device_sig_code(cg_device_sig_result r);
const char *cg_device_sig_reason(cg_device_sig_result r);
const char *cg_device_sig_message(cg_device_sig_result r);

/* Bytes of output buffer cg_base64url_encode needs for n input bytes (NUL included). */
#define CG_BASE64URL_ENCODED_SIZE(n) ((4 * (n) + 2) / 3 + 1)
/* Longest text cg_base64url_decode takes (the real gateway's bound). */
#define CG_BASE64URL_MAX_INPUT 4096

/* base64url without padding, NUL-terminated. The length written (NUL excluded), or -1
 * when outlen < CG_BASE64URL_ENCODED_SIZE(len). */
int cg_base64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen);
/* Decodes base64url or standard base64, with or without padding (both alphabets are
 * accepted, as the real gateway does; any other character is refused, where Node's
 * decoder would skip it). 0 with *written set, or -1 when the text is not base64, is
 * longer than CG_BASE64URL_MAX_INPUT or decodes to more than outlen bytes. */
int cg_base64url_decode(const char *in, unsigned char *out, size_t outlen, size_t *written);

/* A fresh device token in the real gateway's format (RAND_bytes). */
void cg_device_token_new(char out[CG_DEVICE_TOKEN_SIZE]);

#endif
