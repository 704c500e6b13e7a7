"""Readers of public dataset layouts into a LAI Dataset folder (DESIGN.md).

- **LLD-MMRI2023** (Liver Lesion Diagnosis on Multi-phase MRI challenge, 2023): ``images/<patient>/``
  holding one NIfTI per phase series (``<series>.nii.gz``, ``<study>/<series>.nii.gz`` or
  ``<series>/*.nii.gz``) and ``labels/Annotation.json``: ``{"Annotation_info": {patient: [{"studyUID",
  "seriesUID", "phase", "annotation": {"lesion": {"<k>": {"category": id, "bbox": {"3D_box": {x_min,
  x_max, y_min, y_max, z_min, z_max}}}}}}]}}``. Boxes are voxel indices of the phase's image (x, y the
  in-plane axes i, j; z the slice k); as in the challenge's own cropping code, x and y maxima are
  exclusive and the z maximum inclusive. Each box becomes a filled box in that phase's lesion mask;
  :func:`lld_mmri_crops` cuts the challenge's classification crops.
- **WORC database** (Starmans et al. 2021): one folder per patient with ``image.nii.gz`` and one or
  more ``segmentation*.nii.gz``, and a label table (CSV) with a ``Patient`` column and a ``Diagnosis``
  column (0/1 benign/malignant, or LAI diagnosis codes).
- **Medical Segmentation Decathlon / nnU-Net** (Antonelli et al. 2022; Isensee et al. 2021):
  ``dataset.json`` with ``labels`` and ``modality`` (MSD: 4D images with channels last) or
  ``channel_names`` (nnU-Net v2: ``imagesTr/<case>_<XXXX>.nii.gz`` per channel), ``imagesTr/`` and
  ``labelsTr/``. The liver label becomes the liver mask; each connected component of a tumour label
  becomes one lesion.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage

from lai.compute import task_key
from lai.data import (
    DIAGNOSES,
    LESION_COLUMNS,
    Dataset,
    image_relpath,
    lesion_mask_relpath,
    liver_mask_relpath,
    write_index,
)
from lai.data.taxonomy import LLD_MMRI_IDS, REFERENCE_SEQUENCE, SEQUENCES
from lai.files import sha256_file, write_bytes_atomic
from lai.imaging import Image, save_image

READER_VERSION = "1"
"""Part of every reader task's cache key: bump it when a reader writes different files."""

LLD_MMRI_PHASES: dict[str, str] = {
    "c-pre": "t1_pre", "c+a": "arterial", "c+v": "portal", "c+delay": "delayed", "t2wi": "t2w", "dwi": "dwi",
    "inphase": "t1_in", "outphase": "t1_opp",
}  # fmt: skip
"""LLD-MMRI2023 phase names (lower case, spaces removed) -> canonical sequence."""

_CHANNEL_NAMES: dict[str, str] = {
    "t2": "t2w", "t2w": "t2w", "t2wi": "t2w", "adc": "adc", "dwi": "dwi", "t1in": "t1_in", "inphase": "t1_in",
    "t1opp": "t1_opp", "outphase": "t1_opp", "pre": "t1_pre", "t1pre": "t1_pre", "arterial": "arterial",
    "portal": "portal", "venous": "portal", "delayed": "delayed", "transitional": "transitional", "hbp": "hbp",
}  # fmt: skip
_LESION_LABEL = re.compile(r"tumou?r|cancer|lesion|metasta|nodule|mass", re.IGNORECASE)


class ReaderError(ValueError):
    """A public layout that cannot be read; the message names the file and what is wrong."""


_Part = tuple[dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]


def _read_cases(
    task: Any,
    tasks: list[Any],
    keys: list[str],
    *,
    description: str,
    scheduler: str | None,
    cache_dir: Path | None,
) -> list[_Part]:
    """Run a reader's per-case function over its tasks (in parallel, with progress, resumable)."""
    from lai.compute import TaskError, map_tasks

    try:
        return map_tasks(
            task, tasks, keys=keys, cache_dir=cache_dir, description=description, scheduler=scheduler
        )
    except TaskError as error:
        raise ReaderError(str(error).split(": ", 1)[-1].removeprefix("ReaderError: ")) from error


