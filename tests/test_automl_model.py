"""The Model folder: save, load, predict a table; provenance in model.json and search.parquet."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lai import __version__
from lai.automl import (
    AutoClassifier,
    ModelFolderError,
    load_model,
    predict_table,
    save_model,
    training_data_hash,
)
from lai.data.feature_table import ID_COLUMNS, FeatureTable
from synthetic_tables import synthetic_table


@pytest.fixture(scope="module")
def table() -> FeatureTable:
    return synthetic_table()


@pytest.fixture(scope="module")
def fitted(table: FeatureTable) -> AutoClassifier:
    model = AutoClassifier(budget=None, max_trials=2, random_state=5)
    return model.fit(table.features, table.target("diagnosis"), groups=table.groups)


def test_model_folder_round_trip_predicts_identically(tmp_path, table, fitted):
    folder = save_model(fitted, tmp_path / "model", target="diagnosis", table=table, seed=5)
    assert sorted(p.name for p in folder.iterdir()) == ["model.joblib", "model.json", "search.parquet"]
    model, meta = load_model(folder)
    np.testing.assert_array_equal(model.predict_proba(table.features), fitted.predict_proba(table.features))
    assert meta["target"] == "diagnosis"
    assert meta["classes"] == sorted(set(table.frame["diagnosis"]))
    assert meta["feature_columns"] == table.feature_columns
    assert meta["seed"] == 5
    assert meta["lai_version"] == __version__
    assert meta["n_lesions"] == len(table.frame)
    assert len(meta["training_data_hash"]) == 64
    assert json.loads((folder / "model.json").read_text())["created"].endswith("+00:00")


def test_model_json_records_the_search_settings_and_the_ensemble(tmp_path, table, fitted):
    folder = save_model(fitted, tmp_path / "model", target="diagnosis", table=table, seed=5)
    meta = json.loads((folder / "model.json").read_text())
    assert (meta["metric"], meta["budget"], meta["preset"]) == ("auc", None, "default")
    assert meta["params"]["max_trials"] == 2
    assert meta["n_trials"] == 2 and meta["trial_states"] == {"complete": 2}
    members = meta["ensemble"]["members"]
    assert meta["ensemble"]["method"] == "caruana"
    assert sum(m["weight"] for m in members) == pytest.approx(1.0)
    assert {m["trial"] for m in members} <= {0, 1}
    assert all(m["params"]["classifier"] in m["pipeline"] for m in members)
    assert meta["ensemble"]["oof_score"] >= meta["ensemble"]["best_single_oof_score"]


def test_search_parquet_has_one_row_per_trial_with_its_scores(tmp_path, table, fitted):
    folder = save_model(fitted, tmp_path / "model", target="diagnosis", table=table, seed=5)
    search = pd.read_parquet(folder / "search.parquet")
    assert search["trial"].tolist() == [0, 1]
    assert {"pipeline", "params", "fold_scores", "score", "duration", "state", "ensemble_weight"} <= set(
        search.columns
    )
    first = json.loads(search.loc[0, "params"])
    assert (first["classifier"], first["lr_penalty"], first["lr_C"]) == ("logistic_regression", "l2", 1.0)
    assert search["fold_scores"].map(len).tolist() == [5, 5]
    np.testing.assert_allclose(search["score"], search["fold_scores"].map(np.mean))
    assert search["ensemble_weight"].sum() == pytest.approx(1.0)


def test_training_data_hash_changes_with_a_feature_value_or_a_label(table):
    same = FeatureTable(table.frame.copy())
    assert training_data_hash(same, "diagnosis") == training_data_hash(table, "diagnosis")
    changed_value = table.frame.copy()
    changed_value.iloc[0, changed_value.columns.get_loc("t2w:original_firstorder_F0")] += 1e-9
    assert training_data_hash(FeatureTable(changed_value), "diagnosis") != training_data_hash(
        table, "diagnosis"
    )
    changed_label = table.frame.copy()
    changed_label.loc[0, "diagnosis"] = "cyst" if changed_label.loc[0, "diagnosis"] != "cyst" else "hcc"
    assert training_data_hash(FeatureTable(changed_label), "diagnosis") != training_data_hash(
        table, "diagnosis"
    )


def test_predict_table_gives_ids_prediction_and_one_probability_per_class(tmp_path, table, fitted):
    model, meta = load_model(save_model(fitted, tmp_path / "m", target="diagnosis", table=table, seed=5))
    out = predict_table(model, meta, table)
    classes = meta["classes"]
    assert list(out.columns) == [*ID_COLUMNS, "predicted", *(f"proba_{c}" for c in classes)]
    assert out["lesion_id"].tolist() == table.frame["lesion_id"].tolist()
    np.testing.assert_array_equal(out["predicted"], fitted.predict(table.features))
    np.testing.assert_allclose(out[[f"proba_{c}" for c in classes]].sum(axis=1), 1.0)


def test_predict_table_names_missing_feature_columns(tmp_path, table, fitted):
    model, meta = load_model(save_model(fitted, tmp_path / "m", target="diagnosis", table=table, seed=5))
    lacking = FeatureTable(table.frame.drop(columns=["t2w:original_firstorder_F7"]))
    with pytest.raises(ValueError, match="t2w:original_firstorder_F7"):
        predict_table(model, meta, lacking)


def test_load_model_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(ModelFolderError, match=r"missing model\.joblib, model\.json"):
        load_model(tmp_path)


def test_save_model_refuses_an_unfitted_model(tmp_path, table):
    with pytest.raises(ValueError, match="fitted"):
        save_model(AutoClassifier(), tmp_path, target="diagnosis", table=table, seed=0)
