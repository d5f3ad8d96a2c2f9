"""Turn a recorded cut into a dataset directory, crash-safely, and describe it as DatasetReady.

Everything about the dataset is derived from its cut record (:class:`CutSpec`) and the
stored pairs, so a second attempt after a crash writes the same bytes. Rows are streamed
in arrival order from one DuckDB scan (no sort) through vectorized line assembly into a
staging directory, fsynced, described by ``manifest.json`` and the dataset card
(``README.md``), and only then renamed into place.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
from prefstream_datasets import (
    CARD,
    CARD_KEY,
    FILES,
    MANIFEST,
    CardOptions,
    Counts,
    CutSpec,
    ExportFormat,
    FileDigest,
    HashingWriter,
    Manifest,
    ManifestFile,
    ScoreStats,
    Selection,
    Side,
    Source,
    SourceRange,
    choose_rule,
    dataset_card,
    dataset_id_for,
    file_digest,
    file_key,
    fragments_used,
    new_staging_dir,
    publish_dir,
    read_manifest,
    template,
    write_manifest,
)
from prefstream_datasets.arrow_lines import contiguous_bytes, render_lines
from prefstream_events import DatasetFile, DatasetReady, SourceOffset
from prefstream_runtime.crash import crash_point
from prefstream_stores.batcher import BatcherStore, CutCounts

SIDES = (Side.TRAINING, Side.VALIDATION)


class DatasetConflict(RuntimeError):
    """A directory with this dataset's name exists and holds something else."""


@dataclass(frozen=True, slots=True)
class OutputOptions:
    datasets_dir: Path
    formats: tuple[ExportFormat, ...]
    use_full_message_history: bool
    batch_rows: int = 8192
    keep_system: bool = False
    """Text prompts keep the system messages (``rows.prompt_text``)."""
    license: str | None = None
    """License id for the dataset card."""

    @property
    def card(self) -> CardOptions:
        return CardOptions(self.use_full_message_history, self.keep_system, self.license)


@dataclass(frozen=True, slots=True)
class Built:
    event: DatasetReady
    selection: Selection
    reused: bool
    """The directory was already in place (an earlier attempt got that far)."""


def select(store: BatcherStore, spec: CutSpec) -> tuple[Selection, CutCounts]:
    """Which pairs a cut holds and how they split: dedup, policy, sample, split rule."""
    counts = store.cut_counts(spec)
    bound = None
    if spec.max_pairs is not None and counts.selected > spec.max_pairs:
        bound = store.sample_bound(spec, spec.max_pairs)
    unsplit = Selection(spec, bound)
    rule = choose_rule(store.split_summary(unsplit), spec.validation_fraction)
    return Selection(spec, bound, rule), counts


def build(store: BatcherStore, spec: CutSpec, options: OutputOptions) -> Built:
    """Make sure ``<datasets_dir>/<name>`` holds this cut; never overwrite another one."""
    with store.scan_budget():
        return _build(store, spec, options)


def _build(store: BatcherStore, spec: CutSpec, options: OutputOptions) -> Built:
    selection, counts = select(store, spec)
    final = options.datasets_dir / spec.name
    if final.exists():
        return Built(adopt(store, final, selection), selection, reused=True)
    staging = new_staging_dir(options.datasets_dir, spec.name)
    try:
        return _build_in(store, spec, options, selection, counts, staging, final)
    except BaseException:
        # A failed attempt (disk full) leaves nothing behind; the retry starts afresh.
        # After a crash, open() clears what is left.
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _build_in(
    store: BatcherStore,
    spec: CutSpec,
    options: OutputOptions,
    selection: Selection,
    counts: CutCounts,
    staging: Path,
    final: Path,
) -> Built:
    files, spools = _write_files(store, selection, staging, options)
    rule = selection.rule
    assert rule is not None
    rows = {side: files[file_key("nemo", side.value)].rows for side in SIDES}
    distinct = rows[Side.TRAINING] + rows[Side.VALIDATION]
    if rule.level == "duplicate":
        distinct = 1
    manifest = Manifest(
        dataset_id=dataset_id_for(spec.name, files),
        name=spec.name,
        sequence=spec.sequence,
        created_at=spec.created_at,
        mode=spec.mode,
        trigger=spec.trigger,
        request_id=spec.request_id,
        counts=Counts(
            pairs=distinct,
            training=rows[Side.TRAINING],
            validation=rows[Side.VALIDATION],
            considered=counts.considered,
            duplicates=counts.duplicates,
            excluded_by_policy=sum(counts.excluded_policy_models.values()),
            not_sampled=counts.selected - distinct,
        ),
        files={k: ManifestFile(**d.as_dict()) for k, d in sorted(files.items())},
        export={
            "formats": list(options.formats),
            "use_full_message_history": options.use_full_message_history,
            "line_format": "json.dumps defaults (', ' and ': ' separators, ASCII escapes)",
            "system_in_text_prompt": options.keep_system,
            "license": options.license,
        },
        split=rule.describe(),
        sampling={
            "max_pairs": spec.max_pairs,
            "seed": spec.seed,
            "method": "keep the max_pairs smallest (md5_upper64_le(f'{seed}:{pair_id}'), pair_id)",
            "applied": selection.sample_bound is not None,
        },
        dedup={
            "enabled": spec.dedup,
            "key": "content_hash",
            "winner": "first consumed; later duplicates, also across datasets, are dropped",
        },
        policy_models=store.policy_counts(selection),
        policy_filter=spec.policy_filter,
        excluded_policy_models=counts.excluded_policy_models,
        scores={k: ScoreStats(**v) for k, v in store.score_stats(selection).items()},
        source=Source(
            topic=spec.topic,
            partitions=[
                SourceRange(partition=p, start=spec.starts.get(p, 0), end=end)
                for p, end in sorted(spec.ends.items())
            ],
        ),
    )
    manifest = _with_card(staging, manifest, options.card)
    ids = {side.value: _spooled_ids(spools[side]) for side in SIDES}
    try:
        digest = write_manifest(staging, manifest, ids)
    finally:
        for chunks in ids.values():
            chunks.close()  # a failed write must not keep a spool open (nor its space)
    crash_point("before_rename")
    publish_dir(staging, final)
    crash_point("after_rename")
    return Built(event_for(final, manifest, digest), selection, reused=False)


