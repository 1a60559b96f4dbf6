/*
 * Unit tests for the host key module's rules about files (ssh/hostkey.h):
 * the state directory and kept keys are used only when nobody else can
 * have put them there, the temporary file cannot be redirected, a
 * profile's name cannot lead out of the state directory, no shared /tmp
 * directory is used when HOME is unset, and `sshmock check` refuses the
 * HostKey files that serve refuses.
 *
 * The check tests run the sshmock binary: $SSHMOCK_BIN, else ./sshmock
 * (ctest runs the tests in the build directory).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "profile/algo.h"
#include "ssh/hostkey.h"
#include "profile/profile.h"
#include "base/util.h"

typedef struct fixture_s {
    char base[64];   /* a fresh directory of ours, 0700 */
    char state[128]; /* base/state, not created */
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);

    assert_non_null(f);
    snprintf(f->base, sizeof f->base, "/tmp/sshmock-hostkey-XXXXXX");
    assert_non_null(mkdtemp(f->base));
    snprintf(f->state, sizeof f->state, "%s/state", f->base);
    *state = f;
    return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    fixture_t *f = *state;

    nftw(f->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A profile with one generated ed25519 key, named by its file name. */
static profile_t *
profile_named(const fixture_t *f, const char *file)
{
    char path[256];
    char err[512] = "";
    profile_t *p = NULL;

    snprintf(path, sizeof path, "%s/%s", f->base, file);
    if (profile_parse_string(path, "HostKey generate:ed25519\n", &p, err, sizeof err) != 0) {
        print_error("%s\n", err);
        fail();
    }
    return p;
}

static int
exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
exists(const char *fmt, ...)
{
    char path[512];
    struct stat st;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    return lstat(path, &st) == 0;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

/* A key made and kept by someone else, where sshmock would look for its
 * own: <state>/<name>/ssh_host_ed25519_key. Returns its fingerprint. */
static void
plant_key(const char *state, const char *name, mode_t dirmode, mode_t subdirmode,
          char *fp, size_t fplen)
{
    char dir[256];
    char path[320];
    ssh_key k = NULL;

    mkdir(state, 0700);
    assert_int_equal(chmod(state, dirmode), 0);
    snprintf(dir, sizeof dir, "%s/%s", state, name);
    mkdir(dir, 0700);
    assert_int_equal(chmod(dir, subdirmode), 0);
    snprintf(path, sizeof path, "%s/ssh_host_ed25519_key", dir);
    assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &k), SSH_OK);
    assert_int_equal(ssh_pki_export_privkey_file(k, NULL, NULL, NULL, path), SSH_OK);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(hostkey_fingerprint(k, fp, fplen), 0);
    ssh_key_free(k);
}

/* Loads the profile's keys; returns the rc, err filled. */
static int
load(const profile_t *p, const char *state_dir, hostkey_set_t *set, char *err,
     size_t errlen)
{
    int rc;

    err[0] = '\0';
    rc = hostkey_load_all(p, state_dir, set, err, errlen);
    if (rc == 0) {
        assert_true(set->n > 0);
    }
    return rc;
}

/* ---- the state directory ------------------------------------------------ */

static void
test_world_writable_state_dir_refused(void **state)
{
    fixture_t *f = *state;
    profile_t *p = profile_named(f, "planted.conf");
    hostkey_set_t set;
    char fp[80];
    char err[1024];

    /* Anyone could have put this key there: it must not be served. */
    plant_key(f->state, "planted", 0777, 0700, fp, sizeof fp);
    if (load(p, f->state, &set, err, sizeof err) == 0) {
        print_error("a key in a world-writable state directory was used (%s, planted %s)\n",
                    set.keys[0].fingerprint, fp);
        hostkey_set_free(&set);
        fail();
    }
    assert_non_null(strstr(err, f->state));
    assert_non_null(strstr(err, "chmod go-w"));
    profile_free(p);
}

