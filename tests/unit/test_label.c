/* Name labels: the Yên Mô names are shaped with a glyph for every character (no
 * .notdef box) and every glyph leaves ink; the marks of Vietnamese letters are really
 * drawn (taller ink than the bare letter, the dot below under the baseline, ink above
 * the x-height at each accented letter of a whole name); decomposed (NFD) input gives
 * the same bitmap as precomposed (NFC); long names are cut with "…" at a grapheme
 * boundary; malformed UTF-8 and bad arguments are rejected; and a strip of names drawn
 * on grey and on white is written as an image to look at. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ft2build.h>
#include FT_FREETYPE_H
#include <hb-ft.h>
#include <hb.h>

#include "layouts/canvas.h"
#include "layouts/label.h"
#include "mcu/error.h"
#include "test_util.h"

/* Coverage that counts as ink: half of full, so antialiasing fringes of a neighbouring
 * glyph do not pass for a mark. */
#define INK 128
/* Size for the shape tests: 32 px puts a few pixels between the marks and the letter. */
#define BIG_PX 32
/* No width limit worth the name for single letters and whole names. */
#define WIDE 4000

static const char *const NAMES[] = {"Khánh Thượng", "Yên Thắng", "Huyện Yên Mô"};

static mcu_label_renderer_t *lr;

static int setup(void **state)
{
    (void)state;
    return mcu_label_create(NULL, &lr);
}

static int teardown(void **state)
{
    (void)state;
    mcu_label_destroy(&lr);
    return lr != NULL;
}

static void render(const char *s, int px, int max_w, mcu_label_bitmap_t *bm)
{
    int err = mcu_label_render(lr, s, px, max_w, bm);
    if (err)
        fail_msg("render \"%s\" at %d px: %s", s, px, mcu_strerror(err));
    assert_true(bm->w > 0 && bm->h > 0 && bm->w % 2 == 0 && bm->h % 2 == 0);
    assert_true(bm->w <= max_w);
}

/* Ink box of a bitmap in rows relative to the baseline: top = rows of ink above the
 * baseline, bottom = rows of ink under it (0: none). */
typedef struct { int top, bottom, left, right; } ink_t;

static ink_t ink_of(const mcu_label_bitmap_t *bm)
{
    ink_t k = {0, 0, bm->w, 0};
    int first = -1, last = -1;
    for (int r = 0; r < bm->h; r++)
        for (int c = 0; c < bm->w; c++)
            if (bm->alpha[r * bm->stride + c] >= INK) {
                if (first < 0)
                    first = r;
                last = r;
                k.left = c < k.left ? c : k.left;
                k.right = c + 1 > k.right ? c + 1 : k.right;
            }
    assert_true(first >= 0);
    k.top = bm->baseline - first;
    k.bottom = last + 1 - bm->baseline;
    return k;
}

static bool same_bitmap(const mcu_label_bitmap_t *a, const mcu_label_bitmap_t *b, int *diff)
{
    *diff = -1;
    if (a->w != b->w || a->h != b->h || a->baseline != b->baseline)
        return false;
    *diff = 0;
    for (int r = 0; r < a->h; r++)
        for (int c = 0; c < a->w; c++)
            *diff += a->alpha[r * a->stride + c] != b->alpha[r * b->stride + c];
    return *diff == 0;
}

/* ---- the test's own shaping, independent of the renderer's code ---- */

typedef struct shaped {
    FT_Library ft;
    FT_Face face;
    hb_font_t *font;
    hb_buffer_t *buf;
} shaped_t;

static void shaped_open(shaped_t *s, int px)
{
    assert_int_equal(FT_Init_FreeType(&s->ft), 0);
    assert_int_equal(FT_New_Face(s->ft, mcu_label_font_file(lr), 0, &s->face), 0);
    assert_int_equal(FT_Set_Pixel_Sizes(s->face, 0, (FT_UInt)px), 0);
    s->font = hb_ft_font_create_referenced(s->face);
    hb_ft_font_set_load_flags(s->font, FT_LOAD_TARGET_LIGHT);
    s->buf = hb_buffer_create();
}

static void shaped_text(shaped_t *s, const char *text)
{
    hb_buffer_clear_contents(s->buf);
    hb_buffer_add_utf8(s->buf, text, -1, 0, -1);
    hb_buffer_set_language(s->buf, hb_language_from_string(MCU_LABEL_FONT_LANG, -1));
    hb_buffer_guess_segment_properties(s->buf);
    hb_shape(s->font, s->buf, NULL, 0);
}

static void shaped_close(shaped_t *s)
{
    hb_buffer_destroy(s->buf);
    hb_font_destroy(s->font);
    FT_Done_Face(s->face);
    FT_Done_FreeType(s->ft);
}

static int round26(long v) { return (int)((v + 32) >= 0 ? (v + 32) / 64 : -((31 - v) / 64)); }

/* Every character of every name has a real glyph (not glyph 0, .notdef, the box a font
 * draws for what it lacks), every glyph but the space has ink of its own, and the
 * renderer's bitmap has ink in that glyph's columns. */
