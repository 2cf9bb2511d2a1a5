// Shim for OpenBLAS: CBLAS from its header, LAPACK by hand (Debian's OpenBLAS is built NO_LAPACKE and
// ships no LAPACK header). Fortran conventions: column-major, every scalar by pointer, and gfortran's
// hidden trailing CHARACTER lengths (pass 1).
#ifndef MANTISSA_COPENBLAS_SHIM_H
#define MANTISSA_COPENBLAS_SHIM_H
#include <stddef.h>
#include <cblas.h>

void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda, float *w,
             float *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);
void strtrs_(const char *uplo, const char *trans, const char *diag, const int *n, const int *nrhs,
             const float *a, const int *lda, float *b, const int *ldb, int *info,
             size_t uplo_len, size_t trans_len, size_t diag_len);
void dtrtrs_(const char *uplo, const char *trans, const char *diag, const int *n, const int *nrhs,
             const double *a, const int *lda, double *b, const int *ldb, int *info,
             size_t uplo_len, size_t trans_len, size_t diag_len);
#endif