static void
test_group_writable_profile_dir_refused(void **state)
{
    fixture_t *f = *state;
    profile_t *p = profile_named(f, "planted.conf");
    hostkey_set_t set;
    char fp[80];
    char err[1024];

    plant_key(f->state, "planted", 0700, 0770, fp, sizeof fp);
    if (load(p, f->state, &set, err, sizeof err) == 0) {
        print_error("a key in a group-writable directory was used (planted %s)\n", fp);
        hostkey_set_free(&set);
        fail();
    }
    assert_non_null(strstr(err, "/planted is writable by its group"));
    profile_free(p);
}

static void
test_state_dir_of_another_user_refused(void **state)
{
    fixture_t *f = *state;
    profile_t *p = profile_named(f, "planted.conf");
    hostkey_set_t set;
    char fp[80];
    char err[1024];

    if (geteuid() != 0) {
        profile_free(p);
        skip(); /* only root can give a directory away */
    }
    plant_key(f->state, "planted", 0700, 0700, fp, sizeof fp);
    assert_int_equal(chown(f->state, 65534, 65534), 0);
    if (load(p, f->state, &set, err, sizeof err) == 0) {
        print_error("a key in another user's directory was used (planted %s)\n", fp);
        hostkey_set_free(&set);
        fail();
    }
    assert_non_null(strstr(err, "belongs to uid 65534"));
    profile_free(p);
}

