"""Hypothesis over every parser of untrusted bytes (issue 7 §2), sharing ``fuzz.targets`` with
the atheris harness: mutated real objects (bit flips, truncations, insertions, rewritten
length bytes) and plain noise. Only the parsers' typed errors may escape."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from card.apdu import CommandApdu
from fuzz.targets import TARGETS, call, seeds

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutated(draw: st.DrawFn, target: str) -> bytes:
    pool = seeds()[target]
    if not pool or draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=600))
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "length", "delete"]))
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "length":  # the byte after a tag is often a length: make it lie
            data[i] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0xFF]))
        else:
            del data[i:i + draw(st.integers(1, 16))]
    return bytes(data)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_seeds_parse(target: str) -> None:
    """The seeds are real objects: most targets accept them (so mutation starts deep)."""
    results = [call(target, s) for s in seeds()[target]]
    assert results and any(results), target


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_only_typed_errors_escape(target: str) -> None:
    @SETTINGS
    @given(data=mutated(target))
    def check(data: bytes) -> None:
        call(target, data)  # anything but CardError / VerificationError fails the test

    check()


@SETTINGS
@given(cla=st.integers(0, 255), ins=st.integers(0, 255), p1=st.integers(0, 255),
       p2=st.integers(0, 255), data=st.binary(max_size=300),
       le=st.one_of(st.none(), st.integers(1, 65536)), extended=st.booleans())
def test_command_apdu_round_trips_through_the_emulator_parser(
        cla: int, ins: int, p1: int, p2: int, data: bytes, le: int | None,
        extended: bool) -> None:
    from card.emulator.apdu import Command

    try:  # forcing the extended form of a case 1 APDU is refused at encode time
        raw = CommandApdu(cla, ins, p1, p2, data, le, extended=extended or None).encode()
    except ValueError:
        assert extended and not data and le is None
        return
    parsed = Command.parse(raw)
    assert (parsed.cla, parsed.ins, parsed.p1, parsed.p2, parsed.data, parsed.le) == (
        cla, ins, p1, p2, data, le)


@SETTINGS
@given(fields=st.tuples(st.integers(-5, 300), st.integers(-5, 300), st.integers(-5, 300),
                        st.integers(-5, 300)),
       le=st.one_of(st.none(), st.integers(-5, 70000)), data=st.binary(max_size=70000))
def test_command_apdu_refuses_impossible_fields_with_value_error(
        fields: tuple[int, int, int, int], le: int | None, data: bytes) -> None:
    try:
        CommandApdu(*fields, data, le).encode()
    except ValueError:
        return
    assert all(0 <= f <= 255 for f in fields) and len(data) <= 65535


CRASHES = sorted((Path(__file__).parent / "crashes").glob("*"))


@pytest.mark.parametrize("path", CRASHES, ids=[p.name for p in CRASHES])
def test_found_crashes_stay_fixed(path: Path) -> None:
    """Inputs the fuzzers once crashed on (``<target>-<id>``): now a typed error or accepted."""
    target = path.name.rsplit("-", 1)[0]
    call(target, path.read_bytes())
