/*
 * lai.radiomics._numeric: the floating-point passes of radiomics in C (see lai/radiomics/numeric.py, the
 * wrapper): separable 1D correlation (Laplacian of Gaussian, wavelets), the GLCM features of a stack of
 * matrices, and the sums and order statistics of first-order features.
 *
 * Plain C99 and the Python C API only (no numpy headers): every function takes C-contiguous float64 (or
 * int64) buffers through the buffer protocol, checks their type, shape and layout, and writes into output
 * buffers the Python wrapper allocated with numpy. The loops run without the GIL; there is no global
 * state.
 *
 * Floating point: correlate_axis evaluates each output as scipy.ndimage.correlate1d does (the same
 * products summed in the same order, symmetric and antisymmetric kernels folded the same way), so that
 * with IEEE arithmetic the two agree; build without -ffast-math and with -ffp-contract=off (no fused
 * multiply-add).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define LAI_SSE2 1
#endif

#ifndef M_LN2
#define M_LN2 0.69314718055994530942
#endif

#include "_buffers.h"

/* --- Separable 1D correlation --- */

enum { GENERAL = 0, SYMMETRIC = 1, ANTISYMMETRIC = -1 };

/* On x86-64 with gcc and glibc the correlation loops are compiled twice, for AVX2 (four doubles per
 * instruction) and the baseline, and the loader picks one for the processor. Only the width changes: each
 * output is the same products and sums in the same order (no fused multiply-add: -ffp-contract=off). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

/* The symmetry scipy.ndimage.correlate1d detects in a kernel (odd length, taps equal or opposite about the
 * middle within DBL_EPSILON), which decides how it folds the sum. */
static int symmetry_of(const double *w, Py_ssize_t length) {
    Py_ssize_t c = length / 2, m;
    int symmetric = SYMMETRIC;
    if (length % 2 == 0) return GENERAL;
    for (m = 1; m <= c; m++)
        if (fabs(w[c + m] - w[c - m]) > DBL_EPSILON) {
            symmetric = GENERAL;
            break;
        }
    if (symmetric) return SYMMETRIC;
    for (m = 1; m <= c; m++)
        if (fabs(w[c + m] + w[c - m]) > DBL_EPSILON) return GENERAL;
    return ANTISYMMETRIC;
}

/* dst[e] = sum_t w[t] * src[e + t * tap], e < count, summed as scipy.ndimage.correlate1d sums: a symmetric
 * kernel as w[c] x[c] + sum over m = c..1 of (x[c - m] + x[c + m]) w[c - m] (antisymmetric: the difference),
 * any other as w[L-1] x[L-1] + sum over t = 0..L-2 of x[t] w[t]. Zero taps are skipped (adding a
 * zero leaves a sum unchanged but for the sign of a zero result; the image values are finite). One pass
 * over dst per tap (whole rows, vectorisable); the caller keeps count small enough for dst to stay in cache. */
CLONES static void correlate_block(const double *restrict src, Py_ssize_t tap, double *restrict dst,
                                   Py_ssize_t count, const double *w, Py_ssize_t length, int symmetry) {
    Py_ssize_t e, t, m, c = length / 2;
    if (symmetry == SYMMETRIC || symmetry == ANTISYMMETRIC) {
        const double *centre = src + c * tap, wc = w[c];
        for (e = 0; e < count; e++) dst[e] = centre[e] * wc;
        for (m = c; m >= 1; m--) {
            const double *before = src + (c - m) * tap, *after = src + (c + m) * tap, wm = w[c - m];
            if (wm == 0.0) continue; /* adds zeros: a dilated (a trous) kernel's holes */
            if (symmetry == SYMMETRIC)
                for (e = 0; e < count; e++) dst[e] += (before[e] + after[e]) * wm;
            else
                for (e = 0; e < count; e++) dst[e] += (before[e] - after[e]) * wm;
        }
        return;
    }
    {
        const double *last = src + (length - 1) * tap, wl = w[length - 1];
        for (e = 0; e < count; e++) dst[e] = last[e] * wl;
    }
    for (t = 0; t < length - 1; t++) {
        const double *row = src + t * tap, wt = w[t];
        if (wt == 0.0) continue;
        for (e = 0; e < count; e++) dst[e] += row[e] * wt;
    }
}

#define BLOCK 512 /* elements of an output row filtered at a time (4 KiB, stays in L1 across the taps) */

typedef struct {
    const double *w;
    Py_ssize_t length;
    int symmetry;
    double *out;
    double scale;   /* the correlation is multiplied by scale (after its sum) ... */
    int accumulate; /* ... and added to out (out + sum * scale) instead of written */
} Pass;

/* Write (or add) a pass's block: dst = sum * scale, or dst + sum * scale. The correlation goes to sum, a
 * scratch block, unless the pass plainly writes it (scale 1, no accumulation: dst itself). */
static void run_block(const double *src, Py_ssize_t tap, double *dst, Py_ssize_t count, const Pass *pass,
                      double *sum) {
    Py_ssize_t e;
    if (pass->scale == 1.0 && !pass->accumulate) {
        correlate_block(src, tap, dst, count, pass->w, pass->length, pass->symmetry);
        return;
    }
    correlate_block(src, tap, sum, count, pass->w, pass->length, pass->symmetry);
    if (pass->accumulate)
        for (e = 0; e < count; e++) dst[e] += sum[e] * pass->scale;
    else
        for (e = 0; e < count; e++) dst[e] = sum[e] * pass->scale;
}

/* Correlate src (outer, n_src, inner) along its middle axis into each pass's out (outer, n_out, inner),
 * reading src from position start: out[o, n, e] = sum_t w[t] src[o, start + n + t, e]. The passes share
 * each block of source rows while it is in cache. */
static void correlate_passes(const double *src, Py_ssize_t outer, Py_ssize_t n_src, Py_ssize_t inner,
                             Py_ssize_t start, Py_ssize_t n_out, const Pass *passes, int n_passes) {
    Py_ssize_t o, n, e;
    int p;
    double sum[BLOCK];
    for (o = 0; o < outer; o++) {
        const double *plane = src + (o * n_src + start) * inner;
        if (inner == 1) { /* the last axis: a line is a row, the taps are neighbours in it */
            for (e = 0; e < n_out; e += BLOCK) {
                const Py_ssize_t count = n_out - e < BLOCK ? n_out - e : BLOCK;
                for (p = 0; p < n_passes; p++)
                    run_block(plane + e, 1, passes[p].out + o * n_out + e, count, &passes[p], sum);
            }
            continue;
        }
        for (n = 0; n < n_out; n++)
            for (e = 0; e < inner; e += BLOCK) {
                const Py_ssize_t count = inner - e < BLOCK ? inner - e : BLOCK;
                for (p = 0; p < n_passes; p++)
                    run_block(plane + n * inner + e, inner, passes[p].out + (o * n_out + n) * inner + e, count,
                              &passes[p], sum);
            }
    }
}

