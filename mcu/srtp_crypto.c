#include "srtp_crypto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>

#include "error.h"
#include "log.h"

#define LOG_OBJECT "srtp"
/* AES block and the counter-mode IV (RFC 3711 4.1.1). */
#define AES_BLOCK 16
#define AES128_KEY 16
/* The master salt is 112 bits; it fills the IV's upper 14 bytes, the lower 2 count
 * blocks within one packet. */
#define ICM_SALT 14
#define SHA1_LEN 20
/* libsrtp's limit for one IV, as its own AES-ICM applies it: the bytes of one packet
 * plus the starting block counter must stay within the 16-bit counter. */
#define ICM_SEGMENT_MAX 0xffff

static bool icm_installed, hmac_installed;
static EVP_CIPHER *aes128_ctr; /* fetched once at install, read-only afterwards */
static EVP_MAC *hmac_mac;

/* ------------------------------------------------------------------ AES-ICM-128 */

typedef struct icm_state {
    EVP_CIPHER_CTX *ctx;
    uint8_t offset[AES_BLOCK]; /* master salt, low 16 bits zero */
    unsigned block0;           /* the IV's starting block counter */
} icm_state_t;

typedef struct icm_cipher {
    srtp_cipher_t c;
    icm_state_t st;
} icm_cipher_t;

static const srtp_cipher_type_t icm_type;

