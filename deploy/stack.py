"""The local stack: the three servers Muster needs, embedded unless URLs are configured.

``LocalStack`` is used by ``muster up`` and by the test suite's session fixture alike. A server
whose URL is configured (``MUSTER_NATS_URL``, ``MUSTER_DATABASE_URL``, ``MUSTER_REDIS_URL``) is
used as it is; any other is started under the data directory on a free loopback port.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from deploy.embedded import nats_client_url, nats_server, redis_client_url, redis_server
from deploy.embedded_cluster import NatsCluster, nats_cluster
from deploy.embedded_postgres import (
    ensure_database,
    postgres_server,
    superuser_url,
    wait_until_accepting,
)
from deploy.processes import ServerProcess

DATABASE = "muster"


@dataclass
class Endpoint:
    """Where one dependency is, and whether Muster started it."""

    name: str
    url: str
    embedded: bool
    detail: str = ""
    pid: int | None = None


@dataclass
class LocalStack:
    """Start the servers that have no configured URL; stop them on exit."""

    data_dir: Path
    nats_url: str | None = None
    database_url: str | None = None
    redis_url: str | None = None
    durable: bool = True
    discard: bool = False  # remove the data on stop (tests and benchmarks)
    nats_sync_interval: str = "2m"
    nats_cluster: int = 1  # >1: that many routed NATS nodes (deploy/embedded_cluster.py)
    cluster: NatsCluster | None = None
    processes: list[ServerProcess] = field(default_factory=list)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)

    def start(self) -> LocalStack:
        """Start what is needed and wait until each one answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        planned: dict[str, ServerProcess] = {}
        if self.nats_url is None and self.nats_cluster > 1:
            self.cluster = nats_cluster(
                self.data_dir, self.nats_cluster, sync_interval=self.nats_sync_interval
            )
            planned.update({f"nats-{i}": node for i, node in enumerate(self.cluster.nodes, 1)})
        elif self.nats_url is None:
            planned["nats"] = nats_server(self.data_dir, sync_interval=self.nats_sync_interval)
        if self.database_url is None:
            planned["postgres"] = postgres_server(self.data_dir, durable=self.durable)
        if self.redis_url is None:
            planned["redis"] = redis_server(self.data_dir, persist=self.durable)
        try:
            # Started from this thread, not a pool: PR_SET_PDEATHSIG fires when the *thread*
            # that forked a server exits.
            for process in planned.values():
                self.processes.append(process)  # known to stop() even if start() fails midway
                process.start()
            if "postgres" in planned:
                admin = superuser_url(planned["postgres"], "postgres")
                wait_until_accepting(admin)
                ensure_database(admin, DATABASE)
        except BaseException:
            self.stop()
            raise
        self._record(planned)
        return self

    def _record(self, planned: dict[str, ServerProcess]) -> None:
        def endpoint(name: str, key: str, configured: str | None, url: str) -> Endpoint:
            process = planned.get(key)
            if process is None:
                return Endpoint(name, configured or "", embedded=False, detail="configured")
            pid = process.proc.pid if process.proc else None
            return Endpoint(name, url, embedded=True, detail=f"log {process.log_path}", pid=pid)

        nats = planned.get("nats")
        if self.cluster is not None:
            first = self.cluster.nodes[0]
            pids = ", ".join(str(n.proc.pid) for n in self.cluster.nodes if n.proc)
            self.endpoints["nats"] = Endpoint(
                f"NATS x{len(self.cluster.nodes)}", self.cluster.client_url(), embedded=True,
                detail=f"cluster, pids {pids}, logs {first.log_path.parent}",
                pid=first.proc.pid if first.proc else None,
            )  # fmt: skip
        pg = planned.get("postgres")
        redis = planned.get("redis")
        self.endpoints = {
            "nats": self.endpoints.get("nats") or endpoint(
                "NATS JetStream", "nats", self.nats_url,
                nats_client_url(self.data_dir, nats.port) if nats else "",
            ),
            "postgres": endpoint(
                "PostgreSQL", "postgres", self.database_url,
                superuser_url(pg, DATABASE) if pg else "",
            ),
            "redis": endpoint(
                "Redis", "redis", self.redis_url,
                redis_client_url(self.data_dir, redis.port) if redis else "",
            ),
        }  # fmt: skip

    def url(self, key: str) -> str:
        """The URL of ``nats``, ``postgres`` or ``redis``."""
        return self.endpoints[key].url

    def stop(self) -> None:
        """Stop every server this stack started, newest first.

        A throwaway stack (``durable=False`` or ``discard=True``, as in tests and benchmarks)
        also removes its PostgreSQL cluster when that had to live outside the data directory.
        """
        while self.processes:
            process = self.processes.pop()
            process.stop()
            throwaway = self.discard or not self.durable
            if throwaway and process.cwd and not process.cwd.is_relative_to(self.data_dir):
                shutil.rmtree(process.cwd, ignore_errors=True)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