/* Parse and check (src, kernels..., axis, outs..., start) and run the passes. */
static PyObject *correlate_call(PyObject *args, int n_passes, const char *kernel) {
    PyObject *src_obj, *kernel_obj[2] = {NULL, NULL}, *out_obj[2] = {NULL, NULL};
    Array src, weights[2], out[2];
    Pass passes[2];
    Py_ssize_t start = 0, n_src, n_out, outer = 1, inner = 1, d;
    double scale[2] = {1.0, 1.0};
    int axis, p, ok = 0, accumulate[2] = {0, 0};
    memset(&src, 0, sizeof src);
    memset(weights, 0, sizeof weights);
    memset(out, 0, sizeof out);
    if (n_passes == 1) {
        if (!PyArg_ParseTuple(args, "OOiO|ndp", &src_obj, &kernel_obj[0], &axis, &out_obj[0], &start, &scale[0],
                              &accumulate[0]))
            return NULL;
    } else if (!PyArg_ParseTuple(args, "OOOiOO|nddpp", &src_obj, &kernel_obj[0], &kernel_obj[1], &axis,
                                 &out_obj[0], &out_obj[1], &start, &scale[0], &scale[1], &accumulate[0],
                                 &accumulate[1]))
        return NULL;
    if (array_get(src_obj, &src, kernel, "src", ONLY(TYPE_f64), 0) < 0) goto done;
    for (p = 0; p < n_passes; p++) {
        static const char *const kernel_names[2] = {"kernel", "second kernel"};
        static const char *const out_names[2] = {"out", "second out"};
        if (array_get(kernel_obj[p], &weights[p], kernel, kernel_names[p], ONLY(TYPE_f64), 0) < 0 ||
            array_get(out_obj[p], &out[p], kernel, out_names[p], ONLY(TYPE_f64), 1) < 0)
            goto done;
    }
    if (src.view.ndim < 1 || axis < 0 || axis >= src.view.ndim) {
        PyErr_Format(PyExc_ValueError, "%s: axis %d is not an axis of the %d-dimensional src", kernel, axis,
                     src.view.ndim);
        goto done;
    }
    if (weights[0].size < 1 || (n_passes == 2 && weights[1].size != weights[0].size)) {
        PyErr_Format(PyExc_ValueError, "%s: the kernels must be non-empty and of one length", kernel);
        goto done;
    }
    n_src = src.view.shape[axis];
    for (d = 0; d < src.view.ndim; d++) {
        if (d < axis) outer *= src.view.shape[d];
        if (d > axis) inner *= src.view.shape[d];
    }
    n_out = out[0].view.ndim == src.view.ndim ? out[0].view.shape[axis] : -1;
    for (p = 0; p < n_passes; p++) {
        int same = out[p].view.ndim == src.view.ndim;
        for (d = 0; same && d < src.view.ndim; d++)
            same = d == axis ? out[p].view.shape[d] == n_out : out[p].view.shape[d] == src.view.shape[d];
        if (!same) {
            PyErr_Format(PyExc_ValueError, "%s: out must have src's shape except along axis %d", kernel, axis);
            goto done;
        }
        if (out[p].view.buf == src.view.buf || (p == 1 && out[1].view.buf == out[0].view.buf && out[1].size)) {
            PyErr_Format(PyExc_ValueError, "%s: out must not be src or the other out", kernel);
            goto done;
        }
    }
    if (start < 0 || start + n_out + weights[0].size - 1 > n_src) {
        PyErr_Format(PyExc_ValueError,
                     "%s: %zd outputs of a %zd-tap kernel from position %zd need %zd elements along axis %d, "
                     "src has %zd (pad it by the kernel's radius)",
                     kernel, n_out, weights[0].size, start, start + n_out + weights[0].size - 1, axis, n_src);
        goto done;
    }
    for (p = 0; p < n_passes; p++) {
        passes[p].w = doubles(&weights[p]);
        passes[p].length = weights[p].size;
        passes[p].symmetry = symmetry_of(passes[p].w, passes[p].length);
        passes[p].out = doubles(&out[p]);
        passes[p].scale = scale[p];
        passes[p].accumulate = accumulate[p];
    }
    if (out[0].size > 0) {
        Py_BEGIN_ALLOW_THREADS
        correlate_passes(doubles(&src), outer, n_src, inner, start, n_out, passes, n_passes);
        Py_END_ALLOW_THREADS
    }
    ok = 1;
done:
    array_release(&src);
    for (p = 0; p < 2; p++) {
        array_release(&weights[p]);
        array_release(&out[p]);
    }
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(correlate_axis_doc,
             "correlate_axis(src, kernel, axis, out, start=0, scale=1.0, accumulate=False)\n\n"
             "Valid correlation along axis: out[..., n, ...] = sum_t kernel[t] * src[..., start + n + t, ...]\n"
             "(float64, C-contiguous; out has src's shape except along axis). Each output is summed as\n"
             "scipy.ndimage.correlate1d sums it, then multiplied by scale unless it is 1; with accumulate it\n"
             "is added to out (out + sum * scale).");

static PyObject *py_correlate_axis(PyObject *self, PyObject *args) {
    (void)self;
    return correlate_call(args, 1, "correlate_axis");
}

PyDoc_STRVAR(correlate_axis_pair_doc,
             "correlate_axis_pair(src, kernel, second_kernel, axis, out, second_out, start=0, scale=1.0,\n"
             "                    second_scale=1.0, accumulate=False, second_accumulate=False)\n\n"
             "correlate_axis with two kernels of one length, reading src once for both outputs.");

static PyObject *py_correlate_axis_pair(PyObject *self, PyObject *args) {
    (void)self;
    return correlate_call(args, 2, "correlate_axis_pair");
}

/* --- GLCM features of a stack of matrices --- */

/* Columns of glcm_features' output, in the order of lai.radiomics.numeric.GLCM_FEATURES. */
enum {
    G_AUTOCORRELATION, G_JOINT_AVERAGE, G_CLUSTER_PROMINENCE, G_CLUSTER_SHADE, G_CLUSTER_TENDENCY, G_CONTRAST,
    G_CORRELATION, G_DIFFERENCE_AVERAGE, G_DIFFERENCE_ENTROPY, G_DIFFERENCE_VARIANCE, G_JOINT_ENERGY,
    G_JOINT_ENTROPY, G_IMC1, G_IMC2, G_IDM, G_IDMN, G_ID, G_IDN, G_INVERSE_VARIANCE, G_MAXIMUM_PROBABILITY,
    G_SUM_AVERAGE, G_SUM_ENTROPY, G_SUM_SQUARES, N_GLCM
};

/* log2(a b + eps) from log2 a, log2 b and 1 / (a b): log2 a + log2 b + log2(1 + x), x = eps / (a b), with
 * log(1 + x) = x - x^2 / 2 (error below x^3 / 3) when x is below 1e-5, else log2(a b + eps) itself. Two
 * logarithms per row and column instead of one per element (a few ulp off the direct form). */
static double log2_of_product(double a, double b, double log2_a, double log2_b, double inverse) {
    const double x = DBL_EPSILON * inverse;
    if (x < 1e-5) return log2_a + log2_b + (x - 0.5 * x * x) * (1.0 / M_LN2);
    return log2(a * b + DBL_EPSILON);
}

/* log2(p + eps) of p = count / total, remembered per whole count below MEMO (a matrix holds few distinct
 * small counts): the same value as computing it each time. memo->key[c] is the matrix it was computed for. */
#define MEMO 1024
typedef struct {
    double value[MEMO];
    Py_ssize_t key[MEMO];
    Py_ssize_t matrix;
} Memo;

static double entropy_term(double count, double p, Memo *memo) {
    if (count >= 0.0 && count < MEMO && count == (double)(Py_ssize_t)count) {
        const Py_ssize_t c = (Py_ssize_t)count;
        if (memo->key[c] != memo->matrix) {
            memo->key[c] = memo->matrix;
            memo->value[c] = log2(p + DBL_EPSILON);
        }
        return memo->value[c];
    }
    return log2(p + DBL_EPSILON);
}

/* The features of one matrix counts (n x n) with grey levels grey (n, integers >= 0, at most max_grey);
 * work holds 6 n + 2 (2 max_grey + 1) + n^2 doubles and n Py_ssize_t. */
static void glcm_one(const double *counts, const double *grey, Py_ssize_t n, double n_g, Py_ssize_t max_grey,
                     double *work, Memo *memo, double *out) {
    const double eps = DBL_EPSILON;
    double *px = work, *py = work + n, *log_px = py + n, *log_py = log_px + n, *inv_px = log_py + n,
           *inv_py = inv_px + n, *p_diff = inv_py + n, *p_sum = p_diff + (2 * max_grey + 1),
           *p_all = p_sum + (2 * max_grey + 1);
    Py_ssize_t *level = (Py_ssize_t *)(p_all + n * n);
    const Py_ssize_t n_bins = 2 * max_grey + 1;
    double total = 0.0, ux = 0.0, uy = 0.0, x2 = 0.0, y2 = 0.0, hx = 0.0, hy = 0.0, hxy = 0.0, hxy1 = 0.0,
           hxy2 = 0.0, autocorrelation = 0.0, energy = 0.0, largest = 0.0, sx, sy, sxy, max_h, mean_sum;
    double cluster_prominence = 0.0, cluster_shade = 0.0, cluster_tendency = 0.0, contrast = 0.0,
           diff_avg = 0.0, diff_entropy = 0.0, diff_variance = 0.0, idm = 0.0, idmn = 0.0, id = 0.0, idn = 0.0,
           inverse_variance = 0.0, sum_average = 0.0, sum_entropy = 0.0, sum_squares = 0.0;
    Py_ssize_t i, j, k;
    for (i = 0; i < n * n; i++) total += counts[i];
    memset(work, 0, (size_t)(6 * n + 2 * n_bins) * sizeof(double));
    for (i = 0; i < n; i++) level[i] = (Py_ssize_t)grey[i];
    /* no test for empty cells: a zero probability adds zeros (its entropy term is 0 * log2(eps)) */
    for (i = 0; i < n; i++) {
        const double *row = counts + i * n, gi = grey[i];
        double *p_row = p_all + i * n, row_sum = 0.0;
        const Py_ssize_t li = level[i];
        for (j = 0; j < n; j++) {
            const double p = row[j] / total;
            const Py_ssize_t lj = level[j];
            p_row[j] = p;
            row_sum += p;
            py[j] += p;
            autocorrelation += p * gi * grey[j];
            energy += p * p;
            largest = p > largest ? p : largest;
            hxy -= p * entropy_term(row[j], p, memo);
            p_diff[li > lj ? li - lj : lj - li] += p;
            p_sum[li + lj] += p;
        }
        px[i] = row_sum;
    }
    for (i = 0; i < n; i++) {
        ux += px[i] * grey[i];
        uy += py[i] * grey[i];
        x2 += px[i] * grey[i] * grey[i];
        y2 += py[i] * grey[i] * grey[i];
        if (px[i] > 0.0) hx -= px[i] * log2(px[i] + eps);
        if (py[i] > 0.0) hy -= py[i] * log2(py[i] + eps);
    }
    for (i = 0; i < n; i++) { /* log2 of the marginals and their inverses, for log2(p_x(i) p_y(j) + eps) */
        log_px[i] = px[i] > 0.0 ? log2(px[i]) : 0.0;
        log_py[i] = py[i] > 0.0 ? log2(py[i]) : 0.0;
        inv_px[i] = px[i] > 0.0 ? 1.0 / px[i] : 0.0;
        inv_py[i] = py[i] > 0.0 ? 1.0 / py[i] : 0.0;
    }
    for (i = 0; i < n; i++) {
        const double *p_row = p_all + i * n;
        if (px[i] == 0.0) continue;
        for (j = 0; j < n; j++) {
            double pxpy, log_pxpy;
            if (py[j] == 0.0) continue;
            pxpy = px[i] * py[j];
            log_pxpy = log2_of_product(px[i], py[j], log_px[i], log_py[j], inv_px[i] * inv_py[j]);
            hxy1 -= p_row[j] * log_pxpy;
            hxy2 -= pxpy * log_pxpy;
        }
        sum_squares += (grey[i] - ux) * (grey[i] - ux) * px[i];
    }
    sx = sqrt(x2 - ux * ux);
    sy = sqrt(y2 - uy * uy);
    mean_sum = ux + uy;
    for (k = 0; k < n_bins; k++) {
        const double kk = (double)k;
        if (p_sum[k] != 0.0) {
            const double centred = kk - mean_sum, centred_2 = centred * centred;
            cluster_prominence += p_sum[k] * centred_2 * centred_2;
            cluster_shade += p_sum[k] * centred_2 * centred;
            cluster_tendency += p_sum[k] * centred_2;
            sum_average += p_sum[k] * kk;
            sum_entropy -= p_sum[k] * log2(p_sum[k] + eps);
        }
        if (p_diff[k] != 0.0) {
            contrast += p_diff[k] * (kk * kk);
            diff_avg += p_diff[k] * kk;
            diff_entropy -= p_diff[k] * log2(p_diff[k] + eps);
            idm += p_diff[k] * (1.0 / (1.0 + kk * kk));
            idmn += p_diff[k] / (1.0 + kk * kk / (n_g * n_g));
            id += p_diff[k] * (1.0 / (1.0 + kk));
            idn += p_diff[k] / (1.0 + kk / n_g);
            if (k > 0) inverse_variance += p_diff[k] * (1.0 / (kk * kk));
        }
    }
    for (k = 0; k < n_bins; k++)
        if (p_diff[k] != 0.0) diff_variance += ((double)k - diff_avg) * ((double)k - diff_avg) * p_diff[k];
    sxy = sx * sy;
    max_h = hx > hy ? hx : hy;
    out[G_AUTOCORRELATION] = autocorrelation;
    out[G_JOINT_AVERAGE] = ux;
    out[G_CLUSTER_PROMINENCE] = cluster_prominence;
    out[G_CLUSTER_SHADE] = cluster_shade;
    out[G_CLUSTER_TENDENCY] = cluster_tendency;
    out[G_CONTRAST] = contrast;
    out[G_CORRELATION] = sxy > 0.0 ? (autocorrelation - ux * uy) / sxy : 1.0;
    out[G_DIFFERENCE_AVERAGE] = diff_avg;
    out[G_DIFFERENCE_ENTROPY] = diff_entropy;
    out[G_DIFFERENCE_VARIANCE] = diff_variance;
    out[G_JOINT_ENERGY] = energy;
    out[G_JOINT_ENTROPY] = hxy;
    out[G_IMC1] = max_h > 0.0 ? (hxy - hxy1) / max_h : 0.0;
    {
        const double inside = 1.0 - exp(-2.0 * (hxy2 - hxy));
        out[G_IMC2] = sqrt(inside < 0.0 ? 0.0 : inside); /* NaN stays NaN, as numpy's clip keeps it */
    }
    out[G_IDM] = idm;
    out[G_IDMN] = idmn;
    out[G_ID] = id;
    out[G_IDN] = idn;
    out[G_INVERSE_VARIANCE] = inverse_variance;
    out[G_MAXIMUM_PROBABILITY] = largest;
    out[G_SUM_AVERAGE] = sum_average;
    out[G_SUM_ENTROPY] = sum_entropy;
    out[G_SUM_SQUARES] = sum_squares;
}

PyDoc_STRVAR(glcm_features_doc,
             "glcm_features(counts, grey, n_g, out)\n\n"
             "PyRadiomics' GLCM features but MCC of each matrix of counts (float64, M x n x n), grey levels\n"
             "grey (float64, M x n, whole numbers >= 0), N_g per matrix n_g (float64, M); out is M x 23.");

static PyObject *py_glcm_features(PyObject *self, PyObject *args) {
    const char *kernel = "glcm_features";
    PyObject *counts_obj, *grey_obj, *n_g_obj, *out_obj;
    Array counts = {0}, grey = {0}, n_g = {0}, out = {0};
    Py_ssize_t m, n, i, max_grey = 0;
    double *work = NULL;
    Memo *memo = NULL;
    int ok = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOO", &counts_obj, &grey_obj, &n_g_obj, &out_obj)) return NULL;
    if (array_get(counts_obj, &counts, kernel, "counts", ONLY(TYPE_f64), 0) < 0 ||
        array_get(grey_obj, &grey, kernel, "grey", ONLY(TYPE_f64), 0) < 0 ||
        array_get(n_g_obj, &n_g, kernel, "n_g", ONLY(TYPE_f64), 0) < 0 ||
        array_get(out_obj, &out, kernel, "out", ONLY(TYPE_f64), 1) < 0)
        goto done;
    if (counts.view.ndim != 3 || counts.view.shape[1] != counts.view.shape[2]) {
        PyErr_Format(PyExc_ValueError, "%s: counts must have shape (M, n, n)", kernel);
        goto done;
    }
    m = counts.view.shape[0];
    n = counts.view.shape[1];
    if (check_size(&grey, m * n, kernel, "grey") < 0 || check_size(&n_g, m, kernel, "n_g") < 0 ||
        check_size(&out, m * N_GLCM, kernel, "out") < 0)
        goto done;
    for (i = 0; i < m * n; i++) {
        const double level = doubles(&grey)[i];
        if (!(level >= 0.0 && level <= 1e9 && level == floor(level))) {
            PyErr_Format(PyExc_ValueError, "%s: grey levels must be whole numbers from 0 to 1e9", kernel);
            goto done;
        }
        if ((Py_ssize_t)level > max_grey) max_grey = (Py_ssize_t)level;
    }
    if ((work = (double *)malloc((size_t)(6 * n + 2 * (2 * max_grey + 1) + n * n) * sizeof(double) +
                                (size_t)n * sizeof(Py_ssize_t) + 1)) == NULL ||
        (memo = (Memo *)malloc(sizeof(Memo))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (i = 0; i < MEMO; i++) memo->key[i] = -1;
    for (i = 0; i < m; i++) {
        memo->matrix = i;
        glcm_one(doubles(&counts) + i * n * n, doubles(&grey) + i * n, n,
                 doubles(&n_g)[i], max_grey, work, memo, doubles(&out) + i * N_GLCM);
    }
    Py_END_ALLOW_THREADS
    ok = 1;
done:
    free(work);
    free(memo);
    array_release(&counts);
    array_release(&grey);
    array_release(&n_g);
    array_release(&out);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

/* --- GLCM MCC: the second largest eigenvalue of Q --- */

/* Householder reduction of the symmetric m x m matrix a (row-major; its lower triangle is read and
 * overwritten) to a tridiagonal matrix with the same eigenvalues: diagonal d (m), off-diagonal e (m - 1); v
 * and w hold m doubles each. Golub and Van Loan, Matrix Computations (4th ed., 2013), algorithm 8.3.1. The
 * product A v reads each row of the lower triangle once, for its own element (four partial sums) and for
 * the mirrored column. */
static CLONES void tridiagonalise(double *restrict a, Py_ssize_t m, double *restrict d, double *restrict e,
                                  double *restrict v, double *restrict w) {
    Py_ssize_t k, i, j;
    for (k = 0; k + 2 < m; k++) {
        const Py_ssize_t lo = k + 1;
        const double x0 = a[lo * m + k];
        double sigma = 0.0, alpha, beta, pv = 0.0, half;
        for (i = lo + 1; i < m; i++) sigma += a[i * m + k] * a[i * m + k];
        d[k] = a[k * m + k];
        if (sigma == 0.0) { /* the column is already reduced */
            e[k] = x0;
            continue;
        }
        alpha = sqrt(x0 * x0 + sigma);
        if (x0 > 0.0) alpha = -alpha;
        v[lo] = x0 - alpha;
        for (i = lo + 1; i < m; i++) v[i] = a[i * m + k];
        beta = 1.0 / (alpha * (alpha - x0)); /* 2 / v'v */
        for (i = lo; i < m; i++) w[i] = 0.0;
        for (i = lo; i < m; i++) { /* w = A v from the lower triangle: row i left of the diagonal, and its mirror */
            const double *row = a + i * m, vi = v[i];
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
            for (j = lo; j + 3 < i; j += 4) {
                s0 += row[j] * v[j];
                s1 += row[j + 1] * v[j + 1];
                s2 += row[j + 2] * v[j + 2];
                s3 += row[j + 3] * v[j + 3];
                w[j] += row[j] * vi;
                w[j + 1] += row[j + 1] * vi;
                w[j + 2] += row[j + 2] * vi;
                w[j + 3] += row[j + 3] * vi;
            }
            for (; j < i; j++) {
                s0 += row[j] * v[j];
                w[j] += row[j] * vi;
            }
            w[i] += (s0 + s1) + (s2 + s3) + row[i] * vi;
        }
        for (i = lo; i < m; i++) {
            w[i] *= beta;
            pv += w[i] * v[i];
        }
        half = 0.5 * beta * pv;
        for (i = lo; i < m; i++) w[i] -= half * v[i];
        for (i = lo; i < m; i++) { /* A -= v w' + w v', lower triangle */
            double *row = a + i * m;
            const double vi = v[i], wi = w[i];
            for (j = lo; j <= i; j++) row[j] -= vi * w[j] + wi * v[j];
        }
        e[k] = alpha;
    }
    if (m >= 2) {
        d[m - 2] = a[(m - 2) * m + m - 2];
        e[m - 2] = a[(m - 1) * m + m - 2];
    }
    if (m >= 1) d[m - 1] = a[(m - 1) * m + m - 1];
}

/* The number of eigenvalues below x of the tridiagonal matrix (d, e2 = squared off-diagonal): the
 * negative pivots of the LDL' factorisation of T - x I (Sturm), pivots smaller than pivmin replaced. */
static Py_ssize_t count_below(const double *d, const double *e2, Py_ssize_t m, double x, double pivmin) {
    Py_ssize_t i, count = 0;
    double q = d[0] - x;
    if (fabs(q) < pivmin) q = -pivmin;
    if (q < 0.0) count++;
    for (i = 1; i < m; i++) {
        q = d[i] - x - e2[i - 1] / q;
        if (fabs(q) < pivmin) q = -pivmin;
        if (q < 0.0) count++;
    }
    return count;
}

/* The largest (largest = 1) or smallest eigenvalue of the tridiagonal matrix (d, e, e2 = e^2, m >= 1).
 * Laguerre's iteration on det(T - x I) from the Gershgorin bound beyond it: for a polynomial with real
 * roots it moves monotonically to the nearest root, cubically near a simple one (Wilkinson, The Algebraic
 * Eigenvalue Problem, 1965, ch. 7; Parlett, The Symmetric Eigenvalue Problem, 1998). log det and its first
 * two derivatives come from the LDL' pivots q_i of T - x I and theirs. Should it not settle in 60 steps,
 * bisection with Sturm counts finishes (to a few ulp). */
static double extreme_eigenvalue(const double *d, const double *e, const double *e2, Py_ssize_t m, int largest) {
    Py_ssize_t i, step;
    const double n = (double)m;
    double lo = d[0], hi = d[0], pivmin = DBL_MIN, x;
    for (i = 0; i < m; i++) {
        const double radius = (i > 0 ? fabs(e[i - 1]) : 0.0) + (i + 1 < m ? fabs(e[i]) : 0.0);
        if (d[i] - radius < lo) lo = d[i] - radius;
        if (d[i] + radius > hi) hi = d[i] + radius;
        if (i + 1 < m && e2[i] * DBL_MIN > pivmin) pivmin = e2[i] * DBL_MIN;
    }
    if (m == 1) return d[0];
    x = largest ? hi : lo;
    for (step = 0; step < 60; step++) {
        double q = d[0] - x, dq = -1.0, ddq = 0.0, g, h, root, denominator, move;
        double sum_a = 0.0, sum_b = 0.0;
        int exact = q == 0.0;
        for (i = 0; i < m && !exact; i++) {
            if (i > 0) {
                const double r = 1.0 / q, e2r2 = e2[i - 1] * r * r;
                const double dq_next = -1.0 + e2r2 * dq;
                ddq = e2r2 * (ddq - 2.0 * dq * dq * r);
                q = d[i] - x - e2[i - 1] * r;
                dq = dq_next;
                if (q == 0.0) {
                    exact = 1;
                    break;
                }
            }
            {
                const double a = dq / q;
                sum_a += a;
                sum_b += ddq / q - a * a;
            }
        }
        if (exact) return x; /* x is an eigenvalue (pivots cannot vanish beyond the spectrum) */
        g = sum_a;            /* sum 1 / (x - lambda) */
        h = -sum_b;           /* sum 1 / (x - lambda)^2 */
        root = sqrt(fmax((n - 1.0) * (n * h - g * g), 0.0));
        denominator = g >= 0.0 ? g + root : g - root;
        if (denominator == 0.0 || !isfinite(denominator)) break;
        move = n / denominator;
        x -= move;
        if (fabs(move) <= 2.0 * DBL_EPSILON * fabs(x) + pivmin) return x;
    }
    /* bisection on [lo, hi] */
    for (;;) {
        const double width = fabs(lo) > fabs(hi) ? fabs(lo) : fabs(hi);
        x = 0.5 * (lo + hi);
        if (hi - lo <= 4.0 * DBL_EPSILON * width + 2.0 * pivmin || x <= lo || x >= hi) return x;
        if (largest ? count_below(d, e2, m, x, pivmin) == m : count_below(d, e2, m, x, pivmin) > 0)
            hi = x;
        else
            lo = x;
    }
}

/* MCC of one matrix counts (n x n); work holds 2 n^2 + 6 n doubles and 2 n Py_ssize_t. With p = counts /
 * total and its marginals p_x, p_y, Q = D_x^-1 P D_y^-1 P' is similar to S = A A', A = D_x^-1/2 P D_y^-1/2
 * (rows and columns of absent levels removed), whose largest eigenvalue is 1, of eigenvector u = sqrt(p_x):
 * S u = u. The second largest eigenvalue of S is the largest of S - u u' (the other eigenvalues stay). A
 * symmetric P gives a symmetric A (p_x = p_y) and S = A^2: the largest |eigenvalue| of A - u u', squared;
 * no product needed. Returns sqrt of it (PyRadiomics' MCC). */
static double mcc_one(const double *counts, Py_ssize_t n, double *work) {
    double *px = work, *py = px + n, *d = py + n, *e = d + n, *v = e + n, *w = v + n, *s = w + n, *a = s + n * n;
    Py_ssize_t *rows = (Py_ssize_t *)(a + n * n), *columns = rows + n, mr = 0, mc = 0, i, j, b;
    double total = 0.0, largest, pivmin = DBL_MIN, inverse;
    int symmetric = 1;
    for (i = 0; i < n; i++) px[i] = py[i] = 0.0;
    for (i = 0; i < n; i++) {
        const double *row = counts + i * n;
        for (j = 0; j < n; j++) {
            px[i] += row[j];
            py[j] += row[j];
        }
        for (j = i + 1; j < n && symmetric; j++) symmetric = row[j] == counts[j * n + i];
        total += px[i];
    }
    inverse = 1.0 / total;
    for (i = 0; i < n; i++) { /* v = u = sqrt(p_x); px, py: 1 / sqrt of the marginals (0 for absent levels) */
        if (px[i] > 0.0) rows[mr++] = i;
        if (py[i] > 0.0) columns[mc++] = i;
        v[i] = sqrt(px[i] * inverse); /* u */
        px[i] = px[i] > 0.0 ? 1.0 / v[i] : 0.0;
        py[i] = py[i] > 0.0 ? 1.0 / sqrt(py[i] * inverse) : 0.0;
    }
    if (mr == 0) return NAN;
    if (mr == 1 || mc == 1) return 0.0; /* A has rank one: its only singular value is 1 */
    if (symmetric) { /* S - u u' from A - u u' */
        for (i = 0; i < mr; i++) {
            const Py_ssize_t r = rows[i];
            const double *row = counts + r * n, scale = px[r] * inverse, u = v[r];
            for (j = 0; j <= i; j++) s[i * mr + j] = row[rows[j]] * scale * px[rows[j]] - u * v[rows[j]];
        }
    } else {
        for (i = 0; i < mr; i++) {
            const double *row = counts + rows[i] * n, scale = px[rows[i]] * inverse;
            for (b = 0; b < mc; b++) a[i * mc + b] = row[columns[b]] * scale * py[columns[b]];
        }
        for (i = 0; i < mr; i++)
            for (j = 0; j <= i; j++) { /* the lower triangle, all tridiagonalise reads */
                double sum = 0.0;
                for (b = 0; b < mc; b++) sum += a[i * mc + b] * a[j * mc + b];
                s[i * mr + j] = sum - v[rows[i]] * v[rows[j]];
            }
    }
    tridiagonalise(s, mr, d, e, v, w);
    for (i = 0; i + 1 < mr; i++) {
        v[i] = e[i] * e[i];
        if (v[i] * DBL_MIN > pivmin) pivmin = v[i] * DBL_MIN;
    }
    largest = extreme_eigenvalue(d, e, v, mr, 1);
    if (!symmetric) return sqrt(largest > 0.0 ? largest : 0.0);
    /* the largest |eigenvalue|: the smallest eigenvalue matters only when one lies below -|largest| */
    if (count_below(d, v, mr, -fabs(largest), pivmin) > 0) {
        const double smallest = extreme_eigenvalue(d, e, v, mr, 0);
        if (-smallest > largest) largest = -smallest;
    }
    return fabs(largest);
}

PyDoc_STRVAR(glcm_mcc_doc,
             "glcm_mcc(counts, out)\n\n"
             "PyRadiomics' MCC of each matrix of counts (float64, M x n x n, n >= 2, no empty matrix): sqrt of\n"
             "the second largest eigenvalue of Q; out is float64 (M,).");

static PyObject *py_glcm_mcc(PyObject *self, PyObject *args) {
    const char *kernel = "glcm_mcc";
    PyObject *counts_obj, *out_obj;
    Array counts = {0}, out = {0};
    Py_ssize_t m, n, i;
    double *work = NULL;
    int ok = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &counts_obj, &out_obj)) return NULL;
    if (array_get(counts_obj, &counts, kernel, "counts", ONLY(TYPE_f64), 0) < 0 ||
        array_get(out_obj, &out, kernel, "out", ONLY(TYPE_f64), 1) < 0)
        goto done;
    if (counts.view.ndim != 3 || counts.view.shape[1] != counts.view.shape[2]) {
        PyErr_Format(PyExc_ValueError, "%s: counts must have shape (M, n, n)", kernel);
        goto done;
    }
    m = counts.view.shape[0];
    n = counts.view.shape[1];
    if (check_size(&out, m, kernel, "out") < 0) goto done;
    if ((work = (double *)malloc((size_t)(2 * n * n + 6 * n + 1) * sizeof(double) +
                                 (size_t)(2 * n) * sizeof(Py_ssize_t))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (i = 0; i < m; i++) doubles(&out)[i] = mcc_one(doubles(&counts) + i * n * n, n, work);
    Py_END_ALLOW_THREADS
    ok = 1;
done:
    free(work);
    array_release(&counts);
    array_release(&out);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

/* --- Count-matrix features (GLSZM, GLDM, NGLDM, GLDZM, GLRLM) --- */

/* Columns of count_features' output, in the order of lai.radiomics.texture.COUNT_FEATURES. */
enum {
    C_SMALL, C_LARGE, C_LOW_GREY, C_HIGH_GREY, C_SMALL_LOW, C_SMALL_HIGH, C_LARGE_LOW, C_LARGE_HIGH,
    C_GREY_NU, C_GREY_NU_NORM, C_COUNT_NU, C_COUNT_NU_NORM, C_PERCENTAGE, C_GREY_VARIANCE, C_COUNT_VARIANCE,
    C_ENTROPY, C_ENERGY, N_COUNT
};

/* The features of one matrix (g x v: entities per grey level i = 1..g and count values[c]) of n_voxels
 * ROI voxels; columns (v doubles) and rows (g doubles) are scratch. The definitions of texture.count_matrix_features, with
 * p = matrix / total: every weight but entropy's and energy's is f(i) g(j), so one pass gathers the
 * marginals and the short and long weighted row sums. */
static void count_one(const double *matrix, Py_ssize_t g, Py_ssize_t v, const double *values, double n_voxels,
                      double *columns, double *rows, double *out) {
    Py_ssize_t i, c;
    double total = 0.0, inverse, grey_nu = 0.0, count_nu = 0.0, entropy = 0.0, energy = 0.0;
    double low = 0.0, high = 0.0, small_low = 0.0, small_high = 0.0, large_low = 0.0, large_high = 0.0;
    double mu_i = 0.0, mu_j = 0.0, grey_variance = 0.0, count_variance = 0.0, small = 0.0, large = 0.0;
    for (i = 0; i < g * v; i++) total += matrix[i];
    if (!(total > 0.0)) {
        for (c = 0; c < N_COUNT; c++) out[c] = NAN;
        out[C_PERCENTAGE] = n_voxels != 0.0 ? total / n_voxels : NAN;
        return;
    }
    inverse = 1.0 / total;
    for (c = 0; c < v; c++) columns[c] = 0.0;
    for (i = 0; i < g; i++) {
        const double *row = matrix + i * v, level = (double)(i + 1), level_2 = level * level;
        double row_sum = 0.0, row_small = 0.0, row_large = 0.0;
        for (c = 0; c < v; c++) {
            const double p = row[c] * inverse, j2 = values[c] * values[c];
            row_sum += p;
            row_small += p / j2;
            row_large += p * j2;
            columns[c] += p;
            energy += p * p;
            if (p > 0.0) entropy -= p * log2(p);
        }
        rows[i] = row_sum;
        grey_nu += row_sum * row_sum;
        low += row_sum / level_2;
        high += row_sum * level_2;
        small_low += row_small / level_2;
        small_high += row_small * level_2;
        large_low += row_large / level_2;
        large_high += row_large * level_2;
        mu_i += row_sum * level;
    }
    for (i = 0; i < g; i++) { /* the grey variance needs mu_i: a second pass over the row sums */
        const double centred = (double)(i + 1) - mu_i;
        grey_variance += rows[i] * centred * centred;
    }
    for (c = 0; c < v; c++) {
        const double j = values[c];
        count_nu += columns[c] * columns[c];
        small += columns[c] / (j * j);
        large += columns[c] * j * j;
        mu_j += columns[c] * j;
    }
    for (c = 0; c < v; c++) count_variance += columns[c] * (values[c] - mu_j) * (values[c] - mu_j);
    out[C_SMALL] = small;
    out[C_LARGE] = large;
    out[C_LOW_GREY] = low;
    out[C_HIGH_GREY] = high;
    out[C_SMALL_LOW] = small_low;
    out[C_SMALL_HIGH] = small_high;
    out[C_LARGE_LOW] = large_low;
    out[C_LARGE_HIGH] = large_high;
    out[C_GREY_NU] = grey_nu * total;
    out[C_GREY_NU_NORM] = grey_nu;
    out[C_COUNT_NU] = count_nu * total;
    out[C_COUNT_NU_NORM] = count_nu;
    out[C_PERCENTAGE] = n_voxels != 0.0 ? total / n_voxels : NAN;
    out[C_GREY_VARIANCE] = grey_variance;
    out[C_COUNT_VARIANCE] = count_variance;
    out[C_ENTROPY] = entropy;
    out[C_ENERGY] = energy;
}

PyDoc_STRVAR(count_features_doc,
             "count_features(matrix, values, n_voxels, out)\n\n"
             "The count-matrix features (lai.radiomics.texture.COUNT_FEATURES, columns of out, float64 M x 17)\n"
             "of each matrix of matrix (float64, M x G x V: entities per grey level 1..G and count values[c],\n"
             "values float64 (V,) > 0), n_voxels float64 (M,) the ROI voxels of each (Percentage).");

static PyObject *py_count_features(PyObject *self, PyObject *args) {
    const char *kernel = "count_features";
    PyObject *matrix_obj, *values_obj, *n_voxels_obj, *out_obj;
    Array matrix = {0}, values = {0}, n_voxels = {0}, out = {0};
    Py_ssize_t m, g, v, i;
    double *columns = NULL;
    int ok = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOO", &matrix_obj, &values_obj, &n_voxels_obj, &out_obj)) return NULL;
    if (array_get(matrix_obj, &matrix, kernel, "matrix", ONLY(TYPE_f64), 0) < 0 ||
        array_get(values_obj, &values, kernel, "values", ONLY(TYPE_f64), 0) < 0 ||
        array_get(n_voxels_obj, &n_voxels, kernel, "n_voxels", ONLY(TYPE_f64), 0) < 0 ||
        array_get(out_obj, &out, kernel, "out", ONLY(TYPE_f64), 1) < 0)
        goto done;
    if (matrix.view.ndim != 3) {
        PyErr_Format(PyExc_ValueError, "%s: matrix must have shape (M, G, V)", kernel);
        goto done;
    }
    m = matrix.view.shape[0];
    g = matrix.view.shape[1];
    v = matrix.view.shape[2];
    if (check_size(&values, v, kernel, "values") < 0 || check_size(&n_voxels, m, kernel, "n_voxels") < 0 ||
        check_size(&out, m * N_COUNT, kernel, "out") < 0)
        goto done;
    for (i = 0; i < v; i++)
        if (!(doubles(&values)[i] > 0.0)) {
            PyErr_Format(PyExc_ValueError, "%s: count values must be positive", kernel);
            goto done;
        }
    if ((columns = (double *)malloc((size_t)(v + g + 1) * sizeof(double))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (i = 0; i < m; i++)
        count_one(doubles(&matrix) + i * g * v, g, v, doubles(&values), doubles(&n_voxels)[i], columns,
                  columns + v, doubles(&out) + i * N_COUNT);
    Py_END_ALLOW_THREADS
    ok = 1;
done:
    free(columns);
    array_release(&matrix);
    array_release(&values);
    array_release(&n_voxels);
    array_release(&out);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

/* --- NGTDM and count histograms: one pass over the ROI's elements --- */

PyDoc_STRVAR(ngtdm_accumulate_doc,
             "ngtdm_accumulate(centre, total, number, group, n_levels, s, n)\n\n"
             "For each ROI element v (int64 arrays of one length) with number[v] > 0: key = group[v] * n_levels\n"
             "+ centre[v] - 1; s[key] += |centre[v] - total[v] / number[v]| and n[key] += 1 (float64 outputs,\n"
             "zeroed by the caller), in the elements' order: the sums numpy's bincount makes.");

static PyObject *py_ngtdm_accumulate(PyObject *self, PyObject *args) {
    const char *kernel = "ngtdm_accumulate";
    PyObject *obj[6];
    Array centre = {0}, total = {0}, number = {0}, group = {0}, s = {0}, n = {0};
    Py_ssize_t n_levels, v, bad = -1;
    int ok = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOnOO", &obj[0], &obj[1], &obj[2], &obj[3], &n_levels, &obj[4], &obj[5]))
        return NULL;
    if (array_get(obj[0], &centre, kernel, "centre", ONLY(TYPE_i64), 0) < 0 ||
        array_get(obj[1], &total, kernel, "total", ONLY(TYPE_i64), 0) < 0 ||
        array_get(obj[2], &number, kernel, "number", ONLY(TYPE_i64), 0) < 0 ||
        array_get(obj[3], &group, kernel, "group", ONLY(TYPE_i64), 0) < 0 ||
        array_get(obj[4], &s, kernel, "s", ONLY(TYPE_f64), 1) < 0 ||
        array_get(obj[5], &n, kernel, "n", ONLY(TYPE_f64), 1) < 0 ||
        check_size(&total, centre.size, kernel, "total") < 0 ||
        check_size(&number, centre.size, kernel, "number") < 0 ||
        check_size(&group, centre.size, kernel, "group") < 0 || check_size(&n, s.size, kernel, "n") < 0)
        goto done;
    if (n_levels < 1) {
        PyErr_Format(PyExc_ValueError, "%s: n_levels must be at least 1, got %zd", kernel, n_levels);
        goto done;
    }
    {
        const int64_t *c = int64s(&centre), *t = int64s(&total);
        const int64_t *k = int64s(&number), *g = int64s(&group);
        double *sums = doubles(&s), *numbers = doubles(&n);
        const Py_ssize_t size = s.size;
        Py_BEGIN_ALLOW_THREADS
        for (v = 0; v < centre.size; v++) { /* keys checked before anything is added */
            const int64_t key = g[v] * (int64_t)n_levels + c[v] - 1;
            if (k[v] > 0 && (c[v] < 1 || c[v] > n_levels || key < 0 || key >= size)) {
                bad = v;
                break;
            }
        }
        if (bad < 0)
            for (v = 0; v < centre.size; v++) {
                if (k[v] > 0) {
                    const int64_t key = g[v] * (int64_t)n_levels + c[v] - 1;
                    sums[key] += fabs((double)c[v] - (double)t[v] / (double)k[v]);
                    numbers[key] += 1.0;
                }
            }
        Py_END_ALLOW_THREADS
    }
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "%s: element %zd has level or group outside the %zd bins", kernel, bad,
                     s.size);
        goto done;
    }
    ok = 1;
done:
    array_release(&centre);
    array_release(&total);
    array_release(&number);
    array_release(&group);
    array_release(&s);
    array_release(&n);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(pair_histogram_doc,
             "pair_histogram(rows, columns, out)\n\n"
             "out[rows[v] - 1, columns[v]] += 1 for every v (rows 1..R, columns 0..C-1 for out of shape (R, C),\n"
             "int64, zeroed by the caller; rows and columns int64 arrays of one length): a grey level by count\n"
             "matrix in one pass. ValueError, before anything is added, when a pair falls outside out.");

static PyObject *py_pair_histogram(PyObject *self, PyObject *args) {
    const char *kernel = "pair_histogram";
    PyObject *rows_obj, *columns_obj, *out_obj;
    Array rows = {0}, columns = {0}, out = {0};
    Py_ssize_t n_rows, n_columns, v, bad = -1;
    int ok = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO", &rows_obj, &columns_obj, &out_obj)) return NULL;
    if (array_get(rows_obj, &rows, kernel, "rows", ONLY(TYPE_i64), 0) < 0 ||
        array_get(columns_obj, &columns, kernel, "columns", ONLY(TYPE_i64), 0) < 0 ||
        array_get(out_obj, &out, kernel, "out", ONLY(TYPE_i64), 1) < 0 ||
        check_size(&columns, rows.size, kernel, "columns") < 0)
        goto done;
    if (out.view.ndim != 2) {
        PyErr_Format(PyExc_ValueError, "%s: out must be 2-dimensional (rows, columns)", kernel);
        goto done;
    }
    n_rows = out.view.shape[0];
    n_columns = out.view.shape[1];
    {
        const int64_t *r = int64s(&rows), *c = int64s(&columns);
        int64_t *counts = int64s(&out);
        Py_BEGIN_ALLOW_THREADS
        for (v = 0; v < rows.size; v++)
            if (r[v] < 1 || r[v] > n_rows || c[v] < 0 || c[v] >= n_columns) {
                bad = v;
                break;
            }
        if (bad < 0)
            for (v = 0; v < rows.size; v++) counts[(r[v] - 1) * n_columns + c[v]] += 1;
        Py_END_ALLOW_THREADS
    }
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "%s: pair %zd lies outside the %zd x %zd histogram", kernel, bad, n_rows,
                     n_columns);
        goto done;
    }
    ok = 1;
done:
    array_release(&rows);
    array_release(&columns);
    array_release(&out);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

/* --- First order: order statistics and sums --- */

static void insertion_sort(double *a, Py_ssize_t lo, Py_ssize_t hi) { /* a[lo..hi] inclusive */
    Py_ssize_t i, j;
    for (i = lo + 1; i <= hi; i++) {
        const double v = a[i];
        for (j = i; j > lo && a[j - 1] > v; j--) a[j] = a[j - 1];
        a[j] = v;
    }
}

/* Move the elements of a[lo..hi) for which (a[i] < pivot) (strict) or (a[i] <= pivot) holds to the front,
 * keeping the others behind them, and return where the others start. Branchless (Lomuto's scheme with an
 * unconditional swap): on random data a branch per element would be mispredicted half the time. */
static Py_ssize_t partition_below(double *a, Py_ssize_t lo, Py_ssize_t hi, double pivot, int strict) {
    Py_ssize_t i, j = lo;
    if (strict)
        for (i = lo; i < hi; i++) {
            const double v = a[i];
            const Py_ssize_t below = v < pivot;
            a[i] = a[j];
            a[j] = v;
            j += below;
        }
    else
        for (i = lo; i < hi; i++) {
            const double v = a[i];
            const Py_ssize_t below = v <= pivot;
            a[i] = a[j];
            a[j] = v;
            j += below;
        }
    return j;
}

static double median_of_three(double x, double y, double z) {
    if (x > y) {
        const double t = x;
        x = y;
        y = t;
    }
    return z < x ? x : (z > y ? y : z);
}

/* Put at each rank ranks[r0..r1) (sorted) of a[lo..hi) the value a sort would put there: three-way
 * partitions (less than, equal to, greater than a median of three; the equal part is in place) that
 * descend only into the parts holding ranks. */
static void select_ranks(double *a, Py_ssize_t lo, Py_ssize_t hi, const int64_t *ranks, Py_ssize_t r0,
                         Py_ssize_t r1) {
    while (r0 < r1) {
        Py_ssize_t less, equal, split, done;
        double pivot;
        if (hi - lo <= 16) {
            insertion_sort(a, lo, hi - 1);
            return;
        }
        pivot = median_of_three(a[lo], a[lo + (hi - lo) / 2], a[hi - 1]);
        less = partition_below(a, lo, hi, pivot, 1);      /* a[lo..less) < pivot */
        equal = partition_below(a, less, hi, pivot, 0);   /* a[less..equal) == pivot, a[equal..hi) > */
        for (split = r0; split < r1 && ranks[split] < less; split++) {
        }
        for (done = split; done < r1 && ranks[done] < equal; done++) {
        }
        if (split - r0 < r1 - done) { /* recurse into the side with fewer ranks, loop on the other */
            select_ranks(a, lo, less, ranks, r0, split);
            lo = equal;
            r0 = done;
        } else {
            select_ranks(a, equal, hi, ranks, done, r1);
            hi = less;
            r1 = split;
        }
    }
}

PyDoc_STRVAR(order_statistics_doc,
             "order_statistics(values, ranks, out) -> int\n\n"
             "out[r] = the value of rank ranks[r] (0-based, increasing int64) among values (float64), exact,\n"
             "by selection on a copy. Returns the number of NaN values (then out is not filled).");

static PyObject *py_order_statistics(PyObject *self, PyObject *args) {
    const char *kernel = "order_statistics";
    PyObject *values_obj, *ranks_obj, *out_obj;
    Array values = {0}, ranks = {0}, out = {0};
    Py_ssize_t r, n, nans = 0;
    double *copy = NULL;
    int ok = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO", &values_obj, &ranks_obj, &out_obj)) return NULL;
    if (array_get(values_obj, &values, kernel, "values", ONLY(TYPE_f64), 0) < 0 ||
        array_get(ranks_obj, &ranks, kernel, "ranks", ONLY(TYPE_i64), 0) < 0 ||
        array_get(out_obj, &out, kernel, "out", ONLY(TYPE_f64), 1) < 0 ||
        check_size(&out, ranks.size, kernel, "out") < 0)
        goto done;
    n = values.size;
    for (r = 0; r < ranks.size; r++) {
        const int64_t rank = int64s(&ranks)[r];
        if (rank < 0 || rank >= n || (r > 0 && rank <= int64s(&ranks)[r - 1])) {
            PyErr_Format(PyExc_ValueError, "%s: ranks must increase strictly within 0..%zd, got %lld at %zd",
                         kernel, n - 1, (long long)rank, r);
            goto done;
        }
    }
    if ((copy = (double *)malloc((size_t)n * sizeof(double) + 1)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    {
        const double *x = doubles(&values);
        Py_ssize_t f;
        for (f = 0; f < n; f++) {
            copy[f] = x[f];
            nans += x[f] != x[f];
        }
        if (nans == 0) {
            const int64_t *rank = int64s(&ranks);
            select_ranks(copy, 0, n, rank, 0, ranks.size);
            for (r = 0; r < ranks.size; r++) doubles(&out)[r] = copy[rank[r]];
        }
    }
    Py_END_ALLOW_THREADS
    ok = 1;
done:
    free(copy);
    array_release(&values);
    array_release(&ranks);
    array_release(&out);
    return ok ? PyLong_FromSsize_t(nans) : NULL;
}

PyDoc_STRVAR(binned_order_statistics_doc,
             "binned_order_statistics(values, keys, segment_of_key, sizes, ranks, rank_segment, out) -> int\n\n"
             "order_statistics when a discretisation keys (int64, one per value, ordered as the values) tells\n"
             "in which bins the ranks fall: one pass copies the values of the bins with segment_of_key >= 0\n"
             "(segment s holds sizes[s] values), then out[r] = the value of rank ranks[r] within segment\n"
             "rank_segment[r] (ranks increase within a segment). Returns the number of NaN values (then out is\n"
             "not filled).");

static PyObject *py_binned_order_statistics(PyObject *self, PyObject *args) {
    const char *kernel = "binned_order_statistics";
    PyObject *obj[7];
    Array values = {0}, keys = {0}, segment_of_key = {0}, sizes = {0}, ranks = {0}, rank_segment = {0}, out = {0};
    Py_ssize_t n, n_keys, n_segments, r, s, total = 0, nans = 0, mismatch = -1, bad_key = -1;
    int64_t *start = NULL, *fill = NULL, *seen = NULL;
    double *buffer = NULL;
    int ok = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOO", &obj[0], &obj[1], &obj[2], &obj[3], &obj[4], &obj[5], &obj[6]))
        return NULL;
    if (array_get(obj[0], &values, kernel, "values", ONLY(TYPE_f64), 0) < 0 ||
        array_get(obj[1], &keys, kernel, "keys", ONLY(TYPE_i64), 0) < 0 ||
        array_get(obj[2], &segment_of_key, kernel, "segment_of_key", ONLY(TYPE_i64), 0) < 0 ||
        array_get(obj[3], &sizes, kernel, "sizes", ONLY(TYPE_i64), 0) < 0 ||
        array_get(obj[4], &ranks, kernel, "ranks", ONLY(TYPE_i64), 0) < 0 ||
        array_get(obj[5], &rank_segment, kernel, "rank_segment", ONLY(TYPE_i64), 0) < 0 ||
        array_get(obj[6], &out, kernel, "out", ONLY(TYPE_f64), 1) < 0 ||
        check_size(&keys, values.size, kernel, "keys") < 0 ||
        check_size(&rank_segment, ranks.size, kernel, "rank_segment") < 0 ||
        check_size(&out, ranks.size, kernel, "out") < 0)
        goto done;
    n = values.size;
    n_keys = segment_of_key.size;
    n_segments = sizes.size;
    for (s = 0; s < n_keys; s++) {
        const int64_t segment = int64s(&segment_of_key)[s];
        if (segment < -1 || segment >= n_segments) {
            PyErr_Format(PyExc_ValueError, "%s: segment_of_key must lie in -1..%zd, got %lld", kernel,
                         n_segments - 1, (long long)segment);
            goto done;
        }
    }
    for (s = 0; s < n_segments; s++) {
        const int64_t size = int64s(&sizes)[s];
        if (size < 0 || size > n) {
            PyErr_Format(PyExc_ValueError, "%s: sizes must lie in 0..%zd, got %lld", kernel, n, (long long)size);
            goto done;
        }
        total += (Py_ssize_t)size + 1; /* one slack slot after each segment */
    }
    for (r = 0; r < ranks.size; r++) {
        const int64_t rank = int64s(&ranks)[r], segment = int64s(&rank_segment)[r];
        const int64_t *previous = r > 0 ? int64s(&ranks) + r - 1 : NULL;
        if (segment < 0 || segment >= n_segments || rank < 0 || rank >= int64s(&sizes)[segment] ||
            (previous && int64s(&rank_segment)[r - 1] == segment && rank <= *previous)) {
            PyErr_Format(PyExc_ValueError,
                         "%s: rank %lld of segment %lld at %zd is outside the segment or does not increase", kernel,
                         (long long)rank, (long long)segment, r);
            goto done;
        }
    }
    start = (int64_t *)malloc((size_t)(n_segments + 1) * sizeof(int64_t));
    fill = (int64_t *)malloc((size_t)(n_segments + 1) * sizeof(int64_t));
    seen = (int64_t *)calloc((size_t)(n_segments + 1), sizeof(int64_t));
    buffer = (double *)malloc((size_t)(total + 1) * sizeof(double));
    if (start == NULL || fill == NULL || seen == NULL || buffer == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    {
        const double *x = doubles(&values);
        const int64_t *key = int64s(&keys), *segment_of = int64s(&segment_of_key), *size = int64s(&sizes);
        Py_ssize_t f, position = 0;
        for (s = 0; s < n_segments; s++) {
            start[s] = fill[s] = position;
            position += size[s] + 1;
        }
        start[n_segments] = fill[n_segments] = position; /* the sink: values of the other bins, overwritten */
        for (f = 0; f < n; f++) {
            const int64_t k = key[f];
            Py_ssize_t segment, at;
            if (k < 0 || k >= n_keys) {
                bad_key = f;
                break;
            }
            segment = segment_of[k] < 0 ? n_segments : (Py_ssize_t)segment_of[k];
            at = fill[segment];
            buffer[at] = x[f];
            /* advance within the segment, staying on its slack slot if the sizes were wrong */
            fill[segment] = at + (segment < n_segments && at < start[segment] + size[segment]);
            seen[segment] += 1;
            nans += x[f] != x[f];
        }
        for (s = 0; s < n_segments && bad_key < 0; s++)
            if (seen[s] != size[s]) {
                mismatch = s;
                break;
            }
        if (bad_key < 0 && mismatch < 0 && nans == 0) {
            const int64_t *rank = int64s(&ranks), *rank_of = int64s(&rank_segment);
            double *result = doubles(&out);
            Py_ssize_t first = 0, last;
            while (first < ranks.size) { /* the ranks of one segment follow each other */
                for (last = first; last < ranks.size && rank_of[last] == rank_of[first]; last++) {
                }
                select_ranks(buffer + start[rank_of[first]], 0, size[rank_of[first]], rank, first, last);
                for (r = first; r < last; r++) result[r] = buffer[start[rank_of[r]] + rank[r]];
                first = last;
            }
        }
    }
    Py_END_ALLOW_THREADS
    if (bad_key >= 0) {
        PyErr_Format(PyExc_ValueError, "%s: key %lld of value %zd is not a bin of segment_of_key (0..%zd)", kernel,
                     (long long)int64s(&keys)[bad_key], bad_key, n_keys - 1);
        goto done;
    }
    if (mismatch >= 0) {
        PyErr_Format(PyExc_ValueError, "%s: segment %zd holds %lld values, sizes says %lld", kernel, mismatch,
                     (long long)seen[mismatch], (long long)int64s(&sizes)[mismatch]);
        goto done;
    }
    ok = 1;
done:
    free(start);
    free(fill);
    free(seen);
    free(buffer);
    array_release(&values);
    array_release(&keys);
    array_release(&segment_of_key);
    array_release(&sizes);
    array_release(&ranks);
    array_release(&rank_segment);
    array_release(&out);
    return ok ? PyLong_FromSsize_t(nans) : NULL;
}

/* Columns of firstorder_sums' output. */
enum {
    S_MIN, S_MAX, S_SUM, S_SHIFTED_SQUARES, S_CENTRED_2, S_CENTRED_3, S_CENTRED_4, S_ABSOLUTE, S_ROBUST_COUNT,
    S_ROBUST_SUM, S_ROBUST_ABSOLUTE, N_SUMS
};

#define LANES 4 /* independent accumulators: vectorisable and more accurate than one running sum */

/* The sums of firstorder_sums. Lane l of each sum adds the elements f with f % 4 == l (the tail goes to
 * lane 0), the lanes then add as (0 + 1) + (2 + 3): the same operations in SSE2 (two lanes per register)
 * and in the portable loop, so both give the same bits. Values must not be NaN (the caller checks). */

static void firstorder_sums(const double *x, Py_ssize_t n, double shift, double lo, double hi, double *out) {
    double sum[LANES] = {0}, squares[LANES] = {0}, c2[LANES] = {0}, c3[LANES] = {0}, c4[LANES] = {0},
           absolute[LANES] = {0}, robust_sum[LANES] = {0}, robust_count[LANES] = {0}, robust_abs[LANES] = {0};
    double smallest = x[0], largest = x[0], mean, robust_mean;
    Py_ssize_t f, whole = n - n % LANES;
#ifdef LAI_SSE2
    /* lanes 0-1 in the first register, 2-3 in the second: the same sums as the portable loop below */
    {
        const __m128d low = _mm_set1_pd(lo), high = _mm_set1_pd(hi), add = _mm_set1_pd(shift),
                      ones = _mm_set1_pd(1.0);
        __m128d sum_a = _mm_setzero_pd(), sum_b = sum_a, sq_a = sum_a, sq_b = sum_a, rs_a = sum_a, rs_b = sum_a,
                rc_a = sum_a, rc_b = sum_a, min_a = _mm_set1_pd(x[0]), min_b = min_a, max_a = min_a, max_b = min_a;
        for (f = 0; f < whole; f += LANES) {
            const __m128d va = _mm_loadu_pd(x + f), vb = _mm_loadu_pd(x + f + 2);
            const __m128d sa = _mm_add_pd(va, add), sb = _mm_add_pd(vb, add);
            const __m128d in_a = _mm_and_pd(_mm_cmpge_pd(va, low), _mm_cmple_pd(va, high));
            const __m128d in_b = _mm_and_pd(_mm_cmpge_pd(vb, low), _mm_cmple_pd(vb, high));
            sum_a = _mm_add_pd(sum_a, va);
            sum_b = _mm_add_pd(sum_b, vb);
            sq_a = _mm_add_pd(sq_a, _mm_mul_pd(sa, sa));
            sq_b = _mm_add_pd(sq_b, _mm_mul_pd(sb, sb));
            rs_a = _mm_add_pd(rs_a, _mm_and_pd(in_a, va));
            rs_b = _mm_add_pd(rs_b, _mm_and_pd(in_b, vb));
            rc_a = _mm_add_pd(rc_a, _mm_and_pd(in_a, ones));
            rc_b = _mm_add_pd(rc_b, _mm_and_pd(in_b, ones));
            min_a = _mm_min_pd(min_a, va);
            min_b = _mm_min_pd(min_b, vb);
            max_a = _mm_max_pd(max_a, va);
            max_b = _mm_max_pd(max_b, vb);
        }
        _mm_storeu_pd(sum, sum_a);
        _mm_storeu_pd(sum + 2, sum_b);
        _mm_storeu_pd(squares, sq_a);
        _mm_storeu_pd(squares + 2, sq_b);
        _mm_storeu_pd(robust_sum, rs_a);
        _mm_storeu_pd(robust_sum + 2, rs_b);
        _mm_storeu_pd(robust_count, rc_a);
        _mm_storeu_pd(robust_count + 2, rc_b);
        {
            double lanes[8];
            int l;
            _mm_storeu_pd(lanes, _mm_min_pd(min_a, min_b));
            _mm_storeu_pd(lanes + 2, _mm_max_pd(max_a, max_b));
            for (l = 0; l < 2; l++) {
                smallest = lanes[l] < smallest ? lanes[l] : smallest;
                largest = lanes[2 + l] > largest ? lanes[2 + l] : largest;
            }
        }
    }
#else
    {
        Py_ssize_t l;
        for (f = 0; f < whole; f += LANES)
            for (l = 0; l < LANES; l++) {
                const double v = x[f + l], s = v + shift;
                const int in = v >= lo && v <= hi;
                sum[l] += v;
                squares[l] += s * s;
                robust_sum[l] += in ? v : 0.0;
                robust_count[l] += in ? 1.0 : 0.0;
                smallest = v < smallest ? v : smallest;
                largest = v > largest ? v : largest;
            }
    }
#endif
    for (f = whole; f < n; f++) {
        const double v = x[f], s = v + shift;
        const int in = v >= lo && v <= hi;
        sum[0] += v;
        squares[0] += s * s;
        robust_sum[0] += in ? v : 0.0;
        robust_count[0] += in ? 1.0 : 0.0;
        smallest = v < smallest ? v : smallest;
        largest = v > largest ? v : largest;
    }
    out[S_MIN] = smallest;
    out[S_MAX] = largest;
    out[S_SUM] = (sum[0] + sum[1]) + (sum[2] + sum[3]);
    out[S_SHIFTED_SQUARES] = (squares[0] + squares[1]) + (squares[2] + squares[3]);
    out[S_ROBUST_COUNT] = (robust_count[0] + robust_count[1]) + (robust_count[2] + robust_count[3]);
    out[S_ROBUST_SUM] = (robust_sum[0] + robust_sum[1]) + (robust_sum[2] + robust_sum[3]);
    mean = out[S_SUM] / (double)n;
    robust_mean = out[S_ROBUST_COUNT] > 0 ? out[S_ROBUST_SUM] / out[S_ROBUST_COUNT] : 0.0;
#ifdef LAI_SSE2
    {
        const __m128d low = _mm_set1_pd(lo), high = _mm_set1_pd(hi), centre = _mm_set1_pd(mean),
                      robust_centre = _mm_set1_pd(robust_mean), sign = _mm_set1_pd(-0.0);
        __m128d c2_a = _mm_setzero_pd(), c2_b = c2_a, c3_a = c2_a, c3_b = c2_a, c4_a = c2_a, c4_b = c2_a,
                ab_a = c2_a, ab_b = c2_a, ra_a = c2_a, ra_b = c2_a;
        for (f = 0; f < whole; f += LANES) {
            const __m128d va = _mm_loadu_pd(x + f), vb = _mm_loadu_pd(x + f + 2);
            const __m128d da = _mm_sub_pd(va, centre), db = _mm_sub_pd(vb, centre);
            const __m128d d2a = _mm_mul_pd(da, da), d2b = _mm_mul_pd(db, db);
            const __m128d in_a = _mm_and_pd(_mm_cmpge_pd(va, low), _mm_cmple_pd(va, high));
            const __m128d in_b = _mm_and_pd(_mm_cmpge_pd(vb, low), _mm_cmple_pd(vb, high));
            c2_a = _mm_add_pd(c2_a, d2a);
            c2_b = _mm_add_pd(c2_b, d2b);
            c3_a = _mm_add_pd(c3_a, _mm_mul_pd(d2a, da));
            c3_b = _mm_add_pd(c3_b, _mm_mul_pd(d2b, db));
            c4_a = _mm_add_pd(c4_a, _mm_mul_pd(d2a, d2a));
            c4_b = _mm_add_pd(c4_b, _mm_mul_pd(d2b, d2b));
            ab_a = _mm_add_pd(ab_a, _mm_andnot_pd(sign, da));
            ab_b = _mm_add_pd(ab_b, _mm_andnot_pd(sign, db));
            ra_a = _mm_add_pd(ra_a, _mm_and_pd(in_a, _mm_andnot_pd(sign, _mm_sub_pd(va, robust_centre))));
            ra_b = _mm_add_pd(ra_b, _mm_and_pd(in_b, _mm_andnot_pd(sign, _mm_sub_pd(vb, robust_centre))));
        }
        _mm_storeu_pd(c2, c2_a);
        _mm_storeu_pd(c2 + 2, c2_b);
        _mm_storeu_pd(c3, c3_a);
        _mm_storeu_pd(c3 + 2, c3_b);
        _mm_storeu_pd(c4, c4_a);
        _mm_storeu_pd(c4 + 2, c4_b);
        _mm_storeu_pd(absolute, ab_a);
        _mm_storeu_pd(absolute + 2, ab_b);
        _mm_storeu_pd(robust_abs, ra_a);
        _mm_storeu_pd(robust_abs + 2, ra_b);
    }
#else
    {
        Py_ssize_t l;
        for (f = 0; f < whole; f += LANES)
            for (l = 0; l < LANES; l++) {
                const double v = x[f + l], d = v - mean, d2 = d * d;
                const int in = v >= lo && v <= hi;
                c2[l] += d2;
                c3[l] += d2 * d;
                c4[l] += d2 * d2;
                absolute[l] += fabs(d);
                robust_abs[l] += in ? fabs(v - robust_mean) : 0.0;
            }
    }
#endif
    for (f = whole; f < n; f++) {
        const double v = x[f], d = v - mean, d2 = d * d;
        const int in = v >= lo && v <= hi;
        c2[0] += d2;
        c3[0] += d2 * d;
        c4[0] += d2 * d2;
        absolute[0] += fabs(d);
        robust_abs[0] += in ? fabs(v - robust_mean) : 0.0;
    }
    out[S_CENTRED_2] = (c2[0] + c2[1]) + (c2[2] + c2[3]);
    out[S_CENTRED_3] = (c3[0] + c3[1]) + (c3[2] + c3[3]);
    out[S_CENTRED_4] = (c4[0] + c4[1]) + (c4[2] + c4[3]);
    out[S_ABSOLUTE] = (absolute[0] + absolute[1]) + (absolute[2] + absolute[3]);
    out[S_ROBUST_ABSOLUTE] = (robust_abs[0] + robust_abs[1]) + (robust_abs[2] + robust_abs[3]);
}

PyDoc_STRVAR(firstorder_sums_doc,
             "firstorder_sums(values, shift, lo, hi, out)\n\n"
             "Two passes over values (float64, at least one): out = [min, max, sum, sum (x + shift)^2,\n"
             "sum d^2, sum d^3, sum d^4, sum |d| (d = x - mean), and over lo <= x <= hi: count, sum,\n"
             "sum |x - their mean|].");

static PyObject *py_firstorder_sums(PyObject *self, PyObject *args) {
    const char *kernel = "firstorder_sums";
    PyObject *values_obj, *out_obj;
    Array values = {0}, out = {0};
    double shift, lo, hi;
    int ok = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OdddO", &values_obj, &shift, &lo, &hi, &out_obj)) return NULL;
    if (array_get(values_obj, &values, kernel, "values", ONLY(TYPE_f64), 0) < 0 ||
        array_get(out_obj, &out, kernel, "out", ONLY(TYPE_f64), 1) < 0 || check_size(&out, N_SUMS, kernel, "out") < 0)
        goto done;
    if (values.size < 1) {
        PyErr_Format(PyExc_ValueError, "%s: values must hold at least one value", kernel);
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    firstorder_sums(doubles(&values), values.size, shift, lo, hi, doubles(&out));
    Py_END_ALLOW_THREADS
    ok = 1;
done:
    array_release(&values);
    array_release(&out);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

/* --- Module --- */

static PyMethodDef methods[] = {
    {"correlate_axis", py_correlate_axis, METH_VARARGS, correlate_axis_doc},
    {"correlate_axis_pair", py_correlate_axis_pair, METH_VARARGS, correlate_axis_pair_doc},
    {"glcm_features", py_glcm_features, METH_VARARGS, glcm_features_doc},
    {"glcm_mcc", py_glcm_mcc, METH_VARARGS, glcm_mcc_doc},
    {"count_features", py_count_features, METH_VARARGS, count_features_doc},
    {"ngtdm_accumulate", py_ngtdm_accumulate, METH_VARARGS, ngtdm_accumulate_doc},
    {"pair_histogram", py_pair_histogram, METH_VARARGS, pair_histogram_doc},
    {"order_statistics", py_order_statistics, METH_VARARGS, order_statistics_doc},
    {"binned_order_statistics", py_binned_order_statistics, METH_VARARGS, binned_order_statistics_doc},
    {"firstorder_sums", py_firstorder_sums, METH_VARARGS, firstorder_sums_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

PyDoc_STRVAR(module_doc,
             "Radiomics floating-point passes in C (1D correlation, GLCM features, first-order sums); use them\n"
             "through lai.radiomics.numeric, which allocates the outputs. Every function checks its buffers\n"
             "and releases the GIL while it computes.");

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "lai.radiomics._numeric", module_doc, 0, methods, slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__numeric(void) { return PyModuleDef_Init(&module); }
