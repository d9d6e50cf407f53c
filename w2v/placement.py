"""Where trainer actors run: the cluster's trainer nodes, the autoscaler request, one node per actor.

Pure functions over `ray.nodes()` records where possible (`trainer_nodes`, `place_actors`), so the
rules are testable without a cluster; `wait_for_nodes` and `release_node_request` talk to Ray's
autoscaler. The driver (`driver`) and the pipeline (`pipeline`) call these; nothing here trains.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence

from .config import TrainConfig
from .errors import ClusterError

logger = logging.getLogger(__name__)

# The custom Ray resource of nodes meant for a trainer actor (`resources: {w2v_node: 1}` in
# cluster.yaml). When any alive node has it, only such nodes train and each actor claims the one
# unit, so two trainer actors can never share a node; without it (a laptop, a test cluster)
# every node with a CPU trains.
NODE_RESOURCE = "w2v_node"

NODE_POLL_SECONDS = 2.0  # how often `wait_for_nodes` looks at the cluster


def alive_nodes() -> list[dict[str, Any]]:
    """The alive Ray nodes that may run a trainer actor, largest first (see `trainer_nodes`)."""
    import ray

    return trainer_nodes(ray.nodes())


def draining_nodes() -> dict[str, int]:
    """Nodes Ray is draining, {node id: deadline in ms since the epoch (0: none)}: a preemption notice.

    `ray drain-node --reason DRAIN_NODE_REASON_PREEMPTION --deadline-remaining-seconds N` drains one
    (a spot-termination handler can run it on the cloud's notice; Ray's autoscaler v2 drains nodes
    it terminates). Ray's own Ray Train reads the same table (`ray._private.state`, not a public
    API): when it cannot be read, that is said once, no node is taken as draining and faults are
    handled as they come.
    """
    import ray

    global _DRAINING_UNREADABLE
    try:
        return dict(ray._private.state.state.get_draining_nodes())
    except Exception as exc:  # an older or newer Ray without it
        if not _DRAINING_UNREADABLE:
            _DRAINING_UNREADABLE = True
            logger.warning("cannot read which Ray nodes drain (%s): preemption notices of nodes are not seen",
                           str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return {}


_DRAINING_UNREADABLE = False  # draining_nodes said once that it cannot read the table


def trainer_nodes(ray_nodes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """From `ray.nodes()`: alive nodes with a CPU, only those with NODE_RESOURCE when any has it.

    Returns {'node_id', 'cpus', 'address', 'resource'}, most CPUs first; 'resource' says whether
    the actor must claim NODE_RESOURCE.

    >>> n = lambda i, **r: {"NodeID": i, "Alive": True, "NodeManagerAddress": "h", "Resources": {"CPU": 4, **r}}
    >>> [x["node_id"] for x in trainer_nodes([n("head"), n("w1", w2v_node=1)])]
    ['w1']
    >>> [x["node_id"] for x in trainer_nodes([n("a"), n("b")])]
    ['a', 'b']
    """
    nodes = [
        {"node_id": n["NodeID"], "cpus": int(n["Resources"].get("CPU", 0)), "address": n["NodeManagerAddress"],
         "resource": n["Resources"].get(NODE_RESOURCE, 0) >= 1}
        for n in ray_nodes
        if n.get("Alive") and n["Resources"].get("CPU", 0) >= 1
    ]
    if any(n["resource"] for n in nodes):
        nodes = [n for n in nodes if n["resource"]]
    return sorted(nodes, key=lambda n: (-n["cpus"], n["node_id"]))


def wait_for_nodes(config: TrainConfig) -> list[dict[str, Any]]:
    """The alive trainer nodes; with `wait_for_nodes`, first up to that many seconds for `actors` of them.

    On an autoscaling cluster (`ray up cluster.yaml`) trainer nodes start minutes after the head, so a
    job submitted at once would find too few. It asks the autoscaler for one `NODE_RESOURCE` per
    actor (`request_resources`; a no-op without an autoscaler) and waits. The request stands until
    the actors hold the nodes (`release_node_request`), so idle trainer nodes are not scaled down
    during the counting pass. While no node has `NODE_RESOURCE` yet, every node with a CPU counts
    (a cluster without trainer node types): `--actors 1` may then train on the head.
    """
    nodes = alive_nodes()
    if not config.wait_for_nodes or config.actors is None or len(nodes) >= config.actors:
        return nodes
    from ray.autoscaler.sdk import request_resources

    logger.info("waiting up to %.0f s for %d trainer node(s); %d alive", config.wait_for_nodes, config.actors,
                len(nodes))
    request_resources(bundles=[{NODE_RESOURCE: 1}] * config.actors)
    deadline = time.monotonic() + config.wait_for_nodes
    try:
        while len(nodes) < config.actors and time.monotonic() < deadline:
            time.sleep(min(NODE_POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
            found = alive_nodes()
            if len(found) != len(nodes):
                logger.info("trainer nodes alive: %d of %d", len(found), config.actors)
            nodes = found
    finally:
        if len(nodes) < config.actors:  # the job fails here (place_actors)
            release_node_request()
    return nodes


def release_node_request() -> None:
    """Withdraw `wait_for_nodes`' request to the autoscaler (idempotent; a no-op without one)."""
    from ray.autoscaler.sdk import request_resources

    request_resources(bundles=[])


def place_actors(config: TrainConfig, nodes: Sequence[dict[str, Any]], shards: int) -> list[dict[str, Any]]:
    """Pick one node per actor: K = --actors (default: every node), never more actors than shards."""
    if not nodes:
        raise ClusterError("the Ray cluster has no alive node with a CPU")
    wanted = config.actors or len(nodes)
    if wanted > len(nodes):
        raise ClusterError(
            f"actors={wanted}: one trainer actor runs per node and the cluster has {len(nodes)} alive "
            + (f"trainer node(s) (resource {NODE_RESOURCE})" if nodes[0].get("resource") else "node(s) with CPUs")
            + (f" after waiting {config.wait_for_nodes:g} s; add nodes, lower --actors or wait longer"
               if config.wait_for_nodes else "; add nodes, lower --actors, or wait for them with --wait-for-nodes")
        )
    if wanted > shards:
        logger.warning("actors=%d but the corpus has %d file(s): training with %d actor(s)", wanted, shards, shards)
        wanted = shards
    return [dict(node, workers=config.workers or node["cpus"]) for node in nodes[:wanted]]
