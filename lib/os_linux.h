/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * os_linux.h - the one place lib/ talks to the kernel. Every function returns
 * 0 (or a non-negative value) on success and -errno on failure, and never
 * allocates with the C allocator.
 */

#ifndef UMF_OS_LINUX_H
#define UMF_OS_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// --- Memory mappings ---
// Anonymous private mapping; *out receives the address.
int os_mmap_anon(size_t size, int prot, void **out);
// Mapping of fd at offset; with `fixed`, exactly at *inout (MAP_FIXED),
// else the kernel picks and *inout receives the address.
int os_mmap_fd(void **inout, size_t size, int prot, int fd, off_t offset,
               int fixed);
// As os_mmap_fd, with MAP_SHARED_VALIDATE | MAP_SYNC (a DAX file or device:
// stores reach persistence through CPU cache flushes alone); -EOPNOTSUPP
// or -EINVAL where the file cannot do it. With addr, exactly there
// (MAP_FIXED), else where the kernel picks; *out receives the address.
int os_mmap_fd_sync(void *addr, size_t size, int prot, int fd, off_t offset,
                    void **out);
// A private (copy-on-write) mapping of fd at offset, exactly at addr
// (MAP_FIXED), or anywhere when addr is NULL; *out receives the address.
int os_mmap_fd_private(void *addr, size_t size, int prot, int fd, off_t offset,
                       void **out);
int os_munmap(void *addr, size_t size);
int os_madvise(void *addr, size_t size, int advice);
size_t os_page_size(void);
// Converts UMF_PROTECTION_* bits to PROT_*; -EINVAL for unknown bits.
int os_prot_from_umf(unsigned umf_prot, int *prot);

// --- NUMA (mbind(2)) ---
// mode is an MPOL_* value; nodemask has maxnode bits.
int os_mbind(void *addr, size_t len, int mode, const unsigned long *nodemask,
             unsigned long maxnode, unsigned flags);

// --- File descriptors ---
int os_memfd_create(const char *name);
int os_memfd_secret(void);
// Creates a fresh POSIX shm object, mode 0600 (removes a stale one first).
int os_shm_create(const char *name);
int os_shm_open(const char *name);
int os_shm_unlink(const char *name);
// Opens another process's fd through /proc/<pid>/fd/<fd> (read-write):
// allowed for the same user whatever the Yama ptrace scope (it needs
// ptrace read access, not attach). An fd, or -errno.
int os_open_proc_fd(int pid, int fd);
int os_ftruncate(int fd, off_t size);
int os_close(int fd);
// open(2) with O_CLOEXEC added; the fd or -errno.
int os_open(const char *path, int flags, unsigned mode);
// posix_fallocate(3): the file covers [offset, offset+len) with allocated
// blocks afterwards.
int os_fallocate(int fd, off_t offset, off_t len);
// What fd is: 1 a character device, 2 a regular file, 0 anything else;
// *size (may be NULL) receives its st_size.
int os_fd_kind(int fd, uint64_t *size);
// pipe2(O_CLOEXEC): fds[0] reads, fds[1] writes.
int os_pipe(int fds[2]);
// Reads from fd until end of file (or an error other than EINTR).
void os_read_until_eof(int fd);
// True when /dev/shm/<name> is still the object open as fd.
int os_shm_is_fd(const char *name, int fd);
int os_open_append(const char *path);
// Reads at most len-1 bytes of a (small, e.g. sysfs) file into buf and
// terminates it: the byte count, or -errno.
int os_read_small_file(const char *path, char *buf, size_t len);
// Writes all of buf (retries short writes and EINTR).
int os_write_all(int fd, const void *buf, size_t len);

// --- IPC: files of other processes ---
// A pidfd for pid (pidfd_open(2), Linux >= 5.3), O_CLOEXEC.
int os_pidfd_open(int pid);
// A copy of the file descriptor targetfd of the process behind pidfd
// (pidfd_getfd(2), Linux >= 5.6; needs PTRACE_MODE_ATTACH_REALCREDS over
// it). The copy is O_CLOEXEC.
int os_pidfd_getfd(int pidfd, int targetfd);
// Identity of the file open as fd.
int os_fd_identity(int fd, uint64_t *dev, uint64_t *ino);
// Identity of fd, and 0 when it is a regular file of shared memory (tmpfs,
// hugetlbfs or memfd_secret), -EBADF for anything else.
int os_fd_shmem_identity(int fd, uint64_t *dev, uint64_t *ino);
// Yama's /proc/sys/kernel/yama/ptrace_scope (0-3), or -1 without Yama.
int os_ptrace_scope(void);

// --- Dynamic loading ---
// dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE): a library whose threads
// keep TLS destructors must never be unmapped. NULL on failure; then
// os_dlerror() says why (a static string, valid until the next dl call).
void *os_dlopen(const char *name);
void *os_dlsym(void *handle, const char *symbol);
// The symbol as the program's global namespace resolves it (RTLD_DEFAULT):
// set when the program links or preloads the library that defines it, or
// dlopen'ed it with RTLD_GLOBAL.
void *os_dlsym_global(const char *symbol);
int os_dlclose(void *handle);
const char *os_dlerror(void);

// --- Threads ---
// True when the calling thread is in glibc's last stage of thread exit,
// after its TSD destructors: glibc then blocks every signal, SIGCANCEL
// included, with a raw rt_sigprocmask before it frees the thread's (and
// other exited threads') TLS. A program cannot block SIGCANCEL through
// glibc's API, so a normal thread never looks like that. One system call.
bool os_thread_exiting(void);

// Registers for os_membarrier(); 0 when it can be used.
int os_membarrier_register(void);
// A full memory barrier on every running thread of the process
// (MEMBARRIER_CMD_PRIVATE_EXPEDITED). pre: os_membarrier_register() == 0.
int os_membarrier(void);
void os_yield(void);

// Replaces every shared mapping of the file fd in this process by a private
// copy (a fork child that must not share its heap). 0 or -errno (first error).
int os_privatize_fd_mappings(int fd);

// --- Process ---
// getenv that returns NULL for set-uid programs (secure_getenv).
const char *os_getenv(const char *name);
int os_getpid(void);
int os_gettid(void);
// RLIMIT_MEMLOCK is unlimited or the process may lock any amount.
int os_can_lock_unlimited(void);

#endif /* UMF_OS_LINUX_H */
