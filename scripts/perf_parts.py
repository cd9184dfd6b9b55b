"""Splits `perf script` output (call graphs) of engine lifecycles into parts.

Each sample whose stack holds a lifecycle goes to the first part in PARTS with a function on
that stack, so the parts add up to the whole lifecycle: the fakes first (the provider's, the
carrier's and the notifier's work, in whatever engine call they run), then the store, then
the core, then the rest of the engine.

    perf script -i FILE | python3 scripts/perf_parts.py [µs per lifecycle]
"""

import re
import sys

LIFECYCLE = "Shop::lifecycle"

PARTS = [
    ("fakes: signing the four webhooks (the provider's and the carrier's work)",
     r"FakeCarrier::push$|FakeGateway::notify_paid"),
    ("fakes: checking their signatures, reading their JSON",
     r"verify_tracking_push|FakeGateway as .*PaymentGateway>::(verify|parse)"),
    ("fakes: recording notifier", r"RecordingNotifier as .*Notifier>::send"),
    ("fakes: carrier's quotes, booking, shipment", r"FakeCarrier as .*Logistics>::"),
    ("fakes: gateway, other", r"FakeGateway as"),
    ("memory inventory", r"MemoryInventory as"),
    ("store: encoding events (memory target)", r"History::encode"),
    ("store: sending orders cold, packing (memory target)", r"Record::go_cold|StoreInner::evict"),
    ("store: outbox claims and completions", r"OrderStore>::(claim_outbox|complete_outbox)"),
    ("store: loads (a copy of the order)", r"OrderStore>::load"),
    ("store: commits (rest: indexes, outbox rows, snapshot)", r"OrderStore>::(append|create)"),
    ("store: other", r"MemoryStore as"),
    ("core: place, decide, evolve", r"Workflow::place|Workflow::decide|decide::evolve|from_events"),
    ("engine: dropping outcomes and orders",
     r"drop_in_place<orderflow::engine::Outcome>|drop_in_place<orderflow::order::Order>"),
    ("engine: outbox entries and their keys", r"outbox_entries|Effect::key"),
    ("engine: other (futures, moves, ids, spans)", r"orderflow::engine"),
    ("bench code", r""),
]


def samples(lines):
    """Yields each sample's function names, innermost first."""
    frames = []
    for line in lines:
        if not line.strip():
            continue
        if not line[0].isspace():  # a sample's header line
            if frames:
                yield frames
            frames = []
            continue
        parts = line.split(None, 1)
        if len(parts) == 2:
            frames.append(re.sub(r"\+0x[0-9a-f]+ .*$|\s+\(.*$", "", parts[1].strip()))
    if frames:
        yield frames


def main():
    us = float(sys.argv[1]) if len(sys.argv) > 1 else None
    patterns = [(name, re.compile(p)) for name, p in PARTS]
    counts = {name: 0 for name, _ in PARTS}
    total = 0
    for frames in samples(sys.stdin):
        if not any(LIFECYCLE in f for f in frames):
            continue
        total += 1
        for name, pattern in patterns:
            if any(pattern.search(f) for f in frames):
                counts[name] += 1
                break
    if total == 0:
        sys.exit("no lifecycle samples: was the binary built with debug info?")
    print(f"{total} samples in lifecycles")
    for name, _ in PARTS:
        share = counts[name] / total
        time = f"  {share * us:5.1f} µs" if us else ""
        print(f"{100 * share:5.1f} %{time}  {name}")


main()
