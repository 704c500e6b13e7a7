"""Training and evaluation of the series classifier of :mod:`lai.archive.series`, from synthetic headers.

The classifier is trained deterministically on header features generated from the vendor protocols
of :mod:`lai.synth.protocols` (Siemens, GE, Philips at 1.5 and 3 T, each vendor's naming styles),
with naming variants drawn from a seed (case, separators, vendor and clinical synonyms, dropped and
added words) and jittered timing, plus series that are not liver sequences (localisers, calibrations,
field maps, MRCP, functional EPI). The fitted multinomial logistic regression (scikit-learn, L2, lbfgs)
is written as plain JSON coefficients to ``series_model.json`` beside :mod:`lai.archive.series`.

Rebuild the shipped model and print its held-out accuracy::

    python -m lai.archive.series_model            # writes src/lai/archive/series_model.json
    python -m lai.archive.series_model --evaluate # accuracy tables only
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lai.archive.series import (
    FAMILIES,
    HASH_BUCKETS,
    MODEL_PATH,
    NUMERIC_FEATURES,
    SeriesHeader,
    classify_series,
    features,
    order_dynamic_phases,
)
from lai.files import write_json_atomic

TRAIN_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
"""Seeds of the naming variants the shipped model is trained on; evaluation uses other seeds."""

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "art": ("arterial", "AP", "early art", "ART"),
    "pv": ("portal", "PVP", "venous", "portal venous"),
    "delay": ("delayed", "late", "3min", "equilibrium"),
    "trans": ("transitional", "TP"),
    "hbp": ("hepatobiliary", "HBP 20min", "20 min", "hb"),
    "pre": ("precontrast", "native", "pre-contrast", "nativ"),
    "tra": ("ax", "axial", "TRA", "trans"),
    "ax": ("tra", "axial", "AX"),
    "in": ("ip", "inphase", "in-phase", "IN"),
    "opp": ("op", "out", "opposed", "oop"),
    "out": ("opp", "op", "opposed"),
    "haste": ("ssfse", "ss-fse", "hasTE"),
    "ssfse": ("haste", "single shot", "SSH"),
    "vibe": ("lava", "thrive", "3d gre"),
    "lava": ("vibe", "thrive", "LAVA-flex"),
    "thrive": ("vibe", "lava", "e-thrive"),
    "bh": ("breathhold", "BH", "bh"),
    "fs": ("fatsat", "FS", "spair"),
    "diff": ("dwi", "diffusion", "DWI"),
    "dwi": ("diff", "diffusion", "DW"),
    "t2": ("T2", "t2w", "T2W"),
}
_NOISE = (
    "new",
    "repeat",
    "2",
    "bh",
    "fs",
    "tra",
    "ax",
    "p2",
    "ipat",
    "resp",
    "nav",
    "mbh",
    "RT",
    "LIVER",
    "abd",
)
_OTHER = (
    # (description, scanning sequence, variant, TR, TE, flip, three_d)
    ("localizer", ("GR",), ("SP",), 8.6, 4.0, 20.0, False),
    ("3-plane loc", ("GR",), ("SS",), 5.0, 1.6, 30.0, False),
    ("Survey", ("GR",), ("SP",), 11.0, 4.6, 15.0, False),
    ("AAHScout", ("GR",), ("SP",), 3.1, 1.4, 8.0, True),
    ("ASSET calibration", ("GR",), ("SS",), 150.0, 1.2, 15.0, True),
    ("SENSE ref scan", ("GR",), ("SP",), 4.0, 0.8, 1.0, True),
    ("CoilSurvey", ("GR",), ("SP",), 3.0, 0.9, 1.0, True),
    ("gre_field_mapping", ("GR",), ("SP",), 400.0, 5.19, 60.0, False),
    ("B0 map", ("GR",), ("SP",), 20.0, 4.6, 25.0, True),
    ("MRCP 3D", ("SE",), ("SK", "SP"), 2500.0, 700.0, 100.0, True),
    ("mrcp_thick_slab", ("SE",), ("SK",), 4500.0, 750.0, 180.0, False),
    ("ep2d_bold_rest", ("EP",), ("SK",), 2000.0, 30.0, 77.0, False),
    ("perfusion", ("EP",), ("SK",), 1500.0, 25.0, 60.0, False),
    ("Screen Save", (), (), 0.0, 0.0, 0.0, False),
    ("Dose Report", (), (), 0.0, 0.0, 0.0, False),
)


def naming_variant(text: str, rng: np.random.Generator) -> str:
    """Return ``text`` renamed as another centre might: synonyms, case, separators, words dropped and added."""
    words = [w for w in text.replace("_", " ").replace("-", " ").split(" ") if w]
    out = []
    for word in words:
        key = word.lower()
        if key in _SYNONYMS and rng.random() < 0.5:
            word = str(rng.choice(_SYNONYMS[key]))
        if rng.random() < 0.1 and len(words) > 2:
            continue
        out.append(word)
    if rng.random() < 0.4:
        out.insert(int(rng.integers(len(out) + 1)), str(rng.choice(_NOISE)))
    separator = str(rng.choice(["_", " ", "-", "  "]))
    result = separator.join(out)
    case = rng.random()
    if case < 0.3:
        result = result.upper()
    elif case < 0.5:
        result = result.lower()
    return result


def _renamed(text: str, seed: int, rng: np.random.Generator) -> str:
    """Seed 0 keeps the vendor's own name; other seeds draw a naming variant."""
    return text if seed == 0 else naming_variant(text, rng)


