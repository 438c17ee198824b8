"""playbooks/awx_configure.yml without an AWX server: its render mode writes every object it would
send, and each is checked against the real argument spec of the awx.awx module it goes to (and
the module's documented sub-options where the spec has none); surveys against AWX's survey
schema and the variables their runbook reads; schedules by expanding their rules and asking the
maintenance_window filter about every occurrence; credential types by rendering their
injectors as AWX does (tests/awx_injectors.py)."""

from __future__ import annotations

import datetime
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from dateutil import rrule as du

from ansible_collections.multiagent.ops.plugins.filter.maintenance import maintenance_window
from ansible_collections.multiagent.ops.plugins.module_utils.backup import store
from ansible_collections.multiagent.ops.plugins.module_utils.ops import windows
from tests import awx_injectors

from ..roles.yamltree import Loader, action, tasks

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOKS = ROOT / "playbooks"
CONFIGURE = PLAYBOOKS / "awx_configure.yml"
NOT_RUNBOOKS = ("_runbook.yml", "awx_configure.yml")
PLATFORMS = ("mplp", "langgraph")
SURVEY_TYPES = ("text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect")
SURVEY_KEYS = {"question_name", "question_description", "variable", "type", "required", "default"}
SURVEY_KEYS |= {"choices", "min", "max", "new_question"}
CREDENTIALS = [
    {
        "name": "p | clusters",
        "credential_type": "Kubernetes clusters (kubeconfig)",
        "inputs": {"kubeconfig": "x"},
    },
    {"name": "p | database", "credential_type": "PostgreSQL", "inputs": {"host": "db"}},
]


def runbooks():
    return sorted(p for p in PLAYBOOKS.glob("*.yml") if p.name not in NOT_RUNBOOKS)


def inventory(platform):
    return yaml.load(
        (ROOT / "inventories" / platform / "group_vars/all/platform.yml").read_text(), Loader=Loader
    )


@pytest.fixture(scope="module", params=PLATFORMS)
def rendered(request, tmp_path_factory):
    """(platform, objects by module) as awx_configure.yml renders them for the platform's inventory."""
    out = tmp_path_factory.mktemp("awx") / "objects.json"
    extra = {
        "awx_project_scm_url": "https://git.example.com/ops/multiagent-ops.git",
        "awx_project_scm_credential": "git",
        "awx_inventory_source_path": "inventories/%s/hosts.yml" % request.param,
        "awx_credentials": CREDENTIALS,
        "awx_configure_render_to": str(out),
    }
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
    )
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/%s" % request.param]
    command += [str(CONFIGURE), "-e", json.dumps(extra)]
    run = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[WARNING]" not in run.stdout + run.stderr, run.stdout + run.stderr
    return request.param, json.loads(out.read_text())


# -- the awx.awx modules' own argument specs -------------------------------------------------


class _Captured(Exception):
    pass


def module_spec(name):
    """(argument_spec with the controller's auth options, AnsibleModule keyword checks, docs) of
    awx.awx.<name>, taken from the module's main() by standing in for ControllerAPIModule."""
    module = importlib.import_module("ansible_collections.awx.awx.plugins.modules.%s" % name)
    from ansible_collections.awx.awx.plugins.module_utils.controller_api import ControllerModule

    seen = {}

    class Stand:
        def __init__(self, argument_spec=None, **kwargs):
            seen.update(spec=argument_spec, kwargs=kwargs)
            raise _Captured()

    original = module.ControllerAPIModule
    module.ControllerAPIModule = Stand
    try:
        with pytest.raises(_Captured):
            module.main()
    finally:
        module.ControllerAPIModule = original
    spec = dict(ControllerModule.AUTH_ARGSPEC, **seen["spec"])
    checks = {k: v for k, v in seen["kwargs"].items() if k.startswith(("mutually", "required"))}
    return spec, checks, yaml.safe_load(module.DOCUMENTATION)["options"]


