/* librr_opencv: flat C functions RobotRuntime.Vision calls instead of OpenCV's C++ classes.
 * Functions that can fail return 0 on success or a negative code, and leave a message for
 * rrcv_last_error() on the calling thread. No C++ exception crosses this boundary. */
#ifndef RR_OPENCV_H
#define RR_OPENCV_H

#ifdef __cplusplus
extern "C" {
#endif

#define RR_EXPORT __attribute__((visibility("default")))

#define RRCV_OK 0
#define RRCV_ERR_ARGUMENT -1
#define RRCV_ERR_BUFFER_TOO_SMALL -2
#define RRCV_ERR_OPENCV -3
#define RRCV_ERR_OPEN -4
#define RRCV_END_OF_STREAM 1

/* The OpenCV library version, e.g. "4.6.0"; static storage. */
RR_EXPORT const char* rrcv_version(void);

/* The last error message set on the calling thread, or "" if none; valid until the next call. */
RR_EXPORT const char* rrcv_last_error(void);

/* Writes the names of the video I/O backends compiled into this OpenCV, comma separated and
 * NUL terminated (e.g. "FFMPEG,GSTREAMER,V4L2,CV_IMAGES,CV_MJPEG"), into buffer. On
 * RRCV_ERR_BUFFER_TOO_SMALL, *needed holds the size required including the NUL. */
RR_EXPORT int rrcv_videoio_backends(char* buffer, int capacity, int* needed);

/* ---- capture ------------------------------------------------------------------------------
 * One rrcv_capture wraps a cv::VideoCapture. Use it from one thread at a time. */
typedef struct rrcv_capture rrcv_capture;

/* Opens camera /dev/video<index> with the V4L2 backend only (fails fast when absent). Width,
 * height and fps are requests (0 = the device's default); the device may choose others. */
RR_EXPORT int rrcv_capture_open_device(int index, int width, int height, double fps, rrcv_capture** out);

/* Opens a video file with the FFMPEG backend. */
RR_EXPORT int rrcv_capture_open_file(const char* path, rrcv_capture** out);

/* Opens a GStreamer pipeline ending in appsink. Can block forever if an element is missing:
 * call it from a watchdog thread. */
RR_EXPORT int rrcv_capture_open_pipeline(const char* pipeline, rrcv_capture** out);

/* The stream's native frame size, frame rate (0 if unknown) and frame count (-1 if unknown). */
RR_EXPORT int rrcv_capture_info(rrcv_capture* capture, int* width, int* height, double* fps, int* frame_count);

/* Grabs the next frame, converts it to RGB and resizes it (area interpolation) to width x height
 * into rgb (width*height*3 bytes, top row first). Returns RRCV_OK, RRCV_END_OF_STREAM when a
 * file has no more frames or a device stopped delivering, or a negative error. */
RR_EXPORT int rrcv_capture_read(rrcv_capture* capture, unsigned char* rgb, int width, int height);

/* Closes the stream and frees the capture; NULL is ignored. */
RR_EXPORT void rrcv_capture_close(rrcv_capture* capture);

/* ---- JPEG ---------------------------------------------------------------------------------- */

/* Encodes an RGB image (width*height*3 bytes, top row first) as a baseline JPEG of the given
 * quality (1..100) into out. On RRCV_ERR_BUFFER_TOO_SMALL, *size holds the size needed. */
RR_EXPORT int rrcv_encode_jpeg(const unsigned char* rgb, int width, int height, int quality,
                               unsigned char* out, int capacity, int* size);

#ifdef __cplusplus
}
#endif
#endif
