#!/usr/bin/env python3
"""Draw a terminal screen captured with `tmux capture-pane -p -e` as a PNG.

Usage:
    scripts/ansi_to_png.py INPUT.ansi OUTPUT.png [--cols N] [--rows N]
                           [--font-size PX] [--pad PX]

INPUT is text with SGR escape sequences (16/256/truecolor, bold, dim, italic,
underline, strikethrough, reverse, hidden); other escape sequences are skipped.
The grid is --cols x --rows cells (default: the size of the input). Glyphs come
from DejaVu Sans Mono (fonts-dejavu-core); braille and block elements are drawn
as shapes so that charts and gauges look solid. Needs Pillow (pip install pillow).
"""
import argparse
import re
import unicodedata

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
FONT_FILES = {  # (bold, italic) -> file
    (False, False): "DejaVuSansMono.ttf",
    (True, False): "DejaVuSansMono-Bold.ttf",
    (False, True): "DejaVuSansMono-Oblique.ttf",
    (True, True): "DejaVuSansMono-BoldOblique.ttf",
}
FALLBACK_FONT = "DejaVuSans.ttf"  # has a few symbols the mono face lacks

# VS Code's dark terminal palette.
BG, FG = (0x1E, 0x1E, 0x1E), (0xCC, 0xCC, 0xCC)
ANSI16 = [
    (0x00, 0x00, 0x00), (0xCD, 0x31, 0x31), (0x0D, 0xBC, 0x79), (0xE5, 0xE5, 0x10),
    (0x24, 0x72, 0xC8), (0xBC, 0x3F, 0xBC), (0x11, 0xA8, 0xCD), (0xE5, 0xE5, 0xE5),
    (0x66, 0x66, 0x66), (0xF1, 0x4C, 0x4C), (0x23, 0xD1, 0x8B), (0xF5, 0xF5, 0x43),
    (0x3B, 0x8E, 0xEA), (0xD6, 0x70, 0xD6), (0x29, 0xB8, 0xDB), (0xFF, 0xFF, 0xFF),
]