static void
test_safe_state_dir_keeps_key(void **state)
{
    fixture_t *f = *state;
    profile_t *p = profile_named(f, "mine.conf");
    hostkey_set_t set;
    char fp[80];
    char err[1024];
    struct stat st;

    /* The rules must not refuse what sshmock made itself: a new key is
     * kept 0600 in 0700 directories and is the same at the next start. */
    assert_int_equal(load(p, f->state, &set, err, sizeof err), 0);
    assert_true(set.keys[0].generated);
    util_strlcpy(fp, set.keys[0].fingerprint, sizeof fp);
    assert_int_equal(stat(set.keys[0].source, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    hostkey_set_free(&set);
    assert_int_equal(stat(f->state, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_true(exists("%s/mine/ssh_host_ed25519_key", f->state));

    assert_int_equal(load(p, f->state, &set, err, sizeof err), 0);
    assert_false(set.keys[0].generated);
    assert_string_equal(set.keys[0].fingerprint, fp);
    hostkey_set_free(&set);
    profile_free(p);
}

/* A DSA-only profile (legacy-dss-only): sshmock's own libssh serves the
 * DSA key; the system libssh, which has no DSA, gets a placeholder it never
 * shows (ssh-dss is offer-only there) instead of refusing to start. */
static void
test_dsa_key_where_the_engine_has_dsa(void **state)
{
    fixture_t *f = *state;
    char path[256];
    char err[1024] = "";
    profile_t *p = NULL;
    hostkey_set_t set;

    snprintf(path, sizeof path, "%s/dss.conf", f->base);
    assert_int_equal(profile_parse_string(path, "HostKeyAlgorithms ssh-dss\n"
                                          "HostKey generate:dsa\n", &p, err, sizeof err), 0);
    assert_int_equal(load(p, f->state, &set, err, sizeof err), 0);
    assert_int_equal(set.n, 1);
    if (algo_is_supported(ALGO_HOSTKEY, "ssh-dss")) {
        assert_int_equal(ssh_key_type(set.keys[0].key), SSH_KEYTYPE_DSS);
        assert_true(set.keys[0].generated);
    } else {
        assert_int_equal(ssh_key_type(set.keys[0].key), SSH_KEYTYPE_ED25519);
        assert_non_null(strstr(set.keys[0].source, "placeholder"));
    }
    hostkey_set_free(&set);
    profile_free(p);
}

/* ---- kept keys ------------------------------------------------------------ */

static void
test_kept_key_readable_by_others_refused(void **state)
{
    fixture_t *f = *state;
    profile_t *p = profile_named(f, "open.conf");
    hostkey_set_t set;
    char fp[80];
    char path[256];
    char err[1024];

    plant_key(f->state, "open", 0700, 0700, fp, sizeof fp);
    snprintf(path, sizeof path, "%s/open/ssh_host_ed25519_key", f->state);
    assert_int_equal(chmod(path, 0666), 0);
    if (load(p, f->state, &set, err, sizeof err) == 0) {
        print_error("a kept key of mode 0666 was used\n");
        hostkey_set_free(&set);
        fail();
    }
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "chmod 600"));
    profile_free(p);
}

static void
test_kept_key_symlink_refused(void **state)
{
    fixture_t *f = *state;
    profile_t *p = profile_named(f, "link.conf");
    hostkey_set_t set;
    char fp[80];
    char path[256];
    char elsewhere[256];
    char err[1024];

    plant_key(f->state, "link", 0700, 0700, fp, sizeof fp);
    snprintf(path, sizeof path, "%s/link/ssh_host_ed25519_key", f->state);
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere_key", f->base);
    assert_int_equal(rename(path, elsewhere), 0);
    assert_int_equal(symlink(elsewhere, path), 0);
    if (load(p, f->state, &set, err, sizeof err) == 0) {
        print_error("a kept key that is a symbolic link was followed\n");
        hostkey_set_free(&set);
        fail();
    }
    assert_non_null(strstr(err, "symbolic link"));
    profile_free(p);
}

/* ---- the temporary file --------------------------------------------------- */

static void
test_tmp_file_not_through_planted_link(void **state)
{
    fixture_t *f = *state;
    profile_t *p = profile_named(f, "tmp.conf");
    hostkey_set_t set;
    char dir[256];
    char victim[256];
    char link[512];
    char err[1024];
    char buf[64] = "";
    struct stat st;
    DIR *d = NULL;
    struct dirent *e = NULL;
    int fd;
    int others = 0;

    /* The old temporary name was <key>.tmp.<pid>, opened with O_TRUNC
     * through any link: a link planted under that name wrote the private
     * key wherever it pointed. */
    snprintf(dir, sizeof dir, "%s/tmp", f->state);
    assert_int_equal(util_mkdirs(dir, 0700), 0);
    snprintf(victim, sizeof victim, "%s/victim", f->base);
    write_file(victim, "precious", 0644);
    snprintf(link, sizeof link, "%s/ssh_host_ed25519_key.tmp.%ld", dir, (long)getpid());
    assert_int_equal(symlink(victim, link), 0);

    assert_int_equal(load(p, f->state, &set, err, sizeof err), 0);
    hostkey_set_free(&set);

    fd = open(victim, O_RDONLY);
    assert_true(fd >= 0);
    assert_true(read(fd, buf, sizeof buf - 1) >= 0);
    close(fd);
    assert_string_equal(buf, "precious");
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode)); /* left alone, not renamed over the key */
    snprintf(link, sizeof link, "%s/ssh_host_ed25519_key", dir);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISREG(st.st_mode));

    /* Nothing else is left behind: the key and the planted link only. */
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, "ssh_host_ed25519_key") != 0 &&
            strncmp(e->d_name, "ssh_host_ed25519_key.tmp.", 25) != 0) {
            print_error("left behind: %s\n", e->d_name);
            others++;
        }
    }
    closedir(d);
    assert_int_equal(others, 0);
    profile_free(p);
}

/* ---- the profile's name --------------------------------------------------- */

static void
test_unsafe_profile_names_refused(void **state)
{
    fixture_t *f = *state;
    static const char *const files[] = { "...conf", "..conf", ".hidden.conf" };
    hostkey_set_t set;
    char err[1024];
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(files); i++) {
        profile_t *p = profile_named(f, files[i]);
        int rc = load(p, f->state, &set, err, sizeof err);

        if (rc == 0) {
            print_error("profile %s: keys written to %s\n", files[i], set.keys[0].source);
            hostkey_set_free(&set);
            fail();
        }
        assert_non_null(strstr(err, "rename the file"));
        profile_free(p);
    }
    /* "...conf" is named "..": the old code kept its key in base/. */
    assert_false(exists("%s/ssh_host_ed25519_key", f->base));
    assert_false(exists("%s/ssh_host_ed25519_key", f->state));
}

