/*
 * label: each site's name on its tile. A name is rendered ONCE (when the site joins, is
 * renamed, or its tile changes size) into an 8-bit coverage bitmap that the caller keeps,
 * and that bitmap is laid onto the canvas every frame by mcu_label_draw (cheap SIMD rows,
 * layouts/blend_dsp). Shaping and rasterising never run per frame.
 *
 *   mcu_label_create     fontconfig finds the font, FreeType opens it, HarfBuzz shapes
 *   mcu_label_render     UTF-8 -> validated -> shaped (HarfBuzz) -> rasterised
 *                        (FreeType) -> ellipsised ("…") to fit max_w -> owned bitmap
 *   mcu_label_draw       bitmap -> darkened backdrop box + white text, clipped to a cell
 *
 * Vietnamese: names such as "Yên Thắng" or "Khánh Thượng" carry one or two marks per
 * vowel. HarfBuzz places them with the font's GPOS mark positioning, or picks the
 * font's precomposed glyph: its normaliser composes a decomposed (NFD) sequence such as
 * "a\u0306\u0301" into U+1EAF "ắ" when the font has that glyph, and decomposes when it
 * has only the parts. So input need not be NFC-normalised first (there is no ICU here):
 * the tests check that NFD and NFC forms of "Yên Thắng" give the same bitmap. The
 * ellipsis only cuts between graphemes (HarfBuzz's default cluster level merges marks
 * into their base), so it never strips a mark from its letter.
 *
 * Bitmap box (the backdrop box mcu_label_draw darkens is exactly this box):
 *
 *   +-------------------------------+  ^ pad
 *   |   Khánh Thượng                |  ^ ascender (or the ink top, if higher)
 *   |...........................    |  <- row `baseline`: first row below the baseline
 *   |                               |  v descender (or the ink bottom, if lower)
 *   +-------------------------------+  v pad
 *    ^pad ^origin_x                ^pad
 *
 * The height comes from the font's ascender and descender at the size, not from the
 * ink, so every label of one size has the same height and labels of tiles in a row sit
 * on one baseline. Width and height are rounded up to even, so a label placed at an even
 * position covers whole 4:2:0 chroma samples.
 *
 * Threads: FreeType is not thread-safe within one FT_Library, and a renderer owns one
 * FT_Library, one face and one HarfBuzz font and buffer. Use one renderer per thread, or
 * call mcu_label_render for one renderer from one thread at a time. Bitmaps are plain
 * memory: once rendered they may be drawn from any thread, several tiles at once.
 * mcu_label_draw keeps no state (its kernels are chosen once per process, thread-safely).
 *
 * OWNERSHIP: the renderer owns its FreeType/HarfBuzz objects and the font path string,
 * freed by mcu_label_destroy. mcu_label_render allocates the bitmap's pixels; the caller
 * owns them and frees them with mcu_label_bitmap_free (a bitmap outlives its renderer).
 * The UTF-8 input is only read during the call. mcu_label_draw writes canvas pixels only.
 */
#ifndef MCU_LABEL_H
#define MCU_LABEL_H

#include <stdbool.h>
#include <stdint.h>

#include "layouts/blend_dsp.h"
#include "layouts/canvas.h"
#include "layouts/layout.h"

/* Font asked of fontconfig. Bold: at 12 px its stems are 2 px wide where the regular
 * weight's are 1 px, which a scaled, subsampled, compressed picture keeps better. DejaVu
 * Sans (fonts-dejavu-core) covers Vietnamese, with a precomposed glyph for every
 * Vietnamese letter (so the marks are placed by the type designer, not computed). */
#define MCU_LABEL_FONT_DEFAULT "DejaVu Sans:bold"
/* Used when the first choice does not cover Vietnamese (fontconfig's "vi" language):
 * whatever bold sans the system has that does. */
#define MCU_LABEL_FONT_FALLBACK "sans-serif:bold:lang=vi"
/* Language whose coverage the chosen font must have (fontconfig language tag). */
#define MCU_LABEL_FONT_LANG "vi"

