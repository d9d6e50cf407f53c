"""cluster.yaml: valid for the Ray cluster launcher as shipped, and consistent with the project.

Validation is Ray's own: `prepare_config` (merges the AWS defaults as `ray up` does) then
`validate_config` (the JSON schema in ray/autoscaler/ray-schema.json).
"""

import copy
import re
from pathlib import Path

import pytest
import yaml

from w2v.placement import NODE_RESOURCE

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_YAML = ROOT / "cluster.yaml"


@pytest.fixture(scope="module")
def cluster():
    return yaml.safe_load(CLUSTER_YAML.read_text(encoding="utf-8"))


def prepared(config):
    from ray.autoscaler._private.util import prepare_config, validate_config

    ready = prepare_config(copy.deepcopy(config))
    validate_config(ready)
    return ready


def test_ray_prepares_and_validates_it(cluster):
    ready = prepared(cluster)
    assert ready["head_node_type"] in ready["available_node_types"]
    # Our commands replace the defaults (which would install a Ray 3.0 dev wheel).
    assert ready["setup_commands"] == cluster["setup_commands"]
    assert not any("ray-wheels" in c for c in ready["head_setup_commands"] + ready["worker_setup_commands"])


def test_the_validation_rejects_a_broken_config(cluster):
    import jsonschema

    broken = {**cluster, "idle_timeout_minute": 5}  # a typo'd key
    with pytest.raises(jsonschema.ValidationError, match="idle_timeout_minute"):
        prepared(broken)
    wrong_type = {**cluster, "max_workers": "four"}
    with pytest.raises(jsonschema.ValidationError):
        prepared(wrong_type)


def test_trainer_nodes_offer_the_resource_the_job_claims(cluster):
    types = cluster["available_node_types"]
    head = types[cluster["head_node_type"]]
    workers = {name: t for name, t in types.items() if name != cluster["head_node_type"]}
    assert workers, "cluster.yaml has no trainer node type"
    for name, node_type in workers.items():
        assert node_type["resources"] == {NODE_RESOURCE: 1}, name  # one unit: one actor per node
        assert node_type["min_workers"] <= node_type["max_workers"] <= cluster["max_workers"]
    assert NODE_RESOURCE not in head["resources"]  # the head runs the driver, never a trainer


def test_every_node_has_an_image_and_an_instance_profile(cluster):
    for name, node_type in cluster["available_node_types"].items():
        node = node_type["node_config"]
        assert re.fullmatch(r"ami-[0-9a-f]{8,17}", node["ImageId"]), name
        assert re.fullmatch(r"arn:aws:iam::\d{12}:instance-profile/[\w+=,.@-]+", node["IamInstanceProfile"]["Arn"]), name
        assert node["InstanceType"]


def test_versions_match_the_project(cluster):
    """The image's Ray and Python are ones pyproject.toml allows (not whatever this machine has installed:
    a newer allowed Ray or Python here must not turn this red)."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    image = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-py(\d)(\d+)-cpu", cluster["docker"]["image"])
    assert image, cluster["docker"]["image"]
    ray_version, python = Version(image[1]), Version(f"{image[2]}.{image[3]}")
    listed = [*project["dependencies"], *(d for extra in project["optional-dependencies"].values() for d in extra)]
    [ray_requirement] = [Requirement(d) for d in listed if Requirement(d).name == "ray"]  # where a trainer gets it
    assert "default" in ray_requirement.extras  # the dashboard and Jobs API, as `w2v submit` needs
    assert ray_requirement.specifier.contains(ray_version), (ray_version, str(ray_requirement.specifier))
    assert Requirement(f"python{project['requires-python']}").specifier.contains(python), python


def test_nodes_install_the_project_and_share_the_token(cluster):
    assert cluster["file_mounts"]["~/w2v"] == "."
    assert cluster["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    assert any("pip install" in c and "~/w2v" in c for c in cluster["setup_commands"])
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = [c for c in cluster[key] if "ray start" in c]
        assert start and all("RAY_AUTH_MODE=token" in c for c in start), key


def test_every_key_has_a_comment_above_it():
    """Keys of the top level, provider, docker, auth, node types and node_config (not AWS sub-structures)."""
    lines = CLUSTER_YAML.read_text(encoding="utf-8").splitlines()
    missing = []
    for i, line in enumerate(lines):
        match = re.match(r"( *)([A-Za-z_][\w.]*):", line)
        if not match or len(match.group(1)) > 12:
            continue
        above = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        if not above.startswith("#"):
            missing.append(f"line {i + 1}: {line.strip()}")
    assert not missing, "keys without a comment above them:\n" + "\n".join(missing)