static void every_glyph_has_ink(void **state)
{
    (void)state;
    print_message("font: %s\n", mcu_label_font_file(lr));
    shaped_t s;
    shaped_open(&s, BIG_PX);
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        mcu_label_bitmap_t bm = {0};
        render(NAMES[i], BIG_PX, WIDE, &bm);
        assert_int_equal(bm.missing, 0);
        assert_false(bm.truncated);
        shaped_text(&s, NAMES[i]);
        unsigned n;
        const hb_glyph_info_t *info = hb_buffer_get_glyph_infos(s.buf, &n);
        const hb_glyph_position_t *pos = hb_buffer_get_glyph_positions(s.buf, NULL);
        long pen = 0;
        for (unsigned g = 0; g < n; g++) {
            const char *ch = NAMES[i] + info[g].cluster;
            if (info[g].codepoint == 0)
                fail_msg("\"%s\": no glyph for the character at byte %u", NAMES[i],
                         info[g].cluster);
            int x = bm.origin_x + round26(pen + pos[g].x_offset);
            pen += pos[g].x_advance;
            if (*ch == ' ')
                continue;
            assert_int_equal(FT_Load_Glyph(s.face, info[g].codepoint,
                                           FT_LOAD_TARGET_LIGHT | FT_LOAD_RENDER), 0);
            const FT_GlyphSlot slot = s.face->glyph;
            int glyph_ink = 0;
            for (unsigned p = 0; p < slot->bitmap.rows * (unsigned)slot->bitmap.pitch; p++)
                glyph_ink += slot->bitmap.buffer[p] >= INK;
            int l = x + slot->bitmap_left, r = l + (int)slot->bitmap.width;
            int label_ink = 0;
            for (int row = 0; row < bm.h; row++)
                for (int c = l; c < r; c++)
                    label_ink += bm.alpha[row * bm.stride + c] >= INK;
            if (glyph_ink == 0 || label_ink < glyph_ink / 2)
                fail_msg("\"%s\" glyph %u (byte %u): glyph ink %d, label ink %d", NAMES[i], g,
                         info[g].cluster, glyph_ink, label_ink);
        }
        print_message("\"%s\": %u glyphs, all present and inked; bitmap %dx%d\n", NAMES[i], n,
                      bm.w, bm.h);
        mcu_label_bitmap_free(&bm);
    }
    shaped_close(&s);
}

/* Each accented letter, alone, against its bare base letter: the marks above make its
 * ink taller, the dot below (ợ, ệ) puts ink under the baseline, which the bare letter
 * never has. */
static void marks_are_drawn(void **state)
{
    (void)state;
    static const struct { const char *mark, *base; bool above, below; } pairs[] = {
        {"á", "a", true, false}, {"ắ", "a", true, false}, {"ê", "e", true, false},
        {"ệ", "e", true, true},  {"ô", "o", true, false}, {"ơ", "o", true, false},
        {"ợ", "o", true, true},  {"ư", "u", true, false}, {"Ắ", "A", true, false},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        mcu_label_bitmap_t m = {0}, b = {0};
        render(pairs[i].mark, BIG_PX, WIDE, &m);
        render(pairs[i].base, BIG_PX, WIDE, &b);
        ink_t km = ink_of(&m), kb = ink_of(&b);
        print_message("%s: ink %d above / %d below the baseline; %s: %d / %d\n",
                      pairs[i].mark, km.top, km.bottom, pairs[i].base, kb.top, kb.bottom);
        assert_int_equal(kb.bottom, 0);
        if (pairs[i].above)
            assert_true(km.top >= kb.top + 2);
        if (pairs[i].below)
            assert_true(km.bottom >= 2);
        else
            assert_int_equal(km.bottom, 0);
        mcu_label_bitmap_free(&m);
        mcu_label_bitmap_free(&b);
    }
}

/* In whole names: over every accented letter there is ink above the x-height (the
 * height of "x"), in the columns of that letter's own glyph (one pixel in from each
 * side, so a neighbour's ascender cannot count). */
static void marks_in_names(void **state)
{
    (void)state;
    mcu_label_bitmap_t x = {0};
    render("x", BIG_PX, WIDE, &x);
    const int x_height = ink_of(&x).top;
    mcu_label_bitmap_free(&x);
    shaped_t s;
    shaped_open(&s, BIG_PX);
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        mcu_label_bitmap_t bm = {0};
        render(NAMES[i], BIG_PX, WIDE, &bm);
        shaped_text(&s, NAMES[i]);
        unsigned n;
        const hb_glyph_info_t *info = hb_buffer_get_glyph_infos(s.buf, &n);
        const hb_glyph_position_t *pos = hb_buffer_get_glyph_positions(s.buf, NULL);
        long pen = 0;
        int checked = 0;
        for (unsigned g = 0; g < n; g++) {
            const unsigned char *ch = (const unsigned char *)NAMES[i] + info[g].cluster;
            int x0 = bm.origin_x + round26(pen + pos[g].x_offset);
            pen += pos[g].x_advance;
            if (*ch < 0x80)
                continue;   /* ASCII: no mark */
            assert_int_equal(FT_Load_Glyph(s.face, info[g].codepoint,
                                           FT_LOAD_TARGET_LIGHT | FT_LOAD_RENDER), 0);
            int l = x0 + s.face->glyph->bitmap_left + 1;
            int r = x0 + s.face->glyph->bitmap_left + (int)s.face->glyph->bitmap.width - 1;
            int above = 0;
            for (int row = 0; row < bm.baseline - x_height - 1; row++)
                for (int c = l; c < r; c++)
                    above += bm.alpha[row * bm.stride + c] >= INK;
            if (above == 0)
                fail_msg("\"%s\": no ink above the x-height over the letter at byte %u",
                         NAMES[i], info[g].cluster);
            checked++;
        }
        assert_true(checked >= 2);
        mcu_label_bitmap_free(&bm);
    }
    shaped_close(&s);
}

