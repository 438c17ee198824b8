"""Retention: the policy as tables, then plans over real directories (verification, states,
invariants, deletion order), then the module's runner (check mode, failures, warnings)."""

import datetime
import hashlib
import os

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import retention as ret
from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, Request
from ansible_collections.multiagent.ops.plugins.modules import backup_retention

UTC = datetime.UTC


def t(text):
    """An instant: ``2026-11-21T02:00`` is UTC, an explicit offset is kept."""
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def kept(times, now="2026-11-22T12:00", protect=(), **policy):
    """The backups (named by their times) the policy keeps."""
    decisions = ret.select([(x, t(x)) for x in times], ret.Policy(**policy), t(now), protect)
    assert set(decisions) == set(times)
    return sorted(name for name, (keep, _reasons) in decisions.items() if keep)


DAILY_AT_2 = ["2026-11-%02dT02:00" % day for day in range(1, 23)]

# (policy, backups, expected kept); now is 2026-11-22T12:00Z (a Sunday) unless given.
TABLE = [
    pytest.param({"keep_last": 3}, DAILY_AT_2, DAILY_AT_2[-3:], id="keep_last"),
    pytest.param({"keep_last": 50}, DAILY_AT_2, DAILY_AT_2, id="keep_last-more-than-there-are"),
    pytest.param(
        {"keep_daily": 3},
        ["2026-11-20T02:00", "2026-11-20T14:00", "2026-11-18T02:00", "2026-11-18T03:00", "2026-11-15T02:00"],
        ["2026-11-15T02:00", "2026-11-18T03:00", "2026-11-20T14:00"],
        id="daily-newest-of-each-day-and-days-without-backups-do-not-count",
    ),
    pytest.param(
        {"keep_weekly": 2},
        # Sunday 15th ends ISO week 46, Monday 16th starts week 47.
        ["2026-11-15T23:00", "2026-11-16T01:00", "2026-11-17T01:00", "2026-11-09T01:00"],
        ["2026-11-15T23:00", "2026-11-17T01:00"],
        id="weekly-iso-weeks-start-on-monday",
    ),
    pytest.param(
        {"keep_weekly": 2},
        # 2026-12-31 (Thu) and 2027-01-03 (Sun) are both in ISO week 2026-W53.
        ["2026-12-28T02:00", "2026-12-31T02:00", "2027-01-03T02:00", "2027-01-04T02:00"],
        ["2027-01-03T02:00", "2027-01-04T02:00"],
        id="weekly-iso-week-across-new-year",
    ),
    pytest.param(
        {"keep_monthly": 2},
        ["2026-09-30T02:00", "2026-10-01T02:00", "2026-10-31T23:59", "2026-11-01T00:00", "2026-11-20T02:00"],
        ["2026-10-31T23:59", "2026-11-20T02:00"],
        id="monthly",
    ),
    pytest.param(
        {"keep_yearly": 2},
        ["2024-06-01T02:00", "2025-01-01T02:00", "2025-12-31T02:00", "2026-03-01T02:00"],
        ["2025-12-31T02:00", "2026-03-01T02:00"],
        id="yearly",
    ),
    pytest.param(
        {"keep_last": 2, "keep_daily": 4, "keep_weekly": 3, "keep_monthly": 2},
        DAILY_AT_2 + ["2026-10-15T02:00", "2026-09-15T02:00", "2026-11-22T08:00"],
        [
            "2026-10-15T02:00",  # monthly 2026-10
            "2026-11-08T02:00",  # weekly W45 (Sunday)
            "2026-11-15T02:00",  # weekly W46
            "2026-11-19T02:00",  # daily
            "2026-11-20T02:00",
            "2026-11-21T02:00",
            "2026-11-22T02:00",  # keep_last 2
            "2026-11-22T08:00",  # keep_last 1, daily, weekly W47, monthly 2026-11
        ],
        id="gfs-rules-add-up",
    ),
    pytest.param(
        {"max_age_days": 7},
        ["2026-11-15T11:59", "2026-11-15T12:00", "2026-11-20T02:00", "2026-11-23T00:00"],
        ["2026-11-15T12:00", "2026-11-20T02:00", "2026-11-23T00:00"],
        id="max_age-alone-is-find-mtime-and-exactly-7-days-stays",
    ),
    pytest.param(
        {"max_age_days": 0.5},
        ["2026-11-21T23:59", "2026-11-22T00:00", "2026-11-22T06:00"],
        ["2026-11-22T00:00", "2026-11-22T06:00"],
        id="max_age-in-fractions-of-a-day",
    ),
    pytest.param(
        {"keep_daily": 30, "max_age_days": 5},
        DAILY_AT_2,
        DAILY_AT_2[-5:],
        id="max_age-caps-the-keep-rules",
    ),
    pytest.param(
        {"keep_last": 1, "max_age_days": 30},
        DAILY_AT_2,
        DAILY_AT_2[-1:],
        id="keep-rules-choose-within-max_age",
    ),
    pytest.param({"keep_last": 3}, [], [], id="empty"),
    pytest.param(
        {"keep_daily": 2, "timezone": "Europe/Berlin"},
        # 22:30Z on the 21st is 23:30 in Berlin, 23:30Z is already the 22nd there.
        ["2026-11-21T22:30", "2026-11-21T23:30", "2026-11-20T12:00"],
        ["2026-11-21T22:30", "2026-11-21T23:30"],
        id="days-begin-in-the-policy-time-zone",
    ),
    pytest.param(
        {"keep_daily": 2},
        ["2026-11-21T22:30", "2026-11-21T23:30", "2026-11-20T12:00"],
        ["2026-11-20T12:00", "2026-11-21T23:30"],
        id="same-backups-in-utc",
    ),
    pytest.param(
        {"keep_daily": 5, "timezone": "Europe/Berlin"},
        # Summer time ends on 2026-10-25 (03:00 CEST -> 02:00 CET): the 25th lasts 25 hours.
        # 21:30Z on the 24th is 23:30 CEST on the 24th; 22:30Z is 00:30 CEST on the 25th;
        # 22:30Z on the 25th is 23:30 CET, still the 25th.
        ["2026-10-24T21:30", "2026-10-24T22:30", "2026-10-25T22:30"],
        ["2026-10-24T21:30", "2026-10-25T22:30"],
        id="dst-end-day-of-25-hours",
        marks=[],
    ),
    pytest.param(
        {"keep_daily": 5},
        ["2026-10-24T21:30", "2026-10-24T22:30", "2026-10-25T22:30"],
        ["2026-10-24T22:30", "2026-10-25T22:30"],
        id="dst-end-same-backups-in-utc",
    ),
    pytest.param(
        {"keep_daily": 5, "timezone": "America/New_York"},
        # Summer time begins on 2026-03-08 (02:00 EST -> 03:00 EDT): the 8th lasts 23 hours.
        # 04:59Z on the 8th is 23:59 EST on the 7th; 05:00Z is 00:00 on the 8th; 03:59Z on
        # the 9th is 23:59 EDT on the 8th.
        ["2026-03-08T04:59", "2026-03-08T05:00", "2026-03-09T03:59"],
        ["2026-03-08T04:59", "2026-03-09T03:59"],
        id="dst-start-day-of-23-hours",
    ),
    pytest.param(
        {"keep_weekly": 1, "timezone": "Asia/Tokyo"},
        # 15:30Z on Sunday the 15th is Monday 00:30 in Tokyo: week 47 there.
        ["2026-11-15T14:30", "2026-11-15T15:30"],
        ["2026-11-15T15:30"],
        id="weeks-begin-in-the-policy-time-zone",
    ),
    pytest.param(
        {"keep_last": 1},
        ["2026-11-22T12:30"],
        ["2026-11-22T12:30"],
        id="a-backup-from-the-future-is-a-backup",
    ),
]


