"""Prometheus metrics of one service process, in its own registry so that several apps
(as in the tests) can live in one interpreter."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"service": service}
        self.http_requests = Counter(
            "liaison_http_requests", "HTTP requests handled", ["method", "route", "status"], registry=self.registry
        )
        self.http_seconds = Histogram(
            "liaison_http_request_seconds", "HTTP request duration", ["method", "route"], registry=self.registry
        )
        self.outbox_backlog = Gauge(
            "liaison_outbox_backlog", "Events written but not yet published", registry=self.registry
        )
        self.outbox_oldest_age = Gauge(
            "liaison_outbox_oldest_age_seconds", "Age of the oldest unpublished event", registry=self.registry
        )
        self.outbox_published = Counter(
            "liaison_outbox_published", "Events published by the relay", registry=self.registry
        )
        self.outbox_deadlettered = Counter(
            "liaison_outbox_deadlettered",
            "Events the broker refused for good (too large), set aside as dead letters",
            registry=self.registry,
        )
        self.outbox_replays = Counter(
            "liaison_outbox_replays", "Broker resets answered by replaying the outbox", registry=self.registry
        )
        self.consumer_lag = Gauge(
            "liaison_consumer_lag", "Messages behind the partition end", ["topic", "partition"], registry=self.registry
        )
        self.consumer_applied = Counter("liaison_consumer_applied", "Events applied", ["type"], registry=self.registry)
        self.consumer_duplicates = Counter(
            "liaison_consumer_duplicates", "Events skipped as already applied", registry=self.registry
        )
        self.consumer_deadlettered = Counter(
            "liaison_consumer_deadlettered", "Events sent to the dead-letter topic", registry=self.registry
        )
        self.info = Gauge("liaison_service_info", "Service identity", ["service"], registry=self.registry)
        self.info.labels(**labels).set(1)
