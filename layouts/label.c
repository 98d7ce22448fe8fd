#include "layouts/label.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <fontconfig/fontconfig.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_GLYPH_H
#include <hb-ft.h>
#include <hb.h>

#include "mcu/error.h"

/* FreeType load flags, shared by the rasteriser and HarfBuzz's advances so positions and
 * bitmaps agree. Light hinting snaps only vertical positions to the pixel grid: stems
 * and the x-height come out crisp at 12 px, while horizontal shapes, and so the
 * placement of marks over and under the vowels, stay as designed. */
#define LABEL_FT_LOAD_FLAGS (FT_LOAD_DEFAULT | FT_LOAD_TARGET_LIGHT)

/* U+2026 HORIZONTAL ELLIPSIS, and three dots for a font without it. */
#define LABEL_ELLIPSIS "\xE2\x80\xA6"
#define LABEL_ELLIPSIS_CP 0x2026u
#define LABEL_ELLIPSIS_ASCII "..."

struct mcu_label_renderer {
    FT_Library ft;
    FT_Face face;
    hb_font_t *font;
    hb_buffer_t *buf;
    int px;             /* size face and font are set to */
    char *font_file;
    const char *ellipsis;
};

/* One shaped and rasterised glyph. (x, y): the bitmap's top-left corner relative to the
 * pen origin on the baseline, x to the right, y upwards. */
typedef struct placed {
    FT_Glyph glyph;     /* an FT_BitmapGlyph; owned */
    int x, y;
} placed_t;

/* A line of text ready to blit; extents in pixels relative to the pen origin, y up. */
typedef struct run {
    placed_t *g;
    int n;
    int advance;                       /* where the pen ends */
    int ink_l, ink_r, ink_t, ink_b;    /* valid when has_ink */
    bool has_ink;
    int missing;
} run_t;

/* The box around a run (see the header's drawing). */
typedef struct box {
    int w, h, origin_x, baseline;
} box_t;

/* ---- UTF-8 ---- */

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF,
 * and no C0/C1 control characters or DEL. */
static int validate_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i];
        size_t len;
        uint32_t min;
        if (c < 0x80) {
            len = 1, min = 0;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return MCU_ERR_INVAL;
        }
        if (n - i < len)
            return MCU_ERR_INVAL;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return MCU_ERR_INVAL;
            c = (c << 6) | (s[i + k] & 0x3Fu);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return MCU_ERR_INVAL;
        if (c < 0x20 || (c >= 0x7F && c <= 0x9F))
            return MCU_ERR_INVAL;
        i += len;
    }
    return MCU_OK;
}

/* ---- font lookup ---- */

/* The file fontconfig picks for `pattern`, or NULL; with need_lang, only if the font
 * covers MCU_LABEL_FONT_LANG. Caller frees. */
static char *match_font(FcConfig *fc, const char *pattern, bool need_lang, int *index)
{
    FcPattern *pat = FcNameParse((const FcChar8 *)pattern);
    if (!pat)
        return NULL;
    FcConfigSubstitute(fc, pat, FcMatchPattern);
    FcDefaultSubstitute(pat);
    FcResult res;
    FcPattern *m = FcFontMatch(fc, pat, &res);
    FcPatternDestroy(pat);
    if (!m)
        return NULL;
    char *path = NULL;
    FcChar8 *file;
    FcLangSet *langs;
    if (FcPatternGetString(m, FC_FILE, 0, &file) == FcResultMatch &&
        (!need_lang ||
         (FcPatternGetLangSet(m, FC_LANG, 0, &langs) == FcResultMatch &&
          FcLangSetHasLang(langs, (const FcChar8 *)MCU_LABEL_FONT_LANG) == FcLangEqual))) {
        if (FcPatternGetInteger(m, FC_INDEX, 0, index) != FcResultMatch)
            *index = 0;
        path = strdup((const char *)file);
    }
    FcPatternDestroy(m);
    return path;
}

/* ---- renderer ---- */

