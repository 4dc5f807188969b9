"""Basic and media applications, with and without a media engine."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.apps import say
from core.causes import HangupCause
from core.channel import Channel, Indication
from core.events import UserEvent
from core.media import PlaybackResult, RecordResult
from tests.apps.harness import make_system


class FakeMedia:
    """A media engine that records what it was asked to play (and can be interrupted by a digit)."""

    available = True

    def __init__(self, press: str | None = None) -> None:
        self.played: list[list[str]] = []
        self.press = press
        self.tones: list[str] = []

    def sound_exists(self, name: str, language: str) -> bool:
        return False

    async def play(self, channel: Channel, files: Sequence[str], *, interrupt_digits: str = "",
                   language: str = "en") -> PlaybackResult:
        self.played.append(list(files))
        if self.press and self.press in interrupt_digits:
            return PlaybackResult(self.press, completed=False)
        return PlaybackResult()

    async def record(self, channel: Channel, path: str, **kwargs: object) -> RecordResult:
        return RecordResult("SILENCE", 1.0)

    async def echo(self, channel: Channel) -> None:
        await channel.wait_hungup()

    async def milliwatt(self, channel: Channel, *, old_style: bool = False) -> None:
        await channel.wait_hungup()

    async def start_tones(self, channel: Channel, tones: str) -> None:
        self.tones.append(tones)

    async def stop_tones(self, channel: Channel) -> None:
        self.tones.append("-stop")

    async def send_inband_dtmf(self, channel: Channel, digits: str, duration_ms: int) -> None:
        self.tones.append(f"dtmf:{digits}")


async def test_playback_without_a_media_engine_fails_clearly_and_goes_on(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    plan = "[test]\nexten => 100,1,Playback(hello-world)\n same => n,Set(S=${PLAYBACKSTATUS})\n"
    system = make_system(tmp_path, plan)
    channel = await system.run_call("100")
    assert channel.variables["S"] == "FAILED"
    assert any("no media engine" in r.message for r in caplog.records if r.levelname == "ERROR")


async def test_echo_without_a_media_engine_ends_the_call(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 600,1,Answer()\n same => n,Echo()\n same => n,Set(NEVER=1)\n")
    channel = await system.run_call("600")
    assert "NEVER" not in channel.variables


async def test_say_applications_play_the_asterisk_prompts(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Answer()
 same => n,SayNumber(1234)
 same => n,SayDigits(1*#)
 same => n,SayAlpha(aB-)
 same => n,SayPhonetic(az)
""")
    media = FakeMedia()
    system.executor.media = media
    await system.run_call("100")
    assert media.played == [
        ["digits/1", "digits/thousand", "digits/2", "digits/hundred", "digits/30", "digits/4"],
        ["digits/1", "digits/star", "digits/pound"],
        ["letters/a", "letters/b", "letters/dash"],
        ["phonetic/a_p", "phonetic/z_p"],
    ]


@pytest.mark.parametrize(("number", "files"), [
    (0, ["digits/0"]),
    (7, ["digits/7"]),
    (19, ["digits/19"]),
    (20, ["digits/20"]),
    (105, ["digits/1", "digits/hundred", "digits/5"]),
    (2000, ["digits/2", "digits/thousand"]),
    (-42, ["digits/minus", "digits/40", "digits/2"]),
    (1_000_001, ["digits/1", "digits/million", "digits/1"]),
])
def test_number_prompts(number: int, files: list[str]) -> None:
    assert say.number_files(number) == files


async def test_background_digit_starts_a_new_extension(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Background(menu)
 same => n,Set(NEVER=1)
exten => 5,1,Set(CHOSE=five)
 same => n,Hangup()
""")
    system.executor.media = FakeMedia(press="5")
    channel = await system.run_call("100")
    assert channel.variables["CHOSE"] == "five" and "NEVER" not in channel.variables


async def test_read_collects_digits_until_hash(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,Read(PIN,,4)\n same => n,Set(R=${PIN}/${READSTATUS})\n")
    channel = system.phones.call_in("100")
    await asyncio.sleep(0.02)
    system.phones.press(channel, "12#9")
    await asyncio.wait_for(channel.wait_hungup(), 3)
    assert channel.variables["R"] == "12/OK"


async def test_read_stops_at_maxdigits_and_times_out(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Read(A,,2)
 same => n,Read(B,,5,,1,0.05)
 same => n,Set(R=${A}/${B}/${READSTATUS})
""")
    channel = system.phones.call_in("100")
    await asyncio.sleep(0.02)
    system.phones.press(channel, "123")
    await asyncio.wait_for(channel.wait_hungup(), 3)
    assert channel.variables["R"] == "12/3/OK"


