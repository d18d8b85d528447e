// The writer's latency histogram: percentiles within its 12.5% bucket width.
#include <doctest/doctest.h>

#include "wallet/latency_histogram.hpp"

using perdiem::wallet::LatencyHistogram;

TEST_CASE("histogram percentiles are upper bounds within one bucket") {
  LatencyHistogram h;
  CHECK(h.percentile(0.5) == 0);
  for (int us = 1; us <= 10'000; ++us) h.add(us);
  CHECK(h.count() == 10'000);
  CHECK(h.max() == 10'000);
  for (double q : {0.01, 0.5, 0.9, 0.99, 1.0}) {
    const double exact = q * 10'000;
    const auto got = static_cast<double>(h.percentile(q));
    CHECK(got >= exact - 1);
    CHECK(got <= exact * 1.125 + 1);
  }
  LatencyHistogram small;
  for (int us : {0, 3, 3, 15}) small.add(us);
  CHECK(small.percentile(0.0) == 0);
  CHECK(small.percentile(0.5) == 3);  // below 16 us, buckets are exact
  CHECK(small.percentile(1.0) == 15);
}

TEST_CASE("since() measures one interval") {
  LatencyHistogram h;
  for (int i = 0; i < 100; ++i) h.add(100);
  const LatencyHistogram before = h;
  for (int i = 0; i < 100; ++i) h.add(5000);
  const LatencyHistogram during = h.since(before);
  CHECK(during.count() == 100);
  CHECK(during.percentile(0.01) >= 5000);
  CHECK(during.percentile(0.01) <= 5000 * 1.125);
}
