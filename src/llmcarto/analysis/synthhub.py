"""A deterministic synthetic Hub with the shape of design.md §10, for lineage benchmarks.

No offline dump of the ~2.2M-model Hub exists, so benchmarks run on a seeded synthetic one
whose parameters are the published shape (`SHAPE`, design §10, Laufer et al. 2025): 31 % of
models have a parent; edges are adapter 42 %, finetune 33 %, quantized 18 %, merge 7 %; a
merge child has 2–3 parents; parents are chosen by preferential attachment (the 100 most
derived bases hold about 40 % of children); children of quantized or adapter models are rare
(< 1 %); derived models are at depth 1 (70 %), 2 (22 %), 3 (6 %) or deeper; licence tags
apache-2.0 > mit > other > llama family > cc-by-nc > none (about a third untagged).

Construction: roots first, then derived models layer by layer (depth d picks its parents in
depth d-1, so every depth is exact), hubs take a fixed share of depth-1 edges. Model ids say
they are synthetic (``synth-…``). `synth_delta` makes a day of new models on top of a Hub:
new leaves on existing models and some new roots that get children the same day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

RELATIONS = ("adapter", "finetune", "quantized", "merge")
LICENCE_TAGS = ("apache-2.0", "mit", "other", "llama2", "llama3", "llama3.1", "cc-by-nc-4.0",
                None)
SHAPE = {
    "derived_share": 0.31,
    "edge_mix": {"adapter": 0.42, "finetune": 0.33, "quantized": 0.18, "merge": 0.07},
    "merge_parents": (2, 3),
    "top100_children_share": 0.40,
    "children_of_adapter_or_quantized_max": 0.01,
    "depth_mix": {1: 0.70, 2: 0.22, 3: 0.06, 4: 0.015, 5: 0.005},
    "licence_mix": {"apache-2.0": 0.27, "mit": 0.13, "other": 0.10, "llama2": 0.03,
                    "llama3": 0.03, "llama3.1": 0.03, "cc-by-nc-4.0": 0.08, None: 0.33},
    "licence_inherited": 0.7,
}
HUBS = 100
HUB_SHARE_OF_DEPTH1 = 0.52  # calibrated: top-100 hold ~40 % of all children (test_synth)
RARE_PARENT = 0.004  # share of deeper edges whose parent is an adapter or quantized model


@dataclass
class SynthHub:
    """Models (ids, licence tags) and parent→child edges by model index."""

    ids: np.ndarray  # object array of str
    licence: np.ndarray  # object array of str | None
    parent: np.ndarray  # int64
    child: np.ndarray  # int64
    relation: np.ndarray  # object array of str
    meta: dict = field(default_factory=dict)

    @property
    def models(self) -> int:
        return len(self.ids)


def _ids(start: int, stop: int, seed: int) -> np.ndarray:
    return np.array([f"synth-org{i % 4999}/s{seed}-model-{i}" for i in range(start, stop)],
                    dtype=object)


def _relations(rng: np.random.Generator, n: int) -> np.ndarray:
    """Child relations so that *edges* follow the mix (a merge child has 2.5 parents)."""
    mix = SHAPE["edge_mix"]
    weights = np.array([mix[r] / (2.5 if r == "merge" else 1.0) for r in RELATIONS])
    return rng.choice(len(RELATIONS), size=n, p=weights / weights.sum())


def _licences(rng: np.random.Generator, n: int) -> np.ndarray:
    mix = SHAPE["licence_mix"]
    tags = list(mix)
    picks = rng.choice(len(tags), size=n, p=np.array([mix[t] for t in tags]))
    return np.array(tags, dtype=object)[picks]


def _pick(rng: np.random.Generator, pool: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """`n` draws from `pool` with probability ∝ weight (preferential attachment)."""
    if n == 0 or len(pool) == 0:
        return np.zeros(0, dtype=np.int64)
    return pool[rng.choice(len(pool), size=n, p=weight / weight.sum())]


def _parents_for(rng: np.random.Generator, rel: np.ndarray, pool: np.ndarray,
                 weight: np.ndarray, children: np.ndarray, hubs: np.ndarray | None,
                 hub_weight: np.ndarray | None, hub_share: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(parent, child, relation code) edges for `children`; merges get 2–3 distinct parents."""
    k = np.where(rel == RELATIONS.index("merge"), rng.integers(2, 4, size=len(children)), 1)
    child = np.repeat(children, k)
    code = np.repeat(rel, k)
    parent = _pick(rng, pool, weight, len(child))
    if hubs is not None and hub_weight is not None:
        to_hub = rng.random(len(child)) < hub_share
        parent[to_hub] = _pick(rng, hubs, hub_weight, int(to_hub.sum()))
    for _ in range(20):  # distinct parents per merge child
        key = child * (1 << 32) + parent
        _, first = np.unique(key, return_index=True)
        dup = np.ones(len(key), bool)
        dup[first] = False
        if not dup.any():
            break
        parent[dup] = _pick(rng, pool, np.ones(len(pool)), int(dup.sum()))
    keep = np.unique(child * (1 << 32) + parent, return_index=True)[1]
    keep.sort()
    return parent[keep], child[keep], code[keep]


