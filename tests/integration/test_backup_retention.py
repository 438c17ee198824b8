"""multiagent.ops.backup_retention through ansible-playbook, on a directory and on the stack's
S3 server (moto): check mode, idempotence, the invariants, failures and secrets.

Backups are written here the way the backup modules write them (archive, then manifest),
with times in the past relative to now; each test has its own directory or key prefix.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import uuid
from pathlib import Path

import boto3
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
PLAYBOOK = "tests/integration/playbooks/backup_retention.yml"
HOST = "us-east-1"
MANIFEST = ".manifest.json"


def stamp(moment):
    return moment.strftime("%Y%m%dT%H%M%SZ")


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Backups:
    """A backup location seen from outside the module: a directory or a bucket prefix."""

    def __init__(self, kind, tmp_path, s3):
        self.kind = kind
        if kind == "directory":
            self.dir = tmp_path / "backups"
            self.dir.mkdir()
        else:
            self.s3 = s3
            self.prefix = "it-retention-%s" % uuid.uuid4().hex[:10]
            self.client = boto3.client(
                "s3",
                endpoint_url=s3["endpoint_url"],
                region_name=s3["region"],
                aws_access_key_id=s3["access_key"],
                aws_secret_access_key=s3["secret_key"],
            )

    def location(self):
        if self.kind == "directory":
            return {"path": str(self.dir)}
        s3 = self.s3
        return {
            "s3": {
                "bucket": s3["bucket"],
                "prefix": self.prefix,
                "endpoint_url": s3["endpoint_url"],
                "region": s3["region"],
                "access_key": s3["access_key"],
                "secret_key": s3["secret_key"],
            }
        }

    def put(self, name, data):
        if self.kind == "directory":
            (self.dir / name).write_bytes(data)
        else:
            self.client.put_object(Bucket=self.s3["bucket"], Key="%s/%s" % (self.prefix, name), Body=data)

    def names(self):
        if self.kind == "directory":
            return sorted(os.listdir(self.dir))
        answer = self.client.list_objects_v2(Bucket=self.s3["bucket"], Prefix=self.prefix + "/")
        return sorted(item["Key"].split("/", 1)[1] for item in answer.get("Contents", []))

    def backup(self, days_ago, target="mplp_it", corrupt=False, manifest=True):
        """One backup from ``days_ago`` days before now; returns its archive name."""
        moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days_ago)
        name = "%s-%s.dump.zst" % (target, stamp(moment))
        data = os.urandom(2048)
        self.put(name, data)
        if manifest:
            body = {
                "manifest_version": 1,
                "kind": "postgresql",
                "target": target,
                "file": name,
                "format": "custom",
                "compression": "zstd",
                "size": len(data),
                "sha256": hashlib.sha256(b"not the data" if corrupt else data).hexdigest(),
                "started": iso(moment),
                "finished": iso(moment + datetime.timedelta(seconds=30)),
                "status": "complete",
            }
            self.put(name + MANIFEST, json.dumps(body).encode())
        return name


@pytest.fixture
def s3(stack_facts):
    facts = stack_facts["s3"]
    return dict(
        facts,
        access_key=Path(facts["access_key_file"]).read_text().strip(),
        secret_key=Path(facts["secret_key_file"]).read_text().strip(),
    )


@pytest.fixture(params=["directory", "s3"])
def backups(request, tmp_path, s3):
    return Backups(request.param, tmp_path, s3)


def retention(ansible, backups, args=(), **options):
    extra = {"retention_location": backups.location()}
    extra.update({"retention_%s" % key: value for key, value in options.items()})
    run = ansible(PLAYBOOK, limit=HOST, extra_vars=extra, args=args)
    return run, run.results("Retention call", HOST)


def names_of(items):
    return sorted(item["name"] for item in items)


def with_manifests(names):
    return sorted(names + [name + MANIFEST for name in names])


def test_check_mode_then_delete_then_nothing_more(ansible, backups):
    names = [backups.backup(days) for days in (6, 5, 4, 3, 2, 1)]
    before = backups.names()

    run, check = retention(ansible, backups, args=["--check", "--diff"], keep_last=2)
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    assert check["changed"] is True
    assert check["deleted"] == []  # check mode deletes nothing, and says so
    assert names_of(check["would_delete"]) == sorted(names[:4])
    assert backups.names() == before  # check mode deletes nothing
    assert check["diff"]["before"].splitlines() == sorted(names)
    assert check["diff"]["after"].splitlines() == sorted(names[4:])
    assert check["msg"].startswith("would delete 4 (")

    run, real = retention(ansible, backups, keep_last=2)
    assert run.rc == 0 and real["changed"] is True
    assert names_of(real["deleted"]) == sorted(names[:4])
    assert backups.names() == with_manifests(names[4:])
    assert real["newest_verified"][0]["name"] == names[-1]
    assert {item["reason"] for item in real["deleted"]} == {"deleted: not selected by keep_last 2"}

    run, again = retention(ansible, backups, keep_last=2)
    assert run.rc == 0 and again["changed"] is False and again["deleted"] == []
    run, again_check = retention(ansible, backups, args=["--check"], keep_last=2)
    assert again_check["changed"] is False and again_check["would_delete"] == []
    assert backups.names() == with_manifests(names[4:])


def test_newest_verified_survives_a_policy_that_deletes_everything(ansible, backups):
    names = [backups.backup(days) for days in (40, 30, 20)]
    run, result = retention(ansible, backups, max_age_days=7)
    assert run.rc == 0, run.failure_messages()
    assert names_of(result["deleted"]) == sorted(names[:2])
    assert [item["name"] for item in result["kept"]] == [names[2]]
    assert result["kept"][0]["reason"] == (
        "kept: newest verified backup (the policy alone would delete it: older than 7 days)"
    )
    assert backups.names() == with_manifests(names[2:])


def test_corrupt_newest_protects_the_next_older_verified_one(ansible, backups):
    older = [backups.backup(days) for days in (30, 20)]
    corrupt = backups.backup(10, corrupt=True)
    run, result = retention(ansible, backups, max_age_days=7)
    assert run.rc == 0, run.failure_messages()
    assert result["newest_verified"][0]["name"] == older[1]
    assert names_of(result["deleted"]) == [older[0]]
    assert names_of(result["incomplete"]) == [corrupt]
    assert result["incomplete"][0]["problems"][0].startswith("sha256 is ")
    assert any("does not match its manifest" in w for w in result.get("warnings", []))
    assert backups.names() == with_manifests([older[1], corrupt])


def test_failed_current_backup_deletes_nothing(ansible, backups):
    names = [backups.backup(days) for days in (4, 3, 2, 1)]
    before = backups.names()
    run, held = retention(ansible, backups, keep_last=1, current_failed=True)
    assert run.rc == 0, run.failure_messages()
    assert held["changed"] is False and held["held"] is True and held["deleted"] == []
    assert names_of(held["would_have_deleted"]) == sorted(names[:3])
    assert any("nothing deleted: the current backup failed" in w for w in held.get("warnings", []))

    missing = "mplp_it-20991231T000000Z.dump.zst"
    run, held = retention(ansible, backups, keep_last=1, current=missing)
    assert held["held"] is True and held["hold_reason"].startswith(
        "the current backup %s is not in" % missing
    )

    unfinished = backups.backup(0, manifest=False)
    run, held = retention(ansible, backups, keep_last=1, current=unfinished)
    assert held["held"] is True and "no manifest" in held["hold_reason"]
    assert backups.names() == sorted(before + [unfinished])

    run, fine = retention(ansible, backups, keep_last=1, current=names[-1])
    assert fine["held"] is False and names_of(fine["deleted"]) == sorted(names[:3])


def test_seed_idiom_max_age_alone(ansible, backups):
    old = [backups.backup(days) for days in (9, 8)]
    young = [backups.backup(days) for days in (6, 1)]
    run, result = retention(ansible, backups, max_age_days=7)
    assert run.rc == 0, run.failure_messages()
    assert names_of(result["deleted"]) == sorted(old)
    assert {item["reason"] for item in result["deleted"]} == {"deleted: older than 7 days"}
    assert backups.names() == with_manifests(young)


def test_incomplete_backups_are_pruned_only_when_asked_and_after_the_grace_period(ansible, tmp_path, s3):
    backups = Backups("directory", tmp_path, s3)
    good = backups.backup(1)
    stale = backups.backup(3, manifest=False)
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)).timestamp()
    os.utime(backups.dir / stale, (old, old))
    fresh = backups.backup(0, manifest=False)
    (backups.dir / "README.txt").write_text("not a backup")

    run, result = retention(ansible, backups, keep_last=5)
    assert result["changed"] is False and names_of(result["incomplete"]) == sorted([stale, fresh])
    run, result = retention(ansible, backups, keep_last=5, prune_incomplete=True, grace_hours=12)
    assert run.rc == 0 and names_of(result["deleted"]) == [stale]
    assert result["ignored"] == ["README.txt"]
    assert backups.names() == sorted(with_manifests([good]) + [fresh, "README.txt"])


def test_secrets_never_appear_in_verbose_diff_output(ansible, s3, tmp_path):
    backups = Backups("s3", tmp_path, s3)
    for days in (3, 2, 1):
        backups.backup(days)
    extra = {"retention_location": backups.location(), "retention_keep_last": 1}
    run = ansible(PLAYBOOK, limit=HOST, extra_vars=extra, args=["-vvv", "--diff"], json_output=False)
    assert run.rc == 0, run.stdout[-3000:]
    assert "changed: [us-east-1]" in run.stdout
    for value in (s3["secret_key"], s3["access_key"]):
        assert value not in run.stdout and value not in run.stderr


def test_missing_bucket_and_unreachable_endpoint_fail_naming_them(ansible, s3, tmp_path):
    backups = Backups("s3", tmp_path, s3)
    location = backups.location()
    location["s3"]["bucket"] = "no-such-bucket-%s" % uuid.uuid4().hex[:6]
    run = ansible(PLAYBOOK, limit=HOST, extra_vars={"retention_location": location, "retention_keep_last": 1})
    assert run.rc != 0
    assert run.failure_messages() == [
        "%s: retention of backups: cannot list s3://%s/%s/ at %s: "
        "the bucket %s does not exist (NoSuchBucket); nothing was changed"
        % (HOST, location["s3"]["bucket"], backups.prefix, s3["endpoint_url"], location["s3"]["bucket"])
    ]
    location["s3"].update(bucket=s3["bucket"], endpoint_url="http://127.0.0.1:9")
    run = ansible(PLAYBOOK, limit=HOST, extra_vars={"retention_location": location, "retention_keep_last": 1})
    assert run.rc != 0
    (message,) = run.failure_messages()
    assert (
        "cannot list s3://%s/%s/ at http://127.0.0.1:9: the endpoint is unreachable"
        % (
            s3["bucket"],
            backups.prefix,
        )
        in message
    )
