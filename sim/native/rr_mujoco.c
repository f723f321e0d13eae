#define _GNU_SOURCE
#include "rr_mujoco.h"

#include <GL/osmesa.h>
#include <dlfcn.h>
#include <mujoco/mujoco.h>
#include <mujoco/mjxmacro.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- GL loading ------------------------------------------------------------------------- */

/* MuJoCo's GL loader looks for a GL provider among the libraries visible to dlsym(RTLD_DEFAULT).
 * .NET loads this shim (and with it libOSMesa) with RTLD_LOCAL, so OSMesa is not visible; if
 * another library has pulled libGLX into the process (OpenCV's video I/O does), the loader binds
 * GLX, finds no context and fails with "gladLoadGL error". Promoting the already-loaded OSMesa to
 * global scope makes the loader pick it whatever else the process has loaded. */
static pthread_once_t osmesa_exposed = PTHREAD_ONCE_INIT;

static void expose_osmesa_once(void) {
  Dl_info info;
  if (dladdr((void*)&OSMesaGetProcAddress, &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

static void expose_osmesa(void) { pthread_once(&osmesa_exposed, expose_osmesa_once); }

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

/* Mesa's llvmpipe (Debian 12: Mesa 22.3) is not safe with two contexts rendering on two threads at
 * once: mapping a resource (glReadPixels, a texture upload) makes it scan every context's queued
 * scenes (lp_scene_is_resource_referenced) while their own threads add to them, and `rr collect
 * --workers 2` died in that scan after ~250k renders. All GL work in this file therefore holds one
 * process-wide lock: bind() takes it and unbind() releases it, and context creation, destruction and
 * the self-test hold it too. Physics and everything else stay parallel; llvmpipe rasterises on its
 * own shared threads anyway. */
static pthread_mutex_t gl_lock = PTHREAD_MUTEX_INITIALIZER;

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

  expose_osmesa();
  pthread_mutex_lock(&gl_lock);
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
  pthread_mutex_unlock(&gl_lock);
  free(gl_buffer);
  return result;
}

/* ---- guards -------------------------------------------------------------------------------- */

/* Runs a block of MuJoCo calls with error_target set, so an mju_error inside returns
 * RRMJ_ERR_MUJOCO (message set by on_mujoco_error) instead of ending the process. */
#define GUARDED(block)                                   \
  do {                                                   \
    jmp_buf target_;                                     \
    jmp_buf* previous_ = error_target;                   \
    error_target = &target_;                             \
    if (setjmp(target_)) {                               \
      error_target = previous_;                          \
      return RRMJ_ERR_MUJOCO;                            \
    }                                                    \
    block;                                               \
    error_target = previous_;                            \
  } while (0)

#define REQUIRE(condition, ...)       \
  do {                                \
    if (!(condition)) {               \
      set_error(__VA_ARGS__);         \
      return RRMJ_ERR_ARGUMENT;       \
    }                                 \
  } while (0)

/* ---- models and data ------------------------------------------------------------------------ */

int rrmj_model_load_xml(const char* xml, mjModel** model) {
  last_error[0] = 0;
  REQUIRE(model, "model out-pointer is NULL");
  *model = NULL;
  REQUIRE(xml, "MJCF text is NULL");
  size_t length = strlen(xml);
  REQUIRE(length > 0, "MJCF text is empty; expected a <mujoco> document");
  mjVFS* vfs = malloc(sizeof *vfs);
  if (!vfs) { set_error("out of memory"); return RRMJ_ERR_MODEL; }
  mj_defaultVFS(vfs);
  if (mj_makeEmptyFileVFS(vfs, "model.xml", (int)length) != 0) {
    free(vfs);
    set_error("could not place the MJCF text (%zu bytes) in MuJoCo's virtual file system", length);
    return RRMJ_ERR_MODEL;
  }
  memcpy(vfs->filedata[mj_findFileVFS(vfs, "model.xml")], xml, length);
  char load_error[1000] = "";
  mjModel* volatile loaded = NULL;
  jmp_buf target;
  jmp_buf* previous = error_target;
  error_target = &target;
  if (setjmp(target) == 0) loaded = mj_loadXML("model.xml", vfs, load_error, sizeof load_error);
  error_target = previous;
  mj_deleteVFS(vfs);
  free(vfs);
  if (!loaded) {
    if (load_error[0]) set_error("MuJoCo rejected the MJCF: %s", load_error);
    else if (!last_error[0]) set_error("MuJoCo rejected the MJCF without a message");
    return RRMJ_ERR_MODEL;
  }
  last_error[0] = 0; /* warnings during a successful load are not errors */
  *model = loaded;
  return RRMJ_OK;
}

void rrmj_model_free(mjModel* model) {
  if (model) mj_deleteModel(model);
}

int rrmj_model_size(const mjModel* model, const char* name, int* value) {
  last_error[0] = 0;
  REQUIRE(model && name && value, "model, name and value must not be NULL");
#define X(field) \
  if (strcmp(name, #field) == 0) { *value = model->field; return RRMJ_OK; }
  MJMODEL_INTS
#undef X
  set_error("mjModel has no int size named '%s' (expected one of nq, nv, nu, nbody, ngeom, ... as in mjxmacro.h)", name);
  return RRMJ_ERR_NOT_FOUND;
}

/* Element type of an array field from its pointer type; -1 for struct arrays (e.g. contacts). */
#define TYPE_CODE(pointer) \
  _Generic((pointer), double*: RRMJ_TYPE_DOUBLE, float*: RRMJ_TYPE_FLOAT, int*: RRMJ_TYPE_INT, unsigned char*: RRMJ_TYPE_BYTE, char*: RRMJ_TYPE_BYTE, default: -1)

int rrmj_model_field(mjModel* model, const char* name, void** address, int* rows, int* columns, int* type) {
  last_error[0] = 0;
  REQUIRE(model && name && address && rows && columns && type, "model, name and out-pointers must not be NULL");
  MJMODEL_POINTERS_PREAMBLE(model)
#define X(element, field, row_count, column_count)                   \
  if (strcmp(name, #field) == 0) {                                   \
    *address = model->field;                                         \
    *rows = model->row_count;                                        \
    *columns = column_count;                                         \
    *type = TYPE_CODE(model->field);                                 \
    return RRMJ_OK;                                                  \
  }
  MJMODEL_POINTERS
#undef X
  (void)nuser_body; (void)nuser_jnt; (void)nuser_geom; (void)nuser_site; (void)nuser_cam;
  (void)nuser_tendon; (void)nuser_actuator; (void)nuser_sensor; (void)nq; (void)nv; (void)na; (void)nu; (void)nmocap;
  set_error("mjModel has no array named '%s' (expected a name from mjxmacro.h's MJMODEL_POINTERS, e.g. geom_rgba)", name);
  return RRMJ_ERR_NOT_FOUND;
}

int rrmj_model_get_timestep(const mjModel* model, double* seconds) {
  last_error[0] = 0;
  REQUIRE(model && seconds, "model and seconds must not be NULL");
  *seconds = model->opt.timestep;
  return RRMJ_OK;
}

int rrmj_model_set_timestep(mjModel* model, double seconds) {
  last_error[0] = 0;
  REQUIRE(model, "model must not be NULL");
  REQUIRE(seconds > 0 && seconds <= 1, "timestep must be in (0, 1] seconds, got %g", seconds);
  model->opt.timestep = seconds;
  return RRMJ_OK;
}

static int object_type(const char* kind) {
  static const struct { const char* name; int type; } kinds[] = {
      {"body", mjOBJ_BODY},         {"joint", mjOBJ_JOINT},     {"geom", mjOBJ_GEOM},
      {"site", mjOBJ_SITE},         {"camera", mjOBJ_CAMERA},   {"light", mjOBJ_LIGHT},
      {"material", mjOBJ_MATERIAL}, {"texture", mjOBJ_TEXTURE}, {"actuator", mjOBJ_ACTUATOR},
      {"sensor", mjOBJ_SENSOR},     {"mesh", mjOBJ_MESH},       {"tendon", mjOBJ_TENDON},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; ++i)
    if (strcmp(kind, kinds[i].name) == 0) return kinds[i].type;
  return mjOBJ_UNKNOWN;
}

int rrmj_name_to_id(const mjModel* model, const char* kind, const char* name, int* id) {
  last_error[0] = 0;
  REQUIRE(model && kind && name && id, "model, kind, name and id must not be NULL");
  int type = object_type(kind);
  REQUIRE(type != mjOBJ_UNKNOWN, "unknown object kind '%s' (expected body, joint, geom, site, camera, light, material, texture, actuator, sensor, mesh or tendon)", kind);
  int found = -1;
  GUARDED(found = mj_name2id(model, type, name));
  if (found < 0) {
    set_error("the model has no %s named '%s'", kind, name);
    *id = -1;
    return RRMJ_ERR_NOT_FOUND;
  }
  *id = found;
  return RRMJ_OK;
}

int rrmj_data_make(const mjModel* model, mjData** data) {
  last_error[0] = 0;
  REQUIRE(model && data, "model and data out-pointer must not be NULL");
  *data = NULL;
  mjData* volatile made = NULL;
  GUARDED(made = mj_makeData(model));
  if (!made) { set_error("MuJoCo could not allocate mjData (out of memory?)"); return RRMJ_ERR_MUJOCO; }
  *data = made;
  return RRMJ_OK;
}

void rrmj_data_free(mjData* data) {
  if (data) mj_deleteData(data);
}

int rrmj_data_field(const mjModel* model, mjData* data, const char* name, void** address, int* rows, int* columns, int* type) {
  last_error[0] = 0;
  REQUIRE(model && data && name && address && rows && columns && type, "model, data, name and out-pointers must not be NULL");
  MJDATA_POINTERS_PREAMBLE(model)
#define X(element, field, row_count, column_count) \
  if (strcmp(name, #field) == 0) {                 \
    *address = data->field;                        \
    *rows = model->row_count;                      \
    *columns = column_count;                       \
    *type = TYPE_CODE(data->field);                \
    return RRMJ_OK;                                \
  }
  MJDATA_POINTERS
#undef X
  (void)nv; (void)njmax;
  set_error("mjData has no array named '%s' (expected a name from mjxmacro.h's MJDATA_POINTERS, e.g. qpos)", name);
  return RRMJ_ERR_NOT_FOUND;
}

int rrmj_data_get_time(const mjData* data, double* seconds) {
  last_error[0] = 0;
  REQUIRE(data && seconds, "data and seconds must not be NULL");
  *seconds = data->time;
  return RRMJ_OK;
}

int rrmj_reset(const mjModel* model, mjData* data) {
  last_error[0] = 0;
  REQUIRE(model && data, "model and data must not be NULL");
  GUARDED(mj_resetData(model, data));
  return RRMJ_OK;
}

int rrmj_forward(const mjModel* model, mjData* data) {
  last_error[0] = 0;
  REQUIRE(model && data, "model and data must not be NULL");
  GUARDED(mj_forward(model, data));
  return RRMJ_OK;
}

int rrmj_step(const mjModel* model, mjData* data, int count) {
  last_error[0] = 0;
  REQUIRE(model && data, "model and data must not be NULL");
  REQUIRE(count >= 0, "step count must be >= 0, got %d", count);
  GUARDED(for (int i = 0; i < count; ++i) mj_step(model, data));
  return RRMJ_OK;
}

int rrmj_jacobian_site(const mjModel* model, const mjData* data, int site, double* jacobian, int capacity) {
  last_error[0] = 0;
  REQUIRE(model && data && jacobian, "model, data and jacobian must not be NULL");
  REQUIRE(site >= 0 && site < model->nsite, "site id %d out of range 0..%d", site, model->nsite - 1);
  REQUIRE(capacity >= 3 * model->nv, "jacobian holds %d doubles, 3*nv = %d needed", capacity, 3 * model->nv);
  GUARDED(mj_jacSite(model, data, jacobian, NULL, site));
  return RRMJ_OK;
}

/* ---- rendering ------------------------------------------------------------------------------- */

struct rrmj_renderer {
  OSMesaContext gl;
  unsigned char* gl_buffer;
  unsigned char* bottom_up;
  int width, height;
  pthread_t owner;
  mjvScene scene;
  mjrContext context;
  mjvOption option;
  int scene_made, context_made;
};

/* Makes the renderer's context current and takes gl_lock; on success unbind() must follow. */
static int bind(rrmj_renderer* renderer) {
  pthread_mutex_lock(&gl_lock);
  if (!OSMesaMakeCurrent(renderer->gl, renderer->gl_buffer, GL_UNSIGNED_BYTE, renderer->width, renderer->height)) {
    pthread_mutex_unlock(&gl_lock);
    set_error("could not make the renderer's OSMesa context current");
    return RRMJ_ERR_GL;
  }
  return RRMJ_OK;
}

/* The context is never left current, so it can be freed from any thread. Releases gl_lock. */
static void unbind(void) {
  OSMesaMakeCurrent(NULL, NULL, 0, 0, 0);
  pthread_mutex_unlock(&gl_lock);
}

void rrmj_renderer_free(rrmj_renderer* renderer) {
  if (!renderer) return;
  if (renderer->gl && bind(renderer) == RRMJ_OK) {
    jmp_buf target;
    jmp_buf* previous = error_target;
    error_target = &target;
    if (setjmp(target) == 0 && renderer->context_made) mjr_freeContext(&renderer->context);
    error_target = previous;
    unbind();
  }
  if (renderer->scene_made) mjv_freeScene(&renderer->scene);
  if (renderer->gl) {
    pthread_mutex_lock(&gl_lock);
    OSMesaDestroyContext(renderer->gl);
    pthread_mutex_unlock(&gl_lock);
  }
  free(renderer->gl_buffer);
  free(renderer->bottom_up);
  free(renderer);
}

int rrmj_renderer_create(mjModel* model, int width, int height, rrmj_renderer** out) {
  last_error[0] = 0;
  REQUIRE(model && out, "model and renderer out-pointer must not be NULL");
  *out = NULL;
  REQUIRE(width > 0 && height > 0 && width <= 4096 && height <= 4096, "width and height must be in 1..4096, got %dx%d", width, height);
  rrmj_renderer* renderer = calloc(1, sizeof *renderer);
  if (!renderer) { set_error("out of memory"); return RRMJ_ERR_GL; }
  renderer->width = width;
  renderer->height = height;
  renderer->owner = pthread_self();
  expose_osmesa();
  pthread_mutex_lock(&gl_lock);
  renderer->gl = OSMesaCreateContextExt(OSMESA_RGBA, 24, 8, 0, NULL);
  pthread_mutex_unlock(&gl_lock);
  renderer->gl_buffer = malloc((size_t)width * height * 4);
  renderer->bottom_up = malloc((size_t)width * height * 3);
  if (!renderer->gl || !renderer->gl_buffer || !renderer->bottom_up || bind(renderer) != RRMJ_OK) {
    set_error("could not create an OSMesa offscreen GL context of %dx%d", width, height);
    rrmj_renderer_free(renderer);
    return RRMJ_ERR_GL;
  }
  model->vis.global.offwidth = width;
  model->vis.global.offheight = height;
  jmp_buf target;
  jmp_buf* previous = error_target;
  error_target = &target;
  if (setjmp(target)) {
    error_target = previous;
    unbind();
    rrmj_renderer_free(renderer);
    return RRMJ_ERR_MUJOCO;
  }
  mjv_defaultOption(&renderer->option);
  mjv_defaultScene(&renderer->scene);
  mjv_makeScene(model, &renderer->scene, 1000);
  renderer->scene_made = 1;
  /* Shadows and reflections cost most of a software-rendered frame and the tasks need neither. */
  renderer->scene.flags[mjRND_SHADOW] = 0;
  renderer->scene.flags[mjRND_REFLECTION] = 0;
  mjr_defaultContext(&renderer->context);
  mjr_makeContext(model, &renderer->context, mjFONTSCALE_100);
  renderer->context_made = 1;
  mjr_setBuffer(mjFB_OFFSCREEN, &renderer->context);
  error_target = previous;
  if (renderer->context.currentBuffer != mjFB_OFFSCREEN) {
    set_error("MuJoCo has no offscreen framebuffer in this GL context");
    unbind();
    rrmj_renderer_free(renderer);
    return RRMJ_ERR_GL;
  }
  unbind();
  *out = renderer;
  return RRMJ_OK;
}

static int check_owner(const rrmj_renderer* renderer) {
  if (!pthread_equal(renderer->owner, pthread_self())) {
    set_error("the renderer's GL context belongs to the thread that created it; render from that thread");
    return RRMJ_ERR_THREAD;
  }
  return RRMJ_OK;
}

int rrmj_renderer_upload_texture(rrmj_renderer* renderer, const mjModel* model, int texture_id) {
  last_error[0] = 0;
  if (!renderer) { set_error("no render context: create a renderer before uploading textures"); return RRMJ_ERR_GL; }
  REQUIRE(model, "model must not be NULL");
  REQUIRE(texture_id >= 0 && texture_id < model->ntex, "texture id %d out of range 0..%d", texture_id, model->ntex - 1);
  int status = check_owner(renderer);
  if (status != RRMJ_OK) return status;
  if ((status = bind(renderer)) != RRMJ_OK) return status;
  jmp_buf target;
  jmp_buf* previous = error_target;
  error_target = &target;
  if (setjmp(target) == 0) mjr_uploadTexture(model, &renderer->context, texture_id);
  else status = RRMJ_ERR_MUJOCO;
  error_target = previous;
  unbind();
  return status;
}

int rrmj_render(rrmj_renderer* renderer, const mjModel* model, mjData* data, int camera_id, int width, int height, unsigned char* rgb, int rgb_capacity) {
  last_error[0] = 0;
  if (!renderer) { set_error("no render context: create a renderer (rrmj_renderer_create) before rendering"); return RRMJ_ERR_GL; }
  REQUIRE(model && data, "model and data must not be NULL");
  REQUIRE(camera_id >= 0 && camera_id < model->ncam, "camera id %d out of range 0..%d", camera_id, model->ncam - 1);
  REQUIRE(width > 0 && height > 0 && width <= renderer->width && height <= renderer->height,
          "image size %dx%d must be within the renderer's %dx%d", width, height, renderer->width, renderer->height);
  REQUIRE(rgb && rgb_capacity >= width * height * 3, "rgb buffer holds %d bytes, %d needed for %dx%d RGB", rgb_capacity, width * height * 3, width, height);
  int status = check_owner(renderer);
  if (status != RRMJ_OK) return status;
  if ((status = bind(renderer)) != RRMJ_OK) return status;
  mjvCamera camera;
  mjv_defaultCamera(&camera);
  camera.type = mjCAMERA_FIXED;
  camera.fixedcamid = camera_id;
  mjrRect viewport = {0, 0, width, height};
  jmp_buf target;
  jmp_buf* previous = error_target;
  error_target = &target;
  if (setjmp(target) == 0) {
    mjv_updateScene(model, data, &renderer->option, NULL, &camera, mjCAT_ALL, &renderer->scene);
    mjr_render(viewport, &renderer->scene, &renderer->context);
    mjr_readPixels(renderer->bottom_up, NULL, viewport, &renderer->context);
  } else {
    status = RRMJ_ERR_MUJOCO;
  }
  error_target = previous;
  unbind();
  if (status != RRMJ_OK) return status;
  /* OpenGL returns rows bottom-up; callers get images top row first. */
  size_t row_bytes = (size_t)width * 3;
  for (int row = 0; row < height; ++row)
    memcpy(rgb + row * row_bytes, renderer->bottom_up + (size_t)(height - 1 - row) * row_bytes, row_bytes);
  return RRMJ_OK;
}
