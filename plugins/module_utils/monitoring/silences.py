# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alertmanager silences for the changes a runbook makes: what to ask for (pure) and the
runner of multiagent.ops.alertmanager_silence over an Alertmanager API (alertmanager_client).

A silence a runbook creates carries a *key* (the lock it was taken under) at the start of its
comment, ``[maops:<key>] ...``. That is its record in Alertmanager itself: the run that
created it expires it by id when it ends, and any later run under the same key expires what an
earlier run left (a run killed before its end), so a forgotten silence never outlives the next
run, and never its own ``endsAt``, which the runbooks set to the lock's expiry."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import alertmanager_client

CREATED_BY = "multiagent.ops"
LIVE = ("active", "pending")
# endsAt differences below this are the API's rounding, not a change.
SLACK = timedelta(seconds=1)
_KEY = re.compile(r"^\[maops:([^\]]+)\]")


def matchers_of(spec):
    """Alertmanager matchers from ``{label: value}`` or a list of ``{name, value, regex,
    equal}``, sorted so that two equal sets compare equal."""
    if isinstance(spec, dict):
        spec = [{"name": k, "value": v} for k, v in spec.items()]
    if not spec:
        raise ValueError(
            "matchers: at least one is needed (a silence without matchers would mute everything)"
        )
    out = []
    for i, m in enumerate(spec):
        if not isinstance(m, dict) or not str(m.get("name") or "").strip():
            raise ValueError("matchers[%d]: needs a label name, got %r" % (i, m))
        value = "" if m.get("value") is None else str(m["value"])
        regex = bool(m.get("regex", m.get("isRegex", False)))
        if regex:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(
                    "matchers[%d] (%s): %s is not a valid regular expression: %s" % (i, m["name"], value, exc)
                )
        out.append(
            {
                "name": str(m["name"]),
                "value": value,
                "isRegex": regex,
                "isEqual": bool(m.get("equal", m.get("isEqual", True))),
            }
        )
    if all(not m["isRegex"] and m["value"] == "" and m["isEqual"] for m in out):
        raise ValueError("matchers: every matcher is an empty value; name the alerts to silence")
    return canonical(out)


def canonical(matchers):
    """Matchers as Alertmanager returns them, in one order and shape (no validation)."""
    out = [
        {
            "name": str(m.get("name", "")),
            "value": str(m.get("value", "")),
            "isRegex": bool(m.get("isRegex", False)),
            "isEqual": bool(m.get("isEqual", True)),
        }
        for m in matchers or []
    ]
    return sorted(out, key=lambda m: (m["name"], m["value"], m["isRegex"], m["isEqual"]))