@pytest.mark.parametrize("policy,times,expected", TABLE)
def test_policy_table(policy, times, expected):
    assert kept(times, **policy) == sorted(expected)


def test_ties_are_broken_by_name_whatever_the_input_order():
    same = t("2026-11-21T02:00")
    policy = ret.Policy(keep_last=1)
    forward = ret.select([("a.dump", same), ("b.dump", same)], policy, t("2026-11-22T00:00"))
    backward = ret.select([("b.dump", same), ("a.dump", same)], policy, t("2026-11-22T00:00"))
    assert forward == backward
    assert forward["b.dump"] == (True, ["last 1 of 1"]) and forward["a.dump"][0] is False


def test_reasons_name_the_rule_and_period():
    decisions = ret.select(
        [("new", t("2026-11-21T02:00")), ("mid", t("2026-11-14T02:00")), ("old", t("2026-10-01T02:00"))],
        ret.Policy(keep_daily=1, keep_weekly=2, max_age_days=30),
        t("2026-11-22T12:00"),
    )
    assert decisions["new"] == (True, ["daily 2026-11-21", "weekly 2026-W47"])
    assert decisions["mid"] == (True, ["weekly 2026-W46"])
    assert decisions["old"] == (False, ["older than 30 days"])
    unpicked = ret.select(
        [("a", t("2026-11-21T02:00")), ("b", t("2026-11-21T01:00"))],
        ret.Policy(keep_last=1, keep_daily=1),
        t("2026-11-22"),
    )
    assert unpicked["b"] == (False, ["not selected by keep_last 1, keep_daily 1"])


