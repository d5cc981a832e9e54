/* Device identity proofs (auth/device_sig.c) and the connect step over them.
 *
 * Keys are generated here with OpenSSL and payloads written out by hand, independently of
 * the verifier's own builder. One vector was signed by Node's crypto (the seed 0x01..0x20
 * key; `node tests/integration/lib/device.mjs` prints and pins it) to show the two
 * implementations agree on the key encoding, the id and the payload text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/device_sig.h"
#include "proto/handshake.h"

#define NOW 1760000000000LL
#define NONCE "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"

typedef struct ident {
    EVP_PKEY *key;
    char public_key[64]; /* base64url raw */
    char id[65];         /* hex SHA-256 of the raw key */
} ident;

static void ident_from(ident *d, EVP_PKEY *key)
{
    unsigned char raw[32], digest[32];
    size_t len = sizeof raw;
    d->key = key;
    assert_int_equal(EVP_PKEY_get_raw_public_key(key, raw, &len), 1);
    assert_int_equal(cg_base64url_encode(raw, len, d->public_key, sizeof d->public_key), 43);
    assert_int_equal(EVP_Digest(raw, len, digest, NULL, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 32; i++)
        snprintf(d->id + 2 * i, 3, "%02x", digest[i]);
}

static void ident_new(ident *d)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(key);
    ident_from(d, key);
}

/* The signature over text, base64url. */
static void sign_text(const ident *d, const char *text, char *out, size_t outlen)
{
    unsigned char sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, d->key), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)text, strlen(text)),
                     1);
    EVP_MD_CTX_free(ctx);
    assert_true(cg_base64url_encode(sig, siglen, out, outlen) > 0);
}

/* Connect params as an operator CLI on Linux with a token, signed over `payload`. */
static json_t *params_signed(const ident *d, const char *payload, long long signed_at,
                             const char *nonce)
{
    char sig[128];
    sign_text(d, payload, sig, sizeof sig);
    return json_pack("{s:{s:s, s:s, s:s, s:s}, s:s, s:[s, s], s:{s:s},"
                     " s:{s:s, s:s, s:s, s:I, s:s}}",
                     "client", "id", "cli", "mode", "cli", "platform", "  Linux ", "deviceFamily",
                     "MacBookPro", "role", "operator", "scopes", "operator.read", "operator.write",
                     "auth", "token", "tok-123", "device", "id", d->id, "publicKey", d->public_key,
                     "signature", sig, "signedAt", (json_int_t)signed_at, "nonce", nonce);
}

/* The v3 / v2 payloads for params_signed's fields. */
static void payload_v3(char *out, size_t len, const ident *d, long long signed_at,
                       const char *nonce)
{
    snprintf(out, len,
             "v3|%s|cli|cli|operator|operator.read,operator.write|%lld|tok-123|%s|"
             "linux|macbookpro",
             d->id, signed_at, nonce);
}

static void payload_v2(char *out, size_t len, const ident *d, long long signed_at,
                       const char *nonce)
{
    snprintf(out, len, "v2|%s|cli|cli|operator|operator.read,operator.write|%lld|tok-123|%s", d->id,
             signed_at, nonce);
}

static json_t *params_v3(const ident *d, long long signed_at)
{
    char payload[512];
    payload_v3(payload, sizeof payload, d, signed_at, NONCE);
    return params_signed(d, payload, signed_at, NONCE);
}

static cg_device_sig_result check(const json_t *params, int64_t now)
{
    cg_device_proof proof;
    return cg_device_sig_verify(params, NONCE, now, &proof);
}

static void set_device(json_t *params, const char *key, json_t *value)
{
    json_object_set_new(json_object_get(params, "device"), key, value);
}