def parse_time(text):
    """An RFC 3339 time (Alertmanager's, or the Lease's expires_at) as an aware datetime."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    value = str(text).strip().replace("Z", "+00:00")
    # Alertmanager writes nanoseconds; datetime takes microseconds.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("%r is not an RFC 3339 time" % text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def stamp(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def key_of(silence):
    match = _KEY.match(silence.get("comment") or "")
    return match.group(1) if match else None


def tagged(comment, key):
    return "[maops:%s] %s" % (key, comment) if key else comment


def ends_at(params, now):
    """When the silence ends: ``ends_at``, else ``now + duration``; never in the past."""
    if params.get("ends_at"):
        end = parse_time(params["ends_at"])
    elif params.get("duration"):
        end = now + timedelta(seconds=float(params["duration"]))
    else:
        raise ValueError("state=present needs ends_at or duration")
    if end <= now:
        raise ValueError("ends_at %s is not in the future (now %s)" % (stamp(end), stamp(now)))
    return end


def plan_present(silences, matchers, comment, created_by, key, end):
    """What to do for state=present: ``(keep_or_update, to_expire)`` where the first is the
    live silence of ours with these matchers and comment (or None: create one), and the second
    the live silences of the same key that are not it (left by an earlier run)."""
    mine, stale = None, []
    for s in silences:
        if (s.get("status") or {}).get("state") not in LIVE:
            continue
        same = canonical(s.get("matchers"))
        if (
            mine is None
            and same == matchers
            and s.get("comment") == comment
            and s.get("createdBy") == created_by
        ):
            mine = s
        elif key and key_of(s) == key:
            stale.append(s)
    return mine, stale


def summary(silence):
    return {
        "id": silence.get("id"),
        "state": (silence.get("status") or {}).get("state"),
        "matchers": silence.get("matchers"),
        "starts_at": silence.get("startsAt"),
        "ends_at": silence.get("endsAt"),
        "comment": silence.get("comment"),
        "created_by": silence.get("createdBy"),
    }


def run(request, api=None, now=None):
    """The runner of multiagent.ops.alertmanager_silence (``api``: an AlertmanagerClient, by
    default one for the module's connection options)."""
    p = request.params
    if api is None:
        try:
            api = alertmanager_client.connect(p)
        except (OSError, ValueError) as exc:  # a certificate or key that does not load
            raise OpsError(
                nothing_changed("alertmanager_silence: cannot set up TLS for %s: %s" % (p["url"], exc)),
                changed=False,
            )
    now = now or datetime.now(UTC)
    if p["state"] == "present":
        return _present(request, api, now)
    return _expired(request, api)


def _fail(action, exc, **result):
    raise OpsError("Failed to %s: %s" % (action, exc), **result)


def _present(request, api, now):
    p = request.params
    try:
        matchers = matchers_of(p["matchers"])
        end = ends_at(p, now)
    except ValueError as exc:
        raise OpsError(nothing_changed("alertmanager_silence: %s" % exc), changed=False)
    comment = tagged(p["comment"], p.get("key"))
    try:
        silences = api.silences()
    except Exception as exc:  # noqa: BLE001 - the client names the server and the cause
        _fail("list the silences at %s" % api.url, exc, changed=False)
    mine, stale = plan_present(silences, matchers, comment, p["created_by"], p.get("key"), end)
    body = {
        "matchers": matchers,
        "startsAt": stamp(now),
        "endsAt": stamp(end),
        "createdBy": p["created_by"],
        "comment": comment,
    }
    result = {"changed": False, "expired": [s["id"] for s in stale]}
    if mine is not None and abs(parse_time(mine["endsAt"]) - end) <= SLACK:
        result["silence"] = summary(mine)
    else:
        if mine is not None:
            body.update(id=mine["id"], startsAt=mine["startsAt"])
        result["changed"] = True
        if request.check_mode:
            result["silence"] = summary(dict(body, id=mine and mine["id"], status={"state": "active"}))
        else:
            try:
                body["id"] = api.create(body)
            except Exception as exc:  # noqa: BLE001 - the client names the server and the cause
                _fail("create the silence %s at %s" % (comment, api.url), exc, changed=False)
            result["silence"] = summary(dict(body, status={"state": "active"}))
    if stale:
        result["changed"] = True
        if not request.check_mode:
            _expire_all(api, [s["id"] for s in stale], result)
    if request.diff:
        result["diff"] = {
            "before": {"silence": summary(mine) if mine else None, "live_of_key": [s["id"] for s in stale]},
            "after": {"silence": result["silence"], "live_of_key": []},
        }
    return result


def _expire_all(api, ids, result):
    for i, sid in enumerate(ids):
        try:
            api.expire(sid)
        except Exception as exc:  # noqa: BLE001 - the client names the server and the cause
            _fail("expire the silence %s at %s" % (sid, api.url), exc, expired_done=ids[:i], **result)


def _expired(request, api):
    """Expire the silences named by id, and the live ones of ``key``."""
    p = request.params
    ids, key = list(p.get("id") or []), p.get("key")
    if not ids and not key:
        raise OpsError(nothing_changed("alertmanager_silence: state=expired needs id or key"), changed=False)
    try:
        silences = api.silences()
    except Exception as exc:  # noqa: BLE001 - the client names the server and the cause
        _fail("list the silences at %s" % api.url, exc, changed=False)
    live = {s["id"]: s for s in silences if (s.get("status") or {}).get("state") in LIVE}
    wanted = [sid for sid in ids if sid in live]
    wanted += [sid for sid, s in live.items() if key and key_of(s) == key and sid not in wanted]
    result = {
        "changed": bool(wanted),
        "expired": wanted,
        "already_gone": [sid for sid in ids if sid not in live],
    }
    if wanted and not request.check_mode:
        _expire_all(api, wanted, result)
    if request.diff:
        result["diff"] = {"before": {"live": sorted(wanted)}, "after": {"live": []}}
    return result