def test_protected_backup_survives_a_policy_that_deletes_everything():
    times = ["2026-10-01T02:00", "2026-10-02T02:00"]
    assert kept(times, max_age_days=7) == []
    decisions = ret.select(
        [(x, t(x)) for x in times],
        ret.Policy(max_age_days=7),
        t("2026-11-22T12:00"),
        {"2026-10-01T02:00": "newest verified backup"},
    )
    assert decisions["2026-10-01T02:00"] == (
        True,
        ["newest verified backup (the policy alone would delete it: older than 7 days)"],
    )
    assert decisions["2026-10-02T02:00"][0] is False
    both = kept(times, protect=["2026-10-02T02:00"], keep_last=1)
    assert both == ["2026-10-02T02:00"]


@pytest.mark.parametrize(
    "policy,message",
    [
        ({}, "no retention rule"),
        ({"keep_last": 0}, "no retention rule"),
        ({"keep_last": -1}, "keep_last must be a whole number"),
        ({"keep_daily": True}, "keep_daily must be a whole number"),
        ({"keep_weekly": 1.5}, "keep_weekly must be a whole number"),
        ({"max_age_days": -2}, "max_age_days must be between 0 and 36525 days, not -2"),
        ({"max_age_days": 800000}, "max_age_days must be between 0 and 36525 days"),
        ({"max_age_days": float("inf")}, "max_age_days must be a number of days, not inf"),
        ({"max_age_days": float("nan")}, "max_age_days must be a number of days, not nan"),
        ({"keep_last": 1, "timezone": "Mars/Olympus_Mons"}, "not an IANA time zone"),
    ],
)
def test_policy_errors(policy, message):
    with pytest.raises(ret.PolicyError, match=message):
        ret.Policy(**policy)


def test_max_age_zero_is_a_rule_of_its_own():
    assert kept(["2026-11-22T11:00", "2026-11-22T12:00"], max_age_days=0) == ["2026-11-22T12:00"]


# --- plans over a directory ---------------------------------------------------------------
NOW = t("2026-11-22T12:00")


class Location:
    """A temporary backup directory with helpers that write backups the way the backup
    modules do (archive, then manifest)."""

    def __init__(self, path):
        self.path = path
        self.store = CountingStore(str(path))

    def backup(
        self, when, target="mplp", kind="postgresql", manifest=True, corrupt=False, prefix=None, **fields
    ):
        moment = t(when)
        name = artifact.archive_name(
            prefix or (target if isinstance(target, str) else "odd"), moment, ".dump.zst"
        )
        data = ("%s %s %s" % (kind, target, when)).encode() * 10
        (self.path / name).write_bytes(data)
        if manifest:
            body = artifact.new_manifest(kind, target, name, "custom", "zstd")
            body.update(
                size=len(data),
                sha256=hashlib.sha256(b"other" if corrupt else data).hexdigest(),
                started=artifact.iso(moment),
                finished=artifact.iso(moment + datetime.timedelta(minutes=5)),
                status="complete",
            )
            body.update(fields)
            (self.path / artifact.manifest_name(name)).write_bytes(artifact.encode_manifest(body))
        self.age(name, moment)
        return name

    def age(self, name, moment):
        for file in (name, artifact.manifest_name(name)):
            if (self.path / file).exists():
                os.utime(self.path / file, (moment.timestamp(), moment.timestamp()))

    def names(self):
        return sorted(os.listdir(self.path))


class CountingStore(stores.LocalStore):
    """A directory that records which archives were hashed and the order of deletions."""

    def __init__(self, path):
        super().__init__(path)
        self.hashed = []
        self.deleted = []
        self.fail_delete = None

    def sha256(self, name):
        self.hashed.append(name)
        return super().sha256(name)

    def delete(self, name):
        if name == self.fail_delete:
            raise stores.StoreError("cannot delete %s: injected failure" % self.describe(name))
        self.deleted.append(name)
        return super().delete(name)


@pytest.fixture
def loc(tmp_path):
    return Location(tmp_path)


def by_name(items):
    return {item["name"]: item for item in items}


def run_plan(loc, policy, **options):
    return ret.plan(loc.store, ret.Policy(**policy), NOW, **options)


def test_verification_is_lazy_newest_first(loc):
    names = [loc.backup("2026-11-%02dT02:00" % day) for day in range(15, 22)]
    plan = run_plan(loc, {"keep_last": 3})
    assert loc.store.hashed == [names[-1]]
    result = plan.result()
    assert [item["name"] for item in result["kept"]] == names[-3:]
    assert by_name(result["kept"])[names[-1]]["state"] == "verified"
    assert by_name(result["kept"])[names[-2]]["state"] == "complete"
    assert result["newest_verified"][0]["name"] == names[-1]
    assert [item["name"] for item in result["deleted"]] == names[:-3]

    loc.store.hashed.clear()
    run_plan(loc, {"keep_last": 3}, verify="all")
    assert sorted(loc.store.hashed) == names


