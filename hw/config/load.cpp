// SPDX-License-Identifier: MIT
// Stage 1: YAML into HardwareConfig, driven by the parameter table.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "hw/config/config_io.h"
#include "hw/config/value_codec.h"

namespace dojosim::hw {

std::string Origin::str() const {
  return line > 0 ? fmt::format("{}:{}", file, line) : file;
}

namespace {

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? std::string(sep) : "") + parts[i];
  return s;
}

// The first parameter of a group, as an example of what the group holds.
std::string first_key_in(const std::string& group) {
  for (const ParamInfo& p : params())
    if (p.key.compare(0, group.size() + 1, group + ".") == 0) return p.key;
  return group;
}

// Optimal string alignment distance: a swapped pair of letters is one edit, the commonest typo.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// A value as the user wrote it, short enough for a one-line message.
std::string render(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "(nothing)";
  if (n.IsScalar()) return n.Scalar();
  YAML::Node flow = YAML::Clone(n);
  flow.SetStyle(YAML::EmitterStyle::Flow);
  YAML::Emitter e;
  e << flow;
  std::string s = e.c_str();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string unknown_key_message(const std::string& key) {
  return fmt::format("unknown key; did you mean {}? (keys: dojosim config show, docs/config.md)",
                     nearest_key(key));
}

struct Reader {
  LoadedConfig& into;
  std::vector<std::string> problems;
  std::vector<std::string> reading;  // canonical paths of the files being read: no cycles
  std::vector<std::string> names;    // the same files as named in messages

  void problem(const Origin& at, const std::string& key, const std::string& value,
               const std::string& what) {
    problems.push_back(fmt::format("{}: {} = {}: {}", at.str(), key, value, what));
  }

  // Sets parameter `p` from `value`; on a type error records the problem.
  void set(const ParamInfo& p, const YAML::Node& value, const Origin& at) {
    const bool ok = std::visit(
        [&](const auto& b) {
          using T = std::decay_t<decltype(b.def)>;
          T v{};
          bool parsed = codec::parse(value, v);
          std::string expected = "expected " + codec::describe<T>();
          if constexpr (std::is_same_v<T, std::string>) {
            if (p.choices) {
              const std::vector<std::string> allowed = p.choices();
              parsed = parsed && std::find(allowed.begin(), allowed.end(), v) != allowed.end();
              expected = "expected one of " + join(allowed, ", ");
            }
          }
          if (!parsed) {
            if (!p.unit.empty() && p.unit != "count") expected += fmt::format(", in {}", p.unit);
            if (value.IsScalar() && value.Tag() == "!" && std::is_arithmetic_v<T>)
              expected += " (written without quotes)";
            problem(at, p.key, render(value), expected);
            return false;
          }
          b.of(into.config) = std::move(v);
          return true;
        },
        p.binding);
    if (ok) into.origins[p.key] = at;
  }

  void read_map(const YAML::Node& map, const std::string& prefix, const std::string& file,
                std::map<std::string, int>& seen) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const Origin at{file, it->first.Mark().line + 1};
      if (!it->first.IsScalar()) {
        problem(at, prefix.empty() ? "(top level)" : prefix, render(it->first),
                "a key must be a plain name");
        continue;
      }
      const std::string name = it->first.Scalar();
      const std::string key = prefix.empty() ? name : prefix + "." + name;
      if (prefix.empty() && name == "extends") continue;  // read first, by read_root
      if (const ParamInfo* p = find_param(key)) {
        const auto [first, fresh] = seen.emplace(key, at.line);
        if (!fresh) {
          problem(at, key, render(it->second),
                  fmt::format("set twice in this file (first at line {})", first->second));
          continue;
        }
        set(*p, it->second, at);
      } else if (is_param_group(key)) {
        // yaml-cpp keeps both of two equal keys in a map: a second "noc:" would merge silently.
        const auto [first, fresh] = seen.emplace(key + ":", at.line);
        if (!fresh) {
          problem(
              at, key, render(it->second),
              fmt::format("a second {}: in this file (first at line {}); put its keys under one",
                          name, first->second));
          continue;
        }
        if (it->second.IsNull()) continue;  // "node:" with nothing under it
        if (!it->second.IsMap()) {
          problem(at, key, render(it->second),
                  fmt::format("expected a map of {}.* keys, e.g. {}", key, first_key_in(key)));
          continue;
        }
        read_map(it->second, key, file, seen);
      } else {
        problem(at, key, render(it->second), unknown_key_message(key));
      }
    }
  }

  void read_root(const YAML::Node& root, const std::string& file, const std::string& dir) {
    if (!root.IsDefined() || root.IsNull()) return;  // an empty file sets nothing
    if (!root.IsMap()) {
      problem({file, root.Mark().line + 1}, "(top level)", render(root),
              "expected a map of keys such as node:, noc:, die:");
      return;
    }
    if (const YAML::Node base = root["extends"]) {
      const Origin at{file, base.Mark().line + 1};
      if (!base.IsScalar() || base.Scalar().empty()) {
        problem(at, "extends", render(base), "expected the path of a base config file");
      } else {
        const std::filesystem::path path =
            (std::filesystem::path(dir) / base.Scalar()).lexically_normal();
        read_file(path.string(), at, base.Scalar());
      }
    }
    std::map<std::string, int> seen;
    read_map(root, "", file, seen);
  }

  // `from`: where an extends named this file (empty line 0 for the file given by the user).
  void read_file(const std::string& path, const Origin& from, const std::string& as_written) {
    const auto blame = [&](const std::string& what) {
      if (from.line > 0)
        problem(from, "extends", as_written, what);
      else
        problems.push_back(fmt::format("{}: {}", path, what));
    };
    std::error_code ec;
    const std::string canonical = std::filesystem::weakly_canonical(path, ec).string();
    if (std::find(reading.begin(), reading.end(), canonical) != reading.end()) {
      blame(fmt::format("extends cycle: {} -> {}", join(names, " -> "), path));
      return;
    }
    std::ifstream f(path);
    if (!f || std::filesystem::is_directory(path, ec)) {
      blame(fmt::format("cannot read {}", path));
      return;
    }
    std::stringstream text;
    text << f.rdbuf();
    reading.push_back(canonical);
    names.push_back(path);
    read_text(text.str(), path, std::filesystem::path(path).parent_path().string());
    reading.pop_back();
    names.pop_back();
  }

  void read_text(const std::string& text, const std::string& file, const std::string& dir) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      problems.push_back(fmt::format("{}:{}:{}: YAML syntax error: {}", file, e.mark.line + 1,
                                     e.mark.column + 1, e.msg));
      return;
    }
    into.files.push_back(file);
    read_root(root, file, dir.empty() ? "." : dir);
  }

  void finish() const {
    if (!problems.empty()) throw ConfigError(problems);
  }
};

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(join(problems, "\n")), problems_(std::move(problems)) {}

