// How many threads this process has now, for tests that check work holds no thread each.
#pragma once

#include <dirent.h>

namespace perdiem::testing {

inline int thread_count() {
  int count = 0;
  if (DIR* tasks = ::opendir("/proc/self/task")) {
    while (const dirent* entry = ::readdir(tasks)) count += entry->d_name[0] != '.' ? 1 : 0;
    ::closedir(tasks);
  }
  return count;
}

}  // namespace perdiem::testing
