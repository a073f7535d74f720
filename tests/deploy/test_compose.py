"""The cluster profile (docker-compose.yml) checked offline: against the Compose Specification's
JSON schema (vendored by the check-jsonschema package, so no network), and against the code it
runs: every container is a real `liaison-run <service> <process>` with settings its service has."""

import copy
import re
import shlex
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import yaml
from liaison_infra.run import processes_of
from liaison_infra.service import ServiceDefinition, installed_services

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = "deploy/Dockerfile"
SERVERS = ("kafka", "mongodb", "redis")


def load_compose() -> dict[str, Any]:
    with COMPOSE_FILE.open(encoding="utf-8") as stream:
        document = yaml.safe_load(stream)
    assert isinstance(document, dict)
    return document


def compose_schema() -> dict[str, Any]:
    resource = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = yaml.safe_load(resource.read_text(encoding="utf-8"))  # JSON is YAML
    assert isinstance(schema, dict)
    return schema


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def argv(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: env_value(value) for key, value in env.items()}


def env_value(value: object) -> str:
    """What the container sees for a value of an environment mapping."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def prefix_of(definition: ServiceDefinition) -> str:
    return str(definition.settings.model_config.get("env_prefix", ""))


def built_from_our_image(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    built = {
        name: service
        for name, service in services.items()
        if isinstance(service.get("build"), dict) and service["build"].get("dockerfile") == DOCKERFILE
    }
    images = {service["image"] for service in built.values() if "image" in service}
    return {name: service for name, service in services.items() if name in built or service.get("image") in images}


def service_processes(compose: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Container name -> (service, process) for every container that is `liaison-run ...`."""
    found = {}
    for name, service in built_from_our_image(compose).items():
        command = argv(service)
        if command[:1] == ["liaison-run"]:
            assert len(command) == 3, f"{name}: expected `liaison-run <service> <process>`, got {command}"
            found[name] = (command[1], command[2])
    return found


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def test_the_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the Compose Specification has no `version:`"
    assert schema_errors(compose) == []


