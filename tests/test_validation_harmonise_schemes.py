"""ComBat inside the validation schemes: fitted on each split's training rows only, never shown the test rows,
the centre read by ComBat alone; a planted centre shift that hurts leave-centre-out is repaired."""

from __future__ import annotations

import functools
import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from lai.cli import app
from lai.data.feature_table import FeatureTable
from lai.validation import ComBat
from lai.validation.schemes import (
    kfold_splits,
    leave_centre_out_splits,
    repeated_splits,
    temporal_split,
    validate,
)

LOGISTIC = functools.partial(clone, make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)))
FEATURES = [f"t2w:original_firstorder_F{j}" for j in range(8)]


def centre_table(
    shift: float, *, n_lesions: int = 240, seed: int = 0, centre_names: tuple[str, ...] = ("A", "B", "C")
) -> FeatureTable:
    """A benign/malignant table of 3 centres; each centre shifts every feature by ``shift`` times -1, 0, 1
    and stretches it by 1, 1.5, 0.7 (when ``shift`` is not 0). Malignant lesions have +1 on 4 features.

    Two lesions per patient; study dates spread over 8 years (for the temporal scheme).
    """
    rng = np.random.default_rng(seed)
    patient = np.arange(n_lesions) // 2
    centre = patient % 3
    malignant = rng.random(n_lesions) < 0.4
    X = rng.normal(size=(n_lesions, len(FEATURES)))
    X[:, :4] += malignant[:, None]
    location = np.array([-1.0, 0.0, 1.0]) * shift
    scale = np.array([1.0, 1.5, 0.7]) if shift else np.ones(3)
    X = X * scale[centre][:, None] + location[centre][:, None]
    first_visit = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, patient.max() + 1), "D")
    frame = pd.DataFrame(
        {
            "lesion_id": [f"{seed}L{i:04d}" for i in range(n_lesions)],
            "case_id": [f"{seed}C{p:04d}" for p in patient],
            "patient_id": [f"{seed}P{p:04d}" for p in patient],
            "centre": np.asarray(centre_names)[centre],
            "diagnosis": np.where(malignant, "hcc", "hem"),
            "malignant": malignant,
            "study_date": first_visit[patient],
        }
    )
    return FeatureTable(pd.concat([frame, pd.DataFrame(X, columns=FEATURES)], axis=1))


class Recorder(ClassifierMixin, BaseEstimator):
    """A classifier that writes every ``X`` it is given (fit, predict) to ``folder``, then scores feature 0.

    Files are named by the hash of the training rows' index, so each split's fit and predictions pair up.
    """

    def __init__(self, folder: str = ""):
        self.folder = folder

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.key_ = hashlib.sha256(np.asarray(X.index).tobytes()).hexdigest()[:16]
        self._write("fit", X)
        return self

    def predict_proba(self, X):
        self._write("predict", X)
        score = 1.0 / (1.0 + np.exp(-X.iloc[:, 0].to_numpy(dtype=np.float64)))
        return np.column_stack([1.0 - score, score])

    def _write(self, what: str, X):
        folder = Path(self.folder)
        number = len(list(folder.glob(f"{what}-{self.key_}-*.pkl")))
        (folder / f"{what}-{self.key_}-{number}.pkl").write_bytes(pickle.dumps(X))


