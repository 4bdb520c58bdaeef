"""The production compose stack: valid Compose, and the properties that make it start and stay locked down,
in both layouts: the single Elasticsearch node of docker-compose.yml, and the three-node cluster of
docker-compose.cluster.yml over it (each check that takes the `compose` fixture runs on both).

Docker does not run here, so the file is validated against the official Compose Specification schema
(fetched from npm by infra/compose-schema.sh) and its init scripts are run where they can be: the
password gate with fake environments, the rest checked against what the stack mounts and sets."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import jsonschema
import pytest
import yaml
from http_stub import JsonStub
from typer.testing import CliRunner

from kernel.settings import Settings
from newswire.cli import app

REPO = Path(__file__).resolve().parent.parent
COMPOSE_DIR = REPO / "infra" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
CLUSTER_FILE = COMPOSE_DIR / "docker-compose.cluster.yml"
LAYOUTS = {"single-node": [COMPOSE_FILE], "three-node": [COMPOSE_FILE, CLUSTER_FILE]}
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
DOCKERFILE = COMPOSE_DIR / "Dockerfile"
SCHEMA_FILE = REPO / ".cache" / "compose-spec" / "compose.schema.json"
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}")
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|KEY)$")
AIRFLOW_COMPONENTS = {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                      "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer"}
PIPELINE_SERVICES = [*AIRFLOW_COMPONENTS, "airflow-init", "newswire-init"]
AIRFLOW_UID = 50000


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def merged(base: dict, override: dict) -> dict:
    """`docker compose -f base -f override`: mappings are merged key by key, anything else replaced
    (the override only ever adds mappings to a service of the base, which the tests check)."""
    result = dict(base)
    for key, value in override.items():
        result[key] = merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return result


def layout(name: str) -> dict:
    base, *overrides = LAYOUTS[name]
    result = load(base)
    for override in overrides:
        result = merged(result, load(override))
    return result


@pytest.fixture(scope="module", params=list(LAYOUTS))
def compose(request) -> dict:
    return layout(request.param)


def elasticsearch_nodes(compose: dict) -> list[str]:
    """The services that run an Elasticsearch node: its image without an entrypoint of their own."""
    return [name for name, service in compose["services"].items()
            if service.get("image", "").startswith("docker.elastic.co/elasticsearch/") and "entrypoint" not in service]


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


def strong_env(env_example: dict[str, str]) -> dict[str, str]:
    """.env.example with every secret replaced, as an operator following its instructions would."""
    return {name: (f"{name.lower()}-Xq7pW2rT9vL4" if SECRET_NAME.search(name) else value)
            for name, value in env_example.items()}


def mounts(service: dict) -> list[tuple[str, str, bool]]:
    """(source, container path, read-only) for every volume of a service."""
    result = []
    for volume in service.get("volumes", []):
        source, target, *mode = volume.split(":")
        result.append((source, target, mode == ["ro"]))
    return result


def init_script(service: dict) -> Path | None:
    """The repository file a service runs as its entrypoint, found through its bind mounts."""
    entrypoint = " ".join(service.get("entrypoint") or []) if isinstance(service.get("entrypoint"), list) else ""
    for source, target, _ in mounts(service):
        if source.startswith(".") and target in entrypoint:
            return (COMPOSE_DIR / source).resolve()
    return None


def run_gate(compose: dict, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Runs setup-check's command as compose would: its script, its arguments, its resolved environment."""
    service = compose["services"]["setup-check"]
    script = init_script(service)
    arguments = service["entrypoint"][2:]
    environment = {name: resolve(str(value), env) for name, value in service["environment"].items()}
    return subprocess.run(["bash", str(script), *arguments], env={"PATH": os.environ["PATH"], **environment},
                          capture_output=True, text=True, timeout=30, check=False)


def lowest_airflow() -> str:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    (spec,) = [d for d in dependencies if re.match(r"apache-airflow\s*[<>=]", d)]
    assert re.search(r"<\s*4\b", spec), f"{spec}: the upper bound is the next major"
    return re.search(r">=\s*([0-9.]+)", spec).group(1)


