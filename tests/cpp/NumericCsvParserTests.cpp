#include <charconv>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "TestHarness.hpp"
#include "helixkit/Io/NumericCsvParser.hpp"

using namespace helixkit;
using Type = NumericCsvParser::ColumnType;

namespace {

NumericCsvParser parser(std::vector<Type> types, unsigned threads = 1,
                        std::size_t block = std::size_t(1) << 20, bool nan = false) {
  NumericCsvParser::Config cfg;
  for (Type t : types) {
    cfg.columns.push_back({t, nan});
  }
  cfg.nThreads = threads;
  cfg.blockSize = block;
  return NumericCsvParser(cfg);
}

template <typename T>
const std::vector<T>& col(const NumericCsvParser::Table& t, std::size_t i) {
  return std::get<std::vector<T>>(t.columns.at(i));
}

}  // namespace

HK_TEST(parsesEveryColumnType) {
  const auto p = parser({Type::eInt32, Type::eInt64, Type::eUInt64, Type::eFloat32,
                         Type::eFloat64, Type::eBool});
  const auto t = p.parse(
      "1,-2,18446744073709551615,0.1,2.5e-3,true\n"
      "\n"
      "-2147483648,9223372036854775807,0,-0,1,FALSE\r\n"
      "3,4,5,1e-45,.5,0");  // no final line end; 1e-45 is float32's smallest subnormal
  HK_CHECK(t.has_value());
  HK_CHECK(t->nRows == 3);
  HK_CHECK(col<std::int32_t>(*t, 0) == (std::vector<std::int32_t>{1, INT32_MIN, 3}));
  HK_CHECK(col<std::int64_t>(*t, 1) == (std::vector<std::int64_t>{-2, INT64_MAX, 4}));
  HK_CHECK(col<std::uint64_t>(*t, 2)[0] == UINT64_MAX);
  HK_CHECK(col<float>(*t, 3)[0] == 0.1f);
  HK_CHECK(std::signbit(col<float>(*t, 3)[1]));
  HK_CHECK(col<float>(*t, 3)[2] == std::numeric_limits<float>::denorm_min());
  HK_CHECK(col<double>(*t, 4) == (std::vector<double>{2.5e-3, 1.0, 0.5}));
  HK_CHECK(col<std::uint8_t>(*t, 5) == (std::vector<std::uint8_t>{1, 0, 0}));
}

HK_TEST(refusesWhatItCannotReadExactly) {
  const auto p = parser({Type::eInt32, Type::eFloat32});
  for (const char* bad : {"1,2,3\n", "1\n", "1,\n", ",2\n", " 1,2\n", "1,2 \n", "+1,2\n",
                          "1,+2\n", "1.0,2\n", "2147483648,1\n", "1,1e39\n", "1,nan\n",
                          "1,inf\n", "1,-inf\n", "1,\"2\"\n", "1,2\r3\n", "1,2\n3\n", "1;2\n",
                          "1,2x\n", "1,0x10\n", "  \n"}) {
    HK_CHECK(!p.parse(bad).has_value());
  }
  const auto nan = parser({Type::eFloat64}, 1, 1 << 20, true);
  const auto t = nan.parse("nan\nNaN\n1\n");
  HK_CHECK(t.has_value() && std::isnan(col<double>(*t, 0)[1]));
  HK_CHECK(!nan.parse("inf\n").has_value());
  HK_CHECK(!nan.parse("nan(1)\n").has_value());
  const auto b = parser({Type::eBool});
  HK_CHECK(!b.parse("yes\n").has_value());
  HK_CHECK(!b.parse("2\n").has_value());
}

HK_TEST(emptyAndBlankBodies) {
  const auto p = parser({Type::eInt64, Type::eFloat64});
  const auto empty = p.parse("");
  HK_CHECK(empty.has_value() && empty->nRows == 0);
  const auto blank = p.parse("\n\r\n\n");
  HK_CHECK(blank.has_value() && blank->nRows == 0);
}

HK_TEST(resultDoesNotDependOnThreadsOrBlocks) {
  std::string body;
  for (int i = 0; i < 5000; ++i) {
    body += std::to_string(i * 7 - 300) + "," + std::to_string(i * 0.37) + "\n";
    if (i % 97 == 0) {
      body += "\r\n";  // blank lines, also on block boundaries
    }
  }
  const auto ref = parser({Type::eInt64, Type::eFloat64}).parse(body);
  HK_CHECK(ref.has_value() && ref->nRows == 5000);
  for (unsigned threads : {1u, 2u, 7u}) {
    for (std::size_t block : {std::size_t(1), std::size_t(13), std::size_t(4096)}) {
      const auto t = parser({Type::eInt64, Type::eFloat64}, threads, block).parse(body);
      HK_CHECK(t.has_value());
      HK_CHECK(col<std::int64_t>(*t, 0) == col<std::int64_t>(*ref, 0));
      HK_CHECK(col<double>(*t, 1) == col<double>(*ref, 1));
    }
  }
  // one bad line anywhere refuses the whole body, whichever thread meets it
  std::string bad = body;
  bad.insert(bad.size() / 2, "oops\n");
  HK_CHECK(!parser({Type::eInt64, Type::eFloat64}, 4, 64).parse(bad).has_value());
}

