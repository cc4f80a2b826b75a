// The `lrb` executable: every role and verb behind one binary.
#include "cli/app.h"

int main(int argc, char** argv) {
  return lrb::cli::run(argc, argv);
}
