#include "rr_opencv.h"

#include <opencv2/core/version.hpp>
#include <opencv2/videoio/registry.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

namespace {
thread_local char last_error[1024];

void set_error(const char* what) { std::snprintf(last_error, sizeof last_error, "%s", what); }
}  // namespace

extern "C" {

const char* rrcv_version(void) { return CV_VERSION; }

const char* rrcv_last_error(void) { return last_error; }

int rrcv_videoio_backends(char* buffer, int capacity, int* needed) {
  last_error[0] = 0;
  if (!buffer || capacity <= 0 || !needed) {
    set_error("rrcv_videoio_backends: buffer, capacity and needed must be given");
    return RRCV_ERR_ARGUMENT;
  }
  try {
    std::string names;
    for (const cv::VideoCaptureAPIs api : cv::videoio_registry::getBackends()) {
      if (!names.empty()) names += ',';
      names += cv::videoio_registry::getBackendName(api);
    }
    *needed = static_cast<int>(names.size()) + 1;
    if (*needed > capacity) {
      std::snprintf(last_error, sizeof last_error, "backend list needs %d bytes, buffer has %d", *needed, capacity);
      return RRCV_ERR_BUFFER_TOO_SMALL;
    }
    std::memcpy(buffer, names.c_str(), names.size() + 1);
    return RRCV_OK;
  } catch (const std::exception& e) {
    set_error(e.what());
    return RRCV_ERR_OPENCV;
  }
}

}  // extern "C"
