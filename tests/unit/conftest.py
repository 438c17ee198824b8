"""The unit tests' shared helpers (``fakes``, ``factories``) live beside this file: every unit test module,
whatever its directory, imports them as ``import fakes``."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