def synthetic_headers(seeds: Sequence[int], styles: Sequence[int] = (0, 1)) -> list[tuple[SeriesHeader, str]]:
    """Return (header, family) pairs for every vendor, field strength, style and sequence, per seed.

    Seed 0 keeps the vendors' own descriptions; other seeds draw naming variants and timing jitter.
    """
    from lai.synth.dicom import CONTRAST_AGENTS
    from lai.synth.protocols import VENDORS, scanner, series_protocol

    families = {
        "t2w": "t2w", "t1_in": "t1_in", "t1_opp": "t1_opp", "dwi": "dwi", "adc": "adc", "t1_pre": "dynamic",
        "arterial": "dynamic", "portal": "dynamic", "delayed": "dynamic", "transitional": "dynamic",
        "hbp": "dynamic",
    }  # fmt: skip
    pairs: list[tuple[SeriesHeader, str]] = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for vendor in VENDORS:
            for field in (1.5, 3.0):
                scan = scanner(vendor, field)
                for style in styles:
                    for sequence, family in families.items():
                        protocol = series_protocol(vendor, sequence, field, style)
                        jitter = 1.0 if seed == 0 else float(rng.uniform(0.9, 1.1))
                        agent = ""
                        if sequence in ("arterial", "portal", "delayed", "transitional", "hbp"):
                            kind = (
                                "gadoxetate"
                                if sequence in ("transitional", "hbp")
                                else str(rng.choice(["gadoxetate", "extracellular"]))
                            )
                            agent = str(rng.choice(CONTRAST_AGENTS[kind]))
                        header = SeriesHeader(
                            description=_renamed(protocol.description, seed, rng),
                            protocol_name=_renamed(protocol.protocol_name, seed, rng),
                            sequence_name=protocol.sequence_name,
                            scanning_sequence=protocol.scanning_sequence,
                            sequence_variant=protocol.sequence_variant,
                            scan_options=protocol.scan_options,
                            image_type=protocol.image_type,
                            acquisition_type=protocol.acquisition_type,
                            repetition_time=protocol.repetition_time * jitter,
                            echo_time=protocol.echo_time * (1.0 if family in ("t1_in", "t1_opp") else jitter),
                            inversion_time=protocol.inversion_time,
                            flip_angle=protocol.flip_angle,
                            field_strength=field,
                            b_values=scan.b_values if family == "dwi" else (),
                            contrast_agent=agent,
                            manufacturer=scan.manufacturer,
                        )
                        pairs.append((header, family))
        for description, scanning, variant, tr, te, flip, three_d in _OTHER:
            for field in (1.5, 3.0):
                jitter = 1.0 if seed == 0 else float(rng.uniform(0.85, 1.15))
                name = _renamed(description, seed, rng)
                header = SeriesHeader(
                    description=name,
                    protocol_name=name,
                    scanning_sequence=scanning,
                    sequence_variant=variant,
                    image_type=("ORIGINAL", "PRIMARY", "M") if tr else ("DERIVED", "SECONDARY", "OTHER"),
                    acquisition_type="3D" if three_d else "2D",
                    repetition_time=tr * jitter or None,
                    echo_time=te * jitter or None,
                    flip_angle=flip or None,
                    field_strength=field,
                )
                pairs.append((header, "other"))
    return pairs