async def test_senddtmf_goes_out_of_band(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,SendDTMF(1w2,10)\n")
    channel = await system.run_call("100")
    assert system.phones.digits[channel.name] == ["1", "2"]


async def test_progress_and_ringing_indicate(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,Progress()\n same => n,Ringing()\n")
    channel = await system.run_call("100")
    assert system.phones.indications[channel.name] == [Indication.PROGRESS, Indication.RINGING]


async def test_answer_with_delay_and_wait(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,Answer(50)\n same => n,Wait(0.05)\n same => n,Set(OK=1)\n")
    channel = await system.run_call("100")
    assert channel.variables["OK"] == "1" and channel.billsec >= 0.09


@pytest.mark.parametrize(("data", "cause"), [
    ("17", HangupCause.USER_BUSY),
    ("CALL_REJECTED", HangupCause.CALL_REJECTED),
    ("", HangupCause.NORMAL_CLEARING),
    ("bogus", HangupCause.NORMAL_CLEARING),
])
async def test_hangup_causes(tmp_path: Path, data: str, cause: HangupCause) -> None:
    system = make_system(tmp_path, f"[test]\nexten => 100,1,Hangup({data})\n")
    assert (await system.run_call("100")).hangup_cause is cause


async def test_mset_removes_quotes_and_sets_several(tmp_path: Path) -> None:
    system = make_system(tmp_path, '[test]\nexten => 100,1,MSet(A=1,B="two, too",C=)\n')
    channel = await system.run_call("100")
    assert channel.variables["A"] == "1" and channel.variables["B"] == "two, too"


async def test_system_is_refused_unless_enabled(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,TrySystem(/bin/true)
 same => n,Set(T=${SYSTEMSTATUS})
 same => n,System(/bin/true)
 same => n,Set(NEVER=1)
""")
    channel = await system.run_call("100")
    assert channel.variables["T"] == "FAILURE" and "NEVER" not in channel.variables
    system.executor.options.allow_system = True
    marker = tmp_path / "ran"
    system2 = make_system(tmp_path, f"""
[test]
exten => 100,1,System(/usr/bin/touch {marker} "{tmp_path}/a && b")
 same => n,Set(S=${{SYSTEMSTATUS}})
""")
    system2.executor.options.allow_system = True
    channel = await system2.run_call("100")
    # No shell: the quoted text is one argument (a file named "a && b"), not a second command.
    assert marker.exists() and (tmp_path / "a && b").exists()
    assert channel.variables["S"] == "SUCCESS"


async def test_userevent_is_published(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,UserEvent(Paged,Zone: 3,Urgent: yes)\n")
    channel = await system.run_call("100")
    events = [e for e in system.events if isinstance(e, UserEvent)]
    assert events == [UserEvent(channel.name, channel.uniqueid, "Paged", (("Zone", "3"), ("Urgent", "yes")))]


async def test_softhangup_clears_another_call(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Answer()
 same => n,Wait(10)
exten => 200,1,SoftHangup(${VICTIM})
""")
    victim = system.phones.call_in("100", caller="3003")
    await asyncio.sleep(0.02)
    await system.run_call("200", variables={"VICTIM": victim.name})
    await asyncio.wait_for(victim.wait_hungup(), 1)
    assert victim.hangup_cause is HangupCause.NORMAL_CLEARING


async def test_playtones_and_milliwatt_with_media(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,Playtones(busy)\n same => n,StopPlaytones()\n")
    media = FakeMedia()
    system.executor.media = media
    await system.run_call("100")
    assert media.tones == ["busy", "-stop"]


async def test_record_with_media_sets_status_and_file(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,Record(/tmp/msg.wav,3,30)\n"
                                   " same => n,Set(R=${RECORD_STATUS}|${RECORDED_FILE})\n")
    system.executor.media = FakeMedia()
    channel = await system.run_call("100")
    assert channel.variables["R"] == "SILENCE|/tmp/msg"


async def test_record_without_media_fails_clearly(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,Record(/tmp/msg.wav)\n same => n,Set(NEVER=1)\n")
    channel = await system.run_call("100")
    assert "NEVER" not in channel.variables


async def test_sayunixtime_plays_date_and_time(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,SayUnixTime(1795680000,UTC,ABdY IMp)\n")
    media = FakeMedia()
    system.executor.media = media
    await system.run_call("100")
    # 1795680000 = Thursday 26 November 2026, 08:00 UTC
    assert media.played == [["digits/day-4", "digits/mon-10", "digits/h-26", "digits/2", "digits/thousand",
                             "digits/20", "digits/6", "digits/8", "digits/oclock", "digits/a-m"]]


async def test_random_with_certain_probabilities(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Random(100:yes)
 same => n,Hangup(17)
 same => n(yes),Random(0:no)
 same => n,Hangup(16)
 same => n(no),Hangup(21)
""")
    assert (await system.run_call("100")).hangup_cause is HangupCause.NORMAL_CLEARING


async def test_verbose_log_and_noop_write_to_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Verbose(2,hello ${EXTEN})
 same => n,Log(WARNING,careful ${CALLERID(num)})
 same => n,NoOp(quiet)
""")
    caplog.set_level("DEBUG", logger="centralita")
    await system.run_call("100", caller="3003")
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("INFO", "hello 100") in messages
    assert any(level == "WARNING" and text.endswith("careful 3003") for level, text in messages)


async def test_milliwatt_answers_and_plays_until_hangup(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 601,1,Milliwatt()\n")
    system.executor.media = FakeMedia()
    channel = system.phones.call_in("601")
    await asyncio.sleep(0.02)
    assert ("answer", channel.name, None) in system.phones.actions
    channel.remote_hungup(HangupCause.NORMAL_CLEARING)
    await asyncio.sleep(0.01)
    assert system.executor.contexts == {}


async def test_cdr_applications_reach_the_engine(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,Answer()\n same => n,ForkCDR()\n"
                                   " same => n,ResetCDR()\n same => n,NoCDR()\n")

    class Engine:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str]] = []

        def current(self, channel_name: str) -> None:
            return None

        def fork(self, channel_name: str, options: str = "") -> None:
            self.calls.append(("fork", channel_name))

        def disable(self, channel_name: str) -> None:
            self.calls.append(("disable", channel_name))

        def reset(self, channel_name: str, options: str = "") -> None:
            self.calls.append(("reset", channel_name))

        def hangup_logic_done(self, channel_name: str) -> None:
            self.calls.append(("done", channel_name))

    engine = Engine()
    system.executor.cdr_engine = engine  # type: ignore[assignment]
    channel = await system.run_call("100")
    assert engine.calls == [("fork", channel.name), ("reset", channel.name), ("disable", channel.name),
                            ("done", channel.name)]
