/* fs.c: what plain Lua cannot do with files, for `candidates sync` (lua/clinch/cli/state.lua):
 *
 *   core.fsync(path | file)        -> true | nil, message   a file's data (or a directory's entries) on disk
 *   core.truncate(path | file, n)  -> true | nil, message   cut a file to n bytes
 *   core.lock(path)                -> lock | nil, message [, pid]
 *   core.mode(path | file)         -> permission bits (0600) | nil, message   for a secret's file (clinch.config)
 *   core.ignore_sigpipe([on])      -> true    a write to a pipe whose reader left fails with EPIPE
 *                                             instead of killing the process (the CLI then ends quietly);
 *                                             on = false restores the default action
 *   core.EPIPE                     the errno value such a write reports (io.write's third result)
 *
 * A file is a Lua file handle (io.open); it is flushed first. A lock is an exclusive flock of the file,
 * created if missing, with the holder's pid written into it; lock:unlock() (also __gc, and __close on
 * 5.4) releases it, as the kernel does when the process dies, so the lock of a killed run never blocks
 * the next one. It keeps out every other lock of the file, in another process or in this one. When
 * another holds it, core.lock returns nil, "locked" and the holder's pid as the file says it (nil
 * when it says none).
 *
 * Failures of the OS come back as nil and "PATH: strerror" (just strerror for a file handle, whose
 * name the caller knows); only wrong argument types raise. */
#ifndef CLINCH_FS_C
#define CLINCH_FS_C

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "compat.h"

#define FS_LOCK_MT "clinch.lock"

typedef struct fs_lock {
    int fd;
} fs_lock;

static int fs_fail(lua_State *L, const char *path, int err) {
    lua_pushnil(L);
    if (path)
        lua_pushfstring(L, "%s: %s", path, strerror(err));
    else
        lua_pushstring(L, strerror(err));
    return 2;
}

/* core.fsync(path | file): for a path, opens it read-only (a directory too: its entries are what a
 * rename or a new file changed) and fsyncs it. A file that cannot be synchronized (EINVAL: a pipe, a
 * special file) counts as done. */
static int fs_l_fsync(lua_State *L) {
    FILE *f = compat_tofile(L, 1);
    if (f) {
        if (fflush(f) != 0) return fs_fail(L, NULL, errno);
        if (fsync(fileno(f)) != 0 && errno != EINVAL) return fs_fail(L, NULL, errno);
    } else {
        const char *path = luaL_checkstring(L, 1);
        int fd, err = 0;
        do fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY); while (fd < 0 && errno == EINTR);
        if (fd < 0) return fs_fail(L, path, errno);
        if (fsync(fd) != 0 && errno != EINVAL) err = errno;
        if (close(fd) != 0 && !err && errno != EINTR) err = errno;
        if (err) return fs_fail(L, path, err);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.truncate(path | file, size) */
static int fs_l_truncate(lua_State *L) {
    FILE *f = compat_tofile(L, 1);
    lua_Number n = luaL_checknumber(L, 2);
    off_t size;
    int rc;
    /* off_t is 64 bits here (glibc on 64-bit, or _FILE_OFFSET_BITS); 2^62 is beyond any file */
    if (!(n >= 0) || n != (lua_Number)(long long)n || n > 4611686018427387904.0)
        return luaL_argerror(L, 2, "size must be a non-negative integer");
    size = (off_t)(long long)n;
    if (f) {
        if (fflush(f) != 0) return fs_fail(L, NULL, errno);
        do rc = ftruncate(fileno(f), size); while (rc != 0 && errno == EINTR);
        if (rc != 0) return fs_fail(L, NULL, errno);
    } else {
        const char *path = luaL_checkstring(L, 1);
        do rc = truncate(path, size); while (rc != 0 && errno == EINTR);
        if (rc != 0) return fs_fail(L, path, errno);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.mode(path | file): the permission bits of a file (st_mode & 07777). For a file handle it is
 * fstat of the open descriptor, so the bits are those of the very file being read. */
static int fs_l_mode(lua_State *L) {
    FILE *f = compat_tofile(L, 1);
    struct stat st;
    if (f) {
        if (fstat(fileno(f), &st) != 0) return fs_fail(L, NULL, errno);
    } else {
        const char *path = luaL_checkstring(L, 1);
        if (stat(path, &st) != 0) return fs_fail(L, path, errno);
    }
    compat_pushint(L, st.st_mode & 07777);
    return 1;
}

/* The pid a lock file holds as text, or 0. */
static long fs_pid_in(int fd) {
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    long pid = 0;
    ssize_t i;
    if (n <= 0) return 0;
    for (i = 0; i < n && buf[i] >= '0' && buf[i] <= '9' && pid < 100000000L; i++) pid = pid * 10 + (buf[i] - '0');
    return pid;
}

/* core.lock(path): see the file comment. */
static int fs_l_lock_new(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    fs_lock *lk;
    int fd, err;
    /* The userdata exists before the descriptor does, so that nothing raised after open() (an
     * allocation failure) can leak it: __gc closes it. */
    lk = (fs_lock *)lua_newuserdata(L, sizeof *lk);
    lk->fd = -1;
    luaL_setmetatable(L, FS_LOCK_MT);
    do fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0666); while (fd < 0 && errno == EINTR);
    if (fd < 0) return fs_fail(L, path, errno);
    lk->fd = fd;
    /* flock, not fcntl: an fcntl lock belongs to the process, so a second core.lock in the same
     * process would be granted too, and closing any descriptor of the file (io.open of it, or the
     * other lock's unlock) would drop it. flock's belongs to this descriptor alone. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        err = errno;
        if (err == EWOULDBLOCK || err == EAGAIN) {
            long pid = fs_pid_in(fd);
            lk->fd = -1;
            close(fd);
            lua_pushnil(L);
            lua_pushliteral(L, "locked");
            if (pid > 0)
                compat_pushint(L, pid);
            else
                lua_pushnil(L);
            return 3;
        }
        lk->fd = -1;
        close(fd);
        return fs_fail(L, path, err);
    }
    {
        /* Who holds it, for a reader that cannot ask the kernel. Only informative: failing to write it
         * (a full disk) leaves the lock held all the same. */
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) == 0 && n > 0 && pwrite(fd, buf, (size_t)n, 0) < 0) { /* ignored */ }
    }
    return 1;
}

