#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "helixkit/Io/NumericCsvParser.hpp"
#include "helixkit/Utilities/IdLookup.hpp"
#include "pybind.hpp"

void bindIo(py::module_& m) {
  using Parser = helixkit::NumericCsvParser;
  m.def(
      "parse_numeric_csv",
      [](const py::buffer& text, std::size_t offset, const std::vector<unsigned>& types,
         const std::vector<bool>& allowNan, unsigned nThreads) -> py::object {
        Parser::Config cfg;
        if (allowNan.size() != types.size()) {
          throw std::invalid_argument("parse_numeric_csv: allow_nan has " +
                                      std::to_string(allowNan.size()) + " entries, types " +
                                      std::to_string(types.size()));
        }
        for (std::size_t i = 0; i < types.size(); ++i) {
          cfg.columns.push_back({static_cast<Parser::ColumnType>(types[i]), allowNan[i]});
        }
        cfg.nThreads = nThreads;
        const Parser parser(cfg);
        const py::buffer_info info = text.request();  // GIL held; `text` outlives the parse
        if (info.ndim != 1 || info.itemsize != 1) {
          throw std::invalid_argument("parse_numeric_csv: text must be a 1-D byte buffer");
        }
        const auto size = static_cast<std::size_t>(info.size);
        if (offset > size) {
          throw std::invalid_argument("parse_numeric_csv: offset (=" + std::to_string(offset) +
                                      ") exceeds the text length " + std::to_string(size));
        }
        const std::string_view body(static_cast<const char*>(info.ptr) + offset, size - offset);
        std::optional<Parser::Table> table;
        {
          py::gil_scoped_release release;
          table = parser.parse(body);
        }
        if (!table) {
          return py::none();
        }
        py::list out;
        for (auto& col : table->columns) {
          std::visit([&](auto& v) { out.append(helixkit::python::toNumpy(std::move(v))); }, col);
        }
        return out;
      },
      py::arg("text"), py::arg("offset"), py::arg("types"), py::arg("allow_nan"),
      py::arg("n_threads") = 0,
      "Parse the numeric CSV body text[offset:] into one array per column (types: 0 int32, "
      "1 int64, 2 uint64, 3 float32, 4 float64, 5 bool as uint8); None when any line is "
      "not accepted (the caller's other parser then explains why).");

  m.def(
      "lookup_ids",
      [](const helixkit::python::CArray<std::int64_t>& keys,
         const helixkit::python::CArray<std::int64_t>& queries, unsigned nThreads) {
        const auto k = helixkit::python::requireVector(keys, "keys");
        const auto q = helixkit::python::requireVector(queries, "queries");
        std::vector<std::int64_t> pos;
        {
          py::gil_scoped_release release;
          pos = helixkit::lookupIds(k, q, nThreads);
        }
        return helixkit::python::toNumpy(std::move(pos));
      },
      py::arg("keys").noconvert(), py::arg("queries").noconvert(), py::arg("n_threads") = 0,
      "Position of each query in the unique int64 keys (any order), -1 where absent.");
}
