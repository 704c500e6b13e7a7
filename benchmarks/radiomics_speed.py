"""Time LAI's PyRadiomics-compatible radiomics against PyRadiomics 3.0.1, MIRP and Pictologics on liver lesions.

Usage::

    .venv/bin/python benchmarks/radiomics_speed.py [--repeats 3] [--budget 90] [--tools lai,pyradiomics,...]

A deterministic phantom (256 x 256 x 48 voxels of 1.5 x 1.5 x 5 mm, liver in an abdomen, Rician noise)
holds a 3 cm and a 10 cm lesion, irregular and heterogeneous, written as NIfTI to a temporary folder.
Each tool, lesion and setting runs in a fresh subprocess pinned to one core (``sched_setaffinity``) with
one thread (OMP/MKL/OPENBLAS/ITK/numba threads = 1): the image and mask are read, one warm-up extraction
runs, then the median of ``repeats`` timed samples (wall and CPU seconds per extraction; a sample is a
batch of extractions lasting about 50 ms, so fast tools are not timed one call at a time) is reported
with the process's peak resident memory (``ru_maxrss``). On a busy machine compare the CPU ratios: wall
time includes waiting for the core.

Settings: ``original`` is firstorder, shape, glcm, glrlm, glszm, gldm, ngtdm on the image; ``filtered``
adds the 8 coif1 wavelet sub-bands and the LoG at sigma 1, 2, 3 mm, each with every family but shape
(the lesion's shape does not change with the filter; every tool computes it once). Grey levels: 32 bins
(PyRadiomics ``binCount``, MIRP/Pictologics fixed bin number). Each tool keeps its own filter defaults
(boundary padding, whole image or crop); LAI filters a padded crop around the lesion.

Peers run in their own virtual environments under ``~/.cache/lai-bench`` (created on first run, see
``benchmarks/peers/README.md``); a peer that cannot be installed is reported in the table, and the
script still exits 0.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

if TYPE_CHECKING:
    from lai.imaging import Image

SHAPE = (256, 256, 48)
SPACING = (1.5, 1.5, 5.0)
LESIONS_MM = {"3cm": 30.0, "10cm": 100.0}
SETTINGS = ("original", "filtered")
BIN_COUNT = 32
LOG_SIGMAS_MM = (1.0, 2.0, 3.0)
CACHE = Path.home() / ".cache" / "lai-bench"
PEERS_DIR = Path(__file__).resolve().parent / "peers"
ONE_THREAD = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS",
        "NUMBA_NUM_THREADS",
        "PICTOLOGICS_NUM_THREADS",
    )
}


# --- Phantom ---


def phantom(seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Return a T2-like liver image (int16) and one boolean mask per lesion of ``LESIONS_MM``.

    Abdomen (fat/muscle ~60) around a liver (~100) with smooth parenchymal texture and vessels; each lesion
    has a radius modulated by low-order harmonics (irregular margin), a brighter rim, a darker necrotic
    core and its own texture. Rician noise (sigma 6) is applied last, as in magnitude MR images.
    """
    rng = np.random.default_rng(seed)
    mm = [(np.arange(n) - n / 2) * s for n, s in zip(SHAPE, SPACING, strict=True)]
    x, y, z = np.meshgrid(*mm, indexing="ij")
    body = (x / 170) ** 2 + (y / 130) ** 2 < 1
    liver = ((x + 30) / 110) ** 2 + ((y - 10) / 90) ** 2 + (z / 100) ** 2 < 1
    texture = ndimage.gaussian_filter(rng.normal(size=SHAPE), (3, 3, 1))
    texture /= texture.std()
    image = np.where(body, 60.0, 2.0) + liver * (40.0 + 6.0 * texture)
    vessels = ndimage.gaussian_filter(rng.normal(size=SHAPE), (2, 2, 0.6))
    image += liver * 25.0 * (vessels > 2.2 * vessels.std())
    masks = {}
    centres = {"3cm": (-75.0, 30.0, 20.0), "10cm": (-10.0, -5.0, -15.0)}
    for name, diameter in LESIONS_MM.items():
        cx, cy, cz = centres[name]
        dx, dy, dz = x - cx, y - cy, z - cz
        r = np.sqrt(dx**2 + dy**2 + dz**2)
        theta, phi = np.arccos(np.divide(dz, r, out=np.zeros_like(r), where=r > 0)), np.arctan2(dy, dx)
        harmonics = 0.12 * np.sin(3 * phi + 0.5) * np.sin(theta) + 0.08 * np.cos(2 * theta + phi)
        radius = diameter / 2 * (1 + harmonics)
        mask = r <= radius
        depth = np.clip(r / radius, 0, 1)
        lesion_texture = ndimage.gaussian_filter(rng.normal(size=SHAPE), (1.5, 1.5, 0.5))
        lesion_texture /= lesion_texture.std()
        lesion = 150.0 + 25.0 * depth**4 - 70.0 * (depth < 0.35) + 15.0 * lesion_texture
        image = np.where(mask, lesion, image)
        masks[name] = mask
    noise = rng.normal(0.0, 6.0, size=(2, *SHAPE))
    rician = np.sqrt((image + noise[0]) ** 2 + noise[1] ** 2)
    return np.round(rician).astype(np.int16), masks


