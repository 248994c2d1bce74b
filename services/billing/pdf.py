"""Billing documents as PDF: invoices, statements and superbills drawn from plain dicts into bytes.

Pure functions: no database, no Flask, no files read. Money arrives as integer cents with an ISO
currency code and is only ever formatted (divmod), never computed with. Text is set in a core font
(Helvetica with its WinAnsi encoding, cp1252, which has the euro sign), so nothing is bundled; a
character the font lacks is transliterated or replaced with "?" instead of failing the render.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from itertools import accumulate

from fpdf import FPDF

__all__ = ["CURRENCY_SYMBOLS", "format_money", "pdf_text", "render_invoice", "render_statement",
           "render_superbill"]

CURRENCY_SYMBOLS = {"USD": "$", "CAD": "CA$", "EUR": "\u20ac", "GBP": "\u00a3", "AUD": "A$"}

# What the core fonts are declared with (WinAnsiEncoding): Latin-1 plus the euro sign and a few more.
_ENCODING = "windows-1252"

# North American practices print on Letter, everyone else on A4.
_LETTER_CURRENCIES = frozenset({"USD", "CAD"})

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_ACCENT = (31, 78, 121)
_MUTED = (95, 95, 95)
_RULE = (205, 210, 216)
_SHADE = (234, 239, 244)
_BLACK = (0, 0, 0)
_WHITE = (255, 255, 255)

_MARGIN = 15.0
_FOOTER_ZONE = 20.0  # mm above the bottom edge kept for the footer

Color = tuple[int, int, int]


# --------------------------------------------------------------------------- text, money, dates

_TO_ASCII = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u2022": "-",
    "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " ",
    "\t": " ", "\n": " ", "\r": " ", "\u00ad": None,
})

# Letters that Unicode does not decompose into a base letter plus an accent.
_BARE_LETTERS = {"\u0141": "L", "\u0142": "l", "\u0110": "D", "\u0111": "d", "\u0126": "H", "\u0127": "h",
                 "\u0131": "i", "\u013f": "L", "\u0140": "l", "\u0166": "T", "\u0167": "t", "\u014a": "N",
                 "\u014b": "n"}


def pdf_text(value: object) -> str:
    """`value` as text the core font can draw: typographic quotes and dashes become ASCII, letters the font
    lacks lose their accent (Ł -> L, ő -> o), invisible marks go, anything else (emoji, CJK) becomes "?"."""
    if value is None:
        return ""
    text = str(value)
    if text.isascii() and text.isprintable():
        return text
    text = unicodedata.normalize("NFC", text).translate(_TO_ASCII)
    try:
        text.encode(_ENCODING)
    except UnicodeEncodeError:
        text = "".join(map(_drawable, text))
        if "  " in text:  # where an invisible character went
            text = " ".join(text.split())
    if text.isprintable():
        return text
    return " ".join("".join(char if char.isprintable() else " " for char in text).split())


@lru_cache(maxsize=4096)
def _drawable(char: str) -> str:
    try:
        char.encode(_ENCODING)
        return char
    except UnicodeEncodeError:
        pass
    if char in _BARE_LETTERS:
        return _BARE_LETTERS[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and base != char:
        try:
            base.encode(_ENCODING)
            return base
        except UnicodeEncodeError:
            pass
    # Joiners, variation selectors, combining marks and emoji skin tones have no glyph of their own.
    if unicodedata.category(char) in ("Mn", "Me", "Cf", "Cc") or "\U0001f3fb" <= char <= "\U0001f3ff":
        return ""
    return "?"


def format_money(cents: int, currency: str = "USD") -> str:
    """Integer cents as money: `$1,234.50`, `-$20.00`, `CA$5.00`, `€5.00`, `£5.00`, `A$5.00`; other codes
    as `CHF 5.00`. Floats are refused: they mean someone upstream did arithmetic they should not have."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"money is integer cents, got {type(cents).__name__}")
    code = (currency or "").upper()
    symbol = CURRENCY_SYMBOLS.get(code, f"{code} " if code else "")
    units, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{symbol}{units:,}.{rest:02d}"


