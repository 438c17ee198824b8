"""``pods/log``: container logs read from files under ``STATE_DIR/logs/<ns>/<pod>/<container>.log``.

A line may begin with an RFC 3339 timestamp and a space (what the kubelet stores); ``sinceSeconds``
and ``sinceTime`` filter on it, and ``timestamps=true`` shows it. The previous instance of a
restarted container logs to ``<container>.previous.log``.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp.web

from . import errors
from .api import ApiCall, Subresource
from .store import now, parse_timestamp

if TYPE_CHECKING:
    from .api import Kubemu

_TIMESTAMPED = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (?P<text>.*)$", re.S
)
_FOLLOW_POLL = 0.2
_FOLLOW_LIMIT = 300.0  # seconds a follow stream stays open at most


def log_path(state_dir: Path, namespace: str, pod: str, container: str, previous: bool = False) -> Path:
    suffix = ".previous.log" if previous else ".log"
    return state_dir / "logs" / namespace / pod / f"{container}{suffix}"


def rfc3339_nano(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def append_lines(path: Path, lines: list[str]) -> None:
    """Append lines, stamping those that do not begin with a timestamp already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = rfc3339_nano(now())
    with path.open("a", encoding="utf-8") as handle:
        for line in lines:
            handle.write((line if _TIMESTAMPED.match(line) else f"{stamp} {line}") + "\n")


def _parse(text: str) -> datetime.datetime | None:
    # Python 3.11 parses at most microseconds: drop the extra nanosecond digits.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


def render(content: str, fallback: datetime.datetime, params: dict[str, Any]) -> bytes:
    """Apply sinceSeconds/sinceTime, tailLines, timestamps and limitBytes to a log's content."""
    entries: list[tuple[datetime.datetime | None, str, str]] = []
    for line in content.splitlines():
        match = _TIMESTAMPED.match(line)
        if match:
            entries.append((_parse(match["ts"]), match["ts"], match["text"]))
        else:
            entries.append((None, "", line))
    since = params.get("since")
    if since is not None:
        entries = [e for e in entries if e[0] is None or e[0] >= since]
    tail = params.get("tailLines")
    if tail is not None:
        entries = entries[-tail:] if tail > 0 else []
    out = []
    for _, stamp, text in entries:
        if params.get("timestamps"):
            out.append(f"{stamp or rfc3339_nano(fallback)} {text}")
        else:
            out.append(text)
    data = "".join(f"{line}\n" for line in out).encode()
    limit = params.get("limitBytes")
    return data[:limit] if limit else data


def _int_param(call: ApiCall, name: str) -> int | None:
    value = call.query.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None
    if number < 0 or (number == 0 and name != "tailLines"):
        raise errors.invalid(
            "PodLogOptions", "", "", [(name, f"Invalid value: {number}: must be greater than 0")]
        )
    return number


class PodLogs:
    def __init__(self, emulator: Kubemu) -> None:
        self._emu = emulator

    def _container(self, pod: dict[str, Any], requested: str | None) -> str:
        name = pod["metadata"]["name"]
        containers = [c["name"] for c in pod["spec"].get("containers") or []]
        init = [c["name"] for c in pod["spec"].get("initContainers") or []]
        if not requested:
            if len(containers) == 1:
                return containers[0]
            message = (
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
            )
            if init:
                message += f" or one of the init containers: [{' '.join(init)}]"
            raise errors.bad_request(message)
        if requested not in containers + init:
            raise errors.bad_request(f"container {requested} is not valid for pod {name}")
        return requested

    async def serve(self, call: ApiCall) -> aiohttp.web.StreamResponse:
        if call.verb != "get":
            raise errors.method_not_allowed()
        api = call.path
        pod = self._emu._existing(call.rt, api.namespace, api.name)
        name, namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]
        container = self._container(pod, call.query.get("container"))
        previous = call.flag("previous")
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        status = next((s for s in statuses if s["name"] == container), None)
        if not pod["spec"].get("nodeName"):
            return aiohttp.web.Response(body=b"", content_type="text/plain")  # as the apiserver
        waiting = ((status or {}).get("state") or {}).get("waiting") or {}
        if previous and not (status or {}).get("restartCount"):
            raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        state = (status or {}).get("state") or {}
        started = "running" in state or "terminated" in state
        if not previous and not started and waiting.get("reason") != "CrashLoopBackOff":
            reason = waiting.get("reason") or "ContainerCreating"
            if reason in ("ErrImagePull", "ImagePullBackOff"):
                reason = "trying and failing to pull image"
            raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
        params: dict[str, Any] = {
            "tailLines": _int_param(call, "tailLines"),
            "limitBytes": _int_param(call, "limitBytes"),
            "timestamps": call.flag("timestamps"),
        }
        since_seconds = _int_param(call, "sinceSeconds")
        if since_seconds is not None:
            params["since"] = now() - datetime.timedelta(seconds=since_seconds)
        elif call.query.get("sinceTime"):
            params["since"] = _parse(call.query["sinceTime"])
        path = log_path(self._emu.options.state_dir, namespace, name, container, previous)
        content = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        fallback = (
            datetime.datetime.fromtimestamp(path.stat().st_mtime, tz=datetime.UTC) if path.exists() else now()
        )
        body = render(content, fallback, params)
        if not call.flag("follow"):
            return aiohttp.web.Response(body=body, content_type="text/plain")
        return await self._follow(call, path, body, len(content.encode()), params, pod)

    async def _follow(
        self,
        call: ApiCall,
        path: Path,
        initial: bytes,
        offset: int,
        params: dict[str, Any],
        pod: dict[str, Any],
    ) -> aiohttp.web.StreamResponse:
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(call.raw)
        meta = pod["metadata"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _FOLLOW_LIMIT
        try:
            await response.write(initial)
            while loop.time() < deadline:
                current = self._emu.get("", "pods", meta["namespace"], meta["name"])
                if current is None or current["metadata"]["uid"] != meta["uid"]:
                    break  # the pod is gone: so is its log stream
                if path.exists() and path.stat().st_size > offset:
                    with path.open("rb") as handle:
                        handle.seek(offset)
                        chunk = handle.read()
                    offset += len(chunk)
                    follow_params = {"timestamps": params.get("timestamps")}
                    await response.write(render(chunk.decode("utf-8", "replace"), now(), follow_params))
                await asyncio.sleep(_FOLLOW_POLL)
            await response.write_eof()
        except ConnectionError:
            pass
        return response


def register(emulator: Kubemu) -> None:
    logs = PodLogs(emulator)
    emulator.register_subresource("", "pods", "log", Subresource("Pod", ("get",), logs.serve))
