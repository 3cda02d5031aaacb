"""A tap-time model of the reference rig: terminal board -> reader PN532 ~ air ~ card PN532 ->
card board, for each exchange that a flow actually sent.

Input: the exchanges in order (command and response APDU sizes, and where known the card's
instructions and flash programs/erases, the terminal's the same). Output: milliseconds split by
cause. Every figure and its source is in docs/performance.md; the code names the section.

    rig = Rig(board=ESP32, link=HSU, rate=106)
    t = tap_time(rig, exchanges)          # Breakdown: t.total, t.by_cause["air"], ...

The model is a sum along the critical path: nothing of one exchange overlaps the next, the
two readers are used one after the other, and what the chips do off that path (the card
board's next TgGetData, a TgSetData's own answer) is left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# -- ISO/IEC 14443 (docs/performance.md "Air") ----------------------------------------------
FC = 13.56e6  # carrier, Hz
RATES = (106, 212, 424)  # kbit/s: fc/128, fc/64, fc/32
FDT_MIN_S = 1172 / FC  # -3 §6.2.1: least frame delay between two frames (either way)
SFGI = 2  # the PN532 PICC's ATS TB(1) = 92h: SFGI 2, FWI 9
FWI = 9
FSC = 64  # its T0 = 75h: FSCI 5 -> the card side takes frames of 64 bytes (CIU FIFO)
FSD = 256  # the reader PN532's RATS E0 80: FSDI 8
BLOCK_OVERHEAD = 3  # PCB + CRC_A (2); no CID, no NAD (the PN532 reader sends neither)
R_BLOCK = 3  # R(ACK) for each chained block: PCB + CRC_A
WTX_BLOCK = 4  # S(WTX) request and response: PCB + WTXM/INF + CRC_A


def bit_time(rate: int) -> float:
    return {106: 128, 212: 64, 424: 32}[rate] / FC


def frame_air(n: int, rate: int) -> float:
    """A standard frame of n bytes: start bit, 8 data bits + odd parity per byte, end bit."""
    return (9 * n + 2) * bit_time(rate)


def short_frame_air(rate: int = 106) -> float:
    """REQA / WUPA: start, 7 bits, end."""
    return 9 * bit_time(rate)


def fwt() -> float:
    return 256 * 16 / FC * 2**FWI  # ISO/IEC 14443-4 §7.2: 154.7 ms at FWI 9


def sfgt() -> float:
    return 256 * 16 / FC * 2**SFGI  # after the ATS, before the first I-block: 1.21 ms


def blocks(n: int, frame_size: int) -> list[int]:
    """I-block frame sizes (bytes on air) carrying n bytes of APDU, chained (-4 §7.5.2)."""
    room = frame_size - BLOCK_OVERHEAD
    parts = [room] * (n // room) + ([n % room] if n % room or n == 0 else [])
    return [p + BLOCK_OVERHEAD for p in parts]


def air_message(n: int, frame_size: int, rate: int) -> tuple[float, int]:
    """(seconds, frames) to carry an APDU of n bytes one way: its I-blocks, and for each
    chained block an R(ACK) back, each frame after the least frame delay."""
    frames = blocks(n, frame_size)
    t = sum(frame_air(f, rate) + FDT_MIN_S for f in frames)
    acks = len(frames) - 1
    t += acks * (frame_air(R_BLOCK, rate) + FDT_MIN_S)
    return t, len(frames)


# -- PN532 host links (UM0701-02 §6.2) --------------------------------------------------------
ACK_FRAME = 6  # 00 00 FF 00 FF 00


def pn532_frame(pd: int) -> int:
    """Bytes of an information frame with pd bytes of PD0..PDn (§6.2.1.1-2): preamble, start
    code, LEN, LCS, TFI, PD, DCS, postamble; extended (3 more) above 254 PD bytes."""
    return 8 + pd + (3 if pd + 1 > 255 else 0)


@dataclass(frozen=True)
class Link:
    name: str
    seconds_per_byte: float
    read_overhead_bytes: int = 0  # SPI: direction byte; the driver also reads a fixed length
    read_length: int = 0  # SPI driver: bytes clocked per response read (its whole buffer)
    poll_s: float = 0.0  # SPI driver: mean wait for the ready bit (half its poll period)

    def write(self, frame: int) -> float:
        return (frame + self.read_overhead_bytes) * self.seconds_per_byte

    def read(self, frame: int, ack: bool = False) -> float:
        """One frame from the chip to the host, as the driver reads it."""
        if not self.read_length:
            return frame * self.seconds_per_byte
        length = 16 if ack else self.read_length  # pn532.py _ACK_READ, FRAME_MAX
        status = 2  # status read: direction byte + status byte
        return (status + 1 + length) * self.seconds_per_byte + self.poll_s


HSU_BAUD = 115200
HSU = Link("HSU 115200", 10 / HSU_BAUD)  # 8N1: 10 bit times per byte
SPI_HZ = 5_000_000
SPI = Link("SPI 5 MHz", 8 / SPI_HZ, read_overhead_bytes=1, read_length=275, poll_s=0.0005)
HSU_FAST = Link("HSU 921600", 10 / 921600)  # after SetSerialBaudRate (UM0701-02 §7.2.8)
LINKS = {"hsu": HSU, "spi": SPI, "hsu921k": HSU_FAST}

# PN532 firmware time per frame it passes between its host link and the air (and back).
# UM0701-02 and the datasheet give no figure: an assumption (docs/performance.md "PN532").
PN532_HANDLING_S = 0.001


# -- boards (docs/performance.md "Boards") ---------------------------------------------------
@dataclass(frozen=True)
class Flash:
    """NOR flash, datasheet typical figures."""

    name: str
    page: int = 256
    t_page_program: float = 0.4e-3  # tPP
    t_first_byte: float = 30e-6  # tBP1
    t_next_byte: float = 2.5e-6  # tBP2
    t_sector_erase: float = 45e-3  # tSE, 4 KB

    def program(self, n: int) -> float:
        """One program of n bytes within a page (littlefs programs never cross one)."""
        if n <= 0:
            return 0.0
        return min(self.t_page_program, self.t_first_byte + self.t_next_byte * (n - 1))


W25Q32JV = Flash("W25Q32JV")  # ESP32-WROOM-32 class modules: 4 MB QSPI NOR
W25Q16JV = Flash("W25Q16JV")  # Raspberry Pi Pico: W25Q16JVUXIQ


@dataclass(frozen=True)
class Board:
    name: str
    hz: float
    flash: Flash
    geometry: str  # littlefs geometry the flash counts came from (benchscripts/tap.py)


ESP32 = Board("ESP32", 240e6, W25Q32JV, "esp32")
RP2040 = Board("RP2040", 133e6, W25Q16JV, "rp2040")
BOARDS = {"esp32": ESP32, "rp2040": RP2040}


# -- exchanges and the sum -------------------------------------------------------------------
@dataclass
class Exchange:
    """One command APDU and its response, as recorded from a flow."""

    name: str
    cmd: int  # bytes of the command APDU
    rsp: int  # bytes of the response APDU, status word included
    card_instructions: int | None = None  # None: not measured
    card_flash: tuple[int, int, int] = (0, 0, 0)  # programs, bytes programmed, erases
    terminal_instructions: int | None = None
    terminal_flash: tuple[int, int, int] = (0, 0, 0)


CAUSES = ("host link", "PN532", "air", "card CPU", "card flash", "terminal CPU",
          "terminal flash", "activation")


@dataclass
class Breakdown:
    by_cause: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CAUSES, 0.0))
    per_exchange: list[tuple[str, float]] = field(default_factory=list)
    not_measured: set[str] = field(default_factory=set)  # causes with a missing input
    frames: int = 0  # frames on air, chaining and WTX included

    @property
    def total(self) -> float:
        return sum(self.by_cause.values())

    def ms(self) -> dict[str, float]:
        return {k: round(v * 1000, 3) for k, v in self.by_cause.items()}


@dataclass(frozen=True)
class Rig:
    board: Board = ESP32
    link: Link = HSU
    rate: int = 106
    handling: float = PN532_HANDLING_S


def flash_time(f: Flash, counts: tuple[int, int, int]) -> float:
    """Programs (spread evenly over their bytes) and erases."""
    programs, nbytes, erases = counts
    per = f.program(round(nbytes / programs)) if programs else 0.0
    return programs * per + erases * f.t_sector_erase


def exchange_parts(rig: Rig, x: Exchange) -> tuple[dict[str, float], int]:
    """Seconds by cause along one exchange's critical path, and its frames on air."""
    link, rate, h = rig.link, rig.rate, rig.handling
    host = (link.write(pn532_frame(2 + x.cmd))  # reader: InDataExchange 40 01 APDU
            + link.read(ACK_FRAME, ack=True)
            + link.read(pn532_frame(2 + x.cmd))  # card: TgGetData answer 87 00 APDU
            + link.write(pn532_frame(1 + x.rsp))  # card: TgSetData 8E APDU
            + link.read(ACK_FRAME, ack=True)
            + link.read(pn532_frame(2 + x.rsp)))  # reader: InDataExchange answer 41 00 APDU
    air_cmd, n_cmd = air_message(x.cmd, FSC, rate)
    air_rsp, n_rsp = air_message(x.rsp, FSD, rate)
    card_cpu = (x.card_instructions or 0) / rig.board.hz
    card_flash = flash_time(rig.board.flash, x.card_flash)
    # the card PN532 asks for more time (S(WTX)) each FWT the card board keeps it waiting;
    # the last such round trip may delay the answer: counted whole
    waiting = card_cpu + card_flash + link.read(pn532_frame(2 + x.cmd)) + link.write(
        pn532_frame(1 + x.rsp))
    wtx = int(waiting // fwt())
    air = air_cmd + air_rsp + (2 * (frame_air(WTX_BLOCK, rate) + FDT_MIN_S) if wtx else 0.0)
    # PN532 passes: reader out, card in (each chained block too), card out, reader in
    pn532 = h * (n_cmd + 1 + n_rsp + 1)
    parts = {"host link": host, "PN532": pn532, "air": air, "card CPU": card_cpu,
             "card flash": card_flash,
             "terminal CPU": (x.terminal_instructions or 0) / rig.board.hz,
             "terminal flash": flash_time(rig.board.flash, x.terminal_flash)}
    return parts, n_cmd + n_rsp + 2 * wtx + (n_cmd - 1) + (n_rsp - 1)


def activation(rig: Rig) -> float:
    """One reader finds and activates its card (the terminal's Reader.activate): InRelease,
    then InListPassiveTarget with the automatic RATS, at 106 kbit/s; PPS after it when the
    rig runs faster (ISO/IEC 14443-4 §5.3)."""
    link, h = rig.link, rig.handling
    t = link.write(pn532_frame(2)) + link.read(ACK_FRAME, ack=True) + link.read(
        pn532_frame(2)) + h  # InRelease 52 00 -> 53 00
    t += link.write(pn532_frame(3)) + link.read(ACK_FRAME, ack=True)  # 4A 01 00
    air = short_frame_air() + FDT_MIN_S + frame_air(2, 106) + FDT_MIN_S  # REQA, ATQA
    air += frame_air(2, 106) + FDT_MIN_S + frame_air(5, 106) + FDT_MIN_S  # ANTICOLLISION, UID
    air += frame_air(9, 106) + FDT_MIN_S + frame_air(3, 106) + FDT_MIN_S  # SELECT, SAK
    air += frame_air(4, 106) + FDT_MIN_S + frame_air(7, 106) + sfgt()  # RATS, ATS (TL 05)
    if rig.rate != 106:
        air += frame_air(5, 106) + FDT_MIN_S + frame_air(3, 106) + FDT_MIN_S  # PPS
    # answer: 4B NbTg Tg SENS_RES(2) SEL_RES NFCIDLength NFCID1(4) ATS(5)
    t += air + 2 * h + link.read(pn532_frame(16))
    return t


def tap_time(rig: Rig, exchanges: list[Exchange], readers: int = 2) -> Breakdown:
    """The modelled tap: `readers` activations, then every exchange in order."""
    out = Breakdown()
    out.by_cause["activation"] = readers * activation(rig)
    for x in exchanges:
        parts, frames = exchange_parts(rig, x)
        for k, v in parts.items():
            out.by_cause[k] += v
        out.frames += frames
        out.per_exchange.append((x.name, sum(parts.values())))
        if x.card_instructions is None:
            out.not_measured.add("card CPU")
        if x.terminal_instructions is None:
            out.not_measured.add("terminal CPU")
    return out