// Float fields are exactly what std::from_chars gives for the whole field (value,
// sign of zero, which texts are accepted), for float and double columns.
HK_TEST(floatsEqualFromChars) {
  std::vector<std::string> texts = {
      "0", "-0", "0.0", "-0.000", "1", "-1", "5.", ".5", "-.5", "007", "1e5", "1E-5",
      "1e+5", "2.5e-3", "16777216", "16777217", "16777219", "-16777217", "33554435",
      "0.1", "0.2", "0.3", "3.4028235e38", "3.4028234e38", "-3.4028235e38", "1e-45",
      "1.4e-45", "7e-46", "1.17549435e-38", "1.1754942e-38", "9007199254740993",
      "9007199254740992", "1234567890123456789", "12345678901234567890", "1e22", "1e23",
      "1e-22", "1e-23", "4.9e-324", "1.7976931348623157e308", "123456.789e-3",
      "0.000000000000000000000000000001", "100000000000000000000000"};
  std::uint64_t state = 12345;
  auto next = [&]() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 11;
  };
  char buf[64];
  for (int i = 0; i < 20000; ++i) {
    // shortest float32 texts (what helixkit writes), doubles, and random digit strings
    std::uint32_t fb = static_cast<std::uint32_t>(next());
    float f = 0;
    std::memcpy(&f, &fb, sizeof f);
    if (std::isfinite(f)) {
      texts.emplace_back(buf, std::to_chars(buf, buf + sizeof buf, f).ptr);
    }
    const double d = static_cast<double>(next() % 2000000) * std::pow(10.0, static_cast<double>(next() % 30) - 20.0);
    texts.emplace_back(buf, std::to_chars(buf, buf + sizeof buf, d).ptr);
    std::string digits = std::to_string(next() % 100000000);
    if (next() % 2 == 0) {
      digits.insert(0, 1, '-');
    }
    digits.insert(digits.size() - static_cast<std::size_t>(next() % 6), 1, '.');
    if (next() % 3 == 0) {
      digits += 'e';
      digits += std::to_string(static_cast<int>(next() % 60) - 30);
    }
    texts.push_back(digits);
  }
  for (Type type : {Type::eFloat32, Type::eFloat64}) {
    const auto p = parser({type, Type::eInt32});
    std::size_t compared = 0;
    for (const auto& text : texts) {
      std::string line = text;
      line += ",1\n";
      const auto t = p.parse(line);
      if (type == Type::eFloat32) {
        float ref = 0;
        const auto r = std::from_chars(text.data(), text.data() + text.size(), ref);
        const bool ok = r.ec == std::errc() && r.ptr == text.data() + text.size() && std::isfinite(ref);
        HK_CHECK(t.has_value() == ok);
        if (ok && t) {
          const float got = col<float>(*t, 0)[0];
          HK_CHECK(std::memcmp(&got, &ref, sizeof got) == 0);
          ++compared;
        }
      } else {
        double ref = 0;
        const auto r = std::from_chars(text.data(), text.data() + text.size(), ref);
        const bool ok = r.ec == std::errc() && r.ptr == text.data() + text.size() && std::isfinite(ref);
        HK_CHECK(t.has_value() == ok);
        if (ok && t) {
          const double got = col<double>(*t, 0)[0];
          HK_CHECK(std::memcmp(&got, &ref, sizeof got) == 0);
          ++compared;
        }
      }
    }
    HK_CHECK(compared > 50000);
  }
}

HK_TEST(configIsValidated) {
  NumericCsvParser::Config cfg;
  HK_CHECK_THROWS(NumericCsvParser{cfg}, std::invalid_argument);
  cfg.columns.push_back({static_cast<Type>(9), false});
  HK_CHECK_THROWS(NumericCsvParser{cfg}, std::invalid_argument);
  cfg.columns.back().type = Type::eInt32;
  cfg.blockSize = 0;
  HK_CHECK_THROWS(NumericCsvParser{cfg}, std::invalid_argument);
}

HK_TEST_MAIN()
