"""Owner mapping and object interpretation; comparisons, Secrets in output, YAML."""

import base64

import pytest
from factories import NOW, pod, replicaset, ts

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.objects import parse_cpu, parse_memory


def test_pods_map_to_workloads_through_owner_uids_not_names():
    rs = replicaset("mplp-core-7c9d", "mplp-core")
    # Named like another component, owned by core's ReplicaSet: the owners decide.
    impostor = pod("mplp-plan-abcde", owner_name="mplp-core-7c9d")
    sts_pod = pod("postgresql-0", owner_kind="StatefulSet", owner_name="postgresql")
    bare = pod("debug-shell")
    orphan_rs_pod = pod("x-1", owner_name="lonely-rs")
    mapping = wl.pod_workloads([impostor, sts_pod, bare, orphan_rs_pod], [rs])
    assert mapping["uid-pod-mplp-plan-abcde"] == ("Deployment", "mplp-core")
    assert mapping["uid-pod-postgresql-0"] == ("StatefulSet", "postgresql")
    assert "uid-pod-debug-shell" not in mapping
    assert mapping["uid-pod-x-1"] == ("ReplicaSet", "lonely-rs")


def test_owner_uid_mismatch_is_not_followed():
    rs = replicaset("mplp-core-7c9d", "mplp-core")
    p = pod("p", owner_name="mplp-core-7c9d")
    p["metadata"]["ownerReferences"][0]["uid"] = "some-other-uid"  # a recreated RS of that name
    assert wl.pod_workloads([p], [rs])["uid-pod-p"] == ("ReplicaSet", "mplp-core-7c9d")


def test_pod_summary():
    p = pod("p", ready=False, restarts=4, waiting="CrashLoopBackOff", age=120, last_termination_ago=30)
    s = wl.pod_summary(p, NOW)
    assert s["ready"] is False
    assert s["restarts"] == 4
    assert s["waiting"] == [{"container": "app", "reason": "CrashLoopBackOff"}]
    assert s["age_seconds"] == 120
    assert s["containers_ready"] == "0/1"
    assert s["last_termination"].startswith("2026-11-22T11:59:30")


def test_workload_replicas_for_statefulset_without_unavailable_field():
    sts = {
        "kind": "StatefulSet",
        "metadata": {"generation": 2},
        "spec": {"replicas": 3},
        "status": {"readyReplicas": 1, "availableReplicas": 1, "observedGeneration": 1},
    }
    r = wl.workload_replicas(sts)
    assert r == {
        "desired": 3,
        "ready": 1,
        "available": 1,
        "updated": 0,
        "unavailable": 2,
        "observed_generation_current": False,
    }


def test_recent_events_window_and_order():
    events = [
        {"reason": "A", "lastTimestamp": ts(10), "involvedObject": {"kind": "Pod", "name": "p"}},
        {"reason": "B", "eventTime": ts(5), "regarding": {"kind": "Pod", "name": "q"}, "note": "n"},
        {"reason": "C", "lastTimestamp": ts(2000), "involvedObject": {"kind": "Pod", "name": "p"}},
        {"reason": "D", "involvedObject": {}},
    ]
    got = wl.recent_events(events, NOW, 900)
    assert [e["reason"] for e in got] == ["B", "A"]
    assert got[0]["message"] == "n" and got[0]["object"] == "Pod/q"


def test_parse_time_variants():
    assert wl.parse_time("2026-11-22T12:00:00Z") == NOW
    assert wl.parse_time("2026-11-22T12:00:00.000000Z") == NOW
    assert wl.parse_time("garbage") is None
    assert wl.parse_time(None) is None


# -- comparing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "desired, live, expected",
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": 1}, {}, False),
        ({"a": None}, {}, True),
        ({"a": None}, {"a": 1}, False),
        ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2], "c": 3}}, True),
        ({"l": [{"name": "x"}]}, {"l": [{"name": "x", "default": 1}]}, True),
        ({"l": [{"name": "x"}]}, {"l": [{"name": "x"}, {"name": "y"}]}, False),
        ({"l": [1, 2]}, {"l": [2, 1]}, False),
        ({"flag": True}, {"flag": 1}, False),
        ({"n": 1}, {"n": 1.0}, True),
        ({"s": {}}, {"s": {"x": 1}}, True),
    ],
)
def test_is_subset(desired, live, expected):
    assert wl.is_subset(desired, live) is expected


# -- Secrets in output ------------------------------------------------------------------------


def b64(text):
    return base64.b64encode(text.encode()).decode()


def test_a_secret_is_a_core_secret():
    assert wl.is_secret({"apiVersion": "v1", "kind": "Secret"})
    assert wl.is_secret({"kind": "Secret"})  # a LIST item
    assert not wl.is_secret({"apiVersion": "example.com/v1", "kind": "Secret"})
    assert not wl.is_secret({"apiVersion": "v1", "kind": "ConfigMap"})


