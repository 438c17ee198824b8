# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one apply engine: tiered, concurrent writes of a plan (multiagent.ops.k8s_apply and
multiagent.ops.config_restore), and k8s_apply's preflight reads.

Everything goes through a ``Client`` (so a test can hand in a fake one). The decisions are
plan.py's and each item's policy's; this file only sequences requests:

- ``prepare`` (k8s_apply): one GET per distinct group/version and one of ``/version`` (all
  at once), then the plan, then one GET per Secret/ConfigMap that a workload needs and the
  batch does not carry, and per namespace the batch uses but does not create. Any problem
  raises plan.PlanError before anything is written.
- ``apply``: tier by tier, each object of a tier on a thread pool: the live object (read
  now, or before: ``prepare``'s reads, a caller's LIST), then nothing (its policy says the
  live object already has it), a create, or a patch. A create that meets an object made
  meanwhile (409) updates it instead. In check mode every write is a server-side dry run.
  New or changed CustomResourceDefinitions are waited for (Established) before the next
  tier. After a tier with a failure nothing more is sent; every object is reported as
  applied, failed or not attempted.
"""

from __future__ import annotations

import functools
import json
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources, wait
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply import plan as ap
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError

DRY_RUN = ("dryRun", "All")
CRD_ESTABLISH_TIMEOUT = 60


class Outcome:
    """What an apply did: per-object ``results`` (plan order), Ansible ``diffs``, the
    ``failures`` (messages) and ``targets`` (workloads to wait for)."""

    def __init__(self, results, diffs, failures, targets):
        self.results = results
        self.diffs = diffs
        self.failures = failures
        self.targets = targets

    @property
    def changed(self):
        return any(r["action"] in ("created", "updated") for r in self.results)

    @property
    def summary(self):
        return ap.summary(self.results)


class Applier:
    def __init__(
        self,
        reader,
        concurrency=8,
        field_manager="multiagent.ops",
        check_mode=False,
        diff=False,
        secret_values=(),
        clock=time.monotonic,
        sleep=time.sleep,
        crd_timeout=CRD_ESTABLISH_TIMEOUT,
    ):
        self.reader = reader
        self.concurrency = max(1, int(concurrency))
        self.field_manager = field_manager
        self.check_mode = check_mode
        self.diff = diff
        self.secret_values = set(secret_values)
        self.clock = clock
        self.sleep = sleep
        self.skipped = []  # objects whose serving condition does not hold (see prepare)
        self.prefetched = {}  # item.key -> (status, live object) read before the writes
        self.crd_timeout = crd_timeout

    # -- helpers --------------------------------------------------------------------------

    def _map(self, fn, items):
        items = list(items)
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    def _get(self, path):
        """``(status, decoded JSON or None)``; raises ApiError when no answer came."""
        status, data = self.reader.request(path)
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, None

    def _read(self, path, what):
        """The object at ``path``, None for 404; raises ApiError for other failures."""
        status, body = self._get(path)
        if status == 404:
            return None
        if not 200 <= status < 300 or not isinstance(body, dict):
            raise ap.api_error(status, body, self.reader.host, what)
        return body

    def _mask(self, text):
        return wl.mask(text, self.secret_values)

    def _query(self):
        query = [("fieldManager", self.field_manager)] if self.field_manager else []
        return query + [DRY_RUN] if self.check_mode else query

    # -- preflight ------------------------------------------------------------------------

    def prepare(
        self,
        manifests,
        default_namespace=None,
        min_server_version=None,
        refuse_annotations=(),
        hold_fields=None,
    ):
        """``(plan, version document)`` of k8s_apply's batch (see plan.ManifestPolicy for
        ``hold_fields``); raises PlanError (before any write) when a kind is not served,
        the server is too old, a namespace or a needed Secret or ConfigMap is missing, or a
        live object carries one of ``refuse_annotations``."""
        versions = ap.api_versions(manifests)
        versions += [v for v in ap.condition_versions(manifests) if v not in versions]

        def discover(api_version):
            if api_version is None:
                return self._read(resources.VERSION_PATH, "read the server version")
            return self._read(resources.discovery_path(api_version), "discover %s" % api_version)

        answers = self._map(discover, [None] + versions)
        version_doc, discovered = answers[0], dict(zip(versions, answers[1:], strict=True))
        problem = ap.version_problem(version_doc, min_server_version)
        if problem:
            raise ap.PlanError(problem)
        manifests, self.skipped = ap.select_served(manifests, discovered)
        types = ap.resolve_types(manifests, discovered)
        plan = ap.plan(manifests, types, default_namespace, hold_fields)

        checks = [("ref", item, ref) for item, ref in plan.lookups]
        checks += [("namespace", ns, users) for ns, users in sorted(plan.namespaces.items())]
        problems = [p for p in self._map(self._check, checks) if p]
        if problems:
            raise ap.PlanError("; ".join(problems))
        if refuse_annotations:
            self._prefetch(plan)
            live = [(item, self.prefetched.get(item.key, (0, None))[1]) for item in plan.items]
            problems = ap.refused(live, refuse_annotations)
            if problems:
                raise ap.PlanError("; ".join(problems))
        return plan, version_doc

    def _prefetch(self, plan):
        """Read every object of the plan (concurrently) before the first write; _apply then
        uses what was read instead of reading again."""
        items = [item for item in plan.items if not item.api_type.from_batch]
        answers = self._map(lambda item: self._get(item.path()), items)
        self.prefetched = {item.key: answer for item, answer in zip(items, answers, strict=True)}

    def _check(self, check):
        what, subject, detail = check
        if what == "ref":
            item, ref = subject, detail
            path = resources.get(ref.kind).object_path(item.namespace, ref.name)
            try:
                found = self._read(path, "read %s %s in namespace %s" % (ref.kind, ref.name, item.namespace))
            except ApiError as exc:
                if exc.fatal:
                    raise
                return "cannot check that %s %s needed by %s exists: %s" % (
                    ref.kind,
                    ref.name,
                    item.label,
                    exc,
                )
            return None if found is not None else ap.missing_reference_message(item, ref)
        namespace, users = subject, detail
        try:
            found = self._read(resources.namespace_path(namespace), "read namespace %s" % namespace)
        except ApiError as exc:
            if exc.kind == "forbidden":
                return None  # may not read namespaces: the writes will say if it is missing
            raise
        if found is None:
            shown = ", ".join(users[:5]) + (" and %d more" % (len(users) - 5) if len(users) > 5 else "")
            return "namespace %s does not exist and the batch does not create it (needed by %s)" % (
                namespace,
                shown,
            )
        if (found.get("status") or {}).get("phase") == "Terminating":
            return "namespace %s is being deleted" % namespace
        return None

    # -- writes ---------------------------------------------------------------------------

    def apply(self, plan, live=None):
        """Apply the plan tier by tier; returns an Outcome. ``live``: ``{item.key: object or
        None (absent)}`` read beforehand (one LIST per kind): those are not read again."""
        for key, obj in (live or {}).items():
            self.prefetched[key] = (200, obj) if obj is not None else (404, None)
        done = {}  # id(item) -> (result, diff)
        failures = []
        pending_namespaces = set()  # check mode: namespaces that would be created
        stopped = False
        for tier in plan.tiers:
            if stopped:
                for item in tier:
                    done[id(item)] = (item.result("not_attempted"), None)
                continue
            outcomes = self._map(
                functools.partial(self._apply_one, pending=frozenset(pending_namespaces)), tier
            )
            for item, (result, diff) in zip(tier, outcomes, strict=True):
                done[id(item)] = (result, diff)
                if result["action"] == "failed":
                    failures.append(result["error"])
            if not self.check_mode and not failures:
                failures += self._establish_crds(tier, done)
            if self.check_mode:
                pending_namespaces |= {
                    i.name
                    for i in tier
                    if i.api_type.key == ("", "Namespace") and done[id(i)][0]["action"] == "created"
                }
            stopped = bool(failures)
        results = [done[id(item)][0] for item in plan.items] + list(self.skipped)
        diffs = [done[id(item)][1] for item in plan.items if done[id(item)][1] is not None]
        targets = [
            {"kind": item.kind, "namespace": item.namespace, "name": item.name}
            for item in plan.items
            if item.api_type.key in ap.ROLLOUT_KINDS and done[id(item)][0]["action"] in ("created", "updated")
        ]
        return Outcome(results, diffs, failures, targets)

    def _apply_one(self, item, pending=frozenset()):
        try:
            return self._apply(item, pending)
        except ApiError as exc:
            return item.result("failed", self._mask("%s: %s" % (item.label, exc))), None
        except Exception as exc:  # noqa: BLE001 - one object's surprise must not hide the others' results
            return item.result("failed", self._mask("%s: unexpected error: %r" % (item.label, exc))), None

    def _fail(self, item, verb, status, answer):
        message = item.policy.failure(item, verb, status, answer, self.reader.host)
        return item.result("failed", self._mask(message)), None

    def _done(self, item, action, before, after, update=None):
        diff = None
        if self.diff and action in ("created", "updated"):
            diff = item.policy.diff(item, before, after, update, self.check_mode)
        result = item.result(action)
        if update is not None and update.held:
            result["held"] = update.held
        return result, diff

    def _apply(self, item, pending_namespaces):
        policy = item.policy
        if self.check_mode and (item.namespace in pending_namespaces or item.api_type.from_batch):
            # Its namespace or kind would be created by this batch: the server cannot
            # validate it yet, and it cannot exist.
            result, diff = self._done(item, "created", None, policy.create_body(item))
            result["validated"] = False
            return result, diff
        what = "read %s" % item.label
        status, live = self.prefetched.pop(item.key, None) or self._get(item.path())
        if status == 404:
            live = None
        elif not 200 <= status < 300 or not isinstance(live, dict):
            return self._fail(item, "get", status, live)
        if live is None:
            body = policy.create_body(item)
            status, answer = self.reader.send(
                "POST", item.collection_path(), body, "create %s" % item.label, query=self._query()
            )
            if status == 409:
                # Made meanwhile (a new namespace's default ServiceAccount): update it instead.
                live = self._read(item.path(), what)
                if live is None:
                    return self._fail(item, "create", status, answer)
            elif 200 <= status < 300:
                return self._done(item, "created", None, answer if isinstance(answer, dict) else body)
            else:
                return self._fail(item, "create", status, answer)
        update = policy.update(item, live)
        if update.applied:
            return self._done(item, "unchanged", live, None, update)
        status, answer = self._patch(item, update.body, update.content_type)
        if not 200 <= status < 300 or not isinstance(answer, dict):
            return self._fail(item, "patch", status, answer)
        if self.check_mode:
            changed = ap.changed_by_dry_run(live, answer)
        elif ap.resource_version(answer) and ap.resource_version(live):
            changed = ap.resource_version(answer) != ap.resource_version(live)
        else:
            changed = ap.changed_by_dry_run(live, answer)
        return self._done(item, "updated" if changed else "unchanged", live, answer, update)

    def _patch(self, item, body, content_type):
        status, answer = self.reader.send(
            "PATCH",
            item.path(),
            body,
            "patch %s" % item.label,
            content_type=content_type,
            query=self._query(),
        )
        if status == 415 and content_type == resources.STRATEGIC:
            # Not a built-in type after all (an aggregated API, a CRD in a built-in group).
            status, answer = self.reader.send(
                "PATCH",
                item.path(),
                body,
                "patch %s" % item.label,
                content_type=resources.MERGE,
                query=self._query(),
            )
        return status, answer

    def _establish_crds(self, tier, done):
        """Wait until the CRDs this tier created or changed are Established (their kinds
        served), so that objects of those kinds in later tiers can be written."""
        crds = [
            item
            for item in tier
            if item.api_type.key == ("apiextensions.k8s.io", "CustomResourceDefinition")
            and done[id(item)][0]["action"] in ("created", "updated")
        ]
        if not crds:
            return []

        def on_timeout(target, status, obj, error, timeout):
            if error is not None:
                return wait.timed_out(target, status, obj, error, timeout)
            message = "not Established after %ds: its kind is not served yet" % timeout
            return dict(status or wait.blank(target), done=False, failed=True, message=message)

        waiter = wait.Waiter(
            self.reader,
            self.crd_timeout,
            poll=0.5,
            what="the CustomResourceDefinition",
            noun="wait for a CustomResourceDefinition",
            on_timeout=on_timeout,
            clock=self.clock,
            sleep=self.sleep,
        )
        targets = [wait.Target(item.api_type, None, item.name, wait.established) for item in crds]
        failures = []
        for item, status in zip(crds, waiter.wait(targets), strict=True):
            if not status["done"]:
                message = self._mask("%s: %s" % (item.label, status["message"]))
                done[id(item)][0]["error"] = message
                failures.append(message)
        return failures
