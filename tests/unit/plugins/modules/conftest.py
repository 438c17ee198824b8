"""Fixtures the module tests share."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.pg import session as pg_session


@pytest.fixture
def no_target(monkeypatch):
    """The PostgreSQL modules must fail before they connect: making a target is an error."""

    def never(params, kubernetes):
        raise AssertionError("bad input must fail before any connection")

    monkeypatch.setattr(pg_session, "make_target", never)