def undocumented(value, options, where):
    """Keys of nested dicts that the module's documentation does not describe (for options the
    argument spec leaves as a bare dict or list of dicts, such as workflow_nodes)."""
    found = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            found += undocumented(item, options, "%s[%d]" % (where, i))
    elif isinstance(value, dict) and options:
        for key, sub in value.items():
            if key not in options:
                found.append("%s.%s" % (where, key))
            else:
                found += undocumented(sub, options[key].get("suboptions"), "%s.%s" % (where, key))
    return found


def test_every_object_fits_its_module(rendered):
    _platform, objects = rendered
    assert set(objects) == {
        "credential_type",
        "credential",
        "project",
        "inventory",
        "inventory_source",
        "job_template",
        "workflow_job_template",
        "schedule",
    }
    for name, items in objects.items():
        assert items, "nothing rendered for awx.awx.%s" % name
        spec, checks, docs = module_spec(name)
        for item in items:
            result = ArgumentSpecValidator(spec, **checks).validate(dict(item))
            assert not result.error_messages, "awx.awx.%s %s: %s" % (
                name,
                item.get("name"),
                result.error_messages,
            )
            for option in ("workflow_nodes",):
                if option in item:
                    assert not undocumented(item[option], docs[option]["suboptions"], option), item["name"]


def test_the_playbook_sends_every_rendered_key():
    """What the render shows is what the tasks send: each module task passes every key the
    data uses (item.<key>), so the checks above cover what reaches the controller."""
    [play] = yaml.load(CONFIGURE.read_text(), Loader=Loader)
    sent = {}
    for task, _parents in tasks(play["tasks"]):
        name = action(task)
        if name and name.startswith("awx.awx."):
            loop = task["loop"]
            sent[name.split(".")[-1]] = (task[name], loop)
    data = {}
    for path in sorted((PLAYBOOKS / "vars/awx").glob("*.yml")):
        data.update(yaml.load(path.read_text(), Loader=Loader))
    sources = {
        "credential_type": data["awx_credential_types"],
        "job_template": data["awx_job_templates"],
        "workflow_job_template": data["awx_workflows"],
        "schedule": data["awx_schedules"],
        "project": [play["vars"]["_awx_project"]],
        "inventory_source": [play["vars"]["_awx_inventory_source"]],
    }
    for module, items in sources.items():
        args, loop = sent[module]
        assert "_awx_objects.%s" % module in loop
        for item in items:
            for key in item:
                assert key in args and "item.%s" % key in str(args[key]), "awx.awx.%s drops %s" % (
                    module,
                    key,
                )
    args, _loop = sent["credential"]
    assert args["inputs"] == "{{ item.inputs }}" and set(CREDENTIALS[0]) <= set(args)


def test_secrets_are_never_logged():
    [play] = yaml.load(CONFIGURE.read_text(), Loader=Loader)
    for task, _parents in tasks(play["tasks"]):
        args = task.get(action(task)) or {}
        if "inputs" in args and action(task) == "awx.awx.credential":
            assert task.get("no_log") is True


# -- job templates and surveys -------------------------------------------------------------


def test_every_runbook_has_a_job_template(rendered):
    _platform, objects = rendered
    playbooks = sorted(t["playbook"] for t in objects["job_template"])
    assert playbooks == sorted("playbooks/%s" % p.name for p in runbooks())
    for template in objects["job_template"]:
        assert template["ask_limit_on_launch"] is True  # the cluster pattern is AWX's limit
        assert template["execution_environment"] and template["project"] and template["inventory"]
        assert template["credentials"] == [c["name"] for c in CREDENTIALS]


def check_survey(survey, where):
    assert set(survey) == {"name", "description", "spec"}, where
    assert survey["spec"], where
    variables = [q["variable"] for q in survey["spec"]]
    assert len(set(variables)) == len(variables), "%s asks twice: %s" % (where, variables)
    for question in survey["spec"]:
        what = "%s %s" % (where, question.get("variable"))
        assert set(question) <= SURVEY_KEYS, what
        assert {"question_name", "variable", "type", "required"} <= set(question), what
        assert re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", question["variable"]), what
        assert question["type"] in SURVEY_TYPES and isinstance(question["required"], bool), what
        if question["type"] in ("multiplechoice", "multiselect"):
            choices = question["choices"]
            assert isinstance(choices, list) and choices and all(isinstance(c, str) for c in choices), what
            if "default" in question:
                assert question["default"] in choices, what
        else:
            assert "choices" not in question, what
        if question["type"] in ("integer", "float"):
            assert question["min"] <= question["max"], what
        if question["type"] == "password":
            assert "default" not in question, "%s: a password survey has no default in the repository" % what


