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
        int n = snprintf(path + path_len, MCU_JSON_WHERE_MAX_PATH - path_len, "%s%s",
                         path_len ? "." : "", key);
        size_t sub_len = n > 0 && (size_t)n < MCU_JSON_WHERE_MAX_PATH - path_len
                             ? path_len + (size_t)n
                             : path_len;
        check_target(s, path, key_line);
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return -1;
        s->p++;
        if (scan_value(s, path, sub_len, depth + 1) < 0)
            return -1;
        path[path_len] = '\0';
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return 0;
        }
        return -1;
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
        int n = snprintf(path + path_len, MCU_JSON_WHERE_MAX_PATH - path_len, "[%u]", i);
        size_t sub_len = n > 0 && (size_t)n < MCU_JSON_WHERE_MAX_PATH - path_len
                             ? path_len + (size_t)n
                             : path_len;
        skip_ws(s);
        check_target(s, path, s->line);
        if (scan_value(s, path, sub_len, depth + 1) < 0)
            return -1;
        path[path_len] = '\0';
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return 0;
        }
        return -1;
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