def recorded(folder: Path, what: str) -> dict[str, list[pd.DataFrame]]:
    """Return the frames a Recorder wrote, by split key, in call order."""
    found: dict[str, list[pd.DataFrame]] = {}
    for path in sorted(folder.glob(f"{what}-*.pkl"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
        found.setdefault(path.stem.split("-")[1], []).append(pickle.loads(path.read_bytes()))
    return found


def with_centre(table: FeatureTable, rows: np.ndarray) -> pd.DataFrame:
    """Return the raw features of ``rows`` with their centre: what ComBat should be fitted on."""
    return table.frame.iloc[rows][[*FEATURES, "centre"]]


@pytest.fixture(scope="module")
def shifted() -> FeatureTable:
    return centre_table(2.0)


def expected_splits(scheme: str, table: FeatureTable) -> list[tuple[np.ndarray, np.ndarray]]:
    labels = table.target("malignant").to_numpy()
    groups = table.groups.to_numpy()
    if scheme == "repeated-split":
        splits = repeated_splits(labels, groups, n_repeats=3, seed=0)
    elif scheme == "kfold":
        splits = kfold_splits(labels, groups, n_splits=4, seed=0)
    elif scheme == "leave-centre-out":
        splits = leave_centre_out_splits(table.frame["centre"])
    else:
        splits = [temporal_split(table.frame["study_date"], groups)]
    return [(s.train, s.test) for s in splits]


@pytest.mark.filterwarnings("ignore::lai.validation.HarmonisationWarning")  # the expected values' own ComBat
@pytest.mark.parametrize("scheme", ["repeated-split", "kfold", "leave-centre-out", "temporal", "external"])
def test_combat_is_fitted_on_each_split_training_rows_only(shifted, tmp_path, scheme):
    external = centre_table(2.0, n_lesions=90, seed=7, centre_names=("X", "Y", "Z"))
    result = validate(
        scheme,
        functools.partial(Recorder, str(tmp_path)),
        shifted,
        "malignant",
        test_table=external if scheme == "external" else None,
        n_repeats=3 if scheme == "repeated-split" else None,
        n_splits=4,
        n_resamples=50,
        harmonise="combat",
        scheduler="sync",
    )
    if scheme == "external":
        splits = [(np.arange(len(shifted.frame)), np.arange(len(external.frame)))]
    else:
        splits = expected_splits(scheme, shifted)
    tested = external if scheme == "external" else shifted
    fits, predictions = recorded(tmp_path, "fit"), recorded(tmp_path, "predict")
    assert len(fits) == len(splits) == result.n_splits
    for train, test in splits:
        key = hashlib.sha256(shifted.frame.index[train].to_numpy().tobytes()).hexdigest()[:16]
        (seen,) = fits[key]
        combat = ComBat().fit(with_centre(shifted, train))
        # the model was given exactly the training rows, harmonised by a ComBat fitted on them alone
        pd.testing.assert_frame_equal(seen, combat.transform(with_centre(shifted, train)), rtol=1e-12)
        (shown,) = predictions[key]
        pd.testing.assert_frame_equal(shown, combat.transform(with_centre(tested, test)), rtol=1e-12)
        if scheme != "external":
            # a ComBat that had also seen the test rows would have given the model other numbers
            leaky = ComBat().fit(with_centre(shifted, np.concatenate([train, test])))
            assert not np.allclose(seen.to_numpy(), leaky.transform(with_centre(shifted, train)).to_numpy())


def test_the_classifier_never_sees_the_centre_even_in_permutation_importance(shifted, tmp_path):
    validate(
        "leave-centre-out",
        functools.partial(Recorder, str(tmp_path)),
        shifted,
        "malignant",
        n_resamples=50,
        importance_repeats=2,
        harmonise="combat",
        scheduler="sync",
    )
    frames = [f for what in ("fit", "predict") for found in recorded(tmp_path, what).values() for f in found]
    # per split: one fit, one prediction, and 2 permutations of each of the 8 feature columns
    assert len(frames) == 3 * (2 + 2 * len(FEATURES))
    for frame in frames:
        assert list(frame.columns) == FEATURES
        assert frame.dtypes.map(pd.api.types.is_float_dtype).all()


def test_a_planted_centre_shift_that_hurts_leave_centre_out_is_repaired_by_combat(shifted):
    def auc(table: FeatureTable, harmonise: str | None) -> float:
        found = validate(
            "leave-centre-out",
            LOGISTIC,
            table,
            "malignant",
            n_resamples=50,
            harmonise=harmonise,
            scheduler="sync",
        )
        return found.metrics["auc"].value

    clean, hurt, repaired = auc(centre_table(0.0), None), auc(shifted, None), auc(shifted, "combat")
    assert hurt < clean - 0.08
    assert repaired > hurt + 0.08
    assert repaired == pytest.approx(clean, abs=0.02)


def test_leave_centre_out_notes_each_held_out_centre_as_harmonised_from_its_own_rows(shifted):
    result = validate(
        "leave-centre-out",
        LOGISTIC,
        shifted,
        "malignant",
        n_resamples=50,
        harmonise="combat",
        scheduler="sync",
    )
    assert len(result.notes) == 3
    for note, centre in zip(result.notes, "ABC", strict=True):
        assert note.startswith(f"centre-{centre}: centre '{centre}' was not seen at fit")
        assert "its own 80 rows" in note
    record = json.loads(json.dumps(result.to_dict()))
    assert record["notes"] == result.notes
    assert "ComBat" in record["harmonisation"] and "training lesions only" in record["harmonisation"]


def test_internal_schemes_see_every_centre_in_training_and_leave_no_note(shifted):
    result = validate(
        "kfold", LOGISTIC, shifted, "malignant", n_resamples=50, harmonise="combat", scheduler="sync"
    )
    assert result.notes == []
    assert "ComBat" in result.harmonisation


def test_without_harmonisation_nothing_is_harmonised_or_noted(shifted, tmp_path):
    result = validate(
        "leave-centre-out",
        functools.partial(Recorder, str(tmp_path)),
        shifted,
        "malignant",
        n_resamples=50,
        scheduler="sync",
    )
    assert result.harmonisation == "" and result.notes == []
    (seen,) = recorded(tmp_path, "fit")[
        hashlib.sha256(np.flatnonzero(shifted.frame["centre"] != "A").tobytes()).hexdigest()[:16]
    ]
    pd.testing.assert_frame_equal(seen, shifted.features.iloc[np.flatnonzero(shifted.frame["centre"] != "A")])


def test_a_centre_with_a_single_training_lesion_is_refused_naming_the_split():
    frame = centre_table(1.0, n_lesions=60).frame.copy()
    frame.loc[0, "centre"] = "D"
    frame.loc[1, "centre"] = "E"
    with pytest.raises(
        ValueError, match=r"split centre-A trains on a single lesion of centre\(s\) \['D', 'E'\]"
    ):
        validate("leave-centre-out", LOGISTIC, FeatureTable(frame), "malignant", harmonise="combat")


def test_an_unknown_harmonisation_is_refused(shifted):
    with pytest.raises(ValueError, match="Unknown harmonisation 'zscore': use one of combat"):
        validate("kfold", LOGISTIC, shifted, "malignant", harmonise="zscore")  # type: ignore[arg-type]


def test_harmonised_splits_are_cached_apart_from_raw_ones(shifted, tmp_path):
    def run(harmonise: str | None) -> float:
        found = validate(
            "leave-centre-out",
            LOGISTIC,
            shifted,
            "malignant",
            n_resamples=50,
            harmonise=harmonise,
            scheduler="sync",
            cache_dir=tmp_path,
        )
        return found.metrics["auc"].value

    raw = run(None)
    harmonised = run("combat")
    assert harmonised != raw
    assert run("combat") == harmonised
    assert len(list(tmp_path.rglob("*.pkl"))) == 6


def test_harmonised_validation_is_the_same_in_processes_and_in_one_process(shifted):
    def run(scheduler: str) -> pd.DataFrame:
        found = validate(
            "kfold", LOGISTIC, shifted, "malignant", n_resamples=50, harmonise="combat", scheduler=scheduler
        )
        return found.split_predictions

    pd.testing.assert_frame_equal(run("sync"), run("processes"), check_exact=True)


# --- lai validate ---

runner = CliRunner()


@pytest.fixture(scope="module")
def features(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("harmonise") / "features.parquet"
    centre_table(2.0, n_lesions=120).write(path)
    return path


def settings_file(folder: Path, extra: str = "") -> Path:
    path = folder / "automl.yaml"
    path.write_text(f"target: malignant\nbudget: null\nmax_trials: 1\ninner_folds: 2\n{extra}")
    return path


def invoke(settings: Path, features: Path, out: Path, *options: str):
    return runner.invoke(
        app,
        [
            "validate",
            str(settings),
            str(features),
            "--scheme",
            "leave-centre-out",
            "--importance",
            "0",
            "--out",
            str(out),
            "--scheduler",
            "sync",
            *options,
        ],
    )


def preprocessing_item(record: dict) -> str:
    (item,) = [i for i in record["checklist"] if i["topic"] == "Predictors and preprocessing"]
    return item["content"]


def test_lai_validate_harmonise_combat_from_the_settings_file_or_the_option(features, tmp_path):
    settings = settings_file(tmp_path, "harmonise: combat\n")
    result = invoke(settings, features, tmp_path / "yaml")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "yaml" / "metrics.json").read_text())
    (validated,) = record["results"]
    assert "ComBat" in validated["harmonisation"]
    assert len(validated["notes"]) == 3
    assert "ComBat" in preprocessing_item(record) and "leave-centre-out" in preprocessing_item(record)
    # the item counts the features (the path of the table is its own provenance entry)
    assert preprocessing_item(record).startswith("8 radiomics features per lesion")
    assert record["provenance"]["feature_table"] == str(features)
    assert "was not seen at fit" in result.output

    # --harmonise none overrides the file; the report says no harmonisation was used
    result = invoke(settings, features, tmp_path / "none", "--harmonise", "none")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "none" / "metrics.json").read_text())
    assert record["results"][0]["harmonisation"] == "" and record["results"][0]["notes"] == []
    assert "no harmonisation across centres" in preprocessing_item(record)
    assert record["provenance"]["harmonise"] == "none"


def test_lai_validate_refuses_an_unknown_harmonisation_naming_the_file(features, tmp_path):
    settings = settings_file(tmp_path, "harmonise: zscore\n")
    result = invoke(settings, features, tmp_path / "out")
    assert result.exit_code == 1
    assert f"{settings}: harmonise must be one of combat or none, got 'zscore'" in " ".join(
        result.output.split()
    )
    result = invoke(settings_file(tmp_path), features, tmp_path / "out", "--harmonise", "quantile")
    assert result.exit_code == 1
    assert "--harmonise must be one of combat or none, got 'quantile'" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()
