#include "json_where.h"

#include <stdio.h>
#include <string.h>

typedef struct scanner {
    const char *p, *end;
    int line;
    const char *target;
    int found;          /* line of the target, 0 while not found */
} scanner_t;

static void skip_ws(scanner_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        if (*s->p == '\n')
            s->line++;
        s->p++;
    }
}

/* Skips a string literal; copies its raw bytes (escapes kept) into out if given. */
static int scan_string(scanner_t *s, char *out, size_t cap)
{
    if (s->p >= s->end || *s->p != '"')
        return -1;
    s->p++;
    size_t n = 0;
    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\' && s->p + 1 < s->end) {
            if (out && n + 1 < cap)
                out[n++] = *s->p;
            s->p++;
        }
        if (out && n + 1 < cap)
            out[n++] = *s->p;
        s->p++;
    }
    if (s->p >= s->end)
        return -1;
    s->p++;
    if (out)
        out[n < cap ? n : cap - 1] = '\0';
    return 0;
}

static int scan_value(scanner_t *s, char *path, size_t path_len, int depth);

/* After a member or element: 1 when a ',' follows, 0 at the closing bracket, -1 else. */
static int next_member(scanner_t *s, char close)
{
    skip_ws(s);
    if (s->p < s->end && *s->p == ',') {
        s->p++;
        return 1;
    }
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    return -1;
}

/* Appends a formatted step to the path; returns the new length (unchanged if it does
 * not fit: such a path is never the target). */
static size_t append_path(char *path, size_t len, const char *fmt, const char *key, unsigned i)
{
    int n = key ? snprintf(path + len, MCU_JSON_WHERE_MAX_PATH - len, fmt, len ? "." : "", key)
                : snprintf(path + len, MCU_JSON_WHERE_MAX_PATH - len, fmt, i);
    return n > 0 && (size_t)n < MCU_JSON_WHERE_MAX_PATH - len ? len + (size_t)n : len;
}

static void check_target(scanner_t *s, const char *path, int line)
{
    if (!s->found && strcmp(path, s->target) == 0)
        s->found = line;
}

static int scan_object(scanner_t *s, char *path, size_t path_len, int depth)
{
    s->p++; /* { */
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        int key_line = s->line;
        char key[MCU_JSON_WHERE_MAX_PATH];
        if (scan_string(s, key, sizeof key) < 0)
            return -1;
        size_t sub_len = append_path(path, path_len, "%s%s", key, 0);
        check_target(s, path, key_line);
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return -1;
        s->p++;
        if (scan_value(s, path, sub_len, depth + 1) < 0)
            return -1;
        path[path_len] = '\0';
        int more = next_member(s, '}');
        if (more <= 0)
            return more;
    }
}

static int scan_array(scanner_t *s, char *path, size_t path_len, int depth)
{
    s->p++; /* [ */
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (unsigned i = 0;; i++) {
        size_t sub_len = append_path(path, path_len, "[%u]", NULL, i);
        skip_ws(s);
        check_target(s, path, s->line);
        if (scan_value(s, path, sub_len, depth + 1) < 0)
            return -1;
        path[path_len] = '\0';
        int more = next_member(s, ']');
        if (more <= 0)
            return more;
    }
}

static int scan_value(scanner_t *s, char *path, size_t path_len, int depth)
{
    if (depth > MCU_JSON_WHERE_MAX_DEPTH)
        return -1;
    skip_ws(s);
    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '{': return scan_object(s, path, path_len, depth);
    case '[': return scan_array(s, path, path_len, depth);
    case '"': return scan_string(s, NULL, 0);
    default:
        /* number, true, false, null */
        while (s->p < s->end && !strchr(",]} \t\r\n", *s->p))
            s->p++;
        return 0;
    }
}

int mcu_json_line_of(const char *text, size_t len, const char *path)
{
    if (!text || !path || strlen(path) >= MCU_JSON_WHERE_MAX_PATH)
        return 0;
    scanner_t s = {.p = text, .end = text + len, .line = 1, .target = path};
    char buf[MCU_JSON_WHERE_MAX_PATH] = "";
    skip_ws(&s);
    if (path[0] == '\0')
        return s.line;
    scan_value(&s, buf, 0, 0);
    return s.found;
}