/* ---- glyph by glyph against FreeType alone ---- */

/* An independent reference: FreeType only (no HarfBuzz, none of label.c's code), one
 * glyph per code point from the cmap, rendered anti-aliased with FreeType's default
 * hinting, placed by FreeType's advances plus its kerning pairs ('kern' table), from
 * the label's pen origin (origin_x) on the label's baseline. label.c's convention, read
 * from rasterise() and blit(): the pen is kept in 26.6 and rounded to a pixel per glyph;
 * glyph bitmap row 0 lands on label row `baseline - bitmap_top`, column
 * `origin_x + round(pen) + bitmap_left`.
 * The advances are the unhinted ones (linearHoriAdvance; kerning FT_KERNING_UNFITTED):
 * the label's HarfBuzz font takes FreeType's unrounded advances under light hinting,
 * while the hinted advance.x is rounded to a whole pixel per glyph, and those roundings
 * add up along a name. Measured with DejaVu Sans Bold: hinted advances put the last
 * glyph of "Khánh Thượng" 1.7 px right of the label's at 12 px (91.00 vs 89.28) and
 * 2.0 px at 32 px, past the one-pixel tolerance, with no glyph of the label misplaced;
 * unhinted ones agree with HarfBuzz's pen to 0.15 px at 12, 20 and 32 px. */

/* Sizes of the glyph tests: the smallest tile size, a middle one, BIG_PX. */
static const int GLYPH_PX[] = {MCU_LABEL_PX_MIN, 20, BIG_PX};
/* The two names, NFC: precomposed letters, one code point each (glyphs_match_freetype
 * checks it finds GLYPH_ACCENTED[i] of them, so an editor saving the file in NFD would
 * not go unnoticed). */
static const char *const GLYPH_NAMES[] = {"Khánh Thượng", "Yên Thắng"};
static const int GLYPH_ACCENTED[] = {3, 2};   /* á ư ợ; ê ắ */
/* A label pixel counts as ink for a reference pixel at this coverage: a quarter, so an
 * edge pixel the label's light hinting puts a little further out still counts... */
#define MATCH_INK 64
/* ... within this many pixels in each direction (hinting and advance rounding differ
 * between FreeType's default mode and the label's light mode by up to one pixel). */
#define MATCH_TOL_PX 1
/* Share of each glyph's reference ink (coverage >= INK) the label must have. */
#define MATCH_MIN_PCT 95.0
/* Most code points in a test name. */
#define MAX_CPS 32

typedef struct ref_glyph {
    uint32_t cp;
    FT_UInt index;
    int pen;          /* pen position, pixels from origin_x */
    int advance;      /* hinted advance in pixels (kerning not included) */
    int x, y;         /* top-left of the bitmap in label coordinates */
    int w, h;
    uint8_t *px;      /* w x h coverage, owned */
} ref_glyph_t;

typedef struct ref_line {
    ref_glyph_t g[MAX_CPS];
    int n;
} ref_line_t;

/* Minimal UTF-8 decoding for the test's own, well-formed literals. */
static int utf8_decode(const char *s, uint32_t *cps, int max)
{
    int n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c = *p;
        int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        c = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
        for (int k = 1; k < len; k++)
            c = (c << 6) | (p[k] & 0x3Fu);
        assert_true(n < max);
        cps[n++] = c;
        p += len;
    }
    return n;
}

static FT_Face ref_face_open(FT_Library ft, int px)
{
    FT_Face face;
    assert_int_equal(FT_New_Face(ft, mcu_label_font_file(lr), 0, &face), 0);
    assert_int_equal(FT_Set_Pixel_Sizes(face, 0, (FT_UInt)px), 0);
    return face;
}

/* Lays out `text` with FreeType alone, relative to bm's origin and baseline. */
static void ref_layout(FT_Face face, const char *text, const mcu_label_bitmap_t *bm,
                       ref_line_t *line)
{
    uint32_t cps[MAX_CPS];
    memset(line, 0, sizeof *line);
    line->n = utf8_decode(text, cps, MAX_CPS);
    long pen = 0;   /* 26.6 */
    FT_UInt prev = 0;
    for (int i = 0; i < line->n; i++) {
        ref_glyph_t *g = &line->g[i];
        g->cp = cps[i];
        g->index = FT_Get_Char_Index(face, cps[i]);
        if (g->index == 0)
            fail_msg("\"%s\": the font has no glyph for U+%04X (it would draw a box)", text,
                     cps[i]);
        if (prev && FT_HAS_KERNING(face)) {
            FT_Vector k;
            assert_int_equal(FT_Get_Kerning(face, prev, g->index, FT_KERNING_UNFITTED, &k),
                             0);
            pen += k.x;
        }
        prev = g->index;
        assert_int_equal(FT_Load_Glyph(face, g->index, FT_LOAD_RENDER), 0);
        const FT_GlyphSlot slot = face->glyph;
        assert_int_equal(slot->bitmap.pixel_mode, FT_PIXEL_MODE_GRAY);
        g->pen = round26(pen);
        g->advance = round26(slot->advance.x);
        g->x = bm->origin_x + g->pen + slot->bitmap_left;
        g->y = bm->baseline - slot->bitmap_top;
        g->w = (int)slot->bitmap.width;
        g->h = (int)slot->bitmap.rows;
        if (g->w && g->h) {
            g->px = malloc((size_t)g->w * (size_t)g->h);
            assert_non_null(g->px);
            for (int r = 0; r < g->h; r++)
                memcpy(g->px + r * g->w, slot->bitmap.buffer + r * slot->bitmap.pitch,
                       (size_t)g->w);
        }
        pen += slot->linearHoriAdvance >> 10;   /* 16.16 -> 26.6 */
    }
}

