"""backup_retention: clean failures for policies that cannot be applied, warnings for what an
operator must look at (a backup dated after this host's clock), and its documentation against
its argument spec (the location options come from the multiagent.ops.s3 doc fragment). The
runner itself is tested in module_utils/backup/test_retention.py."""

import datetime

import fakes
import pytest
import yaml
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.doc_fragments.s3 import ModuleDocFragment as S3Docs
from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import retention as ret
from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
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
        finish(module, ret.run, now=NOW)
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


def test_a_policy_without_any_rule_is_refused_and_deletes_nothing(tmp_path):
    """(Moved from tests/integration/test_backup_retention.py: option validation only.)"""
    name = write_backup(tmp_path, NOW - datetime.timedelta(days=1))
    module = run(tmp_path)
    assert module.result["failed"] is True
    assert module.result["msg"] == (
        "invalid retention policy: no retention rule: give at least one of keep_last, keep_daily, "
        "keep_weekly, keep_monthly, keep_yearly or max_age_days"
    )
    assert (tmp_path / name).exists()


def test_a_backup_dated_after_this_hosts_clock_is_kept_and_named_in_a_warning(tmp_path):
    real = [write_backup(tmp_path, NOW - datetime.timedelta(days=day)) for day in (1, 2)]
    skewed = write_backup(tmp_path, NOW + datetime.timedelta(days=300))
    module = run(tmp_path, check_mode=True, keep_last=1)
    assert [item["name"] for item in module.result["would_delete"]] == [real[1]]
    assert skewed in {item["name"] for item in module.result["kept"]}
    assert len(module.warnings) == 1
    assert skewed in module.warnings[0] and "later than this host's clock" in module.warnings[0]


# --- documentation against the argument spec ------------------------------------------------
DOC = yaml.safe_load(backup_retention.DOCUMENTATION)
RETURN = yaml.safe_load(backup_retention.RETURN)


def documented(options):
    """The parts of documented options that an argument spec also says."""
    shape = {}
    for name, doc in options.items():
        entry = {
            key: doc[key] for key in ("type", "default", "choices", "elements", "required") if key in doc
        }
        entry.setdefault("required", False)
        if "suboptions" in doc:
            entry["options"] = documented(doc["suboptions"])
        shape[name] = entry
    return shape


def specified(spec):
    shape = {}
    for name, arg in spec.items():
        entry = {
            key: arg[key] for key in ("type", "default", "choices", "elements", "required") if key in arg
        }
        entry.setdefault("required", False)
        if "options" in arg:
            entry["options"] = specified(arg["options"])
        shape[name] = entry
    return shape


def test_the_location_is_documented_by_the_s3_fragment_and_matches_the_argspec():
    assert DOC["extends_documentation_fragment"] == ["multiagent.ops.s3.location"]
    assert "location" not in DOC["options"]
    fragment = yaml.safe_load(S3Docs.LOCATION)["options"]
    assert documented(fragment) == specified({"location": stores.LOCATION_ARGSPEC})
    assert backup_retention.argspec()["location"] is stores.LOCATION_ARGSPEC


def test_the_s3_fragment_documents_the_s3_argspec():
    s3 = yaml.safe_load(S3Docs.DOCUMENTATION)["options"]["s3"]["suboptions"]
    assert documented(s3) == specified(stores.S3_ARGSPEC)


def test_every_other_option_is_documented_as_specified():
    spec = dict(backup_retention.argspec())
    del spec["location"]
    assert documented(DOC["options"]) == specified(spec)


def test_the_check_mode_result_is_documented():
    assert "would_delete" in RETURN and RETURN["would_delete"]["returned"] == "always"
    assert "RV(would_delete)" in DOC["attributes"]["check_mode"]["description"]
