// The floor under every durable commit: how long this disk takes to make a small write
// durable. wallet_bench prints it next to the wallet's own figures, so a slow or busy disk
// is visible as the cause rather than mistaken for the wallet's.
#pragma once

#include <string>

namespace perdiem::bench {

struct DiskProbe {
  int samples = 0;
  double append_p50_us = 0, append_p99_us = 0;      // 4 KiB appended, then fdatasync
  double overwrite_p50_us = 0, overwrite_p99_us = 0;  // 4 KiB rewritten in place, then fdatasync
  std::string error;                                  // empty when measured
};

// Measures `samples` syncs of each kind on a scratch file in `dir` (removed afterwards).
DiskProbe probe_disk(const std::string& dir, int samples);

}  // namespace perdiem::bench