def phantom_paths(folder: Path) -> dict[str, tuple[Path, Path]]:
    """Return ``{lesion: (image path, mask path)}`` of the phantom in ``folder``."""
    return {name: (folder / "liver.nii.gz", folder / f"lesion_{name}.nii.gz") for name in LESIONS_MM}


def write_phantom(folder: Path) -> None:
    """Write the phantom's image and lesion masks as NIfTI in ``folder`` (see ``phantom_paths``)."""
    from lai.imaging import Image, save_image

    image, masks = phantom()
    affine = np.diag([*SPACING, 1.0])
    paths = phantom_paths(folder)
    save_image(Image(image, affine), paths["3cm"][0])
    for name, mask in masks.items():
        save_image(Image(mask.astype(np.uint8), affine), paths[name][1])


# --- LAI ---
# LAI is imported inside the functions: the parent process must stay small, because a worker inherits
# its parent's peak memory through fork and exec.


def lai_features(image: Image, labels: Image, setting: str) -> dict[str, float]:
    """Return LAI's PyRadiomics-compatible features of the lesion (label 1 of ``labels``) in ``image``.

    One call of ``pyradiomics_features`` with the parameters PyRadiomics gets (``imageType`` Original, and
    for ``filtered`` the coif1 wavelet and the LoG sigmas): LAI filters a padded crop around the lesion
    (LoG with PyRadiomics' scale normalisation, wavelets with periodic padding as ``pywt.swtn``) and
    computes every family but shape on each response.
    """
    from lai.radiomics.pyradiomics_compat import FAMILIES, pyradiomics_features

    image_types: dict[str, dict[str, object]] = {"Original": {}}
    if setting == "filtered":
        image_types.update({"Wavelet": {"wavelet": "coif1"}, "LoG": {"sigma": list(LOG_SIGMAS_MM)}})
    params = {
        "setting": {"binCount": BIN_COUNT},
        "imageType": image_types,
        "featureClass": dict.fromkeys(FAMILIES),
    }
    return pyradiomics_features(image, labels, params)


def lai_extractor(image_path: str, mask_path: str, setting: str) -> tuple[Callable[[], int], str]:
    """Return a call that extracts LAI's features (returning their number) and LAI's version."""
    import lai
    from lai.imaging import load_image

    # read once before the timer, as the peers' workers read their image and mask
    image, labels = load_image(image_path), load_image(mask_path)
    return (lambda: len(lai_features(image, labels, setting))), getattr(lai, "__version__", "dev")


# --- Workers: one script per tool, run by the tool's own interpreter ---

HARNESS = """
import json, os, resource, statistics, sys, time
if hasattr(os, "sched_setaffinity"):  # one core, set before any import: a tool's threads share it
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
IMAGE, MASK, SETTING = sys.argv[1], sys.argv[2], sys.argv[3]
REPEATS, BUDGET = int(sys.argv[4]), float(sys.argv[5])
FAMILIES = ["firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm"]
SUBBANDS = ["LLL", "LLH", "LHL", "LHH", "HLL", "HLH", "HHL", "HHH"]
SIGMAS = [1.0, 2.0, 3.0]
BIN_COUNT = 32


def report(extract, version):
    n_features = extract()  # warm-up: first-call costs (imports, JIT) are not timed
    start = time.perf_counter()
    extract()
    once = max(time.perf_counter() - start, 1e-6)
    batch = max(1, round(0.05 / once))  # one timed sample is at least ~50 ms of extractions
    repeats = max(1, min(REPEATS, int(BUDGET // (once * batch))))
    seconds, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(batch):
            extract()
        seconds.append((time.perf_counter() - start) / batch)
        cpu.append((time.process_time() - start_cpu) / batch)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": statistics.median(seconds), "cpu_seconds": statistics.median(cpu),
                      "repeats": repeats, "batch": batch, "peak_mb": peak_mb, "features": n_features,
                      "version": version}))
"""