def test_corrupt_newest_does_not_fill_a_slot_and_the_next_verified_is_protected(loc):
    older = [loc.backup("2026-11-%02dT02:00" % day) for day in (1, 2, 3)]
    newest = loc.backup("2026-11-21T02:00", corrupt=True)
    plan = run_plan(loc, {"max_age_days": 7})
    result = plan.result()
    assert loc.store.hashed == [newest, older[-1]]
    assert result["newest_verified"][0]["name"] == older[-1]
    assert by_name(result["kept"])[older[-1]]["reason"] == (
        "kept: newest verified backup (the policy alone would delete it: older than 7 days)"
    )
    assert sorted(item["name"] for item in result["deleted"]) == older[:2]
    bad = by_name(result["incomplete"])[newest]
    assert bad["problems"][0].startswith("sha256 is ") and bad["reason"].startswith(
        "kept: incomplete (sha256"
    )
    assert plan.backups[-1].corrupt is True

    plan = run_plan(loc, {"keep_last": 2})
    assert [item["name"] for item in plan.result()["kept"]] == older[1:]


def test_all_unverified_deletes_nothing(loc):
    names = [loc.backup("2026-11-%02dT02:00" % day, corrupt=True) for day in (1, 2, 3)]
    result = run_plan(loc, {"keep_last": 1}).result()
    assert result["deleted"] == [] and result["kept"] == [] and result["newest_verified"] == []
    assert sorted(item["name"] for item in result["incomplete"]) == names


def test_current_failed_deletes_nothing_and_says_what_would_have_gone(loc):
    names = [loc.backup("2026-11-%02dT02:00" % day) for day in (1, 2, 3)]
    orphan = loc.backup("2026-11-10T02:00", manifest=False)
    plan = run_plan(loc, {"keep_last": 1}, current_failed=True, prune_incomplete=True, grace_hours=1)
    result = plan.result()
    assert plan.deletions == [] and result["deleted"] == []
    assert result["held"] is True and result["hold_reason"] == "the current backup failed"
    assert sorted(item["name"] for item in result["would_have_deleted"]) == sorted(names[:2] + [orphan])
    assert by_name(result["kept"])[names[0]]["reason"] == (
        "kept: the current backup failed, nothing is deleted, otherwise deleted: not selected by keep_last 1"
    )
    assert ret.execute(plan) == [] and loc.store.deleted == []


@pytest.mark.parametrize("problem", ["missing", "no-manifest", "incomplete-manifest", "checksum"])
def test_a_current_backup_that_is_not_sound_holds_everything(loc, problem):
    for day in (1, 2, 3):
        loc.backup("2026-11-%02dT02:00" % day)
    if problem == "missing":
        current = artifact.archive_name("mplp", t("2026-11-22T02:00"), ".dump.zst")
        why = "is not in"
    elif problem == "no-manifest":
        current, why = loc.backup("2026-11-22T02:00", manifest=False), "no manifest"
    elif problem == "incomplete-manifest":
        current, why = loc.backup("2026-11-22T02:00", status="running"), "status is running"
    else:
        current, why = loc.backup("2026-11-22T02:00", corrupt=True), "sha256 is"
    result = run_plan(loc, {"keep_last": 1}, current=current).result()
    assert result["held"] is True and why in result["hold_reason"]
    assert result["deleted"] == [] and len(result["would_have_deleted"]) == 2


def test_a_sound_current_backup_is_verified_protected_and_lets_retention_run(loc):
    older = [loc.backup("2026-11-%02dT02:00" % day) for day in (1, 2)]
    current = loc.backup("2026-11-22T02:00")
    result = run_plan(loc, {"keep_last": 1}, current=artifact.manifest_name(current)).result()
    assert result["held"] is False
    assert (
        by_name(result["kept"])[current]["reason"]
        == "kept: last 1 of 1, newest verified backup, the current one"
    )
    assert sorted(item["name"] for item in result["deleted"]) == older


def test_current_may_be_a_path_or_a_list_and_of_another_target(loc):
    a = [loc.backup("2026-11-%02dT02:00" % day, target="a") for day in (1, 2)]
    globals_current = loc.backup("2026-11-02T02:00", target="a-globals")
    paths = [str(loc.path / a[1]), "s3://bucket/prefix/" + globals_current]
    result = run_plan(loc, {"keep_last": 1}, target="a", current=paths).result()
    assert result["held"] is False and [item["name"] for item in result["deleted"]] == [a[0]]
    assert globals_current in loc.store.hashed  # checked although outside this run's target

    broken = loc.backup("2026-11-03T02:00", target="b", corrupt=True)
    result = run_plan(loc, {"keep_last": 1}, target="a", current=[a[1], broken]).result()
    assert result["held"] is True and result["hold_reason"].startswith(
        "the current backup %s is not sound" % broken
    )


