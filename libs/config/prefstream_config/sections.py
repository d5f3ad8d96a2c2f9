"""prefstream's own sections: Kafka, pairing windows, batcher thresholds, submitter, services."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
)

from prefstream_config.secrets import Secret

ExportFormat = Literal["nemo", "trl_standard", "trl_conversational"]


def _nemo_only() -> list[ExportFormat]:
    return ["nemo"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class TopicsConfig(_Section):
    candidates: str = "prefstream.candidates.v1"
    pairs: str = "prefstream.pairs.v1"
    datasets: str = "prefstream.datasets.v1"
    jobs: str = "prefstream.jobs.v1"
    job_metrics: str = "prefstream.job-metrics.v1"
    """JobMetricsEvents keyed job_key/chunk: every job's training curves, 100 steps a record."""
    deadletter: str = "prefstream.deadletter.v1"
    control: str = "prefstream.control.v1"
    evaluations: str = "prefstream.evaluations.v1"
    """EvaluationEvents keyed by model: held-out results and the promotion verdict."""


class KafkaConfig(_Section):
    """Connection and topic layout. No ``bootstrap_servers`` means the embedded Tansu broker."""

    bootstrap_servers: str | None = None
    """Kafka brokers; none: the embedded Tansu broker on 127.0.0.1:embedded_port."""
    client_id: str = "prefstream"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    topics: TopicsConfig = Field(default_factory=TopicsConfig)
    partitions: PositiveInt = 4
    """Partitions of the candidates and pairs topics (pairing instances scale up to this)."""
    replication_factor: PositiveInt = 1
    jobs_topic_compacted: bool = True
    """Compact the jobs and job-metrics topics (each record holds the whole state of its key)."""
    evaluations_topic_compacted: bool = True
    """Keep only each model's latest evaluation (the event carries the whole verdict)."""
    session_timeout_ms: PositiveInt = 10_000
    """Consumer group session timeout (Tansu joins take half of it)."""
    heartbeat_interval_ms: PositiveInt = 3_000
    request_timeout_ms: PositiveInt = 15_000
    """How long a Kafka request may go unanswered; CLI commands also give up connecting
    after this long (a broker that refuses, or one that never answers)."""
    max_record_bytes: PositiveInt = 1_048_576
    """Records above this size go to the dead-letter topic."""
    embedded_port: int = Field(9092, ge=0, le=65535)


class PairingConfig(_Section):
    """Window options (how a turn's candidates are gathered) and the service's own knobs."""

    trajectory_builder: str | None = Field(
        None, description="Name under trajectory_builders; default: finetuning's or the only one."
    )
    inactivity_gap_seconds: PositiveFloat = 30.0
    """Close a window this long after its last candidate."""
    max_window_age_seconds: PositiveFloat = 300.0
    """Close a window this long after its first candidate."""
    max_clock_skew_seconds: NonNegativeFloat = 60.0
    """A record stamped further ahead of the wall clock counts as stamped now (bounds stalls)."""
    late_policy: Literal["pair", "deadletter"] = "pair"
    """A candidate for a closed window: pair it with the stored ones, or dead-letter it."""
    group_id: str = "prefstream-pairing"
    db_path: str = "data/pairing.duckdb"
    batch_max_records: PositiveInt = 1000
    http_host: str = "127.0.0.1"
    http_port: int = Field(8081, ge=0, le=65535)


