# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes resource quantities (``250m``, ``1.5``, ``512Mi``, ``2G``, ``1e3``) as numbers."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse_quantity(value):
    """A quantity string -> Decimal in base units; ValueError names the bad input."""
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    text = str(value).strip()
    match = _RE.match(text)
    if not match:
        raise ValueError("'%s' is not a Kubernetes quantity" % value)
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
    except InvalidOperation:
        raise ValueError("'%s' is not a Kubernetes quantity" % value)
    factor = _BINARY.get(suffix) or _DECIMAL[suffix]
    return base * factor


def parse_cpu(value):
    """CPU quantity -> cores as float (``250m`` -> 0.25)."""
    return float(parse_quantity(value))


def parse_memory(value):
    """Memory quantity -> bytes as int (``512Mi`` -> 536870912)."""
    return int(parse_quantity(value))
