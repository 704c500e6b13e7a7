/*
 * lai.radiomics._kernels: the radiomics counting passes in C (see lai/radiomics/kernels.py, the wrapper).
 *
 * Plain C99 and the Python C API only (no numpy headers): every function takes C-contiguous buffers
 * through the buffer protocol, checks their element type, size and layout, and writes its results
 * into output buffers the Python wrapper allocated with numpy. The loops run without the GIL; there is
 * no global state. Levels may be any integer type (one copy of each loop per type, by macro).
 *
 * Layout of the padded flat arrays (lai.radiomics.texture.padded_levels): the ROI's grey levels, 0
 * outside the ROI, padded by background on every side and flattened in C order, so that a neighbour at
 * an offset is flat[f + step] and no loop needs bounds on the axes. Each kernel checks that every ROI
 * element lies at least the kernel's reach from both ends of the array (else the layout is wrong and a
 * ValueError says so), so a wrong call cannot read or write outside a buffer.
 *
 * Floating point: largest_squared_distance must sum exactly as numpy's einsum does; build without
 * -ffast-math and with -ffp-contract=off (no fused multiply-add).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define LAI_SSE2 1
#endif

#include "_buffers.h"

/* X(suffix, C type, type code) for every integer type a level array may have */
#define LEVEL_TYPES(X)                                                                                   \
    X(u8, uint8_t, TYPE_u8)                                                                              \
    X(u16, uint16_t, TYPE_u16)                                                                           \
    X(u32, uint32_t, TYPE_u32)                                                                           \
    X(u64, uint64_t, TYPE_u64)                                                                           \
    X(i8, int8_t, TYPE_i8)                                                                               \
    X(i16, int16_t, TYPE_i16)                                                                            \
    X(i32, int32_t, TYPE_i32)                                                                            \
    X(i64, int64_t, TYPE_i64)

/* The typed loops are defined once per level type by a macro (DEFINE_...) and reached through a table
 * indexed by the type code, name_of[type], filled by LEVEL_TYPES(TABLE_ENTRY) under a KERNEL_NAME. */
#define TABLE_ENTRY(S, T, CODE) [CODE] = KERNEL_NAME(S),

/* --- Extent of a level array: first and last non-zero element, smallest and largest value --- */

typedef struct {
    Py_ssize_t first, last; /* -1 when every element is 0 */
    Py_ssize_t count;       /* non-zero elements */
    int64_t lo, hi;         /* over all elements; uint64 values above INT64_MAX count as INT64_MAX */
} Extent;

/* A positive level as int64, values above INT64_MAX (uint64 levels only) as INT64_MAX. */
static inline int64_t clipped_to_int64(uint64_t level) {
    return level > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)level;
}

#define DEFINE_EXTENT(S, T, CODE)                                                                        \
    static void extent_##S(const void *data, Py_ssize_t n, Extent *extent) {                            \
        const T *flat = (const T *)data;                                                                 \
        Py_ssize_t f;                                                                                    \
        T lo = 0, hi = 0;                                                                                \
        Py_ssize_t count = 0;                                                                            \
        extent->first = extent->last = -1;                                                               \
        extent->count = 0;                                                                               \
        for (f = 0; f < n; f++)                                                                          \
            if (flat[f] != 0) break;                                                                     \
        if (f == n) {                                                                                    \
            extent->lo = extent->hi = 0;                                                                 \
            return;                                                                                      \
        }                                                                                                \
        extent->first = f;                                                                               \
        for (f = n - 1; flat[f] == 0; f--) {                                                             \
        }                                                                                                \
        extent->last = f;                                                                                \
        lo = hi = flat[0];                                                                               \
        for (f = 0; f < n; f++) {                                                                        \
            lo = flat[f] < lo ? flat[f] : lo;                                                            \
            hi = flat[f] > hi ? flat[f] : hi;                                                            \
            count += flat[f] != 0;                                                                       \
        }                                                                                                \
        extent->count = count;                                                                           \
        extent->lo = (int64_t)lo;                                                                        \
        extent->hi = hi > 0 ? clipped_to_int64((uint64_t)hi) : (int64_t)hi;                              \
    }
LEVEL_TYPES(DEFINE_EXTENT)

typedef void (*extent_function)(const void *, Py_ssize_t, Extent *);
#define KERNEL_NAME(S) extent_##S
static const extent_function extent_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME

/* Scan the levels and check them: non-negative, at most max_level (when >= 0), every ROI element at
 * least reach from both ends. */
static int scan_levels(const Array *flat, Extent *extent, int64_t max_level, Py_ssize_t reach,
                       const char *kernel) {
    Py_BEGIN_ALLOW_THREADS
    extent_of[flat->type](flat->view.buf, flat->size, extent);
    Py_END_ALLOW_THREADS
    if (extent->lo < 0) {
        PyErr_Format(PyExc_ValueError, "%s: levels must be >= 0 (0 outside the ROI), found %lld", kernel,
                     (long long)extent->lo);
        return -1;
    }
    if (max_level >= 0 && extent->hi > max_level) {
        PyErr_Format(PyExc_ValueError, "%s: levels must be at most n_levels=%lld, found %lld", kernel,
                     (long long)max_level, (long long)extent->hi);
        return -1;
    }
    if (extent->first >= 0 && (extent->first < reach || extent->last >= flat->size - reach)) {
        PyErr_Format(PyExc_ValueError,
                     "%s: a ROI element lies within %zd elements of the array's ends: the levels must be "
                     "padded by background (lai.radiomics.texture.padded_levels)",
                     kernel, reach);
        return -1;
    }
    return 0;
}

/* Largest |step|; -1 (with ValueError) when a step is 0 or, with positive_only, negative. */
static Py_ssize_t reach_of(const int64_t *steps, Py_ssize_t n, int positive_only, const char *kernel) {
    Py_ssize_t k;
    int64_t reach = 0;
    for (k = 0; k < n; k++) {
        int64_t step = steps[k];
        if (step == 0 || (positive_only && step < 0)) {
            PyErr_Format(PyExc_ValueError, "%s: steps must be %s, found %lld", kernel,
                         positive_only ? "positive" : "non-zero", (long long)step);
            return -1;
        }
        if (step > PY_SSIZE_T_MAX / 4 || step < -(PY_SSIZE_T_MAX / 4)) {
            PyErr_Format(PyExc_ValueError, "%s: step %lld is larger than any array", kernel, (long long)step);
            return -1;
        }
        step = step < 0 ? -step : step;
        reach = step > reach ? step : reach;
    }
    return (Py_ssize_t)reach;
}

/* --- Element lists --- */

/* Write the flat indices of the non-zero elements in first..last into out (room for their number + 1:
 * the loop stores one index past the last one it keeps) and return their number. */
#define DEFINE_ELEMENTS(S, T, CODE)                                                                      \
    static Py_ssize_t elements_##S(const void *data, Py_ssize_t first, Py_ssize_t last, int32_t *out) {  \
        const T *flat = (const T *)data;                                                                 \
        Py_ssize_t f, n = 0;                                                                             \
        for (f = first; f <= last; f++) {                                                                \
            out[n] = (int32_t)f;                                                                         \
            n += flat[f] != 0;                                                                           \
        }                                                                                                \
        return n;                                                                                        \
    }
LEVEL_TYPES(DEFINE_ELEMENTS)
typedef Py_ssize_t (*elements_function)(const void *, Py_ssize_t, Py_ssize_t, int32_t *);
#define KERNEL_NAME(S) elements_##S
static const elements_function elements_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME

/* The flat indices of the ROI elements, increasing, in a new malloc'd array (int32: flat has fewer than
 * 2**31 elements); NULL with an exception set on failure. */
static int32_t *element_list(const Array *flat, const Extent *extent, Py_ssize_t *count, const char *kernel) {
    int32_t *out;
    *count = 0;
    if (flat->size > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "%s: flat has %zd elements, at most 2**31 - 1 supported", kernel,
                     flat->size);
        return NULL;
    }
    out = (int32_t *)malloc(((size_t)extent->count + 1) * sizeof(int32_t)); /* one spare: see elements_ */
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (extent->count > 0) {
        Py_BEGIN_ALLOW_THREADS
        *count = elements_of[flat->type](flat->view.buf, extent->first, extent->last, out);
        Py_END_ALLOW_THREADS
    }
    return out;
}

/* --- cooccurrence (GLCM) --- */

#define DEFINE_COOCCURRENCE(S, T, CODE)                                                                  \
    static void cooccurrence_##S(const void *data, const int32_t *elements, Py_ssize_t n_elements,       \
                                 const int64_t *steps, Py_ssize_t n_steps, Py_ssize_t side,              \
                                 int64_t *counts) {                                                      \
        const T *flat = (const T *)data;                                                                 \
        const Py_ssize_t area = side * side;                                                             \
        Py_ssize_t v, a;                                                                                 \
        for (v = 0; v < n_elements; v++) {                                                               \
            const T *here = flat + elements[v];                                                          \
            int64_t *row = counts + (Py_ssize_t)*here * side;                                            \
            for (a = 0; a < n_steps; a++) row[a * area + (Py_ssize_t)here[steps[a]]] += 1;               \
        }                                                                                                \
    }
LEVEL_TYPES(DEFINE_COOCCURRENCE)
typedef void (*cooccurrence_function)(const void *, const int32_t *, Py_ssize_t, const int64_t *,
                                      Py_ssize_t, Py_ssize_t, int64_t *);
#define KERNEL_NAME(S) cooccurrence_##S
static const cooccurrence_function cooccurrence_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME

PyDoc_STRVAR(cooccurrence_doc,
             "cooccurrence(flat, steps, n_levels, counts)\n\n"
             "Count into counts (int64, A * (n_levels + 1)^2 elements, zeroed) the pairs\n"
             "(flat[f], flat[f + steps[a]]) of every ROI element f (level > 0), at\n"
             "a * (n_levels + 1)^2 + flat[f] * (n_levels + 1) + flat[f + steps[a]].");

static PyObject *py_cooccurrence(PyObject *self, PyObject *args) {
    const char *kernel = "cooccurrence";
    PyObject *flat_obj, *steps_obj, *counts_obj, *result = NULL;
    Py_ssize_t n_levels, side, reach, n_elements;
    Array flat = {0}, steps = {0}, counts = {0};
    Extent extent;
    int32_t *elements = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOnO", &flat_obj, &steps_obj, &n_levels, &counts_obj)) return NULL;
    if (array_get(flat_obj, &flat, kernel, "flat", INTEGERS, 0) < 0 ||
        array_get(steps_obj, &steps, kernel, "steps", ONLY(TYPE_i64), 0) < 0 ||
        array_get(counts_obj, &counts, kernel, "counts", ONLY(TYPE_i64), 1) < 0)
        goto done;
    if (n_levels < 0 || n_levels > 65535) {
        PyErr_Format(PyExc_ValueError, "%s: n_levels must be in 0..65535, got %zd", kernel, n_levels);
        goto done;
    }
    side = n_levels + 1;
    if (check_size(&counts, steps.size * side * side, kernel, "counts") < 0) goto done;
    if ((reach = reach_of(int64s(&steps), steps.size, 0, kernel)) < 0) goto done;
    if (scan_levels(&flat, &extent, n_levels, reach, kernel) < 0) goto done;
    if ((elements = element_list(&flat, &extent, &n_elements, kernel)) == NULL) goto done;
    Py_BEGIN_ALLOW_THREADS
    cooccurrence_of[flat.type](flat.view.buf, elements, n_elements, int64s(&steps), steps.size, side, int64s(&counts));
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(elements);
    array_release(&flat);
    array_release(&steps);
    array_release(&counts);
    return result;
}

/* --- run_lengths (GLRLM) --- */

/* so_far[f] is the length of the run so far at element f, clipped to bound - 1 as the key is, by
 * increasing index (f - step comes before f); a run ends where the next element along the direction has
 * another level. Every element adds its end (0 or 1) to the count of its key, without a branch. The
 * scratch is small (uint16 lengths, int32 indices) so that it stays in the L2 cache. */