def _with_card(staging: Path, manifest: Manifest, options: CardOptions) -> Manifest:
    """Write the card (from the manifest as it is so far) and list it in the manifest. The
    dataset id was derived from the row files before, so the card can quote it."""
    with HashingWriter(staging, CARD) as out:
        out.write(dataset_card(manifest, options).encode())
    files = {**manifest.files, CARD_KEY: ManifestFile(**out.close().as_dict())}
    return manifest.model_copy(update={"files": dict(sorted(files.items()))})


def adopt(store: BatcherStore, final: Path, selection: Selection) -> DatasetReady:
    """The existing directory, if it is this cut, intact; else :class:`DatasetConflict`."""
    spec = selection.spec
    try:
        manifest = read_manifest(final)
    except (OSError, ValueError) as exc:
        raise DatasetConflict(f"{final} exists but has no readable manifest: {exc}") from exc
    if manifest.name != spec.name or manifest.sequence != spec.sequence:
        raise DatasetConflict(f"{final} holds {manifest.name} #{manifest.sequence}")
    for key, entry in manifest.files.items():
        actual = file_digest(final, entry.path)
        if actual.sha256 != entry.sha256:
            raise DatasetConflict(f"{final}/{entry.path} does not match its manifest ({key})")
    sides = store.side_counts(selection)
    if sides != {"training": manifest.counts.training, "validation": manifest.counts.validation}:
        raise DatasetConflict(
            f"{final} has {manifest.counts.training}/{manifest.counts.validation} rows, this "
            f"cut selects {sides['training']}/{sides['validation']}"
        )
    return event_for(final, manifest, file_digest(final, MANIFEST))


def event_for(final: Path, manifest: Manifest, manifest_digest: FileDigest) -> DatasetReady:
    """The DatasetReady of a published directory: a pure function of its manifest."""

    def described(side: Side) -> DatasetFile:
        entry = manifest.files[file_key("nemo", side.value)]
        return DatasetFile(path=entry.path, sha256=entry.sha256, rows=entry.rows, bytes=entry.bytes)

    trigger = (
        manifest.trigger if manifest.trigger in {"min_new_pairs", "max_wait", "forced"} else None
    )
    return DatasetReady(
        dataset_id=manifest.dataset_id,
        name=manifest.name,
        sequence=manifest.sequence,
        directory=str(final),
        training=described(Side.TRAINING),
        validation=described(Side.VALIDATION),
        manifest_path=str(final / MANIFEST),
        manifest_sha256=manifest_digest.sha256,
        num_pairs=manifest.counts.pairs,
        mode=manifest.mode,
        policy_models=manifest.policy_models,
        created_at=manifest.created_at,
        trigger=trigger,
        request_id=manifest.request_id,
        policy_filter=manifest.policy_filter,
        source_offsets=[
            SourceOffset(topic=manifest.source.topic, partition=r.partition, offset=r.end)
            for r in manifest.source.partitions
        ],
    )


