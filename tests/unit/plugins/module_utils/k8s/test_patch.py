"""The one patch loop: in order, stopping at the first failure, saying what was done."""

import pytest
from fakes import FakeApi

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import patch, resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError

WEB = resources.DEPLOYMENT.object_path("prod", "web")
API = resources.DEPLOYMENT.object_path("prod", "api")
JOB = resources.CRON_JOB.object_path("prod", "report")


def cluster(**refuse):
    return FakeApi(
        {
            WEB: {"metadata": {"name": "web"}, "spec": {"replicas": 3}},
            API: {"metadata": {"name": "api"}, "spec": {"replicas": 2}},
            JOB: {"metadata": {"name": "report"}, "spec": {"suspend": False}},
        },
        refuse=refuse.get("refuse"),
    )


def changes():
    return [
        patch.Change(WEB, {"spec": {"replicas": 0}}, "scale Deployment web to 0", done="Deployment web"),
        patch.Change(API, {"spec": {"replicas": 0}}, "scale Deployment api to 0", done="Deployment api"),
        patch.Change(JOB, {"spec": {"suspend": True}}, "suspend CronJob report"),
    ]


def test_every_change_is_sent_in_order_and_answered():
    api = cluster()
    answers = patch.patch_each(api, changes())
    assert [a["metadata"]["name"] for a in answers] == ["web", "api", "report"]
    assert list(api.calls) == [("PATCH", WEB), ("PATCH", API), ("PATCH", JOB)]
    assert api.objects[JOB]["spec"]["suspend"] is True


def test_a_refused_change_stops_the_loop_and_names_what_was_done():
    api = cluster(refuse={("PATCH", API): 403})
    with pytest.raises(patch.PatchError) as err:
        patch.patch_each(api, changes())
    assert str(err.value) == (
        "Failed to scale Deployment api to 0: HTTP 403 refused by the test; already done: Deployment web"
    )
    assert err.value.done == ["Deployment web"] and err.value.status == 403
    assert ("PATCH", JOB) not in api.calls and api.objects[JOB]["spec"]["suspend"] is False


def test_no_answer_says_the_change_may_or_may_not_have_been_made():
    class Gone(FakeApi):
        def send(self, *args, **kwargs):
            raise ApiError("unreachable", "cannot reach the Kubernetes API at https://k (connection refused)")

    with pytest.raises(patch.PatchError) as err:
        patch.patch_each(Gone(), changes())
    assert err.value.status is None and err.value.done == []
    assert "whether this change was made is unknown); already done: nothing" in str(err.value)


def test_changes_are_idempotent_merge_patches_unless_told_otherwise():
    seen = []

    class Recorder(FakeApi):
        def send(self, method, path, body, what, content_type=None, query=None, idempotent=False):
            seen.append((content_type, idempotent))
            return super().send(method, path, body, what, content_type, query, idempotent)

    patch.patch_each(
        Recorder(cluster().objects),
        [
            patch.Change(WEB, {}, "a"),
            patch.Change(WEB, {}, "b", content_type=resources.STRATEGIC, idempotent=False),
        ],
    )
    assert seen == [(resources.MERGE, True), (resources.STRATEGIC, False)]


def test_patch_all_says_which_objects_changed_when_one_write_fails():
    from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError

    web, api, job = ({"object": name, "changed": True} for name in ("web", "api", "report"))
    steps = changes()
    # two changes of one object (web), then two other objects; api's write is refused
    steps.insert(1, patch.Change(WEB, {"metadata": {"labels": {"a": "b"}}}, "label web", result=web))
    for step, result in zip([steps[0], steps[2], steps[3]], [web, api, job], strict=True):
        step.result = result
    output = {"changed": True, "workloads": [web, api, job]}
    with pytest.raises(OpsError) as err:
        patch.patch_all(cluster(refuse={("PATCH", API): 422}), steps, output)
    assert err.value.result == output and output["changed"] is True
    assert [web["changed"], api["changed"], job["changed"]] == [True, False, False]
    assert err.value.msg.startswith("Failed to scale Deployment api to 0: HTTP 422")
    first = {"object": "web", "changed": True}
    output = {"changed": True}
    with pytest.raises(OpsError):
        patch.patch_all(
            cluster(refuse={("PATCH", WEB): 403}), [patch.Change(WEB, {}, "x", result=first)], output
        )
    assert output["changed"] is False and first["changed"] is False
