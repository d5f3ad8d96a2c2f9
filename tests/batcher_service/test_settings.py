"""The batcher's view of the config: the card and prompt options reach its output."""

from __future__ import annotations

import pytest
from faststream.kafka import KafkaBroker
from prefstream_batcher_service.service import BatcherService
from prefstream_batcher_service.settings import settings_from
from prefstream_config import PrefstreamConfig
from pydantic import ValidationError


def test_defaults_are_nat_prompts_and_no_license() -> None:
    s = settings_from(PrefstreamConfig.model_validate({}))
    assert (s.keep_system, s.license) == (False, None)


def test_options_reach_the_output_options() -> None:
    config = PrefstreamConfig.model_validate(
        {"batcher": {"system_in_text_prompt": True, "dataset_license": "cc-by-4.0"}}
    )
    options = BatcherService(config, KafkaBroker("127.0.0.1:9")).options  # connects nothing
    assert (options.keep_system, options.license) == (True, "cc-by-4.0")
    assert options.card.license == "cc-by-4.0"


@pytest.mark.parametrize("license", ["Apache 2.0", "", "-x", "mit\nx"])
def test_a_license_is_a_hub_license_id(license: str) -> None:
    with pytest.raises(ValidationError, match="dataset_license"):
        PrefstreamConfig.model_validate({"batcher": {"dataset_license": license}})
