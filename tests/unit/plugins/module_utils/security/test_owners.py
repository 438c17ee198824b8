from ansible_collections.multiagent.ops.plugins.module_utils.security.owners import pod_owners


def owned(kind, name, uid):
    return {"kind": kind, "name": name, "uid": uid, "controller": True}


def test_pods_map_to_their_top_level_workload():
    rs = {"metadata": {"name": "web-1", "uid": "rs1", "ownerReferences": [owned("Deployment", "web", "d1")]}}
    job = {
        "metadata": {"name": "backup-1", "uid": "j1", "ownerReferences": [owned("CronJob", "backup", "c1")]}
    }
    lone_job = {"metadata": {"name": "migrate", "uid": "j2"}}
    pods = [
        {
            "metadata": {
                "name": "web-1-a",
                "namespace": "n",
                "uid": "p1",
                "ownerReferences": [owned("ReplicaSet", "web-1", "rs1")],
            }
        },
        {
            "metadata": {
                "name": "db-0",
                "namespace": "n",
                "uid": "p2",
                "ownerReferences": [owned("StatefulSet", "db", "s1")],
            }
        },
        {
            "metadata": {
                "name": "backup-1-x",
                "namespace": "n",
                "uid": "p3",
                "ownerReferences": [owned("Job", "backup-1", "j1")],
            }
        },
        {
            "metadata": {
                "name": "migrate-x",
                "namespace": "n",
                "uid": "p4",
                "ownerReferences": [owned("Job", "migrate", "j2")],
            }
        },
        {"metadata": {"name": "debug", "namespace": "n", "uid": "p5"}},
    ]
    result = pod_owners(pods, [rs], [job, lone_job])
    assert {k: (v["apiVersion"], v["kind"], v["namespace"], v["name"]) for k, v in result.items()} == {
        "p1": ("apps/v1", "Deployment", "n", "web"),
        "p2": ("apps/v1", "StatefulSet", "n", "db"),
        "p3": ("batch/v1", "CronJob", "n", "backup"),
        "p4": ("batch/v1", "Job", "n", "migrate"),
        "p5": ("v1", "Pod", "n", "debug"),
    }
