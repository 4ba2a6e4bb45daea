"""A real Ray cluster on this machine, on loopback only: Ray's own multi-node test cluster.

Every node is a real raylet with its own worker processes; removing a node kills them, as losing a
machine would. ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes every Ray process take 127.0.0.1 as its
node address (by default Ray picks the machine's outward interface), so no traffic leaves loopback.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

RAY_LOOPBACK_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # node address: loopback
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
}
LOOPBACK = "127.0.0.1"
# Ray reads these once, when it is first imported: conftest imports this module before any test does.
os.environ.update(RAY_LOOPBACK_ENV)


@contextmanager
def ray_cluster(worker_nodes: int = 2, cpus_per_node: int = 1) -> Iterator[Any]:
    """A head with no CPUs of its own (so actors land on worker nodes) plus ``worker_nodes`` nodes."""
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    if ray_constants.ENABLE_RAY_CLUSTER:  # Ray was imported before RAY_LOOPBACK_ENV was set
        raise RuntimeError("Ray would use this machine's outward address; import tests/ray_cluster.py first")

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": LOOPBACK, "dashboard_host": LOOPBACK, "include_dashboard": True})
    try:
        for _ in range(worker_nodes):
            cluster.add_node(num_cpus=cpus_per_node, node_ip_address=LOOPBACK)
        yield cluster
    finally:
        cluster.shutdown()
