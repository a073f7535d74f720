"""Kafka clients made one way for every profile, topic provisioning, and the broker epoch.

The station's Tansu broker keeps everything in memory: after a restart its topics, messages
and committed offsets are gone. The epoch marker makes that visible instead of a matter of
luck: a one-partition topic whose first message is a random id. When the first message
changes or disappears, the broker was reset, and relays replay their outbox while consumers
start again from the beginning (their inbox drops what they already applied).
"""

import asyncio
import contextlib
import logging
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from liaison_infra.settings import ServiceSettings

log = logging.getLogger(__name__)

EPOCH_TOPIC = "liaison.epoch.v1"


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=settings.kafka_idempotence,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )


def make_consumer(settings: ServiceSettings, group_id: str | None, *topics: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=max(100, settings.kafka_session_timeout_ms // 10),
        rebalance_timeout_ms=settings.kafka_session_timeout_ms * 2,
        max_poll_records=500,
        # Tansu holds a fetch for the whole wait when a partition is quiet: keep it short.
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )


async def provision_topics(settings: ServiceSettings, topics: list[str]) -> None:
    """Create the topics that are missing, with the configured partition count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in dict.fromkeys(topics) if topic not in existing]
        if not missing:
            return
        partitions = {EPOCH_TOPIC: 1}
        new = [
            NewTopic(topic, partitions.get(topic, settings.kafka_partitions), settings.kafka_replication_factor)
            for topic in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(new)
        log.info("topics created", extra={"fields": {"topics": missing}})
    finally:
        await admin.close()


class BrokerEpoch:
    """Reads, and if absent writes, the id of the broker's current life."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings

    async def current(self) -> str | None:
        """The epoch id, or None when the broker has no marker (a fresh or reset broker)."""
        reader = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers, enable_auto_commit=False)
        await reader.start()
        try:
            partition = TopicPartition(EPOCH_TOPIC, 0)
            if EPOCH_TOPIC not in await reader.topics():
                return None
            reader.assign([partition])
            await reader.seek_to_beginning(partition)
            if (await reader.end_offsets([partition]))[partition] == 0:
                return None
            batches = await reader.getmany(partition, timeout_ms=5000, max_records=1)
            records = batches.get(partition, [])
            return records[0].value.decode() if records and records[0].value else None
        finally:
            await reader.stop()

    async def ensure(self) -> str:
        """The epoch id, creating the marker if this broker has none; the first writer wins."""
        existing = await self.current()
        if existing is not None:
            return existing
        await provision_topics(self.settings, [EPOCH_TOPIC])
        producer = make_producer(self.settings)
        await producer.start()
        try:
            await producer.send_and_wait(EPOCH_TOPIC, uuid4().hex.encode(), partition=0)
        finally:
            await producer.stop()
        for _ in range(50):
            epoch = await self.current()
            if epoch is not None:
                return epoch
            await asyncio.sleep(0.1)
        raise KafkaError("the broker epoch marker was written but cannot be read back")