static void ref_free(ref_line_t *line)
{
    for (int i = 0; i < line->n; i++)
        free(line->g[i].px);
    memset(line, 0, sizeof *line);
}

static int label_at(const mcu_label_bitmap_t *bm, int x, int y)
{
    return x < 0 || y < 0 || x >= bm->w || y >= bm->h ? 0 : bm->alpha[y * bm->stride + x];
}

/* Whether the label has coverage >= MATCH_INK within MATCH_TOL_PX of (x, y), looking
 * only at rows < row_limit. */
static bool label_ink_near(const mcu_label_bitmap_t *bm, int x, int y, int row_limit)
{
    for (int dy = -MATCH_TOL_PX; dy <= MATCH_TOL_PX; dy++)
        for (int dx = -MATCH_TOL_PX; dx <= MATCH_TOL_PX; dx++)
            if (y + dy < row_limit && label_at(bm, x + dx, y + dy) >= MATCH_INK)
                return true;
    return false;
}

/* Reference ink pixels of g (coverage >= INK) in label rows < row_limit, and how many
 * of them the label matches (ink within the tolerance, also above row_limit). */
static void match_glyph(const mcu_label_bitmap_t *bm, const ref_glyph_t *g, int row_limit,
                        int *ref_ink, int *matched)
{
    *ref_ink = *matched = 0;
    for (int r = 0; r < g->h; r++)
        for (int c = 0; c < g->w; c++) {
            if (g->px[r * g->w + c] < INK || g->y + r >= row_limit)
                continue;
            ++*ref_ink;
            *matched += label_ink_near(bm, g->x + c, g->y + r, row_limit);
        }
}

static void utf8_of(uint32_t cp, char out[5])
{
    if (cp < 0x80) {
        out[0] = (char)cp, out[1] = 0;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
    } else {
        out[0] = (char)(0xE0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)), out[3] = 0;
    }
}

/* The accented letters of the names and their base letters. */
static uint32_t base_of(uint32_t cp)
{
    switch (cp) {
    case 0xE1: case 0x1EAF: return 'a';   /* á ắ */
    case 0xEA: return 'e';                /* ê */
    case 0x1B0: return 'u';               /* ư */
    case 0x1EE3: return 'o';              /* ợ */
    default: return 0;
    }
}

/* The horned letters: at small sizes their horn sits beside the letter's top rather
 * than above it (at 12 px DejaVu Sans Bold's "ư" has no ink >= INK above "u"'s top row,
 * only a faint fringe), so what shows their mark is the ink the bare letter lacks. */
static bool horned(uint32_t cp) { return cp == 0x1B0 || cp == 0x1EE3; }

/* The base letter rendered by the reference at the accented glyph's pen position, so
 * the two can be compared pixel for pixel. */
typedef struct base_glyph {
    int x, y, w, h;
    uint8_t *px;
    int top_row;      /* label row of its topmost ink (>= INK): its x-height line */
} base_glyph_t;

static void base_render(FT_Face face, uint32_t base, const ref_glyph_t *g,
                        const mcu_label_bitmap_t *bm, base_glyph_t *b)
{
    assert_int_equal(FT_Load_Char(face, base, FT_LOAD_RENDER), 0);
    const FT_GlyphSlot slot = face->glyph;
    b->x = bm->origin_x + g->pen + slot->bitmap_left;
    b->y = bm->baseline - slot->bitmap_top;
    b->w = (int)slot->bitmap.width;
    b->h = (int)slot->bitmap.rows;
    b->px = malloc((size_t)b->w * (size_t)b->h);
    assert_non_null(b->px);
    b->top_row = -1;
    for (int r = 0; r < b->h; r++)
        for (int c = 0; c < b->w; c++) {
            b->px[r * b->w + c] = slot->bitmap.buffer[r * slot->bitmap.pitch + c];
            if (b->top_row < 0 && b->px[r * b->w + c] >= INK)
                b->top_row = b->y + r;
        }
    assert_true(b->top_row >= 0);
}

static int base_at(const base_glyph_t *b, int x, int y)
{
    x -= b->x, y -= b->y;
    return x < 0 || y < 0 || x >= b->w || y >= b->h ? 0 : b->px[y * b->w + x];
}

/* Coverage of the reference's other glyphs (all but glyph `self`) at label (x, y). */
static int others_at(const ref_line_t *line, int self, int x, int y)
{
    int v = 0;
    for (int j = 0; j < line->n; j++) {
        const ref_glyph_t *o = &line->g[j];
        const int c = x - o->x, r = y - o->y;
        if (j != self && c >= 0 && r >= 0 && c < o->w && r < o->h && o->px[r * o->w + c] > v)
            v = o->px[r * o->w + c];
    }
    return v;
}

/* The marks of glyph i as the reference draws them: its ink (>= INK) where neither the
 * bare base letter (same pen) nor a neighbouring glyph has any (< MATCH_INK). Matched
 * when the label has ink (>= MATCH_INK) within MATCH_TOL_PX at a pixel that the bare
 * letter and the neighbours leave empty too, so neither the letter's own body nor the
 * next letter, a pixel away, can stand in for a missing mark. (At 12 px the horn of
 * "ư" touches the left edge of the "ợ" after it.) */
