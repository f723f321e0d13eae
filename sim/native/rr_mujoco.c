#include "rr_mujoco.h"

#include <GL/osmesa.h>
#include <mujoco/mujoco.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------------------ */

static _Thread_local char last_error[1024];
/* MuJoCo's error callback must not return (mju_error continues after it), so every shim entry
 * point that calls into MuJoCo sets this jump target first. */
static _Thread_local jmp_buf* error_target;

static void set_error(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(last_error, sizeof last_error, format, args);
  va_end(args);
}

static void on_mujoco_error(const char* message) {
  set_error("MuJoCo error: %s", message);
  if (error_target) longjmp(*error_target, 1);
  /* No guard: an entry point forgot its guard. Aborting is better than running on. */
  fprintf(stderr, "librr_mujoco: unguarded MuJoCo error: %s\n", message);
  abort();
}

static void on_mujoco_warning(const char* message) {
  /* Warnings are kept for the caller; MuJoCo goes on. */
  set_error("MuJoCo warning: %s", message);
}

__attribute__((constructor)) static void install_handlers(void) {
  mju_user_error = on_mujoco_error;
  mju_user_warning = on_mujoco_warning;
}

const char* rrmj_last_error(void) { return last_error; }

int rrmj_version(void) { return mj_version(); }

const char* rrmj_version_string(void) { return mj_versionString(); }

int rrmj_header_version(void) { return mjVERSION_HEADER; }

/* ---- render self-test -------------------------------------------------------------------- */

static const char selftest_xml[] =
    "<mujoco model='rr_selftest'>"
    "  <visual><global offwidth='%d' offheight='%d'/><quality offsamples='0' shadowsize='0'/></visual>"
    "  <worldbody>"
    "    <light pos='0 0 3' dir='0 0 -1' diffuse='0.8 0.8 0.8'/>"
    "    <geom type='plane' size='2 2 0.1' rgba='0.5 0.5 0.5 1'/>"
    "    <geom type='box' pos='0 0 0.2' size='0.2 0.2 0.2' rgba='0.9 0.1 0.1 1'/>"
    "    <camera name='view' pos='0 -1.2 1.2' xyaxes='1 0 0 0 0.7 0.7'/>"
    "  </worldbody>"
    "</mujoco>";

int rrmj_render_selftest(int width, int height, unsigned char* rgb, int rgb_capacity) {
  last_error[0] = 0;
  if (width <= 0 || height <= 0 || width > 4096 || height > 4096) {
    set_error("width and height must be in 1..4096, got %dx%d", width, height);
    return RRMJ_ERR_ARGUMENT;
  }
  if (!rgb || rgb_capacity < width * height * 3) {
    set_error("rgb buffer holds %d bytes, %d needed for %dx%d RGB", rgb_capacity, width * height * 3, width, height);
    return RRMJ_ERR_ARGUMENT;
  }

  /* volatile: these are read after a longjmp from MuJoCo's error callback */
  volatile int result = RRMJ_OK;
  OSMesaContext volatile gl = NULL;
  unsigned char* volatile gl_buffer = NULL;
  unsigned char* volatile flipped = NULL;
  mjVFS* volatile vfs = NULL;
  mjModel* volatile model = NULL;
  mjData* volatile data = NULL;
  mjvScene scene;
  mjrContext context;
  volatile int scene_made = 0, context_made = 0;
  jmp_buf target;
  jmp_buf* previous_target = error_target;

  gl = OSMesaCreateContextExt(OSMESA_RGBA, 24, 8, 0, NULL);
  gl_buffer = malloc((size_t)width * height * 4);
  if (!gl || !gl_buffer || !OSMesaMakeCurrent(gl, gl_buffer, GL_UNSIGNED_BYTE, width, height)) {
    set_error("could not create an OSMesa offscreen GL context of %dx%d", width, height);
    result = RRMJ_ERR_GL;
    goto done;
  }

  char xml[2048];
  int xml_length = snprintf(xml, sizeof xml, selftest_xml, width, height);
  vfs = malloc(sizeof *vfs);
  if (!vfs) { set_error("out of memory"); result = RRMJ_ERR_MODEL; goto done; }
  mj_defaultVFS(vfs);
  if (mj_makeEmptyFileVFS(vfs, "selftest.xml", xml_length) != 0) {
    set_error("could not place the self-test model in MuJoCo's virtual file system");
    result = RRMJ_ERR_MODEL;
    goto done;
  }
  memcpy(vfs->filedata[mj_findFileVFS(vfs, "selftest.xml")], xml, (size_t)xml_length);

  error_target = &target;
  if (setjmp(target)) {
    result = RRMJ_ERR_MUJOCO; /* message already set by on_mujoco_error */
    goto done;
  }
  char load_error[512] = "";
  model = mj_loadXML("selftest.xml", vfs, load_error, sizeof load_error);
  if (!model) {
    set_error("MuJoCo rejected the self-test model: %s", load_error);
    result = RRMJ_ERR_MODEL;
    goto done;
  }
  data = mj_makeData(model);
  mj_forward(model, data); /* without it the first frame is black */

  mjvOption option;
  mjvCamera camera;
  mjv_defaultOption(&option);
  mjv_defaultCamera(&camera);
  camera.type = mjCAMERA_FIXED;
  camera.fixedcamid = mj_name2id(model, mjOBJ_CAMERA, "view");
  mjv_defaultScene(&scene);
  mjv_makeScene(model, &scene, 100);
  scene_made = 1;
  mjr_defaultContext(&context);
  mjr_makeContext(model, &context, mjFONTSCALE_100);
  context_made = 1;
  mjr_setBuffer(mjFB_OFFSCREEN, &context);
  if (context.currentBuffer != mjFB_OFFSCREEN) {
    set_error("MuJoCo has no offscreen framebuffer in this GL context");
    result = RRMJ_ERR_GL;
    goto done;
  }

  mjrRect viewport = {0, 0, width, height};
  mjv_updateScene(model, data, &option, NULL, &camera, mjCAT_ALL, &scene);
  mjr_render(viewport, &scene, &context);
  flipped = malloc((size_t)width * height * 3);
  if (!flipped) { set_error("out of memory"); result = RRMJ_ERR_GL; goto done; }
  mjr_readPixels(flipped, NULL, viewport, &context);
  /* OpenGL returns rows bottom-up; callers get images top row first. */
  for (int row = 0; row < height; ++row)
    memcpy(rgb + (size_t)row * width * 3, flipped + (size_t)(height - 1 - row) * width * 3, (size_t)width * 3);

done:
  error_target = &target;
  if (setjmp(target) == 0) {
    if (context_made) mjr_freeContext(&context);
    if (scene_made) mjv_freeScene(&scene);
    if (data) mj_deleteData(data);
    if (model) mj_deleteModel(model);
  }
  error_target = previous_target;
  free(flipped);
  free(vfs);
  if (gl) OSMesaDestroyContext(gl);
  free(gl_buffer);
  return result;
}