def _start(out: str | os.PathLike[str]) -> _Writer:
    """Return the writer of the output folder, refusing a folder that already holds a Dataset."""
    writer = _Writer(out)
    if (writer.root / "dataset.json").exists():
        msg = f"{writer.root}: already holds a Dataset (dataset.json); choose a new --out"
        raise ReaderError(msg)
    return writer


def _gather(writer: _Writer, parts: list[_Part]) -> _Writer:
    for files, cases, lesions in parts:
        writer.files.update(files)
        writer.cases.extend(cases)
        writer.lesions.extend(lesions)
    return writer


class _Writer:
    """Collects the files and rows of a Dataset folder being written, then writes its index."""

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.root = Path(out)
        self.files: dict[str, str] = {}
        self.cases: list[dict[str, Any]] = []
        self.lesions: list[dict[str, Any]] = []

    def copy_image(self, source: Path, case_id: str, sequence: str) -> None:
        rel = image_relpath(case_id, sequence)
        target = self.root / rel
        if source.name.endswith(".nii.gz"):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            self.files[rel] = sha256_file(target)
        else:
            self.save(Image(*_load(source)), rel)

    def save(self, image: Image, rel: str) -> None:
        self.files[rel] = save_image(image, self.root / rel)

    def part(self) -> _Part:
        """Return what this writer collected, as plain data a worker process can send back."""
        return self.files, self.cases, self.lesions

    def finish(self, name: str, description: str, centres: list[dict[str, Any]]) -> Dataset:
        cases = pd.DataFrame(self.cases, columns=["case_id", "patient_id", "centre", "study_date"])
        lesions = pd.DataFrame(self.lesions, columns=list(LESION_COLUMNS))
        return write_index(
            self.root, name=name, cases=cases, lesions=lesions, files=self.files, description=description,
            centres=centres,
        )  # fmt: skip


def _load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return a NIfTI's voxel array (3D or 4D) and affine; raise ``ReaderError`` naming the file."""
    try:
        image: Any = nib.load(path)
        return np.asanyarray(image.dataobj), np.asarray(image.affine, dtype=float)
    except Exception as error:
        msg = f"{path}: cannot read as NIfTI ({type(error).__name__}: {error})"
        raise ReaderError(msg) from error


def _read_json(path: Path) -> Any:
    if not path.is_file():
        msg = f"{path}: missing"
        raise ReaderError(msg)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        msg = f"{path}: not valid JSON ({error})"
        raise ReaderError(msg) from error


def _lesion_row(case_id: str, label: int, diagnosis: str | None, malignant: bool | None) -> dict[str, Any]:
    return {
        "lesion_id": f"{case_id}_L{label:02d}",
        "case_id": case_id,
        "mask_label": label,
        "diagnosis": diagnosis,
        "malignant": malignant,
        "reference_standard": None,
        "diameter_mm": None,
    }


# --- LLD-MMRI2023 ---


def _lld_items(src: Path) -> dict[str, list[dict[str, Any]]]:
    path = src / "labels" / "Annotation.json"
    data = _read_json(path)
    info = data.get("Annotation_info") if isinstance(data, dict) else None
    if not isinstance(info, dict):
        msg = f"{path}: expected an object with 'Annotation_info' mapping patients to their series"
        raise ReaderError(msg)
    return info


def _lld_phase(item: Mapping[str, Any], where: str) -> str:
    phase = str(item.get("phase", ""))
    key = phase.lower().replace(" ", "").replace("_", "")
    if key not in LLD_MMRI_PHASES:
        msg = f"{where}: unknown phase {phase!r}; expected one of C-pre, C+A, C+V, C+Delay, T2WI, DWI, In Phase, Out Phase"
        raise ReaderError(msg)
    return LLD_MMRI_PHASES[key]


def _lld_image(src: Path, patient: str, item: Mapping[str, Any], where: str) -> Path:
    folder = src / "images" / patient
    series, study = str(item.get("seriesUID", "")), str(item.get("studyUID", ""))
    candidates = [folder / f"{series}.nii.gz", folder / study / f"{series}.nii.gz", folder / f"{series}.nii"]
    candidates += sorted((folder / series).glob("*.nii.gz")) if (folder / series).is_dir() else []
    for path in candidates:
        if path.is_file():
            return path
    msg = f"{where}: no image for series {series!r} under {folder}"
    raise ReaderError(msg)


