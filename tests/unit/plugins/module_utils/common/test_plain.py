"""Plain data out of what a filter is given (ansible-core 2.19's lazy containers are dict and
list subclasses that template every value they give out)."""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.common.plain import plain, plain_arguments


class Lazy(dict):
    """A stand-in for a lazy dict: counts the values it gives out."""

    reads = 0

    def items(self):
        for key in self:
            Lazy.reads += 1
            yield key, dict.__getitem__(self, key)


class LazyList(list):
    pass


class Unsafe(str):
    pass


def test_containers_become_plain_and_scalars_stay_what_they_are():
    secret = Unsafe("{{ $value }}")
    given = Lazy(a=LazyList([Lazy(b=1), (2, 3)]), c=secret, d=None)
    out = plain(given)
    assert out == {"a": [{"b": 1}, [2, 3]], "c": "{{ $value }}", "d": None}
    assert type(out) is dict and type(out["a"]) is list and type(out["a"][0]) is dict
    assert type(out["a"][1]) is list
    assert out["c"] is secret  # an unsafe string stays unsafe


def test_the_input_is_read_once():
    Lazy.reads = 0
    out = plain(Lazy(a=Lazy(b=1)))
    for _ in range(100):
        assert out["a"]["b"] == 1
    assert Lazy.reads == 2


def test_a_filters_arguments():
    args, kwargs = plain_arguments((LazyList([Lazy(x=1)]), "name"), {"overrides": Lazy(y=LazyList([1]))})
    assert args == ([{"x": 1}], "name") and type(args[0][0]) is dict
    assert kwargs == {"overrides": {"y": [1]}} and type(kwargs["overrides"]["y"]) is list
