// libFuzzer harness for kubeconfig loading, the exec plugin's answer and
// base64. A kubeconfig is operator input that may come from anywhere (a
// cloud console, a colleague, a CI secret), so whatever the bytes, the
// loader must either return a config or throw lrb's Error: a yaml-cpp
// exception escaping, a crash or a hang is a bug. The first input byte
// picks the target so one corpus covers all three.
//   clang++-14 -std=c++20 -fsanitize=fuzzer,address,undefined -Isrc \
//     fuzz/kubeconfig_fuzz.cpp src/kube/kubeconfig.cpp \
//     src/kube/credentials.cpp src/core/error.cpp src/core/clock.cpp \
//     src/core/log.cpp -DFMT_HEADER_ONLY -lyaml-cpp -lcrypto \
//     -o kubeconfig_fuzz
//   ./kubeconfig_fuzz -max_total_time=60 fuzz/corpus/kubeconfig
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "kube/credentials.h"
#include "kube/kubeconfig.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    switch (data[0] % 3) {
    case 0:
      // Relative paths resolve under a directory that does not exist,
      // so no input can make the harness read a real file.
      lrb::kube::load_kubeconfig_text(text, "/nonexistent/fuzz/config");
      break;
    case 1:
      lrb::kube::decode_exec_credential(text, "client.authentication.k8s.io/v1",
                                        "fuzz");
      break;
    default:
      lrb::kube::decode_base64(text, "fuzz");
      break;
    }
  } catch (const lrb::core::Error&) {
    // Rejected with a proper error: the expected outcome for most input.
  }
  return 0;
}