static int set_size(mcu_label_renderer_t *lr, int px)
{
    if (lr->px == px)
        return MCU_OK;
    if (FT_Set_Pixel_Sizes(lr->face, 0, (FT_UInt)px) != 0)
        return MCU_ERR_INVAL;
    if (lr->font)
        hb_ft_font_changed(lr->font);
    lr->px = px;
    return MCU_OK;
}

int mcu_label_create(const mcu_label_style_t *style, mcu_label_renderer_t **out)
{
    if (!out)
        return MCU_ERR_INVAL;
    *out = NULL;
    const char *want = style && style->font && *style->font ? style->font
                                                             : MCU_LABEL_FONT_DEFAULT;
    mcu_label_renderer_t *lr = calloc(1, sizeof *lr);
    if (!lr)
        return MCU_ERR_NOMEM;
    /* A fontconfig configuration of our own, only for the lookup (about 2 ms: it reads
     * fontconfig's caches), rather than the process-wide one: nothing of fontconfig stays
     * alive after create, and nothing is shared with other users of the library. (The
     * process-wide one is never freed, and LeakSanitizer reports parts of it as leaked,
     * which would fail every sanitizer build that draws a label.) */
    int err = MCU_ERR_NOTFOUND;
    FcConfig *fc = FcInitLoadConfigAndFonts();
    if (!fc)
        goto fail;
    int index = 0;
    lr->font_file = match_font(fc, want, true, &index);
    if (!lr->font_file)
        lr->font_file = match_font(fc, MCU_LABEL_FONT_FALLBACK, true, &index);
    if (!lr->font_file)   /* nothing covers Vietnamese: still draw what can be drawn */
        lr->font_file = match_font(fc, want, false, &index);
    FcConfigDestroy(fc);
    if (!lr->font_file)
        goto fail;
    err = MCU_ERR_NOMEM;
    if (FT_Init_FreeType(&lr->ft) != 0) {
        lr->ft = NULL;
        goto fail;
    }
    err = MCU_ERR_NOTFOUND;
    if (FT_New_Face(lr->ft, lr->font_file, index, &lr->face) != 0) {
        lr->face = NULL;
        goto fail;
    }
    if (!FT_IS_SCALABLE(lr->face) || set_size(lr, MCU_LABEL_PX_MIN) != MCU_OK)
        goto fail;   /* a bitmap-only font cannot follow the tile size */
    err = MCU_ERR_NOMEM;
    lr->font = hb_ft_font_create_referenced(lr->face);
    lr->buf = hb_buffer_create();
    if (!lr->font || !lr->buf || !hb_buffer_allocation_successful(lr->buf))
        goto fail;
    hb_ft_font_set_load_flags(lr->font, LABEL_FT_LOAD_FLAGS);
    hb_codepoint_t gid;
    lr->ellipsis = hb_font_get_nominal_glyph(lr->font, LABEL_ELLIPSIS_CP, &gid)
                       ? LABEL_ELLIPSIS : LABEL_ELLIPSIS_ASCII;
    *out = lr;
    return MCU_OK;
fail:
    mcu_label_destroy(&lr);
    return err;
}

void mcu_label_destroy(mcu_label_renderer_t **lr)
{
    if (!lr || !*lr)
        return;
    mcu_label_renderer_t *r = *lr;
    hb_buffer_destroy(r->buf);
    hb_font_destroy(r->font);   /* drops its reference to the face */
    if (r->face)
        FT_Done_Face(r->face);
    if (r->ft)
        FT_Done_FreeType(r->ft);
    free(r->font_file);
    free(r);
    *lr = NULL;
}

const char *mcu_label_font_file(const mcu_label_renderer_t *lr)
{
    return lr ? lr->font_file : NULL;
}

int mcu_label_px_for_cell(int cell_h)
{
    int px = cell_h / MCU_LABEL_CELL_H_DIV;
    return px < MCU_LABEL_PX_MIN ? MCU_LABEL_PX_MIN : px > MCU_LABEL_PX_MAX ? MCU_LABEL_PX_MAX
                                                                             : px;
}