def read_by(playbook):
    """The text a runbook reads variables from: itself, the frame, its procedure and the task
    files, defaults, vars and templates of the roles they include (comments left out)."""
    files = [PLAYBOOKS / playbook, PLAYBOOKS / "_runbook.yml", PLAYBOOKS / "procedures" / playbook]
    seen, text = set(), []
    while files:
        path = files.pop()
        if path in seen or not path.exists():
            continue
        seen.add(path)
        lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        text += lines
        for role in re.findall(r"multiagent\.ops\.(_?[a-z_]+)", "\n".join(lines)):
            for part in ("tasks", "defaults", "vars", "templates"):
                files += sorted((ROOT / "roles" / role / part).glob("*"))
    return "\n".join(text)


def test_surveys_are_well_formed_and_ask_only_what_the_runbook_reads(rendered):
    _platform, objects = rendered
    for template in objects["job_template"]:
        if not template.get("survey_enabled"):
            assert "survey_spec" not in template, template["name"]
            continue
        check_survey(template["survey_spec"], template["name"])
        text = read_by(Path(template["playbook"]).name)
        for question in template["survey_spec"]["spec"]:
            assert re.search(r"\b%s\b" % question["variable"], text), (
                "%s asks for %s, which %s does not read"
                % (
                    template["name"],
                    question["variable"],
                    template["playbook"],
                )
            )


def test_component_choices_are_the_inventorys_components(rendered):
    platform, objects = rendered
    names = [c["name"] for c in inventory(platform)["platform_components"]]
    [scale] = [t for t in objects["job_template"] if t["playbook"] == "playbooks/scale.yml"]
    [component] = [q for q in scale["survey_spec"]["spec"] if q["variable"] == "scale_component"]
    assert component["choices"] == names


def test_upgrade_and_rollback_offer_the_application_components_by_role(rendered):
    """A database or cache (by role, kind or not) is never offered as an application component."""
    platform, objects = rendered
    components = inventory(platform)["platform_components"]
    apps = [c["name"] for c in components if c.get("role", "app") == "app"]
    assert apps and len(apps) < len(components)
    for playbook, variable in (("upgrade", "upgrade_components"), ("rollback", "rollback_components")):
        [template] = [t for t in objects["job_template"] if t["playbook"] == "playbooks/%s.yml" % playbook]
        [question] = [q for q in template["survey_spec"]["spec"] if q["variable"] == variable]
        assert question["choices"] == apps, playbook


# -- workflows -------------------------------------------------------------------------------


def nodes_of(workflow):
    return {node["identifier"]: node for node in workflow["workflow_nodes"]}


def after(node, kind="success_nodes"):
    return [n["identifier"] for n in (node.get("related") or {}).get(kind, [])]


