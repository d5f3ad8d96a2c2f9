"""The config loads NAT's example unchanged and resolves file < env < -o, validated by path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from prefstream_config import (
    ConfigError,
    PrefstreamConfig,
    load_config,
    masked_dict,
    render_yaml,
)
from prefstream_config.loader import expand_env
from prefstream_config.secrets import ANY_KEY, secret_paths
from pydantic import SecretStr, ValidationError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NAT_EXAMPLE = FIXTURES / "nat_dpo_example.yml"


def test_nat_complete_example_loads_unchanged_and_selects_components() -> None:
    notices: list[str] = []
    config = load_config(NAT_EXAMPLE, environ={}, notices=notices)
    builder, adapter, trainer = config.builder(), config.adapter(), config.trainer()
    assert (builder.min_score_diff, builder.max_pairs_per_turn) == (0.05, 10)
    assert adapter.namespace == "my-dpo-project"
    assert adapter.customization_config == "meta/llama-3.1-8b-instruct@v1.0.0+A100"
    assert adapter.hyperparameters.learning_rate == 5e-6
    assert adapter.hyperparameters.dpo.ref_policy_kl_penalty == 0.1
    assert adapter.use_full_message_history is True
    assert trainer.max_pairs == 5000
    assert config.finetuning.trainer == "nemo_trainer"
    assert "inference_llm" in config.llms
    assert notices == [
        "ignoring section 'eval': prefstream does not use it",
        "ignoring section 'workflow': prefstream does not use it",
    ]


def test_nat_reference_defaults() -> None:
    config = load_config(None, environ={})
    builder, trainer = config.builder(), config.trainer()
    assert builder.model_dump() == {
        "type": "dpo_traj_builder",
        "ttc_step_name": "dpo_candidate_move",
        "exhaustive_pairs": True,
        "min_score_diff": 0.0,
        "max_pairs_per_turn": None,
        "reward_from_score_diff": True,
        "require_multiple_candidates": True,
    }
    assert (trainer.num_runs, trainer.deduplicate_pairs, trainer.max_pairs) == (1, True, None)
    with pytest.raises(ConfigError, match="no trainer_adapters configured"):
        config.adapter()


def test_adapter_defaults_follow_nat(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        "trainer_adapters:\n  a:\n    _type: nemo_customizer_trainer_adapter\n"
        "    entity_host: http://h/\n    datastore_host: http://d\n    namespace: ns\n"
        "    customization_config: meta/x@v1\n"
    )
    adapter = load_config(path, environ={}).adapter()
    assert adapter.entity_host == "http://h"
    assert adapter.hf_token.get_secret_value() == ""
    assert adapter.dataset_name == "nat-dpo"
    assert adapter.poll_interval_seconds == 30.0
    assert adapter.deployment_timeout_seconds == 1800.0
    # NAT's keys and defaults; the SDK's other options default to None (not sent).
    assert adapter.hyperparameters.model_dump(exclude_none=True) == {
        "training_type": "dpo",
        "finetuning_type": "all_weights",
        "epochs": 3,
        "batch_size": 4,
        "learning_rate": 5e-5,
        "dpo": {
            "ref_policy_kl_penalty": 0.1,
            "preference_loss_weight": 1.0,
            "preference_average_log_probs": False,
            "sft_loss_weight": 0.0,
        },
    }


def test_precedence_file_then_env_then_overrides() -> None:
    key = "trainer_adapters.nemo_adapter.hyperparameters.epochs"
    env = {"PREFSTREAM__TRAINER_ADAPTERS__NEMO_ADAPTER__HYPERPARAMETERS__EPOCHS": "7"}
    assert load_config(NAT_EXAMPLE, environ={}).adapter().hyperparameters.epochs == 3
    assert load_config(NAT_EXAMPLE, environ=env).adapter().hyperparameters.epochs == 7
    config = load_config(NAT_EXAMPLE, [(key, "5")], environ=env)
    assert config.adapter().hyperparameters.epochs == 5


def test_override_values_are_typed_like_yaml() -> None:
    config = load_config(
        None,
        [
            ("kafka.partitions", "8"),
            ("batcher.policy_models", "[m1, m2]"),
            ("pairing.late_policy", "deadletter"),
            ("kafka.bootstrap_servers", "broker:9092"),
        ],
        environ={},
    )
    assert config.kafka.partitions == 8
    assert config.batcher.policy_models == ["m1", "m2"]
    assert config.pairing.late_policy == "deadletter"
    assert config.kafka.bootstrap_servers == "broker:9092"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (("trainer_adapters.nemo_adapter.hyperparameters.epochs", "0"), "hyperparameters.epochs"),
        (("trajectory_builders.dpo_builder.min_score_diff", "-0.1"), "dpo_builder.min_score_diff"),
        (("trajectory_builders.dpo_builder.max_pairs_per_turn", "0"), "max_pairs_per_turn"),
        (("kafka.partitions", "many"), "kafka.partitions"),
        (("kafka.no_such_key", "1"), "kafka.no_such_key: unknown key"),
        (("batcher.mode", "sometimes"), "batcher.mode"),
        (("trainer_adapters.nemo_adapter.entity_host", "nmp.example.com"), "entity_host"),
    ],
)
def test_bad_values_fail_with_dotted_path(override: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(NAT_EXAMPLE, [override], environ={})


def test_selection_of_an_undefined_component_says_what_exists() -> None:
    with pytest.raises(ConfigError, match=r"trainer_adapters\.nope.*defined: nemo_adapter"):
        load_config(NAT_EXAMPLE, [("finetuning.trainer_adapter", "nope")], environ={}).adapter()


def test_unknown_top_level_section_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("kafak:\n  partitions: 2\n")
    with pytest.raises(ConfigError, match="kafak: unknown key"):
        load_config(path, environ={})


def test_env_references_expand_like_nat() -> None:
    env = {"HOST": "h", "EMPTY": ""}
    assert expand_env("${HOST}/${MISSING}/${MISSING:-d}/${EMPTY:-e}", env) == "h//d/e"


def test_secrets_are_masked(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "llms": {"l": {"_type": "openai", "api_key": "${KEY}"}},
                "kafka": {"sasl_password": "kafka-pw-123"},
                "trainer_adapters": {
                    "a": {
                        "_type": "nemo_customizer_trainer_adapter",
                        "entity_host": "http://e",
                        "datastore_host": "http://d",
                        "namespace": "n",
                        "customization_config": "c",
                        "hf_token": "hf_secret_456",
                        "api_token": "gw-secret-789",
                    }
                },
            }
        )
    )
    config = load_config(path, environ={"KEY": "nvapi-secret-000"})
    text = render_yaml(config)
    for secret in ("nvapi-secret-000", "kafka-pw-123", "hf_secret_456", "gw-secret-789"):
        assert secret not in text
        assert secret not in repr(config)
    shown = masked_dict(config)
    assert shown["trainer_adapters"]["a"]["hf_token"] == "**********"
    assert shown["llms"]["l"]["api_key"] == "**********"
    assert config.adapter().hf_token.get_secret_value() == "hf_secret_456"


SECRET_PATHS = secret_paths(PrefstreamConfig)
SECRET_IDS = [".".join(p) for p in SECRET_PATHS]
ADAPTER_REQUIRED = {
    "_type": "nemo_customizer_trainer_adapter",
    "entity_host": "http://e",
    "datastore_host": "http://d",
    "namespace": "n",
    "customization_config": "c",
}


def _yaml_with_secret(path: tuple[str, ...], scalar: str) -> str:
    """A config whose secret at ``path`` (``*`` -> ``x``) is the YAML text ``scalar`` as written."""
    keys = [("x" if k == ANY_KEY else k) for k in path]
    data: dict[str, Any] = {"trainer_adapters": {"x": dict(ADAPTER_REQUIRED)}}
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = "@SECRET@"
    return yaml.safe_dump(data).replace("'@SECRET@'", scalar)


def _secret(config: PrefstreamConfig, path: tuple[str, ...]) -> str:
    node: Any = config
    for key in path:
        key = "x" if key == ANY_KEY else key
        node = node[key] if isinstance(node, dict) else getattr(node, key)
    assert isinstance(node, SecretStr)
    return node.get_secret_value()


def test_every_secret_field_is_enumerated() -> None:
    """The parametrized tests below cover what this finds; a new SecretStr field joins them."""
    assert set(SECRET_IDS) >= {
        "kafka.sasl_password",
        "trainer_adapters.*.hf_token",
        "trainer_adapters.*.api_token",
        "trainer_adapters.*.wandb_api_key",
        "llms.*.api_key",
    }


@pytest.mark.parametrize("path", SECRET_PATHS, ids=SECRET_IDS)
@pytest.mark.parametrize("scalar", ["31415926535", "true", "0123", "1_000", "3.25", "yes"])
def test_yaml_secret_is_the_text_as_written(
    tmp_path: Path, path: tuple[str, ...], scalar: str
) -> None:
    file = tmp_path / "c.yml"
    file.write_text(_yaml_with_secret(path, scalar))
    config = load_config(file, environ={})
    assert _secret(config, path) == scalar
    shown: Any = masked_dict(config)
    for key in path:
        shown = shown["x" if key == ANY_KEY else key]
    assert shown == "**********"
    assert "31415926535" not in render_yaml(config)


@pytest.mark.parametrize("path", SECRET_PATHS, ids=SECRET_IDS)
@pytest.mark.parametrize("text", ["31415926535", "true", "0123"])
def test_env_and_override_secret_is_the_text_as_given(
    tmp_path: Path, path: tuple[str, ...], text: str
) -> None:
    file = tmp_path / "c.yml"
    file.write_text(_yaml_with_secret(path, "placeholder"))
    env_name = "PREFSTREAM__" + "__".join(("x" if k == ANY_KEY else k).upper() for k in path)
    assert _secret(load_config(file, environ={env_name: text}), path) == text
    dotted = ".".join("x" if k == ANY_KEY else k for k in path)
    assert _secret(load_config(file, [(dotted, text)], environ={}), path) == text


@pytest.mark.parametrize("path", SECRET_PATHS, ids=SECRET_IDS)
@pytest.mark.parametrize("scalar", ["[31415926535]", "{pw: 31415926535}"])
def test_invalid_secret_is_never_echoed(tmp_path: Path, path: tuple[str, ...], scalar: str) -> None:
    """Neither our error nor pydantic's own ``input_value`` shows a secret that failed."""
    file = tmp_path / "c.yml"
    file.write_text(_yaml_with_secret(path, scalar))
    with pytest.raises(ConfigError) as caught:
        load_config(file, environ={})
    message = str(caught.value)
    assert ".".join("x" if k == ANY_KEY else k for k in path) in message
    assert "quote it" in message
    assert "31415926535" not in message
    with pytest.raises(ValidationError) as raw:
        PrefstreamConfig.model_validate(yaml.safe_load(file.read_text()))
    assert "31415926535" not in str(raw.value)
    assert "31415926535" not in repr(raw.value.errors())


