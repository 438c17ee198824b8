"""The declared dependencies are the used ones: requirements.txt against what plugins/ imports,
collections/requirements.yml (what an AWX project sync installs) and the execution
environment's tarball against galaxy.yml."""

from __future__ import annotations

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import helpers

REQUIREMENTS = helpers.requirement_lines((helpers.ROOT / "requirements.txt").read_text())


def test_every_distribution_plugins_import_is_installed_by_the_requirements():
    imports, _fallbacks = helpers.third_party_imports()
    # ansible-core is there wherever a module runs; what it brings (PyYAML, cryptography) counts.
    installed = helpers.installed_closure(REQUIREMENTS + ["ansible-core"])
    missing = {
        module: files for module, files in imports.items() if helpers.distribution_of(module) not in installed
    }
    assert not missing, "imported by plugins/, installed by nothing in requirements.txt: %s" % missing


def test_every_requirement_is_imported_by_plugins():
    imports, _fallbacks = helpers.third_party_imports()
    imported = {helpers.distribution_of(module) for module in imports}
    unused = [line for line in REQUIREMENTS if canonicalize_name(Requirement(line).name) not in imported]
    assert not unused, "requirements.txt lists what plugins/ never imports: %s" % unused


def test_an_optional_fallback_import_is_not_a_requirement():
    # health/probes.py tries psycopg (3) and falls back to psycopg2: only the first is required.
    imports, fallbacks = helpers.third_party_imports()
    assert "psycopg" in imports and "psycopg2" in fallbacks
    assert all(canonicalize_name(Requirement(line).name) != "psycopg2" for line in REQUIREMENTS)


def test_collections_requirements_agree_with_galaxy_yml():
    galaxy = helpers.load_yaml(helpers.ROOT / "galaxy.yml")
    wanted = helpers.load_yaml(helpers.ROOT / "collections" / "requirements.yml")["collections"]
    by_name = {c["name"]: str(c.get("version", "*")) for c in wanted}
    assert len(by_name) == len(wanted), "a collection listed twice: %s" % wanted
    assert by_name == {name: str(version) for name, version in galaxy["dependencies"].items()}
    # The project is the collection: installing it from Galaxy would shadow the EE's copy.
    assert "%s.%s" % (galaxy["namespace"], galaxy["name"]) not in by_name


def test_galaxy_dependencies_are_the_collections_the_shipped_code_uses():
    galaxy = helpers.load_yaml(helpers.ROOT / "galaxy.yml")
    shipped = [
        path
        for top in ("plugins", "roles", "playbooks", "meta")
        for path in (helpers.ROOT / top).rglob("*")
        if path.is_file() and "molecule" not in path.parts and path.suffix in (".py", ".yml", ".yaml", ".j2")
    ]
    text = "\n".join(path.read_text() for path in shipped)
    for name in galaxy["dependencies"]:
        assert name + "." in text, "galaxy.yml depends on %s, which no shipped file uses" % name
    for unused in ("community.general", "community.postgresql"):
        assert unused + "." not in text or unused in galaxy["dependencies"]


def test_the_ee_installs_the_tarball_galaxy_yml_builds():
    galaxy = helpers.load_yaml(helpers.ROOT / "galaxy.yml")
    definition = helpers.load_yaml(helpers.ROOT / "execution-environment.yml")
    tarball = "%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"])
    [source] = [f["src"] for f in definition["additional_build_files"] if f["src"].endswith(".tar.gz")]
    assert source == tarball, "execution-environment.yml copies %s; the build writes %s" % (source, tarball)
    [collection] = definition["dependencies"]["galaxy"]["collections"]
    assert collection["type"] == "file" and collection["name"].endswith("/" + tarball)
