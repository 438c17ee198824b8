"""``python -m kubemu``: serve the emulated Kubernetes API until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from .api import Options
from .runner import serve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kubemu", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18081, help="0 picks a free port")
    parser.add_argument("--token-file", type=Path, required=True, help="bearer token clients must send")
    parser.add_argument("--state-dir", type=Path, required=True, help="pod logs live here")
    parser.add_argument("--cluster-name", default="kubemu", help="region label of the fake nodes")
    parser.add_argument("--default-backend", help="URL the service proxy forwards to by default")
    parser.add_argument("--ready-delay", type=float, default=0.3, help="seconds until a pod is Ready")
    parser.add_argument("--nodes", type=int, default=2, help="number of fake nodes")
    parser.add_argument("--crashloop-period", type=float, default=10.0, help="seconds per crash-loop restart")
    parser.add_argument(
        "--user", default="system:serviceaccount:ops:runner", help="user named in 403 messages"
    )
    parser.add_argument("--no-metrics", action="store_true", help="start without metrics.k8s.io")
    parser.add_argument("--log-level", default="INFO", help="DEBUG logs every request")
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> None:
    token = args.token_file.read_text(encoding="utf-8").strip()
    if not token:
        raise SystemExit(f"kubemu: the token file {args.token_file} is empty")
    options = Options(
        token=token,
        state_dir=args.state_dir,
        cluster_name=args.cluster_name,
        default_backend=args.default_backend,
        ready_delay=args.ready_delay,
        user=args.user,
        node_count=args.nodes,
        metrics=not args.no_metrics,
        crashloop_period=args.crashloop_period,
        record_requests=False,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve(options, args.host, args.port) as (_, url):
        print(f"kubemu listening on {url}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    arguments = parse_args()
    logging.basicConfig(
        level=arguments.log_level.upper(),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # aiohttp's access log would print every request at INFO; kubemu logs them at DEBUG itself.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    asyncio.run(main(arguments))
