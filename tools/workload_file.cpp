// SPDX-License-Identifier: MIT
#include "tools/workload_file.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <boost/process.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "tools/commands.h"
#include "tools/output_file.h"

namespace dojosim::cli {
namespace {

bool ends_with(const std::string& s, const char* suffix) {
  const std::string x = suffix;
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::vector<Layer> read_topology_csv(const std::string& path, uint32_t batch) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(fmt::format("cannot read {}", path));
  std::vector<Layer> layers;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (trim(line).empty() || trim(line)[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(trim(cell));
    while (!f.empty() && f.back().empty()) f.pop_back();  // SCALE-Sim rows end with a comma
    if (number == 1 && !f.empty() && f[0].find("Layer") != std::string::npos)
      continue;  // the header
    if (f.size() != 8)
      throw std::invalid_argument(
          fmt::format("{}:{}: {} fields; expected 8: Layer name, IFMAP Height, IFMAP "
                      "Width, Filter Height, Filter Width, Channels, Num Filter, Strides",
                      path, number, f.size()));
    for (size_t i = 1; i < 8; ++i)
      if (f[i].empty() || f[i].find_first_not_of("0123456789") != std::string::npos || f[i] == "0")
        throw std::invalid_argument(
            fmt::format("{}:{}: field {} is '{}'; expected a whole number of at least 1", path,
                        number, i + 1, f[i]));
    layers.push_back({f[0],
                      fmt::format("conv2d:N={},H={},W={},R={},S={},C={},K={},stride={}", batch,
                                  f[1], f[2], f[3], f[4], f[5], f[6], f[7]),
                      1});
  }
  if (layers.empty()) throw std::invalid_argument(fmt::format("{}: no layers", path));
  return layers;
}

std::vector<Layer> read_yaml(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw std::invalid_argument(fmt::format("cannot read {}", path));
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(fmt::format("{}:{}: {}", path, e.mark.line + 1, e.msg));
  }
  const auto where = [&](const YAML::Node& n) {
    return fmt::format("{}:{}", path, n.Mark().line + 1);
  };
  if (!root.IsMap() || !root["layers"] || !root["layers"].IsSequence())
    throw std::invalid_argument(fmt::format(
        "{}: expected a map with `layers:`, a list of {{name, workload, repeat}}", path));
  for (const auto& kv : root)
    if (kv.first.as<std::string>() != "layers")
      throw std::invalid_argument(fmt::format("{}: unknown key '{}'; expected layers",
                                              where(kv.first), kv.first.as<std::string>()));
  std::vector<Layer> layers;
  for (const YAML::Node& n : root["layers"]) {
    if (!n.IsMap() || !n["name"] || !n["workload"])
      throw std::invalid_argument(fmt::format("{}: a layer needs name and workload", where(n)));
    Layer l;
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      if (key == "name") l.name = kv.second.as<std::string>();
      else if (key == "workload") l.workload = kv.second.as<std::string>();
      else if (key == "repeat") {
        try {
          l.repeat = kv.second.as<uint32_t>();
        } catch (const YAML::Exception&) {
          l.repeat = 0;
        }
        if (l.repeat == 0)
          throw std::invalid_argument(
              fmt::format("{}: repeat = {}; expected a whole number of at least 1",
                          where(kv.second), kv.second.as<std::string>()));
      } else {
        throw std::invalid_argument(fmt::format(
            "{}: unknown key '{}'; expected name, workload, repeat", where(kv.first), key));
      }
    }
    layers.push_back(l);
  }
  if (layers.empty()) throw std::invalid_argument(fmt::format("{}: no layers", path));
  return layers;
}

}  // namespace

bool is_workload_file(const std::string& path) {
  return ends_with(path, ".csv") || ends_with(path, ".yaml") || ends_with(path, ".yml");
}

std::vector<Layer> read_workload_file(const std::string& path, uint32_t batch) {
  return ends_with(path, ".csv") ? read_topology_csv(path, batch) : read_yaml(path);
}

int run_workload_file(const std::string& path, uint32_t batch, const std::string& config_path,
                      const std::vector<std::string>& sets, const std::string& json_path) {
  namespace bp = boost::process;
  const std::vector<Layer> layers = read_workload_file(path, batch);
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::filesystem::path tmp =
      std::filesystem::temp_directory_path() / fmt::format("dojosim-layers-{}", getpid());
  std::filesystem::create_directories(tmp);
  fmt::print("dojosim run: {} ({} layers) on {}\n", path, layers.size(), config_path);
  fmt::print("{:<16} {:>6} {:>12} {:>10} {:>8} {:>8}  {}\n", "layer", "repeat", "cycles", "TFLOP/s",
             "% peak", "mapping", "workload");
  double total_cycles = 0, total_flop = 0, peak = 0, clock_hz = 0;
  int status = kOk;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const std::string out = (tmp / fmt::format("{}.json", i)).string(),
                      log = (tmp / fmt::format("{}.log", i)).string();
    std::vector<std::string> args = {
        "run", "--config", config_path, "--workload", l.workload + ",check=off", "--json", out};
    for (const std::string& s : sets) args.insert(args.end(), {"--set", s});
    const int code =
        bp::system(bp::exe = self, bp::args = args, bp::std_out > log, bp::std_err > log);
    if (code != kOk) {
      std::ifstream in(log);
      std::string last, line;
      while (std::getline(in, line))
        if (!trim(line).empty()) last = line;
      fmt::print("{:<16} {:>6} failed (exit {}): {}\n", l.name, l.repeat, code, last);
      if (status == kOk) status = code;
      rows.push_back(
          {{"layer", l.name}, {"workload", l.workload}, {"exit", code}, {"error", last}});
      continue;
    }
    std::ifstream in(out);
    const nlohmann::json j = nlohmann::json::parse(in);
    const auto& r = j["report"];
    const double cycles = r["cycles"], flop = r["flop"], seconds = r["seconds"];
    peak = r["peak_flop_per_s"];
    if (seconds > 0) clock_hz = cycles / seconds;
    total_cycles += cycles * l.repeat;
    total_flop += flop * l.repeat;
    fmt::print("{:<16} {:>6} {:>12} {:>10.1f} {:>7.1f}% {:>8}  {}\n", l.name, l.repeat,
               static_cast<uint64_t>(cycles), double(r["flop_per_s"]) / 1e12,
               double(r["utilisation_pct"]), r.value("mapping", "?"), l.workload);
    rows.push_back(
        {{"layer", l.name}, {"workload", l.workload}, {"repeat", l.repeat}, {"report", r}});
  }
  std::filesystem::remove_all(tmp);
  const double seconds = clock_hz > 0 ? total_cycles / clock_hz : 0;
  const double pct = seconds > 0 && peak > 0 ? 100.0 * total_flop / seconds / peak : 0;
  fmt::print("{:<16} {:>6} {:>12} {:>10.1f} {:>7.1f}% {:>8}  (layers one after another)\n", "total",
             "", static_cast<uint64_t>(total_cycles),
             seconds > 0 ? total_flop / seconds / 1e12 : 0.0, pct, "");
  if (!json_path.empty()) {
    nlohmann::ordered_json j;
    j["workload_file"] = path;
    j["layers"] = rows;
    j["total"] = {{"cycles", total_cycles}, {"flop", total_flop}, {"utilisation_pct", pct}};
    write_file(json_path, j.dump(1) + "\n");
  }
  return status;
}

}  // namespace dojosim::cli
