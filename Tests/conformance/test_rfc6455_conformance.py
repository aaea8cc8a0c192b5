"""RFC 6455 conformance, modeled on the Autobahn TestSuite (fuzzingclient) categories 1-10.

Every case runs against the echo route of the target (Petrel's embedded default, or
CONFORMANCE_TARGET). Case ids follow Autobahn's numbering where a case corresponds
(`case_5_6`), and extend it where Autobahn has no direct counterpart. Strictness: where RFC 6455
says the connection must be failed, a case passes only if the server sends a close frame with the
expected code (a bare TCP drop fails the case: RFC 6455 §7.4.1 and DESIGN §4 name the codes).

Category 10 (auto-fragmentation of outbound messages) is N/A in Autobahn's sense: Petrel never
fragments outbound messages. case_10_1_1 asserts exactly that instead.
Category 12/13 (permessage-deflate) are out of scope: Petrel negotiates no extensions.
"""
from __future__ import annotations

import os
import struct
import time

import pytest

from wsraw import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Eof, Frame,
                   build_frame, close_payload)

pytestmark = pytest.mark.timeout(20)

T = 3.0  # seconds any single expectation may take


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------

def read_until_close(ws, timeout: float = T) -> tuple[list[Frame], Frame | None, str]:
    """Frames received before the server's close frame, the close frame (or None), and how the
    read ended: 'close', 'eof' (TCP closed without a close frame) or 'timeout'."""
    before: list[Frame] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            f = ws.recv_frame(max(0.001, deadline - time.monotonic()))
        except Eof:
            return before, None, "eof"
        except TimeoutError:
            return before, None, "timeout"
        if f.opcode == OP_CLOSE:
            return before, f, "close"
        before.append(f)


def reply_close(ws, code: int | None = 1000):
    try:
        ws.send_close(code)
    except OSError:
        pass


def expect_failure(ws, code: int | set[int], before: list[tuple[int, bytes]] = (),
                   timeout: float = T):
    """The server must send exactly the frames `before` and then a close frame with `code`."""
    frames, close, how = read_until_close(ws, timeout)
    same = [(f.opcode, f.payload) for f in frames] == list(before)
    assert same, f"frames before close: {frames}; expected {len(before)} echo frame(s)"
    assert how == "close", f"expected close frame with {code}, got {how} (frames {frames})"
    codes = code if isinstance(code, set) else {code}
    assert close.close_code in codes, f"expected close {code}, got {close!r}"
    reply_close(ws, 1000)
    return close


def expect_echo(ws, opcode: int, payload: bytes, timeout: float = T):
    f = ws.recv_frame(timeout)
    assert f.opcode == opcode, f"expected opcode {opcode:#x}, got {f!r}"
    data = f.payload
    while not f.fin:
        f = ws.recv_frame(timeout)
        assert f.opcode == OP_CONT, f"expected continuation, got {f!r}"
        data += f.payload
    assert len(data) == len(payload), f"echo length {len(data)} != {len(payload)}"
    assert data == payload, "echo payload differs"


def expect_pong(ws, payload: bytes, timeout: float = T):
    f = ws.recv_frame(timeout)
    assert f.opcode == OP_PONG, f"expected pong, got {f!r}"
    assert f.payload == payload, f"pong payload {f.payload!r} != ping payload {payload!r}"
    assert f.fin


def clean_close(ws, code: int = 1000):
    """Client-initiated closing handshake: server echoes the code, then closes TCP."""
    ws.send_close(code)
    frames, close, how = read_until_close(ws)
    assert how == "close", f"no close frame in reply ({how}); frames {frames}"
    assert close.close_code == code, f"close reply {close!r}"
    assert ws.expect_eof(T), "server did not close TCP after the closing handshake"


def minimal_form(n: int) -> int:
    return 7 if n <= 125 else (16 if n <= 0xFFFF else 64)


def payload_of(n: int, text: bool) -> bytes:
    if text:
        return (b"*" * n)
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


# ---------------------------------------------------------------------------------------
# 1. Framing
# ---------------------------------------------------------------------------------------

SIZES = [(1, 0), (2, 125), (3, 126), (4, 127), (5, 128), (6, 65535), (7, 65536)]


@pytest.mark.parametrize("opcode,group", [(OP_TEXT, 1), (OP_BINARY, 2)], ids=["text", "binary"])
@pytest.mark.parametrize("n", [s for _, s in SIZES] + ["65536_chopped"],
                         ids=[f"case_1_x_{i}" for i, _ in SIZES] + ["case_1_x_8"])