std::string nearest_key(std::string_view key) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  const auto consider = [&](std::string_view candidate) {
    const size_t d = edit_distance(key, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  };
  std::set<std::string_view> groups;
  for (const ParamInfo& p : params()) {
    consider(p.key);
    for (size_t dot = p.key.find('.'); dot != std::string::npos; dot = p.key.find('.', dot + 1))
      groups.insert(std::string_view(p.key).substr(0, dot));
  }
  for (std::string_view g : groups) consider(g);
  return best;
}

void read_config_file(const std::string& path, LoadedConfig& into) {
  Reader r{into, {}, {}, {}};
  r.read_file(path, Origin{}, path);
  r.finish();
}

void read_config_text(const std::string& yaml, const std::string& name, LoadedConfig& into,
                      const std::string& base_dir) {
  Reader r{into, {}, {}, {}};
  r.read_text(yaml, name, base_dir);
  r.finish();
}

void apply_override(LoadedConfig& into, std::string_view assignment) {
  Reader r{into, {}, {}, {}};
  const Origin at{"--set", 0};
  const size_t eq = assignment.find('=');
  const auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return std::string(s);
  };
  const std::string key = eq == std::string_view::npos ? "" : trim(assignment.substr(0, eq));
  if (key.empty()) {
    throw ConfigError(
        {fmt::format("--set '{}': expected key=value, e.g. "
                     "noc.link_bytes_per_cycle=128",
                     assignment)});
  }
  const std::string text = trim(assignment.substr(eq + 1));
  const ParamInfo* p = find_param(key);
  if (!p) {
    r.problem(at, key, text,
              is_param_group(key) ? fmt::format("a group of parameters; set one of them, e.g. {}",
                                                first_key_in(key))
                                  : unknown_key_message(key));
    r.finish();
  }
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    r.problem(at, key, text, fmt::format("not a YAML value ({})", e.msg));
    r.finish();
  }
  r.set(*p, value, at);
  r.finish();
}

LoadedConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  LoadedConfig c;
  if (!path.empty()) read_config_file(path, c);
  for (const std::string& o : overrides) apply_override(c, o);
  validate(c.config, c.origins);
  return c;
}

void apply_override(HardwareConfig& config, std::string_view assignment) {
  LoadedConfig c{config, {}, {}};
  apply_override(c, assignment);
  validate(c.config, c.origins);
  config = std::move(c.config);
}

}  // namespace dojosim::hw
