"""Assign whole threads to train/valid/test, deterministically for a seed, and cap the number of examples.

Splitting by thread (not by example) keeps the windows and branches of one thread out of two splits, so
validation measures generalisation rather than recall. The hash is splitmix64 computed in numpy, so the
split depends only on the thread ids and the seed: not on row order, Polars' version or the machine.
"""

from __future__ import annotations

import numpy as np
import polars as pl

SPLITS = ("train", "valid", "test")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: well-mixed 64-bit hashes of 64-bit integers."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(keys: list[pl.Series], seed: int) -> np.ndarray:
    """A number in [0, 1) per row, a deterministic function of the key columns and ``seed``."""
    with np.errstate(over="ignore"):
        h = splitmix64(np.full(len(keys[0]), seed, dtype=np.uint64))
        for key in keys:
            h = splitmix64(h ^ key.cast(pl.Int64).to_numpy().astype(np.uint64))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def assign_splits(examples: pl.DataFrame, seed: int, valid_fraction: float, test_fraction: float) -> pl.DataFrame:
    """Add a ``split`` column: ``test`` below ``test_fraction``, then ``valid``, else ``train``, per thread."""
    u = pl.Series(uniform([examples["source"], examples["thread"]], seed))
    split = (
        pl.when(u < test_fraction)
        .then(pl.lit("test"))
        .when(u < test_fraction + valid_fraction)
        .then(pl.lit("valid"))
        .otherwise(pl.lit("train"))
    )
    return examples.with_columns(split=split)


def cap_examples(examples: pl.DataFrame, max_examples: int | None, seed: int) -> pl.DataFrame:
    """At most ``max_examples`` examples, a deterministic random sample of them (all when ``None``)."""
    if max_examples is None or examples.height <= max_examples:
        return examples
    order = uniform([examples["source"], examples["conversation"], examples["window"]], seed + 1)
    keep = np.argsort(order, kind="stable")[:max_examples]
    return examples[np.sort(keep)]
