// A scratch directory for the unit tests: real files (never :memory: or
// mocks), so that SQLite's WAL and locking, kubeconfig's relative paths
// and file modes behave as they do in production. Header-only because
// only *_test.cpp files join the test binary.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <system_error>

namespace lrb::testing {

// A directory under the system temp dir, removed with its content.
class TempDir {
public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("lrb-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Returns the directory.
  const std::filesystem::path& path() const { return path_; }

  // Returns the path of `name` inside the directory.
  std::string file(const std::string& name) const {
    return (path_ / name).string();
  }

  // Writes `text` to `name` inside the directory and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    return file.string();
  }

private:
  std::filesystem::path path_;
};

} // namespace lrb::testing
