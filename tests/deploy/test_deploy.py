"""deploy/: what can be checked of the container image and the compose file without running
Docker here: the compose file parses, each labelfab service runs a command the CLI has with
options it takes, every LABELFAB_ variable it sets is a setting, the image copies files that
exist and installs extras that pyproject.toml defines, and the proxy reaches the servers' port."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click
import pytest
import yaml

from labeling.settings import Settings
from web.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
LABELFAB = {name: svc for name, svc in COMPOSE["services"].items() if svc.get("image") == "labelfab:latest"}


def test_the_topology_has_every_tier():
    assert {"postgres", "redis", "s3", "migrate", "web", "worker", "proxy"} <= set(COMPOSE["services"])
    assert set(LABELFAB) == {"migrate", "web", "worker"}
    assert COMPOSE["services"]["web"]["deploy"]["replicas"] >= 2
    assert COMPOSE["services"]["worker"]["deploy"]["replicas"] >= 2
    # servers and workers start after the migration, which waits for the database
    for name in ("web", "worker"):
        assert LABELFAB[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert LABELFAB["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", sorted(LABELFAB))
def test_each_service_runs_a_labelfab_command_with_options_it_takes(service):
    argv = LABELFAB[service]["command"]
    assert argv[0] == "labelfab"
    commands = {c.name: c for c in COMMANDS}
    command = commands[argv[1]]
    ctx = command.make_context(f"labelfab {argv[1]}", list(argv[2:]))  # raises on an unknown option
    assert isinstance(ctx, click.Context)


@pytest.mark.parametrize("service", sorted(LABELFAB))
def test_every_labelfab_variable_is_a_setting(service):
    fields = {f"LABELFAB_{name.upper()}" for name in Settings.model_fields} | {"LABELFAB_ADMIN_EMAIL"}
    env = LABELFAB[service]["environment"]
    assert set(env) <= fields
    assert "LABELFAB_SECRET_KEY" in env  # one key for every server's sessions
    assert env["LABELFAB_DATABASE_URL"].startswith("postgresql://")
    assert env["LABELFAB_BROKER_URL"].startswith("redis://redis:")
    # what several machines must share is on a shared volume
    mounts = {m.split(":")[1] for m in LABELFAB[service]["volumes"]}
    assert env["LABELFAB_SHARED_DIR"] in mounts and env["LABELFAB_DATA_DIR"] not in mounts


def test_the_image_copies_what_exists_and_installs_defined_extras():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    extras = re.search(r"'\.\[([a-z,]+)\]'", dockerfile).group(1).split(",")
    defined = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras) <= set(defined)
    # the vendor step copies what the Makefile's vendor rule copies: the same rule, run in the image
    assert "make vendor" in dockerfile


def test_the_proxy_reaches_the_servers_port():
    caddy = (DEPLOY / "Caddyfile").read_text()
    upstream = re.search(r"reverse_proxy (\w+):(\d+)", caddy)
    assert upstream.group(1) == "web"
    assert upstream.group(2) in LABELFAB["web"]["command"]
    assert "health_uri /health" in caddy


def test_the_example_env_names_every_required_secret():
    text = (DEPLOY / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = {line.split("=", 1)[0] for line in (DEPLOY / "env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert required <= example
