# The upurse QEMU board: an ARM MPS2 with the AN386 image (Cortex-M4), on the qemu port.
# host/upurse/mpbuild.py copies the port, puts main.c over the port's own and builds with
# BOARD_DIR pointing here. Every switch below is something the firmware needs:
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an386

CFLAGS += -mthumb -mcpu=cortex-m4 -mfloat-abi=soft
CFLAGS += -DQEMU_SOC_MPS2 -DMICROPY_HW_MCU_NAME='"Cortex-M4"'
# Speed as the rp2 port builds it (host/upurse/mpbuild.py passes COPT=-O2): 20% fewer
# instructions than -Os on P-256
CFLAGS += -DMICROPY_OPT_COMPUTED_GOTO=1
LDSCRIPT = mcu/arm/mps2.ld
SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o
MPY_CROSS_FLAGS += -march=armv7emsp

# The most heap a boot may ask for (the host names the heap of each boot: heap=N); 4 MB of RAM
MICROPY_HEAP_SIZE = 2097152
MICROPY_STACK_SIZE = 16384

# the card's flash: littlefs on a block device (qemu_board.c keeps the blocks in a host file)
MICROPY_VFS_LFS2 = 1
# os.urandom, seeded per boot by the host (qemu_board.c); sys.exit(n) is the exit status
CFLAGS += -DMICROPY_PY_OS_URANDOM=1 -DMICROPY_PYEXEC_ENABLE_EXIT_CODE_HANDLING=1
$(BUILD)/extmod/modos.o: CFLAGS += -Dmp_hal_get_random=qemu_board_random

# cryptolib from axTLS's AES alone: the whole of MICROPY_PY_SSL does not build on bare metal
CFLAGS += -DMICROPY_PY_CRYPTOLIB=1 -DMICROPY_SSL_AXTLS=1 -I$(BOARD_DIR)/include
CFLAGS += -I$(TOP)/lib/axtls/ssl -I$(TOP)/lib/axtls/crypto -I$(TOP)/extmod/axtls-include
SRC_THIRDPARTY_C += lib/axtls/crypto/aes.c
$(BUILD)/lib/axtls/%.o: CFLAGS += -Wno-all -Wno-unused-parameter -Wno-sign-compare

SRC_C += qemu_board.c
