"""A completed form as a PDF: the answers as the client saw them, their signature, and a certificate of completion.

A pure function of a plain dict into bytes: no database, no Flask, no file read but the fonts beside this module.
The same dict renders to the same bytes (the creation date is the signing time, not now). sealing.seal() then
signs the result; nothing here knows about the seal.

Text is set in DejaVu Sans (fonts/, the Bitstream Vera licence in fonts/LICENSE.txt), embedded as a subset. Billing
sets its invoices in the core Helvetica, which draws cp1252 only and transliterates the rest; a signed form must
show the client's name and answers as they typed them (Zoë Ångström, Łukasz, Ольга), so it needs a TrueType font
with Latin, Greek and Cyrillic. The files are shipped in the package rather than taken from the machine: the
production image (python:3.11-slim) has no fonts, and a form must not look different where it is rendered.
A character DejaVu lacks (CJK, most emoji) is drawn as "?"; scripts that need shaping (Arabic, Devanagari) are
drawn unshaped.

The shape of `form` (any text may be any Unicode; an optional key left out prints nothing):

    practice     {name, address_lines: [str], timezone: "America/New_York", paper?: "letter" (default) | "A4"}
    form         {title, version, description?}
    sections     [{title, help?, fields: [field, ...]}, ...]
    field        {label, type, answer, help?, choices?: [str], follow_up?: field}
        type     one of the template's: short_text, long_text, date, number, single_choice, multiple_choice,
                 checkbox, yes_no, signature, card_on_file
        answer   ready to read: a display string (a date as the portal showed it, a choice's label, "Visa ending
                 in 4242, saved to Cards on File"), a list of labels (multiple_choice), a bool (checkbox: ticked;
                 yes_no: yes); None, "" or [] when the client left it unanswered
        choices  the labels of all the options, in order: the options are printed as the client had them, the
                 chosen ones marked; without it only the chosen ones are listed
        follow_up  a yes_no's question under a yes, printed only after a yes (the portal shows it only then)
        A field of type signature puts the signature block where the template has it; a form without one gets
        the block after its last section.
    signature    {full_name, drawn_png: bytes | None, signed_at: datetime (UTC), disclosure_version,
                  disclosure_text?: the text of that version, printed on the certificate page}
    certificate  {signer_name, signer_email, signed_in_how ("password", "password and two-factor"),
                  signed_at_utc: datetime, signed_at_local?: datetime in the practice's zone or a display string
                  (worked out from signed_at_utc and practice.timezone when missing), ip_address, user_agent,
                  content_sha256, form_id}
    audit        [{event ("assigned", "viewed", "consent_given", "signed", "downloaded", ...), at_utc: datetime,
                   ip, user_agent}, ...], oldest first
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fontTools import ttLib
from fpdf import FPDF
from PIL import Image, UnidentifiedImageError

__all__ = ["render_completed_form"]

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).with_name("fonts")
_SANS, _SCRIPT = "dejavu-sans", "dejavu-serif"
_FONT_FILES = {(_SANS, ""): "DejaVuSans.ttf", (_SANS, "B"): "DejaVuSans-Bold.ttf",
               (_SCRIPT, "I"): "DejaVuSerif-Italic.ttf"}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Billing's palette, so that a practice's documents look like one family.
_ACCENT = (31, 78, 121)
_MUTED = (95, 95, 95)
_RULE = (205, 210, 216)
_SHADE = (241, 244, 247)
_BLACK = (0, 0, 0)
_WHITE = (255, 255, 255)

_MARGIN = 15.0
_FOOTER_ZONE = 20.0  # mm above the bottom edge kept for the footer
_INDENT = 6.0  # a follow-up question under its yes
_PT = 25.4 / 72  # mm in a point
_CAP_HEIGHT = 0.73  # of DejaVu Sans, in em

_TICKED, _UNTICKED = "\u2612", "\u2610"  # ☒ ☐
_CHOSEN, _NOT_CHOSEN = "\u25c9", "\u25cb"  # ◉ ○
_NO_ANSWER = "No answer"

_EVENTS = {"assigned": "Assigned", "viewed": "Viewed", "opened": "Opened", "consent_given": "E-signature consent given",
           "signed": "Signed", "submitted": "Submitted", "downloaded": "Downloaded", "reminded": "Reminder sent",
           "draft_saved": "Draft saved", "sealed": "Sealed"}

Color = tuple[int, int, int]


# --------------------------------------------------------------------------- text and times


@cache
def _glyphs(family: str) -> frozenset[int]:
    """The code points every style of `family` draws."""
    maps = [ttLib.TTFont(FONT_DIR / file, lazy=True).getBestCmap() for (name, _), file in _FONT_FILES.items()
            if name == family]
    return frozenset.intersection(*(frozenset(cmap) for cmap in maps))


def _text(value: object, *, lines: bool = False) -> str:
    """`value` as text the font draws: NFC, whitespace collapsed (line breaks kept with `lines`), invisible marks
    dropped, a letter the font lacks replaced by its unaccented base or, failing that, "?"."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    if lines:
        text = "\n".join(" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        text = text.strip("\n")
    else:
        text = " ".join(text.split())
    if text.isascii() and text.replace("\n", "").isprintable():
        return text
    glyphs = _glyphs(_SANS)
    return "".join(char if char == "\n" or ord(char) in glyphs else _stand_in(char, glyphs) for char in text)


def _stand_in(char: str, glyphs: frozenset[int]) -> str:
    if unicodedata.category(char) in ("Mn", "Me", "Cf", "Cc", "Cs") or "\U0001f3fb" <= char <= "\U0001f3ff":
        return ""  # joiners, variation selectors, stray combining marks and skin tones have no glyph of their own
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and base != char and all(ord(c) in glyphs for c in base):
        return base
    return "?"


def _draws(text: str, family: str) -> bool:
    glyphs = _glyphs(family)
    return all(ord(char) in glyphs for char in text)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _clock(value: datetime, *, twelve_hour: bool) -> str:
    if not twelve_hour:
        return f"{value:%H:%M:%S}"
    hour = value.hour % 12 or 12
    return f"{hour}:{value:%M:%S} {'AM' if value.hour < 12 else 'PM'}"


def _day(value: datetime) -> str:
    # Month names by hand: strftime("%b") follows the process locale.
    return f"{_MONTHS[value.month - 1]} {value.day}, {value.year}"


def _utc_time(value: object, *, zone_name: bool = True) -> str:
    if not isinstance(value, datetime):
        return _text(value)
    moment = _as_utc(value)
    return f"{_day(moment)}, {_clock(moment, twelve_hour=False)}" + (" UTC" if zone_name else "")


def _zone(name: object) -> ZoneInfo | None:
    try:
        return ZoneInfo(str(name)) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local_time(value: object, zone: ZoneInfo | None) -> str:
    """A moment in the practice's zone with the zone's abbreviation and name: "Mar 14, 2026, 9:26:05 AM EDT
    (America/New_York)". A display string is printed as given."""
    if not isinstance(value, datetime):
        return _text(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if zone is not None:
        value = value.astimezone(zone)
    name = getattr(value.tzinfo, "key", None) or "UTC"
    abbreviation = value.tzname() or ""
    suffix = f"{abbreviation} ({name})" if abbreviation and abbreviation != name else name
    return f"{_day(value)}, {_clock(value, twelve_hour=True)} {suffix}"


def _event(name: object) -> str:
    text = _text(name)
    if text in _EVENTS:
        return _EVENTS[text]
    return text.replace("_", " ").capitalize() if text.islower() else text


def _blank(answer: object) -> bool:
    return answer is None or answer == "" or answer == [] or (isinstance(answer, str) and not answer.strip())


def _answer_lines(field: dict) -> str:
    """A field's answer as the lines printed in its box."""
    kind, answer = field.get("type"), field.get("answer")
    choices = field.get("choices")
    if kind == "checkbox":
        return f"{_TICKED} Ticked" if answer is True else f"{_UNTICKED} Not ticked"
    if kind == "yes_no" and isinstance(answer, bool):
        return "Yes" if answer else "No"
    if choices and kind in ("single_choice", "multiple_choice"):
        chosen = {_text(item) for item in (answer if isinstance(answer, list | tuple) else [answer])
                  if not _blank(item)}
        on, off = (_CHOSEN, _NOT_CHOSEN) if kind == "single_choice" else (_TICKED, _UNTICKED)
        return "\n".join(f"{on if _text(choice) in chosen else off} {_text(choice)}" for choice in choices)
    if _blank(answer):
        return ""
    if isinstance(answer, list | tuple):
        return "\n".join(f"{_TICKED} {_text(item)}" for item in answer if not _blank(item))
    if isinstance(answer, bool):
        return "Yes" if answer else "No"
    return _text(answer, lines=True)


# --------------------------------------------------------------------------- the page


class _FormPdf(FPDF):
    """An FPDF with the completed form's running header and footer, and the few ways this document writes text."""

    def __init__(self, *, practice: dict, title: str, footer: str, created: datetime | None) -> None:
        paper = "A4" if str(practice.get("paper") or "").lower() == "a4" else "letter"
        super().__init__(unit="mm", format=paper)
        for (family, style), file in _FONT_FILES.items():
            if family == _SANS:
                self.add_font(family, style, FONT_DIR / file)
        self._script_loaded = False
        self.signature_drawn = False  # whether the signature block could draw the drawing (the certificate says)
        self._widths: dict[tuple[str, str, float], _Widths] = {}
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(True, margin=_FOOTER_ZONE)
        self.content_width = self.w - 2 * _MARGIN
        self.practice_name = _text(practice.get("name"))
        self.title_text = title
        self.footer_text = footer
        if created is not None:
            self.set_creation_date(_as_utc(created))  # not "now": the same form renders to the same bytes
        self.set_title(title)
        self.set_author(self.practice_name)
        self.set_subject("Completed form")
        self.set_lang("en")

    def script_font(self) -> str:
        """The family of a typed signature, loaded only when a form is signed without a drawing."""
        if not self._script_loaded:
            self.add_font(_SCRIPT, "I", FONT_DIR / _FONT_FILES[(_SCRIPT, "I")])
            self._script_loaded = True
        return _SCRIPT

    def header(self) -> None:
        if self.page_no() == 1:
            return  # the first page has the letterhead instead
        half = self.content_width / 2
        self.set_xy(_MARGIN, 9.5)
        self.set_font(_SANS, "B", 8.5)
        self.set_text_color(*_ACCENT)
        self.cell(half - 2, 5, self._fit(self.practice_name, half - 2))
        self.set_font(_SANS, "", 8)
        self.set_text_color(*_MUTED)
        self.set_xy(_MARGIN + half, 9.5)
        self.cell(half, 5, self._fit(self.title_text, half), align="R")
        self.set_text_color(*_BLACK)
        self.rule(15)
        self.set_y(20)

    def footer(self) -> None:
        self.rule(self.h - 14.5)
        self.set_font(_SANS, "", 7.5)
        self.set_text_color(*_MUTED)
        self.set_xy(_MARGIN, self.h - 14)
        self.cell(self.content_width * 0.78, 5, self._fit(self.footer_text, self.content_width * 0.78))
        # cell() is what replaces {nb} with the page count once it is known
        self.set_xy(_MARGIN + self.content_width * 0.78, self.h - 14)
        self.cell(self.content_width * 0.22, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(*_BLACK)

    # Measuring -----------------------------------------------------------------------------

    def widths(self) -> _Widths:
        """Character widths of the current font. Without text shaping fpdf2 does not kern, so a string's width is
        the sum of its characters'; its multi_cell() measures each line again for every character it adds, which
        made it most of a form's rendering time."""
        key = (self.font_family, self.font_style, self.font_size_pt)
        widths = self._widths.get(key)
        if widths is None:
            widths = self._widths[key] = _Widths(self, *key)
        return widths

    def measure(self, text: str) -> float:
        return sum(map(self.widths().__getitem__, text))

    def _fit(self, text: str, width: float) -> str:
        """`text`, or as much of it as fits `width` followed by "..."."""
        if self.measure(text) <= width:
            return text
        while text and self.measure(text + "...") > width:
            text = text[:-1]
        return text.rstrip() + "..."

    def wrap(self, text: str, width: float) -> list[str]:
        """`text` in lines of `width` in the current font: its own line breaks kept, others made at spaces (inside
        a word only when the word is wider than a line)."""
        widths = self.widths()
        lines: list[str] = []
        for paragraph in text.split("\n"):
            start, used, space = 0, 0.0, -1
            for index, char in enumerate(paragraph):
                if char == " ":
                    space = index
                advance = widths[char]
                if used + advance <= width or index == start:
                    used += advance
                    continue
                if space > start:  # break at the last space, and carry the word begun after it
                    lines.append(paragraph[start:space].rstrip())
                    start = space + 1
                else:  # one word wider than the line (a hash, a long address): break inside it
                    lines.append(paragraph[start:index])
                    start = index
                used = sum(map(widths.__getitem__, paragraph[start:index + 1]))
                space = -1
            lines.append(paragraph[start:].rstrip())
        return lines

    # Drawing -------------------------------------------------------------------------------

    def rule(self, y: float, color: Color = _RULE, width: float = 0.2, x1: float = _MARGIN,
             x2: float | None = None) -> None:
        self.set_draw_color(*color)
        self.set_line_width(width)
        self.line(x1, y, self.w - _MARGIN if x2 is None else x2, y)

    def room_left(self) -> float:
        return self.page_break_trigger - self.get_y()

    def ensure_room(self, height: float) -> None:
        """A new page unless `height` fits under the cursor, so that what belongs together starts together."""
        if height > self.room_left() and self.get_y() > self.t_margin + 25:
            self.add_page()

    def paragraph(self, text: str, *, size: float = 9.5, style: str = "", color: Color = _BLACK, height: float = 0,
                  x: float = _MARGIN, width: float | None = None, align: str = "L", family: str = _SANS,
                  fill: Color | None = None, padding: tuple[float, float] = (0.0, 0.0)) -> None:
        """`text` wrapped in `width` at `x` (in a box of `fill` with (vertical, horizontal) `padding`), breaking
        pages between lines; the cursor moves under it."""
        if not text:
            return
        width = width or (self.w - _MARGIN - x)
        height = height or size * 0.5
        pad_y, pad_x = padding
        self.set_font(family, style, size)
        lines = self.wrap(text, width - 2 * pad_x)
        lift = height / 2 - _CAP_HEIGHT * size * _PT / 2  # from a line's box to its baseline, centring capitals
        last = len(lines) - 1
        for number, line in enumerate(lines):
            row = height + (pad_y if number == 0 else 0) + (pad_y if number == last else 0)
            if self.y + row > self.page_break_trigger:
                self.add_page()  # header() draws the running header and sets its own font
                self.set_font(family, style, size)
            top = self.y + (pad_y if number == 0 else 0)
            if fill is not None:
                self.set_fill_color(*fill)
                self.rect(x, self.y, width, row, style="F")
            if line:
                left = x + pad_x if align == "L" else x + width - pad_x - self.measure(line)
                self.set_text_color(*color)
                self.text(left, top + height - lift, line)
            self.set_y(self.y + row)
        self.set_text_color(*_BLACK)

    def height_of(self, text: str, *, width: float, size: float = 9.5, style: str = "", height: float = 0,
                  family: str = _SANS, padding: tuple[float, float] = (0.0, 0.0)) -> float:
        if not text:
            return 0.0
        self.set_font(family, style, size)
        return len(self.wrap(text, width - 2 * padding[1])) * (height or size * 0.5) + 2 * padding[0]

    def heading(self, text: str, *, size: float = 11.5, before: float = 3.0) -> None:
        self.ensure_room(28)  # a heading stays with the first lines under it
        if self.get_y() > self.t_margin + 8:
            self.set_y(self.get_y() + before)
        self.paragraph(text, size=size, style="B", color=_ACCENT, height=size * 0.55)
        self.rule(self.get_y() + 0.6, _ACCENT, 0.35)
        self.set_y(self.get_y() + 2.6)


class _Widths(dict[str, float]):
    """Widths (mm) of the characters of one font, style and size, asked of fpdf2 the first time each character
    turns up."""

    def __init__(self, pdf: _FormPdf, family: str, style: str, size: float) -> None:
        super().__init__()
        self.pdf, self.font = pdf, (family, style, size)

    def __missing__(self, char: str) -> float:
        pdf = self.pdf
        current = (pdf.font_family, pdf.font_style, pdf.font_size_pt)
        pdf.set_font(*self.font)
        width = self[char] = pdf.get_string_width(char)
        pdf.set_font(*current)
        return width


@dataclass(frozen=True)
class _Column:
    title: str
    width: float
    size: float = 8.0
    style: str = ""
    color: Color = _BLACK


def _table(pdf: _FormPdf, columns: Sequence[_Column], rows: Sequence[Sequence[str]], *,
           titles: bool = True) -> None:
    """Rows of wrapped cells, every other one shaded, a hairline under each; a row never splits across pages and
    the titles (if any) are repeated on a new page. fpdf2's table() lays each cell out with multi_cell(), which
    cost more than the rest of the certificate page."""
    pad_x, pad_y = 1.6, 1.3
    lefts = [_MARGIN + sum(column.width for column in columns[:index]) for index in range(len(columns))]

    def line_height(column: _Column) -> float:
        return column.size * 0.47

    def draw_titles() -> None:
        height = 4.0 + 2 * pad_y
        pdf.set_fill_color(*_ACCENT)
        pdf.rect(_MARGIN, pdf.y, pdf.content_width, height, style="F")
        pdf.set_font(_SANS, "B", 8)
        pdf.set_text_color(*_WHITE)
        for column, left in zip(columns, lefts, strict=True):
            pdf.text(left + pad_x, pdf.y + pad_y + 2.9, column.title)
        pdf.set_text_color(*_BLACK)
        pdf.set_y(pdf.y + height)

    if titles:
        pdf.ensure_room(24)
        draw_titles()
    for number, row in enumerate(rows):
        laid_out = []
        for column, value in zip(columns, row, strict=True):
            pdf.set_font(_SANS, column.style, column.size)
            laid_out.append(pdf.wrap(value or "-", column.width - 2 * pad_x))
        height = max(len(lines) * line_height(column) for lines, column in zip(laid_out, columns, strict=True))
        height += 2 * pad_y
        if pdf.y + height > pdf.page_break_trigger:
            pdf.add_page()
            if titles:
                draw_titles()
        top = pdf.y
        if number % 2 == 0:
            pdf.set_fill_color(*_SHADE)
            pdf.rect(_MARGIN, top, pdf.content_width, height, style="F")
        for lines, column, left in zip(laid_out, columns, lefts, strict=True):
            pdf.set_font(_SANS, column.style, column.size)
            pdf.set_text_color(*column.color)
            step = line_height(column)
            for index, line in enumerate(lines):
                pdf.text(left + pad_x, top + pad_y + index * step + step * 0.78, line)
        pdf.set_text_color(*_BLACK)
        pdf.rule(top + height, width=0.15)
        pdf.set_y(top + height)
    pdf.set_y(pdf.y + 2)


# --------------------------------------------------------------------------- blocks


def _letterhead(pdf: _FormPdf, doc: dict, signed_line: str) -> None:
    practice, form = doc.get("practice") or {}, doc.get("form") or {}
    pdf.add_page()
    left_width = pdf.content_width * 0.52
    right_x = _MARGIN + left_width + 4
    right_width = pdf.w - _MARGIN - right_x

    pdf.set_y(_MARGIN)
    pdf.paragraph(pdf.practice_name, size=14, style="B", color=_ACCENT, width=left_width, height=6.5)
    pdf.set_y(pdf.get_y() + 0.8)
    for line in practice.get("address_lines") or []:
        pdf.paragraph(_text(line), size=8.5, color=_MUTED, width=left_width, height=4.2)
    left_bottom = pdf.get_y()

    pdf.set_y(_MARGIN)
    pdf.paragraph(pdf.title_text, size=15, style="B", color=_ACCENT, x=right_x, width=right_width, align="R",
                  height=6.8)
    pdf.set_y(pdf.get_y() + 0.8)
    version = form.get("version")
    if version not in (None, ""):
        pdf.paragraph(f"Version {_text(version)}", size=8.5, color=_MUTED, x=right_x, width=right_width,
                      align="R", height=4.4)
    pdf.paragraph(signed_line, size=8.5, color=_MUTED, x=right_x, width=right_width, align="R", height=4.4)

    pdf.set_y(max(left_bottom, pdf.get_y()) + 3)
    pdf.rule(pdf.get_y(), _ACCENT, 0.5)
    pdf.set_y(pdf.get_y() + 4)
    description = _text(form.get("description"), lines=True)
    if description:
        pdf.paragraph(description, size=9, color=_MUTED, height=4.6)
        pdf.set_y(pdf.get_y() + 2)


def _field(pdf: _FormPdf, field: dict, doc: dict, placed: list[bool], indent: float = 0.0) -> None:
    """One question: its label, its help as the client read it, and the answer in a shaded box; a yes/no's
    follow-up under a yes, indented."""
    x = _MARGIN + indent
    width = pdf.w - _MARGIN - x
    label = _text(field.get("label"))
    help_text = _text(field.get("help"), lines=True)
    if field.get("type") == "signature":
        pdf.ensure_room(pdf.height_of(label, width=width, style="B") + 52)
        pdf.paragraph(label, style="B", x=x, width=width, height=4.9)
        pdf.paragraph(help_text, size=8, color=_MUTED, x=x, width=width, height=4)
        pdf.set_y(pdf.get_y() + 1.5)
        _signature_block(pdf, doc)
        placed[0] = True
        return

    answer = _answer_lines(field)
    padding = (1.4, 2.4)
    # Keep the label with (the start of) its answer; help a page long (a consent's text) just flows.
    needed = (pdf.height_of(label, width=width, style="B", height=4.9) + 1
              + min(pdf.height_of(help_text, width=width, size=8, height=4), 40)
              + min(pdf.height_of(answer or _NO_ANSWER, width=width, size=9.5, height=4.9, padding=padding), 30))
    pdf.ensure_room(needed + 3)
    pdf.paragraph(label, style="B", x=x, width=width, height=4.9)
    if help_text:
        pdf.set_y(pdf.get_y() + 0.3)
        pdf.paragraph(help_text, size=8, color=_MUTED, x=x, width=width, height=4)
    pdf.set_y(pdf.get_y() + 1)
    if answer:
        pdf.paragraph(answer, size=9.5, x=x, width=width, height=4.9, fill=_SHADE, padding=padding)
    else:
        pdf.paragraph(_NO_ANSWER, size=9, color=_MUTED, x=x, width=width, height=4.9, fill=_SHADE, padding=padding)
    pdf.set_y(pdf.get_y() + 3.2)

    follow_up = field.get("follow_up")
    if field.get("type") == "yes_no" and field.get("answer") is True and isinstance(follow_up, dict):
        _field(pdf, follow_up, doc, placed, indent + _INDENT)


def _signature_block(pdf: _FormPdf, doc: dict) -> None:
    """The drawn signature (or, without one, the typed name in a hand-like italic) on a line, and under the line
    who signed electronically, when, and under which disclosure."""
    signature, certificate = doc.get("signature") or {}, doc.get("certificate") or {}
    zone = _zone((doc.get("practice") or {}).get("timezone"))
    name = _text(signature.get("full_name") or certificate.get("signer_name"))
    pdf.ensure_room(50)
    top = pdf.get_y()
    box_width, box_height = 90.0, 24.0
    drawn = _draw_png(pdf, signature.get("drawn_png"), name, _MARGIN + 2, top, box_width - 4, box_height - 2)
    if not drawn:
        family = pdf.script_font() if _draws(name, _SCRIPT) else _SANS
        style = "I" if family == _SCRIPT else ""
        size = 24.0
        pdf.set_font(family, style, size)
        while size > 12 and pdf.get_string_width(name) > box_width - 4:
            size -= 1
            pdf.set_font(family, style, size)
        pdf.set_text_color(*_ACCENT)
        pdf.text(_MARGIN + 2, top + box_height - 5, name)
        pdf.set_text_color(*_BLACK)
    line_y = top + box_height
    pdf.rule(line_y, _BLACK, 0.3, x2=_MARGIN + box_width)
    pdf.set_y(line_y + 1.2)
    pdf.paragraph(f"Signed electronically by {name}", size=9, style="B", width=box_width + 40, height=4.6)
    signed_at = signature.get("signed_at") or certificate.get("signed_at_utc")
    if signed_at:
        pdf.paragraph(f"on {_local_time(signed_at, zone)}", size=8.5, color=_MUTED, width=pdf.content_width,
                      height=4.3)
    pdf.signature_drawn = drawn
    how = "typed name and drawn signature" if drawn else "typed name"
    version = _text(signature.get("disclosure_version"))
    consent = f"; consent to sign electronically given (disclosure {version})" if version else ""
    pdf.paragraph(f"Signature: {how}{consent}.", size=8.5, color=_MUTED, width=pdf.content_width, height=4.3)
    pdf.set_y(pdf.get_y() + 4)


def _draw_png(pdf: _FormPdf, png: object, name: str, x: float, y: float, width: float, height: float) -> bool:
    """The drawn signature fitted into the box, left-aligned and at the foot of it (on the line); False when
    there is none or it cannot be read, and the typed name stands in."""
    if not png:
        return False
    try:
        with Image.open(BytesIO(png)) as image:
            pixels_wide, pixels_high = image.size
        scale = min(width / pixels_wide, height / pixels_high)
        w, h = pixels_wide * scale, pixels_high * scale
        pdf.image(BytesIO(png), x=x, y=y + height - h, w=w, h=h, alt_text=f"Signature drawn by {name}")
    except (UnidentifiedImageError, OSError, ValueError, ZeroDivisionError, TypeError) as exc:
        # answers.py checks the PNG on submission, so this is a damaged stored drawing: the typed name is the
        # signature anyway, and the certificate page then says "typed name"
        log.warning("drawn signature not drawable", extra={"fields": {"error": type(exc).__name__}})
        return False
    return True


def _certificate(pdf: _FormPdf, doc: dict) -> None:
    practice, form = doc.get("practice") or {}, doc.get("form") or {}
    signature, certificate = doc.get("signature") or {}, doc.get("certificate") or {}
    zone = _zone(practice.get("timezone"))
    pdf.add_page()
    pdf.paragraph("Certificate of completion", size=16, style="B", color=_ACCENT, height=8)
    pdf.set_y(pdf.get_y() + 1)
    pdf.paragraph(f"How and when {pdf.title_text} was completed and signed electronically in the client portal "
                  f"of {pdf.practice_name}.", size=9, color=_MUTED, height=4.6)
    pdf.set_y(pdf.get_y() + 3)

    local = certificate.get("signed_at_local") or certificate.get("signed_at_utc")
    version = _text(form.get("version"))
    disclosure = _text(signature.get("disclosure_version"))
    how = "Typed name and drawn signature" if pdf.signature_drawn else "Typed name"
    rows = [
        ("Form", f"{pdf.title_text}" + (f" (version {version})" if version else "")),
        ("Form ID", _text(certificate.get("form_id"))),
        ("Signer", _text(certificate.get("signer_name") or signature.get("full_name"))),
        ("E-mail", _text(certificate.get("signer_email"))),
        ("Signed in with", _text(certificate.get("signed_in_how"))),
        ("Signed at (UTC)", _utc_time(certificate.get("signed_at_utc") or signature.get("signed_at"))),
        ("Signed at (practice time)", _local_time(local, zone)),
        ("IP address", _text(certificate.get("ip_address"))),
        ("User agent", _text(certificate.get("user_agent"))),
        ("Content SHA-256", _text(certificate.get("content_sha256"))),
        ("Signature", how),
        ("E-signature disclosure", f"Accepted, version {disclosure}" if disclosure else "Not recorded"),
    ]
    _details(pdf, rows)

    pdf.heading("Audit trail")
    _audit(pdf, doc.get("audit") or [])

    text = _text(signature.get("disclosure_text"), lines=True)
    if text:
        pdf.heading(f"The e-signature disclosure the signer accepted ({disclosure})" if disclosure
                    else "The e-signature disclosure the signer accepted")
        for block in text.split("\n\n"):  # a numbered paragraph of the notice stays with its title
            pdf.ensure_room(min(pdf.height_of(block, width=pdf.content_width, size=8, height=3.9), 40))
            pdf.paragraph(block, size=8, color=_MUTED, height=3.9)
            pdf.set_y(pdf.y + 2)
    pdf.set_y(pdf.get_y() + 4)
    pdf.ensure_room(14)
    pdf.paragraph(f"{pdf.practice_name} sealed this PDF with its digital certificate when the form was submitted. "
                  "A PDF reader shows the seal; any change made to the file afterwards breaks it. The Content SHA-256 "
                  "is the digest of the answers and signature as submitted.", size=8, color=_MUTED, height=4)


def _details(pdf: _FormPdf, rows: Sequence[tuple[str, str]]) -> None:
    label = _Column("", 48.0, size=8.5, style="B", color=_MUTED)
    _table(pdf, [label, _Column("", pdf.content_width - label.width, size=9)], rows, titles=False)


def _audit(pdf: _FormPdf, events: Sequence[dict]) -> None:
    if not events:
        pdf.paragraph("No events recorded.", size=9, color=_MUTED, height=4.6)
        return
    columns = [_Column("Event", 38.0), _Column("Time (UTC)", 42.0), _Column("IP address", 30.0),
               _Column("User agent", pdf.content_width - 110.0)]
    rows = [(_event(event.get("event")), _utc_time(event.get("at_utc"), zone_name=False),  # the title says UTC
             _text(event.get("ip")), _text(event.get("user_agent"))) for event in events]
    _table(pdf, columns, rows)


# --------------------------------------------------------------------------- the document


def render_completed_form(form: dict) -> bytes:
    """The completed form (shape in the module docstring) as PDF bytes, ready for sealing.seal()."""
    practice, details = form.get("practice") or {}, form.get("form") or {}
    signature, certificate = form.get("signature") or {}, form.get("certificate") or {}
    title = _text(details.get("title")) or "Form"
    signer = _text(certificate.get("signer_name") or signature.get("full_name"))
    signed_at = signature.get("signed_at") or certificate.get("signed_at_utc")
    form_id = _text(certificate.get("form_id"))
    footer = " \u00b7 ".join(part for part in (title, signer, f"Form {form_id}" if form_id else "") if part)
    pdf = _FormPdf(practice=practice, title=title, footer=footer,
                   created=signed_at if isinstance(signed_at, datetime) else None)

    zone = _zone(practice.get("timezone"))
    if isinstance(signed_at, datetime):
        local = _as_utc(signed_at).astimezone(zone) if zone else _as_utc(signed_at)
        signed_line = f"Signed electronically {_day(local)}"  # the time to the second is on the certificate
    else:
        signed_line = "Signed electronically" if signed_at else "Not signed"
    _letterhead(pdf, form, signed_line)

    placed = [False]  # whether a signature field has put the signature block
    for section in form.get("sections") or []:
        pdf.heading(_text(section.get("title")))
        section_help = _text(section.get("help"), lines=True)
        if section_help:
            pdf.paragraph(section_help, size=8.5, color=_MUTED, height=4.3)
            pdf.set_y(pdf.get_y() + 2)
        for field in section.get("fields") or []:
            _field(pdf, field, form, placed)
    if not placed[0]:
        pdf.heading("Signature")
        _signature_block(pdf, form)

    _certificate(pdf, form)
    return bytes(pdf.output())