/* Text size for a tile: cell height / 12, within [12, 48] px. 1/12 keeps the label box
 * (1.7-1.8 x the size with its padding) to about 15% of the tile's height. 12 px is the
 * size a 144-row tile (grid25 on 720p) gets; at 12 px every mark is still its own shape
 * (looked at in the tests' strip: the stacked marks of "ắ" and "ệ" keep a gap, the
 * horns of "ư" and "ơ" are 1-2 px nubs, the faintest part). 48 px: on a full-screen
 * 1080p tile 1/12 would be 90 px, a banner rather than a name plate. */
#define MCU_LABEL_CELL_H_DIV 12
#define MCU_LABEL_PX_MIN 12
#define MCU_LABEL_PX_MAX 48

/* Sizes mcu_label_render accepts at all (callers may go outside the tile range, e.g.
 * for a banner): below 4 px nothing is legible; 256 px bounds a bitmap to about 430
 * rows (1.16 em of line plus padding). */
#define MCU_LABEL_RENDER_PX_MIN 4
#define MCU_LABEL_RENDER_PX_MAX 256

/* Longest name accepted, in bytes: site names are a few dozen bytes; the bound keeps a
 * broken config from making the shaper and the ellipsis search work on megabytes. */
#define MCU_LABEL_MAX_BYTES 512

/* Widest bitmap (max_w bound): the largest canvas side. */
#define MCU_LABEL_MAX_W MCU_CANVAS_MAX_SIDE

/* Padding around the text inside the box: size / 4 (3 px at 12 px, 12 px at 48 px), at
 * least 2, so the darkened box extends beyond the ink on every side and the text never
 * touches the picture undimmed. */
#define MCU_LABEL_PAD_DIV 4
#define MCU_LABEL_PAD_MIN 2

/* Distance from the cell edges to the box: 8 px keeps the box clear of the tile border,
 * so it never touches the neighbouring tile, while costing a 144-row tile little. Even:
 * keeps the box on whole chroma samples. */
#define MCU_LABEL_MARGIN_PX 8

/* Text colour: limited-range white (Y 235) with neutral chroma. Full white rather than
 * a grey: the backdrop already darkens what is behind it. */
#define MCU_LABEL_TEXT_Y 235
#define MCU_LABEL_TEXT_UV 128
/* Backdrop: a black veil (Y 16, U/V 128) of opacity 0.55 over the whole box: keep =
 * round(0.45 * 256) = 115. 0.55 brings a white picture (235) down to 114, half the
 * text's 235, so the name reads on a white wall, while the tile's picture still shows
 * through (the hue is kept, only dimmed); a dark room is barely changed. */
#define MCU_LABEL_BACKDROP_Y 16
#define MCU_LABEL_BACKDROP_UV 128
#define MCU_LABEL_BACKDROP_KEEP 115

typedef struct mcu_label_renderer mcu_label_renderer_t;

typedef struct mcu_label_style {
    /* fontconfig pattern ("DejaVu Sans:bold", "Noto Sans:semibold"); NULL or "" gives
     * MCU_LABEL_FONT_DEFAULT. */
    const char *font;
} mcu_label_style_t;

/* A rendered label. Zero-initialise before the first render; an empty label (empty
 * string) has w = h = 0 and alpha = NULL. */
typedef struct mcu_label_bitmap {
    int w, h;         /* even; the box including padding */
    int stride;       /* bytes per row of alpha, >= w */
    uint8_t *alpha;   /* h rows of coverage: 0 none .. 255 full; owned by the caller */
    int baseline;     /* row index just below the baseline: ink at rows >= baseline is
                       * under it (descenders, dots below) */
    int origin_x;     /* column where the pen starts (left of the first glyph) */
    int missing;      /* glyphs the font lacks (drawn as its .notdef box): log it */
    bool truncated;   /* the text was cut and ended with an ellipsis to fit max_w */
} mcu_label_bitmap_t;

/* Where in the cell the box goes, MCU_LABEL_MARGIN_PX from the edges. */
typedef enum mcu_label_pos {
    MCU_LABEL_POS_BOTTOM_LEFT = 0,  /* default: the usual lower-third name plate */
    MCU_LABEL_POS_TOP_LEFT,
    MCU_LABEL_POS_BOTTOM_CENTER,
    MCU_LABEL_POS_CENTER,           /* a status line across the middle (a site's card) */
} mcu_label_pos_t;