def test_case_1_echo_lengths(ws, opcode, group, n):
    """1.1.x (text) / 1.2.x (binary): echo at 7-, 16- and 64-bit length forms; the server's
    frame must use the minimal length encoding (RFC 6455 §5.2)."""
    chopped = n == "65536_chopped"
    size = 65536 if chopped else n
    data = payload_of(size, opcode == OP_TEXT)
    frame = build_frame(opcode, data)
    if chopped:
        ws.send_split(frame, chunk=997)
    else:
        ws.send_raw(frame)
    f = ws.recv_frame()
    assert f.opcode == opcode and f.fin, f"{f!r}"
    assert f.payload == data
    assert f.length_form == minimal_form(size), \
        f"server used {f.length_form}-bit length for {size} bytes"
    clean_close(ws)


def test_case_1_3_1_length_msb_set(ws):
    """64-bit length with the most significant bit set (RFC 6455 §5.2: MUST be 0)."""
    hdr = struct.pack("!BBQ", 0x80 | OP_BINARY, 0x80 | 127, 1 << 63) + os.urandom(4)
    ws.send_raw(hdr + b"x" * 16)
    expect_failure(ws, {1002, 1009})


def test_case_1_3_2_text_then_binary_interleaved(ws):
    msgs = [(OP_TEXT, b"one"), (OP_BINARY, b"\x00\x01"), (OP_TEXT, b""), (OP_BINARY, b"")]
    ws.send_raw(b"".join(build_frame(op, p) for op, p in msgs))
    for op, p in msgs:
        expect_echo(ws, op, p)


# ---------------------------------------------------------------------------------------
# 2. Pings / Pongs
# ---------------------------------------------------------------------------------------

def test_case_2_1(ws):
    ws.send_frame(OP_PING, b"")
    expect_pong(ws, b"")


def test_case_2_2(ws):
    ws.send_frame(OP_PING, b"Hello, world!")
    expect_pong(ws, b"Hello, world!")


def test_case_2_3(ws):
    p = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
    ws.send_frame(OP_PING, p)
    expect_pong(ws, p)


def test_case_2_4(ws):
    p = b"\xfe" * 125
    ws.send_frame(OP_PING, p)
    expect_pong(ws, p)


def test_case_2_5_ping_126_bytes(ws):
    """Control frame payload > 125 bytes: protocol error."""
    ws.send_frame(OP_PING, b"\xfe" * 126)
    expect_failure(ws, 1002)


def test_case_2_6_ping_125_chopped(ws):
    p = b"\xfe" * 125
    ws.send_split(build_frame(OP_PING, p), chunk=1, delay=0.001)
    expect_pong(ws, p)


def test_case_2_7_unsolicited_pong_empty(ws):
    ws.send_frame(OP_PONG, b"")
    ws.send_text("after pong")
    expect_echo(ws, OP_TEXT, b"after pong")  # nothing (no pong, no close) before the echo


def test_case_2_8_unsolicited_pong_payload(ws):
    ws.send_frame(OP_PONG, b"unsolicited pong payload")
    ws.send_text("after pong")
    expect_echo(ws, OP_TEXT, b"after pong")


def test_case_2_9_unsolicited_pong_then_ping(ws):
    ws.send_raw(build_frame(OP_PONG, b"unsolicited pong payload") +
                build_frame(OP_PING, b"ping payload"))
    expect_pong(ws, b"ping payload")
    ws.send_text("x")
    expect_echo(ws, OP_TEXT, b"x")


def test_case_2_10_ten_pings(ws):
    ws.send_raw(b"".join(build_frame(OP_PING, f"payload-{i}".encode()) for i in range(10)))
    for i in range(10):
        expect_pong(ws, f"payload-{i}".encode())


def test_case_2_11_ten_pings_chopped(ws):
    for i in range(10):
        ws.send_split(build_frame(OP_PING, f"payload-{i}".encode()), chunk=1, delay=0.0005)
    for i in range(10):
        expect_pong(ws, f"payload-{i}".encode())


PING_SIZES = [0, 1, 2, 3, 4, 5, 63, 64, 65, 100, 124, 125]


@pytest.mark.parametrize("n", PING_SIZES, ids=[f"case_2_12_{i + 1}" for i in range(len(PING_SIZES))])
def test_case_2_12_ping_payload_sizes(ws, n):
    p = bytes((i * 13) & 0xFF for i in range(n))
    ws.send_frame(OP_PING, p)
    expect_pong(ws, p)


# ---------------------------------------------------------------------------------------
# 3. Reserved bits (no extension negotiated: any RSV bit fails the connection)
# ---------------------------------------------------------------------------------------

def test_case_3_1(ws):
    ws.send_frame(OP_TEXT, b"Hello, world!", rsv=1)
    expect_failure(ws, 1002)


def test_case_3_2(ws):
    ws.send_text("Hello, world!")
    expect_echo(ws, OP_TEXT, b"Hello, world!")
    ws.send_frame(OP_TEXT, b"Hello, world!", rsv=2)
    ws.send_frame(OP_PING, b"")
    expect_failure(ws, 1002)  # no pong: the connection is failed at the RSV frame


def test_case_3_3(ws):
    ws.send_raw(build_frame(OP_TEXT, b"Hello, world!") +
                build_frame(OP_TEXT, b"Hello, world!", rsv=3) + build_frame(OP_PING, b""))
    expect_failure(ws, 1002, before=[(OP_TEXT, b"Hello, world!")])