def test_incomplete_backups_wait_for_the_grace_period_and_the_option(loc):
    loc.backup("2026-11-20T02:00")
    stale = loc.backup("2026-11-21T02:00", manifest=False)
    fresh = loc.backup("2026-11-22T11:30", manifest=False)
    result = run_plan(loc, {"keep_last": 5}).result()
    assert result["deleted"] == []
    assert by_name(result["incomplete"])[stale]["reason"].endswith("prune_incomplete is off")

    result = run_plan(loc, {"keep_last": 5}, prune_incomplete=True, grace_hours=2).result()
    assert [item["name"] for item in result["deleted"]] == [stale]
    assert by_name(result["incomplete"])[fresh]["reason"] == (
        "kept: incomplete (no manifest: the backup failed, was interrupted or is being written) "
        "for less than 2 hours"
    )
    assert by_name(result["incomplete"])[stale]["kind"] == "postgresql"  # grouped by its name prefix


def test_kinds_of_incomplete(loc):
    truncated = loc.backup("2026-11-10T02:00")
    full_size = (loc.path / truncated).stat().st_size
    (loc.path / truncated).write_bytes(b"short")
    loc.age(truncated, t("2026-11-10T02:00"))
    garbled = loc.backup("2026-11-11T02:00")
    (loc.path / artifact.manifest_name(garbled)).write_text("{not json")
    gone = loc.backup("2026-11-12T02:00")
    (loc.path / gone).unlink()
    renamed = loc.backup("2026-11-13T02:00", file="something-else.dump.zst")
    future = loc.backup("2026-11-14T02:00", manifest_version=99)
    good = loc.backup("2026-11-15T02:00")
    result = run_plan(loc, {"keep_last": 1}).result()
    problems = {name: item["problems"] for name, item in by_name(result["incomplete"]).items()}
    assert problems[truncated] == [
        "size is 5 bytes, the manifest says %d (truncated or replaced?)" % full_size
    ]
    assert "is not valid JSON" in problems[garbled][0]
    assert problems[gone] == [
        "the archive is missing (a deletion was interrupted, or it was removed by hand)"
    ]
    assert problems[renamed] == ["the manifest describes something-else.dump.zst, not %s" % renamed]
    assert problems[future] == ["manifest_version 99 is newer than this collection reads"]
    assert [item["name"] for item in result["kept"]] == [good]
    assert loc.store.hashed == [good]  # size mismatches are found without hashing


def test_foreign_files_are_ignored_and_never_touched(loc):
    loc.backup("2026-11-01T02:00")
    loc.backup("2026-11-02T02:00")
    (loc.path / "README.txt").write_text("backups of mplp")
    (loc.path / "backup_20261101.sql.gz").write_bytes(b"the seed's way")
    (loc.path / "app.manifest.json").write_text("{}")  # someone else's manifest
    (loc.path / "backup-job-20261101T020000Z.log").write_text("a job's log")
    sidecar = artifact.archive_name("mplp", t("2026-11-02T02:00"), ".dump.zst.sha256")
    (loc.path / sidecar).write_text("0" * 64)
    result = run_plan(loc, {"keep_last": 1}, prune_incomplete=True, grace_hours=0).result()
    assert result["ignored"] == sorted(
        [
            "README.txt",
            "backup_20261101.sql.gz",
            "app.manifest.json",
            "backup-job-20261101T020000Z.log",
            sidecar,
        ]
    )
    assert all(item["name"] not in result["ignored"] for item in result["deleted"])


def test_groups_are_judged_apart_and_a_run_can_be_limited(loc):
    a = [loc.backup("2026-11-%02dT02:00" % day, target="alpha") for day in (1, 2)]
    b = [loc.backup("2026-11-%02dT02:00" % day, target="beta") for day in (3, 4)]
    r = [loc.backup("2026-11-%02dT02:00" % day, target="alpha", kind="redis") for day in (5, 6)]
    result = run_plan(loc, {"keep_last": 1}).result()
    assert sorted(item["name"] for item in result["kept"]) == sorted([a[1], b[1], r[1]])
    assert [(g["kind"], g["target"]) for g in result["newest_verified"]] == [
        ("postgresql", "alpha"),
        ("postgresql", "beta"),
        ("redis", "alpha"),
    ]
    only = run_plan(loc, {"keep_last": 1}, target="alpha", kind="postgresql").result()
    assert [item["name"] for item in only["deleted"]] == [a[0]]
    assert {item["name"] for item in only["kept"]} == {a[1]}


