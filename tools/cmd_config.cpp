// SPDX-License-Identifier: MIT
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "hw/config/config_io.h"
#include "hw/config/derived.h"
#include "hw/config/reference_doc.h"
#include "tools/commands.h"
#include "tools/data_files.h"
#include "tools/options.h"
#include "tools/output_file.h"

namespace dojosim::cli {

namespace po = boost::program_options;

namespace {

constexpr const char* kVerb = "config";

void print_text(const hw::LoadedConfig& loaded) {
  const hw::HardwareConfig& c = loaded.config;
  fmt::print("{:<38} {:<22} {:<8} {:<1} {}\n", "key", "value", "unit", "*",
             "set at (* = differs "
             "from the default, shown after it)");
  for (const hw::ParamInfo& p : hw::params()) {
    const auto at = loaded.origins.find(p.key);
    const bool differs = hw::differs_from_default(p, c);
    std::string note = at == loaded.origins.end() ? "default" : at->second.str();
    if (differs) note += "; default " + hw::format_value(p, hw::HardwareConfig{});
    fmt::print("{:<38} {:<22} {:<8} {:<1} {}\n", p.key, hw::format_value(p, c), p.unit,
               differs ? "*" : "", note);
  }
  fmt::print("\n{:<28} {:>12} {:<8} {:>12}  {}\n", "derived figure", "value", "unit", "published",
             "source");
  for (const hw::DerivedFigure& f : hw::derived_figures(c))
    fmt::print("{:<28} {:>12.6g} {:<8} {:>12}  {}\n", f.key, f.value, f.unit,
               std::isnan(f.published) ? "-" : fmt::format("{:g}", f.published), f.source);
}

int show(const std::vector<std::string>& args) {
  po::options_description opts(
      "dojosim config show [--config FILE] [--set KEY=VALUE ...] [--json | --yaml]\n"
      "Prints the effective hardware config (every key, its value and unit, where it was set and\n"
      "whether it differs from the default), then the figures derived from it beside the\n"
      "published D1 and tile figures. Keys: docs/config.md.\n\n"
      "examples:\n"
      "  dojosim config show --config configs/d1.yaml\n"
      "  dojosim config show --config configs/tile.yaml --set noc.link_bytes_per_cycle=128 --json\n"
      "  dojosim config show --config configs/tiny.yaml --yaml > resolved.yaml\n\n"
      "options");
  std::string file;
  std::vector<std::string> overrides;
  bool json = false, yaml = false;
  opts.add_options()("help,h", "show this help")(
      "config,c", po::value<std::string>(&file),
      "YAML config, or a name in configs/ (d1, tile, tray, tiny); default: the built-in D1 die")(
      "set,s", po::value<std::vector<std::string>>(&overrides)->composing(),
      "override one key, e.g. noc.routing=yx (repeatable; applied after the file)")(
      "json", po::bool_switch(&json), "print config and derived figures as JSON")(
      "yaml", po::bool_switch(&yaml), "print the resolved config as YAML (loadable with --config)");
  po::positional_options_description pos;
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "config show")) return kUsage;
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kOk;
  }
  if (json && yaml) return usage_error("config show", "--json and --yaml: choose one");
  try {
    if (!file.empty()) file = find_data_file(DataKind::Config, file);  // d1: configs/d1.yaml
  } catch (const std::runtime_error& e) {
    return usage_error("config show", e.what());
  }
  try {
    const hw::LoadedConfig loaded = hw::load_config(file, overrides);
    if (json)
      fmt::print("{}\n", hw::show_json(loaded, overrides).dump(2));
    else if (yaml)
      fmt::print("{}", hw::write_yaml(loaded.config));
    else
      print_text(loaded);
    return kOk;
  } catch (const hw::ConfigError& e) {
    for (const std::string& p : e.problems()) fmt::print(stderr, "{}\n", p);
  }
  return kUsage;
}

int doc(const std::vector<std::string>& args) {
  po::options_description opts(
      "dojosim config doc keys|figures [--update FILE]\n"
      "Prints a generated part of the docs: keys, the reference table of docs/config.md;\n"
      "figures, the derived-figures table of docs/hardware.md. --update FILE rewrites the\n"
      "generated block of FILE instead.\n\n"
      "examples:\n"
      "  dojosim config doc keys --update docs/config.md\n"
      "  dojosim config doc figures --update docs/hardware.md\n\n"
      "options");
  std::string what, update;
  opts.add_options()("help,h", "show this help")("update", po::value<std::string>(&update),
                                                 "rewrite the generated block of this file")(
      "what", po::value<std::string>(&what), "keys or figures");
  po::positional_options_description pos;
  pos.add("what", 1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "config doc")) return kUsage;
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kOk;
  }
  std::string text;
  if (what == "keys")
    text = hw::config_reference_markdown();
  else if (what == "figures")
    text = hw::derived_figures_markdown(hw::HardwareConfig{});
  else
    return usage_error("config doc", fmt::format("'{}': expected keys or figures", what));
  if (update.empty()) {
    fmt::print("{}", text);
    return kOk;
  }
  std::ifstream in(update);
  if (!in) return usage_error("config doc", fmt::format("cannot read '{}'", update));
  std::stringstream doc_text;
  doc_text << in.rdbuf();
  in.close();
  try {
    const std::string updated =
        hw::splice_generated(doc_text.str(), "dojosim config doc " + what, text);
    write_file(update, updated);
  } catch (const std::runtime_error& e) {
    return usage_error("config doc", fmt::format("{}: {}", update, e.what()));
  }
  return kOk;
}

}  // namespace

int cmd_config(const std::vector<std::string>& args) {
  const std::vector<std::string> rest(args.empty() ? args.begin() : args.begin() + 1, args.end());
  if (!args.empty() && args[0] == "show") return show(rest);
  if (!args.empty() && args[0] == "doc") return doc(rest);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    fmt::print(
        "dojosim config show [--config FILE] [--set KEY=VALUE ...] [--json | --yaml]\n"
        "dojosim config doc keys|figures [--update FILE]\n"
        "(dojosim config <show|doc> --help for options; keys in docs/config.md)\n\n"
        "examples:\n"
        "  dojosim config show --config configs/tile.yaml          # every key and the derived "
        "figures\n"
        "  dojosim config show --config configs/d1.yaml --set noc.link_bytes_per_cycle=128 "
        "--json\n");
    return kOk;
  }
  return usage_error(kVerb, args.empty() ? "expected show or doc"
                                         : fmt::format("'{}': expected show or doc", args[0]));
}

}  // namespace dojosim::cli