def synth_hub(models: int, seed: int = 0) -> SynthHub:
    """A synthetic Hub of `models` models with the shape of `SHAPE` (deterministic)."""
    if models < 200:
        raise ValueError(f"--models {models}: at least 200 (the shape needs 100 hubs)")
    rng = np.random.default_rng(seed)
    derived = int(round(models * SHAPE["derived_share"]))
    roots = models - derived
    depth_mix = SHAPE["depth_mix"]
    depths = np.sort(rng.choice(list(depth_mix), size=derived, p=list(depth_mix.values())))
    rel = _relations(rng, derived)
    node_rel = np.full(models, -1, dtype=np.int64)  # -1: a root
    node_rel[roots:] = rel
    node_depth = np.zeros(models, dtype=np.int64)
    node_depth[roots:] = depths
    attract = rng.pareto(1.2, size=models) + 1.0  # heavy-tailed fan-out
    hubs = np.arange(HUBS)
    hub_weight = 1.0 / np.arange(1, HUBS + 1) ** 0.7
    parents, children, codes = [], [], []
    parentable = (node_rel == RELATIONS.index("finetune")) | (node_rel == RELATIONS.index("merge"))
    for d in sorted(depth_mix):
        layer = np.flatnonzero(node_depth == d)
        layer = layer[layer >= roots]
        if d == 1:
            pool = np.arange(HUBS, roots)
            p, c, r = _parents_for(rng, node_rel[layer], pool, attract[pool], layer, hubs,
                                   hub_weight, HUB_SHARE_OF_DEPTH1)
        else:
            above = np.flatnonzero((node_depth == d - 1) & (np.arange(models) >= roots))
            common = above[parentable[above]]
            rare = above[~parentable[above]]
            if len(common) == 0:
                node_depth[layer] = 0  # nothing to attach to at this size: stays a root
                node_rel[layer] = -1
                continue
            p, c, r = _parents_for(rng, node_rel[layer], common, attract[common], layer,
                                   None, None, 0.0)
            swap = rng.random(len(p)) < RARE_PARENT
            if len(rare) and swap.any():
                p[swap] = _pick(rng, rare, attract[rare], int(swap.sum()))
        parents.append(p)
        children.append(c)
        codes.append(r)
    licence = _licences(rng, models)
    parent = np.concatenate(parents)
    child = np.concatenate(children)
    first = np.unique(child, return_index=True)[1]
    inherit = rng.random(len(first)) < SHAPE["licence_inherited"]
    licence[child[first][inherit]] = licence[parent[first][inherit]]
    return SynthHub(_ids(0, models, seed), licence, parent, child,
                    np.array(RELATIONS, dtype=object)[np.concatenate(codes)],
                    {"models": models, "seed": seed, "shape": _jsonable(SHAPE)})


