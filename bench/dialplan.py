"""Dialplan benchmark: executor cost per priority, and load time of a 10,000-extension plan.

1. A call runs through one extension of N priorities of the same simple application, in the real
   executor with the real switch; the figure is wall time per priority (median of several runs) for
   ``NoOp()``, ``Set(B=${A}${EXTEN})`` (substitution) and ``GotoIf($[${I} < N]?...)`` (an expression).
   Target: <= 20 us per simple priority.
2. A generated ``extensions.conf`` of 10,000 extensions x 3 priorities (10 contexts of 1,000 numbers plus
   patterns, includes and globals) is loaded and put into effect (parse + build + index), as at start-up
   or ``dialplan reload``.  Target: <= 1 s.

Peer: the natural one is Asterisk, which Debian 12 does not package, so no peer is measured in this run;
the figures are compared with the targets only.

    python bench/dialplan.py            # 5 runs, medians
    python bench/dialplan.py --smoke    # 1 short run (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.apps import default_applications  # noqa: E402
from core.callerid import CallerId  # noqa: E402
from core.causes import HangupCause  # noqa: E402
from core.channel import Channel, ChannelDriver, ChannelState, Direction  # noqa: E402
from core.dialplan.executor import DialplanExecutor  # noqa: E402
from core.dialplan.loader import load_dialplan, load_dialplan_text  # noqa: E402
from core.events import EventBus  # noqa: E402
from core.pbx import Pbx  # noqa: E402


class Line(ChannelDriver):
    """A caller that only answers and hangs up."""

    technology = "Bench"

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        raise NotImplementedError

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        return None

    async def answer(self, channel: Channel) -> None:
        return None

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        return None


def priority_plans(n: int) -> dict[str, str]:
    return {
        "NoOp()": "[b]\nexten => 100,1,NoOp()\n" + " same => n,NoOp(step)\n" * (n - 1),
        "Set(B=${A}${EXTEN})": "[b]\nexten => 100,1,Set(A=1)\n" + " same => n,Set(B=${A}${EXTEN})\n" * (n - 1),
        "GotoIf($[expr]?label)": ("[b]\nexten => 100,1,Set(I=0)\n same => n(top),Set(I=$[${I} + 1])\n"
                                  f" same => n,GotoIf($[${{I}} < {n // 2}]?top)\n"),
    }


async def run_call(plan: str) -> tuple[float, int]:
    bus = EventBus()
    pbx = Pbx(bus)
    executor = DialplanExecutor(pbx, bus, default_applications())
    executor.load(load_dialplan_text(plan).dialplan)
    pbx.runner = executor
    driver = Line()
    pbx.register_driver(driver)
    steps = 0

    def count(_event: object) -> None:
        nonlocal steps
        steps += 1

    from core.events import NewExtension

    bus.subscribe(count, NewExtension)
    channel = pbx.new_channel(driver, "caller", direction=Direction.INBOUND, caller=CallerId("1001"),
                              context="b", exten="100", state=ChannelState.RING)
    start = time.perf_counter()
    await pbx.start_inbound(channel)
    return time.perf_counter() - start, steps


def generated_plan(extensions: int) -> str:
    contexts = 10
    per_context = extensions // contexts
    lines = ["[general]", "static=yes", "writeprotect=no", "", "[globals]", "TRUNK=Local/out@trunk",
             "TIMEOUT_S=30", ""]
    for c in range(contexts):
        lines.append(f"[office{c}]")
        if c:
            lines.append(f"include => office{c - 1}")
        for i in range(per_context):
            number = 20000 + c * per_context + i
            lines.append(f"exten => {number},1,NoOp(Call for ${{EXTEN}} from ${{CALLERID(num)}})")
            lines.append(f" same => n,Dial(Local/{number}@phones,${{TIMEOUT_S}},tT)")
            lines.append(" same => n,Hangup()")
        lines += ["exten => _9NXXXXXX,1,Dial(${TRUNK}/${EXTEN:1})", " same => n,Hangup()",
                  "exten => i,1,Playback(invalid)", "exten => h,1,NoOp(${CDR(billsec)})", ""]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one short run (CI)")
    args = parser.parse_args()
    runs, n = (1, 500) if args.smoke else (5, 5000)

    print(f"executor cost per priority, median of {runs} run(s) of {n} priorities")
    worst = 0.0  # over the simple priorities (NoOp, Set): the target applies to those
    for name, plan in priority_plans(n).items():
        samples = []
        for _ in range(runs):
            elapsed, steps = asyncio.run(run_call(plan))
            samples.append(elapsed / steps * 1e6)
        median = statistics.median(samples)
        if not name.startswith("GotoIf"):
            worst = max(worst, median)
        print(f"  {name:<24} {median:7.2f} us/priority")

    extensions = 10_000
    text = generated_plan(extensions)
    with tempfile.TemporaryDirectory(prefix="cta-bench-") as tmp:
        path = Path(tmp) / "extensions.conf"
        path.write_text(text)
        loads = []
        for _ in range(runs):
            start = time.perf_counter()
            result = load_dialplan(path)
            bus = EventBus()
            DialplanExecutor(Pbx(bus), bus, default_applications()).load(result.dialplan)
            loads.append(time.perf_counter() - start)
    plan = result.dialplan
    load = statistics.median(loads)
    print(f"load of a generated plan ({plan.extension_count} extensions, {plan.priority_count} priorities, "
          f"{len(plan.contexts)} contexts, {len(text) // 1024} KiB): {load * 1000:.0f} ms")
    print("peer: Asterisk is not packaged for Debian 12; no peer measured in this run")
    met = worst <= 20.0 and load <= 1.0
    print(f"targets (<= 20 us per simple priority, <= 1 s load): {'met' if met else 'NOT met'}")
    return 0 if met or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
