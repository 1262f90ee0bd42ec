// SPDX-License-Identifier: MIT
// Shared argument handling of the verbs: one-line errors naming the problem.
#pragma once

#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "tools/commands.h"

namespace dojosim::cli {

inline int usage_error(const std::string& verb, const std::string& what) {
  fmt::print(stderr, "dojosim {}: {} (see dojosim {} --help)\n", verb, what, verb);
  return kUsage;
}

// Parses `args` into `vm`; on a bad flag prints one line and returns false.
inline bool parse_options(const std::vector<std::string>& args,
                          const boost::program_options::options_description& opts,
                          const boost::program_options::positional_options_description& pos,
                          boost::program_options::variables_map& vm, const std::string& verb) {
  namespace po = boost::program_options;
  try {
    po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
    po::notify(vm);
    return true;
  } catch (const po::error& e) {
    usage_error(verb, e.what());
    return false;
  }
}

}  // namespace dojosim::cli