WORKERS = {
    "lai": """
sys.path.insert(0, BENCHMARKS)
from radiomics_speed import lai_extractor
report(*lai_extractor(IMAGE, MASK, SETTING))
""",
    "pyradiomics": """
import logging
import radiomics
import SimpleITK as sitk
from radiomics import featureextractor

radiomics.setVerbosity(logging.ERROR)
sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
image, mask = sitk.ReadImage(IMAGE), sitk.ReadImage(MASK)
image_types = {"Original": {}}
if SETTING == "filtered":
    image_types.update({"Wavelet": {"wavelet": "coif1"}, "LoG": {"sigma": SIGMAS}})
extractor = featureextractor.RadiomicsFeatureExtractor(
    {"setting": {"binCount": BIN_COUNT, "label": 1}, "imageType": image_types,
     "featureClass": dict.fromkeys(FAMILIES)}
)


def extract():
    result = extractor.execute(image, mask)
    return sum(not key.startswith("diagnostics") for key in result)


report(extract, radiomics.__version__.lstrip("v"))
""",
    "mirp": """
import importlib.metadata
from mirp import extract_features

families = ["morphology", "statistics", "glcm", "glrlm", "glszm", "ngldm", "ngtdm"]
kwargs = dict(image=IMAGE, mask=MASK, base_feature_families=families,
              base_discretisation_method="fixed_bin_number", base_discretisation_n_bins=BIN_COUNT)
if SETTING == "filtered":
    kwargs.update(
        filter_kernels=["separable_wavelet", "laplacian_of_gaussian"],
        separable_wavelet_families="coif1", separable_wavelet_set=[s.lower() for s in SUBBANDS],
        separable_wavelet_rotation_invariance=False, laplacian_of_gaussian_sigma=SIGMAS,
        response_map_feature_families=families[1:],
        response_map_discretisation_method="fixed_bin_number",
        response_map_discretisation_n_bins=BIN_COUNT,
    )


def extract():
    tables = extract_features(export_features=True, **kwargs)
    return sum(table.shape[1] for table in tables)


report(extract, importlib.metadata.version("mirp"))
""",
    "pictologics": """
import pictologics
from pictologics import RadiomicsPipeline, load_image

image, mask = load_image(IMAGE), load_image(MASK)
texture = ["texture_glcm", "texture_glrlm", "texture_glszm", "texture_ngldm", "texture_ngtdm"]
discretise = {"step": "discretise", "params": {"method": "FBN", "n_bins": BIN_COUNT}}
pipeline = RadiomicsPipeline(load_standard=False)
pipeline.add_config("original", [discretise, {"step": "extract_features",
                    "params": {"families": ["intensity", "morphology", *texture]}}])
filters = {}
if SETTING == "filtered":
    filters = {f"wavelet_{band}": {"type": "wavelet", "wavelet": "coif1", "decomposition": band}
               for band in SUBBANDS}
    filters.update({f"log_{sigma:g}": {"type": "log", "sigma_mm": sigma} for sigma in SIGMAS})
for name, params in filters.items():
    pipeline.add_config(name, [{"step": "filter", "params": params}, discretise,
                        {"step": "extract_features", "params": {"families": ["intensity", *texture]}}])


def extract():
    results = pipeline.run(image, mask, config_names=["original", *filters])
    return sum(len(series) for series in results.values())


report(extract, pictologics.__version__)
""",
}


# --- Peers' environments ---


@dataclass
class Tool:
    """A tool to time: its name, the interpreter that runs its worker, or why it is missing."""

    name: str
    python: Path | None
    missing: str = ""


def _run(command: Sequence[str | Path], log: Path) -> bool:
    """Run ``command``, appending its output to ``log``; return whether it succeeded."""
    with log.open("a") as out:
        out.write(f"$ {' '.join(map(str, command))}\n")
        out.flush()
        return subprocess.run(list(map(str, command)), stdout=out, stderr=subprocess.STDOUT).returncode == 0


def _last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text().splitlines() if "rror" in line]
    return lines[-1] if lines else f"see {log}"


