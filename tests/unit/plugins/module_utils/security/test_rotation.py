"""security/rotation.py and security/rotate.py: who a rotation restarts and how (so that the
next deploy agrees), the record, and the runner on an in-memory API server."""

from __future__ import annotations

import base64
import copy
import datetime

import pytest
from fakes import FakeApi

from ansible_collections.multiagent.ops.plugins.module_utils.backup import vault
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, Request
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply import plan as ap
from ansible_collections.multiagent.ops.plugins.module_utils.security import rotate, rotation

NS = "mplp"
CHECKSUM = "multiagent.ops/config-checksum"
SKIP = "multiagent.ops/config-checksum-skip"
RESTARTED = "kubectl.kubernetes.io/restartedAt"
NOW = datetime.datetime(2026, 12, 6, 22, 0, tzinfo=datetime.UTC)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def secret(name="db", **data):
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS, "resourceVersion": "7"},
        "data": {k: b64(v) for k, v in data.items()},
    }


def config_map(name="cfg", **data):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS},
        "data": data,
    }


def workload(name, kind="Deployment", env=(), env_from=(), volumes=(), pull=(), annotations=None):
    container = {"name": "app", "image": "app:1"}
    if env:
        container["env"] = list(env)
    if env_from:
        container["envFrom"] = list(env_from)
    spec = {"containers": [container]}
    if volumes:
        spec["volumes"] = list(volumes)
    if pull:
        spec["imagePullSecrets"] = [{"name": p} for p in pull]
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "annotations": dict(annotations or {})},
        "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": spec}},
    }


