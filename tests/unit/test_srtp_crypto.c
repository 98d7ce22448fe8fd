/* The libcrypto AES-ICM and HMAC-SHA1 inside libsrtp (mcu/srtp_crypto.h) against
 * libsrtp's own: a child process with MCU_SRTP_CRYPTO=libsrtp protects a packet sequence
 * (every suite, RTP across a sequence wrap, RTCP, every payload size from 0 to
 * 1400 bytes in steps, two SSRCs) and sends the results over a pipe; this process, with
 * the libcrypto types installed, must produce the same bytes and unprotect the child's.
 * A test binary of its own: libsrtp's crypto is chosen once per process. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcu/error.h"
#include "mcu/srtp_crypto.h"
#include "mcu/srtp_session.h"
#include "test_util.h"

#define PKT_CAP (1500 + MCU_SRTP_MAX_OVERHEAD)
#define PACKETS 320          /* per suite: past the wrap at 65536 and every size step */
#define FIRST_SEQ 65400      /* wraps after 136 packets (rollover counter 1) */
#define SIZE_STEP 7          /* payload sizes 0, 7, 14 ... up to MAX_PAYLOAD */
#define MAX_PAYLOAD 1400
#define RTCP_EVERY 8
/* Child's exit codes. */
#define CHILD_OK 0
#define CHILD_CREATE 10
#define CHILD_BACKEND 11
#define CHILD_PROTECT 12
#define CHILD_WRITE 13

typedef struct pkt {
    _Alignas(8) uint8_t b[PKT_CAP];
    size_t len;
} pkt_t;

/* AEAD_AES_128_GCM keeps libsrtp's own cipher, but its session keys are derived with
 * the installed AES-ICM (RFC 7714 12), so its bytes are compared too. */
static const mcu_srtp_suite_t suites[] = {MCU_SRTP_AES_CM_128_HMAC_SHA1_80,
                                          MCU_SRTP_AES_CM_128_HMAC_SHA1_32,
                                          MCU_SRTP_AEAD_AES_128_GCM};
#define N_SUITES (sizeof suites / sizeof suites[0])

static mcu_srtp_key_t key_for(mcu_srtp_suite_t suite)
{
    mcu_srtp_key_t k;
    memset(&k, 0, sizeof k);
    k.suite = suite;
    k.len = mcu_srtp_key_len(suite);
    for (size_t i = 0; i < k.len; i++)
        k.bytes[i] = (uint8_t)(0xa5 ^ (i * 29 + suite));
    return k;
}

/* Packet n of the sequence: RTP, or RTCP (a receiver report) every RTCP_EVERY. */
static bool build(pkt_t *p, int n)
{
    memset(p, 0, sizeof *p);
    uint32_t ssrc = n % 2 ? 0x0badcafeu : 0x12345678u;
    bool rtcp = n % RTCP_EVERY == RTCP_EVERY - 1;
    uint8_t *b = p->b;
    if (rtcp) {
        const uint8_t rr[8] = {0x80, 201, 0x00, 0x01, (uint8_t)(ssrc >> 24),
                               (uint8_t)(ssrc >> 16), (uint8_t)(ssrc >> 8), (uint8_t)ssrc};
        memcpy(b, rr, sizeof rr);
        p->len = sizeof rr;
        return true;
    }
    uint16_t seq = (uint16_t)(FIRST_SEQ + n / 2);
    uint32_t ts = 90000u * (uint32_t)n;
    const uint8_t hdr[12] = {0x80, 96, (uint8_t)(seq >> 8), (uint8_t)seq,
                             (uint8_t)(ts >> 24), (uint8_t)(ts >> 16), (uint8_t)(ts >> 8),
                             (uint8_t)ts, (uint8_t)(ssrc >> 24), (uint8_t)(ssrc >> 16),
                             (uint8_t)(ssrc >> 8), (uint8_t)ssrc};
    memcpy(b, hdr, sizeof hdr);
    size_t payload = (size_t)(n * SIZE_STEP) % (MAX_PAYLOAD + 1);
    for (size_t i = 0; i < payload; i++)
        b[12 + i] = (uint8_t)(n * 3 + i * 11);
    p->len = 12 + payload;
    return false;
}

