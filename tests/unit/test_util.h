/*
 * test_util: helpers shared by the unit tests (cmocka). Deterministic random numbers
 * (xorshift, seeded per test), a temporary directory, and running a shell command.
 */
#ifndef MCU_TEST_UTIL_H
#define MCU_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* cmocka's headers need these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

typedef struct { uint64_t s; } test_rng_t;

void test_rng_seed(test_rng_t *r, uint64_t seed);
uint32_t test_rng_u32(test_rng_t *r);
/* Uniform in [0, n). */
uint32_t test_rng_below(test_rng_t *r, uint32_t n);
void test_rng_fill(test_rng_t *r, uint8_t *buf, size_t n);

/* Directory for files a test makes ($MCU_TEST_TMP or /tmp), created if missing. */
const char *test_tmp_dir(void);

/* Reads a whole file into a malloc'd buffer; NULL on error. Caller frees. */
uint8_t *test_read_file(const char *path, size_t *len);

#endif
