/* Device identity proofs, as OpenClaw 2026.9.6's gateway checks them
 * (connect-device-proof.ts in its bundle; ../shared/REFERENCE.md "Device identity").
 *
 * A client proves it holds an Ed25519 key by signing
 *   v3|deviceId|clientId|clientMode|role|scopes|signedAtMs|token|nonce|platform|deviceFamily
 * (v2: the same without the last two fields). The checks run in the real gateway's order
 * and the first failure decides the refusal:
 *   1. device.id is the lowercase hex SHA-256 of the raw public key. The key is a PEM
 *      public key when its text contains "BEGIN", else base64url or base64 of the raw
 *      bytes; a key that does not decode fails here (device-id-mismatch), so a malformed
 *      key never reaches a later check;
 *   2. signedAt is an integer within CG_DEVICE_SIG_SKEW_MS of now, either way, inclusive
 *      (device-signature-stale);
 *   3. nonce, trimmed as JavaScript's String.prototype.trim does, is not empty
 *      (device-nonce-missing);
 *   4. it equals the connection's challenge nonce (device-nonce-mismatch);
 *   5. the signature verifies over the v3 payload, else over the v2 payload
 *      (device-signature). The signed fields are taken as sent: role defaults to
 *      "operator", scopes are params.scopes joined with ",", the token is the first of
 *      auth.token, auth.deviceToken, auth.bootstrapToken that is present (an empty one
 *      included), the nonce is the trimmed one, platform and deviceFamily (client.*) are
 *      trimmed and ASCII-lowercased; a missing field signs as "".
 * The real gateway's last check (device-public-key: the key does not normalize) cannot
 * fail once step 1 passed, since it decodes the same text; it has no outcome here.
 *
 * The base64 text is validated here (alphabet, padding, bounds) and decoded and encoded
 * by OpenSSL's EVP_DecodeBlock / EVP_EncodeBlock, a group at a time, so the output never
 * needs room for padding. OpenSSL failures leave entries on the thread's error queue,
 * which would confuse the TLS code on the same thread (SSL_get_error reads it): the
 * verifier clears it before returning. */
#include "auth/device_sig.h"

#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define ED25519_KEY_BYTES 32
#define ED25519_SIG_BYTES 64
/* The most bytes CG_BASE64URL_MAX_INPUT characters decode to. */
#define KEY_MAX_BYTES (CG_BASE64URL_MAX_INPUT / 4 * 3)

static const struct {
    const char *code, *reason, *message;
} refusals[] = {
    [CG_DEVICE_SIG_ID_MISMATCH] = {"DEVICE_AUTH_DEVICE_ID_MISMATCH", "device-id-mismatch",
                                   "device identity mismatch"},
    [CG_DEVICE_SIG_EXPIRED] = {"DEVICE_AUTH_SIGNATURE_EXPIRED", "device-signature-stale",
                               "device signature expired"},
    [CG_DEVICE_SIG_NONCE_REQUIRED] = {"DEVICE_AUTH_NONCE_REQUIRED", "device-nonce-missing",
                                      "device nonce required"},
    [CG_DEVICE_SIG_NONCE_MISMATCH] = {"DEVICE_AUTH_NONCE_MISMATCH", "device-nonce-mismatch",
                                      "device nonce mismatch"},
    [CG_DEVICE_SIG_INVALID] = {"DEVICE_AUTH_SIGNATURE_INVALID", "device-signature",
                               "device signature invalid"},
};

const char *cg_device_sig_code(cg_device_sig_result r)
{
    return refusals[r].code;
}

const char *cg_device_sig_reason(cg_device_sig_result r)
{
    return refusals[r].reason;
}

const char *cg_device_sig_message(cg_device_sig_result r)
{
    return refusals[r].message;
}

int cg_base64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
    size_t chars = CG_BASE64URL_ENCODED_SIZE(len) - 1, whole = len / 3 * 3;
    if (outlen < chars + 1 || whole > INT_MAX) return -1;
    if (whole) EVP_EncodeBlock((unsigned char *)out, in, (int)whole);
    if (len > whole) {
        unsigned char last[5];
        EVP_EncodeBlock(last, in + whole, (int)(len - whole));
        memcpy(out + whole / 3 * 4, last, len - whole + 1);
    }
    out[chars] = '\0';
    for (size_t i = 0; i < chars; i++) {
        if (out[i] == '+') out[i] = '-';
        if (out[i] == '/') out[i] = '_';
    }
    return (int)chars;
}

static bool base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '+' || c == '/';
}

