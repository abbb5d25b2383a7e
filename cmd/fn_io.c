/*
 * portico fn source|sink: a package as a ResourceList on stdout, and back (as kpt fn
 * source / kpt fn sink). Built on cad/krm.
 */
#include "cmd/commands.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/fs.h"
#include "cad/krm.h"
#include "cad/yaml.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FN_IO_MAX_INPUT ((size_t)256 << 20)

static int cmd_source(int argc, char **argv) {
  const char *dir = ".";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      printf("Usage: portico fn source [DIR]\nWrites the package's resources to stdout as a "
             "ResourceList (config.kubernetes.io/v1), as `kpt fn source`.\n");
      return 0;
    }
    if (argv[i][0] == '-') {
      fprintf(stderr, "error: unknown flag: %s\n", argv[i]);
      return 2;
    }
    dir = argv[i];
  }
  krm_pkg *p = NULL;
  yml_file *rl = NULL;
  buf out = BUF_INIT;
  int rc = krm_pkg_read(&p, dir, KRM_READ_SUBPACKAGES);
  if (!rc)
    rc = krm_rl_from_pkg(&rl, p, NULL);
  if (!rc)
    rc = yml_file_write(rl, &out);
  if (!rc && fwrite(buf_cstr(&out), 1, out.len, stdout) != out.len)
    rc = error_set(ERR_IO, "writing stdout");
  buf_free(&out);
  yml_file_free(rl);
  krm_pkg_free(p);
  if (rc) {
    fprintf(stderr, "error: %s\n", error_message());
    return 1;
  }
  return 0;
}

static int cmd_sink(int argc, char **argv) {
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      printf("Usage: portico fn sink DIR\nReads a ResourceList from stdin and writes its "
             "resources as files under DIR (which must not exist), as `kpt fn sink`.\n");
      return 0;
    }
    if (argv[i][0] == '-') {
      fprintf(stderr, "error: unknown flag: %s\n", argv[i]);
      return 2;
    }
    dir = argv[i];
  }
  if (!dir) {
    fprintf(stderr, "error: requires 1 arg(s), only received 0\n");
    return 2;
  }
  if (fs_exists(dir)) {
    fprintf(stderr, "error: directory \"%s\" already exists, please delete the directory and retry\n", dir);
    return 1;
  }
  buf in = BUF_INIT;
  buf_init(&in, FN_IO_MAX_INPUT);
  char chunk[65536];
  size_t n;
  int rc = 0;
  while (!rc && (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
    rc = buf_append(&in, chunk, n);
  yml_file *f = NULL;
  krm_pkg *p = NULL;
  if (!rc)
    rc = yml_file_parse(&f, "stdin", in.data ? in.data : "", in.len);
  if (!rc && yml_file_doc_count(f) != 1)
    rc = error_set(ERR_INVALID, "stdin: expected one ResourceList document");
  if (!rc)
    rc = krm_rl_to_pkg(&p, yml_file_doc(f, 0));
  /* write into a temporary sibling, then move into place */
  char *tmp = NULL;
  if (!rc) {
    tmp = malloc(strlen(dir) + 32);
    if (!tmp)
      rc = ERR_NOMEM;
    else {
      snprintf(tmp, strlen(dir) + 32, "%s.portico-sink-%ld", dir, (long)getpid());
      rc = fs_mkdir_p(tmp, 0755);
    }
  }
  if (!rc) /* a private directory until the rename below: no temporary per file */
    rc = krm_pkg_write_scratch(p, tmp);
  if (!rc) {
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
      *slash = 0;
      fs_mkdir_p(dir, 0755);
      *slash = '/';
    }
    if (rename(tmp, dir) != 0)
      rc = error_set_errno(ERR_IO, "cannot move the output to %s", dir);
  }
  if (rc && tmp)
    fs_remove_tree(tmp);
  free(tmp);
  krm_pkg_free(p);
  yml_file_free(f);
  buf_free(&in);
  if (rc) {
    fprintf(stderr, "error: %s\n", error_message());
    return 1;
  }
  return 0;
}

int cmd_fn_io_main(int argc, char **argv) {
  if (!strcmp(argv[0], "source"))
    return cmd_source(argc, argv);
  return cmd_sink(argc, argv);
}
