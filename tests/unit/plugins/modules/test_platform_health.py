"""platform_health's documentation against the code it documents: the rule table, the default
thresholds, the score and the shared options. (The check itself is tested in
module_utils/health/test_check.py, its glue in test_module.py.)"""

import re

import yaml

from ansible_collections.multiagent.ops.plugins.module_utils.health import rules
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.modules import platform_health

DOC = yaml.safe_load(platform_health.DOCUMENTATION)


def plain(text):
    """Documentation markup taken off: C(x), O(x), V(x), I(x), B(x) become x."""
    return re.sub(r"\b[COVIB]\(([^()]*)\)", r"\1", " ".join(text.split()))


def documented_rules():
    table = {}
    for paragraph in DOC["description"]:
        match = re.match(r"C\((\w+)\): (\w+), (\w+); (.*)\.$", " ".join(paragraph.split()))
        if match:
            rule, severity, effect, trigger = match.groups()
            assert rule not in table, "rule %s is documented twice" % rule
            table[rule] = (severity, effect, plain(trigger))
    return table


def test_the_health_rule_table_matches_its_docs():
    assert documented_rules() == rules.RULES


def test_the_documented_severities_are_the_rules_severities():
    text = plain(" ".join(DOC["options"]["rules"]["description"]))
    listed = re.search(r"Severities are ([\w, ]+)\.", text).group(1)
    assert re.split(r", ", listed) == list(rules.SEVERITIES)


def test_the_documented_threshold_defaults_are_the_defaults():
    text = " ".join(DOC["options"]["thresholds"]["description"])
    documented = {name: float(value) for name, value in re.findall(r"C\((\w+)\) \(([\d.]+)", text)}
    assert documented == {name: float(value) for name, value in rules.DEFAULT_THRESHOLDS.items()}
    # and every threshold a rule names is one of them
    named = {m for _s, _e, trigger in rules.RULES.values() for m in re.findall(r"thresholds\.(\w+)", trigger)}
    assert named <= set(rules.DEFAULT_THRESHOLDS)


def test_the_documented_score_is_the_score():
    (text,) = [plain(p) for p in DOC["description"] if p.startswith("Score:")]
    penalties = {severity: int(points) for points, severity in re.findall(r"(\d+) \((\w+)\)", text)}
    assert penalties == rules.PENALTY
    assert int(re.search(r"caps the score at (\d+)", text).group(1)) == rules.CRITICAL_CAP


def test_api_timeout_comes_from_the_shared_argspec_and_doc_fragment():
    assert "multiagent.ops.k8s" in DOC["extends_documentation_fragment"]
    assert "api_timeout" not in DOC["options"]
    assert platform_health.argspec()["api_timeout"] == k8s_module.K8S_OPTIONS["api_timeout"]
    assert platform_health.argspec()["api_timeout"]["default"] == 30


def test_every_option_of_the_module_is_documented_and_every_documented_one_exists():
    shared = set(k8s_module.argspec())
    own = set(platform_health.argspec()) - shared
    assert own == set(DOC["options"])