# --- the file itself ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_schema() -> dict:
    if not SCHEMA_FILE.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm missing: cannot fetch the compose-spec schema (infra/setup.sh --test installs npm)")
        subprocess.run(["bash", str(REPO / "infra" / "compose-schema.sh")], check=True, timeout=300)
    return yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))


def validator(schema: dict) -> jsonschema.Draft7Validator:
    # The schema names draft-07 as "https://json-schema.org/draft-07/schema" (no "#"), which jsonschema's
    # lookup does not recognise, so the draft is chosen here.
    assert "draft-07" in schema["$schema"]
    return jsonschema.Draft7Validator(schema)


def test_compose_file_is_valid_against_the_compose_spec_schema(compose, compose_schema):
    assert compose_schema["title"] == "Compose Specification"
    validator(compose_schema).validate(compose)


def test_compose_spec_schema_check_can_fail(compose, compose_schema):
    broken = {**compose, "services": {**compose["services"], "kibana": {**compose["services"]["kibana"],
                                                                         "restart": {"always": True}}}}
    with pytest.raises(jsonschema.ValidationError, match="restart"):
        validator(compose_schema).validate(broken)


def test_every_variable_is_defined_documented_and_used(env_example):
    text = "".join(path.read_text(encoding="utf-8") for path in (COMPOSE_FILE, CLUSTER_FILE))
    referenced = {match.group(1) for match in VARIABLE.finditer(text) if not match.group(2)}
    assert referenced - set(env_example) == set(), "variables used but not in .env.example"
    assert set(env_example) - referenced == set(), "variables in .env.example that nothing uses"
    for block in ENV_EXAMPLE.read_text(encoding="utf-8").split("\n\n"):
        lines = block.strip().splitlines()
        first_variable = next((n for n, line in enumerate(lines) if not line.startswith("#")), None)
        if first_variable is not None:
            assert first_variable > 0 and lines[first_variable - 1].startswith("#"), f"undocumented: {lines}"


def test_no_secret_is_written_into_the_compose_file(compose):
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert VARIABLE.fullmatch(str(value)), f"{name}: {key} must come from .env"


def test_ports_are_loopback_and_distinct(compose, env_example):
    host_ports = []
    for name, service in compose["services"].items():
        for mapping in service.get("ports", []):
            address, host, _ = resolve(mapping, env_example).split(":")
            assert address == "127.0.0.1", f"{name} publishes on every interface"
            host_ports.append(int(host))
    assert host_ports and len(host_ports) == len(set(host_ports))


# --- start order and volumes ---------------------------------------------------------------------


def test_dependencies_exist_one_shots_finish_and_everything_waits_for_the_gate(compose):
    services = compose["services"]

    def upstream(name: str) -> set[str]:
        direct = set(services[name].get("depends_on") or {})
        return direct.union(*(upstream(dependency) for dependency in direct))

    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if rule["condition"] == "service_completed_successfully":
                assert services[dependency]["restart"] == "no", f"{dependency} is waited for but restarts"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
        if name != "setup-check":
            assert "setup-check" in upstream(name), f"{name} can start before the passwords are checked"


def test_bind_mounts_exist_and_named_volumes_are_declared_and_used(compose):
    declared, used = set(compose["volumes"]), set()
    for name, service in compose["services"].items():
        for source, _, _ in mounts(service):
            if source.startswith((".", "/")):
                assert (COMPOSE_DIR / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert declared == used


def test_volumes_the_image_writes_are_created_and_owned_by_its_user(compose):
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    created = set(re.search(r"mkdir -p ([^&\n]+)", dockerfile).group(1).split())
    chown = re.search(r"chown -R (\d+):0 ([^\n]+)", dockerfile)
    assert int(chown.group(1)) == AIRFLOW_UID
    owned = chown.group(2).split()
    for name in PIPELINE_SERVICES:
        for source, target, read_only in mounts(compose["services"][name]):
            if not source.startswith((".", "/")):  # a named volume: starts as a copy of the image's directory
                assert target in created, f"{name}: {target} is not created by the Dockerfile"
                assert any(target == path or target.startswith(path + "/") for path in owned), target
                assert read_only or source != "certs", "only the certificate service writes the certificates"


def test_dockerfile_copies_what_exists_and_installs_the_production_extra(compose):
    build = compose["x-airflow-common"]["build"]
    assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    for source in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)\s+\S+$", dockerfile, re.MULTILINE):
        for path in source.split():
            assert (COMPOSE_DIR / build["context"] / path).exists(), f"Dockerfile copies missing {path}"
    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert any(d.startswith("apache-airflow-providers-fab") for d in extras["production"])
    assert '"/opt/newswire/src[production]"' in dockerfile


