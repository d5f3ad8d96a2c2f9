"""``README.md``: the dataset card that makes a dataset directory, and the Data Store repo it
is uploaded to, load with ``datasets.load_dataset`` and show on the Hub's viewer.

Without a card the Hub guesses configs from paths, and a directory with more than one
export format mixes their files into one table. The card's YAML front matter declares one
config per format written (``nemo`` the default), each with splits ``train`` and
``validation``, its columns and row counts (which ``load_dataset`` checks); the body states
where the dataset came from. The card is a pure function of the manifest and the export
options, so the same cut always gets the same bytes; its digest is listed in the manifest
under :data:`CARD_KEY`, but it is not part of the dataset id (it quotes that id).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from prefstream_datasets.manifest import Manifest, file_key
from prefstream_datasets.rows import EXPORT_FORMATS, FILES, SYSTEM_ROLE, ExportFormat

CARD = "README.md"
CARD_KEY = "card"
"""Key of the card in ``Manifest.files``."""

TAGS = ("dpo", "preference", "prefstream")
SPLITS = (("train", "training"), ("validation", "validation"))
"""(Hub split name, side of the dataset) in the order the card lists them."""

_MESSAGES: dict[str, Any] = {
    "list": [{"name": "role", "dtype": "string"}, {"name": "content", "dtype": "string"}]
}
_STRING: dict[str, Any] = {"dtype": "string"}
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"))
_SIZES_LARGE = ((1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))
_CELL_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class CardOptions:
    """What the card says beyond the manifest: the prompt form and the license."""

    use_full_message_history: bool = False
    keep_system: bool = False
    license: str | None = None
    """A Hub license id (``apache-2.0``, ``other``...); ``None`` leaves it out."""


def formats_written(manifest: Manifest) -> tuple[ExportFormat, ...]:
    """The export formats whose files the manifest lists, in canonical order."""
    return tuple(f for f in EXPORT_FORMATS if file_key(f, "training") in manifest.files)


def columns(fmt: ExportFormat, options: CardOptions) -> dict[str, dict[str, Any]]:
    """Each column of ``fmt``'s rows and its ``datasets`` feature."""
    if fmt == "nemo":
        prompt = _MESSAGES if options.use_full_message_history else _STRING
        return {"prompt": prompt, "chosen_response": _STRING, "rejected_response": _STRING}
    if fmt == "trl_standard":
        return {"prompt": _STRING, "chosen": _STRING, "rejected": _STRING}
    return {"prompt": _MESSAGES, "chosen": _MESSAGES, "rejected": _MESSAGES}


def size_category(pairs: int) -> str:
    for bound, name in (*_SIZES, *_SIZES_LARGE):
        if pairs < bound:
            return name
    return "n>100M"


def front_matter(manifest: Manifest, options: CardOptions) -> dict[str, Any]:
    """The card's YAML metadata. A split with no rows is left out: ``datasets`` cannot load
    an empty file as a split (a dataset cut with ``validation_fraction: 0``)."""
    configs: list[dict[str, Any]] = []
    infos: list[dict[str, Any]] = []
    for fmt in formats_written(manifest):
        files = {side: manifest.files[file_key(fmt, side)] for _, side in SPLITS}
        splits = [(split, files[side]) for split, side in SPLITS if files[side].rows]
        config: dict[str, Any] = {"config_name": fmt}
        if fmt == "nemo":
            config["default"] = True
        config["data_files"] = [{"split": split, "path": f.path} for split, f in splits]
        configs.append(config)
        infos.append(
            {
                "config_name": fmt,
                "features": [{"name": n, **t} for n, t in columns(fmt, options).items()],
                "splits": [
                    {"name": split, "num_bytes": f.bytes, "num_examples": f.rows}
                    for split, f in splits
                ],
            }
        )
    meta: dict[str, Any] = {"pretty_name": manifest.name}
    if options.license is not None:
        meta["license"] = options.license
    meta["tags"] = list(TAGS)
    meta["size_categories"] = [size_category(manifest.counts.pairs)]
    meta["configs"] = configs
    meta["dataset_info"] = infos
    meta["prefstream"] = lineage(manifest)
    return meta


def lineage(manifest: Manifest) -> dict[str, Any]:
    """Where the dataset came from, machine-readable (every pair id is in the manifest)."""
    out: dict[str, Any] = {
        "dataset_id": manifest.dataset_id,
        "name": manifest.name,
        "sequence": manifest.sequence,
        "created_at": manifest.created_at.isoformat(),
        "mode": manifest.mode,
        "trigger": manifest.trigger,
    }
    if manifest.request_id is not None:
        out["request_id"] = manifest.request_id
    out["counts"] = manifest.counts.model_dump()
    out["policy_models"] = dict(manifest.policy_models)
    if manifest.policy_filter is not None:
        out["policy_filter"] = list(manifest.policy_filter)
        out["excluded_policy_models"] = dict(manifest.excluded_policy_models)
    out["source"] = manifest.source.model_dump()
    return out


