"""An embedded NATS cluster: several JetStream servers on loopback ports, from the same binary.

``muster up --cluster 3`` and the test suite's cluster fixture use it to run the log replicated
(``MUSTER_EVENTS_REPLICAS=3``) on one machine. Each node has its own store directory
(``<data dir>/nats-cluster/n<i>``), client port and route port; all share the generated password
of the single-server setup (``<data dir>/nats.password``), for clients and for the routes between
nodes alike. The client URL lists every node, so a client reconnects to a live one when its node
dies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deploy.embedded import NATS_USER, generated_password, private_file, venv_binary
from deploy.processes import ServerProcess, free_port

CLUSTER_NAME = "muster"


@dataclass
class NatsCluster:
    """The nodes of one embedded cluster (not started: start each ``ServerProcess``)."""

    data_dir: Path
    nodes: list[ServerProcess] = field(default_factory=list)

    def client_url(self, running_only: bool = False) -> str:
        """Every node's URL, comma separated (``MUSTER_NATS_URL`` accepts that form)."""
        password = generated_password(self.data_dir / "nats.password")
        return ",".join(
            f"nats://{NATS_USER}:{password}@127.0.0.1:{node.port}"
            for node in self.nodes
            if node.running or not running_only
        )

    def node_named(self, server_name: str) -> ServerProcess:
        """The node whose ``server_name`` is ``server_name`` (as JetStream reports leaders)."""
        for node in self.nodes:
            if node.name == f"NATS {server_name}":
                return node
        raise KeyError(server_name)


def nats_cluster(data_dir: Path, size: int = 3, sync_interval: str = "2m") -> NatsCluster:
    """``size`` JetStream servers routed to each other, each storing under its own directory."""
    if size < 1:
        raise ValueError("a cluster has at least one node")
    password = generated_password(data_dir / "nats.password")
    ports = [(free_port(), free_port()) for _ in range(size)]
    routes = ", ".join(
        f"nats-route://{NATS_USER}:{password}@127.0.0.1:{route}" for _, route in ports
    )
    root = data_dir / "nats-cluster"
    cluster = NatsCluster(data_dir)
    for index, (client, route) in enumerate(ports, start=1):
        name = f"n{index}"
        store = root / name
        store.mkdir(parents=True, exist_ok=True)
        config = root / f"{name}.conf"
        private_file(
            config,
            f'server_name: "{name}"\n'
            f"listen: 127.0.0.1:{client}\n"
            f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: {sync_interval}\n}}\n'
            f'authorization {{\n  user: "{NATS_USER}"\n  password: "{password}"\n}}\n'
            f'cluster {{\n  name: "{CLUSTER_NAME}"\n  listen: 127.0.0.1:{route}\n'
            f'  authorization {{\n    user: "{NATS_USER}"\n    password: "{password}"\n  }}\n'
            f"  routes: [{routes}]\n}}\n",
        )
        argv = [venv_binary("nats-server"), "-c", str(config)]
        cluster.nodes.append(
            ServerProcess(
                name=f"NATS {name}",
                argv=argv,
                port=client,
                log_path=data_dir / "logs" / f"nats-{name}.log",
            )
        )
    return cluster
