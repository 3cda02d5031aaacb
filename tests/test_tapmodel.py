"""The tap-time model's arithmetic, checked against sums done by hand, and the recorder that
feeds it (real flows on MicroPython, real littlefs). No timing is measured here."""
import pytest

from upurse import bench_tap
from upurse.tapmodel import (
    ESP32,
    FC,
    HSU,
    RP2040,
    W25Q16JV,
    Exchange,
    Rig,
    activation,
    air_message,
    blocks,
    exchange_parts,
    flash_time,
    fwt,
    pn532_frame,
    tap_time,
)

BIT_106 = 128 / FC
FDT = 1172 / FC


def test_select_command_on_air_at_106():
    # SELECT by AID: 00 A4 04 00 08 <8-byte AID> 00 = 14 bytes; PCB + CRC_A make 17 on air
    t, frames = air_message(14, 64, 106)
    assert frames == 1
    assert t == pytest.approx((9 * 17 + 2) * BIT_106 + FDT)  # 1.463 ms + 86 us
    assert t * 1e3 == pytest.approx(1.5495, abs=1e-4)


def test_chaining_into_fsc_frames():
    # VALUE RX PERMISSION (73 bytes) to a card whose FSC is 64: 61 + 12 bytes of INF
    assert blocks(73, 64) == [64, 15]
    t, frames = air_message(73, 64, 106)
    assert frames == 2
    bits = (9 * 64 + 2) + (9 * 15 + 2) + (9 * 3 + 2)  # two I-blocks and the R(ACK)
    assert t == pytest.approx(bits * BIT_106 + 3 * FDT)
    assert blocks(61, 64) == [64]  # exactly one full frame: no empty second block


def test_higher_rates_shorten_bits_only():
    t106, _ = air_message(40, 256, 106)
    t424, _ = air_message(40, 256, 424)
    assert t424 - FDT == pytest.approx((t106 - FDT) / 4)


def test_pn532_frames_and_hsu_time():
    assert pn532_frame(16) == 24  # 00 00 FF LEN LCS D4 <16 PD> DCS 00
    assert pn532_frame(254) == 262 and pn532_frame(255) == 266  # extended frame above 255
    assert HSU.write(24) == pytest.approx(24 * 10 / 115200)


def test_flash_program_and_erase_times():
    f = W25Q16JV
    assert f.program(32) == pytest.approx(30e-6 + 31 * 2.5e-6)  # tBP1 + 31 tBP2
    assert f.program(256) == pytest.approx(0.4e-3)  # a whole page: tPP
    assert flash_time(f, (5, 416, 1)) == pytest.approx(5 * f.program(83) + 45e-3)
    assert flash_time(f, (0, 0, 0)) == 0


def test_one_exchange_by_hand():
    x = Exchange("SELECT", 14, 53, card_instructions=240_000, card_flash=(2, 64, 0))
    parts, frames = exchange_parts(Rig(ESP32, HSU, 106), x)
    uart_bytes = 24 + 6 + 24 + (8 + 54) + 6 + (8 + 55)  # the six host-link frames
    assert parts["host link"] == pytest.approx(uart_bytes * 10 / 115200)
    assert parts["card CPU"] == pytest.approx(1e-3)  # 240 k instructions at 240 MHz
    assert parts["card flash"] == pytest.approx(2 * (30e-6 + 31 * 2.5e-6))
    assert parts["PN532"] == pytest.approx(4e-3)  # four passes of 1 ms
    air = (9 * 17 + 2 + 9 * 56 + 2) * BIT_106 + 2 * FDT
    assert parts["air"] == pytest.approx(air)
    assert frames == 2


def test_waiting_longer_than_fwt_costs_a_wtx_round_trip():
    slow = Exchange("VALUE TX", 48, 26, card_instructions=0, card_flash=(0, 0, 4))  # 180 ms
    quick = Exchange("VALUE TX", 48, 26, card_instructions=0)
    rig = Rig(ESP32, HSU, 106)
    assert 4 * 45e-3 > fwt()
    extra = exchange_parts(rig, slow)[0]["air"] - exchange_parts(rig, quick)[0]["air"]
    assert extra == pytest.approx(2 * ((9 * 4 + 2) * BIT_106 + FDT))