/* Decodes one group of 2 to 4 characters (validated) into up to 3 bytes; returns how many. */
static size_t decode_group(const char *in, size_t n, unsigned char *out)
{
    unsigned char group[4] = {'=', '=', '=', '='}, bytes[3];
    for (size_t i = 0; i < n; i++)
        group[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : (unsigned char)in[i];
    EVP_DecodeBlock(bytes, group, 4);
    memcpy(out, bytes, n - 1);
    return n - 1;
}

int cg_base64url_decode(const char *in, unsigned char *out, size_t outlen, size_t *written)
{
    size_t n = strnlen(in, CG_BASE64URL_MAX_INPUT + 1);
    if (n > CG_BASE64URL_MAX_INPUT) return -1;
    for (int pad = 0; pad < 2 && n > 0 && in[n - 1] == '='; pad++)
        n--;
    if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > outlen) return -1;
    for (size_t i = 0; i < n; i++)
        if (!base64_char(in[i])) return -1;
    size_t w = 0;
    for (size_t i = 0; i < n; i += 4)
        w += decode_group(in + i, n - i < 4 ? n - i : 4, out + w);
    *written = w;
    return 0;
}

void cg_device_token_new(char out[CG_DEVICE_TOKEN_SIZE])
{
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) abort();
    cg_base64url_encode(raw, sizeof raw, out, CG_DEVICE_TOKEN_SIZE);
}

/* A JSON string's bytes (it may hold NULs); a missing or non-string value is "". */
typedef struct span {
    const char *p;
    size_t n;
} span;

static span str_of(const json_t *v)
{
    if (!json_is_string(v)) return (span){"", 0};
    return (span){json_string_value(v), json_string_length(v)};
}

/* Length of the JavaScript whitespace or line terminator (the set String.prototype.trim
 * removes) that starts at s, with n bytes available; 0 when there is none. */
static size_t js_space_len(const unsigned char *s, size_t n)
{
    if (n >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))) return 1;
    if (n >= 2 && s[0] == 0xC2 && s[1] == 0xA0) return 2;
    if (n < 3 || (s[0] & 0xF0) != 0xE0 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
    unsigned cp = (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
    bool space = cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
                 cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
    return space ? 3 : 0;
}

/* s without JavaScript whitespace at either end. UTF-8 is self-synchronizing, so a whole
 * encoded space at the end is found by trying the 1-, 2- and 3-byte forms. */
static span js_trim(span s)
{
    const unsigned char *p = (const unsigned char *)s.p;
    size_t k;
    while ((k = js_space_len(p, s.n)) > 0) {
        p += k;
        s.n -= k;
    }
    for (bool more = true; more;) {
        more = false;
        for (k = 1; k <= 3 && !more; k++)
            if (s.n >= k && js_space_len(p + s.n - k, k) == k) {
                s.n -= k;
                more = true;
            }
    }
    s.p = (const char *)p;
    return s;
}

static void append_span(cg_buf *b, span s)
{
    cg_buf_append(b, s.p, s.n);
}

/* platform / deviceFamily as signed: trimmed, A-Z lowered (nothing else). */
static void append_metadata(cg_buf *b, const json_t *v)
{
    span s = js_trim(str_of(v));
    size_t at = b->len;
    append_span(b, s);
    for (size_t i = at; i < b->len; i++)
        if (b->data[i] >= 'A' && b->data[i] <= 'Z') b->data[i] = (char)(b->data[i] - 'A' + 'a');
}

/* The signed token: the first of auth.token, auth.deviceToken, auth.bootstrapToken present. */
static span signed_token(const json_t *params)
{
    static const char *const keys[] = {"token", "deviceToken", "bootstrapToken"};
    const json_t *auth = json_object_get(params, "auth");
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_t *v = json_object_get(auth, keys[i]);
        if (v && !json_is_null(v)) return str_of(v);
    }
    return (span){"", 0};
}

/* The v3 payload into b; *v2_len is where its v2 form (with "v2" in front) ends. */
static void build_payload(cg_buf *b, const json_t *params, span nonce, json_int_t signed_at,
                          size_t *v2_len)
{
    const json_t *device = json_object_get(params, "device");
    const json_t *client = json_object_get(params, "client");
    const json_t *role = json_object_get(params, "role");
    cg_buf_appends(b, "v3|");
    append_span(b, str_of(json_object_get(device, "id")));
    cg_buf_appends(b, "|");
    append_span(b, str_of(json_object_get(client, "id")));
    cg_buf_appends(b, "|");
    append_span(b, str_of(json_object_get(client, "mode")));
    cg_buf_appends(b, "|");
    append_span(b, json_is_string(role) ? str_of(role) : (span){"operator", 8});
    cg_buf_appends(b, "|");
    const json_t *scopes = json_object_get(params, "scopes");
    size_t i;
    json_t *scope;
    json_array_foreach(scopes, i, scope)
    {
        if (i) cg_buf_appends(b, ",");
        append_span(b, str_of(scope));
    }
    char at[32];
    snprintf(at, sizeof at, "|%lld|", (long long)signed_at);
    cg_buf_appends(b, at);
    append_span(b, signed_token(params));
    cg_buf_appends(b, "|");
    append_span(b, nonce);
    *v2_len = b->len;
    cg_buf_appends(b, "|");
    append_metadata(b, json_object_get(client, "platform"));
    cg_buf_appends(b, "|");
    append_metadata(b, json_object_get(client, "deviceFamily"));
}