@lru_cache(maxsize=2048)
def _date(value: date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    # Month names by hand: strftime("%b") follows the process locale.
    return f"{_MONTHS[value.month - 1]} {value.day}, {value.year}"


def _address_lines(address: dict | None) -> list[str]:
    if not address:
        return []
    city, state, postal = (address.get(key) for key in ("city", "state", "postal_code"))
    region = " ".join(part for part in (state, postal) if part)
    lines = [address.get("line1"), address.get("line2"), ", ".join(part for part in (city, region) if part)]
    return [line.strip() for line in lines if line and line.strip()]


def _legal_name(client: dict) -> str:
    # The legal name, not the preferred one: it is what an insurer or a payer's bank matches against.
    return " ".join(part.strip() for part in (client.get("first_name"), client.get("last_name")) if part)


def _pointer_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how claim forms letter diagnoses."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _questions(practice: dict) -> str:
    contacts = [value for value in (practice.get("phone"), practice.get("email")) if value]
    if not contacts:
        return ""
    return f"Questions? Contact {practice.get('name') or 'the practice'} at {' or '.join(contacts)}."


# --------------------------------------------------------------------------- the page


class _Page(FPDF):
    """An FPDF with a billing document's running header and footer, own page breaks and fast measuring."""

    def __init__(self, *, reference: str, practice: dict, client_name: str,
                 issued_at: datetime, currency: str) -> None:
        paper = "letter" if (currency or "").upper() in _LETTER_CURRENCIES else "A4"
        if not isinstance(issued_at, datetime):  # a bare date is accepted too
            issued_at = datetime.combine(issued_at, time())
        super().__init__(unit="mm", format=paper)
        self.core_fonts_encoding = _ENCODING
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(False)  # breaks are ours, so that tables can repeat their titles
        self.bottom = self.h - _FOOTER_ZONE
        self.content_width = self.w - 2 * _MARGIN
        self.reference = pdf_text(reference)
        self.practice_name = pdf_text(practice.get("name"))
        self.client_name = pdf_text(client_name)
        self.on_new_page: Callable[[], None] | None = None
        self._widths: dict[tuple[str, float], _Widths] = {}
        stamp = issued_at if issued_at.tzinfo else issued_at.replace(tzinfo=UTC)
        self.set_creation_date(stamp)  # not "now": the same document renders to the same bytes
        self.set_title(self.reference)
        self.set_author(self.practice_name)
        self.set_font("helvetica", size=9)

    def header(self) -> None:
        if self.page_no() == 1:
            return  # the first page has the full letterhead instead
        half = self.content_width / 2
        self.set_font("helvetica", "B", 9)
        self.write_runs([(_MARGIN, 13, self.fit(self.practice_name, half - 2))], color=_ACCENT)
        self.set_font("helvetica", "", 8.5)
        right = self.fit(f"{self.reference} - {self.client_name}", half - 2)
        self.write_runs([(self.w - _MARGIN - self.measure(right), 13, right)], color=_MUTED)
        self.rule(15)
        self.set_y(19)
        if self.on_new_page is not None:
            self.on_new_page()

    def footer(self) -> None:
        self.rule(self.h - 14.5)
        self.set_font("helvetica", "", 8)
        self.write_runs([(_MARGIN, self.h - 10.6, self.fit(f"{self.practice_name} - {self.reference}",
                                                            self.content_width * 0.7))], color=_MUTED)
        # cell() is what replaces {nb} with the page count once it is known
        self.set_xy(_MARGIN + self.content_width * 0.7, self.h - 14)
        self.set_text_color(*_MUTED)
        self.cell(self.content_width * 0.3, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(*_BLACK)

    # Drawing -------------------------------------------------------------------------------

    def rule(self, y: float, color: Color = _RULE, width: float = 0.2, x1: float = _MARGIN,
             x2: float | None = None) -> None:
        self.set_draw_color(*color)
        self.set_line_width(width)
        self.line(x1, y, self.w - _MARGIN if x2 is None else x2, y)

    def ensure_room(self, height: float) -> None:
        if self.get_y() + height > self.bottom:
            self.add_page()

    def write_line(self, text: object, *, width: float = 0, height: float = 4.6, size: float = 9,
                   style: str = "", color: Color = _BLACK, align: str = "L", x: float | None = None,
                   max_lines: int = 1) -> None:
        """Text at the cursor in up to `max_lines` lines of `width`, cut with "..." beyond; the cursor moves
        to the line under it."""
        self.set_font("helvetica", style, size)
        self.set_text_color(*color)
        width = width or self.content_width
        for line in self.wrap(pdf_text(text), width - 1, max_lines):
            if x is not None:
                self.set_x(x)
            self.cell(width, height, line, align=align, new_x="LEFT", new_y="NEXT")
        self.set_text_color(*_BLACK)

    def write_runs(self, runs: Sequence[tuple[float, float, str]], color: Color = _BLACK,
                   rule_y: float | None = None) -> None:
        """Drawable text at (x, baseline) in the current font, then a hairline across the page at `rule_y`.

        Through fpdf2's public text(), not its private content-stream writer: an fpdf2 upgrade cannot change
        what a row looks like or break it. It costs more per run (a 5,000-entry statement in about 0.3 s, not
        0.2; bench.billing_pdf), well inside the 1 s aim."""
        self.set_text_color(*color)
        for x, y, text in runs:
            self.text(x, y, text)
        self.set_text_color(*_BLACK)
        if rule_y is not None:
            self.rule(rule_y, width=0.15)

    # Measuring -----------------------------------------------------------------------------

    def widths(self) -> _Widths:
        """Character widths of the current font. Core fonts have no kerning, so a string's width is the sum
        of its characters'; FPDF.get_string_width() on every table cell would cost more than drawing it."""
        key = (self.font_style, self.font_size_pt)
        widths = self._widths.get(key)
        if widths is None:
            widths = self._widths[key] = _Widths(self, *key)
        return widths

    def measure(self, text: str, widths: dict[str, float] | None = None) -> float:
        return sum(map((self.widths() if widths is None else widths).__getitem__, text))

    def fit(self, text: str, width: float, widths: dict[str, float] | None = None) -> str:
        """`text`, or as much of it as fits `width` followed by "..."."""
        widths = self.widths() if widths is None else widths
        edges = list(accumulate(map(widths.__getitem__, text)))  # where each character ends
        if not edges or edges[-1] <= width:
            return text
        return text[:bisect_right(edges, width - self.measure("...", widths))].rstrip() + "..."

    def wrap(self, text: str, width: float, max_lines: int, widths: dict[str, float] | None = None) -> list[str]:
        """`text` in lines of `width` broken at spaces (inside a word only when it is longer than a line),
        at most `max_lines` of them, the last one ending in "..." if the text goes on."""
        widths = self.widths() if widths is None else widths
        lines: list[str] = []
        while len(lines) < max_lines - 1:
            edges = list(accumulate(map(widths.__getitem__, text)))
            if not edges or edges[-1] <= width:
                break
            fits = max(bisect_right(edges, width), 1)
            cut = text.rfind(" ", 0, fits + 1)
            if cut > 0:
                lines.append(text[:cut].rstrip())
                text = text[cut + 1:].lstrip()
            else:  # one word wider than the column (an e-mail address, a reference): break inside it
                lines.append(text[:fits])
                text = text[fits:]
        if text or not lines:
            lines.append(self.fit(text, width, widths))
        return lines


class _Widths(dict[str, float]):
    """Widths (mm) of the characters of one Helvetica style and size, asked of fpdf2 the first time each
    character turns up."""

    def __init__(self, page: _Page, style: str, size: float) -> None:
        super().__init__()
        self.page, self.style, self.size = page, style, size

    def __missing__(self, char: str) -> float:
        page = self.page
        current = (page.font_style, page.font_size_pt)
        page.set_font("helvetica", self.style, self.size)
        width = self[char] = page.get_string_width(char)
        page.set_font("helvetica", *current)
        return width


@dataclass(frozen=True)
class _Column:
    title: str
    width: float  # mm; 0 takes what the other columns leave
    align: str = "L"
    max_lines: int = 1


class _Table:
    """A table drawn row by row with our own page breaks; its titles are repeated on every new page.

    For 5,000 statement rows fpdf2's table() takes about 44 s, cell() 3.4 s and text() 1 s where this
    draws the whole document in well under one (`python -m bench.billing_pdf --compare`)."""

    PAD_X = 1.6
    PAD_Y = 1.15
    LINE = 3.9
    ASCENT = 0.78 * 3.9  # baseline below the top of a line

    def __init__(self, page: _Page, columns: Sequence[_Column], size: float = 8.5) -> None:
        spare = page.content_width - sum(column.width for column in columns)
        self.page = page
        self.size = size
        self.columns = [column if column.width else _Column(column.title, spare, column.align, column.max_lines)
                        for column in columns]
        self.lefts: list[float] = []
        x = _MARGIN
        for column in self.columns:
            self.lefts.append(x)
            x += column.width
        self.inner = [column.width - 2 * self.PAD_X for column in self.columns]
        self._laid_out: dict[tuple[str, int, object], list[tuple[float, str]]] = {}
        self.rows = 0

    def __enter__(self) -> _Table:
        self.page.ensure_room(3 * (self.LINE + 2 * self.PAD_Y))  # never titles alone at the foot of a page
        self.page.on_new_page = self.draw_titles
        self.draw_titles()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.page.on_new_page = None
        self.page.set_y(self.page.get_y() + 2)

    def draw_titles(self) -> None:
        page = self.page
        y = page.get_y()
        height = self.LINE + 2 * self.PAD_Y
        page.set_fill_color(*_ACCENT)
        page.rect(_MARGIN, y, page.content_width, height, style="F")
        page.set_font("helvetica", "B", self.size)
        baseline = y + self.PAD_Y + self.ASCENT
        page.write_runs([(self._x(column, left, page.measure(column.title)), baseline, column.title)
                         for column, left in zip(self.columns, self.lefts, strict=True)], color=_WHITE)
        page.set_y(y + height)

    def row(self, cells: Sequence[object], *, bold: bool = False, shade: bool = False) -> None:
        page = self.page
        style = "B" if bold else ""
        if page.font_style != style or page.font_size_pt != self.size:
            page.set_font("helvetica", style, self.size)
        laid_out, widths = self._laid_out, page.widths()
        cells_lines = []
        depth = 1
        for index, value in enumerate(cells):
            # Dates, types, codes and often whole descriptions repeat down a statement: lay each out once.
            key = (style, index, value)
            lines = laid_out.get(key)
            if lines is None:
                lines = self._lay_out(pdf_text(value), index, widths)
                if len(laid_out) < 4096:
                    laid_out[key] = lines
            cells_lines.append(lines)
            depth = max(depth, len(lines))
        height = depth * self.LINE + 2 * self.PAD_Y
        if page.y + height > page.bottom:
            page.add_page()  # header() draws the running header and these titles again
            page.set_font("helvetica", style, self.size)
        y = page.y
        if shade:
            page.set_fill_color(*_SHADE)
            page.rect(_MARGIN, y, page.content_width, height, style="F")
        baseline, step = y + self.PAD_Y + self.ASCENT, self.LINE
        page.write_runs([(x, baseline + number * step, line) for lines in cells_lines
                         for number, (x, line) in enumerate(lines)], rule_y=y + height)
        page.y = y + height
        self.rows += 1

    def note(self, text: str) -> None:
        """A line across the whole table, such as "No activity in this period"."""
        page = self.page
        height = self.LINE + 2 * self.PAD_Y + 2
        page.ensure_room(height)
        y = page.get_y()
        page.set_font("helvetica", "I", self.size + 0.5)
        line = page.fit(pdf_text(text), page.content_width - 2 * self.PAD_X)
        page.write_runs([(_MARGIN + self.PAD_X, y + 1 + self.PAD_Y + self.ASCENT, line)], color=_MUTED,
                        rule_y=y + height)
        page.set_y(y + height)

    def _lay_out(self, text: str, index: int, widths: dict[str, float]) -> list[tuple[float, str]]:
        """The lines of a cell, each with the x it starts at."""
        page, inner, column, left = self.page, self.inner[index], self.columns[index], self.lefts[index]
        lines = page.wrap(text, inner, column.max_lines, widths)
        if column.align == "L":
            return [(left + self.PAD_X, line) for line in lines if line]
        return [(self._x(column, left, page.measure(line, widths)), line) for line in lines if line]

    def _x(self, column: _Column, left: float, width: float) -> float:
        if column.align == "R":
            return left + column.width - self.PAD_X - width
        if column.align == "C":
            return left + (column.width - width) / 2
        return left + self.PAD_X


# --------------------------------------------------------------------------- blocks


def _letterhead(page: _Page, practice: dict, title: str, facts: Iterable[tuple[str, str]],
                subtitle: str | None = None) -> None:
    """First page: the practice on the left; the title, its number and dates on the right."""
    page.add_page()
    left_width = page.content_width * 0.55
    right_x, right_width = _MARGIN + left_width, page.content_width - left_width

    page.set_xy(_MARGIN, _MARGIN)
    page.write_line(practice.get("name"), width=left_width, height=7, size=15, style="B", color=_ACCENT,
                    max_lines=2)
    lines = _address_lines(practice.get("address"))
    if practice.get("phone"):
        lines.append(f"Phone: {practice['phone']}")
    if practice.get("email"):
        lines.append(f"E-mail: {practice['email']}")
    for line in lines:
        page.write_line(line, width=left_width, height=4.4, color=_MUTED)
    left_bottom = page.get_y()

    page.set_y(_MARGIN)
    page.write_line(title.upper(), width=right_width, height=8, size=19, style="B", color=_ACCENT, align="R",
                    x=right_x)
    if subtitle:
        page.write_line(subtitle, width=right_width, height=4.8, size=9.5, style="B", align="R", x=right_x)
    page.set_y(page.get_y() + 1)
    label_width = right_width * 0.42
    for label, value in facts:
        y = page.get_y()
        page.write_line(label, width=label_width, color=_MUTED, align="R", x=right_x)
        page.set_y(y)
        page.write_line(value, width=right_width - label_width, style="B", align="R", x=right_x + label_width)

    page.set_y(max(left_bottom, page.get_y()) + 3)
    page.rule(page.get_y(), _ACCENT, 0.5)
    page.set_y(page.get_y() + 4)


def _block(page: _Page, heading: str, lines: Sequence[tuple[object, str]], x: float, width: float) -> float:
    """A labelled block (Bill to, Patient) of (text, style) lines at `x`; returns the y under it."""
    page.write_line(heading.upper(), width=width, size=8, style="B", color=_ACCENT, x=x)
    for text, style in lines:
        if text:
            page.write_line(text, width=width, size=10 if style == "B" else 9, style=style, x=x, max_lines=2)
    return page.get_y()


def _client_lines(client: dict, *, birth_date: bool = False, email: bool = True) -> list[tuple[object, str]]:
    lines: list[tuple[object, str]] = [(_legal_name(client), "B")]
    if birth_date and client.get("date_of_birth"):
        lines.append((f"Date of birth: {_date(client['date_of_birth'])}", ""))
    lines += [(line, "") for line in _address_lines(client.get("address"))]
    if email and client.get("email"):
        lines.append((client["email"], ""))
    return lines


def _label_value(page: _Page, label: str, value: str, x: float, width: float, *, size: float = 9, style: str = "",
                 height: float = 4.8, align: str = "R") -> None:
    """A label in the left half of `width`, its value in the right half, on one line."""
    label_width = width / 2
    y = page.get_y()
    page.write_line(label, width=label_width, height=height, size=size, style=style,
                    color=_MUTED if not style else _BLACK, x=x)
    page.set_y(y)
    page.write_line(value, width=width - label_width, height=height, size=size, style=style, align=align,
                    x=x + label_width)


def _totals(page: _Page, rows: Sequence[tuple[str, str, bool]], band: tuple[str, str]) -> None:
    """Right-hand totals: (label, amount, strong) rows, then the figure that matters in a shaded band."""
    width = 90.0
    x = page.w - _MARGIN - width
    page.ensure_room(len(rows) * 5.4 + 18)
    for label, amount, strong in rows:
        _label_value(page, label, amount, x + 2, width - 4, size=10.5 if strong else 9.5,
                     style="B" if strong else "", height=5.4)
    y = page.get_y() + 1.5
    page.set_fill_color(*_SHADE)
    page.rect(x, y, width, 10, style="F")
    page.rule(y, _ACCENT, 0.4, x1=x, x2=x + width)
    page.set_y(y + 1.5)
    page.write_line(band[0], width=width / 2, height=7, size=12, style="B", color=_ACCENT, x=x + 2)
    page.set_y(y + 1.5)
    page.write_line(band[1], width=width / 2 - 2, height=7, size=13, style="B", align="R", x=x + width / 2)
    page.set_y(y + 14)


def _heading(page: _Page, text: str, need: float = 25) -> None:
    page.ensure_room(need)  # a heading stays with the first rows under it
    page.write_line(text.upper(), height=6, style="B", color=_ACCENT)


def _paragraph(page: _Page, text: str, size: float = 8.5) -> None:
    page.set_font("helvetica", "", size)
    lines = page.wrap(pdf_text(text), page.content_width - 1, 8)
    page.ensure_room(len(lines) * 4.2 + 2)
    for line in lines:
        page.write_line(line, height=4.2, size=size, color=_MUTED)
    page.set_y(page.get_y() + 2)


# --------------------------------------------------------------------------- the documents

_STATUS = {"paid": "Paid", "unpaid": "Unpaid", "partially_paid": "Partially paid"}


def render_invoice(doc: dict) -> bytes:
    """An invoice: the services billed, what has been paid, and the balance due."""
    practice, client, currency = doc["practice"], doc["client"], doc.get("currency") or "USD"

    def money(cents: int) -> str:
        return format_money(cents, currency)

    page = _Page(reference=f"Invoice #{doc['number']}", practice=practice,
                 client_name=_legal_name(client), issued_at=doc["issued_at"], currency=currency)
    status = doc.get("status") or ""
    facts = [("Invoice number", f"#{doc['number']}"), ("Issued", _date(doc["issued_at"])),
             ("Due date", _date(doc.get("due_date")))]
    if doc.get("date_of_service"):
        facts.append(("Date of service", _date(doc["date_of_service"])))
    facts.append(("Status", _STATUS.get(status, status.replace("_", " ").capitalize())))
    _letterhead(page, practice, "Invoice", facts)

    _block(page, "Bill to", _client_lines(client), _MARGIN, page.content_width * 0.55)
    page.set_y(page.get_y() + 4)

    with _Table(page, [_Column("Date", 25), _Column("Code", 19), _Column("Description", 0, max_lines=3),
                       _Column("Units", 13, "R"), _Column("Rate", 25, "R"), _Column("Amount", 27, "R")]) as table:
        for line in doc.get("lines") or []:
            units = line.get("units")
            table.row([_date(line.get("date_of_service") or doc.get("date_of_service")), line.get("service_code"),
                       line.get("description"), "" if units is None else units, money(line["rate_cents"]),
                       money(line["amount_cents"])])
        if not table.rows:
            table.note("No services on this invoice")

    rows = [("Total", money(doc["total_cents"]), False)]
    if doc.get("adjusted_cents"):
        rows.append(("Adjustments", money(doc["adjusted_cents"]), False))
    rows.append(("Amount paid", money(doc["paid_cents"]), True))
    _totals(page, rows, ("Balance due", money(doc["balance_due_cents"])))

    payments = doc.get("payments") or []
    if payments:
        _heading(page, "Payments received")
        with _Table(page, [_Column("Date", 25), _Column("Description", 0, max_lines=2),
                           _Column("Amount", 30, "R")]) as table:
            for payment in payments:
                table.row([_date(payment.get("date")), payment.get("description"), money(payment["amount_cents"])])

    balance = doc["balance_due_cents"]
    if balance > 0:
        due = f" by {_date(doc['due_date'])}" if doc.get("due_date") else ""
        _paragraph(page, f"Please pay the balance due of {money(balance)}{due}. {_questions(practice)}")
    else:
        _paragraph(page, f"Nothing is due on this invoice. Thank you. {_questions(practice)}")
    return bytes(page.output())


_KINDS = {"charge": "Charge", "payment": "Payment", "refund": "Refund", "adjustment": "Adjustment"}


def render_statement(doc: dict) -> bytes:
    """A statement of account: opening balance, every ledger entry of the period, closing balance."""
    practice, client, currency = doc["practice"], doc["client"], doc.get("currency") or "USD"

    def money(cents: int) -> str:
        return format_money(cents, currency)

    page = _Page(reference=f"Statement {doc['number']}", practice=practice,
                 client_name=_legal_name(client), issued_at=doc["issued_at"], currency=currency)
    period = f"{_date(doc['period_from'])} to {_date(doc['period_to'])}"
    _letterhead(page, practice, "Statement", [("Statement number", doc["number"]),
                                              ("Issued", _date(doc["issued_at"])), ("Period", period)])

    top = page.get_y()
    half = page.content_width / 2
    left_bottom = _block(page, "Account holder", _client_lines(client), _MARGIN, half - 4)
    page.set_y(top)
    x = _MARGIN + half
    page.write_line("ACCOUNT SUMMARY", width=half, size=8, style="B", color=_ACCENT, x=x)
    for label, key in (("Opening balance", "opening_balance_cents"), ("Charges", "total_charges_cents"),
                       ("Payments", "total_payments_cents"), ("Adjustments", "total_adjustments_cents"),
                       ("Refunds", "total_refunds_cents")):
        _label_value(page, label, money(doc[key]), x, half, height=4.6)
    page.rule(page.get_y() + 0.5, _ACCENT, 0.3, x1=x)
    page.set_y(page.get_y() + 1)
    _label_value(page, "Closing balance", money(doc["closing_balance_cents"]), x, half, size=10, style="B",
                 height=5.5)
    page.set_y(max(left_bottom, page.get_y()) + 5)

    entries = doc.get("entries") or []
    with _Table(page, [_Column("Date", 23), _Column("Type", 20), _Column("Description", 0, max_lines=2),
                       _Column("Amount", 25, "R"), _Column("Balance", 26, "R")]) as table:
        table.row([_date(doc["period_from"]), "", "Opening balance", "", money(doc["opening_balance_cents"])],
                  bold=True, shade=True)
        for entry in entries:
            kind = entry.get("kind") or ""
            table.row([_date(entry["date"]), _KINDS.get(kind) or kind.capitalize(), entry.get("description"),
                       money(entry["amount_cents"]), money(entry["balance_after_cents"])])
        if not entries:
            table.note("No activity in this period")
        table.row([_date(doc["period_to"]), "", "Closing balance", "", money(doc["closing_balance_cents"])],
                  bold=True, shade=True)

    closing = doc["closing_balance_cents"]
    _totals(page, [], ("Credit on account", money(-closing)) if closing < 0 else ("Balance due", money(closing)))
    _paragraph(page, "In the Amount column charges are positive and payments negative; Balance is what was owed "
                     "after each entry. " + _questions(practice))
    return bytes(page.output())


def render_superbill(doc: dict) -> bytes:
    """A superbill: what the client's insurer needs to reimburse them (provider, diagnoses, coded services)."""
    practice, client, currency = doc["practice"], doc["client"], doc.get("currency") or "USD"
    provider = doc.get("provider") or {}

    def money(cents: int) -> str:
        return format_money(cents, currency)

    page = _Page(reference=f"Superbill {doc['number']}", practice=practice,
                 client_name=_legal_name(client), issued_at=doc["issued_at"], currency=currency)
    period = f"{_date(doc['period_from'])} to {_date(doc['period_to'])}"
    _letterhead(page, practice, "Superbill", [("Superbill number", doc["number"]),
                                              ("Issued", _date(doc["issued_at"])), ("Dates of service", period)],
                subtitle="Statement for insurance reimbursement")

    top = page.get_y()
    half = page.content_width / 2
    left_bottom = _block(page, "Patient", _client_lines(client, birth_date=True, email=False), _MARGIN, half - 4)

    # The provider box: a claim without NPI and tax id comes back, so they are the largest figures here.
    x = _MARGIN + half
    facts = [("NPI", provider.get("npi"), True), ("Tax ID (EIN)", provider.get("tax_id"), True),
             ("License", provider.get("license"), False), ("Place of service", doc.get("place_of_service"), False)]
    name = ", ".join(part for part in (provider.get("name"), provider.get("credentials")) if part)
    page.set_font("helvetica", "B", 10)
    name_lines = len(page.wrap(pdf_text(name), half - 5, 2))
    box_height = 4.6 + 5.5 * name_lines + 5.4 * len(facts) + 3
    page.set_fill_color(*_SHADE)
    page.rect(x, top - 1.5, half, box_height, style="F")
    page.set_y(top)
    page.write_line("RENDERING PROVIDER", width=half - 4, size=8, style="B", color=_ACCENT, x=x + 2)
    page.write_line(name, width=half - 4, height=5.5, size=10, style="B", x=x + 2, max_lines=2)
    for label, value, strong in facts:
        y = page.get_y()
        page.write_line(label, width=30, height=5.4, color=_MUTED, x=x + 2)
        page.set_y(y)
        page.write_line(value or "Not provided", width=half - 34, height=5.4, size=11 if strong else 9,
                        style="B" if strong else "", x=x + 32)
    page.set_y(max(left_bottom, top - 1.5 + box_height) + 5)

    _heading(page, "Diagnoses (ICD-10)")
    diagnoses = doc.get("diagnosis_codes") or []
    with _Table(page, [_Column("Pointer", 18, "C"), _Column("Code", 24),
                       _Column("Description", 0, max_lines=2)]) as table:
        for index, diagnosis in enumerate(diagnoses):
            table.row([_pointer_letter(index), diagnosis.get("code"), diagnosis.get("description")])
        if not diagnoses:
            table.note("No diagnosis recorded")

    _heading(page, "Services")
    with _Table(page, [_Column("Date", 24), _Column("Code", 17), _Column("Description", 0, max_lines=3),
                       _Column("Units", 12, "R"), _Column("Dx", 15, "C"), _Column("Charge", 25, "R"),
                       _Column("Paid", 25, "R")]) as table:
        for service in doc.get("services") or []:
            units = service.get("units")
            table.row([_date(service.get("date_of_service")), service.get("service_code"),
                       service.get("description"), "" if units is None else units,
                       service.get("diagnosis_pointers"), money(service["amount_cents"]),
                       money(service["paid_cents"])])
        if not table.rows:
            table.note("No services in this period")

    _totals(page, [("Total charged", money(doc["total_charged_cents"]), False)],
            ("Total paid", money(doc["total_paid_cents"])))
    _paragraph(page, "Service codes are CPT/HCPCS and diagnoses ICD-10; each service's Dx letters point to the "
                     "diagnoses above. To request reimbursement, send this superbill with your insurer's claim "
                     "form. " + _questions(practice))

    page.ensure_room(20)
    y = page.get_y() + 11
    page.rule(y, _BLACK, 0.2, x2=_MARGIN + 85)
    page.rule(y, _BLACK, 0.2, x1=_MARGIN + 100, x2=_MARGIN + 145)
    page.set_y(y + 0.5)
    page.write_line("Provider signature", width=85, height=4.2, size=8, color=_MUTED)
    page.set_y(y + 0.5)
    page.write_line("Date", width=45, height=4.2, size=8, color=_MUTED, x=_MARGIN + 100)
    return bytes(page.output())
