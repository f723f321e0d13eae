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
#define RRMJ_ERR_NOT_FOUND -5
#define RRMJ_ERR_THREAD -6

/* Element types of model/data arrays reported by rrmj_model_field / rrmj_data_field. */
#define RRMJ_TYPE_DOUBLE 0 /* mjtNum */
#define RRMJ_TYPE_FLOAT 1
#define RRMJ_TYPE_INT 2
#define RRMJ_TYPE_BYTE 3 /* mjtByte or char */

typedef struct mjModel_ mjModel;
typedef struct mjData_ mjData;
/* An offscreen OSMesa GL context with MuJoCo's scene and render context, bound to the thread
 * that created it. */
typedef struct rrmj_renderer rrmj_renderer;

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

/* ---- models and data ------------------------------------------------------------------------
 * A model and its data are plain memory: any thread may use them, one thread at a time. */

/* Compiles MJCF text (no files are read) into *model. On failure *model is NULL and the
 * message says what MuJoCo's parser rejected, with its line. */
RR_EXPORT int rrmj_model_load_xml(const char* xml, mjModel** model);

/* Frees a model from rrmj_model_load_xml; NULL is ignored. */
RR_EXPORT void rrmj_model_free(mjModel* model);

/* One of mjModel's int sizes (nq, nv, nu, nbody, ngeom, ...) by name. */
RR_EXPORT int rrmj_model_size(const mjModel* model, const char* name, int* value);

/* Address, rows, columns and element type (RRMJ_TYPE_*) of one of mjModel's arrays by name,
 * as mjxmacro.h lists them. The memory lives as long as the model. */
RR_EXPORT int rrmj_model_field(mjModel* model, const char* name, void** address, int* rows, int* columns, int* type);

/* The simulation timestep of the model in seconds: read (timestep NULL-safe) and write. */
RR_EXPORT int rrmj_model_get_timestep(const mjModel* model, double* seconds);
RR_EXPORT int rrmj_model_set_timestep(mjModel* model, double seconds);

/* The id of the object of the given kind ("body", "joint", "geom", "site", "camera", "light",
 * "material", "texture", "actuator") and name; RRMJ_ERR_NOT_FOUND names both if there is none. */
RR_EXPORT int rrmj_name_to_id(const mjModel* model, const char* kind, const char* name, int* id);

/* Makes data for a model (reset to the model's initial state). */
RR_EXPORT int rrmj_data_make(const mjModel* model, mjData** data);

/* Frees data from rrmj_data_make; NULL is ignored. */
RR_EXPORT void rrmj_data_free(mjData* data);

/* Like rrmj_model_field for mjData's arrays (qpos, qvel, ctrl, xpos, site_xpos, ...). The memory
 * lives as long as the data. */
RR_EXPORT int rrmj_data_field(const mjModel* model, mjData* data, const char* name, void** address, int* rows, int* columns, int* type);

/* Simulation time of the data in seconds. */
RR_EXPORT int rrmj_data_get_time(const mjData* data, double* seconds);

/* mj_resetData, mj_forward, and count x mj_step. */
RR_EXPORT int rrmj_reset(const mjModel* model, mjData* data);
RR_EXPORT int rrmj_forward(const mjModel* model, mjData* data);
RR_EXPORT int rrmj_step(const mjModel* model, mjData* data, int count);

/* Translational Jacobian of a site (3 x nv, row-major) into jacobian. */
RR_EXPORT int rrmj_jacobian_site(const mjModel* model, const mjData* data, int site, double* jacobian, int capacity);

/* ---- rendering ----------------------------------------------------------------------------
 * A renderer owns an OSMesa context and an offscreen buffer of width x height, made for one
 * model. It is bound to the creating thread: rendering or uploading on another thread returns
 * RRMJ_ERR_THREAD. The context is current only during a call, so a thread may own several. */

/* Creates a renderer for model with an offscreen buffer of width x height (1..4096); sets the
 * model's visual offwidth/offheight to that size. */
RR_EXPORT int rrmj_renderer_create(mjModel* model, int width, int height, rrmj_renderer** renderer);

/* Frees a renderer; NULL is ignored. Any thread may call it. */
RR_EXPORT void rrmj_renderer_free(rrmj_renderer* renderer);

/* Uploads texture texture_id of model to the GPU-side copy after its tex_rgb bytes changed. */
RR_EXPORT int rrmj_renderer_upload_texture(rrmj_renderer* renderer, const mjModel* model, int texture_id);

/* Renders data's current state (call rrmj_forward after changing positions) from fixed camera
 * camera_id at width x height (at most the renderer's size) and writes width*height*3 bytes
 * of RGB, top row first, into rgb. A NULL renderer is an error that says so. */
RR_EXPORT int rrmj_render(rrmj_renderer* renderer, const mjModel* model, mjData* data, int camera_id, int width, int height, unsigned char* rgb, int rgb_capacity);

#endif
