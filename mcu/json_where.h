/*
 * json_where: finds the line of a value in JSON text, given its path
 * ("sites[3].video_port"). jansson keeps no positions in its values, and a config
 * error must name both the key and the line, so this walks the text once more with a
 * minimal scanner. The text is expected to have parsed already (jansson reports the
 * line of syntax errors itself); on text it cannot follow it returns 0.
 *
 * Hand-written because no JSON library in Debian keeps source positions per value.
 */
#ifndef MCU_JSON_WHERE_H
#define MCU_JSON_WHERE_H

#include <stddef.h>

/* Longest path this resolves; longer paths give 0. */
#define MCU_JSON_WHERE_MAX_PATH 256
/* Deepest nesting followed (configs are three levels deep). */
#define MCU_JSON_WHERE_MAX_DEPTH 32

/* 1-based line where the value at `path` starts (for an object member: where its key
 * is), or 0 when the path is not in the text. Path syntax: members joined by '.',
 * array elements as [N]; "" is the whole document. */
int mcu_json_line_of(const char *text, size_t len, const char *path);

#endif
