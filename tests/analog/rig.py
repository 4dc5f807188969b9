"""An in-process gateway on the simulated board for the analog tests: PBX, dialplan, media engine and the
analog ports on *virtual* time (the TDM clock advances the board's clock by 20 ms per exchange, as fast as
the machine can), with the simulated phones and exchanges of :mod:`board.sim.peers`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from board.sim.peers import VirtualCentralOffice, VirtualPhone
from core.apps import default_applications
from core.dialplan.executor import DialplanExecutor
from core.dialplan.loader import load_dialplan
from core.events import EventBus
from core.local import LocalDriver
from core.mediaengine.engine import MediaEngineImpl
from core.pbx import Pbx
from firmware.analog_service import AnalogSystem, dialplan_route
from firmware.config.schema import AnalogConfig

PLAN = """
[globals]

[phones]
exten => 600,1,Answer()
 same => n,Echo()
 same => n,Hangup()
exten => 601,1,Answer()
 same => n,Milliwatt()
 same => n,Hangup()
exten => _200[1-2],1,Dial(FXS/${EXTEN:3},30)
 same => n,Hangup()
exten => 3000,1,Dial(FXO/g1/5551234,30)
 same => n,Hangup()

[from-fxs]
include => phones

[from-pstn]
exten => s,1,Set(GLOBAL(LAST_CID_NUM)=${CALLERID(num)})
 same => n,Set(GLOBAL(LAST_CID_NAME)=${CALLERID(name)})
 same => n,GotoIf($["${CALLERID(num)}" = "2001"]?phone)
 same => n,Answer()
 same => n,Wait(60)
 same => n,Hangup()
 same => n(phone),Dial(FXS/1,30)
 same => n,Hangup()
"""


@dataclass
class Rig:
    """The gateway and its simulated world."""

    pbx: Pbx
    executor: DialplanExecutor
    engine: MediaEngineImpl
    system: AnalogSystem

    @property
    def now(self) -> float:
        """Board time (virtual seconds)."""
        return self.system.clock.now()

    def phone(self, number: int) -> VirtualPhone:
        assert self.system.peers is not None
        phone: VirtualPhone = self.system.peers.phone(number)
        return phone

    def line(self, number: int) -> VirtualCentralOffice:
        assert self.system.peers is not None
        line: VirtualCentralOffice = self.system.peers.line(number)
        return line

    async def run(self, seconds: float) -> None:
        """Let ``seconds`` of board time pass."""
        await self.system.clock.wait_until(self.now + seconds)

    async def until(self, condition: Callable[[], bool], seconds: float, what: str = "") -> float:
        """Run until ``condition()`` holds; returns the board time it took.  Fails after ``seconds``."""
        start = self.now
        while not condition():
            if self.now - start > seconds:
                raise AssertionError(f"not within {seconds} s of board time: {what or condition}")
            await self.system.clock.wait_until(self.now + 0.02)
        return self.now - start

    async def close(self) -> None:
        await self.system.stop()


async def make_rig(tmp_path: Path, plan: str = PLAN, analog: AnalogConfig | None = None) -> Rig:
    """Build and start the rig (the board boots on virtual time)."""
    path = tmp_path / "extensions.conf"
    path.write_text(plan)
    bus = EventBus()
    pbx = Pbx(bus)
    engine = MediaEngineImpl("127.0.0.1", sounds_dir=tmp_path)
    executor = DialplanExecutor(pbx, bus, default_applications(), media=engine)
    executor.load(load_dialplan(path).dialplan)
    pbx.runner = executor
    pbx.register_driver(LocalDriver(pbx, exists=lambda context, exten: executor.index is not None
                                    and executor.index.exists(context, exten, 1)))
    system = await AnalogSystem.build(analog or AnalogConfig(), "sim-2fxs-2fxo", pbx, engine,
                                      route=dialplan_route(executor), virtual_time=True)
    system.start()
    await asyncio.sleep(0)
    return Rig(pbx, executor, engine, system)
