"""Fixtures the module tests share."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.pg import module as pg_module


@pytest.fixture
def no_target(monkeypatch):
    """The PostgreSQL modules must fail before they connect: making a target is an error."""

    def never(module):
        raise AssertionError("bad input must fail before any connection")

    monkeypatch.setattr(pg_module, "make_target", never)
