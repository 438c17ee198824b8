"""bindep.txt, read with bindep's own API: on Debian 12 (development, CI) and on the execution
environment's EL9 platforms each selects the tools the modules run and nothing of the other
family; the test stack's packages come only with the `test` profile; the EE enables the module
streams of the RPM packages the rules name, new enough for the servers the inventories run."""

from __future__ import annotations

import re

import pytest

from . import helpers

BINDEP = (helpers.ROOT / "bindep.txt").read_text()


@pytest.mark.parametrize("platform", sorted(helpers.PLATFORMS))
def test_each_platform_selects_the_tools_and_nothing_of_the_other_family(monkeypatch, platform):
    profiles = helpers.platform_profiles(monkeypatch, platform)
    packages = helpers.selected(BINDEP, profiles)
    family = helpers.FAMILY[platform]
    wanted = {helpers.PACKAGE_OF[family][tool] for tool in helpers.TOOLS}
    others = {p for f, table in helpers.PACKAGE_OF.items() if f != family for p in table.values()} - wanted
    assert wanted <= packages, "%s lacks %s" % (platform, sorted(wanted - packages))
    assert not packages & others, "%s would install %s" % (platform, sorted(packages & others))
    assert packages == wanted, "%s selects packages no tool needs: %s" % (platform, sorted(packages - wanted))


@pytest.mark.parametrize("platform", sorted(helpers.PLATFORMS))
def test_the_test_stacks_packages_only_with_the_test_profile(monkeypatch, platform):
    profiles = helpers.platform_profiles(monkeypatch, platform)
    default = helpers.selected(BINDEP, profiles)
    with_test = helpers.selected(BINDEP, profiles, "test")
    assert default <= with_test
    # The local stack (a PostgreSQL 15 server, git, the monitoring tools) runs on the Debian machines only.
    monitoring = {"prometheus", "prometheus-alertmanager", "prometheus-pushgateway", "chromium", "nodejs"}
    expected = {"postgresql-15", "git"} | monitoring if helpers.FAMILY[platform] == "dpkg" else set()
    assert with_test - default == expected


def test_the_ee_platform_is_what_bindep_detects_as_el9(monkeypatch):
    profiles = helpers.platform_profiles(monkeypatch, helpers.EE_PLATFORM)
    assert {"platform:centos-9", "platform:redhat", "platform:rpm"} <= set(profiles)
    assert "platform:dpkg" not in profiles


def _streams():
    definition = helpers.load_yaml(helpers.ROOT / "execution-environment.yml")
    steps = " ".join(definition["additional_build_steps"]["prepend_base"])
    enabled = re.search(r"module enable ((?:\S+:\S+\s*)+)", steps)
    assert enabled, "execution-environment.yml enables no module stream before installing packages"
    return dict(stream.split(":") for stream in enabled.group(1).split())


def _server_majors(image):
    """Majors of `image:N` in the shipped example inventories (the servers the tools must cover)."""
    majors = set()
    for path in (helpers.ROOT / "inventories").glob("*/group_vars/all/*.yml"):
        majors.update(int(m) for m in re.findall(r"image: %s:(\d+)\b" % image, path.read_text()))
    return majors


def test_the_ee_enables_the_streams_of_the_packages_its_rules_name(monkeypatch):
    streams = _streams()
    packages = helpers.selected(BINDEP, helpers.platform_profiles(monkeypatch, helpers.EE_PLATFORM))
    assert set(streams) == {"postgresql", "redis"}
    assert set(streams) <= packages  # a stream for a package the rules do not install is a mistake
    postgres, redis = int(streams["postgresql"]), int(streams["redis"].split(".")[0])
    # EL9's defaults (PostgreSQL 13, Redis 6.2) are what the streams replace.
    assert postgres > 13 and redis >= 7
    assert _server_majors("postgres") and max(_server_majors("postgres")) <= postgres
    assert _server_majors("redis") and max(_server_majors("redis")) <= redis


def test_the_debian_client_covers_the_inventories_servers():
    client = int(re.search(r"^postgresql-client-(\d+) ", BINDEP, re.M).group(1))
    assert max(_server_majors("postgres")) <= client