def test_an_archive_without_manifest_of_an_unknown_prefix_belongs_to_the_target_of_that_name(loc):
    loc.backup("2026-11-01T02:00", target="alpha")
    lonely = loc.backup("2026-11-02T02:00", target="gamma", manifest=False)
    everything = run_plan(loc, {"keep_last": 1}).result()
    assert lonely in by_name(everything["incomplete"])
    assert lonely not in by_name(run_plan(loc, {"keep_last": 1}, target="alpha").result()["incomplete"])
    assert lonely in by_name(run_plan(loc, {"keep_last": 1}, target="gamma").result()["incomplete"])
    # Its extension says what it is: a PostgreSQL archive, never part of a Redis run.
    assert lonely in by_name(run_plan(loc, {"keep_last": 1}, kind="postgresql").result()["incomplete"])
    redis_run = run_plan(
        loc, {"keep_last": 1}, kind="redis", target="gamma", prune_incomplete=True, grace_hours=0
    )
    assert lonely not in {b.name for b in redis_run.backups}


def test_series_of_one_database_with_different_prefixes_are_judged_apart(loc):
    """prod-* and staging-* backups of a database named app in one directory: the staging
    job's retention never deletes the prod series."""
    prod = [loc.backup("2026-11-%02dT02:00" % day, target="app", prefix="prod") for day in (1, 2, 3)]
    staging = [loc.backup("2026-11-%02dT03:00" % day, target="app", prefix="staging") for day in (1, 2, 3)]
    plan = run_plan(loc, {"keep_last": 1}, target="app", current=staging[-1])
    assert sorted(b.name for b in plan.deletions) == sorted(prod[:2] + staging[:2])
    assert [(g["target"], g["prefix"], g["name"]) for g in plan.result()["newest_verified"]] == [
        ("app", "prod", prod[-1]),
        ("app", "staging", staging[-1]),
    ]
    ret.execute(plan)
    assert prod[-1] in loc.names() and staging[-1] in loc.names()


def test_a_backup_dated_in_the_future_is_kept_and_pushes_no_real_backup_out(loc):
    real = [loc.backup("2026-11-%02dT02:00" % day) for day in (19, 20, 21, 22)]
    skewed = loc.backup("2027-11-20T02:00")  # its host's clock was a year ahead
    plan = run_plan(loc, {"keep_last": 1, "max_age_days": 2})
    decided = {b.name: (b.decision, b.reasons) for b in plan.backups}
    assert decided[skewed][0] == "kept"
    assert "later than this run's clock" in decided[skewed][1][0]
    assert sorted(b.name for b in plan.deletions) == real[:3]  # keep_last 1 is the newest real one
    assert [g["name"] for g in plan.result()["newest_verified"]] == [real[-1]]
    assert skewed not in loc.store.hashed
    # Within the tolerance a backup is an ordinary one.
    near = ret.plan(loc.store, ret.Policy(keep_last=1), t("2027-11-20T01:30"))
    assert [g["name"] for g in near.result()["newest_verified"]] == [skewed]


def test_a_manifest_with_a_kind_or_target_that_is_not_a_string_is_incomplete(loc):
    odd = loc.backup("2026-11-01T02:00", target={"not": "a name"})
    good = loc.backup("2026-11-02T02:00")
    result = run_plan(loc, {"keep_last": 1}).result()
    assert "target is not a string" in by_name(result["incomplete"])[odd]["problems"]
    assert [item["name"] for item in result["kept"]] == [good]


def test_the_temporary_file_of_a_killed_backup_is_incomplete_and_pruned_after_the_grace_period(loc):
    good = loc.backup("2026-11-01T02:00")
    leftover = "." + artifact.archive_name("mplp", t("2026-11-02T02:00"), ".dump.zst") + ".x1y2z3a4.partial"
    (loc.path / leftover).write_bytes(b"half a dump")
    os.utime(loc.path / leftover, (t("2026-11-02T02:05").timestamp(),) * 2)
    other_hidden = ".nfs000001"
    (loc.path / other_hidden).write_bytes(b"not ours")
    result = run_plan(loc, {"keep_last": 1}).result()
    item = by_name(result["incomplete"])[leftover]
    assert item["kind"] == "postgresql" and item["target"] == "mplp"
    assert "its writer stopped before finishing it" in item["problems"][0]
    assert other_hidden not in result["ignored"]
    young = ret.plan(loc.store, ret.Policy(keep_last=1), t("2026-11-02T03:00"), prune_incomplete=True)
    assert young.deletions == []
    ret.execute(run_plan(loc, {"keep_last": 1}, prune_incomplete=True, grace_hours=24))
    assert leftover not in loc.names() and good in loc.names() and other_hidden in loc.names()