int mcu_label_max_width(mcu_rect_t cell)
{
    int w = cell.w - 2 * MCU_LABEL_MARGIN_PX;
    return w > 0 ? w : 0;
}

/* ---- shaping and rasterising ---- */

/* 26.6 fixed point to the nearest pixel (halves up), also for negative values. */
static int round26(hb_position_t v)
{
    long t = (long)v + 32;
    return (int)(t >= 0 ? t / 64 : -((-t + 63) / 64));
}

static int ceil26(long v)
{
    return (int)(v >= 0 ? (v + 63) / 64 : -(-v / 64));
}

static void run_free(run_t *run)
{
    for (int i = 0; i < run->n; i++)
        FT_Done_Glyph(run->g[i].glyph);
    free(run->g);
    memset(run, 0, sizeof *run);
}

/* Shapes s[0..len) into lr->buf at the current size. The language is set to
 * MCU_LABEL_FONT_LANG so fonts with Vietnamese-specific forms (stacked marks) use them;
 * direction and script are guessed from the text. */
static void shape(mcu_label_renderer_t *lr, const char *s, size_t len)
{
    hb_buffer_clear_contents(lr->buf);
    hb_buffer_add_utf8(lr->buf, s, (int)len, 0, (int)len);
    hb_buffer_set_language(lr->buf, hb_language_from_string(MCU_LABEL_FONT_LANG, -1));
    hb_buffer_guess_segment_properties(lr->buf);
    hb_shape(lr->font, lr->buf, NULL, 0);
}

/* Rasterises what shape() left in lr->buf into *run. */
static int rasterise(mcu_label_renderer_t *lr, run_t *run)
{
    memset(run, 0, sizeof *run);
    unsigned n = 0;
    const hb_glyph_info_t *info = hb_buffer_get_glyph_infos(lr->buf, &n);
    const hb_glyph_position_t *pos = hb_buffer_get_glyph_positions(lr->buf, NULL);
    if (n && !(run->g = calloc(n, sizeof *run->g)))
        return MCU_ERR_NOMEM;
    hb_position_t pen_x = 0, pen_y = 0;
    for (unsigned i = 0; i < n; i++) {
        if (info[i].codepoint == 0)
            run->missing++;
        int ox = round26(pen_x + pos[i].x_offset);
        int oy = round26(pen_y + pos[i].y_offset);
        pen_x += pos[i].x_advance;
        pen_y += pos[i].y_advance;
        FT_Glyph g;
        if (FT_Load_Glyph(lr->face, info[i].codepoint, LABEL_FT_LOAD_FLAGS) != 0 ||
            FT_Get_Glyph(lr->face->glyph, &g) != 0)
            continue;   /* a broken glyph in the font: leave a gap, not a failure */
        if (FT_Glyph_To_Bitmap(&g, FT_RENDER_MODE_NORMAL, NULL, 1) != 0) {
            FT_Done_Glyph(g);
            continue;
        }
        const FT_BitmapGlyph bg = (FT_BitmapGlyph)g;
        placed_t *p = &run->g[run->n++];
        p->glyph = g;
        p->x = ox + bg->left;
        p->y = oy + bg->top;
        if (bg->bitmap.width == 0 || bg->bitmap.rows == 0)
            continue;
        int l = p->x, r = p->x + (int)bg->bitmap.width;
        int t = p->y, b = p->y - (int)bg->bitmap.rows;
        if (!run->has_ink) {
            run->ink_l = l, run->ink_r = r, run->ink_t = t, run->ink_b = b;
            run->has_ink = true;
        } else {
            run->ink_l = l < run->ink_l ? l : run->ink_l;
            run->ink_r = r > run->ink_r ? r : run->ink_r;
            run->ink_t = t > run->ink_t ? t : run->ink_t;
            run->ink_b = b < run->ink_b ? b : run->ink_b;
        }
    }
    run->advance = round26(pen_x);
    return MCU_OK;
}

