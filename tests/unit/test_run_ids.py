"""Run ids: 32 lowercase hex digits, the microsecond clock first, unique across processes."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import uuid

from monoloop.tracking.model import check_prefix, check_run_id, new_run_id, run_id_at

CYCLE = 2**32


def clock(run_id: str) -> int:
    return int(run_id[:8], 16)


def test_an_id_is_the_clock_then_random_bits() -> None:
    micros = 1_750_000_000_123_456
    made = run_id_at(micros, bytes(range(12)))
    assert made == f"{micros % CYCLE:08x}" + "000102030405060708090a0b"
    assert check_run_id(made) == made
    # The clock's 32 low bits: it wraps after 71.6 minutes, and the id stays 32 digits.
    assert run_id_at(CYCLE - 1, b"\xff" * 12) == "f" * 32
    assert run_id_at(CYCLE, b"\0" * 12) == "0" * 32


def test_new_ids_are_valid_and_ids_made_before_stay_valid() -> None:
    for made in (new_run_id(), uuid.uuid4().hex):
        assert check_run_id(made) == made


def test_successive_ids_follow_each_other_and_differ_in_the_shown_digits() -> None:
    ids = [new_run_id() for _ in range(5_000)]
    steps = [(clock(b) - clock(a)) % CYCLE for a, b in itertools.pairwise(ids)]
    # Each id is a little after the one before (even across a wrap of the clock digits)...
    assert all(0 < step < CYCLE // 2 for step in steps)
    # ...so the 8 digits `runs list` shows, and any 8-digit prefix typed, name one run.
    assert len({check_prefix(i[:8]) for i in ids}) == len(ids)


def _make_ids(count: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    out.put([new_run_id() for _ in range(count)])


def test_ids_are_unique_across_processes() -> None:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_make_ids, args=(20_000, out)) for _ in range(3)]
    for p in procs:
        p.start()
    mine = [new_run_id() for _ in range(20_000)]
    theirs = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    every = mine + [i for batch in theirs for i in batch]
    assert len(every) == 80_000 and len(set(every)) == 80_000
    assert {len(i) for i in every} == {32}


def test_a_forked_child_draws_other_random_bits_than_its_parent() -> None:
    new_run_id()  # the parent has random bytes in hand when it forks
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    child = ctx.Process(target=_make_ids, args=(1_000, out))
    child.start()
    mine = [new_run_id() for _ in range(1_000)]
    theirs = out.get(timeout=60)
    child.join(60)
    assert not {i[8:] for i in mine} & {i[8:] for i in theirs}
