"""The C prelude of every generated kernel: types, vector helpers, exp, log, renormalise.

``li_exp`` and ``li_log`` are written with bit manipulation and polynomials only (no
library calls), branch-free, so the compiler vectorises them; both are accurate to about
one ulp in double (1e-16 relative) and float, keep IEEE special values (NaN, ±inf,
subnormals) and evaluate their polynomials by Estrin's scheme for short latency. The
``_v`` variants compute the same on 32- or 64-byte vectors (GCC/Clang vector extensions).
"""

from __future__ import annotations

__all__ = ["prelude"]

_COMMON = r"""
#include <stdint.h>
#include <string.h>
#include <math.h>
#define LI_ALIGN __attribute__((aligned(64)))
"""

# Shared by the scalar and the vector versions: written once on a type T whose integer
# twin is I (unsigned, same width); SEL(m, a, b) picks a where m holds, COND(x) is a mask.
_DOUBLE = r"""
#define LI_EXP_BODY(T, I, SEL, AND, B, U, BITS, FROMBITS) \
    /* exp(x) = 2^k exp(r), |r| <= ln2/2; outside (-708.39, 709.78) the answer (0, inf, \
       or NaN for NaN) is chosen from x alone, off the dependency chain */ \
    const T big = B(6755399441055744.0); /* 1.5 * 2^52 */ \
    T kd = x * 1.4426950408889634 + big; \
    I kb = BITS(kd); \
    kd = kd - big; \
    const T r = (x - kd * 0.6931471805599453) - kd * 2.3190468138462996e-17; \
    const T r2 = r * r, r4 = r2 * r2, r8 = r4 * r4; \
    const T q0 = 1.0 + r, q1 = 0.5 + r * (1.0 / 6.0); \
    const T q2 = 1.0 / 24.0 + r * (1.0 / 120.0), q3 = 1.0 / 720.0 + r * (1.0 / 5040.0); \
    const T q4 = 1.0 / 40320.0 + r * (1.0 / 362880.0); \
    const T q5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0); \
    const T q6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0); \
    const T s0 = q0 + r2 * q1, s1 = q2 + r2 * q3, s2 = q4 + r2 * q5; \
    T p = (s0 + r4 * s1) + r8 * (s2 + r4 * q6); \
    p = FROMBITS(BITS(p) + (kb << 52)); \
    const T special = SEL(x > B(0.0), B(INFINITY), SEL(x == x, B(0.0), x)); \
    return SEL(AND(x < B(709.782712893384), x > B(-708.3964185322641)), p, special);

#define LI_LOG_BODY(T, I, SEL, B, U, BITS, FROMBITS) \
    /* log(x) = e ln2 + 2 atanh(s), s = (m - 1)/(m + 1), m in [sqrt(1/2), sqrt(2)) */ \
    const T xs = SEL(x < B(2.2250738585072014e-308), x * 18014398509481984.0, x); \
    const I b = BITS(xs); \
    T m = FROMBITS((b & U(0x000fffffffffffffULL)) | U(0x3ff0000000000000ULL)); \
    T e = FROMBITS(((b >> 52) & U(0x7ffULL)) | U(0x4330000000000000ULL)); \
    e = e - (4503599627370496.0 + 1023.0); \
    e = SEL(x < B(2.2250738585072014e-308), e - 54.0, e); \
    e = SEL(m > B(1.4142135623730951), e + 1.0, e); \
    m = SEL(m > B(1.4142135623730951), m * 0.5, m); \
    const T s = (m - 1.0) / (m + 1.0); \
    const T z = s * s, z2 = z * z, z4 = z2 * z2, z8 = z4 * z4; \
    const T q0 = 1.0 + z * (1.0 / 3.0), q1 = 1.0 / 5.0 + z * (1.0 / 7.0); \
    const T q2 = 1.0 / 9.0 + z * (1.0 / 11.0), q3 = 1.0 / 13.0 + z * (1.0 / 15.0); \
    const T q4 = 1.0 / 17.0 + z * (1.0 / 19.0), q5 = 1.0 / 21.0 + z * (1.0 / 23.0); \
    const T p = (q0 + z2 * q1 + z4 * (q2 + z2 * q3)) + z8 * (q4 + z2 * q5); \
    T out = e * 0.6931471805599453 + (2.0 * s * p + e * 2.3190468138462996e-17); \
    out = SEL(x > B(0.0), out, SEL(x == B(0.0), B(-INFINITY), B(NAN))); \
    return SEL(x == B(INFINITY), x, out);

#define LI_RENORM_BODY(T, I, B, U, BITS, FROMBITS) \
    /* m = 2^e' m' with m' in [1, 2): the exponent e' is added to *e */ \
    const I b = BITS(m); \
    T ed = FROMBITS(((b >> 52) & U(0x7ffULL)) | U(0x4330000000000000ULL)); \
    *e = *e + (ed - (4503599627370496.0 + 1023.0)); \
    return FROMBITS((b & U(0x800fffffffffffffULL)) | U(0x3ff0000000000000ULL));
"""