static srtp_err_status_t icm_alloc(srtp_cipher_pointer_t *cp, int key_len, int tag_len)
{
    if (key_len != SRTP_AES_ICM_128_KEY_LEN_WSALT)
        return srtp_err_status_bad_param;
    icm_cipher_t *x = calloc(1, sizeof *x);
    if (!x)
        return srtp_err_status_alloc_fail;
    x->st.ctx = EVP_CIPHER_CTX_new();
    if (!x->st.ctx) {
        free(x);
        return srtp_err_status_alloc_fail;
    }
    x->c.type = &icm_type;
    x->c.state = &x->st;
    x->c.key_len = key_len;
    x->c.algorithm = SRTP_AES_ICM_128;
    *cp = &x->c;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_dealloc(srtp_cipher_pointer_t cp)
{
    icm_cipher_t *x = (icm_cipher_t *)cp;
    EVP_CIPHER_CTX_free(x->st.ctx); /* clears its key schedule */
    explicit_bzero(x, sizeof *x);
    free(x);
    return srtp_err_status_ok;
}

/* key: the 16-byte key followed by the 14-byte salt. */
static srtp_err_status_t icm_init(void *state, const uint8_t *key)
{
    icm_state_t *st = state;
    memset(st->offset, 0, sizeof st->offset);
    memcpy(st->offset, key + AES128_KEY, ICM_SALT);
    st->block0 = 0;
    if (EVP_EncryptInit_ex2(st->ctx, aes128_ctr, key, NULL, NULL) != 1)
        return srtp_err_status_init_fail;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t dir)
{
    icm_state_t *st = state;
    uint8_t counter[AES_BLOCK];
    for (int i = 0; i < AES_BLOCK; i++)
        counter[i] = (uint8_t)(st->offset[i] ^ iv[i]);
    st->block0 = (unsigned)counter[AES_BLOCK - 2] << 8 | counter[AES_BLOCK - 1];
    if (EVP_EncryptInit_ex2(st->ctx, NULL, NULL, counter, NULL) != 1)
        return srtp_err_status_cipher_fail;
    return srtp_err_status_ok;
}

/* Counter mode: encryption and decryption are the same XOR with the keystream. */
static srtp_err_status_t icm_crypt(void *state, uint8_t *buf, unsigned int *len)
{
    icm_state_t *st = state;
    if ((uint64_t)*len + st->block0 > ICM_SEGMENT_MAX)
        return srtp_err_status_terminus;
    int out = 0;
    if (*len && EVP_EncryptUpdate(st->ctx, buf, &out, buf, (int)*len) != 1)
        return srtp_err_status_cipher_fail;
    return srtp_err_status_ok;
}

/* RFC 3711 B.2: the first 32 bytes of keystream for the zero index and SSRC. */
static const uint8_t icm_key[SRTP_AES_ICM_128_KEY_LEN_WSALT] = {
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f,
    0x3c, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd};
static uint8_t icm_iv[AES_BLOCK]; /* libsrtp's test case takes a non-const IV */
static const uint8_t icm_plain[32];
static const uint8_t icm_keystream[32] = {
    0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4,
    0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7, 0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab};
static const srtp_cipher_test_case_t icm_test = {
    .key_length_octets = SRTP_AES_ICM_128_KEY_LEN_WSALT,
    .key = icm_key,
    .idx = icm_iv,
    .plaintext_length_octets = sizeof icm_plain,
    .plaintext = icm_plain,
    .ciphertext_length_octets = sizeof icm_keystream,
    .ciphertext = icm_keystream,
};

static const srtp_cipher_type_t icm_type = {
    .alloc = icm_alloc,
    .dealloc = icm_dealloc,
    .init = icm_init,
    .encrypt = icm_crypt,
    .decrypt = icm_crypt,
    .set_iv = icm_set_iv,
    .description = "AES-128 integer counter mode (OpenSSL libcrypto)",
    .test_data = &icm_test,
    .id = SRTP_AES_ICM_128,
};

/* ------------------------------------------------------------------ HMAC-SHA1 */

typedef struct hmac_auth {
    srtp_auth_t a;
    EVP_MAC_CTX *ctx;
} hmac_auth_t;

static const srtp_auth_type_t hmac_type;

static srtp_err_status_t hmac_alloc(srtp_auth_pointer_t *ap, int key_len, int out_len)
{
    if (key_len < 0 || key_len > SHA1_LEN || out_len < 0 || out_len > SHA1_LEN)
        return srtp_err_status_bad_param;
    hmac_auth_t *x = calloc(1, sizeof *x);
    if (!x)
        return srtp_err_status_alloc_fail;
    x->ctx = EVP_MAC_CTX_new(hmac_mac);
    if (!x->ctx) {
        free(x);
        return srtp_err_status_alloc_fail;
    }
    x->a.type = &hmac_type;
    x->a.state = x;
    x->a.key_len = key_len;
    x->a.out_len = out_len;
    x->a.prefix_len = 0;
    *ap = &x->a;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_dealloc(srtp_auth_pointer_t ap)
{
    hmac_auth_t *x = (hmac_auth_t *)ap;
    EVP_MAC_CTX_free(x->ctx); /* clears the keyed state */
    explicit_bzero(x, sizeof *x);
    free(x);
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_init(void *state, const uint8_t *key, int key_len)
{
    hmac_auth_t *x = state;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(x->ctx, key, (size_t)key_len, params) != 1)
        return srtp_err_status_auth_fail;
    return srtp_err_status_ok;
}

/* A new message under the same key: the keyed inner and outer states are kept. */
static srtp_err_status_t hmac_start(void *state)
{
    hmac_auth_t *x = state;
    return EVP_MAC_init(x->ctx, NULL, 0, NULL) == 1 ? srtp_err_status_ok
                                                     : srtp_err_status_auth_fail;
}

static srtp_err_status_t hmac_update(void *state, const uint8_t *buf, int len)
{
    hmac_auth_t *x = state;
    if (len < 0 || EVP_MAC_update(x->ctx, buf, (size_t)len) != 1)
        return srtp_err_status_auth_fail;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_compute(void *state, const uint8_t *buf, int len, int tag_len,
                                      uint8_t *tag)
{
    hmac_auth_t *x = state;
    uint8_t md[SHA1_LEN];
    size_t n = 0;
    if (tag_len < 0 || tag_len > SHA1_LEN || len < 0 ||
        EVP_MAC_update(x->ctx, buf, (size_t)len) != 1 ||
        EVP_MAC_final(x->ctx, md, &n, sizeof md) != 1 || n != SHA1_LEN)
        return srtp_err_status_auth_fail;
    memcpy(tag, md, (size_t)tag_len);
    explicit_bzero(md, sizeof md);
    return srtp_err_status_ok;
}

/* RFC 2202 test case 1. */
static const uint8_t hmac_key[20] = {0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
                                     0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b};
static const uint8_t hmac_data[8] = {'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'};
static const uint8_t hmac_tag[SHA1_LEN] = {0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72,
                                           0x64, 0xe2, 0x8b, 0xc0, 0xb6, 0xfb, 0x37,
                                           0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00};
static const srtp_auth_test_case_t hmac_test = {
    .key_length_octets = sizeof hmac_key,
    .key = hmac_key,
    .data_length_octets = sizeof hmac_data,
    .data = hmac_data,
    .tag_length_octets = sizeof hmac_tag,
    .tag = hmac_tag,
};

static const srtp_auth_type_t hmac_type = {
    .alloc = hmac_alloc,
    .dealloc = hmac_dealloc,
    .init = hmac_init,
    .compute = hmac_compute,
    .update = hmac_update,
    .start = hmac_start,
    .description = "HMAC-SHA1 (OpenSSL libcrypto)",
    .test_data = &hmac_test,
    .id = SRTP_HMAC_SHA1,
};

/* ------------------------------------------------------------------ install */

int mcu_srtp_crypto_install(void)
{
    if (icm_installed && hmac_installed)
        return MCU_OK;
    const char *env = getenv("MCU_SRTP_CRYPTO");
    if (env && strcmp(env, "libsrtp") == 0) {
        MCU_LOG_INFO(LOG_OBJECT, "MCU_SRTP_CRYPTO=libsrtp: libsrtp's own AES-ICM and HMAC");
        return MCU_ERR_STATE;
    }
    if (!aes128_ctr)
        aes128_ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
    if (!hmac_mac)
        hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!aes128_ctr || !hmac_mac) {
        MCU_LOG_WARN(LOG_OBJECT, "libcrypto has no AES-128-CTR or HMAC: libsrtp's own crypto");
        return MCU_ERR_SRTP;
    }
    /* Each type on its own: one refused leaves libsrtp's own for it alone. */
    srtp_err_status_t st = srtp_err_status_ok;
    if (!icm_installed) {
        st = srtp_replace_cipher_type(&icm_type, SRTP_AES_ICM_128);
        icm_installed = st == srtp_err_status_ok;
        if (!icm_installed)
            MCU_LOG_WARN(LOG_OBJECT, "libsrtp refused the libcrypto AES-ICM (status %d): its "
                         "own stays", (int)st);
    }
    if (!hmac_installed) {
        st = srtp_replace_auth_type(&hmac_type, SRTP_HMAC_SHA1);
        hmac_installed = st == srtp_err_status_ok;
        if (!hmac_installed)
            MCU_LOG_WARN(LOG_OBJECT, "libsrtp refused the libcrypto HMAC-SHA1 (status %d): "
                         "its own stays", (int)st);
    }
    return icm_installed && hmac_installed ? MCU_OK : MCU_ERR_SRTP;
}

const char *mcu_srtp_crypto_backend(void)
{
    if (icm_installed && hmac_installed)
        return "libcrypto";
    if (icm_installed)
        return "libcrypto AES-ICM, libsrtp HMAC-SHA1";
    if (hmac_installed)
        return "libsrtp AES-ICM, libcrypto HMAC-SHA1";
    return "libsrtp";
}
