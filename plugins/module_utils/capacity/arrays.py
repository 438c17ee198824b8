# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""numpy, for the capacity and cost reports' arithmetic over a month of samples.

A declared requirement (requirements.txt), imported here once: where it is missing,
``numpy`` is None and ``IMPORT_ERROR`` says why, so that the modules' glue fails with
Ansible's message for a missing library (it names the host and the Python) instead of a
traceback, and so that the collection's other modules, which do not need numpy, load
without it.
"""

from __future__ import annotations

__all__ = ["IMPORT_ERROR", "numpy"]

try:
    import numpy
except ImportError as _exc:
    numpy = None
    IMPORT_ERROR = _exc
else:
    IMPORT_ERROR = None