/* ---- HOME unset ------------------------------------------------------------ */

typedef struct saved_env_s {
    char *v[3];
} saved_env_t;

static const char *const env_names[3] = { "SSHMOCK_STATE_DIR", "XDG_STATE_HOME", "HOME" };

static void
env_save_clear(saved_env_t *s)
{
    int i;

    for (i = 0; i < 3; i++) {
        s->v[i] = util_strdup(getenv(env_names[i]));
        unsetenv(env_names[i]);
    }
}

static void
env_restore(saved_env_t *s)
{
    int i;

    for (i = 0; i < 3; i++) {
        if (s->v[i] != NULL) {
            setenv(env_names[i], s->v[i], 1);
        } else {
            unsetenv(env_names[i]);
        }
        free(s->v[i]);
    }
}

static void
test_home_unset_no_shared_dir(void **state)
{
    fixture_t *f = *state;
    saved_env_t env;
    profile_t *p = NULL;
    hostkey_set_t set;
    char name[64];
    char file[80];
    char xdg[160];
    char expect[200];
    char err[1024];
    char *dir = NULL;
    int rc;

    snprintf(name, sizeof name, "hostkey-test-%ld", (long)getpid());
    snprintf(file, sizeof file, "%s.conf", name);
    p = profile_named(f, file);
    env_save_clear(&env);

    dir = hostkey_state_dir(NULL);
    rc = dir != NULL ? load(p, dir, &set, err, sizeof err) : -1;
    if (rc == 0) {
        print_error("with HOME unset the keys went to %s\n", set.keys[0].source);
        hostkey_set_free(&set);
    }
    free(dir);

    /* XDG_STATE_HOME alone is enough. */
    snprintf(xdg, sizeof xdg, "%s/xdg", f->base);
    setenv("XDG_STATE_HOME", xdg, 1);
    dir = hostkey_state_dir(NULL);
    env_restore(&env);

    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err, "HOME is not set"));
    assert_false(exists("/tmp/sshmock-state/%s", name));
    snprintf(expect, sizeof expect, "%s/sshmock", xdg);
    assert_non_null(dir);
    assert_string_equal(dir, expect);
    free(dir);
    profile_free(p);
}

/* ---- HostKey files ---------------------------------------------------------- */

static void
test_hostkey_file_not_regular_refused(void **state)
{
    fixture_t *f = *state;
    char fifo[128];
    char text[256];
    char conf[128];
    char err[1024] = "";
    profile_t *p = NULL;
    hostkey_set_t set;
    time_t t0;

    /* The old loader opened a FIFO and waited for a writer forever. */
    snprintf(fifo, sizeof fifo, "%s/fifo", f->base);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(text, sizeof text, "HostKey %s\n", fifo);
    snprintf(conf, sizeof conf, "%s/fifo.conf", f->base);
    assert_int_equal(profile_parse_string(conf, text, &p, err, sizeof err), 0);
    t0 = time(NULL);
    assert_int_not_equal(load(p, f->state, &set, err, sizeof err), 0);
    assert_true(time(NULL) - t0 < 5);
    assert_non_null(strstr(err, fifo));
    profile_free(p);
}

/* ---- sshmock check ----------------------------------------------------------- */

/* Runs `sshmock check PROFILE` with a time limit; returns its exit status
 * (-1 if it had to be killed) and its stderr in out. */