def _write_files(
    store: BatcherStore, selection: Selection, root: Path, options: OutputOptions
) -> tuple[dict[str, FileDigest], dict[Side, Path]]:
    """Every format's files in canonical order, plus each side's pair ids for the manifest.

    Rows are ordered by (partition, offset) within each side, so the bytes depend on what
    was consumed, not on how partitions happened to interleave: a batcher replaying the
    topic writes the same files. The scan returns rows in arrival order (one sorted run per
    partition, interleaved); phase 1 spools each (side, partition) run to an Arrow file,
    phase 2 renders the runs in order. Both phases stream: memory is one batch.
    """
    templates = {
        f: template(f, options.use_full_message_history, keep_system=options.keep_system)
        for f in options.formats
    }
    needed = sorted({frag for t in templates.values() for frag in fragments_used(t)})
    runs = _spool_runs(
        store, selection, root / ".runs", ["pair_id", *(f.value for f in needed)], options
    )
    ids = {side: root / f".pair_ids.{side.value}.arrow" for side in SIDES}
    ids_schema = pa.schema([("pair_id", pa.string())])
    writers: dict[tuple[ExportFormat, Side], HashingWriter] = {}
    with contextlib.ExitStack() as stack:
        stack.push(lambda *exc: _abort_all(writers.values(), failed=exc[0] is not None))
        for fmt in options.formats:
            for side in SIDES:
                relpath = FILES[fmt][0 if side is Side.TRAINING else 1]
                writers[(fmt, side)] = HashingWriter(root, relpath)
        sinks = {side: _arrow_sink(stack, path, ids_schema) for side, path in ids.items()}
        for (side, _), path in sorted(
            runs.items(), key=lambda item: (item[0][0] is Side.VALIDATION, item[0][1])
        ):
            with pa.ipc.open_stream(str(path)) as reader:
                for batch in reader:
                    fragments = {f: batch.column(f.value) for f in needed}
                    for fmt, tpl in templates.items():
                        lines = render_lines(tpl, fragments)
                        writers[(fmt, side)].write(contiguous_bytes(lines), len(batch))
                    sinks[side].write_batch(
                        pa.record_batch(
                            [batch.column("pair_id").cast(pa.string())], schema=ids_schema
                        )
                    )
            path.unlink()
        (root / ".runs").rmdir()
        digests = {file_key(fmt, side.value): w.close() for (fmt, side), w in writers.items()}
    return digests, ids


def _abort_all(writers: Iterable[HashingWriter], *, failed: bool) -> bool:
    if failed:
        for writer in writers:
            writer.abort()
    return False  # never swallow the error


def _arrow_sink(
    stack: contextlib.ExitStack, path: Path, schema: pa.Schema
) -> pa.ipc.RecordBatchStreamWriter:
    """An Arrow stream writer whose file is closed even if closing the writer fails
    (its end-of-stream marker cannot be written on a full disk)."""
    file = stack.enter_context(pa.OSFile(str(path), "wb"))
    return stack.enter_context(pa.ipc.new_stream(file, schema))


def _spool_runs(
    store: BatcherStore,
    selection: Selection,
    directory: Path,
    columns: list[str],
    options: OutputOptions,
) -> dict[tuple[Side, int], Path]:
    """Phase 1: one Arrow stream file per (side, partition), rows in offset order."""
    directory.mkdir()
    runs: dict[tuple[Side, int], Path] = {}
    with contextlib.ExitStack() as stack:
        sinks: dict[tuple[Side, int], pa.ipc.RecordBatchStreamWriter] = {}
        scan = stack.enter_context(
            store.stream_rows(selection, [*columns, "src_partition"], options.batch_rows)
        )
        for i, batch in enumerate(scan):
            for side, part in _by_side(batch):
                for partition, run in _by_partition(part):
                    sink = sinks.get((side, partition))
                    if sink is None:
                        path = runs[(side, partition)] = directory / f"{side.value}.{partition}"
                        sink = sinks[(side, partition)] = _arrow_sink(stack, path, run.schema)
                    sink.write_batch(run)
            if i == 0:
                crash_point("mid_files")
    return runs


def _by_partition(batch: pa.RecordBatch) -> Iterator[tuple[int, pa.RecordBatch]]:
    column = batch.column("src_partition")
    partitions = pc.unique(column).to_pylist()
    if len(partitions) == 1:
        yield partitions[0], batch
        return
    for partition in partitions:
        yield partition, batch.filter(pc.equal(column, partition))


def _by_side(batch: pa.RecordBatch) -> Iterator[tuple[Side, pa.RecordBatch]]:
    side = batch.column("side")
    validation = pc.sum(side).as_py() or 0
    if validation == 0:
        yield Side.TRAINING, batch
    elif validation == len(batch):
        yield Side.VALIDATION, batch
    else:
        is_validation = pc.equal(side, 1)
        yield Side.TRAINING, batch.filter(pc.invert(is_validation))
        yield Side.VALIDATION, batch.filter(is_validation)


def _spooled_ids(path: Path) -> Generator[list[str]]:
    """Read back a spool, then delete it (it must not be published with the dataset)."""
    with pa.ipc.open_stream(str(path)) as reader:
        for batch in reader:
            yield batch.column(0).to_pylist()
    path.unlink()


__all__ = [
    "Built",
    "DatasetConflict",
    "OutputOptions",
    "adopt",
    "build",
    "event_for",
    "select",
]
