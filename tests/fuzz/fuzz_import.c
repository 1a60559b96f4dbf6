/*
 * fuzz_import: the ticket readers (sshmock import's format readers and
 * profile writer, sshmock diagnose) on arbitrary bytes. Whatever the input,
 * they must return, never crash, leak or read out of bounds, and import
 * must never write a profile the parser refuses (import_write checks that
 * itself and fails instead).
 *
 * Build (clang, libFuzzer), from the top of the tree after a normal build
 * of sshmock_core with -DSSHMOCK_SANITIZE=ON (any build directory):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iserver \
 *       -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
 *       tests/fuzz/fuzz_import.c build-asan/libsshmock.a \
 *       $(pkg-config --libs libssh libuv libcrypto jansson) -lpthread \
 *       -o build-asan/fuzz_import
 *   build-asan/fuzz_import -max_len=65536 client-tests/tickets/
 *
 * Without clang, -DFUZZ_IMPORT_MAIN builds a driver that runs each file
 * named on the command line once (gcc, for a corpus replay in CI).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/diagnose.h"
#include "cli/import.h"
#include "base/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The readers take NUL-terminated text, as util_read_file gives it. */
    char *text = malloc(size + 1);
    diagnose_result_t r;
    import_t im;
    util_buf_t out = UTIL_BUF_INIT;
    char err[768];

    memset(&im, 0, sizeof im);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    (void)diagnose_text(text, size, &r, err, sizeof err);
    if (memchr(text, '\0', size) == NULL && import_parse(text, size, &im, err, sizeof err) == 0) {
        (void)import_write(&im, "fuzz", "fuzz", &out, err, sizeof err);
    }
    import_free(&im);
    util_buf_free(&out);
    free(text);
    return 0;
}

#ifdef FUZZ_IMPORT_MAIN
int
main(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        char *data = NULL;
        size_t len = 0;
        if (util_read_file(argv[i], 16u * 1024 * 1024, &data, &len) != 0) {
            fprintf(stderr, "%s: unreadable\n", argv[i]);
            return 1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)data, len);
        free(data);
    }
    return 0;
}
#endif
