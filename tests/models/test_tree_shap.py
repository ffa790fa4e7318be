"""TreeTables: LightGBM's own TreeSHAP (`pred_contrib=True`), from tables of the leaves."""

from concurrent.futures import ThreadPoolExecutor
from itertools import combinations
from math import factorial

import lightgbm as lgb
import numpy as np
import pytest

from models.tree_shap import TreeTables, shapley_of_product


def _booster(seed: int, rows: int = 1500, **params) -> tuple[lgb.Booster, np.ndarray]:
    """A small binary model on numeric and categorical columns with missing values and zeros;
    its inputs as a matrix (categorical codes as floats, as LightGBM reads them)."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(rows, 4))
    numbers[rng.random(numbers.shape) < 0.15] = np.nan
    numbers[rng.random(numbers.shape) < 0.1] = 0.0
    codes = rng.integers(0, 7, size=(rows, 2)).astype(np.float64)
    codes[rng.random(codes.shape) < 0.1] = np.nan
    matrix = np.hstack([numbers, codes])
    signal = (
        np.nan_to_num(numbers[:, 0])
        + (np.nan_to_num(codes[:, 0]) % 3 == 1)
        - 0.5 * np.isnan(numbers[:, 1])
    )
    label = (signal + rng.normal(scale=0.7, size=rows) > 0.4).astype(int)
    data = lgb.Dataset(matrix, label, categorical_feature=[4, 5], free_raw_data=False)
    settings = {
        "objective": "binary",
        "num_leaves": 15,
        "min_data_in_leaf": 10,
        "verbose": -1,
        "seed": seed,
    }
    return lgb.train(settings | params, data, num_boost_round=25), matrix


def _awkward_rows(matrix: np.ndarray, seed: int) -> np.ndarray:
    """Rows that test every way a split decides: missing values, zeros, tiny values, exact
    thresholds, unseen and negative category codes, fractional codes."""
    rng = np.random.default_rng(seed)
    rows = matrix[rng.integers(0, len(matrix), 400)].copy()
    rows[:40, :4] = 0.0
    rows[40:80, :4] = 1e-40
    rows[80:120] = np.nan
    rows[120:140, 4:] = 9.0  # a category never seen
    rows[140:160, 4:] = -1.0
    rows[160:180, 4:] = 2.5
    return rows


def _thresholds(booster: lgb.Booster) -> list[tuple[int, float]]:
    found = []

    def walk(node: dict) -> None:
        if "split_index" in node:
            if node["decision_type"] == "<=":
                found.append((node["split_feature"], float(node["threshold"])))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return found


@pytest.mark.parametrize(
    "params",
    [
        {},  # missing values learnt: missing type NaN
        {"zero_as_missing": True},  # missing type Zero
        {"use_missing": False},  # missing type None: a missing value counts as 0
        {"max_depth": 3, "num_leaves": 8, "learning_rate": 0.3},
    ],
    ids=["nan", "zero", "none", "shallow"],
)
def test_tables_give_lightgbms_contributions(params):
    booster, matrix = _booster(seed=7, **params)
    rows = _awkward_rows(matrix, seed=1)
    for place, (feature, threshold) in enumerate(_thresholds(booster)[:200]):
        rows[place % len(rows), feature] = threshold  # exactly on a split: goes left
    tables = TreeTables.of(booster)

    explained = tables.explain(rows)

    np.testing.assert_allclose(
        explained, booster.predict(rows, pred_contrib=True), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        explained.sum(axis=1), booster.predict(rows, raw_score=True), atol=1e-12
    )


def test_every_batch_size_gives_the_same_rows():
    """Large batches are explained in chunks: no row depends on the others."""
    booster, matrix = _booster(seed=3)
    rows = _awkward_rows(matrix, seed=2)
    tables = TreeTables.of(booster)
    whole = tables.explain(rows)
    for size in (1, 15, 64, 65, 129, 400):
        np.testing.assert_array_equal(tables.explain(rows[:size]), whole[:size])
    assert tables.explain(rows[:0]).shape == (0, matrix.shape[1] + 1)


def test_explanations_at_once_on_many_threads_are_each_their_own():
    """Working arrays are shared between explanations in turn, never at the same time."""
    booster, matrix = _booster(seed=9)
    rows = _awkward_rows(matrix, seed=4)
    tables = TreeTables.of(booster)
    batches = [rows[i : i + 30 + 7 * i] for i in range(16)]
    alone = [tables.explain(batch) for batch in batches]

    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(tables.explain, batches * 4))

    for i, explained in enumerate(together):
        np.testing.assert_array_equal(explained, alone[i % len(batches)])


def test_best_iteration_is_what_the_tables_hold():
    booster, matrix = _booster(seed=5)
    booster.best_iteration = 10  # as early stopping leaves it: predict uses the first 10 trees
    rows = _awkward_rows(matrix, seed=3)

    explained = TreeTables.of(booster).explain(rows)

    np.testing.assert_allclose(explained, booster.predict(rows, pred_contrib=True), atol=1e-12)
    assert not np.allclose(explained, booster.predict(rows, pred_contrib=True, num_iteration=-1))


def test_what_the_tables_do_not_cover_is_said():
    booster, _ = _booster(seed=11, max_depth=-1, num_leaves=31, min_data_in_leaf=2)
    deepest = max(_depths(booster))
    assert TreeTables.of(booster, max_path_splits=deepest) is not None
    assert TreeTables.of(booster, max_path_splits=deepest - 1) is None
    rng = np.random.default_rng(0)
    multiclass = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1},
        lgb.Dataset(rng.normal(size=(300, 3)), rng.integers(0, 3, 300)),
        num_boost_round=3,
    )
    assert TreeTables.of(multiclass) is None
    linear = lgb.train(
        {"objective": "binary", "linear_tree": True, "verbose": -1},
        lgb.Dataset(rng.normal(size=(300, 3)), rng.integers(0, 2, 300)),
        num_boost_round=3,
    )
    assert TreeTables.of(linear) is None


def _depths(booster: lgb.Booster) -> list[int]:
    def walk(node: dict, depth: int) -> list[int]:
        if "split_index" not in node:
            return [depth]
        return walk(node["left_child"], depth + 1) + walk(node["right_child"], depth + 1)

    return [
        d for tree in booster.dump_model()["tree_info"] for d in walk(tree["tree_structure"], 0)
    ]


def test_shapley_of_a_product_game_matches_the_definition():
    """Against the Shapley formula summed over every coalition, for every pattern of agreement."""
    rng = np.random.default_rng(4)
    value, zero = 1.7, rng.uniform(0.05, 0.95, size=4)
    agree = ((np.arange(16)[:, None] >> np.arange(4)) & 1).astype(np.float64)

    def game(pattern: np.ndarray, known: set[int]) -> float:
        return value * np.prod([pattern[u] if u in known else zero[u] for u in range(4)])

    expected = np.zeros((16, 4))
    for p, pattern in enumerate(agree):
        for i in range(4):
            others = [u for u in range(4) if u != i]
            for size in range(4):
                weight = factorial(size) * factorial(3 - size) / factorial(4)
                for known in combinations(others, size):
                    expected[p, i] += weight * (
                        game(pattern, {*known, i}) - game(pattern, set(known))
                    )

    np.testing.assert_allclose(shapley_of_product(value, agree, zero), expected, atol=1e-14)
