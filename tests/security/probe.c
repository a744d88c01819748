/* What an attacker inside a container would try: each probe makes one syscall (or one
 * open/write) and prints "NAME ok" or "NAME ERRNO-NAME". Every argument is chosen so
 * that, where the call IS allowed, it fails harmlessly (EINVAL, ENOENT) or changes only
 * the container's own namespaces: the answers tell refused (EPERM/EACCES/EROFS) from
 * allowed without touching the host. Built static by the tests (gcc -static). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static const char *name_of(int e) {
    switch (e) {
    case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case ESRCH: return "ESRCH";
    case EACCES: return "EACCES"; case EFAULT: return "EFAULT"; case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL"; case EROFS: return "EROFS"; case ENOSYS: return "ENOSYS";
    case EBADF: return "EBADF"; case ENOEXEC: return "ENOEXEC"; case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENODEV: return "ENODEV"; case ENOTDIR: return "ENOTDIR"; case EEXIST: return "EEXIST";
    case ENOKEY: return "ENOKEY"; case ENODATA: return "ENODATA"; case ENXIO: return "ENXIO";
    default: { static char buf[32]; snprintf(buf, sizeof buf, "E%d", e); return buf; }
    }
}

static void report(const char *what, long rc) {
    if (rc < 0) printf("%s %s\n", what, name_of(errno));
    else printf("%s ok\n", what);
    fflush(stdout);
}

static long write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    long rc = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return rc < 0 ? -1 : 0;
}

static long read_one(const char *path) {
    char c;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    long n = read(fd, &c, 1);
    int e = errno;
    close(fd);
    errno = e;
    if (n == 0) { errno = ENODATA; return -1; } /* masked: /dev/null reads nothing */
    return n < 0 ? -1 : 0;
}

#include <dirent.h>

/* The CVE-2019-5736 attacker: watch for every new process in our pid namespace (an exec's
 * runtime joins it before it execve's) and try to open its /proc/PID/exe for writing,
 * until /tmp/stop appears. Prints how often each answer came. */
static int race(void) {
    long opened = 0, eacces = 0, etxtbsy = 0, other = 0, seen = 0;
    pid_t self = getpid();
    while (access("/tmp/stop", F_OK) != 0) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            pid_t p = (pid_t)atoi(e->d_name);
            if (p <= 1 || p == self) continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/exe", p);
            seen++;
            int fd = open(path, O_WRONLY);
            if (fd >= 0) { opened++; close(fd); }
            else if (errno == EACCES || errno == EPERM) eacces++;
            else if (errno == ETXTBSY) etxtbsy++;
            else other++;
        }
        if (d) closedir(d);
    }
    printf("race seen=%ld opened=%ld refused=%ld busy=%ld other=%ld\n", seen, opened, eacces, etxtbsy, other);
    return 0;
}

/* usage: probe HOST-PIDNS-INODE [OUTSIDE-PID [NAME]]. The probes change what they may of
 * the namespaces they run in (hostname, mounts): never run them in the host's. */
int main(int argc, char **argv) {
    struct stat ns;
    if (argc < 2 || stat("/proc/self/ns/pid", &ns) != 0 || (unsigned long)ns.st_ino == strtoul(argv[1], NULL, 10)) {
        fprintf(stderr, "probe: refusing to run outside a container's pid namespace\n");
        return 2;
    }
    long outside = argc > 2 ? atol(argv[2]) : 0;
    const char *only = argc > 3 ? argv[3] : "";
    if (!strcmp(only, "race")) return race();
#define PROBE(name, expr) if (!*only || !strcmp(only, name)) { errno = 0; report(name, (long)(expr)); }
    PROBE("mount", mount("tmpfs", "/mnt", "tmpfs", 0, "size=1m"));
    PROBE("umount", umount2("/tmp", 0)); /* /tmp is no mount point: EINVAL where allowed */
    PROBE("unshare-mnt", unshare(CLONE_NEWNS));
    PROBE("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -2 /* process */, 0));
    PROBE("add_key", syscall(SYS_add_key, "user", "probe", "x", 1, -2));
    /* CAD_OFF in a child pid namespace is EINVAL: never a reboot, only the permission check */
    PROBE("reboot", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, 0));
    PROBE("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0xffff0000UL)); /* bad flags: EINVAL if allowed */
    PROBE("init_module", syscall(SYS_init_module, NULL, 0, ""));
    PROBE("finit_module", syscall(SYS_finit_module, -1, "", 0));
    {
        union bpf_attr attr; memset(&attr, 0, sizeof attr);
        PROBE("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr)); /* map type 0: EINVAL */
    }
    {
        struct perf_event_attr pe; memset(&pe, 0, sizeof pe);
        pe.type = PERF_TYPE_SOFTWARE; pe.size = sizeof pe; pe.config = PERF_COUNT_SW_CPU_CLOCK;
        pe.disabled = 1; pe.exclude_kernel = 1; pe.exclude_hv = 1;
        PROBE("perf_event_open", syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
    }
    {
        struct timespec ts = {0, 0};
        PROBE("clock_settime", clock_settime(CLOCK_MONOTONIC, &ts)); /* never settable: EINVAL if allowed */
    }
    PROBE("swapon", swapon("/no-such-swap", 0));
    if (outside > 0) PROBE("ptrace-outside", ptrace(PTRACE_ATTACH, (pid_t)outside, 0, 0));
    PROBE("mknod-block", mknod("/tmp/probe-sda", S_IFBLK | 0600, makedev(8, 0)));
    PROBE("open-block", open("/tmp/probe-sda", O_RDONLY));
    PROBE("sysrq-trigger", write_file("/proc/sysrq-trigger", "h"));
    PROBE("proc-sys-kernel", write_file("/proc/sys/kernel/domainname", "probe"));
    PROBE("read-kcore", read_one("/proc/kcore"));
    PROBE("chroot", chroot("/"));
    PROBE("sethostname", sethostname("probe", 5));
    PROBE("setns-host", setns(open("/proc/1/ns/mnt", O_RDONLY), 0));
    return 0;
}