def dataset_card(manifest: Manifest, options: CardOptions) -> str:
    """The whole ``README.md``: front matter, then the human-readable description."""
    meta = yaml.dump(
        front_matter(manifest, options),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=False,  # escaped: PyYAML writes some line breaks (U+0085) unquoted
        width=1000,
    )
    return f"---\n{meta}---\n\n{_body(manifest, options)}"


class _Dumper(yaml.SafeDumper):
    """Safe YAML, every value written out (no ``&id001`` anchors for repeated features)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _body(manifest: Manifest, options: CardOptions) -> str:
    c = manifest.counts
    formats = formats_written(manifest)
    lines = [
        f"# {_plain(manifest.name)}",
        "",
        f"DPO preference pairs cut by prefstream's batcher: {c.pairs} pairs "
        f"({c.training} training rows, {c.validation} validation rows).",
        "",
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        'ds = load_dataset("<this directory or repo>")  # NeMo Customizer DPO rows',
        *(f'ds = load_dataset("<this directory or repo>", "{f}")' for f in formats[1:]),
        "```",
        "",
        "| config | files | columns | train | validation |",
        "|---|---|---|---|---|",
    ]
    for fmt in formats:
        name = f"`{fmt}` (default)" if fmt == "nemo" else f"`{fmt}`"
        paths = ", ".join(f"`{p}`" for p in FILES[fmt])
        cols = ", ".join(f"`{n}`" for n in columns(fmt, options))
        rows = [manifest.files[file_key(fmt, side)].rows for _, side in SPLITS]
        lines.append(f"| {name} | {paths} | {cols} | {rows[0]} | {rows[1]} |")
    if not (c.training and c.validation):
        lines += ["", "An empty file is not declared as a split: `datasets` cannot load it."]
    lines += ["", _prompt_note(formats, options), "", "## Lineage", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _lineage_rows(manifest, options)]
    lines += [
        "",
        "Every pair id (in file order), the split rule, sampling and dedup parameters are in "
        "`manifest.json` in the batcher's datasets directory.",
        "",
    ]
    return "\n".join(lines)


def _prompt_note(formats: tuple[ExportFormat, ...], options: CardOptions) -> str:
    full = options.use_full_message_history
    text = [f for f in formats if f == "trl_standard" or (f == "nemo" and not full)]
    parts = []
    if full:
        parts.append('`nemo` prompts are the message list (`""` where it is empty).')
    if "trl_conversational" in formats:
        parts.append("`trl_conversational` prompts are the message list.")
    if text:
        rule = (
            f'the contents of the "{SYSTEM_ROLE}" messages before the last message, then its '
            "content, joined by a blank line"
            if options.keep_system
            else f'the last message\'s content ("{SYSTEM_ROLE}" messages are dropped, as NAT does)'
        )
        parts.append(f"{' and '.join(f'`{f}`' for f in text)} prompts are text: {rule}.")
    return " ".join(parts)


def _lineage_rows(manifest: Manifest, options: CardOptions) -> list[tuple[str, str]]:
    c = manifest.counts
    rows = [
        ("dataset id", f"`{manifest.dataset_id}`"),
        ("name, sequence", f"{_code(manifest.name)}, {manifest.sequence}"),
        ("created", manifest.created_at.isoformat()),
        ("mode, trigger", f"{manifest.mode}, {_code(manifest.trigger)}"),
    ]
    if manifest.request_id is not None:
        rows.append(("request id", _code(manifest.request_id)))
    rows += [
        (
            "pairs",
            f"{c.pairs} of {c.considered} considered ({c.duplicates} duplicates, "
            f"{c.excluded_by_policy} excluded by policy, {c.not_sampled} not sampled)",
        ),
        ("split", _split(manifest.split)),
        ("policy models", _counts(manifest.policy_models)),
    ]
    if manifest.policy_filter is not None:
        allowed = ", ".join(_code(m) for m in manifest.policy_filter) or "none"
        excluded = _counts(manifest.excluded_policy_models)
        rows.append(("policy filter", f"{allowed}; excluded: {excluded}"))
    for name, s in manifest.scores.items():
        if s.min is not None and s.mean is not None and s.max is not None:
            rows.append((_code(name), f"min {s.min:.4g}, mean {s.mean:.4g}, max {s.max:.4g}"))
    ranges = "; ".join(
        f"partition {r.partition}: [{r.start}, {r.end})" for r in manifest.source.partitions
    )
    rows.append(("source", f"{_code(manifest.source.topic)} offsets {ranges or 'none'}"))
    rows.append(("license", _code(options.license) if options.license else "not set"))
    return rows


def _split(split: Mapping[str, Any]) -> str:
    if not split:
        return "unknown"
    text = f"by {split.get('level', '?')}, validation fraction {split.get('validation_fraction')}"
    fallback = split.get("fallback")
    return f"{text}; {_plain(str(fallback))}" if fallback else text


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{_code(k)} {v}" for k, v in sorted(counts.items())) or "none"


def _plain(text: str) -> str:
    """Text for a Markdown table cell or heading: one line, no column breaks."""
    return _CELL_BAD.sub(" ", text).replace("|", "\\|")


def _code(text: str) -> str:
    """A code span of any text (names come from agents and config)."""
    clean = _plain(text)
    return f"`` {clean} ``" if "`" in clean else f"`{clean}`"