def _lld_boxes(item: Mapping[str, Any], where: str) -> dict[int, tuple[int, dict[str, int]]]:
    """Return {lesion index: (category id, 3D box)} of one annotated series."""
    lesions = item.get("annotation", {}).get("lesion", {})
    if not isinstance(lesions, dict):
        msg = f"{where}: 'annotation.lesion' must map lesion indices to boxes"
        raise ReaderError(msg)
    boxes = {}
    for index, lesion in lesions.items():
        try:
            box = {
                k: int(lesion["bbox"]["3D_box"][k])
                for k in ("x_min", "x_max", "y_min", "y_max", "z_min", "z_max")
            }
            boxes[int(index)] = (int(lesion["category"]), box)
        except (KeyError, TypeError, ValueError) as error:
            msg = (
                f"{where}, lesion {index}: needs 'category' and bbox.3D_box with x/y/z min and max ({error})"
            )
            raise ReaderError(msg) from None
    return boxes


def _lld_case(task: tuple[str, str, str, str, list[dict[str, Any]]]) -> _Part:
    """Write one LLD-MMRI2023 patient's phases and masks; return its files and rows."""
    src_text, out, name, patient, items = task
    src = Path(src_text)
    names = {v: k for k, v in LLD_MMRI_IDS.items()}
    writer = _Writer(out)
    annotation = src / "labels" / "Annotation.json"
    case_id = str(patient)
    categories: dict[int, int] = {}
    masks: dict[str, str] = {}
    for number, item in enumerate(items):
        where = f"{annotation}: patient {patient}, series {number}"
        sequence = _lld_phase(item, where)
        path = _lld_image(src, case_id, item, where)
        writer.copy_image(path, case_id, sequence)
        header: Any = nib.load(path)
        shape = header.shape[:3]
        mask = np.zeros(shape, dtype=np.uint8)
        for index, (category, box) in sorted(_lld_boxes(item, where).items()):
            if category not in names:
                msg = f"{where}, lesion {index}: unknown category {category}; expected 0-6"
                raise ReaderError(msg)
            if categories.setdefault(index, category) != category:
                msg = f"{where}, lesion {index}: category {category} differs from {categories[index]} in another phase"
                raise ReaderError(msg)
            if not (
                0 <= box["z_min"] <= box["z_max"] < shape[2]
                and box["x_max"] <= shape[0]
                and box["y_max"] <= shape[1]
            ):
                msg = f"{where}, lesion {index}: box {box} outside the image of shape {shape}"
                raise ReaderError(msg)
            mask[
                box["x_min"] : box["x_max"], box["y_min"] : box["y_max"], box["z_min"] : box["z_max"] + 1
            ] = index + 1
        rel = lesion_mask_relpath(case_id, sequence)
        writer.save(Image(mask, header.affine), rel)
        masks[sequence] = rel
    if not masks:
        return writer.part()
    common = REFERENCE_SEQUENCE if REFERENCE_SEQUENCE in masks else next(s for s in SEQUENCES if s in masks)
    data = (writer.root / masks[common]).read_bytes()
    write_bytes_atomic(writer.root / lesion_mask_relpath(case_id), data)
    writer.files[lesion_mask_relpath(case_id)] = writer.files[masks[common]]
    writer.cases.append({"case_id": case_id, "patient_id": case_id, "centre": name, "study_date": None})
    for index, category in sorted(categories.items()):
        diagnosis = names[category]
        writer.lesions.append(_lesion_row(case_id, index + 1, diagnosis, DIAGNOSES[diagnosis].malignant))
    return writer.part()


def read_lld_mmri(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    name: str = "LLD-MMRI2023",
    scheduler: str | None = None,
    cache_dir: Path | None = None,
) -> Dataset:
    """Read an LLD-MMRI2023 folder into a Dataset: one case per patient, one image and lesion mask per phase.

    Each phase's boxes become ``masks/<case>/lesions_<sequence>.nii.gz`` on that phase's grid (label
    k + 1 for lesion k); the portal-venous phase's mask (or the first phase's) is the case's common
    ``lesions.nii.gz``. Diagnoses come from the challenge's class ids (:data:`LLD_MMRI_IDS`).
    """
    src = Path(src)
    writer = _start(out)
    patients = sorted(_lld_items(src).items())
    tasks = [(str(src), str(writer.root), name, str(patient), items) for patient, items in patients]
    keys = [task_key("lai.readers.lld", READER_VERSION, *task) for task in tasks]
    parts = _read_cases(
        _lld_case, tasks, keys, description="Reading LLD-MMRI2023", scheduler=scheduler, cache_dir=cache_dir
    )
    _gather(writer, parts)
    return writer.finish(name, f"{name} read from {src.name} (boxes as lesion masks)", [{"name": name}])


