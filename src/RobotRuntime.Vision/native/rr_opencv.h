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

/* The OpenCV library version, e.g. "4.6.0"; static storage. */
RR_EXPORT const char* rrcv_version(void);

/* The last error message set on the calling thread, or "" if none; valid until the next call. */
RR_EXPORT const char* rrcv_last_error(void);

/* Writes the names of the video I/O backends compiled into this OpenCV, comma separated and
 * NUL terminated (e.g. "FFMPEG,GSTREAMER,V4L2,CV_IMAGES,CV_MJPEG"), into buffer. On
 * RRCV_ERR_BUFFER_TOO_SMALL, *needed holds the size required including the NUL. */
RR_EXPORT int rrcv_videoio_backends(char* buffer, int capacity, int* needed);

#ifdef __cplusplus
}
#endif
#endif
