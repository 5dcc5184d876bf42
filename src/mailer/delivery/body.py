"""The two text parts, quoted-printable encoded once per issue between their merge fields.

Encoding the text between merge fields once works because every piece ends in a soft line break
(``=`` CRLF), so the next piece, encoded on its own, starts at column 0 whatever came before.
Per subscriber only the merge values are encoded, and the body is a list of pieces to join.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

from mailer.compose.merge import FillIn, lf_line_ends
from mailer.delivery.headers import CRLF

QP_LINE = 76  # RFC 2045 6.7: quoted-printable lines, including a soft break's "="

# b2a_qp writes trailing whitespace as =20 after deciding where to break the line, which can
# leave 77 or 78 characters: break such a line once more, before the =20.
_OVERLONG_QP_LINE = re.compile(rb"(?m)^([^\n]{74,75})(=20|=09)$")


def as_body(text: str) -> str:
    """Line ends as ``\\n`` and one at the end: what the part decodes to (as with set_content)."""
    text = lf_line_ends(text)
    return text if text.endswith("\n") else text + "\n"


def _quoted_printable(text: str, *, open_end: bool) -> bytes:
    """``text`` quoted-printable with CRLF line ends and no line over 76 characters.

    With ``open_end`` the result ends in a soft line break, so a next piece encoded on its own
    starts at column 0 and the pieces join into one correct body.
    """
    if not text:
        return b""
    if open_end and text.isascii() and text.isprintable() and " " not in text:
        return _soft_wrapped(text)  # the usual value: a name, a link
    data = lf_line_ends(text).encode("utf-8")  # a bare CR would pass b2a_qp unencoded
    if open_end:
        # A character after the end stops b2a_qp filling the last line to 76 (no room left for
        # the "=") and encoding a trailing space; before a soft break a space may stay.
        encoded = binascii.b2a_qp(data + b"!", istext=True)[:-1] + b"=\n"
    else:
        encoded = binascii.b2a_qp(data, istext=True)
    if b"=20\n" in encoded or b"=09\n" in encoded:
        encoded = _OVERLONG_QP_LINE.sub(rb"\1=\n\2", encoded)
    return encoded.replace(b"\n", b"\r\n")


def _soft_wrapped(text: str) -> bytes:
    """``text`` (printable ASCII, no space) quoted-printable as b2a_qp writes it, ending in a
    soft line break, at half its cost: only ``=`` is encoded (``=3D``), and the lines are cut at
    75 characters, never inside an ``=3D``."""
    encoded = text.replace("=", "=3D")
    lines = []
    start = 0
    while len(encoded) - start >= QP_LINE:
        end = start + QP_LINE - 1
        cut = encoded.find("=", end - 2, end)
        if cut != -1:
            end = cut
        lines.append(encoded[start:end])
        start = end
    lines.append(encoded[start:])
    return ("=\r\n".join(lines) + "=\r\n").encode("ascii")


class EncodedBody:
    """A part's text quoted-printable encoded once, between its merge fields."""

    __slots__ = ("_fill_in", "_first", "_pieces")

    def __init__(self, fill_in: FillIn) -> None:
        literals = fill_in.parts[::2]
        encoded = [_quoted_printable(text, open_end=True) for text in literals[:-1]]
        encoded.append(_quoted_printable(literals[-1], open_end=False))
        self._fill_in = fill_in
        self._first = encoded[0]
        self._pieces = encoded[1:]

    def encode(self, values: Mapping[str, str], encoded: dict[str, bytes]) -> list[bytes]:
        """The encoded body for one subscriber, as pieces to join.

        ``encoded`` remembers each value's encoding for the message's other part: the same
        value often stands in several places, in both parts.
        """
        out = [self._first]
        for value, literal in zip(self._fill_in.filled_values(values), self._pieces, strict=True):
            piece = encoded.get(value)
            if piece is None:
                piece = encoded[value] = _quoted_printable(value, open_end=True)
            out.append(piece)
            out.append(literal)
        return out


def base64_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")  # 76-character lines


def part_head(content_type: str) -> str:
    return (
        f"Content-Type: {content_type}; charset=utf-8{CRLF}"
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
    )