def lld_mmri_crops(
    src: str | os.PathLike[str], out: str | os.PathLike[str], *, xy_margin: int = 16, z_margin: int = 2
) -> list[Path]:
    """Write the classification crops of LLD-MMRI2023: each lesion's box grown by a margin, per phase.

    Crops go to ``out/<patient>_L<k>/<sequence>.nii.gz`` with the affine of their place in the source
    image (so they stay in world coordinates); the box is clipped at the image border. The margins
    (16 voxels in plane, 2 slices) are those of the challenge's baseline.
    """
    src, out = Path(src), Path(out)
    written = []
    annotation = src / "labels" / "Annotation.json"
    for patient, items in sorted(_lld_items(src).items()):
        for number, item in enumerate(items):
            where = f"{annotation}: patient {patient}, series {number}"
            sequence = _lld_phase(item, where)
            array, source_affine = _load(_lld_image(src, str(patient), item, where))
            for index, (_, box) in sorted(_lld_boxes(item, where).items()):
                lo = np.array([box["x_min"] - xy_margin, box["y_min"] - xy_margin, box["z_min"] - z_margin])
                hi = np.array(
                    [box["x_max"] + xy_margin, box["y_max"] + xy_margin, box["z_max"] + 1 + z_margin]
                )
                lo = np.maximum(lo, 0)
                hi = np.minimum(hi, array.shape[:3])
                crop = array[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
                affine = source_affine.copy()
                affine[:3, 3] = affine[:3, :3] @ lo + affine[:3, 3]
                path = out / f"{patient}_L{index + 1:02d}" / f"{sequence}.nii.gz"
                save_image(Image(np.ascontiguousarray(crop), affine), path)
                written.append(path)
    return written


# --- WORC database ---


def _worc_labels(src: Path, labels: Path | None) -> tuple[Path, pd.DataFrame]:
    if labels is None:
        tables = sorted(src.glob("*.csv"))
        if len(tables) != 1:
            msg = f"{src}: expected one label table (*.csv) beside the patient folders, found {len(tables)}; pass --labels"
            raise ReaderError(msg)
        labels = tables[0]
    try:
        table = pd.read_csv(labels, dtype=str)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        msg = f"{labels}: cannot read the label table ({error})"
        raise ReaderError(msg) from error
    columns = {c.lower(): c for c in table.columns}
    if "patient" not in columns or "diagnosis" not in columns:
        msg = f"{labels}: needs columns Patient and Diagnosis, found {', '.join(table.columns)}"
        raise ReaderError(msg)
    return labels, table.rename(columns={columns["patient"]: "Patient", columns["diagnosis"]: "Diagnosis"})


def _worc_label(value: str, where: str) -> tuple[str | None, bool | None]:
    text = str(value).strip().lower()
    if text in DIAGNOSES:
        return text, DIAGNOSES[text].malignant
    if text in ("0", "1", "0.0", "1.0"):
        return None, text.startswith("1")
    if text in ("", "nan"):
        return None, None
    msg = f"{where}: diagnosis {value!r} is neither 0/1 nor a diagnosis code ({', '.join(DIAGNOSES)})"
    raise ReaderError(msg)


def _worc_case(task: tuple[str, str, str, str, str, str, str]) -> _Part:
    """Write one WORC patient's image and lesion mask; return its files and rows."""
    src_text, out, name, sequence, table_text, patient, diagnosis_text = task
    src, table_path = Path(src_text), Path(table_text)
    writer = _Writer(out)
    where = f"{table_path}: patient {patient}"
    folder = src / patient
    image_path = folder / "image.nii.gz"
    if not image_path.is_file():
        msg = f"{where}: no image at {image_path}"
        raise ReaderError(msg)
    segmentations = sorted(folder.glob("segmentation*.nii.gz"))
    if not segmentations:
        msg = f"{where}: no segmentation*.nii.gz in {folder}"
        raise ReaderError(msg)
    diagnosis, malignant = _worc_label(diagnosis_text, where)
    image, affine = _load(image_path)
    writer.copy_image(image_path, patient, sequence)
    mask = np.zeros(image.shape[:3], dtype=np.uint8)
    for label, path in enumerate(segmentations, start=1):
        segmentation, segmentation_affine = _load(path)
        if segmentation.shape[:3] != mask.shape or not np.allclose(segmentation_affine, affine, atol=1e-3):
            msg = f"{path}: not on the grid of {image_path} (shape {segmentation.shape} vs {mask.shape})"
            raise ReaderError(msg)
        inside = segmentation > 0
        if not inside.any():
            msg = f"{path}: empty segmentation"
            raise ReaderError(msg)
        mask[inside] = label
        writer.lesions.append(_lesion_row(patient, label, diagnosis, malignant))
    writer.save(Image(mask, affine), lesion_mask_relpath(patient))
    writer.cases.append({"case_id": patient, "patient_id": patient, "centre": name, "study_date": None})
    return writer.part()


def read_worc(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    labels: str | os.PathLike[str] | None = None,
    sequence: str = "t2w",
    name: str = "WORC",
    scheduler: str | None = None,
    cache_dir: Path | None = None,
) -> Dataset:
    """Read a WORC database folder: ``<patient>/image.nii.gz`` + ``segmentation*.nii.gz``, and a label table.

    Every segmentation of a patient is one lesion (label k for the k-th file in name order) of the
    case's lesion mask; they must lie on the image's grid. The patient's label applies to each lesion.
    """
    src = Path(src)
    if sequence not in SEQUENCES:
        msg = f"--sequence {sequence!r}: expected one of {', '.join(SEQUENCES)}"
        raise ReaderError(msg)
    table_path, table = _worc_labels(src, Path(labels) if labels is not None else None)
    writer = _start(out)
    tasks = [
        (str(src), str(writer.root), name, sequence, str(table_path), str(row.Patient), str(row.Diagnosis))
        for row in table.sort_values("Patient").itertuples(index=False)
    ]
    keys = [task_key("lai.readers.worc", READER_VERSION, *task) for task in tasks]
    parts = _read_cases(
        _worc_case, tasks, keys, description="Reading WORC", scheduler=scheduler, cache_dir=cache_dir
    )
    _gather(writer, parts)
    return writer.finish(name, f"{name} database read from {src.name}", [{"name": name}])


# --- Medical Segmentation Decathlon / nnU-Net ---


def _decathlon_channels(
    meta: Mapping[str, Any], channels: Mapping[int, str] | None, path: Path
) -> dict[int, str]:
    names = meta.get("channel_names") or meta.get("modality") or {}
    if channels is None:
        mapped = {}
        for key, value in names.items():
            sequence = _CHANNEL_NAMES.get(re.sub(r"[^a-z0-9]", "", str(value).lower()))
            if sequence is None:
                msg = f"{path}: channel {key} is {value!r}, which names no LAI sequence; pass --channels e.g. '0=t2w'"
                raise ReaderError(msg)
            mapped[int(key)] = sequence
        channels = mapped
    bad = [s for s in channels.values() if s not in SEQUENCES]
    if bad or not channels:
        msg = f"{path}: channels {dict(channels)} must map channel numbers to sequences in {', '.join(SEQUENCES)}"
        raise ReaderError(msg)
    return dict(channels)


def _decathlon_labels(meta: Mapping[str, Any], path: Path) -> tuple[int | None, dict[int, str]]:
    """Return (liver label, {lesion label: label name}) from dataset.json's labels (MSD or nnU-Net v2)."""
    raw = meta.get("labels")
    if not isinstance(raw, dict):
        msg = f"{path}: 'labels' must be an object"
        raise ReaderError(msg)
    pairs: list[tuple[int, str]] = []
    for key, value in raw.items():
        if str(key).isdigit():  # MSD: {"1": "liver"}
            pairs.append((int(key), str(value)))
        elif isinstance(value, int):  # nnU-Net v2: {"liver": 1}
            pairs.append((value, str(key)))
    liver = next((v for v, n in pairs if n.lower() == "liver"), None)
    lesions = {v: n for v, n in pairs if v != 0 and (_LESION_LABEL.search(n) or n.lower() in DIAGNOSES)}
    if not lesions:
        msg = f"{path}: no lesion label among {dict(pairs)} (expected a name like tumour, lesion or a diagnosis code)"
        raise ReaderError(msg)
    return liver, lesions


def _decathlon_case(
    task: tuple[str, str, str, str, str, dict[int, str], int | None, dict[int, str]],
) -> _Part:
    """Write one Decathlon / nnU-Net case's channels, lesion and liver masks; return its files and rows."""
    src_text, out, dataset_name, ending, case_id, mapping, liver, lesion_labels = task
    src = Path(src_text)
    label_path = src / "labelsTr" / f"{case_id}{ending}"
    writer = _Writer(out)
    values, label_affine = _load(label_path)
    for channel, sequence in sorted(mapping.items()):
        per_channel = src / "imagesTr" / f"{case_id}_{channel:04d}{ending}"
        combined = src / "imagesTr" / f"{case_id}{ending}"
        if per_channel.is_file():
            writer.copy_image(per_channel, case_id, sequence)
        elif combined.is_file():
            array, image_affine = _load(combined)
            if array.ndim == 4:
                if channel >= array.shape[3]:
                    msg = f"{combined}: has {array.shape[3]} channels, no channel {channel}"
                    raise ReaderError(msg)
                array = array[..., channel]
            elif channel != 0:
                msg = f"{combined}: 3D image, no channel {channel}"
                raise ReaderError(msg)
            writer.save(Image(np.ascontiguousarray(array), image_affine), image_relpath(case_id, sequence))
        else:
            msg = f"{src / 'imagesTr'}: no image for case {case_id}, channel {channel}"
            raise ReaderError(msg)
    mask = np.zeros(values.shape[:3], dtype=np.uint16)
    count = 0
    for value, label_name in sorted(lesion_labels.items()):
        components, n = ndimage.label(values == value, structure=np.ones((3, 3, 3)))
        diagnosis = label_name.lower() if label_name.lower() in DIAGNOSES else None
        for component in range(1, n + 1):
            count += 1
            mask[components == component] = count
            malignant = DIAGNOSES[diagnosis].malignant if diagnosis else None
            writer.lesions.append(_lesion_row(case_id, count, diagnosis, malignant))
    storable = mask.astype(np.uint8) if count < 256 else mask
    writer.save(Image(storable, label_affine), lesion_mask_relpath(case_id))
    if liver is not None and (values == liver).any():
        liver_mask = ((values == liver) | (mask > 0)).astype(np.uint8)
        writer.save(Image(liver_mask, label_affine), liver_mask_relpath(case_id))
    writer.cases.append(
        {"case_id": case_id, "patient_id": case_id, "centre": dataset_name, "study_date": None}
    )
    return writer.part()


def read_decathlon(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    channels: Mapping[int, str] | None = None,
    name: str | None = None,
    scheduler: str | None = None,
    cache_dir: Path | None = None,
) -> Dataset:
    """Read a Decathlon (MSD) or nnU-Net v2 training set: ``dataset.json``, ``imagesTr/``, ``labelsTr/``.

    Parameters
    ----------
    channels
        Channel number -> canonical sequence; by default read from the channel names in dataset.json.
    """
    src = Path(src)
    meta_path = src / "dataset.json"
    meta = _read_json(meta_path)
    if not isinstance(meta, dict):
        msg = f"{meta_path}: expected a JSON object"
        raise ReaderError(msg)
    mapping = _decathlon_channels(meta, channels, meta_path)
    liver, lesion_labels = _decathlon_labels(meta, meta_path)
    ending = str(meta.get("file_ending", ".nii.gz"))
    labels_dir = src / "labelsTr"
    label_files = sorted(labels_dir.glob(f"*{ending}"))
    if not label_files:
        msg = f"{labels_dir}: no label files (*{ending})"
        raise ReaderError(msg)
    dataset_name = name or str(meta.get("name") or src.name)
    writer = _start(out)
    tasks = [
        (
            str(src),
            str(writer.root),
            dataset_name,
            ending,
            path.name[: -len(ending)],
            mapping,
            liver,
            lesion_labels,
        )
        for path in label_files
    ]
    keys = [task_key("lai.readers.decathlon", READER_VERSION, *task) for task in tasks]
    parts = _read_cases(
        _decathlon_case,
        tasks,
        keys,
        description="Reading Decathlon",
        scheduler=scheduler,
        cache_dir=cache_dir,
    )
    _gather(writer, parts)
    return writer.finish(
        dataset_name, f"{dataset_name} read from a Decathlon/nnU-Net layout", [{"name": dataset_name}]
    )