static void test_v3_and_v2_verify(void **state)
{
    ident d;
    ident_new(&d);
    char payload[512];
    cg_device_proof proof;

    json_t *p = params_v3(&d, NOW);
    assert_int_equal(cg_device_sig_verify(p, NONCE, NOW, &proof), CG_DEVICE_SIG_OK);
    assert_int_equal(proof.version, 3);
    assert_string_equal(proof.public_key, d.public_key);
    json_decref(p);

    payload_v2(payload, sizeof payload, &d, NOW, NONCE);
    p = params_signed(&d, payload, NOW, NONCE);
    assert_int_equal(cg_device_sig_verify(p, NONCE, NOW, &proof), CG_DEVICE_SIG_OK);
    assert_int_equal(proof.version, 2);
    json_decref(p);

    /* v3 with the metadata as sent instead of normalized does not verify. */
    snprintf(payload, sizeof payload,
             "v3|%s|cli|cli|operator|operator.read,operator.write|%lld|tok-123|%s|  Linux "
             "|MacBookPro",
             d.id, NOW, NONCE);
    p = params_signed(&d, payload, NOW, NONCE);
    assert_int_equal(cg_device_sig_verify(p, NONCE, NOW, &proof), CG_DEVICE_SIG_INVALID);
    assert_int_equal(proof.version, 0);
    assert_string_equal(proof.public_key, "");
    json_decref(p);
    EVP_PKEY_free(d.key);
}

static void test_signed_fields(void **state)
{
    ident d;
    ident_new(&d);
    char payload[512];
    /* Tampering with any signed field breaks the signature. */
    const char *edits[][2] = {{"role", "node"}, {"scopes", "operator.admin"}};
    for (size_t i = 0; i < 2; i++) {
        json_t *p = params_v3(&d, NOW);
        json_object_set_new(p, edits[i][0],
                            i == 0 ? json_string(edits[i][1]) : json_pack("[s]", edits[i][1]));
        assert_int_equal(check(p, NOW), CG_DEVICE_SIG_INVALID);
        json_decref(p);
    }
    json_t *p = params_v3(&d, NOW);
    json_object_set_new(json_object_get(p, "client"), "platform", json_string("darwin"));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_INVALID);
    json_decref(p);

    /* Role defaults to operator; no scopes, no auth and no metadata sign as "". */
    snprintf(payload, sizeof payload, "v3|%s|cli|cli|operator||%lld||%s||", d.id, NOW, NONCE);
    p = params_signed(&d, payload, NOW, NONCE);
    json_object_del(p, "role");
    json_object_del(p, "scopes");
    json_object_del(p, "auth");
    json_object_del(json_object_get(p, "client"), "platform");
    json_object_del(json_object_get(p, "client"), "deviceFamily");
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_OK);
    json_decref(p);

    /* The token: auth.token (even empty), else deviceToken, else bootstrapToken. */
    struct {
        const char *auth, *signed_token;
    } tokens[] = {
        {"{\"token\":\"\",\"deviceToken\":\"dt\"}", ""},
        {"{\"deviceToken\":\"dt\",\"bootstrapToken\":\"bt\"}", "dt"},
        {"{\"token\":null,\"bootstrapToken\":\"bt\"}", "bt"},
        {"{\"password\":\"pw\"}", ""},
    };
    for (size_t i = 0; i < sizeof tokens / sizeof *tokens; i++) {
        snprintf(payload, sizeof payload,
                 "v3|%s|cli|cli|operator|operator.read,operator.write|%lld|%s|%s|linux|macbookpro",
                 d.id, NOW, tokens[i].signed_token, NONCE);
        p = params_signed(&d, payload, NOW, NONCE);
        json_object_set_new(p, "auth", json_loads(tokens[i].auth, 0, NULL));
        assert_int_equal(check(p, NOW), CG_DEVICE_SIG_OK);
        json_decref(p);
    }

    /* platform/deviceFamily lose JavaScript whitespace (NBSP, BOM, U+2028, U+3000) at the
     * ends, and only A-Z is lowered. */
    snprintf(payload, sizeof payload,
             "v3|%s|cli|cli|operator|operator.read,operator.write|%lld|tok-123|%s|l\xc3\x84nux|"
             "mac",
             d.id, NOW, NONCE);
    p = params_signed(&d, payload, NOW, NONCE);
    json_object_set_new(json_object_get(p, "client"), "platform",
                        json_string("\xc2\xa0\xef\xbb\xbfL\xc3\x84NUX\xe2\x80\xa8"));
    json_object_set_new(json_object_get(p, "client"), "deviceFamily",
                        json_string("\xe3\x80\x80MAC\t"));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_OK);
    json_decref(p);
    EVP_PKEY_free(d.key);
}

