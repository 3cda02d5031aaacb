// The upurse QEMU board's boot, in place of the qemu port's main.c (which only offers a REPL):
// size the heap as the host asks (heap=N), run the frozen module `qemuboot` (mount the flash,
// read the boot's arguments), then the script it names in sys.argv, or else /main.py and the
// REPL, as a real board boots. QEMU exits with the script's status.

#include <stdlib.h>

#include "py/compile.h"
#include "py/gc.h"
#include "py/runtime.h"
#include "py/stackctrl.h"
#include "shared/runtime/gchelper.h"
#include "shared/runtime/pyexec.h"

size_t qemu_board_heap_size(size_t most);

static uint32_t gc_heap[MICROPY_HEAP_SIZE / sizeof(uint32_t)];

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    mp_cstack_init_with_sp_here(MICROPY_STACK_SIZE);
    gc_init(gc_heap, (char *)gc_heap + qemu_board_heap_size(MICROPY_HEAP_SIZE));
    mp_init();
    int status = pyexec_frozen_module("qemuboot.py", false);
    if (status == PYEXEC_NORMAL_EXIT) {
        size_t n;
        mp_obj_t *args;
        mp_obj_list_get(mp_sys_argv, &n, &args);
        if (n) {
            status = pyexec_file(mp_obj_str_get_str(args[0]));
        } else {
            status = pyexec_file_if_exists("main.py");
            while (!(status & PYEXEC_FORCED_EXIT)) {
                status = pyexec_mode_kind == PYEXEC_MODE_RAW_REPL ? pyexec_raw_repl()
                    : pyexec_friendly_repl();
            }
        }
    }
    exit(status & 0xff);
}

void gc_collect(void) {
    gc_collect_start();
    gc_helper_collect_regs_and_stack();
    gc_collect_end();
}

void nlr_jump_fail(void *val) {
    (void)val;
    mp_printf(&mp_plat_print, "uncaught NLR\n");
    exit(1);
}
