#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

namespace helixkit {

/// Strict, multi-threaded parser of the body (the lines after the header) of
/// a numeric CSV table, such as the TrackML and ACTS event files.
///
/// Each line holds exactly one field per column, separated by commas, with no
/// quotes and no whitespace; a line ends with "\n" or "\r\n" (the last one may
/// have no end); empty lines are skipped. Integer fields are decimal (an
/// optional '-'), float fields as std::from_chars reads them (decimal or
/// scientific, correctly rounded to the column's type), boolean fields one of
/// 0 / 1 / true / false in any case.
///
/// The parser accepts only text that every other reader of these files reads
/// the same way: a field out of its type's range, a non-finite float (NaN
/// unless the column allows it), a malformed line, anything else makes parse()
/// return no result, and the caller reads the file with a slower parser that
/// explains the problem. So it never reports errors itself and never returns a
/// partial table.
///
/// The body is cut into blocks at line ends (boundaries depend only on its
/// size); blocks are counted and parsed in parallel and written to their own
/// rows, so the result does not depend on the thread count.
class NumericCsvParser {
 public:
  enum class ColumnType : std::uint8_t {
    eInt32 = 0,
    eInt64 = 1,
    eUInt64 = 2,
    eFloat32 = 3,
    eFloat64 = 4,
    /// 0 / 1 / true / false, stored as one byte 0 or 1
    eBool = 5,
  };

  struct Column {
    ColumnType type = ColumnType::eFloat64;
    /// Float columns only: accept "nan" (any case; ACTS writes it for
    /// positions it does not have); infinities are always refused.
    bool allowNan = false;
  };

  struct Config {
    std::vector<Column> columns;
    /// Worker threads; 0 means all hardware threads.
    unsigned nThreads = 0;
    /// Bytes per block (the unit of parallel work).
    std::size_t blockSize = std::size_t(1) << 20;
    /// @throws std::invalid_argument naming the offending field and value
    void validate() const;
  };

  /// One parsed column, in the storage type of its ColumnType.
  using Values =
      std::variant<std::vector<std::int32_t>, std::vector<std::int64_t>,
                   std::vector<std::uint64_t>, std::vector<float>,
                   std::vector<double>, std::vector<std::uint8_t>>;

  struct Table {
    std::size_t nRows = 0;
    std::vector<Values> columns;
  };

  explicit NumericCsvParser(const Config& cfg);  // calls cfg.validate()

  /// @param body the lines after the header (not NUL-terminated)
  /// @return the columns, or nothing if any line is not accepted (see above)
  std::optional<Table> parse(std::string_view body) const;

  const Config& config() const { return m_cfg; }

 private:
  Config m_cfg;
};

}  // namespace helixkit
