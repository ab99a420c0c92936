"""Rebuild conversations from reply links: trees of tweets, one conversation per root-to-leaf path.

Rows of ``twcs.csv`` come in no useful order and a tweet may have several replies, so a thread is a tree.
Every tweet is given a dense position and its parent's position (one join); after that all tree work is
numpy gathers over whole arrays: pointer doubling finds each tweet's root (and reply cycles, which never
reach one), walking every leaf up to its root, one level per step, lists the paths, and a turn starts
where the side changes along a path, so consecutive tweets of one side are one turn (a brand's ``1/2``
``2/2``, a customer's double tweet). An agent turn shared by several paths is trained in one of them (the
lowest leaf id) and carries ``weight: 0`` in the others.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

from caretune.data.read_twcs import OnBadRows, fail_at_record

REPLY_TO_ABSENT = "replies to tweets absent from the input (treated as thread starts)"
REPLY_CYCLE = "reply cycle"


def build_turns(
    tweets: pl.DataFrame, paths: list[Path], on_bad_rows: OnBadRows, counts: Counter[str], bad_rows: Counter[str]
) -> pl.DataFrame:
    """Turns of every root-to-leaf conversation: ``thread, conversation, turn, role, content, weight, brand``."""
    parent = _parent_positions(tweets, counts)
    root = _roots(parent)
    in_cycle = parent[root] >= 0
    if in_cycle.any():
        tweets, parent, root = _drop_cycles(tweets, parent, in_cycle, paths, on_bad_rows, bad_rows)
    leaf, node = _walk_paths(parent)
    turns = _merge_turns(leaf, node, root, tweets)
    return _with_weights(turns, tweets, np.bincount(node, minlength=parent.size))


def _parent_positions(tweets: pl.DataFrame, counts: Counter[str]) -> np.ndarray:
    """Row position of each tweet's parent, -1 for a thread start or a parent absent from the input."""
    positions = tweets.select("id", pl.int_range(pl.len(), dtype=pl.Int64).alias("pos"))
    joined = tweets.select("parent").join(positions, left_on="parent", right_on="id", how="left", maintain_order="left")
    counts[REPLY_TO_ABSENT] += joined.filter(pl.col("parent").is_not_null() & pl.col("pos").is_null()).height
    return joined["pos"].fill_null(-1).to_numpy()


def _roots(parent: np.ndarray) -> np.ndarray:
    """Each tweet's root position by pointer doubling; a tweet in or below a cycle ends on a non-root."""
    index = np.arange(parent.size)
    jump = np.where(parent < 0, index, parent)
    for _ in range(int(np.log2(parent.size + 1)) + 2):
        further = jump[jump]
        if np.array_equal(further, jump):
            break
        jump = further
    return jump