def test_case_3_4(ws):
    data = (build_frame(OP_TEXT, b"Hello, world!") +
            build_frame(OP_TEXT, b"Hello, world!", rsv=4) + build_frame(OP_PING, b""))
    ws.send_split(data, chunk=1, delay=0.0005, stop_on_readable=False)
    expect_failure(ws, 1002, before=[(OP_TEXT, b"Hello, world!")])


def test_case_3_5(ws):
    ws.send_frame(OP_BINARY, bytes(range(8)), rsv=5)
    expect_failure(ws, 1002)


def test_case_3_6(ws):
    ws.send_frame(OP_PING, b"Hello, world!", rsv=6)
    expect_failure(ws, 1002)


def test_case_3_7(ws):
    ws.send_frame(OP_CLOSE, close_payload(1000), rsv=7)
    expect_failure(ws, 1002)


def test_case_3_8_rsv_on_continuation(ws):
    ws.send_raw(build_frame(OP_TEXT, b"frag1", fin=False) +
                build_frame(OP_CONT, b"frag2", fin=True, rsv=1))
    expect_failure(ws, 1002)


# ---------------------------------------------------------------------------------------
# 4. Reserved opcodes
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7], ids=[f"case_4_1_{i}" for i in range(1, 6)])
def test_case_4_1_reserved_non_control(ws, opcode):
    ws.send_raw(build_frame(OP_TEXT, b"Hello, world!") +
                build_frame(opcode, b"reserved" if opcode % 2 else b"") + build_frame(OP_PING, b""))
    expect_failure(ws, 1002, before=[(OP_TEXT, b"Hello, world!")])


@pytest.mark.parametrize("opcode", [0xB, 0xC, 0xD, 0xE, 0xF], ids=[f"case_4_2_{i}" for i in range(1, 6)])
def test_case_4_2_reserved_control(ws, opcode):
    ws.send_raw(build_frame(OP_TEXT, b"Hello, world!") +
                build_frame(opcode, b"reserved" if opcode % 2 else b"") + build_frame(OP_PING, b""))
    expect_failure(ws, 1002, before=[(OP_TEXT, b"Hello, world!")])


# ---------------------------------------------------------------------------------------
# 5. Fragmentation
# ---------------------------------------------------------------------------------------

def _send_frames(ws, frames: list[bytes], mode: str):
    """mode: 'one' = one write, 'frame' = one write per frame with a short pause,
    'octet' = one write per byte."""
    if mode == "one":
        ws.send_raw(b"".join(frames))
    elif mode == "frame":
        for fr in frames:
            ws.send_raw(fr)
            time.sleep(0.02)
    else:
        ws.send_split(b"".join(frames), chunk=1, delay=0.0002)


def test_case_5_1_fragmented_ping(ws):
    ws.send_raw(build_frame(OP_PING, b"fragment1", fin=False) + build_frame(OP_CONT, b"fragment2"))
    expect_failure(ws, 1002)


def test_case_5_2_fragmented_pong(ws):
    ws.send_raw(build_frame(OP_PONG, b"fragment1", fin=False) + build_frame(OP_CONT, b"fragment2"))
    expect_failure(ws, 1002)


@pytest.mark.parametrize("mode", ["one", "frame", "octet"], ids=["case_5_3", "case_5_4", "case_5_5"])
def test_case_5_3_text_two_fragments(ws, mode):
    _send_frames(ws, [build_frame(OP_TEXT, b"fragment1", fin=False),
                      build_frame(OP_CONT, b"fragment2")], mode)
    expect_echo(ws, OP_TEXT, b"fragment1fragment2")


@pytest.mark.parametrize("mode", ["one", "frame", "octet"], ids=["case_5_6", "case_5_7", "case_5_8"])
def test_case_5_6_ping_between_fragments(ws, mode):
    _send_frames(ws, [build_frame(OP_TEXT, b"fragment1", fin=False),
                      build_frame(OP_PING, b"ping payload"),
                      build_frame(OP_CONT, b"fragment2")], mode)
    expect_pong(ws, b"ping payload")
    expect_echo(ws, OP_TEXT, b"fragment1fragment2")


@pytest.mark.parametrize("mode", ["one", "frame", "octet"], ids=["case_5_9", "case_5_10", "case_5_11"])
def test_case_5_9_continuation_fin_without_start(ws, mode):
    _send_frames(ws, [build_frame(OP_CONT, b"non-continuation payload"),
                      build_frame(OP_TEXT, b"Hello, world!")], mode)
    expect_failure(ws, 1002)


@pytest.mark.parametrize("mode", ["one", "frame", "octet"], ids=["case_5_12", "case_5_13", "case_5_14"])
def test_case_5_12_continuation_nofin_without_start(ws, mode):
    _send_frames(ws, [build_frame(OP_CONT, b"non-continuation payload", fin=False),
                      build_frame(OP_TEXT, b"Hello, world!")], mode)
    expect_failure(ws, 1002)


