"""The rules of a secure message: what a subject, a body and an attachment may be, and what a file really is.

A file's type is read from its bytes (filetype, a maintained signature library), never believed from its name or
the Content-Type its sender claims: the extension must name a type we take, and the bytes must be that type. TXT
has no signature: it is taken when the bytes are UTF-8 text and look like nothing else."""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

import filetype

from services.messaging.domain.errors import AttachmentRefused, MessageInvalid

SUBJECT_MAX = 200
BODY_MAX = 20_000
MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
SNIFF_BYTES = 8192  # enough for filetype to see inside a DOCX's first zip entry

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# extension -> (the type filetype must find in the bytes, or None for text; the Content-Type we store and serve)
ACCEPTED: dict[str, tuple[str | None, str]] = {
    "pdf": ("pdf", "application/pdf"),
    "jpg": ("jpg", "image/jpeg"),
    "jpeg": ("jpg", "image/jpeg"),
    "png": ("png", "image/png"),
    "heic": ("heic", "image/heic"),
    "docx": ("docx", DOCX),
    "txt": (None, "text/plain; charset=utf-8"),
}
ACCEPTED_NAMES = "PDF, JPEG, PNG, HEIC, DOCX or TXT"
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')


def clean_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    if not subject:
        raise MessageInvalid("A subject is needed.", errors={"subject": ["Write a subject."]})
    if len(subject) > SUBJECT_MAX:
        raise MessageInvalid(f"The subject may be at most {SUBJECT_MAX} characters.",
                             errors={"subject": [f"At most {SUBJECT_MAX} characters."]})
    return subject


def clean_body(body: str) -> str:
    body = body.replace("\r\n", "\n").strip()
    if not body:
        raise MessageInvalid("A message needs some text.", errors={"body": ["Write a message."]})
    if len(body) > BODY_MAX:
        raise MessageInvalid(f"A message may be at most {BODY_MAX} characters.",
                             errors={"body": [f"At most {BODY_MAX} characters."]})
    return body


def check_count(count: int) -> None:
    if count > MAX_ATTACHMENTS:
        raise AttachmentRefused(f"A message may carry at most {MAX_ATTACHMENTS} attachments.",
                                errors={"attachments": [f"At most {MAX_ATTACHMENTS} files."]})


def safe_filename(name: str | None) -> str:
    """The name to keep and to offer on download: the last path part, no control or quoting characters."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    # format characters (U+202E right-to-left override and its kin) would show "fdp.exe" as "exe.pdf"
    name = "".join(c for c in name if unicodedata.category(c) != "Cf")
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    if not name:
        raise AttachmentRefused("Each attachment needs a file name.", errors={"attachments": ["A file has no name."]})
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 250 - len(ext)] + dot + ext) if dot else name[:255]
    return name


@dataclass(frozen=True)
class FileType:
    extension: str
    content_type: str


def sniff(filename: str, head: bytes) -> FileType:
    """The file's type from its first bytes, checked against its name's extension (AttachmentRefused else)."""
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    accepted = ACCEPTED.get(extension)
    if accepted is None:
        raise AttachmentRefused(f"{filename}: only {ACCEPTED_NAMES} files can be attached.",
                                errors={"attachments": [f"{filename}: not a {ACCEPTED_NAMES} file."]})
    expected, content_type = accepted
    if not head:
        raise AttachmentRefused(f"{filename} is empty.", errors={"attachments": [f"{filename}: empty file."]})
    found = filetype.guess(head)
    found_ext = found.extension if found else None
    if expected is None:
        ok = found_ext is None and _looks_like_text(head)
    else:
        ok = found_ext == expected
    if not ok:
        raise AttachmentRefused(f"{filename}: its content is not a {extension.upper()} file.",
                                errors={"attachments": [f"{filename}: the content does not match .{extension}."]})
    return FileType(extension, content_type)


_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 12, 13)) + b"\x7f"


def _has_control(data: bytes) -> bool:
    return len(data.translate(None, _CONTROL)) != len(data)  # in C: a 10 MB file in milliseconds


def _looks_like_text(head: bytes) -> bool:
    """UTF-8 with no control characters but tab, line breaks and form feed: what a binary (a renamed executable
    too short for its signature, say) never is."""
    if _has_control(head):
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a character cut at the end is fine
    except UnicodeDecodeError:
        return False
    return True


def check_whole(filename: str, kind: FileType, stream: BinaryIO) -> None:
    """What the first bytes cannot tell: a TXT is text to its last byte; a DOCX is a Word document (the parts a
    .docx has, and no macros: a .docm renamed is refused)."""
    if kind.extension == "txt":
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while piece := stream.read(1024 * 1024):
                if _has_control(piece):
                    raise ValueError("a control character")
                decoder.decode(piece)
            decoder.decode(b"", final=True)
        except ValueError:  # UnicodeDecodeError included
            raise _not_a(filename, "txt") from None
    elif kind.extension == "docx":
        try:
            names = set(zipfile.ZipFile(stream).namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            raise _not_a(filename, "docx") from None
        if not {"[Content_Types].xml", "word/document.xml"} <= names or any(
                n.lower().endswith("vbaproject.bin") for n in names):
            raise _not_a(filename, "docx")


def _not_a(filename: str, extension: str) -> AttachmentRefused:
    return AttachmentRefused(f"{filename}: its content is not a {extension.upper()} file.",
                             errors={"attachments": [f"{filename}: the content does not match .{extension}."]})


def check_size(filename: str, size: int) -> None:
    if size > MAX_ATTACHMENT_BYTES:
        raise AttachmentRefused(f"{filename} is larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB.",
                                errors={"attachments": [f"{filename}: larger than 10 MB."]})
