// SPDX-License-Identifier: MIT
#include "child.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pybind11/pybind11.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <new>
#include <stdexcept>
#include <systemc>

namespace py = pybind11;

namespace dojosim::python {
namespace {

// The first byte of the child's answer.
enum Status : char { kOk = 'o', kBadArgument = 'a', kFailed = 'f' };

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent went away: nothing left to tell
    data += n;
    size -= static_cast<size_t>(n);
  }
}

[[noreturn]] void child_main(int fd, const std::function<std::string()>& work) {
  ::signal(SIGINT, SIG_DFL);           // Python's handler only sets a flag nobody reads here
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the notebook's kernel died: so does its simulation
  std::string answer;
  try {
    answer = static_cast<char>(kOk) + work();
  } catch (const std::invalid_argument& e) {
    answer = static_cast<char>(kBadArgument) + std::string(e.what());
  } catch (const sc_core::sc_report& e) {
    const std::string what = e.what();
    answer = static_cast<char>(kFailed) + ("simulator error: " + what.substr(0, what.find('\n')));
  } catch (const std::bad_alloc&) {
    answer = static_cast<char>(kFailed) + std::string("out of host memory");
  } catch (const std::exception& e) {
    answer = static_cast<char>(kFailed) + std::string(e.what());
  }
  std::cout.flush();
  std::fflush(nullptr);
  write_all(fd, answer.data(), answer.size());
  ::close(fd);
  ::_exit(0);  // no atexit handlers, no Python finalisation: they belong to the parent
}

}  // namespace

std::string run_in_child(const std::function<std::string()>& work) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(
        fmt::format("dojosim: cannot create a pipe: {}", std::strerror(errno)));
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error(
        fmt::format("dojosim: cannot fork the simulation process: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], work);
  }
  ::close(fds[1]);
  std::string answer;
  bool interrupted = false;
  {
    py::gil_scoped_release release;
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n > 0) {
        answer.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) {
        py::gil_scoped_acquire acquire;
        if (PyErr_CheckSignals() != 0) {
          interrupted = true;
          ::kill(pid, SIGKILL);
          break;
        }
        continue;
      }
      break;  // end of file (or an error: the answer is incomplete either way)
    }
    ::close(fds[0]);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (interrupted) throw py::error_already_set();
  if (answer.empty() || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFSIGNALED(status))
      throw std::runtime_error(
          fmt::format("dojosim: the simulation process was killed by signal {} ({})",
                      WTERMSIG(status), strsignal(WTERMSIG(status))));
    throw std::runtime_error(
        fmt::format("dojosim: the simulation process exited with status {} without an answer",
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  }
  const char kind = answer[0];
  answer.erase(0, 1);
  if (kind == kOk) return answer;
  if (kind == kBadArgument) throw std::invalid_argument(answer);
  throw std::runtime_error(answer);
}

}  // namespace dojosim::python