def synth_delta(hub: SynthHub, new: int, seed: int = 1) -> SynthHub:
    """`new` models created after `hub` (indices continue): ~40 % new roots, the rest new
    leaves — on existing models (hubs preferred) or, for one in ten, on a new root of the day.
    Only new models get parents, so no existing model changes depth or roots."""
    rng = np.random.default_rng(seed + 7919 * hub.models)
    start = hub.models
    n_roots = int(round(new * 0.4))
    new_roots = np.arange(start, start + n_roots)
    leaves = np.arange(start + n_roots, start + new)
    rel = _relations(rng, len(leaves))
    on_new = rng.random(len(leaves)) < 0.1
    base_counts = np.bincount(hub.parent, minlength=hub.models).astype(float)
    is_child = np.zeros(hub.models, bool)
    is_child[hub.child] = True
    codes = {r: i for i, r in enumerate(RELATIONS)}
    child_rel = np.full(hub.models, -1)
    child_rel[hub.child] = _codes(hub.relation)
    ok = (child_rel == -1) | (child_rel == codes["finetune"]) | (child_rel == codes["merge"])
    pool = np.flatnonzero(ok)
    p1, c1, r1 = _parents_for(rng, rel[~on_new], pool, base_counts[pool] + 1.0,
                              leaves[~on_new], None, None, 0.0)
    p2, c2, r2 = _parents_for(rng, rel[on_new], new_roots, np.ones(len(new_roots)),
                              leaves[on_new], None, None, 0.0)
    licence = _licences(rng, new)
    naming = hub.meta.get("seed", 0)
    return SynthHub(_ids(start, start + new, naming), licence, np.concatenate([p1, p2]),
                    np.concatenate([c1, c2]),
                    np.array(RELATIONS, dtype=object)[np.concatenate([r1, r2])],
                    {"models": new, "seed": seed, "delta_of": hub.models, "naming": naming})


def _codes(relation: np.ndarray) -> np.ndarray:
    out = np.zeros(len(relation), dtype=np.int64)
    for i, r in enumerate(RELATIONS):
        out[relation == r] = i
    return out


def _jsonable(shape: dict) -> dict:
    return json.loads(json.dumps(shape, default=str))


def write_hub(hub: SynthHub, out: Path) -> dict[str, Path]:
    """`models.parquet` (id, licence) and `edges.parquet` (parent, child, relation) in `out`,
    plus `meta.json`; the Parquet files are written by DuckDB."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    models = {"id": hub.ids, "licence": hub.licence}  # noqa: F841 (DuckDB scans it)
    edges = {"parent": _names(hub, hub.parent), "child": _names(hub, hub.child),  # noqa: F841
             "relation": hub.relation}
    paths = {"models": out / "models.parquet", "edges": out / "edges.parquet"}
    con.execute(f"COPY (SELECT * FROM models) TO '{paths['models']}' (FORMAT parquet)")
    con.execute(f"COPY (SELECT * FROM edges) TO '{paths['edges']}' (FORMAT parquet)")
    (out / "meta.json").write_text(json.dumps(hub.meta, indent=1) + "\n")
    con.close()
    return paths


def _names(hub: SynthHub, index: np.ndarray) -> np.ndarray:
    """Model names of indices; a delta's parents may be models of the base Hub."""
    base = hub.meta.get("delta_of")
    if base is None:
        return hub.ids[index]
    return np.array([hub.ids[i - base] if i >= base else _ids(i, i + 1, hub.meta["naming"])[0]
                     for i in index], dtype=object)


def read_hub(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ids, licences, parent names, child names, relations) from `write_hub`'s Parquet."""
    con = duckdb.connect()
    m = con.execute(f"SELECT id, licence FROM read_parquet('{folder / 'models.parquet'}')"
                    ).fetchnumpy()
    e = con.execute("SELECT parent, child, relation FROM "
                    f"read_parquet('{folder / 'edges.parquet'}')").fetchnumpy()
    con.close()
    return (_plain(m["id"]), _plain(m["licence"]), _plain(e["parent"]), _plain(e["child"]),
            _plain(e["relation"]))


def _plain(column: np.ndarray) -> np.ndarray:
    """DuckDB hands back masked arrays for columns with NULLs: NULL becomes None."""
    if isinstance(column, np.ma.MaskedArray):
        data = np.asarray(column.data, dtype=object)
        data[np.ma.getmaskarray(column)] = None
        return data
    return np.asarray(column, dtype=object)