@pytest.mark.parametrize("mode", ["one", "octet"], ids=["case_5_15", "case_5_15_octet"])
def test_case_5_15_stray_continuation_after_message(ws, mode):
    _send_frames(ws, [build_frame(OP_TEXT, b"fragment1", fin=False),
                      build_frame(OP_CONT, b"fragment2"),
                      build_frame(OP_CONT, b"fragment3", fin=False),
                      build_frame(OP_TEXT, b"fragment4")], mode)
    expect_failure(ws, 1002, before=[(OP_TEXT, b"fragment1fragment2")])


@pytest.mark.parametrize("first_fin", [False, True], ids=["case_5_16", "case_5_17"])
def test_case_5_16_repeated_stray_continuations(ws, first_fin):
    seq = [build_frame(OP_CONT, b"fragment1", fin=first_fin),
           build_frame(OP_TEXT, b"fragment2", fin=False),
           build_frame(OP_CONT, b"fragment3")]
    ws.send_raw(b"".join(seq * 2))
    expect_failure(ws, 1002)


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["case_5_18", "case_5_18_binary"])
def test_case_5_18_new_message_during_fragmentation(ws, opcode):
    ws.send_raw(build_frame(OP_TEXT, b"fragment1", fin=False) + build_frame(opcode, b"fragment2"))
    expect_failure(ws, 1002)


@pytest.mark.parametrize("mode", ["frame", "octet"], ids=["case_5_19", "case_5_20"])
def test_case_5_19_many_fragments_with_pings_and_delays(ws, mode):
    parts = [b"fragment1", b"fragment2", b"fragment3", b"fragment4", b"fragment5"]
    frames = [build_frame(OP_TEXT, parts[0], fin=False), build_frame(OP_CONT, parts[1], fin=False),
              build_frame(OP_PING, b"pongme 1!")]
    _send_frames(ws, frames, mode)
    expect_pong(ws, b"pongme 1!")  # pong arrives while the message is still open
    time.sleep(0.2)
    frames = [build_frame(OP_CONT, parts[2], fin=False), build_frame(OP_CONT, parts[3], fin=False),
              build_frame(OP_PING, b"pongme 2!"), build_frame(OP_CONT, parts[4])]
    _send_frames(ws, frames, mode)
    expect_pong(ws, b"pongme 2!")
    expect_echo(ws, OP_TEXT, b"".join(parts))


def test_case_5_21_binary_three_fragments(ws):
    parts = [bytes(range(256)), b"", bytes(range(255, -1, -1))]
    ws.send_raw(build_frame(OP_BINARY, parts[0], fin=False) + build_frame(OP_CONT, parts[1], fin=False)
                + build_frame(OP_CONT, parts[2]))
    expect_echo(ws, OP_BINARY, b"".join(parts))


def test_case_5_22_fragmented_close(ws):
    ws.send_raw(build_frame(OP_CLOSE, close_payload(1000), fin=False) + build_frame(OP_CONT, b"xx"))
    expect_failure(ws, 1002)


def test_case_5_23_control_frame_fin_zero_inside_message(ws):
    ws.send_raw(build_frame(OP_TEXT, b"fragment1", fin=False) +
                build_frame(OP_PING, b"p", fin=False) + build_frame(OP_CONT, b"fragment2"))
    expect_failure(ws, 1002)


def test_case_5_24_echo_is_one_unfragmented_frame(ws):
    """A fragmented message is delivered to the route whole and echoed as one frame."""
    ws.send_raw(build_frame(OP_TEXT, b"a" * 1000, fin=False) + build_frame(OP_CONT, b"b" * 1000, fin=False)
                + build_frame(OP_CONT, b"c" * 1000))
    f = ws.recv_frame()
    assert f.opcode == OP_TEXT and f.fin, f"{f!r}"
    assert f.payload == b"a" * 1000 + b"b" * 1000 + b"c" * 1000


# ---------------------------------------------------------------------------------------
# 6. UTF-8 handling
# ---------------------------------------------------------------------------------------

KOSME = "κόσμε".encode()
HELLO_UTF8 = "Hello-µ@ßöäüàá-UTF-8!!".encode()


def test_case_6_1_1_empty_text(ws):
    ws.send_text(b"")
    expect_echo(ws, OP_TEXT, b"")


def test_case_6_1_2_empty_fragments(ws):
    ws.send_raw(build_frame(OP_TEXT, b"", fin=False) + build_frame(OP_CONT, b"", fin=False)
                + build_frame(OP_CONT, b""))
    expect_echo(ws, OP_TEXT, b"")


def test_case_6_1_3_empty_middle_empty(ws):
    ws.send_raw(build_frame(OP_TEXT, b"", fin=False) + build_frame(OP_CONT, b"middle frame payload", fin=False)
                + build_frame(OP_CONT, b""))
    expect_echo(ws, OP_TEXT, b"middle frame payload")


