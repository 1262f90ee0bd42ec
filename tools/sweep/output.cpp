// SPDX-License-Identifier: MIT
#include "tools/sweep/output.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dojosim::sweep {

namespace fs = std::filesystem;

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + csv_field(fields[i]);
  return line + "\n";
}

// A JSON value as a CSV cell: strings bare, numbers in their shortest exact form.
std::string cell(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::vector<std::string> strings(const nlohmann::json& j, const char* key,
                                 const std::string& where) {
  if (!j.contains(key) || !j[key].is_array())
    throw OutputError(fmt::format("{}: no '{}' list", where, key));
  return j[key].get<std::vector<std::string>>();
}

// One write() of the whole line, then fsync: the line is in the file whole or not at all.
void append_line(int fd, const std::string& line, const std::string& what) {
  const ssize_t n = ::write(fd, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size()))
    throw OutputError(
        fmt::format("cannot append to {}: {}", what, n < 0 ? std::strerror(errno) : "short write"));
  if (::fsync(fd) != 0)
    throw OutputError(fmt::format("cannot sync {}: {}", what, std::strerror(errno)));
}

int open_append(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw OutputError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  return fd;
}

}  // namespace

nlohmann::ordered_json to_json(const Manifest& m) {
  nlohmann::ordered_json j;
  j["dojosim_sweep"] = 1;
  j["spec"] = m.spec;
  j["config_hash"] = m.config_hash;
  j["shard"] = m.shard;
  j["axes"] = m.axes;
  j["metrics"] = m.metrics;
  j["plot"] = {{"y", m.plot.y}, {"x", m.plot.x}, {"lines", m.plot.lines}};
  j["ids"] = m.ids;
  return j;
}

Manifest manifest_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("dojosim_sweep"))
    throw OutputError(fmt::format("{}: not a dojosim sweep manifest", where));
  Manifest m;
  m.spec = j.value("spec", "");
  m.config_hash = j.value("config_hash", "");
  m.shard = j.value("shard", "");
  m.axes = strings(j, "axes", where);
  m.metrics = strings(j, "metrics", where);
  m.ids = strings(j, "ids", where);
  if (j.contains("plot") && j["plot"].is_object()) {
    m.plot.y = j["plot"].value("y", "");
    m.plot.x = j["plot"].value("x", "");
    m.plot.lines = j["plot"].value("lines", "");
  }
  return m;
}

std::optional<Manifest> read_manifest(const std::string& dir) {
  const std::string path = dir + "/sweep.json";
  std::ifstream f(path);
  if (!f) return std::nullopt;
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded()) throw OutputError(fmt::format("{}: not valid JSON", path));
  return manifest_from_json(j, path);
}

std::vector<Record> read_records(const std::string& path, bool repair,
                                 std::vector<std::string>& warnings) {
  std::vector<Record> records;
  std::ifstream f(path, std::ios::binary);
  if (!f) return records;
  std::stringstream buffer;
  buffer << f.rdbuf();
  const std::string text = buffer.str();
  size_t start = 0, line_no = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    ++line_no;
    if (end == std::string::npos) {  // torn: the sweep was killed in the middle of this write
      if (repair) {
        if (::truncate(path.c_str(), static_cast<off_t>(start)) != 0)
          throw OutputError(fmt::format("cannot repair {}: {}", path, std::strerror(errno)));
        warnings.push_back(
            fmt::format("{}:{}: cut off a torn last line (the point runs again)", path, line_no));
      }
      break;
    }
    Record r = Record::parse(text.begin() + static_cast<std::ptrdiff_t>(start),
                             text.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
    if (r.is_discarded() || !r.is_object() || !r.contains("id"))
      warnings.push_back(fmt::format("{}:{}: not a result record; ignored", path, line_no));
    else
      records.push_back(std::move(r));
    start = end + 1;
  }
  return records;
}

std::string csv_header(const Manifest& m) {
  std::vector<std::string> fields{"id", "workload"};
  fields.insert(fields.end(), m.axes.begin(), m.axes.end());
  fields.insert(fields.end(), {"status", "exit_code"});
  fields.insert(fields.end(), m.metrics.begin(), m.metrics.end());
  fields.insert(fields.end(), {"wall_seconds", "error"});
  return csv_line(fields);
}

std::string csv_row(const Manifest& m, const Record& r) {
  std::vector<std::string> fields{cell(r.value("id", "")), cell(r.value("workload", ""))};
  const Record none;
  const auto& axes = r.contains("axes") ? r["axes"] : none;
  const auto& stats = r.contains("stats") ? r["stats"] : none;
  for (const std::string& a : m.axes) fields.push_back(axes.contains(a) ? cell(axes[a]) : "");
  fields.push_back(cell(r.value("status", "")));
  fields.push_back(cell(r.value("exit_code", nlohmann::json())));
  for (const std::string& s : m.metrics) fields.push_back(stats.contains(s) ? cell(stats[s]) : "");
  fields.push_back(fmt::format("{:.3f}", r.value("wall_seconds", 0.0)));
  fields.push_back(cell(r.value("error", "")));
  return csv_line(fields);
}

std::string error_line(std::string_view log) {
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string_view::npos) end = log.size();
    std::string_view line = log.substr(start, end - start);
    start = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    // A progress line is redrawn after \r: what a terminal would show is after the last one.
    if (const size_t cr = line.rfind('\r'); cr != std::string_view::npos)
      line.remove_prefix(cr + 1);
    if (line.empty() || line[0] == ' ' || line[0] == '\t') continue;
    // SystemC's reports continue on "In file:" and "In process:" lines.
    if (line.rfind("Warning", 0) == 0 || line.find(": warning:") != std::string_view::npos ||
        line.rfind("In file:", 0) == 0 || line.rfind("In process:", 0) == 0)
      continue;
    return line.size() > 300 ? std::string(line.substr(0, 297)) + "..." : std::string(line);
  }
  return "";
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw OutputError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  const bool ok =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0)
    throw OutputError(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
}

OutputDir::OutputDir(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  fs::create_directories(dir_ + "/logs", ec);
  if (ec) throw OutputError(fmt::format("cannot create {}: {}", dir_, ec.message()));
  lock_fd_ = ::open(file(".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0)
    throw OutputError(fmt::format("cannot create {}: {}", file(".lock"), std::strerror(errno)));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    throw OutputError(fmt::format("{}: another dojosim sweep is writing this directory", dir_));
  }
}

OutputDir::~OutputDir() {
  for (int fd : {jsonl_fd_, csv_fd_, lock_fd_})
    if (fd >= 0) ::close(fd);
}

std::vector<Record> OutputDir::open_records(std::vector<std::string>& warnings) {
  std::vector<Record> records = read_records(file("results.jsonl"), true, warnings);
  if (jsonl_fd_ < 0) jsonl_fd_ = open_append(file("results.jsonl"));
  return records;
}

void OutputDir::rebuild_csv(const Manifest& m, const std::vector<Record>& records) {
  std::string csv = csv_header(m);
  for (const Record& r : records) csv += csv_row(m, r);
  if (csv_fd_ >= 0) ::close(csv_fd_);
  write_file_atomic(file("results.csv"), csv);
  csv_fd_ = open_append(file("results.csv"));
}

void OutputDir::append(const Manifest& m, const Record& r) {
  // Replace, not throw, on invalid UTF-8: an error line may quote anything a program printed.
  append_line(jsonl_fd_, r.dump(-1, ' ', false, Record::error_handler_t::replace) + "\n",
              file("results.jsonl"));
  append_line(csv_fd_, csv_row(m, r), file("results.csv"));
}

}  // namespace dojosim::sweep
