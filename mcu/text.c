#include "mcu/text.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uninorm.h>
#include <unistr.h>

#include "mcu/error.h"

/* The reasons given in *why. */
#define WHY_ARG "invalid argument"
#define WHY_UTF8 "not valid UTF-8"
#define WHY_CONTROL "contains a control character"
#define WHY_LONG "longer than 127 bytes"
#define WHY_OUT "does not fit the output buffer"
#define WHY_NOMEM "out of memory"

/* The literal in WHY_LONG and the bound must agree. */
_Static_assert(MCU_TEXT_LABEL_MAX_BYTES == 127, "update WHY_LONG");

static int fail(int err, const char *reason, char *out, size_t out_size, const char **why)
{
    if (out && out_size > 0)
        out[0] = '\0';
    if (why)
        *why = reason;
    return err;
}

/* Narrows [*s, *s + *n) to exclude leading and trailing U+0020. Safe on any bytes: 0x20
 * never occurs inside a multi-byte UTF-8 sequence. */
static void trim_spaces(const uint8_t **s, size_t *n)
{
    while (*n > 0 && (*s)[0] == ' ')
        (*s)++, (*n)--;
    while (*n > 0 && (*s)[*n - 1] == ' ')
        (*n)--;
}

/* C0 controls, DEL and C1 controls: the same set mcu_label_render refuses. */
static int is_control(ucs4_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F); }

/* s must be valid UTF-8 (u8_check passed). */
static int has_control(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        ucs4_t c;
        int len = u8_mbtouc_unsafe(&c, s + i, n - i);
        if (len <= 0 || is_control(c))
            return 1;
        i += (size_t)len;
    }
    return 0;
}

int mcu_text_normalize_label(const char *in, size_t in_len, char *out, size_t out_size,
                             const char **why)
{
    if ((!in && in_len > 0) || !out || out_size == 0)
        return fail(MCU_ERR_INVAL, WHY_ARG, out, out_size, why);
    const uint8_t *s = (const uint8_t *)in;
    size_t n = in_len;
    trim_spaces(&s, &n);
    if (n > MCU_TEXT_INPUT_MAX_BYTES)
        return fail(MCU_ERR_TOO_BIG, WHY_LONG, out, out_size, why);
    if (n == 0) {   /* "no label"; u8_normalize is not asked about empty input */
        out[0] = '\0';
        if (why)
            *why = NULL;
        return MCU_OK;
    }
    if (u8_check(s, n) != NULL)
        return fail(MCU_ERR_INVAL, WHY_UTF8, out, out_size, why);
    if (has_control(s, n))
        return fail(MCU_ERR_INVAL, WHY_CONTROL, out, out_size, why);

    /* Normalise into a stack buffer one byte larger than the bound: a result that fits
     * is never allocated; a longer one is malloc'd by libunistring (resultbuf too small)
     * and only measured before it is freed. */
    uint8_t buf[MCU_TEXT_LABEL_MAX_BYTES + 1];
    size_t len = sizeof buf;
    uint8_t *norm = u8_normalize(UNINORM_NFC, s, n, buf, &len);
    if (!norm)
        return fail(errno == ENOMEM ? MCU_ERR_NOMEM : MCU_ERR_INVAL,
                    errno == ENOMEM ? WHY_NOMEM : WHY_UTF8, out, out_size, why);
    /* NFC maps no character to U+0020 (only compatibility mappings do, which NFC does
     * not apply), so this trims nothing today; it keeps "trimmed" true of the output
     * itself should that ever change. */
    const uint8_t *r = norm;
    trim_spaces(&r, &len);
    int err = MCU_OK;
    const char *reason = NULL;
    if (len > MCU_TEXT_LABEL_MAX_BYTES)
        err = MCU_ERR_TOO_BIG, reason = WHY_LONG;
    else if (len >= out_size)
        err = MCU_ERR_TOO_BIG, reason = WHY_OUT;
    else {
        memcpy(out, r, len);
        out[len] = '\0';
    }
    if (norm != buf)
        free(norm);
    if (err)
        return fail(err, reason, out, out_size, why);
    if (why)
        *why = NULL;
    return MCU_OK;
}
