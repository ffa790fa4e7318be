"""Exact TreeSHAP of a LightGBM booster from per-leaf tables: what `pred_contrib=True` gives, faster.

Path-dependent TreeSHAP (LightGBM's `pred_contrib`) is a sum over the trees' leaves. A leaf with
value v and the distinct features U on its path plays a game of its own: with the features S
known, it is worth

    v × Π_{u in S} o_u(x) × Π_{u in U \\ S} z_u

where o_u(x) is 1 when x takes the leaf's side at every split on u along the path, and z_u is the
share of the training rows that went that way (the product of child / parent counts). A row
reaches a leaf's Shapley values only through which of the path's splits it takes the leaf's way,
so the values of every such pattern are worked out once, when the model is loaded (the idea of
Fast TreeSHAP v2, Yang 2021). Explaining a batch is then the split decisions, one pattern number
per leaf (a sparse product), a table look-up and a sum per feature, on one thread: on the
sample's model ~1.8x faster than LightGBM's on both cores for 100 rows with cold caches, ~2.1x
for 800 (benchmarks/explain.py). A booster with a path longer than `max_path_splits` is left to
LightGBM (`TreeTables.of` returns None).

Splits are decided as LightGBM decides them (tree.h NumericalDecision, CategoricalDecision): a
missing value takes the default side when the split's missing type is NaN and counts as 0
otherwise; a zero takes the default side when the missing type is Zero (and, as LightGBM reads
its inputs, a value within its kZeroThreshold, ~1e-35, of 0 is 0); a categorical value goes
left when its integer part is one of the split's categories (missing and negative values go right).
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue

import lightgbm as lgb
import numpy as np
import scipy.sparse as sparse

MAX_PATH_SPLITS = 14  # a leaf's table has 2^splits rows; trees this deep are LightGBM's to explain
CHUNK_ROWS = 64  # rows explained together: their working arrays (~8 MB) stay in the caches
_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float: 1.0000000180025095e-35)


@dataclass(frozen=True)
class _Splits:
    """Every internal node of the booster, numbered across its trees.

    A missing value (and, where the missing type is Zero, a zero) is replaced by a number that
    goes where LightGBM sends it: -inf to the left, +inf to the right, 0 when it counts as 0."""

    feature: np.ndarray  # int64
    threshold: np.ndarray  # float64; NaN for categorical splits
    missing: np.ndarray  # float64: what a missing value becomes (NaN for categorical splits)
    zero_default: np.ndarray  # the splits of missing type Zero
    categorical: np.ndarray  # the categorical splits' numbers
    categories: np.ndarray  # bool (categorical splits × codes): which codes go left

    def goes_left(self, matrix: np.ndarray, scratch: _Scratch) -> np.ndarray:
        """Rows × splits, as float64 0/1 (in `scratch`): whether each row goes left at each split."""
        rows = len(matrix)
        matrix = np.where(np.abs(matrix) <= _ZERO, 0.0, matrix)  # LightGBM reads these as 0
        value = scratch.value[:rows]
        np.take(matrix, self.feature, axis=1, out=value, mode="clip")
        missing = scratch.missing[:rows]
        np.isnan(value, out=missing)
        np.copyto(value, self.missing, where=missing)
        if len(self.zero_default):
            zeros = value[:, self.zero_default]
            taken = np.abs(zeros) <= _ZERO
            value[:, self.zero_default] = np.where(taken, self.missing[self.zero_default], zeros)
        left = scratch.left[:rows]
        with np.errstate(invalid="ignore"):
            np.less_equal(value, self.threshold, out=left)
        if len(self.categorical):
            code = np.trunc(value[:, self.categorical])
            known = ~np.isnan(code) & (code >= 0) & (code < self.categories.shape[1])
            code = np.where(known, code, 0).astype(np.int64)
            places = np.arange(len(self.categorical))
            left[:, self.categorical] = known & self.categories[places, code]
        number = scratch.number[:rows]
        np.copyto(number, left)
        return number


@dataclass(frozen=True)
class _Scratch:
    """The working arrays of one explanation of up to CHUNK_ROWS rows, kept for the next one: fresh
    ones each time cost page faults, and grew the heap of a service explaining on 8 threads by
    ~100 MB (glibc keeps what it frees, per thread)."""

    value: np.ndarray  # rows × splits: the split's feature value
    missing: np.ndarray  # ... whether it is missing
    left: np.ndarray  # ... whether the row goes left
    number: np.ndarray  # ... the same as 0.0 / 1.0
    rows: np.ndarray  # rows × leaves: where the row's table row starts
    places: np.ndarray  # rows × slots: where each slot's value is
    values: np.ndarray  # ... and the value

    @classmethod
    def of(cls, splits: int, leaves: int, slots: int) -> _Scratch:
        n = CHUNK_ROWS
        return cls(
            value=np.empty((n, splits)),
            missing=np.empty((n, splits), dtype=bool),
            left=np.empty((n, splits), dtype=bool),
            number=np.empty((n, splits)),
            rows=np.empty((n, leaves), dtype=np.int64),
            places=np.empty((n, slots), dtype=np.int64),
            values=np.empty((n, slots)),
        )


@dataclass(frozen=True)
class TreeTables:
    """A booster's TreeSHAP as tables: `explain(matrix)` is `predict(matrix, pred_contrib=True)`.

    A leaf's pattern number has bit k set when a row takes the leaf's way at the k-th split of its
    path; the leaf's table row for that pattern holds the Shapley value of each distinct feature
    of the path. A slot is one such (leaf, feature) place.
    """

    n_features: int
    splits: _Splits
    patterns: sparse.csr_matrix  # splits × leaves: goes_left @ patterns + start = table offsets
    start: np.ndarray  # per leaf: where the table row of a row going right everywhere starts
    slot_leaf: np.ndarray  # per slot, slots in feature order: its leaf
    slot_place: np.ndarray  # ... and its place in the leaf's table row
    features: np.ndarray  # the features that have slots
    feature_ends: np.ndarray  # where each one's slots end (in that order)
    table: np.ndarray  # float64, flat: each leaf's rows of Shapley values, one per pattern
    bias: float  # the expected value: Σ over trees of Σ leaf value × share of rows
    scratch: SimpleQueue = field(default_factory=SimpleQueue, repr=False, compare=False)
    turns: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(_cores()), repr=False, compare=False
    )

    @classmethod
    def of(cls, booster: lgb.Booster, max_path_splits: int = MAX_PATH_SPLITS) -> TreeTables | None:
        """The tables of `booster` (the trees `predict` uses: up to its best iteration when it has
        one), or None for what they do not cover: several outputs a row, linear leaves, or a path
        longer than `max_path_splits`."""
        model = booster.dump_model()
        if model.get("num_tree_per_iteration", 1) != 1:
            return None
        reader = _Reader(max_path_splits)
        for tree in model["tree_info"]:
            if not reader.read(tree["tree_structure"]):
                return None
        return reader.tables(int(model["max_feature_idx"]) + 1)

    def explain(self, matrix: np.ndarray) -> np.ndarray:
        """Contributions of every feature and the bias last (rows × (features + 1)), as LightGBM's
        `predict(matrix, pred_contrib=True)` gives them, to rounding (~1e-15).

        On one thread, CHUNK_ROWS rows at a time: spread over both cores of a 2-core machine, the
        chunks made a ranking pass slower, not faster (800 rows: 28 ms against 26), and one
        thread leaves the other core to the rest of the service."""
        matrix = np.asarray(matrix, dtype=np.float64)
        if len(matrix) <= CHUNK_ROWS:
            return self._explain(matrix)
        return np.concatenate(
            [self._explain(matrix[i : i + CHUNK_ROWS]) for i in range(0, len(matrix), CHUNK_ROWS)]
        )

    def _explain(self, matrix: np.ndarray) -> np.ndarray:
        out = np.zeros((len(matrix), self.n_features + 1))
        out[:, -1] = self.bias
        if len(matrix) == 0 or len(self.start) == 0:
            return out
        with self.turns:  # one explanation a core at a time: more would only hold more memory
            try:
                scratch = self.scratch.get_nowait()
            except Empty:
                scratch = _Scratch.of(
                    len(self.splits.feature), len(self.start), len(self.slot_leaf)
                )
            try:
                self._explain_into(out, matrix, scratch)
            finally:
                self.scratch.put(scratch)
        return out

    def _explain_into(self, out: np.ndarray, matrix: np.ndarray, scratch: _Scratch) -> None:
        n = len(matrix)
        rows, places, values = scratch.rows[:n], scratch.places[:n], scratch.values[:n]
        np.copyto(rows, self.splits.goes_left(matrix, scratch) @ self.patterns, casting="unsafe")
        np.add(rows, self.start, out=rows)
        np.take(rows, self.slot_leaf, axis=1, out=places, mode="clip")
        np.add(places, self.slot_place, out=places)
        np.take(self.table, places, out=values, mode="clip")
        begin = 0
        for feature, end in zip(self.features.tolist(), self.feature_ends.tolist(), strict=True):
            out[:, feature] = values[:, begin:end].sum(axis=1)
            begin = end


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class _Reader:
    """Walks the dumped trees: numbers the splits and keeps each leaf's path."""

    def __init__(self, max_path_splits: int) -> None:
        self.max_path_splits = max_path_splits
        self.splits: list[tuple[int, float, bool, str, list[int] | None]] = []
        self.leaves: list[tuple[float, list[tuple[int, bool, int, float]]]] = []  # value, path
        self.bias = 0.0

    def read(self, root: dict) -> bool:
        """Adds one tree; False when it holds what the tables do not cover."""
        total = float(_count(root))
        stack: list[tuple[dict, list[tuple[int, bool, int, float]]]] = [(root, [])]
        while stack:
            node, path = stack.pop()
            if "split_index" not in node:
                if "leaf_coeff" in node or len(path) > self.max_path_splits:
                    return False
                value = float(node["leaf_value"])
                self.bias += value * (_count(node) / total if total else 1.0)
                if path:
                    self.leaves.append((value, path))
                continue
            split, count = self._add_split(node), float(_count(node))
            for child, left in ((node["left_child"], True), (node["right_child"], False)):
                share = _count(child) / count if count else 0.0
                stack.append((child, [*path, (split, left, int(node["split_feature"]), share)]))
        return True

    def _add_split(self, node: dict) -> int:
        categorical = node["decision_type"] == "=="
        self.splits.append(
            (
                int(node["split_feature"]),
                float("nan") if categorical else float(node["threshold"]),
                bool(node["default_left"]),
                str(node["missing_type"]),
                [int(c) for c in str(node["threshold"]).split("||")] if categorical else None,
            )
        )
        return len(self.splits) - 1

    def tables(self, n_features: int) -> TreeTables:
        tables, start, weights, slots = [], [], [], []
        rows = 0  # values so far
        for leaf, (value, path) in enumerate(self.leaves):
            features = list(dict.fromkeys(feature for _, _, feature, _ in path))
            width = len(features)
            tables.append(leaf_table(value, path, features).ravel())
            # bit k counts when the k-th split is taken the leaf's way: left, or right (1 − left)
            right = sum(1 << k for k, (_, left, _, _) in enumerate(path) if not left)
            start.append(rows + right * width)
            rows += tables[-1].size
            for k, (split, left, _, _) in enumerate(path):
                weights.append((split, leaf, (1 if left else -1) * (1 << k) * width))
            slots += [(feature, leaf, place) for place, feature in enumerate(features)]
        split, leaf, weight = _columns(weights, 3)
        slot_feature, slot_leaf, slot_place = _columns(sorted(slots), 3)
        features, counts = np.unique(slot_feature, return_counts=True)
        return TreeTables(
            n_features=n_features,
            splits=self._split_arrays(),
            patterns=sparse.csr_matrix(
                (weight.astype(np.float64), (split, leaf)),
                shape=(len(self.splits), len(self.leaves)),
            ),
            start=np.array(start, dtype=np.int64),
            slot_leaf=slot_leaf,
            slot_place=slot_place,
            features=features,
            feature_ends=np.cumsum(counts),
            table=np.concatenate(tables) if tables else np.zeros(0),
            bias=self.bias,
        )

    def _split_arrays(self) -> _Splits:
        feature, threshold, default_left, missing, categories = (
            (list(column) for column in zip(*self.splits, strict=True))
            if self.splits
            else ([],) * 5
        )
        default_left, missing = np.array(default_left, dtype=bool), np.array(missing, dtype=object)
        categorical = [i for i, c in enumerate(categories) if c is not None]
        goes = np.zeros(
            (len(categorical), 1 + max((max(categories[i]) for i in categorical), default=0)),
            dtype=bool,
        )
        for place, i in enumerate(categorical):
            goes[place, categories[i]] = True
        default = np.where(default_left, -np.inf, np.inf)
        missing_value = np.select([missing == "None", missing == "NaN"], [0.0, default], default)
        missing_value[categorical] = np.nan
        return _Splits(
            feature=np.array(feature, dtype=np.int64),
            threshold=np.array(threshold, dtype=np.float64),
            missing=missing_value.astype(np.float64),
            zero_default=np.flatnonzero((missing == "Zero") & ~np.isnan(missing_value)),
            categorical=np.array(categorical, dtype=np.int64),
            categories=goes,
        )


