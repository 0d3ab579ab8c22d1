"""The embedded store's merge policy: which segments are merged or rewritten after a write.

Segments are grouped in size tiers (powers of `MERGE_FACTOR` live chunks); when a tier holds `MERGE_FACTOR`
segments they are merged into one of the next tier, so each row is rewritten O(log n) times over the life of
the index. A segment more than `DEAD_SHARE` dead is rewritten alone; a segment with no live document is dropped.
"""

from __future__ import annotations

import math

from rag.stores.segment import Segment

MERGE_FACTOR = 8  # segments of one size tier merged into one when this many exist
DEAD_SHARE = 0.5  # a segment with more than this share of dead chunks is rewritten


def _tier(rows: int) -> int:
    return int(math.log(max(rows, 1), MERGE_FACTOR))


def merged(
    segments: list[Segment], dead: dict[str, set[str]], dimension: int
) -> tuple[list[Segment], dict[str, set[str]]]:
    """Segments after the merge policy: empty ones dropped, mostly-dead ones rewritten, full tiers merged."""
    live = {s.name: len(s.documents) - len(dead[s.name]) for s in segments}
    segments = [s for s in segments if live[s.name] > 0]
    while True:
        rewrite = [s for s in segments if dead[s.name] and _dead_share(s, dead[s.name]) > DEAD_SHARE]
        if not rewrite:
            tiers: dict[int, list[Segment]] = {}
            for s in segments:
                tiers.setdefault(_tier(_live_rows(s, dead[s.name])), []).append(s)
            rewrite = next((group for group in tiers.values() if len(group) >= MERGE_FACTOR), [])
        if not rewrite:
            return segments, dead
        merged = Segment.merge([(s, dead[s.name]) for s in rewrite], dimension)
        names = {s.name for s in rewrite}
        at = min(i for i, s in enumerate(segments) if s.name in names)
        segments = [s for s in segments if s.name not in names]
        segments.insert(at, merged)
        dead = {n: ids for n, ids in dead.items() if n not in names} | {merged.name: set()}


def _live_rows(segment: Segment, gone: set[str]) -> int:
    return len(segment.chunks) - sum(segment.records[d].chunks for d in gone if d in segment.records)


def _dead_share(segment: Segment, gone: set[str]) -> float:
    return 1 - _live_rows(segment, gone) / max(1, len(segment.chunks))
