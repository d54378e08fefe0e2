// Standalone driver for the fuzz targets: replays files and directories (recursively, in
// sorted order) through LLVMFuzzerTestOneInput, each file in its own child process, and reports
// EVERY failing file. libFuzzer's own replay (`./t -runs=0 dir`, `./t f1 f2`) stops at the
// first crash, and `-merge=1` drops crashing inputs silently, so neither can gate a corpus.
//
//   <target> [--no-fork] [--timeout=SECONDS] [--quiet] PATH...
//
//   --no-fork     run in this process (debuggers, coverage builds); stops at the first crash
//                 or timeout
//   --timeout=S   a file running longer than S seconds fails (default 25, OSS-Fuzz's)
//   --quiet       print failures and the summary only
// Other arguments starting with '-' (libFuzzer flags) are ignored, so scripts may pass them.
// Exit status: 0 all passed, 1 some file failed, 2 usage error or no input files.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

struct Options {
  bool fork = true;
  bool quiet = false;
  unsigned timeout = 25;
  std::vector<std::string> paths;
};

bool ReadFile(const std::string& path, std::unique_ptr<uint8_t[]>* data, size_t* size) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return false;
  const std::streamoff end = f.tellg();
  if (end < 0) return false;
  *size = static_cast<size_t>(end);
  // An allocation of exactly the file's size, as libFuzzer gives: ASan catches reads past it.
  data->reset(new uint8_t[std::max<size_t>(*size, 1)]);
  f.seekg(0);
  return f.read(reinterpret_cast<char*>(data->get()), static_cast<std::streamsize>(*size)).good() ||
         *size == 0;
}

// Runs one input in this process; returns only if the target did not crash.
void RunOne(const std::string& path) {
  std::unique_ptr<uint8_t[]> data;
  size_t size = 0;
  if (!ReadFile(path, &data, &size)) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(3);
  }
  LLVMFuzzerTestOneInput(data.get(), size);
}

// Expands directories (recursively, sorted) into files.
bool Collect(const std::string& path, std::vector<std::string>* files) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> found;
    for (const auto& entry : fs::recursive_directory_iterator(path, ec)) {
      if (entry.is_regular_file()) found.push_back(entry.path().string());
    }
    if (ec) return false;
    std::sort(found.begin(), found.end());
    files->insert(files->end(), found.begin(), found.end());
    return true;
  }
  if (fs::is_regular_file(path, ec)) {
    files->push_back(path);
    return true;
  }
  return false;
}

// Forks a child for the file; returns an empty string on success, else why it failed.
// --no-fork: a file running past --timeout ends the process with this line (a hang would
// otherwise stall whoever replays it, e.g. scripts/fuzz classifying a timeout artifact).
void OnAlarm(int) {
  static const char kMsg[] = "regression driver: timeout (--timeout) while running a file\n";
  [[maybe_unused]] const ssize_t n = write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  _exit(70);
}

std::string RunForked(const std::string& path, unsigned timeout) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return std::string("fork failed: ") + std::strerror(errno);
  if (pid == 0) {
    if (timeout > 0) alarm(timeout);
    RunOne(path);
    // exit(), not _exit(): coverage and sanitizer runtimes write their reports at exit.
    std::exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return std::string("waitpid failed: ") + std::strerror(errno);
  }
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 0) return "";
    return "exit status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGALRM) return "timeout after " + std::to_string(timeout) + " s";
    return std::string("killed by signal ") + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "unknown wait status";
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--no-fork") {
      opt.fork = false;
    } else if (a == "--quiet") {
      opt.quiet = true;
    } else if (a.rfind("--timeout=", 0) == 0) {
      opt.timeout = static_cast<unsigned>(std::strtoul(a.c_str() + 10, nullptr, 10));
    } else if (a == "--help" || a == "-h") {
      std::printf("usage: %s [--no-fork] [--timeout=SECONDS] [--quiet] PATH...\n", argv[0]);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      continue;  // a libFuzzer flag: meaningless here
    } else {
      opt.paths.push_back(a);
    }
  }
  std::vector<std::string> files;
  for (const std::string& p : opt.paths) {
    if (!Collect(p, &files)) {
      std::fprintf(stderr, "%s: no such file or directory: %s\n", argv[0], p.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "%s: no input files (usage: %s [--no-fork] PATH...)\n", argv[0], argv[0]);
    return 2;
  }
  size_t failed = 0;
  for (const std::string& f : files) {
    if (!opt.fork) {
      if (!opt.quiet) std::fprintf(stderr, "running %s\n", f.c_str());
      signal(SIGALRM, OnAlarm);
      alarm(opt.timeout);
      RunOne(f);
      alarm(0);
      continue;
    }
    const std::string why = RunForked(f, opt.timeout);
    if (why.empty()) {
      if (!opt.quiet) std::fprintf(stderr, "ok   %s\n", f.c_str());
      continue;
    }
    ++failed;
    std::fprintf(stderr, "FAIL %s: %s\n  reproduce: %s --no-fork %s\n", f.c_str(), why.c_str(),
                 argv[0], f.c_str());
  }
  std::fprintf(stderr, "%s: %zu file(s), %zu failed\n", argv[0], files.size(), failed);
  return failed == 0 ? 0 : 1;
}
