// Shim for MPFR: stdio.h must come first (mpfr.h declares its FILE* functions only after it).
// Only static inline wrappers here: macros and variadic functions do not import into Swift.
#ifndef MANTISSA_CMPFR_SHIM_H
#define MANTISSA_CMPFR_SHIM_H
#include <stdio.h>
#include <stdint.h>
#include <mpfr.h>

static inline long mantissa_mpfr_prec_min(void) { return (long)MPFR_PREC_MIN; }
static inline long mantissa_mpfr_prec_max(void) { return (long)MPFR_PREC_MAX; }
static inline long mantissa_mpfr_emin_min(void) { return (long)mpfr_get_emin_min(); }
static inline long mantissa_mpfr_emax_max(void) { return (long)mpfr_get_emax_max(); }

/// mpfr_init_set_* are macros: init at an explicit precision, then set.
static inline int mantissa_mpfr_init_set_d(mpfr_ptr x, mpfr_prec_t prec, double d, mpfr_rnd_t rnd) {
    mpfr_init2(x, prec); return mpfr_set_d(x, d, rnd);
}
static inline int mantissa_mpfr_init_set(mpfr_ptr x, mpfr_prec_t prec, mpfr_srcptr y, mpfr_rnd_t rnd) {
    mpfr_init2(x, prec); return mpfr_set(x, y, rnd);
}
static inline int mantissa_mpfr_init_set_si(mpfr_ptr x, mpfr_prec_t prec, long v, mpfr_rnd_t rnd) {
    mpfr_init2(x, prec); return mpfr_set_si(x, v, rnd);
}
/// mpfr_sprintf is variadic: fixed-signature wrappers for the formats we need.
static inline int mantissa_mpfr_snprint_g(char *buf, size_t size, int digits, mpfr_srcptr x) {
    return mpfr_snprintf(buf, size, "%.*Rg", digits, x);
}
static inline int mantissa_mpfr_snprint_a(char *buf, size_t size, mpfr_srcptr x) {
    return mpfr_snprintf(buf, size, "%Ra", x);
}
static inline const char *mantissa_mpfr_version(void) { return mpfr_get_version(); }
/// Some MPFR predicates are macros as well.
static inline int mantissa_mpfr_signbit(mpfr_srcptr x) { return mpfr_signbit(x) ? 1 : 0; }
static inline int mantissa_mpfr_sgn(mpfr_srcptr x) { return mpfr_sgn(x); }
static inline mpfr_exp_t mantissa_mpfr_get_exp(mpfr_srcptr x) { return mpfr_get_exp(x); }
static inline mpfr_prec_t mantissa_mpfr_get_prec(mpfr_srcptr x) { return mpfr_get_prec(x); }
static inline mpfr_exp_t mantissa_mpfr_emax_current(void) { return mpfr_get_emax(); }
static inline mpfr_exp_t mantissa_mpfr_emin_current(void) { return mpfr_get_emin(); }
/// The exponent field encoding of +-0 (`__MPFR_EXP_ZERO`, a macro): the state of a new number.
static inline mpfr_exp_t mantissa_mpfr_exp_zero(void) { return __MPFR_EXP_ZERO; }
/// Bytes of significand a number of `prec` bits needs (the macro form of `mpfr_custom_get_size`).
static inline size_t mantissa_mpfr_custom_get_size(mpfr_prec_t prec) { return mpfr_custom_get_size(prec); }
#endif
