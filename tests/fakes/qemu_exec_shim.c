/* LD_PRELOAD shim for the fake Android device: an exec of an aarch64 ELF runs it under qemu-user instead.
 *
 * The fake device's shell is the host's /bin/sh; this machine has no binfmt_misc registration for aarch64
 * (and registering one would change the whole machine), so the shell's exec calls are intercepted here.
 * The emulated CPU comes from FAKE_QEMU_CPU in the exec'd environment (cortex-a76 = Snapdragon 888's ISA).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;
typedef int (*execve_fn)(const char *, char *const[], char *const[]);

static int is_aarch64_elf(const char *path) {
    unsigned char h[20];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    return n == (ssize_t)sizeof h && memcmp(h, "\x7f" "ELF", 4) == 0 && h[4] == 2 && h[18] == 183 && h[19] == 0;
}

static const char *env_value(char *const envp[], const char *key) {
    size_t len = strlen(key);
    for (; envp && *envp; ++envp)
        if (strncmp(*envp, key, len) == 0 && (*envp)[len] == '=') return *envp + len + 1;
    return NULL;
}

int execve(const char *path, char *const argv[], char *const envp[]) {
    execve_fn real = (execve_fn)dlsym(RTLD_NEXT, "execve");
    if (!is_aarch64_elf(path)) return real(path, argv, envp);
    const char *cpu = env_value(envp, "FAKE_QEMU_CPU");
    const char *qemu = env_value(envp, "FAKE_QEMU");
    size_t argc = 0;
    while (argv[argc]) ++argc;
    char **args = calloc(argc + 10, sizeof *args);
    if (!args) { errno = ENOMEM; return -1; }
    size_t i = 0;
    args[i++] = (char *)(qemu ? qemu : "/usr/bin/qemu-aarch64-static");
    args[i++] = "-cpu";
    args[i++] = (char *)(cpu ? cpu : "cortex-a76");
    args[i++] = "-U";
    args[i++] = "LD_PRELOAD";
    args[i++] = "-0";
    args[i++] = argc ? argv[0] : (char *)path;
    args[i++] = (char *)path;
    for (size_t k = 1; k < argc; ++k) args[i++] = argv[k];
    args[i] = NULL;
    return real(args[0], args, envp);
}

int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

int execvpe(const char *file, char *const argv[], char *const envp[]) {
    if (strchr(file, '/')) return execve(file, argv, envp);
    const char *path_env = getenv("PATH");
    char buf[4096];
    for (const char *p = path_env ? path_env : "/usr/bin:/bin"; *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len + strlen(file) + 2 < sizeof buf) {
            memcpy(buf, p, len);
            buf[len] = '/';
            strcpy(buf + len + 1, file);
            if (access(buf, X_OK) == 0) return execve(buf, argv, envp);
        }
        if (!end) break;
        p = end + 1;
    }
    errno = ENOENT;
    return -1;
}

int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }
