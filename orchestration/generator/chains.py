"""Vectorised custody chains: every clean item's transfers, generated as numpy arrays.

An item is created in ORG custody and reaches its final custodian ``C`` through ``k`` accepted
transfers, the last one at least ``MIN_GAP`` before ``T_end`` (the instant the item is first
used or sold). Each transfer's ``from`` is the previous custodian, so the clean chains never
trigger TRANSFER_NOT_FROM_CUSTODIAN. Pending, declined and on-hold transfers are scattered
between the moves; their ``from`` is the custodian of that moment and they move nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOUR = 3_600
DAY = 86_400
MIN_GAP = 4 * HOUR

PENDING, ACCEPTED, DECLINED, HOLD = 0, 1, 2, 3


@dataclass
class Chains:
    created: np.ndarray  # per item: created_at (epoch seconds)
    # one row per transfer (accepted and not), item = index into the input arrays
    item: np.ndarray
    from_c: np.ndarray
    to_c: np.ndarray
    status: np.ndarray
    created_at: np.ndarray
    responded_at: np.ndarray  # -1 = null
    updated_at: np.ndarray
    old_pending: np.ndarray  # bool: an older PENDING version of the row is delivered too


def _redraw_conflicts(rng, to, frm_of, must_keep, pool):
    """Redraw ``to`` where it equals its ``from`` (``frm_of(to)``); ``must_keep`` rows are fixed,
    for them the previous row is redrawn instead."""
    for _ in range(200):
        frm = frm_of(to)
        bad = to == frm
        if not bad.any():
            return to
        here = np.flatnonzero(bad & ~must_keep)
        prev = np.flatnonzero(bad & must_keep) - 1
        red = np.unique(np.concatenate([here, prev]))
        to[red] = pool[rng.integers(len(pool), size=len(red))]
    raise RuntimeError("could not build custody chains without self-transfers")


def build_chains(
    rng: np.random.Generator,
    final: np.ndarray,
    t_end: np.ndarray,
    k: np.ndarray,
    k_na: np.ndarray,
    pool: np.ndarray,
    start: int,
    p_old_version: float = 0.1,
    p_no_response: float = 0.004,
) -> Chains:
    n = len(final)
    final = final.astype(np.int64)
    t_end = t_end.astype(np.int64)
    k = k.astype(np.int64)
    k_na = k_na.astype(np.int64)
    # ----- item creation and the instants of the accepted moves
    span_min = (k + 1) * MIN_GAP + DAY
    avail = t_end - start - HOUR
    span = rng.exponential(90 * DAY, n).astype(np.int64) + span_min + k * 2 * DAY
    span = np.maximum(np.minimum(span, avail), span_min)
    created = t_end - span
    m = int(k.sum())
    item = np.repeat(np.arange(n), k)
    off = np.concatenate([[0], np.cumsum(k)[:-1]]).astype(np.int64)
    pos = np.arange(m) - off[item]
    e = rng.exponential(1.0, m + n)
    segoff = np.concatenate([[0], np.cumsum(k + 1)[:-1]]).astype(np.int64)
    cs = np.cumsum(e)
    seg_start = cs[segoff] - e[segoff]
    seg_total = cs[segoff + k] - seg_start
    frac = (cs[segoff[item] + pos] - seg_start[item]) / seg_total[item]
    free = span - (k + 1) * MIN_GAP
    move = created[item] + MIN_GAP * (pos + 1) + np.floor(frac * free[item]).astype(np.int64)
    del e, cs, seg_start, seg_total, frac
    # ----- custodians: ORG -> h0 -> h1 ... -> final
    is_last = pos == k[item] - 1
    to = pool[rng.integers(len(pool), size=m)].astype(np.int64)
    to[is_last] = final[item[is_last]]

    def frm_of(arr):
        shifted = np.empty_like(arr)
        shifted[0:1] = 0
        shifted[1:] = arr[:-1]
        return np.where(pos > 0, shifted, 0)

    to = _redraw_conflicts(rng, to, frm_of, is_last, pool)
    frm = frm_of(to)
    prev_b = np.where(pos > 0, np.concatenate([[0], move[:-1]]), created[item])
    gap = move - prev_b
    t_created = move - np.minimum((rng.uniform(0.05, 0.45, m) * gap).astype(np.int64), 3 * DAY)
    t_created = np.minimum(t_created, move - 60)
    no_resp = rng.random(m) < p_no_response
    responded = np.where(no_resp, -1, move)
    old_a = (rng.random(m) < p_old_version) & ~no_resp
    # ----- pending / declined / hold transfers between the moves
    m2 = int(k_na.sum())
    item2 = np.repeat(np.arange(n), k_na)
    slot = (rng.random(m2) * (k[item2] + 1)).astype(np.int64)  # 0..k
    lo_idx = np.clip(off[item2] + slot - 1, 0, max(m - 1, 0))
    hi_idx = np.clip(off[item2] + slot, 0, max(m - 1, 0))
    start_b = np.where(slot == 0, created[item2], move[lo_idx] if m else 0)
    end_b = np.where(slot == k[item2], t_end[item2], move[hi_idx] if m else 0)
    length = end_b - start_b
    tc2 = start_b + 60 + (rng.random(m2) * 0.4 * length).astype(np.int64)
    tr2 = tc2 + 60 + (rng.random(m2) * 0.4 * length).astype(np.int64)
    frm2 = np.where(slot == 0, 0, to[lo_idx] if m else 0)
    to2 = pool[rng.integers(len(pool), size=m2)].astype(np.int64)
    for _ in range(200):
        bad = to2 == frm2
        if not bad.any():
            break
        to2[bad] = pool[rng.integers(len(pool), size=int(bad.sum()))]
    st2 = rng.choice(np.array([PENDING, DECLINED, HOLD]), size=m2, p=[0.3, 0.5, 0.2])
    resp2 = np.where(st2 == PENDING, -1, tr2)
    old2 = (st2 != PENDING) & (rng.random(m2) < p_old_version * 3)
    return Chains(
        created=created,
        item=np.concatenate([item, item2]),
        from_c=np.concatenate([frm, frm2]),
        to_c=np.concatenate([to, to2]),
        status=np.concatenate([np.full(m, ACCEPTED), st2]),
        created_at=np.concatenate([t_created, tc2]),
        responded_at=np.concatenate([responded, resp2]),
        updated_at=np.concatenate([move, np.where(st2 == PENDING, tc2, tr2)]),
        old_pending=np.concatenate([old_a, old2]),
    )
