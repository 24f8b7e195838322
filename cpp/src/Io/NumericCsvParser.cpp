#include "helixkit/Io/NumericCsvParser.hpp"

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

#include "helixkit/Utilities/ParallelFor.hpp"

// std::from_chars for floating-point types (libstdc++ >= 11, MSVC; libc++ only
// recently). Without it, tables with float columns are refused and the caller
// uses its other parser.
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
#define HELIXKIT_FLOAT_FROM_CHARS 1
#else
#define HELIXKIT_FLOAT_FROM_CHARS 0
#endif

namespace helixkit {

namespace {

using ColumnType = NumericCsvParser::ColumnType;

/// Start of the first line that begins at or after byte `pos`: the byte after
/// the first '\n' at index >= pos - 1 (or the end of the body).
std::size_t lineStartAtOrAfter(std::string_view body, std::size_t pos) {
  if (pos == 0) {
    return 0;
  }
  if (pos >= body.size()) {
    return body.size();
  }
  const void* nl = std::memchr(body.data() + pos - 1, '\n', body.size() - pos + 1);
  return nl == nullptr ? body.size()
                       : static_cast<std::size_t>(static_cast<const char*>(nl) -
                                                  body.data()) + 1;
}

/// End of the line starting at `pos` (index of its '\n', or the body end).
std::size_t lineEnd(std::string_view body, std::size_t pos, std::size_t stop) {
  const void* nl = std::memchr(body.data() + pos, '\n', stop - pos);
  return nl == nullptr ? stop
                       : static_cast<std::size_t>(static_cast<const char*>(nl) -
                                                  body.data());
}

/// A line [begin, end) without its '\r', or an empty view for a blank line.
std::string_view content(std::string_view body, std::size_t begin, std::size_t end) {
  std::string_view line = body.substr(begin, end - begin);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return line;
}

template <typename value_t>
bool parseInteger(const char*& p, const char* last, value_t& out) {
  const auto [ptr, ec] = std::from_chars(p, last, out);
  if (ec != std::errc() || ptr == p) {
    return false;
  }
  p = ptr;
  return true;
}

template <typename value_t>
bool parseFloat(const char*& p, const char* last, value_t& out, bool allowNan) {
#if HELIXKIT_FLOAT_FROM_CHARS
  const auto [ptr, ec] = std::from_chars(p, last, out, std::chars_format::general);
  if (ec != std::errc() || ptr == p) {
    return false;  // includes overflow and underflow: the slow parser decides
  }
  if (!std::isfinite(out)) {
    // only the plain spelling ACTS writes ("nan", any case), where it is allowed
    if (!allowNan || !std::isnan(out) || ptr - p != 3) {
      return false;
    }
  }
  p = ptr;
  return true;
#else
  (void)p;
  (void)last;
  (void)out;
  (void)allowNan;
  return false;
#endif
}

bool equalsNoCase(const char* p, std::size_t n, const char* word) {
  if (std::strlen(word) != n) {
    return false;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const char c = p[i] >= 'A' && p[i] <= 'Z' ? static_cast<char>(p[i] - 'A' + 'a') : p[i];
    if (c != word[i]) {
      return false;
    }
  }
  return true;
}

bool parseBool(const char*& p, const char* last, std::uint8_t& out) {
  const void* comma = std::memchr(p, ',', static_cast<std::size_t>(last - p));
  const char* end = comma == nullptr ? last : static_cast<const char*>(comma);
  const auto n = static_cast<std::size_t>(end - p);
  if (n == 1 && (*p == '0' || *p == '1')) {
    out = static_cast<std::uint8_t>(*p == '1');
  } else if (equalsNoCase(p, n, "true")) {
    out = 1;
  } else if (equalsNoCase(p, n, "false")) {
    out = 0;
  } else {
    return false;
  }
  p = end;
  return true;
}

/// Raw output pointers, one per column (the vectors are sized before parsing).
struct Sink {
  ColumnType type;
  bool allowNan;
  void* data;
};

bool parseLine(std::string_view line, const std::vector<Sink>& sinks, std::size_t row) {
  const char* p = line.data();
  const char* last = line.data() + line.size();
  const std::size_t nCols = sinks.size();
  for (std::size_t c = 0; c < nCols; ++c) {
    const Sink& s = sinks[c];
    bool ok = false;
    switch (s.type) {
      case ColumnType::eInt32:
        ok = parseInteger(p, last, static_cast<std::int32_t*>(s.data)[row]);
        break;
      case ColumnType::eInt64:
        ok = parseInteger(p, last, static_cast<std::int64_t*>(s.data)[row]);
        break;
      case ColumnType::eUInt64:
        ok = parseInteger(p, last, static_cast<std::uint64_t*>(s.data)[row]);
        break;
      case ColumnType::eFloat32:
        ok = parseFloat(p, last, static_cast<float*>(s.data)[row], s.allowNan);
        break;
      case ColumnType::eFloat64:
        ok = parseFloat(p, last, static_cast<double*>(s.data)[row], s.allowNan);
        break;
      case ColumnType::eBool:
        ok = parseBool(p, last, static_cast<std::uint8_t*>(s.data)[row]);
        break;
    }
    if (!ok) {
      return false;
    }
    // the field must end exactly at its separator (or at the line end)
    if (c + 1 < nCols) {
      if (p == last || *p != ',') {
        return false;
      }
      ++p;
    } else if (p != last) {
      return false;
    }
  }
  return true;
}

template <typename value_t>
void* allocate(NumericCsvParser::Values& v, std::size_t n) {
  auto& vec = v.emplace<std::vector<value_t>>(n);
  return vec.data();
}

}  // namespace

void NumericCsvParser::Config::validate() const {
  if (columns.empty()) {
    throw std::invalid_argument("NumericCsvParser: columns must not be empty");
  }
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const auto t = static_cast<unsigned>(columns[i].type);
    if (t > static_cast<unsigned>(ColumnType::eBool)) {
      throw std::invalid_argument("NumericCsvParser: columns[" + std::to_string(i) +
                                  "].type (=" + std::to_string(t) +
                                  ") is not a ColumnType");
    }
  }
  if (blockSize == 0) {
    throw std::invalid_argument("NumericCsvParser: blockSize (=0) must be > 0");
  }
}

