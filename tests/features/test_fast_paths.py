"""The feature job's fast paths give exactly what the straightforward computation gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.event_index import NO_KEY, SORTED_SEARCH_MIN, EventIndex
from features.journey_state import MEASURES, JourneyState, sum_over_segments
from features.labels import _worst_pairs
from features.vocabulary import Vocabulary

RNG = np.random.default_rng(20261101)


@pytest.mark.parametrize("segments", range(1, 10))
def test_sum_over_segments_is_numpys_sum_bit_for_bit(segments: int) -> None:
    values = RNG.standard_normal((5000, 4, segments)) * 10.0 ** RNG.integers(
        -3, 9, (5000, 4, segments)
    )
    view = values[:, 1, :]  # strided, as JourneyState.sums hands it out
    assert np.array_equal(sum_over_segments(view), view.sum(axis=1))


def _naive_slot(keys, times, qkey, qtime, inclusive=False):
    before = times <= qtime if inclusive else times < qtime
    return np.count_nonzero((keys == qkey) & before)


def test_event_index_answers_like_a_scan() -> None:
    n_events, n_queries = (
        3000,
        SORTED_SEARCH_MIN + 500,
    )  # enough queries to take the sorted-search path
    keys = RNG.integers(-1, 40, n_events)
    times = RNG.integers(0, 500, n_events)  # many ties
    values = RNG.random(n_events)
    index = EventIndex.build(keys, times, {"v": values})
    qkeys = RNG.integers(-1, 45, n_queries)  # includes keys never seen and NO_KEY
    qstart = RNG.integers(-10, 510, n_queries)
    qend = qstart + RNG.integers(0, 100, n_queries)

    counts = index.count_between(qkeys, qstart, qend)
    last, where = index.last_before(qkeys, qend)
    sums = index.sum_before("v", qkeys, qend, inclusive=True)
    valid = keys != NO_KEY
    for i in range(0, n_queries, 7):
        k = qkeys[i]
        mine = valid & (keys == k)
        expected_count = (
            0
            if k == NO_KEY
            else _naive_slot(keys, times, k, qend[i]) - _naive_slot(keys, times, k, qstart[i])
        )
        assert counts[i] == expected_count
        earlier = mine & (times < qend[i])
        assert last[i] == (times[earlier].max() if earlier.any() and k != NO_KEY else -1)
        if last[i] >= 0:
            assert times[where[i]] == last[i] and keys[where[i]] == k
        upto = mine & (times <= qend[i])
        assert sums[i] == pytest.approx(
            values[upto].sum() if k != NO_KEY else 0.0, rel=1e-12, abs=1e-12
        )


def test_journey_state_sums_read_the_same_from_either_layout() -> None:
    measures, stages, segments, windows = len(MEASURES), 4, 3, 50
    stored = np.cumsum(RNG.random((stages, windows + 1, measures, segments)), axis=1)
    fast = JourneyState(
        0, 60, ("a", "b", "c"), stored.transpose(2, 0, 3, 1), np.zeros((stages, windows + 1))
    )
    plain = JourneyState(
        0, 60, ("a", "b", "c"), np.ascontiguousarray(fast.prefix), fast.windows_with_data
    )
    stage = RNG.integers(0, stages, 400)
    k_lo = RNG.integers(0, windows + 1, 400)
    k_hi = np.maximum(k_lo, RNG.integers(0, windows + 1, 400))
    a, b = fast.sums(stage, k_lo, k_hi), plain.sums(stage, k_lo, k_hi)
    assert list(a) == list(b)
    for name in a:
        assert np.array_equal(a[name], b[name])


def test_vocabulary_codes_match_a_direct_lookup() -> None:
    vocabulary = Vocabulary.of(["checkout", "payments", "search"])
    values = pd.Series(["payments", "unknown", "search", "payments", "checkout"], dtype="str")
    assert vocabulary.codes(values).tolist() == [1, -1, 2, 1, 0]
    assert vocabulary.codes(np.asarray(values, dtype=object)).tolist() == [1, -1, 2, 1, 0]


def test_worst_pair_is_what_sorting_would_pick() -> None:
    rows = np.sort(RNG.integers(0, 300, 1000))
    z = RNG.integers(-3, 3, 1000).astype(float)  # ties on purpose
    z[RNG.random(1000) < 0.2] = np.nan
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    picked = _worst_pairs(z, starts)
    frame = pd.DataFrame({"row": rows, "z": z, "pair": np.arange(1000)})
    expected = frame.sort_values(["row", "z"], ascending=[True, False]).drop_duplicates("row")[
        "pair"
    ]
    assert picked.tolist() == expected.tolist()