static void test_id_and_key_refusals(void **state)
{
    ident d, other;
    ident_new(&d);
    ident_new(&other);

    json_t *p = params_v3(&d, NOW);
    set_device(p, "id", json_string(other.id));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_ID_MISMATCH);
    for (char *c = d.id; *c; c++)
        if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
    set_device(p, "id", json_string(d.id)); /* uppercase hex is another id */
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_ID_MISMATCH);
    json_decref(p);

    /* A malformed key fails the id check, which runs before everything else: here the
     * signature time and nonce are wrong too. */
    const char *bad_keys[] = {"not base64!", "", "Q", "-----BEGIN PUBLIC KEY-----\nxx\n"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
        p = params_v3(&d, NOW - 10 * 60 * 1000);
        set_device(p, "publicKey", json_string(bad_keys[i]));
        set_device(p, "nonce", json_string("other"));
        assert_int_equal(check(p, NOW), CG_DEVICE_SIG_ID_MISMATCH);
        json_decref(p);
    }
    p = params_v3(&d, NOW);
    set_device(p, "publicKey", json_integer(5));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_ID_MISMATCH);
    json_decref(p);

    /* A 31-byte key whose id matches passes the id check and fails as a signature, as
     * the real gateway's does (it hashes whatever the text decodes to). */
    unsigned char raw[31] = {1, 2, 3}, digest[32];
    char text[64], id[65];
    cg_base64url_encode(raw, sizeof raw, text, sizeof text);
    EVP_Digest(raw, sizeof raw, digest, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(id + 2 * i, 3, "%02x", digest[i]);
    p = params_v3(&d, NOW);
    set_device(p, "publicKey", json_string(text));
    set_device(p, "id", json_string(id));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_INVALID);
    json_decref(p);
    EVP_PKEY_free(d.key);
    EVP_PKEY_free(other.key);
}

static void test_key_forms(void **state)
{
    ident d;
    ident_new(&d);
    cg_device_proof proof;

    /* Standard alphabet with padding: accepted, reported in canonical form. */
    unsigned char raw[32];
    size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(d.key, raw, &len);
    char std[64];
    EVP_EncodeBlock((unsigned char *)std, raw, 32);
    json_t *p = params_v3(&d, NOW);
    set_device(p, "publicKey", json_string(std));
    assert_int_equal(cg_device_sig_verify(p, NONCE, NOW, &proof), CG_DEVICE_SIG_OK);
    assert_string_equal(proof.public_key, d.public_key);
    json_decref(p);

    /* A PEM public key. */
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, d.key);
    char *pem;
    long n = BIO_get_mem_data(bio, &pem);
    p = params_v3(&d, NOW);
    set_device(p, "publicKey", json_stringn(pem, (size_t)n));
    assert_int_equal(cg_device_sig_verify(p, NONCE, NOW, &proof), CG_DEVICE_SIG_OK);
    assert_string_equal(proof.public_key, d.public_key);
    json_decref(p);
    BIO_free(bio);
    EVP_PKEY_free(d.key);
}

static void test_skew_boundaries(void **state)
{
    ident d;
    ident_new(&d);
    struct {
        long long signed_at;
        cg_device_sig_result want;
    } cases[] = {
        {NOW, CG_DEVICE_SIG_OK},
        {NOW - CG_DEVICE_SIG_SKEW_MS, CG_DEVICE_SIG_OK},
        {NOW + CG_DEVICE_SIG_SKEW_MS, CG_DEVICE_SIG_OK},
        {NOW - CG_DEVICE_SIG_SKEW_MS - 1, CG_DEVICE_SIG_EXPIRED},
        {NOW + CG_DEVICE_SIG_SKEW_MS + 1, CG_DEVICE_SIG_EXPIRED},
        {0, CG_DEVICE_SIG_EXPIRED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *p = params_v3(&d, cases[i].signed_at);
        assert_int_equal(check(p, NOW), cases[i].want);
        json_decref(p);
    }
    json_t *p = params_v3(&d, NOW);
    set_device(p, "signedAt", json_string("1760000000000"));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_EXPIRED);
    /* Skew is checked before the nonce. */
    set_device(p, "nonce", json_string("other"));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_EXPIRED);
    json_decref(p);
    EVP_PKEY_free(d.key);
}

