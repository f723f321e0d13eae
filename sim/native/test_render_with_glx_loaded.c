/* Regression test: the shim renders with OSMesa even when libGLX is already in the process.
 *
 * .NET loads native libraries with dlopen(RTLD_LOCAL). OpenCV's video I/O brings libGLX with it;
 * MuJoCo's GL loader then bound GLX (no context) and mjr_makeContext failed with "gladLoadGL
 * error". This program loads the libraries the way the runtime does — libGLX first, then the shim,
 * both RTLD_LOCAL — and renders the shim's self-test scene.
 * Usage: test_render_with_glx_loaded <path to librr_mujoco.so> */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*selftest_fn)(int, int, unsigned char*, int);
typedef const char* (*last_error_fn)(void);

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <librr_mujoco.so>\n", argv[0]);
    return 2;
  }
  void* glx = dlopen("libGLX.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!glx) {
    fprintf(stderr, "libGLX.so.0 could not be loaded (%s): install libglx0 (OpenCV depends on it)\n", dlerror());
    return 1;
  }
  void* shim = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!shim) {
    fprintf(stderr, "could not load %s: %s\n", argv[1], dlerror());
    return 1;
  }
  selftest_fn selftest = (selftest_fn)dlsym(shim, "rrmj_render_selftest");
  last_error_fn last_error = (last_error_fn)dlsym(shim, "rrmj_last_error");
  if (!selftest || !last_error) {
    fprintf(stderr, "the shim lacks rrmj_render_selftest or rrmj_last_error\n");
    return 1;
  }
  enum { Size = 32 };
  static unsigned char rgb[Size * Size * 3];
  int code = selftest(Size, Size, rgb, (int)sizeof rgb);
  if (code != 0) {
    fprintf(stderr, "render self-test failed with libGLX loaded (code %d): %s\n", code, last_error());
    return 1;
  }
  /* A rendered scene is not one flat colour. */
  int varied = 0;
  for (int i = 3; i < (int)sizeof rgb; i++)
    if (rgb[i] != rgb[i % 3]) { varied = 1; break; }
  if (!varied) {
    fprintf(stderr, "the self-test frame is one flat colour\n");
    return 1;
  }
  printf("rendered %dx%d with libGLX loaded first\n", Size, Size);
  return 0;
}
