/*
 * libFuzzer target: the profile parser (profile/profile.h), whole files.
 *
 * Input: the text of a profile. It is parsed as a profile in the shipped
 * profiles/ directory, so the relative file names of the shipped profiles
 * (keys/demo_ed25519.pub) resolve as they do for real; any other name is
 * read as the parser reads every file (only regular files, size-capped).
 * A profile that parses is printed (sshmock check) and freed.
 *
 * Its first finding: glibc's regcomp() copies the tree of a repeated part
 * for every '+' and {N} around it, so a short Expect pattern such as
 * "a++++++++++++++++++++++" took gigabytes and "a{255}{255}{255}" crashed
 * it. The parser now refuses such patterns at FILE:LINE before regcomp
 * sees them; the three inputs are seeds (corpus/profile/regcomp-*.conf).
 *
 * When FUZZ_PROFILE_ROUNDTRIP is set in the environment, what check prints
 * must parse again; that is a stricter promise than the parser makes
 * today, so it is off unless asked for.
 */
#define _GNU_SOURCE /* open_memstream */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profile/profile.h"

static FILE *fuzz__null;

static int fuzz__roundtrip = -1;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char path[] = SSHMOCK_FUZZ_PROFILE_DIR "/fuzz.conf";
    profile_t *p = NULL;
    profile_t *again = NULL;
    char err[1024];
    char *printed = NULL;
    size_t printed_len = 0;
    FILE *mem = NULL;

    if (size > 256 * 1024) {
        return 0; /* larger than any profile; the parser's own cap is tested by unit tests */
    }
    if (fuzz__null == NULL) {
        fuzz__null = fopen("/dev/null", "w");
        fuzz__roundtrip = getenv("FUZZ_PROFILE_ROUNDTRIP") != NULL;
    }
    if (profile_parse(path, (const char *)data, size, fuzz__null, &p, err, sizeof err) != 0) {
        if (p != NULL || err[0] == '\0') {
            fprintf(stderr, "fuzz_profile: a failed parse must leave *out NULL and say why\n");
            abort();
        }
        return 0;
    }
    mem = open_memstream(&printed, &printed_len);
    if (mem != NULL) {
        profile_print(p, mem);
        fclose(mem);
        if (fuzz__roundtrip && printed != NULL &&
            profile_parse(path, printed, printed_len, fuzz__null, &again, err,
                          sizeof err) != 0) {
            fprintf(stderr, "fuzz_profile: printed profile does not parse again: %s\n"
                    "--- printed:\n%s\n", err, printed);
            abort();
        }
        profile_free(again);
        free(printed);
    }
    (void)profile_exec_find(p, "ls");
    (void)profile_account_find(p, "root");
    (void)profile_expect_find(p, "openssh");
    profile_free(p);
    return 0;
}