static void test_nonce_refusals(void **state)
{
    ident d;
    ident_new(&d);
    const char *blank[] = {"", "   ", "\t\n", "\xc2\xa0\xe3\x80\x80"};
    for (size_t i = 0; i < sizeof blank / sizeof *blank; i++) {
        json_t *p = params_v3(&d, NOW);
        set_device(p, "nonce", json_string(blank[i]));
        assert_int_equal(check(p, NOW), CG_DEVICE_SIG_NONCE_REQUIRED);
        json_decref(p);
    }
    json_t *p = params_v3(&d, NOW);
    json_object_del(json_object_get(p, "device"), "nonce");
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_NONCE_REQUIRED);
    json_decref(p);

    p = params_v3(&d, NOW);
    cg_device_proof proof;
    assert_int_equal(cg_device_sig_verify(p, "another-challenge", NOW, &proof),
                     CG_DEVICE_SIG_NONCE_MISMATCH);
    /* Nonce checks come before the signature. */
    set_device(p, "signature", json_string("AAAA"));
    set_device(p, "nonce", json_string(NONCE "x"));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_NONCE_MISMATCH);
    json_decref(p);

    /* A padded nonce is trimmed, and the trimmed nonce is what was signed. */
    char payload[512];
    payload_v3(payload, sizeof payload, &d, NOW, NONCE);
    p = params_signed(&d, payload, NOW, " " NONCE "\xc2\xa0");
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_OK);
    json_decref(p);
    EVP_PKEY_free(d.key);
}

static void test_signature_refusals(void **state)
{
    ident d;
    ident_new(&d);
    json_t *p = params_v3(&d, NOW);
    const char *sig = json_string_value(json_object_get(json_object_get(p, "device"), "signature"));
    unsigned char raw[70];
    size_t len;
    assert_int_equal(cg_base64url_decode(sig, raw, sizeof raw, &len), 0);
    assert_int_equal(len, 64);
    char text[128], padded[128];

    /* Padded form of the right signature: accepted (the real gateway pads anyway). */
    snprintf(padded, sizeof padded, "%s==", sig);
    set_device(p, "signature", json_string(padded));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_OK);

    size_t lengths[] = {63, 65, 0};
    for (size_t i = 0; i < 3; i++) {
        cg_base64url_encode(raw, lengths[i], text, sizeof text);
        set_device(p, "signature", json_string(text));
        assert_int_equal(check(p, NOW), CG_DEVICE_SIG_INVALID);
    }
    raw[10] ^= 1;
    cg_base64url_encode(raw, 64, text, sizeof text);
    set_device(p, "signature", json_string(text));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_INVALID);
    set_device(p, "signature", json_string("!!not-base64!!"));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_INVALID);
    json_decref(p);

    /* Signed by another key. */
    ident other;
    ident_new(&other);
    char payload[512];
    payload_v3(payload, sizeof payload, &d, NOW, NONCE);
    char other_sig[128];
    sign_text(&other, payload, other_sig, sizeof other_sig);
    p = params_v3(&d, NOW);
    set_device(p, "signature", json_string(other_sig));
    assert_int_equal(check(p, NOW), CG_DEVICE_SIG_INVALID);
    json_decref(p);
    EVP_PKEY_free(d.key);
    EVP_PKEY_free(other.key);
}

/* Signed by Node's crypto: tests/integration/lib/device.mjs's self-check vector. */
#define NODE_PUBLIC_KEY "ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ"
#define NODE_DEVICE_ID "65b60673d6ed884bf01c2c222d82ada0740f29ac3355d6a925c81f17f47a27b8"
#define NODE_SIG_V3                                                                                \
    "dtt1ZDgu49sSt7Bxx4n576NRVjyCBwZk36VZ68eW8OhTmoy0xl_6nMqy8oG4VQVZKh9pkcJbtVi-KzvXumWPDQ"
#define NODE_SIG_V2                                                                                \
    "ejO8RnAQRWg2VgHogoFM5783NvsTCBNwW9z2q0h77fFx9D0oebthBFfnBdIPkAGSZEq1aGPMdhRA4O8S5vkjDA"

