// The `tessera` command: a thin shell over tessera::app::main, where all the logic lives.
#include "tessera/app/main.hpp"

int main(int argc, char** argv) {
  return tessera::app::main(argc, argv);
}