def _drop_cycles(
    tweets: pl.DataFrame,
    parent: np.ndarray,
    in_cycle: np.ndarray,
    paths: list[Path],
    on_bad_rows: OnBadRows,
    bad_rows: Counter[str],
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """A reply cycle is bad input: raise naming a tweet of it, or drop those tweets and recompute positions."""
    if on_bad_rows == "error":
        first = tweets.filter(pl.Series(in_cycle)).row(0, named=True)
        reason = f"{REPLY_CYCLE}: tweet {first['id']} replies, through its parents, to itself or to a cycle"
        fail_at_record(paths[first["source"]], first["record"], reason, "in_response_to_tweet_id")
    bad_rows[REPLY_CYCLE] += int(in_cycle.sum())
    kept = tweets.filter(~pl.Series(in_cycle))
    parent = _parent_positions(kept, Counter())
    return kept, parent, _roots(parent)


def _walk_paths(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(leaf, node)`` for every tweet on every root-to-leaf path, grouped by leaf, root first.

    Leaves climb to their roots one level per step; each step's nodes are scattered straight to their final
    place (path offset + depth), so no sort is needed.
    """
    has_child = np.zeros(parent.size, dtype=bool)
    has_child[parent[parent >= 0]] = True
    leaves = np.flatnonzero(~has_child)
    levels = []
    which, node = np.arange(leaves.size), leaves
    while node.size:
        levels.append((which, node))
        up = parent[node]
        keep = up >= 0
        which, node = which[keep], up[keep]
    length = np.bincount(np.concatenate([w for w, _ in levels]), minlength=leaves.size)
    offset = np.cumsum(length) - length
    ordered = np.empty(int(length.sum()), dtype=np.int64)
    for step, (which, node) in enumerate(levels):
        ordered[offset[which] + length[which] - 1 - step] = node
    return np.repeat(leaves, length), ordered


def _merge_turns(leaf: np.ndarray, node: np.ndarray, root: np.ndarray, tweets: pl.DataFrame) -> pl.DataFrame:
    """One row per turn of each path, root first: consecutive tweets of one side joined with a space."""
    inbound = tweets.get_column("inbound").to_numpy()[node]
    starts = np.ones(node.size, dtype=bool)
    starts[1:] = (leaf[1:] != leaf[:-1]) | (inbound[1:] != inbound[:-1])
    head = np.flatnonzero(starts)
    tail = np.append(head[1:], node.size) - 1
    turn_leaf = leaf[head]
    new_path = np.ones(head.size, dtype=bool)
    new_path[1:] = turn_leaf[1:] != turn_leaf[:-1]
    ids = tweets.get_column("id")
    index = np.arange(head.size)
    return pl.DataFrame(
        {
            "thread": ids.gather(root[turn_leaf]),
            "conversation": ids.gather(turn_leaf),
            "turn": (index - np.maximum.accumulate(np.where(new_path, index, 0))).astype(np.int32),
            "inbound": inbound[head],
            "content": _turn_texts(tweets.get_column("text"), node, starts, head, tail),
            "head": node[head],
            "tail": node[tail],
            "path_start": new_path,
        }
    )


def _turn_texts(text: pl.Series, node: np.ndarray, starts: np.ndarray, head: np.ndarray, tail: np.ndarray) -> pl.Series:
    """Each turn's text: its tweet's, or its tweets' joined with spaces (only those few are grouped)."""
    content = text.gather(node[head])
    turn_of_row = np.cumsum(starts) - 1
    multi = np.flatnonzero((tail - head)[turn_of_row] > 0)
    if multi.size == 0:
        return content
    joined = (
        pl.DataFrame({"turn": turn_of_row[multi], "text": text.gather(node[multi])})
        .group_by("turn", maintain_order=True)
        .agg(pl.col("text").str.join(" "))
    )
    return content.scatter(joined["turn"], joined["text"])


def _with_weights(turns: pl.DataFrame, tweets: pl.DataFrame, paths_through: np.ndarray) -> pl.DataFrame:
    """``weight`` 1 on an agent turn in the first path (lowest leaf id) that holds it, 0 in the others.

    Only turns starting on a tweet that several paths share need the comparison. The conversation's brand
    is the author of its first agent turn.
    """
    agent = ~turns.get_column("inbound").to_numpy()
    shared = agent & (paths_through[turns.get_column("head").to_numpy()] > 1)
    owner = pl.col("conversation").min().over(["head", "tail"])
    owned = turns.filter(pl.Series(shared)).select((pl.col("conversation") == owner).cast(pl.Int8)).to_series()
    weight = np.where(agent, 1, -1).astype(np.int8)
    weight[shared] = owned.to_numpy()
    return turns.select(
        pl.lit(0, dtype=pl.UInt16).alias("source"),
        "thread",
        "conversation",
        "turn",
        pl.when(pl.col("inbound")).then(pl.lit("user")).otherwise(pl.lit("assistant")).alias("role"),
        "content",
        pl.Series("weight", weight).replace(-1, None),
        _brands(turns, tweets.get_column("author"), agent).alias("brand"),
    )


def _brands(turns: pl.DataFrame, author: pl.Series, agent: np.ndarray) -> pl.Series:
    """Per turn, the author of its conversation's first agent turn (null when it has none)."""
    n = turns.height
    if n == 0:
        return pl.Series([], dtype=pl.String)
    path_start = np.flatnonzero(turns.get_column("path_start").to_numpy())
    first_agent = np.minimum.reduceat(np.where(agent, np.arange(n), n), path_start)
    turns_per_path = np.diff(np.append(path_start, n))
    heads = turns.get_column("head").to_numpy()
    brand_tweet = np.repeat(np.where(first_agent < n, heads[np.minimum(first_agent, n - 1)], -1), turns_per_path)
    brands = author.gather(np.maximum(brand_tweet, 0))
    return brands.set(pl.Series(brand_tweet < 0), None)
