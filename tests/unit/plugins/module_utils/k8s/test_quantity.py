import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.k8s.quantity import parse_cpu, parse_memory


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