def peer_venv(name: str, base_python: str, installs: Sequence[Sequence[str]], probe: str) -> Tool:
    """Return the peer's venv under ``CACHE``, created with ``installs`` (pip argument lists) if needed.

    ``probe`` is an import run to check the venv works; a venv that fails it is rebuilt once.
    """
    venv = CACHE / f"{name}-venv"
    python = venv / "bin" / "python"
    if python.exists() and _run([python, "-c", probe], CACHE / f"{name}-probe.log"):
        return Tool(name, python)
    shutil.rmtree(venv, ignore_errors=True)
    log = CACHE / f"{name}-install.log"
    log.write_text("")
    print(f"creating {venv} (log: {log})", flush=True)
    ok = _run([base_python, "-m", "venv", venv], log)
    for arguments in installs:
        ok = ok and _run([python, "-m", "pip", "install", "--quiet", *arguments], log)
    if ok and _run([python, "-c", probe], log):
        return Tool(name, python)
    return Tool(name, None, f"not installed: {_last_error(log)}")


def python312() -> str | None:
    """Return a Python 3.12 interpreter found on PATH or in pyenv, or None."""
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [
        shutil.which("python3.12") or "",
        *sorted(glob.glob(f"{pyenv}/versions/3.12*/bin/python3.12")),
    ]
    for candidate in filter(None, candidates):
        check = [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"]
        if subprocess.run(check, capture_output=True).returncode == 0:
            return candidate
    return None


def tools(names: Sequence[str]) -> list[Tool]:
    """Return the tools to time, creating the peers' venvs on first use."""
    CACHE.mkdir(parents=True, exist_ok=True)
    found = []
    for name in names:
        if name == "lai":
            found.append(Tool("lai", Path(sys.executable)))
        elif name == "pyradiomics":
            # PyRadiomics 3.0.1 has no wheel for Python 3.11 and its setup.py imports numpy before pip's
            # isolated build env has it: build against the venv's numpy<2 instead.
            installs = [
                ["numpy<2", "setuptools", "wheel"],
                ["--no-build-isolation", "numpy<2", "pyradiomics==3.0.1"],
            ]
            probe = "import radiomics._cmatrices, SimpleITK"
            found.append(peer_venv(name, sys._base_executable, installs, probe))  # type: ignore[attr-defined]
        elif name == "mirp":
            found.append(peer_venv(name, sys._base_executable, [["mirp"]], "import mirp"))  # type: ignore[attr-defined]
        elif name == "pictologics":
            base = python312()
            if base is None:
                found.append(Tool(name, None, "skipped: no Python 3.12"))
            else:
                found.append(peer_venv(name, base, [["pictologics"]], "import pictologics"))
    return found


# --- Timing ---


def time_tool(
    tool: Tool, folder: Path, image: Path, mask: Path, setting: str, repeats: int, budget: float
) -> dict[str, object]:
    """Run the tool's worker in a fresh one-thread subprocess; return its JSON report or ``{"error": ...}``."""
    assert tool.python is not None
    script = folder / f"worker_{tool.name}.py"
    preamble = f"BENCHMARKS = {str(Path(__file__).resolve().parent)!r}\n"
    script.write_text(HARNESS + preamble + WORKERS[tool.name])
    env = {**os.environ, **ONE_THREAD, "PYTHONWARNINGS": "ignore"}
    command = [str(tool.python), str(script), str(image), str(mask), setting, str(repeats), str(budget)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        error = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return {"error": error[:120]}
    return dict(json.loads(lines[-1]))


Row = tuple[str, str, str, str, str, str, str, str, str]


def table_rows(lesion: str, setting: str, reports: dict[str, dict[str, object]]) -> list[Row]:
    """Return one table row per tool: wall and CPU seconds, ratios PyRadiomics / tool, peak MB, notes.

    On a shared machine the wall time of a one-thread process includes the time it waits for a core;
    its CPU time does not, so the CPU ratio is the steadier comparison there.
    """
    reference = reports.get("pyradiomics", {})
    rows = []
    for name, report in reports.items():
        if "error" in report:
            rows.append((name, lesion, setting, "-", "-", "-", "-", "-", str(report["error"])))
            continue
        seconds = float(report["seconds"])  # type: ignore[arg-type]
        cpu = float(report.get("cpu_seconds", float("nan")))  # type: ignore[arg-type]
        ratio = f"{float(reference['seconds']) / seconds:.1f}x" if "seconds" in reference else "-"  # type: ignore[arg-type]
        cpu_ratio = (
            f"{float(reference['cpu_seconds']) / cpu:.1f}x" if "cpu_seconds" in reference and cpu > 0 else "-"  # type: ignore[arg-type]
        )
        note = f"v{report['version']}, {report['features']} features, n={report['repeats']} x {report.get('batch', 1)}"
        rows.append(
            (
                name,
                lesion,
                setting,
                f"{seconds:.3f}",
                ratio,
                f"{cpu:.3f}",
                cpu_ratio,
                f"{report['peak_mb']:.0f}",
                note,
            )
        )
    return rows


GOAL_RATIO = {"original": 10.0, "filtered": 30.0}
"""The issue's speed goal: at least this many times PyRadiomics' speed, per setting."""


def verdicts(results: dict[tuple[str, str], dict[str, dict[str, object]]]) -> list[str]:
    """Return one line per configuration judging LAI against the goals, on CPU seconds of the same run.

    Goals (radiomics engine issue): at least 10x PyRadiomics on the original image and 30x with filters,
    faster than Pictologics, and less peak memory than PyRadiomics and Pictologics.
    """
    lines = []
    for (lesion, setting), reports in results.items():
        lai, pyradiomics, pictologics = (
            reports.get(name, {}) for name in ("lai", "pyradiomics", "pictologics")
        )
        if "cpu_seconds" not in lai or "cpu_seconds" not in pyradiomics:
            lines.append(f"{lesion} {setting}: not judged (LAI or PyRadiomics missing)")
            continue
        cpu = float(lai["cpu_seconds"])  # type: ignore[arg-type]
        ratio = float(pyradiomics["cpu_seconds"]) / cpu  # type: ignore[arg-type]
        parts = [
            f"{ratio:.0f}x PyRadiomics (goal {GOAL_RATIO[setting]:.0f}x: {'met' if ratio >= GOAL_RATIO[setting] else 'NOT met'})"
        ]
        memory = [float(pyradiomics["peak_mb"])]  # type: ignore[arg-type]
        if "cpu_seconds" in pictologics:
            other = float(pictologics["cpu_seconds"])  # type: ignore[arg-type]
            faster = "faster" if cpu < other else "NOT faster"
            parts.append(f"{faster} than Pictologics ({cpu * 1e3:.1f} vs {other * 1e3:.1f} ms)")
            memory.append(float(pictologics["peak_mb"]))  # type: ignore[arg-type]
        peak = float(lai["peak_mb"])  # type: ignore[arg-type]
        parts.append(
            f"peak {peak:.0f} MB {'below' if peak < min(memory) else 'NOT below'} the peers' {min(memory):.0f}"
        )
        lines.append(f"{lesion} {setting}: " + "; ".join(parts))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed extractions after the warm-up")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds of timed runs per configuration")
    parser.add_argument("--tools", default="lai,pyradiomics,mirp,pictologics")
    parser.add_argument("--lesions", default=",".join(LESIONS_MM))
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--phantom-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phantom_to:
        write_phantom(args.phantom_to)
        return

    selected = tools(args.tools.split(","))
    rows: list[Row] = []
    results: dict[tuple[str, str], dict[str, dict[str, object]]] = {}
    with tempfile.TemporaryDirectory(prefix="lai-radiomics-speed-") as tmp:
        folder = Path(tmp)
        # Built in a child process so that this one stays small (see "--- LAI ---").
        subprocess.run([sys.executable, __file__, "--phantom-to", str(folder)], check=True)
        paths = phantom_paths(folder)
        print(f"phantom {SHAPE} voxels of {SPACING} mm in {folder}", flush=True)
        for lesion in args.lesions.split(","):
            image, mask = paths[lesion]
            for setting in args.settings.split(","):
                reports: dict[str, dict[str, object]] = {}
                for tool in selected:
                    if tool.python is None:
                        reports[tool.name] = {"error": tool.missing}
                        continue
                    reports[tool.name] = time_tool(
                        tool, folder, image, mask, setting, args.repeats, args.budget
                    )
                    print(f"  {tool.name:12s} {lesion:5s} {setting:9s} {reports[tool.name]}", flush=True)
                rows += table_rows(lesion, setting, reports)
                results[lesion, setting] = reports
    header = (
        "tool",
        "lesion",
        "setting",
        "s/lesion",
        "PyRadiomics s / tool s",
        "CPU s/lesion",
        "PyRadiomics CPU s / tool CPU s",
        "peak MB",
        "notes",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    for line in verdicts(results):
        print(line)


if __name__ == "__main__":
    main()