def test_the_schema_check_does_reject_a_wrong_file(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["redis"]["healthcheck"]["test"] = {"CMD": "redis-cli ping"}
    broken["services"]["kafka"]["imagee"] = "apache/kafka"
    errors = schema_errors(broken)
    assert any(error.startswith("services/redis/healthcheck/test") for error in errors), errors
    assert any("imagee" in error for error in errors), errors


def test_our_image_is_built_from_the_dockerfile_in_the_repository(compose: dict[str, Any]) -> None:
    ours = built_from_our_image(compose)
    assert ours, f"no service is built from {DOCKERFILE}"
    for name, service in ours.items():
        build = service.get("build")
        if isinstance(build, dict):
            assert (ROOT / build.get("context", ".") / build["dockerfile"]).is_file(), name


def test_every_container_of_our_image_runs_an_installed_service_process(compose: dict[str, Any]) -> None:
    services = installed_services()
    processes = service_processes(compose)
    for name, command in ((name, argv(service)) for name, service in built_from_our_image(compose).items()):
        if name not in processes:
            assert name == "keys" and command == ["liaison-keys", "/keys"], (
                f"{name}: every container of our image is `liaison-run <service> <process>` (or the keys init)"
            )
    for name, (service, process) in processes.items():
        assert service in services, f"{name}: no installed service {service!r}"
        assert process in processes_of(services[service]), f"{name}: liaison-run has no process {process!r}"
        assert name == f"{service}-{process}", f"{name}: name it after what it runs"
    # And nothing is missing: each installed service's processes all run in the cluster.
    expected = {(name, process) for name, definition in services.items() for process in definition.processes}
    assert set(processes.values()) == expected


def test_service_settings_name_existing_fields_and_validate(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = installed_services()
    prefixes = {prefix_of(definition): name for name, definition in services.items()}
    processes = service_processes(compose)
    for container, spec in compose["services"].items():
        env = environment(spec)
        for key in env:
            for prefix, owner in prefixes.items():
                if not key.startswith(prefix):
                    continue
                field = key.removeprefix(prefix).lower()
                assert field in services[owner].settings.model_fields, f"{container}: {key} is no setting of {owner}"
                if container in processes:
                    assert owner == processes[container][0], f"{container}: {key} belongs to another service"
        if container in processes:
            service = processes[container][0]
            definition = services[service]
            own = {key: value for key, value in env.items() if key.startswith(prefix_of(definition))}
            assert own, f"{container}: no {prefix_of(definition)}* settings"
            with monkeypatch.context() as patch:
                for key, value in own.items():
                    patch.setenv(key, value)
                settings_class: Any = definition.settings  # each service's subclass has the defaults
                settings = settings_class()  # invalid values fail here
            assert settings.http_host == "0.0.0.0"
            assert settings.kafka_idempotence is True


def test_services_reach_the_servers_by_their_service_names(compose: dict[str, Any]) -> None:
    services = installed_services()
    kafka_env = environment(compose["services"]["kafka"])
    advertised = {listener.split("://", 1)[1] for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    replica_set = argv(compose["services"]["mongodb"])[argv(compose["services"]["mongodb"]).index("--replSet") + 1]
    for container, (service, _) in service_processes(compose).items():
        prefix = prefix_of(services[service])
        env = environment(compose["services"][container])
        assert set(env[f"{prefix}KAFKA_BOOTSTRAP_SERVERS"].split(",")) <= advertised, container
        mongodb = urlsplit(env[f"{prefix}MONGODB_URL"])
        assert mongodb.hostname == "mongodb", container
        assert parse_qs(mongodb.query).get("replicaSet") == [replica_set], container
        assert urlsplit(env[f"{prefix}REDIS_URL"]).hostname == "redis", container


def test_service_processes_wait_for_healthy_servers_and_the_key_pair(compose: dict[str, Any]) -> None:
    services = installed_services()
    for server in SERVERS:
        assert "test" in compose["services"][server].get("healthcheck", {}), f"{server} has no healthcheck"
    for container, (service, _) in service_processes(compose).items():
        spec = compose["services"][container]
        depends_on = spec.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{container}: depends_on needs conditions"
        for server in SERVERS:
            assert depends_on.get(server, {}).get("condition") == "service_healthy", f"{container} -> {server}"
        assert depends_on.get("keys", {}).get("condition") == "service_completed_successfully", container
        key_file = environment(spec)[f"{prefix_of(services[service])}JWT_PUBLIC_KEY_FILE"]
        mounts = {mount.split(":")[1]: mount.split(":")[0] for mount in spec.get("volumes", [])}
        assert mounts.get(str(Path(key_file).parent)) == "keys", f"{container}: {key_file} is not on the keys volume"
    keys = compose["services"]["keys"]
    assert any(mount.split(":")[:2] == ["keys", "/keys"] for mount in keys["volumes"])
    assert "keys" in compose.get("volumes", {})


def test_each_api_publishes_its_port_and_checks_its_health(compose: dict[str, Any]) -> None:
    services = installed_services()
    apis = {name: service for name, (service, process) in service_processes(compose).items() if process == "api"}
    assert sorted(apis.values()) == sorted(services)
    for container, service in apis.items():
        spec = compose["services"][container]
        prefix = prefix_of(services[service])
        env = environment(spec)
        port = int(env.get(f"{prefix}HTTP_PORT", services[service].settings.model_fields["http_port"].default))
        published = {str(mapping).rsplit(":", 2)[-2:] == [str(port), str(port)] for mapping in spec.get("ports", [])}
        assert True in published, f"{container} does not publish {port}:{port}"
        health = " ".join(map(str, spec["healthcheck"]["test"]))
        assert f"127.0.0.1:{port}/healthz" in health, f"{container}: healthcheck does not ask /healthz on {port}"


def test_mongodb_runs_a_replica_set_that_initiates_itself(compose: dict[str, Any]) -> None:
    mongodb = compose["services"]["mongodb"]
    assert mongodb["image"].startswith("mongo:")
    command = argv(mongodb)
    assert "--replSet" in command
    replica_set = command[command.index("--replSet") + 1]
    check = " ".join(mongodb["healthcheck"]["test"])
    assert "rs.initiate" in check and f'_id: "{replica_set}"' in check
    assert any(str(mount).endswith(":/data/db") for mount in mongodb["volumes"])


def test_kafka_runs_in_kraft_mode(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "kafka-topics.sh" in " ".join(kafka["healthcheck"]["test"])


def test_the_image_uses_the_uv_version_the_makefile_pins() -> None:
    makefile = re.search(r"^UV_VERSION\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    dockerfile = re.search(r"^ARG UV_VERSION=(\S+)", (ROOT / DOCKERFILE).read_text(), re.MULTILINE)
    assert makefile and dockerfile
    assert dockerfile.group(1) == makefile.group(1)
