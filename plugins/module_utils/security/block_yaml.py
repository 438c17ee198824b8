# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fast reader for the YAML that manifests are written in: block mappings and sequences,
plain, quoted and block scalars, one-line flow collections, comments.

PyYAML builds every value through its Python constructor even with libyaml's parser, about
ten times slower than reading the same lines here; 5,000 Deployments must be audited in
well under three seconds. Whatever is outside that subset (anchors, aliases, tags, merge
keys, block scalars with indentation or keep indicators, folded ones with empty or more
indented lines, multi-line plain or quoted scalars, flow collections over several lines,
tabs, complex keys) raises :class:`Unsupported`, and the
caller reads the document with PyYAML instead, so a document reads the same either way:
plain scalars are resolved by PyYAML's own resolver and constructors (YAML 1.1: ``yes`` is
true, ``2027-03-31`` a date).
"""

from __future__ import annotations

import json
import re

try:
    import yaml
    from yaml.nodes import ScalarNode

    _RESOLVERS = yaml.SafeLoader.yaml_implicit_resolvers
    _CONSTRUCTOR = yaml.SafeLoader("")
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    HAS_YAML = False

_STR = "tag:yaml.org,2002:str"
_REFUSED_TAGS = frozenset(("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value", "tag:yaml.org,2002:yaml"))
# Characters that start something this reader leaves to PyYAML.
_INDICATORS = frozenset("&*!|>%@`,]}?")
_DECODER = json.JSONDecoder(strict=False)
_MEMO = {}
_MEMO_MAX = 200000
_LINE = re.compile(r"^( *)([^ \n#][^\n]*)", re.M)
# The first characters of a value that the quick path of mapping() leaves to scalar().
_NOT_PLAIN = frozenset("\"'[{#|>&*!%@`,]}?-:")


class Unsupported(Exception):
    """The document holds YAML outside the subset: read it with PyYAML."""


def plain(value):
    """A plain scalar as PyYAML's SafeLoader constructs it."""
    try:
        return _MEMO[value]
    except KeyError:
        pass
    tag = _STR
    for candidate, regexp in _RESOLVERS.get(value[0] if value else "", ()):
        if regexp.match(value):
            tag = candidate
            break
    if tag == _STR:
        result = value
    elif tag in _REFUSED_TAGS:
        raise Unsupported(value)
    else:
        result = _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, ScalarNode(tag, value))
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    _MEMO[value] = result
    return result