static void test_node_vector(void **state)
{
    /* The same seed through OpenSSL gives Node's key and id. */
    unsigned char seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (unsigned char)(i + 1);
    ident d;
    ident_from(&d, EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed));
    assert_string_equal(d.public_key, NODE_PUBLIC_KEY);
    assert_string_equal(d.id, NODE_DEVICE_ID);

    const char *sigs[] = {NODE_SIG_V3, NODE_SIG_V2};
    for (int i = 0; i < 2; i++) {
        json_t *p = params_v3(&d, NOW);
        set_device(p, "signature", json_string(sigs[i]));
        cg_device_proof proof;
        assert_int_equal(cg_device_sig_verify(p, NONCE, NOW + 1000, &proof), CG_DEVICE_SIG_OK);
        assert_int_equal(proof.version, 3 - i);
        assert_string_equal(proof.public_key, NODE_PUBLIC_KEY);
        json_decref(p);
    }
    /* Ed25519 is deterministic: this test's payload text is Node's byte for byte. */
    char payload[512], sig[128];
    payload_v3(payload, sizeof payload, &d, NOW, NONCE);
    sign_text(&d, payload, sig, sizeof sig);
    assert_string_equal(sig, NODE_SIG_V3);
    EVP_PKEY_free(d.key);
}

static void test_connect_step_error_shape(void **state)
{
    ident d;
    ident_new(&d);
    cg_device_proof proof;
    json_t *p = json_pack("{s:{s:s, s:s}}", "client", "id", "cli", "mode", "cli");
    assert_null(cg_connect_verify_device(p, NONCE, NOW, &proof));
    assert_int_equal(proof.version, 0);
    json_object_set_new(p, "device", json_null());
    assert_null(cg_connect_verify_device(p, NONCE, NOW, &proof));
    json_decref(p);

    p = params_v3(&d, NOW);
    assert_null(cg_connect_verify_device(p, NONCE, NOW, &proof));
    assert_int_equal(proof.version, 3);
    assert_string_equal(proof.public_key, d.public_key);

    struct {
        const char *nonce;
        int64_t now;
        const char *code, *reason, *message;
    } cases[] = {
        {"x", NOW, "DEVICE_AUTH_NONCE_MISMATCH", "device-nonce-mismatch", "device nonce mismatch"},
        {NONCE, NOW + 200000, "DEVICE_AUTH_SIGNATURE_EXPIRED", "device-signature-stale",
         "device signature expired"},
    };
    for (size_t i = 0; i < 2; i++) {
        json_t *e = cg_connect_verify_device(p, cases[i].nonce, cases[i].now, &proof);
        json_t *want = json_pack("{s:s, s:s, s:{s:s, s:s}}", "code", "INVALID_REQUEST", "message",
                                 cases[i].message, "details", "code", cases[i].code, "reason",
                                 cases[i].reason);
        assert_true(json_equal(e, want));
        assert_int_equal(proof.version, 0);
        json_decref(e);
        json_decref(want);
    }
    json_decref(p);
    EVP_PKEY_free(d.key);
}