NumericCsvParser::NumericCsvParser(const Config& cfg) : m_cfg(cfg) { m_cfg.validate(); }

std::optional<NumericCsvParser::Table> NumericCsvParser::parse(std::string_view body) const {
  const std::size_t n = body.size();
  const std::size_t nBlocks = n == 0 ? 0 : (n + m_cfg.blockSize - 1) / m_cfg.blockSize;
  std::vector<std::size_t> start(nBlocks + 1, n);
  for (std::size_t k = 0; k < nBlocks; ++k) {
    start[k] = std::max(k == 0 ? std::size_t(0) : start[k - 1],
                        lineStartAtOrAfter(body, k * m_cfg.blockSize));
  }

  // pass 1: non-blank lines per block
  std::vector<std::size_t> rows(nBlocks + 1, 0);
  parallelChunks(nBlocks, 1, m_cfg.nThreads, [&](std::size_t k, std::size_t, std::size_t) {
    std::size_t count = 0;
    for (std::size_t pos = start[k]; pos < start[k + 1];) {
      const std::size_t end = lineEnd(body, pos, start[k + 1]);
      count += content(body, pos, end).empty() ? 0 : 1;
      pos = end + 1;
    }
    rows[k + 1] = count;
  });
  for (std::size_t k = 0; k < nBlocks; ++k) {
    rows[k + 1] += rows[k];
  }

  Table table;
  table.nRows = rows[nBlocks];
  table.columns.resize(m_cfg.columns.size());
  std::vector<Sink> sinks;
  sinks.reserve(m_cfg.columns.size());
  for (std::size_t c = 0; c < m_cfg.columns.size(); ++c) {
    const Column& col = m_cfg.columns[c];
    void* data = nullptr;
    switch (col.type) {
      case ColumnType::eInt32:
        data = allocate<std::int32_t>(table.columns[c], table.nRows);
        break;
      case ColumnType::eInt64:
        data = allocate<std::int64_t>(table.columns[c], table.nRows);
        break;
      case ColumnType::eUInt64:
        data = allocate<std::uint64_t>(table.columns[c], table.nRows);
        break;
      case ColumnType::eFloat32:
        data = allocate<float>(table.columns[c], table.nRows);
        break;
      case ColumnType::eFloat64:
        data = allocate<double>(table.columns[c], table.nRows);
        break;
      case ColumnType::eBool:
        data = allocate<std::uint8_t>(table.columns[c], table.nRows);
        break;
    }
    sinks.push_back({col.type, col.allowNan, data});
  }

  // pass 2: each block parses its lines into its own rows
  std::atomic<bool> failed{false};
  parallelChunks(nBlocks, 1, m_cfg.nThreads, [&](std::size_t k, std::size_t, std::size_t) {
    std::size_t row = rows[k];
    for (std::size_t pos = start[k]; pos < start[k + 1];) {
      if (failed.load(std::memory_order_relaxed)) {
        return;
      }
      const std::size_t end = lineEnd(body, pos, start[k + 1]);
      const std::string_view line = content(body, pos, end);
      if (!line.empty()) {
        if (!parseLine(line, sinks, row)) {
          failed.store(true, std::memory_order_relaxed);
          return;
        }
        ++row;
      }
      pos = end + 1;
    }
  });
  if (failed.load()) {
    return std::nullopt;
  }
  return table;
}

}  // namespace helixkit
