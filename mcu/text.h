/*
 * text: display names and tile labels checked and put in one canonical form before they
 * are stored (config, control API) or drawn (layouts/label).
 *
 * Names arrive from config files, the control page and SDP, typed on keyboards and
 * input methods that produce either precomposed Vietnamese letters ("ắ" U+1EAF, NFC) or
 * base letters followed by combining marks ("a" U+0306 U+0301, NFD, as macOS and some
 * Vietnamese IMEs give). Both look the same but compare, hash, sort and count bytes
 * differently, so every name is normalised to NFC (libunistring's u8_normalize) once, at
 * the edge: two sites typed differently get the same stored name, and a name's byte
 * length (the config struct's fixed field) is that of its shortest canonical form.
 *
 *   in --trim ASCII spaces--> --bound--> --u8_check--> --no controls--> --NFC--> out
 *
 * Threads: no state; any thread, any number at once.
 *
 * OWNERSHIP: `in` is only read during the call. `out` is the caller's buffer; on
 * success it holds the NUL-terminated label, on failure "" (when out_size > 0). *why
 * points to a static English string (never freed; valid for the process's lifetime).
 * Everything libunistring allocates is freed before the call returns.
 */
#ifndef MCU_TEXT_H
#define MCU_TEXT_H

#include <stddef.h>

/* Longest normalised label, in bytes without the NUL: MCU_NAME_MAX - 1 (mcu/config.h),
 * so any label accepted here fits the config struct's 128-byte name field with its NUL.
 * A literal, not the macro, so this header does not pull in config.h and its network
 * headers; test_text.c checks the two agree. */
#define MCU_TEXT_LABEL_MAX_BYTES 127

/* Longest input looked at, in bytes after trimming: longer is MCU_ERR_TOO_BIG without
 * being normalised, so a hostile megabyte is never run through NFC. No text this long
 * can come out of NFC within MCU_TEXT_LABEL_MAX_BYTES, so for valid text the answer is
 * the one normalising first would give: NFC keeps the full canonical decomposition,
 * every input code point decomposes to at least one code point and every output code
 * point to at most four (the longest canonical decomposition, U+1F82's), and a code
 * point is 1..4 bytes, so NFC shrinks UTF-8 by at most 16x (in practice 3x: U+212A
 * KELVIN SIGN, 3 bytes, becomes "K"); 4096 / 16 = 256 > 127. */
#define MCU_TEXT_INPUT_MAX_BYTES 4096

/* Validates a display name / tile label and normalises it to Unicode NFC.
 *   in, in_len  UTF-8 bytes (not necessarily NUL-terminated; in may be NULL only when
 *               in_len is 0). Leading and trailing ASCII spaces (U+0020) are trimmed;
 *               "" (or only spaces) is valid and means "no label".
 *   out         out_size bytes (>= 1) receive the NUL-terminated NFC result.
 *   why         may be NULL; on failure *why is a static English reason, on success
 *               NULL.
 * Rejected:
 *   MCU_ERR_INVAL    NULL in (with in_len > 0) or out, out_size 0 ("invalid argument");
 *                    malformed UTF-8: truncated or stray sequences, overlong forms,
 *                    surrogates, values past U+10FFFF ("not valid UTF-8"); a control
 *                    character U+0000..U+001F or U+007F..U+009F, NUL included
 *                    ("contains a control character": a label is one line of text).
 *   MCU_ERR_TOO_BIG  longer than MCU_TEXT_LABEL_MAX_BYTES after normalisation (or than
 *                    MCU_TEXT_INPUT_MAX_BYTES before it) ("longer than 127 bytes"); or
 *                    the result does not fit in out_size bytes with its NUL ("does not
 *                    fit the output buffer"). Nothing is written past out[out_size-1].
 *   MCU_ERR_NOMEM    libunistring could not allocate ("out of memory").
 * A label accepted here is also accepted by mcu_label_render (same control-character
 * and UTF-8 rules, and 127 < MCU_LABEL_MAX_BYTES). */
int mcu_text_normalize_label(const char *in, size_t in_len, char *out, size_t out_size,
                             const char **why);

#endif
