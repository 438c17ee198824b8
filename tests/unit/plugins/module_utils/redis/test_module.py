"""The Redis modules' glue: one set of connection options, documented once (the
multiagent.ops.redis doc fragment), and each module's options documented as its argspec says."""

import pytest
import yaml

from ansible_collections.multiagent.ops.plugins.doc_fragments.redis import ModuleDocFragment
from ansible_collections.multiagent.ops.plugins.module_utils.redis import module as redis_module
from ansible_collections.multiagent.ops.plugins.module_utils.redis import wire as wires
from ansible_collections.multiagent.ops.plugins.modules import redis_backup, redis_restore


def described(options):
    """What docs or an argspec say of each option that the other must say alike."""
    keys = ("type", "default", "required", "choices", "elements")
    return {
        name: {key: option[key] for key in keys if option.get(key) not in (None, False)}
        for name, option in options.items()
    }


def test_the_connection_options_are_the_ones_a_connection_takes():
    assert tuple(redis_module.connection_argspec()) == wires.CONNECTION
    assert redis_module.connection_argspec()["password"]["no_log"] is True


def test_the_doc_fragment_documents_the_connection_options():
    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert described(fragment) == described(redis_module.connection_argspec())


@pytest.mark.parametrize("module", [redis_backup, redis_restore])
def test_each_module_documents_its_own_options_and_takes_the_fragment(module):
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["extends_documentation_fragment"] == ["multiagent.ops.redis", "multiagent.ops.lease_step"]
    shared = (*wires.CONNECTION, "lease")
    own = {name: opt for name, opt in module.argspec().items() if name not in shared}
    assert described(doc["options"]) == described(own)