_FLOAT = r"""
#define LI_EXP_BODY(T, I, SEL, AND, B, U, BITS, FROMBITS) \
    const T big = B(12582912.0f); /* 1.5 * 2^23 */ \
    T kd = x * 1.44269504f + big; \
    I kb = BITS(kd); \
    kd = kd - big; \
    const T r = (x - kd * 0.693359375f) + kd * 2.12194440e-4f; \
    const T r2 = r * r, r4 = r2 * r2; \
    const T q0 = 1.0f + r, q1 = 0.5f + r * (1.0f / 6.0f); \
    const T q2 = 1.0f / 24.0f + r * (1.0f / 120.0f); \
    const T q3 = 1.0f / 720.0f + r * (1.0f / 5040.0f); \
    T p = (q0 + r2 * q1) + r4 * (q2 + r2 * q3); \
    p = FROMBITS(BITS(p) + (kb << 23)); \
    const T special = SEL(x > B(0.0f), B(INFINITY), SEL(x == x, B(0.0f), x)); \
    return SEL(AND(x < B(88.7228394f), x > B(-87.3365479f)), p, special);

#define LI_LOG_BODY(T, I, SEL, B, U, BITS, FROMBITS) \
    const T xs = SEL(x < B(1.17549435e-38f), x * 16777216.0f, x); /* 2^24 lifts subnormals */ \
    const I b = BITS(xs); \
    T m = FROMBITS((b & U(0x007fffffU)) | U(0x3f800000U)); \
    T e = FROMBITS(((b >> 23) & U(0xffU)) | U(0x4b000000U)) - (8388608.0f + 127.0f); \
    e = SEL(x < B(1.17549435e-38f), e - 24.0f, e); \
    e = SEL(m > B(1.41421356f), e + 1.0f, e); \
    m = SEL(m > B(1.41421356f), m * 0.5f, m); \
    const T s = (m - 1.0f) / (m + 1.0f); \
    const T z = s * s, z2 = z * z; \
    const T p = (1.0f + z * (1.0f / 3.0f)) \
        + z2 * ((1.0f / 5.0f + z * (1.0f / 7.0f)) + z2 * (1.0f / 9.0f + z * (1.0f / 11.0f))); \
    T out = e * 0.693147181f + 2.0f * s * p; \
    out = SEL(x > B(0.0f), out, SEL(x == B(0.0f), B(-INFINITY), B(NAN))); \
    return SEL(x == B(INFINITY), x, out);

#define LI_RENORM_BODY(T, I, B, U, BITS, FROMBITS) \
    const I b = BITS(m); \
    *e = *e + (FROMBITS(((b >> 23) & U(0xffU)) | U(0x4b000000U)) - (8388608.0f + 127.0f)); \
    return FROMBITS((b & U(0x807fffffU)) | U(0x3f800000U));
"""

