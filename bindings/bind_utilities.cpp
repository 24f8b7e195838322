#include "helixkit/Utilities/ParallelFor.hpp"
#include "pybind.hpp"

#include <cstdint>

void bindUtilities(py::module_& m) {
  m.def("hardware_threads", [] { return helixkit::resolveThreads(0); },
        "Number of threads used when n_threads=0.");
  // Exercised by the tests: a chunked ordered gather must give the same
  // result for any thread count.
  m.def(
      "_parallel_collect_check",
      [](std::size_t n, std::size_t chunk, unsigned nThreads) {
        std::vector<std::int64_t> out;
        {
          py::gil_scoped_release release;
          out = helixkit::parallelCollect<std::int64_t>(
              n, chunk, nThreads,
              [](std::size_t b, std::size_t e, std::vector<std::int64_t>& o) {
                for (std::size_t i = b; i < e; ++i) {
                  for (std::size_t k = 0; k < i % 3; ++k) {
                    o.push_back(static_cast<std::int64_t>(i * 10 + k));
                  }
                }
              });
        }
        return helixkit::python::toNumpy(std::move(out));
      },
      py::arg("n"), py::arg("chunk"), py::arg("n_threads"));
}
