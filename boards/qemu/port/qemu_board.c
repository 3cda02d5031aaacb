// The upurse QEMU board's module `qemu_board`: what the firmware needs from the machine that
// the qemu port lacks, through ARM semihosting (QEMU runs with -semihosting):
//   cmdline()                    the boot's arguments (-semihosting-config arg=...)
//   seed(n)                      seed os.urandom (the host draws n per boot; a real board
//                                uses its hardware TRNG)
//   open(path) / readinto(fd, offset, buf) / write(fd, offset, buf) / erase(fd, offset, n)
//                                a host file as the flash chip's cells (see flash.py)

#include <string.h>

#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/runtime.h"

#define SYS_OPEN (0x01)
#define SYS_WRITE (0x05)
#define SYS_READ (0x06)
#define SYS_SEEK (0x0a)
#define SYS_GET_CMDLINE (0x15)
#define OPEN_MODE_READ_WRITE_BINARY (3) // "r+b": the host file exists, sized as the flash

static uint32_t semihost(uint32_t op, const void *args) {
    register uint32_t r0 __asm__ ("r0") = op;
    register const void *r1 __asm__ ("r1") = args;
    __asm__ __volatile__ ("bkpt 0xab" : "+r" (r0) : "r" (r1) : "memory");
    return r0;
}

// The command line, read once at boot (before the heap exists, for heap=N); room for long
// host paths: semihosting refuses a command line that does not fit, and the board would boot
// to its REPL instead of the script
static char cmdline[4096];

static const char *boot_cmdline(void) {
    static bool read;
    if (!read) {
        uint32_t args[2] = { (uint32_t)cmdline, sizeof(cmdline) - 1 };
        if (semihost(SYS_GET_CMDLINE, args) != 0) {
            cmdline[0] = 0;
        }
        read = true;
    }
    return cmdline;
}

size_t qemu_board_heap_size(size_t most) {
    const char *p = strstr(boot_cmdline(), "heap=");
    if (p == NULL) {
        return most;
    }
    size_t n = 0;
    for (p += 5; *p >= '0' && *p <= '9'; ++p) {
        n = n * 10 + (*p - '0');
    }
    if (*p == 'k' || *p == 'K') {
        n *= 1024;
    }
    return n >= 4096 && n <= most ? n : most;
}

static mp_obj_t board_cmdline(void) {
    return mp_obj_new_str(boot_cmdline(), strlen(boot_cmdline()));
}
static MP_DEFINE_CONST_FUN_OBJ_0(board_cmdline_obj, board_cmdline);

// xorshift64*: os.urandom's bytes, deterministic for a seed
static uint64_t random_state = 0x9e3779b97f4a7c15ull;

void qemu_board_random(size_t n, uint8_t *buf) {
    for (size_t i = 0; i < n; ++i) {
        random_state ^= random_state >> 12;
        random_state ^= random_state << 25;
        random_state ^= random_state >> 27;
        buf[i] = (uint8_t)((random_state * 0x2545f4914f6cdd1dull) >> 56);
    }
}

static mp_obj_t board_seed(mp_obj_t seed) {
    random_state = (uint64_t)mp_obj_get_int_truncated(seed) | 1;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(board_seed_obj, board_seed);

static mp_obj_t board_open(mp_obj_t path) {
    size_t len;
    const char *name = mp_obj_str_get_data(path, &len);
    uint32_t args[3] = { (uint32_t)name, OPEN_MODE_READ_WRITE_BINARY, len };
    int fd = (int)semihost(SYS_OPEN, args);
    if (fd < 0) {
        mp_raise_OSError(MP_ENOENT);
    }
    return MP_OBJ_NEW_SMALL_INT(fd);
}
static MP_DEFINE_CONST_FUN_OBJ_1(board_open_obj, board_open);

// Seek `fd` to `offset`, then read or write the whole of `buf`, or OSError(EIO)
static mp_obj_t transfer(mp_obj_t fd_in, mp_obj_t offset, mp_obj_t buf, mp_uint_t flags,
    uint32_t op) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(buf, &info, flags);
    uint32_t fd = mp_obj_get_int(fd_in);
    uint32_t seek[2] = { fd, mp_obj_get_int(offset) };
    uint32_t args[3] = { fd, (uint32_t)info.buf, info.len };
    if (semihost(SYS_SEEK, seek) != 0 || semihost(op, args) != 0) {
        mp_raise_OSError(MP_EIO);
    }
    return mp_const_none;
}

static mp_obj_t board_readinto(mp_obj_t fd, mp_obj_t offset, mp_obj_t buf) {
    return transfer(fd, offset, buf, MP_BUFFER_WRITE, SYS_READ);
}
static MP_DEFINE_CONST_FUN_OBJ_3(board_readinto_obj, board_readinto);

static mp_obj_t board_write(mp_obj_t fd, mp_obj_t offset, mp_obj_t buf) {
    return transfer(fd, offset, buf, MP_BUFFER_READ, SYS_WRITE);
}
static MP_DEFINE_CONST_FUN_OBJ_3(board_write_obj, board_write);

// Erase: n bytes of 0xff from a small buffer, so erasing a 4 KiB block takes no heap
static mp_obj_t board_erase(mp_obj_t fd_in, mp_obj_t offset, mp_obj_t length) {
    static const uint8_t erased[256] = { [0 ... 255] = 0xff };
    uint32_t fd = mp_obj_get_int(fd_in);
    uint32_t at = mp_obj_get_int(offset);
    uint32_t n = mp_obj_get_int(length);
    uint32_t seek[2] = { fd, at };
    if (semihost(SYS_SEEK, seek) != 0) {
        mp_raise_OSError(MP_EIO);
    }
    for (uint32_t done = 0; done < n; done += sizeof(erased)) {
        uint32_t chunk = n - done < sizeof(erased) ? n - done : sizeof(erased);
        uint32_t args[3] = { fd, (uint32_t)erased, chunk };
        if (semihost(SYS_WRITE, args) != 0) {
            mp_raise_OSError(MP_EIO);
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(board_erase_obj, board_erase);

// littlefs stamps files with the time (VfsLfs2 mtime): the board's clock since boot
uint64_t mp_hal_time_ns(void) {
    return (uint64_t)mp_hal_ticks_us() * 1000;
}

static const mp_rom_map_elem_t board_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_qemu_board) },
    { MP_ROM_QSTR(MP_QSTR_cmdline), MP_ROM_PTR(&board_cmdline_obj) },
    { MP_ROM_QSTR(MP_QSTR_seed), MP_ROM_PTR(&board_seed_obj) },
    { MP_ROM_QSTR(MP_QSTR_open), MP_ROM_PTR(&board_open_obj) },
    { MP_ROM_QSTR(MP_QSTR_readinto), MP_ROM_PTR(&board_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&board_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_erase), MP_ROM_PTR(&board_erase_obj) },
};
static MP_DEFINE_CONST_DICT(board_globals, board_globals_table);

const mp_obj_module_t qemu_board_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&board_globals,
};

MP_REGISTER_MODULE(MP_QSTR_qemu_board, qemu_board_module);