static void match_marks(const mcu_label_bitmap_t *bm, const ref_line_t *line, int i,
                        const base_glyph_t *b, int *ref_ink, int *matched)
{
    const ref_glyph_t *g = &line->g[i];
    *ref_ink = *matched = 0;
    for (int r = 0; r < g->h; r++)
        for (int c = 0; c < g->w; c++) {
            const int x = g->x + c, y = g->y + r;
            if (g->px[r * g->w + c] < INK || base_at(b, x, y) >= MATCH_INK ||
                others_at(line, i, x, y) >= MATCH_INK)
                continue;
            ++*ref_ink;
            bool found = false;
            for (int dy = -MATCH_TOL_PX; dy <= MATCH_TOL_PX && !found; dy++)
                for (int dx = -MATCH_TOL_PX; dx <= MATCH_TOL_PX && !found; dx++)
                    found = label_at(bm, x + dx, y + dy) >= MATCH_INK &&
                            base_at(b, x + dx, y + dy) < MATCH_INK &&
                            others_at(line, i, x + dx, y + dy) < MATCH_INK;
            *matched += found;
        }
}

/* Per-glyph results of one name at one size. */
typedef struct glyph_result {
    double pct;           /* share of the glyph's reference ink the label has */
    int above_ref;        /* accented: reference ink above the base's x-height, or -1 */
    double above_pct;     /* ... and the share of it the label has there */
    int marks_ref;        /* accented: reference mark pixels (not in the bare letter) */
    double marks_pct;     /* ... and the share the label has */
} glyph_result_t;

static double pct_of(int part, int whole) { return whole ? 100.0 * part / whole : 0; }

/* Every glyph of the label has the ink the reference rendering has, within a pixel; and
 * each accented letter's marks are there: the reference's ink above the base letter's
 * x-height is in the label above that line too, and the reference's mark pixels (its
 * ink the bare letter lacks: accents, horns, the dot below) are in the label. */
static void glyphs_match_freetype(void **state)
{
    (void)state;
    FT_Library ft;
    assert_int_equal(FT_Init_FreeType(&ft), 0);
    double worst_pct = 100, worst_above = 100, worst_marks = 100;
    for (size_t si = 0; si < sizeof GLYPH_PX / sizeof GLYPH_PX[0]; si++) {
        const int px = GLYPH_PX[si];
        FT_Face face = ref_face_open(ft, px);
        for (size_t ni = 0; ni < sizeof GLYPH_NAMES / sizeof GLYPH_NAMES[0]; ni++) {
            const char *name = GLYPH_NAMES[ni];
            mcu_label_bitmap_t bm = {0};
            render(name, px, WIDE, &bm);
            assert_int_equal(bm.missing, 0);
            assert_false(bm.truncated);
            ref_line_t line;
            ref_layout(face, name, &bm, &line);
            glyph_result_t res[MAX_CPS];
            bool ok = true;
            double min_pct = 100;
            int accented = 0;
            for (int i = 0; i < line.n; i++) {
                const ref_glyph_t *g = &line.g[i];
                glyph_result_t *gr = &res[i];
                *gr = (glyph_result_t){100, -1, 100, -1, 100};
                if (g->cp == ' ')
                    continue;
                int ref_ink, matched;
                match_glyph(&bm, g, bm.h, &ref_ink, &matched);
                gr->pct = pct_of(matched, ref_ink);
                ok &= ref_ink > 0 && gr->pct >= MATCH_MIN_PCT;
                min_pct = gr->pct < min_pct ? gr->pct : min_pct;
                const uint32_t base = base_of(g->cp);
                if (!base)
                    continue;
                accented++;
                base_glyph_t b;
                base_render(face, base, g, &bm, &b);
                /* Above the x-height: rows above the bare letter's top ink row. */
                match_glyph(&bm, g, b.top_row, &gr->above_ref, &matched);
                gr->above_pct = pct_of(matched, gr->above_ref);
                if (gr->above_ref > 0) {
                    ok &= gr->above_pct >= MATCH_MIN_PCT;
                    worst_above = gr->above_pct < worst_above ? gr->above_pct : worst_above;
                } else if (horned(g->cp)) {
                    print_message("%2d px U+%04X: the reference's horn does not rise above "
                                  "the x-height at this size; its mark pixels decide\n",
                                  px, g->cp);
                } else {
                    ok = false;   /* an accent above must be above */
                }
                match_marks(&bm, &line, i, &b, &gr->marks_ref, &matched);
                gr->marks_pct = pct_of(matched, gr->marks_ref);
                ok &= gr->marks_ref > 0 && gr->marks_pct >= MATCH_MIN_PCT;
                worst_marks = gr->marks_pct < worst_marks ? gr->marks_pct : worst_marks;
                free(b.px);
            }
            assert_int_equal(accented, GLYPH_ACCENTED[ni]);
            worst_pct = min_pct < worst_pct ? min_pct : worst_pct;
            print_message("%2d px \"%s\": lowest glyph match %.1f%%\n", px, name, min_pct);
            if (!ok) {
                for (int i = 0; i < line.n; i++) {
                    char ch[5];
                    utf8_of(line.g[i].cp, ch);
                    print_message("  '%s' U+%04X pen %3d: %5.1f%% of its ink", ch,
                                  line.g[i].cp, line.g[i].pen, res[i].pct);
                    if (res[i].marks_ref >= 0)
                        print_message("; above the x-height %d px, %5.1f%% in the label; "
                                      "marks %d px, %5.1f%%", res[i].above_ref,
                                      res[i].above_pct, res[i].marks_ref, res[i].marks_pct);
                    print_message("\n");
                }
                fail_msg("%d px \"%s\": a glyph or a mark does not match FreeType's", px,
                         name);
            }
            ref_free(&line);
            mcu_label_bitmap_free(&bm);
        }
        FT_Done_Face(face);
    }
    print_message("lowest match: glyphs %.1f%%, ink above the x-height %.1f%%, marks "
                  "%.1f%%\n", worst_pct, worst_above, worst_marks);
    FT_Done_FreeType(ft);
}

