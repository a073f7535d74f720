"""``liaison-run <service> <process>``: the one way any service process is started, in the
station profile, in the cluster's containers and by hand."""

import argparse
import sys

import uvicorn

from liaison_infra import deadletters
from liaison_infra.harness.station import load_station_env
from liaison_infra.runtime import run_worker
from liaison_infra.service import ServiceDefinition, installed_services, load_app_factory, load_function

PROCESSES = ("api", "relay", "consumer", "deadletters")


def processes_of(definition: ServiceDefinition) -> tuple[str, ...]:
    """The shared processes every service has, then the service's own commands."""
    return PROCESSES + tuple(definition.commands)


def main(argv: list[str] | None = None) -> None:
    services = installed_services()
    parser = argparse.ArgumentParser(prog="liaison-run", description=__doc__)
    parser.add_argument("service", choices=sorted(services))
    parser.add_argument("process")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the deadletters command")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    definition = services[args.service]
    if args.process not in processes_of(definition):
        choices = ", ".join(processes_of(definition))
        parser.error(f"{args.service} has no process {args.process!r}; choose from {choices}")
    load_station_env()
    settings = definition.load_settings()
    if args.process == "api":
        uvicorn.run(
            load_app_factory(definition)(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
        )
    elif args.process == "relay":
        run_worker(settings, definition.spec, lambda runtime: runtime.relay(), metrics_port=settings.relay_metrics_port)
    elif args.process == "consumer":
        run_worker(
            settings, definition.spec, lambda runtime: runtime.consumer(), metrics_port=settings.consumer_metrics_port
        )
    elif args.process == "deadletters":
        deadletters.main(settings, args.args)
    else:
        load_function(definition.commands[args.process])(settings)


if __name__ == "__main__":
    main()