def test_workflow_nodes_run_existing_templates_in_order(rendered):
    _platform, objects = rendered
    templates = {t["name"]: t for t in objects["job_template"]}
    for workflow in objects["workflow_job_template"]:
        nodes = nodes_of(workflow)
        asked = {q["variable"] for q in (workflow.get("survey_spec") or {}).get("spec", [])}
        if workflow.get("survey_spec"):
            check_survey(workflow["survey_spec"], workflow["name"])
        for node in nodes.values():
            ujt = node["unified_job_template"]
            assert all(
                i in nodes
                for kind in ("success_nodes", "failure_nodes", "always_nodes")
                for i in after(node, kind)
            )
            if ujt["type"] == "workflow_approval":
                assert ujt["timeout"] >= 0
                continue
            assert ujt["type"] == "job_template" and ujt["name"] in templates, ujt
            survey = {q["variable"] for q in templates[ujt["name"]].get("survey_spec", {}).get("spec", [])}
            # a node's variables and the workflow's survey reach a job only through its survey
            assert set(node.get("extra_data") or {}) <= survey, node
            assert asked <= survey | {"ops_force"} or not asked & survey, node

    [nightly, restore] = objects["workflow_job_template"]
    nodes = nodes_of(nightly)
    playbook = {i: templates[n["unified_job_template"]["name"]]["playbook"] for i, n in nodes.items()}
    roots = set(nodes) - {i for n in nodes.values() for i in after(n)}
    assert {playbook[i] for i in roots} == {"playbooks/backup_database.yml", "playbooks/backup_redis.yml"}
    assert all(after(nodes[i]) == ["health"] for i in roots) and nodes["health"]["all_parents_must_converge"]
    assert playbook["health"] == "playbooks/health_check.yml"

    nodes = nodes_of(restore)
    chain, node = [], "approve"
    while node:
        chain.append(node)
        [node] = after(nodes[node]) or [None]
    steps = [
        nodes[i]["unified_job_template"]["type"]
        if nodes[i]["unified_job_template"]["type"] == "workflow_approval"
        else (
            templates[nodes[i]["unified_job_template"]["name"]]["playbook"],
            (nodes[i].get("extra_data") or {}),
        )
        for i in chain
    ]
    assert steps == [
        "workflow_approval",
        ("playbooks/restore_database.yml", {"backup_restore_state": "verified"}),
        ("playbooks/restore_database.yml", {"backup_restore_state": "restored"}),
        ("playbooks/health_check.yml", {}),
    ]
    assert {q["variable"] for q in restore["survey_spec"]["spec"]} == {"backup_restore_archive", "ops_force"}
    assert "verified" in read_by("restore_database.yml")  # the runbook's verify-only mode


# -- schedules -------------------------------------------------------------------------------


def awx_rrule_problems(rule):
    """AWX's own checks of a schedule's rule (its API answers 400 to any of these)."""
    problems = []
    if not re.match(r"^DTSTART;TZID=[A-Za-z_/+-]+:\d{8}T\d{6} RRULE:", rule):
        problems.append("DTSTART with a TZID first")
    for part in re.findall(r"RRULE:(\S+)", rule):
        if "INTERVAL=" not in part:
            problems.append("INTERVAL required")
        if re.search(r"BYDAY[:=][^;]*\d", part):
            problems.append("BYDAY with numeric prefix not supported")
        if "COUNT" in part and "UNTIL" in part:
            problems.append("COUNT and UNTIL")
        if re.search(r"FREQ=SECONDLY|BYYEARDAY|BYWEEKNO|EXDATE|RDATE", part):
            problems.append("unsupported part")
    return problems


# Runbooks that change nothing in the clusters: their schedules keep the seeds' times.
READS = {"playbooks/security_audit.yml"}


def test_schedules_run_inside_the_platforms_maintenance_windows(rendered):
    platform, objects = rendered
    spec = inventory(platform)
    zone_name, spec_windows = spec["platform_timezone"], spec["platform_maintenance_windows"]
    zone = windows.timezone(zone_name)
    launchable = {t["name"]: t for t in objects["job_template"] + objects["workflow_job_template"]}
    assert objects["schedule"]
    now = datetime.datetime.now(datetime.UTC)
    for schedule in objects["schedule"]:
        rule = schedule["rrule"]
        assert not awx_rrule_problems(rule), (rule, awx_rrule_problems(rule))
        assert rule.startswith("DTSTART;TZID=%s:" % zone_name)
        target = launchable[schedule["unified_job_template"]]
        asked = {q["variable"] for q in (target.get("survey_spec") or {}).get("spec", [])}
        assert set(schedule.get("extra_data") or {}) <= asked, schedule["name"]
        occurrences = du.rrulestr(rule.replace(" RRULE:", "\nRRULE:"), forceset=True).between(
            now, now + datetime.timedelta(days=60), inc=True
        )
        assert len(occurrences) >= 8, rule
        if target.get("playbook") in READS:
            continue  # a read needs no maintenance window: the seed's own time
        for moment in occurrences:
            status = maintenance_window(spec_windows, zone_name, moment.isoformat())
            assert status["open"], "%s: %s is outside every window" % (schedule["name"], moment)
            local = moment.astimezone(zone)
            starts = [w.current(local)[0] for _n, w in windows.normalize(spec_windows) if w.current(local)]
            assert local in starts, "%s: %s is not a window's opening" % (schedule["name"], local)


