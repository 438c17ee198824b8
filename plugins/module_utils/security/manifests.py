# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manifests on disk: files and directories of YAML (multi-document) or JSON read into
Kubernetes objects, each with where it came from ({file, document, line}) so that a
finding can point at its line.

Documents are split at their ``---`` (and ``...``) markers first, which YAML forbids
inside a document at the start of a line, so each document's first line is known without
an event-level parse. Each is read by block_yaml (the subset manifests are written in, ten
times faster than PyYAML's constructor), else by PyYAML with libyaml (``yaml.CSafeLoader``)
where it has it. ``List`` kinds are unwrapped into their items. A document that is not a Kubernetes
object (no ``apiVersion`` and ``kind``) is skipped with a warning; YAML that cannot be read
is a :class:`ManifestError` naming the file and the line.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.multiagent.ops.plugins.module_utils.security import block_yaml

try:
    import yaml

    LOADER = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    HAS_YAML = False

EXTENSIONS = (".yaml", ".yml", ".json")
_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.M)
_CONTENT = re.compile(r"^[ \t]*[^\s#]", re.M)


class ManifestError(Exception):
    """A manifest (or waiver file) that cannot be read: the message names the file and line."""


def files_of(paths):
    """The manifest files of ``paths`` (files, or directories searched recursively for
    .yaml, .yml and .json files, hidden ones left out), in a stable order."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(
                    os.path.join(root, n)
                    for n in sorted(names)
                    if n.endswith(EXTENSIONS) and not n.startswith(".")
                )
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise ManifestError("Cannot read manifests from %s: no such file or directory" % path)
    return found


def _first_content(chunk):
    """The offset just after the first character of content of a document (its marker
    line's own content included), or None when it holds none."""
    start = 0
    if chunk.startswith("---"):
        newline = chunk.find("\n")
        rest = chunk[3:] if newline < 0 else chunk[3:newline]
        stripped = rest.lstrip()
        if stripped and stripped[0] != "#":
            return 3 + len(rest) - len(stripped) + 1
        if newline < 0:
            return None
        start = newline + 1
    content = _CONTENT.search(chunk, start)
    return None if content is None else content.end()


def documents(text):
    """``(index, first line, marker line, text)`` of each YAML document of ``text`` that
    holds anything: lines count from 1; the first line is the document's first line of
    content; a document's text starts on its marker's line, so that a line of an error
    within it (from 0) plus the marker's line is a line of the file."""
    chunks = []
    start, line, pending = 0, 1, ""
    for marker in _MARKER.finditer(text):
        chunks.append((line, text[start : marker.start()]))
        line += text.count("\n", start, marker.start())
        # a document keeps its "---" (a "..." ends the one before)
        start = marker.start() if text.startswith("---", marker.start()) else marker.end()
    chunks.append((line, text[start:]))
    index = 0
    out = []
    for number, (line, chunk) in enumerate(chunks):
        content = _first_content(chunk)
        if content is None:
            if number:  # an empty document between markers still counts, as YAML counts it
                index += 1
            continue
        if chunk[content - 1] == "%" and all(
            s.lstrip().startswith(("%", "#")) for s in chunk.splitlines() if s.strip()
        ):
            pending += chunk  # directives belong to the next document
            continue
        first = line + chunk.count("\n", 0, content)
        if pending:
            chunk = pending + chunk
            line -= pending.count("\n")
            pending = ""
        out.append((index, first, line, chunk))
        index += 1
    return out


def load(path, text, warn=None):
    """``[(object, source)]`` of the text of one manifest file."""
    if path.endswith(".json"):
        try:
            docs = [(0, 1, json.loads(text))]
        except ValueError as exc:
            raise ManifestError("Cannot read %s: not valid JSON: %s" % (path, exc)) from None
    else:
        if not HAS_YAML:
            raise ManifestError("Cannot read %s: the Python package PyYAML is needed" % path)
        docs = []
        for index, first, line, chunk in documents(text):
            try:
                try:
                    doc = block_yaml.load(chunk)
                except block_yaml.Unsupported:
                    doc = yaml.load(chunk, Loader=LOADER)  # noqa: S506 - a safe loader
                docs.append((index, first, doc))
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
                where = " line %d column %d" % (line + mark.line, mark.column + 1) if mark else ""
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                raise ManifestError(
                    "Cannot read %s%s: not valid YAML (%s)" % (path, where, problem)
                ) from None
    out = []
    skipped = []
    for index, first, doc in docs:
        source = {"file": path, "document": index, "line": first}
        if doc is None:
            continue
        if not (isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind")):
            skipped.append("document %d (line %d)" % (index, first))
            continue
        items = doc.get("items")
        if str(doc["kind"]).endswith("List") and isinstance(items, list):
            # the API's own lists (DeploymentList) leave kind and apiVersion out of their items
            kind = doc["kind"][:-4] if doc["kind"] != "List" else None
            for number, item in enumerate(items):
                if isinstance(item, dict) and not item.get("kind") and kind:
                    item = dict(item, kind=kind, apiVersion=doc["apiVersion"])
                if isinstance(item, dict) and item.get("kind"):
                    out.append((item, dict(source, item=number)))
            continue
        out.append((doc, source))
    if skipped and warn is not None:
        warn(
            "%s: skipped what is not a Kubernetes object (no apiVersion and kind): %s"
            % (path, ", ".join(skipped))
        )
    return out


def read(paths, warn=None):
    """``[(object, source)]`` of every manifest file of ``paths``."""
    out = []
    for path in files_of(paths):
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError("Cannot read %s: %s" % (path, exc)) from None
        out.extend(load(path, text, warn))
    return out


def read_waivers(path):
    """The waiver list of a YAML or JSON waiver file: a list, or a mapping with a
    ``waivers`` list."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=LOADER)  # noqa: S506 - a safe loader
    except OSError as exc:
        raise ManifestError("Cannot read the waiver file %s: %s" % (path, exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " line %d" % (mark.line + 1) if mark else ""
        raise ManifestError("Cannot read the waiver file %s%s: not valid YAML" % (path, where)) from None
    if isinstance(data, dict):
        data = data.get("waivers")
    if data is None:
        return []
    if not isinstance(data, list):
        raise ManifestError("The waiver file %s holds no list of waivers (nor a mapping with one)" % path)
    return data
