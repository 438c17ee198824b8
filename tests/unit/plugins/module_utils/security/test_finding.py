from ansible_collections.multiagent.ops.plugins.module_utils.security import finding


def test_object_ref_fills_in_what_a_listed_item_lacks():
    item = {"metadata": {"name": "web", "namespace": "mplp"}}
    assert finding.object_ref(item, "Deployment", "apps/v1") == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "namespace": "mplp",
        "name": "web",
    }
    own = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mplp"}}
    assert finding.object_ref(own, "Pod", "x") == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "namespace": None,
        "name": "mplp",
    }


def test_the_shared_shapes():
    made = finding.make("MAO-150", "medium", "text", finding.ref("v1", "Namespace", None, "mplp"))
    assert set(made) == {
        "rule",
        "severity",
        "message",
        "object",
        "container",
        "path",
        "source",
        "status",
        "waiver",
    }
    assert (made["status"], made["source"], made["waiver"]) == ("fail", None, None)
    entry = finding.rule("MAO-150", "title", "medium", "hint", nsa="x")
    assert entry["scope"] == "live" and entry["references"] == {"pss": None, "nsa": "x", "cis": None}