def secret_env(name, key="password"):
    return {"name": "X_" + key.upper(), "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}


def deployed(objects):
    """The objects as k8s_apply leaves them: workloads stamped with the checksum of the batch's
    Secrets and ConfigMaps they read."""
    types = {}
    for obj in objects:
        api = resources.get(obj["kind"])
        types[(obj["apiVersion"], obj["kind"])] = api
    done = ap.plan(copy.deepcopy(objects), types, NS)
    return [item.manifest for item in done.items]


def by_name(objects, name):
    return next(o for o in objects if o["metadata"]["name"] == name)


def template_annotations(obj):
    return obj["spec"]["template"]["metadata"].get("annotations") or {}


# -- values --------------------------------------------------------------------------------


def test_new_values_gives_the_changed_keys_and_generates_letters_and_digits():
    values, changed = rotation.new_values({"a": "1", "b": "2"}, {"a": "1", "b": "3"}, ["c"], length=20)
    assert changed == ["b", "c"] and values["a"] == "1" and values["b"] == "3"
    assert len(values["c"]) == 20 and values["c"].isalnum()
    assert rotation.new_values({}, None, ["c"])[0]["c"] != rotation.new_values({}, None, ["c"])[0]["c"]


@pytest.mark.parametrize(
    "data, generate, length, message",
    [
        ({"a": ""}, [], 32, "key a is empty"),
        ({"a": None}, [], 32, "key a is empty"),
        ({"a": "x"}, ["a"], 32, "both given"),
        ({}, [], 32, "nothing to rotate"),
        ({}, ["a"], 8, "at least 16"),
    ],
)
def test_bad_new_values_are_refused_naming_the_key(data, generate, length, message):
    with pytest.raises(
        rotation.RotationError, match=message.replace("key a is empty", "key a is empty")
    ) as caught:
        rotation.new_values({"a": "old"}, data, generate, length)
    assert "old" not in str(caught.value)


# -- users and how they restart --------------------------------------------------------------


def test_users_are_the_workloads_whose_template_reads_the_secret_not_its_image_pull():
    objects = [
        workload("env", env=[secret_env("db")]),
        workload("envfrom", env_from=[{"secretRef": {"name": "db"}}]),
        workload("volume", kind="StatefulSet", volumes=[{"name": "v", "secret": {"secretName": "db"}}]),
        workload(
            "projected",
            kind="DaemonSet",
            volumes=[{"name": "v", "projected": {"sources": [{"secret": {"name": "db"}}]}}],
        ),
        workload("pull", pull=["db"]),
        workload("other", env=[secret_env("other")]),
    ]
    found = rotation.users(objects, "db")
    assert [(u.kind, u.name) for u in found] == [
        ("Deployment", "env"),
        ("Deployment", "envfrom"),
        ("StatefulSet", "volume"),
        ("DaemonSet", "projected"),
    ]


def test_a_deploy_stamped_user_gets_the_checksum_the_next_deploy_computes():
    """The property that keeps rotate and deploy from undoing each other: the restart stamp is
    what k8s_apply stamps when its batch carries the new value."""
    batch = [
        secret(password="old"),
        config_map(LOG="info"),
        workload("app", env=[secret_env("db")], env_from=[{"configMapRef": {"name": "cfg"}}]),
    ]
    live = deployed(batch)
    app = by_name(live, "app")
    [user] = rotation.users([app], "db")
    before = {("Secret", "db"): {"password": b"old"}, ("ConfigMap", "cfg"): {"LOG": b"info"}}
    after = rotation.content_after(before, "db", {"password": "new"})
    plan = rotation.restart_plan(user, "db", before, after, "stamp")
    next_deploy = by_name(deployed([secret(password="new"), batch[1], batch[2]]), "app")
    assert plan["how"] == "checksum"
    assert plan["before"] == template_annotations(app)[CHECKSUM]
    assert plan["after"] == template_annotations(next_deploy)[CHECKSUM] != plan["before"]
    assert plan["patch"] == {"spec": {"template": {"metadata": {"annotations": {CHECKSUM: plan["after"]}}}}}


def test_the_references_a_stamp_covers_are_found_when_the_deploy_did_not_carry_them_all():
    """The template also reads a Secret the deploy's batch did not carry (made by hand): the
    stamp covers the others only, and so does the new one."""
    batch = [secret(password="old"), workload("app", env=[secret_env("db"), secret_env("external", "token")])]
    app = by_name(deployed(batch), "app")
    [user] = rotation.users([app], "db")
    before = {("Secret", "db"): {"password": b"old"}, ("Secret", "external"): {"token": b"t"}}
    after = rotation.content_after(before, "db", {"password": "new"})
    plan = rotation.restart_plan(user, "db", before, after, "stamp")
    next_deploy = by_name(deployed([secret(password="new"), batch[1]]), "app")
    assert plan["how"] == "checksum" and plan["after"] == template_annotations(next_deploy)[CHECKSUM]


@pytest.mark.parametrize("stamp", [None, "0" * 64])
def test_a_user_without_a_reproducible_stamp_is_restarted_with_restarted_at(stamp):
    app = workload("app", env=[secret_env("db")])
    if stamp:
        app["spec"]["template"]["metadata"]["annotations"] = {CHECKSUM: stamp}
    [user] = rotation.users([app], "db")
    before = {("Secret", "db"): {"password": b"old"}}
    plan = rotation.restart_plan(
        user, "db", before, rotation.content_after(before, "db", {"password": "n"}), "T1"
    )
    assert plan["how"] == "restartedAt" and plan["patch"]["spec"]["template"]["metadata"]["annotations"] == {
        RESTARTED: "T1"
    }


def test_a_workload_that_reads_the_secret_only_at_start_up_is_kept_and_its_stamp_ignores_it():
    database = workload(
        "postgresql", kind="StatefulSet", env=[secret_env("db")], annotations={SKIP: "Secret/db"}
    )
    stamped = by_name(deployed([secret(password="old"), database]), "postgresql")
    assert CHECKSUM not in template_annotations(stamped)  # k8s_apply leaves the skipped Secret out
    [user] = rotation.users([stamped], "db")
    plan = rotation.restart_plan(user, "db", {}, {}, "T1")
    assert plan["how"] == "kept" and plan["patch"] is None and SKIP in plan["reason"]


def test_checksum_skips_reads_kinds_and_names_and_ignores_the_rest():
    obj = workload("w", annotations={SKIP: "Secret/a, ConfigMap/b,Pod/c,Secret/,junk"})
    assert ap.checksum_skips(obj) == {("Secret", "a"), ("ConfigMap", "b")}


# -- the record ----------------------------------------------------------------------------


def test_the_record_round_trips_and_refuses_another_secrets_or_format():
    record = rotation.new_record(
        NS, "db", NOW.isoformat(), {"password": "old", "added": None}, {"password": "new"}
    )
    data = rotation.encode_record(record)
    back = rotation.decode_record(data, "r", NS, "db")
    assert back["previous"] == {"password": "old", "added": None} and back["rotated"] == {"password": "new"}
    assert b"old" not in data  # values are base64 in the (then encrypted) record
    with pytest.raises(rotation.RotationError, match="records Secret mplp/db, not mplp/other"):
        rotation.decode_record(data, "r", NS, "other")
    with pytest.raises(rotation.RotationError, match="not a rotation record"):
        rotation.decode_record(b'{"format": "x"}', "r")


def test_rollback_values_put_back_changed_keys_and_remove_added_ones():
    record = {"previous": {"password": "old", "added": None, "same": "s"}}
    assert rotation.rollback_values(record, {"password": "new", "added": "x", "same": "s"}) == (
        {"password": "old"},
        ["added"],
    )
    assert rotation.rollback_values(record, {"password": "old", "same": "s"}) == ({}, [])


def test_the_newest_record_of_the_secret_is_chosen_by_name():
    names = [
        rotation.record_name(NS, "db", NOW),
        rotation.record_name(NS, "db", NOW + datetime.timedelta(seconds=1)),
        rotation.record_name(NS, "db-other", NOW + datetime.timedelta(hours=1)),
        "unrelated.txt",
    ]
    assert rotation.newest_record(names, NS, "db") == names[1]
    assert rotation.newest_record(names, NS, "nope") is None


# -- the runner on an in-memory API server ---------------------------------------------------


def api_with(objects):
    api = FakeApi()
    for obj in objects:
        res = resources.get(obj["kind"])
        api.put_object(res.object_path(NS, obj["metadata"]["name"]), obj)
    return api


def request(tmp_path, check_mode=False, diff=False, **params):
    base = {
        "namespace": NS,
        "name": "db",
        "state": "rotated",
        "data": None,
        "generate": [],
        "generate_length": 32,
        "record_dir": str(tmp_path / "records"),
        "record": None,
        "vault_password": "records-pass",
        "vault_id": None,
        "restart": True,
        "database": None,
        "wait": False,
        "wait_timeout": 10,
    }
    base.update(params)
    masked = set()
    req = Request(base, check_mode=check_mode, diff=diff, mask=masked.update)
    req.masked_values = masked
    return req


@pytest.fixture
def platform():
    batch = [
        secret(password="old", user="app"),
        config_map(LOG="info"),
        workload("app", env=[secret_env("db")], env_from=[{"configMapRef": {"name": "cfg"}}]),
        workload("worker"),
        workload("postgresql", kind="StatefulSet", env=[secret_env("db")], annotations={SKIP: "Secret/db"}),
    ]
    return deployed(batch)


def stored(api, kind, name):
    return api.objects[resources.get(kind).object_path(NS, name)]


def test_rotate_then_roll_back_on_the_api(platform, tmp_path):
    api = api_with(platform)
    original = template_annotations(stored(api, "Deployment", "app"))[CHECKSUM]
    req = request(tmp_path, diff=True, data={"password": "new-password-1"})
    out = rotate.run(req, api, now=NOW)
    assert out["changed"] and out["keys"] == ["password"]
    assert {w["name"]: w["how"] for w in out["workloads"]} == {"app": "checksum", "postgresql": "kept"}
    assert base64.b64decode(stored(api, "Secret", "db")["data"]["password"]) == b"new-password-1"
    assert base64.b64decode(stored(api, "Secret", "db")["data"]["user"]) == b"app"  # other keys kept
    rotated = template_annotations(stored(api, "Deployment", "app"))[CHECKSUM]
    assert rotated != original
    assert template_annotations(stored(api, "Deployment", "worker")) == {}
    assert {"old", "new-password-1"} <= req.masked_values
    assert "new-password-1" not in repr(out) and "old" not in repr(out["diff"])
    data = open(out["record"]["path"], "rb").read()
    record = rotation.decode_record(vault.decrypt(data, "records-pass"), "r", NS, "db")
    assert record["previous"] == {"password": "old"}

    again = rotate.run(request(tmp_path, data={"password": "new-password-1"}), api, now=NOW)
    assert not again["changed"] and again["record"] is None

    back = rotate.run(request(tmp_path, state="rolled_back"), api, now=NOW)
    assert back["changed"] and back["keys"] == ["password"]
    assert base64.b64decode(stored(api, "Secret", "db")["data"]["password"]) == b"old"
    assert template_annotations(stored(api, "Deployment", "app"))[CHECKSUM] == original
    assert not rotate.run(request(tmp_path, state="rolled_back"), api, now=NOW)["changed"]


def test_check_mode_reads_and_plans_but_writes_no_record_and_no_object(platform, tmp_path):
    api = api_with(platform)
    before = copy.deepcopy(api.objects)
    out = rotate.run(request(tmp_path, check_mode=True, generate=["password"]), api, now=NOW)
    assert out["changed"] and out["record"] is None and out["generated"] == ["password"]
    assert api.objects == before and not (tmp_path / "records").exists()
    assert not [c for c in api.calls if c[0] != "GET"]


def test_a_missing_secret_or_a_database_key_not_rotated_changes_nothing(platform, tmp_path):
    api = api_with(platform)
    with pytest.raises(OpsError, match="Secret mplp/nope does not exist.*nothing was changed|does not exist"):
        rotate.run(request(tmp_path, name="nope", data={"a": "bbbbbbbb"}), api)
    with pytest.raises(OpsError, match="database.key password is not among the keys rotated"):
        rotate.run(request(tmp_path, data={"user": "x"}, database={"key": "password", "role": "app"}), api)
    assert not [c for c in api.calls if c[0] != "GET"]


def test_a_secret_changed_meanwhile_is_not_overwritten_and_the_role_is_changed_back(
    platform, tmp_path, monkeypatch
):
    calls = []

    class Database:
        def __init__(self, params, client):
            self.role, self.key = params["role"], params["key"]

        def change(self, old, new):
            calls.append((old, new))
            return {"role": self.role, "altered": True, "verified": True}

    monkeypatch.setattr(rotate, "Database", Database)
    api = api_with(platform)
    api.refuse[("PATCH", resources.SECRET.object_path(NS, "db"))] = 409
    with pytest.raises(OpsError) as caught:
        rotate.run(
            request(
                tmp_path, data={"password": "new-password-1"}, database={"key": "password", "role": "app"}
            ),
            api,
        )
    assert "changed since it was read" in caught.value.msg
    assert "has its old password again" in caught.value.msg and "nothing was changed" in caught.value.msg
    assert calls == [("old", "new-password-1"), ("new-password-1", "old")]
    assert base64.b64decode(stored(api, "Secret", "db")["data"]["password"]) == b"old"
    # nothing changed in the end: no record is left for a rollback to act on
    assert caught.value.result["record"] is None and not list((tmp_path / "records").iterdir())


def test_a_role_that_cannot_be_changed_leaves_nothing_changed_and_no_record(platform, tmp_path, monkeypatch):
    class Database:
        def __init__(self, params, client):
            self.role, self.key = params["role"], params["key"]

        def change(self, old, new):
            raise rotate.pg_content.SqlError("cannot log in as role app: password authentication failed")

    monkeypatch.setattr(rotate, "Database", Database)
    api = api_with(platform)
    with pytest.raises(OpsError) as caught:
        rotate.run(
            request(
                tmp_path, data={"password": "new-password-1"}, database={"key": "password", "role": "app"}
            ),
            api,
        )
    assert "password authentication failed" in caught.value.msg and "nothing was changed" in caught.value.msg
    assert caught.value.result["record"] is None and not caught.value.result["changed"]
    assert base64.b64decode(stored(api, "Secret", "db")["data"]["password"]) == b"old"
    assert not [c for c in api.calls if c[0] != "GET"]


def test_a_database_password_the_secret_does_not_hold_yet_is_not_rotated(platform, tmp_path):
    api = api_with(platform)
    for mode in (False, True):
        with pytest.raises(OpsError) as caught:
            rotate.run(
                request(
                    tmp_path,
                    check_mode=mode,
                    data={"admin": "new-password-1"},
                    database={"key": "admin", "role": "app", "login_user": "postgres"},
                ),
                api,
            )
        assert "holds no admin yet: role app's current password is unknown" in caught.value.msg
        assert "nothing was changed" in caught.value.msg
    assert not [c for c in api.calls if c[0] != "GET"] and not (tmp_path / "records").exists()


def test_a_record_without_the_roles_old_password_does_not_roll_the_role_back(platform, tmp_path, monkeypatch):
    class Database:
        def __init__(self, params, client):
            self.role = params["role"]

        def can_login(self, password):
            raise AssertionError("no login without a password to try")

    monkeypatch.setattr(rotate, "Database", Database)
    api = api_with(platform)
    record = rotation.new_record(
        NS,
        "db",
        NOW.isoformat(),
        {"admin": None},
        {"admin": "new-password-1"},
        {"role": "app", "key": "admin"},
    )
    directory = tmp_path / "records"
    directory.mkdir()
    path = directory / rotation.record_name(NS, "db", NOW)
    path.write_bytes(vault.encrypt(rotation.encode_record(record), "records-pass"))
    with pytest.raises(OpsError) as caught:
        rotate.run(request(tmp_path, state="rolled_back", database={"role": "app", "key": "admin"}), api)
    assert "holds no previous password of role app" in caught.value.msg
    assert "nothing was changed" in caught.value.msg
    assert not [c for c in api.calls if c[0] != "GET"]


def test_a_record_of_another_secret_or_a_wrong_vault_password_changes_nothing(platform, tmp_path):
    api = api_with(platform)
    out = rotate.run(request(tmp_path, data={"password": "new-password-1"}), api, now=NOW)
    with pytest.raises(OpsError, match="cannot decrypt rotation record"):
        rotate.run(request(tmp_path, state="rolled_back", vault_password="wrong"), api)
    with pytest.raises(OpsError, match="records Secret mplp/db, not mplp/other"):
        rotate.run(request(tmp_path, name="other", state="rolled_back", record=out["record"]["path"]), api)


def test_a_refused_update_of_the_secret_changes_nothing_and_restarts_nothing(platform, tmp_path):
    api = api_with(platform)
    api.refuse[("PATCH", resources.SECRET.object_path(NS, "db"))] = 500
    with pytest.raises(OpsError) as caught:
        rotate.run(request(tmp_path, data={"password": "new-password-1"}), api)
    assert "Failed to update Secret mplp/db: HTTP 500" in caught.value.msg
    assert "nothing was changed" in caught.value.msg and caught.value.result["record"] is None
    assert [c for c in api.calls if c[0] != "GET"] == [("PATCH", resources.SECRET.object_path(NS, "db"))]


def test_a_restarted_at_restart_is_never_stamped_with_the_second_of_the_last_one(monkeypatch):
    """The same stamp would be no change at all: like k8s_rollout, wait for the next second."""
    first = datetime.datetime(2026, 12, 6, 22, 0, 0, tzinfo=datetime.UTC)
    app = workload("app", env=[secret_env("db")])
    app["spec"]["template"]["metadata"]["annotations"] = {RESTARTED: "2026-12-06T22:00:00Z"}
    [user] = rotation.users([app], "db")
    clock = iter([first, first + datetime.timedelta(seconds=1)])
    slept = []
    monkeypatch.setattr(rotate.k8s_rollout, "local_now", lambda: next(clock))
    monkeypatch.setattr(rotate.time, "sleep", slept.append)
    assert rotate._restart_stamp([user]) == "2026-12-06T22:00:01Z" and slept == [1.0]