# --- versions --------------------------------------------------------------------------------------


def test_image_and_env_example_pin_the_lowest_airflow_pyproject_supports(compose, env_example):
    lowest = lowest_airflow()
    assert re.search(r"^ARG AIRFLOW_VERSION=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE).group(1) == lowest
    assert env_example["AIRFLOW_VERSION"] == lowest
    assert compose["x-airflow-common"]["build"]["args"]["AIRFLOW_VERSION"] == "${AIRFLOW_VERSION}"
    # The DAG import test runs exactly this version (tests/test_dags_lowest_airflow.py).
    assert "apache-airflow==$lowest" in (REPO / "infra" / "airflow-lowest.sh").read_text()


# --- the pipeline's login, TLS and Airflow's auth -----------------------------------------------


def pipeline_settings(compose: dict, env: dict[str, str], service: str) -> Settings:
    environment = {key: resolve(str(value), env) for key, value in compose["services"][service]["environment"].items()}
    saved = {key: os.environ.pop(key) for key in list(os.environ) if key.startswith("NEWSWIRE_")}
    try:
        os.environ.update({key: value for key, value in environment.items() if key.startswith("NEWSWIRE_")})
        return Settings()
    finally:
        for key in [k for k in os.environ if k.startswith("NEWSWIRE_")]:
            del os.environ[key]
        os.environ.update(saved)


@pytest.mark.parametrize("service", [*AIRFLOW_COMPONENTS, "newswire-init"])
def test_pipeline_logs_in_as_its_least_privilege_user_over_https(compose, env_example, service):
    settings = pipeline_settings(compose, strong_env(env_example), service)
    assert settings.search_user == env_example["NEWSWIRE_ES_USER"] != "elastic"
    assert settings.search_password.get_secret_value() == strong_env(env_example)["NEWSWIRE_ES_PASSWORD"]
    assert settings.search_url.startswith("https://elasticsearch:")
    # The CA the pipeline verifies with is the one the certificate service writes, mounted read-only.
    certs_target = next(target for source, target, read_only in mounts(compose["services"][service])
                        if source == "certs" and read_only)
    assert settings.search_ca_certs == f"{certs_target}/ca/ca.crt"
    assert "ca/ca.crt" in (COMPOSE_DIR / "init" / "elasticsearch-certs.sh").read_text()


def test_only_setup_services_get_the_superuser_password(compose):
    holders = {name for name, service in compose["services"].items()
               if "ELASTIC_PASSWORD" in (service.get("environment") or {})}
    # The nodes take it as their bootstrap password and for their own health checks.
    assert holders == {"setup-check", "elasticsearch-setup", "newswire-init", *elasticsearch_nodes(compose)}
    script = (COMPOSE_DIR / "init" / "newswire-init.sh").read_text()
    # newswire-init uses it for the Kibana import only, on that one command line.
    assert [line for line in script.splitlines() if "ELASTIC_PASSWORD" in line] == [
        'NEWSWIRE_SEARCH_USER=elastic NEWSWIRE_SEARCH_PASSWORD="${ELASTIC_PASSWORD}" \\']


def test_pipeline_role_grants_only_its_indices_templates_and_lifecycle(compose, env_example):
    script = (COMPOSE_DIR / "init" / "elasticsearch-setup.sh").read_text()
    role = yaml.safe_load(re.search(r"_security/role/newswire_pipeline\" -d @- >/dev/null <<JSON\n(.*?)\nJSON",
                                    script, re.DOTALL).group(1))
    assert sorted(role["cluster"]) == ["manage_ilm", "manage_index_templates", "monitor"]
    (indices,) = role["indices"]
    assert indices["names"] == ["${NEWSWIRE_INDEX_PREFIX}-*"]
    assert sorted(indices["privileges"]) == ["create_index", "manage", "read", "write"]
    assert set(role) == {"cluster", "indices"}  # no run_as, applications or remote clusters
    assert '"roles": ["newswire_pipeline"]' in script and "_security/user/${NEWSWIRE_ES_USER}" in script


def test_elasticsearch_serves_https_with_the_generated_certificate(compose):
    services = compose["services"]
    certs_script = (COMPOSE_DIR / "init" / "elasticsearch-certs.sh").read_text()
    assert "elasticsearch-certutil ca" in certs_script and "elasticsearch-certutil cert" in certs_script
    for node in elasticsearch_nodes(compose):
        environment = services[node]["environment"]
        assert environment["xpack.security.enabled"] == "true" == environment["xpack.security.http.ssl.enabled"]
        for key in ("key", "certificate", "certificate_authorities"):
            relative = environment[f"xpack.security.http.ssl.{key}"]
            assert relative.startswith("certs/") and relative.removeprefix("certs/") in certs_script
        assert "https://localhost:9200" in " ".join(services[node]["healthcheck"]["test"])
        assert ("certs", "/usr/share/elasticsearch/config/certs", True) in mounts(services[node])
    kibana = services["kibana"]["environment"]
    nodes = [f"https://{node}:9200" for node in elasticsearch_nodes(compose)]
    assert json.loads(kibana["ELASTICSEARCH_HOSTS"]) == nodes  # Kibana, like the pipeline, knows every node
    assert all(f"{node}," in certs_script or f"{node}]" in certs_script for node in elasticsearch_nodes(compose))
    assert kibana["ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES"].endswith("/ca/ca.crt")
    assert services["elasticsearch-certs"]["depends_on"]["setup-check"]["condition"] == "service_completed_successfully"


# --- the three-node layout ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> dict:
    return layout("three-node")


def test_cluster_override_is_valid_compose_and_only_adds_to_existing_services(compose_schema):
    override, base = load(CLUSTER_FILE), load(COMPOSE_FILE)
    validator(compose_schema).validate(override)
    for name, service in override["services"].items():
        if name in base["services"]:
            # Only mappings, which compose merges key by key (what `merged` does), never a replaced list.
            assert all(isinstance(value, dict) for value in service.values()), name


def test_three_nodes_form_one_cluster_by_seed_hosts(cluster):
    nodes = elasticsearch_nodes(cluster)
    assert nodes == ["elasticsearch", "elasticsearch-2", "elasticsearch-3"]
    environments = [cluster["services"][node]["environment"] for node in nodes]
    assert {environment["cluster.name"] for environment in environments} == {"newswire"}
    assert [environment["node.name"] for environment in environments] == nodes
    for environment in environments:
        assert environment.get("discovery.type", "multi-node") == "multi-node"
        assert environment["discovery.seed_hosts"].split(",") == nodes
        assert environment["cluster.initial_master_nodes"].split(",") == nodes
        assert environment["ES_JAVA_OPTS"] == "-Xms${ES_HEAP} -Xmx${ES_HEAP}"


def test_three_nodes_keep_their_own_data_and_speak_tls_to_each_other(cluster):
    certs_script = (COMPOSE_DIR / "init" / "elasticsearch-certs.sh").read_text()
    data_volumes = []
    for node in elasticsearch_nodes(cluster):
        service = cluster["services"][node]
        data_volumes += [source for source, target, _ in mounts(service) if target == "/usr/share/elasticsearch/data"]
        environment = service["environment"]
        assert environment["xpack.security.transport.ssl.enabled"] == "true"
        assert environment["xpack.security.transport.ssl.verification_mode"] in ("certificate", "full")
        for key in ("key", "certificate", "certificate_authorities"):
            relative = environment[f"xpack.security.transport.ssl.{key}"]
            assert relative.startswith("certs/") and relative.removeprefix("certs/") in certs_script
        assert service["depends_on"]["elasticsearch-certs"]["condition"] == "service_completed_successfully"
    assert data_volumes == ["esdata", "esdata-2", "esdata-3"]
    # Only the first node is reachable from the host; the others are reached through it.
    assert [node for node in elasticsearch_nodes(cluster) if cluster["services"][node].get("ports")] == ["elasticsearch"]
    setup_waits_for = cluster["services"]["elasticsearch-setup"]["depends_on"]
    assert {name for name, rule in setup_waits_for.items() if rule["condition"] == "service_healthy"} == set(
        elasticsearch_nodes(cluster))


@pytest.mark.parametrize(("name", "expected"), [("single-node", (None, None)), ("three-node", (3, 1))])
def test_new_index_versions_get_a_replica_on_the_cluster(env_example, name, expected):
    compose = layout(name)
    for service in PIPELINE_SERVICES:
        settings = pipeline_settings(compose, strong_env(env_example), service)
        assert (settings.index_shards, settings.index_replicas) == expected, service


@pytest.mark.parametrize("name", ["single-node", "three-node"])
def test_the_pipeline_knows_every_node_so_one_down_is_passed_over(env_example, name):
    compose = layout(name)
    nodes = [f"https://{node}:9200" for node in elasticsearch_nodes(compose)]
    for service in PIPELINE_SERVICES:
        assert pipeline_settings(compose, strong_env(env_example), service).search_urls == nodes, service


def test_airflow_uses_the_fab_auth_manager(compose):
    for name in PIPELINE_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["AIRFLOW__CORE__AUTH_MANAGER"] == \
            "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
        assert not [key for key in environment if "SIMPLE_AUTH_MANAGER" in key]
    for service, command in AIRFLOW_COMPONENTS.items():
        assert compose["services"][service]["command"] == command
    assert "airflow users create --role Admin" in (COMPOSE_DIR / "init" / "airflow-init.sh").read_text()


# --- init scripts ------------------------------------------------------------------------------------


def test_init_scripts_parse_and_read_only_what_their_service_sets(compose):
    checked = set()
    for name, service in compose["services"].items():
        script = init_script(service)
        if script is None:
            continue
        text = script.read_text(encoding="utf-8")
        assert subprocess.run(["bash", "-n", str(script)], capture_output=True, check=False).returncode == 0, script
        set_inline = set(re.findall(r"\b([A-Z_]+)=", text))
        for variable, _ in set(VARIABLE.findall(text)):
            if variable.isupper() and variable not in set_inline:
                assert variable in service["environment"], f"{script.name} reads {variable}, not set for {name}"
        checked.add(script.name)
    assert checked == {path.name for path in (COMPOSE_DIR / "init").glob("*.sh")}


def test_init_scripts_call_existing_newswire_commands():
    script = (COMPOSE_DIR / "init" / "newswire-init.sh").read_text(encoding="utf-8")
    for command in re.findall(r"^\s*(?:\S+=\S+\s+)*newswire ([a-z-]+(?: [a-z][a-z-]*)?)", script, re.MULTILINE):
        assert CliRunner().invoke(app, [*command.split(), "--help"]).exit_code == 0, command
    assert "newswire kibana-setup" in script and "newswire index init" in script


def test_setup_refuses_the_env_example_as_written(compose, env_example):
    result = run_gate(compose, env_example)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "still has the .env.example placeholder" in result.stderr


def test_setup_accepts_real_secrets(compose, env_example):
    result = run_gate(compose, strong_env(env_example))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(("value", "reason"), [
    ("change-me", "placeholder"), ("CHANGEME", "placeholder"), ("elastic", "well-known default"),
    ("airflow", "well-known default"), ("", "is empty"), ("short-pw", "shorter than 12"),
])
def test_setup_refuses_each_weak_secret(compose, env_example, value, reason):
    secrets = [name for name in env_example if SECRET_NAME.search(name)]
    assert set(secrets) <= set(compose["services"]["setup-check"]["entrypoint"][2:]), "a secret the gate skips"
    for name in secrets:
        result = run_gate(compose, {**strong_env(env_example), name: value})
        assert result.returncode == 1, name
        assert result.stderr.startswith(f"refusing to set up: {name} ") and reason in result.stderr
        assert result.stderr.count("\n") == 1


# --- elasticsearch-setup.sh against a local HTTPS stand-in for Elasticsearch's security API -------


class StandInSecurityApi(JsonStub):
    """Records what the setup script sends; answers like Elasticsearch's health and security endpoints."""

    received: ClassVar[list[dict]] = []

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.received.append({"method": self.command, "path": self.path.split("?")[0],
                              "auth": self.headers.get("Authorization", ""),
                              "body": json.loads(body) if body else None})
        self._answer(200, {"status": "green"} if self.path.startswith("/_cluster/health") else {"created": True})

    do_GET = do_POST = do_PUT = _record


def make_certificates(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and a localhost certificate it signs (what elasticsearch-certutil makes in the stack)."""
    ca_key, ca_crt, key, csr, crt = (folder / f"{name}-{part}" for part in ("ca.key", "ca.crt", "node.key",
                                                                             "node.csr", "node.crt"))
    def openssl(*arguments: str) -> None:
        subprocess.run(["openssl", *arguments], check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
            "-subj", f"/CN={name} test CA", "-days", "1")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    extensions = folder / f"{name}-san.cnf"
    extensions.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n", encoding="utf-8")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(crt), "-days", "1", "-extfile", str(extensions))
    return ca_crt, crt, key


@contextmanager
def https_stand_in(certificate: Path, key: Path) -> Iterator[tuple[str, list[dict]]]:
    handler = type("Handler", (StandInSecurityApi,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://localhost:{server.server_port}", handler.received
    finally:
        server.shutdown()
        server.server_close()


def run_elasticsearch_setup(compose: dict, env: dict[str, str], url: str, ca: Path) -> subprocess.CompletedProcess:
    service = compose["services"]["elasticsearch-setup"]
    environment = {name: resolve(str(value), env) for name, value in service["environment"].items()}
    environment.update(ES_URL=url, ES_CA_CERT=str(ca))  # the stand-in instead of https://elasticsearch:9200
    return subprocess.run(["bash", str(init_script(service))], env={"PATH": os.environ["PATH"], **environment},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("curl") is None, reason="needs openssl and curl")
def test_elasticsearch_setup_stand_in_gets_role_and_user_over_verified_https(compose, env_example, tmp_path):
    env = strong_env(env_example)
    ca, certificate, key = make_certificates(tmp_path, "stack")
    with https_stand_in(certificate, key) as (url, received):
        result = run_elasticsearch_setup(compose, env, url, ca)
    assert result.returncode == 0, result.stderr
    superuser = "Basic " + base64.b64encode(f"elastic:{env['ELASTIC_PASSWORD']}".encode()).decode()
    assert {request["auth"] for request in received} == {superuser}
    writes = [(r["method"], r["path"], r["body"]) for r in received if r["method"] != "GET"]
    assert writes == [
        ("POST", "/_security/user/kibana_system/_password", {"password": env["KIBANA_SYSTEM_PASSWORD"]}),
        ("PUT", "/_security/role/newswire_pipeline", {
            "cluster": ["monitor", "manage_index_templates", "manage_ilm"],
            "indices": [{"names": [f"{env['NEWSWIRE_INDEX_PREFIX']}-*"],
                         "privileges": ["read", "write", "create_index", "manage"]}]}),
        ("PUT", f"/_security/user/{env['NEWSWIRE_ES_USER']}", {
            "password": env["NEWSWIRE_ES_PASSWORD"], "roles": ["newswire_pipeline"], "full_name": "newswire pipeline"}),
    ]


@pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("curl") is None, reason="needs openssl and curl")
def test_elasticsearch_setup_stand_in_with_another_cas_certificate_is_refused(compose, env_example, tmp_path):
    ca, _, _ = make_certificates(tmp_path, "stack")
    _, other_certificate, other_key = make_certificates(tmp_path, "other")
    with https_stand_in(other_certificate, other_key) as (url, received):
        # The script retries while Elasticsearch is unreachable; one failed attempt is enough here.
        process = subprocess.Popen(["bash", str(init_script(compose["services"]["elasticsearch-setup"]))],
                                   env={"PATH": os.environ["PATH"], "ES_URL": url, "ES_CA_CERT": str(ca),
                                        **{k: v for k, v in strong_env(env_example).items() if SECRET_NAME.search(k)}},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            stdout, stderr = process.communicate(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
    assert "waiting for Elasticsearch" in stdout
    assert "certificate" in stderr.lower()
    assert received == []  # no request got past the TLS handshake
