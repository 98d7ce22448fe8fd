/*
 * srtp_crypto: libsrtp2's AES-ICM-128 cipher and HMAC-SHA1 authenticator over OpenSSL's
 * libcrypto, installed into libsrtp's crypto kernel in place of the ones libsrtp was
 * built with, through libsrtp's public srtp_replace_cipher_type/srtp_replace_auth_type.
 *
 * Why: Debian builds libsrtp2 against NSS, which opens a PKCS#11 context for every
 * packet. On the test machine, protecting a 1200-byte packet with
 * AES_CM_128_HMAC_SHA1_80 took 4.4 us through NSS and 1.0 us through libcrypto's EVP
 * contexts, created once per stream and only re-keyed with each packet's IV (AES-NI,
 * SHA-NI); for 100-byte audio packets 2.1 against 0.4 us (`mcu-bench kernels`). An
 * 18-site conference protects or unprotects about 9000 packets a second. Nothing is
 * hand-written here but the glue: the counter-mode IV layout (RFC 3711 4.1.1) and the
 * HMAC state machine libsrtp drives (start, update, compute).
 *
 * The AEAD_AES_128_GCM suite keeps libsrtp's own (already 0.9 us through NSS). Session
 * key derivation (RFC 3711 4.3) runs through the installed AES-ICM as well, exactly as
 * libsrtp's own would.
 *
 * Each type passes libsrtp's self-test with RFC 3711 B.2 (AES-ICM) and RFC 2202 (HMAC-
 * SHA1) vectors before libsrtp accepts it; one that is refused leaves libsrtp's own in
 * its place (mcu_srtp_crypto_backend says which). The environment variable
 * MCU_SRTP_CRYPTO=libsrtp skips the installation (for comparisons, as MCU_CPU_MASK
 * does for SIMD kernels).
 *
 * Threads: call once, after srtp_init and before any session is created (srtp_session
 * does, under its pthread_once). Sessions created before keep the types they were
 * created with. The installed types keep no global state: each cipher and
 * authenticator owns its EVP context, used by one thread at a time as libsrtp's
 * sessions are.
 */
#ifndef MCU_SRTP_CRYPTO_H
#define MCU_SRTP_CRYPTO_H

#include <stdbool.h>

/* Installs the libcrypto types (unless MCU_SRTP_CRYPTO=libsrtp). MCU_OK when both are
 * in place, MCU_ERR_STATE when skipped by the environment, MCU_ERR_SRTP when libsrtp
 * refused one (its self-test failed; libsrtp's own stays for that one). */
int mcu_srtp_crypto_install(void);

/* "libcrypto" once both are installed, "libsrtp" (what libsrtp was built with) when
 * neither is, or a phrase naming each type's backend. A static string. */
const char *mcu_srtp_crypto_backend(void);

#endif