def test_symbolic_links_are_ignored_and_the_backups_they_belong_to_left_alone(loc, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    linked_manifest = loc.backup("2026-11-01T02:00")
    target = elsewhere / artifact.manifest_name(linked_manifest)
    (loc.path / artifact.manifest_name(linked_manifest)).rename(target)
    (loc.path / artifact.manifest_name(linked_manifest)).symlink_to(target)
    linked_archive = loc.backup("2026-11-02T02:00")
    (loc.path / linked_archive).rename(elsewhere / linked_archive)
    (loc.path / linked_archive).symlink_to(elsewhere / linked_archive)
    newest = loc.backup("2026-11-03T02:00")
    plan = run_plan(loc, {"keep_last": 1}, prune_incomplete=True, grace_hours=0)
    result = plan.result()
    assert result["ignored"] == sorted([artifact.manifest_name(linked_manifest), linked_archive])
    assert plan.deletions == []
    for name in (linked_manifest, linked_archive):
        assert "symbolic link" in by_name(result["incomplete"])[name]["reason"]
    assert [item["name"] for item in result["kept"]] == [newest]


def test_execute_deletes_oldest_first_archive_before_manifest_and_is_idempotent(loc):
    names = [loc.backup("2026-11-%02dT02:00" % day) for day in (1, 2, 3, 4)]
    plan = run_plan(loc, {"keep_last": 2})
    done = ret.execute(plan)
    assert [item["name"] for item in done] == names[:2]
    assert loc.store.deleted == [
        names[0],
        artifact.manifest_name(names[0]),
        names[1],
        artifact.manifest_name(names[1]),
    ]
    assert loc.names() == sorted(names[2:] + [artifact.manifest_name(n) for n in names[2:]])
    again = run_plan(loc, {"keep_last": 2})
    assert again.deletions == []


def test_a_crash_between_archive_and_manifest_leaves_a_manifest_the_next_run_cleans(loc):
    names = [loc.backup("2026-11-%02dT02:00" % day) for day in (1, 2, 3)]
    loc.store.fail_delete = artifact.manifest_name(names[0])
    plan = run_plan(loc, {"keep_last": 1})
    with pytest.raises(stores.StoreError) as info:
        ret.execute(plan)
    assert str(info.value) == (
        "cannot delete %s: injected failure; already deleted: nothing"
        % loc.store.describe(loc.store.fail_delete)
    )
    assert names[0] not in loc.names() and artifact.manifest_name(names[0]) in loc.names()
    assert names[1] in loc.names()  # nothing after the failure was touched

    loc.store.fail_delete = None
    result = run_plan(loc, {"keep_last": 1}).result()
    assert by_name(result["incomplete"])[names[0]]["problems"] == [
        "the archive is missing (a deletion was interrupted, or it was removed by hand)"
    ]
    plan = run_plan(loc, {"keep_last": 1}, prune_incomplete=True, grace_hours=24)
    ret.execute(plan)
    assert loc.names() == sorted([names[2], artifact.manifest_name(names[2])])


def test_a_hash_that_cannot_be_read_stops_the_run(loc):
    loc.backup("2026-11-01T02:00")
    newest = loc.backup("2026-11-02T02:00")
    os.chmod(loc.path / newest, 0)

    def unreadable(name):
        raise stores.StoreError("cannot read %s: Permission denied" % loc.store.describe(name))

    loc.store.sha256 = unreadable
    with pytest.raises(stores.StoreError, match="Permission denied"):
        run_plan(loc, {"keep_last": 1})


def test_time_comes_from_the_manifest_then_the_name(loc):
    name = loc.backup("2026-11-01T02:00", started="2026-11-20T02:00:00Z")
    other = loc.backup("2026-11-10T02:00")
    result = run_plan(loc, {"keep_last": 1}).result()
    assert by_name(result["kept"])[name]["time"] == "2026-11-20T02:00:00Z"
    assert [item["name"] for item in result["deleted"]] == [other]


@pytest.mark.parametrize(
    "options,message",
    [
        ({"verify": "some"}, "verify must be newest or all"),
        ({"grace_hours": -1}, "between 0 and 876600 hours, not -1"),
        ({"grace_hours": float("inf")}, "must be a number of hours, not inf"),
        ({"grace_hours": float("nan")}, "must be a number of hours, not nan"),
    ],
)
def test_plan_option_errors(loc, options, message):
    with pytest.raises(ret.PolicyError, match=message):
        run_plan(loc, {"keep_last": 1}, **options)


# --- the runner ---------------------------------------------------------------------------
def request(loc=None, check_mode=False, diff=False, **params):
    """A Request of backup_retention with its defaults, for the directory of ``loc``."""
    options = {name: spec.get("default") for name, spec in backup_retention.argspec().items()}
    options["location"] = {"path": str(loc.path) if loc else "/nowhere", "s3": None}
    options.update(params)
    return Request(options, check_mode=check_mode, diff=diff)


def runner(loc, req):
    return ret.run(req, open_store=lambda location: loc.store, now=NOW)


def test_check_mode_deletes_nothing_and_reports_what_would_go_under_would_delete(loc):
    names = [loc.backup("2026-11-%02dT02:00" % day) for day in (1, 2, 3, 4)]
    before = loc.names()
    result = runner(loc, request(loc, check_mode=True, diff=True, keep_last=2))
    assert result["changed"] is True
    assert result["deleted"] == []
    assert [item["name"] for item in result["would_delete"]] == names[:2]
    assert loc.names() == before and loc.store.deleted == []
    assert result["msg"].startswith("would delete 2 (") and result["msg"].endswith(
        ", kept 2 in %s" % loc.path
    )
    assert result["diff"]["after"].splitlines() == names[2:]


def test_check_mode_with_nothing_to_delete_changes_nothing(loc):
    loc.backup("2026-11-01T02:00")
    result = runner(loc, request(loc, check_mode=True, keep_last=2))
    assert result["changed"] is False and result["deleted"] == [] and result["would_delete"] == []


def test_a_real_run_deletes_and_would_delete_stays_empty(loc):
    names = [loc.backup("2026-11-%02dT02:00" % day) for day in (1, 2, 3)]
    result = runner(loc, request(loc, keep_last=1))
    assert result["changed"] is True and result["would_delete"] == []
    assert [item["name"] for item in result["deleted"]] == names[:2]
    assert result["msg"].startswith("deleted 2 (")
    assert loc.names() == sorted([names[2], artifact.manifest_name(names[2])])
    again = runner(loc, request(loc, keep_last=1))
    assert again["changed"] is False and again["deleted"] == []


def test_a_held_check_mode_run_would_delete_nothing(loc):
    names = [loc.backup("2026-11-%02dT02:00" % day) for day in (1, 2, 3)]
    req = request(loc, check_mode=True, keep_last=1, current_failed=True)
    result = runner(loc, req)
    assert result["changed"] is False and result["deleted"] == [] and result["would_delete"] == []
    assert sorted(item["name"] for item in result["would_have_deleted"]) == names[:2]
    assert req.warnings == ["retention of %s: nothing deleted: the current backup failed" % loc.path]


def test_a_location_that_cannot_be_read_fails_saying_nothing_was_changed(tmp_path):
    req = request(location={"path": str(tmp_path / "missing")}, keep_last=1)
    with pytest.raises(OpsError) as info:
        ret.run(req, now=NOW)
    assert info.value.msg == (
        "retention of backups: the backup directory %s does not exist; nothing was changed"
        % (tmp_path / "missing")
    )


def test_a_failed_delete_stops_the_run_and_says_what_was_deleted(loc):
    names = [loc.backup("2026-11-%02dT02:00" % day) for day in (1, 2, 3)]
    loc.store.fail_delete = names[1]
    with pytest.raises(OpsError) as info:
        runner(loc, request(loc, keep_last=1))
    assert info.value.msg == (
        "retention of backups stopped: cannot delete %s: injected failure; already deleted: %s"
        % (loc.store.describe(names[1]), names[0])
    )
    assert info.value.result["changed"] is True
    assert [item["name"] for item in info.value.result["deleted"]] == [names[0]]

    loc.store.fail_delete = names[1]
    with pytest.raises(OpsError) as info:
        runner(loc, request(loc, keep_last=1))
    assert info.value.msg.endswith("; already deleted: nothing")
    assert info.value.result["changed"] is False and info.value.result["deleted"] == []


def test_an_invalid_policy_fails_before_the_location_is_opened():
    def never(location):
        raise AssertionError("an invalid policy must fail before the location is opened")

    with pytest.raises(OpsError, match="^invalid retention policy: no retention rule"):
        ret.run(request(), open_store=never, now=NOW)


def test_an_s3_location_without_boto3_fails_with_ansibles_message(monkeypatch):
    monkeypatch.setattr(stores, "load_boto3", lambda: ImportError("No module named 'boto3'"))
    req = request(location={"path": None, "s3": {"bucket": "b"}}, keep_last=1)
    with pytest.raises(OpsError) as info:
        ret.run(req, open_store=lambda location: pytest.fail("opened"), now=NOW)
    assert "Failed to import the required Python library (boto3)" in info.value.msg
    assert "This is required for an S3 location." in info.value.msg
    assert info.value.result["exception"] == "ImportError: No module named 'boto3'\n"
