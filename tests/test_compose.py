"""The production compose stack resolves: services, volumes, ports, variables, mounts and init scripts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from newswire.cli import app

COMPOSE_DIR = Path(__file__).resolve().parent.parent / "infra" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}")
AIRFLOW_COMPONENTS = {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                      "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer"}
ONE_SHOT = {"elasticsearch-setup", "airflow-init", "newswire-init"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def resolve(text: str, env: dict[str, str]) -> str:
    return VARIABLE.sub(lambda match: env[match.group(1)], text)


def test_every_service_of_the_stack_is_there(compose):
    assert set(compose["services"]) == {"elasticsearch", "elasticsearch-setup", "kibana", "postgres", *AIRFLOW_COMPONENTS,
                                        "airflow-init", "newswire-init"}
    for service, command in AIRFLOW_COMPONENTS.items():
        assert compose["services"][service]["command"] == command


def test_every_variable_is_defined_documented_and_used(compose, env_example):
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    referenced = {match.group(1) for match in VARIABLE.finditer(text) if not match.group(2)}
    assert referenced - set(env_example) == set(), "variables used but not in .env.example"
    assert set(env_example) - referenced == set(), "variables in .env.example that nothing uses"
    # Every variable (or group of variables, like POSTGRES_USER/PASSWORD/DB) sits under a comment.
    blocks = ENV_EXAMPLE.read_text(encoding="utf-8").split("\n\n")
    for block in blocks:
        lines = block.strip().splitlines()
        first_variable = next((n for n, line in enumerate(lines) if not line.startswith("#")), None)
        if first_variable is not None:
            assert first_variable > 0 and lines[first_variable - 1].startswith("#"), f"undocumented: {lines}"


def test_no_secret_is_written_into_the_compose_file(compose):
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"(PASSWORD|SECRET|KEY)$", key):
                assert VARIABLE.fullmatch(str(value)), f"{name}: {key} must come from .env"


def test_elasticsearch_runs_with_security_on(compose):
    environment = compose["services"]["elasticsearch"]["environment"]
    assert environment["xpack.security.enabled"] == "true"
    assert environment["ELASTIC_PASSWORD"] == "${ELASTIC_PASSWORD}"
    assert compose["services"]["kibana"]["environment"]["ELASTICSEARCH_USERNAME"] == "kibana_system"


def test_volumes_are_declared_and_bind_mounts_exist(compose):
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (COMPOSE_DIR / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert declared == used


def test_ports_resolve_to_distinct_host_ports(compose, env_example):
    host_ports = []
    for name, service in compose["services"].items():
        for mapping in service.get("ports", []):
            address, host, container = resolve(mapping, env_example).split(":")
            assert address == "127.0.0.1", f"{name} publishes on every interface"
            assert 0 < int(host) < 65536 and 0 < int(container) < 65536
            host_ports.append(int(host))
    assert sorted(host_ports) == sorted(set(host_ports)) == [5601, 8080, 9200]


def test_dependencies_name_services_and_one_shots_finish(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if rule["condition"] == "service_completed_successfully":
                assert dependency in ONE_SHOT
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no"


def test_airflow_mounts_the_dags_and_builds_newswire(compose):
    for name in [*AIRFLOW_COMPONENTS, "airflow-init"]:
        service = compose["services"][name]
        dags_folder = service["environment"]["AIRFLOW__CORE__DAGS_FOLDER"]
        assert f"../../dags:{dags_folder}:ro" in service["volumes"]
        assert (COMPOSE_DIR / "../../dags").resolve().is_dir()
        build = service["build"]
        dockerfile = COMPOSE_DIR / build["context"] / build["dockerfile"]
        assert dockerfile.is_file()
        for source in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)\s+\S+$", dockerfile.read_text(), re.MULTILINE):
            for path in source.split():
                assert (COMPOSE_DIR / build["context"] / path).exists(), f"Dockerfile copies missing {path}"
        assert service["environment"]["NEWSWIRE_SEARCH_URL"] == "http://elasticsearch:9200"


def test_init_scripts_call_existing_commands_with_their_environment(compose):
    script = (COMPOSE_DIR / "init" / "newswire-init.sh").read_text(encoding="utf-8")
    assert "newswire index init" in script
    assert 'newswire kibana-setup --kibana-url "${NEWSWIRE_KIBANA_URL}"' in script
    for command in (["index", "init", "--help"], ["kibana-setup", "--help"], ["index", "status", "--help"]):
        assert CliRunner().invoke(app, command).exit_code == 0
    for service, script_name in (("newswire-init", "newswire-init.sh"), ("elasticsearch-setup", "elasticsearch-setup.sh")):
        text = (COMPOSE_DIR / "init" / script_name).read_text(encoding="utf-8")
        environment = compose["services"][service]["environment"]
        for variable, _ in set(VARIABLE.findall(text)):
            if variable.isupper():  # lower-case names are the script's own (loop counters)
                assert variable in environment, f"{script_name} reads {variable}, not set for {service}"