static int layout(mcu_label_renderer_t *lr, const char *s, size_t len, run_t *run)
{
    shape(lr, s, len);
    int err = rasterise(lr, run);
    if (err)
        run_free(run);
    return err;
}

static int max_i(int a, int b) { return a > b ? a : b; }
static int min_i(int a, int b) { return a < b ? a : b; }

static box_t box_of(const mcu_label_renderer_t *lr, const run_t *run, int px)
{
    const int pad = max_i(MCU_LABEL_PAD_MIN, px / MCU_LABEL_PAD_DIV);
    int top = ceil26(lr->face->size->metrics.ascender);
    int bottom = ceil26(-(long)lr->face->size->metrics.descender);
    int left = 0, right = run->advance;
    if (run->has_ink) {
        top = max_i(top, run->ink_t);
        bottom = max_i(bottom, -run->ink_b);
        left = min_i(left, run->ink_l);
        right = max_i(right, run->ink_r);
    }
    box_t b;
    b.w = 2 * pad + (right - left);
    b.h = 2 * pad + top + bottom;
    b.w += b.w & 1;
    b.h += b.h & 1;
    b.origin_x = pad - left;
    b.baseline = pad + top;
    return b;
}

/* Copies the glyphs into a new bitmap; overlapping glyphs (a mark over its base) keep the
 * larger coverage, so overlaps do not darken. */
