// SPDX-License-Identifier: MIT
#include "tools/sweep/runner.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <memory>

#include "tools/commands.h"

namespace dojosim::sweep {

namespace bp = boost::process;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// The status word of a point, from `dojosim run`'s exit status (docs/cli.md).
const char* status_name(int exit_code) {
  switch (exit_code) {
    case cli::kOk:
      return "ok";
    case cli::kProgramFailed:
      return "program-failed";
    case cli::kUsage:
      return "input-error";
    case cli::kTrapped:
      return "trap";
    case cli::kHung:
      return "hung";
    case cli::kOutOfMemory:
      return "out-of-memory";
    case cli::kSimulatorError:
      return "simulator-error";
    case cli::kNeedsValues:
      return "needs-values";
    default:
      return "crashed";
  }
}

// Signals that stop a child from outside (Ctrl-C, Slurm's time limit, kill): not its failure.
bool stopped_from_outside(int sig) {
  return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGKILL;
}

// The first megabyte of a log file ("" if there is none).
std::string log_head(const std::string& path) {
  constexpr size_t kHead = 1 << 20;
  std::ifstream f(path, std::ios::binary);
  std::string head(kHead, '\0');
  f.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(std::max<std::streamsize>(f.gcount(), 0)));
  return head;
}

// Reads the figures of a `dojosim run --json` file as {NAME: value}. Every run's JSON has a
// "report" (hw/stats/run_report.h: the same names for a program and a workload run) whose
// numbers become NAME, a group's GROUP.NAME; a program run's machine-level statistics
//   {"config", "report", "stats": {name, description, "stats": {NAME: {"value", ...}}, "children"}}
// add the names the report does not have (the report's come first: its "cycles" is the run's,
// the statistic "cycles" the threads' sum).
// NOTE: a program run's file holds every node and link after the machine's statistics
// (megabytes for a die), which the sweep does not need: this SAX handler stops the parser at the
// machine's "children", so a point costs the parent about a millisecond, not a full parse.
class RunFigures : public nlohmann::json_sax<nlohmann::ordered_json> {
 public:
  nlohmann::ordered_json figures = nlohmann::ordered_json::object();

  bool key(string_t& k) override {
    if (depth_ == 2 && keys_[0] == "stats" && k == "children") return false;  // stop reading
    keys_[depth_ - 1] = k;
    return true;
  }
  bool start_object(std::size_t) override { return enter(); }
  bool start_array(std::size_t) override { return enter(); }
  bool end_object() override { return leave(); }
  bool end_array() override { return leave(); }
  bool null() override { return true; }
  bool boolean(bool v) override { return value(v); }
  bool number_integer(number_integer_t v) override { return value(v); }
  bool number_unsigned(number_unsigned_t v) override { return value(v); }
  bool number_float(number_float_t v, const string_t&) override { return value(v); }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool enter() {
    ++depth_;
    keys_.resize(std::max<size_t>(keys_.size(), depth_));
    keys_[depth_ - 1].clear();  // array elements have no key
    return true;
  }
  bool leave() {
    --depth_;
    return true;
  }
  bool value(nlohmann::ordered_json v) {
    if (depth_ == 4 && keys_[0] == "stats" && keys_[1] == "stats" && keys_[3] == "value")
      figures.emplace(keys_[2], std::move(v));  // stats -> stats -> NAME -> value, if new
    else if (depth_ == 2 && keys_[0] == "report" && !keys_[1].empty())
      figures[keys_[1]] = std::move(v);  // report -> NAME
    else if (depth_ == 3 && keys_[0] == "report" && !keys_[1].empty() && !keys_[2].empty())
      figures[keys_[1] + "." + keys_[2]] = std::move(v);  // report -> GROUP -> NAME
    return true;
  }

  size_t depth_ = 0;
  std::vector<std::string> keys_;
};

// The figures of a point's JSON file, or null if it has none (the run failed early).
nlohmann::ordered_json run_figures(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return nullptr;
  RunFigures handler;
  nlohmann::ordered_json::sax_parse(f, &handler);
  return handler.figures.empty() ? nullptr : handler.figures;
}