#define DEFINE_RUN_LENGTHS(S, T, CODE)                                                                   \
    static void run_lengths_##S(const void *data, const int32_t *elements, Py_ssize_t n_elements,        \
                                const int64_t *steps, Py_ssize_t n_steps, Py_ssize_t bound,              \
                                Py_ssize_t depth, Py_ssize_t n_slices, Py_ssize_t per_direction,         \
                                int32_t *slice_keys, uint16_t *so_far, int64_t *counts) {                \
        const T *flat = (const T *)data;                                                                 \
        const Py_ssize_t per_slice = per_direction / n_slices;                                           \
        const uint16_t shorter = (uint16_t)(bound - 2); /* longest kept length - 1 */                    \
        Py_ssize_t v, d;                                                                                 \
        for (v = 0; n_slices > 1 && v < n_elements; v++) {                                               \
            Py_ssize_t s = elements[v] % depth - 1;                                                      \
            s = s < 0 ? 0 : s > n_slices - 1 ? n_slices - 1 : s;                                         \
            slice_keys[v] = (int32_t)(s * per_slice);                                                    \
        }                                                                                                \
        for (d = 0; d < n_steps; d++) {                                                                  \
            const Py_ssize_t step = (Py_ssize_t)steps[d];                                                \
            int64_t *row = counts + d * per_direction;                                                   \
            for (v = 0; v < n_elements; v++) {                                                           \
                const Py_ssize_t f = elements[v];                                                        \
                const T level = flat[f];                                                                 \
                const uint16_t before = so_far[f - step] < shorter ? so_far[f - step] : shorter;         \
                const uint16_t length = (uint16_t)(1 + (flat[f - step] == level) * before);              \
                so_far[f] = length;                                                                      \
                row[(n_slices > 1 ? slice_keys[v] : 0) + (Py_ssize_t)level * bound + length] +=          \
                    flat[f + step] != level;                                                             \
            }                                                                                            \
        }                                                                                                \
    }
LEVEL_TYPES(DEFINE_RUN_LENGTHS)
typedef void (*run_lengths_function)(const void *, const int32_t *, Py_ssize_t, const int64_t *, Py_ssize_t,
                                     Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t, int32_t *, uint16_t *,
                                     int64_t *);
#define KERNEL_NAME(S) run_lengths_##S
static const run_lengths_function run_lengths_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME

PyDoc_STRVAR(run_lengths_doc,
             "run_lengths(flat, steps, n_levels, bound, depth, n_slices, counts)\n\n"
             "Count into counts (int64, D * n_slices * (n_levels + 1) * bound elements, zeroed) the runs\n"
             "of each direction d at (d * n_slices + s) * (n_levels + 1) * bound + level * bound + length,\n"
             "length clipped to bound - 1, s the run's first element's index along the last axis minus\n"
             "one, clipped to 0..n_slices - 1 (0 when n_slices is 1).");

static PyObject *py_run_lengths(PyObject *self, PyObject *args) {
    const char *kernel = "run_lengths";
    PyObject *flat_obj, *steps_obj, *counts_obj, *result = NULL;
    Py_ssize_t n_levels, bound, depth, n_slices, reach, n_elements, per_direction;
    Array flat = {0}, steps = {0}, counts = {0};
    Extent extent;
    int32_t *elements = NULL, *slice_keys = NULL;
    uint16_t *so_far = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOnnnnO", &flat_obj, &steps_obj, &n_levels, &bound, &depth, &n_slices,
                          &counts_obj))
        return NULL;
    if (array_get(flat_obj, &flat, kernel, "flat", INTEGERS, 0) < 0 ||
        array_get(steps_obj, &steps, kernel, "steps", ONLY(TYPE_i64), 0) < 0 ||
        array_get(counts_obj, &counts, kernel, "counts", ONLY(TYPE_i64), 1) < 0)
        goto done;
    if (n_levels < 0 || bound < 2 || bound > 65535 || depth < 1 || n_slices < 1 ||
        (n_levels + 1) * bound > INT32_MAX / n_slices) {
        PyErr_Format(PyExc_ValueError,
                     "%s: need n_levels >= 0, 2 <= bound <= 65535, depth >= 1, n_slices >= 1 and fewer than "
                     "2**31 keys per direction, got %zd, %zd, %zd, %zd",
                     kernel, n_levels, bound, depth, n_slices);
        goto done;
    }
    per_direction = n_slices * (n_levels + 1) * bound;
    if (check_size(&counts, steps.size * per_direction, kernel, "counts") < 0) goto done;
    if ((reach = reach_of(int64s(&steps), steps.size, 1, kernel)) < 0) goto done;
    if (scan_levels(&flat, &extent, n_levels, reach, kernel) < 0) goto done;
    if ((elements = element_list(&flat, &extent, &n_elements, kernel)) == NULL) goto done;
    slice_keys = (int32_t *)malloc((n_slices > 1 ? (size_t)n_elements : 0) * sizeof(int32_t) + 1);
    so_far = (uint16_t *)calloc((size_t)flat.size + 1, sizeof(uint16_t));
    if (slice_keys == NULL || so_far == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    run_lengths_of[flat.type](flat.view.buf, elements, n_elements, int64s(&steps),
                              steps.size, bound, depth, n_slices, per_direction, slice_keys, so_far,
                              int64s(&counts));
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(elements);
    free(slice_keys);
    free(so_far);
    array_release(&flat);
    array_release(&steps);
    array_release(&counts);
    return result;
}

/* --- Zones (GLSZM, GLDZM): union-find over the ROI elements --- */

#define MAX_ZONE_STEPS 32
#define ZONE_CHUNK 2048

/* Follow parents to the root, then point every element on the way at it. */
static inline int32_t zone_root(int32_t *parent, int32_t f) {
    int32_t root = f;
    while (parent[root] != root) root = parent[root];
    while (parent[f] != root) {
        int32_t next = parent[f];
        parent[f] = root;
        f = next;
    }
    return root;
}

static inline int lowest_bit(uint32_t bits) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctz(bits);
#else
    int k = 0;
    while (!(bits & 1u)) bits >>= 1, k++;
    return k;
#endif
}

/* Join each element with its earlier neighbours of equal level (f - steps[k], steps positive, the smallest
 * first). The smaller index becomes the root, so parent[f] <= f and a zone's root is its first element
 * in C order. The equal neighbours of a chunk of positions are found first, one bit per step, by passes
 * the compiler vectorises; when the nearest one, f - steps[0], has the level, the neighbours it reaches
 * by a step (bits of `covered`) are already in its zone and are skipped (in 3D 8 of the 13). */