def test_secret_is_not_echoed_next_to_another_error() -> None:
    """The reported case: a numeric password in the environment and some other mistake."""
    env = {"PREFSTREAM__KAFKA__SASL_PASSWORD": "31415926535"}
    with pytest.raises(ConfigError) as caught:
        load_config(None, [("kafka.partitions", "0")], environ=env)
    assert "kafka.partitions" in str(caught.value)
    assert "31415926535" not in str(caught.value)


def test_yaml_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kafka:\n  partitions: [1, 2\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "<unicode string>" not in str(caught.value)
    assert f'"{path}", line' in str(caught.value)


def test_bad_environment_variable_is_named_by_its_name() -> None:
    env = {"PREFSTREAM__KAFKA__PARTITIONS": "zero", "PREFSTREAM__KAFKA__PARTITONS": "4"}
    with pytest.raises(ConfigError) as caught:
        load_config(None, environ=env)
    message = str(caught.value)
    assert "PREFSTREAM__KAFKA__PARTITIONS (kafka.partitions)" in message
    assert "PREFSTREAM__KAFKA__PARTITONS (kafka.partitons): unknown key" in message


def test_bad_environment_variable_path_is_named_by_its_name() -> None:
    env = {"PREFSTREAM__KAFKA__PARTITIONS__X": "1"}
    with pytest.raises(ConfigError, match="PREFSTREAM__KAFKA__PARTITIONS__X"):
        load_config(None, environ=env)
