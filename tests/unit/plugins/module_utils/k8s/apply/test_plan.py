"""k8s_apply's plan: tiers, references, the HPA rule, the config checksum, comparisons,
redaction and messages, on literal objects."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply import plan as ap
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records

V1 = {
    "resources": [
        {"name": "namespaces", "namespaced": False, "kind": "Namespace"},
        {"name": "namespaces/status", "namespaced": False, "kind": "Namespace"},
        {"name": "configmaps", "namespaced": True, "kind": "ConfigMap"},
        {"name": "secrets", "namespaced": True, "kind": "Secret"},
        {"name": "services", "namespaced": True, "kind": "Service"},
        {"name": "serviceaccounts", "namespaced": True, "kind": "ServiceAccount"},
    ]
}
APPS = {
    "resources": [
        {"name": "deployments", "namespaced": True, "kind": "Deployment"},
        {"name": "deployments/scale", "namespaced": True, "kind": "Scale"},
        {"name": "statefulsets", "namespaced": True, "kind": "StatefulSet"},
    ]
}
BATCH = {"resources": [{"name": "cronjobs", "namespaced": True, "kind": "CronJob"}]}
AUTOSCALING = {
    "resources": [{"name": "horizontalpodautoscalers", "namespaced": True, "kind": "HorizontalPodAutoscaler"}]
}
POLICY = {"resources": [{"name": "poddisruptionbudgets", "namespaced": True, "kind": "PodDisruptionBudget"}]}
KNATIVE = {"resources": [{"name": "services", "namespaced": True, "kind": "Service"}]}
DISCOVERED = {
    "v1": V1,
    "apps/v1": APPS,
    "batch/v1": BATCH,
    "autoscaling/v2": AUTOSCALING,
    "policy/v1": POLICY,
    "serving.knative.dev/v1": KNATIVE,
}


def cm(name, data, ns=None):
    meta = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def secret(name, data=None, string_data=None):
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque"}
    if data is not None:
        obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    if string_data is not None:
        obj["stringData"] = string_data
    return obj


def deployment(name, pod_spec=None, replicas=None, kind="Deployment"):
    spec = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": pod_spec or {"containers": [{"name": name, "image": "img"}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def hpa(name, target, min_replicas=2, kind="Deployment", ns=None):
    obj = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
            "minReplicas": min_replicas,
            "maxReplicas": 10,
        },
    }
    if ns:
        obj["metadata"]["namespace"] = ns
    return obj


def uses(*refs):
    """A pod spec whose container reads the given ('ConfigMap'|'Secret', name) objects."""
    env_from = [
        {"configMapRef" if kind == "ConfigMap" else "secretRef": {"name": name}} for kind, name in refs
    ]
    return {"containers": [{"name": "c", "image": "img", "envFrom": env_from}]}


def make_plan(manifests, namespace="prod", secrets=()):
    manifests = ap.collect(manifests, secrets)
    return ap.plan(manifests, ap.resolve_types(manifests, DISCOVERED), namespace)


def by_label(plan):
    return {item.label: item for item in plan.items}


def template_checksum(item):
    return item.manifest["spec"]["template"]["metadata"].get("annotations", {}).get(records.CONFIG_CHECKSUM)


# -- tiers ---------------------------------------------------------------------------------


def test_tiers_order_dependencies_first_and_keep_the_given_order_within_a_tier():
    manifests = [
        hpa("web", "web"),
        deployment("web"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {}},
        cm("b", {}),
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"}, "spec": {}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}},
        cm("a", {}),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}},
    ]
    plan = make_plan(manifests)
    assert [i.label for i in plan.items] == [
        "Namespace prod",
        "ConfigMap prod/b",
        "ServiceAccount prod/sa",
        "ConfigMap prod/a",
        "Service prod/web",
        "Deployment prod/web",
        "HorizontalPodAutoscaler prod/web",
        "PodDisruptionBudget prod/web",
    ]
    assert [[i.kind for i in tier] for tier in plan.tiers] == [
        ["Namespace"],
        ["ConfigMap", "ServiceAccount", "ConfigMap"],
        ["Service"],
        ["Deployment"],
        ["HorizontalPodAutoscaler", "PodDisruptionBudget"],
    ]


def test_tier_is_decided_by_group_and_kind_not_kind_alone():
    knative = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "fn"}}
    core = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    plan = make_plan([knative, core])
    items = by_label(plan)
    assert items["Service prod/web"].tier == 2
    assert items["Service prod/fn"].tier == ap.LAST_TIER
    assert items["Service prod/fn"].api_type.patch_type == resources.MERGE
    assert items["Service prod/web"].api_type.patch_type == resources.STRATEGIC


def test_namespace_defaults_and_cluster_scoped_objects_lose_a_stray_namespace():
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "namespace": "x"}}
    plan = make_plan([ns, cm("a", {}), cm("b", {}, ns="other")])
    items = by_label(plan)
    assert items["Namespace prod"].namespace is None
    assert "namespace" not in items["Namespace prod"].manifest["metadata"]
    assert items["ConfigMap prod/a"].manifest["metadata"]["namespace"] == "prod"
    assert items["ConfigMap other/b"].path() == "/api/v1/namespaces/other/configmaps/b"
    assert items["Namespace prod"].path() == "/api/v1/namespaces/prod"
    # only namespaces the batch does not create are looked up
    assert plan.namespaces == {"other": ["ConfigMap other/b"]}


def test_server_fields_and_status_are_not_sent():
    exported = cm("a", {"k": "v"})
    exported["metadata"].update(resourceVersion="12", uid="u", creationTimestamp="t", managedFields=[{}])
    exported["status"] = {"x": 1}
    item = make_plan([exported]).items[0]
    assert item.manifest == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "prod"},
        "data": {"k": "v"},
    }


def test_plan_refuses_objects_without_namespace_and_duplicates():
    with pytest.raises(ap.PlanError, match=r"ConfigMap a has no metadata.namespace"):
        make_plan([cm("a", {})], namespace=None)
    with pytest.raises(ap.PlanError, match=r"Secret prod/creds is given twice"):
        make_plan([secret("creds", {"a": "b"})], secrets=[{"name": "creds", "data": {"a": "b"}}])


# -- collecting and discovery ---------------------------------------------------------------


def test_collect_flattens_lists_skips_empty_entries_and_renders_secrets():
    listed = {"apiVersion": "v1", "kind": "List", "items": [cm("a", {}), cm("b", {})]}
    manifests = ap.collect(
        [listed, None],
        [{"name": "creds", "namespace": "n", "type": "Opaque", "labels": {"l": "v"}, "data": {"port": 5432}}],
    )
    assert [m["metadata"]["name"] for m in manifests] == ["a", "b", "creds"]
    assert manifests[2] == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "n", "labels": {"l": "v"}},
        "type": "Opaque",
        "stringData": {"port": "5432"},
    }


def test_collect_names_what_is_wrong():
    with pytest.raises(ap.PlanError, match=r"resources\[1\] \(ConfigMap\) has no metadata.name"):
        ap.collect(
            [cm("a", {}), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "x-"}}]
        )
    with pytest.raises(ap.PlanError, match=r"resources\[0\] \(unknown kind\) has no apiVersion and no kind"):
        ap.collect([{"metadata": {"name": "x"}}])
    with pytest.raises(ap.PlanError, match=r"Secret creds\): key pw has no value"):
        ap.collect([], [{"name": "creds", "data": {"pw": None}}])


def test_unserved_kinds_are_named_with_their_objects():
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "p"}}
    gadget = {"apiVersion": "apps/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    manifests = ap.collect([widget, gadget])
    with pytest.raises(ap.PlanError) as err:
        ap.resolve_types(manifests, dict(DISCOVERED, **{"example.com/v1": None}))
    text = str(err.value)
    assert "kind Widget (apiVersion example.com/v1) of Widget p/w is not served" in text
    assert "the cluster does not serve the group/version example.com/v1" in text
    assert "kind Gadget (apiVersion apps/v1) of Gadget g is not served" in text
    assert "apps/v1 does not serve kind Gadget" in text


def test_a_crd_of_the_batch_makes_its_kind_plannable():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": True}, {"name": "v0", "served": False}],
        },
    }
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    manifests = ap.collect([widget, crd])
    discovered = dict(
        DISCOVERED,
        **{
            "example.com/v1": None,
            "apiextensions.k8s.io/v1": {
                "resources": [
                    {
                        "name": "customresourcedefinitions",
                        "namespaced": False,
                        "kind": "CustomResourceDefinition",
                    }
                ]
            },
        },
    )
    types = ap.resolve_types(manifests, discovered)
    plan = ap.plan(manifests, types, "prod")
    items = by_label(plan)
    assert [i.label for i in plan.items] == ["CustomResourceDefinition widgets.example.com", "Widget prod/w"]
    widget_type = items["Widget prod/w"].api_type
    assert widget_type.from_batch and widget_type.patch_type == resources.MERGE
    assert items["Widget prod/w"].path() == "/apis/example.com/v1/namespaces/prod/widgets/w"
    assert ap.api_versions(manifests) == ["example.com/v1", "apiextensions.k8s.io/v1"]


def test_find_type_skips_subresources():
    found = resources.from_discovery("apps/v1", "Scale", APPS)
    assert found is None  # only deployments/scale serves it
    assert resources.from_discovery("apps/v1", "Deployment", APPS).resource == "deployments.apps"


# -- references -------------------------------------------------------------------------------


def test_pod_references_cover_env_envfrom_volumes_projected_and_pull_secrets():
    pod_spec = {
        "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "init-secret"}}]}],
        "containers": [
            {
                "name": "app",
                "env": [
                    {"name": "A", "value": "literal"},
                    {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
                    {
                        "name": "MODE",
                        "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "m", "optional": True}},
                    },
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "envFrom": [{"configMapRef": {"name": "env-cfg"}}],
            }
        ],
        "volumes": [
            {"name": "tls", "secret": {"secretName": "tls"}},
            {"name": "conf", "configMap": {"name": "files", "optional": True}},
            {
                "name": "all",
                "projected": {
                    "sources": [
                        {"secret": {"name": "proj-secret"}},
                        {"configMap": {"name": "proj-cfg"}},
                        {"serviceAccountToken": {"path": "t"}},
                    ]
                },
            },
            {"name": "scratch", "emptyDir": {}},
        ],
        "imagePullSecrets": [{"name": "registry"}],
    }
    refs = [(r.kind, r.name, r.optional, r.via) for r in ap.pod_references(pod_spec)]
    assert refs == [
        ("Secret", "init-secret", False, "envFrom of container init"),
        ("Secret", "db", False, "env PW of container app"),
        ("ConfigMap", "cfg", True, "env MODE of container app"),
        ("ConfigMap", "env-cfg", False, "envFrom of container app"),
        ("Secret", "tls", False, "volume tls"),
        ("ConfigMap", "files", True, "volume conf"),
        ("Secret", "proj-secret", False, "volume all"),
        ("ConfigMap", "proj-cfg", False, "volume all"),
        ("Secret", "registry", False, "imagePullSecrets"),
    ]


def test_lookups_are_the_needed_references_the_batch_does_not_carry():
    pod_spec = {
        "containers": [
            {
                "name": "c",
                "image": "i",
                "envFrom": [
                    {"configMapRef": {"name": "in-batch"}},
                    {"secretRef": {"name": "from-secrets-option"}},
                    {"secretRef": {"name": "elsewhere"}},
                    {"secretRef": {"name": "maybe", "optional": True}},
                ],
                "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "elsewhere", "key": "x"}}}],
            }
        ],
        "imagePullSecrets": [{"name": "registry"}],
    }
    plan = make_plan(
        [cm("in-batch", {"a": "1"}), cm("other-namespace", {}, ns="other"), deployment("web", pod_spec)],
        secrets=[{"name": "from-secrets-option", "data": {"k": "v"}}],
    )
    assert [(item.label, ref.kind, ref.name) for item, ref in plan.lookups] == [
        ("Deployment prod/web", "Secret", "elsewhere"),
        ("Deployment prod/web", "Secret", "registry"),
    ]
    message = ap.missing_reference_message(*plan.lookups[0])
    assert message == (
        "Deployment prod/web needs Secret elsewhere (env X of container c), which is neither in this "
        "batch nor in the cluster"
    )


def test_a_reference_to_an_object_of_another_namespace_is_looked_up():
    plan = make_plan([cm("cfg", {"a": "1"}, ns="other"), deployment("web", uses(("ConfigMap", "cfg")))])
    assert [(i.label, r.name) for i, r in plan.lookups] == [("Deployment prod/web", "cfg")]
    assert template_checksum(by_label(plan)["Deployment prod/web"]) is None


# -- HPA ----------------------------------------------------------------------------------------


def test_hpa_owned_deployment_is_created_with_min_replicas_and_updated_without_replicas():
    plan = make_plan(
        [deployment("web"), deployment("api", replicas=4), hpa("web", "web", 3), hpa("api", "api", 2)]
    )
    items = by_label(plan)
    web, api = items["Deployment prod/web"], items["Deployment prod/api"]
    assert web.replicas_owner == "hpa/web" and web.result("created")["replicas_owner"] == "hpa/web"
    assert ap.create_body(web)["spec"]["replicas"] == 3
    assert ap.create_body(api)["spec"]["replicas"] == 4  # the manifest's own value on create
    assert "replicas" not in ap.patch_body(api)["spec"]
    assert "replicas" in api.manifest["spec"]  # the plan's copy is untouched


def test_hpa_must_match_kind_name_and_namespace():
    sts = deployment("db", replicas=1, kind="StatefulSet")
    plan = make_plan(
        [
            sts,
            deployment("web", replicas=2),
            deployment("api", replicas=2),
            hpa("db", "db", kind="StatefulSet"),
            hpa("web", "web", kind="StatefulSet"),  # names a StatefulSet web: not the Deployment
            hpa("api", "api", ns="elsewhere"),
        ]
    )
    items = by_label(plan)
    assert items["StatefulSet prod/db"].replicas_owner == "hpa/db"
    assert items["Deployment prod/web"].hpa is None
    assert items["Deployment prod/api"].hpa is None
    assert ap.patch_body(items["Deployment prod/web"])["spec"]["replicas"] == 2
    assert "replicas_owner" not in items["Deployment prod/web"].result("updated")


def test_hpa_without_min_replicas_means_one():
    scaler = hpa("web", "web")
    del scaler["spec"]["minReplicas"]
    item = by_label(make_plan([deployment("web"), scaler]))["Deployment prod/web"]
    assert ap.create_body(item)["spec"]["replicas"] == 1


# -- config checksum -----------------------------------------------------------------------------


def test_checksum_is_stable_under_order_and_follows_content():
    def checksums(config_a, config_b, reverse=False):
        manifests = [
            cm("a", config_a),
            cm("b", config_b),
            deployment("both", uses(("ConfigMap", "a"), ("ConfigMap", "b"))),
            deployment("only-b", uses(("ConfigMap", "b"))),
        ]
        if reverse:
            manifests = manifests[::-1]
            manifests[1]["spec"]["template"]["spec"]["containers"][0]["envFrom"].reverse()
        items = by_label(make_plan(manifests))
        return template_checksum(items["Deployment prod/both"]), template_checksum(
            items["Deployment prod/only-b"]
        )

    base = checksums({"x": "1", "y": "2"}, {"z": "3"})
    assert all(len(c) == 64 for c in base)
    assert checksums({"y": "2", "x": "1"}, {"z": "3"}, reverse=True) == base
    changed_a = checksums({"x": "1", "y": "changed"}, {"z": "3"})
    assert changed_a[0] != base[0] and changed_a[1] == base[1]  # only the user of a rolls
    renamed_key = checksums({"x2": "1", "y": "2"}, {"z": "3"})
    assert renamed_key[0] != base[0]


def test_checksum_of_a_secret_is_the_same_from_data_stringdata_or_the_secrets_option():
    user = deployment("web", uses(("Secret", "creds")))

    def checksum(manifests, secrets=()):
        return template_checksum(
            by_label(make_plan(manifests + [user], secrets=secrets))["Deployment prod/web"]
        )

    from_data = checksum([secret("creds", data={"pw": "s3cret-value"})])
    assert from_data == checksum([secret("creds", string_data={"pw": "s3cret-value"})])
    assert from_data == checksum([], secrets=[{"name": "creds", "data": {"pw": "s3cret-value"}}])
    assert from_data != checksum([], secrets=[{"name": "creds", "data": {"pw": "other-value"}}])
    assert "s3cret" not in from_data


def test_image_pull_secrets_do_not_count_and_unused_config_gives_no_annotation():
    pull_only = deployment(
        "web", {"containers": [{"name": "c", "image": "i"}], "imagePullSecrets": [{"name": "reg"}]}
    )
    plan = make_plan([secret("reg", data={".dockerconfigjson": "{}"}), pull_only])
    item = by_label(plan)["Deployment prod/web"]
    assert template_checksum(item) is None
    assert "annotations" not in item.manifest["spec"]["template"]["metadata"]


def test_cronjob_template_gets_the_checksum_and_a_changed_config_changes_it():
    def cronjob_checksum(value):
        cron = {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly"},
            "spec": {
                "schedule": "0 2 * * *",
                "jobTemplate": {"spec": {"template": {"spec": uses(("ConfigMap", "cfg"))}}},
            },
        }
        item = by_label(make_plan([cm("cfg", {"k": value}), cron]))["CronJob prod/nightly"]
        return item.manifest["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"][
            records.CONFIG_CHECKSUM
        ]

    assert cronjob_checksum("1") != cronjob_checksum("2")


def test_config_content_treats_binary_data_and_deletions():
    obj = {
        "kind": "ConfigMap",
        "data": {"a": "x", "gone": None},
        "binaryData": {"b": base64.b64encode(b"\0\1").decode()},
    }
    assert ap.config_content(obj) == {"a": b"x", "b": b"\0\1"}
    both = {"kind": "Secret", "data": {"k": base64.b64encode(b"old").decode()}, "stringData": {"k": "new"}}
    assert ap.config_content(both) == {"k": b"new"}  # stringData wins, as on the server


# -- comparisons ---------------------------------------------------------------------------------


def live_of(item, **changes):
    live = ap.comparable(item, ap.create_body(item))
    live["metadata"].update(resourceVersion="7", uid="u", creationTimestamp="t", generation=2)
    live["status"] = {"observedGeneration": 2}
    live["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "1"
    for key, value in changes.items():
        live[key] = value
    return live


def test_already_applied_when_the_live_object_has_every_field():
    plan = make_plan([deployment("web", replicas=2), hpa("web", "web")])
    web = by_label(plan)["Deployment prod/web"]
    live = live_of(web)
    live["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"  # a server default
    live["spec"]["replicas"] = 5  # scaled by the HPA (or a person)
    assert ap.already_applied(web, live)
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "img:old"
    assert not ap.already_applied(web, live)


def test_already_applied_compares_secret_strings_with_live_base64():
    plan = make_plan([], secrets=[{"name": "creds", "data": {"pw": "s3cret-value"}}])
    item = plan.items[0]
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "prod", "resourceVersion": "3"},
        "type": "Opaque",
        "data": {"pw": base64.b64encode(b"s3cret-value").decode(), "extra": "eA=="},
    }
    assert ap.already_applied(item, live)
    live["data"]["pw"] = base64.b64encode(b"rotated").decode()
    assert not ap.already_applied(item, live)


def test_dry_run_change_ignores_server_set_fields():
    live = {
        "kind": "ConfigMap",
        "metadata": {"name": "a", "resourceVersion": "1", "managedFields": [{"time": "1"}], "uid": "u"},
        "data": {"k": "v"},
    }
    same = {
        "kind": "ConfigMap",
        "metadata": {"name": "a", "resourceVersion": "2", "managedFields": [{"time": "2"}], "uid": "u"},
        "data": {"k": "v"},
        "status": {"anything": True},
    }
    assert not ap.changed_by_dry_run(live, same)
    assert ap.changed_by_dry_run(live, dict(same, data={"k": "w"}))
    assert ap.normalize(same) == {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}


# -- redaction -----------------------------------------------------------------------------------


def test_secret_diff_shows_keys_and_which_changed_but_never_a_value():
    plan = make_plan([], secrets=[{"name": "creds", "data": {"pw": "n3w-password", "user": "admin-user"}}])
    item = plan.items[0]
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "prod", "resourceVersion": "1"},
        "data": {
            "pw": base64.b64encode(b"0ld-password").decode(),
            "user": base64.b64encode(b"admin-user").decode(),
        },
    }
    entry = ap.diff_entry(item, live, ap.create_body(item), check_mode=True)
    text = json.dumps(entry)
    for value in ("n3w-password", "0ld-password", "admin-user"):
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text
    assert yaml.safe_load(entry["after"])["data"] == {"pw": wl.REDACTED_CHANGED, "user": wl.REDACTED}
    assert yaml.safe_load(entry["before"])["data"] == {"pw": wl.REDACTED, "user": wl.REDACTED}
    assert entry["before_header"] == "Secret prod/creds (live)"
    assert entry["after_header"] == "Secret prod/creds (dry run)"


def test_diff_of_a_new_object_has_an_empty_before_and_no_server_fields():
    item = make_plan([cm("a", {"k": "v"})]).items[0]
    answer = dict(ap.create_body(item), status={})
    answer["metadata"] = dict(answer["metadata"], uid="u", resourceVersion="9")
    entry = ap.diff_entry(item, None, answer, check_mode=False)
    assert entry["before"] == ""
    assert yaml.safe_load(entry["after"]) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "prod"},
        "data": {"k": "v"},
    }
    assert entry["after_header"] == "ConfigMap prod/a (applied)"


def test_secret_values_and_mask():
    manifests = ap.collect(
        [secret("a", data={"k": "from-data-value"}), cm("c", {"k": "not-a-secret"})],
        [{"name": "b", "data": {"k": "from-option-value"}}],
    )
    values = wl.secret_values(obj for obj in manifests if wl.is_secret(obj))
    assert {"from-data-value", "from-option-value"} <= values
    assert base64.b64encode(b"from-option-value").decode() in values
    assert "not-a-secret" not in values
    text = wl.mask('Secret "a" is invalid: data[k]: from-data-value; ok', values)
    assert "from-data-value" not in text and wl.REDACTED in text


# -- messages and versions -------------------------------------------------------------------------


def test_forbidden_names_verb_resource_and_namespace():
    item = by_label(make_plan([deployment("web")]))["Deployment prod/web"]
    answer = {
        "kind": "Status",
        "code": 403,
        "reason": "Forbidden",
        "message": 'deployments.apps "web" is forbidden: User "u" cannot create resource "deployments"',
    }
    text = ap.failure_message(item, "create", 403, answer, "http://k")
    assert text.startswith(
        "Deployment prod/web: permission denied to create deployments.apps in namespace prod: "
    )
    assert 'User "u" cannot create' in text


def test_invalid_names_the_fields():
    item = by_label(make_plan([deployment("web")]))["Deployment prod/web"]
    answer = {
        "kind": "Status",
        "code": 422,
        "message": 'Deployment.apps "web" is invalid: spec.template.spec.containers[0].image: Required value',
        "details": {
            "causes": [
                {"field": "spec.template.spec.containers[0].image", "message": "Required value"},
                {"field": "spec.selector", "message": "Invalid value"},
            ]
        },
    }
    text = ap.failure_message(item, "patch", 422, answer, "http://k")
    assert "HTTP 422" in text and "while trying to patch deployments.apps in namespace prod" in text
    assert text.endswith("(invalid: spec.template.spec.containers[0].image, spec.selector)")
    conflict = ap.failure_message(item, "patch", 409, {"message": "the object has been modified"}, "http://k")
    assert "HTTP 409" in conflict and "conflict" in conflict


def test_unauthorized_names_the_server():
    item = make_plan([cm("a", {})]).items[0]
    text = ap.failure_message(item, "create", 401, {"message": "Unauthorized"}, "https://api.example:6443")
    assert "https://api.example:6443 rejected the credentials (401 Unauthorized)" in text


@pytest.mark.parametrize(
    "server, minimum, problem",
    [
        ({"major": "1", "minor": "33", "gitVersion": "v1.33.0+kubemu"}, "1.25", None),
        ({"major": "1", "minor": "25", "gitVersion": "v1.25.16"}, "1.25", None),
        (
            {"major": "1", "minor": "24+", "gitVersion": "v1.24.17-eks-1"},
            "1.25",
            "v1.24.17-eks-1, older than min_server_version 1.25",
        ),
        ({"major": "1", "minor": "30+"}, "1.31", "Kubernetes 1.30+, older than min_server_version 1.31"),
        ({"gitVersion": "v1.33.0"}, "one.two", "is not a version"),
        ({"gitVersion": "v1.20.0"}, None, None),
    ],
)
def test_version_problem(server, minimum, problem):
    found = ap.version_problem(server, minimum)
    if problem is None:
        assert found is None
    else:
        assert problem in found


def test_summary_counts_every_action():
    results = [{"action": "created"}, {"action": "created"}, {"action": "not_attempted"}]
    assert ap.summary(results) == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "not_attempted": 1,
        "skipped": 0,
    }


def test_serving_conditions_keep_the_route_or_the_ingress():
    route = {
        "apiVersion": "route.openshift.io/v1",
        "kind": "Route",
        "metadata": {
            "name": "r",
            "namespace": "ns",
            "annotations": {records.APPLY_IF_SERVED: "route.openshift.io/v1"},
        },
    }
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "i",
            "namespace": "ns",
            "annotations": {records.APPLY_UNLESS_SERVED: "route.openshift.io/v1"},
        },
    }
    plain = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}}
    manifests = [route, ingress, plain]
    assert ap.condition_versions(manifests) == ["route.openshift.io/v1"]

    kept, skipped = ap.select_served(manifests, {"route.openshift.io/v1": None, "v1": {}})
    assert kept == [ingress, plain]
    assert skipped == [
        {
            "kind": "Route",
            "apiVersion": "route.openshift.io/v1",
            "namespace": "ns",
            "name": "r",
            "action": "skipped",
            "reason": "the cluster does not serve route.openshift.io/v1",
        }
    ]
    kept, skipped = ap.select_served(manifests, {"route.openshift.io/v1": {"resources": []}})
    assert kept == [route, plain]
    assert skipped[0]["name"] == "i" and skipped[0]["reason"] == "the cluster serves route.openshift.io/v1"
    assert ap.summary(skipped)["skipped"] == 1