/* No character but the space has an empty cell in the label: the columns from its pen
 * position to the next one (the reference's) hold some ink (coverage >= INK). */
static void no_blank_cells(void **state)
{
    (void)state;
    FT_Library ft;
    assert_int_equal(FT_Init_FreeType(&ft), 0);
    for (size_t si = 0; si < sizeof GLYPH_PX / sizeof GLYPH_PX[0]; si++) {
        const int px = GLYPH_PX[si];
        FT_Face face = ref_face_open(ft, px);
        for (size_t ni = 0; ni < sizeof GLYPH_NAMES / sizeof GLYPH_NAMES[0]; ni++) {
            const char *name = GLYPH_NAMES[ni];
            mcu_label_bitmap_t bm = {0};
            render(name, px, WIDE, &bm);
            ref_line_t line;
            ref_layout(face, name, &bm, &line);
            int fewest = -1;
            for (int i = 0; i < line.n; i++) {
                if (line.g[i].cp == ' ')
                    continue;
                const int x0 = bm.origin_x + line.g[i].pen;
                const int x1 = i + 1 < line.n ? bm.origin_x + line.g[i + 1].pen
                                              : x0 + line.g[i].advance;
                int ink = 0;
                for (int y = 0; y < bm.h; y++)
                    for (int x = x0; x < x1; x++)
                        ink += label_at(&bm, x, y) >= INK;
                if (ink == 0)
                    fail_msg("%d px \"%s\": the cell of character %d (U+%04X, columns "
                             "%d..%d) is blank", px, name, i, line.g[i].cp, x0, x1 - 1);
                fewest = fewest < 0 || ink < fewest ? ink : fewest;
            }
            print_message("%2d px \"%s\": every cell inked (fewest %d pixels)\n", px, name,
                          fewest);
            ref_free(&line);
            mcu_label_bitmap_free(&bm);
        }
        FT_Done_Face(face);
    }
    FT_Done_FreeType(ft);
}

/* Decomposed input: HarfBuzz's normaliser composes base + marks into the font's
 * precomposed glyph (and puts marks in canonical order first), so NFD, NFC and even a
 * non-canonical mark order give the same bitmap, pixel for pixel. */
static void nfd_equals_nfc(void **state)
{
    (void)state;
    static const struct { const char *nfc, *other, *what; } cases[] = {
        {"Yên Thắng", "Ye\xCC\x82n Tha\xCC\x86\xCC\x81ng", "NFD"},
        {"Khánh Thượng", "Kha\xCC\x81nh Thu\xCC\x9Bo\xCC\x9B\xCC\xA3ng", "NFD"},
        /* ợ as o + dot below + horn: not canonical order (horn has the lower class) */
        {"Khánh Thượng", "Kha\xCC\x81nh Thu\xCC\x9Bo\xCC\xA3\xCC\x9Bng",
         "NFD, marks swapped"},
        {"Huyện Yên Mô", "Huye\xCC\xA3\xCC\x82n Ye\xCC\x82n Mo\xCC\x82", "NFD"},
        /* ệ as e + circumflex + dot below: not canonical order either */
        {"Huyện Yên Mô", "Huye\xCC\x82\xCC\xA3n Ye\xCC\x82n Mo\xCC\x82",
         "NFD, marks swapped"},
    };
    for (int px = MCU_LABEL_PX_MIN; px <= BIG_PX; px += BIG_PX - MCU_LABEL_PX_MIN) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            mcu_label_bitmap_t a = {0}, b = {0};
            render(cases[i].nfc, px, WIDE, &a);
            render(cases[i].other, px, WIDE, &b);
            int diff;
            bool same = same_bitmap(&a, &b, &diff);
            print_message("%2d px \"%s\" vs %s: %dx%d vs %dx%d, %d pixels differ\n", px,
                          cases[i].nfc, cases[i].what, a.w, a.h, b.w, b.h, diff);
            assert_true(same);
            assert_int_equal(b.missing, 0);
            mcu_label_bitmap_free(&a);
            mcu_label_bitmap_free(&b);
        }
    }
}

/* All labels of one size have the same height and baseline, so the names of a row of
 * tiles line up. */
