"""Which prompt files Asterisk plays to say a number, digits, letters or a time (English rules of
``main/say.c``: ``ast_say_number_full_en``, ``ast_say_digit_str``, ``ast_say_character_str``,
``ast_say_phonetic_str``, ``ast_say_date_with_format_en``).  Pure functions: the media engine plays the
lists; tests check them without audio.
"""

from __future__ import annotations

import time

_DIGIT_SYMBOLS = {"*": "digits/star", "#": "digits/pound", "-": "digits/minus"}
_LETTER_SYMBOLS = {
    "*": "letters/asterisk", "#": "letters/pound", "@": "letters/at", "$": "letters/dollar",
    "-": "letters/dash", ".": "letters/dot", "=": "letters/equals", "+": "letters/plus",
    "/": "letters/slash", " ": "letters/space", "!": "letters/exclaimation-point",
}


def number_files(number: int) -> list[str]:
    """``SayNumber``: 1234 -> digits/1 digits/thousand digits/2 digits/hundred digits/30 digits/4."""
    if number == 0:
        return ["digits/0"]
    files: list[str] = []
    if number < 0:
        files.append("digits/minus")
        number = -number
    if number >= 1_000_000_000:
        raise ValueError(f"number {number} is too big to say")
    if number >= 1_000_000:
        files += number_files(number // 1_000_000) + ["digits/million"]
        number %= 1_000_000
    if number >= 1000:
        files += number_files(number // 1000) + ["digits/thousand"]
        number %= 1000
    if number >= 100:
        files += [f"digits/{number // 100}", "digits/hundred"]
        number %= 100
    if number >= 20:
        files.append(f"digits/{number // 10 * 10}")
        number %= 10
    if number:
        files.append(f"digits/{number}")
    return files


def digit_files(text: str) -> list[str]:
    """``SayDigits``: one file per digit, ``*`` star, ``#`` pound, ``-`` minus; other characters skipped."""
    files = []
    for ch in text:
        if ch.isdigit() and ch.isascii():
            files.append(f"digits/{ch}")
        elif ch in _DIGIT_SYMBOLS:
            files.append(_DIGIT_SYMBOLS[ch])
    return files


def alpha_files(text: str) -> list[str]:
    """``SayAlpha``: letters, digits and the symbols Asterisk has prompts for."""
    files = []
    for ch in text:
        if ch in _LETTER_SYMBOLS:
            files.append(_LETTER_SYMBOLS[ch])
        elif ch.isdigit() and ch.isascii():
            files.append(f"digits/{ch}")
        elif ch.isascii() and ch.isalpha():
            files.append(f"letters/{ch.lower()}")
    return files


def phonetic_files(text: str) -> list[str]:
    """``SayPhonetic``: the NATO alphabet (``phonetic/a_p`` ...), digits and symbols as SayAlpha."""
    files = []
    for ch in text:
        if ch.isascii() and ch.isalpha():
            files.append(f"phonetic/{ch.lower()}_p")
        else:
            files += alpha_files(ch)
    return files


DEFAULT_TIME_FORMAT = "ABdY 'digits/at' IMp"


def time_files(epoch: float, timezone: str = "", fmt: str = DEFAULT_TIME_FORMAT) -> list[str]:
    """``SayUnixTime``: the English date/time format codes (A a B b h d e Y I l H k M P p Q q R and
    quoted prompt names) as ``ast_say_date_with_format_en`` renders them."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # lazily: SayUnixTime with a zone is rare

    try:
        zone = ZoneInfo(timezone) if timezone else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    import datetime

    moment = datetime.datetime.fromtimestamp(epoch, tz=zone) if zone else datetime.datetime.fromtimestamp(epoch)
    files: list[str] = []
    i = 0
    while i < len(fmt):
        code = fmt[i]
        if code == "'":
            end = fmt.find("'", i + 1)
            end = len(fmt) if end < 0 else end
            files.append(fmt[i + 1:end])
            i = end + 1
            continue
        if code in "Aa":
            files.append(f"digits/day-{(moment.weekday() + 1) % 7}")
        elif code in "Bbh":
            files.append(f"digits/mon-{moment.month - 1}")
        elif code in "de":
            files.append(f"digits/h-{moment.day}")
        elif code == "Y":
            year = moment.year
            if year > 1999:
                files += number_files(year)
            else:
                files += number_files(year // 100) + ([] if year % 100 == 0 else
                                                       (["digits/oh"] if year % 100 < 10 else []) +
                                                       number_files(year % 100))
        elif code in "Il":
            hour = moment.hour % 12 or 12
            files.append(f"digits/{hour}")
        elif code in "Hk":
            hour = moment.hour
            if code == "H" and hour < 10:
                files.append("digits/oh")
            files += number_files(hour)
        elif code == "M":
            minute = moment.minute
            if minute == 0:
                files.append("digits/oclock")
            else:
                if minute < 10:
                    files.append("digits/oh")
                files += number_files(minute)
        elif code in "Pp":
            files.append("digits/p-m" if moment.hour >= 12 else "digits/a-m")
        elif code == "R":
            files += time_files(epoch, timezone, "HM")
        elif code in "Qq":
            files += time_files(epoch, timezone, "Ad" if code == "q" else "dB")
        i += 1
    return files


def now() -> float:
    """The current time (a seam for tests)."""
    return time.time()
