"""The kubemu API server: kmock's ``KubernetesEmulator`` with the real apiserver's semantics.

kmock supplies the object storage with history (``emulator.objects``), the bundled discovery data
(``emulator.resources``), the request log and the HTTP server. kubemu replaces kmock's request
parsing and routing (``__call__``/``_handle``), because kmock's parser cannot address the
``namespaces`` resource and its reactions model a mock rather than an apiserver.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp.web
import yaml
from kmock import KubernetesEmulator, KubernetesError, Request, ResourceInfo, action, resource

from . import errors
from .admission import Admission
from .convert import to_served, to_storage
from .events import EventRecorder
from .faults import Faults
from .patching import json_patch, merge_patch, strategic_merge_patch
from .paths import ApiPath, parse_api_path
from .resources import METRICS_GROUP, Registry, ResourceType
from .selection import make_filter
from .store import ObjectStore, timestamp

log = logging.getLogger("kubemu")

SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0+kubemu",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-04-23T00:00:00Z",
    "goVersion": "go1.24.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_SCALABLE = frozenset({("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets")})
_UNDELETABLE_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


@dataclass
class Options:
    token: str
    state_dir: Path
    cluster_name: str = "kubemu"
    default_backend: str | None = None
    ready_delay: float = 0.3
    user: str = "system:serviceaccount:ops:runner"
    node_count: int = 2
    metrics: bool = True
    # How often a crash-looping container restarts (restartCount grows by one per period).
    crashloop_period: float = 10.0
    # Keep kmock's request log (``list(emulator)``): handy in-process, a leak in a long run.
    record_requests: bool = True


@dataclass
class ApiCall:
    """One API request, parsed: what subresource handlers receive."""

    raw: aiohttp.web.BaseRequest
    path: ApiPath
    rt: ResourceType
    verb: str
    body: bytes

    @property
    def query(self) -> Mapping[str, str]:
        return self.raw.query

    def flag(self, name: str) -> bool:
        """A boolean query parameter as the API server reads it (Go's strconv.ParseBool):
        clients send ``true``, ``True`` or ``1``."""
        return query_bool(self.raw.query.get(name))


def query_bool(value: str | None) -> bool:
    return value in ("1", "t", "T", "true", "TRUE", "True")


SubresourceHandler = Callable[[ApiCall], Awaitable[aiohttp.web.StreamResponse]]


@dataclass(frozen=True)
class Subresource:
    """A served subresource: what discovery says about it and the handler serving it."""

    kind: str
    verbs: tuple[str, ...]
    handler: SubresourceHandler
    group: str | None = None
    version: str | None = None


def json_response(body: Any, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.Response(
        body=json.dumps(body).encode(), status=status, content_type="application/json"
    )


def error_response(error: KubernetesError) -> aiohttp.web.Response:
    return json_response(errors.status_body(error), status=error.status)


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector in the string form of ``Scale.status.selector``."""
    terms = [f"{k}={v}" for k, v in sorted(((selector or {}).get("matchLabels") or {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op, values = expr["operator"], ",".join(expr.get("values") or [])
        terms.append(
            {
                "In": f"{expr['key']} in ({values})",
                "NotIn": f"{expr['key']} notin ({values})",
                "Exists": expr["key"],
                "DoesNotExist": f"!{expr['key']}",
            }[op]
        )
    return ",".join(terms)


def _int_query(call: ApiCall, name: str) -> int | None:
    value = call.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def _kmock_action(method: str, api: ApiPath, watch: bool) -> action | None:
    """The kmock action of a request, for filtering kmock's request log."""
    if method == "GET":
        return action.WATCH if watch else action.FETCH if api.name else action.LIST
    if api.name is None:
        return action.CREATE if method == "POST" else None
    return {"PATCH": action.UPDATE, "DELETE": action.DELETE}.get(method)


class Kubemu(KubernetesEmulator):
    """A Kubernetes API emulator with controllers, faults and a control API."""

    def __init__(self, options: Options) -> None:
        self.options = options
        super().__init__()
        self.resources.load_bundled()
        self.registry = Registry(self.resources)
        self.store = ObjectStore(self.objects, on_change=self.notify_changed)
        self.admission = Admission()
        self.faults = Faults(metrics_default=options.metrics)
        self.events = EventRecorder(self)
        self.subresources: dict[tuple[str, str, str], Subresource] = {}
        self._wakeup = asyncio.Event()
        # Imported here: those modules register handlers on this instance and import this one.
        from . import control, controllers, exec, logs, metrics, proxy

        self.control = control.ControlApi(self)
        self.metrics = metrics.MetricsApi(self)
        self.controllers = controllers.ControlPlane(self)
        logs.register(self)
        proxy.register(self)
        self.pod_exec = exec.register(self)
        self.controllers.bootstrap()

    def __attrs_post_init__(self) -> None:
        # kmock registers its DSL fallback reactions here; kubemu routes requests in _handle().
        pass

    # Extension point: pods/log, services/proxy and pods/exec (a websocket) register here.
    def register_subresource(self, group: str, plural: str, name: str, sub: Subresource) -> None:
        self.subresources[(group, plural, name)] = sub

    def notify_changed(self) -> None:
        self._wakeup.set()

    async def wait_for_change(self, timeout: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wakeup.wait()
        self._wakeup.clear()

    # Lookups used by the controllers and the other modules

    def rt(self, group: str, plural: str) -> ResourceType:
        rt = self.registry.preferred(group, plural)
        assert rt is not None, f"{plural}.{group} is not served"
        return rt

    def get(self, group: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.store.get(self.rt(group, plural).storage, namespace, name)

    def list(self, group: str, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.store.list(self.rt(group, plural).storage, namespace)

    def create_internal(self, group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create an object as a controller does: defaulted, validated, no auth."""
        rt = self.rt(group, plural)
        obj = to_storage(obj, rt)
        self.admission.prepare_create(rt, obj, obj.get("metadata", {}).get("namespace"))
        return self.store.put(rt.storage, obj)

    def update_internal(
        self,
        group: str,
        plural: str,
        namespace: str | None,
        name: str,
        change: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any] | None:
        return self.store.update(self.rt(group, plural).storage, namespace, name, change)

    def delete_internal(self, group: str, plural: str, namespace: str | None, name: str) -> None:
        rt = self.rt(group, plural)
        last = self.store.remove(rt.storage, namespace, name)
        if last is not None:
            self._removed(rt, last)

    def _removed(self, rt: ResourceType, last: dict[str, Any]) -> None:
        if (rt.group, rt.plural) == ("", "pods"):
            self.controllers.kubelet.pod_removed(last)
        elif (rt.group, rt.plural) == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._unregister_crd(last)

    # HTTP entry point

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        body = await raw.read()
        try:
            self._authenticate(raw)
            if raw.path.startswith("/_kubemu/"):
                response = await self.control.handle(raw, body)
            elif self.faults.outage() == "disconnect":
                # The API server went away: the client sees its connection dropped.
                if raw.transport is not None:
                    raw.transport.abort()
                return aiohttp.web.Response(status=503)
            elif self.faults.outage() == "unavailable":
                raise errors.service_unavailable("the server is currently unable to handle the request")
            else:
                response = await self._handle(self._record(raw, body))
        except KubernetesError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("kubemu failed on %s %s", raw.method, raw.path_qs)
            response = error_response(
                errors.api_error(500, "InternalError", "Internal error occurred: kubemu failed")
            )
        log.debug("%s %s -> %s", raw.method, raw.path_qs, response.status)
        return response

    def _authenticate(self, raw: aiohttp.web.BaseRequest) -> None:
        header = raw.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        expected = self.options.token.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            raise errors.unauthorized()

    def _record(self, raw: aiohttp.web.BaseRequest, body: bytes) -> Request:
        """Append to kmock's request log (``list(emulator)``), with kubemu's path parsing."""
        api = parse_api_path(raw.path)
        text = body.decode("utf-8", "replace")
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        fields: dict[str, Any] = {}
        if api is not None and api.plural is not None and api.version is not None:
            fields = {
                "action": _kmock_action(raw.method, api, query_bool(raw.query.get("watch"))),
                "resource": resource(api.group, api.version, api.plural),
                "namespace": api.namespace,
                "name": api.name,
                "subresource": api.subresource,
            }
        request = Request(
            id=len(self._requests),
            raw_request=raw,
            url=raw.url,
            method=raw.method,
            params=dict(raw.query),
            headers=dict(raw.headers),
            body=body,
            text=text,
            data=data,
            **fields,
        )
        if self.options.record_requests:
            self._requests.append(request)
        return request

    async def _handle(self, request: Request) -> aiohttp.web.StreamResponse:
        raw = request._raw_request
        assert raw is not None  # always set by _record()
        path = raw.path.rstrip("/") or "/"
        if raw.method == "GET":
            match path:
                case "/":
                    return json_response({"paths": self._root_paths()})
                case "/version":
                    return json_response(SERVER_VERSION)
                case "/healthz" | "/livez" | "/readyz":
                    return aiohttp.web.Response(text="ok")
                case "/api":
                    return json_response(self._api_versions(raw))
                case "/apis":
                    return json_response(self._group_list())
        api = parse_api_path(raw.path)
        if api is None:
            raise errors.url_not_found()
        if api.group == METRICS_GROUP and not self.faults.metrics_enabled:
            raise errors.url_not_found()
        if api.version is None:
            return json_response(self._group(api.group))
        if api.plural is None:
            return json_response(self._resource_list(api.group, api.version))
        rt = self.registry.get(api.group, api.version, api.plural)
        if rt is None:
            raise errors.url_not_found()
        call = ApiCall(raw, api, rt, self._verb(raw.method, api), request.body)
        self._authorize(call)
        if api.group == METRICS_GROUP:
            return await self.metrics.serve(call)
        if api.subresource is None:
            return await self._serve_resource(call)
        sub = self.served_subresources(rt).get(api.subresource)
        if sub is None or api.name is None:
            raise errors.url_not_found()
        return await sub.handler(call)

    # Authorization: the deny list

    @staticmethod
    def _verb(method: str, api: ApiPath) -> str:
        if api.subresource == "proxy":
            return {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update"}.get(
                method, method.lower()
            )
        match method:
            case "GET" | "HEAD":
                return "get" if api.name else "list"
            case "POST":
                return "create"
            case "PUT":
                return "update"
            case "PATCH":
                return "patch"
            case "DELETE":
                return "delete" if api.name else "deletecollection"
        raise errors.method_not_allowed()

    def _authorize(self, call: ApiCall) -> None:
        verb = call.verb
        if verb in ("list", "get") and call.flag("watch"):
            verb = "watch"
        rt, api = call.rt, call.path
        res = rt.plural + (f"/{api.subresource}" if api.subresource else "")
        if not self.faults.denied(verb, rt.group, res, api.namespace):
            return
        subject = f'{rt.qualified} "{api.name}"' if api.name else rt.qualified
        scope = f'in the namespace "{api.namespace}"' if api.namespace else "at the cluster scope"
        raise errors.forbidden(
            f'{subject} is forbidden: User "{self.options.user}" cannot {verb} resource "{res}" '
            f'in API group "{rt.group}" {scope}',
            rt.plural,
            rt.group,
            api.name,
        )

    # Discovery

    def _served_groups(self) -> dict[str, list[str]]:
        groups = self.registry.groups()
        if not self.faults.metrics_enabled:
            groups.pop(METRICS_GROUP, None)
        return groups

    def _root_paths(self) -> list[str]:
        paths = {"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"}
        for group, versions in self._served_groups().items():
            if group:
                paths.add(f"/apis/{group}")
                paths.update(f"/apis/{group}/{version}" for version in versions)
        return sorted(paths)

    @staticmethod
    def _api_versions(raw: aiohttp.web.BaseRequest) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": raw.host}],
        }

    @staticmethod
    def _group_doc(group: str, versions: list[str]) -> dict[str, Any]:
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def _group_list(self) -> dict[str, Any]:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [self._group_doc(g, vs) for g, vs in self._served_groups().items() if g],
        }

    def _group(self, group: str) -> dict[str, Any]:
        versions = self._served_groups().get(group)
        if not versions or not group:
            raise errors.url_not_found()
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group_doc(group, versions)}

    def served_subresources(self, rt: ResourceType) -> dict[str, Subresource]:
        subs: dict[str, Subresource] = {}
        if "status" in rt.subresources:
            subs["status"] = Subresource(rt.kind, ("get", "patch", "update"), self._serve_status)
        if (rt.group, rt.plural) in _SCALABLE:
            subs["scale"] = Subresource(
                "Scale", ("get", "patch", "update"), self._serve_scale, "autoscaling", "v1"
            )
        for (group, plural, name), sub in self.subresources.items():
            if (group, plural) == (rt.group, rt.plural):
                subs[name] = sub
        return subs

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        if version not in self._served_groups().get(group, []):
            raise errors.url_not_found()
        resources = []
        for rt in sorted(self.registry.all(), key=lambda rt: rt.plural):
            if (rt.group, rt.version) != (group, version):
                continue
            entry: dict[str, Any] = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": sorted(rt.verbs),
            }
            if rt.shortnames:
                entry["shortNames"] = list(rt.shortnames)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            for name, sub in sorted(self.served_subresources(rt).items()):
                sub_entry: dict[str, Any] = {
                    "name": f"{rt.plural}/{name}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": sub.kind,
                    "verbs": list(sub.verbs),
                }
                if sub.group is not None:
                    sub_entry.update(group=sub.group, version=sub.version)
                resources.append(sub_entry)
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    # The resource itself: list, watch, get, create, update, patch, delete, deletecollection

    async def _serve_resource(self, call: ApiCall) -> aiohttp.web.StreamResponse:
        rt, api = call.rt, call.path
        if api.namespace is not None and not rt.namespaced:
            raise errors.url_not_found()
        if call.verb not in rt.verbs and not (call.verb == "deletecollection" and "delete" in rt.verbs):
            raise errors.method_not_allowed()
        dry_run = call.query.get("dryRun") == "All"
        match call.verb:
            case "list":
                if call.flag("watch"):
                    return await self._watch(call)
                return json_response(self._list(call))
            case "get":
                if call.flag("watch"):
                    return await self._watch(call)
                return json_response(to_served(self._existing(rt, api.namespace, api.name), rt))
            case "create":
                if api.name is not None or (rt.namespaced and api.namespace is None):
                    raise errors.method_not_allowed()
                if (rt.group, rt.plural) == ("authorization.k8s.io", "selfsubjectaccessreviews"):
                    return json_response(self._access_review(self._body(call)), status=201)
                created = self.create(rt, api.namespace, self._body(call), dry_run=dry_run)
                return json_response(to_served(created, rt), status=201)
            case "update":
                return json_response(to_served(self._replace(call, dry_run), rt))
            case "patch":
                obj, created = self._patch(call, dry_run)
                return json_response(to_served(obj, rt), status=201 if created else 200)
            case "delete":
                return json_response(self._delete(call, rt, api.namespace, api.name, dry_run))
            case "deletecollection":
                predicate = make_filter(
                    call.query.get("labelSelector"), call.query.get("fieldSelector"), rt.plural
                )
                deleted = []
                for obj in self.store.list(rt.storage, api.namespace):
                    if predicate(obj):
                        name = obj["metadata"]["name"]
                        self._delete(call, rt, obj["metadata"].get("namespace"), name, dry_run)
                        deleted.append(to_served(obj, rt))
                return json_response(self._list_body(rt, deleted))
        raise errors.method_not_allowed()

    def _existing(self, rt: ResourceType, namespace: str | None, name: str | None) -> dict[str, Any]:
        obj = self.store.get(rt.storage, namespace, name or "")
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name or "")
        return obj

    def _list_body(self, rt: ResourceType, items: list[dict[str, Any]]) -> dict[str, Any]:
        # Like the apiserver, items carry no kind/apiVersion of their own in a list.
        for item in items:
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self.store.resource_version)},
            "items": items,
        }

    def _list(self, call: ApiCall) -> dict[str, Any]:
        rt = call.rt
        predicate = make_filter(call.query.get("labelSelector"), call.query.get("fieldSelector"), rt.plural)
        objs = [o for o in self.store.list(rt.storage, call.path.namespace) if predicate(o)]
        offset = 0
        if token := call.query.get("continue"):
            try:
                offset = int(base64.urlsafe_b64decode(token.encode()).decode())
            except ValueError:
                raise errors.bad_request("continue key is not valid: illegal base64 data") from None
        limit = _int_query(call, "limit") or 0
        page = objs[offset : offset + limit] if limit else objs[offset:]
        # Only the page is copied and converted: a paged LIST costs what one page costs.
        body = self._list_body(rt, [to_served(o, rt) for o in page])
        if limit and len(objs) - offset > limit:
            body["metadata"]["continue"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
            body["metadata"]["remainingItemCount"] = len(objs) - offset - limit
        return body

    async def _watch(self, call: ApiCall) -> aiohttp.web.StreamResponse:
        rt, api = call.rt, call.path
        field_selector = call.query.get("fieldSelector")
        if api.name:  # a watch on one object is a watch on its name
            name_term = f"metadata.name={api.name}"
            field_selector = f"{field_selector},{name_term}" if field_selector else name_term
        predicate = make_filter(call.query.get("labelSelector"), field_selector, rt.plural)
        subscription = self.store.subscribe(rt.storage, api.namespace)
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        try:
            since = call.query.get("resourceVersion") or "0"
            if since == "0":
                backlog = [("ADDED", o, None) for o in self.store.list(rt.storage, api.namespace)]
            else:
                changes = self.store.changes_since(rt.storage, _int_query(call, "resourceVersion") or 0)
                if changes is None:
                    await response.prepare(call.raw)
                    gone = errors.api_error(410, "Expired", f"too old resource version: {since}")
                    await self._write_event(response, "ERROR", errors.status_body(gone))
                    return response
                backlog = changes
            await response.prepare(call.raw)
            for kind, obj, old in backlog:
                await self._send_watch_event(response, rt, predicate, kind, obj, old)
            timeout = _int_query(call, "timeoutSeconds") or 1800
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    while True:
                        kind, obj, old = await subscription.queue.get()
                        await self._send_watch_event(response, rt, predicate, kind, obj, old)
            await response.write_eof()
        except ConnectionError:
            pass  # the client went away
        finally:
            self.store.unsubscribe(subscription)
        return response

    async def _send_watch_event(
        self,
        response: aiohttp.web.StreamResponse,
        rt: ResourceType,
        predicate: Callable[[Mapping[str, Any]], bool],
        kind: str,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
    ) -> None:
        # An object entering or leaving the selection is ADDED or DELETED from the watcher's view.
        was = old is not None and kind != "ADDED" and predicate(old)
        now = predicate(obj)
        if kind == "MODIFIED" and now != was:
            kind = "ADDED" if now else "DELETED"
        elif not now and not (kind == "DELETED" and was):
            return
        await self._write_event(response, kind, to_served(obj, rt))

    @staticmethod
    async def _write_event(response: aiohttp.web.StreamResponse, kind: str, obj: Any) -> None:
        await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

    def _body(self, call: ApiCall) -> dict[str, Any]:
        try:
            body = json.loads(call.body or b"null")
        except ValueError:
            try:
                body = yaml.safe_load(call.body)
            except yaml.YAMLError:
                body = None
        if not isinstance(body, dict):
            raise errors.bad_request(
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json, application/yaml, application/vnd.kubernetes.protobuf"
            )
        return body

    def _check_namespace(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        if not rt.namespaced:
            return
        ns = self.get("", "namespaces", None, namespace or "")
        if ns is None:
            raise errors.not_found("namespaces", "", namespace or "")
        if ns.get("status", {}).get("phase") == "Terminating":
            raise errors.forbidden(
                f'{rt.qualified} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                rt.plural,
                rt.group,
                name,
            )

    def create(
        self, rt: ResourceType, namespace: str | None, body: dict[str, Any], dry_run: bool = False
    ) -> dict[str, Any]:
        """Create from a client's body (served version); returns the stored object."""
        kind = body.get("kind")
        if kind not in (None, rt.kind):
            raise errors.bad_request(
                f"the API version in the data ({body.get('apiVersion')}) does not match the "
                f"expected API version ({rt.api_version})"
            )
        obj = to_storage(body, rt)
        self.admission.prepare_create(rt, obj, namespace)
        name = obj["metadata"]["name"]
        self._check_namespace(rt, namespace, name)
        if self.store.get(rt.storage, obj["metadata"].get("namespace"), name) is not None:
            raise errors.already_exists(rt.plural, rt.group, name)
        if dry_run:
            return obj
        self._before_write(rt, obj)
        return self.store.put(rt.storage, obj)

    def _before_write(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if (rt.group, rt.plural) == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._register_crd(obj)

    def _write(
        self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any], dry_run: bool
    ) -> dict[str, Any]:
        """Store an update unless nothing changed (then the resourceVersion stays)."""
        comparable = copy.deepcopy(new)
        comparable["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        comparable["metadata"]["generation"] = old["metadata"].get("generation")
        if old["metadata"].get("generation") is None:
            comparable["metadata"].pop("generation")
        if comparable == old or dry_run:
            return comparable if dry_run else old
        self._before_write(rt, new)
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            # The last finalizer is gone: the deletion completes now.
            last = self.store.remove(rt.storage, meta.get("namespace"), meta["name"])
            assert last is not None
            self._removed(rt, last)
            return last
        return self.store.put(rt.storage, new)

    def _check_preconditions(self, rt: ResourceType, old: dict[str, Any], body: dict[str, Any]) -> None:
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, old["metadata"]["name"])

    def _replace(self, call: ApiCall, dry_run: bool) -> dict[str, Any]:
        rt, api = call.rt, call.path
        body = self._body(call)
        body_name = (body.get("metadata") or {}).get("name")
        if body_name != api.name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({api.name})"
            )
        old = self._existing(rt, api.namespace, api.name)
        self._check_preconditions(rt, old, body)
        new = self._keep_status(rt, old, to_storage(body, rt))
        self.admission.prepare_update(rt, old, new)
        return self._write(rt, old, new, dry_run)

    @staticmethod
    def _keep_status(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """Writes to a resource leave its status alone when the status has its own endpoint."""
        if "status" in rt.subresources:
            new.pop("status", None)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
        return new

    def _apply_patch(self, call: ApiCall, current: dict[str, Any]) -> dict[str, Any]:
        """Apply the request's patch to ``current`` (an object in the served version)."""
        content_type = call.raw.headers.get("Content-Type", "").split(";")[0].strip()
        match content_type:
            case "application/json-patch+json":
                try:
                    operations = json.loads(call.body or b"null")
                except ValueError:
                    raise errors.bad_request("invalid JSON patch") from None
                return json_patch(current, operations)
            case "application/merge-patch+json":
                return merge_patch(current, self._body(call))
            case "application/strategic-merge-patch+json" | "application/apply-patch+yaml":
                if content_type.startswith("application/strategic") and self._is_custom(call.rt):
                    raise errors.api_error(
                        415,
                        "UnsupportedMediaType",
                        "strategic merge patch is not supported for custom resources",
                    )
                return strategic_merge_patch(current, self._body(call))
        raise errors.api_error(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - "
            f"accepted media types include: application/json-patch+json, "
            f"application/merge-patch+json, application/apply-patch+yaml, "
            f"application/strategic-merge-patch+json (got {content_type!r})",
        )

    def _is_custom(self, rt: ResourceType) -> bool:
        crds = self.list("apiextensions.k8s.io", "customresourcedefinitions")
        return any(
            (crd["spec"]["group"], crd["spec"]["names"]["plural"]) == (rt.group, rt.plural) for crd in crds
        )

    def _patch(self, call: ApiCall, dry_run: bool) -> tuple[dict[str, Any], bool]:
        rt, api = call.rt, call.path
        apply = call.raw.headers.get("Content-Type", "").startswith("application/apply-patch")
        if apply and not call.query.get("fieldManager"):
            raise errors.bad_request("PATCH /apply requests require fieldManager")
        old = self.store.get(rt.storage, api.namespace, api.name or "")
        if old is None:
            if not apply:
                raise errors.not_found(rt.plural, rt.group, api.name or "")
            body = self._body(call)
            body.setdefault("metadata", {}).setdefault("name", api.name)
            return self.create(rt, api.namespace, body, dry_run=dry_run), True
        patched = self._apply_patch(call, to_served(old, rt))
        self._check_preconditions(rt, old, patched)
        new = self._keep_status(rt, old, to_storage(patched, rt))
        self.admission.prepare_update(rt, old, new)
        return self._write(rt, old, new, dry_run), False

    def _delete_options(self, call: ApiCall) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if call.body.strip():
            with contextlib.suppress(ValueError):
                options = json.loads(call.body) or {}
        if "propagationPolicy" in call.query:
            options["propagationPolicy"] = call.query["propagationPolicy"]
        if call.flag("orphanDependents") or options.get("orphanDependents"):
            options.setdefault("propagationPolicy", "Orphan")
        return options

    def _delete(
        self, call: ApiCall, rt: ResourceType, namespace: str | None, name: str | None, dry_run: bool
    ) -> dict[str, Any]:
        obj = self._existing(rt, namespace, name)
        name = obj["metadata"]["name"]
        options = self._delete_options(call)
        preconditions = options.get("preconditions") or {}
        for field_name in ("uid", "resourceVersion"):
            wanted = preconditions.get(field_name)
            if wanted and wanted != obj["metadata"].get(field_name):
                raise errors.api_error(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {rt.qualified} "{name}": Precondition '
                    f"failed: {field_name} in precondition: {wanted}, {field_name} in object "
                    f"meta: {obj['metadata'].get(field_name)}",
                )
        if dry_run:
            return to_served(obj, rt)
        policy = options.get("propagationPolicy") or "Background"
        if (rt.group, rt.plural) == ("", "namespaces"):
            if name in _UNDELETABLE_NAMESPACES:
                raise errors.forbidden(
                    f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                    "namespaces",
                    "",
                    name,
                )

            def terminate(ns: dict[str, Any]) -> None:
                ns["metadata"].setdefault("deletionTimestamp", timestamp())
                ns["status"]["phase"] = "Terminating"

            return to_served(self.store.update(rt.storage, None, name, terminate) or obj, rt)
        if policy == "Orphan":
            self.controllers.orphan_dependents(obj["metadata"]["uid"])
        if obj["metadata"].get("finalizers") or policy == "Foreground":

            def mark(o: dict[str, Any]) -> None:
                o["metadata"].setdefault("deletionTimestamp", timestamp())
                o["metadata"].setdefault("deletionGracePeriodSeconds", 0)
                if policy == "Foreground":
                    finalizers = o["metadata"].setdefault("finalizers", [])
                    if "foregroundDeletion" not in finalizers:
                        finalizers.append("foregroundDeletion")

            return to_served(self.store.update(rt.storage, namespace, name, mark) or obj, rt)
        last = self.store.remove(rt.storage, namespace, name)
        assert last is not None
        self._removed(rt, last)
        if (rt.group, rt.plural) == ("", "pods"):
            # Pods are deleted gracefully, so the apiserver answers with the pod itself.
            last["metadata"]["deletionTimestamp"] = timestamp()
            last["metadata"]["deletionGracePeriodSeconds"] = 30
            return to_served(last, rt)
        details: dict[str, Any] = {"name": name, "kind": rt.plural, "uid": obj["metadata"]["uid"]}
        if rt.group:
            details["group"] = rt.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    # Subresources: status and scale

    async def _serve_status(self, call: ApiCall) -> aiohttp.web.StreamResponse:
        rt, api = call.rt, call.path
        old = self._existing(rt, api.namespace, api.name)
        if call.verb == "get":
            return json_response(to_served(old, rt))
        if call.verb == "update":
            incoming = to_storage(self._body(call), rt)
        elif call.verb == "patch":
            incoming = to_storage(self._apply_patch(call, to_served(old, rt)), rt)
        else:
            raise errors.method_not_allowed()
        self._check_preconditions(rt, old, incoming)
        new = copy.deepcopy(old)
        new["status"] = incoming.get("status") or {}
        return json_response(to_served(self._write(rt, old, new, False), rt))

    def _scale_of(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": selector_string(obj["spec"].get("selector")),
            },
        }

    async def _serve_scale(self, call: ApiCall) -> aiohttp.web.StreamResponse:
        rt, api = call.rt, call.path
        old = self._existing(rt, api.namespace, api.name)
        if call.verb == "get":
            return json_response(self._scale_of(rt, old))
        if call.verb == "update":
            scale = self._body(call)
        elif call.verb == "patch":
            scale = self._apply_patch(call, self._scale_of(rt, old))
        else:
            raise errors.method_not_allowed()
        self._check_preconditions(rt, old, scale)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                "Scale",
                "autoscaling",
                old["metadata"]["name"],
                [("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")],
            )
        new = copy.deepcopy(old)
        new["spec"]["replicas"] = replicas
        return json_response(self._scale_of(rt, self._write(rt, old, new, False)))

    # SelfSubjectAccessReview: answered from the deny list, so permission checks agree with it.

    def _access_review(self, body: dict[str, Any]) -> dict[str, Any]:
        attributes = (body.get("spec") or {}).get("resourceAttributes") or {}
        res = attributes.get("resource", "")
        if attributes.get("subresource"):
            res = f"{res}/{attributes['subresource']}"
        denied = self.faults.denied(
            attributes.get("verb", ""), attributes.get("group", ""), res, attributes.get("namespace") or None
        )
        review = copy.deepcopy(body)
        review.setdefault("metadata", {})["creationTimestamp"] = None
        review["status"] = {"allowed": not denied}
        if denied:
            review["status"]["denied"] = True
        return review

    # CustomResourceDefinitions make their resources appear, as with a real apiserver.

    def _register_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        self.registry.remove(spec.get("group", ""), names.get("plural", ""))
        storage_version = None
        for version in spec.get("versions") or []:
            if version.get("storage"):
                storage_version = version["name"]
            if not version.get("served", True):
                continue
            self.registry.add(
                spec["group"],
                version["name"],
                names["plural"],
                ResourceInfo(
                    kind=names.get("kind"),
                    singular=names.get("singular") or names.get("kind", "").lower(),
                    namespaced=spec.get("scope") == "Namespaced",
                    verbs={"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
                    shortnames=set(names.get("shortNames") or ()),
                    categories=set(names.get("categories") or ()),
                    subresources={"status"} if "status" in (version.get("subresources") or {}) else set(),
                ),
            )
        now = timestamp()
        crd["status"] = {
            "acceptedNames": dict(names),
            "storedVersions": [storage_version] if storage_version else [],
            "conditions": [
                {
                    "type": condition,
                    "status": "True",
                    "lastTransitionTime": now,
                    "reason": reason,
                    "message": message,
                }
                for condition, reason, message in (
                    ("NamesAccepted", "NoConflicts", "no conflicts found"),
                    ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                )
            ],
        }

    def _unregister_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        plural = (spec.get("names") or {}).get("plural", "")
        rt = self.registry.preferred(spec.get("group", ""), plural)
        if rt is not None:
            for obj in self.store.list(rt.storage):
                self.store.remove(rt.storage, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        self.registry.remove(spec.get("group", ""), plural)