static bool write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool read_all(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* The reference: libsrtp's own crypto, in a child. */
static int child_protect(int fd)
{
    setenv("MCU_SRTP_CRYPTO", "libsrtp", 1);
    for (size_t s = 0; s < N_SUITES; s++) {
        mcu_srtp_key_t k = key_for(suites[s]);
        mcu_srtp_t *out = NULL;
        if (mcu_srtp_create(&k, MCU_SRTP_OUTBOUND, &out) != MCU_OK)
            return CHILD_CREATE;
        if (strcmp(mcu_srtp_crypto_backend(), "libsrtp") != 0)
            return CHILD_BACKEND;
        for (int n = 0; n < PACKETS; n++) {
            pkt_t p;
            bool rtcp = build(&p, n);
            if (mcu_srtp_protect(out, p.b, &p.len, sizeof p.b, rtcp) != MCU_OK)
                return CHILD_PROTECT;
            uint32_t len = (uint32_t)p.len;
            if (!write_all(fd, &len, sizeof len) || !write_all(fd, p.b, p.len))
                return CHILD_WRITE;
        }
        mcu_srtp_destroy(&out);
    }
    return CHILD_OK;
}

static void same_bytes_as_libsrtp(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        int rc = child_protect(fds[1]);
        close(fds[1]);
        _exit(rc);
    }
    close(fds[1]);

    size_t matched = 0;
    for (size_t s = 0; s < N_SUITES; s++) {
        mcu_srtp_key_t k = key_for(suites[s]);
        mcu_srtp_t *out = NULL, *in = NULL;
        assert_int_equal(mcu_srtp_create(&k, MCU_SRTP_OUTBOUND, &out), MCU_OK);
        assert_int_equal(mcu_srtp_create(&k, MCU_SRTP_INBOUND, &in), MCU_OK);
        assert_string_equal(mcu_srtp_crypto_backend(), "libcrypto");
        for (int n = 0; n < PACKETS; n++) {
            pkt_t mine, ref, plain;
            uint32_t len = 0;
            assert_true(read_all(fds[0], &len, sizeof len));
            assert_true(len <= sizeof ref.b);
            assert_true(read_all(fds[0], ref.b, len));
            ref.len = len;
            bool rtcp = build(&mine, n);
            build(&plain, n);
            assert_int_equal(mcu_srtp_protect(out, mine.b, &mine.len, sizeof mine.b, rtcp),
                             MCU_OK);
            assert_int_equal(mine.len, ref.len);
            assert_memory_equal(mine.b, ref.b, ref.len);
            assert_int_equal(mcu_srtp_unprotect(in, ref.b, &ref.len, rtcp), MCU_OK);
            assert_int_equal(ref.len, plain.len);
            assert_memory_equal(ref.b, plain.b, plain.len);
            matched++;
        }
        /* A flipped payload bit is refused. */
        pkt_t p;
        assert_false(build(&p, 5));
        assert_int_equal(mcu_srtp_protect(out, p.b, &p.len, sizeof p.b, false), MCU_OK);
        p.b[p.len - mcu_srtp_tag_len(suites[s], false) - 1] ^= 0x01;
        mcu_srtp_t *in2 = NULL;
        assert_int_equal(mcu_srtp_create(&k, MCU_SRTP_INBOUND, &in2), MCU_OK);
        assert_int_equal(mcu_srtp_unprotect(in2, p.b, &p.len, false), MCU_ERR_AUTH);
        mcu_srtp_destroy(&in2);
        mcu_srtp_destroy(&out);
        mcu_srtp_destroy(&in);
    }
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), CHILD_OK);
    assert_int_equal(matched, N_SUITES * PACKETS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_bytes_as_libsrtp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
