"""tests/awx_injectors.py renders a credential type's injectors as AWX does: files in the
private data dir's env/ referred to by their path in the container, env and extra_vars rendered
in a sandbox from the inputs, and the type refused where AWX refuses it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from tests import awx_injectors

TYPE = {
    "inputs": {
        "fields": [
            {"id": "cert", "label": "Cert", "type": "string", "multiline": True},
            {"id": "key", "label": "Key", "type": "string", "secret": True, "format": "ssh_private_key"},
            {"id": "token", "label": "Token", "type": "string", "secret": True},
            {"id": "region", "label": "Region", "type": "string"},
            {"id": "verify", "label": "Verify", "type": "boolean"},
        ],
        "required": ["token"],
    },
    "injectors": {
        "file": {"template.cert": "[cert]\n{{ cert }}", "template.key": "{{ key }}"},
        "env": {"CERT_FILE": "{{ tower.filename.cert }}", "API_TOKEN": "{{ token }}"},
        "extra_vars": {
            "api": {"key_file": "{{ awx.filename.key }}", "region": "{{ region | default('eu') }}"},
            "verify": "{{ verify }}",
            "hosts": ["{{ region }}-a", "b"],
        },
    },
}


def test_files_env_and_extra_vars(tmp_path):
    inputs = {"cert": "CERT", "key": "KEY", "token": "T0K", "region": ""}
    env, extra, files = awx_injectors.render(TYPE, inputs, str(tmp_path))
    assert set(files) == {"template.cert", "template.key"}
    for path in files.values():
        assert Path(path).parent == tmp_path / "env"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert Path(files["template.cert"]).read_text() == "[cert]\nCERT"
    assert Path(files["template.key"]).read_text() == "KEY\n"  # a private key ends with a newline
    # in the container, the private data dir is /runner
    assert env == {"CERT_FILE": "/runner/env/" + Path(files["template.cert"]).name, "API_TOKEN": "T0K"}
    # an empty input is left out (default applies), a missing boolean is False, shapes are kept
    assert extra == {
        "api": {"key_file": "/runner/env/" + Path(files["template.key"]).name, "region": "eu"},
        "verify": "False",
        "hosts": ["-a", "b"],
    }


def test_without_a_container_the_paths_are_the_hosts(tmp_path):
    single = {
        "inputs": {"fields": [{"id": "conf", "label": "Conf", "type": "string"}]},
        "injectors": {"file": {"template": "{{ conf }}"}, "env": {"CONF": "{{ tower.filename }}"}},
    }
    env, extra, files = awx_injectors.render(single, {"conf": "x"}, str(tmp_path), container_root=None)
    assert env == {"CONF": files["template"]} and extra == {}
    assert Path(env["CONF"]).read_text() == "x"


def test_extra_vars_file_is_unsafe_yaml(tmp_path):
    path = awx_injectors.extra_vars_file({"pw": "{{ lookup('pipe', 'id') }}", "d": {"p": 1}}, str(tmp_path))
    assert Path(path).parent == tmp_path / "env"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o400
    text = Path(path).read_text()
    assert "!unsafe '{{ lookup(''pipe'', ''id'') }}'" in text  # Ansible will not template it
    loader = type("L", (yaml.SafeLoader,), {})
    loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    assert yaml.load(text, Loader=loader) == {"pw": "{{ lookup('pipe', 'id') }}", "d": {"p": 1}}


def broken(**change):
    bad = {"inputs": dict(TYPE["inputs"]), "injectors": dict(TYPE["injectors"])}
    for key, value in change.items():
        where, name = key.split("__")
        bad[where] = dict(bad[where], **{name: value})
    return bad


@pytest.mark.parametrize(
    "credential_type,inputs,message",
    [
        (broken(injectors__env={"ANSIBLE_CONFIG": "x"}), {"token": "t"}, "ANSIBLE_CONFIG is not allowed"),
        (broken(injectors__env={"PATH": "x"}), {"token": "t"}, "PATH is not allowed"),
        (broken(injectors__env={"X": "{{ nope }}"}), {"token": "t"}, "env.X uses an undefined field"),
        (broken(injectors__env={"X": "{{ tower.filename }}"}), {"token": "t"}, "unnamed file injector"),
        (broken(injectors__file={"template": "a", "template.b": "b"}), {"token": "t"}, "multi-file syntax"),
        (broken(injectors__file={"config": "a"}), {"token": "t"}, "use template or template.<name>"),
        (broken(injectors__env={"X": "{{ token.__class__ }}"}), {"token": "t"}, "unsafe|__class__|undefined"),
        (broken(inputs__fields=[{"id": "tower", "label": "T"}]), {}, "reserved"),
        (
            broken(inputs__fields=[{"id": "b", "label": "B", "type": "boolean", "secret": True}]),
            {},
            "need type",
        ),
        (TYPE, {}, "required inputs \\['token'\\] have no value"),
        (TYPE, {"token": "t", "other": "x"}, "not fields of the type"),
    ],
)
def test_refused_as_awx_refuses(tmp_path, credential_type, inputs, message):
    with pytest.raises(awx_injectors.InvalidCredentialType, match=message):
        awx_injectors.render(credential_type, inputs, str(tmp_path))
