/* librr_mujoco: flat C functions RobotRuntime.Sim calls instead of reading MuJoCo's structs.
 * Every function that can fail returns 0 on success or a negative code, and leaves a message
 * for rrmj_last_error() on the calling thread. No function exits the process. */
#ifndef RR_MUJOCO_H
#define RR_MUJOCO_H

#define RR_EXPORT __attribute__((visibility("default")))

#define RRMJ_OK 0
#define RRMJ_ERR_ARGUMENT -1
#define RRMJ_ERR_GL -2
#define RRMJ_ERR_MODEL -3
#define RRMJ_ERR_MUJOCO -4

/* The MuJoCo library version as a number (222 for 2.2.2). */
RR_EXPORT int rrmj_version(void);

/* The MuJoCo library version as text ("2.2.2"); static storage. */
RR_EXPORT const char* rrmj_version_string(void);

/* The version of the mujoco.h this shim was compiled against, as a number. */
RR_EXPORT int rrmj_header_version(void);

/* The last error message set on the calling thread, or "" if none; valid until the next call. */
RR_EXPORT const char* rrmj_last_error(void);

/* Renders a built-in scene (a red box on a grey floor, seen from a fixed camera) offscreen with
 * OSMesa and writes width*height*3 bytes of RGB, top row first, into rgb. Creates and destroys
 * its own GL context on the calling thread. Proves MuJoCo, OSMesa and the shim work together. */
RR_EXPORT int rrmj_render_selftest(int width, int height, unsigned char* rgb, int rgb_capacity);

#endif
