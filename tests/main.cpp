// The unit-test binary's entry point; the suites live beside it in
// folders mirroring src/.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