_SCALAR = r"""
static inline LI_UINT li_bits(real x) { LI_UINT b; memcpy(&b, &x, sizeof b); return b; }
static inline real li_frombits(LI_UINT b) { real x; memcpy(&x, &b, sizeof x); return x; }
#define LI_S_SEL(m, a, b) ((m) ? (a) : (b))
#define LI_S_AND(a, b) ((a) && (b))
#define LI_S_B(x) ((real)(x))
#define LI_S_U(x) ((LI_UINT)(x))
static inline real li_exp(real x) { LI_EXP_BODY(real, LI_UINT, LI_S_SEL, LI_S_AND, LI_S_B, LI_S_U, li_bits, li_frombits) }
static inline real li_log(real x) { LI_LOG_BODY(real, LI_UINT, LI_S_SEL, LI_S_B, LI_S_U, li_bits, li_frombits) }
static inline real li_renorm(real m, real *e) { LI_RENORM_BODY(real, LI_UINT, LI_S_B, LI_S_U, li_bits, li_frombits) }
static inline real li_sigmoid(real x) { return ((real)1) / (((real)1) + li_exp(-x)); }
"""

_VECTOR = r"""
typedef real vreal __attribute__((vector_size(LI_VB), may_alias));
typedef LI_UINT vuint __attribute__((vector_size(LI_VB), may_alias));
typedef LI_INT vmask __attribute__((vector_size(LI_VB)));
#define VL (LI_VB / (int)sizeof(real))
#define V(a, k) (*(vreal *)&(a)[(k) * VL])
#define LI_ZERO ((vreal){0})
#define LI_B(x) (LI_ZERO + (real)(x))
#define LI_U(x) (((vuint){0}) + (LI_UINT)(x))
/* LI_MIN(a, b) = a < b ? a : b and LI_MAX(a, b) = a > b ? a : b, NaN in a giving b, as
   the x86 min/max instructions define them */
#if defined(__AVX__) && LI_VB == 32 && defined(LI_DOUBLE)
#define LI_SEL(m, a, b) __builtin_ia32_blendvpd256((b), (a), (vreal)(m))
#define LI_MIN(a, b) __builtin_ia32_minpd256((a), (b))
#define LI_MAX(a, b) __builtin_ia32_maxpd256((a), (b))
#elif defined(__AVX__) && LI_VB == 32
#define LI_SEL(m, a, b) __builtin_ia32_blendvps256((b), (a), (vreal)(m))
#define LI_MIN(a, b) __builtin_ia32_minps256((a), (b))
#define LI_MAX(a, b) __builtin_ia32_maxps256((a), (b))
#else /* b ^ ((a ^ b) & m): three bit operations (one vpternlog with AVX-512) */
#define LI_SEL(m, a, b) \
    ((vreal)(((vuint)(b)) ^ ((((vuint)(a)) ^ ((vuint)(b))) & ((vuint)(m)))))
#if defined(__AVX512F__) && LI_VB == 64
#include <immintrin.h>
#ifdef LI_DOUBLE
#define LI_MIN(a, b) ((vreal)_mm512_min_pd((__m512d)(a), (__m512d)(b)))
#define LI_MAX(a, b) ((vreal)_mm512_max_pd((__m512d)(a), (__m512d)(b)))
#else
#define LI_MIN(a, b) ((vreal)_mm512_min_ps((__m512)(a), (__m512)(b)))
#define LI_MAX(a, b) ((vreal)_mm512_max_ps((__m512)(a), (__m512)(b)))
#endif
#else
#define LI_MIN(a, b) LI_SEL((a) < (b), (a), (b))
#define LI_MAX(a, b) LI_SEL((a) > (b), (a), (b))
#endif
#endif
#define LI_AND(a, b) ((a) & (b))
#define LI_VBITS(x) ((vuint)(x))
#if defined(__AVX__) && LI_VB == 32
#include <immintrin.h>
#ifdef LI_DOUBLE
#define LI_STREAM(p, v) _mm256_stream_pd((p), (__m256d)(v))
#else
#define LI_STREAM(p, v) _mm256_stream_ps((p), (__m256)(v))
#endif
#define LI_FENCE() _mm_sfence()
#elif defined(__AVX512F__) && LI_VB == 64
#include <immintrin.h>
#ifdef LI_DOUBLE
#define LI_STREAM(p, v) _mm512_stream_pd((p), (__m512d)(v))
#else
#define LI_STREAM(p, v) _mm512_stream_ps((p), (__m512)(v))
#endif
#define LI_FENCE() _mm_sfence()
#else
#define LI_STREAM(p, v) (*(vreal *)(p) = (v))
#define LI_FENCE() ((void)0)
#endif
/* dst[c * w + l] = src[l * ls + c * cs] for l < w, c < nt (lanes past nl repeat lane 0):
   a chunk of per-step inputs, batch-major in memory, turned lane-major. With AVX, full
   tiles of contiguous steps are transposed in registers (8 x 8 floats or 4 x 4 doubles). */
#if defined(__AVX__)
#include <immintrin.h>
#ifdef LI_DOUBLE
#define LI_TILE 4
static inline void li_tile(real *restrict d, int64_t w, const real *restrict s, int64_t ls)
{
    const __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + ls);
    const __m256d r2 = _mm256_loadu_pd(s + 2 * ls), r3 = _mm256_loadu_pd(s + 3 * ls);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(d + w, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(d + 2 * w, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(d + 3 * w, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#else
#define LI_TILE 8
static inline void li_tile(real *restrict d, int64_t w, const real *restrict s, int64_t ls)
{
    __m256 r[8], t[8], u[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(s + i * ls);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(d + i * w, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(d + (i + 4) * w, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}
#endif
#endif
static inline void li_gather(real *restrict dst, int64_t w, const real *restrict src,
                             int64_t ls, int64_t cs, int64_t nt, int64_t nl)
{
#if defined(__AVX__)
    if (cs == 1 && nl == w && nt % LI_TILE == 0 && w % LI_TILE == 0) {
        for (int64_t l = 0; l < w; l += LI_TILE)
            for (int64_t c = 0; c < nt; c += LI_TILE)
                li_tile(dst + c * w + l, w, src + l * ls + c, ls);
        return;
    }
#endif
    for (int64_t l = 0; l < w; ++l) {
        const real *s = src + (l < nl ? l : 0) * ls;
        for (int64_t c = 0; c < nt; ++c) dst[c * w + l] = s[c * cs];
    }
}
#define LI_VFROM(x) ((vreal)(x))
static inline vreal li_exp_v(vreal x) { LI_EXP_BODY(vreal, vuint, LI_SEL, LI_AND, LI_B, LI_U, LI_VBITS, LI_VFROM) }
static inline vreal li_log_v(vreal x) { LI_LOG_BODY(vreal, vuint, LI_SEL, LI_B, LI_U, LI_VBITS, LI_VFROM) }
static inline vreal li_renorm_v(vreal m, vreal *e) { LI_RENORM_BODY(vreal, vuint, LI_B, LI_U, LI_VBITS, LI_VFROM) }
static inline vreal li_sigmoid_v(vreal x) { return LI_B(1) / (LI_B(1) + li_exp_v(-x)); }
"""


def prelude(real: str, vector_bytes: int) -> str:
    """The code every kernel of element type ``real`` (``"float"``/``"double"``) starts with."""
    if real == "double":
        types = (
            "typedef double real;\n#define LI_DOUBLE 1\n"
            "#define LI_UINT uint64_t\n#define LI_INT int64_t\n"
        )
        math_ = _DOUBLE
    else:
        types = "typedef float real;\n#define LI_UINT uint32_t\n#define LI_INT int32_t\n"
        math_ = _FLOAT
    return "".join([_COMMON, types, f"#define LI_VB {vector_bytes}\n", math_, _SCALAR, _VECTOR])
