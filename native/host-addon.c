/*
 * peapod-host.node: system calls Node does not offer, as a Node-API
 * addon (ABI-stable across Node versions; loaded by src/common/host/host-addon.ts,
 * which falls back to other means when the build made no addon).
 *
 *   syncfs(fd)    syncfs(2): makes everything written on the filesystem that
 *                 holds `fd` durable. Synchronous (it waits for the disk):
 *                 for the layer worker threads, never the event loop. It
 *                 replaces running `sync -f DIR` (coreutils), whose fork
 *                 copies the page tables of the whole server from a worker
 *                 thread, a cost that grows with the server's size.
 *                 Throws an Error whose code is the errno name (EBADF, EIO).
 *   mallocTrim()  malloc_trim(3) with pad 0, on a thread of libuv's pool:
 *                 returns to the kernel the free memory of every glibc malloc
 *                 arena, not only the top of each heap, which is all glibc
 *                 gives back by itself. Resolves true when memory was
 *                 released. After a pull the server's heaps held 50-60 MiB
 *                 freed but resident (freed 1 MiB buffers and socket reads
 *                 between live allocations).
 *   lgetxattr(path, name)  lgetxattr(2), never following a final symlink:
 *                 the attribute's bytes as a Buffer (at most 4 KiB), or null
 *                 when the file has no such attribute (ENODATA) or the file
 *                 system none at all (ENOTSUP). For reading an image
 *                 layer's opaque-directory markers without mounting it.
 *                 Throws an Error whose code is the errno name (ENOENT, ERANGE).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <malloc.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, const char *call, int err) {
  char msg[160];
  const char *name = strerrorname_np(err);
  snprintf(msg, sizeof msg, "%s: %s", call, strerror(err));
  napi_throw_error(env, name ? name : "EUNKNOWN", msg);
  return NULL;
}

static napi_value do_syncfs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "syncfs: fd must be a non-negative integer");
    return NULL;
  }
  if (syncfs(fd) != 0) return throw_errno(env, "syncfs", errno);
  return NULL;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int released;
} trim_job;

static void trim_execute(napi_env env, void *data) {
  (void)env;
  ((trim_job *)data)->released = malloc_trim(0);
}

static void trim_complete(napi_env env, napi_status status, void *data) {
  trim_job *job = data;
  napi_value result;
  napi_get_boolean(env, status == napi_ok && job->released != 0, &result);
  napi_resolve_deferred(env, job->deferred, result);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value do_malloc_trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value promise, name;
  trim_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, "ENOMEM", "mallocTrim: out of memory");
    return NULL;
  }
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "peapod:mallocTrim", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, trim_execute, trim_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, "mallocTrim: cannot queue the work");
    return NULL;
  }
  return promise;
}

static napi_value do_lgetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  char file[4096], name[256], value[4096];
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], file, sizeof file, &len) != napi_ok || len == 0 || len >= sizeof file - 1 ||
      napi_get_value_string_utf8(env, argv[1], name, sizeof name, &len) != napi_ok || len == 0 || len >= sizeof name - 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "lgetxattr: path (under 4 KiB) and name (under 256 bytes) must be non-empty strings");
    return NULL;
  }
  ssize_t n = lgetxattr(file, name, value, sizeof value);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) {
      napi_get_null(env, &result);
      return result;
    }
    return throw_errno(env, "lgetxattr", errno);
  }
  void *data;
  if (napi_create_buffer_copy(env, (size_t)n, value, &data, &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"syncfs", NULL, do_syncfs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocTrim", NULL, do_malloc_trim, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lgetxattr", NULL, do_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