class BatcherConfig(_Section):
    """When a dataset is cut and what goes into it."""

    mode: Literal["incremental", "cumulative"] = "incremental"
    """incremental: only pairs never used before; cumulative: all pairs (capped by max_pairs)."""
    min_new_pairs: PositiveInt = 1000
    """Cut when this many new unique pairs are pending."""
    max_wait_seconds: PositiveFloat = 3600.0
    """Or cut this long after the oldest pending pair, if at least min_pairs are pending."""
    min_pairs: PositiveInt = 10
    """Smallest dataset a max_wait_seconds cut produces."""
    max_pairs: PositiveInt | None = None
    seed: int = 0
    validation_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    """Share of examples (by hash of example_id) in the validation file."""
    policy_models: list[str] | None = None
    """Only pairs from these policy models go into a cut; none: all."""
    datasets_dir: str = "data/datasets"
    """Where cut datasets are written (never overwritten)."""
    export_formats: list[ExportFormat] = Field(default_factory=_nemo_only)
    """nemo is always written; each format is a config in the dataset card (README.md)."""
    system_in_text_prompt: bool = False
    """Text prompts (nemo without use_full_message_history, trl_standard) start with the
    system messages' contents, each followed by a blank line; false: the last message only."""
    dataset_license: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.+\-]*$")
    """Hub license id in each dataset's card (README.md), e.g. apache-2.0; none: left out."""
    group_id: str = "prefstream-batcher"
    db_path: str = "data/batcher.duckdb"
    batch_max_records: PositiveInt = Field(
        1000, description="Most pair records per consumed batch (one DuckDB transaction)."
    )
    duckdb_memory_limit: str = Field(
        "1GB",
        description="DuckDB memory cap. Key indexes stay resident (~100 MB per million pairs "
        "stored); a cut only adds a 64 MB scan budget on top of them.",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(8082, ge=0, le=65535)


class SubmitterConfig(_Section):
    max_concurrent_jobs: PositiveInt = 1
    """Customizer jobs running at once; further datasets queue."""
    queue_policy: Literal["fifo", "latest"] = "fifo"
    """latest: a newer dataset supersedes queued older ones."""
    group_id: str = "prefstream-submitter"
    db_path: str = "data/submitter.duckdb"
    http_host: str = "127.0.0.1"
    http_port: int = Field(8083, ge=0, le=65535)
    retry_attempts: PositiveInt = Field(
        8, description="Attempts of one NeMo platform call that fails transiently."
    )
    retry_max_seconds: NonNegativeFloat = Field(
        30.0, description="Longest wait between two attempts (exponential backoff, jitter)."
    )
    retry_timeout_seconds: PositiveFloat = Field(
        3600.0,
        description="How long a step may keep failing transiently (platform unreachable, "
        "5xx, timeouts) before the dataset fails with the last error; a running job's "
        "status reads likewise. `prefstream submit --timeout` sets it for one command.",
    )


class RetrainingConfig(_Section):
    """Which model a new training job starts from."""

    start_from: Literal["base", "latest"] = Field(
        "base",
        description="base: every job trains the configured customization config's base model "
        "(with batcher.mode: cumulative, on all pairs so far); latest: a job trains the model "
        "promoted last on the evaluations topic, through a customization config the "
        "submitter creates for it (the configured one's options), else the base model.",
    )


class NmpLocalConfig(_Section):
    """Where ``prefstream up`` runs nmp-local when no NeMo hosts are configured."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: str = "data/nmp-local"
    job_seconds_per_epoch: PositiveFloat = Field(
        10.0,
        description="Simulated training time per epoch (NMP_LOCAL_JOB_SECONDS_PER_EPOCH wins).",
    )
    deployment_ready_seconds: NonNegativeFloat = Field(
        5.0, description="Simulated time until a deployment is ready."
    )
    trainer: Literal["auto", "simulated", "trl"] = Field(
        "auto",
        description="auto: the real TRL trainer when the training extra is installed and the "
        "job's base model has weights; simulated: the clock-driven stand-in.",
    )


class UiConfig(_Section):
    """The web view (``prefstream ui``): jobs, curves, evaluations, datasets, dead letters,
    rebuilt from the topics; ``prefstream up`` and ``prefstream demo`` start it."""

    enabled: bool = Field(True, description="Start it with `prefstream up` and the demo.")
    http_host: str = "127.0.0.1"
    http_port: int = Field(8084, ge=0, le=65535)
    refresh_seconds: PositiveFloat = Field(
        2.0, description="How often an open page asks for what changed."
    )
    jobs_with_charts: PositiveInt = Field(
        12, description="The newest jobs get a chart card on the main page; all are listed."
    )


class ServiceConfig(_Section):
    """What the pairing, batcher and submitter services share."""

    shutdown_timeout_seconds: PositiveFloat = Field(
        30.0,
        description="How long a stop (SIGTERM, Ctrl-C) may take: drain, commit, close the "
        "Kafka clients. Past it the service logs what it was waiting for (a dead broker), "
        "closes its local stores and exits with code 4.",
    )


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class TracingConfig(_Section):
    """OpenTelemetry traces from a candidate to its pairs, dataset and training job
    (docs/tracing.md). The SDK's standard ``OTEL_*`` variables (headers, timeouts,
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) apply as well."""

    enabled: bool = Field(
        False, description="Export spans and carry W3C traceparent headers on every topic."
    )
    exporter: Literal["otlp", "console"] = Field(
        "otlp", description="otlp: OTLP over HTTP/protobuf; console: spans as JSON on stdout."
    )
    otlp_endpoint: str = Field(
        "http://localhost:4318",
        description="The collector's OTLP/HTTP base URL; spans go to <endpoint>/v1/traces.",
    )
    sample_ratio: float = Field(
        1.0, ge=0.0, le=1.0, description="Share of new traces sampled (a child follows its parent)."
    )
    max_links: PositiveInt = Field(
        128, description="At most this many pairs (evenly sampled) are linked from a dataset span."
    )


class DemoConfig(_Section):
    """``prefstream demo``: how many tic-tac-toe agents play, and with which policy."""

    agents: PositiveInt = Field(4, description="Agents playing concurrently, each its own run.")
    games: PositiveInt = Field(5, description="Games each agent plays.")
    candidates_per_move: int = Field(
        4, ge=2, le=9, description="Candidate moves per turn (fewer when fewer squares are empty)."
    )
    seed: int = Field(0, description="Same seed, same offline games.")
    llm: str | None = Field(
        None, description="Name under llms: to generate candidates; none means the offline policy."
    )
    llm_timeout_seconds: PositiveFloat = Field(
        30.0, description="Per request; a failed request falls back to the offline policy."
    )
    policy_model: str | None = Field(
        None,
        description="Recorded on every candidate; default: the llm's model_name or demo-policy-v0.",
    )
    think_seconds: NonNegativeFloat = Field(
        0.0, description="Pause before each move, like a model's latency; paces the stream."
    )
    jobs_to_complete: PositiveInt = Field(
        1, description="The demo stops after this many training jobs have completed."
    )
    timeout_seconds: PositiveFloat = Field(900.0, description="Overall deadline for the demo.")
    rounds: PositiveInt = Field(
        3, description="Closed loop: play, train, deploy, evaluate and promote this many times."
    )
    base_model: str = Field(
        "prefstream-demo/tictactoe-policy",
        description="Closed loop: the name the tiny policy is registered under (namespace/name).",
    )
    policy_cache_dir: str = Field(
        "data/policy-cache",
        description="Closed loop: where the built base policy is kept between runs.",
    )
    temperature: NonNegativeFloat = Field(
        2.0, description="Closed loop: sampling temperature of the agents' candidate moves."
    )
    evaluation_games_random: NonNegativeInt = Field(
        500, description="Closed loop: held-out evaluation games against a random player."
    )
    evaluation_games_minimax: NonNegativeInt = Field(
        200, description="Closed loop: held-out evaluation games against perfect play."
    )
    evaluation_temperature: NonNegativeFloat = Field(
        0.3, description="Closed loop: sampling temperature of the model in evaluation games."
    )
    promotion_z: NonNegativeFloat = Field(
        2.0,
        description="Closed loop: a new model may trail the current one by this many "
        "combined standard errors of the evaluation score and still be promoted.",
    )
    promotion_min_tolerance: NonNegativeFloat = Field(
        0.0, description="Closed loop: the smallest allowed shortfall, whatever the noise."
    )
    promotion_max_illegal_increase: NonNegativeFloat = Field(
        0.0,
        le=1.0,
        description="Closed loop: how much higher (a fraction of its answers) a new model's "
        "illegal-answer rate may be than the current model's and still be promoted.",
    )
