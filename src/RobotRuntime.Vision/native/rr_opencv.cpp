#include "rr_opencv.h"

#include <opencv2/core.hpp>
#include <opencv2/core/version.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <opencv2/videoio/registry.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <vector>
#include <string>

namespace {
thread_local char last_error[1024];

void set_error(const char* what) { std::snprintf(last_error, sizeof last_error, "%s", what); }
}  // namespace

struct rrcv_capture {
  cv::VideoCapture capture;
  cv::Mat frame;    // as decoded (BGR)
  cv::Mat resized;  // BGR at the requested size
};

namespace {
int open_capture(rrcv_capture** out, const char* what, const std::function<bool(cv::VideoCapture&)>& open) {
  last_error[0] = 0;
  if (!out) {
    set_error("rrcv_capture_open: out must be given");
    return RRCV_ERR_ARGUMENT;
  }
  *out = nullptr;
  try {
    auto* capture = new rrcv_capture();
    if (!open(capture->capture) || !capture->capture.isOpened()) {
      delete capture;
      std::snprintf(last_error, sizeof last_error, "could not open %s", what);
      return RRCV_ERR_OPEN;
    }
    *out = capture;
    return RRCV_OK;
  } catch (const std::exception& e) {
    std::snprintf(last_error, sizeof last_error, "opening %s: %s", what, e.what());
    return RRCV_ERR_OPENCV;
  }
}
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

int rrcv_capture_open_device(int index, int width, int height, double fps, rrcv_capture** out) {
  char what[64];
  std::snprintf(what, sizeof what, "/dev/video%d with the V4L2 backend", index);
  if (index < 0) {
    set_error("device index must be 0 or more");
    return RRCV_ERR_ARGUMENT;
  }
  return open_capture(out, what, [&](cv::VideoCapture& c) {
    if (!c.open(index, cv::CAP_V4L2)) return false;
    if (width > 0) c.set(cv::CAP_PROP_FRAME_WIDTH, width);
    if (height > 0) c.set(cv::CAP_PROP_FRAME_HEIGHT, height);
    if (fps > 0) c.set(cv::CAP_PROP_FPS, fps);
    c.set(cv::CAP_PROP_BUFFERSIZE, 1);  // newest frame, not a queue of old ones
    return true;
  });
}

int rrcv_capture_open_file(const char* path, rrcv_capture** out) {
  if (!path) {
    set_error("path must be given");
    return RRCV_ERR_ARGUMENT;
  }
  std::string what = std::string("video file ") + path + " with the FFMPEG backend";
  return open_capture(out, what.c_str(), [&](cv::VideoCapture& c) { return c.open(path, cv::CAP_FFMPEG); });
}

int rrcv_capture_open_pipeline(const char* pipeline, rrcv_capture** out) {
  if (!pipeline) {
    set_error("pipeline must be given");
    return RRCV_ERR_ARGUMENT;
  }
  std::string what = std::string("GStreamer pipeline '") + pipeline + "'";
  return open_capture(out, what.c_str(), [&](cv::VideoCapture& c) { return c.open(pipeline, cv::CAP_GSTREAMER); });
}

int rrcv_capture_info(rrcv_capture* capture, int* width, int* height, double* fps, int* frame_count) {
  last_error[0] = 0;
  if (!capture || !width || !height || !fps || !frame_count) {
    set_error("rrcv_capture_info: every argument must be given");
    return RRCV_ERR_ARGUMENT;
  }
  try {
    *width = static_cast<int>(capture->capture.get(cv::CAP_PROP_FRAME_WIDTH));
    *height = static_cast<int>(capture->capture.get(cv::CAP_PROP_FRAME_HEIGHT));
    *fps = capture->capture.get(cv::CAP_PROP_FPS);
    double count = capture->capture.get(cv::CAP_PROP_FRAME_COUNT);
    *frame_count = count > 0 ? static_cast<int>(count) : -1;
    return RRCV_OK;
  } catch (const std::exception& e) {
    set_error(e.what());
    return RRCV_ERR_OPENCV;
  }
}

int rrcv_capture_read(rrcv_capture* capture, unsigned char* rgb, int width, int height) {
  last_error[0] = 0;
  if (!capture || !rgb || width <= 0 || height <= 0) {
    set_error("rrcv_capture_read: capture, rgb and a positive width and height must be given");
    return RRCV_ERR_ARGUMENT;
  }
  try {
    if (!capture->capture.read(capture->frame) || capture->frame.empty()) return RRCV_END_OF_STREAM;
    cv::Mat source = capture->frame;
    if (source.channels() == 1) cv::cvtColor(source, source, cv::COLOR_GRAY2BGR);
    if (source.cols != width || source.rows != height) {
      cv::resize(source, capture->resized, cv::Size(width, height), 0, 0, cv::INTER_AREA);
      source = capture->resized;
    }
    cv::Mat target(height, width, CV_8UC3, rgb);  // writes straight into the caller's buffer
    cv::cvtColor(source, target, cv::COLOR_BGR2RGB);
    return RRCV_OK;
  } catch (const std::exception& e) {
    set_error(e.what());
    return RRCV_ERR_OPENCV;
  }
}

void rrcv_capture_close(rrcv_capture* capture) {
  if (!capture) return;
  try {
    capture->capture.release();
  } catch (...) {
  }
  delete capture;
}

int rrcv_encode_jpeg(const unsigned char* rgb, int width, int height, int quality, unsigned char* out, int capacity,
                     int* size) {
  last_error[0] = 0;
  if (!rgb || !out || !size || width <= 0 || height <= 0 || quality < 1 || quality > 100) {
    set_error("rrcv_encode_jpeg: rgb, out, size, a positive width and height and quality 1..100 must be given");
    return RRCV_ERR_ARGUMENT;
  }
  try {
    thread_local cv::Mat bgr;
    thread_local std::vector<unsigned char> encoded;
    cv::Mat source(height, width, CV_8UC3, const_cast<unsigned char*>(rgb));
    cv::cvtColor(source, bgr, cv::COLOR_RGB2BGR);
    const std::vector<int> parameters{cv::IMWRITE_JPEG_QUALITY, quality};
    if (!cv::imencode(".jpg", bgr, encoded, parameters)) {
      set_error("OpenCV could not encode the image as JPEG");
      return RRCV_ERR_OPENCV;
    }
    *size = static_cast<int>(encoded.size());
    if (*size > capacity) {
      std::snprintf(last_error, sizeof last_error, "JPEG needs %d bytes, buffer has %d", *size, capacity);
      return RRCV_ERR_BUFFER_TOO_SMALL;
    }
    std::memcpy(out, encoded.data(), encoded.size());
    return RRCV_OK;
  } catch (const std::exception& e) {
    set_error(e.what());
    return RRCV_ERR_OPENCV;
  }
}

}  // extern "C"
