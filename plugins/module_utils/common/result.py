# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The contract between a module and its runner, and the words every module uses.

A runner (the logic behind a module, in its domain package) gets a :class:`Request`: the
validated options, check and diff mode, and two callbacks, to warn and to have values
masked in anything the task returns. It returns the task's result (a dict with
``changed``), or raises :class:`OpsError` with the message and the result so far. Only a
package's ``module.py`` turns the two into Ansible's exit_json and fail_json.

``changed`` is true exactly when something persisted: a check-mode run reports what it
would change, and a run that failed after a write says so.
"""

from __future__ import annotations

NOTHING_CHANGED = "nothing was changed"


def nothing_changed(message):
    """``message`` ended by the one phrase that says a failure changed nothing."""
    return "%s; %s" % (message.rstrip(" ;."), NOTHING_CHANGED)


class OpsError(Exception):
    """A runner's failure: ``msg`` names the object, the action and the cause; ``result``
    is what the task returns beside it (what was done, what was not)."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.msg = msg
        self.result = result


class Request:
    """What a runner is given: ``params`` (validated options), ``check_mode``, ``diff``,
    ``warn(text)``, ``deprecate(text, version)`` and ``mask(values)`` (strings Ansible must
    star out in the result)."""

    def __init__(self, params, check_mode=False, diff=False, warn=None, mask=None, deprecate=None):
        self.params = params
        self.check_mode = check_mode
        self.diff = diff
        self.warnings = []
        self.deprecations = []
        self.masked = set()
        self._warn = warn
        self._mask = mask
        self._deprecate = deprecate

    def warn(self, text):
        self.warnings.append(text)
        if self._warn is not None:
            self._warn(text)

    def deprecate(self, text, version):
        """A deprecated option or value was used; it goes away in ``version`` of the collection."""
        self.deprecations.append((text, version))
        if self._deprecate is not None:
            self._deprecate(text, version)

    def mask(self, values):
        values = set(values)
        self.masked |= values
        if self._mask is not None:
            self._mask(values)