static void same_box_height(void **state)
{
    (void)state;
    for (int px = MCU_LABEL_PX_MIN; px <= MCU_LABEL_PX_MAX; px += 12) {
        mcu_label_bitmap_t first = {0};
        render(NAMES[0], px, WIDE, &first);
        for (size_t i = 1; i < sizeof NAMES / sizeof NAMES[0]; i++) {
            mcu_label_bitmap_t bm = {0};
            render(NAMES[i], px, WIDE, &bm);
            assert_int_equal(bm.h, first.h);
            assert_int_equal(bm.baseline, first.baseline);
            mcu_label_bitmap_free(&bm);
        }
        mcu_label_bitmap_free(&first);
    }
    assert_int_equal(mcu_label_px_for_cell(60), MCU_LABEL_PX_MIN);
    assert_int_equal(mcu_label_px_for_cell(144), 12);
    assert_int_equal(mcu_label_px_for_cell(360), 30);
    assert_int_equal(mcu_label_px_for_cell(2160), MCU_LABEL_PX_MAX);
    mcu_rect_t cell = {0, 0, 256, 144};
    assert_int_equal(mcu_label_max_width(cell), 256 - 2 * MCU_LABEL_MARGIN_PX);
    cell.w = 10;
    assert_int_equal(mcu_label_max_width(cell), 0);
}

/* Too wide: the longest prefix of whole graphemes (trailing spaces dropped) followed by
 * "…" that fits, which is exactly what rendering that prefix + "…" gives. */
static void ellipsis(void **state)
{
    (void)state;
    const char *name = "Huyện Yên Mô";
    mcu_label_bitmap_t full = {0};
    render(name, 16, WIDE, &full);
    assert_false(full.truncated);
    /* Each character of the (NFC) name is one grapheme: the cut points are the
     * character starts. */
    int seen_cuts = 0;
    for (int max_w = full.w - 2; max_w >= 24; max_w -= 6) {
        mcu_label_bitmap_t bm = {0};
        int err = mcu_label_render(lr, name, 16, max_w, &bm);
        if (err == MCU_ERR_NOSPACE)
            break;
        assert_int_equal(err, MCU_OK);
        assert_true(bm.truncated);
        assert_true(bm.w <= max_w);
        /* Find the prefix it shows: the longest one whose "prefix…" fits. */
        int best = -1;
        char cand[64];
        mcu_label_bitmap_t want = {0};
        for (size_t cut = 0; cut < strlen(name); cut++) {
            if ((name[cut] & 0xC0) == 0x80)
                continue;   /* inside a character */
            size_t k = cut;
            while (k > 0 && name[k - 1] == ' ')
                k--;
            snprintf(cand, sizeof cand, "%.*s\xE2\x80\xA6", (int)k, name);
            mcu_label_bitmap_t c = {0};
            render(cand, 16, WIDE, &c);
            if (c.w <= max_w) {
                best = (int)cut;
                mcu_label_bitmap_free(&want);
                want = c;
            } else {
                mcu_label_bitmap_free(&c);
            }
        }
        assert_true(best >= 0);
        int diff;
        if (!same_bitmap(&bm, &want, &diff))
            fail_msg("max_w %d: ellipsised label differs from the best prefix (cut at %d)",
                     max_w, best);
        seen_cuts++;
        mcu_label_bitmap_free(&want);
        mcu_label_bitmap_free(&bm);
    }
    assert_true(seen_cuts >= 5);
    /* Decomposed input is cut between graphemes too: never between a letter and its
     * marks. The NFD name cut like the NFC one gives the same picture. */
    const char *nfd = "Huye\xCC\xA3\xCC\x82n Ye\xCC\x82n Mo\xCC\x82";
    for (int max_w = full.w - 2; max_w >= 40; max_w -= 10) {
        mcu_label_bitmap_t a = {0}, b = {0};
        assert_int_equal(mcu_label_render(lr, name, 16, max_w, &a), MCU_OK);
        assert_int_equal(mcu_label_render(lr, nfd, 16, max_w, &b), MCU_OK);
        int diff;
        assert_true(same_bitmap(&a, &b, &diff));
        mcu_label_bitmap_free(&a);
        mcu_label_bitmap_free(&b);
    }
    /* Not even "…" fits: nothing, and an empty bitmap. */
    mcu_label_bitmap_t bm = {0};
    assert_int_equal(mcu_label_render(lr, name, 16, 4, &bm), MCU_ERR_NOSPACE);
    assert_null(bm.alpha);
    assert_int_equal(bm.w, 0);
    mcu_label_bitmap_free(&full);
}