def _fragments(data: bytes, size: int) -> bytes:
    chunks = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
    out = b""
    for i, c in enumerate(chunks):
        out += build_frame(OP_TEXT if i == 0 else OP_CONT, c, fin=(i == len(chunks) - 1))
    return out


@pytest.mark.parametrize("data,frag", [
    (HELLO_UTF8, None), (HELLO_UTF8, 11), (HELLO_UTF8, 1), (KOSME, 1),
    ("😀 U+1F600 and 𝄞".encode(), 1), ("😀".encode(), 2),
], ids=["case_6_2_1", "case_6_2_2", "case_6_2_3", "case_6_2_4", "case_6_2_5", "case_6_2_6"])
def test_case_6_2_valid_utf8_fragmented(ws, data, frag):
    """Valid UTF-8, also with code points split across fragment boundaries."""
    ws.send_raw(build_frame(OP_TEXT, data) if frag is None else _fragments(data, frag))
    expect_echo(ws, OP_TEXT, data)


def test_case_6_2_7_split_codepoint_with_pause(ws):
    """A fragment ending in the valid prefix of a code point is not an error; the message is
    completed later."""
    ws.send_frame(OP_TEXT, b"ab\xf0\x9f", fin=False)
    time.sleep(0.5)
    ws.send_frame(OP_CONT, b"\x98\x80cd")
    expect_echo(ws, OP_TEXT, "ab😀cd".encode())


@pytest.mark.parametrize("frag", [None, 1], ids=["case_6_3_1", "case_6_3_2"])
def test_case_6_3_invalid_utf8(ws, frag):
    data = KOSME + b"\xed\xa0\x80" + b"edited"
    ws.send_raw(build_frame(OP_TEXT, data) if frag is None else _fragments(data, frag))
    expect_failure(ws, 1007)


@pytest.mark.petrel_only
def test_case_6_4_1_fail_fast_first_fragment(ws):
    """Invalid byte in the FIRST fragment; later fragments are never sent: close 1007 promptly."""
    ws.send_frame(OP_TEXT, KOSME + b"\xf4\x90\x80\x80" + b"more", fin=False)
    expect_failure(ws, 1007, timeout=2.0)


@pytest.mark.petrel_only
def test_case_6_4_2_fail_fast_second_fragment(ws):
    ws.send_frame(OP_TEXT, KOSME, fin=False)
    time.sleep(0.1)
    ws.send_frame(OP_CONT, b"\xf4\x90\x80\x80", fin=False)
    expect_failure(ws, 1007, timeout=2.0)


@pytest.mark.petrel_only
def test_case_6_4_3_fail_fast_inside_large_frame_paused(ws):
    """Header announces 64000 bytes; the first 1000 contain an invalid byte; the rest is never
    sent. The server must fail with 1007 without waiting for the frame to complete."""
    total = 64000
    payload = KOSME + b"\xc0\xaf" + b"a" * (total - len(KOSME) - 2)
    frame = build_frame(OP_TEXT, payload)
    header_len = len(frame) - total
    ws.send_raw(frame[:header_len + 1000])
    expect_failure(ws, 1007, timeout=2.0)


@pytest.mark.petrel_only
def test_case_6_4_4_fail_fast_inside_large_frame_trickled(ws):
    """Same, but the rest of the frame trickles in slowly; the close must come first."""
    total = 64000
    payload = b"abc" + b"\xff" + b"a" * (total - 4)
    frame = build_frame(OP_TEXT, payload)
    sent = ws.send_split(frame, chunk=512, delay=0.01, stop_on_readable=True)
    assert sent < len(frame), "server did not react before the whole frame was sent"
    expect_failure(ws, 1007, timeout=2.0)


VALID_SEQS = [
    ("nul", b"\x00"), ("u007f", b"\x7f"), ("u0080", b"\xc2\x80"), ("u07ff", b"\xdf\xbf"),
    ("u0800", b"\xe0\xa0\x80"), ("ud7ff", b"\xed\x9f\xbf"), ("ue000", b"\xee\x80\x80"),
    ("ufffd", b"\xef\xbf\xbd"), ("ufffe_nonchar", b"\xef\xbf\xbe"), ("uffff_nonchar", b"\xef\xbf\xbf"),
    ("ufdd0_nonchar", b"\xef\xb7\x90"), ("u10000", b"\xf0\x90\x80\x80"),
    ("u10ffff", b"\xf4\x8f\xbf\xbf"), ("u1fffe_nonchar", b"\xf0\x9f\xbf\xbe"), ("kosme", KOSME),
]

