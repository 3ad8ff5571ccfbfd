/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * os_linux.c - thin wrappers over the system calls lib/ uses. They return
 * 0 or -errno, keep no state beyond the cached page size, take no locks and
 * never allocate, so they are safe in fork handlers and in the proxy's
 * bootstrap path.
 */

#include "os_linux.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <umf/memory_provider.h>

#include "common.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif

// --- Memory mappings ---

int os_mmap_anon(size_t size, int prot, void **out) {
    void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return -errno;
    }
    *out = p;
    return 0;
}

int os_mmap_fd(void **inout, size_t size, int prot, int fd, off_t offset,
               int fixed) {
    void *hint = fixed ? *inout : NULL;
    int flags = MAP_SHARED | (fixed ? MAP_FIXED : 0);
    void *p = mmap(hint, size, prot, flags, fd, offset);
    if (p == MAP_FAILED) {
        return -errno;
    }
    *inout = p;
    return 0;
}

#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif

int os_mmap_fd_sync(void *addr, size_t size, int prot, int fd, off_t offset,
                    void **out) {
    int flags = MAP_SHARED_VALIDATE | MAP_SYNC | (addr ? MAP_FIXED : 0);
    void *p = mmap(addr, size, prot, flags, fd, offset);
    if (p == MAP_FAILED) {
        return -errno;
    }
    *out = p;
    return 0;
}

int os_mmap_fd_private(void *addr, size_t size, int prot, int fd, off_t offset,
                       void **out) {
    int flags = MAP_PRIVATE | (addr ? MAP_FIXED : 0);
    void *p = mmap(addr, size, prot, flags, fd, offset);
    if (p == MAP_FAILED) {
        return -errno;
    }
    *out = p;
    return 0;
}

int os_munmap(void *addr, size_t size) {
    return munmap(addr, size) ? -errno : 0;
}

int os_madvise(void *addr, size_t size, int advice) {
    return madvise(addr, size, advice) ? -errno : 0;
}

size_t os_page_size(void) {
    static _Atomic size_t cached;
    size_t ps = atomic_load_explicit(&cached, memory_order_relaxed);
    if (unlikely(ps == 0)) {
        long v = getpagesize(); // not sysconf: its tables cost RSS at start-up
        ps = v > 0 ? (size_t)v : 4096;
        atomic_store_explicit(&cached, ps, memory_order_relaxed);
    }
    return ps;
}

int os_prot_from_umf(unsigned umf_prot, int *prot) {
    const unsigned known = UMF_PROTECTION_NONE | UMF_PROTECTION_READ |
                           UMF_PROTECTION_WRITE | UMF_PROTECTION_EXEC;
    if (umf_prot & ~known) {
        return -EINVAL;
    }
    int p = PROT_NONE;
    if (umf_prot & UMF_PROTECTION_READ) {
        p |= PROT_READ;
    }
    if (umf_prot & UMF_PROTECTION_WRITE) {
        p |= PROT_WRITE;
    }
    if (umf_prot & UMF_PROTECTION_EXEC) {
        p |= PROT_EXEC;
    }
    *prot = p;
    return 0;
}

// --- NUMA ---

int os_mbind(void *addr, size_t len, int mode, const unsigned long *nodemask,
             unsigned long maxnode, unsigned flags) {
    long r = syscall(SYS_mbind, addr, len, mode, nodemask, maxnode, flags);
    return r ? -errno : 0;
}

// --- File descriptors ---

