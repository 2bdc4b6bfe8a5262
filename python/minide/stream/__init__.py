"""minide.stream: deduplication with watermarks and checkpoints, and a durable log.

See docs/stream.md for event time, watermarks, the state store's layout and the log format.
"""

from minide.stream.dedup import Deduplicator
from minide.stream.log import Consumer, Log
from minide.stream.nats_source import NatsSource
from minide.stream.parquet_sink import ParquetSink
from minide.stream.pipeline import LogSink, LogSource, Pipeline, count_by, dedup, map_batches
from minide.stream.redis_source import RedisSink, RedisStreamSource
from minide.stream.window import window

__all__ = [
    "Consumer",
    "Deduplicator",
    "Log",
    "LogSink",
    "LogSource",
    "NatsSource",
    "ParquetSink",
    "Pipeline",
    "RedisSink",
    "RedisStreamSource",
    "count_by",
    "dedup",
    "map_batches",
    "window",
]