static int
run_check(const char *profile, char *out, size_t outlen)
{
    const char *bin = getenv("SSHMOCK_BIN") != NULL ? getenv("SSHMOCK_BIN") : "./sshmock";
    int pipefd[2];
    pid_t pid;
    int status = 0;
    size_t got = 0;
    int i;

    assert_int_equal(access(bin, X_OK), 0);
    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        execl(bin, bin, "check", profile, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    for (i = 0; i < 100; i++) { /* 10 s at most */
        ssize_t n = read(pipefd[0], out + got, outlen - 1 - got);
        if (n > 0) {
            got += (size_t)n;
        }
        if (waitpid(pid, &status, WNOHANG) == pid) {
            while ((n = read(pipefd[0], out + got, outlen - 1 - got)) > 0) {
                got += (size_t)n;
            }
            close(pipefd[0]);
            out[got] = '\0';
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(100 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(pipefd[0]);
    out[got] = '\0';
    return -1;
}

static void
check_refuses(const fixture_t *f, const char *conf, const char *hostkey_line,
              const char *expect)
{
    char path[256];
    char out[2048];
    int rc;

    snprintf(path, sizeof path, "%s/%s", f->base, conf);
    write_file(path, hostkey_line, 0600);
    rc = run_check(path, out, sizeof out);
    if (rc != 2 || strstr(out, expect) == NULL) {
        print_error("sshmock check %s (%s): exit %d, expected 2 and '%s' in:\n%s\n", conf,
                    hostkey_line, rc, expect, out);
        fail();
    }
}

static void
test_check_refuses_what_serve_refuses(void **state)
{
    fixture_t *f = *state;
    char line[256];
    char dir[128];
    char fifo[128];
    char pub[128];
    char priv[128];
    char out[2048];
    ssh_key k = NULL;

    snprintf(dir, sizeof dir, "%s/adir", f->base);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(fifo, sizeof fifo, "%s/afifo", f->base);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(priv, sizeof priv, "%s/key", f->base);
    snprintf(pub, sizeof pub, "%s/key.pub", f->base);
    assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &k), SSH_OK);
    assert_int_equal(ssh_pki_export_privkey_file(k, NULL, NULL, NULL, priv), SSH_OK);
    assert_int_equal(ssh_pki_export_pubkey_file(k, pub), SSH_OK);
    ssh_key_free(k);

    check_refuses(f, "zero.conf", "HostKey /dev/zero\n", "/dev/zero");
    snprintf(line, sizeof line, "HostKey %s\n", dir);
    check_refuses(f, "dir.conf", line, dir);
    snprintf(line, sizeof line, "HostKey %s\n", fifo);
    check_refuses(f, "fifo.conf", line, fifo);
    snprintf(line, sizeof line, "HostKey %s\n", pub);
    check_refuses(f, "pub.conf", line, "public key");
    check_refuses(f, "...conf", "HostKey generate:ed25519\n", "rename the file");

    /* And a good key still passes. */
    snprintf(line, sizeof line, "HostKey %s\n", priv);
    snprintf(dir, sizeof dir, "%s/good.conf", f->base);
    write_file(dir, line, 0600);
    assert_int_equal(run_check(dir, out, sizeof out), 0);
}

int
main(void)
{
#define HOSTKEY_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        HOSTKEY_TEST(test_world_writable_state_dir_refused),
        HOSTKEY_TEST(test_group_writable_profile_dir_refused),
        HOSTKEY_TEST(test_state_dir_of_another_user_refused),
        HOSTKEY_TEST(test_safe_state_dir_keeps_key),
        HOSTKEY_TEST(test_dsa_key_where_the_engine_has_dsa),
        HOSTKEY_TEST(test_kept_key_readable_by_others_refused),
        HOSTKEY_TEST(test_kept_key_symlink_refused),
        HOSTKEY_TEST(test_tmp_file_not_through_planted_link),
        HOSTKEY_TEST(test_unsafe_profile_names_refused),
        HOSTKEY_TEST(test_home_unset_no_shared_dir),
        HOSTKEY_TEST(test_hostkey_file_not_regular_refused),
        HOSTKEY_TEST(test_check_refuses_what_serve_refuses),
    };

    return cmocka_run_group_tests_name("hostkey", tests, NULL, NULL);
}