def fit_series_model(pairs: Sequence[tuple[SeriesHeader, str]]) -> dict[str, Any]:
    """Fit the multinomial logistic regression and return it as a JSON-ready dict of coefficients."""
    from sklearn.linear_model import LogisticRegression

    x = np.stack([features(h) for h, _ in pairs])
    y = np.array([FAMILIES.index(f) for _, f in pairs])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, tol=1e-10, max_iter=20_000, random_state=0).fit((x - mean) / scale, y)
    coef = np.zeros((len(FAMILIES), x.shape[1]))
    intercept = np.zeros(len(FAMILIES))
    coef[model.classes_] = model.coef_
    intercept[model.classes_] = model.intercept_
    return {
        "families": list(FAMILIES),
        "n_features": HASH_BUCKETS + len(NUMERIC_FEATURES),
        "numeric_features": list(NUMERIC_FEATURES),
        "mean": [round(float(v), 7) for v in mean],
        "scale": [round(float(v), 7) for v in scale],
        "coef": [[round(float(v), 7) for v in row] for row in coef],
        "intercept": [round(float(v), 7) for v in intercept],
        "training": {
            "generator": "lai.archive.series_model.synthetic_headers",
            "seeds": list(TRAIN_SEEDS),
            "n_headers": len(pairs),
            "classifier": "sklearn LogisticRegression(C=1.0, lbfgs, tol=1e-10), features standardised",
        },
    }


def train_series_model(path: Path = MODEL_PATH) -> dict[str, Any]:
    """Train on :data:`TRAIN_SEEDS` and write the model JSON to ``path``; return it."""
    model = fit_series_model(synthetic_headers(TRAIN_SEEDS))
    write_json_atomic(path, model)
    return model


# --- Evaluation on synthetic DICOM ---


