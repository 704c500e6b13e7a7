"""The validation ladder: named schemes, from optimistic internal splits to external test sets.

Each scheme takes an estimator factory and a FeatureTable, builds patient-grouped train/test splits,
fits a fresh estimator in every split (through ``lai.compute``: cached, resumable, with progress) and keeps
every out-of-split prediction with its split's name (``lai.validation.crossval.run_splits``).

``repeated-split``
    WORC's default (Starmans et al.): ``n_repeats`` random 80/20 splits, stratified by the target and
    grouped by patient. Headline metrics: the mean over splits with the corrected resampled t interval.
``kfold``
    Patient-grouped, stratified k-fold cross-validation, optionally repeated with new shuffles.
``leave-centre-out``
    Each centre in turn is the test set and the model is trained on the other centres only: the estimate
    of how the model transfers to a centre it has never seen.
``temporal``
    Train on the earlier examinations, test on the later ones (study dates): how the model ages.
``external``
    Train on one table, test on another (another centre's or another release's table).

Any scheme can harmonise the features across centres inside its splits (``harmonise="combat"``): ComBat
(Johnson et al. 2007) is fitted on each split's training lesions only, in front of the estimator; see
``lai.validation.crossval.run_splits``.

References
----------
Starmans MPA et al. (2021). Reproducible radiomics through automated machine learning validated on twelve
clinical applications. arXiv:2108.08618 (WORC; 100 x 80/20 random splits).
Steyerberg EW, Harrell FE (2016). Prediction models need appropriate internal, internal-external, and
external validation. J Clin Epidemiol 69:245-247 (leave-centre-out as internal-external validation).
Debray TPA et al. (2015). A new framework to enhance the interpretation of external validation studies of
clinical prediction models. J Clin Epidemiol 68:279-289.
Johnson WE, Li C, Rabinovic A (2007). Adjusting batch effects in microarray expression data using empirical
Bayes methods. Biostatistics 8:118-127.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from lai.data.feature_table import FeatureTable
from lai.data.splits import grouped_train_test_split
from lai.validation.bootstrap import IntervalMethod
from lai.validation.crossval import Harmoniser, Split, ValidationResult, run_splits
from lai.validation.splitters import grouped_stratified_kfold

SCHEME_NAMES: tuple[str, ...] = ("repeated-split", "kfold", "leave-centre-out", "temporal", "external")
"""The validation schemes, from internal to external."""


def repeated_splits(
    labels: Any, groups: Any, *, n_repeats: int = 100, test_fraction: float = 0.2, seed: int = 0
) -> list[Split]:
    """Return ``n_repeats`` random train/test splits, stratified by ``labels`` and grouped by patient.

    Split ``r`` is ``lai.data.splits.grouped_train_test_split`` with seed ``seed + r``: about
    ``test_fraction`` of the lesions in test, whole patients only, the class balance kept on both sides.
    """
    if n_repeats < 2:
        msg = f"repeated-split needs at least 2 repeats for an interval, got {n_repeats}"
        raise ValueError(msg)
    frame = pd.DataFrame(
        {
            "row": np.arange(len(labels)).astype(str),
            "label": np.asarray(labels).astype(str),
            "patient": groups,
        }
    )
    splits = []
    for repeat in range(n_repeats):
        train, test = grouped_train_test_split(
            frame, test_fraction, seed + repeat, stratify="label", group="patient", id_column="row"
        )
        splits.append(
            Split(f"repeat-{repeat:03d}", np.array(train, dtype=np.int64), np.array(test, dtype=np.int64))
        )
    return splits


def kfold_splits(
    labels: Any, groups: Any, *, n_splits: int = 5, n_repeats: int = 1, seed: int = 0
) -> list[Split]:
    """Return ``n_repeats`` rounds of patient-grouped stratified k-fold splits (round ``r`` shuffled by ``seed + r``)."""
    if n_repeats < 1:
        msg = f"kfold needs at least 1 repeat, got {n_repeats}"
        raise ValueError(msg)
    splits = []
    for repeat in range(n_repeats):
        folds = grouped_stratified_kfold(labels, groups, n_splits=n_splits, seed=seed + repeat)
        prefix = f"r{repeat}-" if n_repeats > 1 else ""
        splits += [Split(f"{prefix}fold-{k}", train, test) for k, (train, test) in enumerate(folds)]
    return splits


def leave_centre_out_splits(centres: Any) -> list[Split]:
    """Return one split per centre: that centre's lesions are the test set, every other centre trains.

    Raises
    ------
    ValueError
        With fewer than two centres (nothing would be left to train on).
    """
    values = np.asarray(centres).astype(str)
    names = sorted(set(values))
    if len(names) < 2:
        msg = f"leave-centre-out needs at least 2 centres, the table has {len(names)}: {names}"
        raise ValueError(msg)
    return [
        Split(
            f"centre-{name}",
            np.flatnonzero(values != name),
            np.flatnonzero(values == name),
            held_out=f"centre {name}",
        )
        for name in names
    ]


def temporal_split(dates: Any, groups: Any, *, test_fraction: float = 0.2) -> Split:
    """Return the split that trains on earlier examinations and tests on the later ones.

    Each patient is placed by the date of their first examination. The cut is the latest first-date such
    that the patients from it onwards hold at least ``test_fraction`` of the lesions; those patients are
    the test set. Training lesions of examinations on or after the cut (a training patient's follow-up
    scan) are left out, so every training examination predates every test examination.

    Parameters
    ----------
    dates
        Study date of each lesion's examination (``cases.csv`` ``study_date``), anything
        ``pandas.to_datetime`` reads.
    groups
        Patient id of each lesion.
    test_fraction
        Wanted share of lesions in the test set.
    """
    when = pd.to_datetime(pd.Series(np.asarray(dates)), errors="coerce")
    if when.isna().any():
        bad = pd.Series(np.asarray(dates))[when.isna()].astype(str).unique()[:5].tolist()
        msg = f"temporal: {int(when.isna().sum())} lesion(s) have no readable study_date (e.g. {bad})"
        raise ValueError(msg)
    patients = pd.Series(np.asarray(groups).astype(str))
    first = when.groupby(patients).transform("min")
    cuts = np.sort(first.unique())[::-1]
    cut = None
    for candidate in cuts:
        if (first >= candidate).mean() >= test_fraction:
            cut = candidate
            break
    if cut is None or (first < cut).sum() == 0:
        msg = "temporal: every patient has the same first study date; there is no earlier period to train on"
        raise ValueError(msg)
    test = np.flatnonzero((first >= cut).to_numpy())
    train = np.flatnonzero((when < cut).to_numpy() & (first < cut).to_numpy())
    day = pd.Timestamp(cut).date().isoformat()
    return Split("temporal", train, test, held_out=f"examinations of patients first seen on or after {day}")


def scheme_description(name: str, target: str, **options: Any) -> str:
    """Return the one-sentence description of a scheme the report shows in its methods."""
    grouped = "grouped by patient (all lesions of a patient on the same side)"
    if name == "repeated-split":
        return (
            f"{options['n_repeats']} random train/test splits with {options['test_fraction']:.0%} of the lesions "
            f"in test, stratified by {target} and {grouped}, seeds {options['seed']} onwards"
        )
    if name == "kfold":
        rounds = f", repeated {options['n_repeats']} times" if options["n_repeats"] > 1 else ""
        return (
            f"{options['n_splits']}-fold cross-validation stratified by {target} and {grouped}{rounds}, "
            f"patients shuffled with seed {options['seed']}"
        )
    if name == "leave-centre-out":
        return "leave-centre-out: each centre in turn is the test set; the model never sees it in training"
    if name == "temporal":
        return (
            f"temporal validation: trained on the earlier examinations, tested on the latest "
            f"{options['test_fraction']:.0%} of lesions by study date, {grouped}"
        )
    return f"external validation: trained on {options['train_name']}, tested on {options['test_name']}"


def validate(
    scheme: str,
    make_estimator: Callable[[], Any],
    table: FeatureTable,
    target: str,
    *,
    test_table: FeatureTable | None = None,
    dates: Any = None,
    n_repeats: int | None = None,
    n_splits: int = 5,
    test_fraction: float = 0.2,
    seed: int = 0,
    n_resamples: int = 2000,
    interval: IntervalMethod = "bca",
    importance_repeats: int = 0,
    train_name: str = "the development table",
    test_name: str = "the external table",
    harmonise: Harmoniser | None = None,
    scheduler: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ValidationResult:
    """Return the validation result of ``make_estimator()`` on ``table`` under the named scheme.

    Parameters
    ----------
    scheme
        One of ``SCHEME_NAMES``.
    make_estimator
        A picklable callable returning a fresh, unfitted classifier.
    table
        The development FeatureTable.
    target
        The label column (``malignant``, ``diagnosis``).
    test_table
        ``external`` only: the table tested on (same feature columns).
    dates
        ``temporal`` only: the study date of each lesion of ``table``; by default its ``study_date``
        column. A FeatureTable has none unless added: join ``cases.csv`` on ``case_id``.
    n_repeats
        ``repeated-split``: number of random splits (default 100, WORC's); ``kfold``: rounds (default 1).
    n_splits
        ``kfold``: folds per round.
    test_fraction
        ``repeated-split`` and ``temporal``: share of lesions tested.
    seed
        Seed of the splits, the bootstrap and the permutations.
    n_resamples, interval
        Cluster bootstrap of the pooled predictions.
    importance_repeats
        Permutations per feature group and split (0: no permutation importance).
    train_name, test_name
        ``external``: how the two tables are named in the report.
    harmonise
        ``"combat"``: every split's estimator becomes ``Pipeline([ComBat, estimator])``, ComBat fitted on
        the split's training lesions only and reading their ``centre`` (which the estimator never sees). A
        test centre absent from training (leave-centre-out, external) is harmonised from its own unlabelled
        lesions, and ``result.notes`` records it. ``None`` (default): no harmonisation.
    scheduler, cache_dir
        ``lai.compute`` scheduler and result cache.

    Examples
    --------
    >>> result = validate("leave-centre-out", LogisticRegression, table, "malignant")  # doctest: +SKIP
    >>> result.metrics["auc"]                                                          # doctest: +SKIP
    >>> validate("leave-centre-out", LogisticRegression, table, "malignant", harmonise="combat")  # doctest: +SKIP
    """
    labels = table.target(target).to_numpy()
    groups = table.groups.astype(str).to_numpy()
    if scheme != "external" and test_table is not None:
        msg = f"A test table is used by the external scheme only, not by {scheme!r}"
        raise ValueError(msg)
    repeated = False
    if scheme == "repeated-split":
        n_repeats = 100 if n_repeats is None else n_repeats
        splits = repeated_splits(labels, groups, n_repeats=n_repeats, test_fraction=test_fraction, seed=seed)
        repeated = True
    elif scheme == "kfold":
        n_repeats = 1 if n_repeats is None else n_repeats
        splits = kfold_splits(labels, groups, n_splits=n_splits, n_repeats=n_repeats, seed=seed)
        repeated = n_repeats > 1
    elif scheme == "leave-centre-out":
        splits = leave_centre_out_splits(table.frame["centre"])
    elif scheme == "temporal":
        if dates is None:
            if "study_date" not in table.frame.columns:
                msg = (
                    "The temporal scheme needs study dates: a study_date column in the feature table, or the "
                    "Dataset whose cases.csv has study_date (lai validate --dataset DIR)"
                )
                raise ValueError(msg)
            dates = table.frame["study_date"]
        splits = [temporal_split(dates, groups, test_fraction=test_fraction)]
    elif scheme == "external":
        if test_table is None:
            msg = "The external scheme needs a test table (lai validate --external FEATURES)"
            raise ValueError(msg)
        splits = [
            Split(
                "external", np.arange(len(table.frame)), np.arange(len(test_table.frame)), held_out=test_name
            )
        ]
    else:
        msg = f"Unknown scheme {scheme!r}: use one of {', '.join(SCHEME_NAMES)}"
        raise ValueError(msg)
    description = scheme_description(
        scheme,
        target,
        n_repeats=n_repeats,
        n_splits=n_splits,
        test_fraction=test_fraction,
        seed=seed,
        train_name=train_name,
        test_name=test_name,
    )
    return run_splits(
        make_estimator,
        table,
        target,
        splits,
        scheme_name=scheme,
        scheme=description,
        test_table=test_table,
        repeated=repeated,
        seed=seed,
        n_resamples=n_resamples,
        interval=interval,
        importance_repeats=importance_repeats,
        harmonise=harmonise,
        scheduler=scheduler,
        cache_dir=cache_dir,
    )
