#include "macvmorx/cli/command_line.hpp"

int main(int argc, char** argv) { return macvmorx::cli::run(argc, argv); }
