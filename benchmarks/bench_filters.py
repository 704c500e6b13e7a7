"""Time IBSI 2 filters on a padded crop around a 3 cm lesion against the whole 256 x 256 x 48 volume.

Usage::

    python benchmarks/bench_filters.py [--repeat 3]

Prints, per filter, the best-of-``repeat`` seconds on the whole volume and on the crop, their ratio, and the
largest difference inside the lesion (it should be ~1e-13: the crop gives the whole-image values there).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

import numpy as np

from lai.imaging import Image
from lai.radiomics.filters import (
    filtered_in_crop,
    laplacian_of_gaussian,
    log_margin_mm,
    wavelet_margin_mm,
    wavelet_subbands,
)

SHAPE = (256, 256, 48)
SPACING = (0.78, 0.78, 3.0)
LESION_RADIUS_MM = 15.0


def best_seconds(run: Callable[[], object], repeat: int) -> float:
    """Return the shortest wall time of ``repeat`` calls of ``run``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    image = Image(rng.normal(100.0, 20.0, size=SHAPE), np.diag([*SPACING, 1.0]))
    centre = np.asarray(SHAPE) / 2
    offsets_mm = (np.stack(np.indices(SHAPE), axis=-1) - centre) * np.asarray(SPACING)
    mask = (offsets_mm**2).sum(axis=-1) <= LESION_RADIUS_MM**2

    filters = {
        "log sigma 3 mm": (
            functools.partial(laplacian_of_gaussian, spacing=SPACING, sigma_mm=3.0),
            log_margin_mm(3.0),
        ),
        "wavelet coif1": (
            functools.partial(wavelet_subbands, wavelet="coif1"),
            wavelet_margin_mm("coif1", SPACING),
        ),
        "wavelet haar rot-inv": (
            functools.partial(wavelet_subbands, wavelet="haar", rotation_invariant=True),
            wavelet_margin_mm("haar", SPACING),
        ),
    }
    print(
        f"volume {SHAPE}, spacing {SPACING} mm, lesion radius {LESION_RADIUS_MM} mm ({int(mask.sum())} voxels)"
    )
    print(
        f"{'filter':24s} {'crop shape':>16s} {'whole s':>9s} {'crop s':>9s} {'speed-up':>9s} {'max diff':>9s}"
    )
    for label, (filter_fn, margin) in filters.items():
        whole_s = best_seconds(lambda f=filter_fn: f(image.array), args.repeat)
        crop_s = best_seconds(lambda f=filter_fn, m=margin: filtered_in_crop(image, mask, f, m), args.repeat)
        cropped, crop = filtered_in_crop(image, mask, filter_fn, margin)
        whole = filter_fn(image.array)
        pairs = cropped.items() if isinstance(cropped, dict) else [("", cropped)]
        full = whole if isinstance(whole, dict) else {"": whole}
        diff = max(float(np.abs(values[mask[crop]] - full[name][mask]).max()) for name, values in pairs)
        shape = "x".join(str(part.stop - part.start) for part in crop)
        print(f"{label:24s} {shape:>16s} {whole_s:9.3f} {crop_s:9.3f} {whole_s / crop_s:8.1f}x {diff:9.1e}")


if __name__ == "__main__":
    main()