std::string duration(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

class Pool {
 public:
  Pool(const Spec& spec, const std::vector<const Point*>& todo, const Manifest& manifest,
       OutputDir& out, const RunOptions& options,
       const std::function<std::string(const Record&)>& check)
      : spec_(spec),
        todo_(todo),
        manifest_(manifest),
        out_(out),
        options_(options),
        check_(check) {}

  RunResult run() {
    if (todo_.empty()) return result_;
    if (options_.keep_json) {
      std::error_code ec;
      fs::create_directories(out_.file("json"), ec);
      if (ec)
        throw OutputError(fmt::format("cannot create {}: {}", out_.file("json"), ec.message()));
    }
    start_ = Clock::now();
    fill();
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      result_.signal = sig;
      for (Job& j : jobs_) ::kill(j.child->id(), SIGTERM);
      finish_if_done();
    });
    if (options_.progress) tick();
    io_.run();
    if (options_.progress) fmt::print(stderr, "\r\x1b[K");
    return result_;
  }

 private:
  struct Job {
    const Point* point = nullptr;
    std::unique_ptr<bp::child> child;
    Clock::time_point start;
    std::unique_ptr<boost::asio::steady_timer> timeout;  // with RunOptions::timeout_seconds
    bool timed_out = false;
  };

  bool stopping() const { return result_.signal != 0 || !result_.stop_reason.empty(); }

  void fill() {
    while (!stopping() && jobs_.size() < options_.jobs && next_ < todo_.size())
      launch(*todo_[next_++]);
  }

  // The child's statistics: json/ID.json to keep, else beside its logs until they are read, so
  // that no json/ folder appears without --keep-json.
  std::string json_path(const Point& p) const {
    return out_.file((options_.keep_json ? "json/" : "logs/") + p.id + ".json");
  }

  void launch(const Point& p) {
    const auto job = jobs_.emplace(jobs_.end());
    job->point = &p;
    job->start = Clock::now();
    std::error_code ec;
    fs::remove(json_path(p), ec);  // left by an earlier run that was killed
    const pid_t parent = ::getpid();
    job->child = std::make_unique<bp::child>(
        options_.dojosim, bp::args(run_args(spec_, p, json_path(p))),
        bp::std_out > out_.file("logs/" + p.id + ".out"),
        bp::std_err > out_.file("logs/" + p.id + ".err"), bp::std_in < bp::null, io_,
        // Deferred with post: the handler may run before make_unique has returned.
        bp::on_exit([this, job](int, const std::error_code&) {
          boost::asio::post(io_, [this, job] { done(job); });
        }),
        // A child must not outlive a sweep killed with -9: it would race its rerun for the logs.
        bp::extend::on_exec_setup([parent](auto&) {
          ::prctl(PR_SET_PDEATHSIG, SIGKILL);
          if (::getppid() != parent) ::_exit(127);
        }));
    if (options_.timeout_seconds > 0) {
      job->timeout = std::make_unique<boost::asio::steady_timer>(io_);
      job->timeout->expires_after(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(options_.timeout_seconds)));
      job->timeout->async_wait([job](const boost::system::error_code& cancelled) {
        if (cancelled || !job->child->running()) return;
        job->timed_out = true;
        ::kill(job->child->id(), SIGKILL);
      });
    }
  }

  void done(std::list<Job>::iterator job) {
    const Point& p = *job->point;
    const int status = job->child->native_exit_code();
    const double wall = std::chrono::duration<double>(Clock::now() - job->start).count();
    const bool timed_out = job->timed_out;
    if (job->timeout) job->timeout->cancel();
    jobs_.erase(job);
    if (!timed_out && WIFSIGNALED(status) && stopped_from_outside(WTERMSIG(status))) {
      ++result_.interrupted;
      std::error_code ec;
      fs::remove(json_path(p), ec);  // half written: the next run runs the point again
    } else {
      record(p, status, wall, timed_out);
    }
    fill();
    finish_if_done();
    if (options_.progress) draw();
  }

  void record(const Point& p, int status, double wall, bool timed_out) {
    Record r;
    r["id"] = p.id;
    r["index"] = p.index;
    r["workload"] = spec_.workloads[p.workload].name;
    r["axes"] = nlohmann::ordered_json::object();
    for (size_t a = 0; a < spec_.axes.size(); ++a) r["axes"][spec_.axes[a].key] = p.values[a];
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::string state = WIFEXITED(status) ? status_name(code) : "crashed";
    std::string error;
    nlohmann::ordered_json stats = run_figures(json_path(p));
    if (state != "ok") {
      // stderr holds the error (stdout the summary, whose last line is no error).
      error = error_line(log_head(out_.file("logs/" + p.id + ".err")));
      if (WIFSIGNALED(status))
        error = fmt::format("killed by signal {} ({}){}{}", WTERMSIG(status),
                            strsignal(WTERMSIG(status)), error.empty() ? "" : ": ", error);
      if (error.empty())
        error = fmt::format("exit status {}, nothing on stderr (logs/{}.out)", code, p.id);
      if (timed_out) {
        state = "timeout";
        error = fmt::format("stopped after {} s, the point's timeout", options_.timeout_seconds);
      }
    } else if (stats.is_null()) {
      state = "crashed";
      error = fmt::format("no statistics in {}", json_path(p));
    }
    r["status"] = state;
    r["exit_code"] = code;
    r["error"] = error;
    r["wall_seconds"] = std::round(wall * 1000) / 1000;
    r["stats"] = stats.is_null() ? nlohmann::ordered_json::object() : stats;
    if (!options_.keep_json || timed_out) {
      std::error_code ec;
      fs::remove(json_path(p), ec);
    }
    out_.append(manifest_, r);
    ++result_.recorded;
    if (state != "ok") result_.failures.push_back(r);
    // Every record goes to check_ (the session keeps them all for results.csv); the first
    // message stops the sweep.
    if (std::string why = check_(r); result_.stop_reason.empty())
      result_.stop_reason = std::move(why);
  }

  void finish_if_done() {
    if (!jobs_.empty() || (!stopping() && next_ < todo_.size())) return;
    signals_.cancel();
    timer_.cancel();
  }

  void tick() {
    draw();
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  }

  void draw() const {
    const size_t done = options_.already_done + result_.recorded;
    const size_t failed = options_.already_failed + result_.failures.size();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const size_t left =
        todo_.size() - std::min(todo_.size(), result_.recorded + result_.interrupted);
    const std::string eta =
        result_.recorded ? duration(elapsed / double(result_.recorded) * double(left)) : "--:--";
    const size_t total = std::max<size_t>(options_.total, 1);
    const size_t filled = 30 * std::min(done, total) / total;
    fmt::print(stderr, "\r[{}{}] {}/{} points, {} failed, {} running, ETA {}\x1b[K",
               std::string(filled, '#'), std::string(30 - filled, '.'), done, options_.total,
               failed, jobs_.size(), eta);
  }

  const Spec& spec_;
  const std::vector<const Point*>& todo_;
  const Manifest& manifest_;
  OutputDir& out_;
  const RunOptions& options_;
  const std::function<std::string(const Record&)>& check_;

  boost::asio::io_context io_;
  boost::asio::signal_set signals_{io_, SIGINT, SIGTERM, SIGHUP};
  boost::asio::steady_timer timer_{io_};
  std::list<Job> jobs_;  // a list: done() holds an iterator while others are added
  size_t next_ = 0;
  Clock::time_point start_;
  RunResult result_;
};

}  // namespace

RunResult run_points(const Spec& spec, const std::vector<const Point*>& todo,
                     const Manifest& manifest, OutputDir& out, const RunOptions& options,
                     const std::function<std::string(const Record&)>& check) {
  return Pool(spec, todo, manifest, out, options, check).run();
}

}  // namespace dojosim::sweep
