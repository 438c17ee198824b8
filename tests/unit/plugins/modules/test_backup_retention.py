"""Module glue of backup_retention: clean failures for policies that cannot be applied, and
warnings for what an operator must look at (a backup dated after this host's clock)."""

import datetime

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.modules import backup_retention

NOW = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.UTC)


def write_backup(directory, moment, target="mplp"):
    name = artifact.archive_name(target, moment, ".dump.zst")
    fakes.write_backup(
        directory / name, b"dump of %s" % moment.isoformat().encode(), started=artifact.iso(moment)
    )
    return name


def run(tmp_path, check_mode=False, **params):
    module = fakes.FakeModule(
        backup_retention, check_mode=check_mode, location={"path": str(tmp_path)}, **params
    )
    with pytest.raises(Exit):
        backup_retention.run(module, now=NOW)
    return module


@pytest.mark.parametrize(
    "params,message",
    [
        ({"max_age_days": float("inf")}, "max_age_days must be a number of days, not inf"),
        ({"max_age_days": 800000.0}, "max_age_days must be between 0 and 36525 days"),
        ({"keep_last": 1, "incomplete_grace_hours": float("nan")}, "must be a number of hours, not nan"),
    ],
)
def test_a_policy_that_cannot_be_applied_fails_cleanly_and_deletes_nothing(tmp_path, params, message):
    names = [write_backup(tmp_path, NOW - datetime.timedelta(days=day)) for day in (1, 2, 3)]
    module = run(tmp_path, **params)
    assert module.result["failed"] and message in module.result["msg"]
    assert all((tmp_path / name).exists() for name in names)


def test_a_backup_dated_after_this_hosts_clock_is_kept_and_named_in_a_warning(tmp_path):
    real = [write_backup(tmp_path, NOW - datetime.timedelta(days=day)) for day in (1, 2)]
    skewed = write_backup(tmp_path, NOW + datetime.timedelta(days=300))
    module = run(tmp_path, check_mode=True, keep_last=1)
    assert [item["name"] for item in module.result["deleted"]] == [real[1]]
    assert skewed in {item["name"] for item in module.result["kept"]}
    assert len(module.warnings) == 1
    assert skewed in module.warnings[0] and "later than this host's clock" in module.warnings[0]