#define DEFINE_UNITE(S, T, CODE)                                                                         \
    static inline void unite_steps_##S(const T *flat, Py_ssize_t first, Py_ssize_t last,                 \
                                       const int32_t *steps, const int n_steps, uint32_t covered,        \
                                       int32_t *parent) {                                                \
        uint32_t equal_bits[ZONE_CHUNK];                                                                 \
        Py_ssize_t start, j;                                                                             \
        int k;                                                                                           \
        for (start = first; start <= last; start += ZONE_CHUNK) {                                        \
            const Py_ssize_t n = last - start + 1 < ZONE_CHUNK ? last - start + 1 : ZONE_CHUNK;          \
            const T *level = flat + start;                                                               \
            for (j = 0; j < n; j++) equal_bits[j] = 0;                                                   \
            for (k = 0; k < n_steps; k++) {                                                              \
                const T *neighbour = level - steps[k];                                                   \
                for (j = 0; j < n; j++) equal_bits[j] |= (uint32_t)(level[j] == neighbour[j]) << k;     \
            }                                                                                            \
            for (j = 0; j < n; j++) {                                                                    \
                const int32_t f = (int32_t)(start + j);                                                  \
                int32_t here = f; /* root of f's set, kept up to date */                                 \
                uint32_t equal = equal_bits[j];                                                          \
                if (level[j] == 0) continue;                                                             \
                parent[f] = f;                                                                           \
                if (equal & 1u) equal &= ~covered;                                                       \
                while (equal) {                                                                          \
                    const int32_t g = f - steps[lowest_bit(equal)];                                      \
                    const int32_t there = parent[g] == here ? here : zone_root(parent, g);               \
                    equal &= equal - 1;                                                                  \
                    if (there < here) {                                                                  \
                        parent[here] = there;                                                            \
                        here = there;                                                                    \
                    } else if (there > here) {                                                           \
                        parent[there] = here;                                                            \
                    }                                                                                    \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
    }                                                                                                    \
    /* the 13 steps of 3D and the 4 in-plane ones as constants: the compiler unrolls their loop */      \
    static void unite_##S(const void *data, Py_ssize_t first, Py_ssize_t last, const int32_t *steps,     \
                          int n_steps, uint32_t covered, int32_t *parent) {                              \
        const T *flat = (const T *)data;                                                                 \
        if (n_steps == 13)                                                                               \
            unite_steps_##S(flat, first, last, steps, 13, covered, parent);                              \
        else if (n_steps == 4)                                                                           \
            unite_steps_##S(flat, first, last, steps, 4, covered, parent);                               \
        else                                                                                             \
            unite_steps_##S(flat, first, last, steps, n_steps, covered, parent);                         \
    }
LEVEL_TYPES(DEFINE_UNITE)
typedef void (*unite_function)(const void *, Py_ssize_t, Py_ssize_t, const int32_t *, int, uint32_t,
                               int32_t *);
#define KERNEL_NAME(S) unite_##S
static const unite_function unite_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME

/* Number the zones 0, 1, ... by their first element, in place: as parent[f] < f for every element that is
 * not a root, parent[parent[f]] already holds the zone's number when f is reached. */
static Py_ssize_t number_zones(const int32_t *elements, Py_ssize_t n_elements, int32_t *parent) {
    Py_ssize_t v;
    int32_t n_zones = 0;
    for (v = 0; v < n_elements; v++) {
        const int32_t f = (int32_t)elements[v];
        const int32_t p = parent[f];
        parent[f] = p == f ? n_zones++ : parent[p];
    }
    return n_zones;
}

/* The element list and the numbered zones (parent[f] = zone of element f) of flat; -1 on error. */
static Py_ssize_t label_zones(const Array *flat, const Array *steps, const char *kernel, int32_t **elements,
                              Py_ssize_t *n_elements, int32_t **parent) {
    Extent extent;
    Py_ssize_t reach, n_zones = 0;
    int32_t sorted[MAX_ZONE_STEPS];
    uint32_t covered = 0;
    int n_steps = (int)steps->size, k, m;
    *elements = NULL;
    *parent = NULL;
    if (flat->size > INT32_MAX || steps->size > MAX_ZONE_STEPS) {
        PyErr_Format(PyExc_ValueError,
                     "%s: at most 2**31 - 1 elements and %d steps supported, got %zd and %zd", kernel,
                     MAX_ZONE_STEPS, flat->size, steps->size);
        return -1;
    }
    if ((reach = reach_of(int64s(steps), steps->size, 1, kernel)) < 0) return -1;
    for (k = 0; k < n_steps; k++) { /* insertion sort, smallest step first */
        const int32_t step = (int32_t)int64s(steps)[k];
        for (m = k; m > 0 && sorted[m - 1] > step; m--) sorted[m] = sorted[m - 1];
        sorted[m] = step;
    }
    for (k = 1; k < n_steps; k++)
        for (m = 0; m < n_steps; m++) covered |= (uint32_t)(sorted[k] - sorted[0] == sorted[m]) << k;
    if (scan_levels(flat, &extent, -1, reach, kernel) < 0) return -1;
    if ((*elements = element_list(flat, &extent, n_elements, kernel)) == NULL) return -1;
    if ((*parent = (int32_t *)malloc((size_t)flat->size * sizeof(int32_t) + 1)) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS
    if (extent.first >= 0)
        unite_of[flat->type](flat->view.buf, extent.first, extent.last, sorted, n_steps, covered, *parent);
    n_zones = number_zones(*elements, *n_elements, *parent);
    Py_END_ALLOW_THREADS
    return n_zones;
}

PyDoc_STRVAR(zone_labels_doc,
             "zone_labels(flat, steps, labels) -> int\n\n"
             "Write into labels (int64, as many elements as flat) the zone of each ROI element, 0 outside:\n"
             "connected components of equal non-zero level through the positive steps, numbered from 1 in\n"
             "the order of their first element; return the number of zones.");

static PyObject *py_zone_labels(PyObject *self, PyObject *args) {
    const char *kernel = "zone_labels";
    PyObject *flat_obj, *steps_obj, *labels_obj, *result = NULL;
    Array flat = {0}, steps = {0}, labels = {0};
    int32_t *elements = NULL;
    int32_t *parent = NULL;
    Py_ssize_t n_elements = 0, n_zones, v;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO", &flat_obj, &steps_obj, &labels_obj)) return NULL;
    if (array_get(flat_obj, &flat, kernel, "flat", INTEGERS, 0) < 0 ||
        array_get(steps_obj, &steps, kernel, "steps", ONLY(TYPE_i64), 0) < 0 ||
        array_get(labels_obj, &labels, kernel, "labels", ONLY(TYPE_i64), 1) < 0)
        goto done;
    if (check_size(&labels, flat.size, kernel, "labels") < 0) goto done;
    if ((n_zones = label_zones(&flat, &steps, kernel, &elements, &n_elements, &parent)) < 0) goto done;
    Py_BEGIN_ALLOW_THREADS
    {
        int64_t *out = int64s(&labels);
        memset(out, 0, (size_t)labels.size * sizeof(int64_t));
        for (v = 0; v < n_elements; v++) out[elements[v]] = (int64_t)parent[elements[v]] + 1;
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(n_zones);
done:
    free(elements);
    free(parent);
    array_release(&flat);
    array_release(&steps);
    array_release(&labels);
    return result;
}

#define DEFINE_ZONE_TABLE(S, T, CODE)                                                                    \
    static void zone_table_##S(const void *data, const int32_t *elements, Py_ssize_t n_elements,         \
                               const int32_t *zone, Py_ssize_t depth, Py_ssize_t pad, int64_t *grey,     \
                               int64_t *sizes, int64_t *slices, Py_ssize_t n_zones) {                    \
        const T *flat = (const T *)data;                                                                 \
        Py_ssize_t v;                                                                                    \
        memset(sizes, 0, (size_t)n_zones * sizeof(int64_t));                                             \
        for (v = 0; v < n_elements; v++) {                                                               \
            const Py_ssize_t f = (Py_ssize_t)elements[v];                                                \
            const int32_t z = zone[f];                                                                   \
            if (sizes[z] == 0) {                                                                         \
                grey[z] = (int64_t)flat[f];                                                              \
                slices[z] = (int64_t)(f % depth - pad);                                                  \
            }                                                                                            \
            sizes[z] += 1;                                                                               \
        }                                                                                                \
    }
LEVEL_TYPES(DEFINE_ZONE_TABLE)
typedef void (*zone_table_function)(const void *, const int32_t *, Py_ssize_t, const int32_t *, Py_ssize_t,
                                    Py_ssize_t, int64_t *, int64_t *, int64_t *, Py_ssize_t);
#define KERNEL_NAME(S) zone_table_##S
static const zone_table_function zone_table_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME

PyDoc_STRVAR(zone_table_doc,
             "zone_table(flat, steps, depth, pad, grey, sizes, slices) -> int\n\n"
             "Write each zone's grey level, size (elements) and slice (its first element's index along\n"
             "the last axis, depth long, minus pad) into grey, sizes and slices (int64, at least as many\n"
             "elements as the ROI), zones as zone_labels; return the number of zones.");

static PyObject *py_zone_table(PyObject *self, PyObject *args) {
    const char *kernel = "zone_table";
    PyObject *flat_obj, *steps_obj, *grey_obj, *sizes_obj, *slices_obj, *result = NULL;
    Array flat = {0}, steps = {0}, grey = {0}, sizes = {0}, slices = {0};
    int32_t *elements = NULL;
    int32_t *parent = NULL;
    Py_ssize_t depth, pad, n_elements = 0, n_zones;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOnnOOO", &flat_obj, &steps_obj, &depth, &pad, &grey_obj, &sizes_obj,
                          &slices_obj))
        return NULL;
    if (array_get(flat_obj, &flat, kernel, "flat", INTEGERS, 0) < 0 ||
        array_get(steps_obj, &steps, kernel, "steps", ONLY(TYPE_i64), 0) < 0 ||
        array_get(grey_obj, &grey, kernel, "grey", ONLY(TYPE_i64), 1) < 0 ||
        array_get(sizes_obj, &sizes, kernel, "sizes", ONLY(TYPE_i64), 1) < 0 ||
        array_get(slices_obj, &slices, kernel, "slices", ONLY(TYPE_i64), 1) < 0)
        goto done;
    if (depth < 1) {
        PyErr_Format(PyExc_ValueError, "%s: depth must be >= 1, got %zd", kernel, depth);
        goto done;
    }
    if ((n_zones = label_zones(&flat, &steps, kernel, &elements, &n_elements, &parent)) < 0) goto done;
    if (grey.size < n_zones || sizes.size < n_zones || slices.size < n_zones) {
        PyErr_Format(PyExc_ValueError, "%s: grey, sizes and slices need %zd elements, got %zd, %zd, %zd",
                     kernel, n_zones, grey.size, sizes.size, slices.size);
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    zone_table_of[flat.type](flat.view.buf, elements, n_elements, parent, depth, pad,
                             int64s(&grey), int64s(&sizes), int64s(&slices), n_zones);
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(n_zones);
done:
    free(elements);
    free(parent);
    array_release(&flat);
    array_release(&steps);
    array_release(&grey);
    array_release(&sizes);
    array_release(&slices);
    return result;
}

/* --- dependence (GLDM, NGLDM) --- */

/* found[f] counts the ROI neighbours f +- step within alpha of f, over every f between the first and the
 * last ROI element: one contiguous pass per step, which the compiler vectorises. */
#define DEFINE_DEPENDENCE(S, T, CODE)                                                                    \
    static void dependence_##S(const void *data, Py_ssize_t first, Py_ssize_t last,                      \
                               const int64_t *steps, Py_ssize_t n_steps, int64_t alpha, uint16_t *found, \
                               int64_t *out) {                                                           \
        const T *flat = (const T *)data;                                                                 \
        const T within = (T)alpha;                                                                       \
        Py_ssize_t f, k, v = 0;                                                                          \
        memset(found + first, 0, (size_t)(last - first + 1) * sizeof(uint16_t));                         \
        for (k = 0; k < n_steps; k++) {                                                                  \
            const Py_ssize_t step = (Py_ssize_t)(steps[k] < 0 ? -steps[k] : steps[k]);                   \
            const T *before = flat - step, *after = flat + step;                                         \
            if (alpha == 0) {                                                                            \
                for (f = first; f <= last; f++) {                                                        \
                    const T here = flat[f];                                                              \
                    found[f] += (uint16_t)((here != 0) & (here == before[f])) +                          \
                                (uint16_t)((here != 0) & (here == after[f]));                            \
                }                                                                                        \
            } else {                                                                                     \
                for (f = first; f <= last; f++) {                                                        \
                    const T here = flat[f], b = before[f], a = after[f];                                 \
                    const T to_b = here > b ? (T)(here - b) : (T)(b - here);                             \
                    const T to_a = here > a ? (T)(here - a) : (T)(a - here);                             \
                    found[f] += (uint16_t)((here != 0) & (b != 0) & (to_b <= within)) +                  \
                                (uint16_t)((here != 0) & (a != 0) & (to_a <= within));                   \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
        for (f = first; f <= last; f++) {                                                                \
            if (flat[f] != 0) out[v++] = (int64_t)found[f];                                              \
        }                                                                                                \
    }
LEVEL_TYPES(DEFINE_DEPENDENCE)
typedef void (*dependence_function)(const void *, Py_ssize_t, Py_ssize_t, const int64_t *, Py_ssize_t,
                                    int64_t, uint16_t *, int64_t *);
#define KERNEL_NAME(S) dependence_##S
static const dependence_function dependence_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME

PyDoc_STRVAR(dependence_doc,
             "dependence(flat, steps, alpha, out)\n\n"
             "Write into out (int64, one element per ROI element, C order) the number of ROI neighbours\n"
             "f + steps[k] and f - steps[k] of each ROI element f whose level differs by at most alpha.");

static PyObject *py_dependence(PyObject *self, PyObject *args) {
    const char *kernel = "dependence";
    PyObject *flat_obj, *steps_obj, *out_obj, *result = NULL;
    Array flat = {0}, steps = {0}, out = {0};
    Extent extent;
    Py_ssize_t reach, n_elements;
    long long alpha;
    uint16_t *found = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOLO", &flat_obj, &steps_obj, &alpha, &out_obj)) return NULL;
    if (array_get(flat_obj, &flat, kernel, "flat", INTEGERS, 0) < 0 ||
        array_get(steps_obj, &steps, kernel, "steps", ONLY(TYPE_i64), 0) < 0 ||
        array_get(out_obj, &out, kernel, "out", ONLY(TYPE_i64), 1) < 0)
        goto done;
    if (steps.size > 32767) {
        PyErr_Format(PyExc_ValueError, "%s: at most 32767 steps, got %zd", kernel, steps.size);
        goto done;
    }
    if ((reach = reach_of(int64s(&steps), steps.size, 0, kernel)) < 0) goto done;
    if (scan_levels(&flat, &extent, -1, reach, kernel) < 0) goto done;
    n_elements = extent.count;
    if (check_size(&out, n_elements, kernel, "out") < 0) goto done;
    if (n_elements == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if ((found = (uint16_t *)malloc((size_t)flat.size * sizeof(uint16_t))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    if (alpha < 0) {
        memset(out.view.buf, 0, (size_t)n_elements * sizeof(int64_t)); /* no level difference is negative */
    } else {
        /* level differences are at most the largest level, which fits the level type */
        int64_t within = alpha < extent.hi ? (int64_t)alpha : extent.hi;
        dependence_of[flat.type](flat.view.buf, extent.first, extent.last, int64s(&steps),
                                 steps.size, within, found, int64s(&out));
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(found);
    array_release(&flat);
    array_release(&steps);
    array_release(&out);
    return result;
}

/* --- neighbour_sums (NGTDM) --- */

/* out[f] = sum of in[f + t * stride], t = -distance .. distance, for f in lo..hi. */
static void box_pass(const int32_t *in, int32_t *out, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t stride,
                     Py_ssize_t distance) {
    Py_ssize_t f, t;
    if (distance == 1) {
        for (f = lo; f <= hi; f++) out[f] = in[f - stride] + in[f] + in[f + stride];
        return;
    }
    for (f = lo; f <= hi; f++) out[f] = in[f];
    for (t = 1; t <= distance; t++) {
        const int32_t *before = in - t * stride, *after = in + t * stride;
        for (f = lo; f <= hi; f++) out[f] += before[f] + after[f];
    }
}

/* The levels and the ROI indicator as int32 over lo..hi; then the windows of the last axis at the ROI
 * elements, minus the element itself. With counts NULL both are packed in sums, the indicator in the
 * high 16 bits (the caller checks that every window's sum of levels stays below 2**16): one array and
 * one pass per axis instead of two. */
#define DEFINE_NEIGHBOURS(S, T, CODE)                                                                    \
    static void neighbour_start_##S(const void *data, Py_ssize_t lo, Py_ssize_t hi, int32_t *sums,       \
                                    int32_t *counts) {                                                   \
        const T *flat = (const T *)data;                                                                 \
        Py_ssize_t f;                                                                                    \
        if (counts == NULL) {                                                                            \
            for (f = lo; f <= hi; f++) sums[f] = (int32_t)flat[f] + ((int32_t)(flat[f] != 0) << 16);     \
            return;                                                                                      \
        }                                                                                                \
        for (f = lo; f <= hi; f++) {                                                                     \
            sums[f] = (int32_t)flat[f];                                                                  \
            counts[f] = flat[f] != 0;                                                                    \
        }                                                                                                \
    }                                                                                                    \
    static void neighbour_end_##S(const void *data, const int32_t *elements, Py_ssize_t n_elements,      \
                                  const int32_t *sums, const int32_t *counts, Py_ssize_t stride,         \
                                  Py_ssize_t distance, int64_t *total, int64_t *number) {                \
        const T *flat = (const T *)data;                                                                 \
        Py_ssize_t v, t;                                                                                 \
        for (v = 0; v < n_elements; v++) {                                                               \
            const Py_ssize_t f = (Py_ssize_t)elements[v];                                                \
            int32_t sum = sums[f], count;                                                                \
            for (t = 1; t <= distance; t++) sum += sums[f - t * stride] + sums[f + t * stride];          \
            if (counts == NULL) {                                                                        \
                count = sum >> 16;                                                                       \
                sum &= 0xFFFF;                                                                           \
            } else {                                                                                     \
                count = counts[f];                                                                       \
                for (t = 1; t <= distance; t++) count += counts[f - t * stride] + counts[f + t * stride]; \
            }                                                                                            \
            total[v] = (int64_t)sum - (int64_t)flat[f];                                                  \
            number[v] = (int64_t)count - 1;                                                              \
        }                                                                                                \
    }
LEVEL_TYPES(DEFINE_NEIGHBOURS)
typedef void (*neighbour_start_function)(const void *, Py_ssize_t, Py_ssize_t, int32_t *, int32_t *);
typedef void (*neighbour_end_function)(const void *, const int32_t *, Py_ssize_t, const int32_t *,
                                       const int32_t *, Py_ssize_t, Py_ssize_t, int64_t *, int64_t *);
#define KERNEL_NAME(S) neighbour_start_##S
static const neighbour_start_function neighbour_start_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME
#define KERNEL_NAME(S) neighbour_end_##S
static const neighbour_end_function neighbour_end_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME

PyDoc_STRVAR(neighbour_sums_doc,
             "neighbour_sums(flat, strides, distance, total, number)\n\n"
             "Write into total and number (int64, one element per ROI element, C order) the sum of the\n"
             "levels of each ROI element's ROI neighbours within Chebyshev distance along the axes of\n"
             "strides (positive flat strides), itself excluded, and their number. Separable box sums\n"
             "in int32: ValueError when the largest level times the window's size reaches 2**31.");

static PyObject *py_neighbour_sums(PyObject *self, PyObject *args) {
    const char *kernel = "neighbour_sums";
    PyObject *flat_obj, *strides_obj, *total_obj, *number_obj, *result = NULL;
    Array flat = {0}, strides = {0}, total = {0}, number = {0};
    Extent extent;
    Py_ssize_t distance, reach = 0, n_elements = 0, a;
    int64_t window = 1;
    int packed;
    int32_t *elements = NULL;
    int32_t *buffers = NULL;
    const int64_t *stride;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOnOO", &flat_obj, &strides_obj, &distance, &total_obj, &number_obj))
        return NULL;
    if (array_get(flat_obj, &flat, kernel, "flat", INTEGERS, 0) < 0 ||
        array_get(strides_obj, &strides, kernel, "strides", ONLY(TYPE_i64), 0) < 0 ||
        array_get(total_obj, &total, kernel, "total", ONLY(TYPE_i64), 1) < 0 ||
        array_get(number_obj, &number, kernel, "number", ONLY(TYPE_i64), 1) < 0)
        goto done;
    stride = int64s(&strides);
    if (distance < 1 || distance > 1000 || strides.size < 1 || strides.size > 8) {
        PyErr_Format(PyExc_ValueError, "%s: need 1 <= distance <= 1000 and 1 to 8 strides, got %zd and %zd",
                     kernel, distance, strides.size);
        goto done;
    }
    for (a = 0; a < strides.size; a++) {
        if (stride[a] < 1 || stride[a] > flat.size) {
            PyErr_Format(PyExc_ValueError, "%s: strides must be in 1..%zd, found %lld", kernel, flat.size,
                         (long long)stride[a]);
            goto done;
        }
        reach += distance * (Py_ssize_t)stride[a];
        window *= 2 * distance + 1;
    }
    if (scan_levels(&flat, &extent, -1, reach, kernel) < 0) goto done;
    if (window > INT32_MAX || extent.hi > INT32_MAX / window) {
        PyErr_Format(PyExc_ValueError,
                     "%s: levels up to %lld in windows of %lld elements may overflow the int32 sums", kernel,
                     (long long)extent.hi, (long long)window);
        goto done;
    }
    if ((elements = element_list(&flat, &extent, &n_elements, kernel)) == NULL) goto done;
    if (check_size(&total, n_elements, kernel, "total") < 0 ||
        check_size(&number, n_elements, kernel, "number") < 0)
        goto done;
    if (n_elements == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    packed = extent.hi * window < 65536 && window < 32768;
    if ((buffers = (int32_t *)malloc((packed ? 2 : 4) * (size_t)flat.size * sizeof(int32_t))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    {
        int32_t *sums = buffers, *next_sums = buffers + flat.size;
        int32_t *counts = packed ? NULL : buffers + 2 * flat.size;
        int32_t *next_counts = packed ? NULL : buffers + 3 * flat.size;
        Py_ssize_t last_axis = strides.size - 1;
        /* the range each pass must cover: the final windows read last_reach around the ROI elements,
         * each earlier pass distance * stride more */
        Py_ssize_t lo = extent.first - distance * (Py_ssize_t)stride[last_axis];
        Py_ssize_t hi = extent.last + distance * (Py_ssize_t)stride[last_axis];
        for (a = 0; a < last_axis; a++) {
            lo -= distance * (Py_ssize_t)stride[a];
            hi += distance * (Py_ssize_t)stride[a];
        }
        neighbour_start_of[flat.type](flat.view.buf, lo, hi, sums, counts);
        for (a = 0; a < last_axis; a++) {
            int32_t *swap;
            lo += distance * (Py_ssize_t)stride[a];
            hi -= distance * (Py_ssize_t)stride[a];
            box_pass(sums, next_sums, lo, hi, (Py_ssize_t)stride[a], distance);
            if (!packed) box_pass(counts, next_counts, lo, hi, (Py_ssize_t)stride[a], distance);
            swap = sums, sums = next_sums, next_sums = swap;
            swap = counts, counts = next_counts, next_counts = swap;
        }
        neighbour_end_of[flat.type](flat.view.buf, elements, n_elements, sums, counts,
                                    (Py_ssize_t)stride[last_axis], distance, int64s(&total), int64s(&number));
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(buffers);
    free(elements);
    array_release(&flat);
    array_release(&strides);
    array_release(&total);
    array_release(&number);
    return result;
}

/* --- roi_bounds and cropped_levels (texture.roi_levels) --- */

static int check_3d(const Array *array, const Py_ssize_t *shape, const char *kernel, const char *name) {
    if (array->view.ndim != 3 || (shape != NULL && (array->view.shape[0] != shape[0] ||
                                                     array->view.shape[1] != shape[1] ||
                                                     array->view.shape[2] != shape[2]))) {
        if (shape != NULL)
            PyErr_Format(PyExc_ValueError, "%s: %s must have shape (%zd, %zd, %zd)", kernel, name, shape[0],
                         shape[1], shape[2]);
        else
            PyErr_Format(PyExc_ValueError, "%s: %s must be 3D, got %d dimensions", kernel, name,
                         array->view.ndim);
        return -1;
    }
    return 0;
}

/* Grow the box [lo, hi) (hi exclusive) to hold line (i, j) of an array scanned in C order, from element
 * first to element last along the last axis. */
static inline void extend_box(Py_ssize_t *lo, Py_ssize_t *hi, Py_ssize_t i, Py_ssize_t j, Py_ssize_t first,
                              Py_ssize_t last) {
    lo[0] = i < lo[0] ? i : lo[0];
    hi[0] = i + 1;
    lo[1] = j < lo[1] ? j : lo[1];
    hi[1] = j + 1 > hi[1] ? j + 1 : hi[1];
    lo[2] = first < lo[2] ? first : lo[2];
    hi[2] = last + 1 > hi[2] ? last + 1 : hi[2];
}

/* Per line along the last axis: the first and last ROI voxel bound the box; the levels' extremes are
 * taken between them, and the voxels outside the ROI must have level 0 (else clean = 0). */
#define DEFINE_ROI_BOUNDS(S, T, CODE)                                                                    \
    static void roi_bounds_##S(const void *data, const uint8_t *mask, const Py_ssize_t *shape,           \
                               int64_t *out) {                                                           \
        const T *levels = (const T *)data;                                                               \
        Py_ssize_t lo[3], hi[3] = {0, 0, 0}, i, j, k;                                                    \
        T smallest = 0, largest = 0, dirty = 0;                                                          \
        int found = 0, a;                                                                                \
        for (a = 0; a < 3; a++) lo[a] = shape[a];                                                        \
        for (i = 0; i < shape[0]; i++) {                                                                 \
            for (j = 0; j < shape[1]; j++) {                                                             \
                const Py_ssize_t start = (i * shape[1] + j) * shape[2];                                  \
                const T *row = levels + start;                                                           \
                const uint8_t *inside = mask + start;                                                    \
                Py_ssize_t first = 0, last = shape[2] - 1;                                               \
                T low, high;                                                                             \
                while (first < shape[2] && !inside[first]) first++;                                      \
                if (first == shape[2]) {                                                                 \
                    for (k = 0; k < shape[2]; k++) dirty |= row[k];                                      \
                    continue;                                                                            \
                }                                                                                        \
                while (!inside[last]) last--;                                                            \
                for (k = 0; k < first; k++) dirty |= row[k];                                             \
                for (k = last + 1; k < shape[2]; k++) dirty |= row[k];                                   \
                low = high = row[first];                                                                 \
                for (k = first + 1; k <= last; k++) {                                                    \
                    const T level = row[k];                                                              \
                    if (inside[k]) {                                                                     \
                        low = level < low ? level : low;                                                 \
                        high = level > high ? level : high;                                              \
                    } else {                                                                             \
                        dirty |= level;                                                                  \
                    }                                                                                    \
                }                                                                                        \
                if (!found) {                                                                            \
                    smallest = low, largest = high, found = 1;                                           \
                }                                                                                        \
                smallest = low < smallest ? low : smallest;                                              \
                largest = high > largest ? high : largest;                                               \
                extend_box(lo, hi, i, j, first, last);                                                   \
            }                                                                                            \
        }                                                                                                \
        for (a = 0; a < 8; a++) out[a] = -1;                                                             \
        if (found) {                                                                                     \
            for (a = 0; a < 3; a++) {                                                                    \
                out[2 * a] = (int64_t)lo[a];                                                             \
                out[2 * a + 1] = (int64_t)hi[a];                                                         \
            }                                                                                            \
            out[6] = (int64_t)smallest;                                                                  \
            out[7] = (int64_t)largest;                                                                   \
        }                                                                                                \
        out[8] = dirty == 0;                                                                             \
    }
LEVEL_TYPES(DEFINE_ROI_BOUNDS)
typedef void (*roi_bounds_function)(const void *, const uint8_t *, const Py_ssize_t *, int64_t *);
#define KERNEL_NAME(S) roi_bounds_##S
static const roi_bounds_function roi_bounds_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME

PyDoc_STRVAR(roi_bounds_doc,
             "roi_bounds(levels, mask, out)\n\n"
             "Write into out (int64, 9 elements) [lo_i, hi_i, lo_j, hi_j, lo_k, hi_k, min level, max level,\n"
             "clean] of the ROI mask (3D bool) in levels (3D integers of the same shape), hi exclusive:\n"
             "the first eight -1 for an empty ROI; clean is 1 when every voxel outside the ROI has level 0.");

static PyObject *py_roi_bounds(PyObject *self, PyObject *args) {
    const char *kernel = "roi_bounds";
    PyObject *levels_obj, *mask_obj, *out_obj, *result = NULL;
    Array levels = {0}, mask = {0}, out = {0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO", &levels_obj, &mask_obj, &out_obj)) return NULL;
    if (array_get(levels_obj, &levels, kernel, "levels", INTEGERS, 0) < 0 ||
        array_get(mask_obj, &mask, kernel, "mask", ONLY(TYPE_bool), 0) < 0 ||
        array_get(out_obj, &out, kernel, "out", ONLY(TYPE_i64), 1) < 0)
        goto done;
    if (check_3d(&levels, NULL, kernel, "levels") < 0 || check_3d(&mask, levels.view.shape, kernel, "mask") < 0 ||
        check_size(&out, 9, kernel, "out") < 0)
        goto done;
    Py_BEGIN_ALLOW_THREADS
    roi_bounds_of[levels.type](levels.view.buf, (const uint8_t *)mask.view.buf, levels.view.shape,
                               int64s(&out));
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    array_release(&levels);
    array_release(&mask);
    array_release(&out);
    return result;
}

/* Per line along the last axis: whether a voxel equals the label (a loop without branches, vectorised), and
 * only for lines that hold some, their number, first and last. */
#define DEFINE_LABEL_BOUNDS(S, T, CODE)                                                                  \
    static void label_bounds_##S(const void *data, int64_t label, const Py_ssize_t *shape, int64_t *out) { \
        const T *labels = (const T *)data;                                                               \
        const T value = (T)label;                                                                        \
        Py_ssize_t lo[3], hi[3] = {0, 0, 0}, i, j, k, total = 0;                                         \
        int a;                                                                                           \
        for (a = 0; a < 3; a++) lo[a] = shape[a];                                                        \
        if ((int64_t)value == label) {                                                                   \
            for (i = 0; i < shape[0]; i++) {                                                             \
                for (j = 0; j < shape[1]; j++) {                                                         \
                    const T *row = labels + (i * shape[1] + j) * shape[2];                               \
                    Py_ssize_t first, last;                                                              \
                    unsigned char any = 0;                                                               \
                    for (k = 0; k < shape[2]; k++) any |= row[k] == value;                               \
                    if (!any) continue;                                                                  \
                    for (k = 0; k < shape[2]; k++) total += row[k] == value;                             \
                    for (first = 0; row[first] != value; first++) {                                      \
                    }                                                                                    \
                    for (last = shape[2] - 1; row[last] != value; last--) {                              \
                    }                                                                                    \
                    extend_box(lo, hi, i, j, first, last);                                               \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
        for (a = 0; a < 3; a++) {                                                                        \
            out[2 * a] = total ? (int64_t)lo[a] : 0;                                                     \
            out[2 * a + 1] = total ? (int64_t)hi[a] : 0;                                                 \
        }                                                                                                \
        out[6] = (int64_t)total;                                                                         \
    }
LEVEL_TYPES(DEFINE_LABEL_BOUNDS)
typedef void (*label_bounds_function)(const void *, int64_t, const Py_ssize_t *, int64_t *);
#define KERNEL_NAME(S) label_bounds_##S
static const label_bounds_function label_bounds_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME

PyDoc_STRVAR(label_bounds_doc,
             "label_bounds(labels, label, out)\n\n"
             "Write into out (int64, 7 elements) [lo_i, hi_i, lo_j, hi_j, lo_k, hi_k, count] of the voxels of\n"
             "labels (3D integers) equal to label, hi exclusive; zeros when there is none.");

static PyObject *py_label_bounds(PyObject *self, PyObject *args) {
    const char *kernel = "label_bounds";
    PyObject *labels_obj, *out_obj, *result = NULL;
    Array labels = {0}, out = {0};
    long long label;
    (void)self;
    if (!PyArg_ParseTuple(args, "OLO", &labels_obj, &label, &out_obj)) return NULL;
    if (array_get(labels_obj, &labels, kernel, "labels", INTEGERS, 0) < 0 ||
        array_get(out_obj, &out, kernel, "out", ONLY(TYPE_i64), 1) < 0)
        goto done;
    if (check_3d(&labels, NULL, kernel, "labels") < 0 || check_size(&out, 7, kernel, "out") < 0) goto done;
    Py_BEGIN_ALLOW_THREADS
    label_bounds_of[labels.type](labels.view.buf, (int64_t)label, labels.view.shape, int64s(&out));
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    array_release(&labels);
    array_release(&out);
    return result;
}

#define DEFINE_CROPPED(S, T, CODE)                                                                       \
    static void cropped_##S(const void *data, const uint8_t *mask, const Py_ssize_t *shape,              \
                            const Py_ssize_t *origin, const Py_ssize_t *size, int64_t *out,              \
                            uint8_t *inside) {                                                           \
        const T *levels = (const T *)data;                                                               \
        Py_ssize_t i, j, k;                                                                              \
        for (i = 0; i < size[0]; i++) {                                                                  \
            for (j = 0; j < size[1]; j++) {                                                              \
                const Py_ssize_t from = ((origin[0] + i) * shape[1] + origin[1] + j) * shape[2] + origin[2]; \
                const Py_ssize_t to = (i * size[1] + j) * size[2];                                       \
                for (k = 0; k < size[2]; k++) {                                                          \
                    const uint8_t in = mask[from + k] != 0;                                              \
                    out[to + k] = in ? (int64_t)levels[from + k] : 0;                                    \
                    inside[to + k] = in;                                                                 \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
    }
LEVEL_TYPES(DEFINE_CROPPED)
typedef void (*cropped_function)(const void *, const uint8_t *, const Py_ssize_t *, const Py_ssize_t *,
                                 const Py_ssize_t *, int64_t *, uint8_t *);
#define KERNEL_NAME(S) cropped_##S
static const cropped_function cropped_of[N_TYPES] = {LEVEL_TYPES(TABLE_ENTRY)};
#undef KERNEL_NAME

PyDoc_STRVAR(cropped_levels_doc,
             "cropped_levels(levels, mask, bounds, out, inside)\n\n"
             "Write the levels (as int64, 0 outside the ROI) and the mask inside bounds (from roi_bounds)\n"
             "into out (int64) and inside (bool), both of the box's 3D shape.");

static PyObject *py_cropped_levels(PyObject *self, PyObject *args) {
    const char *kernel = "cropped_levels";
    PyObject *levels_obj, *mask_obj, *bounds_obj, *out_obj, *inside_obj, *result = NULL;
    Array levels = {0}, mask = {0}, bounds = {0}, out = {0}, inside = {0};
    Py_ssize_t origin[3], size[3];
    int a;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOO", &levels_obj, &mask_obj, &bounds_obj, &out_obj, &inside_obj))
        return NULL;
    if (array_get(levels_obj, &levels, kernel, "levels", INTEGERS, 0) < 0 ||
        array_get(mask_obj, &mask, kernel, "mask", ONLY(TYPE_bool), 0) < 0 ||
        array_get(bounds_obj, &bounds, kernel, "bounds", ONLY(TYPE_i64), 0) < 0 ||
        array_get(out_obj, &out, kernel, "out", ONLY(TYPE_i64), 1) < 0 ||
        array_get(inside_obj, &inside, kernel, "inside", ONLY(TYPE_bool), 1) < 0)
        goto done;
    if (check_3d(&levels, NULL, kernel, "levels") < 0 || check_3d(&mask, levels.view.shape, kernel, "mask") < 0)
        goto done;
    if (bounds.size < 6) {
        PyErr_Format(PyExc_ValueError, "%s: bounds must have at least 6 elements, got %zd", kernel,
                     bounds.size);
        goto done;
    }
    for (a = 0; a < 3; a++) {
        const int64_t *b = int64s(&bounds) + 2 * a;
        if (b[0] < 0 || b[1] < b[0] || b[1] > levels.view.shape[a]) {
            PyErr_Format(PyExc_ValueError, "%s: bounds %lld..%lld of axis %d outside 0..%zd", kernel,
                         (long long)b[0], (long long)b[1], a, levels.view.shape[a]);
            goto done;
        }
        origin[a] = (Py_ssize_t)b[0];
        size[a] = (Py_ssize_t)(b[1] - b[0]);
    }
    if (check_3d(&out, size, kernel, "out") < 0 || check_3d(&inside, size, kernel, "inside") < 0) goto done;
    Py_BEGIN_ALLOW_THREADS
    cropped_of[levels.type](levels.view.buf, (const uint8_t *)mask.view.buf, levels.view.shape, origin, size,
                            int64s(&out), (uint8_t *)inside.view.buf);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    array_release(&levels);
    array_release(&mask);
    array_release(&bounds);
    array_release(&out);
    array_release(&inside);
    return result;
}

/* --- largest_squared_distance (shape diameters) --- */

/* Each squared distance is summed as (dx * dx + dz * dz) + dy * dy, the order of numpy's einsum over an
 * axis of 3 (its two-lane loop), so that the result equals the numpy pass bit for bit. A NaN distance is
 * never the largest, as in a comparison loop. The coordinates are copied into three arrays (x, y, z) so
 * that, on x86-64, two pairs are measured at once (SSE2: the same IEEE operations, lane by lane; MAXPD
 * keeps `best` when a distance is NaN, as the comparison does); the maximum does not depend on the order
 * in which the pairs are compared. */
static inline double keep_larger(double value, double best) { return value > best ? value : best; }

/* The largest squared distance between two of the n points (x, y, z), or largest if larger. */
static double largest_in_set(const double *x, const double *y, const double *z, Py_ssize_t n, double largest) {
    Py_ssize_t a, b;
    for (a = 0; a < n; a++) {
        b = a + 1;
#ifdef LAI_SSE2
        {
            const __m128d xa = _mm_set1_pd(x[a]), ya = _mm_set1_pd(y[a]), za = _mm_set1_pd(z[a]);
            __m128d best = _mm_set1_pd(largest);
            double lanes[2];
            for (; b + 2 <= n; b += 2) {
                const __m128d dx = _mm_sub_pd(xa, _mm_loadu_pd(x + b));
                const __m128d dy = _mm_sub_pd(ya, _mm_loadu_pd(y + b));
                const __m128d dz = _mm_sub_pd(za, _mm_loadu_pd(z + b));
                const __m128d squared =
                    _mm_add_pd(_mm_add_pd(_mm_mul_pd(dx, dx), _mm_mul_pd(dz, dz)), _mm_mul_pd(dy, dy));
                best = _mm_max_pd(squared, best); /* squared > best ? squared : best, lane by lane */
            }
            _mm_storeu_pd(lanes, best);
            largest = keep_larger(lanes[1], lanes[0]);
        }
#endif
        for (; b < n; b++) {
            const double dx = x[a] - x[b], dy = y[a] - y[b], dz = z[a] - z[b];
            largest = keep_larger((dx * dx + dz * dz) + dy * dy, largest);
        }
    }
    return largest;
}

/* Pairs that cannot be the farthest are skipped, which changes no bit of the result: with c the points'
 * centroid, r their distances to it and a0 the point farthest from it, the distances from a0 to every
 * point give a first largest d0 (a pair's value, summed as everywhere). A pair (a, b) is at most
 * r_a + r_b apart, so only the points with r_b >= d0 - r_a0 can be in a pair farther than d0; those
 * pairs are all compared. The margin (1e-9 of the coordinates' scale) is far above the rounding of r and
 * of the distances, so no pair that could be the largest is skipped; without finite r (NaN or infinite
 * coordinates) every pair is compared. */
static double largest_in_group(const double *x, const double *y, const double *z, Py_ssize_t n, double largest,
                               double *scratch) {
    double *r = scratch, *sx = scratch + n, *sy = sx + n, *sz = sy + n;
    double cx = 0.0, cy = 0.0, cz = 0.0, far = -1.0, scale, slack, reach;
    Py_ssize_t a, kept = 0, a0 = 0;
    if (n < 64) return largest_in_set(x, y, z, n, largest);
    for (a = 0; a < n; a++) {
        cx += x[a];
        cy += y[a];
        cz += z[a];
    }
    cx /= (double)n;
    cy /= (double)n;
    cz /= (double)n;
    for (a = 0; a < n; a++) {
        const double dx = x[a] - cx, dy = y[a] - cy, dz = z[a] - cz;
        r[a] = sqrt(dx * dx + dy * dy + dz * dz);
        if (r[a] > far) {
            far = r[a];
            a0 = a;
        }
    }
    scale = fabs(cx) + fabs(cy) + fabs(cz) + far;
    if (!(scale < HUGE_VAL)) return largest_in_set(x, y, z, n, largest); /* NaN or infinite */
    for (a = 0; a < n; a++) {
        const double dx = x[a0] - x[a], dy = y[a0] - y[a], dz = z[a0] - z[a];
        largest = keep_larger((dx * dx + dz * dz) + dy * dy, largest);
    }
    slack = 1e-9 * scale;
    reach = sqrt(largest) - far - slack; /* a point nearer the centroid than this pairs below largest */
    for (a = 0; a < n; a++)
        if (r[a] >= reach) {
            sx[kept] = x[a];
            sy[kept] = y[a];
            sz[kept] = z[a];
            kept++;
        }
    return largest_in_set(sx, sy, sz, kept, largest);
}

static double largest_in_groups(const double *points, Py_ssize_t n_points, const int64_t *starts,
                                const int64_t *ends, Py_ssize_t n_groups, double *x) {
    double *y = x + n_points, *z = y + n_points, *scratch = z + n_points;
    double largest = 0.0;
    Py_ssize_t g, a;
    for (a = 0; a < n_points; a++) {
        x[a] = points[3 * a];
        y[a] = points[3 * a + 1];
        z[a] = points[3 * a + 2];
    }
    for (g = 0; g < n_groups; g++) {
        const Py_ssize_t start = (Py_ssize_t)starts[g], end = (Py_ssize_t)ends[g];
        if (end - start >= 2)
            largest = largest_in_group(x + start, y + start, z + start, end - start, largest, scratch);
    }
    return largest;
}

PyDoc_STRVAR(largest_squared_distance_doc,
             "largest_squared_distance(points, starts, ends) -> float\n\n"
             "Return the largest squared distance between two rows of points (float64, n x 3) within one\n"
             "group, group g being rows starts[g] .. ends[g] - 1 (int64); 0.0 without pairs.");

static PyObject *py_largest_squared_distance(PyObject *self, PyObject *args) {
    const char *kernel = "largest_squared_distance";
    PyObject *points_obj, *starts_obj, *ends_obj, *result = NULL;
    Array points = {0}, starts = {0}, ends = {0};
    Py_ssize_t g, n_points;
    double largest = 0.0, *coordinates = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO", &points_obj, &starts_obj, &ends_obj)) return NULL;
    if (array_get(points_obj, &points, kernel, "points", ONLY(TYPE_f64), 0) < 0 ||
        array_get(starts_obj, &starts, kernel, "starts", ONLY(TYPE_i64), 0) < 0 ||
        array_get(ends_obj, &ends, kernel, "ends", ONLY(TYPE_i64), 0) < 0)
        goto done;
    if (points.view.ndim != 2 || points.view.shape[1] != 3) {
        PyErr_Format(PyExc_ValueError, "%s: points must have shape (n, 3)", kernel);
        goto done;
    }
    if (check_size(&ends, starts.size, kernel, "ends") < 0) goto done;
    n_points = points.view.shape[0];
    for (g = 0; g < starts.size; g++) {
        const int64_t start = int64s(&starts)[g], end = int64s(&ends)[g];
        if (start < 0 || end > n_points) {
            PyErr_Format(PyExc_ValueError, "%s: group %zd spans rows %lld..%lld outside 0..%zd", kernel, g,
                         (long long)start, (long long)end, n_points);
            goto done;
        }
    }
    if ((coordinates = (double *)malloc(7 * (size_t)n_points * sizeof(double) + 1)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    largest = largest_in_groups(doubles(&points), n_points, int64s(&starts), int64s(&ends), starts.size, coordinates);
    Py_END_ALLOW_THREADS
    result = PyFloat_FromDouble(largest);
done:
    free(coordinates);
    array_release(&points);
    array_release(&starts);
    array_release(&ends);
    return result;
}

/* A row and its key (its doubled coordinate across a plane), to sort a plane's candidates into groups. */
typedef struct {
    int64_t key;
    Py_ssize_t row;
} Keyed;

static int keyed_order(const void *a, const void *b) {
    const int64_t ka = ((const Keyed *)a)->key, kb = ((const Keyed *)b)->key;
    return (ka > kb) - (ka < kb);
}

PyDoc_STRVAR(candidate_diameters_doc,
             "candidate_diameters(points, doubled, flags, out)\n\n"
             "out (float64, 4) = the largest squared distance between rows of points (float64, n x 3) with\n"
             "flag bit 0, and per plane those with bit 1 (equal doubled[:, 2]), bit 2 (equal doubled[:, 1]),\n"
             "bit 3 (equal doubled[:, 0]) within one plane; doubled int64 (n x 3), flags uint8 (n,).");

static PyObject *py_candidate_diameters(PyObject *self, PyObject *args) {
    const char *kernel = "candidate_diameters";
    PyObject *points_obj, *doubled_obj, *flags_obj, *out_obj, *result = NULL;
    Array points = {0}, doubled = {0}, flags = {0}, out = {0};
    Py_ssize_t n, a;
    double *x = NULL;
    Keyed *keyed = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOO", &points_obj, &doubled_obj, &flags_obj, &out_obj)) return NULL;
    if (array_get(points_obj, &points, kernel, "points", ONLY(TYPE_f64), 0) < 0 ||
        array_get(doubled_obj, &doubled, kernel, "doubled", ONLY(TYPE_i64), 0) < 0 ||
        array_get(flags_obj, &flags, kernel, "flags", ONLY(TYPE_u8), 0) < 0 ||
        array_get(out_obj, &out, kernel, "out", ONLY(TYPE_f64), 1) < 0)
        goto done;
    if (points.view.ndim != 2 || points.view.shape[1] != 3) {
        PyErr_Format(PyExc_ValueError, "%s: points must have shape (n, 3)", kernel);
        goto done;
    }
    n = points.view.shape[0];
    if (check_size(&doubled, 3 * n, kernel, "doubled") < 0 || check_size(&flags, n, kernel, "flags") < 0 ||
        check_size(&out, 4, kernel, "out") < 0)
        goto done;
    if ((x = (double *)malloc(7 * (size_t)n * sizeof(double) + 1)) == NULL ||
        (keyed = (Keyed *)malloc((size_t)n * sizeof(Keyed) + 1)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    {
        const double *p = doubles(&points);
        const int64_t *d = int64s(&doubled);
        const uint8_t *f = (const uint8_t *)flags.view.buf;
        double *y = x + n, *z = y + n, *scratch = z + n, *o = doubles(&out);
        Py_ssize_t kept = 0, plane, start, end;
        for (a = 0; a < n; a++)
            if (f[a] & 1) {
                x[kept] = p[3 * a];
                y[kept] = p[3 * a + 1];
                z[kept] = p[3 * a + 2];
                kept++;
            }
        o[0] = kept >= 2 ? largest_in_group(x, y, z, kept, 0.0, scratch) : 0.0;
        for (plane = 0; plane < 3; plane++) { /* bit 1: fixed k (axis 2), bit 2: j, bit 3: i */
            const int bit = 2 << plane;
            const Py_ssize_t axis = 2 - plane;
            double largest = 0.0;
            kept = 0;
            for (a = 0; a < n; a++)
                if (f[a] & bit) {
                    keyed[kept].key = d[3 * a + axis];
                    keyed[kept].row = a;
                    kept++;
                }
            qsort(keyed, (size_t)kept, sizeof(Keyed), keyed_order);
            for (a = 0; a < kept; a++) {
                const Py_ssize_t row = keyed[a].row;
                x[a] = p[3 * row];
                y[a] = p[3 * row + 1];
                z[a] = p[3 * row + 2];
            }
            for (start = 0; start < kept; start = end) {
                for (end = start + 1; end < kept && keyed[end].key == keyed[start].key; end++) {
                }
                if (end - start >= 2)
                    largest = largest_in_group(x + start, y + start, z + start, end - start, largest, scratch);
            }
            o[1 + plane] = largest;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(x);
    free(keyed);
    array_release(&points);
    array_release(&doubled);
    array_release(&flags);
    array_release(&out);
    return result;
}

/* --- Marching-cubes mesh of a binary mask, cube by cube (shape volume, area and vertices) --- */

/* The mask is read as if padded by one empty voxel on every side: cube (i, j, k), i = -1 .. n0 - 1 (and
 * so on), has its corners at voxels (i + di, j + dj, k + dk), di, dj, dk in {0, 1}, and its configuration
 * sets bit 4 di + 2 dj + dk for each corner inside the mask. The mask may be any strided 3D bool array
 * (a box cut out of a larger mask needs no copy); the padded copy is C-contiguous uint8 (0 or 1). */
static int mask_get(PyObject *obj, Array *array, const char *kernel) {
    array->held = 0;
    if (PyObject_GetBuffer(obj, &array->view, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: mask must be a 3D bool array (a numpy array), got %.100s", kernel,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    array->held = 1;
    if (array_typed(array, kernel, "mask", ONLY(TYPE_bool)) < 0) return -1;
    return check_3d(array, NULL, kernel, "mask");
}

/* Copy the mask into a padded uint8 array (reading the source along its smallest stride: a box of an
 * image in Fortran order, as NIfTI stores it, is read along i); when sums is given, write the mask's
 * voxel count and index sums [N, S_i, S_j, S_k, S_ii, S_ij, S_ik, S_jj, S_jk, S_kk] into it (exact in
 * int64 for any mask that fits in memory: each term is below N * n^2). */
static uint8_t *padded_mask(const Py_buffer *view, Py_ssize_t *padded_shape, int64_t *sums) {
    const Py_ssize_t n0 = view->shape[0], n1 = view->shape[1], n2 = view->shape[2];
    const Py_ssize_t s0 = view->strides[0], s1 = view->strides[1], s2 = view->strides[2];
    const Py_ssize_t p1 = n1 + 2, p2 = n2 + 2;
    const char *base = (const char *)view->buf;
    int64_t total[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    uint8_t *padded;
    Py_ssize_t i, j, k;
    padded_shape[0] = n0 + 2;
    padded_shape[1] = p1;
    padded_shape[2] = p2;
    padded = (uint8_t *)calloc((size_t)(n0 + 2) * (size_t)p1 * (size_t)p2, 1);
    if (padded == NULL) return NULL;
    if ((s0 < 0 ? -s0 : s0) < (s2 < 0 ? -s2 : s2)) { /* i varies fastest in memory */
        for (k = 0; k < n2; k++)
            for (j = 0; j < n1; j++) {
                const char *line = base + j * s1 + k * s2;
                uint8_t *to = padded + (p1 + j + 1) * p2 + k + 1;
                for (i = 0; i < n0; i++) to[i * p1 * p2] = line[i * s0] != 0;
            }
    } else {
        for (i = 0; i < n0; i++)
            for (j = 0; j < n1; j++) {
                const char *row = base + i * s0 + j * s1;
                uint8_t *to = padded + ((i + 1) * p1 + j + 1) * p2 + 1;
                if (s2 == 1)
                    for (k = 0; k < n2; k++) to[k] = row[k] != 0;
                else
                    for (k = 0; k < n2; k++) to[k] = row[k * s2] != 0;
            }
    }
    if (sums == NULL) return padded;
    for (i = 0; i < n0; i++)
        for (j = 0; j < n1; j++) {
            const uint8_t *row = padded + ((i + 1) * p1 + j + 1) * p2 + 1;
            int64_t count = 0, sum_k = 0, sum_kk = 0;
            for (k = 0; k < n2; k++) {
                count += row[k];
                sum_k += row[k] * (int64_t)k;
                sum_kk += row[k] * (int64_t)k * k;
            }
            total[0] += count;
            total[1] += (int64_t)i * count;
            total[2] += (int64_t)j * count;
            total[3] += sum_k;
            total[4] += (int64_t)i * i * count;
            total[5] += (int64_t)i * j * count;
            total[6] += (int64_t)i * sum_k;
            total[7] += (int64_t)j * j * count;
            total[8] += (int64_t)j * sum_k;
            total[9] += sum_kk;
        }
    memcpy(sums, total, sizeof total);
    return padded;
}

/* Count each configuration's cubes and sum their origins (i, j, k of corner 0, from -1). A column of
 * four voxels (di, dj) at k gives bits 4 di + 2 dj, its neighbour at k + 1 the same bits shifted by one.
 * Every edge of the padded mask starts at corner 0 of one cube, so each cube also lists the midpoints
 * of its three edges from corner 0 that the surface crosses (corner 0 and corner 4, 2 or 1 differ): twice
 * their index positions go to vertices while there is room (capacity rows); return their number.
 *
 * ends[n] gets bit 0, 1, 2 when vertex n is first or last on its line along i, j, k (the other two
 * coordinates fixed). The vertices of one line are listed in increasing order along it: a line along k
 * holds one kind of vertex (by the parities of its doubled i and j) from the cubes of one (i, j), listed
 * by increasing k, and likewise along i and j. So the first vertex listed on a line is its first and the
 * last listed its last: last[] (one int32 per line of each direction, -1 when empty) keeps the last. */
static Py_ssize_t count_cubes(const uint8_t *padded, const Py_ssize_t *padded_shape, int64_t *counts,
                              int64_t *origins, uint8_t *columns, int64_t *vertices, uint8_t *ends,
                              Py_ssize_t capacity, int32_t *last) {
    const Py_ssize_t p0 = padded_shape[0], p1 = padded_shape[1], p2 = padded_shape[2];
    int32_t *lines[3];
    Py_ssize_t i, j, k, n = 0, c, n_lines[3];
    int edge, a;
    n_lines[0] = 4 * p1 * p2; /* along i: (doubled j, doubled k), each from -2 */
    n_lines[1] = 4 * p0 * p2;
    n_lines[2] = 4 * p0 * p1;
    lines[0] = last;
    lines[1] = last + n_lines[0];
    lines[2] = lines[1] + n_lines[1];
    for (c = 0; c < n_lines[0] + n_lines[1] + n_lines[2]; c++) last[c] = -1;
    for (i = 0; i + 1 < p0; i++)
        for (j = 0; j + 1 < p1; j++) {
            const uint8_t *a0 = padded + (i * p1 + j) * p2, *b = a0 + p2, *c0 = a0 + p1 * p2, *d = c0 + p2;
            for (k = 0; k < p2; k++)
                columns[k] = (uint8_t)(a0[k] | b[k] << 2 | c0[k] << 4 | d[k] << 6);
            for (k = 0; k + 1 < p2; k++) {
                const unsigned config = (unsigned)(columns[k] | columns[k + 1] << 1);
                if (config == 0 || config == 255) continue;
                counts[config]++;
                origins[3 * config] += (int64_t)i - 1;
                origins[3 * config + 1] += (int64_t)j - 1;
                origins[3 * config + 2] += (int64_t)k - 1;
                for (edge = 0; edge < 3; edge++) { /* along i (corner 4), j (corner 2), k (corner 1) */
                    if (((config >> (4 >> edge)) ^ config) & 1) {
                        /* twice the position plus 2: 0 .. 2 p - 1 */
                        const Py_ssize_t x = 2 * i + (edge == 0), y = 2 * j + (edge == 1), z = 2 * k + (edge == 2);
                        const Py_ssize_t line[3] = {y * 2 * p2 + z, x * 2 * p2 + z, x * 2 * p1 + y};
                        if (n < capacity) {
                            vertices[3 * n] = (int64_t)x - 2;
                            vertices[3 * n + 1] = (int64_t)y - 2;
                            vertices[3 * n + 2] = (int64_t)z - 2;
                            ends[n] = 0;
                            for (a = 0; a < 3; a++) {
                                if (lines[a][line[a]] < 0) ends[n] |= (uint8_t)(1 << a);
                                lines[a][line[a]] = (int32_t)n;
                            }
                        }
                        n++;
                    }
                }
            }
        }
    for (a = 0; a < 3; a++)
        for (c = 0; c < n_lines[a]; c++)
            if (lines[a][c] >= 0) ends[lines[a][c]] |= (uint8_t)(1 << a);
    return n;
}

PyDoc_STRVAR(mesh_cubes_doc,
             "mesh_cubes(mask, counts, origins, sums, vertices, ends) -> int\n\n"
             "Count the marching cubes of a 3D bool mask (any strides), padded by one empty voxel on every\n"
             "side, by configuration (bit 4 di + 2 dj + dk set when corner (di, dj, dk) is in the mask):\n"
             "counts (int64, 256) gets each configuration's number of cubes and origins (int64, 256 x 3) the\n"
             "sum of their corner-0 positions (from -1); configurations 0 and 255 are not counted. sums\n"
             "(int64, 10) gets [N, S_i, S_j, S_k, S_ii, S_ij, S_ik, S_jj, S_jk, S_kk] over the mask's voxels.\n"
             "vertices (int64, rows of 3) gets twice the index position of each edge midpoint where the\n"
             "padded mask changes (the marching-cubes mesh's vertices at level 0.5), in the C order of the\n"
             "edge's first voxel, then i, j, k, as long as it has rows (fewer than 2**31); ends (uint8, one\n"
             "per row) gets bit 0, 1, 2 for the vertices first or last on their line along i, j, k. Return\n"
             "the number of vertices: when it exceeds the rows, call again with as many.");

static PyObject *py_mesh_cubes(PyObject *self, PyObject *args) {
    const char *kernel = "mesh_cubes";
    PyObject *mask_obj, *counts_obj, *origins_obj, *sums_obj, *vertices_obj, *ends_obj, *result = NULL;
    Array mask = {0}, counts = {0}, origins = {0}, sums = {0}, vertices = {0}, ends = {0};
    Py_ssize_t padded_shape[3], n_vertices = 0, n_lines;
    uint8_t *padded = NULL, *columns = NULL;
    int32_t *last = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOO", &mask_obj, &counts_obj, &origins_obj, &sums_obj, &vertices_obj,
                          &ends_obj))
        return NULL;
    if (mask_get(mask_obj, &mask, kernel) < 0 ||
        array_get(counts_obj, &counts, kernel, "counts", ONLY(TYPE_i64), 1) < 0 ||
        array_get(origins_obj, &origins, kernel, "origins", ONLY(TYPE_i64), 1) < 0 ||
        array_get(sums_obj, &sums, kernel, "sums", ONLY(TYPE_i64), 1) < 0 ||
        array_get(vertices_obj, &vertices, kernel, "vertices", ONLY(TYPE_i64), 1) < 0 ||
        array_get(ends_obj, &ends, kernel, "ends", ONLY(TYPE_u8), 1) < 0)
        goto done;
    if (check_size(&counts, 256, kernel, "counts") < 0 || check_size(&origins, 3 * 256, kernel, "origins") < 0 ||
        check_size(&sums, 10, kernel, "sums") < 0)
        goto done;
    if (vertices.view.ndim != 2 || vertices.view.shape[1] != 3 || vertices.view.shape[0] >= INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "%s: vertices must have shape (n, 3), n < 2**31", kernel);
        goto done;
    }
    if (check_size(&ends, vertices.view.shape[0], kernel, "ends") < 0) goto done;
    {
        const Py_ssize_t p0 = mask.view.shape[0] + 2, p1 = mask.view.shape[1] + 2, p2 = mask.view.shape[2] + 2;
        n_lines = 4 * (p1 * p2 + p0 * p2 + p0 * p1);
    }
    Py_BEGIN_ALLOW_THREADS
    padded = padded_mask(&mask.view, padded_shape, int64s(&sums));
    columns = (uint8_t *)malloc((size_t)padded_shape[2]);
    last = (int32_t *)malloc((size_t)n_lines * sizeof(int32_t));
    if (padded != NULL && columns != NULL && last != NULL) {
        memset(counts.view.buf, 0, 256 * sizeof(int64_t));
        memset(origins.view.buf, 0, 3 * 256 * sizeof(int64_t));
        n_vertices = count_cubes(padded, padded_shape, int64s(&counts), int64s(&origins),
                                 columns, int64s(&vertices), (uint8_t *)ends.view.buf, vertices.view.shape[0], last);
    }
    Py_END_ALLOW_THREADS
    if (padded == NULL || columns == NULL || last == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyLong_FromSsize_t(n_vertices);
done:
    free(padded);
    free(columns);
    free(last);
    array_release(&mask);
    array_release(&counts);
    array_release(&origins);
    array_release(&sums);
    array_release(&vertices);
    array_release(&ends);
    return result;
}

/* --- diameter_candidates (shape diameters) --- */

/* The farthest pair of a point set lies on its convex hull, and a hull vertex is first or last on every
 * line through it, so only the points that end their lines along a few directions are compared (see
 * lai/radiomics/shape.py). A family of lines is given by keys (9 small integers): with p, q, r the key
 * rows times a point, a line is the points of equal (p, q), ordered by r. The points are integers
 * (twice the index coordinates of mesh vertices) within +-2**40. */
typedef struct {
    int64_t key[9];
} LineFamily;

/* Points are held as three int32 coordinate arrays relative to their lowest values (0 .. span[a],
 * spans below 2**28), so that every key combination fits an int32 and the per-point arithmetic is a
 * contiguous, vectorisable loop. */
typedef struct {
    int32_t *c[3];
} Coordinates;

/* Lowest value and number of values of key . x over points within 0 .. span[a]. */
static int64_t key_low(const int64_t *key, const int64_t *span) {
    return (key[0] < 0 ? key[0] * span[0] : 0) + (key[1] < 0 ? key[1] * span[1] : 0) +
           (key[2] < 0 ? key[2] * span[2] : 0);
}

static int64_t key_size(const int64_t *key, const int64_t *span) {
    int64_t size = 1;
    int a;
    for (a = 0; a < 3; a++) size += (key[a] < 0 ? -key[a] : key[a]) * span[a];
    return size;
}

/* Set end[m] when point m of the n points ends its line of the family among them. cells (pairs lowest,
 * highest r per line, a dense (p, q) grid) has room for the family's grid and is empty (INT32_MAX, -1)
 * on entry and on return (only the lines of the points are reset); cell and along are scratch (n each). */
static void mark_ends(const Coordinates *points, Py_ssize_t n, const LineFamily *family, const int64_t *span,
                      int32_t *cells, int32_t *cell, int32_t *along, uint8_t *end) {
    const int64_t *key = family->key;
    const int32_t *x = points->c[0], *y = points->c[1], *z = points->c[2];
    const int32_t p0 = (int32_t)key[0], p1 = (int32_t)key[1], p2 = (int32_t)key[2];
    const int32_t q0 = (int32_t)key[3], q1 = (int32_t)key[4], q2 = (int32_t)key[5];
    const int32_t r0 = (int32_t)key[6], r1 = (int32_t)key[7], r2 = (int32_t)key[8];
    const int32_t p_low = (int32_t)key_low(key, span), q_low = (int32_t)key_low(key + 3, span);
    const int32_t r_low = (int32_t)key_low(key + 6, span), q_size = (int32_t)key_size(key + 3, span);
    Py_ssize_t m;
    for (m = 0; m < n; m++) {
        cell[m] = 2 * ((p0 * x[m] + p1 * y[m] + p2 * z[m] - p_low) * q_size +
                       (q0 * x[m] + q1 * y[m] + q2 * z[m] - q_low));
        along[m] = r0 * x[m] + r1 * y[m] + r2 * z[m] - r_low;
    }
    for (m = 0; m < n; m++) {
        int32_t *extremes = cells + cell[m];
        const int32_t r = along[m];
        extremes[0] = r < extremes[0] ? r : extremes[0];
        extremes[1] = r > extremes[1] ? r : extremes[1];
    }
    for (m = 0; m < n; m++) {
        const int32_t *extremes = cells + cell[m];
        end[m] = along[m] == extremes[0] || along[m] == extremes[1];
    }
    for (m = 0; m < n; m++) { /* back to empty for the next family */
        cells[cell[m]] = INT32_MAX;
        cells[cell[m] + 1] = -1;
    }
}

/* The larger of most and the largest number of (p, q) cells of the families[0..n_families) over points
 * within the coordinate ranges span[3]. */
static double most_cells(const LineFamily *families, int n_families, const int64_t *span, double most) {
    int f;
    for (f = 0; f < n_families; f++) {
        const double cells = (double)key_size(families[f].key, span) * (double)key_size(families[f].key + 3, span);
        most = cells > most ? cells : most;
    }
    return most;
}

/* The families: lines along the index axes i, j, k (plane and line the two other axes); the six face
 * diagonals of the 3D diameter (i -+ j along i with k fixed, i -+ k along i with j fixed, j -+ k along j
 * with i fixed); and per plane (fixed k, j, i) the two diagonals u + v, u - v along u of its in-plane
 * axes u < v. */
static const LineFamily AXIS_LINES[3] = {
    {{0, 1, 0, 0, 0, 1, 1, 0, 0}}, {{1, 0, 0, 0, 0, 1, 0, 1, 0}}, {{1, 0, 0, 0, 1, 0, 0, 0, 1}}};
static const LineFamily FACE_DIAGONALS[6] = {
    {{1, -1, 0, 0, 0, 1, 1, 0, 0}}, {{1, 1, 0, 0, 0, 1, 1, 0, 0}}, {{1, 0, -1, 0, 1, 0, 1, 0, 0}},
    {{1, 0, 1, 0, 1, 0, 1, 0, 0}},  {{0, 1, -1, 1, 0, 0, 0, 1, 0}}, {{0, 1, 1, 1, 0, 0, 0, 1, 0}}};
static const LineFamily PLANE_DIAGONALS[3][2] = {
    {{{1, 0, 0, 0, 1, 1, 0, 1, 0}}, {{1, 0, 0, 0, 1, -1, 0, 1, 0}}}, /* fixed i: j + k, j - k along j */
    {{{0, 1, 0, 1, 0, 1, 1, 0, 0}}, {{0, 1, 0, 1, 0, -1, 1, 0, 0}}}, /* fixed j: i + k, i - k along i */
    {{{0, 0, 1, 1, 1, 0, 1, 0, 0}}, {{0, 0, 1, 1, -1, 0, 1, 0, 0}}}, /* fixed k: i + j, i - j along i */
};

/* The scratch of keep_ends_of_all. */
typedef struct {
    const int64_t *span;   /* the points' coordinate ranges (from 0) */
    Coordinates all, some; /* every point; the points of a list, gathered */
    int32_t *cells, *cell, *along;
    Py_ssize_t n_cells;
    uint8_t *end, *kept;
} EndsScratch;

/* Keep in list[0..n) the points that end their lines of every family of families[0..n_families) among
 * the listed points (each family judged among the same points); return how many remain. */
static Py_ssize_t keep_ends_of_all(Py_ssize_t *list, Py_ssize_t n, const LineFamily *families, int n_families,
                                   const EndsScratch *work) {
    uint8_t *end = work->end, *kept = work->kept;
    Py_ssize_t m, remain = 0;
    int f, a;
    if (n <= 0) return 0;
    for (a = 0; a < 3; a++)
        for (m = 0; m < n; m++) work->some.c[a][m] = work->all.c[a][list[m]];
    memset(kept, 1, (size_t)n);
    for (f = 0; f < n_families; f++) {
        mark_ends(&work->some, n, families + f, work->span, work->cells, work->cell, work->along, end);
        for (m = 0; m < n; m++) kept[m] &= end[m];
    }
    for (m = 0; m < n; m++)
        if (kept[m]) list[remain++] = list[m];
    return remain;
}

/* flags[n]: bit 0 when point n is a candidate of the 3D diameter (it ends its lines along the three
 * axes, and among those points its lines along the six face diagonals), bit 1, 2, 3 when it is a
 * candidate in its plane of fixed k, j, i (it ends its lines along the plane's two axes, and among those
 * points its lines along the plane's two diagonals). */
static void find_candidates(Py_ssize_t n_points, uint8_t *flags, Py_ssize_t *list, const EndsScratch *work,
                            uint8_t *axis_ends, const uint8_t *given) {
    uint8_t *axis_end[3] = {axis_ends, axis_ends + n_points, axis_ends + 2 * n_points};
    Py_ssize_t n, m, kept;
    int a, w;
    memset(flags, 0, (size_t)n_points);
    for (n = 0; n < work->n_cells; n++) {
        work->cells[2 * n] = INT32_MAX;
        work->cells[2 * n + 1] = -1;
    }
    for (a = 0; a < 3; a++)
        if (given != NULL)
            for (n = 0; n < n_points; n++) axis_end[a][n] = (uint8_t)((given[n] >> a) & 1);
        else
            mark_ends(&work->all, n_points, AXIS_LINES + a, work->span, work->cells, work->cell, work->along,
                      axis_end[a]);
    for (kept = 0, n = 0; n < n_points; n++)
        if (axis_end[0][n] & axis_end[1][n] & axis_end[2][n]) list[kept++] = n;
    kept = keep_ends_of_all(list, kept, FACE_DIAGONALS, 6, work);
    for (m = 0; m < kept; m++) flags[list[m]] |= 1;
    for (w = 0; w < 3; w++) {
        const int plane = 2 - w, u = plane == 0 ? 1 : 0, v = plane == 2 ? 1 : 2;
        for (kept = 0, n = 0; n < n_points; n++)
            if (axis_end[u][n] & axis_end[v][n]) list[kept++] = n;
        kept = keep_ends_of_all(list, kept, PLANE_DIAGONALS[plane], 2, work);
        for (m = 0; m < kept; m++) flags[list[m]] |= (uint8_t)(2 << w);
    }
}

PyDoc_STRVAR(diameter_candidates_doc,
             "diameter_candidates(points, flags, axis_ends=None)\n\n"
             "Write into flags (uint8, n) which points (int64, n x 3: twice the index coordinates of mesh\n"
             "vertices, within +-2**40, spans below 2**28) may end a largest distance: bit 0 for the 3D\n"
             "diameter (ends of their lines along the index axes, then along the face diagonals), bits 1,\n"
             "2, 3 in their plane of fixed k, j, i (ends along the plane's axes, then along its diagonals).\n"
             "axis_ends (uint8, n), when given, holds the ends along i, j, k as bits 0, 1, 2 (as mesh_cubes\n"
             "lists them) instead of finding them.");

static PyObject *py_diameter_candidates(PyObject *self, PyObject *args) {
    const char *kernel = "diameter_candidates";
    PyObject *points_obj, *flags_obj, *given_obj = Py_None, *result = NULL;
    Array points = {0}, flags = {0}, given = {0};
    Py_ssize_t n, n_points;
    int64_t low[3] = {0, 0, 0}, high[3] = {0, 0, 0}, span[3];
    const int64_t *x;
    double n_cells = 1.0;
    Py_ssize_t *list = NULL;
    int32_t *cells = NULL, *scratch = NULL;
    uint8_t *bytes = NULL;
    EndsScratch work;
    int a;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO|O", &points_obj, &flags_obj, &given_obj)) return NULL;
    if (array_get(points_obj, &points, kernel, "points", ONLY(TYPE_i64), 0) < 0 ||
        array_get(flags_obj, &flags, kernel, "flags", ONLY(TYPE_u8), 1) < 0 ||
        (given_obj != Py_None && array_get(given_obj, &given, kernel, "axis_ends", ONLY(TYPE_u8), 0) < 0))
        goto done;
    if (points.view.ndim != 2 || points.view.shape[1] != 3) {
        PyErr_Format(PyExc_ValueError, "%s: points must have shape (n, 3)", kernel);
        goto done;
    }
    n_points = points.view.shape[0];
    if (check_size(&flags, n_points, kernel, "flags") < 0 ||
        (given.held && check_size(&given, n_points, kernel, "axis_ends") < 0))
        goto done;
    x = int64s(&points);
    for (n = 0; n < 3 * n_points; n++)
        if (x[n] < -((int64_t)1 << 40) || x[n] > ((int64_t)1 << 40)) {
            PyErr_Format(PyExc_ValueError, "%s: point coordinate %lld beyond +-2**40", kernel, (long long)x[n]);
            goto done;
        }
    for (a = 0; a < 3 && n_points > 0; a++) {
        low[a] = high[a] = x[a];
        for (n = 1; n < n_points; n++) {
            low[a] = x[3 * n + a] < low[a] ? x[3 * n + a] : low[a];
            high[a] = x[3 * n + a] > high[a] ? x[3 * n + a] : high[a];
        }
        if (high[a] - low[a] >= ((int64_t)1 << 28)) {
            PyErr_Format(PyExc_ValueError, "%s: the points span %lld along axis %d, more than 2**28", kernel,
                         (long long)(high[a] - low[a]), a);
            goto done;
        }
    }
    for (a = 0; a < 3; a++) span[a] = high[a] - low[a];
    n_cells = most_cells(AXIS_LINES, 3, span, n_cells);
    n_cells = most_cells(&PLANE_DIAGONALS[0][0], 6, span, n_cells);
    n_cells = most_cells(FACE_DIAGONALS, 6, span, n_cells);
    if (2.0 * n_cells >= (double)INT32_MAX) { /* cell offsets (two per line) are int32 */
        PyErr_Format(PyExc_ValueError, "%s: the points span too large a grid (%.0f lines)", kernel, n_cells);
        goto done;
    }
    list = (Py_ssize_t *)malloc(((size_t)n_points + 1) * sizeof(Py_ssize_t));
    cells = (int32_t *)malloc(2 * (size_t)n_cells * sizeof(int32_t));
    scratch = (int32_t *)malloc(8 * ((size_t)n_points + 1) * sizeof(int32_t));
    bytes = (uint8_t *)malloc(5 * (size_t)n_points + 1);
    if (list == NULL || cells == NULL || scratch == NULL || bytes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    work.span = span;
    for (a = 0; a < 3; a++) {
        work.all.c[a] = scratch + (size_t)a * (n_points + 1);
        work.some.c[a] = scratch + (size_t)(3 + a) * (n_points + 1);
        for (n = 0; n < n_points; n++) work.all.c[a][n] = (int32_t)(x[3 * n + a] - low[a]);
    }
    work.cell = scratch + 6 * (size_t)(n_points + 1);
    work.along = scratch + 7 * (size_t)(n_points + 1);
    work.cells = cells;
    work.n_cells = (Py_ssize_t)n_cells;
    work.end = bytes + 3 * n_points;
    work.kept = bytes + 4 * n_points;
    Py_BEGIN_ALLOW_THREADS
    find_candidates(n_points, (uint8_t *)flags.view.buf, list, &work, bytes,
                    given.held ? (const uint8_t *)given.view.buf : NULL);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(list);
    free(cells);
    free(scratch);
    free(bytes);
    array_release(&points);
    array_release(&flags);
    array_release(&given);
    return result;
}

/* --- Module --- */

static PyMethodDef methods[] = {
    {"cooccurrence", py_cooccurrence, METH_VARARGS, cooccurrence_doc},
    {"run_lengths", py_run_lengths, METH_VARARGS, run_lengths_doc},
    {"zone_labels", py_zone_labels, METH_VARARGS, zone_labels_doc},
    {"zone_table", py_zone_table, METH_VARARGS, zone_table_doc},
    {"dependence", py_dependence, METH_VARARGS, dependence_doc},
    {"neighbour_sums", py_neighbour_sums, METH_VARARGS, neighbour_sums_doc},
    {"roi_bounds", py_roi_bounds, METH_VARARGS, roi_bounds_doc},
    {"label_bounds", py_label_bounds, METH_VARARGS, label_bounds_doc},
    {"cropped_levels", py_cropped_levels, METH_VARARGS, cropped_levels_doc},
    {"largest_squared_distance", py_largest_squared_distance, METH_VARARGS, largest_squared_distance_doc},
    {"candidate_diameters", py_candidate_diameters, METH_VARARGS, candidate_diameters_doc},
    {"mesh_cubes", py_mesh_cubes, METH_VARARGS, mesh_cubes_doc},
    {"diameter_candidates", py_diameter_candidates, METH_VARARGS, diameter_candidates_doc},
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
             "The radiomics counting passes in C; use them through lai.radiomics.kernels, which allocates\n"
             "the outputs. Every function checks its buffers and releases the GIL while it counts.");

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "lai.radiomics._kernels", module_doc, 0, methods, slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModuleDef_Init(&module); }