def color256(n):
    if n < 16:
        return ANSI16[n]
    if n < 232:
        n -= 16
        level = [0, 95, 135, 175, 215, 255]
        return (level[n // 36], level[n // 6 % 6], level[n % 6])
    gray = 8 + 10 * (n - 232)
    return (gray, gray, gray)


class Style:
    def __init__(self):
        self.fg = self.bg = None  # None = terminal default
        self.bold = self.dim = self.italic = self.underline = False
        self.strike = self.reverse = self.hidden = False

    def copy(self):
        s = Style()
        s.__dict__.update(self.__dict__)
        return s

    def apply(self, params):
        # Accept both "38;5;n" and the colon form "38:5:n" / "38:2::r:g:b".
        codes = [p.split(":") for p in (params or "0").split(";")]
        i = 0
        while i < len(codes):
            sub = [int(x) if x.isdigit() else 0 for x in codes[i]]
            c = sub[0]
            if c in (38, 48, 58):
                if len(sub) > 1:  # colon form carries its arguments
                    args = sub[1:]
                    if args[0] == 2 and len(args) >= 5:
                        args = [2] + args[-3:]  # drop the colour-space id
                else:
                    args = [int(x[0]) if x[0].isdigit() else 0 for x in codes[i + 1:i + 5]]
                    i += 2 if args[:1] == [5] else 4 if args[:1] == [2] else 0
                col = None
                if args[:1] == [5] and len(args) >= 2:
                    col = color256(args[1] & 255)
                elif args[:1] == [2] and len(args) >= 4:
                    col = tuple(v & 255 for v in args[1:4])
                if c == 38:
                    self.fg = col
                elif c == 48:
                    self.bg = col
            elif c == 0:
                self.__init__()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 3:
                self.italic = True
            elif c in (4, 21):
                self.underline = not (len(sub) > 1 and sub[1] == 0)
            elif c == 7:
                self.reverse = True
            elif c == 8:
                self.hidden = True
            elif c == 9:
                self.strike = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif c == 28:
                self.hidden = False
            elif c == 29:
                self.strike = False
            elif 30 <= c <= 37:
                self.fg = ANSI16[c - 30]
            elif c == 39:
                self.fg = None
            elif 40 <= c <= 47:
                self.bg = ANSI16[c - 40]
            elif c == 49:
                self.bg = None
            elif 90 <= c <= 97:
                self.fg = ANSI16[c - 90 + 8]
            elif 100 <= c <= 107:
                self.bg = ANSI16[c - 100 + 8]
            i += 1

    def colors(self):
        fg, bg = self.fg or FG, self.bg or BG
        if self.reverse:
            fg, bg = bg, fg
        if self.dim:
            fg = tuple((a + b) // 2 for a, b in zip(fg, bg))
        if self.hidden:
            fg = bg
        return fg, bg


# CSI ... final byte, OSC ... BEL/ST, other two-byte escapes.
ESCAPE = re.compile(r"\x1b(?:\[([0-9;:?<=>]*)([ -/]*[@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def char_width(ch):
    if unicodedata.combining(ch) or ch in "\u200b\u200d\ufe0e\ufe0f":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def parse(text):
    """Return rows of cells; a cell is (text, width, Style) or None behind a wide char."""
    rows, row, style = [], [], Style()
    for line in text.replace("\r\n", "\n").split("\n"):
        row = []
        pos = 0
        for m in ESCAPE.finditer(line + "\x1b[ m"):  # sentinel flushes the tail
            for ch in line[pos:m.start()]:
                if ch == "\t":
                    row.extend((" ", 1, style) for _ in range(8 - len(row) % 8))
                    continue
                w = char_width(ch)
                if w == 0:
                    if row and row[-1] is not None:
                        t, cw, st = row[-1]
                        row[-1] = (t + ch, cw, st)
                    continue
                if ord(ch) < 32:
                    continue
                row.append((ch, w, style))
                if w == 2:
                    row.append(None)
            pos = m.end()
            if m.group(2) == "m":
                style = style.copy()
                style.apply(m.group(1))
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()  # the trailing newline of the capture
    return rows


def draw_braille(draw, code, x, y, cw, chh, fg):
    # Dots 1-3 and 7 are the left column top to bottom, 4-6 and 8 the right one.
    dots = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]
    r = max(1.0, min(cw / 4, chh / 8) * 0.7)
    for bit, (col, row) in enumerate(dots):
        if code >> bit & 1:
            cx, cy = x + (2 * col + 1) * cw / 4, y + (2 * row + 1) * chh / 8
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)


def draw_block(draw, code, x, y, cw, chh, fg, bg):
    """Block elements U+2580-U+2595; return False for ones left to the font."""
    if 0x2581 <= code <= 0x2588:  # lower 1/8 .. full block
        h = chh * (code - 0x2580) / 8
        box = [x, y + chh - h, x + cw, y + chh]
    elif 0x2589 <= code <= 0x258F:  # left 7/8 .. left 1/8
        box = [x, y, x + cw * (0x2590 - code) / 8, y + chh]
    elif code == 0x2580:
        box = [x, y, x + cw, y + chh / 2]
    elif code == 0x2590:
        box = [x + cw / 2, y, x + cw, y + chh]
    elif code == 0x2594:
        box = [x, y, x + cw, y + chh / 8]
    elif code == 0x2595:
        box = [x + cw * 7 / 8, y, x + cw, y + chh]
    elif 0x2591 <= code <= 0x2593:  # light/medium/dark shade
        k = (code - 0x2590) / 4
        shade = tuple(round(b + (f - b) * k) for f, b in zip(fg, bg))
        draw.rectangle([x, y, x + cw - 1, y + chh - 1], fill=shade)
        return True
    else:
        return False
    draw.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=fg)
    return True


def render(rows, cols, nrows, font_size, pad):
    fonts = {k: ImageFont.truetype(FONT_DIR + f, font_size) for k, f in FONT_FILES.items()}
    fallback = ImageFont.truetype(FONT_DIR + FALLBACK_FONT, font_size)
    regular = fonts[(False, False)]
    ascent, descent = regular.getmetrics()
    cw, chh = round(regular.getlength("M")), ascent + descent
    missing = bytes(regular.getmask("\U0010fffd"))  # what .notdef looks like
    has_glyph = {}

    img = Image.new("RGB", (cols * cw + 2 * pad, nrows * chh + 2 * pad), BG)
    draw = ImageDraw.Draw(img)
    for r in range(nrows):
        row = rows[r] if r < len(rows) else []
        y = pad + r * chh
        for c in range(min(cols, len(row))):
            cell = row[c]
            if cell is None:
                continue
            text, w, style = cell
            w = min(w, cols - c)
            x = pad + c * cw
            fg, bg = style.colors()
            if bg != BG:
                draw.rectangle([x, y, x + w * cw - 1, y + chh - 1], fill=bg)
            code = ord(text[0])
            if text == " ":
                pass
            elif 0x2800 <= code <= 0x28FF:
                draw_braille(draw, code - 0x2800, x, y, cw, chh, fg)
            elif not draw_block(draw, code, x, y, cw, chh, fg, bg):
                font = fonts[(style.bold, style.italic)]
                if text not in has_glyph:
                    has_glyph[text] = bytes(regular.getmask(text)) != missing
                if not has_glyph[text]:
                    font = fallback
                # Centre the glyph in its cells (matters for wide and fallback glyphs).
                gx = x + (w * cw - font.getlength(text)) / 2
                draw.text((gx, y + ascent), text, font=font, fill=fg, anchor="ls")
            if style.underline:
                draw.line([x, y + ascent + 2, x + w * cw - 1, y + ascent + 2], fill=fg)
            if style.strike:
                mid = y + ascent - font_size * 0.3
                draw.line([x, mid, x + w * cw - 1, mid], fill=fg)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--cols", type=int, help="grid width (default: widest line)")
    ap.add_argument("--rows", type=int, help="grid height (default: number of lines)")
    ap.add_argument("--font-size", type=int, default=16)
    ap.add_argument("--pad", type=int, default=12, help="margin around the grid in pixels")
    a = ap.parse_args()
    with open(a.input, "rb") as f:
        rows = parse(f.read().decode("utf-8", errors="replace"))
    cols = a.cols or max((len(r) for r in rows), default=1)
    nrows = a.rows or max(len(rows), 1)
    render(rows, cols, nrows, a.font_size, a.pad).save(a.output)


if __name__ == "__main__":
    main()