INVALID_SEQS = [
    ("lone_cont_80", b"\x80"), ("lone_cont_bf", b"\xbf"), ("two_conts", b"\x80\xbf"),
    ("kosme_then_cont", KOSME + b"\x80"),
    ("overlong_nul_c080", b"\xc0\x80"), ("overlong_c1bf", b"\xc1\xbf"), ("overlong_slash_c0af", b"\xc0\xaf"),
    ("overlong_e08080", b"\xe0\x80\x80"), ("overlong_e09fbf", b"\xe0\x9f\xbf"),
    ("overlong_f0808080", b"\xf0\x80\x80\x80"), ("overlong_f08fbfbf", b"\xf0\x8f\xbf\xbf"),
    ("above_10ffff", b"\xf4\x90\x80\x80"), ("f5", b"\xf5\x80\x80\x80"),
    ("five_byte", b"\xf8\x88\x80\x80\x80"), ("six_byte", b"\xfc\x84\x80\x80\x80\x80"),
    ("fe", b"\xfe"), ("ff", b"\xff"), ("fefeffff", b"\xfe\xfe\xff\xff"),
    ("surrogate_d800", b"\xed\xa0\x80"), ("surrogate_db7f", b"\xed\xad\xbf"),
    ("surrogate_dc00", b"\xed\xb0\x80"), ("surrogate_dfff", b"\xed\xbf\xbf"),
    ("surrogate_pair", b"\xed\xa0\x80\xed\xb0\x80"),
    ("truncated_2_at_end", b"abc\xc2"), ("truncated_3_at_end", b"abc\xe0\xa0"),
    ("truncated_4_at_end", b"abc\xf0\x90\x80"), ("kosme_truncated", KOSME + b"\xce"),
    ("truncated_2_in_middle", b"\xc2\x41"), ("truncated_3_in_middle", b"\xe0\xa0\x41"),
    ("lone_c0", b"\xc0"), ("c0_space", b"\xc0 "),
]


@pytest.mark.parametrize("data", [d for _, d in VALID_SEQS],
                         ids=[f"case_6_5_{i + 1}_{n}" for i, (n, _) in enumerate(VALID_SEQS)])
def test_case_6_5_valid_sequences(ws, data):
    ws.send_text(data)
    expect_echo(ws, OP_TEXT, data)


@pytest.mark.parametrize("data", [d for _, d in INVALID_SEQS],
                         ids=[f"case_6_6_{i + 1}_{n}" for i, (n, _) in enumerate(INVALID_SEQS)])
def test_case_6_6_invalid_sequences(ws, data):
    ws.send_text(data)
    expect_failure(ws, 1007)


@pytest.mark.parametrize("data", [d for n, d in INVALID_SEQS if "truncated_" in n and "at_end" in n],
                         ids=["case_6_7_1", "case_6_7_2", "case_6_7_3"])
def test_case_6_7_truncated_at_end_of_fragmented_message(ws, data):
    """A code point cut off by the end of the message (last fragment) is invalid."""
    ws.send_raw(build_frame(OP_TEXT, data[:2], fin=False) + build_frame(OP_CONT, data[2:]))
    expect_failure(ws, 1007)


def test_case_6_8_binary_is_not_validated(ws):
    data = b"\xff\xfe\xc0\xaf\xed\xa0\x80"
    ws.send_binary(data)
    expect_echo(ws, OP_BINARY, data)


# ---------------------------------------------------------------------------------------
# 7. Close handling
# ---------------------------------------------------------------------------------------

def test_case_7_1_1_echo_then_close(ws):
    ws.send_text("Hello World!")
    expect_echo(ws, OP_TEXT, b"Hello World!")
    clean_close(ws, 1000)


def test_case_7_1_2_close_twice(ws):
    ws.send_raw(build_frame(OP_CLOSE, close_payload(1000)) + build_frame(OP_CLOSE, close_payload(1000)))
    frames, close, how = read_until_close(ws)
    assert how == "close" and close.close_code == 1000, f"{how} {close!r}"
    assert ws.expect_eof(T), "no EOF after the closing handshake"
    assert [f for f in ws.received if f.opcode == OP_CLOSE] == [close], "more than one close frame"
    assert not frames


def test_case_7_1_3_ping_after_close(ws):
    ws.send_raw(build_frame(OP_CLOSE, close_payload(1000)) + build_frame(OP_PING, b"Hello World!"))
    frames, close, how = read_until_close(ws)
    assert how == "close" and close.close_code == 1000, f"{how} {close!r}"
    assert ws.expect_eof(T)
    assert all(f.opcode == OP_CLOSE for f in ws.received), f"frames after close: {ws.received}"


def test_case_7_1_4_text_after_close(ws):
    """Data after the client's close frame is ignored."""
    ws.send_raw(build_frame(OP_CLOSE, close_payload(1000)) + build_frame(OP_TEXT, b"Hello World!"))
    frames, close, how = read_until_close(ws)
    assert how == "close" and close.close_code == 1000, f"{how} {close!r}"
    assert ws.expect_eof(T)
    assert all(f.opcode == OP_CLOSE for f in ws.received), f"frames after close: {ws.received}"


