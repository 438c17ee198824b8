"""The runner contract: the one phrase, the failure that carries its result, the request."""

from ansible_collections.multiagent.ops.plugins.module_utils.common import result


def test_nothing_changed_is_one_phrase():
    assert result.nothing_changed("Service web does not exist.") == (
        "Service web does not exist; nothing was changed"
    )
    assert result.NOTHING_CHANGED == "nothing was changed"


def test_an_ops_error_carries_the_result_so_far():
    err = result.OpsError("Failed to scale web", changed=True, workloads=[1])
    assert (str(err), err.msg, err.result) == (
        "Failed to scale web",
        "Failed to scale web",
        {"changed": True, "workloads": [1]},
    )


def test_a_request_passes_warnings_masks_and_deprecations_on():
    seen = []
    request = result.Request(
        {"a": 1},
        check_mode=True,
        warn=lambda text: seen.append(("warn", text)),
        mask=lambda values: seen.append(("mask", sorted(values))),
        deprecate=lambda text, version: seen.append(("deprecate", text, version)),
    )
    request.warn("careful")
    request.mask(["s3cret-value"])
    request.deprecate("state=resumed is now state=restored", "2.0.0")
    assert seen == [
        ("warn", "careful"),
        ("mask", ["s3cret-value"]),
        ("deprecate", "state=resumed is now state=restored", "2.0.0"),
    ]
    assert request.warnings == ["careful"] and request.masked == {"s3cret-value"} and request.check_mode
    bare = result.Request({})
    bare.warn("kept")
    assert bare.warnings == ["kept"]
