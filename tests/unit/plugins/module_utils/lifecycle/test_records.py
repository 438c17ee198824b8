"""Every multiagent.ops/* annotation in one place: unique, and nowhere else in the code."""

import datetime
import pathlib
import re

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records

ROOT = pathlib.Path(__file__).resolve().parents[5]
# Values with the prefix that are not annotations: the format name of a namespace export.
NOT_ANNOTATIONS = {"multiagent.ops/kubernetes-config"}
LITERAL = re.compile(r"[\"'](multiagent\.ops/[a-z0-9.-]+)[\"']")


def test_every_record_is_named_once_and_has_the_prefix():
    assert len(set(records.ALL)) == len(records.ALL)
    assert all(value.startswith(records.PREFIX) for value in records.ALL)
    defined = [
        value for name, value in vars(records).items() if name.isupper() and name not in ("PREFIX", "ALL")
    ]
    assert sorted(defined) == sorted(records.ALL)  # ALL lists every one, none twice


def test_no_annotation_is_spelled_out_in_python_outside_records():
    found = {}
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        where = str(path.relative_to(ROOT))
        if where == "plugins/module_utils/lifecycle/records.py":
            continue
        source = path.read_text()
        if where.startswith("plugins/modules/"):  # the documentation names them for users
            source = source.split('RETURN = r"""', 1)[-1].split('"""', 1)[-1]
        for value in set(LITERAL.findall(source)) - NOT_ANNOTATIONS:
            found.setdefault(where, set()).add(value)
    assert not found, found


def test_the_yaml_names_only_known_annotations():
    pattern = re.compile(r"multiagent\.ops/[a-z][a-z0-9-]*")
    for base in ("playbooks", "roles"):
        for path in (ROOT / base).rglob("*"):
            if path.suffix not in (".yml", ".yaml", ".j2"):
                continue
            for value in pattern.findall(path.read_text()):
                assert value in records.ALL, "%s names %s" % (path, value)


def test_stamp_is_utc_to_the_second():
    moment = datetime.datetime(
        2026, 11, 22, 3, 0, 5, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
    )
    assert records.stamp(moment) == "2026-11-22T02:00:05Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", records.stamp())