def test_case_7_1_5_close_during_fragmented_message(ws):
    ws.send_raw(build_frame(OP_TEXT, b"fragment1", fin=False) + build_frame(OP_CLOSE, close_payload(1000)))
    frames, close, how = read_until_close(ws)
    assert not frames, f"unexpected frames {frames}"
    assert how == "close" and close.close_code == 1000, f"{how} {close!r}"
    assert ws.expect_eof(T)


def test_case_7_1_6_large_message_then_close(ws):
    data = b"BAsd7&jh23" * 10000
    ws.send_raw(build_frame(OP_TEXT, data) + build_frame(OP_PING, b"ping") + build_frame(OP_CLOSE, close_payload(1000)))
    expect_echo(ws, OP_TEXT, data)
    expect_pong(ws, b"ping")
    frames, close, how = read_until_close(ws)
    assert how == "close" and close.close_code == 1000, f"{how} {close!r} {frames}"


def test_case_7_3_1_close_empty_payload(ws):
    ws.send_frame(OP_CLOSE, b"")
    frames, close, how = read_until_close(ws)
    assert how == "close", how
    assert close.payload == b"" or close.close_code == 1000, f"{close!r}"
    assert ws.expect_eof(T)


def test_case_7_3_2_close_one_byte_payload(ws):
    ws.send_frame(OP_CLOSE, b"\x03")
    expect_failure(ws, 1002)


def test_case_7_3_3_close_code_only(ws):
    clean_close(ws, 1000)


def test_case_7_3_4_close_with_reason(ws):
    ws.send_close(1000, b"Hello World!")
    frames, close, how = read_until_close(ws)
    assert how == "close" and close.close_code == 1000, f"{how} {close!r}"


def test_case_7_3_5_close_reason_123_bytes(ws):
    ws.send_close(1000, b"*" * 123)
    frames, close, how = read_until_close(ws)
    assert how == "close" and close.close_code == 1000, f"{how} {close!r}"


def test_case_7_3_6_close_reason_124_bytes(ws):
    """Close payload of 126 bytes: control frame too long."""
    ws.send_close(1000, b"*" * 124)
    expect_failure(ws, 1002)


def test_case_7_5_1_close_reason_invalid_utf8(ws):
    ws.send_close(1000, KOSME + b"\xed\xa0\x80" + b"edited")
    expect_failure(ws, 1007)


VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


@pytest.mark.parametrize("code", VALID_CODES, ids=[f"case_7_7_{i + 1}_{c}" for i, c in enumerate(VALID_CODES)])
def test_case_7_7_valid_close_code_echoed(ws, code):
    clean_close(ws, code)


@pytest.mark.parametrize("code", INVALID_CODES, ids=[f"case_7_9_{i + 1}_{c}" for i, c in enumerate(INVALID_CODES)])
def test_case_7_9_invalid_close_code(ws, code):
    ws.send_close(code)
    expect_failure(ws, 1002)


def test_case_7_10_1_eof_after_client_initiated_close(ws):
    """After the closing handshake the server closes the TCP connection (RFC 6455 §7.1.1:
    the server SHOULD close first); the client never closes its socket here."""
    ws.send_close(1000)
    frames, close, how = read_until_close(ws)
    assert how == "close", how
    assert ws.expect_eof(T), "server kept TCP open after the closing handshake"


def test_case_7_10_2_eof_after_protocol_error_close(ws):
    """Server-initiated close (protocol error): after the client's close reply, TCP ends."""
    ws.send_frame(OP_TEXT, b"x", rsv=1)
    frames, close, how = read_until_close(ws)
    assert how == "close" and close.close_code == 1002, f"{how} {close!r}"
    reply_close(ws, 1002)
    assert ws.expect_eof(T), "server kept TCP open after the closing handshake"


def test_case_7_10_3_close_reply_has_code_on_protocol_error(ws):
    """The close frame sent in response to a protocol error carries a status code (2+ bytes)."""
    ws.send_frame(0x3, b"")
    frames, close, how = read_until_close(ws)
    assert how == "close", how
    assert len(close.payload) >= 2 and close.close_code == 1002, f"{close!r}"


# ---------------------------------------------------------------------------------------
# 9. Limited performance
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("opcode,size", [(OP_TEXT, 65536), (OP_TEXT, 131072),
                                         (OP_BINARY, 65536), (OP_BINARY, 131072)],
                         ids=["case_9_1_1", "case_9_1_2", "case_9_2_1", "case_9_2_2"])
def test_case_9_large_messages(ws, opcode, size):
    data = payload_of(size, opcode == OP_TEXT)
    t0 = time.monotonic()
    ws.send_raw(build_frame(opcode, data))
    expect_echo(ws, opcode, data)
    assert time.monotonic() - t0 < 2.0


@pytest.mark.parametrize("frag", [1024, 64], ids=["case_9_3_1", "case_9_3_2"])
def test_case_9_3_fragmented_128k(ws, frag):
    data = payload_of(131072, True)
    ws.send_raw(_fragments(data, frag))
    expect_echo(ws, OP_TEXT, data, timeout=5)