def _count(node: dict) -> int:
    return node.get("internal_count", node.get("leaf_count", 0))


def _columns(rows: list[tuple[int, ...]], n: int) -> np.ndarray:
    """The n columns of a list of n-tuples of integers, as int64 arrays (empty when no rows)."""
    return np.array(rows, dtype=np.int64).reshape(len(rows), n).T


def leaf_table(
    value: float, path: list[tuple[int, bool, int, float]], features: list[int]
) -> np.ndarray:
    """One leaf's Shapley values (2^splits patterns × its distinct features, in `features` order);
    pattern bit k is set when a row takes the leaf's way at the k-th split of `path`
    ((split, left, feature, share of the parent's rows) per split)."""
    patterns = np.arange(2 ** len(path))
    agree = np.ones((len(patterns), len(features)), dtype=bool)  # o_u: every split on u taken
    zero = np.ones(len(features))  # z_u: the product of the shares along u's splits
    for k, (_, _, feature, share) in enumerate(path):
        place = features.index(feature)
        agree[:, place] &= ((patterns >> k) & 1).astype(bool)
        zero[place] *= share
    return shapley_of_product(value, agree.astype(np.float64), zero)


def shapley_of_product(value: float, agree: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """Shapley values of the game S ↦ v Π_{u in S} o_u Π_{u not in S} z_u, per row of `agree` (o).

    Feature i is worth v (o_i − z_i) Σ_k k!(D−1−k)!/D! c_k, where c_k sums Π_{j not in S} z_j over
    the sets S of k other features with o_j = 1: c is the coefficients of Π_{j≠i} (z_j + o_j t).
    """
    width = len(zero)
    weight = np.array(
        [
            math.factorial(k) * math.factorial(width - 1 - k) / math.factorial(width)
            for k in range(width)
        ]
    )
    out = np.empty(agree.shape)
    for i in range(width):
        coefficients = np.zeros(agree.shape)
        coefficients[:, 0] = 1.0
        for j in range(width):
            if j != i:
                raised = np.zeros_like(coefficients)
                raised[:, 1:] = coefficients[:, :-1] * agree[:, j : j + 1]
                coefficients = coefficients * zero[j] + raised
        out[:, i] = value * (agree[:, i] - zero[i]) * (coefficients @ weight)
    return out
