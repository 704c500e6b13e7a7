"""Leaderboard ranking: by a metric or mean / median of ranks, ties share a rank, best or latest per team."""

from __future__ import annotations

from lai.portal.leaderboard import Entry, competition_rank, leaderboard


def entry(team: str, sid: int, **metrics: float | None) -> Entry:
    return Entry(team=team, submission_id=sid, created_at=f"2026-01-01T00:00:{sid:02d}", metrics=metrics)


def test_ties_share_the_lowest_rank_and_the_next_rank_skips() -> None:
    assert competition_rank([0.9, 0.8, 0.9, 0.7], lower_is_better=False).tolist() == [1, 3, 1, 4]


def test_missing_metric_ranks_last() -> None:
    assert competition_rank([None, 0.2, 0.1], lower_is_better=True).tolist() == [3, 2, 1]


def test_ranking_by_auc_keeps_each_teams_best_entry() -> None:
    rows = leaderboard(
        [entry("A", 1, auc=0.70), entry("A", 2, auc=0.80), entry("B", 3, auc=0.80), entry("C", 4, auc=0.60)],
        ["auc"],
        "auc",
        "best",
    )
    assert [(r.rank, r.entry.team, r.entry.submission_id) for r in rows] == [
        (1, "A", 2),
        (1, "B", 3),
        (3, "C", 4),
    ]


def test_latest_per_team_takes_the_most_recent_even_if_worse() -> None:
    rows = leaderboard(
        [entry("A", 1, auc=0.9), entry("A", 2, auc=0.5), entry("B", 3, auc=0.7)], ["auc"], "auc", "latest"
    )
    assert [(r.rank, r.entry.team, r.entry.submission_id) for r in rows] == [(1, "B", 3), (2, "A", 2)]


def test_brier_ranks_lower_first() -> None:
    rows = leaderboard([entry("A", 1, brier=0.2), entry("B", 2, brier=0.1)], ["brier"], "brier")
    assert [r.entry.team for r in rows] == ["B", "A"]


def test_mean_and_median_of_per_metric_ranks() -> None:
    # ranks per metric (auc, kappa, brier):  A 1,3,3  B 2,1,2  C 3,2,1  -> means 2.33, 1.67, 2.0; medians 3, 2, 2
    entries = [
        entry("A", 1, auc=0.9, kappa=0.1, brier=0.30),
        entry("B", 2, auc=0.8, kappa=0.5, brier=0.20),
        entry("C", 3, auc=0.7, kappa=0.3, brier=0.10),
    ]
    mean = leaderboard(entries, ["auc", "kappa", "brier"], "mean_rank")
    assert [(r.rank, r.entry.team, r.score) for r in mean] == [
        (1, "B", 1.667),
        (2, "C", 2.0),
        (3, "A", 2.333),
    ]
    median = leaderboard(entries, ["auc", "kappa", "brier"], "median_rank")
    assert [(r.rank, r.entry.team, r.score) for r in median] == [(1, "B", 2.0), (1, "C", 2.0), (3, "A", 3.0)]


def test_empty_phase_has_an_empty_board() -> None:
    assert leaderboard([], ["auc"], "auc") == []