def synthetic_study_headers(
    out_dir: Path,
    *,
    seed: int,
    rename_seed: int | None = None,
    transform: Callable[[Any], Any] | None = None,
    style: int | None = None,
) -> list[list[tuple[SeriesHeader, str]]]:
    """Write small synthetic exams as DICOM and return, per study, (header read back, true sequence).

    One exam per vendor, field strength and contrast agent (12 exams, 9-10 series each). With
    ``rename_seed``, each study's descriptions and protocol names are rewritten by
    :func:`naming_variant` before the headers are built (held-out naming variants); ``transform``
    (e.g. de-identification) is applied to every dataset last. ``style`` keeps to centres of that
    naming style (:func:`lai.synth.protocols.centre_style`).
    """
    import pydicom

    from lai.imaging.image import Image
    from lai.synth.dicom import ExamInfo, write_case_dicom
    from lai.synth.protocols import VENDORS

    sequences = ("t2w", "t1_in", "t1_opp", "dwi_b0", "dwi", "adc", "t1_pre", "arterial", "portal")
    rng = np.random.default_rng(10_000 + seed)
    rename = np.random.default_rng(rename_seed) if rename_seed is not None else None
    studies = []
    index = 0
    for vendor in VENDORS:
        for field in (1.5, 3.0):
            for agent in ("extracellular", "gadoxetate"):
                index += 1
                late = ("transitional", "hbp") if agent == "gadoxetate" else ("delayed",)
                names = (*sequences, *late)
                images = {
                    name: Image(np.full((3, 3, 2), 100 * (i + 1), np.int16), np.diag([2.0, 2.0, 5.0, 1.0]))
                    for i, name in enumerate(names)
                }
                exam = ExamInfo(
                    case_id=f"eval{seed}-{index:02d}",
                    patient_key=f"E{seed}-{index}",
                    centre=_centre(rng, style),
                    vendor=vendor,
                    field_strength=field,
                    study_date=datetime.date(2022, 1, 1) + datetime.timedelta(days=int(rng.integers(365))),
                    contrast_agent=agent,
                    phase_delays={
                        "arterial": float(rng.uniform(15, 40)),
                        "portal": float(rng.uniform(60, 90)),
                        "delayed": float(rng.uniform(150, 300)),
                        "transitional": float(rng.uniform(150, 300)),
                        "hbp": float(rng.uniform(900, 1500)),
                    },
                    patient_age=60,
                    patient_sex="F",
                    seed=seed,
                )
                paths = write_case_dicom(out_dir, images, exam)
                study = []
                for folder in sorted({p.parent for p in paths}):
                    datasets = [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]
                    value = int(datasets[0].pixel_array.flat[0])
                    truth = names[value // 100 - 1]
                    truth = "dwi" if truth == "dwi_b0" else truth
                    if rename is not None:
                        for ds in datasets:
                            ds.SeriesDescription = naming_variant(str(ds.SeriesDescription), rename)
                            ds.ProtocolName = naming_variant(str(ds.ProtocolName), rename)
                    if transform is not None:
                        datasets = [transform(ds) for ds in datasets]
                    study.append((SeriesHeader.from_datasets(datasets), truth))
                studies.append(study)
    return studies


def _centre(rng: np.random.Generator, style: int | None) -> str:
    from lai.synth.protocols import centre_style

    while True:
        centre = f"centre-{int(rng.integers(1000))}"
        if style is None or centre_style(centre) == style:
            return centre


def recognise_study(headers: Sequence[SeriesHeader], model: dict[str, Any] | None = None) -> list[str]:
    """Return the recognised sequence of each series of one study, as the ingest does it."""
    from lai.data import DYNAMIC_PHASES

    classes = [classify_series(h, model=model) for h in headers]
    dynamic = [i for i, c in enumerate(classes) if c.sequence in DYNAMIC_PHASES]
    for i, c in zip(dynamic, order_dynamic_phases([headers[i] for i in dynamic], model=model), strict=True):
        classes[i] = c
    return [c.sequence for c in classes]


def accuracy(
    studies: Sequence[Sequence[tuple[SeriesHeader, str]]], model: dict[str, Any] | None = None
) -> tuple[float, int, Counter[tuple[str, str]]]:
    """Return (accuracy, number of series, confusion counts of (truth, predicted) errors)."""
    right = total = 0
    errors: Counter[tuple[str, str]] = Counter()
    for study in studies:
        predicted = recognise_study([h for h, _ in study], model)
        for (_, truth), guess in zip(study, predicted, strict=True):
            total += 1
            right += guess == truth
            if guess != truth:
                errors[(truth, guess)] += 1
    return right / max(total, 1), total, errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluate", action="store_true", help="Only print accuracy; do not retrain.")
    parser.add_argument("--real", type=Path, help="Also classify every <series>/In folder under this path.")
    args = parser.parse_args(argv)
    if not args.evaluate:
        model = train_series_model()
        print(f"wrote {MODEL_PATH} ({model['training']['n_headers']} training headers)")
    style_zero = fit_series_model(synthetic_headers(TRAIN_SEEDS, styles=(0,)))
    setups: list[tuple[str, int, int | None, int | None, dict[str, Any] | None]] = [
        ("vendor naming, held-out seeds 100-102", 100, None, None, None),
        ("held-out naming variants, seeds 200-202", 200, 200, None, None),
        ("naming style 1 never seen (model trained on style 0), seeds 300-302", 300, None, 1, style_zero),
        ("style 1 never seen + naming variants, seeds 400-402", 400, 400, 1, style_zero),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for label, seed, rename, style, trained in setups:
            studies = [
                study
                for k in range(3)
                for study in synthetic_study_headers(
                    Path(tmp) / f"{seed + k}",
                    seed=seed + k,
                    rename_seed=None if rename is None else rename + k,
                    style=style,
                )
            ]
            value, total, errors = accuracy(studies, trained)
            print(
                f"synthetic DICOM, {label}: accuracy {value:.3f} on {total} series; errors {errors.most_common(3)}"
            )
    if args.real is not None:
        import pydicom

        for folder in sorted(args.real.rglob("In")):
            datasets = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(folder.iterdir())]
            result = classify_series(SeriesHeader.from_datasets(datasets))
            print(
                f"{folder.parent.relative_to(args.real)}: {result.sequence} ({result.confidence:.2f}; {result.reason})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
