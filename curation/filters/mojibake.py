"""Drops records with broken text encoding: U+FFFD or UTF-8 read as Latin-1/cp1252 (recipe key `mojibake`).

    filters: {mojibake: {max_replacement_chars: 0, max_mojibake: 0}}

Looks at every message of the record. More than `max_replacement_chars` U+FFFD characters →
"replacement_char". More than `max_mojibake` mojibake sequences → "mojibake". A mojibake sequence is
what a UTF-8 multi-byte character becomes when its bytes are decoded as cp1252/Latin-1: a lead char
(Ã, Â, Ð, ...) followed by continuation chars (cp1252's decoding of bytes 0x80-0xBF: €, ™, ©, ¼, ...),
e.g. "Ã©" (é), "â€™" (’), "Ð¿" (п), "ä½ å¥½" (你好), "ðŸ˜€" (😀). Leads that are common letters on their
own (é, à, ð) need the full 2-3 continuation chars, so real accented text («café», «voilà…»), CJK and
emoji are never flagged.
"""

from __future__ import annotations

import re

from mixlab.schema import conversations

from .base import ChatFilter

REPLACEMENT_CHAR = "\ufffd"


def cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are undefined in cp1252; Latin-1 maps them
        return bytes([byte]).decode("latin-1")


# a continuation byte 0x80-0xBF as cp1252 shows it, or as Latin-1 does (C1 controls for 0x80-0x9F)
CONTINUATION = "[" + re.escape("".join(cp1252_char(b) for b in range(0x80, 0xC0))) + "\u0080-\u00bf]"
MOJIBAKE = re.compile(
    # 2-byte UTF-8 (Latin-1 supplement, Latin extended, Greek, Cyrillic, Arabic) whose lead is rarely
    # followed by these symbols in real text
    f"[ÂÃÄÅÎÏÐÑØÙ]{CONTINUATION}"
    # 3-byte: general punctuation (’ “ ” – …) starts "â€" (or "â\x80"); others (CJK) need two garbled
    # chars in a row
    f"|â[€\u0080-\u009f]|(?:[\u00e0-\u00ef]{CONTINUATION}{{2}}){{2}}"
    # 4-byte (emoji): ð + three continuation chars
    f"|ð{CONTINUATION}{{3}}"
)


class MojibakeFilter(ChatFilter):
    """Replacement characters → "replacement_char"; UTF-8-as-cp1252 sequences → "mojibake"."""

    name = "mojibake"

    def __init__(self, max_replacement_chars: int = 0, max_mojibake: int = 0, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.max_replacement_chars = max_replacement_chars
        self.max_mojibake = max_mojibake

    def check(self, record: dict) -> bool | tuple[bool, str]:
        text = "\n".join(m["content"] or "" for conv in conversations(record) for m in conv)
        if text.isascii():  # both signs are non-ASCII characters
            return True
        if text.count(REPLACEMENT_CHAR) > self.max_replacement_chars:
            return False, "replacement_char"
        if len(MOJIBAKE.findall(text)) > self.max_mojibake:
            return False, "mojibake"
        return True
