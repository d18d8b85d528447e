#include "disk_probe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace perdiem::bench {
namespace {

double at(std::vector<double>& v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

DiskProbe probe_disk(const std::string& dir, int samples) {
  DiskProbe out;
  out.samples = samples;
  const std::string path = dir + "/disk-probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    out.error = std::string("cannot create ") + path + ": " + std::strerror(errno);
    return out;
  }
  std::vector<char> page(4096, 'p');
  std::vector<double> append, overwrite;
  // Appending grows the file, so the sync also commits the file system's journal (as a
  // growing WAL does); rewriting in place syncs data only (as a WAL reused after a
  // checkpoint does).
  for (int i = 0; i < samples && out.error.empty(); ++i) {
    for (bool grow : {true, false}) {
      ssize_t n = grow ? ::write(fd, page.data(), page.size())
                       : ::pwrite(fd, page.data(), page.size(), 0);
      auto start = std::chrono::steady_clock::now();
      if (n != static_cast<ssize_t>(page.size()) || ::fdatasync(fd) != 0) {
        out.error = std::string("write/fdatasync failed: ") + std::strerror(errno);
        break;
      }
      double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() -
                                                            start).count();
      (grow ? append : overwrite).push_back(us);
    }
  }
  ::close(fd);
  ::unlink(path.c_str());
  out.append_p50_us = at(append, 0.50);
  out.append_p99_us = at(append, 0.99);
  out.overwrite_p50_us = at(overwrite, 0.50);
  out.overwrite_p99_us = at(overwrite, 0.99);
  return out;
}

}  // namespace perdiem::bench
