#pragma once

#include <array>
#include <cmath>
#include <cstddef>

/// @file SmallMatrix.hpp
/// Fixed-size dense matrices for the track fit (5x5, 7x7, 5x7, ...): stack
/// storage, no heap allocation, loops the compiler unrolls.

namespace helixkit {

/// Row-major R x C matrix of doubles; a column vector is Mat<N, 1>.
template <std::size_t R, std::size_t C>
struct Mat {
  std::array<double, R * C> v{};

  constexpr double& operator()(std::size_t i, std::size_t j) {
    return v[i * C + j];
  }
  constexpr double operator()(std::size_t i, std::size_t j) const {
    return v[i * C + j];
  }
  /// Flat element access (for vectors: the i-th component).
  constexpr double& operator[](std::size_t i) { return v[i]; }
  constexpr double operator[](std::size_t i) const { return v[i]; }

  static constexpr Mat zero() { return Mat{}; }
  static constexpr Mat identity()
    requires(R == C)
  {
    Mat m{};
    for (std::size_t i = 0; i < R; ++i) {
      m(i, i) = 1.0;
    }
    return m;
  }
};

template <std::size_t N>
using Vec = Mat<N, 1>;

template <std::size_t R, std::size_t C>
Mat<C, R> transpose(const Mat<R, C>& a) {
  Mat<C, R> t{};
  for (std::size_t i = 0; i < R; ++i) {
    for (std::size_t j = 0; j < C; ++j) {
      t(j, i) = a(i, j);
    }
  }
  return t;
}

template <std::size_t R, std::size_t K, std::size_t C>
Mat<R, C> operator*(const Mat<R, K>& a, const Mat<K, C>& b) {
  Mat<R, C> r{};
  for (std::size_t i = 0; i < R; ++i) {
    for (std::size_t k = 0; k < K; ++k) {
      const double aik = a(i, k);
      for (std::size_t j = 0; j < C; ++j) {
        r(i, j) += aik * b(k, j);
      }
    }
  }
  return r;
}

/// a^T * b without forming the transpose.
template <std::size_t K, std::size_t R, std::size_t C>
Mat<R, C> transposeTimes(const Mat<K, R>& a, const Mat<K, C>& b) {
  Mat<R, C> r{};
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t i = 0; i < R; ++i) {
      const double aki = a(k, i);
      for (std::size_t j = 0; j < C; ++j) {
        r(i, j) += aki * b(k, j);
      }
    }
  }
  return r;
}

template <std::size_t R, std::size_t C>
Mat<R, C> operator+(Mat<R, C> a, const Mat<R, C>& b) {
  for (std::size_t i = 0; i < R * C; ++i) {
    a.v[i] += b.v[i];
  }
  return a;
}

template <std::size_t R, std::size_t C>
Mat<R, C> operator-(Mat<R, C> a, const Mat<R, C>& b) {
  for (std::size_t i = 0; i < R * C; ++i) {
    a.v[i] -= b.v[i];
  }
  return a;
}

template <std::size_t R, std::size_t C>
Mat<R, C> operator*(double s, Mat<R, C> a) {
  for (auto& x : a.v) {
    x *= s;
  }
  return a;
}

/// J * P * J^T for a symmetric P; the result is exactly symmetric.
template <std::size_t R, std::size_t C>
Mat<R, R> similarity(const Mat<R, C>& j, const Mat<C, C>& p) {
  const Mat<R, C> jp = j * p;
  Mat<R, R> r{};
  for (std::size_t a = 0; a < R; ++a) {
    for (std::size_t b = 0; b <= a; ++b) {
      double s = 0.0;
      for (std::size_t k = 0; k < C; ++k) {
        s += jp(a, k) * j(b, k);
      }
      r(a, b) = s;
      r(b, a) = s;
    }
  }
  return r;
}

/// Replace a by (a + a^T) / 2.
template <std::size_t N>
void symmetrize(Mat<N, N>& a) {
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const double m = 0.5 * (a(i, j) + a(j, i));
      a(i, j) = m;
      a(j, i) = m;
    }
  }
}

/// Cholesky factor L (lower) of a symmetric positive-definite matrix.
/// @return false if a is not positive definite (or not finite)
template <std::size_t N>
bool cholesky(const Mat<N, N>& a, Mat<N, N>& l) {
  l = Mat<N, N>{};
  for (std::size_t j = 0; j < N; ++j) {
    double d = a(j, j);
    for (std::size_t k = 0; k < j; ++k) {
      d -= l(j, k) * l(j, k);
    }
    if (!(d > 0.0) || !std::isfinite(d)) {
      return false;
    }
    const double ljj = std::sqrt(d);
    l(j, j) = ljj;
    for (std::size_t i = j + 1; i < N; ++i) {
      double s = a(i, j);
      for (std::size_t k = 0; k < j; ++k) {
        s -= l(i, k) * l(j, k);
      }
      l(i, j) = s / ljj;
    }
  }
  return true;
}

/// Inverse of a symmetric positive-definite matrix through its Cholesky
/// factor. @return false (and leaves inv unspecified) if a is not PD
template <std::size_t N>
bool spdInverse(const Mat<N, N>& a, Mat<N, N>& inv) {
  Mat<N, N> l;
  if (!cholesky(a, l)) {
    return false;
  }
  // inv(L) by forward substitution, then inv(A) = inv(L)^T inv(L).
  Mat<N, N> li{};
  for (std::size_t j = 0; j < N; ++j) {
    li(j, j) = 1.0 / l(j, j);
    for (std::size_t i = j + 1; i < N; ++i) {
      double s = 0.0;
      for (std::size_t k = j; k < i; ++k) {
        s -= l(i, k) * li(k, j);
      }
      li(i, j) = s / l(i, i);
    }
  }
  inv = transposeTimes(li, li);
  symmetrize(inv);
  return true;
}

}  // namespace helixkit