def test_redacted_secret_keeps_keys_and_says_which_values_change():
    live = {
        "metadata": {"name": "s", "annotations": {wl.LAST_APPLIED: '{"stringData": {"pw": "old-value"}}'}},
        "data": {"pw": b64("old-value"), "user": b64("admin")},
    }
    wanted = {
        "metadata": {"name": "s"},
        "data": {"pw": b64("new-value"), "user": b64("admin"), "new": "eA=="},
    }
    assert wl.redact_secret(live) == {
        "metadata": {"name": "s", "annotations": {wl.LAST_APPLIED: wl.REDACTED}},
        "data": {"pw": wl.REDACTED, "user": wl.REDACTED},
    }
    assert wl.redact_secret(wanted, compared_to=live)["data"] == {
        "pw": wl.REDACTED_CHANGED,
        "user": wl.REDACTED,
        "new": wl.REDACTED_CHANGED,
    }
    assert wl.redact_secret({"stringData": {"k": "v"}}) == {"stringData": {"k": wl.REDACTED}}
    assert live["data"]["pw"] == b64("old-value")  # the object itself is left alone
    assert wl.redact_secret(None) is None


def test_secret_values_both_sides_of_base64():
    values = wl.secret_values(
        [
            {"kind": "Secret", "data": {"a": b64("from-data-value"), "binary": "/w==", "gone": None}},
            {"kind": "Secret", "stringData": {"b": "from-string-value", "flag": True}},
        ]
    )
    assert values == {
        b64("from-data-value"),
        "from-data-value",
        "/w==",  # not text once decoded: only as written
        "from-string-value",
        b64("from-string-value"),
        "true",
        b64("true"),
    }


def test_maskable_values_are_long_and_not_shown_anyway():
    values = {"mplp-production", "postgres", "hunter2-long", "manifest", "settings", "short", 42}
    visible = [
        "mplp-production",
        "/var/backups/config-mplp-production-20261122T020000Z.tar.gz",
        "/var/backups/config-mplp-production-20261122T020000Z.tar.gz.manifest.json",
        {"files": ["ConfigMap/postgres-settings.yaml"], "objects": {"ConfigMap": 1}},
    ]
    assert wl.maskable(values, visible=visible) == {"hunter2-long"}
    assert wl.maskable(values) == {"mplp-production", "postgres", "hunter2-long", "manifest", "settings"}


def test_mask_replaces_long_values_longest_first():
    values = {"from-data-value", "from-data-value-longer", "short"}
    text = wl.mask('Secret "a" is invalid: data[k]: from-data-value-longer; short; ok', values)
    assert text == 'Secret "a" is invalid: data[k]: %s; short; ok' % wl.REDACTED
    assert wl.mask("", values) == "" and wl.mask(None, values) is None


# -- YAML ---------------------------------------------------------------------------------------


def test_yaml_is_sorted_and_multiline_strings_are_blocks():
    text = wl.dump_yaml({"b": 1, "a": {"z": "x", "config": "line one\nline two\n"}}).decode()
    assert text == "a:\n  config: |\n    line one\n    line two\n  z: x\nb: 1\n"


@pytest.mark.parametrize(
    "value",
    [
        "Welcome\x85to the system",
        "line1\x85line2\nline3\n",
        "x\u2028y",
        "x\u2029y\n",
        "\x85",
        "tab\there\n",
        "a\n\n\n",
    ],
)
def test_yaml_round_trips_strings_with_unicode_line_breaks(value):
    # YAML reads NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR as line breaks unless escaped.
    obj = {"data": {"k": value, value: "as a key"}}
    assert wl.load_yaml(wl.dump_yaml(obj), "test") == obj


def test_yaml_that_is_not_names_where():
    with pytest.raises(wl.YamlError, match="^ConfigMap/a.yaml is not valid YAML: "):
        wl.load_yaml(b"a: [1,\n", "ConfigMap/a.yaml")


# -- resource quantities (moved from test_quantity.py) ---------------------------------------


@pytest.mark.parametrize(
    "text,cores",
    [("250m", 0.25), ("1", 1.0), ("1.5", 1.5), ("100000n", 0.0001), ("2k", 2000.0), ("1e3m", 1.0)],
)
def test_cpu(text, cores):
    assert parse_cpu(text) == pytest.approx(cores)


@pytest.mark.parametrize(
    "text,size",
    [
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("2G", 2 * 10**9),
        ("128974848", 128974848),
        ("123Ki", 123 * 1024),
    ],
)
def test_memory(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("bad", ["", "12 Mi", "abc", "1.2.3Gi", "5XB"])
def test_bad_quantities_are_named(bad):
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse_memory(bad)