static void rejects_bad_input(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Y\xC3",                /* truncated 2-byte sequence */
        "\xC3(",                /* continuation byte missing */
        "\x80",                 /* stray continuation */
        "\xC0\xAF",             /* overlong "/" */
        "\xE0\x80\xAF",         /* overlong, 3 bytes */
        "\xED\xA0\x80",         /* UTF-16 surrogate */
        "\xF4\x90\x80\x80",     /* past U+10FFFF */
        "\xF8\x88\x80\x80\x80", /* 5-byte form */
        "\xFF",
        "Y\xC3\xAAn\nTh",       /* a control character: labels are one line */
        "\x7F",
        "\xC2\x85",             /* C1 control (NEL) */
    };
    mcu_label_bitmap_t bm = {0};
    render("Yên", 16, WIDE, &bm);   /* a bitmap in *out is freed by a failing call too */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mcu_label_render(lr, bad[i], 16, WIDE, &bm), MCU_ERR_INVAL);
        assert_null(bm.alpha);
        assert_int_equal(bm.w, 0);
    }
    assert_int_equal(mcu_label_render(lr, NULL, 16, WIDE, &bm), MCU_ERR_INVAL);
    assert_int_equal(mcu_label_render(NULL, "a", 16, WIDE, &bm), MCU_ERR_INVAL);
    assert_int_equal(mcu_label_render(lr, "a", 16, WIDE, NULL), MCU_ERR_INVAL);
    assert_int_equal(mcu_label_render(lr, "a", MCU_LABEL_RENDER_PX_MIN - 1, WIDE, &bm),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_label_render(lr, "a", MCU_LABEL_RENDER_PX_MAX + 1, WIDE, &bm),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_label_render(lr, "a", 16, 0, &bm), MCU_ERR_INVAL);
    assert_int_equal(mcu_label_render(lr, "a", 16, MCU_LABEL_MAX_W + 1, &bm), MCU_ERR_INVAL);
    static char longest[MCU_LABEL_MAX_BYTES + 2];
    memset(longest, 'a', MCU_LABEL_MAX_BYTES + 1);
    assert_int_equal(mcu_label_render(lr, longest, 16, WIDE, &bm), MCU_ERR_TOO_BIG);
    longest[MCU_LABEL_MAX_BYTES] = '\0';
    assert_int_equal(mcu_label_render(lr, longest, 16, WIDE, &bm), MCU_OK);
    assert_true(bm.truncated);
    /* Valid edge cases: the empty name, the largest code point (no glyph: counted). */
    assert_int_equal(mcu_label_render(lr, "", 16, WIDE, &bm), MCU_OK);
    assert_int_equal(bm.w, 0);
    assert_null(bm.alpha);
    assert_int_equal(mcu_label_render(lr, "Y\xF4\x8F\xBF\xBF" "\xE4\xB8\xAD", 16, WIDE, &bm),
                     MCU_OK);
    assert_int_equal(bm.missing, 2);
    mcu_label_bitmap_free(&bm);
    mcu_label_bitmap_free(&bm);
    mcu_label_bitmap_free(NULL);

    mcu_label_renderer_t *r2 = NULL;
    assert_int_equal(mcu_label_create(NULL, NULL), MCU_ERR_INVAL);
    /* An unknown family falls back to a sans that covers Vietnamese. */
    mcu_label_style_t st = {.font = "No Such Font Family:bold"};
    assert_int_equal(mcu_label_create(&st, &r2), MCU_OK);
    print_message("\"%s\" -> %s\n", st.font, mcu_label_font_file(r2));
    mcu_label_destroy(&r2);
    assert_null(r2);
    mcu_label_destroy(&r2);
    mcu_label_destroy(NULL);
}

/* ---- the picture to look at ---- */

static uint8_t clamp8(double v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5); }

/* BT.601 limited range to RGB, as a binary PPM. */
static void write_ppm(const mcu_canvas_t *c, const char *path)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fprintf(f, "P6\n%d %d\n255\n", c->width, c->height);
    for (int y = 0; y < c->height; y++)
        for (int x = 0; x < c->width; x++) {
            double Y = 1.164 * (c->data[0][y * c->stride[0] + x] - 16);
            double U = c->data[1][(y / 2) * c->stride[1] + x / 2] - 128;
            double V = c->data[2][(y / 2) * c->stride[2] + x / 2] - 128;
            uint8_t rgb[3] = {clamp8(Y + 1.596 * V), clamp8(Y - 0.392 * U - 0.813 * V),
                              clamp8(Y + 2.017 * U)};
            fwrite(rgb, 1, 3, f);
        }
    assert_int_equal(fclose(f), 0);
}

/* 640x120: the two names on the left on mid-grey, on the right on white, at the size
 * the helper gives 60-row cells (12 px, as a 144-row grid25 tile) and at 24 px. */
static void strip_image(void **state)
{
    (void)state;
    const int sizes[] = {MCU_LABEL_PX_MIN, 24};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        mcu_canvas_t *c;
        assert_int_equal(mcu_canvas_create(640, 120, &c), MCU_OK);
        const mcu_rect_t half[2] = {{0, 0, 320, 120}, {320, 0, 320, 120}};
        assert_int_equal(mcu_canvas_fill(c, half[0], 126, 128, 128), MCU_OK);   /* grey */
        assert_int_equal(mcu_canvas_fill(c, half[1], 235, 128, 128), MCU_OK);   /* white */
        for (int col = 0; col < 2; col++)
            for (int row = 0; row < 2; row++) {
                mcu_rect_t cell = {col * 320, row * 60, 320, 60};
                mcu_label_bitmap_t bm = {0};
                render(NAMES[row], sizes[si], mcu_label_max_width(cell), &bm);
                assert_int_equal(mcu_label_draw(c, cell, &bm, MCU_LABEL_POS_BOTTOM_LEFT),
                                 MCU_OK);
                mcu_label_bitmap_free(&bm);
            }
        char path[512];
        snprintf(path, sizeof path, "%s/label_strip_%dpx.ppm", test_tmp_dir(), sizes[si]);
        write_ppm(c, path);
        print_message("label strip (%d px): %s\n", sizes[si], path);
        mcu_canvas_destroy(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_glyph_has_ink),
        cmocka_unit_test(marks_are_drawn),
        cmocka_unit_test(marks_in_names),
        cmocka_unit_test(glyphs_match_freetype),
        cmocka_unit_test(no_blank_cells),
        cmocka_unit_test(nfd_equals_nfc),
        cmocka_unit_test(same_box_height),
        cmocka_unit_test(ellipsis),
        cmocka_unit_test(rejects_bad_input),
        cmocka_unit_test(strip_image),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
