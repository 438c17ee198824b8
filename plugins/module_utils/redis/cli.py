# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``redis-cli`` inside the cache's pod, as argument lists, and what its answers mean. Pure.

The password is the pod's own and goes in ``REDISCLI_AUTH`` (never ``-a``, which shows it in
the process list): already set in the container's environment, or copied there from
``REDIS_PASSWORD`` (the variable images such as Bitnami's use). On a real Redis pod
``redis-cli`` reaches the server on localhost:6379; a pod whose server is elsewhere (the
emulator's, where exec runs on the test machine) names it with ``REDISCLI_HOST`` and
``REDISCLI_PORT``, a convention of this collection that the fixed script below turns into
``-h``/``-p`` (redis-cli itself reads no host from its environment; ``REDIS_PORT`` is not used
because Kubernetes sets it to ``tcp://...`` in every pod of a namespace with a Service called
``redis``).
"""

from __future__ import annotations

import json

# A fixed script: redis-cli's arguments are the positional parameters, never interpolated.
CLI_SCRIPT = (
    'if [ -z "${REDISCLI_AUTH:-}" ] && [ -n "${REDIS_PASSWORD:-}" ]; then '
    'REDISCLI_AUTH="$REDIS_PASSWORD"; export REDISCLI_AUTH; fi; '
    'exec redis-cli ${REDISCLI_HOST:+-h "$REDISCLI_HOST"} ${REDISCLI_PORT:+-p "$REDISCLI_PORT"} "$@"'
)


def cli_argv(*args):
    """``redis-cli ARGS`` as it runs in the pod."""
    return ["sh", "-c", CLI_SCRIPT, "sh"] + [str(a) for a in args]


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


def _first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def parse_ping(exit_code, stdout, stderr):
    """``{ok, error}`` of ``redis-cli PING``: ok only on ``PONG`` (redis-cli exits 0 on an
    error reply such as ``NOAUTH``, so the reply decides, not the exit code)."""
    out = _text(stdout).strip()
    if out == "PONG":
        return {"ok": True, "error": None}
    reason = _first_line(out) or _first_line(_text(stderr)) or "exit code %s" % exit_code
    return {"ok": False, "error": "PING: %s" % reason}


def reply_error(exit_code, stdout, stderr):
    """The error of a redis-cli command whose reply should be data (INFO): None when it is."""
    out = _text(stdout).strip()
    if exit_code == 0 and out and not out.startswith(("ERR", "NOAUTH", "WRONGPASS", "NOPERM", "LOADING")):
        return None
    return _first_line(out) or _first_line(_text(stderr)) or "exit code %s" % exit_code


def parse_json_reply(exit_code, stdout, stderr):
    """``(reply, error)`` of a ``redis-cli --json`` command (redis-cli 7 and later): the reply
    as JSON, or None and why there is none."""
    problem = reply_error(exit_code, stdout, stderr)
    if problem:
        if "json" in problem.lower() and "unrecognized" in problem.lower():
            problem += " (redis-cli 7 or later is needed for --json)"
        return None, problem
    try:
        return json.loads(_text(stdout)), None
    except ValueError as exc:
        return None, "not JSON: %s" % exc