static void test_refusal_names(void **state)
{
    struct {
        cg_device_sig_result r;
        const char *code, *reason, *message;
    } names[] = {
        {CG_DEVICE_SIG_ID_MISMATCH, "DEVICE_AUTH_DEVICE_ID_MISMATCH", "device-id-mismatch",
         "device identity mismatch"},
        {CG_DEVICE_SIG_EXPIRED, "DEVICE_AUTH_SIGNATURE_EXPIRED", "device-signature-stale",
         "device signature expired"},
        {CG_DEVICE_SIG_NONCE_REQUIRED, "DEVICE_AUTH_NONCE_REQUIRED", "device-nonce-missing",
         "device nonce required"},
        {CG_DEVICE_SIG_NONCE_MISMATCH, "DEVICE_AUTH_NONCE_MISMATCH", "device-nonce-mismatch",
         "device nonce mismatch"},
        {CG_DEVICE_SIG_INVALID, "DEVICE_AUTH_SIGNATURE_INVALID", "device-signature",
         "device signature invalid"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        assert_string_equal(cg_device_sig_code(names[i].r), names[i].code);
        assert_string_equal(cg_device_sig_reason(names[i].r), names[i].reason);
        assert_string_equal(cg_device_sig_message(names[i].r), names[i].message);
    }
    assert_null(cg_device_sig_code(CG_DEVICE_SIG_OK));
}

static void test_base64url(void **state)
{
    const struct {
        const char *in, *out;
    } vectors[] = {
        {"", ""},           {"f", "Zg"},         {"fo", "Zm8"},           {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"\xfb\xff", "-_8"}, {"\xff\xfe\xfd", "__79"}};
    char text[64];
    unsigned char bytes[64];
    size_t len;
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        size_t n = strlen(vectors[i].in);
        assert_int_equal(cg_base64url_encode((const unsigned char *)vectors[i].in, n, text,
                                             CG_BASE64URL_ENCODED_SIZE(n)),
                         (int)strlen(vectors[i].out));
        assert_string_equal(text, vectors[i].out);
    }

    /* Round trips of every length up to 70, unpadded, padded and in the standard
     * alphabet. */
    unsigned char in[70];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 37 + 250);
    for (size_t n = 0; n <= sizeof in; n++) {
        char enc[128], alt[132];
        int k = cg_base64url_encode(in, n, enc, sizeof enc);
        assert_int_equal(k, (int)((4 * n + 2) / 3));
        assert_null(strpbrk(enc, "+/="));
        unsigned char out[70];
        assert_int_equal(cg_base64url_decode(enc, out, n, &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(out, in, n);
        snprintf(alt, sizeof alt, "%s%s", enc, k % 4 == 2 ? "==" : k % 4 == 3 ? "=" : "");
        for (char *c = alt; *c; c++)
            *c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
        assert_int_equal(cg_base64url_decode(alt, out, n, &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(out, in, n);
        if (n > 0) assert_int_equal(cg_base64url_decode(enc, out, n - 1, &len), -1);
    }

    const char *bad[] = {"Q", "QQ===", "QU=D", "QU*D", "QUJD QUJD"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(cg_base64url_decode(bad[i], bytes, sizeof bytes, &len), -1);
    char *big = malloc(CG_BASE64URL_MAX_INPUT + 5);
    memset(big, 'A', CG_BASE64URL_MAX_INPUT + 4);
    big[CG_BASE64URL_MAX_INPUT + 4] = '\0';
    unsigned char *sink = malloc(CG_BASE64URL_MAX_INPUT);
    assert_int_equal(cg_base64url_decode(big, sink, CG_BASE64URL_MAX_INPUT, &len), -1);
    big[CG_BASE64URL_MAX_INPUT] = '\0';
    assert_int_equal(cg_base64url_decode(big, sink, CG_BASE64URL_MAX_INPUT, &len), 0);
    assert_int_equal(len, CG_BASE64URL_MAX_INPUT / 4 * 3);
    free(big);
    free(sink);

    assert_int_equal(cg_base64url_encode(in, 3, text, 4), -1);
    assert_int_equal(cg_base64url_encode(in, 3, text, 5), 4);
}

static void test_device_token_format(void **state)
{
    char a[CG_DEVICE_TOKEN_SIZE], b[CG_DEVICE_TOKEN_SIZE];
    cg_device_token_new(a);
    cg_device_token_new(b);
    assert_int_equal(strlen(a), 43);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     43);
    unsigned char raw[32];
    size_t len;
    assert_int_equal(cg_base64url_decode(a, raw, sizeof raw, &len), 0);
    assert_int_equal(len, 32);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v3_and_v2_verify),
        cmocka_unit_test(test_signed_fields),
        cmocka_unit_test(test_id_and_key_refusals),
        cmocka_unit_test(test_key_forms),
        cmocka_unit_test(test_skew_boundaries),
        cmocka_unit_test(test_nonce_refusals),
        cmocka_unit_test(test_signature_refusals),
        cmocka_unit_test(test_node_vector),
        cmocka_unit_test(test_connect_step_error_shape),
        cmocka_unit_test(test_refusal_names),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_device_token_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