# -- credential types ------------------------------------------------------------------------


def credential_types(objects):
    return {t["name"]: t for t in objects["credential_type"]}


SAMPLES = {
    "Kubernetes clusters (kubeconfig)": {"kubeconfig": "apiVersion: v1\nkind: Config\ncontexts: []\n"},
    "PostgreSQL": {
        "host": "db.example",
        "port": "5433",
        "username": "ops",
        "password": "s3cret",
        "database": "app",
    },
    "Redis": {"host": "cache.example", "password": "r3dis", "tls": True},
    "S3 backup location": {
        "bucket": "backups",
        "endpoint_url": "http://127.0.0.1:9000",
        "access_key": "AK",
        "secret_key": "SK",
    },
}


def test_credential_types_inject_what_the_runbooks_read(rendered, tmp_path):
    _platform, objects = rendered
    types = credential_types(objects)
    assert set(types) == set(SAMPLES)
    for name, credential_type in types.items():
        awx_injectors.check(credential_type)
        for field in credential_type["inputs"]["fields"]:
            if re.search(r"password|secret|kubeconfig", field["id"]):
                assert field.get("secret") is True, "%s: %s must be secret" % (name, field["id"])

    env, extra, files = awx_injectors.render(
        types["Kubernetes clusters (kubeconfig)"], SAMPLES["Kubernetes clusters (kubeconfig)"], str(tmp_path)
    )
    [path] = files.values()
    assert Path(path).read_text() == SAMPLES["Kubernetes clusters (kubeconfig)"]["kubeconfig"]
    # the inventories read K8S_AUTH_KUBECONFIG into k8s_kubeconfig; the frame hands it to every module
    assert env == {"K8S_AUTH_KUBECONFIG": "/runner/env/" + Path(path).name}
    assert extra == {"k8s_kubeconfig": env["K8S_AUTH_KUBECONFIG"]}
    assert "K8S_AUTH_KUBECONFIG" in (ROOT / "inventories/mplp/hosts.yml").read_text()
    assert "k8s_kubeconfig" in (PLAYBOOKS / "_runbook.yml").read_text()

    env, extra, files = awx_injectors.render(types["PostgreSQL"], SAMPLES["PostgreSQL"], str(tmp_path))
    assert env == {} and files == {}
    assert extra["platform_database"] == {
        "name": "postgresql",
        "host": "db.example",
        "port": "5433",
        "user": "ops",
        "password": "s3cret",
        "dbname": "app",
        "sslmode": "prefer",
    }
    # the shape the inventories give platform_database
    assert set(extra["platform_database"]) >= set(inventory("mplp")["platform_database"])

    env, extra, files = awx_injectors.render(types["Redis"], SAMPLES["Redis"], str(tmp_path))
    assert extra["platform_cache"] == {
        "name": "redis",
        "host": "cache.example",
        "port": "6379",
        "username": "",
        "password": "r3dis",
        "tls": "True",
    }
    assert set(extra["platform_cache"]) >= set(inventory("mplp")["platform_cache"])

    env, extra, files = awx_injectors.render(
        types["S3 backup location"], SAMPLES["S3 backup location"], str(tmp_path)
    )
    location = extra["backup_s3"]
    assert set(location) <= set(store.S3_ARGSPEC) and location["bucket"] == "backups"
    assert (location["access_key"], location["secret_key"]) == ("AK", "SK")


def test_the_weekly_security_audit_runs_on_sundays_at_four_in_the_platforms_zone(rendered):
    platform, objects = rendered
    zone = windows.timezone(inventory(platform)["platform_timezone"])
    [schedule] = [s for s in objects["schedule"] if s["name"].endswith("Security audit, weekly")]
    now = datetime.datetime.now(datetime.UTC)
    rule = schedule["rrule"]
    for moment in du.rrulestr(rule.replace(" RRULE:", "\nRRULE:"), forceset=True).between(
        now, now + datetime.timedelta(days=30)
    ):
        local = moment.astimezone(zone)
        assert (local.weekday(), local.hour, local.minute) == (6, 4, 0), local