static fs_lock *fs_checklock(lua_State *L) {
    return (fs_lock *)luaL_checkudata(L, 1, FS_LOCK_MT);
}

/* lock:unlock(), __gc, __close: closing the descriptor releases the lock. Idempotent. The pid is
 * cleared first, while the lock is still held, so that the file never names a process that let go
 * (a contender reading it just after the next holder's flock, before its pid, finds none). */
static int fs_l_unlock(lua_State *L) {
    fs_lock *lk = fs_checklock(L);
    if (lk->fd >= 0) {
        int fd = lk->fd;
        lk->fd = -1;
        if (ftruncate(fd, 0) != 0) { /* ignored: the lock is released all the same */ }
        close(fd);
    }
    return 0;
}

static int fs_l_lock_held(lua_State *L) {
    lua_pushboolean(L, fs_checklock(L)->fd >= 0);
    return 1;
}

static int fs_l_lock_tostring(lua_State *L) {
    fs_lock *lk = fs_checklock(L);
    lua_pushstring(L, lk->fd >= 0 ? "clinch.lock (held)" : "clinch.lock (released)");
    return 1;
}

static int fs_l_ignore_sigpipe(lua_State *L) {
    (void)signal(SIGPIPE, lua_isnoneornil(L, 1) || lua_toboolean(L, 1) ? SIG_IGN : SIG_DFL);
    lua_pushboolean(L, 1);
    return 1;
}

static void fs_open(lua_State *L) {
    static const luaL_Reg fns[] = {{"fsync", fs_l_fsync},
                                   {"truncate", fs_l_truncate},
                                   {"lock", fs_l_lock_new},
                                   {"mode", fs_l_mode},
                                   {"ignore_sigpipe", fs_l_ignore_sigpipe},
                                   {NULL, NULL}};
    static const luaL_Reg meta[] = {
        {"__gc", fs_l_unlock},
#if LUA_VERSION_NUM >= 504
        {"__close", fs_l_unlock},
#endif
        {"__tostring", fs_l_lock_tostring},
        {NULL, NULL}};
    static const luaL_Reg methods[] = {{"unlock", fs_l_unlock}, {"held", fs_l_lock_held}, {NULL, NULL}};
    luaL_newmetatable(L, FS_LOCK_MT);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, FS_LOCK_MT);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
    luaL_setfuncs(L, fns, 0);
    lua_pushinteger(L, EPIPE);
    lua_setfield(L, -2, "EPIPE");
}

#endif