def test_case_9_4_1_burst_of_1000_small_messages(ws):
    msgs = [f"msg-{i:04d}".encode() for i in range(1000)]
    t0 = time.monotonic()
    ws.send_raw(b"".join(build_frame(OP_TEXT, m) for m in msgs))
    for m in msgs:
        expect_echo(ws, OP_TEXT, m)
    assert time.monotonic() - t0 < 3.0


def test_case_9_5_1_one_byte_writes(ws):
    data = payload_of(4096, True)
    ws.send_split(build_frame(OP_TEXT, data), chunk=1)
    expect_echo(ws, OP_TEXT, data)


def test_case_9_6_1_sequential_roundtrips(ws):
    t0 = time.monotonic()
    for i in range(500):
        m = f"{i}".encode() * 10
        ws.send_text(m)
        expect_echo(ws, OP_TEXT, m)
    assert time.monotonic() - t0 < 3.0


@pytest.mark.petrel_only
def test_case_9_7_1_message_over_default_limit(ws):
    """131073 bytes exceeds the default max_message_bytes/max_frame_bytes (131072): 1009."""
    ws.send_raw(build_frame(OP_BINARY, payload_of(131073, False)))
    expect_failure(ws, 1009)


@pytest.mark.petrel_only
def test_case_9_7_2_fragmented_message_over_default_limit(ws):
    data = payload_of(131073, True)
    ws.send_raw(_fragments(data, 32768))
    expect_failure(ws, 1009)


# ---------------------------------------------------------------------------------------
# 10. Auto-fragmentation: N/A (Petrel never fragments outbound). Assert that instead.
# ---------------------------------------------------------------------------------------

def test_case_10_1_1_outbound_never_fragmented(ws):
    data = payload_of(131072, False)
    ws.send_raw(build_frame(OP_BINARY, data))
    f = ws.recv_frame()
    assert f.opcode == OP_BINARY and f.fin, f"outbound message was fragmented: {f!r}"
    assert f.payload == data


# ---------------------------------------------------------------------------------------
# RFC 6455 items outside Autobahn's numbering
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("opcode,payload", [(OP_TEXT, b"unmasked"), (OP_BINARY, b"\x01\x02"),
                                            (OP_PING, b"p"), (OP_CLOSE, close_payload(1000))],
                         ids=["case_rfc_1_1_text", "case_rfc_1_2_binary", "case_rfc_1_3_ping",
                              "case_rfc_1_4_close"])
def test_case_rfc_1_unmasked_client_frame(ws, opcode, payload):
    """RFC 6455 §5.1: a server MUST close the connection upon an unmasked frame (1002)."""
    ws.send_frame(opcode, payload, mask=False)
    expect_failure(ws, 1002)


def test_case_rfc_2_zero_mask_key(ws):
    ws.send_frame(OP_TEXT, b"zero key", mask_key=b"\x00\x00\x00\x00")
    expect_echo(ws, OP_TEXT, b"zero key")


def test_case_rfc_3_server_frames_unmasked(ws):
    """Every frame from the server has MASK=0 (also asserted after every case by the fixture)."""
    ws.send_raw(build_frame(OP_TEXT, b"t") + build_frame(OP_BINARY, b"b") + build_frame(OP_PING, b"p"))
    frames = [ws.recv_frame() for _ in range(3)]
    ws.send_close(1000)
    frames.append(read_until_close(ws)[1])
    assert all(f is not None and not f.masked for f in frames), frames


def test_case_rfc_4_frame_split_across_header_boundary(ws):
    """Header, mask key and payload arrive in separate TCP segments with pauses."""
    fr = build_frame(OP_TEXT, b"x" * 300)
    for part in (fr[:1], fr[1:2], fr[2:4], fr[4:6], fr[6:8], fr[8:150], fr[150:]):
        ws.send_raw(part)
        time.sleep(0.02)
    expect_echo(ws, OP_TEXT, b"x" * 300)


def test_case_rfc_5_first_frame_in_same_write_as_handshake(target, connect):
    """Bytes that follow the upgrade request in the same TCP segment are the first frame; the
    server must not drop them when it switches from HTTP to WebSocket parsing."""
    import base64 as b64
    ws = connect(do_handshake=False)
    key = b64.b64encode(os.urandom(16)).decode()
    req = (f"GET {target.path} HTTP/1.1\r\nHost: 127.0.0.1:{target.port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
    ws.send_raw(req.encode() + build_frame(OP_TEXT, b"early bird") + build_frame(OP_PING, b"p"))
    deadline = time.monotonic() + T
    while b"\r\n\r\n" not in ws.buf:
        ws._fill(deadline)
    head, ws.buf = ws.buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    expect_echo(ws, OP_TEXT, b"early bird")
    expect_pong(ws, b"p")
