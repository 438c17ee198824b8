# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain data out of what a filter is given.

ansible-core 2.19 hands a filter its input as lazy containers, which check every value they
give out for templates: a renderer that reads the platform's description many times over pays
for each read (0.75 s for MPLP's manifests, 0.2 s for its alert rules; 2-10 ms on plain data).
The filters make their input plain once, then work on dicts and lists. Scalars are kept as they
are (an unsafe string stays unsafe).
"""

from __future__ import annotations


def plain(value):
    """``value`` as plain dicts, lists and scalars (mappings become dicts, sequences that are
    not strings become lists)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def plain_arguments(args, kwargs):
    """A filter's ``(args, kwargs)``, every one plain."""
    return tuple(plain(a) for a in args), {key: plain(v) for key, v in kwargs.items()}