static int blit(const run_t *run, box_t b, mcu_label_bitmap_t *out)
{
    out->alpha = calloc((size_t)b.w * (size_t)b.h, 1);
    if (!out->alpha)
        return MCU_ERR_NOMEM;
    out->w = b.w, out->h = b.h, out->stride = b.w;
    out->baseline = b.baseline, out->origin_x = b.origin_x;
    out->missing = run->missing;
    for (int i = 0; i < run->n; i++) {
        const FT_Bitmap *bm = &((FT_BitmapGlyph)run->g[i].glyph)->bitmap;
        const int x0 = b.origin_x + run->g[i].x, y0 = b.baseline - run->g[i].y;
        const bool mono = bm->pixel_mode == FT_PIXEL_MODE_MONO;
        if (!mono && bm->pixel_mode != FT_PIXEL_MODE_GRAY)
            continue;   /* colour bitmaps (emoji): not drawable as coverage */
        for (int r = 0; r < (int)bm->rows; r++) {
            const uint8_t *src = bm->buffer + (long)r * bm->pitch;
            uint8_t *dst = out->alpha + (size_t)(y0 + r) * (size_t)out->stride + x0;
            for (int c = 0; c < (int)bm->width; c++) {
                uint8_t a = mono ? ((src[c >> 3] >> (7 - (c & 7))) & 1 ? 255 : 0) : src[c];
                if (a > dst[c])
                    dst[c] = a;
            }
        }
    }
    return MCU_OK;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Cut points for the ellipsis: the starts of the grapheme clusters of the text shaped
 * last, ascending (right-to-left runs come in visual order: sorted), 0 included, no
 * duplicates. Returns the count; *cuts is malloc'd. */
static int cluster_cuts(const mcu_label_renderer_t *lr, size_t **cuts)
{
    unsigned n = 0;
    const hb_glyph_info_t *info = hb_buffer_get_glyph_infos(lr->buf, &n);
    size_t *c = malloc((n + 1) * sizeof *c);
    if (!c)
        return MCU_ERR_NOMEM;
    int m = 0;
    c[m++] = 0;
    for (unsigned i = 0; i < n; i++)
        c[m++] = info[i].cluster;
    qsort(c, (size_t)m, sizeof *c, cmp_size);
    int u = 0;
    for (int i = 0; i < m; i++)
        if (u == 0 || c[i] != c[u - 1])
            c[u++] = c[i];
    *cuts = c;
    return u;
}

/* Lays out text[0..cut) without its trailing spaces, followed by the ellipsis, into
 * `tmp` (room for cut + 4 bytes) and *run. */
static int layout_cut(mcu_label_renderer_t *lr, const char *text, size_t cut, char *tmp,
                      run_t *run)
{
    while (cut > 0 && text[cut - 1] == ' ')
        cut--;
    size_t el = strlen(lr->ellipsis);
    memcpy(tmp, text, cut);
    memcpy(tmp + cut, lr->ellipsis, el);
    return layout(lr, tmp, cut + el, run);
}

/* Replaces *run (the whole text, too wide) by the longest grapheme prefix + ellipsis
 * whose box fits max_w. Widths grow with the prefix (up to kerning noise), so a binary
 * search over the cut points finds it in log2(clusters) layouts; each candidate is
 * checked, so a non-monotone width can only cost length, never overflow max_w. */
static int ellipsise(mcu_label_renderer_t *lr, const char *text, size_t len, int px, int max_w,
                     run_t *run)
{
    size_t *cuts;
    int m = cluster_cuts(lr, &cuts);   /* lr->buf still holds the whole text */
    run_free(run);
    if (m < 0)
        return m;
    char *tmp = malloc(len + 8);
    int err = tmp ? MCU_OK : MCU_ERR_NOMEM;
    int lo = 0, hi = m - 1, best = -1;   /* cuts[best] fits; search [lo, hi] */
    while (!err && lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        run_t probe;
        err = layout_cut(lr, text, cuts[mid], tmp, &probe);
        if (err)
            break;
        if (box_of(lr, &probe, px).w <= max_w)
            best = mid, lo = mid + 1;
        else
            hi = mid - 1;
        run_free(&probe);
    }
    if (!err)
        err = best < 0 ? MCU_ERR_NOSPACE : layout_cut(lr, text, cuts[best], tmp, run);
    free(tmp);
    free(cuts);
    return err;
}

int mcu_label_render(mcu_label_renderer_t *lr, const char *utf8, int px, int max_w,
                     mcu_label_bitmap_t *out)
{
    if (!out)
        return MCU_ERR_INVAL;
    mcu_label_bitmap_free(out);
    if (!lr || !utf8 || px < MCU_LABEL_RENDER_PX_MIN || px > MCU_LABEL_RENDER_PX_MAX ||
        max_w < 1 || max_w > MCU_LABEL_MAX_W)
        return MCU_ERR_INVAL;
    size_t len = strnlen(utf8, MCU_LABEL_MAX_BYTES + 1);
    if (len > MCU_LABEL_MAX_BYTES)
        return MCU_ERR_TOO_BIG;
    int err = validate_utf8((const uint8_t *)utf8, len);
    if (err || len == 0)
        return err;
    if ((err = set_size(lr, px)) != MCU_OK)
        return err;

    run_t run;
    if ((err = layout(lr, utf8, len, &run)) != MCU_OK)
        return err;
    bool truncated = false;
    if (box_of(lr, &run, px).w > max_w) {
        truncated = true;
        if ((err = ellipsise(lr, utf8, len, px, max_w, &run)) != MCU_OK)
            return err;   /* run already freed */
    }
    err = blit(&run, box_of(lr, &run, px), out);
    out->truncated = truncated && !err;
    run_free(&run);
    if (err)
        mcu_label_bitmap_free(out);
    return err;
}

void mcu_label_bitmap_free(mcu_label_bitmap_t *bm)
{
    if (!bm)
        return;
    free(bm->alpha);
    memset(bm, 0, sizeof *bm);
}

/* ---- drawing ---- */

static pthread_once_t dsp_once = PTHREAD_ONCE_INIT;
static mcu_blend_dsp_t dsp_default;

static void dsp_init_once(void) { mcu_blend_dsp_init(&dsp_default); }

int mcu_label_draw(mcu_canvas_t *canvas, mcu_rect_t cell, const mcu_label_bitmap_t *bm,
                   mcu_label_pos_t pos)
{
    pthread_once(&dsp_once, dsp_init_once);
    return mcu_label_draw_dsp(&dsp_default, canvas, cell, bm, pos);
}

int mcu_label_draw_dsp(const mcu_blend_dsp_t *dsp, mcu_canvas_t *canvas, mcu_rect_t cell,
                       const mcu_label_bitmap_t *bm, mcu_label_pos_t pos)
{
    if (!dsp || !canvas || !bm)
        return MCU_ERR_INVAL;
    if (((cell.x | cell.y | cell.w | cell.h) & 1) || cell.x < 0 || cell.y < 0 ||
        cell.w <= 0 || cell.h <= 0 || cell.w > canvas->width - cell.x ||
        cell.h > canvas->height - cell.y)
        return MCU_ERR_INVAL;
    if (bm->w < 0 || bm->h < 0 || ((bm->w | bm->h) & 1) ||
        (bm->w > 0 && bm->h > 0 && (!bm->alpha || bm->stride < bm->w)))
        return MCU_ERR_INVAL;
    if ((unsigned)pos > MCU_LABEL_POS_CENTER)
        return MCU_ERR_INVAL;
    if (bm->w == 0 || bm->h == 0)
        return MCU_OK;

    const int m = MCU_LABEL_MARGIN_PX;
    int x0 = cell.x + m;
    if (pos == MCU_LABEL_POS_BOTTOM_CENTER || pos == MCU_LABEL_POS_CENTER)
        x0 = max_i(x0, cell.x + (((cell.w - bm->w) / 2) & ~1));
    int y0 = pos == MCU_LABEL_POS_TOP_LEFT ? cell.y + m : cell.y + cell.h - m - bm->h;
    if (pos == MCU_LABEL_POS_CENTER)
        y0 = cell.y + (((cell.h - bm->h) / 2) & ~1);
    if (y0 < cell.y)
        y0 = cell.y;   /* taller than the cell less a margin: show its top */

    /* The box clipped to the cell. Its top-left corner is never left of or above the
     * cell, so clipping only cuts its right and bottom: bitmap row r, column c lands on
     * canvas (x0 + c, y0 + r). Everything is even (cell, margin, bitmap size), so the
     * clipped box covers whole chroma samples. Long arithmetic: a huge bitmap must not
     * overflow. */
    const long vx0 = x0, vy0 = y0;
    const long vx1 = (long)x0 + bm->w < (long)cell.x + cell.w ? (long)x0 + bm->w
                                                              : (long)cell.x + cell.w;
    const long vy1 = (long)y0 + bm->h < (long)cell.y + cell.h ? (long)y0 + bm->h
                                                              : (long)cell.y + cell.h;
    if (vx1 <= vx0 || vy1 <= vy0)
        return MCU_OK;
    const int vw = (int)(vx1 - vx0), vh = (int)(vy1 - vy0);

    for (int r = 0; r < vh; r++) {
        uint8_t *row = canvas->data[0] + (size_t)(vy0 + r) * canvas->stride[0] + vx0;
        dsp->darken_row(row, vw, MCU_LABEL_BACKDROP_Y, MCU_LABEL_BACKDROP_KEEP);
        dsp->blend_row_y(row, bm->alpha + (size_t)r * bm->stride, vw, MCU_LABEL_TEXT_Y);
    }
    for (int r = 0; r < vh / 2; r++) {
        const uint8_t *a0 = bm->alpha + (size_t)(2 * r) * bm->stride;
        for (int p = 1; p <= 2; p++) {
            uint8_t *row = canvas->data[p] + (size_t)(vy0 / 2 + r) * canvas->stride[p] +
                           vx0 / 2;
            dsp->darken_row(row, vw / 2, MCU_LABEL_BACKDROP_UV, MCU_LABEL_BACKDROP_KEEP);
            dsp->blend_row_uv(row, a0, a0 + bm->stride, vw / 2, MCU_LABEL_TEXT_UV);
        }
    }
    return MCU_OK;
}
