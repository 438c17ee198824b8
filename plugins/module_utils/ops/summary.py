# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a runbook publishes about one cluster when it ends (``set_stats``, aggregated by the
runbook frame under ``ops_<runbook>`` and keyed by cluster, so that the clusters of one run do
not overwrite each other and an AWX workflow can branch on them). Pure: it reads the results
the runbook registered, by the names the frame hands over.

Every summary has ``runbook``, ``cluster`` and ``status`` (``ok`` when the procedure ran to
its end, else ``failed``); then, for what the run did:

- ``health``: the platform's ``status``, ``score``, and the ``critical`` and ``warnings``
  counts of the last look;
- ``backups``: each archive written: ``kind``, ``target``, ``archive`` (its location: the S3
  URL or the path), ``size``, ``sha256``, ``manifest`` (the manifest's path), and
  ``tables``/``rows`` when the backup counted them;
- ``restored``: what was restored: ``kind``, ``target``, ``state`` (``restored`` or
  ``verified``), ``archive`` when known, ``rows`` (PostgreSQL, from the manifest checked),
  ``keys`` (Redis), ``objects`` (configuration);
- ``deploy``: the applied objects per action (``created``, ``updated``, ``unchanged``,
  ``failed``);
- ``changed``: whether anything the runbook's own steps registered changed.
"""

from __future__ import annotations

BACKUP_FIELDS = ("kind", "target", "size", "sha256", "tables", "rows")
DEPLOY_FIELDS = ("created", "updated", "unchanged", "failed")


class SummaryError(ValueError):
    """Input the summary cannot be made from; the message names it."""


def _ran(result):
    return isinstance(result, dict) and not result.get("skipped")


def health(result):
    report = result.get("report") if _ran(result) else None
    if not isinstance(report, dict):
        return None
    counts = report.get("counts") or {}
    return {
        "status": report.get("status"),
        "score": report.get("score"),
        "critical": counts.get("critical", 0),
        "warnings": counts.get("warning", 0),
    }


def backups(result):
    entries = []
    for entry in (result.get("backups") or []) if _ran(result) else []:
        if not isinstance(entry, dict):
            continue
        item = {key: entry[key] for key in BACKUP_FIELDS if entry.get(key) is not None}
        item["archive"] = entry.get("url") or entry.get("path")
        item["manifest"] = entry.get("manifest_path")
        entries.append(item)
    return entries


def _rows(manifest):
    tables = (manifest or {}).get("tables") if isinstance(manifest, dict) else None
    if not isinstance(tables, dict):
        return None
    return sum(int(t.get("rows") or 0) for t in tables.values() if isinstance(t, dict))


def restored(kind, result, state="restored"):
    if not _ran(result) or result.get("failed"):
        return None
    manifest = result.get("manifest") if isinstance(result.get("manifest"), dict) else {}
    item = {"kind": kind, "state": state, "target": result.get("database") or result.get("target")}
    if result.get("archive") or result.get("src"):
        item["archive"] = result.get("archive") or result.get("src")
    if kind == "postgresql":
        item["rows"] = _rows(manifest)
    elif kind == "redis":
        item["keys"] = manifest.get("keys_total")
    elif kind == "config":
        item["target"] = result.get("namespace")
        item["objects"] = len(result.get("created") or []) + len(result.get("updated") or [])
    return item


def deploy(result):
    summary = result.get("summary") if _ran(result) else None
    if not isinstance(summary, dict):
        return None
    return {key: summary.get(key, 0) for key in DEPLOY_FIELDS}


def summary(runbook, cluster, completed, results):
    """The summary of one cluster (see the module docstring). ``results`` maps the frame's
    names to what the runbook registered (absent or None when that step did not run):
    ``health``, ``backup_database``, ``backup_redis``, ``backup_config``,
    ``restore_database``, ``verify_database``, ``restore_redis``, ``restore_config``,
    ``deploy``, and ``steps`` (a list of the runbook's other registered results)."""
    if not runbook or not cluster:
        raise SummaryError("a summary needs the runbook and the cluster, got %r and %r" % (runbook, cluster))
    if not isinstance(results, dict):
        raise SummaryError("results must be a mapping of registered results, got %r" % (results,))
    out = {"runbook": runbook, "cluster": cluster, "status": "ok" if completed else "failed"}
    look = health(results.get("health"))
    if look:
        out["health"] = look
    written = []
    for name in ("backup_database", "backup_redis", "backup_config"):
        written.extend(backups(results.get(name)))
    if written:
        out["backups"] = written
    done = [
        restored("postgresql", results.get("restore_database")),
        restored("postgresql", results.get("verify_database"), state="verified"),
        restored("redis", results.get("restore_redis")),
        restored("config", results.get("restore_config")),
    ]
    done = [item for item in done if item]
    if done:
        out["restored"] = done
    applied = deploy(results.get("deploy"))
    if applied:
        out["deploy"] = applied
    steps = [r for r in results.get("steps") or [] if _ran(r)]
    out["changed"] = any(r.get("changed") for r in steps) or any(
        isinstance(r, dict) and r.get("changed")
        for key, r in results.items()
        if key not in ("health", "steps") and _ran(r)
    )
    return out