def test_activation_adds_pps_above_106_and_tap_sums_causes():
    pps = (9 * 5 + 2 + 9 * 3 + 2) * BIT_106 + 2 * FDT
    assert activation(Rig(rate=212)) - activation(Rig(rate=106)) == pytest.approx(pps)
    xs = [Exchange("A", 14, 53), Exchange("B", 31, 44, card_instructions=133_000)]
    t = tap_time(Rig(RP2040, HSU, 106), xs)
    assert t.not_measured == {"card CPU", "terminal CPU"}  # A has no count: said, not guessed
    assert t.by_cause["card CPU"] == pytest.approx(1e-3)
    assert t.total == pytest.approx(sum(s for _, s in t.per_exchange) + 2 * activation(
        Rig(RP2040, HSU, 106)))


def test_recorded_flows_and_the_seeds_literal_flow():
    rec = bench_tap.record("esp32")
    flows = bench_tap.flows(rec, None)
    assert [len(flows[k]) for k in ("ours_roll_transfer", "literal_roll_transfer",
                                    "ours_transfer", "literal_transfer")] == [
        rec["settlement_exchanges_roll_transfer"], 11, rec["settlement_exchanges_transfer"], 8]
    literal = flows["literal_roll_transfer"]
    assert [x.rsp for x in literal[:2]] == [2, 2]  # S1001 answers a status word only
    assert [x.name.split()[0] for x in literal[2:5]] == [
        "GET_CARD_INFO", "GET_CARD_INFO", "KEY_UPDATE_PERMISSION"]
    assert not any(x.name.startswith("VALUE_TX_CONFIRM") for x in literal)
    # the sizes are what went over the air, and state-changing commands use the flash
    ours = {x.name.split()[0]: x for x in flows["ours_transfer"]}
    assert ours["SELECT"].cmd == 14 and ours["SELECT"].card_flash == (0, 0, 0)
    assert ours["VALUE_TX"].card_flash[0] > 0 and ours["VALUE_TX"].card_flash[1] > 0
    steady = rec["steady"]["VALUE_TX"]
    assert steady["calls"] == 12 and steady["card_flash"][2] >= 1  # 4 KB blocks fill: erases


def test_simulated_field_reports_modelled_time_per_exchange():
    import serial

    from upurse.rig.field import Field
    from upurse.rig.hsu import ACK, TFI_HOST, info_frame

    field = Field()
    try:
        path = field.add_reader("A")
        field.add_stub_card("card", respond=lambda apdu: b"\x01\x02\x90\x00")
        field.place("card", "A")
        field.start()
        port = serial.Serial(path, 115200, timeout=1.0)
        port.write(bytes.fromhex("5555") + bytes(14))
        for pd in ("14 01", "4A 01 00", "40 01 00A4040008F075707572736501 00"):
            port.write(info_frame(TFI_HOST, bytes.fromhex(pd)))
            assert port.read(6) == ACK
            head = port.read(5)
            port.read(head[3] + 2)
        port.close()
        (x,) = field.modelled()
        assert (x["reader"], x["card"], x["cmd"], x["rsp"]) == ("A", "card", 14, 4)
        by_hand = exchange_parts(Rig(), Exchange("a4", 14, 4))[0]
        assert x["ms"]["air"] == pytest.approx(by_hand["air"] * 1000)
        assert x["ms"]["card CPU"] == 0 and x["ms"]["host link"] > 0
    finally:
        field.stop()


def test_microcontroller_counts_fill_card_cpu():
    # the shape of upurse.bench_qemu.measure(): instructions summed per command and flow
    qemu = {"per_command": {
        "fast_roll_transfer": {"SELECT": {"count": 2, "instructions": 400_000},
                               "VALUE_TX": {"count": 1, "instructions": 900_000}},
        "fast_transfer": {"SELECT": {"count": 2, "instructions": 200_000}}}}
    counts = bench_tap.card_instructions(qemu)
    assert counts == {"SELECT": 150_000, "VALUE_TX": 900_000}  # per call, flows pooled
    assert bench_tap.card_instructions("not measured") is None
    xs = [Exchange("SELECT", 14, 53, counts["SELECT"]), Exchange("VALUE_TX", 48, 26,
                                                                 counts["VALUE_TX"])]
    t = tap_time(Rig(ESP32, HSU, 106), xs)
    assert t.by_cause["card CPU"] == pytest.approx(1_050_000 / 240e6)
    assert "card CPU" not in t.not_measured
