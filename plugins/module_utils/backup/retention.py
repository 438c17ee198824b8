# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retention of backups in a location: which to keep, which to delete, and why.

A backup is an archive plus ``<archive>.manifest.json`` beside it (see artifact.py); it
counts only when its manifest is stored. Only names the backup modules write are taken for
backups: ``<prefix>-<YYYYmmddTHHMMSSZ>`` and an archive extension of theirs
(artifact.ARCHIVE_KINDS), or that plus ``.manifest.json``. Backups are grouped by the
manifest's ``(kind, target)`` and the name's prefix, so two series of one database (named
``prod-...`` and ``staging-...``, or an hourly and a nightly job) are judged apart; each
group is judged on its own.

**States.** *verified*: the manifest is complete (artifact.manifest_problems) and the
archive's size and SHA-256 match it. *complete*: the manifest is complete and the stored
size matches, the content was not hashed. *incomplete*: an archive without a manifest, a
manifest that is incomplete or unreadable, a manifest whose archive is gone, a size or
checksum that does not match. Hashing a big archive costs a full read, so verification
is lazy: in each group the complete backups are hashed newest first until one verifies
(``verify="all"`` hashes every one). That one is the group's *newest verified* backup;
older backups are judged by manifest and size. A backup that fails its hash is
incomplete.

**Policy** (``select``, a pure function). ``keep_last`` keeps the N newest;
``keep_daily``/``keep_weekly``/``keep_monthly``/``keep_yearly`` keep the newest backup of
each of the last N days / ISO weeks / months / years that have one (periods in the
policy's IANA time zone, UTC by default); a backup is kept when any rule selects it.
``max_age_days`` removes every backup taken more than D x 24 h before now from all rules;
given alone it keeps everything younger (the seeds' ``find -mtime +7 -delete`` is
``max_age_days: 7``). Only verified and complete backups fill the slots. A backup's
time is the manifest's ``started`` (the moment the data was read), else the time in its
name, else its stored modification time; equal times are ordered by name.

**Invariants.** The newest verified backup of a group is never deleted, whatever the
policy says, and neither is the current backup. A group without any verified backup
loses nothing to the policy. When the current backup failed (said so, or its manifest
is missing, incomplete or does not match the archive) nothing at all is deleted.
Incomplete backups never fill slots; they are reported and only removed when asked,
and only once every file of theirs is older than a grace period (a backup being
written has no manifest yet). The temporary file a killed backup leaves in a directory
(``.<archive>.<random>.partial``) is such an incomplete backup. Files whose names are not
backup names are not ours: they are listed as ignored and never touched; so are symbolic
links and other entries that are not regular files, and a backup with such an entry for
its archive or manifest is left alone.

**Clock skew.** A backup dated more than FUTURE_TOLERANCE after the run's clock (its
host's clock was ahead, or this one is behind) is kept, reported and left out of the
policy: it neither fills a slot nor counts as the newest verified backup, so it cannot
push the real backups out.

**Deleting** removes the archive first, then its manifest. A crash in between leaves a
manifest whose archive is gone: a few hundred bytes that the next run reports as
incomplete ("archive missing") and removes under the same rule as other incomplete
backups. The other order would leave an archive without a manifest, which cannot be
told apart from a backup still being written and would keep its full size until the
grace period passes.

**Where the I/O is.** The policy (``Policy``, ``select``, ``period_key``) is pure. ``scan``,
``plan`` and ``execute`` read, hash and delete only through a store's interface (store.py:
a directory or a bucket, whose errors name the location); ``run`` is the module's runner.
"""

from __future__ import annotations

import datetime
import math

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores
from ansible_collections.multiagent.ops.plugins.module_utils.backup.store import StoreError
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # pragma: no cover - Python < 3.9
    ZoneInfo = None

PERIODS = ("daily", "weekly", "monthly", "yearly")
FUTURE_TOLERANCE = datetime.timedelta(hours=1)
# Longer than any retention: and datetime cannot go much further back than this from now.
MAX_DAYS = 36525
RULES = ("keep_last",) + tuple("keep_%s" % period for period in PERIODS)
VERIFIED, COMPLETE, INCOMPLETE = "verified", "complete", "incomplete"


class PolicyError(ValueError):
    """A retention policy that cannot be applied; the message names the option."""


def _days_option(name, value, unit, limit):
    """A number of days or hours: finite, 0 or more, at most ``limit``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PolicyError("%s must be a number of %s, not %r" % (name, unit, value))
    if value < 0 or value > limit:
        raise PolicyError("%s must be between 0 and %d %s, not %s" % (name, limit, unit, _days(value)))
    return value