int os_memfd_create(const char *name) {
    long fd = syscall(SYS_memfd_create, name, MFD_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

int os_memfd_secret(void) {
#ifdef SYS_memfd_secret
    long fd = syscall(SYS_memfd_secret, O_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
#else
    return -ENOSYS;
#endif
}

int os_shm_create(const char *name) {
    (void)shm_unlink(name);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

int os_shm_open(const char *name) {
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

int os_open_proc_fd(int pid, int fd) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
    int r = open(path, O_RDWR | O_CLOEXEC);
    return r < 0 ? -errno : r;
}

int os_shm_unlink(const char *name) {
    return shm_unlink(name) ? -errno : 0;
}

int os_ftruncate(int fd, off_t size) {
    return ftruncate(fd, size) ? -errno : 0;
}

int os_open(const char *path, int flags, unsigned mode) {
    int fd = open(path, flags | O_CLOEXEC, (mode_t)mode);
    return fd < 0 ? -errno : fd;
}

int os_fallocate(int fd, off_t offset, off_t len) {
    // posix_fallocate returns the error number instead of setting errno.
    int r = posix_fallocate(fd, offset, len);
    return -r;
}

int os_fd_kind(int fd, uint64_t *size) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    if (size) {
        *size = (uint64_t)st.st_size;
    }
    if (S_ISCHR(st.st_mode)) {
        return 1;
    }
    return S_ISREG(st.st_mode) ? 2 : 0;
}

int os_close(int fd) {
    return close(fd) ? -errno : 0;
}

int os_shm_is_fd(const char *name, int fd) {
    char path[300];
    struct stat a, b;
    if ((size_t)snprintf(path, sizeof(path), "/dev/shm/%s", name) >=
            sizeof(path) ||
        stat(path, &a) != 0 || fstat(fd, &b) != 0) {
        return 0;
    }
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int os_open_append(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int os_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno;
}

void os_read_until_eof(int fd) {
    char c;
    for (;;) {
        ssize_t n = read(fd, &c, 1);
        if (n == 0 || (n < 0 && errno != EINTR)) {
            return;
        }
    }
}

int os_read_small_file(const char *path, char *buf, size_t len) {
    if (len == 0) {
        return -EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    size_t got = 0;
    while (got < len - 1) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (int)got;
}

int os_write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

// --- IPC: files of other processes ---

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

int os_pidfd_open(int pid) {
    long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int os_pidfd_getfd(int pidfd, int targetfd) {
    long fd = syscall(SYS_pidfd_getfd, pidfd, targetfd, 0);
    return fd < 0 ? -errno : (int)fd;
}

int os_fd_identity(int fd, uint64_t *dev, uint64_t *ino) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    return 0;
}

int os_fd_shmem_identity(int fd, uint64_t *dev, uint64_t *ino) {
    const long tmpfs = 0x01021994, hugetlbfs = 0x958458f6,
               secretmem = 0x5345434d;
    struct stat st;
    struct statfs sf;
    if (fstat(fd, &st) != 0 || fstatfs(fd, &sf) != 0) {
        return -errno;
    }
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    long type = (long)sf.f_type;
    if (!S_ISREG(st.st_mode) ||
        (type != tmpfs && type != hugetlbfs && type != secretmem)) {
        return -EBADF;
    }
    return 0;
}

int os_ptrace_scope(void) {
    int fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    char c = 0;
    ssize_t n = read(fd, &c, 1);
    close(fd);
    return n == 1 && c >= '0' && c <= '9' ? c - '0' : -1;
}

// --- Dynamic loading ---

void *os_dlopen(const char *name) {
    return dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
}

void *os_dlsym(void *handle, const char *symbol) {
    return dlsym(handle, symbol);
}

void *os_dlsym_global(const char *symbol) {
    return dlsym(RTLD_DEFAULT, symbol);
}

int os_dlclose(void *handle) {
    return dlclose(handle) ? -EINVAL : 0;
}

const char *os_dlerror(void) {
    const char *e = dlerror();
    return e ? e : "unknown dynamic loader error";
}

// --- Threads ---

bool os_thread_exiting(void) {
    // The kernel's mask, not glibc's view of it (which hides its own
    // signals). SIGCANCEL is SIGRTMIN's first reserved signal, 32.
    uint64_t mask = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &mask, sizeof(mask))) {
        return false;
    }
    return (mask >> (32 - 1)) & 1;
}

int os_membarrier_register(void) {
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) {
        return -ENOSYS;
    }
    long r = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                     0, 0);
    return r ? -errno : 0;
}

int os_membarrier(void) {
    long r = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    return r ? -errno : 0;
}

void os_yield(void) {
    sched_yield();
}

// --- Process ---

const char *os_getenv(const char *name) {
    return secure_getenv(name);
}

int os_getpid(void) {
    return (int)getpid();
}

int os_gettid(void) {
    return (int)syscall(SYS_gettid);
}

int os_can_lock_unlimited(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY) {
        return 1;
    }
    // CAP_IPC_LOCK lifts the limit; read the effective set directly so we
    // need no libcap.
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{0}};
    if (syscall(SYS_capget, &hdr, data) == 0 &&
        (data[CAP_IPC_LOCK / 32].effective & (1U << (CAP_IPC_LOCK % 32)))) {
        return 1;
    }
    return 0;
}

// --- Private copies of a file's shared mappings (fork child) ---

// Copies the pages of [lo, lo + size) that are resident (mincore) into
// dst; the others were never touched since their last purge and read as
// zeros. For files without SEEK_DATA (memfd_secret).
static void copy_resident_pages(void *dst, uintptr_t lo, size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char vec[4096];
    for (size_t done = 0; done < size;) {
        size_t len = size - done;
        if (len > sizeof(vec) * page) {
            len = sizeof(vec) * page;
        }
        if (mincore((void *)(lo + done), len, vec) != 0) {
            memcpy((char *)dst + done, (void *)(lo + done), len);
        } else {
            size_t n = (len + page - 1) / page;
            for (size_t i = 0; i < n;) {
                size_t j = i;
                while (j < n && (vec[j] & 1)) {
                    j++;
                }
                if (j > i) {
                    size_t a = done + i * page;
                    size_t b = done + j * page;
                    if (b > size) {
                        b = size;
                    }
                    memcpy((char *)dst + a, (void *)(lo + a), b - a);
                }
                i = j + 1;
            }
        }
        done += len;
    }
}