/* Finds the font (style->font, else the fallback; see the constants) and opens it.
 * style may be NULL (defaults).
 * 0 and *out set; MCU_ERR_INVAL (NULL out), MCU_ERR_NOTFOUND (fontconfig found no font
 * file, or FreeType cannot open it), MCU_ERR_NOMEM; on error *out = NULL. */
int mcu_label_create(const mcu_label_style_t *style, mcu_label_renderer_t **out);

/* Frees the renderer and sets *lr = NULL. NULL and *lr == NULL are no-ops. Bitmaps it
 * rendered stay valid. */
void mcu_label_destroy(mcu_label_renderer_t **lr);

/* The font file in use (for logs and tests); owned by the renderer. */
const char *mcu_label_font_file(const mcu_label_renderer_t *lr);

/* Text size for a tile cell_h pixels high (see MCU_LABEL_CELL_H_DIV). */
int mcu_label_px_for_cell(int cell_h);

/* Widest bitmap that fits in `cell` with its margins (max_w for mcu_label_render); 0 if
 * the cell is narrower than the margins. */
int mcu_label_max_width(mcu_rect_t cell);

/* Renders the UTF-8 string `utf8` at `px` pixels (the em size) into *out, cut with "…"
 * at a grapheme boundary (trailing spaces dropped) when it would be wider than max_w.
 * Any bitmap already in *out is freed first, so a label can be re-rendered in place.
 *   utf8   well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF),
 *          at most MCU_LABEL_MAX_BYTES bytes, without control characters (U+0000..U+001F,
 *          U+007F..U+009F: a label is one line). "" gives an empty bitmap.
 *   px     MCU_LABEL_RENDER_PX_MIN..MCU_LABEL_RENDER_PX_MAX (mcu_label_px_for_cell).
 *   max_w  1..MCU_LABEL_MAX_W: the bitmap's width (padding included) will not exceed it.
 * 0; MCU_ERR_INVAL (NULL argument, malformed UTF-8 or a control character, px or max_w
 * out of range); MCU_ERR_TOO_BIG (longer than MCU_LABEL_MAX_BYTES); MCU_ERR_NOSPACE
 * (not even "…" alone fits in max_w); MCU_ERR_NOMEM. On error *out is empty. */
int mcu_label_render(mcu_label_renderer_t *lr, const char *utf8, int px, int max_w,
                     mcu_label_bitmap_t *out);

/* Frees the pixels and empties *bm (all fields zero). NULL-safe, idempotent. */
void mcu_label_bitmap_free(mcu_label_bitmap_t *bm);

/* Lays the label onto the canvas at `pos` in `cell`: the whole box is darkened
 * (MCU_LABEL_BACKDROP_*, all three planes), then the text is blended in white with the
 * bitmap's coverage (Y), and chroma pulled to neutral with the 2x2-averaged coverage.
 * A box taller than the cell (less margins) is moved up to the cell's top edge; any part
 * outside the cell is clipped: nothing outside `cell` is ever written.
 *   cell  even x, y, w, h, inside the canvas (a cell of mcu_layout_compute/_custom).
 *   bm    from mcu_label_render (even w and h); an empty bitmap draws nothing.
 * 0, or MCU_ERR_INVAL (NULL argument, bad cell, odd or inconsistent bitmap, unknown pos;
 * the canvas is then untouched). Kernels: mcu_blend_dsp_init's choice, made once per
 * process at the first call (MCU_CPU_MASK is read then). */
int mcu_label_draw(mcu_canvas_t *canvas, mcu_rect_t cell, const mcu_label_bitmap_t *bm,
                   mcu_label_pos_t pos);

/* The same with the caller's kernels (tests and benchmarks comparing versions). */
int mcu_label_draw_dsp(const mcu_blend_dsp_t *dsp, mcu_canvas_t *canvas, mcu_rect_t cell,
                       const mcu_label_bitmap_t *bm, mcu_label_pos_t pos);

#endif
