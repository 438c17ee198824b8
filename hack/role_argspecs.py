"""Regenerate roles/<role>/meta/argument_specs.yml from defaults/main.yml.

Descriptions come from the comment block above each variable in defaults/main.yml (or the
tables below); types from the default values. Run after changing a role's defaults:

    .venv/bin/python hack/role_argspecs.py [backup|deploy ...]   (default: both)

roles/_ops has no defaults (an internal role, as prometheus.prometheus's _common): its specs
are written by hand.

tests/unit/roles/test_argument_specs.py checks that the specs and the defaults agree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[1] / "roles"
DESCRIPTIONS = {
    "backup_database_host": "Host of the PostgreSQL server (direct mode); default platform_database.host.",
    "backup_database_port": "Port of the server (direct mode).",
    "backup_database_user": "Role to connect as.",
    "backup_database_password": "Password of backup_database_user; never logged.",
    "backup_pod_selector": "Label selector of the primary PostgreSQL pod (in-cluster mode); default the"
    " component with role database.",
    "backup_container": "Container of that pod with the PostgreSQL tools (default its first).",
    "backup_namespace": "Platform namespace: the Lease lock, the pod (in-cluster), what a restore stops.",
    "backup_all_databases": "Back up every database that accepts connections.",
    "backup_retention_keep_daily": "Keep the newest backup of each of the last N days.",
    "backup_retention_keep_weekly": "Keep the newest backup of each of the last N ISO weeks.",
    "backup_retention_keep_monthly": "Keep the newest backup of each of the last N months.",
    "backup_lock": "Take the Lease lock on the platform database around backups.",
    "backup_lock_wait": "Seconds to wait for a lock someone else holds before failing, naming the holder.",
    "backup_schedule_enabled": "Install the nightly backup CronJob (tasks/schedule.yml).",
    "backup_schedule_name": "Name of the CronJob and of its ServiceAccount, Role, RoleBinding and ConfigMap.",
    "backup_schedule_storage_class": "StorageClass of the PVC (empty: the cluster default).",
    "backup_schedule_service_host": "Host the job connects to (the database Service).",
    "backup_schedule_resources": "Resources of the job container.",
    "backup_schedule_history": "Successful and failed Jobs to keep.",
    "backup_schedule_pvc_size": "Size of the archives PVC the role creates (empty: use an existing PVC).",
    "backup_schedule_timezone": "Time zone of the schedule (CronJob .spec.timeZone).",
}
SECRET = (
    "backup_database_password",
    "backup_s3",
    "deploy_secrets",
    "backup_config_vault_password",
    "backup_config_restore_vault_password",
    "monitoring_alertmanager_receivers",
)
CHOICES = {
    "backup_database_mode": ["direct", "in_cluster"],
    "backup_restore_state": ["restored", "verified"],
    "deploy_pod_security": ["privileged", "baseline", "restricted"],
    "deploy_availability": ["standard", "ha"],
    "backup_config_node_ports": ["auto", "keep", "drop"],
}
RAW = ("backup_database_port", "backup_databases", "deploy_platform_components")
ELEMENTS = {
    "deploy_secrets": "dict",
    "deploy_ingress_paths": "dict",
    "backup_config_custom_resources": "dict",
    "monitoring_alertmanager_receivers": "dict",
    "monitoring_alertmanager_routes": "dict",
    "monitoring_dashboards_extra": "dict",
}
# Defaults that are templates (the runbook's variable, else a value) have the type of what
# they render to.
TYPES = {
    "backup_redis_cache": "dict",
    "backup_redis_compression_level": "int",
    "backup_redis_keep_last": "int",
    "backup_redis_keep_daily": "int",
    "backup_redis_keep_weekly": "int",
    "backup_redis_keep_monthly": "int",
    "backup_redis_max_age_days": "float",
    "backup_redis_lock": "bool",
    "backup_redis_restore_flush": "bool",
    "backup_redis_restore_safety_backup": "bool",
    "backup_config_restore_create_namespace": "bool",
    "backup_config_restore_kinds": "list",
    "backup_config_restore_names": "list",
    "backup_config_restore_exclude": "list",
    "backup_restore_keep_running": "list",
    "deploy_security": "dict",
}


class Dumper(yaml.SafeDumper):
    """Indents sequences under their key, as yamllint (ansible-lint) wants; no anchors."""

    def ignore_aliases(self, data):
        return True

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def comments(text):
    found, block = {}, []
    for line in text.splitlines():
        if line.startswith("#") and not line.startswith("# ---"):
            block.append(line.lstrip("# ").strip())
        elif re.match(r"^[a-z0-9_]+:", line):
            found[line.split(":")[0]] = " ".join(block)
            block = []
        elif not line.strip() or line.startswith("# ---"):
            block = []
    return found


def kind(value):
    for python, name in ((bool, "bool"), (int, "int"), (list, "list"), (dict, "dict")):
        if isinstance(value, python):
            return name
    return "str"


def options(defaults, described, names):
    out = {}
    for name in names:
        value = defaults[name]
        option = {"description": DESCRIPTIONS.get(name) or described.get(name) or name, "type": kind(value)}
        if isinstance(value, str) and "{{" in value:
            option["type"] = TYPES.get(name) or ("raw" if name in RAW else "str")
        option["default"] = value
        if option["type"] == "list":
            option["elements"] = ELEMENTS.get(name, "str")
        if name in CHOICES:
            option["choices"] = CHOICES[name]
        if name in SECRET:
            option["no_log"] = True
        out[name] = option
    return out


def backup_specs(defaults, described):
    def starting(*prefixes):
        return [k for k in defaults if k.startswith(prefixes)]

    restore = starting("backup_restore_")
    schedule = starting("backup_schedule_")
    redis, redis_restore = starting("backup_redis_"), starting("backup_redis_restore_")
    config, config_restore = starting("backup_config_"), starting("backup_config_restore_")
    common = [k for k in defaults if k not in restore + schedule + redis + config]
    run_async = starting("backup_async_")  # the dump's and the snapshot's
    return {
        "main": {
            "short_description": "Back up the platform database (and install the nightly CronJob)",
            "description": [
                "Dumps the database(s) into checksummed zstd archives with manifests, optionally proves"
                " they restore, applies the retention policy, all under a Lease lock."
            ],
            "options": options(defaults, described, common + schedule + restore),
        },
        "restore_database": {
            "short_description": "Restore the platform database safely (gate, lock, safety backup, stop,"
            " restore, compare, resume)",
            "options": options(defaults, described, common + restore),
        },
        "schedule": {
            "short_description": "Install the nightly backup as a Kubernetes CronJob",
            "options": options(defaults, described, common + schedule),
        },
        "redis": {
            "short_description": "Back up the platform cache (Redis): RDB snapshot, checked, compressed,"
            " with its manifest, then retention, under the Lease lock redis-<name>",
            "options": options(
                defaults,
                described,
                [k for k in redis if k not in redis_restore] + run_async + ["backup_pushgateway_url"],
            ),
        },
        "restore_redis": {
            "short_description": "Restore the platform cache safely (verify, gate, lock, safety backup,"
            " restore, compare the key counts)",
            "options": options(defaults, described, redis),
        },
        "config": {
            "short_description": "Back up the Kubernetes configuration of a namespace into a checksummed"
            " archive (Secrets only vault-encrypted)",
            "options": options(defaults, described, [k for k in config if k not in config_restore]),
        },
        "restore_config": {
            "short_description": "Restore a namespace's configuration from an archive (verify and plan,"
            " gate, lock, apply in dependency order)",
            "options": options(defaults, described, config_restore),
        },
    }


def deploy_specs(defaults, described):
    return {
        "main": {
            "short_description": "Render and apply the platform from inventory data, then validate it",
            "description": [
                "Preflight (inputs, server version, served API groups, referenced Secrets), one"
                " batch apply of every rendered object with the rollouts waited for, and the"
                " post-deploy checklist through multiagent.ops.platform_health."
            ],
            "options": options(defaults, described, list(defaults)),
        },
        "security": {
            "short_description": "Render the platform's security objects as a deploy does (for the security"
            " role)",
            "description": [
                "Sets _deploy_security_manifests: the Namespace with its Pod Security labels, the"
                " ServiceAccounts, Roles, RoleBindings and NetworkPolicies of the platform description,"
                " the same objects a deploy applies."
            ],
            "options": options(defaults, described, list(defaults)),
        },
    }


def security_specs(defaults, described):
    return {
        "main": {
            "short_description": "Harden a platform from its description, then audit it",
            "description": [
                "Applies the platform's security objects as the deploy role renders them (default-deny"
                " and per-flow NetworkPolicies, per-component ServiceAccounts, Roles and RoleBindings,"
                " the Namespace's Pod Security labels) with multiagent.ops.k8s_apply, then audits the"
                " namespace with multiagent.ops.k8s_security_audit."
            ],
            "options": options(defaults, described, list(defaults)),
        },
    }


# The monitoring role's entry points: each step alone, with the role-wide options and its own.
MONITORING_STEPS = {
    "rules": (
        "Render and apply the platform's alert rules (PrometheusRule or rule files)",
        ("monitoring_rules_", "monitoring_alert"),
    ),
    "scrape": (
        "Render and apply the ServiceMonitors of the components that expose metrics",
        ("monitoring_scrape_",),
    ),
    "alertmanager": (
        "Render and apply the Alertmanager routing (AlertmanagerConfig or a file)",
        ("monitoring_alertmanager_",),
    ),
    "dashboards": (
        "Render and apply the Grafana dashboards as sidecar ConfigMaps",
        ("monitoring_dashboards_",),
    ),
}


def monitoring_specs(defaults, described):
    # A variable belongs to the step with its longest prefix: monitoring_alertmanager_* are the
    # Alertmanager step's, although they start with the rules step's monitoring_alert.
    def step_of(name):
        matches = [
            (len(prefix), step)
            for step, (_, prefixes) in MONITORING_STEPS.items()
            for prefix in prefixes
            if name.startswith(prefix)
        ]
        return max(matches)[1] if matches else None

    owned = {step: [k for k in defaults if step_of(k) == step] for step in MONITORING_STEPS}
    common = [k for k in defaults if not any(k in names for names in owned.values())]
    specs = {
        "main": {
            "short_description": "Alert rules, scrape targets, Alertmanager routing and dashboards from the"
            " platform description",
            "options": options(defaults, described, list(defaults)),
        }
    }
    for step, (title, _) in MONITORING_STEPS.items():
        if owned[step]:
            specs[step] = {
                "short_description": title,
                "options": options(defaults, described, common + owned[step]),
            }
    return specs


SPECS = {
    "backup": backup_specs,
    "deploy": deploy_specs,
    "monitoring": monitoring_specs,
    "security": security_specs,
}


def generate(role):
    path = ROLES / role
    text = (path / "defaults" / "main.yml").read_text()
    defaults, described = yaml.safe_load(text), comments(text)
    specs = {"argument_specs": SPECS[role](defaults, described)}
    with open(path / "meta" / "argument_specs.yml", "w") as handle:
        handle.write(
            "---\n# Generated by hack/role_argspecs.py from defaults/main.yml;"
            " tests/unit/roles/test_argument_specs.py checks they agree.\n"
        )
        yaml.dump(specs, handle, Dumper=Dumper, sort_keys=False, width=100, default_flow_style=False)


def main():
    for role in sys.argv[1:] or sorted(SPECS):
        generate(role)


if __name__ == "__main__":
    main()
