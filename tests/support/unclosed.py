"""aiokafka consumers that were made and never stopped, found in this process."""

from __future__ import annotations

import gc

from aiokafka import AIOKafkaConsumer


def unclosed_consumers() -> list[AIOKafkaConsumer]:
    """Consumers alive in this process that were never stopped: aiokafka warns "Unclosed
    AIOKafkaConsumer" for each when it is collected, often only at interpreter exit."""
    gc.collect()
    # type(), not isinstance(): isinstance reads __class__, which some objects (torch's
    # deprecated attributes) answer with a FutureWarning.
    consumers = [obj for obj in gc.get_objects() if type(obj) is AIOKafkaConsumer]
    return [c for c in consumers if c._closed is False]
