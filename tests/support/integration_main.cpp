// The integration tests' main: Catch's, then a wait for Paho's detached
// threads to end before the process exits (mqtt_session/session.h,
// await_library_threads). Exiting while one was still ending left ASan
// reporting a leak inside libpaho-mqtt3as after every test had passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <chrono>

#include "mqtt_session/session.h"

int main(int argc, char* argv[]) {
  int result = Catch::Session().run(argc, argv);
  provision::mqtt_session::await_library_threads(std::chrono::seconds(2));
  return result;
}
