"""Call detail records of real calls through the executor and Dial: Asterisk's dispositions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.cdr import CdrEngine, CdrRecord, Disposition
from core.cdr.model import CdrOptions
from tests.apps.harness import Behaviour, System, make_system

PLAN = """
[test]
exten => 100,1,Dial(Phone/2001,${T},${O})
 same => n,Hangup()
exten => 300,1,Answer()
 same => n,Set(CDR(userfield)=vip)
 same => n,Hangup()
"""


class Collect:
    def __init__(self) -> None:
        self.records: list[CdrRecord] = []

    def write(self, record: CdrRecord) -> None:
        self.records.append(record)

    def close(self) -> None:
        return None


def with_cdr(system: System, **options: bool) -> Collect:
    backend = Collect()
    engine = CdrEngine(system.bus, system.pbx.find_channel, [backend], options=CdrOptions(**options),
                       runs_hangup_logic=lambda name: system.executor.context_of(name) is not None)
    system.executor.cdr_engine = engine
    return backend


@pytest.mark.parametrize(("behaviour", "disposition"), [
    (Behaviour("answer", 0.01, hangup_after=0.02), Disposition.ANSWERED),
    (Behaviour("busy", 0.01), Disposition.BUSY),
    (Behaviour("ring", 5), Disposition.NO_ANSWER),
    (Behaviour("reject", 0.01, cause=__import__("core.causes").causes.HangupCause.SUBSCRIBER_ABSENT),
     Disposition.FAILED),
])
async def test_dial_outcomes_give_asterisk_dispositions(tmp_path: Path, behaviour: Behaviour,
                                                         disposition: Disposition) -> None:
    system = make_system(tmp_path, PLAN)
    records = with_cdr(system)
    system.phones.behaviours["2001"] = behaviour
    channel = await system.run_call("100", caller="1001", variables={"T": "0.1", "O": ""})
    await asyncio.sleep(0.01)
    (record,) = records.records
    assert Disposition(record.disposition).label == disposition.label
    assert (record.src, record.dst, record.dcontext, record.channel) == ("1001", "100", "test", channel.name)
    assert record.dstchannel.startswith("Phone/2001-")
    assert record.lastapp == "Dial"
    if disposition is Disposition.ANSWERED:
        assert record.answer is not None
    else:
        assert record.answer is None and record.billsec == 0


async def test_answered_call_without_dial_records_userfield(tmp_path: Path) -> None:
    system = make_system(tmp_path, PLAN)
    records = with_cdr(system)
    channel = await system.run_call("300", caller="1002")
    await asyncio.sleep(0.01)
    (record,) = records.records
    assert record.disposition == Disposition.ANSWERED and record.userfield == "vip"
    assert record.uniqueid == channel.uniqueid and record.lastapp == "Hangup"


async def test_forked_dial_gives_one_record_per_dialled_party(tmp_path: Path) -> None:
    system = make_system(tmp_path, PLAN.replace("Phone/2001", "Phone/2001&Phone/2002"))
    records = with_cdr(system)
    system.phones.behaviours["2001"] = Behaviour("answer", 0.02, hangup_after=0.02)
    system.phones.behaviours["2002"] = Behaviour("ring", 5)
    await system.run_call("100", variables={"T": "1", "O": ""})
    await asyncio.sleep(0.01)
    by_peer = {r.dstchannel.split("-")[0]: Disposition(r.disposition).label for r in records.records}
    assert by_peer == {"Phone/2001": "ANSWERED", "Phone/2002": "NO ANSWER"}


async def test_unanswered_call_without_dial_is_not_recorded_unless_asked(tmp_path: Path) -> None:
    plan = "[test]\nexten => 400,1,Hangup(21)\n"
    quiet = make_system(tmp_path, plan)
    quiet_records = with_cdr(quiet)
    await quiet.run_call("400")
    loud = make_system(tmp_path, plan)
    loud_records = with_cdr(loud, unanswered=True)
    await loud.run_call("400")
    await asyncio.sleep(0.01)
    assert quiet_records.records == []
    assert [Disposition(r.disposition).label for r in loud_records.records] == ["NO ANSWER"]