def _quoted(text, start):
    """``(value, end)`` of the quoted scalar at ``text[start]`` on one line."""
    quote = text[start]
    if quote == "'":
        pos = start + 1
        while True:
            end = text.find("'", pos)
            if end < 0:
                raise Unsupported("a single-quoted scalar over several lines")
            if text.startswith("''", end):
                pos = end + 2
                continue
            return text[start + 1 : end].replace("''", "'"), end + 1
    pos = start + 1
    while True:
        end = text.find('"', pos)
        if end < 0:
            raise Unsupported("a double-quoted scalar over several lines")
        backslashes = 0
        while text[end - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            break
        pos = end + 1
    inner = text[start + 1 : end]
    if "\\" in inner:
        try:
            inner = _DECODER.decode('"%s"' % inner)
        except ValueError:
            raise Unsupported("a YAML escape") from None
    return inner, end + 1


def _end_of_line(text, pos):
    rest = text[pos:].strip()
    if rest and not rest.startswith("#"):
        raise Unsupported("text after a quoted scalar or a flow collection")


def scalar(text):
    """The value of a node written on one line (``text`` stripped, not empty)."""
    first = text[0]
    if first in "\"'":
        value, end = _quoted(text, 0)
        _end_of_line(text, end)
        return value
    if first in "[{":
        value, end = _flow(text, 0)
        _end_of_line(text, end)
        return value
    if first == "#":
        return None
    if first in _INDICATORS or (first in "-:" and text[1:2] in ("", " ")):
        raise Unsupported(text)
    comment = text.find(" #")
    if comment >= 0:
        text = text[:comment].rstrip()
    if ": " in text or text.endswith(":"):
        raise Unsupported("a mapping where a scalar is expected")
    return plain(text)


def _skip(text, pos):
    while pos < len(text) and text[pos] == " ":
        pos += 1
    if pos >= len(text):
        raise Unsupported("a flow collection over several lines")
    return pos


def _flow(text, pos):
    """``(value, end)`` of the flow node at ``text[pos]``."""
    pos = _skip(text, pos)
    char = text[pos]
    if char == "[":
        items = []
        pos = _skip(text, pos + 1)
        while text[pos] != "]":
            value, pos = _flow(text, pos)
            items.append(value)
            pos = _skip(text, pos)
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
            elif text[pos] != "]":
                raise Unsupported("a flow sequence")
        return items, pos + 1
    if char == "{":
        mapping = {}
        pos = _skip(text, pos + 1)
        while text[pos] != "}":
            key, pos = _flow(text, pos)
            pos = _skip(text, pos)
            value = None
            if text[pos] == ":":
                pos = _skip(text, pos + 1)
                if text[pos] not in ",}":
                    value, pos = _flow(text, pos)
                    pos = _skip(text, pos)
            if isinstance(key, (dict, list)):
                raise Unsupported("a complex key")
            mapping[key] = value
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
            elif text[pos] != "}":
                raise Unsupported("a flow mapping")
        return mapping, pos + 1
    if char in "\"'":
        return _quoted(text, pos)
    if char in _INDICATORS or char in "#{[":
        raise Unsupported(text)
    end = pos
    length = len(text)
    while end < length:
        c = text[end]
        if c in ",[]{}" or (c == ":" and (end + 1 == length or text[end + 1] in " ,]}")):
            break
        if c == "#" and text[end - 1] == " ":
            raise Unsupported("a comment inside a flow collection")
        end += 1
    return plain(text[pos:end].rstrip()), end


class _Reader:
    def __init__(self, chunk):
        if "\t" in chunk or "\r" in chunk:
            raise Unsupported("tabs or carriage returns")
        self.chunk = chunk
        # [indent, content, offset of its line] of each line that holds more than a comment
        tokens = [[len(m.group(1)), m.group(2).rstrip(" "), m.start()] for m in _LINE.finditer(chunk)]
        if tokens and tokens[0][2] == 0 and tokens[0][1].startswith("---"):
            rest = tokens[0][1][3:].strip()
            if rest and not rest.startswith("#"):
                raise Unsupported("content on the document's marker line")
            del tokens[0]
        self.tokens = tokens
        self.count = len(tokens)

    def read(self):
        if not self.tokens:
            return None
        first = self.tokens[0]
        if first[1][0] in "[{" and self.count == 1:
            return scalar(first[1])  # a flow collection on one line (JSON, for one)
        if not self._starts_collection(first[1]):
            raise Unsupported("a document that is not a mapping or a sequence")
        value, pos = self.node(0, first[0])
        if pos < self.count:
            raise Unsupported("text after the document's root node")
        return value

    @staticmethod
    def _starts_collection(content):
        return content == "-" or content.startswith("- ") or _Reader._is_key(content)

    @staticmethod
    def _is_key(content):
        first = content[0]
        if first in "\"'":
            end = _quoted(content, 0)[1]
            return content[end:].lstrip().startswith(":")
        if first in "[{#" or first in _INDICATORS:
            return False
        comment = content.find(" #")
        if comment >= 0:
            content = content[:comment]
        return ": " in content or content.endswith(":")

    def node(self, pos, indent):
        content = self.tokens[pos][1]
        if content == "-" or content.startswith("- "):
            return self.sequence(pos, indent)
        return self.mapping(pos, indent)

    def value(self, pos, indent, text, in_sequence=False):
        """The value after a key or a dash on token ``pos`` (``text``, stripped, may be
        empty) of a node at ``indent`` -> (value, next token). A mapping's value may be a
        sequence at the mapping's own indent; a sequence's next item is not a value."""
        if text and text[0] != "#":
            if text[0] in "|>":
                return self.literal(pos, indent, text)
            return scalar(text), pos + 1
        following = pos + 1
        if following < self.count:
            next_indent, next_content = self.tokens[following][0], self.tokens[following][1]
            if next_indent > indent:
                return self.node(following, next_indent)
            if (
                not in_sequence
                and next_indent == indent
                and (next_content == "-" or next_content.startswith("- "))
            ):
                return self.sequence(following, indent)
        return None, following

    def mapping(self, pos, indent):
        result = {}
        tokens = self.tokens
        while pos < self.count:
            token = tokens[pos]
            if token[0] < indent:
                break
            if token[0] > indent:
                raise Unsupported("a line indented deeper than its mapping (a multi-line scalar?)")
            content = token[1]
            if content[0] in "\"'":
                key, end = _quoted(content, 0)
                rest = content[end:].lstrip()
                if not rest.startswith(":"):
                    raise Unsupported("a quoted scalar where a key is expected")
                rest = rest[1:].strip()
            else:
                if content[0] in _INDICATORS or content[0] in "[{-":
                    raise Unsupported(content)
                split = content.find(": ")
                if split < 0:
                    if not content.endswith(":"):
                        raise Unsupported("a scalar where a key is expected")
                    key, rest = content[:-1].rstrip(), ""
                else:
                    key, rest = content[:split].rstrip(), content[split + 2 :].strip()
                if not key or " #" in key:
                    raise Unsupported("an empty key, or a comment inside a key")
                try:
                    key = _MEMO[key]
                except KeyError:
                    key = plain(key)
            if (
                rest
                and rest[0] not in _NOT_PLAIN
                and " #" not in rest
                and ": " not in rest
                and rest[-1] != ":"
            ):
                # the common case, a plain scalar: what scalar() would do, without the calls
                try:
                    result[key] = _MEMO[rest]
                except KeyError:
                    result[key] = plain(rest)
                pos += 1
                continue
            result[key], pos = self.value(pos, indent, rest)
        return result, pos

    def sequence(self, pos, indent):
        items = []
        tokens = self.tokens
        while pos < self.count:
            token = tokens[pos]
            if token[0] < indent:
                break
            if token[0] > indent:
                raise Unsupported("a line indented deeper than its sequence")
            content = token[1]
            if content == "-":
                rest = ""
            elif content.startswith("- "):
                rest = content[2:].lstrip(" ")
            else:
                break  # the mapping around this sequence goes on
            if rest and self._starts_collection(rest):
                # "- key: value" or "- - x": a node whose first line starts after the dash
                column = indent + len(content) - len(rest)
                token[0], token[1] = column, rest
                value, pos = self.node(pos, column)
            else:
                value, pos = self.value(pos, indent, rest, in_sequence=True)
            items.append(value)
        return items, pos

    def literal(self, pos, indent, header):
        """A block scalar (``|``, ``|-``; ``>``, ``>-`` of plain lines) below token ``pos``."""
        comment = header.find(" #")
        indicator = (header[:comment] if comment >= 0 else header).strip()
        if indicator not in ("|", "|-", ">", ">-"):
            raise Unsupported("a block scalar header with an indentation or keep indicator")
        chunk = self.chunk
        start = chunk.find("\n", self.tokens[pos][2]) + 1
        raw = chunk[start:].split("\n") if start else []
        lines = []
        block = None
        end = 0
        while end < len(raw):
            line = raw[end]
            stripped = line.lstrip(" ")
            spaces = len(line) - len(stripped)
            if not stripped:
                if block is not None and spaces > block:
                    raise Unsupported("spaces on an empty line of a block scalar")
                lines.append("")
                end += 1
                continue
            if spaces <= indent:
                break
            if block is None:
                block = spaces
                if lines:
                    raise Unsupported("a block scalar that starts with empty lines")
            elif spaces < block:
                raise Unsupported("a block scalar line indented less than its first")
            lines.append(line[block:])
            end += 1
        while lines and lines[-1] == "":
            lines.pop()
        if indicator[0] == ">":
            # folded: only the simple case, lines of one indentation without empty ones
            if any(not line or line[0] == " " for line in lines):
                raise Unsupported("a folded block scalar with empty or more indented lines")
            text = " ".join(lines)
        else:
            text = "\n".join(lines)
        if text and len(indicator) == 1:
            text += "\n"
        end_offset = start + sum(len(line) + 1 for line in raw[:end])
        following = pos + 1
        while following < self.count and self.tokens[following][2] < end_offset:
            following += 1
        return text, following


def load(chunk):
    """The document in ``chunk`` (one document, which may start with its ``---`` marker),
    or :class:`Unsupported` when it holds YAML outside the subset."""
    return _Reader(chunk).read()
