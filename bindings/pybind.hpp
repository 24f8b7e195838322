#pragma once

// Shared pybind11 prelude for every bind_<topic>.cpp: one set of casters and
// helpers, so there are no ODR traps between translation units.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;

namespace helixkit::python {

template <typename T>
using CArray = py::array_t<T, py::array::c_style>;

/// A read-only view of a C-contiguous 2-D array taken with the GIL held.
template <typename T>
struct RowsView {
  std::span<const T> span;
  std::size_t rows = 0;
  std::size_t cols = 0;
};

/// Check that `arr` is 2-D and C-contiguous; name it in the error message.
template <typename T>
RowsView<T> requireRows(const CArray<T>& arr, const char* name) {
  if (arr.ndim() != 2) {
    throw std::invalid_argument(std::string(name) +
                                " must be a 2-D array, got ndim=" +
                                std::to_string(arr.ndim()));
  }
  const auto rows = static_cast<std::size_t>(arr.shape(0));
  const auto cols = static_cast<std::size_t>(arr.shape(1));
  return {std::span<const T>(arr.data(), rows * cols), rows, cols};
}

/// Check that `arr` is 1-D (and of length `expected` unless it is npos).
template <typename T>
std::span<const T> requireVector(const CArray<T>& arr, const char* name,
                                 std::size_t expected = std::size_t(-1)) {
  if (arr.ndim() != 1) {
    throw std::invalid_argument(std::string(name) +
                                " must be a 1-D array, got ndim=" +
                                std::to_string(arr.ndim()));
  }
  const auto n = static_cast<std::size_t>(arr.shape(0));
  if (expected != std::size_t(-1) && n != expected) {
    throw std::invalid_argument(std::string(name) + " has length " +
                                std::to_string(n) + ", expected " +
                                std::to_string(expected));
  }
  return {arr.data(), n};
}

/// Flat view of a C-contiguous array of any dimensionality (empty arrays are
/// "not given" for the optional inputs).
template <typename T>
std::span<const T> flat(const CArray<T>& a) {
  return {a.data(), static_cast<std::size_t>(a.size())};
}

/// Hand a vector to numpy without copying: a capsule owns the buffer.
template <typename T>
py::array_t<T> toNumpy(std::vector<T>&& v) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule free(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(owned->size()), owned->data(),
                        free);
}

/// Same as toNumpy, reshaped to (size / cols, cols) in C order.
template <typename T>
py::array_t<T> toNumpy2D(std::vector<T>&& v, std::size_t cols) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule free(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  const auto c = static_cast<py::ssize_t>(cols);
  const auto r = cols == 0 ? 0 : static_cast<py::ssize_t>(owned->size() / cols);
  return py::array_t<T>({r, c}, {c * static_cast<py::ssize_t>(sizeof(T)),
                                 static_cast<py::ssize_t>(sizeof(T))},
                        owned->data(), free);
}

}  // namespace helixkit::python

// One binder per topic, each defined in its own bind_<topic>.cpp.
void bindUnits(py::module_& m);
void bindUtilities(py::module_& m);
void bindSeeding(py::module_& m);
void bindHashing(py::module_& m);
void bindGraph(py::module_& m);
void bindClustering(py::module_& m);
void bindFitting(py::module_& m);
void bindFinding(py::module_& m);
void bindIo(py::module_& m);
