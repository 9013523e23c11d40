"""Streaming XML for the workbook readers: the standard library's expat, fed in blocks, with
entity declarations and external entities refused (what defusedxml does, without building an
element per node: expat's callbacks are about twice as fast as ``iterparse``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO
from xml.parsers import expat

#: Bytes of XML handed to expat at a time.
FEED_BYTES = 1024 * 1024


class UnsafeXml(ValueError):
    """The XML declares entities (a billion-laughs bomb, or an external file)."""


def _forbid(*_args: object) -> None:
    raise UnsafeXml("entity declarations are not allowed")


def xml_parser(
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None],
    text: Callable[[str], None],
) -> expat.XMLParserType:
    """An expat parser calling ``start(name, attrs)``, ``end(name)`` and ``text(data)``
    (no namespace processing: names keep their prefix, e.g. ``table:table-cell``)."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid  # type: ignore[assignment]
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def feed(parser: expat.XMLParserType, stream: IO[bytes]) -> None:
    """All of ``stream`` through ``parser``, a block at a time."""
    while chunk := stream.read(FEED_BYTES):
        parser.Parse(chunk, False)
    parser.Parse(b"", True)
