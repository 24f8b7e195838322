#include <cstdint>
#include <stdexcept>
#include <vector>

#include "TestHarness.hpp"
#include "helixkit/Utilities/IdLookup.hpp"

using namespace helixkit;

HK_TEST(findsEveryKeyAndOnlyKeys) {
  // TrackML-like ids: large, with structure in the low and high bits
  std::vector<std::int64_t> keys;
  for (std::int64_t i = 0; i < 3000; ++i) {
    keys.push_back((i % 7) << 55 | (i * 4099) << 8 | (i % 3));
  }
  keys.push_back(-5);
  keys.push_back(-(std::int64_t(1) << 62));
  std::vector<std::int64_t> queries;
  std::vector<std::int64_t> expected;
  for (std::size_t i = 0; i < keys.size(); i += 3) {
    queries.push_back(keys[i]);
    expected.push_back(static_cast<std::int64_t>(i));
    queries.push_back(keys[i] + (std::int64_t(1) << 54));  // not a key
    expected.push_back(-1);
  }
  for (unsigned threads : {1u, 2u, 5u}) {
    HK_CHECK(lookupIds(keys, queries, threads) == expected);
  }
}

HK_TEST(emptyInputsAndRepeatedKeys) {
  const std::vector<std::int64_t> none;
  const std::vector<std::int64_t> q{1, 2};
  HK_CHECK(lookupIds(none, q) == (std::vector<std::int64_t>{-1, -1}));
  HK_CHECK(lookupIds(q, none).empty());
  const std::vector<std::int64_t> dup{4, 9, 4};
  HK_CHECK_THROWS(lookupIds(dup, q), std::invalid_argument);
}

HK_TEST_MAIN()
