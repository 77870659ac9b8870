#pragma once

#include <string_view>
#include <vector>

namespace vesta::engine {

// `vesta snapshot create|list|restore …` on a stopped server's data
// directory (its --help says how); returns the process exit code: 0, 1 for a
// failure (said on stderr), 2 for a usage error.
int run_snapshot_command(const std::vector<std::string_view>& args);

}  // namespace vesta::engine