// Copies the parts of [lo, lo + size) (mapping fd from offset off) that
// hold data into dst: holes of the file read as zeros, which the fresh
// anonymous dst already is, so a heap that is mostly untouched costs only
// what it uses (copying every page faulted in the holes too: about 1.5 s
// per fork for a threaded program's heap).
static void copy_data_parts(void *dst, uintptr_t lo, size_t size, int fd,
                            off_t off) {
    off_t end = off + (off_t)size;
    off_t pos = off;
    while (pos < end) {
        off_t data = lseek(fd, pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) {
                return; // only a hole is left
            }
            copy_resident_pages((char *)dst + (pos - off),
                                lo + (size_t)(pos - off), (size_t)(end - pos));
            return;
        }
        if (data >= end) {
            return;
        }
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0 || hole > end) {
            hole = end;
        }
        memcpy((char *)dst + (data - off), (void *)(lo + (size_t)(data - off)),
               (size_t)(hole - data));
        pos = hole;
    }
}

// Replaces [lo, hi) (a shared mapping of fd at offset off, with protection
// prot) by private anonymous memory holding the same bytes.
static int os_privatize_range(uintptr_t lo, uintptr_t hi, int prot, int fd,
                              off_t off) {
    size_t size = hi - lo;
    void *tmp = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (tmp == MAP_FAILED) {
        return -errno;
    }
    if (!(prot & PROT_READ) && mprotect((void *)lo, size, PROT_READ) != 0) {
        int e = errno;
        munmap(tmp, size);
        return -e;
    }
    copy_data_parts(tmp, lo, size, fd, off);
    if (prot != (PROT_READ | PROT_WRITE)) {
        (void)mprotect(tmp, size, prot);
    }
    if (mremap(tmp, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)lo) ==
        MAP_FAILED) {
        int e = errno;
        munmap(tmp, size);
        return -e;
    }
    return 0;
}
// One line of /proc/self/maps, "lo-hi perms offset major:minor inode ...",
// parsed with strtoul so that every field is checked (sscanf's %lx would
// accept garbage silently). perms receives the 4 flag characters.
static bool maps_line_parse(const char *s, unsigned long *lo, unsigned long *hi,
                            char perms[5], unsigned long *off,
                            unsigned long *maj, unsigned long *mnr,
                            unsigned long *ino) {
    char *e;
    errno = 0;
    *lo = strtoul(s, &e, 16);
    if (e == s || *e != '-') {
        return false;
    }
    s = e + 1;
    *hi = strtoul(s, &e, 16);
    if (e == s || *e != ' ') {
        return false;
    }
    s = e + 1;
    for (int k = 0; k < 4; k++) {
        if (!s[k] || s[k] == ' ') {
            return false;
        }
        perms[k] = s[k];
    }
    perms[4] = '\0';
    s += 4;
    *off = strtoul(s, &e, 16);
    if (e == s || *e != ' ') {
        return false;
    }
    s = e + 1;
    *maj = strtoul(s, &e, 16);
    if (e == s || *e != ':') {
        return false;
    }
    s = e + 1;
    *mnr = strtoul(s, &e, 16);
    if (e == s || *e != ' ') {
        return false;
    }
    s = e + 1;
    *ino = strtoul(s, &e, 10);
    return e != s && errno == 0;
}

int os_privatize_fd_mappings(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    int mfd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (mfd < 0) {
        return -errno;
    }
    // Read the whole list first: it changes as mappings are replaced.
    size_t cap = 1 << 20, len = 0;
    char *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        close(mfd);
        return -ENOMEM;
    }
    for (;;) {
        if (len == cap) {
            char *nb = mremap(buf, cap, cap * 2, MREMAP_MAYMOVE);
            if (nb == MAP_FAILED) {
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(mfd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    close(mfd);
    int ret = 0;
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && buf[end] != '\n') {
            end++;
        }
        // "lo-hi perms offset major:minor inode path"
        unsigned long lo, hi, off, maj, mnr, ino;
        char perms[5];
        buf[end < len ? end : len - 1] = '\0';
        if (maps_line_parse(buf + i, &lo, &hi, perms, &off, &maj, &mnr, &ino) &&
            perms[3] == 's' && ino == (unsigned long)st.st_ino &&
            makedev(maj, mnr) == st.st_dev) {
            int prot = (perms[0] == 'r' ? PROT_READ : 0) |
                       (perms[1] == 'w' ? PROT_WRITE : 0) |
                       (perms[2] == 'x' ? PROT_EXEC : 0);
            int r = os_privatize_range(lo, hi, prot, fd, (off_t)off);
            if (r && !ret) {
                ret = r;
            }
        }
        i = end + 1;
    }
    munmap(buf, cap);
    return ret;
}