/* The raw public key bytes from its text: a PEM Ed25519 public key when the text contains
 * "BEGIN" (the real gateway's rule), else base64url or base64. 0, or -1. */
static int key_bytes(const char *text, unsigned char *raw, size_t cap, size_t *len)
{
    if (!strstr(text, "BEGIN")) return cg_base64url_decode(text, raw, cap, len);
    BIO *bio = BIO_new_mem_buf(text, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    *len = cap;
    int rc = key && EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 &&
                     EVP_PKEY_get_raw_public_key(key, raw, len) == 1
                 ? 0
                 : -1;
    EVP_PKEY_free(key);
    BIO_free(bio);
    return rc;
}

/* Whether id is the lowercase hex SHA-256 of the n raw key bytes. */
static bool id_matches(span id, const unsigned char *raw, size_t n)
{
    unsigned char digest[32];
    unsigned int dlen = 0;
    char hex[65];
    if (n == 0 || EVP_Digest(raw, n, digest, &dlen, EVP_sha256(), NULL) != 1) return false;
    for (unsigned i = 0; i < dlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return id.n == 2 * dlen && memcmp(id.p, hex, id.n) == 0;
}

static bool ed25519_verify(EVP_PKEY *key, const char *msg, size_t len, const unsigned char *sig,
                           size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
              EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* Step 5: 3 or 2 for the payload the signature verifies, else 0. */
static int signature_version(const json_t *params, const unsigned char *raw, size_t raw_len,
                             span nonce, json_int_t signed_at)
{
    unsigned char sig[ED25519_SIG_BYTES];
    size_t siglen;
    const char *sig_text =
        json_string_value(json_object_get(json_object_get(params, "device"), "signature"));
    if (raw_len != ED25519_KEY_BYTES || !sig_text ||
        cg_base64url_decode(sig_text, sig, sizeof sig, &siglen) != 0)
        return 0;
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, raw_len);
    if (!key) return 0;
    cg_buf payload = {0};
    size_t v2_len;
    build_payload(&payload, params, nonce, signed_at, &v2_len);
    int version = 0;
    if (ed25519_verify(key, payload.data, payload.len, sig, siglen)) {
        version = 3;
    } else {
        payload.data[1] = '2'; /* "v3|..." cut after the nonce is the v2 payload */
        if (ed25519_verify(key, payload.data, v2_len, sig, siglen)) version = 2;
    }
    cg_buf_reset(&payload);
    EVP_PKEY_free(key);
    return version;
}

static cg_device_sig_result verify(const json_t *params, const char *challenge_nonce,
                                   int64_t now_ms, cg_device_proof *proof)
{
    const json_t *device = json_object_get(params, "device");
    const char *key_text = json_string_value(json_object_get(device, "publicKey"));
    unsigned char raw[KEY_MAX_BYTES];
    size_t raw_len;
    if (!key_text || key_bytes(key_text, raw, sizeof raw, &raw_len) != 0 ||
        !id_matches(str_of(json_object_get(device, "id")), raw, raw_len))
        return CG_DEVICE_SIG_ID_MISMATCH;

    const json_t *at = json_object_get(device, "signedAt");
    if (!json_is_integer(at)) return CG_DEVICE_SIG_EXPIRED;
    json_int_t signed_at = json_integer_value(at);
    if (signed_at < now_ms - CG_DEVICE_SIG_SKEW_MS || signed_at > now_ms + CG_DEVICE_SIG_SKEW_MS)
        return CG_DEVICE_SIG_EXPIRED;

    span nonce = js_trim(str_of(json_object_get(device, "nonce")));
    if (nonce.n == 0) return CG_DEVICE_SIG_NONCE_REQUIRED;
    if (nonce.n != strlen(challenge_nonce) || memcmp(nonce.p, challenge_nonce, nonce.n) != 0)
        return CG_DEVICE_SIG_NONCE_MISMATCH;

    int version = signature_version(params, raw, raw_len, nonce, signed_at);
    if (!version) return CG_DEVICE_SIG_INVALID;
    proof->version = version;
    cg_base64url_encode(raw, raw_len, proof->public_key, sizeof proof->public_key);
    return CG_DEVICE_SIG_OK;
}

cg_device_sig_result cg_device_sig_verify(const json_t *connect_params, const char *challenge_nonce,
                                          int64_t now_ms, cg_device_proof *proof)
{
    *proof = (cg_device_proof){0};
    cg_device_sig_result r = verify(connect_params, challenge_nonce, now_ms, proof);
    ERR_clear_error();
    return r;
}