def _count(name, value):
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError("%s must be a whole number of 0 or more, not %r" % (name, value))
    return value


class Policy:
    """Keep rules, a maximum age and the time zone the periods are counted in."""

    def __init__(
        self,
        keep_last=None,
        keep_daily=None,
        keep_weekly=None,
        keep_monthly=None,
        keep_yearly=None,
        max_age_days=None,
        timezone="UTC",
    ):
        self.counts = {
            "keep_last": _count("keep_last", keep_last),
            "keep_daily": _count("keep_daily", keep_daily),
            "keep_weekly": _count("keep_weekly", keep_weekly),
            "keep_monthly": _count("keep_monthly", keep_monthly),
            "keep_yearly": _count("keep_yearly", keep_yearly),
        }
        if max_age_days is not None:
            _days_option("max_age_days", max_age_days, "days", MAX_DAYS)
        self.max_age_days = max_age_days
        if not any(self.counts.values()) and max_age_days is None:
            raise PolicyError("no retention rule: give at least one of %s or max_age_days" % ", ".join(RULES))
        self.timezone_name = timezone or "UTC"
        if ZoneInfo is None:  # pragma: no cover
            raise PolicyError("time zones need Python's zoneinfo (3.9 or later)")
        try:
            self.tz = ZoneInfo(self.timezone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PolicyError("timezone %r is not an IANA time zone name: %s" % (timezone, exc)) from exc

    @property
    def has_keep_rules(self):
        return any(self.counts.values())

    def describe(self):
        parts = ["%s %d" % (rule, count) for rule, count in self.counts.items() if count]
        if self.max_age_days is not None:
            parts.append("max_age_days %s" % _days(self.max_age_days))
        return ", ".join(parts) + " (periods in %s)" % self.timezone_name

    def as_dict(self):
        result = {rule: count for rule, count in self.counts.items() if count}
        if self.max_age_days is not None:
            result["max_age_days"] = self.max_age_days
        result["timezone"] = self.timezone_name
        return result


def _days(value):
    return ("%g" % value) if isinstance(value, float) else str(value)


def period_key(period, moment, tz):
    """The label of the day, ISO week, month or year ``moment`` falls in, in ``tz``."""
    local = moment.astimezone(tz)
    if period == "daily":
        return local.strftime("%Y-%m-%d")
    if period == "weekly":
        iso = local.isocalendar()
        return "%04d-W%02d" % (iso[0], iso[1])
    if period == "monthly":
        return local.strftime("%Y-%m")
    if period == "yearly":
        return local.strftime("%Y")
    raise PolicyError("unknown period %r" % period)


def select(candidates, policy, now, protect=()):
    """Decide over one group's backups. Pure: no store, no clock.

    ``candidates``: ``(name, moment)`` pairs of the backups that may fill slots (verified
    or complete). ``protect``: names kept whatever the policy says, each with its reason
    (``{name: reason}``, or names, which are then "protected").
    Returns ``{name: (keep, [reasons])}``.
    """
    if not isinstance(protect, dict):
        protect = {name: "protected" for name in protect}
    ordered = sorted(candidates, key=lambda item: (item[1], item[0]), reverse=True)
    selected = {name: [] for name, _moment in ordered}
    last = policy.counts["keep_last"]
    for position, (name, _moment) in enumerate(ordered[:last], 1):
        selected[name].append("last %d of %d" % (position, last))
    for period in PERIODS:
        count = policy.counts["keep_%s" % period]
        if not count:
            continue
        seen = set()
        for name, moment in ordered:
            key = period_key(period, moment, policy.tz)
            if key in seen:
                continue
            if len(seen) == count:
                break
            seen.add(key)
            selected[name].append("%s %s" % (period, key))
    cutoff = None
    if policy.max_age_days is not None:
        cutoff = now - datetime.timedelta(days=policy.max_age_days)
    rules = ", ".join("%s %d" % (rule, count) for rule, count in policy.counts.items() if count)
    decisions = {}
    for name, moment in ordered:
        if cutoff is not None and moment < cutoff:
            keep, reasons = False, ["older than %s days" % _days(policy.max_age_days)]
        elif policy.has_keep_rules:
            keep = bool(selected[name])
            reasons = selected[name] if keep else ["not selected by %s" % rules]
        else:
            keep, reasons = True, ["within %s days" % _days(policy.max_age_days)]
        if name in protect:
            if keep:
                reasons = reasons + [protect[name]]
            else:
                reasons = ["%s (the policy alone would delete it: %s)" % (protect[name], reasons[0])]
            keep = True
        decisions[name] = (keep, reasons)
    return decisions


# --- what is in a location ------------------------------------------------------------
class Backup:
    """One archive and/or its manifest, as found in a location."""

    def __init__(self, name, archive=None):
        self.name = name
        self.manifest_file = artifact.manifest_name(name)
        # A temporary file of an interrupted write is named after the archive it was for.
        archive = archive or name
        self.files = []
        self.manifest = None
        self.problems = []
        self.state = INCOMPLETE
        self.kind = None
        self.target = None
        self.prefix = None
        self.moment = None
        self.size = None
        self.modified = None
        self.decision = None
        self.reasons = []
        self.held = False
        self.corrupt = False
        self.future = False
        self.pinned = None
        self.kind = artifact.archive_kind(archive)
        parsed = artifact.parse_archive_name(archive)
        if parsed:
            self.prefix, self.moment = parsed[0], parsed[1]

    @property
    def group(self):
        return (self.kind, self.target, self.prefix)

    def report(self):
        item = {
            "name": self.name,
            "kind": self.kind,
            "target": self.target,
            "time": artifact.iso(self.moment) if self.moment else None,
            "size": self.size,
            "state": self.state,
            "files": list(self.files),
        }
        if self.decision is not None:
            item["reason"] = "%s: %s" % (self.decision, ", ".join(self.reasons))
        if self.problems:
            item["problems"] = list(self.problems)
        return item


def _modified(entry_map, names):
    moments = [entry_map[name].modified for name in names if name in entry_map]
    return max(moments) if moments else None


def scan(store):
    """``(backups, ignored)``: every backup-like pair in the store (and every temporary file
    of an interrupted write), and the names of files that are not backups (left alone)."""
    entries = {entry.name: entry for entry in store.list()}
    partials, irregular = store.others()
    irregular = set(irregular)
    backups, ignored = {}, set(irregular)
    for name in sorted(entries):
        if not artifact.is_manifest(name):
            continue
        archive = name[: -len(artifact.MANIFEST_SUFFIX)]
        if artifact.archive_kind(archive) is None:
            ignored.add(name)
            continue
        backup = Backup(archive)
        backups[backup.name] = backup
        backup.files.append(name)
        try:
            backup.manifest = artifact.decode_manifest(store.read_bytes(name), store.describe(name))
        except artifact.ArtifactError as exc:
            backup.problems.append(str(exc))
    for name in sorted(entries):
        if artifact.is_manifest(name):
            continue
        if name in backups:
            backups[name].files.insert(0, name)
            continue
        if artifact.archive_kind(name) is None:
            ignored.add(name)
            continue
        backup = Backup(name)
        backup.files.append(name)
        backup.problems.append("no manifest: the backup failed, was interrupted or is being written")
        backups[name] = backup
    for backup in backups.values():
        backup.modified = _modified(entries, backup.files)
        for name in (backup.name, backup.manifest_file):
            if name in irregular:
                backup.pinned = "%s is a symbolic link or not a regular file" % name
        if backup.name in entries:
            backup.size = entries[backup.name].size
        manifest = backup.manifest
        if manifest is None:
            continue
        if isinstance(manifest.get("kind"), str):
            backup.kind = manifest["kind"]
        if isinstance(manifest.get("target"), str):
            backup.target = manifest["target"]
        backup.moment = artifact.parse_iso(manifest.get("started")) or backup.moment
        backup.problems.extend(artifact.manifest_problems(manifest))
        backup.problems.extend(artifact.file_problems(manifest, backup.name))
        if backup.name not in entries:
            backup.problems.append(
                "the archive is missing (a deletion was interrupted, or it was removed by hand)"
            )
        else:
            backup.problems.extend(artifact.check_content({"size": manifest.get("size")}, None, backup.size))
        if not backup.problems:
            backup.state = COMPLETE
    for entry in partials:
        final = artifact.parse_partial_name(entry.name)
        archive = _plain_name(final)
        if artifact.archive_kind(archive) is None:
            ignored.add(entry.name)
            continue
        backup = Backup(entry.name, archive=archive)
        backup.files.append(entry.name)
        backup.size, backup.modified = entry.size, entry.modified
        backup.problems.append("a temporary file of %s: its writer stopped before finishing it" % final)
        backups[entry.name] = backup
    for backup in backups.values():
        if backup.moment is None:
            backup.moment = backup.modified
    _assign_orphans(backups.values())
    return sorted(backups.values(), key=lambda b: (b.moment or b.modified, b.name)), sorted(ignored)


def _assign_orphans(backups):
    """Archives without a manifest join the group of the manifests of the same kind and name
    prefix."""
    targets = {}
    for backup in sorted(backups, key=lambda b: (b.moment, b.name)):
        if backup.manifest is not None and backup.kind and backup.target and backup.prefix:
            targets[(backup.kind, backup.prefix)] = backup.target
    for backup in backups:
        if backup.manifest is None and backup.target is None:
            backup.target = targets.get((backup.kind, backup.prefix))


def _wanted(backup, kind, target):
    if kind is not None and backup.kind != kind:
        return False
    if target is None:
        return True
    if backup.manifest is None and backup.target is None:
        # Nothing says which target: the prefix a target's backups are named with by default.
        return backup.prefix == artifact.safe_part(target)
    return backup.target == target


# --- the plan -------------------------------------------------------------------------
class Plan:
    """What a retention run found and decided; ``deletions`` are the backups to remove."""

    def __init__(self, store, policy):
        self.store = store
        self.policy = policy
        self.backups = []
        self.ignored = []
        self.newest_verified = {}
        self.hold = None
        self.current = []
        self.done = []

    @property
    def deletions(self):
        return [b for b in self.backups if b.decision == "deleted"]

    def result(self):
        kept = [b.report() for b in self.backups if b.state != INCOMPLETE and b.decision == "kept"]
        deleted = [b.report() for b in self.deletions]
        held = [b.report() for b in self.backups if b.held]
        incomplete = [b.report() for b in self.backups if b.state == INCOMPLETE]
        newest = []
        for group, backup in sorted(self.newest_verified.items(), key=lambda kv: tuple(map(str, kv[0]))):
            newest.append(
                {
                    "kind": group[0],
                    "target": group[1],
                    "prefix": group[2],
                    "name": backup.name,
                    "time": artifact.iso(backup.moment),
                    "size": backup.size,
                    "sha256": backup.manifest.get("sha256"),
                }
            )
        return {
            "location": self.store.describe(),
            "policy": self.policy.as_dict(),
            "held": bool(self.hold),
            "hold_reason": self.hold,
            "kept": kept,
            "deleted": deleted,
            "would_have_deleted": held,
            "incomplete": incomplete,
            "ignored": list(self.ignored),
            "newest_verified": newest,
        }


def _plain_name(name):
    """The archive name of a path, key or URL of an archive or of its manifest."""
    name = str(name).rstrip("/").rsplit("/", 1)[-1]
    return name[: -len(artifact.MANIFEST_SUFFIX)] if artifact.is_manifest(name) else name


def _verify(store, backup):
    """Hash the archive; a read failure is an error for the whole run (nothing is deleted
    on a guess), a mismatch makes the backup incomplete."""
    digest, size = store.sha256(backup.name)
    problems = artifact.check_content(backup.manifest, digest, size)
    if problems:
        backup.problems.extend(problems)
        backup.state = INCOMPLETE
        backup.corrupt = True
        return False
    backup.state = VERIFIED
    return True


def plan(
    store,
    policy,
    now,
    kind=None,
    target=None,
    current=None,
    current_failed=False,
    verify="newest",
    prune_incomplete=False,
    grace_hours=24.0,
):
    """Look at the store and decide. Reads (and hashes) but never deletes."""
    if verify not in ("newest", "all"):
        raise PolicyError("verify must be newest or all, not %r" % (verify,))
    _days_option("the grace period for incomplete backups", grace_hours, "hours", MAX_DAYS * 24)
    result = Plan(store, policy)
    found, result.ignored = scan(store)
    result.backups = [b for b in found if _wanted(b, kind, target)]
    for backup in result.backups:
        backup.future = backup.moment is not None and backup.moment > now + FUTURE_TOLERANCE

    names = [current] if isinstance(current, str) else list(current or [])
    result.current = [_plain_name(name) for name in names if name]
    currents = [next((b for b in found if b.name == name), None) for name in result.current]
    in_scope = {id(b) for b in result.backups}

    groups = {}
    for backup in result.backups:
        if backup.state == COMPLETE:
            groups.setdefault(backup.group, []).append(backup)
    for group, members in groups.items():
        newest_first = sorted(members, key=lambda b: (b.moment, b.name), reverse=True)
        for backup in newest_first:
            if backup.future:  # not a candidate; checked when it is the current one
                if backup in currents:
                    _verify(store, backup)
                continue
            if verify == "all" or group not in result.newest_verified or backup in currents:
                if _verify(store, backup) and group not in result.newest_verified:
                    result.newest_verified[group] = backup
    for backup in currents:
        # A current backup of another target is checked too: the caller says it was just made.
        if backup is not None and id(backup) not in in_scope and backup.state == COMPLETE:
            _verify(store, backup)

    if current_failed:
        result.hold = "the current backup failed"
    for name, backup in zip(result.current, currents, strict=True):
        if result.hold:
            break
        if backup is None:
            result.hold = "the current backup %s is not in %s (it failed or went elsewhere)" % (
                name,
                store.describe(),
            )
        elif backup.state == INCOMPLETE:
            result.hold = "the current backup %s is not sound: %s" % (name, "; ".join(backup.problems))

    for group in sorted(
        {b.group for b in result.backups if b.state != INCOMPLETE}, key=lambda g: tuple(map(str, g))
    ):
        members = [b for b in result.backups if b.group == group and b.state != INCOMPLETE]
        for backup in members:
            if backup.future:
                backup.decision, backup.reasons = (
                    "kept",
                    [
                        "dated %s, later than this run's clock (%s): not counted by the policy"
                        % (artifact.iso(backup.moment), artifact.iso(now))
                    ],
                )
        members = [b for b in members if not b.future]
        if not members:
            continue
        newest = result.newest_verified.get(group)
        if newest is None:
            for backup in members:
                backup.decision, backup.reasons = "kept", ["no verified backup of this target"]
            continue
        protect = {newest.name: "newest verified backup"}
        for backup in currents:
            if backup is not None and id(backup) in in_scope and backup.group == group:
                protect[backup.name] = (
                    "newest verified backup, the current one" if backup is newest else "the current backup"
                )
        decisions = select([(b.name, b.moment) for b in members], policy, now, protect)
        for backup in members:
            keep, reasons = decisions[backup.name]
            backup.decision, backup.reasons = ("kept" if keep else "deleted"), reasons

    grace = datetime.timedelta(hours=grace_hours)
    for backup in result.backups:
        if backup.state != INCOMPLETE:
            continue
        cause = backup.problems[0] if backup.problems else "incomplete"
        young = backup.modified is not None and now - backup.modified <= grace
        if backup.pinned:
            backup.decision, backup.reasons = (
                "kept",
                ["incomplete (%s); left alone: %s" % (cause, backup.pinned)],
            )
        elif not prune_incomplete:
            backup.decision, backup.reasons = "kept", ["incomplete (%s); prune_incomplete is off" % cause]
        elif young:
            backup.decision, backup.reasons = (
                "kept",
                ["incomplete (%s) for less than %s hours" % (cause, _days(grace_hours))],
            )
        else:
            backup.decision, backup.reasons = (
                "deleted",
                ["incomplete (%s) for more than %s hours" % (cause, _days(grace_hours))],
            )
    if result.hold:
        for backup in result.backups:
            if backup.decision == "deleted":
                backup.decision, backup.held = "kept", True
                backup.reasons = [
                    "%s, nothing is deleted" % result.hold,
                    "otherwise deleted: %s" % ", ".join(backup.reasons),
                ]
    return result


def execute(result):
    """Delete what the plan says: oldest first, archive before manifest. Returns the
    reports of the backups removed (also in ``result.done``). A failure raises StoreError
    naming what was already removed; nothing after it is touched."""
    done = result.done = []
    for backup in sorted(result.deletions, key=lambda b: (b.moment, b.name)):
        for name in (backup.name, backup.manifest_file):
            if name not in backup.files:
                continue
            try:
                result.store.delete(name)
            except StoreError as exc:
                raise StoreError(
                    "%s; already deleted: %s" % (exc, ", ".join(d["name"] for d in done) or "nothing")
                ) from exc
        done.append(backup.report())
    return done


# --- the runner -------------------------------------------------------------------------
def _size(total):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if total < 1024 or unit == "TiB":
            return ("%d %s" % (total, unit)) if unit == "B" else ("%.1f %s" % (total, unit))
        total /= 1024.0
    return str(total)  # pragma: no cover


def summary(result, check_mode):
    """One line for the task's ``msg``: what was (or would be) deleted, freeing how much."""
    if result["held"]:
        text = "nothing deleted: %s (%d would have been)" % (
            result["hold_reason"],
            len(result["would_have_deleted"]),
        )
    else:
        gone = result["would_delete"] if check_mode else result["deleted"]
        text = "%s %d (%s), kept %d" % (
            "would delete" if check_mode else "deleted",
            len(gone),
            _size(sum(item.get("size") or 0 for item in gone)),
            len(result["kept"]),
        )
    if result["incomplete"]:
        text += ", %d incomplete" % len(result["incomplete"])
    return "%s in %s" % (text, result["location"])


def _policy(params):
    try:
        return Policy(
            keep_last=params["keep_last"],
            keep_daily=params["keep_daily"],
            keep_weekly=params["keep_weekly"],
            keep_monthly=params["keep_monthly"],
            keep_yearly=params["keep_yearly"],
            max_age_days=params["max_age_days"],
            timezone=params["timezone"],
        )
    except PolicyError as exc:
        raise OpsError("invalid retention policy: %s" % exc) from None


def run(request, open_store=stores.open_store, now=None):
    """Apply a retention policy to a backup location (multiagent.ops.backup_retention).

    Check mode reads and hashes as a real run does and reports under ``would_delete`` what it
    would delete; ``deleted`` stays empty. ``changed`` says that something was, or in check
    mode would be, deleted."""
    p = request.params
    policy = _policy(p)
    if p["location"].get("s3"):
        missing = stores.missing_boto3("for an S3 location")
        if missing:
            raise OpsError(missing.pop("msg"), **missing)
    try:
        location = open_store(p["location"])
        found = plan(
            location,
            policy,
            now or artifact.utcnow(),
            kind=p["kind"],
            target=p["target"],
            current=p["current"],
            current_failed=p["current_failed"],
            verify=p["verify"],
            prune_incomplete=p["prune_incomplete"],
            grace_hours=p["incomplete_grace_hours"],
        )
    except (PolicyError, StoreError) as exc:
        raise OpsError(nothing_changed("retention of backups: %s" % exc)) from None

    result = found.result()
    result["would_delete"] = []
    if request.check_mode:
        result["would_delete"], result["deleted"] = result["deleted"], []
    elif found.deletions:
        try:
            result["deleted"] = execute(found)
        except StoreError as exc:
            result.update(deleted=found.done, changed=bool(found.done))
            raise OpsError("retention of backups stopped: %s" % exc, **result) from None
    gone = {item["name"] for item in result["deleted"] + result["would_delete"]}
    result["changed"] = bool(gone)
    result["msg"] = summary(result, request.check_mode)
    if request.diff:
        before = sorted(backup.name for backup in found.backups)
        result["diff"] = {
            "before_header": result["location"],
            "after_header": result["location"],
            "before": "".join(name + "\n" for name in before),
            "after": "".join(name + "\n" for name in before if name not in gone),
        }
    if found.hold:
        request.warn("retention of %s: nothing deleted: %s" % (result["location"], found.hold))
    for backup in found.backups:
        if backup.future:
            request.warn(
                "backup %s is dated %s, later than this host's clock: kept and left out of the "
                "policy; check the clocks" % (location.describe(backup.name), artifact.iso(backup.moment))
            )
        if backup.corrupt:
            request.warn(
                "backup %s does not match its manifest: %s"
                % (location.describe(backup.name), "; ".join(backup.problems))
            )
    return result
