"""Which relation a child's own files and tags show: the lineage inference rules.

The Hub labels every parent→child edge (finetune, adapter, quantized, merge), but the
label comes from what the child's card says or from the Hub's own guess, and it does not
always match the files (README "Format notes": in the Llama-2-7b-chat-hf tree, over 200
declared finetunes ship an ``adapter_config.json``). These rules look only at the child's
library, tags and file names — never at a declared relation — so declared and inferred
can be compared. The first rule that fires wins (`RULES` order):

1. ``adapter-file``       a file named ``adapter_config.json`` (any folder): PEFT adapter
                          weights, whatever else the repo holds → adapter
2. ``adapter-peft``       ``library_name: peft`` or the tag ``peft`` → adapter
3. ``quantized-file``     a file name marking a quantized format: ``*.gguf``, ``ggml``,
                          ``gptq``, ``awq`` or ``exl2`` in the name, ``quantize_config.json``
                          (AutoGPTQ) → quantized
4. ``quantized-tag``      a tag ``gguf``, ``gptq``, ``awq``, ``exl2``, ``mlx``,
                          ``bitsandbytes``, ``4-bit`` or ``8-bit``, or ``library_name``
                          ``gguf`` / ``mlx`` → quantized
5. ``merge-marker``       the tag ``mergekit`` or ``merge``, or ``mergekit_config.yml`` → merge
6. ``merge-several-bases`` the child's own declaration (its card's ``base_model`` list or its
                          ``base_model:`` tags) names two or more distinct bases → merge
7. ``finetune-weights``   model weight files (``*.safetensors``, ``*.bin``, ``*.pt``,
                          ``*.pth``, ``*.ckpt``, ``*.h5``, ``*.msgpack``, ``*.onnx``; training
                          state such as ``training_args.bin`` does not count) and none of the
                          markers above → finetune
8. ``no-weights``         the files are known but hold neither weights nor a marker → unknown
9. ``not-crawled``        the child's files and tags are not in the store → unknown

Adapters come first because an adapter config means the published weights are a delta
on the parent whatever their number format; quantized markers come before merge markers
because a quantization of a merge is a quantization of its parent. Matching is
case-insensitive; file names are matched on their last path component.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

RELATIONS = ("finetune", "adapter", "quantized", "merge")

ADAPTER_FILES = frozenset({"adapter_config.json"})
ADAPTER_MARKS = frozenset({"peft"})  # tags and library_name
QUANT_SUFFIXES = (".gguf",)
QUANT_NAME_PARTS = ("ggml", "gptq", "awq", "exl2")
QUANT_FILES = frozenset({"quantize_config.json"})
QUANT_TAGS = frozenset({"gguf", "gptq", "awq", "exl2", "mlx", "bitsandbytes", "4-bit", "8-bit"})
QUANT_LIBRARIES = frozenset({"gguf", "mlx"})
MERGE_TAGS = frozenset({"mergekit", "merge"})
MERGE_FILES = frozenset({"mergekit_config.yml"})
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx")
TRAINING_STATE_PREFIXES = ("training_args", "optimizer", "scheduler", "rng_state")


@dataclass(frozen=True)
class ChildFacts:
    """What the store knows about a child repo. `known` is False when it was not crawled
    (then files, tags and library are unknown, not empty)."""

    known: bool
    library_name: str | None = None
    tags: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    declared_bases: int = 0  # distinct bases named by the child's own card or base_model tags


@dataclass(frozen=True)
class Inference:
    """The relation a rule inferred (None = unknown), the rule's id and what fired it."""

    relation: str | None
    rule: str
    evidence: str


@dataclass(frozen=True)
class Rule:
    id: str
    relation: str | None
    description: str


RULES: tuple[Rule, ...] = (
    Rule("adapter-file", "adapter", "a file named adapter_config.json"),
    Rule("adapter-peft", "adapter", "library_name peft or tag peft"),
    Rule("quantized-file", "quantized",
         "a *.gguf file, ggml/gptq/awq/exl2 in a file name, or quantize_config.json"),
    Rule("quantized-tag", "quantized",
         "tag gguf, gptq, awq, exl2, mlx, bitsandbytes, 4-bit or 8-bit; library gguf or mlx"),
    Rule("merge-marker", "merge", "tag mergekit or merge, or a mergekit_config.yml file"),
    Rule("merge-several-bases", "merge", "the child's own declaration names 2+ bases"),
    Rule("finetune-weights", "finetune", "model weight files and none of the markers above"),
    Rule("no-weights", None, "files known, but neither weights nor a marker"),
    Rule("not-crawled", None, "the child's files and tags are not in the store"),
)
RULE_IDS = tuple(rule.id for rule in RULES)


def _base(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1].lower()


def _quoted(kind: str, values: Iterable[str], limit: int = 3) -> str:
    items = sorted(dict.fromkeys(values))
    shown = ", ".join(items[:limit]) + (f" (+{len(items) - limit} more)"
                                        if len(items) > limit else "")
    return f"{kind} {shown}"


def quantized_file(name: str) -> bool:
    base = _base(name)
    return (base.endswith(QUANT_SUFFIXES) or base in QUANT_FILES
            or any(part in base for part in QUANT_NAME_PARTS))


def weight_file(name: str) -> bool:
    base = _base(name)
    return base.endswith(WEIGHT_SUFFIXES) and not base.startswith(TRAINING_STATE_PREFIXES)


def infer(facts: ChildFacts) -> Inference:
    """Apply `RULES` in order to one child (pure; see the module doc for each rule)."""
    if not facts.known:
        return Inference(None, "not-crawled", "child not crawled: files and tags unknown")
    tags = {t.strip().lower() for t in facts.tags if isinstance(t, str)}
    library = (facts.library_name or "").strip().lower()
    files = [f for f in facts.files if isinstance(f, str)]
    adapter = [f for f in files if _base(f) in ADAPTER_FILES]
    if adapter:
        return Inference("adapter", "adapter-file", _quoted("file", adapter))
    if library in ADAPTER_MARKS or tags & ADAPTER_MARKS:
        marks = ([f"library_name {library}"] if library in ADAPTER_MARKS else []) + \
            [f"tag {t}" for t in sorted(tags & ADAPTER_MARKS)]
        return Inference("adapter", "adapter-peft", ", ".join(marks))
    quant = [f for f in files if quantized_file(f)]
    if quant:
        return Inference("quantized", "quantized-file", _quoted("file", quant))
    if tags & QUANT_TAGS or library in QUANT_LIBRARIES:
        marks = [f"tag {t}" for t in sorted(tags & QUANT_TAGS)] + \
            ([f"library_name {library}"] if library in QUANT_LIBRARIES else [])
        return Inference("quantized", "quantized-tag", ", ".join(marks))
    merge_files = [f for f in files if _base(f) in MERGE_FILES]
    if tags & MERGE_TAGS or merge_files:
        marks = [f"tag {t}" for t in sorted(tags & MERGE_TAGS)] + \
            ([_quoted("file", merge_files)] if merge_files else [])
        return Inference("merge", "merge-marker", ", ".join(marks))
    if facts.declared_bases >= 2:
        return Inference("merge", "merge-several-bases",
                         f"{facts.declared_bases} bases declared by the child")
    weights = [f for f in files if weight_file(f)]
    if weights:
        return Inference("finetune", "finetune-weights", _quoted("weights", weights, 2))
    return Inference(None, "no-weights",
                     f"{len(files)} files, no weights and no marker" if files else "no files")
